"""Feedback text → tokens, need topics with evidence, sentiment, clusters (客户需求分析, step 4).

Feedback, complaints, suggestions and questionnaire answers (``feedback.text``, Chinese and
English) are normalised (NFKC: full-width letters and punctuation become half-width; lower
case), cut to ``max_chars``, tokenised with ``jieba`` (its own dictionary plus the domain terms
in ``crmkit/config/need_userdict.txt`` and every taxonomy keyword; English runs come out as
words) and matched against the **taxonomy** in ``crmkit/config/need_taxonomy.json``: a Chinese
keyword matches when it occurs inside a token (教程 inside 视频教程), an English keyword when it
equals a token or, for phrases, a run of tokens. Every matched keyword is kept as evidence.
Texts that match no topic are clustered (TF-IDF over their non-stop-word tokens, then NMF) so
needs the taxonomy does not name yet surface with their top terms (:func:`cluster_terms`).

Sentiment (-1 … +1): Chinese (any text with a CJK character) by SnowNLP's Bayes model, English
by VADER's compound score with the domain words of ``sentiment.en_lexicon`` added; both ship
inside their wheels, nothing is downloaded. Scores within ``neutral_band`` of 0 are neutral.
:func:`sentiment_accuracy` measures them on a labelled sample (tests/fixtures).

The taxonomy is a company setting: :func:`load_taxonomy` reads the packaged file, a path, or
the ``taxonomy`` file of a :class:`crmkit.config.Config`. Its topic names (zh / en) stay in it;
:func:`topic_label` reads them. :mod:`crmkit.needs` turns the per-text results into the need
tables at publish time.

Examples
--------
>>> na = analyzer()
>>> r = na.analyse("快递送货太慢了，等了一个星期")
>>> r.topics, r.evidence["delivery"]
(('delivery',), ('快递', '送货'))
"""

from __future__ import annotations

import copy
import functools
import logging
import math
import os
import re
import tempfile
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from crmkit import config as _config
from crmkit import i18n, stats

TAXONOMY_PATH = _config.DEFAULT_DIR / _config.FILES["taxonomy"]
#: What a need topic asks for (its ``kind`` in the taxonomy, besides ``"none"``).
TOPIC_KINDS = ("product", "service")
#: The factors of the priority score; the taxonomy's ``priority.weights`` gives one weight each.
PRIORITY_FACTORS = ("reach", "value", "negative", "recency")
_CJK = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")
_WORDY = re.compile(r"[0-9a-z\u3400-\u9fff\uf900-\ufaff]")

# ---------------------------------------------------------------------------------------------
# the taxonomy
# ---------------------------------------------------------------------------------------------


def load_taxonomy(
    path: str | os.PathLike | None = None, *, config: _config.Config | None = None
) -> dict[str, Any]:
    """The need taxonomy, checked.

    Parameters
    ----------
    path : path-like, optional
        A taxonomy file.
    config : Config, optional
        The company's settings: their ``taxonomy`` file (:meth:`crmkit.config.Config.path`).
        Without ``path`` or ``config``: the packaged ``crmkit/config/need_taxonomy.json``.

    Returns
    -------
    dict
        The parsed taxonomy (a fresh copy, safe to change), with ``_path`` the file it came from
        (the user dictionary is found beside it).

    Raises
    ------
    FileNotFoundError
        When the file does not exist.
    ValueError
        When a topic lacks zh / en names or keywords, or a section is missing, naming it.

    Examples
    --------
    >>> load_taxonomy()["topics"]["delivery"]["zh"]
    '物流配送'
    """
    if path is None and config is not None:
        p = config.path("taxonomy")
        tax = copy.deepcopy(dict(config.get("taxonomy")))
        if tax.get("user_dictionary") == _config.FILES["userdict"]:
            # the company's dictionary when it keeps one, else the packaged (Config's rule)
            tax["user_dictionary"] = str(config.path("userdict"))
    else:
        p = Path(path) if path is not None else TAXONOMY_PATH
        tax = _config.read_json(p, "need taxonomy")
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
        if topic.get("kind", "none") not in (*TOPIC_KINDS, "none"):
            raise ValueError(
                f"need taxonomy: topic {name!r} has kind {topic['kind']!r}; expected one of "
                f"{[*TOPIC_KINDS, 'none']}"
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


@functools.cache
def default_taxonomy() -> dict[str, Any]:
    """The packaged taxonomy, read once per process: the default of every function that takes
    a ``taxonomy``. Shared, so do not change it; :func:`load_taxonomy` gives a copy to edit.

    Examples
    --------
    >>> default_taxonomy()["trend"]["alpha"]
    0.05
    """
    return load_taxonomy()


def need_topics(taxonomy: Mapping[str, Any] | None = None) -> list[str]:
    """The topics that are needs (praise and other ``"need": false`` topics left out)."""
    tax = taxonomy or load_taxonomy()
    return [k for k, v in tax["topics"].items() if v.get("need", True)]


def topic_label(
    topic: str,
    lang: str = "zh",
    taxonomy: Mapping[str, Any] | None = None,
    *,
    clusters: Mapping[str, str] | None = None,
) -> str:
    """A topic's name in ``lang``: a taxonomy topic's from the taxonomy (a company setting, so
    its names live there, not in :mod:`crmkit.i18n`); a cluster topic (``new_1`` …) named by
    :func:`cluster_name` from its top terms in ``clusters`` (topic → ``top_terms``, as in the
    published ``need_clusters``); any other key as it is.

    Examples
    --------
    >>> topic_label("delivery"), topic_label("new_1", "en", clusters={"new_1": "电池|续航"})
    ('物流配送', 'New topic: 电池 / 续航')
    >>> topic_label("new_2", clusters={"new_1": "电池|续航"})
    'new_2'
    """
    tax = taxonomy or default_taxonomy()
    spec = tax["topics"].get(topic)
    if spec is not None:
        return spec["zh"] if i18n.check_lang(lang) == "zh" else spec["en"]
    terms = (clusters or {}).get(topic)
    if isinstance(terms, str) and terms.strip("| "):
        return cluster_name(terms, lang)
    return topic


#: How many of a need cluster's top terms its name shows.
CLUSTER_NAME_TERMS = 2


def cluster_name(top_terms: str, lang: str = "zh") -> str:
    """A need cluster's name: its first :data:`CLUSTER_NAME_TERMS` top terms (``|``-joined,
    heaviest first, as :func:`cluster_terms` gives them) after 新话题 / New topic. The terms
    are the customers' own words, so they stay in the language they were written in.

    Examples
    --------
    >>> cluster_name("电池|续航|充电"), cluster_name("battery|life|charge", "en")
    ('新话题：电池 / 续航', 'New topic: battery / life')
    """
    terms = [x.strip() for x in top_terms.split("|") if x.strip()]
    if not terms:
        raise ValueError(f"cluster_name: no terms in top_terms {top_terms!r}; expected 'a|b|…'")
    return i18n.t("nd_new_topic", lang, terms=" / ".join(terms[:CLUSTER_NAME_TERMS]))


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


def sentiment_accuracy(
    labelled: pd.DataFrame | None = None, na: NeedAnalyzer | None = None
) -> pd.DataFrame:
    """Accuracy of :meth:`NeedAnalyzer.sentiment` on texts labelled ``pos`` / ``neg``.

    ``labelled`` has ``text``, ``language`` and ``label``; default the hand-labelled sample
    shipped with crmkit (``crmkit/data/sentiment_labelled.csv``: 40 Chinese and 30 English
    customer comments). A neutral prediction counts as wrong. Returns one row per language and
    ``all``: ``language``, ``n``, ``correct``, ``accuracy``, ``lo``, ``hi`` (Wilson 95 %).
    """
    if labelled is None:
        with (resources.files("crmkit") / "data" / "sentiment_labelled.csv").open("rb") as f:
            labelled = pd.read_csv(f)
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
# many texts at once; clusters of the texts no topic matches
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
        feedback_id, topic, evidence (``|``-joined keywords). No texts give both empty, with
        their column types, and load no model.
    """
    if texts.empty:
        # nothing to read: skip loading jieba and the sentiment models
        return _no_texts(texts)
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
    spec = {**(default_taxonomy()["clusters"]), **(spec or {})}
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
