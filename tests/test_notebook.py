"""crmkit.notebook: what the analyst notebooks open, and running them on another warehouse.

- A company's warehouse (tests/fixtures: 5 customers, 3 products, 6 orders; the latest order
  2024-04-02 10:30) is published into the cache once; a second workspace reuses that snapshot.
  A snapshot ``crmkit publish`` wrote beside the warehouse is opened instead while it is newer
  than the warehouse and has the wanted settings.
- The shared demo (the test session's ``demo_published``) carries its planted truths: 400
  quiet high-value customers (2 % of 20,000, ``demo.PLANTED``) and P0008 as the high-return
  product.
- ``execute`` sets parameters papermill-style; every notebook of ``notebooks/`` runs on a
  warehouse that is not the demo (the shared demo's data with its planted tables dropped) in
  English, and leaves out the demo's planted-signal checks.
"""

from __future__ import annotations

import os
import shutil
from datetime import date, datetime
from pathlib import Path

import nbformat
import pytest

from crmkit import config, db, notebook
from crmkit.ingest import ingest

FIXTURES = Path(__file__).parent / "fixtures"
NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"


@pytest.fixture
def company(tmp_path) -> Path:
    """A company's warehouse from the tiny fixtures (no demo tables)."""
    wh = tmp_path / "data" / "warehouse.duckdb"
    con = db.connect(wh, read_only=False)
    for table in ("customers", "products", "orders"):
        assert ingest(FIXTURES / f"{table}.csv", table, con=con).ok
    con.disconnect()
    return wh


def _published_at(ws: notebook.Workspace) -> datetime:
    return ws.con.table("publish_info").published_at.max().execute()


@pytest.mark.slow
def test_a_company_warehouse_is_published_into_the_cache_once(company, tmp_path):
    cache = tmp_path / "cache"
    ws = notebook.workspace(company, cache_root=cache, lang="en")
    assert not ws.is_demo
    assert ws.planted_ids("quiet_high_value") == set() and ws.planted_values("churn_region") == {}
    assert ws.as_of == datetime(2024, 4, 2, 10, 30)
    assert ws.snapshot.parent.parent == cache and ws.snapshot.name == "published.analyst.duckdb"
    assert ws.config.fingerprint() == config.load().fingerprint()  # the packaged defaults
    assert ws.con.table("classification").count().execute() == 5
    again = notebook.workspace(company, cache_root=cache)
    assert again.snapshot == ws.snapshot and _published_at(again) == _published_at(ws)


def test_the_snapshot_beside_the_warehouse_is_used_while_it_is_newer(
    company, tiny_snapshot, tmp_path, monkeypatch
):
    """The decision only: publishing into the cache is replaced by copying the tiny snapshot
    (the same fixtures published with the packaged settings), recording the settings asked."""
    asked = []

    def publisher(warehouse, cfg):
        def build(directory):
            asked.append(cfg.fingerprint())
            shutil.copyfile(db.analyst_path(tiny_snapshot), directory / "published.analyst.duckdb")

        return build

    monkeypatch.setattr(notebook, "_publisher", publisher)
    cache = tmp_path / "cache"
    beside = company.with_name("published.analyst.duckdb")
    shutil.copyfile(db.analyst_path(tiny_snapshot), beside)  # written after the warehouse
    assert notebook.workspace(company, cache_root=cache).snapshot == beside
    assert notebook.workspace(company, config.DEFAULT_DIR, cache_root=cache).snapshot == beside
    assert asked == []
    # other settings than the snapshot's: published anew, into the cache, with those settings
    other = notebook.workspace(company, config.DEMO_DIR, cache_root=cache)
    assert other.snapshot.parent.parent == cache
    assert asked == [config.load(config.DEMO_DIR).fingerprint()]
    # the warehouse changed after the snapshot was written: the snapshot is not used
    later = beside.stat().st_mtime + 10
    os.utime(company, (later, later))
    changed = notebook.workspace(company, cache_root=cache)
    assert changed.snapshot.parent.parent == cache and changed.snapshot != other.snapshot
    assert asked[1] == config.load().fingerprint()


def test_bad_arguments_are_named(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist; pass the path of your"):
        notebook.workspace(tmp_path / "nowhere.duckdb")
    with pytest.raises(ValueError, match="fr"):
        notebook.workspace(tmp_path / "nowhere.duckdb", lang="fr")


def test_the_shared_demo_carries_its_planted_truths(demo_published):
    ws = notebook.workspace(lang="zh")
    assert ws.snapshot == db.analyst_path(demo_published)
    assert ws.is_demo and ws.as_of.date() == date(2026, 9, 30)
    assert len(ws.planted_ids("quiet_high_value")) == 400  # 2 % of 20,000
    assert ws.planted_values("high_return_product")["product_id"] == "P0008"
    assert ws.planted_values("churn_region")["quarterly_silent_share"] == [0.05, 0.15, 0.25, 0.35]


def _toy_notebook(path: Path) -> Path:
    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_code_cell("X = 1\nLANG = 'zh'", metadata={"tags": ["parameters"]}),
        nbformat.v4.new_code_cell("print(X * 2, LANG)"),
    ]
    nbformat.write(nb, path)
    return path


@pytest.mark.slow
def test_execute_sets_parameters_after_the_parameters_cell(tmp_path):
    src = _toy_notebook(tmp_path / "toy.ipynb")
    nb = notebook.execute(src, {"X": 21}, out=tmp_path / "out.ipynb")
    assert nb.cells[1].source == "X = 21" and nb.cells[1].metadata.tags == ["injected-parameters"]
    assert nb.cells[2].outputs[0].text == "42 zh\n"
    assert nbformat.read(tmp_path / "out.ipynb", as_version=4).cells[2].outputs[0].text == "42 zh\n"


def test_execute_refuses_unknown_parameters_and_untagged_notebooks(tmp_path):
    src = _toy_notebook(tmp_path / "toy.ipynb")
    with pytest.raises(
        ValueError, match=r"\['Y'\] are not parameters of toy.ipynb; .*\['X', 'LANG'\]"
    ):
        notebook.execute(src, {"Y": 1})
    nb = nbformat.read(src, as_version=4)
    nb.cells[0].metadata.tags = []
    nbformat.write(nb, src)
    with pytest.raises(ValueError, match="no cell tagged 'parameters'"):
        notebook.execute(src, {"X": 1})


@pytest.fixture(scope="module")
def not_the_demo(demo_published, tmp_path_factory) -> Path:
    """The shared demo's warehouse without its planted tables, with the demo's analyst
    snapshot copied beside it afterwards (newer: the notebooks open it, nothing is
    published)."""
    d = tmp_path_factory.mktemp("company")
    wh = d / "warehouse.duckdb"
    shutil.copyfile(notebook.shared_demo().warehouse, wh)
    con = db.connect(wh, read_only=False)
    for name in ("demo_planted", "demo_planted_customers"):
        con.drop_table(name)
    con.disconnect()
    shutil.copyfile(db.analyst_path(demo_published), d / "published.analyst.duckdb")
    return wh


def _printed(nb: nbformat.NotebookNode) -> str:
    return "".join(
        o.get("text", "") for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])
    )


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(p.name for p in NOTEBOOKS.glob("0*.ipynb")))
def test_every_notebook_runs_on_a_warehouse_that_is_not_the_demo(name, not_the_demo):
    nb = notebook.execute(NOTEBOOKS / name, {"WAREHOUSE": str(not_the_demo), "LANG": "en"})
    printed = _printed(nb)
    assert "planted" not in printed  # the demo's checks are left out
    assert "_zh" not in printed  # labels in English
    assert str(date(2026, 9, 30)) in printed  # it ran on the data given
