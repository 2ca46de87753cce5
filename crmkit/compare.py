"""Two periods side by side: each KPI in period a and in period b, the difference b − a, its
95 % interval and whether it is significant (year over year, or any two periods).

Each KPI is computed by :func:`crmkit.kpi.compute_all` — the same value, n and interval the
overview page and the report show — once per period; this module adds only the difference:

- **rates** (retention, churn, conversions, return rate, CSAT, SLA, repurchase, referral):
  the difference of two shares with Newcombe's hybrid score interval
  (:func:`crmkit.stats.newcombe_interval`) from each period's numerator and denominator;
- **means and scores** (average order value, CLV, NPS): Welch's interval
  (:func:`crmkit.stats.welch_interval`), each period's standard error read back from its own
  95 % interval (half-width / 1.96 for a normal interval, / t(n − 1) for a Student-t one;
  the larger half when the interval was clipped at a bound, as NPS's is at ±100);
- **counts** (new customers) have no per-unit basis: the difference is given, no interval.

The two periods are treated as independent samples. Periods close together share customers
(a customer in 2024-Q1's retention may be in 2025-Q1's); for the usual positive correlation
between the two, ignoring it makes the interval wider than it need be, not narrower.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import ibis.expr.types as ir
import pandas as pd
from ibis.backends import BaseBackend

from crmkit import cubes, db, kpi, stats
from crmkit.i18n import check_lang, reason_text
from crmkit.periods import Period, parse_period

#: The columns of :func:`compare_periods`, in order.
COLUMNS = (
    "key",
    "name",
    "unit",
    "higher_is_better",
    "period_a",
    "period_b",
    "value_a",
    "value_b",
    "n_a",
    "n_b",
    "lo_a",
    "hi_a",
    "lo_b",
    "hi_b",
    "difference",
    "lo",
    "hi",
    "significant",
    "method",
    "note",
)
#: Interval methods read back as value ± 1.96 standard errors ("": a score whose module gave
#: the interval without naming it, NPS's variance formula).
_NORMAL = ("normal 95 %", "")
_STUDENT = "Student-t 95 %"


def customer_scope(con: BaseBackend, filters: object) -> ir.Table | None:
    """The customers matching the filter bar's dimensions (province, city, owner team,
    segment), as :func:`crmkit.views.base.customers_in_scope` has them; None for all.

    Parameters
    ----------
    filters : mapping or object, optional
        ``{"province": "广东", "segment": "important_value"}``, or anything with those
        attributes (``crmkit.views.Filters``; its period must be ``"all"``: the periods
        compared are ``a`` and ``b``).

    Raises
    ------
    ValueError
        An unknown dimension; a period preset; a segment filter without a ``classification``
        table (segments are the published classes: use a snapshot).
    """
    if filters is None:
        return None
    if isinstance(filters, Mapping):
        unknown = sorted(set(filters) - set(cubes.DIMENSIONS))
        if unknown:
            raise ValueError(
                f"unknown filter {', '.join(unknown)}; expected {', '.join(cubes.DIMENSIONS)}"
            )
        values = dict(filters)
    else:
        if getattr(filters, "period", "all") != "all":
            raise ValueError(
                f"filters.period is {filters.period!r}: compare_periods compares periods a and "
                "b, leave the filter bar's period at 'all'"
            )
        values = {d: getattr(filters, d, None) for d in cubes.DIMENSIONS}
    values = {k: v for k, v in values.items() if v}
    if not values:
        return None
    if "segment" in values:
        if "classification" not in con.list_tables():
            raise ValueError(
                "a segment filter needs the published classification: open a snapshot "
                "(crmkit publish), or filter by province, city or owner team"
            )
        c = cubes.scope_dims(con)
    else:
        c = con.table("customers")
    return c.filter(*[c[k] == v for k, v in values.items()]).select("customer_id", "customer_sk")


def _standard_error(kv: kpi.KPIValue) -> float | None:
    """A mean's or score's standard error, from its 95 % interval (None without one)."""
    if kv.lo is None or kv.hi is None or not kv.n or kv.n < 2:
        return None
    half = max(kv.value - kv.lo, kv.hi - kv.value)
    if kv.method in _NORMAL:
        return half / stats.Z95
    if kv.method == _STUDENT:
        from scipy.stats import t as student_t

        return half / float(student_t.ppf(0.975, kv.n - 1))
    return None


def _binomial(kv: kpi.KPIValue) -> bool:
    """A share with its Wilson interval: k of n, 0 <= k <= n."""
    k, n = kv.numerator, kv.denominator
    if not kv.method.startswith("Wilson") or k is None or n is None:
        return False
    return n > 0 and 0 <= k <= n


def difference(unit: str, a: kpi.KPIValue, b: kpi.KPIValue) -> dict[str, Any]:
    """``difference`` (b − a), its interval ``lo`` / ``hi``, ``significant`` (the interval
    leaves out 0), the ``method`` and a ``note`` when there is no interval, for one KPI of
    ``unit`` ("rate", "money", "score", "count") computed in two periods.

    Examples
    --------
    >>> from crmkit import stats
    >>> def kv(k, n):
    ...     return kpi.KPIValue(stats.Metric.rate("x", k, n), "x", "rate", True, "", None, None)
    >>> d = difference("rate", kv(8, 10), kv(5, 10))
    >>> round(d["difference"], 2), round(d["lo"], 4), round(d["hi"], 4), d["significant"]
    (-0.3, -0.5999, 0.1067, False)
    """
    out: dict[str, Any] = dict.fromkeys(("difference", "lo", "hi", "significant"))
    out |= {"method": "", "note": ""}
    for kv in (a, b):
        if not kv.available:
            return out | {"note": f"{kv.period}: {reason_text(kv.reason, 'en')}"}
        if kv.value is None:
            return out | {"note": f"{kv.period}: nothing to count in the period"}
    out["difference"] = b.value - a.value
    if unit == "count":
        return out | {"note": "a count: no per-unit basis for an interval"}
    if unit == "rate":
        if not (_binomial(a) and _binomial(b)):
            return out | {
                "note": "no binomial basis in a period (numerator above denominator: returning "
                "customers), so no interval"
            }
        d, lo, hi = stats.newcombe_interval(
            int(a.numerator), int(a.denominator), int(b.numerator), int(b.denominator)
        )
        method = "Newcombe hybrid score 95 %"
    else:
        se_a, se_b = _standard_error(a), _standard_error(b)
        if se_a is None or se_b is None:
            return out | {"note": "no standard error in a period (n < 2 or no interval)"}
        d, lo, hi, _ = stats.welch_interval(a.value, se_a, a.n, b.value, se_b, b.n)
        method = "Welch t 95 %"
    significant = not (lo <= 0 <= hi)
    return out | {"difference": d, "lo": lo, "hi": hi, "significant": significant, "method": method}


def compare_periods(
    con: BaseBackend,
    kpis: str | Iterable[str] | None,
    a: Period | str,
    b: Period | str,
    *,
    filters: object = None,
    lang: str = "zh",
) -> pd.DataFrame:
    """Each KPI in period ``a`` and period ``b``, the difference b − a with its 95 % interval,
    and whether it is significant.

    Parameters
    ----------
    con : ibis backend
        The warehouse or a published snapshot (which answers from its stored KPI values for
        its precomputed periods when no filter is set).
    kpis : str or iterable of str or None
        Keys of :data:`crmkit.kpi.REGISTRY` (``"retention_rate"``, ``["nps", "csat"]``);
        None for every KPI.
    a, b : Period or str
        ``"2024-Q1"``, ``"2025-03"``, ``"2024"`` or a :class:`crmkit.periods.Period`; b is
        compared with a (difference = b − a).
    filters : mapping or object, optional
        The customers compared (:func:`customer_scope`): ``{"province": "广东"}`` or a
        ``crmkit.views.Filters``; default all.
    lang : {"zh", "en"}
        The language of ``name``.

    Returns
    -------
    pandas.DataFrame
        One row per KPI, :data:`COLUMNS`: ``key``, ``name``, ``unit``,
        ``higher_is_better``, both periods' labels, ``value``, ``n`` and interval (``lo`` /
        ``hi``) as :func:`crmkit.kpi.compute_all` gives them (suffix ``_a`` / ``_b``), then
        ``difference``, its ``lo`` / ``hi``, ``significant`` (the interval leaves out 0),
        ``method`` and a ``note`` saying why a row has no interval (a count, a KPI not
        available in a period with its reason, no observations).

    Raises
    ------
    ValueError
        An unknown KPI (naming the known ones), a period that does not parse, a bad filter.

    Examples
    --------
    One customer: orders of ¥10 and ¥30 in 2024-Q2, ¥50 in 2024-Q3; average order value 20
    then 50, +30, with no interval (a mean of one order has no standard error):

    >>> from crmkit import db
    >>> con = db.connect(":memory:", read_only=False)
    >>> db.create_schema(con)
    >>> con.insert("orders", pd.DataFrame({"order_id": ["O1", "O2", "O3"],
    ...     "customer_sk": [1, 1, 1], "customer_id": ["C1"] * 3,
    ...     "order_ts": pd.to_datetime(["2024-04-02", "2024-05-03", "2024-08-01"]),
    ...     "amount": [10.0, 30.0, 50.0], "status": ["completed"] * 3}))
    >>> f = compare_periods(con, "avg_order_value", "2024-Q2", "2024-Q3")
    >>> f[["value_a", "value_b", "difference", "significant"]].values.tolist()
    [[20.0, 50.0, 30.0, None]]
    """
    check_lang(lang)
    keys = [kpis] if isinstance(kpis, str) else list(kpis or kpi.REGISTRY)
    for key in keys:
        kpi.kpi(key)
    pa, pb = parse_period(a), parse_period(b)
    scope = customer_scope(con, filters)
    as_of = db.data_as_of(con)
    rows = []
    values = [
        kpi.compute_all(con, p, keys=keys, customers=scope, as_of=as_of, lang=lang)
        for p in (pa, pb)
    ]
    for ka, kb in zip(*values, strict=True):
        k = kpi.REGISTRY[ka.key]
        rows.append(
            {
                "key": ka.key,
                "name": ka.name,
                "unit": k.unit,
                "higher_is_better": k.higher_is_better,
                "period_a": pa.label,
                "period_b": pb.label,
                **{f"{c}_a": getattr(ka, c) for c in ("value", "n", "lo", "hi")},
                **{f"{c}_b": getattr(kb, c) for c in ("value", "n", "lo", "hi")},
                **difference(k.unit, ka, kb),
            }
        )
    df = pd.DataFrame(rows, columns=list(COLUMNS))
    # True / False / None (no interval), never a numpy bool
    df["significant"] = pd.Series([r["significant"] for r in rows], dtype=object)
    return df


__all__ = ["COLUMNS", "compare_periods", "customer_scope", "difference"]
