"""Issue 17's ingest cases: each hostile file through ``crmkit ingest``."""

from __future__ import annotations

from pathlib import Path

from bench.hostile_probe import (
    FIXTURES,
    Ctx,
    Row,
    _counts,
    _no_traceback,
    _reconciles,
    _reject_text,
    base_warehouse,
    fixture,
    fx,
    ingest,
    query,
    rejects,
    summary_codes,
)

# ---------------------------------------------------------------------------------------------
# ingest
# ---------------------------------------------------------------------------------------------


def probe_runaway_quote(ctx: Ctx) -> list[Row]:
    d = ctx.folder("runaway")
    src = fixture(d, "hostile_runaway_quote.csv")
    db = d / "w.duckdb"
    run = ingest(db, "customers", src)
    names = fx.RUNAWAY_NAMES.split()
    expected = {f"H{i:02d}": n for i, n in enumerate(names, start=1) if i != 3}
    stored = dict(query(db, "SELECT customer_id, name FROM customers"))
    rej = rejects(db)
    now = (
        f"exit {run.code}; {_counts(run)}; reject {_reject_text(rej[0] if rej else None)} "
        "(a whole-row reject keeps no value); "
        f"stored {len(stored)} customers H01, H02, H04–H19 with their names "
        f"(H04 {stored.get('H04')}, H19 {stored.get('H19')})"
    )
    checks = {
        "exit 1": run.code == 1,
        "19 in = 18 + 1": _reconciles(run, 19, 18, 1),
        "reject is row 4": [r[0] for r in rej] == [4],
        "rows 5-20 stored as written": stored == expected,
    }
    return [
        Row(
            "runaway_quote",
            "ingest",
            "runaway quote in row 4 of a 20-row customers file",
            "one unclosed quote in row 4 of a 20-row customers file swallowed the 16 rows after "
            "it (rows in 3 = 2 loaded + 1 rejected, reject value NULL)",
            now,
            checks,
            {**run.facts(), "rejects": rej},
        )
    ]


def probe_mixed_encoding(ctx: Ctx) -> list[Row]:
    d = ctx.folder("mixed_encoding")
    db = base_warehouse(d, "customers.csv")
    src = fixture(d, "hostile_mixed_encoding.csv")
    before = query(db, "SELECT customer_id, name FROM customers ORDER BY 1")
    run = ingest(db, "customers", src)
    after = query(db, "SELECT customer_id, name FROM customers ORDER BY 1")
    mojibake = [r for r in after if "鍛" in r[0] + (r[1] or "")]
    now = (
        f"exit {run.code}; {run.err1!r}; customers {len(before)} before, {len(after)} after, "
        f"{len(mojibake)} mojibake values"
    )
    checks = {
        "exit 2": run.code == 2,
        "names row 5": ", row 5:" in run.err1,
        "says mixed encodings": "mixes encodings" in run.err1,
        "nothing written": before == after,
        "no mojibake": not mojibake,
    }
    return [
        Row(
            "mixed_encoding",
            "ingest",
            "UTF-8 file with one GBK line near the top (row 5)",
            "a UTF-8 file with one GBK line near the top was decoded as GB18030 and every UTF-8 "
            "row stored as mojibake (周九 → 鍛ㄤ節, the id too)",
            now,
            checks,
            run.facts(),
        )
    ]


#: The three ambiguous amounts of the issue: (order id in hostile_amounts.csv, in
#: hostile_amounts_decimal_comma.csv, amount as written, before, stored with --decimal-comma).
AMBIGUOUS = [
    ("A05", "D02", "1.234,5", "1.23", "1234.50"),
    ("A06", "D03", "12,34", "1234.00", "12.34"),
    ("A07", "D10", "12.345", "12.35", "12345.00"),
]


def probe_amounts(ctx: Ctx) -> list[Row]:
    d = ctx.folder("amounts")
    db = base_warehouse(d, "customers.csv")
    plain = ingest(db, "orders", fixture(d, "hostile_amounts.csv"))
    plain_rej = {r[3]: r for r in rejects(db)}
    comma = ingest(
        db, "orders", fixture(d, "hostile_amounts_decimal_comma.csv"), extra=["--decimal-comma"]
    )
    comma_rej = {r[3]: r for r in rejects(db)}
    stored = {k: f"{v:.2f}" for k, v in query(db, "SELECT order_id, amount FROM orders")}
    rows = []
    for plain_id, comma_id, written, was, decimal in AMBIGUOUS:
        r = plain_rej.get(written)
        rows.append(
            Row(
                f"amount_{written}",
                "ingest",
                f"amount {written} without --decimal-comma",
                f"amounts `{written}` → {was}, silently",
                f"exit {plain.code}; {_counts(plain)}; {plain_id} {_reject_text(r)}; "
                f"{plain_id} stored: {stored.get(plain_id, 'no')}; unambiguous A01 1234.5 → "
                f"{stored.get('A01')}, A03 ¥1,234.50 → {stored.get('A03')}",
                {
                    "exit 1": plain.code == 1,
                    "16 in = 7 + 9": _reconciles(plain, 16, 7, 9),
                    "rejected with a reason": r is not None and r[1] == "amount" and bool(r[2]),
                    "not stored": plain_id not in stored,
                    "unambiguous ones = 1234.50": stored.get("A01")
                    == stored.get("A03")
                    == "1234.50",
                },
                {**plain.facts(), "reject": r},
            )
        )
        r = comma_rej.get(written)
        rows.append(
            Row(
                f"amount_{written}_decimal_comma",
                "ingest",
                f"amount {written} with --decimal-comma",
                f"(no --decimal-comma then) `{written}` → {was}, silently",
                f"exit {comma.code}; {_counts(comma)}; {comma_id} stored: "
                f"{stored.get(comma_id, 'no')} ({_reject_text(r) if r else 'not rejected'})",
                {
                    "exit 1 (D07-D09 rejected)": comma.code == 1,
                    "11 in = 8 + 3": _reconciles(comma, 11, 8, 3),
                    f"stored {decimal}": stored.get(comma_id) == decimal and r is None,
                },
                comma.facts(),
            )
        )
    return rows


#: hostile_nonfinite_numbers.csv: quantity as written → its row.
NONFINITE = {"inf": 2, "NaN": 3, "1e308": 5, "9223372036854775808": 6}


def probe_nonfinite(ctx: Ctx) -> list[Row]:
    d = ctx.folder("nonfinite")
    db = base_warehouse(d, "customers.csv", "products.csv")
    files = [fixture(d, "hostile_nonfinite_numbers.csv"), FIXTURES / "orders_corrupt.parquet"]
    files.append(FIXTURES / "orders.csv")
    run = ingest(db, "orders", *files)
    rej = {(r[0], r[1]): r for r in rejects_of(db, files[0])}
    stored = dict(query(db, "SELECT order_id, quantity FROM orders"))
    summary = run.out[run.out.find("summary of") :].splitlines()
    rows = []
    for written, line in NONFINITE.items():
        r = rej.get((line, "quantity"))
        label = "2^63" if written.startswith("922") else written
        rows.append(
            Row(
                f"quantity_{label}",
                "ingest",
                f"quantity {label} (whole-number column)",
                f"`{label}` in a whole-number column (quantity) → DuckDB ConversionException then "
                '"Current transaction is aborted", exit 1 (documented as "rows rejected")',
                f"{_counts(run)} (file exit 1); row {line}: {_reject_text(r)}; no traceback; "
                f"Q09 quantity {stored.get('Q09')}, Q10 {stored.get('Q10')}",
                {
                    "10 in = 2 + 8": _reconciles(run, 10, 2, 8),
                    "rejected per row": r is not None and r[3] == written,
                    "no traceback": _no_traceback(run),
                    "Q10 = 2^63-1 exactly": stored.get("Q10") == 2**63 - 1,
                },
                {**run.facts(), "reject": r},
            )
        )
    rows.append(
        Row(
            "later_files_tried",
            "ingest",
            "later files of the same command tried, per-file summary",
            "the later files of the same command never tried",
            f"exit {run.code} (the worst); orders.csv after the failed orders_corrupt.parquet: "
            f"{_counts(run, 1)}; summary: " + " / ".join(s.strip() for s in summary),
            {
                "exit 2 (worst)": run.code == 2,
                "orders.csv loaded 6": _reconciles(run, 6, 6, 0, 1)
                and {f"O00{i}" for i in range(1, 7)} <= set(stored),
                "summary of 3 files": len(summary) == 5 and "exit 2" in summary[0],
                "codes 1, 2, 0": summary_codes(summary) == [1, 2, 0],
            },
            run.facts(),
        )
    )
    return rows


def rejects_of(db: Path, file: Path) -> list[tuple]:
    return query(
        db,
        "SELECT row_number, column_name, reason, value FROM ingest_rejects WHERE file = ? "
        "ORDER BY row_number",
        [str(file)],
    )


def probe_parquet_nested(ctx: Ctx) -> list[Row]:
    d = ctx.folder("parquet")
    db = d / "w.duckdb"
    run = ingest(db, "customers", fixture(d, "hostile_nested.parquet"))
    stored = query(db, "SELECT customer_id, name FROM customers ORDER BY 1")
    ignored = next((line.strip() for line in run.out.splitlines() if "ignored" in line), "")
    return [
        Row(
            "parquet_nested",
            "ingest",
            "Parquet with an unmapped list and struct column",
            "a Parquet file with an unmapped list/struct column → ArrowNotImplementedError",
            f"exit {run.code}; {_counts(run)}; stored {stored}; {ignored!r}",
            {
                "exit 0": run.code == 0,
                "3 in = 3 + 0": _reconciles(run, 3, 3, 0),
                "values": stored == [("N01", "张伟"), ("N02", "李娜"), ("N03", "王芳")],
                "no traceback": _no_traceback(run),
            },
            run.facts(),
        )
    ]


def probe_gbk_far(ctx: Ctx) -> list[Row]:
    d = ctx.folder("gbk_far")
    run = ingest(d / "w.duckdb", "customers", fixture(d, "hostile_gbk_line_far.csv"))
    return [
        Row(
            "gbk_row_20002",
            "ingest",
            "GBK line at physical row 20002 of a UTF-8 file",
            "a GBK line at physical row 20002 reported as row 19992",
            f"exit {run.code}; {run.err1!r}",
            {
                "exit 2": run.code == 2,
                "names row 20002": ", row 20002:" in run.err1,
                "no warehouse left": not (d / "w.duckdb").exists(),
            },
            run.facts(),
        )
    ]


def probe_big_field(ctx: Ctx) -> list[Row]:
    d = ctx.folder("big_field")
    src = d / "big_field.csv"
    src.write_text(
        f"customer_id,name,city\nB01,{'x' * 1_048_576},上海\nB02,李娜,北京\nB03,王芳,杭州\n",
        encoding="utf-8",
    )
    db = d / "w.duckdb"
    run = ingest(db, "customers", src)
    rej = rejects(db)
    stored = query(db, "SELECT customer_id, name FROM customers ORDER BY 1")
    r = rej[0] if rej else None
    return [
        Row(
            "field_1mb_row_2",
            "ingest",
            "1 MB field in row 2 (1,048,576 characters)",
            "a 1 MB field in row 2 blamed on row 1 and the whole file refused",
            f"exit {run.code}; {_counts(run)}; reject row {r and r[0]}, "
            f"{r and (r[1] or '(whole row)')}: {r and r[2]}; stored {stored}",
            {
                "exit 1": run.code == 1,
                "3 in = 2 + 1": _reconciles(run, 3, 2, 1),
                "reject is row 2": [x[0] for x in rej] == [2],
                "rows 3-4 stored": stored == [("B02", "李娜"), ("B03", "王芳")],
            },
            {**run.facts(), "reject": r and (*r[:3], f"{len(r[3] or '')} characters")},
        )
    ]


def probe_unicode_spaces(ctx: Ctx) -> list[Row]:
    d = ctx.folder("unicode_spaces")
    db = d / "w.duckdb"
    run = ingest(db, "customers", fixture(d, "hostile_unicode_spaces.csv"))
    ids = [r[0] for r in query(db, "SELECT customer_id FROM customers ORDER BY 1")]
    rej = rejects(db)
    orders = ingest(db, "orders", fixture(d, "hostile_unicode_spaces_orders.csv"))
    links = query(db, "SELECT order_id, customer_id FROM orders ORDER BY 1")
    n_after = query(db, "SELECT count(*) FROM customers")[0][0]
    return [
        Row(
            "id_unicode_spaces",
            "ingest",
            "NBSP / U+3000 / zero-width / BOM / thin space around customer ids",
            "NBSP and U+3000 around ids are not trimmed (they create second customers)",
            f"exit {run.code}; {_counts(run)}; stored ids {ids}; rejects "
            + "; ".join(_reject_text(r) for r in rej),
            {
                "7 in = 5 + 2": _reconciles(run, 7, 5, 2),
                "ids trimmed": ids == ["U001", "U002", "U003", "U004", "U005"],
                "rows 7 (dup), 8 (inner ZW) rejected": [r[0] for r in rej] == [7, 8],
            },
            {**run.facts(), "rejects": rej},
        ),
        Row(
            "order_ids_unicode_spaces",
            "ingest",
            "orders for '\\u3000U001' and 'U002\\u00a0' (no second customers)",
            "NBSP and U+3000 around ids are not trimmed (they create second customers)",
            f"exit {orders.code}; {_counts(orders)}; orders {links}; customers still {n_after}",
            {
                "exit 0": orders.code == 0,
                "linked to U001, U002": links == [("W01", "U001"), ("W02", "U002")],
                "no second customers": n_after == 5,
            },
            orders.facts(),
        ),
    ]


#: hostile_excel_cells.xlsx: key → (case, before, rows, cell addresses the reasons name).
EXCEL = {
    "excel_formula": (
        "Excel formula without a cached value (C5)",
        "formula cells without a cached value … silently become NULL",
        [5],
        ["C5"],
    ),
    "excel_error_cells": (
        "Excel error cells #DIV/0! (D6), #N/A (C7)",
        "error cells (#DIV/0!, #N/A) silently become NULL",
        [6, 7],
        ["D6", "C7"],
    ),
    "excel_18_digit_id": (
        "Excel 18-digit numeric id 123456789012345678 (A3)",
        "18-digit numeric ids lose precision",
        [3],
        ["A3"],
    ),
}


def probe_excel(ctx: Ctx) -> list[Row]:
    d = ctx.folder("excel")
    db = d / "w.duckdb"
    run = ingest(db, "customers", fixture(d, "hostile_excel_cells.xlsx"))
    rej = {r[0]: r for r in rejects(db)}
    stored = dict(query(db, "SELECT customer_id, phone FROM customers"))
    rows = []
    for key, (case, before, lines, cells) in EXCEL.items():
        mine = [rej.get(n) for n in lines]
        rows.append(
            Row(
                key,
                "ingest",
                case,
                before,
                f"exit {run.code}; {_counts(run)}; "
                + "; ".join(_reject_text(r) for r in mine)
                + f"; stored ids {sorted(stored)}",
                {
                    "7 in = 3 + 4": _reconciles(run, 7, 3, 4),
                    "rejected": all(mine),
                    "reason names the cell": all(
                        r and c in r[2] for r, c in zip(mine, cells, strict=True)
                    ),
                    "15-digit id loads exactly": "123456789012345" in stored,
                },
                {**run.facts(), "rejects": mine},
            )
        )
    return rows
