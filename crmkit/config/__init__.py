"""The company's settings: classification rules, need taxonomy, actions, cadence, KPI targets.

A configuration is a directory of files, one per concern (:data:`FILES`). ``crmkit`` ships
neutral defaults in this package's directory (generic rules, taxonomy and cadence; **no KPI
targets and an empty response register**, since those are a company's own) and the demo
company's settings in ``demo/`` (its targets and its register). A company keeps its own copy
elsewhere (``crmkit config init DIR``) and points at it (``load(directory)``,
``--config DIR`` or ``$CRMKIT_CONFIG``). A file the company's directory lacks falls back to
the packaged default, so a directory holding only ``classification_rules.json`` changes the
rules and nothing else.

Which settings apply (:func:`for_connection`): a published snapshot carries the settings it was
published with (table :data:`SNAPSHOT_TABLE`), so pages and reports use exactly those; for a
warehouse, ``$CRMKIT_CONFIG``, else the demo settings when it is a demo warehouse, else the
neutral defaults.

Every JSON file is validated when it is read, against the JSON Schema in ``schemas/``
(:func:`validate`, the maintained ``jsonschema`` validator): the error names the file, the key,
the value found and what was expected. :class:`Config` is what every publish step, definition
and analysis reads: a frozen object holding the parsed files and where they came from.

Examples
--------
>>> cfg = load()
>>> cfg.rules["rfm"]["exclude_statuses"]
['returned', 'refunded', 'cancelled']
>>> cfg.replace_rules({"rfm": {"exclude_statuses": ["cancelled"]}}).excluded_statuses
('cancelled',)
"""

from __future__ import annotations

import copy
import hashlib
import json
import os
import weakref
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cache, lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

if TYPE_CHECKING:  # jsonschema costs 1.7 s to import (its format checkers): only to validate
    import jsonschema

#: The packaged neutral defaults (this directory).
DEFAULT_DIR = Path(__file__).parent
#: The demo company's settings (its KPI targets and response register; the rest falls back).
DEMO_DIR = DEFAULT_DIR / "demo"
#: One JSON Schema per JSON settings file: ``<file stem>.schema.json``.
SCHEMA_DIR = DEFAULT_DIR / "schemas"
#: The snapshot table holding the settings a snapshot was published with.
SNAPSHOT_TABLE = "published_settings"
#: The table only a demo warehouse has (written by ``crmkit.demo``).
DEMO_MARKER_TABLE = "demo_planted"
#: Most problems listed in one error message.
MAX_PROBLEMS = 10
#: key → file name inside a configuration directory.
FILES = {
    "rules": "classification_rules.json",
    "taxonomy": "need_taxonomy.json",
    "userdict": "need_userdict.txt",
    "actions": "need_actions.json",
    "relationship": "relationship.json",
    "targets": "kpi_targets.json",
}


class ConfigError(ValueError):
    """A settings file is missing, unreadable or malformed; the message names the file."""


@dataclass(frozen=True)
class Config:
    """The parsed settings files of one configuration directory.

    Attributes
    ----------
    directory : Path
        Where the company's files are read from (the packaged defaults fill the gaps).
    data : dict
        key of :data:`FILES` → the parsed JSON (a dict) or, for the user dictionary, its text.
    sources : dict
        key → the file each value was read from.
    """

    directory: Path
    data: Mapping[str, Any] = field(repr=False)
    sources: Mapping[str, Path] = field(repr=False)

    @property
    def rules(self) -> dict[str, Any]:
        """The classification rules (``classification_rules.json``)."""
        return self.data["rules"]

    @property
    def excluded_statuses(self) -> tuple[str, ...]:
        """Order statuses that are not purchases (``rules.rfm.exclude_statuses``)."""
        statuses = self.rules.get("rfm", {}).get("exclude_statuses")
        if not isinstance(statuses, list) or not all(isinstance(s, str) for s in statuses):
            raise ConfigError(
                f"{self.sources['rules']}: rfm.exclude_statuses is {statuses!r}; expected a list "
                'of order statuses, e.g. ["returned", "refunded", "cancelled"]'
            )
        return tuple(statuses)

    def get(self, key: str) -> Any:
        """The parsed file ``key`` (one of :data:`FILES`)."""
        if key not in FILES:
            raise KeyError(f"unknown settings file {key!r}; expected one of {list(FILES)}")
        return self.data[key]

    def path(self, key: str) -> Path:
        """The file the value ``key`` was read from."""
        return self.sources[key]

    def replace_rules(self, changes: Mapping[str, Mapping[str, Any]]) -> Config:
        """A copy whose classification rules have the given sections updated (for what-if
        analysis and tests), e.g. ``{"rfm": {"exclude_statuses": ["cancelled"]}}``."""
        rules = copy.deepcopy(dict(self.rules))
        for section, values in changes.items():
            rules[section] = {**rules.get(section, {}), **values}
        return Config(self.directory, {**self.data, "rules": rules}, self.sources)

    def fingerprint(self) -> str:
        """A short hash of the settings' content: equal settings, equal fingerprint."""
        text = json.dumps(self.data, sort_keys=True, ensure_ascii=False, default=str)
        return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def read_json(path: str | os.PathLike, what: str) -> dict[str, Any]:
    """One JSON settings file, parsed; for the loaders that take a file path.

    Parameters
    ----------
    path : path-like
        The file.
    what : str
        What the file holds, for the messages (``"need taxonomy"``).

    Raises
    ------
    FileNotFoundError
        When the file does not exist.
    ConfigError
        When it is not valid JSON (with the position).

    Examples
    --------
    >>> read_json(DEFAULT_DIR / FILES["actions"], "need actions")["actions"][0]["topic"]
    'delivery'
    """
    p = Path(path)
    if not p.is_file():
        raise FileNotFoundError(f"{what} {str(p)!r} does not exist")
    try:
        return json.loads(p.read_text(encoding="utf-8"))
    except json.JSONDecodeError as e:
        raise ConfigError(f"{what} {str(p)!r} is not valid JSON: {e}") from None


def config_dir(directory: str | os.PathLike | None = None, *, demo: bool = False) -> Path:
    """The argument, else ``$CRMKIT_CONFIG``, else the demo settings (``demo=True``) or the
    packaged neutral defaults."""
    fallback = DEMO_DIR if demo else DEFAULT_DIR
    return Path(directory or os.environ.get("CRMKIT_CONFIG") or fallback)


def load(directory: str | os.PathLike | Config | None = None, *, demo: bool = False) -> Config:
    """Read a configuration directory (see the module docstring).

    Parameters
    ----------
    directory : path-like or Config, optional
        Default ``$CRMKIT_CONFIG``, else the demo settings when ``demo``, else the packaged
        neutral defaults. A :class:`Config` is returned as is.
    demo : bool, default False
        Whether the data is the demo's (its targets and response register apply).

    Raises
    ------
    ConfigError
        When the directory does not exist, or a file in it is not valid JSON or does not fit
        its schema (naming the file, the key, the value and what was expected).
    """
    if isinstance(directory, Config):
        return directory
    d = config_dir(directory, demo=demo)
    if not d.is_dir():
        raise ConfigError(
            f"settings directory {str(d)!r} does not exist; pass an existing directory "
            "(--config DIR / $CRMKIT_CONFIG) or leave it unset for the packaged defaults"
        )
    return _load(d.resolve())


@lru_cache(maxsize=8)
def _load(d: Path) -> Config:
    data: dict[str, Any] = {}
    sources: dict[str, Path] = {}
    for key, name in FILES.items():
        p = d / name if (d / name).exists() else DEFAULT_DIR / name
        text = p.read_text(encoding="utf-8")
        if p.suffix == ".json":
            try:
                data[key] = json.loads(text)
            except json.JSONDecodeError as e:
                raise ConfigError(f"settings file {str(p)!r} is not valid JSON: {e}") from None
            validate(key, data[key], p)
        else:
            data[key] = text
        sources[key] = p
    return Config(d, data, sources)


@cache
def _validator(key: str) -> jsonschema.protocols.Validator:
    import jsonschema  # noqa: PLC0415 — see the import at the top

    schema = json.loads((SCHEMA_DIR / f"{Path(FILES[key]).stem}.schema.json").read_text("utf-8"))
    cls = jsonschema.validators.validator_for(schema)
    cls.check_schema(schema)
    return cls(schema)


def validate(key: str, data: Any, source: str | os.PathLike) -> None:
    """Check one parsed settings file against its JSON Schema (``schemas/``).

    Parameters
    ----------
    key : str
        Which file (a key of :data:`FILES` other than ``userdict``).
    data : object
        The parsed JSON.
    source : str or path-like
        Where it came from, for the message.

    Raises
    ------
    ConfigError
        Listing every problem (at most :data:`MAX_PROBLEMS`), each as
        ``<file>: <key> is <value>; expected <what>``.

    Examples
    --------
    >>> validate("targets", {"targets": {"nps": {"quarter": "high"}}}, "kpi_targets.json")
    Traceback (most recent call last):
    ...
    crmkit.config.ConfigError: settings file 'kpi_targets.json' has 1 problem:
      kpi_targets.json: targets.nps.quarter is 'high'; expected a number, or null for no target
    """
    errors = sorted(_validator(key).iter_errors(data), key=lambda e: list(map(str, e.path)))
    if not errors:
        return
    lines = [_problem(e, str(source)) for e in errors[:MAX_PROBLEMS]]
    more = f"\n  … and {len(errors) - MAX_PROBLEMS} more" if len(errors) > MAX_PROBLEMS else ""
    n = len(errors)
    raise ConfigError(
        f"settings file {str(source)!r} has {n} problem{'s' if n > 1 else ''}:\n  "
        + "\n  ".join(lines)
        + more
    )


def _problem(error: jsonschema.ValidationError, source: str) -> str:
    where = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in error.path).lstrip(".")
    expected = error.schema.get("expected") if isinstance(error.schema, dict) else None
    if error.validator == "required":
        missing = error.message.split("'")[1] if "'" in error.message else error.message
        key = f"{where}.{missing}" if where else missing
        return f"{source}: {key} is missing; expected it to be set (see the packaged default)"
    if "propertyNames" in error.schema_path:
        return (
            f"{source}: {where or 'the file'} has the key {error.instance!r}; "
            f"expected {expected or error.message}"
        )
    if (
        error.validator == "additionalProperties"
        and error.schema.get("additionalProperties") is False
    ):
        return f"{source}: {where or 'the file'}: {error.message}; expected {expected or '—'}"
    shown = json.dumps(error.instance, ensure_ascii=False)
    shown = repr(error.instance) if isinstance(error.instance, str) else shown
    if len(shown) > 80:
        shown = shown[:77] + "…"
    return f"{source}: {where or 'the file'} is {shown}; expected {expected or error.message}"


def as_frame(cfg: Config) -> pd.DataFrame:
    """The settings as rows ``key, source, content`` (the file's text; JSON re-serialised) to
    store in a snapshot (:data:`SNAPSHOT_TABLE`); :func:`from_frame` reads them back."""
    rows = []
    for key in FILES:
        value = cfg.data[key]
        content = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
        rows.append(
            {
                "key": key,
                "source": str(cfg.sources[key]),
                "directory": str(cfg.directory),
                "content": content,
            }
        )
    return pd.DataFrame(rows, dtype="string")


def from_frame(df: pd.DataFrame) -> Config:
    """The :class:`Config` stored by :func:`as_frame` (same content, same fingerprint)."""
    by_key = {r.key: r for r in df.itertuples(index=False)}
    missing = [k for k in FILES if k not in by_key]
    if missing:
        raise ConfigError(f"stored settings lack {missing}; republish with `crmkit publish`")
    data = {
        k: r.content if FILES[k].endswith(".txt") else json.loads(r.content)
        for k, r in by_key.items()
        if k in FILES
    }
    sources = {k: Path(by_key[k].source) for k in FILES}
    return Config(Path(by_key[next(iter(FILES))].directory), data, sources)


def for_connection(con: Any) -> Config:
    """The settings that apply to the data behind an Ibis connection.

    A published snapshot: the settings it was published with. A warehouse:
    ``$CRMKIT_CONFIG``, else the demo settings for a demo warehouse, else the neutral
    defaults.
    """
    tables = set(con.list_tables())
    if SNAPSHOT_TABLE in tables:
        # a snapshot's settings never change while it is open: read them once per connection
        # (a page refresh asks for them once per KPI period)
        if con not in _PUBLISHED:
            _PUBLISHED[con] = from_frame(con.table(SNAPSHOT_TABLE).to_pandas())
        return _PUBLISHED[con]
    return load(demo=DEMO_MARKER_TABLE in tables)


#: connection → the settings its snapshot was published with (dropped with the connection)
_PUBLISHED: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def init(directory: str | os.PathLike, *, force: bool = False) -> list[Path]:
    """Write the packaged neutral defaults (every file of :data:`FILES`) into ``directory`` for
    a company to edit; the directory is created when missing. The KPI targets come with every
    KPI and period set to ``null`` (no target) and the response register empty, with an example
    entry in its ``example`` key.

    Raises
    ------
    ConfigError
        When a file is already there and ``force`` is false (nothing is written then).

    Examples
    --------
    >>> import tempfile
    >>> d = Path(tempfile.mkdtemp()) / "company"
    >>> [p.name for p in init(d)] == list(FILES.values())
    True
    >>> load(d).fingerprint() == load().fingerprint()
    True
    """
    d = Path(directory)
    targets = [d / name for name in FILES.values()]
    present = [p.name for p in targets if p.exists()]
    if present and not force:
        raise ConfigError(
            f"{str(d)!r} already has {', '.join(present)}; pass --force to overwrite them"
        )
    d.mkdir(parents=True, exist_ok=True)
    for p in targets:
        p.write_bytes((DEFAULT_DIR / p.name).read_bytes())
    return targets
