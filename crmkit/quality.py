"""Data quality per record and per table (准确性和完整性, step 2 客户信息收集与维护).

Records must stay accurate and complete, and customers' details must be re-checked from time to
time (回访). This module scores every record of a data table against its declaration in
``crmkit.schema`` and rolls the scores up per table, per column and per owner; it also lists
customers that may be the same person entered twice. Everything is an Ibis expression over the
connection, so it runs inside DuckDB (a few seconds at a million customers) and is precomputed into
every published snapshot by the ``"quality"`` publish step.

The rules
---------
completeness
    Share of a record's *expected* columns that are filled (not null; text also not blank).
    Expected columns of ``customers``: the required columns other than the key (``name``,
    ``created_at``) plus the profile columns that matter for customer management,
    ``CUSTOMER_PROFILE`` (name, phone, email, gender, birthday, province, city,
    acquisition_channel, owner_team, owner) — 11 columns. Other tables: every declared column
    except the key. The key is never counted: a record cannot exist without it.
validity
    Share of a record's filled *checked* values that pass their check; 1.0 when the record has no
    filled checked value (nothing found wrong). The checks come from the declarations:

    - ``pii="phone"``: after removing spaces and dashes, a CN mobile ``^1[3-9]\\d{9}$`` or an
      international number ``^\\+\\d{7,15}$``;
    - ``pii="email"``: the shape ``^[^@\\s]+@[^@\\s]+\\.[^@\\s]+$`` (surrounding blanks ignored);
    - ``allowed``: one of the declared codes, exactly as stored (ingest maps spellings to codes);
    - ``min`` / ``max``: inside the inclusive bounds;
    - ``not_future`` dates and times: not after ``as_of``;
    - ``customers.birthday``: an age of 0 to ``MAX_AGE`` (120) whole years at ``as_of``;
    - ``ordered`` pairs (earlier, later): the later time is not before the earlier one; a broken
      pair counts against the later column.

    A column with several checks (a birthday is ``not_future`` and has an age range) counts once.
stale, days_since_verified
    Customers only: the last check is the later of ``last_verified_at`` and ``updated_at``;
    ``days_since_verified`` is the number of calendar days from its date to ``as_of``'s date, and
    a customer is stale when there is no last check or ``days_since_verified`` exceeds
    ``stale_after_days`` (365 by default: 365 days is still fresh, 366 is stale). Records of other
    tables are never stale and have no ``days_since_verified``.
quality_score
    ``(completeness + validity) / 2``, multiplied by ``STALE_PENALTY`` (0.8) when stale.
duplicates
    Two customers are duplicate candidates when they share a normalised phone (digits only, a
    leading 86 / 0086 before a CN mobile dropped), a lower-cased email, or a normalised name
    (blanks removed, lower-cased) together with a non-blank normalised company. A value shared by
    more than ``MAX_GROUP_SIZE`` (50) customers is reported once, as a group, instead of as all
    its pairs: such a value is a placeholder (13800000000, test@test.com), not a person.

``as_of``
    Every function takes ``as_of``; by default it is :func:`crmkit.db.data_as_of`, the latest
    timestamp in the data, not today's clock, so the same warehouse always gives the same numbers.

Examples
--------
>>> from crmkit import db, quality
>>> con = db.connect(":memory:", read_only=False)
>>> db.create_schema(con)
>>> quality.expected_columns("customers")[:4]
['name', 'phone', 'email', 'gender']
>>> quality.table_quality(con).select("table", "rows").to_pandas().head(2).to_dict("records")
[{'table': 'customers', 'rows': 0}, {'table': 'products', 'rows': 0}]
"""

from __future__ import annotations

import operator
from datetime import date, datetime
from functools import reduce

import ibis
import ibis.expr.types as ir
from ibis.backends import BaseBackend

from crmkit import db, schema

#: Customer columns that matter besides the required ones: they count towards completeness.
CUSTOMER_PROFILE: tuple[str, ...] = (
    "name",
    "phone",
    "email",
    "gender",
    "birthday",
    "province",
    "city",
    "acquisition_channel",
    "owner_team",
    "owner",
)
#: Days after the last check (last_verified_at / updated_at) when a customer becomes stale.
STALE_AFTER_DAYS = 365
#: quality_score is multiplied by this when the record is stale.
STALE_PENALTY = 0.8
#: A phone / email / name+company shared by more customers than this is reported as one group.
MAX_GROUP_SIZE = 50
#: Oldest plausible age, in whole years, for a birthday.
MAX_AGE = 120

CN_MOBILE = r"^1[3-9]\d{9}$"
INTL_PHONE = r"^\+\d{7,15}$"
EMAIL_SHAPE = r"^[^@\s]+@[^@\s]+\.[^@\s]+$"
#: The columns of former (merged-away) customers that duplicate_candidates reads.
_FORMER_COLUMNS = ("customer_id", "name", "phone", "email", "company")
#: Duplicate rules, in the order ``match_on`` lists them.
MATCH_RULES: tuple[str, ...] = ("phone", "email", "name+company")

# \p{Z} adds the ideographic space U+3000 and the no-break space to RE2's ASCII \s.
_BLANK = r"[\s\p{Z}]"
_NON_BLANK = r"[^\s\p{Z}]"
#: A value starting with one of these (or empty) may be blank: only then is _NON_BLANK searched
_BLANK_STARTS = (
    "",
    *" \t\n\r\v\f\u0085\u00a0\u1680\u2028\u2029\u202f\u205f\u3000",
    *(chr(c) for c in range(0x2000, 0x200B)),
)
_CUSTOMERS = "customers"
_BIRTHDAY = "birthday"


# ---------------------------------------------------------------------------------------------
# as_of and declarations
# ---------------------------------------------------------------------------------------------


def expected_columns(table: str) -> list[str]:
    """The columns whose fill rate makes up a record's ``completeness``, in declared order.

    ``customers``: required columns other than the key, plus ``CUSTOMER_PROFILE``. Other tables:
    every declared column except the key.

    Examples
    --------
    >>> len(expected_columns("customers")), "customer_id" in expected_columns("customers")
    (11, False)
    """
    decl = schema.table(table)
    if table == _CUSTOMERS:
        return [
            c.name
            for c in decl.columns
            if c.name != decl.key and (c.required or c.name in CUSTOMER_PROFILE)
        ]
    return [c.name for c in decl.columns if c.name != decl.key]


def checked_columns(table: str) -> list[str]:
    """The columns of ``table`` whose values have a validity check (see the module docstring)."""
    decl = schema.table(table)
    return [c.name for c in decl.columns if _has_check(decl, c)]


def _has_check(decl: schema.Table, c: schema.Column) -> bool:
    return bool(
        c.pii in ("phone", "email")
        or c.allowed
        or c.min is not None
        or c.max is not None
        or c.not_future
        or (decl.name, c.name) == (_CUSTOMERS, _BIRTHDAY)
        or any(c.name == later for _, later in decl.ordered)
    )


def _resolve_as_of(con: BaseBackend, as_of: datetime | None) -> datetime:
    return db.data_as_of(con) if as_of is None else schema.check_as_of(as_of)


def _check_days(stale_after_days: int) -> int:
    if isinstance(stale_after_days, bool) or not isinstance(stale_after_days, int):
        raise TypeError(
            f"stale_after_days must be a whole number of days, got {stale_after_days!r}"
        )
    if stale_after_days < 0:
        raise ValueError(f"stale_after_days must be 0 or more, got {stale_after_days}")
    return stale_after_days


def _data_table(con: BaseBackend, table: str) -> tuple[schema.Table, ir.Table]:
    decl = schema.table(table)
    if table not in con.list_tables():
        raise ValueError(
            f"table {table!r} is not in this database; create it with crmkit.db.create_schema"
        )
    return decl, con.table(table)


# ---------------------------------------------------------------------------------------------
# per-value building blocks
# ---------------------------------------------------------------------------------------------


def _filled(value: ir.Value, dtype: schema.DType) -> ir.BooleanValue:
    """Not null; text must also hold a non-blank character."""
    if dtype == "text":
        # the regex only for values that start blank (or are empty): a first character that is
        # not a space already proves the value filled, and most values are like that
        first = value.substr(0, 1)
        return value.notnull() & ibis.cases(
            (first.isin(_BLANK_STARTS), value.re_search(_NON_BLANK)), else_=True
        )
    return value.notnull()


def _oldest_birthday_excluded(as_of: date) -> date:
    """Birthdays on or before this day mean an age above ``MAX_AGE`` at ``as_of``."""
    year = as_of.year - MAX_AGE - 1
    try:
        return as_of.replace(year=year)
    except ValueError:  # 29 February in a non-leap year
        return as_of.replace(year=year, day=28)


def _valid(decl: schema.Table, t: ir.Table, c: schema.Column, as_of: datetime) -> ir.BooleanValue:
    """The validity check of column ``c``; unknown (a missing partner value) counts as valid."""
    v = t[c.name]
    conds: list[ir.BooleanValue] = []
    if c.pii == "phone":
        compact = v.re_replace(r"[\s-]", "")
        conds.append(compact.re_search(CN_MOBILE) | compact.re_search(INTL_PHONE))
    elif c.pii == "email":
        conds.append(v.strip().re_search(EMAIL_SHAPE))
    if c.allowed:
        conds.append(v.isin(list(c.allowed)))
    if c.min is not None:
        conds.append(v >= c.min)
    if c.max is not None:
        conds.append(v <= c.max)
    bound = as_of.date() if c.dtype == "date" else as_of
    if c.not_future:
        conds.append(v <= ibis.literal(bound))
    if (decl.name, c.name) == (_CUSTOMERS, _BIRTHDAY):
        conds.append(v <= ibis.literal(as_of.date()))
        conds.append(v > ibis.literal(_oldest_birthday_excluded(as_of.date())))
    conds.extend(v >= t[earlier] for earlier, later in decl.ordered if later == c.name)
    return reduce(operator.and_, conds).fill_null(True)


def _last_verified(customers: ir.Table) -> ir.TimestampValue:
    # GREATEST skips nulls: either timestamp alone is a check.
    return ibis.greatest(customers.last_verified_at, customers.updated_at)


def _days_since_verified(customers: ir.Table, as_of: datetime) -> ir.IntegerValue:
    return ibis.literal(as_of.date()).delta(_last_verified(customers).date(), unit="day")


def _is_stale(days_since_verified: ir.IntegerValue, stale_after_days: int) -> ir.BooleanValue:
    return days_since_verified.isnull() | (days_since_verified > stale_after_days)


def _join_texts(parts: list[ir.StringValue], sep: str = "; ") -> ir.StringValue:
    """Concatenate the non-null parts (CONCAT_WS skips nulls); empty string when none."""
    return ibis.literal(sep).join(parts) if parts else ibis.literal("")


# ---------------------------------------------------------------------------------------------
# per record
# ---------------------------------------------------------------------------------------------


def record_quality(
    con: BaseBackend,
    table: str,
    *,
    as_of: datetime | None = None,
    stale_after_days: int = STALE_AFTER_DAYS,
) -> ir.Table:
    """Quality scores of every record of a data table, with the reasons.

    Parameters
    ----------
    con : ibis backend
        The warehouse or a published snapshot.
    table : str
        A data table of ``crmkit.schema.TABLES`` (``"customers"``, ``"orders"`` …).
    as_of : datetime, optional
        The moment dates are checked against and staleness is measured from. Default:
        :func:`crmkit.db.data_as_of`, the latest timestamp in the data (reproducible, not
        today's clock).
    stale_after_days : int, default 365
        A customer whose last check is more than this many days before ``as_of`` is stale.

    Returns
    -------
    ibis.Table
        One row per record:

        - the table's key column (e.g. ``customer_id``);
        - ``completeness``: filled expected columns / expected columns (:func:`expected_columns`);
        - ``validity``: valid / filled checked values (:func:`checked_columns`), 1.0 when none;
        - ``stale`` (bool) and ``days_since_verified`` (int, null when never verified): customers
          only; other tables are never stale and have null days;
        - ``quality_score``: ``(completeness + validity) / 2``, times ``STALE_PENALTY`` (0.8) when
          stale;
        - ``issues``: why, in declared column order, e.g. ``"missing phone; invalid email;
          stale: 400 days since verified"`` (``"never verified"`` without a last check); empty
          when the record has none.

    Examples
    --------
    >>> from crmkit import db
    >>> con = db.connect(":memory:", read_only=False)
    >>> db.create_schema(con)
    >>> record_quality(con, "customers").columns[:3]
    ('customer_id', 'completeness', 'validity')
    """
    decl, t = _data_table(con, table)
    as_of = _resolve_as_of(con, as_of)
    stale_after_days = _check_days(stale_after_days)
    expected = expected_columns(table)
    checked = checked_columns(table)
    tracked = [c for c in decl.columns if c.name in expected or c.name in checked]
    # Two steps: first one flag per value, then scores and texts from the flags, so each regex
    # runs once per value instead of once per place that needs it.
    flags = t.select(
        t[decl.key],
        **{f"_filled_{c.name}": _filled(t[c.name], c.dtype) for c in tracked},
        **{f"_valid_{c}": _valid(decl, t, decl[c], as_of) for c in checked},
        _days=_days_since_verified(t, as_of) if table == _CUSTOMERS else ibis.null("int64"),
    )
    filled = {c.name: flags[f"_filled_{c.name}"] for c in tracked}
    invalid = {c: filled[c] & ~flags[f"_valid_{c}"] for c in checked}

    n_filled = sum((filled[c].cast("int64") for c in expected), ibis.literal(0))
    completeness = n_filled / len(expected) if expected else ibis.literal(1.0)
    n_checked = sum((filled[c].cast("int64") for c in checked), ibis.literal(0))
    n_invalid = sum((invalid[c].cast("int64") for c in checked), ibis.literal(0))
    validity = ibis.ifelse(n_checked == 0, 1.0, 1.0 - n_invalid / n_checked)

    issues: list[ir.StringValue] = []
    for c in decl.column_names:
        if c in expected:
            issues.append(ibis.ifelse(filled[c], ibis.null("string"), f"missing {c}"))
        if c in invalid:
            issues.append(ibis.ifelse(invalid[c], f"invalid {c}", ibis.null("string")))
    days = flags._days
    if table == _CUSTOMERS:
        stale = _is_stale(days, stale_after_days)
        issues.append(
            ibis.cases(
                (days.isnull(), "never verified"),
                (stale, "stale: " + days.cast("string") + " days since verified"),
                else_=ibis.null("string"),
            )
        )
    else:
        stale = ibis.literal(False)

    scored = flags.select(
        flags[decl.key],
        completeness=completeness.cast("float64"),
        validity=validity.cast("float64"),
        stale=stale,
        days_since_verified=days.cast("int64"),
        issues=_join_texts(issues),
    )
    penalty = ibis.ifelse(scored.stale, STALE_PENALTY, 1.0)
    return scored.select(
        decl.key,
        "completeness",
        "validity",
        "stale",
        "days_since_verified",
        quality_score=((scored.completeness + scored.validity) / 2 * penalty).cast("float64"),
        issues=scored.issues,
    )


# ---------------------------------------------------------------------------------------------
# per column and per table
# ---------------------------------------------------------------------------------------------


def column_completeness(con: BaseBackend, table: str) -> ir.Table:
    """Fill rate of every declared column of a data table, in one scan.

    Parameters
    ----------
    con : ibis backend
        The warehouse or a published snapshot.
    table : str
        A data table of ``crmkit.schema.TABLES``.

    Returns
    -------
    ibis.Table
        One row per declared column, in declared order: ``column``, ``expected`` (counts towards
        ``completeness``), ``filled`` (not null; text not blank), ``total`` (rows) and ``share``
        (filled / total; null for an empty table).
    """
    decl, t = _data_table(con, table)
    expected = set(expected_columns(table))
    counts = t.aggregate(
        **{c.name: _filled(t[c.name], c.dtype).cast("int64").sum() for c in decl.columns},
        __total__=t.count(),
    )
    long = counts.pivot_longer(
        ~ibis.selectors.cols("__total__"), names_to="column", values_to="filled"
    )
    meta = ibis.memtable(
        {
            "column": decl.column_names,
            "position": list(range(len(decl.columns))),
            "expected": [c in expected for c in decl.column_names],
        }
    )
    joined = long.join(meta, "column")
    filled = joined.filled.fill_null(0)
    total = joined.__total__
    return (
        joined.select(
            "column",
            "expected",
            filled=filled,
            total=total,
            share=ibis.ifelse(total > 0, filled / total, ibis.null("float64")),
            position=joined.position,
        )
        .order_by("position")
        .drop("position")
    )


def table_quality(
    con: BaseBackend,
    *,
    as_of: datetime | None = None,
    stale_after_days: int = STALE_AFTER_DAYS,
) -> ir.Table:
    """Quality of every data table present, one row each, in schema order.

    Parameters
    ----------
    con : ibis backend
        The warehouse or a published snapshot.
    as_of : datetime, optional
        See :func:`record_quality`; default :func:`crmkit.db.data_as_of`.
    stale_after_days : int, default 365
        See :func:`record_quality`.

    Returns
    -------
    ibis.Table
        ``table``, ``rows``, ``completeness``, ``validity``, ``stale_share``, ``quality_score``
        (means over the table's records of :func:`record_quality`; null for an empty table),
        ``duplicates`` (customers only: customers sharing a normalised phone, email or
        name+company with at least one other customer, big groups included; null for other
        tables) and ``as_of`` (the moment used). Per-column fill rates:
        :func:`column_completeness`.
    """
    as_of = _resolve_as_of(con, as_of)
    present = set(con.list_tables())
    parts = []
    for position, name in enumerate(schema.DATA_TABLES):
        if name not in present:
            continue
        rq = record_quality(con, name, as_of=as_of, stale_after_days=stale_after_days)
        summary = rq.aggregate(
            rows=rq.count(),
            completeness=rq.completeness.mean(),
            validity=rq.validity.mean(),
            stale_share=rq.stale.cast("float64").mean(),
            quality_score=rq.quality_score.mean(),
        )
        if name == _CUSTOMERS:
            members = _duplicate_members(con.table(name))
            summary = summary.cross_join(members.aggregate(duplicates=members.count()))
        else:
            summary = summary.mutate(duplicates=ibis.null("int64"))
        parts.append(
            summary.select(
                table=ibis.literal(name),
                rows=summary.rows,
                completeness=summary.completeness,
                validity=summary.validity,
                stale_share=summary.stale_share,
                quality_score=summary.quality_score,
                duplicates=summary.duplicates,
                as_of=ibis.literal(as_of, type=schema.IBIS_TYPES["timestamp"]),
                position=ibis.literal(position),
            )
        )
    if not parts:
        raise ValueError(
            "no data tables in this database; create them with crmkit.db.create_schema"
        )
    return ibis.union(*parts).order_by("position").drop("position")


# ---------------------------------------------------------------------------------------------
# duplicates
# ---------------------------------------------------------------------------------------------


def _normalised(value: ir.StringValue) -> ir.StringValue:
    return value.re_replace(f"{_BLANK}+", "").lower()


def _match_keys(customers: ir.Table) -> dict[str, ir.StringValue]:
    """Each duplicate rule's normalised key per customer; null or empty means no key."""
    digits = customers.phone.re_replace(r"\D", "")
    phone = digits.re_replace(r"^(?:0086|86)(1[3-9]\d{9})$", r"\1")
    email = customers.email.strip().lower()
    name, company = _normalised(customers.name), _normalised(customers.company)
    # Normalised parts hold no blanks, so a separator with blanks cannot make two keys collide.
    name_company = ibis.ifelse(
        (name.length() > 0) & (company.length() > 0), name + " | " + company, ibis.null("string")
    )
    return {"phone": phone, "email": email, "name+company": name_company}


def _keyed(customers: ir.Table, rule: str) -> ir.Table:
    key = _match_keys(customers)[rule]
    return customers.select(customers.customer_id, key=key).filter(
        lambda k: k.key.notnull() & (k.key != "")
    )


def _shared_keys(keyed: ir.Table) -> ir.Table:
    """Keys held by two or more customers, with their size and smallest customer id."""
    return (
        keyed.group_by("key")
        .aggregate(group_size=keyed.count(), first_id=keyed.customer_id.min())
        .filter(lambda g: g.group_size >= 2)
    )


def _customers_as_of(con: BaseBackend, as_of: datetime | None) -> ir.Table:
    customers = _data_table(con, _CUSTOMERS)[1]
    if as_of is None:
        return customers
    as_of = _resolve_as_of(con, as_of)
    return customers.filter(customers.created_at <= ibis.literal(as_of))


def _check_group_size(max_group_size: int) -> int:
    if isinstance(max_group_size, bool) or not isinstance(max_group_size, int):
        raise TypeError(f"max_group_size must be a whole number, got {max_group_size!r}")
    if max_group_size < 2:
        raise ValueError(f"max_group_size must be 2 or more (a pair), got {max_group_size}")
    return max_group_size


def _duplicate_members(customers: ir.Table) -> ir.Table:
    """Distinct ``customer_id`` of customers sharing any rule's key with another customer."""
    ids = []
    for rule in MATCH_RULES:
        keyed = _keyed(customers, rule)
        ids.append(keyed.semi_join(_shared_keys(keyed), "key").select("customer_id"))
    return ibis.union(*ids, distinct=True)


def duplicate_candidates(
    con: BaseBackend,
    *,
    as_of: datetime | None = None,
    max_group_size: int = MAX_GROUP_SIZE,
    former: ir.Table | None = None,
) -> ir.Table:
    """Customers that may be the same person entered twice.

    Each rule normalises a key and self-joins customers on it (a hash join, never a cross join):

    - ``"phone"``: digits only, and a leading ``86`` / ``0086`` before a CN mobile dropped, so
      ``+86 138-1234-5678`` matches ``13812345678``;
    - ``"email"``: surrounding blanks stripped, lower-cased;
    - ``"name+company"``: name and company with all blanks removed and lower-cased; only when
      the company is not blank.

    A key shared by more than ``max_group_size`` customers is a placeholder rather than a person
    (13800000000, test@test.com): it is reported as **one group row** instead of its n·(n−1)/2
    pairs, so junk values cannot blow the result up.

    Parameters
    ----------
    con : ibis backend
        The warehouse or a published snapshot.
    as_of : datetime, optional
        Only customers created at or before ``as_of`` take part. Default: all customers.
    max_group_size : int, default 50
        Largest key group still expanded into pairs.
    former : ibis.Table, optional
        Customers merged away (``crmkit.merge``): ``customer_id``, ``name``, ``phone``,
        ``email``, ``company``. Their values count towards a key's ``group_size`` (a group's
        ``customer_id_a`` may be one of them) but they form no pair, so a placeholder stays a
        placeholder after some of its holders were merged.

    Returns
    -------
    ibis.Table
        One row per pair or group, ordered by ids:

        - pairs: ``customer_id_a < customer_id_b``; ``match_on`` lists every rule the pair
          matched, comma-separated in ``MATCH_RULES`` order (``"phone, email"``);
          ``group_size`` 2; ``shared_value`` null;
        - groups: ``customer_id_a`` is the group's smallest id, ``customer_id_b`` null,
          ``match_on`` the one rule, ``group_size`` the number of customers sharing the key and
          ``shared_value`` the normalised key itself (personal data: mask it like the rule's
          column, see ``crmkit.privacy``).

    Examples
    --------
    >>> from crmkit import db
    >>> con = db.connect(":memory:", read_only=False)
    >>> db.create_schema(con)
    >>> duplicate_candidates(con).columns
    ('customer_id_a', 'customer_id_b', 'match_on', 'group_size', 'shared_value')
    """
    max_group_size = _check_group_size(max_group_size)
    customers = _customers_as_of(con, as_of)
    if former is not None:
        # all-null columns arrive untyped; the match keys need text
        former = former.select(*[former[c].cast("string").name(c) for c in _FORMER_COLUMNS])
    pairs, groups = [], []
    for rule in MATCH_RULES:
        keyed = _keyed(customers, rule)
        shared = _shared_keys(keyed if former is None else keyed.union(_keyed(former, rule)))
        small = keyed.semi_join(shared.filter(shared.group_size <= max_group_size), "key")
        a = small.select(customer_id_a=small.customer_id, key_a=small.key)
        b = small.select(customer_id_b=small.customer_id, key_b=small.key)
        pairs.append(
            a.join(b, [a.key_a == b.key_b, a.customer_id_a < b.customer_id_b]).select(
                "customer_id_a", "customer_id_b", rule=ibis.literal(rule)
            )
        )
        big = shared.filter(shared.group_size > max_group_size)
        groups.append(
            big.select(
                customer_id_a=big.first_id,
                customer_id_b=ibis.null("string"),
                match_on=ibis.literal(rule),
                group_size=big.group_size.cast("int64"),
                shared_value=big.key,
            )
        )
    all_pairs = ibis.union(*pairs)
    flags = all_pairs.group_by(["customer_id_a", "customer_id_b"]).aggregate(
        **{f"_{i}": (all_pairs.rule == rule).any() for i, rule in enumerate(MATCH_RULES)}
    )
    matched = flags.select(
        "customer_id_a",
        "customer_id_b",
        match_on=_join_texts(
            [
                ibis.ifelse(flags[f"_{i}"], rule, ibis.null("string"))
                for i, rule in enumerate(MATCH_RULES)
            ],
            sep=", ",
        ),
        group_size=ibis.literal(2, type="int64"),
        shared_value=ibis.null("string"),
    )
    return ibis.union(matched, *groups).order_by(["customer_id_a", "customer_id_b"])


# ---------------------------------------------------------------------------------------------
# re-checks per owner (回访)
# ---------------------------------------------------------------------------------------------


def stale_by_owner(
    con: BaseBackend,
    *,
    as_of: datetime | None = None,
    stale_after_days: int = STALE_AFTER_DAYS,
) -> ir.Table:
    """Customers due for a re-check (回访), per owner team and owner.

    Parameters
    ----------
    con : ibis backend
        The warehouse or a published snapshot.
    as_of : datetime, optional
        See :func:`record_quality`; default :func:`crmkit.db.data_as_of`.
    stale_after_days : int, default 365
        See :func:`record_quality`.

    Returns
    -------
    ibis.Table
        ``owner_team``, ``owner`` (blank values read as null: unassigned), ``customers``,
        ``stale`` (customers without a check in ``stale_after_days``) and ``stale_share``
        (stale / customers); most stale customers first.
    """
    as_of = _resolve_as_of(con, as_of)
    stale_after_days = _check_days(stale_after_days)
    c = _data_table(con, _CUSTOMERS)[1]
    marked = c.select(
        owner_team=c.owner_team.strip().nullif(""),
        owner=c.owner.strip().nullif(""),
        is_stale=_is_stale(_days_since_verified(c, as_of), stale_after_days).cast("int64"),
    )
    counts = marked.group_by(["owner_team", "owner"]).aggregate(
        customers=marked.count(), stale=marked.is_stale.sum()
    )
    return counts.mutate(stale_share=counts.stale / counts.customers).order_by(
        [ibis.desc("stale"), "owner_team", "owner"]
    )


# ---------------------------------------------------------------------------------------------
# publish
# ---------------------------------------------------------------------------------------------


def publish_tables(con: BaseBackend, *, as_of: datetime) -> dict[str, ir.Table]:
    """The quality tables of the snapshot, all at one ``as_of`` (the publish step ``quality``).

    ``quality_records`` (:func:`record_quality` of customers), ``quality_tables``
    (:func:`table_quality`), ``quality_duplicates`` (:func:`duplicate_candidates`) and
    ``quality_stale_by_owner`` (:func:`stale_by_owner`).
    """
    return {
        "quality_records": record_quality(con, _CUSTOMERS, as_of=as_of),
        "quality_tables": table_quality(con, as_of=as_of),
        "quality_duplicates": duplicate_candidates(con),
        "quality_stale_by_owner": stale_by_owner(con, as_of=as_of),
    }
