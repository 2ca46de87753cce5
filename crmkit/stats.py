"""Intervals, tests and the small-sample rule that every rate in crmkit uses.

One place for the statistics behind the numbers a manager sees, so a rate on the satisfaction
page, in the churn list and in the KPI report is computed and flagged the same way:

- :func:`wilson` — the Wilson score interval for a share k/n (Wilson 1927); good at small n and
  at shares near 0 or 1, where the textbook normal interval leaves [0, 1];
- :func:`two_proportion_test` — the pooled two-proportion z-test (is a share in one group or
  period different from another?), two-sided p-value;
- :func:`newcombe_interval` / :func:`welch_interval` — the difference of two shares / two
  means with its 95 % interval (two periods compared: ``crmkit.compare``);
- :func:`benjamini_hochberg` — false-discovery-rate adjustment when many slices are tested at
  once (alerts over every region × channel × month would otherwise fire by chance);
- :func:`adjusted_effects` — odds ratios (and relative risks) of a 0/1 outcome adjusted for
  other variables in one logistic regression, when a raw comparison is confounded (active
  customers complain more *and* churn less);
- :data:`MIN_N` — below this many observations a number is flagged as a small sample;
- :class:`Metric` — the one shape of a number that leaves an analysis (value, numerator,
  denominator, n, interval, small-sample flag, method, window and its 口径), and
  :func:`metric_frame` for many of them.

Plain numpy / math on counts: the counting is done in the database (Ibis), the arithmetic on
the few aggregated rows here (:func:`adjusted_effects` fits on one row per customer, with
statsmodels, imported when called).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from decimal import Decimal

import numpy as np

#: Below this n a rate is shown with a "small sample" flag (configurable per call).
MIN_N = 30
#: The normal quantile for a two-sided 95 % interval.
Z95 = 1.959963984540054


def wilson(k, n, z: float = Z95):  # noqa: ANN001, ANN201
    """Wilson score interval for the share ``k / n``.

    Parameters
    ----------
    k, n : int or array-like
        Successes and trials (same shape). ``n == 0`` gives NaN for all three values.
    z : float
        Normal quantile; the default gives a two-sided 95 % interval.

    Returns
    -------
    (p, lo, hi) : tuple of float or numpy arrays
        The share and its interval.

    Examples
    --------
    8 of 10: p = 0.8, centre = (0.8 + z²/20) / (1 + z²/10) = 0.71674,
    half-width = z·sqrt(0.016 + z²/400) / (1 + z²/10) = 0.22657:

    >>> p, lo, hi = wilson(8, 10)
    >>> round(lo, 4), round(hi, 4)
    (0.4902, 0.9433)
    """
    scalar = np.isscalar(k) and np.isscalar(n)
    k = np.asarray(k, dtype=float)
    n = np.asarray(n, dtype=float)
    if np.any(k < 0) or np.any(k > n):
        raise ValueError("wilson: every k must satisfy 0 <= k <= n")
    with np.errstate(divide="ignore", invalid="ignore"):
        p = np.where(n > 0, k / n, np.nan)
        denom = 1 + z * z / n
        centre = (p + z * z / (2 * n)) / denom
        half = z * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
        lo = np.where(n > 0, np.clip(centre - half, 0.0, 1.0), np.nan)
        hi = np.where(n > 0, np.clip(centre + half, 0.0, 1.0), np.nan)
    if scalar:
        return float(p), float(lo), float(hi)
    return p, lo, hi


def normal_sf(x):  # noqa: ANN001, ANN201
    """Upper tail of the standard normal, P(Z > x)."""
    return 0.5 * np.vectorize(math.erfc)(np.asarray(x, dtype=float) / math.sqrt(2))


def two_proportion_test(k1, n1, k2, n2):  # noqa: ANN001, ANN201
    """Pooled two-proportion z-test of p2 versus p1 (two-sided).

    Returns ``(diff, z, p_value)`` with ``diff = k2/n2 - k1/n1``; NaN where either n is 0 or
    the pooled share is 0 or 1 (no variation: nothing to test).

    Examples
    --------
    10/100 before, 25/100 after: pooled 0.175, se = sqrt(0.175·0.825·(2/100)) = 0.053735,
    z = 0.15 / 0.053735 = 2.7915, p = 0.00525:

    >>> d, z, p = two_proportion_test(10, 100, 25, 100)
    >>> round(d, 2), round(z, 4), round(p, 5)
    (0.15, 2.7915, 0.00525)
    """
    scalar = all(np.isscalar(v) for v in (k1, n1, k2, n2))
    k1, n1, k2, n2 = (np.asarray(v, dtype=float) for v in (k1, n1, k2, n2))
    with np.errstate(divide="ignore", invalid="ignore"):
        p1, p2 = k1 / n1, k2 / n2
        pooled = (k1 + k2) / (n1 + n2)
        se = np.sqrt(pooled * (1 - pooled) * (1 / n1 + 1 / n2))
        ok = (n1 > 0) & (n2 > 0) & (se > 0)
        diff = np.where((n1 > 0) & (n2 > 0), p2 - p1, np.nan)
        z = np.where(ok, (p2 - p1) / se, np.nan)
    pval = np.where(ok, 2 * normal_sf(np.abs(np.nan_to_num(z))), np.nan)
    if scalar:
        return float(diff), float(z), float(pval)
    return diff, z, pval


def newcombe_interval(k1: int, n1: int, k2: int, n2: int, z: float = Z95) -> tuple[float, ...]:
    """The difference of two independent shares, ``k2/n2 − k1/n1``, with Newcombe's hybrid
    score interval (Newcombe 1998, method 10) built from the two :func:`wilson` intervals
    ``[l1, u1]``, ``[l2, u2]``:

        lo = d − sqrt((p2 − l2)² + (u1 − p1)²),   hi = d + sqrt((u2 − p2)² + (p1 − l1)²)

    Unlike the textbook Wald interval it stays inside [−1, 1] and keeps its coverage at small n
    and at shares near 0 or 1.

    Returns
    -------
    (diff, lo, hi) : tuple of float

    Raises
    ------
    ValueError
        When a share has ``n == 0`` or ``k`` outside ``[0, n]``.

    Examples
    --------
    8/10 then 5/10: d = −0.3; Wilson 8/10 = [0.49016, 0.94332], 5/10 = [0.23659, 0.76341];
    lo = −0.3 − sqrt(0.26341² + 0.14332²) = −0.59987, hi = −0.3 + sqrt(0.26341² + 0.30984²)
    = 0.10667 — the interval holds 0: not significant at 10 per period.

    >>> d, lo, hi = newcombe_interval(8, 10, 5, 10)
    >>> round(d, 2), round(lo, 4), round(hi, 4)
    (-0.3, -0.5999, 0.1067)
    """
    for k, n in ((k1, n1), (k2, n2)):
        if n <= 0 or not 0 <= k <= n:
            raise ValueError(f"newcombe_interval: need 0 <= k <= n and n > 0, got k={k}, n={n}")
    p1, l1, u1 = wilson(k1, n1, z)
    p2, l2, u2 = wilson(k2, n2, z)
    d = p2 - p1
    return d, d - math.hypot(p2 - l2, u1 - p1), d + math.hypot(u2 - p2, p1 - l1)


def welch_interval(
    mean1: float, se1: float, n1: int, mean2: float, se2: float, n2: int, level: float = 0.95
) -> tuple[float, ...]:
    """The difference of two independent means, ``mean2 − mean1``, with Welch's interval:
    ``d ± t(ν) · sqrt(se1² + se2²)``, ν by Welch–Satterthwaite,
    ``ν = (se1² + se2²)² / (se1⁴/(n1 − 1) + se2⁴/(n2 − 1))``; ``se`` is each mean's standard
    error (sd / √n).

    Returns
    -------
    (diff, lo, hi, df) : tuple of float

    Raises
    ------
    ValueError
        When a mean has fewer than 2 observations or a negative standard error.

    Examples
    --------
    Means 100 (sd √(1000/9), n 10) and 150 (sd √50, n 5): se² = 11.111 + 10, ν = 21.111² /
    (11.111²/9 + 10²/4) = 11.511, t = 2.18912, half-width 2.18912 · 4.59468 = 10.0583:

    >>> d, lo, hi, df = welch_interval(100.0, (1000 / 9 / 10) ** 0.5, 10, 150.0, 10**0.5, 5)
    >>> round(d, 1), round(lo, 3), round(hi, 3), round(df, 3)
    (50.0, 39.942, 60.058, 11.511)
    """
    from scipy.stats import t as student_t

    for se, n in ((se1, n1), (se2, n2)):
        if n < 2 or se < 0:
            raise ValueError(f"welch_interval: need n >= 2 and se >= 0, got n={n}, se={se}")
    v1, v2 = se1 * se1, se2 * se2
    d = mean2 - mean1
    if v1 + v2 == 0:
        return d, d, d, math.inf
    df = (v1 + v2) ** 2 / (v1 * v1 / (n1 - 1) + v2 * v2 / (n2 - 1))
    half = float(student_t.ppf(0.5 + level / 2, df)) * math.sqrt(v1 + v2)
    return d, d - half, d + half, df


def benjamini_hochberg(pvalues):  # noqa: ANN001, ANN201
    """Benjamini–Hochberg adjusted p-values (NaN stays NaN and is not counted).

    Examples
    --------
    >>> [round(float(q), 3) for q in benjamini_hochberg([0.01, 0.04, 0.03, 0.5])]
    [0.04, 0.053, 0.053, 0.5]
    """
    p = np.asarray(pvalues, dtype=float)
    out = np.full(p.shape, np.nan)
    ok = ~np.isnan(p)
    m = int(ok.sum())
    if m == 0:
        return out
    vals = p[ok]
    order = np.argsort(vals)
    ranked = vals[order] * m / np.arange(1, m + 1)
    adj = np.minimum.accumulate(ranked[::-1])[::-1].clip(max=1.0)
    res = np.empty(m)
    res[order] = adj
    out[ok] = res
    return out


#: The columns of a metric frame (:func:`metric_frame`), in order.
METRIC_COLUMNS = (
    "key",
    "value",
    "numerator",
    "denominator",
    "n",
    "lo",
    "hi",
    "small_sample",
    "method",
    "window",
    "definition_zh",
    "definition_en",
    "available",
    "reason",
)


class NotEnoughData(Exception):
    """An analysis cannot give a trustworthy result on the data it was handed (too few buyers,
    answers, history …): the publish step that called it is recorded as *skipped* with
    ``reason``, and the pages say "not available" with it.

    ``reason`` is a code understood by :func:`crmkit.i18n.reason_text` (``"too_few:…"``) or a
    sentence.
    """

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def too_few(what: str, have: int, need: int) -> str:
    """The reason code for "only ``have`` of the ``need`` ``what`` needed"
    (:func:`crmkit.i18n.reason_text` words it).

    >>> too_few("repeat_buyers", 12, 50)
    'too_few:repeat_buyers:12:50'
    """
    return f"too_few:{what}:{int(have)}:{int(need)}"


@dataclass(frozen=True)
class Metric:
    """One number with everything needed to show it honestly: the one shape of every rate,
    mean and score that leaves an analysis (口径 travels with the number).

    Attributes
    ----------
    key : str
        The measure's code (its name and definition are looked up by it, e.g. in
        :data:`crmkit.definitions.MEASURES`).
    value : float or None
        The number; None when it is not available.
    numerator, denominator : float or None
        What it was computed from (for a mean: the sum and the count).
    n : int or None
        Observations behind it (a rate's denominator, a mean's count).
    lo, hi : float or None
        The interval given by ``method`` (None where there is none).
    small_sample : bool
        ``n`` below the small-sample threshold (:data:`MIN_N` by default).
    method : str
        How the interval was computed, e.g. ``"Wilson 95 %"``.
    window : str
        Over what it was counted, e.g. ``"2026-07-01 ≤ t < 2026-10-01"``.
    definition : dict
        ``{"zh": ..., "en": ...}``: numerator and denominator in words.
    available : bool
        False when the number could not be computed; ``reason`` then says why.

    Examples
    --------
    >>> m = Metric.rate("repurchase_rate", 8, 10)
    >>> m.value, round(m.lo, 4), round(m.hi, 4), m.small_sample
    (0.8, 0.4902, 0.9433, True)
    >>> Metric.rate("repurchase_rate", 0, 0).available
    False
    """

    key: str
    value: float | None
    numerator: float | None = None
    denominator: float | None = None
    n: int | None = None
    lo: float | None = None
    hi: float | None = None
    small_sample: bool = False
    method: str = ""
    window: str = ""
    definition: dict[str, str] = field(default_factory=dict)
    available: bool = True
    reason: str = ""

    @classmethod
    def rate(
        cls,
        key: str,
        k: int,
        n: int,
        *,
        definition: dict[str, str] | None = None,
        window: str = "",
        min_n: int = MIN_N,
    ) -> Metric:
        """The share ``k / n`` with its Wilson 95 % interval; not available when ``n == 0``."""
        k, n = int(k), int(n)
        if n == 0:
            return cls.unavailable(
                key, "no_observations", definition=definition, window=window, numerator=k
            )
        p, lo, hi = wilson(k, n)
        return cls(
            key, p, k, n, n, lo, hi, n < min_n, "Wilson 95 %", window, dict(definition or {})
        )

    @classmethod
    def mean(
        cls,
        key: str,
        total: float,
        n: int,
        sd: float | None,
        *,
        definition: dict[str, str] | None = None,
        window: str = "",
        min_n: int = MIN_N,
    ) -> Metric:
        """The mean ``total / n`` with a normal 95 % interval (± 1.96 sd / √n) when ``sd`` is
        known and n > 1; not available when ``n == 0``. A :class:`~decimal.Decimal` total is
        divided exactly: ``Metric.mean("x", Decimal("0.3"), 3, None).value`` is 0.1, where
        0.3 / 3 in floats is 0.09999999999999999."""
        n = int(n)
        if n == 0:
            return cls.unavailable(key, "no_observations", definition=definition, window=window)
        # an exact total (a DECIMAL sum from the database) is divided before it is rounded, so
        # the mean is the correctly rounded one
        mean = float(total / n) if isinstance(total, Decimal) else float(total) / n
        lo = hi = None
        if sd is not None and n > 1 and not math.isnan(sd):
            half = Z95 * float(sd) / math.sqrt(n)
            lo, hi = mean - half, mean + half
        return cls(
            key,
            mean,
            float(total),
            n,
            n,
            lo,
            hi,
            n < min_n,
            "normal 95 %",
            window,
            dict(definition or {}),
        )

    @classmethod
    def unavailable(
        cls,
        key: str,
        reason: str,
        *,
        definition: dict[str, str] | None = None,
        window: str = "",
        numerator: float | None = None,
    ) -> Metric:
        """A number that could not be computed, with the reason (a code or a sentence)."""
        return cls(
            key,
            None,
            numerator,
            0 if numerator is not None else None,
            0,
            None,
            None,
            True,
            "",
            window,
            dict(definition or {}),
            False,
            reason,
        )

    def as_dict(self) -> dict[str, object]:
        """One row of a metric frame (:data:`METRIC_COLUMNS`)."""
        d = {c: getattr(self, c) for c in METRIC_COLUMNS if hasattr(self, c)}
        d["definition_zh"] = self.definition.get("zh", "")
        d["definition_en"] = self.definition.get("en", "")
        return {c: d[c] for c in METRIC_COLUMNS}


_METRIC_TYPES = {
    **{c: "float64" for c in ("value", "numerator", "denominator", "lo", "hi")},
    "n": "Int64",
    "small_sample": "bool",
    "available": "bool",
    **{c: "string" for c in ("key", "method", "window", "definition_zh", "definition_en")},
    "reason": "string",
}


def metric_frame(metrics, **columns):  # noqa: ANN001, ANN003, ANN201
    """Many :class:`Metric` as one frame of :data:`METRIC_COLUMNS`; keyword arguments add
    constant or per-row columns in front (e.g. ``period=[...]``, ``segment=[...]``).

    Examples
    --------
    >>> f = metric_frame([Metric.rate("a", 1, 2), Metric.rate("b", 3, 4)], period="2026-Q3")
    >>> list(f.columns[:3]), f.value.tolist()
    (['period', 'key', 'value'], [0.5, 0.75])
    """
    import pandas as pd

    rows = [m.as_dict() for m in metrics]
    # typed even when every value is missing (no data: the frame must still be storable)
    frame = pd.DataFrame(rows, columns=list(METRIC_COLUMNS)).astype(_METRIC_TYPES)
    for i, (name, value) in enumerate(columns.items()):
        frame.insert(i, name, value)
    return frame


def rate_columns(df, k: str, n: str, *, min_n: int = MIN_N, prefix: str = ""):  # noqa: ANN001, ANN201
    """Add ``rate``, ``lo``, ``hi``, ``small_sample`` columns to a frame of counts (a copy)."""
    out = df.copy()
    p, lo, hi = wilson(out[k].to_numpy(), out[n].to_numpy())
    out[f"{prefix}rate"] = p
    out[f"{prefix}lo"] = lo
    out[f"{prefix}hi"] = hi
    out[f"{prefix}small_sample"] = out[n].to_numpy() < min_n
    return out


def sample_rows(frame, n: int, *, seed: int = 0):  # noqa: ANN001, ANN201
    """``frame`` itself when it has at most ``n`` rows, else a seeded random ``n`` of them
    (index reset): what a model is fitted on when the data are larger than it needs.

    >>> import pandas as pd
    >>> big, small = pd.DataFrame({"x": range(10)}), pd.DataFrame({"x": [1]})
    >>> len(sample_rows(big, 3)), len(sample_rows(small, 3))
    (3, 1)
    """
    if len(frame) <= n:
        return frame
    return frame.sample(n=n, random_state=seed).reset_index(drop=True)


# ---------------------------------------------------------------------------------------------
# effects adjusted for other variables
# ---------------------------------------------------------------------------------------------

#: Why :func:`adjusted_effects` gives no estimate for an exposure (its ``note``; worded by
#: ``crmkit.i18n`` as ``effect_note_<code>``): it is the same for every row, the outcome is the
#: same for everyone with it (or everyone without it), it is a linear combination of the
#: columns before it, or the regression did not converge.
EFFECT_NOTES = ("no_variation", "separation", "collinear", "no_fit")
#: Columns of :func:`adjusted_effects`, in order.
EFFECT_COLUMNS = (
    "term",
    "odds_ratio",
    "or_lo",
    "or_hi",
    "p_value",
    "adjusted_rr",
    "rr_lo",
    "rr_hi",
    "note",
)


def _is_binary(x: np.ndarray) -> bool:
    return bool(np.isin(x, (0.0, 1.0)).all())


def _separated(x: np.ndarray, y: np.ndarray) -> bool:
    """A 0/1 exposure whose group with it (or without it) has only one outcome: the odds ratio
    is 0 or infinite and the regression cannot estimate it."""
    return any(len(np.unique(y[x == v])) < 2 for v in (0.0, 1.0))


def _independent_columns(x: np.ndarray, tol: float = 1e-9) -> list[int]:
    """Indices of the columns of ``x`` kept left to right, each only if it is not (up to
    ``tol`` of its sum of squares) a linear combination of those kept before it: the residual
    of its regression on them, from the small Gram matrix, so it stays fast at any n."""
    gram = x.T @ x
    keep: list[int] = []
    for j in range(x.shape[1]):
        b = gram[keep, j]
        resid = gram[j, j] - (b @ np.linalg.solve(gram[np.ix_(keep, keep)], b) if keep else 0.0)
        if resid > tol * gram[j, j]:
            keep.append(j)
    return keep


def adjusted_effects(y, exposures, controls, *, z: float = Z95):  # noqa: ANN001, ANN201
    """Odds ratios of a 0/1 outcome for each exposure, adjusted for the other exposures and for
    ``controls`` in one logistic regression; for 0/1 exposures also the adjusted relative risk.

    The raw comparison "churn rate with a complaint vs without" mixes the complaint with
    everything that goes with it (active customers order more, so complain more, and churn
    less); holding the controls equal removes what they measure of that.

    Parameters
    ----------
    y : array-like of 0/1
        The outcome, one value per row.
    exposures : pandas.DataFrame
        The variables whose effects are reported (0/1 flags or numbers, no missing values), one
        row per ``y``. A column with one value (``no_variation``), a 0/1 column whose group
        with or without it has one outcome only (``separation``) or one that is a linear
        combination of the columns before it (``collinear``) is left out of the model, and its
        row says so in ``note``.
    controls : pandas.DataFrame
        Adjustment variables, one row per ``y``: an entirely missing or constant column is
        dropped (``attrs["dropped"]``), missing values are filled with the column's median, and
        each column is standardised (mean 0, sd 1) so the fit is well conditioned.
    z : float
        Normal quantile of the intervals (default: 95 %).

    Returns
    -------
    pandas.DataFrame
        One row per exposure column, in order (:data:`EFFECT_COLUMNS`): ``term``,
        ``odds_ratio`` = exp(β) with Wald interval ``or_lo`` / ``or_hi`` and two-sided
        ``p_value`` from heteroscedasticity-robust (HC1) standard errors; for 0/1 exposures
        ``adjusted_rr`` — g-computation over the rows with the exposure: their mean predicted
        risk as they are ÷ with the exposure set to 0, others as observed — with its
        delta-method interval on the log scale ``rr_lo`` / ``rr_hi``; ``note`` (a code of
        :data:`EFFECT_NOTES`, else missing). ``attrs``: ``n``, ``controls`` (used),
        ``dropped`` (control → ``all_missing`` / ``constant`` / ``collinear``), ``method``.

    Examples
    --------
    Active customers (30) mostly have the flag and rarely churn: with it 5 of 20 churn (odds
    1/3), without it 1 of 10 (odds 1/9); among the 24 inactive ones 3 of 4 with it (odds 3)
    and 10 of 20 without (odds 1). Raw, the flag looks protective (8/24 = 0.33 vs 11/30 =
    0.37); within each activity level it triples the odds, so the adjusted odds ratio is 3.
    Adjusted relative risk over the 24 with the flag: (20 × 0.25 + 4 × 0.75) / 24 = 1/3 as
    they are vs (20 × 0.1 + 4 × 0.5) / 24 = 1/6 without it → 2:

    >>> import pandas as pd
    >>> x = [1] * 20 + [0] * 10 + [1] * 4 + [0] * 20
    >>> active = [1] * 30 + [0] * 24
    >>> y = [1] * 5 + [0] * 15 + [1] + [0] * 9 + [1] * 3 + [0] + [1] * 10 + [0] * 10
    >>> out = adjusted_effects(y, pd.DataFrame({"x": x}), pd.DataFrame({"active": active}))
    >>> round(float(out.odds_ratio[0]), 3), round(float(out.adjusted_rr[0]), 3)
    (3.0, 2.0)
    """
    import warnings

    import pandas as pd
    import statsmodels.api as sm
    from scipy.special import expit
    from statsmodels.tools.sm_exceptions import PerfectSeparationWarning

    y = np.asarray(y, dtype=float)
    ex = exposures.reset_index(drop=True).astype(float)
    ctl = controls.reset_index(drop=True).astype(float)
    if len(ex) != len(y) or len(ctl) != len(y):
        raise ValueError(
            f"y, exposures and controls must have one row each per observation; got {len(y)}, "
            f"{len(ex)} and {len(ctl)} rows"
        )
    missing = [c for c in ex.columns if ex[c].isna().any()]
    if missing:
        raise ValueError(
            f"exposures {missing} have missing values; fill them (e.g. a flag is 0 when "
            "unknown) or drop those rows first"
        )
    notes: dict[str, str | None] = {}
    for c in ex.columns:
        x = ex[c].to_numpy()
        if len(np.unique(x)) < 2:
            notes[c] = "no_variation"
        elif _is_binary(x) and _separated(x, y):
            notes[c] = "separation"
        else:
            notes[c] = None
    dropped: dict[str, str] = {}
    used: list[str] = []
    scaled = {}
    for c in ctl.columns:
        x = ctl[c]
        if x.isna().all():
            dropped[c] = "all_missing"
            continue
        x = x.fillna(x.median())
        sd = float(x.std(ddof=0))
        if not sd > 0:
            dropped[c] = "constant"
            continue
        scaled[c] = ((x - x.mean()) / sd).to_numpy()
        used.append(c)
    terms = [c for c in ex.columns if notes[c] is None]
    names = ["const", *terms, *used]
    design = np.column_stack(
        [np.ones(len(y)), *(ex[c].to_numpy() for c in terms), *(scaled[c] for c in used)]
    )
    keep = _independent_columns(design)
    for j, name in enumerate(names):
        if j not in keep:
            if name in notes:
                notes[name] = "collinear"
            else:
                dropped[name] = "collinear"
    names = [names[j] for j in keep]
    design = design[:, keep]
    fit = None
    if any(notes[c] is None for c in ex.columns) and 0 < y.sum() < len(y):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            try:
                fit = sm.Logit(y, design).fit(disp=0, maxiter=100, cov_type="HC1")
            except np.linalg.LinAlgError:
                fit = None
        separated = any(issubclass(w.category, PerfectSeparationWarning) for w in caught)
        if fit is not None and (
            separated
            or not fit.mle_retvals.get("converged", False)
            or not np.isfinite(fit.bse).all()
        ):
            fit = None
        if fit is None:
            notes |= {c: "no_fit" for c in ex.columns if notes[c] is None}
    rows = []
    for c in ex.columns:
        row = dict.fromkeys(EFFECT_COLUMNS[1:-1], math.nan) | {"term": c, "note": notes[c]}
        if notes[c] is None:
            j = names.index(c)
            beta, se = float(fit.params[j]), float(fit.bse[j])
            row |= {
                "odds_ratio": math.exp(beta),
                "or_lo": math.exp(beta - z * se),
                "or_hi": math.exp(beta + z * se),
                "p_value": float(fit.pvalues[j]),
            }
            if _is_binary(design[:, j]):
                row |= _g_computation_rr(design, j, fit.params, fit.cov_params(), z, expit)
        rows.append(row)
    out = pd.DataFrame(rows, columns=list(EFFECT_COLUMNS)).astype(
        {c: "float64" for c in EFFECT_COLUMNS[1:-1]} | {"note": "object"}
    )
    out.attrs.update(
        n=len(y),
        controls=[c for c in used if c not in dropped],
        dropped=dropped,
        method="logistic regression (statsmodels Logit), HC1 robust standard errors; "
        "adjusted relative risk by g-computation over the exposed, delta-method interval",
    )
    return out


def _g_computation_rr(design, j, beta, cov, z, expit) -> dict[str, float]:  # noqa: ANN001
    """Adjusted relative risk of the 0/1 column ``j`` among the rows that have it: mean
    predicted risk as observed ÷ mean predicted risk with column ``j`` set to 0; the log
    ratio's standard error by the delta method."""
    beta, cov = np.asarray(beta), np.asarray(cov)
    x1 = design[design[:, j] == 1]
    x0 = x1.copy()
    x0[:, j] = 0.0
    p1, p0 = expit(x1 @ beta), expit(x0 @ beta)
    m1, m0 = float(p1.mean()), float(p0.mean())
    grad = (x1 * (p1 * (1 - p1))[:, None]).mean(axis=0) / m1
    grad -= (x0 * (p0 * (1 - p0))[:, None]).mean(axis=0) / m0
    se = float(np.sqrt(grad @ cov @ grad))
    log_rr = math.log(m1 / m0)
    return {
        "adjusted_rr": m1 / m0,
        "rr_lo": math.exp(log_rr - z * se),
        "rr_hi": math.exp(log_rr + z * se),
    }


def aggregate(t, by: list[str], *, keep_missing: tuple[str, ...] = (), **metrics):  # noqa: ANN001, ANN003, ANN201
    """``metrics`` of the Ibis table ``t`` per ``by`` group (sorted by it), or overall without
    ``by``, as a pandas frame; counts and sums with no rows become 0, except the metrics named
    in ``keep_missing`` (a variance, say, which is undefined rather than 0)."""
    import pandas as pd

    if by:
        df = t.group_by(by).aggregate(**metrics).order_by(by).to_pandas()
    else:
        df = t.aggregate(**metrics).to_pandas()
    for c in metrics:
        df[c] = pd.to_numeric(df[c]) if c in keep_missing else pd.to_numeric(df[c]).fillna(0)
    return df
