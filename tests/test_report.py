"""crmkit.report on the tiny snapshot (tests/conftest.py ``tiny_snapshot``) and on hand-made
evaluation frames. The report on the 20,000-customer demo (same numbers as the overview page and
notebook 05, self-contained, masked lists) is tested in tests/test_kpi.py.

The tiny snapshot (customers.csv, products.csv, orders.csv)
-----------------------------------------------------------
as_of = the latest order, 2024-04-02 10:30, so the default period is the last complete quarter,
2024-Q1 = [2024-01-01, 2024-04-01); the previous one is 2023-Q4 (no orders at all).

=====  ====  ================  =======  =========
order  cust  ts                amount   status
=====  ====  ================  =======  =========
O001   C001  2024-01-05        99.00    completed
O002   C001  2024-02-10        279.00   completed
O003   C002  2024-02-11        319.00   returned
O004   C003  2024-03-01        297.00   completed
O005   C004  2024-03-15        299.00   refunded
O006   C005  2024-04-02        159.50   cancelled (after the period)
=====  ====  ================  =======  =========

Counted orders (not returned / refunded / cancelled) in 2024-Q1: O001, O002, O004.

- new customers: first counted order in the period: C001, C003 → 2 (2023-Q4: 0; change +2,
  better).
- return rate: placed and not cancelled O001–O005 = 5, returned O003 = 1 → 0.2; Wilson 95 %
  for 1/5: 3.6 % – 62.4 %.
- average order value: (99 + 279 + 297) / 3 = 225; sd = √((126² + 54² + 72²) / 2) = 109.49,
  225 ± 1.96 · 109.49 / √3 = 225 ± 123.9 → ¥101 – ¥349.
- repurchase rate: buyers with ≥ 2 counted orders / buyers = C001 / (C001, C003) = 0.5.
- referral rate: no referrals among the 2 buyers → 0.0.
- retention and churn: no customer had a counted order in the 365 days before 2024-01-01, so
  there is no one to retain: no value (n = 0), shown as "—".
- CLV: the tiny publish fits no CLV model (too few buyers) → not available.
"""

from __future__ import annotations

import re
from datetime import datetime

import pandas as pd
import pytest
from plotly.offline import get_plotlyjs

from crmkit import db, kpi, report

Q1 = "2024-Q1"


@pytest.fixture(scope="module")
def tiny_con(tiny_snapshot):
    con = db.connect(tiny_snapshot)
    yield con
    con.disconnect()


@pytest.fixture(scope="module")
def en(tiny_con):
    return report.build_report(tiny_con, lang="en")


@pytest.fixture(scope="module")
def zh(tiny_con):
    return report.build_report(tiny_con, lang="zh")


def _cards(text: str) -> dict[str, str]:
    return dict(re.findall(r"data-key='(\w+)' data-value='([^']*)'", text))


def test_default_period_is_the_last_complete_quarter(en):
    text, data = en
    assert data["period"].label == Q1
    assert data["as_of"] == datetime(2024, 4, 2, 10, 30)
    assert "<title>Customer management report 2024-Q1</title>" in text
    assert '<div class="crmkit-title">Customer management report · 2024-Q1</div>' in text
    assert "Data as of: 2 Apr 2024 10:30" in text
    assert '<html lang="en">' in text
    assert f'data-period="{Q1}"' in text


def test_cards_hold_the_snapshots_values(en):
    """The exact numbers (``repr`` of the float) on the cards, hand-checked above; no value
    is an empty attribute, not 0."""
    text, data = en
    cards = _cards(text)
    assert {k: cards[k] for k in ("new_customers", "return_rate", "avg_order_value")} == {
        "new_customers": "2.0",
        "return_rate": "0.2",
        "avg_order_value": "225.0",
    }
    # no referral was ever recorded: the referral rate is not available, not 0 %
    assert (cards["repurchase_rate"], cards["referral_rate"]) == ("0.5", "")
    assert cards["retention_rate"] == cards["customer_churn"] == cards["clv"] == ""
    # one card per KPI evaluated, and each card is the page's number
    assert set(cards) == set(data["evaluation"].key)
    for key, v in data["cards"].items():
        assert cards[key] == ("" if v is None else repr(v)), key


def test_kpi_table_formats_values_n_and_intervals(en, zh, tiny_con):
    _, data = en
    kt = report.kpi_table(data["evaluation"], "en").set_index("kpi")
    rr = kt.loc["Return rate"]
    assert (rr.value, rr.n, rr.interval) == ("20.0%", "5", "3.6% – 62.4%")
    aov = kt.loc["Average order value"]
    assert (aov.value, aov.n, aov.interval) == ("¥225", "3", "¥101 – ¥349")
    assert kt.loc["Retention rate"].value == "—" and kt.loc["Retention rate"].n == "0"
    clv = kt.loc["Customer lifetime value (CLV)"]
    assert clv.value == "Not available yet" and clv.n == "—"
    # the reason in words: why the clv step wrote no table, not that the table is missing
    assert clv.definition.endswith("(only 1 repeat buyers, at least 50 needed)")
    # published without settings: no target, and the table says so
    assert (rr.target, rr.attainment) == ("No target set", "—")
    # the attainment is value against the company's target: lower is better for returns
    targets = {"targets": {"return_rate": {"quarter": 0.05}}}
    ev = kpi.evaluate(tiny_con, data["period"], keys=["return_rate"], targets=targets, lang="en")
    rr = report.kpi_table(ev, "en").set_index("kpi").loc["Return rate"]
    assert (rr.target, rr.attainment) == ("5.0%", "25.0%")  # 0.05 / 0.20
    zkt = report.kpi_table(zh[1]["evaluation"], "zh").set_index("kpi")
    assert (zkt.loc["客单价"].value, zkt.loc["退货率"].value) == ("¥225", "20.0%")
    assert zkt.loc["客户终身价值 CLV"].value == "暂不可用"


def test_changes_name_the_one_kpi_with_a_previous_value(en, zh):
    """Only new customers has a 2023-Q4 value (0): 0 → 2, +2, better."""
    assert report.changes(en[1]["evaluation"], "en") == [
        "<li class='crmkit-change-better'>New customers acquired: 0 (2023-Q4) → 2 (2024-Q1), "
        "+2, better</li>"
    ]
    assert report.changes(zh[1]["evaluation"], "zh") == [
        "<li class='crmkit-change-better'>新客户获取数量: 0 (2023-Q4) → 2 (2024-Q1), +2, 改善</li>"
    ]
    assert "New customers acquired: 0 (2023-Q4) → 2 (2024-Q1)" in en[0]


def test_report_sections_in_both_languages(en, zh):
    """Section titles follow the language; the list of lost customers is empty (no customer
    was active at the start of the quarter) and says so; the pipeline chart, the win rates and
    the stuck opportunities say they are not available (no opportunities in the data)."""
    text, _ = en
    for heading in ("KPIs against targets", "What changed vs the previous period", "Alerts",
                    "Lists to act on (personal data masked)"):  # fmt: skip
        assert f'<div class="crmkit-section">{heading}</div>' in text
    assert "No data for these filters" in text
    # the sales and lead conversion cards, the pipeline chart, win rates and stuck list
    assert text.count("Not available: the Sales opportunities table is empty") == 5
    ztext, _ = zh
    assert '<html lang="zh-CN">' in ztext
    assert '<div class="crmkit-title">客户管理经营报告 · 2024-Q1</div>' in ztext
    assert "数据截至: 2024年4月2日 10:30" in ztext
    assert '<div class="crmkit-section">KPI 与目标</div>' in ztext


def test_report_is_one_self_contained_file(en):
    """plotly.js inline from the installed package, no link leaves the file, 4 charts."""
    text, _ = en
    assert get_plotlyjs() in text
    rest = text.replace(get_plotlyjs(), "")
    assert not re.search(r"(src|href)=['\"]?(https?:)?//", rest)
    assert text.count("class='crmkit-chart'") == 4


def test_render_stamps_the_given_time(en):
    _, data = en
    text = report.render(data, "en", generated=datetime(2024, 5, 1, 9, 0))
    assert "Generated: 2024-05-01 09:00" in text


def test_an_earlier_period(tiny_con):
    """2024-01 (a month): counted orders O001 (99) only → AOV 99; placed O001 → return rate 0."""
    text, data = report.build_report(tiny_con, period="2024-01", lang="en")
    assert data["period"].label == "2024-01"
    cards = _cards(text)
    assert (cards["avg_order_value"], cards["return_rate"], cards["new_customers"]) == (
        "99.0",
        "0.0",
        "1.0",
    )


# ------------------------------------------------------------------------------ changes()


def _ev(rows: list[dict]) -> pd.DataFrame:
    base = {"available": True, "period": "2024-Q2", "previous_period": "2024-Q1"}
    return pd.DataFrame([{**base, **r} for r in rows])


def test_changes_order_and_format():
    """Largest relative change first; a change from 0 counts as infinite (first). Rates move in
    percentage points (0.10 → 0.12: +2.0 pp), money and counts in their unit with a sign
    (200 → 150: −¥50). Unavailable KPIs and KPIs without a previous value are left out."""
    ev = _ev(
        [
            {"key": "a", "name": "Rate A", "unit": "rate", "previous": 0.10, "value": 0.12,
             "change": 0.02, "direction": "worse"},  # relative change 0.2
            {"key": "b", "name": "Money B", "unit": "money", "previous": 200.0, "value": 150.0,
             "change": -50.0, "direction": "better"},  # 0.25
            {"key": "c", "name": "Count C", "unit": "count", "previous": 0, "value": 3,
             "change": 3, "direction": "better"},  # from 0: inf
            {"key": "d", "name": "Gone D", "unit": "count", "previous": 1, "value": 2,
             "change": 1, "direction": "better", "available": False},
            {"key": "e", "name": "New E", "unit": "rate", "previous": None, "value": 0.5,
             "change": None, "direction": None},
        ]
    )  # fmt: skip
    assert report.changes(ev, "en") == [
        "<li class='crmkit-change-better'>Count C: 0 (2024-Q1) → 3 (2024-Q2), +3, better</li>",
        "<li class='crmkit-change-better'>Money B: ¥200 (2024-Q1) → ¥150 (2024-Q2), -¥50, "
        "better</li>",
        "<li class='crmkit-change-worse'>Rate A: 10.0% (2024-Q1) → 12.0% (2024-Q2), +2.0 pp, "
        "worse</li>",
    ]
    assert report.changes(ev.iloc[3:], "zh") == []


def test_changes_escape_names():
    ev = _ev([{"key": "x", "name": "<b>x</b>", "unit": "count", "previous": 1, "value": 1,
               "change": 0, "direction": "same"}])  # fmt: skip
    assert report.changes(ev, "zh") == [
        "<li class='crmkit-change-same'>&lt;b&gt;x&lt;/b&gt;: "
        "1 (2024-Q1) → 1 (2024-Q2), +0, 持平</li>"
    ]


# ------------------------------------------------------------------------------ write_report()


def test_write_report_default_name(tiny_snapshot, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    path = report.write_report(published=tiny_snapshot, lang="en")
    assert path.resolve() == (tmp_path / "report-2024-Q1-en.html").resolve()
    text = path.read_text(encoding="utf-8")
    assert _cards(text)["avg_order_value"] == "225.0"
    out = report.write_report(tmp_path / "sub" / "r.html", published=tiny_snapshot, period="2024")
    assert out.is_file() and "客户管理经营报告 · 2024" in out.read_text(encoding="utf-8")


def test_write_report_refuses_bad_input(tiny_snapshot, tmp_path):
    with pytest.raises(ValueError, match="unknown language 'fr'"):
        report.write_report(tmp_path / "r.html", published=tiny_snapshot, lang="fr")
    with pytest.raises(FileNotFoundError, match="does not exist"):
        report.write_report(tmp_path / "r.html", published=tmp_path / "none.duckdb")
    with pytest.raises(ValueError):
        report.write_report(tmp_path / "r.html", published=tiny_snapshot, period="Q9")
    assert not (tmp_path / "r.html").exists()


def test_win_rates_name_their_sources(zh):
    """Opportunity sources are acquisition-channel codes in the demo: the zh report reads
    sales → 销售, social → 社交媒体; a company's own source (trade_fair_2025) stays as it is."""
    data = {
        **zh[1],
        "win_by_source": pd.DataFrame(
            {
                "source": ["sales", "social", "trade_fair_2025"],
                "won": [4, 1, 2],
                "closed": [13, 7, 5],
                "rate": [4 / 13, 1 / 7, 2 / 5],
                "lo": [0.127, 0.026, 0.118],
                "hi": [0.576, 0.513, 0.769],
                "small_sample": [True, True, True],
            }
        ),
    }
    text = report.render(data, "zh")
    assert "<td>销售</td><td>4</td><td>13</td><td>30.8%</td>" in text
    assert "<td>社交媒体</td><td>1</td><td>7</td><td>14.3%</td>" in text
    assert "<td>trade_fair_2025</td><td>2</td><td>5</td><td>40.0%</td>" in text
    assert "<td>sales</td>" not in text and "<td>social</td>" not in text
    assert "<td>social</td><td>1</td>" in report.render(data, "en")
