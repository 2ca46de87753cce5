"""The lists the pages export, by name: what ``crmkit export`` writes outside a page.

Each list is the one a page's CSV / Excel buttons hand over, built by the same two functions the
page calls: the page's list function (its rows for the filters, PII masked for the ``dashboard``
role) and its ``*_export`` function (headers in the page's language, the export's name). The
file is :func:`crmkit.views.base.export_frame`'s: the filters and export time in its header
lines, formula-safe cells. So for the same snapshot, filters, language and role the file
``crmkit export`` writes is the page's, byte for byte apart from the export-time line.

========================  ==============  ====================================================
list                      page            rows
========================  ==============  ====================================================
``churn_warning``         churn           customers at risk, ranked by risk × value (owner)
``overdue_contacts``      needs           customers contacted less often than their cadence
``care_calendar``         needs           birthdays, festivals, follow-ups due (owner)
``sla_breaches``          satisfaction    complaint tickets that missed the response target
``open_backlog_by_team``  satisfaction    open complaint tickets per team and age
``stale_by_owner``        data overview   customer records not verified for too long
``duplicate_candidates``  data overview   pairs of customers that look like one person
========================  ==============  ====================================================

and every classification segment's customer list (:func:`segment_export`, the classification
page's segment buttons: ``customers_<segment>``).

Examples
--------
>>> sorted(LISTS)[:3]
['care_calendar', 'churn_warning', 'duplicate_candidates']
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import pandas as pd
from ibis.backends import BaseBackend

from crmkit.views.base import (
    Filters,
    Section,
    current_role,
    reasons_text,
    unavailable_sections,
)
from crmkit.views.churn import CHURN_SECTIONS, risk_list, risk_list_export
from crmkit.views.classification import (
    CLASSIFICATION_SECTIONS,
    SEGMENTS,
    segment_list,
    segment_list_export,
)
from crmkit.views.needs import (
    NEEDS_SECTIONS,
    care_list,
    care_list_export,
    overdue_list,
    overdue_list_export,
)
from crmkit.views.overview import (
    DATA_OVERVIEW_SECTIONS,
    duplicate_list,
    duplicate_list_export,
    stale_owner_list,
    stale_owner_list_export,
)
from crmkit.views.satisfaction import (
    SATISFACTION_SECTIONS,
    backlog_table,
    backlog_table_export,
    breach_list,
    breach_list_export,
)

#: A list's rows: ``rows(con, filters, lang, role, owner)``.
Rows = Callable[[BaseBackend, Filters, str, str, str | None], pd.DataFrame]
#: A list as exported: ``export(rows, lang, owner) -> (frame, name)``.
Export = Callable[[pd.DataFrame, str, str | None], tuple[pd.DataFrame, str]]


@dataclass(frozen=True)
class ExportList:
    """One list a page exports: the page, the page section it belongs to (without that
    section's publish step or table the list is not available), its rows and its export."""

    page: str
    section: Section
    rows: Rows
    export: Export
    about: str
    #: the page filters this list by owner too (its owner dropdown)
    by_owner: bool = False


LISTS: dict[str, ExportList] = {
    "churn_warning": ExportList(
        "churn",
        CHURN_SECTIONS["model"],
        lambda con, f, lang, role, owner: risk_list(con, f, owner=owner, lang=lang, role=role),
        lambda df, lang, owner: risk_list_export(df, owner, lang),
        "active customers at risk of churning, ranked by risk × value, with reasons and action",
        by_owner=True,
    ),
    "overdue_contacts": ExportList(
        "needs",
        NEEDS_SECTIONS["contacts"],
        lambda con, f, lang, role, owner: overdue_list(con, f, lang=lang, role=role, owner=owner),
        lambda df, lang, owner: overdue_list_export(df, owner, lang),
        "customers whose last contact is older than their segment's cadence, most overdue first",
        by_owner=True,
    ),
    "care_calendar": ExportList(
        "needs",
        NEEDS_SECTIONS["care"],
        lambda con, f, lang, role, owner: care_list(con, f, lang=lang, role=role, owner=owner),
        lambda df, lang, owner: care_list_export(df, owner, lang),
        "birthdays, festivals and post-purchase follow-ups coming up, by date",
        by_owner=True,
    ),
    "sla_breaches": ExportList(
        "satisfaction",
        SATISFACTION_SECTIONS["complaints"],
        lambda con, f, lang, role, owner: breach_list(con, f, lang=lang, role=role),
        lambda df, lang, owner: breach_list_export(df, lang),
        "complaint tickets that missed the first-response target, newest first",
    ),
    "open_backlog_by_team": ExportList(
        "satisfaction",
        SATISFACTION_SECTIONS["complaints"],
        lambda con, f, lang, role, owner: backlog_table(con, f),
        lambda df, lang, owner: backlog_table_export(df, lang),
        "open complaint tickets per team and age (the complaint backlog)",
    ),
    "stale_by_owner": ExportList(
        "data_overview",
        DATA_OVERVIEW_SECTIONS["quality"],
        lambda con, f, lang, role, owner: stale_owner_list(con, f),
        lambda df, lang, owner: stale_owner_list_export(df, lang),
        "customer records not verified for too long, per owner team and owner",
    ),
    "duplicate_candidates": ExportList(
        "data_overview",
        DATA_OVERVIEW_SECTIONS["quality"],
        lambda con, f, lang, role, owner: duplicate_list(con, f, role=role),
        lambda df, lang, owner: duplicate_list_export(df, lang),
        "pairs of customers that look like one person (phone, email, or name and company)",
    ),
}


class NotAvailable(ValueError):
    """The page section a list belongs to is not available on this snapshot (its publish step
    was skipped, or its table is empty); ``reasons`` maps each step or table to its reason
    code."""

    def __init__(self, what: str, reasons: dict[str, str]) -> None:
        super().__init__(
            f"{what} cannot be exported from this snapshot. {reasons_text(reasons, 'en')}; "
            "nothing was written"
        )
        self.reasons = reasons


def lists_help() -> str:
    """One line per list: its name, page and what it holds (``crmkit export --list help``)."""
    width = max(map(len, LISTS))
    lines = [f"  {name:<{width}}  {spec.page:<13}  {spec.about}" for name, spec in LISTS.items()]
    segments = ", ".join(SEGMENTS)
    return "\n".join(
        [
            "lists (crmkit export --list NAME):",
            *lines,
            "segments (crmkit export --segment CODE, the classification page's segment lists):",
            f"  {segments}",
        ]
    )


def _check_available(con: BaseBackend, what: str, section: Section) -> None:
    reasons = unavailable_sections(con, {what: section}).get(what)
    if reasons:
        raise NotAvailable(what, reasons)


def list_export(
    con: BaseBackend,
    name: str,
    f: Filters = Filters(),
    *,
    lang: str = "zh",
    role: str | None = None,
    owner: str | None = None,
) -> tuple[pd.DataFrame, str]:
    """One of the :data:`LISTS` as its page's export buttons hand it over.

    Parameters
    ----------
    con : ibis backend
        A published snapshot (the dashboard one for the ``dashboard`` role).
    name : str
        A key of :data:`LISTS`.
    f : Filters
        The page's filter bar.
    lang : {"zh", "en"}
        Headers and labels.
    role : {"dashboard", "analyst"}, optional
        Default ``$CRMKIT_ROLE``, else ``dashboard`` (PII masked).
    owner : str, optional
        One owner's rows (the page's owner dropdown), for the lists that have one.

    Returns
    -------
    (pandas.DataFrame, str)
        The frame and the export's name (``churn_warning_all``, ``sla_breaches`` …) for
        :func:`crmkit.views.base.export_frame`.

    Raises
    ------
    ValueError
        An unknown list (naming the known ones), or an owner for a list without one.
    NotAvailable
        The list's page section cannot be shown on this snapshot, with the reason.
    """
    if name not in LISTS:
        raise ValueError(
            f"unknown list {name!r}; known lists: {', '.join(LISTS)}; nothing was written"
        )
    spec = LISTS[name]
    if owner and not spec.by_owner:
        with_owner = ", ".join(k for k, v in LISTS.items() if v.by_owner)
        raise ValueError(
            f"the list {name!r} has no owner filter (lists with one: {with_owner}); "
            "nothing was written"
        )
    role = current_role(role)
    _check_available(con, f"the list {name!r}", spec.section)
    return spec.export(spec.rows(con, f, lang, role, owner), lang, owner)


def segment_export(
    con: BaseBackend,
    segment: str,
    f: Filters = Filters(),
    *,
    lang: str = "zh",
    role: str | None = None,
) -> tuple[pd.DataFrame, str]:
    """The customers of one classification segment as the classification page's list export
    hands them over (:func:`crmkit.views.classification.segment_list`, most valuable first).

    Raises
    ------
    ValueError
        An unknown segment code, naming the known ones.
    NotAvailable
        The snapshot has no classification (no orders were published), with the reason.
    """
    if segment not in SEGMENTS:
        raise ValueError(
            f"unknown segment {segment!r}; known segments: "
            f"{', '.join(SEGMENTS)}; nothing was written"
        )
    role = current_role(role)
    _check_available(
        con,
        f"the segment list {segment!r}",
        CLASSIFICATION_SECTIONS["classification"],
    )
    rows = segment_list(con, f, segment, lang=lang, role=role)
    return segment_list_export(rows, segment, lang)


def export_format(path: str) -> str:
    """The export format a file name asks for: ``csv`` or ``xlsx``.

    >>> export_format("risk.XLSX")
    'xlsx'
    """
    fmt = str(path).rpartition(".")[2].lower()
    if fmt not in ("csv", "xlsx"):
        raise ValueError(f"{str(path)!r}: expected a .csv or .xlsx file name; nothing was written")
    return fmt


__all__ = [
    "LISTS",
    "ExportList",
    "NotAvailable",
    "export_format",
    "list_export",
    "lists_help",
    "segment_export",
]
