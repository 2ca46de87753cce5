"""The analysis benchmarks: crmkit against pandas, polars and hand-written DuckDB SQL, per size.

For each size (orders; the demo's 10.5 orders per customer gives the customers) the demo
warehouse is generated once (cached under ``bench/.data/``), then every engine runs each
benchmark in a **fresh subprocess** (so its peak RSS is its own) ``--repeat`` times:

- ``crmkit`` — the package's own function on the DuckDB warehouse, result materialised;
- ``sql`` — the best hand-written DuckDB SQL for the same result, materialised the same way;
- ``pandas`` / ``polars`` — straightforward dataframe versions over the orders (or feedback)
  already in memory (loading them is not timed: that favours the dataframes, and is stated in
  the output);
- ``floor`` — a bare DuckDB scan of the same columns (no grouping): nothing can be faster.

Benchmarks (each maps its engines in :data:`BENCHMARKS`; a benchmark may have its own set):

- ``rfm`` — RFM scores + the 8 classes (:func:`crmkit.classification.rfm_classes`);
- ``cohort`` — customer and revenue retention by acquisition month
  (:func:`crmkit.loyalty.cohort_retention`, Wilson intervals);
- ``satisfaction`` — NPS and CSAT by segment × month with their intervals
  (:func:`crmkit.satisfaction.nps` / ``csat``); the segment (the classification's RFM class, as
  the satisfaction publish step joins it) is computed once per warehouse outside the timing
  (:func:`segments`) and handed to every engine;
- ``bgnbd`` — the BG/NBD summary, fit and scoring (:func:`crmkit.clv.rfm_summary`,
  ``fit_bgnbd`` — PyMC-Marketing MAP under flat priors — and ``score_bgnbd``) against the
  summary in SQL / polars / pandas + a hand-written maximum-likelihood fit (scipy L-BFGS-B,
  analytic gradient) and the closed-form P(alive) and expected purchases.

Every engine returns a small check (per class, per cohort, per segment × month × metric, or
the fitted parameters and score sums); the run stops if any engine's check differs from
crmkit's (ints exactly, floats to :data:`TOLERANCE`) — a timing of a wrong answer does not
count. Figures are the median of the runs, with min and max, since this machine is noisy.

Usage: ``python -m bench.suite [--orders 1000000,10000000] [--repeat 5]
[--bench rfm,cohort,satisfaction,bgnbd]`` (default: every benchmark).
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
from datetime import datetime
from pathlib import Path

from bench.record import dated, record

ROOT = Path(__file__).resolve().parent
DATA = ROOT / ".data"
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


ORDERS_SQL = (
    "SELECT customer_sk, customer_id, order_ts, CAST(amount * 100 AS BIGINT) AS cents, "
    "status FROM orders"
)


def _orders_in_memory(db_path: Path, engine: str):  # noqa: ANN202
    """The orders a dataframe engine starts from (loaded once, outside the timing): a pandas
    DataFrame or a polars DataFrame."""
    import duckdb

    con = duckdb.connect(str(db_path), read_only=True)
    try:
        if engine == "pandas":
            return con.execute(ORDERS_SQL).fetchdf()
        import polars as pl

        return pl.from_arrow(con.execute(ORDERS_SQL).fetch_arrow_table())
    finally:
        con.close()


def _counted_pandas(orders):  # noqa: ANN001, ANN202
    """The counted orders (crmkit.classification's rule) of an in-memory pandas frame."""
    import pandas as pd

    return orders[
        (orders.order_ts <= pd.Timestamp(AS_OF))
        & orders.status.notna()
        & ~orders.status.isin(EXCLUDED)
        & orders.customer_sk.notna()
    ]


def _counted_polars():  # noqa: ANN202
    """The same rule as :func:`_counted_pandas`, as a polars filter expression."""
    import polars as pl

    return (
        (pl.col("order_ts") <= AS_OF)
        & pl.col("status").is_not_null()
        & ~pl.col("status").is_in(EXCLUDED)
        & pl.col("customer_sk").is_not_null()
    )


def _floor(sql: str) -> Callable[[Path], Callable[[], list]]:
    """A benchmark's floor: ``sql``, a bare DuckDB scan of the columns it reads (no grouping,
    nothing returned): nothing computing the benchmark's answer can be faster."""

    def make(db_path: Path) -> Callable[[], list]:
        import duckdb

        con = duckdb.connect(str(db_path), read_only=True)

        def run() -> list:
            con.execute(sql).fetchall()
            return []

        return run

    return make


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
    import pandas as pd

    orders = _orders_in_memory(db_path, "pandas")
    classes = _class_map()
    as_of_day = pd.Timestamp(AS_OF.date())

    def score(s: pd.Series, ascending: bool) -> pd.Series:
        rank0 = s.rank(method="min", ascending=ascending) - 1
        return 1 + (rank0 * 5 // len(s)).astype("int64")

    def run() -> list:
        o = _counted_pandas(orders)
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
    import polars as pl

    orders = _orders_in_memory(db_path, "polars")
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
            .filter(_counted_polars())
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


rfm_floor = _floor(
    "SELECT count(customer_sk), count(customer_id), max(order_ts), sum(amount), "
    "count(status) FROM orders"
)


# ---------------------------------------------------------------------------------------------
# Cohort retention (crmkit.loyalty.cohort_retention)
# ---------------------------------------------------------------------------------------------

MAX_MONTHS = 24
Z95 = 1.959963984540054  # crmkit.stats.Z95


def _check_cohorts(df) -> list:  # noqa: ANN001
    """Per cohort (sorted): size, months kept, Σ active, Σ month·active, Σ revenue cents,
    Σ month·cents, Σ (lo + hi) of the retention interval. ``df``: cohort, month, cohort_size,
    active, cents, lo, hi — one row per (cohort, month offset)."""
    df = df.assign(
        month_active=df.month * df.active, month_cents=df.month * df.cents, lohi=df.lo + df.hi
    )
    g = df.groupby("cohort").agg(
        size=("cohort_size", "max"),
        months=("month", "size"),
        active=("active", "sum"),
        month_active=("month_active", "sum"),
        cents=("cents", "sum"),
        month_cents=("month_cents", "sum"),
        lohi=("lohi", "sum"),
    )
    return [
        [f"{k:%Y-%m}", *(int(v) for v in row.iloc[:-1]), float(row.iloc[-1])]
        for k, row in sorted(g.iterrows(), key=lambda kv: kv[0])
    ]


def _wilson_np(k, n):  # noqa: ANN001, ANN202
    """crmkit.stats.wilson's arithmetic, written out for the dataframe references."""
    import numpy as np

    k, n = np.asarray(k, dtype=float), np.asarray(n, dtype=float)
    p = k / n
    denom = 1 + Z95 * Z95 / n
    centre = (p + Z95 * Z95 / (2 * n)) / denom
    half = Z95 * np.sqrt(p * (1 - p) / n + Z95 * Z95 / (4 * n * n)) / denom
    return p, np.clip(centre - half, 0.0, 1.0), np.clip(centre + half, 0.0, 1.0)


def cohort_crmkit(db_path: Path) -> Callable[[], list]:
    from crmkit import db, loyalty

    con = db.connect(db_path)

    def run() -> list:
        df = loyalty.cohort_retention(con.table("orders"), as_of=AS_OF, max_months=MAX_MONTHS)
        df["cents"] = (df.revenue * 100).round().astype("int64")
        return _check_cohorts(df)

    return run


COHORT_SQL = """
WITH cm AS (  -- one row per customer and month with a counted order
    SELECT customer_sk, date_trunc('month', order_ts) AS m, sum(amount) AS revenue
    FROM orders
    WHERE order_ts <= $as_of AND status NOT IN ('returned', 'refunded', 'cancelled')
      AND customer_sk IS NOT NULL
    GROUP BY ALL
), f AS (  -- acquisition month: a grouped min joined back is cheaper than a window here
    SELECT customer_sk, min(m) AS cohort FROM cm GROUP BY customer_sk
), c AS (
    SELECT m, revenue, cohort FROM cm JOIN f USING (customer_sk)
), per AS (
    SELECT cohort, date_diff('month', cohort, m) AS month, count(*) AS active,
           sum(revenue) AS revenue
    FROM c GROUP BY ALL
), based AS (
    SELECT *, max(CASE WHEN month = 0 THEN active END) OVER (PARTITION BY cohort) AS cohort_size,
              max(CASE WHEN month = 0 THEN revenue END) OVER (PARTITION BY cohort) AS revenue_0
    FROM per
), w AS (
    SELECT *, active / cohort_size AS retention,
        (active / cohort_size + $z * $z / (2 * cohort_size)) / (1 + $z * $z / cohort_size)
            AS centre,
        $z * sqrt(active / cohort_size * (1 - active / cohort_size) / cohort_size
            + $z * $z / (4 * cohort_size * cohort_size)) / (1 + $z * $z / cohort_size) AS half
    FROM based WHERE month <= $max_months
)
SELECT cohort, month, cohort_size, active, retention,
       greatest(centre - half, 0.0) AS lo, least(centre + half, 1.0) AS hi,
       revenue::DOUBLE AS revenue, revenue::DOUBLE / revenue_0::DOUBLE AS revenue_retention,
       CAST(revenue * 100 AS BIGINT) AS cents
FROM w ORDER BY cohort, month
"""


def cohort_sql(db_path: Path) -> Callable[[], list]:
    import duckdb

    con = duckdb.connect(str(db_path), read_only=True)
    params = {"as_of": AS_OF, "z": Z95, "max_months": MAX_MONTHS}

    def run() -> list:
        out = con.execute(COHORT_SQL, params).fetch_arrow_table()
        return _check_cohorts(out.to_pandas())

    return run


def cohort_pandas(db_path: Path) -> Callable[[], list]:
    import pandas as pd

    orders = _orders_in_memory(db_path, "pandas")

    def run() -> list:
        o = _counted_pandas(orders)
        m = (o.order_ts.dt.year * 12 + o.order_ts.dt.month - 1).rename("m")  # month index
        cm = o.groupby([o.customer_sk, m]).cents.sum().reset_index()
        cm["cohort"] = cm.groupby("customer_sk").m.transform("min")
        cm["month"] = cm.m - cm.cohort
        per = cm.groupby(["cohort", "month"]).agg(
            active=("customer_sk", "size"), cents=("cents", "sum")
        )
        per = per.reset_index()
        base = per[per.month == 0].set_index("cohort")
        per["cohort_size"] = per.cohort.map(base.active)
        per["revenue_retention"] = per.cents / per.cohort.map(base.cents)
        per = per[per.month <= MAX_MONTHS].copy()
        per["retention"], per["lo"], per["hi"] = _wilson_np(per.active, per.cohort_size)
        per["revenue"] = per.cents / 100
        per["cohort"] = pd.to_datetime(
            pd.DataFrame({"year": per.cohort // 12, "month": per.cohort % 12 + 1, "day": 1})
        )
        return _check_cohorts(per)

    return run


def cohort_polars(db_path: Path) -> Callable[[], list]:
    import polars as pl

    orders = _orders_in_memory(db_path, "polars")

    def run() -> list:
        per = (
            orders.lazy()
            .filter(_counted_polars())
            .group_by("customer_sk", m=pl.col("order_ts").dt.truncate("1mo"))
            .agg(pl.col("cents").sum())
            .with_columns(cohort=pl.col("m").min().over("customer_sk"))
            .with_columns(
                month=(pl.col("m").dt.year() - pl.col("cohort").dt.year()) * 12
                + pl.col("m").dt.month().cast(pl.Int32)
                - pl.col("cohort").dt.month().cast(pl.Int32)
            )
            .group_by("cohort", "month")
            .agg(active=pl.len(), cents=pl.col("cents").sum())
            .with_columns(
                cohort_size=pl.col("active").filter(pl.col("month") == 0).first().over("cohort"),
                cents_0=pl.col("cents").filter(pl.col("month") == 0).first().over("cohort"),
            )
            .filter(pl.col("month") <= MAX_MONTHS)
            .with_columns(
                revenue=pl.col("cents") / 100,
                revenue_retention=pl.col("cents") / pl.col("cents_0"),
            )
            .sort("cohort", "month")
            .collect()
        )
        _, lo, hi = _wilson_np(per["active"].to_numpy(), per["cohort_size"].to_numpy())
        per = per.with_columns(lo=pl.Series(lo), hi=pl.Series(hi))
        return _check_cohorts(per.to_pandas())

    return run


cohort_floor = _floor(
    "SELECT count(customer_sk), max(order_ts), sum(amount), count(status) FROM orders"
)


# ---------------------------------------------------------------------------------------------
# NPS and CSAT by segment × month (crmkit.satisfaction.nps / csat)
# ---------------------------------------------------------------------------------------------

NONE = "(none)"  # crmkit.satisfaction.NONE: feedback of a customer the classification lacks


def segments(db_path: Path) -> Path:
    """customer_id → segment as the satisfaction step gets it (``classification.rfm_class``,
    ``potential`` without a counted purchase), from :func:`crmkit.classification.classify` at
    ``AS_OF``: computed once per warehouse (cached as Parquet beside it) and handed to every
    engine, so the benchmark times the score aggregation, not the classification."""
    path = db_path.with_name("segments.parquet")
    if not path.exists() or path.stat().st_mtime < db_path.stat().st_mtime:
        from crmkit import classification, db
        from crmkit.satisfaction import POTENTIAL

        con = db.connect(db_path)
        c = classification.classify(con, as_of=AS_OF)
        seg = c.select("customer_id", segment=c.rfm_class.fill_null(POTENTIAL)).to_pyarrow()
        con.disconnect()
        import pyarrow.parquet as pq

        tmp = path.with_suffix(".tmp")
        pq.write_table(seg, tmp)
        tmp.rename(path)
    return path


def _check_scores(df) -> list:  # noqa: ANN001
    """Per (segment, month, metric), sorted: n, numerator, lo, hi (the interval's bounds:
    NPS in points, CSAT as a share)."""
    rows = [
        [r.segment, f"{r.period:%Y-%m}", r.metric, int(r.n), int(r.numerator), r.lo, r.hi]
        for r in df.itertuples(index=False)
    ]
    return sorted(rows, key=lambda r: r[:3])


def _nps_np(prom, det, n):  # noqa: ANN001, ANN202
    """crmkit.satisfaction.nps_interval's arithmetic (points, clipped to ±100)."""
    import numpy as np

    prom, det, n = (np.asarray(x, dtype=float) for x in (prom, det, n))
    pp, pm = prom / n, det / n
    v = pp - pm
    half = Z95 * np.sqrt(np.maximum((pp + pm - v**2) / n, 0))
    return 100 * v, 100 * np.clip(v - half, -1, 1), 100 * np.clip(v + half, -1, 1)


def _long_scores(g):  # noqa: ANN001, ANN202
    """From per (segment, period) counts (n_nps, prom, det, n_csat, sat), the long frame of
    both metrics with their intervals; a metric's rows without answers dropped (as crmkit)."""
    import pandas as pd

    a = g[g.n_nps > 0]
    _, lo, hi = _nps_np(a.prom, a.det, a.n_nps)
    nps = pd.DataFrame(
        {
            "segment": a.segment,
            "period": a.period,
            "metric": "nps",
            "n": a.n_nps,
            "numerator": a.prom - a.det,
            "lo": lo,
            "hi": hi,
        }
    )
    b = g[g.n_csat > 0]
    _, lo, hi = _wilson_np(b.sat, b.n_csat)
    csat = pd.DataFrame(
        {
            "segment": b.segment,
            "period": b.period,
            "metric": "csat",
            "n": b.n_csat,
            "numerator": b.sat,
            "lo": lo,
            "hi": hi,
        }
    )
    return pd.concat([nps, csat], ignore_index=True)


def satisfaction_crmkit(db_path: Path) -> Callable[[], list]:
    import ibis
    import pandas as pd
    import pyarrow.parquet as pq

    from crmkit import db, satisfaction

    con = db.connect(db_path)
    seg = ibis.memtable(pq.read_table(segments(db_path)))

    def run() -> list:
        fb = con.table("feedback")
        t = fb.left_join(seg, "customer_id").select(fb, segment=seg.segment.fill_null(NONE))
        by = ["segment", "period"]
        out = pd.concat(
            [satisfaction.nps(t, by=by), satisfaction.csat(t, by=by)], ignore_index=True
        )
        return _check_scores(out)

    return run


SATISFACTION_SQL = """
WITH t AS (
    SELECT coalesce(s.segment, '(none)') AS segment, date_trunc('month', f.ts) AS period,
           f.nps, f.csat
    FROM feedback f LEFT JOIN seg s ON f.customer_id = s.customer_id
), g AS (
    SELECT segment, period, count(nps) AS n_nps, count_if(nps >= 9) AS prom,
           count_if(nps <= 6) AS det, count(csat) AS n_csat, count_if(csat >= 4) AS sat
    FROM t GROUP BY ALL
), nps AS (
    SELECT segment, period, 'nps' AS metric, n_nps AS n, prom - det AS numerator,
           (prom - det) / n_nps AS v,
           $z * sqrt(greatest((prom / n_nps + det / n_nps - ((prom - det) / n_nps) ** 2)
               / n_nps, 0)) AS half
    FROM g WHERE n_nps > 0
), csat AS (
    SELECT segment, period, 'csat' AS metric, n_csat AS n, sat AS numerator,
        (sat / n_csat + $z * $z / (2 * n_csat)) / (1 + $z * $z / n_csat) AS centre,
        $z * sqrt(sat / n_csat * (1 - sat / n_csat) / n_csat + $z * $z / (4 * n_csat * n_csat))
            / (1 + $z * $z / n_csat) AS half
    FROM g WHERE n_csat > 0
)
SELECT segment, period, metric, n, numerator, 100 * v AS value,
       100 * greatest(v - half, -1) AS lo, 100 * least(v + half, 1) AS hi FROM nps
UNION ALL
SELECT segment, period, metric, n, numerator, sat_share, greatest(centre - half, 0),
       least(centre + half, 1)
FROM (SELECT *, numerator / n AS sat_share FROM csat)
"""


def satisfaction_sql(db_path: Path) -> Callable[[], list]:
    import duckdb
    import pyarrow.parquet as pq

    con = duckdb.connect(str(db_path), read_only=True)
    con.register("seg", pq.read_table(segments(db_path)))

    def run() -> list:
        out = con.execute(SATISFACTION_SQL, {"z": Z95}).fetch_arrow_table()
        return _check_scores(out.to_pandas())

    return run


def _feedback_sql() -> str:
    return "SELECT customer_id, ts, nps, csat FROM feedback"


def satisfaction_pandas(db_path: Path) -> Callable[[], list]:
    import duckdb
    import pandas as pd

    con = duckdb.connect(str(db_path), read_only=True)
    feedback = con.execute(_feedback_sql()).fetchdf()
    con.close()
    seg = pd.read_parquet(segments(db_path))

    def run() -> list:
        t = feedback.merge(seg, on="customer_id", how="left")
        t["segment"] = t.segment.fillna(NONE)
        t["period"] = t.ts.dt.to_period("M").dt.to_timestamp()
        t["prom"] = t.nps >= 9
        t["det"] = t.nps <= 6
        t["sat"] = t.csat >= 4
        g = (
            t.groupby(["segment", "period"])
            .agg(
                n_nps=("nps", "count"),
                prom=("prom", "sum"),
                det=("det", "sum"),
                n_csat=("csat", "count"),
                sat=("sat", "sum"),
            )
            .reset_index()
        )
        return _check_scores(_long_scores(g))

    return run


def satisfaction_polars(db_path: Path) -> Callable[[], list]:
    import duckdb
    import polars as pl

    con = duckdb.connect(str(db_path), read_only=True)
    feedback = pl.from_arrow(con.execute(_feedback_sql()).fetch_arrow_table())
    con.close()
    seg = pl.read_parquet(segments(db_path))

    def run() -> list:
        g = (
            feedback.lazy()
            .join(seg.lazy(), on="customer_id", how="left")
            .group_by(
                segment=pl.col("segment").fill_null(NONE),
                period=pl.col("ts").dt.truncate("1mo"),
            )
            .agg(
                n_nps=pl.col("nps").count(),
                prom=(pl.col("nps") >= 9).sum().cast(pl.Int64),
                det=(pl.col("nps") <= 6).sum().cast(pl.Int64),
                n_csat=pl.col("csat").count(),
                sat=(pl.col("csat") >= 4).sum().cast(pl.Int64),
            )
            .collect()
        )
        return _check_scores(_long_scores(g.to_pandas()))

    return run


satisfaction_floor = _floor("SELECT count(customer_id), max(ts), sum(nps), sum(csat) FROM feedback")


# ---------------------------------------------------------------------------------------------
# BG/NBD fit + scoring (crmkit.clv: rfm_summary, fit_bgnbd, score_bgnbd)
# ---------------------------------------------------------------------------------------------

UNIT_DAYS = 7.0  # crmkit.clv.TIME_UNIT_DAYS: recency and T in weeks
HORIZON_DAYS = 365  # expected purchases over the next year, as the churn publish step scores


def _check_bgnbd(summary, params: dict, p_alive, purchases) -> list:  # noqa: ANN001
    """Customers, Σ frequency, Σ recency and Σ T in days (exact integers), the fitted r, α, a,
    b, Σ P(alive) and Σ expected purchases (compared to :data:`TOLERANCE` relative)."""
    return [
        len(summary),
        int(summary.frequency.sum()),
        round(float(summary.recency.sum()) * UNIT_DAYS),
        round(float(summary["T"].sum()) * UNIT_DAYS),
        *(float(params[k]) for k in ("r", "alpha", "a", "b")),
        float(p_alive.sum()),
        float(purchases.sum()),
    ]


def bgnbd_crmkit(db_path: Path) -> Callable[[], list]:
    from crmkit import clv, db

    con = db.connect(db_path)

    def run() -> list:
        # as crmkit.clv.publish_tables: the summary with the text ids, the MAP fit under the
        # production (flat) priors, the BG/NBD scores
        summary = (
            clv.rfm_summary(con.table("orders"), observation_end=AS_OF, time_unit_days=UNIT_DAYS)
            .join(con.table("customers").select("customer_sk", "customer_id"), "customer_sk")
            .to_pandas()
        )
        bg = clv.fit_bgnbd(summary)
        sc = clv.score_bgnbd(bg, summary, horizon_days=HORIZON_DAYS, time_unit_days=UNIT_DAYS)
        return _check_bgnbd(summary, clv.params(bg), sc.p_alive, sc.expected_purchases)

    return run


def _bgnbd_loglik(logp, x, tx, T, w, grad: bool = True):  # noqa: ANN001, ANN202
    """Σ w·log-likelihood of BG/NBD (Fader, Hardie & Lee 2005, eq. 6 in logs) at
    ``logp`` = log (r, α, a, b), and its gradient in ``logp`` (analytic: digamma terms)."""
    import numpy as np
    from scipy.special import digamma, gammaln

    r, alpha, a, b = np.exp(logp)
    pos = x > 0
    a1 = gammaln(r + x) - gammaln(r) + r * np.log(alpha)
    a2 = gammaln(a + b) + gammaln(b + x) - gammaln(b) - gammaln(a + b + x)
    a3 = -(r + x) * np.log(alpha + T)
    bx1 = b + np.maximum(x, 1) - 1
    with np.errstate(divide="ignore"):
        a4 = np.where(pos, np.log(a) - np.log(bx1) - (r + x) * np.log(alpha + tx), -np.inf)
    lse = np.logaddexp(a3, a4)
    ll = float(w @ (a1 + a2 + lse))
    if not grad:
        return ll
    w3, w4 = np.exp(a3 - lse), np.exp(a4 - lse)  # shares of the two terms (w4 = 0 if x = 0)
    d_r = digamma(r + x) - digamma(r) + np.log(alpha)
    d_r += -w3 * np.log(alpha + T) - w4 * np.log(alpha + tx)
    d_alpha = r / alpha - w3 * (r + x) / (alpha + T) - w4 * (r + x) / (alpha + tx)
    d_a = digamma(a + b) - digamma(a + b + x) + w4 / a
    d_b = digamma(a + b) + digamma(b + x) - digamma(b) - digamma(a + b + x) - w4 / bx1
    g = np.array([w @ d_r, w @ d_alpha, w @ d_a, w @ d_b]) * np.array([r, alpha, a, b])
    return ll, g


def bgnbd_fit(x, tx, T) -> dict[str, float]:  # noqa: ANN001
    """Maximum-likelihood BG/NBD: L-BFGS-B on the log-parameters with the analytic gradient;
    customers with the same (x, t_x, T) are counted once, with a weight."""
    import numpy as np
    from scipy.optimize import minimize

    rows = np.column_stack([x, tx, T]).astype(float)
    uniq, w = np.unique(rows, axis=0, return_counts=True)
    ux, utx, uT = uniq.T
    w = w / w.sum()

    def nll(logp):  # noqa: ANN001, ANN202
        ll, g = _bgnbd_loglik(logp, ux, utx, uT, w)
        return -ll, -g

    res = minimize(
        nll, np.zeros(4), jac=True, method="L-BFGS-B", options={"ftol": 1e-13, "gtol": 1e-9}
    )
    if not res.success:
        raise RuntimeError(f"BG/NBD fit did not converge: {res.message}")
    return dict(zip(("r", "alpha", "a", "b"), np.exp(res.x).tolist(), strict=True))


def bgnbd_score(p: dict, x, tx, T, t: float):  # noqa: ANN001, ANN202
    """Closed-form P(alive) and E[purchases in (T, T + t]] given (x, t_x, T) (FHL 2005 eq. 10
    and 13)."""
    import numpy as np
    from scipy.special import hyp2f1

    r, alpha, a, b = p["r"], p["alpha"], p["a"], p["b"]
    x, tx, T = (np.asarray(v, dtype=float) for v in (x, tx, T))
    with np.errstate(divide="ignore", invalid="ignore"):
        odds = np.where(x > 0, a / (b + x - 1) * ((alpha + T) / (alpha + tx)) ** (r + x), 0.0)
        p_alive = 1.0 / (1.0 + odds)
        z = t / (alpha + T + t)
        hyp = hyp2f1(r + x, b + x, a + b + x - 1, z)
        term = 1 - ((alpha + T) / (alpha + T + t)) ** (r + x) * hyp
        purchases = (a + b + x - 1) / (a - 1) * term / (1.0 + odds)
    return p_alive, purchases


def _bgnbd_reference(summary) -> list:  # noqa: ANN001
    x, tx, T = (summary[c].to_numpy(dtype=float) for c in ("frequency", "recency", "T"))
    params = bgnbd_fit(x, tx, T)
    p_alive, purchases = bgnbd_score(params, x, tx, T, HORIZON_DAYS / UNIT_DAYS)
    return _check_bgnbd(summary, params, p_alive, purchases)


BGNBD_SQL = """
WITH d AS (  -- purchase days: orders on the same day count once
    SELECT DISTINCT customer_sk, order_ts::DATE AS d
    FROM orders
    WHERE order_ts <= $as_of AND status NOT IN ('returned', 'refunded', 'cancelled')
      AND customer_sk IS NOT NULL
), g AS (
    SELECT customer_sk, count(*) - 1 AS frequency, min(d) AS first_d, max(d) AS last_d
    FROM d GROUP BY customer_sk
)
SELECT c.customer_id, g.frequency, date_diff('day', first_d, last_d) / $unit AS recency,
       date_diff('day', first_d, $end_date) / $unit AS "T"
FROM g JOIN customers c USING (customer_sk)
"""


def bgnbd_sql(db_path: Path) -> Callable[[], list]:
    import duckdb

    con = duckdb.connect(str(db_path), read_only=True)
    params = {"as_of": AS_OF, "end_date": AS_OF.date(), "unit": UNIT_DAYS}

    def run() -> list:
        return _bgnbd_reference(con.execute(BGNBD_SQL, params).fetchdf())

    return run


def bgnbd_pandas(db_path: Path) -> Callable[[], list]:
    import pandas as pd

    orders = _orders_in_memory(db_path, "pandas")
    end_day = pd.Timestamp(AS_OF.date())

    def run() -> list:
        o = _counted_pandas(orders)
        days = o.assign(d=o.order_ts.dt.normalize())[["customer_sk", "customer_id", "d"]]
        days = days.drop_duplicates(["customer_sk", "d"])
        g = days.groupby("customer_sk").agg(
            customer_id=("customer_id", "first"),
            n=("d", "size"),
            first_d=("d", "min"),
            last_d=("d", "max"),
        )
        summary = pd.DataFrame(
            {
                "customer_id": g.customer_id,
                "frequency": g.n - 1,
                "recency": (g.last_d - g.first_d).dt.days / UNIT_DAYS,
                "T": (end_day - g.first_d).dt.days / UNIT_DAYS,
            }
        )
        return _bgnbd_reference(summary)

    return run


def bgnbd_polars(db_path: Path) -> Callable[[], list]:
    import polars as pl

    orders = _orders_in_memory(db_path, "polars")
    end_day = AS_OF.date()

    def run() -> list:
        summary = (
            orders.lazy()
            .filter(_counted_polars())
            .group_by("customer_sk", d=pl.col("order_ts").dt.date())
            .agg(pl.col("customer_id").first())
            .group_by("customer_sk")
            .agg(
                pl.col("customer_id").first(),
                frequency=pl.len() - 1,
                first_d=pl.col("d").min(),
                last_d=pl.col("d").max(),
            )
            .select(
                "customer_id",
                "frequency",
                recency=(pl.col("last_d") - pl.col("first_d")).dt.total_days() / UNIT_DAYS,
                T=(pl.lit(end_day) - pl.col("first_d")).dt.total_days() / UNIT_DAYS,
            )
            .collect()
        )
        return _bgnbd_reference(summary.to_pandas())

    return run


bgnbd_floor = _floor(
    # sums / max of strings: DuckDB can answer count and max of some columns from
    # their statistics without reading them
    "SELECT sum(customer_sk), max(order_ts), max(status) FROM orders"
)


BENCHMARKS: dict[str, dict[str, Callable[[Path], Callable[[], list]]]] = {
    "rfm": {
        "crmkit": rfm_crmkit,
        "sql": rfm_sql,
        "polars": rfm_polars,
        "pandas": rfm_pandas,
        "floor": rfm_floor,
    },
    "cohort": {
        "crmkit": cohort_crmkit,
        "sql": cohort_sql,
        "polars": cohort_polars,
        "pandas": cohort_pandas,
        "floor": cohort_floor,
    },
    "satisfaction": {
        "crmkit": satisfaction_crmkit,
        "sql": satisfaction_sql,
        "polars": satisfaction_polars,
        "pandas": satisfaction_pandas,
        "floor": satisfaction_floor,
    },
    "bgnbd": {
        "crmkit": bgnbd_crmkit,
        "sql": bgnbd_sql,
        "polars": bgnbd_polars,
        "pandas": bgnbd_pandas,
        "floor": bgnbd_floor,
    },
}


# ---------------------------------------------------------------------------------------------
# Running
# ---------------------------------------------------------------------------------------------

#: Relative tolerance of a check's floats (ints and strings compare exactly): interval bounds
#: computed in a different order differ in the last bits; the BG/NBD estimates of PyMC's MAP
#: and scipy's maximum likelihood agree to about 1e-4 (both are L-BFGS-B optima of the same
#: likelihood, stopped by their own tolerances).
TOLERANCE = {"bgnbd": 1e-3}
DEFAULT_TOLERANCE = 1e-9


def checks_agree(a: object, b: object, rel: float = DEFAULT_TOLERANCE) -> bool:
    """Equal checks: same structure, ints and strings equal, floats equal to ``rel`` (relative,
    and absolute near 0; NaN equals NaN)."""
    import math

    if isinstance(a, list | tuple) and isinstance(b, list | tuple):
        return len(a) == len(b) and all(checks_agree(x, y, rel) for x, y in zip(a, b, strict=True))
    if isinstance(a, float) or isinstance(b, float):
        if not isinstance(a, int | float) or not isinstance(b, int | float):
            return False
        if math.isnan(a) or math.isnan(b):
            return math.isnan(a) and math.isnan(b)
        return math.isclose(a, b, rel_tol=rel, abs_tol=rel)
    return a == b


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
            for engine in BENCHMARKS[bench]:  # each benchmark has its own engine set
                print(f"[{orders:,} orders] {bench} / {engine} …", file=sys.stderr, flush=True)
                res = run_engine(bench, engine, db_path, repeat)
                per_engine[engine] = summarise(res)
                if engine != "floor":
                    checks[engine] = res["check"]
            reference = checks["crmkit"]  # every benchmark has crmkit; others are optional
            tol = TOLERANCE.get(bench, DEFAULT_TOLERANCE)
            equal = {e: checks_agree(c, reference, tol) for e, c in checks.items()}
            if not all(equal.values()):
                bad = [e for e, ok in equal.items() if not ok]
                raise AssertionError(f"{bench} at {orders:,} orders: {bad} differ from crmkit")
            size_res[bench] = {
                "engines": per_engine,
                "repeat": repeat,
                "results_equal": True,
                "check": recorded_check(reference),
            }
    return results


def recorded_check(check: list, max_rows: int = 60) -> list | dict:
    """The check as written to the results file: whole when short; else its row count and
    first rows (satisfaction has ~800 rows: the run compared them all)."""
    if len(check) <= max_rows:
        return check
    return {"rows": len(check), "first": check[:5], "compared": "all rows, in the run"}


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
    # benchmarks and their engines in first-seen order: each benchmark has its own engine set,
    # and a size may lack a benchmark (or an engine) that another size ran
    benches: dict[str, dict[str, None]] = {}
    for per_size in results["sizes"].values():
        for bench, r in per_size.items():
            benches.setdefault(bench, {}).update(dict.fromkeys(r["engines"]))
    fig, axes = plt.subplots(1, len(benches), figsize=(5 * len(benches), 4), squeeze=False)
    for ax, (bench, engines) in zip(axes[0], benches.items(), strict=True):
        for engine in engines:
            pts = [
                (s, results["sizes"][str(s)][bench]["engines"][engine]["median_s"])
                for s in sizes
                if engine in results["sizes"][str(s)].get(bench, {}).get("engines", {})
            ]
            ax.plot([x for x, _ in pts], [y for _, y in pts], marker="o", label=engine)
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
        if bench in b and engine in b[bench]["engines"]
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
    p.add_argument(
        "--bench",
        default=",".join(BENCHMARKS),
        help=f"comma-separated benchmarks, any of {', '.join(BENCHMARKS)} (default: all)",
    )
    p.add_argument("--worker", nargs=3, metavar=("BENCH", "ENGINE", "DB"), help=argparse.SUPPRESS)
    p.add_argument("--out", type=Path, default=None, help="results file (default dated)")
    a = p.parse_args(argv)
    if a.worker:
        bench, engine, db_path = a.worker
        print(json.dumps(_worker(bench, engine, Path(db_path), a.repeat)))
        return
    sizes = [int(s.replace("_", "")) for s in a.orders.split(",")]
    benches = [b.strip() for b in a.bench.split(",") if b.strip()]
    unknown = [b for b in benches if b not in BENCHMARKS]
    if unknown or not benches:
        p.error(f"--bench: unknown {unknown or a.bench!r}; choose from {', '.join(BENCHMARKS)}")
    results = run_suite(sizes, benches, a.repeat)
    out = a.out or dated()
    merged = record("suite", results, out=out, merge=merge_results)["suite"]
    plot(merged, out.with_suffix(".png"))
    print(ratio_table(results))
    for b, k in merged["exponents"].items():
        if k is not None:
            print(f"{b}: time ∝ orders^{k:.2f}")
    print(f"results: {out} and {out.with_suffix('.png')}")


NOTE = (
    "pandas and polars start from the orders (feedback) already in memory (load not "
    "timed); crmkit and sql read the DuckDB file (OS cache warm). Each engine in its own "
    "process. satisfaction: the customer -> segment map (crmkit's classification) is "
    "computed once, outside the timing, and handed to every engine. bgnbd: crmkit fits "
    "with PyMC-Marketing (MAP, flat priors), the others with scipy maximum likelihood."
)


def merge_results(existing: dict, new: dict) -> dict:
    """``new`` merged into the suite's ``existing`` results of the day: sizes and benchmarks not
    run again are kept, a (size, benchmark) run again is replaced; the exponents are refitted
    over every size."""
    merged = {**existing, **{k: v for k, v in new.items() if k != "sizes"}}
    sizes = {s: dict(b) for s, b in existing.get("sizes", {}).items()}
    for s, b in new["sizes"].items():
        sizes.setdefault(s, {}).update(b)
    merged["sizes"] = dict(sorted(sizes.items(), key=lambda kv: int(kv[0])))
    benches = dict.fromkeys(b for per in merged["sizes"].values() for b in per)
    merged["exponents"] = {b: scaling_exponent(merged, b) for b in benches}
    merged["note"] = NOTE
    return merged


if __name__ == "__main__":
    main()
