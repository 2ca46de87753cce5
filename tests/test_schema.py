"""The schema declarations are consistent, and the DDL is generated from them."""

import pandas as pd
import pytest

from crmkit import db, schema
from crmkit.ingest import header_map, normalise_header


@pytest.mark.parametrize("name", list(schema.TABLES))
def test_headers_are_unambiguous(name):
    """No two columns of a table accept the same (normalised) header."""
    t = schema.TABLES[name]
    seen: dict[str, str] = {}
    for c in t.columns:
        for h in {normalise_header(x) for x in (c.name, c.zh, c.en, *c.aliases)}:
            assert seen.setdefault(h, c.name) == c.name, (
                f"{name}: {h!r} means {seen[h]} and {c.name}"
            )
    assert set(header_map(t).values()) == set(t.column_names)


@pytest.mark.parametrize("name", list(schema.TABLES))
def test_keys_references_and_enums(name):
    t = schema.TABLES[name]
    assert t[t.key].required and t[t.key].dtype == "text"
    for c in t.foreign_keys:
        assert c.fk in schema.TABLES
        assert list(schema.TABLES).index(c.fk) < list(schema.TABLES).index(name) or c.fk == name
    for c in t.columns:
        if c.allowed:
            # every spelling maps to exactly one code
            spellings = [s.strip().lower() for code, o in c.allowed.items() for s in (code, *o)]
            assert len(spellings) == len(set(spellings)), c.name
    for earlier, later in t.ordered:
        assert t[earlier].dtype == t[later].dtype == "timestamp"


def test_pii_and_surrogates():
    assert [c.name for c in schema.TABLES["customers"].pii_columns] == ["name", "phone", "email"]
    assert schema.TABLES["orders"].surrogate_columns == [
        ("customer_sk", schema.TABLES["orders"]["customer_id"]),
        ("product_sk", schema.TABLES["orders"]["product_id"]),
    ]
    assert [sk for sk, _ in schema.TABLES["referrals"].surrogate_columns] == [
        "referrer_sk",
        "referred_sk",
    ]


def test_generated_ddl_matches_declarations():
    con = db.connect(":memory:", read_only=False)
    db.create_schema(con)
    for name, t in schema.TABLES.items():
        assert con.table(name).schema() == t.ibis_schema()
    for name, sch in schema.SYSTEM_SCHEMAS.items():
        assert con.table(name).schema() == sch
    assert con.table("customers").schema()["customer_id"].is_string()  # leading zeros survive
    assert str(con.table("orders").schema()["amount"]) == "decimal(18, 2)"


def test_unknown_table_is_a_clear_error():
    with pytest.raises(ValueError, match="unknown table 'order'; expected one of: customers"):
        schema.table("order")


def test_data_dictionary_has_every_column():
    rows = schema.describe()
    assert len(rows) == sum(len(t.columns) for t in schema.TABLES.values())
    amount = next(r for r in rows if r["table"] == "orders" and r["column"] == "amount")
    assert amount["zh"] == "金额" and amount["required"] and amount["type"] == "money"
    assert (amount["in_file"], amount["if_missing"]) == ("required", "")
    assert amount["headers"][:3] == ("amount", "金额", "Amount")


def test_minimal_files():
    """A file needs: orders customer_id, order_ts, amount; customers customer_id only. The rest
    of what the warehouse requires is filled in: status completed, order_id computed,
    created_at the first order time."""
    orders, customers = schema.TABLES["orders"], schema.TABLES["customers"]
    assert [c.name for c in orders.file_columns] == ["customer_id", "order_ts", "amount"]
    assert [c.name for c in customers.file_columns] == ["customer_id"]
    assert {c.name: orders.if_missing(c) for c in orders.columns if orders.if_missing(c)} == {
        "order_id": "computed from the row",
        "status": "completed",
    }
    assert customers.if_missing(customers["created_at"]) == "first order time"
    assert {c.name for c in orders.file_columns} <= set(orders.key_from)


@pytest.mark.parametrize("name", list(schema.TABLES))
def test_defaults_are_allowed_codes_and_fills_are_known(name):
    t = schema.TABLES[name]
    for c in t.columns:
        if c.default is not None:
            assert c.allowed is None or c.default in c.allowed, c.name
        if c.fill == "first_activity":
            assert schema.FIRST_ACTIVITY[0] in schema.TABLES and c.dtype == "timestamp"
    assert t.key_from == () or t[t.key].required


def test_stub_tables_have_a_derived_column():
    """customers and products take derived stubs: a ``derived`` boolean, false by default."""
    assert [n for n, t in schema.TABLES.items() if t.stubs] == ["customers", "products"]
    con = db.connect(":memory:", read_only=False)
    db.create_schema(con)
    con.insert("products", pd.DataFrame({"product_id": ["P1"], "product_sk": [1]}))
    assert con.table("products").derived.execute().tolist() == [False]
    assert con.table("customers").schema()[schema.DERIVED].is_boolean()


@pytest.mark.parametrize("name", list(schema.TABLES))
def test_time_column_is_a_declared_time(name):
    t = schema.TABLES[name]
    assert t[t.time_column].dtype in {"date", "timestamp"}
