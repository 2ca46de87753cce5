"""What an analyst notebook starts from: a published snapshot of your warehouse, or the demo's.

Every notebook in ``notebooks/`` begins with three parameters and one call::

    WAREHOUSE = None  # path to your warehouse.duckdb; None = the shared demo
    CONFIG = None     # your settings directory (crmkit publish --config); None = packaged/demo
    LANG = "zh"       # or "en"
    ws = notebook.workspace(WAREHOUSE, CONFIG, LANG)

:func:`workspace` returns the analyst snapshot (clear, read-only), its data clock, the settings
it was published with and, for the demo, the planted truths. Where the snapshot comes from:

- ``WAREHOUSE = None``: the shared demo (:func:`shared_demo`, 20,000 customers, seed 42, as
  of 2026-09-30), generated and published once into the cache (:mod:`crmkit.cache`) and
  shared by every notebook and the test suite. ``CONFIG`` then publishes a copy with those
  settings.
- ``WAREHOUSE = "path/warehouse.duckdb"``: the analyst snapshot ``crmkit publish`` wrote
  beside it (``path/published.analyst.duckdb``) when that file is newer than the warehouse and
  was published with the same settings (``CONFIG``, or any when ``CONFIG`` is None); otherwise
  the warehouse is published into the cache (never over the dashboards' snapshot), again only
  once for the same warehouse file, settings and crmkit code.

Examples
--------
>>> import tempfile
>>> from crmkit import db
>>> d = Path(tempfile.mkdtemp())
>>> con = db.connect(d / "warehouse.duckdb", read_only=False)
>>> db.create_schema(con)
>>> con.disconnect()
>>> ws = workspace(d / "warehouse.duckdb", cache_root=d / "cache", lang="en")
>>> ws.is_demo, ws.snapshot.name, "publish_steps" in ws.con.list_tables()
(False, 'published.analyst.duckdb', True)
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any, NamedTuple

import pandas as pd
from ibis.backends import BaseBackend

from crmkit import cache, db, demo, i18n
from crmkit import config as _config
from crmkit.publish import is_demo, publish

_PLANTED_COLUMNS = ["signal", "key", "value"]


class SharedDemo(NamedTuple):
    """The shared demo's files: the warehouse and the published (dashboard) snapshot; the
    analyst snapshot is ``db.analyst_path(published)``."""

    warehouse: Path
    published: Path


def shared_demo(
    customers: int = demo.SHARED_CUSTOMERS,
    *,
    seed: int = demo.SHARED_SEED,
    as_of: date = demo.SHARED_AS_OF,
    config: str | os.PathLike | None = None,
    root: str | os.PathLike | None = None,
) -> SharedDemo:
    """The shared demo warehouse (:func:`crmkit.demo.shared_warehouse`) and its snapshot,
    published once with every step (:func:`crmkit.publish.publish`) and shared.

    The first caller publishes; the others — the test session, each notebook's kernel — wait
    on the cache lock and open the same files. The key holds the warehouse's, the settings'
    fingerprint and :func:`code_key`: a change to an analysis publishes anew (the warehouse is
    regenerated only when the generator changed).

    Parameters
    ----------
    customers, seed, as_of
        As for :func:`crmkit.demo.generate`.
    config : path-like, optional
        The settings to publish with; default ``$CRMKIT_CONFIG``, else the demo's.
    root : path-like, optional
        The directory of the cache entries; default ``crmkit.cache.cache_dir() / "shared"``.

    Returns
    -------
    SharedDemo
        ``(warehouse, published)``; open them read-only.

    Examples
    --------
    >>> import tempfile
    >>> from crmkit import db
    >>> wh, pub = shared_demo(1_000, root=tempfile.mkdtemp())
    >>> con = db.connect(db.analyst_path(pub))
    >>> con.table("classification").count().execute()
    1000
    """
    warehouse = demo.shared_warehouse(customers, seed=seed, as_of=as_of, root=root)
    cfg = _config.load(config, demo=True)
    family = f"published-{demo.shared_family(customers, seed=seed, as_of=as_of)}"
    key = cache.fingerprint(warehouse.parent.name, cfg.fingerprint(), code_key())
    entry = cache.built(family, key, _publisher(warehouse, cfg), root=root)
    return SharedDemo(warehouse, entry / "published.duckdb")


#: What lies above the publish layer (DESIGN.md's layers 6-7, tests/test_imports.py): the
#: publish steps cannot import it, so it cannot change a snapshot.
_ABOVE_PUBLISH = frozenset(
    {"charts", "views", "report", "notebook", "serve", "cli", "__init__", "__main__", "templates"}
)


def code_key() -> str:
    """A :func:`crmkit.cache.fingerprint` of what a published snapshot depends on besides the
    data and the settings: the source files of crmkit up to the publish layer (``.py``,
    ``.sql``, ``.json``, ``.txt``; a change to a page or a chart publishes nothing anew) and the
    versions of the libraries the publish steps compute with."""
    from importlib.metadata import PackageNotFoundError, version

    libs = []
    for name in (
        "duckdb", "ibis-framework", "pandas", "numpy", "scipy", "statsmodels", "scikit-learn",
        "pymc-marketing", "jieba", "snownlp", "vaderSentiment",
    ):  # fmt: skip
        try:
            libs.append((name, version(name)))
        except PackageNotFoundError:
            libs.append((name, None))
    here = Path(__file__).parent
    files = [
        p
        for p in here.rglob("*")
        if p.suffix in {".py", ".sql", ".json", ".txt"}
        and "__pycache__" not in p.parts
        and p.relative_to(here).with_suffix("").parts[0] not in _ABOVE_PUBLISH
    ]
    return cache.fingerprint(db.version(), libs, files=files)


def _publisher(warehouse: Path, cfg: _config.Config):  # noqa: ANN202
    def build(directory: Path) -> None:
        publish(warehouse, directory / "published.duckdb", config=cfg)

    return build


@dataclass(frozen=True)
class Workspace:
    """The data a notebook works on (see the module docstring).

    Attributes
    ----------
    con : ibis backend
        The analyst snapshot, read-only: the warehouse's tables in clear plus every published
        table.
    snapshot, warehouse : Path
        The analyst snapshot's and the warehouse's files.
    as_of : datetime
        The data clock the snapshot was published at.
    config : crmkit.config.Config
        The settings it was published with.
    lang : str
        ``"zh"`` or ``"en"``: what charts and labels are drawn in.
    planted : pandas.DataFrame
        The demo's planted truths (``signal, key, value``; :data:`crmkit.demo.PLANTED` with the
        run's dates and realised sizes); empty for a company's warehouse.
    planted_customers : pandas.DataFrame
        ``customer_id, signal`` of the signals listed per customer; empty when not the demo.
    """

    con: BaseBackend
    snapshot: Path
    warehouse: Path
    as_of: datetime
    config: _config.Config
    lang: str
    planted: pd.DataFrame = field(repr=False)
    planted_customers: pd.DataFrame = field(repr=False)

    @property
    def is_demo(self) -> bool:
        """The data is crmkit's demo (its planted signals can be checked)."""
        return not self.planted.empty

    def planted_values(self, signal: str) -> dict[str, object]:
        """One planted signal's parameters, JSON values decoded (empty when not the demo).

        Examples
        --------
        >>> ws = Workspace(None, Path("s"), Path("w"), datetime(2026, 9, 30), None, "zh",
        ...     pd.DataFrame({"signal": ["growing_need"], "key": ["keywords_zh"],
        ...                   "value": ['["培训", "教程"]']}), pd.DataFrame())
        >>> ws.planted_values("growing_need")
        {'keywords_zh': ['培训', '教程']}
        """
        rows = self.planted[self.planted.signal == signal]
        return {r.key: _decode(r.value) for r in rows.itertuples()}

    def planted_ids(self, signal: str) -> set[str]:
        """The customers a per-customer signal planted (empty when not the demo)."""
        if self.planted_customers.empty:
            return set()
        pc = self.planted_customers
        return set(pc.customer_id[pc.signal == signal])


def _decode(value: str) -> object:
    try:
        return json.loads(value)
    except (TypeError, ValueError):
        return value


def workspace(
    warehouse: str | os.PathLike | None = None,
    config: str | os.PathLike | None = None,
    lang: str = "zh",
    *,
    cache_root: str | os.PathLike | None = None,
) -> Workspace:
    """Open the data a notebook analyses (see the module docstring for where it comes from).

    Parameters
    ----------
    warehouse : path-like, optional
        Your warehouse (``crmkit ingest`` builds one); None for the shared demo.
    config : path-like, optional
        Your settings directory (``crmkit config init DIR``); None: ``$CRMKIT_CONFIG``, else
        the demo's settings for the demo, the packaged defaults otherwise.
    lang : {"zh", "en"}, default "zh"
        The language of charts and labels.
    cache_root : path-like, optional
        The directory of the cache entries; default ``crmkit.cache.cache_dir() / "shared"``.

    Returns
    -------
    Workspace

    Raises
    ------
    FileNotFoundError
        When ``warehouse`` does not exist.
    ValueError
        When ``lang`` is not ``"zh"`` or ``"en"``.
    crmkit.config.ConfigError
        When ``config`` is not a valid settings directory.
    crmkit.publish.PublishError
        When publishing the warehouse fails (the step is named).
    """
    lang = i18n.check_lang(lang)
    if warehouse is None:
        warehouse_path, published = shared_demo(config=config, root=cache_root)
        snapshot = db.analyst_path(published)
    else:
        warehouse_path = Path(warehouse).expanduser().resolve()
        if not warehouse_path.is_file():
            raise FileNotFoundError(
                f"warehouse {str(warehouse)!r} does not exist; pass the path of your "
                "warehouse.duckdb (crmkit ingest builds one) or None for the shared demo"
            )
        snapshot = _snapshot_of(warehouse_path, config, cache_root)
    con = db.connect(snapshot)
    # DuckDB draws a progress widget for queries slower than 2 s: keep notebook outputs stable
    con.raw_sql("SET enable_progress_bar = false")
    planted, planted_customers = _planted(warehouse_path)
    return Workspace(
        con=con,
        snapshot=snapshot,
        warehouse=warehouse_path,
        as_of=db.data_as_of(con),
        config=_config.for_connection(con),
        lang=lang,
        planted=planted,
        planted_customers=planted_customers,
    )


def _snapshot_of(
    warehouse: Path, config: str | os.PathLike | None, root: str | os.PathLike | None
) -> Path:
    """The analyst snapshot ``crmkit publish`` left beside the warehouse when it is newer and
    has the wanted settings; else one published into the cache."""
    beside = db.analyst_path(warehouse.with_name("published.duckdb"))
    wanted = _config.load(config, demo=is_demo(warehouse)) if config else None
    if beside.is_file() and beside.stat().st_mtime > warehouse.stat().st_mtime:
        con = db.connect(beside)
        try:
            published = _config.for_connection(con)
        finally:
            con.disconnect()
        if wanted is None or wanted.fingerprint() == published.fingerprint():
            return beside
    cfg = wanted or _config.load(None, demo=is_demo(warehouse))
    stat = warehouse.stat()
    family = f"published-{cache.fingerprint(str(warehouse))}"
    key = cache.fingerprint(stat.st_size, stat.st_mtime_ns, cfg.fingerprint(), code_key())
    entry = cache.built(family, key, _publisher(warehouse, cfg), root=root)
    return db.analyst_path(entry / "published.duckdb")


def _planted(warehouse: Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The demo's planted truths from the warehouse (``publish`` leaves them out of the
    snapshot); empty frames for a company's warehouse."""
    con = db.connect(warehouse)
    try:
        tables = set(con.list_tables())
        if _config.DEMO_MARKER_TABLE not in tables:
            return pd.DataFrame(columns=_PLANTED_COLUMNS), pd.DataFrame(
                columns=["customer_id", "signal"]
            )
        planted = con.table(_config.DEMO_MARKER_TABLE).select(*_PLANTED_COLUMNS).to_pandas()
        customers = con.table("demo_planted_customers").select("customer_id", "signal")
        return planted, customers.to_pandas()
    finally:
        con.disconnect()


def execute(
    path: str | os.PathLike,
    parameters: Mapping[str, object] | None = None,
    *,
    out: str | os.PathLike | None = None,
    timeout: int = 1800,
) -> Any:
    """Run a notebook top to bottom with its parameters set (papermill-style).

    The values are written, as ``NAME = repr(value)`` lines, into a cell tagged
    ``injected-parameters`` right after the cell tagged ``parameters`` (the notebooks'
    ``WAREHOUSE`` / ``CONFIG`` / ``LANG`` cell), so the notebook's defaults stay visible above.
    The kernel runs in the notebook's folder.

    Parameters
    ----------
    path : path-like
        The notebook.
    parameters : mapping, optional
        Name → value; each name must be assigned in the parameters cell.
    out : path-like, optional
        Where to write the executed notebook (with its outputs).
    timeout : int, default 1800
        Seconds one cell may run.

    Returns
    -------
    nbformat.NotebookNode
        The executed notebook.

    Raises
    ------
    ValueError
        When the notebook has no cell tagged ``parameters`` or a name is not one of its
        parameters (the message lists them).
    nbclient.exceptions.CellExecutionError
        When a cell fails (with the cell's traceback).

    Examples
    --------
    ``execute("notebooks/01_classification.ipynb", {"WAREHOUSE": "data/warehouse.duckdb",
    "LANG": "en"}, out="01_mine.ipynb")``
    """
    import nbclient
    import nbformat

    path = Path(path)
    nb = nbformat.read(path, as_version=4)
    where = [i for i, c in enumerate(nb.cells) if "parameters" in c.metadata.get("tags", [])]
    if not where:
        raise ValueError(
            f"{str(path)!r} has no cell tagged 'parameters'; tag the cell that sets the "
            "notebook's parameters (WAREHOUSE = None …)"
        )
    known = _assigned(nb.cells[where[0]].source)
    values = dict(parameters or {})
    unknown = sorted(set(values) - set(known))
    if unknown:
        raise ValueError(f"{unknown} are not parameters of {path.name}; its parameters are {known}")
    if values:
        source = "\n".join(f"{k} = {v!r}" for k, v in values.items())
        cell = nbformat.v4.new_code_cell(source, metadata={"tags": ["injected-parameters"]})
        nb.cells.insert(where[0] + 1, cell)
    nbclient.NotebookClient(
        nb,
        timeout=timeout,
        kernel_name="python3",
        resources={"metadata": {"path": str(path.parent)}},
    ).execute()
    if out is not None:
        nbformat.write(nb, Path(out))
    return nb


def _assigned(source: str) -> list[str]:
    """The names a parameters cell assigns (``NAME = value`` at the start of a line)."""
    import ast

    tree = ast.parse(source)
    return [
        t.id
        for node in tree.body
        if isinstance(node, ast.Assign)
        for t in node.targets
        if isinstance(t, ast.Name)
    ]
