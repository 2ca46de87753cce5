"""Tests for ``crmkit ingest FILE --table T --db PATH``, run as a subprocess.

Exit codes: 0 every row loaded; 1 some rows rejected (the reconciliation is printed); 2 the file
failed as a whole (the error, naming the file, goes to stderr and nothing is written). Expected
counts come from ``tests/fixtures/make_fixtures.py``.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from crmkit import db

#: Each test starts ``python -m crmkit`` one to three times (5–40 s a test): the in-process
#: parsing and exit codes are in tests/test_cli.py, ingest's own logic in tests/test_ingest.py.
pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "tests" / "fixtures"


def run_ingest(
    tmp_path: Path, name: str | Path, table: str, wh: Path, *extra: str
) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in {"CRMKIT_DB", "CRMKIT_PUBLISHED"}}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    env["PYTHONIOENCODING"] = "utf-8"
    return subprocess.run(
        [sys.executable, "-m", "crmkit", "ingest", str(FIXTURES / name), "--table", table]
        + ["--db", str(wh), *extra],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        encoding="utf-8",
        timeout=300,
    )


def counts(wh: Path) -> dict[str, int]:
    con = db.connect(wh, read_only=True)
    try:
        return db.table_counts(con)
    finally:
        con.disconnect()


def test_all_rows_loaded_exits_0(tmp_path):
    """customers.csv into a new warehouse file: 5 in = 5 loaded → exit 0, 5 customers stored."""
    wh = tmp_path / "wh.duckdb"
    p = run_ingest(tmp_path, "customers.csv", "customers", wh)
    assert p.returncode == 0, p.stderr
    c = counts(wh)
    assert c["customers"] == 5
    assert c["ingest_runs"] == 1
    assert c["ingest_rejects"] == 0
    assert not (tmp_path / "data").exists(), "--db must be used, not the default warehouse"


def test_some_rows_rejected_exits_1_and_prints_reconciliation(tmp_path):
    """customers_duplicate_keys.csv: 5 in = 3 loaded + 2 rejected (rows 4, 6: duplicate key)
    → exit 1; stdout shows rows in 5 / loaded 3 / rejected 2 and the duplicate-key reason."""
    wh = tmp_path / "wh.duckdb"
    p = run_ingest(tmp_path, "customers_duplicate_keys.csv", "customers", wh)
    assert p.returncode == 1, p.stdout + p.stderr
    out = p.stdout.lower()
    assert re.search(r"rows in\D{0,40}\b5\b", out), p.stdout
    assert re.search(r"loaded\D{0,40}\b3\b", out), p.stdout
    assert re.search(r"rejected\D{0,40}\b2\b", out), p.stdout
    assert "duplicate key" in out, p.stdout
    c = counts(wh)
    assert (c["customers"], c["ingest_rejects"], c["ingest_runs"]) == (3, 2, 1)


def test_orders_after_customers_and_products(tmp_path):
    """customers.csv, products.csv, orders.csv in turn: all exit 0; then
    orders_unknown_customer.csv: 3 in = 1 loaded + 2 rejected → exit 1, 7 orders in total."""
    wh = tmp_path / "wh.duckdb"
    for name, table in (
        ("customers.csv", "customers"),
        ("products.csv", "products"),
        ("orders.csv", "orders"),
    ):
        p = run_ingest(tmp_path, name, table, wh)
        assert p.returncode == 0, (name, p.stdout, p.stderr)
    p = run_ingest(tmp_path, "orders_unknown_customer.csv", "orders", wh)
    assert p.returncode == 1, p.stdout + p.stderr
    assert "customer_id" in p.stdout
    assert counts(wh)["orders"] == 7


@pytest.mark.parametrize(
    ("name", "table", "mentions"),
    [
        ("customers_empty.csv", "customers", ()),
        ("customers_wrong_header.csv", "customers", ("customer_id",)),
        ("customers.json", "customers", ()),
        ("orders_corrupt.parquet", "orders", ()),
    ],
)
def test_failed_file_exits_2_names_it_and_writes_nothing(tmp_path, name, table, mentions):
    """A file that fails as a whole → exit 2, stderr names the file (and the missing required
    columns), no traceback, and the warehouse (5 customers, 1 run) is unchanged."""
    wh = tmp_path / "wh.duckdb"
    assert run_ingest(tmp_path, "customers.csv", "customers", wh).returncode == 0
    before = counts(wh)
    p = run_ingest(tmp_path, name, table, wh)
    assert p.returncode == 2, p.stdout + p.stderr
    assert name in p.stderr
    for col in mentions:
        assert col in p.stderr
    assert "Traceback" not in p.stderr
    assert counts(wh) == before


def test_three_column_chinese_orders_with_add_missing(tmp_path):
    """客户编号, 下单时间, 金额 (3 rows: C1 twice at the same moment, C2) into an empty warehouse:
    without --add-missing 3 in = 0 loaded + 3 rejected → exit 1, the reason says to pass
    --add-missing; with it 3 loaded → exit 0, 2 derived customer stubs, 3 orders (the identical
    rows stay two); run again: 3 unchanged, still 3 orders."""
    orders = tmp_path / "订单.csv"
    orders.write_text(
        "客户编号,下单时间,金额\nC1,2024-03-01 10:00,99\nC1,2024-03-01 10:00,99\n"
        "C2,2024-03-05,20\n",
        encoding="utf-8",
    )
    wh = tmp_path / "wh.duckdb"
    p = run_ingest(tmp_path, orders, "orders", wh)
    assert p.returncode == 1, p.stdout + p.stderr
    assert re.search(r"rejected\D{0,40}\b3\b", p.stdout), p.stdout
    assert "customer_id 'C1' is not in customers; load customers first or pass --add-missing" in (
        p.stdout
    )
    for _ in range(2):
        p = run_ingest(tmp_path, orders, "orders", wh, "--add-missing")
        assert p.returncode == 0, p.stdout + p.stderr
    assert re.search(r"unchanged 3\b", p.stdout), p.stdout
    c = counts(wh)
    assert (c["orders"], c["customers"]) == (3, 2)
    con = db.connect(wh, read_only=True)
    try:
        assert con.table("customers").derived.execute().tolist() == [True, True]
    finally:
        con.disconnect()
