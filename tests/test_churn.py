"""Tests for ``crmkit.churn``: the supervised model on the warehouse (no leakage, labels,
from_warehouse, backtest) and the warning list against the demo's planted truth. The model
object itself (and the IBM Telco check) is tested in test_churn_model.py, CLV in test_clv.py,
win-back in test_winback.py.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from crmkit import churn, churn_causes, db, definitions, demo, stats

FIXTURES = Path(__file__).parent / "fixtures"
CDNOW_END = datetime(1997, 9, 30)


# ---------------------------------------------------------------------------------------------
# supervised model: metrics, no leakage, labels, the publish step's training rows
# ---------------------------------------------------------------------------------------------


def test_classification_metrics_hand_worked():
    """10 customers, churners at positions 1, 2, 5 of the risk ranking (risk 0.9 … 0.0).
    Top 20 % = 2 customers, both churned: precision 1, base rate 0.3, lift 1 / 0.3.
    AUC: of 3 × 7 = 21 churner/stayer pairs, the churner at position 5 is outranked by
    stayers 3 and 4 → 19 / 21. Brier: churners (1 − p)² = 0.01 + 0.04 + 0.25 = 0.30,
    stayers p² = 0.49 + 0.36 + 0.16 + 0.09 + 0.04 + 0.01 + 0 = 1.15; (0.30 + 1.15) / 10 =
    0.145."""
    y = np.array([1, 1, 0, 0, 1, 0, 0, 0, 0, 0])
    p = np.linspace(0.9, 0.0, 10)
    m = churn.classification_metrics(y, p, top_k=0.2)
    assert m["precision_at_k"] == 1.0
    assert m["base_rate"] == pytest.approx(0.3)
    assert m["lift_at_k"] == pytest.approx(1 / 0.3)
    assert m["auc"] == pytest.approx(19 / 21)
    assert m["brier"] == pytest.approx(0.145)
    assert m["lift"].churned.sum() == 3 and m["lift"].capture.iloc[-1] == 1.0
    assert m["calibration"].n.sum() == 10
    with pytest.raises(ValueError, match="top_k"):
        churn.classification_metrics(y, p, top_k=0)


@pytest.fixture(scope="module")
def small_demo(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("churn_small") / "warehouse.duckdb"
    con = db.connect(path, read_only=False)
    demo.generate(con, 1_500, seed=7, as_of=date(2026, 9, 30), progress=False)
    con.disconnect()
    return path


CUTOFF = datetime(2026, 3, 31, 23, 59, 59)


def _features(path: Path) -> pd.DataFrame:
    con = db.connect(path)
    try:
        df = churn.churn_features(con, CUTOFF).to_pandas()
    finally:
        con.disconnect()
    return df.sort_values("customer_sk").reset_index(drop=True)


def test_no_leakage_changing_data_after_the_cutoff_changes_no_feature(small_demo, tmp_path):
    """Copy the warehouse, rewrite everything after the cut-off (orders deleted or re-priced,
    deliveries and ticket answers that came after it delayed further, tickets opened after it
    left unanswered, feedback scores flipped, contacts deleted, new complaints), and
    the features at the cut-off are identical; changing one order before it does change
    them (so the comparison can fail)."""
    before = _features(small_demo)
    assert len(before) > 500
    copy = tmp_path / "changed.duckdb"
    copy.write_bytes(small_demo.read_bytes())
    con = db.connect(copy, read_only=False)
    raw = con.con
    c = CUTOFF.isoformat(sep=" ")
    raw.execute(f"DELETE FROM orders WHERE order_ts > '{c}' AND hash(order_id) % 2 = 0")
    raw.execute(
        f"UPDATE orders SET amount = amount * 10, status = 'returned' WHERE order_ts > '{c}'"
    )
    raw.execute(
        "UPDATE orders SET delivered_at = delivered_at + INTERVAL 30 DAY "
        f"WHERE delivered_at > '{c}'"
    )
    raw.execute(
        "UPDATE tickets SET first_response_at = first_response_at + INTERVAL 5 HOUR "
        f"WHERE first_response_at > '{c}'"
    )
    raw.execute(f"UPDATE feedback SET nps = 10 - nps, source = 'complaint' WHERE ts > '{c}'")
    raw.execute(f"DELETE FROM interactions WHERE ts > '{c}'")
    raw.execute(f"UPDATE tickets SET first_response_at = NULL WHERE opened_at > '{c}'")
    con.disconnect()
    after = _features(copy)
    pd.testing.assert_frame_equal(before, after)

    con = db.connect(copy, read_only=False)
    con.con.execute(
        f"UPDATE orders SET amount = amount + 1 WHERE order_id = (SELECT max(order_id) FROM "
        f"orders WHERE order_ts <= '{c}' AND status = 'completed')"
    )
    con.disconnect()
    assert not _features(copy).monetary.equals(before.monetary)


def test_labels_follow_the_definition(small_demo):
    """churned = 1 exactly when the customer has no counted order in (cut-off, +horizon]."""
    con = db.connect(small_demo)
    f = churn.labelled_frame(con, CUTOFF, 90, active_days=365)
    o = con.table("orders").to_pandas()
    con.disconnect()
    o = o[~o.status.isin(definitions.excluded_statuses())]
    o = o[(o.order_ts > CUTOFF) & (o.order_ts <= CUTOFF + timedelta(days=90))]
    bought = set(o.customer_sk)
    expected = [0 if sk in bought else 1 for sk in f.customer_sk]
    assert f.churned.tolist() == expected
    assert (f.recency_days <= 365).all()


@pytest.mark.slow
def test_from_warehouse_fits_on_the_publish_steps_rows(small_demo):
    """from_warehouse(con, 2026-09-30 23:59:59, horizon_days=90) trains on the cut-offs 270,
    180 and 90 days before: 2026-01-03, 04-03 and 07-02 at 23:59:59. Its X_ and y_ are
    exactly the labelled_frame rows at those cut-offs, in that order (1,500 customers: fewer
    than MAX_TRAIN_ROWS, so no sample), with FEATURES as the columns; labelled frames handed
    in are reused as they are. The backtest fits the same way at its test cut-off (as_of − 90
    = 07-02), so it trains on 2025-10-05, 2026-01-03 and 04-03. With every cut-off before the
    first order there is nothing to train on."""
    as_of = datetime(2026, 9, 30, 23, 59, 59)
    cuts = [datetime(2026, 1, 3, 23, 59, 59), datetime(2026, 4, 3, 23, 59, 59)]
    cuts.append(datetime(2026, 7, 2, 23, 59, 59))
    con = db.connect(small_demo)
    try:
        cm = churn.from_warehouse(con, as_of, horizon_days=90)
        frames = [churn.labelled_frame(con, c, 90, active_days=365) for c in cuts]
        given = {cuts[0]: frames[0].head(50), cuts[1]: frames[1], cuts[2]: frames[2]}
        reused = churn.from_warehouse(con, as_of, horizon_days=90, frames=given)
        bt = churn.backtest(con, as_of=as_of, horizon_days=90)
        first = con.table("orders").order_ts.min().execute().to_pydatetime()
        with pytest.raises(stats.NotEnoughData, match="training_cutoffs"):
            churn.from_warehouse(con, first + timedelta(days=10), horizon_days=30)
    finally:
        con.disconnect()
    expected = pd.concat(frames, ignore_index=True)
    assert cm.train_cutoffs == cuts and (cm.horizon_days, cm.active_days) == (90, 365)
    assert cm.feature_names_in_ == churn.FEATURES
    pd.testing.assert_frame_equal(cm.X_, expected[list(churn.FEATURES)])
    pd.testing.assert_series_equal(cm.y_, expected.churned)
    assert cm.training_frame_.customer_id.tolist() == expected.customer_id.tolist()
    assert cm.reference == churn.reference_values(expected)
    assert len(reused.X_) == 50 + len(frames[1]) + len(frames[2])
    np.testing.assert_array_equal(cm.predict_proba(expected), cm.predict_proba(cm.X_))
    # the backtest is the same model fitted at its test cut-off (07-02), tested on that frame
    assert bt.test_cutoff == cuts[2] and bt.train_cutoffs[1:] == cuts[:2]
    assert bt.train_cutoffs[0] == datetime(2025, 10, 5, 23, 59, 59)
    assert bt.metrics["n"] == len(frames[2])
    assert bt.metrics["base_rate"] == pytest.approx(frames[2].churned.mean())


# ---------------------------------------------------------------------------------------------
# the published tables on the demo: backtest and the warning list vs the planted truth
# ---------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def published(demo_published, demo_warehouse):
    con = db.connect(demo_published)
    wh = db.connect(demo_warehouse)
    planted = wh.table("demo_planted_customers").to_pandas()
    wh.disconnect()
    tables = {
        n: con.table(n).to_pandas()
        for n in (
            "churn_backtest",
            "churn_scores",
            "churn_warning_list",
            "model_params",
            "clv",
            "churn_reasons",
        )
    }
    customers = con.table("customers").select("customer_id", "province").to_pandas()
    con.disconnect()
    return tables, planted, customers


def test_demo_backtest_is_good_but_not_too_good(published):
    tables, _, _ = published
    bt = tables["churn_backtest"].iloc[0]
    print(f"demo backtest AUC {bt.auc:.3f}, lift@10% {bt.lift_at_k:.2f}, horizon {bt.horizon_days}")
    assert 0.75 <= bt.auc <= 0.97
    assert bt.lift_at_k > 2
    assert bt.test_cutoff + timedelta(days=int(bt.horizon_days)) <= datetime(2026, 10, 1)
    assert "no counted order in the next" in bt.definition


def test_demo_model_params_state_the_priors(published):
    tables, _, _ = published
    mp = tables["model_params"]
    assert set(mp.parameter) == {"r", "alpha", "a", "b", "p", "q", "v"}
    assert (mp.prior == "HalfFlat").all() and (mp.method == "map").all()
    clv = tables["clv"]
    assert clv.p_alive.between(0, 1).all() and (clv.clv >= 0).all()


def test_quiet_high_value_customers_rank_at_the_top_with_the_recency_reason(published):
    """Planted: 400 top-decile customers silent for 200–229 days. All are scored (active in
    the last 365 days); ≥ 80 % rank in the top 10 % by expected loss, and every one of them
    on the list is silent for 200+ days and carries the recency reason first ("no purchase
    for N days, k× usual gap")."""
    tables, planted, _ = published
    scores, wl = tables["churn_scores"], tables["churn_warning_list"]
    quiet = set(planted[planted.signal == "quiet_high_value"].customer_id)
    assert len(quiet) == 400
    ranked = scores[scores.customer_id.isin(quiet)]
    assert len(ranked) == len(quiet)
    assert (ranked["rank"] <= 0.1 * len(scores)).mean() >= 0.8
    listed = wl[wl.customer_id.isin(quiet)]
    assert listed.reasons.str.split(",").str[0].eq("recency").mean() >= 0.95
    assert (listed.recency_days >= 200).all()
    assert listed.reasons_en.str.contains(r"no purchase for \d{3} days, [\d.]+× usual gap").all()
    assert listed.reasons_zh.str.contains("天未购买").all()


def test_churn_region_ranks_high_with_the_region_reason(published):
    """Planted: 辽宁 customers stop buying at a rising rate. 辽宁 holds ~7 % of scored
    customers but at least twice that share of the top 500; most planted churn_region
    customers at the top of the list carry the region reason."""
    tables, planted, customers = published
    wl = tables["churn_warning_list"]
    wl = wl.drop(columns="province").merge(customers, on="customer_id")
    pop = (tables["churn_scores"].province == "辽宁").mean()
    top = wl.nsmallest(500, "rank")
    assert (top.province == "辽宁").mean() >= 2 * pop
    region = set(planted[planted.signal == "churn_region"].customer_id)
    top_region = wl[wl.customer_id.isin(region) & (wl["rank"] <= 2000)]
    assert len(top_region) >= 50
    assert top_region.reasons.str.contains("region").mean() >= 0.8
    assert top_region.reasons_en.str.contains("region 辽宁").mean() >= 0.8
    assert top_region.reasons_zh.str.contains("所在地区辽宁").mean() >= 0.8


def test_warning_list_has_owner_action_and_exports_per_owner(published):
    tables, _, _ = published
    wl = tables["churn_warning_list"]
    assert wl["rank"].is_monotonic_increasing
    assert wl.expected_loss.is_monotonic_decreasing
    assert wl.owner_team.notna().all() and wl.owner.notna().all()
    assert set(wl.action) <= {*churn.ACTIONS.values(), "regular_care"}
    assert wl.action_zh.notna().all() and wl.action_en.notna().all()
    owner = wl.owner.iloc[0]
    mine = churn.owner_list(wl, owner)
    assert len(mine) and (mine.owner == owner).all()


def test_churn_reasons_on_the_demo(published, demo_warehouse):
    """On the demo (20,000 customers, seed 42; test cut-off 2026-06-09) late deliveries,
    returns, complaints and SLA breaches look protective raw (relative risk 0.49, 0.51, 0.55,
    0.76: active customers have more of them and churn less). Adjusted for activity none is
    protective any more (odds ratios 1.03, 1.13, 0.99, 1.21, every interval across 1). The
    region flag is exactly the planted 辽宁 (its silent share 29 % vs ~22 % elsewhere, the only
    province significantly above the rest) and a clear risk: adjusted odds ratio ≈ 3.6,
    adjusted relative risk ≈ 1.65, both intervals well above 1."""
    tables, _, _ = published
    reasons = tables["churn_reasons"].set_index("signal")
    assert set(reasons.index) == set(churn_causes.CHURN_SIGNALS)
    assert reasons.rate_with.between(0, 1).all()
    for code in ("late_delivery", "returns", "complaints", "sla"):
        row = reasons.loc[code]
        assert row.raw_relative_risk < 0.8, code
        assert row.direction != "protective" and row.or_hi > 1 and row.rr_hi > 1, code
        assert row.odds_ratio > 0.9, code
    region = reasons.loc["region"]
    assert region.direction == "risk" and region.q_value < 1e-6
    assert region.or_lo > 2 and region.rr_lo > 1.3
    assert reasons.index[0] == "region"  # the strongest adjusted risk
    assert reasons.note.isna().all() and (reasons.controls.str.count(",") == 10).all()

    bt = tables["churn_backtest"].iloc[0]
    wh = db.connect(demo_warehouse)
    try:
        frame = churn.labelled_frame(
            wh, bt.test_cutoff.to_pydatetime(), int(bt.horizon_days), active_days=365
        )
    finally:
        wh.disconnect()
    flagged = frame[churn_causes.reason_flags(frame).region]
    assert set(flagged.province) == {"辽宁"} and len(flagged) == region.n_with


def test_churn_page_data_on_the_demo(demo_published):
    """The page's numbers: cards with definitions, the risk list masked for the dashboard
    role and filtered by owner and province, win-back by reason with Wilson intervals."""
    from crmkit import views

    con = db.connect(demo_published)
    try:
        d = views.churn_data(con, views.Filters(), lang="en", role="dashboard")
        owner = d["risk"].owner.iloc[0]
        mine = views.churn_data(con, views.Filters(), lang="zh", role="dashboard", owner=owner)
    finally:
        con.disconnect()
    clear = db.connect(db.analyst_path(demo_published))
    try:
        north = views.churn_data(clear, views.Filters(province="辽宁"), lang="zh", role="analyst")
    finally:
        clear.disconnect()
    assert set(d["cards"]) == {"buyer_churn_91d", "customer_churn", "at_risk",
                               "revenue_at_risk", "clv_mean", "winback_rate"}  # fmt: skip
    rate = d["churn_rate"]
    assert rate.key == "buyer_churn_91d"
    assert d["cards"]["buyer_churn_91d"][0] == rate.value and rate.n > 1000
    assert str(rate.numerator) in d["cards"]["buyer_churn_91d"][2].replace(",", "")
    assert d["cards"]["customer_churn"][0] == d["customer_churn"].value
    assert d["risk"].name.str.contains(r"\*").all()
    assert (mine["risk"].owner == owner).all() and len(mine["risk"]) < len(d["risk"])
    assert (north["risk"].province == "辽宁").all()
    assert not north["risk"].name.str.contains(r"\*").any()
    assert len(d["trend"]) == 8 and d["lift"].decile.tolist() == list(range(1, 11))
    wb = d["winback_reason"]
    assert (wb.lo <= wb.winback_rate).all() and (wb.winback_rate <= wb.hi).all()


def test_churn_charts_draw_the_given_frames():
    """Each chart draws exactly the frame it is given (no data access)."""
    from crmkit import charts

    cohorts = pd.DataFrame(
        {"cohort": pd.to_datetime(["2026-01-01"] * 2 + ["2026-02-01"]), "month": [0, 1, 0],
         "retention": [1.0, 0.4, 1.0], "cohort_size": [10, 10, 5]}
    )  # fmt: skip
    fig = charts.plot_cohort_retention(cohorts, "en")
    assert [list(r) for r in fig.data[0].z] == [[1.0, 0.4], [1.0, None]]
    assert fig.data[0].y == ("2026-01 (n=10)", "2026-02 (n=5)")
    palive = pd.DataFrame({"tier_label": ["Gold", "Gold"], "bin": [0, 19], "customers": [3, 7]})
    assert charts.plot_palive(palive, "en").data[0].x == (0.025, 0.975)
    risk = pd.DataFrame(
        {"customer_id": ["C1", "C2"], "expected_loss": [9.0, 5.0], "risk": [0.9, 0.5],
         "reasons_text": ["a", "b"]}
    )  # fmt: skip
    fig = charts.plot_risk_list(risk, "zh")
    assert fig.data[0].y == ("C2", "C1") and fig.data[0].x == (5.0, 9.0)
    lift = pd.DataFrame({"decile": [1, 2], "lift": [1.8, 0.2], "capture": [0.9, 1.0]})
    fig = charts.plot_lift(lift, "en")
    assert fig.data[0].y == (1.8, 0.2) and fig.data[1].yaxis == "y2"
    assert fig.layout.yaxis2.title.text == "Cumulative share of churners"


def test_model_fits_when_whole_features_are_missing():
    """A warehouse of customers and orders only has no NPS, tickets or regions: those features
    are entirely missing. scikit-learn's binning fails on such a column ("window shape cannot
    be larger than input array shape"); the model holds them constant instead, and its
    predictions do not depend on what they later hold."""
    rng = np.random.default_rng(0)
    n = 400
    frame = pd.DataFrame({f: rng.random(n) for f in churn.FEATURES})
    empty = ["nps_last", "nps_prev", "nps_drop", "region_silent_share", "region_silent_rise"]
    frame[empty] = np.nan
    frame["churned"] = (frame.recency_days > 0.5).astype(int)
    model = churn.ChurnModel(features=churn.FEATURES).fit(frame, frame.churned)
    assert model.empty_features_ == tuple(empty)
    p = model.predict_proba(frame)
    assert p[frame.recency_days > 0.5].mean() > 0.9 > 0.1 > p[frame.recency_days <= 0.5].mean()
    filled = frame.assign(**{f: 7.0 for f in empty})
    np.testing.assert_array_equal(model.predict_proba(filled), p)


def test_warning_list_needs_the_warehouse_model():
    """A model fitted with fit(X, y) knows neither the population (active_days) nor the typical
    values the reason codes compare with: refused before any query."""
    with pytest.raises(ValueError, match="needs a model from crmkit.churn.from_warehouse"):
        churn.warning_list(None, churn.ChurnModel(), as_of=datetime(2026, 9, 30))


def test_backtest_never_trains_on_a_cutoff_before_the_first_order():
    """Horizon 90 days, data to 2024-12-31: test cut-off 2024-10-02, training cut-offs
    2024-01-06, 2024-04-05 and 2024-07-04. With the first order on 2024-05-01 the first two
    had no buyer at all: only 2024-07-04 is kept; with none left the caller has nothing to
    train on."""
    end = datetime(2024, 12, 31)
    full = churn.backtest_cutoffs(end, 90)
    assert [f"{c:%Y-%m-%d}" for c in full["train"]] == ["2024-01-06", "2024-04-05", "2024-07-04"]
    short = churn.backtest_cutoffs(end, 90, first_order=datetime(2024, 5, 1))
    assert short["train"] == [datetime(2024, 7, 4)] and short["test"] == full["test"]
    assert churn.backtest_cutoffs(end, 90, first_order=datetime(2024, 9, 1))["train"] == []
