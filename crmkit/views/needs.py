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
    cards_html,
    chart_box_layout,
    chart_row,
    current_role,
    customers_for_role,
    customers_in_scope,
    html_table,
    safe_page,
    segment_label,
    skipped_steps,
)

log = logging.getLogger("crmkit.views")
#: The publish steps whose tables the page reads.
NEEDS_STEPS = ("need_texts", "needs")

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
        ``as_of``, ``n`` (customers with text), ``cards``; ``priority`` (:func:`needs.need_summary`
        with labels, formula in ``attrs``); ``trend`` (month, topic, label, share …) and
        ``trend_tests`` (:func:`needs.trend_tests`); ``by_segment``; ``unanswered`` (common
        needs without an action in progress or done) and ``actions``; ``examples`` (latest
        texts of ``topic``); ``clusters`` (each with its ``label``,
        :func:`crmkit.text.cluster_name` of its top terms). For the dashboard role names are
        masked and the texts, evidence, top terms and cluster examples pass
        :func:`crmkit.privacy.mask_text`;
        ``contacts`` (per segment) and ``overdue`` (list, most overdue first); ``calendar``;
        ``owners`` (offered in the owner dropdown). When a publish step the page reads was
        skipped, only ``as_of`` and ``unavailable`` (step → reason code) are returned.
    """
    role = current_role(role)
    as_of = data_as_of(con)
    skipped = skipped_steps(con, NEEDS_STEPS)
    if skipped:
        return {"as_of": as_of, "unavailable": skipped}
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
    n = int(priority.attrs["n_customers"])
    n_texts = int(texts.count().execute())
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

    clusters = con.table("need_clusters").to_pandas()
    if role == "dashboard":
        clusters["top_terms"] = clusters.top_terms.map(mask_text, na_action="ignore")
        clusters["example"] = clusters.example.map(mask_text, na_action="ignore")
    terms = dict(zip(clusters.topic, clusters.top_terms, strict=True))
    clusters["label"] = [text.topic_label(x, lang, tax, clusters=terms) for x in clusters.topic]

    scope = customers_in_scope(con, f).select("customer_id")
    status = con.table("contact_status").semi_join(scope, "customer_id")
    contacts = relationship.contact_by_segment(status)
    contacts["segment_label"] = [segment_label(s, lang) for s in contacts.segment]
    owners = sorted(
        x for x in status.select("owner").distinct().to_pandas().owner.dropna().tolist()
    )
    n_status = int(status.count().execute())
    n_overdue = int(status.overdue.cast("int64").sum().execute() or 0)
    st = status.filter(status.overdue)
    if owner:
        st = st.filter(st.owner == owner)
    overdue = (
        st.join(customers_for_role(con, role), "customer_id")
        .order_by([ibis.desc("days_overdue"), "customer_id"])
        .limit(MAX_EXPORT_ROWS)
        .select(*OVERDUE_COLUMNS)
        .to_pandas()
    )
    overdue["segment"] = [segment_label(s, lang) for s in overdue.segment]

    cal = con.table("care_calendar").semi_join(scope, "customer_id")
    n_care = int(cal.count().execute())
    if owner:
        cal = cal.filter(cal.owner == owner)
    calendar = (
        cal.join(customers_for_role(con, role), "customer_id")
        .order_by(["date", "owner", "customer_id", "event"])
        .limit(MAX_EXPORT_ROWS)
        .to_pandas()
    )
    calendar["date"] = pd.to_datetime(calendar.date).dt.date
    calendar["detail"] = calendar[f"detail_{'zh' if lang == 'zh' else 'en'}"]
    calendar["event"] = [t(f"nd_event_{e}", lang) for e in calendar.event]
    calendar["segment"] = [segment_label(s, lang) for s in calendar.segment]
    calendar = calendar[list(CALENDAR_COLUMNS)]
    horizon = int(relationship.load_relationship()["calendar"]["horizon_days"])

    common_n = int((priority.need_type == "common").sum())
    window = fmt_date(as_of, lang)
    share = fmt_pct(float(tax["common"]["min_customer_share"]), lang)
    cards = {
        "texts": (n_texts, t("nd_texts", lang), t("def_nd_texts", lang, as_of=window)),
        "customers_text": (n, t("nd_customers_text", lang), t("def_nd_customers_text", lang)),
        "common": (
            common_n,
            t("nd_common", lang),
            t("def_nd_common", lang, share=share, n=fmt_int(n)),
        ),
        "unanswered": (len(unanswered), t("nd_unanswered", lang), t("def_nd_unanswered", lang)),
        "overdue_share": (
            n_overdue / n_status if n_status else None,
            t("nd_overdue", lang),
            t("def_nd_overdue", lang, n=fmt_int(n_status), as_of=window),
        ),
        "care_due": (
            n_care,
            t("nd_care_due", lang),
            t(
                "def_nd_care_due",
                lang,
                start=fmt_date(as_of.date() + timedelta(days=1), lang),
                end=fmt_date(as_of.date() + timedelta(days=horizon), lang),
            ),
        ),
    }
    return {
        "as_of": as_of,
        "n": n,
        "n_overdue": n_overdue,
        "cards": cards,
        "priority": priority,
        "trend": trend,
        "trend_tests": tests,
        "by_segment": by_seg,
        "unanswered": unanswered,
        "actions": act,
        "topic": topic,
        "examples": examples,
        "clusters": clusters,
        "contacts": contacts,
        "overdue": overdue,
        "calendar": calendar,
        "owners": owners,
        "owner": owner,
    }


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
        )
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
        charts.show_in(
            self.fig_contacts,
            charts.plot_contact_by_segment(
                data["contacts"],
                lang,
                relationship.CHANNELS,
                labels={c: channel_label(c, lang) for c in relationship.CHANNELS},
            ),
            meta=stamp,
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
        owners = [(t("all", lang), ALL)] + [(o, o) for o in data["owners"]]
        self._set_options(self.owner, owners, data["owner"] or ALL, self._owner_changed)
        self.owner.description = t("nd_owner", lang)
        who = f" · {html.escape(data['owner'])}" if data["owner"] else ""
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
        self.overdue_table.value = html_table(shown, headers, empty=t("no_data", lang), lang=lang)
        suffix = f"_{data['owner']}" if data["owner"] else ""
        self.overdue_export.show(
            data["overdue"].rename(columns=headers), f"overdue_contacts{suffix}", f, lang
        )
        self.calendar_title.value = (
            f"<div class='crmkit-section'>{t('nd_calendar', lang)}{who} "
            f"({fmt_int(len(data['calendar']))})</div>"
        )
        cheaders = {c: t(f"nd_col_{c}", lang) for c in CALENDAR_COLUMNS}
        self.calendar_table.value = html_table(
            data["calendar"], cheaders, empty=t("no_data", lang), lang=lang
        )
        self.calendar_export.show(
            data["calendar"].rename(columns=cheaders), f"care_calendar{suffix}", f, lang
        )


def customer_needs(
    con: BaseBackend | None = None, *, lang: str = "zh", role: str | None = None
) -> Page:
    """The needs and relationship page (``dashboards/needs.ipynb``)."""
    return safe_page(NeedsPage, con, lang=lang, role=role)
