"""No clear personal data at rest for the dashboard role, and formula-safe exports.

One warehouse: the seeded demo (``CUSTOMERS`` customers, seed ``SEED``) with formula-like values
and personal data typed into free text planted by :func:`_plant`:

- every customer with an even ``customer_sk`` is named ``=HYPERLINK("http://x","<id>")``
  (masked: ``=**``); customers 2 and 4 share a phone (a duplicate pair on the data overview
  page); every third customer's phone is ``+86…``, every fifth lives in city ``+cmd``;
- every owner is ``@<owner>``, every ticket's team ``-<team>`` and agent ``=<agent>``;
- customer 1 wrote 12 suggestions ``@SUM(1) 请回电 <phone>，邮箱 <email>，身份证
  110101199003071234`` (no taxonomy keyword: they form a new need cluster whose example is that
  text); the returned orders and the interactions of every customer with
  ``customer_sk % 6 == 1`` carry that customer's phone in their reason and topic.

``crmkit.publish`` then writes the dashboard snapshot (masked) and the analyst snapshot beside
it (clear).
"""

from __future__ import annotations

import csv
import io
import re
import stat
from pathlib import Path

import duckdb
import openpyxl
import pytest

import crmkit
from crmkit import db, demo, privacy, views

CUSTOMERS = 400
SEED = 11
ID_CARD = "110101199003071234"
DANGER = privacy.FORMULA_STARTS

PLANT = [
    # customer 1's suggestions, before any phone changes (the texts carry the plain mobile)
    """INSERT INTO feedback BY NAME
       SELECT f.* REPLACE (
           'FPII' || r.range AS feedback_id, c.customer_id AS customer_id,
           c.customer_sk AS customer_sk, 'suggestion' AS source, NULL AS nps, NULL AS csat,
           NULL AS ces, 'zh' AS language, NULL AS order_id,
           '@SUM(1) 请回电 ' || c.phone || '，邮箱 ' || c.email || '，身份证 110101199003071234'
               AS text)
       FROM (SELECT * FROM feedback ORDER BY feedback_id LIMIT 1) f, customers c, range(12) r
       WHERE c.customer_sk = 1""",
    """UPDATE orders SET return_reason = '=1+1 请联系 ' || c.phone FROM customers c
       WHERE c.customer_id = orders.customer_id AND orders.status = 'returned'
       AND c.customer_sk % 6 = 1""",
    """UPDATE interactions SET topic = '-' || topic || ' 回电 ' || c.phone FROM customers c
       WHERE c.customer_id = interactions.customer_id AND c.customer_sk % 6 = 1""",
    """UPDATE customers SET name = '=HYPERLINK("http://x","' || customer_id || '")'
       WHERE customer_sk % 2 = 0""",
    "UPDATE customers SET phone = (SELECT phone FROM customers WHERE customer_sk = 2) "
    "WHERE customer_sk = 4",
    "UPDATE customers SET phone = '+86' || phone WHERE customer_sk % 3 = 0",
    "UPDATE customers SET city = '+cmd' WHERE customer_sk % 5 = 0",
    "UPDATE customers SET owner = '@' || owner",
    "UPDATE interactions SET owner = '@' || owner",
    "UPDATE opportunities SET owner = '@' || owner",
    "UPDATE tickets SET team = '-' || team, agent = '=' || agent",
]


def _plant(path: Path) -> None:
    con = duckdb.connect(str(path))
    try:
        for sql in PLANT:
            con.execute(sql)
        con.execute("CHECKPOINT")
    finally:
        con.close()


@pytest.fixture(scope="module")
def published(tmp_path_factory) -> dict:
    """Warehouse, dashboard and analyst snapshots, and the mode of every staging file seen
    while the masked copy was written (the clear copy, its WAL if any, the masked file)."""
    root = tmp_path_factory.mktemp("pii")
    wh = root / "warehouse.duckdb"
    con = db.connect(wh, read_only=False)
    demo.generate(con, CUSTOMERS, seed=SEED, progress=False)
    con.disconnect()
    _plant(wh)
    staging_modes: dict[str, int] = {}
    mask = privacy.masked_table

    def masked_table(name, t):  # noqa: ANN001, ANN202
        for f in root.glob("*.staging-*"):
            staging_modes[f.name] = stat.S_IMODE(f.stat().st_mode)
        return mask(name, t)

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(privacy, "masked_table", masked_table)
        res = crmkit.publish(wh, root / "published.duckdb")
    return {
        "warehouse": wh,
        "dashboard": res.path,
        "analyst": db.analyst_path(res.path),
        "staging_modes": staging_modes,
        "root": root,
    }


def _clear_pii(warehouse: Path) -> dict[str, set[str]]:
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        rows = con.execute("SELECT name, phone, email FROM customers").fetchall()
    finally:
        con.close()
    return {kind: {r[i] for r in rows if r[i]} for i, kind in enumerate(("name", "phone", "email"))}


def _text_values(path: Path) -> dict[tuple[str, str], set[str]]:
    """Every distinct value of every text column of every table of the file."""
    con = duckdb.connect(str(path), read_only=True)
    try:
        cols = con.execute(
            "SELECT table_name, column_name FROM duckdb_columns() "
            "WHERE database_name = current_database() AND data_type = 'VARCHAR'"
        ).fetchall()
        out = {}
        for table, column in cols:
            q = f'SELECT DISTINCT "{column}" FROM "{table}" WHERE "{column}" IS NOT NULL'
            out[(table, column)] = {r[0] for r in con.execute(q).fetchall()}
        return out
    finally:
        con.close()


@pytest.mark.slow  # the module's demo and publish: ~1 min, once
def test_dashboard_snapshot_holds_no_clear_personal_data(published):
    """No text value of any table of the dashboard snapshot equals a customer's clear name,
    phone or email, and no text (nor the file's bytes) contains a clear phone, email or the
    planted ID-card number; the customers' columns hold the masked forms."""
    clear = _clear_pii(published["warehouse"])
    values = _text_values(published["dashboard"])
    # premise: no personal value is also an ordinary value of the warehouse (an owner called
    # like a customer would be a legitimate value, not a leak)
    ordinary = {
        v
        for (table, column), vs in _text_values(published["warehouse"]).items()
        if column not in privacy.personal_columns(table)
        for v in vs
    }
    every = clear["name"] | clear["phone"] | clear["email"]
    assert not every & ordinary
    assert len(clear["name"]) > 300 and len(clear["phone"]) > 300 and len(values) > 200

    equal = {k: sorted(vs & every)[:3] for k, vs in values.items() if vs & every}
    assert equal == {}
    needles = [p for p in clear["phone"] if len(p) >= 8] + sorted(clear["email"]) + [ID_CARD]
    inside = {
        k: sorted(n for n in needles for v in vs if n in v)[:3]
        for k, vs in values.items()
        if any(n in v for n in needles for v in vs)
    }
    assert inside == {}
    # nor in the file's bytes (free pages included); the analyst file shows the check can see
    # a value stored in clear
    raw = published["dashboard"].read_bytes()
    assert [n for n in needles if n.encode() in raw] == []
    raw = published["analyst"].read_bytes()
    assert any(n.encode() in raw for n in needles)

    names, phones = values[("customers", "name")], values[("customers", "phone")]
    assert "=**" in names and all(re.fullmatch(r".\*\*", v) for v in names)
    assert "+86****" + sorted(p for p in clear["phone"] if p.startswith("+86"))[0][-4:] in phones
    assert all(re.fullmatch(r".{3}\*{4}.{4}|\**", v) for v in phones)
    assert all(re.fullmatch(r".\*\*\*@.+", v) for v in values[("customers", "email")])


@pytest.mark.slow  # the module's demo and publish: ~1 min, once
def test_free_text_typed_by_a_customer_is_masked(published):
    """Customer 1's phone, email and ID card in the new-cluster example, the need texts, the
    feedback, return reasons and interaction topics: masked in the dashboard snapshot, clear in
    the analyst one."""
    wh = duckdb.connect(str(published["warehouse"]), read_only=True)
    phone, email = wh.execute("SELECT phone, email FROM customers WHERE customer_sk = 1").fetchone()
    wh.close()
    masked = f"@SUM(1) 请回电 {phone[:3]}****{phone[-4:]}，邮箱 {email[0]}***@" + (
        f"{email.split('@')[1]}，身份证 110****1234"
    )
    dash = duckdb.connect(str(published["dashboard"]), read_only=True)
    analyst = duckdb.connect(str(published["analyst"]), read_only=True)
    try:
        q = "SELECT text FROM feedback WHERE feedback_id = 'FPII0'"
        assert dash.execute(q).fetchone()[0] == masked
        assert analyst.execute(q).fetchone()[0] == (
            f"@SUM(1) 请回电 {phone}，邮箱 {email}，身份证 {ID_CARD}"
        )
        assert dash.execute("SELECT example FROM need_clusters").fetchall().count((masked,)) == 1
        assert (
            dash.execute("SELECT count(*) FROM need_texts WHERE text = ?", [masked]).fetchone()[0]
            == 12
        )
        reasons = (
            "SELECT DISTINCT return_reason FROM orders "
            "WHERE customer_sk = 1 AND status = 'returned'"
        )
        topics = "SELECT DISTINCT topic FROM interactions WHERE customer_sk = 1"
        for q in (reasons, topics):
            for (v,) in dash.execute(q).fetchall():
                assert v.endswith(f"{phone[:3]}****{phone[-4:]}") and phone not in v
    finally:
        dash.close()
        analyst.close()


@pytest.mark.slow  # the module's demo and publish: ~1 min, once
def test_snapshots_and_staging_files_are_private(published):
    """The dashboard snapshot, the analyst snapshot and every staging file are mode 0600 (only
    their owner reads them); no staging file is left behind."""
    for key in ("dashboard", "analyst"):
        assert stat.S_IMODE(published[key].stat().st_mode) == 0o600
    modes = published["staging_modes"]
    assert {n.rsplit("-", 1)[0] for n in modes} == {"published.duckdb.staging"}
    assert any(n.endswith(".dashboard") for n in modes) and len(modes) >= 2
    assert set(modes.values()) == {0o600}
    assert sorted(p.name for p in published["root"].iterdir()) == [
        "published.analyst.duckdb",
        "published.duckdb",
        "warehouse.duckdb",
    ]


@pytest.mark.slow  # the module's demo and publish: ~1 min, once
def test_analyst_role_sees_clear_values(published, monkeypatch):
    """The analyst role's pages open the analyst snapshot: every customer's clear name, phone
    and email, and the duplicate pair 2 / 4 with its clear names; the dashboard role's page the
    masked file."""
    clear = _clear_pii(published["warehouse"])
    monkeypatch.setenv("CRMKIT_PUBLISHED", str(published["dashboard"]))
    analyst = views.open_snapshot(role="analyst")
    dashboard = views.open_snapshot(role="dashboard")
    try:
        people = analyst.table("customers").select("name", "phone", "email").to_pandas()
        assert set(people.name.dropna()) == clear["name"]
        assert set(people.phone.dropna()) == clear["phone"]
        assert set(people.email.dropna()) == clear["email"]
        dups = views.overview_data(analyst, role="analyst")["duplicates"]
        pair = dups[(dups.customer_id_a == "C0000002") & (dups.customer_id_b == "C0000004")]
        assert pair[["name_a", "name_b"]].values.tolist() == [
            ['=HYPERLINK("http://x","C0000002")', '=HYPERLINK("http://x","C0000004")']
        ]
        masked = views.overview_data(dashboard, role="dashboard")["duplicates"]
        pair = masked[masked.customer_id_a == "C0000002"]
        assert pair[["name_a", "name_b"]].values.tolist() == [["=**", "=**"]]
    finally:
        analyst.disconnect()
        dashboard.disconnect()


PAGES = {
    "data_overview": views.data_overview,
    "classification": views.customer_classification,
    "needs": views.customer_needs,
    "satisfaction": views.satisfaction_page,
    "churn": views.churn_warning,
}


def _number(cell: str) -> bool:
    try:
        float(cell)
    except ValueError:
        return False
    return True


def _neutralised(cell: str) -> bool:
    return cell[:1] == "'" and cell[1:2] != "" and cell[1:2] in "".join(DANGER)


def _check_csv(data: bytes) -> int:
    """Fail on a cell a spreadsheet would read as a formula; count the neutralised ones."""
    n = 0
    for row in csv.reader(io.StringIO(data.decode("utf-8-sig"))):
        for cell in row:
            assert not cell.startswith(DANGER) or _number(cell), cell
            n += _neutralised(cell)
    return n


def _check_xlsx(data: bytes) -> int:
    n = 0
    book = openpyxl.load_workbook(io.BytesIO(data))
    for sheet in book.worksheets:
        for row in sheet.iter_rows():
            for cell in row:
                assert cell.data_type != "f", (sheet.title, cell.coordinate, cell.value)
                if isinstance(cell.value, str):
                    assert not cell.value.startswith(DANGER), cell.value
                    n += _neutralised(cell.value)
    return n


def _exports(page) -> dict[str, dict[str, bytes]]:  # noqa: ANN001
    """What each export button of ``page`` sends when clicked: name -> {format: bytes}."""
    out: dict[str, dict[str, bytes]] = {}
    for holder in vars(page).values():
        if not isinstance(holder, views.ExportButtons):
            continue
        for button in holder.buttons:
            sent = []
            button.send = lambda content, buffers=None, sent=sent: sent.append(buffers[0])
            button._on_click(None, {"event": "export"}, [])
            assert len(sent) == 1, f"export {button.name}.{button.format} sent nothing"
            out.setdefault(button.name, {})[button.format] = sent[0]
    return out


@pytest.mark.slow
@pytest.mark.parametrize("role", ["dashboard", "analyst"])
@pytest.mark.parametrize("page_name", list(PAGES))
def test_every_page_export_is_formula_free(published, monkeypatch, page_name, role):
    """Every CSV and Excel export of the page: no formula cell, no text starting with = + - @
    tab or CR (numbers excepted), and every export with rows carries neutralised cells (its
    names, owners or teams were planted formula-like)."""
    monkeypatch.setenv("CRMKIT_PUBLISHED", str(published["dashboard"]))
    page = PAGES[page_name](lang="zh", role=role)
    assert hasattr(page, "con"), f"the {page_name} page failed to build (see the log)"
    assert "crmkit-error" not in page.status.value
    exports = _exports(page)
    assert exports, f"{page_name} has no export"
    with_rows = 0
    for name, files in exports.items():
        assert set(files) == {"csv", "xlsx"}
        csv_cells, xlsx_cells = _check_csv(files["csv"]), _check_xlsx(files["xlsx"])
        rows = len(list(csv.reader(io.StringIO(files["csv"].decode("utf-8-sig"))))) - 4
        if rows > 0:
            with_rows += 1
            assert csv_cells > 0 and xlsx_cells == csv_cells, name
    assert with_rows > 0
    page.con.disconnect()


def test_a_headerless_file_is_refused_without_echoing_its_first_row(tmp_path):
    """The first row of a file without headers is a customer: the error names the file and row
    and shows the cells it did not recognise as headers masked to their first character."""
    from crmkit.ingest import IngestError, ingest

    path = tmp_path / "c.csv"
    path.write_text("C1,张三丰,13812341234,zs@example.com\nC2,李四,13900000000,ls@x.com\n")
    con = db.connect(tmp_path / "w.duckdb", read_only=False)
    with pytest.raises(IngestError) as e:
        ingest(path, "customers", con=con)
    con.disconnect()
    assert str(e.value) == (
        f"{path}, row 1: the header has no column for required customer_id (e.g. '客户编号' or "
        "'Customer ID'). Found headers (unrecognised ones masked): 'C**', '张**', '1**', 'z**'. "
        "Is this a file for table 'customers', and does its first row hold the headers?"
    )


def test_serve_as_analyst_needs_the_analyst_snapshot(tmp_path, capsys):
    """A snapshot without the analyst file beside it (published by an older crmkit): the
    analyst role refuses to start, exit 2, saying to publish again."""
    from crmkit import serve

    (tmp_path / "p.duckdb").write_bytes(b"")
    assert serve.serve(tmp_path, published=tmp_path / "p.duckdb", role="analyst") == 2
    assert capsys.readouterr().err == (
        f"crmkit serve: no analyst snapshot at {tmp_path / 'p.analyst.duckdb'}; run `crmkit "
        "publish` again (it writes the clear analyst file beside the masked snapshot)\n"
    )
