"""One customer's profile (客户档案): everything crmkit knows about one customer, in one call.

:func:`profile` reads whatever the connection holds. On a **published snapshot** the model
results come from the tables publish wrote (``classification``, ``churn_scores`` /
``churn_warning_list``, ``clv``, ``contact_status``); on a **warehouse** the classification and
the contact cadence are computed for the date asked for (:func:`crmkit.classification.classify`,
:func:`crmkit.relationship.contact_status`), while churn risk and CLV, fitted only at publish,
are not available. Orders, contacts, tickets, feedback, points and referrals are read from
their tables either way, up to ``as_of``.

A part that cannot be had is ``None``, and ``profile["unavailable"][part]`` says why with the
reason codes the pages use (:func:`crmkit.i18n.reason_text` words them): the publish step's
own reason when it was skipped (``too_few:repeat_buyers:12:50``), ``no_table:T`` /
``empty_table:T`` for a table the data lacks, ``not_in:T`` when the table has no row for this
customer (an inactive customer is not scored for churn), ``published_as_of:DATE`` when a
snapshot's models were fitted at another date than ``as_of``.

Personal data follows the role: names, phones, emails and free text masked for
``dashboard`` (:func:`crmkit.privacy.masked_table`), in clear for ``analyst`` — on a
dashboard snapshot, whose values are stored masked, both see them masked.
"""

from __future__ import annotations

import difflib
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

import ibis
import ibis.expr.types as ir
import pandas as pd
from ibis.backends import BaseBackend

from crmkit import (
    classification,
    complaints,
    config,
    db,
    definitions,
    loyalty,
    privacy,
    relationship,
    schema,
)
from crmkit.i18n import check_lang
from crmkit.views.base import root_reason, segment_label, skipped_steps

#: The parts of a profile, in the order they are filled.
PARTS = (
    "customer",
    "classification",
    "rfm",
    "churn",
    "clv",
    "loyalty",
    "referrals",
    "contacts",
    "contact_status",
    "open_tickets",
    "feedback",
    "nps",
    "orders",
    "last_orders",
)
#: Rows of the lists: latest contacts, feedback answers and orders.
LATEST_CONTACTS, LATEST_FEEDBACK, LATEST_ORDERS = 10, 5, 10
#: The classification columns shown, each with its ``<col>_zh`` / ``<col>_en`` label.
CLASS_COLUMNS = (
    "value_tier",
    "abc_class",
    "customer_type",
    "lifecycle_stage",
    "need_type",
    "price_profile",
    "owner_team",
    "strategy",
)
RFM_COLUMNS = (
    "recency_days",
    "frequency",
    "monetary",
    "r_score",
    "f_score",
    "m_score",
    "first_order_ts",
    "last_order_ts",
)
CLV_COLUMNS = (
    "p_alive",
    "expected_purchases",
    "expected_spend",
    "clv",
    "horizon_months",
    "monthly_discount",
    "frequency",
    "recency",
    "T",
    "monetary_value",
)
CONTACT_COLUMNS = ("ts", "channel", "direction", "topic", "care_event", "owner")
STATUS_COLUMNS = (
    "segment",
    "last_contact",
    "days_since",
    "target_days",
    "overdue",
    "days_overdue",
    "contacts_365",
)
TICKET_COLUMNS = (
    "ticket_id",
    "opened_at",
    "first_response_at",
    "channel",
    "category",
    "severity",
    "team",
    "agent",
    "answered",
    "breached",
    "pending",
    "waited_minutes",
    "age_days",
)
FEEDBACK_COLUMNS = ("ts", "source", "nps", "csat", "ces", "text", "product_id")
ORDER_COLUMNS = (
    "order_id",
    "order_ts",
    "product_id",
    "quantity",
    "amount",
    "discount",
    "status",
    "channel",
    "return_reason",
)


class _Missing(Exception):
    """A part cannot be had: ``reason`` is its code."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass
class _Context:
    con: BaseBackend
    customer_id: str
    role: str
    as_of: datetime
    lang: str
    settings: config.Config
    tables: set[str]
    #: the snapshot's data clock (None on a warehouse)
    published: datetime | None
    skipped: dict[str, str]
    rows: dict[str, int] = field(default_factory=dict)
    cache: dict[str, Any] = field(default_factory=dict)

    def raw(self, name: str) -> ir.Table:
        """A data table, present and not empty (else :class:`_Missing` says which)."""
        if name not in self.tables:
            raise _Missing(f"no_table:{name}")
        if name not in self.rows:
            self.rows[name] = int(self.con.table(name).count().execute())
        if not self.rows[name]:
            raise _Missing(f"empty_table:{name}")
        return self.con.table(name)

    def published_table(self, step: str, name: str) -> ir.Table:
        """A table a publish step wrote, at the date asked for: the step's own reason when it
        was skipped, ``no_table`` when it is absent, ``published_as_of`` when the snapshot's
        clock is not ``as_of``."""
        if step in self.skipped:
            raise _Missing(root_reason(self.skipped[step], self.skipped))
        if name not in self.tables:
            raise _Missing(f"no_table:{name}")
        if self.published != self.as_of:
            raise _Missing(f"published_as_of:{self.published:%Y-%m-%d}")
        return self.con.table(name)

    def mine(self, name: str, t: ir.Table, key: str = "customer_id") -> ir.Table:
        """This customer's rows of table ``name``, personal columns masked for the dashboard
        role."""
        t = t.filter(t[key] == self.customer_id)
        return privacy.masked_table(name, t) if self.role == "dashboard" else t


def _value(v: Any) -> Any:
    """A plain Python scalar: None for NULL / NaN / NaT, floats for decimals, datetimes."""
    if v is None or v is pd.NA or v is pd.NaT:
        return None
    if isinstance(v, float) and math.isnan(v):
        return None
    if isinstance(v, pd.Timestamp):
        return v.to_pydatetime()
    if hasattr(v, "item"):  # numpy scalars
        return _value(v.item())
    return float(v) if isinstance(v, Decimal) else v


def _record(row: pd.Series, columns: tuple[str, ...] | None = None) -> dict[str, Any]:
    return {c: _value(row[c]) for c in (columns or row.index) if c in row.index}


def _frame(t: ir.Table, columns: tuple[str, ...]) -> pd.DataFrame:
    df = t.select(*[c for c in columns if c in t.columns]).to_pandas()
    for c in df.columns:
        if df[c].dtype == object and df[c].map(lambda v: isinstance(v, Decimal)).any():
            df[c] = df[c].astype("float64")
    return df.reset_index(drop=True)


def _until(t: ir.Table, column: str, as_of: datetime) -> ir.Table:
    return t.filter(t[column] <= ibis.literal(as_of, type="timestamp"))


# ---------------------------------------------------------------------------------------------
# The parts
# ---------------------------------------------------------------------------------------------


def _classified(ctx: _Context) -> pd.Series:
    """This customer's classification row: published at the snapshot's clock, else computed
    at ``as_of`` (a warehouse, or another date than the snapshot's)."""
    if "classified" not in ctx.cache:
        if "classification" in ctx.skipped:
            raise _Missing(root_reason(ctx.skipped["classification"], ctx.skipped))
        if "classification" in ctx.tables and ctx.published == ctx.as_of:
            t, source = ctx.con.table("classification"), "published"
        else:
            ctx.raw("orders")
            t = classification.classify(ctx.con, as_of=ctx.as_of, rules=ctx.settings.rules)
            source = "computed"
        df = t.filter(t.customer_id == ctx.customer_id).to_pandas()
        if df.empty:
            raise _Missing("not_in:classification")
        ctx.cache["classified"] = df.iloc[0].copy()
        ctx.cache["classified"]["source"] = source
    return ctx.cache["classified"]


def _classification(ctx: _Context) -> dict[str, Any]:
    r = _classified(ctx)
    lang = "zh" if ctx.lang == "zh" else "en"
    segment = _value(r["rfm_class"]) or definitions.POTENTIAL
    out: dict[str, Any] = {"segment": segment, "segment_label": segment_label(segment, ctx.lang)}
    for c in CLASS_COLUMNS:
        if c in r.index:
            out[c] = _value(r[c])
            out[f"{c}_label"] = _value(r.get(f"{c}_{lang}"))
    out |= _record(r, ("churn_days", "rules_version", "as_of", "source"))
    return out


def _rfm(ctx: _Context) -> dict[str, Any]:
    return _record(_classified(ctx), RFM_COLUMNS)


def _churn(ctx: _Context) -> dict[str, Any]:
    scores = ctx.published_table("churn", "churn_scores")
    row = scores.filter(scores.customer_id == ctx.customer_id).to_pandas()
    if row.empty:
        raise _Missing("not_in:churn_scores")
    out = _record(row.iloc[0], ("risk", "rank", "value", "expected_loss"))
    lang = "zh" if ctx.lang == "zh" else "en"
    listed = pd.DataFrame()
    if "churn_warning_list" in ctx.tables:
        wl = ctx.con.table("churn_warning_list")
        listed = wl.filter(wl.customer_id == ctx.customer_id).to_pandas()
    out["on_warning_list"] = not listed.empty
    first = listed.iloc[0] if not listed.empty else pd.Series(dtype=object)
    out["reason_codes"] = _value(first.get("reasons"))
    out["reasons"] = _value(first.get(f"reasons_{lang}"))
    out["action"] = _value(first.get(f"action_{lang}"))
    out["owner"] = _value(first.get("owner"))
    return out


def _clv(ctx: _Context) -> dict[str, Any]:
    clv = ctx.published_table("clv", "clv")
    row = clv.filter(clv.customer_id == ctx.customer_id).to_pandas()
    if row.empty:
        raise _Missing("not_in:clv")
    return _record(row.iloc[0], CLV_COLUMNS)


def _loyalty(ctx: _Context) -> dict[str, Any]:
    ledger = ctx.mine("points_ledger", ctx.raw("points_ledger"))
    me = ctx.mine("customers", ctx.con.table("customers"))
    points = loyalty.points_by_tier(ledger, me, as_of=ctx.as_of)
    cols = ("membership_tier", "earned", "redeemed", "expired", "adjusted", "outstanding")
    return _record(points.iloc[0], cols)


def _referrals(ctx: _Context) -> dict[str, Any]:
    r = _until(ctx.mine("referrals", ctx.raw("referrals"), key="referrer_id"), "ts", ctx.as_of)
    row = r.aggregate(made=r.count(), converted=r.converted.cast("int64").sum()).to_pandas()
    return {"made": int(row.made.iloc[0]), "converted": int(row.converted.fillna(0).iloc[0])}


def _contacts(ctx: _Context) -> pd.DataFrame:
    i = _until(ctx.mine("interactions", ctx.raw("interactions")), "ts", ctx.as_of)
    return _frame(i.order_by(ibis.desc("ts")).limit(LATEST_CONTACTS), CONTACT_COLUMNS)


def _contact_status(ctx: _Context) -> dict[str, Any]:
    if ctx.published is None:
        me = ibis.memtable(
            {"customer_id": [ctx.customer_id], "segment": [_classification(ctx)["segment"]]}
        )
        rules = relationship.load_relationship(config=ctx.settings)
        t = relationship.contact_status(ctx.con, as_of=ctx.as_of, rules=rules, segments=me)
    else:
        t = ctx.published_table("relationship", "contact_status")
    row = t.filter(t.customer_id == ctx.customer_id).to_pandas()
    if row.empty:
        raise _Missing("not_in:contact_status")
    return _record(row.iloc[0], STATUS_COLUMNS)


def _open_tickets(ctx: _Context) -> pd.DataFrame:
    tk = _until(ctx.mine("tickets", ctx.raw("tickets")), "opened_at", ctx.as_of)
    sla = complaints.ticket_sla(tk, as_of=ctx.as_of, config=ctx.settings)
    return _frame(sla.filter(sla.is_open).order_by("opened_at"), TICKET_COLUMNS)


def _feedback(ctx: _Context) -> pd.DataFrame:
    fb = _until(ctx.mine("feedback", ctx.raw("feedback")), "ts", ctx.as_of)
    return _frame(fb.order_by(ibis.desc("ts")).limit(LATEST_FEEDBACK), FEEDBACK_COLUMNS)


def _nps(ctx: _Context) -> dict[str, Any]:
    fb = _until(ctx.mine("feedback", ctx.raw("feedback")), "ts", ctx.as_of)
    fb = fb.filter(fb.nps.notnull())
    row = fb.order_by(ibis.desc("ts")).limit(1).select("nps", "ts").to_pandas()
    r = row.iloc[0] if not row.empty else pd.Series({"nps": None, "ts": None})
    return {"score": _value(r.nps), "ts": _value(r.ts), "answers": int(fb.count().execute())}


def _orders(ctx: _Context) -> dict[str, Any]:
    mine = _until(ctx.mine("orders", ctx.raw("orders")), "order_ts", ctx.as_of)
    counted = definitions.counted_orders(mine, config=ctx.settings)
    row = counted.aggregate(
        n=counted.count(),
        first=counted.order_ts.min(),
        last=counted.order_ts.max(),
        total=counted.amount.cast("float64").sum(),
    ).to_pandas()
    out = _record(row.iloc[0])
    out["total"] = out["total"] or 0.0
    out["placed"] = int(mine.count().execute())
    return out


def _last_orders(ctx: _Context) -> pd.DataFrame:
    mine = _until(ctx.mine("orders", ctx.raw("orders")), "order_ts", ctx.as_of)
    latest = mine.order_by([ibis.desc("order_ts"), ibis.desc("order_id")]).limit(LATEST_ORDERS)
    return _frame(latest, ORDER_COLUMNS)


_PART_FUNCTIONS: dict[str, Callable[[_Context], Any]] = {
    "classification": _classification,
    "rfm": _rfm,
    "churn": _churn,
    "clv": _clv,
    "loyalty": _loyalty,
    "referrals": _referrals,
    "contacts": _contacts,
    "contact_status": _contact_status,
    "open_tickets": _open_tickets,
    "feedback": _feedback,
    "nps": _nps,
    "orders": _orders,
    "last_orders": _last_orders,
}


def _unknown(con: BaseBackend, customer_id: str) -> ValueError:
    """The error for an id that is not in ``customers``, with up to three close ids."""
    c = con.table("customers")
    n = len(customer_id)
    near = c.filter(c.customer_id.length().between(n - 2, n + 2)).customer_id.to_list()
    close = difflib.get_close_matches(customer_id, near, n=3, cutoff=0.6)
    hint = f"; did you mean {', '.join(map(repr, close))}?" if close else ""
    return ValueError(f"no customer {customer_id!r} in the customers table{hint}")


def profile(
    con: BaseBackend,
    customer_id: str,
    *,
    role: str = "analyst",
    as_of: datetime | None = None,
    lang: str = "zh",
) -> dict[str, Any]:
    """Everything about one customer: record, classes, RFM, churn risk, CLV, loyalty,
    contacts, open tickets, feedback and orders.

    Parameters
    ----------
    con : ibis backend
        A warehouse or a published snapshot (:func:`crmkit.connect`).
    customer_id : str
        The customer's id as in ``customers.customer_id`` (spaces around it are ignored).
    role : {"analyst", "dashboard"}
        ``dashboard`` masks names, phones, emails and free text (:mod:`crmkit.privacy`).
    as_of : datetime, optional
        The date the profile is drawn at; default the data clock (:func:`crmkit.db.data_as_of`).
        Records after it are left out; a snapshot's model results are given only at its own
        clock.
    lang : {"zh", "en"}
        The language of the labels (segment, tier, type, stage, churn reasons and action).

    Returns
    -------
    dict
        ``customer_id``, ``as_of``, ``role``, then one key per part of :data:`PARTS`:

        - ``customer``: the customer record (dict);
        - ``classification``: ``segment`` (RFM class code, ``potential`` without a purchase)
          and its label, value tier, ABC class, customer type, lifecycle stage, need type,
          price profile, owner team and strategy — each with ``<name>_label`` —, ``churn_days``,
          ``rules_version``, ``as_of`` and ``source`` (``published`` / ``computed``);
        - ``rfm``: recency (days), frequency and monetary of the counted orders, their 1–5
          scores, first and last order time;
        - ``churn``: ``risk`` (probability of no counted order in the model's horizon),
          ``rank``, ``value``, ``expected_loss``, ``on_warning_list``, ``reason_codes``,
          ``reasons`` and ``action`` in ``lang``, ``owner``;
        - ``clv``: ``p_alive``, ``expected_purchases``, ``expected_spend``, ``clv`` over
          ``horizon_months`` at ``monthly_discount``, and the model's inputs;
        - ``loyalty``: membership tier and points earned, redeemed, expired, adjusted,
          outstanding (:func:`crmkit.loyalty.points_by_tier` of this customer);
        - ``referrals``: referrals ``made`` and ``converted``;
        - ``contacts``: the latest 10 interactions (DataFrame); ``contact_status``: days since
          the last contact against the segment's cadence, overdue or not;
        - ``open_tickets``: unresolved tickets with their SLA state (DataFrame);
        - ``feedback``: the latest 5 answers (DataFrame); ``nps``: the latest NPS ``score``
          and its ``ts`` (None when the customer gave none) and the number of NPS ``answers``;
        - ``orders``: ``n``, ``first``, ``last``, ``total`` of the counted orders
          (:func:`crmkit.definitions.counted_orders`) and ``placed`` (every status);
          ``last_orders``: the latest 10 orders of any status (DataFrame);

        and ``unavailable``: part → reason code for each part that is ``None``.

    Raises
    ------
    ValueError
        An unknown role or language; a connection without customers; an id that is not a
        customer (naming up to three close ids).

    Examples
    --------
    >>> import pandas as pd
    >>> from crmkit import db
    >>> con = db.connect(":memory:", read_only=False)
    >>> db.create_schema(con)
    >>> con.insert("customers", pd.DataFrame({"customer_id": ["C1"], "customer_sk": [1],
    ...     "name": ["张三丰"], "created_at": [pd.Timestamp("2024-01-05")]}))
    >>> p = profile(con, "C1", role="dashboard")
    >>> p["customer"]["name"], p["orders"], p["unavailable"]["orders"]
    ('张**', None, 'empty_table:orders')
    """
    privacy.check_role(role)
    check_lang(lang)
    cid = str(customer_id).strip()
    tables = set(con.list_tables())
    if "customers" not in tables:
        raise ValueError("the connection has no customers table: pass a warehouse or snapshot")
    record = (
        privacy.masked_table("customers", con.table("customers"))
        if role == "dashboard"
        else (con.table("customers"))
    )
    found = record.filter(record.customer_id == cid).to_pandas()
    if found.empty:
        raise _unknown(con, cid)
    clock = db.data_as_of(con)
    snapshot = "publish_info" in tables
    ctx = _Context(
        con=con,
        customer_id=cid,
        role=role,
        as_of=schema.check_as_of(as_of) if as_of is not None else clock,
        lang=lang,
        settings=config.for_connection(con),
        tables=tables,
        published=clock if snapshot else None,
        skipped=skipped_steps(con),
    )
    out: dict[str, Any] = {
        "customer_id": cid,
        "as_of": ctx.as_of,
        "role": role,
        "customer": _record(found.iloc[0]),
    }
    unavailable: dict[str, str] = {}
    for part, fn in _PART_FUNCTIONS.items():
        try:
            out[part] = fn(ctx)
        except _Missing as m:
            out[part] = None
            unavailable[part] = m.reason
    out["unavailable"] = unavailable
    return out


__all__ = ["PARTS", "profile"]
