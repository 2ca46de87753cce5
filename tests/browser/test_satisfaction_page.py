"""The satisfaction page in Chromium: charts draw offline, the score cards equal
``views.satisfaction_data`` (value and n), changing the period redraws them, and the SLA breach
list exports with its filters and masked names.

Snapshot: a 1,000-customer demo (seed 42) published with every publish step.
"""

import shutil
from pathlib import Path

import pandas as pd
import pytest

import crmkit
from crmkit import db, demo, views

pytestmark = pytest.mark.browser
CHARTS = 4
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def sat_snapshot(tmp_path_factory):
    root = tmp_path_factory.mktemp("satisfaction")
    con = db.connect(root / "warehouse.duckdb", read_only=False)
    try:
        demo.generate(con, 1000, seed=42, progress=False)
    finally:
        con.disconnect()
    return crmkit.publish(root / "warehouse.duckdb", root / "published.duckdb").path


def expected_for(snapshot, f):
    con = db.connect(snapshot)
    try:
        return views.satisfaction_data(con, f, lang="zh", role="dashboard")
    finally:
        con.disconnect()


def cards_on(page) -> dict:
    return page.evaluate(
        """() => Object.fromEntries(Array.from(document.querySelectorAll('.crmkit-score'))
            .map(c => [c.dataset.key, [c.dataset.value, c.dataset.n, c.title]]))"""
    )


def test_satisfaction_page_period_cards_and_breach_export(
    served, sat_snapshot, page, requests_seen, open_page, screenshot, tmp_path
):
    root = tmp_path / "dashboards"
    shutil.copytree(ROOT / "dashboards", root)
    server = served(root, sat_snapshot)
    open_page(page, server.page("satisfaction"), charts=CHARTS)

    expected = expected_for(sat_snapshot, views.Filters())
    cards = cards_on(page)
    for key in ("nps", "csat", "ces", "sla"):
        card = expected["cards"][key]
        assert cards[key][0] == repr(card["value"]), key
        assert cards[key][1] == str(card["n"]), key
        assert cards[key][2] == card["definition"], key  # the 口径 on hover
    assert requests_seen.leaving_localhost() == []

    page.select_option(".crmkit-filter-period select", label="近12个月")
    page.wait_for_selector(
        ".crmkit-ready[data-filters*='时间段: 近12个月']", state="attached", timeout=60_000
    )
    expected = expected_for(sat_snapshot, views.Filters(period="365d"))
    cards = cards_on(page)
    nps = expected["cards"]["nps"]
    assert cards["nps"][0] == repr(nps["value"]) and cards["nps"][1] == str(nps["n"])
    assert cards["sla"][1] == str(expected["cards"]["sla"]["n"])
    assert page.evaluate(
        """() => Array.from(document.querySelectorAll('.js-plotly-plot'))
            .every(g => g.layout.meta.filters.includes('近12个月'))"""
    )

    breaches = expected["breaches"]
    assert len(breaches) > 0
    with page.expect_download() as dl:
        page.locator("button.crmkit-export[data-format='csv'][data-name='sla_breaches']").click()
    path = tmp_path / "breaches.csv"
    dl.value.save_as(path)
    text = path.read_text(encoding="utf-8-sig")
    assert "# 筛选条件: 时间段: 近12个月" in text
    exported = pd.read_csv(path, comment="#", dtype=str, encoding="utf-8-sig")
    assert exported["工单编号"].tolist() == breaches["ticket_id"].tolist()
    assert exported["客户名称"].str.contains(r"\*").all()
    assert "社媒运营组" in set(exported["处理团队"])
    screenshot(page, "satisfaction")
