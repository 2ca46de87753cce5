"""Tests for ``crmkit.winback``: win-back rates, the reason that preceded each lapse, and the
published attempts on the demo."""

from __future__ import annotations

from datetime import datetime

import ibis
import pandas as pd
import pytest

from crmkit import db, winback

CONTACT = datetime(2026, 6, 1, 12, 0)


def test_winback_rates_hand_worked():
    """Reason 'sla': 3 attempts, 1 returned with ¥100 → rate 1/3; 'none': 1 attempt, none back."""
    att = pd.DataFrame(
        {
            "reason": ["sla", "sla", "sla", "none"],
            "returned": [1, 0, 0, 0],
            "revenue_recovered": [100.0, 0.0, 0.0, 0.0],
        }
    )
    out = winback.winback(att, "reason").set_index("reason")
    assert out.loc["sla", ["attempts", "returned", "revenue_recovered"]].tolist() == [3, 1, 100.0]
    assert out.loc["sla", "winback_rate"] == pytest.approx(1 / 3)
    assert out.loc["none", "winback_rate"] == 0 and bool(out.loc["none", "small_sample"])
    with pytest.raises(ValueError, match="unknown column"):
        winback.winback(att, "segment")


@pytest.fixture
def lapse_con():
    """Seven customers contacted on 2026-06-01, each with one thing in the year before:

    1. a ticket answered after 5 h (SLA 2 h)   → ``sla``
    2. a complaint                              → ``complaints``
    3. an NPS answer of 3                       → ``low_nps``
    4. a returned order at full price           → ``returns``
    5. a completed order bought at a discount   → ``price``
    6. a completed order at full price          → ``none``
    7. a returned order 17 months before        → ``none`` (outside the 365 days)
    """
    con = ibis.duckdb.connect()
    con.create_table(
        "orders",
        pd.DataFrame(
            {
                "customer_sk": [4, 5, 6, 7],
                "order_ts": [datetime(2026, 1, 10), datetime(2026, 1, 5), datetime(2026, 2, 1),
                             datetime(2025, 1, 1)],
                "status": ["returned", "completed", "completed", "returned"],
                "discount": [0.0, 10.0, 0.0, 0.0],
            }
        ),
    )  # fmt: skip
    con.create_table(
        "feedback",
        pd.DataFrame(
            {
                "customer_sk": [2, 3],
                "ts": [datetime(2026, 2, 1), datetime(2026, 3, 1)],
                "source": ["complaint", "survey"],
                "nps": [None, 3],
            }
        ),
    )
    con.create_table(
        "tickets",
        pd.DataFrame(
            {
                "ticket_id": ["T1"],
                "customer_id": ["C1"],
                "customer_sk": [1],
                "opened_at": [datetime(2026, 3, 2, 10, 0)],
                "first_response_at": [datetime(2026, 3, 2, 15, 0)],
                "resolved_at": [datetime(2026, 3, 3, 9, 0)],
            }
        ),
    )
    yield con
    con.disconnect()


def test_lapse_reasons_hand_worked(lapse_con):
    att = pd.DataFrame({"customer_sk": list(range(1, 8)), "ts": [CONTACT] * 7})
    got = winback.lapse_reasons(lapse_con, att, as_of=datetime(2026, 9, 30))
    assert got == ["sla", "complaints", "low_nps", "returns", "price", "none", "none"]


def test_lapse_reasons_without_optional_tables_or_columns():
    """Orders only, no discount column: only ``returns`` can be found."""
    con = ibis.duckdb.connect()
    con.create_table(
        "orders",
        pd.DataFrame(
            {
                "customer_sk": [1, 2],
                "order_ts": [datetime(2026, 1, 10), datetime(2026, 1, 5)],
                "status": ["returned", "completed"],
            }
        ),
    )
    att = pd.DataFrame({"customer_sk": [1, 2], "ts": [CONTACT] * 2})
    assert winback.lapse_reasons(con, att, as_of=datetime(2026, 9, 30)) == ["returns", "none"]


def test_winback_attempts_on_the_demo(demo_published):
    con = db.connect(demo_published)
    try:
        att = con.table("winback_attempts").to_pandas()
        steps = con.table("publish_steps").to_pandas().set_index("step")
    finally:
        con.disconnect()
    assert steps.loc["winback", "status"] == "ok"
    assert len(att) > 100
    assert att.returned.isin([0, 1]).all() and (att.revenue_recovered >= 0).all()
    assert set(att.reason) <= {*winback.LAPSE_REASONS, "none"}
    # every reason the rule can give is given somewhere on the demo, price included
    assert set(winback.LAPSE_REASONS) <= set(att.reason)
    assert (att.days_lapsed >= 1).all()
