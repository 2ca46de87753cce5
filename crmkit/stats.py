"""Intervals, tests and the small-sample rule that every rate in crmkit uses.

One place for the statistics behind the numbers a manager sees, so a rate on the satisfaction
page, in the churn list and in the KPI report is computed and flagged the same way:

- :func:`wilson` — the Wilson score interval for a share k/n (Wilson 1927); good at small n and
  at shares near 0 or 1, where the textbook normal interval leaves [0, 1];
- :func:`two_proportion_test` — the pooled two-proportion z-test (is a share in one group or
  period different from another?), two-sided p-value;
- :func:`benjamini_hochberg` — false-discovery-rate adjustment when many slices are tested at
  once (alerts over every region × channel × month would otherwise fire by chance);
- :data:`MIN_N` — below this many observations a number is flagged as a small sample.

Plain numpy / math on counts: the counting is done in the database (Ibis), the arithmetic on
the few aggregated rows here.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field

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


@dataclass(frozen=True)
class Rate:
    """A share with everything needed to show it honestly (口径 travels with the number).

    ``definition`` holds the zh / en wording of numerator and denominator; ``window`` and
    ``filters`` say over what it was counted.
    """

    key: str
    numerator: int
    denominator: int
    definition: dict[str, str] = field(default_factory=dict)
    window: str = ""
    filters: str = ""
    min_n: int = MIN_N

    @property
    def value(self) -> float:
        return self.numerator / self.denominator if self.denominator else math.nan

    @property
    def interval(self) -> tuple[float, float]:
        _, lo, hi = wilson(self.numerator, self.denominator)
        return lo, hi

    @property
    def n(self) -> int:
        return self.denominator

    @property
    def small_sample(self) -> bool:
        return self.denominator < self.min_n

    def as_dict(self) -> dict[str, object]:
        lo, hi = self.interval
        return {
            **asdict(self),
            "value": self.value,
            "n": self.n,
            "lo": lo,
            "hi": hi,
            "method": "Wilson 95 %",
            "small_sample": self.small_sample,
        }


def rate_columns(df, k: str, n: str, *, min_n: int = MIN_N, prefix: str = ""):  # noqa: ANN001, ANN201
    """Add ``rate``, ``lo``, ``hi``, ``small_sample`` columns to a frame of counts (a copy)."""
    out = df.copy()
    p, lo, hi = wilson(out[k].to_numpy(), out[n].to_numpy())
    out[f"{prefix}rate"] = p
    out[f"{prefix}lo"] = lo
    out[f"{prefix}hi"] = hi
    out[f"{prefix}small_sample"] = out[n].to_numpy() < min_n
    return out
