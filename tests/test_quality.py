"""Tests for ``crmkit.quality`` on a tiny warehouse whose scores are worked out by hand.

The warehouse (``wh`` fixture) is scored at ``AS_OF`` = 2024-06-30 12:00 with the default
``stale_after_days`` = 365. Customers have 11 expected columns (name, phone, email, gender,
birthday, province, city, acquisition_channel, created_at, owner_team, owner) and 10 checked
columns (phone, email, gender, birthday, acquisition_channel, created_at, membership_tier,
owner_team, updated_at, last_verified_at). A "full" customer fills every column with valid values
(gender M, birthday 1990-05-01, 广东 / 深圳, online, created 2023-01-01, gold, sales, 王经理) and
has neither ``updated_at`` nor ``last_verified_at`` unless a row says so.

==  ===========================================================================================
C1  张三 / 阿里巴巴, phone "138 1234 5678", zhang@example.com, verified 2023-07-02 (364 days)
C2  王五, company "", phone null, email blank, team service / 李客服, updated 2023-06-30 (366 d)
C3  赵六 / Tencent, phone "1381234567" (10 digits), email "zhao.example.com", updated
    2023-05-01, verified 2023-07-01 (later one counts: 365 days, still fresh)
C4  张三丰, phone "+86 138-1234-5678", email " ZHANG@Example.COM", gender "X", birthday
    1900-01-01 (age 124), province null, team success, owner blank, never verified
C5  "Li Lei" / "Acme Ltd", phone "139-1234-5678", lilei@acme.com, acquisition_channel "线上"
    (a spelling, not a stored code), tier null, verified 2024-06-01 (29 days)
C6  " li  lei" / "ACME ltd", phone "008613912345678", lei.li@acme.com, birthday 2030-01-01,
    team service / 李客服, verified 2024-06-29 (1 day)
C7  王五, company blank, phone null, " Lei.Li@ACME.com", gender F, birthday null, 北京 / 北京,
    store, created 2024-06-01, tier / team / owner null, updated 2024-06-01 (29 days)
==  ===========================================================================================

Orders O1-O3 (latest order 2024-06-30 12:00 = ``AS_OF``, so it is also the default ``as_of``)
and products P1-P2 are described in the tests that use them.
"""

from __future__ import annotations

from datetime import date, datetime

import ibis
import pandas as pd
import pytest

import crmkit
from crmkit import db, quality
from crmkit.publish import STEPS
from crmkit.schema import TABLES

AS_OF = datetime(2024, 6, 30, 12, 0)
FULL = {
    "gender": "M",
    "birthday": date(1990, 5, 1),
    "province": "广东",
    "city": "深圳",
    "title": "经理",
    "acquisition_channel": "online",
    "created_at": datetime(2023, 1, 1),
    "membership_tier": "gold",
    "owner_team": "sales",
    "owner": "王经理",
}
CUSTOMERS = [
    dict(
        FULL,
        customer_id="C1",
        name="张三",
        phone="138 1234 5678",
        email="zhang@example.com",
        company="阿里巴巴",
        last_verified_at=datetime(2023, 7, 2, 9, 0),
    ),
    dict(
        FULL,
        customer_id="C2",
        name="王五",
        phone=None,
        email="  ",
        company="",
        owner_team="service",
        owner="李客服",
        updated_at=datetime(2023, 6, 30, 10, 0),
    ),
    dict(
        FULL,
        customer_id="C3",
        name="赵六",
        phone="1381234567",
        email="zhao.example.com",
        company="Tencent",
        updated_at=datetime(2023, 5, 1),
        last_verified_at=datetime(2023, 7, 1, 23, 0),
    ),
    dict(
        FULL,
        customer_id="C4",
        name="张三丰",
        phone="+86 138-1234-5678",
        email=" ZHANG@Example.COM",
        gender="X",
        birthday=date(1900, 1, 1),
        province=None,
        title=None,
        owner_team="success",
        owner="",
    ),
    dict(
        FULL,
        customer_id="C5",
        name="Li Lei",
        phone="139-1234-5678",
        email="lilei@acme.com",
        company="Acme Ltd",
        acquisition_channel="线上",
        membership_tier=None,
        last_verified_at=datetime(2024, 6, 1),
    ),
    dict(
        FULL,
        customer_id="C6",
        name=" li  lei",
        phone="008613912345678",
        email="lei.li@acme.com",
        company="ACME ltd",
        birthday=date(2030, 1, 1),
        owner_team="service",
        owner="李客服",
        last_verified_at=datetime(2024, 6, 29),
    ),
    dict(
        customer_id="C7",
        name="王五",
        phone=None,
        email=" Lei.Li@ACME.com",
        company="  ",
        gender="F",
        province="北京",
        city="北京",
        acquisition_channel="store",
        created_at=datetime(2024, 6, 1),
        updated_at=datetime(2024, 6, 1, 8, 0),
    ),
]
PRODUCTS = [
    dict(
        product_id="P1", name="茶叶", category="食品", launch_date=date(2020, 1, 1), list_price=99
    ),
    dict(product_id="P2", name="茶杯", category="家居", list_price=-5),
]
ORDERS = [
    dict(
        order_id="O1",
        customer_id="C1",
        product_id="P1",
        order_ts=datetime(2024, 6, 1, 10, 0),
        quantity=2,
        amount=198,
        discount=0,
        status="completed",
        channel="online",
        promised_date=date(2024, 6, 3),
        delivered_at=datetime(2024, 6, 2, 15, 0),
    ),
    dict(
        order_id="O2",
        customer_id="C2",
        product_id="P2",
        order_ts=AS_OF,
        quantity=0,
        amount=10,
        status="lost",
        channel="store",
    ),
    dict(
        order_id="O3",
        customer_id="C3",
        product_id="P1",
        order_ts=datetime(2024, 5, 1, 9, 0),
        quantity=1,
        amount=99,
        discount=5,
        status="returned",
        channel="app",
        promised_date=date(2024, 5, 3),
        delivered_at=datetime(2024, 4, 30, 9, 0),
        return_reason="破损",
    ),
]


def _frame(table: str, records: list[dict]) -> ibis.Table:
    """``records`` as a table with exactly the warehouse columns (missing values null)."""
    sch = TABLES[table].ibis_schema()
    rows = [{c: r.get(c) for c in sch.names} for r in records]
    sk = TABLES[table].surrogate
    for i, row in enumerate(rows, start=1):
        if sk:
            row[sk] = i
    return ibis.memtable(pd.DataFrame(rows, columns=list(sch.names)), schema=sch)


def _load(con, table: str, records: list[dict]) -> None:
    con.insert(table, _frame(table, records))


@pytest.fixture
def wh():
    con = db.connect(":memory:", read_only=False)
    db.create_schema(con)
    _load(con, "customers", CUSTOMERS)
    _load(con, "products", PRODUCTS)
    _load(con, "orders", ORDERS)
    yield con
    con.disconnect()


def _by_key(t: ibis.Table, key: str) -> dict[str, dict]:
    return {r[key]: r for r in t.to_pandas().to_dict("records")}


# ---------------------------------------------------------------------------------------------
# declarations and as_of
# ---------------------------------------------------------------------------------------------


def test_expected_and_checked_columns_follow_the_schema():
    """Customers: required minus the key (name, created_at) + the 10 profile columns = 11.
    Orders: every column but order_id = 11; checked are the ones with a declared check."""
    assert quality.expected_columns("customers") == [
        "name",
        "phone",
        "email",
        "gender",
        "birthday",
        "province",
        "city",
        "acquisition_channel",
        "created_at",
        "owner_team",
        "owner",
    ]
    assert quality.checked_columns("customers") == [
        "phone",
        "email",
        "gender",
        "birthday",
        "acquisition_channel",
        "created_at",
        "membership_tier",
        "owner_team",
        "updated_at",
        "last_verified_at",
    ]
    assert len(quality.expected_columns("orders")) == 11
    assert quality.checked_columns("orders") == [
        "order_ts",
        "quantity",
        "amount",
        "discount",
        "status",
        "channel",
        "delivered_at",
    ]
    assert set(quality.CUSTOMER_PROFILE) <= set(TABLES["customers"].column_names)


def test_default_as_of_is_the_latest_timestamp_in_the_data(wh):
    """max(order_ts) = 2024-06-30 12:00 (O2) beats max(updated_at) = 2024-06-01 08:00 and
    max(created_at) = 2024-06-01; the scores with the default equal those at AS_OF."""
    assert db.data_as_of(wh) == AS_OF
    default = quality.record_quality(wh, "customers").to_pandas()
    explicit = quality.record_quality(wh, "customers", as_of=AS_OF).to_pandas()
    pd.testing.assert_frame_equal(default, explicit)


def test_default_as_of_without_orders_uses_customer_times(wh):
    """With no orders the latest customer time wins: updated_at 2024-06-01 08:00 (C7)."""
    wh.truncate_table("orders")
    assert db.data_as_of(wh) == datetime(2024, 6, 1, 8, 0)


# ---------------------------------------------------------------------------------------------
# record_quality
# ---------------------------------------------------------------------------------------------


def test_completeness_of_customers(wh):
    """Filled expected columns / 11:

    C1, C3, C5, C6 all 11 -> 1.0; C2 misses phone and email (blank) -> 9/11;
    C4 misses province and owner (blank) -> 9/11; C7 misses phone, birthday, owner_team and
    owner -> 7/11. Not expected (title, company, tier) never count: C4 has no title, C5 no tier.
    """
    rq = _by_key(quality.record_quality(wh, "customers", as_of=AS_OF), "customer_id")
    got = {k: r["completeness"] for k, r in rq.items()}
    assert got == pytest.approx(
        {"C1": 1, "C2": 9 / 11, "C3": 1, "C4": 9 / 11, "C5": 1, "C6": 1, "C7": 7 / 11}
    )


def test_validity_of_customers(wh):
    """Valid / filled checked values:

    C1: 9 filled (no updated_at), phone valid once spaces go -> 9/9 = 1.
    C2: 7 filled (phone, email, verified missing) -> 7/7 = 1.
    C3: 10 filled, 10-digit phone and email without @ invalid -> 8/10 = 0.8.
    C4: 8 filled (no updated / verified), +86 phone and blank-padded email valid, gender X and
        birthday 1900 (age 124) invalid -> 6/8 = 0.75.
    C5: 8 filled (no tier, no updated), channel 线上 is not a code -> 7/8 = 0.875.
    C6: 9 filled, 0086-phone (no +) and birthday 2030 (after as_of) invalid -> 7/9.
    C7: 5 filled (email, gender, channel, created, updated), all valid -> 1.
    """
    rq = _by_key(quality.record_quality(wh, "customers", as_of=AS_OF), "customer_id")
    got = {k: r["validity"] for k, r in rq.items()}
    assert got == pytest.approx(
        {"C1": 1, "C2": 1, "C3": 0.8, "C4": 0.75, "C5": 0.875, "C6": 7 / 9, "C7": 1}
    )


def test_stale_at_the_365_day_edge(wh):
    """Days from the later of last_verified_at / updated_at to 2024-06-30:

    C1 2023-07-02 -> 364 fresh; C3 max(2023-05-01, 2023-07-01) -> 365 fresh (not more than 365);
    C2 2023-06-30 -> 366 stale; C4 never verified -> null, stale; C5 2024-06-01 -> 29;
    C6 2024-06-29 -> 1; C7 updated 2024-06-01 -> 29.
    With stale_after_days=363, C1 (364) and C3 (365) turn stale too.
    """
    rq = _by_key(quality.record_quality(wh, "customers", as_of=AS_OF), "customer_id")
    days = {k: r["days_since_verified"] for k, r in rq.items()}
    assert {k: v for k, v in days.items() if k != "C4"} == {
        "C1": 364,
        "C2": 366,
        "C3": 365,
        "C5": 29,
        "C6": 1,
        "C7": 29,
    }
    assert pd.isna(days["C4"])
    assert {k for k, r in rq.items() if r["stale"]} == {"C2", "C4"}
    strict = quality.record_quality(wh, "customers", as_of=AS_OF, stale_after_days=363)
    assert set(strict.filter(strict.stale).customer_id.to_pandas()) == {"C1", "C2", "C3", "C4"}


def test_quality_score_and_issues(wh):
    """quality_score = (completeness + validity) / 2, x 0.8 when stale:

    C1 (1 + 1)/2 = 1; C2 (9/11 + 1)/2 x 0.8 = 8/11; C3 (1 + 0.8)/2 = 0.9;
    C4 (9/11 + 3/4)/2 x 0.8 = 69/110; C5 (1 + 7/8)/2 = 15/16; C6 (1 + 7/9)/2 = 8/9;
    C7 (7/11 + 1)/2 = 9/11. Issues list columns in declared order, staleness last.
    """
    rq = _by_key(quality.record_quality(wh, "customers", as_of=AS_OF), "customer_id")
    assert {k: r["quality_score"] for k, r in rq.items()} == pytest.approx(
        {
            "C1": 1,
            "C2": 8 / 11,
            "C3": 0.9,
            "C4": 69 / 110,
            "C5": 15 / 16,
            "C6": 8 / 9,
            "C7": 9 / 11,
        }
    )
    assert {k: r["issues"] for k, r in rq.items()} == {
        "C1": "",
        "C2": "missing phone; missing email; stale: 366 days since verified",
        "C3": "invalid phone; invalid email",
        "C4": "invalid gender; invalid birthday; missing province; missing owner; never verified",
        "C5": "invalid acquisition_channel",
        "C6": "invalid phone; invalid birthday",
        "C7": "missing phone; missing birthday; missing owner_team; missing owner",
    }


def test_future_dates_are_invalid_relative_to_as_of(wh):
    """At as_of 2024-05-31 C7 (created 2024-06-01, updated 2024-06-01 08:00) has two values
    after as_of: 3/5 valid = 0.6. Its days_since_verified is then -1: not stale."""
    rq = _by_key(
        quality.record_quality(wh, "customers", as_of=datetime(2024, 5, 31)), "customer_id"
    )
    assert rq["C7"]["validity"] == pytest.approx(0.6)
    assert rq["C7"]["issues"].startswith("missing phone; missing birthday; invalid created_at;")
    assert "invalid updated_at" in rq["C7"]["issues"]
    assert rq["C7"]["days_since_verified"] == -1 and not rq["C7"]["stale"]


def test_record_quality_of_a_fact_table(wh):
    """Orders: 11 expected columns, 7 checked (order_ts, quantity, amount, discount, status,
    channel, delivered_at).

    O1: all but return_reason -> 10/11; all 7 valid -> 1.
    O2: no discount, promised_date, delivered_at, return_reason -> 7/11; 5 checked filled,
        quantity 0 (< 1) and status "lost" invalid -> 3/5 = 0.6.
    O3: all 11 filled; delivered 2024-04-30 before the order 2024-05-01 -> 6/7.
    Fact tables are never stale and have no days_since_verified.
    """
    rq = _by_key(quality.record_quality(wh, "orders", as_of=AS_OF), "order_id")
    assert {k: r["completeness"] for k, r in rq.items()} == pytest.approx(
        {"O1": 10 / 11, "O2": 7 / 11, "O3": 1}
    )
    assert {k: r["validity"] for k, r in rq.items()} == pytest.approx(
        {"O1": 1, "O2": 0.6, "O3": 6 / 7}
    )
    assert not any(r["stale"] for r in rq.values())
    assert all(pd.isna(r["days_since_verified"]) for r in rq.values())
    assert rq["O2"]["issues"] == (
        "invalid quantity; missing discount; invalid status; missing promised_date; "
        "missing delivered_at; missing return_reason"
    )
    assert rq["O3"]["issues"] == "invalid delivered_at"


def test_record_quality_rejects_bad_arguments(wh):
    with pytest.raises(ValueError, match="unknown table 'clients'"):
        quality.record_quality(wh, "clients")
    with pytest.raises(TypeError, match="as_of must be a datetime, got date"):
        quality.record_quality(wh, "customers", as_of=date(2024, 6, 30))
    with pytest.raises(ValueError, match="stale_after_days must be 0 or more"):
        quality.record_quality(wh, "customers", as_of=AS_OF, stale_after_days=-1)


# ---------------------------------------------------------------------------------------------
# per column and per table
# ---------------------------------------------------------------------------------------------


def test_column_completeness(wh):
    """Out of 7 customers: phone filled by C1, C3-C6 = 5; email blank for C2 only = 6;
    company by C1, C3, C5, C6 = 4 (C2's and C7's are blank); customer_id 7; birthday all but
    C7 = 6."""
    cc = quality.column_completeness(wh, "customers").to_pandas()
    assert cc.column.tolist() == TABLES["customers"].column_names
    got = cc.set_index("column")
    assert got.loc["phone", "filled"] == 5 and got.loc["phone", "share"] == pytest.approx(5 / 7)
    assert got.loc["email", "filled"] == 6
    assert got.loc["company", "filled"] == 4
    assert got.loc["customer_id", "share"] == 1.0
    assert got.loc["birthday", "filled"] == 6
    assert (got.total == 7).all()
    assert bool(got.loc["phone", "expected"]) and not bool(got.loc["company", "expected"])


def test_table_quality(wh):
    """Means of the per-record scores above.

    customers: rows 7; completeness (4 x 1 + 2 x 9/11 + 7/11) / 7 = 69/77;
    validity (1 + 1 + 0.8 + 0.75 + 0.875 + 7/9 + 1) / 7; stale 2/7 (C2, C4);
    duplicates 5 (C1, C4 share a phone and an email; C5, C6 a phone and name+company;
    C6, C7 an email).
    orders: rows 3; completeness (10 + 7 + 11) / 33 = 28/33; validity (1 + 0.6 + 6/7) / 3;
    stale 0; duplicates null (customers only).
    products: 4 expected columns; P1 full and valid; P2 no launch_date (3/4) and list_price
    -5 (0/1) -> completeness 7/8, validity 1/2.
    Empty tables: 0 rows, null means.
    """
    tq = quality.table_quality(wh, as_of=AS_OF).to_pandas()
    assert tq.table.tolist() == [t for t in TABLES if t in wh.list_tables()]
    got = tq.set_index("table")
    c = got.loc["customers"]
    validity = [1, 1, 0.8, 0.75, 0.875, 7 / 9, 1]
    scores = [1, 8 / 11, 0.9, 69 / 110, 15 / 16, 8 / 9, 9 / 11]
    assert c.rows == 7 and c.duplicates == 5
    assert c.completeness == pytest.approx(69 / 77)
    assert c.validity == pytest.approx(sum(validity) / 7)
    assert c.stale_share == pytest.approx(2 / 7)
    assert c.quality_score == pytest.approx(sum(scores) / 7)
    o = got.loc["orders"]
    assert o.rows == 3 and pd.isna(o.duplicates) and o.stale_share == 0
    assert o.completeness == pytest.approx(28 / 33)
    assert o.validity == pytest.approx((1 + 0.6 + 6 / 7) / 3)
    assert o.quality_score == pytest.approx((28 / 33 + (1 + 0.6 + 6 / 7) / 3) / 2)
    p = got.loc["products"]
    assert (p.rows, p.completeness, p.validity) == (2, pytest.approx(7 / 8), pytest.approx(0.5))
    f = got.loc["feedback"]
    assert f.rows == 0 and pd.isna(f.completeness) and pd.isna(f.quality_score)
    assert (tq.as_of == pd.Timestamp(AS_OF)).all()


# ---------------------------------------------------------------------------------------------
# duplicates
# ---------------------------------------------------------------------------------------------


def _pairs(con, **kw) -> dict[tuple, str]:
    dc = quality.duplicate_candidates(con, **kw).to_pandas()
    pairs = dc[dc.customer_id_b.notna()]
    assert (pairs.customer_id_a < pairs.customer_id_b).all()
    assert (pairs.group_size == 2).all() and pairs.shared_value.isna().all()
    return {(r.customer_id_a, r.customer_id_b): r.match_on for r in pairs.itertuples()}


def test_duplicate_pairs(wh):
    """C1 / C4: "138 1234 5678" and "+86 138-1234-5678" are both 13812345678; emails differ
    only in case and a leading blank. C5 / C6: 0086 13912345678; "Li Lei"+"Acme Ltd" and
    " li  lei"+"ACME ltd" normalise to lilei | acmeltd. C6 / C7: lei.li@acme.com.
    Not pairs: C2 / C7 share the name 王五 but both companies are blank ("" and "  "); C3's
    10-digit phone 1381234567 is not C1's number."""
    assert _pairs(wh) == {
        ("C1", "C4"): "phone, email",
        ("C5", "C6"): "phone, name+company",
        ("C6", "C7"): "email",
    }


def test_duplicates_as_of_leaves_out_later_customers(wh):
    """At 2024-05-31 C7 (created 2024-06-01) did not exist yet: the C6 / C7 pair goes."""
    assert set(_pairs(wh, as_of=datetime(2024, 5, 31))) == {("C1", "C4"), ("C5", "C6")}


def _add_junk_phone(con, n: int) -> None:
    junk = [
        dict(FULL, customer_id=f"J{i:02d}", name=f"测试{i}", phone="138-0000-0000")
        for i in range(1, n + 1)
    ]
    frame = _frame("customers", junk).mutate(customer_sk=ibis._.customer_sk + 100)
    con.insert("customers", frame)


def test_a_junk_phone_is_one_group_not_all_pairs(wh):
    """51 customers share 13800000000: more than MAX_GROUP_SIZE (50), so one group row
    (J01, null, "phone", 51, "13800000000") instead of 51 x 50 / 2 = 1275 pairs; the three
    real pairs are unchanged and table_quality counts 5 + 51 = 56 duplicate customers."""
    _add_junk_phone(wh, 51)
    dc = quality.duplicate_candidates(wh).to_pandas()
    groups = dc[dc.customer_id_b.isna()]
    assert groups[["customer_id_a", "match_on", "group_size", "shared_value"]].values.tolist() == [
        ["J01", "phone", 51, "13800000000"]
    ]
    assert len(dc) == 3 + 1
    tq = quality.table_quality(wh, as_of=AS_OF).to_pandas().set_index("table")
    assert tq.loc["customers", "duplicates"] == 56


def test_group_threshold_is_inclusive_for_pairs(wh):
    """50 customers sharing a phone (= MAX_GROUP_SIZE) still give all 50 x 49 / 2 = 1225 pairs;
    with max_group_size=49 they are one group of 50."""
    _add_junk_phone(wh, 50)
    assert len(_pairs(wh)) == 3 + 1225
    dc = quality.duplicate_candidates(wh, max_group_size=49).to_pandas()
    assert dc[dc.customer_id_b.isna()].group_size.tolist() == [50]
    with pytest.raises(ValueError, match="max_group_size must be 2 or more"):
        quality.duplicate_candidates(wh, max_group_size=1)


def test_former_customers_count_towards_a_group_but_form_no_pairs(wh):
    """50 junk-phone holders are pairs (inclusive threshold); one former holder F1 (merged
    away) makes 51: one group again. F2 shares C1's email: no pair with it, C1 / C4 unchanged."""
    _add_junk_phone(wh, 50)
    former = ibis.memtable(
        {
            "customer_id": ["F1", "F2"],
            "name": ["测试", "张三"],
            "phone": ["13800000000", None],
            "email": [None, "zhang@example.com"],
            "company": [None, None],
        }
    )
    dc = quality.duplicate_candidates(wh, former=former).to_pandas()
    assert dc[dc.customer_id_b.isna()][["match_on", "group_size"]].values.tolist() == [
        ["phone", 51]
    ]
    assert _pairs(wh, former=former) == _pairs(wh, max_group_size=49)
    assert _pairs(wh, former=former)[("C1", "C4")] == "phone, email"
    assert len(_pairs(wh, former=former)) == 3


# ---------------------------------------------------------------------------------------------
# stale_by_owner and publish
# ---------------------------------------------------------------------------------------------


def test_stale_by_owner(wh):
    """sales / 王经理: C1, C3, C5 all fresh -> 3, 0; service / 李客服: C2 stale, C6 fresh ->
    2, 1, 0.5; success / (blank owner -> null): C4 never verified -> 1, 1, 1.0;
    unassigned (null, null): C7 fresh -> 1, 0. Most stale first."""
    sbo = quality.stale_by_owner(wh, as_of=AS_OF).to_pandas()
    rows = {
        (r.owner_team, None if pd.isna(r.owner) else r.owner): (r.customers, r.stale, r.stale_share)
        for r in sbo.itertuples()
        if not pd.isna(r.owner_team)
    }
    assert rows == {
        ("sales", "王经理"): (3, 0, 0.0),
        ("service", "李客服"): (2, 1, 0.5),
        ("success", None): (1, 1, 1.0),
    }
    unassigned = sbo[sbo.owner_team.isna()]
    assert unassigned[["customers", "stale"]].values.tolist() == [[1, 0]]
    assert unassigned.owner.isna().all()
    assert sbo.stale.tolist() == [1, 1, 0, 0]
    assert sbo.customers.sum() == 7


def test_publish_precomputes_the_quality_tables(tmp_path):
    """The registered "quality" step adds the four tables to the snapshot at the data's as_of
    (2024-06-30 12:00): 7 scored customers, 3 duplicate pairs, 4 owner rows."""
    con = db.connect(tmp_path / "w.duckdb", read_only=False)
    db.create_schema(con)
    _load(con, "customers", CUSTOMERS)
    _load(con, "products", PRODUCTS)
    _load(con, "orders", ORDERS)
    con.disconnect()
    res = crmkit.publish(
        tmp_path / "w.duckdb",
        tmp_path / "pub.duckdb",
        steps=[s for s in STEPS if s.name == "quality"],
    )
    assert res.tables["quality_records"] == 7
    assert res.tables["quality_duplicates"] == 3
    assert res.tables["quality_stale_by_owner"] == 4
    snap = db.connect(tmp_path / "pub.duckdb")
    try:
        rq = _by_key(snap.table("quality_records"), "customer_id")
        assert rq["C2"]["quality_score"] == pytest.approx(8 / 11)
        tq = snap.table("quality_tables").to_pandas().set_index("table")
        assert tq.loc["customers", "as_of"] == pd.Timestamp(AS_OF)
        assert tq.loc["customers", "completeness"] == pytest.approx(69 / 77)
    finally:
        snap.disconnect()
