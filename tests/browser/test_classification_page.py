"""The classification page in Chromium: charts draw offline, a segment button lists its
customers (masked), and the list exports with its filters.

Snapshot (tests/browser/conftest.py): C001 is the only 重要保持客户 (important_keep); C003 the
only 一般发展客户 (general_develop); C002, C004, C005 and C006 have no counted purchase
(potential). The customer cards equal ``views.classification_data``.
"""

import pandas as pd
import pytest

from crmkit import db, views

pytestmark = pytest.mark.browser
CHARTS = 4


@pytest.fixture(scope="module")
def expected(snapshot):
    con = db.connect(snapshot)
    try:
        return views.classification_data(con, views.Filters(), lang="zh", role="dashboard")
    finally:
        con.disconnect()


def test_classification_page_segment_list_and_export(
    server, page, requests_seen, expected, open_page, screenshot, tmp_path
):
    open_page(page, server.page("classification"), charts=CHARTS)
    cards = page.evaluate(
        """() => Object.fromEntries(Array.from(document.querySelectorAll('.crmkit-card'))
            .map(c => [c.dataset.key, c.dataset.value]))"""
    )
    for key, (value, _label, _definition) in expected["cards"].items():
        assert cards[key] == repr(value), key
    assert cards["customers"] == "6"
    assert requests_seen.leaving_localhost() == []

    page.click(".crmkit-segment-buttons button:has-text('重要保持客户')")
    page.wait_for_selector("text=客户名单: 重要保持客户", timeout=30_000)
    rows = page.locator(".crmkit-customer-list table.crmkit-table tr").all_inner_texts()
    assert len(rows) == 2 and "C001" in rows[1] and "张**" in rows[1] and "¥378" in rows[1]
    assert "张伟" not in page.content()

    with page.expect_download() as dl:
        page.locator(
            "button.crmkit-export[data-format='csv'][data-name='customers_important_keep']"
        ).click()
    path = tmp_path / "list.csv"
    dl.value.save_as(path)
    text = path.read_text(encoding="utf-8-sig")
    assert "# 筛选条件: 时间段: 全部时间" in text
    exported = pd.read_csv(path, comment="#", dtype=str, encoding="utf-8-sig")
    assert exported["客户编号"].tolist() == ["C001"]
    assert exported["客户名称"].tolist() == ["张**"]
    screenshot(page, "classification")


def test_classification_segment_filter_redraws_charts(server, page, open_page):
    open_page(page, server.page("classification"), charts=CHARTS)
    page.select_option(".crmkit-filter-segment select", label="潜在客户（未购买）")
    page.wait_for_selector(
        ".crmkit-ready[data-filters*='客户分群: 潜在客户']", state="attached", timeout=30_000
    )
    assert page.locator(".crmkit-card[data-key='customers']").get_attribute("data-value") == "4"
    assert page.evaluate(
        """() => Array.from(document.querySelectorAll('.js-plotly-plot'))
            .every(g => g.layout.meta.filters.includes('潜在客户'))"""
    )
