"""The data-overview page in Chromium, against a served snapshot, compared with crmkit.

Snapshot: tests/fixtures customers (5) + products (3) + orders (6) + one more customer, C006,
who shares C001's name 张伟 and phone (138-1234-1234): one duplicate-candidate pair whose
personal data must appear masked (张** / 138****1234) on the page and in the export.
"""

import json
import time

import pandas as pd
import pytest

pytestmark = pytest.mark.browser

READY = ".crmkit-ready"
CHARTS = 4
CHART_STATE = """() => Array.from(document.querySelectorAll('.js-plotly-plot')).map(
    g => JSON.stringify({data: g.data, meta: g.layout.meta, title: g.layout.title}))"""


def _cards(page) -> dict[str, str]:
    return page.evaluate(
        """() => Object.fromEntries(Array.from(document.querySelectorAll('.crmkit-card'))
            .map(c => [c.dataset.key, c.dataset.value]))"""
    )


def test_page_draws_offline_and_matches_crmkit(
    server, page, requests_seen, expected, screenshot, open_page
):
    open_page(page, server.page("data_overview"))
    cards = _cards(page)
    for key, (value, _label, _definition) in expected["cards"].items():
        assert cards[key] == repr(value), key
    assert cards["customers"] == "6" and cards["duplicates"] == "1"
    assert page.locator(".js-plotly-plot").count() == CHARTS
    text = page.inner_text("body")
    assert "数据概览与数据质量" in text
    assert "n = 6" in text  # definitions shown with their n
    assert requests_seen.leaving_localhost() == []
    assert "from crmkit import views" not in page.content()  # source stripped
    shot = screenshot(page, "data_overview")
    assert shot.stat().st_size > 10_000


def test_filter_change_updates_every_chart_and_table(server, page, open_page):
    open_page(page, server.page("data_overview"))
    before = page.evaluate(CHART_STATE)
    page.select_option(".crmkit-filter-province select", label="广东")
    page.wait_for_selector(".crmkit-ready[data-filters*='省份: 广东']", state="attached")
    assert page.locator(".crmkit-card[data-key='customers']").get_attribute("data-value") == "2"
    page.wait_for_function(
        """() => Array.from(document.querySelectorAll('.js-plotly-plot'))
            .every(g => g.layout.meta && g.layout.meta.filters.includes('省份: 广东'))""",
        timeout=30_000,
    )
    after = page.evaluate(CHART_STATE)
    assert len(after) == CHARTS
    assert all(a != b for a, b in zip(after, before, strict=True))
    counts = json.loads(after[0])["data"][0]
    assert counts["y"][:3] == [2, 3, 2]  # customers, products, orders in 广东
    # the city list now follows the province
    cities = page.locator(".crmkit-filter-city option").all_inner_texts()
    assert cities == ["全部", "广州", "深圳"]


def test_charts_whose_code_arrives_late_still_redraw(server, page, open_page):
    """plotly's 5 MB widget bundle held back 4 s, as a slow network would (anywidget gives a
    widget's code 2 s, then drops every update to it): the charts draw, redraw for a filter,
    and the browser logs no anywidget error. Without the page template's two scripts the
    charts draw but never redraw and the console says "[anywidget] Failed to initialize
    model." once per chart."""
    errors = []
    page.on("console", lambda m: m.type == "error" and errors.append(m.text))
    page.on("pageerror", lambda e: errors.append(str(e)))

    def late(route):
        time.sleep(4)
        route.continue_()

    page.route("**/crmkit/static/widgetbundle.js", late)
    open_page(page, server.page("data_overview"))
    page.select_option(".crmkit-filter-province select", label="广东")
    page.wait_for_function(
        """() => Array.from(document.querySelectorAll('.js-plotly-plot'))
            .every(g => g.layout.meta && g.layout.meta.filters.includes('省份: 广东'))""",
        timeout=30_000,
    )
    assert [e for e in errors if "anywidget" in e] == []


def test_language_switch_relabels_page_and_charts(server, page, open_page):
    open_page(page, server.page("data_overview"))
    assert "各表数据量" in page.inner_text(".js-plotly-plot >> nth=0")
    page.click(".crmkit-language button:has-text('English')")
    page.wait_for_selector("text=Data overview and quality", timeout=30_000)
    page.wait_for_function(
        "document.querySelector('.js-plotly-plot').layout.title.text === 'Rows per table'",
        timeout=30_000,
    )
    assert page.locator(".crmkit-card[data-key='completeness'] .l").inner_text() == "Completeness"
    page.click(".crmkit-language button:has-text('中文')")
    page.wait_for_selector("text=数据概览与数据质量", timeout=30_000)


def test_pii_masked_on_page_and_in_export(server, page, tmp_path, open_page):
    open_page(page, server.page("data_overview"))
    body = page.inner_text("body")
    assert "张**" in body and "138****1234" in body
    for secret in ("张伟", "13812341234", "138-1234-1234", "zhangwei@example.com"):
        assert secret not in page.content()
    with page.expect_download() as dl:
        page.locator(
            "button.crmkit-export[data-format='csv'][data-name='duplicate_candidates']"
        ).click()
    path = tmp_path / "dups.csv"
    dl.value.save_as(path)
    text = path.read_text(encoding="utf-8-sig")
    assert "# 筛选条件: 时间段: 全部时间; 省份: 全部" in text and "# 导出时间: " in text
    rows = pd.read_csv(path, comment="#", dtype=str, encoding="utf-8-sig")
    assert rows.values.tolist()[0][:3] == ["C001", "张**", "138****1234"]
    assert "张伟" not in text and "13812341234" not in text


def test_export_records_the_filters_that_produced_it(server, page, tmp_path, open_page):
    open_page(page, server.page("data_overview"))
    page.select_option(".crmkit-filter-province select", label="上海")
    page.wait_for_selector(".crmkit-ready[data-filters*='省份: 上海']", state="attached")
    with page.expect_download() as dl:
        page.locator("button.crmkit-export[data-format='xlsx'][data-name='stale_by_owner']").click()
    path = tmp_path / "stale.xlsx"
    dl.value.save_as(path)
    sheets = pd.read_excel(path, sheet_name=None, dtype=str, engine="openpyxl")
    about = dict(zip(sheets["about"].item, sheets["about"].value, strict=True))
    assert "省份: 上海" in about["筛选条件"]
    assert sheets["data"]["客户数"].astype(int).sum() == 2  # C001 and C006 live in 上海


def test_twenty_page_loads_in_a_row_do_not_hang(server, browser, open_page, wait_until):
    """20 loads, each closed as a manager closes a tab (beforeunload tells Voila to shut the
    kernel down), so the kernel cap is never reached and no load hangs."""
    times = []
    for i in range(20):
        context = browser.new_context()
        page = context.new_page()
        shut_down = server.log_text().count("Kernel shutdown:")
        try:
            times.append(open_page(page, server.page("data_overview"), timeout_ms=60_000))
        finally:
            page.close(run_before_unload=True)
            if len(times) > i:  # the page got a kernel: its shutdown beacon must arrive first
                wait_until(
                    lambda n=shut_down: server.log_text().count("Kernel shutdown:") > n,
                    30,
                    message=lambda: f"the closed page's kernel to shut down:\n{server.log_text()}",
                )
            context.close()
    assert len(times) == 20
    print(f"20 loads: median {sorted(times)[10]:.2f} s, max {max(times):.2f} s")


def test_landing_page_links_to_the_overview(server, page):
    page.goto(server.url)
    page.wait_for_selector(".crmkit-page-link a", timeout=60_000)
    page.click(".crmkit-page-link a[data-page='data_overview']")
    page.wait_for_selector(READY, state="attached", timeout=90_000)
    assert page.url.endswith("/voila/render/data_overview.ipynb")
