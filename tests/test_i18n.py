"""crmkit.i18n: every label the code asks for exists in Chinese and English, every label in the
table is asked for, and the lookups and formats behave as documented.

How the code asks for labels (read from the source with ``ast``, not imported)
-------------------------------------------------------------------------------
Sources: ``crmkit/**/*.py`` and the code cells of ``dashboards/*.ipynb`` and
``notebooks/*.ipynb``. A lookup is a call ``t(KEY, ...)`` or ``i18n.t(KEY, ...)``; KEY is

1. a string literal, ``t("rows", lang)``: the key itself;
2. an f-string, ``t(f"team_{v}", lang)``: prefix + code + suffix for every code ``v`` can take.
   The codes are read from the source when ``v`` is the loop variable of a comprehension or
   ``for`` over a literal list / tuple, a local name last bound to one, or a module-level
   constant (``for p in PERIODS``). Otherwise ``v`` comes from data and :data:`DYNAMIC` says
   which enumeration of crmkit holds its codes (``team_`` → the ``owner_team`` codes of
   ``crmkit.schema``). A new f-string pattern whose codes cannot be read fails
   :func:`test_every_dynamic_pattern_has_a_known_enumeration` until it is added there;
3. a name (``t(self.title_key, lang)``): the keys are string literals elsewhere (``PAGES``,
   ``title_key = "..."``), which count as uses. :data:`INDIRECT` lists these call sites.

A label counts as used when it is one of the keys of 1 or 2, or is a string literal anywhere
in the sources outside ``LABELS`` itself (case 3).
"""

from __future__ import annotations

import ast
import importlib
import json
import re
import string
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date, datetime
from functools import cache
from pathlib import Path

import pandas as pd
import pytest

from crmkit import i18n, quality, schema, text
from crmkit.i18n import (
    LABELS,
    channel_label,
    code_label,
    column_label,
    fmt_date,
    fmt_money,
    fmt_pct,
    match_label,
    t,
)

ROOT = Path(__file__).resolve().parents[1]


def _codes(module: str, attr: str, extra: Iterable[str] = ()) -> Callable[[], list[str]]:
    """The keys (or items) of ``module.attr``, plus ``extra``: looked up when the test runs."""

    def get() -> list[str]:
        value = getattr(importlib.import_module(module), attr)
        return [*value, *extra]

    return get


def _values(module: str, attr: str, extra: Iterable[str] = ()) -> Callable[[], list[str]]:
    def get() -> list[str]:
        return [*getattr(importlib.import_module(module), attr).values(), *extra]

    return get


def _schema_codes(table: str, column: str) -> Callable[[], list[str]]:
    def get() -> list[str]:
        from crmkit import schema

        return list(schema.table(table)[column].allowed)

    return get


def _fixed(*codes: str) -> Callable[[], list[str]]:
    return lambda: list(codes)


#: f-string patterns (prefix, suffix) whose codes come from data, and where those codes are
#: enumerated. ``_fixed`` lists codes that crmkit writes as literals in one function (named in
#: the comment) rather than in a constant.
DYNAMIC: dict[tuple[str, str], Callable[[], list[str]]] = {
    # Filters.describe: the period preset / owner team a filter holds
    ("period_", ""): _codes("crmkit.views.base", "PERIODS"),
    ("team_", ""): _schema_codes("customers", "owner_team"),
    # ExportButtons: the two buttons it makes
    ("export_", ""): _codes("crmkit.views.base", "MIME"),
    # report.changes: the direction crmkit.kpi.evaluate gives a change
    ("kpi_", ""): _fixed("better", "worse", "same"),
    # an opportunity's stage
    ("stage_", ""): _codes("crmkit.sales", "STAGES"),
    # churn reasons (churn_causes.CHURN_SIGNALS) and the win-back attempts' lapse reason, which is
    # one of them or "none" (churn.winback_attempts)
    ("signal_", ""): _codes("crmkit.churn_causes", "CHURN_SIGNALS", extra=["none"]),
    # the warning list's reason codes and the action each suggests ("regular_care" without one)
    ("reason_", ""): _codes("crmkit.churn", "REASONS"),
    ("rcode_", ""): _codes("crmkit.churn", "REASONS"),
    # why customers left: the direction of an adjusted effect, or why it has none
    ("why_dir_", ""): _codes("crmkit.churn_causes", "REASON_DIRECTIONS"),
    ("effect_note_", ""): _codes("crmkit.stats", "EFFECT_NOTES"),
    ("action_", ""): _values("crmkit.churn", "ACTIONS", extra=["regular_care"]),
    # the overview's alert hooks
    ("alerts_", ""): _codes("crmkit.views.kpi", "ALERT_HOOKS"),
    # satisfaction and complaint metrics: cards, alerts and the trend chart's ``metric``
    ("sat_", ""): lambda: [
        *_codes("crmkit.satisfaction", "DEFINITIONS")(),
        *_codes("crmkit.complaints", "DEFINITIONS")(),
    ],
    # the satisfaction alerts' slice dimension, and the test score_alerts runs for each metric
    ("sat_dim_", ""): _codes("crmkit.satisfaction", "ALERT_DIMENSIONS"),
    ("sat_test_", ""): _fixed("nps", "csat", "ces"),
    # the columns of the duplicate pairs (views.overview._duplicates_in_scope)
    ("dup_", ""): _fixed(
        *(f"{c}_{s}" for s in "ab" for c in ("customer_id", "name", "phone", "email")), "match_on"
    ),
    # crmkit.needs.need_summary / trend_tests / sentiment / care_calendar codes
    ("nd_", "_type"): _fixed("common", "individual"),
    ("nd_reason_", ""): _fixed("few", "one_segment"),
    ("nd_status_", ""): _codes("crmkit.needs", "ACTION_STATUSES", extra=["none"]),
    ("nd_kind_", ""): _codes("crmkit.needs", "ACTION_KINDS", extra=["none"]),
    ("nd_change_", ""): _fixed("rise", "fall", "stable"),
    ("nd_sent_", ""): _fixed("positive", "neutral", "negative"),
    ("nd_event_", ""): _fixed("birthday", "holiday", "post_purchase"),
    # i18n.reason_text: why a number or a step is not available (not_in, published_as_of: a
    # part of crmkit.profile), and what there was too few of (stats.too_few: clv, churn, winback)
    ("na_", ""): _fixed(
        "no_table",
        "empty_table",
        "not_in",
        "published_as_of",
        "no_observations",
        "status_defaulted",
        "too_few",
    ),
    ("na_what_", ""): _fixed(
        "repeat_buyers", "labelled_rows", "churned_rows", "attempts", "training_cutoffs"
    ),
}

#: Call sites whose key is a variable holding a literal from elsewhere (case 3 above).
INDIRECT = {
    ("crmkit/views/base.py", "name"),  # Filters.describe: the field names, keys themselves
    ("crmkit/views/base.py", "self.title_key"),
    ("crmkit/views/base.py", "title"),  # PAGES
    ("crmkit/views/base.py", "desc"),  # PAGES
    ("crmkit/relationship.py", "key"),  # _greeting("rel_birthday" / "rel_holiday" / ...)
    ("crmkit/views/churn.py", "key"),  # ("winback_by_reason", ...), ("winback_by_segment", ...)
    # the title keys of charts and tables shown as "not available" notes: (box, "fig_…") pairs
    ("crmkit/views/churn.py", "title"),
    ("crmkit/views/classification.py", "title"),
    ("crmkit/views/kpi.py", "title"),  # FIGURES
    ("crmkit/views/needs.py", "title"),
    ("crmkit/views/overview.py", "title"),
    ("crmkit/views/satisfaction.py", "title"),
}


# ------------------------------------------------------------------------------ reading source


@dataclass(frozen=True)
class Lookup:
    """One ``t(...)`` call site: where, and what its key is."""

    path: str
    line: int
    key: str | None = None  # case 1
    pattern: tuple[str, str] | None = None  # case 2
    codes: tuple[str, ...] | None = None  # case 2, when read from the source
    expr: str | None = None  # case 3
    keywords: frozenset[str] | None = None  # the placeholders passed (None: **values)

    def where(self) -> str:
        return f"{self.path}:{self.line}"


def _code_cells(path: Path) -> str:
    nb = json.loads(path.read_text(encoding="utf-8"))
    lines = []
    for cell in nb["cells"]:
        if cell["cell_type"] == "code":
            src = "".join(cell["source"])
            lines += [ln for ln in src.splitlines() if not ln.lstrip().startswith(("%", "!"))]
    return "\n".join(lines)


@cache
def _sources() -> dict[str, ast.Module]:
    files = {p: p.read_text(encoding="utf-8") for p in sorted((ROOT / "crmkit").rglob("*.py"))}
    for folder in ("dashboards", "notebooks"):
        files |= {p: _code_cells(p) for p in sorted((ROOT / folder).glob("*.ipynb"))}
    return {str(p.relative_to(ROOT)): ast.parse(src, str(p)) for p, src in files.items()}


def _is_lookup(call: ast.Call) -> bool:
    f = call.func
    if isinstance(f, ast.Name):
        return f.id == "t"
    return isinstance(f, ast.Attribute) and f.attr == "t" and ast.unparse(f.value) == "i18n"


def _parents(tree: ast.AST) -> dict[ast.AST, ast.AST]:
    return {child: node for node in ast.walk(tree) for child in ast.iter_child_nodes(node)}


def _literal_strings(node: ast.AST) -> tuple[str, ...] | None:
    if isinstance(node, (ast.List, ast.Tuple)) and all(
        isinstance(e, ast.Constant) and isinstance(e.value, str) for e in node.elts
    ):
        return tuple(e.value for e in node.elts)
    return None


def _module_name(path: str) -> str | None:
    if not path.startswith("crmkit/"):
        return None
    return path.removesuffix(".py").removesuffix("/__init__").replace("/", ".")


def _resolve_iter(node: ast.AST, at: ast.AST, parents: dict, path: str) -> tuple[str, ...] | None:
    """The codes an iterable expression yields, if the source says so: a literal list / tuple,
    a local name last bound to one before ``at``, or a module constant."""
    if (codes := _literal_strings(node)) is not None:
        return codes
    if not isinstance(node, ast.Name):
        return None
    scope = at
    while scope in parents and not isinstance(scope, (ast.FunctionDef, ast.AsyncFunctionDef)):
        scope = parents[scope]
    if isinstance(scope, (ast.FunctionDef, ast.AsyncFunctionDef)):
        bound = [
            a
            for a in ast.walk(scope)
            if isinstance(a, ast.Assign)
            and any(isinstance(x, ast.Name) and x.id == node.id for x in a.targets)
            and a.lineno < at.lineno
        ]
        if bound:
            return _literal_strings(max(bound, key=lambda a: a.lineno).value)
    module = _module_name(path)
    if module is None:
        return None
    value = getattr(importlib.import_module(module), node.id, None)
    if isinstance(value, (list, tuple, dict)) and all(isinstance(v, str) for v in value):
        return tuple(value)
    return None


def _resolve_codes(var: ast.AST, call: ast.Call, parents: dict, path: str, skip: set[str]):
    """The codes the formatted variable takes, from the loop that binds it, or None."""
    if not isinstance(var, ast.Name):
        return None
    node = call
    while node in parents:
        node = parents[node]
        if isinstance(node, (ast.ListComp, ast.SetComp, ast.DictComp, ast.GeneratorExp)):
            for gen in node.generators:
                if isinstance(gen.target, ast.Name) and gen.target.id == var.id:
                    codes = _resolve_iter(gen.iter, node, parents, path)
                    return None if codes is None else tuple(c for c in codes if c not in skip)
        if (
            isinstance(node, ast.For)
            and isinstance(node.target, ast.Name)
            and node.target.id == var.id
        ):
            codes = _resolve_iter(node.iter, node, parents, path)
            return None if codes is None else tuple(c for c in codes if c not in skip)
    return None


def _pattern(fs: ast.JoinedStr) -> tuple[tuple[str, str], ast.AST] | None:
    """``f"prefix{var}suffix"`` as ((prefix, suffix), var); None for other shapes."""
    parts = fs.values
    values = [p for p in parts if isinstance(p, ast.FormattedValue)]
    if len(values) != 1:
        return None
    i = parts.index(values[0])
    text = [p.value if isinstance(p, ast.Constant) else None for p in parts]
    prefix, suffix = "".join(text[:i]), "".join(text[i + 1 :])
    return (prefix, suffix), values[0].value


def _key_forms(arg: ast.AST) -> list[tuple[ast.AST, set[str]]]:
    """A key argument, or both branches of ``"a" if c == "x" else f"b_{c}"`` (the f-string
    branch then never sees ``c == "x"``)."""
    if isinstance(arg, ast.IfExp):
        skip = set()
        test = arg.test
        if (
            isinstance(test, ast.Compare)
            and len(test.ops) == 1
            and isinstance(test.ops[0], ast.Eq)
            and isinstance(test.comparators[0], ast.Constant)
        ):
            skip = {test.comparators[0].value}
        return [(arg.body, set()), (arg.orelse, skip)]
    return [(arg, set())]


@cache
def lookups() -> tuple[Lookup, ...]:
    found = []
    for path, tree in _sources().items():
        parents = _parents(tree)
        for call in ast.walk(tree):
            if not (isinstance(call, ast.Call) and _is_lookup(call) and call.args):
                continue
            kw = None
            if all(k.arg is not None for k in call.keywords):
                kw = frozenset(k.arg for k in call.keywords)
            for arg, skip in _key_forms(call.args[0]):
                base = {"path": path, "line": call.lineno, "keywords": kw}
                if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
                    found.append(Lookup(key=arg.value, **base))
                elif isinstance(arg, ast.JoinedStr) and (p := _pattern(arg)) is not None:
                    pattern, var = p
                    codes = _resolve_codes(var, call, parents, path, skip)
                    found.append(Lookup(pattern=pattern, codes=codes, **base))
                else:
                    found.append(Lookup(expr=ast.unparse(arg), **base))
    return tuple(found)


def _dynamic_keys() -> dict[str, list[str]]:
    """Every key an f-string lookup can produce → where."""
    keys: dict[str, list[str]] = {}
    for lk in lookups():
        if lk.pattern is None:
            continue
        codes = lk.codes if lk.codes is not None else DYNAMIC[lk.pattern]()
        prefix, suffix = lk.pattern
        for code in codes:
            keys.setdefault(f"{prefix}{code}{suffix}", []).append(lk.where())
    return keys


def _literals_outside_labels() -> set[str]:
    out = set()
    for path, tree in _sources().items():
        skip: set[int] = set()
        if path == "crmkit/i18n.py":
            for node in ast.walk(tree):
                target = getattr(node, "target", None)
                if isinstance(node, ast.AnnAssign) and ast.unparse(target) == "LABELS":
                    skip = {id(n) for n in ast.walk(node.value)}
        out |= {
            n.value
            for n in ast.walk(tree)
            if isinstance(n, ast.Constant) and isinstance(n.value, str) and id(n) not in skip
        }
    return out


def _placeholders(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name}


# ------------------------------------------------------------------------------ the table


def test_the_scan_finds_the_lookups():
    """The scan sees the calls it must: a literal key, an f-string over a module constant
    (``PERIODS``), one over a local column list, one over data (``Filters.describe``), and
    the code cells of every dashboard and notebook."""
    assert len(lookups()) > 300
    assert any(lk.key == "no_data" for lk in lookups())
    periods = [lk for lk in lookups() if lk.pattern == ("period_", "") and lk.codes]
    assert periods and set(periods[0].codes) == {"all", "30d", "90d", "365d"}
    why = [lk for lk in lookups() if lk.pattern == ("col_why_", "")]
    assert why[0].codes == (
        "label", "n_with", "rate_with", "rate_without", "odds_ratio", "adjusted_rr",
        "direction", "share_of_churned",
    )  # fmt: skip
    # "sat_col_team" if c == "label" else f"sat_col_{c}": the f-string never sees "label"
    quality = [lk for lk in lookups() if lk.pattern == ("sat_col_", "") and lk.codes]
    assert all("label" not in lk.codes for lk in quality if "agent" in lk.codes)
    assert any(lk.pattern == ("period_", "") and lk.codes is None for lk in lookups())
    notebooks = {
        str(p.relative_to(ROOT))
        for d in ("dashboards", "notebooks")
        for p in (ROOT / d).glob("*.ipynb")
    }
    assert len(notebooks) >= 12 and notebooks <= set(_sources())


def test_every_label_has_chinese_and_english_with_the_same_placeholders():
    bad = {
        k: v
        for k, v in LABELS.items()
        if not (isinstance(v, tuple) and len(v) == 2 and all(isinstance(x, str) and x for x in v))
    }
    assert bad == {}
    differ = {k: v for k, v in LABELS.items() if _placeholders(v[0]) != _placeholders(v[1])}
    assert differ == {}


def test_every_literal_key_exists():
    missing = sorted(
        f"{lk.key} ({lk.where()})" for lk in lookups() if lk.key and lk.key not in LABELS
    )
    assert missing == []


def test_every_literal_lookup_fills_its_placeholders():
    """``t(key, lang, **values)`` formats only when values are given: a label with
    ``{placeholders}`` looked up without them would show the braces."""
    wrong = []
    for lk in lookups():
        if lk.key in LABELS and lk.keywords is not None:
            need = _placeholders(LABELS[lk.key][0])
            if need != lk.keywords:
                wrong.append(
                    f"{lk.where()} {lk.key}: needs {sorted(need)}, gets {sorted(lk.keywords)}"
                )
    assert wrong == []


def test_every_dynamic_pattern_has_a_known_enumeration():
    """An f-string key whose codes the source does not spell out needs an entry in DYNAMIC;
    and DYNAMIC holds no pattern the code no longer uses."""
    unknown = sorted(
        f"{lk.pattern} at {lk.where()}"
        for lk in lookups()
        if lk.pattern is not None and lk.codes is None and lk.pattern not in DYNAMIC
    )
    assert unknown == []
    unread = {lk.pattern for lk in lookups() if lk.pattern is not None and lk.codes is None}
    assert set(DYNAMIC) <= unread | {lk.pattern for lk in lookups() if lk.pattern}
    shapes = [lk.expr for lk in lookups() if lk.expr and lk.expr.startswith("f")]
    assert shapes == [], "f-strings with more than one formatted value: list their keys"


def test_every_dynamic_key_exists():
    """Every code of every enumeration has its label: a new stage, signal, reason, action,
    team, period or column added without a label would show a KeyError on a page."""
    missing = sorted(f"{k} ({', '.join(w)})" for k, w in _dynamic_keys().items() if k not in LABELS)
    assert missing == []


def test_indirect_lookups_are_the_known_ones():
    seen = {(lk.path, lk.expr) for lk in lookups() if lk.expr is not None}
    assert seen == INDIRECT


def test_no_label_is_unused():
    used = (
        {lk.key for lk in lookups() if lk.key} | set(_dynamic_keys()) | _literals_outside_labels()
    )
    assert sorted(set(LABELS) - used) == []


# ------------------------------------------------------------------------------ lookups


def test_hand_checked_lookups():
    assert t("rows", "zh") == "行数" and t("rows", "en") == "Rows"
    assert t("no_data", "zh") == "没有符合条件的数据"
    assert t("no_data", "en") == "No data for these filters"
    assert (
        t("team_success", "zh") == "客户成功团队" and t("team_success", "en") == "Customer success"
    )
    assert t("rows") == "行数"  # Chinese by default
    # placeholders are filled from keyword arguments, in both languages
    assert t("fig_score_trend", "zh", metric="NPS") == "NPS 趋势（阴影: 95%置信区间）"
    assert t("fig_score_trend", "en", metric="NPS") == "NPS trend (band: 95% CI)"


def test_unknown_key_and_language_fail_clearly():
    with pytest.raises(KeyError, match="no label 'no_such_label' in crmkit.i18n.LABELS"):
        t("no_such_label", "en")
    with pytest.raises(ValueError, match="unknown language 'fr'; expected one of zh, en"):
        t("rows", "fr")
    with pytest.raises(ValueError, match="unknown language 'EN'"):
        i18n.check_lang("EN")
    assert i18n.check_lang("en") == "en"


def test_schema_labels_and_their_fallbacks():
    """Table / column / code labels come from crmkit.schema; an unknown column or code passes
    through unchanged, a missing code shows as —; English codes are the code in words."""
    assert column_label("customers", "no_such_column", "zh") == "no_such_column"
    assert code_label("tickets", "channel", "social") == "社交媒体"
    assert code_label("tickets", "channel", "social", "en") == "social"
    assert code_label("tickets", "channel", "fax") == "fax"
    assert code_label("tickets", "channel", "in_person", "en") == "in person"
    assert code_label("tickets", "channel", None) == "—"
    assert code_label("tickets", "channel", float("nan"), "en") == "—"
    with pytest.raises(ValueError, match="unknown language"):
        column_label("customers", "name", "de")


def test_number_and_date_formats():
    """¥1,234,567.8 rounds to ¥1,234,568; −42.5 to −¥42 (round half to even); 0.1234 → 12.3 %;
    None and NaN → —."""
    assert fmt_money(1234567.8, "en") == "¥1,234,568"
    assert fmt_money(-42.5, "zh") == "-¥42"
    assert fmt_money(None) == fmt_money(float("nan")) == "—"
    assert fmt_pct(0.1234, "zh") == "12.3%" and fmt_pct(0.5, "en", digits=0) == "50%"
    assert i18n.fmt_int(1234567.4) == "1,234,567" and i18n.fmt_int(None) == "—"
    assert fmt_date(date(2024, 3, 1), "zh") == "2024年3月1日"
    assert fmt_date(date(2024, 3, 1), "en") == "1 Mar 2024"
    assert fmt_date(datetime(2024, 12, 31, 9, 5), "zh") == "2024年12月31日 09:05"
    assert fmt_date(datetime(2024, 12, 31, 9, 5), "en") == "31 Dec 2024 09:05"
    assert fmt_date(None) == "—"


# ------------------------------------------------------------------------------ codes on pages

_CJK = re.compile(r"[\u3400-\u9fff]")


def _channel_enumerations() -> dict[tuple[str, str], dict[str, tuple[str, ...]]]:
    """Every channel enumeration of crmkit.schema: those channel_label reads, and the tickets'."""
    columns = [*i18n.CHANNEL_COLUMNS, ("tickets", "channel")]
    return {(tb, c): dict(schema.table(tb)[c].allowed) for tb, c in columns}


def test_channel_labels_hand_checked():
    """Order, contact and acquisition channels in Chinese (the first spelling in
    crmkit.schema), in English the code in words; a company's own channel passes through in
    both languages and a missing one is —, never "None"."""
    zh = {
        c: channel_label(c, "zh")
        for c in ("online", "store", "app", "phone", "wechat", "email", "chat", "social")
    }
    assert zh == {
        "online": "线上", "store": "门店", "app": "应用", "phone": "电话", "wechat": "微信",
        "email": "邮件", "chat": "在线聊天", "social": "社交媒体",
    }  # fmt: skip
    assert [channel_label(c, "zh") for c in ("visit", "service", "referral", "partner")] == [
        "拜访", "服务", "推荐", "合作伙伴",
    ]  # fmt: skip
    assert channel_label("social", "en") == "social"
    assert channel_label("douyin_live", "zh") == channel_label("douyin_live", "en") == "douyin_live"
    assert channel_label(None, "zh") == channel_label(float("nan"), "en") == "—"
    with pytest.raises(ValueError, match="unknown language"):
        channel_label("store", "fr")


def test_every_channel_code_has_one_chinese_label():
    """Each code of each channel enumeration reads in Chinese on a zh page, and a code two
    enumerations share (social, phone, app, online, store) has the same label in both."""
    seen: dict[str, set[str]] = {}
    for codes in _channel_enumerations().values():
        for code in codes:
            label = channel_label(code, "zh")
            assert _CJK.search(label), (code, label)
            seen.setdefault(code, set()).add(label)
    assert {c: ls for c, ls in seen.items() if len(ls) > 1} == {}
    assert {"social", "phone", "app", "online", "store"} <= set(seen)


def test_severity_labels():
    """Ticket severities on the breach list: low 低, medium 中, high 高, critical 紧急."""
    codes = list(schema.table("tickets")["severity"].allowed)
    assert codes == ["low", "medium", "high", "critical"]
    assert [code_label("tickets", "severity", c, "zh") for c in codes] == ["低", "中", "高", "紧急"]
    assert code_label("tickets", "severity", "p1", "zh") == "p1"


def test_match_labels():
    """The duplicate rules by their fields' names: phone 手机, email 邮箱, name+company
    客户名称+公司 (crmkit.schema's labels of the customers columns); an unknown field passes
    through, a missing value is —."""
    assert match_label("phone, email", "zh") == "手机, 邮箱"
    assert match_label("phone, email", "en") == "Phone, Email"
    assert match_label("name+company", "zh") == "客户名称+公司"
    assert match_label("phone, email, name+company", "en") == "Phone, Email, Name+Company"
    assert match_label("phone, wechat_id", "zh") == "手机, wechat_id"
    assert match_label(None, "zh") == "—"
    for rule in quality.MATCH_RULES:
        assert _CJK.search(match_label(rule, "zh")), rule
        assert not _CJK.search(match_label(rule, "en")), rule


def test_cluster_names_from_top_terms():
    """A new-need cluster (``new_<n>``) is named by its two heaviest top terms, in both
    languages; the terms are the customers' words and are not translated. A taxonomy topic
    keeps its taxonomy name; a topic with no known terms passes through."""
    assert text.cluster_name("电池|续航|充电|待机", "zh") == "新话题：电池 / 续航"
    assert text.cluster_name("battery|life|charge", "en") == "New topic: battery / life"
    assert text.cluster_name("包装", "en") == "New topic: 包装"
    terms = {"new_1": "电池|续航|充电", "new_2": "battery|life"}
    assert text.topic_label("new_1", "zh", clusters=terms) == "新话题：电池 / 续航"
    assert text.topic_label("new_2", "en", clusters=terms) == "New topic: battery / life"
    assert text.topic_label("delivery", "zh", clusters=terms) == "物流配送"
    assert text.topic_label("new_3", "zh", clusters=terms) == "new_3"
    assert text.topic_label("new_1", "zh") == "new_1"
    with pytest.raises(ValueError, match="no terms in top_terms ''"):
        text.cluster_name("", "zh")


def test_long_tables_say_how_many_rows_are_hidden_in_the_page_language():
    """Five rows, two shown: 3 more, in Chinese on a zh page."""
    from crmkit.views.base import html_table

    df = pd.DataFrame({"x": range(5)})
    assert html_table(df, {"x": "X"}, lang="zh", max_rows=2).endswith(
        "<div class='crmkit-sub'>… 另有 3 行未显示</div>"
    )
    assert "… 3 more</div>" in html_table(df, {"x": "X"}, lang="en", max_rows=2)
    assert "crmkit-sub" not in html_table(df, {"x": "X"}, lang="zh", max_rows=5)
