"""The schema declarations are consistent, and the DDL is generated from them."""

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


@pytest.mark.parametrize("name", list(schema.TABLES))
def test_time_column_is_a_declared_time(name):
    t = schema.TABLES[name]
    assert t[t.time_column].dtype in {"date", "timestamp"}
