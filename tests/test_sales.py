"""crmkit.sales: the pipeline, stage funnel, win rates and cycle times on a hand-worked fixture.

Opportunities (the clock: 2024-09-30 12:00)
-------------------------------------------
OP1 A won (opened 2024-03-01, closed 2024-05-01, source event), OP2 B lost (opened 2024-04-10,
closed 2024-06-01, event), OP3 F lost (opened 2024-02-01, closed 2024-04-20, web), OP4 D
proposal (opened 2024-03-15, stage changed 2024-05-01, ¥1,000), OP5 H lead (opened 2024-05-20,
¥500), OP6 A won (opened 2024-06-01, closed 2024-08-01), OP7 C lost (opened 2023-12-01, closed
2024-03-01). Every owner is 王; amounts are ¥100 unless given.
"""

from __future__ import annotations

from datetime import datetime

import pandas as pd
import pytest

from crmkit import db, sales, stats

Q2 = "2024-Q2"
AS_OF = datetime(2024, 9, 30, 12)


def _insert(con, table: str, rows: list[dict]) -> None:
    con.con.register("_rows", pd.DataFrame(rows))
    con.con.execute(f"INSERT INTO {table} BY NAME SELECT * FROM _rows")
    con.con.unregister("_rows")


def _opp(oid, cust, stage, opened, changed=None, closed=None, source="event", amount=100):  # noqa: ANN001, ANN202
    return {
        "opportunity_id": oid,
        "customer_id": cust,
        "customer_sk": ord(cust),
        "stage": stage,
        "amount": amount,
        "source": source,
        "owner": "王",
        "opened_at": pd.Timestamp(opened),
        "stage_changed_at": pd.Timestamp(changed or closed or opened),
        "closed_at": pd.Timestamp(closed) if closed else pd.NaT,
    }


@pytest.fixture(scope="module")
def con():
    c = db.connect(":memory:", read_only=False)
    db.create_schema(c)
    _insert(
        c,
        "customers",
        [
            {
                "customer_id": k,
                "customer_sk": ord(k),
                "name": f"客户{k}",
                "created_at": pd.Timestamp("2021-01-01"),
            }
            for k in "ABCDFH"
        ],
    )
    _insert(
        c,
        "opportunities",
        [
            _opp("OP1", "A", "won", "2024-03-01", closed="2024-05-01"),
            _opp("OP2", "B", "lost", "2024-04-10", closed="2024-06-01"),
            _opp("OP3", "F", "lost", "2024-02-01", closed="2024-04-20", source="web"),
            _opp("OP4", "D", "proposal", "2024-03-15", changed="2024-05-01", amount=1000),
            _opp("OP5", "H", "lead", "2024-05-20", amount=500),
            _opp("OP6", "A", "won", "2024-06-01", closed="2024-08-01"),
            _opp("OP7", "C", "lost", "2023-12-01", closed="2024-03-01"),
        ],
    )
    yield c
    c.disconnect()


def test_pipeline_by_stage(con):
    """Open at 2024-09-30 12:00: OP4 proposal ¥1,000 (in stage since 05-01: 152.5 days), OP5
    lead ¥500 (since 05-20: 133.5 days). Expected value = amount × stated probability."""
    p = sales.pipeline(con, as_of=AS_OF).set_index("stage")
    probs = sales.stage_probability()
    assert p.loc["proposal", "opportunities"] == 1 and p.loc["qualified", "opportunities"] == 0
    assert p.loc["proposal", "expected_value"] == pytest.approx(1000 * probs["proposal"])
    assert p.loc["lead", "expected_value"] == pytest.approx(500 * probs["lead"])
    assert p.loc["proposal", "median_days"] == pytest.approx(152.5)
    assert p.loc["lead", "median_days"] == pytest.approx(133.5)


def test_stage_funnel_inferred_from_current_stage(con):
    """Opened in 2024-Q2: OP2 lost, OP5 lead, OP6 won → reached lead 3 (lost count as leads),
    qualified 1, proposal 1, negotiation 1 → lead→qualified 1/3, then 1/1."""
    f = sales.stage_funnel(con, Q2)
    assert f.reached.tolist() == [3, 1, 1, 1]
    assert f.conversion_rate.tolist() == pytest.approx([1 / 3, 1, 1, 1])
    assert f.conversion_small_sample.all()


def test_win_rates_by_source_and_owner(con):
    w = sales.win_rates(con, Q2, "source").set_index("source")
    assert (w.loc["event", "won"], w.loc["event", "closed"]) == (1, 2)
    assert w.loc["web", "rate"] == 0.0 and w.loc["web", "hi"] == pytest.approx(
        stats.wilson(0, 1)[2]
    )
    assert sales.win_rates(con, Q2, "owner").closed.tolist() == [3]
    with pytest.raises(ValueError, match="expected 'owner' or 'source'"):
        sales.win_rates(con, Q2, "team")


def test_cycle_times(con):
    """Closed in 2024-Q2: OP1 won after 61 days; OP2 lost after 52, OP3 after 79 → 65.5."""
    c = sales.cycle_times(con, Q2).set_index("stage")
    assert c.loc["won", "median_days"] == pytest.approx(61)
    assert c.loc["lost", "mean_days"] == pytest.approx(65.5)


def test_customer_scope_restricts_the_opportunities(con):
    """Customers A and D only: the open pipeline is OP4 (D, proposal); closed in 2024-Q2 is OP1
    (A, won, event) alone → event 1 of 1."""
    scope = con.table("customers").filter(lambda c: c.customer_id.isin(["A", "D"]))
    p = sales.pipeline(con, as_of=AS_OF, customers=scope).set_index("stage")
    assert p.opportunities.to_dict() == {"lead": 0, "qualified": 0, "proposal": 1, "negotiation": 0}
    w = sales.win_rates(con, Q2, "source", customers=scope)
    assert w[["source", "won", "closed"]].values.tolist() == [["event", 1, 1]]


def test_stage_probability_names_missing_stages():
    with pytest.raises(ValueError, match=r"lacks \['negotiation'\]"):
        sales.stage_probability(
            {"pipeline": {"stage_probability": {"lead": 0.1, "qualified": 0.2, "proposal": 0.4}}}
        )
