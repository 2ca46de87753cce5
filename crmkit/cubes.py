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
  before and those of them who did not buy again — :func:`crmkit.loyalty.churn_rate` for the
  churn page's rate and 8-quarter trend;
- ``table_rows``: per data table, group and age (within 30 / 90 / 365 days of the data clock,
  or older) its rows — the data-overview page's row counts for any filters and period.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import ibis
import ibis.expr.types as ir
import pandas as pd
from ibis.backends import BaseBackend

from crmkit import db, loyalty, quality, schema

#: The filter bar's dimensions, in the cubes' column order.
DIMENSIONS = ("province", "city", "owner_team", "segment")
#: The segment of customers without a counted purchase (``crmkit.views.base.POTENTIAL``).
POTENTIAL = "potential"
#: Churn quarters: 91-day windows ending at the data clock (``crmkit.views.churn``).
QUARTER = timedelta(days=91)
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
        j.customer_id_right.isnull(), ibis.null("string"), j.rfm_class.fill_null(POTENTIAL)
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


def quarter_ends(as_of: datetime, quarters: int = CHURN_QUARTERS) -> list[datetime]:
    """The ends of the churn trend's quarters, oldest first; the last is just after ``as_of``
    (windows are ``start <= t < end``)."""
    end = as_of + timedelta(seconds=1)
    return [end - QUARTER * k for k in range(quarters - 1, -1, -1)]


def churn_quarters(con: BaseBackend, as_of: datetime | None = None) -> pd.DataFrame:
    """Churn counts per filter group and quarter: ``period_end``, the :data:`DIMENSIONS`,
    ``n`` (buyers of ``[end − 182 d, end − 91 d)``) and ``churned`` (those of them with no
    counted order in ``[end − 91 d, end)``), for the :func:`quarter_ends` of ``as_of``.

    Summed over the groups in scope they are :func:`crmkit.loyalty.churn_rate`'s numerator and
    denominator for that quarter and those customers.
    """
    as_of = as_of or quality.data_as_of(con)
    ends = quarter_ends(as_of)
    end = ends[-1]
    ts_type = schema.IBIS_TYPES["timestamp"]
    # window j = [end − 91(j+1), end − 91 j): j = 0 is the last quarter
    bounds = [end - QUARTER * (j + 1) for j in range(CHURN_QUARTERS + 1)]
    o = con.table("orders")
    o = o.filter(
        o.order_ts >= ibis.literal(bounds[-1], type=ts_type),
        o.order_ts < ibis.literal(end, type=ts_type),
        ~o.status.isin(list(loyalty.EXCLUDED_STATUSES)),
        o.customer_sk.notnull(),
    )
    q = ibis.cases(
        *[(o.order_ts >= ibis.literal(b, type=ts_type), j) for j, b in enumerate(bounds)]
    )
    act = o.select("customer_sk", q=q).distinct()
    # buyers of window k + 1 are the base of quarter k; churned when not in window k
    base = act.filter(act.q >= 1).select("customer_sk", k=act.q - 1)
    now = act.select(sk=act.customer_sk, q=act.q)
    j = base.left_join(now, (base.customer_sk == now.sk) & (base.k == now.q))
    flags = j.select("customer_sk", "k", churned=j.sk.isnull().cast("int64"))
    dims = scope_dims(con)
    g = flags.join(dims, "customer_sk")
    counts = (
        g.group_by(["k", *DIMENSIONS])
        .aggregate(n=g.count(), churned=g.churned.sum())
        .filter(ibis._.k < CHURN_QUARTERS)
        .to_pandas()
    )
    counts["period_end"] = [end - QUARTER * int(k) for k in counts.k]
    cols = ["period_end", *DIMENSIONS, "n", "churned"]
    return counts[cols].astype({"n": "int64", "churned": "int64"}).reset_index(drop=True)


def churn_rates(
    con: BaseBackend, filters: object, as_of: datetime
) -> list[dict[str, object]] | None:
    """The churn rate of each :func:`quarter_ends` quarter for the customers matching
    ``filters``, as :func:`crmkit.loyalty.churn_rate` gives it, from the published
    ``churn_quarters``; None when the snapshot has none for this data clock."""
    if CHURN_TABLE not in con.list_tables():
        return None
    cube = filter_cube(con.table(CHURN_TABLE), filters)
    sums = cube.group_by("period_end").aggregate(n=cube.n.sum(), churned=cube.churned.sum())
    got = {pd.Timestamp(r.period_end): r for r in sums.to_pandas().itertuples()}
    ends = quarter_ends(as_of)
    stored = con.table(CHURN_TABLE).period_end.max().to_pyarrow().as_py()
    if stored is None or pd.Timestamp(stored) != pd.Timestamp(ends[-1]):
        return None
    out = []
    for e in ends:
        r = got.get(pd.Timestamp(e))
        n, k = (int(r.n), int(r.churned)) if r is not None else (0, 0)
        out.append(loyalty._rate("churn_rate", k, n, e - QUARTER, e))
    return out


ROWS_TABLE = "table_rows"
#: Ages a row can have, in days before the data clock: the filter bar's period presets.
AGES = (30, 90, 365)


def table_rows(con: BaseBackend, as_of: datetime | None = None) -> pd.DataFrame:
    """Rows of every data table that belongs to customers, per filter group and age.

    Returns
    -------
    pandas.DataFrame
        ``table_name``, the :data:`DIMENSIONS` (null for rows whose customer is not in
        ``customers``: they count only without filters), ``age`` (the smallest of
        :data:`AGES` whose window ``as_of − age < t ≤ as_of`` holds the row's time; null when
        none does), ``rows`` and ``as_of``.
    """
    as_of = as_of or quality.data_as_of(con)
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
        age = ibis.cases(
            *[(col > ibis.literal(as_of - timedelta(days=d), type=ts_type), d) for d in AGES],
            else_=ibis.null("int64"),
        )
        age = ibis.ifelse(col <= ibis.literal(as_of, type=ts_type), age, ibis.null("int64"))
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


@db.publish_step("cubes", after=("classification",))
def publish_cubes(con: BaseBackend) -> dict[str, pd.DataFrame]:
    """Publish step: ``churn_quarters`` and ``table_rows`` (module docstring)."""
    if "customers" not in con.list_tables() or "classification" not in con.list_tables():
        return {}
    as_of = quality.data_as_of(con)
    out = {ROWS_TABLE: table_rows(con, as_of)}
    if "orders" in con.list_tables():
        out[CHURN_TABLE] = churn_quarters(con, as_of)
    return out
