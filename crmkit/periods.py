"""Half-open periods ``[start, end)``: the one period type of views, KPIs, loyalty and cubes.

A :class:`Period` is a calendar month, quarter or year, or a trailing window of days
(``kind="window"``). Every count over time in crmkit uses one of these, so "last quarter" or
"the last 91 days" means the same thing on every page and in every report:

- :func:`period_containing` / :func:`parse_period` — calendar periods;
- :func:`data_end` — the exclusive end of the data: the whole ``as_of`` day is inside it;
- :func:`last_complete_period` — the last calendar period that the data covers whole;
- :func:`trailing_window` — the ``days`` days up to :func:`data_end` ("last 30 days");
- :func:`rolling_quarters` — consecutive 91-day windows ending at the data's end (the churn
  trend's quarters);
- :func:`quarter_ends` — the last moments (23:59:59) of calendar quarters before ``as_of``
  (the classification snapshots).

Examples
--------
>>> period = parse_period("2025-Q3")
>>> period.start, period.end
(datetime.datetime(2025, 7, 1, 0, 0), datetime.datetime(2025, 10, 1, 0, 0))
>>> period.previous().label
'2025-Q2'
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

KINDS = ("month", "quarter", "year")
#: The length of a rolling quarter (:func:`rolling_quarters`).
QUARTER_DAYS = 91


@dataclass(frozen=True)
class Period:
    """A reporting period ``[start, end)``: a calendar month, quarter or year, or a trailing
    window of days (``kind="window"``)."""

    label: str
    kind: str
    start: datetime
    end: datetime

    @property
    def days(self) -> float:
        return (self.end - self.start).total_seconds() / 86400

    def previous(self) -> Period:
        """The period of the same kind just before this one."""
        if self.kind == "window":
            start = self.start - (self.end - self.start)
            return Period(f"{start:%Y-%m-%d}~{self.start:%Y-%m-%d}", "window", start, self.start)
        return period_containing(self.start - timedelta(seconds=1), self.kind)

    def previous_n(self, n: int) -> list[Period]:
        """The ``n`` periods before this one, oldest first, followed by this one."""
        out = [self]
        for _ in range(n):
            out.append(out[-1].previous())
        return out[::-1]

    def describe(self) -> str:
        """``start ≤ t < end`` in days, as every 口径 states its window."""
        return f"{self.start:%Y-%m-%d} ≤ t < {self.end:%Y-%m-%d}"


def period_containing(ts: datetime, kind: str) -> Period:
    """The calendar month / quarter / year containing ``ts``.

    >>> period_containing(datetime(2026, 11, 5), "quarter").label
    '2026-Q4'
    """
    if kind == "month":
        start = datetime(ts.year, ts.month, 1)
        end = datetime(ts.year + (ts.month == 12), ts.month % 12 + 1, 1)
        return Period(f"{ts.year}-{ts.month:02d}", kind, start, end)
    if kind == "quarter":
        q = (ts.month - 1) // 3 + 1
        start = datetime(ts.year, 3 * q - 2, 1)
        end = datetime(ts.year + (q == 4), (3 * q) % 12 + 1, 1)
        return Period(f"{ts.year}-Q{q}", kind, start, end)
    if kind == "year":
        return Period(str(ts.year), kind, datetime(ts.year, 1, 1), datetime(ts.year + 1, 1, 1))
    raise ValueError(f"unknown period kind {kind!r}; expected one of {list(KINDS)}")


def parse_period(text: str | Period) -> Period:
    """``2025-Q3``, ``2025-07`` or ``2025`` as a :class:`Period`.

    Raises
    ------
    ValueError
        For anything else, naming the accepted forms.

    Examples
    --------
    >>> parse_period("2025-07").end
    datetime.datetime(2025, 8, 1, 0, 0)
    """
    if isinstance(text, Period):
        return text
    s = str(text).strip().upper()
    if m := re.fullmatch(r"(\d{4})-?Q([1-4])", s):
        return period_containing(datetime(int(m[1]), 3 * int(m[2]) - 2, 1), "quarter")
    if (m := re.fullmatch(r"(\d{4})-(\d{1,2})", s)) and 1 <= int(m[2]) <= 12:
        return period_containing(datetime(int(m[1]), int(m[2]), 1), "month")
    if m := re.fullmatch(r"(\d{4})", s):
        return period_containing(datetime(int(m[1]), 1, 1), "year")
    raise ValueError(
        f"period {text!r} not understood; expected a quarter '2025-Q3', a month '2025-07' "
        "or a year '2025'"
    )


def data_end(as_of: datetime) -> datetime:
    """The end (exclusive) of the data: the published history covers the whole ``as_of`` day.

    >>> data_end(datetime(2026, 9, 30, 18, 5))
    datetime.datetime(2026, 10, 1, 0, 0)
    """
    return datetime.combine(as_of.date() + timedelta(days=1), datetime.min.time())


def last_complete_period(as_of: datetime, kind: str = "quarter") -> Period:
    """The last month / quarter / year that ends on or before the end of the ``as_of`` day.

    >>> last_complete_period(datetime(2026, 9, 30, 23, 10)).label
    '2026-Q3'
    >>> last_complete_period(datetime(2026, 9, 29)).label
    '2026-Q2'
    """
    p = period_containing(as_of, kind)
    return p if p.end <= data_end(as_of) else p.previous()


def trailing_window(as_of: datetime, days: int) -> Period:
    """The ``days`` days up to the end of the ``as_of`` day ("the last 30 days").

    >>> w = trailing_window(datetime(2026, 9, 30, 12), 30)
    >>> w.start, w.end
    (datetime.datetime(2026, 9, 1, 0, 0), datetime.datetime(2026, 10, 1, 0, 0))
    """
    if not isinstance(days, int) or days <= 0:
        raise ValueError(f"days must be a whole number > 0, got {days!r}; e.g. 30")
    end = data_end(as_of)
    start = end - timedelta(days=days)
    return Period(f"{days}d", "window", start, end)


def rolling_quarters(as_of: datetime, n: int = 8) -> list[Period]:
    """``n`` consecutive :data:`QUARTER_DAYS`-day windows, oldest first, the last ending at
    :func:`data_end` ``(as_of)``.

    Examples
    --------
    The last of four quarters is the 91 days up to the end of 30 September; the one before it
    ends where it starts:

    >>> qs = rolling_quarters(datetime(2026, 9, 30, 8), 4)
    >>> qs[-1].start, qs[-1].end
    (datetime.datetime(2026, 7, 2, 0, 0), datetime.datetime(2026, 10, 1, 0, 0))
    >>> qs[-2].end == qs[-1].start, len(qs)
    (True, 4)
    """
    if not isinstance(n, int) or n < 1:
        raise ValueError(f"n must be a whole number >= 1, got {n!r}; e.g. 8")
    last = trailing_window(as_of, QUARTER_DAYS)
    out = [last]
    for _ in range(n - 1):
        out.append(out[-1].previous())
    return out[::-1]


def quarter_ends(as_of: datetime, quarters: int = 4) -> list[datetime]:
    """The ends of the last ``quarters`` complete calendar quarters before ``as_of``, then
    ``as_of`` itself (the classification snapshots' dates).

    A quarter ends at 23:59:59 on 31 March, 30 June, 30 September or 31 December (the warehouse
    keeps whole seconds). A quarter counts when its end is strictly before ``as_of``, so an
    ``as_of`` that is itself a quarter end appears once, as the last date.

    Examples
    --------
    >>> [d.strftime("%Y-%m-%d") for d in quarter_ends(datetime(2026, 9, 30, 23, 59, 59), 4)]
    ['2025-09-30', '2025-12-31', '2026-03-31', '2026-06-30', '2026-09-30']
    >>> quarter_ends(datetime(2026, 10, 1, 8), 1)
    [datetime.datetime(2026, 9, 30, 23, 59, 59), datetime.datetime(2026, 10, 1, 8, 0)]
    """
    if not isinstance(quarters, int) or isinstance(quarters, bool) or quarters < 0:
        raise ValueError(f"quarters must be a whole number >= 0, got {quarters!r}; e.g. 4")
    ends: list[datetime] = []
    year, q = as_of.year, (as_of.month - 1) // 3 + 1  # the quarter as_of falls in
    while len(ends) < quarters:
        last_month = 3 * q
        first_of_next = date(year + (last_month == 12), last_month % 12 + 1, 1)
        end = datetime.combine(first_of_next - timedelta(days=1), time(23, 59, 59))
        if end < as_of:
            ends.append(end)
        year, q = (year, q - 1) if q > 1 else (year - 1, 4)
    return [*reversed(ends), as_of]


def target_kind(period: Period) -> str:
    """Which targets apply: a calendar period's own kind; a trailing window the nearest one."""
    if period.kind != "window":
        return period.kind
    return min(KINDS, key=lambda k: abs({"month": 30, "quarter": 91, "year": 365}[k] - period.days))
