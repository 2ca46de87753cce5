"""The overview page — KPIs against targets, trends, maintenance map and alerts (明确目标 / KPI).

The landing page a manager opens first (``dashboards/overview.ipynb``). The KPI period is the
reporting period chosen on the page (default: the last complete quarter of the data) when the
filter bar's period is "all time"; a preset (30 / 90 / 365 days) gives a trailing window with the
month / quarter / year targets. Region, segment and owner-team filters restrict the customers the
KPIs are counted over. ``crmkit report`` renders the same :func:`kpi_overview_data` to HTML, so
a number on this page, in the report and in notebook 05 is one computation.

Alerts from the satisfaction and churn pages come through :data:`ALERT_HOOKS`: the dotted
path of a function ``fn(con, filters, *, lang, role) -> pandas.DataFrame`` with columns
``text`` and ``page`` (a notebook name in ``PAGES``); if a hook cannot be imported the page
says so (``alerts_not_yet``) instead of showing anything.
"""

from __future__ import annotations

import html
import importlib
import logging
import math
from dataclasses import replace

import ibis
import ibis.expr.types as ir
import pandas as pd
from ibis.backends import BaseBackend

from crmkit import charts, kpi, periods, returns, sales, stats
from crmkit.db import data_as_of
from crmkit.i18n import fmt_date, fmt_int, fmt_money, fmt_pct, reason_text, t
from crmkit.privacy import mask_text
from crmkit.views.base import (
    PAGES,
    PERIODS,
    Filters,
    Page,
    Section,
    chart_box_layout,
    chart_row,
    current_role,
    customers_for_role,
    html_table,
    kpi_scope,
    reasons_text,
    root_reason,
    safe_page,
    show_chart,
    skipped_steps,
    unavailable_html,
    unavailable_sections,
)
from crmkit.views.classification import classified_in_scope, maintenance_map

log = logging.getLogger("crmkit.views")

#: The KPI cards in the order shown (crmkit.kpi's own, then those of the analysis modules).
CARD_KEYS = (*kpi.CORE, "nps", "csat", "complaint_sla", "repurchase_rate", "referral_rate", "clv")
#: The page that explains each KPI (a link on its card when that page is registered).
KPI_PAGE = {
    "retention_rate": "classification",
    "customer_churn": "churn",
    "new_customers": "classification",
    "sales_conversion": "classification",
    "lead_conversion": "classification",
    "return_rate": "overview",
    "avg_order_value": "classification",
    "nps": "satisfaction",
    "csat": "satisfaction",
    "complaint_sla": "satisfaction",
    "repurchase_rate": "loyalty",
    "referral_rate": "loyalty",
    "clv": "churn",
}
#: KPIs drawn in the trend chart.
TREND_KEYS = ("retention_rate", "customer_churn", "sales_conversion", "return_rate")
#: Alerts provided by other pages' modules: section -> (dotted path, page, issue).
ALERT_HOOKS: dict[str, tuple[str, str, int]] = {
    "satisfaction": ("crmkit.views.satisfaction:overview_alerts", "satisfaction", 7),
    "churn": ("crmkit.views.churn:overview_alerts", "churn", 8),
}
TREND_PERIODS = kpi.TREND_PERIODS
TOP_ALERTS = 5
LIST_ROWS = 20
#: The page's sections and what each reads (the KPI cards say per card why one is missing).
#: Return rates compare a product with its category, so they need the products too.
OVERVIEW_SECTIONS = {
    "map": Section(("classification",)),
    "returns": Section(tables=("orders", "products")),
    "pipeline": Section(tables=("opportunities",)),
    "lost": Section(tables=("orders",)),
    "sla_alerts": Section(("complaints",)),
    "score_alerts": Section(("satisfaction",)),
    "churn_alerts": Section(("churn",)),
}


def page_link(page: str, text: str) -> str:
    """A link to another dashboard page (same folder), or plain text when it is not there."""
    if page not in PAGES:
        return html.escape(text)
    return (
        f"<a class='crmkit-page-link' href='./{page}.ipynb' data-page='{page}'>"
        f"{html.escape(text)}</a>"
    )


def reporting_period(con: BaseBackend, f: Filters, period: str | None = None) -> periods.Period:
    """The KPI period for these filters (module docstring)."""
    as_of = data_as_of(con)
    w = f.window(as_of)
    if w is not None:
        return w
    return periods.parse_period(period) if period else periods.last_complete_period(as_of)


def period_options(con: BaseBackend) -> list[tuple[str, str]]:
    """Reporting periods offered: the last 8 complete quarters, 6 months and 3 years."""
    as_of = data_as_of(con)
    out = []
    for kind, n in (("quarter", 8), ("month", 6), ("year", 3)):
        last = periods.last_complete_period(as_of, kind)
        out += [(p.label, p.label) for p in reversed(last.previous_n(n - 1))]
    return out


def format_value(value: float | None, unit: str, lang: str) -> str:
    """A KPI value as shown on a card: rates in %, counts whole, money in ¥, scores 1 decimal."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "—"
    if unit == "rate":
        return fmt_pct(value, lang)
    if unit == "money":
        return fmt_money(value, lang)
    if unit == "count":
        return fmt_int(value, lang)
    return f"{value:.1f}"


def kpi_card_html(row: dict, lang: str, *, link: bool = True) -> str:
    """One KPI card: value, target, attainment, n, small-sample flag, definition on hover;
    ``data-key`` / ``data-value`` carry the exact number for tests and the report."""
    key, unit = row["key"], row["unit"]
    value = row["value"]
    if value is not None and isinstance(value, float) and math.isnan(value):
        value = None
    raw = "" if value is None else repr(float(value))
    title = f"{t('definition', lang)}: {row[f'definition_{lang}']}"
    lines = []
    if not row["available"]:
        lines.append(
            f"<div class='d crmkit-unavailable'>"
            f"{html.escape(reasons_text({key: row['reason']}, lang))}</div>"
        )
    else:
        target = row.get("target")
        if target is not None and not pd.isna(target):
            att = row.get("attainment")
            att = None if att is None or pd.isna(att) else att
            met = row.get("met")
            mark = "✓" if met else "✗" if met is not None else ""
            lines.append(
                f"<div class='d'>{t('kpi_target', lang)} {format_value(target, unit, lang)}"
                f" · {t('kpi_attainment', lang)} "
                f"{fmt_pct(att, lang)} {mark}</div>"
            )
        else:
            lines.append(f"<div class='d crmkit-no-target'>{t('kpi_no_target', lang)}</div>")
        if row.get("lo") is not None and not pd.isna(row.get("lo")):
            lines.append(
                f"<div class='d'>95%: {format_value(row['lo'], unit, lang)} – "
                f"{format_value(row['hi'], unit, lang)}</div>"
            )
        lines.append(f"<div class='d'>n = {fmt_int(row['n'], lang)}</div>")
        if row.get("small_sample"):
            lines.append(f"<div class='crmkit-small'>{t('small_sample', lang)}</div>")
        if row.get("change") is not None and not pd.isna(row.get("change")):
            # the arrow says which way the number moved, the colour whether that is better
            ch = row["change"]
            arrow = "▲" if ch > 0 else "▼" if ch < 0 else "＝"
            shown = (
                f"{ch * 100:+.1f} pp"
                if unit == "rate"
                else f"{'+' if ch >= 0 else '-'}{format_value(abs(ch), unit, lang)}"
            )
            lines.append(
                f"<div class='d crmkit-change-{row['direction']}'>{arrow} {shown} "
                f"{t('kpi_vs', lang)} {html.escape(str(row['previous_period']))}</div>"
            )
    label = html.escape(row["name"])
    page = KPI_PAGE.get(key)
    if link and page and page in PAGES and page != "overview":
        label = page_link(page, row["name"])
    return (
        f"<div class='crmkit-card crmkit-kpi' data-key='{key}' data-value='{raw}' "
        f"data-available='{str(bool(row['available'])).lower()}' title='{html.escape(title)}'>"
        f"<div class='l'>{label}</div><div class='v'>{format_value(value, unit, lang)}</div>"
        f"{''.join(lines)}</div>"
    )


KPI_CSS = """
<style>
.crmkit-kpi{width:170px}
.crmkit-kpi .l a{color:inherit}
.crmkit-kpi .d{line-height:1.5}
.crmkit-change-better{color:#2f7d43}
.crmkit-change-worse{color:#c2464b}
</style>
"""


def kpi_cards_html(evaluation: pd.DataFrame, lang: str, *, link: bool = True) -> str:
    """The KPI cards in ``CARD_KEYS`` order (the same HTML on the page and in the report)."""
    rows = evaluation.set_index("key", drop=False)
    cards = "".join(
        kpi_card_html(rows.loc[k].to_dict(), lang, link=link) for k in CARD_KEYS if k in rows.index
    )
    return f"{KPI_CSS}<div class='crmkit-cards'>{cards}</div>"


def alert_hooks(
    con: BaseBackend, f: Filters, lang: str, role: str
) -> dict[str, pd.DataFrame | None]:
    """Alerts from the satisfaction and churn pages (``ALERT_HOOKS``); None while missing."""
    out: dict[str, pd.DataFrame | None] = {}
    for name, (path, _page, _issue) in ALERT_HOOKS.items():
        module, _, fn_name = path.partition(":")
        try:
            fn = getattr(importlib.import_module(module), fn_name)
        except (ModuleNotFoundError, AttributeError):
            out[name] = None
            continue
        out[name] = fn(con, f, lang=lang, role=role)
    return out


def kpi_overview_data(
    con: BaseBackend,
    f: Filters = Filters(),
    *,
    lang: str = "zh",
    role: str | None = None,
    period: str | None = None,
    trend_periods: int = TREND_PERIODS,
) -> dict[str, object]:
    """Everything the overview page (and ``crmkit report``) shows, for these filters.

    Returns
    -------
    dict
        ``as_of``; ``period`` (:class:`crmkit.periods.Period`); ``evaluation`` (one row per KPI:
        value, n, interval, small_sample, target, attainment, gap, met, previous, change,
        direction, forecast, available, reason — :func:`crmkit.kpi.evaluate`); ``cards``
        (key -> value, the numbers on the cards); ``trend`` (:func:`crmkit.kpi.trend` of the
        ``TREND_KEYS`` available in the period and new customers over the period and the
        ``trend_periods`` before it) and ``trend_not_drawn`` (key → reason code of the others);
        ``map`` (the maintenance map frame); ``returns`` (:func:`crmkit.returns.return_alerts`),
        ``return_reasons`` and ``top_reason`` (top reason per flagged product; the reasons'
        texts through :func:`crmkit.privacy.mask_text` for the dashboard role); ``pipeline``,
        ``win_by_source`` and ``stuck`` (open opportunities longest in their stage, masked);
        ``lost`` (customers lost in the period, most valuable first, PII masked for the
        dashboard role); ``alerts`` (satisfaction / churn hook frames, None while missing);
        ``unavailable`` (section → {step or table: reason code}: the sections of
        :data:`OVERVIEW_SECTIONS` that cannot be shown, ``trend`` when no trend KPI is available,
        ``returns`` also when the orders' status was not in the data,
        ``satisfaction_alerts`` when neither complaints nor satisfaction ran). A section that
        is not available has none of its keys.
    """
    role = current_role(role)
    as_of = data_as_of(con)
    p = reporting_period(con, f, period)
    scope = kpi_scope(con, f)
    missing = unavailable_sections(con, OVERVIEW_SECTIONS)
    evaluation = kpi.evaluate(con, p, customers=scope, as_of=as_of, lang=lang)
    # a KPI reading a table an earlier publish step did not write says why that step was
    # skipped (CLV: too few repeat buyers), not that the table is missing
    skipped = skipped_steps(con)
    evaluation["reason"] = [root_reason(r or "", skipped) for r in evaluation.reason]
    cards = {
        r.key: (None if r.value is None or pd.isna(r.value) else float(r.value))
        for r in evaluation.itertuples()
    }
    ev = evaluation.set_index("key")
    # a KPI not available in the period (no table, no status in the data …) is not drawn as a
    # line of gaps: the chart says which and why
    not_drawn = {k: ev.loc[k, "reason"] for k in TREND_KEYS if not ev.loc[k, "available"]}
    if len(not_drawn) == len(TREND_KEYS):
        missing["trend"] = not_drawn
    trend = kpi.trend(
        con,
        p,
        periods=trend_periods,
        keys=(*(k for k in TREND_KEYS if k not in not_drawn), "new_customers"),
        customers=scope,
        as_of=as_of,
        lang=lang,
    )
    out: dict[str, object] = {
        "as_of": as_of,
        "period": p,
        "unavailable": missing,
        "evaluation": evaluation,
        "cards": cards,
        "n": 0 if pd.isna(ev.loc["retention_rate", "n"]) else int(ev.loc["retention_rate", "n"]),
        "trend": trend,
        "trend_not_drawn": not_drawn,
    }
    if "map" not in missing:
        out["map"] = maintenance_map(
            classified_in_scope(con, replace(f, period="all"), as_of), lang
        )
    end = min(p.end, periods.data_end(as_of))
    if "returns" not in missing:
        try:
            out |= _returns(con, p.start, end, scope, role)
        except stats.NotEnoughData as e:  # the orders' status was not in the data
            missing["returns"] = {"orders": e.reason}
    if "pipeline" not in missing:
        out |= {
            "pipeline": sales.pipeline(con, as_of=as_of, customers=scope),
            "win_by_source": sales.win_rates(con, p, "source", customers=scope),
            "stuck": _stuck_list(con, scope, as_of, role),
        }
    if "lost" not in missing:
        out["lost"] = _lost_list(con, p, scope, as_of, role)
    if "sla_alerts" in missing and "score_alerts" in missing:
        missing["satisfaction_alerts"] = missing["sla_alerts"] | missing["score_alerts"]
    return out | {"alerts": alert_hooks(con, f, lang, role)}


def _returns(con: BaseBackend, start, end, scope, role: str) -> dict[str, pd.DataFrame]:  # noqa: ANN001
    """Return-rate alerts of the period with the top reasons of the flagged products (their texts
    masked for the dashboard role: return reasons are customers' own words)."""
    ret = returns.return_alerts(con, start, end, customers=scope)
    flagged = ret[ret.flagged]
    reasons = returns.return_reasons(con, flagged.product_id.head(TOP_ALERTS), start, end)
    if role == "dashboard":
        reasons["reason"] = reasons.reason.map(mask_text, na_action="ignore")
    top_reason = (
        reasons[reasons.kind == "reason"]
        .groupby("product_id", as_index=False)
        .first()[["product_id", "reason", "share"]]
        .rename(columns={"reason": "top_reason", "share": "top_reason_share"})
        if not reasons.empty
        else pd.DataFrame(columns=["product_id", "top_reason", "top_reason_share"])
    )
    return {"returns": ret, "return_reasons": reasons, "top_reason": top_reason}


def _masked_people(con: BaseBackend, role: str) -> ir.Table:
    return customers_for_role(con, role, columns=("customer_id", "province", "owner_team", "owner"))


def _lost_list(con, p, scope, as_of, role) -> pd.DataFrame:  # noqa: ANN001
    lost = kpi.lost_customers(con, p, customers=scope, as_of=as_of).limit(LIST_ROWS)
    people = _masked_people(con, role)
    j = lost.join(people, "customer_id", how="left")
    return (
        j.select(
            "customer_id",
            "name",
            "phone",
            "province",
            "owner_team",
            "owner",
            "last_order_ts",
            "monetary",
        )
        .order_by([ibis.desc("monetary"), "customer_id"])
        .to_pandas()
    )


def _stuck_list(con, scope, as_of, role) -> pd.DataFrame:  # noqa: ANN001
    o = con.table("opportunities")
    if scope is not None:
        o = o.semi_join(scope.select("customer_id"), "customer_id")
    o = o.filter(o.stage.isin(list(sales.OPEN_STAGES)), o.opened_at <= as_of)
    days = (
        ibis.literal(as_of, type="timestamp").epoch_seconds() - o.stage_changed_at.epoch_seconds()
    ) / 86400
    o = o.mutate(days_in_stage=days.round(0).cast("int64"))
    o = o.order_by([ibis.desc("days_in_stage"), "opportunity_id"]).limit(LIST_ROWS)
    people = _masked_people(con, role).select("customer_id", "name")
    j = o.join(people, "customer_id", how="left")
    return (
        j.select(
            "opportunity_id",
            "customer_id",
            "name",
            "stage",
            amount=j.amount.cast("float64"),
            owner=j.owner,
            days_in_stage=j.days_in_stage,
        )
        .order_by([ibis.desc("days_in_stage"), "opportunity_id"])
        .to_pandas()
    )


#: The page's charts: name → (section, title key).
FIGURES = {
    "trend": ("trend", "fig_kpi_trend"),
    "map": ("map", "fig_maintenance_map"),
    "returns": ("returns", "fig_return_rates"),
    "pipeline": ("pipeline", "fig_pipeline"),
}


def trend_note_html(data: dict, lang: str) -> str:
    """Under the trend chart: the trend KPIs not drawn and why (empty when all are drawn)."""
    if not data["trend_not_drawn"] or "trend" in data["unavailable"]:
        return ""
    names = data["evaluation"].set_index("key").name
    colon, sep = ("：", "；") if lang == "zh" else (": ", "; ")
    items = sep.join(
        f"{names[k]} — {reason_text(r, lang)}" for k, r in data["trend_not_drawn"].items()
    )
    return (
        f"<div class='crmkit-unavailable crmkit-sub crmkit-trend-not-drawn'>"
        f"{html.escape(t('na_not_drawn', lang) + colon + items)}</div>"
    )


def returns_table(data: dict, lang: str, rows: int = TOP_ALERTS) -> pd.DataFrame:
    """The flagged products for the alert list: product, category, rate vs category, q, top
    reason (labels already formatted)."""
    r = data["returns"]
    r = r[r.flagged].head(rows).merge(data["top_reason"], on="product_id", how="left")
    return pd.DataFrame(
        {
            "product_id": r.product_id,
            "name": r["name"],
            "category": r.category,
            "orders": r.orders.astype("int64"),
            "rate": [fmt_pct(v, lang) for v in r.rate],
            "category_rate": [fmt_pct(v, lang) for v in r.category_rate],
            "q": [f"{v:.1e}" if v >= 1e-4 else "< 0.0001" for v in r.q],
            "top_reason": r.top_reason.fillna("—"),
        }
    )


def alerts_html(data: dict, lang: str, *, link: bool = True) -> str:
    """The alerts section: return-rate alerts, then the satisfaction / churn hooks (linking to
    their pages unless ``link`` is False, as in the report)."""
    ref = page_link if link else (lambda _page, text: html.escape(text))
    cols = ["product_id", "name", "category", "orders", "rate", "category_rate", "q", "top_reason"]
    missing = data["unavailable"]
    if "returns" in missing:
        parts = [unavailable_html(missing["returns"], lang, title=t("ret_alerts", lang))]
    else:
        parts = [
            f"<div class='crmkit-section'>{t('ret_alerts', lang)}</div>",
            f"<div class='crmkit-sub'>{html.escape(t('ret_method', lang))}</div>",
            "<div class='crmkit-return-alerts'>"
            + html_table(
                returns_table(data, lang),
                {c: t(f"ret_col_{c}", lang) for c in cols},
                empty=t("ret_none", lang),
                lang=lang,
            )
            + "</div>",
        ]
    for name, frame in data["alerts"].items():
        _path, page, issue = ALERT_HOOKS[name]
        title = ref(page, t(f"alerts_{name}", lang))
        reasons = missing.get(f"{name}_alerts")
        if reasons:
            body = (
                f"<div class='crmkit-unavailable crmkit-na' data-hook='{name}'>"
                f"{html.escape(reasons_text(reasons, lang))}</div>"
            )
        elif frame is None:
            body = (
                f"<div class='crmkit-sub crmkit-alerts-pending' data-hook='{name}'>"
                f"{html.escape(t('alerts_not_yet', lang, issue=issue))}</div>"
            )
        elif frame.empty:
            body = f"<div class='crmkit-sub'>{html.escape(t('alerts_none', lang))}</div>"
        else:
            items = "".join(
                f"<li>{ref(str(r.page), str(r.text))}</li>"
                for r in frame.head(TOP_ALERTS).itertuples()
            )
            body = f"<ul data-hook='{name}'>{items}</ul>"
        parts.append(f"<div class='crmkit-section'>{title}</div>{body}")
    return "".join(parts)


def period_line(data: dict, lang: str) -> str:
    p = data["period"]
    end = min(p.end, periods.data_end(data["as_of"]))
    last_day = (end - pd.Timedelta(days=1)).date()
    ev = data["evaluation"]
    elapsed = float(ev.elapsed.iloc[0]) if len(ev) else 1.0
    note = "" if elapsed >= 1 else " · " + t("kpi_partial", lang, share=fmt_pct(elapsed, lang))
    return (
        f"{t('kpi_period', lang)}: {p.label} ({fmt_date(p.start.date(), lang)} – "
        f"{fmt_date(last_day, lang)}){note} · {t('kpi_prev', lang)}: {p.previous().label}"
    )


def lists_html(data: dict, lang: str) -> str:
    """The lists to act on: customers lost in the period and opportunities stuck longest (each
    a "not available" note when its table is empty)."""
    return _lost_html(data, lang) + _stuck_html(data, lang)


def _lost_html(data: dict, lang: str) -> str:
    reasons = data["unavailable"].get("lost")
    if reasons:
        return unavailable_html(reasons, lang, title=t("list_lost", lang))
    lost = data["lost"].copy()
    lost["monetary"] = [fmt_money(v, lang) for v in lost.monetary]
    lost["owner_team"] = [
        t(f"team_{v}", lang) if isinstance(v, str) else "—" for v in lost.owner_team
    ]
    lost_cols = [
        "customer_id",
        "name",
        "phone",
        "province",
        "owner_team",
        "owner",
        "last_order_ts",
        "monetary",
    ]
    return (
        f"<div class='crmkit-section'>{t('list_lost', lang)}</div>"
        f"<div class='crmkit-sub'>{html.escape(t('list_lost_desc', lang))}</div>"
        "<div class='crmkit-lost-list'>"
        + html_table(
            lost,
            {c: t(f"lst_col_{c}", lang) for c in lost_cols},
            empty=t("no_data", lang),
            lang=lang,
        )
        + "</div>"
    )


def _stuck_html(data: dict, lang: str) -> str:
    reasons = data["unavailable"].get("pipeline")
    if reasons:
        return unavailable_html(reasons, lang, title=t("list_stuck", lang))
    stuck = data["stuck"].copy()
    stuck["amount"] = [fmt_money(v, lang) for v in stuck.amount]
    stuck["stage"] = [t(f"stage_{s}", lang) for s in stuck.stage]
    stuck_cols = [
        "opportunity_id",
        "customer_id",
        "name",
        "stage",
        "amount",
        "owner",
        "days_in_stage",
    ]
    return (
        f"<div class='crmkit-section'>{t('list_stuck', lang)}</div>"
        "<div class='crmkit-stuck-list'>"
        + html_table(
            stuck,
            {c: t(f"lst_col_{c}", lang) for c in stuck_cols},
            empty=t("no_data", lang),
            lang=lang,
        )
        + "</div>"
    )


def figures(data: dict, lang: str) -> dict[str, object]:
    """The page's charts (also embedded in the report) whose section is available
    (:data:`FIGURES`; :func:`unavailable_figures` gives the notes of the others)."""
    draw = {
        "trend": lambda: charts.plot_kpi_trend(data["trend"], lang),
        "map": lambda: charts.plot_maintenance_map(data["map"], lang),
        "returns": lambda: charts.plot_return_rates(data["returns"], lang),
        "pipeline": lambda: charts.plot_pipeline(data["pipeline"], lang),
    }
    missing = data["unavailable"]
    return {name: fn() for name, fn in draw.items() if FIGURES[name][0] not in missing}


def unavailable_figures(data: dict, lang: str) -> dict[str, str]:
    """The "not available" notes (HTML, under each chart's title) of the charts that
    :func:`figures` leaves out."""
    missing = data["unavailable"]
    return {
        name: unavailable_html(missing[section], lang, title=t(title, lang))
        for name, (section, title) in FIGURES.items()
        if section in missing
    }


class OverviewPage(Page):
    """The landing page — KPI cards against targets, trends, maintenance map, alerts."""

    title_key = "page_overview"

    def build(self):  # noqa: ANN201
        w = self.w
        half = chart_box_layout()
        self.period = None
        self.period_dd = w.Dropdown(
            options=period_options(self.con), layout=w.Layout(width="260px")
        )
        self.period_dd.add_class("crmkit-kpi-period")
        self.period_dd.value = periods.last_complete_period(data_as_of(self.con)).label
        self.period_dd.observe(self._period_changed, names="value")
        self.period_text = w.HTML()
        self.cards = w.HTML()
        self.fig_trend, self.fig_map, self.fig_returns, self.fig_pipeline = (
            w.Box(layout=half) for _ in range(4)
        )
        self.trend_note = w.HTML(layout=w.Layout(width=f"{charts.WIDTH + 10}px"))
        self.alerts = w.HTML(layout=w.Layout(width=f"{charts.WIDTH + 10}px"))
        self.map_link = w.HTML()
        self.lists = w.HTML()
        self._f = Filters()
        return w.VBox(
            [
                w.HBox([self.period_dd, self.period_text]),
                self.cards,
                w.HBox(
                    [w.VBox([self.fig_trend, self.trend_note]), self.fig_returns],
                    layout=chart_row(),
                ),
                w.HBox([w.VBox([self.fig_map, self.map_link]), self.alerts], layout=chart_row()),
                w.HBox([self.fig_pipeline], layout=chart_row()),
                self.lists,
            ]
        )

    def compute(self, f: Filters, lang: str) -> dict:
        self._f = f
        return kpi_overview_data(self.con, f, lang=lang, role=self.role, period=self.period)

    def _period_changed(self, change: dict) -> None:
        if change["new"] and change["new"] != self.period:
            self.period = change["new"]
            self.refresh(self._f, self.lang)

    def update(self, data: dict, f: Filters, lang: str) -> None:
        stamp = f.describe(lang)
        self.period_dd.description = t("kpi_period", lang)
        self.period_dd.disabled = PERIODS[f.period] is not None
        self.period_text.value = (
            f"<div class='crmkit-sub'>{html.escape(period_line(data, lang))}</div>"
        )
        self.cards.value = kpi_cards_html(data["evaluation"], lang)
        figs = figures(data, lang)
        boxes = {
            "trend": self.fig_trend,
            "map": self.fig_map,
            "returns": self.fig_returns,
            "pipeline": self.fig_pipeline,
        }
        for name, box in boxes.items():
            section, title = FIGURES[name]
            show_chart(
                box,
                lambda name=name: figs[name],
                data["unavailable"].get(section),
                title=t(title, lang),
                lang=lang,
                meta=stamp,
            )
        self.trend_note.value = trend_note_html(data, lang)
        self.map_link.value = (
            f"<div class='crmkit-sub'>{page_link('classification', t('map_more', lang))}</div>"
        )
        self.alerts.value = alerts_html(data, lang)
        self.lists.value = lists_html(data, lang)


def kpi_overview(
    con: BaseBackend | None = None, *, lang: str = "zh", role: str | None = None
) -> Page:
    """The landing overview page (``dashboards/overview.ipynb``)."""
    return safe_page(OverviewPage, con, lang=lang, role=role)


__all__ = [
    "ALERT_HOOKS",
    "CARD_KEYS",
    "FIGURES",
    "OverviewPage",
    "alert_hooks",
    "alerts_html",
    "figures",
    "kpi_card_html",
    "kpi_cards_html",
    "kpi_overview_data",
    "lists_html",
    "kpi_overview",
    "period_line",
    "period_options",
    "reporting_period",
    "returns_table",
    "trend_note_html",
    "unavailable_figures",
]
