"""Tests for ``crmkit.classification`` on small warehouses whose classes are worked out by hand.

The ten-customer warehouse (``wh`` fixture) is classified at ``AS_OF`` = 2024-06-30 12:00. Each
customer has ``frequency`` counted orders, 30 days apart, the last one at 10:00 on the day
``recency_days`` before 2024-06-30; the last order carries ``monetary - 10 * (frequency - 1)``
and every earlier one 10. Everyone was created 2022-01-01 unless the table says otherwise.

===  =======  =========  ========  ==========================================================
cust  R days  F orders   M ¥       extra orders (not counted) / created_at
===  =======  =========  ========  ==========================================================
C01   10      5          1000      a *returned* order of 5000 on 2024-06-29
C02   20      1          900       a completed order of 999 on 2024-07-01 (after AS_OF)
C03   200     6          800       a *cancelled* order of 300 on 2024-06-30
C04   300     1          700
C05   30      4          100       created 2021-06-30 12:00:00 (exactly 3 years before AS_OF)
C06   40      1          50        created 2021-06-30 12:00:01 (one second short of 3 years)
C07   250     5          150
C08   350     1          20
C09   150     3          500
C10   150     3          780
C11   —       0          —         only a returned (80) and a refunded (60) order
C12   —       0          —         no orders at all
C13   —       0          —         created 2024-07-01, after AS_OF (left out of classify)
===  =======  =========  ========  ==========================================================

Sums over the ten customers with counted orders: R 1500, F 30, M 5000, so the mean splits are
exactly R 150, F 3, M 500 — C09 sits on all three splits and is low in all three.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from decimal import Decimal

import ibis
import pandas as pd
import pytest

from crmkit import classification as clf
from crmkit import db
from crmkit.schema import TABLES

AS_OF = datetime(2024, 6, 30, 12, 0)
CREATED = datetime(2022, 1, 1)
#: customer_id → (recency_days, frequency, monetary)
RFM = {
    "C01": (10, 5, 1000),
    "C02": (20, 1, 900),
    "C03": (200, 6, 800),
    "C04": (300, 1, 700),
    "C05": (30, 4, 100),
    "C06": (40, 1, 50),
    "C07": (250, 5, 150),
    "C08": (350, 1, 20),
    "C09": (150, 3, 500),
    "C10": (150, 3, 780),
}
CREATED_AT = {
    "C05": datetime(2021, 6, 30, 12, 0, 0),
    "C06": datetime(2021, 6, 30, 12, 0, 1),
    "C13": datetime(2024, 7, 1),
}
CUSTOMER_IDS = [f"C{i:02d}" for i in range(1, 14)]
SK = {cid: i for i, cid in enumerate(CUSTOMER_IDS, start=1)}


def _order(n: int, cid: str, ts: datetime, amount: float, status: str = "completed") -> dict:
    return dict(
        order_id=f"O{n:03d}",
        customer_id=cid,
        customer_sk=SK.get(cid),
        product_id="P1",
        order_ts=ts,
        quantity=1,
        amount=Decimal(str(amount)),
        discount=Decimal("0"),
        status=status,
    )


def _orders() -> list[dict]:
    rows: list[dict] = []
    for cid, (r, f, m) in RFM.items():
        last = datetime.combine(AS_OF.date() - timedelta(days=r), datetime.min.time()).replace(
            hour=10
        )
        for k in range(f):
            amount = m - 10 * (f - 1) if k == f - 1 else 10
            rows.append(_order(len(rows), cid, last - timedelta(days=30 * (f - 1 - k)), amount))
    rows.append(_order(len(rows), "C01", datetime(2024, 6, 29, 9), 5000, "returned"))
    rows.append(_order(len(rows), "C02", datetime(2024, 7, 1, 9), 999))
    rows.append(_order(len(rows), "C03", datetime(2024, 6, 30, 9), 300, "cancelled"))
    rows.append(_order(len(rows), "C11", datetime(2024, 5, 1, 9), 80, "returned"))
    rows.append(_order(len(rows), "C11", datetime(2024, 5, 2, 9), 60, "refunded"))
    return rows


def _frame(table: str, records: list[dict]) -> ibis.Table:
    """``records`` as a table with exactly the warehouse columns (missing values null)."""
    sch = TABLES[table].ibis_schema()
    rows = [{c: r.get(c) for c in sch.names} for r in records]
    return ibis.memtable(pd.DataFrame(rows, columns=list(sch.names)), schema=sch)


@pytest.fixture
def wh():
    con = db.connect(":memory:", read_only=False)
    db.create_schema(con)
    customers = [
        dict(
            customer_sk=SK[cid],
            customer_id=cid,
            name=f"客户{cid}",
            created_at=CREATED_AT.get(cid, CREATED),
        )
        for cid in CUSTOMER_IDS
    ]
    con.insert("customers", _frame("customers", customers))
    con.insert("orders", _frame("orders", _orders()))
    yield con
    con.disconnect()


def _by_id(t: ibis.Table) -> dict[str, dict]:
    return {r["customer_id"]: r for r in t.to_pandas().to_dict("records")}


def _rfm_table(**columns: list) -> ibis.Table:
    """A hand-made rfm-shaped table: customer_sk 1..n plus the given columns."""
    n = len(next(iter(columns.values())))
    data = {"customer_sk": list(range(1, n + 1)), **columns}
    for name, default in (("recency_days", 0), ("frequency", 1), ("monetary", 1.0)):
        data.setdefault(name, [default] * n)
    return ibis.memtable(pd.DataFrame(data))


# ---------------------------------------------------------------------------------------------
# RFM
# ---------------------------------------------------------------------------------------------


def test_rfm_measures_count_only_completed_orders_up_to_as_of(wh):
    """C01's returned 5000 (2024-06-29), C02's order after AS_OF and C03's cancelled order do
    not count; C11 (only returned / refunded) and C12 (no orders) are absent; C13 has none."""
    got = _by_id(clf.rfm(wh, as_of=AS_OF))
    assert sorted(got) == sorted(RFM)
    for cid, (r, f, m) in RFM.items():
        row = got[cid]
        assert (row["recency_days"], row["frequency"], row["monetary"]) == (r, f, Decimal(m)), cid
        assert row["customer_sk"] == SK[cid]
        assert row["rules_version"] == clf.load_rules()["version"]
        assert row["as_of"] == AS_OF


def test_rfm_counts_returns_when_asked_and_accepts_an_orders_table(wh):
    """With only cancelled orders excluded, C01 gains the returned 5000 of 2024-06-29: recency
    1 day, 6 orders, 6000; C11 appears with 2 orders of 80 + 60 = 140, last 2024-05-02 (59
    days before 2024-06-30)."""
    got = _by_id(clf.rfm(wh.table("orders"), as_of=AS_OF, exclude_statuses=("cancelled",)))
    assert (got["C01"]["recency_days"], got["C01"]["frequency"]) == (1, 6)
    assert got["C01"]["monetary"] == Decimal("6000")
    assert (got["C11"]["recency_days"], got["C11"]["frequency"]) == (59, 2)
    assert got["C11"]["monetary"] == Decimal("140")


def test_rfm_scores_on_the_ten_customers(wh):
    """score = 1 + floor(5 * (rank_min - 1) / n), n = 10, values ordered worst → best.

    recency (largest first): 350 C08 r0=0 → 1; 300 C04 1 → 1; 250 C07 2 → 2; 200 C03 3 → 2;
    150 C09, C10 tie at r0=4 → 3; 40 C06 6 → 4; 30 C05 7 → 4; 20 C02 8 → 5; 10 C01 9 → 5.
    frequency: four single-order customers (C02 C04 C06 C08) tie at r0=0 → 1 — without the tie
    positions 2 and 3 would have scored 2; 3 (C09 C10) r0=4 → 3; 4 (C05) r0=6 → 4; 5 (C01 C07)
    tie at r0=7 → 4 — position 8 alone would have scored 5; 6 (C03) r0=9 → 5.
    monetary (all distinct, ascending): C08 C06 → 1, C05 C07 → 2, C09 C04 → 3, C10 C03 → 4,
    C02 C01 → 5.
    """
    got = _by_id(clf.rfm(wh, as_of=AS_OF))
    expected = {
        "C01": (5, 4, 5),
        "C02": (5, 1, 5),
        "C03": (2, 5, 4),
        "C04": (1, 1, 3),
        "C05": (4, 4, 2),
        "C06": (4, 1, 1),
        "C07": (2, 4, 2),
        "C08": (1, 1, 1),
        "C09": (3, 3, 3),
        "C10": (3, 3, 4),
    }
    scores = {c: (r["r_score"], r["f_score"], r["m_score"]) for c, r in got.items()}
    assert scores == expected


def test_scores_for_small_n_all_equal_values_and_a_single_customer():
    """n = 3 distinct monetary 10 < 20 < 30: r0 0, 1, 2 → 1 + floor(0), 1 + floor(5/3) = 2,
    1 + floor(10/3) = 4. All-equal monetary: every r0 is 0 → every m_score is 1. One customer
    with one order: 1 in all three scores."""
    ts = datetime(2024, 6, 1)

    def orders(amounts: list[int]) -> ibis.Table:
        rows = [
            _order(i, f"X{i}", ts, a) | {"customer_sk": i} for i, a in enumerate(amounts, start=1)
        ]
        return _frame("orders", rows)

    three = clf.rfm(orders([10, 20, 30]), as_of=AS_OF).to_pandas().sort_values("monetary")
    assert three.m_score.tolist() == [1, 2, 4]
    assert three.r_score.tolist() == [1, 1, 1]  # all bought on the same day
    equal = clf.rfm(orders([50] * 7), as_of=AS_OF).to_pandas()
    assert equal.m_score.tolist() == [1] * 7
    one = clf.rfm(orders([99]), as_of=AS_OF).to_pandas()
    assert one[["r_score", "f_score", "m_score", "frequency"]].values.tolist() == [[1, 1, 1, 1]]


def test_rfm_rejects_bad_input(wh):
    with pytest.raises(TypeError, match="as_of must be a datetime"):
        clf.rfm(wh, as_of=AS_OF.date())
    with pytest.raises(TypeError, match="tuple of statuses"):
        clf.rfm(wh, as_of=AS_OF, exclude_statuses="returned")
    with pytest.raises(ValueError, match="lacks column"):
        clf.rfm(wh.table("orders").drop("amount"), as_of=AS_OF)


# ---------------------------------------------------------------------------------------------
# the 8 RFM classes
# ---------------------------------------------------------------------------------------------


def test_eight_classes_on_the_ten_customers(wh):
    """Mean splits R 150, F 3, M 500; high = strictly better than the split.

    C01 10<150 H, 5>3 H, 1000>500 H → 重要价值; C02 H, 1 L, 900 H → 重要发展;
    C03 200 L, 6 H, 800 H → 重要保持; C04 L, L, 700 H → 重要挽留; C05 30 H, 4 H, 100 L →
    一般价值; C06 H, L, L → 一般发展; C07 L, 5 H, L → 一般保持; C08 L, L, L → 一般挽留;
    C09 150 = split, 3 = split, 500 = split → all low → 一般挽留; C10 150 L, 3 L, 780 H → 重要挽留.
    """
    got = _by_id(clf.rfm_classes(clf.rfm(wh, as_of=AS_OF)))
    expected = {
        "C01": "important_value",
        "C02": "important_develop",
        "C03": "important_keep",
        "C04": "important_retain",
        "C05": "general_value",
        "C06": "general_develop",
        "C07": "general_keep",
        "C08": "general_retain",
        "C09": "general_retain",
        "C10": "important_retain",
    }
    assert {c: r["rfm_class"] for c, r in got.items()} == expected
    assert (got["C01"]["r_split"], got["C01"]["f_split"], got["C01"]["m_split"]) == (150, 3, 500)
    assert (got["C09"]["r_high"], got["C09"]["f_high"], got["C09"]["m_high"]) == (
        False,
        False,
        False,
    )
    assert (got["C03"]["rfm_class_zh"], got["C03"]["rfm_class_en"]) == (
        "重要保持客户",
        "Important keep",
    )
    zh = {r["rfm_class"]: r["rfm_class_zh"] for r in got.values()}
    assert zh["important_value"] == "重要价值客户"
    assert zh["general_retain"] == "一般挽留客户"


def test_median_split_differs_from_mean():
    """monetary 10, 20, 30, 40, 400: mean 100 → only 400 is high; median 30 → 40 and 400 are
    high (30 itself is on the split, so low). recency 0, 0, 5, 9, 100: mean 22.8 → the first
    four are high; median 5 → only the two zeros are high."""
    t = _rfm_table(monetary=[10.0, 20.0, 30.0, 40.0, 400.0], recency_days=[0, 0, 5, 9, 100])
    mean = clf.rfm_classes(t, split="mean").order_by("customer_sk").to_pandas()
    median = clf.rfm_classes(t, split="median").order_by("customer_sk").to_pandas()
    assert mean.m_high.tolist() == [False, False, False, False, True]
    assert median.m_high.tolist() == [False, False, False, True, True]
    assert mean.r_high.tolist() == [True, True, True, True, False]
    assert median.r_high.tolist() == [True, True, False, False, False]
    assert median.m_split.iloc[0] == 30
    with pytest.raises(ValueError, match="split must be one of"):
        clf.rfm_classes(t, split="mode")


def test_all_equal_monetary_is_nobody_high():
    """Four customers with 100 each: the mean is 100 and nobody is strictly above it."""
    t = clf.rfm_classes(_rfm_table(monetary=[100.0] * 4)).to_pandas()
    assert t.m_high.tolist() == [False] * 4


# ---------------------------------------------------------------------------------------------
# value tiers
# ---------------------------------------------------------------------------------------------


def test_abc_on_the_ten_customers_with_c04_crossing_70_percent(wh):
    """Total 5000, sorted by monetary: C01 1000 (before 0), C02 900 (1000 = 20 %), C03 800
    (1900 = 38 %), C10 780 (2700 = 54 %), C04 700 (3480 = 69.6 % < 70 % → A, although with it
    the cumulative share is 4180 = 83.6 %: the crossing customer is in A), C09 500 (before 83.6 %
    → B, cumulative 4680 = 93.6 %), C07 150 (93.6 % → C), C05, C06, C08 → C.
    Tiers (top 10 % gold, next 30 % silver): top_share C01 0.1 → gold, C02 0.2, C03 0.3,
    C10 0.4 → silver, the other six → bronze."""
    got = _by_id(clf.value_tiers(clf.rfm(wh, as_of=AS_OF)))
    abc = {c: r["abc_class"] for c, r in got.items()}
    assert abc == {
        "C01": "A",
        "C02": "A",
        "C03": "A",
        "C10": "A",
        "C04": "A",
        "C09": "B",
        "C07": "C",
        "C05": "C",
        "C06": "C",
        "C08": "C",
    }
    assert got["C04"]["before_share"] == pytest.approx(0.696)
    assert got["C04"]["cum_share"] == pytest.approx(0.836)
    assert got["C09"]["revenue_share"] == pytest.approx(0.1)
    assert got["C04"]["abc_class_zh"] == "高价值"
    tiers = {c: r["value_tier"] for c, r in got.items()}
    assert [c for c, t in sorted(tiers.items()) if t == "gold"] == ["C01"]
    assert [c for c, t in sorted(tiers.items()) if t == "silver"] == ["C02", "C03", "C10"]
    assert got["C01"]["value_tier_zh"] == "金"


def test_abc_edges_exact_cutoff_and_ties():
    """70 / 20 / 10: before shares 0, 0.7, 0.9 — a before share equal to a cut-off moves on,
    so A, B, C. 60 / 20 / 20: the tied 20s both have before share 0.6 → both A (taken one
    at a time the second would start at 0.8 → B)."""
    exact = clf.value_tiers(_rfm_table(monetary=[70.0, 20.0, 10.0])).order_by("customer_sk")
    assert exact.abc_class.to_pandas().tolist() == ["A", "B", "C"]
    tied = clf.value_tiers(_rfm_table(monetary=[60.0, 20.0, 20.0])).order_by("customer_sk")
    assert tied.abc_class.to_pandas().tolist() == ["A", "A", "A"]
    custom = clf.value_tiers(_rfm_table(monetary=[70.0, 20.0, 10.0]), abc_cutoffs=(0.5, 0.8))
    assert custom.order_by("customer_sk").abc_class.to_pandas().tolist() == ["A", "B", "C"]
    with pytest.raises(ValueError, match="abc_cutoffs"):
        clf.value_tiers(_rfm_table(monetary=[1.0]), abc_cutoffs=(0.9, 0.7))


def test_tiers_ties_all_equal_and_monetary_thresholds():
    """Ten customers, the top two tied at 100 and eight at 1..8: both 100s have top_share 0.2
    → silver, no gold (ties are pulled down); 8 and 7 (top_share 0.3, 0.4) → silver.
    All-equal monetary: top_share 1 → bronze, and before share 0 → all A.
    Thresholds gold ≥ 50, silver ≥ 5: 100, 100 gold; 5..8 silver; 1..4 bronze.
    Zero revenue in total: everyone C."""
    amounts = [100.0, 100.0, *map(float, range(8, 0, -1))]
    t = _rfm_table(monetary=amounts)
    got = clf.value_tiers(t).order_by("customer_sk").to_pandas()
    assert got.value_tier.tolist() == ["silver"] * 4 + ["bronze"] * 6
    equal = clf.value_tiers(_rfm_table(monetary=[100.0] * 5)).to_pandas()
    assert set(equal.value_tier) == {"bronze"}
    assert set(equal.abc_class) == {"A"}
    fixed = clf.value_tiers(t, tier_thresholds={"method": "monetary", "gold": 50, "silver": 5})
    fixed = fixed.order_by("customer_sk").value_tier.to_pandas().tolist()
    assert fixed == ["gold"] * 2 + ["silver"] * 4 + ["bronze"] * 4
    zero = clf.value_tiers(_rfm_table(monetary=[0.0, 0.0])).to_pandas()
    assert set(zero.abc_class) == {"C"}
    with pytest.raises(ValueError, match="gold > silver"):
        clf.value_tiers(t, tier_thresholds={"method": "monetary", "gold": 5, "silver": 50})


# ---------------------------------------------------------------------------------------------
# rules
# ---------------------------------------------------------------------------------------------


def test_packaged_rules_load_and_hold_the_defaults():
    rules = clf.load_rules()
    assert rules["version"]
    assert rules["rfm"] == {
        "exclude_statuses": ["returned", "refunded", "cancelled"],
        "split": "mean",
    }
    assert rules["abc"]["cutoffs"] == [0.7, 0.9]
    assert rules["tiers"] == {"method": "quantile", "gold": 0.10, "silver": 0.30}
    assert rules["churn"]["days"] == "auto"


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda r: r.pop("version"), "version"),
        (lambda r: r["rfm"].update(split="mode"), "rfm.split"),
        (lambda r: r["rfm"].update(exclude_statuses=["lost"]), "rfm.exclude_statuses"),
        (lambda r: r["abc"].update(cutoffs=[0.9, 0.7]), "abc.cutoffs"),
        (lambda r: r["tiers"].update(gold=0.8, silver=0.5), "tiers.gold"),
        (lambda r: r["churn"].update(days=-5), "churn.days"),
        (lambda r: r["important"].update(abc_classes=["D"]), "important.abc_classes"),
        (lambda r: r["customer_types"].pop("churned"), "customer_types"),
        (lambda r: r["rfm_classes"]["general_keep"].update(owner_team="hr"), "owner_team"),
        (lambda r: r["rfm_classes"]["general_keep"].update(strategy="spam"), "strategy"),
    ],
)
def test_bad_rules_fail_with_the_rule_named(tmp_path, edit, message):
    rules = clf.load_rules()
    edit(rules)
    path = tmp_path / "rules.json"
    path.write_text(json.dumps(rules), encoding="utf-8")
    with pytest.raises(clf.RulesError, match=message):
        clf.load_rules(path)


def test_unreadable_rules_file(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text("{not json", encoding="utf-8")
    with pytest.raises(clf.RulesError, match="not valid JSON"):
        clf.load_rules(bad)
    with pytest.raises(clf.RulesError, match="does not exist"):
        clf.load_rules(tmp_path / "missing.json")


def test_churn_days_auto_explicit_and_fallback(wh):
    """Every repeat customer of the fixture orders every 30 days: median cycle 30 → 3 × 30 = 90.
    Cycles 10 and 30 → median 20 → 60. Nobody with two orders → fallback 365. Explicit 45."""
    assert clf.churn_days(clf.rfm(wh, as_of=AS_OF)).execute() == 90
    t = _rfm_table(
        frequency=[3, 2, 1],
        first_order_ts=[datetime(2024, 1, 1)] * 3,
        last_order_ts=[datetime(2024, 1, 21), datetime(2024, 1, 31), datetime(2024, 1, 1)],
    )
    assert clf.churn_days(t).execute() == 60
    singles = t.filter(t.frequency == 1)
    assert clf.churn_days(singles).execute() == 365
    rules = clf.load_rules()
    rules["churn"]["days"] = 45
    assert clf.churn_days(t, rules).execute() == 45


# ---------------------------------------------------------------------------------------------
# classify
# ---------------------------------------------------------------------------------------------


def test_classify_types_owners_and_strategies(wh):
    """churn_days = 90 (see above). C13 (created after AS_OF) is left out: 12 rows.

    potential: C11 (only returns) and C12 (no orders) → marketing, 首单转化.
    churned (recency > 90): C03 200, C04 300, C07 250, C08 350, C09 150, C10 150 → marketing,
    挽回活动.
    important: C01, C02 (ABC class A) and C05 (created exactly 3 years before AS_OF) → success,
    strategy of their RFM class: C01 important_value → VIP专属优惠, C02 important_develop →
    个性化服务, C05 general_value → 会员福利.
    existing: C06 (class C, one second short of 3 years) → its class general_develop: sales,
    客户关怀.
    """
    got = _by_id(clf.classify(wh, as_of=AS_OF))
    assert sorted(got) == [c for c in CUSTOMER_IDS if c != "C13"]
    expected = {
        "C01": ("important", "success", "vip_offer"),
        "C02": ("important", "success", "personalised_service"),
        "C03": ("churned", "marketing", "win_back"),
        "C04": ("churned", "marketing", "win_back"),
        "C05": ("important", "success", "member_benefits"),
        "C06": ("existing", "sales", "customer_care"),
        "C07": ("churned", "marketing", "win_back"),
        "C08": ("churned", "marketing", "win_back"),
        "C09": ("churned", "marketing", "win_back"),
        "C10": ("churned", "marketing", "win_back"),
        "C11": ("potential", "marketing", "first_purchase"),
        "C12": ("potential", "marketing", "first_purchase"),
    }
    assert {c: (r["customer_type"], r["owner_team"], r["strategy"]) for c, r in got.items()} == (
        expected
    )
    assert pd.isna(got["C11"]["frequency"])
    assert pd.isna(got["C11"]["rfm_class"])
    assert got["C03"]["rfm_class"] == "important_keep"
    assert (got["C01"]["customer_type_zh"], got["C12"]["customer_type_zh"]) == (
        "重要客户",
        "潜在客户",
    )
    assert (got["C09"]["strategy_zh"], got["C06"]["owner_team_zh"]) == ("挽回活动", "销售团队")
    assert {r["churn_days"] for r in got.values()} == {90}
    assert {r["rules_version"] for r in got.values()} == {clf.load_rules()["version"]}


def test_classify_with_explicit_churn_days(wh):
    """churn.days = 365: nobody is churned (largest recency 350). C03, C04, C10 are class A →
    important; C09 (B) and C07, C08 (C) are existing and take their RFM class's owner and
    strategy: C09 general_retain → sales, 低价值客户提升活动; C07 general_keep → sales, 定期沟通."""
    rules = clf.load_rules()
    rules["churn"]["days"] = 365
    rules["version"] = "test-365"
    got = _by_id(clf.classify(wh, as_of=AS_OF, rules=rules))
    types = {c: r["customer_type"] for c, r in got.items()}
    assert [c for c, t in sorted(types.items()) if t == "important"] == [
        "C01",
        "C02",
        "C03",
        "C04",
        "C05",
        "C10",
    ]
    assert [c for c, t in sorted(types.items()) if t == "existing"] == ["C06", "C07", "C08", "C09"]
    assert (got["C09"]["owner_team"], got["C09"]["strategy_zh"]) == ("sales", "低价值客户提升活动")
    assert (got["C07"]["owner_team"], got["C07"]["strategy"]) == ("sales", "regular_communication")
    assert got["C04"]["owner_team"] == "success"
    assert {r["rules_version"] for r in got.values()} == {"test-365"}


def test_quiet_high_value_customers_land_in_important_keep_or_retain():
    """The demo plants 2 % of customers (40 of 2,000) as high spenders with 8+ orders who went
    quiet 200-229 days before as_of: R low, F high, M high. At least 80 % must be classed
    重要保持 / 重要挽留 (important_keep / important_retain)."""
    from crmkit import demo

    con = db.connect(":memory:", read_only=False)
    demo.generate(con, 2000, progress=False)
    planted = con.table("demo_planted_customers")
    quiet = planted.filter(planted.signal == "quiet_high_value").select("customer_id")
    classes = clf.classify(con, as_of=datetime(2026, 9, 30, 23, 59, 59))
    got = classes.join(quiet, "customer_id").rfm_class.to_pandas()
    assert len(got) >= 20
    share = got.isin(["important_keep", "important_retain"]).mean()
    assert share >= 0.8, got.value_counts().to_dict()
    con.disconnect()


def test_churn_boundary_is_strictly_more_days_than_churn_days(wh):
    """churn.days = 150: C09 and C10 (silent exactly 150 days) are not churned; C03 (200), C04
    (300), C07 (250), C08 (350) are."""
    rules = clf.load_rules()
    rules["churn"]["days"] = 150
    got = _by_id(clf.classify(wh, as_of=AS_OF, rules=rules))
    churned = sorted(c for c, r in got.items() if r["customer_type"] == "churned")
    assert churned == ["C03", "C04", "C07", "C08"]
    assert got["C10"]["customer_type"] == "important"  # ABC class A
    assert got["C09"]["customer_type"] == "existing"  # ABC class B


def test_publish_step_stores_the_classification(tmp_path, wh):
    """The snapshot's clock is its latest timestamp, C02's order of 2024-07-01 09:00, so C13
    (created 2024-07-01 00:00) is classified too: 13 rows; C12 stays potential."""
    path = tmp_path / "warehouse.duckdb"
    con = db.connect(path, read_only=False)
    db.create_schema(con)
    for table in ("customers", "orders"):
        con.insert(table, wh.table(table).to_pyarrow())
    con.disconnect()
    step = db.PUBLISH_STEPS["classification"]
    assert step is clf.publish_classification
    res = db.publish(path, tmp_path / "published.duckdb", steps={"classification": step})
    assert res.tables["classification"] == 13
    snap = db.connect(res.path)
    got = _by_id(snap.table("classification"))
    snap.disconnect()
    assert got["C12"]["customer_type"] == "potential"
    assert got["C01"]["as_of"] == datetime(2024, 7, 1, 9, 0)
    assert got["C01"]["rules_version"] == clf.load_rules()["version"]
