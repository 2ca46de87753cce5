"""Dashboard view data and widgets, checked against hand-worked numbers on the tiny snapshot.

The tiny snapshot (tests/conftest.py): customers C001–C005 (上海, 北京, 广东×2 (C003 广州,
C004 深圳), 浙江), 3 products, 6 orders from 2024-01-05 to 2024-04-02 10:30 (= as_of).
"""

import io
import math
from datetime import datetime

import pandas as pd
import pytest

import crmkit
from crmkit import db, views
from crmkit.views import Filters


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
    snap = db.connect(crmkit.publish(wh, tmp_path / "p.duckdb").path)
    masked = views.overview_data(snap, role="dashboard")["duplicates"]
    assert masked[
        ["customer_id_a", "name_a", "phone_a", "customer_id_b", "phone_b"]
    ].values.tolist() == [["A1", "张**", "138****1234", "A2", "138****1234"]]
    assert masked.email_a.tolist() == ["z***@example.com"]
    clear = views.overview_data(snap, role="analyst")["duplicates"]
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


def test_classification_page_lists_the_clicked_segment(con):
    page = views.customer_classification(con, lang="zh", role="analyst")
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
