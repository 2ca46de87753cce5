"""Chinese (zh-CN) and English labels and number / date formats for every user-facing string.

Labels live in one dictionary, ``LABELS``: key → (中文, English). Table and column names come from
``crmkit.schema`` so they are declared once. Numbers and dates follow the language: ¥ and
thousands separators in both, percentages with one decimal, dates as 2024年3月1日 / 1 Mar 2024.

Examples
--------
>>> t("rows", "zh"), t("rows", "en")
('行数', 'Rows')
>>> fmt_money(1234567.8, "en"), fmt_pct(0.1234, "zh"), fmt_date(date(2024, 3, 1), "zh")
('¥1,234,568', '12.3%', '2024年3月1日')
"""

from __future__ import annotations

import math
from datetime import date, datetime

from crmkit import schema

LANGS = ("zh", "en")
DEFAULT_LANG = "zh"

LABELS: dict[str, tuple[str, str]] = {
    # generic
    "app_title": ("客户管理工作台", "Customer management workbench"),
    "language": ("语言", "Language"),
    "rows": ("行数", "Rows"),
    "table": ("数据表", "Table"),
    "column": ("字段", "Column"),
    "share": ("占比", "Share"),
    "count": ("数量", "Count"),
    "total": ("合计", "Total"),
    "n": ("样本量", "n"),
    "value": ("数值", "Value"),
    "reason": ("原因", "Reason"),
    "definition": ("口径", "Definition"),
    "numerator": ("分子", "Numerator"),
    "denominator": ("分母", "Denominator"),
    "window": ("时间窗口", "Window"),
    "small_sample": ("样本量小，仅供参考", "Small sample: read with care"),
    "as_of": ("数据截至", "Data as of"),
    "published_at": ("发布时间", "Published at"),
    "updating": ("正在更新…", "Updating…"),
    "no_data": ("没有符合条件的数据", "No data for these filters"),
    "server_busy": (
        "服务繁忙：页面已全部占用，本页会自动重试",
        "Busy: every page is in use; this page retries by itself",
    ),
    "more_rows": ("… 另有 {n} 行未显示", "… {n} more"),
    "error_short": (
        "页面出错，请稍后重试或联系管理员。",
        "Something went wrong; retry or ask your admin.",
    ),
    # filters
    "filters": ("筛选", "Filters"),
    "period": ("时间段", "Period"),
    "region": ("地区", "Region"),
    "province": ("省份", "Province"),
    "city": ("城市", "City"),
    "segment": ("客户分群", "Segment"),
    "owner_team": ("负责团队", "Owner team"),
    "all": ("全部", "All"),
    "export_csv": ("导出 CSV", "Export CSV"),
    "export_xlsx": ("导出 Excel", "Export Excel"),
    "exported_at": ("导出时间", "Exported at"),
    "filters_used": ("筛选条件", "Filters used"),
    # teams
    "team_sales": ("销售团队", "Sales"),
    "team_service": ("客户服务团队", "Service"),
    "team_success": ("客户成功团队", "Customer success"),
    "team_marketing": ("市场营销团队", "Marketing"),
    # ingest and quality (step 2 信息收集与维护)
    "ingest": ("数据导入", "Ingest"),
    "last_ingest": ("最近一次导入", "Last ingest"),
    "rows_in": ("读入行数", "Rows in"),
    "loaded": ("已加载", "Loaded"),
    "rejected": ("已拒绝", "Rejected"),
    "top_reject_reasons": ("主要拒绝原因", "Top reject reasons"),
    "quality": ("数据质量", "Data quality"),
    "completeness": ("完整性", "Completeness"),
    "validity": ("准确性", "Validity"),
    "quality_score": ("质量得分", "Quality score"),
    "stale": ("待核实（过期）", "Stale (needs re-check)"),
    "stale_share": ("过期占比", "Stale share"),
    "duplicates": ("疑似重复客户", "Duplicate candidates"),
    "match_on": ("匹配依据", "Matched on"),
    "owner": ("负责人", "Owner"),
    "customers": ("客户数", "Customers"),
    "fresh": ("已核实", "Verified"),
    "unassigned": ("未分配", "Unassigned"),
    "file": ("文件", "File"),
    "finished_at": ("完成时间", "Finished at"),
    "no_ingest": (
        "还没有导入记录（演示数据直接生成）",
        "No ingest runs yet (demo data is generated)",
    ),
    "quality_by_table": ("各表数据质量", "Data quality per table"),
    "def_quality_by_table": (
        "全表口径（不受筛选影响）：各表全部记录的平均完整性、准确性与质量得分",
        "Whole tables (filters do not apply): mean completeness, validity and score per record",
    ),
    "stale_by_owner": ("待回访核实的客户（按负责人）", "Customers due for a re-check, by owner"),
    # periods
    "period_all": ("全部时间", "All time"),
    "period_30d": ("近30天", "Last 30 days"),
    "period_90d": ("近90天", "Last 90 days"),
    "period_365d": ("近12个月", "Last 12 months"),
    "seg_potential": ("潜在客户（未购买）", "Potential (no purchase yet)"),
    # pages
    "page_index": ("客户管理工作台", "Customer management workbench"),
    "page_data_overview": ("数据概览与数据质量", "Data overview and quality"),
    "page_data_overview_desc": (
        "各表数据量、最近导入与拒绝原因、数据质量得分、疑似重复客户、待核实客户",
        "Rows per table, last ingest and reject reasons, quality scores, duplicates, stale records",
    ),
    # figures
    "fig_table_counts": ("各表数据量", "Rows per table"),
    "fig_quality_distribution": ("客户数据质量得分分布", "Customers by data-quality score"),
    "fig_column_completeness": ("客户资料各字段填写率", "Customer profile: share filled per field"),
    "fig_stale_by_team": ("待核实客户（按负责团队）", "Stale customers by owner team"),
    # definitions (口径)
    "def_customers": (
        "符合筛选条件的客户数（建档时间在所选时间段内）；数据截至 {as_of}",
        "Customers matching the filters (created in the period); data as of {as_of}",
    ),
    "def_quality_score": (
        "平均质量得分 =（完整性 + 准确性）/ 2，超过365天未核实 ×0.8；n = {n} 位客户",
        "Mean of (completeness + validity) / 2, ×0.8 when not verified for 365 days; n = {n}",
    ),
    "def_completeness": (
        "已填写的必填及资料字段数 / 应填字段数（11个），按客户平均；n = {n}",
        "Filled required + profile fields / expected fields (11), mean per customer; n = {n}",
    ),
    "def_validity": (
        "格式有效的字段数 / 已填写的需校验字段数（手机、邮箱、枚举、日期），按客户平均；n = {n}",
        "Valid values / filled checked values (phone, email, codes, dates), mean; n = {n}",
    ),
    "def_stale_share": (
        "超过365天未核实或从未核实的客户 {stale} / 客户数 {n}",
        "Customers not verified for over 365 days or never: {stale} / customers {n}",
    ),
    "def_duplicates": (
        "手机、邮箱或姓名+公司相同的客户对（已排除50人以上共用的占位值）",
        "Pairs of customers sharing a phone, email or name + company (placeholder values "
        "shared by more than 50 excluded)",
    ),
    # classification page (step 1 客户分类)
    "page_classification": ("客户分类与维护导图", "Customer classification and maintenance map"),
    "page_classification_desc": (
        "RFM八类客户、价值分层（ABC / 金银铜）、客户管理维护导图、分群迁移、各分群客户名单",
        "8-class RFM, value tiers (ABC / gold-silver-bronze), maintenance map, migration, lists",
    ),
    "no_snapshots": ("尚无历史分群快照", "No earlier segment snapshots yet"),
    "fig_rfm_heatmap": (
        "RFM热力图：R分 × F分（颜色 = 客户数，悬停 = 平均消费）",
        "RFM heat map: R score × F score (colour = customers, hover = mean spend)",
    ),
    "r_score": ("R分（近度，5 = 最近）", "R score (5 = most recent)"),
    "f_score": ("F分（频次，5 = 最多）", "F score (5 = most frequent)"),
    "class_table": ("八类客户明细", "The eight classes"),
    "migration_from": ("迁移起点", "From"),
    "migration_to": ("迁移终点", "To"),
    "col_customers": ("客户数", "Customers"),
    "col_revenue": ("消费金额", "Spend"),
    "col_revenue_share": ("收入占比", "Share of revenue"),
    "col_mean_recency": ("平均距上次购买天数", "Mean days since purchase"),
    "col_mean_frequency": ("平均购买次数", "Mean orders"),
    "col_mean_monetary": ("平均消费金额", "Mean spend"),
    "col_label": ("分群", "Segment"),
    "seg_new": ("新客户", "New customers"),
    "seg_removed": ("已移除", "Removed"),
    "revenue_share": ("收入占比", "Share of revenue"),
    "share_of_customers": (
        "客户占比（按消费金额从高到低）",
        "Share of customers (highest spend first)",
    ),
    "share_of_revenue": ("累计收入占比", "Cumulative share of revenue"),
    "fig_segments": (
        "RFM八类客户：客户数（标签为收入占比）",
        "8-class RFM: customers (labels: share of revenue)",
    ),
    "fig_pareto": (
        "客户价值帕累托曲线（ABC分层：70% / 90%）",
        "Customer value Pareto curve (ABC cut-offs 70% / 90%)",
    ),
    "fig_maintenance_map": (
        "客户管理维护导图：生命周期 × 客户类型（颜色 = 负责团队）",
        "Maintenance map: lifecycle stage × customer type (colour = owner team)",
    ),
    "fig_migration": (
        "分群迁移矩阵（约一年前 → 截至日）",
        "Segment migration (about a year ago → as of)",
    ),
    "from_segment": ("原分群", "From segment"),
    "to_segment": ("现分群", "To segment"),
    "lifecycle_stage": ("生命周期阶段", "Lifecycle stage"),
    "customer_type": ("客户类型", "Customer type"),
    "important_customers": ("重要客户", "Important customers"),
    "a_revenue_share": ("A类（高价值）客户收入占比", "Revenue share of A (high-value) customers"),
    "churned_share": ("流失客户占比", "Churned share"),
    "rules_version": ("分类规则版本", "Rules version"),
    "customer_list": ("客户名单", "Customer list"),
    "def_cls_customers": (
        "符合筛选条件的客户（含未购买的潜在客户；选择时间段时为该时间段内有购买的客户）；"
        "数据截至 {as_of}",
        "Customers matching the filters (incl. potential; with a period: those who bought in "
        "it); as of {as_of}",
    ),
    "def_important": (
        "客户类型为“重要”（A类高价值或客龄≥3年，且未流失）的客户数；分母 n = {n}",
        "Customers typed important (class A or tenure ≥ 3 years, not churned); out of n = {n}",
    ),
    "def_a_revenue_share": (
        "A类客户消费金额之和 / 全部客户消费金额 {revenue}（不含退货、退款、取消订单）",
        "Spend of class-A customers / all spend {revenue} (returns, refunds, cancellations "
        "excluded)",
    ),
    "def_churned_share": (
        "流失客户 {churned} / 客户数 {n}；流失 = 超过流失天数（默认购买周期中位数×3）未购买",
        "Churned {churned} / customers {n}; churned = no purchase for longer than 3× the "
        "median cycle",
    ),
    "col_customer_id": ("客户编号", "Customer ID"),
    "col_name": ("客户名称", "Name"),
    "col_phone": ("手机", "Phone"),
    "col_segment": ("分群", "Segment"),
    "col_value_tier": ("价值等级", "Value tier"),
    "col_customer_type": ("客户类型", "Customer type"),
    "col_owner_team": ("负责团队", "Owner team"),
    "col_owner": ("负责人", "Owner"),
    "col_strategy": ("维护策略", "Strategy"),
    "col_recency_days": ("距上次购买天数", "Days since last purchase"),
    "col_frequency": ("购买次数", "Orders"),
    "col_monetary": ("消费金额", "Spend"),
    # duplicate list columns
    "dup_customer_id_a": ("客户编号A", "Customer ID A"),
    "dup_name_a": ("姓名A", "Name A"),
    "dup_phone_a": ("手机A", "Phone A"),
    "dup_email_a": ("邮箱A", "Email A"),
    "dup_customer_id_b": ("客户编号B", "Customer ID B"),
    "dup_name_b": ("姓名B", "Name B"),
    "dup_phone_b": ("手机B", "Phone B"),
    "dup_email_b": ("邮箱B", "Email B"),
    "dup_match_on": ("匹配依据", "Matched on"),
    # --- satisfaction and complaints (issue 7) ---
    "page_satisfaction": ("客户满意度与投诉处理", "Satisfaction and complaints"),
    "page_satisfaction_desc": (
        "NPS / CSAT / CES 及置信区间、满意与不满意的原因、预警、投诉SLA与服务质量",
        "NPS / CSAT / CES with intervals, key drivers, alerts, complaint SLA and service quality",
    ),
    "sat_nps": ("净推荐值 NPS", "NPS"),
    "sat_csat": ("满意度 CSAT", "CSAT"),
    "sat_ces": ("费力度 CES", "CES (effort)"),
    "sat_sla": ("投诉首次响应达标率", "Complaint first-response SLA"),
    "sat_ci": ("95%置信区间", "95% CI"),
    "sat_def_nps": (
        "(推荐者9–10分 − 贬损者0–6分) / 有NPS评分的反馈 × 100；推荐者 {promoters}，贬损者 "
        "{detractors}，n = {n}；区间: 方差公式 (p₊+p₋−(p₊−p₋)²)/n；{window}",
        "(promoters 9-10 − detractors 0-6) / responses with an NPS answer × 100; promoters "
        "{promoters}, detractors {detractors}, n = {n}; interval: var = (p₊+p₋−(p₊−p₋)²)/n; "
        "{window}",
    ),
    "sat_def_csat": (
        "满意度4–5分的反馈 {k} / 有满意度评分的反馈 {n}；Wilson区间；{window}",
        "responses scoring 4-5 ({k}) / responses with a CSAT answer ({n}); Wilson interval; "
        "{window}",
    ),
    "sat_def_ces": (
        "费力度评分平均值(1–7，越低越省力)，n = {n}；t区间；{window}",
        "mean effort score (1-7, lower = easier), n = {n}; Student-t interval; {window}",
    ),
    "sat_def_sla": (
        "{policy}: 达标工单 {k} / 已答复或超时未答复的工单 {n}（未答复计为超时）；Wilson区间；"
        "按投诉时间 {window}",
        "{policy}: tickets answered in time ({k}) / tickets answered or unanswered past the "
        "target ({n}; never answered = breach); Wilson interval; opened {window}",
    ),
    "sat_window": ("时间窗 {start} – {end}", "window {start} – {end}"),
    "sat_policy": ("首次响应≤{hours}小时（全天计时）", "first response ≤ {hours} h (24/7 clock)"),
    "sat_policy_bh": (
        "首次响应≤{hours}小时（仅计工作时间 {bh}）",
        "first response ≤ {hours} h (business hours {bh} only)",
    ),
    "sat_policy_bh_calendar": (
        "首次响应≤{hours}小时（仅计{calendar}工作日的工作时间 {bh}，"
        "法定节假日不计、调休上班日计入）",
        "first response ≤ {hours} h (business hours {bh} on {calendar} workdays only: statutory "
        "holidays off, make-up workdays on)",
    ),
    "fig_score_trend": ("{metric} 趋势（阴影: 95%置信区间）", "{metric} trend (band: 95% CI)"),
    "fig_drivers": ("NPS关键驱动因素（效应及95%置信区间）", "Key drivers of NPS (effect, 95% CI)"),
    "fig_sla": ("各渠道首次响应超时率", "First-response SLA breach rate by channel"),
    "fig_backlog_ageing": ("未结案工单账龄（按团队）", "Open tickets by age and team"),
    "sat_period": ("时期", "Period"),
    "sat_effect": ("对NPS评分的影响（0–10分）", "Effect on the NPS answer (0-10 points)"),
    "sat_breach_rate": ("超时率", "Breach rate"),
    "sat_open_tickets": ("未结案工单", "Open tickets"),
    "sat_sec_alerts": (
        "当前预警（最近90天 vs 之前12个月）",
        "Current alerts (last 90 days vs the year before)",
    ),
    "sat_no_alerts": (
        "没有显著下降的切片（已检验 {n} 项，BH调整后p<0.05才预警）",
        "No slice dropped significantly ({n} tests; an alert needs BH-adjusted p < 0.05)",
    ),
    "sat_drivers_method": (
        "NPS评分(0–10)的OLS回归，HC3稳健标准误；是否贬损者(0–6)的logit，平均边际效应，HC1稳健标准误",
        "OLS of the NPS answer (0-10), HC3 robust SE; logit of detractor (0-6), average "
        "marginal effects, HC1 robust SE",
    ),
    "sat_sec_segments": ("按客户分群的得分", "Scores by customer segment"),
    "sat_sec_breaches": ("SLA超时工单", "Tickets that missed the SLA"),
    "sat_sec_quality": ("服务质量（按团队）", "Service quality by team"),
    "sat_sec_drivers_note": (
        "驱动因素基于全部数据（发布时计算）：{method}；n = {n}",
        "Drivers over all data (computed at publish time): {method}; n = {n}",
    ),
    "sat_col_ticket_id": ("工单编号", "Ticket ID"),
    "sat_col_customer_id": ("客户编号", "Customer ID"),
    "sat_col_name": ("客户名称", "Name"),
    "sat_col_opened_at": ("投诉时间", "Opened at"),
    "sat_col_first_response_at": ("首次响应时间", "First response at"),
    "sat_col_waited_minutes": ("等待分钟数", "Minutes waited"),
    "sat_col_channel": ("渠道", "Channel"),
    "sat_col_category": ("类别", "Category"),
    "sat_col_severity": ("严重程度", "Severity"),
    "sat_col_team": ("处理团队", "Team"),
    "sat_col_agent": ("处理人", "Agent"),
    "sat_col_status": ("状态", "Status"),
    "sat_open": ("未结案", "open"),
    "sat_closed": ("已结案", "resolved"),
    "sat_never": ("从未答复", "never answered"),
    "sat_col_dimension": ("维度", "Dimension"),
    # the slices and tests of crmkit.satisfaction.score_alerts
    "sat_dim_overall": ("整体", "Overall"),
    "sat_dim_province": ("省份", "Province"),
    "sat_dim_segment": ("客户分群", "Segment"),
    "sat_dim_channel": ("下单渠道", "Order channel"),
    "sat_dim_category": ("产品类别", "Product category"),
    "sat_dim_owner_team": ("负责团队", "Owner team"),
    "sat_no_order": ("无订单（关系调查）", "no order (relationship survey)"),
    "sat_not_given": ("未填写", "not given"),
    "sat_test_nps": ("双比例z检验（贬损者占比）", "two-proportion z (detractor share)"),
    "sat_test_csat": ("双比例z检验（4–5分占比）", "two-proportion z (4-5 share)"),
    "sat_test_ces": ("Welch t检验（均值）", "Welch t (mean)"),
    "sat_col_slice": ("切片", "Slice"),
    "sat_col_metric": ("指标", "Metric"),
    "sat_col_before": ("之前", "Before"),
    "sat_col_now": ("现在", "Now"),
    "sat_col_change": ("变化", "Change"),
    "sat_col_n_before": ("之前n", "n before"),
    "sat_col_n_now": ("现在n", "n now"),
    "sat_col_test": ("检验", "Test"),
    "sat_col_q_value": ("调整后p值(BH)", "Adjusted p (BH)"),
    "sat_col_likely_drivers": ("可能原因", "Likely drivers"),
    "sat_col_label": ("切片", "Slice"),
    "sat_col_tickets": ("工单数", "Tickets"),
    "sat_col_attainment": ("达标率", "Attainment"),
    "sat_col_interval": ("95%区间", "95% CI"),
    "sat_col_median_resolution_hours": ("解决时长中位数(小时)", "Median hours to resolve"),
    "sat_col_reopen_rate": ("重开率", "Reopen rate"),
    "sat_col_escalation_rate": ("升级率", "Escalation rate"),
    "sat_col_post_csat": ("工单后满意度", "Post-ticket CSAT"),
    "sat_col_open": ("未结案", "Open"),
    "sat_col_flag": ("样本", "Sample"),
    "sat_col_nps": ("NPS", "NPS"),
    "sat_col_csat": ("CSAT", "CSAT"),
    "sat_col_n": ("样本量", "n"),
    "sat_small": ("样本量小", "small sample"),
    # --- crmkit.kpi, the overview page and crmkit report (issue 9) ---
    "page_overview": ("经营总览 KPI", "Overview: KPIs"),
    "page_overview_desc": (
        "KPI 与目标达成、趋势、客户维护导图、退货率预警、销售机会",
        "KPIs against targets, trends, the maintenance map, return alerts, sales pipeline",
    ),
    "kpi_period": ("统计期", "Period"),
    "kpi_prev": ("对比上期", "Compared with"),
    "kpi_partial": ("本期尚未结束，已过 {share}", "period not over, {share} elapsed"),
    "kpi_target": ("目标", "Target"),
    "kpi_no_target": ("未设目标", "No target set"),
    "kpi_attainment": ("达成率", "Attainment"),
    "kpi_vs": ("对比", "vs"),
    "kpi_unavailable": ("暂不可用", "Not available yet"),
    "na_note": ("暂不可用", "Not available"),
    "na_not_drawn": ("未画出", "Not drawn"),
    "na_no_table": ("数据中没有{table}表", "no {table} table in the data"),
    "na_empty_table": ("{table}表没有数据", "the {table} table is empty"),
    "na_not_in": ("{table}表中没有该客户", "the customer is not in the {table} table"),
    "na_published_as_of": (
        "快照的模型结果截至{table}，不是所选日期",
        "the snapshot's model results are as of {table}, not the date asked for",
    ),
    "na_no_observations": ("统计期内没有可计数的记录", "nothing to count in the period"),
    "na_status_defaulted": (
        "订单状态不在数据中（导入时全部记为已完成）",
        "order status was not in the data (all set to completed at ingest)",
    ),
    "na_too_few": (
        "{what}仅{have}个，至少需要{need}个",
        "only {have} {what}, at least {need} needed",
    ),
    "na_what_repeat_buyers": ("复购客户", "repeat buyers"),
    "na_what_labelled_rows": ("可训练的客户记录", "labelled customer rows to train on"),
    "na_what_churned_rows": (
        "流失与未流失客户（较少一类）",
        "churned / retained customers (the smaller class)",
    ),
    "na_what_attempts": ("挽回尝试", "win-back attempts"),
    "na_what_training_cutoffs": ("首单之后的训练截止点", "training cut-offs after the first order"),
    "kpi_value": ("本期", "This period"),
    "kpi_forecast": ("期末预测", "Period-end forecast"),
    "kpi_forecast_method": (
        "期末预测：线性外推（计数按已过时间比例放大，比率与均值沿用至今的数值）",
        "Forecast of the period end: linear run-rate (counts scaled by the elapsed share, "
        "rates and averages carried forward)",
    ),
    "kpi_interval": ("95% 区间", "95% interval"),
    "kpi_better": ("改善", "better"),
    "kpi_worse": ("变差", "worse"),
    "kpi_same": ("持平", "same"),
    # crmkit.kpi: the words of a KPI's definition (口径) on its card and in the report
    "kpi_numerator": ("分子", "numerator"),
    "kpi_denominator": ("分母", "denominator"),
    "kpi_scope": ("客户范围：筛选条件内的客户", "customers in the filtered scope"),
    "fig_kpi_trend": ("KPI 趋势（虚线为目标）", "KPI trend (dotted: target)"),
    "fig_return_rates": ("产品退货率 vs 同品类其他产品", "Product return rate vs rest of category"),
    "fig_pipeline": ("销售机会管道（按阶段）", "Sales pipeline by stage"),
    "pipe_amount": ("预计金额", "Amount"),
    "pipe_expected": ("期望值（金额×赢单概率）", "Expected value (amount × win probability)"),
    "pipe_median_days": ("在当前阶段天数中位数", "median days in stage"),
    "stage_lead": ("线索", "Lead"),
    "stage_qualified": ("已确认", "Qualified"),
    "stage_proposal": ("方案", "Proposal"),
    "stage_negotiation": ("谈判", "Negotiation"),
    "stage_won": ("赢单", "Won"),
    "stage_lost": ("输单", "Lost"),
    "ret_alerts": ("退货率预警", "Return-rate alerts"),
    "ret_method": (
        "检验：产品与同品类其他产品的双比例 z 检验（单侧），订单数≥30，"
        "Benjamini–Hochberg 校正后 q<0.05",
        "Test: two-proportion z-test of the product vs the rest of its category (one-sided), "
        "at least 30 orders, Benjamini–Hochberg q < 0.05",
    ),
    "ret_none": ("本期没有显著偏高的产品", "No product significantly above its category"),
    "ret_col_product_id": ("产品编号", "Product ID"),
    "ret_col_name": ("产品名称", "Product"),
    "ret_col_category": ("品类", "Category"),
    "ret_col_orders": ("订单数", "Orders"),
    "ret_col_rate": ("退货率", "Return rate"),
    "ret_col_category_rate": ("同品类其他产品退货率", "Rest of category"),
    "ret_col_q": ("q 值", "q"),
    "ret_col_top_reason": ("主要退货原因", "Top return reason"),
    "ret_reasons": ("退货原因与客户反馈", "Return reasons and customer feedback"),
    "alerts_satisfaction": ("满意度预警", "Satisfaction alerts"),
    "alerts_churn": ("流失预警", "Churn alerts"),
    "alerts_not_yet": (
        "暂无：该模块尚未接入（issue {issue}）",
        "Nothing yet: this module is not connected (issue {issue})",
    ),
    "alerts_none": ("没有预警", "No alerts"),
    "map_more": ("查看客户分类与维护导图 →", "Open classification and maintenance map →"),
    "list_lost": ("本期流失客户（按消费金额）", "Customers lost in the period (by spend)"),
    "list_lost_desc": (
        "期初是客户、期末已不是客户（365天内无计入订单）：安排责任人挽回",
        "Customers at the start who are no customers at the end (no counted order in 365 "
        "days): assign someone to win them back",
    ),
    "list_stuck": ("停留最久的销售机会", "Opportunities longest in their stage"),
    "lst_col_customer_id": ("客户编号", "Customer ID"),
    "lst_col_name": ("客户名称", "Name"),
    "lst_col_phone": ("手机", "Phone"),
    "lst_col_province": ("省份", "Province"),
    "lst_col_owner_team": ("负责团队", "Owner team"),
    "lst_col_owner": ("负责人", "Owner"),
    "lst_col_last_order_ts": ("最后下单时间", "Last order"),
    "lst_col_monetary": ("累计消费", "Lifetime spend"),
    "lst_col_opportunity_id": ("机会编号", "Opportunity"),
    "lst_col_stage": ("阶段", "Stage"),
    "lst_col_amount": ("预计金额", "Amount"),
    "lst_col_days_in_stage": ("停留天数", "Days in stage"),
    "rep_title": ("客户管理经营报告", "Customer management report"),
    "rep_kpis": ("KPI 与目标", "KPIs against targets"),
    "rep_changes": ("与上期相比的变化", "What changed vs the previous period"),
    "rep_alerts": ("预警", "Alerts"),
    "rep_lists": ("待处理名单（个人信息已脱敏）", "Lists to act on (personal data masked)"),
    "rep_pipeline": ("销售机会", "Sales opportunities"),
    "rep_win_by_source": ("按来源的赢单率", "Win rate by source"),
    "rep_generated": ("生成时间", "Generated"),
    "rep_unavailable_note": (
        "标记为“暂不可用”的 KPI 由尚未接入的模块计算，此处不给出数值。",
        "KPIs marked 'not available yet' are computed by modules not connected yet; no number "
        "is given for them.",
    ),
    "col_kpi": ("指标", "KPI"),
    "col_won": ("赢单", "Won"),
    "col_closed": ("已关闭", "Closed"),
    "col_rate": ("比率", "Rate"),
    "col_source": ("来源", "Source"),
    # --- churn, loyalty, CLV (issue 8) ---
    "reason_recency": (
        "{days}天未购买，为平时购买间隔的{ratio}倍",
        "no purchase for {days} days, {ratio}× usual gap",
    ),
    "reason_order_drop": (
        "近90天订单从{prev}笔降至{now}笔",
        "orders fell from {prev} to {now} in the last 90 days",
    ),
    "reason_sla": ("{n}次投诉超过响应时限（近180天）", "{n} complaints past SLA (last 180 days)"),
    "reason_complaints": ("近180天投诉{n}次", "{n} complaints in the last 180 days"),
    "reason_nps_drop": ("NPS从{prev}降到{now}", "NPS dropped {prev} → {now}"),
    "reason_region": (
        "所在地区{province}上季度{share}的买家未再购买（上升中）",
        "region {province}: {share} of last quarter's buyers went silent (rising)",
    ),
    "reason_returns": (
        "近180天退货{n}次、延迟送达{late}次",
        "{n} returns, {late} late deliveries in 180 days",
    ),
    "reason_low_frequency": ("仅购买{n}次", "only {n} orders so far"),
    "reason_price": (
        "{share}的订单使用优惠（价格敏感）",
        "{share} of orders discounted (price-sensitive)",
    ),
    "action_repurchase_call": (
        "负责人电话回访并提供个性化复购优惠",
        "Owner calls with a personalised repurchase offer",
    ),
    "action_service_recovery": (
        "客服主管跟进投诉，致歉并补偿",
        "Service lead resolves the complaints, apologises, compensates",
    ),
    "action_follow_up_visit": (
        "安排客户回访，了解满意度下降原因",
        "Follow-up visit to learn why satisfaction dropped",
    ),
    "action_regional_retention": (
        "地区挽留活动（会员福利、上门拜访）",
        "Regional retention campaign (member benefits, visits)",
    ),
    "action_quality_follow_up": (
        "质量回访，提供换新或延保",
        "Quality follow-up: replacement or extended warranty",
    ),
    "action_member_benefits": (
        "推送会员福利，促进再次购买",
        "Member benefits to prompt the next purchase",
    ),
    "action_targeted_offer": ("定向优惠券", "Targeted coupon"),
    "action_regular_care": ("常规关怀", "Regular care"),
    "signal_sla": ("投诉超时", "Complaint past SLA"),
    "signal_complaints": ("有投诉", "Complained"),
    "signal_low_nps": ("NPS ≤ 6", "NPS ≤ 6"),
    "signal_nps_drop": ("NPS下降≥3", "NPS fell ≥ 3"),
    "signal_returns": ("有退货", "Returned an order"),
    "signal_late_delivery": ("延迟送达", "Late delivery"),
    "signal_price": ("价格敏感（≥50%订单用优惠）", "Price-sensitive (≥ 50% discounted)"),
    "signal_region": ("沉默率显著偏高的省份", "Province going silent more than others"),
    "signal_none": ("无明显信号", "No signal"),
    "page_churn": ("客户流失预警与挽回", "Churn early warning and win-back"),
    "page_churn_desc": (
        "流失率与保留趋势、同期群、存活概率与客户终身价值、流失风险名单（原因、负责人、建议行动）、挽回效果",
        "Churn rate and retention trend, cohorts, P(alive) and CLV, risk list with reasons, "
        "owner and action, win-back results",
    ),
    "churn_rate": ("流失率", "Churn rate"),
    "def_buyer_churn_91d": (
        "前91天有购买的客户中近91天未再购买的比例：{k} / {n}（95%区间 {lo}–{hi}）",
        "buyers of the 91 days before with no purchase in the last 91 days: {k} / {n} "
        "(95% CI {lo}–{hi})",
    ),
    "at_risk_customers": ("高风险客户", "Customers at risk"),
    "def_at_risk": (
        "近一年活跃客户（{n}）中未来{horizon}天不购买的预测概率≥50%的人数",
        "active customers (of {n}) with a predicted ≥ 50% chance of no purchase in the next "
        "{horizon} days",
    ),
    "revenue_at_risk": ("风险收入", "Revenue at risk"),
    "def_revenue_at_risk": (
        "Σ 流失风险 × 近365天消费（预期损失）",
        "Σ churn risk × spend of the last 365 days (expected loss)",
    ),
    "clv_mean": ("平均客户终身价值", "Mean CLV"),
    "def_clv_mean": (
        "BG/NBD + Gamma-Gamma，12个月、月贴现率1%，{n}位买家的均值",
        "BG/NBD + Gamma-Gamma, 12 months at 1% a month, mean over {n} buyers",
    ),
    "winback_rate": ("挽回率", "Win-back rate"),
    "def_winback_rate": (
        "挽回联系后90天内再次购买：{k} / {n}",
        "bought again within 90 days of a win-back contact: {k} / {n}",
    ),
    "def_winback": (
        "挽回联系 = 对已超过流失阈值（购买周期×3）未购买的客户的外呼"
        "（复购沟通、优惠推送、回访、拜访）；"
        "挽回成功 = 联系后90天内有有效订单；挽回收入 = 该期间消费。",
        "Win-back contact = outbound call, offer, follow-up or visit to a customer silent past "
        "the churn threshold (purchase cycle × 3); returned = a counted order within 90 days; "
        "revenue recovered = spend in those 90 days.",
    ),
    "winback_by_reason": ("挽回效果（按流失原因）", "Win-back by reason"),
    "winback_by_segment": ("挽回效果（按客户分群）", "Win-back by segment"),
    "col_wb_label": ("分组", "Group"),
    "col_wb_attempts": ("挽回联系", "Contacted"),
    "col_wb_returned": ("已回购", "Returned"),
    "col_wb_winback_rate": ("挽回率（95%区间）", "Win-back rate (95% CI)"),
    "col_wb_revenue_recovered": ("挽回收入", "Revenue recovered"),
    "risk_list": ("流失风险名单", "Churn risk list"),
    "def_risk_list": (
        "按 风险 × 价值（近365天消费）排序；原因 = 使风险升高最多的2–3个因素；负责团队来自分类规则",
        "Ranked by risk × value (spend of the last 365 days); reasons = the 2–3 factors that "
        "raise the risk most; owner team from the classification rules",
    ),
    "col_rank": ("排名", "Rank"),
    "col_province": ("省份", "Province"),
    "col_risk": ("流失风险", "Risk"),
    "col_value": ("近一年消费", "Spend (365 d)"),
    "col_expected_loss": ("预期损失", "Expected loss"),
    "col_reasons": ("原因", "Reasons"),
    "col_action": ("建议行动", "Suggested action"),
    "backtest": ("模型回测", "Model backtest"),
    "backtest_text": (
        "时间回测：在 {train} 训练，在 {test} 测试（{n} 位客户，流失 = 未来{horizon}天无购买）。"
        "AUC {auc}；风险最高的{k}中流失比例 {precision}"
        "（基准 {base}，提升 {lift} 倍）；Brier {brier}。",
        "Time-based backtest: trained at {train}, tested at {test} ({n} customers; churn = no "
        "purchase in the next {horizon} days). AUC {auc}; top {k} by risk churned at "
        "{precision} (base {base}, lift {lift}×); Brier {brier}.",
    ),
    "fig_cohort_retention": (
        "同期群客户保留率（按首购月份）",
        "Customer retention by first-purchase month",
    ),
    "months_since_first": ("首购后月数", "Months since first purchase"),
    "fig_palive": ("存活概率分布（BG/NBD）", "P(alive) distribution (BG/NBD)"),
    "p_alive": ("存活概率", "P(alive)"),
    "fig_clv_by_tier": ("客户终身价值（按价值等级）", "CLV by value tier"),
    "clv": ("客户终身价值", "CLV"),
    "fig_risk_list": ("预期损失最高的客户", "Customers with the largest expected loss"),
    "expected_loss": ("预期损失", "Expected loss"),
    "fig_lift": ("回测提升度（按风险十分位）", "Backtest lift by risk decile"),
    "lift": ("提升度", "Lift"),
    "capture": ("累计捕获流失比例", "Cumulative share of churners"),
    "risk_decile": ("风险十分位（1 = 最高）", "Risk decile (1 = highest)"),
    "fig_retention_trend": ("季度流失率（95%区间）", "Quarterly churn rate (95% CI)"),
    "why_churned": ("客户为什么流失", "Why customers left"),
    "def_why_churned": (
        "回测截止日的活跃客户，信号按截止日已知的数据计算（近180天）。原始流失率仅供参考：活跃客户"
        "订单多，延迟送达、退货和投诉也多，但流失少，因此原始比较会让这些信号看似“保护因素”。"
        "调整后：对是否流失做逻辑回归，同时纳入全部信号和活跃度（最近购买距今天数、订单数、"
        "客户时长、近一年消费、近90天及之前90天订单数，以及含退货退款在内的全部订单）；"
        "优势比与相对风险 > 1 表示风险更高（95%区间）；相对风险 = 有该信号客户的预测流失率 ÷ "
        "同一批客户无该信号时的预测流失率；BH校正后 q < 0.05 才判定方向。"
        "地区信号：所在省份的沉默率（上季度购买、本季度未购买的比例）显著高于其他省份。",
        "Active customers at the backtest cut-off; signals as known at the cut-off (last 180 "
        "days). Raw churn rates are for context only: active customers order more, so they get "
        "more late deliveries, returns and complaints — and churn less, which makes these look "
        "protective. Adjusted: one logistic regression of churn on all signals and on activity "
        "(days since the last purchase, orders, tenure, last year's spend, orders in the last "
        "90 days and the 90 before, and the same over all orders including returned and "
        "refunded ones); an odds ratio or relative risk above 1 means more churn (95% CI); "
        "relative risk = predicted churn of the customers with the signal ÷ the same customers "
        "without it; a direction is called only when the BH-adjusted q < 0.05. Region: the "
        "customer's province goes silent (bought last quarter, not this one) significantly "
        "more often than the other provinces.",
    ),
    "col_why_label": ("信号", "Signal"),
    "col_why_n_with": ("有该信号客户数", "Customers with it"),
    "col_why_rate_with": ("流失率（95%区间）", "Churn rate (95% CI)"),
    "col_why_rate_without": ("无该信号流失率", "Churn rate without"),
    "col_why_odds_ratio": ("调整后优势比（95%区间）", "Adjusted odds ratio (95% CI)"),
    "col_why_adjusted_rr": ("调整后相对风险（95%区间）", "Adjusted relative risk (95% CI)"),
    "col_why_direction": ("结论", "Reading"),
    "col_why_share_of_churned": ("占流失客户比例", "Share of churned"),
    "why_dir_risk": ("风险因素", "Risk factor"),
    "why_dir_protective": ("保护因素", "Protective"),
    "why_dir_unclear": ("不明确（差异不显著）", "Unclear (not significant)"),
    "effect_note_no_variation": (
        "未估计：所有客户取值相同",
        "Not estimated: the same for every customer",
    ),
    "effect_note_separation": (
        "未估计：有（或无）该信号的客户全部流失或全部留存",
        "Not estimated: everyone with it (or without it) had the same outcome",
    ),
    "effect_note_collinear": (
        "未估计：与其他信号或活跃度变量重合",
        "Not estimated: it duplicates other signals or activity",
    ),
    "effect_note_no_fit": ("未估计：模型未收敛", "Not estimated: the model did not converge"),
    # --- satisfaction: need topics in detractors' vs promoters' comments ---
    "sat_sec_topics": (
        "不满意的原因：贬损者评论中的需求主题",
        "Why unhappy: need topics in detractors' comments",
    ),
    "sat_topics_note": (
        "每个主题在贬损者(NPS 0–6)评论中的占比 vs 推荐者(9–10)评论中的占比；"
        "两比例z检验，BH校正(q)；全部快照",
        "Share of detractors' (NPS 0–6) vs promoters' (9–10) comments mentioning each topic; "
        "two-proportion z-test, Benjamini–Hochberg q; whole snapshot",
    ),
    "sat_topic_topic": ("需求主题", "Topic"),
    "sat_topic_detractor_share": ("贬损者评论占比", "Detractors' comments"),
    "sat_topic_promoter_share": ("推荐者评论占比", "Promoters' comments"),
    "sat_topic_difference": ("差(百分点)", "Difference (pts)"),
    "sat_topic_q_value": ("q 值", "q"),
    # --- overview alerts from the satisfaction and churn pages ---
    "sat_ov_sla": (
        "投诉首次响应超时最多的渠道：{channel}，超时率 {rate}（{k} / {n} 张到期工单）",
        "Worst complaint SLA channel: {channel}, {rate} breached ({k} of {n} tickets due)",
    ),
    "sat_ov_drop": (
        "{metric} 显著下降：{slice}，{before} → {now}",
        "{metric} dropped significantly: {slice}, {before} → {now}",
    ),
    "churn_ov_list": (
        "流失风险 ≥ {pct} 的客户：{n} 位，预期损失 {loss}",
        "Customers at churn risk ≥ {pct}: {n}, expected loss {loss}",
    ),
    "churn_ov_reason": (
        "风险最高的 {top} 位中，{n} 位的原因包含「{reason}」",
        "Of the {top} at highest risk, {n} have the reason “{reason}”",
    ),
    "rcode_recency": ("久未购买", "no purchase for long"),
    "rcode_order_drop": ("购买减少", "fewer orders"),
    "rcode_sla": ("投诉超时", "complaints past SLA"),
    "rcode_complaints": ("投诉多", "many complaints"),
    "rcode_nps_drop": ("NPS 下降", "NPS dropped"),
    "rcode_region": ("所在地区流失上升", "churn rising in the region"),
    "rcode_returns": ("退货或延迟送达", "returns or late deliveries"),
    "rcode_low_frequency": ("购买次数少", "few orders"),
    "rcode_price": ("依赖折扣", "buys on discount"),
    # --- needs analysis and relationship cultivation (issue 6) ---
    "page_needs": ("客户需求与关系培养", "Customer needs and relationships"),
    "page_needs_desc": (
        "需求优先级、共性/个性需求、需求变化、需求响应、新需求聚类、联系频率与逾期联系、关怀日历",
        "Need priority, common vs individual needs, change over time, responses, new-need "
        "clusters, contact cadence, overdue contacts and the care calendar",
    ),
    "nd_texts": ("反馈文本数", "Feedback texts"),
    "nd_customers_text": ("提出反馈的客户", "Customers with feedback"),
    "nd_common": ("共性需求", "Common needs"),
    "nd_unanswered": ("未响应的共性需求", "Unanswered common needs"),
    "nd_overdue": ("逾期未联系客户", "Customers overdue for contact"),
    "nd_care_due": ("待办关怀事项", "Care events due"),
    "def_nd_texts": (
        "所选范围内有文本的反馈（调查、投诉、建议、问卷）条数；时间段按反馈时间；截至 {as_of}",
        "Feedback rows with text (surveys, complaints, suggestions, questionnaires) in scope; "
        "period by feedback time; as of {as_of}",
    ),
    "def_nd_customers_text": (
        "写过至少一条反馈文本的客户数（共性需求占比的分母）",
        "Customers with at least one feedback text (the denominator of need shares)",
    ),
    "def_nd_common": (
        "提出该需求的客户 ≥ 有反馈客户的 {share} 即为共性需求；n = {n} 位客户",
        "A need raised by ≥ {share} of the customers with feedback is common; n = {n} customers",
    ),
    "def_nd_unanswered": (
        "共性需求中没有进行中或已完成响应措施的个数（措施登记见 need_actions）",
        "Common needs without an action in progress or done (register: need_actions)",
    ),
    "def_nd_overdue": (
        "距上次联系天数 > 所在分群的目标联系周期的客户 / 范围内全部客户（{n} 位）；截至 {as_of}",
        "Customers whose days since last contact exceed their segment's target cadence / all "
        "customers in scope ({n}); as of {as_of}",
    ),
    "def_nd_care_due": (
        "{start} 至 {end} 到期的生日、节日问候与购后回访",
        "Birthdays, holiday greetings and post-purchase follow-ups due {start} – {end}",
    ),
    "nd_priority": ("需求优先级排序", "Needs ranked by priority"),
    "nd_formula": ("计算公式", "Formula"),
    # crmkit.needs: the priority formula with the taxonomy's weights filled in
    "nd_priority_formula": (
        "优先级 = {reach}×覆盖面 + {value}×客户价值 + {negative}×负面占比 + {recency}×近期度"
        "（覆盖面 = 提出该需求的客户数 / 各需求中的最大值；客户价值 = 这些客户的消费额 / 最大值；"
        "负面占比 = 情感为负面的提及 / 全部提及；近期度 = 近{days}天提及占比 / 最大值）",
        "priority = {reach}·reach + {value}·value + {negative}·negative + {recency}·recency "
        "(reach = customers raising the need / the most for any need; value = their spend / the "
        "most for any need; negative = mentions with negative sentiment / all its mentions; "
        "recency = share of its mentions in the last {days} days / the highest such share)",
    ),
    "nd_unanswered_list": ("未响应的共性需求", "Common needs not yet answered"),
    "nd_actions": ("需求响应措施", "Actions taken on needs"),
    "nd_examples": ("需求原文示例", "Example texts"),
    "nd_topic": ("需求", "Need"),
    "nd_new_topic": ("新话题：{terms}", "New topic: {terms}"),
    "nd_clusters": ("未归类文本的新需求聚类", "New needs: clusters of unmatched texts"),
    "nd_trend_tests": ("需求变化检验", "Change in needs (test)"),
    "nd_trend_note": (
        "近期（{r0}–{r1}）与基期（{b0}–{b1}）的文本占比比较；双比例z检验，"
        "Benjamini–Hochberg 校正，q < {alpha} 且变化 ≥ {min_change} 记为显著",
        "Share of texts, recent ({r0} – {r1}) vs baseline ({b0} – {b1}); two-proportion "
        "z-test, Benjamini–Hochberg adjusted, flagged when q < {alpha} and the share moved by "
        "≥ {min_change}",
    ),
    "nd_overdue_list": ("逾期未联系客户名单", "Customers overdue for contact"),
    "nd_calendar": ("关怀日历", "Care calendar"),
    "nd_owner": ("负责人", "Owner"),
    "nd_contact_table": ("各分群联系频率", "Contact frequency per segment"),
    # crmkit.relationship: what each care-calendar event says (detail_zh / detail_en)
    "rel_birthday": ("生日祝福", "Birthday greeting"),
    "rel_holiday": ("{name}问候", "{name} greeting"),
    "rel_post_purchase": ("购后回访", "Post-purchase follow-up"),
    "fig_need_priority": ("需求优先级", "Needs by priority"),
    "fig_need_trend": ("需求占比的月度变化", "Share of texts per need, by month"),
    "fig_needs_by_segment": (
        "各分群的需求占比（共性/个性）",
        "Needs per segment (common vs individual)",
    ),
    "fig_contact_by_segment": (
        "近12个月人均联系次数（按渠道）",
        "Contacts per customer, last 12 months",
    ),
    "nd_share_of_texts": ("占当月文本比例", "Share of the month's texts"),
    "nd_contacts_per_customer": ("人均联系次数", "Contacts per customer"),
    "nd_common_type": ("共性需求", "Common"),
    "nd_individual_type": ("个性需求", "Individual"),
    "nd_reason_few": ("提出客户少", "few customers"),
    "nd_reason_one_segment": ("集中在单一分群", "mostly one segment"),
    "nd_change_rise": ("显著上升", "Significant rise"),
    "nd_change_fall": ("显著下降", "Significant fall"),
    "nd_change_stable": ("无显著变化", "No significant change"),
    "nd_status_none": ("无措施", "No action"),
    "nd_status_planned": ("计划中", "Planned"),
    "nd_status_in_progress": ("进行中", "In progress"),
    "nd_status_done": ("已完成", "Done"),
    "nd_status_rejected": ("不采纳", "Rejected"),
    "nd_kind_product": ("产品改进", "Product change"),
    "nd_kind_service": ("服务改进", "Service change"),
    "nd_kind_none": ("—", "—"),
    "nd_event_birthday": ("生日", "Birthday"),
    "nd_event_holiday": ("节日", "Holiday"),
    "nd_event_post_purchase": ("购后回访", "Post-purchase"),
    "nd_sent_positive": ("正面", "Positive"),
    "nd_sent_neutral": ("中性", "Neutral"),
    "nd_sent_negative": ("负面", "Negative"),
    "nd_col_rank": ("排名", "Rank"),
    "nd_col_label": ("需求", "Need"),
    "nd_col_kind": ("类型", "Kind"),
    "nd_col_texts": ("文本数", "Texts"),
    "nd_col_customers": ("客户数", "Customers"),
    "nd_col_customer_share": ("客户占比", "Customer share"),
    "nd_col_negative_share": ("负面占比", "Negative share"),
    "nd_col_recent_share": ("近期占比", "Recent share"),
    "nd_col_priority": ("优先级得分", "Priority"),
    "nd_col_need_type": ("共性/个性", "Common / individual"),
    "nd_col_status": ("响应状态", "Response"),
    "nd_col_action": ("措施", "Action"),
    "nd_col_date": ("日期", "Date"),
    "nd_col_ts": ("时间", "Time"),
    "nd_col_text": ("原文", "Text"),
    "nd_col_evidence": ("命中关键词", "Matched terms"),
    "nd_col_sentiment": ("情感", "Sentiment"),
    "nd_col_cluster": ("聚类", "Cluster"),
    "nd_col_top_terms": ("高频词", "Top terms"),
    "nd_col_example": ("示例", "Example"),
    "nd_col_base_share": ("基期占比", "Baseline share"),
    "nd_col_recent_share_t": ("近期占比", "Recent share"),
    "nd_col_q": ("q 值", "q"),
    "nd_col_change": ("结论", "Result"),
    "nd_col_segment": ("客户分群", "Segment"),
    "nd_col_per_customer": ("人均联系", "Contacts / customer"),
    "nd_col_mean_days_since": ("平均距上次联系天数", "Mean days since contact"),
    "nd_col_target_days": ("目标周期（天）", "Target cadence (days)"),
    "nd_col_overdue": ("逾期客户", "Overdue"),
    "nd_col_overdue_share": ("逾期占比", "Overdue share"),
    "nd_col_last_contact": ("上次联系", "Last contact"),
    "nd_col_days_since": ("距上次联系（天）", "Days since contact"),
    "nd_col_days_overdue": ("逾期（天）", "Days overdue"),
    "nd_col_event": ("事项", "Event"),
    "nd_col_detail": ("内容", "Detail"),
    "nd_col_customer_id": ("客户编号", "Customer ID"),
    "nd_col_name": ("客户名称", "Name"),
    "nd_col_phone": ("手机", "Phone"),
    "nd_col_owner": ("负责人", "Owner"),
}


def check_lang(lang: str) -> str:
    """Return ``lang`` if supported, else raise a clear error."""
    if lang not in LANGS:
        raise ValueError(f"unknown language {lang!r}; expected one of {', '.join(LANGS)}")
    return lang


def t(key: str, lang: str = DEFAULT_LANG, **values: object) -> str:
    """The label ``key`` in ``lang``, with ``{placeholders}`` filled from ``values``."""
    try:
        zh, en = LABELS[key]
    except KeyError:
        raise KeyError(f"no label {key!r} in crmkit.i18n.LABELS") from None
    text = zh if check_lang(lang) == "zh" else en
    return text.format(**values) if values else text


def reason_text(reason: str, lang: str = DEFAULT_LANG) -> str:
    """Why a number or a step is not available, in ``lang``: the codes ``no_table:T[,T]``,
    ``empty_table:T``, ``not_in:T`` (one customer is not in table T), ``published_as_of:DATE``
    (a snapshot's models were fitted at another date), ``no_observations``,
    ``status_defaulted`` (the orders' status was not in the data) and
    ``too_few:WHAT:HAVE:NEED`` in words; any other reason (a sentence) as it is.

    >>> reason_text("empty_table:referrals", "zh"), reason_text("no_table:feedback", "en")
    ('推荐记录表没有数据', 'no Feedback table in the data')
    >>> reason_text("too_few:repeat_buyers:12:50", "en")
    'only 12 repeat buyers, at least 50 needed'
    >>> reason_text("status_defaulted", "zh")
    '订单状态不在数据中（导入时全部记为已完成）'
    """
    code, _, arg = (reason or "").partition(":")
    if code in ("no_table", "empty_table", "not_in", "published_as_of") and arg:
        tables = [table_label(x, lang) if x in schema.TABLES else x for x in arg.split(",")]
        return t(f"na_{code}", lang, table="、".join(tables) if lang == "zh" else ", ".join(tables))
    if code in ("no_observations", "status_defaulted") and not arg:
        return t(f"na_{code}", lang)
    if code == "too_few" and arg.count(":") == 2:
        what, have, need = arg.split(":")
        known = f"na_what_{what}" in LABELS
        label = t(f"na_what_{what}", lang) if known else what.replace("_", " ")
        return t("na_too_few", lang, what=label, have=have, need=need)
    return reason


def table_label(name: str, lang: str = DEFAULT_LANG) -> str:
    """A warehouse table's name in ``lang`` (from ``crmkit.schema``)."""
    tbl = schema.table(name)
    return tbl.zh if check_lang(lang) == "zh" else tbl.en


def column_label(table: str, column: str, lang: str = DEFAULT_LANG) -> str:
    """A column's label in ``lang`` (from ``crmkit.schema``); unknown columns pass through."""
    tbl = schema.table(table)
    if column not in tbl.column_names:
        return column
    c = tbl[column]
    return c.zh if check_lang(lang) == "zh" else c.en


def code_label(table: str, column: str, code: object, lang: str = DEFAULT_LANG) -> str:
    """An enum code's label: in Chinese its first spelling in ``crmkit.schema`` (``social`` →
    社交媒体), in English the code in words (``social`` → social); unknown codes pass through.

    >>> code_label("tickets", "channel", "social"), code_label("orders", "channel", "store", "en")
    ('社交媒体', 'store')
    """
    if _missing(code):
        return "—"
    c = schema.table(table)[column]
    spellings = (c.allowed or {}).get(str(code))
    if check_lang(lang) == "zh" and spellings:
        return spellings[0]
    return str(code).replace("_", " ")


#: The channel enumerations of ``crmkit.schema``, in the order :func:`channel_label` reads them.
#: Where they share a code they give it the same Chinese name (tests/test_i18n.py checks).
CHANNEL_COLUMNS = (
    ("orders", "channel"),
    ("interactions", "channel"),
    ("customers", "acquisition_channel"),
)


def channel_label(code: object, lang: str = DEFAULT_LANG) -> str:
    """A channel code's label, whichever channel enumeration of ``crmkit.schema`` holds it:
    order channels, the contact channels of interactions and tickets, acquisition channels
    (which opportunity sources use too). A company's own channel passes through as itself, a
    missing one shows as —.

    >>> channel_label("social"), channel_label("store"), channel_label("online", "en")
    ('社交媒体', '门店', 'online')
    >>> channel_label("douyin_live"), channel_label(None)
    ('douyin_live', '—')
    """
    for table, column in CHANNEL_COLUMNS:
        if str(code) in (schema.table(table)[column].allowed or {}):
            return code_label(table, column, code, lang)
    return "—" if _missing(code) else str(code)


def match_label(match_on: object, lang: str = DEFAULT_LANG) -> str:
    """The rules a duplicate pair matched on (``match_on`` of
    ``crmkit.quality.duplicate_candidates``: comma-separated, a rule over two fields joined by
    ``+``) with each field's label from ``crmkit.schema``; an unknown field passes through.

    >>> match_label("phone, email"), match_label("name+company", "en")
    ('手机, 邮箱', 'Name+Company')
    """
    if _missing(match_on):
        return "—"
    rules = (
        "+".join(column_label("customers", field.strip(), lang) for field in rule.split("+"))
        for rule in str(match_on).split(",")
    )
    return ", ".join(rules)


def _missing(x: object) -> bool:
    return x is None or (isinstance(x, float) and math.isnan(x))


def fmt_int(x: float | None, lang: str = DEFAULT_LANG) -> str:
    """Thousands separators: 1,234,567 (both languages use the comma in business reports)."""
    return "—" if _missing(x) else f"{round(x):,}"


def fmt_money(x: float | None, lang: str = DEFAULT_LANG, currency: str = "¥") -> str:
    """Whole currency units with thousands separators: ¥1,234,568."""
    if _missing(x):
        return "—"
    sign = "-" if x < 0 else ""
    return f"{sign}{currency}{abs(round(x)):,}"


def fmt_pct(x: float | None, lang: str = DEFAULT_LANG, digits: int = 1) -> str:
    """A share as a percentage: 0.1234 → 12.3%."""
    return "—" if _missing(x) else f"{x * 100:.{digits}f}%"


def fmt_date(d: date | datetime | None, lang: str = DEFAULT_LANG) -> str:
    """2024年3月1日 / 1 Mar 2024; date-times keep hours and minutes."""
    if d is None:
        return "—"
    if check_lang(lang) == "zh":
        out = f"{d.year}年{d.month}月{d.day}日"
        return out + (f" {d:%H:%M}" if isinstance(d, datetime) else "")
    out = f"{d.day} {d:%b %Y}"
    return out + (f" {d:%H:%M}" if isinstance(d, datetime) else "")
