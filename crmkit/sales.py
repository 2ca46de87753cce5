"""Sales opportunities (销售机会): the open pipeline, stage conversion, win rates, cycle times.

Reads the ``opportunities`` table (``stage``, ``amount``, ``source``, ``owner``, ``opened_at``,
``stage_changed_at``, ``closed_at``). An opportunity is open in one of :data:`OPEN_STAGES` and
closes as ``won`` or ``lost``; the data keeps its current stage and its last stage change only,
so stage conversion is inferred from the current stage (:func:`stage_funnel`). The stated win
probability of each open stage is a company setting (``pipeline.stage_probability`` of
``kpi_targets.json``, :func:`stage_probability`). The KPI sales conversion rate (won / closed)
is in :mod:`crmkit.kpi`; :func:`win_rates` splits it by owner or source.

Examples
--------
>>> STAGES
('lead', 'qualified', 'proposal', 'negotiation', 'won', 'lost')
>>> stage_probability({"pipeline": {"stage_probability": {"lead": 0.1, "qualified": 0.25,
...     "proposal": 0.45, "negotiation": 0.7}}})["won"]
1.0
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

import ibis
import ibis.expr.types as ir
import numpy as np
import pandas as pd
from ibis.backends import BaseBackend

from crmkit import db, kpi, stats
from crmkit.periods import Period, parse_period


def _lit(ts: datetime) -> ir.Value:
    return ibis.literal(ts, type="timestamp")


OPEN_STAGES = ("lead", "qualified", "proposal", "negotiation")
STAGES = (*OPEN_STAGES, "won", "lost")


def stage_probability(targets: Mapping | None = None) -> dict[str, float]:
    """The stated chance that an open opportunity in each stage is won (config ``pipeline``)."""
    targets = kpi.load_targets() if targets is None else targets
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
    probs = stage_probability(kpi.targets_of(con) if targets is None else targets)
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


__all__ = [
    "OPEN_STAGES",
    "STAGES",
    "cycle_times",
    "pipeline",
    "stage_funnel",
    "stage_probability",
    "win_rates",
]
