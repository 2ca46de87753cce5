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

from crmkit import charts, kpi, periods, returns, sales
from crmkit.db import data_as_of
from crmkit.i18n import fmt_date, fmt_int, fmt_money, fmt_pct, reason_text, t
from crmkit.privacy import mask_text
from crmkit.views.base import (
    PAGES,
    PERIODS,
    Filters,
    Page,
    chart_box_layout,
    chart_row,
    current_role,
    customers_for_role,
    html_table,
    kpi_scope,
    safe_page,
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
            f"<div class='d crmkit-unavailable'>{html.escape(t('kpi_unavailable', lang))}: "
            f"{html.escape(reason_text(row['reason'], lang))}</div>"
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
.crmkit-unavailable{color:#7b8794;font-style:italic}
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
        (key -> value, the numbers on the cards); ``trend`` (:func:`crmkit.kpi.trend` of
        ``TREND_KEYS`` and new customers over the period and the ``trend_periods`` before it);
        ``map`` (the maintenance map frame); ``returns`` (:func:`crmkit.returns.return_alerts`);
        ``return_reasons`` (top reason per flagged product; its texts through
        :func:`crmkit.privacy.mask_text` for the dashboard role); ``pipeline``; ``win_by_source``;
        ``alerts`` (satisfaction / churn hook frames, None while missing); ``lost`` (customers
        lost in the period, most valuable first, PII masked for the dashboard role); ``stuck``
        (open opportunities longest in their stage, masked).
    """
    role = current_role(role)
    as_of = data_as_of(con)
    p = reporting_period(con, f, period)
    scope = kpi_scope(con, f)
    evaluation = kpi.evaluate(con, p, customers=scope, as_of=as_of, lang=lang)
    cards = {
        r.key: (None if r.value is None or pd.isna(r.value) else float(r.value))
        for r in evaluation.itertuples()
    }
    trend = kpi.trend(
        con,
        p,
        periods=trend_periods,
        keys=(*TREND_KEYS, "new_customers"),
        customers=scope,
        as_of=as_of,
        lang=lang,
    )
    if "classification" in con.list_tables():
        grid = maintenance_map(classified_in_scope(con, replace(f, period="all"), as_of), lang)
    else:  # the classification step was skipped (no orders): the map is empty, not an error
        grid = pd.DataFrame(
            columns=["stage", "stage_code", "type", "team", "customers", "strategy"]
        )
    end = min(p.end, periods.data_end(as_of))
    ret = returns.return_alerts(con, p.start, end, customers=scope)
    flagged = ret[ret.flagged]
    reasons = returns.return_reasons(con, flagged.product_id.head(TOP_ALERTS), p.start, end)
    if role == "dashboard":  # return reasons and feedback are customers' own words
        reasons["reason"] = reasons.reason.map(mask_text, na_action="ignore")
    top_reason = (
        reasons[reasons.kind == "reason"]
        .groupby("product_id", as_index=False)
        .first()[["product_id", "reason", "share"]]
        .rename(columns={"reason": "top_reason", "share": "top_reason_share"})
        if not reasons.empty
        else pd.DataFrame(columns=["product_id", "top_reason", "top_reason_share"])
    )
    pipe = sales.pipeline(con, as_of=as_of, customers=scope)
    win_by_source = sales.win_rates(con, p, "source", customers=scope)
    n_customers = evaluation.set_index("key").loc["retention_rate", "n"]
    return {
        "as_of": as_of,
        "period": p,
        "evaluation": evaluation,
        "cards": cards,
        "n": 0 if pd.isna(n_customers) else int(n_customers),
        "trend": trend,
        "map": grid,
        "returns": ret,
        "return_reasons": reasons,
        "top_reason": top_reason,
        "pipeline": pipe,
        "win_by_source": win_by_source,
        "alerts": alert_hooks(con, f, lang, role),
        "lost": _lost_list(con, p, scope, as_of, role),
        "stuck": _stuck_list(con, scope, as_of, role),
    }


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
        if frame is None:
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
    """The lists to act on: customers lost in the period and opportunities stuck longest."""
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
        f"<div class='crmkit-section'>{t('list_lost', lang)}</div>"
        f"<div class='crmkit-sub'>{html.escape(t('list_lost_desc', lang))}</div>"
        "<div class='crmkit-lost-list'>"
        + html_table(
            lost,
            {c: t(f"lst_col_{c}", lang) for c in lost_cols},
            empty=t("no_data", lang),
            lang=lang,
        )
        + f"</div><div class='crmkit-section'>{t('list_stuck', lang)}</div>"
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
    """The page's four charts (also embedded in the report)."""
    return {
        "trend": charts.plot_kpi_trend(data["trend"], lang),
        "map": charts.plot_maintenance_map(data["map"], lang),
        "returns": charts.plot_return_rates(data["returns"], lang),
        "pipeline": charts.plot_pipeline(data["pipeline"], lang),
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
        self.alerts = w.HTML(layout=w.Layout(width=f"{charts.WIDTH + 10}px"))
        self.map_link = w.HTML()
        self.lists = w.HTML()
        self._f = Filters()
        return w.VBox(
            [
                w.HBox([self.period_dd, self.period_text]),
                self.cards,
                w.HBox([self.fig_trend, self.fig_returns], layout=chart_row()),
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
        charts.show_in(self.fig_trend, figs["trend"], meta=stamp)
        charts.show_in(self.fig_map, figs["map"], meta=stamp)
        charts.show_in(self.fig_returns, figs["returns"], meta=stamp)
        charts.show_in(self.fig_pipeline, figs["pipeline"], meta=stamp)
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
]
