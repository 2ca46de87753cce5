"""Customer classification (客户分类, step 1): RFM, value, type, lifecycle, needs, migration.

Every function takes a table (or the connection) and returns an Ibis expression, so the work runs
inside DuckDB; every result carries ``as_of`` and ``rules_version``. The defaults live in one
versioned file, ``crmkit/config/classification_rules.json`` (:func:`load_rules`).

The rules
---------
Counted orders
    Orders with ``order_ts <= as_of`` whose ``status`` is not excluded (``returned``,
    ``refunded``, ``cancelled`` by default; a null status or a missing ``customer_sk`` is not
    counted either). A customer without a counted order is absent from :func:`rfm` and is
    *potential* in :func:`classify`.
recency_days, frequency, monetary
    Calendar days from the date of the last counted order to ``as_of``'s date (0 = bought on
    the ``as_of`` day); number of counted orders; sum of their ``amount``.
Scores 1-5 (``r_score``, ``f_score``, ``m_score``)
    Customers are ordered from worst to best (largest ``recency_days`` first; smallest
    ``frequency`` / ``monetary`` first) and ``score = 1 + floor(5 * (rank_min - 1) / n)``, where
    ``rank_min`` is the SQL ``RANK()`` (1-based; tied customers share the lowest rank of their
    group) and ``n`` the number of customers scored. Consequences: equal values always get equal
    scores, and a tie group takes the score of its worst position (ties are pulled *down*);
    without ties and with ``n`` a multiple of 5 every score holds exactly ``n / 5`` customers
    (``n = 10``: 1,1,2,2,3,3,4,4,5,5); the best customer gets 5 only when ``n >= 5`` (``n = 1``:
    score 1; ``n = 3``: 1, 2, 4); when every customer has the same value they all get 1.
High / low (``r_high``, ``f_high``, ``m_high``) and the 8 RFM classes
    The split value of each measure is its mean (default) or median over the scored customers.
    A customer is *high* when strictly better than the split: ``recency_days < split`` (more
    recent), ``frequency > split``, ``monetary > split``. A value equal to the split is *low*
    (with a median split and most customers at one order, ``>=`` would call everyone
    frequent; and when every value is equal nobody stands out). The class follows
    :data:`RFM_CLASSES` (重要价值客户 = R高F高M高 … 一般挽留客户 = R低F低M低).
ABC value level (``abc_class``: A 高价值 / B 中价值 / C 低价值)
    Customers are sorted by ``monetary`` descending. ``revenue_before`` is the revenue of all
    customers with a *strictly greater* ``monetary``, ``before_share = revenue_before / total``.
    A when ``before_share < 0.70``, B when ``< 0.90``, else C (cut-offs configurable). So the
    customer whose revenue crosses 70 % is in A (A is the smallest set of top customers holding
    at least 70 % of revenue), and customers with equal ``monetary`` always share a class. When
    total revenue is 0 everyone is C.
金 / 银 / 铜 tiers (``value_tier``: gold / silver / bronze)
    ``method = "quantile"`` (default, gold 0.10, silver 0.30): ``top_share`` = share of scored
    customers whose ``monetary`` is greater than or equal to the customer's own (ties and the
    customer included); gold when ``top_share <= gold``, silver when ``<= gold + silver``, else
    bronze — ties are pulled down, like the scores. ``method = "monetary"``: gold when
    ``monetary >= gold``, silver when ``>= silver`` (amounts in the company's currency).
Customer type (``customer_type``), first rule that applies
    1. potential 潜在: no counted order as of ``as_of`` (including customers whose every order was
       returned, refunded or cancelled);
    2. churned 流失: ``recency_days > churn_days``; ``churn_days`` is explicit or ``"auto"``: the
       data's purchase cycle times ``cycle_multiplier`` (3), rounded to whole days. A customer's
       cycle is ``(last - first order date) / (frequency - 1)`` days (customers with 2+ counted
       orders); the data's cycle is the median of those. With no such customer,
       ``fallback_days`` (365) applies;
    3. important 重要: ABC class in ``important.abc_classes`` (A) or created at least
       ``min_tenure_years`` (3) calendar years before ``as_of``;
    4. existing 现有: everyone else.
Owner team and strategy
    The customer type's ``owner_team`` / ``strategy`` when the rules set one (potential and
    churned → marketing; important → success), else those of the customer's RFM class.
Lifecycle stage (``lifecycle_stage``: 意识 考虑 购买 使用 忠诚 流失), first rule that applies
    Days are calendar days between dates (``as_of``'s date minus the event's date); the
    thresholds are in the rules' ``lifecycle`` section.

    1. churn 流失: ``customer_type`` is churned;
    2. loyalty 忠诚: at least one counted order and either (a) ``frequency >=
       loyalty_min_orders`` (2), ``f_score >= loyalty_min_f_score`` (4) and the first counted
       order ``>= loyalty_min_tenure_days`` (365) days before ``as_of``; or (b) with
       ``loyalty_by_referral`` (true) at least one converted referral (``referrals`` with the
       customer as referrer, ``converted`` true, ``ts <= as_of``);
    3. purchase 购买: ``frequency`` is 1, or the first counted order is at most
       ``purchase_days`` (30) days before ``as_of`` (a new buyer is still onboarding);
    4. usage 使用: every other customer with a counted order (2+ orders, not loyal);
    5. consideration 考虑: no counted order, but an opportunity open at ``as_of`` (``opened_at
       <= as_of`` and either its stage is not won / lost, or it closed after ``as_of``) or an
       inbound interaction at most ``consideration_days`` (90) days before ``as_of``;
    6. awareness 意识: every other customer (known to us, no counted order, no recent inbound
       contact and no open opportunity).
Needs-based segments (客户需求), thresholds in the rules' ``needs`` section
    ``need_type`` 产品需求客户 / 服务需求客户: ``contacts`` = interactions (any channel or
    direction) plus tickets up to ``as_of``; ``service_contacts`` = interactions on the
    ``service`` channel plus tickets; ``service_share = service_contacts / contacts``. *service*
    when ``service_share >= service_share`` (0.5), else *product* (also with no contacts,
    where ``service_share`` is null).
    ``price_profile`` 价格敏感客户 / 新品爱好者 / 一般 over the counted orders:
    ``discount_share`` = share with ``discount > 0`` (a null discount is no discount);
    ``new_product_share`` = share placed within ``new_product_days`` (90) days of the product's
    ``launch_date`` (``0 <= order date - launch_date <= 90``; a product without a launch date
    is not new). *price_sensitive* when ``discount_share >= discount_share`` (0.5),
    *new_product_fan* when ``new_product_share >= new_product_share`` (0.5); when both hold
    the larger share wins and an exact tie goes to *price_sensitive* (the discount is the
    directly observed behaviour); otherwise, and for customers without a counted order
    (shares null), *neutral*.
Snapshots and migration
    :func:`snapshot_dates` gives quarter ends (23:59:59 on the last day of March, June,
    September, December) strictly before ``as_of`` plus ``as_of``; :func:`snapshots` stacks
    :func:`classify` at each date; :func:`migration_matrix` counts customers (and their
    revenue at the later date) per pair of segments between two snapshots.

Examples
--------
>>> from datetime import datetime
>>> from crmkit import classification, db
>>> con = db.connect(":memory:", read_only=False)
>>> db.create_schema(con)
>>> classification.load_rules()["version"]
'2026.11-2'
>>> classification.classify(con, as_of=datetime(2024, 6, 30)).count().execute()
0
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Mapping, Sequence
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Any

import ibis
import ibis.expr.datatypes as dt
import ibis.expr.types as ir
import pandas as pd
from ibis.backends import BaseBackend

from crmkit import config as _config
from crmkit import definitions, periods, schema

RULES_PATH = Path(__file__).parent / "config" / "classification_rules.json"

#: The 8 RFM classes: code → (R high, F high, M high, zh, en).
RFM_CLASSES: dict[str, tuple[bool, bool, bool, str, str]] = {
    "important_value": (True, True, True, "重要价值客户", "Important value"),
    "important_develop": (True, False, True, "重要发展客户", "Important develop"),
    "important_keep": (False, True, True, "重要保持客户", "Important keep"),
    "important_retain": (False, False, True, "重要挽留客户", "Important retain"),
    "general_value": (True, True, False, "一般价值客户", "General value"),
    "general_develop": (True, False, False, "一般发展客户", "General develop"),
    "general_keep": (False, True, False, "一般保持客户", "General keep"),
    "general_retain": (False, False, False, "一般挽留客户", "General retain"),
}
#: ABC value levels: code → (zh, en).
ABC_CLASSES: dict[str, tuple[str, str]] = {
    "A": ("高价值", "High value"),
    "B": ("中价值", "Medium value"),
    "C": ("低价值", "Low value"),
}
#: 金 / 银 / 铜 tiers: code → (zh, en).
VALUE_TIERS: dict[str, tuple[str, str]] = {
    "gold": ("金", "Gold"),
    "silver": ("银", "Silver"),
    "bronze": ("铜", "Bronze"),
}
#: Customer types in the order their rules are tried.
CUSTOMER_TYPES: tuple[str, ...] = ("potential", "churned", "important", "existing")
#: Lifecycle stages (客户生命周期) in the customer's order of travel: code → (zh, en).
LIFECYCLE_STAGES: dict[str, tuple[str, str]] = {
    "awareness": ("意识", "Awareness"),
    "consideration": ("考虑", "Consideration"),
    "purchase": ("购买", "Purchase"),
    "usage": ("使用", "Usage"),
    "loyalty": ("忠诚", "Loyalty"),
    "churn": ("流失", "Churn"),
}
#: Needs-based segments (客户需求): code → (zh, en).
NEED_TYPES: dict[str, tuple[str, str]] = {
    "product": ("产品需求客户", "Product-need"),
    "service": ("服务需求客户", "Service-need"),
}
#: Price profiles: code → (zh, en).
PRICE_PROFILES: dict[str, tuple[str, str]] = {
    "price_sensitive": ("价格敏感客户", "Price-sensitive"),
    "new_product_fan": ("新品爱好者", "New-product fan"),
    "neutral": ("一般", "Neutral"),
}
#: ``from_segment`` of customers absent from the earlier snapshot in :func:`migration_matrix`;
#: ``to_segment`` of customers absent from the later one; either side when the segment is null.
NEW_SEGMENT, REMOVED_SEGMENT, NO_SEGMENT = "new", "removed", "none"
SPLITS: tuple[str, ...] = ("mean", "median")
TIER_METHODS: tuple[str, ...] = ("quantile", "monetary")

_TS = schema.IBIS_TYPES["timestamp"]
_ORDER_COLUMNS = ("customer_sk", "customer_id", "order_ts", "amount", "status")
_RFM_COLUMNS = ("customer_sk", "recency_days", "frequency", "monetary")
#: The measures behind the lifecycle stage and the needs, in :func:`classify`'s output order.
_ACTIVITY_COLUMNS = (
    "contacts",
    "service_contacts",
    "service_share",
    "recent_inbound",
    "open_opportunities",
    "converted_referrals",
    "discount_share",
    "new_product_share",
)


# ---------------------------------------------------------------------------------------------
# rules
# ---------------------------------------------------------------------------------------------


class RulesError(ValueError):
    """The classification rules are malformed; the message says where and what is expected."""


def load_rules(path: str | os.PathLike | None = None) -> dict[str, Any]:
    """Read and validate a classification rules file.

    Parameters
    ----------
    path : path-like, optional
        A JSON file shaped like ``crmkit/config/classification_rules.json`` (the default).

    Returns
    -------
    dict
        The validated rules; ``rules["version"]`` is stored with every result.

    Raises
    ------
    RulesError
        When the file is not valid JSON or a rule is missing or out of range; the message names
        the rule (e.g. ``abc.cutoffs``), the value found and what is expected.

    Examples
    --------
    >>> load_rules()["rfm"]["split"]
    'mean'
    """
    p = Path(path) if path is not None else RULES_PATH
    try:
        raw = json.loads(p.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise RulesError(f"classification rules file {str(p)!r} does not exist") from None
    except json.JSONDecodeError as e:
        raise RulesError(f"classification rules file {str(p)!r} is not valid JSON: {e}") from None
    return validate_rules(raw, source=str(p))


def validate_rules(rules: Mapping[str, Any], *, source: str = "rules") -> dict[str, Any]:
    """Check a rules mapping (see :func:`load_rules`) and return it as a plain dict.

    The shape, types and ranges are checked against ``schemas/classification_rules.schema.json``
    (:func:`crmkit.config.validate`); what a schema cannot say is checked here: the ABC cutoffs
    increase, the tier thresholds fit their method, and every class names a strategy that
    exists.
    """

    def fail(key: str, found: object, expected: str) -> None:
        raise RulesError(f"{source}: {key} is {found!r}; expected {expected}")

    if not isinstance(rules, Mapping):
        raise RulesError(f"{source}: the rules must be a JSON object, got {type(rules).__name__}")
    try:
        _config.validate("rules", json.loads(json.dumps(rules)), source)
    except _config.ConfigError as e:
        raise RulesError(str(e)) from None
    cutoffs = rules["abc"]["cutoffs"]
    if not cutoffs[0] < cutoffs[1]:
        fail("abc.cutoffs", cutoffs, "two increasing shares in (0, 1], e.g. [0.7, 0.9]")
    _check_tiers(rules["tiers"], fail)
    strategies = rules["strategies"]
    for section, required in (("customer_types", ("potential",)), ("rfm_classes", RFM_CLASSES)):
        for code, spec in rules[section].items():
            team, strategy = spec.get("owner_team"), spec.get("strategy")
            if team is None and code in required:
                fail(f"{section}.{code}.owner_team", team, f"one of {sorted(schema.OWNER_TEAMS)}")
            if (strategy is None and code in required) or (
                strategy is not None and strategy not in strategies
            ):
                fail(f"{section}.{code}.strategy", strategy, f"one of {sorted(strategies)}")
    return json.loads(json.dumps(rules))


def _number(x: object) -> bool:
    return isinstance(x, int | float) and not isinstance(x, bool) and math.isfinite(x)


def _valid_cutoffs(cutoffs: object) -> bool:
    return (
        isinstance(cutoffs, list | tuple)
        and len(cutoffs) == 2
        and all(_number(c) for c in cutoffs)
        and 0 < cutoffs[0] < cutoffs[1] <= 1
    )


def _check_tiers(tiers: Mapping[str, Any], fail) -> None:
    method, gold, silver = tiers.get("method"), tiers.get("gold"), tiers.get("silver")
    if method not in TIER_METHODS:
        fail("tiers.method", method, f"one of {list(TIER_METHODS)}")
    if not _number(gold) or not _number(silver):
        fail("tiers.gold / tiers.silver", (gold, silver), "two numbers")
    if method == "quantile" and not (gold > 0 and silver >= 0 and gold + silver <= 1):
        fail(
            "tiers.gold / tiers.silver",
            (gold, silver),
            "shares of customers with gold > 0, silver >= 0 and gold + silver <= 1, "
            "e.g. 0.10 and 0.30",
        )
    if method == "monetary" and not gold > silver >= 0:
        fail("tiers.gold / tiers.silver", (gold, silver), "amounts with gold > silver >= 0")


def _rules(rules: Mapping[str, Any] | str | os.PathLike | None) -> dict[str, Any]:
    if rules is None:
        return load_rules()
    if isinstance(rules, Mapping):
        return validate_rules(rules)
    return load_rules(rules)


def _require(t: ir.Table, columns: tuple[str, ...], what: str) -> None:
    missing = [c for c in columns if c not in t.columns]
    if missing:
        raise ValueError(
            f"{what} lacks column(s) {missing}; expected at least {list(columns)} "
            f"(got {list(t.columns)})"
        )


def _stamp(t: ir.Table, as_of: datetime, rules: Mapping[str, Any]) -> ir.Table:
    return t.mutate(
        as_of=ibis.literal(as_of, type=_TS),
        rules_version=ibis.literal(rules["version"], type=dt.string),
    )


# ---------------------------------------------------------------------------------------------
# RFM
# ---------------------------------------------------------------------------------------------


def _score(value: ir.Value, *, worst_first_descending: bool) -> ir.IntegerValue:
    """``1 + floor(5 * (rank_min - 1) / n)`` over values ordered worst → best."""
    order = ibis.desc(value) if worst_first_descending else ibis.asc(value)
    rank0 = ibis.rank().over(order_by=order)  # RANK() - 1: customers strictly worse
    n = value.count().over()
    return (1 + (rank0 * 5) // n).cast("int8")


def rfm(
    con_or_orders: BaseBackend | ir.Table,
    *,
    as_of: datetime,
    exclude_statuses: tuple[str, ...] | None = None,
    rules: Mapping[str, Any] | str | os.PathLike | None = None,
) -> ir.Table:
    """Recency, frequency, monetary and their 1-5 scores per customer, as of a moment.

    Parameters
    ----------
    con_or_orders : ibis backend or table
        The warehouse (its ``orders`` table is used) or an orders table with at least
        ``customer_sk``, ``customer_id``, ``order_ts``, ``amount`` and ``status``.
    as_of : datetime
        Orders placed after this moment are ignored; recency counts days to its date.
    exclude_statuses : tuple of str, optional
        Order statuses not counted; default from the rules: returned, refunded, cancelled.
    rules : mapping or path, optional
        Classification rules (:func:`load_rules`); default the packaged file.

    Returns
    -------
    ibis.Table
        One row per customer with a counted order: ``customer_sk``, ``customer_id``,
        ``first_order_ts``, ``last_order_ts``, ``recency_days``, ``frequency``, ``monetary``,
        ``r_score``, ``f_score``, ``m_score``, ``as_of``, ``rules_version``. The scoring rule
        (ties get equal scores, pulled down) is in the module docstring.

    Examples
    --------
    >>> from crmkit import db
    >>> con = db.connect(":memory:", read_only=False)
    >>> db.create_schema(con)
    >>> rfm(con, as_of=datetime(2024, 6, 30)).columns[:4]
    ('customer_sk', 'customer_id', 'first_order_ts', 'last_order_ts')
    """
    as_of = schema.check_as_of(as_of)
    rules = _rules(rules)
    if exclude_statuses is None:
        exclude_statuses = tuple(rules["rfm"]["exclude_statuses"])
    if isinstance(exclude_statuses, str):
        raise TypeError(
            f"exclude_statuses must be a tuple of statuses, got the string {exclude_statuses!r}; "
            f"write ({exclude_statuses!r},)"
        )
    is_table = isinstance(con_or_orders, ir.Table)
    orders = con_or_orders if is_table else con_or_orders.table("orders")
    _require(orders, _ORDER_COLUMNS, "the orders table")
    counted = definitions.counted_orders(orders, excluded=exclude_statuses, as_of=as_of)
    # Two layers only (aggregate, then one select with the window scores and the stamp): each
    # extra projection layer costs Ibis' compiler a pass over the whole query, a fixed cost
    # paid on every call that was as large as DuckDB's own work at 1 M orders.
    last = counted.order_ts.max()
    per = counted.group_by("customer_sk").aggregate(
        customer_id=counted.customer_id.arbitrary(),
        first_order_ts=counted.order_ts.min(),
        last_order_ts=last,
        recency_days=ibis.literal(as_of.date()).delta(last.date(), unit="day"),
        frequency=counted.count(),
        monetary=counted.amount.sum().fill_null(0),
    )
    return per.select(
        "customer_sk",
        "customer_id",
        "first_order_ts",
        "last_order_ts",
        "recency_days",
        "frequency",
        "monetary",
        r_score=_score(per.recency_days, worst_first_descending=True),
        f_score=_score(per.frequency, worst_first_descending=False),
        m_score=_score(per.monetary, worst_first_descending=False),
        as_of=ibis.literal(as_of, type=_TS),
        rules_version=ibis.literal(rules["version"], type=dt.string),
    )


def rfm_classes(
    rfm_table: ir.Table,
    *,
    split: str | None = None,
    rules: Mapping[str, Any] | str | os.PathLike | None = None,
) -> ir.Table:
    """R/F/M high-low flags and the 8 Chinese RFM classes (重要价值客户 … 一般挽留客户).

    Parameters
    ----------
    rfm_table : ibis.Table
        The output of :func:`rfm` (at least ``customer_sk``, ``recency_days``, ``frequency``,
        ``monetary``). The split values are computed over all of its rows.
    split : {"mean", "median"}, optional
        The split value of each measure; default from the rules (``"mean"``).
    rules : mapping or path, optional
        Classification rules (:func:`load_rules`).

    Returns
    -------
    ibis.Table
        ``rfm_table`` plus ``r_split``, ``f_split``, ``m_split`` (float), ``r_high``,
        ``f_high``, ``m_high`` (high = strictly better than the split: ``recency_days <
        r_split``, ``frequency > f_split``, ``monetary > m_split``), ``rfm_class`` (code, e.g.
        ``important_keep``), ``rfm_class_zh``, ``rfm_class_en``, ``rules_version``.
    """
    rules = _rules(rules)
    split = split if split is not None else rules["rfm"]["split"]
    if split not in SPLITS:
        raise ValueError(f"split must be one of {list(SPLITS)}, got {split!r}")
    _require(rfm_table, _RFM_COLUMNS, "rfm_table")
    t = rfm_table

    def split_of(col: ir.NumericColumn) -> ir.FloatingValue:
        col = col.cast("float64")
        return (col.mean() if split == "mean" else col.median()).over()

    t = t.mutate(
        r_split=split_of(t.recency_days),
        f_split=split_of(t.frequency),
        m_split=split_of(t.monetary),
    )
    # flags and classes in one layer (the flags written out where the class needs them): every
    # extra projection layer is another pass of Ibis' compiler over the whole query
    r_high = t.recency_days.cast("float64") < t.r_split
    f_high = t.frequency.cast("float64") > t.f_split
    m_high = t.monetary.cast("float64") > t.m_split
    # the three flags as one number 0-7 (r·4 + f·2 + m): one simple CASE per label instead of
    # eight three-way conditions, which keeps the compiled query small (compiling is a fixed
    # cost paid on every call, large next to the scan on small data)
    bits = (r_high.cast("int8") * 4 + f_high.cast("int8") * 2 + m_high.cast("int8")).cast("int8")

    bit = {k: 4 * r + 2 * f + m for k, (r, f, m, _, _) in RFM_CLASSES.items()}

    def label(field: int) -> ir.StringValue:
        return bits.cases(*[(bit[k], v[field]) for k, v in RFM_CLASSES.items()])

    return t.mutate(
        r_high=r_high,
        f_high=f_high,
        m_high=m_high,
        rfm_class=bits.cases(*[(b, k) for k, b in bit.items()]),
        rfm_class_zh=label(3),
        rfm_class_en=label(4),
        rules_version=ibis.literal(rules["version"], type=dt.string),
    )


def value_tiers(
    rfm_table: ir.Table,
    *,
    abc_cutoffs: tuple[float, float] | None = None,
    tier_thresholds: Mapping[str, Any] | None = None,
    rules: Mapping[str, Any] | str | os.PathLike | None = None,
) -> ir.Table:
    """ABC value level (高/中/低价值) by share of revenue and 金/银/铜 tiers per customer.

    Parameters
    ----------
    rfm_table : ibis.Table
        At least ``customer_sk`` and ``monetary`` (the output of :func:`rfm`).
    abc_cutoffs : (float, float), optional
        Cumulative revenue shares closing A and B; default from the rules, (0.7, 0.9).
    tier_thresholds : mapping, optional
        ``{"method": "quantile", "gold": 0.10, "silver": 0.30}`` (shares of customers) or
        ``{"method": "monetary", "gold": 10000, "silver": 2000}`` (amounts); default from the
        rules.
    rules : mapping or path, optional
        Classification rules (:func:`load_rules`).

    Returns
    -------
    ibis.Table
        ``rfm_table`` plus ``revenue_share`` (own monetary / total), ``before_share`` (share of
        customers with strictly greater monetary), ``cum_share`` (``before_share`` plus the
        share of the customer's tie group: the Pareto curve), ``abc_class`` (A/B/C),
        ``abc_class_zh``, ``abc_class_en``, ``top_share``, ``value_tier``
        (gold/silver/bronze), ``value_tier_zh``, ``value_tier_en``, ``rules_version``. Rules in
        the module docstring: the customer crossing a cut-off belongs to the higher class.
    """
    rules = _rules(rules)
    cutoffs = tuple(abc_cutoffs) if abc_cutoffs is not None else tuple(rules["abc"]["cutoffs"])
    if not _valid_cutoffs(cutoffs):
        raise ValueError(
            f"abc_cutoffs must be two increasing shares in (0, 1], got {cutoffs!r}; e.g. (0.7, 0.9)"
        )
    tiers = dict(tier_thresholds) if tier_thresholds is not None else rules["tiers"]

    def fail(key: str, found: object, expected: str) -> None:
        raise ValueError(f"tier_thresholds: {key} is {found!r}; expected {expected}")

    _check_tiers(tiers, fail)
    _require(rfm_table, ("customer_sk", "monetary"), "rfm_table")
    t = rfm_table

    # Revenue per distinct monetary value, so that tied customers share one cumulative position.
    groups = t.group_by(_m=t.monetary).aggregate(_group_rev=t.monetary.sum().cast("float64"))
    groups = groups.mutate(
        _before=groups._group_rev.cumsum(order_by=ibis.desc(groups._m)) - groups._group_rev,
        _total=groups._group_rev.sum().over(),
    )
    t = t.join(groups, t.monetary == groups._m)
    total = t._total.nullif(0)
    t = t.mutate(
        revenue_share=(t.monetary.cast("float64") / total).fill_null(0.0),
        before_share=(t._before / total).fill_null(1.0),
        cum_share=((t._before + t._group_rev) / total).fill_null(1.0),
    )
    t = t.mutate(
        abc_class=ibis.cases(
            (t.before_share < cutoffs[0], "A"), (t.before_share < cutoffs[1], "B"), else_="C"
        )
    )
    rank0 = ibis.rank().over(order_by=ibis.asc(t.monetary))  # customers strictly below
    n = t.count().over()
    t = t.mutate(top_share=(n - rank0).cast("float64") / n.cast("float64"))
    if tiers["method"] == "quantile":
        gold_cut = round(tiers["gold"], 12)
        silver_cut = round(tiers["gold"] + tiers["silver"], 12)
        tier = ibis.cases(
            (t.top_share <= gold_cut, "gold"), (t.top_share <= silver_cut, "silver"), else_="bronze"
        )
    else:
        m = t.monetary.cast("float64")
        tier = ibis.cases(
            (m >= float(tiers["gold"]), "gold"),
            (m >= float(tiers["silver"]), "silver"),
            else_="bronze",
        )
    t = t.mutate(value_tier=tier)
    t = t.mutate(
        abc_class_zh=t.abc_class.cases(*[(k, v[0]) for k, v in ABC_CLASSES.items()]),
        abc_class_en=t.abc_class.cases(*[(k, v[1]) for k, v in ABC_CLASSES.items()]),
        value_tier_zh=t.value_tier.cases(*[(k, v[0]) for k, v in VALUE_TIERS.items()]),
        value_tier_en=t.value_tier.cases(*[(k, v[1]) for k, v in VALUE_TIERS.items()]),
        rules_version=ibis.literal(rules["version"], type=dt.string),
    )
    return t.drop("_m", "_group_rev", "_before", "_total")


# ---------------------------------------------------------------------------------------------
# customer type, owner and strategy
# ---------------------------------------------------------------------------------------------


def churn_days(rfm_table: ir.Table, rules: Mapping[str, Any] | None = None) -> ir.IntegerScalar:
    """Days of silence after which a customer counts as churned (流失), as a scalar expression.

    An explicit ``churn.days`` in the rules is returned as is. With ``"auto"``: each customer
    with two or more counted orders has a purchase cycle of ``(last - first order date) /
    (frequency - 1)`` days; the data's cycle is the median of those, times
    ``churn.cycle_multiplier`` (3), rounded to whole days; ``churn.fallback_days`` (365) when no
    customer has two orders.

    Examples
    --------
    >>> import ibis
    >>> t = ibis.memtable({"customer_sk": [1, 2], "recency_days": [0, 0], "frequency": [3, 2],
    ...     "monetary": [1, 1], "first_order_ts": [datetime(2024, 1, 1), datetime(2024, 1, 1)],
    ...     "last_order_ts": [datetime(2024, 1, 21), datetime(2024, 1, 31)]})
    >>> churn_days(t).execute()  # cycles 10 and 30 days, median 20, times 3
    60
    """
    rules = _rules(rules)
    churn = rules["churn"]
    if churn["days"] != "auto":
        return ibis.literal(int(churn["days"]), type=dt.int64)
    _require(rfm_table, ("frequency", "first_order_ts", "last_order_ts"), "rfm_table")
    repeat = rfm_table.filter(rfm_table.frequency >= 2)
    cycle = repeat.last_order_ts.date().delta(repeat.first_order_ts.date(), unit="day").cast(
        "float64"
    ) / (repeat.frequency - 1).cast("float64")
    median = repeat.aggregate(_cycle=cycle.median())._cycle.as_scalar()
    days = (median * float(churn["cycle_multiplier"])).round().cast("int64")
    return days.fill_null(int(churn["fallback_days"]))


def _years_before(as_of: datetime, years: int) -> datetime:
    try:
        return as_of.replace(year=as_of.year - years)
    except ValueError:  # 29 February, and the year `years` back is not a leap year
        return as_of.replace(year=as_of.year - years, day=28)


def _day_start(d: date) -> ir.TimestampValue:
    return ibis.literal(datetime.combine(d, time.min), type=_TS)


def _activity(
    con: BaseBackend, as_of: datetime, rules: Mapping[str, Any]
) -> list[tuple[ir.Table, dict[str, Any]]]:
    """Per-customer measures behind the lifecycle stage and the needs (keyed ``_sk``).

    Returns (table, {column: value when the customer has no row}) pairs; a table missing from
    the connection contributes nothing (its counts are 0, its shares null).
    """
    present = set(con.list_tables())
    cutoff = ibis.literal(as_of, type=_TS)
    out: list[tuple[ir.Table, dict[str, Any]]] = []
    contact_parts = []
    if "interactions" in present:
        i = con.table("interactions")
        _require(i, ("customer_sk", "ts", "channel", "direction"), "the interactions table")
        i = i.filter((i.ts <= cutoff) & i.customer_sk.notnull())
        since = _day_start(as_of.date() - timedelta(days=rules["lifecycle"]["consideration_days"]))
        contact_parts.append(
            i.group_by(_sk=i.customer_sk).aggregate(
                _contacts=i.count(),
                _service=(i.channel == "service").sum().fill_null(0),
                recent_inbound=((i.direction == "inbound") & (i.ts >= since)).sum().fill_null(0),
            )
        )
    if "tickets" in present:
        k = con.table("tickets")
        _require(k, ("customer_sk", "opened_at"), "the tickets table")
        k = k.filter((k.opened_at <= cutoff) & k.customer_sk.notnull())
        contact_parts.append(
            k.group_by(_sk=k.customer_sk).aggregate(
                _contacts=k.count(), _service=k.count(), recent_inbound=ibis.literal(0, dt.int64)
            )
        )
    if contact_parts:
        c = ibis.union(*contact_parts) if len(contact_parts) > 1 else contact_parts[0]
        c = c.group_by("_sk").aggregate(
            contacts=c._contacts.sum(),
            service_contacts=c._service.sum(),
            recent_inbound=c.recent_inbound.sum(),
        )
        c = c.mutate(service_share=c.service_contacts.cast("float64") / c.contacts.cast("float64"))
        out.append((c, {"contacts": 0, "service_contacts": 0, "recent_inbound": 0}))
    if "opportunities" in present:
        o = con.table("opportunities")
        _require(o, ("customer_sk", "stage", "opened_at", "closed_at"), "the opportunities table")
        still_open = ~o.stage.isin(["won", "lost"]) | (o.closed_at > cutoff).fill_null(False)
        o = o.filter((o.opened_at <= cutoff) & o.customer_sk.notnull() & still_open)
        out.append(
            (
                o.group_by(_sk=o.customer_sk).aggregate(open_opportunities=o.count()),
                {"open_opportunities": 0},
            )
        )
    if "referrals" in present:
        r = con.table("referrals")
        _require(r, ("referrer_sk", "ts", "converted"), "the referrals table")
        r = r.filter((r.ts <= cutoff) & r.referrer_sk.notnull() & r.converted.fill_null(False))
        out.append(
            (
                r.group_by(_sk=r.referrer_sk).aggregate(converted_referrals=r.count()),
                {"converted_referrals": 0},
            )
        )
    orders = con.table("orders")
    _require(orders, ("customer_sk", "order_ts", "status", "discount", "product_id"), "orders")
    counted = definitions.counted_orders(
        orders, excluded=rules["rfm"]["exclude_statuses"], as_of=as_of
    )
    discounted = (counted.discount > 0).fill_null(False).cast("float64")
    if "products" in present:
        p = con.table("products")
        _require(p, ("product_id", "launch_date"), "the products table")
        p = p.select(_pid=p.product_id, _launch=p.launch_date)
        counted = counted.left_join(p, counted.product_id == p._pid)
        age = counted.order_ts.date().delta(counted._launch, unit="day")
        is_new = age.between(0, rules["needs"]["new_product_days"]).fill_null(False)
    else:
        is_new = counted.order_ts.isnull()  # never true: counted orders have an order_ts
    out.append(
        (
            counted.group_by(_sk=counted.customer_sk).aggregate(
                discount_share=discounted.mean(), new_product_share=is_new.cast("float64").mean()
            ),
            {},
        )
    )
    return out


def _lifecycle_and_needs(
    con: BaseBackend, t: ir.Table, as_of: datetime, rules: Mapping[str, Any]
) -> ir.Table:
    """Join the activity measures onto the classified customers and derive the new segments."""
    head = list(t.columns)
    for part, zeros in _activity(con, as_of, rules):
        part = part.rename(_k="_sk")
        t = t.left_join(part, t.customer_sk == part._k).drop("_k")
        t = t.mutate(**{col: t[col].fill_null(v) for col, v in zeros.items()})
    for col, typ in (
        ("contacts", dt.int64),
        ("service_contacts", dt.int64),
        ("recent_inbound", dt.int64),
        ("service_share", dt.float64),
        ("open_opportunities", dt.int64),
        ("converted_referrals", dt.int64),
    ):
        if col not in t.columns:
            t = t.mutate(**{col: ibis.literal(0 if typ.is_integer() else None, type=typ)})
    t = t.mutate(
        contacts=t.contacts.cast("int64"),
        service_contacts=t.service_contacts.cast("int64"),
        recent_inbound=t.recent_inbound.cast("int64"),
        open_opportunities=t.open_opportunities.cast("int64"),
        converted_referrals=t.converted_referrals.cast("int64"),
    )

    life, needs = rules["lifecycle"], rules["needs"]
    bought = t.frequency.notnull()
    first_days = ibis.literal(as_of.date()).delta(t.first_order_ts.date(), unit="day")
    loyal = (
        (t.frequency >= life["loyalty_min_orders"])
        & (t.f_score >= life["loyalty_min_f_score"])
        & (first_days >= life["loyalty_min_tenure_days"])
    )
    if life["loyalty_by_referral"]:
        loyal |= t.converted_referrals > 0
    t = t.mutate(
        lifecycle_stage=ibis.cases(
            (t.customer_type == "churned", "churn"),
            (bought & loyal.fill_null(False), "loyalty"),
            (bought & ((t.frequency == 1) | (first_days <= life["purchase_days"])), "purchase"),
            (bought, "usage"),
            ((t.open_opportunities > 0) | (t.recent_inbound > 0), "consideration"),
            else_="awareness",
        ),
        need_type=ibis.cases(
            ((t.service_share >= needs["service_share"]).fill_null(False), "service"),
            else_="product",
        ),
    )
    sensitive = (t.discount_share >= needs["discount_share"]).fill_null(False)
    fan = (t.new_product_share >= needs["new_product_share"]).fill_null(False)
    t = t.mutate(
        price_profile=ibis.cases(
            (fan & (~sensitive | (t.new_product_share > t.discount_share)), "new_product_fan"),
            (sensitive, "price_sensitive"),
            else_="neutral",
        )
    )
    labels = {
        "lifecycle_stage": LIFECYCLE_STAGES,
        "need_type": NEED_TYPES,
        "price_profile": PRICE_PROFILES,
    }
    t = t.mutate(
        **{
            f"{col}_{lang}": t[col].cases(*[(k, v[i]) for k, v in table.items()])
            for col, table in labels.items()
            for i, lang in enumerate(("zh", "en"))
        }
    )
    segments = [f"{col}{suffix}" for col in labels for suffix in ("", "_zh", "_en")]
    return t.select(*head, *segments, *_ACTIVITY_COLUMNS)


def classify(
    con: BaseBackend,
    *,
    as_of: datetime,
    rules: Mapping[str, Any] | str | os.PathLike | None = None,
) -> ir.Table:
    """Classify every customer: RFM scores and class, value level and tier, type, owner, strategy.

    Parameters
    ----------
    con : ibis backend
        The warehouse or a snapshot with ``customers`` and ``orders``.
    as_of : datetime
        Customers created after it are left out; orders, contacts, opportunities and
        referrals after it are ignored.
    rules : mapping or path, optional
        Classification rules (:func:`load_rules`); default the packaged file.

    Returns
    -------
    ibis.Table
        One row per customer with ``created_at`` null or ``<= as_of``: ``customer_sk``,
        ``customer_id``, ``created_at``, the columns of :func:`rfm`, :func:`rfm_classes` and
        :func:`value_tiers` (null for customers without a counted order), ``churn_days``,
        ``customer_type`` (potential / churned / important / existing) with ``_zh`` /
        ``_en``, ``owner_team`` with ``_zh`` / ``_en``, ``strategy`` with ``_zh`` / ``_en``;
        then ``lifecycle_stage`` (:data:`LIFECYCLE_STAGES`), ``need_type``
        (:data:`NEED_TYPES`) and ``price_profile`` (:data:`PRICE_PROFILES`), each with
        ``_zh`` / ``_en``; the measures behind them: ``contacts``, ``service_contacts``
        (int64, 0 when none), ``service_share`` (float, null without contacts),
        ``recent_inbound`` (inbound interactions in the last ``consideration_days``),
        ``open_opportunities`` (open at ``as_of``), ``converted_referrals`` (int64),
        ``discount_share``, ``new_product_share`` (float, null without a counted order);
        finally ``as_of`` and ``rules_version``. The rules are in the module docstring. The
        ``interactions``, ``tickets``, ``opportunities``, ``referrals`` and ``products``
        tables are used when present; a missing one counts as empty.

    Examples
    --------
    >>> from crmkit import db
    >>> con = db.connect(":memory:", read_only=False)
    >>> db.create_schema(con)
    >>> "customer_type" in classify(con, as_of=datetime(2024, 6, 30)).columns
    True
    """
    as_of = schema.check_as_of(as_of)
    rules = _rules(rules)
    base = rfm(con, as_of=as_of, rules=rules)
    scored = value_tiers(rfm_classes(base, rules=rules), rules=rules)
    scored = scored.drop("customer_id", "as_of", "rules_version").rename(_sk="customer_sk")

    customers = con.table("customers")
    _require(customers, ("customer_sk", "customer_id", "created_at"), "the customers table")
    customers = customers.filter(
        customers.created_at.isnull() | (customers.created_at <= ibis.literal(as_of, type=_TS))
    ).select("customer_sk", "customer_id", "created_at")
    t = customers.left_join(scored, customers.customer_sk == scored._sk).drop("_sk")
    t = t.mutate(churn_days=churn_days(base, rules))

    important = rules["important"]
    is_important = t.abc_class.isin(important["abc_classes"]).fill_null(False)
    if important["min_tenure_years"] is not None:
        since = _years_before(as_of, important["min_tenure_years"])
        is_important |= (t.created_at <= ibis.literal(since, type=_TS)).fill_null(False)
    t = t.mutate(
        customer_type=ibis.cases(
            (t.frequency.isnull(), "potential"),
            (t.recency_days > t.churn_days, "churned"),
            (is_important, "important"),
            else_="existing",
        )
    )
    types, classes, strategies = (
        rules["customer_types"],
        rules["rfm_classes"],
        rules["strategies"],
    )

    def assigned(field: str) -> ir.StringValue:
        by_class = t.rfm_class.cases(*[(k, v[field]) for k, v in classes.items()])
        by_type = [(k, v[field]) for k, v in types.items() if v.get(field) is not None]
        return t.customer_type.cases(*by_type, else_=by_class)

    t = t.mutate(owner_team=assigned("owner_team"), strategy=assigned("strategy"))
    team_labels = {
        code: (spellings[0], code.capitalize()) for code, spellings in schema.OWNER_TEAMS.items()
    }
    team_labels["success"] = (schema.OWNER_TEAMS["success"][0], "Customer success")
    t = t.mutate(
        customer_type_zh=t.customer_type.cases(*[(k, v["zh"]) for k, v in types.items()]),
        customer_type_en=t.customer_type.cases(*[(k, v["en"]) for k, v in types.items()]),
        owner_team_zh=t.owner_team.cases(*[(k, v[0]) for k, v in team_labels.items()]),
        owner_team_en=t.owner_team.cases(*[(k, v[1]) for k, v in team_labels.items()]),
        strategy_zh=t.strategy.cases(*[(k, v["zh"]) for k, v in strategies.items()]),
        strategy_en=t.strategy.cases(*[(k, v["en"]) for k, v in strategies.items()]),
    )
    t = _lifecycle_and_needs(con, t, as_of, rules)
    return _stamp(t, as_of, rules)


def current(con: BaseBackend, *, as_of: datetime, rules: dict | None = None) -> ir.Table:
    """The customers' classes as the analyses should see them: the stored ``classification``
    table when the connection has one (a snapshot: the classes the pages show, with their own
    ``as_of``), else :func:`classify` at ``as_of`` under ``rules`` (default: the packaged
    rules).

    Examples
    --------
    >>> from crmkit import db
    >>> con = db.connect(":memory:", read_only=False)
    >>> db.create_schema(con)
    >>> "rfm_class" in current(con, as_of=datetime(2024, 6, 30)).columns
    True
    """
    if "classification" in con.list_tables():
        return con.table("classification")
    return classify(con, as_of=as_of, rules=rules)


def segments(con: BaseBackend, *, as_of: datetime) -> ir.Table:
    """Each customer's segment and spend, for the analyses that split by segment.

    The segment is the RFM class (:func:`rfm_classes`), or
    :data:`crmkit.definitions.POTENTIAL` for a customer without a counted purchase; ``monetary``
    is the spend of the counted orders (0 without one). Read from the stored
    ``classification`` table when the connection has one (a snapshot: the classes the pages
    show), else computed by :func:`classify` at ``as_of`` with the packaged rules.

    Parameters
    ----------
    con : ibis backend
        A snapshot with ``classification``, or a warehouse with ``customers`` and ``orders``.
    as_of : datetime
        The clock :func:`classify` runs at when there is no stored ``classification`` (a
        stored one carries its own ``as_of``).

    Returns
    -------
    ibis.Table
        customer_id, customer_sk, segment, monetary (float64). A stored table that lacks
        ``customer_sk`` or ``monetary`` (a hand-made one) gives nulls and 0 for them.

    Examples
    --------
    >>> from crmkit import db
    >>> con = db.connect(":memory:", read_only=False)
    >>> db.create_schema(con)
    >>> segments(con, as_of=datetime(2024, 6, 30)).columns
    ('customer_id', 'customer_sk', 'segment', 'monetary')
    """
    c = current(con, as_of=as_of)
    sk = c.customer_sk if "customer_sk" in c.columns else ibis.null("int64")
    spend = c.monetary.cast("float64") if "monetary" in c.columns else ibis.null("float64")
    return c.select(
        "customer_id",
        customer_sk=sk,
        segment=c.rfm_class.fill_null(definitions.POTENTIAL),
        monetary=spend.fill_null(0),
    )


def summary(cls: ir.Table, by: str | Sequence[str] = "rfm_class") -> pd.DataFrame:
    """Customers and revenue per class (分群汇总): how many customers each group holds and
    what share of the revenue.

    Parameters
    ----------
    cls : ibis.Table
        Classified customers: :func:`classify` or the published ``classification`` (at least
        ``monetary`` and the ``by`` columns).
    by : str or sequence of str, default "rfm_class"
        The column(s) to group by, e.g. ``"abc_class"``, ``["customer_type_zh",
        "owner_team_zh"]``. A null group value (no RFM class: a potential customer) is a group
        of its own (missing).

    Returns
    -------
    pandas.DataFrame
        The ``by`` columns, ``customers``, ``customer_share`` = customers / all customers of
        ``cls``, ``revenue`` (sum of ``monetary``, a null ``monetary`` counting 0) and
        ``revenue_share`` = revenue / the revenue of all (0 when there is none); most
        customers first (ties by the ``by`` values).

    Raises
    ------
    ValueError
        When ``cls`` lacks ``monetary`` or a ``by`` column.

    Examples
    --------
    Three buyers of ¥60, ¥30 and ¥10 in classes A, A and B and one potential customer: A holds
    2 of the 4 customers and 90 % of the ¥100.

    >>> import ibis
    >>> t = ibis.memtable({"abc_class": ["A", "A", "B", None],
    ...                    "monetary": [60.0, 30.0, 10.0, None]})
    >>> summary(t, "abc_class").to_dict("list")  # doctest: +NORMALIZE_WHITESPACE
    {'abc_class': ['A', 'B', nan], 'customers': [2, 1, 1], 'customer_share': [0.5, 0.25, 0.25],
     'revenue': [90.0, 10.0, 0.0], 'revenue_share': [0.9, 0.1, 0.0]}
    """
    keys = [by] if isinstance(by, str) else list(by)
    if not keys:
        raise ValueError("by is empty; name at least one column, e.g. by='rfm_class'")
    _require(cls, ("monetary", *keys), "cls")
    money = cls.monetary.cast("float64").fill_null(0)
    df = cls.group_by(keys).aggregate(customers=ibis._.count(), revenue=money.sum()).to_pandas()
    df = df.astype({"customers": "int64", "revenue": "float64"})
    n, revenue = df.customers.sum(), df.revenue.sum()
    df["customer_share"] = df.customers / n if n else 0.0
    df["revenue_share"] = df.revenue / revenue if revenue else 0.0
    df = df.sort_values(["customers", *keys], ascending=[False, *[True] * len(keys)])
    cols = [*keys, "customers", "customer_share", "revenue", "revenue_share"]
    return df[cols].reset_index(drop=True)


# ---------------------------------------------------------------------------------------------
# publish
# ---------------------------------------------------------------------------------------------


#: The columns of the published ``classification_snapshots`` after ``snapshot_at``: the keys,
#: the revenue a migration sums and every segment column :func:`migration_matrix` can compare.
SNAPSHOT_COLUMNS = (
    "customer_sk",
    "customer_id",
    "frequency",
    "monetary",
    "rfm_class",
    "abc_class",
    "value_tier",
    "customer_type",
    "lifecycle_stage",
    "need_type",
    "price_profile",
)


def snapshot_tables(
    con: BaseBackend,
    *,
    as_of: datetime,
    rules: Mapping[str, Any] | str | os.PathLike | None = None,
    current: ir.Table | None = None,
) -> list[ir.Table]:
    """The ``classification_snapshots`` table of the snapshot, as parts to append in order.

    :func:`classify` at :func:`snapshot_dates` ``(as_of, 4)`` (four quarter ends and ``as_of``)
    restricted to ``snapshot_at`` and :data:`SNAPSHOT_COLUMNS`, so dashboards show the
    classes' migration (:func:`migration_matrix`) without recomputing them when a page opens.
    ``current`` is the classification at ``as_of`` when it is already stored (it is not
    computed again).

    One part per date: as one UNION of five :func:`classify` queries, Ibis' compile time grew
    faster than linearly (11 s for two dates at 1 M orders). Only the columns a migration
    needs are kept (DuckDB then skips the labels and measures of the earlier dates): a third
    of the classify() columns, a third of the writing.
    """
    rules = _rules(rules)
    parts = []
    for d in snapshot_dates(as_of, 4):
        t = current if d == as_of and current is not None else classify(con, as_of=d, rules=rules)
        parts.append(t.select(ibis.literal(d, type=_TS).name("snapshot_at"), *SNAPSHOT_COLUMNS))
    return parts


# ---------------------------------------------------------------------------------------------
# snapshots and migration
# ---------------------------------------------------------------------------------------------


def snapshot_dates(as_of: datetime, quarters: int = 4) -> list[datetime]:
    """The moments of the segment history: :func:`crmkit.periods.quarter_ends` of ``as_of``
    (the last ``quarters`` calendar quarter ends before it, then ``as_of``).

    Examples
    --------
    >>> [d.strftime("%Y-%m-%d") for d in snapshot_dates(datetime(2026, 9, 30, 23, 59, 59), 4)]
    ['2025-09-30', '2025-12-31', '2026-03-31', '2026-06-30', '2026-09-30']
    """
    return periods.quarter_ends(schema.check_as_of(as_of), quarters)


def snapshots(
    con: BaseBackend,
    dates: Sequence[datetime],
    *,
    rules: Mapping[str, Any] | str | os.PathLike | None = None,
) -> ir.Table:
    """:func:`classify` at several moments, stacked: the segment history (分类快照).

    Parameters
    ----------
    con : ibis backend
        The warehouse or a snapshot.
    dates : sequence of datetime
        The moments to classify at, e.g. :func:`snapshot_dates`; duplicates are rejected.
    rules : mapping or path, optional
        Classification rules (:func:`load_rules`); the same rules for every date.

    Returns
    -------
    ibis.Table
        ``snapshot_at`` (the moment, a timestamp) followed by every column of :func:`classify`
        at that moment, one row per (snapshot, customer existing then).

    Examples
    --------
    >>> from crmkit import db
    >>> con = db.connect(":memory:", read_only=False)
    >>> db.create_schema(con)
    >>> snapshots(con, snapshot_dates(datetime(2024, 6, 30), 2)).columns[:2]
    ('snapshot_at', 'customer_sk')
    """
    dates = [schema.check_as_of(d) for d in dates]
    if not dates:
        raise ValueError("dates is empty; pass at least one datetime, e.g. snapshot_dates(as_of)")
    if len(set(dates)) != len(dates):
        raise ValueError(f"dates {dates!r} repeat a moment; pass each snapshot date once")
    rules = _rules(rules)
    parts = []
    for d in sorted(dates):
        t = classify(con, as_of=d, rules=rules)
        stamped = t.mutate(snapshot_at=ibis.literal(d, type=_TS))
        parts.append(stamped.select("snapshot_at", *t.columns))
    return ibis.union(*parts, distinct=False) if len(parts) > 1 else parts[0]


def migration_matrix(
    snaps: ir.Table, from_at: datetime, to_at: datetime, *, by: str = "rfm_class"
) -> ir.Table:
    """Who moved from which segment to which between two snapshots (客户迁移矩阵).

    Parameters
    ----------
    snaps : ibis.Table
        The output of :func:`snapshots` (or the published ``classification_snapshots``): at
        least ``snapshot_at``, ``customer_sk``, ``monetary`` and the ``by`` column.
    from_at, to_at : datetime
        The earlier and the later snapshot; both must be ``snapshot_at`` values of ``snaps``.
    by : str
        The segment column: ``rfm_class`` (default), ``customer_type``, ``lifecycle_stage``,
        ``abc_class``, ``value_tier``, ``need_type``, ``price_profile`` …

    Returns
    -------
    ibis.Table
        One row per (``from_segment``, ``to_segment``) pair that occurs, with ``customers``
        (int64, number of customers) and ``revenue`` (float64: the sum of their ``monetary``
        at ``to_at`` — revenue from counted orders up to the later date — 0 for customers
        without a counted order). ``from_segment`` is ``"new"`` for customers absent from the
        earlier snapshot (created in between), ``to_segment`` is ``"removed"`` for customers
        absent from the later one; a null segment (e.g. no RFM class without a counted order)
        reads ``"none"``. Sorted by ``from_segment``, ``to_segment``.

    Raises
    ------
    ValueError
        When ``by`` is not a column of ``snaps``, ``from_at`` is not before ``to_at``, or a
        date is not a snapshot in ``snaps`` (the message lists the snapshots there).

    Examples
    --------
    A customer in 重要价值 at the first snapshot and 重要挽留 at the second, with 300 of revenue
    by then, is the cell (important_value → important_retain, 1 customer, 300.0).
    """
    from_at, to_at = schema.check_as_of(from_at), schema.check_as_of(to_at)
    _require(snaps, ("snapshot_at", "customer_sk", "monetary", by), "snaps")
    if not from_at < to_at:
        raise ValueError(f"from_at {from_at} must be before to_at {to_at}")
    available = set(snaps.select("snapshot_at").distinct().to_pandas().snapshot_at)
    missing = [str(d) for d in (from_at, to_at) if d not in available]
    if missing:
        raise ValueError(
            f"snapshot(s) {missing} are not in snaps; available: {sorted(map(str, available))}"
        )

    def side(at: datetime, name: str) -> ir.Table:
        s = snaps.filter(snaps.snapshot_at == ibis.literal(at, type=_TS))
        return s.select(
            _sk=s.customer_sk,
            **{name: s[by].cast("string").fill_null(NO_SEGMENT)},
            **({"_m": s.monetary} if name == "to_segment" else {}),
        )

    before, after = side(from_at, "from_segment"), side(to_at, "to_segment")
    before = before.rename(_sk_from="_sk")
    j = before.outer_join(after, before._sk_from == after._sk)
    j = j.select(
        from_segment=j.from_segment.fill_null(NEW_SEGMENT),
        to_segment=j.to_segment.fill_null(REMOVED_SEGMENT),
        _m=j._m.cast("float64").fill_null(0.0),
    )
    out = j.group_by("from_segment", "to_segment").aggregate(
        customers=j.count(), revenue=j._m.sum()
    )
    return out.order_by("from_segment", "to_segment")
