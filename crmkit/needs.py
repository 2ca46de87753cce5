"""Needs analysis (客户需求分析, step 4) and relationship cultivation (客户关系培养, step 3).

Needs from text
---------------
Feedback, complaints, suggestions and questionnaire answers (``feedback.text``, Chinese and
English) are normalised (NFKC: full-width letters and punctuation become half-width; lower
case), cut to ``max_chars``, tokenised with ``jieba`` (its own dictionary plus the domain terms
in ``crmkit/config/need_userdict.txt`` and every taxonomy keyword; English runs come out as
words) and matched against the **taxonomy** in ``crmkit/config/need_taxonomy.json``: a Chinese
keyword matches when it occurs inside a token (教程 inside 视频教程), an English keyword when it
equals a token or, for phrases, a run of tokens. Every matched keyword is kept as evidence.
Texts that match no topic are clustered (TF-IDF over their non-stop-word tokens, then NMF) so
needs the taxonomy does not name yet surface with their top terms.

Sentiment (-1 … +1): Chinese (any text with a CJK character) by SnowNLP's Bayes model, English
by VADER's compound score with the domain words of ``sentiment.en_lexicon`` added; both ship
inside their wheels, nothing is downloaded. Scores within ``neutral_band`` of 0 are neutral.
:func:`sentiment_accuracy` measures them on a labelled sample (tests/fixtures).

All of this runs at publish time (:func:`publish_needs`) and lands in small tables the pages
read: ``need_texts`` (one row per text: topics, cluster, sentiment, segment, customer value),
``need_mentions`` (one row per text × topic with the evidence terms), ``need_clusters``,
``need_trend`` (topic share by month), ``need_trend_tests``, ``need_priority``,
``need_actions``, ``contact_status`` (one row per customer) and ``care_calendar``.

Common vs individual, priority, change, response
------------------------------------------------
- **common** (共性需求): raised by at least ``common.min_customer_share`` of the customers who
  wrote any text (in scope); otherwise **individual** (个性需求), with the reason: few customers,
  or one segment raising ``individual_segment_share`` or more of them;
- **priority** (优先级): ``w_reach·reach + w_value·value + w_neg·negative + w_recent·recency``
  (:data:`PRIORITY_FORMULA`): reach = customers raising the need / the most any need has; value
  = their spend (RFM monetary) / the most any need's raisers have; negative = share of its
  mentions with negative sentiment; recency = share of its mentions in the last
  ``recent_days`` / the highest such share;
- **change** (需求变化): each topic's share of texts in the last ``recent_months`` months vs
  ``baseline_months`` months ending ``baseline_offset_months`` earlier (by default the same
  quarter a year before, so seasonal needs do not look like change), pooled two-proportion z-test
  (:func:`crmkit.stats.two_proportion_test`), Benjamini–Hochberg across topics; a rise or
  fall is flagged when q < ``alpha`` and the share moved by at least ``min_change``;
- **response** (需求响应): the action register ``crmkit/config/need_actions.json``; a common need
  is answered when an action for it is in progress or done.

Relationship cultivation
------------------------
Per customer: contacts in the last 365 days by channel, days since the last contact (any
interaction; since ``created_at`` when never contacted) against the target cadence of the
customer's segment (``crmkit/config/relationship.json``), overdue when longer. The **care
calendar** lists, for the ``horizon_days`` after ``as_of``: birthdays (customers of the
configured segments), holidays (春节, 元宵, 端午, 中秋, 国庆 … from the config's date table) for
the configured segments, and post-purchase follow-ups due ``post_purchase_days`` after delivery
that have not happened yet — each with the customer's owner, so an owner exports their list.

Examples
--------
>>> na = analyzer()
>>> r = na.analyse("快递送货太慢了，等了一个星期")
>>> r.topics, r.evidence["delivery"]
(('delivery',), ('快递', '送货'))
"""

from __future__ import annotations

import functools
import json
import logging
import math
import os
import re
import tempfile
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import ibis
import ibis.expr.types as ir
import numpy as np
import pandas as pd
from ibis.backends import BaseBackend

from crmkit import classification, db, definitions, schema, stats

CONFIG_DIR = Path(__file__).parent / "config"
TAXONOMY_PATH = CONFIG_DIR / "need_taxonomy.json"
RELATIONSHIP_PATH = CONFIG_DIR / "relationship.json"
ACTIONS_PATH = CONFIG_DIR / "need_actions.json"
#: The segment of customers without a counted purchase (as on the pages).
POTENTIAL = definitions.POTENTIAL
ACTION_KINDS = ("product", "service")
ACTION_STATUSES = ("planned", "in_progress", "done", "rejected")
#: Statuses under which a need counts as answered.
ANSWERED = ("in_progress", "done")
PRIORITY_FACTORS = ("reach", "value", "negative", "recency")
PRIORITY_FORMULA = {
    "zh": "优先级 = {reach}×覆盖面 + {value}×客户价值 + {negative}×负面占比 + {recency}×近期度"
    "（覆盖面 = 提出该需求的客户数 / 各需求中的最大值；客户价值 = 这些客户的消费额 / 最大值；"
    "负面占比 = 情感为负面的提及 / 全部提及；近期度 = 近{days}天提及占比 / 最大值）",
    "en": "priority = {reach}·reach + {value}·value + {negative}·negative + {recency}·recency "
    "(reach = customers raising the need / the most for any need; value = their spend / the "
    "most for any need; negative = mentions with negative sentiment / all its mentions; "
    "recency = share of its mentions in the last {days} days / the highest such share)",
}
_CJK = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")
_WORDY = re.compile(r"[0-9a-z\u3400-\u9fff\uf900-\ufaff]")
CHANNELS = tuple(schema.CONTACT_CHANNELS)

log = logging.getLogger("crmkit.needs")

# ---------------------------------------------------------------------------------------------
# configuration
# ---------------------------------------------------------------------------------------------


def _read_json(path: Path, what: str) -> dict[str, Any]:
    if not path.is_file():
        raise FileNotFoundError(f"{what} {str(path)!r} does not exist")
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as e:
        raise ValueError(f"{what} {str(path)!r} is not valid JSON: {e}") from None


def load_taxonomy(path: str | os.PathLike | None = None) -> dict[str, Any]:
    """The need taxonomy (default ``crmkit/config/need_taxonomy.json``), checked.

    Raises
    ------
    ValueError
        When a topic lacks zh / en names or keywords, or a section is missing, naming it.
    """
    p = Path(path) if path is not None else TAXONOMY_PATH
    tax = _read_json(p, "need taxonomy")
    for key in ("topics", "stopwords_zh", "stopwords_en", "common", "priority", "trend"):
        if key not in tax:
            raise ValueError(f"need taxonomy {str(p)!r}: missing section {key!r}")
    if not isinstance(tax["topics"], dict) or not tax["topics"]:
        raise ValueError(f"need taxonomy {str(p)!r}: 'topics' must be a non-empty object")
    for name, topic in tax["topics"].items():
        for k in ("zh", "en"):
            if not isinstance(topic.get(k), str):
                raise ValueError(f"need taxonomy: topic {name!r} needs a {k!r} name (a string)")
        kws = [*topic.get("keywords_zh", []), *topic.get("keywords_en", [])]
        if not kws or not all(isinstance(k, str) and k.strip() for k in kws):
            raise ValueError(
                f"need taxonomy: topic {name!r} needs non-empty keywords_zh / keywords_en lists"
            )
        if topic.get("kind", "none") not in (*ACTION_KINDS, "none"):
            raise ValueError(
                f"need taxonomy: topic {name!r} has kind {topic['kind']!r}; expected one of "
                f"{[*ACTION_KINDS, 'none']}"
            )
    weights = tax["priority"].get("weights", {})
    if set(weights) != set(PRIORITY_FACTORS) or not all(
        isinstance(v, int | float) and v >= 0 for v in weights.values()
    ):
        raise ValueError(
            f"need taxonomy: priority.weights must give a number >= 0 for each of "
            f"{list(PRIORITY_FACTORS)}; found {weights!r}"
        )
    tax["_path"] = str(p)
    return tax


def need_topics(taxonomy: Mapping[str, Any] | None = None) -> list[str]:
    """The topics that are needs (praise and other ``"need": false`` topics left out)."""
    tax = taxonomy or load_taxonomy()
    return [k for k, v in tax["topics"].items() if v.get("need", True)]


def topic_label(topic: str, lang: str = "zh", taxonomy: Mapping[str, Any] | None = None) -> str:
    """A topic's name in ``lang``; cluster topics (``new_1`` …) and unknown keys pass through."""
    tax = taxonomy or _default_taxonomy()
    spec = tax["topics"].get(topic)
    if spec is None:
        return topic
    return spec["zh"] if lang == "zh" else spec["en"]


@functools.cache
def _default_taxonomy() -> dict[str, Any]:
    return load_taxonomy()


def load_relationship(path: str | os.PathLike | None = None) -> dict[str, Any]:
    """Cadence, care-calendar rules and holidays (default ``crmkit/config/relationship.json``)."""
    p = Path(path) if path is not None else RELATIONSHIP_PATH
    rules = _read_json(p, "relationship rules")
    for key in ("cadence_days", "calendar", "holidays"):
        if key not in rules:
            raise ValueError(f"relationship rules {str(p)!r}: missing section {key!r}")
    for seg, days in rules["cadence_days"].items():
        if not isinstance(days, int) or days <= 0:
            raise ValueError(
                f"relationship rules: cadence_days[{seg!r}] = {days!r}; expected whole days > 0"
            )
    for i, h in enumerate(rules["holidays"]):
        try:
            date.fromisoformat(h["date"])
        except (KeyError, TypeError, ValueError):
            raise ValueError(
                f"relationship rules: holidays[{i}] = {h!r}; expected a 'date' as YYYY-MM-DD"
            ) from None
    return rules


def load_actions(path: str | os.PathLike | None = None) -> pd.DataFrame:
    """The need-response register (需求响应) as a frame: topic, kind, status, date, owner,
    action_zh, action_en (default ``crmkit/config/need_actions.json``)."""
    p = Path(path) if path is not None else ACTIONS_PATH
    raw = _read_json(p, "need actions")
    rows = []
    for i, a in enumerate(raw.get("actions", [])):
        if a.get("kind") not in ACTION_KINDS:
            raise ValueError(
                f"need actions: actions[{i}] kind {a.get('kind')!r}; expected {ACTION_KINDS}"
            )
        if a.get("status") not in ACTION_STATUSES:
            raise ValueError(
                f"need actions: actions[{i}] status {a.get('status')!r}; "
                f"expected one of {ACTION_STATUSES}"
            )
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
    cols = ["topic", "kind", "status", "date", "owner", "action_zh", "action_en"]
    return pd.DataFrame(rows, columns=cols)


# ---------------------------------------------------------------------------------------------
# tokenising, topics and sentiment
# ---------------------------------------------------------------------------------------------


def cache_dir() -> Path:
    """Where jieba keeps its prefix-dictionary cache: ``$CRMKIT_CACHE_DIR``, else
    ``$XDG_CACHE_HOME/crmkit``, else ``~/.cache/crmkit``; the system temp dir when none of
    these can be written (a read-only home)."""
    env = os.environ.get("CRMKIT_CACHE_DIR")
    xdg = os.environ.get("XDG_CACHE_HOME")
    candidates = [Path(env)] if env else []
    candidates.append((Path(xdg) if xdg else Path.home() / ".cache") / "crmkit")
    for c in candidates:
        try:
            c.mkdir(parents=True, exist_ok=True)
            if os.access(c, os.W_OK):
                return c
        except OSError:
            continue
    return Path(tempfile.gettempdir())


@functools.cache
def _jieba_tokenizer(userdict: str, extra_words: tuple[str, ...]):  # noqa: ANN202
    """One jieba tokenizer per (user dictionary, keywords): initialised once, quietly."""
    import jieba

    jieba.setLogLevel(logging.WARNING)
    tk = jieba.Tokenizer()
    tk.tmp_dir = str(cache_dir())
    tk.initialize()
    if userdict:
        tk.load_userdict(userdict)
    for w in extra_words:
        tk.add_word(w)
    return tk


@dataclass(frozen=True)
class TextNeeds:
    """What :meth:`NeedAnalyzer.analyse` finds in one text."""

    tokens: tuple[str, ...]
    topics: tuple[str, ...]
    evidence: dict[str, tuple[str, ...]] = field(default_factory=dict)
    sentiment: float | None = None


class NeedAnalyzer:
    """Tokeniser, taxonomy matcher and sentiment scorer for one taxonomy.

    Parameters
    ----------
    taxonomy : mapping or path, optional
        :func:`load_taxonomy` output or a path to such a file; default the packaged one.
    """

    def __init__(self, taxonomy: Mapping[str, Any] | str | os.PathLike | None = None) -> None:
        if taxonomy is None or isinstance(taxonomy, str | os.PathLike):
            taxonomy = load_taxonomy(taxonomy)
        self.taxonomy = taxonomy
        self.max_chars = int(taxonomy.get("max_chars", 5000))
        base = Path(taxonomy.get("_path", TAXONOMY_PATH)).parent
        udict = taxonomy.get("user_dictionary")
        self.userdict = str(base / udict) if udict else ""
        if self.userdict and not Path(self.userdict).is_file():
            raise FileNotFoundError(f"jieba user dictionary {self.userdict!r} does not exist")
        zh_words = sorted(
            {
                _normalise(k)
                for t in taxonomy["topics"].values()
                for k in t.get("keywords_zh", [])
                if _CJK.search(k)
            }
        )
        self._tk = _jieba_tokenizer(self.userdict, tuple(zh_words))
        self.stopwords = {_normalise(w) for w in taxonomy["stopwords_zh"]} | {
            _normalise(w) for w in taxonomy["stopwords_en"]
        }
        # single-token keywords: CJK ones match inside a token, others equal a token;
        # multi-token keywords match a run of tokens
        self._inside: list[tuple[str, str]] = []
        self._exact: dict[str, list[tuple[str, str]]] = {}
        self._phrases: list[tuple[str, str, str]] = []
        for topic, spec in taxonomy["topics"].items():
            for kw in [*spec.get("keywords_zh", []), *spec.get("keywords_en", [])]:
                toks = self.tokenize(kw)
                if len(toks) > 1:
                    self._phrases.append((" " + " ".join(toks) + " ", topic, kw))
                elif toks and _CJK.search(toks[0]):
                    self._inside.append((toks[0], topic))
                elif toks:
                    self._exact.setdefault(toks[0], []).append((topic, kw))
        self._token_hits: dict[str, list[tuple[str, str]]] = {}
        self.topic_order = list(taxonomy["topics"])
        self._sentiment: _Sentiment | None = None

    def tokenize(self, text: str | None) -> list[str]:
        """Normalised tokens of ``text`` (punctuation, spaces and emoji dropped).

        >>> analyzer().tokenize("ＡＰＰ经常闪退！😡")
        ['app', '经常', '闪退']
        """
        if text is None:
            return []
        if not isinstance(text, str):
            raise TypeError(f"tokenize: expected a str, got {type(text).__name__}")
        s = _normalise(text[: self.max_chars])
        if not s.strip():
            return []
        return [w for w in self._tk.lcut(s, HMM=True) if _WORDY.search(w)]

    def _hits(self, token: str) -> list[tuple[str, str]]:
        hits = self._token_hits.get(token)
        if hits is None:
            hits = list(self._exact.get(token, []))
            if _CJK.search(token):
                hits += [(topic, kw) for kw, topic in self._inside if kw in token]
            self._token_hits[token] = hits
        return hits

    def assign(self, tokens: Iterable[str]) -> dict[str, tuple[str, ...]]:
        """Topic → matched keywords (evidence, in order of first appearance) for ``tokens``."""
        tokens = list(tokens)
        found: dict[str, list[str]] = {}
        for tok in tokens:
            for topic, kw in self._hits(tok):
                terms = found.setdefault(topic, [])
                if kw not in terms:
                    terms.append(kw)
        if self._phrases and tokens:
            joined = " " + " ".join(tokens) + " "
            for phrase, topic, kw in self._phrases:
                if phrase in joined:
                    terms = found.setdefault(topic, [])
                    if kw not in terms:
                        terms.append(kw)
        return {t: tuple(found[t]) for t in self.topic_order if t in found}

    def analyse(
        self, text: str | None, language: str | None = None, *, sentiment: bool = True
    ) -> TextNeeds:
        """Tokens, topics with evidence and (optionally) sentiment of one text."""
        tokens = self.tokenize(text)
        ev = self.assign(tokens)
        score = self.sentiment(text, language) if sentiment else None
        return TextNeeds(tuple(tokens), tuple(ev), ev, score)

    def terms(self, tokens: Iterable[str]) -> list[str]:
        """Tokens without stop words and single Latin letters or digits (for clustering)."""
        return [
            t
            for t in tokens
            if t not in self.stopwords
            and not (len(t) == 1 and not _CJK.search(t))
            and not t.isdigit()
        ]

    def sentiment(self, text: str | None, language: str | None = None) -> float | None:
        """Sentiment of ``text`` in -1 … +1 (None for an empty text)."""
        if self._sentiment is None:
            self._sentiment = _Sentiment(self.taxonomy.get("sentiment", {}), self.tokenize)
        return self._sentiment.score(text, language, self.max_chars)

    def sentiment_label(self, score: float | None) -> str | None:
        """``positive`` / ``neutral`` / ``negative`` for a score (``neutral_band`` around 0)."""
        band = float(self.taxonomy.get("sentiment", {}).get("neutral_band", 0.05))
        return sentiment_label(score, band)


def sentiment_label(score: float | None, band: float = 0.05) -> str | None:
    """``positive`` above ``band``, ``negative`` below ``-band``, else ``neutral``."""
    if score is None or (isinstance(score, float) and np.isnan(score)):
        return None
    return "positive" if score > band else "negative" if score < -band else "neutral"


class _Sentiment:
    """Chinese: SnowNLP's naive-Bayes sentiment model (``snownlp/sentiment/sentiment.marshal.3``,
    trained on shopping reviews) applied to jieba tokens without SnowNLP's stop words — the
    model file is read directly, because importing ``snownlp`` loads all its models (seconds)
    and its own segmenter costs ~20 ms a text. English: VADER with the domain lexicon."""

    def __init__(self, spec: Mapping[str, Any], tokenize) -> None:  # noqa: ANN001
        import gzip
        import importlib.util
        import marshal

        from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

        found = importlib.util.find_spec("snownlp")
        if found is None or not found.submodule_search_locations:
            raise ImportError("snownlp is not installed; `pip install snownlp==0.12.3`")
        root = Path(next(iter(found.submodule_search_locations)))
        with gzip.open(root / "sentiment" / "sentiment.marshal.3", "rb") as f:
            model = marshal.loads(f.read())
        stop = (root / "normal" / "stopwords.txt").read_text(encoding="utf-8").split()
        self._stop = set(stop)
        self._classes = {
            k: (v["d"], float(v["total"]), float(v.get("none", 1))) for k, v in model["d"].items()
        }
        self._total = float(model["total"])
        self._tokenize = tokenize
        self._en = SentimentIntensityAnalyzer()
        self._en.lexicon.update(
            {k.lower(): float(v) for k, v in spec.get("en_lexicon", {}).items()}
        )

    def _zh(self, text: str) -> float:
        words = []
        for w in self._tokenize(text):
            # a token the model never saw (jieba cuts coarser than SnowNLP's segmenter) is
            # read as its characters, which the model mostly knows
            if (
                len(w) > 1
                and _CJK.search(w)
                and all(w not in f for f, _, _ in self._classes.values())
            ):
                words.extend(w)
            else:
                words.append(w)
        words = [w for w in words if w not in self._stop]
        logp = {}
        for k, (freq, total, none) in self._classes.items():
            logp[k] = (
                math.log(total)
                - math.log(self._total)
                + sum(math.log(freq.get(w, none) / total) for w in words)
            )
        # P(pos) = 1 / (1 + exp(log P(neg) - log P(pos))), guarded against overflow
        gap = max(min(logp["neg"] - logp["pos"], 700.0), -700.0)
        return 1.0 / (1.0 + math.exp(gap))

    def score(self, text: str | None, language: str | None, max_chars: int) -> float | None:
        if text is None:
            return None
        s = _normalise(text[:max_chars]).strip()
        if not _WORDY.search(s):
            return None
        if _CJK.search(s):
            return round(2.0 * self._zh(s) - 1.0, 4)
        return round(float(self._en.polarity_scores(s)["compound"]), 4)


def _normalise(text: str) -> str:
    return unicodedata.normalize("NFKC", text).lower()


@functools.cache
def _default_analyzer() -> NeedAnalyzer:
    return NeedAnalyzer()


def analyzer(taxonomy: Mapping[str, Any] | str | os.PathLike | None = None) -> NeedAnalyzer:
    """A :class:`NeedAnalyzer`; the packaged taxonomy's one is built once per process."""
    return _default_analyzer() if taxonomy is None else NeedAnalyzer(taxonomy)


def sentiment_accuracy(labelled: pd.DataFrame, na: NeedAnalyzer | None = None) -> pd.DataFrame:
    """Accuracy of :meth:`NeedAnalyzer.sentiment` on texts labelled ``pos`` / ``neg``.

    ``labelled`` has ``text``, ``language`` and ``label``. A neutral prediction counts as
    wrong. Returns one row per language and ``all``: ``language``, ``n``, ``correct``,
    ``accuracy``, ``lo``, ``hi`` (Wilson 95 %).
    """
    missing = {"text", "language", "label"} - set(labelled.columns)
    if missing:
        raise ValueError(f"sentiment_accuracy: labelled sample lacks columns {sorted(missing)}")
    bad = set(labelled["label"]) - {"pos", "neg"}
    if bad:
        raise ValueError(f"sentiment_accuracy: labels must be 'pos' or 'neg'; found {sorted(bad)}")
    na = na or analyzer()
    pred = [
        {"positive": "pos", "negative": "neg"}.get(na.sentiment_label(na.sentiment(t, lg)))
        for t, lg in zip(labelled["text"], labelled["language"], strict=True)
    ]
    df = labelled.assign(correct=[p == y for p, y in zip(pred, labelled["label"], strict=True)])
    rows = [
        {"language": lg, "n": len(g), "correct": int(g.correct.sum())}
        for lg, g in [*df.groupby("language", sort=True), ("all", df)]
    ]
    out = pd.DataFrame(rows)
    p, lo, hi = stats.wilson(out.correct.to_numpy(), out.n.to_numpy())
    return out.assign(accuracy=p, lo=lo, hi=hi)


# ---------------------------------------------------------------------------------------------
# feedback texts -> need tables (publish time)
# ---------------------------------------------------------------------------------------------


def analyse_texts(
    texts: pd.DataFrame, na: NeedAnalyzer | None = None, *, sentiment: bool = True
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Topics, evidence and sentiment for a frame of texts (``feedback_id``, ``text``,
    ``language``). Identical texts are analysed once.

    Returns
    -------
    (per_text, mentions)
        ``per_text``: feedback_id, topics (``|``-joined), n_topics, need (matched a need topic),
        sentiment, sentiment_label, terms (``|``-joined clustering terms); ``mentions``:
        feedback_id, topic, evidence (``|``-joined keywords).
    """
    na = na or analyzer()
    uniq = texts[["text", "language"]].drop_duplicates().reset_index(drop=True)
    results = [
        na.analyse(t, lg, sentiment=sentiment)
        for t, lg in zip(uniq["text"], uniq["language"], strict=True)
    ]
    needs = set(need_topics(na.taxonomy))
    uniq["topics"] = ["|".join(r.topics) for r in results]
    uniq["n_topics"] = [len(r.topics) for r in results]
    uniq["need"] = [any(t in needs for t in r.topics) for r in results]
    uniq["sentiment"] = [r.sentiment for r in results]
    uniq["sentiment_label"] = [na.sentiment_label(r.sentiment) for r in results]
    uniq["terms"] = ["|".join(na.terms(r.tokens)) if not r.topics else "" for r in results]
    uniq["_u"] = range(len(uniq))
    ev = pd.DataFrame(
        [
            (i, topic, "|".join(kws))
            for i, r in enumerate(results)
            for topic, kws in r.evidence.items()
        ],
        columns=["_u", "topic", "evidence"],
    )
    per_text = texts[["feedback_id", "text", "language"]].merge(
        uniq, on=["text", "language"], how="left"
    )
    mentions = per_text[["feedback_id", "_u"]].merge(ev, on="_u")[
        ["feedback_id", "topic", "evidence"]
    ]
    return per_text.drop(columns=["text", "language", "_u"]), mentions


def _no_texts(texts: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    per_text = pd.DataFrame(
        {
            "feedback_id": texts.feedback_id,
            "topics": pd.Series(dtype="string"),
            "n_topics": pd.Series(dtype="int64"),
            "need": pd.Series(dtype="bool"),
            "sentiment": pd.Series(dtype="float64"),
            "sentiment_label": pd.Series(dtype="string"),
            "terms": pd.Series(dtype="string"),
        }
    )
    return per_text, pd.DataFrame(columns=["feedback_id", "topic", "evidence"], dtype="string")


def cluster_terms(
    terms: pd.Series, spec: Mapping[str, Any] | None = None
) -> tuple[np.ndarray, pd.DataFrame]:
    """Cluster texts given as ``|``-joined terms: TF-IDF, then NMF; each text goes to its
    heaviest component.

    Returns
    -------
    (labels, clusters)
        ``labels``: cluster number (1 …, biggest first) per text, 0 for texts without terms;
        ``clusters``: cluster, texts, top_terms (``|``-joined, heaviest first).
    """
    spec = {**(_default_taxonomy()["clusters"]), **(spec or {})}
    cols = ["cluster", "texts", "top_terms"]
    labels = np.zeros(len(terms), dtype=int)
    docs = terms.fillna("").to_numpy()
    has = np.array([bool(d) for d in docs], dtype=bool)
    distinct = len(set(docs[has]))
    # the rule of thumb k ≈ sqrt(distinct texts / 2), capped; each cluster needs min_texts texts
    k = min(
        int(spec["max_clusters"]),
        max(1, round(math.sqrt(distinct / 2))),
        int(has.sum()) // int(spec["min_texts"]),
    )
    if k < 1:
        return labels, pd.DataFrame(columns=cols)
    # imported here: scikit-learn takes seconds to import and most publishes need it once
    from sklearn.decomposition import NMF
    from sklearn.feature_extraction.text import TfidfVectorizer

    vec = TfidfVectorizer(
        tokenizer=lambda d: d.split("|"),
        token_pattern=None,
        lowercase=False,
        max_features=int(spec["max_features"]),
    )
    x = vec.fit_transform(docs[has])
    if x.shape[1] == 0:
        return labels, pd.DataFrame(columns=cols)
    k = min(k, x.shape[1])
    nmf = NMF(n_components=k, init="nndsvda", random_state=int(spec["random_state"]), max_iter=400)
    w = nmf.fit_transform(x)
    raw = w.argmax(axis=1)
    vocab = np.array(vec.get_feature_names_out())
    sizes = np.bincount(raw, minlength=k)
    order = [int(c) for c in np.argsort(-sizes, kind="stable") if sizes[c] > 0]
    renumber = {c: i + 1 for i, c in enumerate(order)}
    labels[has] = [renumber[c] for c in raw]
    top = int(spec["top_terms"])
    clusters = pd.DataFrame(
        [
            {
                "cluster": renumber[c],
                "texts": int(sizes[c]),
                "top_terms": "|".join(vocab[np.argsort(-nmf.components_[c], kind="stable")[:top]]),
            }
            for c in order
        ],
        columns=cols,
    )
    return labels, clusters


def need_tables(
    con: BaseBackend,
    *,
    as_of: datetime | None = None,
    taxonomy: Mapping[str, Any] | str | os.PathLike | None = None,
) -> dict[str, pd.DataFrame]:
    """``need_texts``, ``need_mentions`` and ``need_clusters`` from ``feedback`` (texts on or
    before ``as_of``), with each customer's segment (RFM class, ``potential`` without a counted
    purchase) and spend from the ``classification`` table, or from
    :func:`crmkit.classification.classify` when the connection has no such table.

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
    per_text, mentions = analyse_texts(texts, na) if na else _no_texts(texts)
    t = texts.merge(per_text, on="feedback_id")
    tax = na.taxonomy if na else (load_taxonomy(taxonomy) if taxonomy else _default_taxonomy())
    labels, clusters = cluster_terms(t.terms.where(t.n_topics == 0, ""), tax.get("clusters"))
    t["cluster"] = labels
    t = t.drop(columns="terms")
    t["month"] = t.ts.dt.to_period("M").dt.to_timestamp()
    seg = _segments(con)
    t = t.merge(seg, on="customer_id", how="left").fillna({"segment": POTENTIAL, "monetary": 0.0})
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


def _segments(con: BaseBackend) -> pd.DataFrame:
    if "classification" in con.list_tables():
        c = con.table("classification")
    else:
        c = classification.classify(con, as_of=db.data_as_of(con))
    return c.select(
        "customer_id",
        segment=c.rfm_class.fill_null(POTENTIAL),
        monetary=c.monetary.cast("float64").fill_null(0),
    ).to_pandas()


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
    tax = taxonomy or _default_taxonomy()
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
        else pd.Series(dtype=str)
    )
    df["status"] = df.topic.map(best).fillna("none")
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
    tax = taxonomy or _default_taxonomy()
    w = tax["priority"]["weights"]
    return PRIORITY_FORMULA["zh" if lang == "zh" else "en"].format(
        **{k: f"{float(v):.2f}" for k, v in w.items()},
        days=int(tax["priority"].get("recent_days", 90)),
    )


def needs_by_segment(
    texts: ir.Table, mentions: ir.Table, taxonomy: Mapping[str, Any] | None = None
) -> pd.DataFrame:
    """Per segment × need topic: customers raising it, customers with text in the segment,
    share, and whether it is common *within* the segment (share ≥ ``min_customer_share``)."""
    tax = taxonomy or _default_taxonomy()
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
    tax = taxonomy or _default_taxonomy()
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
# relationship cultivation
# ---------------------------------------------------------------------------------------------


def contact_status(
    con: BaseBackend,
    *,
    as_of: datetime | None = None,
    rules: Mapping[str, Any] | None = None,
) -> ir.Table:
    """One row per customer (created on or before ``as_of``): segment, owner, owner_team,
    last_contact, days_since (since the last interaction, else since ``created_at``),
    target_days (the segment's cadence), overdue, days_overdue, contacts_365 and
    ``ch_<channel>`` (contacts in the last 365 days by channel)."""
    as_of = schema.check_as_of(as_of or db.data_as_of(con))
    rules = rules or load_relationship()
    ts_as_of = ibis.literal(as_of, type="timestamp")
    year_ago = ibis.literal(as_of - timedelta(days=365), type="timestamp")
    cust = con.table("customers")
    cust = cust.filter(cust.created_at.isnull() | (cust.created_at <= ts_as_of))
    cls = (
        con.table("classification")
        if "classification" in con.list_tables()
        else classification.classify(con, as_of=as_of)
    )
    cls = cls.select("customer_id", segment=cls.rfm_class.fill_null(POTENTIAL))
    base = cust.select("customer_id", "owner", "owner_team", "created_at").join(cls, "customer_id")
    if "interactions" in con.list_tables():
        i = con.table("interactions")
        i = i.filter(i.ts <= ts_as_of)
        recent = i.ts > year_ago
        last = i.group_by(cid="customer_id").aggregate(
            last_contact=i.ts.max(),
            contacts_365=recent.cast("int64").sum(),
            **{f"ch_{c}": (recent & (i.channel == c)).cast("int64").sum() for c in CHANNELS},
        )
        t = base.left_join(last, base.customer_id == last.cid).drop("cid")
    else:
        t = base.mutate(
            last_contact=ibis.null("timestamp"),
            contacts_365=ibis.literal(0, "int64"),
            **{f"ch_{c}": ibis.literal(0, "int64") for c in CHANNELS},
        )
    since = t.last_contact.fill_null(t.created_at)
    days = ibis.literal(as_of.date()).delta(since.date(), unit="day")
    cadence = rules["cadence_days"]
    target = t.segment.cases(*[(k, v) for k, v in cadence.items()], else_=max(cadence.values()))
    t = t.mutate(
        days_since=days,
        target_days=target.cast("int64"),
        contacts_365=t.contacts_365.fill_null(0),
        **{f"ch_{c}": t[f"ch_{c}"].fill_null(0) for c in CHANNELS},
    )
    t = t.mutate(
        overdue=(t.days_since > t.target_days).fill_null(False),
        days_overdue=ibis.greatest(t.days_since - t.target_days, 0),
    )
    return t.drop("created_at")


def contact_by_segment(status: ir.Table) -> pd.DataFrame:
    """Per segment: customers, contacts per customer in the last 365 days (all and by channel),
    mean days since the last contact, target cadence, overdue customers and share."""
    agg = status.group_by("segment").aggregate(
        customers=status.count(),
        contacts=status.contacts_365.sum(),
        mean_days_since=status.days_since.mean(),
        target_days=status.target_days.max(),
        overdue=status.overdue.cast("int64").sum(),
        **{c: status[f"ch_{c}"].sum() for c in CHANNELS},
    )
    df = agg.to_pandas()
    df["per_customer"] = df.contacts / df.customers
    for c in CHANNELS:
        df[c] = df[c] / df.customers
    df = stats.rate_columns(df, "overdue", "customers").rename(columns={"rate": "overdue_share"})
    return df.sort_values("segment").reset_index(drop=True)


def care_calendar(
    con: BaseBackend,
    *,
    as_of: datetime | None = None,
    rules: Mapping[str, Any] | None = None,
) -> pd.DataFrame:
    """Care events due in the ``horizon_days`` after ``as_of``: date, customer_id, owner,
    owner_team, segment, event (``birthday`` / ``holiday`` / ``post_purchase``), detail_zh,
    detail_en, order_id — sorted by owner, date, customer."""
    as_of = schema.check_as_of(as_of or db.data_as_of(con))
    rules = rules or load_relationship()
    cal = rules["calendar"]
    d0 = as_of.date()
    d1 = d0 + timedelta(days=int(cal["horizon_days"]))
    cols = [
        "date", "customer_id", "owner", "owner_team", "segment", "event", "detail_zh",
        "detail_en", "order_id",
    ]  # fmt: skip
    status = contact_status(con, as_of=as_of, rules=rules).select(
        "customer_id", "owner", "owner_team", "segment"
    )
    frames = []
    bday_segs = list(cal.get("birthday_segments", []))
    cust = con.table("customers")
    b = (
        cust.filter(cust.birthday.notnull())
        .select("customer_id", "birthday")
        .join(status.filter(status.segment.isin(bday_segs)), "customer_id")
        .to_pandas()
    )
    if not b.empty:
        bd = pd.to_datetime(b.birthday)
        hits = []
        for year in (d0.year, d0.year + 1):
            # 29 February is kept on 28 February in common years
            day = np.where((bd.dt.month == 2) & (bd.dt.day == 29), 28, bd.dt.day)
            when = pd.to_datetime(
                pd.DataFrame({"year": year, "month": bd.dt.month, "day": day}), errors="coerce"
            )
            ok = (when.dt.date > d0) & (when.dt.date <= d1)
            hits.append(b[ok].assign(date=when[ok].dt.date))
        b = pd.concat(hits).drop_duplicates("customer_id")
        frames.append(
            b.assign(
                event="birthday", detail_zh="生日祝福", detail_en="Birthday greeting", order_id=None
            )
        )
    hol = [h for h in rules["holidays"] if d0 < date.fromisoformat(h["date"]) <= d1]
    if hol:
        who = status.filter(status.segment.isin(list(cal.get("holiday_segments", [])))).to_pandas()
        for h in hol:
            frames.append(
                who.assign(
                    date=date.fromisoformat(h["date"]),
                    event="holiday",
                    detail_zh=f"{h['zh']}问候",
                    detail_en=f"{h['en']} greeting",
                    order_id=None,
                )
            )
    days = int(cal["post_purchase_days"])
    o = con.table("orders")
    lo = ibis.literal(datetime.combine(d0 - timedelta(days=days), datetime.min.time()))
    hi = ibis.literal(as_of, type="timestamp")
    o = o.filter(o.delivered_at.notnull(), o.delivered_at > lo, o.delivered_at <= hi)
    o = o.filter(o.status != "cancelled")
    o = o.select("order_id", "customer_id", "delivered_at")
    if "interactions" in con.list_tables():
        i = con.table("interactions")
        done = i.filter(i.care_event == "post_purchase").select(icid="customer_id", its=i.ts)
        followed = o.join(done, (o.customer_id == done.icid) & (done.its >= o.delivered_at))
        o = o.anti_join(followed.select("order_id"), "order_id")
    pp = o.join(status, "customer_id").to_pandas()
    if not pp.empty:
        due = (pd.to_datetime(pp.delivered_at).dt.normalize() + pd.Timedelta(days=days)).dt.date
        ok = (due > d0) & (due <= d1)
        pp = pp[ok].assign(date=due[ok])
        frames.append(
            pp.drop(columns="delivered_at").assign(
                event="post_purchase", detail_zh="购后回访", detail_en="Post-purchase follow-up"
            )
        )
    if not frames:
        return pd.DataFrame(columns=cols)
    out = pd.concat([f[cols] for f in frames if not f.empty], ignore_index=True)
    return out.sort_values(["owner", "date", "customer_id", "event"]).reset_index(drop=True)


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
        "care_calendar": [
            ("date", pa.date32()),
            ("customer_id", s),
            ("owner", s),
            ("owner_team", s),
            ("segment", s),
            ("event", s),
            ("detail_zh", s),
            ("detail_en", s),
            ("order_id", s),
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


def text_tables(con: BaseBackend, *, as_of: datetime) -> dict[str, pd.DataFrame]:
    """The publish step ``need_texts``: ``need_texts``, ``need_mentions`` and ``need_clusters``
    (:func:`need_tables`), typed for storage. Texts are tokenised, assigned and scored here,
    never when a page opens."""
    tables = need_tables(con, as_of=as_of)
    return {
        name: _typed(name, tables[name])
        for name in ("need_texts", "need_mentions", "need_clusters")
    }


def publish_tables(con: BaseBackend, *, as_of: datetime) -> dict[str, pd.DataFrame | ir.Table]:
    """The publish step ``needs``: need priority, trend and trend tests over the stored
    ``need_texts`` / ``need_mentions`` (step ``need_texts``), the need-response register, the
    contact status and the care calendar (see the module docstring)."""
    out: dict[str, pd.DataFrame | ir.Table] = {}
    if "need_texts" in con.list_tables():
        texts, mentions = con.table("need_texts"), con.table("need_mentions")
        out["need_priority"] = need_summary(texts, mentions, as_of=as_of, lang="zh").drop(
            columns=["label"]
        )
        out["need_trend"] = need_trend(texts, mentions)
        out["need_trend_tests"] = trend_tests(texts, mentions, as_of=as_of)
        for name in ("need_priority", "need_trend", "need_trend_tests"):
            df = out[name]
            df.attrs = {}  # windows and formulas are recomputed by the pages
            # all-null object columns (no feedback at all) have no type DuckDB can store
            for c in [c for c in df.columns if df[c].dtype == "object" and df[c].isna().all()]:
                df[c] = df[c].astype("string")
    out["need_actions"] = load_actions()
    if "customers" in con.list_tables():
        out["contact_status"] = contact_status(con, as_of=as_of)
        if "orders" in con.list_tables():
            out["care_calendar"] = _typed("care_calendar", care_calendar(con, as_of=as_of))
    return out
