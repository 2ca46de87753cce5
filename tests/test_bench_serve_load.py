"""The load benchmark's pure parts: the p95 by nearest rank and the summary it prints."""

from bench import serve_load


def test_p95_nearest_rank():
    """Of 20 values the 19th smallest (ceil(0.95 × 20) = 19); of 3, the largest (ceil(2.85) = 3);
    of one, that one; of none, None."""
    assert serve_load.p95([float(x) for x in range(20, 0, -1)]) == 19.0
    assert serve_load.p95([3.0, 1.0, 2.0]) == 3.0
    assert serve_load.p95([7.5]) == 7.5
    assert serve_load.p95([]) is None


def test_timings_add_the_p95():
    assert serve_load.timings([4.0, 1.0, 2.0, 3.0]) == {
        "median": 2.5,
        "min": 1.0,
        "max": 4.0,
        "n": 4,
        "p95": 4.0,
    }


def test_error_kinds_group_messages_without_numbers_and_addresses():
    errors = [
        "TimeoutError: Page.wait_for_function: Timeout 300000ms exceeded.\nCall log: …",
        "JavaScript: [anywidget] Failed to initialize model.",
        "TimeoutError: Page.wait_for_function: Timeout 300000ms exceeded.",
        "HTTP 500 http://127.0.0.1:8866/voila/render/a.ipynb",
    ]
    assert serve_load.error_kinds(errors) == {
        "TimeoutError: Page.wait_for_function: Timeout …ms exceeded.": 2,
        "JavaScript: [anywidget] Failed to initialize model.": 1,
        "HTTP 500 …": 1,
    }


def test_summary_against_the_targets():
    seconds = {"median": 12.25, "min": 3.0, "max": 40.0, "n": 20, "p95": 38.04}
    result = {
        "size": {"customers": 2000, "orders": 20_000},
        "clients": 20,
        "filters": 2,
        "max_kernels": 20,
        "preheat": 1,
        "load": {
            "errors": 3,
            "errors_by_kind": {"JavaScript: boom": 2, "TimeoutError: Page.goto": 1},
            "clients_opened": 19,
            "clients_done": 18,
            "busy_pages": 2,
            "open_s": seconds,
            "filter_s": {"median": None, "min": None, "max": None, "n": 0, "p95": None},
            "publishes": {"n": 3, "failed": 0},
            "kernel_rss_mib": {"median": 285.4, "min": 250.0, "max": 337.6, "n": 27},
            "kernels_when_sampled": 27,
        },
        "disconnect": {
            "clients": 20,
            "pool_size": 7,
            "kernels_before": 27,
            "seconds_to_pool": 33.04,
        },
    }
    assert serve_load.summary(result).splitlines() == [
        "2,000 customers, 20 clients, page cap 20, --preheat 1",
        "errors       3 (target 0)",
        "     2 × JavaScript: boom",
        "     1 × TimeoutError: Page.goto",
        "clients      19 drew their page, 18 also changed the filter 2 times",
        "busy pages   2 (target 0)",
        "open         median 12.2 s, p95 38.0 s (n 20)",
        "filter       —",
        "publishes    3 during the load, 0 failed",
        "kernel RSS   median 285 MiB, max 338 MiB (27 kernels)",
        "disconnect   20 pages killed: kernels 27 -> 7 in 33.0 s (target ≤ 60 s)",
    ]
