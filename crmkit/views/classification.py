"""Page 2 — customer classification and the maintenance map (step 1 客户分类, 责任人, 维护策略)."""

from __future__ import annotations

import html
import logging
from datetime import datetime

import ibis
import ibis.expr.types as ir
import pandas as pd
from ibis.backends import BaseBackend

from crmkit import charts, classification
from crmkit.db import data_as_of
from crmkit.i18n import fmt_date, fmt_int, fmt_money, t
from crmkit.views.base import (
    MAX_EXPORT_ROWS,
    POTENTIAL,
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

# ---------------------------------------------------------------------------------------------
# Page 2: customer classification and the maintenance map (step 1 客户分类, 责任人, 维护策略)
# ---------------------------------------------------------------------------------------------

LIST_COLUMNS = (
    "customer_id",
    "name",
    "phone",
    "segment",
    "value_tier",
    "customer_type",
    "owner_team",
    "owner",
    "strategy",
    "recency_days",
    "frequency",
    "monetary",
)
PARETO_POINTS = 200
#: The segments a customer list can show: the 8 RFM classes, then customers without a purchase.
SEGMENTS = (*classification.RFM_CLASSES, POTENTIAL)

#: The publish steps whose tables the page reads.
CLASSIFICATION_STEPS = ("classification",)
#: The page's sections and what each reads: every class figure reads the classification; the
#: migration also the class snapshots at past quarter ends.
CLASSIFICATION_SECTIONS = {
    "classification": Section(CLASSIFICATION_STEPS),
    "migration": Section((*CLASSIFICATION_STEPS, "classification_snapshots")),
}
#: The section of each card.
CLASSIFICATION_CARDS = dict.fromkeys(
    ("customers", "important", "a_revenue_share", "churned_share"), "classification"
)


def _label(col: str, lang: str) -> str:
    return f"{col}_{'zh' if lang == 'zh' else 'en'}"


def classified_in_scope(con: BaseBackend, f: Filters, as_of: datetime) -> ir.Table:
    """The published classification of customers in scope. A period keeps the customers who
    bought in it (their last counted purchase falls in the period)."""
    cls = con.table("classification").semi_join(customers_in_scope(con, f), "customer_id")
    keep = f.keep(cls.last_order_ts, as_of)
    return cls if keep is None else cls.filter(keep)


def maintenance_map(cls: ir.Table, lang: str = "zh") -> pd.DataFrame:
    """The maintenance map's frame (客户管理维护导图) for classified customers ``cls``: one row per
    lifecycle stage × customer type × owner team with its customers and the strategy most of
    them get, in lifecycle order (``charts.plot_maintenance_map`` draws it)."""
    stage_col = "lifecycle_stage" if "lifecycle_stage" in cls.columns else "customer_type"
    grid = (
        cls.group_by(
            stage=cls[_label(stage_col, lang)],
            stage_code=cls[stage_col],
            type=cls[_label("customer_type", lang)],
            team=cls[_label("owner_team", lang)],
            strategy=cls[_label("strategy", lang)],
        )
        .aggregate(customers=ibis._.count())
        .to_pandas()
    )
    # one bubble per stage × type × team; its strategy is the one most of its customers get
    grid = grid.sort_values("customers", ascending=False)
    grid = grid.groupby(["stage", "stage_code", "type", "team"], as_index=False).agg(
        customers=("customers", "sum"), strategy=("strategy", "first")
    )
    stage_order = (
        list(classification.LIFECYCLE_STAGES)
        if hasattr(classification, "LIFECYCLE_STAGES")
        else sorted(grid.stage_code.unique())
    )
    grid["_o"] = [stage_order.index(c) if c in stage_order else 99 for c in grid.stage_code]
    grid = grid.sort_values(["_o", "type"]).drop(columns="_o").reset_index(drop=True)
    return grid


def segment_list(
    con: BaseBackend,
    f: Filters,
    segment: str,
    *,
    lang: str = "zh",
    role: str | None = None,
    classified: ir.Table | None = None,
) -> pd.DataFrame:
    """The customers of one segment in scope (the page's customer list, :data:`LIST_COLUMNS`),
    most valuable first, PII masked for the dashboard role; ``classified`` is
    :func:`classified_in_scope` when the caller has it already.

    Raises
    ------
    ValueError
        For a segment code that is not an RFM class or ``potential``, naming the known ones.
    """
    if segment not in SEGMENTS:
        raise ValueError(f"unknown segment {segment!r}; expected one of: {', '.join(SEGMENTS)}")
    role = current_role(role)
    cls = classified_in_scope(con, f, data_as_of(con)) if classified is None else classified
    lst = cls.filter(cls.rfm_class.fill_null(POTENTIAL) == segment)
    people = customers_for_role(con, role, columns=("customer_id", "owner"))
    lst = lst.join(people, "customer_id").order_by([ibis.desc("monetary"), "customer_id"])
    return (
        lst.select(
            "customer_id",
            "name",
            "phone",
            segment=ibis.literal(segment_label(segment, lang)),
            value_tier=lst[_label("value_tier", lang)],
            customer_type=lst[_label("customer_type", lang)],
            owner_team=lst[_label("owner_team", lang)],
            owner=lst.owner,
            strategy=lst[_label("strategy", lang)],
            recency_days=lst.recency_days,
            frequency=lst.frequency,
            monetary=lst.monetary.cast("float64"),
        )
        .limit(MAX_EXPORT_ROWS)
        .to_pandas()
    )


def segment_list_export(
    customers: pd.DataFrame, segment: str, lang: str
) -> tuple[pd.DataFrame, str]:
    """The segment list as its export buttons hand it over: headers in ``lang`` and the export's
    name, ``customers_<segment>``."""
    headers = {c: t(f"col_{c}", lang) for c in LIST_COLUMNS}
    return customers.rename(columns=headers), f"customers_{segment}"


def classification_data(
    con: BaseBackend,
    f: Filters = Filters(),
    *,
    lang: str = "zh",
    role: str | None = None,
    list_segment: str = "important_value",
    migration_from: datetime | None = None,
    migration_to: datetime | None = None,
) -> dict[str, object]:
    """Everything the classification page shows, for these filters.

    Returns
    -------
    dict
        ``as_of``, ``n``, ``rules_version``, ``cards``; ``segments`` (segment, label, customers,
        revenue, revenue_share); ``pareto`` (x = share of customers, best first; y = cumulative
        share of revenue); ``map`` (lifecycle stage × customer type: owner team, strategy,
        customers); ``migration`` (from_label, to_label, customers, revenue) between the
        snapshot a year before and ``as_of``, or between ``migration_from`` and
        ``migration_to`` (two of ``snapshot_dates``); ``rfm_grid`` (R score × F score:
        customers, mean spend); ``class_table`` (per segment: customers, spend, share, mean
        recency / orders / spend, main owner team and strategy); ``customers`` (the list for
        ``list_segment``, most valuable first, PII masked for the dashboard role);
        ``unavailable`` (section of :data:`CLASSIFICATION_SECTIONS` → {step: reason code}):
        without the classification step (no orders) only ``as_of``, ``list_segment`` and the
        cards' labels (no values) come back; without class snapshots ``migration`` is empty.
    """
    role = current_role(role)
    as_of = data_as_of(con)
    missing = unavailable_sections(con, CLASSIFICATION_SECTIONS)
    if "classification" in missing:
        labels = {
            "customers": t("customers", lang),
            "important": t("important_customers", lang),
            "a_revenue_share": t("a_revenue_share", lang),
            "churned_share": t("churned_share", lang),
        }
        return {
            "as_of": as_of,
            "unavailable": missing,
            "n": None,
            "cards": {k: (None, label, "") for k, label in labels.items()},
            "list_segment": list_segment,
        }
    cls = classified_in_scope(con, f, as_of)
    seg = cls.rfm_class.fill_null(POTENTIAL)
    money = cls.monetary.cast("float64").fill_null(0)
    totals = (
        cls.aggregate(
            n=cls.count(),
            revenue=money.sum(),
            important=(cls.customer_type == "important").cast("int64").sum(),
            churned=(cls.customer_type == "churned").cast("int64").sum(),
            a_revenue=ibis.ifelse(cls.abc_class == "A", money, 0).sum(),
            buyers=cls.rfm_class.notnull().cast("int64").sum(),
        )
        .to_pandas()
        .iloc[0]
        .fillna(0)  # sums over no rows are NULL
    )
    n = int(totals.n)
    revenue = float(totals.revenue)
    rules_version = (
        cls.rules_version.max().execute()
        if n
        else con.table("classification").rules_version.max().execute()
    )

    seg_df = (
        cls.group_by(segment=seg)
        .aggregate(customers=ibis._.count(), revenue=money.sum())
        .to_pandas()
    )
    order = [*classification.RFM_CLASSES, POTENTIAL]
    seg_df = (
        pd.DataFrame({"segment": order})
        .merge(seg_df, on="segment", how="left")
        .fillna({"customers": 0, "revenue": 0.0})
        .astype({"customers": "int64"})
    )
    seg_df["label"] = [segment_label(s, lang) for s in seg_df.segment]
    seg_df["revenue_share"] = seg_df.revenue / revenue if revenue else 0.0

    buyers = cls.filter(cls.rfm_class.notnull())
    ranked = buyers.select(
        m=buyers.monetary.cast("float64"),
        i=ibis.row_number().over(order_by=[ibis.desc(buyers.monetary), buyers.customer_id]),
    )
    nb = int(totals.buyers)
    step = max(nb // PARETO_POINTS, 1)
    curve = ranked.mutate(cum=ranked.m.cumsum(order_by=ranked.i))
    curve = curve.filter((curve.i % step == 0) | (curve.i == nb - 1)).order_by("i").to_pandas()
    pareto = pd.DataFrame(
        {
            "x": [0.0, *((curve.i + 1) / nb).tolist()] if nb else [0.0],
            "y": [0.0, *(curve.cum / revenue).tolist()] if nb and revenue else [0.0],
        }
    )

    grid = maintenance_map(cls, lang)

    migration = (
        _migration_in_scope(con, f, lang, as_of, migration_from, migration_to)
        if "migration" not in missing
        else pd.DataFrame()
    )

    rfm_grid = (
        buyers.group_by(["r_score", "f_score"])
        .aggregate(customers=ibis._.count(), monetary=buyers.monetary.cast("float64").mean())
        .to_pandas()
    )
    stats = (
        cls.group_by(segment=seg)
        .aggregate(
            mean_recency=cls.recency_days.mean(),
            mean_frequency=cls.frequency.mean(),
            mean_monetary=money.mean(),
            owner_team=cls[_label("owner_team", lang)].mode(),
            strategy=cls[_label("strategy", lang)].mode(),
        )
        .to_pandas()
    )
    class_table = seg_df.merge(stats, on="segment", how="left")

    customers = segment_list(con, f, list_segment, lang=lang, role=role, classified=cls)

    window = fmt_date(as_of, lang)
    cards = {
        "customers": (n, t("customers", lang), t("def_cls_customers", lang, as_of=window)),
        "important": (
            int(totals.important),
            t("important_customers", lang),
            t("def_important", lang, n=fmt_int(n)),
        ),
        "a_revenue_share": (
            float(totals.a_revenue) / revenue if revenue else None,
            t("a_revenue_share", lang),
            t("def_a_revenue_share", lang, revenue=fmt_money(revenue, lang)),
        ),
        "churned_share": (
            int(totals.churned) / n if n else None,
            t("churned_share", lang),
            t("def_churned_share", lang, churned=fmt_int(totals.churned), n=fmt_int(n)),
        ),
    }
    return {
        "as_of": as_of,
        "unavailable": missing,
        "n": n,
        "rules_version": rules_version,
        "cards": cards,
        "segments": seg_df,
        "pareto": pareto,
        "map": grid,
        "migration": migration,
        "snapshot_dates": migration.attrs.get("dates", []),
        "rfm_grid": rfm_grid,
        "class_table": class_table,
        "customers": customers,
        "list_segment": list_segment,
    }


def _migration_in_scope(
    con: BaseBackend,
    f: Filters,
    lang: str,
    as_of: datetime,
    frm: datetime | None = None,
    to: datetime | None = None,
) -> pd.DataFrame:
    """Segment migration between two published snapshots: by default the earliest (about a
    year before ``as_of``) and the latest."""
    cols = ["from_segment", "to_segment", "from_label", "to_label", "customers", "revenue"]
    snaps = con.table("classification_snapshots").semi_join(
        customers_in_scope(con, f), "customer_id"
    )
    dates = sorted(pd.to_datetime(snaps.select("snapshot_at").distinct().to_pandas().snapshot_at))
    if len(dates) < 2:
        return pd.DataFrame(columns=cols)
    dates = [d.to_pydatetime() for d in dates]
    frm = frm if frm in dates else dates[0]
    to = to if to in dates else dates[-1]
    m = classification.migration_matrix(snaps, frm, to, by="rfm_class").to_pandas()
    # classification.migration_matrix names the missing: "new" (not yet a customer at the
    # earlier date), "removed" (gone by the later one) and "none" (no purchase: potential)
    special = {"new": t("seg_new", lang), "removed": t("seg_removed", lang)}
    for side in ("from", "to"):
        codes = m[f"{side}_segment"].replace({"none": POTENTIAL})
        m[f"{side}_segment"] = codes
        m[f"{side}_label"] = [special.get(c) or segment_label(c, lang) for c in codes]
    order = [
        special["new"],
        *(segment_label(c, lang) for c in [*classification.RFM_CLASSES, POTENTIAL]),
        special["removed"],
    ]
    m["_f"] = [order.index(x) for x in m.from_label]
    m["_t"] = [order.index(x) for x in m.to_label]
    m = m.sort_values(["_f", "_t"]).drop(columns=["_f", "_t"]).reset_index(drop=True)
    m.attrs.update(from_at=frm, to_at=to, order=order, dates=dates)
    return m[cols]


class ClassificationPage(Page):
    """Page 2 — classification, value tiers, the maintenance map, migration, customer lists."""

    title_key = "page_classification"

    def build(self):  # noqa: ANN201
        w = self.w
        half = chart_box_layout()
        self.cards = w.HTML()
        self.fig_segments, self.fig_pareto, self.fig_map, self.fig_migration = (
            w.Box(layout=half) for _ in range(4)
        )
        self.fig_rfm = w.Box(layout=half)
        self.class_table = w.HTML(layout=w.Layout(width=f"{charts.WIDTH + 10}px"))
        self.migration_from = w.Dropdown(layout=w.Layout(width="230px"))
        self.migration_to = w.Dropdown(layout=w.Layout(width="230px"))
        self.migration_from.add_class("crmkit-migration-from")
        self.migration_to.add_class("crmkit-migration-to")
        for dd in (self.migration_from, self.migration_to):
            dd.observe(self._dates_changed, names="value")
        self.dates: tuple[datetime | None, datetime | None] = (None, None)
        self.list_segment = "important_value"
        self.segment_buttons = w.ToggleButtons(style={"button_width": "170px"})
        self.segment_buttons.add_class("crmkit-segment-buttons")
        self.segment_buttons.observe(self._segment_clicked, names="value")
        self.sec_list, self.list_table = w.HTML(), w.HTML()
        self.list_table.add_class("crmkit-customer-list")
        self.list_export = ExportButtons()
        self._f = Filters()
        return w.VBox(
            [
                self.cards,
                w.HBox([self.fig_segments, self.fig_pareto], layout=chart_row()),
                w.HBox([self.fig_rfm, self.class_table], layout=chart_row()),
                w.HBox(
                    [
                        self.fig_map,
                        w.VBox(
                            [w.HBox([self.migration_from, self.migration_to]), self.fig_migration]
                        ),
                    ],
                    layout=chart_row(),
                ),
                self.sec_list,
                self.segment_buttons,
                self.list_export.widget,
                self.list_table,
            ]
        )

    def compute(self, f: Filters, lang: str) -> dict:
        self._f = f
        return classification_data(
            self.con,
            f,
            lang=lang,
            role=self.role,
            list_segment=self.list_segment,
            migration_from=self.dates[0],
            migration_to=self.dates[1],
        )

    def _dates_changed(self, change: dict) -> None:
        dates = (self.migration_from.value, self.migration_to.value)
        if None not in dates and dates != self.dates:
            self.dates = dates
            self.refresh(self._f, self.lang)

    def _segment_clicked(self, change: dict) -> None:
        if change["new"] and change["new"] != self.list_segment:
            self.list_segment = change["new"]
            self.refresh(self._f, self.lang)

    def update(self, data: dict, f: Filters, lang: str) -> None:
        stamp = f.describe(lang)
        reasons = data["unavailable"].get("classification")
        self.cards.value = cards_html(
            data,
            {
                "customers": "int",
                "important": "int",
                "a_revenue_share": "pct",
                "churned_share": "pct",
            },
            lang,
            CLASSIFICATION_CARDS,
        ) + (
            ""
            if reasons
            else f"<div class='crmkit-sub'>{t('rules_version', lang)}: "
            f"{html.escape(str(data['rules_version']))}</div>"
        )
        self._update_migration(data, data["unavailable"].get("migration"), stamp, lang)
        for widget in (self.segment_buttons, self.list_export.widget):
            widget.layout.display = "none" if reasons else None
        if reasons:
            for box, title in (
                (self.fig_segments, "fig_segments"),
                (self.fig_pareto, "fig_pareto"),
                (self.fig_map, "fig_maintenance_map"),
                (self.fig_rfm, "fig_rfm_heatmap"),
            ):
                show_unavailable(box, reasons, title=t(title, lang), lang=lang)
            self.class_table.value = unavailable_html(reasons, lang, title=t("class_table", lang))
            self.sec_list.value = unavailable_html(reasons, lang, title=t("customer_list", lang))
            self.list_table.value = ""
            return
        charts.show_in(self.fig_segments, charts.plot_segments(data["segments"], lang), meta=stamp)
        charts.show_in(self.fig_pareto, charts.plot_pareto(data["pareto"], lang), meta=stamp)
        charts.show_in(self.fig_map, charts.plot_maintenance_map(data["map"], lang), meta=stamp)

        charts.show_in(self.fig_rfm, charts.plot_rfm_heatmap(data["rfm_grid"], lang), meta=stamp)
        ct = data["class_table"].copy()
        for col in ("revenue", "mean_monetary"):
            ct[col] = [fmt_money(v, lang) for v in ct[col]]
        for col in ("mean_recency", "mean_frequency"):
            ct[col] = [fmt_int(v, lang) for v in ct[col]]
        cols = [
            "label",
            "customers",
            "revenue",
            "revenue_share",
            "mean_recency",
            "mean_frequency",
            "mean_monetary",
            "owner_team",
            "strategy",
        ]
        self.class_table.value = (
            f"<div class='crmkit-section'>{t('class_table', lang)}</div>"
            + html_table(ct, {c: t(f"col_{c}", lang) for c in cols}, lang=lang)
        )
        segs = data["segments"]
        options = [(f"{row.label} ({row.customers:,})", row.segment) for row in segs.itertuples()]
        self.segment_buttons.unobserve(self._segment_clicked, names="value")
        try:
            self.segment_buttons.options = options
            self.segment_buttons.value = data["list_segment"]
        finally:
            self.segment_buttons.observe(self._segment_clicked, names="value")
        self.sec_list.value = (
            f"<div class='crmkit-section'>{t('customer_list', lang)}: "
            f"{html.escape(segment_label(data['list_segment'], lang))}</div>"
        )
        headers = {c: t(f"col_{c}", lang) for c in LIST_COLUMNS}
        lst = data["customers"].copy()
        shown = lst.assign(monetary=[fmt_money(v, lang) for v in lst.monetary])
        self.list_table.value = html_table(shown, headers, empty=t("no_data", lang), lang=lang)
        self.list_export.show(*segment_list_export(lst, data["list_segment"], lang), f, lang)

    def _update_migration(self, data: dict, reasons: dict | None, stamp: str, lang: str) -> None:
        """The migration chart and its two date dropdowns, or the chart's note."""
        self.migration_from.layout.display = self.migration_to.layout.display = (
            "none" if reasons else None
        )
        show_chart(
            self.fig_migration,
            lambda: charts.plot_migration(
                data["migration"], lang, data["migration"].attrs.get("order")
            ),
            reasons,
            title=t("fig_migration", lang),
            lang=lang,
            meta=stamp,
        )
        if reasons:
            return
        migration = data["migration"]
        dates = data["snapshot_dates"]
        if dates:
            options = [(fmt_date(d.date(), lang), d) for d in dates]
            chosen = (migration.attrs["from_at"], migration.attrs["to_at"])
            for dd in (self.migration_from, self.migration_to):
                dd.unobserve(self._dates_changed, names="value")
            try:
                self.migration_from.options = options
                self.migration_to.options = options
                self.migration_from.value, self.migration_to.value = chosen
                self.migration_from.description = t("migration_from", lang)
                self.migration_to.description = t("migration_to", lang)
            finally:
                for dd in (self.migration_from, self.migration_to):
                    dd.observe(self._dates_changed, names="value")
            self.dates = chosen


def customer_classification(
    con: BaseBackend | None = None, *, lang: str = "zh", role: str | None = None
) -> Page:
    """The classification and maintenance-map page (``dashboards/classification.ipynb``)."""
    return safe_page(ClassificationPage, con, lang=lang, role=role)
