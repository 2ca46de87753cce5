"""Satisfaction monitoring (step 5 客户满意度监测): scores, why, alerts.

Complaint handling (step 6, the first-response SLA, backlog and service quality) is
:mod:`crmkit.complaints`; the SLA-breach rule itself is :func:`crmkit.definitions.sla_flags`.

Scores
------
- **NPS** (净推荐值) on the 0–10 "would you recommend" answer: share of promoters (9–10) minus
  share of detractors (0–6), in points from −100 to +100. 95 % interval by the variance formula
  for the mean of a score that is +1 (promoter), 0 (passive) or −1 (detractor):
  ``var = (p₊ + p₋ − (p₊ − p₋)²) / n``, NPS ± 1.96·√var, clipped to [−100, 100].
- **CSAT** (满意度) on 1–5: share of 4–5 answers; Wilson 95 % interval
  (:func:`crmkit.stats.wilson`).
- **CES** (费力度) on 1–7 (1 = very easy … 7 = very hard, lower is better): the mean; 95 %
  Student-t interval, mean ± t₀.₉₇₅,ₙ₋₁ · s/√n.

Every score counts only the responses that answered that question (a survey may answer NPS but
not CES: it counts for NPS only). Every frame comes back with ``value, numerator, denominator,
n, lo, hi, small_sample`` per row and its definition (口径: numerator, denominator, window,
filters, method, minimum n) in ``frame.attrs["definition"]``; ``small_sample`` is ``n < min_n``
(default :data:`crmkit.stats.MIN_N`).

These are plain functions over Ibis tables so that other modules (the KPI registry) can call
them for a period ``[start, end)`` over a set of customers::

    nps(feedback, by="segment", start=..., end=..., customers=some_customers)
    csat(feedback, ...)
    ces(feedback, ...)

Why satisfied or not (满意和不满意的原因)
--------------------------------------
:func:`key_drivers` fits an OLS regression (statsmodels, heteroscedasticity-robust HC3
standard errors) of the NPS answer (0–10) on what happened to the customer — the order was
delivered late, was returned, the customer raised a ticket in the 30 days before, one of those
tickets missed the first-response SLA (:func:`crmkit.definitions.sla_flags` with the company's
policy), the product category and the order channel — and a logit of being a detractor (0–6)
on the same features (average marginal effects of each 0 → 1 change, robust HC1, delta-method
intervals). Effects are differences in NPS points (or in the detractor share) with 95 %
intervals, other features held equal.

Alerts
------
:func:`score_alerts` compares every slice's last ``window_days`` against its own preceding
``history_days``: the detractor share and the CSAT share with the pooled two-proportion z-test
(:func:`crmkit.stats.two_proportion_test`), the CES mean with Welch's t-test; only slices with at
least ``min_n`` responses in both windows are tested, and the p-values of all tests are adjusted
together with Benjamini–Hochberg (:func:`crmkit.stats.benjamini_hochberg`). A drop is an alert
when its adjusted p-value is below ``alpha``; its likely drivers are the driver features whose
prevalence changed most in the direction that lowers NPS (change × effect).

The heavy parts (the regression, the alerts) run in the ``satisfaction`` publish step, which
writes small tables into the snapshot; dashboards read those plus cheap aggregates.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

import ibis
import ibis.expr.types as ir
import numpy as np
import pandas as pd
from ibis.backends import BaseBackend

from crmkit import db, definitions, i18n, schema, stats
from crmkit.config import Config
from crmkit.i18n import channel_label

MIN_N = stats.MIN_N
#: A response's slice when it has no value for a dimension (no order, no product, no segment).
NONE = "(none)"
#: Segment of customers without a counted purchase (as on the classification page).
POTENTIAL = definitions.POTENTIAL
#: Dimensions the scores are reported by (responses from :func:`responses`).
SCORE_DIMENSIONS = (
    "period",
    "province",
    "segment",
    "channel",
    "product_id",
    "category",
    "owner_team",
)
PERIOD_FREQS = {"week": "W", "month": "M", "quarter": "Q", "year": "Y"}

DEFINITIONS: dict[str, dict[str, str]] = {
    "nps": {
        "numerator": "promoters (9-10) - detractors (0-6)",
        "denominator": "responses with an NPS answer (0-10)",
        "unit": "points, -100..100",
        "method": "normal interval, var = (p+ + p- - (p+ - p-)^2) / n",
        "zh": "NPS = (推荐者9–10分 − 贬损者0–6分) / 有NPS评分的反馈数 × 100",
        "en": "NPS = (promoters 9-10 - detractors 0-6) / responses with an NPS answer x 100",
    },
    "csat": {
        "numerator": "responses with CSAT 4-5",
        "denominator": "responses with a CSAT answer (1-5)",
        "unit": "share, 0..1",
        "method": "Wilson 95 %",
        "zh": "CSAT = 满意度4–5分的反馈数 / 有满意度评分的反馈数",
        "en": "CSAT = responses scoring 4-5 / responses with a CSAT answer",
    },
    "ces": {
        "numerator": "sum of CES answers",
        "denominator": "responses with a CES answer (1-7, lower = easier)",
        "unit": "mean, 1..7",
        "method": "Student-t 95 %",
        "zh": "CES = 费力度评分(1–7, 越低越省力)的平均值",
        "en": "CES = mean effort score (1-7, lower = easier)",
    },
}


def definition(
    metric: str,
    *,
    start: datetime | None = None,
    end: datetime | None = None,
    filters: str = "",
    min_n: int = MIN_N,
    **extra: object,
) -> dict[str, object]:
    """The definition (口径) of ``metric`` ("nps", "csat", "ces") for a window.

    Examples
    --------
    >>> d = definition("csat", start=datetime(2026, 1, 1), end=datetime(2026, 4, 1))
    >>> d["window"], d["method"]
    ('[2026-01-01 00:00:00, 2026-04-01 00:00:00)', 'Wilson 95 %')
    """
    if metric not in DEFINITIONS:
        raise ValueError(f"unknown metric {metric!r}; expected one of {list(DEFINITIONS)}")
    window = f"[{start or '-inf'}, {end or '+inf'})" if (start or end) else "all time"
    return {
        "metric": metric,
        **DEFINITIONS[metric],
        "window": window,
        "filters": filters,
        "min_n": min_n,
        **extra,
    }


# ---------------------------------------------------------------------------------------------
# Scoping
# ---------------------------------------------------------------------------------------------


def with_period(t: ir.Table, freq: str = "month", *, time_column: str = "ts") -> ir.Table:
    """Add ``period`` (the start of the week / month / quarter / year of ``time_column``)."""
    if freq not in PERIOD_FREQS:
        raise ValueError(f"unknown period {freq!r}; expected one of {list(PERIOD_FREQS)}")
    return t.mutate(period=t[time_column].truncate(PERIOD_FREQS[freq]))


def _scope(
    t: ir.Table,
    time_column: str,
    start: datetime | None,
    end: datetime | None,
    customers: ir.Table | None,
) -> ir.Table:
    if start is not None and end is not None and start >= end:
        raise ValueError(f"empty window: start {start} must be before end {end}")
    if start is not None:
        t = t.filter(t[time_column] >= start)
    if end is not None:
        t = t.filter(t[time_column] < end)
    if customers is not None:
        schema.require_columns(customers, ["customer_id"], "customers")
        t = t.semi_join(customers, "customer_id")
    return t


def _grouped(t: ir.Table, by: list[str], freq: str, time_column: str) -> ir.Table:
    if "period" in by and "period" not in t.columns:
        t = with_period(t, freq, time_column=time_column)
    schema.require_columns(t, by, "by")
    return t


# ---------------------------------------------------------------------------------------------
# Scores
# ---------------------------------------------------------------------------------------------


def nps_interval(promoters, detractors, n, z: float = stats.Z95):  # noqa: ANN001, ANN201
    """NPS (points) and its 95 % interval from counts, by the variance formula.

    Each answer scores +1 (promoter), 0 or −1 (detractor); NPS is 100 × their mean and
    ``var = (p₊ + p₋ − (p₊ − p₋)²) / n`` the variance of that mean.

    Examples
    --------
    5 promoters, 2 passives, 3 detractors of 10: p₊ = 0.5, p₋ = 0.3, NPS = 20;
    var = (0.8 − 0.04) / 10 = 0.076, half-width = 1.96 · 0.27568 = 0.54033:

    >>> v, lo, hi = nps_interval(5, 3, 10)
    >>> round(v, 1), round(lo, 2), round(hi, 2)
    (20.0, -34.03, 74.03)
    """
    scalar = all(np.isscalar(x) for x in (promoters, detractors, n))
    pp, pd_, nn = (np.asarray(x, dtype=float) for x in (promoters, detractors, n))
    with np.errstate(divide="ignore", invalid="ignore"):
        p_plus, p_minus = pp / nn, pd_ / nn
        value = np.where(nn > 0, p_plus - p_minus, np.nan)
        var = (p_plus + p_minus - (p_plus - p_minus) ** 2) / nn
        half = z * np.sqrt(np.maximum(var, 0))
        lo = np.where(nn > 0, np.clip(value - half, -1, 1), np.nan)
        hi = np.where(nn > 0, np.clip(value + half, -1, 1), np.nan)
    out = (100 * value, 100 * lo, 100 * hi)
    return tuple(float(x) for x in out) if scalar else out


def mean_interval(mean, var, n, level: float = 0.95):  # noqa: ANN001, ANN201
    """Student-t interval for a mean from (mean, sample variance, n); NaN where n < 2.

    Examples
    --------
    Answers 2, 4, 6: mean 4, s² = 4, t₀.₉₇₅,₂ = 4.3027, half-width = 4.3027 · 2/√3 = 4.9683:

    >>> lo, hi = mean_interval(4.0, 4.0, 3)
    >>> round(lo, 4), round(hi, 4)
    (-0.9683, 8.9683)
    """
    from scipy.stats import t as student_t

    scalar = all(np.isscalar(x) for x in (mean, var, n))
    m, v, nn = (np.asarray(x, dtype=float) for x in (mean, var, n))
    with np.errstate(divide="ignore", invalid="ignore"):
        q = student_t.ppf(0.5 + level / 2, np.where(nn >= 2, nn - 1, np.nan))
        half = q * np.sqrt(v / nn)
        lo = np.where(nn >= 2, m - half, np.nan)
        hi = np.where(nn >= 2, m + half, np.nan)
    return (float(lo), float(hi)) if scalar else (lo, hi)


def _score_frame(df: pd.DataFrame, metric: str, min_n: int, dfn: dict) -> pd.DataFrame:
    df.insert(0, "metric", metric)
    df["small_sample"] = df["n"].to_numpy() < min_n
    df["method"] = DEFINITIONS[metric]["method"]
    df.attrs["definition"] = dfn
    return df


def nps(
    feedback: ir.Table,
    by: str | Sequence[str] | None = None,
    *,
    start: datetime | None = None,
    end: datetime | None = None,
    customers: ir.Table | None = None,
    freq: str = "month",
    min_n: int = MIN_N,
    filters: str = "",
) -> pd.DataFrame:
    """Net Promoter Score (净推荐值) with its interval, n and definition.

    Parameters
    ----------
    feedback : ibis Table
        With ``nps`` (0–10, NULL when not answered), ``ts`` and, for ``customers``,
        ``customer_id``; plus the ``by`` columns (see :func:`responses` for region, segment,
        channel, product and owner team). ``"period"`` is added from ``ts`` by ``freq``.
    by : str or list of str, optional
        Slice by these columns; none: one row.
    start, end : datetime, optional
        The window ``[start, end)`` on ``ts``.
    customers : ibis Table, optional
        Only responses of these customers (``customer_id``).
    min_n : int
        Rows with fewer answers are flagged ``small_sample``.

    Returns
    -------
    pandas.DataFrame
        ``metric, <by>, value`` (points, −100…100), ``numerator`` (promoters − detractors),
        ``denominator`` (= ``n``, answers), ``n, lo, hi, promoters, passives, detractors,
        small_sample, method``; ``attrs["definition"]`` holds the 口径.

    Examples
    --------
    >>> fb = ibis.memtable({"ts": [datetime(2026, 1, d) for d in range(1, 6)],
    ...                     "nps": [10, 9, 7, 3, None]})
    >>> r = nps(fb).iloc[0]
    >>> float(r.value), int(r.n), int(r.numerator)
    (25.0, 4, 1)
    """
    by = schema.as_list(by)
    schema.require_columns(feedback, ["nps", "ts"], "nps: feedback")
    t = _grouped(_scope(feedback, "ts", start, end, customers), by, freq, "ts")
    s = t.nps
    df = stats.aggregate(
        t,
        by,
        n=s.notnull().cast("int64").sum(),
        promoters=(s >= 9).cast("int64").sum(),
        detractors=(s <= 6).cast("int64").sum(),
    )
    df = df[df.n > 0].reset_index(drop=True) if by else df
    df = df.astype({"n": "int64", "promoters": "int64", "detractors": "int64"})
    value, lo, hi = nps_interval(df.promoters.to_numpy(), df.detractors.to_numpy(), df.n.to_numpy())
    df["passives"] = df.n - df.promoters - df.detractors
    df["value"], df["lo"], df["hi"] = value, lo, hi
    df["numerator"] = df.promoters - df.detractors
    df["denominator"] = df.n
    cols = [
        *by,
        "value",
        "numerator",
        "denominator",
        "n",
        "lo",
        "hi",
        "promoters",
        "passives",
        "detractors",
    ]
    dfn = definition("nps", start=start, end=end, filters=filters, min_n=min_n)
    return _score_frame(df[cols], "nps", min_n, dfn)


def csat(
    feedback: ir.Table,
    by: str | Sequence[str] | None = None,
    *,
    start: datetime | None = None,
    end: datetime | None = None,
    customers: ir.Table | None = None,
    freq: str = "month",
    min_n: int = MIN_N,
    filters: str = "",
) -> pd.DataFrame:
    """Customer satisfaction (满意度, CSAT): share of 4–5 answers on 1–5, Wilson interval.

    Parameters
    ----------
    feedback : ibis Table
        With ``csat`` (1–5, NULL when not answered), ``ts`` and, for ``customers``,
        ``customer_id``; plus the ``by`` columns (see :func:`responses`). ``"period"`` is
        added from ``ts`` by ``freq``.
    by : str or list of str, optional
        Slice by these columns; none: one row.
    start, end : datetime, optional
        The window ``[start, end)`` on ``ts``.
    customers : ibis Table, optional
        Only responses of these customers (``customer_id``).
    freq : {"week", "month", "quarter", "year"}
        The length of ``"period"`` when ``by`` holds it.
    min_n : int
        Rows with fewer answers are flagged ``small_sample``.
    filters : str
        The filters in words, for the definition (口径).

    Returns
    -------
    pandas.DataFrame
        ``metric, <by>, value`` (share 0–1), ``numerator`` (4–5 answers), ``denominator``
        (= ``n``, answers), ``n, lo, hi, small_sample, method``; ``attrs["definition"]``
        holds the 口径.

    Examples
    --------
    >>> fb = ibis.memtable({"ts": [datetime(2026, 1, d) for d in range(1, 5)],
    ...                     "csat": [5, 4, 2, None]})
    >>> r = csat(fb).iloc[0]
    >>> round(float(r.value), 4), int(r.numerator), int(r.n)
    (0.6667, 2, 3)
    """
    by = schema.as_list(by)
    schema.require_columns(feedback, ["csat", "ts"], "csat: feedback")
    t = _grouped(_scope(feedback, "ts", start, end, customers), by, freq, "ts")
    s = t.csat
    df = stats.aggregate(
        t, by, n=s.notnull().cast("int64").sum(), numerator=(s >= 4).cast("int64").sum()
    )
    df = df[df.n > 0].reset_index(drop=True) if by else df
    df = df.astype({"n": "int64", "numerator": "int64"})
    df["value"], df["lo"], df["hi"] = stats.wilson(df.numerator.to_numpy(), df.n.to_numpy())
    df["denominator"] = df.n
    cols = [*by, "value", "numerator", "denominator", "n", "lo", "hi"]
    dfn = definition("csat", start=start, end=end, filters=filters, min_n=min_n)
    return _score_frame(df[cols], "csat", min_n, dfn)


def ces(
    feedback: ir.Table,
    by: str | Sequence[str] | None = None,
    *,
    start: datetime | None = None,
    end: datetime | None = None,
    customers: ir.Table | None = None,
    freq: str = "month",
    min_n: int = MIN_N,
    filters: str = "",
) -> pd.DataFrame:
    """Customer effort score (费力度, CES): mean of 1–7 (lower = easier), Student-t interval.

    Parameters
    ----------
    feedback : ibis Table
        With ``ces`` (1–7, NULL when not answered), ``ts`` and, for ``customers``,
        ``customer_id``; plus the ``by`` columns (see :func:`responses`). ``"period"`` is
        added from ``ts`` by ``freq``.
    by : str or list of str, optional
        Slice by these columns; none: one row.
    start, end : datetime, optional
        The window ``[start, end)`` on ``ts``.
    customers : ibis Table, optional
        Only responses of these customers (``customer_id``).
    freq : {"week", "month", "quarter", "year"}
        The length of ``"period"`` when ``by`` holds it.
    min_n : int
        Rows with fewer answers are flagged ``small_sample`` (the interval needs n ≥ 2).
    filters : str
        The filters in words, for the definition (口径).

    Returns
    -------
    pandas.DataFrame
        ``metric, <by>, value`` (mean), ``numerator`` (sum of answers), ``denominator``
        (= ``n``), ``n, lo, hi, sd, small_sample, method``; ``attrs["definition"]`` holds the
        口径.

    Examples
    --------
    >>> fb = ibis.memtable({"ts": [datetime(2026, 1, d) for d in range(1, 5)],
    ...                     "ces": [2, 4, 6, None]})
    >>> r = ces(fb).iloc[0]
    >>> float(r.value), int(r.n), round(float(r.lo), 4)
    (4.0, 3, -0.9683)
    """
    by = schema.as_list(by)
    schema.require_columns(feedback, ["ces", "ts"], "ces: feedback")
    t = _grouped(_scope(feedback, "ts", start, end, customers), by, freq, "ts")
    s = t.ces.cast("float64")
    df = stats.aggregate(
        t,
        by,
        keep_missing=("var",),
        n=s.notnull().cast("int64").sum(),
        numerator=s.sum(),
        var=s.var(how="sample"),
    )
    df = df[df.n > 0].reset_index(drop=True) if by else df
    df = df.astype({"n": "int64"})
    with np.errstate(divide="ignore", invalid="ignore"):
        df["value"] = np.where(df.n > 0, df.numerator / df.n, np.nan)
    df["lo"], df["hi"] = mean_interval(df.value.to_numpy(), df["var"].to_numpy(), df.n.to_numpy())
    df["sd"] = np.sqrt(df["var"])
    df["denominator"] = df.n
    cols = [*by, "value", "numerator", "denominator", "n", "lo", "hi", "sd"]
    dfn = definition("ces", start=start, end=end, filters=filters, min_n=min_n)
    return _score_frame(df[cols], "ces", min_n, dfn)


def scores(
    feedback: ir.Table, by: str | Sequence[str] | None = None, **kwargs: object
) -> pd.DataFrame:
    """NPS, CSAT and CES stacked (long form, ``metric`` column); ``attrs["definitions"]`` maps
    each metric to its definition. Keyword arguments as for :func:`nps`."""
    parts = [fn(feedback, by, **kwargs) for fn in (nps, csat, ces)]
    out = pd.concat(parts, ignore_index=True)
    out.attrs["definitions"] = {
        p.attrs["definition"]["metric"]: p.attrs["definition"] for p in parts
    }
    return out


# ---------------------------------------------------------------------------------------------
# Responses with what happened to the customer
# ---------------------------------------------------------------------------------------------

#: Driver features: code -> (zh, en). Binary (0/1) so that effects compare directly.
DRIVER_FEATURES: dict[str, tuple[str, str]] = {
    "late": ("订单延迟送达", "order delivered late"),
    "returned": ("订单退货", "order returned"),
    "ticket_30d": ("前30天内提交过工单", "raised a ticket in the 30 days before"),
    "slow_response": ("工单首次响应超时", "a ticket's first response missed the SLA"),
}
TICKET_LOOKBACK_DAYS = 30


def responses(
    con: BaseBackend,
    *,
    as_of: datetime | None = None,
    policy: definitions.SlaPolicy | None = None,
    config: Config | None = None,
) -> ir.Table:
    """Feedback with a score, joined to what the analyses slice and explain it by.

    One row per feedback with at least one of NPS / CSAT / CES. Columns: ``feedback_id,
    customer_id, ts, source, nps, csat, ces, product_id`` and

    - ``province, city, owner_team`` (from customers), ``segment`` (the published
      ``classification.rfm_class``, ``potential`` without a counted purchase; ``(none)`` when
      the warehouse has no classification table);
    - ``channel`` (the order's channel; ``(none)`` when the response is not about an order),
      ``category`` (the product's category, ``(none)`` without a product);
    - the driver features (0/1): ``late`` (``delivered_at::date > promised_date``),
      ``returned`` (order status returned), ``ticket_30d`` (the customer opened a ticket in the
      30 days before the response), ``slow_response`` (one of those tickets missed the
      first-response SLA, as of ``as_of``: :func:`crmkit.definitions.sla_flags` with ``policy``,
      default the settings' :func:`crmkit.definitions.sla_policy` of ``config``).
    """
    as_of = as_of or db.data_as_of(con)
    fb = con.table("feedback")
    fb = fb.filter(fb.nps.notnull() | fb.csat.notnull() | fb.ces.notnull())
    fb = fb.select(
        "feedback_id", "customer_id", "ts", "source", "nps", "csat", "ces", "order_id", "product_id"
    )
    c = con.table("customers").select("customer_id", "province", "city", "owner_team")
    o = con.table("orders")
    o = o.select(
        "order_id",
        order_product=o.product_id,
        channel=o.channel,
        late=ibis.ifelse(
            o.delivered_at.notnull() & (o.delivered_at.date() > o.promised_date), 1, 0
        ),
        returned=ibis.ifelse(o.status == "returned", 1, 0),
    )
    p = con.table("products").select("product_id", category=ibis._.category)
    t = fb.left_join(c, "customer_id").select(fb, c.province, c.city, c.owner_team)
    t = t.left_join(o, "order_id").select(t, o.order_product, o.channel, o.late, o.returned)
    t = t.mutate(product_id=t.product_id.fill_null(t.order_product)).drop("order_product")
    t = t.left_join(p, "product_id").select(t, p.category)
    if "classification" in con.list_tables():
        seg = con.table("classification").select(
            "customer_id", segment=ibis._.rfm_class.fill_null(POTENTIAL)
        )
        t = t.left_join(seg, "customer_id").select(t, seg.segment)
    else:
        t = t.mutate(segment=ibis.literal(None, "string"))
    policy = policy or definitions.sla_policy(config)
    sla = definitions.sla_flags(con.table("tickets"), as_of=as_of, policy=policy)
    pairs = t.select("feedback_id", "customer_id", "ts").join(
        sla.select("customer_id", "opened_at", "breached"),
        [
            "customer_id",
            sla.opened_at < t.ts,
            sla.opened_at >= t.ts - ibis.interval(days=TICKET_LOOKBACK_DAYS),
        ],
    )
    tk = pairs.group_by("feedback_id").aggregate(
        ticket_30d=ibis.literal(1), slow_response=pairs.breached.cast("int64").max()
    )
    t = t.left_join(tk, "feedback_id").select(t, tk.ticket_30d, tk.slow_response)
    return t.select(
        "feedback_id",
        "customer_id",
        "ts",
        "source",
        "nps",
        "csat",
        "ces",
        "product_id",
        province=t.province.fill_null(NONE),
        city=t.city.fill_null(NONE),
        owner_team=t.owner_team.fill_null(NONE),
        segment=t.segment.fill_null(NONE),
        channel=t.channel.fill_null(NONE),
        category=t.category.fill_null(NONE),
        late=t.late.fill_null(0).cast("int8"),
        returned=t.returned.fill_null(0).cast("int8"),
        ticket_30d=t.ticket_30d.fill_null(0).cast("int8"),
        slow_response=t.slow_response.fill_null(0).cast("int8"),
    )


# ---------------------------------------------------------------------------------------------
# Key drivers
# ---------------------------------------------------------------------------------------------


def _design(df: pd.DataFrame) -> tuple[pd.DataFrame, dict[str, tuple[str, str, str]]]:
    """The 0/1 design matrix: driver features, then category and channel levels against the
    most common level among responses about an order (responses without an order get the
    ``(none)`` channel level; its coefficient is the relationship-survey difference)."""
    cols: dict[str, np.ndarray] = {}
    meta: dict[str, tuple[str, str, str]] = {}
    for f in DRIVER_FEATURES:
        x = df[f].to_numpy(dtype=float)
        if 0 < x.sum() < len(x):
            cols[f] = x
            meta[f] = ("feature", f, "")
    on_order = df.channel != NONE
    for dim in ("category", "channel"):
        levels = df.loc[on_order, dim].value_counts()
        if levels.empty:
            continue
        ref = levels.index[0]
        values = df[dim].to_numpy()
        for lev in sorted(set(values) - {ref} - ({NONE} if dim == "category" else set())):
            x = (values == lev).astype(float)
            if 0 < x.sum() < len(x):
                cols[f"{dim}={lev}"] = x
                meta[f"{dim}={lev}"] = (dim, str(lev), str(ref))
    return pd.DataFrame(cols, index=df.index), meta


def key_drivers(
    resp: pd.DataFrame | ir.Table, *, alpha: float = 0.05, min_n: int = MIN_N
) -> pd.DataFrame:
    """Key drivers of NPS (满意和不满意的原因): effects with 95 % intervals.

    Parameters
    ----------
    resp : DataFrame or ibis Table
        Responses as from :func:`responses` (``nps``, the :data:`DRIVER_FEATURES`, ``category``,
        ``channel``); rows without an NPS answer are skipped.
    alpha : float
        Level for ``significant`` (on the OLS p-value).

    Returns
    -------
    pandas.DataFrame
        One row per term, most negative NPS effect first: ``driver`` (code), ``kind``
        (feature / category / channel), ``level``, ``reference``, ``effect`` (difference in
        the mean NPS answer, 0–10 points, other terms held equal; OLS with HC3 robust SE),
        ``lo, hi, p_value``, ``detractor_effect`` (change in the share of detractors:
        average marginal effect, 0 → 1, of a logit with HC1 robust SE, delta-method
        interval) with ``detractor_lo, detractor_hi``, ``n_with`` (responses with the
        condition), ``share``,
        ``significant``, ``small_sample`` (``n_with < min_n``), ``rank`` (1 = the strongest
        driver of low NPS among significant negative effects). ``attrs``: ``n``, ``r2``,
        ``method``, ``mean_nps``.
    """
    import statsmodels.api as sm

    if isinstance(resp, ir.Table):
        resp = (
            resp.filter(resp.nps.notnull())
            .select("nps", *DRIVER_FEATURES, "category", "channel")
            .to_pandas()
        )
    df = resp[resp.nps.notna()].reset_index(drop=True)
    if len(df) < max(min_n, 10):
        raise ValueError(
            f"key_drivers: {len(df)} responses with an NPS answer; need at least "
            f"{max(min_n, 10)} to fit the driver model"
        )
    x, meta = _design(df)
    xc = sm.add_constant(x, has_constant="add")
    y = df.nps.to_numpy(dtype=float)
    ols = sm.OLS(y, xc).fit(cov_type="HC3")
    ci = ols.conf_int(0.05)
    det = (y <= 6).astype(float)
    out = pd.DataFrame(
        {
            "driver": list(x.columns),
            "kind": [meta[c][0] for c in x.columns],
            "level": [meta[c][1] for c in x.columns],
            "reference": [meta[c][2] for c in x.columns],
            "effect": ols.params[x.columns].to_numpy(),
            "lo": ci.loc[x.columns, 0].to_numpy(),
            "hi": ci.loc[x.columns, 1].to_numpy(),
            "p_value": ols.pvalues[x.columns].to_numpy(),
            "n_with": x.sum().astype("int64").to_numpy(),
        }
    )
    out["share"] = out.n_with / len(df)
    try:
        logit = sm.Logit(det, xc).fit(disp=0, cov_type="HC1", maxiter=100)
        ame, se = _binary_ame(logit.params.to_numpy(), logit.cov_params().to_numpy(), xc)
        out["detractor_effect"] = ame
        out["detractor_lo"] = ame - stats.Z95 * se
        out["detractor_hi"] = ame + stats.Z95 * se
    except Exception:  # separation or a singular fit: the OLS effects still stand
        out["detractor_effect"] = out["detractor_lo"] = out["detractor_hi"] = np.nan
    out["significant"] = out.p_value < alpha
    out["small_sample"] = out.n_with < min_n
    out = out.sort_values(["effect", "driver"]).reset_index(drop=True)
    neg = out.significant & (out.effect < 0)
    out["rank"] = pd.array([pd.NA] * len(out), dtype="Int64")
    out.loc[neg, "rank"] = np.arange(1, int(neg.sum()) + 1)
    out["label_zh"] = [_driver_label(r, "zh") for r in out.itertuples()]
    out["label_en"] = [_driver_label(r, "en") for r in out.itertuples()]
    out.attrs.update(
        n=len(df),
        r2=float(ols.rsquared),
        mean_nps=float(y.mean()),
        method="OLS of the NPS answer (0-10), HC3 robust SE; logit of detractor (0-6), "
        "average marginal effects, HC1 robust SE",
    )
    return out


def _binary_ame(beta: np.ndarray, cov: np.ndarray, xc: pd.DataFrame) -> tuple[np.ndarray, ...]:
    """Average marginal effects of the 0/1 terms of a logit (every column but the constant):
    the mean change in the predicted probability when the term goes from 0 to 1 for every
    response, others as observed; standard errors by the delta method. Analytic, so it stays
    fast at a million responses (statsmodels' ``get_margeff`` differentiates numerically)."""
    from scipy.special import expit

    x = xc.to_numpy(dtype=float)
    n = len(x)
    eta = x @ beta
    ame, se = [], []
    for j in range(1, x.shape[1]):
        eta1 = eta + beta[j] * (1 - x[:, j])
        eta0 = eta - beta[j] * x[:, j]
        p1, p0 = expit(eta1), expit(eta0)
        f1, f0 = p1 * (1 - p1), p0 * (1 - p0)
        grad = (x.T @ f1 - x.T @ f0) / n
        grad[j] = f1.mean()  # d/dβj of p1 is f1·1, of p0 is 0 (xj fixed at 0)
        ame.append(float((p1 - p0).mean()))
        se.append(float(np.sqrt(grad @ cov @ grad)))
    return np.asarray(ame), np.asarray(se)


def _driver_label(r, lang: str) -> str:  # noqa: ANN001
    if r.kind == "feature":
        zh, en = DRIVER_FEATURES[r.driver]
        return zh if lang == "zh" else en
    dim = {"category": ("产品类别", "category"), "channel": ("渠道", "channel")}[r.kind]

    def word(code: str) -> str:
        if code == NONE:
            return i18n.t("sat_no_order", lang)
        return channel_label(code, lang) if r.kind == "channel" else code

    level, ref = word(r.level), word(r.reference)
    if lang == "zh":
        return f"{dim[0]}: {level} (相对 {ref})"
    return f"{dim[1]}: {level} (vs {ref})"


# ---------------------------------------------------------------------------------------------
# Alerts
# ---------------------------------------------------------------------------------------------

#: Columns and types of :func:`score_alerts` (an empty result keeps them).
ALERT_COLUMNS = {
    "dimension": "string", "slice": "string", "metric": "string", "before": "float64",
    "now": "float64", "change": "float64", "n_before": "int64", "n_now": "int64",
    "test": "string", "statistic": "float64", "p_value": "float64", "q_value": "float64",
    "worse": "bool", "alert": "bool", "likely_drivers": "string",
}  # fmt: skip
#: Columns and types of :func:`key_drivers`.
DRIVER_COLUMNS = {
    "driver": "string", "kind": "string", "level": "string", "reference": "string",
    "effect": "float64", "lo": "float64", "hi": "float64", "p_value": "float64",
    "n_with": "int64", "share": "float64", "detractor_effect": "float64",
    "detractor_lo": "float64", "detractor_hi": "float64", "significant": "bool",
    "small_sample": "bool", "rank": "float64", "label_zh": "string", "label_en": "string",
}  # fmt: skip


def _empty(columns: dict[str, str]) -> pd.DataFrame:
    return pd.DataFrame({c: pd.Series([], dtype=d) for c, d in columns.items()})


ALERT_DIMENSIONS = ("overall", "province", "segment", "channel", "category", "owner_team")


def score_alerts(
    resp: ir.Table | pd.DataFrame,
    *,
    as_of: datetime,
    window_days: int = 90,
    history_days: int = 365,
    dims: Sequence[str] = ALERT_DIMENSIONS,
    min_n: int = MIN_N,
    alpha: float = 0.05,
    drivers: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Significant drops of NPS, CSAT or CES in any slice versus its own history.

    The current window is ``(as_of − window_days, as_of]``, the history the ``history_days``
    before it. Tests, per slice: NPS — detractor share (0–6) now vs before, pooled
    two-proportion z-test; CSAT — satisfied share (4–5), same test; CES — mean, Welch's t-test.
    Slices with fewer than ``min_n`` answers in either window are not tested. All p-values are
    adjusted together (Benjamini–Hochberg); ``alert`` = the score got worse and ``q < alpha``.

    Returns
    -------
    pandas.DataFrame
        One row per tested slice × metric: ``dimension, slice, metric, before, now, change``
        (NPS points / CSAT share / CES mean, now − before), ``n_before, n_now, test,
        statistic, p_value, q_value, worse, alert, likely_drivers`` (for alerts: driver
        features whose prevalence moved towards lower NPS, with the change, largest expected
        impact first). Alerts first, then by adjusted p-value.
    """
    from scipy.stats import ttest_ind_from_stats

    if isinstance(resp, pd.DataFrame):
        resp = ibis.memtable(resp)
    start_now = as_of - timedelta(days=window_days)
    start_hist = start_now - timedelta(days=history_days)
    t = resp.filter(resp.ts > start_hist, resp.ts <= as_of)
    t = t.mutate(
        _now=(t.ts > start_now).cast("int8"),
        overall=ibis.literal("all"),
        _det=(t.nps <= 6).cast("int64"),
        _prom=(t.nps >= 9).cast("int64"),
        _sat=(t.csat >= 4).cast("int64"),
        _ces=t.ces.cast("float64"),
    )
    feats = [f for f in DRIVER_FEATURES if f in t.columns]
    rows = []
    for dim in dims:
        schema.require_columns(t, [dim], "score_alerts")
        g = (
            t.group_by([t[dim].cast("string").name("slice"), "_now"])
            .aggregate(
                n_nps=t.nps.notnull().cast("int64").sum(),
                det=t._det.sum(),
                prom=t._prom.sum(),
                n_csat=t.csat.notnull().cast("int64").sum(),
                sat=t._sat.sum(),
                n_ces=t._ces.notnull().cast("int64").sum(),
                ces_mean=t._ces.mean(),
                ces_var=t._ces.var(how="sample"),
                n_all=t.count(),
                **{f"f_{f}": t[f].cast("float64").mean() for f in feats},
            )
            .to_pandas()
        )
        g["dimension"] = dim
        rows.append(g)
    g = pd.concat(rows, ignore_index=True) if rows else pd.DataFrame()
    cols = [
        "dimension",
        "slice",
        "metric",
        "before",
        "now",
        "change",
        "n_before",
        "n_now",
        "test",
        "statistic",
        "p_value",
        "q_value",
        "worse",
        "alert",
        "likely_drivers",
    ]
    if g.empty:
        return _empty(ALERT_COLUMNS)
    g = g.fillna({c: 0 for c in ("n_nps", "det", "prom", "n_csat", "sat", "n_ces")})
    wide = g.pivot_table(index=["dimension", "slice"], columns="_now", aggfunc="first")
    out = []
    effects = drivers.set_index("driver").effect.to_dict() if drivers is not None else {}
    for (dim, sl), r in wide.iterrows():

        def v(col: str, now: int, r=r) -> float:
            try:
                x = r[(col, now)]
            except KeyError:
                return float("nan")
            return float(x) if x is not None and not pd.isna(x) else float("nan")

        nb, nn = v("n_nps", 0), v("n_nps", 1)
        if nb >= min_n and nn >= min_n:
            diff, z, p = stats.two_proportion_test(v("det", 0), nb, v("det", 1), nn)
            before = 100 * (v("prom", 0) - v("det", 0)) / nb
            now = 100 * (v("prom", 1) - v("det", 1)) / nn
            out.append(
                (
                    dim,
                    sl,
                    "nps",
                    before,
                    now,
                    now - before,
                    nb,
                    nn,
                    "two-proportion z (detractor share)",
                    z,
                    p,
                    diff > 0,
                )
            )
        nb, nn = v("n_csat", 0), v("n_csat", 1)
        if nb >= min_n and nn >= min_n:
            diff, z, p = stats.two_proportion_test(v("sat", 0), nb, v("sat", 1), nn)
            out.append(
                (
                    dim,
                    sl,
                    "csat",
                    v("sat", 0) / nb,
                    v("sat", 1) / nn,
                    diff,
                    nb,
                    nn,
                    "two-proportion z (4-5 share)",
                    z,
                    p,
                    diff < 0,
                )
            )
        nb, nn = v("n_ces", 0), v("n_ces", 1)
        if nb >= min_n and nn >= min_n:
            m0, m1 = v("ces_mean", 0), v("ces_mean", 1)
            res = ttest_ind_from_stats(
                m1,
                math.sqrt(v("ces_var", 1)),
                nn,
                m0,
                math.sqrt(v("ces_var", 0)),
                nb,
                equal_var=False,
            )
            out.append(
                (
                    dim,
                    sl,
                    "ces",
                    m0,
                    m1,
                    m1 - m0,
                    nb,
                    nn,
                    "Welch t (mean)",
                    float(res.statistic),
                    float(res.pvalue),
                    m1 > m0,
                )
            )
    if not out:
        return _empty(ALERT_COLUMNS)
    res = pd.DataFrame(out, columns=cols[:11] + ["worse"])
    res["n_before"] = res.n_before.astype("int64")
    res["n_now"] = res.n_now.astype("int64")
    res["q_value"] = stats.benjamini_hochberg(res.p_value.to_numpy())
    res["alert"] = res.worse & (res.q_value < alpha)
    likely = []
    for r in res.itertuples():
        if not r.alert:
            likely.append("")
            continue
        moves = []
        for f in feats:
            before = wide.loc[(r.dimension, r.slice)].get((f"f_{f}", 0), np.nan)
            now = wide.loc[(r.dimension, r.slice)].get((f"f_{f}", 1), np.nan)
            impact = effects.get(f, -1.0) * (now - before)
            if pd.notna(impact) and impact < 0:
                moves.append((impact, f"{f} {before:.1%} -> {now:.1%}"))
        likely.append("; ".join(m for _, m in sorted(moves)[:3]))
    res["likely_drivers"] = likely
    res = res.sort_values(["alert", "q_value", "p_value"], ascending=[False, True, True])
    res.attrs.update(
        window=f"({start_now}, {as_of}]",
        history=f"({start_hist}, {start_now}]",
        min_n=min_n,
        alpha=alpha,
    )
    return res[cols].reset_index(drop=True)


# ---------------------------------------------------------------------------------------------
# Publish step
# ---------------------------------------------------------------------------------------------

ALERT_WINDOW_DAYS = 90
ALERT_HISTORY_DAYS = 365


# ---------------------------------------------------------------------------------------------
# Why dissatisfied, in the customers' words (need topics from crmkit.needs)
# ---------------------------------------------------------------------------------------------

#: Columns and types of :func:`detractor_topics` (an empty result keeps them).
TOPIC_COLUMNS = {
    "topic": "string", "detractor_texts": "int64", "detractor_mentions": "int64",
    "detractor_share": "float64", "promoter_texts": "int64", "promoter_mentions": "int64",
    "promoter_share": "float64", "difference": "float64", "z": "float64", "p_value": "float64",
    "q_value": "float64", "significant": "bool", "small_sample": "bool",
}  # fmt: skip


def detractor_topics(
    feedback: ir.Table, mentions: ir.Table, *, min_n: int = MIN_N, alpha: float = 0.05
) -> pd.DataFrame:
    """Need topics that set detractors' comments apart from promoters' (不满意的原因).

    For every topic of :mod:`crmkit.needs`: the share of detractors' texts (NPS 0–6) that
    mention it against the share of promoters' texts (NPS 9–10), their difference, the pooled
    two-proportion z-test and Benjamini–Hochberg q-values across topics; ``significant`` when
    q < ``alpha`` and both groups have at least ``min_n`` texts. Sorted by difference, the
    topics most typical of unhappy customers first.

    Parameters
    ----------
    feedback : ibis Table
        ``feedback_id``, ``nps``, ``text``: the answers with a score and a comment are counted.
    mentions : ibis Table
        ``feedback_id``, ``topic`` (``need_mentions`` of the published snapshot).

    Examples
    --------
    Detractors' texts F1–F4 (3 mention delivery), promoters' F5–F6 (none): shares 0.75 vs 0.

    >>> fb = ibis.memtable({"feedback_id": [f"F{i}" for i in range(1, 7)],
    ...                     "nps": [2, 5, 6, 0, 9, 10], "text": ["…"] * 6})
    >>> m = ibis.memtable({"feedback_id": ["F1", "F2", "F3", "F5"],
    ...                    "topic": ["delivery", "delivery", "delivery", "quality"]})
    >>> r = detractor_topics(fb, m, min_n=1).set_index("topic")
    >>> float(r.loc["delivery", "detractor_share"]), float(r.loc["delivery", "promoter_share"])
    (0.75, 0.0)
    """
    schema.require_columns(feedback, ["feedback_id", "nps", "text"], "detractor_topics: feedback")
    schema.require_columns(mentions, ["feedback_id", "topic"], "detractor_topics: mentions")
    fb = feedback.filter(feedback.nps.notnull(), feedback.text.notnull())
    fb = fb.mutate(
        group=ibis.cases((fb.nps <= 6, "detractor"), (fb.nps >= 9, "promoter"), else_="passive")
    ).filter(lambda t: t.group != "passive")
    texts = fb.group_by("group").aggregate(n=fb.count()).to_pandas().set_index("group").n
    m = mentions.select("feedback_id", "topic").distinct()
    j = m.join(fb.select("feedback_id", "group"), "feedback_id")
    counts = j.group_by(["topic", "group"]).aggregate(k=j.count()).to_pandas()
    if counts.empty:
        return _empty(TOPIC_COLUMNS)
    wide = counts.pivot_table(index="topic", columns="group", values="k", fill_value=0)
    out = pd.DataFrame(index=wide.index)
    for g in ("detractor", "promoter"):
        out[f"{g}_texts"] = int(texts.get(g, 0))
        out[f"{g}_mentions"] = wide[g].astype("int64") if g in wide else 0
        with np.errstate(divide="ignore", invalid="ignore"):
            out[f"{g}_share"] = out[f"{g}_mentions"] / out[f"{g}_texts"]
    diff, z, p = stats.two_proportion_test(
        out.promoter_mentions, out.promoter_texts, out.detractor_mentions, out.detractor_texts
    )
    out["difference"], out["z"], out["p_value"] = diff, z, p
    out["q_value"] = stats.benjamini_hochberg(out.p_value.to_numpy())
    out["small_sample"] = (out.detractor_texts < min_n) | (out.promoter_texts < min_n)
    out["significant"] = (out.q_value < alpha) & ~out.small_sample
    out = out.reset_index().sort_values("difference", ascending=False, ignore_index=True)
    return out[list(TOPIC_COLUMNS)].astype(TOPIC_COLUMNS)


def publish_tables(
    con: BaseBackend, *, as_of: datetime, config: Config | None = None
) -> dict[str, ir.Table | pd.DataFrame]:
    """The publish step ``satisfaction``: tables for the satisfaction page over the stored
    ``satisfaction_responses`` (step ``satisfaction_responses``: :func:`responses`, scored
    feedback with its slices and driver features; computed here with ``config``'s SLA policy
    when that step has not run).

    ``satisfaction_drivers`` (:func:`key_drivers`), ``satisfaction_alerts``
    (:func:`score_alerts` over the last 90 days vs the year before), ``satisfaction_topics``
    (:func:`detractor_topics`, from the needs step's ``need_mentions``) and
    ``satisfaction_info`` (as_of, model size and fit). The complaint SLA tables are the
    ``complaints`` step's (:func:`crmkit.complaints.publish_tables`).
    """
    resp = (
        con.table("satisfaction_responses")
        if "satisfaction_responses" in con.list_tables()
        else responses(con, as_of=as_of, config=config)
    )
    try:
        drivers = key_drivers(resp)
    except ValueError:  # too few NPS answers (e.g. no surveys yet): an empty, typed table
        drivers = _empty(DRIVER_COLUMNS)
    alerts = score_alerts(
        resp,
        as_of=as_of,
        window_days=ALERT_WINDOW_DAYS,
        history_days=ALERT_HISTORY_DAYS,
        drivers=drivers if len(drivers) else None,
    )
    info = pd.DataFrame(
        {
            "as_of": [as_of],
            "min_n": [MIN_N],
            "alert_window_days": [ALERT_WINDOW_DAYS],
            "alert_history_days": [ALERT_HISTORY_DAYS],
            "drivers_n": [int(drivers.attrs.get("n", 0))],
            "drivers_r2": [float(drivers.attrs.get("r2", float("nan")))],
            "drivers_method": [str(drivers.attrs.get("method", ""))],
        }
    )
    topics = (
        detractor_topics(con.table("feedback"), con.table("need_mentions"))
        if "need_mentions" in con.list_tables()
        else _empty(TOPIC_COLUMNS)
    )
    return {
        "satisfaction_topics": topics,
        "satisfaction_drivers": drivers.astype({"rank": "float64"}),
        "satisfaction_alerts": alerts,
        "satisfaction_info": info,
    }


# ---------------------------------------------------------------------------------------------
# KPI registry entries (crmkit.kpi resolves "crmkit.satisfaction:kpi_*" lazily)
# ---------------------------------------------------------------------------------------------


def _score_measure(row: pd.Series) -> dict[str, Any]:
    n = int(row.n)
    if n == 0:
        return {"value": None, "n": 0, "lo": None, "hi": None}
    return {"value": float(row.value), "n": n, "lo": float(row.lo), "hi": float(row.hi)}


def kpi_nps(
    con: BaseBackend,
    *,
    start: datetime,
    end: datetime,
    customers: ir.Table | None = None,
    config: Config | None = None,
) -> dict[str, Any]:
    """NPS of the survey answers in ``[start, end)`` (points, with the variance-formula
    interval of :func:`nps_interval`), for the KPI registry."""
    return _score_measure(
        nps(con.table("feedback"), start=start, end=end, customers=customers).iloc[0]
    )


def kpi_csat(
    con: BaseBackend,
    *,
    start: datetime,
    end: datetime,
    customers: ir.Table | None = None,
    config: Config | None = None,
) -> dict[str, int]:
    """CSAT: answers scoring 4–5 / answers with a CSAT score in ``[start, end)``."""
    r = csat(con.table("feedback"), start=start, end=end, customers=customers).iloc[0]
    return {"numerator": int(r.numerator), "denominator": int(r.denominator)}
