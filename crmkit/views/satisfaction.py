"""Page — satisfaction monitoring and complaints (steps 5 客户满意度监测, 6 客户投诉处理).

Reads the published ``satisfaction_responses``, ``satisfaction_drivers``,
``satisfaction_alerts`` and ``satisfaction_info`` tables (see
:func:`crmkit.satisfaction.publish_tables`) and ``ticket_sla`` and ``complaints_info`` (see
:func:`crmkit.complaints.publish_tables`); scores and SLA figures are cheap aggregates of them
for the chosen filters, the drivers and alerts are shown as published.
"""

from __future__ import annotations

import html
import logging
from datetime import datetime, timedelta

import ibis
import ibis.expr.types as ir
import pandas as pd
from ibis.backends import BaseBackend

from crmkit import charts, complaints, schema, text
from crmkit import satisfaction as sat
from crmkit.db import data_as_of
from crmkit.i18n import channel_label, code_label, fmt_date, fmt_int, fmt_pct, t
from crmkit.views.base import (
    MAX_EXPORT_ROWS,
    PERIODS,
    ExportButtons,
    Filters,
    Page,
    Section,
    card_html,
    chart_box_layout,
    chart_row,
    current_role,
    customers_for_role,
    customers_in_scope,
    html_table,
    reasons_text,
    safe_page,
    segment_label,
    show_chart,
    unavailable_html,
    unavailable_sections,
)

log = logging.getLogger("crmkit.views")
#: The publish steps whose tables the score sections read (survey answers).
SATISFACTION_STEPS = ("satisfaction_responses",)
#: The publish step whose tables the drivers, detractor topics and alerts read.
DRIVER_STEPS = ("satisfaction",)
#: The publish step whose tables the complaint SLA sections read (tickets).
COMPLAINT_STEPS = ("complaints",)
#: The page's sections and what each reads.
SATISFACTION_SECTIONS = {
    "scores": Section(SATISFACTION_STEPS),
    "drivers": Section(DRIVER_STEPS),
    "complaints": Section(COMPLAINT_STEPS),
}
#: The section of each score card, in the order shown.
SATISFACTION_CARDS = {"nps": "scores", "csat": "scores", "ces": "scores", "sla": "complaints"}

BREACH_COLUMNS = (
    "ticket_id",
    "customer_id",
    "name",
    "opened_at",
    "first_response_at",
    "waited_minutes",
    "channel",
    "category",
    "severity",
    "team",
    "agent",
    "status",
)
QUALITY_COLUMNS = (
    "label",
    "tickets",
    "attainment",
    "interval",
    "median_resolution_hours",
    "reopen_rate",
    "escalation_rate",
    "post_csat",
    "open",
    "flag",
)
ALERT_COLUMNS = (
    "dimension",
    "slice",
    "metric",
    "before",
    "now",
    "change",
    "n_before",
    "n_now",
    "test",
    "q_value",
    "likely_drivers",
)


def _filtered(con: BaseBackend, f: Filters) -> bool:
    return bool(f.province or f.city or f.segment or f.owner_team)


def _scoped(
    con: BaseBackend, table: str, time_col: str | None, f: Filters, as_of: datetime
) -> ir.Table:
    tbl = con.table(table)
    if _filtered(con, f):
        tbl = tbl.semi_join(customers_in_scope(con, f), "customer_id")
    keep = f.keep(tbl[time_col], as_of) if time_col else None
    return tbl if keep is None else tbl.filter(keep)


def _window(f: Filters, as_of: datetime, lang: str) -> str:
    w = f.window(as_of)
    if w is None:
        return t("period_all", lang)
    last_day = (w.end - timedelta(days=1)).date()
    return t("sat_window", lang, start=fmt_date(w.start.date(), lang), end=fmt_date(last_day, lang))


def satisfaction_data(
    con: BaseBackend, f: Filters = Filters(), *, lang: str = "zh", role: str | None = None
) -> dict[str, object]:
    """Everything the satisfaction page shows, for these filters.

    Returns
    -------
    dict
        ``as_of``; ``unavailable`` (section of :data:`SATISFACTION_SECTIONS` → {step: reason code}
        for the sections whose publish step was skipped: without feedback the scores and drivers say
        so while the complaint SLA still shows, and the other way round); ``cards`` (metric → value,
        label, definition, n, lo, hi, small_sample; :data:`SATISFACTION_CARDS` names each card's
        section); ``scores`` (metric → one-row frame from :func:`crmkit.satisfaction.nps` / ``csat``
        / ``ces`` / :func:`crmkit.complaints.sla_summary`: value, lo, hi, n, small_sample) of the
        sections shown; ``info`` (the published policy and model facts). The ``scores`` section:
        ``n`` (NPS answers), ``trend`` (NPS by month, by week for the 30- and 90-day periods),
        ``segments`` (NPS and CSAT by customer segment). The ``drivers`` section: ``drivers``,
        ``topics`` and ``alerts`` (published, whole snapshot). The ``complaints`` section: ``sla``
        (by channel); ``backlog`` (open tickets by team and age); ``quality`` (service quality by
        team); ``breaches`` (tickets that missed the SLA, newest first, names masked for the
        dashboard role). A section that is not available has none of its keys.
    """
    role = current_role(role)
    as_of = data_as_of(con)
    missing = unavailable_sections(con, SATISFACTION_SECTIONS)
    info: dict[str, object] = {}
    if "drivers" not in missing:
        info.update(con.table("satisfaction_info").to_pandas().iloc[0].to_dict())
    if "complaints" not in missing:
        info.update(con.table("complaints_info").to_pandas().iloc[0].to_dict())
    window = _window(f, as_of, lang)
    desc = f.describe(lang)
    out: dict[str, object] = {"as_of": as_of, "unavailable": missing, "info": info, "n": None}
    scores: dict[str, pd.DataFrame] = {}
    defs: dict[str, str] = {}
    if "scores" not in missing:
        resp = _scoped(con, "satisfaction_responses", "ts", f, as_of)
        scores |= {
            "nps": sat.nps(resp, filters=desc),
            "csat": sat.csat(resp, filters=desc),
            "ces": sat.ces(resp, filters=desc),
        }
        nps, csat, ces = (scores[k].iloc[0] for k in ("nps", "csat", "ces"))
        defs |= {
            "nps": t(
                "sat_def_nps",
                lang,
                promoters=fmt_int(nps.promoters),
                detractors=fmt_int(nps.detractors),
                n=fmt_int(nps.n),
                window=window,
            ),
            "csat": t(
                "sat_def_csat", lang, k=fmt_int(csat.numerator), n=fmt_int(csat.n), window=window
            ),
            "ces": t("sat_def_ces", lang, n=fmt_int(ces.n), window=window),
        }
        freq = "week" if PERIODS[f.period] is not None and PERIODS[f.period] <= 90 else "month"
        segments = sat.nps(resp, "segment").merge(
            sat.csat(resp, "segment")[["segment", "value", "n"]].rename(
                columns={"value": "csat", "n": "csat_n"}
            ),
            on="segment",
            how="outer",
        )
        segments["label"] = [slice_label("segment", s, lang) for s in segments["segment"]]
        out |= {
            "n": int(nps.n),
            "trend": sat.nps(resp, "period", freq=freq),
            "segments": segments,
        }
    if "drivers" not in missing:
        topics = (
            con.table("satisfaction_topics").to_pandas()
            if "satisfaction_topics" in con.list_tables()
            else sat._empty(sat.TOPIC_COLUMNS)
        )
        clusters = (
            con.table("need_clusters").select("topic", "top_terms").to_pandas()
            if "need_clusters" in con.list_tables()
            else pd.DataFrame(columns=["topic", "top_terms"])
        )
        terms = dict(zip(clusters.topic, clusters.top_terms, strict=True))
        topics["label"] = [text.topic_label(x, lang, clusters=terms) for x in topics.topic]
        out |= {
            "drivers": con.table("satisfaction_drivers").to_pandas(),
            "topics": topics,
            "alerts": con.table("satisfaction_alerts").to_pandas(),
        }
    if "complaints" not in missing:
        sla_t = _scoped(con, "ticket_sla", "opened_at", f, as_of)
        scores["sla"] = complaints.sla_summary(sla_t, filters=desc)
        sla = scores["sla"].iloc[0]
        defs["sla"] = t(
            "sat_def_sla",
            lang,
            policy=_policy_text(info, lang),
            k=fmt_int(sla.numerator),
            n=fmt_int(sla.n),
            window=window,
        )
        fb = None if "scores" in missing else _scoped(con, "satisfaction_responses", None, f, as_of)
        sla_by_channel = complaints.sla_summary(sla_t, "channel")
        sla_by_channel["label"] = [channel_label(c, lang) for c in sla_by_channel.channel]
        out |= {
            "sla": sla_by_channel,
            "backlog": backlog_table(con, f),
            "quality": complaints.service_quality(sla_t, fb, "team"),
            "breaches": breach_list(con, f, lang=lang, role=role),
        }

    cards = {}
    for k in SATISFACTION_CARDS:
        r = scores[k].iloc[0] if k in scores else None
        cards[k] = {
            "value": None if r is None or pd.isna(r.value) else float(r.value),
            "label": t(f"sat_{k}", lang),
            "definition": defs.get(k, ""),
            "n": 0 if r is None else int(r.n),
            "lo": None if r is None or pd.isna(r.lo) else float(r.lo),
            "hi": None if r is None or pd.isna(r.hi) else float(r.hi),
            "small_sample": r is not None and bool(r.small_sample),
        }
    return out | {"scores": scores, "cards": cards}


def breach_list(
    con: BaseBackend, f: Filters = Filters(), *, lang: str = "zh", role: str | None = None
) -> pd.DataFrame:
    """The complaint tickets in scope and period that missed the first-response SLA, newest
    first (:data:`BREACH_COLUMNS`), names masked for the dashboard role: the page's breach
    list."""
    role = current_role(role)
    b = complaints.breaches(_scoped(con, "ticket_sla", "opened_at", f, data_as_of(con)))
    people = customers_for_role(con, role, pii=("name",))
    b = b.left_join(people, "customer_id").select(b, people.name)
    b = b.order_by([ibis.desc("opened_at"), "ticket_id"]).limit(MAX_EXPORT_ROWS)
    breach_df = b.to_pandas()
    breach_df["status"] = [
        t("sat_open", lang) if o else t("sat_closed", lang) for o in breach_df["is_open"]
    ]
    breach_df["channel"] = [channel_label(c, lang) for c in breach_df["channel"]]
    breach_df["severity"] = [
        code_label("tickets", "severity", v, lang) for v in breach_df["severity"]
    ]
    return breach_df[list(BREACH_COLUMNS)].reset_index(drop=True)


def breach_list_export(breaches: pd.DataFrame, lang: str) -> tuple[pd.DataFrame, str]:
    """The breach list (:func:`breach_list`) as its export buttons hand it over: headers in
    ``lang`` and the export's name, ``sla_breaches``."""
    headers = {c: t(f"sat_col_{c}", lang) for c in BREACH_COLUMNS}
    return breaches.rename(columns=headers), "sla_breaches"


def backlog_table(con: BaseBackend, f: Filters = Filters()) -> pd.DataFrame:
    """Open complaint tickets of the customers in scope by team and age
    (:func:`crmkit.complaints.backlog_ageing`); every open ticket, whatever the period."""
    return complaints.backlog_ageing(_scoped(con, "ticket_sla", None, f, data_as_of(con)), "team")


def backlog_table_export(backlog: pd.DataFrame, lang: str) -> tuple[pd.DataFrame, str]:
    """The open backlog (:func:`backlog_table`) as its export button hands it over: one row per
    team, one column per age bucket, and the export's name, ``open_backlog_by_team``."""
    wide = (
        backlog.pivot(index="team", columns="bucket", values="tickets")
        .reindex(columns=list(complaints.AGE_BUCKETS))
        .reset_index()
        .rename(columns={"team": t("sat_col_team", lang)})
    )
    wide.columns.name = None
    return wide, "open_backlog_by_team"


def _policy_text(info: dict, lang: str) -> str:
    """The complaint SLA policy in words (first-response hours, business hours, calendar)."""
    hours, bh = f"{info['first_response_hours']:g}", info.get("business_hours") or ""
    calendar = info.get("holiday_calendar") or ""
    if bh and calendar:
        return t("sat_policy_bh_calendar", lang, hours=hours, bh=bh, calendar=calendar)
    if bh:
        return t("sat_policy_bh", lang, hours=hours, bh=bh)
    return t("sat_policy", lang, hours=hours)


def slice_label(dimension: str, value: str, lang: str) -> str:
    """A slice of the satisfaction figures in words (``dimension`` one of
    ``crmkit.satisfaction.ALERT_DIMENSIONS``): segments, owner teams and channels by their
    labels, ``(none)`` as no order (channel, category) or not given; provinces, categories and
    a company's own codes as they are.

    >>> slice_label("segment", "general_develop", "zh"), slice_label("channel", "(none)", "en")
    ('一般发展客户', 'no order (relationship survey)')
    >>> slice_label("owner_team", "service", "zh"), slice_label("province", "广东", "en")
    ('客户服务团队', '广东')
    """
    if value == sat.NONE:
        return t("sat_no_order" if dimension in ("channel", "category") else "sat_not_given", lang)
    if dimension == "overall":
        return t("all", lang)
    if dimension == "segment":
        return segment_label(value, lang)
    if dimension == "owner_team" and value in schema.OWNER_TEAMS:
        return t(f"team_{value}", lang)
    if dimension == "channel":
        return channel_label(value, lang)
    return value


def _fmt_score(metric: str, v: float | None, lang: str) -> str:
    if v is None:
        return "—"
    if metric == "nps":
        return f"{v:+.1f}"
    if metric == "ces":
        return f"{v:.2f}"
    return fmt_pct(v, lang)


def _driver_words(text: str, lang: str) -> str:
    """``late 12.0% -> 30.0%; …`` (as published) with the features' names in ``lang``."""
    for code, (zh, en) in sat.DRIVER_FEATURES.items():
        text = text.replace(f"{code} ", f"{zh if lang == 'zh' else en} ")
    return text


def score_cards_html(cards: dict, lang: str, unavailable: dict | None = None) -> str:
    """Score cards: value, 95 % interval and n, the definition on hover (``title``);
    ``data-key`` / ``data-value`` / ``data-n`` let tests read the exact numbers. A card whose
    section is in ``unavailable`` (:data:`SATISFACTION_CARDS`) says "not available" and why."""
    out = []
    for key, c in cards.items():
        reasons = (unavailable or {}).get(SATISFACTION_CARDS.get(key))
        if reasons:
            out.append(
                card_html(key, None, c["label"], "", fmt="pct", n=None, lang=lang, reasons=reasons)
            )
            continue
        small = (
            f"<div class='crmkit-small'>{t('small_sample', lang)}</div>"
            if c["small_sample"]
            else ""
        )
        interval = (
            f"{t('sat_ci', lang)} [{_fmt_score(key, c['lo'], lang)}, "
            f"{_fmt_score(key, c['hi'], lang)}] · n = {fmt_int(c['n'])}"
        )
        raw = "" if c["value"] is None else repr(c["value"])
        out.append(
            f"<div class='crmkit-card crmkit-score' data-key='{key}' data-value='{raw}' "
            f"data-n='{c['n']}' title='{html.escape(c['definition'])}'>"
            f"<div class='l'>{html.escape(c['label'])}</div>"
            f"<div class='v'>{_fmt_score(key, c['value'], lang)}</div>"
            f"<div class='d'>{html.escape(interval)}</div>{small}</div>"
        )
    return f"<div class='crmkit-cards'>{''.join(out)}</div>"


#: How many need topics the detractor-vs-promoter table shows.
TOPIC_ROWS = 6


def topics_html(topics: pd.DataFrame, lang: str) -> str:
    """The need topics most typical of detractors' comments (published, whole snapshot), each
    by its ``label``."""
    df = topics.head(TOPIC_ROWS).copy()
    df["topic"] = df.label
    for col in ("detractor_share", "promoter_share"):
        df[col] = [fmt_pct(v) for v in df[col]]
    df["difference"] = [f"{v * 100:+.1f}" for v in df.difference]
    df["q_value"] = [f"{v:.2g}" if pd.notna(v) else "—" for v in df.q_value]
    cols = ["topic", "detractor_share", "promoter_share", "difference", "q_value"]
    headers = {c: t(f"sat_topic_{c}", lang) for c in cols}
    return (
        f"<div class='crmkit-section'>{html.escape(t('sat_sec_topics', lang))}</div>"
        f"<div class='crmkit-sub'>{html.escape(t('sat_topics_note', lang))}</div>"
        + html_table(df[cols], headers, empty=t("no_data", lang), lang=lang)
    )


def score_alerts_html(alerts: pd.DataFrame, lang: str) -> str:
    """The alert section: the published :func:`crmkit.satisfaction.score_alerts` rows that
    alert, their slice, metric and test in words; or how many slices were tested when none
    alerts."""
    shown = alerts[alerts["alert"]].copy() if len(alerts) else alerts
    if shown.empty:
        none = t("sat_no_alerts", lang, n=len(alerts))
        body = f"<div class='crmkit-sub crmkit-no-alerts'>{none}</div>"
    else:
        for c in ("before", "now", "change"):
            shown[c] = [
                _fmt_score(m, v, lang) if c != "change" or m != "csat" else f"{v:+.1%}"
                for m, v in zip(shown.metric, shown[c], strict=True)
            ]
        shown["q_value"] = [f"{q:.2g}" for q in shown.q_value]
        shown["likely_drivers"] = [_driver_words(x, lang) for x in shown.likely_drivers]
        shown["slice"] = [
            slice_label(d, v, lang) for d, v in zip(shown.dimension, shown.slice, strict=True)
        ]
        shown["dimension"] = [t(f"sat_dim_{d}", lang) for d in shown.dimension]
        shown["test"] = [t(f"sat_test_{m}", lang) for m in shown.metric]
        shown["metric"] = [t(f"sat_{m}", lang) for m in shown.metric]
        body = html_table(
            shown, {c: t(f"sat_col_{c}", lang) for c in ALERT_COLUMNS}, max_rows=20, lang=lang
        )
    return f"<div class='crmkit-section'>{t('sat_sec_alerts', lang)}</div>" + body


class SatisfactionPage(Page):
    """Scores with intervals, trend, drivers, alerts, SLA, backlog, service quality, breaches."""

    title_key = "page_satisfaction"

    def build(self):  # noqa: ANN201
        w = self.w
        half = chart_box_layout()
        self.cards = w.HTML()
        self.fig_trend, self.fig_drivers, self.fig_sla, self.fig_backlog = (
            w.Box(layout=half) for _ in range(4)
        )
        wide = w.Layout(width=f"{2 * charts.WIDTH + 20}px")
        self.drivers_note = w.HTML()
        self.topics = w.HTML(layout=wide)
        self.topics.add_class("crmkit-detractor-topics")
        self.alerts = w.HTML(layout=wide)
        self.alerts.add_class("crmkit-alerts")
        self.segments = w.HTML(layout=w.Layout(width=f"{charts.WIDTH + 10}px"))
        self.quality = w.HTML(layout=wide)
        self.quality.add_class("crmkit-service-quality")
        self.sec_breaches = w.HTML()
        self.breach_table = w.HTML(layout=wide)
        self.breach_table.add_class("crmkit-breach-list")
        self.breach_export = ExportButtons()
        self.backlog_export = ExportButtons()
        return w.VBox(
            [
                self.cards,
                w.HBox([self.fig_trend, self.segments], layout=chart_row()),
                w.HBox([self.fig_drivers, self.alerts], layout=chart_row()),
                self.drivers_note,
                self.topics,
                w.HBox([self.fig_sla, self.fig_backlog], layout=chart_row()),
                self.backlog_export.widget,
                self.quality,
                self.sec_breaches,
                self.breach_export.widget,
                self.breach_table,
            ]
        )

    def compute(self, f: Filters, lang: str) -> dict:
        return satisfaction_data(self.con, f, lang=lang, role=self.role)

    def update(self, data: dict, f: Filters, lang: str) -> None:
        stamp = f.describe(lang)
        missing = data["unavailable"]
        self.cards.value = score_cards_html(data["cards"], lang, missing)
        self._update_scores(data, missing.get("scores"), stamp, lang)
        self._update_drivers(data, missing.get("drivers"), stamp, lang)
        self._update_complaints(data, missing.get("complaints"), stamp, f, lang)

    def _update_scores(self, data: dict, reasons: dict | None, stamp: str, lang: str) -> None:
        """The NPS trend and the scores by segment, or their "not available" notes."""
        show_chart(
            self.fig_trend,
            lambda: charts.plot_score_trend(data["trend"], lang),
            reasons,
            title=t("fig_score_trend", lang, metric=t("sat_nps", lang)),
            lang=lang,
            meta=stamp,
        )
        if reasons:
            self.segments.value = unavailable_html(reasons, lang, title=t("sat_sec_segments", lang))
            return
        seg = data["segments"].copy()
        seg["nps_shown"] = [_fmt_score("nps", v, lang) for v in seg["value"]]
        seg["csat_shown"] = [_fmt_score("csat", v, lang) for v in seg["csat"]]
        seg["flag"] = [t("sat_small", lang) if s else "" for s in seg["small_sample"]]
        self.segments.value = f"<div class='crmkit-section'>{t('sat_sec_segments', lang)}</div>" + (
            html_table(
                seg.rename(columns={"nps_shown": "nps", "csat_shown": "csat_v"}),
                {
                    "label": t("sat_col_label", lang),
                    "nps": t("sat_col_nps", lang),
                    "n": t("sat_col_n", lang),
                    "csat_v": t("sat_col_csat", lang),
                    "flag": t("sat_col_flag", lang),
                },
                lang=lang,
            )
        )

    def _update_drivers(self, data: dict, reasons: dict | None, stamp: str, lang: str) -> None:
        """Drivers, detractor topics and alerts, or their "not available" notes."""
        show_chart(
            self.fig_drivers,
            lambda: charts.plot_drivers(data["drivers"], lang),
            reasons,
            title=t("fig_drivers", lang),
            lang=lang,
            meta=stamp,
        )
        if reasons:
            self.drivers_note.value = ""
            self.topics.value = unavailable_html(reasons, lang, title=t("sat_sec_topics", lang))
            self.alerts.value = unavailable_html(reasons, lang, title=t("sat_sec_alerts", lang))
            return
        info = data["info"]
        self.drivers_note.value = (
            "<div class='crmkit-sub'>"
            + html.escape(
                t(
                    "sat_sec_drivers_note",
                    lang,
                    method=t("sat_drivers_method", lang),
                    n=fmt_int(info.get("drivers_n", 0)),
                )
            )
            + "</div>"
        )
        self.topics.value = topics_html(data["topics"], lang)

        tested = len(data["alerts"])
        al = data["alerts"]
        al = al[al["alert"]] if len(al) else al
        if al.empty:
            none = t("sat_no_alerts", lang, n=tested)
            alerts_html = f"<div class='crmkit-sub crmkit-no-alerts'>{none}</div>"
        else:
            shown = al.copy()
            for c in ("before", "now", "change"):
                shown[c] = [
                    _fmt_score(m, v, lang) if c != "change" or m != "csat" else f"{v:+.1%}"
                    for m, v in zip(shown.metric, shown[c], strict=True)
                ]
            shown["q_value"] = [f"{q:.2g}" for q in shown.q_value]
            shown["likely_drivers"] = [_driver_words(x, lang) for x in shown.likely_drivers]
            shown["metric"] = [t(f"sat_{m}", lang) for m in shown.metric]
            alerts_html = html_table(
                shown, {c: t(f"sat_col_{c}", lang) for c in ALERT_COLUMNS}, max_rows=20, lang=lang
            )
        self.alerts.value = (
            f"<div class='crmkit-section'>{t('sat_sec_alerts', lang)}</div>" + alerts_html
        )

    def _update_complaints(
        self, data: dict, reasons: dict | None, stamp: str, f: Filters, lang: str
    ) -> None:
        """SLA by channel, backlog, service quality and breaches, or their notes."""
        for box, title, figure in (
            (self.fig_sla, "fig_sla", lambda: charts.plot_sla(data["sla"], lang, by="label")),
            (
                self.fig_backlog,
                "fig_backlog_ageing",
                lambda: charts.plot_backlog_ageing(data["backlog"], lang),
            ),
        ):
            show_chart(box, figure, reasons, title=t(title, lang), lang=lang, meta=stamp)
        for widget in (self.backlog_export.widget, self.breach_export.widget):
            widget.layout.display = "none" if reasons else None
        if reasons:
            self.quality.value = unavailable_html(reasons, lang, title=t("sat_sec_quality", lang))
            self.sec_breaches.value = ""
            self.breach_table.value = unavailable_html(
                reasons, lang, title=t("sat_sec_breaches", lang)
            )
            return
        self.backlog_export.show(*backlog_table_export(data["backlog"], lang), f, lang)
        q = data["quality"].copy()
        q["label"] = q["team"]
        q["attainment"] = [fmt_pct(v, lang) for v in q["value"]]
        q["interval"] = [
            f"[{fmt_pct(a, lang)}, {fmt_pct(b, lang)}]" for a, b in zip(q.lo, q.hi, strict=True)
        ]
        q["reopen_rate"] = [fmt_pct(v, lang) for v in q["reopen_rate"]]
        q["escalation_rate"] = [fmt_pct(v, lang) for v in q["escalation_rate"]]
        # post-ticket CSAT needs the survey answers: without them the column says why
        no_csat = data["unavailable"].get("scores")
        q["post_csat"] = (
            "—"
            if no_csat
            else [
                f"{fmt_pct(v, lang)} (n={n})"
                for v, n in zip(q["post_csat"], q["csat_n"], strict=True)
            ]
        )
        q["flag"] = [t("sat_small", lang) if s else "" for s in q["small_sample"]]
        csat_note = (
            "<div class='crmkit-unavailable crmkit-sub'>"
            f"{html.escape(t('sat_col_post_csat', lang))} — "
            f"{html.escape(reasons_text(no_csat, lang))}</div>"
            if no_csat
            else ""
        )
        self.quality.value = (
            f"<div class='crmkit-section'>{t('sat_sec_quality', lang)}</div>"
            + html_table(
                q,
                {
                    c: t("sat_col_team" if c == "label" else f"sat_col_{c}", lang)
                    for c in QUALITY_COLUMNS
                },
                lang=lang,
            )
            + csat_note
        )

        br = data["breaches"]
        self.sec_breaches.value = (
            f"<div class='crmkit-section'>{t('sat_sec_breaches', lang)} ({fmt_int(len(br))})</div>"
        )
        headers = {c: t(f"sat_col_{c}", lang) for c in BREACH_COLUMNS}
        shown = br.assign(
            waited_minutes=[fmt_int(v) for v in br["waited_minutes"]],
            first_response_at=[
                t("sat_never", lang) if pd.isna(v) else f"{v:%Y-%m-%d %H:%M}"
                for v in br["first_response_at"]
            ],
        )
        self.breach_table.value = html_table(shown, headers, empty=t("no_data", lang), lang=lang)
        self.breach_export.show(*breach_list_export(br, lang), f, lang)


def satisfaction_page(
    con: BaseBackend | None = None, *, lang: str = "zh", role: str | None = None
) -> Page:
    """The satisfaction and complaints page (``dashboards/satisfaction.ipynb``)."""
    return safe_page(SatisfactionPage, con, lang=lang, role=role)


__all__ = [
    "SatisfactionPage",
    "satisfaction_data",
    "satisfaction_page",
    "score_cards_html",
    "slice_label",
]


def overview_alerts(
    con: BaseBackend, f: Filters = Filters(), *, lang: str = "zh", role: str | None = None
) -> pd.DataFrame:
    """The overview page's satisfaction alerts (``text``, ``page``), most urgent first: the
    channel with the worst complaint SLA in scope (when its n is not small), then the
    published significant score drops (whole snapshot, as on this page)."""
    del role  # no personal data in these lines
    as_of = data_as_of(con)
    rows: list[dict[str, str]] = []
    tables = set(con.list_tables())
    if "ticket_sla" in tables:
        sla = complaints.sla_summary(_scoped(con, "ticket_sla", "opened_at", f, as_of), "channel")
        sla = sla[~sla.small_sample]
        if not sla.empty:
            w = sla.iloc[0]  # sorted by breach rate, worst first
            rows.append(
                {
                    "text": t(
                        "sat_ov_sla",
                        lang,
                        channel=channel_label(w.channel, lang),
                        rate=fmt_pct(w.breach_rate),
                        k=fmt_int(w.breached),
                        n=fmt_int(w.n),
                    ),
                    "page": "satisfaction",
                }
            )
    if "satisfaction_alerts" in tables:
        a = con.table("satisfaction_alerts")
        for r in a.filter(a.alert).order_by("q_value").to_pandas().itertuples():
            rows.append(
                {
                    "text": t(
                        "sat_ov_drop",
                        lang,
                        metric=t(f"sat_{r.metric}", lang),
                        slice=t(f"sat_dim_{r.dimension}", lang)
                        if r.dimension == "overall"
                        else f"{t(f'sat_dim_{r.dimension}', lang)} = "
                        f"{slice_label(r.dimension, r.slice, lang)}",
                        before=_fmt_score(r.metric, r.before, lang),
                        now=_fmt_score(r.metric, r.now, lang),
                    ),
                    "page": "satisfaction",
                }
            )
    return pd.DataFrame(rows, columns=["text", "page"])
