"""Needs analysis (客户需求分析, step 4): which needs, how many customers, how urgent, changing?

The texts are read by :mod:`crmkit.text` (tokens, taxonomy topics with evidence, sentiment,
clusters of unmatched texts); :func:`need_tables` turns ``feedback`` into the per-text tables
at publish time (:func:`text_tables`) and :func:`publish_tables` summarises them into small
tables the pages read: ``need_texts`` (one row per text: topics, cluster, sentiment, segment,
customer value), ``need_mentions`` (one row per text × topic with the evidence terms),
``need_clusters``, ``need_trend`` (topic share by month), ``need_trend_tests``,
``need_priority`` and ``need_actions``.

Common vs individual, priority, change, response
------------------------------------------------
- **common** (共性需求): raised by at least ``common.min_customer_share`` of the customers who
  wrote any text (in scope); otherwise **individual** (个性需求), with the reason: few customers,
  or one segment raising ``individual_segment_share`` or more of them;
- **priority** (优先级): ``w_reach·reach + w_value·value + w_neg·negative + w_recent·recency``
  (:func:`priority_formula`): reach = customers raising the need / the most any need has;
  value = their spend (RFM monetary) / the most any need's raisers have; negative = share of
  its mentions with negative sentiment; recency = share of its mentions in the last
  ``recent_days`` / the highest such share;
- **change** (需求变化): each topic's share of texts in the last ``recent_months`` months vs
  ``baseline_months`` months ending ``baseline_offset_months`` earlier (by default the same
  quarter a year before, so seasonal needs do not look like change), pooled two-proportion z-test
  (:func:`crmkit.stats.two_proportion_test`), Benjamini–Hochberg across topics; a rise or
  fall is flagged when q < ``alpha`` and the share moved by at least ``min_change``;
- **response** (需求响应): the action register ``crmkit/config/need_actions.json``; a common need
  is answered when an action for it is in progress or done.

The taxonomy and the action register are company settings: pass ``config`` (a
:class:`crmkit.config.Config`) to read the company's files instead of the packaged ones.

Examples
--------
>>> priority_formula("en").split(" (")[0]
'priority = 0.40·reach + 0.25·value + 0.20·negative + 0.15·recency'
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from datetime import date, datetime, timedelta
from typing import Any

import ibis
import ibis.expr.types as ir
import numpy as np
import pandas as pd
from ibis.backends import BaseBackend

from crmkit import classification, db, definitions, i18n, schema, stats
from crmkit import config as _config
from crmkit.text import (
    TOPIC_KINDS,
    analyse_texts,
    analyzer,
    cluster_terms,
    default_taxonomy,
    load_taxonomy,
    need_topics,
    topic_label,
)

#: What an action changes: the kinds of need topic it answers.
ACTION_KINDS = TOPIC_KINDS
ACTION_STATUSES = ("planned", "in_progress", "done", "rejected")
#: Statuses under which a need counts as answered.
ANSWERED = ("in_progress", "done")

# ---------------------------------------------------------------------------------------------
# the action register
# ---------------------------------------------------------------------------------------------


def load_actions(
    path: str | os.PathLike | None = None, *, config: _config.Config | None = None
) -> pd.DataFrame:
    """The need-response register (需求响应) as a frame, checked.

    Parameters
    ----------
    path : path-like, optional
        A register file.
    config : Config, optional
        The company's settings: their ``actions`` file. Without ``path`` or ``config``:
        :func:`crmkit.config.load` (``$CRMKIT_CONFIG``, else the neutral defaults, whose
        register is empty).

    Returns
    -------
    pandas.DataFrame
        topic, kind, status, date, owner, action_zh, action_en; one row per action.

    Raises
    ------
    FileNotFoundError
        When the file does not exist.
    crmkit.config.ConfigError
        When an action does not fit the register's schema (e.g. a kind or status not in
        :data:`ACTION_KINDS` / :data:`ACTION_STATUSES`), naming the file, key and value.

    Examples
    --------
    >>> load_actions().columns.tolist()[:3]
    ['topic', 'kind', 'status']
    """
    if path is None:
        raw = (config or _config.load()).get("actions")
    else:
        raw = _config.read_json(path, "need actions")
        _config.validate("actions", raw, path)
    rows = []
    for a in raw.get("actions", []):
        rows.append(
            {
                "topic": a["topic"],
                "kind": a["kind"],
                "status": a["status"],
                "date": pd.Timestamp(a["date"]),
                "owner": a.get("owner"),
                "action_zh": a.get("zh", ""),
                "action_en": a.get("en", ""),
            }
        )
    types = {
        "topic": "string",
        "kind": "string",
        "status": "string",
        "date": "datetime64[us]",
        "owner": "string",
        "action_zh": "string",
        "action_en": "string",
    }
    return pd.DataFrame(rows, columns=list(types)).astype(types)


# ---------------------------------------------------------------------------------------------
# feedback texts -> need tables (publish time)
# ---------------------------------------------------------------------------------------------


def need_tables(
    con: BaseBackend,
    *,
    as_of: datetime | None = None,
    taxonomy: Mapping[str, Any] | str | os.PathLike | None = None,
) -> dict[str, pd.DataFrame]:
    """``need_texts``, ``need_mentions`` and ``need_clusters`` from ``feedback`` (texts on or
    before ``as_of``), with each customer's segment (RFM class, ``potential`` without a counted
    purchase) and spend from :func:`crmkit.classification.segments` (the stored
    ``classification`` table, else classified at ``as_of``).

    ``need_texts``: feedback_id, customer_id, ts, month, source, language, order_id,
    product_id, text, topics, n_topics, need, cluster (0: matched a topic or no terms),
    sentiment, sentiment_label, segment, monetary. ``need_mentions``: one row per text × topic
    (taxonomy topics, praise included, then ``new_<cluster>`` for clustered texts): the
    text's columns plus topic and evidence.
    """
    as_of = schema.check_as_of(as_of or db.data_as_of(con))
    fb = con.table("feedback")
    fb = fb.filter(fb.text.notnull(), fb.ts <= ibis.literal(as_of, type="timestamp"))
    cols = ["feedback_id", "customer_id", "ts", "source", "language", "order_id", "product_id"]
    texts = fb.select(*cols, "text").to_pandas()
    texts = texts[texts.text.str.strip().fillna("") != ""].reset_index(drop=True)
    # no texts (a warehouse without feedback): skip loading jieba and the sentiment models
    na = analyzer(taxonomy) if len(texts) else None
    per_text, mentions = analyse_texts(texts, na)
    t = texts.merge(per_text, on="feedback_id")
    if na is not None:
        tax = na.taxonomy
    elif isinstance(taxonomy, Mapping):
        tax = taxonomy
    else:
        tax = load_taxonomy(taxonomy) if taxonomy else default_taxonomy()
    labels, clusters = cluster_terms(t.terms.where(t.n_topics == 0, ""), tax.get("clusters"))
    t["cluster"] = labels
    t = t.drop(columns="terms")
    t["month"] = t.ts.dt.to_period("M").dt.to_timestamp()
    seg = classification.segments(con, as_of=as_of).select("customer_id", "segment", "monetary")
    t = t.merge(seg.to_pandas(), on="customer_id", how="left").fillna(
        {"segment": definitions.POTENTIAL, "monetary": 0.0}
    )
    if not clusters.empty:
        counts = (
            t[t.cluster > 0]
            .groupby("cluster")
            .agg(customers=("customer_id", "nunique"))
            .reset_index()
        )
        examples = t[t.cluster > 0].groupby("cluster").text.agg(lambda s: s.mode().iloc[0])
        clusters = clusters.merge(counts, on="cluster").assign(
            topic=lambda d: "new_" + d.cluster.astype(str),
            example=lambda d: d.cluster.map(examples),
        )
    else:
        clusters = pd.DataFrame(
            columns=["cluster", "texts", "top_terms", "customers", "topic", "example"]
        )
    new = t.loc[t.cluster > 0, ["feedback_id", "cluster"]].merge(
        clusters[["cluster", "topic", "top_terms"]], on="cluster"
    )
    new = new.rename(columns={"top_terms": "evidence"}).drop(columns="cluster")
    mentions = pd.concat([mentions, new], ignore_index=True)
    keep = [c for c in t.columns if c not in ("topics", "n_topics", "need", "cluster")]
    mentions = mentions.merge(t[keep], on="feedback_id")
    mentions = mentions[[*keep, "topic", "evidence"]].drop(columns="text")
    return {"need_texts": t, "need_mentions": mentions, "need_clusters": clusters}


# ---------------------------------------------------------------------------------------------
# common vs individual, priority, change, response (over published tables: cheap)
# ---------------------------------------------------------------------------------------------


def need_summary(
    texts: ir.Table,
    mentions: ir.Table,
    *,
    as_of: datetime,
    taxonomy: Mapping[str, Any] | None = None,
    actions: pd.DataFrame | None = None,
    lang: str = "zh",
) -> pd.DataFrame:
    """One row per need topic, highest priority first.

    Columns: topic, label, kind, texts, customers, customer_share (of customers with any text),
    value (their spend), negative_share, recent_share (mentions in the last ``recent_days``),
    reach / value_score / negative / recency (the normalised factors), priority, rank,
    need_type (``common`` / ``individual``), reason (``few`` / ``one_segment`` / ``""``),
    main_segment and main_segment_share (of the topic's customers), status (best action
    status or ``none``), answered, small_sample (customers < ``stats.MIN_N``). ``attrs``
    holds the formula, the weights and the n of customers with text.
    """
    tax = taxonomy or default_taxonomy()
    topics = need_topics(tax)
    p = tax["priority"]
    weights, days = p["weights"], int(p.get("recent_days", 90))
    cut = ibis.literal(as_of - timedelta(days=days), type="timestamp")
    n_customers = int(texts.customer_id.nunique().execute() or 0)
    m = mentions.filter(mentions.topic.isin(topics))
    per = (
        m.group_by("topic")
        .aggregate(
            texts=m.feedback_id.nunique(),
            customers=m.customer_id.nunique(),
            negative=(m.sentiment_label == "negative").cast("int64").sum(),
            recent=(m.ts > cut).cast("int64").sum(),
            mentions=m.count(),
        )
        .to_pandas()
    )
    value = (
        m.select("topic", "customer_id", "monetary")
        .distinct()
        .group_by("topic")
        .aggregate(value=ibis._.monetary.sum())
        .to_pandas()
    )
    by_seg = (
        m.select("topic", "customer_id", "segment")
        .distinct()
        .group_by(["topic", "segment"])
        .aggregate(n=ibis._.count())
        .to_pandas()
    )
    df = (
        pd.DataFrame({"topic": topics})
        .merge(per, on="topic", how="left")
        .merge(value, on="topic", how="left")
    )
    df = df.fillna(
        {c: 0 for c in ("texts", "customers", "negative", "recent", "mentions", "value")}
    )
    for c in ("texts", "customers", "negative", "recent", "mentions"):
        df[c] = df[c].astype("int64")
    df["label"] = [topic_label(x, lang, tax) for x in df.topic]
    df["kind"] = [tax["topics"][x].get("kind", "none") for x in df.topic]
    df["customer_share"] = df.customers / n_customers if n_customers else np.nan
    with np.errstate(divide="ignore", invalid="ignore"):
        df["negative_share"] = np.where(df.mentions > 0, df.negative / df.mentions, np.nan)
        df["recent_share"] = np.where(df.mentions > 0, df.recent / df.mentions, np.nan)

    def norm(s: pd.Series) -> pd.Series:
        top = s.max()
        return (s / top).fillna(0.0) if top and top > 0 else s * 0.0

    df["reach"] = norm(df.customers.astype(float))
    df["value_score"] = norm(df.value.astype(float))
    df["negative"] = df.negative_share.fillna(0.0)
    df["recency"] = norm(df.recent_share.fillna(0.0))
    df["priority"] = (
        weights["reach"] * df.reach
        + weights["value"] * df.value_score
        + weights["negative"] * df.negative
        + weights["recency"] * df.recency
    ).round(4)
    common = tax["common"]
    share_min = float(common["min_customer_share"])
    seg_share = float(common.get("individual_segment_share", 0.6))
    if not by_seg.empty:
        by_seg = by_seg.sort_values(["topic", "n", "segment"], ascending=[True, False, True])
        top_seg = by_seg.groupby("topic").head(1).set_index("topic")
        df["main_segment"] = df.topic.map(top_seg.segment)
        df["main_segment_share"] = df.topic.map(top_seg.n) / df.customers.where(df.customers > 0)
    else:
        df["main_segment"] = None
        df["main_segment_share"] = np.nan
    is_common = df.customer_share.fillna(0) >= share_min
    df["need_type"] = np.where(is_common, "common", "individual")
    df["reason"] = np.where(
        is_common,
        "",
        np.where(df.main_segment_share.fillna(0) >= seg_share, "one_segment", "few"),
    )
    acts = actions if actions is not None else load_actions()
    rank = {s: i for i, s in enumerate(("none", "rejected", "planned", "in_progress", "done"))}
    best = (
        acts.assign(_r=acts.status.map(rank)).sort_values("_r").groupby("topic").status.last()
        if not acts.empty
        else pd.Series(dtype="string")
    )
    df["status"] = df.topic.map(best).astype("string").fillna("none")
    df["answered"] = df.status.isin(ANSWERED)
    df["small_sample"] = df.customers < stats.MIN_N
    df = df.sort_values(["priority", "customers", "topic"], ascending=[False, False, True])
    df["rank"] = range(1, len(df) + 1)
    df = df.drop(columns=["negative", "recent", "mentions"]).rename(
        columns={"value_score": "value_factor"}
    )
    df = df.reset_index(drop=True)
    df.attrs.update(
        formula=priority_formula(lang, tax), weights=dict(weights), n_customers=n_customers
    )
    return df


def priority_formula(lang: str = "zh", taxonomy: Mapping[str, Any] | None = None) -> str:
    """The priority formula with this taxonomy's weights, in words."""
    tax = taxonomy or default_taxonomy()
    w = tax["priority"]["weights"]
    return i18n.t(
        "nd_priority_formula",
        "zh" if lang == "zh" else "en",
        **{k: f"{float(v):.2f}" for k, v in w.items()},
        days=int(tax["priority"].get("recent_days", 90)),
    )


def needs_by_segment(
    texts: ir.Table, mentions: ir.Table, taxonomy: Mapping[str, Any] | None = None
) -> pd.DataFrame:
    """Per segment × need topic: customers raising it, customers with text in the segment,
    share, and whether it is common *within* the segment (share ≥ ``min_customer_share``)."""
    tax = taxonomy or default_taxonomy()
    base = texts.group_by("segment").aggregate(segment_customers=texts.customer_id.nunique())
    m = mentions.filter(mentions.topic.isin(need_topics(tax)))
    raised = (
        m.select("segment", "topic", "customer_id")
        .distinct()
        .group_by(["segment", "topic"])
        .aggregate(customers=ibis._.count())
    )
    df = raised.join(base, "segment").to_pandas()
    df["share"] = df.customers / df.segment_customers
    df["common"] = df.share >= float(tax["common"]["min_customer_share"])
    df["small_sample"] = df.segment_customers < stats.MIN_N
    return df.sort_values(["segment", "topic"]).reset_index(drop=True)


def _month_window(as_of: datetime, months: int, end_months_back: int = 0) -> tuple[date, date]:
    """[start, end) of ``months`` calendar months ending ``end_months_back`` months before the
    month after ``as_of`` (as_of's month counts as the last recent month)."""
    end = (pd.Timestamp(as_of).to_period("M") + 1 - end_months_back).to_timestamp()
    start = (pd.Timestamp(end).to_period("M") - months).to_timestamp()
    return start.to_pydatetime(), end.to_pydatetime()


def need_trend(texts: ir.Table, mentions: ir.Table) -> pd.DataFrame:
    """Topic share of texts by month: month, topic, texts (mentioning the topic), total (texts
    that month), share, lo, hi (Wilson), small_sample."""
    total = texts.group_by("month").aggregate(total=texts.count())
    k = mentions.group_by(["month", "topic"]).aggregate(texts=mentions.feedback_id.nunique())
    df = k.join(total, "month").to_pandas()
    df = stats.rate_columns(df, "texts", "total").rename(columns={"rate": "share"})
    return df.sort_values(["month", "topic"]).reset_index(drop=True)


def trend_tests(
    texts: ir.Table,
    mentions: ir.Table,
    *,
    as_of: datetime,
    taxonomy: Mapping[str, Any] | None = None,
) -> pd.DataFrame:
    """Did a topic's share of texts rise or fall? The last ``recent_months`` months vs
    ``baseline_months`` months ending ``baseline_offset_months`` months earlier (default: the
    same quarter a year before).

    Returns one row per need topic: topic, base_k, base_n, base_share, recent_k, recent_n,
    recent_share, diff, z, p, q (Benjamini–Hochberg over the topics), change (``rise`` /
    ``fall`` / ``stable``); ``attrs`` holds the two windows.
    """
    tax = taxonomy or default_taxonomy()
    spec = tax["trend"]
    r0, r1 = _month_window(as_of, int(spec["recent_months"]))
    offset = int(spec.get("baseline_offset_months", spec["recent_months"]))
    b0, b1 = _month_window(as_of, int(spec["baseline_months"]), offset)

    def window(lo: datetime, hi: datetime) -> tuple[int, pd.Series]:
        def inside(t: ir.Table) -> ir.Table:
            return t.filter(t.month >= lo, t.month < hi)

        n = int(inside(texts).count().execute())
        m = inside(mentions)
        k = m.group_by("topic").aggregate(k=m.feedback_id.nunique()).to_pandas()
        return n, k.set_index("topic").k

    bn, bk = window(b0, b1)
    rn, rk = window(r0, r1)
    topics = need_topics(tax)
    df = pd.DataFrame({"topic": topics})
    df["base_k"] = df.topic.map(bk).fillna(0).astype("int64")
    df["base_n"] = bn
    df["recent_k"] = df.topic.map(rk).fillna(0).astype("int64")
    df["recent_n"] = rn
    with np.errstate(divide="ignore", invalid="ignore"):
        df["base_share"] = df.base_k / bn if bn else np.nan
        df["recent_share"] = df.recent_k / rn if rn else np.nan
    diff, z, p = stats.two_proportion_test(
        df.base_k.to_numpy(), df.base_n.to_numpy(), df.recent_k.to_numpy(), df.recent_n.to_numpy()
    )
    df["diff"], df["z"], df["p"] = diff, z, p
    df["q"] = stats.benjamini_hochberg(p)
    flagged = (df.q < float(spec["alpha"])) & (df["diff"].abs() >= float(spec["min_change"]))
    df["change"] = np.where(flagged, np.where(df["diff"] > 0, "rise", "fall"), "stable")
    df.attrs.update(baseline=(b0, b1), recent=(r0, r1))
    return df.sort_values("diff", ascending=False, na_position="last").reset_index(drop=True)


def topic_share(
    texts: ir.Table, mentions: ir.Table, topic: str, start: datetime, end: datetime
) -> tuple[int, int]:
    """Texts mentioning ``topic`` and all texts with ``start <= ts < end``: ``(k, n)``."""

    def inside(t: ir.Table) -> ir.Table:
        return t.filter(t.ts >= start, t.ts < end)

    n = int(inside(texts).count().execute())
    m = inside(mentions)
    k = int(m.filter(m.topic == topic).feedback_id.nunique().execute())
    return k, n


def late_order_topics(con: BaseBackend) -> pd.DataFrame:
    """Topic share of texts tied to an order, late (delivered after the promised date) vs on
    time: late, topic, texts, total, share — the check that delivery complaints follow late
    orders."""
    o = con.table("orders")
    o = o.filter(o.delivered_at.notnull(), o.promised_date.notnull()).select(
        "order_id", late=o.delivered_at.date() > o.promised_date
    )
    t = con.table("need_texts").join(o, "order_id")
    m = con.table("need_mentions").join(o, "order_id")
    total = t.group_by("late").aggregate(total=t.count())
    k = m.group_by(["late", "topic"]).aggregate(texts=m.feedback_id.nunique())
    df = k.join(total, "late").to_pandas()
    df["share"] = df.texts / df.total
    return df.sort_values(["late", "texts"], ascending=[False, False]).reset_index(drop=True)


# ---------------------------------------------------------------------------------------------
# publish
# ---------------------------------------------------------------------------------------------


def _arrow_types() -> dict[str, list[tuple[str, Any]]]:
    import pyarrow as pa

    s, ts, f, i = pa.string(), pa.timestamp("us"), pa.float64(), pa.int64()
    text = [
        ("feedback_id", s), ("customer_id", s), ("ts", ts), ("source", s), ("language", s),
        ("order_id", s), ("product_id", s),
    ]  # fmt: skip
    scored = [("sentiment", f), ("sentiment_label", s), ("month", ts), ("segment", s),
              ("monetary", f)]  # fmt: skip
    return {
        "need_texts": [
            *text,
            ("text", s),
            ("topics", s),
            ("n_topics", i),
            ("need", pa.bool_()),
            *scored,
            ("cluster", i),
        ],  # fmt: skip
        "need_mentions": [*text, *scored, ("topic", s), ("evidence", s)],
        "need_clusters": [
            ("cluster", i),
            ("texts", i),
            ("top_terms", s),
            ("customers", i),
            ("topic", s),
            ("example", s),
        ],  # fmt: skip
    }


def _typed(name: str, df: pd.DataFrame):  # noqa: ANN202
    """``df`` as an Arrow table with the declared column types, so empty tables (a warehouse
    without feedback) and all-null columns get real types in the snapshot."""
    import pyarrow as pa

    fields = _arrow_types()[name]
    schema = pa.schema(fields)
    cols = [n for n, _ in fields]
    return pa.Table.from_pandas(df[cols], schema=schema, preserve_index=False, safe=False)


def text_tables(
    con: BaseBackend, *, as_of: datetime, config: _config.Config | None = None
) -> dict[str, Any]:
    """The publish step ``need_texts``: ``need_texts``, ``need_mentions`` and ``need_clusters``
    (:func:`need_tables`), typed for storage. Texts are tokenised, assigned and scored here,
    never when a page opens.

    Parameters
    ----------
    con : ibis backend
        The staging snapshot, with ``feedback`` (and ``classification``, else each segment is
        classified here).
    as_of : datetime
        The data clock: texts after it are left out.
    config : Config, optional
        The company's settings (their taxonomy); default the packaged ones.

    Returns
    -------
    dict
        Table name → Arrow table.

    Examples
    --------
    >>> from crmkit import db
    >>> con = db.connect(":memory:", read_only=False)
    >>> db.create_schema(con)
    >>> {k: v.num_rows for k, v in text_tables(con, as_of=datetime(2024, 6, 30)).items()}
    {'need_texts': 0, 'need_mentions': 0, 'need_clusters': 0}
    """
    taxonomy = load_taxonomy(config=config) if config is not None else None
    tables = need_tables(con, as_of=as_of, taxonomy=taxonomy)
    return {
        name: _typed(name, tables[name])
        for name in ("need_texts", "need_mentions", "need_clusters")
    }


def publish_tables(
    con: BaseBackend, *, as_of: datetime, config: _config.Config | None = None
) -> dict[str, pd.DataFrame | ir.Table]:
    """The publish step ``needs``: need priority, trend and trend tests over the stored
    ``need_texts`` / ``need_mentions`` (step ``need_texts``) and the need-response register.

    Parameters
    ----------
    con : ibis backend
        The staging snapshot.
    as_of : datetime
        The data clock.
    config : Config, optional
        The company's settings (their taxonomy and action register); default the packaged
        ones.

    Returns
    -------
    dict
        ``need_priority``, ``need_trend``, ``need_trend_tests`` (when ``need_texts`` is stored)
        and ``need_actions``, as frames.

    Examples
    --------
    >>> from crmkit import db
    >>> con = db.connect(":memory:", read_only=False)
    >>> sorted(publish_tables(con, as_of=datetime(2024, 6, 30)))
    ['need_actions']
    """
    tax = load_taxonomy(config=config) if config is not None else None
    actions = load_actions(config=config)
    out: dict[str, pd.DataFrame | ir.Table] = {}
    if "need_texts" in con.list_tables():
        texts, mentions = con.table("need_texts"), con.table("need_mentions")
        out["need_priority"] = need_summary(
            texts, mentions, as_of=as_of, taxonomy=tax, actions=actions, lang="zh"
        ).drop(columns=["label"])
        out["need_trend"] = need_trend(texts, mentions)
        out["need_trend_tests"] = trend_tests(texts, mentions, as_of=as_of, taxonomy=tax)
        for name in ("need_priority", "need_trend", "need_trend_tests"):
            df = out[name]
            df.attrs = {}  # windows and formulas are recomputed by the pages
            # all-null object columns (no feedback at all) have no type DuckDB can store
            for c in [c for c in df.columns if df[c].dtype == "object" and df[c].isna().all()]:
                df[c] = df[c].astype("string")
    out["need_actions"] = actions
    return out
