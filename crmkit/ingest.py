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

- ``orders.status`` left out → ``completed``;
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
- **Encodings**: UTF-8, UTF-8 with BOM and GB18030 / GBK are detected (DuckDB's own readers need
  extensions downloaded at run time, unavailable offline, so decoding and Excel happen in Python
  and reach DuckDB as Arrow).

Row numbers are those a spreadsheet shows: in CSV and Excel files the header is row 1 and the
first data row is row 2; in Parquet files the first row is row 1. Blank lines are skipped and not
counted.

Examples
--------
>>> from crmkit import db, ingest
>>> con = db.connect("data/warehouse.duckdb", read_only=False)  # doctest: +SKIP
>>> res = ingest.ingest("客户.csv", "customers", con=con)       # doctest: +SKIP
>>> print(res.report())                                         # doctest: +SKIP
"""

from __future__ import annotations

import codecs
import csv
import hashlib
import io
import os
import re
import sys
import unicodedata
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
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

CHUNK_ROWS = 100_000
MAX_REJECTS_IN_RESULT = 10_000
FORMATS = {".csv": "csv", ".txt": "csv", ".tsv": "csv", ".xlsx": "xlsx", ".parquet": "parquet"}

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


class IngestError(ValueError):
    """A file that cannot be ingested at all; nothing was written.

    Attributes
    ----------
    file : str
    row : int or None
        Row number as a spreadsheet shows it (header = 1), where the problem has one.
    column : str or None
    """

    def __init__(
        self,
        file: str | os.PathLike,
        message: str,
        *,
        row: int | None = None,
        column: str | None = None,
    ) -> None:
        self.file, self.row, self.column = str(file), row, column
        where = [f"{self.file}"]
        if row is not None:
            where.append(f"row {row}")
        if column is not None:
            where.append(f"column {column!r}")
        super().__init__(f"{', '.join(where)}: {message}")


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
# Reading files into chunks of raw text values
# ---------------------------------------------------------------------------------------------


@dataclass
class _Chunk:
    rows: list[int]  # row numbers
    columns: list[list[str | None]]  # one list per header column
    ragged: list[tuple[int, int]]  # (row number, number of fields) of rows with the wrong width
    blank: int = 0


@dataclass
class _Source:
    path: Path
    file_format: str
    encoding: str | None
    header: list[str]
    chunks: Iterator[_Chunk]
    size: int  # bytes (csv) or rows (xlsx, parquet), for the progress bar
    progress_unit: str
    position: callable  # current progress position


def _open_source(path: Path) -> _Source:
    if not path.exists():
        raise IngestError(path, "file not found")
    if path.is_dir():
        raise IngestError(path, "is a folder, expected a file")
    fmt = FORMATS.get(path.suffix.lower())
    if fmt is None:
        raise IngestError(
            path, f"unsupported file type {path.suffix!r}; expected .csv, .xlsx or .parquet"
        )
    if path.stat().st_size == 0:
        raise IngestError(path, "the file is empty (0 bytes); expected a header row and data")
    return {"csv": _open_csv, "xlsx": _open_xlsx, "parquet": _open_parquet}[fmt](path)


def detect_encoding(path: str | os.PathLike, sample_bytes: int = 1 << 20) -> str:
    """Detect a text file's encoding: ``utf-8-sig``, ``utf-8``, ``gb18030`` or another.

    GBK and GB2312 files are read as GB18030, their superset. Falls back to charset-normalizer
    for anything else (Big5, UTF-16, Windows-1252 …).
    """
    with open(path, "rb") as f:
        head = f.read(sample_bytes)
    if head.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"
    try:
        codecs.getincrementaldecoder("utf-8")().decode(head, final=False)
        return "utf-8"
    except UnicodeDecodeError:
        pass
    try:
        text = codecs.getincrementaldecoder("gb18030")().decode(head, final=False)
        if re.search(r"[\u4e00-\u9fff]", text):
            return "gb18030"
    except UnicodeDecodeError:
        pass
    from charset_normalizer import from_bytes

    best = from_bytes(head).best()
    if best is None:
        raise IngestError(
            path, "cannot tell the text encoding; save the file as UTF-8 (or GBK) and retry"
        )
    enc = best.encoding.lower().replace("_", "-")
    return "gb18030" if enc in {"gbk", "gb2312", "gb18030", "hz"} else enc


class _CountingReader(io.RawIOBase):
    """A binary reader that counts bytes read, for a progress bar over a text stream."""

    def __init__(self, raw: io.BufferedReader) -> None:
        self.raw, self.count = raw, 0

    def readable(self) -> bool:
        return True

    def readinto(self, b) -> int:  # noqa: ANN001
        n = self.raw.readinto(b)
        self.count += n or 0
        return n

    def close(self) -> None:
        self.raw.close()
        super().close()


def _open_csv(path: Path) -> _Source:
    encoding = detect_encoding(path)
    with open(path, encoding=encoding, errors="replace", newline="") as f:
        sample = f.read(64 * 1024)
    if not sample.strip():
        raise IngestError(path, "the file has no content (only blank lines or spaces)")
    if path.suffix.lower() == ".tsv":
        delimiter = "\t"
    else:
        try:
            delimiter = csv.Sniffer().sniff(sample.split("\n", 20)[0], delimiters=",;\t|").delimiter
        except csv.Error:
            delimiter = ","
    counting = _CountingReader(open(path, "rb"))  # noqa: SIM115 (closed by the generator)
    text = io.TextIOWrapper(io.BufferedReader(counting, 1 << 20), encoding=encoding, newline="")
    reader = csv.reader(text, delimiter=delimiter)
    try:
        header = next(reader)
        while not any(h.strip() for h in header):
            header = next(reader)
    except StopIteration:
        raise IngestError(path, "the file has no header row") from None
    except UnicodeDecodeError as e:
        raise IngestError(path, f"not valid {encoding} text ({e.reason})", row=1) from None
    header_row = reader.line_num  # blank lines before the header count as rows too

    def chunks() -> Iterator[_Chunk]:
        width = len(header)
        row = header_row
        ch = _Chunk([], [[] for _ in range(width)], [])
        try:
            for fields in reader:
                row += 1
                if not any(v.strip() for v in fields):
                    ch.blank += 1
                    continue
                if len(fields) != width:
                    ch.ragged.append((row, len(fields)))
                    continue
                ch.rows.append(row)
                for col, v in zip(ch.columns, fields, strict=True):
                    col.append(v)
                if len(ch.rows) >= CHUNK_ROWS:
                    yield ch
                    ch = _Chunk([], [[] for _ in range(width)], [])
            yield ch
        except UnicodeDecodeError as e:
            raise IngestError(
                path,
                f"not valid {encoding} text after row {row - 1} ({e.reason}); save the "
                "file as UTF-8 or GBK and retry",
                row=row,
            ) from None
        except csv.Error as e:
            raise IngestError(path, f"cannot parse CSV: {e}", row=row) from None
        finally:
            text.close()

    return _Source(
        path, "csv", encoding, header, chunks(), path.stat().st_size, "B", lambda: counting.count
    )


def _excel_text(v: object) -> str | None:
    if v is None or v == "":
        return None
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, float):
        return str(int(v)) if v.is_integer() else repr(v)
    if isinstance(v, datetime):
        return v.isoformat(sep=" ")
    if isinstance(v, (date, time)):
        return v.isoformat()
    if isinstance(v, timedelta):
        return str(v)
    return str(v)


def _open_xlsx(path: Path) -> _Source:
    from python_calamine import CalamineWorkbook

    try:
        wb = CalamineWorkbook.from_path(str(path))
        sheet = wb.get_sheet_by_index(0)
    except Exception as e:
        raise IngestError(path, f"cannot read the Excel workbook: {e}") from None
    rows_iter = iter(sheet.iter_rows())
    first = sheet.start[0] + 1 if sheet.start else 1
    header = None
    row = first - 1
    for cells in rows_iter:
        row += 1
        if any(_excel_text(c) for c in cells):
            header = [_excel_text(c) or "" for c in cells]
            break
    if header is None:
        raise IngestError(path, "the first sheet is empty; expected a header row and data")
    done = [0]

    def chunks() -> Iterator[_Chunk]:
        nonlocal row
        width = len(header)
        ch = _Chunk([], [[] for _ in range(width)], [])
        for cells in rows_iter:
            row += 1
            done[0] += 1
            values = [_excel_text(c) for c in cells]
            if not any(values):
                ch.blank += 1
                continue
            values = (values + [None] * width)[:width]
            ch.rows.append(row)
            for col, v in zip(ch.columns, values, strict=True):
                col.append(v)
            if len(ch.rows) >= CHUNK_ROWS:
                yield ch
                ch = _Chunk([], [[] for _ in range(width)], [])
        yield ch

    return _Source(
        path,
        "xlsx",
        None,
        header,
        chunks(),
        max(sheet.height - row, 0),
        " rows",
        lambda: done[0],
    )


def _open_parquet(path: Path) -> _Source:
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    try:
        pf = pq.ParquetFile(path)
    except Exception as e:
        raise IngestError(path, f"cannot read the Parquet file: {e}") from None
    header = list(pf.schema_arrow.names)
    done = [0]

    def chunks() -> Iterator[_Chunk]:
        start = 1
        for batch in pf.iter_batches(batch_size=CHUNK_ROWS):
            cols = []
            for arr in batch.columns:
                if pa.types.is_timestamp(arr.type):
                    arr = pc.strftime(arr, format="%Y-%m-%d %H:%M:%S")
                cols.append(pc.cast(arr, pa.string()).to_pylist())
            n = batch.num_rows
            done[0] += n
            yield _Chunk(list(range(start, start + n)), cols, [])
            start += n

    return _Source(
        path, "parquet", None, header, chunks(), pf.metadata.num_rows, " rows", lambda: done[0]
    )


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


def _parse(col: _schema.Column, v: ir.StringValue) -> ir.Value:
    """Typed value of the cleaned text ``v`` (NULL where it does not parse)."""
    if col.allowed is not None:
        pairs = list(col.spellings().items())
        return v.lower().cases(*pairs, else_=None)
    match col.dtype:
        case "text":
            return v
        case "int":
            num = v.re_replace(r"[,\s]", "").try_cast("float64")
            return ibis.ifelse(num == num.floor(), num, None).cast("int64")
        case "float":
            return v.re_replace(r"[,\s]", "").try_cast("float64")
        case "money":
            return v.re_replace(r"[¥￥$,\s元]", "").try_cast(dt.Decimal(18, 2))
        case "bool":
            return v.lower().cases(*BOOL_SPELLINGS.items(), else_=None)
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
            return ts.date() if col.dtype == "date" else ts
    raise AssertionError(col.dtype)


def _problem(
    col: _schema.Column, v: ir.StringValue, parsed: ir.Value, now: datetime, *, needed: bool
) -> ir.StringValue:
    """Why the value is rejected, or NULL when it is fine. ``needed``: a blank is rejected
    (a required column that ingest does not fill in)."""
    branches = []
    if needed:
        branches.append((v.isnull(), "missing required value"))
    if col.allowed is not None:
        codes = ", ".join(col.allowed)
        branches.append((v.notnull() & parsed.isnull(), f"unknown value; expected one of {codes}"))
    elif col.dtype != "text":
        noun = {
            "int": "not a whole number",
            "float": "not a number",
            "money": "not a number",
            "bool": "not yes/no",
            "date": "not a date",
            "timestamp": "not a date-time",
        }
        branches.append(
            (
                v.notnull() & parsed.isnull(),
                f"{noun[col.dtype]}; expected {_schema.EXPECTED[col.dtype]}",
            )
        )
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
    source = _open_source(path)
    mapping, ignored = _map_header(path, source.header, spec)
    own = con is None
    if own:
        con = _db.connect(_db.warehouse_path(db), read_only=False)
    try:
        with _db.transaction(con):
            _db.create_schema(con)
            stage, ragged, blank = _stage(con, source, mapping, progress)
            try:
                result = _validate_and_upsert(
                    con, spec, path, source, stage, ragged, now, t0, add_missing
                )
            finally:
                con.drop_table(stage, force=True)
            result.ignored_columns, result.blank_rows = ignored, blank
    finally:
        if own:
            con.disconnect()
    result.seconds = (datetime.now() - t0).total_seconds()
    return result


def _stage(
    con: Backend, source: _Source, mapping: dict[int, str], progress: bool
) -> tuple[str, list[tuple[int, int]], int]:
    """Copy the file's raw text into a temporary table: ``_row`` + one text column per column."""
    name = f"_stage_{uuid.uuid4().hex[:12]}"
    cols = ["_row", *mapping.values()]
    arrow_schema = pa.schema([("_row", pa.int64()), *[(c, pa.string()) for c in mapping.values()]])
    con.create_table(
        name, schema=ibis.schema({"_row": "int64", **dict.fromkeys(cols[1:], "string")}), temp=True
    )
    ragged: list[tuple[int, int]] = []
    blank = 0
    bar = tqdm(
        total=source.size,
        unit=source.progress_unit.strip() or "B",
        unit_scale=True,
        desc=f"reading {source.path.name}",
        disable=not progress,
        file=sys.stderr,
    )
    last = 0
    for ch in source.chunks:
        ragged += ch.ragged
        blank += ch.blank
        if ch.rows:
            arrays = [pa.array(ch.rows, pa.int64())]
            arrays += [pa.array(ch.columns[i], pa.string()) for i in mapping]
            con.insert(name, ibis.memtable(pa.Table.from_arrays(arrays, schema=arrow_schema)))
        pos = source.position()
        bar.update(pos - last)
        last = pos
    bar.close()
    return name, ragged, blank


def _validate_and_upsert(
    con: Backend,
    spec: _schema.Table,
    path: Path,
    source: _Source,
    stage: str,
    ragged: list[tuple[int, int]],
    now: datetime,
    t0: datetime,
    add_missing: bool,
) -> IngestResult:
    raw = con.table(stage)
    present = [c for c in spec.columns if c.name in raw.columns]
    needed = {c.name for c in spec.file_columns}
    # 1. parse every present column; absent optional columns are NULL, absent columns with a
    #    default take it
    exprs: dict[str, ir.Value] = {"_row": raw._row}
    for c in present:
        v = raw[c.name].strip().nullif("")
        parsed = _parse(c, v)
        exprs[c.name] = parsed.cast(c.ibis_type)
        exprs[_err(c.name)] = _problem(c, v, parsed, now, needed=c.name in needed)
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
    parsed_name = f"{stage}_parsed"
    con.create_table(parsed_name, parsed, temp=True)
    try:
        return _check_and_write(
            con, spec, path, source, parsed_name, present, ragged, now, t0, add_missing
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
    source: _Source,
    parsed_name: str,
    present: list[_schema.Column],
    ragged: list[tuple[int, int]],
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
    if ragged:
        width = len(source.header)
        ragged_t = ibis.memtable(
            pd.DataFrame(
                {
                    "row_number": [r for r, _ in ragged],
                    "column_name": [None] * len(ragged),
                    "reason": [
                        f"has {n} fields, expected {width} (as many as the header)"
                        for _, n in ragged
                    ],
                    "value": [None] * len(ragged),
                }
            ).astype({"row_number": "int64", "column_name": "string", "value": "string"})
        )
        problem_rows = ragged_t if problem_rows is None else problem_rows.union(ragged_t)

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
        rows_in = int(p.count().execute()) + len(ragged)
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
    """The clean rows with every declared column (absent ones NULL), their surrogate keys and,
    for tables that take stubs, ``derived = false`` (the row comes from a file)."""
    target_schema = spec.ibis_schema()
    cols = {
        c.name: clean[c.name] if c.name in clean.columns else ibis.null(c.ibis_type)
        for c in spec.columns
    }
    if spec.stubs:
        cols[_schema.DERIVED] = ibis.literal(False)
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
