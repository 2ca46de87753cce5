"""The benchmark's reference engines compute what crmkit computes (else their timings mean
nothing): every engine's check (per class: customers, revenue in cents, score sums) is equal."""

import pytest

from bench import suite


@pytest.mark.parametrize("bench", list(suite.BENCHMARKS))
def test_engines_agree(demo_warehouse, bench):
    engines = suite.BENCHMARKS[bench]
    reference = engines["crmkit"](demo_warehouse)()
    assert sum(row[1] for row in reference) > 15_000  # customers with a counted order
    for name, make in engines.items():
        if name != "floor":
            assert make(demo_warehouse)() == reference, name


def test_ratio_table_and_exponent():
    """Times 1 s at 1 M and 10 s at 10 M orders: exponent exactly 1."""
    res = {
        "sizes": {
            "1000000": {"rfm": {"engines": {"crmkit": _e(1.0), "sql": _e(0.5)}}},
            "10000000": {"rfm": {"engines": {"crmkit": _e(10.0), "sql": _e(4.0)}}},
        }
    }
    assert suite.scaling_exponent(res, "rfm") == pytest.approx(1.0)
    table = suite.ratio_table(res)
    assert "| 1,000,000 | rfm | sql | 0.500 | 0.500–0.500 | 2.00 | 100 |" in table
    assert "| 10,000,000 | rfm | sql | 4.000 | 4.000–4.000 | 2.50 | 100 |" in table


def _e(t: float) -> dict:
    return {"median_s": t, "min_s": t, "max_s": t, "runs": 1, "peak_mib": 100}
