"""Workdays and festivals: China's official calendar (调休 included) and other countries'.

Two questions, asked by two parts of crmkit:

- **Is this day a workday?** The complaint SLA clock (``crmkit.definitions.sla_flags``) counts
  business hours on workdays only. :func:`is_workday`, :func:`workdays` and the vectorised
  :func:`workday_table` answer it.
- **Which festivals fall in this year?** The care calendar (客户关怀, ``crmkit.needs``) sends
  holiday greetings. :func:`festivals` and :func:`festivals_between` answer it, computed for
  any year from 1950 to 2099 instead of a hand-typed date table.

Where the answers come from
---------------------------
- **China's workdays.** For the years in :func:`coverage`, the ``chinese_calendar`` package,
  which holds the State Council's yearly arrangement: the holiday blocks, and the make-up
  workdays (调休) that fall on a Saturday or Sunday. 2024-02-04 (a Sunday) was a workday and
  2024-02-15 (a Thursday) was not. For other years, see the next item. Those years are
  *estimates* whenever ``holidays`` has no published arrangement for them either: the statutory
  days off moved off weekends by rule, with no make-up workdays.
- **Other countries, and China outside** :func:`coverage`. The ``holidays`` package
  (``holidays.country_holidays(country)``) gives statutory days off, including days observed in
  lieu (US Independence Day on a Saturday is observed on the Friday before). It also gives the
  country's weekend (Friday and Saturday in Saudi Arabia) and any make-up workdays it knows
  (``weekend_workdays``). A day is a workday when it is a make-up workday, or is neither a
  holiday nor a weekend day.
- **Festivals.** In China: the statutory ones (元旦, 春节, 清明, 劳动节, 端午, 中秋, 国庆); the
  traditional ones that are not days off (元宵 = lunar 1/15, 七夕 7/7, 重阳 9/9, 腊八 12/8,
  小年 12/23 as in the north, 除夕 the last day of the lunar year); and the western ones that
  customers in China mark (情人节, 母亲节, 父亲节, 圣诞节). Lunar dates are converted with
  ``borax`` (``LunarDate``, lunar years 1900–2100), 清明 is its solar term. Elsewhere: the
  country's statutory holidays from ``holidays``, on the day itself (not the day observed).

Nothing is downloaded: all three packages ship their data. This module imports no other crmkit
module.

Examples
--------
>>> from datetime import date
>>> is_workday(date(2024, 2, 4)), is_workday(date(2024, 10, 1))
(True, False)
>>> f = festivals(2024)
>>> f.loc[f.code == "lantern", ["date", "name_zh"]].values.tolist()
[[datetime.date(2024, 2, 24), '元宵节']]
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta

import chinese_calendar
import holidays
import pandas as pd
from borax.calendars.festivals2 import TermFestival
from borax.calendars.lunardate import LunarDate

#: Years :func:`festivals` computes for China: the PRC's holiday law dates from 1950, and a
#: calendar year needs the lunar year before it and its own (``borax`` holds lunar 1900–2100).
CN_FESTIVAL_YEARS = range(1950, 2100)
#: Kinds of festival. ``statutory`` is a public holiday in that year; ``traditional`` is a
#: Chinese festival that is not a day off; ``western`` is a western one marked in China.
KINDS = ("statutory", "traditional", "western")
#: Weekdays are numbered as in :meth:`datetime.date.weekday`: Monday = 0 … Sunday = 6.
WEEKDAY_NUMBERS = range(7)

FESTIVAL_COLUMNS = ["date", "code", "name_zh", "name_en", "kind"]
WORKDAY_COLUMNS = ["date", "workday", "workdays_before"]

# China's festivals: code, 中文, English, kind (but see _CN_STATUTORY_YEARS) and the rule. The
# codes are those of relationship.json's former holiday table.
#   ("fixed", month, day)  ("lunar", month, day)  ("term", name)  ("eve",)
#   ("nth_sunday", month, n)
_CN_FESTIVALS: tuple[tuple[str, str, str, str, tuple], ...] = (
    ("new_year", "元旦", "New Year's Day", "statutory", ("fixed", 1, 1)),
    ("spring_festival", "春节", "Spring Festival", "statutory", ("lunar", 1, 1)),
    ("new_year_eve", "除夕", "Chinese New Year's Eve", "traditional", ("eve",)),
    ("lantern", "元宵节", "Lantern Festival", "traditional", ("lunar", 1, 15)),
    ("qingming", "清明节", "Qingming Festival", "traditional", ("term", "清明")),
    ("labour_day", "劳动节", "Labour Day", "statutory", ("fixed", 5, 1)),
    ("dragon_boat", "端午节", "Dragon Boat Festival", "traditional", ("lunar", 5, 5)),
    ("qixi", "七夕节", "Qixi Festival", "traditional", ("lunar", 7, 7)),
    ("mid_autumn", "中秋节", "Mid-Autumn Festival", "traditional", ("lunar", 8, 15)),
    ("national_day", "国庆节", "National Day", "statutory", ("fixed", 10, 1)),
    ("double_ninth", "重阳节", "Double Ninth Festival", "traditional", ("lunar", 9, 9)),
    ("laba", "腊八节", "Laba Festival", "traditional", ("lunar", 12, 8)),
    ("little_new_year", "小年", "Little New Year", "traditional", ("lunar", 12, 23)),
    ("valentines", "情人节", "Valentine's Day", "western", ("fixed", 2, 14)),
    ("mothers_day", "母亲节", "Mother's Day", "western", ("nth_sunday", 5, 2)),
    ("fathers_day", "父亲节", "Father's Day", "western", ("nth_sunday", 6, 3)),
    ("christmas", "圣诞节", "Christmas", "western", ("fixed", 12, 25)),
)
# Years a festival of kind "traditional" above is a public holiday in the PRC
# (全国年节及纪念日放假办法): the 2007 revision (in force 2008) added 清明, 端午 and 中秋 and
# gave 除夕 instead of 初三; the 2013 revision gave 初三 back; the 2024 revision (in force
# 2025) added 除夕 again.
_CN_STATUTORY_YEARS: dict[str, tuple[range, ...]] = {
    "qingming": (range(2008, 10000),),
    "dragon_boat": (range(2008, 10000),),
    "mid_autumn": (range(2008, 10000),),
    "new_year_eve": (range(2008, 2014), range(2025, 10000)),
}


@dataclass(frozen=True)
class _Year:
    """One country's working calendar for one year."""

    off: frozenset[date]  # days off for a holiday, whatever the weekday
    extra: frozenset[date]  # make-up workdays (调休) on weekend days
    weekend: frozenset[date]  # the country's usual weekend days that year


# ---------------------------------------------------------------------------------------------
# validation
# ---------------------------------------------------------------------------------------------


@functools.cache
def _countries() -> frozenset[str]:
    return frozenset(holidays.list_supported_countries())


def _check_country(country: object) -> str:
    code = country.upper() if isinstance(country, str) else None
    if code not in _countries():
        raise ValueError(
            f"country {country!r}: not a country the holidays package knows; expected an ISO "
            "3166-1 alpha-2 code such as 'CN', 'US' or 'DE' (see "
            "holidays.list_supported_countries())"
        )
    return code


def _check_date(d: object, name: str) -> date:
    # a datetime is a date too, but never equal to one: compare its day
    if isinstance(d, datetime):
        return d.date()
    if isinstance(d, date):
        return d
    raise TypeError(f"{name} = {d!r} ({type(d).__name__}); expected a datetime.date")


def _check_weekdays(weekdays: Iterable[int] | None) -> frozenset[int] | None:
    if weekdays is None:
        return None
    days = tuple(weekdays)
    if not days or any(
        isinstance(d, bool) or not isinstance(d, int) or d not in WEEKDAY_NUMBERS for d in days
    ):
        raise ValueError(
            f"weekdays {days!r}: expected a non-empty set of weekday numbers 0 (Mon) .. 6 (Sun), "
            "e.g. (0, 1, 2, 3, 4)"
        )
    return frozenset(days)


def _check_year(year: object, years: range, why: str) -> int:
    if isinstance(year, bool) or not isinstance(year, int) or year not in years:
        raise ValueError(f"year {year!r}: expected a whole year {years.start}-{years[-1]} ({why})")
    return year


# ---------------------------------------------------------------------------------------------
# workdays
# ---------------------------------------------------------------------------------------------


@functools.cache
def coverage() -> range:
    """The years for which China's workdays come from ``chinese_calendar``: the State
    Council's published arrangement, 调休 make-up workdays included.

    For other years :func:`is_workday` falls back to ``holidays``, without an error. It is exact
    where ``holidays`` has that year's arrangement, and an estimate where it has none (no
    make-up workdays). A caller that wants to warn checks ``year in coverage()``.

    Returns
    -------
    range
        Consecutive years, e.g. ``range(2004, 2027)`` for chinese-calendar 1.11.0.

    Examples
    --------
    >>> 2024 in coverage(), 2026 in coverage()
    (True, True)
    """
    # chinese_calendar itself accepts a date when its year lies between the first and the
    # last year of its holiday table (utils._validate_date)
    years = {d.year for d in chinese_calendar.holidays}
    return range(min(years), max(years) + 1)


def _days(year: int) -> list[date]:
    first = date(year, 1, 1).toordinal()
    last = date(year, 12, 31).toordinal()
    return [date.fromordinal(n) for n in range(first, last + 1)]


@functools.cache
def _year(country: str, year: int) -> _Year:
    if country == "CN" and year in coverage():
        return _Year(
            off=frozenset(d for d in chinese_calendar.holidays if d.year == year),
            extra=frozenset(d for d in chinese_calendar.workdays if d.year == year),
            weekend=frozenset(d for d in _days(year) if d.weekday() >= 5),
        )
    h = holidays.country_holidays(country, years=year)
    return _Year(
        off=frozenset(d for d in h if d.year == year),
        extra=frozenset(d for d in h.weekend_workdays if d.year == year),
        weekend=frozenset(d for d in _days(year) if h.is_weekend(d)),
    )


def _is_workday(d: date, country: str, weekdays: frozenset[int] | None) -> bool:
    y = _year(country, d.year)
    if d in y.extra:
        return True
    if d in y.off:
        return False
    return d not in y.weekend if weekdays is None else d.weekday() in weekdays


def is_workday(d: date, *, country: str = "CN", weekdays: Iterable[int] | None = None) -> bool:
    """Whether ``d`` is a workday in ``country``.

    Parameters
    ----------
    d : datetime.date
        The day. A ``datetime`` counts as its date.
    country : str
        ISO 3166-1 alpha-2 code, any the ``holidays`` package knows (default ``"CN"``).
    weekdays : iterable of int, optional
        The weekdays that are worked when no holiday says otherwise, Monday = 0 (for a team
        working Monday to Saturday: ``range(6)``). Default: all but the country's weekend.
        Holidays are days off and make-up workdays (调休) are workdays, whatever this says.

    Returns
    -------
    bool

    Raises
    ------
    ValueError
        For a country the ``holidays`` package does not know, or bad ``weekdays``.
    TypeError
        When ``d`` is not a date.

    Notes
    -----
    China, years in :func:`coverage`: ``chinese_calendar``'s published arrangement, so 调休
    Saturdays and Sundays are workdays and the weekdays of a holiday block are not. China in
    other years, and every other country: ``holidays`` (statutory days off and days observed in
    lieu, the country's weekend, and the make-up workdays it knows). For China beyond the
    arrangements published so far this is an estimate: the statutory days off, moved off the
    weekend, with no make-up workdays.

    Examples
    --------
    2024-02-04 and 2024-02-18 were Sundays worked for the Spring Festival block (10–17 Feb);
    2024-02-15 was a Thursday inside it. US Independence Day 2026 is a Saturday, observed on
    Friday 3 July:

    >>> from datetime import date
    >>> [is_workday(date(2024, 2, d)) for d in (4, 15, 18)]
    [True, False, True]
    >>> is_workday(date(2026, 7, 3), country="US"), is_workday(date(2026, 7, 6), country="US")
    (False, True)
    >>> is_workday(date(2024, 2, 3), weekdays=range(6))  # a Saturday, on a Mon–Sat team
    True
    """
    return _is_workday(_check_date(d, "d"), _check_country(country), _check_weekdays(weekdays))


def _span(start: object, end: object) -> tuple[date, date]:
    start, end = _check_date(start, "start"), _check_date(end, "end")
    if start > end:
        raise ValueError(f"start {start} is after end {end}; expected start <= end")
    return start, end


def workdays(
    start: date, end: date, *, country: str = "CN", weekdays: Iterable[int] | None = None
) -> list[date]:
    """The workdays from ``start`` to ``end``, both included (see :func:`is_workday`).

    Examples
    --------
    National Day 2024 ran Tuesday 1 to Monday 7 October; Saturday 12 October was worked:

    >>> from datetime import date
    >>> workdays(date(2024, 9, 30), date(2024, 10, 12))
    [datetime.date(2024, 9, 30), datetime.date(2024, 10, 8), datetime.date(2024, 10, 9), \
datetime.date(2024, 10, 10), datetime.date(2024, 10, 11), datetime.date(2024, 10, 12)]
    """
    t = workday_table(start, end, country=country, weekdays=weekdays)
    return t.date[t.workday].tolist()


def workday_table(
    start: date, end: date, *, country: str = "CN", weekdays: Iterable[int] | None = None
) -> pd.DataFrame:
    """One row per day from ``start`` to ``end`` (both included), for vectorised clocks.

    Parameters
    ----------
    start, end : datetime.date
        The first and the last day.
    country, weekdays
        As in :func:`is_workday`.

    Returns
    -------
    pandas.DataFrame
        ``date`` (``datetime.date``; an Ibis memtable reads it as ``date``), ``workday``
        (bool), ``workdays_before`` (int64: workdays from ``start`` up to the day before).
        The workdays from day *a* up to but not including day *b* are
        ``workdays_before[b] - workdays_before[a]``. A business clock that counts *h* seconds
        per workday therefore stands at ``workdays_before * h + (seconds worked so far that
        day if workday)`` at any moment, and differences of it give business time.

    Examples
    --------
    Friday 2024-09-27 to Saturday 2024-10-12: Sunday 29 September and Saturday 12 October
    were worked, 1–7 October were not.

    >>> from datetime import date
    >>> t = workday_table(date(2024, 9, 27), date(2024, 10, 12))
    >>> int(t.workday.sum()), int(t.workdays_before.iloc[-1])
    (8, 7)
    >>> t.loc[t.date == date(2024, 10, 8), "workdays_before"].item()  # 27, 29, 30 Sep
    3
    """
    start, end = _span(start, end)
    country, wd = _check_country(country), _check_weekdays(weekdays)
    days = [date.fromordinal(n) for n in range(start.toordinal(), end.toordinal() + 1)]
    work = pd.Series([_is_workday(d, country, wd) for d in days], dtype=bool)
    before = work.astype("int64").cumsum() - work.astype("int64")
    cols = (pd.Series(days, dtype=object), work, before)
    return pd.DataFrame(dict(zip(WORKDAY_COLUMNS, cols, strict=True)))


# ---------------------------------------------------------------------------------------------
# festivals
# ---------------------------------------------------------------------------------------------


def _nth_sunday(year: int, month: int, n: int) -> date:
    first = date(year, month, 1)
    return first + timedelta(days=(6 - first.weekday()) % 7 + 7 * (n - 1))


def _cn_dates(year: int, rule: tuple) -> list[date]:
    match rule:
        case ("fixed", month, day):
            return [date(year, month, day)]
        case ("nth_sunday", month, n):
            return [_nth_sunday(year, month, n)]
        case ("term", name):
            return [TermFestival(term=name).at(year)]
        case ("eve",):
            return [LunarDate(year, 1, 1).to_solar_date() - timedelta(days=1)]
        case ("lunar", month, day):
            # the lunar year straddles two calendar years: 腊八 of lunar 2024 is 2025-01-07
            out = (LunarDate(y, month, day).to_solar_date() for y in (year - 1, year))
            return [d for d in out if d.year == year]
    raise AssertionError(rule)


@functools.cache
def _cn_festivals(year: int) -> pd.DataFrame:
    rows = []
    for code, zh, en, base, rule in _CN_FESTIVALS:
        statutory = any(year in r for r in _CN_STATUTORY_YEARS.get(code, ()))
        kind = "statutory" if statutory else base
        rows += [(d, code, zh, en, kind) for d in _cn_dates(year, rule)]
    return pd.DataFrame(rows, columns=FESTIVAL_COLUMNS)


def _label_pattern(h: holidays.HolidayBase, attribute: str) -> re.Pattern | None:
    label = getattr(h, attribute, None)
    if not label:
        return None
    return re.compile(re.escape(h.tr(label)).replace(re.escape("%s"), "(.*)") + r"\Z")


def _named_days(h: holidays.HolidayBase) -> list[tuple[date, str]]:
    """(date, name) per holiday in ``h``, without days off substituted for a worked weekend
    day and without the '(estimated)' mark."""
    substituted = _label_pattern(h, "substituted_label")
    estimated = _label_pattern(h, "estimated_label")
    out = []
    for d, names in sorted(h.items()):
        for name in names.split("; "):
            if substituted and substituted.match(name):
                continue
            m = estimated.match(name) if estimated else None
            out.append((d, m.group(1) if m else name))
    return out


def _slug(name: str) -> str:
    """``"New Year's Day"`` -> ``"new_years_day"``."""
    return re.sub(r"[^a-z0-9]+", "_", re.sub(r"['’]", "", name.lower())).strip("_")


@functools.cache
def _other_festivals(country: str, year: int) -> pd.DataFrame:
    langs = holidays.country_holidays(country).supported_languages
    en = _named_days(
        holidays.country_holidays(
            country, years=year, observed=False, language="en_US" if "en_US" in langs else None
        )
    )
    zh = en
    if "zh_CN" in langs:
        zh = _named_days(
            holidays.country_holidays(country, years=year, observed=False, language="zh_CN")
        )
    # Chinese names are paired with the English ones day by day; where the two lists do not
    # line up, the English name stands in rather than a wrong pairing
    if [d for d, _ in zh] != [d for d, _ in en]:
        zh = en
    rows, seen = [], set()
    for (d, name_en), (_, name_zh) in zip(en, zh, strict=True):
        code = _slug(name_en)
        # a holiday of several days (Eid al-Fitr Holiday ×4) is greeted on its first
        if d.year == year and code not in seen:
            seen.add(code)
            rows.append((d, code, name_zh, name_en, "statutory"))
    return pd.DataFrame(rows, columns=FESTIVAL_COLUMNS)


def festivals(year: int, *, country: str = "CN") -> pd.DataFrame:
    """The festivals of calendar year ``year`` in ``country``, for greetings.

    Parameters
    ----------
    year : int
        Gregorian year; for China one of :data:`CN_FESTIVAL_YEARS` (1950–2099).
    country : str
        ISO 3166-1 alpha-2 code (default ``"CN"``).

    Returns
    -------
    pandas.DataFrame
        ``date`` (``datetime.date``), ``code``, ``name_zh``, ``name_en``, ``kind`` (one of
        :data:`KINDS`), sorted by date then code. Every festival appears on its own day, not on
        the day off observed for it.

        China: ``new_year`` 元旦, ``spring_festival`` 春节, ``new_year_eve`` 除夕, ``lantern``
        元宵节, ``qingming`` 清明节, ``labour_day`` 劳动节, ``dragon_boat`` 端午节, ``qixi``
        七夕节, ``mid_autumn`` 中秋节, ``national_day`` 国庆节, ``double_ninth`` 重阳节,
        ``laba`` 腊八节, ``little_new_year`` 小年 (lunar 12/23, the northern date; the south
        keeps 12/24), and the western ``valentines``, ``mothers_day`` (second Sunday of May),
        ``fathers_day`` (third Sunday of June), ``christmas``. Lunar festivals are those of
        the lunar year in progress, so 腊八 and 小年 of a year fall in its January or
        February. ``kind`` follows the PRC's holiday law for that year: 清明, 端午 and 中秋
        are statutory from 2008, 除夕 in 2008–2013 and from 2025. 清明 is a day of
        remembrance: a care calendar that greets should leave it out.

        Other countries: their statutory holidays from ``holidays`` (kind ``statutory``), one
        row per holiday on its first day that year. ``code`` is the English name in
        snake_case. ``name_zh`` is the English name where ``holidays`` has no Chinese names
        for the country.

    Raises
    ------
    ValueError
        For an unknown country, or a year outside :data:`CN_FESTIVAL_YEARS` for China.

    Examples
    --------
    >>> f = festivals(2024).set_index("code")
    >>> f.loc[["spring_festival", "double_ninth"], ["date", "kind"]].values.tolist()
    [[datetime.date(2024, 2, 10), 'statutory'], [datetime.date(2024, 10, 11), 'traditional']]
    >>> us = festivals(2026, country="US")
    >>> us.loc[us.code == "independence_day", "date"].item()
    datetime.date(2026, 7, 4)
    """
    country = _check_country(country)
    if country == "CN":
        _check_year(year, CN_FESTIVAL_YEARS, "China's festivals")
        out = _cn_festivals(year)
    else:
        _check_year(year, range(1, 10000), "a calendar year")
        out = _other_festivals(country, year)
    return out.sort_values(["date", "code"]).reset_index(drop=True)


def festivals_between(start: date, end: date, *, country: str = "CN") -> pd.DataFrame:
    """The :func:`festivals` from ``start`` to ``end``, both included, across year ends.

    Examples
    --------
    >>> from datetime import date
    >>> festivals_between(date(2024, 12, 20), date(2025, 1, 10)).code.tolist()
    ['christmas', 'new_year', 'laba']
    """
    start, end = _span(start, end)
    frames = [festivals(y, country=country) for y in range(start.year, end.year + 1)]
    out = pd.concat(frames, ignore_index=True)
    keep = out.date.map(lambda d: start <= d <= end).astype(bool)
    return out[keep].reset_index(drop=True)
