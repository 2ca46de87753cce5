"""The company's settings: classification rules, need taxonomy, actions, cadence, KPI targets.

A configuration is a directory of files, one per concern (:data:`FILES`). ``crmkit`` ships
defaults in this package's directory; a company keeps its own copy elsewhere and points at it
(``load(directory)`` or ``$CRMKIT_CONFIG``). A file the company's directory lacks falls back
to the packaged default, so a directory holding only ``classification_rules.json`` changes the
rules and nothing else.

:class:`Config` is what every publish step, definition and analysis reads: a frozen object
holding the parsed files and where they came from. Each analysis module validates the part it
owns (the classification rules by :func:`crmkit.classification.validate_rules`, the taxonomy
by :func:`crmkit.text.load_taxonomy`, …) when it uses it.

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
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

#: The packaged defaults (this directory).
DEFAULT_DIR = Path(__file__).parent
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


def config_dir(directory: str | os.PathLike | None = None) -> Path:
    """The argument, else ``$CRMKIT_CONFIG``, else the packaged defaults."""
    return Path(directory or os.environ.get("CRMKIT_CONFIG") or DEFAULT_DIR)


def load(directory: str | os.PathLike | Config | None = None) -> Config:
    """Read a configuration directory (see the module docstring).

    Parameters
    ----------
    directory : path-like or Config, optional
        Default ``$CRMKIT_CONFIG`` or the packaged defaults. A :class:`Config` is returned as is.

    Raises
    ------
    ConfigError
        When the directory does not exist, or a file in it is not valid JSON (naming the file
        and the position).
    """
    if isinstance(directory, Config):
        return directory
    d = config_dir(directory)
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
        else:
            data[key] = text
        sources[key] = p
    return Config(d, data, sources)


def init(directory: str | os.PathLike, *, force: bool = False) -> list[Path]:
    """Write the packaged defaults (every file of :data:`FILES`) into ``directory`` for a
    company to edit; the directory is created when missing.

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
