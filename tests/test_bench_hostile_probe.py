"""The hostile probe's pure parts: the pass rule, the table, reading ingest's output, the scans.

The probe itself (CLI runs, a server, Chromium; ~15 min) is run by hand:
``python -m bench.hostile_probe``.
"""

from bench import hostile_probe as hp


def test_a_case_passes_only_with_checks_all_true():
    """Every check true → passes; one false → fails naming it; no check at all → fails (a case
    that checked nothing proved nothing)."""
    assert hp.verdict({"exit 2": True, "names row 5": True}) == (True, [])
    assert hp.verdict({"exit 2": True, "names row 5": False, "no mojibake": False}) == (
        False,
        ["names row 5", "no mojibake"],
    )
    assert hp.verdict({}) == (False, [])


def test_markdown_table_numbers_rows_escapes_pipes_and_names_failed_checks():
    rows = [
        {"case": "a | b", "before": "exit 1\n(traceback)", "now": "exit 2", "checks": {"x": True}},
        {"case": "c", "before": "lost", "now": "kept", "checks": {"x": True, "y": False}},
    ]
    assert hp.markdown_table(rows).splitlines() == [
        "| # | case | before (issue) | now | ok |",
        "|---|---|---|---|---|",
        "| 1 | a \\| b | exit 1 (traceback) | exit 2 | yes |",
        "| 2 | c | lost | kept | **NO** (y) |",
    ]


def test_long_cells_are_cut_with_an_ellipsis():
    assert hp._cell("x" * 10, limit=4) == "xxx…"
    assert hp._cell("  two\n lines ") == "two lines"


INGEST_OUT = """\
/tmp/a.csv → orders (csv, utf-8), run 2
  rows in           16
  loaded             7  (inserted 7, updated 0, unchanged 0)
  rejected           9
  first: row 6, column amount: written with a decimal comma (1.234,5)
/tmp/big.csv → customers (csv, utf-8), run 3
  rows in      300,000
  loaded       299,700  (inserted 299,700, updated 0, unchanged 0)
  rejected         300
summary of 3 files (exit 2, the worst of them):
  file          rows in     loaded   rejected  exit
  /tmp/a.csv         16          7          9  1 rows rejected
  /tmp/x.parquet      -          -          -  2 failed
  /tmp/big.csv  300,000    299,700        300  0 all loaded
"""


def test_ingest_reports_read_each_files_reconciliation():
    """Two reports (the failed file prints none), thousands separators removed."""
    assert hp.ingest_reports(INGEST_OUT) == [
        {"file": "/tmp/a.csv", "table": "orders", "rows_in": 16, "loaded": 7, "rejected": 9},
        {
            "file": "/tmp/big.csv",
            "table": "customers",
            "rows_in": 300_000,
            "loaded": 299_700,
            "rejected": 300,
        },
    ]


def test_summary_codes_in_file_order():
    summary = INGEST_OUT[INGEST_OUT.index("summary of") :].splitlines()
    assert hp.summary_codes(summary) == [1, 2, 0]


def test_formula_cells_tell_live_from_neutralised_and_numbers():
    """'-5.0' and '+86' are numbers (a spreadsheet reads them so); '=1+1' and '@x' are live;
    "'=**" and "'-售后组" neutralised; "'abc" is neither (no dangerous start after the ')."""
    cells = ["-5.0", "+86", "=1+1", "@x", "'=**", "'-售后组", "'abc", "张**"]
    assert hp.formula_cells(cells, ("=", "+", "-", "@")) == (["=1+1", "@x"], ["'=**", "'-售后组"])


def test_leaks_find_clear_phones_as_digit_runs_and_emails():
    """13812341234 is inside a text; +8613900000000 counts by its digits; the masked
    138****1234 and a 7-digit phone (too short to search) are not found."""
    text = "请回电 13812341234 或 +8613900000000，邮箱 a@x.com；138****1234".encode()
    phones = {"13812341234", "+8613900000000", "13700000000", "1234567", None}
    assert hp.leaks(text, phones, {"a@x.com", "b@x.com"}) == {
        "13812341234",
        "+8613900000000",
        "a@x.com",
    }


def test_a_partial_run_replaces_its_rows_in_place():
    previous = {
        "wall_s": 900.0,
        "rows": [{"key": "a", "ok": True}, {"key": "b", "ok": False}, {"key": "c", "ok": True}],
    }
    new = {"wall_s": 30.0, "rows": [{"key": "b", "ok": True}, {"key": "d", "ok": False}]}
    out = hp.combine(previous, new)
    assert [(r["key"], r["ok"]) for r in out["rows"]] == [
        ("a", True),
        ("b", True),
        ("c", True),
        ("d", False),
    ]
    assert (out["cases"], out["passed"], out["wall_s"]) == (4, 3, 900.0)
    assert out["rerun"] == {"wall_s": 30.0, "keys": ["b", "d"]}
    assert hp.combine(None, new) is new
