"""crmkit.profile: one customer, on a warehouse built by hand and on the tiny published snapshot.

The warehouse (data clock = the last order, 2024-07-01 12:00)
-------------------------------------------------------------
C1 张三丰 (13812341234, zhang@x.com, gold member, owner 王五):

- orders O1 2024-01-10 ¥100, O2 2024-03-05 ¥200 (completed), O3 2024-05-20 ¥50 returned
  ("坏了，请回电 13912345678"), O4 2024-06-30 ¥300 completed, O5 2024-07-01 12:00 ¥80
  cancelled. Counted (not returned / refunded / cancelled): O1 O2 O4 → n 3, first 2024-01-10,
  last 2024-06-30, total ¥600; placed 5. RFM: recency 1 day (2024-06-30 → 2024-07-01),
  frequency 3, monetary 600.
- 12 interactions, 2024-01-01 … 2024-01-12 (the last: "客户留言 13812341234"), and one on
  2024-08-01, after the clock: the latest 10 run from 2024-01-12 down to 2024-01-03; 171 days
  since the last contact (2024-01-12 → 2024-07-01), against the 30-day cadence of important
  value customers (crmkit/config/relationship.json): 141 days overdue.
- tickets: T1 opened 2024-06-01 10:00, answered 10:30, resolved the next day; T2 opened
  2024-06-20 09:00, never answered, open: it breached the 2-hour response target and is
  11 days 3 hours = 11.125 days old.
- feedback F1 … F6 on the 15th of January … June, NPS 9, –, 6, –, 10, –; F6 says "请回电
  13812341234": the latest 5 are F6 … F2; the latest NPS is 10 (2024-05-15), 3 NPS answers.
- points: earned 100 + 200, redeemed 50, expired 30 (and 999 earned on 2024-08-01, after the
  clock) → outstanding 300 − 50 − 30 = 220.
- referrals: C2 (converted) and C3 (not) → made 2, converted 1.

C2 李四 has two completed orders (¥500 on 2024-02-01, ¥40 on 2024-06-01); C3 王二 none.
Nothing was published: churn risk and CLV are not available (no ``churn_scores`` / ``clv``).
"""

from __future__ import annotations

from datetime import datetime

import pandas as pd
import pytest

import crmkit
from crmkit import db
from crmkit.i18n import reason_text

AS_OF = datetime(2024, 7, 1, 12)


def _insert(con, table: str, rows: list[dict]) -> None:
    con.insert(table, pd.DataFrame(rows))


@pytest.fixture(scope="module")
def warehouse():
    c = db.connect(":memory:", read_only=False)
    db.create_schema(c)
    people = [
        ("C1", 1, "张三丰", "13812341234"),
        ("C2", 2, "李四", "13900001111"),
        ("C3", 3, "王二", None),
    ]
    _insert(
        c,
        "customers",
        [
            {
                "customer_id": cid,
                "customer_sk": sk,
                "name": name,
                "phone": phone,
                "email": "zhang@x.com" if cid == "C1" else None,
                "province": "广东",
                "membership_tier": "gold" if cid == "C1" else None,
                "owner_team": "sales",
                "owner": "王五",
                "created_at": pd.Timestamp("2023-01-01"),
            }
            for cid, sk, name, phone in people
        ],
    )
    orders = [
        ("O1", "C1", "2024-01-10", 100, "completed", None),
        ("O2", "C1", "2024-03-05", 200, "completed", None),
        ("O3", "C1", "2024-05-20", 50, "returned", "坏了，请回电 13912345678"),
        ("O4", "C1", "2024-06-30", 300, "completed", None),
        ("O5", "C1", "2024-07-01 12:00", 80, "cancelled", None),
        ("O6", "C2", "2024-02-01", 500, "completed", None),
        ("O7", "C2", "2024-06-01", 40, "completed", None),
    ]
    _insert(
        c,
        "orders",
        [
            {
                "order_id": oid,
                "customer_id": cid,
                "customer_sk": int(cid[1:]),
                "product_id": "P1",
                "order_ts": pd.Timestamp(ts),
                "quantity": 1,
                "amount": amount,
                "status": status,
                "return_reason": reason,
            }
            for oid, cid, ts, amount, status, reason in orders
        ],
    )
    contacts = [(f"I{k:02d}", f"2024-01-{k:02d} 10:00", "回访") for k in range(1, 12)]
    contacts += [("I12", "2024-01-12 10:00", "客户留言 13812341234"), ("I13", "2024-08-01", "回访")]
    _insert(
        c,
        "interactions",
        [
            {
                "interaction_id": iid,
                "customer_id": "C1",
                "customer_sk": 1,
                "ts": pd.Timestamp(ts),
                "channel": "phone",
                "direction": "outbound",
                "topic": topic,
                "owner": "王五",
            }
            for iid, ts, topic in contacts
        ],
    )
    _insert(
        c,
        "tickets",
        [
            {
                "ticket_id": "T1",
                "customer_id": "C1",
                "customer_sk": 1,
                "opened_at": pd.Timestamp("2024-06-01 10:00"),
                "first_response_at": pd.Timestamp("2024-06-01 10:30"),
                "resolved_at": pd.Timestamp("2024-06-02 10:00"),
                "channel": "phone",
                "category": "quality",
                "severity": "high",
            },
            {
                "ticket_id": "T2",
                "customer_id": "C1",
                "customer_sk": 1,
                "opened_at": pd.Timestamp("2024-06-20 09:00"),
                "first_response_at": pd.NaT,
                "resolved_at": pd.NaT,
                "channel": "email",
                "category": "delivery",
                "severity": "low",
            },
        ],
    )
    scores = [9, None, 6, None, 10, None]
    _insert(
        c,
        "feedback",
        [
            {
                "feedback_id": f"F{m}",
                "customer_id": "C1",
                "customer_sk": 1,
                "ts": pd.Timestamp(f"2024-{m:02d}-15"),
                "source": "survey",
                "nps": scores[m - 1],
                "text": "请回电 13812341234" if m == 6 else f"第{m}次回答",
            }
            for m in range(1, 7)
        ],
    )
    points = [
        ("E1", "2024-01-10", "earn", 100),
        ("E2", "2024-03-05", "earn", 200),
        ("E3", "2024-04-01", "redeem", 50),
        ("E4", "2024-06-01", "expire", 30),
        ("E5", "2024-08-01", "earn", 999),
    ]
    _insert(
        c,
        "points_ledger",
        [
            {
                "entry_id": eid,
                "customer_id": "C1",
                "customer_sk": 1,
                "ts": pd.Timestamp(ts),
                "kind": kind,
                "points": n,
            }
            for eid, ts, kind, n in points
        ],
    )
    _insert(
        c,
        "referrals",
        [
            {
                "referral_id": rid,
                "referrer_id": "C1",
                "referrer_sk": 1,
                "referred_id": referred,
                "referred_sk": int(referred[1:]),
                "ts": pd.Timestamp(ts),
                "converted": converted,
            }
            for rid, referred, ts, converted in (
                ("R1", "C2", "2023-12-01", True),
                ("R2", "C3", "2024-02-01", False),
            )
        ],
    )
    yield c
    c.disconnect()


@pytest.fixture(scope="module")
def p1(warehouse):
    return crmkit.profile(warehouse, "C1", lang="en")


def test_orders_and_rfm(p1):
    assert p1["as_of"] == AS_OF
    assert p1["orders"] == {
        "n": 3,
        "first": datetime(2024, 1, 10),
        "last": datetime(2024, 6, 30),
        "total": 600.0,
        "placed": 5,
    }
    assert p1["last_orders"].order_id.tolist() == ["O5", "O4", "O3", "O2", "O1"]
    assert p1["last_orders"].amount.tolist() == [80.0, 300.0, 50.0, 200.0, 100.0]
    assert {k: p1["rfm"][k] for k in ("recency_days", "frequency", "monetary")} == {
        "recency_days": 1,
        "frequency": 3,
        "monetary": 600.0,
    }


def test_classification_is_computed_on_a_warehouse(warehouse, p1):
    """No classification table: the classes are classify()'s at the data clock. Two buyers,
    C1 (1 day, 3 orders, ¥600) and C2 (30 days, 2, ¥540): mean splits 15.5 days, 2.5 orders,
    ¥570, C1 better than all three → 重要价值 (important value), and the better of two ranks
    scores 1 + floor(5 · 1 / 2) = 3 on each. C3 never bought: potential."""
    cls = p1["classification"]
    assert (cls["source"], cls["segment"], cls["segment_label"]) == (
        "computed",
        "important_value",
        "Important value",
    )
    assert (p1["rfm"]["r_score"], p1["rfm"]["f_score"], p1["rfm"]["m_score"]) == (3, 3, 3)
    assert crmkit.profile(warehouse, "C3")["classification"]["segment"] == "potential"


def test_contacts_tickets_feedback_points_referrals(p1):
    contacts = p1["contacts"]
    assert len(contacts) == 10
    assert contacts.ts.iloc[0] == pd.Timestamp("2024-01-12 10:00")
    assert contacts.ts.iloc[-1] == pd.Timestamp("2024-01-03 10:00")
    status = p1["contact_status"]
    assert status["last_contact"] == datetime(2024, 1, 12, 10)
    assert (status["segment"], status["target_days"]) == ("important_value", 30)
    assert (status["days_since"], status["overdue"], status["days_overdue"]) == (171, True, 141)
    tickets = p1["open_tickets"]
    assert tickets.ticket_id.tolist() == ["T2"]
    assert bool(tickets.breached.iloc[0]) and not bool(tickets.answered.iloc[0])
    assert tickets.age_days.iloc[0] == pytest.approx(11.125)
    assert p1["feedback"].ts.dt.month.tolist() == [6, 5, 4, 3, 2]
    assert p1["nps"] == {"score": 10, "ts": datetime(2024, 5, 15), "answers": 3}
    assert p1["loyalty"] == {
        "membership_tier": "gold",
        "earned": 300,
        "redeemed": 50,
        "expired": 30,
        "adjusted": 0,
        "outstanding": 220,
    }
    assert p1["referrals"] == {"made": 2, "converted": 1}


def test_models_fitted_at_publish_are_not_available_on_a_warehouse(p1):
    assert p1["churn"] is None and p1["clv"] is None
    assert p1["unavailable"] == {"churn": "no_table:churn_scores", "clv": "no_table:clv"}


def test_dashboard_role_masks_the_record_and_free_text(warehouse, p1):
    d = crmkit.profile(warehouse, "C1", role="dashboard")
    assert (d["customer"]["name"], d["customer"]["phone"], d["customer"]["email"]) == (
        "张**",
        "138****1234",
        "z***@x.com",
    )
    assert d["feedback"].text.iloc[0] == "请回电 138****1234"
    assert d["contacts"].topic.iloc[0] == "客户留言 138****1234"
    assert d["last_orders"].return_reason.iloc[2] == "坏了，请回电 139****5678"
    assert p1["customer"]["name"] == "张三丰"  # analyst: clear
    assert p1["feedback"].text.iloc[0] == "请回电 13812341234"


def test_an_earlier_date_leaves_later_records_out(warehouse):
    """At 2024-04-01: counted O1 and O2 (¥300), 2 of 3 feedback answers with NPS before it
    (latest 6 on 2024-03-15), points 300 earned, 50 redeemed that day → 250."""
    p = crmkit.profile(warehouse, "C1", as_of=datetime(2024, 4, 1))
    assert (p["orders"]["n"], p["orders"]["total"], p["orders"]["placed"]) == (2, 300.0, 2)
    assert p["nps"] == {"score": 6, "ts": datetime(2024, 3, 15), "answers": 2}
    assert p["loyalty"]["outstanding"] == 250
    assert p["open_tickets"].empty


def test_unknown_customer_names_close_ids(warehouse):
    """C11 is one character away from C1 (difflib ratio 2·2/5 = 0.8) and two from C2 / C3
    (0.4, under the 0.6 cutoff); nothing is like XYZ."""
    with pytest.raises(ValueError) as err:
        crmkit.profile(warehouse, "C11")
    assert str(err.value) == "no customer 'C11' in the customers table; did you mean 'C1'?"
    with pytest.raises(ValueError) as err:
        crmkit.profile(warehouse, "XYZ")
    assert str(err.value) == "no customer 'XYZ' in the customers table"
    with pytest.raises(ValueError, match="unknown role 'manager'"):
        crmkit.profile(warehouse, "C1", role="manager")


def test_snapshot_reads_published_parts_and_says_why_others_are_missing(tiny_snapshot):
    """tests/fixtures published (clock 2024-04-02 10:30): C001 bought O001 ¥99 and O002 ¥279
    (classified important_keep at publish); the CLV and churn steps were skipped for too short a
    history, and there are no contacts, tickets, feedback, points or referrals."""
    con = db.connect(db.analyst_path(tiny_snapshot))
    try:
        p = crmkit.profile(con, " C001 ")
    finally:
        con.disconnect()
    assert p["customer_id"] == "C001" and p["customer"]["name"] == "张伟"
    assert (p["classification"]["source"], p["classification"]["segment"]) == (
        "published",
        "important_keep",
    )
    assert p["classification"]["segment_label"] == "重要保持客户"
    assert (p["orders"]["n"], p["orders"]["total"]) == (2, 378.0)
    assert p["unavailable"] == {
        "churn": "too_few:training_cutoffs:0:1",
        "clv": "too_few:repeat_buyers:1:50",
        "loyalty": "empty_table:points_ledger",
        "referrals": "empty_table:referrals",
        "contacts": "empty_table:interactions",
        "open_tickets": "empty_table:tickets",
        "feedback": "empty_table:feedback",
        "nps": "empty_table:feedback",
    }
    assert p["contact_status"]["last_contact"] is None  # published: never contacted


def test_snapshot_at_another_date(tiny_snapshot):
    """The dashboard snapshot stores names masked; a date before its clock computes the classes
    there and gives no published model results."""
    con = db.connect(tiny_snapshot)
    try:
        p = crmkit.profile(con, "C001", as_of=datetime(2024, 2, 1), role="analyst")
    finally:
        con.disconnect()
    assert p["customer"]["name"] == "张**"
    assert p["classification"]["source"] == "computed"
    assert (p["rfm"]["frequency"], p["rfm"]["monetary"]) == (1, 99.0)
    assert p["unavailable"]["contact_status"] == "published_as_of:2024-04-02"
    assert p["unavailable"]["churn"] == "too_few:training_cutoffs:0:1"
    assert (
        reason_text("published_as_of:2024-04-02", "zh")
        == "快照的模型结果截至2024-04-02，不是所选日期"
    )
    assert (
        reason_text("not_in:churn_scores", "en") == "the customer is not in the churn_scores table"
    )


def test_docstring_example():
    import doctest
    import importlib

    assert doctest.testmod(importlib.import_module("crmkit.profile")).failed == 0
