"""Where benchmark results go, for every benchmark in ``bench/``.

- ``bench/results/<date>.json``: the day's file, one key per benchmark (``suite``, ``publish``,
  ``dashboard``, ``serve_load``, …). A benchmark run again the same day replaces its key, or
  merges into it when the benchmark measures part of its sizes or pages at a time (``merge``).
- ``bench/results/latest.json``: beside it, every benchmark's most recent result,
  ``{key: {"file": "<date>.json", "result": …}}``: the one place to read today's figures from,
  whichever day each benchmark last ran.

Both are written to a temporary file and moved into place, so an interrupted benchmark leaves
the previous results whole.

Examples
--------
>>> import tempfile
>>> d = Path(tempfile.mkdtemp())
>>> _ = record("publish", {"1000": {"median_s": 2.0}}, out=d / "2026-12-07.json")
>>> _ = record("publish", {"10": {"median_s": 0.1}}, out=d / "2026-12-07.json", merge=merge_keys)
>>> json.loads((d / "latest.json").read_text())["publish"]["result"]
{'1000': {'median_s': 2.0}, '10': {'median_s': 0.1}}
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).parent / "results"
LATEST = "latest.json"


def dated(day: date | None = None) -> Path:
    """The results file of ``day`` (default today): ``bench/results/<YYYY-MM-DD>.json``."""
    return RESULTS / f"{(day or date.today()).isoformat()}.json"


def merge_keys(old: dict, new: dict) -> dict:
    """``old`` with ``new``'s keys replaced or added (sizes or pages measured again)."""
    return {**old, **new}


def record(
    key: str,
    value: Any,
    *,
    out: Path | None = None,
    merge: Callable[[Any, Any], Any] | None = None,
) -> dict:
    """Put ``value`` under ``key`` in the results file ``out`` (default :func:`dated`), keeping
    the file's other keys, and make it ``key``'s entry in ``latest.json`` beside it.

    Parameters
    ----------
    key : str
        The benchmark.
    value : JSON-serialisable
        Its result.
    out : Path, optional
        The results file; default today's.
    merge : callable, optional
        ``merge(previous, value)`` when the file already holds ``key`` (e.g. :func:`merge_keys`);
        default: ``value`` replaces it.

    Returns
    -------
    dict
        The whole results file as written.

    Raises
    ------
    ValueError
        When the file holds something other than a JSON object.
    """
    out = out or dated()
    doc = _read(out)
    doc[key] = merge(doc[key], value) if merge is not None and key in doc else value
    _write(out, doc)
    latest = out.with_name(LATEST)
    if out != latest:
        _write(latest, _read(latest) | {key: {"file": out.name, "result": doc[key]}})
    return doc


def _read(path: Path) -> dict:
    doc = json.loads(path.read_text("utf-8")) if path.exists() and path.stat().st_size else {}
    if not isinstance(doc, dict):
        raise ValueError(f"{path} does not hold a JSON object; cannot add results to it")
    return doc


def _write(path: Path, doc: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    tmp.write_text(json.dumps(doc, indent=2, ensure_ascii=False) + "\n", "utf-8")
    os.replace(tmp, path)
