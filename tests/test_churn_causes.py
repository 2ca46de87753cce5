"""Tests for ``crmkit.churn_causes``: why customers left, adjusted for activity (hand-made
frames whose raw comparison misleads), what cannot be estimated, the region signal, and the
page's wording of the adjusted ratios."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from crmkit import churn, churn_causes, views


def _reasons_frame() -> pd.DataFrame:
    """920 labelled customers at two activity levels; every control is a function of the
    level (recency 10 vs 200 days, 4 vs 0 orders in each of the last two quarters …), every
    signal but complaints is absent, everyone lives in one province.

    ========  ==========  =====  =======  ====
    level     complaint   n      churned  odds
    ========  ==========  =====  =======  ====
    active    yes         400    100      1/3
    active    no          100     10      1/9
    inactive  yes          20     15      3
    inactive  no          400    200      1
    ========  ==========  =====  =======  ====
    """
    blocks = [(True, 1, 400, 100), (True, 0, 100, 10), (False, 1, 20, 15), (False, 0, 400, 200)]
    parts = []
    for active, complained, n, churned in blocks:
        parts.append(
            pd.DataFrame(
                {
                    **{f: [0.0] * n for f in churn.FEATURES},
                    "recency_days": 10.0 if active else 200.0,
                    "frequency": 20.0 if active else 3.0,
                    "monetary": 5000.0 if active else 600.0,
                    "tenure_days": 900.0,
                    "orders_90": 4.0 if active else 0.0,
                    "orders_prev_90": 4.0 if active else 0.0,
                    "spend_365": 4000.0 if active else 300.0,
                    "complaints_180": float(complained),
                    "nps_last": np.nan,
                    "nps_drop": np.nan,
                    "province": "浙江",
                    "churned": [1] * churned + [0] * (n - churned),
                }
            )
        )
    frame = pd.concat(parts, ignore_index=True)
    frame["customer_sk"] = np.arange(len(frame))
    return frame


def test_churn_reasons_adjusted_for_activity_turn_a_protective_look_into_a_risk():
    """_reasons_frame: raw, complainers churn less — 115 / 420 = 0.274 vs 210 / 500 = 0.42,
    relative risk 0.652 — because 400 of the 420 are active. Within each level a complaint
    triples the odds (1/3 vs 1/9, 3 vs 1): adjusted odds ratio 3. Adjusted relative risk over
    the 420 complainers: predicted churn as they are (400 × 0.25 + 20 × 0.75) / 420 = 115 / 420
    vs without the complaint (400 × 0.1 + 20 × 0.5) / 420 = 50 / 420 → 2.3. The other flags
    are never set (no variation: not estimated, with a note); the controls are all one
    variable, so only the first (recency_days) stays in the model."""
    out = churn_causes.churn_reasons(_reasons_frame()).set_index("signal")
    row = out.loc["complaints"]
    assert (row.n_with, row.churned_with, row.n_without) == (420, 115, 500)
    assert row.rate_with == pytest.approx(115 / 420) and row.rate_without == pytest.approx(0.42)
    assert row.raw_relative_risk == pytest.approx((115 / 420) / 0.42)
    assert row.share_of_churned == pytest.approx(115 / 325)
    assert row.odds_ratio == pytest.approx(3.0, rel=1e-6)
    assert row.adjusted_rr == pytest.approx(2.3, rel=1e-6)
    assert 1 < row.or_lo < 3 < row.or_hi and 1 < row.rr_lo < 2.3 < row.rr_hi
    assert row.direction == "risk" and row.q_value == row.p_value < 0.001
    assert pd.isna(row.note) and not row.small_sample and row.controls == "recency_days"
    assert out.index[0] == "complaints"
    rest = out.drop(index="complaints")
    assert (rest.note == "no_variation").all() and rest.odds_ratio.isna().all()
    assert rest.direction.isna().all() and (rest.n_with == 0).all()


def test_the_page_shows_adjusted_ratios_with_intervals_and_why_one_is_missing():
    """The 'why customers left' table: ratio × [lo, hi] to two decimals, the direction in
    words, and for a flag without an estimate the note instead."""

    rs = churn_causes.churn_reasons(_reasons_frame())
    en = views.reasons_table(rs, "en").set_index("signal")
    row = en.loc["complaints"]
    assert row.odds_ratio == f"3.00× [{rs.or_lo[0]:.2f}, {rs.or_hi[0]:.2f}]"
    assert row.adjusted_rr.startswith("2.30× [") and row.direction == "Risk factor"
    assert row.rate_with.startswith("27.4% [")
    assert en.loc["sla", "odds_ratio"] == "—"
    assert en.loc["sla", "direction"] == "Not estimated: the same for every customer"
    zh = views.reasons_table(rs, "zh").set_index("signal")
    assert zh.loc["complaints", "direction"] == "风险因素"


def test_churn_reasons_leave_out_what_cannot_be_estimated():
    """Five customers with an SLA breach, all churned: the odds ratio is infinite
    ("separation"), so the flag is left out of the model and complaints keep their odds ratio
    of 3. An all-missing control is dropped. Fewer than 100 rows: no table, and the reason."""
    frame = _reasons_frame()
    sla = frame.index[(frame.churned == 1) & (frame.complaints_180 == 0)][:5]
    frame.loc[sla, "sla_breaches_180"] = 1.0
    frame["tenure_days"] = np.nan
    out = churn_causes.churn_reasons(frame).set_index("signal")
    assert out.loc["sla", "note"] == "separation" and pd.isna(out.loc["sla", "odds_ratio"])
    assert out.loc["sla", "small_sample"]
    assert out.loc["complaints", "odds_ratio"] == pytest.approx(3.0, rel=1e-6)
    assert "tenure_days" not in out.loc["complaints", "controls"]

    small = churn_causes.churn_reasons(frame.head(99))
    assert small.empty and list(small.columns) == list(churn_causes.REASON_COLUMNS)
    assert "99 labelled customers" in small.attrs["reason"]


def test_province_silent_q_hand_worked():
    """Province A: 100 buyers of the quarter before last, 40 silent in the last one (0.4); B:
    100 and 20 (0.2); a customer without a province counts nowhere. A vs the rest: pooled 0.3,
    se = √(0.3 · 0.7 · 2 / 100) = 0.0648, z = 3.086, one-sided p = 0.00101; B: the mirror,
    p = 0.99899. BH over two: q_A = 2 × 0.00101, q_B = 0.99899."""
    a = pd.DataFrame({"province": "A", "orders_prev_90": 1.0, "orders_90": [0.0] * 40 + [2.0] * 60})
    b = pd.DataFrame({"province": "B", "orders_prev_90": 1.0, "orders_90": [0.0] * 20 + [1.0] * 80})
    c = pd.DataFrame({"province": [None], "orders_prev_90": [1.0], "orders_90": [0.0]})
    q = churn_causes.province_silent_q(pd.concat([a, b, c], ignore_index=True))
    z = 0.2 / math.sqrt(0.3 * 0.7 * 2 / 100)
    p = 0.5 * math.erfc(z / math.sqrt(2))
    assert q.iloc[0] == pytest.approx(2 * p) and q.iloc[100] == pytest.approx(1 - p)
    assert pd.isna(q.iloc[200])
