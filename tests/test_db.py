"""Connections, transactions and the atomic publish of dashboard snapshots."""

import subprocess
import sys
import textwrap

import ibis
import pandas as pd
import pytest

from crmkit import db


def _warehouse(path, n_customers: int) -> None:
    con = db.connect(path, read_only=False)
    db.create_schema(con)
    con.truncate_table("customers")
    con.insert(
        "customers",
        ibis.memtable(
            pd.DataFrame(
                {
                    "customer_sk": range(1, n_customers + 1),
                    "customer_id": [f"{i:05d}" for i in range(1, n_customers + 1)],
                    "name": ["张三"] * n_customers,
                    "created_at": pd.Timestamp("2024-01-01"),
                }
            )
        ),
    )
    con.disconnect()


def test_read_only_by_default_and_missing_file_is_clear(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist; build one with `crmkit demo`"):
        db.connect(tmp_path / "nope.duckdb")
    _warehouse(tmp_path / "w.duckdb", 3)
    con = db.connect(tmp_path / "w.duckdb")
    with pytest.raises(Exception, match="read-only"):
        con.truncate_table("customers")
    assert con.table("customers").count().execute() == 3


def test_transaction_rolls_back_everything(tmp_path):
    con = db.connect(tmp_path / "w.duckdb", read_only=False)
    db.create_schema(con)
    before = db.table_counts(con)
    with pytest.raises(RuntimeError), db.transaction(con):
        con.insert("ingest_runs", con.table("ingest_runs").limit(0))
        con.create_table("scratch", schema=ibis.schema({"a": "int64"}))
        raise RuntimeError("boom")
    assert "scratch" not in con.list_tables()
    assert db.table_counts(con) == before


def test_publish_copies_tables_and_records_info(tmp_path):
    _warehouse(tmp_path / "w.duckdb", 4)
    res = db.publish(tmp_path / "w.duckdb", tmp_path / "pub.duckdb", steps={})
    assert res.tables["customers"] == 4
    assert res.bytes == (tmp_path / "pub.duckdb").stat().st_size
    assert not list(tmp_path.glob("*.staging-*"))
    snap = db.connect(tmp_path / "pub.duckdb")
    assert snap.table("customers").customer_id.to_pandas().tolist()[:2] == ["00001", "00002"]
    assert snap.table("publish_info").count().execute() == 1


def test_failed_publish_keeps_the_previous_snapshot(tmp_path):
    _warehouse(tmp_path / "w.duckdb", 2)
    db.publish(tmp_path / "w.duckdb", tmp_path / "pub.duckdb", steps={})

    def broken(con):
        raise RuntimeError("step failed")

    _warehouse(tmp_path / "w.duckdb", 5)
    with pytest.raises(RuntimeError, match="step failed"):
        db.publish(tmp_path / "w.duckdb", tmp_path / "pub.duckdb", steps={"x": broken})
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
    db.publish(tmp_path / "w.duckdb", pub, steps={})
    reader = subprocess.Popen(
        [sys.executable, "-c", READER, str(pub)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert reader.stdout.readline().strip() == "ready"
    for n in (7, 11):
        _warehouse(tmp_path / "w.duckdb", n)
        db.publish(tmp_path / "w.duckdb", pub, steps={})
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
