"""The dashboard-latency benchmark's pure parts: the results file keeps the analysis suite's keys,
pages measured one run at a time accumulate, and the table says which targets were met."""

from bench import dashboard_latency as dl


def _m(median: float, lo: float | None = None, hi: float | None = None) -> dict:
    return {"median": median, "min": lo or median, "max": hi or median, "n": 10}


def _result(pages: dict, published: str = "/p.duckdb", customers: int = 95_000) -> dict:
    return {
        "published": published,
        "size": {"customers": customers, "orders": 979_214},
        "pages": pages,
    }


def test_stats():
    """Median of 3, 1, 2 is 2; min 1; max 3; an empty run gives None, not an error."""
    assert dl.stats([3.0, 1.0, 2.0]) == {"median": 2.0, "min": 1.0, "max": 3.0, "n": 3}
    assert dl.stats([])["median"] is None


def test_combine_same_snapshot_keeps_pages_not_remeasured():
    """Run 1 measured overview and churn, run 2 churn again: overview from run 1, churn from 2."""
    first = _result({"overview": {"open_s": _m(1.5)}, "churn": {"open_s": _m(3.0)}})
    second = _result({"churn": {"open_s": _m(1.8)}})
    got = dl.combine(first, second)
    assert got["pages"] == {"overview": {"open_s": _m(1.5)}, "churn": {"open_s": _m(1.8)}}
    # another snapshot (or the same path rebuilt at another size): nothing carried over
    assert dl.combine(first, _result({}, customers=950_000))["pages"] == {}
    assert dl.combine(None, second) is second


def test_table_marks_targets():
    """Open 1.5 s ≤ 2 s met; filter 1.5 s is 1.5× the 1 s target."""
    res = _result(
        {"churn": {"open_s": _m(1.5, 1.2, 1.9), "filter_s": _m(1.5, 1.4, 1.6)}},
    )
    res["server"] = {"churn": {"all_s": _m(0.8), "province_s": _m(0.6)}}
    table = dl.latency_table(res).splitlines()
    assert (
        table[2]
        == "| churn | 1.50 (1.20–1.90) | yes | 1.50 (1.40–1.60) | no (1.5×) | 0.80 / 0.60 |"
    )


def test_every_page_has_a_chart_count_and_data_function():
    from crmkit.views.base import PAGES

    assert set(dl.CHARTS) == set(PAGES) == set(dl.DATA_FUNCTIONS)


def test_table_shows_a_page_that_failed():
    res = _result({"needs": {"error": "TimeoutError: Page.goto: Timeout 300000ms exceeded."}})
    assert dl.latency_table(res).splitlines()[2].startswith("| needs | TimeoutError")
