"""crmkit.complaints and the SLA-breach rule it builds on (crmkit.definitions.sla_flags,
sla_policy): the clock on the wall, in business hours and on China's workday calendar, pending
vs breached, the settings' ``sla`` section, backlog, service quality, the publish step and the
KPI — hand-worked numbers on small fixtures, then the planted truth on the shared demo."""

import json
import random
from datetime import datetime, timedelta

import ibis
import pandas as pd
import pytest

from crmkit import calendars, complaints, config, db, demo, kpi
from crmkit.definitions import SlaPolicy, sla_flags, sla_policy

D = datetime

# ---------------------------------------------------------------------------------------------
# the SLA clock
# ---------------------------------------------------------------------------------------------

BH = SlaPolicy(business_hours=("09:00", "18:00"))


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
    return complaints.ticket_sla(tickets(rows), policy, as_of=as_of).to_pandas()


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
    wall = clock(rows, SlaPolicy())
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
    wall = clock(rows, SlaPolicy(), as_of=D(2026, 1, 13))
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
    c = clock(rows, SlaPolicy(), as_of=as_of)
    assert c.breached.tolist() == [True, False, False]
    assert c.pending.tolist() == [False, True, False]
    r = complaints.sla_attainment(tickets(rows), as_of=as_of).iloc[0]
    assert (r.numerator, r.denominator, r.breached, r.pending, r.tickets) == (1, 2, 1, 1, 3)
    assert r.value == 0.5 and r.open == 2 and r.resolved == 1
    assert r.median_resolution_hours == 2.0
    # with business hours a ticket opened Friday 17:00 and unanswered at Saturday noon has
    # waited 60 business minutes: pending, not a breach
    c = clock([(D(2026, 1, 9, 17), None, None)], BH, as_of=D(2026, 1, 10, 12))
    assert c.waited_minutes.tolist() == [60.0] and c.pending.tolist() == [True]


def test_sla_policy_validation():
    with pytest.raises(ValueError, match="first_response_hours"):
        SlaPolicy(first_response_hours=0)
    with pytest.raises(ValueError, match="HH:MM"):
        SlaPolicy(business_hours=("9", "18:00"))
    with pytest.raises(ValueError, match="before the end"):
        SlaPolicy(business_hours=("18:00", "09:00"))
    assert "4 h" in SlaPolicy(first_response_hours=4).describe()


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
    b = complaints.backlog_ageing(complaints.ticket_sla(tickets(rows), as_of=as_of), "team")
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
    q = complaints.service_quality(
        complaints.ticket_sla(tk, as_of=D(2026, 2, 1)), fb, "agent"
    ).set_index("agent")
    assert q.loc["X", "value"] == 1.0 and q.loc["Y", "value"] == 0.75
    assert q.loc["X", "rank"] == 1 and q.loc["Y", "rank"] == 2
    assert q.loc["Z", "small_sample"] and pd.isna(q.loc["Z", "rank"])
    # only the 5 given within 14 days after a resolution counts (it follows several of X's
    # resolved tickets: one answer per ticket it follows within 14 days)
    assert q.loc["X", "csat_n"] >= 1 and q.loc["X", "post_csat"] == 1.0
    assert q.loc["Y", "csat_n"] == 0


# ---------------------------------------------------------------------------------------------
# the rule: definitions.sla_flags
# ---------------------------------------------------------------------------------------------


def test_sla_flags_pending_is_not_a_breach():
    """as_of = Mon 2026-01-12 12:00, target 2 h on the wall clock.

    ===  ======  ========  =================  ======  ========================================
    id   opened  answered  waited / response  flags   why
    ===  ======  ========  =================  ======  ========================================
    P    11:00   —         60 min             pending unanswered, still within the target
    U    09:00   —         180 min            breach  unanswered past the target
    L    08:00   10:30     150 min            breach  answered late
    M    08:00   09:59     119 min            met     answered in time
    E    10:00   12:00     120 min            met     exactly on the target counts as in time
    ===  ======  ========  =================  ======  ========================================

    Attainment = met / due = 2 / 4; the pending ticket is in neither count.
    """
    rows = {
        "P": (D(2026, 1, 12, 11), None),
        "U": (D(2026, 1, 12, 9), None),
        "L": (D(2026, 1, 12, 8), D(2026, 1, 12, 10, 30)),
        "M": (D(2026, 1, 12, 8), D(2026, 1, 12, 9, 59)),
        "E": (D(2026, 1, 12, 10), D(2026, 1, 12, 12)),
    }
    t = ibis.memtable(
        pd.DataFrame(
            {
                "ticket_id": list(rows),
                "opened_at": pd.to_datetime([o for o, _ in rows.values()]),
                "first_response_at": pd.to_datetime([r for _, r in rows.values()]),
            }
        )
    )
    f = sla_flags(t, as_of=D(2026, 1, 12, 12), policy=SlaPolicy()).to_pandas()
    f = f.set_index("ticket_id").loc[list(rows)]
    assert f.waited_seconds.tolist() == [3600, 10800, 9000, 7140, 7200]
    assert f.response_seconds.isna().tolist() == [True, True, False, False, False]
    assert f.breached.tolist() == [False, True, True, False, False]
    assert f.pending.tolist() == [True, False, False, False, False]
    assert f.met.tolist() == [False, False, False, True, True]
    assert f.due.tolist() == [False, True, True, True, True]
    assert f.answered.tolist() == [False, False, True, True, True]


def test_sla_flags_do_not_look_past_as_of():
    """Scored at an earlier date, a response given later has not happened yet. T opened Mon
    2026-01-12 09:00, answered 14:00 (5 h: breached in the end). At 10:00 it has waited 1 h:
    pending; at 11:30, 2.5 h: breached (unanswered past the target); at 15:00: answered late.
    """
    t = ibis.memtable(
        {
            "ticket_id": ["T"],
            "opened_at": [D(2026, 1, 12, 9)],
            "first_response_at": [D(2026, 1, 12, 14)],
        }
    )

    def at(h: float) -> pd.Series:
        as_of = D(2026, 1, 12) + timedelta(hours=h)
        return sla_flags(t, as_of=as_of, policy=SlaPolicy()).to_pandas().iloc[0]

    early, mid, late = at(10), at(11.5), at(15)
    assert (early.answered, early.pending, early.breached) == (False, True, False)
    assert early.waited_seconds == 3600
    assert (mid.answered, mid.pending, mid.breached) == (False, False, True)
    assert (late.answered, late.breached, late.response_seconds) == (True, True, 5 * 3600)


def test_sla_flags_need_the_two_clock_columns():
    t = ibis.memtable({"opened_at": [D(2026, 1, 1)]})
    with pytest.raises(ValueError, match=r"lack column\(s\) \['first_response_at'\]"):
        sla_flags(t, as_of=D(2026, 1, 2), policy=SlaPolicy())


# ---------------------------------------------------------------------------------------------
# the business clock on China's workday calendar
# ---------------------------------------------------------------------------------------------

CN = SlaPolicy(business_hours=("09:00", "18:00"), holiday_calendar="CN")
WEEKDAYS = SlaPolicy(business_hours=("09:00", "18:00"))


def flags(rows: list[tuple], policy: SlaPolicy, as_of: datetime) -> pd.DataFrame:
    """rows: (opened_at, first_response_at); the flags in the rows' order."""
    t = ibis.memtable(
        pd.DataFrame(
            {
                "ticket_id": [f"T{i}" for i in range(len(rows))],
                "opened_at": pd.to_datetime([r[0] for r in rows]),
                "first_response_at": pd.to_datetime([r[1] for r in rows]),
            }
        )
    )
    return sla_flags(t, as_of=as_of, policy=policy).order_by("ticket_id").to_pandas()


def test_calendar_clock_skips_a_statutory_holiday():
    """National Day 2026 per crmkit.calendars (chinese_calendar's published arrangement):
    Thu 1 – Wed 7 October off; Wed 30 September and Thu 8 October are workdays.

    Opened Wed 30 Sep 17:30, answered Thu 8 Oct 09:40, business hours 09:00–18:00:
    on the CN calendar 30 min (30 Sep 17:30–18:00) + 40 min (8 Oct 09:00–09:40) = 70 min, met.
    On weekdays alone the holiday's weekdays count — Thu 1, Fri 2, Mon 5, Tue 6, Wed 7 Oct,
    5 × 540 min — so 70 + 2,700 = 2,770 min, a breach.

    A ticket opened during the holiday (Fri 2 Oct 10:00) and not yet answered has waited 0 min
    at Wed 7 Oct 20:00 (pending); at Thu 8 Oct 11:30 it has waited 150 min (breach).
    """
    assert calendars.is_workday(D(2026, 9, 30)) and calendars.is_workday(D(2026, 10, 8))
    assert not any(calendars.is_workday(D(2026, 10, d)) for d in range(1, 8))
    rows = [(D(2026, 9, 30, 17, 30), D(2026, 10, 8, 9, 40))]
    cn = flags(rows, CN, as_of=D(2026, 10, 9)).iloc[0]
    assert (cn.response_seconds, cn.met, cn.breached) == (70 * 60, True, False)
    wd = flags(rows, WEEKDAYS, as_of=D(2026, 10, 9)).iloc[0]
    assert (wd.response_seconds, wd.met, wd.breached) == (2770 * 60, False, True)

    during = [(D(2026, 10, 2, 10), None)]
    before = flags(during, CN, as_of=D(2026, 10, 7, 20)).iloc[0]
    assert (before.waited_seconds, before.pending, before.breached) == (0, True, False)
    after = flags(during, CN, as_of=D(2026, 10, 8, 11, 30)).iloc[0]
    assert (after.waited_seconds, after.pending, after.breached) == (150 * 60, False, True)


def test_calendar_clock_counts_a_make_up_saturday():
    """Sat 10 October 2026 is a 调休 make-up workday (for National Day), Sun 11 is not.

    Opened Fri 9 Oct 17:30, answered Mon 12 Oct 09:40: on the CN calendar 30 (Fri) + 540 (the
    whole Saturday 09:00–18:00) + 40 (Mon) = 610 min, a breach; on weekdays alone the weekend
    does not count: 30 + 40 = 70 min, met.

    Across the new year: Wed 31 Dec 2025 17:00 → Mon 5 Jan 2026 09:30. 1–3 January 2026 are
    off (Thu–Sat) and Sun 4 January is a make-up workday: 60 + 540 + 30 = 630 min on the CN
    calendar; on weekdays alone Thu 1 and Fri 2 Jan count instead of Sunday:
    60 + 2 × 540 + 30 = 1,170 min.
    """
    assert calendars.is_workday(D(2026, 10, 10)) and not calendars.is_workday(D(2026, 10, 11))
    assert calendars.is_workday(D(2026, 1, 4)) and not calendars.is_workday(D(2026, 1, 2))
    rows = [
        (D(2026, 10, 9, 17, 30), D(2026, 10, 12, 9, 40)),
        (D(2025, 12, 31, 17), D(2026, 1, 5, 9, 30)),
    ]
    cn = flags(rows, CN, as_of=D(2026, 10, 13))
    assert cn.response_seconds.tolist() == [610 * 60, 630 * 60]
    assert cn.breached.tolist() == [True, True]
    wd = flags(rows, WEEKDAYS, as_of=D(2026, 10, 13))
    assert wd.response_seconds.tolist() == [70 * 60, 1170 * 60]
    assert wd.met.tolist() == [True, False]


def test_calendar_clock_equals_the_weekday_clock_without_holidays():
    """March 2026 has no Chinese holiday and no make-up day: on 60 random tickets (opened and
    answered within the month, at any hour, weekends included) both clocks agree to the
    second."""
    rng = random.Random(3)
    start = D(2026, 3, 2)
    rows = []
    for _ in range(60):
        o = start + timedelta(seconds=rng.randrange(20 * 86400))
        rows.append((o, o + timedelta(seconds=rng.randrange(4 * 86400))))
    as_of = D(2026, 3, 31)
    cn = flags(rows, CN, as_of=as_of)
    wd = flags(rows, WEEKDAYS, as_of=as_of)
    assert cn.response_seconds.tolist() == wd.response_seconds.tolist()
    assert cn.breached.tolist() == wd.breached.tolist()


def test_calendar_clock_on_no_tickets():
    t = ibis.memtable(
        {"opened_at": pd.Series([], dtype="datetime64[us]"),
         "first_response_at": pd.Series([], dtype="datetime64[us]")}
    )  # fmt: skip
    assert sla_flags(t, as_of=D(2026, 1, 1), policy=CN).count().execute() == 0


# ---------------------------------------------------------------------------------------------
# the settings' sla section
# ---------------------------------------------------------------------------------------------


def test_packaged_settings_policy():
    p = sla_policy()
    assert p == SlaPolicy(2.0, None, (0, 1, 2, 3, 4), "CN")
    assert p.describe() == "first response within 2 h, wall clock, 24/7"


def company_config(tmp_path, sla: object) -> config.Config:
    """A company's settings directory whose classification_rules.json has this sla section
    (a new directory each time: settings are cached per directory)."""
    rules = json.loads((config.DEFAULT_DIR / "classification_rules.json").read_text("utf-8"))
    rules["sla"] = sla
    d = tmp_path / f"company{len(list(tmp_path.glob('company*')))}"
    d.mkdir()
    (d / "classification_rules.json").write_text(json.dumps(rules), encoding="utf-8")
    return config.load(d)


def test_first_response_hours_in_the_settings_changes_the_breach_count(tmp_path):
    """Four tickets answered after 1, 3 and 5 hours and one unanswered for 3.5 h at as_of.
    Target 2 h: the 3 h, 5 h and unanswered ones breach (3 of 4 due). Target 4 h: only the
    5 h one breaches, the unanswered one is pending (1 breach, 3 due: 2 met). The company's file
    decides, through complaints.sla_attainment and ticket_sla alike."""
    o = D(2026, 1, 12, 8)
    rows = [
        (o, o + timedelta(hours=1), None),
        (o, o + timedelta(hours=3), None),
        (o, o + timedelta(hours=5), None),
        (o + timedelta(hours=5), None, None),
    ]
    as_of = o + timedelta(hours=8, minutes=30)
    two = company_config(tmp_path, {"first_response_hours": 2})
    r = complaints.sla_attainment(tickets(rows), as_of=as_of, config=two).iloc[0]
    assert (r.breached, r.numerator, r.denominator, r.pending) == (3, 1, 4, 0)
    four = company_config(tmp_path, {"first_response_hours": 4, "business_hours": None})
    r = complaints.sla_attainment(tickets(rows), as_of=as_of, config=four).iloc[0]
    assert (r.breached, r.numerator, r.denominator, r.pending) == (1, 2, 3, 1)
    assert "4 h" in r.attrs["definition"]["policy"]
    sla = complaints.ticket_sla(tickets(rows), as_of=as_of, config=four).to_pandas()
    assert int(sla.breached.sum()) == 1


def test_business_hours_and_calendar_from_the_settings(tmp_path):
    cfg = company_config(
        tmp_path,
        {"business_hours": ["09:00", "18:00"], "workdays": [0, 1, 2, 3, 4, 5],
         "holiday_calendar": "cn"},
    )  # fmt: skip
    p = sla_policy(cfg)
    assert p == SlaPolicy(2.0, ("09:00", "18:00"), (0, 1, 2, 3, 4, 5), "CN")
    assert "CN workdays" in p.describe()
    assert sla_policy(company_config(tmp_path, {})) == SlaPolicy()


@pytest.mark.parametrize(
    ("sla", "match"),
    [
        ([2], r"sla is \[2\]; expected an object"),
        (
            {"first_response_hour": 2},
            r"sla: Additional properties are not allowed \('first_response_hour' was unexpected\)",
        ),
        ({"first_response_hours": 0}, r"sla.first_response_hours is 0; expected a number"),
        ({"first_response_hours": "2"}, r"sla.first_response_hours is '2'"),
        ({"first_response_hours": True}, r"sla.first_response_hours is true"),
        ({"business_hours": ["9", "18:00"]}, r'sla.business_hours is \["9", "18:00"\]'),
        ({"business_hours": ["18:00", "09:00"]}, r"start before the end"),
        ({"business_hours": "09:00-18:00"}, r"sla.business_hours is '09:00-18:00'"),
        ({"workdays": [0, 7]}, r"sla.workdays\[1\] is 7; expected a weekday number"),
        ({"workdays": []}, r"sla.workdays is \[\]"),
        ({"holiday_calendar": "XX"}, r"sla.holiday_calendar is 'XX'; expected null or a country"),
        ({"holiday_calendar": 86}, r"sla.holiday_calendar is 86"),
    ],
)
def test_bad_sla_settings_name_the_file_and_the_key(tmp_path, sla, match):
    """Shapes and types are refused when the file is read (its JSON Schema), what a schema
    cannot say (start before end, a known holiday calendar) by ``sla_policy``."""
    with pytest.raises(config.ConfigError, match=match) as e:
        sla_policy(company_config(tmp_path, sla))
    assert str(tmp_path.resolve() / "company0" / config.FILES["rules"]) in str(e.value)


def test_publish_fails_on_bad_sla_settings_naming_the_file(tmp_path):
    """A bad setting stops the publish before any step, even on a warehouse without tickets
    (where the complaints step would be skipped and never read it); the message names the
    file and the key, and no snapshot is written."""
    import crmkit
    from crmkit.config import ConfigError
    from crmkit.publish import STEPS

    wh = tmp_path / "w.duckdb"
    con = db.connect(wh, read_only=False)
    db.create_schema(con)
    con.disconnect()
    rules = json.loads((config.DEFAULT_DIR / "classification_rules.json").read_text("utf-8"))
    rules["sla"] = {"first_response_hours": -1}
    company = tmp_path / "company"
    company.mkdir()
    (company / "classification_rules.json").write_text(json.dumps(rules), encoding="utf-8")
    steps = [s for s in STEPS if s.name == "complaints"]
    with pytest.raises(ConfigError, match="classification_rules.json: sla.first_response_hours"):
        crmkit.publish(wh, tmp_path / "p.duckdb", config=company, steps=steps)
    assert not (tmp_path / "p.duckdb").exists()


def test_sla_policy_validation_in_code():
    with pytest.raises(ValueError, match="holiday_calendar: country 'XX'"):
        SlaPolicy(business_hours=("09:00", "18:00"), holiday_calendar="XX")
    with pytest.raises(ValueError, match="workdays"):
        SlaPolicy(workdays=(0, 9))
    assert SlaPolicy(workdays=[0, 1], business_hours=["08:00", "17:00"]).workdays == (0, 1)


# ---------------------------------------------------------------------------------------------
# the publish step and the KPI registry's entry
# ---------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def demo_con(demo_published):
    con = db.connect(demo_published)
    yield con
    con.disconnect()


def test_published_tables(demo_con):
    tables = set(demo_con.list_tables())
    assert {"ticket_sla", "complaints_info"} <= tables
    info = demo_con.table("complaints_info").to_pandas().iloc[0]
    assert info.first_response_hours == 2.0 and info.business_hours == ""
    assert info.sla_policy == "first response within 2 h, wall clock, 24/7"
    assert info.holiday_calendar == "CN"
    steps = demo_con.table("publish_steps").to_pandas().set_index("step")
    assert steps.loc["complaints", "status"] == "ok"


def test_publish_step_uses_the_configured_policy(tmp_path):
    """A snapshot published with business hours on China's calendar in the settings records
    them, and its SLA clock counts only business time (so no ticket waits longer on it than on
    the wall clock, and some wait less)."""
    con = db.connect(":memory:", read_only=False)
    demo.generate(con, 300, seed=7, progress=False)
    cfg = company_config(tmp_path, {"business_hours": ["09:00", "18:00"], "holiday_calendar": "CN"})
    as_of = db.data_as_of(con)
    tables = complaints.publish_tables(con, as_of=as_of, config=cfg)
    info = tables["complaints_info"].iloc[0]
    assert info.business_hours == "09:00-18:00" and "CN workdays" in info.sla_policy
    clock = tables["ticket_sla"].to_pandas().set_index("ticket_id").sort_index()
    wall = complaints.ticket_sla(con.table("tickets"), SlaPolicy(), as_of=as_of).to_pandas()
    wall = wall.set_index("ticket_id").sort_index()
    answered = wall.response_minutes.notna()
    assert (clock.response_minutes <= wall.response_minutes + 1e-9)[answered].all()
    assert (clock.response_minutes < wall.response_minutes)[answered].any()


def test_kpi_contract_for_the_registry():
    """sla_attainment takes a window [start, end) and a set of customers and returns value,
    numerator, denominator, n, lo, hi, small_sample with its definition. C1's tickets in
    [Jan 5, Jan 6): T0 answered in 60 min (met) and T1 in 180 min (breach) → 1 / 2; T2 is
    opened on Jan 6, outside the window."""
    cols = {"value", "numerator", "denominator", "n", "lo", "hi", "small_sample"}
    cust = ibis.memtable({"customer_id": ["C1"]})
    tk = tickets(
        [
            (D(2026, 1, 5, 10), D(2026, 1, 5, 11), None),
            (D(2026, 1, 5, 12), D(2026, 1, 5, 15), None),
            (D(2026, 1, 6, 12), None, None),
        ]
    )
    r = complaints.sla_attainment(
        tk, as_of=MONDAY, start=D(2026, 1, 5), end=D(2026, 1, 6), customers=cust
    )
    assert cols <= set(r.columns)
    assert (r.numerator.iloc[0], r.denominator.iloc[0], r.value.iloc[0]) == (1, 2, 0.5)
    assert "2 h" in r.attrs["definition"]["policy"]
    assert r.attrs["definition"]["window"] == "[2026-01-05 00:00:00, 2026-01-06 00:00:00)"
    with pytest.raises(ValueError, match="empty window"):
        complaints.sla_attainment(tk, as_of=MONDAY, start=D(2026, 1, 6), end=D(2026, 1, 5))


@pytest.fixture(scope="module")
def kpi_con():
    """2024-Q2 = [2024-04-01, 2024-07-01). Tickets: T1 (A) 05-01 10:00 answered 11:00 → met;
    T2 (B) 05-01 23:00 answered 05-02 02:00 → 3 h, breach; T3 (A) 06-30 23:30 never answered:
    at the quarter's end its clock has run 30 min < 2 h, not yet due; T4 (B) 06-30 21:00,
    answered 07-01 00:30 (after the quarter): at its end unanswered for 3 h, a breach.
    SLA = 1 / 3; customer A: 1 / 1."""
    c = db.connect(":memory:", read_only=False)
    db.create_schema(c)

    def insert(table: str, rows: list[dict]) -> None:
        c.con.register("_rows", pd.DataFrame(rows))
        c.con.execute(f"INSERT INTO {table} BY NAME SELECT * FROM _rows")
        c.con.unregister("_rows")

    insert("customers", [{"customer_id": k, "name": k} for k in "AB"])
    tk = [("T1", "A", "05-01 10:00", "05-01 11:00"), ("T2", "B", "05-01 23:00", "05-02 02:00"),
          ("T3", "A", "06-30 23:30", None), ("T4", "B", "06-30 21:00", "07-01 00:30")]  # fmt: skip
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


def test_kpi_entry_hand_worked(kpi_con):
    v = kpi.compute(kpi_con, "complaint_sla", "2024-Q2")
    assert v.available and (v.numerator, v.denominator) == (1, 3)
    only_a = kpi_con.table("customers").filter(lambda t: t.customer_id == "A")
    assert kpi.compute(kpi_con, "complaint_sla", "2024-Q2", customers=only_a).value == 1.0
    assert kpi.compute(kpi_con, "complaint_sla", "2023-Q1").denominator == 0


def test_kpi_entry_reads_the_settings(kpi_con, tmp_path):
    """Target 4 h: T2 (3 h) is met and T4 (3 h unanswered at the quarter's end) pending → 2 / 2."""
    cfg = company_config(tmp_path, {"first_response_hours": 4})
    v = kpi.compute(kpi_con, "complaint_sla", "2024-Q2", config=cfg)
    assert (v.numerator, v.denominator) == (2, 2)


# ---------------------------------------------------------------------------------------------
# the demo: planted truth
# ---------------------------------------------------------------------------------------------


def test_demo_slow_channel_is_the_top_sla_breach(demo_con):
    """Planted: social breaches ~55 % vs ~8 % elsewhere; its tickets are all handled by
    社媒运营组, so that team ties with the channel — nothing else comes close."""
    planted = demo.PLANTED["slow_sla_channel"]
    sla = demo_con.table("ticket_sla")
    by_channel = complaints.sla_summary(sla, "channel")
    top = by_channel.iloc[0]
    assert top.channel == planted["channel"]
    assert 0.48 < top.breach_rate < 0.62
    others = by_channel.iloc[1:]
    assert (others.breach_rate < 0.12).all()
    slices = []
    for dim in complaints.SLA_DIMENSIONS:
        df = complaints.sla_summary(sla, dim)
        df = df[~df.small_sample]
        slices += [(r.breach_rate, dim, getattr(r, dim)) for r in df.itertuples()]
    slices.sort(reverse=True)
    assert {(d, v) for _, d, v in slices[:2]} == {
        ("channel", planted["channel"]),
        ("team", planted["team"]),
    }
    assert slices[2][0] < 0.3
