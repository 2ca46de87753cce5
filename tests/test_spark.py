"""The same crmkit code on PySpark ``local[2]`` returns what it returns on DuckDB.

The demo at ~100,000 orders (9,524 customers × 10.5) is exported to Parquet, registered on Spark
with ``crmkit.spark.connect`` and every analysis below runs on both backends through the very
same function; counts must be identical and numbers equal to 1e-9 relative.
"""

from __future__ import annotations

import os
from datetime import date, datetime

import numpy as np
import pandas as pd
import pytest

import crmkit
from crmkit import classification, db, demo, kpi, loyalty, satisfaction

pyspark = pytest.importorskip("pyspark", reason="the spark extra is not installed")

#: A JVM, a demo exported to Parquet and every analysis twice: ~40 s.
pytestmark = pytest.mark.slow

CUSTOMERS = 9_524  # × 10.5 orders per customer ≈ 100,000 orders
AS_OF = datetime(2026, 9, 30, 23, 59, 59)


@pytest.fixture(scope="module")
def backends(tmp_path_factory):
    root = tmp_path_factory.mktemp("spark")
    duck = db.connect(root / "warehouse.duckdb", read_only=False)
    demo.generate(duck, CUSTOMERS, seed=7, as_of=date(2026, 9, 30), progress=False)
    from crmkit import spark

    spark.export_parquet(duck, root / "parquet")
    sc = spark.connect(root / "parquet")
    yield duck, sc
    duck.disconnect()


def assert_same(a: pd.DataFrame, b: pd.DataFrame, key: str | list[str]) -> None:
    """Same rows (by key), same columns; numbers to 1e-9 relative, everything else exactly."""
    assert list(a.columns) == list(b.columns)
    assert len(a) == len(b)
    a = a.sort_values(key, ignore_index=True)
    b = b.sort_values(key, ignore_index=True)
    for col in a.columns:
        x, y = a[col], b[col]
        if pd.api.types.is_numeric_dtype(x) and pd.api.types.is_numeric_dtype(y):
            np.testing.assert_allclose(
                x.astype(float), y.astype(float), rtol=1e-9, atol=0, equal_nan=True, err_msg=col
            )
        elif pd.api.types.is_datetime64_any_dtype(x):
            x, y = pd.to_datetime(x), pd.to_datetime(y)
            assert ((x == y) | (x.isna() & y.isna())).all(), col
        else:
            assert x.astype(str).tolist() == y.astype(str).tolist(), col


def test_orders_are_about_100k(backends):
    duck, sc = backends
    n = duck.table("orders").count().execute()
    assert 95_000 < n < 105_000
    assert sc.table("orders").count().execute() == n


def test_classification_same_on_spark(backends):
    duck, sc = backends
    a = classification.classify(duck, as_of=AS_OF).to_pandas()
    b = classification.classify(sc, as_of=AS_OF).to_pandas()
    assert len(a) == CUSTOMERS
    assert_same(a, b, "customer_id")
    # and the aggregate a manager sees: customers and revenue per class
    seg = a.groupby("rfm_class").agg(n=("customer_id", "size"), m=("monetary", "sum"))
    seg_b = b.groupby("rfm_class").agg(n=("customer_id", "size"), m=("monetary", "sum"))
    assert seg["n"].to_dict() == seg_b["n"].to_dict()


def test_satisfaction_scores_same_on_spark(backends):
    """NPS, CSAT and CES by month × channel with their intervals: same n, same values."""
    duck, sc = backends
    a = satisfaction.scores(duck.table("feedback"), by=["period", "source"])
    b = satisfaction.scores(sc.table("feedback"), by=["period", "source"])
    assert a["n"].sum() > 10_000
    keys = [c for c in ("metric", "period", "source") if c in a.columns]
    assert_same(
        a.drop(columns=["definition"], errors="ignore"),
        b.drop(columns=["definition"], errors="ignore"),
        keys,
    )


def test_cohort_retention_same_on_spark(backends):
    """Customer and revenue retention by acquisition month × channel."""
    duck, sc = backends
    a = loyalty.cohort_retention(
        duck.table("orders"),
        as_of=AS_OF,
        customers=duck.table("customers"),
        by="acquisition_channel",
    )
    b = loyalty.cohort_retention(
        sc.table("orders"),
        as_of=AS_OF,
        customers=sc.table("customers"),
        by="acquisition_channel",
    )
    assert a["cohort_size"].sum() > 0
    assert_same(a, b, ["cohort", "acquisition_channel", "month"])


KPI_KEYS = ("retention_rate", "customer_churn", "new_customers", "sales_conversion",
            "return_rate", "avg_order_value", "nps", "csat", "repurchase_rate")  # fmt: skip


def test_kpis_same_on_spark(backends):
    """The KPI registry's values for 2026-Q3 (CLV needs the published models: not here)."""
    duck, sc = backends
    for key in KPI_KEYS:
        a = kpi.compute(duck, key, "2026-Q3", as_of=AS_OF)
        b = kpi.compute(sc, key, "2026-Q3", as_of=AS_OF)
        assert a.available and b.available, (key, a.reason, b.reason)
        assert (a.numerator, a.denominator, a.n) == (b.numerator, b.denominator, b.n), key
        assert b.value == pytest.approx(a.value, rel=1e-9), key


def test_connect_spark_from_environment(backends, monkeypatch, tmp_path):
    """``crmkit.connect("spark")`` / ``CRMKIT_BACKEND=spark`` read ``$CRMKIT_PARQUET``."""
    duck, _ = backends
    from crmkit import spark

    spark.export_parquet(duck, tmp_path, tables=("customers",))
    monkeypatch.setenv("CRMKIT_PARQUET", str(tmp_path))
    monkeypatch.setenv("CRMKIT_BACKEND", "spark")
    con = crmkit.connect()
    assert con.table("customers").count().execute() == CUSTOMERS
    assert os.environ["PYSPARK_PYTHON"]  # the driver's interpreter, set by crmkit.spark


def test_connect_spark_errors(tmp_path, monkeypatch):
    from crmkit import spark

    monkeypatch.delenv("CRMKIT_PARQUET", raising=False)
    with pytest.raises(ValueError, match="CRMKIT_PARQUET"):
        spark.connect()
    with pytest.raises(FileNotFoundError, match="does not exist"):
        spark.connect(tmp_path / "nowhere")
    with pytest.raises(FileNotFoundError, match="no crmkit table"):
        spark.connect(tmp_path)
