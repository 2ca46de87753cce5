"""Benchmarks, reported as ratios measured in one run: ``make bench`` / ``python -m bench``.

So far: **ingest** — ``crmkit.ingest`` of an orders CSV (decode, map headers, validate every
value, check foreign keys, upsert) against the floor, a bare DuckDB ``read_csv`` of the same file
into a table, and against a second ingest of the same file (all rows unchanged). Each figure is
the median of ``--repeat`` runs with min and max, since this machine is noisy; results go to
``bench/results/<date>-ingest.json``.

Usage: ``python -m bench [--rows 1000000] [--repeat 5]``.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import duckdb

from bench.record import dated, record
from crmkit import db
from crmkit.ingest import ingest


def _make_files(root: Path, rows: int) -> dict[str, Path]:
    """customers (rows / 10), 40 products and ``rows`` orders as UTF-8 CSV, built by DuckDB."""
    con = duckdb.connect()
    files = {t: root / f"{t}.csv" for t in ("customers", "products", "orders")}
    con.execute(
        "COPY (SELECT lpad(i::VARCHAR, 7, '0') AS customer_id, '客户' || i AS name, "
        "'138' || lpad(i::VARCHAR, 8, '0') AS phone, "
        "TIMESTAMP '2023-01-01' + to_seconds(i) AS created_at "
        "FROM range($n) r(i)) TO $path (HEADER)",
        {"n": max(rows // 10, 1), "path": str(files["customers"])},
    )
    con.execute(
        "COPY (SELECT 'P' || i AS product_id, '产品' || i AS name, 'cat' || (i % 5) AS category, "
        "99.5 AS list_price FROM range(40) r(i)) TO $path (HEADER)",
        {"path": str(files["products"])},
    )
    con.execute(
        "COPY (SELECT 'O' || i AS order_id, lpad((i % $c)::VARCHAR, 7, '0') AS customer_id, "
        "'P' || (i % 40) AS product_id, TIMESTAMP '2024-01-01' + to_seconds(i * 10) AS order_ts, "
        "1 + i % 3 AS quantity, round(10 + (i % 1000) / 7.0, 2) AS amount, "
        "CASE WHEN i % 25 = 0 THEN '已退货' ELSE '已完成' END AS status "
        "FROM range($n) r(i)) TO $path (HEADER)",
        {"n": rows, "c": max(rows // 10, 1), "path": str(files["orders"])},
    )
    con.close()
    return files


def _timed(fn, repeat: int) -> dict[str, float]:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return {"median": statistics.median(times), "min": min(times), "max": max(times)}


def bench_ingest(rows: int, repeat: int) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        files = _make_files(root, rows)

        def fresh_ingest() -> None:
            wh = root / "w.duckdb"
            wh.unlink(missing_ok=True)
            con = db.connect(wh, read_only=False)
            for t in ("customers", "products"):
                ingest(files[t], t, con=con)
            t0 = time.perf_counter()
            res = ingest(files["orders"], "orders", con=con)
            fresh_ingest.seconds.append(time.perf_counter() - t0)
            assert res.loaded == rows, res.report()
            con.disconnect()

        fresh_ingest.seconds = []
        _timed(fresh_ingest, repeat)
        orders = {
            "median": statistics.median(fresh_ingest.seconds),
            "min": min(fresh_ingest.seconds),
            "max": max(fresh_ingest.seconds),
        }
        con = db.connect(root / "w.duckdb", read_only=False)
        again = _timed(lambda: ingest(files["orders"], "orders", con=con), repeat)
        con.disconnect()

        def bare_scan() -> None:
            c = duckdb.connect(str(root / "bare.duckdb"))
            c.execute(
                "CREATE OR REPLACE TABLE o AS SELECT * FROM read_csv($p)",
                {"p": str(files["orders"])},
            )
            c.close()

        floor = _timed(bare_scan, repeat)
    return {
        "rows": rows,
        "crmkit_ingest_s": orders,
        "crmkit_reingest_unchanged_s": again,
        "duckdb_read_csv_s": floor,
        "ratio_ingest_vs_read_csv": orders["median"] / floor["median"],
        "ratio_reingest_vs_read_csv": again["median"] / floor["median"],
        "rows_per_second": rows / orders["median"],
    }


def main() -> None:
    p = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    p.add_argument("--rows", type=int, default=1_000_000)
    p.add_argument("--repeat", type=int, default=5)
    args = p.parse_args()
    res = bench_ingest(args.rows, args.repeat)
    print(f"ingest of {res['rows']:,} orders (median of {args.repeat}, min–max):")
    for key in ("crmkit_ingest_s", "crmkit_reingest_unchanged_s", "duckdb_read_csv_s"):
        m = res[key]
        print(f"  {key:<30}{m['median']:8.2f} s   ({m['min']:.2f}–{m['max']:.2f})")
    print(f"  crmkit ingest / bare read_csv  {res['ratio_ingest_vs_read_csv']:8.1f}×")
    print(f"  re-ingest / bare read_csv      {res['ratio_reingest_vs_read_csv']:8.1f}×")
    print(f"  rows per second                {res['rows_per_second']:10,.0f}")
    record("ingest", res)
    print(f"written {dated()} (key 'ingest')")


if __name__ == "__main__":
    main()
