"""Page 3 — customer needs (step 4 客户需求分析) and relationship cultivation (step 3 客户关系培养).

Reads only the tables the ``need_texts``, ``needs`` and ``relationship`` publish steps
precomputed (``need_texts``, ``need_mentions``, ``need_clusters``, ``need_actions``,
``contact_status``, ``care_calendar``) and aggregates them for the filters; nothing is
tokenised or fitted when the page opens.
"""

from __future__ import annotations

import html
import logging
from datetime import datetime, timedelta

import ibis
import ibis.expr.types as ir
import pandas as pd
from ibis.backends import BaseBackend

from crmkit import charts, needs, relationship, text
from crmkit.db import data_as_of
from crmkit.i18n import channel_label, fmt_date, fmt_int, fmt_pct, t
from crmkit.privacy import mask_text
from crmkit.views.base import (
    ALL,
    MAX_EXPORT_ROWS,
    ExportButtons,
    Filters,
    Page,
    Section,
    cards_html,
    chart_box_layout,
    chart_row,
    current_role,
    customers_for_role,
    customers_in_scope,
    html_table,
    safe_page,
    segment_label,
    show_chart,
    show_unavailable,
    unavailable_html,
    unavailable_sections,
)

log = logging.getLogger("crmkit.views")
#: The publish steps whose tables the need sections read (feedback texts).
NEEDS_STEPS = ("need_texts", "needs")
#: The publish step whose tables the contact-cadence and care-calendar sections read (customers,
#: their contacts and orders: no feedback needed).
RELATIONSHIP_STEPS = ("relationship",)
#: The page's sections and what each reads. Contact cadence needs the contacts themselves:
#: without any, every customer would look overdue and every channel at 0 contacts.
NEEDS_SECTIONS = {
    "needs": Section(NEEDS_STEPS),
    "contacts": Section(RELATIONSHIP_STEPS, tables=("interactions",)),
    "care": Section(RELATIONSHIP_STEPS),
}
#: The section of each card.
NEEDS_CARDS = {
    "texts": "needs",
    "customers_text": "needs",
    "common": "needs",
    "unanswered": "needs",
    "overdue_share": "contacts",
    "care_due": "care",
}

EXAMPLES = 10

OVERDUE_COLUMNS = (
    "customer_id",
    "name",
    "phone",
    "segment",
    "owner",
    "last_contact",
    "days_since",
    "target_days",
    "days_overdue",
)
CALENDAR_COLUMNS = ("date", "event", "detail", "customer_id", "name", "phone", "segment", "owner")


def _texts_in_scope(con: BaseBackend, f: Filters, as_of: datetime) -> tuple[ir.Table, ir.Table]:
    scope = customers_in_scope(con, f).select("customer_id")
    texts = con.table("need_texts").semi_join(scope, "customer_id")
    mentions = con.table("need_mentions").semi_join(scope, "customer_id")
    if f.window(as_of) is not None:
        texts = texts.filter(f.keep(texts.ts, as_of))
        mentions = mentions.filter(f.keep(mentions.ts, as_of))
    return texts, mentions


def needs_data(
    con: BaseBackend,
    f: Filters = Filters(),
    *,
    lang: str = "zh",
    role: str | None = None,
    topic: str | None = None,
    owner: str | None = None,
) -> dict[str, object]:
    """Everything the needs page shows, for these filters.

    Parameters
    ----------
    topic : str, optional
        The need whose example texts are listed; default the top-priority need.
    owner : str, optional
        Restrict the overdue-contact list and the care calendar to one owner.

    Returns
    -------
    dict
        ``as_of``, ``cards`` (key → value, label, definition; :data:`NEEDS_CARDS` names each card's
        section) and ``unavailable`` (section of :data:`NEEDS_SECTIONS` → {step or table: reason
        code} for the sections that cannot be shown: data without feedback has no needs, but its
        care calendar — and, with contacts, its contact cadence — still shows). The ``needs``
        section: ``n`` (customers with text), ``priority`` (:func:`needs.need_summary` with labels,
        formula in ``attrs``); ``trend`` (month, topic, label, share …) and ``trend_tests``
        (:func:`needs.trend_tests`); ``by_segment``; ``unanswered`` (common needs without an action
        in progress or done) and ``actions``; ``examples`` (latest texts of ``topic``);
        ``clusters`` (each with its ``label``, :func:`crmkit.text.cluster_name` of its top terms).
        For the dashboard role names are masked and the texts, evidence, top terms and cluster
        examples pass :func:`crmkit.privacy.mask_text`. The ``contacts`` section: ``contacts``
        (per segment) and ``overdue`` (list, most overdue first), ``n_overdue``. The ``care``
        section: ``calendar``; ``owners`` (offered in the owner dropdown). A section that is not
        available has none of its keys.
    """
    role = current_role(role)
    as_of = data_as_of(con)
    missing = unavailable_sections(con, NEEDS_SECTIONS)
    window = fmt_date(as_of, lang)
    out: dict[str, object] = {"as_of": as_of, "unavailable": missing, "owner": owner, "n": None}
    cards: dict[str, tuple] = {
        "texts": (None, t("nd_texts", lang), ""),
        "customers_text": (None, t("nd_customers_text", lang), ""),
        "common": (None, t("nd_common", lang), ""),
        "unanswered": (None, t("nd_unanswered", lang), ""),
        "overdue_share": (None, t("nd_overdue", lang), ""),
        "care_due": (None, t("nd_care_due", lang), ""),
    }
    if "needs" not in missing:
        part = _needs_part(con, f, as_of, lang, role, topic)
        tax = text.load_taxonomy()
        share = fmt_pct(float(tax["common"]["min_customer_share"]), lang)
        n = part["n"]
        common_n = int((part["priority"].need_type == "common").sum())
        cards |= {
            "texts": (
                part.pop("n_texts"),
                t("nd_texts", lang),
                t("def_nd_texts", lang, as_of=window),
            ),
            "customers_text": (n, t("nd_customers_text", lang), t("def_nd_customers_text", lang)),
            "common": (
                common_n,
                t("nd_common", lang),
                t("def_nd_common", lang, share=share, n=fmt_int(n)),
            ),
            "unanswered": (
                len(part["unanswered"]),
                t("nd_unanswered", lang),
                t("def_nd_unanswered", lang),
            ),
        }
        out |= part
    if "contacts" not in missing:
        part = _contacts_part(con, f, lang, role, owner)
        n_status = part.pop("n_status")
        cards["overdue_share"] = (
            part["n_overdue"] / n_status if n_status else None,
            t("nd_overdue", lang),
            t("def_nd_overdue", lang, n=fmt_int(n_status), as_of=window),
        )
        out |= part
    if "care" not in missing:
        part = _care_part(con, f, lang, role, owner)
        horizon = int(relationship.load_relationship()["calendar"]["horizon_days"])
        cards["care_due"] = (
            part.pop("n_care"),
            t("nd_care_due", lang),
            t(
                "def_nd_care_due",
                lang,
                start=fmt_date(as_of.date() + timedelta(days=1), lang),
                end=fmt_date(as_of.date() + timedelta(days=horizon), lang),
            ),
        )
        out |= part
    out["cards"] = cards
    return out


def _needs_part(
    con: BaseBackend, f: Filters, as_of: datetime, lang: str, role: str, topic: str | None
) -> dict[str, object]:
    """The ``needs`` section of :func:`needs_data` (plus ``n_texts`` for its card)."""
    tax = text.load_taxonomy()
    texts, mentions = _texts_in_scope(con, f, as_of)
    actions = con.table("need_actions").to_pandas()
    priority = needs.need_summary(
        texts, mentions, as_of=as_of, taxonomy=tax, actions=actions, lang=lang
    )
    priority["need_type_label"] = [t(f"nd_{x}_type", lang) for x in priority.need_type]
    priority["reason_label"] = [t(f"nd_reason_{r}", lang) if r else "" for r in priority.reason]
    priority["status_label"] = [t(f"nd_status_{s}", lang) for s in priority.status]
    priority["kind_label"] = [t(f"nd_kind_{k}", lang) for k in priority.kind]
    label = {x: text.topic_label(x, lang, tax) for x in tax["topics"]}

    trend = needs.need_trend(texts, mentions.filter(mentions.topic.isin(text.need_topics(tax))))
    trend["label"] = trend.topic.map(label)
    tests = needs.trend_tests(texts, mentions, as_of=as_of, taxonomy=tax)
    tests["label"] = tests.topic.map(label)
    tests["change_label"] = [t(f"nd_change_{c}", lang) for c in tests.change]

    by_seg = needs.needs_by_segment(texts, mentions, tax)
    by_seg["label"] = by_seg.topic.map(label)
    by_seg["segment_label"] = [segment_label(s, lang) for s in by_seg.segment]

    unanswered = priority[(priority.need_type == "common") & ~priority.answered].copy()
    act = actions.copy()
    act["label"] = act.topic.map(label).fillna(act.topic)
    act["status_label"] = [t(f"nd_status_{s}", lang) for s in act.status]
    act["kind_label"] = [t(f"nd_kind_{k}", lang) for k in act.kind]
    act["action"] = act[f"action_{'zh' if lang == 'zh' else 'en'}"]

    topics = priority.topic.tolist()
    topic = topic if topic in topics else (topics[0] if topics else None)
    examples = pd.DataFrame(columns=["ts", "customer_id", "name", "text", "evidence", "sentiment"])
    if topic is not None:
        m = mentions.filter(mentions.topic == topic).select("feedback_id", "evidence")
        ex = texts.join(m, "feedback_id").join(customers_for_role(con, role), "customer_id")
        ex = ex.order_by([ibis.desc("ts"), "feedback_id"]).limit(EXAMPLES)
        examples = ex.select(
            "ts", "customer_id", "name", "text", "evidence", "sentiment_label"
        ).to_pandas()
        examples["sentiment"] = [
            t(f"nd_sent_{s}", lang) if isinstance(s, str) else "—" for s in examples.sentiment_label
        ]
        examples = examples.drop(columns="sentiment_label")
        if role == "dashboard":
            examples["text"] = examples.text.map(mask_text, na_action="ignore")
            examples["evidence"] = examples.evidence.map(mask_text, na_action="ignore")

    return {
        "n": int(priority.attrs["n_customers"]),
        "n_texts": int(texts.count().execute()),
        "priority": priority,
        "trend": trend,
        "trend_tests": tests,
        "by_segment": by_seg,
        "unanswered": unanswered,
        "actions": act,
        "topic": topic,
        "examples": examples,
        "clusters": _clusters(con, lang, tax, role),
    }


def _clusters(con: BaseBackend, lang: str, tax: dict, role: str) -> pd.DataFrame:
    """The new-need clusters, each with its ``label`` (:func:`crmkit.text.cluster_name` of its
    top terms: 新话题：包装 / 环保); top terms and examples masked for the dashboard role."""
    clusters = con.table("need_clusters").to_pandas()
    if role == "dashboard":
        clusters["top_terms"] = clusters.top_terms.map(mask_text, na_action="ignore")
        clusters["example"] = clusters.example.map(mask_text, na_action="ignore")
    terms = dict(zip(clusters.topic, clusters.top_terms, strict=True))
    clusters["label"] = [text.topic_label(x, lang, tax, clusters=terms) for x in clusters.topic]
    return clusters


def _contacts_part(
    con: BaseBackend, f: Filters, lang: str, role: str, owner: str | None
) -> dict[str, object]:
    """The ``contacts`` section of :func:`needs_data` (plus ``n_status`` for its card)."""
    scope = customers_in_scope(con, f).select("customer_id")
    status = con.table("contact_status").semi_join(scope, "customer_id")
    contacts = relationship.contact_by_segment(status)
    contacts["segment_label"] = [segment_label(s, lang) for s in contacts.segment]
    n_status = int(status.count().execute())
    n_overdue = int(status.overdue.cast("int64").sum().execute() or 0)
    return {
        "n_status": n_status,
        "n_overdue": n_overdue,
        "contacts": contacts,
        "overdue": overdue_list(con, f, lang=lang, role=role, owner=owner),
    }


def overdue_list(
    con: BaseBackend,
    f: Filters = Filters(),
    *,
    lang: str = "zh",
    role: str | None = None,
    owner: str | None = None,
) -> pd.DataFrame:
    """The customers in scope (and of one ``owner``) whose last contact is older than their
    segment's cadence, most overdue first (:data:`OVERDUE_COLUMNS`), PII masked for the
    dashboard role: the page's overdue list."""
    st = _owned(con, "contact_status", f, owner)
    overdue = (
        st.filter(st.overdue)
        .join(customers_for_role(con, current_role(role)), "customer_id")
        .order_by([ibis.desc("days_overdue"), "customer_id"])
        .limit(MAX_EXPORT_ROWS)
        .select(*OVERDUE_COLUMNS)
        .to_pandas()
    )
    overdue["segment"] = [segment_label(s, lang) for s in overdue.segment]
    return overdue


def overdue_list_export(
    overdue: pd.DataFrame, owner: str | None, lang: str
) -> tuple[pd.DataFrame, str]:
    """The overdue list (:func:`overdue_list`) as its export buttons hand it over: headers in
    ``lang`` and the export's name, ``overdue_contacts`` (``overdue_contacts_<owner>``)."""
    headers = {c: t(f"nd_col_{c}", lang) for c in OVERDUE_COLUMNS}
    return overdue.rename(columns=headers), f"overdue_contacts{_owner_suffix(owner)}"


def _owner_suffix(owner: str | None) -> str:
    return f"_{owner}" if owner else ""


def _owned(con: BaseBackend, table: str, f: Filters, owner: str | None) -> ir.Table:
    """The rows of a published per-customer ``table`` (with ``owner``) of the customers in
    scope, and of one ``owner`` when given: what the owner dropdown filters."""
    scope = customers_in_scope(con, f).select("customer_id")
    t = con.table(table).semi_join(scope, "customer_id")
    return t.filter(t.owner == owner) if owner else t


def _care_part(
    con: BaseBackend, f: Filters, lang: str, role: str, owner: str | None
) -> dict[str, object]:
    """The ``care`` section of :func:`needs_data` (plus ``n_care`` for its card) and the owners
    offered in the owner dropdown (which filters both lists)."""
    scope = customers_in_scope(con, f).select("customer_id")
    status = con.table("contact_status").semi_join(scope, "customer_id")
    owners = sorted(
        x for x in status.select("owner").distinct().to_pandas().owner.dropna().tolist()
    )
    n_care = int(con.table("care_calendar").semi_join(scope, "customer_id").count().execute())
    calendar = care_list(con, f, lang=lang, role=role, owner=owner)
    return {"n_care": n_care, "calendar": calendar, "owners": owners}


def care_list(
    con: BaseBackend,
    f: Filters = Filters(),
    *,
    lang: str = "zh",
    role: str | None = None,
    owner: str | None = None,
) -> pd.DataFrame:
    """The care calendar of the customers in scope (and of one ``owner``): birthdays,
    festivals and follow-ups by date (:data:`CALENDAR_COLUMNS`), PII masked for the dashboard
    role."""
    calendar = (
        _owned(con, "care_calendar", f, owner)
        .join(customers_for_role(con, current_role(role)), "customer_id")
        .order_by(["date", "owner", "customer_id", "event"])
        .limit(MAX_EXPORT_ROWS)
        .to_pandas()
    )
    calendar["date"] = pd.to_datetime(calendar.date).dt.date
    calendar["detail"] = calendar[f"detail_{'zh' if lang == 'zh' else 'en'}"]
    calendar["event"] = [t(f"nd_event_{e}", lang) for e in calendar.event]
    calendar["segment"] = [segment_label(s, lang) for s in calendar.segment]
    return calendar[list(CALENDAR_COLUMNS)]


def care_list_export(
    calendar: pd.DataFrame, owner: str | None, lang: str
) -> tuple[pd.DataFrame, str]:
    """The care calendar (:func:`care_list`) as its export buttons hand it over: headers in
    ``lang`` and the export's name, ``care_calendar`` (``care_calendar_<owner>``)."""
    headers = {c: t(f"nd_col_{c}", lang) for c in CALENDAR_COLUMNS}
    return calendar.rename(columns=headers), f"care_calendar{_owner_suffix(owner)}"


class NeedsPage(Page):
    """Page 3 — needs, their priority, change and response; contact cadence and care."""

    title_key = "page_needs"

    def build(self):  # noqa: ANN201
        w = self.w
        half = chart_box_layout()
        wide = w.Layout(width=f"{2 * charts.WIDTH + 20}px")
        self.cards = w.HTML()
        self.fig_priority, self.fig_trend, self.fig_segments, self.fig_contacts = (
            w.Box(layout=half) for _ in range(4)
        )
        self.priority_table = w.HTML(layout=wide)
        self.priority_table.add_class("crmkit-need-priority")
        self.trend_table = w.HTML(layout=wide)
        self.trend_table.add_class("crmkit-need-trend")
        self.unanswered_table = w.HTML(layout=wide)
        self.unanswered_table.add_class("crmkit-need-unanswered")
        self.topic = w.Dropdown(layout=w.Layout(width="260px"))
        self.topic.add_class("crmkit-need-topic")
        self.topic.observe(self._topic_changed, names="value")
        self.examples_title, self.examples_table = w.HTML(), w.HTML(layout=wide)
        self.examples_table.add_class("crmkit-need-examples")
        self.clusters_table = w.HTML(layout=wide)
        self.contacts_table = w.HTML(layout=wide)
        self.owner = w.Dropdown(layout=w.Layout(width="260px"))
        self.owner.add_class("crmkit-owner")
        self.owner.observe(self._owner_changed, names="value")
        self.overdue_title, self.overdue_table = w.HTML(), w.HTML(layout=wide)
        self.overdue_table.add_class("crmkit-overdue-list")
        self.overdue_export = ExportButtons()
        self.calendar_title, self.calendar_table = w.HTML(), w.HTML(layout=wide)
        self.calendar_table.add_class("crmkit-care-calendar")
        self.calendar_export = ExportButtons()
        self._topic: str | None = None
        self._owner: str | None = None
        self._f = Filters()
        return w.VBox(
            [
                self.cards,
                w.HBox([self.fig_priority, self.fig_trend], layout=chart_row()),
                self.priority_table,
                self.trend_table,
                self.unanswered_table,
                w.HBox([self.fig_segments, self.fig_contacts], layout=chart_row()),
                self.examples_title,
                self.topic,
                self.examples_table,
                self.clusters_table,
                self.contacts_table,
                self.overdue_title,
                self.owner,
                self.overdue_export.widget,
                self.overdue_table,
                self.calendar_title,
                self.calendar_export.widget,
                self.calendar_table,
            ]
        )

    def compute(self, f: Filters, lang: str) -> dict:
        self._f = f
        return needs_data(
            self.con, f, lang=lang, role=self.role, topic=self._topic, owner=self._owner
        )

    def _topic_changed(self, change: dict) -> None:
        if change["new"] and change["new"] != self._topic:
            self._topic = change["new"]
            self.refresh(self._f, self.lang)

    def _owner_changed(self, change: dict) -> None:
        new = change["new"] or None
        if new != self._owner:
            self._owner = new
            self.refresh(self._f, self.lang)

    def _set_options(self, dd, options: list, value, handler) -> None:  # noqa: ANN001
        dd.unobserve(handler, names="value")
        try:
            dd.options = options
            dd.value = value
        finally:
            dd.observe(handler, names="value")

    def update(self, data: dict, f: Filters, lang: str) -> None:
        stamp = f.describe(lang)
        self.cards.value = cards_html(
            data,
            {
                "texts": "int",
                "customers_text": "int",
                "common": "int",
                "unanswered": "int",
                "overdue_share": "pct",
                "care_due": "int",
            },
            lang,
            NEEDS_CARDS,
        )
        missing = data["unavailable"]
        self._update_needs(data, missing.get("needs"), stamp, lang)
        self._update_relationship(data, stamp, f, lang)

    def _update_needs(self, data: dict, reasons: dict | None, stamp: str, lang: str) -> None:
        """The need sections: charts and tables, or their "not available" notes."""
        self.topic.layout.display = "none" if reasons else None
        if reasons:
            for box, title in (
                (self.fig_priority, "fig_need_priority"),
                (self.fig_trend, "fig_need_trend"),
                (self.fig_segments, "fig_needs_by_segment"),
            ):
                show_unavailable(box, reasons, title=t(title, lang), lang=lang)
            for widget, title in (
                (self.priority_table, "nd_priority"),
                (self.trend_table, "nd_trend_tests"),
                (self.unanswered_table, "nd_unanswered_list"),
                (self.examples_table, "nd_examples"),
                (self.clusters_table, "nd_clusters"),
            ):
                widget.value = unavailable_html(reasons, lang, title=t(title, lang))
            self.examples_title.value = ""
            return
        pr = data["priority"]
        tests = data["trend_tests"]
        flagged = tuple(tests.loc[tests.change != "stable", "label"])
        charts.show_in(self.fig_priority, charts.plot_need_priority(pr, lang), meta=stamp)
        charts.show_in(
            self.fig_trend, charts.plot_need_trend(data["trend"], lang, flagged), meta=stamp
        )
        charts.show_in(
            self.fig_segments, charts.plot_needs_by_segment(data["by_segment"], lang), meta=stamp
        )

        shown = pr.assign(
            need_type=[
                f"{a}（{b}）" if b else a
                for a, b in zip(pr.need_type_label, pr.reason_label, strict=True)
            ],
            kind=pr.kind_label,
            status=pr.status_label,
            label=pr.label + [" *" if s else "" for s in pr.small_sample],
        )
        cols = [
            "rank", "label", "kind", "texts", "customers", "customer_share", "negative_share",
            "recent_share", "priority", "need_type", "status",
        ]  # fmt: skip
        self.priority_table.value = (
            f"<div class='crmkit-section'>{t('nd_priority', lang)}</div>"
            f"<div class='crmkit-sub crmkit-formula'>{t('nd_formula', lang)}: "
            f"{html.escape(pr.attrs['formula'])}</div>"
            + html_table(
                shown,
                {c: t(f"nd_col_{c}", lang) for c in cols},
                empty=t("no_data", lang),
                lang=lang,
            )
        )
        r0, r1 = tests.attrs["recent"]
        b0, b1 = tests.attrs["baseline"]
        spec = text.load_taxonomy()["trend"]
        note = t(
            "nd_trend_note",
            lang,
            r0=f"{r0:%Y-%m}",
            r1=f"{r1 - timedelta(days=1):%Y-%m}",
            b0=f"{b0:%Y-%m}",
            b1=f"{b1 - timedelta(days=1):%Y-%m}",
            alpha=spec["alpha"],
            min_change=fmt_pct(spec["min_change"], lang),
        )
        tt = tests.rename(columns={"recent_share": "recent_share_t"}).assign(
            change=tests.change_label
        )
        tcols = ["label", "base_share", "recent_share_t", "q", "change"]
        self.trend_table.value = (
            f"<div class='crmkit-section'>{t('nd_trend_tests', lang)}</div>"
            f"<div class='crmkit-sub'>{html.escape(note)}</div>"
            + html_table(tt, {c: t(f"nd_col_{c}", lang) for c in tcols}, lang=lang)
        )
        un = data["unanswered"].assign(status=data["unanswered"].status_label)
        act = data["actions"].assign(date=[fmt_date(d.date(), lang) for d in data["actions"].date])
        self.unanswered_table.value = (
            f"<div class='crmkit-section'>{t('nd_unanswered_list', lang)}</div>"
            + html_table(
                un,
                {
                    c: t(f"nd_col_{c}", lang)
                    for c in ("label", "customers", "customer_share", "status")
                },
                empty=t("no_data", lang),
                lang=lang,
            )
            + f"<div class='crmkit-section'>{t('nd_actions', lang)}</div>"
            + html_table(
                act.assign(kind=act.kind_label, status=act.status_label),
                {c: t(f"nd_col_{c}", lang) for c in ("label", "kind", "action", "status", "date")},
                lang=lang,
            )
        )
        charts_topics = [(row.label, row.topic) for row in pr.itertuples()]
        self._set_options(self.topic, charts_topics, data["topic"], self._topic_changed)
        self.topic.description = t("nd_topic", lang)
        self._topic = data["topic"]
        self.examples_title.value = f"<div class='crmkit-section'>{t('nd_examples', lang)}</div>"
        ex = data["examples"]
        self.examples_table.value = html_table(
            ex,
            {
                c: t(f"nd_col_{c}", lang)
                for c in ("ts", "customer_id", "name", "text", "evidence", "sentiment")
            },
            empty=t("no_data", lang),
            lang=lang,
        )
        cl = data["clusters"]
        self.clusters_table.value = (
            f"<div class='crmkit-section'>{t('nd_clusters', lang)}</div>"
            + html_table(
                cl.assign(cluster=cl.label),
                {
                    c: t(f"nd_col_{c}", lang)
                    for c in ("cluster", "texts", "customers", "top_terms", "example")
                },
                empty=t("no_data", lang),
                lang=lang,
            )
        )

    def _update_relationship(self, data: dict, stamp: str, f: Filters, lang: str) -> None:
        """Contact cadence and the overdue list, the care calendar, or their notes."""
        contacts, care = data["unavailable"].get("contacts"), data["unavailable"].get("care")
        self.owner.layout.display = "none" if care else None
        self.overdue_export.widget.layout.display = "none" if contacts else None
        self.calendar_export.widget.layout.display = "none" if care else None
        show_chart(
            self.fig_contacts,
            lambda: charts.plot_contact_by_segment(
                data["contacts"],
                lang,
                relationship.CHANNELS,
                labels={c: channel_label(c, lang) for c in relationship.CHANNELS},
            ),
            contacts,
            title=t("fig_contact_by_segment", lang),
            lang=lang,
            meta=stamp,
        )
        if not care:
            owners = [(t("all", lang), ALL)] + [(o, o) for o in data["owners"]]
            self._set_options(self.owner, owners, data["owner"] or ALL, self._owner_changed)
            self.owner.description = t("nd_owner", lang)
        who = f" · {html.escape(data['owner'])}" if data["owner"] else ""
        if contacts:
            for widget, title in (
                (self.contacts_table, "nd_contact_table"),
                (self.overdue_table, "nd_overdue_list"),
            ):
                widget.value = unavailable_html(contacts, lang, title=t(title, lang))
            self.overdue_title.value = ""
        else:
            ct = data["contacts"]
            ct = ct.assign(
                segment=ct.segment_label,
                per_customer=[f"{v:.2f}" for v in ct.per_customer],
                mean_days_since=[fmt_int(v, lang) for v in ct.mean_days_since],
                overdue_share=ct.overdue_share,
            )
            ccols = [
                "segment",
                "customers",
                "per_customer",
                "mean_days_since",
                "target_days",
                "overdue",
                "overdue_share",
            ]
            self.contacts_table.value = (
                f"<div class='crmkit-section'>{t('nd_contact_table', lang)}</div>"
                + html_table(ct, {c: t(f"nd_col_{c}", lang) for c in ccols}, lang=lang)
            )
            self.overdue_title.value = (
                f"<div class='crmkit-section'>{t('nd_overdue_list', lang)}{who} "
                f"({fmt_int(len(data['overdue']))})</div>"
            )
            headers = {c: t(f"nd_col_{c}", lang) for c in OVERDUE_COLUMNS}
            shown = data["overdue"].assign(
                last_contact=[
                    "—" if pd.isna(x) else f"{x:%Y-%m-%d}" for x in data["overdue"].last_contact
                ]
            )
            self.overdue_table.value = html_table(
                shown, headers, empty=t("no_data", lang), lang=lang
            )
            self.overdue_export.show(
                *overdue_list_export(data["overdue"], data["owner"], lang), f, lang
            )
        if care:
            self.calendar_title.value = ""
            self.calendar_table.value = unavailable_html(care, lang, title=t("nd_calendar", lang))
            return
        self.calendar_title.value = (
            f"<div class='crmkit-section'>{t('nd_calendar', lang)}{who} "
            f"({fmt_int(len(data['calendar']))})</div>"
        )
        cheaders = {c: t(f"nd_col_{c}", lang) for c in CALENDAR_COLUMNS}
        self.calendar_table.value = html_table(
            data["calendar"], cheaders, empty=t("no_data", lang), lang=lang
        )
        self.calendar_export.show(*care_list_export(data["calendar"], data["owner"], lang), f, lang)


def customer_needs(
    con: BaseBackend | None = None, *, lang: str = "zh", role: str | None = None
) -> Page:
    """The needs and relationship page (``dashboards/needs.ipynb``)."""
    return safe_page(NeedsPage, con, lang=lang, role=role)
