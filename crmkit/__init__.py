"""crmkit: a customer-management workbench (客户管理) over DuckDB.

The public API, table in / table out (each function's docstring has a worked example):

========================  ===================================================================
``connect``               the warehouse, a published snapshot, ``":memory:"`` or ``"spark"``
``publish``               build the dashboards' snapshot from the warehouse (every step)
``data_as_of``            the data clock every analysis defaults to
``rfm`` / ``classify``    RFM scores; every customer's class, value tier, type, stage, needs
``nps`` / ``csat`` /      satisfaction scores with intervals, ``by=`` any slice
``ces``
``churn_rate``            buyer churn or customer churn over a window, ``by=`` any column
``cohort_retention``      customer and revenue retention by acquisition month
``kpis``                  every KPI of a period as one metric frame
``compare_periods``       each KPI in two periods, the difference, its interval, significant?
``profile``               everything about one customer (classes, RFM, risk, CLV, contacts …)
========================  ===================================================================

Modules, one per concern (see DESIGN.md): ``schema`` (the tables), ``db`` (storage),
``ingest`` (files in), ``quality`` (准确性和完整性), ``merge`` (merging duplicate customers),
``definitions`` (the business rules), ``periods`` (half-open periods), ``publish`` (the snapshot
pipeline), ``demo`` (synthetic data with planted signals), ``privacy`` (PII masking), ``cli``
(the ``crmkit`` command).
"""

from __future__ import annotations

import os

from ibis.backends import BaseBackend

from crmkit import db
from crmkit.classification import classify, rfm
from crmkit.compare import compare_periods
from crmkit.db import data_as_of
from crmkit.definitions import churn_rate
from crmkit.kpi import kpis
from crmkit.loyalty import cohort_retention
from crmkit.profile import profile
from crmkit.publish import publish
from crmkit.satisfaction import ces, csat, nps


def connect(
    path: str | os.PathLike | None = None, *, read_only: bool = True, threads: int | None = None
) -> BaseBackend:
    """Open the warehouse, a published snapshot or a Spark session as an Ibis backend.

    Parameters
    ----------
    path : path-like or "spark", optional
        A DuckDB file (default: the warehouse, ``$CRMKIT_DB`` or ``data/warehouse.duckdb``),
        ``":memory:"``, or ``"spark"`` for PySpark over the Parquet tables in
        ``$CRMKIT_PARQUET`` (:mod:`crmkit.spark`). With no path and ``$CRMKIT_BACKEND=spark``,
        Spark too.
    read_only : bool, default True
        DuckDB only: writers must ask for write access explicitly.
    threads : int, optional
        DuckDB worker threads; default all cores.

    Returns
    -------
    ibis backend
        Every crmkit analysis takes it as its first argument.

    Examples
    --------
    >>> con = connect(":memory:", read_only=False)
    >>> con.list_tables()
    []
    """
    if str(path) == "spark" or (path is None and os.environ.get("CRMKIT_BACKEND") == "spark"):
        from crmkit import spark  # PySpark is an extra: imported only when asked for

        return spark.connect()
    return db.connect(path, read_only=read_only, threads=threads)


__all__ = [
    "ces",
    "churn_rate",
    "classify",
    "cohort_retention",
    "compare_periods",
    "connect",
    "csat",
    "data_as_of",
    "kpis",
    "nps",
    "profile",
    "publish",
    "rfm",
]
__version__ = "0.1.0"
