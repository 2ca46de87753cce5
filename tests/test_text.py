"""crmkit.text: tokens, topics and sentiment of zh / en texts; the taxonomy; clusters of the
texts no topic matches.

The labelled sentiment sample ``tests/fixtures/sentiment_labelled.csv`` (40 Chinese, 30 English
short product / service reviews, each labelled ``pos`` or ``neg``) was written by hand for
crmkit; it is not taken from the demo's templates.
"""

import json
from pathlib import Path

import pandas as pd
import pytest

from crmkit import config, text

FIXTURES = Path(__file__).parent / "fixtures"
#: Accuracy floors for the sentiment test (measured: zh 37/40, en 29/30, all 66/70).
ACCURACY_FLOOR = {"all": 0.85, "zh": 0.80, "en": 0.80}


@pytest.fixture(scope="module")
def na():
    return text.analyzer()


# ---------------------------------------------------------------------------------------------
# tokens and topics
# ---------------------------------------------------------------------------------------------


def test_chinese_sentence_tokens_and_topic(na):
    """快递送货太慢了，等了一个星期 ("the courier delivers too slowly, I waited a week"):
    jieba with the user dictionary cuts 快递 | 送货 | 太慢 | 了 | ， | 等 | 了 | 一个 | 星期;
    the comma is dropped; 快递 and 送货 are delivery keywords (物流配送), nothing else matches."""
    r = na.analyse("快递送货太慢了，等了一个星期")
    assert r.tokens == ("快递", "送货", "太慢", "了", "等", "了", "一个", "星期")
    assert r.topics == ("delivery",)
    assert r.evidence == {"delivery": ("快递", "送货")}
    assert r.sentiment < -0.05


def test_keyword_inside_a_longer_token_and_user_dictionary(na):
    """视频教程 is one token (user dictionary) and contains the training keyword 教程;
    会员积分 is one token too (a domain term of the issue) and contains the price keyword 积分."""
    r = na.analyse("能不能出视频教程？会员积分什么时候到账")
    assert "视频教程" in r.tokens and "会员积分" in r.tokens
    assert r.evidence == {"price": ("积分",), "training": ("教程",)}


def test_english_sentence_words_and_phrases(na):
    """English runs come out as lower-case words; "value for money" is a three-word price
    keyword matched as a run of tokens."""
    r = na.analyse("Late delivery, the courier could not say when. Good value for money though")
    assert r.tokens[:4] == ("late", "delivery", "the", "courier")
    assert r.evidence == {"delivery": ("delivery", "courier"), "price": ("value for money",)}


def test_mixed_language_text(na):
    """Chinese and English in one text: both keyword lists apply (App 闪退 + "tutorial")."""
    r = na.analyse("App更新后一直闪退, please add a tutorial!")
    assert r.tokens == ("app", "更新后", "一直", "闪退", "please", "add", "a", "tutorial")
    assert r.evidence == {
        "feature": ("add",),
        "app": ("app", "更新后", "闪退"),
        "training": ("tutorial",),
    }


def test_emoji_and_full_width_punctuation(na):
    """NFKC turns ＡＰＰ into app and ！ into !; punctuation and emoji are not tokens."""
    r = na.analyse("ＡＰＰ闪退！！😡😡 物流太慢。。。")
    assert r.tokens == ("app", "闪退", "物流", "太慢")
    assert r.topics == ("delivery", "app")
    assert r.sentiment < -0.05


@pytest.mark.parametrize("text", ["", "   ", "。！？", "😀😀", None])
def test_empty_texts(na, text):
    r = na.analyse(text)
    assert r.tokens == () and r.topics == () and r.sentiment is None


def test_very_long_text_is_cut(na):
    """A 200,000-character text is cut to ``max_chars`` (5,000) before tokenising: topics in
    the kept part are found, words beyond it (培训, training) are not. (No timing here: speed
    is for bench/.)"""
    text = "物流很慢。" + "我们今天去公园散步" * 22_000 + "培训"
    r = na.analyse(text)
    assert r.topics == ("delivery",)
    assert len("".join(r.tokens)) <= na.max_chars


def test_tokenize_rejects_non_text(na):
    with pytest.raises(TypeError, match="expected a str"):
        na.tokenize(12)


def test_taxonomy_errors_name_the_problem(tmp_path):
    tax = json.loads(text.TAXONOMY_PATH.read_text(encoding="utf-8"))
    tax["topics"]["price"]["keywords_zh"] = []
    tax["topics"]["price"]["keywords_en"] = []
    p = tmp_path / "t.json"
    p.write_text(json.dumps(tax), encoding="utf-8")
    with pytest.raises(ValueError, match="topic 'price' needs non-empty keywords"):
        text.load_taxonomy(p)
    tax = json.loads(text.TAXONOMY_PATH.read_text(encoding="utf-8"))
    tax["priority"]["weights"] = {"reach": 1}
    p.write_text(json.dumps(tax), encoding="utf-8")
    with pytest.raises(ValueError, match="priority.weights"):
        text.load_taxonomy(p)
    with pytest.raises(FileNotFoundError, match="does not exist"):
        text.load_taxonomy(tmp_path / "missing.json")


def test_cache_dir_falls_back_when_home_is_read_only(tmp_path, monkeypatch):
    """A cache location that cannot be created (here: below a file) falls back to the temp dir."""
    blocker = tmp_path / "file"
    blocker.write_text("x")
    monkeypatch.delenv("CRMKIT_CACHE_DIR", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(blocker / "cache"))
    monkeypatch.setenv("HOME", str(blocker))
    import tempfile

    assert text.cache_dir() == Path(tempfile.gettempdir())
    monkeypatch.setenv("CRMKIT_CACHE_DIR", str(tmp_path / "c"))
    assert text.cache_dir() == tmp_path / "c"


# ---------------------------------------------------------------------------------------------
# sentiment
# ---------------------------------------------------------------------------------------------


def test_sentiment_accuracy_on_labelled_sample(na):
    """70 hand-labelled texts (40 zh, 30 en); a neutral prediction counts as wrong."""
    labelled = pd.read_csv(FIXTURES / "sentiment_labelled.csv")
    assert len(labelled) >= 60 and set(labelled.language) == {"zh", "en"}
    acc = text.sentiment_accuracy(labelled, na).set_index("language")
    assert acc.loc["all", "n"] == 70
    for lang, floor in ACCURACY_FLOOR.items():
        assert acc.loc[lang, "accuracy"] > floor, (lang, acc.loc[lang].to_dict())


def test_sentiment_accuracy_defaults_to_the_sample_shipped_with_crmkit(na):
    """crmkit/data/sentiment_labelled.csv is the same 70 texts: the same counts per language."""
    shipped = text.sentiment_accuracy(na=na)
    fixture = text.sentiment_accuracy(pd.read_csv(FIXTURES / "sentiment_labelled.csv"), na)
    assert shipped.set_index("language").n.to_dict() == {"en": 30, "zh": 40, "all": 70}
    pd.testing.assert_frame_equal(shipped, fixture)


def test_sentiment_label_band():
    assert text.sentiment_label(0.3) == "positive"
    assert text.sentiment_label(-0.3) == "negative"
    assert text.sentiment_label(0.01) == "neutral"
    assert text.sentiment_label(None) is None


def test_sentiment_accuracy_rejects_bad_labels(na):
    with pytest.raises(ValueError, match="labels must be 'pos' or 'neg'"):
        text.sentiment_accuracy(pd.DataFrame({"text": ["x"], "language": ["en"], "label": ["ok"]}))


# ---------------------------------------------------------------------------------------------
# clusters of unmatched texts
# ---------------------------------------------------------------------------------------------


def test_unmatched_texts_cluster_with_top_terms(na):
    """12 texts about packaging and 12 about an invoice: sqrt(2 distinct·… ) gives k = 1 for 2
    distinct texts, so use 8 distinct texts (k = round(sqrt(8 / 2)) = 2): the two clusters
    are the two subjects, each with its word on top."""
    docs = [
        "包装破损严重",
        "包装太简陋",
        "外包装破损",
        "包装不环保",
        "发票一直没开",
        "发票抬头错了",
        "电子发票没收到",
        "发票金额不对",
    ] * 3
    terms = pd.Series(["|".join(na.terms(na.tokenize(d))) for d in docs])
    labels, clusters = text.cluster_terms(terms, {"min_texts": 5})
    assert len(clusters) == 2
    tops = {c.top_terms.split("|")[0] for c in clusters.itertuples()}
    assert tops == {"包装", "发票"}
    by_label = {d: lab for d, lab in zip(docs, labels, strict=True)}
    assert by_label["包装太简陋"] != by_label["发票抬头错了"]
    assert by_label["包装太简陋"] == by_label["外包装破损"]


def test_no_clusters_from_too_few_texts():
    labels, clusters = text.cluster_terms(pd.Series(["包装", "", "发票"]))
    assert clusters.empty and (labels == 0).all()


# ---------------------------------------------------------------------------------------------
# the company's taxonomy (a Config) and many texts at once
# ---------------------------------------------------------------------------------------------


def test_taxonomy_from_a_company_config(tmp_path):
    """A settings directory holding only its own taxonomy (delivery renamed, a new keyword 运单):
    load_taxonomy(config=...) reads it, and the user dictionary, which the directory lacks,
    falls back to the packaged one; the analyzer built on it finds the new keyword."""
    tax = json.loads(text.TAXONOMY_PATH.read_text(encoding="utf-8"))
    tax["topics"]["delivery"]["zh"] = "配送"
    tax["topics"]["delivery"]["keywords_zh"].append("运单")
    (tmp_path / "need_taxonomy.json").write_text(json.dumps(tax), encoding="utf-8")
    cfg = config.load(tmp_path)
    got = text.load_taxonomy(config=cfg)
    assert got["_path"] == str(tmp_path.resolve() / "need_taxonomy.json")
    assert text.topic_label("delivery", "zh", got) == "配送"
    assert got["user_dictionary"] == str(config.DEFAULT_DIR / "need_userdict.txt")
    assert text.analyzer(got).analyse("运单号查不到").topics == ("delivery",)
    assert text.load_taxonomy(config=config.load())["topics"] == text.default_taxonomy()["topics"]


def test_analyse_texts_distinct_texts_once_and_no_texts():
    """Three rows, two distinct texts: the delivery complaint twice (f1, f3) gives the same
    topics and evidence for both; no texts give typed empty frames without loading a model."""
    texts = pd.DataFrame(
        {
            "feedback_id": ["f1", "f2", "f3"],
            "text": ["快递太慢", "包装很好看", "快递太慢"],
            "language": ["zh", "zh", "zh"],
        }
    )
    per_text, mentions = text.analyse_texts(texts, sentiment=False)
    per = per_text.set_index("feedback_id")
    assert per.topics.tolist() == ["delivery", "", "delivery"]
    assert per.need.tolist() == [True, False, True]
    assert per.loc["f2", "terms"] != "" and per.loc["f1", "terms"] == ""
    assert mentions.values.tolist() == [["f1", "delivery", "快递"], ["f3", "delivery", "快递"]]
    per_text, mentions = text.analyse_texts(texts.iloc[:0])
    assert per_text.empty and mentions.empty
    assert per_text.dtypes.to_dict()["n_topics"] == "int64"
    assert mentions.columns.tolist() == ["feedback_id", "topic", "evidence"]
