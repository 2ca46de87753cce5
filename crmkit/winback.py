"""Win-back (挽回流失客户, step 8): attempts to bring lapsed customers back and what they returned.

With no campaign table in the warehouse, a win-back attempt is an outbound contact on a
retention topic (:data:`WINBACK_TOPICS`) to a customer lapsed at that moment (no counted order
for ``lapse_days``: the classification's churn threshold, its purchase cycle × 3); returned =
a counted order within ``response_days`` after the contact; revenue recovered = the counted
spend in that window. Each attempt carries what preceded the lapse (:func:`lapse_reasons`),
and :func:`winback` gives the win-back rate per reason or segment with its Wilson interval.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime, timedelta

import ibis
import ibis.expr.types as ir
import pandas as pd
from ibis.backends import BaseBackend

from crmkit import classification, db, definitions, schema, stats
from crmkit.config import Config

_TS = schema.IBIS_TYPES["timestamp"]
#: Outbound interaction topics that count as a win-back attempt when the customer has lapsed.
WINBACK_TOPICS = ("复购沟通", "优惠活动推送", "定期回访", "满意度回访", "上门拜访")
#: Lapse reasons in the order they are tried: an attempt's reason is the first that held in
#: the 365 days before the contact (``none`` when none did). Codes of churn_causes.CHURN_SIGNALS.
LAPSE_REASONS = ("sla", "complaints", "low_nps", "returns", "price")
DEFAULT_LAPSE_DAYS = 365


def _present(con: BaseBackend, name: str) -> bool:
    return name in con.list_tables()


def winback_attempts(
    con: BaseBackend,
    *,
    as_of: datetime,
    lapse_days: int,
    response_days: int = 90,
    config: Config | None = None,
) -> pd.DataFrame:
    """Win-back attempts (module docstring) with their outcome, one row per attempt.

    A customer's first qualifying contact per lapse (per last order before it) counts; only
    contacts at least ``response_days`` before ``as_of`` are included, so every outcome is
    known. Columns: ``customer_id``, ``customer_sk``, ``ts``, ``topic``, ``days_lapsed``,
    ``returned`` (0/1), ``revenue_recovered``, ``reason`` (what preceded the lapse: ``sla``,
    ``complaints``, ``low_nps``, ``returns``, ``price`` or ``none``). ``config``: the
    company's settings (which orders count, the SLA policy).
    """
    if not _present(con, "interactions"):
        return pd.DataFrame()
    last_ok = ibis.literal(as_of - timedelta(days=response_days), type=_TS)
    it = con.table("interactions")
    it = it.filter(
        (it.direction == "outbound") & it.topic.isin(list(WINBACK_TOPICS)) & (it.ts <= last_ok)
    ).select("customer_sk", "customer_id", "ts", "topic")
    o = definitions.counted_orders(con.table("orders"), as_of=as_of, config=config).select(
        _sk="customer_sk", order_ts="order_ts", amount=ibis._.amount.cast("float64")
    )
    # the last counted order before each contact: an ASOF join, not a range join (a range
    # join pairs every contact with every earlier order: tens of millions of rows at 1 M)
    last = o.select("_sk", last_order="order_ts")
    prev = it.asof_join(last, it.ts > last.last_order, predicates=[it.customer_sk == last._sk])
    prev = prev.select("customer_sk", "customer_id", "ts", "topic", "last_order")
    prev = prev.filter(prev.last_order.notnull())
    prev = prev.mutate(days_lapsed=prev.ts.date().delta(prev.last_order.date(), unit="day"))
    prev = prev.filter(prev.days_lapsed >= lapse_days)
    prev = prev.mutate(
        k=ibis.row_number().over(group_by=[prev.customer_sk, prev.last_order], order_by=prev.ts)
    )
    att = prev.filter(prev.k == 0).drop("k")
    after = att.left_join(
        o,
        (att.customer_sk == o._sk)
        & (o.order_ts > att.ts)
        & (o.order_ts <= att.ts + ibis.interval(days=response_days)),
    )
    res = after.group_by(["customer_sk", "customer_id", "ts", "topic", "days_lapsed"]).aggregate(
        returned=(after.order_ts.count() > 0).cast("int64"),
        revenue_recovered=after.amount.sum().fill_null(0.0),
    )
    df = res.to_pandas()
    if df.empty:
        return df.assign(reason=pd.Series(dtype=str))
    df["reason"] = lapse_reasons(con, df, as_of=as_of, config=config)
    return df.sort_values(["ts", "customer_id"]).reset_index(drop=True)


def lapse_reasons(
    con: BaseBackend, att: pd.DataFrame, *, as_of: datetime, config: Config | None = None
) -> list[str]:
    """What preceded each attempt's lapse: the first of :data:`LAPSE_REASONS` that held in the
    365 days before the contact (else ``none``).

    ``sla``: a ticket breached the SLA (:func:`crmkit.definitions.sla_flags`); ``complaints``:
    a complaint; ``low_nps``: an NPS answer of 6 or less; ``returns``: a returned order;
    ``price``: an order bought at a discount. ``att`` has ``customer_sk`` and ``ts`` (the
    contact); ``as_of`` is the data clock the SLA clock runs to.
    """
    keys = ibis.memtable(att[["customer_sk", "ts"]].rename(columns={"ts": "a_ts"}))
    flags = keys.mutate(a_start=keys.a_ts - ibis.interval(days=365))

    def count(tbl: ir.Table, time_col: str, pred=None) -> ir.Table:  # noqa: ANN001
        j = flags.join(
            tbl,
            (flags.customer_sk == tbl.customer_sk)
            & (tbl[time_col] <= flags.a_ts)
            & (tbl[time_col] > flags.a_start),
        )
        if pred is not None:
            j = j.filter(pred(j))
        return j.group_by(["customer_sk", "a_ts"]).aggregate(n=ibis._.count())

    parts = {}
    if _present(con, "tickets"):
        policy = definitions.sla_policy(config)
        flags_tk = definitions.sla_flags(con.table("tickets"), as_of=as_of, policy=policy)
        parts["sla"] = count(flags_tk, "opened_at", lambda j: j.breached)
    if _present(con, "feedback"):
        fb = con.table("feedback")
        parts["complaints"] = count(fb, "ts", lambda j: j.source == "complaint")
        parts["low_nps"] = count(fb, "ts", lambda j: j.nps <= 6)
    orders = con.table("orders")
    parts["returns"] = count(orders, "order_ts", lambda j: j.status == definitions.RETURNED)
    if "discount" in orders.columns:
        parts["price"] = count(orders, "order_ts", lambda j: j.discount.fill_null(0) > 0)
    base = att[["customer_sk", "ts"]].rename(columns={"ts": "a_ts"}).copy()
    for code, expr in parts.items():
        got = expr.to_pandas().rename(columns={"n": code})
        base = base.merge(got, on=["customer_sk", "a_ts"], how="left")
    out = []
    for r in base.itertuples(index=False):
        reason = "none"
        for code in LAPSE_REASONS:
            if code in parts and getattr(r, code, 0) and getattr(r, code) > 0:
                reason = code
                break
        out.append(reason)
    return out


def winback(attempts: pd.DataFrame, by: str | Sequence[str]) -> pd.DataFrame:
    """Win-back results per group: attempts, returned, win-back rate (Wilson), revenue
    recovered; ``by`` names columns of ``attempts`` (e.g. ``"reason"`` or ``"rfm_class"``)."""
    by = [by] if isinstance(by, str) else list(by)
    missing = [c for c in by if c not in attempts.columns]
    if missing:
        raise ValueError(f"winback: unknown column(s) {missing}; attempts has {list(attempts)}")
    g = attempts.groupby(by, as_index=False, dropna=False).agg(
        attempts=("returned", "size"),
        returned=("returned", "sum"),
        revenue_recovered=("revenue_recovered", "sum"),
    )
    g = stats.rate_columns(g, "returned", "attempts")
    return g.rename(columns={"rate": "winback_rate"}).sort_values("attempts", ascending=False)


def publish_tables(
    con: BaseBackend,
    *,
    as_of: datetime | None = None,
    config: Config | None = None,
    progress: Callable[[str], None] | None = None,
) -> dict[str, pd.DataFrame]:
    """``winback_attempts`` (the publish step ``winback``): every attempt with its outcome,
    reason, RFM class and value tier.

    Raises
    ------
    crmkit.stats.NotEnoughData
        When no contact qualified as an attempt (the publish step is skipped with that reason).
    """
    as_of = schema.check_as_of(as_of or db.data_as_of(con))
    cls_tbl = classification.current(con, as_of=as_of, rules=config.rules if config else None)
    churn_days = cls_tbl.churn_days.max().execute()
    lapse = int(churn_days) if churn_days is not None else DEFAULT_LAPSE_DAYS
    att = winback_attempts(con, as_of=as_of, lapse_days=lapse, config=config)
    if progress:
        progress(f"{len(att):,} attempts (lapsed ≥ {lapse} days)")
    if not len(att):
        raise stats.NotEnoughData(stats.too_few("attempts", 0, 1))
    seg = cls_tbl.select("customer_id", "rfm_class", "value_tier").to_pandas()
    att = att.merge(seg, on="customer_id", how="left")
    att["rfm_class"] = att.rfm_class.fillna(definitions.POTENTIAL)
    return {"winback_attempts": att}
