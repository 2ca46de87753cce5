"""Warehouses built by hand for the tests that need a real file but no analysis: the storage,
publish and fault tests (``from warehouses import customers_only``; ``tests/`` is on the path
as the folder of the root ``conftest.py``)."""

from __future__ import annotations

from pathlib import Path

import ibis
import pandas as pd

from crmkit import db


def customers_only(path: Path, n_customers: int) -> None:
    """A warehouse at ``path`` holding customers 00001 … ``n_customers``, all named 张三, created
    2024-01-01, and nothing else (closed, so checkpointed). An existing file is emptied of its
    customers first."""
    con = db.connect(path, read_only=False)
    db.create_schema(con)
    con.truncate_table("customers")
    con.insert(
        "customers",
        ibis.memtable(
            pd.DataFrame(
                {
                    "customer_sk": range(1, n_customers + 1),
                    "customer_id": [f"{i:05d}" for i in range(1, n_customers + 1)],
                    "name": ["张三"] * n_customers,
                    "created_at": pd.Timestamp("2024-01-01"),
                }
            )
        ),
    )
    con.disconnect()
