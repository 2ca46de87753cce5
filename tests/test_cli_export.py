"""``crmkit export``: the file a page's export button gives, written from the command line.

The page side of every comparison is the real page: built on the snapshot with the same role,
language and filters, its button "clicked" (the kernel side of the click, ``_on_click``, with the
file it would send to the browser captured). CSV files must be equal byte for byte apart from
the export-time line (the third); an Excel file's zip carries its own creation time, so its
cells are compared instead (sheet ``data`` whole, sheet ``about`` without the export time).

On the tiny snapshot (tests/fixtures: 5 customers, 6 orders, clock 2024-04-02 10:30) C001 张伟
(上海) is the one 重要保持 (important_keep) customer and C003 Alice Smith (广东) the one 一般发展
(general_develop); the churn model was skipped (no training cut-off after the first order), so
the churn warning list is not available.
"""

from __future__ import annotations

import contextlib
import errno
import io
import os
from pathlib import Path

import openpyxl
import pytest

from crmkit import cli, views


def run(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = cli.main(["export", *argv, "--quiet"])
    return code, out.getvalue(), err.getvalue()


def clicked(buttons: views.ExportButtons, fmt: str, monkeypatch) -> bytes:
    """The file a page's CSV or Excel export button sends to the browser when clicked."""
    button = buttons.buttons[0 if fmt == "csv" else 1]
    sent: list[bytes] = []
    monkeypatch.setattr(button, "send", lambda content, buffers=None: sent.extend(buffers))
    button._on_click(None, {"event": "export"}, [])
    (data,) = sent
    return data


def csv_without_time(data: bytes) -> list[str]:
    lines = data.decode("utf-8-sig").splitlines()
    assert lines[2].startswith(("# 导出时间: ", "# Exported at: ")), lines[:3]
    return lines[:2] + lines[3:]


def xlsx_cells(data: bytes) -> tuple[list[tuple], list[tuple]]:
    book = openpyxl.load_workbook(io.BytesIO(data))
    about = [
        r
        for r in book["about"].iter_rows(values_only=True)
        if r[0] not in ("导出时间", "Exported at")
    ]
    return list(book["data"].iter_rows(values_only=True)), about


def assert_same_file(cli_file: bytes, page_file: bytes, fmt: str) -> None:
    if fmt == "csv":
        assert csv_without_time(cli_file) == csv_without_time(page_file)
    else:
        assert xlsx_cells(cli_file) == xlsx_cells(page_file)


@pytest.fixture()
def snapshot(tiny_snapshot, monkeypatch):
    monkeypatch.setenv("CRMKIT_PUBLISHED", str(tiny_snapshot))
    return tiny_snapshot


def test_segment_list_equals_the_classification_page_export(snapshot, tmp_path, monkeypatch):
    """important_keep, dashboard role, 中文: one row, C001 with name and phone masked."""
    page = views.customer_classification(lang="zh", role="dashboard")
    page.segment_buttons.value = "important_keep"
    out = tmp_path / "keep.csv"
    code, said, err = run("--segment", "important_keep", "--out", str(out))
    assert (code, err) == (0, "")
    assert said.startswith(f"export {out}: customers_important_keep, 1 rows (dashboard role;")
    assert out.read_bytes() != b""
    assert_same_file(out.read_bytes(), clicked(page.list_export, "csv", monkeypatch), "csv")
    lines = csv_without_time(out.read_bytes())
    assert lines[0] == "# export: customers_important_keep"
    assert lines[3].startswith("C001,张**,138****1234,重要保持客户,")


def test_filtered_segment_list_in_excel_for_the_analyst(snapshot, tmp_path, monkeypatch):
    """general_develop in 广东, analyst role, English, Excel: Alice Smith in clear; the filters
    are recorded in the about sheet."""
    page = views.customer_classification(lang="en", role="analyst")
    page.filter_bar.province.value = "广东"
    page.segment_buttons.value = "general_develop"
    out = tmp_path / "develop.xlsx"
    code, _, err = run(
        "--segment", "general_develop", "--province", "广东", "--lang", "en",
        "--role", "analyst", "--out", str(out),
    )  # fmt: skip
    assert (code, err) == (0, "")
    assert_same_file(out.read_bytes(), clicked(page.list_export, "xlsx", monkeypatch), "xlsx")
    rows, about = xlsx_cells(out.read_bytes())
    assert rows[1][:2] == ("C003", "Alice Smith") and len(rows) == 2
    assert ("Filters used", "Period: All time; Province: 广东; City: All; Segment: All; "
            "Owner team: All") in about  # fmt: skip


@pytest.mark.parametrize(
    ("name", "page", "buttons"),
    [
        ("stale_by_owner", views.data_overview, "owners_export"),
        ("duplicate_candidates", views.data_overview, "dups_export"),
        ("care_calendar", views.customer_needs, "calendar_export"),
    ],
)
def test_lists_of_the_tiny_snapshot_equal_their_pages(
    snapshot, tmp_path, monkeypatch, name, page, buttons
):
    """The lists the tiny snapshot has (its quality and relationship steps ran)."""
    shown = page(lang="zh", role="dashboard")
    out = tmp_path / f"{name}.csv"
    assert run("--list", name, "--out", str(out))[0] == 0
    assert_same_file(out.read_bytes(), clicked(getattr(shown, buttons), "csv", monkeypatch), "csv")


def test_a_list_that_is_not_available_says_why(snapshot, tmp_path):
    out = tmp_path / "risk.csv"
    assert run("--list", "churn_warning", "--out", str(out)) == (
        2,
        "",
        "crmkit export: the list 'churn_warning' cannot be exported from this snapshot. Not "
        "available: only 0 training cut-offs after the first order, at least 1 needed; nothing "
        "was written\n",
    )
    assert not out.exists()


def test_unknown_names_are_listed_and_nothing_is_written(snapshot, tmp_path):
    out = tmp_path / "x.csv"
    out.write_bytes(b"before")
    code, _, err = run("--list", "risk", "--out", str(out))
    assert code == 2 and err == (
        "crmkit export: unknown list 'risk'; known lists: churn_warning, overdue_contacts, "
        "care_calendar, sla_breaches, open_backlog_by_team, stale_by_owner, "
        "duplicate_candidates; nothing was written\n"
    )
    code, _, err = run("--segment", "vip", "--out", str(out))
    assert code == 2 and err.startswith(
        "crmkit export: unknown segment 'vip'; known segments: important_value, "
    )
    assert err.count("\n") == 1 and err.endswith("potential; nothing was written\n")
    code, _, err = run("--segment", "important_value", "--in-segment", "vip", "--out", str(out))
    assert code == 2 and "--in-segment 'vip' is not one of important_value" in err
    assert out.read_bytes() == b"before"
    code, _, err = run("--list", "stale_by_owner", "--out", str(tmp_path / "x.pdf"))
    assert (code, err) == (
        2,
        f"crmkit export: '{tmp_path / 'x.pdf'}': expected a .csv or .xlsx file name; "
        "nothing was written\n",
    )


def test_a_full_disk_leaves_the_previous_file(snapshot, tmp_path, monkeypatch):
    """Written beside and moved over: a write that fails half-way with ENOSPC leaves the
    previous file as it was and no partial file; one line, exit 2."""
    out = tmp_path / "keep.csv"
    out.write_bytes(b"the previous export")

    def full(self, data):
        with open(self, "wb") as f:
            f.write(data[:6])
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(self))

    monkeypatch.setattr(Path, "write_bytes", full)
    code, _, err = run("--segment", "important_keep", "--out", str(out))
    monkeypatch.undo()
    assert (code, err) == (
        2,
        "crmkit export: the disk is full (no space left on device) writing "
        f"'{tmp_path}/.keep.csv.partial-{os.getpid()}'; nothing was written; free some space "
        "and run it again\n",
    )
    assert out.read_bytes() == b"the previous export"
    assert [p.name for p in tmp_path.iterdir()] == ["keep.csv"]


def test_without_a_snapshot_it_says_to_publish(tmp_path):
    missing = tmp_path / "published.duckdb"
    code, _, err = run("--segment", "important_value", "--out", str(tmp_path / "a.csv"),
                       "--published", str(missing))  # fmt: skip
    assert (code, err) == (
        2,
        f"crmkit export: no published snapshot at '{missing}'; run `crmkit publish` first (or "
        "pass --published PATH); nothing was written\n",
    )


def test_list_help_names_every_list_and_segment():
    code, said, _ = run("--list", "help")
    assert code == 0
    for name in [*views.LISTS, *views.SEGMENTS]:
        assert name in said


# ---------------------------------------------------------------------------------------------
# every list, on the shared demo
# ---------------------------------------------------------------------------------------------

DEMO_LISTS = [
    ("churn_warning", views.churn_warning, "risk_export"),
    ("overdue_contacts", views.customer_needs, "overdue_export"),
    ("care_calendar", views.customer_needs, "calendar_export"),
    ("sla_breaches", views.satisfaction_page, "breach_export"),
    ("open_backlog_by_team", views.satisfaction_page, "backlog_export"),
    ("stale_by_owner", views.data_overview, "owners_export"),
    ("duplicate_candidates", views.data_overview, "dups_export"),
]


@pytest.mark.slow
@pytest.mark.parametrize(("name", "page", "buttons"), DEMO_LISTS)
def test_every_list_equals_its_page_on_the_demo(
    demo_published, tmp_path, monkeypatch, name, page, buttons
):
    """Each list of the 20,000-customer demo, filtered to 广东 for the dashboard role: the
    same CSV as the page's button, and not an empty one."""
    monkeypatch.setenv("CRMKIT_PUBLISHED", str(demo_published))
    shown = page(lang="zh", role="dashboard")
    shown.filter_bar.province.value = "广东"
    out = tmp_path / f"{name}.csv"
    code, said, err = run("--list", name, "--province", "广东", "--out", str(out))
    assert (code, err) == (0, "")
    assert_same_file(out.read_bytes(), clicked(getattr(shown, buttons), "csv", monkeypatch), "csv")
    assert len(csv_without_time(out.read_bytes())) > 3, said


@pytest.mark.slow
def test_one_owners_churn_list_in_excel_on_the_demo(demo_published, tmp_path, monkeypatch):
    """The churn page's owner dropdown and ``--owner``: the same list, named after the owner."""
    monkeypatch.setenv("CRMKIT_PUBLISHED", str(demo_published))
    page = views.churn_warning(lang="en", role="analyst")
    owner = page.owner.options[1][1]
    page.owner.value = owner
    out = tmp_path / "mine.xlsx"
    code, said, _ = run("--list", "churn_warning", "--owner", owner, "--lang", "en",
                        "--role", "analyst", "--out", str(out))  # fmt: skip
    assert code == 0 and f"churn_warning_{owner}," in said
    assert_same_file(out.read_bytes(), clicked(page.risk_export, "xlsx", monkeypatch), "xlsx")
