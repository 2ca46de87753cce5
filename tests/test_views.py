"""Dashboard view data and widgets, checked against hand-worked numbers on the tiny snapshot.

The tiny snapshot (tests/conftest.py): customers C001–C005 (上海, 北京, 广东×2 (C003 广州,
C004 深圳), 浙江), 3 products, 6 orders from 2024-01-05 to 2024-04-02 10:30 (= as_of).
"""

import html as h
import io
import math
import re
from datetime import datetime
from pathlib import Path

import pandas as pd
import pytest

import crmkit
from crmkit import db, views
from crmkit.views import Filters

FIXTURES = Path(__file__).parent / "fixtures"


@pytest.fixture()
def con(tiny_snapshot):
    c = db.connect(tiny_snapshot)
    yield c
    c.disconnect()


def _rows(data):
    return dict(zip(data["counts"].table, data["counts"].rows, strict=True))


def test_overview_counts_and_cards(con):
    """No filter: 5 customers, 3 products, 6 orders, nothing else.

    Completeness: each customer fills name, created_at, phone, email, gender, province, city =
    7 of the 11 expected columns -> 7/11 = 0.63636. Validity: every filled checked value is
    valid -> 1.0. Nobody was ever verified -> all 5 stale (share 1.0), so
    quality_score = (7/11 + 1) / 2 * 0.8 = 0.654545...
    """
    d = views.overview_data(con, Filters(), lang="en")
    assert d["as_of"] == datetime(2024, 4, 2, 10, 30)
    assert _rows(d) == {
        "customers": 5,
        "products": 3,
        "orders": 6,
        "interactions": 0,
        "feedback": 0,
        "tickets": 0,
        "opportunities": 0,
        "points_ledger": 0,
        "referrals": 0,
    }
    cards = {k: v[0] for k, v in d["cards"].items()}
    assert cards["customers"] == 5
    assert math.isclose(cards["completeness"], 7 / 11)
    assert cards["validity"] == 1.0
    assert cards["stale_share"] == 1.0
    assert math.isclose(cards["quality_score"], (7 / 11 + 1) / 2 * 0.8)
    assert cards["duplicates"] == 0
    assert "n = 5" in d["cards"]["completeness"][2]
    assert d["bands"].set_index("band").customers.to_dict()["0.6–0.7"] == 5
    qt = d["quality_tables"].set_index("table")
    assert qt.loc["customers", "rows"] == 5
    assert math.isclose(qt.loc["customers", "completeness_share"], 7 / 11)
    # orders fill 8 of their 11 non-key columns (no promised_date, delivered_at, return_reason)
    assert math.isclose(qt.loc["orders", "completeness_share"], 8 / 11)
    cols = d["columns"].set_index("column").share
    assert cols["phone"] == 1.0 and cols["birthday"] == 0.0


def test_region_and_period_filters(con):
    """广东 has C003 and C004, who placed O004 and O005; products are not customer-scoped.

    Last 30 days before 2024-04-02 10:30 starts 2024-03-03 10:30: orders O005 (03-15) and O006
    (04-02); no customer was created in that window.
    """
    d = views.overview_data(con, Filters(province="广东"))
    assert _rows(d)["customers"] == 2 and _rows(d)["orders"] == 2 and _rows(d)["products"] == 3
    d = views.overview_data(con, Filters(province="广东", city="深圳"))
    assert _rows(d)["customers"] == 1 and _rows(d)["orders"] == 1
    d = views.overview_data(con, Filters(period="30d"))
    assert _rows(d)["orders"] == 2 and _rows(d)["customers"] == 0
    assert d["cards"]["quality_score"][0] is None


def test_last_ingest_is_reported(con):
    d = views.overview_data(con)
    li = d["last_ingest"].set_index("table_name")
    assert li.loc["orders", "rows_in"] == 6 and li.loc["orders", "rejected"] == 0
    assert set(li.index) == {"customers", "products", "orders"}


def test_filters_describe_both_languages():
    f = Filters(period="90d", province="广东", owner_team="sales")
    assert f.describe("zh") == (
        "时间段: 近90天; 省份: 广东; 城市: 全部; 客户分群: 全部; 负责团队: 销售团队"
    )
    assert f.describe("en").startswith("Period: Last 90 days; Province: 广东; City: All")
    with pytest.raises(ValueError, match="unknown period 'week'"):
        Filters(period="week")


def test_exports_record_filters_and_time():
    df = pd.DataFrame({"客户编号": ["007", "008"], "金额": [1.5, 2.0]})
    f = Filters(province="广东")
    raw = views.export_frame(df, "list", f, "zh", "csv")
    assert raw.startswith("\ufeff".encode())
    text = raw.decode("utf-8-sig")
    assert "# 筛选条件: 时间段: 全部时间; 省份: 广东" in text
    assert "# 导出时间: " in text
    back = pd.read_csv(io.StringIO(text), comment="#", dtype=str)
    assert back["客户编号"].tolist() == ["007", "008"]
    xlsx = views.export_frame(df, "list", f, "en", "xlsx")
    sheets = pd.read_excel(io.BytesIO(xlsx), sheet_name=None, dtype=str, engine="openpyxl")
    assert sheets["data"]["客户编号"].tolist() == ["007", "008"]
    about = dict(zip(sheets["about"].item, sheets["about"].value, strict=True))
    assert about["Filters used"].startswith("Period: All time; Province: 广东")
    with pytest.raises(ValueError, match="unknown export format"):
        views.export_frame(df, "list", f, "en", "pdf")


def test_page_widgets_follow_filters_and_language(con):
    """Changing a filter updates cards and every chart; the switch relabels in English."""
    page = views.data_overview(con, lang="zh", role="dashboard")
    assert "data-key='customers' data-value='5'" in page.cards.value
    assert "<td>客户</td><td>5</td><td>63.6%</td>" in page.tables_table.value
    counts = page.fig_counts.children[0]
    assert list(counts.data[0].y)[:3] == [5, 3, 6]
    assert counts.layout.title.text == "各表数据量"
    bands_before = list(page.fig_bands.children[0].data[0].y)

    page.filter_bar.province.value = "广东"
    assert "data-key='customers' data-value='2'" in page.cards.value
    assert list(counts.data[0].y)[:3] == [2, 3, 2]
    assert list(page.fig_bands.children[0].data[0].y) != bands_before
    assert page.fig_stale.children[0].data[0].x  # stale-by-team redrawn, same widget
    assert "省份: 广东" in page.header.value

    page.filter_bar.language.value = "en"
    assert counts.layout.title.text == "Rows per table"
    assert page.filter_bar.province.description == "Province"
    assert page.filter_bar.province.value == "广东"  # the filter survives the switch
    assert "Province: 广东" in page.header.value
    assert "crmkit-error" not in page.status.value


@pytest.mark.slow  # a full publish of its own warehouse: ~10 s
def test_duplicates_are_masked_for_the_dashboard_role(tmp_path):
    """Two customers sharing phone 13812341234 form one candidate pair; the dashboard role sees
    张** / 138****1234, the analyst role the real values."""
    wh = tmp_path / "w.duckdb"
    csv = tmp_path / "c.csv"
    csv.write_text(
        "customer_id,name,phone,email,created_at\n"
        "A1,张三丰,13812341234,zs@example.com,2024-01-01\n"
        "A2,张三,138-1234-1234,other@example.com,2024-01-02\n"
        "A3,李四,13900000000,ls@example.com,2024-01-03\n",
        encoding="utf-8",
    )
    from crmkit.ingest import ingest

    c = db.connect(wh, read_only=False)
    ingest(csv, "customers", con=c)
    c.disconnect()
    published = crmkit.publish(wh, tmp_path / "p.duckdb").path
    snap = db.connect(published)
    masked = views.overview_data(snap, role="dashboard")["duplicates"]
    assert masked[
        ["customer_id_a", "name_a", "phone_a", "customer_id_b", "phone_b"]
    ].values.tolist() == [["A1", "张**", "138****1234", "A2", "138****1234"]]
    assert masked.email_a.tolist() == ["z***@example.com"]
    # the dashboard snapshot holds no clear value, whatever the role
    assert views.overview_data(snap, role="analyst")["duplicates"].name_a.tolist() == ["张**"]
    analyst = db.connect(db.analyst_path(published))
    clear = views.overview_data(analyst, role="analyst")["duplicates"]
    assert clear.name_a.tolist() == ["张三丰"] and clear.phone_b.tolist() == ["138-1234-1234"]
    with pytest.raises(ValueError, match="unknown role 'boss'"):
        views.overview_data(snap, role="boss")


def test_landing_links_every_page():
    html = views.landing().value
    for nb in views.PAGES:
        assert f"href='./{nb}.ipynb'" in html
    assert "数据概览与数据质量" in html and "Data overview and quality" in html


def test_classification_data_worked_by_hand(con):
    """Counted orders (returned / refunded / cancelled excluded): C001 O001 99 + O002 279 = 378
    over 2 orders, last 2024-02-10; C003 O004 297, 2024-03-01. C002, C004, C005 only have
    excluded orders: potential.

    Recency at 2024-04-02: C001 52 days, C003 32. Mean splits: R 42, F 1.5, M 337.5.
    C001: R low, F high, M high -> important_keep; C003: R high, F low, M low ->
    general_develop. Revenue 675: shares 378/675 = 0.56 and 297/675 = 0.44. ABC: C001 has 0 %
    before it, C003 56 % (< 70 %): both A, so the A share of revenue is 1.0 and both are
    important (C001's cycle 36 days -> churn after 108; nobody churned).
    """
    d = views.classification_data(
        con, Filters(), lang="zh", role="dashboard", list_segment="important_keep"
    )
    cards = {k: v[0] for k, v in d["cards"].items()}
    assert cards == {"customers": 5, "important": 2, "a_revenue_share": 1.0, "churned_share": 0.0}
    seg = d["segments"].set_index("segment")
    assert seg.customers.to_dict() == {
        "important_value": 0,
        "important_develop": 0,
        "important_keep": 1,
        "important_retain": 0,
        "general_value": 0,
        "general_develop": 1,
        "general_keep": 0,
        "general_retain": 0,
        "potential": 3,
    }
    assert math.isclose(seg.loc["important_keep", "revenue_share"], 378 / 675)
    assert seg.loc["potential", "label"] == "潜在客户（未购买）"
    assert d["pareto"].x.tolist() == [0, 0.5, 1]
    assert d["pareto"].y.tolist() == pytest.approx([0, 378 / 675, 1])
    lst = d["customers"]
    assert lst[["customer_id", "name", "phone", "frequency", "monetary"]].values.tolist() == [
        ["C001", "张**", "138****1234", 2, 378.0]
    ]
    assert lst.segment.tolist() == ["重要保持客户"]


def test_classification_filters(con):
    """广东 = C003 (general_develop, important) and C004 (potential). The segment filter keeps
    customers of one RFM class; a 30-day period keeps those who bought after 2024-03-03
    10:30: nobody (C003 last bought on 2024-03-01)."""
    d = views.classification_data(con, Filters(province="广东"))
    assert d["cards"]["customers"][0] == 2 and d["cards"]["important"][0] == 1
    d = views.classification_data(con, Filters(segment="potential"))
    assert d["cards"]["customers"][0] == 3
    assert views.overview_data(con, Filters(segment="important_keep"))["cards"]["customers"][0] == 1
    d = views.classification_data(con, Filters(period="30d"))
    assert d["cards"]["customers"][0] == 0 and d["cards"]["a_revenue_share"][0] is None
    assert (
        Filters(segment="important_keep")
        .describe("zh")
        .endswith("客户分群: 重要保持客户; 负责团队: 全部")
    )


def test_classification_page_lists_the_clicked_segment(tiny_snapshot, monkeypatch):
    """The analyst role's page opens the clear analyst snapshot by itself."""
    monkeypatch.setenv("CRMKIT_PUBLISHED", str(tiny_snapshot))
    page = views.customer_classification(lang="zh", role="analyst")
    assert "张伟" in page.con.table("customers").name.to_list()
    assert "data-key='important' data-value='2'" in page.cards.value
    assert page.segment_buttons.value == "important_value"
    page.segment_buttons.value = "important_keep"
    assert "张伟" in page.list_table.value  # analyst role: not masked
    assert "重要保持客户" in page.sec_list.value
    assert "crmkit-error" not in page.status.value


def test_export_buttons_build_the_file_only_when_clicked(monkeypatch):
    """The page holds no file until a click; then the kernel sends one CSV (or xlsx) whose
    first lines record the filters."""
    buttons = views.ExportButtons()
    df = pd.DataFrame({"客户编号": ["007"]})
    buttons.show(df, "list", Filters(province="广东"), "zh")
    csv_button, xlsx_button = buttons.buttons
    assert (csv_button.label, xlsx_button.label) == ("导出 CSV", "导出 Excel")
    sent = []
    monkeypatch.setattr(
        csv_button, "send", lambda content, buffers=None: sent.append((content, buffers))
    )
    csv_button._on_click(None, {"event": "export"}, [])
    ((content, (data,)),) = sent
    assert content["event"] == "file" and content["mime"] == "text/csv"
    assert content["filename"].startswith("list-") and content["filename"].endswith(".csv")
    assert "# 筛选条件: 时间段: 全部时间; 省份: 广东" in data.decode("utf-8-sig")


def test_exports_are_formula_safe():
    """A customer named =HYPERLINK(...), a masked =**, a city +cmd, a note @SUM(1): a leading '
    in the CSV and in the Excel file, whose cells are all plain strings or numbers (the amount
    -5.0 stays the number -5.0); a comma in a filter value does not open a new CSV cell."""
    import csv

    import openpyxl

    df = pd.DataFrame(
        {
            "name": ['=HYPERLINK("http://x","y")', "=**"],
            "city": ["+cmd", "北京"],
            "note": ["@SUM(1)", "-2+3"],
            "amount": [-5.0, 12.5],
        }
    )
    f = Filters(city="a,=1+1")
    rows = list(csv.reader(io.StringIO(views.export_frame(df, "x", f, "zh", "csv").decode())))
    assert rows[1] == [
        "# 筛选条件: 时间段: 全部时间; 省份: 全部; 城市: a，=1+1; 客户分群: 全部; 负责团队: 全部"
    ]
    assert rows[3:] == [
        ["name", "city", "note", "amount"],
        ['\'=HYPERLINK("http://x","y")', "'+cmd", "'@SUM(1)", "-5.0"],
        ["'=**", "北京", "'-2+3", "12.5"],
    ]
    book = openpyxl.load_workbook(io.BytesIO(views.export_frame(df, "x", f, "zh", "xlsx")))
    cells = [c for row in book["data"].iter_rows() for c in row]
    assert [c.value for c in cells] == [
        "name", "city", "note", "amount",
        "'=HYPERLINK(\"http://x\",\"y\")", "'+cmd", "'@SUM(1)", -5,
        "'=**", "北京", "'-2+3", 12.5,
    ]  # fmt: skip
    assert [c.data_type for c in cells] == ["s"] * 7 + ["n"] + ["s"] * 3 + ["n"]


def test_migration_between_chosen_snapshots(con):
    """Snapshots: the quarter ends 2023-06-30 … 2024-03-31 and as_of 2024-04-02 10:30. On
    2023-06-30 all five customers existed and none had bought (potential); by as_of C001 is
    important_keep and C003 general_develop. Between 2024-03-31 and as_of nobody moved: at
    2024-03-31 C001 (50 days, 2 orders, 378) vs C003 (30 days, 1 order, 297) split the same way.
    """
    d = views.classification_data(con, Filters())
    cells = {(r.from_segment, r.to_segment): r.customers for r in d["migration"].itertuples()}
    assert cells == {
        ("potential", "important_keep"): 1,
        ("potential", "general_develop"): 1,
        ("potential", "potential"): 3,
    }
    dates = d["snapshot_dates"]
    assert [x.date().isoformat() for x in dates] == [
        "2023-06-30",
        "2023-09-30",
        "2023-12-31",
        "2024-03-31",
        "2024-04-02",
    ]
    d = views.classification_data(con, Filters(), migration_from=dates[3], migration_to=dates[4])
    cells = {(r.from_segment, r.to_segment): r.customers for r in d["migration"].itertuples()}
    assert cells == {
        ("important_keep", "important_keep"): 1,
        ("general_develop", "general_develop"): 1,
        ("potential", "potential"): 3,
    }
    grid = d["rfm_grid"].set_index(["r_score", "f_score"]).customers.to_dict()
    assert sum(grid.values()) == 2
    ct = d["class_table"].set_index("segment")
    assert ct.loc["important_keep", "mean_frequency"] == 2.0


def test_classification_page_migration_dropdowns(con):
    page = views.customer_classification(con, lang="zh")
    assert len(page.migration_from.options) == 5
    before = page.fig_migration.children[0].data[0].z
    page.migration_from.value = page.migration_from.options[3][1]
    after = page.fig_migration.children[0].data[0].z
    assert before != after
    assert "crmkit-error" not in page.status.value


# ---------------------------------------------------------------------------------------------
# Partial snapshots: every section shows when its own data is there and says why when not
# ---------------------------------------------------------------------------------------------


def _notes(widget) -> list[str]:
    """The text of every "not available" note under ``widget`` (cards, charts, tables)."""

    found = []
    value = getattr(widget, "value", None)
    if isinstance(value, str):
        for m in re.finditer(r"<div class='[^']*crmkit-unavailable[^']*'[^>]*>(.*?)</div>", value):
            found.append(re.sub(r"<[^>]+>", "", m.group(1)))
    for child in getattr(widget, "children", ()):
        found += _notes(child)
    return found


def _drawn(box) -> bool:
    """A chart box holds a drawn figure (not a note)."""
    import plotly.graph_objects as go

    return len(box.children) == 1 and isinstance(box.children[0], go.FigureWidget)


def test_needs_page_without_feedback_or_contacts_shows_the_care_calendar(con):
    """The tiny snapshot has no feedback and no contacts: the four need cards, three need charts
    and five need tables say the feedback table is empty; the overdue card, the contact chart,
    the contact table and the overdue list say the interactions table is empty (without any
    contact every customer would look overdue: 5 of 5); the care calendar — from customers and
    orders — shows: nothing falls due from 2024-04-03 to 2024-05-02 (no birthdays in the file,
    no greeted festival in the window, no counted order in the last 7 days to follow up), so
    its card says 0 for that window."""
    d = views.needs_data(con, lang="en", role="dashboard")
    assert d["unavailable"] == {
        "needs": {"need_texts": "empty_table:feedback", "needs": "empty_table:feedback"},
        "contacts": {"interactions": "empty_table:interactions"},
    }
    assert "overdue" not in d and d["calendar"].empty
    assert d["cards"]["care_due"][0] == 0 and "3 Apr 2024 – 2 May 2024" in d["cards"]["care_due"][2]

    page = views.customer_needs(con, lang="zh")
    assert "crmkit-ready" in page.status.value and "crmkit-error" not in page.status.value
    notes = _notes(page.widget)
    assert notes.count("暂不可用：客户反馈表没有数据") == 4 + 3 + 5
    assert notes.count("暂不可用：互动记录表没有数据") == 1 + 1 + 2
    assert "data-key='texts' data-value='' data-available='false'" in page.cards.value
    assert "data-key='care_due' data-value='0'" in page.cards.value
    assert not _drawn(page.fig_priority) and "需求优先级" in page.fig_priority.children[0].value
    assert not _drawn(page.fig_contacts) and page.topic.layout.display == "none"
    assert "关怀日历 (0)" in page.calendar_title.value and page.owner.layout.display is None


def test_satisfaction_page_says_why_for_each_section(con):
    """No feedback and no tickets: every card, chart and table of the page says which table is
    empty — scores and drivers the feedback, the SLA sections the complaint tickets."""
    page = views.satisfaction_page(con, lang="en")
    assert "crmkit-error" not in page.status.value
    notes = _notes(page.widget)
    feedback = "Not available: the Feedback table is empty"
    tickets = "Not available: the Complaint tickets table is empty"
    assert notes.count(feedback) == 3 + 2 + 3  # NPS, CSAT, CES; trend, drivers; 3 tables
    assert notes.count(tickets) == 1 + 2 + 2  # SLA card; SLA and backlog charts; 2 tables
    assert not any(_drawn(b) for b in (page.fig_trend, page.fig_drivers, page.fig_sla))


def test_overview_page_draws_what_orders_give(con):
    """Customers, products and orders: the return rates (P03 1 of 1 returned) and the trend of
    retention, churn and return rate are drawn; sales conversion is not drawn and says why; the
    pipeline, the stuck opportunities and the alerts of the skipped steps say why; the lost
    customers list is there (empty: nobody was a customer at the start of 2024-Q1)."""
    d = views.kpi_overview_data(con, lang="en", role="dashboard")
    assert set(d["unavailable"]) == {
        "pipeline", "sla_alerts", "score_alerts", "satisfaction_alerts", "churn_alerts",
    }  # fmt: skip
    assert d["trend_not_drawn"] == {"sales_conversion": "empty_table:opportunities"}
    assert set(d["trend"].key) == {
        "retention_rate",
        "customer_churn",
        "return_rate",
        "new_customers",
    }
    assert d["returns"].set_index("product_id").rate.to_dict() == {"P01": 0, "P02": 0, "P03": 1}
    assert d["lost"].empty and "stuck" not in d

    page = views.kpi_overview(con, lang="zh")
    assert "crmkit-error" not in page.status.value
    assert _drawn(page.fig_trend) and _drawn(page.fig_returns) and _drawn(page.fig_map)
    assert not _drawn(page.fig_pipeline)
    assert "未画出：销售转化率 — 销售机会表没有数据" in page.trend_note.value
    notes = _notes(page.widget)
    assert "暂不可用：首单之后的训练截止点仅0个，至少需要1个" in notes  # churn alerts
    assert "暂不可用：投诉工单表没有数据；客户反馈表没有数据" in notes  # satisfaction alerts
    assert notes.count("暂不可用：销售机会表没有数据") == 2 + 2  # 2 KPI cards, chart, stuck list
    # CLV was skipped for too few repeat buyers: its card says that, not "no clv table"
    assert "暂不可用：复购客户仅1个，至少需要50个" in notes


def test_churn_page_shows_the_churn_rate_and_cohorts_without_a_model(con):
    """Too little history for CLV (1 repeat buyer of 50), for the churn model (no training
    cut-off after the first order) and no contacts for win-back: those sections say why; the
    quarterly churn trend and the cohorts, from orders alone, are drawn."""
    d = views.churn_data(con, lang="en", role="dashboard")
    assert d["unavailable"] == {
        "clv": {"clv": "too_few:repeat_buyers:1:50"},
        "model": {"churn": "too_few:training_cutoffs:0:1"},
        "winback": {"winback": "empty_table:interactions"},
    }
    page = views.churn_warning(con, lang="en")
    assert "crmkit-error" not in page.status.value
    assert _drawn(page.fig_trend) and _drawn(page.fig_cohorts)
    assert not any(_drawn(b) for b in (page.fig_palive, page.fig_clv, page.fig_lift))
    assert "data-key='at_risk' data-value='' data-available='false'" in page.cards.value
    assert page.owner.layout.display == "none"


@pytest.fixture(scope="module")
def customers_only(tmp_path_factory):
    """tests/fixtures/customers.csv alone, published: every step that needs orders skipped."""
    from crmkit.ingest import ingest

    root = tmp_path_factory.mktemp("customers_only")
    wh = db.connect(root / "w.duckdb", read_only=False)
    assert ingest(FIXTURES / "customers.csv", "customers", con=wh).ok
    wh.disconnect()
    c = db.connect(crmkit.publish(root / "w.duckdb", root / "p.duckdb").path)
    yield c
    c.disconnect()


def test_without_orders_every_class_section_says_so(customers_only):
    """No orders: the classification step was skipped ("the Orders table is empty"), and so was
    classification_snapshots — for want of the classification table, whose own reason is the
    one shown. Every card, chart and table of the classification page says so; the data
    overview, which needs customers only, shows everything."""
    d = views.classification_data(customers_only, lang="en")
    assert d["unavailable"] == {
        "classification": {"classification": "empty_table:orders"},
        "migration": {
            "classification": "empty_table:orders",
            "classification_snapshots": "empty_table:orders",
        },
    }
    page = views.customer_classification(customers_only, lang="en")
    assert "crmkit-error" not in page.status.value
    notes = _notes(page.widget)
    assert len(notes) == 4 + 5 + 2 and set(notes) == {"Not available: the Orders table is empty"}
    overview = views.data_overview(customers_only, lang="en")
    assert _notes(overview.widget) == [] and overview.cards.value.count("data-value='5'") == 1


def test_without_orders_the_overview_says_why_for_each_chart(customers_only):
    """No orders, no products, no opportunities: no trend KPI is available, so the trend chart
    itself is a note listing the reasons; so are the map, the return rates and the pipeline."""
    page = views.kpi_overview(customers_only, lang="en")
    assert "crmkit-error" not in page.status.value
    boxes = (page.fig_trend, page.fig_map, page.fig_returns, page.fig_pipeline)
    assert not any(_drawn(b) for b in boxes)
    assert "Not available: the Orders table is empty; the Sales opportunities table is empty" in (
        page.fig_trend.children[0].value
    )


def test_without_customers_the_data_overview_still_counts_rows(tmp_path):
    """Only products.csv (3 products): the quality step was skipped for the empty customers
    table; the rows-per-table chart is drawn (products 3, every other table 0) and every
    quality card, chart and table says why."""
    from crmkit.ingest import ingest

    wh = db.connect(tmp_path / "w.duckdb", read_only=False)
    assert ingest(FIXTURES / "products.csv", "products", con=wh).ok
    wh.disconnect()
    c = db.connect(crmkit.publish(tmp_path / "w.duckdb", tmp_path / "p.duckdb").path)
    try:
        d = views.overview_data(c, lang="en")
        assert d["unavailable"] == {"quality": {"quality": "empty_table:customers"}}
        assert _rows(d)["products"] == 3 and sum(_rows(d).values()) == 3
        page = views.data_overview(c, lang="en")
        assert _drawn(page.fig_counts) and not _drawn(page.fig_bands)
        notes = _notes(page.widget)
        assert len(notes) == 6 + 3 + 3
        assert set(notes) == {"Not available: the Customers table is empty"}
    finally:
        c.disconnect()


def test_overview_without_order_status_says_the_return_rate_is_not_known(tmp_path):
    """The fixtures' orders without their status column: ingest set all six to completed. The
    return-rate card, the return-rate chart and alerts say the status was not in the data
    (never 0.0 %), and the trend does not draw the return rate."""
    from crmkit.ingest import ingest

    orders = tmp_path / "orders.csv"
    pd.read_csv(FIXTURES / "orders.csv").drop(columns="status").to_csv(orders, index=False)
    wh = db.connect(tmp_path / "w.duckdb", read_only=False)
    for table, path in (("customers", FIXTURES / "customers.csv"),
                        ("products", FIXTURES / "products.csv"), ("orders", orders)):  # fmt: skip
        assert ingest(path, table, con=wh).ok
    wh.disconnect()
    c = db.connect(crmkit.publish(tmp_path / "w.duckdb", tmp_path / "p.duckdb").path)
    try:
        d = views.kpi_overview_data(c, lang="zh", role="dashboard")
        ev = d["evaluation"].set_index("key")
        assert (ev.loc["return_rate", "available"], ev.loc["return_rate", "reason"]) == (
            False,
            "status_defaulted",
        )
        assert d["unavailable"]["returns"] == {"orders": "status_defaulted"}
        assert d["trend_not_drawn"]["return_rate"] == "status_defaulted"
        page = views.kpi_overview(c, lang="zh")
        card = page.cards.value.split("data-key='return_rate'")[1].split("crmkit-card")[0]
        assert "data-value=''" in card and "0.0%" not in card
        assert "暂不可用：订单状态不在数据中（导入时全部记为已完成）" in card
        assert not _drawn(page.fig_returns)
        assert "退货率 — 订单状态不在数据中" in page.trend_note.value
        page.filter_bar.language.value = "en"
        assert "order status was not in the data (all set to completed at ingest)" in (
            page.fig_returns.children[0].value
        )
    finally:
        c.disconnect()


def _alerts(rows: list[tuple]) -> pd.DataFrame:
    """Published ``satisfaction_alerts`` rows: dimension, slice, metric, before, now, q_value,
    alert, likely_drivers (the other columns as score_alerts writes them)."""
    tests = {
        "nps": "two-proportion z (detractor share)",
        "csat": "two-proportion z (4-5 share)",
        "ces": "Welch t (mean)",
    }
    df = pd.DataFrame(
        rows,
        columns=[
            "dimension", "slice", "metric", "before", "now", "q_value", "alert", "likely_drivers",
        ],
    )  # fmt: skip
    return df.assign(
        change=df.now - df.before,
        n_before=100,
        n_now=40,
        test=[tests[m] for m in df.metric],
        statistic=-2.5,
        p_value=df.q_value / 2,
        worse=True,
    )


ALERTS = [
    ("segment", "general_develop", "csat", 0.686, 0.581, 0.01, True, ""),
    ("channel", "(none)", "nps", 6.7, -5.0, 0.02, True, "late 12.0% -> 30.0%"),
    ("owner_team", "service", "ces", 2.98, 3.4, 0.03, True, ""),
    ("overall", "all", "nps", 6.7, 5.9, 0.6, False, ""),
]


def test_satisfaction_alerts_name_their_slices():
    """Three alerting slices, one tested without alert. Each shows its dimension, slice, metric
    and test in the page's language: segment general_develop → 客户分群 / 一般发展客户;
    channel (none) → 下单渠道 / 无订单（关系调查）; owner team service → 负责团队 / 客户服务团队.
    CSAT 0.686 → 0.581 reads 68.6% → 58.1%, change −10.5%."""
    zh = views.satisfaction.score_alerts_html(_alerts(ALERTS), "zh")
    assert (
        "<td>客户分群</td><td>一般发展客户</td><td>满意度 CSAT</td><td>68.6%</td><td>58.1%</td>"
        "<td>-10.5%</td><td>100</td><td>40</td><td>双比例z检验（4–5分占比）</td>"
    ) in zh
    assert "<td>下单渠道</td><td>无订单（关系调查）</td><td>净推荐值 NPS</td><td>+6.7</td>" in zh
    assert "<td>订单延迟送达 12.0% -&gt; 30.0%</td>" in zh
    assert (
        "<td>负责团队</td><td>客户服务团队</td><td>费力度 CES</td><td>2.98</td><td>3.40</td>" in zh
    )
    assert "整体" not in zh and "general_develop" not in zh and "(none)" not in zh
    en = views.satisfaction.score_alerts_html(_alerts(ALERTS), "en")
    assert "<td>Owner team</td><td>Service</td><td>CES (effort)</td>" in en
    assert "<td>Welch t (mean)</td>" in en
    quiet = views.satisfaction.score_alerts_html(_alerts(ALERTS[3:]), "zh")
    assert "没有显著下降的切片（已检验 1 项" in quiet


def test_overview_satisfaction_alerts_name_their_slices():
    """The overview lists the alerting slices (q ascending) in words, scores formatted like
    the page's: CSAT as a percentage, NPS with its sign, CES with two decimals."""
    con = db.connect(":memory:", read_only=False)
    con.create_table("satisfaction_alerts", _alerts(ALERTS))
    zh = views.satisfaction.overview_alerts(con, lang="zh")
    assert zh.text.tolist() == [
        "满意度 CSAT 显著下降：客户分群 = 一般发展客户，68.6% → 58.1%",
        "净推荐值 NPS 显著下降：下单渠道 = 无订单（关系调查），+6.7 → -5.0",
        "费力度 CES 显著下降：负责团队 = 客户服务团队，2.98 → 3.40",
    ]
    en = views.satisfaction.overview_alerts(con, lang="en")
    assert en.text.iloc[0] == (
        f"CSAT dropped significantly: Segment = {views.segment_label('general_develop', 'en')}, "
        "68.6% → 58.1%"
    )


def test_slice_labels_pass_unknown_codes_through():
    """A company's own channel or team code, a province and a category read as they are."""
    label = views.satisfaction.slice_label
    assert label("channel", "douyin_live", "zh") == "douyin_live"
    assert label("owner_team", "vip_desk", "zh") == "vip_desk"
    assert label("province", "广东", "zh") == "广东" and label("category", "耳机", "en") == "耳机"
    assert label("channel", "social", "zh") == "社交媒体"
    assert label("overall", "all", "zh") == "全部" and label("segment", "(none)", "zh") == "未填写"


def _table(html_text: str) -> list[dict[str, str]]:
    """The rows of the first crmkit table in ``html_text``, header → cell text."""
    rows = re.findall(r"<tr>(.*?)</tr>", html_text)
    cells = [[h.unescape(c) for c in re.findall(r"<t[hd]>(.*?)</t[hd]>", r)] for r in rows]
    return [dict(zip(cells[0], r, strict=True)) for r in cells[1:]]


@pytest.fixture(scope="module")
def demo(demo_published):
    c = db.connect(demo_published)
    yield c
    c.disconnect()


def test_zh_pages_show_channels_severities_matches_and_clusters_in_chinese(demo):
    """On the demo's zh pages no channel, severity or match rule shows as its code:

    - satisfaction: the SLA chart's channels and the breach list's channel and severity cells
      are the Chinese labels (社交媒体 …, 低 / 中 / 高 / 紧急);
    - needs: the contact chart's legend is the seven contact channels in Chinese, and each new
      need cluster is named 新话题：<term 1> / <term 2> from its published top terms;
    - data overview: the duplicate pairs' 匹配依据 reads 手机, 邮箱 … .
    """
    contact = ["电话", "邮件", "在线聊天", "社交媒体", "拜访", "服务", "应用"]
    severities = {"低", "中", "高", "紧急"}

    sat = views.satisfaction_page(demo, lang="zh", role="dashboard")
    assert "crmkit-error" not in sat.status.value
    sla_x = set(sat.fig_sla.children[0].data[0].x)
    assert sla_x and sla_x <= set(contact)
    breaches = _table(sat.breach_table.value)
    assert breaches and {r["渠道"] for r in breaches} <= set(contact)
    assert {r["严重程度"] for r in breaches} <= severities

    nd = views.customer_needs(demo, lang="zh", role="dashboard")
    assert [tr.name for tr in nd.fig_contacts.children[0].data] == contact
    published = demo.table("need_clusters").to_pandas()
    names = [r["聚类"] for r in _table(nd.clusters_table.value)]
    assert len(names) == len(published) > 0
    assert names == ["新话题：" + " / ".join(terms.split("|")[:2]) for terms in published.top_terms]
    assert names[0].startswith("新话题：包装")  # the demo's packaging texts (test_needs)

    ov = views.data_overview(demo, lang="zh", role="dashboard")
    dups = _table(ov.dups_table.value)
    allowed = {"手机", "邮箱", "客户名称+公司"}
    assert dups and all(set(r["匹配依据"].split(", ")) <= allowed for r in dups)


def test_overview_tables_name_columns_and_match_rules(con):
    """The reject reasons show a column by its label (orders.status → 订单状态; a column the
    schema does not know as itself) and a duplicate pair's rules by their fields (phone, email
    → 手机, 邮箱; name+company → 客户名称+公司); the exported pairs say the same."""
    page = views.data_overview(con, lang="zh", role="dashboard")
    data = views.overview_data(con, lang="zh", role="dashboard")
    data["reject_reasons"] = pd.DataFrame(
        {
            "table_name": ["orders", "customers"],
            "column_name": ["status", "wechat_id"],
            "reason": ["unknown value", "missing required value"],
            "rows": [2, 1],
        }
    )
    pair = {f"{c}_{s}": f"{c}{s}" for s in "ab" for c in ("customer_id", "name", "phone", "email")}
    data["duplicates"] = pd.DataFrame(
        [{**pair, "match_on": "phone, email"}, {**pair, "match_on": "name+company"}]
    )
    page.update(data, Filters(), "zh")
    assert "<td>订单状态</td><td>unknown value</td><td>2</td>" in page.ingest_table.value
    assert "<td>wechat_id</td>" in page.ingest_table.value
    assert [r["匹配依据"] for r in _table(page.dups_table.value)] == ["手机, 邮箱", "客户名称+公司"]
    page.update(data, Filters(), "en")
    assert [r["Matched on"] for r in _table(page.dups_table.value)] == [
        "Phone, Email",
        "Name+Company",
    ]
    assert data["duplicates"].match_on.tolist() == ["phone, email", "name+company"]
