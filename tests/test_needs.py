"""crmkit.needs: priority, common vs individual, change over time, the response register; the
planted demo needs recovered; the needs page's data."""

import json
import subprocess
import sys
from datetime import date, datetime, timedelta

import ibis
import pandas as pd
import pytest

from crmkit import config, db, demo, needs, text, views

# ---------------------------------------------------------------------------------------------
# priority, common vs individual, change
# ---------------------------------------------------------------------------------------------

AS_OF = datetime(2026, 6, 30, 12, 0)


def _tables(rows):
    texts = pd.DataFrame(
        rows, columns=["feedback_id", "customer_id", "topic", "sentiment_label", "days"]
    )
    seg = {"A": ("X", 100.0), "B": ("X", 300.0), "C": ("Y", 600.0), "D": ("Y", 0.0)}
    texts["segment"] = texts.customer_id.map(lambda c: seg[c][0])
    texts["monetary"] = texts.customer_id.map(lambda c: seg[c][1])
    texts["ts"] = [AS_OF - timedelta(days=d) for d in texts.days]
    texts["month"] = texts.ts.dt.to_period("M").dt.to_timestamp()
    mentions = texts.drop(columns="days")
    return ibis.memtable(mentions.drop(columns="topic")), ibis.memtable(mentions)


@pytest.fixture
def hand_tables():
    """Four customers with text (A, B in segment X; C, D in Y; spend 100, 300, 600, 0)::

    f1 A delivery negative 10 days ago     f5 A quality  negative 300 days ago
    f2 B delivery negative 20 days ago     f6 D quality  neutral   30 days ago
    f3 C delivery positive 200 days ago    f7 A praise   positive   5 days ago
    f4 C price    negative 200 days ago
    """
    return _tables(
        [
            ("f1", "A", "delivery", "negative", 10),
            ("f2", "B", "delivery", "negative", 20),
            ("f3", "C", "delivery", "positive", 200),
            ("f4", "C", "price", "negative", 200),
            ("f5", "A", "quality", "negative", 300),
            ("f6", "D", "quality", "neutral", 30),
            ("f7", "A", "praise", "positive", 5),
        ]
    )


def test_need_priority_worked_by_hand(hand_tables):
    """Per need (praise is not one): customers, spend, negative share, share in the last 90 days

        delivery  A B C = 3   1000   2/3   2/3
        quality   A D   = 2    100   1/2   1/2
        price     C     = 1    600   1/1   0

    normalised by the largest: reach 1, 2/3, 1/3; value 1, 0.1, 0.6; recency 1, 0.75, 0.
    priority = 0.4·reach + 0.25·value + 0.2·negative + 0.15·recency:
    delivery 0.4 + 0.25 + 0.1333 + 0.15 = 0.9333; quality 0.2667 + 0.025 + 0.1 + 0.1125 =
    0.5042; price 0.1333 + 0.15 + 0.2 + 0 = 0.4833.

    With a 60 % threshold: delivery (3 of 4 customers) is common; quality (2 of 4, one in each
    segment) is individual because few raise it; price (1 of 4, all in Y) because one segment
    raises it. Delivery has an action in progress (answered); quality only a planned one.
    """
    texts, mentions = hand_tables
    tax = text.load_taxonomy()
    tax["common"]["min_customer_share"] = 0.6
    actions = pd.DataFrame(
        {
            "topic": ["delivery", "quality", "delivery"],
            "kind": ["service", "product", "service"],
            "status": ["in_progress", "planned", "rejected"],
        }
    )
    s = needs.need_summary(texts, mentions, as_of=AS_OF, taxonomy=tax, actions=actions, lang="en")
    top = s.head(3).set_index("topic")
    assert s.topic.head(3).tolist() == ["delivery", "quality", "price"]
    assert top.priority.tolist() == [0.9333, 0.5042, 0.4833]
    assert top.customers.tolist() == [3, 2, 1]
    assert top.customer_share.tolist() == [0.75, 0.5, 0.25]
    assert top.need_type.tolist() == ["common", "individual", "individual"]
    assert top.reason.tolist() == ["", "few", "one_segment"]
    assert top.status.tolist() == ["in_progress", "planned", "none"]
    assert top.answered.tolist() == [True, False, False]
    assert (s.priority.iloc[3:] == 0).all() and "praise" not in set(s.topic)
    assert s.attrs["n_customers"] == 4
    assert "0.40·reach + 0.25·value + 0.20·negative + 0.15·recency" in s.attrs["formula"]


def test_needs_by_segment(hand_tables):
    """Segment X has 2 customers with text (A, B): delivery 2/2; quality 1/2 (A).
    Segment Y has 2 (C, D): delivery 1/2, price 1/2, quality 1/2 (D)."""
    texts, mentions = hand_tables
    df = needs.needs_by_segment(texts, mentions)
    got = {(r.segment, r.topic): r.share for r in df.itertuples()}
    assert got == {
        ("X", "delivery"): 1.0,
        ("X", "quality"): 0.5,
        ("Y", "delivery"): 0.5,
        ("Y", "price"): 0.5,
        ("Y", "quality"): 0.5,
    }


def test_trend_test_worked_by_hand():
    """Baseline (Jan–Feb 2026): 10 of 100 texts ask for training; recent (Mar 2026): 25 of 100.
    Pooled 0.175, z = 0.15 / sqrt(0.175·0.825·0.02) = 2.7915, p = 0.00525 (see
    crmkit.stats); the only testable topic, so q = p: a significant rise. Other topics have no
    mentions (nothing to test) and stay stable."""
    as_of = datetime(2026, 3, 31, 23, 0)
    rows = []
    for i in range(100):
        rows.append((f"b{i}", datetime(2026, 1 + i % 2, 10), "training" if i < 10 else None))
        rows.append((f"r{i}", datetime(2026, 3, 10), "training" if i < 25 else None))
    df = pd.DataFrame(rows, columns=["feedback_id", "ts", "topic"])
    df["month"] = df.ts.dt.to_period("M").dt.to_timestamp()
    texts = ibis.memtable(df.drop(columns="topic"))
    mentions = ibis.memtable(df.dropna(subset=["topic"]))
    tax = text.load_taxonomy()
    tax["trend"].update(recent_months=1, baseline_months=2, baseline_offset_months=1)
    res = needs.trend_tests(texts, mentions, as_of=as_of, taxonomy=tax).set_index("topic")
    tr = res.loc["training"]
    assert (tr.base_k, tr.base_n, tr.recent_k, tr.recent_n) == (10, 100, 25, 100)
    assert round(tr.z, 4) == 2.7915 and round(tr.p, 5) == 0.00525 and round(tr.q, 5) == 0.00525
    assert tr.change == "rise"
    assert (res.drop(index="training").change == "stable").all()
    assert res.attrs["recent"] == (datetime(2026, 3, 1), datetime(2026, 4, 1))
    assert res.attrs["baseline"] == (datetime(2026, 1, 1), datetime(2026, 3, 1))


# ---------------------------------------------------------------------------------------------
# the response register
# ---------------------------------------------------------------------------------------------


def test_action_register_is_valid():
    acts = needs.load_actions()
    assert set(acts.kind) <= set(needs.ACTION_KINDS)
    assert set(acts.topic) <= set(text.need_topics())


# ---------------------------------------------------------------------------------------------
# the demo: planted needs recovered (20,000 customers, seed 42, as_of 2026-09-30)
# ---------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def snap(demo_published):
    con = db.connect(demo_published)
    yield con
    con.disconnect()


@pytest.fixture(scope="module")
def planted(demo_warehouse):
    con = db.connect(demo_warehouse)
    try:
        p = con.table("demo_planted").to_pandas()
    finally:
        con.disconnect()
    return {(r.signal, r.key): r.value for r in p.itertuples()}


def test_growing_need_flagged_as_significant_rise(snap, planted):
    """demo.PLANTED growing_need: training grows from ~2 % of texts in the first year to ~15 %
    in the last quarter. The trend test (last quarter vs the same quarter a year before) flags
    it as the largest significant rise; its shares in the planted windows equal demo_planted's
    realised shares (same definition: texts mentioning training / texts)."""
    topic = demo.PLANTED["growing_need"]["topic"]
    tests = snap.table("need_trend_tests").to_pandas().set_index("topic")
    assert tests.loc[topic, "change"] == "rise"
    assert tests.loc[topic, "q"] < 1e-6
    assert tests["diff"].idxmax() == topic
    texts, mentions = snap.table("need_texts"), snap.table("need_mentions")
    start, end = (
        datetime.fromisoformat(d) for d in json.loads(planted[("growing_need", "first_year")])
    )
    k, n = needs.topic_share(texts, mentions, topic, start, end)
    assert abs(k / n - float(planted[("growing_need", "realised_share_first_year")])) < 0.0005
    q0 = datetime.fromisoformat(planted[("growing_need", "last_quarter_start")])
    k, n = needs.topic_share(texts, mentions, topic, q0, datetime(2026, 10, 1))
    assert abs(k / n - float(planted[("growing_need", "realised_share_last_quarter")])) < 0.0005


def test_delivery_is_the_top_need_of_late_orders(snap):
    """demo.PLANTED delivery_delay_nps: complaints on late orders (and ~80 % of comments)
    mention delivery; on-time orders' texts rarely do."""
    df = needs.late_order_topics(snap)
    late = df[df.late].set_index("topic")
    on_time = df[~df.late].set_index("topic")
    assert late.share.idxmax() == "delivery"
    assert late.loc["delivery", "share"] > 0.9
    assert on_time.share.get("delivery", 0.0) < 0.02
    t = snap.table("need_texts")
    o = snap.table("orders")
    o = o.filter(o.delivered_at.date() > o.promised_date).select("order_id")
    complaints = t.filter(t.source == "complaint").semi_join(o, "order_id")
    n = int(complaints.count().execute())
    with_delivery = int(complaints.filter(complaints.topics.contains("delivery")).count().execute())
    assert n > 100 and with_delivery == n


def test_demo_needs_tables(snap):
    """Publish wrote every table; the packaging texts (not in the taxonomy) surface as a
    new cluster; training — the growing need — has no action yet, so it is an unanswered
    common need."""
    tables = set(snap.list_tables())
    assert {
        "need_texts", "need_mentions", "need_clusters", "need_priority", "need_trend",
        "need_trend_tests", "need_actions", "contact_status", "care_calendar",
    } <= tables  # fmt: skip
    clusters = snap.table("need_clusters").to_pandas()
    assert "包装" in clusters.top_terms.iloc[0].split("|")[:2]
    pr = snap.table("need_priority").to_pandas().set_index("topic")
    assert pr.loc["training", "need_type"] == "common" and not pr.loc["training", "answered"]
    assert pr.loc["delivery", "rank"] == 1
    cal = snap.table("care_calendar").to_pandas()
    cal["date"] = pd.to_datetime(cal.date).dt.date
    assert set(cal.event) == {"birthday", "holiday", "post_purchase"}
    assert cal.date.min() > date(2026, 9, 30) and cal.date.max() <= date(2026, 10, 30)
    assert {"国庆节问候", "重阳节问候"} == set(cal[cal.event == "holiday"].detail_zh)


def test_needs_page_data_on_demo(snap):
    """The page's numbers for a segment and an owner: masked names, overdue list most overdue
    first and only that owner's customers."""
    f = views.Filters(segment="important_value")
    full = views.needs_data(snap, f, lang="zh", role="dashboard")
    owner = full["owners"][0]
    d = views.needs_data(snap, f, lang="zh", role="dashboard", owner=owner)
    assert d["cards"]["texts"][0] == int(
        snap.table("need_texts").filter(lambda t: t.segment == "important_value").count().execute()
    )
    od = d["overdue"]
    assert len(od) > 0 and set(od.owner) == {owner}
    assert od.days_overdue.is_monotonic_decreasing
    assert od.name.str.contains(r"\*\*").all()
    assert (d["examples"].name.str.contains(r"\*\*")).all()
    assert "training" in set(d["unanswered"].topic)
    assert d["calendar"].owner.eq(owner).all()


def test_pages_do_not_tokenise(demo_published):
    """Opening the page's data never imports jieba, snownlp or scikit-learn."""
    code = (
        "import sys; from crmkit import db, views; "
        f"views.needs_data(db.connect({str(demo_published)!r})); "
        "print(sorted(m for m in ('jieba', 'snownlp', 'sklearn', 'vaderSentiment') "
        "if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_publish_without_feedback_or_interactions(tiny_snapshot):
    """The tiny snapshot has customers, products and orders only: the need steps are skipped
    with the reason and the needs page's data says so for its need sections (the needs step's
    own reason, no need_texts table, traced to the empty feedback table) instead of failing;
    the relationship step still runs and its sections are there. Nobody was ever contacted, so
    every customer is overdue unless created within their cadence."""
    con = db.connect(tiny_snapshot)
    try:
        steps = con.table("publish_steps").to_pandas().set_index("step")
        assert tuple(steps.loc["need_texts", ["status", "reason"]]) == (
            "skipped",
            "empty_table:feedback",
        )
        assert steps.loc["relationship", "status"] == "ok"
        assert "need_texts" not in con.list_tables()
        d = views.needs_data(con, lang="en", role="dashboard")
        assert d["unavailable"]["needs"] == {
            "need_texts": "empty_table:feedback",
            "needs": "empty_table:feedback",
        }
        # nor were any contacts: the contact sections say so rather than list all 5 overdue
        assert d["unavailable"]["contacts"] == {"interactions": "empty_table:interactions"}
        assert "priority" not in d and "overdue" not in d and "calendar" in d
        status = con.table("contact_status").to_pandas()
        assert status.last_contact.isna().all() and status.overdue.all()
    finally:
        con.disconnect()


def test_actions_and_taxonomy_from_a_company_config(tmp_path, hand_tables):
    """A settings directory with its own register (delivery done, nothing else) and a taxonomy
    whose common threshold is 60 %: publish_tables reads both — delivery (3 of 4 customers) is
    the only common need and it is answered."""
    (tmp_path / "need_actions.json").write_text(
        json.dumps(
            {"actions": [{"topic": "delivery", "kind": "service", "status": "done",
                          "date": "2026-05-01", "zh": "换快递", "en": "New courier"}]}
        ),
        encoding="utf-8",
    )  # fmt: skip
    tax = json.loads(text.TAXONOMY_PATH.read_text(encoding="utf-8"))
    tax["common"]["min_customer_share"] = 0.6
    (tmp_path / "need_taxonomy.json").write_text(json.dumps(tax), encoding="utf-8")
    cfg = config.load(tmp_path)
    assert needs.load_actions(config=cfg).status.tolist() == ["done"]
    texts, mentions = hand_tables
    con = db.connect(":memory:", read_only=False)
    con.create_table("need_texts", texts.to_pyarrow())
    con.create_table("need_mentions", mentions.to_pyarrow())
    out = needs.publish_tables(con, as_of=AS_OF, config=cfg)
    pr = out["need_priority"].set_index("topic")
    assert pr.index[pr.need_type == "common"].tolist() == ["delivery"]
    assert pr.loc["delivery", "answered"] and pr.loc["delivery", "status"] == "done"
    assert out["need_actions"].action_en.tolist() == ["New courier"]
