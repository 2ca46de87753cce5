"""Page — churn early warning, retention, CLV and win-back (steps 7–8: 客户忠诚度, 流失预警, 挽回).

Reads only what ``crmkit.churn`` / ``crmkit.loyalty`` precomputed at publish time
(``churn_warning_list``, ``clv``, ``churn_backtest``, ``churn_lift``, ``cohort_retention``,
``winback_attempts``) plus cheap aggregates over the customers in scope; no model is fitted or
scored when the page opens (``pymc_marketing`` is never imported here).
"""

from __future__ import annotations

import html
import logging

import ibis
import pandas as pd
from ibis.backends import BaseBackend

from crmkit import (
    charts,
    classification,
    cubes,
    definitions,
    kpi,
    loyalty,
    periods,
    stats,
    winback,
)
from crmkit.db import data_as_of
from crmkit.i18n import fmt_date, fmt_int, fmt_money, fmt_pct, t
from crmkit.views.base import (
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
    kpi_scope,
    safe_page,
    segment_label,
    show_chart,
    show_unavailable,
    unavailable_html,
    unavailable_sections,
)

log = logging.getLogger("crmkit.views")

RISK_COLUMNS = (
    "rank",
    "customer_id",
    "name",
    "phone",
    "province",
    "risk",
    "value",
    "expected_loss",
    "reasons",
    "action",
    "owner_team",
    "owner",
    "segment",
    "value_tier",
)
#: The page's sections and what each reads: the quarterly churn rate needs only orders; the
#: cohorts, CLV, churn model and win-back need their publish steps.
CHURN_SECTIONS = {
    "trend": Section(tables=("orders",)),
    "cohorts": Section(("loyalty",)),
    "clv": Section(("classification", "clv")),
    "model": Section(("churn",)),
    "winback": Section(("winback",)),
}
#: The publish steps the churn model's sections read.
CHURN_STEPS = CHURN_SECTIONS["model"].steps
#: The section of each card (``customer_churn`` also when that KPI is not available).
CHURN_CARDS = {
    "buyer_churn_91d": "trend",
    "customer_churn": "customer_churn",
    "at_risk": "model",
    "revenue_at_risk": "model",
    "clv_mean": "clv",
    "winback_rate": "winback",
}
#: Risk at or above which a customer counts as "at risk" on the cards.
AT_RISK = 0.5
TREND_QUARTERS = 8


def _lang_col(col: str, lang: str) -> str:
    return f"{col}_{'zh' if lang == 'zh' else 'en'}"


def _tier_label(code: str | None, lang: str) -> str:
    if code is None or (isinstance(code, float) and pd.isna(code)):
        return t("seg_potential", lang)
    zh, en = classification.VALUE_TIERS.get(code, (code, code))
    return zh if lang == "zh" else en


def risk_list(
    con: BaseBackend,
    f: Filters = Filters(),
    *,
    owner: str | None = None,
    lang: str = "zh",
    role: str | None = None,
    limit: int = MAX_EXPORT_ROWS,
) -> pd.DataFrame:
    """The published warning list for the customers in scope (and one owner), PII masked for
    the dashboard role, in rank order, with reasons / action / team in ``lang``."""
    role = current_role(role)
    wl = con.table("churn_warning_list").semi_join(customers_in_scope(con, f), "customer_id")
    if owner:
        wl = wl.filter(wl.owner == owner)
    people = customers_for_role(con, role).rename(_cid="customer_id")
    wl = wl.join(people, wl.customer_id == people._cid).drop("_cid")
    df = (
        wl.select(
            "rank",
            "customer_id",
            "name",
            "phone",
            "province",
            "risk",
            "value",
            "expected_loss",
            reasons=wl[_lang_col("reasons", lang)],
            action=wl[_lang_col("action", lang)],
            owner_team=wl[_lang_col("owner_team", lang)],
            owner=wl.owner,
            segment=wl.rfm_class,
            value_tier=wl.value_tier,
            reason_codes=wl.reasons,
        )
        .order_by("rank")
        .limit(limit)
        .to_pandas()
    )
    df["segment"] = [segment_label(s, lang) if isinstance(s, str) else "—" for s in df.segment]
    df["value_tier"] = [_tier_label(v, lang) for v in df.value_tier]
    return df


def risk_list_export(risk: pd.DataFrame, owner: str | None, lang: str) -> tuple[pd.DataFrame, str]:
    """The warning list (:func:`risk_list`) as its export buttons hand it over: the
    :data:`RISK_COLUMNS` with headers in ``lang``, and the export's name,
    ``churn_warning_<owner>`` (``churn_warning_all`` for every owner)."""
    headers = {c: t(f"col_{c}", lang) for c in RISK_COLUMNS}
    return risk[list(RISK_COLUMNS)].rename(columns=headers), f"churn_warning_{owner or 'all'}"


def churn_data(
    con: BaseBackend,
    f: Filters = Filters(),
    *,
    lang: str = "zh",
    role: str | None = None,
    owner: str | None = None,
) -> dict[str, object]:
    """Everything the churn page shows, for these filters (and optionally one owner's list).

    Returns
    -------
    dict
        ``as_of``, ``unavailable`` (section of :data:`CHURN_SECTIONS` → {step or table: reason code}
        for the sections that cannot be shown: the churn model is skipped on a short history while
        the churn rate, cohorts and CLV still show; ``customer_churn`` when that KPI is not
        available), ``cards`` (quarterly buyer churn ``buyer_churn_91d``, customer churn
        ``customer_churn`` of the last complete quarter — the overview's KPI —, customers at risk,
        revenue at risk, mean CLV, win-back rate — each with its definition; :data:`CHURN_CARDS`
        names each card's section). The ``trend`` section: ``churn_rate`` (the buyer-churn
        :class:`crmkit.stats.Metric` of the last 91 days), ``customer_churn`` (the KPI value),
        ``trend`` (8 quarters). ``cohorts`` (published monthly cohorts, all customers). The ``clv``
        section: ``palive`` (P(alive) histogram per value tier: tier_label, bin, customers),
        ``clv_tiers`` (CLV quartiles per tier). The ``model`` section: ``n`` (active customers
        scored in scope), ``backtest`` (one row), ``lift``, ``risk`` (the list), ``owners`` (owners
        with customers on the list in scope), ``churn_reasons``. The ``winback`` section:
        ``winback_reason`` / ``winback_segment``. A section that is not available has none of its
        keys.
    """
    role = current_role(role)
    as_of = data_as_of(con)
    missing = unavailable_sections(con, CHURN_SECTIONS)
    scope = customers_in_scope(con, f)
    out: dict[str, object] = {"as_of": as_of, "unavailable": missing, "owner": owner, "n": None}
    cards: dict[str, tuple] = {
        "buyer_churn_91d": (
            None,
            definitions.MEASURES["buyer_churn_91d"].name(lang),
            "",
        ),
        "customer_churn": (None, definitions.MEASURES["customer_churn"].name(lang), ""),
        "at_risk": (None, t("at_risk_customers", lang), ""),
        "revenue_at_risk": (None, t("revenue_at_risk", lang), ""),
        "clv_mean": (None, t("clv_mean", lang), ""),
        "winback_rate": (None, t("winback_rate", lang), ""),
    }

    if "trend" not in missing:
        qs = periods.rolling_quarters(as_of, TREND_QUARTERS)
        # counted once per filter group at publish time (crmkit.cubes); live over the orders
        # when the snapshot predates that
        rates = cubes.churn_rates(con, f, as_of) or [
            definitions.buyer_churn(con.table("orders"), start=q.start, end=q.end, customers=scope)
            for q in qs
        ]
        rate = rates[-1]
        trend = pd.DataFrame(
            [{"period_end": q.end, **m.as_dict()} for q, m in zip(qs, rates, strict=True)]
        ).rename(columns={"value": "churn_rate"})
        customer_churn = kpi.compute_all(
            con,
            periods.last_complete_period(as_of),
            keys=["customer_churn"],
            customers=kpi_scope(con, f),
            as_of=as_of,
            lang=lang,
        )[0]
        if not customer_churn.available:
            missing["customer_churn"] = {"kpi": customer_churn.reason}
        cards["buyer_churn_91d"] = (
            rate.value,
            definitions.MEASURES[rate.key].name(lang),
            t(
                "def_buyer_churn_91d",
                lang,
                k=fmt_int(rate.numerator),
                n=fmt_int(rate.n),
                lo=fmt_pct(rate.lo),
                hi=fmt_pct(rate.hi),
            ),
        )
        cards["customer_churn"] = (
            customer_churn.value,
            customer_churn.name,
            f"{customer_churn.period}：{customer_churn.definition['zh']}"
            if lang == "zh"
            else f"{customer_churn.period}: {customer_churn.definition['en']}",
        )
        out |= {"churn_rate": rate, "customer_churn": customer_churn, "trend": trend}
    else:
        missing["customer_churn"] = missing["trend"]

    if "cohorts" not in missing:
        out["cohorts"] = con.table("cohort_retention").to_pandas()

    if "clv" not in missing:
        clv = con.table("clv").semi_join(scope, "customer_id")
        cls = con.table("classification").select("customer_id", "value_tier")
        clv = clv.left_join(cls, "customer_id").drop("customer_id_right")
        clv_mean = loyalty.clv_mean(clv)
        palive = (
            clv.group_by(
                tier=clv.value_tier, bin=(clv.p_alive * 20).floor().clip(upper=19).cast("int64")
            )
            .aggregate(customers=ibis._.count())
            .to_pandas()
        )
        palive["tier_label"] = [_tier_label(v, lang) for v in palive.tier]
        clv_tiers = (
            clv.group_by(tier=clv.value_tier)
            .aggregate(
                n=ibis._.count(),
                lo=clv.clv.quantile(0.05),
                q1=clv.clv.quantile(0.25),
                median=clv.clv.quantile(0.5),
                q3=clv.clv.quantile(0.75),
                hi=clv.clv.quantile(0.95),
                mean=clv.clv.mean(),
            )
            .to_pandas()
        )
        order = {"gold": 0, "silver": 1, "bronze": 2}
        clv_tiers = clv_tiers.sort_values("tier", key=lambda s: s.map(order).fillna(9))
        clv_tiers["tier_label"] = [_tier_label(v, lang) for v in clv_tiers.tier]
        cards["clv_mean"] = (
            clv_mean.value,
            t("clv_mean", lang),
            t("def_clv_mean", lang, n=fmt_int(clv_mean.n)),
        )
        out |= {"palive": palive, "clv_tiers": clv_tiers}

    if "model" not in missing:
        scores = con.table("churn_scores").semi_join(scope, "customer_id")
        tot = (
            scores.aggregate(
                n=scores.count(),
                at_risk=(scores.risk >= AT_RISK).cast("int64").sum(),
                loss=scores.expected_loss.sum(),
            )
            .to_pandas()
            .iloc[0]
        )
        n = int(tot.n)
        backtest = con.table("churn_backtest").to_pandas()
        wl = con.table("churn_warning_list").semi_join(scope, "customer_id")
        reasons = con.table("churn_reasons").to_pandas()
        reasons["label"] = [t(f"signal_{c}", lang) for c in reasons.signal]
        horizon = int(backtest.horizon_days.iloc[0]) if len(backtest) else None
        cards["at_risk"] = (
            int(tot.at_risk or 0),
            t("at_risk_customers", lang),
            t("def_at_risk", lang, n=fmt_int(n), horizon=horizon),
        )
        cards["revenue_at_risk"] = (
            float(tot.loss or 0),
            t("revenue_at_risk", lang),
            t("def_revenue_at_risk", lang),
        )
        out |= {
            "n": n,
            "backtest": backtest,
            "lift": con.table("churn_lift").to_pandas(),
            "risk": risk_list(con, f, owner=owner, lang=lang, role=role),
            "owners": sorted(wl.select("owner").distinct().to_pandas().owner.dropna().tolist()),
            "churn_reasons": reasons,
        }

    if "winback" not in missing:
        att = con.table("winback_attempts").semi_join(scope, "customer_id").to_pandas()
        wb_reason = winback.winback(att, "reason") if len(att) else pd.DataFrame()
        wb_segment = winback.winback(att, "rfm_class") if len(att) else pd.DataFrame()
        if len(wb_reason):
            wb_reason["label"] = [t(f"signal_{r}", lang) for r in wb_reason.reason]
            wb_segment["label"] = [segment_label(s, lang) for s in wb_segment.rfm_class]
        wb_total = stats.Metric.rate("winback_rate", int(att.returned.sum()), len(att))
        cards["winback_rate"] = (
            wb_total.value,
            t("winback_rate", lang),
            t(
                "def_winback_rate",
                lang,
                k=fmt_int(wb_total.numerator or 0),
                n=fmt_int(wb_total.n or 0),
            ),
        )
        out |= {"winback_reason": wb_reason, "winback_segment": wb_segment}
    return out | {"cards": cards}


class ChurnPage(Page):
    """Churn early warning: rate and trend, cohorts, P(alive) and CLV, backtest, risk list by
    owner (masked, exportable), win-back."""

    title_key = "page_churn"

    def build(self):  # noqa: ANN201
        w = self.w
        box = chart_box_layout
        self.cards = w.HTML()
        self.fig_trend, self.fig_cohorts, self.fig_palive, self.fig_clv = (
            w.Box(layout=box()) for _ in range(4)
        )
        self.fig_lift, self.fig_risk = w.Box(layout=box()), w.Box(layout=box())
        self.backtest_html = w.HTML(layout=w.Layout(width=f"{charts.WIDTH + 10}px"))
        self.owner = w.Dropdown(layout=w.Layout(width="260px"))
        self.owner.add_class("crmkit-owner-filter")
        self.owner.observe(self._owner_changed, names="value")
        self._owner: str | None = None
        self.sec_risk, self.risk_table = w.HTML(), w.HTML()
        self.risk_table.add_class("crmkit-risk-list")
        self.risk_export = ExportButtons()
        self.winback_html = w.HTML()
        self._f = Filters()
        return w.VBox(
            [
                self.cards,
                w.HBox([self.fig_trend, self.fig_cohorts], layout=chart_row()),
                w.HBox([self.fig_palive, self.fig_clv], layout=chart_row()),
                w.HBox([self.fig_lift, self.backtest_html], layout=chart_row()),
                self.sec_risk,
                w.HBox([self.owner]),
                self.risk_export.widget,
                w.HBox([self.fig_risk], layout=chart_row()),
                self.risk_table,
                self.winback_html,
            ]
        )

    def compute(self, f: Filters, lang: str) -> dict:
        self._f = f
        return churn_data(self.con, f, lang=lang, role=self.role, owner=self._owner)

    def _owner_changed(self, change: dict) -> None:
        new = change["new"] or None
        if new != self._owner:
            self._owner = new
            self.refresh(self._f, self.lang)

    def update(self, data: dict, f: Filters, lang: str) -> None:
        stamp = f.describe(lang) + (
            f"; {t('col_owner', lang)}: {data['owner']}" if data["owner"] else ""
        )
        missing = data["unavailable"]
        self.cards.value = cards_html(
            data,
            {
                "buyer_churn_91d": "pct",
                "customer_churn": "pct",
                "at_risk": "int",
                "revenue_at_risk": "int",
                "clv_mean": "int",
                "winback_rate": "pct",
            },
            lang,
            CHURN_CARDS,
        )
        for box, section, title, figure in (
            (
                self.fig_trend,
                "trend",
                "fig_retention_trend",
                lambda: charts.plot_retention_trend(data["trend"], lang),
            ),
            (
                self.fig_cohorts,
                "cohorts",
                "fig_cohort_retention",
                lambda: charts.plot_cohort_retention(data["cohorts"], lang),
            ),
            (
                self.fig_palive,
                "clv",
                "fig_palive",
                lambda: charts.plot_palive(data["palive"], lang),
            ),
            (
                self.fig_clv,
                "clv",
                "fig_clv_by_tier",
                lambda: charts.plot_clv_by_tier(data["clv_tiers"], lang),
            ),
        ):
            show_chart(
                box, figure, missing.get(section), title=t(title, lang), lang=lang, meta=stamp
            )
        self._update_model(data, missing.get("model"), stamp, f, lang)
        self.winback_html.value = self._why_html(data, missing.get("model"), lang) + (
            self._winback_html(data, missing.get("winback"), lang)
        )

    def _update_model(
        self, data: dict, reasons: dict | None, stamp: str, f: Filters, lang: str
    ) -> None:
        """Lift, backtest and the risk list (owner filter, chart, table, export), or notes."""
        for widget in (self.owner, self.risk_export.widget):
            widget.layout.display = "none" if reasons else None
        if reasons:
            show_unavailable(self.fig_lift, reasons, title=t("fig_lift", lang), lang=lang)
            show_unavailable(self.fig_risk, reasons, title=t("fig_risk_list", lang), lang=lang)
            self.backtest_html.value = unavailable_html(reasons, lang, title=t("backtest", lang))
            self.sec_risk.value = unavailable_html(reasons, lang, title=t("risk_list", lang))
            self.risk_table.value = ""
            return
        charts.show_in(self.fig_lift, charts.plot_lift(data["lift"], lang), meta=stamp)
        bt = data["backtest"]
        if len(bt):
            r = bt.iloc[0]
            self.backtest_html.value = (
                f"<div class='crmkit-section'>{t('backtest', lang)}</div>"
                f"<div class='crmkit-backtest crmkit-sub' data-auc='{r.auc:.4f}'>"
                + html.escape(
                    t(
                        "backtest_text",
                        lang,
                        auc=f"{r.auc:.3f}",
                        k=fmt_pct(r.top_k, lang, 0),
                        precision=fmt_pct(r.precision_at_k, lang),
                        lift=f"{r.lift_at_k:.1f}",
                        base=fmt_pct(r.base_rate, lang),
                        brier=f"{r.brier:.3f}",
                        train=r.train_cutoffs,
                        test=fmt_date(pd.Timestamp(r.test_cutoff).date(), lang),
                        horizon=int(r.horizon_days),
                        n=fmt_int(r.n_test),
                    )
                )
                + "</div>"
            )
        self.owner.unobserve(self._owner_changed, names="value")
        try:
            self.owner.options = [(t("all", lang), "")] + [(o, o) for o in data["owners"]]
            self.owner.value = data["owner"] if data["owner"] in data["owners"] else ""
            self.owner.description = t("col_owner", lang)
        finally:
            self.owner.observe(self._owner_changed, names="value")
        risk = data["risk"]
        charts.show_in(
            self.fig_risk,
            charts.plot_risk_list(risk.assign(reasons_text=risk.reasons), lang),
            meta=stamp,
        )
        headers = {c: t(f"col_{c}", lang) for c in RISK_COLUMNS}
        shown = risk.assign(
            risk=[fmt_pct(v, lang) for v in risk.risk],
            value=[fmt_money(v, lang) for v in risk.value],
            expected_loss=[fmt_money(v, lang) for v in risk.expected_loss],
        )
        self.risk_table.value = html_table(shown, headers, empty=t("no_data", lang), lang=lang)
        self.risk_export.show(*risk_list_export(risk, data["owner"], lang), f, lang)
        # the count (with its data-n marker) last: once it shows, list and export are current
        self.sec_risk.value = (
            f"<div class='crmkit-section'>{t('risk_list', lang)}"
            f"{' · ' + html.escape(data['owner']) if data['owner'] else ''}"
            f" <span class='crmkit-risk-count' data-n='{len(risk)}'>({fmt_int(len(risk))})</span>"
            f"</div><div class='crmkit-sub'>{html.escape(t('def_risk_list', lang))}</div>"
        )

    def _why_html(self, data: dict, reasons: dict | None, lang: str) -> str:
        """Why customers left (from the churn model's step), or its note."""
        if reasons:
            return unavailable_html(reasons, lang, title=t("why_churned", lang))
        rs = data["churn_reasons"]
        cols = [
            "label",
            "n_with",
            "rate_with",
            "rate_without",
            "odds_ratio",
            "adjusted_rr",
            "direction",
            "share_of_churned",
        ]
        return (
            f"<div class='crmkit-section'>{t('why_churned', lang)}</div>"
            + html_table(
                reasons_table(rs, lang), {c: t(f"col_why_{c}", lang) for c in cols}, lang=lang
            )
            + f"<div class='crmkit-sub'>{html.escape(t('def_why_churned', lang))}</div>"
        )

    def _winback_html(self, data: dict, reasons: dict | None, lang: str) -> str:
        """Win-back by reason and by segment, or the note why there is none."""
        if reasons:
            return unavailable_html(reasons, lang, title=t("winback_by_reason", lang))
        parts = []
        for key, frame in (("winback_by_reason", data["winback_reason"]),
                           ("winback_by_segment", data["winback_segment"])):  # fmt: skip
            if len(frame):
                fr = frame.assign(
                    winback_rate=[
                        f"{fmt_pct(r, lang)} [{fmt_pct(lo, lang)}, {fmt_pct(hi, lang)}]"
                        for r, lo, hi in zip(frame.winback_rate, frame.lo, frame.hi, strict=True)
                    ],
                    revenue_recovered=[fmt_money(v, lang) for v in frame.revenue_recovered],
                )
                cols = ["label", "attempts", "returned", "winback_rate", "revenue_recovered"]
                parts.append(
                    f"<div class='crmkit-section'>{t(key, lang)}</div>"
                    + html_table(fr, {c: t(f"col_wb_{c}", lang) for c in cols}, lang=lang)
                )
        return (
            "".join(parts) + f"<div class='crmkit-sub'>{html.escape(t('def_winback', lang))}</div>"
        )


def _ratio_ci(value: float, lo: float, hi: float) -> str:
    if pd.isna(value):
        return "—"
    return f"{value:.2f}× [{lo:.2f}, {hi:.2f}]"


def reasons_table(rs: pd.DataFrame, lang: str) -> pd.DataFrame:
    """The published ``churn_reasons`` as the page shows them: churn rate with its interval,
    adjusted odds ratio and relative risk with theirs ("1.21× [0.79, 1.86]"), the direction
    in words — or, for a signal without an estimate, why (its ``note``)."""
    direction = []
    for d, note in zip(rs.direction, rs.note, strict=True):
        if isinstance(note, str) and note:
            direction.append(t(f"effect_note_{note}", lang))
        elif isinstance(d, str) and d:
            direction.append(t(f"why_dir_{d}", lang))
        else:
            direction.append("—")
    return rs.assign(
        rate_with=[
            f"{fmt_pct(r, lang)} [{fmt_pct(lo, lang)}, {fmt_pct(hi, lang)}]"
            for r, lo, hi in zip(rs.rate_with, rs.lo_with, rs.hi_with, strict=True)
        ],
        rate_without=[fmt_pct(v, lang) for v in rs.rate_without],
        odds_ratio=[
            _ratio_ci(v, lo, hi)
            for v, lo, hi in zip(rs.odds_ratio, rs.or_lo, rs.or_hi, strict=True)
        ],
        adjusted_rr=[
            _ratio_ci(v, lo, hi)
            for v, lo, hi in zip(rs.adjusted_rr, rs.rr_lo, rs.rr_hi, strict=True)
        ],
        direction=direction,
        share_of_churned=[fmt_pct(v, lang) for v in rs.share_of_churned],
    )


def churn_warning(
    con: BaseBackend | None = None, *, lang: str = "zh", role: str | None = None
) -> Page:
    """The churn early-warning page (``dashboards/churn.ipynb``)."""
    return safe_page(ChurnPage, con, lang=lang, role=role)


__all__ = ["ChurnPage", "churn_data", "churn_warning", "reasons_table", "risk_list"]


#: The overview's churn alerts read the first reasons of this many top-ranked customers.
OVERVIEW_TOP = 500


def overview_alerts(
    con: BaseBackend, f: Filters = Filters(), *, lang: str = "zh", role: str | None = None
) -> pd.DataFrame:
    """The overview page's churn alerts (``text``, ``page``): how many customers in scope are at
    risk (risk ≥ :data:`AT_RISK`, the at-risk card's count) and their expected loss, then the
    most common reason codes among the top :data:`OVERVIEW_TOP`."""
    if "churn_warning_list" not in con.list_tables():
        return pd.DataFrame(columns=["text", "page"])
    risk = risk_list(con, f, lang=lang, role=role)
    if risk.empty:
        return pd.DataFrame(columns=["text", "page"])
    # the same customers as the at-risk card: risk at or above the threshold
    at_risk = risk[risk.risk >= AT_RISK]
    rows = [
        {
            "text": t(
                "churn_ov_list",
                lang,
                n=fmt_int(len(at_risk)),
                pct=f"{AT_RISK:.0%}",
                loss=fmt_money(float(at_risk.expected_loss.sum())),
            ),
            "page": "churn",
        }
    ]
    top = risk.head(OVERVIEW_TOP)  # in rank order: the customers to call first
    codes = top.reason_codes.fillna("").str.split(",").explode().str.strip()
    for code, n in codes[codes != ""].value_counts().head(3).items():
        rows.append(
            {
                "text": t(
                    "churn_ov_reason",
                    lang,
                    top=fmt_int(len(top)),
                    reason=t(f"rcode_{code}", lang),
                    n=fmt_int(n),
                ),
                "page": "churn",
            }
        )
    return pd.DataFrame(rows, columns=["text", "page"])
