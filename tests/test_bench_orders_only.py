"""bench.orders_only: the export looks like a company's three-column file, and a tiny run goes
through the real ``crmkit ingest`` / ``crmkit publish`` processes and records every step's
status and reason."""

import importlib

import duckdb
import pytest

from bench import orders_only

STEP_NAMES = [s.name for s in importlib.import_module("crmkit.publish").STEPS]


def test_export_writes_the_company_columns_only(tmp_path):
    """Source: customers C2, C1 (any other column dropped) and three orders, written out of
    time order, one with a fractional second and a one-decimal amount. customers.csv: the one
    header 客户编号, ids sorted. orders.csv: 客户编号, 下单时间, 金额, sorted by time, times to the
    second (10:00:00.7 → 10:00:00), amounts with two decimals (99.5 → 99.50)."""
    src = tmp_path / "src.duckdb"
    con = duckdb.connect(str(src))
    con.execute("CREATE TABLE customers AS SELECT * FROM (VALUES ('C2', '李四'), ('C1', '张三')) "
                "t(customer_id, name)")  # fmt: skip
    con.execute(
        "CREATE TABLE orders AS SELECT * FROM (VALUES "
        "('O3', 'C1', TIMESTAMP '2024-04-02 09:30:00', 50.00::DECIMAL(18,2), 'returned'), "
        "('O1', 'C1', TIMESTAMP '2024-03-01 10:00:00.7', 99.50::DECIMAL(18,2), 'completed'), "
        "('O2', 'C2', TIMESTAMP '2024-03-05 00:00:00', 1288.00::DECIMAL(18,2), 'completed')) "
        "t(order_id, customer_id, order_ts, amount, status)"
    )
    con.close()
    files = orders_only.export(src, tmp_path)
    assert files["customers"].read_text(encoding="utf-8").splitlines() == ["客户编号", "C1", "C2"]
    assert files["orders"].read_text(encoding="utf-8").splitlines() == [
        "客户编号,下单时间,金额",
        "C1,2024-03-01 10:00:00,99.50",
        "C2,2024-03-05 00:00:00,1288.00",
        "C1,2024-04-02 09:30:00,50.00",
    ]


@pytest.mark.slow  # demo + two `crmkit ingest` and a `crmkit publish` in subprocesses: ~80 s
def test_tiny_run_records_ingest_publish_and_every_step(tmp_path):
    """1,031 orders → 100 demo customers (the demo's smallest). Every exported row is read and
    loaded, none rejected, so the warehouse holds exactly the demo's customers and orders.
    Every publish step is recorded in the pipeline's order. Without feedback, tickets and
    contacts the six steps that read them are skipped on their (empty) table, ``needs`` on
    the table ``need_texts`` never written; the churn model has too few labelled rows at 100
    customers. Everything else runs."""
    res = orders_only.run(1031, tmp_path)
    assert res["demo"]["customers_generated"] == 100
    src = duckdb.connect(str(tmp_path / "demo.duckdb"), read_only=True)
    demo_rows = {t: src.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in res["files"]}
    src.close()
    assert res["warehouse_rows"] == demo_rows
    for table, n in demo_rows.items():
        ing = res["ingest"][table]
        assert (ing["exit_code"], ing["rows_in"], ing["inserted"], ing["rejected"]) == (0, n, n, 0)
        assert ing["seconds"] > 0 and ing["peak_mib"] > 50
    assert res["files"]["orders"]["headers"] == ["客户编号", "下单时间", "金额"]

    assert list(res["steps"]) == STEP_NAMES
    reasons = {s: o["reason"] for s, o in res["steps"].items() if o["status"] == "skipped"}
    assert reasons.pop("churn").startswith("too_few:labelled_rows:")
    assert reasons == {
        "winback": "empty_table:interactions",
        "need_texts": "empty_table:feedback",
        "needs": "empty_table:feedback",  # the cause, not the missing need_texts table
        "satisfaction_responses": "empty_table:feedback",
        "complaints": "empty_table:tickets",
        "satisfaction": "empty_table:feedback",
    }
    assert res["steps_skipped"]["complaints"] == "the Complaint tickets table is empty"
    assert res["steps_ran"] == [s for s in STEP_NAMES if s not in res["steps_skipped"]]
    assert all(res["steps"][s]["seconds"] > 0 for s in res["steps_ran"])
    assert res["snapshot_rows"]["classification"] == demo_rows["customers"]
    assert res["publish_s"] >= sum(o["seconds"] for o in res["steps"].values())
    assert res["total_s"] == pytest.approx(res["ingest_s"] + res["publish_s"])
    assert res["peak_mib"]["publish"] > 50
    text = orders_only.summary(1031, res)
    assert "churn" in text and "only " in text  # a skipped step's line says why
