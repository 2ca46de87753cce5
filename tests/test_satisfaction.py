"""crmkit.satisfaction: scores with intervals, key drivers, alerts, detractor topics —
hand-worked numbers on small fixtures, then the planted truth on the shared demo. The SLA clock,
backlog and service quality are tests/test_complaints.py."""

from datetime import datetime, timedelta

import ibis
import numpy as np
import pandas as pd
import pytest

from crmkit import db, demo, stats, views
from crmkit import satisfaction as sat

D = datetime


def feedback_fixture() -> ibis.Table:
    """Ten NPS answers 10, 10, 9, 9, 9, 8, 7, 6, 3, 0 (5 promoters, 2 passives, 3 detractors)
    on days 1–10 of January 2026, plus two responses without an NPS answer (days 11, 12)."""
    nps = [10, 10, 9, 9, 9, 8, 7, 6, 3, 0, None, None]
    csat = [5, 5, 4, 4, 4, 4, 5, 4, 2, 1, None, 3]
    ces = [1, 2, None, None, 3, None, None, None, 6, 7, None, None]
    return ibis.memtable(
        {
            "customer_id": [f"C{i % 3}" for i in range(12)],
            "ts": [D(2026, 1, d) for d in range(1, 13)],
            "nps": pd.array(nps, dtype="Int64"),
            "csat": pd.array(csat, dtype="Int64"),
            "ces": pd.array(ces, dtype="Int64"),
            "grp": ["a"] * 6 + ["b"] * 6,
        }
    )


# ---------------------------------------------------------------------------------------------
# scores
# ---------------------------------------------------------------------------------------------


def test_nps_ten_responses_hand_worked():
    """p₊ = 5/10, p₋ = 3/10: NPS = 20; var = (0.5 + 0.3 − 0.2²)/10 = 0.076,
    half-width = 1.959964 · √0.076 = 0.540329 → [−34.03, 74.03]. The two responses without an
    NPS answer are not counted (n = 10)."""
    r = sat.nps(feedback_fixture()).iloc[0]
    assert r.value == pytest.approx(20.0)
    assert (r.n, r.promoters, r.passives, r.detractors, r.numerator) == (10, 5, 2, 3, 2)
    assert r.lo == pytest.approx(-34.0329, abs=1e-3)
    assert r.hi == pytest.approx(74.0329, abs=1e-3)
    assert r.small_sample  # 10 < MIN_N
    d = sat.nps(feedback_fixture()).attrs["definition"]
    assert d["metric"] == "nps" and "var" in d["method"] and d["window"] == "all time"


def test_nps_by_group_and_window():
    """Group a (days 1–6): 10, 10, 9, 9, 9, 8 → 5 promoters of 6, NPS 83.3. Group b (days
    7–12): 7, 6, 3, 0 answered → 3 detractors of 4, NPS −75. Window [Jan 3, Jan 8): 9, 9, 9, 8,
    7 → 3 promoters of 5 = 60."""
    df = sat.nps(feedback_fixture(), "grp", min_n=5)
    a, b = df.set_index("grp").loc["a"], df.set_index("grp").loc["b"]
    assert a.value == pytest.approx(500 / 6) and a.n == 6 and not a.small_sample
    assert b.value == pytest.approx(-75.0) and b.n == 4 and b.small_sample
    w = sat.nps(feedback_fixture(), start=D(2026, 1, 3), end=D(2026, 1, 8)).iloc[0]
    assert (w.value, w.n) == (pytest.approx(60.0), 5)
    assert w.small_sample


def test_nps_for_a_set_of_customers():
    """C0 answered on days 1, 4, 7, 10 (i % 3 == 0): 10, 9, 7, 0 → 2 promoters, 1 detractor
    of 4 = 25."""
    cust = ibis.memtable({"customer_id": ["C0"]})
    r = sat.nps(feedback_fixture(), customers=cust).iloc[0]
    assert (r.value, r.n) == (pytest.approx(25.0), 4)


def test_csat_wilson_against_worked_value():
    """CSAT answered 11 times (one missing): 4–5 in 8 of the first 10 plus a 3 → 8 / 11.
    Worked Wilson for 8/10 (stats docstring): [0.4902, 0.9433]; on the first ten days
    (8 of 10 answers 4–5) csat must give exactly that."""
    r = sat.csat(feedback_fixture(), end=D(2026, 1, 11)).iloc[0]
    assert (r.numerator, r.n) == (8, 10)
    assert (round(r.lo, 4), round(r.hi, 4)) == (0.4902, 0.9433)
    full = sat.csat(feedback_fixture()).iloc[0]
    assert (full.numerator, full.n) == (8, 11)


def test_ces_mean_and_t_interval():
    """CES answered 5 times: 1, 2, 3, 6, 7 → mean 3.8, s² = (7.84+3.24+0.64+4.84+10.24)/4
    = 6.7, t₀.₉₇₅,₄ = 2.776445, half-width = 2.776445 · √(6.7/5) = 3.213959."""
    r = sat.ces(feedback_fixture()).iloc[0]
    assert (r.value, r.n) == (pytest.approx(3.8), 5)
    assert r.lo == pytest.approx(3.8 - 3.213959, abs=1e-5)
    assert r.hi == pytest.approx(3.8 + 3.213959, abs=1e-5)


def test_scores_long_form_and_bad_input():
    df = sat.scores(feedback_fixture())
    assert df.metric.tolist() == ["nps", "csat", "ces"]
    assert set(df.attrs["definitions"]) == {"nps", "csat", "ces"}
    with pytest.raises(ValueError, match="missing column"):
        sat.nps(ibis.memtable({"ts": [D(2026, 1, 1)]}))
    with pytest.raises(ValueError, match="by: missing column"):
        sat.nps(feedback_fixture(), "region")
    with pytest.raises(ValueError, match="empty window"):
        sat.nps(feedback_fixture(), start=D(2026, 2, 1), end=D(2026, 1, 1))


def test_period_slices():
    df = sat.nps(feedback_fixture(), "period", freq="month")
    assert len(df) == 1 and df.n.iloc[0] == 10


# ---------------------------------------------------------------------------------------------
# drivers and alerts on synthetic responses
# ---------------------------------------------------------------------------------------------


def synthetic_responses(n: int = 4000, seed: int = 1) -> pd.DataFrame:
    """NPS = 8 − 4·late − 2·returned + noise (sd 1), clipped to 0–10; tickets and channel
    have no effect."""
    rng = np.random.default_rng(seed)
    late = (rng.random(n) < 0.15).astype(int)
    returned = (rng.random(n) < 0.1).astype(int)
    y = np.clip(np.round(8 - 4 * late - 2 * returned + rng.normal(0, 1, n)), 0, 10)
    return pd.DataFrame(
        {
            "nps": y,
            "late": late,
            "returned": returned,
            "ticket_30d": (rng.random(n) < 0.1).astype(int),
            "slow_response": (rng.random(n) < 0.02).astype(int),
            "category": rng.choice(["A", "B"], n),
            "channel": rng.choice(["app", "store", sat.NONE], n),
        }
    )


def test_key_drivers_recover_planted_effects():
    d = sat.key_drivers(synthetic_responses()).set_index("driver")
    assert d.loc["late", "effect"] == pytest.approx(-4, abs=0.15)
    assert d.loc["late", "lo"] < -4 + 0.15 and d.loc["late", "hi"] > -4 - 0.15
    assert d.loc["returned", "effect"] == pytest.approx(-2, abs=0.2)
    assert d.loc["late", "rank"] == 1 and d.loc["returned", "rank"] == 2
    assert abs(d.loc["ticket_30d", "effect"]) < 0.2
    assert d.loc["late", "detractor_effect"] > 0.3  # late orders make detractors
    with pytest.raises(ValueError, match="need at least"):
        sat.key_drivers(synthetic_responses().head(5))


def alert_fixture() -> pd.DataFrame:
    """as_of 2026-06-30. Slice 'down': detractors 10 % of 200 answers in the history year,
    40 % of 100 in the last 90 days. Slice 'flat': 20 % both times. Slice 'tiny': 5 answers
    now (below min_n: not tested)."""
    rows = []

    def add(sl: str, n: int, det: int, start: datetime, days: int, late_share: float = 0.0):
        for i in range(n):
            rows.append(
                {
                    "ts": start + timedelta(days=days * i / n),
                    "region": sl,
                    "nps": 2 if i < det else 9,
                    "csat": None,
                    "ces": None,
                    "late": int(i < late_share * n),
                    "returned": 0,
                    "ticket_30d": 0,
                    "slow_response": 0,
                }
            )

    add("down", 200, 20, D(2025, 4, 2), 300)
    add("down", 100, 40, D(2026, 4, 5), 80, late_share=0.4)
    add("flat", 200, 40, D(2025, 4, 2), 300)
    add("flat", 100, 20, D(2026, 4, 5), 80)
    add("tiny", 200, 20, D(2025, 4, 2), 300)
    add("tiny", 5, 5, D(2026, 4, 5), 80)
    df = pd.DataFrame(rows)
    return df.astype({"csat": "float64", "ces": "float64"})


def test_alerts_flag_the_slice_that_dropped():
    """'down': pooled 60/300 = 0.2, se = √(0.2·0.8·(1/200 + 1/100)) = 0.04899,
    z = 0.3 / 0.04899 = 6.1237 (p ≈ 1e-9): an alert, with its
    late share up 0 % → 40 % as the likely driver. 'flat': 40/200 → 20/100, no change.
    'tiny': 5 answers now < min_n 30, not tested."""
    a = sat.score_alerts(
        alert_fixture(), as_of=D(2026, 6, 30), dims=["region"], min_n=30
    ).set_index("slice")
    assert set(a.index) == {"down", "flat"}
    down = a.loc["down"]
    z = stats.two_proportion_test(20, 200, 40, 100)[1]
    assert down.statistic == pytest.approx(z) == pytest.approx(6.1237, abs=1e-4)
    assert down.alert
    assert down.before == pytest.approx(80.0) and down.now == pytest.approx(20.0)
    assert down.change == pytest.approx(-60.0)
    assert "late 0.0% -> 40.0%" in down.likely_drivers
    assert down.q_value == pytest.approx(stats.benjamini_hochberg([down.p_value, 1.0])[0])
    assert not a.loc["flat", "alert"]


# ---------------------------------------------------------------------------------------------
# the demo: planted truth
# ---------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def demo_con(demo_published):
    con = db.connect(demo_published)
    yield con
    con.disconnect()


def test_published_tables(demo_con):
    tables = set(demo_con.list_tables())
    assert {
        "satisfaction_responses",
        "satisfaction_drivers",
        "satisfaction_alerts",
        "satisfaction_info",
    } <= tables
    info = demo_con.table("satisfaction_info").to_pandas().iloc[0]
    assert info.drivers_n > 1000 and "first_response_hours" not in info


def test_demo_delivery_delay_is_the_top_driver_of_low_nps(demo_con):
    """Planted: late deliveries score ~4 NPS points lower."""
    d = demo_con.table("satisfaction_drivers").to_pandas().set_index("driver")
    late = d.loc["late"]
    assert late["rank"] == 1
    assert late.effect == pytest.approx(-demo.PLANTED["delivery_delay_nps"]["nps_penalty"], abs=0.5)
    assert late.hi < 0 and late.detractor_effect > 0.3
    assert d.effect.idxmin() == "late"


def test_demo_page_numbers_match_crmkit(demo_con):
    f = views.Filters(period="90d")
    data = views.satisfaction_data(demo_con, f, lang="en", role="dashboard")
    as_of = views.data_as_of(demo_con)
    r = demo_con.table("satisfaction_responses")
    expected = sat.nps(r, start=as_of - timedelta(days=90) + timedelta(microseconds=1)).iloc[0]
    card = data["cards"]["nps"]
    assert card["n"] == expected.n and card["value"] == pytest.approx(expected.value)
    assert "n = " in card["definition"]
    breaches = data["breaches"]
    assert len(breaches) == data["scores"]["sla"].breached.iloc[0]
    assert breaches["name"].str.contains(r"\*").all()
    assert data["sla"].iloc[0].channel == "social"


def test_publish_without_feedback_or_tickets(tiny_snapshot):
    """The tiny snapshot has customers, products and orders only: the satisfaction steps are
    skipped with the reason (no rows in feedback, in tickets), their tables are not written,
    and the page's data says for each section why it is not available instead of failing."""
    con = db.connect(tiny_snapshot)
    try:
        steps = con.table("publish_steps").to_pandas().set_index("step")
        for step in ("satisfaction_responses", "satisfaction"):
            assert tuple(steps.loc[step, ["status", "reason"]]) == (
                "skipped",
                "empty_table:feedback",
            )
        assert tuple(steps.loc["complaints", ["status", "reason"]]) == (
            "skipped",
            "empty_table:tickets",
        )
        assert "satisfaction_drivers" not in con.list_tables()
        data = views.satisfaction_data(con, views.Filters(), lang="en")
        assert data["unavailable"] == {
            "scores": {"satisfaction_responses": "empty_table:feedback"},
            "drivers": {"satisfaction": "empty_table:feedback"},
            "complaints": {"complaints": "empty_table:tickets"},
        }
        assert data["scores"] == {} and data["cards"]["sla"]["value"] is None
    finally:
        con.disconnect()


def test_kpi_contract_for_the_registry():
    """What the KPI registry (issue 9) relies on: every score function takes a window
    [start, end) and a set of customers and returns value, numerator, denominator, n, lo, hi,
    small_sample with its definition (complaints.sla_attainment: tests/test_complaints.py)."""
    cols = {"value", "numerator", "denominator", "n", "lo", "hi", "small_sample"}
    fb = feedback_fixture()
    cust = ibis.memtable({"customer_id": ["C1"]})
    window = {"start": D(2026, 1, 1), "end": D(2026, 2, 1), "customers": cust}
    for fn in (sat.nps, sat.csat, sat.ces):
        df = fn(fb, **window)
        assert cols <= set(df.columns), fn.__name__
        assert df.attrs["definition"]["window"] == "[2026-01-01 00:00:00, 2026-02-01 00:00:00)"


# ---------------------------------------------------------------------------------------------
# The KPI registry's satisfaction entries (crmkit.kpi → crmkit.satisfaction:kpi_*)
# ---------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def kpi_con():
    """2024-Q2 = [2024-04-01, 2024-07-01).

    feedback (customer, nps, csat): A 10/5, A 9/4, B 7/3, B 3/1, A –/5 inside; A 0/1 on 07-02.
    In the quarter NPS answers 4: promoters 2, detractors 1 → (2 − 1)/4 = +25.0; CSAT answers
    5, of them 4–5: 3 → 3/5. Customer A only: NPS 2 answers, both promoters → +100; CSAT 3/3.
    (The complaint SLA entry: tests/test_complaints.py.)
    """
    from crmkit import db

    c = db.connect(":memory:", read_only=False)
    db.create_schema(c)

    def insert(table: str, rows: list[dict]) -> None:
        c.con.register("_rows", pd.DataFrame(rows))
        c.con.execute(f"INSERT INTO {table} BY NAME SELECT * FROM _rows")
        c.con.unregister("_rows")

    insert("customers", [{"customer_id": k, "name": k} for k in "AB"])
    fb = [("A", 10, 5, "04-10"), ("A", 9, 4, "05-01"), ("B", 7, 3, "05-02"),
          ("B", 3, 1, "06-01"), ("A", None, 5, "06-02"), ("A", 0, 1, "07-02")]  # fmt: skip
    insert(
        "feedback",
        [
            {
                "feedback_id": f"F{i}",
                "customer_id": cu,
                "ts": pd.Timestamp(f"2024-{d}"),
                "source": "survey",
                "nps": n,
                "csat": s,
            }  # fmt: skip
            for i, (cu, n, s, d) in enumerate(fb)
        ],
    )
    yield c
    c.disconnect()


def test_kpi_entries_hand_worked(kpi_con):
    from crmkit import kpi

    v = {k: kpi.compute(kpi_con, k, "2024-Q2") for k in ("nps", "csat")}
    assert all(x.available for x in v.values())
    assert (v["nps"].value, v["nps"].n) == (pytest.approx(25.0), 4)
    assert (v["csat"].numerator, v["csat"].denominator) == (3, 5)
    assert v["csat"].value == pytest.approx(0.6)
    only_a = kpi_con.table("customers").filter(lambda t: t.customer_id == "A")
    a = {k: kpi.compute(kpi_con, k, "2024-Q2", customers=only_a) for k in ("nps", "csat")}
    assert (a["nps"].value, a["nps"].n) == (pytest.approx(100.0), 2)
    assert (a["csat"].numerator, a["csat"].denominator) == (3, 3)


def test_kpi_entries_empty_period(kpi_con):
    from crmkit import kpi

    nps_ = kpi.compute(kpi_con, "nps", "2023-Q1")
    assert nps_.value is None and nps_.n == 0
    assert kpi.compute(kpi_con, "csat", "2023-Q1").denominator == 0


def test_detractor_topics_hand_worked():
    """Detractors F1–F4 (3 mention delivery), promoters F5–F6 (F5 quality), passive F7 and an
    answer without text F8 not counted. delivery: 3/4 vs 0/2, pooled 3/6, se = sqrt(0.25 ·
    (1/4 + 1/2)) = 0.43301, z = 0.75 / 0.43301 = 1.7321, p = 0.08326; quality: 0/4 vs 1/2,
    z = −1.5492, p = 0.12134; BH: q = 0.12134 for both."""
    fb = ibis.memtable(
        {
            "feedback_id": [f"F{i}" for i in range(1, 9)],
            "nps": [2, 5, 6, 0, 9, 10, 8, 1],
            "text": ["…"] * 7 + [None],
        }
    )
    m = ibis.memtable(
        {"feedback_id": ["F1", "F2", "F3", "F5", "F7"], "topic": ["delivery"] * 3 + ["quality"] * 2}
    )
    r = sat.detractor_topics(fb, m, min_n=1).set_index("topic")
    assert list(r.index) == ["delivery", "quality"]
    d = r.loc["delivery"]
    assert (d.detractor_texts, d.detractor_mentions, d.promoter_texts) == (4, 3, 2)
    assert d.z == pytest.approx(1.732051, rel=1e-6)
    assert d.p_value == pytest.approx(0.083265, abs=1e-6)
    assert r.loc["quality", "promoter_share"] == 0.5
    assert r.q_value.tolist() == pytest.approx([0.121335, 0.121335], abs=1e-6)
    assert not r.significant.any()
    assert r.small_sample.tolist() == [False, False]
    assert sat.detractor_topics(fb, m).small_sample.all()  # 4 and 2 texts < MIN_N


def test_detractor_topics_on_the_demo_put_delivery_first(demo_published):
    """The planted late deliveries: detractors' comments mention delivery far more often than
    promoters' — the first and a significant topic in the published ``satisfaction_topics``."""
    from crmkit import db

    con = db.connect(demo_published)
    try:
        top = con.table("satisfaction_topics").to_pandas().iloc[0]
    finally:
        con.disconnect()
    assert top.topic == "delivery" and bool(top.significant)
    assert top.detractor_share > 2 * top.promoter_share
