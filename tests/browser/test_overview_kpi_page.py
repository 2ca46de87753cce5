"""The overview (KPI) page and the management report in Chromium, on the shared 20k demo.

- the overview page draws its four charts offline; three KPI cards (retention rate, new
  customers, return rate) equal ``views.kpi_overview_data``; the planted high-return product
  heads the return alerts; satisfaction / churn alerts say "nothing yet"; the maintenance-map
  link opens the classification page;
- the report written by ``crmkit report`` opens from a file with the network off, draws its
  charts from the inline plotly.js, shows the same KPI values and masked lists.
"""

import shutil
from pathlib import Path

import pytest

from crmkit import db, demo, report, views

pytestmark = pytest.mark.browser
CHARTS = 4
ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = Path(__file__).parent / "screenshots"
CARDS = ("retention_rate", "new_customers", "return_rate")
CARD_VALUES = """() => Object.fromEntries(Array.from(document.querySelectorAll('.crmkit-kpi'))
    .map(c => [c.dataset.key, c.dataset.value]))"""


@pytest.fixture(scope="module")
def expected(demo_published):
    con = db.connect(demo_published)
    try:
        return views.kpi_overview_data(con, views.Filters(), lang="zh", role="dashboard")
    finally:
        con.disconnect()


@pytest.fixture
def demo_server(served, demo_published, tmp_path):
    root = tmp_path / "dashboards"
    shutil.copytree(ROOT / "dashboards", root)
    return served(root, demo_published)


def test_overview_cards_alerts_and_link(
    demo_server, page, requests_seen, expected, open_page, screenshot
):
    open_page(page, demo_server.page("overview"), charts=CHARTS, timeout_ms=120_000)
    cards = page.evaluate(CARD_VALUES)
    for key in CARDS:
        assert cards[key] == repr(expected["cards"][key]), key
    assert cards["nps"] == "" and cards["clv"] == ""  # issues 7/8: no number made up
    assert float(cards["new_customers"]) == 1553.0
    card = page.locator(".crmkit-kpi[data-key='retention_rate']")
    assert "口径" in card.get_attribute("title")  # the definition on hover
    assert "n = 13,877" in card.inner_text()
    first = page.locator(".crmkit-return-alerts table tr").nth(1).inner_text()
    assert first.startswith(demo.PLANTED["high_return_product"]["product_id"])
    assert page.locator(".crmkit-alerts-pending").count() == 2
    assert "张伟" not in page.content() and "**" in page.locator(".crmkit-lost-list").inner_text()
    assert requests_seen.leaving_localhost() == []
    # Voila scrolls inside the page: a tall viewport shows every section in the screenshot
    page.set_viewport_size({"width": 1300, "height": 2600})
    page.wait_for_timeout(500)
    screenshot(page, "overview")

    page.click("a.crmkit-page-link[data-page='classification'] >> text=维护导图")
    page.wait_for_url("**/classification.ipynb*", timeout=30_000)
    page.wait_for_selector(".crmkit-ready", state="attached", timeout=120_000)
    assert "客户分类与维护导图" in page.inner_text(".crmkit-title")


def test_report_opens_offline(browser, demo_published, expected, tmp_path):
    out = report.write_report(tmp_path / "report.html", published=demo_published)
    context = browser.new_context(viewport={"width": 1280, "height": 900}, offline=True)
    try:
        page = context.new_page()
        outside = []
        page.on(
            "request", lambda r: outside.append(r.url) if not r.url.startswith("file:") else None
        )
        page.goto(out.as_uri())
        page.wait_for_function(
            """n => Array.from(document.querySelectorAll('.js-plotly-plot')).length >= n
                && Array.from(document.querySelectorAll('.js-plotly-plot'))
                    .every(g => g.querySelector('g.trace'))""",
            arg=CHARTS,
            timeout=60_000,
        )
        cards = page.evaluate(CARD_VALUES)
        for key, value in expected["cards"].items():
            assert cards[key] == ("" if value is None else repr(value)), key
        assert "2026-Q3" in page.inner_text(".crmkit-title")
        assert "无线降噪耳机 X1" in page.inner_text("body")
        assert outside == []
        SCREENSHOTS.mkdir(exist_ok=True)
        page.screenshot(path=str(SCREENSHOTS / "report.png"), full_page=True)
    finally:
        context.close()
