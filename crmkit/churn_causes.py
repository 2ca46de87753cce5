"""Why customers left (客户流失原因, step 8): churn signals compared between the customers who
churned and those who stayed, adjusted for how active they were.

A raw comparison misleads: active customers order, complain and return more, and churn less,
so complaints or returns look *protective*. :func:`churn_reasons` fits one logistic regression
of ``churned`` on every signal flag (:data:`CHURN_SIGNALS`) plus activity controls
(:data:`REASON_CONTROLS`) and reports, per signal, the raw shares next to the adjusted odds
ratio and relative risk with their intervals and a direction (risk / protective / unclear).
Its input is :func:`crmkit.churn.labelled_frame` at the backtest's test cut-off; the churn
publish step stores the result as ``churn_reasons``.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

import ibis
import numpy as np
import pandas as pd
from ibis.backends import BaseBackend

from crmkit import schema, stats

_TS = schema.IBIS_TYPES["timestamp"]


def _days_before(c: datetime, days: int) -> ibis.Value:
    return ibis.literal(c - timedelta(days=days), type=_TS)


#: Reason flags compared between customers who churned and those who stayed: code → rule over
#: :func:`crmkit.churn.labelled_frame`'s columns and ``region_silent_q``
#: (:func:`province_silent_q`). A flag whose data are missing (no NPS answer, no province) is
#: not set.
CHURN_SIGNALS: dict[str, str] = {
    "sla": "sla_breaches_180 > 0",
    "complaints": "complaints_180 > 0",
    "low_nps": "nps_last <= 6",
    "nps_drop": "nps_drop >= 3",
    "returns": "returns_180 > 0",
    "late_delivery": "late_deliveries_180 > 0",
    "price": "discount_share >= 0.5",
    "region": "region_silent_q < 0.05",
}
#: Activity controls of :func:`churn_reasons`: name → (column, transform). Columns the frame
#: lacks are left out (``*_any_*`` come from :func:`order_activity`).
REASON_CONTROLS: dict[str, tuple[str, Callable[[pd.Series], pd.Series] | None]] = {
    "recency_days": ("recency_days", None),
    "log_recency_days": ("recency_days", np.log1p),
    "log_frequency": ("frequency", np.log1p),
    "tenure_days": ("tenure_days", None),
    "log_spend_365": ("spend_365", np.log1p),
    "log_orders_90": ("orders_90", np.log1p),
    "log_orders_prev_90": ("orders_prev_90", np.log1p),
    "recency_any_days": ("recency_any_days", None),
    "log_recency_any_days": ("recency_any_days", np.log1p),
    "log_orders_any_90": ("orders_any_90", np.log1p),
    "log_orders_any_prev_90": ("orders_any_prev_90", np.log1p),
}
#: Fewer labelled customers, or fewer churned or retained ones, and :func:`churn_reasons` has
#: no model to adjust with (an empty table, ``attrs["reason"]`` says why).
MIN_REASON_ROWS = 100
MIN_REASON_EVENTS = 10
#: Columns and types of :func:`churn_reasons` (an empty result keeps them).
REASON_COLUMNS = {
    "signal": "string", "rule": "string", "n_with": "int64", "churned_with": "int64",
    "rate_with": "float64", "lo_with": "float64", "hi_with": "float64", "n_without": "int64",
    "rate_without": "float64", "raw_relative_risk": "float64", "share_of_churned": "float64",
    "odds_ratio": "float64", "or_lo": "float64", "or_hi": "float64", "adjusted_rr": "float64",
    "rr_lo": "float64", "rr_hi": "float64", "p_value": "float64", "q_value": "float64",
    "direction": "string", "small_sample": "bool", "note": "string", "controls": "string",
}  # fmt: skip


def order_activity(con: BaseBackend, cutoff: datetime) -> pd.DataFrame:
    """Every order placed by ``cutoff`` whatever its status, per customer: ``customer_sk``,
    ``recency_any_days`` (days since the last one), ``orders_any_90`` and
    ``orders_any_prev_90`` (in the 90 days before ``cutoff`` and the 90 before those).

    Activity controls for :func:`churn_reasons`: a returned or refunded order is not a counted
    order, so the counted-order features miss it, and without these a customer who returned
    something looks less active than they were — and "returns" protective. The status is not
    read (it can change after the cut-off); only customers with an order in the 365 days
    before ``cutoff`` are returned.
    """
    cutoff = schema.check_as_of(cutoff)
    o = con.table("orders")
    o = o.filter(
        (o.order_ts <= ibis.literal(cutoff, type=_TS)) & (o.order_ts > _days_before(cutoff, 365))
    )
    d90, d180 = _days_before(cutoff, 90), _days_before(cutoff, 180)
    g = o.group_by("customer_sk").aggregate(
        last_ts=o.order_ts.max(),
        orders_any_90=(o.order_ts > d90).cast("int64").sum(),
        orders_any_prev_90=((o.order_ts > d180) & (o.order_ts <= d90)).cast("int64").sum(),
    )
    g = g.mutate(recency_any_days=ibis.literal(cutoff.date()).delta(g.last_ts.date(), unit="day"))
    return g.select(
        "customer_sk",
        g.recency_any_days.cast("float64").name("recency_any_days"),
        g.orders_any_90.cast("float64").name("orders_any_90"),
        g.orders_any_prev_90.cast("float64").name("orders_any_prev_90"),
    ).to_pandas()


def province_silent_q(frame: pd.DataFrame) -> pd.Series:
    """Per row: the Benjamini–Hochberg-adjusted one-sided p-value that the row's province has
    a larger *silent share* than all other provinces together (NaN without a province).

    The silent share is ``region_silent_share`` counted from the frame itself: of the
    customers who bought in the 90 days before the 90 days before the cut-off
    (``orders_prev_90 > 0``), the share with no counted order in the last 90 days
    (``orders_90 == 0``); each province against the rest by the pooled two-proportion z-test
    (:func:`crmkit.stats.two_proportion_test`), adjusted across provinces. A significance test
    rather than a fixed share: a province of 50 buyers is silent 30 % of the time by chance
    alone, and a company whose customers all buy slowly has high shares everywhere. Known at
    the cut-off.
    """
    prov = frame.province.astype("object").where(frame.province.notna())
    prev = frame.orders_prev_90.fillna(0).to_numpy() > 0
    silent = prev & (frame.orders_90.fillna(0).to_numpy() == 0)
    counts = (
        pd.DataFrame({"province": prov, "n": prev.astype(int), "k": silent.astype(int)})
        .dropna(subset=["province"])
        .groupby("province")[["n", "k"]]
        .sum()
    )
    if counts.empty:
        return pd.Series(np.nan, index=frame.index)
    n_all, k_all = int(counts.n.sum()), int(counts.k.sum())
    _, z, p_two = stats.two_proportion_test(
        (k_all - counts.k).to_numpy(), (n_all - counts.n).to_numpy(), counts.k, counts.n
    )
    z, p_two = np.asarray(z, dtype=float), np.asarray(p_two, dtype=float)
    one_sided = np.where(z > 0, p_two / 2, 1 - p_two / 2)
    q = pd.Series(stats.benjamini_hochberg(one_sided), index=counts.index)
    return prov.map(q).astype("float64")


def reason_flags(frame: pd.DataFrame) -> pd.DataFrame:
    """One boolean column per :data:`CHURN_SIGNALS` code: whether the row carries it."""
    f = frame.assign(region_silent_q=province_silent_q(frame))
    return pd.DataFrame(
        {code: f.eval(rule).fillna(False).astype(bool) for code, rule in CHURN_SIGNALS.items()},
        index=frame.index,
    )


def reason_controls(frame: pd.DataFrame) -> pd.DataFrame:
    """The :data:`REASON_CONTROLS` the frame has columns for, as floats."""
    out = {}
    for name, (col, fn) in REASON_CONTROLS.items():
        if col in frame.columns:
            x = frame[col].astype("float64")
            out[name] = fn(x.clip(lower=0)) if fn is not None else x
    return pd.DataFrame(out, index=frame.index)


#: ``direction`` codes of :func:`churn_reasons` (labels in crmkit.i18n: why_dir_<code>).
REASON_DIRECTIONS = ("risk", "protective", "unclear")


def _direction(ratio: float, q: float, alpha: float = 0.05) -> str | None:
    if pd.isna(ratio) or pd.isna(q):
        return None
    if q >= alpha:
        return "unclear"
    return "risk" if ratio > 1 else "protective"


def churn_reasons(frame: pd.DataFrame) -> pd.DataFrame:
    """Why customers left: the effect of each :data:`CHURN_SIGNALS` flag (known at the
    cut-off) on churn, adjusted for the customer's activity, with the raw shares beside it.

    Raw, a signal can mislead: active customers order more, so they get more late
    deliveries, return and complain more — and churn less; "complained" then looks
    protective. So all flags go into one logistic regression of ``churned`` together with
    activity controls (:data:`REASON_CONTROLS`), through :func:`crmkit.stats.adjusted_effects`:

    - ``recency_days`` (linear and log): the strongest sign of leaving;
    - ``log_frequency``, ``tenure_days``: the customer's long-run buying rate;
    - ``log_spend_365``: value of the last year;
    - ``log_orders_90``, ``log_orders_prev_90``: the recent trend, and the exposure of the
      180-day signals (more orders, more chances of a late delivery or a complaint);
    - ``recency_any_days`` (linear and log), ``log_orders_any_90``, ``log_orders_any_prev_90``
      (from :func:`order_activity`, when the frame has them): the same over orders of any
      status, since a returned or refunded order is activity the counted-order features miss.

    Not controlled for: tickets, NPS and contacts (they are the signals or follow from them).
    The region flag is "the province's silent share is significantly above the others'"
    (:func:`province_silent_q`), not a fixed share. Each flag's effect is also adjusted for
    the other flags.

    Parameters
    ----------
    frame : pandas.DataFrame
        :func:`crmkit.churn.labelled_frame` (features + ``churned``) at one cut-off,
        optionally with the columns of :func:`order_activity` merged on ``customer_sk``.

    Returns
    -------
    pandas.DataFrame
        One row per signal (:data:`REASON_COLUMNS`), strongest adjusted risk first:
        ``signal``, ``rule``; raw: ``n_with``, ``churned_with``, ``rate_with`` with its
        Wilson interval ``lo_with`` / ``hi_with``, ``n_without``, ``rate_without``,
        ``raw_relative_risk`` (rate with ÷ rate without), ``share_of_churned`` (of all
        churned customers, the share with the signal); adjusted: ``odds_ratio`` with its 95 %
        interval ``or_lo`` / ``or_hi``, ``adjusted_rr`` (mean predicted churn of those with
        the signal ÷ the same customers without it) with ``rr_lo`` / ``rr_hi``, ``p_value``
        and ``q_value`` (Benjamini–Hochberg across the signals), ``direction`` (``risk`` /
        ``protective`` when q < 0.05 — the interval then excludes 1 —, else ``unclear``;
        missing when not estimated), ``small_sample`` (fewer than ``stats.MIN_N`` customers
        with it, or fewer than :data:`MIN_REASON_EVENTS` of them churned or stayed),
        ``note`` (why there is no estimate: ``no_variation``, ``separation``, ``collinear``,
        ``no_fit``, see :data:`crmkit.stats.EFFECT_NOTES`) and ``controls`` (used,
        comma-separated). With fewer than :data:`MIN_REASON_ROWS` rows or
        :data:`MIN_REASON_EVENTS` churned / retained customers: no rows, and
        ``attrs["reason"]`` says why.
    """
    y = frame.churned.astype(int).to_numpy()
    n_churned = int(y.sum())
    if len(frame) < MIN_REASON_ROWS or min(n_churned, len(y) - n_churned) < MIN_REASON_EVENTS:
        out = pd.DataFrame({c: pd.Series([], dtype=d) for c, d in REASON_COLUMNS.items()})
        out.attrs["reason"] = (
            f"{len(y)} labelled customers ({n_churned} churned); the adjusted comparison "
            f"needs at least {MIN_REASON_ROWS}, with {MIN_REASON_EVENTS} churned and "
            f"{MIN_REASON_EVENTS} retained"
        )
        return out
    flags = reason_flags(frame)
    eff = stats.adjusted_effects(y, flags.astype(float), reason_controls(frame))
    rows = []
    for code, e in zip(CHURN_SIGNALS, eff.itertuples(index=False), strict=True):
        has = flags[code].to_numpy()
        k1, n1 = int(y[has].sum()), int(has.sum())
        k0, n0 = int(y[~has].sum()), int((~has).sum())
        _, lo1, hi1 = stats.wilson(k1, n1) if n1 else (np.nan, np.nan, np.nan)
        rows.append(
            {
                "signal": code,
                "rule": CHURN_SIGNALS[code],
                "n_with": n1,
                "churned_with": k1,
                "rate_with": k1 / n1 if n1 else np.nan,
                "lo_with": lo1,
                "hi_with": hi1,
                "n_without": n0,
                "rate_without": k0 / n0 if n0 else np.nan,
                "raw_relative_risk": (k1 / n1) / (k0 / n0) if n1 and n0 and k0 else np.nan,
                "share_of_churned": k1 / n_churned,
                "odds_ratio": e.odds_ratio,
                "or_lo": e.or_lo,
                "or_hi": e.or_hi,
                "adjusted_rr": e.adjusted_rr,
                "rr_lo": e.rr_lo,
                "rr_hi": e.rr_hi,
                "p_value": e.p_value,
                "small_sample": n1 < stats.MIN_N or min(k1, n1 - k1) < MIN_REASON_EVENTS,
                "note": e.note,
                "controls": ", ".join(eff.attrs["controls"]),
            }
        )
    out = pd.DataFrame(rows)
    out["q_value"] = stats.benjamini_hochberg(out.p_value.to_numpy())
    out["direction"] = [_direction(r, q) for r, q in zip(out.odds_ratio, out.q_value, strict=True)]
    out = out.sort_values(["odds_ratio", "raw_relative_risk"], ascending=False, na_position="last")
    return out[list(REASON_COLUMNS)].astype(REASON_COLUMNS).reset_index(drop=True)
