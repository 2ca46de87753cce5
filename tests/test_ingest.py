"""Tests for ``crmkit.ingest`` over the small hand-made files in ``tests/fixtures``.

The fixtures are built by ``tests/fixtures/make_fixtures.py``; its docstring works out, file by
file, rows in = loaded + rejected and which rows / columns are rejected. Each test repeats the
numbers it checks. Row numbers are spreadsheet rows: in CSV / Excel the header is row 1 and the
first data row is row 2; in Parquet the first row is row 1.

Reasons are checked with loose, lower-cased substrings (so wording can improve), while counts,
row numbers and column names are checked exactly.
"""

from __future__ import annotations

import importlib.util
import re
from datetime import date, datetime
from pathlib import Path

import openpyxl
import pandas as pd
import pyarrow.parquet as pq
import pytest

from crmkit import db
from crmkit import ingest as ingest_module
from crmkit.ingest import IngestError, IngestResult, ingest
from crmkit.schema import TABLES

FIXTURES = Path(__file__).parent / "fixtures"
SYSTEM_TABLES = ("ingest_runs", "ingest_rejects")
REJECT_COLUMNS = {"row_number", "column_name", "reason", "value"}

#: (row number, column or None for a whole-row problem, accepted reason substrings)
Problem = tuple[int, str | None, tuple[str, ...]]


def fx(name: str) -> Path:
    return FIXTURES / name


# ---------------------------------------------------------------------------------------------
# helpers
# ---------------------------------------------------------------------------------------------


@pytest.fixture
def con(tmp_path):
    """A fresh, empty read-write warehouse file."""
    c = db.connect(tmp_path / "warehouse.duckdb", read_only=False)
    yield c
    c.disconnect()


@pytest.fixture
def base(con):
    """The warehouse with customers.csv (C001-C005) and products.csv (P01-P03) loaded."""
    for name, table, n in (("customers.csv", "customers", 5), ("products.csv", "products", 3)):
        res = ingest(fx(name), table, con=con)
        assert (res.rows_in, res.inserted, res.rejected) == (n, n, 0)
    return con


def _cell(v: object) -> str | None:
    if v is None or (not isinstance(v, (list, dict)) and pd.isna(v)):
        return None
    return str(v)


def snapshot(con, tables=None) -> dict[str, tuple[list[str], list[tuple]]]:
    """Full, order-independent contents of ``tables`` (default: every table present)."""
    names = sorted(con.list_tables()) if tables is None else list(tables)
    out = {}
    for name in names:
        df = con.table(name).to_pandas()
        rows = sorted(
            (tuple(_cell(v) for v in row) for row in df.itertuples(index=False, name=None)),
            key=lambda r: tuple("" if v is None else v for v in r),
        )
        out[name] = (list(df.columns), rows)
    return out


def data_snapshot(con):
    return snapshot(con, [t for t in TABLES if t in con.list_tables()])


def by_key(con, table: str) -> dict[str, dict]:
    """The rows of ``table`` as {business key: row dict}."""
    key = TABLES[table].key
    return {r[key]: r for r in con.table(table).to_pandas().to_dict("records")}


def _pairs(df: pd.DataFrame) -> set[tuple[int, str | None]]:
    return {
        (int(r), None if pd.isna(c) else str(c))
        for r, c in zip(df["row_number"], df["column_name"], strict=True)
    }


def check(
    res: IngestResult,
    *,
    rows_in: int,
    loaded: int,
    problems: tuple[Problem, ...] = (),
    con=None,
) -> None:
    """Assert the reconciliation and exactly the expected rejected (row, column) cells.

    With ``con``, also assert that the run and its rejects were written to ``ingest_runs`` and
    ``ingest_rejects``.
    """
    rejected_rows = {row for row, _, _ in problems}
    assert isinstance(res, IngestResult)
    assert (res.rows_in, res.loaded, res.rejected) == (rows_in, loaded, len(rejected_rows))
    assert res.rows_in == res.loaded + res.rejected
    assert res.loaded == res.inserted + res.updated + res.unchanged
    assert res.ok is (not problems)
    assert set(res.rejects.columns) >= REJECT_COLUMNS
    assert _pairs(res.rejects) == {(row, col) for row, col, _ in problems}
    assert res.rejects["row_number"].nunique() == res.rejected
    for row, col, accepted in problems:
        here = res.rejects[res.rejects["row_number"] == row]
        here = here[here["column_name"].isna()] if col is None else here[here["column_name"] == col]
        reasons = [str(r).lower() for r in here["reason"]]
        assert any(s in r for r in reasons for s in accepted), (row, col, reasons, accepted)
    if con is None:
        return
    stored = con.table("ingest_rejects").to_pandas()
    stored = stored[stored["run_id"] == res.run_id]
    assert _pairs(stored) == {(row, col) for row, col, _ in problems}
    assert set(stored["table_name"]) <= {res.table}
    runs = con.table("ingest_runs").to_pandas()
    run = runs[runs["run_id"] == res.run_id]
    assert len(run) == 1
    run = run.iloc[0]
    assert (run.rows_in, run.loaded, run.rejected) == (rows_in, loaded, len(rejected_rows))
    assert run.table_name == res.table


def ts(s: str) -> pd.Timestamp:
    return pd.Timestamp(s)


# ---------------------------------------------------------------------------------------------
# the good base set
# ---------------------------------------------------------------------------------------------


def test_base_customers_load_with_values_and_surrogate_keys(con):
    """customers.csv: 5 in = 5 loaded (inserted 5) + 0 rejected; English headers, UTF-8."""
    res = ingest(fx("customers.csv"), "customers", con=con)
    check(res, rows_in=5, loaded=5, con=con)
    assert (res.inserted, res.updated, res.unchanged) == (5, 0, 0)
    assert (res.table, res.file_format, res.encoding) == ("customers", "csv", "utf-8")
    assert Path(res.file).name == "customers.csv"
    assert res.ignored_columns == []
    rows = by_key(con, "customers")
    assert sorted(rows) == ["C001", "C002", "C003", "C004", "C005"]
    assert rows["C001"]["name"] == "张伟"
    assert rows["C003"]["name"] == "Alice Smith"
    assert rows["C001"]["phone"] == "13812341234"
    assert rows["C004"]["email"] == "wangfang@example.com"
    assert {k: r["gender"] for k, r in rows.items()} == dict(
        C001="M", C002="F", C003="F", C004="F", C005="M"
    )
    assert rows["C004"]["membership_tier"] == "diamond"
    assert ts(rows["C001"]["created_at"]) == ts("2023-01-15 10:00:00")
    assert ts(rows["C002"]["created_at"]) == ts("2023-02-20 00:00:00")
    assert ts(rows["C005"]["created_at"]) == ts("2023-05-01 08:30:00")
    sks = [r["customer_sk"] for r in rows.values()]
    assert all(pd.notna(s) for s in sks) and len(set(sks)) == 5


def test_base_orders_load_and_reference_surrogate_keys(base):
    """orders.csv after the base customers/products: 6 in = 6 loaded + 0 rejected.

    Each order's customer_sk / product_sk is the surrogate of the customer / product it names.
    """
    res = ingest(fx("orders.csv"), "orders", con=base)
    check(res, rows_in=6, loaded=6, con=base)
    orders = by_key(base, "orders")
    assert sorted(orders) == ["O001", "O002", "O003", "O004", "O005", "O006"]
    assert {k: o["status"] for k, o in orders.items()} == dict(
        O001="completed",
        O002="completed",
        O003="returned",
        O004="completed",
        O005="refunded",
        O006="cancelled",
    )
    assert float(orders["O006"]["amount"]) == 159.50
    assert float(orders["O002"]["discount"]) == 20.0
    assert int(orders["O004"]["quantity"]) == 3
    assert ts(orders["O002"]["order_ts"]) == ts("2024-02-10 20:01:00")
    customers, products = by_key(base, "customers"), by_key(base, "products")
    for o in orders.values():
        assert o["customer_sk"] == customers[o["customer_id"]]["customer_sk"]
        assert o["product_sk"] == products[o["product_id"]]["product_sk"]
    assert float(products["P03"]["list_price"]) == 159.50
    assert pd.Timestamp(products["P02"]["launch_date"]) == ts("2022-09-15")


# ---------------------------------------------------------------------------------------------
# encodings, formats, spellings
# ---------------------------------------------------------------------------------------------


def test_gbk_csv_with_chinese_headers_loads_without_mojibake(con):
    """customers_gbk.csv (GBK bytes): 4 in = 4 loaded + 0 rejected, read as gb18030.

    Chinese headers map onto the schema; 男/女/未知 → M/F/U; 金卡/银卡/普通会员/钻石 →
    gold/silver/regular/diamond; dates 2023/1/5, 2023年2月1日, 2023-03-01 09:30, 20230415;
    备注 is not a schema column and is ignored.
    """
    res = ingest(fx("customers_gbk.csv"), "customers", con=con)
    check(res, rows_in=4, loaded=4, con=con)
    assert res.encoding == "gb18030"
    assert res.ignored_columns == ["备注"]
    rows = by_key(con, "customers")
    assert {k: r["name"] for k, r in rows.items()} == {
        "G001": "张伟",
        "G002": "李娜",
        "G003": "欧阳娜娜",
        "G004": "王芳",
    }
    assert rows["G001"]["city"] == "上海" and rows["G004"]["province"] == "浙江"
    assert {k: r["gender"] for k, r in rows.items()} == dict(G001="M", G002="F", G003="U", G004="F")
    assert {k: r["membership_tier"] for k, r in rows.items()} == dict(
        G001="gold", G002="silver", G003="regular", G004="diamond"
    )
    assert {k: ts(r["created_at"]) for k, r in rows.items()} == {
        "G001": ts("2023-01-05"),
        "G002": ts("2023-02-01"),
        "G003": ts("2023-03-01 09:30"),
        "G004": ts("2023-04-15"),
    }
    assert rows["G001"]["phone"] == "13812345678"
    assert pd.isna(rows["G003"]["phone"])


def test_utf8_bom_first_header_still_maps(con):
    """customers_utf8_bom.csv: 3 in = 3 loaded; the BOM does not hide the customer_id header."""
    res = ingest(fx("customers_utf8_bom.csv"), "customers", con=con)
    check(res, rows_in=3, loaded=3, con=con)
    assert res.encoding == "utf-8-sig"
    assert res.ignored_columns == []
    rows = by_key(con, "customers")
    assert sorted(rows) == ["B001", "B002", "B003"]
    assert rows["B001"]["name"] == "陈静" and rows["B003"]["city"] == "西安"


def test_excel_serial_dates_text_ids_and_chinese_statuses(base):
    """orders_excel_serial.xlsx: 5 in = 4 loaded + 1 rejected (row 6 order_ts 下周一).

    Row 2: number 45352 → 2024-03-01; row 3: date-time cell 2024-03-02 14:30; row 4: text
    "45354" → 2024-03-03; row 5: date cell 2024-03-04. Ids 000101… are text cells and keep
    their zeros; 已完成/已退货/退款/交易成功 → completed/returned/refunded/completed. Only the
    first sheet is read.
    """
    res = ingest(fx("orders_excel_serial.xlsx"), "orders", con=base)
    check(res, rows_in=5, loaded=4, problems=((6, "order_ts", ("not a date",)),), con=base)
    assert (res.file_format, res.encoding) == ("xlsx", None)
    orders = by_key(base, "orders")
    assert sorted(orders) == ["000101", "000102", "000103", "000104"]
    assert {k: ts(o["order_ts"]) for k, o in orders.items()} == {
        "000101": ts("2024-03-01"),
        "000102": ts("2024-03-02 14:30"),
        "000103": ts("2024-03-03"),
        "000104": ts("2024-03-04"),
    }
    assert {k: o["status"] for k, o in orders.items()} == {
        "000101": "completed",
        "000102": "returned",
        "000103": "refunded",
        "000104": "completed",
    }
    assert float(orders["000103"]["amount"]) == 319.0
    assert int(orders["000103"]["quantity"]) == 2
    assert orders["000102"]["customer_id"] == "C002"


def test_leading_zeros_in_ids_survive(con):
    """customers_leading_zeros.csv: 3 in = 3 loaded; ids and phones keep their leading zeros."""
    res = ingest(fx("customers_leading_zeros.csv"), "customers", con=con)
    check(res, rows_in=3, loaded=3, con=con)
    rows = by_key(con, "customers")
    assert sorted(rows) == ["000123", "0007", "00456"]
    assert {k: r["phone"] for k, r in rows.items()} == {
        "000123": "02112345678",
        "00456": "07551234567",
        "0007": "01087654321",
    }


def test_tab_separated_file_with_loose_headers(con):
    """customers_tab.tsv: 2 in = 2 loaded; tab sniffed, "  CUSTOMER_ID " / "Created At" map.

    Companies contain commas, which must not split fields.
    """
    res = ingest(fx("customers_tab.tsv"), "customers", con=con)
    check(res, rows_in=2, loaded=2, con=con)
    assert res.ignored_columns == []
    rows = by_key(con, "customers")
    assert sorted(rows) == ["T001", "T002"]
    assert rows["T001"]["company"] == "阿里巴巴, 杭州"
    assert rows["T002"]["name"] == "马化腾"
    assert ts(rows["T002"]["created_at"]) == ts("2023-09-02 14:30")


def test_pipe_separated_txt_with_money(con):
    """products_pipe.txt: 2 in = 2 loaded; "|" sniffed; ¥1,288.00 → 1288.00, 199 → 199."""
    res = ingest(fx("products_pipe.txt"), "products", con=con)
    check(res, rows_in=2, loaded=2, con=con)
    rows = by_key(con, "products")
    assert {k: float(r["list_price"]) for k, r in rows.items()} == {"P10": 1288.0, "P11": 199.0}
    assert rows["P10"]["name"] == "茶具套装" and rows["P11"]["category"] == "个护"


def test_chinese_money_dates_and_header_units(base):
    """orders_cn_money.csv: 5 in = 5 loaded + 0 rejected.

    金额（元） and 优惠金额(元) map to amount and discount (the unit is ignored); money
    ¥1,234.50 / ￥2,000 / 159.50 / 1,099.00 / ¥299; dates 2024年3月1日, 2024年3月2日 14:30,
    2024/3/3, 20240304 and serial 45356 (= 2024-03-05); 备注 ignored.
    """
    res = ingest(fx("orders_cn_money.csv"), "orders", con=base)
    check(res, rows_in=5, loaded=5, con=base)
    assert res.ignored_columns == ["备注"]
    orders = by_key(base, "orders")
    assert {k: float(o["amount"]) for k, o in orders.items()} == {
        "M001": 1234.50,
        "M002": 2000.0,
        "M003": 159.50,
        "M004": 1099.0,
        "M005": 299.0,
    }
    assert float(orders["M001"]["discount"]) == 0.0
    assert float(orders["M002"]["discount"]) == 10.5
    assert pd.isna(orders["M003"]["discount"])
    assert {k: ts(o["order_ts"]) for k, o in orders.items()} == {
        "M001": ts("2024-03-01"),
        "M002": ts("2024-03-02 14:30"),
        "M003": ts("2024-03-03"),
        "M004": ts("2024-03-04"),
        "M005": ts("2024-03-05"),
    }
    assert {k: o["status"] for k, o in orders.items()} == {
        "M001": "completed",
        "M002": "returned",
        "M003": "refunded",
        "M004": "completed",
        "M005": "cancelled",
    }


def test_parquet_customers_rows_counted_from_one(con):
    """customers.parquet: 4 in = 3 loaded + 1 rejected.

    Row 4: birthday 2090-01-01 (in the future). Row 3 (P003) has no name and loads: customers
    need only their id. Parquet rows are numbered from 1. Typed timestamp / date columns load
    as such.
    """
    res = ingest(fx("customers.parquet"), "customers", con=con)
    check(res, rows_in=4, loaded=3, problems=((4, "birthday", ("in the future",)),), con=con)
    assert (res.file_format, res.encoding) == ("parquet", None)
    rows = by_key(con, "customers")
    assert sorted(rows) == ["000777", "P002", "P003"]
    assert pd.isna(rows["P003"]["name"])
    assert rows["000777"]["name"] == "钱多多"
    assert ts(rows["000777"]["created_at"]) == ts("2023-08-01 10:00")
    assert pd.Timestamp(rows["000777"]["birthday"]) == ts("1990-05-01")
    assert pd.isna(rows["P002"]["birthday"])


def test_parquet_orders_typed_numbers(base):
    """orders.parquet: 3 in = 2 loaded + 1 rejected (row 2 amount -1.00, negative)."""
    res = ingest(fx("orders.parquet"), "orders", con=base)
    check(
        res,
        rows_in=3,
        loaded=2,
        problems=((2, "amount", ("negative", "below the minimum")),),
        con=base,
    )
    orders = by_key(base, "orders")
    assert sorted(orders) == ["Q001", "Q003"]
    assert int(orders["Q001"]["quantity"]) == 2
    assert float(orders["Q001"]["amount"]) == 198.0
    assert ts(orders["Q001"]["order_ts"]) == ts("2024-05-01 10:00")
    assert orders["Q003"]["status"] == "returned"


# ---------------------------------------------------------------------------------------------
# bad rows: rejected, counted, stored — never raised
# ---------------------------------------------------------------------------------------------


def test_ragged_rows_rejected_others_loaded(con):
    """customers_ragged.csv: 4 in = 2 loaded + 2 rejected.

    The header has 5 fields; row 3 has 3 and row 4 has 6: whole-row problems (no column).
    """
    res = ingest(fx("customers_ragged.csv"), "customers", con=con)
    check(
        res,
        rows_in=4,
        loaded=2,
        problems=((3, None, ("has 3 fields",)), (4, None, ("has 6 fields",))),
        con=con,
    )
    assert sorted(by_key(con, "customers")) == ["R001", "R004"]


def test_duplicate_keys_first_occurrence_wins(con):
    """customers_duplicate_keys.csv: 5 in = 3 loaded + 2 rejected.

    D001 first appears at row 2 (张伟) and loads; rows 4 and 6 repeat it → customer_id
    "duplicate key … first at row 2".
    """
    res = ingest(fx("customers_duplicate_keys.csv"), "customers", con=con)
    check(
        res,
        rows_in=5,
        loaded=3,
        problems=(
            (4, "customer_id", ("duplicate key",)),
            (6, "customer_id", ("duplicate key",)),
        ),
        con=con,
    )
    assert all("row 2" in r.lower() for r in res.rejects["reason"])
    rows = by_key(con, "customers")
    assert sorted(rows) == ["D001", "D002", "D003"]
    assert rows["D001"]["name"] == "张伟"
    assert rows["D001"]["phone"] == "13812341234"


def test_unknown_enum_value_rejected_spellings_accepted(base):
    """orders_unknown_enum.csv: 4 in = 3 loaded + 1 rejected (row 3 status "lost in space").

    COMPLETED → completed, 已退货 → returned, Canceled → cancelled (case-insensitive spellings).
    """
    res = ingest(fx("orders_unknown_enum.csv"), "orders", con=base)
    check(res, rows_in=4, loaded=3, problems=((3, "status", ("unknown value",)),), con=base)
    assert list(res.rejects["value"]) == ["lost in space"]
    orders = by_key(base, "orders")
    assert {k: o["status"] for k, o in orders.items()} == {
        "E001": "completed",
        "E003": "returned",
        "E004": "cancelled",
    }


def test_negative_and_malformed_numbers(base):
    """orders_negative_amount.csv: 6 in = 1 loaded + 5 rejected rows, 6 problems.

    Row 2 amount -5 (negative); row 4 quantity 0 (below the minimum 1); row 5 quantity 1.5
    (not a whole number); row 6 amount "abc" (not a number); row 7 quantity -1 and amount -2
    (two problems, one rejected row). Only N002 loads.
    """
    res = ingest(fx("orders_negative_amount.csv"), "orders", con=base)
    below = ("below the minimum", "negative")
    check(
        res,
        rows_in=6,
        loaded=1,
        problems=(
            (2, "amount", below),
            (4, "quantity", below),
            (5, "quantity", ("not a whole number", "not a number")),
            (6, "amount", ("not a number",)),
            (7, "quantity", below),
            (7, "amount", below),
        ),
        con=base,
    )
    assert len(res.rejects) == 6
    first = res.rejects[(res.rejects["row_number"] == 2)].iloc[0]
    assert str(first["value"]).strip() == "-5"
    assert sorted(by_key(base, "orders")) == ["N002"]


def test_future_bad_and_missing_dates(base):
    """orders_future_dates.csv: 4 in = 1 loaded + 3 rejected.

    Row 2 order_ts 2099-01-01 (in the future); row 4 2024-13-45 (not a date); row 5 empty
    (missing required). Only F002 loads.
    """
    res = ingest(fx("orders_future_dates.csv"), "orders", con=base)
    check(
        res,
        rows_in=4,
        loaded=1,
        problems=(
            (2, "order_ts", ("in the future",)),
            (4, "order_ts", ("not a date",)),
            (5, "order_ts", ("missing required",)),
        ),
        con=base,
    )
    assert sorted(by_key(base, "orders")) == ["F002"]


def test_unknown_customer_and_product_rejected(base):
    """orders_unknown_customer.csv: 3 in = 1 loaded + 2 rejected.

    Row 3 customer_id C999 is not in customers; row 4 product_id P99 is not in products.
    """
    res = ingest(fx("orders_unknown_customer.csv"), "orders", con=base)
    check(
        res,
        rows_in=3,
        loaded=1,
        problems=(
            (3, "customer_id", ("unknown customer_id", "not in customers")),
            (4, "product_id", ("unknown product_id", "not in products")),
        ),
        con=base,
    )
    assert sorted(by_key(base, "orders")) == ["U001"]


def test_ticket_answered_before_opened_rejected(base):
    """tickets_response_before_open.csv: 4 in = 2 loaded + 2 rejected.

    Row 3: first_response_at 08:00 before opened_at 09:00; row 4: resolved_at 03-01 before
    opened_at 03-03. T004 has no response yet (allowed); 电话 → phone, 紧急 → critical.
    """
    res = ingest(fx("tickets_response_before_open.csv"), "tickets", con=base)
    check(
        res,
        rows_in=4,
        loaded=2,
        problems=((3, "first_response_at", ("before",)), (4, "resolved_at", ("before",))),
        con=base,
    )
    tickets = by_key(base, "tickets")
    assert sorted(tickets) == ["T001", "T004"]
    assert (tickets["T004"]["channel"], tickets["T004"]["severity"]) == ("phone", "critical")
    assert pd.isna(tickets["T004"]["first_response_at"])


def test_header_only_loads_nothing_and_is_ok(con):
    """header_only.csv: 0 in = 0 loaded + 0 rejected; ok, and the run is still recorded."""
    res = ingest(fx("header_only.csv"), "customers", con=con)
    check(res, rows_in=0, loaded=0, con=con)
    assert res.ok
    assert len(res.rejects) == 0
    assert con.table("customers").count().execute() == 0


def test_report_states_the_reconciliation(con):
    """customers_ragged.csv's report: rows in 4, loaded 2, rejected 2, and the top reason."""
    res = ingest(fx("customers_ragged.csv"), "customers", con=con)
    text = res.report()
    assert isinstance(text, str)
    low = text.lower()
    assert re.search(r"rows in\D{0,40}\b4\b", low), text
    assert re.search(r"loaded\D{0,40}\b2\b", low), text
    assert re.search(r"rejected\D{0,40}\b2\b", low), text
    assert "fields" in low, text


# ---------------------------------------------------------------------------------------------
# idempotent upsert by key
# ---------------------------------------------------------------------------------------------


def test_ingesting_the_same_files_twice_changes_nothing(base):
    """Second run of customers / products / orders / the Excel orders: inserted 0, updated 0,
    unchanged = loaded (5, 3, 6, 4), the same reject again, and identical data tables."""
    first = {"orders.csv": ingest(fx("orders.csv"), "orders", con=base)}
    first["orders_excel_serial.xlsx"] = ingest(fx("orders_excel_serial.xlsx"), "orders", con=base)
    before = data_snapshot(base)
    runs_before = base.table("ingest_runs").count().execute()
    for name, table, n, rejected in (
        ("customers.csv", "customers", 5, 0),
        ("products.csv", "products", 3, 0),
        ("orders.csv", "orders", 6, 0),
        ("orders_excel_serial.xlsx", "orders", 4, 1),
    ):
        again = ingest(fx(name), table, con=base)
        assert (again.inserted, again.updated, again.unchanged) == (0, 0, n), name
        assert (again.loaded, again.rejected) == (n, rejected), name
        assert again.rows_in == again.loaded + again.rejected
    assert data_snapshot(base) == before
    assert base.table("ingest_runs").count().execute() == runs_before + 4
    run_ids = base.table("ingest_runs").to_pandas()["run_id"]
    assert run_ids.is_unique


def test_changed_file_updates_only_changed_rows_and_keeps_surrogates(base):
    """customers_changed.csv after customers.csv: 7 in = 7 loaded = inserted 2 (C006, C007) +
    updated 2 (C002 city 天津, C004 tier gold) + unchanged 3 (C001, C003, C005).

    Existing customers keep their customer_sk; the new ones get new, distinct surrogates.
    """
    before = by_key(base, "customers")
    res = ingest(fx("customers_changed.csv"), "customers", con=base)
    check(res, rows_in=7, loaded=7, con=base)
    assert (res.inserted, res.updated, res.unchanged) == (2, 2, 3)
    after = by_key(base, "customers")
    assert sorted(after) == ["C001", "C002", "C003", "C004", "C005", "C006", "C007"]
    for k in ("C001", "C003", "C005"):
        assert {c: _cell(v) for c, v in after[k].items()} == {
            c: _cell(v) for c, v in before[k].items()
        }
    for k in before:
        assert after[k]["customer_sk"] == before[k]["customer_sk"]
    assert (after["C002"]["city"], after["C002"]["province"]) == ("天津", "天津")
    assert after["C004"]["membership_tier"] == "gold"
    assert after["C004"]["name"] == "王芳"
    old = {r["customer_sk"] for r in before.values()}
    new = {after["C006"]["customer_sk"], after["C007"]["customer_sk"]}
    assert len(new) == 2 and all(pd.notna(s) for s in new) and not (new & old)


# ---------------------------------------------------------------------------------------------
# files that fail as a whole: IngestError, warehouse untouched
# ---------------------------------------------------------------------------------------------

FAILING = [
    pytest.param("customers_empty.csv", "customers", (), id="empty-0-bytes"),
    pytest.param("customers_blank.csv", "customers", (), id="whitespace-only"),
    pytest.param("customers_wrong_header.csv", "customers", ("customer_id",), id="wrong-header"),
    pytest.param("customers.json", "customers", (), id="unsupported-extension"),
    pytest.param("customers_corrupt.xlsx", "customers", (), id="corrupt-xlsx"),
    pytest.param("orders_corrupt.parquet", "orders", (), id="corrupt-parquet"),
]


@pytest.mark.parametrize(("name", "table", "missing"), FAILING)
def test_failing_file_raises_and_leaves_warehouse_unchanged(base, name, table, missing):
    """The file cannot be ingested at all: IngestError (a ValueError) naming the file (and, for
    a bad header, every missing required column); every table, ingest_runs and ingest_rejects
    included, is exactly as before."""
    ingest(fx("orders.csv"), "orders", con=base)
    ingest(fx("customers_ragged.csv"), "customers", con=base)
    before = snapshot(base)
    assert before["ingest_rejects"][1], "the warehouse should hold some rejects already"
    with pytest.raises(IngestError) as info:
        ingest(fx(name), table, con=base)
    err = info.value
    assert isinstance(err, ValueError)
    assert Path(err.file).name == name
    assert hasattr(err, "row") and hasattr(err, "column")
    msg = str(err)
    assert name in msg
    for col in missing:
        assert re.search(rf"\b{col}\b", msg.replace(str(fx(name)), "")), msg
    assert snapshot(base) == before


def test_failing_file_with_db_path_leaves_warehouse_unchanged(tmp_path):
    """Through ``db=``: the wrong-header file fails; the warehouse file is exactly as before."""
    wh = tmp_path / "wh.duckdb"
    ingest(fx("customers.csv"), "customers", db=wh)
    c = db.connect(wh, read_only=True)
    before = snapshot(c)
    c.disconnect()
    with pytest.raises(IngestError, match="customers_wrong_header.csv"):
        ingest(fx("customers_wrong_header.csv"), "customers", db=wh)
    c = db.connect(wh, read_only=True)
    try:
        assert snapshot(c) == before
    finally:
        c.disconnect()


# ---------------------------------------------------------------------------------------------
# persistence and privacy of the rejects
# ---------------------------------------------------------------------------------------------


def test_db_argument_opens_and_closes_the_warehouse(tmp_path):
    """``db=`` instead of ``con``: the file is created, written and released (5 customers)."""
    wh = tmp_path / "new" / "wh.duckdb"
    res = ingest(fx("customers.csv"), "customers", db=wh)
    check(res, rows_in=5, loaded=5)
    c = db.connect(wh, read_only=True)
    try:
        assert c.table("customers").count().execute() == 5
        assert c.table("ingest_runs").count().execute() == 1
    finally:
        c.disconnect()


PII_IN_REJECTED_ROWS = [
    # customers_ragged.csv rows 3 and 4
    "李娜",
    "王芳",
    "13700001234",
    "wangfang@example.com",
    # customers_duplicate_keys.csv rows 4 and 6
    "赵敏",
    "13600009999",
    "zhaomin@example.com",
]


def test_rejects_persist_across_reconnect_and_mask_pii(tmp_path):
    """ingest_rejects / ingest_runs survive closing and reopening the warehouse file.

    customers_ragged.csv → rows 3, 4 (whole row); customers_duplicate_keys.csv → rows 4, 6
    (customer_id). No name, phone or email of a rejected row appears unmasked anywhere in
    ingest_rejects; values of PII columns are masked (张** / 138****1234 / a***@x.com).
    """
    wh = tmp_path / "wh.duckdb"
    c = db.connect(wh, read_only=False)
    ragged = ingest(fx("customers_ragged.csv"), "customers", con=c)
    dups = ingest(fx("customers_duplicate_keys.csv"), "customers", con=c)
    c.disconnect()

    c = db.connect(wh, read_only=True)
    try:
        rj = c.table("ingest_rejects").to_pandas()
        runs = c.table("ingest_runs").to_pandas()
    finally:
        c.disconnect()
    assert ragged.run_id != dups.run_id
    assert set(rj["run_id"]) == {ragged.run_id, dups.run_id}
    r1, r2 = rj[rj["run_id"] == ragged.run_id], rj[rj["run_id"] == dups.run_id]
    assert _pairs(r1) == {(3, None), (4, None)}
    assert _pairs(r2) == {(4, "customer_id"), (6, "customer_id")}
    assert {Path(f).name for f in r1["file"]} == {"customers_ragged.csv"}
    assert {Path(f).name for f in r2["file"]} == {"customers_duplicate_keys.csv"}
    assert set(rj["table_name"]) == {"customers"}
    assert set(r2["value"]) == {"D001"}
    assert all("duplicate key" in r.lower() for r in r2["reason"])

    text = " | ".join(str(v) for v in rj.astype(str).to_numpy().ravel())
    for pii in PII_IN_REJECTED_ROWS:
        assert pii not in text, f"unmasked PII {pii!r} in ingest_rejects"
    masked = {
        "name": r"^.\*\*$",
        "phone": r"^(\d{3}\*{4}\d{4}|\**)$",
        "email": r"^.\*\*\*@.+$",
    }
    for _, r in rj.iterrows():
        if r["column_name"] in masked and isinstance(r["value"], str) and r["value"].strip():
            assert re.match(masked[r["column_name"]], r["value"]), r.to_dict()

    runs = runs.set_index("run_id")
    assert (runs.loc[ragged.run_id, "rows_in"], runs.loc[ragged.run_id, "rejected"]) == (4, 2)
    assert (runs.loc[dups.run_id, "rows_in"], runs.loc[dups.run_id, "rejected"]) == (5, 2)
    assert runs.loc[dups.run_id, "loaded"] == 3


# ---------------------------------------------------------------------------------------------
# the fixtures themselves
# ---------------------------------------------------------------------------------------------


def _load_make_fixtures():
    spec = importlib.util.spec_from_file_location("make_fixtures", FIXTURES / "make_fixtures.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def _xlsx_values(path: Path) -> dict[str, list[tuple]]:
    wb = openpyxl.load_workbook(path)
    return {ws.title: list(ws.iter_rows(values_only=True)) for ws in wb.worksheets}


def test_committed_fixtures_match_the_generator(tmp_path):
    """Every committed fixture equals what make_fixtures.py builds (edit the script, not files)."""
    built = _load_make_fixtures().build(tmp_path)
    assert len(built) >= 20
    for new in built:
        old = FIXTURES / new.name
        assert old.exists(), f"{new.name} is missing; run tests/fixtures/make_fixtures.py"
        if new.suffix == ".parquet" and new.read_bytes()[:4] == b"PAR1":
            assert pq.read_table(old).equals(pq.read_table(new)), new.name
        elif new.suffix == ".xlsx" and new.read_bytes()[:2] == b"PK":
            assert _xlsx_values(old) == _xlsx_values(new), new.name
        else:
            assert old.read_bytes() == new.read_bytes(), new.name


def test_fixture_sanity():
    """The encodings and cell types the tests rely on are really in the files."""
    gbk = fx("customers_gbk.csv").read_bytes()
    assert "张伟".encode("gbk") in gbk
    with pytest.raises(UnicodeDecodeError):
        gbk.decode("utf-8")
    assert fx("customers_utf8_bom.csv").read_bytes().startswith(b"\xef\xbb\xbfcustomer_id,")
    assert fx("customers_empty.csv").stat().st_size == 0
    cells = _xlsx_values(fx("orders_excel_serial.xlsx"))["订单"]
    order_ts = [row[3] for row in cells[1:]]
    assert order_ts[0] == 45352 and isinstance(order_ts[1], datetime)
    assert order_ts[2] == "45354" and isinstance(order_ts[3], datetime | date)
    assert [row[0] for row in cells[1:]] == ["000101", "000102", "000103", "000104", "000105"]


def test_top_reasons_count_every_reject_not_only_those_kept_in_the_result(
    base, tmp_path, monkeypatch
):
    """25 orders for customers nobody loaded, the result keeping only the first 10 rejects:
    the report's top reason still counts all 25 (it said 10,000 of 30,987 before)."""
    monkeypatch.setattr(ingest_module, "MAX_REJECTS_IN_RESULT", 10)
    f = tmp_path / "orders.csv"
    f.write_text(
        "客户编号,下单时间,金额\n"
        + "".join(f"X{i:03d},2024-03-01,10\n" for i in range(25))
        + "C001,2024-03-01,10\n",
        encoding="utf-8",
    )
    res = ingest(f, "orders", con=base)
    assert (res.rows_in, res.loaded, res.rejected, len(res.rejects)) == (26, 1, 25, 10)
    assert res.top_reasons == {"customer_id: customer_id '…' is not in customers": 25}
    assert "      25  customer_id: customer_id '…' is not in customers" in res.report()
