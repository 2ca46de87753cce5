"""Intervals, tests and the small-sample rule that every rate in crmkit uses.

One place for the statistics behind the numbers a manager sees, so a rate on the satisfaction
page, in the churn list and in the KPI report is computed and flagged the same way:

- :func:`wilson` — the Wilson score interval for a share k/n (Wilson 1927); good at small n and
  at shares near 0 or 1, where the textbook normal interval leaves [0, 1];
- :func:`two_proportion_test` — the pooled two-proportion z-test (is a share in one group or
  period different from another?), two-sided p-value;
- :func:`benjamini_hochberg` — false-discovery-rate adjustment when many slices are tested at
  once (alerts over every region × channel × month would otherwise fire by chance);
- :data:`MIN_N` — below this many observations a number is flagged as a small sample;
- :class:`Metric` — the one shape of a number that leaves an analysis (value, numerator,
  denominator, n, interval, small-sample flag, method, window and its 口径), and
  :func:`metric_frame` for many of them.

Plain numpy / math on counts: the counting is done in the database (Ibis), the arithmetic on
the few aggregated rows here.
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
