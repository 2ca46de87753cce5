"""Seeded synthetic demo data (演示数据) with planted, documented signals.

``generate(con, customers=10_000)`` fills every warehouse table declared in ``crmkit.schema``
with bilingual (zh-CN / en) customer-management data for a fictional Chinese retailer of
consumer electronics, home appliances, office equipment and software services. All rows are
generated inside DuckDB by the SQL files in ``crmkit/sql/demo/`` (set-based SQL over
``range()``, values passed as bound parameters): 100,000 customers (≈ 1 M orders) take about
5 seconds, 1,000,000 customers (≈ 10 M orders) about a minute on two cores.

Determinism
-----------
Every random number is a hash of ``(row key, seed, stream constant)`` rather than DuckDB's
``random()``, and every aggregate that feeds the generator is exact (integers or decimals), so
the same ``seed``, ``as_of`` and size give identical tables whatever the thread count (on the
pinned DuckDB version: its ``hash()`` is not promised to be stable across releases).

Time
----
The history covers the four years that end with ``as_of``: every timestamp lies on or before
``as_of`` (the data runs to the end of that day, 23:59:59) and ``as_of`` must be before today,
so nothing is in the future for ``crmkit.ingest`` either. ``promised_date`` of the last orders
may lie after ``as_of``; orders not delivered by then have no ``delivered_at``.

What is generated
-----------------
- ``customers``: ~85 % Chinese names (surnames by real frequency, 张伟 / 李娜 …), ~15 % English
  names; unique CN mobile numbers (1[3-9] + 9 digits), e-mails (pinyin, QQ numbers), gender,
  birthday, 18 province/city pairs, company and title for ~30 % (B2B), acquisition channel,
  ``created_at`` growing over the four years (ids ascend with ``created_at``), membership tier
  from the last two years' spend (diamond top 3 %, gold next 9 %, silver next 23 %), owner
  team by customer type (potential → sales/marketing, churned → marketing, gold/diamond →
  success, other buyers → service/sales) and an owner; ``last_verified_at`` missing for ~15 %
  and stale (> 1 year) for ~25 %; ~3 % without phone, ~5 % without e-mail.
- ``products``: 40 products in 6 categories with list prices; 6 launched within the last year
  (new products, ordered only after launch).
- ``orders``: ≈ ``customers × orders_per_customer``; heterogeneous buying rates (log-normal),
  natural churn (hazard ≈ 5 % a quarter, lower for frequent and satisfied buyers), ~10 % of
  customers never buy; B2B customers buy office/software products in larger quantities;
  amount = list price × quantity − discount (35 % of orders discounted 5–25 %); status
  completed / returned (~4 %) / refunded (~1.5 %) / cancelled (~3 %); channel; promised date
  2–5 days after shipped orders, ~15 % of orders delivered late; return reasons (zh / en).
- ``interactions``: inquiries, offers, follow-ups, visits, post-purchase calls (10 % of
  delivered orders), birthday greetings (silver and above, some others) and Spring-Festival /
  Mid-Autumn greetings (gold, diamond, half of the B2B customers).
- ``feedback``: post-purchase surveys (8 % of delivered orders) and relationship surveys with
  NPS 0–10, CSAT 1–5 and CES 1–7 (CES reads as 费力度: 1 = very easy … 7 = very hard),
  complaints (tied to an order) and suggestions / questionnaires, text in Chinese (~80 %) or
  English with ``language`` set.
- ``tickets``: ~85 % of complaints plus service requests; first response (~2 % never
  answered), resolution (~4 % never resolved), reopen count, channel, category, severity,
  team, agent, escalation.
- ``opportunities``: mostly B2B, through lead → qualified → proposal → negotiation → won/lost.
- ``points_ledger``: points earned on completed orders of loyalty members (1 point per ¥,
  ×1.2 silver, ×1.5 gold, ×2 diamond), some redeemed, some expiring after two years, a few
  bonus adjustments; the balance never goes negative.
- ``referrals``: every customer acquired through ``referral`` has a referrer (converted when
  the referred customer bought), plus referrals that never registered.

Planted signals
---------------
Written down as data in :data:`PLANTED`, in the table ``demo_planted`` (signal, key, value,
description; with the run's dates and realised sizes) and per customer in
``demo_planted_customers`` (customer_id, signal). "Seen as" gives what an analysis of the
tables recovers at 100,000 customers, seed 42, as_of 2026-09-30.

1. ``churn_region`` — customers of 辽宁 (Liaoning: 沈阳, 大连) go silent with a probability
   that rises over the last four quarters before ``as_of``: 5 %, 15 %, 25 %, 35 % of the
   region's active customers (first order before the quarter) stop buying in successive
   quarters, against the baseline ≈ 5 % a quarter elsewhere. Customers silenced by this extra
   churn are listed. Seen as: of the customers who bought in the quarter before the last one,
   30 % in 辽宁 bought nothing in the last quarter vs 11 % elsewhere; the share of a quarter's
   buyers whose last order falls in that quarter rises 9 % → 21 % → 30 % in 辽宁 (Q4 2025 …
   Q2 2026) vs 6 % → 10 % → 11 %.
2. ``slow_sla_channel`` — tickets on the ``social`` channel (handled by 社媒运营组) breach the
   2-hour first-response SLA in ~55 % of cases (unanswered tickets count as breaches) against
   ~8 % on every other channel. Seen as: 55.5 % vs 7.7 %.
3. ``high_return_product`` — P0008 无线降噪耳机 X1 (noise-cancelling earbuds) is returned in
   ~25 % of its orders against ~4 % for other products; ~85 % of its return reasons (and of its
   return complaints) are about quality (质量问题 / "Quality issue"). Seen as: 25.1 % vs 4.0 %
   of orders returned; 85 % vs 25 % of return reasons about quality.
4. ``growing_need`` — feedback texts asking for training (培训 / 教程, "training" /
   "tutorial") grow from ~2 % of all feedback texts in the first year to ~15 % in the last
   quarter (exponential growth in between). No other topic uses those words. Seen as: 2.1 %
   of texts in the first year, 14.5 % in the last quarter.
5. ``delivery_delay_nps`` — survey responses tied to an order delivered late
   (``delivered_at::date > promised_date``, ~15 % of delivered orders) score ~4 NPS points
   lower on average (CSAT lower, CES higher), late orders draw complaints 30× as often as
   on-time ones, and those complaint texts (and 80 % of comments on late orders) mention
   delivery (物流 / 快递 / 送货 … 慢, "late delivery"). Seen as: mean NPS 3.9 vs 7.7, CSAT 2.4
   vs 3.9, CES 4.8 vs 2.7; 0.12 vs 0.004 complaints per order; every late-order complaint
   mentions delivery.
6. ``quiet_high_value`` — 2 % of all customers, drawn from the top monetary decile (completed
   orders before ``as_of − 230 days``), tenure ≥ 2 years and ≥ 8 orders, stop ordering 200–229
   days before ``as_of`` (nothing in the last 200 days). Listed per customer. Seen as: all
   2,000 are in that top decile and silent for 200+ days; 23 % of the decile's other 5,031
   customers are silent that long too (natural churn at random earlier times), so "top decile
   and silent for 200 days" finds them with 63 % precision.
7. ``duplicate_customers`` — ~0.4 % of customer records re-register a person who already is a
   customer: same phone, same name after trimming and lower-casing, usually the same e-mail,
   a different customer_id and a later ``created_at``. Phones are otherwise unique, e-mails
   of different people never collide, and two people with the same name never share a
   company, so ``crmkit.quality.duplicate_candidates`` finds exactly these (425 at 100,000).

Examples
--------
>>> from crmkit import db, demo
>>> con = db.connect(":memory:", read_only=False)
>>> result = demo.generate(con, customers=1_000, progress=False)
>>> result.rows["customers"]
1000
>>> demo.PLANTED["high_return_product"]["product_id"]
'P0008'
"""

from __future__ import annotations

import json
import os
import re
import sys
import time
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from importlib import resources
from pathlib import Path

import pandas as pd
from ibis.backends.duckdb import Backend

from crmkit import cache, db, schema

MIN_CUSTOMERS = 100
MAX_CUSTOMERS = 5_000_000
#: Most orders one run may generate (ids have room for 999,999,999 orders).
MAX_ORDERS = 200_000_000
HISTORY_YEARS = 4
#: The shared demo (:func:`shared_warehouse`): the tests' and the notebooks' data. 20,000
#: customers recover every planted signal (its "Seen as" figures hold within a few points) and
#: build in ~6 s.
SHARED_CUSTOMERS = 20_000
SHARED_SEED = 42
SHARED_AS_OF = date(2026, 9, 30)

# --------------------------------------------------------------------------------------------
# Planted truths
# --------------------------------------------------------------------------------------------

#: The planted signals: name → parameters (relative to ``as_of``; the run's dates and realised
#: sizes are written to the ``demo_planted`` table).
PLANTED: dict[str, dict[str, object]] = {
    "churn_region": {
        "province": "辽宁",
        "province_en": "Liaoning",
        "cities": ["沈阳", "大连"],
        "quarters": 4,
        "quarterly_silent_share": [0.05, 0.15, 0.25, 0.35],
        "baseline_quarterly_silent_share": 0.05,
        "description_en": "Customers in Liaoning stop buying with a probability that rises over "
        "the last 4 quarters before as_of (5%, 15%, 25%, 35% of the region's active customers "
        "per quarter vs ~5% elsewhere).",
        "description_zh": "辽宁客户在截止日前最近4个季度内流失概率逐季上升"
        "（每季度5%、15%、25%、35%的活跃客户停止购买，其他地区约5%）。",
    },
    "slow_sla_channel": {
        "channel": "social",
        "team": "社媒运营组",
        "sla_hours": 2,
        "breach_share": 0.55,
        "baseline_breach_share": 0.08,
        "description_en": "Tickets on the social channel breach the 2-hour first-response SLA in "
        "~55% of cases (unanswered counts as a breach) vs ~8% on other channels.",
        "description_zh": "社交媒体渠道的投诉工单约55%未在2小时内首次响应"
        "（未响应计为超时），其他渠道约8%。",
    },
    "high_return_product": {
        "product_id": "P0008",
        "product_sk": 8,
        "name": "无线降噪耳机 X1",
        "name_en": "Noise-Cancelling Earbuds X1",
        "return_rate": 0.25,
        "baseline_return_rate": 0.04,
        "quality_reason_share": 0.85,
        "description_en": "Product P0008 (noise-cancelling earbuds X1) is returned in ~25% of its "
        "orders vs ~4% baseline; ~85% of its return reasons are about quality.",
        "description_zh": "产品P0008（无线降噪耳机 X1）退货率约25%（基线约4%），"
        "约85%的退货原因是质量问题。",
    },
    "growing_need": {
        "topic": "training",
        "topic_zh": "培训",
        "keywords_zh": ["培训", "教程"],
        "keywords_en": ["training", "tutorial"],
        "share_first_year": 0.02,
        "share_last_quarter": 0.15,
        "description_en": "Feedback texts asking for training / tutorials grow from ~2% of all "
        "feedback texts in the first year to ~15% in the last quarter.",
        "description_zh": "要求使用培训/教程的反馈占全部反馈文本的比例"
        "从第一年的约2%增长到最后一个季度的约15%。",
    },
    "delivery_delay_nps": {
        "late_share": 0.15,
        "nps_penalty": 4.0,
        "complaint_rate_late": 0.12,
        "complaint_rate_on_time": 0.004,
        "keywords_zh": ["物流", "快递", "送货"],
        "keywords_en": ["deliver"],
        "description_en": "Survey responses about orders delivered late (delivered_at::date > "
        "promised_date) score ~4 NPS points lower; their complaints mention delivery.",
        "description_zh": "延迟送达订单（送达日期晚于承诺日期）的调查NPS平均低约4分，"
        "相关投诉提到物流/快递/送货慢。",
    },
    "quiet_high_value": {
        "share_of_customers": 0.02,
        "monetary_decile": 1,
        "reference_days": 230,
        "silent_days": 200,
        "silent_days_max": 229,
        "min_tenure_days": 730,
        "min_orders_before": 8,
        "description_en": "2% of customers, all in the top monetary decile (completed orders "
        "before as_of - 230 days) with >= 2 years tenure and >= 8 orders, stop ordering 200-229 "
        "days before as_of.",
        "description_zh": "2%的客户（均为截止日前230天时消费金额前10%、"
        "客龄≥2年、订单≥8笔的高价值客户）在截止日前200-229天起不再下单。",
    },
    "duplicate_customers": {
        "share": 0.004,
        "match": "same phone and same name after trimming and lower-casing",
        "description_en": "~0.4% of customer records duplicate an earlier customer: same phone, "
        "same normalised name, different customer_id.",
        "description_zh": "约0.4%的客户记录与更早的客户重复："
        "手机号相同、姓名规范化后相同、客户编号不同。",
    },
}

#: Signals listed per customer in ``demo_planted_customers``.
PER_CUSTOMER_SIGNALS = ("churn_region", "quiet_high_value", "duplicate_customers")

# --------------------------------------------------------------------------------------------
# Word lists (passed to the SQL as list parameters)
# --------------------------------------------------------------------------------------------

# (surname, pinyin, share of the population in ‰)
_SURNAMES = [
    ("王", "wang", 71), ("李", "li", 70), ("张", "zhang", 67), ("刘", "liu", 54),
    ("陈", "chen", 45), ("杨", "yang", 31), ("赵", "zhao", 23), ("黄", "huang", 22),
    ("周", "zhou", 21), ("吴", "wu", 20), ("徐", "xu", 17), ("孙", "sun", 15), ("胡", "hu", 13),
    ("朱", "zhu", 13), ("高", "gao", 12), ("林", "lin", 12), ("何", "he", 12), ("郭", "guo", 11),
    ("马", "ma", 11), ("罗", "luo", 9), ("梁", "liang", 9), ("宋", "song", 8),
    ("郑", "zheng", 8), ("谢", "xie", 7), ("韩", "han", 7), ("唐", "tang", 7), ("冯", "feng", 7),
    ("于", "yu", 6), ("董", "dong", 6), ("肖", "xiao", 6), ("程", "cheng", 5), ("曹", "cao", 5),
    ("袁", "yuan", 5), ("邓", "deng", 5), ("许", "xu", 5), ("傅", "fu", 5), ("沈", "shen", 5),
    ("曾", "zeng", 5), ("彭", "peng", 5), ("吕", "lv", 4), ("苏", "su", 4), ("卢", "lu", 4),
    ("蒋", "jiang", 4), ("蔡", "cai", 4), ("贾", "jia", 4), ("丁", "ding", 4), ("魏", "wei", 4),
    ("薛", "xue", 3), ("叶", "ye", 3), ("闫", "yan", 3), ("余", "yu", 3), ("潘", "pan", 3),
    ("杜", "du", 3), ("戴", "dai", 3), ("夏", "xia", 3), ("钟", "zhong", 3), ("汪", "wang", 3),
    ("田", "tian", 3), ("任", "ren", 3), ("姜", "jiang", 3), ("范", "fan", 3), ("方", "fang", 3),
    ("石", "shi", 3), ("姚", "yao", 3), ("谭", "tan", 3), ("廖", "liao", 3), ("邹", "zou", 3),
    ("熊", "xiong", 3), ("金", "jin", 3), ("陆", "lu", 3), ("郝", "hao", 2), ("孔", "kong", 2),
    ("白", "bai", 2), ("崔", "cui", 2), ("康", "kang", 2), ("毛", "mao", 2), ("邱", "qiu", 2),
    ("秦", "qin", 2), ("江", "jiang", 2), ("史", "shi", 2), ("顾", "gu", 2), ("侯", "hou", 2),
    ("邵", "shao", 2), ("孟", "meng", 2), ("龙", "long", 2), ("万", "wan", 2), ("段", "duan", 2),
    ("雷", "lei", 2), ("钱", "qian", 2), ("汤", "tang", 2), ("尹", "yin", 2), ("易", "yi", 2),
    ("常", "chang", 2), ("武", "wu", 2), ("乔", "qiao", 2), ("贺", "he", 2), ("赖", "lai", 2),
    ("龚", "gong", 2), ("文", "wen", 2), ("欧阳", "ouyang", 1), ("上官", "shangguan", 1),
]  # fmt: skip

# (character, pinyin, weight): common characters weigh more, so 张伟 / 王芳 / 李娜 recur
_GIVEN_M = [
    ("伟", "wei", 8), ("强", "qiang", 5), ("磊", "lei", 5), ("军", "jun", 5), ("洋", "yang", 5),
    ("勇", "yong", 4), ("杰", "jie", 4), ("涛", "tao", 4), ("明", "ming", 4), ("超", "chao", 4),
    ("刚", "gang", 3), ("平", "ping", 3), ("辉", "hui", 3), ("鹏", "peng", 3), ("华", "hua", 3),
    ("飞", "fei", 2), ("鑫", "xin", 2), ("波", "bo", 2), ("斌", "bin", 2), ("宇", "yu", 3),
    ("浩", "hao", 3), ("凯", "kai", 2), ("健", "jian", 2), ("俊", "jun", 2), ("帆", "fan", 2),
    ("旭", "xu", 2), ("宁", "ning", 2), ("龙", "long", 2), ("建", "jian", 3), ("国", "guo", 3),
    ("志", "zhi", 3), ("文", "wen", 3), ("博", "bo", 2), ("晨", "chen", 2), ("轩", "xuan", 2),
    ("子", "zi", 2), ("睿", "rui", 2), ("然", "ran", 2), ("泽", "ze", 2), ("豪", "hao", 2),
    ("亮", "liang", 2), ("成", "cheng", 2), ("东", "dong", 2), ("海", "hai", 2), ("峰", "feng", 2),
    ("毅", "yi", 1), ("嘉", "jia", 1), ("俊", "jun", 1), ("天", "tian", 1), ("一", "yi", 1),
]  # fmt: skip
_GIVEN_F = [
    ("娜", "na", 7), ("芳", "fang", 7), ("敏", "min", 6), ("静", "jing", 6), ("丽", "li", 5),
    ("艳", "yan", 4), ("娟", "juan", 4), ("霞", "xia", 3), ("秀", "xiu", 3), ("英", "ying", 3),
    ("玲", "ling", 3), ("燕", "yan", 3), ("婷", "ting", 3), ("雪", "xue", 3), ("慧", "hui", 3),
    ("莉", "li", 2), ("琳", "lin", 2), ("颖", "ying", 2), ("倩", "qian", 2), ("萍", "ping", 2),
    ("红", "hong", 2), ("洁", "jie", 2), ("梅", "mei", 2), ("琴", "qin", 2), ("云", "yun", 2),
    ("佳", "jia", 3), ("欣", "xin", 3), ("怡", "yi", 3), ("悦", "yue", 2), ("雨", "yu", 3),
    ("晓", "xiao", 3), ("丹", "dan", 2), ("璐", "lu", 2), ("蕾", "lei", 2), ("薇", "wei", 2),
    ("婧", "jing", 2), ("涵", "han", 2), ("思", "si", 3), ("嘉", "jia", 2), ("诗", "shi", 2),
    ("梦", "meng", 2), ("晶", "jing", 2), ("媛", "yuan", 2), ("月", "yue", 2), ("瑶", "yao", 2),
    ("露", "lu", 1), ("萱", "xuan", 2), ("彤", "tong", 2), ("桂", "gui", 1), ("兰", "lan", 2),
]  # fmt: skip
_EN_FIRST_M = [
    "James", "John", "Robert", "Michael", "William", "David", "Richard", "Joseph", "Thomas",
    "Daniel", "Matthew", "Andrew", "Mark", "Paul", "Steven", "Kevin", "Brian", "George",
    "Edward", "Peter", "Oliver", "Jack", "Henry", "Lucas", "Ethan",
]  # fmt: skip
_EN_FIRST_F = [
    "Mary", "Jennifer", "Linda", "Elizabeth", "Susan", "Jessica", "Sarah", "Karen", "Emily",
    "Emma", "Olivia", "Sophia", "Anna", "Laura", "Rachel", "Grace", "Chloe", "Hannah", "Amy",
    "Lucy", "Kate", "Helen", "Alice", "Julia", "Claire",
]  # fmt: skip
_EN_LAST = [
    "Smith", "Johnson", "Williams", "Brown", "Jones", "Miller", "Davis", "Wilson", "Taylor",
    "Anderson", "Thomas", "Moore", "Martin", "Jackson", "White", "Harris", "Clark", "Lewis",
    "Walker", "Hall", "Young", "King", "Wright", "Scott", "Green", "Baker", "Adams", "Nelson",
    "Hill", "Campbell", "Mitchell", "Roberts", "Carter", "Phillips", "Evans", "Turner",
    "Parker", "Collins", "Edwards", "Stewart",
]  # fmt: skip

_PHONE_PREFIXES = [
    "130", "131", "132", "133", "134", "135", "135", "136", "136", "137", "137", "138", "138",
    "139", "139", "150", "151", "151", "152", "153", "155", "156", "157", "158", "158", "159",
    "159", "166", "170", "171", "173", "175", "176", "177", "178", "180", "181", "182", "183",
    "185", "186", "186", "187", "188", "189", "189", "191", "193", "195", "198", "199",
]  # fmt: skip
_EMAIL_DOMAINS_ZH = [
    ("163.com", 30), ("126.com", 12), ("sina.com", 6), ("foxmail.com", 6), ("gmail.com", 6),
    ("outlook.com", 6), ("139.com", 5), ("hotmail.com", 4), ("sohu.com", 3),
]  # fmt: skip
_EMAIL_DOMAINS_EN = [
    ("gmail.com", 40), ("outlook.com", 25), ("yahoo.com", 10), ("hotmail.com", 10),
    ("icloud.com", 10), ("proton.me", 5),
]  # fmt: skip

# (province, city, share of customers in %)
_REGIONS = [
    ("广东", "广州", 9), ("广东", "深圳", 9), ("北京", "北京", 8), ("上海", "上海", 9),
    ("浙江", "杭州", 7), ("江苏", "南京", 5), ("江苏", "苏州", 5), ("四川", "成都", 6),
    ("湖北", "武汉", 5), ("山东", "济南", 3), ("山东", "青岛", 4), ("河南", "郑州", 4),
    ("辽宁", "沈阳", 4), ("辽宁", "大连", 3), ("陕西", "西安", 4), ("湖南", "长沙", 4),
    ("重庆", "重庆", 4), ("天津", "天津", 3),
]  # fmt: skip
_CITY_EN = {
    "广州": "Guangzhou", "深圳": "Shenzhen", "北京": "Beijing", "上海": "Shanghai",
    "杭州": "Hangzhou", "南京": "Nanjing", "苏州": "Suzhou", "成都": "Chengdu", "武汉": "Wuhan",
    "济南": "Jinan", "青岛": "Qingdao", "郑州": "Zhengzhou", "沈阳": "Shenyang", "大连": "Dalian",
    "西安": "Xi'an", "长沙": "Changsha", "重庆": "Chongqing", "天津": "Tianjin",
}  # fmt: skip

# Company names: city + two-character core + industry + suffix (深圳华信科技有限公司); about
# 200,000 combinations, so two contacts with the same name rarely share a company by chance
# (name + company is one of crmkit.quality's duplicate rules).
_COMPANY_CORE1_ZH = [
    "华", "恒", "鼎", "瑞", "新", "博", "中", "宏", "金", "天", "九", "东", "联", "汇", "盛", "安",
    "嘉", "远", "星", "万", "永", "泰", "信", "德", "丰", "顺", "达", "创", "卓", "海",
]  # fmt: skip
_COMPANY_CORE2_ZH = [
    "信", "通", "盛", "丰", "元", "远", "科", "达", "桥", "宇", "洲", "方", "创", "智", "世", "泰",
    "禾", "景", "辰", "象", "瑞", "诚", "润", "邦", "捷", "峰", "源", "光", "晟", "鑫",
]  # fmt: skip
_COMPANY_INDUSTRIES_ZH = [
    "科技", "贸易", "电子", "信息技术", "文化传媒", "实业", "建设工程", "餐饮管理", "教育咨询",
    "医疗器械", "物流", "商贸",
]  # fmt: skip
_COMPANY_SUFFIXES_ZH = ["有限公司", "有限公司", "有限公司", "股份有限公司"]
_COMPANY_CORE1_EN = [
    "Apex", "Blue", "Summit", "Pacific", "North", "Green", "Silver", "Bright", "Ever", "Golden",
    "Red", "Jade", "Crystal", "Eastern", "Grand", "Harbor", "Iron", "Lotus", "Orient", "Swift",
]  # fmt: skip
_COMPANY_CORE2_EN = [
    "star", "field", "line", "way", "green", "bridge", "stone", "peak", "wave", "gate", "light",
    "point", "ridge", "river", "wood", "crest", "port", "view", "well", "works",
]  # fmt: skip
_COMPANY_INDUSTRIES_EN = [
    "Trading", "Technology", "Consulting", "Logistics", "Media", "Engineering", "Foods",
]  # fmt: skip
_TITLES_ZH = [
    "总经理", "副总经理", "销售经理", "采购经理", "采购主管", "行政主管", "IT经理", "财务经理",
    "运营总监", "市场总监", "工程师", "项目经理", "人事经理", "店长", "技术总监",
]  # fmt: skip
_TITLES_EN = [
    "CEO", "General Manager", "Purchasing Manager", "Operations Director", "IT Manager",
    "Office Manager", "Sales Manager", "Engineer", "Project Manager", "Marketing Director",
]  # fmt: skip

_ACQUISITION = [
    ("online", 30), ("store", 18), ("referral", 12), ("sales", 12), ("event", 6), ("social", 12),
    ("partner", 6), ("other", 4),
]  # fmt: skip
_OPPORTUNITY_SOURCES = [
    ("sales", 25), ("online", 20), ("referral", 15), ("event", 15), ("partner", 10),
    ("social", 10), ("other", 5),
]  # fmt: skip
_STAFF = {
    "sales": [
        "陈建华", "李明轩", "王思远", "张晓峰", "刘佳琪", "赵一鸣", "孙志强", "周婷婷", "吴浩然",
        "郑雅文", "黄俊杰", "林晓燕",
    ],
    "service": [
        "杨雪", "何丽娜", "郭敏", "马晓东", "罗欣怡", "宋佳", "谢文静", "韩磊", "唐悦", "冯涛",
    ],
    "success": ["高远", "胡晓梅", "朱子豪", "徐静怡", "许嘉诚", "邓敏"],
    "marketing": ["曹颖", "彭宇", "蒋欣", "蔡明", "沈琳", "叶晨"],
}  # fmt: skip
_AGENTS = [*_STAFF["service"], "梁晶", "董洁", "袁帅", "潘婷", "田甜", "邱雨"]

# (name zh, name en, category, list price ¥, launched days before as_of, weight B2C, weight B2B)
_PRODUCTS = [
    ("智能门锁 S1", "Smart Door Lock S1", "智能家居", 1599, 2100, 3, 1),
    ("扫地机器人 R3", "Robot Vacuum R3", "智能家居", 2499, 1900, 3, 0),
    ("智能音箱 Mini", "Smart Speaker Mini", "智能家居", 199, 2400, 6, 1),
    ("智能插座（4只装）", "Smart Plug 4-Pack", "智能家居", 129, 2500, 5, 1),
    ("空气净化器 A5", "Air Purifier A5", "智能家居", 1299, 2000, 3, 2),
    ("智能摄像头 C2", "Security Camera C2", "智能家居", 299, 1700, 4, 2),
    ("智能窗帘电机", "Smart Curtain Motor", "智能家居", 699, 300, 4, 0),
    ("无线降噪耳机 X1", "Noise-Cancelling Earbuds X1", "数码配件", 899, 1800, 5, 1),
    ("快充充电宝 20000mAh", "Power Bank 20000mAh", "数码配件", 159, 2600, 7, 2),
    ("氮化镓充电器 65W", "GaN Charger 65W", "数码配件", 139, 1600, 6, 2),
    ("机械键盘 K8", "Mechanical Keyboard K8", "数码配件", 459, 2200, 3, 2),
    ("无线鼠标 M2", "Wireless Mouse M2", "数码配件", 99, 2600, 5, 3),
    ("智能手表 W5", "Smartwatch W5", "数码配件", 1299, 800, 4, 0),
    ("蓝牙音箱 B6", "Bluetooth Speaker B6", "数码配件", 349, 240, 5, 0),
    ("破壁料理机", "High-Speed Blender", "厨房电器", 799, 2300, 3, 0),
    ("空气炸锅 5L", "Air Fryer 5L", "厨房电器", 399, 1900, 5, 0),
    ("IH电饭煲 4L", "IH Rice Cooker 4L", "厨房电器", 699, 2500, 3, 1),
    ("意式咖啡机 E1", "Espresso Machine E1", "厨房电器", 2199, 1700, 2, 2),
    ("电热水壶", "Electric Kettle", "厨房电器", 129, 2600, 5, 2),
    ("多功能蒸烤箱", "Steam Oven", "厨房电器", 3299, 200, 2, 0),
    ("洗碗机 D8", "Dishwasher D8", "厨房电器", 3999, 1500, 1, 0),
    ("电动牙刷 T3", "Electric Toothbrush T3", "个护健康", 299, 2400, 6, 0),
    ("高速吹风机 H2", "Hair Dryer H2", "个护健康", 499, 2000, 4, 0),
    ("筋膜枪", "Massage Gun", "个护健康", 599, 1000, 3, 0),
    ("智能体脂秤", "Smart Body Scale", "个护健康", 149, 2500, 4, 0),
    ("电动剃须刀 S5", "Electric Shaver S5", "个护健康", 399, 2200, 3, 0),
    ("冲牙器", "Water Flosser", "个护健康", 259, 150, 4, 0),
    ("激光打印机 L1", "Laser Printer L1", "办公设备", 1499, 2400, 1, 6),
    ("投影仪 P7", "Projector P7", "办公设备", 3599, 1900, 1, 4),
    ("会议摄像头", "Conference Camera", "办公设备", 1899, 1600, 0, 5),
    ("人体工学椅", "Ergonomic Chair", "办公设备", 1699, 2100, 2, 6),
    ("升降办公桌", "Standing Desk", "办公设备", 2599, 1800, 1, 4),
    ("碎纸机", "Paper Shredder", "办公设备", 399, 2600, 0, 4),
    ("65英寸会议平板", '65" Meeting Display', "办公设备", 8999, 120, 0, 4),
    ("云存储年卡 1TB", "Cloud Storage 1TB (1 year)", "软件与服务", 199, 2300, 3, 3),
    ("办公套件年度订阅", "Office Suite Annual Plan", "软件与服务", 399, 2000, 1, 6),
    ("延保服务 2年", "2-Year Extended Warranty", "软件与服务", 199, 2500, 3, 2),
    ("上门安装服务", "Installation Service", "软件与服务", 99, 2500, 2, 2),
    ("企业协同平台（10用户）", "Team Collaboration (10 seats)", "软件与服务", 4999, 1400, 0, 5),
    ("数据安全服务", "Data Security Service", "软件与服务", 2999, 90, 0, 4),
]  # fmt: skip

_ORDER_CHANNELS = [("online", 35), ("app", 25), ("wechat", 14), ("store", 18), ("phone", 8)]
# hour of day (0-23) → relative weight: evening peak, little at night
_ORDER_HOUR_WEIGHTS = [2, 1, 1, 1, 1, 1, 2, 4, 6, 8, 10, 10, 11, 9, 9, 9, 10, 10, 11, 14, 17, 18,
                       14, 7]  # fmt: skip

# Interaction kinds: (topic, direction, care_event, [(channel, weight)], weight in routine contact)
_INTERACTION_KINDS = [
    ("产品咨询", "inbound", "none",
     [("chat", 3), ("phone", 2), ("app", 2), ("social", 1), ("email", 1)], 18),
    ("订单查询", "inbound", "none", [("chat", 3), ("phone", 2), ("app", 3)], 14),
    ("售后咨询", "inbound", "none", [("phone", 3), ("chat", 2), ("service", 3)], 10),
    ("使用指导", "inbound", "none", [("phone", 2), ("chat", 2), ("service", 1)], 6),
    ("新品推荐", "outbound", "offer", [("email", 2), ("social", 2), ("app", 2)], 10),
    ("优惠活动推送", "outbound", "offer", [("app", 3), ("social", 2), ("email", 2)], 14),
    ("定期回访", "outbound", "followup", [("phone", 4), ("visit", 1)], 10),
    ("满意度回访", "outbound", "followup", [("phone", 3), ("email", 1)], 6),
    ("复购沟通", "outbound", "followup", [("phone", 3), ("visit", 1), ("email", 1)], 6),
    ("上门拜访", "outbound", "none", [("visit", 1)], 4),
    ("购后回访", "outbound", "post_purchase", [("phone", 2), ("app", 2), ("social", 1)], 0),
    ("生日祝福", "outbound", "birthday", [("app", 2), ("social", 2), ("email", 1)], 0),
    ("节日问候", "outbound", "holiday", [("social", 2), ("app", 2), ("email", 1)], 0),
]  # fmt: skip
_HOLIDAYS = [  # Spring Festival (春节) and Mid-Autumn (中秋) dates
    (date(2019, 2, 5), "春节问候"), (date(2019, 9, 13), "中秋问候"),
    (date(2020, 1, 25), "春节问候"), (date(2020, 10, 1), "中秋问候"),
    (date(2021, 2, 12), "春节问候"), (date(2021, 9, 21), "中秋问候"),
    (date(2022, 2, 1), "春节问候"), (date(2022, 9, 10), "中秋问候"),
    (date(2023, 1, 22), "春节问候"), (date(2023, 9, 29), "中秋问候"),
    (date(2024, 2, 10), "春节问候"), (date(2024, 9, 17), "中秋问候"),
    (date(2025, 1, 29), "春节问候"), (date(2025, 10, 6), "中秋问候"),
    (date(2026, 2, 17), "春节问候"), (date(2026, 9, 25), "中秋问候"),
    (date(2027, 2, 6), "春节问候"), (date(2027, 9, 15), "中秋问候"),
    (date(2028, 1, 26), "春节问候"), (date(2028, 10, 3), "中秋问候"),
    (date(2029, 2, 13), "春节问候"), (date(2029, 9, 22), "中秋问候"),
    (date(2030, 2, 3), "春节问候"), (date(2030, 9, 12), "中秋问候"),
]  # fmt: skip

# Feedback topics and their texts; "{p}" becomes the product name. Only "training" uses
# 培训 / 教程 / training / tutorial, and only "delivery" uses 物流 / 快递 / 送货 / deliver.
_TOPICS: dict[str, tuple[list[str], list[str]]] = {
    "praise": (
        ["产品很好用，已经推荐给朋友了", "{p}质量不错，性价比很高",
         "客服态度很好，问题很快就解决了", "包装精美，做工细致，很满意",
         "用了一段时间，整体很满意，会继续回购", "功能齐全，操作简单，家里人都喜欢"],
        ["Great product, I have already recommended it to friends",
         "The {p} works really well and is good value for money",
         "Friendly support, my question was answered quickly",
         "Very satisfied overall, will buy again"],
    ),
    "quality": (
        ["{p}用了不到一个月就坏了，质量太差", "做工粗糙，外壳有明显划痕",
         "{p}经常断连，质量不稳定", "收到的{p}有异响，怀疑是次品",
         "材质感觉很廉价，和宣传的不一样", "{p}电池不耐用，质量堪忧"],
        ["The {p} broke within a month, poor quality",
         "Build quality is poor, there are scratches on the casing",
         "The {p} keeps disconnecting, quality is unreliable",
         "Feels cheap, not what was advertised"],
    ),
    "delivery": (
        ["物流太慢了，比承诺的时间晚了好几天", "快递送货慢，等了一个多星期才到",
         "送货慢，而且没有任何延迟通知", "物流信息一直不更新，送货太慢",
         "承诺三天送达，结果快递晚了五天", "送货延迟，打电话问快递也说不清楚"],
        ["Late delivery, the parcel arrived days after the promised date",
         "Delivery was very slow and nobody told me about the delay",
         "Late delivery again, the courier could not say when it would arrive",
         "The delivery was late and tracking was never updated"],
    ),
    "price": (
        ["价格偏高，希望多一些优惠活动", "同款在别的平台更便宜", "会员折扣力度太小了",
         "希望推出以旧换新活动", "建议满额包邮"],
        ["The price is a bit high, more discounts would be nice",
         "It is cheaper on other platforms", "Member discounts are too small"],
    ),
    "service": (
        ["客服回复太慢，等了很久没人理", "客服态度一般，问题没有解决", "电话一直打不通，体验很差",
         "售前承诺的和实际不一样"],
        ["Support replies far too slowly", "The agent was not helpful and my issue is still open",
         "Could not get through on the phone"],
    ),
    "feature": (
        ["希望{p}能增加定时功能", "建议App支持多台设备同时管理", "希望推出更大容量的型号",
         "希望增加更多颜色可选", "建议支持语音控制", "希望能和其他品牌的设备联动"],
        ["Please add a timer function to the {p}",
         "The app should support managing several devices",
         "Would love a larger-capacity model", "Please add voice control"],
    ),
    "app": (
        ["App经常闪退，希望尽快修复", "App界面太复杂，找不到设置入口", "小程序下单流程太繁琐",
         "App更新后连接不上设备"],
        ["The app keeps crashing", "The app is confusing, I cannot find the settings",
         "After the update the app no longer connects"],
    ),
    "aftersales": (
        ["售后维修等了两周还没有结果", "保修流程太复杂，需要提交很多材料",
         "维修后问题依旧，希望换新", "上门安装师傅迟到了两个小时"],
        ["The repair has taken two weeks with no result", "The warranty process is too complicated",
         "The problem came back after the repair"],
    ),
    "training": (
        ["希望提供使用培训，很多功能不会用", "能不能出一套详细的视频教程？",
         "建议给我们公司员工安排一次产品培训", "新买的{p}不会设置，希望有上门培训或图文教程",
         "高级功能没有教程，希望定期举办线上培训", "希望有针对新手的入门教程"],
        ["Could you offer a training session for our team?",
         "Please provide a video tutorial for the advanced features",
         "We need training on the {p}, most of our staff do not know how to use it",
         "A beginner tutorial would help a lot"],
    ),
    "packaging": (
        ["包装太简陋，收到时盒子已经破损", "希望使用更环保的包装", "外包装过大，浪费材料"],
        ["The packaging was damaged on arrival", "Please use more eco-friendly packaging"],
    ),
}  # fmt: skip
_TOPIC_WEIGHTS = {  # topic mix per feedback source, before training / forced topics
    "survey": {"quality": 2, "price": 3, "service": 2, "feature": 3, "app": 2, "aftersales": 1,
               "packaging": 1},
    "complaint": {"quality": 2, "service": 3, "price": 1, "app": 2, "aftersales": 3,
                  "packaging": 1},
    "suggestion": {"feature": 5, "price": 2, "app": 2, "service": 1, "packaging": 1,
                   "aftersales": 1},
    "questionnaire": {"feature": 4, "price": 2, "service": 2, "aftersales": 2, "app": 1},
}  # fmt: skip
#: Share of feedback texts whose topic is fixed by a late delivery or a return (measured).
_FORCED_TOPIC_SHARE = 0.28
_RETURN_REASONS = {  # kind → (zh, en)
    "quality": (
        ["质量问题：{p}无法正常使用", "质量问题：使用几天后出现故障", "质量问题：有异响，做工差",
         "质量问题：电池续航严重不足", "质量问题：收到时已损坏"],
        ["Quality issue: the {p} stopped working", "Quality issue: defect after a few days",
         "Quality issue: poor build, rattling noise"],
    ),
    "late": (
        ["物流太慢，不想要了", "送货延迟，已在别处购买"],
        ["Late delivery, no longer needed", "Delivery too slow, bought elsewhere"],
    ),
    "other": (
        ["不喜欢，七天无理由退货", "与描述不符", "尺寸规格不合适", "买错型号", "发错货"],
        ["Changed my mind (7-day no-reason return)", "Not as described", "Wrong size or model",
         "Wrong item shipped"],
    ),
    "refund": (
        ["未发货，申请退款", "重复下单", "价格变动，申请退差价"],
        ["Not shipped yet, refund requested", "Duplicate order",
         "Price changed, refund the difference"],
    ),
}  # fmt: skip
# (ticket category, handling team)
_TICKET_CATEGORIES = [
    ("产品质量", "售后组"), ("物流配送", "物流协调组"), ("退换货", "售后组"),
    ("服务态度", "客服一组"), ("价格与优惠", "客服二组"), ("App与系统", "技术支持组"),
    ("售后维修", "售后组"),
    ("使用咨询", "技术支持组"), ("账单与支付", "客服二组"), ("安装预约", "客服一组"),
    ("咨询建议", "客服一组"), ("产品包装", "物流协调组"),
]  # fmt: skip
_TOPIC_TICKET_CATEGORY = {
    "praise": "咨询建议", "quality": "产品质量", "delivery": "物流配送", "price": "价格与优惠",
    "service": "服务态度", "feature": "咨询建议", "app": "App与系统", "aftersales": "售后维修",
    "training": "使用咨询", "packaging": "产品包装",
}  # fmt: skip
_SERVICE_TICKET_CATEGORIES = [
    ("使用咨询", 4), ("售后维修", 3), ("账单与支付", 2), ("安装预约", 2), ("App与系统", 2),
]  # fmt: skip
_TICKET_CHANNELS = [
    ("phone", 28), ("chat", 20), ("social", 16), ("app", 14), ("email", 12), ("service", 6),
    ("visit", 4),
]  # fmt: skip
_SEVERITIES = [("low", 30), ("medium", 45), ("high", 20), ("critical", 5)]
_REFERRAL_CHANNELS = [("social", 50), ("app", 25), ("phone", 10), ("visit", 10), ("email", 5)]

# Generation steps: (SQL file, what it builds).
_STEPS = [
    ("00_setup.sql", "setup"),
    ("10_products.sql", "products"),
    ("20_customers_base.sql", "customer profiles"),
    ("30_orders_draft.sql", "order draft"),
    ("35_quiet_high_value.sql", "quiet high-value customers"),
    ("40_orders.sql", "orders"),
    ("45_customers.sql", "customers"),
    ("50_interactions.sql", "interactions"),
    ("60_feedback.sql", "feedback"),
    ("70_tickets.sql", "tickets"),
    ("80_opportunities.sql", "opportunities"),
    ("85_points_ledger.sql", "points ledger"),
    ("90_referrals.sql", "referrals"),
    ("95_planted.sql", "planted truths"),
    ("96_realised.sql", "realised signal sizes"),
    ("99_cleanup.sql", "cleanup"),
]

_PARAM = re.compile(r"\$([A-Za-z_][A-Za-z0-9_]*)")


@dataclass(frozen=True)
class DemoResult:
    """What :func:`generate` produced.

    Attributes
    ----------
    rows : dict of str to int
        Row count of every data table and of ``demo_planted`` / ``demo_planted_customers``.
    seconds : float
        Wall-clock time of the whole generation.
    step_seconds : dict of str to float
        Time per generation step, in order.
    seed : int
        The seed used.
    as_of : datetime.date
        The last day of the generated history.
    """

    rows: dict[str, int]
    seconds: float
    step_seconds: dict[str, float]
    seed: int
    as_of: date


def generate(
    con: Backend,
    customers: int = 10_000,
    *,
    seed: int = 42,
    as_of: date = date(2026, 9, 30),
    orders_per_customer: float = 10.5,
    progress: bool = True,
) -> DemoResult:
    """Fill the warehouse with seeded synthetic data that carries the planted signals.

    Every data table of ``crmkit.schema.TABLES`` is emptied and refilled inside one
    transaction (a failure leaves the previous contents in place), together with
    ``demo_planted`` and ``demo_planted_customers``. See the module docstring for what is
    generated and which signals are planted.

    Parameters
    ----------
    con : ibis DuckDB backend
        A connection opened for writing, e.g. ``crmkit.db.connect(path, read_only=False)``.
    customers : int, default 10_000
        Number of customer records, between 100 and 5,000,000.
    seed : int, default 42
        The same seed (and the same other arguments) gives identical data.
    as_of : datetime.date, default 2026-09-30
        Last day of the four-year history; must be before today.
    orders_per_customer : float, default 10.5
        Average number of orders per customer (between 0.5 and 200); orders ≈
        ``customers × orders_per_customer`` (a little less: churned and quiet customers stop
        early; 1,000,000 customers give about 10.3 M orders).
    progress : bool, default True
        Show a progress bar on stderr.

    Returns
    -------
    DemoResult
        Row counts per table and seconds taken.

    Raises
    ------
    ValueError
        For sizes, dates or rates out of range, with what was expected.

    Examples
    --------
    >>> from crmkit import db, demo
    >>> con = db.connect(":memory:", read_only=False)
    >>> demo.generate(con, customers=1_000, progress=False).rows["products"]
    40
    """
    _check_arguments(customers, seed, as_of, orders_per_customer)
    started = time.perf_counter()
    params = _parameters(customers, seed, as_of, orders_per_customer)
    db.create_schema(con)
    raw = con.con
    steps = [(f, label, _statements(f)) for f, label in _STEPS]
    bar = _progress_bar(len(steps), progress)
    timings: dict[str, float] = {}
    try:
        with db.transaction(con):
            for name in reversed(schema.DATA_TABLES):
                con.truncate_table(name)
            for _, label, statements in steps:
                bar.set_postfix_str(label)
                t0 = time.perf_counter()
                for sql in statements:
                    used = {k: params[k] for k in _PARAM.findall(sql)}
                    raw.execute(sql, used or None)
                timings[label] = time.perf_counter() - t0
                bar.update(1)
    finally:
        bar.close()
    rows = {
        name: int(con.table(name).count().execute())
        for name in (*schema.DATA_TABLES, "demo_planted", "demo_planted_customers")
    }
    return DemoResult(
        rows=rows,
        seconds=time.perf_counter() - started,
        step_seconds=timings,
        seed=seed,
        as_of=as_of,
    )


def shared_warehouse(
    customers: int = SHARED_CUSTOMERS,
    *,
    seed: int = SHARED_SEED,
    as_of: date = SHARED_AS_OF,
    root: str | os.PathLike | None = None,
) -> Path:
    """The demo warehouse of this size, seed and ``as_of``, built once and shared.

    The first caller generates it into the cache (:func:`crmkit.cache.built`); every other
    caller — another test session, a notebook kernel, ``make`` — waits for it and opens the same
    file. The cache key holds the arguments, crmkit's and DuckDB's versions and the generator's
    source (this module, the schema, ``crmkit/sql/demo/*.sql``): a change of any of them
    builds a new warehouse. Open it read-only (``db.connect(path)``); its file is mode 0444.

    Parameters
    ----------
    customers, seed, as_of
        As for :func:`generate`.
    root : path-like, optional
        The directory of the cache entries; default ``crmkit.cache.cache_dir() / "shared"``.

    Returns
    -------
    Path
        ``<cache>/demo-<customers>-s<seed>-<as_of>-<key>/warehouse.duckdb``.

    Raises
    ------
    ValueError
        For arguments :func:`generate` refuses, before anything is built.

    Examples
    --------
    >>> import tempfile
    >>> path = shared_warehouse(1_000, root=tempfile.mkdtemp())
    >>> path.name, path.parent.name.startswith("demo-1000-s42-2026-09-30-")
    ('warehouse.duckdb', True)
    >>> shared_warehouse(1_000, root=path.parent.parent) == path  # built once
    True
    """
    _check_arguments(customers, seed, as_of, 10.5)

    def build(directory: Path) -> None:
        con = db.connect(directory / "warehouse.duckdb", read_only=False)
        try:
            generate(con, customers, seed=seed, as_of=as_of, progress=False)
        finally:
            con.disconnect()

    entry = cache.built(
        shared_family(customers, seed=seed, as_of=as_of), shared_key(), build, root=root
    )
    return entry / "warehouse.duckdb"


def shared_family(
    customers: int = SHARED_CUSTOMERS, *, seed: int = SHARED_SEED, as_of: date = SHARED_AS_OF
) -> str:
    """The cache family of the shared demo warehouse: ``demo-20000-s42-2026-09-30``."""
    return f"demo-{customers}-s{seed}-{as_of.isoformat()}"


def shared_key() -> str:
    """What the demo's contents depend on besides its arguments (:func:`crmkit.cache.fingerprint`
    of crmkit's and DuckDB's versions and the generator's source files)."""
    import duckdb

    here = Path(__file__).parent
    files = [here / "demo.py", here / "schema.py", here / "db.py"]
    files += sorted((here / "sql" / "demo").glob("*.sql"))
    return cache.fingerprint(db.version(), duckdb.__version__, files=files)


def cdnow_orders() -> pd.DataFrame:
    """The CDNOW sample as orders: 2,357 customers' 6,919 purchases, 1997-01-01 … 1998-06-30.

    The sample of Fader, Hardie & Lee (2005), shipped in crmkit (``crmkit/data/cdnow_sample.txt``,
    copied from the ``lifetimes`` 0.11.3 wheel, MIT; see ``crmkit/data/README.md``): the
    external truth the CLV models are checked against (their published BG/NBD and Gamma-Gamma
    estimates on the 39-week calibration period).

    Returns
    -------
    pandas.DataFrame
        ``customer_sk`` (the sample id, int), ``customer_id`` (the same as text),
        ``order_ts`` (the purchase date, midnight), ``amount`` (dollars, float), ``quantity``
        (CDs bought) and ``status`` ``"completed"``: the columns
        :func:`crmkit.clv.rfm_summary` reads. Several purchases of one day stay separate rows.

    Examples
    --------
    >>> cd = cdnow_orders()
    >>> len(cd), cd.customer_sk.nunique(), round(float(cd.amount.sum()), 2)
    (6919, 2357, 244091.94)
    >>> str(cd.order_ts.min().date()), str(cd.order_ts.max().date())
    ('1997-01-01', '1998-06-30')
    """
    text = (resources.files("crmkit") / "data" / "cdnow_sample.txt").read_text(encoding="ascii")
    rows = [line.split() for line in text.splitlines() if line.strip()]
    raw = pd.DataFrame(rows, columns=["master_id", "customer_sk", "date", "quantity", "amount"])
    sk = raw.customer_sk.astype("int64")
    return pd.DataFrame(
        {
            "customer_sk": sk,
            "customer_id": sk.astype(str),
            "order_ts": pd.to_datetime(raw.date, format="%Y%m%d"),
            "amount": raw.amount.astype("float64"),
            "quantity": raw.quantity.astype("int64"),
            "status": "completed",
        }
    )


def planted_rows(as_of: date = date(2026, 9, 30)) -> list[dict[str, str]]:
    """The planted truths as rows of ``demo_planted`` (before the realised sizes are added).

    Parameters
    ----------
    as_of : datetime.date, default 2026-09-30
        The ``as_of`` of the run; the signals' dates are derived from it.

    Returns
    -------
    list of dict
        One dict per (signal, key) with ``signal``, ``key``, ``value`` (JSON for lists,
        plain text otherwise) and ``description`` (the signal's English and Chinese description).

    Examples
    --------
    >>> rows = planted_rows()
    >>> [r["value"] for r in rows if r["key"] == "product_id"]
    ['P0008']
    """
    windows = _windows(as_of)
    quiet = PLANTED["quiet_high_value"]
    dated: dict[str, dict[str, object]] = {
        "churn_region": {"quarter_starts": [d.isoformat() for d in windows["quarters"]]},
        "growing_need": {
            "first_year": [windows["start"].isoformat(), windows["ramp_start"].isoformat()],
            "last_quarter_start": windows["quarters"][-1].isoformat(),
        },
        "quiet_high_value": {
            "reference_date": (
                windows["end"] - timedelta(days=quiet["reference_days"])
            ).isoformat(),
            "silent_since_at_least": (
                windows["end"] - timedelta(days=quiet["silent_days"])
            ).isoformat(),
        },
    }
    out: list[dict[str, str]] = []
    for signal, spec in PLANTED.items():
        description = f"{spec['description_en']} / {spec['description_zh']}"
        for key, value in {**spec, **dated.get(signal, {})}.items():
            if key.startswith("description"):
                continue
            text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
            out.append({"signal": signal, "key": key, "value": text, "description": description})
    return out


# --------------------------------------------------------------------------------------------
# Internals
# --------------------------------------------------------------------------------------------


def _check_arguments(customers: int, seed: int, as_of: date, orders_per_customer: float) -> None:
    if isinstance(customers, bool) or not isinstance(customers, int):
        raise ValueError(f"customers must be a whole number, got {customers!r}")
    if not MIN_CUSTOMERS <= customers <= MAX_CUSTOMERS:
        raise ValueError(
            f"customers={customers:,} is out of range; expected {MIN_CUSTOMERS:,} … "
            f"{MAX_CUSTOMERS:,} (the planted signals need at least {MIN_CUSTOMERS} customers)"
        )
    if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed < 2**62:
        raise ValueError(f"seed must be a whole number in 0 … 2**62, got {seed!r}")
    if isinstance(as_of, datetime) or not isinstance(as_of, date):
        raise ValueError(f"as_of must be a datetime.date (e.g. date(2026, 9, 30)), got {as_of!r}")
    if as_of >= date.today():
        raise ValueError(
            f"as_of={as_of.isoformat()} is not before today ({date.today().isoformat()}); the "
            "demo history ends at the end of as_of and must not lie in the future — pass an "
            "earlier as_of"
        )
    if isinstance(orders_per_customer, bool) or not isinstance(orders_per_customer, int | float):
        raise ValueError(f"orders_per_customer must be a number, got {orders_per_customer!r}")
    if not 0.5 <= orders_per_customer <= 200:
        raise ValueError(
            f"orders_per_customer={orders_per_customer!r} is out of range; expected 0.5 … 200"
        )
    if customers * orders_per_customer > MAX_ORDERS:
        raise ValueError(
            f"customers × orders_per_customer = {customers * orders_per_customer:,.0f} orders is "
            f"more than {MAX_ORDERS:,}; lower one of them"
        )


def _add_months(d: date, months: int) -> date:
    y, m = divmod(d.month - 1 + months, 12)
    year, month = d.year + y, m + 1
    for day in (d.day, 30, 29, 28):
        try:
            return date(year, month, day)
        except ValueError:
            continue
    raise AssertionError("unreachable")


def _windows(as_of: date) -> dict:
    """The run's calendar: the history [start, end) and the planted windows."""
    end = as_of + timedelta(days=1)
    start = _add_months(end, -12 * HISTORY_YEARS)
    quarters = [_add_months(end, -3 * k) for k in (4, 3, 2, 1)]
    return {
        "start": start,
        "end": end,
        "quarters": quarters,
        "ramp_start": _add_months(start, 12),
    }


def _weighted(items: list[tuple[object, float]]) -> list[object]:
    """Repeat each value by its weight, so a uniform pick from the list follows the weights."""
    return [value for value, weight in items for _ in range(int(weight))]


def _as_ts(d: date) -> datetime:
    return datetime(d.year, d.month, d.day)


_EPOCH = date(1970, 1, 1)


def _epoch_seconds(d: date) -> int:
    """Midnight of ``d`` in seconds since 1970-01-01 (the SQL works on naive UTC-like times)."""
    return (d - _EPOCH).days * 86400


def _parameters(customers: int, seed: int, as_of: date, orders_per_customer: float) -> dict:
    w = _windows(as_of)
    end = w["end"]
    p = PLANTED
    topics = list(_TOPICS)
    categories = [c for c, _ in _TICKET_CATEGORIES]
    shares = p["churn_region"]["quarterly_silent_share"]
    base = p["churn_region"]["baseline_quarterly_silent_share"]
    legacy_b2c = [(i + 1, w6) for i, (*_, days, w6, _w7) in enumerate(_PRODUCTS) if days > 1500]
    legacy_b2b = [(i + 1, w7) for i, (*_, days, _w6, w7) in enumerate(_PRODUCTS) if days > 1500]
    staff_teams = list(_STAFF)
    quiet = p["quiet_high_value"]
    planted = planted_rows(as_of)
    return {
        "seed": seed,
        "n": customers,
        "target_orders": round(customers * float(orders_per_customer)),
        "as_of": as_of,
        "start_ts": _as_ts(w["start"]),
        "end_ts": _as_ts(end),
        "end_s": _epoch_seconds(end),
        "span_days": (end - w["start"]).days,
        # customers
        "dup_share": p["duplicate_customers"]["share"],
        "missing_phone_share": 0.03,
        "missing_email_share": 0.05,
        "english_share": 0.15,
        "b2b_share": 0.30,
        "potential_share": 0.10,
        "surnames": _weighted([(s, wt) for s, _, wt in _SURNAMES]),
        "surnames_py": _weighted([(py, wt) for _, py, wt in _SURNAMES]),
        "given_m": _weighted([(c, wt) for c, _, wt in _GIVEN_M]),
        "given_m_py": _weighted([(py, wt) for _, py, wt in _GIVEN_M]),
        "given_f": _weighted([(c, wt) for c, _, wt in _GIVEN_F]),
        "given_f_py": _weighted([(py, wt) for _, py, wt in _GIVEN_F]),
        "en_first_m": _EN_FIRST_M,
        "en_first_f": _EN_FIRST_F,
        "en_last": _EN_LAST,
        "phone_prefixes": _PHONE_PREFIXES,
        "email_domains_zh": _weighted(_EMAIL_DOMAINS_ZH),
        "email_domains_en": _weighted(_EMAIL_DOMAINS_EN),
        "provinces": [prov for prov, _, _ in _REGIONS],
        "cities": [city for _, city, _ in _REGIONS],
        "region_weighted": _weighted([(i + 1, wt) for i, (*_, wt) in enumerate(_REGIONS)]),
        "cities_en": [_CITY_EN[city] for _, city, _ in _REGIONS],
        "company_core1_zh": _COMPANY_CORE1_ZH,
        "company_core2_zh": _COMPANY_CORE2_ZH,
        "company_industries_zh": _COMPANY_INDUSTRIES_ZH,
        "company_suffixes_zh": _COMPANY_SUFFIXES_ZH,
        "company_core1_en": _COMPANY_CORE1_EN,
        "company_core2_en": _COMPANY_CORE2_EN,
        "company_industries_en": _COMPANY_INDUSTRIES_EN,
        "titles_zh": _TITLES_ZH,
        "titles_en": _TITLES_EN,
        "acquisition_weighted": _weighted(_ACQUISITION),
        "staff_teams": staff_teams,
        "staff": [_STAFF[t] for t in staff_teams],
        "agents": _AGENTS,
        # churn region
        "churn_province": p["churn_region"]["province"],
        "q1": _as_ts(w["quarters"][0]),
        "q2": _as_ts(w["quarters"][1]),
        "q3": _as_ts(w["quarters"][2]),
        "q4": _as_ts(w["quarters"][3]),
        # extra hazard on top of the baseline, so that the total matches the planted share
        "churn_extra": [max(0.0, 1 - (1 - s) / (1 - base)) for s in shares],
        # products and orders
        "product_names": [x[0] for x in _PRODUCTS],
        "product_names_en": [x[1] for x in _PRODUCTS],
        "product_categories": [x[2] for x in _PRODUCTS],
        "product_ids": [f"P{i + 1:04d}" for i in range(len(_PRODUCTS))],
        "product_prices": [float(x[3]) for x in _PRODUCTS],
        "product_price_c": [100 * x[3] for x in _PRODUCTS],
        "product_launch_days": [x[4] for x in _PRODUCTS],
        "product_launch_day": [(as_of - timedelta(days=x[4]) - _EPOCH).days for x in _PRODUCTS],
        "pop_b2c": _weighted([(i + 1, x[5]) for i, x in enumerate(_PRODUCTS)]),
        "pop_b2b": _weighted([(i + 1, x[6]) for i, x in enumerate(_PRODUCTS)]),
        "legacy_b2c": _weighted(legacy_b2c),
        "legacy_b2b": _weighted(legacy_b2b),
        "order_statuses": ["completed", "returned", "refunded", "cancelled"],
        "order_channel_names": [name for name, _ in _ORDER_CHANNELS],
        "order_channels": _weighted([(i + 1, w) for i, (_, w) in enumerate(_ORDER_CHANNELS)]),
        "store_channel": [name for name, _ in _ORDER_CHANNELS].index("store") + 1,
        "order_hours": _weighted(list(enumerate(_ORDER_HOUR_WEIGHTS))),
        "hr_product": p["high_return_product"]["product_sk"],
        "hr_return_rate": p["high_return_product"]["return_rate"],
        "hr_quality_share": p["high_return_product"]["quality_reason_share"],
        "return_rate": p["high_return_product"]["baseline_return_rate"],
        # ~6 % of orders are picked up in store, so shipped orders run a little above the
        # planted overall share
        "late_share_shipped": p["delivery_delay_nps"]["late_share"] / 0.82,
        "reasons_zh": [_RETURN_REASONS[k][0] for k in ("quality", "late", "other", "refund")],
        "reasons_en": [_RETURN_REASONS[k][1] for k in ("quality", "late", "other", "refund")],
        # quiet high-value customers
        "quiet_count": round(customers * quiet["share_of_customers"]),
        "quiet_ref_s": _epoch_seconds(end - timedelta(days=quiet["reference_days"])),
        "quiet_min_days": quiet["silent_days"],
        "quiet_span_days": quiet["silent_days_max"] - quiet["silent_days"] + 1,
        "quiet_min_tenure_ts": _as_ts(end - timedelta(days=quiet["min_tenure_days"])),
        "quiet_min_orders": quiet["min_orders_before"],
        # interactions
        "ik_topic": [k[0] for k in _INTERACTION_KINDS],
        "ik_direction": [k[1] for k in _INTERACTION_KINDS],
        "ik_care": [k[2] for k in _INTERACTION_KINDS],
        "ik_channels": [_weighted(k[3]) for k in _INTERACTION_KINDS],
        "ik_weighted": _weighted([(i + 1, k[4]) for i, k in enumerate(_INTERACTION_KINDS)]),
        "ik_post_purchase": 11,
        "ik_birthday": 12,
        "ik_holiday": 13,
        "holiday_dates": [d for d, _ in _HOLIDAYS],
        "holiday_names": [name for _, name in _HOLIDAYS],
        "first_year": w["start"].year,
        "last_year": as_of.year,
        # feedback
        "topics": topics,
        "txt_zh": [_TOPICS[t][0] for t in topics],
        "txt_en": [_TOPICS[t][1] for t in topics],
        "topics_survey": _weighted(
            [(topics.index(t) + 1, wt) for t, wt in _TOPIC_WEIGHTS["survey"].items()]
        ),
        "topics_complaint": _weighted(
            [(topics.index(t) + 1, wt) for t, wt in _TOPIC_WEIGHTS["complaint"].items()]
        ),
        "topics_suggestion": _weighted(
            [(topics.index(t) + 1, wt) for t, wt in _TOPIC_WEIGHTS["suggestion"].items()]
        ),
        "topics_questionnaire": _weighted(
            [(topics.index(t) + 1, wt) for t, wt in _TOPIC_WEIGHTS["questionnaire"].items()]
        ),
        "survey_share": 0.08,
        "complaint_late": p["delivery_delay_nps"]["complaint_rate_late"],
        "complaint_on_time": p["delivery_delay_nps"]["complaint_rate_on_time"],
        "nps_penalty_late": p["delivery_delay_nps"]["nps_penalty"],
        # texts about late deliveries and returns (~28 %) never ask for training, so the
        # others ask a little more often for the planted share of all texts
        "train_p0": p["growing_need"]["share_first_year"] / (1 - _FORCED_TOPIC_SHARE),
        "train_p1": p["growing_need"]["share_last_quarter"] / (1 - _FORCED_TOPIC_SHARE),
        "train_ramp_start": _as_ts(w["ramp_start"]),
        "train_ramp_end": _as_ts(w["quarters"][-1]),
        # tickets
        "ticket_categories": categories,
        "ticket_teams": [team for _, team in _TICKET_CATEGORIES],
        "topic_ticket_category": [categories.index(_TOPIC_TICKET_CATEGORY[t]) + 1 for t in topics],
        "ticket_return_category": categories.index("退换货") + 1,
        "service_ticket_categories": _weighted(
            [(categories.index(c) + 1, wt) for c, wt in _SERVICE_TICKET_CATEGORIES]
        ),
        "ticket_channels": _weighted(_TICKET_CHANNELS),
        "severities": _weighted(_SEVERITIES),
        "slow_channel": p["slow_sla_channel"]["channel"],
        "slow_team": p["slow_sla_channel"]["team"],
        # opportunities, referrals
        "opportunity_sources": _weighted(_OPPORTUNITY_SOURCES),
        "referral_channels": _weighted(_REFERRAL_CHANNELS),
        # planted truths
        "planted_signal": [r["signal"] for r in planted],
        "planted_key": [r["key"] for r in planted],
        "planted_value": [r["value"] for r in planted],
        "planted_description": [r["description"] for r in planted],
    }


def _statements(filename: str) -> list[str]:
    """The statements of a demo SQL file: each ends with ``;`` at the end of a code line."""
    text = (resources.files("crmkit") / "sql" / "demo" / filename).read_text(encoding="utf-8")
    out: list[str] = []
    current: list[str] = []
    for line in text.splitlines():
        code = line.strip()
        if not code or code.startswith("--"):
            continue
        current.append(line)
        if code.endswith(";"):
            out.append("\n".join(current).rstrip().removesuffix(";"))
            current = []
    if current:
        out.append("\n".join(current))
    return out


class _NoBar:
    def set_postfix_str(self, _: str) -> None:
        pass

    def update(self, _: int) -> None:
        pass

    def close(self) -> None:
        pass


def _progress_bar(total: int, show: bool):
    if not show:
        return _NoBar()
    from tqdm.auto import tqdm

    return tqdm(total=total, desc="crmkit demo", unit="step", file=sys.stderr)
