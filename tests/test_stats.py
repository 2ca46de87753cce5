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


def _stratified() -> tuple[list[int], pd.DataFrame, pd.DataFrame]:
    """stats.adjusted_effects' docstring example: odds 1/3 vs 1/9 among 30 active customers,
    3 vs 1 among 24 inactive ones (adjusted odds ratio 3, raw 8/24 vs 11/30)."""
    x = [1] * 20 + [0] * 10 + [1] * 4 + [0] * 20
    active = [1] * 30 + [0] * 24
    y = [1] * 5 + [0] * 15 + [1] + [0] * 9 + [1] * 3 + [0] + [1] * 10 + [0] * 10
    return y, pd.DataFrame({"x": x}), pd.DataFrame({"active": active})


def test_adjusted_effects_drop_what_they_cannot_estimate():
    """Alongside x: a constant exposure (no_variation), one held only by churners
    (separation), a copy of x (collinear) and a continuous one (no relative risk). Controls:
    entirely missing or constant ones are dropped; a copy of ``active`` is collinear; missing
    values are filled with the median. x keeps an odds ratio near 3 (the random score and
    the one filled value move it a little)."""
    y, ex, ctl = _stratified()
    n = len(y)
    ex = ex.assign(
        constant=1.0,
        churners=[float(v and i < 5) for i, v in enumerate(y)],
        copy=ex.x,
        score=np.random.default_rng(0).random(n),
    )
    ctl = ctl.assign(empty=np.nan, flat=2.0, twin=ctl.active * 2 + 1)
    ctl.loc[0, "active"] = np.nan
    out = stats.adjusted_effects(y, ex, ctl).set_index("term")
    assert out.note.fillna("").to_dict() == {
        "x": "",
        "constant": "no_variation",
        "churners": "separation",
        "copy": "collinear",
        "score": "",
    }
    assert out.loc["x", "odds_ratio"] == pytest.approx(3.0, rel=0.25)
    assert np.isnan(out.loc["score", "adjusted_rr"]) and out.loc["score", "p_value"] > 0.05
    assert out.attrs["controls"] == ["active"]
    assert out.attrs["dropped"] == {"empty": "all_missing", "flat": "constant", "twin": "collinear"}
    with pytest.raises(ValueError, match="missing values"):
        stats.adjusted_effects(y, ex.assign(x=np.nan), ctl)
    with pytest.raises(ValueError, match="one row each"):
        stats.adjusted_effects(y[:-1], ex, ctl)


def test_adjusted_effects_without_a_fit():
    """A control that separates the outcome perfectly (every churner has it): the
    regression does not converge, and every exposure says so instead of showing a number."""
    y, ex, _ = _stratified()
    out = stats.adjusted_effects(y, ex, pd.DataFrame({"tell": y}))
    assert out.note.tolist() == ["no_fit"] and out.odds_ratio.isna().all()


#: Newcombe (1998), "Interval estimation for the difference between independent proportions",
#: Stat. Med. 17:873–890, table II, method 10 (score interval, hybrid): (k1, n1, k2, n2) with
#: the difference k2/n2 − k1/n1 and its published 95 % limits.
NEWCOMBE_TABLE_II = [
    ((48, 80, 56, 70), (0.0524, 0.3339)),
    ((3, 10, 9, 10), (0.1705, 0.8090)),
    ((2, 7, 6, 7), (0.0582, 0.8062)),
    ((0, 29, 5, 56), (-0.0381, 0.1926)),
    ((0, 20, 0, 10), (-0.1611, 0.2775)),
    ((0, 10, 0, 10), (-0.2775, 0.2775)),
    ((0, 20, 10, 10), (0.6791, 1.0000)),
    ((0, 10, 10, 10), (0.6075, 1.0000)),
]


@pytest.mark.parametrize(("counts", "limits"), NEWCOMBE_TABLE_II)
def test_newcombe_interval_reproduces_the_published_table(counts, limits):
    k1, n1, k2, n2 = counts
    d, lo, hi = stats.newcombe_interval(k1, n1, k2, n2)
    assert d == pytest.approx(k2 / n2 - k1 / n1)
    assert (lo, hi) == pytest.approx(limits, abs=5e-5)


def test_newcombe_interval_worked_value_and_bad_counts():
    """8/10 → 5/10: −0.3 in [−0.59987, 0.10667] (worked in the docstring); n = 0 or k > n is
    refused."""
    assert stats.newcombe_interval(8, 10, 5, 10) == pytest.approx(
        (-0.3, -0.599872, 0.106672), abs=1e-6
    )
    with pytest.raises(ValueError, match="0 <= k <= n and n > 0"):
        stats.newcombe_interval(0, 0, 1, 2)
    with pytest.raises(ValueError, match="got k=3, n=2"):
        stats.newcombe_interval(1, 2, 3, 2)


def test_welch_interval_worked_value_and_scipy():
    """Means 100 (sd √(1000/9), n 10) and 150 (sd √50, n 5): +50 in [39.942, 60.058], ν =
    11.511 (docstring); on raw samples it equals scipy's Welch t-test interval."""
    d, lo, hi, df = stats.welch_interval(
        100.0, math.sqrt(1000 / 9 / 10), 10, 150.0, math.sqrt(10), 5
    )
    assert (d, lo, hi, df) == pytest.approx((50.0, 39.9417, 60.0583, 11.5111), abs=1e-4)
    from scipy.stats import ttest_ind

    a = np.array([90.0, 110.0] * 5)
    b = np.array([140.0, 150.0, 160.0, 150.0, 150.0])
    ci = ttest_ind(b, a, equal_var=False).confidence_interval(0.95)
    se = [x.std(ddof=1) / math.sqrt(len(x)) for x in (a, b)]
    _, lo2, hi2, _ = stats.welch_interval(a.mean(), se[0], len(a), b.mean(), se[1], len(b))
    assert (lo2, hi2) == pytest.approx((ci.low, ci.high), rel=1e-9)
    with pytest.raises(ValueError, match="need n >= 2"):
        stats.welch_interval(1.0, 0.5, 1, 2.0, 0.5, 5)
