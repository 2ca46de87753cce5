"""Faults: a second writer, a full disk, a killed publish; what held: SIGKILL of ingest, a big
file reconciled."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import stat
import subprocess
import textwrap
import time
from collections.abc import Iterable
from pathlib import Path

import duckdb

from bench.hostile_probe import (
    FIXTURES,
    RECONCILE_ROWS,
    Ctx,
    Row,
    _counts,
    _python,
    _reconciles,
    base_warehouse,
    crmkit,
    first_line,
    ingest,
    query,
    sha,
)
from bench.hostile_probe.data_cases import planted

# ---------------------------------------------------------------------------------------------
# faults
# ---------------------------------------------------------------------------------------------

#: A process holding the warehouse for writing until a line arrives on stdin; saved as a file
#: named ``crmkit`` and run as ``python …/crmkit ingest W``, so /proc shows it as crmkit ingest.
HOLD = """
    import sys, duckdb
    con = duckdb.connect(sys.argv[2])
    print("ready", flush=True)
    sys.stdin.readline()
"""


def probe_second_writer(ctx: Ctx) -> list[Row]:
    d = ctx.folder("second_writer")
    db = base_warehouse(d, "customers.csv")
    script = ctx.folder("second_writer_bin") / "crmkit"
    script.write_text(textwrap.dedent(HOLD), encoding="utf-8")
    holder = _python(script, "ingest", db, stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    try:
        assert holder.stdout.readline().strip() == "ready"
        before = sha(db)
        runs = {
            "ingest": ingest(db, "customers", FIXTURES / "customers_changed.csv"),
            "publish": crmkit("publish", "--db", db, "--out", d / "pub.duckdb"),
            "quality": crmkit("quality", "--db", db),
        }
        after = sha(db)
    finally:
        holder.communicate("done\n", timeout=60)
    files = sorted(p.name for p in d.iterdir())
    rows = []
    for command, run in runs.items():
        expected = (
            f"crmkit {command}: {str(db)!r} is in use by process {holder.pid} (crmkit ingest); "
            "try again when it has finished"
        )
        rows.append(
            Row(
                f"second_{command}",
                "faults",
                f"a second crmkit {command} while another process writes the warehouse",
                "a second `crmkit ingest` (or publish, quality) while one is writing → 24-line "
                "lock traceback, exit 1",
                f"exit {run.code}; {len(run.err.splitlines())} line(s) on stderr: {run.err1!r}",
                {
                    "exit 2": run.code == 2,
                    "one line naming the holder": run.err == expected + "\n",
                    "warehouse unchanged, nothing beside it": before == after
                    and files == ["w.duckdb"],
                },
                {**run.facts(), "holder": f"pid {holder.pid}: python {script} ingest {db}"},
            )
        )
    return rows


def _orders_csv(path: Path, n: int) -> Path:
    """``n`` orders of the base customers C001-C005 and product P01."""
    with path.open("w", encoding="utf-8") as f:
        f.write("order_id,customer_id,order_ts,product_id,quantity,amount\n")
        for i in range(n):
            f.write(f"Z{i:07d},C00{1 + i % 5},2024-03-01 10:00,P01,1,{10 + i % 90}.50\n")
    return path


@contextlib.contextmanager
def _tmpfs(path: Path, size: str) -> Iterable[bool]:
    """A tmpfs of ``size`` at ``path`` while inside (yields False when it cannot be mounted)."""
    path.mkdir(parents=True, exist_ok=True)
    mounted = (
        subprocess.run(
            ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path)],
            capture_output=True,
        ).returncode
        == 0
    )
    try:
        yield mounted
    finally:
        if mounted:
            subprocess.run(["umount", str(path)], check=False)


def _fill(folder: Path, leave: int = 64 * 1024) -> Path:
    """A file taking all but ``leave`` bytes of ``folder``'s file system."""
    st = os.statvfs(folder)
    filler = folder / "filler"
    with filler.open("wb") as f:
        f.truncate(0)
        left = st.f_bavail * st.f_frsize - leave
        while left > 0:
            chunk = min(left, 1 << 20)
            f.write(b"\0" * chunk)
            left -= chunk
    return filler


def probe_disk_full(ctx: Ctx) -> list[Row]:
    d = ctx.folder("disk_full")
    orders = _orders_csv(d / "orders.csv", 100_000)
    with _tmpfs(d / "disk", "16m") as mounted:
        disk = d / "disk"
        db = base_warehouse(disk, "customers.csv", "products.csv")
        if mounted:
            how = "a 16 MiB tmpfs filled to its last 64 KiB"
            filler = _fill(disk)
        else:
            how = "(no tmpfs: mount failed) the WAL a symlink to /dev/full"
            filler = disk / "w.duckdb.wal"
            filler.symlink_to("/dev/full")
        run = ingest(db, "orders", orders)
        left = sorted(p.name for p in disk.iterdir() if p.name != "filler")
        wal = disk / "w.duckdb.wal"
        left_wal = wal.stat().st_size if wal.exists() and not wal.is_symlink() else None
        filler.unlink()
        stored = query(db, "SELECT (SELECT count(*) FROM customers), (SELECT count(*) FROM orders)")
        rows = [
            Row(
                "disk_full_ingest",
                "faults",
                "disk full during crmkit ingest (100,000 orders)",
                'disk full → traceback ending in the misleading "Current transaction is aborted"',
                f"{how}: exit {run.code}; {run.err1!r}; after: customers {stored[0][0]}, orders "
                f"{stored[0][1]}; files {left}",
                {
                    "exit 2": run.code == 2,
                    "says the disk is full, names the file": "the disk is full (no space left on "
                    "device) writing '" + str(disk) in run.err1,
                    "says nothing was written": "nothing of the file being loaded was written"
                    in run.err1,
                    "nothing written": stored == [(5, 0)],
                    "no traceback": "Traceback" not in run.err and "aborted" not in run.err,
                },
                {**run.facts(), "how": how, "wal_bytes_left": left_wal},
            )
        ]
        if mounted:
            there = left
            filler = _fill(disk)
            pub = crmkit("publish", "--db", db, "--out", disk / "published.duckdb")
            left = sorted(p.name for p in disk.iterdir() if p.name != "filler")
            filler.unlink()
            rows.append(
                Row(
                    "disk_full_publish",
                    "faults",
                    "disk full during crmkit publish (the snapshot on the full tmpfs)",
                    'disk full → traceback ending in the misleading "Current transaction is '
                    'aborted"',
                    f"{how}: exit {pub.code}; {pub.err.strip().splitlines()[-1]!r}; files after "
                    f"{left}",
                    {
                        "exit 2": pub.code == 2,
                        "says the disk is full": "the disk is full (no space left on device)"
                        in pub.err,
                        "says nothing was written": "nothing was written" in pub.err,
                        "no staging file left": left == there,
                        "no traceback": "Traceback" not in pub.err,
                    },
                    {**pub.facts(), "how": how},
                )
            )
    return rows


def probe_killed_publish(ctx: Ctx) -> list[Row]:
    p = planted(ctx)
    d = ctx.folder("killed_publish")
    wh, pub = d / "warehouse.duckdb", d / "published.duckdb"
    for key, dst in (("warehouse", wh), ("dashboard", pub), ("analyst", d / p["analyst"].name)):
        shutil.copy(p[key], dst)
    con = duckdb.connect(str(wh))  # a change the snapshot being replaced does not have
    con.execute("INSERT INTO customers (customer_id, customer_sk) VALUES ('PROBE-NEW', 99999)")
    con.execute("CHECKPOINT")
    con.close()
    before = sha(pub)
    argv = ["-m", "crmkit", "publish", "--db", wh, "--out", pub]
    child = _python(*argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    said = [child.stderr.readline().rstrip() for _ in range(3)]  # the copy and two steps done
    child.send_signal(signal.SIGKILL)
    child.wait(timeout=60)
    debris = sorted(f.name for f in d.iterdir() if f.name.startswith("published.duckdb."))
    modes = {f: oct(stat.S_IMODE((d / f).stat().st_mode)) for f in debris}
    kept = sha(pub) == before
    saved = ctx.folder("killed_publish_debris")
    for f in debris:
        if ".staging-" in f:
            shutil.copy(d / f, saved / f.replace(str(child.pid), "PID"))
    again = crmkit("publish", "--db", wh, "--out", pub)
    left = sorted(f.name for f in d.iterdir())
    new = query(pub, "SELECT count(*) FROM customers WHERE customer_id = 'PROBE-NEW'")[0][0]
    rows = [
        Row(
            "killed_publish",
            "faults",
            "SIGKILL of crmkit publish midway, then publish again",
            "a publish killed midway leaves `published.duckdb.staging-<pid>` and its `.wal` (a "
            "full copy, PII included)",
            f"killed after {said[-1].strip()!r}: left {debris} (modes "
            f"{sorted(set(modes.values()))}), snapshot byte-identical: {kept}; publish again: "
            f"exit {again.code}, folder {left}, new customer in the snapshot: {new == 1}",
            {
                "debris was there": any(".staging-" in f for f in debris),
                "debris mode 0600": set(modes.values()) <= {"0o600"},
                "old snapshot kept": kept,
                "publish again exit 0": again.code == 0,
                "no debris after": left
                == ["published.analyst.duckdb", "published.duckdb", "warehouse.duckdb"],
                "snapshot is the new one": new == 1,
            },
            {"killed_pid": child.pid, "progress_seen": said, "again": again.facts()},
        )
    ]
    stale = CLAIM_STALE_PID.format(debris=str(saved))
    run = crmkit_in_process(stale, wh, pub)
    left = sorted(f.name for f in d.iterdir())
    n = [query(x, "SELECT count(*) FROM customers")[0][0] for x in (wh, pub)]
    rows.append(
        Row(
            "stale_staging_same_pid",
            "faults",
            "stale staging file + WAL named with the publishing process's own PID",
            "if the PID comes round again the next publish dies with a DuckDB INTERNAL error "
            "replaying the stale WAL",
            f"{run['planted']} planted as staging-<own pid>; exit {run['code']}; "
            f"{first_line(run['err'])!r}; folder after {left}; customers warehouse {n[0]:,}, "
            f"snapshot {n[1]:,}",
            {
                "stale files planted": bool(run["planted"]),
                "exit 0": run["code"] == 0,
                "no INTERNAL error": "INTERNAL" not in run["err"],
                "no debris after": left
                == ["published.analyst.duckdb", "published.duckdb", "warehouse.duckdb"],
                "snapshot = warehouse": n[0] == n[1],
            },
            {
                "how": "a child python copies the killed publish's staging files to "
                "<snapshot>.staging-<its own pid> and runs crmkit.cli.main(['publish', …]): the "
                "PID a subprocess will get cannot be known before it starts",
                **run,
            },
        )
    )
    return rows


#: The next publish finds the killed run's staging files under its own process id: a child
#: python renames them to its own pid, then runs the command line's code (``crmkit.cli.main``).
CLAIM_STALE_PID = """
import json, os, shutil, sys, io, contextlib
from pathlib import Path
from crmkit import cli
wh, pub = sys.argv[1], Path(sys.argv[2])
planted = []
for f in sorted(Path({debris!r}).iterdir()):
    name = f.name.replace("PID", str(os.getpid()))
    shutil.copy(f, pub.with_name(name))
    planted.append(name)
err = io.StringIO()
with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
    code = cli.main(["publish", "--db", wh, "--out", str(pub)])
print(json.dumps({{"code": code, "err": err.getvalue(), "planted": planted}}))
"""


def crmkit_in_process(code: str, *argv: str | Path) -> dict:
    child = _python("-c", code, *argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    out, err = child.communicate(timeout=900)
    try:
        return json.loads(out.strip().splitlines()[-1])
    except (ValueError, IndexError):
        return {"code": child.returncode, "err": err, "planted": []}


# ---------------------------------------------------------------------------------------------
# held: SIGKILL of ingest, a big file reconciled
# ---------------------------------------------------------------------------------------------


def _big_customers(path: Path, n: int) -> tuple[Path, int]:
    """``n`` customers; every 1000th has the impossible date 2023-13-40 and every 97th a quoted
    city with a comma. Returns the file and how many rows must be rejected."""
    bad = 0
    with path.open("w", encoding="utf-8") as f:
        f.write("customer_id,name,phone,city,created_at\n")
        for i in range(1, n + 1):
            created = "2023-13-40" if i % 1000 == 0 else f"2023-{1 + i % 12:02d}-{1 + i % 28:02d}"
            bad += i % 1000 == 0
            city = '"上海,浦东"' if i % 97 == 0 else "杭州"
            f.write(f"R{i:07d},客户{i},139{i:08d},{city},{created}\n")
    return path, bad


def probe_big_file_and_kills(ctx: Ctx) -> list[Row]:
    d = ctx.folder("big")
    src, bad = _big_customers(d / "customers_300k.csv", RECONCILE_ROWS)
    base = base_warehouse(ctx.folder("big_base"), "customers.csv")
    recon = ctx.folder("big_recon") / "w.duckdb"
    shutil.copy(base, recon)
    run = ingest(recon, "customers", src)
    stored = query(recon, "SELECT count(*) FROM customers")[0][0]
    n_rej = query(recon, "SELECT count(*) FROM ingest_rejects")[0][0]
    rows = [
        Row(
            "reconcile_300k",
            "held",
            f"{RECONCILE_ROWS:,}-row customers file reconciles exactly (run at 300,000 rows, "
            "not 2.86 M)",
            "a 2.86 M-row file reconciled exactly",
            f"exit {run.code} in {run.seconds:.0f} s; {_counts(run)}; customers stored "
            f"{stored:,} (5 before); ingest_rejects rows {n_rej}",
            {
                "rows in = loaded + rejected": _reconciles(
                    run, RECONCILE_ROWS, RECONCILE_ROWS - bad, bad
                ),
                "stored = 5 + loaded": stored == 5 + RECONCILE_ROWS - bad,
                "every reject stored": n_rej == bad,
            },
            run.facts(),
        )
    ]
    for n, fraction in enumerate((0.3, 0.55, 0.75), start=1):
        db = ctx.folder(f"big_kill{n}") / "w.duckdb"
        shutil.copy(base, db)
        before = sha(db)
        argv = ["-m", "crmkit", "ingest", src, "--table", "customers", "--db", db, "--quiet"]
        child = _python(*argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(fraction * run.seconds)
        child.send_signal(signal.SIGKILL)
        child.wait(timeout=60)
        left = sorted(p.name for p in db.parent.iterdir())
        after = sha(db)
        count = query(db, "SELECT count(*) FROM customers")[0][0]
        rows.append(
            Row(
                f"sigkill_ingest_{n}",
                "held",
                f"SIGKILL of crmkit ingest ({RECONCILE_ROWS:,} rows) at {fraction:.0%} of its "
                f"run ({fraction * run.seconds:.1f} s)",
                "SIGKILL of ingest at three points left the warehouse byte-identical",
                f"warehouse byte-identical: {after == before}; files after {left}; customers "
                f"on reopening: {count}",
                {
                    "killed before it finished": child.returncode == -signal.SIGKILL,
                    "byte-identical": after == before,
                    "reopens with the 5 customers": count == 5,
                },
                {"killed_after_s": round(fraction * run.seconds, 1), "files": left},
            )
        )
    return rows
