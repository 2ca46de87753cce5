"""Loading a company's real files into the warehouse.

``ingest(path, table)`` reads a CSV, Excel (.xlsx) or Parquet file, maps its headers onto the
schema (English names, Chinese CRM-export headers such as 客户编号 / 下单时间 / 金额 and the other
aliases in ``crmkit.schema``), validates every value against the declared type, allowed values,
bounds and foreign keys, and upserts the valid rows by key.

Minimal files
-------------
A file needs only the columns of ``Table.file_columns``: orders need customer, order time and
amount (订单编号 / 产品编号 / 状态 / 数量 / 渠道 are optional); customers need only
``customer_id``. What is filled in is counted in ``IngestResult.filled`` and in the report:

- ``orders.status`` left out → ``completed``, with ``status_defaulted = true`` on those rows
  (:func:`crmkit.schema.defaulted_column`), so the return rate knows the status was never in
  the data;
- ``orders.order_id`` left out → ``"auto-"`` + 20 hex digits of the SHA-256 of the row's
  customer_id, order_ts, product_id, quantity and amount (``Table.key_from``, as parsed, so
  ``2024/3/1`` and ``2024-03-01`` agree) and its ordinal among the file's rows with that same
  content. Ingesting the file again gives the same ids, so the upsert finds the rows; two
  identical rows stay two orders. Status, channel, dates of delivery … are not part of the id,
  so a later export where an order became ``returned`` updates it instead of adding another.
- ``customers.created_at`` left out → the customer's first activity: the earliest order time in
  the warehouse (``schema.FIRST_ACTIVITY``). A customer without orders yet keeps it empty, and
  every orders load fills it in for customers still without one (and moves a derived stub's
  back when an earlier order arrives): ``IngestResult.first_activity``.

With ``add_missing=True`` (``crmkit ingest --add-missing``), a key into ``customers`` or
``products`` that the warehouse lacks is not a reject: a stub row with only the key (and, for a
customer, the first activity) is added, marked ``derived = true``, and counted in
``IngestResult.stubs``. Stubs are made only for rows that load. A later customers / products
file replaces a stub with the real row (``derived = false``). Without the flag such rows are
rejected with a reason saying how to load them.

Guarantees
----------
- **Reconciliation**: rows in = loaded + rejected, always. A rejected row is stored in the
  persistent ``ingest_rejects`` table with its file, row number, column, reason and value (PII
  masked), and every run in ``ingest_runs``.
- **One transaction per file**: a file that cannot be read at all (empty, undecodable, a header
  without a required column, a foreign key into a table that is missing) raises
  :class:`IngestError` and leaves the warehouse exactly as it was.
- **Idempotent upsert by key**: ingesting the same file twice changes nothing (computed order
  ids included); a changed row is updated in place and keeps its surrogate key.
- **Reading** (``crmkit.readers``): one encoding per file (UTF-8, UTF-8 with BOM, GB18030 /
  GBK …), checked line by line, so a file mixing encodings fails naming its first bad row
  instead of loading mojibake; a quote that runs on rejects only the row it opens in; Excel
  error cells and formulas without a value are rejected with the cell's address; unmapped
  Parquet columns of any type are ignored. DuckDB's own readers need extensions downloaded at
  run time, unavailable offline, so decoding and Excel happen in Python and reach DuckDB as
  Arrow.
- **Values**: every value is trimmed of Unicode spaces (NBSP, U+3000 …) and zero-width
  characters at both ends; an id with an invisible character inside is rejected. Numbers are
  read only when unambiguous (:func:`_number`): 1234.5, 1,234.5, 1 234.5, ¥1,234.50, 99元;
  with ``decimal_comma`` (CSV files) 1234,5, 1.234,5, 1 234,5. Ambiguous forms (12,34;
  1.234,5 without ``decimal_comma``; 12.345 in a CSV file), inf / NaN, scientific notation,
  values beyond the column's range and amounts with more than 2 decimals are rejected per row
  with the reason, never rounded or guessed.

Row numbers are physical: in a CSV file the line a row starts on (header = row 1; blank lines,
which are skipped, and the lines of a quoted value with line breaks count: the number a text
editor shows), in Excel the sheet's row, in Parquet the row counted from 1.

Examples
--------
>>> from crmkit import db, ingest
>>> con = db.connect("data/warehouse.duckdb", read_only=False)  # doctest: +SKIP
>>> res = ingest.ingest("客户.csv", "customers", con=con)       # doctest: +SKIP
>>> print(res.report())                                         # doctest: +SKIP
"""

from __future__ import annotations

import hashlib
import os
import re
import sys
import unicodedata
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import ibis
import ibis.expr.datatypes as dt
import ibis.expr.types as ir
import pandas as pd
import pyarrow as pa
from ibis.backends.duckdb import Backend
from tqdm import tqdm

from crmkit import db as _db
from crmkit import schema as _schema
from crmkit.privacy import mask, mask_expr
from crmkit.readers import IngestError, Source, Unreadable, detect_encoding, open_source

__all__ = [
    "IngestError",
    "IngestResult",
    "detect_encoding",
    "header_map",
    "ingest",
    "normalise_header",
]

MAX_REJECTS_IN_RESULT = 10_000

#: Date-time layouts accepted (DuckDB strptime); Excel serial dates are handled separately.
DATETIME_FORMATS = [
    "%Y-%m-%d %H:%M:%S",
    "%Y-%m-%d %H:%M:%S.%f",
    "%Y-%m-%dT%H:%M:%S",
    "%Y-%m-%dT%H:%M:%S.%f",
    "%Y-%m-%d %H:%M",
    "%Y-%m-%d",
    "%Y/%m/%d %H:%M:%S",
    "%Y/%m/%d %H:%M",
    "%Y/%m/%d",
    "%Y.%m.%d",
    "%Y%m%d",
    "%Y年%m月%d日 %H:%M:%S",
    "%Y年%m月%d日 %H:%M",
    "%Y年%m月%d日",
]
#: Excel counts days from 1899-12-30; 5-digit serials cover 1927-05-18 … 2173-10-14.
EXCEL_EPOCH = datetime(1899, 12, 30)
EXCEL_SERIAL = r"^\d{5}(\.\d+)?$"
BOOL_SPELLINGS = {
    **dict.fromkeys(["true", "t", "yes", "y", "1", "是", "对", "已", "√"], True),
    **dict.fromkeys(["false", "f", "no", "n", "0", "否", "不", "未", "×"], False),
}


@dataclass
class IngestResult:
    """What one ingest did. ``rows_in == loaded + rejected`` always holds."""

    run_id: int
    file: str
    table: str
    file_format: str
    encoding: str | None
    rows_in: int
    inserted: int
    updated: int
    unchanged: int
    rejected: int
    rejects: pd.DataFrame
    ignored_columns: list[str] = field(default_factory=list)
    blank_rows: int = 0
    seconds: float = 0.0
    #: loaded rows whose value of a column was filled in, by column ({"status": 6, …})
    filled: dict[str, int] = field(default_factory=dict)
    #: loaded customers still without created_at: no order yet to take it from
    no_first_activity: int = 0
    #: derived stub rows added for keys the file references (``add_missing``), by table
    stubs: dict[str, int] = field(default_factory=dict)
    #: customers (beyond this file's rows) whose created_at was set from their first order
    first_activity: int = 0
    #: the most frequent reject reasons over all rejected rows ("column: reason" → rows)
    top_reasons: dict[str, int] = field(default_factory=dict)
    #: rows (CSV) with a quoted value holding line breaks, and the lines the first one spans
    multiline_rows: int = 0
    first_multiline: tuple[int, int] | None = None

    @property
    def loaded(self) -> int:
        return self.inserted + self.updated + self.unchanged

    @property
    def ok(self) -> bool:
        return self.rejected == 0

    def report(self) -> str:
        """The reconciliation as text: rows in = loaded + rejected, and the top reject reasons."""
        enc = f", {self.encoding}" if self.encoding else ""
        lines = [
            f"{self.file} → {self.table} ({self.file_format}{enc}), run {self.run_id}",
            f"  rows in   {self.rows_in:>10,}",
            f"  loaded    {self.loaded:>10,}  (inserted {self.inserted:,}, updated "
            f"{self.updated:,}, unchanged {self.unchanged:,})",
            f"  rejected  {self.rejected:>10,}",
        ]
        if self.blank_rows:
            lines.append(f"  blank lines skipped: {self.blank_rows:,}")
        if self.multiline_rows:
            first, last = self.first_multiline
            lines.append(
                f"  rows with line breaks in a quoted value: {self.multiline_rows:,} (the first "
                f"is row {first:,}, lines {first:,}-{last:,})"
            )
        if self.ignored_columns:
            lines.append(f"  ignored columns: {', '.join(self.ignored_columns)}")
        spec = _schema.TABLES.get(self.table)
        filled = [
            f"{col} {n:,} ({spec.if_missing(spec[col]) if spec else 'filled in'})"
            for col, n in self.filled.items()
            if n
        ]
        if filled:
            lines.append(f"  filled in: {', '.join(filled)}")
        stubs = [f"{t} {n:,}" for t, n in self.stubs.items() if n]
        if stubs:
            lines.append(
                f"  added as derived stubs (--add-missing): {', '.join(stubs)} "
                "(keys the file references that the warehouse lacked)"
            )
        if self.no_first_activity:
            lines.append(
                f"  created_at left empty (no orders yet; set when they load): "
                f"{self.no_first_activity:,}"
            )
        if self.first_activity:
            lines.append(
                f"  customers' created_at set from their first order: {self.first_activity:,}"
            )
        if self.rejected:
            lines.append("  top reasons:")
            lines += [f"    {n:>8,}  {what}" for what, n in self.top_reasons.items()]
            first = self.rejects.iloc[0]
            col = first.column_name if isinstance(first.column_name, str) else "(whole row)"
            lines.append(f"  first: row {first.row_number}, column {col}: {first.reason}")
            lines.append("  all rejects: table ingest_rejects, run_id = " + str(self.run_id))
        return "\n".join(lines)


def _top_reasons(rj: ir.Table, n: int = 5) -> dict[str, int]:
    """The ``n`` most frequent reasons over every reject (not only the first rows kept in the
    result), as ``"column: reason"``; the quoted value in a reason ("customer_id 'C9' is not
    in …") varies by row and is replaced by ``'…'``."""
    where = rj.column_name.fill_null("(whole row)")
    reason = rj.reason.split(";")[0].re_replace(r"'[^']*'", "'…'")
    what = (where + ": " + reason).name("what")
    top = (
        rj.select(what)
        .group_by("what")
        .aggregate(rows=ibis._.count())
        .order_by([ibis.desc("rows"), "what"])
        .limit(n)
        .to_pandas()
    )
    return {r.what: int(r.rows) for r in top.itertuples()}


# ---------------------------------------------------------------------------------------------
# Header mapping
# ---------------------------------------------------------------------------------------------


def normalise_header(h: str) -> str:
    """Fold a header for matching: NFKC (full-width → ASCII), lower case, no unit in
    parentheses, no spaces / underscores / hyphens. ``'金额（元）'`` → ``'金额'``."""
    h = unicodedata.normalize("NFKC", h or "").strip().lower().lstrip("\ufeff")
    h = re.sub(r"\(.*?\)$", "", h).strip()
    return re.sub(r"[\s_\-]+", "", h)


def header_map(table: _schema.Table) -> dict[str, str]:
    """Every accepted (normalised) header of ``table`` → its column name."""
    out: dict[str, str] = {}
    for c in table.columns:
        for h in (c.name, c.zh, c.en, *c.aliases):
            out.setdefault(normalise_header(h), c.name)
    return out


def _map_header(
    path: Path, header: list[str], table: _schema.Table
) -> tuple[dict[int, str], list[str]]:
    known = header_map(table)
    mapping: dict[int, str] = {}
    ignored: list[str] = []
    seen: dict[str, str] = {}
    for i, h in enumerate(header):
        col = known.get(normalise_header(h))
        if col is None:
            if h.strip():
                ignored.append(h.strip())
            continue
        if col in seen:
            raise IngestError(
                path,
                f"headers {seen[col]!r} and {h!r} both mean column {col!r}; keep one",
                row=1,
                column=h,
            )
        seen[col] = h
        mapping[i] = col
    missing = [c for c in table.file_columns if c.name not in seen]
    if missing:
        need = "; ".join(f"{c.name} (e.g. {c.zh!r} or {c.en!r})" for c in missing)
        # a headerless file's first row is data: headers not recognised show their first
        # character only
        found = [h if normalise_header(h) in known else mask(h, "name") for h in header]
        raise IngestError(
            path,
            f"the header has no column for required {need}. Found headers (unrecognised ones "
            f"masked): {', '.join(repr(h) for h in found)}. Is this a file for table "
            f"{table.name!r}, and does its first row hold the headers?",
            row=1,
        )
    return mapping, ignored


# ---------------------------------------------------------------------------------------------
# Parsing and validation, as Ibis expressions over the staged raw text
# ---------------------------------------------------------------------------------------------


@ibis.udf.scalar.builtin
def try_strptime(s: str, fmt: dt.Array(dt.string)) -> dt.timestamp:  # type: ignore[valid-type]
    """DuckDB's TRY_STRPTIME with a list of layouts: the first that parses wins."""


@ibis.udf.scalar.builtin(name="trim")
def _trim(s: str, characters: str) -> str:  # type: ignore[empty-body]
    """DuckDB's trim(s, characters): strip any of ``characters`` from both ends."""


#: Stripped from both ends of every value: every Unicode space (NBSP, U+3000 …) and the
#: zero-width characters and BOM that exports and copy-paste leave around ids.
TRIMMED = (
    " \t\n\r\v\f\x1c\x1d\x1e\x1f\x85\xa0\u1680\u180e\u2000\u2001\u2002\u2003\u2004\u2005\u2006"
    "\u2007\u2008\u2009\u200a\u200b\u200c\u200d\u2028\u2029\u202f\u205f\u2060\u3000\ufeff"
)
#: A value that starts or ends with one of TRIMMED (RE2); only those take DuckDB's trim with a
#: character list, 10 times slower than this test.
_TRIMMED_EDGE = "[" + "".join(f"\\x{{{ord(ch):X}}}" for ch in TRIMMED) + "]"
_TRIMMED_ENDS = f"^{_TRIMMED_EDGE}|{_TRIMMED_EDGE}$"


def _trimmed(v: ir.StringValue) -> ir.StringValue:
    """``v`` without any of TRIMMED at either end."""
    return ibis.ifelse(v.re_search(_TRIMMED_ENDS), _trim(v, TRIMMED), v)


#: Spaces that group digits (1 234,5), besides the plain space.
_GROUP_SPACES = "[\u00a0\u2007\u2009\u202f]"
#: Numbers as a file may write them: with a decimal point (1234.5, 1,234.5, 1 234.5) or, with
#: ``decimal_comma``, a decimal comma (1234,5, 1.234,5, 1 234,5); groups of 3 digits.
_POINT_NUMBER = r"^[+-]?(?:(?:\d{1,3}(?:,\d{3})+|\d{1,3}(?: \d{3})+|\d+)(?:\.\d+)?|\.\d+)$"
_COMMA_NUMBER = r"^[+-]?(?:(?:\d{1,3}(?:\.\d{3})+|\d{1,3}(?: \d{3})+|\d+)(?:,\d+)?|,\d+)$"
_EXPONENT_NUMBER = r"^[+-]?(?:\d+(?:\.\d*)?|\.\d+)[eE][+-]?\d+$"
#: 1.234 or 12.000 in a CSV file: a decimal point, or a thousands point? Neither is assumed.
_AMBIGUOUS_POINT = r"^[+-]?[1-9]\d{0,2}\.\d{3}$"
_DECIMAL_COMMA_STYLE = r"^[+-]?(?:\d{1,3}(?:\.\d{3})+|\d+),\d+$|^[+-]?\d{1,3}(?:\.\d{3}){2,}$"
_DECIMAL_POINT_STYLE = r"\.(?:\d{0,2}|\d{4,})(?:\D|$)|,.*\."
_BAD_GROUPS = r"^[+-]?\d+(?:[,. ]\d+)+$"
_NOT_FINITE = r"^[+-]?(?:inf|infinity|nan)$"
_SCIENTIFIC = r"^[+-]?[\d.,]*\d[eE][+-]?\d+$"
_NOUNS = {
    "int": "not a whole number",
    "float": "not a number",
    "money": "not a number",
    "bool": "not yes/no",
    "date": "not a date",
    "timestamp": "not a date-time",
}


@dataclass(frozen=True)
class _Reading:
    """How numbers in this file are written: ``text`` = a CSV file, whose numbers are text
    (Excel and Parquet numbers are typed); ``decimal_comma`` = 1.234,5 (CSV files only)."""

    text: bool = True
    decimal_comma: bool = False


def _number(
    col: _schema.Column, v: ir.StringValue, reading: _Reading
) -> tuple[ir.Value, ir.StringValue]:
    """The value of the number text ``v`` (NULL when it is not accepted) and the reason it is
    not accepted (meaningful only then).

    Accepted: an optional sign, digits in groups of 3 separated by ``,`` or a space (``.`` or a
    space with ``decimal_comma``), a decimal point (comma), and for money a leading ¥ / ￥ / $
    and a trailing 元. Whole numbers may end in ``.0``; amounts may have at most 2 decimals
    that are not 0 (1234.500 = 1234.50). Rejected with a reason: anything ambiguous (12,34;
    1.234,5 without ``decimal_comma``; 12.345 in a CSV file), inf / NaN, scientific notation
    (except for floats), values too large for the column's type, more decimals than it keeps.
    """
    t = v
    if col.dtype == "money":
        t = t.re_replace(r"^([+-]?)[¥￥$]\s*", r"\1").re_replace(r"\s*元$", "")
    t = t.re_replace(_GROUP_SPACES, " ")
    if reading.decimal_comma:
        well_formed = t.re_search(_COMMA_NUMBER)
        plain = t.re_replace(r"[. ]", "").replace(",", ".")
    else:
        well_formed = t.re_search(_POINT_NUMBER)
        plain = t.re_replace(r"[, ]", "")
        if reading.text:
            well_formed = well_formed & ~t.re_search(_AMBIGUOUS_POINT)
    reasons = [(t.lower().re_search(_NOT_FINITE), "not a finite number")]
    if col.dtype != "float":
        reasons.append(
            (t.re_search(_SCIENTIFIC), "written in scientific notation; write the number in full")
        )
    if reading.decimal_comma:
        reasons.append(
            (
                t.re_search(_DECIMAL_POINT_STYLE),
                "has a decimal point, but the file is read with --decimal-comma (1.234,5 or "
                "1 234,5)",
            )
        )
    else:
        if reading.text:
            reasons.append(
                (
                    t.re_search(_AMBIGUOUS_POINT),
                    "ambiguous: a point before exactly 3 digits may be a decimal point or a "
                    "thousands separator (1.234 = 1.234 or 1234?); write the number without "
                    "thousands separators",
                )
            )
        fix = (
            "pass --decimal-comma if the file writes decimals with a comma"
            if reading.text
            else "write it with a decimal point (1234.5)"
        )
        reasons.append(
            (t.re_search(_DECIMAL_COMMA_STYLE), f"written with a decimal comma (1.234,5); {fix}")
        )
    match col.dtype:
        case "int":
            whole = plain.re_search(r"^[+-]?\d+(?:\.0+)?$")
            digits = plain.re_replace(r"\.0+$", "")
            value = ibis.ifelse(well_formed & whole, digits.try_cast("int64"), None)
            reasons += [
                (well_formed & ~whole, "not a whole number"),
                (well_formed, f"too large for a whole number (at most {2**63 - 1:,})"),
            ]
        case "money":
            cents = plain.re_search(r"^[+-]?\d*(?:\.\d{0,2}0*)?$")
            value = ibis.ifelse(well_formed & cents, plain.try_cast(dt.Decimal(18, 2)), None)
            reasons += [
                (well_formed & ~cents, "more than 2 decimal places; amounts are kept to the cent"),
                (well_formed, "too large for an amount (at most 16 digits before the point)"),
            ]
        case "float":
            if not reading.decimal_comma:
                well_formed = well_formed | t.re_search(_EXPONENT_NUMBER)
            num = plain.try_cast("float64")
            value = ibis.ifelse(well_formed & ~num.isinf() & ~num.isnan(), num, None)
            reasons.append((well_formed, "too large for a number"))
        case _:
            raise AssertionError(col.dtype)
    # after the reasons for well-formed numbers: 0.125 is not a bad grouping
    reasons.append(
        (
            t.re_search(_BAD_GROUPS),
            "thousands separators must split the digits in groups of 3 (1,234,567)",
        )
    )
    otherwise = f"{_NOUNS[col.dtype]}; expected {_schema.EXPECTED[col.dtype]}"
    return value, ibis.cases(*reasons, else_=otherwise)


def _parse(
    col: _schema.Column, v: ir.StringValue, reading: _Reading
) -> tuple[ir.Value, ir.StringValue | None]:
    """Typed value of the trimmed text ``v`` (NULL where it is not accepted) and why a value
    that is there is not accepted."""
    if col.allowed is not None:
        pairs = list(col.spellings().items())
        codes = ", ".join(col.allowed)
        return v.lower().cases(*pairs, else_=None), f"unknown value; expected one of {codes}"
    if col.dtype in ("int", "float", "money"):
        return _number(col, v, reading)
    why = f"{_NOUNS.get(col.dtype)}; expected {_schema.EXPECTED[col.dtype]}"
    match col.dtype:
        case "text":
            return v, None
        case "bool":
            return v.lower().cases(*BOOL_SPELLINGS.items(), else_=None), why
        case "date" | "timestamp":
            serial = v.try_cast("float64")
            from_serial = ibis.timestamp(EXCEL_EPOCH) + (serial * 86400).round().cast(
                "int64"
            ).as_interval("s")
            ts = ibis.ifelse(
                v.re_search(EXCEL_SERIAL),
                from_serial,
                try_strptime(v, ibis.literal(DATETIME_FORMATS)),
            )
            return (ts.date() if col.dtype == "date" else ts), why
    raise AssertionError(col.dtype)


def _problem(
    col: _schema.Column,
    v: ir.StringValue,
    parsed: ir.Value,
    why: ir.StringValue | str | None,
    now: datetime,
    *,
    needed: bool,
    is_id: bool,
) -> ir.StringValue:
    """Why the value is rejected, or NULL when it is fine. ``why``: the reason a value that is
    there does not parse; ``needed``: a blank is rejected (a required column that ingest does
    not fill in); ``is_id``: a key, in which an invisible character would make a second one."""
    branches = []
    if needed:
        branches.append((v.isnull(), "missing required value"))
    if is_id:
        branches.append(
            (
                v.re_search(r"[\p{Cc}\p{Cf}]"),
                "has an invisible character inside (a zero-width space, a line break …); remove it",
            )
        )
    if why is not None:
        branches.append((v.notnull() & parsed.isnull(), why))
    if col.min is not None:
        word = "negative" if col.min == 0 else "below the minimum"
        branches.append((parsed < col.min, f"{word}: below the minimum {col.min:g}"))
    if col.max is not None:
        branches.append((parsed > col.max, f"above the maximum {col.max:g}"))
    if col.not_future:
        limit = ibis.timestamp(now) if col.dtype == "timestamp" else ibis.date(now.date())
        branches.append((parsed > limit, f"in the future (after {now:%Y-%m-%d %H:%M})"))
    if not branches:
        return ibis.null(dt.string)
    return ibis.cases(*branches, else_=ibis.null(dt.string))


def _raw(name: str) -> str:
    return f"{name}__raw"


def _err(name: str) -> str:
    return f"{name}__err"


def _filled(name: str) -> str:
    return f"{name}__filled"


#: Computed keys: this prefix + 20 hex digits (80 bits: at 10 M orders a collision, which would
#: be rejected as a duplicate key inside a file, has a chance of about 1 in 10^10).
AUTO_KEY_PREFIX = "auto-"
AUTO_KEY_HEX = 20


# ---------------------------------------------------------------------------------------------
# The ingest itself
# ---------------------------------------------------------------------------------------------


def ingest(
    path: str | os.PathLike,
    table: str,
    *,
    con: Backend | None = None,
    db: str | os.PathLike | None = None,
    progress: bool = False,
    now: datetime | None = None,
    add_missing: bool = False,
    decimal_comma: bool = False,
) -> IngestResult:
    """Load one file into warehouse table ``table``.

    Parameters
    ----------
    path : path-like
        A .csv / .tsv / .txt (encoding and delimiter detected), .xlsx (first sheet) or .parquet
        file with a header row.
    table : str
        Target table, one of ``crmkit.schema.TABLES``.
    con : Ibis DuckDB backend, optional
        An open read-write warehouse connection. Default: open ``db``.
    db : path-like, optional
        Warehouse file when ``con`` is not given (default ``$CRMKIT_DB`` or
        ``data/warehouse.duckdb``).
    progress : bool
        Show a progress bar on stderr.
    now : datetime, optional
        The moment against which "in the future" is judged; default: now.
    add_missing : bool, default False
        Keys into ``customers`` / ``products`` that the warehouse lacks get a stub row there,
        marked ``derived``, instead of rejecting the rows that reference them.
    decimal_comma : bool, default False
        Numbers in a CSV file are written with a decimal comma and ``.`` or a space between
        groups of 3 digits (1.234,5 or 1 234,5 = 1234.5). Numbers in Excel and Parquet files are
        typed and read as they are.

    Returns
    -------
    IngestResult
        Counts (rows_in = loaded + rejected), the rejects (first 10,000), what was filled in
        (``filled``, ``stubs``, ``first_activity``) and ``report()``.

    Raises
    ------
    IngestError
        The file cannot be ingested at all; the message names the file (and row / column).
        Nothing was written.
    """
    t0 = datetime.now()
    now = now or t0
    path = Path(path)
    spec = _schema.table(table)
    source = open_source(path)
    mapping, ignored = _map_header(path, source.header, spec)
    text = source.file_format == "csv"
    reading = _Reading(text=text, decimal_comma=decimal_comma and text)
    own = con is None
    if own:
        con = _db.connect(_db.warehouse_path(db), read_only=False)
    try:
        with _db.transaction(con):
            _db.create_schema(con)
            staged = _stage(con, source, mapping, progress)
            try:
                result = _validate_and_upsert(
                    con, spec, path, source, staged, reading, now, t0, add_missing
                )
            finally:
                con.drop_table(staged.name, force=True)
            result.ignored_columns, result.blank_rows = ignored, staged.blank
            result.multiline_rows, result.first_multiline = staged.multiline, staged.first_multiline
    finally:
        if own:
            con.disconnect()
    result.seconds = (datetime.now() - t0).total_seconds()
    return result


@dataclass
class _Staged:
    """The temporary table ``name`` of a file's raw text (``_row`` + one text column per mapped
    column), and what was read besides."""

    name: str
    unreadable: list[Unreadable] = field(default_factory=list)
    blank: int = 0
    multiline: int = 0
    first_multiline: tuple[int, int] | None = None


def _stage(con: Backend, source: Source, mapping: dict[int, str], progress: bool) -> _Staged:
    """Copy the file's raw text into a temporary table."""
    name = f"_stage_{uuid.uuid4().hex[:12]}"
    cols = ["_row", *mapping.values()]
    arrow_schema = pa.schema([("_row", pa.int64()), *[(c, pa.string()) for c in mapping.values()]])
    con.create_table(
        name, schema=ibis.schema({"_row": "int64", **dict.fromkeys(cols[1:], "string")}), temp=True
    )
    staged = _Staged(name)
    bar = tqdm(
        total=source.size,
        unit=source.progress_unit.strip() or "B",
        unit_scale=True,
        desc=f"reading {source.path.name}",
        disable=not progress,
        file=sys.stderr,
    )
    last = 0
    for ch in source.read(mapping):
        staged.unreadable += ch.rejects
        staged.blank += ch.blank
        if ch.multiline:
            staged.multiline += len(ch.multiline)
            staged.first_multiline = staged.first_multiline or ch.multiline[0]
        if ch.rows:
            arrays = [pa.array(ch.rows, pa.int64())]
            arrays += [
                col if isinstance(col, pa.Array) else pa.array(col, pa.string())
                for col in ch.columns
            ]
            con.insert(name, ibis.memtable(pa.Table.from_arrays(arrays, schema=arrow_schema)))
        pos = source.position()
        bar.update(pos - last)
        last = pos
    bar.close()
    return staged


def _validate_and_upsert(
    con: Backend,
    spec: _schema.Table,
    path: Path,
    source: Source,
    staged: _Staged,
    reading: _Reading,
    now: datetime,
    t0: datetime,
    add_missing: bool,
) -> IngestResult:
    raw = con.table(staged.name)
    present = [c for c in spec.columns if c.name in raw.columns]
    needed = {c.name for c in spec.file_columns}
    ids = {spec.key, *(c.name for c in spec.foreign_keys)}
    # 1. parse every present column; absent optional columns are NULL, absent columns with a
    #    default take it
    exprs: dict[str, ir.Value] = {"_row": raw._row}
    for c in present:
        v = _trimmed(raw[c.name]).nullif("")
        parsed, why = _parse(c, v, reading)
        exprs[c.name] = parsed.cast(c.ibis_type)
        exprs[_err(c.name)] = _problem(
            c, v, parsed, why, now, needed=c.name in needed, is_id=c.name in ids
        )
        exprs[_raw(c.name)] = mask_expr(raw[c.name], c.pii) if c.pii else raw[c.name]
        if c.default is not None:
            exprs[c.name] = exprs[c.name].fill_null(ibis.literal(c.default, c.ibis_type))
            exprs[_filled(c.name)] = v.isnull()
    for c in spec.columns:
        if c.default is not None and c.name not in raw.columns:
            exprs[c.name] = ibis.literal(c.default, c.ibis_type)
            exprs[_filled(c.name)] = ibis.literal(True)
    parsed = raw.select(**exprs)
    if spec.key_from:
        parsed = _with_computed_key(spec, parsed)
        present = [*present, spec[spec.key]] if spec[spec.key] not in present else present
    parsed_name = f"{staged.name}_parsed"
    con.create_table(parsed_name, parsed, temp=True)
    try:
        return _check_and_write(
            con, spec, path, source, parsed_name, present, staged.unreadable, now, t0, add_missing
        )
    finally:
        con.drop_table(parsed_name, force=True)


def _with_computed_key(spec: _schema.Table, parsed: ir.Table) -> ir.Table:
    """Fill a missing key with one computed from the row (see the module docstring).

    The content is the parsed ``key_from`` values (blank for a column the file lacks), joined
    by a unit separator; the ordinal numbers the rows with the same content from 1 in file
    order. Rows whose content cannot be computed (a required part is blank or does not parse)
    keep a NULL key; they are rejected for that part.
    """
    key = spec.key
    if key not in parsed.columns:
        parsed = parsed.mutate(
            **{key: ibis.null(dt.string), _err(key): ibis.null(dt.string)},
            **{_raw(key): ibis.null(dt.string)},
        )
    parts, complete = [], [parsed[key].isnull()]
    for name in spec.key_from:
        col = spec[name]
        if name not in parsed.columns:
            parts.append(ibis.literal(""))
            continue
        v = parsed[name]
        text = v.strftime("%Y-%m-%d %H:%M:%S.%f") if col.dtype == "timestamp" else v.cast("string")
        parts.append(text.fill_null(""))
        if col.required:
            complete.append(v.notnull())
    content = ibis.literal("\x1f").join(parts)
    t = parsed.mutate(_content=ibis.ifelse(ibis.and_(*complete), content, None))
    ordinal = ibis.row_number().over(group_by=t._content, order_by=t._row) + 1
    digest = (t._content + "\x1f" + ordinal.cast("string")).hexdigest("sha256")
    computed = ibis.literal(AUTO_KEY_PREFIX) + digest.left(AUTO_KEY_HEX)
    return t.mutate(
        **{
            key: t[key].fill_null(computed),
            _raw(key): ibis.ifelse(t[key].isnull(), computed, t[_raw(key)]),
            _filled(key): t._content.notnull(),
        }
    ).drop("_content")


def _check_and_write(
    con: Backend,
    spec: _schema.Table,
    path: Path,
    source: Source,
    parsed_name: str,
    present: list[_schema.Column],
    unreadable: list[Unreadable],
    now: datetime,
    t0: datetime,
    add_missing: bool,
) -> IngestResult:
    p = con.table(parsed_name)
    problems: list[ir.Table] = []

    def add(rows: ir.Table, column: str, reason: ir.StringValue, value: ir.Value) -> None:
        problems.append(
            rows.select(
                row_number=rows._row,
                column_name=ibis.literal(column),
                reason=reason.cast("string"),
                value=value.cast("string"),
            )
        )

    for c in present:
        bad = p.filter(p[_err(c.name)].notnull())
        add(bad, c.name, bad[_err(c.name)], bad[_raw(c.name)])
    # duplicate keys inside the file: the first occurrence wins
    key = spec.key
    ranked = p.filter(p[key].notnull()).mutate(
        _first=p._row.min().over(group_by=p[key]),
    )
    dups = ranked.filter(ranked._row > ranked._first)
    add(
        dups,
        key,
        ibis.literal("duplicate key; first at row ") + dups._first.cast("string"),
        dups[_raw(key)],
    )
    # time order inside a row
    for earlier, later in spec.ordered:
        if earlier in p.columns and later in p.columns:
            bad = p.filter(p[later] < p[earlier])
            add(
                bad,
                later,
                ibis.literal(f"before {earlier} (") + bad[earlier].cast("string") + ")",
                bad[_raw(later)],
            )
    # foreign keys into the warehouse
    for c in spec.foreign_keys:
        ref = _schema.TABLES[c.fk]
        if c.name not in p.columns or (add_missing and ref.stubs):
            continue  # with add_missing, a stub is added below once the row is known to load
        target = con.table(c.fk)
        cand = p.filter(p[c.name].notnull() & p[_err(c.name)].isnull())
        bad = cand.anti_join(target, cand[c.name] == target[ref.key])
        hint = f"load {c.fk} first" + (" or pass --add-missing" if ref.stubs else "")
        reason = ibis.literal(f"{c.name} '") + bad[c.name] + f"' is not in {c.fk}; {hint}"
        add(bad, c.name, reason, bad[_raw(c.name)])

    run_id = _next_run_id(con)
    problem_rows = ibis.union(*problems) if problems else None
    if unreadable:
        # rows the reader could not read (wrong number of fields, a runaway quote, an Excel
        # error cell …): never staged, rejected as they are
        unread = ibis.memtable(
            pa.table(
                list(zip(*unreadable, strict=True)),
                schema=pa.schema(
                    [
                        ("row_number", pa.int64()),
                        ("column_name", pa.string()),
                        ("reason", pa.string()),
                        ("value", pa.string()),
                    ]
                ),
            )
        )
        problem_rows = unread if problem_rows is None else problem_rows.union(unread)

    rejects_name = f"{parsed_name}_rejects"
    if problem_rows is None:
        problem_rows = ibis.memtable(
            {"row_number": [], "column_name": [], "reason": [], "value": []},
            schema={
                "row_number": "int64",
                "column_name": "string",
                "reason": "string",
                "value": "string",
            },
        )
    con.create_table(rejects_name, problem_rows, temp=True)
    try:
        rj = con.table(rejects_name)
        bad_rows = rj.select(_row=rj.row_number).distinct()
        clean = p.anti_join(bad_rows, "_row")
        stubs = _add_stubs(con, spec, clean) if add_missing else {}
        filled = _filled_counts(clean)
        final = _with_surrogates(con, spec, clean)
        final, filled_first, no_first_activity = _with_first_activity(con, spec, final)
        filled.update(filled_first)
        counts = _upsert(con, spec, final)
        first_activity = (
            _update_first_activity(con) if spec.name == _schema.FIRST_ACTIVITY[0] else 0
        )
        rejected = int(bad_rows.count().execute())
        rows_in = int(p.count().execute()) + len(unreadable)
        con.insert(
            "ingest_rejects",
            rj.select(
                run_id=ibis.literal(run_id, "int64"),
                file=ibis.literal(str(path)),
                table_name=ibis.literal(spec.name),
                row_number=rj.row_number,
                column_name=rj.column_name,
                reason=rj.reason,
                value=rj.value,
            ).order_by(["row_number", "column_name"]),
        )
        rejects_df = (
            rj.order_by(["row_number", "column_name"]).limit(MAX_REJECTS_IN_RESULT).to_pandas()
        )
        top_reasons = _top_reasons(rj)
    finally:
        con.drop_table(rejects_name, force=True)
    result = IngestResult(
        run_id=run_id,
        file=str(path),
        table=spec.name,
        file_format=source.file_format,
        encoding=source.encoding,
        rows_in=rows_in,
        rejected=rejected,
        rejects=rejects_df,
        filled=filled,
        no_first_activity=no_first_activity,
        stubs=stubs,
        first_activity=first_activity,
        top_reasons=top_reasons,
        **counts,
    )
    assert result.rows_in == result.loaded + result.rejected, "reconciliation broken"
    con.insert(
        "ingest_runs",
        ibis.memtable(
            pd.DataFrame(
                {
                    "run_id": [run_id],
                    "file": [str(path)],
                    "table_name": [spec.name],
                    "file_format": [source.file_format],
                    "encoding": [source.encoding],
                    "sha256": [_sha256(path)],
                    "started_at": [t0],
                    "finished_at": [datetime.now()],
                    "rows_in": [result.rows_in],
                    "loaded": [result.loaded],
                    "inserted": [result.inserted],
                    "updated": [result.updated],
                    "unchanged": [result.unchanged],
                    "rejected": [result.rejected],
                }
            )
        ).cast(_schema.SYSTEM_SCHEMAS["ingest_runs"]),
    )
    return result


def _next_run_id(con: Backend) -> int:
    last = con.table("ingest_runs").run_id.max().execute()
    return 1 if last is None or pd.isna(last) else int(last) + 1


def _filled_counts(clean: ir.Table) -> dict[str, int]:
    """Loaded rows per column whose value was filled in (a default, a computed key)."""
    flags = [c for c in clean.columns if c.endswith("__filled")]
    if not flags:
        return {}
    sums = clean.aggregate(**{f: clean[f].cast("int64").sum() for f in flags}).to_pandas()
    return {f.removesuffix("__filled"): int(sums[f].fillna(0).iloc[0]) for f in flags}


def _add_stubs(con: Backend, spec: _schema.Table, clean: ir.Table) -> dict[str, int]:
    """Add a derived stub row to every table with ``stubs`` for each key the loading rows
    reference that it lacks; return how many were added per table.

    A stub has the key, a new surrogate key (numbered on in key order), ``derived = true`` and,
    in a ``first_activity`` column, the earliest time of the rows that reference it.
    """
    refs: dict[str, list[ir.Table]] = {}
    for c in spec.foreign_keys:
        if c.name not in clean.columns or not _schema.TABLES[c.fk].stubs:
            continue
        rows = clean.filter(clean[c.name].notnull())
        when = (
            rows[spec.time_column].cast(_schema.IBIS_TYPES["timestamp"])
            if spec.time_column in rows.columns
            else ibis.null(_schema.IBIS_TYPES["timestamp"])
        )
        refs.setdefault(c.fk, []).append(rows.select(_k=rows[c.name], _t=when))
    added: dict[str, int] = {}
    for name, parts in refs.items():
        ref = _schema.TABLES[name]
        union = ibis.union(*parts)
        keys = union.group_by("_k").aggregate(_t=union._t.min())
        existing = con.table(name)
        missing = keys.anti_join(existing, keys._k == existing[ref.key])
        start = existing[ref.surrogate].max().execute()
        start = 0 if start is None or pd.isna(start) else int(start)
        row: dict[str, ir.Value] = {
            ref.key: missing._k,
            ref.surrogate: ibis.row_number().over(order_by=missing._k) + (start + 1),
            _schema.DERIVED: ibis.literal(True),
        }
        for col in ref.columns:
            if col.fill == "first_activity":
                row[col.name] = missing._t.cast(col.ibis_type)
        stub_name = f"_stubs_{uuid.uuid4().hex[:12]}"
        con.create_table(stub_name, missing.select(**row), temp=True)
        try:
            added[name] = int(con.table(stub_name).count().execute())
            if added[name]:
                con.insert(name, con.table(stub_name))
        finally:
            con.drop_table(stub_name, force=True)
    return added


def _first_orders(con: Backend, customers: ir.Table) -> ir.Table:
    """The earliest order time (``_first``) of each of ``customers`` that has orders, by
    customer_id (``_k``)."""
    source, when = _schema.FIRST_ACTIVITY
    orders = con.table(source)
    ref = next(c for c in _schema.TABLES[source].foreign_keys if c.fk == "customers")
    mine = orders.semi_join(customers, orders[ref.name] == customers.customer_id)
    return mine.group_by(_k=mine[ref.name]).aggregate(_first=mine[when].min())


def _with_first_activity(
    con: Backend, spec: _schema.Table, final: ir.Table
) -> tuple[ir.Table, dict[str, int], int]:
    """Fill the loading rows' blank ``first_activity`` column (customers.created_at).

    A blank takes the customer's first order time in the warehouse; a customer without orders
    keeps the value already stored (a stub's first activity in another file), else stays empty.
    Returns the rows, {column: rows filled} and the number of rows left empty.
    """
    col = next((c for c in spec.columns if c.fill == "first_activity"), None)
    if col is None:
        return final, {}, 0
    c = col.name
    blank = final.filter(final[c].isnull())
    if not int(blank.count().execute()):
        return final, {c: 0}, 0
    first = _first_orders(con, blank)
    stored = con.table(spec.name).select(_sk=ibis._[spec.key], _stored=ibis._[c])
    j = final.left_join(first, final[spec.key] == first._k).drop("_k")
    j = j.left_join(stored, j[spec.key] == stored._sk).drop("_sk")
    value = ibis.coalesce(j[c], j._first.cast(col.ibis_type), j._stored)
    j = j.mutate(_was_blank=j[c].isnull(), **{c: value})
    tally = j.aggregate(
        filled=(j._was_blank & j[c].notnull()).cast("int64").sum(),
        empty=j[c].isnull().cast("int64").sum(),
    ).to_pandas()
    filled, empty = (int(tally[n].fillna(0).iloc[0]) for n in ("filled", "empty"))
    return j.select(*final.columns), {c: filled}, empty


def _update_first_activity(con: Backend) -> int:
    """After an orders load: set ``created_at`` to the first order time for customers without
    one, and for derived stubs whose first order is earlier than theirs; return how many."""
    c = con.table("customers")
    cand = c.filter(c.created_at.isnull() | c[_schema.DERIVED].fill_null(False))
    first = _first_orders(con, cand)
    j = cand.join(first, cand.customer_id == first._k)
    due = j.filter(j.created_at.isnull() | (j._first < j.created_at))
    n = int(due.count().execute())
    if n:
        con.upsert(
            "customers",
            due.mutate(created_at=due._first.cast(c.created_at.type())).select(*c.columns),
            on="customer_id",
        )
    return n


def _with_surrogates(con: Backend, spec: _schema.Table, clean: ir.Table) -> ir.Table:
    """The clean rows with every declared column (absent ones NULL), their surrogate keys,
    for tables that take stubs ``derived = false`` (the row comes from a file) and for each
    column with a default its marker (:func:`crmkit.schema.defaulted_column`: the value was
    filled in)."""
    target_schema = spec.ibis_schema()
    cols = {
        c.name: clean[c.name] if c.name in clean.columns else ibis.null(c.ibis_type)
        for c in spec.columns
    }
    if spec.stubs:
        cols[_schema.DERIVED] = ibis.literal(False)
    for c in spec.columns:
        if c.default is not None:
            cols[_schema.defaulted_column(c.name)] = clean[_filled(c.name)]
    out = clean.select(_row=clean._row, **cols)
    for sk_name, fkcol in spec.surrogate_columns:
        ref = _schema.TABLES[fkcol.fk]
        keys = con.table(ref.name).select(_k=ibis._[ref.key], _sk=ibis._[ref.surrogate])
        out = out.left_join(keys, out[fkcol.name] == keys._k).drop("_k").rename({sk_name: "_sk"})
    if spec.surrogate:
        existing = con.table(spec.name).select(_k=ibis._[spec.key], _sk=ibis._[spec.surrogate])
        start = con.table(spec.name)[spec.surrogate].max().execute()
        start = 0 if start is None or pd.isna(start) else int(start)
        known = out.inner_join(existing, out[spec.key] == existing._k).drop("_k")
        known = known.rename({spec.surrogate: "_sk"})
        new = out.anti_join(existing, out[spec.key] == existing._k)
        new = new.mutate(
            **{spec.surrogate: ibis.row_number().over(order_by=new._row) + (start + 1)}
        )
        out = known.union(new.select(*known.columns))
    return out.select(*[out[n].cast(t).name(n) for n, t in target_schema.items()])


def _upsert(con: Backend, spec: _schema.Table, final: ir.Table) -> dict[str, int]:
    """Insert new keys, update changed rows, leave identical rows alone; return the counts."""
    name = f"_final_{uuid.uuid4().hex[:12]}"
    con.create_table(name, final, temp=True)
    try:
        f = con.table(name)
        t = con.table(spec.name)
        key = spec.key
        tt = t.select(**{f"_t_{c}": t[c] for c in t.columns})
        j = f.left_join(tt, f[key] == tt[f"_t_{key}"])
        is_new = j[f"_t_{key}"].isnull()
        differs = ibis.or_(*[~j[c].identical_to(j[f"_t_{c}"]) for c in f.columns])
        status = ibis.cases((is_new, "inserted"), (differs, "updated"), else_="unchanged")
        tagged = j.select(*f.columns, _status=status)
        tally = tagged._status.value_counts().to_pandas()
        counts = dict.fromkeys(("inserted", "updated", "unchanged"), 0)
        counts.update({s: int(n) for s, n in zip(tally._status, tally._status_count, strict=True)})
        if counts["inserted"] or counts["updated"]:
            changed = tagged.filter(tagged._status != "unchanged").drop("_status")
            if counts["updated"]:
                con.upsert(spec.name, changed, on=key)
            else:
                con.insert(spec.name, changed)
        return counts
    finally:
        con.drop_table(name, force=True)


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()
