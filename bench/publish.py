"""The full ``publish`` per size: total and per-step seconds, peak memory, against the floor.

For each size the cached demo warehouse of :func:`bench.suite.warehouse` is published
``--repeat`` times, each run in a **fresh process** (``crmkit publish``, so imports and peak RSS
are the run's own, as a user's would be). The floor is a byte copy of the warehouse file: the
least any snapshot can cost. The check is the row count of every published table, which must
be the same in every run (the models are seeded), else the timing does not count.

Usage: ``python -m bench.publish [--orders 1000000,10000000] [--repeat 3]``; results are merged
into ``bench/results/<date>.json`` under ``"publish"``; the last snapshot of each size stays
next to its warehouse (``bench/.data/orders-N/published.duckdb``) for
``bench.dashboard_latency``.
"""

from __future__ import annotations

import argparse
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.record import dated, merge_keys, record
from bench.suite import ROOT, warehouse

_STEP = re.compile(r"^\s+(\S+)\s+([0-9.]+) s$")
_ROW = re.compile(r"^\s+(\S+)\s+([0-9,]+)$")
_RSS = re.compile(r"Maximum resident set size \(kbytes\): (\d+)")


def published(orders: int) -> Path:
    """Where the snapshot of the ``orders``-size warehouse is published (and left)."""
    return warehouse(orders).with_name("published.duckdb")


def crmkit_cli() -> str:
    """The ``crmkit`` command of the running interpreter's environment."""
    return str(Path(sys.executable).with_name("crmkit"))


def timed_run(cmd: list[str]) -> tuple[subprocess.CompletedProcess, float, float | None]:
    """``cmd`` in its own process under ``/usr/bin/time -v``: the finished process (stdout and
    stderr captured as text, whatever its exit code), wall seconds and peak RSS in MiB (None
    without ``/usr/bin/time``)."""
    timer = ["/usr/bin/time", "-v"] if Path("/usr/bin/time").exists() else []
    t0 = time.perf_counter()
    proc = subprocess.run(
        [*timer, *cmd], cwd=ROOT.parent, capture_output=True, text=True, check=False
    )
    seconds = time.perf_counter() - t0
    rss = _RSS.search(proc.stderr)
    return proc, seconds, int(rss.group(1)) / 1024 if rss else None


def publish_once(db_path: Path, out: Path) -> dict:
    """One ``crmkit publish`` in its own process under ``/usr/bin/time -v``."""
    cmd = [crmkit_cli(), "publish", "--db", str(db_path), "--out", str(out)]
    proc, seconds, peak_mib = timed_run(cmd)
    if proc.returncode != 0:
        raise RuntimeError(f"publish of {db_path} failed:\n{proc.stderr[-3000:]}")
    steps = {m.group(1): float(m.group(2)) for m in map(_STEP.match, proc.stderr.splitlines()) if m}
    rows = {
        m.group(1): int(m.group(2).replace(",", ""))
        for m in map(_ROW.match, proc.stdout.splitlines())
        if m
    }
    return {
        "seconds": seconds,
        "steps": steps,
        "rows": rows,
        "peak_mib": peak_mib,
        "bytes": out.stat().st_size,
    }


def floor_once(db_path: Path, out: Path) -> float:
    t0 = time.perf_counter()
    shutil.copyfile(db_path, out)
    return time.perf_counter() - t0


def run(sizes: list[int], repeat: int) -> dict:
    res: dict = {}
    for orders in sizes:
        db_path = warehouse(orders)
        runs, floors = [], []
        out = published(orders)  # kept: bench.dashboard_latency opens it
        with tempfile.TemporaryDirectory(dir=db_path.parent) as tmp:
            for i in range(repeat):
                print(f"[{orders:,} orders] publish run {i + 1}/{repeat} …", file=sys.stderr)
                runs.append(publish_once(db_path, out))
                floors.append(floor_once(db_path, Path(tmp) / "copy.duckdb"))
        rows = runs[0]["rows"]
        differ = {
            t: [r["rows"].get(t) for r in runs]
            for t in {t for r in runs for t in r["rows"]}
            if len({r["rows"].get(t) for r in runs}) > 1
        }
        if differ:
            raise AssertionError(
                f"publish at {orders:,} orders: row counts differ between runs: {differ}"
            )
        times = [r["seconds"] for r in runs]
        steps = {
            s: statistics.median(r["steps"].get(s, 0.0) for r in runs) for s in runs[0]["steps"]
        }
        res[str(orders)] = {
            "median_s": statistics.median(times),
            "min_s": min(times),
            "max_s": max(times),
            "runs": len(times),
            "peak_mib": max(r["peak_mib"] or 0 for r in runs),
            "snapshot_mib": runs[0]["bytes"] / 2**20,
            "steps_median_s": steps,
            "floor_copy_median_s": statistics.median(floors),
            "rows": rows,
        }
    return res


def table(res: dict) -> str:
    lines = [
        "| orders | publish median s | min–max s | peak MiB | floor (copy) s | slowest steps (s) |",
        "|---|---|---|---|---|---|",
    ]
    for orders, r in res.items():
        slow = sorted(r["steps_median_s"].items(), key=lambda kv: -kv[1])[:4]
        lines.append(
            f"| {int(orders):,} | {r['median_s']:.1f} | {r['min_s']:.1f}–{r['max_s']:.1f} | "
            f"{r['peak_mib']:.0f} | {r['floor_copy_median_s']:.2f} | "
            + ", ".join(f"{k} {v:.1f}" for k, v in slow)
            + " |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(prog="python -m bench.publish", description=__doc__.splitlines()[0])
    p.add_argument("--orders", default="1000000,10000000", help="comma-separated sizes")
    p.add_argument("--repeat", type=int, default=3)
    p.add_argument("--out", type=Path, default=None, help="results file (default dated)")
    a = p.parse_args(argv)
    sizes = [int(s.replace("_", "")) for s in a.orders.split(",")]
    res = run(sizes, a.repeat)
    out = a.out or dated()
    record("publish", res, out=out, merge=merge_keys)
    print(table(res))
    print(f"results: {out}")


if __name__ == "__main__":
    main()
