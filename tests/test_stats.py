"""crmkit.stats: numbers worked out by hand in each docstring."""

import math

import numpy as np
import pandas as pd
import pytest

from crmkit import stats


def test_wilson_worked_value():
    """8 of 10 → [0.4902, 0.9433] (Wilson 1927; also Newcombe 1998 table I, 81/263 style)."""
    p, lo, hi = stats.wilson(8, 10)
    assert p == 0.8
    assert lo == pytest.approx(0.490162, abs=1e-6)
    assert hi == pytest.approx(0.943318, abs=1e-6)


def test_wilson_edges():
    """0 of 20: lower bound 0, upper z²/(n+z²) = 3.8415/23.8415 = 0.16113; n = 0 is NaN."""
    p, lo, hi = stats.wilson(0, 20)
    assert (p, lo) == (0.0, 0.0)
    assert hi == pytest.approx(3.841459 / 23.841459, rel=1e-6)
    assert all(math.isnan(v) for v in stats.wilson(0, 0))
    with pytest.raises(ValueError, match="0 <= k <= n"):
        stats.wilson(5, 4)


def test_wilson_vectorised_matches_scalar():
    p, lo, hi = stats.wilson(np.array([8, 0, 0]), np.array([10, 20, 0]))
    assert lo[0] == pytest.approx(stats.wilson(8, 10)[1])
    assert hi[1] == pytest.approx(stats.wilson(0, 20)[2])
    assert np.isnan(p[2])


def test_two_proportion_worked_value():
    """10/100 vs 25/100: pooled 0.175, se 0.053735, z 2.7915, p 0.00525."""
    d, z, p = stats.two_proportion_test(10, 100, 25, 100)
    assert d == pytest.approx(0.15)
    assert z == pytest.approx(2.791452, rel=1e-5)
    assert p == pytest.approx(0.005248, abs=2e-6)
    d, z, p = stats.two_proportion_test(25, 100, 10, 100)
    assert z == pytest.approx(-2.791452, rel=1e-5)
    assert math.isnan(stats.two_proportion_test(0, 0, 1, 10)[2])
    assert math.isnan(stats.two_proportion_test(0, 10, 0, 10)[2])  # no variation


def test_benjamini_hochberg():
    """Sorted 0.01,0.03,0.04,0.5 × 4/rank = 0.04,0.06,0.0533,0.5 → running min from the top."""
    q = stats.benjamini_hochberg([0.01, 0.04, 0.03, np.nan, 0.5])
    assert q[0] == pytest.approx(0.04)
    assert q[1] == pytest.approx(0.04 * 4 / 3)
    assert q[2] == pytest.approx(0.04 * 4 / 3)
    assert np.isnan(q[3])
    assert q[4] == pytest.approx(0.5)


def test_metric_rate_and_rate_columns():
    """8 / 10: Wilson lo 0.490162 (worked out in stats.wilson's docstring), n < 30 flagged."""
    r = stats.Metric.rate("repurchase", 8, 10, definition={"zh": "复购", "en": "repurchase"},
                          window="2026-Q3")  # fmt: skip
    d = r.as_dict()
    assert list(d) == list(stats.METRIC_COLUMNS)
    assert d["value"] == 0.8 and d["n"] == 10 and d["small_sample"] and d["available"]
    assert d["lo"] == pytest.approx(0.490162, abs=1e-6)
    assert (d["definition_zh"], d["window"], d["method"]) == ("复购", "2026-Q3", "Wilson 95 %")
    assert not stats.Metric.rate("x", 40, 100).small_sample
    df = stats.rate_columns(pd.DataFrame({"k": [8, 40], "n": [10, 100]}), "k", "n")
    assert df["small_sample"].tolist() == [True, False]
    assert df["rate"].tolist() == [0.8, 0.4]


def test_metric_mean_and_unavailable():
    """Values 10, 20, 30: mean 20, sd 10, half-width 1.959964 · 10 / √3 = 11.3159."""
    m = stats.Metric.mean("clv", 60.0, 3, 10.0)
    assert (m.value, m.numerator, m.denominator, m.n) == (20.0, 60.0, 3, 3)
    assert m.hi - 20 == pytest.approx(11.3159, abs=1e-4) and m.method == "normal 95 %"
    none = stats.Metric.rate("referral_rate", 0, 0, window="2026-Q3")
    assert (none.available, none.value, none.reason, none.n) == (False, None, "no_observations", 0)
    frame = stats.metric_frame([m, none], segment=["a", "b"])
    assert frame.columns[0] == "segment" and frame.available.tolist() == [True, False]


def test_metric_mean_of_an_exact_total():
    """A DECIMAL sum is divided before rounding: 0.3 / 3 is 0.1 exactly (float division of the
    rounded 0.3 gives 0.09999999999999999); the numerator is still a float."""
    from decimal import Decimal

    m = stats.Metric.mean("avg_order_value", Decimal("0.3"), 3, 0.1)
    assert m.value == 0.1 and 0.3 / 3 != 0.1
    assert m.numerator == 0.3 and isinstance(m.numerator, float)


def test_docstring_examples():
    import doctest

    assert doctest.testmod(stats).failed == 0
