"""Build-once cache for derived files: the shared demo and the snapshots notebooks open.

A cache entry is a directory ``<cache_dir()>/shared/<family>-<key>``: ``family`` names what it holds
(``demo-20000-s42-2026-09-30``), ``key`` is a :func:`fingerprint` of everything the contents
depend on (sizes, seed, library versions and the source files that build it), so a change of
any of them builds a new entry instead of reusing a stale one.

Processes share entries safely (the test session, nbval's notebook kernels, ``make``):

- An entry is built in a hidden directory beside it and renamed into place when complete, so
  a directory that exists is whole; the build runs holding ``<family>-<key>.lock``
  exclusively (``fcntl.flock``), so two processes never build the same entry: the second
  waits and then uses the first one's.
- A process that uses an entry holds that lock *shared* until it exits. When a new entry of a
  family is built, the older entries of the family whose lock nobody holds are deleted (the
  code changed, nothing reads them any more); those still in use stay.
- Files of an entry are made read-only (mode 0444) once built: readers open them read-only.

Where: ``$CRMKIT_CACHE_DIR``, else ``$XDG_CACHE_HOME/crmkit``, else ``~/.cache/crmkit`` (the
directory jieba's dictionary cache uses too; ``make test`` points it at ``.cache/crmkit`` in the
checkout), else the system's temporary directory when none of them can be written.

Examples
--------
>>> import tempfile
>>> root = Path(tempfile.mkdtemp())
>>> def build(d):
...     (d / "answer.txt").write_text("42")
>>> entry = built("answer", fingerprint("v1"), build, root=root)
>>> (entry / "answer.txt").read_text(), entry.name
('42', 'answer-839108317795')
>>> built("answer", fingerprint("v1"), lambda d: 1 / 0, root=root) == entry  # not rebuilt
True
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import shutil
import tempfile
from collections.abc import Callable, Iterable
from pathlib import Path

#: The environment variable naming the cache directory.
ENV = "CRMKIT_CACHE_DIR"

# Locks held shared until the process exits: the entries this process uses.
_HELD: dict[Path, int] = {}


def cache_dir() -> Path:
    """The cache directory: ``$CRMKIT_CACHE_DIR``, else ``$XDG_CACHE_HOME/crmkit``, else
    ``~/.cache/crmkit``: the first that exists or can be created and is writable, else the
    system's temporary directory.

    Examples
    --------
    >>> import os, tempfile
    >>> os.environ["CRMKIT_CACHE_DIR"] = d = tempfile.mkdtemp()
    >>> cache_dir() == Path(d)
    True
    >>> del os.environ["CRMKIT_CACHE_DIR"]
    """
    xdg = os.environ.get("XDG_CACHE_HOME")
    candidates = [Path(os.environ[ENV]).expanduser()] if os.environ.get(ENV) else []
    candidates.append((Path(xdg).expanduser() if xdg else Path.home() / ".cache") / "crmkit")
    for c in candidates:
        try:
            c.mkdir(parents=True, exist_ok=True)
        except OSError:
            continue
        if os.access(c, os.W_OK):
            return c
    return Path(tempfile.gettempdir())


def fingerprint(*parts: object, files: Iterable[str | os.PathLike] = ()) -> str:
    """12 hex digits of the SHA-256 of ``parts`` (their ``repr``) and the bytes of ``files``
    (sorted by path, each with its name, so renaming a file changes the key too).

    Examples
    --------
    >>> fingerprint("v1")
    '839108317795'
    >>> fingerprint("v1") == fingerprint("v2")
    False
    """
    h = hashlib.sha256()
    for part in parts:
        h.update(repr(part).encode())
        h.update(b"\0")
    for f in sorted(Path(p) for p in files):
        h.update(f.name.encode())
        h.update(b"\0")
        h.update(f.read_bytes())
    return h.hexdigest()[:12]


def built(
    family: str,
    key: str,
    build: Callable[[Path], None],
    *,
    root: str | os.PathLike | None = None,
) -> Path:
    """The entry ``<root>/<family>-<key>``, built once by ``build(directory)``.

    Parameters
    ----------
    family : str
        What the entry holds; a new entry of the family deletes the older ones nobody uses.
    key : str
        A :func:`fingerprint` of what the contents depend on.
    build : callable
        Writes the entry's files into the (empty) directory it is given. Called at most once
        per entry across processes; when it raises, nothing is kept and the error propagates.
    root : path-like, optional
        The directory of the entries; default ``cache_dir() / "shared"``.

    Returns
    -------
    Path
        The complete entry. The calling process holds it (shared lock) until it exits.

    Raises
    ------
    ValueError
        When ``family`` or ``key`` is empty or holds a path separator.
    """
    for what, value in (("family", family), ("key", key)):
        if not value or os.sep in value or value.startswith("."):
            raise ValueError(
                f"cache {what} must be a plain non-empty name (no '/', no leading '.'), "
                f"got {value!r}"
            )
    base = Path(root) if root is not None else cache_dir() / "shared"
    base.mkdir(parents=True, exist_ok=True)
    name = f"{family}-{key}"
    entry, lock = base / name, base / f"{name}.lock"
    if entry in _HELD and entry.is_dir():
        return entry
    while True:
        fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_SH)
            if _current(fd, lock) and entry.is_dir():
                _HELD[entry] = fd
                return entry
            # converting shared → exclusive lets go first: no deadlock between two converters
            fcntl.flock(fd, fcntl.LOCK_EX)
            if not _current(fd, lock):  # the lock file was pruned while we waited: retry
                os.close(fd)
                continue
            if not entry.is_dir():
                _build(base, name, build)
                _prune(base, family, keep=name)
            fcntl.flock(fd, fcntl.LOCK_SH)
            _HELD[entry] = fd
            return entry
        except BaseException:
            os.close(fd)
            raise


def _current(fd: int, lock: Path) -> bool:
    """The open lock file is still the one at ``lock`` (a pruner may have removed it)."""
    try:
        return os.fstat(fd).st_ino == os.stat(lock).st_ino
    except FileNotFoundError:
        return False


def _build(base: Path, name: str, build: Callable[[Path], None]) -> None:
    """Build into a hidden directory and rename it into place (holding the entry's lock)."""
    for stale in base.glob(f".{name}.tmp-*"):  # a killed build of this entry
        shutil.rmtree(stale, ignore_errors=True)
    tmp = base / f".{name}.tmp-{os.getpid()}"
    tmp.mkdir()
    try:
        build(tmp)
        for f in tmp.rglob("*"):
            if f.is_file():
                f.chmod(0o444)
        tmp.rename(base / name)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def _prune(base: Path, family: str, *, keep: str) -> None:
    """Delete the family's other entries that no process holds."""
    for lock in base.glob(f"{family}-*.lock"):
        name = lock.name.removesuffix(".lock")
        if name == keep or "-" in name[len(family) + 1 :]:  # a family sharing the prefix
            continue
        fd = os.open(lock, os.O_RDWR)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            continue
        try:
            shutil.rmtree(base / name, ignore_errors=True)
            for stale in base.glob(f".{name}.tmp-*"):
                shutil.rmtree(stale, ignore_errors=True)
            lock.unlink(missing_ok=True)
        finally:
            os.close(fd)
