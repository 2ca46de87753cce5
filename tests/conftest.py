"""Shared fixtures: a tiny hand-checkable snapshot built from tests/fixtures through the real
ingest and publish path, the seeded demo (shared with the notebooks through the cache), and
``wait_until`` for tests that wait on something.
"""

import time
from collections.abc import Callable
from pathlib import Path

import pytest

import crmkit
from crmkit import db
from crmkit.ingest import ingest

FIXTURES = Path(__file__).parent / "fixtures"


def _wait_until[T](
    predicate: Callable[[], T],
    timeout: float,
    *,
    interval: float = 0.1,
    message: str | Callable[[], str] = "",
) -> T:
    """Call ``predicate`` every ``interval`` seconds until it returns something truthy and
    return that; after ``timeout`` seconds fail the test: "timed out after 60 s waiting for
    <message>". ``message`` says what was awaited, a string or a function called then (e.g. to
    append a server log). ``predicate`` may fail the test itself (a server that exited will not
    answer later)."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() >= deadline:
            what = (message() if callable(message) else message) or predicate.__name__
            pytest.fail(f"timed out after {timeout:g} s waiting for {what}")
        time.sleep(interval)


@pytest.fixture(scope="session")
def wait_until() -> Callable[..., object]:
    """``wait_until(predicate, timeout, *, interval=0.1, message="")``: poll instead of sleeping
    (see :func:`_wait_until`)."""
    return _wait_until


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


@pytest.fixture(scope="session")
def demo_warehouse() -> Path:
    """The shared demo warehouse (20,000 customers, seed 42, as_of 2026-09-30): built once into
    the cache (``$CRMKIT_CACHE_DIR``, :func:`crmkit.demo.shared_warehouse`) and reused by later
    sessions and by the notebooks until the generator's code changes.

    Tests must not write to it: open it with ``db.connect(path)`` (read-only by default).
    """
    from crmkit import demo

    return demo.shared_warehouse()


@pytest.fixture(scope="session")
def demo_published(demo_warehouse) -> Path:
    """The shared demo published with every step (:func:`crmkit.notebook.shared_demo`, the
    snapshot the notebooks open): the dashboard file; the analyst file is beside it."""
    from crmkit import notebook

    return notebook.shared_demo().published
