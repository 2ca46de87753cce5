"""The business rules of crmkit.definitions, each on a small hand-worked case, and the proof
that they are read from the company's settings everywhere: one changed ``exclude_statuses``
moves RFM, churn, CLV, loyalty, the cubes and every order-based KPI together.

The orders used below (all ``completed`` unless said):

=====  ===========  ==========  =========
sk     order_ts     amount      status
=====  ===========  ==========  =========
1      2024-01-05   10          completed
1      2024-04-05   20          completed
2      2024-01-09   5           completed
3      2024-02-10   8           returned
3      2024-05-01   7           completed
4      2023-03-01   9           completed
=====  ===========  ==========  =========
"""

from __future__ import annotations

import json
import shutil
from datetime import datetime

import ibis
import pandas as pd
import pytest

import crmkit
from crmkit import config, db, definitions, demo, periods

D = datetime


@pytest.fixture
def orders():
    return ibis.memtable(
        {
            "customer_sk": [1, 1, 2, 3, 3, 4],
            "customer_id": ["C1", "C1", "C2", "C3", "C3", "C4"],
            "order_ts": [D(2024, 1, 5), D(2024, 4, 5), D(2024, 1, 9), D(2024, 2, 10),
                         D(2024, 5, 1), D(2023, 3, 1)],
            "amount": [10.0, 20.0, 5.0, 8.0, 7.0, 9.0],
            "status": ["completed"] * 3 + ["returned", "completed", "completed"],
        }
    )  # fmt: skip


def ids(t: ibis.Table) -> list:
    return sorted(t.to_pandas().customer_sk.tolist())


# --------------------------------------------------------------------------------------------
# counted orders, placed orders, scope
# --------------------------------------------------------------------------------------------


def test_counted_orders_follow_the_settings(orders):
    """Default: C3's returned order does not count (5 of 6). A config that excludes only
    cancelled orders counts it (6 of 6); an explicit empty list too."""
    assert definitions.counted_orders(orders).count().execute() == 5
    only_cancelled = config.load().replace_rules({"rfm": {"exclude_statuses": ["cancelled"]}})
    assert definitions.counted_orders(orders, config=only_cancelled).count().execute() == 6
    assert definitions.counted_orders(orders, excluded=()).count().execute() == 6


def test_counted_orders_windows_are_half_open(orders):
    """[2024-01-05, 2024-04-05): C1's first and C2's order, not C1's of 4 April (the end) nor
    C3's returned one; as_of 2024-01-09 keeps orders at or before that moment."""
    w = definitions.counted_orders(orders, start=D(2024, 1, 5), end=D(2024, 4, 5))
    assert w.count().execute() == 2
    upto = definitions.counted_orders(orders, as_of=D(2024, 1, 9))
    assert ids(upto) == [1, 2, 4]


def test_placed_orders_are_every_status_but_cancelled():
    o = ibis.memtable(
        {
            "customer_sk": [1, 1, 1, 1],
            "order_ts": [D(2024, 1, 1)] * 4,
            "status": ["completed", "returned", "refunded", "cancelled"],
        }
    )
    got = definitions.placed_orders(o, start=D(2024, 1, 1), end=D(2024, 2, 1))
    assert sorted(got.to_pandas().status) == ["completed", "refunded", "returned"]


def test_restrict_matches_on_the_surrogate_key_or_the_id(orders):
    by_sk = definitions.restrict(orders, ibis.memtable({"customer_sk": [3]}))
    by_id = definitions.restrict(orders, ibis.memtable({"customer_id": ["C3"]}))
    assert ids(by_sk) == ids(by_id) == [3, 3]
    with pytest.raises(ValueError, match="customer_sk or customer_id"):
        definitions.restrict(orders, ibis.memtable({"x": [1]}))


def test_window_rejects_an_empty_or_reversed_window():
    with pytest.raises(ValueError, match="must be after start"):
        definitions.window(D(2024, 2, 1), D(2024, 2, 1))
    with pytest.raises(ValueError, match="date or datetime"):
        definitions.window("2024-01-01", D(2024, 2, 1))


# --------------------------------------------------------------------------------------------
# customers at a date and customer churn
# --------------------------------------------------------------------------------------------


def test_customer_flow_and_customer_churn(orders):
    """Quarter 2024-04-01 … 2024-07-01, W = 365 days. Counted orders before the start:
    C1 (Jan), C2 (Jan), C4 (Mar 2023, 397 days before the start: out) → S = {1, 2}. Before
    the end (from 2023-07-02): C1, C2, C3 (May; its Feb order is returned) → E = {1, 2, 3}.
    N: first counted order in the quarter: C3. Retained S ∩ E = 2. Churn (S − retained) / S
    = 0 / 2."""
    flow = definitions.customer_flow(orders, start=D(2024, 4, 1), end=D(2024, 7, 1))
    assert flow == {"S": 2, "E": 3, "N": 1, "retained": 2}
    m = definitions.customer_churn(flow)
    assert (m.key, m.numerator, m.denominator, m.value) == ("customer_churn", 0, 2, 0.0)


def test_customer_churn_a_year_later(orders):
    """2025-01 … 2025-04: S = customers with a counted order in [2024-01-01, 2025-01-01) =
    {1, 2, 3}; none orders in [2024-04-01, 2025-04-01) except C1 (Apr 5) and C3 (May) → E =
    {1, 3}; churned: C2 → 1 / 3."""
    flow = definitions.customer_flow(orders, start=D(2025, 1, 1), end=D(2025, 4, 1))
    assert (flow["S"], flow["E"], flow["retained"]) == (3, 2, 2)
    assert definitions.customer_churn(flow).value == pytest.approx(1 / 3)


# --------------------------------------------------------------------------------------------
# buyer churn
# --------------------------------------------------------------------------------------------


def test_buyer_churn_over_a_quarter(orders):
    """[2024-04-02, 2024-07-02) (91 days): buyers of the 91 days before ([2024-01-02,
    2024-04-02)) are C1 and C2 (C3's order then was returned); C1 buys again → 1 of 2
    churned. The key names the 91-day measure."""
    m = definitions.buyer_churn(orders, start=D(2024, 4, 2), end=D(2024, 7, 2))
    assert (m.key, m.numerator, m.denominator, m.value) == ("buyer_churn_91d", 1, 2, 0.5)
    assert m.window == "2024-04-02 ≤ t < 2024-07-02" and m.small_sample
    assert m.definition == definitions.MEASURES["buyer_churn_91d"].definition()


def test_buyer_churn_flags_add_up_to_the_rate_of_each_quarter(orders):
    """Two rolling quarters ending 2024-07-02: the flags grouped by period_end equal
    buyer_churn of each window computed on its own."""
    qs = periods.rolling_quarters(D(2024, 7, 1, 12), 2)
    flags = definitions.buyer_churn_flags(orders, qs).to_pandas()
    for q in qs:
        mine = flags[flags.period_end == pd.Timestamp(q.end)]
        m = definitions.buyer_churn(orders, start=q.start, end=q.end)
        assert (int(mine.churned.sum()), len(mine)) == (m.numerator, m.denominator), q


def test_buyer_churn_flags_need_consecutive_equal_windows(orders):
    a = periods.Period("a", "window", D(2024, 1, 1), D(2024, 2, 1))
    b = periods.Period("b", "window", D(2024, 3, 1), D(2024, 4, 1))
    with pytest.raises(ValueError, match="consecutive and equally long"):
        definitions.buyer_churn_flags(orders, [a, b])


def test_churn_rate_by_a_customer_column(orders):
    """By region, the 91-day quarter above: north = {C1, C3}, south = {C2, C4}. North's base
    is C1 (C3's earlier order was returned), who bought again: 0 / 1; south's base C2, gone:
    1 / 1. Customer churn over 2025-Q1 by region: north S = {1, 3}, both still customers;
    south S = {2}, gone."""
    c = ibis.memtable({"customer_sk": [1, 2, 3, 4], "region": ["north", "south", "north", "south"]})
    f = definitions.churn_rate(
        orders, start=D(2024, 4, 2), end=D(2024, 7, 2), by="region", customers=c
    )
    assert f[["region", "numerator", "denominator"]].values.tolist() == [
        ["north", 0, 1],
        ["south", 1, 1],
    ]
    cc = definitions.churn_rate(
        orders, start=D(2025, 1, 1), end=D(2025, 4, 1), measure="customer_churn", by="region",
        customers=c,
    )  # fmt: skip
    assert cc[["region", "numerator", "denominator"]].values.tolist() == [
        ["north", 0, 2],
        ["south", 1, 1],
    ]
    with pytest.raises(ValueError, match="needs the customers table"):
        definitions.churn_rate(orders, start=D(2024, 4, 2), end=D(2024, 7, 2), by="region")
    with pytest.raises(ValueError, match="not one of"):
        definitions.churn_rate(orders, start=D(2024, 4, 2), end=D(2024, 7, 2), measure="x")


def test_the_two_churn_measures_have_two_names():
    a, b = definitions.MEASURES["customer_churn"], definitions.MEASURES["buyer_churn_91d"]
    assert a.zh != b.zh and a.en != b.en
    assert a.definition()["zh"] != b.definition()["zh"]


# --------------------------------------------------------------------------------------------
# the data clock
# --------------------------------------------------------------------------------------------


def test_data_clock_is_the_published_one_else_the_latest_timestamp():
    con = db.connect(":memory:", read_only=False)
    db.create_schema(con)
    con.insert(
        "customers",
        pd.DataFrame(
            {"customer_id": ["C1"], "customer_sk": [1], "name": ["A"],
             "created_at": [D(2024, 5, 1, 9)], "updated_at": [D(2024, 6, 2, 8)]}
        ),
    )  # fmt: skip
    assert db.data_as_of(con) == D(2024, 6, 2, 8)
    con.create_table("publish_info", pd.DataFrame({"as_of": [D(2024, 1, 1)]}))
    assert db.data_as_of(con) == D(2024, 1, 1)


# --------------------------------------------------------------------------------------------
# one changed setting moves every analysis
# --------------------------------------------------------------------------------------------

#: The KPIs counted from counted orders: they must all move with exclude_statuses.
ORDER_KPIS = (
    "retention_rate",
    "customer_churn",
    "new_customers",
    "avg_order_value",
    "repurchase_rate",
    "referral_rate",
    "clv",
)


@pytest.fixture(scope="module")
def two_snapshots(tmp_path_factory):
    """One demo warehouse (1,500 customers, seed 3) published twice: with the packaged
    settings and with a company directory whose only file counts returned and refunded orders
    as purchases (exclude_statuses = ["cancelled"])."""
    root = tmp_path_factory.mktemp("cfg")
    wh = root / "warehouse.duckdb"
    con = db.connect(wh, read_only=False)
    demo.generate(con, 1500, seed=3, progress=False)
    con.disconnect()
    company = root / "company"
    company.mkdir()
    rules = json.loads((config.DEFAULT_DIR / "classification_rules.json").read_text())
    rules["rfm"]["exclude_statuses"] = ["cancelled"]
    rules["version"] = "company-1"
    (company / "classification_rules.json").write_text(json.dumps(rules), encoding="utf-8")
    a = crmkit.publish(wh, root / "default.duckdb").path
    b = crmkit.publish(wh, root / "company.duckdb", config=company).path
    yield db.connect(a), db.connect(b), company
    shutil.rmtree(root, ignore_errors=True)


@pytest.mark.slow
def test_one_setting_changes_rfm_churn_clv_loyalty_cubes_and_kpis_together(two_snapshots):
    a, b, company = two_snapshots

    def frame(con, name, *cols):
        return con.table(name).select(*cols).to_pandas()

    # RFM: returned orders now count, so customers' frequency and spend grow
    fa = frame(a, "classification", "customer_id", "frequency", "monetary").set_index("customer_id")
    fb = frame(b, "classification", "customer_id", "frequency", "monetary").set_index("customer_id")
    assert fb.frequency.sum() > fa.frequency.sum() and fb.monetary.sum() > fa.monetary.sum()
    both = fa.join(fb, lsuffix="_a", rsuffix="_b").fillna(0)
    assert (both.frequency_b >= both.frequency_a).all()
    # CLV: the models see more repeat purchases
    assert (
        frame(b, "clv", "frequency").frequency.sum() > frame(a, "clv", "frequency").frequency.sum()
    )
    # churn: the warning model's features (returned orders now count as purchases) and the
    # buyer churn trend
    sa, sb = frame(a, "churn_scores", "frequency"), frame(b, "churn_scores", "frequency")
    assert sb.frequency.sum() > sa.frequency.sum()
    ta, tb = (
        frame(a, "retention_trend", "churned", "n"),
        frame(b, "retention_trend", "churned", "n"),
    )
    assert tb.n.sum() > ta.n.sum()
    # loyalty
    la = frame(a, "loyalty_rates", "key", "numerator", "denominator").set_index("key")
    lb = frame(b, "loyalty_rates", "key", "numerator", "denominator").set_index("key")
    assert not la.equals(lb)
    assert lb.loc["repurchase_rate", "numerator"] > la.loc["repurchase_rate", "numerator"]
    # cubes: the same per-group counts as the trend, under the new rule
    ca, cb = frame(a, "churn_quarters", "n"), frame(b, "churn_quarters", "n")
    assert cb.n.sum() > ca.n.sum()
    # every order-based KPI of the last complete quarter moves
    ka = frame(a, "kpi_values", "key", "period", "numerator", "value")
    kb = frame(b, "kpi_values", "key", "period", "numerator", "value")
    last = ka.period.iloc[0]
    ka = ka[ka.period == last].set_index("key")
    kb = kb[kb.period == last].set_index("key")
    moved = {k for k in ORDER_KPIS if ka.loc[k, "value"] != kb.loc[k, "value"]}
    assert moved == set(ORDER_KPIS), set(ORDER_KPIS) - moved
    # the return rate counts placed orders, a rule of its own: unchanged
    assert ka.loc["return_rate", "value"] == kb.loc["return_rate", "value"]
    # the snapshot says which settings it was built with
    info = b.table("publish_info").to_pandas().iloc[0]
    assert info.config_dir == str(company.resolve())
    assert info.config_fingerprint == config.load(company).fingerprint()
    assert info.config_fingerprint != a.table("publish_info").to_pandas().config_fingerprint[0]
    rules_version = b.table("classification").select("rules_version").distinct().to_pandas()
    assert rules_version.rules_version.tolist() == ["company-1"]
