"""The needs page in Chromium: its four charts draw offline, the cards equal
``views.needs_data``, the segment filter redraws the page, and the overdue-contact list exports
with its filters and masked names.

Snapshot: a small seeded demo (400 customers, seed 7, as_of 2026-09-30) published with every
step, so the page reads the real ``need_*``, ``contact_status`` and ``care_calendar`` tables.
"""

import shutil
from datetime import date
from pathlib import Path

import pandas as pd
import pytest

import crmkit
from crmkit import db, demo, views

pytestmark = pytest.mark.browser
CHARTS = 4
SEGMENT = "important_value"
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def needs_snapshot(tmp_path_factory):
    root = tmp_path_factory.mktemp("needs")
    wh = root / "warehouse.duckdb"
    con = db.connect(wh, read_only=False)
    try:
        demo.generate(con, 400, seed=7, as_of=date(2026, 9, 30), progress=False)
    finally:
        con.disconnect()
    return crmkit.publish(wh, root / "published.duckdb").path


@pytest.fixture(scope="module")
def expected(needs_snapshot):
    con = db.connect(needs_snapshot)
    try:
        return {
            "all": views.needs_data(con, views.Filters(), lang="zh", role="dashboard"),
            "segment": views.needs_data(
                con, views.Filters(segment=SEGMENT), lang="zh", role="dashboard"
            ),
        }
    finally:
        con.disconnect()


def test_needs_page_filter_and_export_overdue(
    served, needs_snapshot, page, requests_seen, expected, open_page, screenshot, tmp_path
):
    root = tmp_path / "dashboards"
    shutil.copytree(ROOT / "dashboards", root)
    server = served(root, needs_snapshot)
    open_page(page, server.page("needs"), charts=CHARTS)
    cards = page.evaluate(
        """() => Object.fromEntries(Array.from(document.querySelectorAll('.crmkit-card'))
            .map(c => [c.dataset.key, c.dataset.value]))"""
    )
    for key, (value, _label, _definition) in expected["all"]["cards"].items():
        assert cards[key] == repr(value), key
    assert "优先级 = 0.40×覆盖面" in page.inner_text(".crmkit-formula")
    assert requests_seen.leaving_localhost() == []
    screenshot(page, "needs")

    page.select_option(".crmkit-filter-segment select", label="重要价值客户")
    page.wait_for_selector(
        ".crmkit-ready[data-filters*='客户分群: 重要价值客户']", state="attached", timeout=60_000
    )
    want = expected["segment"]
    assert page.locator(".crmkit-card[data-key='texts']").get_attribute("data-value") == repr(
        want["cards"]["texts"][0]
    )
    assert page.evaluate(
        """() => Array.from(document.querySelectorAll('.js-plotly-plot'))
            .every(g => g.layout.meta.filters.includes('重要价值客户'))"""
    )

    with page.expect_download() as dl:
        page.locator(
            "button.crmkit-export[data-format='csv'][data-name='overdue_contacts']"
        ).click()
    path = tmp_path / "overdue.csv"
    dl.value.save_as(path)
    text = path.read_text(encoding="utf-8-sig")
    assert "# 筛选条件: 时间段: 全部时间" in text and "客户分群: 重要价值客户" in text
    exported = pd.read_csv(path, comment="#", dtype=str, encoding="utf-8-sig")
    assert exported["客户编号"].tolist() == want["overdue"].customer_id.tolist()
    assert len(exported) > 0
    assert exported["客户名称"].str.contains(r"\*\*").all()
    assert set(exported["客户分群"]) == {"重要价值客户"}
