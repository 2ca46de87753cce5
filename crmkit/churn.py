"""Churn early warning (客户流失预警, step 8): who is about to leave, why, and what to do.

Supervised churn warning (scikit-learn)
    Churn is defined explicitly: *a buyer who places no counted order in the next ``horizon``
    days*, with ``horizon`` = the data's median purchase cycle × ``HORIZON_CYCLES`` (2),
    rounded to whole days and kept within 30 … 365 (:func:`churn_horizon_days`). The population
    at a cut-off are the *active* buyers: a counted order in the ``active_days`` before it.
    :func:`churn_features` uses only what was known at the cut-off (orders placed, tickets
    opened, SLA breaches already due, feedback given, contacts made by then; no mutable profile
    field such as the membership tier); tests prove that changing data after the cut-off
    changes no feature. The model is a :class:`ChurnModel` (gradient boosting;
    :mod:`crmkit.churn_model`), fitted on those features by :func:`from_warehouse` — the same
    X, y an analyst gets — and validated by a time-based backtest (:func:`backtest`): trained
    on earlier cut-offs whose label windows end by the test cut-off, tested on the latest
    cut-off whose outcome is known (AUC, precision and lift at the top k %, calibration by
    decile, Brier score).

The warning list (:func:`warning_list`)
    Active customers ranked by ``expected_loss = risk × value`` (``value`` = counted spend of
    the last 365 days, the revenue at stake), each with up to three reason codes — the feature
    groups whose replacement by a typical value lowers the model's risk the most, written in
    words ("no purchase for 205 days, 3.4× usual gap", "2 complaints past SLA", "NPS dropped
    9 → 4") — the owner team (classification rules) and owner, and a suggested action.

Customer lifetime value lives in :mod:`crmkit.clv`, win-back in :mod:`crmkit.winback`, why
customers left in :mod:`crmkit.churn_causes`.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial
from typing import Any

import ibis
import ibis.expr.types as ir
import numpy as np
import pandas as pd
from ibis.backends import BaseBackend

from crmkit import churn_causes, classification, db, definitions, schema, stats
from crmkit.churn_model import ChurnModel, classification_metrics
from crmkit.config import Config

_TS = schema.IBIS_TYPES["timestamp"]
HORIZON_CYCLES = 2
DEFAULT_ACTIVE_DAYS = 365


# ---------------------------------------------------------------------------------------------
# supervised churn: definition, features as of a cut-off, labels
# ---------------------------------------------------------------------------------------------


def purchase_cycle_days(
    con: BaseBackend, as_of: datetime, *, config: Config | None = None
) -> float:
    """Median over repeat buyers of ``(last − first counted order date) / (orders − 1)``."""
    o = definitions.counted_orders(con.table("orders"), as_of=as_of, config=config)
    g = o.group_by("customer_sk").aggregate(
        n=o.count(), first=o.order_ts.min().date(), last=o.order_ts.max().date()
    )
    g = g.filter(g.n >= 2)
    cyc = g.last.delta(g.first, unit="day").cast("float64") / (g.n - 1).cast("float64")
    value = g.aggregate(c=cyc.median()).c.as_scalar().execute()
    return float(value) if value is not None and not pd.isna(value) else float("nan")


def churn_horizon_days(con: BaseBackend, as_of: datetime, *, config: Config | None = None) -> int:
    """The churn definition's horizon: median purchase cycle × 2, within 30 … 365 days."""
    cycle = purchase_cycle_days(con, as_of, config=config)
    if math.isnan(cycle):
        return 90
    return int(min(365, max(30, round(cycle * HORIZON_CYCLES))))


#: Feature columns of :func:`churn_features`, in model order.
FEATURES = (
    "recency_days",
    "frequency",
    "monetary",
    "tenure_days",
    "mean_gap_days",
    "gap_ratio",
    "orders_90",
    "orders_prev_90",
    "spend_365",
    "returns_180",
    "discount_share",
    "late_deliveries_180",
    "tickets_180",
    "sla_breaches_180",
    "complaints_180",
    "nps_last",
    "nps_prev",
    "nps_drop",
    "inbound_90",
    "region_silent_share",
    "region_silent_rise",
    "is_b2b",
)


def _days_before(c: datetime, days: int) -> ir.TimestampValue:
    return ibis.literal(c - timedelta(days=days), type=_TS)


def _present(con: BaseBackend, name: str) -> bool:
    return name in con.list_tables()


def churn_features(
    con: BaseBackend,
    cutoff: datetime,
    *,
    active_days: int = DEFAULT_ACTIVE_DAYS,
    config: Config | None = None,
) -> ir.Table:
    """Features of every active buyer as of ``cutoff``, using only what was known by then.

    Parameters
    ----------
    con : ibis backend
        Warehouse or snapshot with ``customers`` and ``orders``; ``tickets``, ``feedback`` and
        ``interactions`` are used when present.
    cutoff : datetime
        Nothing after it is read: orders placed, tickets opened, feedback given and contacts
        made by ``cutoff``; SLA breaches are :func:`crmkit.definitions.sla_flags` under the
        company's policy with the clock stopped at ``cutoff`` (a ticket still within its
        target is pending, not breached; a response after ``cutoff`` is not yet known).
    active_days : int, default 365
        Population: customers created by ``cutoff`` whose last counted order is at most this
        many days before it.
    config : Config, optional
        The company's settings: which orders count, the SLA policy.

    Returns
    -------
    ibis.Table
        ``customer_sk``, ``customer_id``, ``province``, ``cutoff`` and :data:`FEATURES`
        (counts as int, missing scores as null).
    """
    cutoff = schema.check_as_of(cutoff)
    c_lit = ibis.literal(cutoff, type=_TS)
    cust = con.table("customers")
    cust = cust.filter(cust.created_at.isnull() | (cust.created_at <= c_lit))
    o = definitions.counted_orders(con.table("orders"), as_of=cutoff, config=config)
    d90, d180, d365 = _days_before(cutoff, 90), _days_before(cutoff, 180), _days_before(cutoff, 365)
    cutoff_date = ibis.literal(cutoff.date())
    base = o.group_by("customer_sk").aggregate(
        frequency=o.count(),
        monetary=o.amount.cast("float64").sum(),
        first_ts=o.order_ts.min(),
        last_ts=o.order_ts.max(),
        orders_90=(o.order_ts > d90).cast("int64").sum(),
        orders_prev_90=((o.order_ts > d180) & (o.order_ts <= d90)).cast("int64").sum(),
        spend_365=ibis.ifelse(o.order_ts > d365, o.amount.cast("float64"), 0.0).sum(),
        discount_share=(o.discount.fill_null(0) > 0).cast("float64").mean(),
        late_deliveries_180=(
            (o.order_ts > d180)
            & o.delivered_at.notnull()
            & (o.delivered_at <= c_lit)
            & (o.delivered_at.date() > o.promised_date)
        )
        .cast("int64")
        .sum(),
    )
    base = base.mutate(
        recency_days=cutoff_date.delta(base.last_ts.date(), unit="day").cast("int64"),
        span_days=base.last_ts.date().delta(base.first_ts.date(), unit="day").cast("float64"),
    )
    base = base.filter(base.recency_days <= active_days)
    base = base.mutate(
        mean_gap_days=ibis.ifelse(
            base.frequency >= 2, base.span_days / (base.frequency - 1).cast("float64"), None
        )
    )
    base = base.mutate(
        gap_ratio=ibis.ifelse(
            base.mean_gap_days > 0, base.recency_days.cast("float64") / base.mean_gap_days, None
        )
    )
    allo = con.table("orders").filter(
        (con.table("orders").order_ts <= c_lit) & (con.table("orders").order_ts > d180)
    )
    returns = (
        allo.filter(allo.status == definitions.RETURNED)
        .group_by("customer_sk")
        .aggregate(returns_180=ibis._.count())
    )
    t = base.left_join(returns, "customer_sk").drop("customer_sk_right")

    if _present(con, "tickets"):
        tk = con.table("tickets")
        tk = tk.filter((tk.opened_at <= c_lit) & (tk.opened_at > d180))
        tk = definitions.sla_flags(tk, as_of=cutoff, policy=definitions.sla_policy(config))
        tks = tk.group_by("customer_sk").aggregate(
            tickets_180=tk.count(), sla_breaches_180=tk.breached.cast("int64").sum()
        )
        t = t.left_join(tks, "customer_sk").drop("customer_sk_right")
    else:
        t = t.mutate(tickets_180=ibis.null("int64"), sla_breaches_180=ibis.null("int64"))

    if _present(con, "feedback"):
        fb = con.table("feedback")
        fb = fb.filter(fb.ts <= c_lit)
        comp = fb.filter((fb.source == "complaint") & (fb.ts > d180))
        comp = comp.group_by("customer_sk").aggregate(complaints_180=comp.count())
        t = t.left_join(comp, "customer_sk").drop("customer_sk_right")
        scored = fb.filter(fb.nps.notnull())
        scored = scored.mutate(
            k=ibis.row_number().over(
                group_by=scored.customer_sk,
                order_by=[ibis.desc(scored.ts), ibis.desc(scored.feedback_id)],
            )
        )
        scored = scored.filter(scored.k <= 1)
        nps = scored.group_by("customer_sk").aggregate(
            nps_last=ibis.ifelse(scored.k == 0, scored.nps, None).max(),
            nps_prev=ibis.ifelse(scored.k == 1, scored.nps, None).max(),
        )
        t = t.left_join(nps, "customer_sk").drop("customer_sk_right")
    else:
        t = t.mutate(
            complaints_180=ibis.null("int64"),
            nps_last=ibis.null("int64"),
            nps_prev=ibis.null("int64"),
        )

    if _present(con, "interactions"):
        it = con.table("interactions")
        it = it.filter((it.ts <= c_lit) & (it.ts > d90) & (it.direction == "inbound"))
        inbound = it.group_by("customer_sk").aggregate(inbound_90=it.count())
        t = t.left_join(inbound, "customer_sk").drop("customer_sk_right")
    else:
        t = t.mutate(inbound_90=ibis.null("int64"))

    people = cust.select(
        _sk=cust.customer_sk,
        customer_id=cust.customer_id,
        province=cust.province,
        created_at=cust.created_at,
        is_b2b=cust.company.notnull().cast("int64"),
    )
    t = t.join(people, t.customer_sk == people._sk).drop("_sk")
    region = _region_silent(con, cutoff, config)
    t = t.left_join(region, t.province == region._province).drop("_province")
    zero = ("returns_180", "tickets_180", "sla_breaches_180", "complaints_180", "inbound_90")
    t = t.mutate(
        **{c: t[c].fill_null(0).cast("int64") for c in zero},
        tenure_days=ibis.ifelse(
            t.created_at.isnull(),
            cutoff_date.delta(t.first_ts.date(), unit="day"),
            cutoff_date.delta(t.created_at.date(), unit="day"),
        ).cast("int64"),
        nps_drop=(t.nps_prev - t.nps_last).cast("float64"),
        cutoff=c_lit,
    )
    return t.select(
        "customer_sk",
        "customer_id",
        "province",
        "cutoff",
        *[t[f].cast("float64").name(f) for f in FEATURES],
    )


def _region_silent(con: BaseBackend, cutoff: datetime, config: Config | None) -> ir.Table:
    """Per province: the share of the previous quarter's buyers who bought nothing in the last
    quarter before ``cutoff`` (``region_silent_share``), and its rise over the quarter before
    (``region_silent_rise``)."""
    o = definitions.counted_orders(con.table("orders"), as_of=cutoff, config=config)
    cust = con.table("customers").select(_csk="customer_sk", _province="province")
    o = o.join(cust, o.customer_sk == cust._csk)

    def silent(end_days: int):  # noqa: ANN202
        q_end = _days_before(cutoff, end_days)
        q_mid = _days_before(cutoff, end_days + 90)
        q_start = _days_before(cutoff, end_days + 180)
        per = o.group_by(["_province", "customer_sk"]).aggregate(
            before=((o.order_ts > q_start) & (o.order_ts <= q_mid)).cast("int64").sum(),
            after=((o.order_ts > q_mid) & (o.order_ts <= q_end)).cast("int64").sum(),
        )
        per = per.filter(per.before > 0)
        return per.group_by("_province").aggregate(share=(per.after == 0).cast("float64").mean())

    now, before = silent(0), silent(90)
    j = now.left_join(before, "_province").drop("_province_right")
    return j.select(
        "_province",
        region_silent_share=j.share,
        region_silent_rise=j.share - j.share_right.fill_null(j.share),
    )


def churn_labels(
    con: BaseBackend, cutoff: datetime, horizon_days: int, *, config: Config | None = None
) -> ir.Table:
    """``customer_sk`` and ``churned`` (1 = no counted order in ``(cutoff, cutoff +
    horizon_days]``) for every customer; join onto :func:`churn_features`."""
    end = cutoff + timedelta(days=horizon_days)
    o = definitions.counted_orders(con.table("orders"), as_of=end, config=config)
    o = o.filter(o.order_ts > ibis.literal(cutoff, type=_TS))
    bought = o.select("customer_sk").distinct()
    return bought.mutate(bought_next=ibis.literal(1))


def labelled_frame(
    con: BaseBackend,
    cutoff: datetime,
    horizon_days: int,
    *,
    active_days: int,
    config: Config | None = None,
) -> pd.DataFrame:
    """Features at ``cutoff`` plus ``churned`` (0/1) as a pandas frame, ordered by
    ``customer_sk`` (a join's row order varies from run to run; the model's seeded training
    sample, and so the model, must not)."""
    f = churn_features(con, cutoff, active_days=active_days, config=config)
    lab = churn_labels(con, cutoff, horizon_days, config=config)
    j = f.left_join(lab, "customer_sk").drop("customer_sk_right")
    j = j.mutate(churned=1 - j.bought_next.fill_null(0)).drop("bought_next")
    return j.order_by("customer_sk").to_pandas()


# ---------------------------------------------------------------------------------------------
# the model on the warehouse, backtest
# ---------------------------------------------------------------------------------------------


def from_warehouse(
    con: BaseBackend,
    as_of: datetime | None = None,
    *,
    horizon_days: int | None = None,
    active_days: int = DEFAULT_ACTIVE_DAYS,
    n_train: int = 3,
    config: Config | None = None,
    frames: Mapping[datetime, pd.DataFrame] | None = None,
) -> ChurnModel:
    """The publish step's churn model, fitted on the warehouse's labelled cut-offs to ``as_of``.

    Training rows are :func:`labelled_frame` (:func:`churn_features` plus ``churned``) at the
    ``n_train`` latest cut-offs whose outcome is known by ``as_of`` (``as_of − horizon``,
    ``as_of − 2 × horizon`` …; none at or before the first counted order), at most
    :data:`MAX_TRAIN_ROWS` of them (a seeded sample).

    Parameters
    ----------
    con : ibis backend
        Warehouse or snapshot with ``customers`` and ``orders``.
    as_of : datetime, optional
        Default: the data's last date (:func:`crmkit.db.data_as_of`).
    horizon_days : int, optional
        Churned = no counted order within it; default :func:`churn_horizon_days`.
    active_days : int, default 365
        The population: buyers with a counted order within this many days.
    n_train : int, default 3
        Cut-offs trained on.
    config : Config, optional
        The company's settings (which orders count, the SLA policy).
    frames : mapping of datetime to DataFrame, optional
        :func:`labelled_frame` results already computed for some of the cut-offs (reused).

    Returns
    -------
    ChurnModel
        Fitted on :data:`FEATURES`. ``X_`` and ``y_`` are the rows it was fitted on — the X,
        y the publish step uses — and ``training_frame_`` the same rows with ``customer_id``
        and ``cutoff``; ``horizon_days``, ``active_days``, ``train_cutoffs`` and
        ``reference`` (typical values for the reason codes) are set.

    Raises
    ------
    crmkit.stats.NotEnoughData
        When every cut-off falls at or before the first counted order (or none was placed
        by ``as_of``).

    Examples
    --------
    >>> cm = from_warehouse(con, datetime(2026, 9, 30))  # doctest: +SKIP
    >>> cm.evaluate(cm.X_, cm.y_).summary  # doctest: +SKIP
    """
    as_of = schema.check_as_of(as_of or db.data_as_of(con))
    horizon = horizon_days or churn_horizon_days(con, as_of, config=config)
    first = _first_order(con, as_of, config)
    cuts = [as_of - timedelta(days=horizon * k) for k in range(n_train, 0, -1)]
    cuts = [c for c in cuts if first is not None and c > first]
    if not cuts:
        raise stats.NotEnoughData(stats.too_few("training_cutoffs", 0, 1))
    frames = frames or {}
    train = pd.concat(
        [
            frames[c]
            if c in frames
            else labelled_frame(con, c, horizon, active_days=active_days, config=config)
            for c in cuts
        ],
        ignore_index=True,
    )
    train = _subsample(train)
    model = ChurnModel(features=FEATURES).fit(train, train.churned)
    model.horizon_days = horizon
    model.active_days = active_days
    model.train_cutoffs = cuts
    model.reference = reference_values(train)
    model.training_frame_ = train
    return model


def backtest_cutoffs(
    as_of: datetime, horizon_days: int, n_train: int = 3, *, first_order: datetime | None = None
) -> dict:
    """Test cut-off ``as_of − horizon`` (its outcome is known by ``as_of``); training cut-offs
    ``horizon``, 2 × ``horizon`` … before it, so every training label window ends by the test
    cut-off (no look-ahead). A training cut-off at or before ``first_order`` (the data's first
    counted order: nobody had bought yet) is left out, so a short history trains on fewer
    cut-offs rather than on empty ones.

    >>> c = backtest_cutoffs(datetime(2024, 12, 31), 90, first_order=datetime(2024, 5, 1))
    >>> [f"{d:%Y-%m-%d}" for d in c["train"]], f"{c['test']:%Y-%m-%d}"
    (['2024-07-04'], '2024-10-02')
    """
    test = as_of - timedelta(days=horizon_days)
    train = [test - timedelta(days=horizon_days * k) for k in range(n_train, 0, -1)]
    if first_order is not None:
        train = [c for c in train if c > first_order]
    return {"train": train, "test": test}


def _first_order(con: BaseBackend, as_of: datetime, config: Config | None) -> datetime | None:
    """The first counted order's time: no training cut-off falls before it."""
    o = definitions.counted_orders(con.table("orders"), as_of=as_of, config=config)
    return o.order_ts.min().execute()


@dataclass
class Backtest:
    """A time-based backtest: cut-offs, metrics on the test cut-off, the frames behind them."""

    horizon_days: int
    active_days: int
    train_cutoffs: list[datetime]
    test_cutoff: datetime
    metrics: dict[str, Any]
    n_train: int


def backtest(
    con: BaseBackend,
    *,
    as_of: datetime | None = None,
    horizon_days: int | None = None,
    active_days: int = DEFAULT_ACTIVE_DAYS,
    n_train: int = 3,
    top_k: float = 0.1,
    config: Config | None = None,
) -> Backtest:
    """Train on earlier cut-offs, test on the latest cut-off whose outcome is known.

    Returns
    -------
    Backtest
        Its ``metrics`` are :func:`classification_metrics` on the test cut-off.
    """
    as_of = schema.check_as_of(as_of or db.data_as_of(con))
    horizon = horizon_days or churn_horizon_days(con, as_of, config=config)
    test_cutoff = backtest_cutoffs(as_of, horizon, n_train)["test"]
    # the model as publish would have fitted it at the test cut-off: the same training cut-offs
    cm = from_warehouse(
        con,
        test_cutoff,
        horizon_days=horizon,
        active_days=active_days,
        n_train=n_train,
        config=config,
    )
    test = labelled_frame(con, test_cutoff, horizon, active_days=active_days, config=config)
    p = cm.predict_proba(test)
    return Backtest(
        horizon_days=horizon,
        active_days=active_days,
        train_cutoffs=cm.train_cutoffs,
        test_cutoff=test_cutoff,
        metrics=classification_metrics(test.churned.to_numpy(), p, top_k=top_k),
        n_train=len(cm.training_frame_),
    )


# ---------------------------------------------------------------------------------------------
# reason codes and the warning list
# ---------------------------------------------------------------------------------------------

#: Reason code → the features it stands for (replaced together by typical values).
REASONS: dict[str, tuple[str, ...]] = {
    "recency": ("recency_days", "gap_ratio"),
    "order_drop": ("orders_90", "orders_prev_90"),
    "sla": ("sla_breaches_180", "tickets_180"),
    "complaints": ("complaints_180",),
    "nps_drop": ("nps_last", "nps_prev", "nps_drop"),
    "region": ("region_silent_share", "region_silent_rise"),
    "returns": ("returns_180", "late_deliveries_180"),
    "low_frequency": ("frequency", "mean_gap_days"),
    "price": ("discount_share",),
}
#: Reason code → suggested action code (labels in crmkit.i18n: action_<code>).
ACTIONS: dict[str, str] = {
    "recency": "repurchase_call",
    "order_drop": "repurchase_call",
    "sla": "service_recovery",
    "complaints": "service_recovery",
    "nps_drop": "follow_up_visit",
    "region": "regional_retention",
    "returns": "quality_follow_up",
    "low_frequency": "member_benefits",
    "price": "targeted_offer",
}
#: Smallest drop in the log-odds of the risk for a reason to be listed (0.1 ≈ odds × 0.9).
MIN_REASON_EFFECT = 0.1


def reference_values(frame: pd.DataFrame) -> dict[str, float]:
    """Typical feature values (medians of the customers who did not churn) used to ask "how
    much lower would the risk be if this were typical?"."""
    ok = frame[frame.churned == 0] if "churned" in frame else frame
    ref = ok[list(FEATURES)].median(numeric_only=True).to_dict()
    for f in ("sla_breaches_180", "complaints_180", "returns_180", "late_deliveries_180"):
        ref[f] = 0.0
    ref["nps_drop"] = 0.0
    return {k: (float(v) if not pd.isna(v) else np.nan) for k, v in ref.items()}


def _logit(p: np.ndarray) -> np.ndarray:
    p = np.clip(p, 1e-6, 1 - 1e-6)
    return np.log(p / (1 - p))


def reason_effects(model: ChurnModel, X: pd.DataFrame, ref: Mapping[str, float]) -> pd.DataFrame:
    """Per customer and reason code: log-odds of the risk now − log-odds with that reason's
    features set to ``ref`` (positive = the reason raises the risk). Log-odds rather than
    probabilities, so a second reason still shows when the first one already makes the risk
    close to 1."""
    base = _logit(model.predict_proba(X))
    out = {}
    for code, feats in REASONS.items():
        Xr = X[list(FEATURES)].copy()
        for f in feats:
            Xr[f] = ref[f]
        out[code] = base - _logit(model.predict_proba(Xr))
    return pd.DataFrame(out, index=X.index)


def _fmt_num(x: float) -> str:
    return "—" if x is None or pd.isna(x) else f"{x:,.0f}"


def reason_text(code: str, row: Mapping[str, Any], lang: str) -> str:
    """One reason code in words with the customer's own numbers."""
    from crmkit.i18n import t

    v = {k: row.get(k) for k in (*FEATURES, "province")}
    args: dict[str, object] = {}
    if code == "recency":
        ratio = v["gap_ratio"]
        args = {
            "days": _fmt_num(v["recency_days"]),
            "ratio": "—" if ratio is None or pd.isna(ratio) else f"{ratio:.1f}",
        }
    elif code == "order_drop":
        args = {"prev": _fmt_num(v["orders_prev_90"]), "now": _fmt_num(v["orders_90"])}
    elif code == "sla":
        args = {"n": _fmt_num(v["sla_breaches_180"])}
    elif code == "complaints":
        args = {"n": _fmt_num(v["complaints_180"])}
    elif code == "nps_drop":
        args = {"prev": _fmt_num(v["nps_prev"]), "now": _fmt_num(v["nps_last"])}
    elif code == "region":
        share = v["region_silent_share"]
        args = {
            "province": v["province"] or "—",
            "share": "—" if share is None or pd.isna(share) else f"{share:.0%}",
        }
    elif code == "returns":
        args = {"n": _fmt_num(v["returns_180"]), "late": _fmt_num(v["late_deliveries_180"])}
    elif code == "low_frequency":
        args = {"n": _fmt_num(v["frequency"])}
    elif code == "price":
        share = v["discount_share"]
        args = {"share": "—" if share is None or pd.isna(share) else f"{share:.0%}"}
    return t(f"reason_{code}", lang, **args)


def plausible_reasons(X: pd.DataFrame, ref: Mapping[str, float]) -> pd.DataFrame:
    """Whether each reason's words hold for the customer (a reason is only listed when it
    does: "NPS dropped" needs a drop, "only N orders" fewer orders than typical …)."""

    def col(name: str) -> pd.Series:
        return X[name].astype(float)

    return pd.DataFrame(
        {
            "recency": col("recency_days") > ref["recency_days"],
            "order_drop": col("orders_90") < col("orders_prev_90"),
            "sla": col("sla_breaches_180") > 0,
            "complaints": col("complaints_180") > 0,
            "nps_drop": col("nps_drop") > 0,
            "region": col("region_silent_share") > ref["region_silent_share"],
            "returns": (col("returns_180") + col("late_deliveries_180")) > 0,
            "low_frequency": col("frequency") < ref["frequency"],
            "price": col("discount_share") > ref["discount_share"],
        },
        index=X.index,
    ).fillna(False)


def reason_codes(effects: pd.DataFrame, *, top: int = 3) -> list[list[str]]:
    """The (up to) ``top`` reason codes per row with an effect ≥ :data:`MIN_REASON_EFFECT`,
    largest first."""
    codes = np.array(effects.columns)
    vals = effects.to_numpy()
    order = np.argsort(-vals, axis=1, kind="stable")[:, :top]
    out = []
    for i, idx in enumerate(order):
        out.append([codes[j] for j in idx if vals[i, j] >= MIN_REASON_EFFECT])
    return out


def warning_list(
    con: BaseBackend,
    cm: ChurnModel,
    *,
    as_of: datetime,
    max_rows: int = 50_000,
    classification_table: ir.Table | None = None,
    config: Config | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Score every active customer at ``as_of`` and build the ranked warning list.

    ``cm`` is a model from :func:`from_warehouse` (it carries the population's ``active_days``
    and the typical values the reason codes compare with).

    Returns
    -------
    (scores, warnings) : tuple of pandas.DataFrame
        ``scores``: every active customer with ``risk``, ``value`` (spend of the last 365
        days), ``expected_loss`` = risk × value and the features. ``warnings``: the top
        ``max_rows`` by expected loss with ``rank``, ``reasons`` (codes, comma-separated),
        ``reasons_zh`` / ``reasons_en`` (words), ``action`` with ``action_zh`` / ``action_en``,
        ``owner_team`` (+ ``_zh`` / ``_en``, from the classification rules), ``owner``
        (customers table), ``rfm_class``, ``value_tier``.
    """
    from crmkit.i18n import t

    if cm.reference is None or cm.active_days is None:
        raise ValueError(
            "warning_list needs a model from crmkit.churn.from_warehouse (fitted on FEATURES, "
            "with active_days and reference values); this one was fitted with fit(X, y)"
        )
    feats = churn_features(con, as_of, active_days=cm.active_days, config=config).to_pandas()
    feats["risk"] = cm.predict_proba(feats)
    feats["value"] = feats.spend_365.fillna(0.0)
    feats["expected_loss"] = feats.risk * feats.value
    feats = feats.sort_values(["expected_loss", "customer_id"], ascending=[False, True])
    feats = feats.reset_index(drop=True)
    feats["rank"] = np.arange(1, len(feats) + 1)
    top = feats.head(max_rows).copy()
    eff = reason_effects(cm, top, cm.reference)
    codes = reason_codes(eff.where(plausible_reasons(top, cm.reference), -np.inf))
    top["reasons"] = [",".join(c) for c in codes]
    rows = top[[*FEATURES, "province"]].to_dict("records")  # what reason_text reads
    for lang in ("zh", "en"):
        sep = "；" if lang == "zh" else "; "
        top[f"reasons_{lang}"] = [
            sep.join(reason_text(code, r, lang) for code in c)
            for c, r in zip(codes, rows, strict=True)
        ]
    top["action"] = [ACTIONS[c[0]] if c else "regular_care" for c in codes]
    for lang in ("zh", "en"):
        top[f"action_{lang}"] = [t(f"action_{a}", lang) for a in top.action]
    cls = classification_table if classification_table is not None else con.table("classification")
    people = con.table("customers").select("customer_id", "owner")
    meta = (
        cls.select(
            "customer_id",
            "owner_team",
            "owner_team_zh",
            "owner_team_en",
            "rfm_class",
            "value_tier",
            "customer_type",
        )
        .join(people, "customer_id")
        .to_pandas()
    )
    top = top.merge(meta, on="customer_id", how="left")
    return feats, top


def owner_list(warnings: pd.DataFrame, owner: str) -> pd.DataFrame:
    """The warning list of one owner (负责人), in rank order — what each owner exports."""
    if "owner" not in warnings.columns:
        raise ValueError("the warning list has no 'owner' column; build it with warning_list()")
    return warnings[warnings.owner == owner].sort_values("rank").reset_index(drop=True)


# ---------------------------------------------------------------------------------------------
# the publish step
# ---------------------------------------------------------------------------------------------

#: Fewer labelled customers (or churners / stayers) than this and no classifier is trained.
MIN_TRAIN_ROWS = 200
MIN_CLASS_ROWS = 20


def _check_enough(frame: pd.DataFrame) -> None:
    """Raise :class:`crmkit.stats.NotEnoughData` when ``frame`` (labelled rows) is too small
    to train or test a classifier on."""
    if len(frame) < MIN_TRAIN_ROWS:
        raise stats.NotEnoughData(stats.too_few("labelled_rows", len(frame), MIN_TRAIN_ROWS))
    smaller = int(frame.churned.value_counts().reindex([0, 1], fill_value=0).min())
    if smaller < MIN_CLASS_ROWS:
        raise stats.NotEnoughData(stats.too_few("churned_rows", smaller, MIN_CLASS_ROWS))


def publish_tables(
    con: BaseBackend,
    *,
    as_of: datetime | None = None,
    config: Config | None = None,
    progress: Callable[[str], None] | None = None,
) -> dict[str, pd.DataFrame]:
    """The churn-warning tables of the snapshot (the publish step ``churn``), fitted once.

    ``churn_backtest`` (the definition and the test metrics), ``churn_calibration``,
    ``churn_lift``, ``churn_scores`` (every active customer: risk, value, expected loss,
    features; ``p_alive`` and ``clv`` joined from the ``clv`` table of the step before, when
    it was fitted), ``churn_warning_list`` (top 50,000 with reason codes, owner and action),
    ``churn_reasons`` (why customers left) and ``churn_publish_info`` (seconds per sub-step,
    each also reported to ``progress``).

    Raises
    ------
    crmkit.stats.NotEnoughData
        With too little history for a model: fewer than :data:`MIN_TRAIN_ROWS` labelled rows
        at the training or test cut-offs, or fewer than :data:`MIN_CLASS_ROWS` of either
        outcome (the publish step is skipped with that reason).
    """
    as_of = schema.check_as_of(as_of or db.data_as_of(con))
    timings: list[dict[str, object]] = []

    def note(step: str, t0: float, status: str = "ok") -> None:
        seconds = time.perf_counter() - t0
        timings.append({"step": step, "seconds": seconds, "status": status})
        if progress:
            progress(f"{step} {status} {seconds:.1f} s")

    tables: dict[str, pd.DataFrame] = {}
    cls_tbl = classification.current(con, as_of=as_of, rules=config.rules if config else None)
    # scored: buyers active in the last year (a quiet high-value customer silent for 200 days
    # is exactly whom the list must show)
    active = DEFAULT_ACTIVE_DAYS
    horizon = churn_horizon_days(con, as_of, config=config)
    t0 = time.perf_counter()
    first = _first_order(con, as_of, config)
    cuts = backtest_cutoffs(as_of, horizon, first_order=first)
    if not cuts["train"]:
        raise stats.NotEnoughData(stats.too_few("training_cutoffs", 0, 1))
    frame = partial(labelled_frame, con, active_days=active, config=config)
    frames = [frame(c, horizon) for c in cuts["train"]]
    test_frame = frame(cuts["test"], horizon)
    train = pd.concat(frames, ignore_index=True)
    _check_enough(train)
    _check_enough(test_frame)
    tested = dict(zip(cuts["train"], frames, strict=True))
    model = from_warehouse(
        con, cuts["test"], horizon_days=horizon, active_days=active, config=config, frames=tested
    )
    m = classification_metrics(test_frame.churned.to_numpy(), model.predict_proba(test_frame))
    note("backtest", t0)
    t0 = time.perf_counter()
    known = tested | {cuts["test"]: test_frame}
    cm = from_warehouse(
        con, as_of, horizon_days=horizon, active_days=active, frames=known, config=config
    )
    scores, warnings = warning_list(
        con, cm, as_of=as_of, classification_table=cls_tbl, config=config
    )
    note("churn_model", t0)
    tables["churn_backtest"] = pd.DataFrame(
        [
            {
                "horizon_days": horizon,
                "active_days": active,
                "train_cutoffs": ", ".join(f"{c:%Y-%m-%d}" for c in cuts["train"]),
                "test_cutoff": cuts["test"],
                "n_train": len(model.training_frame_),
                "n_test": m["n"],
                "auc": m["auc"],
                "top_k": m["k"],
                "precision_at_k": m["precision_at_k"],
                "lift_at_k": m["lift_at_k"],
                "base_rate": m["base_rate"],
                "brier": m["brier"],
                "model": cm.estimator_name,
                "definition": (
                    f"churned = active buyer (counted order in the {active} days before the "
                    f"cut-off) with no counted order in the next {horizon} days "
                    f"(median purchase cycle × {HORIZON_CYCLES})"
                ),
            }
        ]
    )
    tables["churn_calibration"] = m["calibration"]
    tables["churn_lift"] = m["lift"]
    keep = ["customer_id", "customer_sk", "province", "risk", "value", "expected_loss"]
    sc = scores[[*keep, "rank", *FEATURES]].copy()
    if _present(con, "clv"):
        clv = con.table("clv").select("customer_id", "p_alive", "clv").to_pandas()
        sc = sc.merge(clv, on="customer_id", how="left")
    tables["churn_scores"] = sc
    tables["churn_warning_list"] = warnings
    activity = churn_causes.order_activity(con, cuts["test"])
    tables["churn_reasons"] = churn_causes.churn_reasons(
        test_frame.merge(activity, on="customer_sk", how="left")
    )
    tables["churn_publish_info"] = pd.DataFrame(timings)
    return tables


#: Most labelled rows a classifier is trained on (a seeded random sample above it): at 1 M
#: customers three cut-offs give ~2 M rows, and the fit time grows with them while the AUC
#: does not (14 features, 15 leaves: 150 k rows are ~10 k per leaf of the first tree).
MAX_TRAIN_ROWS = 150_000


def _subsample(frame: pd.DataFrame) -> pd.DataFrame:
    return stats.sample_rows(frame, MAX_TRAIN_ROWS)
