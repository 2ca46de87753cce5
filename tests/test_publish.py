"""The publish pipeline: explicit steps, one StepContext, outcomes stored, atomic swap."""

import subprocess
import sys
import textwrap
from datetime import datetime

import pandas as pd
import pytest
from warehouses import customers_only as _warehouse

import crmkit
from crmkit import db, stats
from crmkit.publish import STEPS, PublishError, Step, StepContext, run_steps


def test_steps_are_an_explicit_ordered_list():
    """Every step is named once, in the order the pages' tables depend on: classification
    before what reads it, the stored texts and responses before the summaries over them, the
    KPIs last (they read clv)."""
    names = [s.name for s in STEPS]
    assert len(names) == len(set(names))
    assert names.index("classification") < names.index("classification_snapshots")
    assert names.index("classification") < names.index("churn") < names.index("kpi")
    assert names.index("classification") < names.index("cubes")
    assert names.index("need_texts") < names.index("needs") < names.index("satisfaction")
    assert names.index("satisfaction_responses") < names.index("satisfaction")
    assert names.index("complaints") + 1 == names.index("satisfaction")
    assert names[-1] == "kpi"


def test_every_step_gets_one_context_and_its_tables_are_written(tmp_path):
    """Two steps: the second reads the first's table through the same context; a list value is
    appended part by part; the clock and config are those of the context."""
    con = db.connect(":memory:", read_only=False)
    seen = []

    def first(ctx):
        seen.append((ctx.step, ctx.as_of, ctx.config))
        return {"a": pd.DataFrame({"x": [1, 2]}), "b": [pd.DataFrame({"y": [1]})] * 3}

    def second(ctx):
        seen.append((ctx.step, ctx.as_of, ctx.config))
        return {"c": ctx.con.table("a").mutate(z=ctx.con.table("a").x * 10)}

    ctx = StepContext(con, datetime(2024, 5, 1), crmkit.config.load())
    outcomes, seconds = run_steps(ctx, [Step("one", first), Step("two", second)])
    assert [(o.step, o.status, o.rows) for o in outcomes] == [("one", "ok", 5), ("two", "ok", 2)]
    assert set(seconds) == {"one", "two"}
    assert con.table("b").count().execute() == 3
    assert con.table("c").z.to_pandas().tolist() == [10, 20]
    assert [s[0] for s in seen] == ["one", "two"]
    assert {s[1] for s in seen} == {datetime(2024, 5, 1)}


def test_a_step_without_its_tables_is_skipped_with_the_reason():
    con = db.connect(":memory:", read_only=False)
    ran = []
    step = Step("needs_orders", lambda ctx: ran.append(1) or {}, needs=("orders",))
    ctx = StepContext(con, datetime(2024, 5, 1), crmkit.config.load())
    outcomes, _ = run_steps(ctx, [step])
    assert (outcomes[0].status, outcomes[0].reason) == ("skipped", "no_table:orders")
    assert not ran


def test_progress_names_each_step(tmp_path):
    _warehouse(tmp_path / "w.duckdb", 3)
    said = []
    steps = [s for s in STEPS if s.name == "quality"]
    res = crmkit.publish(
        tmp_path / "w.duckdb",
        tmp_path / "p.duckdb",
        steps=steps,
        progress=lambda *a: said.append(a),
    )
    assert said[0][0] == "copy" and ("quality", "start") in said
    assert any(s == "quality" and m.startswith("ok ") for s, m in said)
    snap = db.connect(res.path)
    stored = snap.table("publish_steps").to_pandas()
    info = snap.table("publish_info").to_pandas().iloc[0]
    assert stored[["step", "status"]].values.tolist() == [["quality", "ok"]]
    assert stored.rows.iloc[0] == sum(res.tables[t] for t in res.tables if t.startswith("quality_"))
    assert info.config_fingerprint == crmkit.config.load().fingerprint()
    assert info.as_of == pd.Timestamp("2024-01-01")


def test_publish_copies_tables_and_records_info(tmp_path):
    _warehouse(tmp_path / "w.duckdb", 4)
    res = crmkit.publish(tmp_path / "w.duckdb", tmp_path / "pub.duckdb", steps=[])
    assert res.tables["customers"] == 4
    assert res.bytes == (tmp_path / "pub.duckdb").stat().st_size
    assert not list(tmp_path.glob("*.staging-*"))
    snap = db.connect(tmp_path / "pub.duckdb")
    assert snap.table("customers").customer_id.to_pandas().tolist()[:2] == ["00001", "00002"]
    assert snap.table("publish_info").count().execute() == 1


def test_failed_publish_keeps_the_previous_snapshot(tmp_path):
    _warehouse(tmp_path / "w.duckdb", 2)
    crmkit.publish(tmp_path / "w.duckdb", tmp_path / "pub.duckdb", steps=[])

    def broken(ctx):
        raise RuntimeError("step failed")

    _warehouse(tmp_path / "w.duckdb", 5)
    with pytest.raises(PublishError, match="step 'x' failed: RuntimeError: step failed") as e:
        crmkit.publish(tmp_path / "w.duckdb", tmp_path / "pub.duckdb", steps=[Step("x", broken)])
    assert e.value.step == "x" and "step failed" in e.value.trace
    assert not list(tmp_path.glob("*.staging-*"))
    snap = db.connect(tmp_path / "pub.duckdb")
    assert snap.table("customers").count().execute() == 2


#: Reads the customer count over and over, from "ready" until a line arrives on stdin (at least
#: once), then prints the counts it saw.
READER = textwrap.dedent(
    """
    import select, sys, duckdb
    con = duckdb.connect(sys.argv[1], read_only=True)
    print("ready", flush=True)
    counts, errors = set(), 0
    while True:
        try:
            counts.add(con.execute("select count(*) from customers").fetchone()[0])
        except Exception as e:
            errors += 1
            print("error", e, flush=True)
        if select.select([sys.stdin], [], [], 0)[0]:
            break
    print("counts", sorted(counts), "errors", errors, flush=True)
    """
)


def test_reader_keeps_working_while_publish_replaces_the_snapshot(tmp_path):
    """A dashboard holding the snapshot open keeps reading its (old) file without errors while
    publish swaps in a new one; a reader that opens afterwards sees the new data."""
    _warehouse(tmp_path / "w.duckdb", 3)
    pub = tmp_path / "pub.duckdb"
    crmkit.publish(tmp_path / "w.duckdb", pub, steps=[])
    reader = subprocess.Popen(
        [sys.executable, "-c", READER, str(pub)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert reader.stdout.readline().strip() == "ready"
    for n in (7, 11):
        _warehouse(tmp_path / "w.duckdb", n)
        crmkit.publish(tmp_path / "w.duckdb", pub, steps=[])
    out, _ = reader.communicate("stop\n", timeout=60)  # read throughout both publishes
    assert reader.returncode == 0
    assert out.strip().splitlines()[-1] == "counts [3] errors 0"
    fresh = subprocess.run(
        [sys.executable, "-c", READER, str(pub)],
        input="stop\n",
        capture_output=True,
        text=True,
        check=True,
    )
    assert fresh.stdout.strip().splitlines()[-1] == "counts [11] errors 0"


def test_a_step_on_an_empty_table_or_too_little_data_is_skipped_with_the_reason():
    """``orders`` exists but holds no row: skipped (``empty_table:orders``), never run; a step
    whose analysis raises NotEnoughData is skipped with that reason and writes nothing; the
    steps after both still run."""
    con = db.connect(":memory:", read_only=False)
    db.create_schema(con)
    ran = []

    def too_few(ctx):
        raise stats.NotEnoughData(stats.too_few("repeat_buyers", 3, 50))

    steps = [
        Step("on_orders", lambda ctx: ran.append("orders") or {}, needs=("orders",)),
        Step("models", too_few),
        Step("after", lambda ctx: ran.append("after") or {"x": pd.DataFrame({"a": [1]})}),
    ]
    outcomes, _ = run_steps(StepContext(con, datetime(2024, 5, 1), crmkit.config.load()), steps)
    got = [(o.step, o.status, o.reason) for o in outcomes]
    assert got == [
        ("on_orders", "skipped", "empty_table:orders"),
        ("models", "skipped", "too_few:repeat_buyers:3:50"),
        ("after", "ok", ""),
    ]
    assert ran == ["after"] and con.table("x").count().execute() == 1
