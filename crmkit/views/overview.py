"""Page 1 — data overview and quality (step 2 信息收集与维护: 准确性和完整性)."""

from __future__ import annotations

import logging
from datetime import datetime

import ibis
import ibis.expr.types as ir
import pandas as pd
from ibis.backends import BaseBackend

from crmkit import charts, cubes, quality, schema
from crmkit.db import data_as_of
from crmkit.i18n import column_label, fmt_date, fmt_int, match_label, t, table_label
from crmkit.views.base import (
    MAX_EXPORT_ROWS,
    PERIODS,
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
    in_period,
    safe_page,
    show_unavailable,
    unavailable_html,
    unavailable_sections,
)

log = logging.getLogger("crmkit.views")

# ---------------------------------------------------------------------------------------------
# Page 1: data overview and quality (step 2 信息收集与维护)
# ---------------------------------------------------------------------------------------------

QUALITY_BANDS = [0.0, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0001]

#: The publish steps whose tables the quality sections read (rows per table and the last
#: ingest runs need none).
DATA_OVERVIEW_STEPS = ("quality",)
#: The page's sections and what each reads.
DATA_OVERVIEW_SECTIONS = {"quality": Section(DATA_OVERVIEW_STEPS)}
#: The section of each card.
DATA_OVERVIEW_CARDS = dict.fromkeys(
    ("customers", "quality_score", "completeness", "validity", "stale_share", "duplicates"),
    "quality",
)


def _scoped(con: BaseBackend, table: str, f: Filters, as_of: datetime) -> ir.Table:
    """Rows of a data table that belong to customers in scope and fall in the period."""
    tbl = con.table(table)
    spec = schema.table(table)
    if table == "products":
        return in_period(tbl, table, f, as_of)
    scope = customers_in_scope(con, f)
    if table != "customers" and (f.province or f.city or f.segment or f.owner_team):
        ref = spec.foreign_keys[0].name  # every fact table's first reference is its customer
        tbl = tbl.semi_join(scope, tbl[ref] == scope.customer_id)
    elif table == "customers":
        tbl = scope
    return in_period(tbl, table, f, as_of)


def overview_data(
    con: BaseBackend, f: Filters = Filters(), *, lang: str = "zh", role: str | None = None
) -> dict[str, object]:
    """Everything the data-overview page shows, for these filters.

    Returns
    -------
    dict
        ``as_of``; ``cards`` (key → value, label, definition); ``counts`` (table, label, rows);
        ``last_ingest`` (one row per table: last run's file, time, rows in, loaded, rejected);
        ``reject_reasons`` (column, reason, rows — over the last run of each table);
        ``quality_tables``; ``bands`` (quality-score band, customers); ``columns`` (customer
        profile column, label, filled share); ``stale_teams``; ``stale_owners``; ``duplicates``
        (masked for the dashboard role); ``unavailable`` (section of
        :data:`DATA_OVERVIEW_SECTIONS` → {step: reason code}): when the quality step was
        skipped at publish (no customers), the cards have no values and only ``counts``,
        ``last_ingest`` and ``reject_reasons`` come back.
    """
    role = current_role(role)
    as_of = data_as_of(con)
    missing = unavailable_sections(con, DATA_OVERVIEW_SECTIONS)
    present = set(con.list_tables())
    # rows per table for customers in scope: counted per filter group at publish time
    # (crmkit.cubes), live when the snapshot predates that
    stored = cubes.row_counts(con, f, as_of, PERIODS[f.period]) or {}
    counts = pd.DataFrame(
        [
            {
                "table": name,
                "label": table_label(name, lang),
                "rows": stored[name]
                if name in stored
                else int(_scoped(con, name, f, as_of).count().execute()),
            }
            for name in schema.DATA_TABLES
            if name in present
        ]
    )
    runs = con.table("ingest_runs") if "ingest_runs" in present else None
    last_ingest, reasons = _last_ingest(con, runs)
    if "quality" in missing:
        labels = {
            "customers": t("customers", lang),
            "quality_score": t("quality_score", lang),
            "completeness": t("completeness", lang),
            "validity": t("validity", lang),
            "stale_share": t("stale_share", lang),
            "duplicates": t("duplicates", lang),
        }
        return {
            "as_of": as_of,
            "unavailable": missing,
            "n": None,
            "cards": {k: (None, label, "") for k, label in labels.items()},
            "counts": counts,
            "last_ingest": last_ingest,
            "reject_reasons": reasons,
        }
    scope = _scoped(con, "customers", f, as_of)
    scored = _quality_scored(con, scope)
    summary = (
        scored.aggregate(
            n=scored.count(),
            completeness=scored.completeness.mean(),
            validity=scored.validity.mean(),
            stale=scored.stale.cast("int64").sum(),
            score=scored.quality_score.mean(),
        )
        .to_pandas()
        .iloc[0]
    )
    n = int(summary.n)

    band = ibis.cases(
        *[
            (scored.quality_score < hi, f"{lo:.1f}–{min(hi, 1):.1f}")
            for lo, hi in zip(QUALITY_BANDS, QUALITY_BANDS[1:], strict=False)
        ]
    )
    bands = scored.group_by(band=band).aggregate(customers=scored.count()).to_pandas()
    all_bands = [
        f"{lo:.1f}–{min(hi, 1):.1f}"
        for lo, hi in zip(QUALITY_BANDS, QUALITY_BANDS[1:], strict=False)
    ]
    bands = (
        pd.DataFrame({"band": all_bands})
        .merge(bands, on="band", how="left")
        .fillna({"customers": 0})
        .astype({"customers": "int64"})
    )

    filled = {
        c: quality._filled(scope[c], schema.TABLES["customers"][c].dtype).cast("int64").mean()
        for c in quality.expected_columns("customers")
    }
    shares = scope.aggregate(**filled).to_pandas().iloc[0] if n else pd.Series(dtype=float)
    columns = pd.DataFrame(
        {
            "column": list(filled),
            "label": [
                schema.TABLES["customers"][c].zh
                if lang == "zh"
                else schema.TABLES["customers"][c].en
                for c in filled
            ],
            "share": [float(shares.get(c, 0.0) or 0.0) for c in filled],
        }
    )

    teams = (
        scored.group_by(owner_team=scored.owner_team)
        .aggregate(customers=scored.count(), stale=scored.stale.cast("int64").sum())
        .to_pandas()
    )
    teams["fresh"] = teams.customers - teams.stale
    teams["label"] = [
        t(f"team_{x}", lang) if isinstance(x, str) else t("unassigned", lang)
        for x in teams.owner_team
    ]
    teams = teams.sort_values("customers", ascending=False).reset_index(drop=True)

    owners = _stale_owners(scored)
    dups = _duplicates_in_scope(con, scope, role)

    cards = {
        "customers": (
            n,
            t("customers", lang),
            t("def_customers", lang, as_of=fmt_date(as_of, lang)),
        ),
        "quality_score": (
            float(summary.score) if n else None,
            t("quality_score", lang),
            t("def_quality_score", lang, n=fmt_int(n)),
        ),
        "completeness": (
            float(summary.completeness) if n else None,
            t("completeness", lang),
            t("def_completeness", lang, n=fmt_int(n)),
        ),
        "validity": (
            float(summary.validity) if n else None,
            t("validity", lang),
            t("def_validity", lang, n=fmt_int(n)),
        ),
        "stale_share": (
            float(summary.stale) / n if n else None,
            t("stale_share", lang),
            t("def_stale_share", lang, stale=fmt_int(summary.stale if n else 0), n=fmt_int(n)),
        ),
        "duplicates": (
            int(dups.shape[0]),
            t("duplicates", lang),
            t("def_duplicates", lang),
        ),
    }
    return {
        "as_of": as_of,
        "unavailable": missing,
        "n": n,
        "cards": cards,
        "counts": counts,
        "bands": bands,
        "columns": columns,
        "stale_teams": teams,
        "stale_owners": owners,
        "duplicates": dups,
        "last_ingest": last_ingest,
        "reject_reasons": reasons,
        "quality_tables": con.table("quality_tables")
        .to_pandas()
        .rename(columns={"completeness": "completeness_share", "validity": "validity_share"})
        if "quality_tables" in present
        else pd.DataFrame(),
    }


def _quality_scored(con: BaseBackend, scope: ir.Table) -> ir.Table:
    """The published quality record of each customer in ``scope``, with owner team and owner."""
    rq = con.table("quality_records").semi_join(scope, "customer_id")
    return rq.join(scope.select("customer_id", "owner_team", "owner"), "customer_id")


def _stale_owners(scored: ir.Table) -> pd.DataFrame:
    """Customers and stale records per owner team and owner, most stale first."""
    return (
        scored.group_by(["owner_team", "owner"])
        .aggregate(customers=scored.count(), stale=scored.stale.cast("int64").sum())
        .mutate(stale_share=ibis._.stale / ibis._.customers)
        .order_by([ibis.desc("stale"), "owner_team", "owner"])
        .to_pandas()
    )


def stale_owner_list(con: BaseBackend, f: Filters = Filters()) -> pd.DataFrame:
    """Customers in scope with a stale record (not verified for too long), per owner team and
    owner, most stale first: the page's ``stale_owners`` table."""
    return _stale_owners(_quality_scored(con, _scoped(con, "customers", f, data_as_of(con))))


def _owner_teams(owners: pd.DataFrame, lang: str) -> pd.DataFrame:
    return owners.assign(
        owner_team=[
            t(f"team_{x}", lang) if isinstance(x, str) else t("unassigned", lang)
            for x in owners.owner_team
        ]
    )


def _owner_headers(lang: str) -> dict[str, str]:
    return {
        "owner_team": t("owner_team", lang),
        "owner": t("owner", lang),
        "customers": t("customers", lang),
        "stale": t("stale", lang),
        "stale_share": t("stale_share", lang),
    }


def stale_owner_list_export(owners: pd.DataFrame, lang: str) -> tuple[pd.DataFrame, str]:
    """The stale records per owner (:func:`stale_owner_list`) as the export buttons hand them
    over: team names and headers in ``lang``, and the export's name, ``stale_by_owner``."""
    return _owner_teams(owners, lang).rename(columns=_owner_headers(lang)), "stale_by_owner"


def duplicate_list(
    con: BaseBackend, f: Filters = Filters(), *, role: str | None = None
) -> pd.DataFrame:
    """Pairs of customers that look like one person (same phone, email, or name and company),
    either of them in scope, PII masked for the dashboard role: the page's duplicate list."""
    scope = _scoped(con, "customers", f, data_as_of(con))
    return _duplicates_in_scope(con, scope, current_role(role))


def _matched_on(dups: pd.DataFrame, lang: str) -> pd.DataFrame:
    return dups.assign(match_on=[match_label(m, lang) for m in dups.match_on])


def duplicate_list_export(dups: pd.DataFrame, lang: str) -> tuple[pd.DataFrame, str]:
    """The duplicate candidates (:func:`duplicate_list`) as the export buttons hand them
    over: what matched and the headers in ``lang``, and the export's name,
    ``duplicate_candidates``."""
    headers = {c: t(f"dup_{c}", lang) for c in dups.columns}
    return _matched_on(dups, lang).rename(columns=headers), "duplicate_candidates"


def _duplicates_in_scope(con: BaseBackend, scope: ir.Table, role: str) -> pd.DataFrame:
    d = con.table("quality_duplicates")
    d = d.filter(d.customer_id_b.notnull())
    ids = scope.select("customer_id")
    d = d.filter(d.customer_id_a.isin(ids.customer_id) | d.customer_id_b.isin(ids.customer_id))
    side = customers_for_role(
        con, role, pii=("name", "phone", "email"), columns=("customer_id", "company")
    ).select("customer_id", "name", "phone", "email", "company")
    a = side.rename(lambda x: f"{x}_a")
    b = side.rename(lambda x: f"{x}_b")
    out = (
        d.join(a, d.customer_id_a == a.customer_id_a)
        .join(b, d.customer_id_b == b.customer_id_b)
        .select(
            "customer_id_a",
            "name_a",
            "phone_a",
            "email_a",
            "customer_id_b",
            "name_b",
            "phone_b",
            "email_b",
            "match_on",
        )
        .order_by(["customer_id_a", "customer_id_b"])
    )
    return out.limit(MAX_EXPORT_ROWS).to_pandas()


def _last_ingest(con: BaseBackend, runs: ir.Table | None) -> tuple[pd.DataFrame, pd.DataFrame]:
    cols = ["table_name", "file", "finished_at", "rows_in", "loaded", "rejected"]
    if runs is None or runs.count().execute() == 0:
        empty = pd.DataFrame(columns=["table_name", "column_name", "reason", "rows"])
        return pd.DataFrame(columns=cols), empty
    last = runs.mutate(
        _rank=ibis.row_number().over(group_by="table_name", order_by=ibis.desc("run_id"))
    )
    last = last.filter(last._rank == 0)
    rj = con.table("ingest_rejects").semi_join(last, "run_id")
    reasons = (
        rj.mutate(reason=rj.reason.split(";")[0])
        .group_by(["table_name", "column_name", "reason"])
        .aggregate(rows=ibis._.count())
        .order_by(ibis.desc("rows"))
        .limit(10)
        .to_pandas()
    )
    return last.select(*cols).order_by("table_name").to_pandas(), reasons


class DataOverviewPage(Page):
    """Page 1 — data overview and quality (step 2 信息收集与维护: 准确性和完整性)."""

    title_key = "page_data_overview"

    def build(self):  # noqa: ANN201
        w = self.w
        self.cards = w.HTML()
        two = chart_box_layout()
        self.fig_counts, self.fig_bands, self.fig_columns, self.fig_stale = (
            w.Box(layout=two) for _ in range(4)
        )
        self.sec_ingest, self.ingest_table = w.HTML(), w.HTML()
        self.sec_tables, self.tables_table = w.HTML(), w.HTML()
        self.sec_dups, self.dups_table, self.dups_export = w.HTML(), w.HTML(), ExportButtons()
        self.sec_owners, self.owners_table = w.HTML(), w.HTML()
        self.owners_export = ExportButtons()
        row1 = w.HBox([self.fig_counts, self.fig_bands], layout=chart_row())
        row2 = w.HBox([self.fig_columns, self.fig_stale], layout=chart_row())
        return w.VBox(
            [
                self.cards,
                row1,
                row2,
                self.sec_tables,
                self.tables_table,
                self.sec_ingest,
                self.ingest_table,
                self.sec_owners,
                self.owners_export.widget,
                self.owners_table,
                self.sec_dups,
                self.dups_export.widget,
                self.dups_table,
            ]
        )

    def compute(self, f: Filters, lang: str) -> dict:
        return overview_data(self.con, f, lang=lang, role=self.role)

    def update(self, data: dict, f: Filters, lang: str) -> None:
        stamp = f.describe(lang)
        self.cards.value = cards_html(
            data,
            {
                "customers": "int",
                "quality_score": "score",
                "completeness": "pct",
                "validity": "pct",
                "stale_share": "pct",
                "duplicates": "int",
            },
            lang,
            DATA_OVERVIEW_CARDS,
        )
        charts.show_in(self.fig_counts, charts.plot_table_counts(data["counts"], lang), meta=stamp)
        self.sec_ingest.value = f"<div class='crmkit-section'>{t('last_ingest', lang)}</div>"
        li = data["last_ingest"].copy()
        li["table_name"] = [table_label(x, lang) for x in li.table_name]
        rr = data["reject_reasons"].copy()
        rr["column_name"] = [
            column_label(tb, c, lang) for tb, c in zip(rr.table_name, rr.column_name, strict=True)
        ]
        self.ingest_table.value = html_table(
            li,
            {
                "table_name": t("table", lang),
                "file": t("file", lang),
                "finished_at": t("finished_at", lang),
                "rows_in": t("rows_in", lang),
                "loaded": t("loaded", lang),
                "rejected": t("rejected", lang),
            },
            empty=t("no_ingest", lang),
            lang=lang,
        ) + (
            f"<div class='crmkit-sub'>{t('top_reject_reasons', lang)}</div>"
            + html_table(
                rr,
                {
                    "column_name": t("column", lang),
                    "reason": t("reason", lang),
                    "rows": t("rows", lang),
                },
                lang=lang,
            )
            if not rr.empty
            else ""
        )

        reasons = data["unavailable"].get("quality")
        for widget in (self.owners_export.widget, self.dups_export.widget):
            widget.layout.display = "none" if reasons else None
        if reasons:
            for box, title in (
                (self.fig_bands, "fig_quality_distribution"),
                (self.fig_columns, "fig_column_completeness"),
                (self.fig_stale, "fig_stale_by_team"),
            ):
                show_unavailable(box, reasons, title=t(title, lang), lang=lang)
            for head, table, title in (
                (self.sec_tables, self.tables_table, "quality_by_table"),
                (self.sec_owners, self.owners_table, "stale_by_owner"),
                (self.sec_dups, self.dups_table, "duplicates"),
            ):
                head.value = unavailable_html(reasons, lang, title=t(title, lang))
                table.value = ""
            return
        charts.show_in(
            self.fig_bands, charts.plot_quality_distribution(data["bands"], lang), meta=stamp
        )
        charts.show_in(
            self.fig_columns, charts.plot_column_completeness(data["columns"], lang), meta=stamp
        )
        charts.show_in(
            self.fig_stale, charts.plot_stale_by_team(data["stale_teams"], lang), meta=stamp
        )

        self.sec_tables.value = (
            f"<div class='crmkit-section'>{t('quality_by_table', lang)}</div>"
            f"<div class='crmkit-sub'>{t('def_quality_by_table', lang)}</div>"
        )
        qt = data["quality_tables"].copy()
        if not qt.empty:
            qt["table"] = [table_label(x, lang) for x in qt.table]
        self.tables_table.value = html_table(
            qt,
            {
                "table": t("table", lang),
                "rows": t("rows", lang),
                "completeness_share": t("completeness", lang),
                "validity_share": t("validity", lang),
                "stale_share": t("stale_share", lang),
                "quality_score": t("quality_score", lang),
            },
            empty=t("no_data", lang),
            lang=lang,
        )
        owners = _owner_teams(data["stale_owners"], lang)
        self.sec_owners.value = f"<div class='crmkit-section'>{t('stale_by_owner', lang)}</div>"
        self.owners_table.value = html_table(
            owners, _owner_headers(lang), empty=t("no_data", lang), lang=lang
        )
        self.owners_export.show(*stale_owner_list_export(data["stale_owners"], lang), f, lang)

        dups = _matched_on(data["duplicates"], lang)
        dup_headers = {c: t(f"dup_{c}", lang) for c in dups.columns}
        self.sec_dups.value = (
            f"<div class='crmkit-section'>{t('duplicates', lang)} ({fmt_int(len(dups))})</div>"
        )
        self.dups_table.value = html_table(dups, dup_headers, empty=t("no_data", lang), lang=lang)
        self.dups_export.show(*duplicate_list_export(data["duplicates"], lang), f, lang)


def data_overview(
    con: BaseBackend | None = None, *, lang: str = "zh", role: str | None = None
) -> Page:
    """The data overview and quality page (for ``dashboards/data_overview.ipynb``)."""
    return safe_page(DataOverviewPage, con, lang=lang, role=role)
