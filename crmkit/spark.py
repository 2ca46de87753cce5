"""The same crmkit analyses on PySpark, for data that outgrows one machine.

crmkit's analyses are Ibis expressions over tables named as in :mod:`crmkit.schema`; nothing in
them is DuckDB-specific, so they run unchanged on any Ibis backend that holds those tables. This
module gives a PySpark backend that does:

- :func:`connect` starts (or joins) a Spark session and registers the warehouse tables from
  Parquet: ``<parquet_dir>/<table>.parquet`` (a file, or a directory of part files as a cluster
  job writes them). The master comes from the argument, else ``$CRMKIT_SPARK_MASTER``, else
  ``local[2]``; the Parquet folder from the argument or ``$CRMKIT_PARQUET``.
- :func:`export_parquet` writes a DuckDB warehouse's tables to such a folder (the way to move a
  warehouse onto a cluster's storage).

Spark's Python workers must run the same interpreter as the driver; left to itself Spark starts
``python3`` from ``PATH`` (here 3.11) and every task fails with ``PYTHON_VERSION_MISMATCH``, so
:func:`connect` sets ``PYSPARK_PYTHON`` to ``sys.executable`` unless the user set it. Sessions
run in UTC so timestamps mean what they mean in DuckDB.

What does not run on Spark: the model fits (BG/NBD, Gamma-Gamma, the churn classifier) are
done on the driver from aggregated per-customer rows, and text tokenising is Python code; the
aggregation that feeds them is Ibis and runs on the cluster.

Needs the ``spark`` extra (``pip install 'crmkit[spark]'``) and Java 17.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from crmkit import schema

DEFAULT_MASTER = "local[2]"


def spark_master(master: str | None = None) -> str:
    """The Spark master URL: the argument, else ``$CRMKIT_SPARK_MASTER``, else ``local[2]``."""
    return master or os.environ.get("CRMKIT_SPARK_MASTER") or DEFAULT_MASTER


def session(master: str | None = None, *, app_name: str = "crmkit", conf: dict | None = None):  # noqa: ANN201
    """A Spark session for crmkit (created once per process; later calls return the same).

    Raises
    ------
    ImportError
        When PySpark is not installed, with the command that installs it.
    """
    try:
        from pyspark.sql import SparkSession
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError(
            "the Spark backend needs PySpark: pip install 'crmkit[spark]' (and Java 17)"
        ) from exc
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    os.environ.setdefault("PYSPARK_DRIVER_PYTHON", sys.executable)
    master = spark_master(master)
    if master.startswith("local"):
        os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    builder = (
        SparkSession.builder.master(master)
        .appName(app_name)
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.driver.extraJavaOptions", "-Duser.timezone=UTC")
        .config("spark.executor.extraJavaOptions", "-Duser.timezone=UTC")
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
    )
    if master.startswith("local"):
        # a handful of cores: Spark's default of 200 shuffle partitions is pure overhead here
        builder = builder.config("spark.sql.shuffle.partitions", "8")
    for key, value in (conf or {}).items():
        builder = builder.config(key, value)
    spark = builder.getOrCreate()
    spark.sparkContext.setLogLevel("ERROR")
    return spark


def connect(
    parquet_dir: str | os.PathLike | None = None,
    *,
    master: str | None = None,
    tables: tuple[str, ...] | None = None,
    conf: dict | None = None,
):  # noqa: ANN201
    """An Ibis PySpark backend with crmkit's tables registered from Parquet.

    Parameters
    ----------
    parquet_dir : path-like or URL, optional
        Folder holding ``<table>.parquet`` for each table (local path, ``hdfs://``, ``s3a://``
        …); default ``$CRMKIT_PARQUET``. Tables absent there are left out (the analyses treat
        an absent optional table as empty, as on DuckDB).
    master : str, optional
        Spark master URL (default :func:`spark_master`).
    tables : tuple of str, optional
        Which tables to register (default: every table in :mod:`crmkit.schema` plus the
        published ``classification`` when present).

    Raises
    ------
    FileNotFoundError
        A local ``parquet_dir`` that does not exist, or holds none of the tables.
    """
    import ibis

    folder = parquet_dir or os.environ.get("CRMKIT_PARQUET")
    if not folder:
        raise ValueError(
            "connect('spark') needs the folder of Parquet tables: pass parquet_dir or set "
            "CRMKIT_PARQUET (write one from a warehouse with crmkit.spark.export_parquet)"
        )
    con = ibis.pyspark.connect(session(master, conf=conf))
    names = tables or (*schema.TABLES, "classification")
    local = "://" not in str(folder)
    if local and not Path(folder).is_dir():
        raise FileNotFoundError(f"Parquet folder {str(folder)!r} does not exist")
    found = 0
    for name in names:
        path = f"{str(folder).rstrip('/')}/{name}.parquet"
        if local and not Path(path).exists():
            continue
        con.read_parquet(path, table_name=name)
        found += 1
    if found == 0:
        raise FileNotFoundError(
            f"no crmkit table (<table>.parquet for {', '.join(names)}) in {str(folder)!r}"
        )
    return con


def export_parquet(
    con, folder: str | os.PathLike, *, tables: tuple[str, ...] | None = None
) -> list[Path]:  # noqa: ANN001
    """Write a DuckDB warehouse's (or snapshot's) tables to ``<folder>/<table>.parquet``."""
    out = Path(folder)
    out.mkdir(parents=True, exist_ok=True)
    present = set(con.list_tables())
    names = [n for n in (tables or (*schema.TABLES, "classification")) if n in present]
    written = []
    for name in names:
        path = out / f"{name}.parquet"
        con.raw_sql(f"COPY {name} TO '{path}' (FORMAT parquet)")
        written.append(path)
    return written
