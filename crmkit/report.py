"""The management report (经营报告): one self-contained HTML file from the overview page's data.

``crmkit report [--period 2025-Q3] [--lang zh|en] [--out FILE]`` renders
:func:`crmkit.views.kpi_overview_data` — the same numbers as the overview page — as a single HTML
file: KPIs against targets (cards and a table with definitions, intervals, n, forecast), what
changed against the previous period, the alerts (return rates with reasons; satisfaction and
churn hooks), the sales pipeline and the lists to act on with personal data masked. plotly.js is
embedded inline from the installed ``plotly`` package, so the file opens with no network.

Examples
--------
>>> from crmkit import report  # doctest: +SKIP
>>> report.write_report("report.html", period="2026-Q3", lang="en")  # doctest: +SKIP
"""

from __future__ import annotations

import html
import math
import os
from datetime import datetime
from pathlib import Path

import pandas as pd
from ibis.backends import BaseBackend

from crmkit import db
from crmkit.i18n import channel_label, fmt_date, fmt_pct, reason_text, t

#: Personal data in the report is always masked (it leaves the workbench as a file).
REPORT_ROLE = "dashboard"
#: Return reasons listed per flagged product.
REASONS_SHOWN = 5

_EXTRA_CSS = """
<style>
body{margin:24px auto;max-width:1280px;padding:0 16px}
.crmkit-card a{color:inherit;text-decoration:none}
.crmkit-charts{display:flex;flex-wrap:wrap;gap:10px}
.crmkit-note{color:#52606d;font-size:12px;margin:6px 0}
@media print{.crmkit-charts{display:block}}
</style>
"""


def _plotly_js() -> str:
    from plotly.offline import get_plotlyjs

    return get_plotlyjs()


def _num(v: object) -> bool:
    return v is not None and not (isinstance(v, float) and math.isnan(v)) and v is not pd.NA


def kpi_table(evaluation: pd.DataFrame, lang: str) -> pd.DataFrame:
    """KPIs against targets as a display table (values formatted by unit)."""
    from crmkit.views.kpi import CARD_KEYS, format_value

    ev = evaluation.set_index("key", drop=False)
    rows = []
    for k in CARD_KEYS:
        if k not in ev.index:
            continue
        r = ev.loc[k]
        unit, definition = r.unit, r[f"definition_{lang}"]
        interval = (
            f"{format_value(r.lo, unit, lang)} – {format_value(r.hi, unit, lang)}"
            if _num(r.lo)
            else "—"
        )
        rows.append(
            {
                "kpi": r["name"],
                "value": format_value(r.value, unit, lang)
                if r.available
                else t("kpi_unavailable", lang),
                "target": format_value(r.target, unit, lang)
                if _num(r.target)
                else t("kpi_no_target", lang),
                "attainment": fmt_pct(r.attainment, lang) if _num(r.attainment) else "—",
                "forecast": format_value(r.forecast, unit, lang) if _num(r.forecast) else "—",
                "n": f"{int(r.n):,}" if _num(r.n) else "—",
                "interval": interval,
                "definition": definition
                if r.available
                else f"{definition} ({reason_text(r.reason, lang)})",
            }
        )
    return pd.DataFrame(rows)


def changes(evaluation: pd.DataFrame, lang: str) -> list[str]:
    """What changed vs the previous period, one sentence per available KPI, largest relative
    change first."""
    from crmkit.views.kpi import format_value

    ev = evaluation[evaluation.available & evaluation.change.notna()].copy()
    if ev.empty:
        return []
    prev = ev.previous.astype(float).abs().replace(0, float("nan"))
    ev["_rel"] = (ev.change.astype(float).abs() / prev).fillna(float("inf"))
    out = []
    for r in ev.sort_values("_rel", ascending=False).itertuples():
        word = t(f"kpi_{r.direction}", lang)
        delta = (
            f"{r.change * 100:+.1f} pp"
            if r.unit == "rate"
            else f"{'+' if r.change >= 0 else '-'}{format_value(abs(r.change), r.unit, lang)}"
        )
        out.append(
            f"<li class='crmkit-change-{r.direction}'>{html.escape(r.name)}: "
            f"{format_value(r.previous, r.unit, lang)} ({html.escape(r.previous_period)}) → "
            f"{format_value(r.value, r.unit, lang)} ({html.escape(r.period)}), {delta}, "
            f"{word}</li>"
        )
    return out


def render(data: dict, lang: str = "zh", *, generated: datetime | None = None) -> str:
    """The report HTML for one :func:`crmkit.views.kpi_overview_data` result."""
    from crmkit.views import base
    from crmkit.views.base import html_table, unavailable_html
    from crmkit.views.kpi import (
        FIGURES,
        alerts_html,
        figures,
        kpi_cards_html,
        lists_html,
        period_line,
        trend_note_html,
        unavailable_figures,
    )

    generated = generated or datetime.now()
    figs = figures(data, lang)
    notes = unavailable_figures(data, lang)

    def chart(name: str) -> str:
        if name not in figs:
            return notes[name]
        out = figs[name].to_html(
            full_html=False, include_plotlyjs=False, config={"displayModeBar": False}
        )
        return out + (trend_note_html(data, lang) if name == "trend" else "")

    chart_html = "".join(
        f"<div class='crmkit-chart' data-chart='{name}'>{chart(name)}</div>" for name in FIGURES
    )
    missing = data["unavailable"]
    table_cols = [
        "kpi",
        "value",
        "target",
        "attainment",
        "forecast",
        "n",
        "interval",
        "definition",
    ]
    heads = {
        "kpi": t("col_kpi", lang),
        "value": t("kpi_value", lang),
        "target": t("kpi_target", lang),
        "attainment": t("kpi_attainment", lang),
        "forecast": t("kpi_forecast", lang),
        "n": t("n", lang),
        "interval": t("kpi_interval", lang),
        "definition": t("definition", lang),
    }
    kt = kpi_table(data["evaluation"], lang)
    change_items = changes(data["evaluation"], lang)
    reason_html = ""
    if "returns" not in missing and not data["return_reasons"].empty:
        reasons = data["return_reasons"]
        # the five most frequent reasons of each flagged product, then its feedback texts
        r = reasons.groupby(["product_id", "kind"], sort=False).head(REASONS_SHOWN).copy()
        r["share"] = [fmt_pct(v, lang) if _num(v) else "" for v in r.share]
        r["kind"] = [t("reason", lang) if k == "reason" else t("ret_reasons", lang) for k in r.kind]
        reason_html = f"<div class='crmkit-section'>{t('ret_reasons', lang)}</div>" + html_table(
            r,
            {
                "product_id": t("ret_col_product_id", lang),
                "kind": "",
                "reason": t("reason", lang),
                "count": t("count", lang),
                "share": t("share", lang),
            },
            max_rows=40,
            lang=lang,
        )
    win = data.get("win_by_source")
    win_html = (
        unavailable_html(missing["pipeline"], lang)
        if win is None
        else html_table(
            win.assign(
                source=[channel_label(s, lang) for s in win.source],
                rate=[fmt_pct(v, lang) for v in win.rate],
                interval=[
                    f"{fmt_pct(a, lang)} – {fmt_pct(b, lang)}"
                    for a, b in zip(win.lo, win.hi, strict=True)
                ],
                small=[t("small_sample", lang) if s else "" for s in win.small_sample],
            ),
            {
                "source": t("col_source", lang),
                "won": t("col_won", lang),
                "closed": t("col_closed", lang),
                "rate": t("col_rate", lang),
                "interval": t("kpi_interval", lang),
                "small": "",
            },
            empty=t("no_data", lang),
            lang=lang,
        )
    )
    title = t("rep_title", lang)
    return f"""<!DOCTYPE html>
<html lang="{"zh-CN" if lang == "zh" else "en"}">
<head>
<meta charset="utf-8">
<title>{html.escape(title)} {html.escape(data["period"].label)}</title>
{base.CSS}{_EXTRA_CSS}
<script type="text/javascript">{_plotly_js()}</script>
</head>
<body class="crmkit-page crmkit-report" data-period="{html.escape(data["period"].label)}">
<div class="crmkit-title">{html.escape(title)} · {html.escape(data["period"].label)}</div>
<div class="crmkit-sub">{html.escape(period_line(data, lang))}</div>
<div class="crmkit-sub">{t("as_of", lang)}: {fmt_date(data["as_of"], lang)} ·
{t("rep_generated", lang)}: {generated:%Y-%m-%d %H:%M}</div>
<div class="crmkit-section">{t("rep_kpis", lang)}</div>
{kpi_cards_html(data["evaluation"], lang, link=False)}
<div class="crmkit-kpi-table">{html_table(kt, {c: heads[c] for c in table_cols}, lang=lang)}</div>
<div class="crmkit-note">{html.escape(t("kpi_forecast_method", lang))}</div>
<div class="crmkit-note">{html.escape(t("rep_unavailable_note", lang))}</div>
<div class="crmkit-section">{t("rep_changes", lang)}</div>
<ul class="crmkit-changes">{"".join(change_items) or t("no_data", lang)}</ul>
<div class="crmkit-charts">{chart_html}</div>
<div class="crmkit-section">{t("rep_alerts", lang)}</div>
{alerts_html(data, lang, link=False)}
{reason_html}
<div class="crmkit-section">{t("rep_pipeline", lang)}: {t("rep_win_by_source", lang)}</div>
{win_html}
<div class="crmkit-section">{t("rep_lists", lang)}</div>
{lists_html(data, lang)}
</body>
</html>
"""


def build_report(
    con: BaseBackend, *, period: str | None = None, lang: str = "zh"
) -> tuple[str, dict]:
    """The report HTML and the data behind it (``period`` default: the last complete quarter)."""
    from crmkit import views

    data = views.kpi_overview_data(con, views.Filters(), lang=lang, role=REPORT_ROLE, period=period)
    return render(data, lang), data


def write_report(
    out: str | os.PathLike | None = None,
    *,
    published: str | os.PathLike | None = None,
    period: str | None = None,
    lang: str = "zh",
    config: str | os.PathLike | None = None,
) -> Path:
    """Write the report for the published snapshot; default file ``report-<period>-<lang>.html``.

    The figures use the settings the snapshot was published with; ``config`` (or
    ``$CRMKIT_CONFIG``), when given, must be those settings
    (:func:`crmkit.publish.check_snapshot_settings`).

    Raises
    ------
    FileNotFoundError
        When there is no published snapshot (run ``crmkit publish`` first).
    ValueError
        For an unknown language or a period that is not ``2025-Q3`` / ``2025-07`` / ``2025``;
        :class:`crmkit.config.ConfigError` when ``config`` differs from the published settings.
    """
    from crmkit.i18n import check_lang
    from crmkit.publish import check_snapshot_settings

    check_lang(lang)
    snapshot = db.published_path(published)
    check_snapshot_settings(snapshot, config)
    con = db.connect(snapshot, read_only=True)
    try:
        text, data = build_report(con, period=period, lang=lang)
    finally:
        con.disconnect()
    # written beside and moved over: a full disk leaves the previous report, never half of one
    return db.replace_file(
        out or f"report-{data['period'].label}-{lang}.html", text.encode("utf-8")
    )
