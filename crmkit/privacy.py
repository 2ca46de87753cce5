"""Masking personal data (客户信息的安全与保密).

Names, phones and emails are masked for the dashboard role, in exports and in reject reports:
张三丰 → 张**, 13812341234 → 138****1234, alice@example.com → a***@example.com.
The same rules exist as plain Python (for single values and messages) and as Ibis expressions
(for whole columns inside queries); tests check that both agree.

Examples
--------
>>> mask("张三丰", "name"), mask("13812341234", "phone"), mask("alice@x.com", "email")
('张**', '138****1234', 'a***@x.com')
"""

from __future__ import annotations

import ibis
import ibis.expr.types as ir

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


_MASKERS = {"name": mask_name, "phone": mask_phone, "email": mask_email}


def mask(value: str | None, kind: str | None) -> str | None:
    """Mask ``value`` as PII of ``kind`` ("name", "phone", "email"); other kinds pass through."""
    fn = _MASKERS.get(kind or "")
    return fn(value) if fn else value


def mask_expr(col: ir.StringValue, kind: str | None) -> ir.StringValue:
    """The Ibis version of :func:`mask`, for masking a whole column inside a query."""
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
