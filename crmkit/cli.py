"""The ``crmkit`` command: ``demo``, ``ingest``, ``publish``, ``serve``, ``quality``,
``merge-duplicates``, ``schema``, ``report``, ``export``, ``config init``.

Exit codes: 0 success; 1 some rows were rejected (``ingest``); 2 a file or command failed.
The warehouse is ``--db``, else ``$CRMKIT_DB``, else ``data/warehouse.duckdb``; the published
snapshot is ``--out``, else ``$CRMKIT_PUBLISHED``, else ``data/published.duckdb``.

A failed command prints one line, ``crmkit <command>: <what went wrong>; <what became of the
data>``, and exits 2 (:func:`failure_line`): a file another process holds, a full disk, an
unreadable file, a bad value. Anything else is unexpected: its traceback goes to
``<command>-failed-<time>.log`` beside the warehouse (the snapshot for publish, report and
serve), and the line names that file.
"""

from __future__ import annotations

import argparse
import errno
import os
import re
import sys
import time
import traceback
from collections.abc import Iterator, Sequence
from datetime import date, datetime
from pathlib import Path

EXIT_OK, EXIT_REJECTS, EXIT_FAILED = 0, 1, 2


def _size(n: int) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{n:,.0f} {unit}" if unit == "B" else f"{n:,.1f} {unit}"
        n /= 1024
    raise AssertionError


def cmd_demo(args: argparse.Namespace) -> int:
    from crmkit import db, demo

    path = db.warehouse_path(args.db)
    if path.exists() and not args.replace:
        print(
            f"crmkit demo: {path} already exists; pass --replace to overwrite it with demo data",
            file=sys.stderr,
        )
        return EXIT_FAILED
    db.check_free(path)
    # built beside the warehouse and moved over it when complete: a demo that fails or is
    # interrupted leaves the old warehouse as it was, and no half-built one for publish to find
    tmp = path.with_name(f"{path.name}.demo-{os.getpid()}")
    try:
        con = db.connect(tmp, read_only=False)
        try:
            res = demo.generate(
                con,
                args.customers,
                seed=args.seed,
                as_of=args.as_of,
                orders_per_customer=args.orders_per_customer,
                progress=not args.quiet,
            )
            con.raw_sql("CHECKPOINT")
        finally:
            con.disconnect()
        path.with_name(path.name + ".wal").unlink(missing_ok=True)
        os.replace(tmp, path)
    finally:
        for leftover in (tmp, tmp.with_name(tmp.name + ".wal")):
            leftover.unlink(missing_ok=True)
    counts = ", ".join(f"{t} {n:,}" for t, n in res.rows.items())
    print(f"demo warehouse {path}: {counts}")
    print(f"generated in {res.seconds:.1f} s; file size {_size(path.stat().st_size)}")
    return EXIT_OK


def cmd_ingest(args: argparse.Namespace) -> int:
    from crmkit import db
    from crmkit.ingest import IngestError, ingest

    path = db.warehouse_path(args.db)
    created = not path.exists()
    con = db.connect(path, read_only=False)
    done: list[tuple[str, object, int]] = []  # (file, IngestResult or None, exit code)
    try:
        for f in args.files:
            try:
                res = ingest(
                    f,
                    args.table,
                    con=con,
                    progress=not args.quiet,
                    add_missing=args.add_missing,
                    decimal_comma=args.decimal_comma,
                )
            except IngestError as e:
                print(f"crmkit ingest: {e}", file=sys.stderr)
                print(
                    "nothing was written for this file; the warehouse is unchanged", file=sys.stderr
                )
                done.append((f, None, EXIT_FAILED))
                continue
            print(res.report())
            done.append((f, res, EXIT_OK if res.ok else EXIT_REJECTS))
    finally:
        con.disconnect()
        if created and not any(res for _, res, _ in done):
            # no file loaded: leave no empty warehouse behind for publish to find
            for leftover in (path, path.with_name(path.name + ".wal")):
                leftover.unlink(missing_ok=True)
    worst = max((code for _, _, code in done), default=EXIT_OK)
    if len(args.files) > 1:
        print(ingest_summary(done, worst))
    return worst


#: How ``crmkit ingest``'s summary names each exit code.
INGEST_STATUS = {EXIT_OK: "all loaded", EXIT_REJECTS: "rows rejected", EXIT_FAILED: "failed"}


def ingest_summary(done: list[tuple[str, object, int]], worst: int) -> str:
    """One line per file of a multi-file ingest: rows in, loaded, rejected and its exit code
    (a failed file wrote nothing: its counts are "-")."""
    rows = [("file", "rows in", "loaded", "rejected", "exit")]
    for f, res, code in done:
        counts = (res.rows_in, res.loaded, res.rejected) if res else None
        cells = [f"{n:,}" for n in counts] if counts else ["-"] * 3
        rows.append((str(f), *cells, f"{code} {INGEST_STATUS[code]}"))
    width = max(len(r[0]) for r in rows)
    lines = [f"summary of {len(done)} files (exit {worst}, the worst of them):"]
    lines += [f"  {r[0]:<{width}}  {r[1]:>9}  {r[2]:>9}  {r[3]:>9}  {r[4]}" for r in rows]
    return "\n".join(lines)


def _failure_log(beside: Path, command: str, err: BaseException) -> Path:
    """Write a failed command's traceback to ``<command>-failed-<time>.log`` beside the file
    ``beside`` (in the temporary directory when that folder cannot be written); the caller
    prints the path. Mode 0600: the values in a traceback are the company's data."""
    import tempfile

    name = f"{command}-failed-{datetime.now():%Y%m%d-%H%M%S}.log"
    text = (f"crmkit {command} failed at {datetime.now():%Y-%m-%d %H:%M:%S}\n{err}\n\n"
            + "".join(traceback.format_exception(err)))  # fmt: skip
    for folder in (beside.parent, Path(tempfile.gettempdir())):
        log = folder / name
        try:
            folder.mkdir(parents=True, exist_ok=True)
            fd = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with open(fd, "w", encoding="utf-8") as f:
                f.write(text)
            return log
        except OSError:
            continue
    raise err


def cmd_publish(args: argparse.Namespace) -> int:
    from crmkit import db, i18n
    from crmkit.publish import PublishError, publish

    def step_said(step: str, message: str) -> None:
        # one line per finished step ("  name   1.2 s", read by bench.publish); skipped steps
        # and the churn step's sub-steps as they happen
        if message.startswith("ok "):
            print(f"  {step:<28}{float(message.split()[1]):>10.1f} s", file=sys.stderr, flush=True)
        elif message != "start":
            print(f"  {step:<28}{message}", file=sys.stderr, flush=True)

    try:
        res = publish(args.db, args.out, config=args.config, progress=step_said)
    except PublishError as e:
        if _busy(e) or _disk_full(e) is not None:
            raise  # one line from main: which step it hit does not matter
        snapshot = db.published_path(args.out)
        log = _failure_log(snapshot, "publish", e)
        print(f"crmkit publish: {e}", file=sys.stderr)
        print(f"the traceback is in {log}", file=sys.stderr)
        kept = f"stays as it was: {snapshot}" if snapshot.exists() else "was not written"
        print(f"the previous snapshot {kept}", file=sys.stderr)
        return EXIT_FAILED
    print(
        f"published {res.path} in {res.seconds:.1f} s ({_size(res.bytes)}, personal data "
        f"masked); in clear for the analyst role: {db.analyst_path(res.path)}"
    )
    for name, n in res.tables.items():
        print(f"  {name:<28}{n:>12,}")
    skipped = [o for o in res.outcomes if o.status == "skipped"]
    if skipped:
        print(f'{len(skipped)} step(s) skipped (their pages say "not available"):', file=sys.stderr)
        for o in skipped:
            print(f"  {o.step:<28}{i18n.reason_text(o.reason, 'en')}", file=sys.stderr)
    return EXIT_OK


def cmd_config_init(args: argparse.Namespace) -> int:
    from crmkit import config

    written = config.init(args.directory, force=args.force)
    print(f"settings written to {args.directory}: {', '.join(p.name for p in written)}")
    print(f"edit them, then: crmkit publish --config {args.directory}")
    return EXIT_OK


def cmd_quality(args: argparse.Namespace) -> int:
    from crmkit import db, quality

    con = db.connect(db.warehouse_path(args.db), read_only=True)
    try:
        print(quality.table_quality(con).to_pandas().to_string(index=False))
    finally:
        con.disconnect()
    return EXIT_OK


def cmd_merge_duplicates(args: argparse.Namespace) -> int:
    from crmkit import db, merge

    writes = args.apply or args.undo is not None
    con = db.connect(db.warehouse_path(args.db), read_only=not writes)
    try:
        if args.undo is not None:
            print(merge.format_undo(merge.undo_merge(con, args.undo)))
        elif args.apply:
            print(merge.format_plan(merge.apply_merges(con)))
        else:
            print(merge.format_plan(merge.plan_merges(con)))
    finally:
        con.disconnect()
    return EXIT_OK


def cmd_report(args: argparse.Namespace) -> int:
    from crmkit import report

    t0 = time.perf_counter()
    path = report.write_report(
        args.out, published=args.published, period=args.period, lang=args.lang, config=args.config
    )
    print(
        f"report {path}: {_size(path.stat().st_size)}, written in {time.perf_counter() - t0:.1f} s"
    )
    return EXIT_OK


def cmd_export(args: argparse.Namespace) -> int:
    from crmkit import db, schema, views

    if args.list == "help":
        print(views.lists_help())
        return EXIT_OK
    if (args.list is None) == (args.segment is None):
        raise ValueError(
            "pass --segment CODE or --list NAME (one of them; `crmkit export --list help` "
            "names them); nothing was written"
        )
    if args.out is None:
        raise ValueError("--out FILE.csv or FILE.xlsx is required; nothing was written")
    if args.owner and args.segment:
        raise ValueError("--owner applies to lists, not to a segment; nothing was written")
    fmt = views.export_format(args.out)
    teams = list(schema.TABLES["customers"]["owner_team"].allowed)
    for flag, value, known in (
        ("--in-segment", args.in_segment, views.SEGMENTS),
        ("--owner-team", args.owner_team, teams),
    ):
        if value is not None and value not in known:
            raise ValueError(
                f"{flag} {value!r} is not one of {', '.join(known)}; nothing was written"
            )
    f = views.Filters(
        period=args.period,
        province=args.province,
        city=args.city,
        segment=args.in_segment,
        owner_team=args.owner_team,
    )
    snapshot = (db.analyst_path if args.role == "analyst" else db.published_path)(args.published)
    if not snapshot.exists():
        raise FileNotFoundError(
            f"no published snapshot at {str(snapshot)!r}; run `crmkit publish` first (or pass "
            "--published PATH); nothing was written"
        )
    con = views.open_snapshot(args.published, role=args.role)
    try:
        if args.segment:
            df, name = views.segment_export(con, args.segment, f, lang=args.lang, role=args.role)
        else:
            df, name = views.list_export(
                con, args.list, f, lang=args.lang, role=args.role, owner=args.owner
            )
    finally:
        con.disconnect()
    path = db.replace_file(args.out, views.export_frame(df, name, f, args.lang, fmt))
    print(f"export {path}: {name}, {len(df):,} rows ({args.role} role; {f.describe('en')})")
    return EXIT_OK


#: ``crmkit schema``'s columns: (heading, describe() key); the accepted headers come last.
SCHEMA_COLUMNS = (
    ("table", "table"),
    ("column", "column"),
    ("type", "type"),
    ("key", "key"),
    ("in a file", "in_file"),
    ("if missing", "if_missing"),
    ("references", "references"),
    ("values", "allowed"),
    ("headers accepted", "headers"),
)


def cmd_schema(args: argparse.Namespace) -> int:
    from crmkit import schema
    from crmkit.ingest import normalise_header

    rows = schema.describe()
    if args.table:
        rows = [r for r in rows if r["table"] == schema.table(args.table).name]
    cells = []
    for r in rows:
        # one spelling per header ingest tells apart ("Customer ID" = "customer id")
        headers: dict[str, str] = {}
        for h in r["headers"]:
            headers.setdefault(normalise_header(h), h)
        shown = {
            **r,
            "key": "key" if r["key"] else "",
            "allowed": "/".join(schema.TABLES[r["table"]][r["column"]].allowed or ()),
            "headers": ", ".join(headers.values()),
        }
        cells.append([str(shown[k]) for _, k in SCHEMA_COLUMNS])
    table = [[h for h, _ in SCHEMA_COLUMNS], *cells]
    widths = [max(len(line[i]) for line in table) for i in range(len(SCHEMA_COLUMNS) - 1)]
    for line in table:
        padded = [v.ljust(w) for v, w in zip(line, widths, strict=False)]
        print("  ".join([*padded, line[-1]]).rstrip())
    return EXIT_OK


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="crmkit", description="Customer-management workbench (客户管理) over DuckDB."
    )
    sub = p.add_subparsers(dest="command", required=True)

    d = sub.add_parser("demo", help="build a seeded synthetic warehouse with planted signals")
    d.add_argument("--customers", type=int, default=10_000, help="number of customers")
    d.add_argument("--seed", type=int, default=42)
    d.add_argument("--orders-per-customer", type=float, default=10.5)
    d.add_argument(
        "--as-of",
        type=date.fromisoformat,
        default=date(2026, 9, 30),
        help="last day of the demo history (YYYY-MM-DD)",
    )
    d.add_argument("--db", help="warehouse file (default $CRMKIT_DB or data/warehouse.duckdb)")
    d.add_argument("--replace", action="store_true", help="overwrite an existing warehouse")
    d.add_argument("--quiet", action="store_true")
    d.set_defaults(func=cmd_demo)

    i = sub.add_parser("ingest", help="load CSV / Excel / Parquet files into a table")
    i.add_argument("files", nargs="+", metavar="FILE")
    i.add_argument("--table", required=True, help="target table, e.g. customers or orders")
    i.add_argument("--db", help="warehouse file (default $CRMKIT_DB or data/warehouse.duckdb)")
    i.add_argument("--quiet", action="store_true", help="no progress bar")
    i.add_argument(
        "--add-missing",
        action="store_true",
        help="add a stub customer / product (marked derived) for every key the file references "
        "that the warehouse lacks, instead of rejecting those rows",
    )
    i.add_argument(
        "--decimal-comma",
        action="store_true",
        help="numbers in CSV files are written with a decimal comma: 1.234,5 or 1 234,5 = "
        "1234.5 (without it such values are rejected as ambiguous; Excel and Parquet numbers "
        "are typed and read as they are)",
    )
    i.set_defaults(func=cmd_ingest)

    pub = sub.add_parser("publish", help="build the dashboard snapshot and swap it in atomically")
    pub.add_argument("--db", help="warehouse file")
    pub.add_argument(
        "--out", help="snapshot file (default $CRMKIT_PUBLISHED or data/published.duckdb)"
    )
    pub.add_argument(
        "--config",
        help="the company's settings directory (default $CRMKIT_CONFIG, else the demo's "
        "settings for the demo warehouse, else neutral defaults: no KPI targets, no response "
        "register); create one with `crmkit config init DIR`",
    )
    pub.set_defaults(func=cmd_publish)

    cfg = sub.add_parser("config", help="the company's settings (rules, taxonomy, targets)")
    cfg_sub = cfg.add_subparsers(dest="config_command", required=True)
    init = cfg_sub.add_parser("init", help="write the current defaults into DIR to edit")
    init.add_argument("directory", metavar="DIR")
    init.add_argument("--force", action="store_true", help="overwrite files already in DIR")
    init.set_defaults(func=cmd_config_init)

    q = sub.add_parser("quality", help="data-quality scores per table (准确性和完整性)")
    q.add_argument("--db", help="warehouse file")
    q.set_defaults(func=cmd_quality)

    m = sub.add_parser(
        "merge-duplicates",
        help="merge duplicate-candidate customers into one survivor (a dry run without --apply)",
    )
    m.add_argument("--db", help="warehouse file")
    how = m.add_mutually_exclusive_group()
    how.add_argument(
        "--apply", action="store_true", help="merge every group, in one transaction, recorded"
    )
    how.add_argument(
        "--undo", type=int, metavar="MERGE_ID", help="reverse one recorded merge exactly"
    )
    m.set_defaults(func=cmd_merge_duplicates)

    from crmkit import serve

    srv = sub.add_parser("serve", help="serve the dashboards (Voila) over the published snapshot")
    serve.add_arguments(srv)
    srv.set_defaults(func=serve.serve_args)

    r = sub.add_parser(
        "report", help="the management report: one self-contained HTML file (KPIs, alerts, lists)"
    )
    r.add_argument(
        "--period",
        help="2025-Q3, 2025-07 or 2025 (default: the last complete quarter of the data)",
    )
    r.add_argument("--lang", choices=["zh", "en"], default="zh")
    r.add_argument("--out", help="HTML file (default report-<period>-<lang>.html)")
    r.add_argument(
        "--published", help="snapshot (default $CRMKIT_PUBLISHED or data/published.duckdb)"
    )
    r.add_argument("--config", help=serve.CONFIG_CHECK_HELP)
    r.set_defaults(func=cmd_report)

    x = sub.add_parser(
        "export",
        help="write a page's export (a segment's customers, a list) as CSV or Excel",
        description="Writes the file a dashboard page's export button gives for the same "
        "filters: the filters and export time in its header lines, formula-safe cells, "
        "personal data masked for the dashboard role. `crmkit export --list help` names the "
        "lists and segments.",
    )
    what = x.add_mutually_exclusive_group()
    what.add_argument(
        "--segment",
        metavar="CODE",
        help="the customers of one classification segment, e.g. important_value (the "
        "classification page's segment list)",
    )
    what.add_argument(
        "--list",
        metavar="NAME",
        help="a page's list: churn_warning, overdue_contacts, care_calendar, sla_breaches, "
        "open_backlog_by_team, stale_by_owner, duplicate_candidates ('help' describes them)",
    )
    x.add_argument("--out", metavar="FILE", help="FILE.csv or FILE.xlsx (required)")
    x.add_argument(
        "--role",
        choices=["dashboard", "analyst"],
        default="dashboard",
        help="dashboard (default): personal data masked; analyst: in clear, from the "
        "analyst snapshot",
    )
    x.add_argument(
        "--published", help="snapshot (default $CRMKIT_PUBLISHED or data/published.duckdb)"
    )
    x.add_argument("--lang", choices=["zh", "en"], default="zh", help="headers and labels")
    x.add_argument(
        "--period",
        default="all",
        help="the filter bar's period: all (default), 30d, 90d or 365d up to the data's date",
    )
    x.add_argument("--province", help="only customers of this province")
    x.add_argument("--city", help="only customers of this city")
    x.add_argument(
        "--in-segment", metavar="CODE", help="only customers of this segment (the filter bar's)"
    )
    x.add_argument("--owner-team", help="only customers of this owner team (sales, service …)")
    x.add_argument(
        "--owner", help="only this owner's rows (churn_warning, overdue_contacts, care_calendar)"
    )
    x.add_argument("--quiet", action="store_true", help="no timing line")
    x.set_defaults(func=cmd_export)

    s = sub.add_parser(
        "schema",
        help="the data dictionary: tables, columns, accepted headers",
        description="One line per column: its type, whether a file must have it ('in a file'), "
        "what ingest stores when a file leaves it out ('if missing'), the table it references, "
        "its allowed values and every header ingest accepts for it. Headers match ignoring "
        "case, spaces, _ and -, full-width letters and a trailing unit in parentheses "
        "(金额（元） = 金额).",
    )
    s.add_argument("--table", help="only this table, e.g. orders")
    s.set_defaults(func=cmd_schema)
    return p


def _chain(err: BaseException | None) -> Iterator[BaseException]:
    """``err`` and the exceptions it was raised from or while handling, outermost first: a
    full disk often surfaces as a later "Current transaction is aborted"."""
    seen: set[int] = set()
    while err is not None and id(err) not in seen:
        seen.add(id(err))
        yield err
        err = err.__cause__ or err.__context__


#: DuckDB's spelling of a full disk: 'Could not write file "w.duckdb.wal": No space left on
#: device' (the operating system's message for ENOSPC / EDQUOT).
_DISK_FULL_TEXT = tuple(os.strerror(n) for n in (errno.ENOSPC, errno.EDQUOT))
_DUCKDB_FILE = re.compile(r'file "(?P<path>[^"]+)"')


def _disk_full(err: BaseException) -> str | None:
    """The file being written when the disk filled up ("" when unknown), found anywhere in
    ``err``'s chain; None when the disk is not full."""
    import duckdb

    for e in _chain(err):
        if isinstance(e, OSError) and e.errno in (errno.ENOSPC, errno.EDQUOT):
            # a copy's error names its source first (shutil.copyfile): the target is filename2
            return str(e.filename2 or e.filename or "")
        if isinstance(e, duckdb.Error) and any(t in str(e) for t in _DISK_FULL_TEXT):
            where = _DUCKDB_FILE.search(str(e))
            return where["path"] if where else ""
    return None


def _busy(err: BaseException) -> Exception | None:
    """The :class:`crmkit.db.DatabaseBusy` anywhere in ``err``'s chain, if any."""
    from crmkit.db import DatabaseBusy

    return next((e for e in _chain(err) if isinstance(e, DatabaseBusy)), None)


def _what_stays(args: argparse.Namespace) -> str:
    """What a failed command left of the data: each command writes in one transaction, a
    staging file or a temporary file, so a failure writes nothing."""
    from crmkit import db

    if args.command == "publish":
        snapshot = db.published_path(args.out)
        if snapshot.exists():
            return f"nothing was written: the previous snapshot stays as it was ({snapshot})"
        return "nothing was written: there is no snapshot yet"
    if args.command == "ingest":
        return "nothing of the file being loaded was written (files reported above stay loaded)"
    if args.command == "config":
        return "the settings files may be incomplete: run it again with --force"
    return "nothing was written"


def _log_beside(args: argparse.Namespace) -> Path:
    """The file a command's failure log goes beside: the snapshot for the commands that write
    or read it, the warehouse for those that write or read it, else the current folder."""
    from crmkit import db

    if args.command == "publish":
        return db.published_path(args.out)
    if args.command in {"report", "serve", "export"}:
        return db.published_path(args.published)
    if hasattr(args, "db"):
        return db.warehouse_path(args.db)
    return Path.cwd() / args.command


def failure_line(args: argparse.Namespace, err: Exception) -> str:
    """The one line ``crmkit <command>`` prints when it fails with ``err``.

    Known failures say what happened and what to do: a database another process holds (which
    one; try again later); a full disk (the file; nothing was written; free space); an error
    reading or writing a file; a missing file, a bad value or setting (the error's own
    message). An unexpected error's traceback is written to a log file
    (:func:`_failure_log`) that the line names.
    """
    import duckdb

    busy, full = _busy(err), _disk_full(err)
    if busy is not None:
        return str(busy)
    if full is not None:
        where = f" writing {full!r}" if full else ""
        return (
            f"the disk is full (no space left on device){where}; {_what_stays(args)}; "
            "free some space and run it again"
        )
    if isinstance(err, (FileNotFoundError, ValueError)):
        return str(err)
    if isinstance(err, (OSError, duckdb.IOException)):
        return f"{' '.join(str(err).split())}; {_what_stays(args)}"
    log = _failure_log(_log_beside(args), args.command, err)
    said = " ".join(str(err).split())[:200]
    what = f"{type(err).__name__}: {said}" if said else type(err).__name__
    return f"unexpected error ({what}); {_what_stays(args)}; the traceback is in {log}"


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    t0 = time.perf_counter()
    try:
        code = args.func(args)
    except Exception as e:
        print(f"crmkit {args.command}: {failure_line(args, e)}", file=sys.stderr)
        return EXIT_FAILED
    if not getattr(args, "quiet", False):
        print(f"[{args.command} took {time.perf_counter() - t0:.1f} s]", file=sys.stderr)
    return code


if __name__ == "__main__":
    sys.exit(main())
