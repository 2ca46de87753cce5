"""PII masking, worked by hand: first character of names, 3 + 4 digits of phones, first letter
of an email's local part."""

from decimal import Decimal

import ibis
import pandas as pd
import pytest

from crmkit.privacy import (
    formula_safe,
    formula_safe_frame,
    mask,
    mask_expr,
    mask_text,
    masked_table,
    personal_columns,
)

CASES = [
    ("张三丰", "name", "张**"),
    ("张三", "name", "张**"),
    ("Alice Smith", "name", "A**"),
    ("13812341234", "phone", "138****1234"),
    ("+8613812341234", "phone", "+86****1234"),
    ("1234", "phone", "****"),
    ("alice@example.com", "email", "a***@example.com"),
    ("not-an-email", "email", "n**"),
    ("北京", None, "北京"),
]


@pytest.mark.parametrize(("value", "kind", "expected"), CASES)
def test_mask(value, kind, expected):
    assert mask(value, kind) == expected


@pytest.mark.parametrize("kind", ["name", "phone", "email"])
def test_ibis_mask_agrees_with_python(kind):
    values = [v for v, k, _ in CASES if k == kind]
    t = ibis.memtable({"v": values})
    got = t.select(m=mask_expr(t.v, kind)).to_pandas().m.tolist()
    assert got == [mask(v, kind) for v in values]


def test_none_stays_none():
    assert mask(None, "phone") is None


TEXT_CASES = [
    # mobile numbers (3-4-4, with or without blanks, dashes, +86) and addresses
    ("请回电13812341234或发邮件 wang.li@163.com", "请回电138****1234或发邮件 w***@163.com"),
    ("电话 138-1234-5678 / +86 139 8765 4321", "电话 138****5678 / +86****4321"),
    ("请发邮件到wang.li@163.com谢谢", "请发邮件到w***@163.com谢谢"),
    ("13812341234@qq.com", "1***@qq.com"),
    # landlines with an area code, an ID card (check character X), a Luhn-valid bank card
    ("座机 010-62345678，(0755)1234567", "座机 010****5678，(07****4567"),
    ("身份证 11010119900307123X 号", "身份证 110****123X 号"),
    ("卡号 4111111111111111", "卡号 411****1111"),
    # not personal: an order number (15 digits; 16 digits failing Luhn), amounts, dates, a
    # 14-digit run that is no phone
    ("订单号 202412345678901 不是手机号", "订单号 202412345678901 不是手机号"),
    ("单号 4111111111111112", "单号 4111111111111112"),
    (
        "金额 1234.50 元，2024-03-01 下单，13812341234567",
        "金额 1234.50 元，2024-03-01 下单，13812341234567",
    ),
    ("", ""),
]


@pytest.mark.parametrize(("text", "expected"), TEXT_CASES)
def test_mask_text(text, expected):
    assert mask_text(text) == expected
    assert mask_text(expected) == expected  # masking twice changes nothing more
    assert mask(text, "text") == expected


def test_ibis_mask_text_agrees_with_python():
    values = [t for t, _ in TEXT_CASES] + [None]
    t = ibis.memtable({"v": values}, schema={"v": "string"})
    got = t.select(m=mask_expr(t.v, "text")).to_pyarrow().column("m").to_pylist()
    assert got == [e for _, e in TEXT_CASES] + [None]


def test_masked_table_masks_the_declared_columns_only():
    """customers: name, phone and email masked, the id kept; feedback: the text through
    mask_text; need_clusters (a published table): example and top terms; a table without
    personal data comes back as it is."""
    people = ibis.memtable(
        {"customer_id": ["13812341234"], "name": ["张三丰"], "phone": ["13812341234"],
         "email": ["zs@x.com"], "city": ["+cmd"]}
    )  # fmt: skip
    got = masked_table("customers", people).to_pandas()
    assert got.columns.tolist() == ["customer_id", "name", "phone", "email", "city"]
    assert got.iloc[0].tolist() == ["13812341234", "张**", "138****1234", "z***@x.com", "+cmd"]
    fb = ibis.memtable({"feedback_id": ["F1"], "text": ["回电13812341234"], "nps": [3]})
    assert masked_table("feedback", fb).to_pandas().iloc[0].tolist() == ["F1", "回电138****1234", 3]
    cl = ibis.memtable({"top_terms": ["包装|zs@x.com"], "example": ["13812341234"]})
    assert masked_table("need_clusters", cl).to_pandas().iloc[0].tolist() == [
        "包装|z***@x.com",
        "138****1234",
    ]
    kpi = ibis.memtable({"key": ["nps"]})
    assert masked_table("kpi_values", kpi) is kpi
    assert personal_columns("quality_duplicates") == {"shared_value": "name"}


def test_formula_safe_frame():
    """Text starting with = + - @ tab or CR gets a leading ': in cells and column names;
    numbers (also a negative amount, also as Decimal), None, dates and other text do not."""
    df = pd.DataFrame(
        {
            "name": ['=HYPERLINK("http://x","y")', "+cmd", "-2+3", "@SUM(1)"],
            "@who": ["\tx", "\rx", "=**", "张三"],
            "amount": [-5.0, 1.0, 2.0, 3.0],
            "money": [Decimal("-5.00"), None, Decimal("1.50"), Decimal("0")],
            "when": pd.to_datetime(["2024-01-01"] * 4),
        }
    )
    got = formula_safe_frame(df)
    assert got.columns.tolist() == ["name", "'@who", "amount", "money", "when"]
    assert got["name"].tolist() == ['\'=HYPERLINK("http://x","y")', "'+cmd", "'-2+3", "'@SUM(1)"]
    assert got["'@who"].tolist() == ["'\tx", "'\rx", "'=**", "张三"]
    assert got.amount.tolist() == [-5.0, 1.0, 2.0, 3.0] and got.amount.dtype == "float64"
    assert got.money.tolist() == [Decimal("-5.00"), None, Decimal("1.50"), Decimal("0")]
    assert got["when"].equals(df["when"])
    assert df["name"].iloc[0].startswith("=")  # the input is not changed
    assert formula_safe(-5) == -5 and formula_safe(None) is None and formula_safe("a=b") == "a=b"
