"""The planted demo snapshot and the cases that read it: personal data at rest, in the needs
page, the report and an error message; formula-safe exports."""

from __future__ import annotations

import csv
import html
import io
import re
import shutil
import stat
import zipfile
from pathlib import Path

import duckdb

from bench.hostile_probe import (
    DATA,
    DEMO_CUSTOMERS,
    Ctx,
    Row,
    crmkit,
    formula_cells,
    ingest,
    leaks,
    query,
)

# ---------------------------------------------------------------------------------------------
# the planted demo snapshot (pii, exports, serving)
# ---------------------------------------------------------------------------------------------

#: What a script injected through a field would do: mark the page (never set if shown as text).
XSS = "<img src=x onerror=\"window.__xss='{}'\">"
#: XSS payloads planted after tests/test_dashboard_privacy.PLANT: customers' city (filters,
#: lists), an owner, product names and feedback texts (need examples, topics).
XSS_PLANT = {
    "city": "UPDATE customers SET city = ? WHERE customer_sk % 7 = 3",
    "owner": "UPDATE customers SET owner = ? WHERE customer_sk % 9 = 4",
    "product": "UPDATE products SET name = ? || name WHERE product_id <= 'P010'",
    "feedback": "UPDATE feedback SET text = text || ? WHERE customer_sk % 20 = 2",
}
#: PLANT's 12 suggestions of customer 1 do not make a cluster of their own among 2,000
#: customers' feedback: the same text from customers 2-61, each with their own phone and email.
NEEDS_PLANT = """INSERT INTO feedback BY NAME
    SELECT f.* REPLACE (
        'FPIX' || c.customer_sk AS feedback_id, c.customer_id AS customer_id,
        c.customer_sk AS customer_sk, 'suggestion' AS source, NULL AS nps, NULL AS csat,
        NULL AS ces, 'zh' AS language, NULL AS order_id,
        '@SUM(1) 请回电 ' || c.phone || '，邮箱 ' || c.email || '，身份证 110101199003071234'
            AS text)
    FROM (SELECT * FROM feedback ORDER BY feedback_id LIMIT 1) f, customers c
    WHERE c.customer_sk BETWEEN 2 AND 61"""


def demo_warehouse() -> Path:
    """The cached demo warehouse (``DEMO_CUSTOMERS`` customers, seed 42)."""
    path = DATA / "warehouse.duckdb"
    if not path.exists():
        DATA.mkdir(parents=True, exist_ok=True)
        run = crmkit("demo", "--customers", DEMO_CUSTOMERS, "--seed", 42, "--quiet", "--db", path)
        if run.code:
            raise RuntimeError(f"crmkit demo failed: {run.err}")
    return path


def planted(ctx: Ctx) -> dict:
    """A copy of the demo warehouse with formula-like names, personal data typed into free
    text and XSS payloads, published by ``crmkit publish`` (once per run)."""
    if "planted" in ctx.cache:
        return ctx.cache["planted"]
    from tests.test_dashboard_privacy import PLANT

    d = ctx.folder("planted")
    wh = d / "warehouse.duckdb"
    shutil.copy(demo_warehouse(), wh)
    con = duckdb.connect(str(wh))
    try:
        for sql in [*PLANT, NEEDS_PLANT]:
            con.execute(sql)
        for where, sql in XSS_PLANT.items():
            con.execute(sql, [XSS.format(where)])
        con.execute("CHECKPOINT")
    finally:
        con.close()
    pub = crmkit("publish", "--db", wh, "--out", d / "published.duckdb")
    if pub.code:
        raise RuntimeError(f"crmkit publish failed: {pub.err}")
    ctx.cache["planted"] = {
        "warehouse": wh,
        "dashboard": d / "published.duckdb",
        "analyst": d / "published.analyst.duckdb",
        "publish": pub.facts(),
    }
    return ctx.cache["planted"]


def _clear(wh: Path) -> dict[str, set[str]]:
    rows = query(wh, "SELECT name, phone, email FROM customers")
    return {k: {r[i] for r in rows if r[i]} for i, k in enumerate(("name", "phone", "email"))}


def _text_columns(path: Path) -> dict[tuple[str, str], set[str]]:
    """Every distinct value of every text column of the file: the privacy test's own scan."""
    from tests.test_dashboard_privacy import _text_values

    return _text_values(path)


def _scan(path: Path, clear: dict[str, set[str]], ordinary: set[str]) -> dict:
    """Text columns of ``path`` holding a clear name, phone or email (equal, or for phones and
    emails inside a text), and the clear phones and emails in the file's bytes."""
    columns = _text_columns(path)
    every = (clear["name"] | clear["phone"] | clear["email"]) - ordinary
    equal = {f"{t}.{c}": len(vs & every) for (t, c), vs in columns.items() if vs & every}
    inside = {}
    for (t, c), vs in columns.items():
        found = leaks("\n".join(vs).encode(), clear["phone"], clear["email"])
        if found:
            inside[f"{t}.{c}"] = len(found)
    raw = leaks(path.read_bytes(), clear["phone"], clear["email"])
    return {
        "columns": len(columns),
        "values": sum(len(v) for v in columns.values()),
        "equal": equal,
        "inside": inside,
        "in_bytes": len(raw),
    }


def probe_snapshot_pii(ctx: Ctx) -> list[Row]:
    from crmkit import privacy

    p = planted(ctx)
    clear = _clear(p["warehouse"])
    ordinary = {
        v
        for (t, c), vs in _text_columns(p["warehouse"]).items()
        if c not in privacy.personal_columns(t)
        for v in vs
    }
    dash = _scan(p["dashboard"], clear, ordinary)
    analyst = _scan(p["analyst"], clear, ordinary)
    first = "SELECT {0} FROM customers WHERE {0} IS NOT NULL ORDER BY customer_sk LIMIT 3"
    names = [r[0] for r in query(p["dashboard"], first.format("name"))]
    phones = [r[0] for r in query(p["dashboard"], first.format("phone"))]
    modes = {k: oct(stat.S_IMODE(p[k].stat().st_mode)) for k in ("dashboard", "analyst")}
    n = {k: len(v) for k, v in clear.items()}
    return [
        Row(
            "snapshot_pii",
            "pii",
            "clear name / phone / email in any text column of published.duckdb",
            "the published snapshot (what dashboard kernels open) holds all 20,000 names, phones "
            "and emails",
            f"{dash['columns']} text columns, {dash['values']:,} distinct values scanned against "
            f"{n['name']:,} names, {n['phone']:,} phones, {n['email']:,} emails of the "
            f"warehouse: {len(dash['equal'])} columns with an equal value, {len(dash['inside'])} "
            f"with a phone/email inside a text, {dash['in_bytes']} clear phones/emails in the "
            f"file's bytes (e.g. names {names}, phones {phones}); the analyst snapshot, same "
            f"scan: {len(analyst['equal'])} columns equal, {analyst['in_bytes']} in its bytes",
            {
                "no equal value": not dash["equal"],
                "no phone/email inside a text": not dash["inside"],
                "none in the file's bytes": dash["in_bytes"] == 0,
                "the scan finds the analyst file's": analyst["in_bytes"] > 0
                and bool(analyst["equal"]),
            },
            {"dashboard": dash, "analyst": analyst, "clear_counts": n, "publish": p["publish"]},
        ),
        Row(
            "snapshot_modes",
            "pii",
            "file modes of published.duckdb and published.analyst.duckdb",
            "file mode 0644",
            f"published.duckdb {modes['dashboard']}, published.analyst.duckdb {modes['analyst']}",
            {"both 0600": set(modes.values()) == {"0o600"}},
            {"modes": modes},
        ),
    ]


def _frame_text(df) -> str:  # noqa: ANN001
    return "\n".join(str(v) for v in df.astype(str).to_numpy().ravel())


def probe_needs_cluster(ctx: Ctx) -> list[Row]:
    from crmkit import views

    p = planted(ctx)
    typed = query(
        p["warehouse"], "SELECT phone, email FROM customers WHERE customer_sk BETWEEN 1 AND 61"
    )
    phones, emails = {r[0] for r in typed}, {r[1] for r in typed}
    texts, found = {}, {}
    for role in ("dashboard", "analyst"):
        con = views.open_snapshot(p["dashboard"], role=role)
        try:
            clusters = views.needs_data(con, role=role)["clusters"]
        finally:
            con.disconnect()
        texts[role] = _frame_text(clusters)
        found[role] = leaks(texts[role].encode(), phones, emails)
    shown = [line for line in texts["dashboard"].splitlines() if "请回电" in line]
    return [
        Row(
            "needs_new_cluster",
            "pii",
            "needs page's new-cluster table; 72 suggestions holding the writer's phone and email",
            "the needs page's new-cluster table shows a phone and email typed into feedback",
            f"dashboard role: {len(shown)} cell(s) with the planted text, e.g. "
            f"{(shown or ['none'])[0]!r}; clear phones/emails of its writers in the table: "
            f"{len(found['dashboard'])} (analyst role: {len(found['analyst'])})",
            {
                "the planted text is a cluster": bool(shown),
                "phone, email, ID card masked": not found["dashboard"]
                and all("****" in s and "110101199003071234" not in s for s in shown),
                "clear for the analyst role": bool(found["analyst"]),
            },
            {"shown": shown[:3]},
        )
    ]


def probe_report_reasons(ctx: Ctx) -> list[Row]:
    p = planted(ctx)
    page = ctx.folder("report") / "report.html"
    run = crmkit("report", "--published", p["dashboard"], "--out", page, "--lang", "zh")
    text = page.read_text(encoding="utf-8") if page.exists() else ""
    phones = {
        r[0]
        for r in query(
            p["warehouse"],
            "SELECT DISTINCT c.phone FROM customers c JOIN orders o USING (customer_id) "
            "WHERE o.status = 'returned' AND c.customer_sk % 6 = 1",
        )
    }
    found = leaks(text.encode(), phones, set())
    shown = re.findall(r"=1\+1 请联系 [^<]*", text)
    return [
        Row(
            "report_return_reasons",
            "pii",
            "report's return reasons ('=1+1 请联系 <phone>' planted on returned orders)",
            "the report's return reasons are raw feedback text",
            f"exit {run.code}; {len(shown)} planted reasons shown, e.g. "
            f"{(shown or ['none'])[0]!r}; {len(found)} of {len(phones)} planted clear phones in "
            f"the HTML",
            {
                "exit 0": run.code == 0,
                "planted reasons shown": bool(shown),
                "all masked": not found and all("****" in s for s in shown),
            },
            {**run.facts(), "examples": shown[:5]},
        )
    ]


def probe_headerless(ctx: Ctx) -> list[Row]:
    d = ctx.folder("headerless")
    src = d / "c.csv"
    src.write_text("C1,张三丰,13812341234,zs@example.com\nC2,李四,13900000000,ls@x.com\n")
    run = ingest(d / "w.duckdb", "customers", src)
    echoed = [v for v in ("张三丰", "13812341234", "zs@example.com") if v in run.err]
    return [
        Row(
            "headerless_error",
            "pii",
            "headerless customers file (first row: C1,张三丰,13812341234,zs@example.com)",
            "a headerless file prints its first data row unmasked in the error",
            f"exit {run.code}; {run.err1!r}",
            {
                "exit 2": run.code == 2,
                "names file and row 1": f"{src}, row 1:" in run.err1,
                "echoes no value": not echoed,
            },
            {**run.facts(), "echoed": echoed},
        )
    ]


# ---------------------------------------------------------------------------------------------
# exports
# ---------------------------------------------------------------------------------------------


#: Each dashboard page's data function (crmkit.views): the tables its export buttons send.
PAGE_DATA = {
    "overview": "kpi_overview_data",
    "data_overview": "overview_data",
    "classification": "classification_data",
    "needs": "needs_data",
    "satisfaction": "satisfaction_data",
    "churn": "churn_data",
}


def _page_frames(ctx: Ctx) -> dict[str, object]:
    """Every table of every page's data, for both roles."""
    from crmkit import views

    p = planted(ctx)
    frames = {}
    for role in ("dashboard", "analyst"):
        con = views.open_snapshot(p["dashboard"], role=role)
        try:
            for page, data_of in PAGE_DATA.items():
                for key, value in getattr(views, data_of)(con, role=role).items():
                    if hasattr(value, "to_csv") and len(value):
                        frames[f"{page}.{key} ({role})"] = value
        finally:
            con.disconnect()
    return frames


def probe_exports(ctx: Ctx) -> list[Row]:
    from crmkit import privacy
    from crmkit.views.base import Filters, export_frame

    frames = _page_frames(ctx)
    starts = privacy.FORMULA_STARTS
    csv_cells, xlsx_strings, formulas, examples = [], [], 0, {}
    for name, df in frames.items():
        data = export_frame(df, name, Filters(), "zh", "csv").decode("utf-8-sig")
        body = "".join(line for line in data.splitlines(True) if not line.startswith("# "))
        csv_cells += [c for row in csv.reader(io.StringIO(body)) for c in row]
        book = zipfile.ZipFile(io.BytesIO(export_frame(df, name, Filters(), "zh", "xlsx")))
        for part in book.namelist():
            xml = book.read(part).decode("utf-8")
            if part.startswith("xl/worksheets/"):
                formulas += len(re.findall(r"<f[ >]", xml))
            if part == "xl/sharedStrings.xml":
                xlsx_strings += [
                    html.unescape(s) for s in re.findall(r"<t(?: [^>]*)?>([^<]*)</t>", xml)
                ]
    live_csv, safe_csv = formula_cells(csv_cells, starts)
    live_x, safe_x = formula_cells(xlsx_strings, starts)
    for c in safe_csv:
        examples.setdefault(c[:2], c)
    masked = "'=**" in safe_csv and "'=**" in safe_x
    shown = sorted(examples.values(), key=len)[:6]
    common = f"{len(frames)} tables of the 6 pages' data (both roles)"
    return [
        Row(
            "export_csv",
            "exports",
            "CSV export of page tables with cells starting =, +, -, @",
            "CSV cells beginning `=`, `+`, `-`, `@` are written as is",
            f"{common}: {len(csv_cells):,} CSV cells, {len(live_csv)} starting like a formula, "
            f"{len(safe_csv):,} neutralised with ', e.g. {shown}",
            {
                "no live formula cell": not live_csv,
                "all of = + - @ neutralised": {c[1] for c in safe_csv} >= {"=", "+", "-", "@"},
                "masked =** too": "'=**" in safe_csv,
            },
            {"tables": list(frames), "live": live_csv[:5], "examples": shown},
        ),
        Row(
            "export_xlsx",
            "exports",
            "xlsx export of the same tables (XML inspected for <f> elements)",
            "xlsxwriter turns such strings into live formula cells (`<f>HYPERLINK(…)</f>`), "
            "masked values too (`=**`)",
            f"{common}: {formulas} <f> elements in the sheets; {len(xlsx_strings):,} strings, "
            f"{len(live_x)} starting like a formula, {len(safe_x):,} neutralised "
            f'("\'=**" among them: {masked})',
            {
                "no <f> element": formulas == 0,
                "no live formula string": not live_x,
                "masked =** neutralised": "'=**" in safe_x,
            },
            {"live": live_x[:5]},
        ),
    ]
