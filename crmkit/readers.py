"""Reading a company's files into raw text values, before any value is parsed.

``open_source(path)`` recognises a CSV / TSV / TXT, Excel (.xlsx, first sheet) or Parquet file
and returns a :class:`Source`: its header and a way to read the columns ingest maps, in chunks of
raw text with the row number each value came from. A row that cannot be read at all is not
guessed at: it comes back as a reject with its reason, and ingest counts it (rows in = loaded +
rejected). A file that cannot be read at all raises :class:`IngestError`.

Row numbers are physical: in a CSV file the line a row starts on (header = row 1; blank lines
and every line of a quoted value with line breaks count), in Excel the sheet's row, in Parquet
the row counted from 1.

CSV files
---------
- **One encoding per file.** UTF-8 (with or without BOM), GB18030 / GBK and UTF-16 with a BOM
  are recognised, anything else is left to charset-normalizer. Every line is decoded on its own,
  so a line that is not in the file's encoding fails the file naming that line: a UTF-8 file
  with one GBK line, or a GBK file with one UTF-8 line, is never stored as mojibake. A file whose
  first non-ASCII line is GBK is read as GBK even when that line comes after the sample used to
  detect the encoding. A row of a UTF-8 file with a value that is valid UTF-8 only by chance
  but reads as Chinese in GBK (GBK 郑十一 = UTF-8 ``֣ʮһ``) is rejected, with the reason.
- **Records cannot swallow rows.** Python's csv module reads the lines in strict mode, one
  record at a time, and the lines each record took are counted. A record it cannot read (a quote
  that is never closed, a quote that closes in the middle of a value, a value over the module's
  limit of 131,072 characters) or that took several lines and then has the wrong number of
  fields is rejected on the line where it starts, and reading goes on with the next line: a stray
  quote costs its own row, never the rows after it. A quoted value may hold line breaks when the
  record then has as many fields as the header; such rows are counted
  (``IngestResult.multiline_rows``).

Excel files
-----------
calamine reads the cached values. Cells it would read as empty although they are not are found
in the sheet's XML and their rows rejected with the cell's address: error values (``#DIV/0!``,
``#N/A`` …) and formulas saved without a calculated value. A number of more than 15 digits has
already lost digits in Excel (it keeps 15) and is rejected too (an 18-digit id typed as a number).
Other numbers are written with at most 15 significant digits, as Excel shows them (a formula's
``30.299999999999997`` is ``30.3``).

Parquet files
-------------
Only the mapped columns are read: an unmapped column of any type (lists, structs, maps) is
ignored. A mapped column of a nested type fails the file naming the column; a value that is not
UTF-8 in a text column rejects its row naming the column. 64-bit floats are written with 15
significant digits (as for Excel), 32-bit floats with the fewest digits that give the same float.
"""

from __future__ import annotations

import codecs
import csv
import io
import itertools
import os
import re
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from pathlib import Path
from xml.etree import ElementTree

import pyarrow as pa

from crmkit.privacy import mask

CHUNK_ROWS = 100_000
#: Bytes of a text file read to detect its encoding.
SAMPLE_BYTES = 1 << 20
#: Bytes read at a time.
BLOCK_BYTES = 1 << 20
FORMATS = {".csv": "csv", ".txt": "csv", ".tsv": "csv", ".xlsx": "xlsx", ".parquet": "parquet"}
#: Significant digits Excel keeps (and a 64-bit float holds exactly).
FLOAT_DIGITS = 15

_CHINESE = re.compile(r"[\u3000-\u303f\u4e00-\u9fff\uff00-\uffef]")
_HAN = re.compile(r"[\u4e00-\u9fff]")
_NOT_CHINESE = re.compile(r"[^\x00-\x7f\u3000-\u303f\u4e00-\u9fff\uff00-\uffef]")
_LETTER_BY_NON_ASCII = re.compile(r"[A-Za-z][^\x00-\x7f]|[^\x00-\x7f][A-Za-z]")
#: What a UTF-8 Chinese character looks like in the bytes of a GBK file.
_UTF8_HAN = re.compile(rb"[\xe4-\xe9][\x80-\xbf][\x80-\xbf]")
#: A value with two characters of U+0080-U+07FF in a row and none beyond (RE2, for pyarrow):
#: what two Chinese characters of a GBK line that is valid UTF-8 by chance look like.
_GBK_AS_UTF8 = r"^[^\x{800}-\x{10FFFF}]*[\x{80}-\x{7FF}]{2}[^\x{800}-\x{10FFFF}]*$"


class IngestError(ValueError):
    """A file that cannot be ingested at all; nothing was written.

    Attributes
    ----------
    file : str
    row : int or None
        Physical row number (header = 1), where the problem has one.
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


#: A row that cannot be read: (row number, column or None for the whole row, reason, value).
Unreadable = tuple[int, str | None, str, str | None]


@dataclass
class Chunk:
    """Raw text of some rows: ``columns`` holds one list per mapped column, in mapping order."""

    rows: list[int]
    columns: list[list[str | None]] | list[pa.Array]
    rejects: list[Unreadable] = field(default_factory=list)
    blank: int = 0
    #: (first, last) physical line of rows whose quoted values hold line breaks
    multiline: list[tuple[int, int]] = field(default_factory=list)


@dataclass
class Source:
    """An opened file: its header and ``read(mapping)``, which yields :class:`Chunk` s of the
    columns ``mapping`` names ({header position: column name})."""

    path: Path
    file_format: str
    encoding: str | None
    header: list[str]
    read: Callable[[dict[int, str]], Iterator[Chunk]]
    size: int  # bytes (csv) or rows (xlsx, parquet), for the progress bar
    progress_unit: str
    position: Callable[[], int]  # current progress position


def open_source(path: Path) -> Source:
    """Open ``path`` as a CSV, Excel or Parquet source; raise :class:`IngestError` when it
    cannot be read at all."""
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


# ---------------------------------------------------------------------------------------------
# CSV: encodings
# ---------------------------------------------------------------------------------------------


def detect_encoding(path: str | os.PathLike, sample_bytes: int | None = None) -> str:
    """Detect a text file's encoding: ``utf-8-sig``, ``utf-8``, ``gb18030``, ``utf-16`` or
    another.

    Over the first ``sample_bytes`` (default :data:`SAMPLE_BYTES`), the lines that are not
    ASCII vote: UTF-8 wins when at least as many are valid UTF-8 as are not (the reader then
    fails the file at the first line that is not). Otherwise GBK and GB2312 are read as
    GB18030, their superset, when the other lines read as Chinese; anything else (Big5,
    Windows-1252 …) is left to charset-normalizer.
    """
    size = sample_bytes or SAMPLE_BYTES
    with open(path, "rb") as f:
        head = f.read(size)
    if head.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"
    lines = head.splitlines()
    if len(head) == size and len(lines) > 1:
        lines.pop()  # may be cut short
    utf8, other = 0, []
    for line in lines:
        if line.isascii():
            continue
        try:
            line.decode("utf-8")
            utf8 += 1
        except UnicodeDecodeError:
            other.append(line)
    if len(other) <= utf8:
        return "utf-8"
    try:
        if _HAN.search(b"\n".join(other).decode("gb18030")):
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


def _reads_as_gbk(raw: bytes, text: str) -> bool:
    """A valid UTF-8 line without one Chinese character that reads as Chinese in GBK: at least
    two common (GB2312) Han characters and nothing but Chinese, and no ASCII letter next to a
    non-ASCII character in its UTF-8 reading (as in José or Müller, which GBK also decodes)."""
    try:
        gbk = raw.decode("gb18030")
        gbk.encode("gb2312")
    except UnicodeError:
        return False
    return (
        len(_HAN.findall(gbk)) >= 2
        and not _NOT_CHINESE.search(gbk)
        and not _LETTER_BY_NON_ASCII.search(text)
    )


def _reads_as_utf8(raw: bytes, gbk: str) -> bool:
    """A line of a GBK file that is UTF-8 Chinese: valid UTF-8 with Han characters, whose GBK
    reading has characters outside GB2312 (mojibake such as 鍛ㄤ節 for 周九)."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        return False
    if not _HAN.search(text):
        return False
    try:
        gbk.encode("gb2312")
    except UnicodeEncodeError:
        return True
    return False


def _gbk_text(raw: bytes) -> str | None:
    try:
        text = raw.decode("gb18030")
    except UnicodeDecodeError:
        return None
    return text if _HAN.search(text) else None


def _byte(raw: bytes, e: UnicodeDecodeError) -> str:
    return f"byte 0x{raw[e.start]:02x} at byte {e.start + 1} of the line"


class _LineDecoder:
    """Decodes one physical line at a time in the file's encoding (see the module docstring).

    ``encoding`` may change once, from UTF-8 to GB18030, when the first non-ASCII line is GBK.
    """

    def __init__(self, path: Path, encoding: str) -> None:
        self.path = path
        self.encoding = "utf-8" if encoding == "utf-8-sig" else encoding
        self.utf8_seen = False  # a line with non-ASCII UTF-8 was read
        self.switched = False

    def __call__(self, raw: bytes, row: int) -> str:
        if self.encoding == "utf-8":
            try:
                text = raw.decode("utf-8")
            except UnicodeDecodeError as e:
                return self._not_utf8(raw, row, e)
            self.utf8_seen = self.utf8_seen or not text.isascii()
            return text
        try:
            text = raw.decode(self.encoding)
        except UnicodeDecodeError as e:
            raise IngestError(
                self.path,
                f"this line is not {self.encoding} text ({_byte(raw, e)}), the encoding the "
                "file is read in; save the whole file in one encoding (UTF-8) and load it again",
                row=row,
            ) from None
        if self.encoding == "gb18030" and not raw.isascii():
            self.no_utf8(raw, text, row)
        return text

    def no_utf8(self, raw: bytes, text: str, row: int) -> None:
        """Fail on a line of a GBK file that is UTF-8 Chinese."""
        if _UTF8_HAN.search(raw) and _reads_as_utf8(raw, text):
            raise IngestError(
                self.path,
                "this line is UTF-8 text while the file is GBK (GB18030): the file mixes "
                "encodings; save the whole file in one encoding (UTF-8) and load it again",
                row=row,
            )

    def _not_utf8(self, raw: bytes, row: int, e: UnicodeDecodeError) -> str:
        gbk = _gbk_text(raw)
        if gbk is not None and not self.utf8_seen:
            # every line before this one was ASCII: a GBK file whose Chinese starts late
            self.encoding, self.switched = "gb18030", True
            return gbk
        if self.utf8_seen:
            looks = " (this line reads as GBK)" if gbk is not None else ""
            message = (
                f"this line is not UTF-8 text ({_byte(raw, e)}) while the lines before it are: "
                f"the file mixes encodings{looks}; save the whole file as UTF-8 and load it again"
            )
        else:
            message = (
                f"not valid UTF-8 text ({_byte(raw, e)}); save the file as UTF-8 or GBK and "
                "load it again"
            )
        raise IngestError(self.path, message, row=row)


def _count_lines(text: str) -> int:
    return text.count("\n") + text.count("\r") - text.count("\r\n")


def _whole_lines[T: (bytes, str)](text: T) -> tuple[T, T]:
    """``text`` up to the end of its last complete line, and the rest; a final ``\\r`` is held
    back, as its ``\\n`` may follow."""
    cr, lf = ("\r", "\n") if isinstance(text, str) else (b"\r", b"\n")
    body = text[:-1] if text.endswith(cr) else text
    cut = max(body.rfind(lf), body.rfind(cr)) + 1
    return text[:cut], text[cut:]


class _Lines:
    """The decoded physical lines of a text file, in order, for ``csv.reader``.

    The file is read and decoded in blocks of whole lines; a block is decoded line by line
    (:class:`_LineDecoder`) only when it does not decode at once or holds a line that might be
    in another encoding, so that lines are handed to ``csv.reader`` at C speed. Lines split at
    ``\\n``, ``\\r\\n`` or a lone ``\\r``, as a spreadsheet does. ``lines(first, last)``
    gives physical lines ``first``-``last`` again, from the blocks kept since row
    ``keep_from`` (the record being read).
    """

    def __init__(self, path: Path, encoding: str) -> None:
        self.path = path
        self.decoder = _LineDecoder(path, encoding)
        self.bytes_read = 0
        self.keep_from = 1
        self._kept: list[tuple[int, int, str]] = []  # (first row, last row, text) of blocks
        blocks = self._text_blocks(encoding.startswith(("utf-16", "utf-32")))
        self._iter = itertools.chain.from_iterable(io.StringIO(t, newline="") for t in blocks)

    def __iter__(self) -> Iterator[str]:
        return self._iter

    def lines(self, first: int, last: int) -> list[str]:
        out = []
        for start, _, text in self._kept:
            out += io.StringIO(text, newline="").readlines()[
                max(first - start, 0) : max(last - start + 1, 0)
            ]
        return out

    def _text_blocks(self, wide: bool) -> Iterator[str]:
        kept = self._kept
        for first, last, text in self._decoded(wide):
            while kept and kept[0][1] < self.keep_from:
                kept.pop(0)
            kept.append((first, last, text))
            yield text

    def _decoded(self, wide: bool) -> Iterator[tuple[int, int, str]]:
        """Blocks of decoded text, each ending at the end of a line (or of the file), with the
        rows of their first and last lines."""
        first = 1
        with open(self.path, "rb") as f:
            if wide:  # UTF-16 / 32 cannot be cut into lines as bytes: decoded first
                stream = codecs.getincrementaldecoder(self.decoder.encoding)()
            rest = "" if wide else b""
            while True:
                block = f.read(BLOCK_BYTES)
                self.bytes_read += len(block)
                if wide:
                    try:
                        block = stream.decode(block, final=not block)
                    except UnicodeDecodeError as e:
                        row = first + _count_lines(rest)
                        message = f"not valid {self.decoder.encoding} text ({e.reason})"
                        raise IngestError(self.path, message, row=row) from None
                whole, rest = _whole_lines(rest + block) if block else (rest + block, rest[:0])
                if first == 1:
                    whole = whole.removeprefix("\ufeff" if wide else codecs.BOM_UTF8)
                if whole:
                    text = whole if wide else self._decode(whole, first)
                    n = _count_lines(text)
                    yield first, first + n - 1, text
                    first += n
                if not block:
                    return

    def _decode(self, raw: bytes, first: int) -> str:
        """Decode a block of whole lines at once; line by line only where a line does not
        decode, or (in a GBK file) where a line may be UTF-8 Chinese."""
        d = self.decoder
        try:
            text = raw.decode(d.encoding)
        except UnicodeDecodeError:
            lines = raw.splitlines(keepends=True)
            return "".join(d(line, row) for row, line in enumerate(lines, first))
        if d.encoding == "utf-8":
            d.utf8_seen = d.utf8_seen or not text.isascii()
        elif d.encoding == "gb18030":
            self._no_utf8_lines(raw, first)
        return text

    def _no_utf8_lines(self, raw: bytes, first: int) -> None:
        """Check the lines of a GBK block that hold something like a UTF-8 Chinese character
        (a few in a hundred), found by a regex, not line by line."""
        row, pos = first, 0  # row = the number of the line starting at pos
        for m in _UTF8_HAN.finditer(raw):
            if m.start() < pos:
                continue  # that line is checked
            start = max(raw.rfind(b"\n", pos, m.start()), raw.rfind(b"\r", pos, m.start())) + 1
            start = max(start, pos)
            ends = [i for i in (raw.find(b"\n", m.end()), raw.find(b"\r", m.end())) if i >= 0]
            end = min(ends, default=len(raw))
            between = raw[pos:start]
            row += between.count(b"\n") + between.count(b"\r") - between.count(b"\r\n")
            line = raw[start:end]
            self.decoder.no_utf8(line, line.decode("gb18030"), row)
            pos = end


# ---------------------------------------------------------------------------------------------
# CSV: records
# ---------------------------------------------------------------------------------------------


def _csv_error(e: csv.Error, lines: int, last: int) -> str:
    """The reason a record that ``csv`` could not read is rejected; ``lines`` it took, the
    ``last`` of them."""
    message = str(e)
    after = f"; the {lines - 1:,} lines after it are read on their own" if lines > 1 else ""
    if "unexpected end of data" in message:
        return f'a quote (") opened in this row is never closed{after}'
    if "field limit" in message:
        longer = f"a value longer than {csv.field_size_limit():,} characters"
        if lines > 1:
            return f'{longer}: a quote (") opened in this row runs on to row {last:,}{after}'
        return f"{longer} (the most a CSV value may have)"
    if "expected after" in message:
        if lines > 1:
            return (
                f'a quote (") opened in this row closes in the middle of a value in row '
                f"{last:,}{after}"
            )
        return (
            'a quote (") closes in the middle of a value: a value that starts with a quote must '
            "end with one just before the delimiter"
        )
    return f"cannot be read as CSV ({message}){after}"


class _CsvRecords:
    """Iterate ``(first row, last row, fields, None)`` per record of a CSV text, or ``(row,
    row, line, reason)`` for a record that cannot be read, ``line`` being the text of its first
    row (see the module docstring). The rows
    a record took are counted by ``csv.reader.line_num``; after a record that took several
    lines and is rejected, the lines after its first are read again.

    ``width`` (the header's number of fields, once known) makes a record that took several
    lines and has another number of fields a runaway quote.
    """

    def __init__(self, lines: _Lines, delimiter: str) -> None:
        self.lines, self.delimiter = lines, delimiter
        self.width: int | None = None

    def __iter__(self) -> Iterator[tuple[int, int, list[str] | str, str | None]]:
        lines = self.lines
        reader = csv.reader(lines, delimiter=self.delimiter, strict=True)
        before = 0  # physical rows before the reader's first line
        row = 1  # where the next record starts
        while True:
            lines.keep_from = row
            error = reason = None
            try:
                fields = next(reader)
            except StopIteration:
                return
            except csv.Error as e:
                fields, error = None, e
            last = before + reader.line_num
            if error is not None:
                reason = _csv_error(error, last - row + 1, last)
            elif last > row and self.width and len(fields) != self.width:
                reason = (
                    f'a quote (") opened in this row closes only in row {last:,}, giving '
                    f"{len(fields)} fields (expected {self.width}); the lines after it are read "
                    "on their own"
                )
            if reason is None:
                yield row, last, fields, None
                row = last + 1
                continue
            yield row, row, "".join(lines.lines(row, row)).rstrip("\r\n"), reason
            if last > row:
                again = lines.lines(row + 1, last)
                reader = csv.reader(
                    itertools.chain(again, lines), delimiter=self.delimiter, strict=True
                )
                before = row
            row += 1


#: How much of a row rejected as a whole its reject keeps as the value (the start of the line).
EXCERPT_CHARS = 200


def row_value(line: str, delimiter: str) -> str:
    """A row rejected as a whole, as its reject's value: the line's first field (the key, to
    find the row by) and the other fields masked to their first character — the rejects are
    kept in the warehouse and shown on the data-quality page, and a line that could not be
    read cannot be masked column by column — cut at :data:`EXCERPT_CHARS`.

    Examples
    --------
    >>> row_value('H03,"王芳,13700000003,杭州', ",")
    'H03,"**,1**,杭**'
    >>> row_value("B01," + "x" * 1_000_000 + ",李娜", ",")
    'B01,x**,李**'
    """
    key, *rest = line.split(delimiter)
    out = delimiter.join([key, *(mask(v, "name") if v.strip() else v for v in rest)])
    return out if len(out) <= EXCERPT_CHARS else out[:EXCERPT_CHARS] + "…"


def _reject_gbk_like(ch: Chunk, names: list[str]) -> None:
    """Move the rows of a UTF-8 file that hold a value read as GBK Chinese, valid UTF-8 only by
    chance (see :func:`_reads_as_gbk`), from ``ch``'s rows to its rejects."""
    import pyarrow.compute as pc

    bad: dict[int, Unreadable] = {}
    for name, col in zip(names, ch.columns, strict=True):
        hits = pc.indices_nonzero(pc.match_substring_regex(col, _GBK_AS_UTF8))
        for k in hits.to_pylist():
            value = col[k].as_py()
            if k not in bad and _reads_as_gbk(value.encode(), value):
                reason = (
                    "reads as Chinese only as GBK text while the file is UTF-8: this row seems "
                    "to be GBK; save the whole file in one encoding and load the row again"
                )
                bad[k] = (ch.rows[k], name, reason, None)
    if bad:
        ok = pa.array([k not in bad for k in range(len(ch.rows))])
        ch.rows = [r for r, keep in zip(ch.rows, ok.to_pylist(), strict=True) if keep]
        ch.columns = [col.filter(ok) for col in ch.columns]
        ch.rejects += [bad[k] for k in sorted(bad)]


def _open_csv(path: Path) -> Source:
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
    lines = _Lines(path, encoding)
    records = _CsvRecords(lines, delimiter)
    rows = iter(records)
    header = None
    for row, _, fields, problem in rows:
        if problem is not None:
            raise IngestError(path, f"cannot read the header: {problem}", row=row)
        if any(h.strip() for h in fields):
            header = fields
            break
    if header is None:
        raise IngestError(path, "the file has no header row")
    records.width = len(header)

    def read(mapping: dict[int, str]) -> Iterator[Chunk]:
        width = len(header)
        keep = list(mapping)
        ch, kept = Chunk([], []), []

        def full() -> Chunk:
            # one list per record while reading, one per column for the chunk
            columns = list(zip(*kept, strict=True)) if kept else [()] * width
            ch.columns = [pa.array(columns[i], pa.string()) for i in keep]
            if lines.decoder.encoding == "utf-8":
                _reject_gbk_like(ch, list(mapping.values()))
            return ch

        for row, last, fields, problem in rows:
            if problem is not None:
                ch.rejects.append((row, None, problem, row_value(fields, delimiter)))
                continue
            if not any(map(str.strip, fields)):
                ch.blank += last - row + 1
                continue
            if len(fields) != width:
                reason = f"has {len(fields)} fields, expected {width} (as many as the header)"
                ch.rejects.append((row, None, reason, row_value(delimiter.join(fields), delimiter)))
                continue
            if last > row:
                ch.multiline.append((row, last))
            ch.rows.append(row)
            kept.append(fields)
            if len(kept) >= CHUNK_ROWS:
                yield full()
                ch, kept = Chunk([], []), []
        if lines.decoder.switched:
            source.encoding = lines.decoder.encoding
        yield full()

    source = Source(
        path, "csv", encoding, header, read, path.stat().st_size, "B", lambda: lines.bytes_read
    )
    return source


# ---------------------------------------------------------------------------------------------
# Excel
# ---------------------------------------------------------------------------------------------


def _excel_text(v: object) -> str | None:
    if v is None or v == "":
        return None
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, float):
        if v.is_integer() and abs(v) < 10**FLOAT_DIGITS:
            return str(int(v))
        return format(v, f".{FLOAT_DIGITS}g")
    if isinstance(v, datetime):
        return v.isoformat(sep=" ")
    if isinstance(v, (date, time)):
        return v.isoformat()
    if isinstance(v, timedelta):
        return str(v)
    return str(v)


def column_letter(index: int) -> str:
    """Excel's name of the 0-based column ``index``: 0 → A, 26 → AA."""
    name = ""
    index += 1
    while index:
        index, r = divmod(index - 1, 26)
        name = chr(65 + r) + name
    return name


def _column_index(letters: str) -> int:
    n = 0
    for ch in letters:
        n = n * 26 + ord(ch) - 64
    return n - 1


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _first_sheet_part(z: zipfile.ZipFile) -> str:
    """The zip member holding the workbook's first sheet (the one calamine reads)."""
    workbook = ElementTree.fromstring(z.read("xl/workbook.xml"))
    sheet = next(e for e in workbook.iter() if _local(e.tag) == "sheet")
    rid = next(v for k, v in sheet.attrib.items() if _local(k) == "id")
    rels = ElementTree.fromstring(z.read("xl/_rels/workbook.xml.rels"))
    target = next(e.get("Target") for e in rels.iter() if e.get("Id") == rid)
    return target.lstrip("/") if target.startswith("/") else f"xl/{target}"


_CELL = re.compile(rb"<(?:\w+:)?c\b([^>]*?)(?:/>|>(.*?)</(?:\w+:)?c>)", re.S)
_CELL_REF = re.compile(rb"""\br=["']([A-Z]+)(\d+)["']""")
_CELL_TYPE = re.compile(rb"""\bt=["'](\w+)["']""")
_FORMULA = re.compile(rb"<(?:\w+:)?f\b")
_VALUE = re.compile(rb"<(?:\w+:)?v>([^<]*)</(?:\w+:)?v>")
_EMPTY_VALUE = re.compile(rb"<(?:\w+:)?v\s*/>|<(?:\w+:)?v>\s*</(?:\w+:)?v>")


def _bad_cells(path: Path, part: bytes, out: dict[int, list[tuple[int, str, str | None]]]) -> None:
    """Add the error cells and the formulas without a value in the sheet XML ``part``."""
    if b't="e"' not in part and b"t='e'" not in part and not _FORMULA.search(part):
        return
    for m in _CELL.finditer(part):
        attrs, body = m.group(1), m.group(2) or b""
        kind = _CELL_TYPE.search(attrs)
        kind = kind.group(1) if kind else b"n"
        value = _VALUE.search(body)
        if kind == b"e":
            code = value.group(1).decode("utf-8", "replace") if value else "?"
            what, raw = f"holds the Excel error {code}", code
        elif _FORMULA.search(body) and not (value and value.group(1)):
            if kind == b"str" and _EMPTY_VALUE.search(body):
                continue  # a formula whose calculated value is the empty string
            what = (
                "holds a formula saved without its calculated value; open the workbook in "
                "Excel, let it calculate, save it and load it again"
            )
            raw = None
        else:
            continue
        ref = _CELL_REF.search(attrs)
        if ref is None:
            raise IngestError(path, f"a cell of the first sheet without an address {what}")
        row, col = int(ref.group(2)), _column_index(ref.group(1).decode())
        out.setdefault(row, []).append((col, what, raw))


def _excel_bad_cells(path: Path) -> dict[int, list[tuple[int, str, str | None]]]:
    """Cells of the first sheet that calamine reads as empty but are not: {sheet row: [(column
    index, what is wrong, value)]}. The sheet's XML is scanned in blocks of whole rows."""
    out: dict[int, list[tuple[int, str, str | None]]] = {}
    with zipfile.ZipFile(path) as z, z.open(_first_sheet_part(z)) as f:
        rest = b""
        while block := f.read(BLOCK_BYTES):
            buf = rest + block
            cut = max(buf.rfind(b"</row>"), buf.rfind(b":row>"))
            if cut < 0:
                rest = buf
                continue
            cut = buf.index(b">", cut) + 1
            _bad_cells(path, buf[:cut], out)
            rest = buf[cut:]
        _bad_cells(path, rest, out)
    return out


def _open_xlsx(path: Path) -> Source:
    from python_calamine import CalamineWorkbook

    try:
        wb = CalamineWorkbook.from_path(str(path))
        sheet = wb.get_sheet_by_index(0)
    except Exception as e:
        raise IngestError(path, f"cannot read the Excel workbook: {e}") from None
    rows_iter = iter(sheet.iter_rows())
    top, left = sheet.start if sheet.start else (0, 0)
    header = None
    row = top
    for cells in rows_iter:
        row += 1
        if any(_excel_text(c) for c in cells):
            header = [_excel_text(c) or "" for c in cells]
            break
    if header is None:
        raise IngestError(path, "the first sheet is empty; expected a header row and data")
    done = [0]

    def read(mapping: dict[int, str]) -> Iterator[Chunk]:
        nonlocal row
        try:
            bad = _excel_bad_cells(path)
        except (KeyError, StopIteration, zipfile.BadZipFile, ElementTree.ParseError) as e:
            raise IngestError(path, f"cannot read the first sheet's cells ({e})") from None
        keep = list(mapping)
        where = {left + i: (i, col) for i, col in mapping.items()}
        ch = Chunk([], [[] for _ in keep])
        for cells in rows_iter:
            row += 1
            done[0] += 1
            n = len(cells)
            values, problem = [], None
            for i in keep:
                c = cells[i] if i < n else None
                if c.__class__ is float and not -(10**FLOAT_DIGITS) < c < 10**FLOAT_DIGITS:
                    problem = problem or (
                        mapping[i],
                        f"cell {column_letter(left + i)}{row} holds a number of more than "
                        f"{FLOAT_DIGITS} digits, of which Excel keeps only {FLOAT_DIGITS} (the "
                        "last digits may be lost); format the column as text in Excel, type "
                        "the values again and load it again",
                        None,
                    )
                values.append(_excel_text(c))
            for col, what, raw in bad.get(row, ()):
                if col in where and problem is None:
                    problem = (where[col][1], f"cell {column_letter(col)}{row} {what}", raw)
            if problem is not None:
                ch.rejects.append((row, *problem))
                continue
            if not any(values) and not any(_excel_text(c) for c in cells):
                ch.blank += 1
                continue
            ch.rows.append(row)
            for col, v in zip(ch.columns, values, strict=True):
                col.append(v)
            if len(ch.rows) >= CHUNK_ROWS:
                yield ch
                ch = Chunk([], [[] for _ in keep])
        yield ch

    return Source(
        path, "xlsx", None, header, read, max(sheet.height - row, 0), " rows", lambda: done[0]
    )


# ---------------------------------------------------------------------------------------------
# Parquet
# ---------------------------------------------------------------------------------------------


def _nested(t: pa.DataType) -> bool:
    return pa.types.is_nested(t) or pa.types.is_union(t)


def _parquet_text(arr: pa.Array) -> tuple[list[str | None], list[int]]:
    """The values of ``arr`` as text, and the positions of values that are not UTF-8."""
    import pyarrow.compute as pc

    if pa.types.is_dictionary(arr.type):
        arr = arr.dictionary_decode()
    t = arr.type
    if pa.types.is_binary(t) or pa.types.is_large_binary(t):
        arr = arr.view(pa.large_string() if pa.types.is_large_binary(t) else pa.string())
        t = arr.type
    if pa.types.is_string(t) or pa.types.is_large_string(t):
        try:
            arr.validate(full=True)
        except pa.ArrowInvalid:
            raw = arr.view(pa.large_binary() if pa.types.is_large_string(t) else pa.binary())
            out, bad = [], []
            for k, b in enumerate(raw.to_pylist()):
                try:
                    out.append(None if b is None else b.decode("utf-8"))
                except UnicodeDecodeError:
                    out.append(None)
                    bad.append(k)
            return out, bad
        return arr.to_pylist(), []
    if pa.types.is_timestamp(t):
        return pc.strftime(arr, format="%Y-%m-%d %H:%M:%S").to_pylist(), []
    if pa.types.is_float64(t):
        fmt = f".{FLOAT_DIGITS}g"
        return [None if v is None else format(v, fmt) for v in arr.to_pylist()], []
    return pc.cast(arr, pa.string()).to_pylist(), []


def _open_parquet(path: Path) -> Source:
    import pyarrow.parquet as pq

    try:
        pf = pq.ParquetFile(path)
    except Exception as e:
        raise IngestError(path, f"cannot read the Parquet file: {e}") from None
    schema = pf.schema_arrow
    header = list(schema.names)
    done = [0]

    def read(mapping: dict[int, str]) -> Iterator[Chunk]:
        names = [header[i] for i in mapping]
        for i, col in mapping.items():
            t = schema.field(i).type
            if _nested(t):
                raise IngestError(
                    path,
                    f"holds values of the Parquet type {t}, which cannot be read as the "
                    f"column {col!r}; map another column or flatten this one",
                    column=header[i],
                )
        start = 1
        for batch in pf.iter_batches(batch_size=CHUNK_ROWS, columns=names):
            n = batch.num_rows
            cols, unreadable = [], {}
            for name, col in zip(names, mapping.values(), strict=True):
                text, bad = _parquet_text(batch.column(name))
                for k in bad:
                    unreadable.setdefault(k, (start + k, col, "not valid UTF-8 text", None))
                cols.append(text)
            rows = list(range(start, start + n))
            if unreadable:
                ok = [k for k in range(n) if k not in unreadable]
                rows = [rows[k] for k in ok]
                cols = [[c[k] for k in ok] for c in cols]
            done[0] += n
            yield Chunk(rows, cols, [unreadable[k] for k in sorted(unreadable)])
            start += n

    return Source(
        path, "parquet", None, header, read, pf.metadata.num_rows, " rows", lambda: done[0]
    )
