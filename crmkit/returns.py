"""Return rates (退货率): products returned more than the rest of their category, and why.

A product's return rate is its returned orders / its placed orders (not cancelled, by a
status from the data: :func:`crmkit.definitions.placed_orders`) in a window ``[start, end)``,
the same 口径 as the KPI return rate of :mod:`crmkit.kpi`. :func:`return_alerts` tests each
product against the rest of its category and flags those significantly higher;
:func:`return_reasons` lists the return reasons and customer feedback behind them.

Examples
--------
>>> RETURN_MIN_N, RETURN_FDR
(30, 0.05)
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

import ibis
import ibis.expr.types as ir
import numpy as np
import pandas as pd
from ibis.backends import BaseBackend

from crmkit import definitions, stats


def _lit(ts: datetime) -> ir.Value:
    return ibis.literal(ts, type="timestamp")


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

    Raises
    ------
    crmkit.stats.NotEnoughData
        With reason :data:`crmkit.definitions.NO_STATUS` when the window has orders but none
        whose status came from the data (an orders file without a status column): every return
        rate would be a made-up 0 %.
    """
    orders = con.table("orders")
    o = definitions.placed_orders(orders, start=start, end=end, customers=customers)
    o = o.filter(o.product_id.notnull())  # an order export without products has no product rows
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
        reason = definitions.status_not_recorded(orders, start=start, end=end, customers=customers)
        if reason:
            raise stats.NotEnoughData(reason)
        # typed, so that ``alerts[alerts.flagged]`` selects rows (an object column of no rows
        # would be read as a list of column names)
        return pd.DataFrame(columns=cols).astype({"flagged": bool, "tested": bool})
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
    o = definitions.restrict(con.table("orders"), customers)
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


__all__ = ["RETURN_FDR", "RETURN_MIN_N", "return_alerts", "return_reasons"]
