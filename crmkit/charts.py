"""Figures: ``plot_<thing>(df, lang=...) -> plotly Figure``, one call, one figure.

No data access here: every function takes a ready, small pandas frame (computed by
``crmkit.views`` or an analysis module) and only draws it. Titles, axes and number formats follow
the language through ``crmkit.i18n``. :func:`show_in` updates a ``go.FigureWidget`` in place by
assigning the new figure's data (no ``Output`` + ``clear_output``, which hangs under Voila).
"""

from __future__ import annotations

import functools
import os
from collections.abc import Mapping

import pandas as pd
import plotly.graph_objects as go

from crmkit.i18n import t

#: Chart width in pixels: two side by side fit a 1280-pixel screen.
WIDTH = 610
PALETTE = ["#2f6db5", "#e0803a", "#4a9a5c", "#c2464b", "#8a67b8", "#8c6d5a", "#d17fb8"]
FONT = "Noto Sans CJK SC, Microsoft YaHei, PingFang SC, Helvetica, Arial, sans-serif"


def _layout(fig: go.Figure, title: str, *, height: int = 320) -> go.Figure:
    fig.update_layout(
        title={"text": title, "x": 0.01, "font": {"size": 15}},
        height=height,
        width=WIDTH,
        margin={"l": 60, "r": 20, "t": 50, "b": 50},
        font={"family": FONT, "size": 12},
        template="plotly_white",
        colorway=PALETTE,
        separators=".,",
        showlegend=len(fig.data) > 1,
        legend={"orientation": "h", "y": -0.2},
    )
    return fig


def plot_table_counts(df: pd.DataFrame, lang: str = "zh") -> go.Figure:
    """Rows per table: ``df`` has ``label`` and ``rows``."""
    fig = go.Figure(
        go.Bar(
            x=df["label"].tolist(),
            y=df["rows"].tolist(),
            text=[f"{v:,}" for v in df["rows"]],
            textposition="outside",
            hovertemplate="%{x}: %{y:,}<extra></extra>",
        )
    )
    fig.update_yaxes(title=t("rows", lang), tickformat=",")
    return _layout(fig, t("fig_table_counts", lang))


def plot_quality_distribution(df: pd.DataFrame, lang: str = "zh") -> go.Figure:
    """Customers per quality-score band: ``df`` has ``band`` (label) and ``customers``."""
    fig = go.Figure(
        go.Bar(
            x=df["band"].tolist(),
            y=df["customers"].tolist(),
            marker_color=PALETTE[2],
            hovertemplate="%{x}: %{y:,}<extra></extra>",
        )
    )
    fig.update_xaxes(title=t("quality_score", lang), type="category")
    fig.update_yaxes(title=t("customers", lang), tickformat=",")
    return _layout(fig, t("fig_quality_distribution", lang))


def plot_column_completeness(df: pd.DataFrame, lang: str = "zh") -> go.Figure:
    """Fill rate per column: ``df`` has ``label`` and ``share`` (0–1)."""
    fig = go.Figure(
        go.Bar(
            y=df["label"].tolist(),
            x=df["share"].tolist(),
            orientation="h",
            marker_color=PALETTE[0],
            text=[f"{v:.1%}" for v in df["share"]],
            textposition="auto",
            hovertemplate="%{y}: %{x:.1%}<extra></extra>",
        )
    )
    fig.update_xaxes(title=t("completeness", lang), tickformat=".0%", range=[0, 1])
    fig.update_yaxes(autorange="reversed")
    return _layout(fig, t("fig_column_completeness", lang), height=360)


def plot_stale_by_team(df: pd.DataFrame, lang: str = "zh") -> go.Figure:
    """Stale vs fresh customers per owner team: ``df`` has ``label``, ``stale``, ``fresh``."""
    fig = go.Figure(
        [
            go.Bar(
                name=t("stale", lang),
                x=df["label"].tolist(),
                y=df["stale"].tolist(),
                marker_color=PALETTE[3],
                hovertemplate="%{x}: %{y:,}<extra></extra>",
            ),
            go.Bar(
                name=t("fresh", lang),
                x=df["label"].tolist(),
                y=df["fresh"].tolist(),
                marker_color=PALETTE[2],
                hovertemplate="%{x}: %{y:,}<extra></extra>",
            ),
        ]
    )
    fig.update_layout(barmode="stack")
    fig.update_yaxes(title=t("customers", lang), tickformat=",")
    return _layout(fig, t("fig_stale_by_team", lang))


# Under `crmkit serve` every FigureWidget would otherwise carry plotly's 5 MB bundle in its own
# widget state (4 charts: 20 MB per page load). This stub loads the bundle once by URL from the
# server, so the browser fetches, caches and evaluates it a single time.
_BUNDLE_STUB = r"""
const voila = document.body.dataset.baseUrl || "/voila/";
const base = voila.replace(/voila\/?$/, "");
const mod = await import(window.location.origin + base + "{path}");
export default mod.default;
"""


def figure_widget(fig: go.Figure | None = None) -> go.FigureWidget:
    """A ``go.FigureWidget`` that, under ``crmkit serve``, loads plotly's bundle by URL."""
    path = os.environ.get("CRMKIT_WIDGET_BUNDLE")
    if not path:
        return go.FigureWidget(fig)
    return _served_widget_class(path)(fig)


@functools.cache
def _served_widget_class(path: str) -> type:
    return type("FigureWidget", (go.FigureWidget,), {"_esm": _BUNDLE_STUB.replace("{path}", path)})


def show_in(box, fig: go.Figure, *, meta: str | None = None) -> go.FigureWidget:  # noqa: ANN001
    """Show ``fig`` in the ipywidgets ``box``: the first time as a new ``go.FigureWidget``,
    afterwards by assigning the new data and layout to that same widget.

    ``meta`` (e.g. the filters in words) is kept in ``layout.meta``, so the chart records what
    produced it and a browser test can tell that it was redrawn. Anything else in the box (a
    "not available" note) is replaced.
    """
    if meta is not None:
        fig.update_layout(meta={"filters": meta})
    if not box.children or not isinstance(box.children[0], go.FigureWidget):
        widget = figure_widget(fig)
        box.children = (widget,)
        return widget
    widget = box.children[0]
    same = len(widget.data) == len(fig.data) and all(
        a.type == b.type for a, b in zip(widget.data, fig.data, strict=True)
    )
    if not same:
        widget.data = []
        widget.add_traces(list(fig.data))
    with widget.batch_update():
        for old, new in zip(widget.data, fig.data, strict=True):
            old.update(new.to_plotly_json(), overwrite=True)
        widget.layout.update(fig.layout.to_plotly_json(), overwrite=True)
    return widget


def plot_segments(df: pd.DataFrame, lang: str = "zh") -> go.Figure:
    """Customers per segment with their share of revenue: ``label``, ``customers``,
    ``revenue_share`` (0–1)."""
    fig = go.Figure(
        go.Bar(
            x=df["label"].tolist(),
            y=df["customers"].tolist(),
            text=[f"{v:.0%}" for v in df["revenue_share"]],
            textposition="outside",
            customdata=df["revenue_share"].tolist(),
            hovertemplate="%{x}: %{y:,} · "
            + t("revenue_share", lang)
            + " %{customdata:.1%}<extra></extra>",
        )
    )
    fig.update_yaxes(title=t("customers", lang), tickformat=",")
    fig.update_xaxes(tickangle=-30)
    return _layout(fig, t("fig_segments", lang), height=360)


def plot_pareto(
    df: pd.DataFrame, lang: str = "zh", cutoffs: tuple[float, ...] = (0.7, 0.9)
) -> go.Figure:
    """Cumulative share of revenue against share of customers (best first): ``x``, ``y``."""
    fig = go.Figure(
        go.Scatter(
            x=df["x"].tolist(),
            y=df["y"].tolist(),
            mode="lines",
            line={"color": PALETTE[0], "width": 2},
            hovertemplate="%{x:.0%} → %{y:.1%}<extra></extra>",
        )
    )
    for c in cutoffs:
        fig.add_hline(
            y=c,
            line={"dash": "dot", "color": "#7b8794"},
            annotation_text=f"{c:.0%}",
            annotation_position="right",
        )
    fig.update_xaxes(title=t("share_of_customers", lang), tickformat=".0%", range=[0, 1])
    fig.update_yaxes(title=t("share_of_revenue", lang), tickformat=".0%", range=[0, 1.02])
    return _layout(fig, t("fig_pareto", lang), height=360)


def plot_maintenance_map(df: pd.DataFrame, lang: str = "zh") -> go.Figure:
    """The customer maintenance map (客户管理维护导图): lifecycle stage × customer type, bubble
    size = customers, colour = owner team, hover = strategy. ``df`` has ``stage``, ``type``,
    ``team``, ``strategy``, ``customers`` (labels already translated)."""
    traces = []
    biggest = max(df["customers"].max(), 1) if not df.empty else 1
    for i, (team, g) in enumerate(df.groupby("team", sort=True)):
        traces.append(
            go.Scatter(
                name=team,
                x=g["stage"].tolist(),
                y=g["type"].tolist(),
                mode="markers",
                marker={
                    "size": [max(8, 60 * (v / biggest) ** 0.5) for v in g["customers"]],
                    "color": PALETTE[i % len(PALETTE)],
                    "opacity": 0.75,
                },
                customdata=list(zip(g["customers"], g["strategy"], strict=True)),
                hovertemplate="%{x} · %{y}<br>%{customdata[0]:,} · %{customdata[1]}"
                "<extra>" + team + "</extra>",
            )
        )
    fig = go.Figure(traces)
    # plotly orders categories by first appearance across traces; keep the frame's order
    # (lifecycle 意识 → … → 流失)
    fig.update_xaxes(
        title=t("lifecycle_stage", lang),
        type="category",
        categoryorder="array",
        categoryarray=list(dict.fromkeys(df["stage"])),
    )
    fig.update_yaxes(
        title=t("customer_type", lang),
        type="category",
        categoryorder="array",
        categoryarray=list(dict.fromkeys(df["type"])),
    )
    fig = _layout(fig, t("fig_maintenance_map", lang), height=400)
    fig.update_layout(showlegend=True)
    return fig


def plot_migration(df: pd.DataFrame, lang: str = "zh", order: list[str] | None = None) -> go.Figure:
    """Migration matrix as a heat map: ``from_label``, ``to_label``, ``customers``; rows and
    columns follow ``order`` (segment labels), else alphabetical."""
    if df.empty:
        fig = go.Figure(
            go.Heatmap(
                z=[[0]],
                x=[""],
                y=[""],
                showscale=False,
                colorscale=[[0, "#f5f7fa"], [1, "#f5f7fa"]],
                hoverinfo="skip",
            )
        )
        fig.add_annotation(
            text=t("no_snapshots", lang), showarrow=False, x=0.5, y=0.5, xref="paper", yref="paper"
        )
        return _layout(fig, t("fig_migration", lang), height=420)
    pivot = df.pivot_table(
        index="from_label", columns="to_label", values="customers", aggfunc="sum", fill_value=0
    )
    order = order or sorted(set(pivot.index) | set(pivot.columns))
    pivot = pivot.reindex(
        index=[x for x in order if x in pivot.index],
        columns=[x for x in order if x in pivot.columns],
        fill_value=0,
    )
    fig = go.Figure(
        go.Heatmap(
            z=pivot.values.tolist(),
            x=pivot.columns.tolist(),
            y=pivot.index.tolist(),
            colorscale="Blues",
            text=pivot.values.tolist(),
            texttemplate="%{text:,}",
            hovertemplate="%{y} → %{x}: %{z:,}<extra></extra>",
        )
    )
    fig.update_xaxes(title=t("to_segment", lang), tickangle=-30)
    fig.update_yaxes(title=t("from_segment", lang), autorange="reversed")
    return _layout(fig, t("fig_migration", lang), height=420)


def plot_rfm_heatmap(df: pd.DataFrame, lang: str = "zh") -> go.Figure:
    """Customers by R score (rows) × F score (columns), colour = customers, hover = mean spend:
    ``r_score``, ``f_score``, ``customers``, ``monetary`` (mean)."""
    scores = [1, 2, 3, 4, 5]
    grid = df.pivot_table(
        index="r_score", columns="f_score", values="customers", aggfunc="sum", fill_value=0
    ).reindex(index=scores, columns=scores, fill_value=0)
    spend = df.pivot_table(
        index="r_score", columns="f_score", values="monetary", aggfunc="mean"
    ).reindex(index=scores, columns=scores)
    fig = go.Figure(
        go.Heatmap(
            z=grid.values.tolist(),
            x=[f"F{s}" for s in scores],
            y=[f"R{s}" for s in scores],
            colorscale="Blues",
            text=grid.values.tolist(),
            texttemplate="%{text:,}",
            customdata=spend.fillna(0).round(0).values.tolist(),
            hovertemplate="%{y} %{x}: %{z:,} · ¥%{customdata:,.0f}<extra></extra>",
        )
    )
    fig.update_xaxes(title=t("f_score", lang))
    fig.update_yaxes(title=t("r_score", lang))
    return _layout(fig, t("fig_rfm_heatmap", lang), height=380)


# ---------------------------------------------------------------------------------------------
# Satisfaction and complaints (issue 7)
# ---------------------------------------------------------------------------------------------


def plot_score_trend(df: pd.DataFrame, lang: str = "zh", metric: str = "nps") -> go.Figure:
    """A score over time with its 95 % interval as a band: ``period``, ``value``, ``lo``,
    ``hi``, ``n`` (as from ``crmkit.satisfaction.nps(..., by="period")``); points with a small
    sample (``small_sample``) are drawn hollow."""
    x = [str(p)[:10] for p in df["period"]]
    small = df["small_sample"].tolist() if "small_sample" in df else [False] * len(df)
    pct = metric in ("csat", "sla")
    fmt = ".1%" if pct else ".1f"
    fig = go.Figure(
        [
            go.Scatter(
                x=x + x[::-1],
                y=df["hi"].tolist() + df["lo"].tolist()[::-1],
                fill="toself",
                fillcolor="rgba(47,109,181,0.18)",
                line={"width": 0},
                hoverinfo="skip",
                name=t("sat_ci", lang),
            ),
            go.Scatter(
                x=x,
                y=df["value"].tolist(),
                mode="lines+markers",
                line={"color": PALETTE[0], "width": 2},
                marker={"symbol": ["circle-open" if s else "circle" for s in small], "size": 7},
                customdata=list(zip(df["lo"], df["hi"], df["n"], strict=True)),
                hovertemplate="%{x}: %{y:"
                + fmt
                + "} [%{customdata[0]:"
                + fmt
                + "}, %{customdata[1]:"
                + fmt
                + "}] n=%{customdata[2]:,}<extra></extra>",
                name=t(f"sat_{metric}", lang),
            ),
        ]
    )
    fig.update_xaxes(title=t("sat_period", lang))
    fig.update_yaxes(title=t(f"sat_{metric}", lang), tickformat=".0%" if pct else None)
    return _layout(fig, t("fig_score_trend", lang, metric=t(f"sat_{metric}", lang)))


def plot_drivers(df: pd.DataFrame, lang: str = "zh", top: int = 10) -> go.Figure:
    """Key drivers: ``label_zh`` / ``label_en``, ``effect``, ``lo``, ``hi`` (as from
    ``crmkit.satisfaction.key_drivers``), the ``top`` largest effects by size, most negative
    at the top, with their 95 % intervals as error bars."""
    d = df.reindex(df["effect"].abs().sort_values(ascending=False).index).head(top)
    d = d.sort_values("effect", ascending=False)
    labels = d[f"label_{'zh' if lang == 'zh' else 'en'}"].tolist()
    fig = go.Figure(
        go.Bar(
            y=labels,
            x=d["effect"].tolist(),
            orientation="h",
            marker_color=[PALETTE[3] if v < 0 else PALETTE[2] for v in d["effect"]],
            error_x={
                "type": "data",
                "symmetric": False,
                "array": (d["hi"] - d["effect"]).tolist(),
                "arrayminus": (d["effect"] - d["lo"]).tolist(),
                "color": "#52606d",
            },
            customdata=list(zip(d["lo"], d["hi"], d["n_with"], strict=True)),
            hovertemplate="%{y}: %{x:+.2f} [%{customdata[0]:+.2f}, %{customdata[1]:+.2f}] "
            "n=%{customdata[2]:,}<extra></extra>",
        )
    )
    fig.update_xaxes(title=t("sat_effect", lang), zeroline=True)
    fig.update_layout(margin={"l": 230})
    return _layout(fig, t("fig_drivers", lang), height=360)


def plot_sla(df: pd.DataFrame, lang: str = "zh", by: str = "channel") -> go.Figure:
    """SLA breach rate per slice with its Wilson interval: ``<by>``, ``breach_rate``, ``lo``,
    ``hi`` (of attainment; the breach interval is 1 − hi … 1 − lo), ``n``,
    ``small_sample`` (as from ``crmkit.complaints.sla_summary``)."""
    d = df.sort_values("breach_rate", ascending=False)
    small = d["small_sample"].tolist()
    fig = go.Figure(
        go.Bar(
            x=[str(v) for v in d[by]],
            y=d["breach_rate"].tolist(),
            marker_color=[PALETTE[3] if not s else "#c9ccd1" for s in small],
            error_y={
                "type": "data",
                "symmetric": False,
                "array": ((1 - d["lo"]) - d["breach_rate"]).tolist(),
                "arrayminus": (d["breach_rate"] - (1 - d["hi"])).tolist(),
                "color": "#52606d",
            },
            customdata=d["n"].tolist(),
            hovertemplate="%{x}: %{y:.1%} n=%{customdata:,}<extra></extra>",
        )
    )
    fig.update_yaxes(title=t("sat_breach_rate", lang), tickformat=".0%", rangemode="tozero")
    return _layout(fig, t("fig_sla", lang))


def plot_backlog_ageing(df: pd.DataFrame, lang: str = "zh", by: str = "team") -> go.Figure:
    """Open tickets per ``by`` stacked by age bucket: ``<by>``, ``bucket``, ``tickets`` (as
    from ``crmkit.complaints.backlog_ageing``); buckets keep their order."""
    buckets = list(dict.fromkeys(df["bucket"]))
    keys = sorted(dict.fromkeys(df[by].astype(str)))
    traces = []
    for i, b in enumerate(buckets):
        sel = df[df["bucket"] == b]
        part = pd.Series(sel["tickets"].to_numpy(), index=sel[by].astype(str).to_numpy())
        traces.append(
            go.Bar(
                name=b,
                x=keys,
                y=[int(part.get(k, 0)) for k in keys],
                marker_color=PALETTE[i % len(PALETTE)],
                hovertemplate="%{x} · " + b + ": %{y:,}<extra></extra>",
            )
        )
    fig = go.Figure(traces or [go.Bar(x=[], y=[])])
    fig.update_layout(barmode="stack")
    fig.update_yaxes(title=t("sat_open_tickets", lang), tickformat=",")
    fig.update_xaxes(title=t("sat_col_team", lang))
    return _layout(fig, t("fig_backlog_ageing", lang))


# KPIs, returns and the sales pipeline (issue 9)
# ---------------------------------------------------------------------------------------------


def plot_kpi_trend(df: pd.DataFrame, lang: str = "zh") -> go.Figure:
    """KPI rates over periods, one small panel each (own y-axis, so a 96 % retention and a 4 %
    return rate are both readable): ``df`` (``crmkit.kpi.trend``) has ``key``, ``name``,
    ``period``, ``value``, ``lo``, ``hi``, ``n``, ``target``. Rates only (counts and money are
    skipped); Wilson intervals as error bars, the target as a dotted line."""
    from plotly.subplots import make_subplots

    from crmkit import kpi

    keys = [k for k in dict.fromkeys(df["key"]) if kpi.REGISTRY[k].unit == "rate"]
    cols = 2
    rows = max(1, -(-len(keys) // cols))
    names = [df.loc[df["key"] == k, "name"].iloc[0] for k in keys]
    fig = make_subplots(
        rows=rows, cols=cols, subplot_titles=names, vertical_spacing=0.2, horizontal_spacing=0.12
    )
    for i, key in enumerate(keys):
        g = df[df["key"] == key]
        r, c = i // cols + 1, i % cols + 1
        colour = PALETTE[i % len(PALETTE)]
        v = g["value"].astype(float)
        fig.add_trace(
            go.Scatter(
                name=names[i],
                x=g["period"].tolist(),
                y=v.tolist(),
                mode="lines+markers",
                line={"color": colour},
                error_y={
                    "type": "data",
                    "symmetric": False,
                    "array": (g["hi"].astype(float) - v).tolist(),
                    "arrayminus": (v - g["lo"].astype(float)).tolist(),
                    "thickness": 1,
                },
                customdata=g["n"].tolist(),
                hovertemplate="%{x}: %{y:.1%} (n = %{customdata:,})<extra>" + names[i] + "</extra>",
            ),
            row=r,
            col=c,
        )
        if g["target"].notna().any():
            fig.add_trace(
                go.Scatter(
                    name=t("kpi_target", lang),
                    x=g["period"].tolist(),
                    y=g["target"].astype(float).tolist(),
                    mode="lines",
                    line={"color": "#7b8794", "dash": "dot", "width": 1},
                    hovertemplate="%{x}: %{y:.1%}<extra>" + t("kpi_target", lang) + "</extra>",
                ),
                row=r,
                col=c,
            )
    fig.update_xaxes(type="category", tickfont={"size": 10})
    fig.update_yaxes(tickformat=".1%", tickfont={"size": 10})
    fig = _layout(fig, t("fig_kpi_trend", lang), height=200 + 150 * rows)
    fig.update_layout(showlegend=False, margin={"l": 60, "r": 20, "t": 70, "b": 40})
    fig.update_annotations(font_size=12)
    return fig


def plot_return_rates(df: pd.DataFrame, lang: str = "zh", top: int = 10) -> go.Figure:
    """Return rate of the products with the strongest evidence of being above their category
    (``crmkit.returns.return_alerts``: flagged first, by z) with Wilson intervals, beside the rate
    of the rest of their category; flagged products in red."""
    d = df.head(top).iloc[::-1]
    labels = [f"{p} {n}" for p, n in zip(d["product_id"], d["name"], strict=True)]
    rate = d["rate"].astype(float)
    fig = go.Figure(
        [
            go.Bar(
                name=t("ret_col_rate", lang),
                y=labels,
                x=rate.tolist(),
                orientation="h",
                marker_color=[PALETTE[3] if f else PALETTE[0] for f in d["flagged"]],
                error_x={
                    "type": "data",
                    "symmetric": False,
                    "array": (d["hi"].astype(float) - rate).tolist(),
                    "arrayminus": (rate - d["lo"].astype(float)).tolist(),
                    "thickness": 1,
                },
                customdata=list(zip(d["orders"], d["q"], strict=True)),
                hovertemplate="%{y}: %{x:.1%} (n = %{customdata[0]:,}, q = %{customdata[1]:.1e})"
                "<extra></extra>",
            ),
            go.Scatter(
                name=t("ret_col_category_rate", lang),
                y=labels,
                x=d["category_rate"].astype(float).tolist(),
                mode="markers",
                marker={"symbol": "line-ns-open", "size": 16, "color": "#1f2933"},
                hovertemplate="%{y}: %{x:.1%}<extra></extra>",
            ),
        ]
    )
    fig.update_xaxes(tickformat=".0%", title=t("ret_col_rate", lang))
    fig = _layout(fig, t("fig_return_rates", lang), height=360)
    fig.update_layout(margin={"l": 170, "r": 20, "t": 50, "b": 50})
    return fig


def plot_pipeline(df: pd.DataFrame, lang: str = "zh") -> go.Figure:
    """Open opportunities by stage (``crmkit.sales.pipeline``): amount and expected value
    (amount × stated win probability), opportunities and days in stage on hover."""
    labels = [t(f"stage_{s}", lang) for s in df["stage"]]
    custom = list(
        zip(df["opportunities"], df["probability"], df["median_days"].fillna(0), strict=True)
    )
    fig = go.Figure(
        [
            go.Bar(
                name=t("pipe_amount", lang),
                x=labels,
                y=df["amount"].astype(float).tolist(),
                marker_color=PALETTE[0],
                customdata=custom,
                hovertemplate="%{x}: ¥%{y:,.0f}<br>%{customdata[0]:,} · "
                + t("pipe_median_days", lang)
                + " %{customdata[2]:.0f}<extra></extra>",
            ),
            go.Bar(
                name=t("pipe_expected", lang),
                x=labels,
                y=df["expected_value"].astype(float).tolist(),
                marker_color=PALETTE[2],
                customdata=custom,
                hovertemplate="%{x}: ¥%{y:,.0f} (p = %{customdata[1]:.0%})<extra></extra>",
            ),
        ]
    )
    fig.update_yaxes(tickformat=",", title="¥")
    fig = _layout(fig, t("fig_pipeline", lang))
    fig.update_layout(barmode="group")
    return fig


# ---------------------------------------------------------------------------------------------
# churn, loyalty and CLV (issue 8)
# ---------------------------------------------------------------------------------------------


def plot_cohort_retention(
    df: pd.DataFrame, lang: str = "zh", *, value: str = "retention"
) -> go.Figure:
    """Cohort heatmap: acquisition month (rows) × months since (columns), colour = ``value``
    (``retention`` or ``revenue_retention``): ``cohort``, ``month``, ``value``,
    ``cohort_size``."""
    if df.empty:
        return _layout(go.Figure(), t("fig_cohort_retention", lang))
    grid = df.pivot_table(index="cohort", columns="month", values=value, aggfunc="mean")
    sizes = df.groupby("cohort").cohort_size.max().reindex(grid.index)
    labels = [f"{pd.Timestamp(c):%Y-%m} (n={n:,})" for c, n in zip(grid.index, sizes, strict=True)]
    z = grid.to_numpy()
    fig = go.Figure(
        go.Heatmap(
            z=[[None if pd.isna(v) else float(v) for v in row] for row in z],
            x=[int(m) for m in grid.columns],
            y=labels,
            colorscale="Blues",
            zmin=0,
            zmax=1 if value == "retention" else None,
            hovertemplate="%{y} · +%{x}: %{z:.1%}<extra></extra>",
        )
    )
    fig.update_xaxes(title=t("months_since_first", lang), dtick=3)
    fig.update_yaxes(autorange="reversed", tickfont={"size": 9})
    return _layout(fig, t("fig_cohort_retention", lang), height=420)


def plot_palive(df: pd.DataFrame, lang: str = "zh") -> go.Figure:
    """Distribution of P(alive) (BG/NBD) per value tier, binned by 5 %: ``tier_label``,
    ``bin`` (0 … 19: [bin/20, (bin+1)/20)), ``customers``."""
    fig = go.Figure()
    for i, (tier, g) in enumerate(df.groupby("tier_label", sort=False)):
        g = g.sort_values("bin")
        fig.add_trace(
            go.Bar(
                x=[(b + 0.5) / 20 for b in g["bin"]],
                y=g["customers"].tolist(),
                width=0.05,
                name=str(tier),
                marker_color=PALETTE[i % len(PALETTE)],
                hovertemplate="%{x:.0%}: %{y:,}<extra>" + str(tier) + "</extra>",
            )
        )
    fig.update_layout(barmode="stack")
    fig.update_xaxes(title=t("p_alive", lang), tickformat=".0%", range=[0, 1])
    fig.update_yaxes(title=t("customers", lang), tickformat=",")
    return _layout(fig, t("fig_palive", lang))


def plot_clv_by_tier(df: pd.DataFrame, lang: str = "zh") -> go.Figure:
    """CLV distribution per value tier from precomputed quantiles (box = quartiles, whiskers =
    5th / 95th percentiles, dashed = mean): ``tier_label``, ``lo``, ``q1``, ``median``,
    ``q3``, ``hi``, ``mean``, ``n``."""
    fig = go.Figure()
    for i, r in enumerate(df.itertuples(index=False)):
        fig.add_trace(
            go.Box(
                x=[f"{r.tier_label} (n={r.n:,})"],
                lowerfence=[r.lo],
                q1=[r.q1],
                median=[r.median],
                q3=[r.q3],
                upperfence=[r.hi],
                mean=[r.mean],
                name=str(r.tier_label),
                marker_color=PALETTE[i % len(PALETTE)],
            )
        )
    fig.update_yaxes(title=t("clv", lang), tickprefix="¥", tickformat=",.0f")
    fig = _layout(fig, t("fig_clv_by_tier", lang))
    fig.update_layout(showlegend=False)
    return fig


def plot_risk_list(df: pd.DataFrame, lang: str = "zh", *, top: int = 20) -> go.Figure:
    """The top of the warning list: expected loss per customer (bars, largest at the top),
    hover = risk and reasons: ``customer_id``, ``expected_loss``, ``risk``, ``reasons_text``."""
    d = df.head(top).iloc[::-1]
    fig = go.Figure(
        go.Bar(
            y=d["customer_id"].tolist(),
            x=d["expected_loss"].tolist(),
            orientation="h",
            marker_color=PALETTE[3],
            customdata=list(zip(d["risk"].tolist(), d["reasons_text"].tolist(), strict=True)),
            hovertemplate="%{y}: ¥%{x:,.0f} · %{customdata[0]:.0%}<br>%{customdata[1]}"
            "<extra></extra>",
        )
    )
    fig.update_xaxes(title=t("expected_loss", lang), tickprefix="¥", tickformat=",.0f")
    fig.update_yaxes(type="category", tickfont={"size": 9})
    return _layout(fig, t("fig_risk_list", lang), height=420)


def plot_lift(df: pd.DataFrame, lang: str = "zh") -> go.Figure:
    """Backtest lift by risk decile (bars, 1 = highest risk) and cumulative share of churners
    captured (line, right axis): ``decile``, ``lift``, ``capture``."""
    fig = go.Figure(
        [
            go.Bar(
                x=df["decile"].tolist(),
                y=df["lift"].tolist(),
                name=t("lift", lang),
                marker_color=PALETTE[0],
                hovertemplate="%{x}: %{y:.2f}×<extra></extra>",
            ),
            go.Scatter(
                x=df["decile"].tolist(),
                y=df["capture"].tolist(),
                name=t("capture", lang),
                yaxis="y2",
                mode="lines+markers",
                marker_color=PALETTE[1],
                hovertemplate="%{x}: %{y:.1%}<extra></extra>",
            ),
        ]
    )
    fig.update_layout(
        yaxis={"title": t("lift", lang)},
        yaxis2={
            "overlaying": "y",
            "side": "right",
            "tickformat": ".0%",
            "range": [0, 1.05],
            "title": t("capture", lang),
        },
    )
    fig.update_xaxes(title=t("risk_decile", lang), dtick=1)
    return _layout(fig, t("fig_lift", lang))


def plot_retention_trend(df: pd.DataFrame, lang: str = "zh") -> go.Figure:
    """Quarterly churn rate with its Wilson interval: ``period_end``, ``churn_rate``, ``lo``,
    ``hi``, ``n``."""
    x = [f"{pd.Timestamp(d):%Y-%m-%d}" for d in df["period_end"]]
    fig = go.Figure(
        go.Scatter(
            x=x,
            y=df["churn_rate"].tolist(),
            mode="lines+markers",
            marker_color=PALETTE[3],
            error_y={
                "type": "data",
                "symmetric": False,
                "array": (df["hi"] - df["churn_rate"]).tolist(),
                "arrayminus": (df["churn_rate"] - df["lo"]).tolist(),
            },
            customdata=df["n"].tolist(),
            hovertemplate="%{x}: %{y:.1%} (n=%{customdata:,})<extra></extra>",
        )
    )
    fig.update_yaxes(title=t("churn_rate", lang), tickformat=".0%", rangemode="tozero")
    return _layout(fig, t("fig_retention_trend", lang))


# needs analysis and relationship cultivation (issue 6)
# ---------------------------------------------------------------------------------------------


def plot_need_priority(df: pd.DataFrame, lang: str = "zh") -> go.Figure:
    """Needs ranked by priority score (highest at the top): ``label``, ``priority``,
    ``customers``, ``need_type`` (common / individual), ``status``."""
    d = df.iloc[::-1]
    colours = [PALETTE[0] if x == "common" else PALETTE[1] for x in d["need_type"]]
    fig = go.Figure(
        go.Bar(
            y=d["label"].tolist(),
            x=d["priority"].tolist(),
            orientation="h",
            marker_color=colours,
            text=[f"{v:.2f}" for v in d["priority"]],
            textposition="auto",
            customdata=list(zip(d["customers"], d["need_type_label"], strict=True)),
            hovertemplate="%{y}: %{x:.3f} · %{customdata[0]:,} · %{customdata[1]}<extra></extra>",
        )
    )
    fig.update_xaxes(title=t("nd_col_priority", lang), range=[0, 1])
    return _layout(fig, t("fig_need_priority", lang), height=360)


def plot_need_trend(df: pd.DataFrame, lang: str = "zh", flagged: tuple[str, ...] = ()) -> go.Figure:
    """Share of texts per need by month, one line per need: ``month``, ``label``, ``share``;
    needs in ``flagged`` (labels, e.g. a significant rise) are drawn thick."""
    traces = []
    for label, g in df.groupby("label", sort=True):
        thick = label in flagged
        traces.append(
            go.Scatter(
                name=label + (" ▲" if thick else ""),
                x=[pd.Timestamp(m).strftime("%Y-%m") for m in g["month"]],
                y=g["share"].tolist(),
                mode="lines",
                line={"width": 4 if thick else 1.5},
                opacity=1.0 if thick or not flagged else 0.55,
                hovertemplate=label + " %{x}: %{y:.1%}<extra></extra>",
            )
        )
    fig = go.Figure(traces or [go.Scatter(x=[], y=[])])
    fig.update_yaxes(title=t("nd_share_of_texts", lang), tickformat=".0%", rangemode="tozero")
    fig = _layout(fig, t("fig_need_trend", lang), height=360)
    fig.update_layout(
        showlegend=True, legend={"orientation": "h", "y": -0.25, "font": {"size": 10}}
    )
    return fig


def plot_needs_by_segment(df: pd.DataFrame, lang: str = "zh") -> go.Figure:
    """Share of a segment's customers raising each need (heat map; ★ = common within the
    segment): ``segment_label``, ``label``, ``share``, ``common``."""
    if df.empty:
        fig = go.Figure(go.Heatmap(z=[[0]], x=[""], y=[""], showscale=False, hoverinfo="skip"))
        return _layout(fig, t("fig_needs_by_segment", lang), height=380)
    z = df.pivot_table(index="segment_label", columns="label", values="share", aggfunc="sum")
    star = df.pivot_table(index="segment_label", columns="label", values="common", aggfunc="max")
    star = star.reindex(index=z.index, columns=z.columns)
    text = [
        [
            ("" if pd.isna(v) else f"{v:.0%}") + (" ★" if s is True else "")
            for v, s in zip(r1, r2, strict=True)
        ]
        for r1, r2 in zip(z.values.tolist(), star.values.tolist(), strict=True)
    ]
    fig = go.Figure(
        go.Heatmap(
            z=z.values.tolist(),
            x=z.columns.tolist(),
            y=z.index.tolist(),
            colorscale="Blues",
            text=text,
            texttemplate="%{text}",
            hovertemplate="%{y} · %{x}: %{z:.1%}<extra></extra>",
            colorbar={"tickformat": ".0%"},
        )
    )
    fig.update_xaxes(tickangle=-30)
    return _layout(fig, t("fig_needs_by_segment", lang), height=380)


def plot_contact_by_segment(
    df: pd.DataFrame,
    lang: str = "zh",
    channels: tuple[str, ...] = (),
    labels: Mapping[str, str] | None = None,
) -> go.Figure:
    """Contacts per customer in the last 12 months, stacked by channel, per segment:
    ``segment_label`` and one column per channel (contacts per customer); ``labels`` names a
    channel column in the legend (default: the column's name)."""
    names = {c: (labels or {}).get(c, c) for c in channels}
    traces = [
        go.Bar(
            name=names[c],
            x=df["segment_label"].tolist(),
            y=df[c].tolist(),
            hovertemplate="%{x} · " + names[c] + ": %{y:.2f}<extra></extra>",
        )
        for c in channels
    ]
    fig = go.Figure(traces or [go.Bar(x=[], y=[])])
    fig.update_layout(barmode="stack")
    fig.update_yaxes(title=t("nd_contacts_per_customer", lang))
    fig.update_xaxes(tickangle=-30)
    return _layout(fig, t("fig_contact_by_segment", lang), height=380)
