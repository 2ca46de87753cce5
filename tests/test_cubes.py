"""The aggregates precomputed by filter dimensions give the numbers the live queries give."""

import pandas as pd
import pytest

from crmkit import cubes, db, definitions, periods, views


@pytest.fixture(scope="module")
def con(demo_published):
    c = db.connect(demo_published)
    yield c
    c.disconnect()


@pytest.mark.parametrize(
    "f",
    [
        views.Filters(),
        views.Filters(province="辽宁"),
        views.Filters(segment="important_value"),
        views.Filters(province="广东", owner_team="key_accounts"),
        views.Filters(segment="potential"),
    ],
    ids=["all", "liaoning", "segment", "province+team", "potential"],
)
def test_churn_quarters_equal_the_live_churn_rate(con, f):
    """Every quarter's numerator, denominator and interval equal definitions.buyer_churn over
    the orders for the customers the filter bar keeps (the planted Liaoning churn included)."""
    as_of = views.data_as_of(con)
    got = cubes.churn_rates(con, f, as_of)
    scope = views.customers_in_scope(con, f)
    qs = periods.rolling_quarters(as_of, cubes.CHURN_QUARTERS)
    assert got is not None and len(got) == len(qs) == 8
    for q, r in zip(qs, got, strict=True):
        live = definitions.buyer_churn(
            con.table("orders"), start=q.start, end=q.end, customers=scope
        )
        assert r == live, q


def test_churn_quarters_count_the_demo(con):
    """Counted at all: tens of thousands of buyer-quarters, the last quarter's base > 1,000."""
    cube = con.table(cubes.CHURN_TABLE).to_pandas()
    assert cube.n.sum() > 10_000 and (cube.churned <= cube.n).all()
    last = cube[cube.period_end == cube.period_end.max()]
    assert last.n.sum() > 1_000


def test_churn_rates_need_the_snapshots_clock(con):
    """A cube published for another data clock is not used (None: the page queries live)."""
    as_of = views.data_as_of(con)
    assert cubes.churn_rates(con, views.Filters(), as_of + pd.Timedelta(days=1)) is None


def test_filter_cube_matches_each_set_dimension():
    """Two of four dimensions set: only rows with both values are kept."""
    import ibis

    t = ibis.memtable(
        {
            "province": ["广东", "广东", "辽宁"],
            "city": ["广州", "深圳", "沈阳"],
            "owner_team": ["a", "b", "a"],
            "segment": ["x", "x", "x"],
            "n": [1, 2, 4],
        }
    )
    f = views.Filters(province="广东", owner_team="a")
    assert cubes.filter_cube(t, f).n.sum().execute() == 1
    assert cubes.filter_cube(t, views.Filters()).n.sum().execute() == 7


@pytest.mark.parametrize(
    "f",
    [
        views.Filters(),
        views.Filters(province="辽宁", period="90d"),
        views.Filters(segment="potential", period="30d"),
        views.Filters(segment="important_value", period="365d"),
    ],
    ids=["all", "liaoning-90d", "potential-30d", "segment-365d"],
)
def test_table_rows_equal_the_live_counts(con, f):
    """The data-overview page's rows per table from ``table_rows`` equal counting the table's
    rows for the customers in scope and period (its live query)."""
    from crmkit.views.overview import _scoped

    as_of = views.data_as_of(con)
    got = cubes.row_counts(con, f, as_of, views.PERIODS[f.period])
    assert got is not None and "products" not in got and got["orders"] > 0
    assert set(got) == {"customers", "orders", "interactions", "feedback", "tickets",
                        "opportunities", "points_ledger", "referrals"}  # fmt: skip
    for name, rows in got.items():
        assert rows == _scoped(con, name, f, as_of).count().execute(), name
