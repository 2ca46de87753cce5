"""bench.publish: the step timings a publish prints are parsed back, and results merge into the
day's file without losing what the other benchmarks wrote."""

import pytest

from bench import publish


@pytest.mark.slow  # a real `crmkit publish` in a subprocess: ~15 s
def test_publish_once_reads_steps_rows_and_peak_memory(tiny_snapshot, tmp_path):
    """A real ``crmkit publish`` in its own process: every step the CLI printed is there, the
    rows are the snapshot's own counts, and /usr/bin/time's peak RSS is read."""
    out = tmp_path / "published.duckdb"
    res = publish.publish_once(tiny_snapshot.with_name("warehouse.duckdb"), out)
    assert {"copy", "quality", "classification", "kpi"} <= set(res["steps"])
    assert all(s >= 0 for s in res["steps"].values())
    assert res["rows"]["customers"] == 5
    assert res["peak_mib"] > 50
    assert res["bytes"] == out.stat().st_size
    assert res["seconds"] >= sum(res["steps"].values()) * 0.99


def test_table_lists_the_slowest_steps():
    res = {
        "1000000": {
            "median_s": 90.0,
            "min_s": 88.0,
            "max_s": 95.5,
            "peak_mib": 3000,
            "floor_copy_median_s": 0.25,
            "steps_median_s": {"copy": 0.3, "churn": 40.0, "kpi": 20.0, "quality": 5.0, "x": 1.0},
        }
    }
    row = publish.table(res).splitlines()[-1]
    assert (
        row == "| 1,000,000 | 90.0 | 88.0–95.5 | 3000 | 0.25 | "
        "churn 40.0, kpi 20.0, quality 5.0, x 1.0 |"
    )
