"""Loyalty (客户忠诚度提升, step 7): repurchase and referral rates, cohorts, points, drivers.

Every rate is a :class:`crmkit.stats.Metric` (numerator, denominator, Wilson 95 % interval,
n, small-sample flag and its 口径 from :data:`crmkit.definitions.MEASURES`), counted in the
database from Ibis tables:

repurchase rate (回购率, ``repurchase_rate``)
    buyers with ≥ 2 counted orders in the window / buyers with ≥ 1 counted order in it;
referral rate (推荐率, ``referral_rate``)
    buyers in the window who made ≥ 1 referral in it / buyers in the window;
buyer churn (买家流失率)
    :func:`crmkit.definitions.buyer_churn`, over 365 days in ``loyalty_rates`` and over
    rolling 91-day quarters in :func:`retention_trend`;
CLV (客户终身价值, ``clv``)
    mean of the published ``clv`` table over a set of customers, with a normal 95 % interval.

Windows are half-open, ``start <= ts < end``; orders count as in
:func:`crmkit.definitions.counted_orders` (the settings' ``rfm.exclude_statuses``).
``customers`` restricts any function to a set of customers (any table with ``customer_sk`` or
``customer_id``): these are the plain functions the KPI registry calls.

Examples
--------
>>> import ibis
>>> from datetime import datetime
>>> o = ibis.memtable({"customer_sk": [1, 1, 2], "customer_id": ["C1", "C1", "C2"],
...     "order_ts": [datetime(2024, 1, 5), datetime(2024, 2, 5), datetime(2024, 1, 9)],
...     "amount": [10.0, 20.0, 5.0], "status": ["completed"] * 3})
>>> r = repurchase_rate(o, start=datetime(2024, 1, 1), end=datetime(2024, 4, 1))
>>> r.numerator, r.denominator, r.value
(1, 2, 0.5)
"""

from __future__ import annotations

import math
from datetime import date, datetime, timedelta

import ibis
import ibis.expr.types as ir
import numpy as np
import pandas as pd
from ibis.backends import BaseBackend

from crmkit import classification, db, definitions, periods, schema, stats
from crmkit.config import Config

_TS = schema.IBIS_TYPES["timestamp"]


def _rate(key: str, k: int, n: int, s: datetime, e: datetime) -> stats.Metric:
    return stats.Metric.rate(
        key,
        k,
        n,
        definition=definitions.MEASURES[key].definition(),
        window=f"{s:%Y-%m-%d} ≤ t < {e:%Y-%m-%d}",
    )


def _counted(
    orders: ir.Table, s: datetime, e: datetime, customers: ir.Table | None, config: Config | None
) -> ir.Table:
    return definitions.counted_orders(orders, config=config, start=s, end=e, customers=customers)


def repurchase_rate(
    orders: ir.Table,
    *,
    start: date | datetime,
    end: date | datetime,
    customers: ir.Table | None = None,
    config: Config | None = None,
) -> stats.Metric:
    """Repurchase rate (回购率) in ``[start, end)`` (module docstring).

    Returns
    -------
    Metric
        With the Wilson 95 % interval; not available when nobody bought in the window.
    """
    s, e = definitions.window(start, end)
    o = _counted(orders, s, e, customers, config)
    per = o.group_by("customer_sk").aggregate(n=o.count())
    row = per.aggregate(buyers=per.count(), repeat=(per.n >= 2).cast("int64").sum()).to_pandas()
    buyers = int(row.buyers.iloc[0] or 0)
    repeat = int(0 if pd.isna(row.repeat.iloc[0]) else row.repeat.iloc[0])
    return _rate("repurchase_rate", repeat, buyers, s, e)


def referral_rate(
    referrals: ir.Table,
    orders: ir.Table,
    *,
    start: date | datetime,
    end: date | datetime,
    customers: ir.Table | None = None,
    config: Config | None = None,
) -> stats.Metric:
    """Referral rate (推荐率): buyers in ``[start, end)`` who referred someone in it / buyers.

    ``referrals`` needs ``referrer_id`` and ``ts``; buyers are matched on ``customer_id``.
    """
    s, e = definitions.window(start, end)
    buyers = _counted(orders, s, e, customers, config).select("customer_id").distinct()
    r = referrals.filter(
        referrals.ts >= ibis.literal(s, type=_TS), referrals.ts < ibis.literal(e, type=_TS)
    )
    refs = r.select(customer_id=r.referrer_id).distinct()
    n = int(buyers.count().execute())
    k = int(buyers.semi_join(refs, "customer_id").count().execute())
    return _rate("referral_rate", k, n, s, e)


def clv_mean(clv: ir.Table, *, customers: ir.Table | None = None) -> stats.Metric:
    """Mean CLV over a set of customers from the published ``clv`` table (``customer_id``,
    ``clv``): ``value`` = ``numerator`` (sum) / ``denominator`` (customers), ``lo`` / ``hi``
    = mean ± 1.96 standard errors."""
    t = definitions.restrict(clv, customers)
    row = (
        t.aggregate(n=t.count(), total=t.clv.sum(), sd=t.clv.std(how="sample")).to_pandas().iloc[0]
    )
    n = int(row.n or 0)
    sd = None if pd.isna(row.sd) else float(row.sd)
    return stats.Metric.mean(
        "clv",
        float(row.total) if n else 0.0,
        n,
        sd,
        definition=definitions.MEASURES["clv"].definition(),
    )


# ---------------------------------------------------------------------------------------------
# cohorts
# ---------------------------------------------------------------------------------------------


def cohort_retention(
    orders: ir.Table,
    *,
    as_of: datetime,
    customers: ir.Table | None = None,
    by: str | None = None,
    max_months: int = 24,
    config: Config | None = None,
) -> pd.DataFrame:
    """Customer and revenue retention by acquisition month (month of the first counted order).

    Parameters
    ----------
    orders : ibis.Table
        Orders (counted ones are used, up to ``as_of``).
    by : str, optional
        A ``customers`` column to split cohorts by (e.g. ``"acquisition_channel"``); needs
        ``customers``.
    max_months : int, default 24
        Months since acquisition to keep.

    Returns
    -------
    pandas.DataFrame
        ``cohort`` (first day of the month), [``by``], ``month`` (0 = acquisition month),
        ``cohort_size``, ``active`` (customers with a counted order in that month),
        ``retention`` = active / cohort_size, ``lo`` / ``hi`` (Wilson), ``revenue``,
        ``revenue_retention`` = revenue / revenue in month 0; incomplete months (after
        ``as_of``'s month) are left out.

    Examples
    --------
    Two customers first buy in January 2024; only C1 buys again in February: the January
    cohort keeps 1 of 2 customers in month 1, and ¥5 of its ¥30 first-month revenue.

    >>> import ibis
    >>> o = ibis.memtable({"customer_sk": [1, 2, 1], "customer_id": ["C1", "C2", "C1"],
    ...     "order_ts": [datetime(2024, 1, 3), datetime(2024, 1, 9), datetime(2024, 2, 1)],
    ...     "amount": [10.0, 20.0, 5.0], "status": ["completed"] * 3})
    >>> f = cohort_retention(o, as_of=datetime(2024, 2, 29))
    >>> f.active.tolist(), f.retention.tolist(), f.revenue_retention.tolist()
    ([2, 1], [1.0, 0.5], [1.0, 0.16666666666666666])
    """
    if by is not None and customers is None:
        raise ValueError(f"by={by!r} needs the customers table (customers=...)")
    o = definitions.counted_orders(orders, config=config, as_of=as_of)
    # one row per customer and month, the acquisition month as a grouped min joined back: in
    # DuckDB about a quarter less CPU at 1 M orders than a window min over every order and a
    # count(distinct)
    cm = o.group_by(_sk=o.customer_sk, m=o.order_ts.truncate("M")).aggregate(
        revenue=o.amount.cast("float64").sum()
    )
    first = cm.group_by("_sk").aggregate(first_m=cm.m.min())
    o = cm.join(first, "_sk").rename(customer_sk="_sk")
    keys = ["first_m"]
    if by is not None:
        if by not in customers.columns:
            raise ValueError(f"customers has no column {by!r}")
        c = customers.select(_sk="customer_sk", _by=customers[by])
        o = o.join(c, o.customer_sk == c._sk)
        keys.append("_by")
    per = o.group_by([*keys, "m"]).aggregate(active=o.count(), revenue=o.revenue.sum())
    df = per.to_pandas()
    if df.empty:
        return df
    df["cohort"] = pd.to_datetime(df.first_m)
    df["m"] = pd.to_datetime(df.m)
    df["month"] = (df.m.dt.year - df.cohort.dt.year) * 12 + df.m.dt.month - df.cohort.dt.month
    gkeys = ["cohort"] + (["_by"] if by else [])
    base = df[df.month == 0].set_index(gkeys)
    df = df.join(base[["active", "revenue"]].rename(columns=lambda c: c + "_0"), on=gkeys)
    df = df.rename(columns={"active_0": "cohort_size"})
    df = df[df.month <= max_months]
    df = stats.rate_columns(df, "active", "cohort_size").rename(columns={"rate": "retention"})
    df["revenue_retention"] = df.revenue / df.revenue_0
    cols = ["cohort", *(["_by"] if by else []), "month", "cohort_size", "active", "retention"]
    cols += ["lo", "hi", "small_sample", "revenue", "revenue_retention"]
    out = df[cols].rename(columns={"_by": by} if by else {})
    return out.sort_values([*gkeys[:1], *([by] if by else []), "month"]).reset_index(drop=True)


def retention_at(
    cohorts: pd.DataFrame,
    month: int,
    *,
    by: str | None = None,
    since: date | datetime | None = None,
) -> pd.DataFrame:
    """Retention ``month`` months after acquisition, pooled over cohorts (同期群留存).

    Of the customers acquired in the cohorts whose month ``month`` is in the data (the
    cohort's month + ``month`` is at most the latest month of ``cohorts``), the share who buy
    in that month: every cohort weighs by its size, and a cohort where nobody bought counts
    (with 0) instead of dropping out.

    Parameters
    ----------
    cohorts : pandas.DataFrame
        :func:`cohort_retention`'s frame (``cohort``, [``by``], ``month``, ``cohort_size``,
        ``active``, ``revenue``).
    month : int
        Months since acquisition (0 = the acquisition month, retention 1).
    by : str, optional
        The split column :func:`cohort_retention` was called with.
    since : date or datetime, optional
        Only cohorts from this month on.

    Returns
    -------
    pandas.DataFrame
        One row per ``by`` value (one row without ``by``): ``cohorts``, ``cohort_size`` (sum),
        ``active`` (sum), ``retention`` = active / cohort_size with ``lo`` / ``hi`` (Wilson
        95 %) and ``small_sample``, and ``revenue_retention`` = their revenue in that month /
        their revenue in month 0; highest retention first.

    Raises
    ------
    ValueError
        When ``month`` is negative or ``by`` is not a column of ``cohorts``.

    Examples
    --------
    January: 4 customers, 2 buy again in month 1 (¥20 of the first month's ¥100); February:
    6 customers, nobody buys in month 1; March has no month 1 yet. Pooled: 2 of 10.

    >>> c = pd.DataFrame({"cohort": pd.to_datetime(["2024-01-01", "2024-01-01", "2024-02-01",
    ...                                              "2024-03-01"]),
    ...                   "month": [0, 1, 0, 0], "cohort_size": [4, 4, 6, 3],
    ...                   "active": [4, 2, 6, 3], "revenue": [100.0, 20.0, 50.0, 30.0]})
    >>> retention_at(c, 1)[["cohorts", "cohort_size", "active", "retention"]].to_dict("records")
    [{'cohorts': 2, 'cohort_size': 10, 'active': 2, 'retention': 0.2}]
    """
    if isinstance(month, bool) or not isinstance(month, int) or month < 0:
        raise ValueError(f"month must be a whole number >= 0, got {month!r}")
    if by is not None and by not in cohorts.columns:
        raise ValueError(f"cohorts has no column {by!r}; pass the by= of cohort_retention")
    keys = [by] if by else []
    c = cohorts.assign(cohort=pd.to_datetime(cohorts.cohort))
    if since is not None:
        c = c[c.cohort >= pd.Timestamp(since)]
    months = c.cohort.dt.to_period("M")
    base = c[(c.month == 0) & (months + month <= (months + c.month).max())]
    at = c[c.month == month][["cohort", *keys, "active", "revenue"]]
    j = base[["cohort", *keys, "cohort_size", "revenue"]].merge(
        at, on=["cohort", *keys], how="left", suffixes=("_0", "")
    )
    j = j.fillna({"active": 0, "revenue": 0.0})
    g = j.assign(_all="all").groupby(keys or ["_all"], sort=True)
    out = g.agg(
        cohorts=("cohort", "size"),
        cohort_size=("cohort_size", "sum"),
        active=("active", "sum"),
        revenue=("revenue", "sum"),
        revenue_0=("revenue_0", "sum"),
    ).reset_index()
    out = out.astype({"cohorts": "int64", "cohort_size": "int64", "active": "int64"})
    out = stats.rate_columns(out, "active", "cohort_size").rename(columns={"rate": "retention"})
    out["revenue_retention"] = out.revenue / out.revenue_0.where(out.revenue_0 > 0)
    cols = [*keys, "cohorts", "cohort_size", "active", "retention", "lo", "hi", "small_sample"]
    out = out[[*cols, "revenue_retention"]]
    out = out.sort_values(["retention", *keys], ascending=[False, *[True] * len(keys)])
    return out.reset_index(drop=True)


def retention_trend(
    orders: ir.Table, *, as_of: datetime, quarters: int = 8, config: Config | None = None
) -> pd.DataFrame:
    """Quarterly buyer churn (``buyer_churn_91d``) over the :func:`crmkit.periods.rolling_quarters`
    ending at ``as_of``, oldest first, with n and Wilson interval; retention = 1 − churn."""
    qs = periods.rolling_quarters(as_of, quarters)
    flags = definitions.buyer_churn_flags(orders, qs, config=config)
    got = (
        flags.group_by("period_end")
        .aggregate(n=flags.count(), k=flags.churned.sum())
        .to_pandas()
        .set_index("period_end")
    )
    rows = []
    for q in qs:
        n, k = (int(got.n[q.end]), int(got.k[q.end])) if q.end in got.index else (0, 0)
        m = definitions.buyer_churn_metric(k, n, q.start, q.end)
        rows.append(
            {
                "period_end": q.end,
                "churn_rate": m.value,
                "churned": k,
                "n": n,
                "lo": m.lo,
                "hi": m.hi,
                "small_sample": m.small_sample,
            }
        )
    df = pd.DataFrame(rows).astype({"churn_rate": "float64", "lo": "float64", "hi": "float64"})
    df["retention"] = 1 - df.churn_rate
    return df


# ---------------------------------------------------------------------------------------------
# points and membership
# ---------------------------------------------------------------------------------------------


def points_by_tier(
    points_ledger: ir.Table, customers: ir.Table, *, as_of: datetime
) -> pd.DataFrame:
    """Points earned, redeemed, expired and outstanding per membership tier (积分制 / 会员制).

    Returns
    -------
    pandas.DataFrame
        ``membership_tier``, ``members`` (customers of the tier), ``earners`` (earned points),
        ``redeemers`` (redeemed at least once), ``earned``, ``redeemed``, ``expired``,
        ``adjusted``, ``outstanding`` = earned + adjusted − redeemed − expired,
        ``redemption_share`` = redeemed / earned points, ``rate`` / ``lo`` / ``hi`` =
        redeemers / earners (Wilson), ``small_sample``.
    """
    p = points_ledger.filter(points_ledger.ts <= ibis.literal(as_of, type=_TS))
    c = customers.select("customer_id", "membership_tier")

    def pts(kind: str) -> ir.IntegerValue:
        return ibis.ifelse(p.kind == kind, p.points, 0).sum()

    per = p.group_by("customer_id").aggregate(
        earned=pts("earn"), redeemed=pts("redeem"), expired=pts("expire"), adjusted=pts("adjust")
    )
    j = c.left_join(per, "customer_id")
    g = j.group_by(j.membership_tier.fill_null("regular").name("membership_tier")).aggregate(
        members=j.count(),
        earners=(j.earned.fill_null(0) > 0).cast("int64").sum(),
        redeemers=(j.redeemed.fill_null(0) > 0).cast("int64").sum(),
        earned=j.earned.fill_null(0).sum(),
        redeemed=j.redeemed.fill_null(0).sum(),
        expired=j.expired.fill_null(0).sum(),
        adjusted=j.adjusted.fill_null(0).sum(),
    )
    df = g.to_pandas()
    df["outstanding"] = df.earned + df.adjusted - df.redeemed - df.expired
    df["redemption_share"] = np.where(
        df.earned > 0, df.redeemed / df.earned.where(df.earned > 0, 1), np.nan
    )
    df = stats.rate_columns(df, "redeemers", "earners")
    order = {"regular": 0, "silver": 1, "gold": 2, "diamond": 3}
    return df.sort_values("membership_tier", key=lambda s: s.map(order).fillna(9)).reset_index(
        drop=True
    )


# ---------------------------------------------------------------------------------------------
# what distinguishes loyal customers
# ---------------------------------------------------------------------------------------------


def _mean(x: np.ndarray) -> float:
    x = x[~np.isnan(x)]
    return float(x.mean()) if len(x) else math.nan


def _cohen_d(a: np.ndarray, b: np.ndarray) -> float:
    a, b = a[~np.isnan(a)], b[~np.isnan(b)]
    if len(a) < 2 or len(b) < 2:
        return math.nan
    pooled = math.sqrt(
        ((len(a) - 1) * a.var(ddof=1) + (len(b) - 1) * b.var(ddof=1)) / (len(a) + len(b) - 2)
    )
    return (a.mean() - b.mean()) / pooled if pooled else math.nan


#: Activity controls of :func:`loyalty_drivers` (columns of the classification): name →
#: (column, transform). ``tenure_days`` counts from the first counted order.
DRIVER_CONTROLS = {
    "log_frequency": ("frequency", np.log1p),
    "tenure_days": ("tenure_days", None),
    "log_recency_days": ("recency_days", np.log1p),
    "log_monetary": ("monetary", np.log1p),
}
#: Fewer buyers with the measure, or fewer loyal or other ones among them, and a measure's
#: adjusted effect is not estimated (``note`` ``too_few``).
MIN_DRIVER_ROWS = 100
MIN_DRIVER_EVENTS = 10
#: ``direction`` codes of :func:`loyalty_drivers`.
DRIVER_DIRECTIONS = ("higher_in_loyal", "lower_in_loyal", "unclear")


#: Columns of :func:`loyalty_drivers`, in order.
DRIVER_COLUMNS = (
    "measure", "kind", "loyal", "other", "n_loyal", "n_other", "difference", "effect",
    "effect_kind", "p_value", "q_value", "adjusted_effect", "adjusted_kind", "lo", "hi",
    "adjusted_p", "adjusted_q", "direction", "n_model", "note",
)  # fmt: skip


def _driver_direction(ratio: float, q: float, alpha: float = 0.05) -> str | None:
    if pd.isna(ratio) or pd.isna(q):
        return None
    if q >= alpha:
        return "unclear"
    return "higher_in_loyal" if ratio > 1 else "lower_in_loyal"


def _driver_controls(df: pd.DataFrame) -> pd.DataFrame:
    out = {}
    for name, (col, fn) in DRIVER_CONTROLS.items():
        if col in df.columns:
            x = pd.to_numeric(df[col], errors="coerce").astype("float64")
            out[name] = fn(x.clip(lower=0)) if fn is not None else x
    return pd.DataFrame(out, index=df.index)


def _adjusted(df: pd.DataFrame, col: str, kind: str, controls: pd.DataFrame) -> dict:
    """The adjusted odds ratio of being loyal for one measure (per standard deviation for a
    mean), over the buyers who have the measure."""
    x = df[col].astype(float)
    ok = x.notna().to_numpy()
    y = df.loyal.to_numpy()[ok]
    row = {
        "adjusted_effect": math.nan,
        "adjusted_kind": "odds ratio per SD" if kind == "mean" else "odds ratio",
        "lo": math.nan,
        "hi": math.nan,
        "adjusted_p": math.nan,
        "n_model": int(ok.sum()),
        "note": None,
    }
    if ok.sum() < MIN_DRIVER_ROWS or min(y.sum(), len(y) - y.sum()) < MIN_DRIVER_EVENTS:
        return row | {"note": "too_few"}
    x = x[ok]
    if kind == "mean" and x.std(ddof=0) > 0:
        x = (x - x.mean()) / x.std(ddof=0)
    e = stats.adjusted_effects(y, pd.DataFrame({col: x.to_numpy()}), controls[ok]).iloc[0]
    return row | {
        "adjusted_effect": e.odds_ratio,
        "lo": e.or_lo,
        "hi": e.or_hi,
        "adjusted_p": e.p_value,
        "note": e.note if isinstance(e.note, str) else None,
    }


def loyalty_drivers(
    con: BaseBackend, *, as_of: datetime | None = None, config: Config | None = None
) -> pd.DataFrame:
    """What distinguishes loyal customers (lifecycle stage 忠诚 in ``classification``) from the
    other buyers: one row per measure with both groups' values, a raw effect size and the
    effect adjusted for activity.

    Measures (as of ``as_of``): mean NPS and CSAT of their feedback, share who complained,
    share with a ticket that breached the first-response SLA (:func:`crmkit.definitions.sla_flags`
    with the settings' :func:`crmkit.definitions.sla_policy`: a ticket still within its target
    is pending, not a breach), share of discounted orders, share of late deliveries, share
    B2B, share who referred someone, care contacts (birthday / holiday / follow-up) per year of
    tenure.

    Raw, loyal customers complain more and have more SLA breaches (Cohen's h 0.57 and 0.28 on
    the demo) — because they buy more, so they have more occasions to. The adjusted effect
    asks instead: among buyers of the same activity, is the measure more common in the loyal
    ones? A logistic regression of loyal (0/1) on the measure and the activity controls
    :data:`DRIVER_CONTROLS` — orders (log), days since the first counted order, days since the
    last (log) and spend (log): the exposure behind the counts, and what the loyalty rule
    reads (frequency score, tenure; a churned customer is never loyal) — one model per
    measure, over the buyers with a value (:func:`crmkit.stats.adjusted_effects`). ``referred``
    overlaps the rule itself (with ``loyalty_by_referral`` a converted referral makes a buyer
    loyal), so part of its effect holds by definition.

    Returns
    -------
    pandas.DataFrame
        One row per measure, strongest adjusted effect first: ``measure``, ``kind`` (mean /
        share), ``loyal``, ``other`` (the groups' values), ``n_loyal``, ``n_other``,
        ``difference``; raw: ``effect`` with ``effect_kind`` (Cohen's d for means, Cohen's h
        for shares), ``p_value`` (two-proportion test, shares only) and ``q_value``
        (Benjamini–Hochberg); adjusted: ``adjusted_effect`` (odds ratio of being loyal: per
        standard deviation of a mean, with vs without for a share; ``adjusted_kind`` says
        which), its 95 % interval ``lo`` / ``hi``, ``adjusted_p``, ``adjusted_q`` (BH across
        the measures), ``direction`` (``higher_in_loyal`` / ``lower_in_loyal`` when
        ``adjusted_q`` < 0.05, else ``unclear``; missing without an estimate), ``n_model``
        (buyers in the model) and ``note`` (why there is no estimate: ``too_few`` —
        fewer than :data:`MIN_DRIVER_ROWS` buyers or :data:`MIN_DRIVER_EVENTS` loyal / other
        ones — or a code of :data:`crmkit.stats.EFFECT_NOTES`).
    """
    as_of = schema.check_as_of(as_of or db.data_as_of(con))
    c_lit = ibis.literal(as_of, type=_TS)
    cls = classification.current(con, as_of=as_of, rules=config.rules if config else None)
    activity = [c for c in ("frequency", "recency_days", "monetary") if c in cls.columns]
    tenure = (
        {
            "tenure_days": ibis.literal(as_of.date())
            .delta(cls.first_order_ts.date(), unit="day")
            .cast("float64")
        }
        if "first_order_ts" in cls.columns
        else {}
    )
    buyers = cls.filter(cls.frequency.notnull()).select(
        "customer_id",
        "customer_sk",
        *[cls[c].cast("float64").name(c) for c in activity],
        loyal=(cls.lifecycle_stage == "loyalty").cast("int64"),
        **tenure,
    )
    fb = con.table("feedback").filter(ibis._.ts <= c_lit)
    f = fb.group_by("customer_sk").aggregate(
        nps=fb.nps.mean(),
        csat=fb.csat.mean(),
        complained=(fb.source == "complaint").cast("int64").max(),
    )
    tk = con.table("tickets").filter(ibis._.opened_at <= c_lit)
    tk = definitions.sla_flags(tk, as_of=as_of, policy=definitions.sla_policy(config))
    tks = tk.group_by("customer_sk").aggregate(sla_breach=tk.breached.cast("int64").max())
    o = con.table("orders").filter(
        (ibis._.order_ts <= c_lit)
        & ~ibis._.status.isin(list(definitions.excluded_statuses(config)))
    )
    os_ = o.group_by("customer_sk").aggregate(
        discount_share=(o.discount.fill_null(0) > 0).cast("float64").mean(),
        late_share=(o.delivered_at.date() > o.promised_date).cast("float64").mean(),
    )
    it = con.table("interactions").filter(ibis._.ts <= c_lit)
    care = it.filter(it.care_event.isin(["birthday", "holiday", "followup"]))
    care = care.group_by("customer_sk").aggregate(care=care.count())
    refs = con.table("referrals").filter(ibis._.ts <= c_lit)
    refs = refs.select(customer_id=refs.referrer_id).distinct().mutate(referred=ibis.literal(1))
    cu = con.table("customers")
    cust = cu.select(
        "customer_sk",
        b2b=cu.company.notnull().cast("int64"),
        tenure_years=ibis.greatest(
            ibis.literal(as_of.date()).delta(cu.created_at.date(), unit="day").cast("float64")
            / 365.25,
            0.25,
        ),
    )
    t = buyers
    for part in (f, tks, os_, care, cust):
        t = t.left_join(part, "customer_sk").drop("customer_sk_right")
    t = t.left_join(refs, "customer_id").drop("customer_id_right")
    df = t.to_pandas()
    df["care_per_year"] = df.care.fillna(0) / df.tenure_years
    for col in ("complained", "sla_breach", "referred"):
        df[col] = df[col].fillna(0)
    controls = _driver_controls(df)
    loyal, other = df[df.loyal == 1], df[df.loyal == 0]
    rows = []
    for col, kind in (
        ("nps", "mean"),
        ("csat", "mean"),
        ("discount_share", "mean"),
        ("late_share", "mean"),
        ("care_per_year", "mean"),
        ("complained", "share"),
        ("sla_breach", "share"),
        ("b2b", "share"),
        ("referred", "share"),
    ):
        a = loyal[col].astype(float).to_numpy()
        b = other[col].astype(float).to_numpy()
        row = {
            "measure": col,
            "kind": kind,
            "loyal": _mean(a),
            "other": _mean(b),
            "n_loyal": int((~np.isnan(a)).sum()),
            "n_other": int((~np.isnan(b)).sum()),
        }
        if kind == "mean":
            row.update(effect=_cohen_d(a, b), effect_kind="Cohen's d", p_value=math.nan)
        else:
            k1, n1 = float(np.nansum(a)), row["n_loyal"]
            k0, n0 = float(np.nansum(b)), row["n_other"]
            _, _, pv = stats.two_proportion_test(k0, n0, k1, n1)
            p1, p0 = (k1 / n1 if n1 else math.nan), (k0 / n0 if n0 else math.nan)
            h = (
                2 * math.asin(math.sqrt(p1)) - 2 * math.asin(math.sqrt(p0))
                if n1 and n0
                else math.nan
            )
            row.update(effect=h, effect_kind="Cohen's h", p_value=pv)
        rows.append(row | _adjusted(df, col, kind, controls))
    out = pd.DataFrame(rows)
    out["difference"] = out.loyal - out.other
    out["q_value"] = stats.benjamini_hochberg(out.p_value.to_numpy())
    out["adjusted_q"] = stats.benjamini_hochberg(out.adjusted_p.to_numpy())
    out["direction"] = [
        _driver_direction(r, q) for r, q in zip(out.adjusted_effect, out.adjusted_q, strict=True)
    ]
    size = np.abs(np.log(out.adjusted_effect.to_numpy(dtype=float)))
    out = out.assign(_size=size).sort_values(
        ["_size", "effect"], ascending=False, na_position="last", key=lambda s: s.abs()
    )
    out = out[list(DRIVER_COLUMNS)].astype(
        {"measure": "string", "direction": "string", "note": "string"}
    )
    return out.reset_index(drop=True)


# ---------------------------------------------------------------------------------------------
# publish
# ---------------------------------------------------------------------------------------------


def loyalty_rates(
    con: BaseBackend, *, as_of: datetime, days: int = 365, config: Config | None = None
) -> pd.DataFrame:
    """Repurchase rate, referral rate and buyer churn over the ``days`` ending at the end of the
    ``as_of`` day (:func:`crmkit.periods.trailing_window`), one metric row each
    (:func:`crmkit.stats.metric_frame`)."""
    w = periods.trailing_window(as_of, days)
    orders = con.table("orders")
    return stats.metric_frame(
        [
            repurchase_rate(orders, start=w.start, end=w.end, config=config),
            referral_rate(con.table("referrals"), orders, start=w.start, end=w.end, config=config),
            definitions.buyer_churn(orders, start=w.start, end=w.end, config=config),
        ]
    )


def publish_tables(
    con: BaseBackend, *, as_of: datetime, config: Config | None = None
) -> dict[str, pd.DataFrame]:
    """The publish step ``loyalty``: ``loyalty_rates`` (last 365 days), ``retention_trend``
    (8 quarters), ``cohort_retention`` (monthly cohorts of the last 24 months, all channels and
    by acquisition channel), ``points_by_tier`` and ``loyalty_drivers``."""
    orders = con.table("orders")
    first = datetime(as_of.year, as_of.month, 1) - timedelta(days=731)
    tables: dict[str, pd.DataFrame] = {}
    cohorts = cohort_retention(orders, as_of=as_of, config=config)
    if len(cohorts):
        tables["cohort_retention"] = cohorts[cohorts.cohort >= pd.Timestamp(first)].assign(
            acquisition_channel="all"
        )
        by_channel = cohort_retention(
            orders,
            as_of=as_of,
            customers=con.table("customers"),
            by="acquisition_channel",
            config=config,
        )
        tables["cohort_retention_channel"] = by_channel[by_channel.cohort >= pd.Timestamp(first)]
    return {
        "loyalty_rates": loyalty_rates(con, as_of=as_of, config=config),
        "retention_trend": retention_trend(orders, as_of=as_of, config=config),
        **tables,
        "points_by_tier": points_by_tier(
            con.table("points_ledger"), con.table("customers"), as_of=as_of
        ),
        "loyalty_drivers": loyalty_drivers(con, as_of=as_of, config=config),
    }


# ---------------------------------------------------------------------------------------------
# KPI registry entries (crmkit.kpi resolves "crmkit.loyalty:kpi_*" lazily)
# ---------------------------------------------------------------------------------------------


def kpi_repurchase_rate(
    con: BaseBackend,
    *,
    start: datetime,
    end: datetime,
    customers: ir.Table | None = None,
    config: Config | None = None,
) -> stats.Metric:
    """:func:`repurchase_rate` over the warehouse's orders, for the KPI registry."""
    return repurchase_rate(
        con.table("orders"), start=start, end=end, customers=customers, config=config
    )


def kpi_referral_rate(
    con: BaseBackend,
    *,
    start: datetime,
    end: datetime,
    customers: ir.Table | None = None,
    config: Config | None = None,
) -> stats.Metric:
    """:func:`referral_rate` over the warehouse's referrals and orders, for the registry."""
    return referral_rate(
        con.table("referrals"),
        con.table("orders"),
        start=start,
        end=end,
        customers=customers,
        config=config,
    )
