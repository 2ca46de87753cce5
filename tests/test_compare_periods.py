"""crmkit.compare_periods: each KPI in two periods, the difference and its interval, on a warehouse
whose counts are worked out by hand.

The fixture (W = 365 days; a customer at a date d has a counted order in [d − W, d))
-----------------------------------------------------------------------------------
Group A, customers A01–A10: an order of ¥10 on 2023-02-01; A01–A08 another ¥10 on 2023-12-01.
Group B, customers B01–B10: a first order on 2024-02-01, ¥90 for odd numbers and ¥110 for even;
B01–B05 again on 2025-02-01: ¥140, ¥150, ¥160, ¥150, ¥150.
Province 广东: A06–A10 and B06–B10; the others 北京. Customer Z, created 2025-06-30 without an
order, moves the data clock past 2025-Q1 (both periods complete).

2024-Q1 = [2024-01-01, 2024-04-01): S window [2023-01-01, 2024-01-01) → S = A (10);
E window [2023-04-02, 2024-04-01) → A01–A08 (2023-12-01) and B (2024-02-01) = 18; N = B = 10.
Retention (E − N) / S = 8/10 = 0.8; churn (S − retained) / S = (10 − 8)/10 = 0.2.
2025-Q1: S window [2024-01-02, 2025-01-01) (2024 is a leap year) → S = B (10); E window
[2024-04-01, 2025-04-01) → B01–B05 = 5; N = 0. Retention 5/10 = 0.5; churn 5/10 = 0.5.

Retention 0.8 → 0.5, difference −0.30. Newcombe's hybrid score interval from the Wilson
intervals 8/10 = [0.49016, 0.94332] and 5/10 = [0.23659, 0.76341]:
lo = −0.3 − sqrt((0.5 − 0.23659)² + (0.94332 − 0.8)²) = −0.3 − sqrt(0.069383 + 0.020540)
= −0.59987; hi = −0.3 + sqrt((0.76341 − 0.5)² + (0.8 − 0.49016)²) = −0.3 + sqrt(0.069383 +
0.095999) = 0.10667. It holds 0: not significant with 10 customers a period. Churn 0.2 → 0.5 is
the mirror image: +0.30 in [−0.10667, 0.59987].

Average order value: 2024-Q1's counted orders are B's ten, mean 100, sd = sqrt(10·10²/9) =
10.5409, se = 3.33333; 2025-Q1's are B01–B05's five, mean 150, sd = sqrt(200/4) = 7.07107,
se = 3.16228. Welch: se_d = sqrt(11.1111 + 10) = 4.59468, ν = 21.1111² / (11.1111²/9 +
10²/4) = 11.5111, t(ν, 0.975) = 2.18912 → +50 in [39.942, 60.058]: significant.

New customers: 10 then 0, −10 — a count, no interval. NPS: no feedback, not available.

广东 only: 2024-Q1 S = A06–A10 (5), retained A06–A08 → 3/5; 2025-Q1 S = B06–B10 (5), none back
→ 0/5. −0.6, Wilson 3/5 = [0.23072, 0.88238], 0/5 = [0, 0.43448]: lo = −0.6 − 0.28238 =
−0.88238, hi = −0.6 + sqrt(0.43448² + 0.36928²) = −0.6 + 0.57021 = −0.02979: significant.
"""

from __future__ import annotations

import pandas as pd
import pytest

import crmkit
from crmkit import db, periods, views

KEYS = ["retention_rate", "customer_churn", "new_customers", "avg_order_value", "nps"]


def _customer(cid: str, sk: int, province: str, created: str = "2022-01-01") -> dict:
    return {
        "customer_id": cid,
        "customer_sk": sk,
        "name": f"客户{cid}",
        "province": province,
        "created_at": pd.Timestamp(created),
    }


def _order(n: int, cid: str, sk: int, ts: str, amount: float) -> dict:
    return {
        "order_id": f"O{n:03d}",
        "customer_id": cid,
        "customer_sk": sk,
        "order_ts": pd.Timestamp(ts),
        "amount": amount,
        "status": "completed",
    }


@pytest.fixture(scope="module")
def con():
    c = db.connect(":memory:", read_only=False)
    db.create_schema(c)
    a = [(f"A{i:02d}", i, "广东" if i > 5 else "北京") for i in range(1, 11)]
    b = [(f"B{i:02d}", 100 + i, "广东" if i > 5 else "北京") for i in range(1, 11)]
    customers = [_customer(*x) for x in a + b] + [_customer("Z", 999, "北京", "2025-06-30")]
    orders = [_order(i, cid, sk, "2023-02-01", 10) for i, (cid, sk, _) in enumerate(a)]
    orders += [_order(20 + i, cid, sk, "2023-12-01", 10) for i, (cid, sk, _) in enumerate(a[:8])]
    orders += [
        _order(40 + i, cid, sk, "2024-02-01", 90 if i % 2 == 0 else 110)
        for i, (cid, sk, _) in enumerate(b)
    ]
    orders += [
        _order(60 + i, cid, sk, "2025-02-01", amount)
        for i, ((cid, sk, _), amount) in enumerate(
            zip(b[:5], [140, 150, 160, 150, 150], strict=True)
        )
    ]
    c.insert("customers", pd.DataFrame(customers))
    c.insert("orders", pd.DataFrame(orders))
    yield c
    c.disconnect()


@pytest.fixture(scope="module")
def compared(con):
    return crmkit.compare_periods(con, KEYS, "2024-Q1", "2025-Q1", lang="en").set_index("key")


def test_retention_8_of_10_against_5_of_10(compared):
    r = compared.loc["retention_rate"]
    assert (r.period_a, r.period_b) == ("2024-Q1", "2025-Q1")
    assert (r.value_a, r.n_a, r.value_b, r.n_b) == (0.8, 10, 0.5, 10)
    assert r.difference == pytest.approx(-0.3)
    assert (r.lo, r.hi) == pytest.approx((-0.59987, 0.10667), abs=5e-6)
    assert r.significant is False
    assert r.method == "Newcombe hybrid score 95 %"
    # each period's own interval is the KPI's Wilson interval
    assert (r.lo_a, r.hi_a) == pytest.approx((0.49016, 0.94332), abs=5e-6)


def test_churn_is_the_mirror_image(compared):
    r = compared.loc["customer_churn"]
    assert (r.value_a, r.value_b) == (0.2, 0.5)
    assert r.difference == pytest.approx(0.3)
    assert (r.lo, r.hi) == pytest.approx((-0.10667, 0.59987), abs=5e-6)
    assert r.significant is False


def test_average_order_value_by_welch(compared):
    r = compared.loc["avg_order_value"]
    assert (r.value_a, r.n_a, r.value_b, r.n_b) == (100.0, 10, 150.0, 5)
    assert r.difference == pytest.approx(50.0)
    assert (r.lo, r.hi) == pytest.approx((39.942, 60.058), abs=5e-4)
    assert r.significant is True
    assert r.method == "Welch t 95 %"


def test_a_count_and_a_missing_kpi_get_no_interval(compared):
    """New customers 10 → 0 is a difference without an interval; NPS without feedback is not
    available in either period, and the note says why."""
    n = compared.loc["new_customers"]
    assert (n.value_a, n.value_b, n.difference) == (10, 0, -10)
    assert pd.isna(n.lo) and n.significant is None
    assert n.note == "a count: no per-unit basis for an interval"
    nps = compared.loc["nps"]
    assert pd.isna(nps.difference) and nps.significant is None
    assert nps.note == "2024-Q1: the Feedback table is empty"


def test_filters_scope_the_customers(con):
    """广东 only: 3/5 → 0/5, −0.6 in [−0.88238, −0.02979]: significant. A mapping and the page's
    Filters give the same row."""
    by_dict = crmkit.compare_periods(
        con, "retention_rate", "2024-Q1", "2025-Q1", filters={"province": "广东"}
    ).iloc[0]
    assert (by_dict.value_a, by_dict.n_a, by_dict.value_b, by_dict.n_b) == (0.6, 5, 0.0, 5)
    assert (by_dict.difference, by_dict.lo, by_dict.hi) == pytest.approx(
        (-0.6, -0.88238, -0.02979), abs=5e-6
    )
    assert by_dict.significant is True
    by_page = crmkit.compare_periods(
        con, ["retention_rate"], "2024-Q1", "2025-Q1", filters=views.Filters(province="广东")
    ).iloc[0]
    pd.testing.assert_series_equal(by_dict, by_page)


def test_periods_as_objects_or_strings(con):
    """A Period and its label are the same period; months and years parse too (2024-02 holds
    all of B's first orders: 10 new customers)."""
    as_text = crmkit.compare_periods(con, ["new_customers"], "2024-02", "2025")
    as_objects = crmkit.compare_periods(
        con, ["new_customers"], periods.parse_period("2024-02"), periods.parse_period("2025")
    )
    pd.testing.assert_frame_equal(as_text, as_objects)
    r = as_text.iloc[0]
    assert (r.period_a, r.period_b, r.value_a, r.value_b) == ("2024-02", "2025", 10, 0)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"kpis": "retention"}, "unknown KPI 'retention'; expected one of: retention_rate"),
        ({"b": "2025-Q5"}, "period '2025-Q5' not understood"),
        ({"filters": {"region": "华南"}}, "unknown filter region; expected province"),
        ({"filters": views.Filters(period="90d")}, "leave the filter bar's period at 'all'"),
        ({"filters": {"segment": "important_value"}}, "a segment filter needs the published"),
    ],
)
def test_bad_input_is_named(con, kwargs, message):
    args = {"kpis": "retention_rate", "a": "2024-Q1", "b": "2025-Q1"} | kwargs
    with pytest.raises(ValueError, match=message.replace("(", r"\(")):
        crmkit.compare_periods(con, args.pop("kpis"), args.pop("a"), args.pop("b"), **args)
