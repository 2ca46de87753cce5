"""Storage: connections, the warehouse DDL, transactions, the snapshot swap and the data clock.

Two DuckDB files matter:

- the **warehouse** (``data/warehouse.duckdb``, or ``$CRMKIT_DB``, or ``--db``): where ingest
  and ``crmkit demo`` write;
- the **published snapshot** (``data/published.duckdb``, or ``$CRMKIT_PUBLISHED``): what
  dashboards read, read-only, with personal data masked; beside it the **analyst snapshot**
  (:func:`analyst_path`, ``data/published.analyst.duckdb``): the same tables in clear, for the
  analyst role. :func:`crmkit.publish.publish` builds both inside :func:`staging`: a copy
  beside the target, checkpointed, closed and swapped in with an atomic ``os.replace``, so a
  reader never sees a half-written snapshot, and a reader that already holds the old file
  keeps reading it. Both are readable by their owner only (mode 0600).

A file another process holds (DuckDB allows one writer, or many readers, per file) raises
:class:`DatabaseBusy`, naming that process, instead of DuckDB's lock error.

Examples
--------
>>> con = connect(":memory:", read_only=False)
>>> create_schema(con)
>>> sorted(con.list_tables())[:3]
['customer_merges', 'customers', 'feedback']
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import re
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path

import ibis
import ibis.expr.types as ir
import pandas as pd
from ibis.backends import BaseBackend
from ibis.backends.duckdb import Backend

from crmkit import schema

DEFAULT_WAREHOUSE = Path("data/warehouse.duckdb")
DEFAULT_PUBLISHED = Path("data/published.duckdb")
#: DuckDB's error when another process holds a file: 'IO Error: Could not set lock on file
#: "w.duckdb": Conflicting lock is held in /usr/bin/python3.12 (PID 6543). See also …'
_LOCK_HELD = re.compile(
    r"Could not set lock on file(?:.*?held in (?P<program>.+?) \(PID (?P<pid>\d+)\))?"
)


class DatabaseBusy(RuntimeError):
    """Another process holds the database file ``path``: it is ``pid`` (``None`` when unknown),
    running ``program``. Nothing was read or written; the command can be run again once that
    process has finished.
    """

    def __init__(
        self, path: str | os.PathLike, pid: int | None, program: str, *, doing: str = "in use"
    ) -> None:
        self.path, self.pid, self.program = Path(path), pid, program
        holder = f"process {pid} ({program})" if pid else "another process"
        super().__init__(f"{str(path)!r} is {doing} by {holder}; try again when it has finished")


def _program(pid: int, fallback: str = "") -> str:
    """What process ``pid`` runs, from its command line: ``crmkit ingest`` for crmkit, else the
    program's name (``python3.12 -m ipykernel_launcher``), never its arguments (they may hold a
    token)."""
    try:
        argv = [os.fsdecode(a) for a in Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")]
    except OSError:
        return Path(fallback).name or "unknown program"
    argv = [a for a in argv if a]
    for i, arg in enumerate(argv):
        if Path(arg).name == "crmkit" and (i <= 1 or argv[i - 1] == "-m"):
            return " ".join(["crmkit", *argv[i + 1 : i + 2]])
    name = Path(argv[0]).name if argv else Path(fallback).name
    if len(argv) > 2 and argv[1] == "-m":
        name += f" -m {argv[2]}"
    return name or "unknown program"


@contextlib.contextmanager
def _busy_as_error(path: str | os.PathLike) -> Iterator[None]:
    """Turn DuckDB's lock error on ``path`` into :class:`DatabaseBusy`."""
    import duckdb

    try:
        yield
    except duckdb.IOException as e:
        held = _LOCK_HELD.search(str(e))
        if held is None:
            raise
        pid = int(held["pid"]) if held["pid"] else None
        raise DatabaseBusy(path, pid, _program(pid, held["program"] or "") if pid else "") from e


def warehouse_path(db: str | os.PathLike | None = None) -> Path:
    """Resolve the warehouse file: the argument, else ``$CRMKIT_DB``, else the default."""
    return Path(db or os.environ.get("CRMKIT_DB") or DEFAULT_WAREHOUSE)


def published_path(path: str | os.PathLike | None = None) -> Path:
    """Resolve the published snapshot: the argument, else ``$CRMKIT_PUBLISHED``, else default."""
    return Path(path or os.environ.get("CRMKIT_PUBLISHED") or DEFAULT_PUBLISHED)


def analyst_path(published: str | os.PathLike | None = None) -> Path:
    """The analyst snapshot beside the published one (:func:`published_path`):
    ``data/published.duckdb`` → ``data/published.analyst.duckdb``."""
    p = published_path(published)
    return p.with_name(f"{p.stem}.analyst{p.suffix}")


def replace_file(path: str | os.PathLike, data: bytes) -> Path:
    """Write ``data`` to ``path`` all or nothing: into a temporary file beside it, then moved
    over it (``os.replace``), so a full disk or an interrupted command leaves the previous file
    (or none), never half of one. Creates the folder; returns the path.

    >>> import tempfile
    >>> p = replace_file(Path(tempfile.mkdtemp()) / "a.csv", b"x,y")
    >>> p.read_bytes()
    b'x,y'
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.partial-{os.getpid()}")
    try:
        tmp.write_bytes(data)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path


def connect(
    path: str | os.PathLike | None = None, *, read_only: bool = True, threads: int | None = None
) -> Backend:
    """Open a DuckDB database as an Ibis backend.

    Parameters
    ----------
    path : path-like, optional
        The database file; ``":memory:"`` for a throw-away database. Default: the warehouse
        (``warehouse_path()``). For PySpark use :func:`crmkit.connect` ``("spark")``.
    read_only : bool, default True
        Writers must ask for write access explicitly.
    threads : int, optional
        DuckDB worker threads; default: all cores.

    Raises
    ------
    FileNotFoundError
        When opening a file read-only that does not exist (DuckDB would otherwise create it).
    DatabaseBusy
        When another process holds the file: writing needs it alone, reading needs no writer.
    ValueError
        When the file is not a DuckDB database (a CSV or Parquet file given as ``--db``).
    """
    target = str(path) if path is not None else str(warehouse_path())
    if target != ":memory:":
        if read_only and not Path(target).exists():
            raise FileNotFoundError(
                f"database {target!r} does not exist; build one with `crmkit demo` or "
                "`crmkit ingest`, or pass --db / set CRMKIT_DB"
            )
        Path(target).parent.mkdir(parents=True, exist_ok=True)
    kwargs = {"read_only": read_only} if target != ":memory:" else {}
    if threads:
        kwargs["threads"] = threads
    import duckdb

    not_duckdb = ValueError(
        f"{target!r} is not a DuckDB database file (DuckDB would read it as data, and keep "
        "nothing written to it); pass the warehouse or snapshot .duckdb file"
    )
    try:
        with _busy_as_error(target):
            con = ibis.duckdb.connect(target, **kwargs)
    except duckdb.CatalogException as e:
        # a CSV or Parquet file opened read-only: DuckDB refuses the in-memory stand-in
        if "in-memory database in read-only mode" in str(e):
            raise not_duckdb from e
        raise
    if target != ":memory:" and con.con.execute(
        "SELECT path FROM duckdb_databases() WHERE database_name = current_database()"
    ).fetchone() == (None,):
        # a CSV or Parquet file opened for writing: DuckDB serves an in-memory database
        con.disconnect()
        raise not_duckdb
    return con


def check_free(path: str | os.PathLike) -> None:
    """Raise :class:`DatabaseBusy` when another process holds the database file ``path``; a
    file that is missing or not a DuckDB database is free (a command may overwrite it)."""
    import duckdb

    if not Path(path).exists():
        return
    try:
        with _busy_as_error(path):
            duckdb.connect(str(path)).close()
    except duckdb.Error:
        pass


def create_schema(con: Backend) -> None:
    """Create every warehouse table that does not exist yet, from ``crmkit.schema``.

    Columns with a default (``Table.column_defaults``: ``derived``) are added with it, also to a
    warehouse built before they were declared, whose existing rows then take the default.
    """
    existing = set(con.list_tables())
    for name, t in schema.TABLES.items():
        defaults = t.column_defaults
        if name not in existing:
            fields = {n: d for n, d in t.ibis_schema().items() if n not in defaults}
            con.create_table(name, schema=ibis.schema(fields))
            have = set()
        else:
            have = set(con.table(name).columns) if defaults else set()
        for column, value in defaults.items():
            if column not in have:
                con.raw_sql(_add_column(name, column, t.ibis_schema()[column], value))
    for name, sch in schema.SYSTEM_SCHEMAS.items():
        if name not in existing:
            con.create_table(name, schema=sch)


def _add_column(table: str, column: str, dtype: ibis.DataType, default: object) -> str:
    """``ALTER TABLE … ADD COLUMN … DEFAULT …``, built with sqlglot (identifiers quoted)."""
    import sqlglot.expressions as sge
    from ibis.backends.sql.datatypes import DuckDBType

    return sge.Alter(
        this=sge.to_table(table),
        kind="TABLE",
        actions=[
            sge.ColumnDef(
                this=sge.to_identifier(column, quoted=True),
                kind=DuckDBType.from_ibis(dtype),
                constraints=[
                    sge.ColumnConstraint(
                        kind=sge.DefaultColumnConstraint(this=sge.convert(default))
                    )
                ],
            )
        ],
    ).sql("duckdb")


@contextlib.contextmanager
def transaction(con: Backend) -> Iterator[Backend]:
    """All statements inside commit together or not at all."""
    raw = con.con
    raw.begin()
    try:
        yield con
    except BaseException:
        raw.rollback()
        raise
    else:
        raw.commit()


def table_counts(con: Backend) -> dict[str, int]:
    """Row count of every data and system table present."""
    present = set(con.list_tables())
    names = [*schema.TABLES, *schema.SYSTEM_SCHEMAS]
    return {n: int(con.table(n).count().execute()) for n in names if n in present}


@contextlib.contextmanager
def staging(
    src: Path, dst: Path, *, dashboard: Callable[[str, ir.Table], ir.Table]
) -> Iterator[Backend]:
    """A writable copy of the warehouse ``src`` that replaces ``dst`` when the block succeeds.

    The warehouse is copied byte for byte into ``<dst>.staging-<pid>`` (tables that are not
    warehouse tables, e.g. the demo's planted truth, and the warehouse-only system tables of
    :data:`crmkit.schema.WAREHOUSE_ONLY` are dropped) and opened for writing. When the block
    ends normally the copy is checkpointed, and every table of it, passed through
    ``dashboard(name, table)`` (personal data masked, :func:`crmkit.privacy.masked_table`), is
    written into a new file, ``<dst>.staging-<pid>.dashboard``: a new file, so that no clear
    value is left behind in its free pages. Then the copy is moved over
    :func:`analyst_path` ``(dst)`` and the new file over ``dst``, each with an atomic
    ``os.replace``: until then readers see the previous snapshots, and readers that opened them
    keep reading their files. When the block raises, the staging files are removed and ``dst``
    is untouched. Every file is created readable by its owner only (umask 077).

    One publish of ``dst`` at a time: the block holds ``<dst>.lock`` (:func:`_lock_snapshot`).
    Holding it, it first removes what a killed publish left (:func:`leftovers`): a full copy of
    the warehouse, and a write-ahead log DuckDB would replay into the next staging file of that
    name — a process id comes round again.

    Raises
    ------
    FileNotFoundError
        When ``src`` does not exist.
    DatabaseBusy
        When another publish of ``dst`` is running, or another process writes ``src``.
    """
    if not src.exists():
        raise FileNotFoundError(
            f"warehouse {str(src)!r} does not exist; run `crmkit demo` or `crmkit ingest` first"
        )
    dst.parent.mkdir(parents=True, exist_ok=True)
    unlock = _lock_snapshot(dst)
    tmp = dst.with_name(f"{dst.name}.staging-{os.getpid()}")
    masked = tmp.with_name(f"{tmp.name}.dashboard")
    staged = [tmp, masked, *(f.with_name(f.name + ".wal") for f in (tmp, masked))]
    umask = os.umask(0o077)
    try:
        for stale in leftovers(dst):
            stale.unlink(missing_ok=True)
        _copy_database(src, tmp)
        snap = connect(tmp, read_only=False)
        try:
            keep = {*schema.TABLES, *schema.SYSTEM_SCHEMAS} - schema.WAREHOUSE_ONLY
            for name in set(snap.list_tables()) - keep:
                snap.drop_table(name)
            yield snap
            snap.raw_sql("CHECKPOINT")
            _write_copy(snap, masked, dashboard)
        finally:
            snap.disconnect()
    except BaseException:
        for f in staged:
            f.unlink(missing_ok=True)
        raise
    else:
        os.replace(tmp, analyst_path(dst))
        os.replace(masked, dst)
    finally:
        os.umask(umask)
        unlock()


def leftovers(dst: Path) -> list[Path]:
    """The staging files (``<dst>.staging-<pid>``, ``<dst>.staging-<pid>.dashboard`` and their
    ``.wal``) beside the snapshot ``dst``: none once every publish has ended, whether it
    succeeded or failed; a publish killed midway leaves its own, which the next one removes."""
    pattern = re.compile(rf"{re.escape(dst.name)}\.staging-\d+(\.dashboard)?(\.wal)?")
    if not dst.parent.is_dir():
        return []
    return sorted(p for p in dst.parent.iterdir() if pattern.fullmatch(p.name))


def _lock_snapshot(dst: Path) -> Callable[[], None]:
    """Take ``<dst>.lock`` (``flock``, exclusive) for one publish of ``dst``; return the function
    that releases it and removes the lock file.

    A second publish of the same snapshot fails at once with :class:`DatabaseBusy` naming the
    first (its process id is written in the file) rather than remove the first one's staging
    file. A lock file left by a killed publish is taken over: the kernel released its lock
    with the process.

    Raises
    ------
    DatabaseBusy
        When another process holds the lock.
    """
    path = dst.with_name(dst.name + ".lock")
    while True:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            written = os.read(fd, 32).decode("ascii", "replace").strip()
            os.close(fd)
            pid = int(written) if written.isdigit() else None
            raise DatabaseBusy(
                dst, pid, _program(pid) if pid else "", doing="being published"
            ) from None
        # the publish that held it removes the file as it ends: lock the file that is there now
        with contextlib.suppress(FileNotFoundError):
            if os.path.samestat(os.fstat(fd), os.stat(path)):
                break
        os.close(fd)

    def unlock() -> None:
        path.unlink(missing_ok=True)
        os.close(fd)

    try:
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode("ascii"))
    except OSError as e:
        unlock()
        raise OSError(e.errno, e.strerror, str(path)) from e
    return unlock


def _write_copy(con: Backend, path: Path, transform: Callable[[str, ir.Table], ir.Table]) -> None:
    """Write every stored table of ``con``, passed through ``transform(name, table)``, into a
    new database file ``path`` (same names, columns and types)."""
    con.attach(path, name="_copy")
    try:
        for name in _stored_tables(con):
            con.create_table(name, transform(name, con.table(name)), database=("_copy", "main"))
        con.raw_sql("CHECKPOINT _copy")
    finally:
        con.detach("_copy")


def stored_counts(con: Backend) -> dict[str, int]:
    """Rows of every table stored in the database, by name.

    Only the file's own tables: not the in-memory tables Ibis registers on a connection (their
    random names would make two identical databases differ).
    """
    return {n: int(con.table(n).count().execute()) for n in _stored_tables(con)}


def _stored_tables(con: Backend) -> list[str]:
    stored = con.raw_sql(
        "SELECT table_name FROM duckdb_tables() WHERE NOT temporary "
        "AND database_name = current_database()"
    ).fetchall()
    return sorted(r[0] for r in stored)


def data_as_of(con: BaseBackend) -> datetime:
    """The data clock: the moment every analysis is computed at by default.

    A published snapshot's clock is the one ``publish`` recorded in ``publish_info``. Otherwise
    it is the latest timestamp in the data: the maximum of the :data:`crmkit.schema.DATA_CLOCK`
    columns over the tables present. Anchoring on the data rather than on today's clock makes
    results reproducible (the same warehouse gives the same scores next month); an empty
    warehouse has nothing to anchor on and falls back to the current time.

    Parameters
    ----------
    con : ibis backend
        A warehouse or a published snapshot.

    Returns
    -------
    datetime
        A naive timestamp, like the warehouse's.

    Examples
    --------
    >>> con = connect(":memory:", read_only=False)
    >>> create_schema(con)
    >>> con.insert("customers", pd.DataFrame({"customer_id": ["C1"], "customer_sk": [1],
    ...     "name": ["A"], "created_at": [datetime(2024, 5, 1, 9)]}))
    >>> data_as_of(con)
    datetime.datetime(2024, 5, 1, 9, 0)
    """
    present = set(con.list_tables())
    if "publish_info" in present and "as_of" in con.table("publish_info").columns:
        as_of = con.table("publish_info").as_of.max().to_pyarrow().as_py()
        if as_of is not None:
            return pd.Timestamp(as_of).to_pydatetime()
    latest = [
        con.table(t)[c].max().to_pyarrow().as_py() for t, c in schema.DATA_CLOCK if t in present
    ]
    latest = [v for v in latest if v is not None]
    return max(latest) if latest else datetime.now().replace(microsecond=0)


def _copy_database(src: Path, dst: Path) -> None:
    """Copy the warehouse file (and its write-ahead log, if any) to ``dst`` byte for byte.

    A file copy runs at disk speed (≈ 1 s for the 10 M-order demo's 0.7 GB) where re-inserting
    every table through SQL took 13 s at 1 M orders. The copy happens while a read-only
    connection holds the warehouse's lock, so no writer can be half-way through a change.
    """
    import shutil

    import duckdb

    with _busy_as_error(src):
        lock = duckdb.connect(str(src), read_only=True)
    try:
        shutil.copyfile(src, dst)
        wal = src.with_name(src.name + ".wal")
        if wal.exists():
            shutil.copyfile(wal, dst.with_name(dst.name + ".wal"))
    finally:
        lock.close()


def version() -> str:
    """The installed crmkit version ("unknown" when not installed)."""
    from importlib.metadata import version as _v

    try:
        return _v("crmkit")
    except Exception:
        return "unknown"
