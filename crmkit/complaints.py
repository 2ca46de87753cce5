"""Complaint handling (step 6 客户投诉处理): the first-response SLA, backlog, breaches and
service quality.

The rule itself — when a ticket has met or breached the first-response SLA, or is still
pending, on which clock — is :func:`crmkit.definitions.sla_flags` with the company's
:func:`crmkit.definitions.sla_policy` (the ``sla`` section of its settings): first response
within 2 hours by default, on the wall clock or, with ``business_hours`` such as
``["09:00", "18:00"]``, counting only business time on workdays (Mon–Fri by default, and with a
``holiday_calendar`` such as ``"CN"`` the country's statutory holidays off and 调休 make-up
workdays on). A ticket not answered by ``as_of`` is a breach once its clock has run past the
target (before that it is *pending* and not yet counted). This module builds on that rule:

- :func:`ticket_sla` adds the clock, resolution and backlog columns per ticket;
- :func:`sla_summary` gives attainment (met / due, Wilson interval), breach rate, median first
  response, median resolution time, reopen rate, escalation rate and open backlog by channel,
  category, severity, team or agent; :func:`sla_attainment` does it for tickets opened in a
  window ``[start, end)`` of some customers (the KPI registry's ``complaint_sla``);
- :func:`backlog_ageing` buckets open tickets by age; :func:`breaches` lists the tickets that
  missed the SLA;
- :func:`service_quality` evaluates teams and agents (with post-ticket CSAT) and flags small
  samples so that one ticket does not rank an agent.

The ``complaints`` publish step (:func:`publish_tables`) writes ``ticket_sla`` and
``complaints_info`` into the snapshot; the satisfaction page reads them with cheap aggregates.

Examples
--------
At 11:30, T1 (opened 10:00, answered after an hour) has met the 2-hour target; T2 (opened
10:00, unanswered) has waited 1.5 h: pending, in neither count.

>>> from datetime import datetime
>>> tk = ibis.memtable({"ticket_id": ["T1", "T2"], "customer_id": ["C1", "C2"],
...     "opened_at": [datetime(2026, 1, 5, 10)] * 2,
...     "first_response_at": [datetime(2026, 1, 5, 11), None], "resolved_at": [None, None]})
>>> r = sla_summary(ticket_sla(tk, as_of=datetime(2026, 1, 5, 11, 30))).iloc[0]
>>> int(r.numerator), int(r.denominator), int(r.pending)
(1, 1, 1)
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import datetime

import ibis
import ibis.expr.types as ir
import numpy as np
import pandas as pd
from ibis.backends import BaseBackend

from crmkit import definitions, schema, stats
from crmkit.config import Config
from crmkit.definitions import SlaPolicy

MIN_N = stats.MIN_N
#: A ticket's slice when it has no value for a dimension.
NONE = "(none)"
#: Dimensions the SLA is reported by.
SLA_DIMENSIONS = ("channel", "category", "severity", "team", "agent")
#: Open-ticket age buckets (days): label -> [lower, upper).
AGE_BUCKETS: dict[str, tuple[float, float]] = {
    "<1d": (0, 1),
    "1-3d": (1, 3),
    "3-7d": (3, 7),
    "7-30d": (7, 30),
    ">30d": (30, math.inf),
}

DEFINITIONS: dict[str, dict[str, str]] = {
    "sla": {
        "numerator": "tickets first answered within the SLA",
        "denominator": "tickets whose SLA outcome is known (answered, or unanswered past the "
        "target: a breach)",
        "unit": "share, 0..1",
        "method": "Wilson 95 %",
        "zh": "首次响应达标率 = SLA内首次响应的工单 / 已答复或已超时未答复的工单",
        "en": "SLA attainment = tickets first answered within the SLA / tickets answered or "
        "unanswered past the target",
    },
}


def definition(
    *,
    start: datetime | None = None,
    end: datetime | None = None,
    filters: str = "",
    min_n: int = MIN_N,
    policy: SlaPolicy | None = None,
) -> dict[str, object]:
    """The definition (口径) of SLA attainment for a window, with the policy in words.

    Examples
    --------
    >>> d = definition(start=datetime(2026, 1, 1), end=datetime(2026, 4, 1))
    >>> d["window"], d["policy"]
    ('[2026-01-01 00:00:00, 2026-04-01 00:00:00)', 'first response within 2 h, wall clock, 24/7')
    """
    window = f"[{start or '-inf'}, {end or '+inf'})" if (start or end) else "all time"
    return {
        "metric": "sla",
        **DEFINITIONS["sla"],
        "window": window,
        "filters": filters,
        "min_n": min_n,
        "policy": (policy or SlaPolicy()).describe(),
    }


# ---------------------------------------------------------------------------------------------
# The clock per ticket
# ---------------------------------------------------------------------------------------------


def ticket_sla(
    tickets: ir.Table,
    policy: SlaPolicy | None = None,
    *,
    as_of: datetime,
    config: Config | None = None,
) -> ir.Table:
    """Tickets with the SLA clock, resolution and backlog columns.

    The SLA outcome is :func:`crmkit.definitions.sla_flags` (its ``answered, due, met,
    breached, pending``; a first response after ``as_of`` has not happened yet). Adds
    ``response_minutes`` (to the first response, on the policy's clock; NULL when not answered
    by ``as_of``), ``waited_minutes`` (to the first response, or to ``as_of`` when unanswered),
    those flags, ``resolved``, ``resolution_hours`` (wall clock, opened → resolved),
    ``is_open``, ``age_days`` (open tickets: opened → ``as_of``), ``reopened``
    (reopen_count > 0), ``escalated``.

    Parameters
    ----------
    tickets : ibis Table
        ``opened_at``, ``first_response_at``, ``resolved_at`` (NULL: not yet), optionally
        ``reopen_count`` and ``escalated``; every column is kept.
    policy : SlaPolicy, optional
        Default: the settings' (:func:`crmkit.definitions.sla_policy` of ``config``).
    as_of : datetime
        The clock's "now" for unanswered and open tickets.
    config : Config, optional
        Whose ``sla`` section gives the policy when ``policy`` is not passed.

    Returns
    -------
    ibis Table

    Examples
    --------
    Opened Friday 17:30, answered Monday 09:40: 130 minutes on the wall clock … plus two
    days; with business hours 09:00–18:00 it is 30 + 40 = 70 minutes, within 2 hours:

    >>> tk = ibis.memtable({"ticket_id": ["T1"], "customer_id": ["C1"],
    ...     "opened_at": [datetime(2026, 1, 9, 17, 30)],
    ...     "first_response_at": [datetime(2026, 1, 12, 9, 40)],
    ...     "resolved_at": [None], "reopen_count": [0], "escalated": [False]})
    >>> pol = SlaPolicy(business_hours=("09:00", "18:00"))
    >>> r = ticket_sla(tk, pol, as_of=datetime(2026, 1, 13)).to_pandas().iloc[0]
    >>> float(r.response_minutes), bool(r.met)
    (70.0, True)
    """
    policy = policy or definitions.sla_policy(config)
    schema.require_columns(
        tickets, ["opened_at", "first_response_at", "resolved_at"], "ticket_sla: tickets"
    )
    now = ibis.literal(as_of, type="timestamp")
    t = tickets
    # an all-empty column (e.g. no ticket resolved yet, read from a file) has no type yet
    untyped = {
        c: t[c].cast("timestamp")
        for c in ("opened_at", "first_response_at", "resolved_at")
        if not t[c].type().is_timestamp()
    }
    t = t.mutate(**untyped) if untyped else t
    t = definitions.sla_flags(t, as_of=as_of, policy=policy)
    t = t.mutate(
        response_minutes=t.response_seconds.cast("float64") / 60,
        waited_minutes=t.waited_seconds.cast("float64") / 60,
        resolved=t.resolved_at.notnull(),
        resolution_hours=(t.resolved_at.epoch_seconds() - t.opened_at.epoch_seconds()).cast(
            "float64"
        )
        / 3600,
        is_open=t.resolved_at.isnull(),
        age_days=ibis.ifelse(
            t.resolved_at.isnull(),
            (now.epoch_seconds() - t.opened_at.epoch_seconds()).cast("float64") / 86400,
            ibis.null("float64"),
        ),
    ).drop("response_seconds", "waited_seconds")
    extra = {}
    if "reopen_count" in t.columns:
        extra["reopened"] = t.reopen_count.fill_null(0) > 0
    if "escalated" in t.columns:
        extra["escalated"] = t.escalated.fill_null(False)
    return t.mutate(**extra) if extra else t


# ---------------------------------------------------------------------------------------------
# Summaries
# ---------------------------------------------------------------------------------------------


def sla_summary(
    sla: ir.Table,
    by: str | Sequence[str] | None = None,
    *,
    min_n: int = MIN_N,
    policy: SlaPolicy | None = None,
    start: datetime | None = None,
    end: datetime | None = None,
    filters: str = "",
) -> pd.DataFrame:
    """Complaint handling by slice, from :func:`ticket_sla` (already scoped to a window).

    Returns
    -------
    pandas.DataFrame
        ``<by>, tickets, value`` (SLA attainment, Wilson ``lo, hi``), ``numerator`` (met),
        ``denominator`` (due), ``n`` (= due), ``breached, breach_rate, pending,
        median_response_minutes, resolved, median_resolution_hours, reopened, reopen_rate``
        (of resolved tickets), ``escalated, escalation_rate, open, small_sample`` (due <
        ``min_n``); ``attrs["definition"]``. Sorted by breach rate, worst first.
    """
    by = schema.as_list(by)
    schema.require_columns(sla, ["met", "due", "breached"], "sla_summary: run ticket_sla first")
    s = sla
    i64 = "int64"
    df = stats.aggregate(
        s,
        by,
        tickets=s.count(),
        due_n=s.due.cast(i64).sum(),
        met_n=s.met.cast(i64).sum(),
        breached=s.breached.cast(i64).sum(),
        pending=s.pending.cast(i64).sum(),
        median_response_minutes=s.response_minutes.median(),
        resolved=s.resolved.cast(i64).sum(),
        median_resolution_hours=s.resolution_hours.median(),
        reopened=(s.reopened & s.resolved).cast(i64).sum()
        if "reopened" in s.columns
        else ibis.literal(0),
        escalated=s.escalated.cast(i64).sum() if "escalated" in s.columns else ibis.literal(0),
        open=s.is_open.cast(i64).sum(),
    )
    for c in (
        "tickets",
        "due_n",
        "met_n",
        "breached",
        "pending",
        "resolved",
        "reopened",
        "escalated",
        "open",
    ):
        df[c] = df[c].astype("int64")
    df["numerator"], df["denominator"], df["n"] = df.met_n, df.due_n, df.due_n
    df["value"], df["lo"], df["hi"] = stats.wilson(df.met_n.to_numpy(), df.due_n.to_numpy())
    with np.errstate(divide="ignore", invalid="ignore"):
        df["breach_rate"] = np.where(df.due_n > 0, df.breached / df.due_n, np.nan)
        df["reopen_rate"] = np.where(df.resolved > 0, df.reopened / df.resolved, np.nan)
        df["escalation_rate"] = np.where(df.tickets > 0, df.escalated / df.tickets, np.nan)
    df["small_sample"] = df.n.to_numpy() < min_n
    cols = [
        *by,
        "tickets",
        "value",
        "numerator",
        "denominator",
        "n",
        "lo",
        "hi",
        "breached",
        "breach_rate",
        "pending",
        "median_response_minutes",
        "resolved",
        "median_resolution_hours",
        "reopened",
        "reopen_rate",
        "escalated",
        "escalation_rate",
        "open",
        "small_sample",
    ]
    df = df[cols]
    if by:
        df = df.sort_values(["breach_rate", *by], ascending=[False] + [True] * len(by))
        df = df.reset_index(drop=True)
    df.attrs["definition"] = definition(
        start=start, end=end, filters=filters, min_n=min_n, policy=policy
    )
    return df


def sla_attainment(
    tickets: ir.Table,
    by: str | Sequence[str] | None = None,
    *,
    policy: SlaPolicy | None = None,
    as_of: datetime,
    start: datetime | None = None,
    end: datetime | None = None,
    customers: ir.Table | None = None,
    min_n: int = MIN_N,
    filters: str = "",
    config: Config | None = None,
) -> pd.DataFrame:
    """Complaint first-response SLA attainment (首次响应达标率) for tickets opened in
    ``[start, end)``, optionally of some ``customers`` only.

    Parameters
    ----------
    tickets : ibis Table
        As for :func:`ticket_sla`, with ``customer_id`` for ``customers``.
    by : str or list of str, optional
        Slice by these columns (e.g. :data:`SLA_DIMENSIONS`); none: one row.
    policy : SlaPolicy, optional
        Default: the settings' (:func:`crmkit.definitions.sla_policy` of ``config``).
    as_of : datetime
        The clock's "now" (:func:`crmkit.definitions.sla_flags`).
    start, end : datetime, optional
        Tickets opened in ``[start, end)``.
    customers : ibis Table, optional
        Only these customers' tickets (by ``customer_id``).
    min_n : int
        Rows with fewer due tickets are flagged ``small_sample``.

    Returns
    -------
    pandas.DataFrame
        The :func:`sla_summary` frame: ``value`` = met / due with a Wilson interval,
        ``numerator, denominator, n, lo, hi, small_sample`` and the rest.

    Examples
    --------
    >>> tk = ibis.memtable({"ticket_id": ["T1", "T2", "T3"], "customer_id": ["C1"] * 3,
    ...     "opened_at": [datetime(2026, 1, 5, 10)] * 3,
    ...     "first_response_at": [datetime(2026, 1, 5, 11), datetime(2026, 1, 5, 13), None],
    ...     "resolved_at": [None] * 3})
    >>> r = sla_attainment(tk, as_of=datetime(2026, 1, 6)).iloc[0]
    >>> int(r.numerator), int(r.denominator), int(r.breached)
    (1, 3, 2)
    """
    if start is not None and end is not None and start >= end:
        raise ValueError(f"empty window: start {start} must be before end {end}")
    policy = policy or definitions.sla_policy(config)
    scoped = tickets
    if start is not None:
        scoped = scoped.filter(scoped.opened_at >= start)
    if end is not None:
        scoped = scoped.filter(scoped.opened_at < end)
    if customers is not None:
        schema.require_columns(customers, ["customer_id"], "customers")
        scoped = scoped.semi_join(customers, "customer_id")
    return sla_summary(
        ticket_sla(scoped, policy, as_of=as_of),
        by,
        min_n=min_n,
        policy=policy,
        start=start,
        end=end,
        filters=filters,
    )


def backlog_ageing(sla: ir.Table, by: str = "team") -> pd.DataFrame:
    """Open tickets (未结案) by ``by`` and age bucket (:data:`AGE_BUCKETS`).

    Returns ``<by>, bucket, tickets`` for every ``by`` value with open tickets and every bucket
    (0 where none), buckets in order.
    """
    schema.require_columns(sla, ["is_open", "age_days", by], "backlog_ageing")
    o = sla.filter(sla.is_open)
    bucket = ibis.cases(
        *((o.age_days < hi, label) for label, (_, hi) in AGE_BUCKETS.items() if hi != math.inf),
        else_=list(AGE_BUCKETS)[-1],
    )
    df = (
        o.group_by([o[by].fill_null(NONE).name(by), bucket.name("bucket")])
        .aggregate(tickets=o.count())
        .to_pandas()
    )
    keys = sorted(df[by].unique().tolist())
    full = pd.MultiIndex.from_product([keys, list(AGE_BUCKETS)], names=[by, "bucket"])
    df = df.set_index([by, "bucket"]).reindex(full, fill_value=0).reset_index()
    df["tickets"] = df.tickets.astype("int64")
    return df


def breaches(sla: ir.Table) -> ir.Table:
    """Tickets that missed the first-response SLA (late or never answered), oldest first."""
    b = sla.filter(sla.breached)
    cols = [
        c
        for c in (
            "ticket_id",
            "customer_id",
            "opened_at",
            "first_response_at",
            "response_minutes",
            "waited_minutes",
            "channel",
            "category",
            "severity",
            "team",
            "agent",
            "escalated",
            "is_open",
        )
        if c in b.columns
    ]
    return b.select(cols).order_by(["opened_at", "ticket_id"])


def service_quality(
    sla: ir.Table,
    feedback: ir.Table | None = None,
    by: str = "team",
    *,
    csat_days: int = 14,
    min_n: int = MIN_N,
) -> pd.DataFrame:
    """Service quality per team or agent (服务质量的监控和评估).

    Volume, SLA attainment (Wilson interval), median resolution hours, reopen rate and
    post-ticket CSAT: CSAT answers the ticket's customer gave within ``csat_days`` after the
    ticket was resolved (share of 4–5, Wilson interval). ``small_sample`` when fewer than
    ``min_n`` tickets are due; ``rank`` (1 = best attainment) only among the others, so that
    one ticket does not rank an agent.
    """
    base = sla_summary(sla, by, min_n=min_n)
    if feedback is not None:
        r = sla.filter(sla.resolved).select(by, "customer_id", "resolved_at")
        f = feedback.filter(feedback.csat.notnull()).select("customer_id", "ts", "csat")
        j = r.join(
            f,
            [
                "customer_id",
                f.ts > r.resolved_at,
                f.ts <= r.resolved_at + ibis.interval(days=csat_days),
            ],
        )
        post = (
            j.group_by(by)
            .aggregate(csat_n=j.count(), csat_k=(j.csat >= 4).cast("int64").sum())
            .to_pandas()
        )
        base = base.merge(post, on=by, how="left").fillna({"csat_n": 0, "csat_k": 0})
        base["csat_n"] = base.csat_n.astype("int64")
        base["csat_k"] = base.csat_k.astype("int64")
        base["post_csat"], base["post_csat_lo"], base["post_csat_hi"] = stats.wilson(
            base.csat_k.to_numpy(), base.csat_n.to_numpy()
        )
        base["post_csat_small_sample"] = base.csat_n < min_n
    ok = ~base.small_sample
    base["rank"] = pd.array([pd.NA] * len(base), dtype="Int64")
    order = base[ok].sort_values(["value", by], ascending=[False, True]).index
    base.loc[order, "rank"] = np.arange(1, len(order) + 1)
    return base.sort_values(["small_sample", "rank", by]).reset_index(drop=True)


# ---------------------------------------------------------------------------------------------
# Publish step and KPI registry entry (crmkit.kpi resolves "crmkit.complaints:kpi_*" lazily)
# ---------------------------------------------------------------------------------------------


def publish_tables(
    con: BaseBackend, *, as_of: datetime, config: Config | None = None
) -> dict[str, ir.Table | pd.DataFrame]:
    """The publish step ``complaints``: ``ticket_sla`` (:func:`ticket_sla` of every ticket
    with the settings' policy, :func:`crmkit.definitions.sla_policy`) and ``complaints_info``
    (as_of and the policy, which the page states).

    Examples
    --------
    >>> from crmkit import db
    >>> con = db.connect(":memory:", read_only=False)
    >>> db.create_schema(con)
    >>> t = publish_tables(con, as_of=datetime(2026, 1, 1))
    >>> sorted(t), t["complaints_info"].first_response_hours.item()
    (['complaints_info', 'ticket_sla'], 2.0)
    """
    policy = definitions.sla_policy(config)
    return {
        "ticket_sla": ticket_sla(con.table("tickets"), policy, as_of=as_of),
        "complaints_info": policy_info(policy, as_of=as_of),
    }


def policy_info(policy: definitions.SlaPolicy, *, as_of: datetime) -> pd.DataFrame:
    """The ``complaints_info`` row: the data clock and the SLA policy the page states."""
    return pd.DataFrame(
        {
            "as_of": [as_of],
            "sla_policy": [policy.describe()],
            "first_response_hours": [float(policy.first_response_hours)],
            "business_hours": ["-".join(policy.business_hours or ())],
            "workdays": [",".join(str(d) for d in policy.workdays)],
            "holiday_calendar": [policy.holiday_calendar or ""],
            "min_n": [MIN_N],
        }
    )


def kpi_complaint_sla(
    con: BaseBackend,
    *,
    start: datetime,
    end: datetime,
    customers: ir.Table | None = None,
    config: Config | None = None,
) -> dict[str, int]:
    """Complaint tickets opened in ``[start, end)`` first answered within the settings'
    target (:func:`crmkit.definitions.sla_policy`: 2 h round the clock by default) / those
    whose outcome is known at ``end``: a ticket not answered by ``end`` counts as a breach
    once its clock has run out, and not at all before that (pending)."""
    r = sla_attainment(
        con.table("tickets"),
        policy=definitions.sla_policy(config),
        as_of=end,
        start=start,
        end=end,
        customers=customers,
    ).iloc[0]
    return {"numerator": int(r.numerator), "denominator": int(r.denominator)}
