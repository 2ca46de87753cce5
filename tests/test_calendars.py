"""crmkit.calendars: China's workdays (调休 included), other countries', and festivals.

Every date below was checked by hand: China's against the State Council's yearly arrangement
(国务院办公厅关于 … 部分节假日安排的通知), lunar festivals against a printed 万年历, US federal
holidays against the observance rule (a Saturday holiday is observed on the Friday before).
"""

import doctest
from datetime import date, datetime, timedelta

import holidays
import pytest

from crmkit import calendars
from crmkit.calendars import coverage, festivals, festivals_between, is_workday, workdays

D = date

# ---------------------------------------------------------------------------------------------
# China's workdays, years with the published arrangement
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("day", "expected", "why"),
    [
        (D(2024, 2, 4), True, "Sunday worked for the Spring Festival block (调休)"),
        (D(2024, 2, 9), True, "除夕 2024 was not a day off, only 'encouraged'"),
        (D(2024, 2, 10), False, "春节, a Saturday"),
        (D(2024, 2, 15), False, "Thursday inside the block 10-17 Feb"),
        (D(2024, 2, 18), True, "Sunday worked for the Spring Festival block (调休)"),
        (D(2024, 2, 19), True, "Monday after the block"),
        (D(2024, 3, 2), False, "an ordinary Saturday"),
        (D(2024, 3, 6), True, "an ordinary Wednesday"),
        (D(2024, 9, 29), True, "Sunday worked for National Day"),
        (D(2024, 10, 1), False, "国庆"),
        (D(2024, 10, 7), False, "Monday, last day of the National Day block"),
        (D(2024, 10, 8), True, "Tuesday after it"),
        (D(2024, 10, 12), True, "Saturday worked for National Day"),
        (D(2025, 1, 26), True, "Sunday worked for the 2025 Spring Festival block"),
        (D(2025, 1, 28), False, "除夕 2025: a day off by the 2024 revision of the holiday law"),
        (D(2025, 2, 8), True, "Saturday worked for the 2025 Spring Festival block"),
        (D(2026, 1, 2), False, "Friday, New Year block 1-3 Jan 2026"),
        (D(2026, 1, 4), True, "Sunday worked for New Year 2026"),
        (D(2026, 2, 14), True, "Saturday worked for the 2026 Spring Festival block (15-23 Feb)"),
        (D(2026, 2, 23), False, "Monday, last day of the 2026 Spring Festival block"),
    ],
)
def test_china_workdays_follow_the_published_arrangement(day, expected, why):
    assert day.year in coverage()
    assert is_workday(day) is expected, why


def test_coverage_is_chinese_calendars_years_and_reaches_2026():
    """chinese-calendar 1.11.0 holds 2004-2026; the pin must keep 2026 (pyproject.toml)."""
    years = coverage()
    assert isinstance(years, range) and years.step == 1
    assert 2004 in years and 2026 in years
    assert 2003 not in years


def test_the_two_sources_agree_where_both_have_the_arrangement():
    """The fallback (holidays' days off and make-up workdays) gives chinese_calendar's answer on
    every day of 2004-2026 but one: Saturday 2005-12-31 was worked for New Year 2006
    (holidays has it; chinese_calendar files that notice under 2006 only and misses it)."""
    differ = []
    for year in range(2004, 2027):
        h = holidays.country_holidays("CN", years=year)
        d = D(year, 1, 1)
        while d.year == year:
            if h.is_working_day(d) != is_workday(d):
                differ.append(d)
            d += timedelta(days=1)
    assert differ == [D(2005, 12, 31)]


# ---------------------------------------------------------------------------------------------
# China outside coverage(): holidays' statutory days, no error
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("day", "expected", "why"),
    [
        (D(2031, 1, 23), False, "春节 2031, a Thursday"),
        (D(2031, 1, 24), False, "初二"),
        (D(2031, 1, 27), False, "初三 is Saturday 25 Jan: estimated as observed on the Monday"),
        (D(2031, 1, 28), True, "Tuesday: no estimate of a longer block"),
        (D(2040, 3, 6), True, "an ordinary Tuesday"),
        (D(2040, 3, 10), False, "an ordinary Saturday"),
        (D(2040, 10, 1), False, "国庆, a Monday"),
        (D(2040, 10, 3), False, "国庆 third day, Wednesday"),
        (D(2040, 10, 4), True, "Thursday after National Day: no estimate of a longer block"),
        (D(2040, 9, 20), False, "中秋 2040, a Thursday"),
        (D(2003, 10, 1), False, "before chinese_calendar's years: holidays still knows 国庆"),
    ],
)
def test_china_beyond_coverage_falls_back_to_statutory_days(day, expected, why):
    assert day.year not in coverage()
    assert is_workday(day) is expected, why


# ---------------------------------------------------------------------------------------------
# other countries, other working weeks
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("country", "day", "expected", "why"),
    [
        ("US", D(2026, 7, 3), False, "Independence Day (Sat 4 July) observed on Friday"),
        ("US", D(2026, 7, 4), False, "Saturday"),
        ("US", D(2026, 7, 6), True, "Monday after"),
        ("US", D(2026, 11, 26), False, "Thanksgiving, fourth Thursday of November"),
        ("US", D(2026, 11, 27), True, "the Friday after is no federal holiday"),
        ("us", D(2026, 12, 25), False, "Christmas; the code is case-insensitive"),
        ("SA", D(2026, 3, 6), False, "Friday: Saudi Arabia's weekend is Friday-Saturday"),
        ("SA", D(2026, 3, 8), True, "Sunday is a working day there"),
        ("DE", D(2025, 10, 3), False, "Tag der Deutschen Einheit, a Friday"),
        ("DE", D(2026, 2, 17), True, "Chinese New Year means nothing to Germany's calendar"),
    ],
)
def test_other_countries_use_holidays_and_their_weekend(country, day, expected, why):
    assert is_workday(day, country=country) is expected, why


def test_a_team_with_its_own_working_week():
    """Mon-Sat team: an ordinary Saturday is worked, 春节 on a Saturday is not, and the 调休
    Sunday still is. Mon-Thu team: an ordinary Friday is not worked."""
    six = range(6)
    assert is_workday(D(2024, 2, 3), weekdays=six) is True
    assert is_workday(D(2024, 2, 10), weekdays=six) is False
    assert is_workday(D(2024, 2, 4), weekdays=six) is True
    assert is_workday(D(2024, 3, 8), weekdays=(0, 1, 2, 3)) is False
    assert is_workday(D(2040, 3, 10), weekdays=six) is True  # fallback years too


def test_a_datetime_counts_as_its_day():
    assert is_workday(datetime(2024, 2, 4, 23, 59)) is True


def test_workdays_lists_the_national_day_fortnight():
    """28 Sep 2024 (Sat) to 13 Oct (Sun): Sunday 29 Sep and Saturday 12 Oct were worked,
    1-7 Oct were not."""
    got = workdays(D(2024, 9, 28), D(2024, 10, 13))
    assert got == [
        D(2024, 9, 29), D(2024, 9, 30), D(2024, 10, 8), D(2024, 10, 9), D(2024, 10, 10),
        D(2024, 10, 11), D(2024, 10, 12),
    ]  # fmt: skip
    assert workdays(D(2024, 10, 1), D(2024, 10, 1)) == []


def test_workday_table_gives_the_business_clock():
    """Business hours 09:00-18:00 (540 min a day). A ticket opened Monday 2024-09-30 17:30 and
    answered Tuesday 2024-10-08 09:40 waited 30 min on Monday and 40 min on Tuesday = 70 min;
    1-7 October are skipped. clock(t) = workdays_before[day] * 540 + minutes worked that day."""
    t = calendars.workday_table(D(2024, 9, 27), D(2024, 10, 12)).set_index("date")
    assert list(t.columns) == ["workday", "workdays_before"]
    assert t.workdays_before[D(2024, 9, 27)] == 0
    assert t.workdays_before[D(2024, 10, 1)] == 3  # 27, 29, 30 Sep
    assert t.workdays_before[D(2024, 10, 8)] == 3
    assert t.workdays_before[D(2024, 10, 12)] == 7
    assert int(t.workday.sum()) == 8

    def clock(ts: datetime) -> int:
        row = t.loc[ts.date()]
        worked = min(max(ts.hour * 60 + ts.minute - 9 * 60, 0), 540)
        return int(row.workdays_before) * 540 + (worked if row.workday else 0)

    assert clock(datetime(2024, 10, 8, 9, 40)) - clock(datetime(2024, 9, 30, 17, 30)) == 70


# ---------------------------------------------------------------------------------------------
# festivals
# ---------------------------------------------------------------------------------------------


def _on(year: int, code: str, country: str = "CN") -> list[date]:
    f = festivals(year, country=country)
    return f.date[f.code == code].tolist()


@pytest.mark.parametrize(
    ("code", "day"),
    [
        ("spring_festival", D(2020, 1, 25)),
        ("lantern", D(2020, 2, 8)),
        ("qingming", D(2020, 4, 4)),
        ("dragon_boat", D(2020, 6, 25)),
        ("mid_autumn", D(2020, 10, 1)),  # on National Day itself
        ("laba", D(2020, 1, 2)),
        ("new_year_eve", D(2024, 2, 9)),
        ("spring_festival", D(2024, 2, 10)),
        ("little_new_year", D(2024, 2, 2)),
        ("lantern", D(2024, 2, 24)),
        ("dragon_boat", D(2024, 6, 10)),
        ("qixi", D(2024, 8, 10)),
        ("mid_autumn", D(2024, 9, 17)),
        ("double_ninth", D(2024, 10, 11)),
        ("laba", D(2025, 1, 7)),  # 腊八 of lunar 2024
        ("qixi", D(2025, 8, 29)),  # after 2025's leap sixth month
        ("mid_autumn", D(2025, 10, 6)),
        ("double_ninth", D(2025, 10, 29)),
        ("spring_festival", D(2026, 2, 17)),
        ("lantern", D(2026, 3, 3)),
        ("qingming", D(2026, 4, 5)),
        ("mothers_day", D(2026, 5, 10)),
        ("dragon_boat", D(2026, 6, 19)),
        ("fathers_day", D(2026, 6, 21)),
        ("mid_autumn", D(2026, 9, 25)),
        ("double_ninth", D(2026, 10, 18)),
        ("spring_festival", D(2031, 1, 23)),
        ("mid_autumn", D(2031, 10, 1)),
        ("spring_festival", D(2040, 2, 12)),
        ("mid_autumn", D(2040, 9, 20)),
        ("christmas", D(2040, 12, 25)),
    ],
)
def test_chinese_festival_dates(code, day):
    assert _on(day.year, code) == [day]


def test_the_old_hand_typed_table_is_reproduced():
    """relationship.json's holiday table (2025-2028) had these lunar dates; festivals() gives
    the same for those years and goes on past 2028."""
    table = {
        "spring_festival": [D(2025, 1, 29), D(2026, 2, 17), D(2027, 2, 6), D(2028, 1, 26)],
        "lantern": [D(2025, 2, 12), D(2026, 3, 3), D(2027, 2, 20), D(2028, 2, 9)],
        "dragon_boat": [D(2025, 5, 31), D(2026, 6, 19), D(2027, 6, 9), D(2028, 5, 28)],
        "mid_autumn": [D(2025, 10, 6), D(2026, 9, 25), D(2027, 9, 15), D(2028, 10, 3)],
        "double_ninth": [D(2025, 10, 29), D(2026, 10, 18), D(2027, 10, 8), D(2028, 10, 26)],
    }
    for code, days in table.items():
        assert [d for y in range(2025, 2029) for d in _on(y, code)] == days, code
    f = festivals(2027).set_index("code")
    assert f.loc["new_year", "name_zh"] == "元旦"
    assert f.loc["double_ninth", ["name_zh", "name_en"]].tolist() == [
        "重阳节",
        "Double Ninth Festival",
    ]


def test_festival_frame_shape_and_kinds():
    f = festivals(2024)
    assert list(f.columns) == calendars.FESTIVAL_COLUMNS
    assert len(f) == 17 and f.code.is_unique
    assert f.date.tolist() == sorted(f.date)
    assert set(f.kind) == set(calendars.KINDS)
    kinds = dict(zip(f.code, f.kind, strict=True))
    assert kinds["spring_festival"] == "statutory"
    assert kinds["lantern"] == "traditional"
    assert kinds["valentines"] == "western"


@pytest.mark.parametrize(
    ("year", "code", "kind"),
    [
        (2005, "mid_autumn", "traditional"),  # statutory from 2008
        (2005, "qingming", "traditional"),
        (2008, "qingming", "statutory"),
        (2010, "new_year_eve", "statutory"),  # 2007 revision: 除夕 instead of 初三
        (2024, "new_year_eve", "traditional"),  # 2013 revision gave 初三 back
        (2025, "new_year_eve", "statutory"),  # 2024 revision: 除夕 again
    ],
)
def test_kind_follows_the_holiday_law_of_the_year(year, code, kind):
    f = festivals(year)
    assert f.kind[f.code == code].item() == kind


def test_statutory_festivals_are_public_holidays_in_holidays_too():
    """Two sources: every festival festivals() calls statutory in 1950-2088 is a public
    holiday on that day in the holidays package's China calendar."""
    for year in range(1950, 2089):
        f = festivals(year)
        days = holidays.country_holidays("CN", years=year, observed=False)
        s = f[f.kind == "statutory"]
        assert [c for d, c in zip(s.date, s.code, strict=True) if d not in days] == [], year


def test_laba_can_fall_twice_in_a_calendar_year():
    """腊八 of lunar 2021 was 2022-01-10 and that of lunar 2022 was 2022-12-30, so 2023 had
    none: festivals are those whose day falls in the calendar year."""
    assert _on(2022, "laba") == [D(2022, 1, 10), D(2022, 12, 30)]
    assert _on(2023, "laba") == []


def test_festivals_between_crosses_the_year_end():
    f = festivals_between(D(2024, 12, 20), D(2025, 1, 29))
    assert f.code.tolist() == [
        "christmas", "new_year", "laba", "little_new_year", "new_year_eve", "spring_festival",
    ]  # fmt: skip
    assert f.date.iloc[0] == D(2024, 12, 25) and f.date.iloc[-1] == D(2025, 1, 29)


def test_us_festivals_are_on_the_day_not_the_day_observed():
    f = festivals(2026, country="US").set_index("code")
    assert f.loc["independence_day", "date"] == D(2026, 7, 4)
    assert f.loc["thanksgiving_day", "date"] == D(2026, 11, 26)
    assert f.loc["new_years_day", "date"] == D(2026, 1, 1)
    assert set(f.kind) == {"statutory"}
    # holidays has no Chinese names for the US: the English name stands in
    assert f.loc["christmas_day", "name_zh"] == "Christmas Day"


def test_other_countries_chinese_names_and_no_substituted_days():
    tw = festivals(2026, country="TW").set_index("code")
    assert tw.loc["mid_autumn_festival", ["date", "name_zh"]].tolist() == [D(2026, 9, 25), "中秋节"]
    # Russia moves days off around; those 'Day off (substituted from …)' are no festivals
    ru = festivals(2024, country="RU")
    assert not ru.code.str.startswith("day_off").any()
    assert ru.date[ru.code == "victory_day"].tolist() == [D(2024, 5, 9)]
    assert festivals(2026, country="SA").code.is_unique  # Eid al-Fitr Holiday ×4 → one row


# ---------------------------------------------------------------------------------------------
# errors
# ---------------------------------------------------------------------------------------------


def test_clear_errors():
    with pytest.raises(ValueError, match=r"country 'XX'.*ISO 3166-1 alpha-2"):
        is_workday(D(2024, 1, 1), country="XX")
    with pytest.raises(ValueError, match=r"country 'China'"):
        festivals(2024, country="China")
    with pytest.raises(ValueError, match=r"weekdays \(7,\).*0 \(Mon\) \.\. 6 \(Sun\)"):
        is_workday(D(2024, 1, 1), weekdays=(7,))
    with pytest.raises(ValueError, match=r"weekdays \(\)"):
        workdays(D(2024, 1, 1), D(2024, 1, 2), weekdays=())
    with pytest.raises(TypeError, match=r"d = '2024-02-04' \(str\); expected a datetime.date"):
        is_workday("2024-02-04")
    with pytest.raises(ValueError, match=r"start 2024-02-05 is after end 2024-02-04"):
        workdays(D(2024, 2, 5), D(2024, 2, 4))
    with pytest.raises(ValueError, match=r"year 2100: expected a whole year 1950-2099"):
        festivals(2100)
    with pytest.raises(ValueError, match=r"year 1949: expected a whole year 1950-2099"):
        festivals(1949)
    with pytest.raises(ValueError, match=r"year '2024'"):
        festivals("2024")


def test_docstring_examples():
    assert doctest.testmod(calendars).failed == 0
