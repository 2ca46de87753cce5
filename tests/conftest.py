"""Shared fixtures: a tiny hand-checkable snapshot built from tests/fixtures through the real
ingest and publish path."""

from pathlib import Path

import pytest

import crmkit
from crmkit import db
from crmkit.ingest import ingest

FIXTURES = Path(__file__).parent / "fixtures"


@pytest.fixture(scope="session")
def tiny_snapshot(tmp_path_factory) -> Path:
    """customers.csv (5), products.csv (3), orders.csv (6) ingested and published.

    Clock (``as_of``): the latest order, 2024-04-02 10:30.
    """
    root = tmp_path_factory.mktemp("tiny")
    wh = root / "warehouse.duckdb"
    con = db.connect(wh, read_only=False)
    for table in ("customers", "products", "orders"):
        res = ingest(FIXTURES / f"{table}.csv", table, con=con)
        assert res.ok, res.report()
    con.disconnect()
    return crmkit.publish(wh, root / "published.duckdb").path


#: The shared demo: large enough for every planted signal to be recovered, small enough to
#: build in ~6 s (+ ~15 s publish) once per test session.
DEMO_CUSTOMERS = 20_000
DEMO_SEED = 42


@pytest.fixture(scope="session")
def demo_warehouse(tmp_path_factory) -> Path:
    """The demo warehouse (20,000 customers, seed 42, as_of 2026-09-30), shared by the session.

    Tests must not write to it: open it with ``db.connect(path)`` (read-only by default).
    """
    from datetime import date

    from crmkit import demo

    path = tmp_path_factory.mktemp("demo") / "warehouse.duckdb"
    con = db.connect(path, read_only=False)
    try:
        demo.generate(con, DEMO_CUSTOMERS, seed=DEMO_SEED, as_of=date(2026, 9, 30), progress=False)
    finally:
        con.disconnect()
    return path


@pytest.fixture(scope="session")
def demo_published(demo_warehouse) -> Path:
    """The demo warehouse published (every registered publish step run)."""
    return crmkit.publish(demo_warehouse, demo_warehouse.with_name("published.duckdb")).path
