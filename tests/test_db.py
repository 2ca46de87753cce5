"""Connections, transactions, the data clock and the staging copy a snapshot is built in."""

import ibis
import pytest
from warehouses import customers_only as _warehouse

from crmkit import db


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


@pytest.mark.parametrize("read_only", [True, False])
def test_a_csv_file_given_as_the_database_is_refused(tmp_path, read_only):
    """DuckDB opens an existing CSV file as an in-memory database (writable: everything written
    to it vanishes; read-only: a CatalogException about in-memory mode). Both are refused
    naming the file, and the CSV is left as it was."""
    csv = tmp_path / "orders.csv"
    csv.write_text("a,b\n1,2\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"'.*orders\.csv' is not a DuckDB database file"):
        db.connect(csv, read_only=read_only)
    assert csv.read_text(encoding="utf-8") == "a,b\n1,2\n"


def test_staging_writes_the_transformed_copy_and_the_clear_one(tmp_path):
    """Three customers named 张三: the block adds a table; ``dst`` gets every table through the
    transform (names replaced by "*"), :func:`db.analyst_path` the copy as it was; both files
    mode 0600 (the process's umask 022 notwithstanding, and restored after), no staging file
    left. A block that raises leaves neither file."""
    import os
    import stat

    _warehouse(tmp_path / "w.duckdb", 3)
    dst = tmp_path / "p.duckdb"
    umask = os.umask(0o022)

    def star_names(name, t):
        return t.mutate(name=ibis.literal("*")) if "name" in t.columns else t

    with db.staging(tmp_path / "w.duckdb", dst, dashboard=star_names) as snap:
        snap.create_table("extra", ibis.memtable({"name": ["李四"], "n": [1]}))
    analyst = db.analyst_path(dst)
    assert analyst == tmp_path / "p.analyst.duckdb"
    for path, names in ((dst, ["*"] * 3 + ["*"]), (analyst, ["张三"] * 3 + ["李四"])):
        con = db.connect(path)
        got = con.table("customers").name.to_list() + con.table("extra").name.to_list()
        assert got == names and con.table("extra").n.to_list() == [1]
        con.disconnect()
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert sorted(os.listdir(tmp_path)) == ["p.analyst.duckdb", "p.duckdb", "w.duckdb"]

    fresh = tmp_path / "q.duckdb"
    with (
        pytest.raises(RuntimeError),
        db.staging(tmp_path / "w.duckdb", fresh, dashboard=star_names),
    ):
        raise RuntimeError("boom")
    assert sorted(os.listdir(tmp_path)) == ["p.analyst.duckdb", "p.duckdb", "w.duckdb"]
    assert os.umask(umask) == 0o022  # the process's umask is back
