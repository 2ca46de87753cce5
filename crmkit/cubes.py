"""Aggregates by the dashboards' filter dimensions, precomputed at publish time.

A dashboard page filters by province, city, owner team and customer segment (the filter bar in
:mod:`crmkit.views.base`). A figure that counts rows of a raw table (10 M orders) for the
customers in scope would scan that table on every filter change; here it is counted once per
combination of the four dimensions (a few hundred to a few thousand groups), and a page sums
the groups that match its filters — the same numbers for a fraction of the work.

- :func:`scope_dims`: one row per customer with the four dimensions (segment: the RFM class,
  ``potential`` for customers without a counted purchase, as the filter bar has it);
- :func:`filter_cube`: the groups of a cube that match a set of filters;
- ``churn_quarters`` (publish step ``cubes``): per group and quarter, buyers of the quarter
  before and those of them who did not buy again — :func:`crmkit.definitions.buyer_churn`
  (``buyer_churn_91d``) for the churn page's rate and 8-quarter trend;
- ``table_rows``: per data table, group and age (within 30 / 90 / 365 days of the data clock,
  or older) its rows — the data-overview page's row counts for any filters and period.
"""

from __future__ import annotations

from datetime import datetime

import ibis
import ibis.expr.types as ir
import pandas as pd
from ibis.backends import BaseBackend

from crmkit import definitions, periods, schema, stats
from crmkit.config import Config

#: The filter bar's dimensions, in the cubes' column order.
DIMENSIONS = ("province", "city", "owner_team", "segment")
#: Churn quarters: :func:`crmkit.periods.rolling_quarters` (91-day windows ending at the data
#: clock), as many as the churn page's trend shows.
CHURN_QUARTERS = 8
CHURN_TABLE = "churn_quarters"


def scope_dims(con: BaseBackend) -> ir.Table:
    """Every customer's ``customer_id``, ``customer_sk`` and filter dimensions.

    ``segment`` is the published ``classification.rfm_class`` (``potential`` when it is null);
    a customer missing from ``classification`` has no segment, as the filter bar's segment
    filter (a semi-join on ``classification``) matches none of them.
    """
    c = con.table("customers")
    cls = con.table("classification").select("customer_id", "rfm_class")
    j = c.left_join(cls, c.customer_id == cls.customer_id)
    segment = ibis.ifelse(
        j.customer_id_right.isnull(),
        ibis.null("string"),
        j.rfm_class.fill_null(definitions.POTENTIAL),
    )
    return j.select(
        customer_id=j.customer_id,
        customer_sk=j.customer_sk,
        province=j.province,
        city=j.city,
        owner_team=j.owner_team,
        segment=segment,
    )


def filter_cube(cube: ir.Table, filters: object) -> ir.Table:
    """The rows of ``cube`` (with the :data:`DIMENSIONS` columns) that match ``filters``.

    ``filters`` is anything with ``province``, ``city``, ``owner_team`` and ``segment``
    attributes (``crmkit.views.Filters``); ``None`` means all.
    """
    preds = [cube[d] == getattr(filters, d) for d in DIMENSIONS if getattr(filters, d, None)]
    return cube.filter(*preds) if preds else cube


def churn_quarters(
    con: BaseBackend, as_of: datetime, *, config: Config | None = None
) -> pd.DataFrame:
    """Buyer-churn counts per filter group and quarter: ``period_end``, the :data:`DIMENSIONS`,
    ``n`` (buyers of the 91 days before the quarter) and ``churned`` (those of them with no
    counted order in it), for the :func:`crmkit.periods.rolling_quarters` of ``as_of``.

    They are :func:`crmkit.definitions.buyer_churn_flags` grouped: summed over the groups in
    scope they are :func:`crmkit.definitions.buyer_churn`'s numerator and denominator for that
    quarter and those customers.
    """
    flags = definitions.buyer_churn_flags(
        con.table("orders"), periods.rolling_quarters(as_of, CHURN_QUARTERS), config=config
    )
    g = flags.join(scope_dims(con), "customer_sk")
    counts = (
        g.group_by(["period_end", *DIMENSIONS])
        .aggregate(n=g.count(), churned=g.churned.sum())
        .to_pandas()
    )
    cols = ["period_end", *DIMENSIONS, "n", "churned"]
    return counts[cols].astype({"n": "int64", "churned": "int64"}).reset_index(drop=True)


def churn_rates(con: BaseBackend, filters: object, as_of: datetime) -> list[stats.Metric] | None:
    """The buyer churn of each :func:`crmkit.periods.rolling_quarters` quarter for the
    customers matching ``filters``, as :func:`crmkit.definitions.buyer_churn` gives it, from the
    published ``churn_quarters``; None when the snapshot has none for this data clock."""
    if CHURN_TABLE not in con.list_tables():
        return None
    qs = periods.rolling_quarters(as_of, CHURN_QUARTERS)
    stored = con.table(CHURN_TABLE).period_end.max().to_pyarrow().as_py()
    if stored is None or pd.Timestamp(stored) != pd.Timestamp(qs[-1].end):
        return None
    cube = filter_cube(con.table(CHURN_TABLE), filters)
    sums = cube.group_by("period_end").aggregate(n=cube.n.sum(), churned=cube.churned.sum())
    got = {pd.Timestamp(r.period_end): r for r in sums.to_pandas().itertuples()}
    out = []
    for q in qs:
        r = got.get(pd.Timestamp(q.end))
        n, k = (int(r.n), int(r.churned)) if r is not None else (0, 0)
        out.append(definitions.buyer_churn_metric(k, n, q.start, q.end))
    return out


ROWS_TABLE = "table_rows"
#: Ages a row can have, in days before the data clock: the filter bar's period presets.
AGES = (30, 90, 365)


def table_rows(con: BaseBackend, as_of: datetime) -> pd.DataFrame:
    """Rows of every data table that belongs to customers, per filter group and age.

    Returns
    -------
    pandas.DataFrame
        ``table_name``, the :data:`DIMENSIONS` (null for rows whose customer is not in
        ``customers``: they count only without filters), ``age`` (the smallest of
        :data:`AGES` whose :func:`crmkit.periods.trailing_window` holds the row's time; null
        when none does), ``rows`` and ``as_of``.
    """
    ts_type = schema.IBIS_TYPES["timestamp"]
    present = set(con.list_tables())
    dims = scope_dims(con).drop("customer_sk")
    parts = []
    for name in schema.DATA_TABLES:
        spec = schema.table(name)
        if name not in present or name == "products" or not spec.time_column:
            continue
        t = con.table(name)
        ref = "customer_id" if name == "customers" else spec.foreign_keys[0].name
        col = t[spec.time_column].cast(ts_type)
        windows = [periods.trailing_window(as_of, d) for d in AGES]
        age = ibis.cases(
            *[
                (col >= ibis.literal(w.start, type=ts_type), d)
                for w, d in zip(windows, AGES, strict=True)
            ],
            else_=ibis.null("int64"),
        )
        end = ibis.literal(windows[0].end, type=ts_type)
        age = ibis.ifelse(col < end, age, ibis.null("int64"))
        # count per customer and age first: the join then sees customers, not every row
        per = t.group_by(_ref=t[ref], age=age).aggregate(_n=t.count())
        j = per.left_join(dims, per._ref == dims.customer_id)
        parts.append(
            j.group_by([*DIMENSIONS, "age"])
            .aggregate(rows=j._n.sum())
            .mutate(table_name=ibis.literal(name))
        )
    if not parts:
        return pd.DataFrame(columns=["table_name", *DIMENSIONS, "age", "rows", "as_of"])
    df = ibis.union(*parts).to_pandas()
    df["as_of"] = as_of
    cols = ["table_name", *DIMENSIONS, "age", "rows", "as_of"]
    return df[cols].astype({"age": "Int64", "rows": "int64"}).reset_index(drop=True)


def row_counts(
    con: BaseBackend, filters: object, as_of: datetime, days: int | None
) -> dict[str, int] | None:
    """Rows per data table for the customers matching ``filters`` within ``days`` of
    ``as_of`` (None: all time), from the published ``table_rows``; None when the snapshot has
    none for this data clock."""
    if ROWS_TABLE not in con.list_tables():
        return None
    cube = con.table(ROWS_TABLE)
    stored = cube.as_of.max().to_pyarrow().as_py()
    if stored is None or pd.Timestamp(stored) != pd.Timestamp(as_of):
        return None
    if days is not None and days not in AGES:
        return None
    counted = cube.select("table_name").distinct().to_pandas().table_name
    cube = filter_cube(cube, filters)
    if days is not None:
        cube = cube.filter(cube.age.notnull(), cube.age <= days)
    df = cube.group_by("table_name").aggregate(rows=cube.rows.sum()).to_pandas()
    got = {r.table_name: int(r.rows) for r in df.itertuples()}
    return {name: got.get(name, 0) for name in counted}


def publish_tables(
    con: BaseBackend, *, as_of: datetime, config: Config | None = None
) -> dict[str, pd.DataFrame]:
    """The publish step ``cubes``: ``table_rows`` and, with orders, ``churn_quarters``."""
    out = {ROWS_TABLE: table_rows(con, as_of)}
    if "orders" in con.list_tables():
        out[CHURN_TABLE] = churn_quarters(con, as_of, config=config)
    return out
