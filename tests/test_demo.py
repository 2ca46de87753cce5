"""Tests for crmkit.demo: schema conformance, determinism and the planted signals.

One demo of 2,000 customers (≈ 20,000 orders) is generated per module and checked with real
numbers: every value must satisfy ``crmkit.schema``, and every planted signal must be
recoverable from the tables at about its planted size (the thresholds sit well inside the
planted effects: e.g. 55 % vs 8 % SLA breaches is tested as > 40 % vs < 15 %).
"""

from __future__ import annotations

import inspect
import re
from datetime import date, datetime, timedelta

import ibis
import pytest

from crmkit import db, demo, schema

N = 2_000
AS_OF = date(2026, 9, 30)
SEED = 42


@pytest.fixture(scope="module")
def generated():
    con = db.connect(":memory:", read_only=False)
    result = demo.generate(con, N, seed=SEED, as_of=AS_OF, progress=False)
    yield con, result
    con.disconnect()


@pytest.fixture(scope="module")
def con(generated):
    return generated[0]


def frame(con, sql: str):
    """A small query result as a pandas DataFrame."""
    return con.sql(sql).to_pandas()


def scalar(con, sql: str):
    return con.con.execute(sql).fetchone()[0]


def distinct(table, column: str) -> list:
    """The distinct non-null values of a column, sorted."""
    return sorted(table.select(column).distinct().execute()[column].dropna())


# --------------------------------------------------------------------------------------------
# Arguments and result
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"customers": 99}, "out of range"),
        ({"customers": 5_000_001}, "out of range"),
        ({"customers": 1000.5}, "whole number"),
        ({"customers": 1000, "as_of": date.today()}, "before today"),
        ({"customers": 1000, "orders_per_customer": 0}, "orders_per_customer"),
        ({"customers": 1000, "seed": -1}, "seed"),
    ],
)
def test_bad_arguments_fail_early_with_a_clear_message(kwargs, message):
    con = db.connect(":memory:", read_only=False)
    with pytest.raises(ValueError, match=message):
        demo.generate(con, progress=False, **kwargs)
    assert "customers" not in con.list_tables()


def test_result_counts_every_table(con, generated):
    result = generated[1]
    assert result.rows["customers"] == N
    assert result.rows["products"] == 40
    # orders ≈ customers × orders_per_customer (default 10.5), less the quiet customers' last
    # 200 days and the churned customers' silence
    per_customer = inspect.signature(demo.generate).parameters["orders_per_customer"].default
    assert per_customer == 10.5
    assert 0.9 * N * per_customer <= result.rows["orders"] <= 1.02 * N * per_customer
    for name in schema.DATA_TABLES:
        assert result.rows[name] == con.table(name).count().execute() > 0, name
    assert result.seconds > 0
    assert list(result.step_seconds)[0] == "setup"


def test_generating_again_replaces_the_data():
    con = db.connect(":memory:", read_only=False)
    first = demo.generate(con, 300, progress=False)
    second = demo.generate(con, 300, progress=False)
    assert first.rows == second.rows
    orders = con.table("orders")
    assert orders.order_id.nunique().execute() == second.rows["orders"]
    assert not [t for t in con.list_tables() if t.startswith("_demo")]


# --------------------------------------------------------------------------------------------
# Schema conformance
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", schema.DATA_TABLES)
def test_tables_have_exactly_the_schema_columns_and_types(con, name):
    assert con.table(name).schema() == schema.TABLES[name].ibis_schema()


@pytest.mark.parametrize("name", schema.DATA_TABLES)
def test_keys_are_unique_and_present(con, name):
    t = con.table(name)
    key = schema.TABLES[name].key
    assert t[key].notnull().all().execute()
    assert t[key].nunique().execute() == t.count().execute()


@pytest.mark.parametrize("name", ["customers", "products"])
def test_surrogate_keys_run_from_one_to_n(con, name):
    t = con.table(name)
    sk = schema.TABLES[name].surrogate
    n = t.count().execute()
    got = t.aggregate(lo=t[sk].min(), hi=t[sk].max(), distinct=t[sk].nunique()).execute()
    assert got.iloc[0].tolist() == [1, n, n]


@pytest.mark.parametrize(
    ("name", "column"),
    [(t.name, c.name) for t in schema.TABLES.values() for c in t.columns if c.allowed],
)
def test_enum_values_are_declared_codes(con, name, column):
    allowed = set(schema.TABLES[name][column].allowed)
    values = set(distinct(con.table(name), column))
    assert values <= allowed, values - allowed
    assert values, "column is empty"


@pytest.mark.parametrize(
    ("name", "column"),
    [(t.name, c.name) for t in schema.TABLES.values() for c in t.columns if c.required],
)
def test_required_columns_are_never_null(con, name, column):
    assert con.table(name)[column].isnull().sum().execute() == 0


@pytest.mark.parametrize(
    ("name", "column"),
    [
        (t.name, c.name)
        for t in schema.TABLES.values()
        for c in t.columns
        if c.min is not None or c.max is not None
    ],
)
def test_numbers_lie_within_bounds(con, name, column):
    spec = schema.TABLES[name][column]
    col = con.table(name)[column]
    if spec.min is not None:
        assert col.min().execute() >= spec.min
    if spec.max is not None:
        assert col.max().execute() <= spec.max


@pytest.mark.parametrize(
    ("name", "column"),
    [(t.name, c.name) for t in schema.TABLES.values() for c in t.foreign_keys],
)
def test_foreign_keys_exist(con, name, column):
    t = con.table(name)
    target = schema.TABLES[schema.TABLES[name][column].fk]
    ref = con.table(target.name)
    missing = t.filter(t[column].notnull()).anti_join(ref, t[column] == ref[target.key])
    assert missing.count().execute() == 0


@pytest.mark.parametrize(
    ("name", "sk", "column"),
    [(t.name, sk, c.name) for t in schema.TABLES.values() for sk, c in t.surrogate_columns],
)
def test_surrogate_keys_match_their_text_ids(con, name, sk, column):
    t = con.table(name)
    target = schema.TABLES[schema.TABLES[name][column].fk]
    ref = con.table(target.name)
    joined = t.left_join(ref, t[column] == ref[target.key])
    wrong = joined.filter(
        (t[column].isnull() & t[sk].notnull())
        | (t[column].notnull() & (t[sk].isnull() | (t[sk] != ref[target.surrogate])))
    )
    assert wrong.count().execute() == 0


@pytest.mark.parametrize(
    ("name", "earlier", "later"),
    [(t.name, a, b) for t in schema.TABLES.values() for a, b in t.ordered],
)
def test_ordered_time_pairs(con, name, earlier, later):
    t = con.table(name)
    assert t.filter(t[later] < t[earlier]).count().execute() == 0


@pytest.mark.parametrize(
    ("name", "column"),
    [
        (t.name, c.name)
        for t in schema.TABLES.values()
        for c in t.columns
        if c.dtype == "timestamp" or c.not_future
    ],
)
def test_nothing_happens_after_as_of(con, name, column):
    latest = con.table(name)[column].max().execute()
    assert latest is not None
    day = latest.date() if isinstance(latest, datetime) else latest
    assert day <= AS_OF


def test_events_follow_the_customers_registration(con):
    for sql in [
        "SELECT count(*) FROM orders o JOIN customers c USING (customer_sk)"
        " WHERE o.order_ts < c.created_at",
        "SELECT count(*) FROM interactions i JOIN customers c USING (customer_sk)"
        " WHERE i.ts < c.created_at",
        "SELECT count(*) FROM feedback f JOIN customers c USING (customer_sk)"
        " WHERE f.ts < c.created_at",
        "SELECT count(*) FROM orders o JOIN products p USING (product_sk)"
        " WHERE o.order_ts::DATE < p.launch_date",
        "SELECT count(*) FROM customers WHERE updated_at < created_at"
        " OR last_verified_at < created_at OR updated_at < last_verified_at",
    ]:
        assert scalar(con, sql) == 0, sql


def test_points_balance_never_goes_negative(con):
    negative = scalar(
        con,
        """
        SELECT count(*) FROM (
            SELECT sum(CASE WHEN kind IN ('earn', 'adjust') THEN points ELSE -points END)
                OVER (PARTITION BY customer_sk ORDER BY ts, entry_id) AS balance
            FROM points_ledger
        ) WHERE balance < 0
        """,
    )
    assert negative == 0


# --------------------------------------------------------------------------------------------
# Realism
# --------------------------------------------------------------------------------------------


def test_customers_look_like_a_chinese_customer_base(con):
    c = con.table("customers").execute()
    chinese = c["name"].str.strip().str.fullmatch(r"[\u4e00-\u9fff]{2,4}")
    assert 0.80 <= chinese.mean() <= 0.90
    phones = c["phone"].dropna()
    assert phones.str.fullmatch(r"1[3-9]\d{9}").all()
    assert 0.01 <= c["phone"].isna().mean() <= 0.06
    assert c["email"].dropna().str.fullmatch(r"[a-z0-9._]+@[a-z0-9.]+\.[a-z]+").all()
    assert 0.02 <= c["email"].isna().mean() <= 0.10
    assert set(c["gender"]) == {"M", "F", "U"}
    assert c["city"].nunique() >= 15 and c["province"].nunique() >= 12
    assert 0.2 <= c["company"].notna().mean() <= 0.4
    stale = c["last_verified_at"] < (c["created_at"].max() - timedelta(days=365))
    assert 0.15 <= stale.mean() <= 0.45
    assert 0.05 <= c["last_verified_at"].isna().mean() <= 0.25
    assert c["created_at"].min().date() >= AS_OF - timedelta(days=4 * 366)


def test_orders_carry_consistent_money_and_delivery(con):
    o = con.table("orders")
    p = con.table("products")
    j = o.join(p, o.product_sk == p.product_sk)
    off = j.filter(j.amount != j.list_price * j.quantity - j.discount).count().execute()
    assert off == 0
    statuses = o.status.value_counts().execute().set_index("status")["status_count"]
    shares = statuses / statuses.sum()
    assert 0.03 <= shares["returned"] <= 0.07
    assert 0.02 <= shares["cancelled"] <= 0.04
    late = scalar(
        con,
        "SELECT avg((delivered_at::DATE > promised_date)::INT) FROM orders"
        " WHERE delivered_at IS NOT NULL",
    )
    assert 0.12 <= late <= 0.19
    no_reason = scalar(
        con, "SELECT count(*) FROM orders WHERE status = 'returned' AND return_reason IS NULL"
    )
    assert no_reason == 0


def test_feedback_is_bilingual_and_scored(con):
    f = con.table("feedback").execute()
    texts = f[f["text"].notna()]
    assert 0.75 <= (texts["language"] == "zh").mean() <= 0.88
    zh = texts[texts["language"] == "zh"]["text"]
    assert zh.str.contains(r"[\u4e00-\u9fff]").all()
    surveys = f[f["source"] == "survey"]
    assert surveys["nps"].notna().all()
    assert f[f["source"] != "survey"]["nps"].isna().all()
    assert set(f["source"]) == {"survey", "complaint", "suggestion", "questionnaire"}
    complaints = f[f["source"] == "complaint"]
    assert complaints["order_id"].notna().all() and complaints["text"].notna().all()


def test_interactions_include_every_care_event(con):
    care = set(distinct(con.table("interactions"), "care_event"))
    assert care == set(schema.TABLES["interactions"]["care_event"].allowed)


# --------------------------------------------------------------------------------------------
# Determinism
# --------------------------------------------------------------------------------------------


def checksums(con) -> dict[str, tuple[int, int]]:
    """Row count and an order-independent hash of every row, per data table."""
    out = {}
    for name in schema.DATA_TABLES:
        t = con.table(name)
        row_hash = ibis.struct({c: t[c] for c in t.columns}).hash()
        got = t.aggregate(n=t.count(), h=row_hash.cast("decimal(38, 0)").sum()).execute()
        out[name] = (int(got.n.iloc[0]), int(got.h.iloc[0]))
    return out


def test_same_seed_gives_identical_tables_whatever_the_thread_count(con):
    other = db.connect(":memory:", read_only=False, threads=1)
    demo.generate(other, N, seed=SEED, as_of=AS_OF, progress=False)
    assert checksums(other) == checksums(con)
    other.disconnect()


def test_a_different_seed_gives_different_data(con):
    other = db.connect(":memory:", read_only=False)
    demo.generate(other, N, seed=SEED + 1, as_of=AS_OF, progress=False)
    mine, theirs = checksums(con), checksums(other)
    assert theirs["products"] == mine["products"]  # the catalogue is fixed
    for name in ("customers", "orders", "feedback", "tickets"):
        assert theirs[name] != mine[name], name
    other.disconnect()


# --------------------------------------------------------------------------------------------
# Planted signals
# --------------------------------------------------------------------------------------------


def test_planted_truths_are_written_down(con):
    planted = con.table("demo_planted").execute()
    assert set(planted["signal"]) == set(demo.PLANTED)
    assert planted["description"].notna().all()
    product = planted[(planted.signal == "high_return_product") & (planted.key == "product_id")]
    assert product["value"].tolist() == ["P0008"]
    products = con.table("products")
    name = products.filter(products.product_id == "P0008").name.execute().tolist()
    assert name == [demo.PLANTED["high_return_product"]["name"]]
    listed = con.table("demo_planted_customers")
    assert set(distinct(listed, "signal")) == set(demo.PER_CUSTOMER_SIGNALS)
    assert listed.anti_join(con.table("customers"), "customer_id").count().execute() == 0
    realised = planted[planted.key.str.startswith("realised_")]
    assert len(realised) == 8


def test_slow_sla_channel(con):
    breach = frame(
        con,
        """
        SELECT channel = 'social' AS slow,
               avg((first_response_at IS NULL
                    OR first_response_at > opened_at + INTERVAL 2 HOUR)::INT) AS share,
               count(*) AS n
        FROM tickets GROUP BY ALL
        """,
    ).set_index("slow")
    assert breach.loc[True, "n"] >= 80
    assert breach.loc[True, "share"] > 0.40
    assert breach.loc[False, "share"] < 0.15
    social = con.table("tickets").filter(lambda t: t.channel == "social")
    assert distinct(social, "team") == ["社媒运营组"]


def test_high_return_product(con):
    rates = frame(
        con,
        """
        SELECT product_id = 'P0008' AS hr, avg((status = 'returned')::INT) AS rate,
               avg(CASE WHEN status = 'returned' THEN
                   regexp_matches(return_reason, '质量问题|Quality issue')::INT END) AS quality
        FROM orders GROUP BY ALL
        """,
    ).set_index("hr")
    assert rates.loc[True, "rate"] > 3 * rates.loc[False, "rate"]
    assert 0.18 <= rates.loc[True, "rate"] <= 0.32
    assert rates.loc[True, "quality"] > 0.7
    assert rates.loc[False, "quality"] < 0.4


def test_growing_need_for_training(con):
    share = frame(
        con,
        """
        SELECT CASE WHEN ts < TIMESTAMP '2023-10-01' THEN 'first_year'
                    WHEN ts >= TIMESTAMP '2026-07-01' THEN 'last_quarter' END AS period,
               avg(regexp_matches(lower(text), '培训|教程|training|tutorial')::INT) AS share,
               count(*) AS n
        FROM feedback WHERE text IS NOT NULL GROUP BY ALL
        """,
    ).set_index("period")
    assert share.loc["first_year", "n"] >= 50
    assert share.loc["last_quarter", "share"] > 3 * share.loc["first_year", "share"]
    assert 0.09 <= share.loc["last_quarter", "share"] <= 0.22


def test_late_delivery_lowers_nps_and_draws_delivery_complaints(con):
    nps = frame(
        con,
        """
        SELECT o.delivered_at::DATE > o.promised_date AS late, avg(f.nps) AS nps,
               avg(f.csat) AS csat, count(*) AS n
        FROM feedback f JOIN orders o USING (order_id)
        WHERE f.source = 'survey' GROUP BY ALL
        """,
    ).set_index("late")
    assert nps.loc[True, "n"] >= 100
    assert nps.loc[True, "nps"] <= nps.loc[False, "nps"] - 2.5
    assert nps.loc[True, "csat"] < nps.loc[False, "csat"]
    mentions = scalar(
        con,
        """
        SELECT avg(regexp_matches(lower(f.text), '物流|快递|送货|deliver')::INT)
        FROM feedback f JOIN orders o USING (order_id)
        WHERE f.source = 'complaint' AND o.delivered_at::DATE > o.promised_date
        """,
    )
    assert mentions > 0.95


def test_churn_region_goes_silent(con):
    """Of the customers who bought in the quarter before the last one, the share that bought
    nothing in the last quarter is far higher in 辽宁 (planted 35 %) than elsewhere; and the
    share whose last order falls in a quarter rises quarter by quarter in 辽宁 only."""
    silent = frame(
        con,
        """
        WITH previous AS (
            SELECT DISTINCT customer_sk FROM orders
            WHERE order_ts >= TIMESTAMP '2026-04-01' AND order_ts < TIMESTAMP '2026-07-01'
        ),
        recent AS (
            SELECT DISTINCT customer_sk FROM orders WHERE order_ts >= TIMESTAMP '2026-07-01'
        )
        SELECT coalesce(c.province = '辽宁', FALSE) AS region,
               avg((r.customer_sk IS NULL)::INT) AS share, count(*) AS n
        FROM previous p
        JOIN customers c USING (customer_sk)
        LEFT JOIN recent r USING (customer_sk)
        GROUP BY ALL
        """,
    ).set_index("region")
    assert silent.loc[True, "n"] >= 50
    assert silent.loc[True, "share"] > 2 * silent.loc[False, "share"]
    assert 0.2 <= silent.loc[True, "share"] <= 0.5
    last_orders = frame(
        con,
        """
        WITH active AS (
            SELECT customer_sk, date_trunc('quarter', order_ts) AS quarter FROM orders
            GROUP BY ALL
        ),
        last AS (SELECT customer_sk, max(order_ts) AS last_ts FROM orders GROUP BY ALL)
        SELECT quarter, avg((l.last_ts < a.quarter + INTERVAL 3 MONTH)::INT) AS share
        FROM active a JOIN customers c USING (customer_sk) JOIN last l USING (customer_sk)
        WHERE c.province = '辽宁'
            AND quarter >= TIMESTAMP '2025-10-01' AND quarter < TIMESTAMP '2026-07-01'
        GROUP BY ALL ORDER BY quarter
        """,
    )["share"].tolist()
    assert last_orders == sorted(last_orders) and last_orders[-1] > 2 * last_orders[0]
    listed = con.table("demo_planted_customers").filter(lambda t: t.signal == "churn_region")
    customers = con.table("customers")
    assert distinct(listed.join(customers, "customer_id"), "province") == ["辽宁"]


def test_quiet_high_value_customers(con):
    quiet = con.table("demo_planted_customers").filter(lambda t: t.signal == "quiet_high_value")
    assert quiet.count().execute() == round(0.02 * N)
    recent = scalar(
        con,
        """
        SELECT count(*) FROM orders o JOIN demo_planted_customers q USING (customer_id)
        WHERE q.signal = 'quiet_high_value' AND o.order_ts >= TIMESTAMP '2026-10-01'
            - INTERVAL 200 DAY
        """,
    )
    assert recent == 0
    outside_top_decile = scalar(
        con,
        """
        WITH before AS (
            SELECT customer_id, sum(amount) AS monetary FROM orders
            WHERE status = 'completed' AND order_ts < TIMESTAMP '2026-10-01' - INTERVAL 230 DAY
            GROUP BY ALL
        ),
        decile AS (
            SELECT customer_id, ntile(10) OVER (ORDER BY monetary DESC, customer_id) AS d
            FROM before
        )
        SELECT count(*) FROM demo_planted_customers q LEFT JOIN decile USING (customer_id)
        WHERE q.signal = 'quiet_high_value' AND coalesce(d, 99) > 1
        """,
    )
    assert outside_top_decile == 0
    # they were frequent buyers: an order in most quarters of the year before they went quiet
    active_quarters = scalar(
        con,
        """
        SELECT avg(q) FROM (
            SELECT count(DISTINCT date_trunc('quarter', o.order_ts)) AS q
            FROM orders o JOIN demo_planted_customers p USING (customer_id)
            WHERE p.signal = 'quiet_high_value'
                AND o.order_ts >= TIMESTAMP '2026-10-01' - INTERVAL 595 DAY
                AND o.order_ts < TIMESTAMP '2026-10-01' - INTERVAL 230 DAY
            GROUP BY o.customer_id
        )
        """,
    )
    assert active_quarters >= 3


def test_planted_duplicates_share_phone_and_normalised_name(con):
    pairs = frame(
        con,
        """
        SELECT b.customer_id
        FROM customers a JOIN customers b
            ON a.phone = b.phone AND a.customer_sk < b.customer_sk
            AND lower(trim(a.name)) = lower(trim(b.name))
        """,
    )
    listed = con.table("demo_planted_customers").filter(lambda t: t.signal == "duplicate_customers")
    assert sorted(pairs["customer_id"]) == sorted(listed.customer_id.execute())
    assert 4 <= len(pairs) <= 16
    # phone numbers are otherwise unique
    c = con.table("customers")
    phones = c.filter(c.phone.notnull())
    assert phones.phone.nunique().execute() == phones.count().execute() - len(pairs)


def test_planted_spec_documents_every_signal():
    doc = demo.__doc__
    for name, spec in demo.PLANTED.items():
        assert f"``{name}``" in doc
        assert spec["description_en"] and spec["description_zh"]
    assert re.search(r"P0008", doc)


def test_crmkit_quality_finds_exactly_the_planted_duplicates_and_no_invalid_values(con):
    from crmkit import quality

    found = quality.duplicate_candidates(con).to_pandas()
    listed = con.table("demo_planted_customers").filter(lambda t: t.signal == "duplicate_customers")
    assert sorted(found["customer_id_b"]) == sorted(listed.customer_id.execute())
    assert set(quality.table_quality(con).to_pandas()["validity"]) == {1.0}


# --------------------------------------------------------------------------------------------
# The shared demo and CDNOW
# --------------------------------------------------------------------------------------------


def test_shared_warehouse_is_built_once_per_size_and_seed(tmp_path):
    a = demo.shared_warehouse(500, root=tmp_path)
    assert a.name == "warehouse.duckdb"
    assert a.parent.name == f"demo-500-s42-2026-09-30-{demo.shared_key()}"
    mtime = a.stat().st_mtime_ns
    assert demo.shared_warehouse(500, root=tmp_path) == a and a.stat().st_mtime_ns == mtime
    b = demo.shared_warehouse(500, seed=7, root=tmp_path)
    assert b.parent.name.startswith("demo-500-s7-2026-09-30-")
    con = db.connect(a)
    try:
        assert con.table("customers").count().execute() == 500
        assert "demo_planted" in con.list_tables()
    finally:
        con.disconnect()


def test_shared_warehouse_refuses_bad_arguments_before_building(tmp_path):
    with pytest.raises(ValueError, match="out of range"):
        demo.shared_warehouse(99, root=tmp_path)
    assert list(tmp_path.iterdir()) == []


def test_cdnow_orders_are_the_sample_file():
    """crmkit/data/cdnow_sample.txt: 6,919 lines of 2,357 customers (awk: the sum of the dollar
    column is 244,091.94); its first line is ``00004 0001 19970101 2 29.33``."""
    cd = demo.cdnow_orders()
    assert len(cd) == 6919 and cd.customer_sk.nunique() == 2357
    assert round(float(cd.amount.sum()), 2) == 244091.94
    first = cd.iloc[0]
    assert (first.customer_sk, first.customer_id, first.quantity, first.amount) == (
        1,
        "1",
        2,
        29.33,
    )
    assert first.order_ts == datetime(1997, 1, 1) and set(cd.status) == {"completed"}
    assert (cd.order_ts.min(), cd.order_ts.max()) == (datetime(1997, 1, 1), datetime(1998, 6, 30))
