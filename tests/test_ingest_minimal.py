"""Minimal inputs: orders with only customer, time and amount; customers with only an id;
``add_missing`` stubs; computed order ids; ``crmkit schema`` listing accepted headers.

The files are written by each test (a few lines, shown in the test), so every expected number
can be checked by eye. Row numbers are spreadsheet rows (header = row 1). A computed order id is
``"auto-"`` + the first 20 hex digits of SHA-256 over the parsed customer_id, order_ts
(``%Y-%m-%d %H:%M:%S.%f``), product_id, quantity and amount joined by ``\\x1f``, then ``\\x1f``
and the row's ordinal among the file's rows with that content; :func:`auto_id` recomputes it
with hashlib, independently of the DuckDB expression in ``crmkit.ingest``.
"""

from __future__ import annotations

import hashlib
from datetime import datetime
from decimal import Decimal

import ibis
import pandas as pd
import pytest

from crmkit import cli, db, schema
from crmkit.ingest import ingest

NOW = datetime(2026, 1, 1)

#: 客户编号, 下单时间, 金额 only. C1 buys twice at the same moment for the same amount (rows 2
#: and 4, two real orders), C2 once, C1 again in April. Amounts 99 + 1,288 + 99 + 50 = 1,536.
THREE_COLUMNS = (
    "客户编号,下单时间,金额\n"
    "C1,2024-03-01 10:00,99.00\n"
    'C2,2024/3/5,"¥1,288.00"\n'
    "C1,2024-03-01 10:00,99.00\n"
    "C1,2024年4月2日,50\n"
)


def auto_id(customer: str, ts: str, amount: str, ordinal: int, product="", quantity="") -> str:
    content = "\x1f".join([customer, ts, product, quantity, amount, str(ordinal)])
    return "auto-" + hashlib.sha256(content.encode()).hexdigest()[:20]


@pytest.fixture
def con(tmp_path):
    c = db.connect(tmp_path / "warehouse.duckdb", read_only=False)
    yield c
    c.disconnect()


@pytest.fixture
def write(tmp_path):
    def _write(name: str, text: str):
        path = tmp_path / name
        path.write_text(text, encoding="utf-8")
        return path

    return _write


def rows(con, table: str) -> dict[str, dict]:
    key = schema.TABLES[table].key
    return {r[key]: r for r in con.table(table).to_pandas().to_dict("records")}


def reconciles(res) -> None:
    assert res.rows_in == res.loaded + res.rejected
    assert res.loaded == res.inserted + res.updated + res.unchanged


# ---------------------------------------------------------------------------------------------
# the three-column orders file
# ---------------------------------------------------------------------------------------------


def test_three_columns_into_an_empty_warehouse_with_add_missing(con, write):
    """THREE_COLUMNS, add_missing, empty warehouse: 4 in = 4 loaded + 0 rejected.

    Stubs: customers C1 (customer_sk 1) and C2 (2), numbered in key order, derived; C1's
    created_at is its first order 2024-03-01 10:00, C2's 2024-03-05. Every order gets status
    completed and a computed id (filled: order_id 4, status 4); rows 2 and 4 are identical and
    stay two orders (ordinals 1 and 2). No product: product_sk is empty. Amounts sum to 1,536.
    """
    res = ingest(write("orders.csv", THREE_COLUMNS), "orders", con=con, add_missing=True, now=NOW)
    reconciles(res)
    assert (res.rows_in, res.inserted, res.rejected) == (4, 4, 0)
    assert res.stubs == {"customers": 2}
    assert res.filled == {"order_id": 4, "status": 4}
    customers = rows(con, "customers")
    assert sorted(customers) == ["C1", "C2"]
    assert {k: (c["customer_sk"], c["derived"]) for k, c in customers.items()} == {
        "C1": (1, True),
        "C2": (2, True),
    }
    assert customers["C1"]["created_at"] == pd.Timestamp("2024-03-01 10:00")
    assert customers["C2"]["created_at"] == pd.Timestamp("2024-03-05")
    assert pd.isna(customers["C1"]["name"])
    orders = rows(con, "orders")
    c1_march = "C1", "2024-03-01 10:00:00.000000", "99.00"
    assert set(orders) == {
        auto_id(*c1_march, 1),
        auto_id(*c1_march, 2),
        auto_id("C2", "2024-03-05 00:00:00.000000", "1288.00", 1),
        auto_id("C1", "2024-04-02 00:00:00.000000", "50.00", 1),
    }
    assert {o["status"] for o in orders.values()} == {"completed"}
    assert all(pd.isna(o["product_sk"]) for o in orders.values())
    assert {o["customer_id"]: o["customer_sk"] for o in orders.values()} == {"C1": 1, "C2": 2}
    assert sum(o["amount"] for o in orders.values()) == Decimal("1536.00")
    text = res.report()
    assert "derived stubs" in text and "customers 2" in text
    assert "order_id 4 (computed from the row)" in text and "status 4 (completed)" in text


def test_three_columns_without_add_missing_names_the_fix(con, write):
    """THREE_COLUMNS, empty warehouse, no add_missing: 4 in = 0 loaded + 4 rejected, each on
    customer_id with a reason naming the value and --add-missing; nothing stubbed."""
    res = ingest(write("orders.csv", THREE_COLUMNS), "orders", con=con, now=NOW)
    reconciles(res)
    assert (res.rows_in, res.loaded, res.rejected) == (4, 0, 4)
    assert res.stubs == {}
    rj = res.rejects.sort_values("row_number")
    assert list(rj.row_number) == [2, 3, 4, 5]
    assert set(rj.column_name) == {"customer_id"}
    assert rj.reason.iloc[0] == (
        "customer_id 'C1' is not in customers; load customers first or pass --add-missing"
    )
    assert rj.reason.iloc[1].startswith("customer_id 'C2' is not in customers")
    assert con.table("customers").count().execute() == 0
    # the report groups the reason over the four values
    assert "4  customer_id: customer_id '…' is not in customers" in res.report()


def test_three_columns_after_a_customers_file_with_only_ids(con, write):
    """客户编号 only (C1, C2): 2 in = 2 loaded, created_at left empty for both (no orders).
    Then THREE_COLUMNS without add_missing: 4 in = 4 loaded, no stub, and the two customers'
    created_at become their first orders: C1 2024-03-01 10:00, C2 2024-03-05."""
    first = ingest(write("customers.csv", "客户编号\nC1\nC2\n"), "customers", con=con, now=NOW)
    reconciles(first)
    assert (first.rows_in, first.inserted, first.no_first_activity) == (2, 2, 2)
    assert "created_at left empty" in first.report()
    customers = rows(con, "customers")
    assert all(pd.isna(c["created_at"]) and c["derived"] is False for c in customers.values())

    res = ingest(write("orders.csv", THREE_COLUMNS), "orders", con=con, now=NOW)
    reconciles(res)
    assert (res.rows_in, res.inserted, res.rejected, res.stubs) == (4, 4, 0, {})
    assert res.first_activity == 2
    customers = rows(con, "customers")
    assert customers["C1"]["created_at"] == pd.Timestamp("2024-03-01 10:00")
    assert customers["C2"]["created_at"] == pd.Timestamp("2024-03-05")
    assert {c["derived"] for c in customers.values()} == {False}


def test_reingesting_the_id_less_file_changes_nothing(con, write):
    """THREE_COLUMNS twice (add_missing): the second run inserts 0, leaves 4 unchanged, adds no
    stub; still 4 orders and 2 customers, with the same ids."""
    path = write("orders.csv", THREE_COLUMNS)
    ingest(path, "orders", con=con, add_missing=True, now=NOW)
    before = sorted(rows(con, "orders"))
    again = ingest(path, "orders", con=con, add_missing=True, now=NOW)
    reconciles(again)
    assert (again.inserted, again.updated, again.unchanged) == (0, 0, 4)
    assert again.stubs == {"customers": 0}
    assert sorted(rows(con, "orders")) == before
    assert db.table_counts(con)["orders"] == 4
    assert db.table_counts(con)["customers"] == 2


def test_identical_rows_stay_two_orders_and_a_third_copy_adds_one(con, write):
    """Two identical rows → two orders; a later export holding the same row three times keeps
    the first two ids (ordinals 1, 2) and adds one (ordinal 3): inserted 1, unchanged 2."""
    row = "C1,2024-03-01 10:00,99.00\n"
    ingest(write("a.csv", "客户编号,下单时间,金额\n" + row * 2), "orders", con=con,
           add_missing=True, now=NOW)  # fmt: skip
    assert db.table_counts(con)["orders"] == 2
    res = ingest(write("b.csv", "客户编号,下单时间,金额\n" + row * 3), "orders", con=con,
                 add_missing=True, now=NOW)  # fmt: skip
    assert (res.inserted, res.unchanged) == (1, 2)
    content = "C1", "2024-03-01 10:00:00.000000", "99.00"
    assert sorted(rows(con, "orders")) == sorted(auto_id(*content, n) for n in (1, 2, 3))


def test_a_status_change_in_a_later_export_updates_the_order(con, write):
    """The status is not part of a computed id: the same order exported as 已完成 and later as
    已退货 is updated (inserted 0, updated 1), not loaded twice."""
    head = "客户编号,下单时间,金额,状态\n"
    ingest(write("a.csv", head + "C1,2024-03-01,10,已完成\n"), "orders", con=con,
           add_missing=True, now=NOW)  # fmt: skip
    res = ingest(write("b.csv", head + "C1,2024-03-01,10,已退货\n"), "orders", con=con,
                 add_missing=True, now=NOW)  # fmt: skip
    assert (res.inserted, res.updated) == (0, 1)
    (order,) = rows(con, "orders").values()
    assert order["status"] == "returned"


def test_a_filled_status_is_marked_until_a_file_gives_one(con, write):
    """``status_defaulted`` says which statuses ingest made up. THREE_COLUMNS has no 状态
    column: all 4 orders completed and marked. A later export of C2's order (2024/3/5,
    ¥1,288) with 状态 已退货 is the same order (the status is not in its computed id): returned,
    no longer marked; the three C1 orders keep theirs. A blank 状态 cell is filled and marked
    like a missing column."""
    ingest(write("a.csv", THREE_COLUMNS), "orders", con=con, add_missing=True, now=NOW)
    marked = {o["customer_id"]: o["status_defaulted"] for o in rows(con, "orders").values()}
    assert marked == {"C1": True, "C2": True}
    assert {o["status"] for o in rows(con, "orders").values()} == {"completed"}
    head = "客户编号,下单时间,金额,状态\n"
    res = ingest(write("b.csv", head + 'C2,2024/3/5,"¥1,288.00",已退货\nC3,2024-05-01,5,\n'),
                 "orders", con=con, add_missing=True, now=NOW)  # fmt: skip
    assert (res.inserted, res.updated, res.filled["status"]) == (1, 1, 1)
    got = sorted(
        (o["customer_id"], o["status"], o["status_defaulted"]) for o in rows(con, "orders").values()
    )
    assert got == [
        ("C1", "completed", True),
        ("C1", "completed", True),
        ("C1", "completed", True),
        ("C2", "returned", False),
        ("C3", "completed", True),
    ]


def test_chinese_five_column_export(con, write):
    """订单编号 / 客户编号 / 下单时间 / 金额 / 状态 after customers C1, C2: 3 in = 3 loaded.

    已完成 → completed, 已退货 → returned, a blank 状态 → completed (filled: status 1); ids as
    given (filled order_id 0).
    """
    ingest(write("customers.csv", "客户编号\nC1\nC2\n"), "customers", con=con, now=NOW)
    text = (
        "订单编号,客户编号,下单时间,金额,状态\n"
        "A001,C1,2024-03-01 10:00,99.00,已完成\n"
        "A002,C2,2024-03-05,1288,已退货\n"
        "A003,C1,2024-04-02,50,\n"
    )
    res = ingest(write("orders.csv", text), "orders", con=con, now=NOW)
    reconciles(res)
    assert (res.rows_in, res.inserted, res.rejected) == (3, 3, 0)
    assert res.filled == {"order_id": 0, "status": 1}
    assert {k: o["status"] for k, o in rows(con, "orders").items()} == {
        "A001": "completed",
        "A002": "returned",
        "A003": "completed",
    }


def test_a_blank_order_id_among_given_ones_is_computed(con, write):
    """订单编号 given for row 2, blank for row 3: A1 kept, row 3 gets a computed id (filled:
    order_id 1)."""
    text = "订单编号,客户编号,下单时间,金额\nA1,C1,2024-03-01,10\n,C1,2024-03-02,20\n"
    res = ingest(write("orders.csv", text), "orders", con=con, add_missing=True, now=NOW)
    assert (res.inserted, res.filled["order_id"]) == (2, 1)
    assert sorted(rows(con, "orders")) == sorted(
        ["A1", auto_id("C1", "2024-03-02 00:00:00.000000", "20.00", 1)]
    )


# ---------------------------------------------------------------------------------------------
# add_missing stubs
# ---------------------------------------------------------------------------------------------


def test_stubs_only_for_rows_that_load_and_for_products_too(con, write):
    """With add_missing: 5 in = 3 loaded + 2 rejected.

    Row 3 (C7) has a negative amount and row 4 (C8) a date in the future: rejected, and no stub
    is made for C7 or C8. Rows 2, 5, 6 load: stubs customers C1, C2 and products P1, P2, all
    derived, products without name or category.
    """
    text = (
        "客户编号,产品编号,下单时间,金额\n"
        "C1,P1,2024-03-01,10\n"
        "C7,P9,2024-03-02,-5\n"
        "C8,P9,2099-01-01,5\n"
        "C1,P2,2024-03-02,20\n"
        "C2,P1,2024-03-03,30\n"
    )
    res = ingest(write("orders.csv", text), "orders", con=con, add_missing=True, now=NOW)
    reconciles(res)
    assert (res.rows_in, res.loaded, res.rejected) == (5, 3, 2)
    assert set(zip(res.rejects.row_number, res.rejects.column_name, strict=True)) == {
        (3, "amount"),
        (4, "order_ts"),
    }
    assert res.stubs == {"customers": 2, "products": 2}
    assert sorted(rows(con, "customers")) == ["C1", "C2"]
    products = rows(con, "products")
    assert {k: (p["product_sk"], p["derived"]) for k, p in products.items()} == {
        "P1": (1, True),
        "P2": (2, True),
    }
    assert pd.isna(products["P1"]["name"]) and pd.isna(products["P1"]["category"])
    orders = con.table("orders").to_pandas()
    assert dict(zip(orders.product_id, orders.product_sk, strict=True)) == {"P1": 1, "P2": 2}


def test_a_customers_file_replaces_a_stub(con, write):
    """Stub C1 (from THREE_COLUMNS), then 客户编号,客户名称,建档时间 = C1,张伟,2023-01-01:
    updated 1; C1 is no longer derived, keeps customer_sk 1 and takes the file's created_at."""
    ingest(write("orders.csv", THREE_COLUMNS), "orders", con=con, add_missing=True, now=NOW)
    text = "客户编号,客户名称,建档时间\nC1,张伟,2023-01-01\n"
    res = ingest(write("customers.csv", text), "customers", con=con, now=NOW)
    assert (res.inserted, res.updated) == (0, 1)
    c1 = rows(con, "customers")["C1"]
    assert (c1["customer_sk"], c1["derived"], c1["name"]) == (1, False, "张伟")
    assert c1["created_at"] == pd.Timestamp("2023-01-01")
    assert rows(con, "customers")["C2"]["derived"] is True


def test_first_activity_moves_back_for_stubs_but_never_overrides_a_given_date(con, write):
    """Orders C1 2024-03-05 and C9 2024-03-05 with add_missing: stubs with created_at 03-05.
    A customers file gives C9 created_at 2024-06-01. Earlier orders (03-01) for both then move
    the stub C1 back to 2024-03-01 (first_activity 1) and leave C9's given date alone."""
    head = "客户编号,下单时间,金额\n"
    body = "C1,2024-03-05,10\nC9,2024-03-05,10\n"
    ingest(write("a.csv", head + body), "orders", con=con, add_missing=True, now=NOW)
    ingest(write("c.csv", "客户编号,建档时间\nC9,2024-06-01\n"), "customers", con=con, now=NOW)
    res = ingest(write("b.csv", head + "C1,2024-03-01,5\nC9,2024-03-01,5\n"), "orders", con=con,
                 now=NOW)  # fmt: skip
    assert res.first_activity == 1
    customers = rows(con, "customers")
    assert customers["C1"]["created_at"] == pd.Timestamp("2024-03-01")
    assert customers["C9"]["created_at"] == pd.Timestamp("2024-06-01")


def test_a_customers_file_without_created_at_takes_the_first_order(con, write):
    """THREE_COLUMNS first (stubs), then 客户编号,客户名称 = C1,张伟 / C3,李娜: C1's created_at is
    its first order 2024-03-01 10:00 (filled: created_at 1); C3 has no order and stays empty."""
    ingest(write("orders.csv", THREE_COLUMNS), "orders", con=con, add_missing=True, now=NOW)
    text = "客户编号,客户名称\nC1,张伟\nC3,李娜\n"
    res = ingest(write("customers.csv", text), "customers", con=con, now=NOW)
    reconciles(res)
    assert (res.inserted, res.updated) == (1, 1)
    assert (res.filled, res.no_first_activity) == ({"created_at": 1}, 1)
    customers = rows(con, "customers")
    assert customers["C1"]["created_at"] == pd.Timestamp("2024-03-01 10:00")
    assert pd.isna(customers["C3"]["created_at"])


def test_a_warehouse_from_before_derived_gets_the_column(tmp_path, write):
    """A customers table created without ``derived`` (an older warehouse) with one row: the next
    ingest adds the column, false for the existing row, and the schema matches the declaration."""
    wh = tmp_path / "old.duckdb"
    old = db.connect(wh, read_only=False)
    fields = dict(schema.TABLES["customers"].ibis_schema().items())
    del fields[schema.DERIVED]
    old.create_table("customers", schema=ibis.schema(fields))
    old.insert("customers", pd.DataFrame({"customer_id": ["C0"], "customer_sk": [1]}))
    ingest(write("orders.csv", THREE_COLUMNS), "orders", con=old, add_missing=True, now=NOW)
    assert old.table("customers").schema() == schema.TABLES["customers"].ibis_schema()
    assert {k: c["derived"] for k, c in rows(old, "customers").items()} == {
        "C0": False,
        "C1": True,
        "C2": True,
    }
    old.disconnect()


# ---------------------------------------------------------------------------------------------
# the command line, in process
# ---------------------------------------------------------------------------------------------


def test_cli_add_missing_flag(tmp_path, write, capsys):
    """``crmkit ingest orders.csv --table orders``: exit 1, the reason names --add-missing;
    with ``--add-missing``: exit 0 and the report counts 2 derived customer stubs."""
    path, wh = write("orders.csv", THREE_COLUMNS), str(tmp_path / "wh.duckdb")
    argv = ["ingest", str(path), "--table", "orders", "--db", wh, "--quiet"]
    assert cli.main(argv) == 1
    assert "pass --add-missing" in capsys.readouterr().out
    assert cli.main([*argv, "--add-missing"]) == 0
    out = capsys.readouterr().out
    assert "added as derived stubs (--add-missing): customers 2" in out
    assert "rows in            4" in out


def test_cli_schema_lists_the_chinese_headers(capsys):
    """``crmkit schema --table orders``: a "headers accepted" column; the order_id line lists
    订单编号, customer_id 客户编号, order_ts 下单时间, amount 金额, status 状态 and 订单状态; a file
    needs exactly customer_id, order_ts and amount; status "completed" if missing."""
    assert cli.main(["schema", "--table", "orders"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert "headers accepted" in out[0]
    lines = {line.split()[1]: line for line in out[1:]}
    assert list(lines) == schema.TABLES["orders"].column_names
    for column, zh in (
        ("order_id", "订单编号"),
        ("customer_id", "客户编号"),
        ("order_ts", "下单时间"),
        ("amount", "金额"),
        ("status", "状态"),
        ("status", "订单状态"),
    ):
        assert zh in lines[column], (column, zh)
    needed = [c for c, line in lines.items() if " required " in line]
    assert needed == ["customer_id", "order_ts", "amount"]
    assert " completed " in lines["status"]
    assert "computed from the row" in lines["order_id"]
