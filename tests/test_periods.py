"""crmkit.periods: half-open periods ``[start, end)``, each case worked out by hand.

Calendar facts used below: 2024 is a leap year (29 February); Q4 runs 1 October – 31 December,
so its end (exclusive) is 1 January of the next year; a trailing window of d days ends at the
start of the day after ``as_of`` (the whole ``as_of`` day is data).
"""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from crmkit import periods
from crmkit.periods import (
    Period,
    data_end,
    last_complete_period,
    parse_period,
    period_containing,
    quarter_ends,
    rolling_quarters,
    target_kind,
    trailing_window,
)


def test_periods_parse_and_step_back():
    q = parse_period("2025-q3")
    assert (q.start, q.end, q.label) == (datetime(2025, 7, 1), datetime(2025, 10, 1), "2025-Q3")
    assert parse_period("2025-12").end == datetime(2026, 1, 1)
    assert parse_period("2024").previous().label == "2023"
    assert parse_period("2025-Q1").previous().label == "2024-Q4"
    assert [p.label for p in parse_period("2025-02").previous_n(2)] == [
        "2024-12",
        "2025-01",
        "2025-02",
    ]
    with pytest.raises(ValueError, match="expected a quarter '2025-Q3'"):
        parse_period("Q3 2025")
    with pytest.raises(ValueError, match="2025-13"):
        parse_period("2025-13")


def test_period_containing_at_year_ends():
    """The last second of 2025 is in 2025-12, 2025-Q4 and 2025, each ending at 2026-01-01; the
    first moment of 2026 is in 2026-01 / 2026-Q1 / 2026."""
    last = datetime(2025, 12, 31, 23, 59, 59)
    for kind, label, start in [
        ("month", "2025-12", datetime(2025, 12, 1)),
        ("quarter", "2025-Q4", datetime(2025, 10, 1)),
        ("year", "2025", datetime(2025, 1, 1)),
    ]:
        p = period_containing(last, kind)
        assert (p.label, p.kind, p.start, p.end) == (label, kind, start, datetime(2026, 1, 1))
    first = datetime(2026, 1, 1)
    assert [period_containing(first, k).label for k in ("month", "quarter", "year")] == [
        "2026-01",
        "2026-Q1",
        "2026",
    ]
    # stepping back over the year end, and February of a leap year (29 days)
    assert period_containing(first, "month").previous().label == "2025-12"
    assert period_containing(first, "quarter").previous().label == "2025-Q4"
    feb = period_containing(datetime(2024, 2, 10), "month")
    assert feb.days == 29 and feb.end == datetime(2024, 3, 1)
    with pytest.raises(ValueError, match="unknown period kind 'week'"):
        period_containing(first, "week")


@pytest.mark.parametrize("text", ["2025-Q5", "2025-Q0", "2025-00", "25-Q1", "", "2025-W03"])
def test_parse_period_errors_name_the_accepted_forms(text):
    with pytest.raises(ValueError, match=r"expected a quarter '2025-Q3', a month '2025-07'"):
        parse_period(text)


def test_parse_period_accepts_variants_and_periods():
    """``2025Q3`` and `` 2025-q3 `` are the quarter; ``2025-7`` is July; a Period passes."""
    assert parse_period("2025Q3") == parse_period(" 2025-q3 ") == parse_period("2025-Q3")
    assert parse_period("2025-7").label == "2025-07"
    p = trailing_window(datetime(2026, 9, 30), 30)
    assert parse_period(p) is p


def test_last_complete_quarter_counts_the_as_of_day():
    """Data up to 2026-09-30 23:57 covers Q3; data up to 09-29 does not."""
    assert last_complete_period(datetime(2026, 9, 30, 23, 57)).label == "2026-Q3"
    assert last_complete_period(datetime(2026, 9, 29, 23, 0)).label == "2026-Q2"
    assert last_complete_period(datetime(2026, 9, 30), "year").label == "2025"


def test_last_complete_period_at_a_day_boundary():
    """as_of 2026-09-30 00:00:00 already holds the whole of 30 September (data_end = 1 Oct), so
    Q3 is complete; one second earlier (29 September 23:59:59) it is not. 2026-10-01 00:00 is
    inside October, which is not over: the last complete month is September."""
    assert last_complete_period(datetime(2026, 9, 30)).label == "2026-Q3"
    assert last_complete_period(datetime(2026, 9, 29, 23, 59, 59)).label == "2026-Q2"
    assert last_complete_period(datetime(2026, 10, 1), "month").label == "2026-09"
    assert last_complete_period(datetime(2026, 12, 31), "year").label == "2026"
    assert last_complete_period(datetime(2026, 12, 30, 23, 59), "year").label == "2025"


def test_data_end_and_trailing_window():
    """data_end is the next midnight whatever the time of day; 30 days up to 2026-09-30 are
    [09-01, 10-01); 1 day is the as_of day itself; 366 days from 2024-12-31 reach back to
    2024-01-01 (2024 has 366 days)."""
    assert data_end(datetime(2026, 9, 30)) == datetime(2026, 10, 1)
    assert data_end(datetime(2026, 9, 30, 23, 59, 59)) == datetime(2026, 10, 1)
    assert data_end(datetime(2025, 12, 31, 12)) == datetime(2026, 1, 1)
    w = trailing_window(datetime(2026, 9, 30, 8), 30)
    assert (w.label, w.kind, w.start, w.end) == (
        "30d",
        "window",
        datetime(2026, 9, 1),
        datetime(2026, 10, 1),
    )
    day = trailing_window(datetime(2026, 9, 30, 8), 1)
    assert (day.start, day.end) == (datetime(2026, 9, 30), datetime(2026, 10, 1))
    assert trailing_window(datetime(2024, 12, 31), 366).start == datetime(2024, 1, 1)
    assert w.previous().end == w.start and w.previous().days == 30
    assert w.describe() == "2026-09-01 ≤ t < 2026-10-01"
    for bad in (0, -5, 1.5):
        with pytest.raises(ValueError, match="days must be a whole number > 0"):
            trailing_window(datetime(2026, 9, 30), bad)


def test_trailing_window_takes_the_nearest_targets():
    """The overview's 30 / 90 / 365-day presets are windows ending with the as_of day; they are
    held against the month / quarter / year targets."""
    w = trailing_window(datetime(2026, 9, 30, 23, 0), 90)
    assert (w.start, w.end) == (datetime(2026, 7, 3), datetime(2026, 10, 1))
    assert w.previous().end == w.start
    kinds = [target_kind(trailing_window(datetime(2026, 9, 30), d)) for d in (30, 90, 365)]
    assert kinds == ["month", "quarter", "year"]
    assert target_kind(parse_period("2026-07")) == "month"


def test_rolling_quarters_are_contiguous():
    """Eight 91-day windows up to the end of 2026-09-30: the last is [07-02, 10-01), each starts
    where the one before ends, and together they cover 8 × 91 = 728 days back to 2024-10-03."""
    qs = rolling_quarters(datetime(2026, 9, 30, 17), 8)
    assert len(qs) == 8
    assert (qs[-1].start, qs[-1].end) == (datetime(2026, 7, 2), datetime(2026, 10, 1))
    assert all(a.end == b.start for a, b in zip(qs, qs[1:], strict=False))
    assert {q.end - q.start for q in qs} == {timedelta(days=periods.QUARTER_DAYS)}
    assert qs[0].start == datetime(2026, 10, 1) - timedelta(days=728) == datetime(2024, 10, 3)
    assert [q.end for q in rolling_quarters(datetime(2026, 9, 30, 17), 1)] == [qs[-1].end]
    with pytest.raises(ValueError, match="n must be a whole number >= 1"):
        rolling_quarters(datetime(2026, 9, 30), 0)


def test_quarter_ends_when_as_of_is_a_quarter_end():
    """as_of = 2026-06-30 23:59:59 is Q2's own end: it is not counted as a complete quarter
    before itself, so it appears once, last; one second later (2026-07-01 00:00:00) Q2's end
    is a quarter before as_of."""
    q2_end = datetime(2026, 6, 30, 23, 59, 59)
    assert quarter_ends(q2_end, 2) == [
        datetime(2025, 12, 31, 23, 59, 59),
        datetime(2026, 3, 31, 23, 59, 59),
        q2_end,
    ]
    after = datetime(2026, 7, 1)
    assert quarter_ends(after, 2) == [datetime(2026, 3, 31, 23, 59, 59), q2_end, after]
    assert quarter_ends(after, 0) == [after]
    with pytest.raises(ValueError, match="quarters must be a whole number >= 0"):
        quarter_ends(after, -1)


def test_a_window_steps_back_by_its_own_length():
    w = Period("w", "window", datetime(2026, 9, 1), datetime(2026, 10, 1))
    prev = w.previous()
    assert (prev.label, prev.start, prev.end) == (
        "2026-08-02~2026-09-01",
        datetime(2026, 8, 2),
        datetime(2026, 9, 1),
    )
    assert [p.start for p in w.previous_n(2)] == [
        datetime(2026, 7, 3),
        datetime(2026, 8, 2),
        datetime(2026, 9, 1),
    ]
