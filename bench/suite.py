"""The analysis benchmarks: crmkit against pandas, polars and hand-written DuckDB SQL, per size.

For each size (orders; the demo's 10.5 orders per customer gives the customers) the demo
warehouse is generated once (cached under ``bench/.data/``), then every engine runs each
benchmark in a **fresh subprocess** (so its peak RSS is its own) ``--repeat`` times:

- ``crmkit`` — the package's own function on the DuckDB warehouse, result materialised (Arrow);
- ``sql`` — the best hand-written DuckDB SQL for the same result, materialised the same way;
- ``pandas`` / ``polars`` — straightforward dataframe versions over the orders already in memory
  (loading them is not timed: that favours the dataframes, and is stated in the output);
- ``floor`` — a bare DuckDB scan of the same columns (no grouping): nothing can be faster.

Every engine returns a small check frame (per class: customers, revenue in cents, score sums);
the run stops if any engine's check differs from crmkit's — a timing of a wrong answer does not
count. Figures are the median of the runs, with min and max, since this machine is noisy.

Usage: ``python -m bench.suite [--orders 1000000,10000000] [--repeat 5] [--bench rfm]``.
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import date, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent
DATA = ROOT / ".data"
RESULTS = ROOT / "results"
AS_OF = datetime(2026, 9, 30, 23, 59, 59)
ORDERS_PER_CUSTOMER = 10.5
ENGINES = ("crmkit", "sql", "polars", "pandas", "floor")


# ---------------------------------------------------------------------------------------------
# Data
# ---------------------------------------------------------------------------------------------


def warehouse(orders: int) -> Path:
    """The demo warehouse with about ``orders`` orders, generated once and cached."""
    path = DATA / f"orders-{orders}" / "warehouse.duckdb"
    if not path.exists():
        from crmkit import db, demo

        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.unlink(missing_ok=True)
        con = db.connect(tmp, read_only=False)
        customers = max(int(orders / ORDERS_PER_CUSTOMER), 100)
        demo.generate(con, customers, seed=42, as_of=AS_OF.date(), progress=False)
        con.disconnect()
        tmp.rename(path)
    return path


def _orders_sql(con) -> str:  # noqa: ANN001
    return (
        "SELECT customer_sk, customer_id, order_ts, CAST(amount * 100 AS BIGINT) AS cents, "
        "status FROM orders"
    )


# ---------------------------------------------------------------------------------------------
# RFM + the 8 classes
# ---------------------------------------------------------------------------------------------

EXCLUDED = ("returned", "refunded", "cancelled")


def _class_map() -> dict[tuple[bool, bool, bool], str]:
    from crmkit.classification import RFM_CLASSES

    return {(r, f, m): name for name, (r, f, m, _, _) in RFM_CLASSES.items()}


def _check_pandas(df) -> list:  # noqa: ANN001
    """Per class: customers, revenue (cents), sums of the three scores — sorted rows."""
    g = df.groupby("rfm_class").agg(
        n=("rfm_class", "size"),
        cents=("cents", "sum"),
        r=("r_score", "sum"),
        f=("f_score", "sum"),
        m=("m_score", "sum"),
    )
    return [[k, *map(int, row)] for k, row in sorted(g.iterrows(), key=lambda kv: kv[0])]


def rfm_crmkit(db_path: Path) -> Callable[[], list]:
    from crmkit import classification, db

    con = db.connect(db_path)

    def run() -> list:
        t = classification.rfm_classes(classification.rfm(con, as_of=AS_OF))
        t = t.mutate(cents=(t.monetary * 100).cast("int64"))
        out = t.to_pyarrow()
        return _check_pandas(
            out.select(["rfm_class", "cents", "r_score", "f_score", "m_score"]).to_pandas()
        )

    return run


RFM_SQL = """
WITH per AS (
    SELECT customer_sk, any_value(customer_id) AS customer_id,
           min(order_ts) AS first_order_ts, max(order_ts) AS last_order_ts,
           count(*) AS frequency, sum(amount) AS monetary
    FROM orders
    WHERE order_ts <= $as_of AND status NOT IN ('returned', 'refunded', 'cancelled')
      AND customer_sk IS NOT NULL
    GROUP BY customer_sk
), rec AS (
    SELECT *, date_diff('day', last_order_ts::DATE, $as_of_date) AS recency_days FROM per
), scored AS (
    SELECT *,
        1 + (5 * (rank() OVER (ORDER BY recency_days DESC) - 1)) // count(*) OVER () AS r_score,
        1 + (5 * (rank() OVER (ORDER BY frequency) - 1)) // count(*) OVER () AS f_score,
        1 + (5 * (rank() OVER (ORDER BY monetary) - 1)) // count(*) OVER () AS m_score,
        avg(recency_days) OVER () AS r_split, avg(frequency) OVER () AS f_split,
        avg(monetary::DOUBLE) OVER () AS m_split
    FROM rec
), flags AS (
    SELECT *, recency_days < r_split AS r_high, frequency > f_split AS f_high,
              monetary::DOUBLE > m_split AS m_high
    FROM scored
)
SELECT *, CASE {cases} END AS rfm_class, CAST(monetary * 100 AS BIGINT) AS cents FROM flags
"""


def rfm_sql(db_path: Path) -> Callable[[], list]:
    import duckdb

    con = duckdb.connect(str(db_path), read_only=True)
    cases = " ".join(
        f"WHEN r_high = {r} AND f_high = {f} AND m_high = {m} THEN '{name}'"
        for (r, f, m), name in _class_map().items()
    )
    sql = RFM_SQL.format(cases=cases)
    params = {"as_of": AS_OF, "as_of_date": AS_OF.date()}

    def run() -> list:
        out = con.execute(sql, params).fetch_arrow_table()
        return _check_pandas(
            out.select(["rfm_class", "cents", "r_score", "f_score", "m_score"]).to_pandas()
        )

    return run


def rfm_pandas(db_path: Path) -> Callable[[], list]:
    import duckdb
    import pandas as pd

    con = duckdb.connect(str(db_path), read_only=True)
    orders = con.execute(_orders_sql(con)).fetchdf()
    con.close()
    classes = _class_map()
    as_of, as_of_day = pd.Timestamp(AS_OF), pd.Timestamp(AS_OF.date())

    def score(s: pd.Series, ascending: bool) -> pd.Series:
        rank0 = s.rank(method="min", ascending=ascending) - 1
        return 1 + (rank0 * 5 // len(s)).astype("int64")

    def run() -> list:
        o = orders[
            (orders.order_ts <= as_of)
            & orders.status.notna()
            & ~orders.status.isin(EXCLUDED)
            & orders.customer_sk.notna()
        ]
        g = o.groupby("customer_sk").agg(
            customer_id=("customer_id", "first"),
            first_order_ts=("order_ts", "min"),
            last_order_ts=("order_ts", "max"),
            frequency=("order_ts", "size"),
            cents=("cents", "sum"),
        )
        g["recency_days"] = (as_of_day - g.last_order_ts.dt.normalize()).dt.days
        g["r_score"] = score(g.recency_days, ascending=False)
        g["f_score"] = score(g.frequency, ascending=True)
        g["m_score"] = score(g.cents, ascending=True)
        r_high = g.recency_days < g.recency_days.mean()
        f_high = g.frequency > g.frequency.mean()
        m_high = g.cents > g.cents.mean()
        g["rfm_class"] = [classes[k] for k in zip(r_high, f_high, m_high, strict=True)]
        return _check_pandas(g)

    return run


def rfm_polars(db_path: Path) -> Callable[[], list]:
    import duckdb
    import polars as pl

    con = duckdb.connect(str(db_path), read_only=True)
    orders = pl.from_arrow(con.execute(_orders_sql(con)).fetch_arrow_table())
    con.close()
    classes = _class_map()
    as_of_day = AS_OF.date()

    def score(col: str, descending: bool) -> pl.Expr:
        rank0 = pl.col(col).rank("min", descending=descending) - 1
        return (1 + (rank0 * 5) // pl.len()).cast(pl.Int64)

    cls = pl.lit(None, dtype=pl.String)
    for (r, f, m), name in classes.items():
        cls = (
            pl.when((pl.col("r_high") == r) & (pl.col("f_high") == f) & (pl.col("m_high") == m))
            .then(pl.lit(name))
            .otherwise(cls)
        )

    def run() -> list:
        g = (
            orders.lazy()
            .filter(
                (pl.col("order_ts") <= AS_OF)
                & pl.col("status").is_not_null()
                & ~pl.col("status").is_in(EXCLUDED)
                & pl.col("customer_sk").is_not_null()
            )
            .group_by("customer_sk")
            .agg(
                pl.col("customer_id").first(),
                pl.col("order_ts").min().alias("first_order_ts"),
                pl.col("order_ts").max().alias("last_order_ts"),
                pl.len().alias("frequency"),
                pl.col("cents").sum(),
            )
            .with_columns(
                recency_days=(pl.lit(as_of_day) - pl.col("last_order_ts").dt.date()).dt.total_days()
            )
            .with_columns(
                r_score=score("recency_days", descending=True),
                f_score=score("frequency", descending=False),
                m_score=score("cents", descending=False),
                r_high=pl.col("recency_days") < pl.col("recency_days").mean(),
                f_high=pl.col("frequency") > pl.col("frequency").mean(),
                m_high=pl.col("cents") > pl.col("cents").mean(),
            )
            .with_columns(rfm_class=cls)
            .collect()
        )
        return _check_pandas(
            g.select("rfm_class", "cents", "r_score", "f_score", "m_score").to_pandas()
        )

    return run


def rfm_floor(db_path: Path) -> Callable[[], list]:
    import duckdb

    con = duckdb.connect(str(db_path), read_only=True)

    def run() -> list:
        con.execute(
            "SELECT count(customer_sk), count(customer_id), max(order_ts), sum(amount), "
            "count(status) FROM orders"
        ).fetchall()
        return []

    return run


BENCHMARKS: dict[str, dict[str, Callable[[Path], Callable[[], list]]]] = {
    "rfm": {
        "crmkit": rfm_crmkit,
        "sql": rfm_sql,
        "polars": rfm_polars,
        "pandas": rfm_pandas,
        "floor": rfm_floor,
    },
}


# ---------------------------------------------------------------------------------------------
# Running
# ---------------------------------------------------------------------------------------------


def _worker(bench: str, engine: str, db_path: Path, repeat: int) -> dict:
    """Run one engine ``repeat`` times in this process; times, check, peak RSS."""
    run = BENCHMARKS[bench][engine](db_path)
    run()  # warm: first-call imports and the OS file cache are not what we measure
    times, check = [], None
    for _ in range(repeat):
        t0 = time.perf_counter()
        check = run()
        times.append(time.perf_counter() - t0)
    peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return {"times": times, "check": check, "peak_mib": peak_kib / 1024}


def run_engine(bench: str, engine: str, db_path: Path, repeat: int) -> dict:
    cmd = [sys.executable, "-m", "bench.suite", "--worker", bench, engine, str(db_path)]
    out = subprocess.run(
        [*cmd, "--repeat", str(repeat)],
        cwd=ROOT.parent,
        capture_output=True,
        text=True,
        check=False,
    )
    if out.returncode != 0:
        raise RuntimeError(f"{bench}/{engine} failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def summarise(res: dict) -> dict:
    t = res["times"]
    return {
        "median_s": statistics.median(t),
        "min_s": min(t),
        "max_s": max(t),
        "runs": len(t),
        "peak_mib": round(res["peak_mib"], 1),
    }


def run_suite(sizes: list[int], benches: list[str], repeat: int) -> dict:
    results: dict = {"as_of": AS_OF.isoformat(), "repeat": repeat, "sizes": {}}
    for orders in sizes:
        db_path = warehouse(orders)
        size_res = results["sizes"].setdefault(str(orders), {})
        for bench in benches:
            per_engine, checks = {}, {}
            for engine in BENCHMARKS[bench]:
                print(f"[{orders:,} orders] {bench} / {engine} …", file=sys.stderr, flush=True)
                res = run_engine(bench, engine, db_path, repeat)
                per_engine[engine] = summarise(res)
                if engine != "floor":
                    checks[engine] = res["check"]
            reference = checks["crmkit"]
            equal = {e: c == reference for e, c in checks.items()}
            if not all(equal.values()):
                bad = [e for e, ok in equal.items() if not ok]
                raise AssertionError(f"{bench} at {orders:,} orders: {bad} differ from crmkit")
            size_res[bench] = {"engines": per_engine, "results_equal": True, "check": reference}
    return results


def ratio_table(results: dict) -> str:
    """crmkit / each reference (median over median), with min–max of the engines' times."""
    lines = [
        "| orders | benchmark | engine | median s | min–max s | crmkit / engine | peak MiB |",
        "|---|---|---|---|---|---|---|",
    ]
    for orders, benches in results["sizes"].items():
        for bench, r in benches.items():
            crm = r["engines"]["crmkit"]["median_s"]
            for engine, e in r["engines"].items():
                ratio = "" if engine == "crmkit" else f"{crm / e['median_s']:.2f}"
                lines.append(
                    f"| {int(orders):,} | {bench} | {engine} | {e['median_s']:.3f} | "
                    f"{e['min_s']:.3f}–{e['max_s']:.3f} | {ratio} | {e['peak_mib']:.0f} |"
                )
    return "\n".join(lines)


def plot(results: dict, path: Path) -> None:
    """Time vs size, log-log, one line per engine, one panel per benchmark."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    sizes = sorted(int(s) for s in results["sizes"])
    benches = list(next(iter(results["sizes"].values())))
    fig, axes = plt.subplots(1, len(benches), figsize=(5 * len(benches), 4), squeeze=False)
    for ax, bench in zip(axes[0], benches, strict=True):
        engines = results["sizes"][str(sizes[0])][bench]["engines"]
        for engine in engines:
            ys = [results["sizes"][str(s)][bench]["engines"][engine]["median_s"] for s in sizes]
            ax.plot(sizes, ys, marker="o", label=engine)
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("orders")
        ax.set_ylabel("seconds (median)")
        ax.set_title(bench)
        ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def scaling_exponent(results: dict, bench: str, engine: str = "crmkit") -> float | None:
    """The fitted exponent k of time ∝ orders^k over the sizes run (log-log least squares)."""
    import math

    pts = [
        (math.log(int(s)), math.log(b[bench]["engines"][engine]["median_s"]))
        for s, b in results["sizes"].items()
        if bench in b
    ]
    if len(pts) < 2:
        return None
    mx = sum(x for x, _ in pts) / len(pts)
    my = sum(y for _, y in pts) / len(pts)
    return sum((x - mx) * (y - my) for x, y in pts) / sum((x - mx) ** 2 for x, _ in pts)


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(prog="python -m bench.suite", description=__doc__.splitlines()[0])
    p.add_argument("--orders", default="1000000,10000000", help="comma-separated sizes")
    p.add_argument("--repeat", type=int, default=5)
    p.add_argument("--bench", default=",".join(BENCHMARKS), help="comma-separated benchmarks")
    p.add_argument("--worker", nargs=3, metavar=("BENCH", "ENGINE", "DB"), help=argparse.SUPPRESS)
    p.add_argument("--out", type=Path, default=None, help="results file (default dated)")
    a = p.parse_args(argv)
    if a.worker:
        bench, engine, db_path = a.worker
        print(json.dumps(_worker(bench, engine, Path(db_path), a.repeat)))
        return
    sizes = [int(s.replace("_", "")) for s in a.orders.split(",")]
    benches = a.bench.split(",")
    results = run_suite(sizes, benches, a.repeat)
    results["exponents"] = {b: scaling_exponent(results, b) for b in benches}
    results["note"] = (
        "pandas and polars start from the orders already in memory (load not timed); crmkit "
        "and sql read the DuckDB file (OS cache warm). Each engine in its own process."
    )
    RESULTS.mkdir(exist_ok=True)
    out = a.out or RESULTS / f"{date.today().isoformat()}.json"
    out.write_text(json.dumps(results, indent=2, ensure_ascii=False))
    plot(results, out.with_suffix(".png"))
    print(ratio_table(results))
    for b, k in results["exponents"].items():
        if k is not None:
            print(f"{b}: time ∝ orders^{k:.2f}")
    print(f"results: {out} and {out.with_suffix('.png')}")


if __name__ == "__main__":
    main()
