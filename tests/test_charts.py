"""crmkit.charts: every public ``plot_*`` function on a tiny hand-made frame.

Each test checks that the figure draws exactly the frame it is given — the trace types, the
x / y values in the order the docstring promises (sorted, reversed for horizontal bars with the
largest at the top, pivoted for heat maps) — and that its title and axis labels follow the
language. The expected labels are written out here from ``crmkit.i18n.LABELS`` so that a chart
using the wrong key fails. The last tests give every function a frame with its columns and no
rows: it must return a figure with its title and no points, not raise.
"""

from __future__ import annotations

import inspect

import pandas as pd
import plotly.graph_objects as go
import pytest

from crmkit import charts


def _title(fig: go.Figure) -> str:
    return fig.layout.title.text


def test_table_counts():
    """Two tables, 1,234 and 5 rows: one bar each, the counts as text with separators."""
    df = pd.DataFrame({"label": ["客户", "订单"], "rows": [1234, 5]})
    fig = charts.plot_table_counts(df, "zh")
    (bar,) = fig.data
    assert bar.type == "bar"
    assert bar.x == ("客户", "订单") and bar.y == (1234, 5)
    assert bar.text == ("1,234", "5")
    assert _title(fig) == "各表数据量" and fig.layout.yaxis.title.text == "行数"
    en = charts.plot_table_counts(df, "en")
    assert _title(en) == "Rows per table" and en.layout.yaxis.title.text == "Rows"


def test_quality_distribution():
    df = pd.DataFrame({"band": ["0.5–0.6", "0.9–1.0"], "customers": [3, 12]})
    fig = charts.plot_quality_distribution(df, "en")
    assert fig.data[0].type == "bar"
    assert fig.data[0].x == ("0.5–0.6", "0.9–1.0") and fig.data[0].y == (3, 12)
    assert _title(fig) == "Customers by data-quality score"
    assert fig.layout.xaxis.title.text == "Quality score"
    assert fig.layout.yaxis.title.text == "Customers"
    zh = charts.plot_quality_distribution(df, "zh")
    assert _title(zh) == "客户数据质量得分分布" and zh.layout.xaxis.title.text == "质量得分"


def test_column_completeness():
    """Horizontal bars: share on x, column label on y, the share as text (0.875 → 87.5%)."""
    df = pd.DataFrame({"label": ["手机", "邮箱"], "share": [0.875, 0.5]})
    fig = charts.plot_column_completeness(df, "zh")
    bar = fig.data[0]
    assert bar.type == "bar" and bar.orientation == "h"
    assert bar.y == ("手机", "邮箱") and bar.x == (0.875, 0.5)
    assert bar.text == ("87.5%", "50.0%")
    assert _title(fig) == "客户资料各字段填写率" and fig.layout.xaxis.title.text == "完整性"
    assert tuple(fig.layout.xaxis.range) == (0, 1)
    en = charts.plot_column_completeness(df, "en")
    assert _title(en) == "Customer profile: share filled per field"
    assert en.layout.xaxis.title.text == "Completeness"


def test_stale_by_team():
    """Two stacked bars per team: stale (2, 0) then fresh (3, 4)."""
    df = pd.DataFrame({"label": ["销售", "服务"], "stale": [2, 0], "fresh": [3, 4]})
    fig = charts.plot_stale_by_team(df, "en")
    stale, fresh = fig.data
    assert (stale.type, fresh.type) == ("bar", "bar") and fig.layout.barmode == "stack"
    assert stale.x == fresh.x == ("销售", "服务")
    assert stale.y == (2, 0) and fresh.y == (3, 4)
    assert (stale.name, fresh.name) == ("Stale (needs re-check)", "Verified")
    assert _title(fig) == "Stale customers by owner team"
    zh = charts.plot_stale_by_team(df, "zh")
    assert (zh.data[0].name, zh.data[1].name) == ("待核实（过期）", "已核实")
    assert _title(zh) == "待核实客户（按负责团队）" and zh.layout.yaxis.title.text == "客户数"


def test_segments():
    """Customers per segment on y; the revenue share as rounded text (0.62 → 62%, 0.384 →
    38%) and in customdata."""
    df = pd.DataFrame({"label": ["重要价值", "一般挽留"], "customers": [10, 30],
                       "revenue_share": [0.62, 0.384]})  # fmt: skip
    fig = charts.plot_segments(df, "zh")
    bar = fig.data[0]
    assert bar.type == "bar" and bar.x == ("重要价值", "一般挽留") and bar.y == (10, 30)
    assert bar.text == ("62%", "38%") and bar.customdata == (0.62, 0.384)
    assert "收入占比" in bar.hovertemplate
    assert _title(fig) == "RFM八类客户：客户数（标签为收入占比）"
    en = charts.plot_segments(df, "en")
    assert _title(en) == "8-class RFM: customers (labels: share of revenue)"
    assert "Share of revenue" in en.data[0].hovertemplate


def test_pareto():
    """The curve as given, plus one dotted line per ABC cut-off (70 %, 90 % by default)."""
    df = pd.DataFrame({"x": [0.0, 0.2, 1.0], "y": [0.0, 0.7, 1.0]})
    fig = charts.plot_pareto(df, "en")
    (line,) = fig.data
    assert line.type == "scatter" and line.mode == "lines"
    assert line.x == (0.0, 0.2, 1.0) and line.y == (0.0, 0.7, 1.0)
    assert [s.y0 for s in fig.layout.shapes] == [0.7, 0.9]
    assert [a.text for a in fig.layout.annotations] == ["70%", "90%"]
    assert fig.layout.xaxis.title.text == "Share of customers (highest spend first)"
    assert fig.layout.yaxis.title.text == "Cumulative share of revenue"
    assert _title(fig) == "Customer value Pareto curve (ABC cut-offs 70% / 90%)"
    zh = charts.plot_pareto(df, "zh", cutoffs=(0.8,))
    assert [s.y0 for s in zh.layout.shapes] == [0.8]
    assert zh.layout.yaxis.title.text == "累计收入占比"


def test_maintenance_map():
    """One bubble trace per team, sorted by team; bubble size = max(8, 60·√(n / biggest)):
    100 of 100 → 60, 25 of 100 → 30, 1 of 100 → max(8, 6) = 8. The axes keep the frame's
    category order, not the traces'."""
    df = pd.DataFrame(
        {"stage": ["成长", "成熟", "成长"], "type": ["重要", "现有", "现有"],
         "team": ["服务", "销售", "销售"], "strategy": ["关怀", "交叉销售", "培育"],
         "customers": [1, 100, 25]}
    )  # fmt: skip
    fig = charts.plot_maintenance_map(df, "zh")
    assert [tr.type for tr in fig.data] == ["scatter", "scatter"]
    service, sales = fig.data  # 服务 (U+670D) sorts before 销售 (U+9500)
    assert service.name == "服务" and service.x == ("成长",) and service.y == ("重要",)
    assert sales.x == ("成熟", "成长") and sales.y == ("现有", "现有")
    assert list(sales.marker.size) == pytest.approx([60.0, 30.0])
    assert list(service.marker.size) == [8]
    assert list(sales.customdata[0]) == [100, "交叉销售"]
    assert fig.layout.xaxis.categoryarray == ("成长", "成熟")
    assert fig.layout.yaxis.categoryarray == ("重要", "现有")
    assert fig.layout.xaxis.title.text == "生命周期阶段"
    assert fig.layout.yaxis.title.text == "客户类型"
    assert fig.layout.showlegend is True
    en = charts.plot_maintenance_map(df, "en")
    assert _title(en) == "Maintenance map: lifecycle stage × customer type (colour = owner team)"
    assert en.layout.xaxis.title.text == "Lifecycle stage"


def test_migration():
    """A→A 5, A→B 2 (twice 1, summed), B→A 3; with ``order=["B", "A"]`` rows and columns follow
    it: z = [[B→B 0, B→A 3], [A→B 2, A→A 5]]. Without ``order``: alphabetical."""
    df = pd.DataFrame({"from_label": ["A", "A", "A", "B"], "to_label": ["A", "B", "B", "A"],
                       "customers": [5, 1, 1, 3]})  # fmt: skip
    fig = charts.plot_migration(df, "en", order=["B", "A"])
    hm = fig.data[0]
    assert hm.type == "heatmap"
    assert hm.y == ("B", "A") and hm.x == ("B", "A")
    assert [list(r) for r in hm.z] == [[0, 3], [2, 5]]
    assert fig.layout.xaxis.title.text == "To segment"
    assert fig.layout.yaxis.title.text == "From segment"
    assert _title(fig) == "Segment migration (about a year ago → as of)"
    alpha = charts.plot_migration(df, "zh")
    assert alpha.data[0].y == ("A", "B") and [list(r) for r in alpha.data[0].z] == [[5, 2], [3, 0]]
    assert (
        alpha.layout.xaxis.title.text == "现分群"
        and _title(alpha) == "分群迁移矩阵（约一年前 → 截至日）"
    )


def test_rfm_heatmap():
    """Always the full 5 × 5 grid: R5·F1 has 4 customers (mean spend 100), R1·F5 has 2 + 1 = 3
    (spend mean of 300 and 600 = 450); every other cell 0 customers, spend 0."""
    df = pd.DataFrame({"r_score": [5, 1, 1], "f_score": [1, 5, 5], "customers": [4, 2, 1],
                       "monetary": [100.0, 300.0, 600.0]})  # fmt: skip
    fig = charts.plot_rfm_heatmap(df, "zh")
    hm = fig.data[0]
    assert hm.type == "heatmap"
    assert hm.x == ("F1", "F2", "F3", "F4", "F5") and hm.y == ("R1", "R2", "R3", "R4", "R5")
    z = [list(r) for r in hm.z]
    assert z[4][0] == 4 and z[0][4] == 3
    assert sum(map(sum, z)) == 7
    assert hm.customdata[0][4] == 450.0 and hm.customdata[4][0] == 100.0
    assert hm.customdata[2][2] == 0.0
    assert fig.layout.xaxis.title.text == "F分（频次，5 = 最多）"
    assert fig.layout.yaxis.title.text == "R分（近度，5 = 最近）"
    en = charts.plot_rfm_heatmap(df, "en")
    assert en.layout.yaxis.title.text == "R score (5 = most recent)"
    assert _title(en) == "RFM heat map: R score × F score (colour = customers, hover = mean spend)"


def test_score_trend():
    """Two quarters: the band goes out along ``hi`` and back along ``lo`` (x there and back);
    the line holds the values; the small sample is drawn hollow. ``metric`` names the title."""
    df = pd.DataFrame(
        {"period": pd.to_datetime(["2026-01-01", "2026-04-01"]), "value": [30.0, 40.0],
         "lo": [20.0, 35.0], "hi": [38.0, 45.0], "n": [25, 400], "small_sample": [True, False]}
    )  # fmt: skip
    fig = charts.plot_score_trend(df, "en")
    band, line = fig.data
    assert (band.type, line.type) == ("scatter", "scatter") and band.fill == "toself"
    assert band.x == ("2026-01-01", "2026-04-01", "2026-04-01", "2026-01-01")
    assert band.y == (38.0, 45.0, 35.0, 20.0)
    assert line.x == ("2026-01-01", "2026-04-01") and line.y == (30.0, 40.0)
    assert line.marker.symbol == ("circle-open", "circle")
    assert (band.name, line.name) == ("95% CI", "NPS")
    assert _title(fig) == "NPS trend (band: 95% CI)"
    assert fig.layout.xaxis.title.text == "Period" and fig.layout.yaxis.tickformat is None
    zh = charts.plot_score_trend(df, "zh", metric="csat")
    assert _title(zh) == "满意度 CSAT 趋势（阴影: 95%置信区间）"
    assert zh.layout.yaxis.title.text == "满意度 CSAT" and zh.layout.yaxis.tickformat == ".0%"
    assert zh.data[1].hovertemplate.startswith("%{x}: %{y:.1%}")


def test_drivers():
    """The ``top`` 2 effects by size are −1.5 and +0.8 (+0.1 is dropped), drawn largest first
    (+0.8 then −1.5); error bars hi − effect and effect − lo; red for negative."""
    df = pd.DataFrame(
        {"label_zh": ["物流", "价格", "客服"], "label_en": ["delivery", "price", "service"],
         "effect": [-1.5, 0.1, 0.8], "lo": [-2.0, -0.1, 0.5], "hi": [-1.0, 0.3, 1.2],
         "n_with": [40, 50, 60]}
    )  # fmt: skip
    fig = charts.plot_drivers(df, "en", top=2)
    bar = fig.data[0]
    assert bar.type == "bar" and bar.orientation == "h"
    assert bar.y == ("service", "delivery") and bar.x == (0.8, -1.5)
    assert list(bar.error_x.array) == pytest.approx([0.4, 0.5])
    assert list(bar.error_x.arrayminus) == pytest.approx([0.3, 0.5])
    assert bar.marker.color == (charts.PALETTE[2], charts.PALETTE[3])
    assert fig.layout.xaxis.title.text == "Effect on the NPS answer (0-10 points)"
    assert _title(fig) == "Key drivers of NPS (effect, 95% CI)"
    zh = charts.plot_drivers(df, "zh")
    assert (
        zh.data[0].y == ("客服", "价格", "物流")
        and _title(zh) == "NPS关键驱动因素（效应及95%置信区间）"
    )


def test_sla():
    """Sorted by breach rate, worst first: web 0.5 then phone 0.1. ``lo``/``hi`` bound the
    attainment, so web's breach interval is [1 − 0.6, 1 − 0.4] = [0.4, 0.6]: error ±0.1."""
    df = pd.DataFrame({"channel": ["phone", "web"], "breach_rate": [0.1, 0.5],
                       "lo": [0.85, 0.4], "hi": [0.95, 0.6], "n": [100, 8],
                       "small_sample": [False, True]})  # fmt: skip
    fig = charts.plot_sla(df, "zh")
    bar = fig.data[0]
    assert bar.type == "bar" and bar.x == ("web", "phone") and bar.y == (0.5, 0.1)
    assert list(bar.error_y.array) == pytest.approx([0.1, 0.05])
    assert list(bar.error_y.arrayminus) == pytest.approx([0.1, 0.05])
    assert bar.customdata == (8, 100)
    assert bar.marker.color == ("#c9ccd1", charts.PALETTE[3])  # small sample greyed
    assert fig.layout.yaxis.title.text == "超时率" and _title(fig) == "各渠道首次响应超时率"
    en = charts.plot_sla(df, "en")
    assert en.layout.yaxis.title.text == "Breach rate"
    assert _title(en) == "First-response SLA breach rate by channel"


def test_backlog_ageing():
    """One stacked trace per bucket in the frame's order; teams sorted; a missing (team, bucket)
    is 0: team B has nothing older than 7 days."""
    df = pd.DataFrame({"team": ["B", "A", "A"], "bucket": ["0–7d", "0–7d", ">7d"],
                       "tickets": [4, 1, 2]})  # fmt: skip
    fig = charts.plot_backlog_ageing(df, "en")
    young, old = fig.data
    assert (young.name, old.name) == ("0–7d", ">7d") and fig.layout.barmode == "stack"
    assert young.x == old.x == ("A", "B")
    assert young.y == (1, 4) and old.y == (2, 0)
    assert fig.layout.yaxis.title.text == "Open tickets"
    assert fig.layout.xaxis.title.text == "Team"
    zh = charts.plot_backlog_ageing(df, "zh")
    assert _title(zh) == "未结案工单账龄（按团队）" and zh.layout.yaxis.title.text == "未结案工单"


def test_kpi_trend():
    """Rates only: customer_churn (rate) gets a panel with its target line, avg_order_value (money)
    is skipped. Error bars hi − value = 0.02, value − lo = 0.01 for 2026-Q1."""
    df = pd.DataFrame(
        {"key": ["customer_churn", "customer_churn", "avg_order_value"],
         "name": ["流失率", "流失率", "客单价"],
         "period": ["2026-Q1", "2026-Q2", "2026-Q2"], "value": [0.10, 0.12, 250.0],
         "lo": [0.09, 0.10, 240.0], "hi": [0.12, 0.14, 260.0], "n": [500, 520, 80],
         "target": [0.08, 0.08, None]}
    )  # fmt: skip
    fig = charts.plot_kpi_trend(df, "zh")
    line, target = fig.data
    assert (line.type, target.type) == ("scatter", "scatter")
    assert line.name == "流失率" and line.x == ("2026-Q1", "2026-Q2") and line.y == (0.10, 0.12)
    assert list(line.error_y.array) == pytest.approx([0.02, 0.02])
    assert list(line.error_y.arrayminus) == pytest.approx([0.01, 0.02])
    assert target.name == "目标" and target.y == (0.08, 0.08)
    assert [a.text for a in fig.layout.annotations] == ["流失率"]  # one panel title
    assert _title(fig) == "KPI 趋势（虚线为目标）"
    assert _title(charts.plot_kpi_trend(df, "en")) == "KPI trend (dotted: target)"


def test_return_rates():
    """The frame comes flagged first; bars are reversed so the first row is at the top.
    P2 (flagged) rate 0.3, interval [0.2, 0.45]: error +0.15 / −0.1."""
    df = pd.DataFrame(
        {"product_id": ["P2", "P1"], "name": ["水杯", "毛巾"], "rate": [0.3, 0.05],
         "lo": [0.2, 0.02], "hi": [0.45, 0.1], "flagged": [True, False], "orders": [60, 200],
         "q": [0.001, 0.8], "category_rate": [0.04, 0.06]}
    )  # fmt: skip
    fig = charts.plot_return_rates(df, "zh")
    bar, tick = fig.data
    assert (bar.type, tick.type) == ("bar", "scatter")
    assert bar.y == ("P1 毛巾", "P2 水杯") and bar.x == (0.05, 0.3)
    assert tick.y == bar.y and tick.x == (0.06, 0.04)
    assert list(bar.error_x.array) == pytest.approx([0.05, 0.15])
    assert list(bar.error_x.arrayminus) == pytest.approx([0.03, 0.1])
    assert bar.marker.color == (charts.PALETTE[0], charts.PALETTE[3])
    assert (bar.name, tick.name) == ("退货率", "同品类其他产品退货率")
    assert _title(fig) == "产品退货率 vs 同品类其他产品"
    en = charts.plot_return_rates(df, "en", top=1)
    assert en.data[0].y == ("P2 水杯",) and en.data[1].name == "Rest of category"


def test_pipeline():
    """Stage codes become labels; two grouped bars: amount and expected value."""
    df = pd.DataFrame({"stage": ["lead", "proposal"], "opportunities": [3, 1],
                       "probability": [0.1, 0.5], "median_days": [4.0, None],
                       "amount": [1500.0, 1000.0], "expected_value": [150.0, 500.0]})  # fmt: skip
    fig = charts.plot_pipeline(df, "zh")
    amount, expected = fig.data
    assert (amount.type, expected.type) == ("bar", "bar") and fig.layout.barmode == "group"
    assert amount.x == expected.x == ("线索", "方案")
    assert amount.y == (1500.0, 1000.0) and expected.y == (150.0, 500.0)
    assert list(amount.customdata[1]) == [1, 0.5, 0.0]  # missing days in stage shown as 0
    assert (amount.name, expected.name) == ("预计金额", "期望值（金额×赢单概率）")
    assert _title(fig) == "销售机会管道（按阶段）"
    en = charts.plot_pipeline(df, "en")
    assert en.data[0].x == ("Lead", "Proposal") and _title(en) == "Sales pipeline by stage"


def test_cohort_retention():
    """Cohort 2026-01 (10 customers) kept 40 % after a month; 2026-02 has no month 1 yet."""
    df = pd.DataFrame({"cohort": pd.to_datetime(["2026-01-01", "2026-01-01", "2026-02-01"]),
                       "month": [0, 1, 0], "retention": [1.0, 0.4, 1.0],
                       "cohort_size": [10, 10, 5]})  # fmt: skip
    fig = charts.plot_cohort_retention(df, "en")
    hm = fig.data[0]
    assert hm.type == "heatmap" and hm.x == (0, 1)
    assert hm.y == ("2026-01 (n=10)", "2026-02 (n=5)")
    assert [list(r) for r in hm.z] == [[1.0, 0.4], [1.0, None]]
    assert (hm.zmin, hm.zmax) == (0, 1)
    assert fig.layout.xaxis.title.text == "Months since first purchase"
    assert _title(fig) == "Customer retention by first-purchase month"
    zh = charts.plot_cohort_retention(df, "zh")
    assert zh.layout.xaxis.title.text == "首购后月数"


def test_palive():
    """One stacked bar trace per tier, in the frame's order; bin b is drawn at (b + 0.5) / 20:
    bin 0 → 0.025, bin 10 → 0.525, bin 19 → 0.975."""
    df = pd.DataFrame({"tier_label": ["Gold", "Gold", "Silver"], "bin": [19, 0, 10],
                       "customers": [7, 3, 5]})  # fmt: skip
    fig = charts.plot_palive(df, "en")
    gold, silver = fig.data
    assert (gold.type, gold.name, silver.name) == ("bar", "Gold", "Silver")
    assert gold.x == (0.025, 0.975) and gold.y == (3, 7)
    assert silver.x == (0.525,) and silver.y == (5,)
    assert fig.layout.xaxis.title.text == "P(alive)" and fig.layout.yaxis.title.text == "Customers"
    zh = charts.plot_palive(df, "zh")
    assert _title(zh) == "存活概率分布（BG/NBD）" and zh.layout.xaxis.title.text == "存活概率"


def test_clv_by_tier():
    """One box per tier from its quantiles; the tier's size goes into the x label."""
    df = pd.DataFrame({"tier_label": ["金卡", "银卡"], "lo": [10.0, 5.0], "q1": [50.0, 20.0],
                       "median": [100.0, 40.0], "q3": [200.0, 60.0], "hi": [900.0, 100.0],
                       "mean": [150.0, 45.0], "n": [1200, 30]})  # fmt: skip
    fig = charts.plot_clv_by_tier(df, "zh")
    gold, silver = fig.data
    assert (gold.type, silver.type) == ("box", "box")
    assert gold.x == ("金卡 (n=1,200)",) and silver.x == ("银卡 (n=30)",)
    assert (gold.lowerfence, gold.q1, gold.median, gold.q3, gold.upperfence, gold.mean) == (
        (10.0,), (50.0,), (100.0,), (200.0,), (900.0,), (150.0,)
    )  # fmt: skip
    assert fig.layout.yaxis.title.text == "客户终身价值" and fig.layout.showlegend is False
    en = charts.plot_clv_by_tier(df, "en")
    assert _title(en) == "CLV by value tier" and en.layout.yaxis.title.text == "CLV"


def test_risk_list():
    """The ``top`` 2 of 3 rows, reversed so the largest loss is at the top."""
    df = pd.DataFrame({"customer_id": ["C1", "C2", "C3"], "expected_loss": [900.0, 500.0, 10.0],
                       "risk": [0.9, 0.5, 0.1],
                       "reasons_text": ["久未购买", "投诉", "—"]})  # fmt: skip
    fig = charts.plot_risk_list(df, "zh", top=2)
    bar = fig.data[0]
    assert bar.type == "bar" and bar.orientation == "h"
    assert bar.y == ("C2", "C1") and bar.x == (500.0, 900.0)
    assert [list(c) for c in bar.customdata] == [[0.5, "投诉"], [0.9, "久未购买"]]
    assert fig.layout.xaxis.title.text == "预期损失" and _title(fig) == "预期损失最高的客户"
    en = charts.plot_risk_list(df, "en")
    assert en.data[0].y == ("C3", "C2", "C1")
    assert _title(en) == "Customers with the largest expected loss"


def test_lift():
    df = pd.DataFrame({"decile": [1, 2, 3], "lift": [2.5, 1.0, 0.3], "capture": [0.5, 0.7, 0.8]})
    fig = charts.plot_lift(df, "zh")
    bar, capture = fig.data
    assert (bar.type, capture.type) == ("bar", "scatter")
    assert bar.x == capture.x == (1, 2, 3)
    assert bar.y == (2.5, 1.0, 0.3) and capture.y == (0.5, 0.7, 0.8)
    assert capture.yaxis == "y2" and fig.layout.yaxis2.overlaying == "y"
    assert (bar.name, capture.name) == ("提升度", "累计捕获流失比例")
    assert fig.layout.xaxis.title.text == "风险十分位（1 = 最高）"
    en = charts.plot_lift(df, "en")
    assert en.layout.yaxis.title.text == "Lift" and _title(en) == "Backtest lift by risk decile"


def test_retention_trend():
    """Quarter ends as dates; error bars from the Wilson interval (0.12 − 0.10, 0.10 − 0.09)."""
    df = pd.DataFrame({"period_end": pd.to_datetime(["2026-03-31", "2026-06-30"]),
                       "churn_rate": [0.10, 0.20], "lo": [0.09, 0.15], "hi": [0.12, 0.26],
                       "n": [900, 40]})  # fmt: skip
    fig = charts.plot_retention_trend(df, "en")
    line = fig.data[0]
    assert line.type == "scatter" and line.x == ("2026-03-31", "2026-06-30")
    assert line.y == (0.10, 0.20) and line.customdata == (900, 40)
    assert list(line.error_y.array) == pytest.approx([0.02, 0.06])
    assert list(line.error_y.arrayminus) == pytest.approx([0.01, 0.05])
    assert fig.layout.yaxis.title.text == "Churn rate"
    assert _title(fig) == "Quarterly churn rate (95% CI)"
    zh = charts.plot_retention_trend(df, "zh")
    assert zh.layout.yaxis.title.text == "流失率" and _title(zh) == "季度流失率（95%区间）"


def test_need_priority():
    """Highest priority at the top (rows reversed); common needs blue, individual orange."""
    df = pd.DataFrame({"label": ["物流", "培训"], "priority": [0.81, 0.333],
                       "customers": [120, 9], "need_type": ["common", "individual"],
                       "need_type_label": ["共性", "个性"],
                       "status": ["none", "planned"]})  # fmt: skip
    fig = charts.plot_need_priority(df, "zh")
    bar = fig.data[0]
    assert bar.type == "bar" and bar.orientation == "h"
    assert bar.y == ("培训", "物流") and bar.x == (0.333, 0.81)
    assert bar.text == ("0.33", "0.81")
    assert bar.marker.color == (charts.PALETTE[1], charts.PALETTE[0])
    assert fig.layout.xaxis.title.text == "优先级得分" and _title(fig) == "需求优先级"
    en = charts.plot_need_priority(df, "en")
    assert en.layout.xaxis.title.text == "Priority" and _title(en) == "Needs by priority"


def test_need_trend():
    """One line per need (sorted by label); a flagged need is thick, marked ▲, the others
    faded."""
    df = pd.DataFrame({"month": pd.to_datetime(["2026-07-01", "2026-08-01", "2026-07-01"]),
                       "label": ["物流", "物流", "价格"], "share": [0.1, 0.3, 0.05]})  # fmt: skip
    fig = charts.plot_need_trend(df, "zh", flagged=("物流",))
    price, delivery = fig.data  # 价 (U+4EF7) sorts before 物 (U+7269)
    assert (price.type, delivery.type) == ("scatter", "scatter")
    assert price.name == "价格" and delivery.name == "物流 ▲"
    assert delivery.x == ("2026-07", "2026-08") and delivery.y == (0.1, 0.3)
    assert price.x == ("2026-07",) and price.y == (0.05,)
    assert (delivery.line.width, price.line.width) == (4, 1.5)
    assert (delivery.opacity, price.opacity) == (1.0, 0.55)
    assert fig.layout.yaxis.title.text == "占当月文本比例"
    en = charts.plot_need_trend(df, "en")
    assert {tr.opacity for tr in en.data} == {1.0}
    assert en.layout.yaxis.title.text == "Share of the month's texts"
    assert _title(en) == "Share of texts per need, by month"


def test_needs_by_segment():
    """Segments as rows, needs as columns (both sorted); ★ marks a need common in a segment;
    the pair no one raised is a gap, not 0."""
    df = pd.DataFrame({"segment_label": ["A", "A", "B"], "label": ["物流", "价格", "物流"],
                       "share": [0.5, 0.25, 0.1], "common": [True, False, False]})  # fmt: skip
    fig = charts.plot_needs_by_segment(df, "zh")
    hm = fig.data[0]
    assert hm.type == "heatmap"
    assert hm.y == ("A", "B") and hm.x == ("价格", "物流")
    z = [list(r) for r in hm.z]
    assert z[0] == [0.25, 0.5] and z[1][1] == 0.1 and pd.isna(z[1][0])
    assert [list(r) for r in hm.text] == [["25%", "50% ★"], ["", "10%"]]
    assert _title(fig) == "各分群的需求占比（共性/个性）"
    assert (
        _title(charts.plot_needs_by_segment(df, "en")) == "Needs per segment (common vs individual)"
    )


def test_contact_by_segment():
    """One stacked trace per channel asked for, in that order, named by ``labels``; other
    columns are ignored."""
    df = pd.DataFrame({"segment_label": ["A", "B"], "phone": [1.5, 0.25], "wechat": [2.0, 0.0],
                       "email": [9.0, 9.0]})  # fmt: skip
    fig = charts.plot_contact_by_segment(df, "en", channels=("wechat", "phone"))
    wechat, phone = fig.data
    assert (wechat.name, phone.name) == ("wechat", "phone") and fig.layout.barmode == "stack"
    assert wechat.x == phone.x == ("A", "B")
    assert wechat.y == (2.0, 0.0) and phone.y == (1.5, 0.25)
    assert fig.layout.yaxis.title.text == "Contacts per customer"
    assert _title(fig) == "Contacts per customer, last 12 months"
    named = charts.plot_contact_by_segment(df, "zh", ("wechat", "phone"), labels={"phone": "电话"})
    assert [tr.name for tr in named.data] == ["wechat", "电话"]  # unnamed columns as they are
    assert named.data[1].hovertemplate == "%{x} · 电话: %{y:.2f}<extra></extra>"
    zh = charts.plot_contact_by_segment(df, "zh")
    assert [tr.type for tr in zh.data] == ["bar"] and zh.data[0].x == ()
    assert zh.layout.yaxis.title.text == "人均联系次数"


# ------------------------------------------------------------------------------ every function

#: The columns each function reads (its docstring's data contract).
COLUMNS: dict[str, list[str]] = {
    "plot_table_counts": ["label", "rows"],
    "plot_quality_distribution": ["band", "customers"],
    "plot_column_completeness": ["label", "share"],
    "plot_stale_by_team": ["label", "stale", "fresh"],
    "plot_segments": ["label", "customers", "revenue_share"],
    "plot_pareto": ["x", "y"],
    "plot_maintenance_map": ["stage", "type", "team", "strategy", "customers"],
    "plot_migration": ["from_label", "to_label", "customers"],
    "plot_rfm_heatmap": ["r_score", "f_score", "customers", "monetary"],
    "plot_score_trend": ["period", "value", "lo", "hi", "n", "small_sample"],
    "plot_drivers": ["label_zh", "label_en", "effect", "lo", "hi", "n_with"],
    "plot_sla": ["channel", "breach_rate", "lo", "hi", "n", "small_sample"],
    "plot_backlog_ageing": ["team", "bucket", "tickets"],
    "plot_kpi_trend": ["key", "name", "period", "value", "lo", "hi", "n", "target"],
    "plot_return_rates": [
        "product_id",
        "name",
        "rate",
        "lo",
        "hi",
        "flagged",
        "orders",
        "q",
        "category_rate",
    ],  # fmt: skip
    "plot_pipeline": [
        "stage",
        "opportunities",
        "probability",
        "median_days",
        "amount",
        "expected_value",
    ],  # fmt: skip
    "plot_cohort_retention": ["cohort", "month", "retention", "cohort_size"],
    "plot_palive": ["tier_label", "bin", "customers"],
    "plot_clv_by_tier": ["tier_label", "lo", "q1", "median", "q3", "hi", "mean", "n"],
    "plot_risk_list": ["customer_id", "expected_loss", "risk", "reasons_text"],
    "plot_lift": ["decile", "lift", "capture"],
    "plot_retention_trend": ["period_end", "churn_rate", "lo", "hi", "n"],
    "plot_need_priority": ["label", "priority", "customers", "need_type", "need_type_label"],
    "plot_need_trend": ["month", "label", "share"],
    "plot_needs_by_segment": ["segment_label", "label", "share", "common"],
    "plot_contact_by_segment": ["segment_label"],
}


def _public_plot_functions() -> set[str]:
    return {
        name
        for name, f in inspect.getmembers(charts, inspect.isfunction)
        if name.startswith("plot_") and f.__module__ == charts.__name__
    }


def test_every_plot_function_is_tested_here():
    """A new ``plot_*`` function needs its columns here (and a test of its own above)."""
    assert _public_plot_functions() == set(COLUMNS)


@pytest.mark.parametrize("name", sorted(COLUMNS))
@pytest.mark.parametrize("lang", ["zh", "en"])
def test_empty_frame_gives_a_titled_figure_without_points(name, lang):
    """No rows (a filter that matches nothing): a figure with the chart's title and no data
    points — never an error. The RFM grid stays 5 × 5 zeros; migration and needs-by-segment
    show a single blank cell (migration with a "no snapshots" note)."""
    df = pd.DataFrame({c: pd.Series([], dtype=object) for c in COLUMNS[name]})
    fig = getattr(charts, name)(df, lang)
    full = getattr(charts, name)(_one_row(name), lang)
    assert isinstance(fig, go.Figure)
    assert _title(fig) == _title(full) and _title(fig)
    if name == "plot_rfm_heatmap":
        assert [list(r) for r in fig.data[0].z] == [[0] * 5] * 5
    elif name in ("plot_migration", "plot_needs_by_segment"):
        assert [list(r) for r in fig.data[0].z] == [[0]] and fig.data[0].x == ("",)
    else:
        assert all(len(tr.x or ()) == 0 and len(tr.y or ()) == 0 for tr in fig.data), name
    if name == "plot_migration":
        note = "尚无历史分群快照" if lang == "zh" else "No earlier segment snapshots yet"
        assert [a.text for a in fig.layout.annotations] == [note]


def _one_row(name: str) -> pd.DataFrame:
    """One plausible row for ``name``, to compare the empty figure's title against."""
    row = {
        "label": "x", "rows": 1, "band": "0.9", "customers": 1, "share": 0.5, "stale": 1,
        "fresh": 1, "revenue_share": 0.5, "x": 0.5, "y": 0.5, "stage": "lead", "type": "t",
        "team": "A", "strategy": "s", "from_label": "A", "to_label": "A", "r_score": 1,
        "f_score": 1, "monetary": 1.0, "period": pd.Timestamp("2026-01-01"), "value": 1.0,
        "lo": 0.0, "hi": 1.0, "n": 1, "small_sample": False, "label_zh": "x", "label_en": "x",
        "effect": 0.1, "n_with": 1, "channel": "web", "breach_rate": 0.5, "bucket": "b",
        "tickets": 1, "key": "customer_churn", "name": "n", "target": 0.1, "product_id": "P",
        "rate": 0.1, "flagged": False, "orders": 1, "q": 0.5, "category_rate": 0.1,
        "opportunities": 1, "probability": 0.5, "median_days": 1.0, "amount": 1.0,
        "expected_value": 0.5, "cohort": pd.Timestamp("2026-01-01"), "month": 0,
        "retention": 1.0, "cohort_size": 1, "tier_label": "g", "bin": 0, "q1": 0.2,
        "median": 0.5, "q3": 0.7, "mean": 0.5, "customer_id": "C", "expected_loss": 1.0,
        "risk": 0.5, "reasons_text": "r", "decile": 1, "lift": 1.0, "capture": 0.1,
        "period_end": pd.Timestamp("2026-03-31"), "churn_rate": 0.1, "priority": 0.5,
        "need_type": "common", "need_type_label": "c", "segment_label": "A", "common": True,
    }  # fmt: skip
    if name == "plot_score_trend":
        row["value"] = 30.0
    return pd.DataFrame([{c: row[c] for c in COLUMNS[name]}])
