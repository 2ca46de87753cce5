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
from datetime import date, datetime, timedelta
from decimal import Decimal

import ibis
import pandas as pd
import pytest

import crmkit
from crmkit import classification as clf
from crmkit import db
from crmkit.publish import STEPS
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
    assert rules["lifecycle"] == {
        "consideration_days": 90,
        "purchase_days": 30,
        "loyalty_min_orders": 2,
        "loyalty_min_f_score": 4,
        "loyalty_min_tenure_days": 365,
        "loyalty_by_referral": True,
    }
    assert rules["needs"] == {
        "service_share": 0.5,
        "discount_share": 0.5,
        "new_product_share": 0.5,
        "new_product_days": 90,
    }


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
        (lambda r: r.pop("lifecycle"), "lifecycle"),
        (lambda r: r["lifecycle"].update(purchase_days=-1), "lifecycle.purchase_days"),
        (lambda r: r["lifecycle"].update(loyalty_min_f_score=6), "loyalty_min_f_score"),
        (lambda r: r["lifecycle"].update(loyalty_min_orders=0), "loyalty_min_orders"),
        (lambda r: r["lifecycle"].update(loyalty_by_referral="yes"), "loyalty_by_referral"),
        (lambda r: r["needs"].update(service_share=0), "needs.service_share"),
        (lambda r: r["needs"].update(discount_share=1.5), "needs.discount_share"),
        (lambda r: r["needs"].update(new_product_days=2.5), "needs.new_product_days"),
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


DEMO_AS_OF = datetime(2026, 9, 30, 23, 59, 59)


@pytest.fixture(scope="module")
def demo_con():
    """2,000 demo customers (as_of 2026-09-30) with their planted signals."""
    from crmkit import demo

    con = db.connect(":memory:", read_only=False)
    demo.generate(con, 2000, progress=False)
    yield con
    con.disconnect()


def _quiet(con) -> ibis.Table:
    planted = con.table("demo_planted_customers")
    return planted.filter(planted.signal == "quiet_high_value").select("customer_id")


def test_quiet_high_value_customers_land_in_important_keep_or_retain(demo_con):
    """The demo plants 2 % of customers (40 of 2,000) as high spenders with 8+ orders who went
    quiet 200-229 days before as_of: R low, F high, M high. At least 80 % must be classed
    重要保持 / 重要挽留 (important_keep / important_retain)."""
    classes = clf.classify(demo_con, as_of=DEMO_AS_OF)
    got = classes.join(_quiet(demo_con), "customer_id").rfm_class.to_pandas()
    assert len(got) >= 20
    share = got.isin(["important_keep", "important_retain"]).mean()
    assert share >= 0.8, got.value_counts().to_dict()


def test_quiet_high_value_customers_show_in_the_migration_matrix(demo_con):
    """A year before as_of (the first of snapshot_dates, 2025-09-30 23:59:59) the planted quiet
    customers still bought (they stopped 200-229 days before as_of): mostly 重要价值 / 重要发展.
    At as_of they are 重要保持 / 重要挽留. So at least 80 % of the planted list sits in the
    matrix cells {important_value, important_develop} → {important_keep, important_retain},
    the matrix over all customers holds at least as many in those cells, and the planted
    customers' revenue in them equals the sum of their monetary at as_of."""
    dates = clf.snapshot_dates(DEMO_AS_OF)
    year_before = dates[0]
    assert year_before == datetime(2025, 9, 30, 23, 59, 59)
    snaps = demo_con.create_table(
        "test_snaps", clf.snapshots(demo_con, [year_before, DEMO_AS_OF]), overwrite=True
    )
    quiet = _quiet(demo_con)
    n_planted = quiet.count().execute()
    assert n_planted >= 20
    cell_from = {"important_value", "important_develop"}
    cell_to = {"important_keep", "important_retain"}

    def in_cells(m: pd.DataFrame) -> pd.DataFrame:
        return m[m.from_segment.isin(cell_from) & m.to_segment.isin(cell_to)]

    planted_m = clf.migration_matrix(
        snaps.semi_join(quiet, "customer_id"), year_before, DEMO_AS_OF
    ).to_pandas()
    assert planted_m.customers.sum() == n_planted
    moved = in_cells(planted_m)
    assert moved.customers.sum() >= 0.8 * n_planted, planted_m
    everyone = in_cells(clf.migration_matrix(snaps, year_before, DEMO_AS_OF).to_pandas())
    assert everyone.customers.sum() >= moved.customers.sum()
    now = snaps.filter(snaps.snapshot_at == DEMO_AS_OF).semi_join(quiet, "customer_id")
    before = snaps.filter(snaps.snapshot_at == year_before).semi_join(quiet, "customer_id")
    pairs = (
        now.select("customer_id", "monetary", to=now.rfm_class)
        .join(before.select("customer_id", frm=before.rfm_class), "customer_id")
        .to_pandas()
    )
    pairs = pairs[pairs.frm.isin(cell_from) & pairs.to.isin(cell_to)]
    assert len(pairs) == moved.customers.sum()
    assert moved.revenue.sum() == pytest.approx(float(pairs.monetary.astype(float).sum()))


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


def test_segments_from_classify_or_the_stored_table(wh):
    """Without a stored ``classification``, classify at AS_OF: C01 important_value with spend
    1000; C11 and C12 (no counted order) potential with spend 0; C13 (created after AS_OF)
    left out. With a stored table its classes are read as they are (here all general_keep)."""
    seg = _by_id(clf.segments(wh, as_of=AS_OF))
    assert len(seg) == 12 and "C13" not in seg
    c01 = seg["C01"]
    assert (c01["customer_sk"], c01["segment"], c01["monetary"]) == (
        SK["C01"],
        "important_value",
        1000.0,
    )
    assert (seg["C11"]["segment"], seg["C11"]["monetary"]) == ("potential", 0.0)
    assert (seg["C12"]["segment"], seg["C12"]["monetary"]) == ("potential", 0.0)
    stored = clf.classify(wh, as_of=AS_OF).mutate(rfm_class=ibis.literal("general_keep"))
    wh.create_table("classification", stored.to_pyarrow())
    got = _by_id(clf.segments(wh, as_of=AS_OF))
    assert {r["segment"] for r in got.values()} == {"general_keep"}
    assert got["C01"]["monetary"] == 1000.0


def test_publish_step_stores_the_classification(tmp_path, wh):
    """The snapshot's clock is its latest timestamp, C02's order of 2024-07-01 09:00, so C13
    (created 2024-07-01 00:00) is classified too: 13 rows; C12 stays potential."""
    path = tmp_path / "warehouse.duckdb"
    con = db.connect(path, read_only=False)
    db.create_schema(con)
    for table in ("customers", "orders"):
        con.insert(table, wh.table(table).to_pyarrow())
    con.disconnect()
    steps = [s for s in STEPS if s.name in ("classification", "classification_snapshots")]
    res = crmkit.publish(path, tmp_path / "published.duckdb", steps=steps)
    assert res.tables["classification"] == 13
    # snapshot_dates(2024-07-01 09:00, 4): the ends of Q3 2023 … Q2 2024 hold the 12
    # customers created by 2022; C13 (created 2024-07-01 00:00) joins at as_of: 4 × 12 + 13.
    assert res.tables["classification_snapshots"] == 61
    snap = db.connect(res.path)
    got = _by_id(snap.table("classification"))
    snaps = snap.table("classification_snapshots").to_pandas()
    snap.disconnect()
    assert sorted(snaps.snapshot_at.unique()) == [
        pd.Timestamp(d) for d in clf.snapshot_dates(datetime(2024, 7, 1, 9, 0))
    ]
    assert got["C01"]["lifecycle_stage"] == "usage"
    assert got["C12"]["customer_type"] == "potential"
    assert got["C01"]["as_of"] == datetime(2024, 7, 1, 9, 0)
    assert got["C01"]["rules_version"] == clf.load_rules()["version"]


# ---------------------------------------------------------------------------------------------
# lifecycle stage and needs-based segments
# ---------------------------------------------------------------------------------------------

LIFE_IDS = [f"L{i:02d}" for i in range(1, 14)]
LIFE_SK = {cid: 100 + i for i, cid in enumerate(LIFE_IDS, start=1)}
LAUNCH = {
    "P_OLD": date(2020, 1, 1),
    "P_NEW": date(2024, 5, 1),
    "P_B90": date(2023, 12, 23),  # 2024-03-22 (100 days before AS_OF) is 8+31+29+22 = 90 days on
    "P_B91": date(2023, 12, 22),  # ... and 91 days after this one
    "P_NONE": None,
}


def _ago(days: int, hour: int = 10) -> datetime:
    """``hour`` o'clock on the day ``days`` calendar days before AS_OF's date."""
    return datetime.combine(AS_OF.date() - timedelta(days=days), datetime.min.time()).replace(
        hour=hour
    )


#: customer → [(days before AS_OF, product, discount, status)]
LIFE_ORDERS = {
    "L01": [(400, "P_OLD", 5, "completed"), (300, "P_OLD", 5, "completed")]
    + [(200, "P_OLD", 5, "completed")],
    "L02": [(d, "P_OLD", 5 if d >= 200 else 0, "completed") for d in (365, 300, 200, 100, 50, 10)],
    "L03": [(100, "P_B90", 0, "completed")],
    "L04": [(100, "P_B91", 0, "completed"), (50, "P_OLD", 9, "returned")],
    "L05": [(20, "P_NEW", 3, "completed"), (5, "P_NEW", 0, "completed")],
    "L06": [(31, "P_NEW", 0, "completed"), (10, "P_OLD", 4, "completed")],
    "L07": [(d, "P_NONE", None if d > 200 else 0, "completed") for d in (364, 300, 240, 180, 90)]
    + [(30, "P_NONE", 0, "completed")],
    "L13": [(40, "P_OLD", 0, "returned")],
}


@pytest.fixture
def life():
    """Thirteen customers L01-L13 (created 2020-01-01) built to hit every lifecycle and needs
    rule at AS_OF = 2024-06-30 12:00 with churn.days = 180. Orders are 100 each at 10:00.

    ====  ========================================  ==========================================
    cust  orders (days before AS_OF, product, disc)  other records
    ====  ========================================  ==========================================
    L01   400, 300, 200 — P_OLD, all discounted     converted referral 250 days ago
    L02   365, 300, 200, 100, 50, 10 — P_OLD;       interactions: service inbound 10 d, phone
          the first three discounted                outbound 20 d; a ticket 15 d ago
    L03   100 — P_B90 (launched 90 days earlier)    converted referral 50 days ago
    L04   100 — P_B91 (91 days); a returned,        converted referral 1 day *after* AS_OF, an
          discounted order 50 d (not counted)       unconverted one 10 days ago
    L05   20 (discounted), 5 — P_NEW (2024-05-01)   service inbound 3 d, email outbound 4 d
    L06   31 — P_NEW; 10 — P_OLD, discounted        service inbound 3 d, phone and email
                                                    outbound; a ticket 1 hour after AS_OF
    L07   364, 300, 240, 180, 90, 30 — P_NONE (no   —
          launch date); discount null on the first
          two, 0 on the rest
    L08   —                                         opportunity at 'proposal' opened 200 d ago
    L09   —                                         opportunity won, opened 100 d ago, closed 5
                                                    days after AS_OF (open at AS_OF)
    L10   —                                         opportunity lost 150 d ago; inbound phone
                                                    91 d ago; outbound email 5 d ago
    L11   —                                         inbound chat 90 days ago (08:00)
    L12   —                                         converted referral 10 d ago; inbound phone
                                                    1 hour after AS_OF
    L13   a returned order 40 d ago (not counted)   a lead opened 1 day after AS_OF
    ====  ========================================  ==========================================
    """
    con = db.connect(":memory:", read_only=False)
    db.create_schema(con)
    created = datetime(2020, 1, 1)
    con.insert(
        "customers",
        _frame(
            "customers",
            [
                dict(customer_sk=LIFE_SK[c], customer_id=c, name=c, created_at=created)
                for c in LIFE_IDS
            ],
        ),
    )
    products = [
        dict(product_sk=i, product_id=p, name=p, category="x", launch_date=d, list_price=1)
        for i, (p, d) in enumerate(LAUNCH.items(), start=1)
    ]
    con.insert("products", _frame("products", products))
    orders, no_discount = [], []
    for cid, rows in LIFE_ORDERS.items():
        for days, product, discount, status in rows:
            o = _order(len(orders), cid, _ago(days), 100, status)
            o.update(customer_sk=LIFE_SK[cid], product_id=product, discount=Decimal(discount or 0))
            if discount is None:
                no_discount.append(o["order_id"])
            orders.append(o)
    con.insert("orders", _frame("orders", orders))
    # memtables cannot carry a null decimal, so the missing discounts are set afterwards
    ids = ", ".join(f"'{i}'" for i in no_discount)
    con.raw_sql(f"UPDATE orders SET discount = NULL WHERE order_id IN ({ids})")
    after = AS_OF + timedelta(hours=1)
    inter = [
        ("L02", _ago(10), "service", "inbound"),
        ("L02", _ago(20), "phone", "outbound"),
        ("L05", _ago(3), "service", "inbound"),
        ("L05", _ago(4), "email", "outbound"),
        ("L06", _ago(3), "service", "inbound"),
        ("L06", _ago(4), "phone", "outbound"),
        ("L06", _ago(5), "email", "outbound"),
        ("L10", _ago(91), "phone", "inbound"),
        ("L10", _ago(5), "email", "outbound"),
        ("L11", _ago(90, hour=8), "chat", "inbound"),
        ("L12", after, "phone", "inbound"),
    ]
    con.insert(
        "interactions",
        _frame(
            "interactions",
            [
                dict(
                    interaction_id=f"I{i}",
                    customer_id=c,
                    customer_sk=LIFE_SK[c],
                    ts=ts,
                    channel=ch,
                    direction=d,
                )
                for i, (c, ts, ch, d) in enumerate(inter)
            ],
        ),
    )
    tickets = [("L02", _ago(15)), ("L06", after)]
    con.insert(
        "tickets",
        _frame(
            "tickets",
            [
                dict(
                    ticket_id=f"T{i}",
                    customer_id=c,
                    customer_sk=LIFE_SK[c],
                    opened_at=ts,
                    channel="phone",
                    category="x",
                )
                for i, (c, ts) in enumerate(tickets)
            ],
        ),
    )
    opps = [
        ("L08", "proposal", _ago(200), None),
        ("L09", "won", _ago(100), AS_OF + timedelta(days=5)),
        ("L10", "lost", _ago(200), _ago(150)),
        ("L13", "lead", AS_OF + timedelta(days=1), None),
    ]
    con.insert(
        "opportunities",
        _frame(
            "opportunities",
            [
                dict(
                    opportunity_id=f"OP{i}",
                    amount=1,
                    customer_id=c,
                    customer_sk=LIFE_SK[c],
                    stage=s,
                    opened_at=o,
                    closed_at=cl,
                )
                for i, (c, s, o, cl) in enumerate(opps)
            ],
        ),
    )
    refs = [
        ("L01", _ago(250), True),
        ("L03", _ago(50), True),
        ("L04", AS_OF + timedelta(days=1), True),
        ("L04", _ago(10), False),
        ("L12", _ago(10), True),
    ]
    con.insert(
        "referrals",
        _frame(
            "referrals",
            [
                dict(
                    referral_id=f"R{i}",
                    referrer_id=c,
                    referrer_sk=LIFE_SK[c],
                    ts=ts,
                    converted=conv,
                )
                for i, (c, ts, conv) in enumerate(refs)
            ],
        ),
    )
    yield con
    con.disconnect()


def _life_rules(**lifecycle) -> dict:
    rules = clf.load_rules()
    rules["churn"]["days"] = 180
    rules["lifecycle"].update(lifecycle)
    return rules


def test_lifecycle_stage_every_branch(life):
    """Buyers L01-L07 have frequency 3, 6, 1, 1, 2, 2, 6; f_score (n = 7, ascending): the 1s
    r0 = 0 → 1; the 2s r0 = 2 → 1 + floor(10/7) = 2; 3 r0 = 4 → 1 + floor(20/7) = 3; the 6s
    (L02, L07) r0 = 5 → 1 + floor(25/7) = 4.

    L01 recency 200 > 180 → churned → churn (its converted referral does not matter).
    L02 6 orders, f_score 4, first order exactly 365 days ago → loyalty.
    L03 one order, but a converted referral 50 days ago → loyalty.
    L04 one order; its converted referral is after AS_OF, the other is not converted → purchase.
    L05 two orders, the first 20 days ago (<= 30) → purchase.
    L06 two orders, the first 31 days ago (> 30) → usage.
    L07 6 orders, f_score 4, but the first only 364 days ago (< 365) → usage.
    L08 no order, a proposal open → consideration; L09 won 5 days after AS_OF, so open at
    AS_OF → consideration; L11 inbound 90 days ago (<= 90) → consideration.
    L10 its opportunity was lost before AS_OF, its inbound contact is 91 days old and the
    recent one is outbound → awareness; L12 nothing before AS_OF (a converted referral needs
    an order to count) → awareness; L13 only a returned order and a lead opened after AS_OF →
    awareness.
    """
    got = _by_id(clf.classify(life, as_of=AS_OF, rules=_life_rules()))
    assert {c: got[c]["f_score"] for c in ("L01", "L02", "L03", "L05", "L07")} == {
        "L01": 3,
        "L02": 4,
        "L03": 1,
        "L05": 2,
        "L07": 4,
    }
    expected = {
        "L01": "churn",
        "L02": "loyalty",
        "L03": "loyalty",
        "L04": "purchase",
        "L05": "purchase",
        "L06": "usage",
        "L07": "usage",
        "L08": "consideration",
        "L09": "consideration",
        "L10": "awareness",
        "L11": "consideration",
        "L12": "awareness",
        "L13": "awareness",
    }
    assert {c: r["lifecycle_stage"] for c, r in got.items()} == expected
    assert (got["L02"]["lifecycle_stage_zh"], got["L02"]["lifecycle_stage_en"]) == (
        "忠诚",
        "Loyalty",
    )
    zh = {r["lifecycle_stage"]: r["lifecycle_stage_zh"] for r in got.values()}
    assert zh == {
        "churn": "流失",
        "loyalty": "忠诚",
        "purchase": "购买",
        "usage": "使用",
        "consideration": "考虑",
        "awareness": "意识",
    }
    counts = {
        c: (r["open_opportunities"], r["recent_inbound"], r["converted_referrals"])
        for c, r in got.items()
    }
    assert counts["L09"] == (1, 0, 0)
    assert counts["L10"] == (0, 0, 0)
    assert counts["L11"] == (0, 1, 0)
    assert counts["L12"] == (0, 0, 1)
    assert counts["L04"] == (0, 0, 0)


def test_lifecycle_thresholds_come_from_the_rules(life):
    """Without referral loyalty L03 (one order) falls back to purchase; with a 364-day tenure
    L07 becomes loyal; with purchase_days 31 L06 is still onboarding (purchase); with
    consideration_days 91 L10's inbound call counts (consideration)."""
    got = _by_id(
        clf.classify(
            life,
            as_of=AS_OF,
            rules=_life_rules(
                loyalty_by_referral=False,
                loyalty_min_tenure_days=364,
                purchase_days=31,
                consideration_days=91,
            ),
        )
    )
    stages = {c: r["lifecycle_stage"] for c, r in got.items()}
    assert (stages["L03"], stages["L07"], stages["L06"], stages["L10"]) == (
        "purchase",
        "loyalty",
        "purchase",
        "consideration",
    )
    assert stages["L02"] == "loyalty"


def test_need_type_by_share_of_service_contacts(life):
    """contacts = interactions + tickets up to AS_OF, service = 'service' interactions +
    tickets. L02: 3 contacts (service, phone, ticket), 2 service → 0.667 → service.
    L05: 1 of 2 = 0.5, on the threshold → service. L06: 1 of 3 (its ticket is after AS_OF;
    counted it would make 2 of 4 = 0.5) → product. L10: 0 of 2 → product. L12: its only
    contact is after AS_OF → no contacts, share null → product."""
    got = _by_id(clf.classify(life, as_of=AS_OF, rules=_life_rules()))
    shares = {c: (r["contacts"], r["service_contacts"]) for c, r in got.items()}
    assert shares["L02"] == (3, 2)
    assert shares["L05"] == (2, 1)
    assert shares["L06"] == (3, 1)
    assert shares["L10"] == (2, 0)
    assert shares["L12"] == (0, 0)
    assert got["L02"]["service_share"] == pytest.approx(2 / 3)
    assert pd.isna(got["L12"]["service_share"])
    service = sorted(c for c, r in got.items() if r["need_type"] == "service")
    assert service == ["L02", "L05"]
    assert (got["L05"]["need_type_zh"], got["L06"]["need_type_zh"]) == (
        "服务需求客户",
        "产品需求客户",
    )
    assert got["L05"]["need_type_en"] == "Service-need"
    rules = _life_rules()
    rules["needs"]["service_share"] = 0.3
    lower = _by_id(clf.classify(life, as_of=AS_OF, rules=rules))
    assert lower["L06"]["need_type"] == "service"  # 1/3 >= 0.3


def test_price_profile_shares_and_tie_rule(life):
    """discount_share / new_product_share over counted orders (new = 0-90 days after launch):
    L01 3/3 discounted, 0 new → price_sensitive. L02 3/6 = 0.5 discounted → price_sensitive.
    L03 its order is exactly 90 days after P_B90's launch → 1.0 new → new_product_fan.
    L04 91 days after P_B91's launch → not new; its discounted order was returned → 0 / 0 →
    neutral. L05 1/2 discounted and 2/2 new (P_NEW, 40 and 55 days after launch): both reach
    0.5, new is larger → new_product_fan. L06 1/2 discounted (P_OLD) and 1/2 new (P_NEW 29 days
    after launch): a tie → price_sensitive. L07 discount null or 0, P_NONE has no launch date →
    0 / 0 → neutral. Customers without a counted order: shares null → neutral."""
    got = _by_id(clf.classify(life, as_of=AS_OF, rules=_life_rules()))
    shares = {c: (r["discount_share"], r["new_product_share"]) for c, r in got.items()}
    assert shares["L01"] == (1.0, 0.0)
    assert shares["L02"] == (0.5, 0.0)
    assert shares["L03"] == (0.0, 1.0)
    assert shares["L04"] == (0.0, 0.0)
    assert shares["L05"] == (0.5, 1.0)
    assert shares["L06"] == (0.5, 0.5)
    assert shares["L07"] == (0.0, 0.0)
    assert pd.isna(got["L13"]["discount_share"]) and pd.isna(got["L13"]["new_product_share"])
    expected = {
        "L01": "price_sensitive",
        "L02": "price_sensitive",
        "L03": "new_product_fan",
        "L04": "neutral",
        "L05": "new_product_fan",
        "L06": "price_sensitive",
        "L07": "neutral",
    }
    profiles = {c: r["price_profile"] for c, r in got.items()}
    assert {c: profiles[c] for c in expected} == expected
    assert {profiles[c] for c in LIFE_IDS[7:]} == {"neutral"}
    labels = {
        r["price_profile"]: (r["price_profile_zh"], r["price_profile_en"]) for r in got.values()
    }
    assert labels == {
        "price_sensitive": ("价格敏感客户", "Price-sensitive"),
        "new_product_fan": ("新品爱好者", "New-product fan"),
        "neutral": ("一般", "Neutral"),
    }
    rules = _life_rules()
    rules["needs"]["new_product_days"] = 91
    rules["needs"]["discount_share"] = 0.6
    wider = _by_id(clf.classify(life, as_of=AS_OF, rules=rules))
    assert wider["L04"]["price_profile"] == "new_product_fan"  # 91 days now counts
    assert wider["L02"]["price_profile"] == "neutral"  # 0.5 < 0.6
    assert wider["L06"]["price_profile"] == "new_product_fan"  # 0.5 discounted no longer counts


def test_lifecycle_and_needs_on_the_ten_customers(wh):
    """Only customers and orders: churn_days 90 → the six churned are in churn. C01 (5
    orders, f_score 4, first order 10 + 4 × 30 = 130 days ago < 365) and C05 (4 orders,
    first 120 days ago) → usage; C02, C06 (one order) → purchase; C11, C12 → awareness.
    Nobody has contacts → product; no discounts, and product P1 is not in products → neutral."""
    got = _by_id(clf.classify(wh, as_of=AS_OF))
    stages = {c: r["lifecycle_stage"] for c, r in got.items()}
    assert stages == {
        **{c: "churn" for c in ("C03", "C04", "C07", "C08", "C09", "C10")},
        "C01": "usage",
        "C05": "usage",
        "C02": "purchase",
        "C06": "purchase",
        "C11": "awareness",
        "C12": "awareness",
    }
    assert {r["need_type"] for r in got.values()} == {"product"}
    assert {r["price_profile"] for r in got.values()} == {"neutral"}
    assert {r["contacts"] for r in got.values()} == {0}


def test_classify_keeps_its_columns_and_appends_the_new_ones(wh):
    cols = clf.classify(wh, as_of=AS_OF).columns
    assert cols[:3] == ("customer_sk", "customer_id", "created_at")
    assert cols.index("strategy_en") < cols.index("lifecycle_stage")
    assert cols[-2:] == ("as_of", "rules_version")
    for name in (
        "lifecycle_stage",
        "lifecycle_stage_zh",
        "lifecycle_stage_en",
        "need_type",
        "need_type_zh",
        "need_type_en",
        "price_profile",
        "price_profile_zh",
        "price_profile_en",
        "service_share",
        "discount_share",
        "new_product_share",
    ):
        assert name in cols


# ---------------------------------------------------------------------------------------------
# snapshots and migration
# ---------------------------------------------------------------------------------------------


def test_snapshot_dates():
    """Quarter ends strictly before as_of, then as_of. 2026-09-30 23:59:59 is itself the end of
    Q3, so Q3 is not repeated: Q3 2025 … Q2 2026 and as_of. 2024-02-29: Q3 and Q4 2023."""
    end = datetime(2026, 9, 30, 23, 59, 59)
    assert clf.snapshot_dates(end) == [
        datetime(2025, 9, 30, 23, 59, 59),
        datetime(2025, 12, 31, 23, 59, 59),
        datetime(2026, 3, 31, 23, 59, 59),
        datetime(2026, 6, 30, 23, 59, 59),
        end,
    ]
    assert clf.snapshot_dates(datetime(2024, 2, 29, 12), 2) == [
        datetime(2023, 9, 30, 23, 59, 59),
        datetime(2023, 12, 31, 23, 59, 59),
        datetime(2024, 2, 29, 12),
    ]
    assert clf.snapshot_dates(datetime(2026, 10, 1), 1) == [
        datetime(2026, 9, 30, 23, 59, 59),
        datetime(2026, 10, 1),
    ]
    assert clf.snapshot_dates(end, 0) == [end]
    with pytest.raises(ValueError, match="quarters must be"):
        clf.snapshot_dates(end, -1)
    with pytest.raises(TypeError, match="as_of must be a datetime"):
        clf.snapshot_dates(end.date())


T1 = datetime(2024, 3, 31, 23, 59, 59)
T2 = datetime(2024, 6, 30, 23, 59, 59)


@pytest.fixture
def moves():
    """Five customers classified at T1 = 2024-03-31 and T2 = 2024-06-30 (23:59:59).

    ===  ==========  ===========================================================================
    cust created     orders (amount)
    ===  ==========  ===========================================================================
    A    2023-01-01  2024-03-20 (150), 2024-03-25 (150)
    B    2023-01-01  2024-01-10 (10)
    C    2023-01-01  2024-02-01 (20), 2024-06-20, 06-25, 06-29 (10 each)
    D    2023-01-01  none
    E    2024-05-01  2024-06-01 (40) — created between T1 and T2
    ===  ==========  ===========================================================================

    T1 (A, B, C): R 6, 81, 59 (mean 48.67); F 2, 1, 1 (mean 1.33); M 300, 10, 20 (mean 110)
    → A HHH important_value, B LLL and C LLL general_retain. churn_days: A's cycle 5 days →
    15, so B and C are churned; A holds 300 / 330 (before share 0) → ABC A → important.
    T2 (A, B, C, E): R 97, 172, 1, 29 (mean 74.75); F 2, 1, 4, 1 (mean 2: A on the split → low);
    M 300, 10, 50, 40 (mean 100) → A LLH important_retain, B general_retain, C HHL
    general_value, E HLL general_develop. churn_days: cycles A 5, C 149 / 3 = 49.67, median
    27.33 × 3 = 82 → A (97) and B churned; C (ABC before share 300/400 = 0.75 → B) and E
    (350/400 → B) existing; D potential at both dates.
    """
    con = db.connect(":memory:", read_only=False)
    db.create_schema(con)
    created = {
        "A": datetime(2023, 1, 1),
        "B": datetime(2023, 1, 1),
        "C": datetime(2023, 1, 1),
        "D": datetime(2023, 1, 1),
        "E": datetime(2024, 5, 1),
    }
    sk = {c: i for i, c in enumerate(created, start=1)}
    con.insert(
        "customers",
        _frame(
            "customers",
            [
                dict(customer_sk=sk[c], customer_id=c, name=c, created_at=t)
                for c, t in created.items()
            ],
        ),
    )
    orders = [
        ("A", datetime(2024, 3, 20, 10), 150),
        ("A", datetime(2024, 3, 25, 10), 150),
        ("B", datetime(2024, 1, 10, 10), 10),
        ("C", datetime(2024, 2, 1, 10), 20),
        ("C", datetime(2024, 6, 20, 10), 10),
        ("C", datetime(2024, 6, 25, 10), 10),
        ("C", datetime(2024, 6, 29, 10), 10),
        ("E", datetime(2024, 6, 1, 10), 40),
    ]
    con.insert(
        "orders",
        _frame(
            "orders",
            [_order(i, c, ts, a) | {"customer_sk": sk[c]} for i, (c, ts, a) in enumerate(orders)],
        ),
    )
    yield con
    con.disconnect()


def test_snapshots_stack_classify_per_date(moves):
    snaps = clf.snapshots(moves, [T2, T1])
    assert snaps.columns[0] == "snapshot_at"
    assert snaps.columns[1:] == clf.classify(moves, as_of=T1).columns
    df = snaps.to_pandas()
    assert df.groupby("snapshot_at").size().to_dict() == {pd.Timestamp(T1): 4, pd.Timestamp(T2): 5}
    assert (df.snapshot_at == df.as_of).all()
    with pytest.raises(ValueError, match="repeat"):
        clf.snapshots(moves, [T1, T1])
    with pytest.raises(ValueError, match="empty"):
        clf.snapshots(moves, [])


def test_migration_matrix_by_rfm_class(moves):
    """A moves important_value → important_retain with its 300 of revenue at T2; B stays
    general_retain (10); C general_retain → general_value (50); E is new → general_develop
    (40); D has no RFM class at either date → none → none (0)."""
    m = clf.migration_matrix(clf.snapshots(moves, [T1, T2]), T1, T2).to_pandas()
    got = {(r.from_segment, r.to_segment): (r.customers, r.revenue) for r in m.itertuples()}
    assert got == {
        ("important_value", "important_retain"): (1, 300.0),
        ("general_retain", "general_retain"): (1, 10.0),
        ("general_retain", "general_value"): (1, 50.0),
        ("new", "general_develop"): (1, 40.0),
        ("none", "none"): (1, 0.0),
    }
    assert list(m.columns) == ["from_segment", "to_segment", "customers", "revenue"]


def test_migration_matrix_by_customer_type(moves):
    """See the fixture: A important → churned (300), B churned → churned (10), C churned →
    existing (50), D potential → potential (0), E new → existing (40)."""
    snaps = clf.snapshots(moves, [T1, T2])
    m = clf.migration_matrix(snaps, T1, T2, by="customer_type").to_pandas()
    got = {(r.from_segment, r.to_segment): (r.customers, r.revenue) for r in m.itertuples()}
    assert got == {
        ("important", "churned"): (1, 300.0),
        ("churned", "churned"): (1, 10.0),
        ("churned", "existing"): (1, 50.0),
        ("potential", "potential"): (1, 0.0),
        ("new", "existing"): (1, 40.0),
    }


def test_migration_matrix_removed_customers_and_bad_input():
    """Hand-made snapshots: customer 1 a → b (revenue 5), 2 a → a (revenue null → 0) and 3
    only at the first date → removed; 4 only at the second → new."""
    t0, t1 = datetime(2024, 1, 1), datetime(2024, 2, 1)
    snaps = ibis.memtable(
        pd.DataFrame(
            {
                "snapshot_at": [t0, t0, t0, t1, t1, t1],
                "customer_sk": [1, 2, 3, 1, 2, 4],
                "monetary": [1.0, 2.0, 3.0, 5.0, None, 7.0],
                "seg": ["a", "a", "a", "b", "a", "a"],
            }
        )
    )
    m = clf.migration_matrix(snaps, t0, t1, by="seg").to_pandas()
    got = {(r.from_segment, r.to_segment): (r.customers, r.revenue) for r in m.itertuples()}
    assert got == {
        ("a", "b"): (1, 5.0),
        ("a", "a"): (1, 0.0),
        ("a", "removed"): (1, 0.0),
        ("new", "a"): (1, 7.0),
    }
    with pytest.raises(ValueError, match="not in snaps"):
        clf.migration_matrix(snaps, t0, datetime(2024, 3, 1), by="seg")
    with pytest.raises(ValueError, match="must be before"):
        clf.migration_matrix(snaps, t1, t0, by="seg")
    with pytest.raises(ValueError, match="lacks column"):
        clf.migration_matrix(snaps, t0, t1, by="rfm_class")


def test_classify_without_the_activity_tables(wh):
    """A connection holding only customers and orders (e.g. a partial snapshot): the missing
    tables count as empty — no contacts, no opportunities, no referrals, no launch dates."""
    con = db.connect(":memory:", read_only=False)
    for table in ("customers", "orders"):
        con.create_table(table, wh.table(table).to_pyarrow())
    got = _by_id(clf.classify(con, as_of=AS_OF))
    con.disconnect()
    assert len(got) == 12
    assert {r["contacts"] for r in got.values()} == {0}
    assert {r["open_opportunities"] for r in got.values()} == {0}
    assert all(pd.isna(r["service_share"]) for r in got.values())
    assert got["C02"]["lifecycle_stage"] == "purchase"
    assert got["C12"]["lifecycle_stage"] == "awareness"
    assert got["C01"]["new_product_share"] == 0.0


def test_summary_counts_customers_and_revenue_per_group():
    """Five customers: A ¥60 (general), A ¥30 (important), B ¥10 (general), and two potential
    ones (no class, no spend). By abc_class: A 2 of 5 customers (0.4) with ¥90 of ¥100 (0.9),
    B 1 (0.2, 0.1), the missing class 2 (0.4, 0). By two columns each pair is its own group."""
    t = ibis.memtable(
        {
            "abc_class": ["A", "A", "B", None, None],
            "customer_type": ["general", "important", "general", "potential", "potential"],
            "monetary": [60.0, 30.0, 10.0, None, None],
        }
    )
    s = clf.summary(t, "abc_class").fillna({"abc_class": "-"})
    assert s.abc_class.tolist() == ["A", "-", "B"]  # most customers first, ties by class
    assert s.customers.tolist() == [2, 2, 1]
    assert s.customer_share.tolist() == [0.4, 0.4, 0.2]
    assert s.revenue.tolist() == [90.0, 0.0, 10.0]
    assert s.revenue_share.tolist() == pytest.approx([0.9, 0.0, 0.1])
    pairs = clf.summary(t, ["abc_class", "customer_type"]).fillna({"abc_class": "-"})
    assert list(zip(pairs.abc_class, pairs.customer_type, pairs.customers, strict=True)) == [
        ("-", "potential", 2),
        ("A", "general", 1),
        ("A", "important", 1),
        ("B", "general", 1),
    ]


def test_summary_names_a_missing_column_and_survives_no_revenue():
    t = ibis.memtable({"abc_class": ["C", "C"], "monetary": [0.0, 0.0]})
    assert clf.summary(t, "abc_class").revenue_share.tolist() == [0.0]
    with pytest.raises(ValueError, match="value_tier"):
        clf.summary(t, "value_tier")
    with pytest.raises(ValueError, match="by is empty"):
        clf.summary(t, [])
