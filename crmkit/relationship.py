"""Relationship cultivation (客户关系培养, step 3): contact cadence and the care calendar.

Per customer (:func:`contact_status`): contacts in the last 365 days by channel, days since the
last contact (any interaction; since ``created_at`` when never contacted) against the target
cadence of the customer's segment (``crmkit/config/relationship.json``), overdue when longer;
:func:`contact_by_segment` sums them per segment. The segment is
:func:`crmkit.classification.segments` (the RFM class, ``potential`` without a counted
purchase).

The **care calendar** (:func:`care_calendar`) lists, for the ``horizon_days`` after ``as_of``:
birthdays (customers of the configured segments), festival greetings (春节, 元宵, 端午, 中秋,
国庆 …; the dates come from :func:`festival_dates`) for the configured segments, and
post-purchase follow-ups due ``post_purchase_days`` after delivery that have not happened yet —
each with the customer's owner, so an owner exports their list.

The rules are a company setting: :func:`load_relationship` reads the packaged file, a path, or
the ``relationship`` file of a :class:`crmkit.config.Config`. :func:`publish_tables` gives the
snapshot's ``contact_status`` (one row per customer) and ``care_calendar``.

Examples
--------
>>> [f["zh"] for f in festival_dates(load_relationship(), date(2026, 10, 1), date(2026, 11, 1))]
['国庆节', '重阳节']
"""

from __future__ import annotations

import copy
import os
from collections.abc import Mapping
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import ibis
import ibis.expr.types as ir
import numpy as np
import pandas as pd
from ibis.backends import BaseBackend

from crmkit import calendars, classification, db, i18n, schema, stats
from crmkit import config as _config

RELATIONSHIP_PATH = _config.DEFAULT_DIR / _config.FILES["relationship"]
#: The contact channels counted per customer (``ch_<channel>`` columns).
CHANNELS = tuple(schema.CONTACT_CHANNELS)

# ---------------------------------------------------------------------------------------------
# the rules
# ---------------------------------------------------------------------------------------------


def load_relationship(
    path: str | os.PathLike | None = None, *, config: _config.Config | None = None
) -> dict[str, Any]:
    """Cadence and care-calendar rules, checked.

    Parameters
    ----------
    path : path-like, optional
        A rules file.
    config : Config, optional
        The company's settings: their ``relationship`` file. Without ``path`` or ``config``:
        the packaged ``crmkit/config/relationship.json``.

    Returns
    -------
    dict
        ``cadence_days`` (segment → days) and ``calendar`` (``horizon_days``,
        ``birthday_segments``, ``holiday_segments``, ``post_purchase_days``, optionally
        ``holiday_codes``: the festivals greeted, default :data:`GREETED_FESTIVALS`); a fresh
        copy, safe to change.

    Raises
    ------
    FileNotFoundError
        When the file does not exist.
    ValueError
        When a section is missing, a cadence is not a whole number of days > 0 or a greeted
        festival code is unknown, naming it.

    Examples
    --------
    >>> load_relationship()["cadence_days"]["potential"]
    180
    """
    if path is None and config is not None:
        p = config.path("relationship")
        rules = copy.deepcopy(dict(config.get("relationship")))
    else:
        p = Path(path) if path is not None else RELATIONSHIP_PATH
        rules = _config.read_json(p, "relationship rules")
    for key in ("cadence_days", "calendar"):
        if key not in rules:
            raise ValueError(f"relationship rules {str(p)!r}: missing section {key!r}")
    for seg, days in rules["cadence_days"].items():
        if not isinstance(days, int) or days <= 0:
            raise ValueError(
                f"relationship rules: cadence_days[{seg!r}] = {days!r}; expected whole days > 0"
            )
    codes = rules["calendar"].get("holiday_codes", list(GREETED_FESTIVALS))
    known = set(calendars.festivals(2026).code)
    unknown = [c for c in codes if c not in known]
    if unknown:
        raise ValueError(
            f"relationship rules {str(p)!r}: calendar.holiday_codes has {unknown}; expected "
            f"festival codes of crmkit.calendars.festivals, e.g. {sorted(known)}"
        )
    return rules


#: The festivals greeted by default (清明 is a day of remembrance, not of greetings).
GREETED_FESTIVALS = (
    "new_year",
    "spring_festival",
    "lantern",
    "dragon_boat",
    "mid_autumn",
    "national_day",
    "double_ninth",
)


def festival_dates(rules: Mapping[str, Any], start: date, end: date) -> list[dict[str, Any]]:
    """The greeted festivals dated ``start <= date < end``, by date: the one place the care
    calendar reads festival dates from (:func:`crmkit.calendars.festivals_between`, any year).

    Parameters
    ----------
    rules : mapping
        :func:`load_relationship` output: ``calendar.holiday_codes`` chooses the festivals
        (default :data:`GREETED_FESTIVALS`).
    start, end : date
        The half-open range of days.

    Returns
    -------
    list of dict
        ``date`` (a :class:`datetime.date`), ``key``, ``zh``, ``en`` (the festival's names).

    Examples
    --------
    >>> rules = {"calendar": {}}
    >>> [(f["date"], f["zh"]) for f in festival_dates(rules, date(2026, 9, 1), date(2026, 10, 1))]
    [(datetime.date(2026, 9, 25), '中秋节')]
    >>> [f["key"] for f in festival_dates(rules, date(2031, 1, 1), date(2031, 2, 10))]
    ['new_year', 'spring_festival', 'lantern']
    """
    if end <= start:
        return []
    codes = set(rules.get("calendar", {}).get("holiday_codes", GREETED_FESTIVALS))
    fest = calendars.festivals_between(start, end - timedelta(days=1))
    fest = fest[fest.code.isin(codes)]
    return [
        {"date": f.date, "key": f.code, "zh": f.name_zh, "en": f.name_en} for f in fest.itertuples()
    ]


# ---------------------------------------------------------------------------------------------
# contact cadence
# ---------------------------------------------------------------------------------------------


def contact_status(
    con: BaseBackend,
    *,
    as_of: datetime | None = None,
    rules: Mapping[str, Any] | None = None,
    segments: ir.Table | None = None,
) -> ir.Table:
    """One row per customer (created on or before ``as_of``): segment, owner, owner_team,
    last_contact, days_since (since the last interaction, else since ``created_at``),
    target_days (the segment's cadence), overdue, days_overdue, contacts_365 and
    ``ch_<channel>`` (contacts in the last 365 days by channel). ``segments`` (customer_id,
    segment) gives the customers' segments when the caller has them; default
    :func:`crmkit.classification.segments`."""
    as_of = schema.check_as_of(as_of or db.data_as_of(con))
    rules = rules or load_relationship()
    ts_as_of = ibis.literal(as_of, type="timestamp")
    year_ago = ibis.literal(as_of - timedelta(days=365), type="timestamp")
    cust = con.table("customers")
    cust = cust.filter(cust.created_at.isnull() | (cust.created_at <= ts_as_of))
    if segments is None:
        segments = classification.segments(con, as_of=as_of)
    cls = segments.select("customer_id", "segment")
    base = cust.select("customer_id", "owner", "owner_team", "created_at").join(cls, "customer_id")
    if "interactions" in con.list_tables():
        i = con.table("interactions")
        i = i.filter(i.ts <= ts_as_of)
        recent = i.ts > year_ago
        last = i.group_by(cid="customer_id").aggregate(
            last_contact=i.ts.max(),
            contacts_365=recent.cast("int64").sum(),
            **{f"ch_{c}": (recent & (i.channel == c)).cast("int64").sum() for c in CHANNELS},
        )
        t = base.left_join(last, base.customer_id == last.cid).drop("cid")
    else:
        t = base.mutate(
            last_contact=ibis.null("timestamp"),
            contacts_365=ibis.literal(0, "int64"),
            **{f"ch_{c}": ibis.literal(0, "int64") for c in CHANNELS},
        )
    since = t.last_contact.fill_null(t.created_at)
    days = ibis.literal(as_of.date()).delta(since.date(), unit="day")
    cadence = rules["cadence_days"]
    target = t.segment.cases(*[(k, v) for k, v in cadence.items()], else_=max(cadence.values()))
    t = t.mutate(
        days_since=days,
        target_days=target.cast("int64"),
        contacts_365=t.contacts_365.fill_null(0),
        **{f"ch_{c}": t[f"ch_{c}"].fill_null(0) for c in CHANNELS},
    )
    t = t.mutate(
        overdue=(t.days_since > t.target_days).fill_null(False),
        days_overdue=ibis.greatest(t.days_since - t.target_days, 0),
    )
    return t.drop("created_at")


def contact_by_segment(status: ir.Table) -> pd.DataFrame:
    """Per segment: customers, contacts per customer in the last 365 days (all and by channel),
    mean days since the last contact, target cadence, overdue customers and share."""
    agg = status.group_by("segment").aggregate(
        customers=status.count(),
        contacts=status.contacts_365.sum(),
        mean_days_since=status.days_since.mean(),
        target_days=status.target_days.max(),
        overdue=status.overdue.cast("int64").sum(),
        **{c: status[f"ch_{c}"].sum() for c in CHANNELS},
    )
    df = agg.to_pandas()
    df["per_customer"] = df.contacts / df.customers
    for c in CHANNELS:
        df[c] = df[c] / df.customers
    df = stats.rate_columns(df, "overdue", "customers").rename(columns={"rate": "overdue_share"})
    return df.sort_values("segment").reset_index(drop=True)


# ---------------------------------------------------------------------------------------------
# the care calendar
# ---------------------------------------------------------------------------------------------


def _calendar_schema():  # noqa: ANN202
    """The care calendar's columns and storage types (a typed table even when empty)."""
    import pyarrow as pa

    s = pa.string()
    return pa.schema(
        [
            ("date", pa.date32()), ("customer_id", s), ("owner", s), ("owner_team", s),
            ("segment", s), ("event", s), ("detail_zh", s), ("detail_en", s), ("order_id", s),
        ]
    )  # fmt: skip


def _greeting(key: str, **names: str) -> dict[str, str]:
    """``detail_zh`` / ``detail_en`` of a care event, worded by :mod:`crmkit.i18n`."""
    return {
        f"detail_{lang}": i18n.t(key, lang, **{k: v[lang] for k, v in names.items()})
        for lang in ("zh", "en")
    }


def care_calendar(
    con: BaseBackend,
    *,
    as_of: datetime | None = None,
    rules: Mapping[str, Any] | None = None,
) -> pd.DataFrame:
    """Care events due in the ``horizon_days`` after ``as_of``: date, customer_id, owner,
    owner_team, segment, event (``birthday`` / ``holiday`` / ``post_purchase``), detail_zh,
    detail_en, order_id — sorted by owner, date, customer."""
    as_of = schema.check_as_of(as_of or db.data_as_of(con))
    rules = rules or load_relationship()
    cal = rules["calendar"]
    d0 = as_of.date()
    d1 = d0 + timedelta(days=int(cal["horizon_days"]))
    cols = _calendar_schema().names
    status = contact_status(con, as_of=as_of, rules=rules).select(
        "customer_id", "owner", "owner_team", "segment"
    )
    frames = []
    bday_segs = list(cal.get("birthday_segments", []))
    cust = con.table("customers")
    b = (
        cust.filter(cust.birthday.notnull())
        .select("customer_id", "birthday")
        .join(status.filter(status.segment.isin(bday_segs)), "customer_id")
        .to_pandas()
    )
    if not b.empty:
        bd = pd.to_datetime(b.birthday)
        hits = []
        for year in (d0.year, d0.year + 1):
            # 29 February is kept on 28 February in common years
            day = np.where((bd.dt.month == 2) & (bd.dt.day == 29), 28, bd.dt.day)
            when = pd.to_datetime(
                pd.DataFrame({"year": year, "month": bd.dt.month, "day": day}), errors="coerce"
            )
            ok = (when.dt.date > d0) & (when.dt.date <= d1)
            hits.append(b[ok].assign(date=when[ok].dt.date))
        b = pd.concat(hits).drop_duplicates("customer_id")
        frames.append(b.assign(event="birthday", **_greeting("rel_birthday"), order_id=None))
    # events fall due on the days after as_of up to the horizon, d1 included
    hol = festival_dates(rules, d0 + timedelta(days=1), d1 + timedelta(days=1))
    if hol:
        who = status.filter(status.segment.isin(list(cal.get("holiday_segments", [])))).to_pandas()
        for h in hol:
            frames.append(
                who.assign(
                    date=h["date"],
                    event="holiday",
                    **_greeting("rel_holiday", name={"zh": h["zh"], "en": h["en"]}),
                    order_id=None,
                )
            )
    days = int(cal["post_purchase_days"])
    o = con.table("orders")
    lo = ibis.literal(datetime.combine(d0 - timedelta(days=days), datetime.min.time()))
    hi = ibis.literal(as_of, type="timestamp")
    o = o.filter(o.delivered_at.notnull(), o.delivered_at > lo, o.delivered_at <= hi)
    o = o.filter(o.status != "cancelled")
    o = o.select("order_id", "customer_id", "delivered_at")
    if "interactions" in con.list_tables():
        i = con.table("interactions")
        done = i.filter(i.care_event == "post_purchase").select(icid="customer_id", its=i.ts)
        followed = o.join(done, (o.customer_id == done.icid) & (done.its >= o.delivered_at))
        o = o.anti_join(followed.select("order_id"), "order_id")
    pp = o.join(status, "customer_id").to_pandas()
    if not pp.empty:
        due = (pd.to_datetime(pp.delivered_at).dt.normalize() + pd.Timedelta(days=days)).dt.date
        ok = (due > d0) & (due <= d1)
        pp = pp[ok].assign(date=due[ok])
        frames.append(
            pp.drop(columns="delivered_at").assign(
                event="post_purchase", **_greeting("rel_post_purchase")
            )
        )
    frames = [f[cols] for f in frames if not f.empty]
    if not frames:
        return _calendar_schema().empty_table().to_pandas()
    out = pd.concat(frames, ignore_index=True)
    return out.sort_values(["owner", "date", "customer_id", "event"]).reset_index(drop=True)


# ---------------------------------------------------------------------------------------------
# publish
# ---------------------------------------------------------------------------------------------


def publish_tables(
    con: BaseBackend, *, as_of: datetime, config: _config.Config | None = None
) -> dict[str, ir.Table | Any]:
    """The publish step ``relationship``: ``contact_status`` and, with ``orders``,
    ``care_calendar`` (typed for storage, so an empty calendar keeps its column types).

    Parameters
    ----------
    con : ibis backend
        The staging snapshot, with ``customers`` (and ``classification`` from the step before,
        else each segment is classified here).
    as_of : datetime
        The data clock.
    config : Config, optional
        The company's settings (their ``relationship`` rules); default the packaged ones.

    Returns
    -------
    dict
        Table name → ibis table (``contact_status``) or Arrow table (``care_calendar``).

    Examples
    --------
    >>> from crmkit import db
    >>> con = db.connect(":memory:", read_only=False)
    >>> db.create_schema(con)
    >>> sorted(publish_tables(con, as_of=datetime(2024, 6, 30)))
    ['care_calendar', 'contact_status']
    """
    import pyarrow as pa

    rules = load_relationship(config=config)
    out: dict[str, ir.Table | Any] = {
        "contact_status": contact_status(con, as_of=as_of, rules=rules)
    }
    if "orders" in con.list_tables():
        cal = care_calendar(con, as_of=as_of, rules=rules)
        out["care_calendar"] = pa.Table.from_pandas(
            cal[_calendar_schema().names],
            schema=_calendar_schema(),
            preserve_index=False,
            safe=False,
        )
    return out
