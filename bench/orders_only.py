"""A company's minimal order history, from its export files to a published snapshot.

What most companies can export is a customer list and an order list with only the customer,
the order time and the amount. This benchmark times that path as a user would take it:

1. the seeded demo warehouse (:func:`crmkit.demo.generate`) of ``orders / 10.307`` customers
   (the demo's realised orders per customer: 95,238 customers gave 981,660 orders), generated
   once and cached under ``bench/.data/orders-only-N/`` (not timed);
2. exported as a company would: ``customers.csv`` with the one column ``客户编号`` and
   ``orders.csv`` with ``客户编号, 下单时间, 金额`` (every order, whatever its status: the
   export has no status column, so ingest stores each as completed), sorted by order time
   (not timed);
3. ``crmkit ingest customers.csv --table customers`` then ``crmkit ingest orders.csv --table
   orders`` into a fresh warehouse, each in its own process under ``/usr/bin/time -v``;
4. ``crmkit publish`` of that warehouse, in its own process (:func:`bench.publish.publish_once`).

Recorded per size: seconds and peak RSS of each ingest and of the publish, the rows each
ingest read, loaded and rejected (from ``ingest_runs``), every publish step's status, reason
(the code and its English text), seconds and rows (from the snapshot's ``publish_steps``; the
copy's seconds from the CLI's step lines), and the rows of the warehouse and of the snapshot.
One run per size: the figure is a single measurement, not a median.

Usage: ``python -m bench.orders_only [--orders 1000000]``; results are merged into
``bench/results/<date>.json`` under ``"publish_orders_only"``, by size.
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import sys
from datetime import date
from pathlib import Path

from bench.publish import crmkit_cli, publish_once, timed_run
from bench.record import dated, merge_keys, record
from bench.suite import AS_OF, DATA

#: Orders per customer the demo realises with its default 10.5 (churned customers stop early).
ORDERS_PER_CUSTOMER = 10.307
SEED = 42
#: The export's headers, as a company's system would name them (see ``crmkit schema``).
CUSTOMER_HEADERS = ("客户编号",)
ORDER_HEADERS = ("客户编号", "下单时间", "金额")
RESULT_KEY = "publish_orders_only"


def customers_for(orders: int) -> int:
    """How many demo customers give about ``orders`` orders (at least the demo's 100)."""
    return max(round(orders / ORDERS_PER_CUSTOMER), 100)


def demo_source(orders: int, root: Path) -> Path:
    """The demo warehouse the export is taken from, generated once under ``root``."""
    path = root / "demo.duckdb"
    if not path.exists():
        from crmkit import db, demo

        root.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.unlink(missing_ok=True)
        con = db.connect(tmp, read_only=False)
        demo.generate(con, customers_for(orders), seed=SEED, as_of=AS_OF.date(), progress=False)
        con.disconnect()
        tmp.rename(path)
    return path


def export(source: Path, root: Path) -> dict[str, Path]:
    """``customers.csv`` (客户编号) and ``orders.csv`` (客户编号, 下单时间, 金额) from ``source``,
    UTF-8 with a header row, times to the second and amounts with two decimals."""
    import duckdb

    files = {"customers": root / "customers.csv", "orders": root / "orders.csv"}
    con = duckdb.connect(str(source), read_only=True)
    try:
        con.execute(
            f"COPY (SELECT customer_id AS {CUSTOMER_HEADERS[0]} FROM customers "
            "ORDER BY customer_id) TO $path (HEADER)",
            {"path": str(files["customers"])},
        )
        cid, ts, amount = ORDER_HEADERS
        con.execute(
            f"COPY (SELECT customer_id AS {cid}, strftime(order_ts, '%Y-%m-%d %H:%M:%S') AS {ts},"
            f" printf('%.2f', amount) AS {amount} FROM orders ORDER BY order_ts, order_id) "
            "TO $path (HEADER)",
            {"path": str(files["orders"])},
        )
    finally:
        con.close()
    return files


def ingest_once(file: Path, table: str, warehouse: Path) -> dict:
    """``crmkit ingest FILE --table TABLE`` in its own process: seconds, peak RSS, exit code and
    the run's counts from ``ingest_runs``. Exit code 1 (rows rejected) is recorded, not fatal;
    a file that could not be ingested at all (exit 2) stops the benchmark."""
    from crmkit import db

    cmd = [crmkit_cli(), "ingest", str(file), "--table", table, "--db", str(warehouse)]
    proc, seconds, peak_mib = timed_run([*cmd, "--quiet"])
    if proc.returncode not in (0, 1):
        raise RuntimeError(f"ingest of {file} failed:\n{proc.stderr[-3000:]}")
    con = db.connect(warehouse)
    try:
        runs = con.table("ingest_runs")
        last = runs.filter(runs.run_id == runs.run_id.max()).to_pandas().iloc[0]
    finally:
        con.disconnect()
    return {
        "seconds": seconds,
        "peak_mib": peak_mib,
        "exit_code": proc.returncode,
        **{k: int(last[k]) for k in ("rows_in", "loaded", "inserted", "updated", "rejected")},
    }


def step_outcomes(snapshot: Path) -> dict[str, dict]:
    """Every publish step's status, reason (code and English text), seconds and rows, in the
    order they ran, from the snapshot's ``publish_steps``."""
    from crmkit import db, i18n

    con = db.connect(snapshot)
    try:
        steps = con.table("publish_steps").to_pandas()
    finally:
        con.disconnect()
    return {
        r.step: {
            "status": r.status,
            "reason": r.reason or "",
            "reason_text": i18n.reason_text(r.reason, "en") if r.reason else "",
            "seconds": float(r.seconds),
            "rows": int(r.rows),
        }
        for r in steps.itertuples()
    }


def run(orders: int, root: Path) -> dict:
    """The whole path at about ``orders`` orders, under ``root`` (the demo is kept there; the
    export, the warehouse and the snapshot are rebuilt)."""
    load_at_start = os.getloadavg()[0]
    source = demo_source(orders, root)
    work = root / "run"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    files = export(source, work)
    warehouse, snapshot = work / "warehouse.duckdb", work / "published.duckdb"
    ingests = {}
    for table in ("customers", "orders"):
        print(f"[{orders:,} orders] crmkit ingest --table {table} …", file=sys.stderr, flush=True)
        ingests[table] = ingest_once(files[table], table, warehouse)
    print(f"[{orders:,} orders] crmkit publish …", file=sys.stderr, flush=True)
    pub = publish_once(warehouse, snapshot)
    steps = step_outcomes(snapshot)
    ingest_s = sum(i["seconds"] for i in ingests.values())
    return {
        "date": date.today().isoformat(),
        "demo": {
            "customers_generated": customers_for(orders),
            "seed": SEED,
            "as_of": AS_OF.date().isoformat(),
        },
        "files": {
            t: {
                "headers": list(headers),
                "rows": ingests[t]["rows_in"],
                "mib": files[t].stat().st_size / 2**20,
            }
            for t, headers in (("customers", CUSTOMER_HEADERS), ("orders", ORDER_HEADERS))
        },
        "ingest": ingests,
        "ingest_s": ingest_s,
        "publish_s": pub["seconds"],
        "total_s": ingest_s + pub["seconds"],
        "peak_mib": {
            "ingest_customers": ingests["customers"]["peak_mib"],
            "ingest_orders": ingests["orders"]["peak_mib"],
            "publish": pub["peak_mib"],
        },
        "copy_s": pub["steps"].get("copy"),
        "steps": steps,
        "steps_ran": [s for s, o in steps.items() if o["status"] == "ok"],
        "steps_skipped": {s: o["reason_text"] for s, o in steps.items() if o["status"] != "ok"},
        "warehouse_rows": {t: pub["rows"][t] for t in ("customers", "orders")},
        "snapshot_rows": pub["rows"],
        "snapshot_mib": pub["bytes"] / 2**20,
        "runs": 1,
        "machine": {
            "cpus": len(os.sched_getaffinity(0)),
            "load_average_1min": {"start": load_at_start, "end": os.getloadavg()[0]},
            "python": platform.python_version(),
        },
    }


def summary(orders: int, r: dict) -> str:
    """The run as text: ingest and publish seconds and peaks, then one line per step."""
    peak = r["peak_mib"]
    lines = [
        f"{orders:,} orders: customers {r['warehouse_rows']['customers']:,}, "
        f"orders {r['warehouse_rows']['orders']:,} in the warehouse",
        f"  ingest customers  {r['ingest']['customers']['seconds']:8.1f} s  "
        f"peak {peak['ingest_customers'] or 0:7.0f} MiB",
        f"  ingest orders     {r['ingest']['orders']['seconds']:8.1f} s  "
        f"peak {peak['ingest_orders'] or 0:7.0f} MiB",
        f"  publish           {r['publish_s']:8.1f} s  peak {peak['publish'] or 0:7.0f} MiB",
        f"  total             {r['total_s']:8.1f} s",
        f"    {'copy':<26}{'ok':<9}{r['copy_s'] or 0:8.1f} s",
    ]
    for name, o in r["steps"].items():
        why = f"  {o['reason_text']}" if o["status"] != "ok" else ""
        lines.append(f"    {name:<26}{o['status']:<9}{o['seconds']:8.1f} s{why}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(
        prog="python -m bench.orders_only", description=__doc__.splitlines()[0]
    )
    p.add_argument("--orders", default="1000000", help="comma-separated sizes")
    p.add_argument("--out", type=Path, default=None, help="results file (default dated)")
    a = p.parse_args(argv)
    sizes = [int(s.replace("_", "")) for s in a.orders.split(",")]
    res = {str(n): run(n, DATA / f"orders-only-{n}") for n in sizes}
    out = a.out or dated()
    record(RESULT_KEY, res, out=out, merge=merge_keys)
    for n, r in res.items():
        print(summary(int(n), r))
    print(f"results: {out}")


if __name__ == "__main__":
    main()
