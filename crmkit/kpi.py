"""KPIs with their definitions (口径), targets, attainment, trend and forecast.

Every KPI is declared once in :data:`REGISTRY` — its measure (key, zh / en name, numerator,
denominator and window: :data:`crmkit.definitions.MEASURES`), unit, direction (higher is
better?) and the function that computes it — and computed for a period ``[start, end)`` over
a customer scope by :func:`compute` / :func:`compute_all`. Each value comes back as a
:class:`KPIValue`: a :class:`crmkit.stats.Metric` (numerator, denominator, n, the interval
— Wilson 95 % for a rate, normal 95 % for a mean — the small-sample flag n <
:data:`crmkit.stats.MIN_N`, window and 口径) with the KPI's unit, direction and period.

Definitions (the same on the overview page, in ``crmkit report`` and in notebook 05)
-----------------------------------------------------------------------------------
Each KPI's name, numerator, denominator and window are its measure in
:data:`crmkit.definitions.MEASURES`, counted over the customers in scope. A **customer at a
date d** has a counted order (:func:`crmkit.definitions.counted_orders`) in ``[d − W, d)``,
W = :data:`crmkit.definitions.ACTIVE_DAYS` (365 days, or the period's length if longer, so a
customer new in the period is always a customer at its end). S, E: customers at the period's
start and end; N: new customers (first counted order ever in the period).

- retention rate = (E − N) / S. Customers who come back after more than W days count in
  E − N, so the value can exceed 100 %; the interval is then not given.
- customer churn = (S − retained) / S (:func:`crmkit.definitions.customer_churn`); 1 − churn
  ≠ retention exactly: reactivated customers are in E − N only.
- average order value: its interval is mean ± 1.96·sd/√n.
- a period with no observations (nobody at its start, no closed opportunity) gives an
  available KPI without a value (n = 0), never a 0.

KPIs computed by other modules (NPS, CSAT, complaint SLA, repurchase rate, referral rate,
CLV) are declared here with their definition and the dotted path of their compute function,
imported lazily: while that module or function does not exist the KPI reports itself as
unavailable with the reason, never a number. The function they must provide::

    fn(con, *, start: datetime, end: datetime, customers: ibis.Table | None,
       config: Config | None) -> Mapping | Metric

returning ``{"numerator": int, "denominator": int}`` for a rate (the interval is added here)
or ``{"value": float, "n": int, "lo": float | None, "hi": float | None}`` for a score or an
amount (a :class:`crmkit.stats.Metric` is accepted too).

Targets (:func:`load_targets` / :func:`targets_of`, the company's ``kpi_targets.json``; the
neutral defaults set none, and a KPI without a target says "no target set") are kept per KPI
for months, quarters and years; :func:`evaluate` adds attainment, gap, the trend over the previous
periods and a forecast of the period end (linear run-rate, :func:`forecast`). Periods are
:class:`crmkit.periods.Period`; the sales pipeline is in :mod:`crmkit.sales`, return-rate
alerts in :mod:`crmkit.returns`.

Examples
--------
>>> k = kpi("return_rate")
>>> k.name("en"), k.unit, k.higher_is_better
('Return rate', 'rate', False)
>>> k.definition("en").split("; ")[0]
'numerator: orders placed in the period and returned'
"""

from __future__ import annotations

import importlib
import math
import os
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

import ibis
import ibis.expr.types as ir
import pandas as pd
from ibis.backends import BaseBackend

from crmkit import config as _config
from crmkit import db, definitions, periods, stats
from crmkit.config import Config
from crmkit.i18n import LANGS, t
from crmkit.periods import Period, parse_period

_TS = "timestamp"

# ---------------------------------------------------------------------------------------------
# The registry
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Counts:
    """What a compute function returns, before :func:`compute` makes it the KPI's Metric:
    a rate's numerator and denominator; a mean's total (numerator, exact when a Decimal), n
    (denominator) and sample sd (NaN for one observation); a count's or score's value and n,
    with the interval and its method when another module computed them."""

    numerator: float | Decimal | None = None
    denominator: float | None = None
    value: float | None = None
    n: int | None = None
    sd: float | None = None
    lo: float | None = None
    hi: float | None = None
    method: str = ""
    extras: dict[str, Any] = field(default_factory=dict)
    #: why the KPI is not available on this data (a reason code); empty when it is
    reason: str = ""


def _effective_end(end: datetime, as_of: datetime | None) -> datetime:
    return min(end, periods.data_end(as_of)) if as_of else end


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

    def __post_init__(self) -> None:
        # without one given, the settings of the data (a snapshot's published ones)
        if self.config is None:
            object.__setattr__(self, "config", _config.for_connection(self.con))

    @property
    def effective_end(self) -> datetime:
        """``end``, or the end of the data when the period is not over yet."""
        return _effective_end(self.end, self.as_of)

    @property
    def window(self) -> timedelta:
        return max(timedelta(days=self.active_days), self.end - self.start)

    def table(self, name: str) -> ir.Table:
        """A fact table restricted to customers in scope (all rows when there is no scope)."""
        return definitions.restrict(self.con.table(name), self.customers)


@dataclass(frozen=True)
class KPI:
    """One KPI: its measure (name and 口径, usually :data:`crmkit.definitions.MEASURES`
    ``[key]``), unit, direction, and ``compute``: a function of a :class:`KPIContext` or the
    dotted path ``"module:function"`` of one in another module (resolved lazily)."""

    measure: definitions.Measure
    unit: str  # "rate", "count", "money" or "score"
    higher_is_better: bool
    compute: Callable[[KPIContext], _Counts] | str
    issue: int | None = None  # the issue that provides an external compute function
    tables: tuple[str, ...] = ("orders",)  # data tables the compute function reads

    @property
    def key(self) -> str:
        return self.measure.key

    def name(self, lang: str = "zh") -> str:
        return self.measure.name(lang)

    def definition(self, lang: str = "zh") -> str:
        """Numerator / denominator, window and customer scope in words (shown on hover)."""
        m = self.measure
        i = 0 if lang == "zh" else 1
        sep, colon = ("；", "：") if lang == "zh" else ("; ", ": ")
        if m.denominator:
            parts = [
                f"{t('kpi_numerator', lang)}{colon}{m.numerator[i]}",
                f"{t('kpi_denominator', lang)}{colon}{m.denominator[i]}",
            ]
        else:
            parts = [m.numerator[i]]
        parts += [m.window[i], t("kpi_scope", lang)]
        return sep.join(parts)

    def definitions(self) -> dict[str, str]:
        """:meth:`definition` in every language: a :class:`crmkit.stats.Metric`'s 口径."""
        return {lang: self.definition(lang) for lang in LANGS}

    @property
    def external(self) -> bool:
        return isinstance(self.compute, str)


def _metric_field(name: str) -> property:
    return property(lambda self: getattr(self.metric, name), doc=f"``metric.{name}``")


@dataclass(frozen=True)
class KPIValue:
    """A KPI computed for one period and scope, with everything needed to show it honestly:
    its ``metric`` (:class:`crmkit.stats.Metric`: value, numerator, denominator, n, lo, hi,
    small_sample, method, window, definition ``{"zh", "en"}``, available, reason — each also an
    attribute of the KPIValue, ``kv.value``), the KPI's name in the language asked for, unit,
    direction, the period's label and ``[start, end)``, and the compute function's ``extras``
    (e.g. the customer flow)."""

    metric: stats.Metric
    name: str
    unit: str
    higher_is_better: bool
    period: str
    start: datetime
    end: datetime
    extras: dict[str, Any] = field(default_factory=dict)

    key = _metric_field("key")
    value = _metric_field("value")
    numerator = _metric_field("numerator")
    denominator = _metric_field("denominator")
    n = _metric_field("n")
    lo = _metric_field("lo")
    hi = _metric_field("hi")
    small_sample = _metric_field("small_sample")
    method = _metric_field("method")
    window = _metric_field("window")
    definition = _metric_field("definition")
    available = _metric_field("available")
    reason = _metric_field("reason")

    def as_dict(self) -> dict[str, Any]:
        """One row: the metric's columns (:data:`crmkit.stats.METRIC_COLUMNS`), then name,
        unit, higher_is_better, period, start and end (extras left out)."""
        return {
            **self.metric.as_dict(),
            "name": self.name,
            "unit": self.unit,
            "higher_is_better": self.higher_is_better,
            "period": self.period,
            "start": self.start,
            "end": self.end,
        }


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
    config: Config | None = None,
) -> ir.Table:
    """The customers behind the churn rate: customers at the period's start who are no
    customers at its end, with ``last_order_ts`` and lifetime ``monetary`` (counted orders),
    most valuable first — the list to win back (挽回).

    Parameters
    ----------
    con : ibis backend
    period : Period or str
        ``2025-Q3``, ``2025-07``, ``2025`` or a :class:`crmkit.periods.Period`.
    customers : ibis.Table, optional
        The customers in scope; default all.
    as_of : datetime, optional
        The data clock (default :func:`crmkit.db.data_as_of`).
    config : Config, optional
        Whose counted-order rule applies (default :func:`crmkit.config.load`).

    Returns
    -------
    ibis.Table
        ``customer_id``, ``last_order_ts``, ``monetary``.
    """
    p = parse_period(period)
    ctx = KPIContext(con, p.start, p.end, customers, as_of or db.data_as_of(con), config=config)
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


def _retention(ctx: KPIContext) -> _Counts:
    f = customer_flow(ctx)
    kept = f["E"] - f["N"]
    return _Counts(kept, f["S"], extras={**f, "reactivated": kept - f["retained"]})


def _churn(ctx: KPIContext) -> _Counts:
    f = customer_flow(ctx)
    m = definitions.customer_churn(f)
    return _Counts(m.numerator, f["S"], extras=f)


def _new_customers(ctx: KPIContext) -> _Counts:
    f = customer_flow(ctx)
    return _Counts(value=f["N"], n=f["N"], extras=f)


def _closed_opportunities(ctx: KPIContext) -> ir.Table:
    o = ctx.table("opportunities")
    return o.filter(
        o.closed_at >= _lit(ctx.start),
        o.closed_at < _lit(ctx.effective_end),
        o.stage.isin(["won", "lost"]),
    )


def _sales_conversion(ctx: KPIContext) -> _Counts:
    c = _closed_opportunities(ctx)
    row = c.aggregate(won=(c.stage == "won").cast("int64").sum(), closed=c.count()).to_pandas()
    won, closed = row.iloc[0].fillna(0)
    return _Counts(int(won), int(closed))


def _lead_conversion(ctx: KPIContext) -> _Counts:
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
    return _Counts(int(k), int(n))


def _return_rate(ctx: KPIContext) -> _Counts:
    orders = ctx.table("orders")
    o = definitions.placed_orders(orders, start=ctx.start, end=ctx.effective_end)
    row = o.aggregate(
        k=(o.status == definitions.RETURNED).cast("int64").sum(), n=o.count()
    ).to_pandas()
    k, n = row.iloc[0].fillna(0)
    if not n:
        # orders without a status from the data (all set to completed at ingest): their
        # 0 returns would be made up
        reason = definitions.status_not_recorded(orders, start=ctx.start, end=ctx.effective_end)
        if reason:
            return _Counts(reason=reason)
    return _Counts(int(k), int(n))


def _aov(ctx: KPIContext) -> _Counts:
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
        return _Counts(0.0, 0, n=0)
    total, sumsq = Decimal(str(row.revenue)), Decimal(str(row.sumsq))
    sd = math.nan
    if n > 1:
        sd = math.sqrt(max(float((sumsq - total * total / n) / (n - 1)), 0.0))
    return _Counts(total, n, n=n, sd=sd)


_M = definitions.MEASURES
register(KPI(_M["retention_rate"], "rate", True, _retention))
register(KPI(_M["customer_churn"], "rate", False, _churn))
register(KPI(_M["new_customers"], "count", True, _new_customers))
register(KPI(_M["sales_conversion"], "rate", True, _sales_conversion, tables=("opportunities",)))
register(
    KPI(_M["lead_conversion"], "rate", True, _lead_conversion, tables=("opportunities", "orders"))
)
register(KPI(_M["return_rate"], "rate", False, _return_rate))
register(KPI(_M["avg_order_value"], "money", True, _aov))

# KPIs computed by the analysis modules (satisfaction, complaints, loyalty, churn): declared
# here with the dotted path of their function, resolved lazily so importing crmkit.kpi stays
# light; a KPI whose module or table is missing reports itself unavailable (with the reason).
_P = ("统计期 [开始, 结束)", "period [start, end)")
register(
    KPI(
        definitions.Measure(
            "nps", "净推荐值 NPS", "Net Promoter Score",
            (
                "推荐者(9–10)占比 − 贬损者(0–6)占比，×100",
                "% promoters (9–10) − % detractors (0–6), ×100",
            ),
            ("期内有 NPS 评分的调查回答", "survey answers with an NPS score in the period"),
            _P,
        ),
        "score", True, "crmkit.satisfaction:kpi_nps", issue=7, tables=("feedback",),
    )
)  # fmt: skip
register(
    KPI(
        definitions.Measure(
            "csat", "满意度 CSAT", "Customer satisfaction (CSAT)",
            ("CSAT 评 4–5 分的回答", "answers with CSAT 4–5"),
            ("期内有 CSAT 评分的回答", "answers with a CSAT score in the period"),
            _P,
        ),
        "rate", True, "crmkit.satisfaction:kpi_csat", issue=7, tables=("feedback",),
    )
)  # fmt: skip
register(
    KPI(
        definitions.Measure(
            "complaint_sla", "投诉2小时响应达标率", "Complaint SLA attainment (2 h)",
            ("2小时内首次响应的投诉工单", "complaint tickets first answered within 2 hours"),
            (
                "期内新开的投诉工单中已响应或超时未响应的（未超时的未响应工单不计）",
                "complaint tickets opened in the period, answered or unanswered past the target "
                "(still within it: not counted)",
            ),
            _P,
        ),
        "rate", True, "crmkit.complaints:kpi_complaint_sla", issue=7, tables=("tickets",),
    )
)  # fmt: skip
register(KPI(_M["repurchase_rate"], "rate", True, "crmkit.loyalty:kpi_repurchase_rate", issue=8))
register(
    KPI(
        _M["referral_rate"],
        "rate",
        True,
        "crmkit.loyalty:kpi_referral_rate",
        issue=8,
        tables=("referrals", "orders"),
    )
)
register(KPI(_M["clv"], "money", True, "crmkit.clv:kpi_clv", issue=8, tables=("clv",)))

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


def _from_external(k: KPI, out: Any) -> _Counts:
    if isinstance(out, stats.Metric):
        if out.method.startswith("Wilson"):
            return _Counts(out.numerator, out.denominator)
        return _Counts(
            out.numerator,
            out.denominator,
            value=out.value,
            n=out.n,
            lo=out.lo,
            hi=out.hi,
            method=out.method if out.lo is not None else "",
        )
    if not isinstance(out, Mapping):
        raise TypeError(
            f"{k.compute} returned {type(out).__name__}; expected a mapping with numerator / "
            "denominator (a rate) or value / n (a score or amount)"
        )
    return _Counts(
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


def _metric(k: KPI, c: _Counts, window: str) -> stats.Metric:
    """The KPI's Metric from its counts: a rate with its Wilson interval
    (:meth:`crmkit.stats.Metric.rate`), a mean with its normal interval
    (:meth:`crmkit.stats.Metric.mean`), a count or a score as computed. No observations
    (n = 0) give an available Metric without a value: the period had none to count."""
    definition = k.definitions()
    den = int(c.denominator or 0)
    if k.unit == "rate" and den and c.lo is None and 0 <= c.numerator <= den:
        return stats.Metric.rate(k.key, c.numerator, den, definition=definition, window=window)
    if c.sd is not None and c.n:
        return stats.Metric.mean(
            k.key, c.numerator, c.n, c.sd, definition=definition, window=window
        )
    value, n = c.value, c.n
    if k.unit == "rate":
        # a denominator of 0 (nothing to count), or a retention above 100 % (returning
        # customers): the share has no Wilson interval
        n = den if n is None else n
        if value is None and den:
            value = c.numerator / den
    n = int(n or 0)
    return stats.Metric(
        k.key,
        None if value is None else float(value),
        numerator=c.numerator,
        denominator=c.denominator,
        n=n,
        lo=c.lo,
        hi=c.hi,
        small_sample=n < stats.MIN_N,
        method=c.method,
        window=window,
        definition=definition,
    )


def _window(start: datetime, end: datetime) -> str:
    return periods.Period("", "window", start, end).describe()


def compute(
    con: BaseBackend,
    key: str,
    period: Period | str,
    *,
    customers: ir.Table | None = None,
    as_of: datetime | None = None,
    config: Config | None = None,
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
        ``2025-Q3``, ``2025-07``, ``2025`` or a :class:`crmkit.periods.Period`.
    customers : ibis.Table, optional
        The customers in scope (at least ``customer_id``); default all.
    as_of : datetime, optional
        The data clock; a period not over yet is computed up to it (see :func:`forecast`).
        Default: the latest timestamp in the data.
    config : Config, optional
        Whose business rules apply (counted orders; default :func:`crmkit.config.load`).
    lang : str
        The language of the KPI's ``name``.
    context : KPIContext, optional
        A context shared between KPIs of one period (:func:`compute_all`); it holds the
        period, scope, clock and config, so those arguments are then not used.

    Returns
    -------
    KPIValue
        ``available=False`` with the ``reason`` when the compute function or a table it reads
        is not there.
    """
    k = kpi(key)
    p = parse_period(period)
    if context is None:
        as_of = as_of or db.data_as_of(con)
        context = KPIContext(con, p.start, p.end, customers, as_of, config=config)
    ctx = context
    meta = dict(
        name=k.name(lang),
        unit=k.unit,
        higher_is_better=k.higher_is_better,
        period=p.label,
        start=p.start,
        end=p.end,
    )
    window = _window(ctx.start, ctx.effective_end)
    fn, reason = resolve(k)
    if fn is not None:
        reason = _source_missing(ctx, k.tables)
        fn = None if reason else fn
    if fn is None:
        return KPIValue(_unavailable(k, reason, window), **meta)
    if k.external:
        counts = _from_external(
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
        counts = fn(ctx)
    if counts.reason:
        return KPIValue(_unavailable(k, counts.reason, window), **meta)
    return KPIValue(_metric(k, counts, window), **meta, extras=dict(counts.extras))


def _source_missing(ctx: KPIContext, tables: Iterable[str]) -> str:
    """Why a KPI reading ``tables`` cannot be computed: a reason code naming the tables that
    are absent or hold no rows at all (a KPI over an empty table is not available, never 0);
    empty when all are there. Counted once per context."""
    if "tables" not in ctx.cache:
        ctx.cache["tables"] = set(ctx.con.list_tables())
        ctx.cache["rows"] = {}
    missing = [x for x in tables if x not in ctx.cache["tables"]]
    if missing:
        return f"no_table:{','.join(missing)}"
    rows = ctx.cache["rows"]
    for x in tables:
        if x not in rows:
            rows[x] = int(ctx.con.table(x).count().execute())
    empty = [x for x in tables if rows[x] == 0]
    return f"empty_table:{','.join(empty)}" if empty else ""


def _unavailable(k: KPI, reason: str, window: str) -> stats.Metric:
    # n stays None (not 0): nothing was counted, so the report shows "—" for it
    return stats.Metric(
        k.key, None, window=window, definition=k.definitions(), available=False, reason=reason
    )


def compute_all(
    con: BaseBackend,
    period: Period | str,
    *,
    keys: Iterable[str] | None = None,
    customers: ir.Table | None = None,
    as_of: datetime | None = None,
    config: Config | None = None,
    lang: str = "zh",
) -> list[KPIValue]:
    """Every KPI (or ``keys``) for one period; queries shared between KPIs run once.

    Parameters
    ----------
    con, period, customers, as_of, lang
        As in :func:`compute`.
    keys : iterable of str, optional
        Keys of :data:`REGISTRY`; default all, in registry order.
    config : Config, optional
        Whose business rules apply. Without a customer scope or a config, the values a
        published snapshot holds (:func:`stored_values`) are read instead of computed.

    Returns
    -------
    list of KPIValue
        In the order of ``keys``.
    """
    p = parse_period(period)
    as_of = as_of or db.data_as_of(con)
    keys = list(keys or REGISTRY)
    if customers is None and config is None:
        stored = stored_values(con, p, as_of, lang)
        if stored is not None and all(k in stored for k in keys):
            return [stored[k] for k in keys]
    ctx = KPIContext(con, p.start, p.end, customers, as_of, config=config)
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
    window = _window(period.start, _effective_end(period.end, as_of))
    out = {}
    for r in df.to_dict("records"):
        k = REGISTRY.get(r["key"])
        if k is None:
            continue
        n = _none(r["n"])
        metric = stats.Metric(
            k.key,
            _none(r["value"]),
            numerator=_none(r["numerator"]),
            denominator=_none(r["denominator"]),
            n=None if n is None else int(n),
            lo=_none(r["lo"]),
            hi=_none(r["hi"]),
            small_sample=bool(r["small_sample"]),
            method=r["method"] or "",
            window=window,
            definition=k.definitions(),
            available=bool(r["available"]),
            reason=r["reason"] or "",
        )
        out[k.key] = KPIValue(
            metric,
            name=k.name(lang),
            unit=k.unit,
            higher_is_better=k.higher_is_better,
            period=period.label,
            start=period.start,
            end=period.end,
        )
    return out


def publish_tables(
    con: BaseBackend, *, as_of: datetime, config: Config | None = None
) -> dict[str, pd.DataFrame]:
    """The publish step ``kpi``: every KPI over all customers for the last complete periods
    (:data:`PUBLISHED_PERIODS`), so the overview page and the report read them instead of
    scanning the orders when no customer filter is set. Filtered views compute live."""
    chosen: dict[str, Period] = {}
    for kind, n in PUBLISHED_PERIODS.items():
        for p in periods.last_complete_period(as_of, kind).previous_n(n - 1):
            chosen[p.label] = p
    frames = []
    for p in chosen.values():
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
    """KPI values as one row each (:meth:`KPIValue.as_dict`: extras dropped)."""
    return pd.DataFrame([kv.as_dict() for kv in values])


def kpis(
    con: BaseBackend,
    period: Period | str | None = None,
    *,
    keys: Iterable[str] | None = None,
    customers: ir.Table | None = None,
    config: Config | None = None,
    lang: str = "zh",
) -> pd.DataFrame:
    """Every KPI (or ``keys``) of one period as a metric frame: the analyst's table of
    :func:`compute_all`.

    Parameters
    ----------
    con : ibis backend
        The warehouse or a published snapshot (which answers from its stored values when
        ``customers`` is None).
    period : Period or str, optional
        ``"2026-Q3"``, ``"2026-07"``, ``"2026"``; default the last complete quarter of the data.
    keys : iterable of str, optional
        KPI keys of :data:`REGISTRY`; default all.
    customers : ibis.Table, optional
        The customers in scope (``customer_id``, ideally ``customer_sk``).
    config : Config, optional
        The company's settings (the counted-order rule).
    lang : {"zh", "en"}
        Language of the ``name`` column.

    Returns
    -------
    pandas.DataFrame
        One row per KPI: :data:`crmkit.stats.METRIC_COLUMNS`, then ``name``, ``unit``,
        ``higher_is_better``, ``period``, ``start``, ``end``.

    Examples
    --------
    One customer, orders of ¥10 and ¥30 in 2024-Q2: average order value 20 over n = 2.

    >>> import pandas as pd
    >>> from crmkit import db
    >>> con = db.connect(":memory:", read_only=False)
    >>> db.create_schema(con)
    >>> con.insert("orders", pd.DataFrame({"order_id": ["O1", "O2"], "customer_sk": [1, 1],
    ...     "customer_id": ["C1", "C1"], "order_ts": pd.to_datetime(["2024-04-02", "2024-05-03"]),
    ...     "amount": [10.0, 30.0], "status": ["completed", "completed"]}))
    >>> f = kpis(con, "2024-Q2", keys=["avg_order_value"], lang="en")
    >>> f[["key", "value", "n"]].values.tolist()
    [['avg_order_value', 20.0, 2]]
    """
    as_of = db.data_as_of(con)
    p = parse_period(period) if period is not None else periods.last_complete_period(as_of)
    values = compute_all(
        con, p, keys=keys, customers=customers, as_of=as_of, config=config, lang=lang
    )
    return values_frame(values)


# ---------------------------------------------------------------------------------------------
# Targets, attainment, trend and forecast
# ---------------------------------------------------------------------------------------------


def load_targets(
    path: str | os.PathLike | Mapping | None = None, *, config: Config | None = None
) -> dict[str, Any]:
    """The KPI targets: ``{"version", "targets": {key: {"month"|"quarter"|"year": value}},
    "pipeline": {"stage_probability": {...}}}``; a ``null`` value means no target is set.

    Parameters
    ----------
    path : path-like or mapping, optional
        A ``kpi_targets.json`` file or its parsed content.
    config : Config, optional
        Whose targets (default :func:`crmkit.config.load`: ``$CRMKIT_CONFIG`` or the neutral
        defaults, which set no target). Use :func:`targets_of` for a connection's.

    Raises
    ------
    crmkit.config.ConfigError
        When a target names an unknown KPI or period kind, or is not a number (the message
        names the file, the key, the value and what was expected).
    """
    if path is None:
        return dict((config or _config.load()).get("targets"))
    if isinstance(path, Mapping):
        data, source = dict(path), "kpi targets"
    else:
        data, source = _config.read_json(path, "kpi targets"), str(path)
    _config.validate("targets", data, source)
    return data


def targets_of(con: BaseBackend) -> dict[str, Any]:
    """The targets that apply to a connection: a snapshot's published ones, else those of
    :func:`crmkit.config.for_connection` (the demo's for the demo warehouse)."""
    return load_targets(config=_config.for_connection(con))


def target_for(key: str, period: Period, targets: Mapping | None = None) -> float | None:
    """The target of ``key`` for a period of this kind (None when none is set)."""
    targets = load_targets() if targets is None else targets
    return (targets.get("targets") or {}).get(key, {}).get(periods.target_kind(period))


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
    elapsed = (_effective_end(kv.end, as_of) - kv.start).total_seconds()
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
    targets = targets_of(con)
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
    targets = targets_of(con) if targets is None else targets
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
                **kv.as_dict(),
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


__all__ = [
    "CORE",
    "KPI",
    "KPIContext",
    "KPIValue",
    "REGISTRY",
    "attainment",
    "compute",
    "compute_all",
    "customer_flow",
    "evaluate",
    "forecast",
    "kpi",
    "load_targets",
    "targets_of",
    "lost_customers",
    "publish_tables",
    "register",
    "resolve",
    "stored_values",
    "target_for",
    "trend",
    "values_frame",
]
