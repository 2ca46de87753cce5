"""crmkit.returns: return-rate alerts and reasons on a hand-worked fixture.

The fixture (window [2024-04-01, 2024-07-01)): category X: P1 10 of 40 placed orders returned,
P2 4 of 200, P3 6 of 200; category Y: Q1 3 of 50, Q2 1 of 10 (too few to test). P1 also has a
cancelled order (not placed, so not counted). The first 7 returned orders of a product give the
reason 质量问题, the others 发错货; one complaint text is tied to P1's first returned order.
"""

from __future__ import annotations

from datetime import datetime

import ibis
import pandas as pd
import pytest

from crmkit import db, returns, stats


def _insert(con, table: str, rows: list[dict]) -> None:
    con.con.register("_rows", pd.DataFrame(rows))
    con.con.execute(f"INSERT INTO {table} BY NAME SELECT * FROM _rows")
    con.con.unregister("_rows")


def _order(oid, cust, ts, amount, status="completed", product="P1", reason=None):  # noqa: ANN001, ANN202
    return {
        "order_id": oid,
        "customer_id": cust,
        "customer_sk": ord(cust[0]),
        "product_id": product,
        "order_ts": pd.Timestamp(ts),
        "quantity": 1,
        "amount": amount,
        "status": status,
        "return_reason": reason,
    }


@pytest.fixture(scope="module")
def returns_con():
    """Category X: P1 10 of 40 returned, P2 4 of 200, P3 6 of 200; category Y: Q1 3 of 50, Q2
    1 of 10 (too few to test). P1 vs rest of X: 10/40 vs 10/400; z from the pooled test."""
    c = db.connect(":memory:", read_only=False)
    db.create_schema(c)
    _insert(
        c,
        "customers",
        [
            {
                "customer_id": "K",
                "customer_sk": ord("K"),
                "name": "甲",
                "created_at": pd.Timestamp("2020-01-01"),
            }
        ],
    )
    _insert(
        c,
        "products",
        [
            {"product_id": p, "name": p, "category": cat}
            for p, cat in [("P1", "X"), ("P2", "X"), ("P3", "X"), ("Q1", "Y"), ("Q2", "Y")]
        ],
    )
    rows = []
    for prod, n, k in [
        ("P1", 40, 10),
        ("P2", 200, 4),
        ("P3", 200, 6),
        ("Q1", 50, 3),
        ("Q2", 10, 1),
    ]:
        for i in range(n):
            status = "returned" if i < k else "completed"
            reason = ("质量问题" if i < 7 else "发错货") if status == "returned" else None
            rows.append(_order(f"{prod}-{i}", "K", "2024-05-01", 10, status, prod, reason))
    rows.append(_order("P1-x", "K", "2024-05-02", 10, "cancelled", "P1"))
    _insert(c, "orders", rows)
    _insert(
        c,
        "feedback",
        [
            {
                "feedback_id": "F1",
                "customer_id": "K",
                "ts": pd.Timestamp("2024-05-03"),
                "source": "complaint",
                "text": "耳机用了两天就坏了",
                "order_id": "P1-0",
            }
        ],
    )
    yield c
    c.disconnect()


def test_return_alerts_flag_the_product_above_its_category(returns_con):
    a = returns.return_alerts(returns_con, datetime(2024, 4, 1), datetime(2024, 7, 1))
    first = a.iloc[0]
    assert first.product_id == "P1" and bool(first.flagged)
    assert (first.orders, first.returned) == (40, 10)  # the cancelled order is not counted
    assert (first.category_orders, first.category_returned) == (400, 10)
    _, z, p2 = stats.two_proportion_test(10, 400, 10, 40)
    assert first.z == pytest.approx(z) and first.p == pytest.approx(p2 / 2)
    assert first.excess_returns == pytest.approx(10 - 40 * 10 / 400)
    tested = a[a.tested]
    assert set(tested.product_id) == {"P1", "P2", "P3", "Q1"}  # Q2 has 10 < 30 orders
    assert a.q.dropna().tolist() == pytest.approx(
        list(stats.benjamini_hochberg(tested.p.to_numpy()))
    )
    assert a.flagged.sum() == 1


def test_return_reasons_and_feedback(returns_con):
    r = returns.return_reasons(returns_con, ["P1"], datetime(2024, 4, 1), datetime(2024, 7, 1))
    reasons = r[r.kind == "reason"].set_index("reason")
    assert reasons.loc["质量问题", "count"] == 7 and reasons.loc["发错货", "count"] == 3
    assert reasons.loc["质量问题", "share"] == pytest.approx(0.7)
    assert r[r.kind == "feedback"].reason.tolist() == ["耳机用了两天就坏了"]


def test_return_alerts_empty_period(returns_con):
    a = returns.return_alerts(returns_con, datetime(2020, 1, 1), datetime(2020, 4, 1))
    assert a.empty and "flagged" in a.columns


def test_customer_scope_restricts_the_orders(returns_con):
    """Every order is K's: scoped to K the alerts are those of all customers; scoped to nobody
    there are no placed orders, so no alert and no return reason."""
    start, end = datetime(2024, 4, 1), datetime(2024, 7, 1)
    c = returns_con.table("customers")
    everyone = returns.return_alerts(returns_con, start, end)
    only_k = returns.return_alerts(
        returns_con, start, end, customers=c.filter(c.customer_id == "K")
    )
    pd.testing.assert_frame_equal(only_k, everyone)
    nobody = c.filter(c.customer_id == "nobody")
    assert returns.return_alerts(returns_con, start, end, customers=nobody).empty
    assert returns.return_reasons(returns_con, ["P1"], start, end, customers=nobody).empty


def test_no_orders_in_the_window_give_a_typed_empty_frame():
    """With no order in the window there is nothing to test; the empty frame is typed so that
    ``alerts[alerts.flagged]`` still selects rows (it once selected no columns, and the
    overview page failed on a one-customer warehouse)."""
    con = ibis.duckdb.connect()
    con.create_table(
        "orders",
        pd.DataFrame(
            {
                "order_id": ["O1"],
                "customer_sk": [1],
                "product_id": ["P1"],
                "order_ts": [datetime(2024, 1, 5)],
                "status": ["completed"],
            }
        ),
    )
    con.create_table(
        "products", pd.DataFrame({"product_id": ["P1"], "name": ["x"], "category": ["c"]})
    )
    out = returns.return_alerts(con, datetime(2025, 1, 1), datetime(2025, 4, 1))
    assert out.empty and out.flagged.dtype == bool
    assert list(out[out.flagged].columns) == list(out.columns)


def test_orders_without_a_product_are_not_a_product():
    """An orders export without product ids (customer, time, amount): no product row (the
    chart once showed a bar named "nan nan" for them)."""
    con = ibis.duckdb.connect()
    con.create_table(
        "orders",
        pd.DataFrame(
            {
                "order_id": ["O1", "O2", "O3"],
                "customer_sk": [1, 2, 3],
                "product_id": [None, None, "P1"],
                "order_ts": [datetime(2025, 1, 5)] * 3,
                "status": ["completed", "returned", "completed"],
            }
        ),
    )
    con.create_table(
        "products", pd.DataFrame({"product_id": ["P1"], "name": ["x"], "category": ["c"]})
    )
    out = returns.return_alerts(con, datetime(2025, 1, 1), datetime(2025, 4, 1))
    assert out.product_id.tolist() == ["P1"] and out.orders.tolist() == [1]


def test_statuses_filled_in_at_ingest_are_not_counted():
    """P1: O1 returned and O2 completed from the data, O3 and O4 completed because the file had
    no status (``status_defaulted``): P1's rate is 1 / 2, not 1 / 4. A window holding only
    orders with a made-up status has no rate at all: NotEnoughData with the reason code, which
    the overview page shows as "order status was not in the data"."""
    con = ibis.duckdb.connect()
    con.create_table(
        "orders",
        pd.DataFrame(
            {
                "order_id": ["O1", "O2", "O3", "O4"],
                "customer_sk": [1, 2, 3, 4],
                "product_id": ["P1"] * 4,
                "order_ts": [datetime(2025, 1, 5)] * 2 + [datetime(2025, 4, 5)] * 2,
                "status": ["returned", "completed", "completed", "completed"],
                "status_defaulted": [False, False, True, True],
            }
        ),
    )
    con.create_table(
        "products", pd.DataFrame({"product_id": ["P1"], "name": ["x"], "category": ["c"]})
    )
    out = returns.return_alerts(con, datetime(2025, 1, 1), datetime(2025, 7, 1))
    assert (out.orders.tolist(), out.returned.tolist(), out.rate.tolist()) == ([2], [1], [0.5])
    with pytest.raises(stats.NotEnoughData) as e:
        returns.return_alerts(con, datetime(2025, 4, 1), datetime(2025, 7, 1))
    assert e.value.reason == "status_defaulted"
