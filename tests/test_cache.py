"""crmkit.cache: an entry is built once, whole or not at all, and shared across processes.

The cross-process test holds one builder inside its build (it waits for a file the test
creates) while a second process asks for the same entry; /proc/locks shows the second one
blocked on the entry's lock before the first is let go, so the test sees the lock at work, not
a lucky ordering. The second process's own build would write ``second.txt``: it must never run.
"""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from crmkit import cache


def _write(text: str):
    def build(d: Path) -> None:
        (d / "out.txt").write_text(text)

    return build


def test_an_entry_is_built_once_and_its_files_are_read_only(tmp_path):
    calls = []

    def build(d: Path) -> None:
        calls.append(d)
        (d / "out.txt").write_text("first")

    a = cache.built("fam", "k1", build, root=tmp_path)
    b = cache.built("fam", "k1", _write("second"), root=tmp_path)
    assert a == b == tmp_path / "fam-k1"
    assert len(calls) == 1 and calls[0].name.startswith(".fam-k1.tmp-")
    assert (a / "out.txt").read_text() == "first"
    assert stat.S_IMODE((a / "out.txt").stat().st_mode) == 0o444
    assert sorted(p.name for p in tmp_path.iterdir()) == ["fam-k1", "fam-k1.lock"]


def test_a_failed_build_leaves_nothing_and_the_next_call_builds(tmp_path):
    def broken(d: Path) -> None:
        (d / "half.txt").write_text("half")
        raise RuntimeError("disk full")

    with pytest.raises(RuntimeError, match="disk full"):
        cache.built("fam", "k1", broken, root=tmp_path)
    assert [p.name for p in tmp_path.iterdir()] == ["fam-k1.lock"]
    entry = cache.built("fam", "k1", _write("ok"), root=tmp_path)
    assert (entry / "out.txt").read_text() == "ok"


def test_a_killed_builds_leftovers_are_cleared_before_building(tmp_path):
    stale = tmp_path / ".fam-k1.tmp-99999"
    stale.mkdir()
    (stale / "half.txt").write_text("half")
    cache.built("fam", "k1", _write("ok"), root=tmp_path)
    assert not stale.exists()


def _release(entry: Path) -> None:
    """What the process's exit does: let go of the shared lock on ``entry``."""
    os.close(cache._HELD.pop(entry))


def test_a_new_entry_removes_the_familys_unused_entries_and_keeps_the_used(tmp_path):
    old = cache.built("fam", "k1", _write("1"), root=tmp_path)
    used = cache.built("fam", "k2", _write("2"), root=tmp_path)
    other = cache.built("fam-x", "k1", _write("x"), root=tmp_path)  # another family
    _release(old)
    new = cache.built("fam", "k3", _write("3"), root=tmp_path)
    assert not old.exists() and not (tmp_path / "fam-k1.lock").exists()
    assert used.exists() and other.exists() and new.exists()


def test_names_with_a_path_separator_are_refused(tmp_path):
    with pytest.raises(ValueError, match="plain non-empty name"):
        cache.built("../up", "k1", _write("x"), root=tmp_path)
    with pytest.raises(ValueError, match="plain non-empty name"):
        cache.built("fam", "", _write("x"), root=tmp_path)


def test_fingerprint_follows_the_files_contents(tmp_path):
    f = tmp_path / "a.sql"
    f.write_text("select 1")
    before = cache.fingerprint("v1", files=[f])
    assert cache.fingerprint("v1", files=[f]) == before
    f.write_text("select 2")
    assert cache.fingerprint("v1", files=[f]) != before
    assert cache.fingerprint("v2", files=[f]) != cache.fingerprint("v1", files=[f])


def test_cache_dir_reads_the_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("CRMKIT_CACHE_DIR", str(tmp_path / "c"))
    assert cache.cache_dir() == tmp_path / "c"
    monkeypatch.delenv("CRMKIT_CACHE_DIR")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert cache.cache_dir() == tmp_path / "xdg" / "crmkit"


#: A builder held inside its build until the file ``go`` exists (it touches ``started`` first).
_FIRST = """
import sys, time
from pathlib import Path
from crmkit import cache
root, go, started = sys.argv[1:]
def build(d):
    Path(started).touch()
    while not Path(go).exists():
        time.sleep(0.01)
    (d / "first.txt").write_text("first")
cache.built("fam", "k1", build, root=root)
"""
#: A second caller: its own build would write second.txt; it prints the entry's files.
_SECOND = """
import sys
from crmkit import cache
def build(d):
    (d / "second.txt").write_text("second")
entry = cache.built("fam", "k1", build, root=sys.argv[1])
print(",".join(sorted(p.name for p in entry.iterdir())))
"""


def _blocked_on_lock(pid: int) -> bool:
    """/proc/locks lists a process waiting for a lock with ``->`` before its entry."""
    lines = Path("/proc/locks").read_text().splitlines()
    return any("->" in line and f" {pid} " in line for line in lines)


@pytest.mark.slow
@pytest.mark.skipif(not Path("/proc/locks").exists(), reason="needs Linux /proc/locks")
def test_a_second_process_waits_for_the_first_build_and_reuses_it(tmp_path, wait_until):
    go, started, root = tmp_path / "go", tmp_path / "started", tmp_path / "cache"
    first = subprocess.Popen([sys.executable, "-c", _FIRST, str(root), str(go), str(started)])
    second = None
    try:
        wait_until(started.exists, 60, message="the first build to start")
        second = subprocess.Popen(
            [sys.executable, "-c", _SECOND, str(root)], stdout=subprocess.PIPE, text=True
        )
        wait_until(lambda: _blocked_on_lock(second.pid), 60, message="the second to wait")
        assert not (root / "fam-k1").exists()  # nobody sees the half-built entry
    finally:
        go.touch()
        assert first.wait(60) == 0
    out, _ = second.communicate(timeout=60)
    assert second.returncode == 0
    assert out.strip() == "first.txt"
