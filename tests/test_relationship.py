"""crmkit.relationship: contact cadence per customer and segment, the care calendar (birthdays,
festival greetings, post-purchase follow-ups) and the relationship rules."""

import json
from datetime import date, datetime

import pandas as pd
import pytest

from crmkit import config, db, relationship

AS_OF = datetime(2026, 6, 30, 12, 0)


@pytest.fixture
def contact_db():
    """as_of 2026-06-30 12:00. Customers (owner, segment → cadence in days):

    - K1 王, important_value (30): phone 2026-06-10 → 20 days, on time; an e-mail on
      2025-05-01 is older than 365 days (not counted); birthday 5 July; order O1 delivered
      2026-06-28 → follow-up due 2026-07-05 (none yet); O3 delivered 1 June → due 8 June
      (outside the window);
    - K2 王, important_value (30): chat 2026-04-01 → 90 days, 60 overdue; birthday 30 June
      (today: not upcoming, next one is outside 30 days);
    - K3 李, potential (180): never contacted, created 2026-01-01 → 180 days, not overdue
      (overdue means more than the cadence); birthday 10 July but potential customers get no
      birthday greeting;
    - K5 李, general_value (60): O2 delivered 27 June, followed up 29 June (phone) → not due;
      cancelled order O4 → none;
    - K4 created after as_of: left out.
    """
    con = db.connect(":memory:", read_only=False)
    con.create_table(
        "customers",
        pd.DataFrame(
            {
                "customer_id": ["K1", "K2", "K3", "K4", "K5"],
                "owner": ["王", "王", "李", "李", "李"],
                "owner_team": ["success", "success", "sales", "sales", "service"],
                "created_at": pd.to_datetime(
                    ["2025-01-01", "2025-01-01", "2026-01-01", "2026-07-15", "2025-06-01"]
                ),
                "birthday": pd.to_datetime(
                    ["1990-07-05", "1985-06-30", "2000-07-10", None, None]
                ).date,
            }
        ),
    )
    con.create_table(
        "classification",
        pd.DataFrame(
            {
                "customer_id": ["K1", "K2", "K3", "K5"],
                "rfm_class": ["important_value", "important_value", None, "general_value"],
            }
        ),
    )
    con.create_table(
        "interactions",
        pd.DataFrame(
            {
                "customer_id": ["K1", "K1", "K2", "K5"],
                "ts": pd.to_datetime(
                    ["2026-06-10 10:00", "2025-05-01 10:00", "2026-04-01 09:00", "2026-06-29 15:00"]
                ),
                "channel": ["phone", "email", "chat", "phone"],
                "care_event": ["none", "offer", "none", "post_purchase"],
            }
        ),
    )
    con.create_table(
        "orders",
        pd.DataFrame(
            {
                "order_id": ["O1", "O2", "O3", "O4"],
                "customer_id": ["K1", "K5", "K1", "K5"],
                "delivered_at": pd.to_datetime(
                    ["2026-06-28 10:00", "2026-06-27 10:00", "2026-06-01 10:00", "2026-06-29 10:00"]
                ),
                "status": ["completed", "completed", "completed", "cancelled"],
            }
        ),
    )
    yield con
    con.disconnect()


def test_contact_status_worked_by_hand(contact_db):
    s = (
        relationship.contact_status(contact_db, as_of=AS_OF)
        .to_pandas()
        .set_index("customer_id")
        .sort_index()
    )
    assert s.index.tolist() == ["K1", "K2", "K3", "K5"]
    assert s.days_since.tolist() == [20, 90, 180, 1]
    assert s.target_days.tolist() == [30, 30, 180, 60]
    assert s.overdue.tolist() == [False, True, False, False]
    assert s.days_overdue.tolist() == [0, 60, 0, 0]
    assert s.contacts_365.tolist() == [1, 1, 0, 1]
    assert s.ch_phone.tolist() == [1, 0, 0, 1] and s.ch_chat.tolist() == [0, 1, 0, 0]
    assert s.ch_email.sum() == 0
    by_seg = relationship.contact_by_segment(relationship.contact_status(contact_db, as_of=AS_OF))
    iv = by_seg.set_index("segment").loc["important_value"]
    assert (iv.customers, iv.overdue, iv.overdue_share, iv.per_customer) == (2, 1, 0.5, 1.0)


def test_care_calendar_worked_by_hand(contact_db):
    """Window 1–30 July 2026. With 七夕 greeted (lunar 7/7 = 2026-08-19) nothing festive falls
    in July; with 端午 (2026-06-19) neither; the holiday segments (important_value,
    important_keep) K1 and K2 would get it. K1's birthday and K1's post-purchase follow-up
    (O1 delivered 28 June + 7 days) fall due on 5 July."""
    rules = relationship.load_relationship()
    rules["calendar"]["holiday_codes"] = ["qixi", "dragon_boat"]
    cal = relationship.care_calendar(contact_db, as_of=AS_OF, rules=rules)
    got = [(str(r.date), r.customer_id, r.event, r.detail_zh, r.order_id) for r in cal.itertuples()]
    assert got == [
        ("2026-07-05", "K1", "birthday", "生日祝福", None),
        ("2026-07-05", "K1", "post_purchase", "购后回访", "O1"),
    ]
    assert set(cal.owner) == {"王"}


def test_relationship_rules_errors(tmp_path):
    rules = json.loads(relationship.RELATIONSHIP_PATH.read_text(encoding="utf-8"))
    rules["cadence_days"]["potential"] = 0
    p = tmp_path / "r.json"
    p.write_text(json.dumps(rules), encoding="utf-8")
    with pytest.raises(ValueError, match=r"cadence_days\['potential'\] = 0"):
        relationship.load_relationship(p)


def test_festival_dates_come_from_the_calendar_for_any_year(contact_db):
    """Lunar festivals move every year and the old hand-typed table ended in 2028: 春节
    2026-02-17, 中秋 2027-09-15, 春节 2040-02-12, 重阳 2035-10-09 now come from
    crmkit.calendars. Greeting national day: as_of 2026-09-30 with the 30-day horizon gives
    K1 and K2 (the holiday segments) a 国庆节 greeting on 1 October."""
    rules = relationship.load_relationship()
    got = {
        (f["key"], f["date"])
        for a, b in ((date(2026, 1, 1), date(2028, 1, 1)), (date(2035, 1, 1), date(2041, 1, 1)))
        for f in relationship.festival_dates(rules, a, b)
    }
    assert {
        ("spring_festival", date(2026, 2, 17)),
        ("mid_autumn", date(2027, 9, 15)),
        ("spring_festival", date(2040, 2, 12)),
        ("double_ninth", date(2035, 10, 9)),
    } <= got
    assert not {k for k, _ in got} - set(relationship.GREETED_FESTIVALS)
    cal = relationship.care_calendar(contact_db, as_of=datetime(2026, 9, 30, 12), rules=rules)
    oct1 = cal[(cal.event == "holiday") & (cal.date.astype(str) == "2026-10-01")]
    assert sorted(oct1.customer_id) == ["K1", "K2"] and set(oct1.detail_zh) == {"国庆节问候"}


def test_unknown_greeted_festival_is_named(tmp_path):
    rules = json.loads(relationship.RELATIONSHIP_PATH.read_text(encoding="utf-8"))
    rules["calendar"]["holiday_codes"] = ["national_day", "halloween"]
    p = tmp_path / "r.json"
    p.write_text(json.dumps(rules), encoding="utf-8")
    with pytest.raises(ValueError, match=r"holiday_codes has \['halloween'\]"):
        relationship.load_relationship(p)


def test_no_care_event_due_gives_the_typed_empty_calendar(contact_db):
    """as_of 2026-08-10 with a 3-day horizon (11–13 August) and no festivals: no birthday
    (K1 5 July, K2 30 June), no delivery in the 7 days before, so nothing falls due — an
    empty calendar with its columns, not an error."""
    rules = relationship.load_relationship()
    rules["holidays"] = []
    rules["calendar"]["horizon_days"] = 3
    cal = relationship.care_calendar(contact_db, as_of=datetime(2026, 8, 10, 12, 0), rules=rules)
    assert cal.empty
    assert cal.columns.tolist() == [
        "date", "customer_id", "owner", "owner_team", "segment", "event", "detail_zh",
        "detail_en", "order_id",
    ]  # fmt: skip


def test_festival_dates_are_half_open():
    """The packaged table has 国庆节 on 2026-10-01 and 重阳节 on 2026-10-18: [1 Oct, 18 Oct)
    holds the first only, [2 Oct, 19 Oct) the second only."""
    rules = relationship.load_relationship()
    got = relationship.festival_dates(rules, date(2026, 10, 1), date(2026, 10, 18))
    assert [(f["date"], f["key"]) for f in got] == [(date(2026, 10, 1), "national_day")]
    got = relationship.festival_dates(rules, date(2026, 10, 2), date(2026, 10, 19))
    assert [(f["date"], f["zh"], f["en"]) for f in got] == [
        (date(2026, 10, 18), "重阳节", "Double Ninth Festival")
    ]


def test_publish_tables_with_the_company_rules(contact_db, tmp_path):
    """A settings directory whose cadence for important_value is 10 days: K1 (20 days since
    the phone call) becomes overdue by 10 days. The calendar is an Arrow table with a date
    column: the worked calendar's events without its test holiday (the packaged table has no
    festival in 1–30 July 2026): K1's birthday and follow-up."""
    rules = json.loads(relationship.RELATIONSHIP_PATH.read_text(encoding="utf-8"))
    rules["cadence_days"]["important_value"] = 10
    (tmp_path / "relationship.json").write_text(json.dumps(rules), encoding="utf-8")
    out = relationship.publish_tables(contact_db, as_of=AS_OF, config=config.load(tmp_path))
    s = out["contact_status"].to_pandas().set_index("customer_id")
    assert (s.loc["K1", "target_days"], s.loc["K1", "days_overdue"]) == (10, 10)
    assert bool(s.loc["K1", "overdue"])
    cal = out["care_calendar"]
    assert str(cal.schema.field("date").type) == "date32[day]"
    assert sorted(cal.column("event").to_pylist()) == ["birthday", "post_purchase"]
