"""The business rules, each written once and read from the company's settings.

Every analysis, page, report and notebook that counts orders, customers or churn calls these
functions, so a company that changes a rule (``rules.rfm.exclude_statuses`` in its
``classification_rules.json``) sees every number change together.

Counted order (计入订单)
    an order with a known customer whose status is not one of the settings'
    ``rfm.exclude_statuses`` (default returned, refunded, cancelled) — :func:`counted_orders`.
Placed order (有效下单)
    an order that was not cancelled (:data:`PLACED_STATUSES`) by the status in the data: the
    denominator of the return rate — :func:`placed_orders`. An order whose status ingest
    filled in (the file had none: ``status_defaulted``) is not known to be placed or returned;
    when every order of a window is such, the return rate is not available
    (:func:`status_not_recorded`), never 0 %.
Customer at a date d (某日的客户)
    a customer with a counted order in ``[d − W, d)``, W = :data:`ACTIVE_DAYS` days (or the
    period's length if longer) — :func:`customer_flow`.
Customer churn (客户流失率, ``customer_churn``)
    of the customers at a period's start, the share who are no customers at its end:
    (S − retained) / S — the KPI of the overview and the report.
Buyer churn (买家流失率, ``buyer_churn``)
    of the buyers of the previous window of equal length, the share with no counted order in
    this window. Over 91 days it is ``buyer_churn_91d`` (季度买家流失率: the churn page's rate
    and trend), over 365 days ``buyer_churn_365d`` (the loyalty table).
    :func:`buyer_churn_flags` gives it per customer, so the cubes' per-group counts add up to
    the same number.
Segment (客户分群)
    the RFM class of :func:`crmkit.classification.classify`, :data:`POTENTIAL` for a customer
    without a counted purchase.
Complaint SLA breach (首次响应超时)
    a ticket first answered later than the target (:class:`SlaPolicy`, the settings' ``sla``
    section: :func:`sla_policy`), or not answered by ``as_of`` although its clock has run past
    the target; an unanswered ticket still within the target is *pending*, not a breach —
    :func:`sla_flags`. The clock runs round the clock, or only in business hours on workdays
    (a country's statutory holidays and make-up workdays included, :mod:`crmkit.calendars`).

Each measure's name and 口径 are in :data:`MEASURES`; its numbers come back as one
:class:`crmkit.stats.Metric`.

Examples
--------
>>> import ibis
>>> from datetime import datetime
>>> o = ibis.memtable({"customer_sk": [1, 1, 2], "customer_id": ["C1", "C1", "C2"],
...     "order_ts": [datetime(2024, 1, 5), datetime(2024, 4, 5), datetime(2024, 1, 9)],
...     "amount": [10.0, 20.0, 5.0], "status": ["completed", "completed", "returned"]})
>>> counted_orders(o).count().execute()
2
>>> m = buyer_churn(o, start=datetime(2024, 4, 1), end=datetime(2024, 6, 30))
>>> m.key, m.numerator, m.denominator, m.value
('buyer_churn', 0, 1, 0.0)
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import date, datetime, time, timedelta

import ibis
import ibis.expr.types as ir
import pandas as pd
from ibis.backends import BaseBackend

from crmkit import calendars, periods, schema, stats
from crmkit import config as _config

_TS = schema.IBIS_TYPES["timestamp"]

#: The segment of customers without a counted purchase (RFM does not score them).
POTENTIAL = "potential"
#: Order statuses of orders that were placed (not cancelled): the return rate's denominator.
PLACED_STATUSES = ("completed", "returned", "refunded")
#: The status of a returned order (the return rate's numerator).
RETURNED = "returned"
#: The orders column marking a status that ingest filled in because the data had none.
STATUS_DEFAULTED = schema.defaulted_column("status")
#: The reason code of a return rate over orders whose status was never in the data
#: (:func:`crmkit.i18n.reason_text` words it).
NO_STATUS = "status_defaulted"
#: Trailing window (days) in which a customer must have a counted order to be a customer.
ACTIVE_DAYS = 365


@dataclass(frozen=True)
class Measure:
    """A named measure: its zh / en name and 口径 (numerator, denominator, window)."""

    key: str
    zh: str
    en: str
    numerator: tuple[str, str]
    denominator: tuple[str, str] | None
    window: tuple[str, str]

    def name(self, lang: str = "zh") -> str:
        return self.zh if lang == "zh" else self.en

    def definition(self) -> dict[str, str]:
        """``{"zh": ..., "en": ...}``: numerator / denominator and window in words."""
        out = {}
        for i, lang in enumerate(("zh", "en")):
            sep = "；" if lang == "zh" else "; "
            if self.denominator:
                out[lang] = f"{self.numerator[i]} / {self.denominator[i]}{sep}{self.window[i]}"
            else:
                out[lang] = f"{self.numerator[i]}{sep}{self.window[i]}"
        return out


_ACTIVE = (
    "截至每个日期的前365天内有计入订单者为该日客户",
    "customer at a date: counted order in the 365 days before it",
)
#: The window of a measure counted over a reporting period.
_PERIOD = ("统计期 [开始, 结束)", "period [start, end)")
#: Every measure defined here, by key.
MEASURES: dict[str, Measure] = {
    m.key: m
    for m in (
        Measure(
            "customer_churn",
            "客户流失率（365天客户口径）",
            "Customer churn (365-day customers)",
            ("期初客户中期末已不是客户的人数", "customers at start who are no customers at end"),
            ("期初客户数 S", "customers at start S"),
            _ACTIVE,
        ),
        # the overview's KPIs (crmkit.kpi), each counted over the reporting period
        Measure(
            "retention_rate",
            "客户保留率",
            "Retention rate",
            ("期末客户数 E − 期内新客户数 N", "customers at end E − new customers N"),
            ("期初客户数 S", "customers at start S"),
            _ACTIVE,
        ),
        Measure(
            "new_customers",
            "新客户获取数量",
            "New customers acquired",
            (
                "首次计入订单落在统计期内的客户数",
                "customers whose first counted order is in the period",
            ),
            None,
            _PERIOD,
        ),
        Measure(
            "sales_conversion",
            "销售转化率",
            "Sales conversion rate",
            ("期内赢单的销售机会", "opportunities won in the period"),
            ("期内关闭（赢单+输单）的销售机会", "opportunities closed (won + lost) in the period"),
            _PERIOD,
        ),
        Measure(
            "lead_conversion",
            "线索转化率",
            "Lead → customer conversion",
            (
                "其中期内首次下单的客户",
                "of them, customers with their first counted order in the period",
            ),
            (
                "期初未购买且期内有进行中销售机会的潜在客户",
                "prospects (no counted order before start) with an opportunity open in the period",
            ),
            _PERIOD,
        ),
        Measure(
            "return_rate",
            "退货率",
            "Return rate",
            ("期内下单且已退货的订单", "orders placed in the period and returned"),
            (
                "期内下单且未取消的订单（订单状态来自数据）",
                "orders placed in the period, not cancelled (status from the data)",
            ),
            _PERIOD,
        ),
        Measure(
            "avg_order_value",
            "客单价",
            "Average order value",
            ("期内计入订单的金额合计", "revenue of counted orders placed in the period"),
            ("计入订单数", "number of counted orders"),
            _PERIOD,
        ),
        Measure(
            "repurchase_rate",
            "回购率",
            "Repurchase rate",
            ("窗口内购买≥2次的买家", "buyers with ≥ 2 counted orders in the window"),
            ("窗口内有购买的买家", "buyers with ≥ 1 counted order in the window"),
            ("窗口 [开始, 结束)", "window [start, end)"),
        ),
        Measure(
            "referral_rate",
            "推荐率",
            "Referral rate",
            ("窗口内推荐过新客户的买家", "buyers who referred someone in the window"),
            ("窗口内有购买的买家", "buyers in the window"),
            ("窗口 [开始, 结束)", "window [start, end)"),
        ),
        Measure(
            "clv",
            "客户终身价值 CLV",
            "Customer lifetime value (CLV)",
            (
                "预测未来12个月价值之和（BG/NBD × Gamma-Gamma，月贴现1%，发布时拟合）",
                "predicted 12-month value, summed (BG/NBD × Gamma-Gamma, 1 %/month, at publish)",
            ),
            ("统计期内有计入订单且有 CLV 评分的客户", "buyers of the period with a CLV score"),
            ("统计期的买家；CLV 为快照时点的预测", "the period's buyers; CLV as of the snapshot"),
        ),
        Measure(
            "buyer_churn",
            "买家流失率",
            "Buyer churn",
            (
                "上一等长窗口的买家中本窗口未再购买的人数",
                "buyers of the previous window with no counted order in this one",
            ),
            ("上一窗口的买家", "buyers of the previous window"),
            ("窗口 [开始, 结束)，与前一个等长窗口比较", "window [start, end) vs the one before"),
        ),
        Measure(
            "buyer_churn_91d",
            "季度买家流失率（近91天）",
            "Quarterly buyer churn (91 days)",
            (
                "前91天的买家中近91天未再购买的人数",
                "buyers of the 91 days before with no counted order in the last 91 days",
            ),
            ("前91天的买家", "buyers of the 91 days before"),
            ("窗口：截至数据日期的91天，与前一个91天比较", "window: 91 days vs the 91 before"),
        ),
        Measure(
            "buyer_churn_365d",
            "年度买家流失率（近365天）",
            "Yearly buyer churn (365 days)",
            (
                "前365天的买家中近365天未再购买的人数",
                "buyers of the 365 days before with no counted order in the last 365 days",
            ),
            ("前365天的买家", "buyers of the 365 days before"),
            ("窗口：截至数据日期的365天，与前一个365天比较", "window: 365 days vs the 365 before"),
        ),
    )
}
#: Buyer-churn measure key by window length in days.
BUYER_CHURN_KEYS = {91: "buyer_churn_91d", 365: "buyer_churn_365d"}


# ---------------------------------------------------------------------------------------------
# orders and customers
# ---------------------------------------------------------------------------------------------


def _lit(ts: datetime) -> ir.Value:
    return ibis.literal(ts, type=_TS)


def _moment(x: date | datetime, what: str) -> datetime:
    if isinstance(x, datetime):
        return x
    if isinstance(x, date):
        return datetime(x.year, x.month, x.day)
    raise ValueError(f"{what} must be a date or datetime, got {x!r}")


def window(start: date | datetime, end: date | datetime) -> tuple[datetime, datetime]:
    """``(start, end)`` as datetimes, checked: windows are half-open, ``start <= t < end``.

    >>> window(date(2024, 1, 1), datetime(2024, 4, 1))
    (datetime.datetime(2024, 1, 1, 0, 0), datetime.datetime(2024, 4, 1, 0, 0))
    """
    s, e = _moment(start, "start"), _moment(end, "end")
    if e <= s:
        raise ValueError(f"end ({e}) must be after start ({s}); windows are start <= t < end")
    return s, e


def excluded_statuses(config: _config.Config | None = None) -> tuple[str, ...]:
    """The order statuses that are not purchases, from the settings (``rfm.exclude_statuses``)."""
    return _config.load(config).excluded_statuses


def restrict(t: ir.Table, customers: ir.Table | None) -> ir.Table:
    """The rows of ``t`` whose customer is in ``customers`` (all rows when it is None).

    Matched on ``customer_sk`` when both tables have it (an integer key: faster), else on
    ``customer_id``.

    Raises
    ------
    ValueError
        When the two tables share neither key.
    """
    if customers is None:
        return t
    key = "customer_sk" if {"customer_sk"} <= {*customers.columns} & {*t.columns} else "customer_id"
    if key not in customers.columns or key not in t.columns:
        raise ValueError(
            "customers must have a customer_sk or customer_id column shared with the table; "
            f"got {list(customers.columns)}"
        )
    return t.semi_join(customers.select(key).distinct(), key)


def counted_orders(
    orders: ir.Table,
    *,
    config: _config.Config | None = None,
    excluded: Sequence[str] | None = None,
    as_of: datetime | None = None,
    start: datetime | None = None,
    end: datetime | None = None,
    customers: ir.Table | None = None,
) -> ir.Table:
    """The orders that count as purchases (计入订单).

    Parameters
    ----------
    orders : ibis.Table
        With ``customer_sk``, ``order_ts`` and ``status``.
    config : Config, optional
        Whose ``rfm.exclude_statuses`` are not purchases (default: :func:`crmkit.config.load`).
    excluded : sequence of str, optional
        The excluded statuses themselves (overrides ``config``; the classification rules pass
        theirs). An empty sequence excludes nothing but an unknown (null) status.
    as_of : datetime, optional
        Keep orders placed at or before this moment.
    start, end : datetime, optional
        Keep orders with ``start <= order_ts < end``.
    customers : ibis.Table, optional
        Keep the orders of these customers (:func:`restrict`).

    Returns
    -------
    ibis.Table
        The same columns, fewer rows.

    Examples
    --------
    >>> import ibis
    >>> o = ibis.memtable({"customer_sk": [1, 2, None], "order_ts": [datetime(2024, 1, 1)] * 3,
    ...     "status": ["completed", "cancelled", "completed"]})
    >>> counted_orders(o).count().execute(), counted_orders(o, excluded=()).count().execute()
    (1, 2)
    """
    statuses = tuple(excluded) if excluded is not None else excluded_statuses(config)
    o = orders.filter(orders.customer_sk.notnull(), orders.status.notnull())
    if statuses:
        o = o.filter(~o.status.isin(list(statuses)))
    if as_of is not None:
        o = o.filter(o.order_ts <= _lit(as_of))
    if start is not None:
        o = o.filter(o.order_ts >= _lit(start))
    if end is not None:
        o = o.filter(o.order_ts < _lit(end))
    return restrict(o, customers)


def placed_orders(
    orders: ir.Table, *, start: datetime, end: datetime, customers: ir.Table | None = None
) -> ir.Table:
    """Orders placed in ``[start, end)`` that were not cancelled (:data:`PLACED_STATUSES`),
    by a status that came from the data: rows whose status ingest filled in
    (:data:`STATUS_DEFAULTED`) are left out, their status says nothing.

    Examples
    --------
    >>> import ibis
    >>> o = ibis.memtable({"order_ts": [datetime(2024, 1, 2)] * 3,
    ...     "status": ["returned", "completed", "completed"],
    ...     "status_defaulted": [False, False, True]})
    >>> placed_orders(o, start=datetime(2024, 1, 1), end=datetime(2024, 2, 1)).count().execute()
    2
    """
    o = orders.filter(
        orders.order_ts >= _lit(start),
        orders.order_ts < _lit(end),
        orders.status.isin(list(PLACED_STATUSES)),
    )
    if STATUS_DEFAULTED in o.columns:  # a table built before the marker has none
        o = o.filter(~o[STATUS_DEFAULTED].fill_null(False))
    return restrict(o, customers)


def status_not_recorded(
    orders: ir.Table, *, start: datetime, end: datetime, customers: ir.Table | None = None
) -> str:
    """Why a return rate over ``[start, end)`` is not available: :data:`NO_STATUS` when the
    window has orders but not one whose status came from the data (an orders file without a
    status column: ingest set every status to completed); empty otherwise.

    Examples
    --------
    >>> import ibis
    >>> o = ibis.memtable({"order_ts": [datetime(2024, 1, 2)] * 2,
    ...     "status": ["completed"] * 2, "status_defaulted": [True, True]})
    >>> status_not_recorded(o, start=datetime(2024, 1, 1), end=datetime(2024, 2, 1))
    'status_defaulted'
    >>> status_not_recorded(o, start=datetime(2024, 2, 1), end=datetime(2024, 3, 1))
    ''
    """
    if STATUS_DEFAULTED not in orders.columns:
        return ""
    o = restrict(
        orders.filter(orders.order_ts >= _lit(start), orders.order_ts < _lit(end)), customers
    )
    row = o.aggregate(
        n=o.count(), recorded=(~o[STATUS_DEFAULTED].fill_null(False)).cast("int64").sum()
    ).to_pandas()
    n, recorded = (int(v) for v in row.iloc[0].fillna(0))
    return NO_STATUS if n and not recorded else ""


def customer_flow(
    orders: ir.Table,
    *,
    start: datetime,
    end: datetime,
    config: _config.Config | None = None,
    customers: ir.Table | None = None,
    active_days: int = ACTIVE_DAYS,
) -> dict[str, int]:
    """The customers at a period's start and end (one query).

    With W = max(``active_days``, end − start): S customers with a counted order in
    ``[start − W, start)``; E in ``[end − W, end)``; N whose first counted order ever is in
    ``[start, end)``; retained: in S and in E.

    Examples
    --------
    C1 buys in January and April, C2 only in January; the quarter is April–June, W = 365 days:
    both are customers at the start (S = 2), both still are at the end (E = 2: C2's January
    order is within 365 days), so none is lost.

    >>> import ibis
    >>> o = ibis.memtable({"customer_sk": [1, 1, 2], "status": ["completed"] * 3,
    ...     "order_ts": [datetime(2024, 1, 5), datetime(2024, 4, 5), datetime(2024, 1, 9)]})
    >>> customer_flow(o, start=datetime(2024, 4, 1), end=datetime(2024, 7, 1))
    {'S': 2, 'E': 2, 'N': 0, 'retained': 2}
    """
    per = customer_flow_flags(
        orders, start=start, end=end, config=config, customers=customers, active_days=active_days
    )
    row = _flow_counts(per, start).to_pandas().iloc[0]
    return {k: int(0 if pd.isna(v) else v) for k, v in row.items()}


def customer_flow_flags(
    orders: ir.Table,
    *,
    start: datetime,
    end: datetime,
    config: _config.Config | None = None,
    customers: ir.Table | None = None,
    active_days: int = ACTIVE_DAYS,
) -> ir.Table:
    """Per customer with a counted order before ``end``: ``customer_sk``, ``first`` (first
    counted order), ``in_s`` / ``in_e`` (a customer at the start / at the end; see
    :func:`customer_flow`)."""
    w = max(timedelta(days=active_days), end - start)
    o = counted_orders(orders, config=config, end=end, customers=customers)
    ts = o.order_ts
    # grouped by the integer surrogate key (set at ingest): about twice as fast as the text id
    return o.group_by("customer_sk").aggregate(
        first=ts.min(),
        in_s=((ts >= _lit(start - w)) & (ts < _lit(start))).any(),
        in_e=(ts >= _lit(end - w)).any(),
    )


def _flow_counts(per: ir.Table, start: datetime, by: Sequence[str] = ()) -> ir.Table:
    """S, E, N and retained of :func:`customer_flow_flags` (per group of ``by``)."""
    metrics = {
        "S": per.in_s.cast("int64").sum(),
        "E": per.in_e.cast("int64").sum(),
        "N": (per.first >= _lit(start)).cast("int64").sum(),
        "retained": (per.in_s & per.in_e).cast("int64").sum(),
    }
    return per.group_by(list(by)).aggregate(**metrics) if by else per.aggregate(**metrics)


def customer_churn(flow: dict[str, int], *, window: str = "") -> stats.Metric:
    """Customer churn (``customer_churn``) from a :func:`customer_flow`: (S − retained) / S.

    >>> customer_churn({"S": 4, "E": 3, "N": 0, "retained": 3}).value
    0.25
    """
    return stats.Metric.rate(
        "customer_churn",
        flow["S"] - flow["retained"],
        flow["S"],
        definition=MEASURES["customer_churn"].definition(),
        window=window,
    )


# ---------------------------------------------------------------------------------------------
# buyer churn
# ---------------------------------------------------------------------------------------------


def buyer_churn_flags(
    orders: ir.Table,
    windows: Sequence[periods.Period],
    *,
    config: _config.Config | None = None,
    customers: ir.Table | None = None,
) -> ir.Table:
    """Per window and buyer of the window before it: did the buyer buy again?

    For each window ``[start, end)`` of ``windows`` the base is every customer with a counted
    order in the equally long window before it, ``[start − (end − start), start)``; ``churned``
    is 1 when that customer has no counted order in ``[start, end)``.

    Parameters
    ----------
    orders : ibis.Table
    windows : sequence of Period
        E.g. :func:`crmkit.periods.rolling_quarters`; each may have its own length.
    config, customers
        As in :func:`counted_orders`.

    Returns
    -------
    ibis.Table
        ``customer_sk``, ``period_end`` (the window's end), ``churned`` (0 / 1).
    """
    ws = sorted(windows, key=lambda p: p.start)
    if not ws:
        raise ValueError("windows is empty; pass at least one Period, e.g. rolling_quarters()")
    length = ws[0].end - ws[0].start
    if any(p.end - p.start != length for p in ws) or any(
        a.end != b.start for a, b in zip(ws, ws[1:], strict=False)
    ):
        raise ValueError(
            "windows must be consecutive and equally long (e.g. rolling_quarters()); got "
            + ", ".join(p.describe() for p in ws)
        )
    # one scan: bucket j is [end − length·(j+1), end − length·j), j = 0 the last window; the
    # base of window j is bucket j + 1
    end = ws[-1].end
    bounds = [end - length * (j + 1) for j in range(len(ws) + 1)]
    o = counted_orders(orders, config=config, start=bounds[-1], end=end, customers=customers)
    bucket = ibis.cases(*[(o.order_ts >= _lit(b), j) for j, b in enumerate(bounds)])
    act = o.select("customer_sk", q=bucket).distinct()
    base = act.filter(act.q >= 1).select("customer_sk", k=act.q - 1)
    now = act.select(sk=act.customer_sk, q=act.q)
    j = base.left_join(now, (base.customer_sk == now.sk) & (base.k == now.q))
    ends = ibis.cases(*[(j.k == i, _lit(end - length * i)) for i in range(len(ws))])
    return j.select(customer_sk=j.customer_sk, period_end=ends, churned=j.sk.isnull().cast("int64"))


def buyer_churn_metric(k: int, n: int, start: datetime, end: datetime) -> stats.Metric:
    """The buyer-churn :class:`~crmkit.stats.Metric` of ``[start, end)`` from its counts."""
    days = round((end - start).total_seconds() / 86400)
    key = BUYER_CHURN_KEYS.get(days, "buyer_churn")
    return stats.Metric.rate(
        key,
        k,
        n,
        definition=MEASURES[key].definition(),
        window=f"{start:%Y-%m-%d} ≤ t < {end:%Y-%m-%d}",
    )


def buyer_churn(
    orders: ir.Table,
    *,
    start: date | datetime,
    end: date | datetime,
    config: _config.Config | None = None,
    customers: ir.Table | None = None,
) -> stats.Metric:
    """Buyer churn of ``[start, end)``: buyers of the window before with no
    counted order in this one / buyers of the window before.

    Examples
    --------
    Buyers of 2 Jan – 2 Apr 2024: C1 and C2; only C1 buys again in the 91 days after, so one of
    two churned:

    >>> import ibis
    >>> o = ibis.memtable({"customer_sk": [1, 1, 2], "status": ["completed"] * 3,
    ...     "order_ts": [datetime(2024, 1, 5), datetime(2024, 4, 5), datetime(2024, 1, 9)]})
    >>> m = buyer_churn(o, start=datetime(2024, 4, 2), end=datetime(2024, 7, 2))
    >>> m.numerator, m.denominator, m.value
    (1, 2, 0.5)
    """
    s, e = window(start, end)
    flags = buyer_churn_flags(
        orders, [periods.Period("", "window", s, e)], config=config, customers=customers
    )
    row = flags.aggregate(n=flags.count(), k=flags.churned.sum()).to_pandas().iloc[0]
    n = int(row.n or 0)
    k = int(0 if pd.isna(row.k) else row.k)
    return buyer_churn_metric(k, n, s, e)


#: The churn measures :func:`churn_rate` computes.
CHURN_MEASURES = ("buyer_churn", "customer_churn")


def churn_rate(
    con_or_orders: BaseBackend | ir.Table,
    *,
    start: date | datetime,
    end: date | datetime,
    measure: str = "buyer_churn",
    by: str | Sequence[str] | None = None,
    customers: ir.Table | None = None,
    config: _config.Config | None = None,
) -> pd.DataFrame:
    """Churn over ``[start, end)``, overall or per group, as a metric frame.

    Parameters
    ----------
    con_or_orders : ibis backend or ibis.Table
        The warehouse / a snapshot (its ``orders`` and, for ``by``, ``customers``), or an orders
        table with ``customer_sk``, ``order_ts``, ``status``.
    start, end : date or datetime
        The window (half-open).
    measure : {"buyer_churn", "customer_churn"}
        :func:`buyer_churn` (buyers of the window before, gone in this one) or customer churn
        (customers at ``start``, with a counted order in the 365 days before, who are no
        customers at ``end``; the KPI).
    by : str or list of str, optional
        Columns of ``customers`` to group by (e.g. ``"province"``); needs ``customers``.
    customers : ibis.Table, optional
        The customers in scope (with ``customer_sk``); with ``by``, also the group columns.
        Default with a backend and ``by``: its ``customers`` table.
    config : Config, optional
        Whose counted-order rule applies.

    Returns
    -------
    pandas.DataFrame
        The ``by`` columns, then :data:`crmkit.stats.METRIC_COLUMNS`; one row per group (one row
        in all without ``by``), groups sorted.

    Examples
    --------
    C1 (north) buys in both quarters, C2 (south) only in the first: in the north nobody
    churned, in the south one of one.

    >>> import ibis
    >>> o = ibis.memtable({"customer_sk": [1, 1, 2], "status": ["completed"] * 3,
    ...     "order_ts": [datetime(2024, 1, 5), datetime(2024, 4, 5), datetime(2024, 1, 9)]})
    >>> c = ibis.memtable({"customer_sk": [1, 2], "region": ["north", "south"]})
    >>> f = churn_rate(o, start=datetime(2024, 4, 1), end=datetime(2024, 6, 30), by="region",
    ...                customers=c)
    >>> f[["region", "numerator", "denominator", "value"]].values.tolist()
    [['north', 0.0, 1.0, 0.0], ['south', 1.0, 1.0, 1.0]]
    """
    if measure not in CHURN_MEASURES:
        raise ValueError(f"measure {measure!r} is not one of {list(CHURN_MEASURES)}")
    keys = [by] if isinstance(by, str) else list(by or [])
    is_table = isinstance(con_or_orders, ir.Table)
    orders = con_or_orders if is_table else con_or_orders.table("orders")
    if keys and customers is None and not is_table:
        customers = con_or_orders.table("customers")
    if keys and customers is None:
        raise ValueError(f"by={by!r} needs the customers table with those columns (customers=...)")
    missing = [k for k in keys if k not in customers.columns] if keys else []
    if missing:
        raise ValueError(f"customers has no column {missing}; it has {list(customers.columns)}")
    s, e = window(start, end)
    if measure == "buyer_churn":
        per = buyer_churn_flags(
            orders, [periods.Period("", "window", s, e)], config=config, customers=customers
        )
    else:
        per = customer_flow_flags(orders, start=s, end=e, config=config, customers=customers)
    if keys:
        dims = customers.select("customer_sk", *keys).distinct()
        per = per.join(dims, "customer_sk")
    if measure == "buyer_churn":
        m = {"n": per.count(), "k": per.churned.sum()}
        counts = (per.group_by(keys).aggregate(**m) if keys else per.aggregate(**m)).to_pandas()
        metrics = [
            buyer_churn_metric(int(0 if pd.isna(r.k) else r.k), int(r.n), s, e)
            for r in counts.itertuples()
        ]
    else:
        counts = _flow_counts(per, s, keys).to_pandas().fillna(0)
        metrics = [
            customer_churn(
                {c: int(getattr(r, c)) for c in ("S", "E", "N", "retained")},
                window=f"{s:%Y-%m-%d} ≤ t < {e:%Y-%m-%d}",
            )
            for r in counts.itertuples()
        ]
    frame = stats.metric_frame(metrics, **{k: counts[k].tolist() for k in keys})
    return frame.sort_values(keys).reset_index(drop=True) if keys else frame


# ---------------------------------------------------------------------------------------------
# the complaint first-response SLA
# ---------------------------------------------------------------------------------------------

#: The keys of the settings' ``sla`` section (``classification_rules.json``).
SLA_KEYS = ("first_response_hours", "business_hours", "workdays", "holiday_calendar")


def _minutes(hhmm: str | time) -> int:
    """Minutes after midnight of ``"HH:MM"`` (``"24:00"`` is the end of the day)."""
    if isinstance(hhmm, time):
        return hhmm.hour * 60 + hhmm.minute
    try:
        h, m = str(hhmm).split(":")
        out = int(h) * 60 + int(m)
    except ValueError:
        raise ValueError(f"business hours {hhmm!r}: expected 'HH:MM', e.g. '09:00'") from None
    if not 0 <= out <= 24 * 60:
        raise ValueError(f"business hours {hhmm!r}: expected a time of day 00:00-24:00")
    return out


@dataclass(frozen=True)
class SlaPolicy:
    """The complaint first-response standard (响应时限) and the clock it runs on.

    Parameters
    ----------
    first_response_hours : float
        Target for the first response (default 2 hours, the guides' standard).
    business_hours : (str, str), optional
        ``("09:00", "18:00")`` counts only time inside these hours on workdays; ``None``
        (default) runs the clock around the clock.
    workdays : tuple of int
        Weekdays with business hours, Monday = 0 (default Monday–Friday).
    holiday_calendar : str, optional
        With business hours: the country (ISO code such as ``"CN"``) whose workday calendar
        (:func:`crmkit.calendars.workday_table`) decides which days have them — a statutory
        holiday has none whatever its weekday, a make-up workday (调休) on a weekend has them.
        ``None`` (default): the weekdays of ``workdays``, every week alike.

    Examples
    --------
    >>> p = SlaPolicy(business_hours=("09:00", "18:00"), holiday_calendar="CN")
    >>> p.target_seconds, "CN workdays" in p.describe()
    (7200, True)
    """

    first_response_hours: float = 2.0
    business_hours: tuple[str, str] | None = None
    workdays: tuple[int, ...] = (0, 1, 2, 3, 4)
    holiday_calendar: str | None = None

    def __post_init__(self) -> None:
        # lists (as read from JSON) become tuples, so that a policy stays hashable
        object.__setattr__(self, "workdays", tuple(self.workdays))
        if self.business_hours is not None:
            object.__setattr__(self, "business_hours", tuple(self.business_hours))
        if not (self.first_response_hours > 0):
            raise ValueError(f"first_response_hours must be > 0, got {self.first_response_hours!r}")
        if not self.workdays or any(
            isinstance(d, bool) or d not in range(7) for d in self.workdays
        ):
            raise ValueError(f"workdays {self.workdays}: expected weekdays 0 (Mon) .. 6")
        if self.business_hours is not None:
            if len(self.business_hours) != 2:
                raise ValueError(
                    f"business hours {self.business_hours}: expected (start, end), e.g. "
                    "('09:00', '18:00')"
                )
            a, b = (_minutes(x) for x in self.business_hours)
            if a >= b:
                raise ValueError(
                    f"business hours {self.business_hours}: the start must be before the end"
                )
        if self.holiday_calendar is not None:
            try:
                calendars.is_workday(date(2024, 1, 1), country=self.holiday_calendar)
            except ValueError as e:
                raise ValueError(f"holiday_calendar: {e}") from None
            object.__setattr__(self, "holiday_calendar", self.holiday_calendar.upper())

    @property
    def target_seconds(self) -> int:
        return round(self.first_response_hours * 3600)

    def describe(self) -> str:
        """The policy in words (shown with the numbers it produced)."""
        weekdays = ",".join(str(d) for d in self.workdays)
        if not self.business_hours:
            clock = "wall clock, 24/7"
        elif self.holiday_calendar:
            clock = (
                f"business hours {self.business_hours[0]}-{self.business_hours[1]} on "
                f"{self.holiday_calendar} workdays (weekdays {weekdays}, Mon=0; statutory "
                "holidays off, make-up workdays on)"
            )
        else:
            clock = (
                f"business hours {self.business_hours[0]}-{self.business_hours[1]} on weekdays "
                f"{weekdays} (Mon=0)"
            )
        return f"first response within {self.first_response_hours:g} h, {clock}"

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


def sla_policy(config: _config.Config | None = None) -> SlaPolicy:
    """The complaint SLA of the company's settings: the ``sla`` section of its
    ``classification_rules.json``.

    ``{"first_response_hours": 2, "business_hours": null, "workdays": [0, 1, 2, 3, 4],
    "holiday_calendar": "CN"}``: a first response within 2 hours, on the wall clock
    (``business_hours`` null) or, with ``"business_hours": ["09:00", "18:00"]``, counting only
    business hours on workdays — the weekdays of ``workdays`` adjusted by the workday calendar
    of ``holiday_calendar`` (statutory holidays off, 调休 make-up workdays on; null: no
    adjustment). A key left out takes :class:`SlaPolicy`'s default; a file without the
    section gets the default policy.

    Parameters
    ----------
    config : Config or path-like, optional
        Default :func:`crmkit.config.load` (``$CRMKIT_CONFIG`` or the packaged settings).

    Returns
    -------
    SlaPolicy

    Raises
    ------
    crmkit.config.ConfigError
        When the section or one of its values is malformed; the message names the file, the
        key, what it holds and what is expected.

    Examples
    --------
    >>> sla_policy().describe()
    'first response within 2 h, wall clock, 24/7'
    >>> cfg = _config.load().replace_rules({"sla": {"business_hours": ["09:00", "18:00"]}})
    >>> sla_policy(cfg).business_hours, sla_policy(cfg).holiday_calendar
    (('09:00', '18:00'), 'CN')
    """
    cfg = _config.load(config)
    where = cfg.path("rules")
    section = cfg.rules.get("sla", {})

    def error(message: str) -> _config.ConfigError:
        return _config.ConfigError(f"{where}: {message}")

    if not isinstance(section, dict):
        raise error(
            f'sla is {section!r}; expected an object such as {{"first_response_hours": 2, '
            '"business_hours": null, "workdays": [0, 1, 2, 3, 4], "holiday_calendar": "CN"}'
        )
    unknown = sorted(set(section) - set(SLA_KEYS))
    if unknown:
        raise error(f"sla has unknown key(s) {unknown}; expected some of {list(SLA_KEYS)}")
    hours = section.get("first_response_hours", SlaPolicy.first_response_hours)
    if isinstance(hours, bool) or not isinstance(hours, int | float) or not 0 < hours < 1e6:
        raise error(
            f"sla.first_response_hours is {hours!r}; expected a number of hours > 0, e.g. 2"
        )
    bh = section.get("business_hours")
    if bh is not None:
        try:
            ok = isinstance(bh, list) and len(bh) == 2 and all(isinstance(x, str) for x in bh)
            ok = ok and _minutes(bh[0]) < _minutes(bh[1])
        except ValueError:
            ok = False
        if not ok:
            raise error(
                f"sla.business_hours is {bh!r}; expected null (the clock runs round the clock) "
                'or ["HH:MM", "HH:MM"] with the start before the end, e.g. ["09:00", "18:00"]'
            )
    workdays = section.get("workdays", list(SlaPolicy.workdays))
    if (
        not isinstance(workdays, list)
        or not workdays
        or any(isinstance(d, bool) or not isinstance(d, int) or d not in range(7) for d in workdays)
    ):
        raise error(
            f"sla.workdays is {workdays!r}; expected weekday numbers 0 (Mon) .. 6 (Sun), e.g. "
            "[0, 1, 2, 3, 4]"
        )
    holiday = section.get("holiday_calendar")
    if holiday is not None:
        try:
            if not isinstance(holiday, str):
                raise ValueError
            calendars.is_workday(date(2024, 1, 1), country=holiday)
        except ValueError:
            raise error(
                f"sla.holiday_calendar is {holiday!r}; expected null or a country code the "
                'holidays package knows, e.g. "CN" (see holidays.list_supported_countries())'
            ) from None
    return SlaPolicy(float(hours), bh, tuple(workdays), holiday)


# 1970-01-05 was a Monday: weeks counted from it start on Mondays
_MONDAY = 4 * 86400


def _weekday_clock(ts: ir.TimestampValue, policy: SlaPolicy) -> ir.IntegerValue:
    """Business seconds from 1970-01-05 00:00 (a Monday) up to ``ts``, counting only
    ``policy.business_hours`` on ``policy.workdays`` every week alike. Differences of it give
    business time between two timestamps across nights and weekends."""
    a, b = (60 * _minutes(x) for x in policy.business_hours)
    per_day = b - a
    days = sorted(set(policy.workdays))
    before = [sum(1 for d in days if d < dow) for dow in range(7)]
    s = ts.epoch_seconds().cast("int64") - _MONDAY
    day = s // 86400
    week, dow, sod = day // 7, day % 7, s % 86400
    days_before = ibis.cases(*((dow == i, before[i]) for i in range(7)), else_=0)
    in_day = ibis.greatest(ibis.least(sod, b) - a, 0)
    today = ibis.ifelse(dow.isin(days), in_day, 0)
    return week * (len(days) * per_day) + days_before * per_day + today


def _calendar_elapsed(t: ir.Table, policy: SlaPolicy, as_of: datetime) -> ir.Table:
    """``t`` with ``_sla_elapsed``: business seconds from ``opened_at`` to ``_sla_end`` on the
    workday calendar of ``policy.holiday_calendar``.

    One row per date from the earliest to the latest moment involved (a small table built from
    :func:`crmkit.calendars.workday_table`) carries the business seconds of the days before
    it; the clock at ``ts`` is that number for ``ts``'s date plus, on a workday, the business
    time already worked that day. Joined twice (start and end), no per-row Python."""
    a, b = (60 * _minutes(x) for x in policy.business_hours)
    span = (
        t.aggregate(
            opened_min=t.opened_at.min(),
            opened_max=t.opened_at.max(),
            answered_min=t.first_response_at.min(),
        )
        .to_pandas()
        .iloc[0]
    )
    moments = [pd.Timestamp(as_of), *(span[c] for c in span.index if pd.notna(span[c]))]
    days = calendars.workday_table(
        min(moments).date(),
        max(moments).date(),
        country=policy.holiday_calendar,
        weekdays=policy.workdays,
    )
    cal = ibis.memtable(
        pd.DataFrame(
            {
                "_sla_day": days.date,
                "_sla_workday": days.workday,
                "_sla_before": days.workdays_before * (b - a),
            }
        )
    )

    def clock(tt: ir.Table, column: str, name: str, c: ir.Table) -> ir.Table:
        ts = tt[column]
        sod = ts.hour().cast("int64") * 3600 + ts.minute() * 60 + ts.second()
        today = ibis.ifelse(c._sla_workday, ibis.greatest(ibis.least(sod, b) - a, 0), 0)
        j = tt.left_join(c, ts.date() == c._sla_day)
        return j.select(tt, **{name: c._sla_before + today})

    t = clock(t, "opened_at", "_sla_c0", cal)
    t = clock(t, "_sla_end", "_sla_c1", cal.view())
    return t.mutate(_sla_elapsed=t._sla_c1 - t._sla_c0).drop("_sla_c0", "_sla_c1")


def sla_flags(tickets: ir.Table, *, as_of: datetime, policy: SlaPolicy) -> ir.Table:
    """Each ticket's first-response SLA outcome at ``as_of``: the one SLA-breach rule.

    A ticket first answered by ``as_of`` within the target has *met* the SLA, answered later
    it is *breached*. A ticket not answered by ``as_of`` is *breached* once its clock has run
    past the target, and *pending* (no outcome yet, counted neither way) before that. *Due* =
    the outcome is known (answered, or unanswered past the target); attainment is met / due.
    The clock is :class:`SlaPolicy`'s: wall clock, or business hours on workdays.

    Parameters
    ----------
    tickets : ibis.Table
        With ``opened_at`` and ``first_response_at`` (NULL: not answered); every other column
        is kept. Filter to the tickets opened by ``as_of`` first when that is what you count.
    as_of : datetime
        The moment the flags describe. A first response after it had not happened then: the
        ticket counts as unanswered, so a past date is scored without looking ahead.
    policy : SlaPolicy
        The target and the clock; the company's is :func:`sla_policy` ``(config)``.

    Returns
    -------
    ibis.Table
        ``tickets`` plus ``response_seconds`` (int64: opened → first response on the policy's
        clock; NULL when not answered by ``as_of``), ``waited_seconds`` (to the first response,
        or to ``as_of`` while unanswered), and the booleans ``answered``, ``due``, ``met``,
        ``breached`` (= due and not met) and ``pending`` (= not due).

    Examples
    --------
    At noon on Monday 2026-01-12, target 2 h on the wall clock: T1 (opened 09:00, unanswered)
    has waited 3 h — breached; T2 (11:00, unanswered) 1 h — pending; T3 (08:00, answered
    08:30) met; T4 (09:00, answered 11:30) 2.5 h — breached; T5 (10:00, answered 12:30,
    after as_of) counts as unanswered for 2 h, not past the target — pending.

    >>> t = ibis.memtable({"ticket_id": ["T1", "T2", "T3", "T4", "T5"],
    ...     "opened_at": [datetime(2026, 1, 12, h) for h in (9, 11, 8, 9, 10)],
    ...     "first_response_at": [None, None, datetime(2026, 1, 12, 8, 30),
    ...                           datetime(2026, 1, 12, 11, 30), datetime(2026, 1, 12, 12, 30)]})
    >>> f = sla_flags(t, as_of=datetime(2026, 1, 12, 12), policy=SlaPolicy())
    >>> f = f.order_by("ticket_id").to_pandas()
    >>> f.breached.tolist(), f.pending.tolist()
    ([True, False, False, True, False], [False, True, False, False, True])
    >>> f.waited_seconds.tolist(), f.met.tolist()
    ([10800, 3600, 1800, 9000, 7200], [False, False, True, False, False])
    """
    missing = [c for c in ("opened_at", "first_response_at") if c not in tickets.columns]
    if missing:
        raise ValueError(
            f"sla_flags: tickets lack column(s) {missing}; the table has {list(tickets.columns)}"
        )
    t = tickets
    # an all-empty column (e.g. no ticket answered yet, read from a file) has no type yet
    untyped = {
        c: t[c].cast("timestamp")
        for c in ("opened_at", "first_response_at")
        if not t[c].type().is_timestamp()
    }
    t = t.mutate(**untyped) if untyped else t
    now = ibis.literal(as_of, type="timestamp")
    fr = t.first_response_at
    answered = fr.notnull() & (fr <= now)
    t = t.mutate(_sla_answered=answered, _sla_end=ibis.ifelse(answered, fr, now))
    if policy.business_hours is None:
        start, end = t.opened_at.epoch_seconds(), t._sla_end.epoch_seconds()
        t = t.mutate(_sla_elapsed=end.cast("int64") - start.cast("int64"))
    elif policy.holiday_calendar is None:
        clock0, clock1 = _weekday_clock(t.opened_at, policy), _weekday_clock(t._sla_end, policy)
        t = t.mutate(_sla_elapsed=clock1 - clock0)
    else:
        t = _calendar_elapsed(t, policy, as_of)
    target = policy.target_seconds
    answered, waited = t._sla_answered, t._sla_elapsed
    due = answered | (waited > target)
    met = answered & (waited <= target)
    return t.mutate(
        response_seconds=ibis.ifelse(answered, waited, ibis.null("int64")),
        waited_seconds=waited,
        answered=answered,
        due=due,
        met=met,
        breached=due & ~met,
        pending=~due,
    ).drop("_sla_answered", "_sla_end", "_sla_elapsed")
