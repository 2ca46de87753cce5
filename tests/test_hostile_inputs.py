"""Hostile inputs: files that used to load silently wrong, lose rows or crash ingest.

Each case is a fixture written by ``tests/fixtures/make_fixtures.py`` (its docstring lists what
each file holds and why) and checks rows in = loaded + rejected with the exact stored values and
reasons, or the exact error, exit code and an unchanged warehouse. Row numbers are physical: the
line (CSV) or sheet row (Excel) a row starts on, header = row 1; Parquet rows count from 1.

Before this suite (the probe of issue "Hardening"), in the same order: a runaway quote took the
16 rows after it into one rejected row; a stray quote gave S02 the phone of row 6 and lost rows
4-6; a row after a value with a line break was numbered one too low; a UTF-8 file with a GBK
line was stored as mojibake (周九 → 鍛ㄤ節, ids too); a GBK line past the detection sample was
blamed on row 19517 instead of 20002; a 140,000-character value failed the whole file "at row
1"; 1.234,5 → 1.23, 12,34 → 1234.00, 12.345 → 12.35, 0.125 → 0.13, 1,23,456 → 123456.00, 1e3 →
1000.00, all silently; inf / NaN / 1e308 / 2^63 in quantity aborted the transaction; ids with
NBSP, U+3000, zero-width space or BOM around them became new customers; a Parquet list or
struct column raised ArrowNotImplementedError and invalid UTF-8 a UnicodeDecodeError; Excel
error cells and formulas without a value loaded as NULL and an 18-digit number id loaded as
123456789012345696.
"""

from __future__ import annotations

import csv
import io
import random
from datetime import datetime
from decimal import Decimal
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from crmkit import cli, db, readers
from crmkit.ingest import IngestError, IngestResult, ingest

FIXTURES = Path(__file__).parent / "fixtures"


def fx(name: str) -> Path:
    return FIXTURES / name


@pytest.fixture
def con(tmp_path):
    c = db.connect(tmp_path / "warehouse.duckdb", read_only=False)
    yield c
    c.disconnect()


@pytest.fixture
def base(con):
    """customers.csv (C001-C005) and products.csv (P01-P03) loaded."""
    for name, table in (("customers.csv", "customers"), ("products.csv", "products")):
        assert ingest(fx(name), table, con=con).ok
    return con


def rejects(res: IngestResult) -> list[tuple[int, str | None, str, str | None]]:
    """(row, column, reason, value) of every reject, in row order."""
    df = res.rejects.astype(object).where(res.rejects.notna(), None)
    return [
        (int(r.row_number), r.column_name, r.reason, r.value) for r in df.itertuples(index=False)
    ]


def reconciles(res: IngestResult, rows_in: int, loaded: int, rejected: int) -> None:
    assert (res.rows_in, res.loaded, res.rejected) == (rows_in, loaded, rejected)
    assert res.rows_in == res.loaded + res.rejected


def rows(con, table: str, *columns: str) -> dict[str, tuple]:
    key = {"customers": "customer_id", "orders": "order_id"}[table]
    df = con.table(table).select(key, *columns).to_pandas()
    return {r[0]: tuple(r[1:]) for r in df.itertuples(index=False, name=None)}


def counts(con) -> dict[str, int]:
    return db.table_counts(con)


# ---------------------------------------------------------------------------------------------
# CSV records: a quote can cost its own row, never the rows after it
# ---------------------------------------------------------------------------------------------


def test_runaway_quote_rejects_only_the_row_it_opens_in(con):
    """hostile_runaway_quote.csv: 20 lines, H01-H19 on rows 2-20; row 4 (H03) opens a quote
    that never closes. 19 in = 18 loaded + 1 rejected (row 4, the whole row); the 16 rows after
    it are read on their own (before: 3 in = 2 loaded + 1 rejected, rows 5-20 lost)."""
    res = ingest(fx("hostile_runaway_quote.csv"), "customers", con=con)
    reconciles(res, 19, 18, 1)
    assert rejects(res) == [
        (
            4,
            None,
            'a quote (") opened in this row is never closed; the 16 lines after it are read on '
            "their own",
            'H03,"**,1**,杭**',  # the row's key, its other fields masked
        )
    ]
    stored = rows(con, "customers", "name", "phone")
    assert sorted(stored) == [f"H{i:02d}" for i in range(1, 20) if i != 3]
    assert stored["H02"] == ("李娜", "13700000002")
    assert stored["H04"] == ("刘洋", "13700000004")
    assert stored["H19"] == ("林雪", "13700000019")


def test_stray_quote_closing_rows_later_swallows_nothing(con):
    """hostile_stray_quote.csv: row 3 (S02) opens a quote that the quote in ``Bob "The
    Builder"`` on row 6 would close. 6 in = 5 loaded + 1 rejected (row 3); S05 keeps its quotes
    and its own phone (before: 3 in = 3 loaded, S02 stored with a 4-line name and row 6's phone
    13800000005 and city 成都, S03-S05 lost)."""
    res = ingest(fx("hostile_stray_quote.csv"), "customers", con=con)
    reconciles(res, 6, 5, 1)
    assert rejects(res) == [
        (
            3,
            None,
            'a quote (") opened in this row closes in the middle of a value in row 6; the 3 '
            "lines after it are read on their own",
            'S02,"**,1**,北**',
        )
    ]
    assert rows(con, "customers", "name", "phone", "city") == {
        "S01": ("张伟", "13800000001", "上海"),
        "S03": ("王芳", "13800000003", "杭州"),
        "S04": ("刘洋", "13800000004", "深圳"),
        "S05": ('Bob "The Builder"', "13800000005", "成都"),
        "S06": ("陈静", "13800000006", "西安"),
    }


def test_a_quoted_line_break_loads_and_later_rows_keep_their_line_numbers(con):
    """hostile_multiline_value.csv: L02's quoted name spans lines 3-4; L03 on line 5 has
    created_at 2023-13-40. 4 in = 3 loaded + 1 rejected at row 5 (before: row 4); the report
    counts the row with a line break."""
    res = ingest(fx("hostile_multiline_value.csv"), "customers", con=con)
    reconciles(res, 4, 3, 1)
    (row, column, reason, value), *more = rejects(res)
    assert (row, column, value, more) == (5, "created_at", "2023-13-40", [])
    assert reason.startswith("not a date-time; expected")
    assert (res.multiline_rows, res.first_multiline) == (1, (3, 4))
    assert "rows with line breaks in a quoted value: 1 (the first is row 3, lines 3-4)" in (
        res.report()
    )
    assert rows(con, "customers", "name") == {
        "L01": ("张伟",),
        "L02": ("李娜\n(北京分公司)",),
        "L04": ("刘洋",),
    }


def test_a_runaway_quote_that_hits_the_value_limit_rejects_only_its_row(tmp_path, con):
    """Row 3 opens a quote that never closes; rows 4-23 carry 10,000-character names. The quoted
    value grows by 10,005 characters a line from 9 ("unclosed" + line break) and passes the csv
    module's limit of 131,072 on its 14th line, row 17: row 3 is rejected and rows 4-24 read on
    their own. 23 in = 22 loaded + 1 rejected."""
    lines = ["customer_id,name", "R01,张伟", 'R02,"unclosed']
    lines += [f"R{i:02d},{'x' * 10_000}" for i in range(3, 23)] + ["R99,李娜"]
    f = tmp_path / "customers.csv"
    f.write_text("\n".join(lines) + "\n", encoding="utf-8")
    res = ingest(f, "customers", con=con)
    reconciles(res, 23, 22, 1)
    assert rejects(res) == [
        (
            3,
            None,
            'a value longer than 131,072 characters: a quote (") opened in this row runs on to '
            "row 17; the 14 lines after it are read on their own",
            'R02,"**',
        )
    ]
    stored = rows(con, "customers", "name")
    assert stored["R03"] == ("x" * 10_000,) and stored["R99"] == ("李娜",)


def test_a_value_over_the_csv_limit_rejects_its_own_row(con):
    """hostile_big_field.csv: row 2's name is 140,000 characters, over the csv module's limit
    of 131,072. 3 in = 2 loaded + 1 rejected at row 2 (before: the whole file refused "at row
    1")."""
    res = ingest(fx("hostile_big_field.csv"), "customers", con=con)
    reconciles(res, 3, 2, 1)
    assert rejects(res) == [
        (
            2,
            None,
            "a value longer than 131,072 characters (the most a CSV value may have)",
            "B01,x**,上**",  # not 140,000 characters
        )
    ]
    assert rows(con, "customers", "name") == {"B02": ("李娜",), "B03": ("王芳",)}


def _random_csv(rng: random.Random) -> str:
    values = ["a", "张伟", "", "x y", '"¥1,234.50"', '"a,b"', '"say ""hi"""', "é", "C0001"]
    values += ['"line1\nline2"', '"l1\r\nl2"', '"周九\r三"', '"\n"']
    lines = ["h1,h2,h3"]
    for _ in range(rng.randint(0, 25)):
        blank = rng.random() < 0.1
        lines.append("" if blank else ",".join(rng.choice(values) for _ in range(3)))
    eol = rng.choice(["\n", "\r\n", "\r"])
    return eol.join(lines) + rng.choice(["", eol])


def test_csv_rows_are_numbered_physically_whatever_the_block_size(tmp_path, monkeypatch):
    """150 random well-formed CSV texts (quoted commas, doubled quotes, line breaks of every
    kind inside values, blank lines, \\n / \\r\\n / \\r line ends, with or without a final one),
    read in blocks of 1, 2, 3, 5, 8, 64 bytes or 1 MiB: every row and its physical row number
    equal what Python's csv module reads from the whole text, the row being the line a record
    starts on (csv.reader.line_num before it + 1)."""
    rng = random.Random(20261207)
    f = tmp_path / "t.csv"
    for _ in range(150):
        text = _random_csv(rng)
        f.write_bytes(text.encode("utf-8"))
        monkeypatch.setattr(readers, "BLOCK_BYTES", rng.choice([1, 2, 3, 5, 8, 64, 1 << 20]))
        got = []
        for ch in readers.open_source(f).read({0: "a", 1: "b", 2: "c"}):
            assert ch.rejects == [], text
            columns = [c.to_pylist() for c in ch.columns]
            got += list(zip(ch.rows, *columns, strict=True))
        expected, before = [], 0
        reader = csv.reader(io.StringIO(text, newline=""))
        for fields in reader:
            row, before = before + 1, reader.line_num
            if row > 1 and any(v.strip() for v in fields):
                expected.append((row, *fields))
        assert got == expected, repr(text)


# ---------------------------------------------------------------------------------------------
# Encodings: one per file, never mojibake
# ---------------------------------------------------------------------------------------------


def test_utf8_file_with_a_gbk_line_fails_naming_that_line(base, capsys, tmp_path):
    """hostile_mixed_encoding.csv: UTF-8 (周九, id 会员周九) but row 5 in GBK: exit 2, the error
    names row 5 and the first byte that is not UTF-8 (0xc9 of 深圳: the GBK bytes of 郑十一
    before it happen to be valid UTF-8), and nothing is written (before: 19 rows stored as
    GB18030 mojibake, 周九 → 鍛ㄤ節)."""
    path = fx("hostile_mixed_encoding.csv")
    with pytest.raises(IngestError) as e:
        ingest(path, "customers", con=base)
    assert (e.value.row, e.value.column) == (5, None)
    message = (
        f"{path}, row 5: this line is not UTF-8 text (byte 0xc9 at byte 12 of the line) while "
        "the lines before it are: the file mixes encodings (this line reads as GBK); save the "
        "whole file as UTF-8 and load it again"
    )
    assert str(e.value) == message
    before = counts(base)
    wh = tmp_path / "warehouse.duckdb"
    base.disconnect()
    args = ["ingest", str(path), "--table", "customers", "--db", str(wh), "--quiet"]
    assert cli.main(args) == 2
    assert f"crmkit ingest: {message}" in capsys.readouterr().err
    con = db.connect(wh, read_only=True)
    try:
        assert counts(con) == before and before["customers"] == 5
    finally:
        con.disconnect()


@pytest.mark.parametrize("sample", [None, 4096])
def test_gbk_line_far_down_is_named_by_its_physical_row(con, monkeypatch, sample):
    """hostile_gbk_line_far.csv: row 2 UTF-8 (周九), rows 3-20001 ASCII, row 20002 GBK (王芳):
    the error names row 20002, whether the line lies inside the sample the encoding is detected
    from (1 MiB) or beyond it (4 KiB). Before: mojibake with the 1 MiB sample, "row 19517" with
    the small one (the text decoder ran ahead of the CSV reader)."""
    if sample:
        monkeypatch.setattr(readers, "SAMPLE_BYTES", sample)
    with pytest.raises(IngestError) as e:
        ingest(fx("hostile_gbk_line_far.csv"), "customers", con=con)
    assert e.value.row == 20002
    assert "this line is not UTF-8 text (byte 0xcd at byte 8 of the line)" in str(e.value)
    assert counts(con).get("customers", 0) == 0


def test_gbk_file_with_a_utf8_line_fails_naming_that_line(con):
    """hostile_utf8_line_in_gbk.csv: GBK, but row 4 (周九) in UTF-8: the error names row 4
    (before: loaded as 鍛ㄤ節)."""
    path = fx("hostile_utf8_line_in_gbk.csv")
    with pytest.raises(IngestError) as e:
        ingest(path, "customers", con=con)
    assert str(e.value) == (
        f"{path}, row 4: this line is UTF-8 text while the file is GBK (GB18030): the file "
        "mixes encodings; save the whole file in one encoding (UTF-8) and load it again"
    )


def test_gbk_line_that_is_valid_utf8_by_chance_is_rejected(con):
    """hostile_gbk_valid_utf8.csv: row 3's GBK bytes of 郑十一 are valid UTF-8 (֣ʮһ). 5 in =
    4 loaded + 1 rejected (row 3, name); José Müller and Иван, UTF-8 without Chinese, load
    (before: J02 stored as ֣ʮһ)."""
    res = ingest(fx("hostile_gbk_valid_utf8.csv"), "customers", con=con)
    reconciles(res, 5, 4, 1)
    assert rejects(res) == [
        (
            3,
            "name",
            "reads as Chinese only as GBK text while the file is UTF-8: this row seems to be "
            "GBK; save the whole file in one encoding and load the row again",
            None,
        )
    ]
    assert rows(con, "customers", "name") == {
        "J01": ("周九",),
        "J03": ("José Müller",),
        "J04": ("Иван",),
        "J05": ("吴十",),
    }


@pytest.mark.parametrize("sample", [None, 20])
def test_gbk_whose_chinese_starts_after_the_sample_loads_as_gbk(con, monkeypatch, sample):
    """hostile_gbk_after_ascii.csv: rows 2-4 ASCII, rows 5-6 GBK. With a 20-byte sample the
    encoding is detected as UTF-8 and switched to GB18030 at row 5, where the first non-ASCII
    line reads as GBK: 5 in = 5 loaded either way, 张伟 and 李娜 intact."""
    if sample:
        monkeypatch.setattr(readers, "SAMPLE_BYTES", sample)
    res = ingest(fx("hostile_gbk_after_ascii.csv"), "customers", con=con)
    reconciles(res, 5, 5, 0)
    assert res.encoding == "gb18030"
    stored = rows(con, "customers", "name")
    assert stored["A04"] == ("张伟",) and stored["A05"] == ("李娜",) and stored["A01"] == ("Alice",)


# ---------------------------------------------------------------------------------------------
# Numbers
# ---------------------------------------------------------------------------------------------

DECIMAL_COMMA = (
    "written with a decimal comma (1.234,5); pass --decimal-comma if the file writes decimals "
    "with a comma"
)
AMBIGUOUS = (
    "ambiguous: a point before exactly 3 digits may be a decimal point or a thousands separator "
    "(1.234 = 1.234 or 1234?); write the number without thousands separators"
)
CENTS = "more than 2 decimal places; amounts are kept to the cent"
GROUPS = "thousands separators must split the digits in groups of 3 (1,234,567)"
SCIENTIFIC = "written in scientific notation; write the number in full"
NOT_FINITE = "not a finite number"
POINT = "has a decimal point, but the file is read with --decimal-comma (1.234,5 or 1 234,5)"


def test_amounts_accept_only_unambiguous_forms(base):
    """hostile_amounts.csv (order A01 on row 2 … A16 on row 17): 16 in = 7 loaded + 9 rejected.

    1234.5, "1,234.5", "¥1,234.50", 1 234.50, 1234.500, 1234.5元 → 1234.50 and ￥99 → 99.00.
    Rejected: 1.234,5 / 12,34 / 1.234.567 (decimal comma), 12.345 / 12.000 (a point before 3
    digits), 0.125 (3 decimals), 1,23,456 (groups of 2), 1e3, 12345678901234567 (17 digits).
    Before: 14 loaded, 1.234,5 → 1.23, 12,34 → 1234.00, 12.345 → 12.35, 0.125 → 0.13.
    """
    res = ingest(fx("hostile_amounts.csv"), "orders", con=base)
    reconciles(res, 16, 7, 9)
    assert rejects(res) == [
        (6, "amount", DECIMAL_COMMA, "1.234,5"),
        (7, "amount", DECIMAL_COMMA, "12,34"),
        (8, "amount", AMBIGUOUS, "12.345"),
        (10, "amount", CENTS, "0.125"),
        (11, "amount", GROUPS, "1,23,456"),
        (14, "amount", SCIENTIFIC, "1e3"),
        (
            15,
            "amount",
            "too large for an amount (at most 16 digits before the point)",
            "12345678901234567",
        ),  # fmt: skip
        (16, "amount", AMBIGUOUS, "12.000"),
        (17, "amount", DECIMAL_COMMA, "1.234.567"),
    ]
    amount = {k: v[0] for k, v in rows(base, "orders", "amount").items() if k.startswith("A")}
    cents = Decimal("1234.50")
    assert amount == {
        "A01": cents,
        "A02": cents,
        "A03": cents,
        "A04": cents,
        "A08": cents,
        "A11": Decimal("99.00"),
        "A12": cents,
    }


def test_decimal_comma_amounts(base):
    """hostile_amounts_decimal_comma.csv with decimal_comma (D01 on row 2 … D11 on row 12):
    11 in = 8 loaded + 3 rejected. 1 234,5 / 1.234,5 / 1234,5 / ¥1.234,50 / 1 234,50 (narrow
    no-break space) → 1234.50, 12,34 → 12.34, 12 → 12.00, 12.345 → 12345.00 (a thousands point
    here). Rejected: 1,234.5 and 1234.5 (a decimal point), 12,345 (3 decimals)."""
    res = ingest(fx("hostile_amounts_decimal_comma.csv"), "orders", con=base, decimal_comma=True)
    reconciles(res, 11, 8, 3)
    assert rejects(res) == [
        (8, "amount", POINT, "1,234.5"),
        (9, "amount", CENTS, "12,345"),
        (10, "amount", POINT, "1234.5"),
    ]
    cents = Decimal("1234.50")
    assert {k: v[0] for k, v in rows(base, "orders", "amount").items() if k.startswith("D")} == {
        "D01": cents,
        "D02": cents,
        "D03": Decimal("12.34"),
        "D04": cents,
        "D05": cents,
        "D06": Decimal("12.00"),
        "D10": Decimal("12345.00"),
        "D11": cents,
    }


def test_decimal_comma_is_a_cli_option(base, tmp_path, capsys):
    """``crmkit ingest --decimal-comma``: the same 8 loaded + 3 rejected, exit 1."""
    wh = tmp_path / "warehouse.duckdb"
    base.disconnect()
    path = fx("hostile_amounts_decimal_comma.csv")
    args = ["ingest", str(path), "--table", "orders", "--db", str(wh), "--quiet"]
    assert cli.main([*args, "--decimal-comma"]) == 1
    out = capsys.readouterr().out
    assert "rows in           11" in out and "loaded             8" in out


def test_inf_nan_and_overflow_are_rejected_per_row(base):
    """hostile_nonfinite_numbers.csv (Q01 on row 2 … Q10 on row 11): 10 in = 2 loaded + 8
    rejected; Q10's quantity 9223372036854775807 (the largest whole number) loads exactly.
    Before: DuckDB ConversionException, then "Current transaction is aborted"."""
    res = ingest(fx("hostile_nonfinite_numbers.csv"), "orders", con=base)
    reconciles(res, 10, 2, 8)
    too_large = "too large for a whole number (at most 9,223,372,036,854,775,807)"
    assert rejects(res) == [
        (2, "quantity", NOT_FINITE, "inf"),
        (3, "quantity", NOT_FINITE, "NaN"),
        (4, "quantity", NOT_FINITE, "Infinity"),
        (5, "quantity", SCIENTIFIC, "1e308"),
        (6, "quantity", too_large, "9223372036854775808"),
        (7, "amount", NOT_FINITE, "inf"),
        (8, "amount", NOT_FINITE, "NaN"),
        (9, "amount", SCIENTIFIC, "1e308"),
    ]
    stored = rows(base, "orders", "quantity", "amount")
    assert stored["Q09"] == (2, Decimal("10.00"))
    assert stored["Q10"] == (9223372036854775807, Decimal("10.00"))


# ---------------------------------------------------------------------------------------------
# Ids
# ---------------------------------------------------------------------------------------------


def test_unicode_spaces_around_ids_are_trimmed(con):
    """hostile_unicode_spaces.csv: ids wrapped in NBSP, U+3000, a zero-width space, a BOM and a
    thin space load as U001-U005; row 7 "U001 " is U001 again (duplicate key) and row 8 has a
    zero-width space inside. 7 in = 5 loaded + 2 rejected. Then the orders of "\\u3000U001" and
    "U002\\u00a0" belong to U001 and U002 (before: 7 customers with the spaces kept, and both
    orders rejected as unknown customers)."""
    res = ingest(fx("hostile_unicode_spaces.csv"), "customers", con=con)
    reconciles(res, 7, 5, 2)
    assert rejects(res) == [
        (7, "customer_id", "duplicate key; first at row 2", "U001 "),
        (
            8,
            "customer_id",
            "has an invisible character inside (a zero-width space, a line break …); remove it",
            "U0\u200b06",
        ),
    ]
    customers = rows(con, "customers", "name", "customer_sk")
    assert {k: v[0] for k, v in customers.items()} == {
        "U001": "张伟",
        "U002": "李娜",
        "U003": "王芳",
        "U004": "刘洋",
        "U005": "陈静",
    }
    orders = ingest(fx("hostile_unicode_spaces_orders.csv"), "orders", con=con)
    reconciles(orders, 2, 2, 0)
    assert rows(con, "orders", "customer_id", "customer_sk", "amount") == {
        "W01": ("U001", customers["U001"][1], Decimal("10.00")),
        "W02": ("U002", customers["U002"][1], Decimal("20.00")),
    }


# ---------------------------------------------------------------------------------------------
# Parquet and Excel
# ---------------------------------------------------------------------------------------------


def test_parquet_unmapped_nested_columns_are_ignored(con):
    """hostile_nested.parquet: customer_id, name + a list column tags and a struct column
    address: 3 in = 3 loaded, tags and address listed as ignored (before:
    ArrowNotImplementedError)."""
    res = ingest(fx("hostile_nested.parquet"), "customers", con=con)
    reconciles(res, 3, 3, 0)
    assert res.ignored_columns == ["tags", "address"]
    assert rows(con, "customers", "name") == {"N01": ("张伟",), "N02": ("李娜",), "N03": ("王芳",)}


def test_parquet_invalid_utf8_rejects_its_row_naming_the_column(con):
    """hostile_bad_utf8.parquet: row 2's name is not UTF-8 (nor is the ignored note of row 3):
    3 in = 2 loaded + 1 rejected (row 2, name) (before: UnicodeDecodeError)."""
    res = ingest(fx("hostile_bad_utf8.parquet"), "customers", con=con)
    reconciles(res, 3, 2, 1)
    assert rejects(res) == [(2, "name", "not valid UTF-8 text", None)]
    assert res.ignored_columns == ["note"]
    assert rows(con, "customers", "name") == {"V01": ("张伟",), "V03": ("ok",)}


def test_parquet_mapped_nested_column_fails_naming_it(tmp_path, con):
    """A Parquet file whose customer_id is a struct: the file fails naming the column."""
    f = tmp_path / "customers.parquet"
    ids = pa.array([{"id": "C1"}], pa.struct([("id", pa.string())]))
    pq.write_table(pa.table({"customer_id": ids}), f)
    with pytest.raises(IngestError) as e:
        ingest(f, "customers", con=con)
    assert str(e.value) == (
        f"{f}, column 'customer_id': holds values of the Parquet type struct<id: string>, which "
        "cannot be read as the column 'customer_id'; map another column or flatten this one"
    )


def test_excel_error_cells_formulas_without_value_and_long_numbers(con):
    """hostile_excel_cells.xlsx: 7 in = 3 loaded + 4 rejected, each naming its cell: A3 the
    number 123456789012345678, C5 a formula never calculated, D6 #DIV/0!, C7 #N/A. Row 4's
    15-digit id loads; row 8's #REF! sits in the unmapped column E (备注) and is ignored.
    Before: 7 loaded, phone / created_at NULL and id 123456789012345696."""
    res = ingest(fx("hostile_excel_cells.xlsx"), "customers", con=con)
    reconciles(res, 7, 3, 4)
    assert rejects(res) == [
        (
            3,
            "customer_id",
            "cell A3 holds a number of more than 15 digits, of which Excel keeps only 15 (the "
            "last digits may be lost); format the column as text in Excel, type the values "
            "again and load it again",
            None,
        ),
        (
            5,
            "phone",
            "cell C5 holds a formula saved without its calculated value; open the workbook in "
            "Excel, let it calculate, save it and load it again",
            None,
        ),
        (6, "created_at", "cell D6 holds the Excel error #DIV/0!", "#DIV/0!"),
        (7, "phone", "cell C7 holds the Excel error #N/A", "#N/A"),
    ]
    assert res.ignored_columns == ["备注"]
    assert rows(con, "customers", "name", "phone", "created_at") == {
        "X01": ("张伟", "13800000001", datetime(2023, 1, 1)),
        "123456789012345": ("王芳", "13800000003", datetime(2023, 1, 3)),
        "X07": ("赵磊", "13800000007", datetime(2023, 1, 7)),
    }


# ---------------------------------------------------------------------------------------------
# Several files in one command
# ---------------------------------------------------------------------------------------------


def summary(out: str) -> list[list[str]]:
    """The rows of the multi-file summary, split on white space."""
    lines = out[out.index("summary of") :].splitlines()
    return [line.split() for line in lines[2:]]


def test_multi_file_ingest_goes_on_after_a_failed_file(tmp_path, capsys):
    """customers.csv (5 loaded), hostile_mixed_encoding.csv (fails, row 5) and
    hostile_runaway_quote.csv (18 loaded + 1 rejected) in one command: every file is tried,
    exit 2 (the worst), and the summary lists each with rows in, loaded, rejected and exit."""
    wh = tmp_path / "warehouse.duckdb"
    names = ["customers.csv", "hostile_mixed_encoding.csv", "hostile_runaway_quote.csv"]
    files = [str(fx(n)) for n in names]
    code = cli.main(["ingest", *files, "--table", "customers", "--db", str(wh), "--quiet"])
    assert code == 2
    out = capsys.readouterr().out
    assert "summary of 3 files (exit 2, the worst of them):" in out
    assert summary(out) == [
        [files[0], "5", "5", "0", "0", "all", "loaded"],
        [files[1], "-", "-", "-", "2", "failed"],
        [files[2], "19", "18", "1", "1", "rows", "rejected"],
    ]
    con = db.connect(wh, read_only=True)
    try:
        c = counts(con)
        assert (c["customers"], c["ingest_runs"], c["ingest_rejects"]) == (23, 2, 1)
    finally:
        con.disconnect()


def test_multi_file_ingest_goes_on_after_non_finite_numbers(base, tmp_path, capsys):
    """hostile_nonfinite_numbers.csv (2 loaded + 8 rejected) then orders.csv (6 loaded): the
    second file is ingested too (before: the first aborted the command), exit 1, 8 orders."""
    wh = tmp_path / "warehouse.duckdb"
    base.disconnect()
    files = [str(fx("hostile_nonfinite_numbers.csv")), str(fx("orders.csv"))]
    code = cli.main(["ingest", *files, "--table", "orders", "--db", str(wh), "--quiet"])
    assert code == 1
    assert summary(capsys.readouterr().out) == [
        [files[0], "10", "2", "8", "1", "rows", "rejected"],
        [files[1], "6", "6", "0", "0", "all", "loaded"],
    ]
    con = db.connect(wh, read_only=True)
    try:
        assert counts(con)["orders"] == 8
    finally:
        con.disconnect()
