"""Faults leave nothing behind, and every failure is one line and exit 2.

- A publish killed with SIGKILL midway leaves its staging file, its write-ahead log and its lock
  file; the snapshot it was replacing stays byte for byte as it was. The next publish removes
  the debris and succeeds — also when the debris carries the next publish's own process id,
  whose stale write-ahead log DuckDB would otherwise replay into the new staging file.
- Two publishes of one snapshot: the second stops at once, naming the first's process.
- A second process on the warehouse (DuckDB: one writer, or many readers): one line naming the
  process that holds it, exit 2, the warehouse unchanged.
- A full disk: one line naming the file being written and saying nothing was written.
- An unexpected error: one line naming the log file that holds the traceback.

The warehouses are a few customers (``_warehouse``); publishes run no step (``STEPS = ()``)
or a step planted by the test, so each takes well under a second.
"""

from __future__ import annotations

import errno
import importlib
import os
import shutil
import signal
import stat
import subprocess
import sys
import textwrap
from pathlib import Path

import duckdb
import pytest
from warehouses import customers_only as _warehouse

from crmkit import cli, db

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "tests" / "fixtures"
publish_module = importlib.import_module("crmkit.publish")  # crmkit.publish is the function
#: How /proc names a ``python -c`` child: the interpreter's file name.
PYTHON = Path(sys.executable).name


@pytest.fixture(autouse=True)
def _no_paths_from_env(monkeypatch):
    monkeypatch.delenv("CRMKIT_DB", raising=False)
    monkeypatch.delenv("CRMKIT_PUBLISHED", raising=False)


def _customers(path: Path) -> list[str]:
    con = duckdb.connect(str(path), read_only=True)
    try:
        return [
            r[0] for r in con.execute("select customer_id from customers order by 1").fetchall()
        ]
    finally:
        con.close()


def _ids(n: int) -> list[str]:
    """The ids ``_warehouse(path, n)`` stores."""
    return [f"{i:05d}" for i in range(1, n + 1)]


def _child(*argv: str) -> subprocess.Popen:
    """``python argv…`` with this checkout's crmkit, its stdin and stdout piped."""
    path = os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))
    return subprocess.Popen(
        [sys.executable, *argv],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": path},
    )


#: ``crmkit publish --db W --out P`` whose steps are: ``note`` (adds a customer 'STALE' to the
#: staging file: a write of this run, in its write-ahead log, that no later snapshot may hold),
#: then ``wait`` (says "waiting", then blocks on stdin — until the test kills it).
BLOCKED_PUBLISH = """
    import importlib, sys
    from crmkit import cli
    publish = importlib.import_module("crmkit.publish")

    def note(ctx):
        ctx.con.raw_sql("INSERT INTO customers (customer_id, customer_sk) VALUES ('STALE', 999)")
        return {}

    def wait(ctx):
        print("waiting", flush=True)
        sys.stdin.readline()
        return {}

    publish.STEPS = (publish.Step("note", note), publish.Step("wait", wait))
    sys.exit(cli.main(["publish", "--db", sys.argv[1], "--out", sys.argv[2]]))
"""


@pytest.fixture
def blocked_publish(tmp_path):
    """A snapshot of 3 customers published; the warehouse then grown to 5 customers and a
    publish of it started in a child process, stopped in its second step. Yields (warehouse,
    snapshot, the snapshot's bytes before, the child)."""
    wh, pub = tmp_path / "w.duckdb", tmp_path / "pub.duckdb"
    _warehouse(wh, 3)
    publish_module.publish(wh, pub, steps=[])
    before = pub.read_bytes()
    _warehouse(wh, 5)
    child = _child("-c", textwrap.dedent(BLOCKED_PUBLISH), str(wh), str(pub))
    try:
        assert child.stdout.readline().strip() == "waiting"
        yield wh, pub, before, child
    finally:
        if child.poll() is None:
            child.kill()
        child.wait(timeout=60)


@pytest.mark.slow  # a child process importing crmkit: about 10 s
def test_a_killed_publish_leaves_the_snapshot_and_the_next_publish_clears_its_debris(
    blocked_publish, tmp_path, monkeypatch
):
    """While the child publishes, the snapshot is the previous one (3 customers, same bytes).
    SIGKILL leaves pub.duckdb.staging-<pid>, its .wal and pub.duckdb.lock, and the snapshot
    as it was. The next publish (exit 0) removes all three and swaps in the 5 customers.

    Then the same debris renamed to this process's id — the name the next publish's staging
    file gets when a process id comes round again. The publish succeeds with the warehouse's
    5 customers and no 'STALE': the old code deleted only the staging file, and DuckDB
    replayed the killed run's write-ahead log into the new copy, publishing 6 customers with
    exit 0 (or, the probe saw, dying with an INTERNAL error). Each time the folder ends with
    exactly the warehouse and the snapshot."""
    wh, pub, before, child = blocked_publish
    staging = pub.with_name(f"pub.duckdb.staging-{child.pid}")
    assert db.leftovers(pub) == [staging, staging.with_name(staging.name + ".wal")]
    assert pub.read_bytes() == before and _customers(pub) == _ids(3)

    child.send_signal(signal.SIGKILL)
    assert child.wait(timeout=60) == -signal.SIGKILL
    debris = tmp_path / "debris"
    debris.mkdir()
    for f in db.leftovers(pub):
        shutil.copy(f, debris / f.name.replace(str(child.pid), "PID"))
    assert sorted(p.name for p in tmp_path.glob("pub.duckdb.*")) == [
        "pub.duckdb.lock",
        staging.name,
        staging.name + ".wal",
    ]
    assert pub.read_bytes() == before

    monkeypatch.setattr(publish_module, "STEPS", ())
    assert cli.main(["publish", "--db", str(wh), "--out", str(pub)]) == 0
    assert _customers(pub) == _ids(5)
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "debris",
        "pub.analyst.duckdb",
        "pub.duckdb",
        "w.duckdb",
    ]

    mine = f"pub.duckdb.staging-{os.getpid()}"
    shutil.copy(debris / "pub.duckdb.staging-PID", tmp_path / mine)
    shutil.copy(debris / "pub.duckdb.staging-PID.wal", tmp_path / f"{mine}.wal")
    # and as the masked copy a publish killed while writing it leaves: attached as it was, its
    # tables would clash with the ones written into it
    shutil.copy(debris / "pub.duckdb.staging-PID", tmp_path / f"{mine}.dashboard")
    shutil.copy(debris / "pub.duckdb.staging-PID.wal", tmp_path / f"{mine}.dashboard.wal")
    shutil.rmtree(debris)
    assert cli.main(["publish", "--db", str(wh), "--out", str(pub)]) == 0
    assert _customers(pub) == _ids(5)
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "pub.analyst.duckdb",
        "pub.duckdb",
        "w.duckdb",
    ]


@pytest.mark.slow  # a child process importing crmkit: about 10 s
def test_a_second_publish_of_the_same_snapshot_stops_at_once_and_names_the_first(
    blocked_publish, tmp_path, capsys
):
    """The child holds pub.duckdb.lock (its id written in it): a second publish exits 2 with
    one line naming the child, and leaves the child's staging file and the snapshot alone."""
    wh, pub, before, child = blocked_publish
    left = db.leftovers(pub)
    assert pub.with_name("pub.duckdb.lock").read_text() == f"{child.pid}\n"
    assert cli.main(["publish", "--db", str(wh), "--out", str(pub)]) == 2
    assert capsys.readouterr().err == (
        f"crmkit publish: {str(pub)!r} is being published by process {child.pid} ({PYTHON}); "
        "try again when it has finished\n"
    )
    assert db.leftovers(pub) == left and all(f.exists() for f in left)
    assert pub.read_bytes() == before
    assert child.poll() is None


#: A stand-in for ``crmkit ingest`` (or a notebook) holding the warehouse: ``crmkit ingest W
#: rw|ro`` opens W (read-only for "ro"), says "ready" and holds it until a line arrives on
#: stdin. Saved as a file named ``crmkit`` and run by the interpreter, its command line reads
#: like the installed script's: ``python …/crmkit ingest …``.
HOLD = """
    import sys, duckdb
    con = duckdb.connect(sys.argv[2], read_only=sys.argv[3] == "ro")
    print("ready", flush=True)
    sys.stdin.readline()
"""


@pytest.mark.parametrize(
    ("mode", "refused"),
    [
        ("rw", ["ingest", "merge-duplicates", "demo", "quality", "publish"]),
        ("ro", ["ingest", "merge-duplicates", "demo"]),  # readers share the file
    ],
)
def test_a_second_process_on_the_warehouse_gets_one_line_naming_the_holder(
    mode, refused, tmp_path, monkeypatch, capsys
):
    """Another process holds the warehouse for writing (rw) or reading (ro): every command
    that needs it in a way DuckDB cannot share exits 2 with one line naming the holder
    ("process <pid> (crmkit ingest)"); the others succeed. The warehouse keeps its 3
    customers (demo --replace did not replace it) and gains no file beside it."""
    wh = tmp_path / "data" / "w.duckdb"
    wh.parent.mkdir()
    _warehouse(wh, 3)
    script = tmp_path / "bin" / "crmkit"
    script.parent.mkdir()
    script.write_text(textwrap.dedent(HOLD), encoding="utf-8")
    monkeypatch.setattr(publish_module, "STEPS", ())
    argv = {
        "ingest": ["ingest", str(FIXTURES / "customers.csv"), "--table", "customers"],
        "merge-duplicates": ["merge-duplicates", "--apply"],
        "demo": ["demo", "--customers", "100", "--replace", "--quiet"],
        "quality": ["quality"],
        "publish": ["publish", "--out", str(tmp_path / "pub.duckdb")],
    }
    holder = _child(str(script), "ingest", str(wh), mode)
    try:
        assert holder.stdout.readline().strip() == "ready"
        for command, args in argv.items():
            code = cli.main([*args, "--db", str(wh)])
            err = capsys.readouterr().err
            if command in refused:
                assert (code, err) == (
                    2,
                    f"crmkit {command}: {str(wh)!r} is in use by process {holder.pid} "
                    "(crmkit ingest); try again when it has finished\n",
                ), command
            else:
                assert code == 0, (command, err)
    finally:
        holder.communicate("done\n", timeout=60)
    assert _customers(wh) == _ids(3)
    assert sorted(p.name for p in wh.parent.iterdir()) == ["w.duckdb"]


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="needs Linux's /dev/full")
def test_ingest_on_a_full_disk_says_so_and_writes_nothing(tmp_path, capsys):
    """The warehouse's write-ahead log is /dev/full, where every write fails with ENOSPC:
    DuckDB's commit fails ('Could not write file "….wal": No space left on device'). One line
    names the file, exit 2; the 5 customers loaded before are there, no order is."""
    wh = tmp_path / "w.duckdb"
    assert cli.main(["ingest", str(FIXTURES / "customers.csv"), "--table", "customers",
                     "--db", str(wh), "--quiet"]) == 0  # fmt: skip
    capsys.readouterr()
    wal = wh.with_name("w.duckdb.wal")
    wal.symlink_to("/dev/full")
    assert cli.main(["ingest", str(FIXTURES / "orders.csv"), "--table", "orders",
                     "--db", str(wh), "--quiet"]) == 2  # fmt: skip
    assert capsys.readouterr().err == (
        f"crmkit ingest: the disk is full (no space left on device) writing '{wal}'; nothing of "
        "the file being loaded was written (files reported above stay loaded); free some space "
        "and run it again\n"
    )
    wal.unlink()
    con = duckdb.connect(str(wh), read_only=True)
    assert con.execute("select (select count(*) from customers), (select count(*) from orders)"
                       ).fetchone() == (5, 0)  # fmt: skip
    con.close()


def test_publish_copy_on_a_full_disk_says_so_and_keeps_the_snapshot(tmp_path, monkeypatch, capsys):
    """The copy into the staging file fails half-way with ENOSPC, as shutil.copyfile raises it
    (filename = the source, filename2 = the file being written): one line naming the staging
    file, exit 2, the snapshot unchanged, no staging file or lock left."""
    wh, pub = tmp_path / "w.duckdb", tmp_path / "pub.duckdb"
    _warehouse(wh, 3)
    monkeypatch.setattr(publish_module, "STEPS", ())
    assert cli.main(["publish", "--db", str(wh), "--out", str(pub)]) == 0
    before = pub.read_bytes()
    capsys.readouterr()

    def full(src, dst):
        Path(dst).write_bytes(b"half a copy")
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(src), None, str(dst))

    monkeypatch.setattr(shutil, "copyfile", full)
    assert cli.main(["publish", "--db", str(wh), "--out", str(pub)]) == 2
    staging = f"pub.duckdb.staging-{os.getpid()}"
    assert capsys.readouterr().err == (
        f"crmkit publish: the disk is full (no space left on device) writing "
        f"'{tmp_path / staging}'; nothing was written: the previous snapshot stays as it was "
        f"({pub}); free some space and run it again\n"
    )
    assert pub.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "pub.analyst.duckdb",
        "pub.duckdb",
        "w.duckdb",
    ]


def test_a_full_disk_under_a_later_error_is_still_named(tmp_path, monkeypatch, capsys):
    """A step's write fails with DuckDB's disk-full IOException and the handling of it with
    "Current transaction is aborted" (what the probe saw): the line names the full disk and
    the file from the first error, not the step or the aborted transaction; exit 2, and with
    no snapshot before, none after."""
    wh, pub = tmp_path / "w.duckdb", tmp_path / "pub.duckdb"
    _warehouse(wh, 3)

    def write(ctx):
        try:
            raise duckdb.IOException(
                f'IO Error: Could not write file "{pub}.staging-1": No space left on device'
            )
        except duckdb.IOException:
            raise duckdb.TransactionException(
                "TransactionContext Error: Current transaction is aborted (please ROLLBACK)"
            ) from None

    monkeypatch.setattr(publish_module, "STEPS", (publish_module.Step("write", write),))
    assert cli.main(["publish", "--db", str(wh), "--out", str(pub)]) == 2
    said = capsys.readouterr().err.splitlines()
    assert said[0].startswith("  copy ")  # the progress line of the copy, then the failure
    assert said[1:] == [
        f"crmkit publish: the disk is full (no space left on device) writing '{pub}.staging-1'; "
        "nothing was written: there is no snapshot yet; free some space and run it again"
    ]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["w.duckdb"]


def test_an_unexpected_error_writes_the_traceback_to_a_log_the_line_names(
    tmp_path, monkeypatch, capsys
):
    """A planted ZeroDivisionError inside ingest's transaction: exit 2, one line naming the
    error and the log beside the warehouse (mode 0600, holding the traceback); the claim
    "nothing of the file being loaded was written" holds: still 0 customers."""
    ingest_module = importlib.import_module("crmkit.ingest")
    wh = tmp_path / "w.duckdb"
    con = db.connect(wh, read_only=False)
    db.create_schema(con)
    con.disconnect()

    def planted(*args, **kwargs):
        raise ZeroDivisionError("planted failure")

    monkeypatch.setattr(ingest_module, "_validate_and_upsert", planted)
    argv = ["ingest", str(FIXTURES / "customers.csv"), "--table", "customers", "--db", str(wh)]
    assert cli.main([*argv, "--quiet"]) == 2
    err = capsys.readouterr().err
    logs = list(tmp_path.glob("ingest-failed-*.log"))
    assert len(logs) == 1
    assert err == (
        "crmkit ingest: unexpected error (ZeroDivisionError: planted failure); nothing of the "
        f"file being loaded was written (files reported above stay loaded); the traceback is "
        f"in {logs[0]}\n"
    )
    assert stat.S_IMODE(logs[0].stat().st_mode) == 0o600
    trace = logs[0].read_text(encoding="utf-8")
    assert 'raise ZeroDivisionError("planted failure")' in trace and "Traceback" in trace
    assert _customers(wh) == []


def test_a_demo_that_fails_leaves_the_old_warehouse(tmp_path, monkeypatch, capsys):
    """demo --replace builds beside the warehouse: a failure half-way (a planted error after
    the customers are written) leaves the old warehouse byte for byte and no demo file."""
    demo = importlib.import_module("crmkit.demo")
    wh = tmp_path / "w.duckdb"
    _warehouse(wh, 3)
    before = wh.read_bytes()
    generate = demo.generate

    def half(con, *args, **kwargs):
        generate(con, *args, **kwargs)
        raise ZeroDivisionError("planted failure")

    monkeypatch.setattr(demo, "generate", half)
    assert cli.main(["demo", "--customers", "100", "--replace", "--db", str(wh), "--quiet"]) == 2
    log = next(tmp_path.glob("demo-failed-*.log"))
    assert capsys.readouterr().err == (
        "crmkit demo: unexpected error (ZeroDivisionError: planted failure); nothing was "
        f"written; the traceback is in {log}\n"
    )
    assert wh.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == [log.name, "w.duckdb"]


def test_a_report_on_a_full_disk_leaves_the_previous_report(tmp_path, monkeypatch, capsys):
    """The report is written beside its file and moved over it: a write that fails half-way
    with ENOSPC leaves the previous r.html as it was and no partial file; one line, exit 2.
    (The snapshot is a publish without steps; the report's content is planted.)"""
    report = importlib.import_module("crmkit.report")
    wh, pub, html = tmp_path / "w.duckdb", tmp_path / "pub.duckdb", tmp_path / "r.html"
    _warehouse(wh, 3)
    publish_module.publish(wh, pub, steps=[])
    html.write_text("the previous report", encoding="utf-8")
    monkeypatch.setattr(report, "build_report", lambda con, **kw: ("<html>new</html>", {}))

    def full(self, data):
        with open(self, "wb") as f:
            f.write(data[:6])
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(self))

    monkeypatch.setattr(Path, "write_bytes", full)
    assert cli.main(["report", "--published", str(pub), "--out", str(html)]) == 2
    assert capsys.readouterr().err == (
        "crmkit report: the disk is full (no space left on device) writing "
        f"'{tmp_path}/.r.html.partial-{os.getpid()}'; nothing was written; free some space and "
        "run it again\n"
    )
    monkeypatch.undo()
    assert html.read_text(encoding="utf-8") == "the previous report"
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "pub.analyst.duckdb",
        "pub.duckdb",
        "r.html",
        "w.duckdb",
    ]
