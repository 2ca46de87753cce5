"""crmkit.kpi: every implemented KPI definition on a hand-worked fixture, the KPI value's Metric
shape, targets, the lazy KPIs of issues 7/8 — and, on the shared demo, the planted high-return
product and one number on the overview page, in the report and in notebook 05.

The fixture (period 2024-Q2 = [2024-04-01, 2024-07-01); W = 365 days)
--------------------------------------------------------------------
Customer ids are single letters; their surrogate key ``customer_sk`` (set by ingest) is the
letter's code point. Customer at a date d: a counted order (not returned / refunded /
cancelled) in [d − 365 d, d).
S window [2023-04-02, 2024-04-01); E window [2023-07-02, 2024-07-01).

======  ====  ==========================================  ====  ====  ====
cust    prov  counted orders                              in S  in E  new
======  ====  ==========================================  ====  ====  ====
A       广东  2023-06-01, 2024-05-10 (100)                yes   yes
B       广东  2023-05-01                                  yes   no
C       广东  2023-08-01                                  yes   yes
I       广东  2023-04-10                                  yes   no
G       北京  2024-03-20                                  yes   yes
D       北京  2024-04-15 (300) — first ever               no    yes   yes
E       北京  2022-01-01, 2024-06-01 (200) — comes back   no    yes
F       北京  only a returned order 2024-05-01 (50)       no    no
H       北京  only a cancelled order 2024-05-05 (80)      no    no
======  ====  ==========================================  ====  ====  ====

A also has a refunded order 2024-06-15 (70).
S = 5 (A B C I G), E = 5 (A C G D E), N = 1 (D), retained = 3 (A C G), reactivated = E − N −
retained = 1 (E).  retention = (E − N) / S = 4/5 = 0.8; churn = (S − retained) / S = 2/5 = 0.4.
Return rate: placed (not cancelled) in the period A100, D300, E200, F50 (returned), A70
(refunded) = 5, returned 1 → 0.2. AOV: counted orders in the period 100, 300, 200 → 200, sd 100,
interval 200 ± 1.96·100/√3 = ± 113.16.
广东 only: S = 4 (A B C I), E = 2 (A C), N = 0 → retention 2/4 = 0.5, churn 0.5.

Opportunities: OP1 A won (closed 2024-05-01, source event), OP2 B lost (closed 2024-06-01,
event), OP3 F lost (opened 2024-02-01, closed 2024-04-20, web), OP4 D proposal (opened
2024-03-15, stage changed 2024-05-01, ¥1,000), OP5 H lead (opened 2024-05-20, ¥500), OP6 A won
(opened 2024-06-01, closed 2024-08-01), OP7 C lost (closed 2024-03-01).
Sales conversion 2024-Q2: closed in the period OP1 won, OP2 + OP3 lost → 1/3.
Lead conversion: prospects (no counted order before 2024-04-01) with an opportunity open in the
period: F (OP3), D (OP4), H (OP5) = 3; D bought first on 2024-04-15 → 1/3.
"""

from __future__ import annotations

import json
import math
import re
import sys
import types
from dataclasses import replace
from datetime import datetime
from pathlib import Path

import pandas as pd
import pytest

from crmkit import config, db, demo, kpi, periods, returns, stats, views

ROOT = Path(__file__).resolve().parents[1]
Q2 = "2024-Q2"


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
def con():
    c = db.connect(":memory:", read_only=False)
    db.create_schema(c)
    provinces = {"A": "广东", "B": "广东", "C": "广东", "I": "广东"}
    _insert(
        c,
        "customers",
        [
            {
                "customer_id": k,
                "customer_sk": ord(k),
                "name": f"客户{k}",
                "province": provinces.get(k, "北京"),
                "created_at": pd.Timestamp("2021-01-01"),
            }
            for k in "ABCDEFGHI"
        ],
    )
    _insert(c, "products", [{"product_id": "P1", "name": "产品1", "category": "X"}])
    _insert(
        c,
        "orders",
        [
            _order("O01", "A", "2023-06-01", 10),
            _order("O02", "A", "2024-05-10", 100),
            _order("O03", "B", "2023-05-01", 10),
            _order("O04", "C", "2023-08-01", 10),
            _order("O05", "I", "2023-04-10", 10),
            _order("O06", "G", "2024-03-20", 10),
            _order("O07", "D", "2024-04-15", 300),
            _order("O08", "E", "2022-01-01", 10),
            _order("O09", "E", "2024-06-01", 200),
            _order("O10", "F", "2024-05-01", 50, "returned", reason="质量问题"),
            _order("O11", "H", "2024-05-05", 80, "cancelled"),
            _order("O12", "A", "2024-06-15", 70, "refunded"),
        ],
    )

    def opp(oid, cust, stage, opened, changed=None, closed=None, source="event", amount=100):  # noqa: ANN001, ANN202
        return {
            "opportunity_id": oid,
            "customer_id": cust,
            "customer_sk": ord(cust),
            "stage": stage,
            "amount": amount,
            "source": source,
            "owner": "王",
            "opened_at": pd.Timestamp(opened),
            "stage_changed_at": pd.Timestamp(changed or closed or opened),
            "closed_at": pd.Timestamp(closed) if closed else pd.NaT,
        }

    _insert(
        c,
        "opportunities",
        [
            opp("OP1", "A", "won", "2024-03-01", closed="2024-05-01"),
            opp("OP2", "B", "lost", "2024-04-10", closed="2024-06-01"),
            opp("OP3", "F", "lost", "2024-02-01", closed="2024-04-20", source="web"),
            opp("OP4", "D", "proposal", "2024-03-15", changed="2024-05-01", amount=1000),
            opp("OP5", "H", "lead", "2024-05-20", amount=500),
            opp("OP6", "A", "won", "2024-06-01", closed="2024-08-01"),
            opp("OP7", "C", "lost", "2023-12-01", closed="2024-03-01"),
        ],
    )
    yield c
    c.disconnect()


AS_OF = datetime(2024, 9, 30, 12)


def value(con, key, period=Q2, **kw):  # noqa: ANN001, ANN201
    return kpi.compute(con, key, period, as_of=AS_OF, **kw)


# --------------------------------------------------------------------------------------------
# Hand-worked KPI values
# --------------------------------------------------------------------------------------------


def test_customer_flow(con):
    p = periods.parse_period(Q2)
    ctx = kpi.KPIContext(con, p.start, p.end, as_of=AS_OF)
    assert kpi.customer_flow(ctx) == {"S": 5, "E": 5, "N": 1, "retained": 3}


def test_retention_rate(con):
    """(E − N) / S = (5 − 1) / 5 = 0.8, Wilson(4, 5) = [0.3755, 0.9638]."""
    v = value(con, "retention_rate")
    assert (v.numerator, v.denominator, v.n) == (4, 5, 5)
    assert v.value == pytest.approx(0.8)
    _, lo, hi = stats.wilson(4, 5)
    assert (v.lo, v.hi) == (pytest.approx(lo), pytest.approx(hi))
    assert round(v.lo, 4) == 0.3755 and round(v.hi, 4) == 0.9638
    assert v.small_sample and v.available and v.method == "Wilson 95 %"
    assert v.extras["reactivated"] == 1 and v.extras["retained"] == 3


def test_customer_churn(con):
    """(S − retained) / S = (5 − 3) / 5 = 0.4 (B and I lost); not 1 − retention (E came back)."""
    v = value(con, "customer_churn")
    assert (v.numerator, v.denominator, v.value) == (2, 5, pytest.approx(0.4))
    assert not v.higher_is_better


def test_new_customers(con):
    v = value(con, "new_customers")
    assert v.value == 1 and v.n == 1 and v.lo is None and v.unit == "count"


def test_sales_conversion(con):
    """Closed in 2024-Q2: OP1 won, OP2 and OP3 lost → 1/3."""
    v = value(con, "sales_conversion")
    assert (v.numerator, v.denominator) == (1, 3)
    assert v.value == pytest.approx(1 / 3)


def test_lead_conversion(con):
    """Prospects F, D, H with an opportunity open in the period; D bought → 1/3."""
    v = value(con, "lead_conversion")
    assert (v.numerator, v.denominator) == (1, 3)


def test_return_rate(con):
    """1 returned of 5 placed (the cancelled order is not counted)."""
    v = value(con, "return_rate")
    assert (v.numerator, v.denominator, v.value) == (1, 5, pytest.approx(0.2))


def test_average_order_value(con):
    """(100 + 300 + 200) / 3 = 200, sd 100 → 200 ± 1.96·100/√3 = [86.84, 313.16]."""
    v = value(con, "avg_order_value")
    assert v.value == pytest.approx(200.0) and v.n == 3
    assert v.lo == pytest.approx(200 - stats.Z95 * 100 / math.sqrt(3))
    assert round(v.hi, 2) == 313.16
    assert v.method == "normal 95 %"


def test_scope_restricts_customers(con):
    """广东 only: S = 4 (A B C I), E = 2 (A C), N = 0 → retention 0.5, churn 0.5, no returns
    (F is in 北京): placed A100 + A70 = 2."""
    scope = con.table("customers").filter(lambda c: c.province == "广东")
    vals = {v.key: v for v in kpi.compute_all(con, Q2, customers=scope, as_of=AS_OF, keys=kpi.CORE)}
    assert vals["retention_rate"].value == pytest.approx(0.5)
    assert vals["customer_churn"].value == pytest.approx(0.5)
    assert vals["new_customers"].value == 0
    assert (vals["return_rate"].numerator, vals["return_rate"].denominator) == (0, 2)


def test_period_with_no_data_s_zero(con):
    """2020-Q1: nobody at start (S = 0), no orders, no opportunities — no number is made up."""
    vals = {v.key: v for v in kpi.compute_all(con, "2020-Q1", as_of=AS_OF, keys=kpi.CORE)}
    for key in ("retention_rate", "customer_churn", "sales_conversion", "return_rate"):
        v = vals[key]
        assert v.value is None and v.n == 0 and v.lo is None and v.small_sample, key
    assert vals["new_customers"].value == 0
    assert vals["avg_order_value"].value is None and vals["avg_order_value"].n == 0


def test_no_closed_opportunities(con):
    """2023-Q3 has customers (S = 3: A B I ordered in [2022-07-01, 2023-07-01)) but no
    opportunity closed: conversion is None with n = 0, retention is still computed."""
    conv = value(con, "sales_conversion", "2023-Q3")
    assert conv.value is None and conv.n == 0 and conv.available
    ret = value(con, "retention_rate", "2023-Q3")
    assert ret.denominator == 3 and ret.value is not None


def test_missing_table_reports_unavailable():
    """A warehouse without an opportunities table: conversion is unavailable, not an error;
    with an empty orders table the order KPIs are not available either (not 0)."""
    c = db.connect(":memory:", read_only=False)
    c.create_table("orders", schema=db.schema.TABLES["orders"].ibis_schema())
    vals = {v.key: v for v in kpi.compute_all(c, Q2, as_of=AS_OF, keys=kpi.CORE)}
    assert not vals["sales_conversion"].available
    assert vals["sales_conversion"].reason == "no_table:opportunities"
    # an orders table without rows: every order KPI is not available, never 0
    assert not vals["return_rate"].available
    assert vals["return_rate"].reason == "empty_table:orders"


@pytest.mark.parametrize("with_status", [True, False])
def test_return_rate_needs_a_status_from_the_data(tmp_path, with_status):
    """tests/fixtures: customers, products and the six orders, once as they are and once from a
    copy without the status column. 2024-Q1 has O001 completed, O002 completed, O003 returned,
    O004 completed, O005 refunded (O006, cancelled, is on 2024-04-02): with the statuses the
    return rate is 1 / 5 = 0.2 as always. Without them ingest set every status to completed and
    marked it (``status_defaulted``): the rate is not available with the reason, not 0 / 5."""
    from crmkit.i18n import reason_text
    from crmkit.ingest import ingest

    fixtures = ROOT / "tests" / "fixtures"
    orders = fixtures / "orders.csv"
    if not with_status:
        orders = tmp_path / "orders_without_status.csv"
        pd.read_csv(fixtures / "orders.csv").drop(columns="status").to_csv(orders, index=False)
    c = db.connect(":memory:", read_only=False)
    for table, path in (("customers", fixtures / "customers.csv"),
                        ("products", fixtures / "products.csv"), ("orders", orders)):  # fmt: skip
        assert ingest(path, table, con=c).ok
    v = kpi.compute(c, "return_rate", "2024-Q1")
    if with_status:
        assert (v.available, v.numerator, v.n, v.value) == (True, 1, 5, 0.2)
        return
    assert (v.available, v.value, v.n, v.reason) == (False, None, None, "status_defaulted")
    assert reason_text(v.reason, "zh") == "订单状态不在数据中（导入时全部记为已完成）"
    assert reason_text(v.reason, "en") == (
        "order status was not in the data (all set to completed at ingest)"
    )
    with pytest.raises(stats.NotEnoughData, match="status_defaulted"):
        returns.return_alerts(c, datetime(2024, 1, 1), datetime(2024, 4, 1))
    # a period without any order is still "nothing to count", not the status
    empty = kpi.compute(c, "return_rate", "2023-Q1")
    assert (empty.available, empty.n) == (True, 0)


def test_value_is_the_metric_of_its_counts(con):
    """A KPI value is a stats.Metric (the one shape of a rate) with the KPI's metadata: the
    return rate 1/5 is exactly Metric.rate(1, 5) with the KPI's 口径 and the period's window."""
    v = value(con, "return_rate", lang="en")
    k = kpi.kpi("return_rate")
    assert v.metric == stats.Metric.rate(
        "return_rate", 1, 5, definition=k.definitions(), window="2024-04-01 ≤ t < 2024-07-01"
    )
    assert (v.key, v.value, v.n, v.lo) == ("return_rate", v.metric.value, 5, v.metric.lo)
    assert v.definition == {"zh": k.definition("zh"), "en": k.definition("en")}
    assert v.definition["en"].startswith("numerator: orders placed in the period and returned")
    row = v.as_dict()
    assert list(row)[: len(stats.METRIC_COLUMNS)] == list(stats.METRIC_COLUMNS)
    assert (row["name"], row["unit"], row["higher_is_better"], row["period"]) == (
        "Return rate",
        "rate",
        False,
        "2024-Q2",
    )
    assert list(kpi.values_frame([v]).columns) == list(row)


def test_window_of_a_period_not_over_yet(con):
    """2024-Q3 seen on 2024-08-15: counted up to the end of that day."""
    v = kpi.compute(con, "return_rate", "2024-Q3", as_of=datetime(2024, 8, 15, 9))
    assert v.window == "2024-07-01 ≤ t < 2024-08-16"
    assert (v.start, v.end) == (datetime(2024, 7, 1), datetime(2024, 10, 1))


def test_names_and_definitions_come_from_the_measures():
    """One 口径 registry: every KPI but the satisfaction and complaint ones is its MEASURES
    entry."""
    from crmkit import definitions

    for key, k in kpi.REGISTRY.items():
        if key not in ("nps", "csat", "complaint_sla"):
            assert k.measure is definitions.MEASURES[key], key
    assert kpi.kpi("retention_rate").name("en") == "Retention rate"


def test_config_sets_the_counted_orders(con):
    """With only cancelled orders excluded, F's returned order (2024-05-01, 50) and A's refunded
    one (2024-06-15, 70) count: F is a new customer (N = 2: D, F; E = 6, S = 5, retained 3 →
    retention (6 − 2) / 5 = 0.8), AOV = (100 + 300 + 200 + 50 + 70) / 5 = 144. The return
    rate's placed orders do not depend on the rule: 1/5."""
    cfg = config.load().replace_rules({"rfm": {"exclude_statuses": ["cancelled"]}})
    vals = {v.key: v for v in kpi.compute_all(con, Q2, as_of=AS_OF, config=cfg, keys=kpi.CORE)}
    assert vals["new_customers"].value == 2
    assert vals["new_customers"].extras == {"S": 5, "E": 6, "N": 2, "retained": 3}
    assert vals["retention_rate"].value == pytest.approx(0.8)
    assert vals["avg_order_value"].value == pytest.approx(144.0)
    assert (vals["return_rate"].numerator, vals["return_rate"].denominator) == (1, 5)
    assert value(con, "new_customers", config=cfg).value == 2
    assert value(con, "new_customers").value == 1


def test_lost_customers(con):
    """Customers at the start of 2024-Q2 who are none at its end: B and I (¥10 each)."""
    lost = kpi.lost_customers(con, Q2, as_of=AS_OF).to_pandas()
    assert lost.customer_id.tolist() == ["B", "I"]
    assert lost.monetary.tolist() == [10.0, 10.0]
    cfg = config.load().replace_rules({"rfm": {"exclude_statuses": ["cancelled"]}})
    assert kpi.lost_customers(con, Q2, as_of=AS_OF, config=cfg).to_pandas().equals(lost)


def test_unknown_kpi_is_a_clear_error(con):
    with pytest.raises(ValueError, match="unknown KPI 'nope'; expected one of: retention_rate"):
        value(con, "nope")


# --------------------------------------------------------------------------------------------
# KPIs of issues 7 and 8: lazy, unavailable until their module exists
# --------------------------------------------------------------------------------------------

EXTERNAL = {
    "nps": "crmkit.satisfaction:kpi_nps",
    "csat": "crmkit.satisfaction:kpi_csat",
    "complaint_sla": "crmkit.complaints:kpi_complaint_sla",
    "repurchase_rate": "crmkit.loyalty:kpi_repurchase_rate",
    "referral_rate": "crmkit.loyalty:kpi_referral_rate",
    "clv": "crmkit.clv:kpi_clv",
}


def test_external_kpis_are_declared_with_their_paths():
    assert {k: v.compute for k, v in kpi.REGISTRY.items() if v.external} == EXTERNAL


@pytest.mark.parametrize("key", sorted(EXTERNAL))
def test_missing_module_reports_unavailable(con, key, monkeypatch):
    module = EXTERNAL[key].partition(":")[0]
    monkeypatch.setitem(sys.modules, module, None)  # as if the module did not exist
    v = value(con, key)
    assert not v.available and v.value is None and v.n is None
    assert module in v.reason and "issue" in v.reason


def test_module_without_the_function_reports_unavailable(con, monkeypatch):
    monkeypatch.setitem(sys.modules, "crmkit.satisfaction", types.ModuleType("crmkit.satisfaction"))
    v = value(con, "nps")
    assert not v.available and "has no kpi_nps()" in v.reason


def test_external_function_is_called_with_the_period_and_scope(con, monkeypatch):
    """A rate gets its Wilson interval here; a score passes value / n / interval through."""
    seen = {}
    mod = types.ModuleType("crmkit.satisfaction")

    def kpi_csat(c, *, start, end, customers, config):  # noqa: ANN001, ANN202
        seen.update(start=start, end=end, customers=customers)
        return {"numerator": 8, "denominator": 10}

    mod.kpi_csat = kpi_csat
    mod.kpi_nps = lambda c, **kw: {"value": 25.0, "n": 40, "lo": 10.0, "hi": 40.0}
    monkeypatch.setitem(sys.modules, "crmkit.satisfaction", mod)
    assert value(con, "csat").reason == "empty_table:feedback"  # not called on no data
    row = {"feedback_id": "F1", "customer_id": "A", "ts": pd.Timestamp("2024-05-01")}
    _insert(con, "feedback", [row | {"source": "survey", "customer_sk": ord("A")}])
    v = value(con, "csat")
    assert v.available and v.value == pytest.approx(0.8) and v.n == 10 and v.small_sample
    assert round(v.lo, 4) == 0.4902 and round(v.hi, 4) == 0.9433
    assert seen["start"] == datetime(2024, 4, 1) and seen["end"] == datetime(2024, 7, 1)
    n = value(con, "nps")
    assert (n.value, n.n, n.lo, n.hi, n.small_sample) == (25.0, 40, 10.0, 40.0, False)


# --------------------------------------------------------------------------------------------
# Targets, attainment, forecast
# --------------------------------------------------------------------------------------------


def test_targets_config_covers_every_kpi():
    """The neutral defaults name every KPI and period with no target; the demo's set them."""
    from crmkit import config

    july = periods.parse_period("2025-07")
    for cfg, expected in ((config.load(), None), (config.load(demo=True), 0.04)):
        targets = kpi.load_targets(config=cfg)
        assert set(targets["targets"]) == set(kpi.REGISTRY)
        for key, per in targets["targets"].items():
            assert set(per) == {"month", "quarter", "year"}, key
        assert kpi.target_for("return_rate", july, targets) == expected


def test_bad_targets_are_named(tmp_path):
    bad = tmp_path / "t.json"
    bad.write_text(json.dumps({"targets": {"retention": {"quarter": 0.9}}}))
    with pytest.raises(ValueError, match="targets has the key 'retention'; expected a KPI key"):
        kpi.load_targets(bad)
    with pytest.raises(
        ValueError, match="targets.customer_churn has the key 'week'; expected month"
    ):
        kpi.load_targets({"targets": {"customer_churn": {"week": 0.1}}})


def test_attainment_both_directions():
    """Higher is better: 0.8 / 0.85 = 0.941, gap −0.05, not met. Lower is better (churn):
    target 0.04 / value 0.05 = 0.8, not met; 0.03 → 1.333, met."""
    a = kpi.attainment(0.8, 0.85, True)
    assert a["attainment"] == pytest.approx(0.941176, abs=1e-6) and a["gap"] == pytest.approx(-0.05)
    assert a["met"] is False
    assert kpi.attainment(0.05, 0.04, False)["attainment"] == pytest.approx(0.8)
    assert kpi.attainment(0.03, 0.04, False)["met"] is True
    assert kpi.attainment(None, 0.04, False)["met"] is None


def test_forecast_linear_run_rate(con):
    """2024-Q3 seen on 2024-08-15: 46 of 92 days elapsed (share 0.5); a count doubles, a rate
    is carried forward; a finished period's forecast is its value."""
    as_of = datetime(2024, 8, 15, 9)
    kv = kpi.compute(con, "new_customers", "2024-Q3", as_of=as_of)
    kv = replace(kv, metric=replace(kv.metric, value=7.0))
    fc = kpi.forecast(kv, as_of)
    assert fc["elapsed"] == pytest.approx(0.5) and fc["forecast"] == pytest.approx(14.0)
    rate = replace(kv, unit="rate", metric=replace(kv.metric, value=0.3))
    assert kpi.forecast(rate, as_of)["forecast"] == pytest.approx(0.3)
    done = value(con, "new_customers")
    assert kpi.forecast(done, AS_OF) == {"elapsed": 1.0, "forecast": 1, "method": "actual"}


def test_evaluate_against_target_and_previous(con):
    demo_targets = kpi.load_targets(config=config.load(demo=True))
    ev = kpi.evaluate(con, Q2, as_of=AS_OF, keys=kpi.CORE, targets=demo_targets).set_index("key")
    r = ev.loc["retention_rate"]
    assert r.value == pytest.approx(0.8) and r.target == 0.965 and r.met == False  # noqa: E712
    assert r.previous_period == "2024-Q1"
    # 2024-Q1: S window [2023-01-01, 2024-01-01) → A B C I (4); E window [2023-04-02,
    # 2024-04-01) → A B C I G (5); N = G (1) → (5 − 1) / 4 = 1.0; retained 4 → churn 0
    assert r.previous == pytest.approx(1.0)
    assert r.change == pytest.approx(-0.2) and r.direction == "worse"
    assert ev.loc["customer_churn"].direction == "worse"  # 0.0 → 0.4


# --------------------------------------------------------------------------------------------
# The shared demo: planted truth; page = report = notebook
# --------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def demo_con(demo_published):
    c = db.connect(demo_published)
    yield c
    c.disconnect()


@pytest.fixture(scope="module")
def page_data(demo_con):
    return views.kpi_overview_data(demo_con, views.Filters(), lang="zh", role="dashboard")


def test_planted_high_return_product_is_flagged_first(demo_con, page_data):
    planted = demo.PLANTED["high_return_product"]["product_id"]
    alerts = page_data["returns"]
    assert page_data["period"].label == "2026-Q3"
    assert alerts.iloc[0].product_id == planted and bool(alerts.iloc[0].flagged)
    assert alerts.iloc[0].rate > 0.18 and alerts.iloc[0].category_rate < 0.06
    year = returns.return_alerts(demo_con, datetime(2025, 10, 1), datetime(2026, 10, 1))
    assert year.iloc[0].product_id == planted
    top = page_data["top_reason"].set_index("product_id").loc[planted, "top_reason"]
    assert top.startswith("质量问题")


def test_published_kpis_equal_the_live_computation(demo_con):
    """The snapshot's ``kpi_values`` (read when no customer filter is set) hold exactly what a
    live computation gives."""
    assert kpi.KPI_TABLE in demo_con.list_tables()
    as_of = db.data_as_of(demo_con)
    p = periods.last_complete_period(as_of)
    stored = kpi.stored_values(demo_con, p, as_of)
    assert stored is not None and set(stored) == set(kpi.REGISTRY)
    ctx = kpi.KPIContext(demo_con, p.start, p.end, None, as_of)
    for key in kpi.REGISTRY:
        live = kpi.compute(demo_con, key, p, as_of=as_of, context=ctx)
        s = stored[key]
        assert (s.value, s.n, s.lo, s.hi, s.available) == (
            live.value,
            live.n,
            live.lo,
            live.hi,
            live.available,
        ), key
    assert kpi.stored_values(demo_con, periods.parse_period("2019-Q1"), as_of) is None


def test_overview_filters_scope_the_kpis(demo_con):
    """A province filter computes the KPIs live over that province's customers; a 90-day preset
    gives a trailing window held against the quarterly targets. The overview is the landing
    page: first in PAGES."""
    f = views.Filters(province="辽宁")
    d = views.kpi_overview_data(demo_con, f, lang="en", role="dashboard")
    scope = views.customers_in_scope(demo_con, f)
    live = kpi.compute(demo_con, "customer_churn", d["period"], customers=scope)
    assert d["cards"]["customer_churn"] == live.value
    assert d["evaluation"].set_index("key").loc["customer_churn", "n"] < 2_000
    w = views.reporting_period(demo_con, views.Filters(period="90d"))
    assert (w.label, periods.target_kind(w)) == ("90d", "quarter")
    assert next(iter(views.PAGES)) == "overview"


def _report_cards(text: str) -> dict[str, str]:
    return dict(re.findall(r"data-key='(\w+)' data-value='([^']*)'", text))


def test_overview_page_report_and_notebook_show_the_same_numbers(demo_con, page_data):
    from crmkit import report

    text, data = report.build_report(demo_con)
    assert data["period"].label == page_data["period"].label
    cards = _report_cards(text)
    page_cards = _report_cards(views.kpi_cards_html(page_data["evaluation"], "zh"))
    assert cards == page_cards
    for key, v in page_data["cards"].items():
        assert cards[key] == ("" if v is None else repr(v)), key
    # every KPI has a number on the published demo, NPS (issue 7) and CLV (issue 8) included
    assert all(cards[k] != "" for k in kpi.REGISTRY), cards
    nb = json.loads((ROOT / "notebooks" / "05_kpi_overview.ipynb").read_text())
    printed = "".join(
        "".join(o.get("text", ""))
        for c in nb["cells"]
        if c["cell_type"] == "code"
        for o in c.get("outputs", [])
    )
    shown = dict(re.findall(r"^KPI (\w+) = ([-\d.]+)$", printed, flags=re.M))
    # the notebook computes on the published snapshot: every KPI, CLV (fitted at publish) too
    assert set(shown) == set(kpi.REGISTRY)
    for key in shown:
        assert float(shown[key]) == pytest.approx(page_data["cards"][key], abs=5e-7), key


def test_report_is_self_contained(demo_con, tmp_path):
    from plotly.offline import get_plotlyjs

    from crmkit import report

    text, _ = report.build_report(demo_con, period="2026-Q2", lang="en")
    assert get_plotlyjs() in text  # plotly.js inline, from the installed package
    rest = text.replace(get_plotlyjs(), "")
    assert not re.search(r"(src|href)=['\"]?(https?:)?//", rest)
    assert "Plotly.newPlot" in text and text.count("class='crmkit-chart'") == 4
    assert "Customer management report · 2026-Q2" in text
    # personal data masked in the lists
    lost = views.kpi_overview_data(demo_con, views.Filters(), role="dashboard", period="2026-Q2")
    name = lost["lost"].name.iloc[0]
    assert "*" in name


def test_cli_report_writes_the_file(demo_published, tmp_path, capsys):
    from crmkit.cli import main

    out = tmp_path / "r.html"
    code = main(["report", "--published", str(demo_published), "--lang", "en", "--out", str(out)])
    assert code == 0 and out.stat().st_size > 3_000_000  # plotly.js inline
    assert "report " in capsys.readouterr().out
    assert main(["report", "--published", str(demo_published), "--period", "Q9"]) == 2


def test_overview_alerts_from_satisfaction_and_churn(demo_con):
    """The hooks answer on the published demo: the planted slow channel (social, ~55 % of
    tickets past the 2-hour SLA) heads the satisfaction alerts; among the 500 customers at
    highest churn risk 'no purchase for long' is the commonest reason and the planted churn
    region (辽宁) shows up as a reason too."""
    from crmkit.i18n import code_label

    alerts = views.alert_hooks(demo_con, views.Filters(), "zh", "dashboard")
    sat = alerts["satisfaction"]
    assert sat.iloc[0].text.startswith("投诉首次响应超时最多的渠道：社交媒体")
    assert set(sat.page) == {"satisfaction"}
    ch = alerts["churn"]
    # the alert counts the customers the churn page's at-risk card counts (risk >= 50 %), not
    # every scored buyer
    page = views.churn_data(demo_con, views.Filters(), lang="zh", role="dashboard")
    at_risk = page["cards"]["at_risk"][0]
    assert 0 < at_risk < len(demo_con.table("churn_scores").to_pandas())
    assert ch.iloc[0].text.startswith(f"流失风险 ≥ 50% 的客户：{at_risk:,} 位，预期损失 ")
    assert "久未购买" in ch.iloc[1].text
    assert any("所在地区流失上升" in x for x in ch.text)
    en = views.alert_hooks(demo_con, views.Filters(), "en", "dashboard")
    assert en["satisfaction"].iloc[0].text.startswith("Worst complaint SLA channel: social")
    assert code_label("tickets", "channel", "social") == "社交媒体"
    assert code_label("orders", "channel", "store", "en") == "store"
    assert code_label("orders", "channel", None) == "—"
