"""What each dashboard page shows: filters → figures + tables, PII masked.

A page is one function here and one thin notebook in ``dashboards/`` that calls it. The split:

- ``*_data(con, filters, ...)`` functions compute a page's numbers as small pandas frames and
  dicts (pure: easy to test, and the browser tests compare the page against them);
- :class:`Page` lays the widgets out once — a shared :class:`FilterBar` (period, province, city,
  customer segment, owner team), a 中文 / English switch, KPI cards, ``go.FigureWidget`` charts
  and tables with CSV / Excel export — and on every change recomputes the data and assigns it to
  the existing widgets (never ``Output`` + ``clear_output``, which hangs at random under Voila).

Pages read the *published* snapshot read-only (``$CRMKIT_PUBLISHED``): for the ``dashboard``
role (``$CRMKIT_ROLE``, the default) the file whose names, phones, emails and free text
``crmkit publish`` stored masked (and the pages mask them again, for a snapshot published
before); the ``analyst`` role reads the clear analyst snapshot beside it
(:func:`crmkit.db.analyst_path`). Exports are formula-safe
(:func:`crmkit.privacy.formula_safe_frame`). Errors show a short message; the traceback goes
to the server log only.
"""

from __future__ import annotations

import html
import io
import logging
import math
import os
import sys
import traceback
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, replace
from datetime import datetime

import ibis
import ibis.expr.types as ir

# A dashboard kernel starts for every page opened. plotly's FigureWidget imports nbformat, whose
# jsonschema builds an RFC 3987 grammar at import (~1 s) for an IRI format check no page uses;
# under `crmkit serve` (which sets CRMKIT_WIDGET_BUNDLE) that optional import is skipped.
if os.environ.get("CRMKIT_WIDGET_BUNDLE") and "jsonschema" not in sys.modules:
    sys.modules.setdefault("rfc3987_syntax", None)
import pandas as pd
from ibis.backends import BaseBackend

from crmkit import charts, classification, db, definitions, periods, schema, stats
from crmkit.i18n import fmt_date, fmt_int, fmt_pct, reason_text, t
from crmkit.privacy import check_role, formula_safe_frame, mask_expr

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


def open_snapshot(path: str | os.PathLike | None = None, *, role: str | None = None) -> BaseBackend:
    """The published snapshot, read-only (``path``, ``$CRMKIT_PUBLISHED`` or
    data/published.duckdb): personal data masked for the ``dashboard`` role, the analyst
    snapshot beside it (clear) for the ``analyst`` role (:func:`current_role`)."""
    if current_role(role) == "analyst":
        return db.connect(db.analyst_path(path), read_only=True)
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

    def window(self, as_of: datetime) -> periods.Period | None:
        """The period filter as a half-open window: the last N days up to the end of the
        ``as_of`` day (:func:`crmkit.periods.trailing_window`); None for all time."""
        days = PERIODS[self.period]
        return None if days is None else periods.trailing_window(as_of, days)

    def keep(self, column: ir.Value, as_of: datetime) -> ir.BooleanValue | None:
        """The predicate "``column`` falls in :meth:`window`" (None for all time)."""
        w = self.window(as_of)
        if w is None:
            return None
        return (column >= ibis.literal(w.start, type="timestamp")) & (
            column < ibis.literal(w.end, type="timestamp")
        )

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


POTENTIAL = definitions.POTENTIAL


def segment_label(code: str, lang: str = "zh") -> str:
    """A customer segment's name: the Chinese 8-class RFM names (from ``crmkit.classification``)
    or 潜在客户 for customers who have not bought yet."""
    if code == POTENTIAL:
        return t("seg_potential", lang)
    zh, en = classification.RFM_CLASSES[code][3:]
    return zh if lang == "zh" else en


def kpi_scope(con: BaseBackend, f: Filters) -> ir.Table | None:
    """The customers a KPI is computed over: None (everyone: the published values apply) when
    no region, segment or owner-team filter is set, else :func:`customers_in_scope`."""
    if f.province or f.city or f.segment or f.owner_team:
        return customers_in_scope(con, f)
    return None


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


def customers_for_role(
    con: BaseBackend,
    role: str,
    *,
    pii: tuple[str, ...] = ("name", "phone"),
    columns: tuple[str, ...] = ("customer_id",),
) -> ir.Table:
    """The customers' ``columns`` and personal ``pii`` columns, masked for the ``dashboard`` role
    (:func:`crmkit.privacy.mask_expr`), clear for ``analyst``: what every list joins to."""
    c = con.table("customers")
    shown = {
        col: mask_expr(c[col], schema.TABLES["customers"][col].pii)
        if role == "dashboard"
        else c[col]
        for col in pii
    }
    return c.select(*columns, **shown)


def in_period(tbl: ir.Table, table: str, f: Filters, as_of: datetime) -> ir.Table:
    """Rows of ``tbl`` whose time column falls in the period ending at ``as_of``."""
    keep = f.keep(tbl[schema.table(table).time_column], as_of)
    return tbl if keep is None else tbl.filter(keep)


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

    Both are formula-safe: text that starts like a formula (``=``, ``+``, ``-``, ``@``, tab,
    carriage return) gets a leading ``'`` (:func:`crmkit.privacy.formula_safe_frame`), and the
    Excel file is written with formulas and URLs off, so every text cell is a plain string.
    """
    df = formula_safe_frame(df.head(MAX_EXPORT_ROWS))
    stamp = datetime.now().strftime("%Y-%m-%d %H:%M:%S")
    about = [
        ("export", name),
        (t("filters_used", lang), f.describe(lang)),
        (t("exported_at", lang), stamp),
    ]
    if fmt == "csv":
        # one cell per line whatever a filter value holds: a comma would start a new cell
        head = "".join(
            f"# {k}: {v}".replace(",", "，").replace("\r", " ").replace("\n", " ") + "\n"
            for k, v in about
        )
        return ("\ufeff" + head + df.to_csv(index=False)).encode("utf-8")
    if fmt == "xlsx":
        buf = io.BytesIO()
        options = {"strings_to_formulas": False, "strings_to_urls": False}
        with pd.ExcelWriter(buf, engine="xlsxwriter", engine_kwargs={"options": options}) as xw:
            df.to_excel(xw, sheet_name="data", index=False)
            formula_safe_frame(pd.DataFrame(about, columns=["item", "value"])).to_excel(
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
.crmkit-na{color:#52606d;font-size:14px;padding:8px 0}
.crmkit-unavailable{color:#7b8794;font-style:italic}
</style>
"""
SMALL_N = stats.MIN_N


def chart_box_layout():  # noqa: ANN201
    """A box for one chart: the chart's fixed width (``charts.WIDTH``) plus a margin."""
    import ipywidgets as w

    return w.Layout(width=f"{charts.WIDTH + 10}px", overflow="hidden")


def chart_row():  # noqa: ANN202
    import ipywidgets as w

    # two charts side by side on a wide screen, one above the other on a narrow one
    return w.Layout(flex_flow="row wrap")


def html_table(
    df: pd.DataFrame,
    headers: dict[str, str],
    *,
    lang: str,
    max_rows: int = MAX_TABLE_ROWS,
    empty: str = "",
) -> str:
    """A small HTML table with translated headers (values are escaped); past ``max_rows`` a
    line in ``lang`` says how many rows are not shown."""
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
        f"<div class='crmkit-sub'>{t('more_rows', lang, n=fmt_int(len(df) - max_rows))}</div>"
        if len(df) > max_rows
        else ""
    )
    return f"<table class='crmkit-table'><tr>{head}</tr>{''.join(body)}</table>{more}"


def card_html(
    key: str,
    value: object,
    label: str,
    definition: str,
    *,
    fmt: str,
    n: int | None,
    lang: str,
    reasons: Mapping[str, str] | None = None,
) -> str:
    """A KPI card; ``data-key``/``data-value`` let tests read the exact number. With
    ``reasons`` (its section's data is missing: :func:`unavailable_sections`) it says "not
    available" and why instead of a number (``data-available='false'``)."""
    if reasons:
        return (
            f"<div class='crmkit-card' data-key='{key}' data-value='' data-available='false' "
            f"title='{html.escape(definition)}'>"
            f"<div class='l'>{html.escape(label)}</div><div class='v'>—</div>"
            f"<div class='d crmkit-unavailable'>{html.escape(reasons_text(reasons, lang))}</div>"
            "</div>"
        )
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


def cards_html(
    data: dict, formats: dict[str, str], lang: str, sections: Mapping[str, str] | None = None
) -> str:
    """The row of KPI cards for ``data["cards"]`` (key -> value, label, definition), each
    formatted as ``formats[key]`` ("int", "pct", "score") and flagged when ``data["n"]`` is
    small. ``sections`` names the page section of each card: a card of a section in
    ``data["unavailable"]`` says "not available" with the reasons."""
    missing = data.get("unavailable", {})
    cards = "".join(
        card_html(
            k,
            v,
            label,
            d,
            fmt=formats[k],
            n=data.get("n"),
            lang=lang,
            reasons=missing.get((sections or {}).get(k)),
        )
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


def skipped_steps(con: BaseBackend) -> dict[str, str]:
    """The publish steps that did not run on this snapshot, with their reason codes
    (``publish_steps``; :func:`crmkit.i18n.reason_text` words them). A snapshot without
    ``publish_steps`` (published by an older crmkit) reports none."""
    if "publish_steps" not in con.list_tables():
        return {}
    ps = con.table("publish_steps")
    rows = ps.filter(ps.status != "ok").to_pandas()
    return dict(zip(rows.step, rows.reason.fillna(""), strict=True))


@dataclass(frozen=True)
class Section:
    """What one section of a page (cards, a chart, a table) reads: the publish steps that must
    have run and the data tables that must hold rows. Without them the section says "not
    available" with the reason, and the rest of the page still shows."""

    steps: tuple[str, ...] = ()
    tables: tuple[str, ...] = ()


def unavailable_sections(
    con: BaseBackend, sections: Mapping[str, Section]
) -> dict[str, dict[str, str]]:
    """The sections of a page that cannot be shown on this snapshot, each with why:
    ``{section: {step or table: reason code}}`` — a step of the section that was skipped at
    publish (:func:`skipped_steps`), a table that is absent (``no_table:T``) or holds no rows
    (``empty_table:T``). Sections that can be shown are not listed."""
    skipped = skipped_steps(con)
    present = set(con.list_tables())
    rows: dict[str, int] = {}
    out: dict[str, dict[str, str]] = {}
    for name, sec in sections.items():
        why = {s: root_reason(skipped[s], skipped) for s in sec.steps if s in skipped}
        for tbl in sec.tables:
            if tbl not in present:
                why[tbl] = f"no_table:{tbl}"
                continue
            if tbl not in rows:
                rows[tbl] = int(con.table(tbl).count().execute())
            if not rows[tbl]:
                why[tbl] = f"empty_table:{tbl}"
        if why:
            out[name] = why
    return out


def root_reason(reason: str, skipped: Mapping[str, str]) -> str:
    """The reason a user can act on: a step (or KPI) that lacks a table an earlier step did not
    write (``no_table:classification``) is missing for that step's reason in ``skipped``
    (:func:`skipped_steps`: ``empty_table:orders``).

    >>> root_reason("no_table:clv", {"clv": "too_few:repeat_buyers:1:50"})
    'too_few:repeat_buyers:1:50'
    """
    seen = set()
    while reason not in seen:
        seen.add(reason)
        code, _, arg = reason.partition(":")
        if code != "no_table" or arg not in skipped:
            break
        reason = skipped[arg]
    return reason


def reasons_text(reasons: Mapping[str, str], lang: str) -> str:
    """The words of a "not available" note: 暂不可用：<reasons> / Not available: <reasons>,
    each reason once. A step skipped only because an earlier step wrote nothing (its reason
    names a snapshot table, not a warehouse table) is left out when a root cause is listed."""

    def root(r: str) -> bool:
        code, _, arg = r.partition(":")
        return code not in ("no_table", "empty_table") or set(arg.split(",")) <= set(schema.TABLES)

    shown = [r for r in dict.fromkeys(reasons.values()) if root(r)] or list(reasons.values())
    colon, sep = ("：", "；") if lang == "zh" else (": ", "; ")
    return t("na_note", lang) + colon + sep.join(reason_text(r, lang) for r in shown)


def unavailable_html(reasons: Mapping[str, str], lang: str, *, title: str = "") -> str:
    """The "not available" note of a section, under its ``title``: :func:`reasons_text`."""
    head = f"<div class='crmkit-section'>{html.escape(title)}</div>" if title else ""
    return (
        f"{head}<div class='crmkit-unavailable crmkit-na'>"
        f"{html.escape(reasons_text(reasons, lang))}</div>"
    )


def show_chart(
    box,  # noqa: ANN001
    figure: Callable[[], object],
    reasons: Mapping[str, str] | None,
    *,
    title: str,
    lang: str,
    meta: str,
) -> None:
    """Draw ``figure()`` in ``box`` (:func:`crmkit.charts.show_in`), or, when the chart's
    section is not available (``reasons``), the note with the chart's ``title`` in its place
    (:func:`show_unavailable`)."""
    if reasons:
        show_unavailable(box, reasons, title=title, lang=lang)
    else:
        charts.show_in(box, figure(), meta=meta)


def show_unavailable(box, reasons: Mapping[str, str], *, title: str, lang: str) -> None:  # noqa: ANN001
    """Put the "not available" note of a chart (:func:`unavailable_html` under its ``title``)
    in the chart's ``box``."""
    import ipywidgets as w

    note = unavailable_html(reasons, lang, title=title)
    if box.children and isinstance(box.children[0], w.HTML):
        box.children[0].value = note
    else:
        box.children = (w.HTML(note),)


class Page:
    """A dashboard page: title, filter bar, and sections refreshed on every change.

    Subclasses implement ``build()`` (create the widgets once) and ``update(data)`` (assign new
    data), and ``compute(filters, lang)`` (call the page's ``*_data`` function). A data
    function answers ``unavailable`` (section → {step or table: reason}) for the sections
    whose publish step was skipped or whose table is empty (a company's data without feedback,
    say): ``update`` shows each such card, chart and table as "not available" with the reason
    (:func:`cards_html`, :func:`show_chart`, :func:`unavailable_html`) and draws the rest.
    """

    title_key = "app_title"

    def __init__(
        self, con: BaseBackend | None = None, *, lang: str = "zh", role: str | None = None
    ) -> None:
        import ipywidgets as w

        self.w = w
        self.lang, self.role = lang, current_role(role)
        self.con = con or open_snapshot(role=self.role)
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
        # the marker names the filters it is ready for: tests (and scripts) wait on it
        ready = (
            f"<div class='crmkit-ready' data-filters='{html.escape(f.describe('zh'))}' "
            f"data-lang='{lang}'></div>"
        )
        try:
            data = self.compute(f, lang)
            self.header.value = (
                f"<div class='crmkit-title'>{html.escape(t(self.title_key, lang))}</div>"
                f"<div class='crmkit-sub'>{t('as_of', lang)}: {fmt_date(data['as_of'], lang)}"
                f" · {html.escape(f.describe(lang))}</div>"
            )
            self.update(data, f, lang)
            self.status.value = ready
        except Exception:
            log.error("page %s failed:\n%s", type(self).__name__, traceback.format_exc())
            self.status.value = (
                f"<div class='crmkit-error'>{html.escape(t('error_short', lang))}</div>"
            )

    def _ipython_display_(self) -> None:
        from IPython.display import display

        display(self.widget)


#: Dashboard pages: notebook name (in dashboards/) -> (title key, description key).
PAGES: dict[str, tuple[str, str]] = {
    "overview": ("page_overview", "page_overview_desc"),
    "data_overview": ("page_data_overview", "page_data_overview_desc"),
    "classification": ("page_classification", "page_classification_desc"),
    "needs": ("page_needs", "page_needs_desc"),
    "satisfaction": ("page_satisfaction", "page_satisfaction_desc"),
    "churn": ("page_churn", "page_churn_desc"),
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


def safe_page(cls: type[Page], con: BaseBackend | None, **kw) -> Page:
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
