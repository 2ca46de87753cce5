"""The churn page in Chromium over a published demo (2,000 customers, seed 11): the six charts
draw offline, the cards equal ``views.churn_data``, filtering the risk list by owner shows only
that owner's customers (names masked), and the owner's list exports as CSV."""

from __future__ import annotations

import shutil
from datetime import date

import pandas as pd
import pytest

import crmkit
from crmkit import db, demo, views

pytestmark = pytest.mark.browser
CHARTS = 6
ROOT = __import__("pathlib").Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def churn_snapshot(tmp_path_factory):
    root = tmp_path_factory.mktemp("churn_page")
    wh = root / "warehouse.duckdb"
    con = db.connect(wh, read_only=False)
    demo.generate(con, 2_000, seed=11, as_of=date(2026, 9, 30), progress=False)
    con.disconnect()
    return crmkit.publish(wh, root / "published.duckdb").path


@pytest.fixture(scope="module")
def churn_expected(churn_snapshot):
    con = db.connect(churn_snapshot)
    try:
        data = views.churn_data(con, views.Filters(), lang="zh", role="dashboard")
        owner = data["risk"].owner.iloc[0]
        mine = views.risk_list(con, views.Filters(), owner=owner, lang="zh", role="dashboard")
        return data, owner, mine
    finally:
        con.disconnect()


def test_churn_page_filters_by_owner_and_exports(
    served, churn_snapshot, churn_expected, page, requests_seen, open_page, screenshot, tmp_path
):
    data, owner, mine = churn_expected
    root = tmp_path / "dashboards"
    shutil.copytree(ROOT / "dashboards", root)
    server = served(root, churn_snapshot)
    open_page(page, server.page("churn"), charts=CHARTS, timeout_ms=150_000)
    cards = page.evaluate(
        """() => Object.fromEntries(Array.from(document.querySelectorAll('.crmkit-card'))
            .map(c => [c.dataset.key, c.dataset.value]))"""
    )
    for key, (value, _label, _definition) in data["cards"].items():
        assert cards[key] == repr(value), key
    assert requests_seen.leaving_localhost() == []
    auc = float(page.locator(".crmkit-backtest").get_attribute("data-auc"))
    assert auc == pytest.approx(float(data["backtest"].auc.iloc[0]), abs=1e-4)

    page.select_option(".crmkit-owner-filter select", value=owner)
    page.wait_for_selector(f".crmkit-risk-count[data-n='{len(mine)}']", timeout=60_000)
    page.wait_for_function(  # the table's widget update may land after the count's
        "n => document.querySelectorAll('.crmkit-risk-list table.crmkit-table tr').length === n",
        arg=1 + min(len(mine), 50),
        timeout=60_000,
    )
    rows = page.locator(".crmkit-risk-list table.crmkit-table tr").all_inner_texts()
    assert len(rows) == 1 + min(len(mine), 50)
    assert all(owner in r for r in rows[1:])
    assert mine.customer_id.iloc[0] in rows[1]

    with page.expect_download() as dl:
        page.locator(
            f"button.crmkit-export[data-format='csv'][data-name='churn_warning_{owner}']"
        ).click()
    path = tmp_path / "risk.csv"
    dl.value.save_as(path)
    exported = pd.read_csv(path, comment="#", dtype=str, encoding="utf-8-sig")
    assert exported["客户编号"].tolist() == mine.customer_id.tolist()
    assert set(exported["负责人"]) == {owner}
    assert exported["客户名称"].str.contains(r"\*").all()
    assert exported["原因"].notna().any() and exported["建议行动"].notna().all()
    screenshot(page, "churn")
