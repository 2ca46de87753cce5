"""Tests for ``crmkit.merge`` on a small warehouse whose merges are worked out by hand.

Customers (``customer_sk`` = the number in the id):

==  ===========================================================================================
C1  张三, phone 13812345678, zhang@new.com, 北京, tier silver, owner blank; created 2023-01-01,
    updated 2024-03-01. Orders O1 O2, ticket T1, feedback F1, points P1; referred C3 (R1), was
    referred by C3 (R2) and by C2 (R3)
C2  张三, phone "+86 138-1234-5678" (the same number), zhang@old.com, 上海 / 上海, gender M,
    tier gold, owner 王经理; created 2024-01-10, never updated. Orders O3 O4 O5, ticket T2,
    feedback F2, referred C1 (R3)
C3  李四, phone 13900000000, li@x.com; created 2023-05-01. Order O8, ticket T3, referrals R1 R2
C4  王五, phone 13700000000; created 2023-02-01. Order O6
C5  "王 五", phone 137-0000-0000 (the same number), wang@x.com; created 2022-06-01. Order O7
C6  Wang, no phone, " WANG@x.com" (the same email); created 2024-02-01. Feedback F3, I1
==  ===========================================================================================

Candidate pairs: C1–C2 (phone), C4–C5 (phone), C5–C6 (email): two groups.

- **Group 1** {C1, C2}, matched on phone. Survivor **C2**: 3 orders against 2. Recency: C1 was
  updated 2024-03-01, C2 never (its created_at 2024-01-10 counts), so C1's values come first:
  name 张三 (same), phone 13812345678, email zhang@new.com, city 北京, tier silver (C1's);
  province 上海, gender M, owner 王经理 (C1's are empty, blank counts as empty: C2's stay);
  created_at the earliest, 2023-01-01 (C1); updated_at the latest, 2024-03-01 (C1);
  last_verified_at null (none). Changed fields, all from C1: phone, email, city,
  membership_tier, created_at, updated_at. Rows re-pointed from C1 to C2: orders O1 O2,
  tickets T1, feedback F1, points_ledger P1, referrals R1 (referrer), R2 and R3 (referred): 8.
  R3 becomes a referral from C2 to C2.
- **Group 2** {C4, C5, C6}, matched on phone, email. C4 and C5 have one order each; the earlier
  created_at, C5 (2022-06-01), survives. Rows re-pointed: O6 (from C4), F3 and I1 (from C6): 3.

After ``--apply``: customers C2, C3, C5; merges 1 (group 1) and 2 (group 2); every table keeps
its row count (orders 8, tickets 3, feedback 3, referrals 3, interactions 1, points_ledger 1);
11 rows re-pointed; ``customer_merges`` holds 3 rows (C1; C4 and C6).
"""

from __future__ import annotations

import json
from datetime import date, datetime
from decimal import Decimal

import ibis
import pyarrow as pa
import pytest

from crmkit import cli, db, merge
from crmkit.publish import STEPS, publish
from crmkit.schema import TABLES

MERGED_AT = datetime(2024, 6, 1, 12, 0)


def _c(i: int, name: str, created: datetime, **kw) -> dict:
    return dict(customer_id=f"C{i}", customer_sk=i, name=name, created_at=created, **kw)


CUSTOMERS = [
    _c(1, "张三", datetime(2023, 1, 1), phone="13812345678", email="zhang@new.com", city="北京",
       membership_tier="silver", owner="  ", updated_at=datetime(2024, 3, 1)),
    _c(2, "张三", datetime(2024, 1, 10), phone="+86 138-1234-5678", email="zhang@old.com",
       province="上海", city="上海", gender="M", membership_tier="gold", owner="王经理"),
    _c(3, "李四", datetime(2023, 5, 1), phone="13900000000", email="li@x.com"),
    _c(4, "王五", datetime(2023, 2, 1), phone="13700000000", birthday=date(1990, 5, 1)),
    _c(5, "王 五", datetime(2022, 6, 1), phone="137-0000-0000", email="wang@x.com"),
    _c(6, "Wang", datetime(2024, 2, 1), email=" WANG@x.com"),
]  # fmt: skip


def _o(i: int, customer: int) -> dict:
    return dict(order_id=f"O{i}", customer_id=f"C{customer}", customer_sk=customer,
                product_id="P1", product_sk=1, order_ts=datetime(2024, 1, i),
                amount=Decimal(10 * i), status="completed")  # fmt: skip


FACTS = {
    "products": [dict(product_id="P1", product_sk=1, name="耳机", category="音频")],
    "orders": [_o(1, 1), _o(2, 1), _o(3, 2), _o(4, 2), _o(5, 2), _o(6, 4), _o(7, 5), _o(8, 3)],
    "tickets": [
        dict(ticket_id=f"T{i}", customer_id=f"C{c}", customer_sk=c, channel="phone",
             category="物流", opened_at=datetime(2024, 2, i))
        for i, c in ((1, 1), (2, 2), (3, 3))
    ],
    "feedback": [
        dict(feedback_id=f"F{i}", customer_id=f"C{c}", customer_sk=c, source="survey", nps=i,
             ts=datetime(2024, 3, i))
        for i, c in ((1, 1), (2, 2), (3, 6))
    ],
    "referrals": [
        dict(referral_id=f"R{i}", referrer_id=f"C{a}", referrer_sk=a, referred_id=f"C{b}",
             referred_sk=b, ts=datetime(2024, 4, i))
        for i, a, b in ((1, 1, 3), (2, 3, 1), (3, 2, 1))
    ],
    "interactions": [dict(interaction_id="I1", customer_id="C6", customer_sk=6,
                          ts=datetime(2024, 5, 1), channel="phone")],
    "points_ledger": [dict(entry_id="P1", customer_id="C1", customer_sk=1,
                           ts=datetime(2024, 5, 2), kind="earn", points=100)],
}  # fmt: skip
COUNTS = {"orders": 8, "tickets": 3, "feedback": 3, "referrals": 3, "interactions": 1,
          "points_ledger": 1, "opportunities": 0}  # fmt: skip


def _load(con, table: str, records: list[dict]) -> None:
    arrow = TABLES[table].ibis_schema().to_pyarrow()
    rows = [{c: r.get(c) for c in arrow.names} for r in records]
    con.insert(table, ibis.memtable(pa.Table.from_pylist(rows, schema=arrow)))


@pytest.fixture
def path(tmp_path):
    p = tmp_path / "w.duckdb"
    con = db.connect(p, read_only=False)
    db.create_schema(con)
    _load(con, "customers", CUSTOMERS)
    for table, records in FACTS.items():
        _load(con, table, records)
    con.disconnect()
    return p


@pytest.fixture
def con(path):
    c = db.connect(path, read_only=False)
    yield c
    c.disconnect()


def _contents(con, skip: tuple[str, ...] = ()) -> dict[str, list[dict]]:
    """Every stored table's rows as Python values, sorted: equal means equal contents."""
    return {
        name: sorted(con.table(name).to_pyarrow().to_pylist(), key=lambda r: repr(list(r.values())))
        for name in db.stored_counts(con)
        if name not in skip
    }


def _owners(con, table: str, column: str = "customer_id") -> dict[str, tuple[str, int]]:
    t = TABLES[table]
    sk = dict((c.name, s) for s, c in t.surrogate_columns)[column]
    rows = con.table(table).to_pyarrow().to_pylist()
    return {r[t.key]: (r[column], r[sk]) for r in rows}


# ---------------------------------------------------------------------------------------------
# the plan (dry run)
# ---------------------------------------------------------------------------------------------


def test_references_cover_every_customer_column():
    """Every column declared fk="customers", both referral columns included."""
    assert [r.name for r in merge.references()] == [
        "orders.customer_id",
        "interactions.customer_id",
        "feedback.customer_id",
        "tickets.customer_id",
        "opportunities.customer_id",
        "points_ledger.customer_id",
        "referrals.referrer_id",
        "referrals.referred_id",
    ]
    assert [r.surrogate for r in merge.references()][-2:] == ["referrer_sk", "referred_sk"]


def test_plan_groups_survivors_fields_and_rows(con):
    """The module docstring's groups, survivors, changed fields and re-pointed keys."""
    before = _contents(con)
    plan = merge.plan_merges(con)
    assert _contents(con) == before
    g1, g2 = plan.groups
    assert (g1.survivor_id, g1.merged_ids, g1.match_on) == ("C2", ("C1",), "phone")
    assert g1.orders == {"C1": 2, "C2": 3}
    assert g1.sources == dict.fromkeys(
        ["phone", "email", "city", "membership_tier", "created_at", "updated_at"], "C1"
    )
    assert g1.repointed == {
        "C1": {
            "orders.customer_id": ["O1", "O2"],
            "feedback.customer_id": ["F1"],
            "tickets.customer_id": ["T1"],
            "points_ledger.customer_id": ["P1"],
            "referrals.referrer_id": ["R1"],
            "referrals.referred_id": ["R2", "R3"],
        }
    }
    assert g1.rows_repointed == {
        "orders": 2, "feedback": 1, "tickets": 1, "points_ledger": 1, "referrals": 3,
    }  # fmt: skip
    assert (g2.survivor_id, g2.merged_ids, g2.match_on) == ("C5", ("C4", "C6"), "phone, email")
    assert g2.repointed == {
        "C4": {"orders.customer_id": ["O6"]},
        "C6": {"interactions.customer_id": ["I1"], "feedback.customer_id": ["F3"]},
    }
    assert (plan.customers_removed, sum(plan.rows_repointed.values())) == (3, 11)
    assert "13812345678" not in repr(plan) and "张三" not in repr(plan)


def test_survivor_takes_the_most_recent_non_empty_value(con):
    """Group 1: C1 (updated 2024-03-01) is more recent than C2 (created 2024-01-10)."""
    after = merge.plan_merges(con).groups[0].survivor_after
    assert after == {
        "customer_sk": 2,
        "customer_id": "C2",
        "name": "张三",
        "phone": "13812345678",
        "email": "zhang@new.com",
        "gender": "M",
        "birthday": None,
        "province": "上海",
        "city": "北京",
        "company": None,
        "title": None,
        "acquisition_channel": None,
        "created_at": datetime(2023, 1, 1),
        "membership_tier": "silver",
        "owner_team": None,
        "owner": "王经理",
        "updated_at": datetime(2024, 3, 1),
        "last_verified_at": None,
        "derived": None,  # neither row says whether it is an ingest stub
    }


def test_survivor_tie_breaks_then_smallest_id(tmp_path):
    """No orders at all and the same created_at: the smallest id survives; same recency: the
    survivor's value wins (C1's phone, not C2's)."""
    con = db.connect(tmp_path / "t.duckdb", read_only=False)
    db.create_schema(con)
    same = datetime(2024, 1, 1)
    _load(con, "customers", [
        _c(2, "A", same, phone="13812345678", city="乙"),
        _c(1, "A", same, phone="138 1234 5678", city="甲"),
    ])  # fmt: skip
    (g,) = merge.plan_merges(con).groups
    assert (g.survivor_id, g.survivor_after["phone"], g.survivor_after["city"]) == (
        "C1",
        "138 1234 5678",
        "甲",
    )
    con.disconnect()


def test_dry_run_cli_masks_personal_data_and_changes_nothing(path, capsys):
    con = db.connect(path)
    before = _contents(con)
    con.disconnect()
    assert cli.main(["merge-duplicates", "--db", str(path)]) == 0
    out = capsys.readouterr().out
    con = db.connect(path)
    assert _contents(con) == before
    con.disconnect()
    assert "group 1 (matched on phone):" in out
    assert "  keep   C2  张**  +86****5678  z***@old.com  orders 3  created 2024-01-10" in out
    assert "  merge  C1  张**  138****5678  z***@new.com  orders 2  created 2023-01-01" in out
    assert (
        "C2 takes: phone 138****5678 (from C1), email z***@new.com (from C1), city (from C1)" in out
    )
    assert "  rows re-pointed: orders 2, feedback 1, tickets 1, points_ledger 1, referrals 3" in out
    assert "group 2 (matched on phone, email):" in out
    assert "dry run, nothing was changed; `--apply` merges 2 group(s): 3 customer(s) removed, " \
           "11 fact row(s) re-pointed" in out  # fmt: skip
    for clear in ("张三", "李四", "13812345678", "zhang@new.com", "wang@x.com", "北京", "王经理"):
        assert clear not in out


# ---------------------------------------------------------------------------------------------
# apply
# ---------------------------------------------------------------------------------------------


def test_apply_merges_every_group(con):
    plan = merge.apply_merges(con, merged_at=MERGED_AT)
    assert plan.applied and [g.merge_id for g in plan.groups] == [1, 2]
    customers = con.table("customers").to_pyarrow().to_pylist()
    assert sorted(r["customer_id"] for r in customers) == ["C2", "C3", "C5"]
    c2 = next(r for r in customers if r["customer_id"] == "C2")
    assert c2 == plan.groups[0].survivor_after
    assert {t: db.table_counts(con)[t] for t in COUNTS} == COUNTS
    assert _owners(con, "orders") == {
        "O1": ("C2", 2), "O2": ("C2", 2), "O3": ("C2", 2), "O4": ("C2", 2), "O5": ("C2", 2),
        "O6": ("C5", 5), "O7": ("C5", 5), "O8": ("C3", 3),
    }  # fmt: skip
    assert _owners(con, "tickets") == {"T1": ("C2", 2), "T2": ("C2", 2), "T3": ("C3", 3)}
    assert _owners(con, "feedback") == {"F1": ("C2", 2), "F2": ("C2", 2), "F3": ("C5", 5)}
    assert _owners(con, "interactions") == {"I1": ("C5", 5)}
    assert _owners(con, "points_ledger") == {"P1": ("C2", 2)}
    assert _owners(con, "referrals", "referrer_id") == {
        "R1": ("C2", 2), "R2": ("C3", 3), "R3": ("C2", 2),
    }  # fmt: skip
    assert _owners(con, "referrals", "referred_id") == {
        "R1": ("C3", 3), "R2": ("C2", 2), "R3": ("C2", 2),
    }  # fmt: skip


def test_apply_records_each_merged_customer(con):
    merge.apply_merges(con, merged_at=MERGED_AT)
    log = con.table("customer_merges").order_by("merged_id").to_pyarrow().to_pylist()
    assert [
        (r["merge_id"], r["survivor_id"], r["merged_id"], r["repointed_rows"]) for r in log
    ] == [
        (1, "C2", "C1", 8),
        (2, "C5", "C4", 1),
        (2, "C5", "C6", 2),
    ]
    assert {r["merged_at"] for r in log} == {MERGED_AT}
    assert all(r["undone_at"] is None for r in log)
    c1 = json.loads(log[0]["merged_row"])
    assert (c1["phone"], c1["updated_at"], c1["customer_sk"]) == (
        "13812345678",
        "2024-03-01T00:00:00",
        1,
    )
    assert json.loads(log[0]["repointed"])["referrals.referred_id"] == ["R2", "R3"]
    assert json.loads(log[0]["survivor_before"])["email"] == "zhang@old.com"


def test_merging_twice_is_idempotent(con):
    merge.apply_merges(con, merged_at=MERGED_AT)
    after = _contents(con)
    again = merge.apply_merges(con, merged_at=MERGED_AT)
    assert again.groups == () and _contents(con) == after
    assert merge.format_plan(again) == "no duplicate candidates: nothing to merge"


def test_a_placeholder_stays_one_after_some_holders_were_merged(tmp_path):
    """max_group_size 2: X1, X2, X3 share a phone (3 holders: a placeholder); X1 and X2 also
    share an email, so X2 (newer, same orders) is merged into X1. The phone then has 2 holders
    left, but X2 still counts: the second run finds nothing to merge, not X1–X3."""
    con = db.connect(tmp_path / "x.duckdb", read_only=False)
    db.create_schema(con)
    _load(con, "customers", [
        _c(1, "甲", datetime(2024, 1, 1), phone="13800000000", email="a@x.com"),
        _c(2, "乙", datetime(2024, 1, 2), phone="13800000000", email="a@x.com"),
        _c(3, "丙", datetime(2024, 1, 3), phone="13800000000"),
    ])  # fmt: skip
    first = merge.apply_merges(con, max_group_size=2)
    assert [(g.survivor_id, g.merged_ids) for g in first.groups] == [("C1", ("C2",))]
    assert first.placeholders == (("phone", 3),)
    again = merge.apply_merges(con, max_group_size=2)
    assert (again.groups, again.placeholders) == ((), (("phone", 3),))
    con.disconnect()


def test_failure_in_the_middle_changes_nothing(con, monkeypatch):
    """The record is written last: when it fails, the re-pointed rows and the removed
    customers are rolled back with it."""
    before = _contents(con)

    def boom(*args, **kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(merge, "_record", boom)
    with pytest.raises(RuntimeError, match="disk full"):
        merge.apply_merges(con)
    assert _contents(con) == before


def test_failure_after_some_tables_changes_nothing(con, monkeypatch):
    before = _contents(con)
    calls = []
    repoint = merge._repoint

    def third_fails(*args):
        calls.append(args[1].name)
        if len(calls) == 3:
            raise RuntimeError("lost connection")
        repoint(*args)

    monkeypatch.setattr(merge, "_repoint", third_fails)
    with pytest.raises(RuntimeError, match="lost connection"):
        merge.apply_merges(con)
    assert len(calls) == 3 and _contents(con) == before


def test_a_key_shared_by_two_rows_is_refused(con):
    """O1 twice (C1 and C3): the moved row could not be found again exactly by its key."""
    _load(con, "orders", [dict(_o(1, 3), amount=5)])
    before = _contents(con)
    with pytest.raises(merge.MergeError, match="table orders has order_id values shared"):
        merge.apply_merges(con)
    assert _contents(con) == before


def test_placeholder_groups_are_listed_not_merged(con):
    """With max_group_size 2, the phone shared by C4 and C5 stays a pair, but add a third
    holder and it is a placeholder: group 2 is then linked by C5–C6's email only."""
    _load(con, "customers", [_c(7, "赵七", datetime(2024, 1, 1), phone="13700000000")])
    plan = merge.plan_merges(con, max_group_size=2)
    assert plan.placeholders == (("phone", 3),)
    assert [(g.survivor_id, g.merged_ids) for g in plan.groups] == [
        ("C2", ("C1",)),
        ("C5", ("C6",)),
    ]
    assert "not merged: 1 placeholder value(s) (phone shared by 3 customers)" in (
        merge.format_plan(plan)
    )


def test_publish_works_after_a_merge_and_leaves_the_record_out(path, tmp_path):
    con = db.connect(path, read_only=False)
    merge.apply_merges(con, merged_at=MERGED_AT)
    con.disconnect()
    res = publish(path, tmp_path / "p.duckdb", steps=STEPS[:1])
    assert [(o.step, o.status) for o in res.outcomes] == [("quality", "ok")]
    assert "customer_merges" not in res.tables and res.tables["customers"] == 3
    assert res.tables["quality_duplicates"] == 0


# ---------------------------------------------------------------------------------------------
# undo
# ---------------------------------------------------------------------------------------------


def test_undo_restores_every_table_exactly(con):
    before = _contents(con, skip=("customer_merges",))
    merge.apply_merges(con, merged_at=MERGED_AT)
    r2 = merge.undo_merge(con, 2, undone_at=datetime(2024, 6, 2))
    assert (r2.survivor_id, r2.restored_ids) == ("C5", ("C4", "C6"))
    assert r2.rows_repointed == {"orders": 1, "interactions": 1, "feedback": 1}
    r1 = merge.undo_merge(con, 1, undone_at=datetime(2024, 6, 2))
    assert r1.survivor_fields == (
        "phone", "email", "city", "created_at", "membership_tier", "updated_at",
    )  # fmt: skip
    assert _contents(con, skip=("customer_merges",)) == before
    log = con.table("customer_merges").to_pyarrow().to_pylist()
    assert {r["undone_at"] for r in log} == {datetime(2024, 6, 2)}
    assert "undid merge 1 in one transaction: restored C1; survivor C2's fields as before" in (
        merge.format_undo(r1)
    )


def test_undone_customers_are_candidates_again(con):
    merge.apply_merges(con, merged_at=MERGED_AT)
    merge.undo_merge(con, 1)
    plan = merge.apply_merges(con, merged_at=MERGED_AT)
    assert [(g.merge_id, g.survivor_id, g.merged_ids) for g in plan.groups] == [(3, "C2", ("C1",))]


def test_undo_refusals_change_nothing(con):
    merge.apply_merges(con, merged_at=MERGED_AT)
    merge.undo_merge(con, 1)
    after_undo = _contents(con)
    with pytest.raises(merge.MergeError, match="merge 1 was already undone at"):
        merge.undo_merge(con, 1)
    assert _contents(con) == after_undo
    merge.apply_merges(con, merged_at=MERGED_AT)  # merge 3: C1 into C2 again
    _load(con, "customers", [_c(1, "张三", datetime(2023, 1, 1))])  # C1 ingested again
    before = _contents(con)
    with pytest.raises(merge.MergeError, match="customer C1 of merge 3 exists again"):
        merge.undo_merge(con, 3)
    assert _contents(con) == before


def test_undo_refuses_when_a_recorded_row_moved(con):
    """O1 was re-pointed from C1 to C2 by merge 1, then moved to C3 by hand."""
    merge.apply_merges(con, merged_at=MERGED_AT)
    o1 = con.table("orders").filter(ibis._.order_id == "O1")
    con.upsert("orders", o1.mutate(customer_id=ibis.literal("C3"), customer_sk=3), "order_id")
    before = _contents(con)
    with pytest.raises(
        merge.MergeError,
        match=r"orders.customer_id: 1 of the 2 rows merge 1 re-pointed from C1 still point to C2",
    ):
        merge.undo_merge(con, 1)
    assert _contents(con) == before


def test_undo_refuses_when_the_survivor_changed(con):
    merge.apply_merges(con, merged_at=MERGED_AT)
    merge.undo_merge(con, 2)
    c2 = con.table("customers").filter(ibis._.customer_id == "C2")
    con.upsert("customers", c2.mutate(city=ibis.literal("广州")), "customer_id")
    before = _contents(con)
    with pytest.raises(merge.MergeError, match=r"survivor C2 changed since merge 1 \(city\)"):
        merge.undo_merge(con, 1)
    assert _contents(con) == before


def test_undo_refuses_while_a_later_merge_involves_the_same_customers(con):
    """C7 shares C2's email after merge 1: merge 3 takes C7 into C2; merge 1 must wait."""
    merge.apply_merges(con, merged_at=MERGED_AT)
    _load(con, "customers", [_c(7, "张三", datetime(2024, 5, 1), email="zhang@new.com")])
    assert [g.merge_id for g in merge.apply_merges(con).groups] == [3]
    with pytest.raises(merge.MergeError, match=r"merge 3, made after merge 1 .* --undo 3\)"):
        merge.undo_merge(con, 1)
    merge.undo_merge(con, 3)
    merge.undo_merge(con, 1)
    ids = sorted(con.table("customers").customer_id.to_pyarrow().to_pylist())
    assert ids == ["C1", "C2", "C3", "C5", "C7"]


def test_undo_failure_in_the_middle_changes_nothing(con, monkeypatch):
    merge.apply_merges(con, merged_at=MERGED_AT)
    before = _contents(con)

    def boom(*args, **kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(merge, "_run_sql", boom)  # marking the merge undone comes last
    with pytest.raises(RuntimeError, match="disk full"):
        merge.undo_merge(con, 1)
    assert _contents(con) == before


def test_undo_of_an_unknown_merge_exits_2(path, capsys):
    assert cli.main(["merge-duplicates", "--db", str(path), "--undo", "99"]) == 2
    assert (
        "crmkit merge-duplicates: no merge 99 in customer_merges (no merge has been recorded)"
        in (capsys.readouterr().err)
    )
    assert cli.main(["merge-duplicates", "--db", str(path), "--apply"]) == 0
    assert cli.main(["merge-duplicates", "--db", str(path), "--undo", "7"]) == 2
    assert "no merge 7 in customer_merges (recorded merges: 1-2)" in capsys.readouterr().err


def test_cli_apply_then_undo(path, capsys):
    con = db.connect(path)
    before = _contents(con, skip=("customer_merges",))
    con.disconnect()
    assert cli.main(["merge-duplicates", "--db", str(path), "--apply"]) == 0
    out = capsys.readouterr().out
    assert "merge 1 (matched on phone):" in out and "merge 2 (matched on phone, email):" in out
    assert "merged 2 group(s): 3 customer(s) removed, 11 fact row(s) re-pointed" in out
    assert "recorded in customer_merges (1-2)" in out
    for merge_id in ("1", "2"):
        assert cli.main(["merge-duplicates", "--db", str(path), "--undo", merge_id]) == 0
    assert "undid merge 2 in one transaction: restored C4, C6" in capsys.readouterr().out
    con = db.connect(path)
    assert _contents(con, skip=("customer_merges",)) == before
    con.disconnect()


def test_apply_and_undo_exclude_each_other(path):
    with pytest.raises(SystemExit) as e:
        cli.main(["merge-duplicates", "--db", str(path), "--apply", "--undo", "1"])
    assert e.value.code == 2
