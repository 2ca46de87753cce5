"""What each dashboard page shows: filters → figures + tables, PII masked.

A page is one function here and one thin notebook in ``dashboards/`` that calls it. The split:

- ``*_data(con, filters, ...)`` functions compute a page's numbers as small pandas frames and
  dicts (pure: easy to test, and the browser tests compare the page against them);
- :class:`Page` lays the widgets out once — a shared :class:`FilterBar` (period, province, city,
  customer segment, owner team), a 中文 / English switch, KPI cards, ``go.FigureWidget`` charts
  and tables with CSV / Excel export — and on every change recomputes the data and assigns it to
  the existing widgets (never ``Output`` + ``clear_output``, which hangs at random under Voila).

Pages read the *published* snapshot read-only (``$CRMKIT_PUBLISHED``). Names, phones and emails
are masked for the ``dashboard`` role (``$CRMKIT_ROLE``, the default) on the page and in
exports; the ``analyst`` role sees them. Errors show a short message; the traceback goes to the
server log only.
"""

from __future__ import annotations

import html
import io
import logging
import math
import os
import sys
import traceback
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from datetime import datetime, timedelta

import ibis
import ibis.expr.types as ir

# A dashboard kernel starts for every page opened. plotly's FigureWidget imports nbformat, whose
# jsonschema builds an RFC 3987 grammar at import (~1 s) for an IRI format check no page uses;
# under `crmkit serve` (which sets CRMKIT_WIDGET_BUNDLE) that optional import is skipped.
if os.environ.get("CRMKIT_WIDGET_BUNDLE") and "jsonschema" not in sys.modules:
    sys.modules.setdefault("rfc3987_syntax", None)
import pandas as pd
from ibis.backends import BaseBackend

from crmkit import charts, classification, db, quality, schema
from crmkit.i18n import fmt_date, fmt_int, fmt_money, fmt_pct, t, table_label
from crmkit.privacy import check_role, mask_expr

log = logging.getLogger("crmkit.views")

#: Period presets: key -> days back from the snapshot's as_of (None: everything).
PERIODS: dict[str, int | None] = {"all": None, "30d": 30, "90d": 90, "365d": 365}
MAX_EXPORT_ROWS = 100_000
#: The dropdown value meaning "no filter" (ipywidgets shows a None value as a blank box).
ALL = ""
MAX_TABLE_ROWS = 50


def current_role(role: str | None = None) -> str:
    """The viewer's role: the argument, else ``$CRMKIT_ROLE``, else ``dashboard`` (masked)."""
    return check_role(role or os.environ.get("CRMKIT_ROLE") or "dashboard")


def open_snapshot(path: str | os.PathLike | None = None) -> BaseBackend:
    """The published snapshot, read-only (``$CRMKIT_PUBLISHED`` or data/published.duckdb)."""
    return db.connect(db.published_path(path), read_only=True)


# ---------------------------------------------------------------------------------------------
# Filters
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Filters:
    """The shared filter bar's state. ``None`` means all."""

    period: str = "all"
    province: str | None = None
    city: str | None = None
    segment: str | None = None
    owner_team: str | None = None

    def __post_init__(self) -> None:
        if self.period not in PERIODS:
            raise ValueError(f"unknown period {self.period!r}; expected one of {list(PERIODS)}")

    def describe(self, lang: str = "zh") -> str:
        """The filters in words, e.g. ``时间段: 近90天; 省份: 广东; …`` — recorded in exports."""
        parts = []
        for name, value in asdict(self).items():
            shown = t(f"period_{value}", lang) if name == "period" else value or t("all", lang)
            if name == "owner_team" and value:
                shown = t(f"team_{value}", lang)
            if name == "segment" and value:
                shown = segment_label(value, lang)
            parts.append(f"{t(name, lang)}: {shown}")
        return "; ".join(parts)


#: The segment of customers without a counted purchase (RFM does not score them).
POTENTIAL = "potential"


def segment_label(code: str, lang: str = "zh") -> str:
    """A customer segment's name: the Chinese 8-class RFM names (from ``crmkit.classification``)
    or 潜在客户 for customers who have not bought yet."""
    if code == POTENTIAL:
        return t("seg_potential", lang)
    zh, en = classification.RFM_CLASSES[code][3:]
    return zh if lang == "zh" else en


def data_as_of(con: BaseBackend) -> datetime:
    """The snapshot's clock: the latest timestamp in its data (see ``quality.data_as_of``)."""
    return quality.data_as_of(con)


def customers_in_scope(con: BaseBackend, f: Filters) -> ir.Table:
    """Customers matching the region, segment and owner-team filters (period not applied)."""
    c = con.table("customers")
    preds = []
    if f.province:
        preds.append(c.province == f.province)
    if f.city:
        preds.append(c.city == f.city)
    if f.owner_team:
        preds.append(c.owner_team == f.owner_team)
    c = c.filter(*preds) if preds else c
    if f.segment:
        seg = con.table("classification")
        seg = seg.filter(seg.rfm_class.fill_null(POTENTIAL) == f.segment)
        c = c.semi_join(seg, "customer_id")
    return c


def in_period(tbl: ir.Table, table: str, f: Filters, as_of: datetime) -> ir.Table:
    """Rows of ``tbl`` whose time column falls in the period ending at ``as_of``."""
    days = PERIODS[f.period]
    if days is None:
        return tbl
    col = tbl[schema.table(table).time_column]
    start = as_of - timedelta(days=days)
    return tbl.filter(col > start, col <= as_of)


def filter_options(con: BaseBackend) -> dict[str, list[str]]:
    """Values offered by the filter bar, from the snapshot; cities keyed by province."""
    c = con.table("customers")
    df = c.select("province", "city").distinct().to_pandas().dropna(subset=["province"])
    teams = list(schema.TABLES["customers"]["owner_team"].allowed)
    return {
        "province": sorted(df.province.unique().tolist()),
        "city": sorted(df.city.dropna().unique().tolist()),
        "segment": [*classification.RFM_CLASSES, POTENTIAL],
        "owner_team": teams,
        **{
            f"city:{p}": sorted(g.city.dropna().unique().tolist())
            for p, g in df.groupby("province")
        },
    }


# ---------------------------------------------------------------------------------------------
# Exports
# ---------------------------------------------------------------------------------------------


def export_frame(df: pd.DataFrame, name: str, f: Filters, lang: str, fmt: str) -> bytes:
    """A table as CSV or Excel bytes that records the filters that produced it and when.

    CSV: three ``#`` comment lines (name, filters, export time) then the table, UTF-8 with BOM so
    Excel opens Chinese correctly (``pd.read_csv(..., comment="#")`` reads it back). Excel: sheet
    ``data`` plus sheet ``about`` with the same three facts.
    """
    df = df.head(MAX_EXPORT_ROWS)
    stamp = datetime.now().strftime("%Y-%m-%d %H:%M:%S")
    about = [
        ("export", name),
        (t("filters_used", lang), f.describe(lang)),
        (t("exported_at", lang), stamp),
    ]
    if fmt == "csv":
        head = "".join(f"# {k}: {v}\n" for k, v in about)
        return ("\ufeff" + head + df.to_csv(index=False)).encode("utf-8")
    if fmt == "xlsx":
        buf = io.BytesIO()
        with pd.ExcelWriter(buf, engine="xlsxwriter") as xw:
            df.to_excel(xw, sheet_name="data", index=False)
            pd.DataFrame(about, columns=["item", "value"]).to_excel(
                xw, sheet_name="about", index=False
            )
        return buf.getvalue()
    raise ValueError(f"unknown export format {fmt!r}; expected 'csv' or 'xlsx'")


MIME = {
    "csv": "text/csv",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}

# A button that asks the kernel for the file only when clicked and hands it to the browser as a
# download: the page never carries every table's CSV and Excel copies in advance (at a million
# customers a segment list alone is megabytes).
_DOWNLOAD_ESM = """
function render({ model, el }) {
  const button = document.createElement("button");
  button.className = "crmkit-export";
  const sync = () => {
    button.textContent = model.get("label");
    button.dataset.format = model.get("format");
    button.dataset.name = model.get("name");
  };
  sync();
  model.on("change", sync);
  button.addEventListener("click", () => {
    button.disabled = true;
    model.send({ event: "export" });
  });
  model.on("msg:custom", (msg, buffers) => {
    if (msg.event !== "file") return;
    const url = URL.createObjectURL(new Blob([buffers[0]], { type: msg.mime }));
    const a = document.createElement("a");
    a.href = url;
    a.download = msg.filename;
    document.body.appendChild(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(url), 60000);
    button.disabled = false;
  });
  el.appendChild(button);
}
export default { render };
"""


def _download_button_class() -> type:
    import anywidget
    import traitlets

    class DownloadButton(anywidget.AnyWidget):
        """Export one table as CSV or Excel on click (see :func:`export_frame`)."""

        _esm = _DOWNLOAD_ESM
        label = traitlets.Unicode("").tag(sync=True)
        format = traitlets.Unicode("csv").tag(sync=True)
        name = traitlets.Unicode("").tag(sync=True)

        def __init__(self, fmt: str) -> None:
            super().__init__(format=fmt)
            self.source: tuple[pd.DataFrame, Filters, str] | None = None
            self.on_msg(self._on_click)

        def _on_click(self, _widget, content: dict, _buffers) -> None:  # noqa: ANN001
            if content.get("event") != "export" or self.source is None:
                return
            try:
                df, f, lang = self.source
                data = export_frame(df, self.name, f, lang, self.format)
                stamp = datetime.now().strftime("%Y%m%d-%H%M")
                self.send(
                    {
                        "event": "file",
                        "filename": f"{self.name}-{stamp}.{self.format}",
                        "mime": MIME[self.format],
                    },
                    [data],
                )
            except Exception:
                log.error("export %s failed:\n%s", self.name, traceback.format_exc())

    return DownloadButton


class ExportButtons:
    """CSV and Excel export buttons for one table; ``show(df, name, filters, lang)`` points them
    at the table currently on the page."""

    def __init__(self) -> None:
        import ipywidgets as w

        cls = _download_button_class()
        self.buttons = [cls("csv"), cls("xlsx")]
        self.widget = w.HBox(self.buttons)
        self.widget.add_class("crmkit-exports")

    def show(self, df: pd.DataFrame, name: str, f: Filters, lang: str) -> None:
        for b in self.buttons:
            b.source = (df, f, lang)
            b.name = name
            b.label = t(f"export_{b.format}", lang)


# ---------------------------------------------------------------------------------------------
# Page 1: data overview and quality (step 2 信息收集与维护)
# ---------------------------------------------------------------------------------------------

QUALITY_BANDS = [0.0, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0001]


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
        (masked for the dashboard role).
    """
    role = current_role(role)
    as_of = data_as_of(con)
    present = set(con.list_tables())
    counts = pd.DataFrame(
        [
            {
                "table": name,
                "label": table_label(name, lang),
                "rows": int(_scoped(con, name, f, as_of).count().execute()),
            }
            for name in schema.DATA_TABLES
            if name in present
        ]
    )
    scope = _scoped(con, "customers", f, as_of)
    rq = con.table("quality_records")
    rq = rq.semi_join(scope, "customer_id")
    scored = rq.join(
        scope.select("customer_id", "owner_team", "owner"),
        "customer_id",
    )
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

    owners = (
        scored.group_by(["owner_team", "owner"])
        .aggregate(customers=scored.count(), stale=scored.stale.cast("int64").sum())
        .mutate(stale_share=ibis._.stale / ibis._.customers)
        .order_by([ibis.desc("stale"), "owner_team", "owner"])
        .to_pandas()
    )

    dups = _duplicates_in_scope(con, scope, role)

    runs = con.table("ingest_runs") if "ingest_runs" in present else None
    last_ingest, reasons = _last_ingest(con, runs)

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


def _duplicates_in_scope(con: BaseBackend, scope: ir.Table, role: str) -> pd.DataFrame:
    d = con.table("quality_duplicates")
    d = d.filter(d.customer_id_b.notnull())
    ids = scope.select("customer_id")
    d = d.filter(d.customer_id_a.isin(ids.customer_id) | d.customer_id_b.isin(ids.customer_id))
    c = con.table("customers")
    show = {
        col: (
            mask_expr(c[col], schema.TABLES["customers"][col].pii)
            if role == "dashboard"
            else c[col]
        )
        for col in ("name", "phone", "email")
    }
    side = c.select("customer_id", **show, company=c.company)
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


# ---------------------------------------------------------------------------------------------
# Widgets
# ---------------------------------------------------------------------------------------------

CSS = """
<style>
.crmkit-page{font-family:"Noto Sans CJK SC","Microsoft YaHei","PingFang SC",Helvetica,Arial,
 sans-serif;color:#1f2933}
.crmkit-title{font-size:22px;font-weight:600;margin:4px 0}
.crmkit-sub{color:#52606d;font-size:13px}
.crmkit-cards{display:flex;flex-wrap:wrap;gap:10px;margin:8px 0}
.crmkit-card{border:1px solid #d9e2ec;border-radius:6px;padding:8px 14px;min-width:150px;
 background:#f8fafc}
.crmkit-card .v{font-size:22px;font-weight:600;color:#2f6db5}
.crmkit-card .l{font-size:13px;color:#52606d}
.crmkit-card .d{font-size:11px;color:#7b8794;max-width:240px}
.crmkit-small{color:#c2464b;font-size:11px}
table.crmkit-table{border-collapse:collapse;font-size:12px;margin:4px 0}
table.crmkit-table th,table.crmkit-table td{border-bottom:1px solid #e4e7eb;padding:3px 8px;
 text-align:left}
table.crmkit-table th{background:#f0f4f8}
.crmkit-exports button{margin:2px 10px 2px 0;font-size:12px;cursor:pointer}
.crmkit-section{font-size:16px;font-weight:600;margin:14px 0 4px}
.crmkit-error{color:#c2464b;font-size:14px;padding:8px}
</style>
"""
SMALL_N = 30


def chart_box_layout():  # noqa: ANN201
    """A box for one chart: the chart's fixed width (``charts.WIDTH``) plus a margin."""
    import ipywidgets as w

    return w.Layout(width=f"{charts.WIDTH + 10}px", overflow="hidden")


def _chart_row():  # noqa: ANN202
    import ipywidgets as w

    # two charts side by side on a wide screen, one above the other on a narrow one
    return w.Layout(flex_flow="row wrap")


def html_table(
    df: pd.DataFrame, headers: dict[str, str], *, max_rows: int = MAX_TABLE_ROWS, empty: str = ""
) -> str:
    """A small HTML table with translated headers (values are escaped)."""
    if df.empty:
        return f"<div class='crmkit-sub'>{html.escape(empty)}</div>"
    head = "".join(f"<th>{html.escape(headers.get(c, c))}</th>" for c in headers)
    body = []
    for _, row in df.head(max_rows).iterrows():
        cells = []
        for c in headers:
            v = row[c]
            if isinstance(v, float) and math.isnan(v):
                v = "—"
            elif isinstance(v, float):
                v = f"{v:.1%}" if c.endswith("share") else f"{v:,.2f}"
            elif isinstance(v, int) and not isinstance(v, bool):
                v = f"{v:,}"
            elif isinstance(v, (pd.Timestamp, datetime)):
                v = f"{v:%Y-%m-%d %H:%M}"
            cells.append(f"<td>{html.escape('' if v is None or v is pd.NA else str(v))}</td>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    more = (
        f"<div class='crmkit-sub'>… {len(df) - max_rows:,} more</div>" if len(df) > max_rows else ""
    )
    return f"<table class='crmkit-table'><tr>{head}</tr>{''.join(body)}</table>{more}"


def card_html(
    key: str, value: object, label: str, definition: str, *, fmt: str, n: int | None, lang: str
) -> str:
    """A KPI card; ``data-key``/``data-value`` let tests read the exact number."""
    if value is None:
        shown = "—"
    elif fmt == "pct":
        shown = fmt_pct(value, lang)
    elif fmt == "score":
        shown = f"{value:.3f}"
    else:
        shown = fmt_int(value, lang)
    small = (
        f"<div class='crmkit-small'>{t('small_sample', lang)}</div>"
        if n is not None and n < SMALL_N
        else ""
    )
    raw = "" if value is None else repr(value)
    return (
        f"<div class='crmkit-card' data-key='{key}' data-value='{raw}' "
        f"title='{html.escape(definition)}'>"
        f"<div class='l'>{html.escape(label)}</div><div class='v'>{shown}</div>"
        f"<div class='d'>{html.escape(definition)}</div>{small}</div>"
    )


def cards_html(data: dict, formats: dict[str, str], lang: str) -> str:
    """The row of KPI cards for ``data["cards"]`` (key -> value, label, definition), each
    formatted as ``formats[key]`` ("int", "pct", "score") and flagged when ``data["n"]`` is
    small."""
    cards = "".join(
        card_html(k, v, label, d, fmt=formats[k], n=data["n"], lang=lang)
        for k, (v, label, d) in data["cards"].items()
    )
    return f"<div class='crmkit-cards'>{cards}</div>"


class FilterBar:
    """Period, province, city, segment and owner-team dropdowns plus the language switch.

    ``on_change(filters, lang)`` is called after any change; the city list follows the chosen
    province.
    """

    def __init__(self, options: dict[str, list[str]], lang: str, on_change: Callable) -> None:
        import ipywidgets as w

        self.options, self.lang, self._on_change = options, lang, on_change
        self._mute = False
        lay = w.Layout(width="180px")
        self.period = w.Dropdown(layout=lay)
        self.province = w.Dropdown(layout=lay)
        self.city = w.Dropdown(layout=lay)
        self.segment = w.Dropdown(layout=lay)
        self.owner_team = w.Dropdown(layout=lay)
        self.language = w.ToggleButtons(
            options=[("中文", "zh"), ("English", "en")],
            value=lang,
            style={"button_width": "70px"},
        )
        for name in ("period", "province", "city", "segment", "owner_team"):
            getattr(self, name).add_class(f"crmkit-filter-{name}")
        self.language.add_class("crmkit-language")
        self._relabel(Filters())
        for dd in (
            self.period,
            self.province,
            self.city,
            self.segment,
            self.owner_team,
            self.language,
        ):
            dd.observe(self._changed, names="value")
        self.widget = w.HBox(
            [self.period, self.province, self.city, self.segment, self.owner_team, self.language],
            layout=w.Layout(flex_flow="row wrap"),
        )

    def _choices(self, name: str, values: list[str], lang: str) -> list[tuple[str, str | None]]:
        label = {
            "segment": lambda v: segment_label(v, lang),
            "owner_team": lambda v: t(f"team_{v}", lang),
        }.get(name, lambda v: v)
        return [(t("all", lang), ALL)] + [(label(v), v) for v in values]

    def _relabel(self, f: Filters) -> None:
        self._mute = True
        try:
            lang = self.lang
            self.period.options = [(t(f"period_{p}", lang), p) for p in PERIODS]
            self.period.value = f.period
            self.period.description = t("period", lang)
            self.province.options = self._choices("province", self.options["province"], lang)
            self.province.value = f.province or ALL
            self.province.description = t("province", lang)
            cities = self.options.get(f"city:{f.province}", []) if f.province else []
            self.city.options = self._choices("city", cities, lang)
            self.city.value = f.city if f.city in cities else ALL
            self.city.description = t("city", lang)
            self.segment.options = self._choices("segment", self.options["segment"], lang)
            self.segment.value = f.segment or ALL
            self.segment.description = t("segment", lang)
            self.owner_team.options = self._choices("owner_team", self.options["owner_team"], lang)
            self.owner_team.value = f.owner_team or ALL
            self.owner_team.description = t("owner_team", lang)
        finally:
            self._mute = False

    @property
    def filters(self) -> Filters:
        return Filters(
            period=self.period.value or "all",
            province=self.province.value or None,
            city=self.city.value or None,
            segment=self.segment.value or None,
            owner_team=self.owner_team.value or None,
        )

    def _changed(self, change: dict) -> None:
        if self._mute:
            return
        f = self.filters
        if change["owner"] is self.province:
            f = replace(f, city=None)
        if change["owner"] is self.language:
            self.lang = self.language.value
        self._relabel(f)
        self._on_change(f, self.lang)


class Page:
    """A dashboard page: title, filter bar, and sections refreshed on every change.

    Subclasses implement ``build()`` (create the widgets once) and ``update(data)`` (assign new
    data), and ``compute(filters, lang)`` (call the page's ``*_data`` function).
    """

    title_key = "app_title"

    def __init__(
        self, con: BaseBackend | None = None, *, lang: str = "zh", role: str | None = None
    ) -> None:
        import ipywidgets as w

        self.w = w
        self.con = con or open_snapshot()
        self.lang, self.role = lang, current_role(role)
        self.header = w.HTML()
        self.status = w.HTML()
        self.filter_bar = FilterBar(filter_options(self.con), lang, self._on_filters)
        self.body = self.build()
        self.widget = w.VBox(
            [w.HTML(CSS), self.header, self.filter_bar.widget, self.status, self.body],
        )
        self.widget.add_class("crmkit-page")
        self.refresh(Filters(), lang)

    def build(self):  # noqa: ANN201
        raise NotImplementedError

    def compute(self, f: Filters, lang: str) -> dict:
        raise NotImplementedError

    def update(self, data: dict, f: Filters, lang: str) -> None:
        raise NotImplementedError

    def _on_filters(self, f: Filters, lang: str) -> None:
        self.refresh(f, lang)

    def refresh(self, f: Filters, lang: str) -> None:
        """Recompute and redraw; on failure show a short message and log the traceback."""
        self.lang = lang
        self.status.value = f"<div class='crmkit-busy crmkit-sub'>{t('updating', lang)}</div>"
        try:
            data = self.compute(f, lang)
            self.header.value = (
                f"<div class='crmkit-title'>{html.escape(t(self.title_key, lang))}</div>"
                f"<div class='crmkit-sub'>{t('as_of', lang)}: {fmt_date(data['as_of'], lang)}"
                f" · {html.escape(f.describe(lang))}</div>"
            )
            self.update(data, f, lang)
            # the marker names the filters it is ready for: tests (and scripts) wait on it
            self.status.value = (
                f"<div class='crmkit-ready' data-filters='{html.escape(f.describe('zh'))}' "
                f"data-lang='{lang}'></div>"
            )
        except Exception:
            log.error("page %s failed:\n%s", type(self).__name__, traceback.format_exc())
            self.status.value = (
                f"<div class='crmkit-error'>{html.escape(t('error_short', lang))}</div>"
            )

    def _ipython_display_(self) -> None:
        from IPython.display import display

        display(self.widget)


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
        row1 = w.HBox([self.fig_counts, self.fig_bands], layout=_chart_row())
        row2 = w.HBox([self.fig_columns, self.fig_stale], layout=_chart_row())
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
        )
        charts.show_in(self.fig_counts, charts.plot_table_counts(data["counts"], lang), meta=stamp)
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
        )
        self.sec_ingest.value = f"<div class='crmkit-section'>{t('last_ingest', lang)}</div>"
        li = data["last_ingest"].copy()
        li["table_name"] = [table_label(x, lang) for x in li.table_name]
        rr = data["reject_reasons"]
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
        ) + (
            f"<div class='crmkit-sub'>{t('top_reject_reasons', lang)}</div>"
            + html_table(
                rr,
                {
                    "column_name": t("column", lang),
                    "reason": t("reason", lang),
                    "rows": t("rows", lang),
                },
            )
            if not rr.empty
            else ""
        )

        owners = data["stale_owners"].copy()
        owners["owner_team"] = [
            t(f"team_{x}", lang) if isinstance(x, str) else t("unassigned", lang)
            for x in owners.owner_team
        ]
        owner_headers = {
            "owner_team": t("owner_team", lang),
            "owner": t("owner", lang),
            "customers": t("customers", lang),
            "stale": t("stale", lang),
            "stale_share": t("stale_share", lang),
        }
        self.sec_owners.value = f"<div class='crmkit-section'>{t('stale_by_owner', lang)}</div>"
        self.owners_table.value = html_table(owners, owner_headers, empty=t("no_data", lang))
        self.owners_export.show(owners.rename(columns=owner_headers), "stale_by_owner", f, lang)

        dups = data["duplicates"]
        dup_headers = {c: t(f"dup_{c}", lang) for c in dups.columns}
        self.sec_dups.value = (
            f"<div class='crmkit-section'>{t('duplicates', lang)} ({fmt_int(len(dups))})</div>"
        )
        self.dups_table.value = html_table(dups, dup_headers, empty=t("no_data", lang))
        self.dups_export.show(dups.rename(columns=dup_headers), "duplicate_candidates", f, lang)


#: Dashboard pages: notebook name (in dashboards/) -> (title key, description key).
PAGES: dict[str, tuple[str, str]] = {
    "data_overview": ("page_data_overview", "page_data_overview_desc"),
    "classification": ("page_classification", "page_classification_desc"),
}


def landing(lang: str | None = None):  # noqa: ANN201
    """The landing page: a link to every page, in both languages."""
    import ipywidgets as w

    items = []
    for nb, (title, desc) in PAGES.items():
        items.append(
            f"<li class='crmkit-page-link'><a href='./{nb}.ipynb' data-page='{nb}'>"
            f"{html.escape(t(title, 'zh'))} · {html.escape(t(title, 'en'))}</a>"
            f"<div class='crmkit-sub'>{html.escape(t(desc, 'zh'))}<br>"
            f"{html.escape(t(desc, 'en'))}</div></li>"
        )
    body = (
        f"{CSS}<div class='crmkit-page'><div class='crmkit-title'>{t('page_index', 'zh')} · "
        f"{t('page_index', 'en')}</div><ul>{''.join(items)}</ul></div>"
    )
    return w.HTML(body)


def data_overview(
    con: BaseBackend | None = None, *, lang: str = "zh", role: str | None = None
) -> Page:
    """The data overview and quality page (for ``dashboards/data_overview.ipynb``)."""
    return _safe(DataOverviewPage, con, lang=lang, role=role)


def _safe(cls: type[Page], con: BaseBackend | None, **kw) -> Page:
    """Build a page; if even that fails, a page with the short error message only."""
    try:
        return cls(con, **kw)
    except Exception:
        import ipywidgets as w

        log.error("building %s failed:\n%s", cls.__name__, traceback.format_exc())
        lang = kw.get("lang", "zh")
        page = object.__new__(Page)
        page.widget = w.HTML(
            f"<div class='crmkit-error'>{html.escape(t('error_short', lang))}</div>"
        )
        return page


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


def _label(col: str, lang: str) -> str:
    return f"{col}_{'zh' if lang == 'zh' else 'en'}"


def classified_in_scope(con: BaseBackend, f: Filters, as_of: datetime) -> ir.Table:
    """The published classification of customers in scope. A period keeps the customers who
    bought in it (their last counted purchase falls in the period)."""
    cls = con.table("classification").semi_join(customers_in_scope(con, f), "customer_id")
    days = PERIODS[f.period]
    if days is not None:
        cls = cls.filter(cls.last_order_ts > as_of - timedelta(days=days))
    return cls


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
        ``list_segment``, most valuable first, PII masked for the dashboard role).
    """
    role = current_role(role)
    as_of = data_as_of(con)
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

    migration = _migration_in_scope(con, f, lang, as_of, migration_from, migration_to)

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

    lst = cls.filter(seg == list_segment)
    c = con.table("customers")
    shown = {
        col: mask_expr(c[col], schema.TABLES["customers"][col].pii)
        if role == "dashboard"
        else c[col]
        for col in ("name", "phone")
    }
    people = c.select("customer_id", "owner", **shown)
    lst = lst.join(people, "customer_id").order_by([ibis.desc("monetary"), "customer_id"])
    customers = (
        lst.select(
            "customer_id",
            "name",
            "phone",
            segment=ibis.literal(segment_label(list_segment, lang)),
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
    if "classification_snapshots" not in con.list_tables():
        return pd.DataFrame(columns=cols)
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
                w.HBox([self.fig_segments, self.fig_pareto], layout=_chart_row()),
                w.HBox([self.fig_rfm, self.class_table], layout=_chart_row()),
                w.HBox(
                    [
                        self.fig_map,
                        w.VBox(
                            [w.HBox([self.migration_from, self.migration_to]), self.fig_migration]
                        ),
                    ],
                    layout=_chart_row(),
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
        self.cards.value = (
            cards_html(
                data,
                {
                    "customers": "int",
                    "important": "int",
                    "a_revenue_share": "pct",
                    "churned_share": "pct",
                },
                lang,
            )
            + f"<div class='crmkit-sub'>{t('rules_version', lang)}: "
            f"{html.escape(str(data['rules_version']))}</div>"
        )
        charts.show_in(self.fig_segments, charts.plot_segments(data["segments"], lang), meta=stamp)
        charts.show_in(self.fig_pareto, charts.plot_pareto(data["pareto"], lang), meta=stamp)
        charts.show_in(self.fig_map, charts.plot_maintenance_map(data["map"], lang), meta=stamp)
        charts.show_in(
            self.fig_migration,
            charts.plot_migration(data["migration"], lang, data["migration"].attrs.get("order")),
            meta=stamp,
        )

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
            + html_table(ct, {c: t(f"col_{c}", lang) for c in cols})
        )
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
        self.list_table.value = html_table(shown, headers, empty=t("no_data", lang))
        self.list_export.show(
            lst.rename(columns=headers), f"customers_{data['list_segment']}", f, lang
        )


def customer_classification(
    con: BaseBackend | None = None, *, lang: str = "zh", role: str | None = None
) -> Page:
    """The classification and maintenance-map page (``dashboards/classification.ipynb``)."""
    return _safe(ClassificationPage, con, lang=lang, role=role)
