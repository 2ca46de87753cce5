"""crmkit.satisfaction: scores with intervals, key drivers, alerts, the SLA clock, service
quality — hand-worked numbers on small fixtures, then the planted truth on the shared demo."""

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
# the SLA clock
# ---------------------------------------------------------------------------------------------

BH = sat.SlaPolicy(business_hours=("09:00", "18:00"))


def tickets(rows: list[tuple]) -> ibis.Table:
    """rows: (opened_at, first_response_at, resolved_at)."""
    return ibis.memtable(
        pd.DataFrame(
            {
                "ticket_id": [f"T{i}" for i in range(len(rows))],
                "customer_id": ["C1"] * len(rows),
                "opened_at": pd.to_datetime([r[0] for r in rows]),
                "first_response_at": pd.to_datetime([r[1] for r in rows]),
                "resolved_at": pd.to_datetime([r[2] for r in rows]),
                "reopen_count": [0] * len(rows),
                "escalated": [False] * len(rows),
                "team": ["A"] * len(rows),
                "channel": ["chat"] * len(rows),
            }
        )
    )


MONDAY = D(2026, 1, 12)


def clock(rows, policy, as_of=MONDAY):
    return sat.ticket_sla(tickets(rows), policy, as_of=as_of).to_pandas()


def test_sla_clock_across_midnight():
    """2026-01-06 is a Tuesday. Opened 23:00, answered 00:30: 90 min on the wall clock (met);
    with business hours the clock starts at 09:00 → 0 min (met). Opened 17:30, answered
    next day 09:45: 16 h 15 = 975 min on the wall clock (breach); business 30 + 45 = 75 min
    (met). Opened 17:00, answered 10:30: business 60 + 90 = 150 min (breach)."""
    rows = [
        (D(2026, 1, 6, 23), D(2026, 1, 7, 0, 30), None),
        (D(2026, 1, 6, 17, 30), D(2026, 1, 7, 9, 45), None),
        (D(2026, 1, 6, 17), D(2026, 1, 7, 10, 30), None),
    ]
    wall = clock(rows, sat.SlaPolicy())
    assert wall.response_minutes.tolist() == [90.0, 975.0, 1050.0]
    assert wall.met.tolist() == [True, False, False]
    biz = clock(rows, BH)
    assert biz.response_minutes.tolist() == [0.0, 75.0, 150.0]
    assert biz.met.tolist() == [True, True, False]
    assert biz.breached.tolist() == [False, False, True]


def test_sla_clock_across_a_weekend():
    """2026-01-09 is a Friday. Opened Fri 17:30, answered Mon 09:40: business 30 + 40 = 70
    (met). Opened Fri 16:00, answered Mon 10:00: 120 + 60 = 180 (breach). Opened Sat 10:00,
    answered Mon 10:30: only Monday 09:00–10:30 counts, 90 (met). Wall clock: all three breach."""
    rows = [
        (D(2026, 1, 9, 17, 30), D(2026, 1, 12, 9, 40), None),
        (D(2026, 1, 9, 16), D(2026, 1, 12, 10), None),
        (D(2026, 1, 10, 10), D(2026, 1, 12, 10, 30), None),
    ]
    biz = clock(rows, BH, as_of=D(2026, 1, 13))
    assert biz.response_minutes.tolist() == [70.0, 180.0, 90.0]
    assert biz.met.tolist() == [True, False, True]
    wall = clock(rows, sat.SlaPolicy(), as_of=D(2026, 1, 13))
    assert not wall.met.any()


def test_never_answered_tickets_are_breaches_once_past_the_target():
    """as_of = Mon 2026-01-12 12:00. Opened 09:00, never answered: waited 180 min > 120 →
    breach. Opened 11:00, never answered: 60 min, still pending (not in the denominator).
    Answered in 30 min: met. Attainment = 1 met / 2 due; 1 pending."""
    as_of = D(2026, 1, 12, 12)
    rows = [
        (D(2026, 1, 12, 9), None, None),
        (D(2026, 1, 12, 11), None, None),
        (D(2026, 1, 12, 8), D(2026, 1, 12, 8, 30), D(2026, 1, 12, 10)),
    ]
    c = clock(rows, sat.SlaPolicy(), as_of=as_of)
    assert c.breached.tolist() == [True, False, False]
    assert c.pending.tolist() == [False, True, False]
    r = sat.sla_attainment(tickets(rows), as_of=as_of).iloc[0]
    assert (r.numerator, r.denominator, r.breached, r.pending, r.tickets) == (1, 2, 1, 1, 3)
    assert r.value == 0.5 and r.open == 2 and r.resolved == 1
    assert r.median_resolution_hours == 2.0
    # with business hours a ticket opened Friday 17:00 and unanswered at Saturday noon has
    # waited 60 business minutes: pending, not a breach
    c = clock([(D(2026, 1, 9, 17), None, None)], BH, as_of=D(2026, 1, 10, 12))
    assert c.waited_minutes.tolist() == [60.0] and c.pending.tolist() == [True]


def test_sla_policy_validation():
    with pytest.raises(ValueError, match="first_response_hours"):
        sat.SlaPolicy(first_response_hours=0)
    with pytest.raises(ValueError, match="HH:MM"):
        sat.SlaPolicy(business_hours=("9", "18:00"))
    with pytest.raises(ValueError, match="before the end"):
        sat.SlaPolicy(business_hours=("18:00", "09:00"))
    assert "4 h" in sat.SlaPolicy(first_response_hours=4).describe()


def test_backlog_ageing_buckets():
    """as_of 2026-01-12 12:00; open tickets opened 2 h, 2 days, 10 days and 40 days before;
    one resolved ticket is not in the backlog."""
    as_of = D(2026, 1, 12, 12)
    rows = [
        (as_of - timedelta(hours=2), as_of - timedelta(hours=1), None),
        (as_of - timedelta(days=2), as_of - timedelta(days=2), None),
        (as_of - timedelta(days=10), as_of - timedelta(days=10), None),
        (as_of - timedelta(days=40), as_of - timedelta(days=40), None),
        (as_of - timedelta(days=5), as_of - timedelta(days=5), as_of),
    ]
    b = sat.backlog_ageing(sat.ticket_sla(tickets(rows), as_of=as_of), "team")
    assert b.set_index("bucket").tickets.to_dict() == {
        "<1d": 1,
        "1-3d": 1,
        "3-7d": 0,
        "7-30d": 1,
        ">30d": 1,
    }


def test_service_quality_small_samples_are_not_ranked():
    """Agent X: 40 tickets all answered in 30 min (100 %); agent Y: 40 tickets, 30 in time
    (75 %); agent Z: 1 ticket answered in time — 100 % but a small sample, so unranked.
    Post-ticket CSAT: X's customer answered 5 one day after each resolution."""
    base = D(2026, 1, 5, 10)
    rows, agents = [], []
    for i in range(40):
        o = base + timedelta(hours=3 * i)
        rows.append((o, o + timedelta(minutes=30), o + timedelta(hours=1)))
        agents.append("X")
    for i in range(40):
        o = base + timedelta(hours=3 * i)
        late = i >= 30
        rows.append((o, o + timedelta(minutes=200 if late else 30), None))
        agents.append("Y")
    rows.append((base, base + timedelta(minutes=10), None))
    agents.append("Z")
    df = tickets(rows).to_pandas().assign(agent=agents)
    df["customer_id"] = ["CX" if a == "X" else "CO" for a in agents]
    tk = ibis.memtable(df)
    fb = ibis.memtable(
        {
            "customer_id": ["CX"] * 3,
            "ts": [base + timedelta(hours=2), base + timedelta(days=30), base - timedelta(1)],
            "csat": [5, 1, 1],
        }
    )
    q = sat.service_quality(sat.ticket_sla(tk, as_of=D(2026, 2, 1)), fb, "agent").set_index("agent")
    assert q.loc["X", "value"] == 1.0 and q.loc["Y", "value"] == 0.75
    assert q.loc["X", "rank"] == 1 and q.loc["Y", "rank"] == 2
    assert q.loc["Z", "small_sample"] and pd.isna(q.loc["Z", "rank"])
    # only the 5 given within 14 days after a resolution counts (it follows several of X's
    # resolved tickets: one answer per ticket it follows within 14 days)
    assert q.loc["X", "csat_n"] >= 1 and q.loc["X", "post_csat"] == 1.0
    assert q.loc["Y", "csat_n"] == 0


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
        "ticket_sla",
        "satisfaction_drivers",
        "satisfaction_alerts",
        "satisfaction_info",
    } <= tables
    info = demo_con.table("satisfaction_info").to_pandas().iloc[0]
    assert info.first_response_hours == 2.0 and info.drivers_n > 1000


def test_demo_slow_channel_is_the_top_sla_breach(demo_con):
    """Planted: social breaches ~55 % vs ~8 % elsewhere; its tickets are all handled by
    社媒运营组, so that team ties with the channel — nothing else comes close."""
    planted = demo.PLANTED["slow_sla_channel"]
    sla = demo_con.table("ticket_sla")
    by_channel = sat.sla_summary(sla, "channel")
    top = by_channel.iloc[0]
    assert top.channel == planted["channel"]
    assert 0.48 < top.breach_rate < 0.62
    others = by_channel.iloc[1:]
    assert (others.breach_rate < 0.12).all()
    slices = []
    for dim in sat.SLA_DIMENSIONS:
        df = sat.sla_summary(sla, dim)
        df = df[~df.small_sample]
        slices += [(r.breach_rate, dim, getattr(r, dim)) for r in df.itertuples()]
    slices.sort(reverse=True)
    assert {(d, v) for _, d, v in slices[:2]} == {
        ("channel", planted["channel"]),
        ("team", planted["team"]),
    }
    assert slices[2][0] < 0.3


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
    """The tiny snapshot has customers, products and orders only: the satisfaction tables are
    published empty (typed), and the page's numbers are empty rather than an error."""
    con = db.connect(tiny_snapshot)
    try:
        assert con.table("satisfaction_drivers").count().execute() == 0
        assert con.table("satisfaction_alerts").count().execute() == 0
        assert con.table("satisfaction_alerts").schema()["alert"].is_boolean()
        data = views.satisfaction_data(con, views.Filters(), lang="en")
        assert data["cards"]["nps"]["n"] == 0 and data["cards"]["nps"]["value"] is None
        assert data["breaches"].empty
    finally:
        con.disconnect()


def test_kpi_contract_for_the_registry():
    """What the KPI registry (issue 9) relies on: every score function takes a window
    [start, end) and a set of customers and returns value, numerator, denominator, n, lo, hi,
    small_sample with its definition. C1's tickets in [Jan 5, Jan 6): T0 answered in 60 min
    (met) and T1 in 180 min (breach) → 1 / 2."""
    cols = {"value", "numerator", "denominator", "n", "lo", "hi", "small_sample"}
    fb = feedback_fixture()
    cust = ibis.memtable({"customer_id": ["C1"]})
    window = {"start": D(2026, 1, 1), "end": D(2026, 2, 1), "customers": cust}
    for fn in (sat.nps, sat.csat, sat.ces):
        df = fn(fb, **window)
        assert cols <= set(df.columns), fn.__name__
        assert df.attrs["definition"]["window"] == "[2026-01-01 00:00:00, 2026-02-01 00:00:00)"
    tk = tickets(
        [
            (D(2026, 1, 5, 10), D(2026, 1, 5, 11), None),
            (D(2026, 1, 5, 12), D(2026, 1, 5, 15), None),
            (D(2026, 1, 6, 12), None, None),
        ]
    )
    r = sat.sla_attainment(tk, as_of=MONDAY, start=D(2026, 1, 5), end=D(2026, 1, 6), customers=cust)
    assert cols <= set(r.columns)
    assert (r.numerator.iloc[0], r.denominator.iloc[0], r.value.iloc[0]) == (1, 2, 0.5)
    assert "2 h" in r.attrs["definition"]["policy"]


def test_publish_step_uses_the_configured_policy(monkeypatch):
    """A snapshot published with business hours records them, and its SLA clock counts only
    business time (so no ticket waits longer on it than on the wall clock)."""
    con = db.connect(":memory:", read_only=False)
    demo.generate(con, 300, seed=7, progress=False)
    monkeypatch.setattr(sat, "PUBLISH_POLICY", sat.SlaPolicy(business_hours=("09:00", "18:00")))
    tables = sat.publish_tables(con, as_of=db.data_as_of(con))
    info = tables["satisfaction_info"].iloc[0]
    assert info.business_hours == "09:00-18:00" and "business hours" in info.sla_policy
    clock = tables["ticket_sla"].to_pandas()
    wall = sat.ticket_sla(con.table("tickets"), as_of=info.as_of).to_pandas()
    answered = wall.response_minutes.notna()
    assert (clock.response_minutes <= wall.response_minutes + 1e-9)[answered].all()
    assert (clock.response_minutes < wall.response_minutes)[answered].any()


# ---------------------------------------------------------------------------------------------
# The KPI registry's satisfaction entries (crmkit.kpi → crmkit.satisfaction:kpi_*)
# ---------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def kpi_con():
    """2024-Q2 = [2024-04-01, 2024-07-01).

    feedback (customer, nps, csat): A 10/5, A 9/4, B 7/3, B 3/1, A –/5 inside; A 0/1 on 07-02.
    In the quarter NPS answers 4: promoters 2, detractors 1 → (2 − 1)/4 = +25.0; CSAT answers
    5, of them 4–5: 3 → 3/5. Customer A only: NPS 2 answers, both promoters → +100; CSAT 3/3.
    tickets: T1 (A) 05-01 10:00 answered 11:00 → met; T2 (B) 05-01 23:00 answered 05-02 02:00
    → 3 h, breach; T3 (A) 06-30 23:30 never answered: at the quarter's end its clock has run
    30 min < 2 h, not yet due. SLA = 1 / 2; customer A: 1 / 1.
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
    tk = [("T1", "A", "05-01 10:00", "05-01 11:00"), ("T2", "B", "05-01 23:00", "05-02 02:00"),
          ("T3", "A", "06-30 23:30", None)]  # fmt: skip
    insert(
        "tickets",
        [
            {
                "ticket_id": t,
                "customer_id": cu,
                "opened_at": pd.Timestamp(f"2024-{o}"),
                "first_response_at": pd.Timestamp(f"2024-{r}") if r else pd.NaT,
                "channel": "phone",
                "category": "物流配送",
            }  # fmt: skip
            for t, cu, o, r in tk
        ],
    )
    yield c
    c.disconnect()


def test_kpi_entries_hand_worked(kpi_con):
    from crmkit import kpi

    v = {k: kpi.compute(kpi_con, k, "2024-Q2") for k in ("nps", "csat", "complaint_sla")}
    assert all(x.available for x in v.values())
    assert (v["nps"].value, v["nps"].n) == (pytest.approx(25.0), 4)
    assert (v["csat"].numerator, v["csat"].denominator) == (3, 5)
    assert v["csat"].value == pytest.approx(0.6)
    assert (v["complaint_sla"].numerator, v["complaint_sla"].denominator) == (1, 2)
    only_a = kpi_con.table("customers").filter(lambda t: t.customer_id == "A")
    a = {k: kpi.compute(kpi_con, k, "2024-Q2", customers=only_a) for k in ("nps", "csat")}
    assert (a["nps"].value, a["nps"].n) == (pytest.approx(100.0), 2)
    assert (a["csat"].numerator, a["csat"].denominator) == (3, 3)
    assert kpi.compute(kpi_con, "complaint_sla", "2024-Q2", customers=only_a).value == 1.0


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
