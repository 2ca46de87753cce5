"""The ``crmkit`` command (crmkit.cli), called in-process through ``main([...])``.

What cli.py promises: exit 0 on success, 1 when ``ingest`` rejected rows (tests/test_cli_ingest.py
covers ingest, as a subprocess), 2 when a file or command failed — the error on stderr as
``crmkit <command>: <message>`` — and 2 from argparse for a usage error. The warehouse is
``--db``, else ``$CRMKIT_DB``, else ``data/warehouse.duckdb``; the snapshot ``--out`` /
``--published``, else ``$CRMKIT_PUBLISHED``, else ``data/published.duckdb``.

The end-to-end runs use the smallest demo allowed, 100 customers (``demo.MIN_CUSTOMERS``): 40
products whatever the size. Publishing it takes ~30 s (every step, CLV fits included), so the
demo → publish → report chain is marked slow.
"""

from __future__ import annotations

import contextlib
import importlib
import io
from datetime import date

import pytest

from crmkit import cli, db, schema

COMMANDS = {
    "demo",
    "ingest",
    "publish",
    "quality",
    "merge-duplicates",
    "serve",
    "report",
    "export",
    "schema",
    "config",
}


@pytest.fixture(autouse=True)
def _no_paths_from_env(monkeypatch):
    monkeypatch.delenv("CRMKIT_DB", raising=False)
    monkeypatch.delenv("CRMKIT_PUBLISHED", raising=False)


def _exit_code(argv: list[str]) -> int:
    """The exit code argparse gives ``argv`` (it raises SystemExit for --help and errors)."""
    with pytest.raises(SystemExit) as e:
        cli.main(argv)
    return e.value.code


# ------------------------------------------------------------------------------ parsing


def test_every_command_is_registered():
    parser = cli.build_parser()
    sub = next(a for a in parser._actions if a.dest == "command")
    assert set(sub.choices) == COMMANDS


def test_help_lists_the_commands(capsys):
    assert _exit_code(["--help"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("usage: crmkit")
    assert "Customer-management workbench (客户管理) over DuckDB." in out
    for command in COMMANDS:
        assert command in out
    words = " ".join(out.split())  # argparse wraps long help lines
    assert "build a seeded synthetic warehouse with planted signals" in words
    assert "the management report: one self-contained HTML file" in words


@pytest.mark.parametrize(
    ("command", "words"),
    [
        ("demo", ["--customers", "--seed", "--as-of", "--replace", "YYYY-MM-DD"]),
        ("ingest", ["FILE", "--table", "--db"]),
        ("publish", ["--db", "--out"]),
        ("report", ["--period", "--lang", "{zh,en}", "2025-Q3, 2025-07 or 2025"]),
        ("schema", ["--table"]),
        ("serve", ["--port", "--token"]),
        ("export", ["--segment CODE", "--list NAME", "churn_warning", "--role", "--published"]),
    ],
)
def test_command_help(command, words, capsys):
    assert _exit_code([command, "--help"]) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"usage: crmkit {command}")
    for w in words:
        assert w in out, w


def test_demo_defaults():
    """10,000 customers, seed 42, 10.5 orders per customer, history to 2026-09-30."""
    args = cli.build_parser().parse_args(["demo"])
    assert (args.customers, args.seed, args.orders_per_customer) == (10_000, 42, 10.5)
    assert args.as_of == date(2026, 9, 30)
    assert (args.db, args.replace, args.quiet) == (None, False, False)
    assert args.func is cli.cmd_demo


def test_arguments_are_typed():
    args = cli.build_parser().parse_args(
        ["demo", "--customers", "250", "--as-of", "2025-03-31", "--orders-per-customer", "2"]
    )
    assert (args.customers, args.as_of, args.orders_per_customer) == (250, date(2025, 3, 31), 2.0)
    args = cli.build_parser().parse_args(["report", "--lang", "en", "--period", "2025-07"])
    assert (args.lang, args.period, args.out, args.published) == ("en", "2025-07", None, None)
    assert cli.build_parser().parse_args(["report"]).lang == "zh"


@pytest.mark.parametrize(
    "argv",
    [
        [],  # a command is required
        ["frobnicate"],
        ["demo", "--customers", "many"],
        ["demo", "--as-of", "2026-13-01"],
        ["report", "--lang", "fr"],
        ["ingest", "x.csv"],  # --table is required
        ["ingest", "--table", "orders"],  # at least one FILE
    ],
)
def test_usage_errors_exit_2(argv, capsys):
    assert _exit_code(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("usage: crmkit") and "error:" in err


# ------------------------------------------------------------------------------ failures


def test_demo_out_of_range_exits_2_with_the_reason(tmp_path, capsys):
    assert cli.main(["demo", "--customers", "99", "--db", str(tmp_path / "w.duckdb")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("crmkit demo: customers=99 is out of range; expected 100 … 5,000,000")


def test_demo_refuses_to_overwrite_without_replace(tmp_path, capsys):
    wh = tmp_path / "w.duckdb"
    wh.write_bytes(b"someone's warehouse")
    assert cli.main(["demo", "--customers", "100", "--db", str(wh), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert f"crmkit demo: {wh} already exists; pass --replace" in err
    assert wh.read_bytes() == b"someone's warehouse"


@pytest.mark.parametrize(
    "argv",
    [["quality"], ["publish"], ["report"]],
    ids=["quality", "publish", "report"],
)
def test_missing_database_exits_2_and_names_the_default(argv, tmp_path, monkeypatch, capsys):
    """No --db / --published and no environment: the defaults under data/, which do not exist
    in an empty folder; nothing is created."""
    monkeypatch.chdir(tmp_path)
    assert cli.main(argv) == 2
    err = capsys.readouterr().err
    default = "data/published.duckdb" if argv == ["report"] else "data/warehouse.duckdb"
    assert err.startswith(f"crmkit {argv[0]}: ") and f"'{default}' does not exist" in err
    assert not (tmp_path / "data" / "warehouse.duckdb").exists()


def test_environment_names_the_warehouse(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("CRMKIT_DB", str(tmp_path / "from_env.duckdb"))
    assert cli.main(["quality"]) == 2
    assert "from_env.duckdb' does not exist" in capsys.readouterr().err


def test_schema_unknown_table_exits_2(capsys):
    assert cli.main(["schema", "--table", "nope"]) == 2
    assert capsys.readouterr().err.startswith(
        "crmkit schema: unknown table 'nope'; expected one of"
    )


# ------------------------------------------------------------------------------ commands


def test_schema_prints_the_data_dictionary(capsys):
    """``--table products``: its 5 columns, key first, and no other table's."""
    assert cli.main(["schema", "--table", "products"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].split()[:3] == ["table", "column", "type"]
    rows = [line.split()[:2] for line in out[1:]]
    assert rows == [["products", c] for c in schema.table("products").column_names]
    assert [r[1] for r in rows] == ["product_id", "name", "category", "launch_date", "list_price"]
    assert cli.main(["schema"]) == 0
    everything = capsys.readouterr().out.splitlines()[1:]
    assert len(everything) == sum(len(t.columns) for t in schema.TABLES.values())


def test_size_is_human_readable():
    """1023 B stays in bytes; 1536 B = 1.5 KiB; 3 × 2²⁰ = 3.0 MiB; 2⁴⁰ B = 1,024.0 GiB (the
    largest unit)."""
    assert cli._size(1023) == "1,023 B"
    assert cli._size(1536) == "1.5 KiB"
    assert cli._size(3 * 2**20) == "3.0 MiB"
    assert cli._size(2**40) == "1,024.0 GiB"


@pytest.fixture(scope="module")
def small_demo(tmp_path_factory):
    """``crmkit demo --customers 100`` into a fresh folder, and what it printed."""
    wh = tmp_path_factory.mktemp("cli") / "warehouse.duckdb"
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = cli.main(["demo", "--customers", "100", "--db", str(wh), "--quiet"])
    return wh, code, out.getvalue(), err.getvalue()


def _rows(wh) -> dict[str, int]:
    con = db.connect(wh)
    try:
        return {t: int(con.table(t).count().execute()) for t in schema.TABLES}
    finally:
        con.disconnect()


def test_demo_builds_the_warehouse(small_demo):
    """Exit 0; the counts it prints are the warehouse's: 100 customers, 40 products; --quiet
    prints no progress and no timing line."""
    wh, code, out, err = small_demo
    assert code == 0 and err == ""
    first = out.splitlines()[0]
    assert first.startswith(f"demo warehouse {wh}: customers 100, products 40, orders ")
    rows = _rows(wh)
    for table, n in rows.items():
        assert f"{table} {n:,}" in first, table
    assert out.splitlines()[1].startswith("generated in ")
    assert not wh.with_name(wh.name + ".wal").exists()  # checkpointed


def test_demo_replace_gives_the_same_seeded_data(small_demo, tmp_path, capsys):
    """Same seed, same size: the same rows (the demo is reproducible); --replace overwrites."""
    wh, *_ = small_demo
    copy = tmp_path / "w.duckdb"
    copy.write_bytes(b"old")
    assert cli.main(["demo", "--customers", "100", "--db", str(copy), "--replace"]) == 0
    captured = capsys.readouterr()
    assert "[demo took " in captured.err  # not --quiet: the timing line on stderr
    assert _rows(copy) == _rows(wh)


def test_quality_prints_one_row_per_table(small_demo, capsys):
    wh, *_ = small_demo
    assert cli.main(["quality", "--db", str(wh)]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].split()[:3] == ["table", "rows", "completeness"]
    rows = _rows(wh)
    printed = {line.split()[0]: int(line.split()[1]) for line in out[1:]}
    assert printed == rows
    assert printed["customers"] == 100


@pytest.mark.slow
def test_publish_then_report(small_demo, tmp_path, capsys):
    """``publish`` lists every snapshot table with its rows (customers 100, as in the
    warehouse); ``report`` writes the self-contained HTML (plotly.js inline: > 3 MB) and an
    unknown period fails with 2."""
    wh, *_ = small_demo
    pub = tmp_path / "published.duckdb"
    assert cli.main(["publish", "--db", str(wh), "--out", str(pub)]) == 0
    captured = capsys.readouterr()
    assert captured.out.startswith(f"published {pub} in ")
    listed = {
        line.split()[0]: int(line.split()[1].replace(",", ""))
        for line in captured.out.splitlines()[1:]
    }
    rows = _rows(wh)
    assert listed["customers"] == rows["customers"] == 100
    assert listed["orders"] == rows["orders"]
    assert {"classification", "kpi_values", "publish_info"} <= set(listed)
    assert "  copy " in captured.err  # the step timings go to stderr
    html = tmp_path / "r.html"
    assert cli.main(["report", "--published", str(pub), "--lang", "en", "--out", str(html)]) == 0
    assert capsys.readouterr().out.startswith(f"report {html}: ")
    text = html.read_text(encoding="utf-8")
    assert html.stat().st_size > 3_000_000 and "Customer management report · 2026-Q3" in text
    assert cli.main(["report", "--published", str(pub), "--period", "Q9"]) == 2
    assert capsys.readouterr().err.startswith("crmkit report: ")


def test_publish_failure_names_the_step_logs_the_trace_and_keeps_the_snapshot(
    small_demo, tmp_path, monkeypatch, capsys
):
    """A step that raises: exit 2, the step named on stderr, the traceback in a log file whose
    path is printed, and the snapshot published before left byte for byte as it was."""
    publish = importlib.import_module("crmkit.publish")  # crmkit.publish is the function

    wh, *_ = small_demo
    pub = tmp_path / "published.duckdb"
    monkeypatch.setattr(publish, "STEPS", publish.STEPS[:1])  # quality only: quick
    assert cli.main(["publish", "--db", str(wh), "--out", str(pub)]) == 0
    before = pub.read_bytes()
    capsys.readouterr()

    def boom(ctx):
        raise ZeroDivisionError("planted failure")

    monkeypatch.setattr(publish, "STEPS", (*publish.STEPS, publish.Step("boom", boom)))
    assert cli.main(["publish", "--db", str(wh), "--out", str(pub)]) == 2
    err = capsys.readouterr().err
    assert "crmkit publish: publish step 'boom' failed: ZeroDivisionError: planted failure" in err
    logs = list(tmp_path.glob("publish-failed-*.log"))
    assert len(logs) == 1 and f"the traceback is in {logs[0]}" in err
    trace = logs[0].read_text(encoding="utf-8")
    assert "Traceback" in trace and 'raise ZeroDivisionError("planted failure")' in trace
    assert f"the previous snapshot stays as it was: {pub}" in err
    assert pub.read_bytes() == before
    assert not list(tmp_path.glob("*.staging-*"))


def test_publish_lists_skipped_steps_with_their_reason(small_demo, tmp_path, monkeypatch, capsys):
    """A step whose table is missing is skipped, exit 0, and stderr says which and why."""
    publish = importlib.import_module("crmkit.publish")  # crmkit.publish is the function

    wh, *_ = small_demo
    lacking = publish.Step("needs_x", lambda ctx: {}, ("no_such_table",))
    monkeypatch.setattr(publish, "STEPS", (publish.STEPS[0], lacking))
    assert cli.main(["publish", "--db", str(wh), "--out", str(tmp_path / "p.duckdb")]) == 0
    err = capsys.readouterr().err
    assert '1 step(s) skipped (their pages say "not available"):' in err
    assert "  needs_x                     no no_such_table table in the data" in err


def test_publish_reads_the_company_config_and_refuses_a_missing_one(
    small_demo, tmp_path, monkeypatch, capsys
):
    from crmkit import config

    publish = importlib.import_module("crmkit.publish")
    wh, *_ = small_demo
    monkeypatch.setattr(publish, "STEPS", publish.STEPS[:1])
    company = tmp_path / "company"
    assert cli.main(["config", "init", str(company)]) == 0
    assert f"settings written to {company}" in capsys.readouterr().out
    pub = tmp_path / "p.duckdb"
    assert cli.main(["publish", "--db", str(wh), "--out", str(pub), "--config", str(company)]) == 0
    con = db.connect(pub)
    info = con.table("publish_info").to_pandas().iloc[0]
    con.disconnect()
    assert info.config_dir == str(company.resolve())
    assert info.config_fingerprint == config.load(company).fingerprint()
    missing = tmp_path / "nowhere"
    assert cli.main(["publish", "--db", str(wh), "--out", str(pub), "--config", str(missing)]) == 2
    assert "settings directory" in capsys.readouterr().err


def test_config_init_writes_every_default_and_will_not_overwrite(tmp_path, capsys):
    from crmkit import config

    d = tmp_path / "cfg"
    assert cli.main(["config", "init", str(d)]) == 0
    assert sorted(p.name for p in d.iterdir()) == sorted(config.FILES.values())
    for name in config.FILES.values():
        assert (d / name).read_bytes() == (config.DEFAULT_DIR / name).read_bytes()
    (d / "kpi_targets.json").write_text("{}", encoding="utf-8")
    assert cli.main(["config", "init", str(d)]) == 2
    assert "pass --force" in capsys.readouterr().err
    assert (d / "kpi_targets.json").read_text(encoding="utf-8") == "{}"
    assert cli.main(["config", "init", str(d), "--force"]) == 0
    assert (d / "kpi_targets.json").read_bytes() != b"{}"


def test_an_ingest_that_loads_nothing_leaves_no_new_warehouse(tmp_path, capsys):
    """A mistyped file name must not leave an empty warehouse behind that `crmkit publish`
    would then publish as 15 skipped steps."""
    wh = tmp_path / "w.duckdb"
    assert (
        cli.main(["ingest", str(tmp_path / "nope.csv"), "--table", "orders", "--db", str(wh)]) == 2
    )
    assert "nope.csv" in capsys.readouterr().err
    assert not wh.exists() and not wh.with_name("w.duckdb.wal").exists()
    assert cli.main(["publish", "--db", str(wh), "--out", str(tmp_path / "p.duckdb")]) == 2
    assert "does not exist; run `crmkit demo` or `crmkit ingest` first" in capsys.readouterr().err
