"""Issue 17's hostile-input and fault probe, re-run case by case against the real CLI and server.

Each case generates its input in a temporary folder (the ``hostile_*`` fixtures of
``tests/fixtures/make_fixtures.py`` where they fit, imported, not copied), runs ``python -m
crmkit …`` as a subprocess (or ``crmkit serve`` and Debian's Chromium through Playwright, never
``playwright install``), and records one row: what the issue says happened before (quoted),
what happens now (exit code, first line of stderr, rows in / loaded / rejected, the stored
values that matter) and whether that meets the issue's "Build" requirement (every named check
true, :func:`verdict`).

Groups: ``ingest``, ``exports``, ``pii``, ``faults``, ``serving`` and ``held`` (what held in
the issue's probe, checked again). Left out: "15 clients during a publish → 602 × busy", measured by
``bench/serve_load.py``. The 2.86 M-row reconciliation runs at 300,000 rows. A full disk is a
tmpfs of 16 MiB mounted for the case (root only; without it the case falls back to
``/dev/full`` as the warehouse's write-ahead log, as ``tests/test_faults.py`` does, and says so).

The demo warehouse (2,000 customers, seed 42) is cached in ``bench/.data/probe/``; each run
plants formula-like names, personal data typed into free text
(``tests/test_dashboard_privacy.PLANT``) and XSS payloads into a copy and publishes it.

Results go under ``"hostile_probe"`` in ``bench/results/<date>.json`` (other keys kept) and a
Markdown table is printed. About 15 minutes on 2 cores.

This module holds the pass rule, the table, the scans and the helpers that run crmkit; the cases
are in ``ingest_cases``, ``data_cases`` (the planted snapshot: pii, exports), ``fault_cases``
(faults, and SIGKILL / reconciliation of ingest) and ``serve_cases``; ``__main__`` runs them.

Usage::

    python -m bench.hostile_probe [--out bench/results/<date>.json] [--only ingest,pii]
"""

from __future__ import annotations

import hashlib
import os
import re
import subprocess
import sys
import time
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import duckdb

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:  # tests.fixtures is imported from the checkout
    sys.path.insert(0, str(ROOT))

from tests.fixtures import make_fixtures as fx  # noqa: E402

RESULTS = ROOT / "bench" / "results"
DATA = ROOT / "bench" / ".data" / "probe"
FIXTURES = ROOT / "tests" / "fixtures"
DEMO_CUSTOMERS = 2000
RECONCILE_ROWS = 300_000
TOKEN = "probe-" + uuid.uuid4().hex
GROUPS = ("ingest", "exports", "pii", "faults", "serving", "held")
LEFT_OUT = [
    "15 clients during a publish got 602 × 'busy' (503): measured by bench/serve_load.py "
    "(20 Chromium clients while publish replaces the snapshot), run separately",
]


# ---------------------------------------------------------------------------------------------
# pure parts: the pass rule, the table, reading ingest's report
# ---------------------------------------------------------------------------------------------


@dataclass
class Row:
    """One case of the probe."""

    key: str
    group: str
    case: str
    before: str
    now: str
    checks: dict[str, bool]
    details: dict = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return verdict(self.checks)[0]


def verdict(checks: dict[str, bool]) -> tuple[bool, list[str]]:
    """The pass rule: a case passes when it made at least one check and every check is true.
    Returns (passed, the names of the checks that failed, in order)."""
    failed = [name for name, good in checks.items() if not good]
    return bool(checks) and not failed, failed


def _cell(text: str, limit: int = 400) -> str:
    """Text for one Markdown table cell: one line, pipes escaped, at most ``limit`` characters."""
    text = " ".join(str(text).split())
    if len(text) > limit:
        text = text[: limit - 1] + "…"
    return text.replace("|", "\\|")


def markdown_table(rows: Iterable[dict]) -> str:
    """``| # | case | before (issue) | now | ok |``, one line per row (dicts with ``case``,
    ``before``, ``now`` and ``checks``), numbered from 1; a failed row says which checks failed."""
    lines = ["| # | case | before (issue) | now | ok |", "|---|---|---|---|---|"]
    for i, r in enumerate(rows, start=1):
        passed, failed = verdict(r["checks"])
        ok = "yes" if passed else "**NO** (" + (", ".join(failed) or "no check") + ")"
        lines.append(
            f"| {i} | {_cell(r['case'])} | {_cell(r['before'])} | {_cell(r['now'], 700)} "
            f"| {_cell(ok)} |"
        )
    return "\n".join(lines)


_REPORT = re.compile(
    r"^(?P<file>\S.*) → (?P<table>\w+) \(.*\), run \d+\n"
    r"\s+rows in\s+(?P<rows_in>[\d,]+)\n"
    r"\s+loaded\s+(?P<loaded>[\d,]+).*\n"
    r"\s+rejected\s+(?P<rejected>[\d,]+)",
    re.M,
)


def ingest_reports(stdout: str) -> list[dict]:
    """Each file's reconciliation as ``crmkit ingest`` prints it, in order: file, table, rows_in,
    loaded, rejected (a failed file prints none)."""
    return [
        {
            "file": m["file"],
            "table": m["table"],
            **{k: int(m[k].replace(",", "")) for k in ("rows_in", "loaded", "rejected")},
        }
        for m in _REPORT.finditer(stdout)
    ]


def first_line(text: str) -> str:
    return next((line for line in text.splitlines() if line.strip()), "")


def summary_codes(lines: Iterable[str]) -> list[int]:
    """The exit code of each file line of ``crmkit ingest``'s summary, in order."""
    found = (re.search(r"\s(\d) (?:all loaded|rows rejected|failed)$", s) for s in lines)
    return [int(m[1]) for m in found if m]


_DIGITS = re.compile(rb"\d{8,}")
_EMAILS = re.compile(rb"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+")


def leaks(text: bytes, phones: set[str], emails: set[str]) -> set[str]:
    """The clear phones (8 digits or more, as digit runs) and emails that occur in ``text``."""
    digits = {m.decode() for m in _DIGITS.findall(text)}
    found = {m.decode() for m in _EMAILS.findall(text)}
    return {p for p in phones if p and len(p) >= 8 and p.lstrip("+") in digits} | (found & emails)


def _is_number(cell: str) -> bool:
    try:
        float(cell)
    except ValueError:
        return False
    return True


def formula_cells(cells: Iterable[str], starts: tuple[str, ...]) -> tuple[list[str], list[str]]:
    """(cells a spreadsheet would read as a formula: text starting with one of ``starts`` that is
    not a number; cells neutralised with a leading ``'``)."""
    cells = list(cells)
    live = [c for c in cells if c.startswith(starts) and not _is_number(c)]
    safe = [c for c in cells if c[:1] == "'" and c[1:2] != "" and c[1:2] in "".join(starts)]
    return live, safe


def combine(previous: dict | None, new: dict) -> dict:
    """``new`` (a partial run) merged into ``previous``: its rows replace those with the same key
    where they were, rows it adds go at the end; the counts are those of the merged rows."""
    if not previous:
        return new
    fresh = {r["key"]: r for r in new["rows"]}
    rows = [fresh.pop(r["key"], r) for r in previous["rows"]] + list(fresh.values())
    rows = [{**r, "n": i} for i, r in enumerate(rows, start=1)]
    return {
        **new,
        "wall_s": previous.get("wall_s"),
        "rerun": {"wall_s": new["wall_s"], "keys": [r["key"] for r in new["rows"]]},
        "cases": len(rows),
        "passed": sum(r["ok"] for r in rows),
        "rows": rows,
    }


# ---------------------------------------------------------------------------------------------
# running crmkit
# ---------------------------------------------------------------------------------------------


def _env() -> dict[str, str]:
    """This checkout's crmkit, and no crmkit setting from the caller's environment."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CRMKIT_")}
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH")) if p)
    return env


def _python(*argv: str | Path, **kwargs) -> subprocess.Popen:
    """``python argv…`` with this checkout's crmkit."""
    return subprocess.Popen([sys.executable, *map(str, argv)], env=_env(), text=True, **kwargs)


@dataclass
class Run:
    argv: list[str]
    code: int
    out: str
    err: str
    seconds: float

    @property
    def err1(self) -> str:
        return first_line(self.err)

    @property
    def reports(self) -> list[dict]:
        return ingest_reports(self.out)

    def facts(self) -> dict:
        """What the row records of the command."""
        argv = [a.replace(str(ROOT) + "/", "") for a in self.argv[2:]]
        return {
            "command": " ".join(["crmkit", *argv[1:]]),
            "exit": self.code,
            "stderr_first_line": self.err1,
            "stderr_lines": len(self.err.splitlines()),
            "reports": self.reports,
            "seconds": round(self.seconds, 1),
        }


def crmkit(*args: str | Path, cwd: Path | None = None, timeout: float = 900) -> Run:
    """``python -m crmkit args…`` with this checkout's crmkit."""
    argv = [sys.executable, "-m", "crmkit", *map(str, args)]
    t0 = time.perf_counter()
    p = subprocess.run(argv, capture_output=True, text=True, env=_env(), cwd=cwd, timeout=timeout)
    return Run(argv, p.returncode, p.stdout, p.stderr, time.perf_counter() - t0)


def ingest(db: Path, table: str, *files: str | Path, extra: Iterable[str] = ()) -> Run:
    return crmkit("ingest", *files, "--table", table, "--db", db, "--quiet", *extra)


def query(path: Path, sql: str, params: list | None = None) -> list[tuple]:
    """Rows of ``sql`` on a read-only connection, closed at once (a reader blocks a writer)."""
    con = duckdb.connect(str(path), read_only=True)
    try:
        return con.execute(sql, params or []).fetchall()
    finally:
        con.close()


def rejects(db: Path) -> list[tuple]:
    """(row, column, reason, value) of every reject of the last run."""
    return query(
        db,
        "SELECT row_number, column_name, reason, value FROM ingest_rejects "
        "WHERE run_id = (SELECT max(run_id) FROM ingest_rejects) ORDER BY row_number, column_name",
    )


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest() if path.exists() else "(missing)"


def base_warehouse(folder: Path, *fixtures: str) -> Path:
    """A warehouse in ``folder`` with the base fixtures loaded (customers C001-C005 …)."""
    folder.mkdir(parents=True, exist_ok=True)
    db = folder / "w.duckdb"
    for name in fixtures:
        run = ingest(db, name.split(".")[0], FIXTURES / name)
        if run.code != 0:
            raise RuntimeError(f"loading {name}: {run.err}")
    return db


def fixture(out: Path, name: str) -> Path:
    """One hostile fixture, generated into ``out`` by the fixtures script."""
    path = out / name
    if name in fx.BYTES:
        path.write_bytes(fx.BYTES[name]())
    elif name in fx.TEXT:
        path.write_bytes(fx.TEXT[name].encode(fx.ENCODED.get(name, "utf-8")))
    elif name.endswith(".parquet"):
        fx._write_hostile_parquet(out)
    elif name.endswith(".xlsx"):
        fx._write_hostile_xlsx(out)
    if not path.exists():
        raise FileNotFoundError(f"make_fixtures has no {name}")
    return path


def _reject_text(r: tuple | None) -> str:
    return "no reject" if r is None else f"row {r[0]}, {r[1] or '(whole row)'}: {r[2]} ({r[3]!r})"


def _counts(run: Run, i: int = 0) -> str:
    r = run.reports[i] if len(run.reports) > i else None
    if r is None:
        return "no reconciliation printed"
    return f"rows in {r['rows_in']:,} = {r['loaded']:,} loaded + {r['rejected']:,} rejected"


def _reconciles(run: Run, rows_in: int, loaded: int, rejected: int, i: int = 0) -> bool:
    r = run.reports[i] if len(run.reports) > i else {}
    return (r.get("rows_in"), r.get("loaded"), r.get("rejected")) == (rows_in, loaded, rejected)


def _no_traceback(run: Run) -> bool:
    return "Traceback" not in run.err and "Error:" not in run.err.replace("IO Error:", "")


@dataclass
class Ctx:
    """The run's scratch folder and what several cases share."""

    tmp: Path
    cache: dict = field(default_factory=dict)

    def folder(self, name: str) -> Path:
        path = self.tmp / name
        path.mkdir(parents=True, exist_ok=True)
        return path
