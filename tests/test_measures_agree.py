"""The same named measure shows the same number on every surface.

Two churn measures exist (crmkit.definitions): ``customer_churn`` (客户流失率, the KPI: customers
at a quarter's start who are no customers at its end) and ``buyer_churn_91d`` (季度买家流失率:
buyers of the 91 days before who did not buy in the last 91 days). Each has one name and one
number wherever it is shown: the overview page, the churn page, the report and notebook 05
(customer churn), the churn page, the loyalty trend table and the cubes (buyer churn).
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from crmkit import db, definitions, periods, report, views

ROOT = Path(__file__).resolve().parents[1]

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def con(demo_published):
    c = db.connect(demo_published)
    yield c
    c.disconnect()


def _report_cards(text: str) -> dict[str, str]:
    return dict(re.findall(r"data-key='(\w+)' data-value='([^']*)'", text))


def _notebook_prints(name: str) -> dict[str, float]:
    nb = json.loads((ROOT / "notebooks" / name).read_text(encoding="utf-8"))
    printed = "".join(
        "".join(o.get("text", ""))
        for c in nb["cells"]
        if c["cell_type"] == "code"
        for o in c.get("outputs", [])
    )
    return {k: float(v) for k, v in re.findall(r"^KPI (\w+) = ([-\d.]+)$", printed, flags=re.M)}


def test_customer_churn_is_one_number_on_every_surface(con):
    overview = views.kpi_overview_data(con, views.Filters(), lang="zh", role="dashboard")
    churn_page = views.churn_data(con, views.Filters(), lang="zh", role="dashboard")
    text, _ = report.build_report(con)
    value = overview["cards"]["customer_churn"]
    assert value is not None and 0 < value < 1
    assert churn_page["cards"]["customer_churn"][0] == value
    assert churn_page["customer_churn"].period == overview["period"].label
    assert _report_cards(text)["customer_churn"] == repr(value)
    assert _notebook_prints("05_kpi_overview.ipynb")["customer_churn"] == pytest.approx(
        value, abs=5e-7
    )
    name = definitions.MEASURES["customer_churn"].zh
    assert churn_page["cards"]["customer_churn"][1] == name and name in text


def test_buyer_churn_is_one_number_on_the_churn_page_trend_and_cubes(con):
    churn_page = views.churn_data(con, views.Filters(), lang="zh", role="dashboard")
    rate = churn_page["churn_rate"]
    as_of = db.data_as_of(con)
    last = periods.rolling_quarters(as_of, 1)[0]
    live = definitions.buyer_churn(con.table("orders"), start=last.start, end=last.end)
    trend = con.table("retention_trend").to_pandas().iloc[-1]
    assert rate == live and churn_page["cards"]["buyer_churn_91d"][0] == live.value
    assert (int(trend.churned), int(trend.n)) == (live.numerator, live.denominator)
    assert churn_page["cards"]["buyer_churn_91d"][1] == definitions.MEASURES["buyer_churn_91d"].zh


def test_the_two_measures_differ_and_are_labelled_apart(con):
    churn_page = views.churn_data(con, views.Filters(), lang="en", role="dashboard")
    cards = churn_page["cards"]
    assert cards["customer_churn"][1] != cards["buyer_churn_91d"][1]
    assert cards["customer_churn"][0] != cards["buyer_churn_91d"][0]
