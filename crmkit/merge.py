"""Merging duplicate customers (客户信息收集与维护: one person, one record).

:func:`crmkit.quality.duplicate_candidates` lists customers that may be the same person entered
twice. This module merges them: each candidate group keeps one customer, the *survivor*, with the
most recent value of every field; every fact row of the other members is re-pointed to it; the
others are removed. Each merge is recorded in the warehouse table ``customer_merges`` with what
is needed to undo it exactly. ``crmkit merge-duplicates`` shows the plan (a dry run, the default),
applies it (``--apply``) or undoes one merge (``--undo MERGE_ID``).

The rules
---------
groups
    The candidate pairs of :func:`crmkit.quality.duplicate_candidates` (a shared normalised
    phone, email, or name + company), linked: A–B and B–C make one group {A, B, C}. A
    placeholder group (one value shared by more than ``max_group_size`` customers, such as
    13800000000) is listed but never merged: it is a junk value, not a person. Customers merged
    away by earlier merges still count as holders, so merging some holders of a placeholder
    does not turn it into pairs the next time.
survivor
    The member with the most rows in ``orders`` (any status); ties → the earliest
    ``created_at`` → the smallest ``customer_id``.
fields
    Every field of the survivor takes the most recent *non-empty* value of the group (not null;
    text also not blank). A record's recency is its ``updated_at``, or its ``created_at`` when
    it was never updated; records of the same recency: the survivor's value first, then the
    smallest ``customer_id``'s. Three times keep their meaning instead: ``created_at`` becomes
    the group's earliest (the person has been a customer since the first record),
    ``updated_at`` and ``last_verified_at`` the latest. ``customer_id`` and ``customer_sk``
    stay the survivor's.
fact rows
    Every column declared ``fk="customers"`` in :mod:`crmkit.schema`, with its surrogate key
    (:func:`references`): ``customer_id`` / ``customer_sk`` of orders, interactions, feedback,
    tickets, opportunities and points_ledger, and both ``referrer_id`` and ``referred_id`` of
    referrals. Rows only change owner, so every fact table keeps its row count; a referral
    between two members of a group becomes one from the survivor to the survivor. Rows are found
    again by their table's key, which must therefore be unique among the rows that move.
one transaction
    An ``--apply`` (every group) and an undo each commit whole or not at all.
the record
    ``customer_merges``, one row per merged-away customer: ``merge_id`` (one per group),
    ``merged_at``, ``survivor_id``, ``merged_id``, ``match_on``, the customer's original row
    (``merged_row``, JSON), the survivor's row before and after the merge (``survivor_before``,
    ``survivor_after``, JSON), the keys of the rows re-pointed per ``table.column``
    (``repointed``, JSON) with their count (``repointed_rows``), and ``undone_at``. It holds
    personal data in clear, so it stays in the warehouse: the published snapshot leaves it out
    (:data:`crmkit.schema.WAREHOUSE_ONLY`).
undo
    :func:`undo_merge` puts back the merged-away customers' rows, the survivor's row as it was
    before the merge and the recorded fact rows' customer, and marks the merge undone. It
    refuses, changing nothing, when the result could not be exact: a later merge still in force
    involves the same customers (undo that one first), a merged-away id exists again, the
    survivor changed since the merge, or a recorded row no longer points to the survivor.

Personal data
-------------
:func:`format_plan` masks names, phones and emails (:mod:`crmkit.privacy`) and names the other
fields that change without their values; errors name ids, tables and counts, never a value.
The plan objects hold the rows in clear for the merge itself and leave them out of their repr.

Examples
--------
>>> import pandas as pd
>>> from crmkit import db
>>> con = db.connect(":memory:", read_only=False)
>>> db.create_schema(con)
>>> con.insert("customers", pd.DataFrame({"customer_id": ["C1", "C2"], "customer_sk": [1, 2],
...     "name": ["张三", "张三"], "phone": ["13812345678", "+86 138 1234 5678"],
...     "created_at": pd.to_datetime(["2024-01-01", "2024-03-01"])}))
>>> plan = apply_merges(con, merged_at=datetime(2024, 6, 1))
>>> [(g.merge_id, g.survivor_id, g.merged_ids) for g in plan.groups]
[(1, 'C1', ('C2',))]
>>> con.table("customers").customer_id.to_list()
['C1']
>>> undo_merge(con, 1).restored_ids
('C2',)
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from decimal import Decimal
from importlib import resources
from typing import Any

import ibis
import ibis.expr.types as ir
import pyarrow as pa
from ibis.backends import BaseBackend

from crmkit import db, privacy, quality, schema

#: The warehouse table every merge is recorded in.
MERGES = "customer_merges"
#: Customer times that keep their meaning in a merge instead of taking the most recent value.
KEEP_EARLIEST: tuple[str, ...] = ("created_at",)
KEEP_LATEST: tuple[str, ...] = ("updated_at", "last_verified_at")

_CUSTOMERS = schema.TABLES["customers"]
Row = dict[str, Any]


class MergeError(ValueError):
    """A merge or an undo that cannot be done exactly; the warehouse was not changed."""


@dataclass(frozen=True)
class Reference:
    """A column of a fact table that references a customer, with its surrogate key column."""

    table: str
    column: str
    surrogate: str | None
    key: str

    @property
    def name(self) -> str:
        """``table.column``, as recorded in ``customer_merges.repointed``."""
        return f"{self.table}.{self.column}"


def references() -> tuple[Reference, ...]:
    """Every column declared as referencing ``customers`` in :mod:`crmkit.schema`, in schema
    order, with the surrogate key column stored beside it.

    Examples
    --------
    >>> [r.name for r in references()][-2:]
    ['referrals.referrer_id', 'referrals.referred_id']
    >>> references()[0].surrogate
    'customer_sk'
    """
    out = []
    for t in schema.TABLES.values():
        surrogates = {c.name: sk for sk, c in t.surrogate_columns}
        for c in t.foreign_keys:
            if c.fk == _CUSTOMERS.name:
                out.append(Reference(t.name, c.name, surrogates.get(c.name), t.key))
    return tuple(out)


@dataclass(frozen=True)
class GroupMerge:
    """One candidate group and what merging it changes.

    Attributes
    ----------
    survivor_id : str
        The customer that stays (see the module docstring for the rule).
    merged_ids : tuple of str
        The customers merged into it, by ``customer_id``.
    match_on : str
        The duplicate rules that linked the group, in ``quality.MATCH_RULES`` order.
    orders : dict
        ``customer_id`` → rows in ``orders``, for every member.
    sources : dict
        Survivor field → the member whose value it takes, for every field that changes.
    repointed : dict
        Merged ``customer_id`` → ``"table.column"`` → keys of the rows re-pointed.
    merge_id : int or None
        The merge's id in ``customer_merges`` once applied.
    """

    survivor_id: str
    merged_ids: tuple[str, ...]
    match_on: str
    orders: dict[str, int]
    sources: dict[str, str]
    repointed: dict[str, dict[str, list[str]]]
    merge_id: int | None = None
    #: every member's row and the survivor's row after the merge: personal data in clear
    rows: dict[str, Row] = field(default_factory=dict, repr=False)
    survivor_after: Row = field(default_factory=dict, repr=False)

    @property
    def rows_repointed(self) -> dict[str, int]:
        """Rows re-pointed per table, over every merged member and column."""
        out: dict[str, int] = defaultdict(int)
        for by_column in self.repointed.values():
            for name, keys in by_column.items():
                out[name.split(".", 1)[0]] += len(keys)
        return dict(out)


@dataclass(frozen=True)
class MergePlan:
    """Every candidate group to merge, and the placeholder groups that are not merged.

    ``placeholders``: (rule, customers sharing the value) per placeholder group. ``applied``:
    the plan was carried out (its groups carry their ``merge_id``).
    """

    groups: tuple[GroupMerge, ...]
    placeholders: tuple[tuple[str, int], ...] = ()
    applied: bool = False

    @property
    def customers_removed(self) -> int:
        return sum(len(g.merged_ids) for g in self.groups)

    @property
    def rows_repointed(self) -> dict[str, int]:
        """Rows re-pointed per table, over every group."""
        out: dict[str, int] = defaultdict(int)
        for g in self.groups:
            for table, n in g.rows_repointed.items():
                out[table] += n
        return dict(out)


@dataclass(frozen=True)
class UndoResult:
    """What :func:`undo_merge` put back."""

    merge_id: int
    survivor_id: str
    restored_ids: tuple[str, ...]
    rows_repointed: dict[str, int]
    survivor_fields: tuple[str, ...]


# ---------------------------------------------------------------------------------------------
# the plan
# ---------------------------------------------------------------------------------------------


def plan_merges(con: BaseBackend, *, max_group_size: int = quality.MAX_GROUP_SIZE) -> MergePlan:
    """What merging every duplicate-candidate group would change; changes nothing.

    Parameters
    ----------
    con : ibis backend
        The warehouse (read-only is enough).
    max_group_size : int, default 50
        As in :func:`crmkit.quality.duplicate_candidates`: a value shared by more customers is a
        placeholder, listed in ``placeholders`` and not merged.

    Returns
    -------
    MergePlan
        One :class:`GroupMerge` per group, ordered by the group's smallest ``customer_id``.

    Raises
    ------
    MergeError
        When a customer id is not unique in ``customers``, or the key of a row that would move
        is not unique in its table (the merge could not be undone exactly).
    """
    candidates = (
        quality.duplicate_candidates(con, max_group_size=max_group_size, former=_former(con))
        .to_pyarrow()
        .to_pylist()
    )
    placeholders = tuple(
        (r["match_on"], int(r["group_size"])) for r in candidates if r["customer_id_b"] is None
    )
    linked = _link([r for r in candidates if r["customer_id_b"] is not None])
    if not linked:
        return MergePlan((), placeholders)
    members = [m for ids, _ in linked for m in ids]
    rows = _customer_rows(con, members)
    orders = _order_counts(con, members)
    groups = []
    for ids, rules in linked:
        survivor = _survivor(ids, rows, orders)
        after, sources = _merged_fields([rows[m] for m in ids], survivor)
        groups.append(
            GroupMerge(
                survivor_id=survivor,
                merged_ids=tuple(m for m in ids if m != survivor),
                match_on=", ".join(r for r in quality.MATCH_RULES if r in rules),
                orders={m: orders.get(m, 0) for m in ids},
                sources=sources,
                repointed={},
                rows={m: rows[m] for m in ids},
                survivor_after=after,
            )
        )
    keys = _fact_keys(con, [m for g in groups for m in g.merged_ids])
    groups = [replace(g, repointed={m: keys.get(m, {}) for m in g.merged_ids}) for g in groups]
    return MergePlan(tuple(groups), placeholders)


def _former(con: BaseBackend) -> ir.Table | None:
    """The customers merged away by the merges in force, with the columns duplicates match on."""
    if MERGES not in con.list_tables():
        return None
    log = con.table(MERGES)
    rows = [
        json.loads(r)
        for r in log.filter(log.undone_at.isnull()).merged_row.to_pyarrow().to_pylist()
    ]
    if not rows:
        return None
    columns = ("customer_id", "name", "phone", "email", "company")
    return ibis.memtable(
        pa.table({c: pa.array([r.get(c) for r in rows], pa.string()) for c in columns})
    )


def _link(pairs: list[Row]) -> list[tuple[list[str], set[str]]]:
    """Candidate pairs linked into groups (union-find): (sorted ids, rules matched)."""
    parent: dict[str, str] = {}

    def root(x: str) -> str:
        parent.setdefault(x, x)
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for p in pairs:
        a, b = root(p["customer_id_a"]), root(p["customer_id_b"])
        if a != b:
            parent[max(a, b)] = min(a, b)
    members: dict[str, list[str]] = defaultdict(list)
    for x in list(parent):
        members[root(x)].append(x)
    rules: dict[str, set[str]] = defaultdict(set)
    for p in pairs:
        rules[root(p["customer_id_a"])].update(r.strip() for r in p["match_on"].split(","))
    return [(sorted(members[r]), rules[r]) for r in sorted(members)]


def _ids_table(ids: Iterable[str]) -> ir.Table:
    return ibis.memtable(pa.table({"_id": pa.array(list(ids), pa.string())}))


def _customer_rows(con: BaseBackend, ids: list[str]) -> dict[str, Row]:
    c = con.table(_CUSTOMERS.name)
    wanted = _ids_table(ids)
    found = c.semi_join(wanted, c.customer_id == wanted._id).to_pyarrow().to_pylist()
    rows: dict[str, Row] = {}
    for r in found:
        if r["customer_id"] in rows:
            raise MergeError(
                f"customer {r['customer_id']!r} has more than one row in customers; a merge "
                "needs unique customer ids (re-ingest the customers file to repair it)"
            )
        rows[r["customer_id"]] = r
    return rows


def _order_counts(con: BaseBackend, ids: list[str]) -> dict[str, int]:
    if "orders" not in con.list_tables():
        return {}
    o = con.table("orders")
    wanted = _ids_table(ids)
    mine = o.semi_join(wanted, o.customer_id == wanted._id)
    counts = mine.group_by("customer_id").aggregate(n=mine.count()).to_pyarrow().to_pylist()
    return {r["customer_id"]: int(r["n"]) for r in counts}


def _survivor(ids: list[str], rows: dict[str, Row], orders: dict[str, int]) -> str:
    """Most orders, then the earliest created_at (unknown last), then the smallest id."""

    def rank(m: str) -> tuple:
        created = rows[m].get("created_at")
        return (-orders.get(m, 0), created is None, created or datetime.min, m)

    return min(ids, key=rank)


def _filled(value: object) -> bool:
    return value is not None and not (isinstance(value, str) and not value.strip())


def _merged_fields(members: list[Row], survivor: str) -> tuple[Row, dict[str, str]]:
    """The survivor's row after the merge, and which member each changed field comes from."""
    key, sk = _CUSTOMERS.key, _CUSTOMERS.surrogate
    by_id = sorted(members, key=lambda r: r[key])

    def recency(r: Row) -> tuple:
        when = r.get("updated_at") or r.get("created_at")
        return (when is not None, when or datetime.min, r[key] == survivor)

    # a stable sort, newest first: equal recency keeps the survivor, then the smallest id, first
    newest_first = sorted(by_id, key=recency, reverse=True)
    before = next(r for r in members if r[key] == survivor)
    after, sources = dict(before), {}
    for col in before:
        if col in (key, sk):
            continue
        filled = [r for r in newest_first if _filled(r[col])]
        if not filled:
            continue
        if col in KEEP_EARLIEST:
            pick = min(filled, key=lambda r: r[col])
        elif col in KEEP_LATEST:
            pick = max(filled, key=lambda r: r[col])
        else:
            pick = filled[0]
        after[col] = pick[col]
        if after[col] != before[col]:
            sources[col] = pick[key]
    return after, sources


def _present(con: BaseBackend) -> list[Reference]:
    tables = set(con.list_tables())
    return [r for r in references() if r.table in tables and r.column in con.table(r.table).columns]


def _fact_keys(con: BaseBackend, merged: list[str]) -> dict[str, dict[str, list[str]]]:
    """Merged id → ``table.column`` → keys of the rows that point to it (sorted)."""
    out: dict[str, dict[str, list[str]]] = defaultdict(dict)
    wanted = _ids_table(merged)
    for ref in _present(con):
        t = con.table(ref.table)
        mine = t.semi_join(wanted, t[ref.column] == wanted._id)
        found = mine.select(k=mine[ref.key], owner=mine[ref.column]).to_pyarrow().to_pylist()
        if not found:
            continue
        _check_unique_keys(t, ref, [r["k"] for r in found])
        by_owner: dict[str, list[str]] = defaultdict(list)
        for r in found:
            by_owner[r["owner"]].append(r["k"])
        for owner, keys in by_owner.items():
            out[owner][ref.name] = sorted(keys)
    return dict(out)


def _check_unique_keys(t: ir.Table, ref: Reference, keys: list[str]) -> None:
    """Moved rows are found again by key (to undo): each key must name exactly one row."""
    wanted = _ids_table(keys)
    rows = int(t.semi_join(wanted, t[ref.key] == wanted._id).count().execute())
    if rows != len(set(keys)) or len(set(keys)) != len(keys):
        raise MergeError(
            f"table {ref.table} has {ref.key} values shared by several rows among the rows to "
            f"re-point ({len(keys)} rows, {rows} rows with their keys); a merge needs a unique "
            f"{ref.key} to be undone exactly: re-ingest {ref.table} to repair it"
        )


# ---------------------------------------------------------------------------------------------
# apply and undo
# ---------------------------------------------------------------------------------------------


def apply_merges(
    con: BaseBackend,
    *,
    max_group_size: int = quality.MAX_GROUP_SIZE,
    merged_at: datetime | None = None,
) -> MergePlan:
    """Merge every duplicate-candidate group into its survivor, in one transaction.

    The plan is :func:`plan_merges` computed inside the transaction; the rules (groups,
    survivor, fields, fact rows) are in the module docstring. Running it again finds no
    candidates left: it is idempotent.

    Parameters
    ----------
    con : ibis backend
        The warehouse, opened for writing.
    max_group_size : int, default 50
        See :func:`plan_merges`.
    merged_at : datetime, optional
        Recorded as ``customer_merges.merged_at``; default now (to the second).

    Returns
    -------
    MergePlan
        The plan carried out, ``applied`` set and each group's ``merge_id`` filled in
        (consecutive, after the largest recorded).

    Raises
    ------
    MergeError
        As :func:`plan_merges`; nothing was changed.
    """
    merged_at = merged_at or datetime.now().replace(microsecond=0)
    with db.transaction(con):
        plan = plan_merges(con, max_group_size=max_group_size)
        if not plan.groups:
            return replace(plan, applied=True)
        if MERGES not in con.list_tables():
            con.create_table(MERGES, schema=schema.SYSTEM_SCHEMAS[MERGES])
        first = _next_merge_id(con)
        groups = tuple(replace(g, merge_id=first + i) for i, g in enumerate(plan.groups))
        sk = _CUSTOMERS.surrogate
        for ref in _present(con):
            _repoint(
                con,
                ref,
                [
                    (k, g.survivor_id, g.rows[g.survivor_id].get(sk))
                    for g in groups
                    for m in g.merged_ids
                    for k in g.repointed[m].get(ref.name, [])
                ],
            )
        _upsert_rows(con, _CUSTOMERS.name, [g.survivor_after for g in groups])
        _run_sql(con, "delete_customers.sql", ids=[m for g in groups for m in g.merged_ids])
        _record(con, groups, merged_at)
    return replace(plan, groups=groups, applied=True)


def undo_merge(con: BaseBackend, merge_id: int, *, undone_at: datetime | None = None) -> UndoResult:
    """Reverse one merge exactly, in one transaction, and mark it undone.

    The merged-away customers' rows come back as they were, the survivor's row is put back as
    it was before the merge, and every recorded fact row points to its original customer again.

    Parameters
    ----------
    con : ibis backend
        The warehouse, opened for writing.
    merge_id : int
        A ``merge_id`` of ``customer_merges`` (printed by ``crmkit merge-duplicates --apply``).
    undone_at : datetime, optional
        Recorded as ``customer_merges.undone_at``; default now (to the second).

    Returns
    -------
    UndoResult

    Raises
    ------
    MergeError
        The merge is unknown or already undone, or the undo could not be exact (see the module
        docstring); nothing was changed.
    """
    if isinstance(merge_id, bool) or not isinstance(merge_id, int):
        raise TypeError(f"merge_id must be a whole number, got {merge_id!r}")
    undone_at = undone_at or datetime.now().replace(microsecond=0)
    with db.transaction(con):
        records = _merge_records(con, merge_id)
        survivor = records[0]["survivor_id"]
        restored = tuple(r["merged_id"] for r in records)
        _check_undo(con, merge_id, records)
        arrow = con.table(_CUSTOMERS.name).schema().to_pyarrow()
        merged_rows = [_from_json(r["merged_row"], arrow) for r in records]
        before = _from_json(records[0]["survivor_before"], arrow)
        after = _from_json(records[0]["survivor_after"], arrow)
        con.insert(_CUSTOMERS.name, ibis.memtable(_arrow_rows(merged_rows, arrow)))
        _upsert_rows(con, _CUSTOMERS.name, [before])
        sk = _CUSTOMERS.surrogate
        moved: dict[str, int] = defaultdict(int)
        for ref in _present(con):
            moves = [
                (k, row[_CUSTOMERS.key], row.get(sk))
                for r, row in zip(records, merged_rows, strict=True)
                for k in json.loads(r["repointed"]).get(ref.name, [])
            ]
            _repoint(con, ref, moves)
            if moves:
                moved[ref.table] += len(moves)
        _run_sql(con, "mark_undone.sql", undone_at=undone_at, merge_id=merge_id)
    changed = tuple(c for c in before if before[c] != after.get(c))
    return UndoResult(merge_id, survivor, restored, dict(moved), changed)


def _merge_records(con: BaseBackend, merge_id: int) -> list[Row]:
    if MERGES not in con.list_tables():
        raise MergeError(f"no merge {merge_id}: no merge has been recorded in this warehouse")
    log = con.table(MERGES)
    records = log.filter(log.merge_id == merge_id).order_by("merged_id").to_pyarrow().to_pylist()
    if not records:
        ids = sorted(set(log.merge_id.to_pyarrow().to_pylist()))
        known = f"recorded merges: {_id_ranges(ids)}" if ids else "no merge has been recorded"
        raise MergeError(f"no merge {merge_id} in {MERGES} ({known})")
    if records[0]["undone_at"] is not None:
        raise MergeError(f"merge {merge_id} was already undone at {records[0]['undone_at']}")
    return records


def _check_undo(con: BaseBackend, merge_id: int, records: list[Row]) -> None:
    """Refuse an undo whose result could not be exact (see the module docstring)."""
    survivor = records[0]["survivor_id"]
    merged = [r["merged_id"] for r in records]
    involved = [survivor, *merged]
    log = con.table(MERGES)
    later = (
        log.filter(
            (log.merge_id > merge_id)
            & log.undone_at.isnull()
            & (log.survivor_id.isin(involved) | log.merged_id.isin(involved))
        )
        .merge_id.max()
        .to_pyarrow()
        .as_py()
    )
    if later is not None:
        raise MergeError(
            f"merge {later}, made after merge {merge_id} and still in force, involves the same "
            f"customers; undo it first (crmkit merge-duplicates --undo {later})"
        )
    c = con.table(_CUSTOMERS.name)
    present = set(c.filter(c.customer_id.isin(involved)).customer_id.to_pyarrow().to_pylist())
    back = sorted(set(merged) & present)
    if back:
        raise MergeError(
            f"customer {', '.join(back)} of merge {merge_id} exists again (ingested since the "
            "merge?); undoing would give it two rows. Merge it again instead"
        )
    if survivor not in present:
        raise MergeError(f"survivor {survivor} of merge {merge_id} is no longer in customers")
    arrow = c.schema().to_pyarrow()
    now = _customer_rows(con, [survivor])[survivor]
    after = _from_json(records[0]["survivor_after"], arrow)
    changed = [col for col, v in after.items() if col in now and now[col] != v]
    if changed:
        raise MergeError(
            f"survivor {survivor} changed since merge {merge_id} ({', '.join(changed)}); undoing "
            "would overwrite those changes with its values from before the merge"
        )
    present_refs = {ref.name: ref for ref in _present(con)}
    for r in records:
        for name, keys in json.loads(r["repointed"]).items():
            found = 0
            if name in present_refs:
                ref = present_refs[name]
                t, wanted = con.table(ref.table), _ids_table(keys)
                mine = t.semi_join(wanted, t[ref.key] == wanted._id)
                found = int(mine.filter(mine[ref.column] == survivor).count().execute())
            if found != len(keys):
                raise MergeError(
                    f"{name}: {found} of the {len(keys)} rows merge {merge_id} re-pointed from "
                    f"{r['merged_id']} still point to {survivor}; the rows changed since the merge"
                )


def _id_ranges(ids: list[int]) -> str:
    """1, 2, 3, 5 → '1-3, 5'."""
    parts, start = [], None
    for i, v in enumerate(ids):
        start = v if start is None else start
        if i + 1 == len(ids) or ids[i + 1] != v + 1:
            parts.append(str(v) if v == start else f"{start}-{v}")
            start = None
    return ", ".join(parts)


def _next_merge_id(con: BaseBackend) -> int:
    last = con.table(MERGES).merge_id.max().to_pyarrow().as_py()
    return 1 if last is None else int(last) + 1


def _repoint(con: BaseBackend, ref: Reference, moves: list[tuple[str, str, int | None]]) -> None:
    """Point the rows of ``ref.table`` with these keys to another customer (id and surrogate)."""
    if not moves:
        return
    t = con.table(ref.table)
    keys, ids, sks = zip(*moves, strict=True)
    to = ibis.memtable(
        pa.table(
            {
                "_key": pa.array(keys, pa.string()),
                "_to": pa.array(ids, pa.string()),
                "_to_sk": pa.array(sks, pa.int64()),
            }
        )
    )
    j = t.inner_join(to, t[ref.key] == to._key)
    new = {ref.column: j._to}
    if ref.surrogate and ref.surrogate in t.columns:
        new[ref.surrogate] = j._to_sk
    types = t.schema()
    con.upsert(
        ref.table, j.select(*[new.get(c, j[c]).cast(types[c]).name(c) for c in t.columns]), ref.key
    )


def _arrow_rows(rows: list[Row], arrow: pa.Schema) -> pa.Table:
    return pa.Table.from_pylist([{n: r.get(n) for n in arrow.names} for r in rows], schema=arrow)


def _upsert_rows(con: BaseBackend, table: str, rows: list[Row]) -> None:
    arrow = con.table(table).schema().to_pyarrow()
    con.upsert(table, ibis.memtable(_arrow_rows(rows, arrow)), schema.table(table).key)


def _run_sql(con: BaseBackend, filename: str, **params: object) -> None:
    sql = (resources.files("crmkit") / "sql" / "merge" / filename).read_text(encoding="utf-8")
    statement = "\n".join(line for line in sql.splitlines() if not line.startswith("--"))
    con.con.execute(statement, params)


def _to_json(row: Row) -> str:
    def encode(v: object) -> str:
        if isinstance(v, datetime | date):
            return v.isoformat()
        if isinstance(v, Decimal):
            return str(v)
        raise TypeError(f"cannot record a value of type {type(v).__name__}")

    return json.dumps(row, default=encode, ensure_ascii=False)


def _from_json(text: str, arrow: pa.Schema) -> Row:
    """A recorded row back in the Python types of the table's columns (``arrow``)."""
    raw = json.loads(text)
    row: Row = {}
    for name, v in raw.items():
        kind = arrow.field(name).type if name in arrow.names else None
        if v is None or kind is None:
            row[name] = v
        elif pa.types.is_timestamp(kind):
            row[name] = datetime.fromisoformat(v)
        elif pa.types.is_date(kind):
            row[name] = date.fromisoformat(v)
        elif pa.types.is_decimal(kind):
            row[name] = Decimal(v)
        else:
            row[name] = v
    return row


def _record(con: BaseBackend, groups: tuple[GroupMerge, ...], merged_at: datetime) -> None:
    rows = [
        {
            "merge_id": g.merge_id,
            "merged_at": merged_at,
            "survivor_id": g.survivor_id,
            "merged_id": m,
            "match_on": g.match_on,
            "merged_row": _to_json(g.rows[m]),
            "survivor_before": _to_json(g.rows[g.survivor_id]),
            "survivor_after": _to_json(g.survivor_after),
            "repointed": json.dumps(g.repointed[m], ensure_ascii=False),
            "repointed_rows": sum(len(k) for k in g.repointed[m].values()),
            "undone_at": None,
        }
        for g in groups
        for m in g.merged_ids
    ]
    arrow = schema.SYSTEM_SCHEMAS[MERGES].to_pyarrow()
    con.insert(MERGES, ibis.memtable(_arrow_rows(rows, arrow)))


# ---------------------------------------------------------------------------------------------
# what the command prints (personal data masked)
# ---------------------------------------------------------------------------------------------


def _shown(col: str, value: object) -> str:
    if not _filled(value):
        return "-"
    pii = _CUSTOMERS[col].pii if col in _CUSTOMERS.column_names else None
    return privacy.mask(str(value), pii) if pii else str(value)


def _counts(per_table: dict[str, int]) -> str:
    return ", ".join(f"{t} {n:,}" for t, n in per_table.items()) or "none"


def format_plan(plan: MergePlan) -> str:
    """The plan (or what was applied) as text, names, phones and emails masked.

    Examples
    --------
    >>> print(format_plan(MergePlan(())))
    no duplicate candidates: nothing to merge
    """
    lines: list[str] = []
    if not plan.groups:
        lines.append("no duplicate candidates: nothing to merge")
    for n, g in enumerate(plan.groups, start=1):
        title = f"merge {g.merge_id}" if plan.applied else f"group {n}"
        lines.append(f"{title} (matched on {g.match_on}):")
        for m in (g.survivor_id, *g.merged_ids):
            r = g.rows[m]
            created = f"{r['created_at']:%Y-%m-%d}" if r.get("created_at") else "-"
            lines.append(
                f"  {'keep ' if m == g.survivor_id else 'merge'}  {m}"
                f"  {_shown('name', r.get('name'))}  {_shown('phone', r.get('phone'))}"
                f"  {_shown('email', r.get('email'))}  orders {g.orders[m]:,}  created {created}"
            )
        if g.sources:
            taken = []
            for col, src in g.sources.items():
                pii = _CUSTOMERS[col].pii if col in _CUSTOMERS.column_names else None
                value = f" {_shown(col, g.survivor_after[col])}" if pii else ""
                taken.append(f"{col}{value} (from {src})")
            lines.append(f"  {g.survivor_id} takes: {', '.join(taken)}")
        lines.append(f"  rows re-pointed: {_counts(g.rows_repointed)}")
    if plan.placeholders:
        shared = ", ".join(f"{rule} shared by {n:,} customers" for rule, n in plan.placeholders)
        lines.append(
            f"not merged: {len(plan.placeholders)} placeholder value(s) ({shared}): a value shared"
            f" by that many customers is a junk value, not a person; clean it at the source"
        )
    if plan.groups:
        totals = plan.rows_repointed
        summary = (
            f"{len(plan.groups):,} group(s): {plan.customers_removed:,} customer(s) removed, "
            f"{sum(totals.values()):,} fact row(s) re-pointed ({_counts(totals)})"
        )
        if plan.applied:
            ids = _id_ranges([g.merge_id for g in plan.groups])
            lines.append(f"merged {summary}, in one transaction; recorded in {MERGES} ({ids})")
            lines.append(
                "undo one merge with `crmkit merge-duplicates --undo MERGE_ID`; "
                "run `crmkit publish` to update the dashboards"
            )
        else:
            lines.append(f"dry run, nothing was changed; `--apply` merges {summary}")
    return "\n".join(lines)


def format_undo(result: UndoResult) -> str:
    """What :func:`undo_merge` put back, as text (ids, fields and counts, no values)."""
    fields = ", ".join(result.survivor_fields) or "none changed"
    restored = ", ".join(result.restored_ids)
    return (
        f"undid merge {result.merge_id} in one transaction: restored {restored}; "
        f"survivor {result.survivor_id}'s fields as before the merge ({fields}); "
        f"{sum(result.rows_repointed.values()):,} fact row(s) re-pointed back "
        f"({_counts(result.rows_repointed)})"
    )
