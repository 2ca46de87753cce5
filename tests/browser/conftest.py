"""Shared fixtures for the browser tests: Debian's Chromium driven by Playwright, ``crmkit serve``.

- ``browser``: one headless Chromium for the session (``/usr/bin/chromium``; never
  ``playwright install``). Missing Chromium skips the tests on a workstation and fails them
  under ``CI=true``, where ``make test`` installs it.
- ``served``: a factory that starts ``python -m crmkit.serve`` on a free port of 127.0.0.1 for a
  given folder and snapshot, waits until it answers and stops it after the test.
- ``page``: a fresh page in its own context; ``requests_seen``: every URL it asked for (HTTP
  and web sockets) and ``.leaving_localhost()``, those that went anywhere but 127.0.0.1.
- ``wait_for_voila(page)``: until Voila has executed every cell and shown the output.
- ``screenshot(page, name)``: saves ``tests/browser/screenshots/<name>.png`` (git-ignored).
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import pytest

import crmkit
from bench.dashboard_latency import CHROMIUM_ARGS  # one set of flags for tests and bench
from crmkit import db, views
from crmkit.ingest import ingest

CHROMIUM = Path("/usr/bin/chromium")
SCREENSHOTS = Path(__file__).parent / "screenshots"
#: URL schemes that never reach the network.
LOCAL_SCHEMES = {"data", "blob", "about"}


def chromium_path() -> str:
    """Debian's Chromium, or skip (fail under ``CI=true``) when it is not installed."""
    if CHROMIUM.is_file():
        return str(CHROMIUM)
    msg = f"{CHROMIUM} not found; install it with `apt-get install chromium` (`make test` does)"
    if os.environ.get("CI") == "true":
        pytest.fail(msg)
    pytest.skip(msg)


@pytest.fixture(scope="session")
def browser():
    executable = chromium_path()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        try:
            yield b
        finally:
            b.close()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Served:
    """A running ``crmkit serve``: its base URL, process and log (stdout and stderr)."""

    url: str
    proc: subprocess.Popen
    log: Path
    token: str | None = None

    def page(self, name: str) -> str:
        """The URL of ``<name>.ipynb``, with the token when there is one."""
        url = f"{self.url}voila/render/{name}.ipynb"
        return f"{url}?token={self.token}" if self.token else url

    def log_text(self) -> str:
        return self.log.read_text(errors="replace")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def _answers(server: Served) -> bool:
    if server.proc.poll() is not None:
        pytest.fail(f"crmkit serve exited with {server.proc.returncode}:\n{server.log_text()}")
    try:
        with urllib.request.urlopen(f"{server.url}voila/tree", timeout=5):
            return True
    except urllib.error.HTTPError:
        return True  # answering, e.g. 302/403 without a token
    except OSError:
        return False


@pytest.fixture
def served(tmp_path, wait_until) -> Iterator:
    """Factory: ``served(root, published, token=None, **options) -> Served``.

    ``options`` are ``crmkit.serve`` command-line options without dashes, e.g.
    ``max_kernels=1``. The server runs in ``tmp_path`` with no ``$CRMKIT_TOKEN``.
    """
    servers: list[Served] = []

    def start(root: Path, published: Path, *, token: str | None = None, **options) -> Served:
        port = free_port()
        cmd = [sys.executable, "-m", "crmkit.serve", "--no-browser", "--port", str(port)]
        cmd += ["--root", str(root), "--published", str(published)]
        if token:
            cmd += ["--token", token]
        for name, value in options.items():
            cmd += [f"--{name.replace('_', '-')}", str(value)]
        env = {k: v for k, v in os.environ.items() if k != "CRMKIT_TOKEN"}
        # the server (and its kernels) run in tmp_path: they import this checkout's crmkit,
        # not whatever a relative PYTHONPATH or an install elsewhere would give there
        env["PYTHONPATH"] = os.pathsep.join([str(ROOT), *filter(None, [env.get("PYTHONPATH")])])
        log = tmp_path / f"serve-{port}.log"
        with log.open("wb") as out:
            proc = subprocess.Popen(cmd, cwd=tmp_path, env=env, stdout=out, stderr=out)
        server = Served(f"http://127.0.0.1:{port}/", proc, log, token)
        servers.append(server)
        wait_until(
            lambda: _answers(server),
            60,
            interval=0.2,
            message=lambda: f"crmkit serve to answer:\n{server.log_text()}",
        )
        return server

    yield start
    for server in servers:
        server.stop()


class RequestLog:
    """Every URL a page asked for, HTTP requests and web sockets, recorded as the page runs."""

    def __init__(self, page):
        self.urls: list[str] = []
        page.on("request", lambda request: self.urls.append(request.url))
        page.on("websocket", lambda ws: self.urls.append(ws.url))

    def hosts(self) -> set[str]:
        """``host:port`` of each URL; the scheme for those without a host (``data``, ``blob``)."""
        return {urlsplit(u).netloc or f"{urlsplit(u).scheme}:" for u in self.urls}

    def leaving_localhost(self) -> list[str]:
        """The URLs that would reach the network anywhere but 127.0.0.1."""
        return [
            u
            for u in self.urls
            if urlsplit(u).scheme not in LOCAL_SCHEMES and urlsplit(u).hostname != "127.0.0.1"
        ]


@pytest.fixture
def page(browser):
    """A fresh page in its own browser context (no cookies shared between tests)."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    try:
        yield context.new_page()
    finally:
        context.close()


@pytest.fixture
def requests_seen(page) -> RequestLog:
    """The requests of ``page``, recorded from before the test navigates."""
    return RequestLog(page)


def _wait_for_voila(page, timeout_ms: int = 60_000) -> None:
    page.wait_for_selector("#rendered_cells", state="visible", timeout=timeout_ms)
    page.wait_for_selector("#loading", state="detached", timeout=timeout_ms)
    page.wait_for_selector(".jp-OutputArea-output", timeout=timeout_ms)


@pytest.fixture
def wait_for_voila():
    """``wait_for_voila(page, timeout_ms=60_000)``: until Voila has run every cell, the spinner
    is gone and the outputs are shown. Wait for a page's own charts after it."""
    return _wait_for_voila


def _screenshot(page, name: str) -> Path:
    SCREENSHOTS.mkdir(exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


@pytest.fixture
def screenshot():
    """``screenshot(page, name) -> Path``: a full-page PNG in tests/browser/screenshots/."""
    return _screenshot


# ---------------------------------------------------------------------------------------------
# crmkit pages over a small hand-checkable snapshot
# ---------------------------------------------------------------------------------------------

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "tests" / "fixtures"
READY = ".crmkit-ready"
CHARTS = 4


@pytest.fixture(scope="session")
def snapshot(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("overview")
    wh = root / "warehouse.duckdb"
    con = db.connect(wh, read_only=False)
    for table, name in [
        ("customers", "customers"),
        ("customers", "customers_duplicate_phone"),
        ("products", "products"),
        ("orders", "orders"),
    ]:
        assert ingest(FIXTURES / f"{name}.csv", table, con=con).ok
    con.disconnect()
    return crmkit.publish(wh, root / "published.duckdb").path


@pytest.fixture(scope="session")
def expected(snapshot):
    con = db.connect(snapshot)
    try:
        return views.overview_data(con, views.Filters(), lang="zh", role="dashboard")
    finally:
        con.disconnect()


@pytest.fixture
def server(served, snapshot, tmp_path):
    root = tmp_path / "dashboards"
    shutil.copytree(ROOT / "dashboards", root)
    return served(root, snapshot)


CHARTS_DRAWN = """n => {
    const plots = Array.from(document.querySelectorAll('.js-plotly-plot'));
    return plots.length >= n && plots.every(g => g.querySelector('g.trace, g.hm'));
}"""


def _open_page(page, url: str, *, charts: int = CHARTS, timeout_ms: int = 90_000) -> float:
    t0 = time.perf_counter()
    page.goto(url)
    page.wait_for_selector(READY, state="attached", timeout=timeout_ms)
    page.wait_for_function(CHARTS_DRAWN, arg=charts, timeout=timeout_ms)
    return time.perf_counter() - t0


@pytest.fixture
def open_page():
    """``open_page(page, url, charts=4) -> seconds``: open a crmkit page and wait until it is
    ready and every one of its ``charts`` charts has drawn a trace."""
    return _open_page
