"""Masking personal data (客户信息的安全与保密) and formula-safe exports.

Names, phones and emails are masked for the dashboard role, in exports and in reject reports:
张三丰 → 张**, 13812341234 → 138****1234, alice@example.com → a***@example.com. Free text a
customer wrote (feedback, return reasons, contact topics) may carry their own number or address:
:func:`mask_text` masks the mobile and landline numbers, ID-card and bank-card numbers and
e-mail addresses in it. The same rules exist as plain Python (for single values and messages)
and as Ibis expressions (for whole columns inside queries); tests check that both agree.
:func:`masked_table` applies them to every column ``crmkit.schema`` declares personal: that
is how ``crmkit publish`` writes the dashboard snapshot.

A spreadsheet reads a cell that starts with ``=``, ``+``, ``-`` or ``@`` as a formula
(``=HYPERLINK(...)`` in a customer's name would become a live link): every export passes
:func:`formula_safe_frame`, which puts ``'`` in front of such text (OWASP, "CSV injection").

Examples
--------
>>> mask("张三丰", "name"), mask("13812341234", "phone"), mask("alice@x.com", "email")
('张**', '138****1234', 'a***@x.com')
>>> mask_text("请回电 138-1234-5678，或发邮件 wang.li@163.com")
'请回电 138****5678，或发邮件 w***@163.com'
>>> formula_safe('=HYPERLINK("http://x","y")'), formula_safe(-5.0)
('\\'=HYPERLINK("http://x","y")', -5.0)
"""

from __future__ import annotations

import re

import ibis
import ibis.expr.types as ir
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from crmkit import schema

MASK = "*"
#: Who is looking: the ``dashboard`` role sees personal data masked, the ``analyst`` role in full.
ROLES = ("dashboard", "analyst")


def check_role(role: str) -> str:
    """Return ``role`` if it is one of ``ROLES``, else raise a clear error."""
    if role not in ROLES:
        raise ValueError(f"unknown role {role!r}; expected one of {', '.join(ROLES)}")
    return role


def mask_name(value: str | None) -> str | None:
    """Keep the first character: 张三丰 → 张**, Alice Smith → A**."""
    if value is None:
        return None
    v = value.strip()
    return v[:1] + MASK * 2 if v else v


def mask_phone(value: str | None) -> str | None:
    """Keep the first 3 and last 4 digits of 8+ character numbers: 13812341234 → 138****1234."""
    if value is None:
        return None
    v = value.strip()
    if len(v) < 8:
        return MASK * len(v)
    return v[:3] + MASK * 4 + v[-4:]


def mask_email(value: str | None) -> str | None:
    """Keep the first character of the local part and the domain: alice@x.com → a***@x.com."""
    if value is None:
        return None
    v = value.strip()
    local, at, domain = v.partition("@")
    if not at:
        return mask_name(v)
    return local[:1] + MASK * 3 + "@" + domain


_EMAIL_IN_TEXT = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+")
# Numbers that identify a person, each a whole run of digits (an order number is not cut up):
# a resident ID card (region, birth date 18xx-20xx, sequence, check digit or X), a bank card
# (16-19 digits passing the Luhn check), a CN mobile (+86 / 0086 optional, blanks or dashes
# between the 3-4-4 groups) and a landline with its area code ((010) 12345678, 0755-1234567).
_NUMBER_IN_TEXT = re.compile(
    r"""(?<!\d)(?:
        [1-9]\d{5}(?:18|19|20)\d{2}(?:0[1-9]|1[0-2])(?:0[1-9]|[12]\d|3[01])\d{3}[\dXx]
      | (?P<card>\d{16,19})
      | (?:(?:\+|00)?86[\s-]?)?1[3-9]\d(?:[\s-]?\d{4}){2}
      | (?:\(0\d{2,3}\)\s?|0\d{2,3}[\s-])\d{7,8}
    )(?!\d)""",
    re.VERBOSE,
)
#: Text without an ``@`` or four digits in a row holds nothing :func:`mask_text` masks.
_MAYBE_IN_TEXT = r"@|\d{4}"


def _luhn(digits: str) -> bool:
    total = 0
    for i, d in enumerate(reversed(digits)):
        n = int(d) * (2 if i % 2 else 1)
        total += n - 9 if n > 9 else n
    return total % 10 == 0


def _mask_number(m: re.Match[str]) -> str:
    if m.group("card") and not _luhn(m.group("card")):
        return m.group()
    return mask_phone(m.group())


def mask_text(text: str | None) -> str | None:
    """Free text with the personal numbers and e-mail addresses in it masked.

    A customer may write their number into a complaint. E-mail addresses keep the first
    character and the domain (:func:`mask_email`); mobile and landline numbers, ID-card
    numbers and bank-card numbers their first 3 and last 4 characters (:func:`mask_phone`).
    Other numbers (order numbers, amounts, dates) are left as they are. Masking twice changes
    nothing more.

    Examples
    --------
    >>> mask_text("请回电13812341234，身份证110101199003071234")
    '请回电138****1234，身份证110****1234'
    >>> mask_text("订单号 202412345678901 金额 1234.50")
    '订单号 202412345678901 金额 1234.50'
    """
    if text is None:
        return None
    text = _EMAIL_IN_TEXT.sub(lambda m: mask_email(m.group()), text)
    return _NUMBER_IN_TEXT.sub(_mask_number, text)


_MASKERS = {"name": mask_name, "phone": mask_phone, "email": mask_email, "text": mask_text}


def mask(value: str | None, kind: str | None) -> str | None:
    """Mask ``value`` as PII of ``kind`` ("name", "phone", "email", "text" for free text);
    other kinds pass through."""
    fn = _MASKERS.get(kind or "")
    return fn(value) if fn else value


@ibis.udf.scalar.pyarrow
def _mask_text_arrow(text: str) -> str:
    # only the values that may hold something to mask go through Python
    maybe = pc.fill_null(pc.match_substring_regex(text, _MAYBE_IN_TEXT), False)
    if not pc.any(maybe).as_py():
        return text
    flags = maybe.to_pylist()
    return pa.array(
        [mask_text(v) if f else v for v, f in zip(text.to_pylist(), flags, strict=True)],
        type=pa.string(),
    )


def mask_expr(col: ir.StringValue, kind: str | None) -> ir.StringValue:
    """The Ibis version of :func:`mask`, for masking a whole column inside a query."""
    if kind == "text":
        return _mask_text_arrow(col)
    v = col.strip()
    if kind == "name":
        return ibis.ifelse(v.length() > 0, v.substr(0, 1) + MASK * 2, v)
    if kind == "phone":
        return ibis.ifelse(
            v.length() < 8,
            ibis.literal(MASK).repeat(v.length()),
            v.substr(0, 3) + MASK * 4 + v.right(4),
        )
    if kind == "email":
        at = v.find("@")
        return ibis.ifelse(
            at < 0,
            ibis.ifelse(v.length() > 0, v.substr(0, 1) + MASK * 2, v),
            v.substr(0, 1) + MASK * 3 + v.substr(at),
        )
    return col


def personal_columns(table: str) -> dict[str, str]:
    """The columns of ``table`` that hold personal data, with how each is masked: the
    warehouse columns declared ``pii`` in ``crmkit.schema`` and the columns of published
    tables listed in :data:`crmkit.schema.DERIVED_PII`.

    >>> personal_columns("customers")
    {'name': 'name', 'phone': 'phone', 'email': 'email'}
    """
    declared = schema.TABLES.get(table)
    kinds = {c.name: c.pii for c in declared.pii_columns} if declared else {}
    return kinds | dict(schema.DERIVED_PII.get(table, {}))


def masked_table(table: str, t: ir.Table) -> ir.Table:
    """``t`` (the table named ``table``) with every personal column masked
    (:func:`personal_columns`, :func:`mask_expr`): the table as the dashboard snapshot stores
    it. Other columns, their order and types are kept."""
    kinds = {c: k for c, k in personal_columns(table).items() if c in t.columns}
    return t.mutate(**{c: mask_expr(t[c], k) for c, k in kinds.items()}) if kinds else t


#: First characters that make a spreadsheet read a text cell as a formula (OWASP, "CSV
#: injection"); a tab or carriage return is how the same payload slips past a naive check.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def formula_safe(value: object) -> object:
    """Text that a spreadsheet would read as a formula, prefixed with ``'``; anything else
    (numbers, dates, None, other text) unchanged."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def formula_safe_frame(df: pd.DataFrame) -> pd.DataFrame:
    """A copy of ``df`` whose text cells and column names are :func:`formula_safe`.

    Numeric columns stay numbers (-5.0 is an amount, not a formula); only cells holding text
    change.
    """
    out = df.copy()
    out.columns = [formula_safe(c) for c in df.columns]
    for i, dtype in enumerate(df.dtypes):
        if pd.api.types.is_string_dtype(dtype):  # object columns included
            out.isetitem(i, df.iloc[:, i].map(formula_safe))
    return out
