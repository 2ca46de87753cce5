"""KPIs with their definitions (口径), targets, sales opportunities and return-rate alerts.

Every KPI is declared once in :data:`REGISTRY` — key, zh / en name, numerator, denominator,
window, filters, unit, direction (higher is better?) and the function that computes it — and
computed for a period ``[start, end)`` over a customer scope by :func:`compute` /
:func:`compute_all`. Each value comes back as a :class:`KPIValue` with numerator, denominator,
n, a Wilson 95 % interval where it is a rate (:func:`crmkit.stats.wilson`) and the
small-sample flag (n < :data:`crmkit.stats.MIN_N`).

Definitions (the same on the overview page, in ``crmkit report`` and in notebook 05)
-----------------------------------------------------------------------------------
A **counted order** is an order whose status is not excluded by the classification rules
(returned, refunded and cancelled are not purchases; ``crmkit/config/classification_rules.json``).
A **customer at a date d** is a customer in scope with a counted order in the trailing window
``[d − W, d)``, W = :data:`ACTIVE_DAYS` (365 days, or the period's length if longer, so a
customer new in the period is always a customer at its end).

- retention rate 客户保留率 = (E − N) / S: S customers at ``start``, E customers at ``end``,
  N new customers in the period (first counted order ever in ``[start, end)``). Customers who
  come back after more than W days count in E − N, so the value can exceed 100 %; the
  interval is then not given. ``retained`` (in S and in E) is returned alongside.
- churn rate 客户流失率 = (S − retained) / S: customers at ``start`` who are no customers at
  ``end``. (1 − churn ≠ retention exactly: reactivated customers are in E − N only.)
- new customers 新客户获取数量 = N.
- sales conversion rate 销售转化率 = won / closed opportunities (closed in the period).
- lead conversion 线索转化率 = of prospects (no counted order before ``start``) with a sales
  opportunity open during the period, the share whose first counted order falls in it.
- return rate 退货率 = returned orders / orders placed in the period that were not cancelled
  (completed, returned, refunded).
- average order value 客单价 = revenue / number of counted orders placed in the period; its
  interval is mean ± 1.96·sd/√n.

KPIs computed by other modules (NPS, CSAT, complaint SLA, repurchase rate, referral rate,
CLV) are declared here with their definition and the dotted path of their compute function,
imported lazily: while that module or function does not exist the KPI reports itself as
unavailable with the reason, never a number. The function they must provide::

    fn(con, *, start: datetime, end: datetime, customers: ibis.Table | None,
       config: Config | None) -> Mapping

returning ``{"numerator": int, "denominator": int}`` for a rate (the interval is added here)
or ``{"value": float, "n": int, "lo": float | None, "hi": float | None}`` for a score or an
amount (a :class:`crmkit.stats.Metric` is accepted too).

Targets (:func:`load_targets`, ``crmkit/config/kpi_targets.json``) are kept per KPI for
months, quarters and years; :func:`evaluate` adds attainment, gap, the trend over the previous
periods and a forecast of the period end (linear run-rate, :func:`forecast`).

Examples
--------
>>> period = parse_period("2025-Q3")
>>> period.start, period.end
(datetime.datetime(2025, 7, 1, 0, 0), datetime.datetime(2025, 10, 1, 0, 0))
>>> period.previous().label
'2025-Q2'
"""

from __future__ import annotations

import importlib
import json
import math
import os
from collections.abc import Callable, Iterable, Mapping
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from importlib import resources
from pathlib import Path
from typing import Any

import ibis
import ibis.expr.types as ir
import numpy as np
import pandas as pd
from ibis.backends import BaseBackend

from crmkit import db, definitions, stats
from crmkit.config import Config
from crmkit.periods import (
    KINDS,
    Period,
    data_end,
    last_complete_period,
    parse_period,
    period_containing,
    target_kind,
    trailing_window,
)

Z95 = stats.Z95
_TS = "timestamp"

# ---------------------------------------------------------------------------------------------
# The registry
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Measure:
    """What a compute function returns: counts, and for non-rates the value and interval."""

    numerator: float | None = None
    denominator: float | None = None
    value: float | None = None
    n: int | None = None
    lo: float | None = None
    hi: float | None = None
    extras: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class KPIContext:
    """One computation: the connection, the period, the customer scope and the data clock."""

    con: BaseBackend
    start: datetime
    end: datetime
    customers: ir.Table | None = None
    as_of: datetime | None = None
    active_days: int = definitions.ACTIVE_DAYS
    config: Config | None = None
    cache: dict = field(default_factory=dict, compare=False, repr=False)

    @property
    def effective_end(self) -> datetime:
        """``end``, or the end of the data when the period is not over yet."""
        return min(self.end, data_end(self.as_of)) if self.as_of else self.end

    @property
    def window(self) -> timedelta:
        return max(timedelta(days=self.active_days), self.end - self.start)

    def table(self, name: str) -> ir.Table:
        """A fact table restricted to customers in scope (all rows when there is no scope)."""
        tbl = self.con.table(name)
        if self.customers is None:
            return tbl
        return tbl.semi_join(self.customers.select("customer_id"), "customer_id")


@dataclass(frozen=True)
class KPI:
    """One KPI's definition (口径). ``compute`` is a function of a :class:`KPIContext` or the
    dotted path ``"module:function"`` of one in another module (resolved lazily)."""

    key: str
    zh: str
    en: str
    unit: str  # "rate", "count", "money" or "score"
    higher_is_better: bool
    numerator: tuple[str, str]
    denominator: tuple[str, str] | None
    window: tuple[str, str]
    compute: Callable[[KPIContext], Measure] | str
    filters: tuple[str, str] = ("客户范围：筛选条件内的客户", "customers in the filtered scope")
    issue: int | None = None  # the issue that provides an external compute function
    tables: tuple[str, ...] = ("orders",)  # data tables the compute function reads

    def name(self, lang: str = "zh") -> str:
        return self.zh if lang == "zh" else self.en

    def definition(self, lang: str = "zh") -> str:
        """Numerator / denominator, window and filters in words (shown on hover)."""
        i = 0 if lang == "zh" else 1
        sep, colon = ("；", "：") if lang == "zh" else ("; ", ": ")
        if self.denominator:
            parts = [
                f"{('分子', 'numerator')[i]}{colon}{self.numerator[i]}",
                f"{('分母', 'denominator')[i]}{colon}{self.denominator[i]}",
            ]
        else:
            parts = [self.numerator[i]]
        parts += [self.window[i], self.filters[i]]
        return sep.join(parts)

    @property
    def external(self) -> bool:
        return isinstance(self.compute, str)


@dataclass(frozen=True)
class KPIValue:
    """A KPI computed for one period and scope, with everything needed to show it honestly."""

    key: str
    name: str
    unit: str
    higher_is_better: bool
    period: str
    start: datetime
    end: datetime
    value: float | None
    numerator: float | None
    denominator: float | None
    n: int | None
    lo: float | None
    hi: float | None
    small_sample: bool
    available: bool
    reason: str
    definition: str
    method: str
    extras: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


REGISTRY: dict[str, KPI] = {}


def register(kpi: KPI) -> KPI:
    """Add a KPI to :data:`REGISTRY` (a key is declared once)."""
    if kpi.key in REGISTRY:
        raise ValueError(f"KPI {kpi.key!r} is already declared")
    if kpi.unit not in ("rate", "count", "money", "score"):
        raise ValueError(f"KPI {kpi.key!r}: unit {kpi.unit!r} is not rate/count/money/score")
    REGISTRY[kpi.key] = kpi
    return kpi


def kpi(key: str) -> KPI:
    try:
        return REGISTRY[key]
    except KeyError:
        raise ValueError(f"unknown KPI {key!r}; expected one of: {', '.join(REGISTRY)}") from None


# ---------------------------------------------------------------------------------------------
# Compute functions of the KPIs implemented here
# ---------------------------------------------------------------------------------------------


def _lit(ts: datetime) -> ir.Value:
    return ibis.literal(ts, type=_TS)


def customer_flow(ctx: KPIContext) -> dict[str, int]:
    """:func:`crmkit.definitions.customer_flow` for the context's period (cached on it)."""
    if "flow" not in ctx.cache:
        ctx.cache["flow"] = definitions.customer_flow(
            ctx.table("orders"),
            start=ctx.start,
            end=ctx.effective_end,
            config=ctx.config,
            active_days=ctx.active_days,
        )
    return ctx.cache["flow"]


def lost_customers(
    con: BaseBackend,
    period: Period | str,
    *,
    customers: ir.Table | None = None,
    as_of: datetime | None = None,
) -> ir.Table:
    """The customers behind the churn rate: customers at the period's start who are no
    customers at its end, with ``last_order_ts`` and lifetime ``monetary`` (counted orders),
    most valuable first — the list to win back (挽回)."""
    p = parse_period(period)
    ctx = KPIContext(con, p.start, p.end, customers, as_of or db.data_as_of(con))
    start, end, w = ctx.start, ctx.effective_end, ctx.window
    o = definitions.counted_orders(ctx.table("orders"), config=ctx.config, end=end)
    ts = o.order_ts
    per = o.group_by("customer_sk").aggregate(
        customer_id=o.customer_id.arbitrary(),
        in_s=((ts >= _lit(start - w)) & (ts < _lit(start))).any(),
        in_e=(ts >= _lit(end - w)).any(),
        last_order_ts=ts.max(),
        monetary=o.amount.cast("float64").sum(),
    )
    lost = per.filter(per.in_s, ~per.in_e)
    return lost.select("customer_id", "last_order_ts", "monetary").order_by(
        [ibis.desc("monetary"), "customer_id"]
    )


def _retention(ctx: KPIContext) -> Measure:
    f = customer_flow(ctx)
    kept = f["E"] - f["N"]
    lo = hi = None
    if f["S"] and 0 <= kept <= f["S"]:
        _, lo, hi = stats.wilson(kept, f["S"])
    return Measure(
        kept,
        f["S"],
        value=kept / f["S"] if f["S"] else None,
        lo=lo,
        hi=hi,
        extras={**f, "reactivated": kept - f["retained"]},
    )


def _churn(ctx: KPIContext) -> Measure:
    f = customer_flow(ctx)
    m = definitions.customer_churn(f)
    return Measure(m.numerator, f["S"], extras=f)


def _new_customers(ctx: KPIContext) -> Measure:
    f = customer_flow(ctx)
    return Measure(value=f["N"], n=f["N"], extras=f)


def _closed_opportunities(ctx: KPIContext) -> ir.Table:
    o = ctx.table("opportunities")
    return o.filter(
        o.closed_at >= _lit(ctx.start),
        o.closed_at < _lit(ctx.effective_end),
        o.stage.isin(["won", "lost"]),
    )


def _sales_conversion(ctx: KPIContext) -> Measure:
    c = _closed_opportunities(ctx)
    row = c.aggregate(won=(c.stage == "won").cast("int64").sum(), closed=c.count()).to_pandas()
    won, closed = row.iloc[0].fillna(0)
    return Measure(int(won), int(closed))


def _lead_conversion(ctx: KPIContext) -> Measure:
    start, end = _lit(ctx.start), _lit(ctx.effective_end)
    opp = ctx.table("opportunities")
    active = opp.filter(opp.opened_at < end, opp.closed_at.isnull() | (opp.closed_at >= start))
    o = definitions.counted_orders(ctx.table("orders"), config=ctx.config, end=ctx.effective_end)
    first = o.group_by("customer_sk").aggregate(first=o.order_ts.min())
    leads = active.select("customer_sk").distinct()
    leads = leads.left_join(first, "customer_sk").select(leads.customer_sk, first=first["first"])
    leads = leads.filter(leads["first"].isnull() | (leads["first"] >= start))
    row = leads.aggregate(
        leads=leads.count(),
        converted=(leads["first"].notnull() & (leads["first"] < end)).cast("int64").sum(),
    ).to_pandas()
    n, k = row.iloc[0].fillna(0)
    return Measure(int(k), int(n))


def _return_rate(ctx: KPIContext) -> Measure:
    o = definitions.placed_orders(ctx.table("orders"), start=ctx.start, end=ctx.effective_end)
    row = o.aggregate(
        k=(o.status == definitions.RETURNED).cast("int64").sum(), n=o.count()
    ).to_pandas()
    k, n = row.iloc[0].fillna(0)
    return Measure(int(k), int(n))


def _aov(ctx: KPIContext) -> Measure:
    o = definitions.counted_orders(
        ctx.table("orders"), config=ctx.config, start=ctx.start, end=ctx.effective_end
    )
    # sums of amounts and of their squares in DECIMAL: exact, so the value and its interval do
    # not depend on the order in which threads add them up
    row = (
        o.aggregate(n=o.count(), revenue=o.amount.sum(), sumsq=(o.amount * o.amount).sum())
        .to_pandas()
        .iloc[0]
    )
    n = int(row.n or 0)
    if not n:
        return Measure(value=None, n=0, numerator=0.0, denominator=0)
    total, sumsq = Decimal(str(row.revenue)), Decimal(str(row.sumsq))
    mean = float(total / n)
    half = None
    if n > 1:
        var = float((sumsq - total * total / n) / (n - 1))
        half = Z95 * math.sqrt(max(var, 0.0)) / math.sqrt(n)
    return Measure(
        float(total),
        n,
        value=mean,
        n=n,
        lo=None if half is None else mean - half,
        hi=None if half is None else mean + half,
    )


_W = (
    "截至每个日期的前365天内有计入订单者为该日客户",
    "customer at a date: counted order in the 365 days before it",
)
_P = ("统计期 [开始, 结束)", "period [start, end)")

register(
    KPI(
        "retention_rate", "客户保留率", "Retention rate", "rate", True,
        ("期末客户数 E − 期内新客户数 N", "customers at end E − new customers N"),
        ("期初客户数 S", "customers at start S"),
        _W, _retention,
    )
)  # fmt: skip
register(
    KPI(
        "customer_churn", definitions.MEASURES["customer_churn"].zh,
        definitions.MEASURES["customer_churn"].en, "rate", False,
        definitions.MEASURES["customer_churn"].numerator,
        definitions.MEASURES["customer_churn"].denominator,
        definitions.MEASURES["customer_churn"].window, _churn,
    )
)  # fmt: skip
register(
    KPI(
        "new_customers", "新客户获取数量", "New customers acquired", "count", True,
        (
            "首次计入订单落在统计期内的客户数",
            "customers whose first counted order is in the period",
        ),
        None, _P, _new_customers,
    )
)  # fmt: skip
register(
    KPI(
        "sales_conversion", "销售转化率", "Sales conversion rate", "rate", True,
        ("期内赢单的销售机会", "opportunities won in the period"),
        ("期内关闭（赢单+输单）的销售机会", "opportunities closed (won + lost) in the period"),
        _P, _sales_conversion, tables=("opportunities",),
    )
)  # fmt: skip
register(
    KPI(
        "lead_conversion", "线索转化率", "Lead → customer conversion", "rate", True,
        (
            "其中期内首次下单的客户",
            "of them, customers with their first counted order in the period",
        ),
        (
            "期初未购买且期内有进行中销售机会的潜在客户",
            "prospects (no counted order before start) with an opportunity open in the "
            "period",
        ),
        _P, _lead_conversion, tables=("opportunities", "orders"),
    )
)  # fmt: skip
register(
    KPI(
        "return_rate", "退货率", "Return rate", "rate", False,
        ("期内下单且已退货的订单", "orders placed in the period and returned"),
        ("期内下单且未取消的订单", "orders placed in the period, not cancelled"),
        _P, _return_rate,
    )
)  # fmt: skip
register(
    KPI(
        "avg_order_value", "客单价", "Average order value", "money", True,
        ("期内计入订单的金额合计", "revenue of counted orders placed in the period"),
        ("计入订单数", "number of counted orders"),
        _P, _aov,
    )
)  # fmt: skip

# KPIs computed by the analysis modules (satisfaction, loyalty, churn): declared here with the
# dotted path of their function, resolved lazily so importing crmkit.kpi stays light; a KPI
# whose module or table is missing reports itself unavailable (with the reason).
register(
    KPI(
        "nps", "净推荐值 NPS", "Net Promoter Score", "score", True,
        (
            "推荐者(9–10)占比 − 贬损者(0–6)占比，×100",
            "% promoters (9–10) − % detractors (0–6), ×100",
        ),
        ("期内有 NPS 评分的调查回答", "survey answers with an NPS score in the period"),
        _P, "crmkit.satisfaction:kpi_nps", issue=7, tables=("feedback",),
    )
)  # fmt: skip
register(
    KPI(
        "csat", "满意度 CSAT", "Customer satisfaction (CSAT)", "rate", True,
        ("CSAT 评 4–5 分的回答", "answers with CSAT 4–5"),
        ("期内有 CSAT 评分的回答", "answers with a CSAT score in the period"),
        _P, "crmkit.satisfaction:kpi_csat", issue=7, tables=("feedback",),
    )
)  # fmt: skip
register(
    KPI(
        "complaint_sla", "投诉2小时响应达标率", "Complaint SLA attainment (2 h)", "rate", True,
        ("2小时内首次响应的投诉工单", "complaint tickets first answered within 2 hours"),
        (
            "期内新开的投诉工单（未响应计为超时）",
            "complaint tickets opened in the period (unanswered = breach)",
        ),
        _P, "crmkit.satisfaction:kpi_complaint_sla", issue=7, tables=("tickets",),
    )
)  # fmt: skip
register(
    KPI(
        "repurchase_rate", "回购率", "Repurchase rate", "rate", True,
        ("期内购买≥2次的买家", "buyers with ≥ 2 counted orders in the period"),
        ("期内有购买的买家", "buyers with ≥ 1 counted order in the period"),
        _P, "crmkit.loyalty:kpi_repurchase_rate", issue=8, tables=("orders",),
    )
)  # fmt: skip
register(
    KPI(
        "referral_rate", "推荐率", "Referral rate", "rate", True,
        ("期内推荐过新客户的买家", "buyers who referred someone in the period"),
        ("期内有购买的买家", "buyers in the period"),
        _P, "crmkit.loyalty:kpi_referral_rate", issue=8, tables=("referrals", "orders"),
    )
)  # fmt: skip
register(
    KPI(
        "clv", "客户终身价值 CLV", "Customer lifetime value (CLV)", "money", True,
        (
            "预测未来12个月价值之和（BG/NBD × Gamma-Gamma，月贴现1%，发布时拟合）",
            "predicted 12-month value, summed (BG/NBD × Gamma-Gamma, 1 %/month, fitted at publish)",
        ),
        ("有 CLV 评分的客户（快照时点）", "customers with a CLV score (as of the snapshot)"),
        _P, "crmkit.churn:kpi_clv", issue=8, tables=("clv",),
    )
)  # fmt: skip

#: The KPIs implemented here, in the order the overview shows them.
CORE = (
    "retention_rate",
    "customer_churn",
    "new_customers",
    "sales_conversion",
    "lead_conversion",
    "return_rate",
    "avg_order_value",
)


# ---------------------------------------------------------------------------------------------
# Computing
# ---------------------------------------------------------------------------------------------


def resolve(k: KPI) -> tuple[Callable | None, str]:
    """The compute function of ``k`` and, when it cannot be had, why (empty when it can)."""
    if not k.external:
        return k.compute, ""
    module, _, name = k.compute.partition(":")
    try:
        mod = importlib.import_module(module)
    except ModuleNotFoundError as e:
        if e.name and module.startswith(e.name):
            return None, f"{module} is not installed yet (issue {k.issue})"
        raise
    fn = getattr(mod, name, None)
    if fn is None:
        return None, f"{module} has no {name}() yet (issue {k.issue})"
    return fn, ""


def _from_external(k: KPI, out: Any) -> Measure:
    if isinstance(out, Measure):
        return out
    if isinstance(out, stats.Metric):
        if out.method.startswith("Wilson"):
            return Measure(out.numerator, out.denominator)
        return Measure(
            out.numerator, out.denominator, value=out.value, n=out.n, lo=out.lo, hi=out.hi
        )
    if not isinstance(out, Mapping):
        raise TypeError(
            f"{k.compute} returned {type(out).__name__}; expected a mapping with numerator / "
            "denominator (a rate) or value / n (a score or amount)"
        )
    return Measure(
        out.get("numerator"),
        out.get("denominator"),
        value=out.get("value"),
        n=out.get("n"),
        lo=out.get("lo"),
        hi=out.get("hi"),
        extras={
            x: v
            for x, v in out.items()
            if x not in ("numerator", "denominator", "value", "n", "lo", "hi")
        },
    )


def compute(
    con: BaseBackend,
    key: str,
    period: Period | str,
    *,
    customers: ir.Table | None = None,
    as_of: datetime | None = None,
    lang: str = "zh",
    context: KPIContext | None = None,
) -> KPIValue:
    """One KPI for one period over a customer scope.

    Parameters
    ----------
    con : ibis backend
        The warehouse or a published snapshot.
    key : str
        A key of :data:`REGISTRY`.
    period : Period or str
        ``2025-Q3``, ``2025-07``, ``2025`` or a :class:`Period`.
    customers : ibis.Table, optional
        The customers in scope (at least ``customer_id``); default all.
    as_of : datetime, optional
        The data clock; a period not over yet is computed up to it (see :func:`forecast`).
        Default: the latest timestamp in the data.

    Returns
    -------
    KPIValue
        ``available=False`` with the ``reason`` when the compute function is not there yet.
    """
    k = kpi(key)
    p = parse_period(period)
    if context is None:
        as_of = as_of or db.data_as_of(con)
        context = KPIContext(con, p.start, p.end, customers, as_of)
    ctx = context
    base = dict(
        key=k.key,
        name=k.name(lang),
        unit=k.unit,
        higher_is_better=k.higher_is_better,
        period=p.label,
        start=p.start,
        end=p.end,
        definition=k.definition(lang),
    )
    fn, reason = resolve(k)
    if fn is not None:
        if "tables" not in ctx.cache:
            ctx.cache["tables"] = set(ctx.con.list_tables())
        missing = [x for x in k.tables if x not in ctx.cache["tables"]]
        if missing:
            fn, reason = None, f"no {', '.join(missing)} table in the data"
    if fn is None:
        return KPIValue(
            **base,
            value=None,
            numerator=None,
            denominator=None,
            n=None,
            lo=None,
            hi=None,
            small_sample=False,
            available=False,
            reason=reason,
            method="",
        )
    if k.external:
        m = _from_external(
            k,
            fn(
                ctx.con,
                start=ctx.start,
                end=ctx.effective_end,
                customers=ctx.customers,
                config=ctx.config,
            ),
        )
    else:
        m = fn(ctx)
    value, lo, hi, n = m.value, m.lo, m.hi, m.n
    method = ""
    if k.unit == "rate":
        den = int(m.denominator or 0)
        n = den if n is None else n
        if value is None and den:
            value = m.numerator / den
        if lo is None and den and 0 <= m.numerator <= den:
            _, lo, hi = stats.wilson(int(m.numerator), den)
        method = "Wilson 95 %" if lo is not None else ""
    elif k.unit == "money" and lo is not None:
        method = "mean ± 1.96·sd/√n"
    n = int(n or 0)
    return KPIValue(
        **base,
        value=None if value is None else float(value),
        numerator=m.numerator,
        denominator=m.denominator,
        n=n,
        lo=lo,
        hi=hi,
        small_sample=n < stats.MIN_N,
        available=True,
        reason="",
        method=method,
        extras=dict(m.extras),
    )


def compute_all(
    con: BaseBackend,
    period: Period | str,
    *,
    keys: Iterable[str] | None = None,
    customers: ir.Table | None = None,
    as_of: datetime | None = None,
    lang: str = "zh",
) -> list[KPIValue]:
    """Every KPI (or ``keys``) for one period; queries shared between KPIs run once."""
    p = parse_period(period)
    as_of = as_of or db.data_as_of(con)
    keys = list(keys or REGISTRY)
    if customers is None:
        stored = stored_values(con, p, as_of, lang)
        if stored is not None and all(k in stored for k in keys):
            return [stored[k] for k in keys]
    ctx = KPIContext(con, p.start, p.end, customers, as_of)
    return [
        compute(con, k, p, customers=customers, as_of=as_of, lang=lang, context=ctx) for k in keys
    ]


# ---------------------------------------------------------------------------------------------
# Precomputed at publish time
# ---------------------------------------------------------------------------------------------

#: The snapshot table of precomputed KPI values (all customers): see :func:`publish_tables`.
KPI_TABLE = "kpi_values"
#: Periods before the chosen one that a trend shows.
TREND_PERIODS = 4
#: Complete periods precomputed at publish, per kind: the overview's default (the last complete
#: quarter) with its trend, and the last month and year with the ones before them. Other
#: periods are computed when chosen.
PUBLISHED_PERIODS = {"quarter": TREND_PERIODS + 1, "month": 2, "year": 2}
_STORED = (
    "key",
    "period",
    "start",
    "end",
    "value",
    "numerator",
    "denominator",
    "n",
    "lo",
    "hi",
    "small_sample",
    "available",
    "reason",
    "method",
)


def _none(v: Any) -> Any:
    return None if v is None or (isinstance(v, float) and math.isnan(v)) or v is pd.NA else v


def stored_values(
    con: BaseBackend, period: Period, as_of: datetime, lang: str = "zh"
) -> dict[str, KPIValue] | None:
    """The KPI values of ``period`` (all customers) precomputed in a published snapshot, or None
    when the snapshot has none for that period and data clock."""
    if KPI_TABLE not in con.list_tables():
        return None
    tbl = con.table(KPI_TABLE)
    df = tbl.filter(tbl.period == period.label, tbl.as_of == _lit(as_of)).to_pandas()
    if df.empty:
        return None
    out = {}
    for r in df.to_dict("records"):
        k = REGISTRY.get(r["key"])
        if k is None:
            continue
        n = _none(r["n"])
        out[k.key] = KPIValue(
            key=k.key,
            name=k.name(lang),
            unit=k.unit,
            higher_is_better=k.higher_is_better,
            period=period.label,
            start=period.start,
            end=period.end,
            value=_none(r["value"]),
            numerator=_none(r["numerator"]),
            denominator=_none(r["denominator"]),
            n=None if n is None else int(n),
            lo=_none(r["lo"]),
            hi=_none(r["hi"]),
            small_sample=bool(r["small_sample"]),
            available=bool(r["available"]),
            reason=r["reason"] or "",
            definition=k.definition(lang),
            method=r["method"] or "",
        )
    return out


def publish_tables(
    con: BaseBackend, *, as_of: datetime, config: Config | None = None
) -> dict[str, pd.DataFrame]:
    """The publish step ``kpi``: every KPI over all customers for the last complete periods
    (:data:`PUBLISHED_PERIODS`), so the overview page and the report read them instead of
    scanning the orders when no customer filter is set. Filtered views compute live."""
    periods: dict[str, Period] = {}
    for kind, n in PUBLISHED_PERIODS.items():
        for p in last_complete_period(as_of, kind).previous_n(n - 1):
            periods[p.label] = p
    frames = []
    for p in periods.values():
        ctx = KPIContext(con, p.start, p.end, None, as_of, config=config)
        vals = [compute(con, k, p, as_of=as_of, context=ctx) for k in REGISTRY]
        frames.append(values_frame(vals)[list(_STORED)])
    df = pd.concat(frames, ignore_index=True)
    df["as_of"] = as_of
    for col in ("value", "numerator", "denominator", "lo", "hi", "n"):
        df[col] = pd.to_numeric(df[col], errors="coerce").astype("float64")
    df["reason"] = df.reason.astype("string")
    df["method"] = df.method.astype("string")
    return {KPI_TABLE: df}


def values_frame(values: Iterable[KPIValue]) -> pd.DataFrame:
    """KPI values as one row each (extras dropped)."""
    rows = [{x: v for x, v in asdict(kv).items() if x != "extras"} for kv in values]
    return pd.DataFrame(rows)


# ---------------------------------------------------------------------------------------------
# Targets, attainment, trend and forecast
# ---------------------------------------------------------------------------------------------

TARGETS_FILE = "kpi_targets.json"


def load_targets(path: str | os.PathLike | Mapping | None = None) -> dict[str, Any]:
    """The KPI targets: ``{"version", "targets": {key: {"month"|"quarter"|"year": value}},
    "pipeline": {"stage_probability": {...}}}``; default the packaged
    ``crmkit/config/kpi_targets.json``.

    Raises
    ------
    ValueError
        When a target names an unknown KPI or period kind, or is not a number.
    """
    if isinstance(path, Mapping):
        data = dict(path)
    elif path is None:
        data = json.loads(resources.files("crmkit.config").joinpath(TARGETS_FILE).read_text())
    else:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    for key, per in data.get("targets", {}).items():
        if key not in REGISTRY:
            raise ValueError(f"kpi targets: unknown KPI {key!r}; expected one of {list(REGISTRY)}")
        for kind, v in per.items():
            if kind not in KINDS or not isinstance(v, (int, float)):
                raise ValueError(
                    f"kpi targets: {key}.{kind} = {v!r}; expected month / quarter / year "
                    "with a number"
                )
    return data


def target_for(key: str, period: Period, targets: Mapping | None = None) -> float | None:
    """The target of ``key`` for a period of this kind (None when none is set)."""
    targets = load_targets() if targets is None else targets
    return targets.get("targets", {}).get(key, {}).get(target_kind(period))


def attainment(value: float | None, target: float | None, higher_is_better: bool) -> dict:
    """Attainment (达成率), gap and whether the target is met.

    attainment = value / target when higher is better, target / value when lower is better
    (a value of 0 then meets any target: attainment None, met True); gap = value − target.

    >>> attainment(0.8, 0.85, True)["met"], round(attainment(0.05, 0.04, False)["attainment"], 2)
    (False, 0.8)
    """
    if value is None or target is None or (isinstance(value, float) and math.isnan(value)):
        return {"target": target, "attainment": None, "gap": None, "met": None}
    gap = value - target
    if higher_is_better:
        att = value / target if target else None
        met = value >= target
    else:
        att = target / value if value else None
        met = value <= target
    return {"target": target, "attainment": att, "gap": gap, "met": met}


def forecast(kv: KPIValue, as_of: datetime) -> dict[str, Any]:
    """The period-end forecast, linear run-rate: a count is scaled by period length / elapsed
    time; a rate, score or average keeps its value to date. A finished period's forecast is its
    value."""
    total = (kv.end - kv.start).total_seconds()
    elapsed = (min(kv.end, data_end(as_of)) - kv.start).total_seconds()
    share = max(0.0, min(1.0, elapsed / total)) if total else 1.0
    if kv.value is None or share == 0:
        return {"elapsed": share, "forecast": None, "method": "run-rate"}
    if share >= 1:
        return {"elapsed": 1.0, "forecast": kv.value, "method": "actual"}
    value = kv.value / share if kv.unit == "count" else kv.value
    return {"elapsed": share, "forecast": value, "method": "run-rate"}


def trend(
    con: BaseBackend,
    period: Period | str,
    *,
    periods: int = TREND_PERIODS,
    keys: Iterable[str] = CORE,
    customers: ir.Table | None = None,
    as_of: datetime | None = None,
    lang: str = "zh",
) -> pd.DataFrame:
    """The KPIs over ``period`` and the ``periods`` before it: key, period, start, value, n,
    lo, hi, small_sample, target."""
    p = parse_period(period)
    as_of = as_of or db.data_as_of(con)
    targets = load_targets()
    rows = []
    for q in p.previous_n(periods):
        for kv in compute_all(con, q, keys=list(keys), customers=customers, as_of=as_of, lang=lang):
            rows.append(
                {
                    "key": kv.key,
                    "name": kv.name,
                    "period": q.label,
                    "start": q.start,
                    "value": kv.value,
                    "n": kv.n,
                    "lo": kv.lo,
                    "hi": kv.hi,
                    "small_sample": kv.small_sample,
                    "target": target_for(kv.key, q, targets),
                }
            )
    return pd.DataFrame(rows)


def evaluate(
    con: BaseBackend,
    period: Period | str,
    *,
    customers: ir.Table | None = None,
    as_of: datetime | None = None,
    targets: Mapping | None = None,
    lang: str = "zh",
    keys: Iterable[str] | None = None,
) -> pd.DataFrame:
    """Every KPI for ``period`` against its target and the previous period: value, n, interval,
    small-sample flag, target, attainment, gap, met, previous value, change, direction
    (``better`` / ``worse`` / ``same``), forecast and its method, availability and reason."""
    p = parse_period(period)
    as_of = as_of or db.data_as_of(con)
    targets = load_targets() if targets is None else targets
    keys = list(keys or REGISTRY)
    now = compute_all(con, p, keys=keys, customers=customers, as_of=as_of, lang=lang)
    prev = {
        kv.key: kv
        for kv in compute_all(
            con, p.previous(), keys=keys, customers=customers, as_of=as_of, lang=lang
        )
    }
    rows = []
    for kv in now:
        k = REGISTRY[kv.key]
        before = prev[kv.key].value
        change = None if kv.value is None or before is None else kv.value - before
        if change is None:
            direction = None
        elif abs(change) < 1e-12:
            direction = "same"
        else:
            direction = "better" if (change > 0) == k.higher_is_better else "worse"
        fc = forecast(kv, as_of)
        rows.append(
            {
                **{x: v for x, v in asdict(kv).items() if x != "extras"},
                **attainment(kv.value, target_for(kv.key, p, targets), k.higher_is_better),
                "previous": before,
                "previous_period": p.previous().label,
                "change": change,
                "direction": direction,
                "forecast": fc["forecast"],
                "forecast_method": fc["method"],
                "elapsed": fc["elapsed"],
            }
        )
    return pd.DataFrame(rows)


# ---------------------------------------------------------------------------------------------
# Sales opportunities (销售机会)
# ---------------------------------------------------------------------------------------------

OPEN_STAGES = ("lead", "qualified", "proposal", "negotiation")
STAGES = (*OPEN_STAGES, "won", "lost")


def stage_probability(targets: Mapping | None = None) -> dict[str, float]:
    """The stated chance that an open opportunity in each stage is won (config ``pipeline``)."""
    targets = load_targets() if targets is None else targets
    probs = dict(targets.get("pipeline", {}).get("stage_probability", {}))
    missing = [s for s in OPEN_STAGES if s not in probs]
    if missing:
        raise ValueError(f"kpi targets: pipeline.stage_probability lacks {missing}")
    return {**probs, "won": 1.0, "lost": 0.0}


def _opps(con: BaseBackend, customers: ir.Table | None) -> ir.Table:
    o = con.table("opportunities")
    if customers is not None:
        o = o.semi_join(customers.select("customer_id"), "customer_id")
    return o


def pipeline(
    con: BaseBackend,
    *,
    as_of: datetime | None = None,
    customers: ir.Table | None = None,
    targets: Mapping | None = None,
) -> pd.DataFrame:
    """Open opportunities by stage at ``as_of``: opportunities, amount, stated win probability,
    expected value (amount × probability), and days in the current stage (median, mean) counted
    from ``stage_changed_at`` (the data keeps only the last stage change)."""
    as_of = as_of or db.data_as_of(con)
    o = _opps(con, customers)
    o = o.filter(o.stage.isin(list(OPEN_STAGES)), o.opened_at <= _lit(as_of))
    days = (_lit(as_of).epoch_seconds() - o.stage_changed_at.epoch_seconds()) / 86400
    df = (
        o.group_by("stage")
        .aggregate(
            opportunities=o.count(),
            amount=o.amount.cast("float64").sum(),
            median_days=days.median(),
            mean_days=days.mean(),
        )
        .to_pandas()
    )
    frame = pd.DataFrame({"stage": list(OPEN_STAGES)}).merge(df, on="stage", how="left")
    frame = frame.fillna({"opportunities": 0, "amount": 0.0}).astype({"opportunities": "int64"})
    probs = stage_probability(targets)
    frame["probability"] = [probs[s] for s in frame.stage]
    frame["expected_value"] = frame.amount * frame.probability
    return frame


def stage_funnel(con: BaseBackend, period: Period | str, *, customers=None) -> pd.DataFrame:  # noqa: ANN001
    """Stage conversion of the opportunities opened in the period, inferred from their current
    stage (the data has no stage history): an opportunity now in stage s, or won, has passed
    every stage before s; a lost one is counted only as a lead (its last stage is unknown).

    Returns stage, reached, conversion (reached next / reached), with the Wilson interval and
    small-sample flag of each conversion.
    """
    p = parse_period(period)
    o = _opps(con, customers)
    o = o.filter(o.opened_at >= _lit(p.start), o.opened_at < _lit(p.end))
    counts = o.group_by("stage").aggregate(n=o.count()).to_pandas().set_index("stage").n
    order = [*OPEN_STAGES, "won"]
    at = {s: int(counts.get(s, 0)) for s in STAGES}
    reached = []
    for i, s in enumerate(order):
        beyond = sum(at[x] for x in order[i:])
        reached.append(beyond + (at["lost"] if s == "lead" else 0))
    df = pd.DataFrame({"stage": order, "reached": reached})
    df["next_reached"] = [*reached[1:], np.nan]
    df = df.iloc[:-1].copy()
    df["next_reached"] = df.next_reached.astype("int64")
    return stats.rate_columns(df, "next_reached", "reached", prefix="conversion_")


def win_rates(
    con: BaseBackend,
    period: Period | str,
    by: str,
    *,
    customers: ir.Table | None = None,
    min_n: int = stats.MIN_N,
) -> pd.DataFrame:
    """Win rate (won / closed in the period) by ``owner`` or ``source``, with Wilson 95 %
    intervals and the small-sample flag; most closed first."""
    if by not in ("owner", "source"):
        raise ValueError(f"win_rates: by={by!r}; expected 'owner' or 'source'")
    p = parse_period(period)
    o = _opps(con, customers)
    c = o.filter(
        o.closed_at >= _lit(p.start), o.closed_at < _lit(p.end), o.stage.isin(["won", "lost"])
    )
    df = (
        c.group_by(c[by].fill_null("—").name(by))
        .aggregate(won=(c.stage == "won").cast("int64").sum(), closed=c.count())
        .to_pandas()
    )
    if df.empty:
        return pd.DataFrame(columns=[by, "won", "closed", "rate", "lo", "hi", "small_sample"])
    df = stats.rate_columns(df, "won", "closed", min_n=min_n)
    return df.sort_values(["closed", by], ascending=[False, True]).reset_index(drop=True)


def cycle_times(con: BaseBackend, period: Period | str, *, customers=None) -> pd.DataFrame:  # noqa: ANN001
    """Days from opening to closing for opportunities closed in the period, by outcome."""
    p = parse_period(period)
    o = _opps(con, customers)
    c = o.filter(o.closed_at >= _lit(p.start), o.closed_at < _lit(p.end))
    days = (c.closed_at.epoch_seconds() - c.opened_at.epoch_seconds()) / 86400
    return (
        c.group_by("stage")
        .aggregate(n=c.count(), median_days=days.median(), mean_days=days.mean())
        .order_by("stage")
        .to_pandas()
    )


# ---------------------------------------------------------------------------------------------
# Return-rate alerts (退货率)
# ---------------------------------------------------------------------------------------------

#: An alert needs this many placed orders of the product in the window.
RETURN_MIN_N = stats.MIN_N
#: False-discovery rate for the Benjamini–Hochberg adjustment over all tested products.
RETURN_FDR = 0.05


def return_alerts(
    con: BaseBackend,
    start: datetime,
    end: datetime,
    *,
    customers: ir.Table | None = None,
    min_n: int = RETURN_MIN_N,
    fdr: float = RETURN_FDR,
) -> pd.DataFrame:
    """Products whose return rate is significantly above the rest of their category.

    Test: for each product with at least ``min_n`` placed (not cancelled) orders in
    ``[start, end)``, the pooled two-proportion z-test (:func:`crmkit.stats.two_proportion_test`)
    of its return rate against the other products of its category, one-sided (product higher);
    p-values adjusted over all tested products with Benjamini–Hochberg; flagged when q <
    ``fdr``.

    Returns
    -------
    pandas.DataFrame
        One row per product (flagged first, by z descending): product_id, name, category,
        orders, returned, rate, lo, hi, category_orders, category_returned, category_rate
        (rest of the category), excess_returns (returned − orders × category_rate), z, p, q,
        tested, flagged.
    """
    o = definitions.placed_orders(con.table("orders"), start=start, end=end, customers=customers)
    per = o.group_by("product_id").aggregate(
        orders=o.count(), returned=(o.status == definitions.RETURNED).cast("int64").sum()
    )
    prod = con.table("products").select("product_id", "name", "category")
    df = per.join(prod, "product_id", how="left").to_pandas()
    cols = [
        "product_id",
        "name",
        "category",
        "orders",
        "returned",
        "rate",
        "lo",
        "hi",
        "category_orders",
        "category_returned",
        "category_rate",
        "excess_returns",
        "z",
        "p",
        "q",
        "tested",
        "flagged",
    ]
    if df.empty:
        return pd.DataFrame(columns=cols)
    df = df.drop(columns=[c for c in ("product_id_right",) if c in df.columns])
    df["category"] = df.category.fillna("—")
    tot = df.groupby("category")[["orders", "returned"]].transform("sum")
    df["category_orders"] = tot.orders - df.orders
    df["category_returned"] = tot.returned - df.returned
    df = stats.rate_columns(df, "returned", "orders", min_n=min_n)
    with np.errstate(divide="ignore", invalid="ignore"):
        df["category_rate"] = np.where(
            df.category_orders > 0, df.category_returned / df.category_orders, np.nan
        )
    df["excess_returns"] = df.returned - df.orders * df.category_rate
    _, z, p2 = stats.two_proportion_test(
        df.category_returned.to_numpy(),
        df.category_orders.to_numpy(),
        df.returned.to_numpy(),
        df.orders.to_numpy(),
    )
    z = np.asarray(z, dtype=float)
    p_one = np.where(np.isnan(z), np.nan, np.where(z > 0, p2 / 2, 1 - p2 / 2))
    df["z"] = z
    df["tested"] = (df.orders >= min_n) & ~np.isnan(p_one)
    df["p"] = np.where(df.tested, p_one, np.nan)
    df["q"] = stats.benjamini_hochberg(df.p.to_numpy())
    df["flagged"] = df.tested & (df.q < fdr) & (df.z > 0)
    df = df.sort_values(["flagged", "z", "product_id"], ascending=[False, False, True])
    return df[cols].reset_index(drop=True)


def return_reasons(
    con: BaseBackend,
    product_ids: Iterable[str],
    start: datetime,
    end: datetime,
    *,
    customers: ir.Table | None = None,
    examples: int = 3,
) -> pd.DataFrame:
    """Why the products were returned: the reasons on their returned orders (orders.
    ``return_reason``) with counts and shares, plus up to ``examples`` feedback texts tied to
    those orders or to the product's complaints in the window (rows of ``kind`` "feedback")."""
    ids = list(product_ids)
    cols = ["product_id", "kind", "reason", "count", "share"]
    if not ids:
        return pd.DataFrame(columns=cols)
    o = con.table("orders")
    if customers is not None:
        o = o.semi_join(customers.select("customer_id"), "customer_id")
    ret = o.filter(
        o.product_id.isin(ids),
        o.status == definitions.RETURNED,
        o.order_ts >= _lit(start),
        o.order_ts < _lit(end),
    )
    reasons = (
        ret.group_by(["product_id", ret.return_reason.fill_null("—").name("reason")])
        .aggregate(count=ret.count())
        .to_pandas()
    )
    reasons["kind"] = "reason"
    reasons["share"] = reasons["count"] / reasons.groupby("product_id")["count"].transform("sum")
    reasons = reasons.sort_values(
        ["product_id", "count", "reason"], ascending=[True, False, True]
    ).reset_index(drop=True)
    fb = con.table("feedback")
    texts = fb.filter(
        fb.text.notnull(),
        fb.order_id.isin(ret.order_id)
        | (
            fb.product_id.isin(ids)
            & (fb.source == "complaint")
            & (fb.ts >= _lit(start))
            & (fb.ts < _lit(end))
        ),
    )
    t = (
        texts.select("feedback_id", "product_id", "order_id", "text", "ts")
        .order_by([ibis.desc("ts"), "feedback_id"])
        .limit(examples * len(ids) * 5)
        .to_pandas()
    )
    if not t.empty:
        by_order = ret.select("order_id", "product_id").to_pandas().set_index("order_id")
        t["product_id"] = t.product_id.fillna(t.order_id.map(by_order.product_id))
        t = t.dropna(subset=["product_id"]).groupby("product_id").head(examples)
        t = t.assign(kind="feedback", reason=t.text, count=1, share=np.nan)
    out = pd.concat([reasons[cols], t[cols] if not t.empty else None], ignore_index=True)
    return out


__all__ = [
    "CORE",
    "KPI",
    "KPIContext",
    "KPIValue",
    "Measure",
    "Period",
    "REGISTRY",
    "attainment",
    "compute",
    "compute_all",
    "customer_flow",
    "cycle_times",
    "evaluate",
    "forecast",
    "last_complete_period",
    "lost_customers",
    "load_targets",
    "parse_period",
    "period_containing",
    "pipeline",
    "publish_tables",
    "return_alerts",
    "return_reasons",
    "stage_funnel",
    "stage_probability",
    "stored_values",
    "target_for",
    "trailing_window",
    "trend",
    "values_frame",
    "win_rates",
]
