"""Every page of a customers + orders snapshot in Chromium: what most company exports give.

Snapshot: the 120-customer demo (seed 7, as tests/test_partial_data.py's ``customers_orders`` case)
with only its customers and orders kept, published. Feedback, tickets, contacts, products and
opportunities are empty, so the need, contact-cadence, satisfaction, complaint, win-back,
product-return and pipeline sections cannot be shown, and at 120 customers the churn model has too
few labelled rows; the care calendar, classes, churn rate, cohorts and CLV show. Each page must open
without the error box, draw every chart that has data (as many plotly charts, each with a trace, as
the page object built in-process has figures) and say "not available" with the reason wherever data
is missing (as many notes as in-process).
Screenshots: tests/browser/screenshots/partial_<page>.png.
"""

import shutil
from pathlib import Path

import plotly.graph_objects as go
import pytest

import crmkit
from crmkit import db, demo, schema, views

pytestmark = pytest.mark.browser
ROOT = Path(__file__).resolve().parents[2]
#: Notebook in dashboards/ → the view function its page calls.
PAGES = {
    "overview": "kpi_overview",
    "data_overview": "data_overview",
    "classification": "customer_classification",
    "needs": "customer_needs",
    "satisfaction": "satisfaction_page",
    "churn": "churn_warning",
}
#: What a page must say (in Chinese, the default): the reasons, and a section that can show.
SAYS = {
    "overview": ("暂不可用：销售机会表没有数据", "暂不可用：产品表没有数据", "本期流失客户"),
    "needs": ("暂不可用：客户反馈表没有数据", "暂不可用：互动记录表没有数据", "关怀日历 (66)"),
    "satisfaction": ("暂不可用：客户反馈表没有数据", "暂不可用：投诉工单表没有数据"),
    "churn": ("暂不可用：可训练的客户记录仅", "暂不可用：互动记录表没有数据"),
}
#: Exactly ``n`` plotly charts, each with a drawn trace (or heatmap).
CHARTS_DRAWN = """n => {
    const plots = Array.from(document.querySelectorAll('.js-plotly-plot'));
    return plots.length === n && plots.every(g => g.querySelector('g.trace, g.hm'));
}"""


@pytest.fixture(scope="module")
def snapshot(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("partial_site")
    con = db.connect(":memory:", read_only=False)
    demo.generate(con, 120, seed=7, progress=False)
    kept = {n: con.table(n).to_pandas() for n in ("customers", "orders")}
    con.disconnect()
    wh = db.connect(root / "warehouse.duckdb", read_only=False)
    db.create_schema(wh)
    for name, frame in kept.items():
        wh.insert(name, frame)
    assert all(wh.table(n).count().execute() == 0 for n in schema.TABLES if n not in kept)
    wh.disconnect()
    return crmkit.publish(root / "warehouse.duckdb", root / "published.duckdb").path


def _walk(widget):
    yield widget
    for child in getattr(widget, "children", ()):
        yield from _walk(child)


@pytest.fixture(scope="module")
def expected(snapshot) -> dict[str, tuple[int, int]]:
    """Per page: (charts drawn, "not available" notes) of the page object built in-process."""
    con = db.connect(snapshot)
    try:
        out = {}
        for name, fn in PAGES.items():
            widgets = list(_walk(getattr(views, fn)(con, lang="zh").widget))
            figures = sum(isinstance(w, go.FigureWidget) for w in widgets)
            html = "".join(w.value for w in widgets if isinstance(getattr(w, "value", None), str))
            out[name] = (figures, html.count("<div class='d crmkit-unavailable")
                         + html.count("<div class='crmkit-unavailable"))  # fmt: skip
        return out
    finally:
        con.disconnect()


def test_every_page_of_a_customers_and_orders_snapshot(
    served, snapshot, expected, page, requests_seen, screenshot, tmp_path
):
    root = tmp_path / "dashboards"
    shutil.copytree(ROOT / "dashboards", root)
    server = served(root, snapshot)
    notes_on_site = 0
    for name in PAGES:
        charts, notes = expected[name]
        page.goto(server.page(name))
        page.wait_for_selector(".crmkit-ready", state="attached", timeout=120_000)
        page.wait_for_function(CHARTS_DRAWN, arg=charts, timeout=120_000)
        assert page.locator(".crmkit-error").count() == 0, name
        shown = page.locator("div.crmkit-unavailable")
        assert shown.count() == notes, name
        text = page.inner_text("body")
        for phrase in SAYS.get(name, ()):
            assert phrase in text, (name, phrase)
        notes_on_site += notes
        # the whole page, not the first screen: Voila scrolls inside #rendered_cells
        height = page.evaluate("() => document.querySelector('#rendered_cells').scrollHeight")
        page.set_viewport_size({"width": 1280, "height": height + 40})
        screenshot(page, f"partial_{name}")
        page.set_viewport_size({"width": 1280, "height": 900})
    assert notes_on_site > 0
    assert requests_seen.leaving_localhost() == []
