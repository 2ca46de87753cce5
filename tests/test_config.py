"""The company's settings: validated by their JSON Schemas, neutral by default, the demo's own
for the demo, carried inside the snapshot, and checked by ``report`` / ``serve``.
"""

from __future__ import annotations

import importlib
import json
import shutil

import duckdb
import pytest

from crmkit import classification, cli, config, db, demo, kpi, needs, schema, text, views

publish = importlib.import_module("crmkit.publish")


def _schema(key: str) -> dict:
    name = config.FILES[key].replace(".json", ".schema.json")
    return json.loads((config.SCHEMA_DIR / name).read_text("utf-8"))


# ---------------------------------------------------------------------------------------------
# the schemas
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("directory", [config.DEFAULT_DIR, config.DEMO_DIR])
def test_every_packaged_file_fits_its_schema(directory):
    cfg = config.load(directory)
    checked = []
    for key, name in config.FILES.items():
        if name.endswith(".json"):
            assert config.validate(key, cfg.get(key), cfg.path(key)) is None  # raises otherwise
            checked.append(key)
    assert checked == ["rules", "taxonomy", "actions", "relationship", "targets"]


def test_the_schemas_name_the_codes_the_code_knows():
    """The schema files spell out allowed values for the company to read; they must be the
    code's own lists."""
    rules = _schema("rules")["properties"]
    statuses = rules["rfm"]["properties"]["exclude_statuses"]["items"]["enum"]
    assert set(statuses) == set(schema.TABLES["orders"]["status"].allowed)
    assert rules["rfm"]["properties"]["split"]["enum"] == list(classification.SPLITS)
    assert rules["tiers"]["properties"]["method"]["enum"] == list(classification.TIER_METHODS)
    abc = rules["important"]["properties"]["abc_classes"]["items"]["enum"]
    assert abc == list(classification.ABC_CLASSES)
    assert rules["customer_types"]["required"] == list(classification.CUSTOMER_TYPES)
    assert rules["rfm_classes"]["required"] == list(classification.RFM_CLASSES)
    teams = _schema("rules")["$defs"]["team"]["enum"]
    assert set(teams) == {*schema.OWNER_TEAMS, None}
    targets = _schema("targets")["properties"]["targets"]
    assert targets["propertyNames"]["enum"] == list(kpi.REGISTRY)
    action = _schema("actions")["properties"]["actions"]["items"]["properties"]
    assert action["kind"]["enum"] == list(needs.ACTION_KINDS)
    assert action["status"]["enum"] == list(needs.ACTION_STATUSES)
    weights = _schema("taxonomy")["properties"]["priority"]["properties"]["weights"]
    assert weights["required"] == list(text.PRIORITY_FACTORS)


def test_a_bad_value_names_file_key_value_and_expectation(tmp_path):
    company = tmp_path / "company"
    config.init(company)
    rules = json.loads((company / "classification_rules.json").read_text("utf-8"))
    rules["rfm"]["split"] = "mode"
    rules["lifecycle"]["loyalty_min_f_score"] = 6
    (company / "classification_rules.json").write_text(json.dumps(rules), "utf-8")
    path = company.resolve() / "classification_rules.json"
    with pytest.raises(config.ConfigError) as e:
        config.load(company)
    assert str(e.value) == (
        f"settings file '{path}' has 2 problems:\n"
        f"  {path}: lifecycle.loyalty_min_f_score is 6; expected a score from 1 to 5\n"
        f'  {path}: rfm.split is \'mode\'; expected "mean" or "median"'
    )


def test_missing_keys_unknown_keys_and_list_items_are_named():
    with pytest.raises(config.ConfigError, match=r"t.json: targets is missing"):
        config.validate("targets", {}, "t.json")
    with pytest.raises(
        config.ConfigError,
        match=r"t.json: targets has the key 'retention'; expected a KPI key",
    ):
        config.validate("targets", {"targets": {"retention": {"year": 0.9}}}, "t.json")
    bad = {
        "actions": [
            {
                "topic": "x",
                "kind": "product",
                "status": "later",
                "date": "2026-01-01",
                "zh": "",
                "en": "",
            }
        ]
    }
    with pytest.raises(
        config.ConfigError,
        match=r"a.json: actions\[0\].status is 'later'; expected one of planned, in_progress",
    ):
        config.validate("actions", bad, "a.json")


def test_at_most_ten_problems_are_listed():
    bad = {"targets": {k: {"year": "x"} for k in kpi.REGISTRY}}
    with pytest.raises(config.ConfigError) as e:
        config.validate("targets", bad, "t.json")
    message = str(e.value)
    assert message.startswith(f"settings file 't.json' has {len(kpi.REGISTRY)} problems:")
    assert message.count("expected a number, or null for no target") == config.MAX_PROBLEMS
    assert message.endswith(f"… and {len(kpi.REGISTRY) - config.MAX_PROBLEMS} more")


def test_a_bad_taxonomy_in_a_company_directory_is_refused_on_load(tmp_path):
    tax = json.loads((config.DEFAULT_DIR / config.FILES["taxonomy"]).read_text("utf-8"))
    tax["priority"]["weights"]["reach"] = -1
    (tmp_path / config.FILES["taxonomy"]).write_text(json.dumps(tax), "utf-8")
    with pytest.raises(
        config.ConfigError, match=r"priority.weights.reach is -1; expected a weight"
    ):
        config.load(tmp_path)


# ---------------------------------------------------------------------------------------------
# neutral defaults, the demo's settings, the snapshot's settings
# ---------------------------------------------------------------------------------------------


def test_neutral_defaults_set_no_target_and_no_action_the_demo_sets_both():
    neutral, demo_cfg = config.load(), config.load(demo=True)
    targets = neutral.get("targets")["targets"]
    assert set(targets) == set(kpi.REGISTRY)
    assert all(v is None for per in targets.values() for v in per.values())
    assert needs.load_actions(config=neutral).empty
    assert demo_cfg.get("targets")["targets"]["nps"] == {"month": 20, "quarter": 20, "year": 25}
    assert len(needs.load_actions(config=demo_cfg)) == 5
    # the rest of the demo's settings are the defaults
    assert demo_cfg.rules == neutral.rules and demo_cfg.path("rules") == neutral.path("rules")


def test_the_environment_wins_over_the_demo(tmp_path, monkeypatch):
    config.init(tmp_path)
    monkeypatch.setenv("CRMKIT_CONFIG", str(tmp_path))
    assert config.load(demo=True).directory == tmp_path.resolve()


def test_settings_survive_the_round_trip_through_a_snapshot_table():
    cfg = config.load(demo=True)
    back = config.from_frame(config.as_frame(cfg))
    assert back.fingerprint() == cfg.fingerprint()
    assert back.directory == cfg.directory and back.path("targets") == cfg.path("targets")
    assert back.get("userdict") == cfg.get("userdict")


@pytest.fixture(scope="module")
def warehouses(tmp_path_factory):
    """The same 300-customer demo twice: as the demo built it, and as a company's warehouse
    (the demo's planted-truth tables dropped)."""
    d = tmp_path_factory.mktemp("cfg")
    demo_wh = d / "demo.duckdb"
    con = db.connect(demo_wh, read_only=False)
    demo.generate(con, 300, seed=11, progress=False)
    con.disconnect()
    company_wh = d / "company.duckdb"
    shutil.copy(demo_wh, company_wh)
    raw = duckdb.connect(str(company_wh))
    raw.execute("DROP TABLE demo_planted_customers; DROP TABLE demo_planted")
    raw.close()
    return d, demo_wh, company_wh


NEEDS_STEPS = [s for s in publish.STEPS if s.name in ("need_texts", "needs")]


def _evaluation(snapshot) -> dict:
    con = db.connect(snapshot)
    try:
        ev = kpi.evaluate(con, "2026-Q2", keys=["nps", "new_customers"]).set_index("key")
        actions = con.table("need_actions").to_pandas()
        info = con.table("publish_info").to_pandas().iloc[0]
        ev_en = kpi.evaluate(con, "2026-Q2", keys=["nps", "new_customers"], lang="en")
        overview = {"cards_html": views.kpi.kpi_cards_html(ev_en, "en")}
    finally:
        con.disconnect()
    return {"ev": ev, "actions": actions, "info": info, "overview": overview}


def test_the_demo_publishes_with_its_targets_and_a_company_warehouse_without(warehouses):
    d, demo_wh, company_wh = warehouses
    publish.publish(demo_wh, d / "demo_pub.duckdb", steps=NEEDS_STEPS)
    publish.publish(company_wh, d / "company_pub.duckdb", steps=NEEDS_STEPS)
    shown = _evaluation(d / "demo_pub.duckdb")
    assert shown["ev"].loc["nps", "target"] == 20
    assert len(shown["actions"]) == 5
    assert shown["info"].config_dir == str(config.DEMO_DIR)
    plain = _evaluation(d / "company_pub.duckdb")
    assert plain["ev"].target.isna().all()
    assert plain["actions"].empty
    assert plain["info"].config_dir == str(config.DEFAULT_DIR)
    cards = plain["overview"]["cards_html"]
    assert "No target set" in cards and "Target " not in cards
    assert "耳机 X1" not in plain["actions"].to_string()


def test_a_company_config_changes_targets_rules_and_actions_in_the_snapshot(warehouses, tmp_path):
    d, _, company_wh = warehouses
    company = tmp_path / "company"
    config.init(company)
    targets = json.loads((company / "kpi_targets.json").read_text("utf-8"))
    targets["targets"]["nps"]["quarter"] = 33
    (company / "kpi_targets.json").write_text(json.dumps(targets), "utf-8")
    actions = json.loads((company / "need_actions.json").read_text("utf-8"))
    actions["actions"] = [{**actions["example"], "zh": "换快递公司", "en": "New courier"}]
    (company / "need_actions.json").write_text(json.dumps(actions, ensure_ascii=False), "utf-8")
    rules = json.loads((company / "classification_rules.json").read_text("utf-8"))
    rules["version"] = "company-7"
    (company / "classification_rules.json").write_text(json.dumps(rules), "utf-8")
    steps = [s for s in publish.STEPS if s.name == "classification"] + NEEDS_STEPS
    out = tmp_path / "p.duckdb"
    publish.publish(company_wh, out, config=company, steps=steps)
    shown = _evaluation(out)
    assert shown["ev"].loc["nps", "target"] == 33
    assert shown["ev"].loc["new_customers", "target"] is None or pd_isna(
        shown["ev"].loc["new_customers", "target"]
    )
    assert shown["actions"][["status", "action_en"]].values.tolist() == [
        ["in_progress", "New courier"]
    ]
    con = db.connect(out)
    versions = con.table("classification").rules_version.to_pandas().unique().tolist()
    stored = config.for_connection(con)
    con.disconnect()
    assert versions == ["company-7"]
    assert stored.fingerprint() == config.load(company).fingerprint()
    # report and serve accept these settings and refuse others, saying how to republish
    assert publish.check_snapshot_settings(out, company).fingerprint() == stored.fingerprint()
    with pytest.raises(config.ConfigError, match="run `crmkit publish --config"):
        publish.check_snapshot_settings(out, config.DEMO_DIR)


def pd_isna(x) -> bool:
    import pandas as pd

    return bool(pd.isna(x))


def test_report_and_serve_refuse_settings_the_snapshot_was_not_published_with(
    warehouses, tmp_path, capsys
):
    d, _, company_wh = warehouses
    out = tmp_path / "p.duckdb"
    publish.publish(company_wh, out, steps=[])
    other = tmp_path / "other"
    config.init(other)
    targets = json.loads((other / "kpi_targets.json").read_text("utf-8"))
    targets["targets"]["nps"]["year"] = 10
    (other / "kpi_targets.json").write_text(json.dumps(targets), "utf-8")
    args = ["--published", str(out), "--config", str(other)]
    assert cli.main(["report", *args, "--out", str(tmp_path / "r.html")]) == 2
    err = capsys.readouterr().err
    assert f"crmkit report: the snapshot '{out}' was published with the settings in" in err
    assert f"run `crmkit publish --config {other.resolve()}` first" in err
    assert not (tmp_path / "r.html").exists()
    assert cli.main(["serve", *args, "--port", "1", "--no-browser"]) == 2
    assert "crmkit serve: the snapshot" in capsys.readouterr().err
