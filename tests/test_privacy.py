"""PII masking, worked by hand: first character of names, 3 + 4 digits of phones, first letter
of an email's local part."""

import ibis
import pytest

from crmkit.privacy import mask, mask_expr

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
