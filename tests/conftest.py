"""Shared fixtures: a tiny hand-checkable snapshot built from tests/fixtures through the real
ingest and publish path."""

from pathlib import Path

import pytest

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
    return db.publish(wh, root / "published.duckdb").path
