"""crmkit serve: the bind check, the Voila configuration, the offline template, and a real server.

The server tests start ``python -m crmkit.serve`` on a free port of 127.0.0.1 against a folder of
tiny notebooks and talk to it over HTTP:

- ``hello.ipynb`` prints ``hello 42`` from source that does not contain it
  (``greeting = "hel" + "lo"; print(greeting, 6 * 7)``): ``hello 42`` on the page proves the cell
  ran, the absence of ``greeting`` and ``6 * 7`` that the source was stripped. It also prints the
  kernel's ``CRMKIT_ROLE`` and ``CRMKIT_PUBLISHED``.
- ``broken.ipynb`` raises an error whose message holds a phone number: the page must show only
  the short error line, the server log the traceback.
- ``slow.ipynb`` sleeps 3 s, long enough to send a second request while its kernel starts.
- ``widget.ipynb`` shows an ipywidgets slider, whose model the widget-protocol tests write to.

Websockets (a page's kernel connection, ``/voila/query/``) are opened with tornado's client, in
the legacy JSON protocol or the v1 binary one browsers use.
"""

from __future__ import annotations

import asyncio
import http.client
import importlib.util
import io
import ipaddress
import json
import logging
import os
import re
import socket
import subprocess
import sys
import threading
import uuid
from collections.abc import Coroutine
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
import nbformat
import pytest

from crmkit import i18n, serve

HELLO = 'greeting = "hel" + "lo"\nprint(greeting, 6 * 7)'
ENV = 'import os\nprint("role=" + os.environ["CRMKIT_ROLE"])\nprint("published=" + os.environ["CRMKIT_PUBLISHED"])\nprint("kernel token=" + str(os.environ.get("CRMKIT_TOKEN")))'  # noqa: E501
BROKEN = 'raise RuntimeError("customer 13800138000 not found")'
SLOW = 'import time\ntime.sleep(3)\nprint("slept")'
WIDGET = "import ipywidgets\nslider = ipywidgets.IntSlider(value=3)\nslider"
LANDING = 'print("landing page")'
TOKEN = "s3cret-token-for-tests"


# ---------------------------------------------------------------------------- check_bind


@pytest.fixture(autouse=True)
def _no_token_in_env(monkeypatch):
    monkeypatch.delenv("CRMKIT_TOKEN", raising=False)


def run_async[T](coro: Coroutine[Any, Any, T]) -> T:
    """``asyncio.run(coro)`` in a thread of its own: in a full run the browser tests' Playwright
    (sync API) keeps an event loop running in the main thread for the session, and
    ``asyncio.run`` refuses to start a second one there."""
    out: list[T] = []
    errors: list[BaseException] = []

    def target() -> None:
        try:
            out.append(asyncio.run(coro))
        except BaseException as e:  # re-raised in the test's thread
            errors.append(e)

    thread = threading.Thread(target=target)
    thread.start()
    thread.join()
    if errors:
        raise errors[0]
    return out[0]


@pytest.mark.parametrize("host", ["0.0.0.0", "192.168.1.20", "10.0.0.5", "::", "", "example.org"])
def test_check_bind_refuses_other_addresses_without_token(host):
    with pytest.raises(ValueError, match="refusing to listen on .* without a token") as e:
        serve.check_bind(host, None)
    assert "pass --token-file or set CRMKIT_TOKEN" in str(e.value)


@pytest.mark.parametrize("host", ["127.0.0.1", "127.1.2.3", "::1", "[::1]", "localhost"])
def test_check_bind_accepts_loopback_without_token(host):
    assert serve.check_bind(host, None) is None


def test_check_bind_accepts_any_address_with_token():
    assert serve.check_bind("0.0.0.0", TOKEN) == TOKEN


def test_check_bind_takes_token_from_environment(monkeypatch):
    monkeypatch.setenv("CRMKIT_TOKEN", TOKEN)
    assert serve.check_bind("0.0.0.0", None) == TOKEN


def test_check_bind_empty_token_is_no_token(monkeypatch):
    monkeypatch.setenv("CRMKIT_TOKEN", "")
    with pytest.raises(ValueError, match="without a token"):
        serve.check_bind("0.0.0.0", "")


# ---------------------------------------------------------------------------- the token


def _token_file(path: Path, text: str, mode: int = 0o600) -> Path:
    path.write_text(text, encoding="utf-8")
    path.chmod(mode)
    return path


def test_read_token_file_takes_its_one_line(tmp_path):
    assert serve.read_token_file(_token_file(tmp_path / "t", f"  {TOKEN}\n")) == TOKEN


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "the token file {path} is empty; write the token in it on one line"),
        (" \n\n", "the token file {path} is empty; write the token in it on one line"),
        ("a\nb\n", "the token file {path} holds more than one line; keep only the token"),
    ],
)
def test_read_token_file_refuses_empty_and_several_lines(tmp_path, text, message):
    path = _token_file(tmp_path / "t", text)
    with pytest.raises(ValueError) as e:
        serve.read_token_file(path)
    assert str(e.value) == message.format(path=path)


def test_read_token_file_names_a_missing_file(tmp_path):
    with pytest.raises(ValueError) as e:
        serve.read_token_file(tmp_path / "nope")
    assert (
        str(e.value) == f"cannot read the token file {tmp_path / 'nope'}: No such file or directory"
    )


def test_token_file_warning_when_every_user_may_read_it(tmp_path):
    from crmkit.serve.access import token_file_warning

    assert token_file_warning(_token_file(tmp_path / "private", TOKEN, 0o600)) is None
    assert token_file_warning(_token_file(tmp_path / "group", TOKEN, 0o640)) is None
    shared = _token_file(tmp_path / "shared", TOKEN, 0o644)
    assert token_file_warning(shared) == (
        f"the token file {shared} is readable by every user of this machine (mode 0644); "
        f"chmod 600 {shared}"
    )


@pytest.mark.parametrize(
    ("line", "token", "expected"),
    [
        (
            f"302 GET /voila/render/a.ipynb?token={TOKEN}&lang=en (127.0.0.1) 1.00ms",
            TOKEN,
            "302 GET /voila/render/a.ipynb?token=[secret]&lang=en (127.0.0.1) 1.00ms",
        ),
        # a wrong token is redacted too: it may be a near miss of the right one
        ("GET /?lang=en&TOKEN=wrong#x", TOKEN, "GET /?lang=en&TOKEN=[secret]#x"),
        # the login page's return address carries the token URL-encoded
        (
            f"302 GET /login?next=%2Fvoila%2Frender%2Fa.ipynb%3Ftoken%3D{TOKEN}",
            TOKEN,
            "302 GET /login?next=%2Fvoila%2Frender%2Fa.ipynb%3Ftoken%3D[secret]",
        ),
        # the token itself, anywhere, also URL-quoted
        (f"Authorization: token {TOKEN}", TOKEN, "Authorization: token [secret]"),
        ("cookie for a%2Fb%3D and a/b=", "a/b=", "cookie for [secret] and [secret]"),
        ("nothing to hide", TOKEN, "nothing to hide"),
    ],
)
def test_redact(line, token, expected):
    assert serve.redact(line, token) == expected


def test_log_filter_redacts_formatted_records():
    from crmkit.serve.access import RedactTokens

    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(RedactTokens(TOKEN))
    log = logging.getLogger("crmkit.tests.redact")
    log.addHandler(handler)
    log.propagate = False
    try:
        log.warning("%d %s %s", 403, "GET", f"/voila/files/x.csv?token={TOKEN}")
        log.warning("user agent %s", "curl")
    finally:
        log.removeHandler(handler)
    assert stream.getvalue() == "403 GET /voila/files/x.csv?token=[secret]\nuser agent curl\n"


# ---------------------------------------------------------------------------- configuration


def test_voila_config_locks_the_server_down(tmp_path):
    c = serve.voila_config(tmp_path, host="127.0.0.1", port=9999, max_kernels=3)
    vc = c.VoilaConfiguration
    assert vc.template == "crmkit"
    assert vc.allow_template_override == "NO"  # ?template=lab would bring the CDN links back
    assert vc.strip_sources is True
    assert vc.show_tracebacks is False
    assert vc.file_allowlist == []
    assert vc.multi_kernel_manager_class is serve.CappedKernelManager
    assert c.Voila.root_dir == str(tmp_path.resolve())
    assert (c.Voila.ip, c.Voila.port, c.Voila.port_retries) == ("127.0.0.1", 9999, 0)
    assert c.Voila.config_file_paths == []
    assert "token" not in c.Voila
    assert c.MappingKernelManager.allow_tracebacks is False
    assert i18n.t("error_short", "en") in c.VoilaExecutor.cell_error_instruction
    assert c.CappedKernelManager.max_kernels == 3
    assert c.Voila.kernel_websocket_connection_class is serve.QuietKernelConnection
    settings = c.Voila.tornado_settings
    assert settings["log_function"] is serve.access.log_request
    # a silent websocket is closed 25 s after its last answer, then its kernel goes 30 s later
    assert (settings["ws_ping_interval"], settings["ws_ping_timeout"]) == (10_000, 25_000)


@pytest.mark.parametrize(
    "path", ["published.duckdb", "data/x.duckdb.wal", "a.csv", "b.xlsx", "c.parquet", "p.ipynb"]
)
def test_voila_config_denylist_covers_data_and_code(tmp_path, path):
    denylist = serve.voila_config(tmp_path).VoilaConfiguration.file_denylist
    assert any(re.fullmatch(p, path, re.IGNORECASE) for p in denylist)


def test_voila_config_token_and_culling(tmp_path):
    c = serve.voila_config(tmp_path, token=TOKEN, cull_idle_seconds=600)
    assert c.Voila.token == TOKEN
    assert c.MappingKernelManager.cull_idle_timeout == 600
    assert c.MappingKernelManager.cull_interval == 60
    # idle culling leaves a connected page alone; a page that went away frees its slot 30 s later
    assert c.MappingKernelManager.cull_connected is False
    assert c.CappedKernelManager.disconnect_grace_seconds == 30
    assert serve.voila_config(tmp_path, cull_idle_seconds=4).MappingKernelManager.cull_interval == 2
    c = serve.voila_config(tmp_path, disconnect_grace_seconds=2)
    assert c.CappedKernelManager.disconnect_grace_seconds == 2


@pytest.mark.parametrize(
    ("total_mib", "pooled", "expected"),
    [
        (24 * 1024, 0, 20),  # 18,432 MiB for pages / 400 = 46, more than the 20 aimed for
        (8 * 1024, 0, 15),  # 6,144 / 400 = 15.4
        (4 * 1024, 0, 7),  # 3,072 / 400 = 7.7
        (8 * 1024, 6, 9),  # 15 - 6 pre-heated kernels
        (1024, 0, 2),  # 768 / 400 = 1.9: the floor
        (4 * 1024, 12, 2),  # 7 - 12 < 2: the floor
    ],
)
def test_default_max_kernels_from_memory(total_mib, pooled, expected):
    assert serve.default_max_kernels(total_mib, pooled=pooled) == expected


def test_voila_config_default_cap_counts_the_preheated_pool(tmp_path, monkeypatch):
    """4 GiB: 7 pages; with ``preheat=1`` the pool holds one kernel per notebook (3 here, the
    checkpoint copy is no page), leaving 4."""
    monkeypatch.setattr(serve.kernels, "memory_mib", lambda: 4 * 1024)
    for name in ("a", "b", ".ipynb_checkpoints/a-checkpoint", "sub/c"):
        (tmp_path / f"{name}.ipynb").parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / f"{name}.ipynb").write_text("{}")
    assert serve.voila_config(tmp_path).CappedKernelManager.max_kernels == 7
    assert serve.voila_config(tmp_path, preheat=1).CappedKernelManager.max_kernels == 4
    assert serve.voila_config(tmp_path, max_kernels=30).CappedKernelManager.max_kernels == 30


def test_voila_config_preheat(tmp_path):
    """Off by default; ``preheat=2`` asks Voila for two pre-run kernels per page, refilled at
    once."""
    assert "preheat_kernel" not in serve.voila_config(tmp_path).VoilaConfiguration
    c = serve.voila_config(tmp_path, preheat=2)
    assert c.VoilaConfiguration.preheat_kernel is True
    assert c.VoilaConfiguration.default_pool_size == 2
    assert c.VoilaKernelManager.fill_delay == 0


@pytest.mark.parametrize(
    ("option", "value"),
    [
        ("max_kernels", 0),
        ("cull_idle_seconds", -1),
        ("disconnect_grace_seconds", -1),
        ("preheat", -1),
    ],
)
def test_voila_config_rejects_bad_limits(tmp_path, option, value):
    with pytest.raises(ValueError, match=option):
        serve.voila_config(tmp_path, **{option: value})


def test_server_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("JUPYTER_PATH", "/elsewhere")
    env = serve.server_environment(Path(os.path.relpath(tmp_path / "p.duckdb")), "analyst")
    assert env["CRMKIT_PUBLISHED"] == str(tmp_path / "p.duckdb")
    assert env["CRMKIT_ROLE"] == "analyst"
    assert env["JUPYTER_PATH"].split(os.pathsep) == [str(serve.TEMPLATE_ROOT), "/elsewhere"]
    with pytest.raises(ValueError, match="unknown role .*; expected one of dashboard, analyst"):
        serve.server_environment(tmp_path / "p.duckdb", "admin")


def test_template_is_where_voila_looks_and_extends_lab():
    template = serve.TEMPLATE_ROOT / "nbconvert" / "templates" / serve.TEMPLATE
    assert {"index.html.j2", "page.html", "busy.html", "conf.json"} <= {
        p.name for p in template.iterdir()
    }
    assert '"base_template": "lab"' in (template / "conf.json").read_text()


def test_template_files_link_nothing_outside():
    files = [p for p in serve.TEMPLATE_ROOT.rglob("*") if p.is_file()]
    assert files
    for path in files:
        assert not re.findall(r"https?://|(?:src|href)=[\"']//", path.read_text()), path


def test_busy_text_is_bilingual():
    assert serve.BUSY_TEXT == {
        "zh": "服务繁忙：页面已全部占用，本页会自动重试",
        "en": "Busy: every page is in use; this page retries by itself",
    }


# ---------------------------------------------------------------------------- serve() refusals


def _published(path: Path) -> Path:
    duckdb.connect(str(path)).close()
    return path


def test_serve_refuses_missing_snapshot(tmp_path, capsys):
    code = serve.serve(tmp_path, published=tmp_path / "nope.duckdb", port=9)
    assert code == 2
    err = capsys.readouterr().err
    assert f"no published snapshot at {tmp_path / 'nope.duckdb'}" in err
    assert "run `crmkit publish` (or `make demo`) first" in err


def test_serve_refuses_missing_folder(tmp_path, capsys):
    code = serve.serve(tmp_path / "nope", published=_published(tmp_path / "p.duckdb"), port=9)
    assert code == 2
    assert "no dashboards folder at" in capsys.readouterr().err


def test_serve_refuses_busy_port(tmp_path, capsys):
    with socket.create_server(("127.0.0.1", 0)) as taken:
        port = taken.getsockname()[1]
        code = serve.serve(tmp_path, published=_published(tmp_path / "p.duckdb"), port=port)
    assert code == 2
    assert f"cannot listen on 127.0.0.1:{port}" in capsys.readouterr().err


def test_serve_refuses_token_and_token_file(tmp_path, capsys):
    path = _token_file(tmp_path / "token", TOKEN)
    code = serve.serve(tmp_path, token=TOKEN, token_file=path, port=9)
    assert code == 2
    assert capsys.readouterr().err == "crmkit serve: pass --token or --token-file, not both\n"


def test_serve_refuses_unreadable_token_file(tmp_path, capsys):
    code = serve.serve(tmp_path, token_file=tmp_path / "nope", port=9)
    assert code == 2
    assert capsys.readouterr().err == (
        f"crmkit serve: cannot read the token file {tmp_path / 'nope'}: No such file or directory\n"
    )


def test_serve_warns_of_a_token_file_every_user_may_read(tmp_path, capsys):
    path = _token_file(tmp_path / "token", TOKEN, 0o644)
    code = serve.serve(tmp_path, token_file=path, published=tmp_path / "nope.duckdb", port=9)
    assert code == 2  # no snapshot; the warning came first
    err = capsys.readouterr().err.splitlines()
    assert err[0] == (
        f"crmkit serve: warning: the token file {path} is readable by every user of this "
        f"machine (mode 0644); chmod 600 {path}"
    )
    assert err[1].startswith("crmkit serve: no published snapshot at")


@pytest.mark.slow  # a real Voila server: seconds per test
def test_command_refuses_open_bind_without_token(tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "CRMKIT_TOKEN"}
    published = _published(tmp_path / "p.duckdb")
    cmd = [sys.executable, "-m", "crmkit.serve", "--host", "0.0.0.0", "--no-browser"]
    cmd += ["--root", str(tmp_path), "--published", str(published)]
    res = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=60)
    assert res.returncode == 2
    assert "refusing to listen on 0.0.0.0 without a token" in res.stderr


# ---------------------------------------------------------------------------- a real server


@dataclass
class Server:
    port: int
    proc: subprocess.Popen
    log: Path

    def request(
        self, method: str, path: str, headers: dict[str, str] | None = None
    ) -> tuple[int, http.client.HTTPMessage, str]:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=120)
        try:
            conn.request(method, path, headers=headers or {})
            r = conn.getresponse()
            return r.status, r.msg, r.read().decode()
        finally:
            conn.close()

    def get(self, path: str, cookie: str | None = None) -> tuple[int, http.client.HTTPMessage, str]:
        return self.request("GET", path, {"Cookie": cookie} if cookie else None)

    def login(self, token: str = TOKEN) -> str:
        """Visit with ``?token=`` as a manager's first click does: the answer redirects to the
        address without the token and sets the login cookie, returned as a Cookie header."""
        status, headers, _ = self.get(f"/voila/tree?token={token}")
        assert (status, headers["location"]) == (302, "/voila/tree"), (status, headers)
        return "; ".join(c.split(";")[0] for c in headers.get_all("Set-Cookie"))

    def kernel(self, kernel_id: str) -> tuple[int, dict]:
        """``/api/kernels/<id>``: 200 and its model (``connections``: open websockets), or 404
        once the kernel is gone."""
        status, _, body = self.get(f"/api/kernels/{kernel_id}")
        return status, json.loads(body) if status == 200 else {}

    def post(self, path: str) -> int:
        """POST as a page does: with the XSRF cookie and header jupyter-server checks."""
        cookies = self.get("/voila/tree")[1].get_all("Set-Cookie")
        xsrf = next(c.split(";")[0].split("=", 1)[1] for c in cookies if c.startswith("_xsrf="))
        return self.request("POST", path, {"Cookie": f"_xsrf={xsrf}", "X-XSRFToken": xsrf})[0]

    def log_text(self) -> str:
        return self.log.read_text(errors="replace")


def _notebook(path: Path, *sources: str) -> None:
    nb = nbformat.v4.new_notebook(
        cells=[nbformat.v4.new_code_cell(s) for s in sources],
        metadata={"kernelspec": {"name": "python3", "display_name": "Python 3"}},
    )
    nbformat.write(nb, path)


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> tuple[Path, Path]:
    """A dashboards folder with the test pages and data files that must not leak, and a snapshot."""
    base = tmp_path_factory.mktemp("site")
    root = base / "dashboards"
    root.mkdir()
    _notebook(root / "hello.ipynb", HELLO, ENV)
    _notebook(root / "broken.ipynb", BROKEN)
    _notebook(root / "slow.ipynb", SLOW)
    _notebook(root / "widget.ipynb", WIDGET)
    (root / "x.duckdb").write_bytes(b"not for download")
    (root / "customers.csv").write_text("name,phone\n张三,13800138000\n")
    return root, _published(base / "published.duckdb")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _start(
    root: Path,
    published: Path,
    log_dir: Path,
    wait_until,
    *options: str,
    env: dict[str, str] | None = None,
) -> Server:
    port = _free_port()
    cmd = [sys.executable, "-m", "crmkit.serve", "--no-browser", "--port", str(port)]
    cmd += ["--root", str(root), "--published", str(published), *options]
    env = {**{k: v for k, v in os.environ.items() if k != "CRMKIT_TOKEN"}, **(env or {})}
    log = log_dir / f"serve-{port}.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(cmd, cwd=log_dir, env=env, stdout=out, stderr=out)
    server = Server(port, proc, log)

    def answers() -> bool:
        if proc.poll() is not None:
            pytest.fail(f"crmkit serve exited with {proc.returncode}:\n{server.log_text()}")
        try:
            server.get("/voila/tree")
        except OSError:
            return False
        return True

    try:
        wait_until(
            answers,
            60,
            interval=0.2,
            message=lambda: f"crmkit serve to answer:\n{server.log_text()}",
        )
    except BaseException:
        _stop(server)
        raise
    return server


def _stop(server: Server) -> None:
    server.proc.terminate()
    try:
        server.proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        server.proc.kill()
        server.proc.wait()


@pytest.fixture
def start_server(tmp_path, wait_until):
    """Factory: ``start_server(root, published, *options, env=None) -> Server``, stopped after
    the test; ``env``: variables added to the server's environment (which has no CRMKIT_TOKEN)."""
    servers = []

    def start(root: Path, published: Path, *options: str, env=None) -> Server:
        servers.append(_start(root, published, tmp_path, wait_until, *options, env=env))
        return servers[-1]

    yield start
    for server in servers:
        _stop(server)


@pytest.fixture(scope="module")
def server(site, tmp_path_factory, wait_until):
    """One server with the default options, shared by the tests that do not need their own."""
    s = _start(*site, tmp_path_factory.mktemp("log"), wait_until)
    yield s
    _stop(s)


def _kernel_id(page: str) -> str:
    return re.search(r'"kernelId": "([0-9a-f-]{36})"', page).group(1)


def _websocket(server: Server, path: str, cookie: str | None = None, v1: bool = False):
    """Open a websocket (a coroutine): tornado's client, with the cookie, in the v1 protocol or
    the legacy JSON one."""
    from tornado.httpclient import HTTPRequest
    from tornado.websocket import websocket_connect

    request = HTTPRequest(
        f"ws://127.0.0.1:{server.port}{path}", headers={"Cookie": cookie} if cookie else {}
    )
    return websocket_connect(request, subprotocols=[serve.kernels.V1_PROTOCOL] if v1 else None)


@pytest.mark.slow  # a real Voila server: seconds per test
def test_server_prints_its_url(server):
    pages = serve.default_max_kernels()
    line = (
        f"crmkit dashboards: http://127.0.0.1:{server.port}/ (at most {pages} pages open at once)"
    )
    assert f"{line}\n" in server.log_text()


def test_root_lists_the_pages(server):
    status, _, body = server.get("/")
    assert status == 200
    assert "voila-tree-main" in body


def test_page_shows_output_without_source(server, site):
    status, _, body = server.get("/voila/render/hello.ipynb")
    assert status == 200
    assert "hello 42" in body
    assert "6 * 7" not in body and "greeting" not in body and "os.environ" not in body
    # the kernel got the absolute snapshot path and the default role
    assert "role=dashboard" in body
    assert f"published={site[1].resolve()}" in body


def test_page_loads_nothing_from_outside(server):
    _, _, body = server.get("/voila/render/hello.ipynb")
    links = re.findall(r'(?:src|href)="([^"]*)"', body)
    assert links
    assert [u for u in links if not u.startswith(("/", "#", "data:"))] == []
    assert "cdn." not in body and "unpkg" not in body
    assert "/voila/templates/crmkit/static/voila-style.js" in body


def test_page_loads_the_chart_bundle_before_its_widgets(server):
    """anywidget gives a widget's code 2 s from the model's creation, then drops every update
    to it: the page starts importing plotly's bundle from the URL crmkit.charts' widgets import
    (served: 200, 5 MB) as it opens, and raises anywidget's 2 s (the exact call, checked in the
    installed anywidget) to 120 s."""
    _, _, body = server.get("/voila/render/hello.ipynb")
    url = "/" + serve.WIDGET_BUNDLE_PATH
    assert f'import(window.location.origin + "{url}");' in body
    assert "timeout(ms === 2000 ? 120000 : ms)" in body
    assert body.index("120000") < body.index("voila-style.js") < body.index("rendered_cells")
    status, _, bundle = server.get(url)
    assert status == 200 and len(bundle) > 1_000_000
    anywidget_js = Path(importlib.util.find_spec("anywidget").origin).parent / "nbextension"
    assert "AbortSignal.timeout(2e3)" in (anywidget_js / "index.js").read_text("utf-8")


@pytest.mark.parametrize(
    "path",
    [
        "/voila/templates/crmkit/static/..%2f..%2f..%2f..%2f..%2f..%2f..%2fetc%2fpasswd",
        "/voila/templates/crmkit/static/../../../../../../../etc/passwd",
        "/voila/templates/crmkit/static/%2e%2e/%2e%2e/index.html.j2",
        "/voila/static/..%5c..%5cvoila.json",
        "/crmkit/static/..%2fwidgetbundle.js",
    ],
)
def test_paths_that_climb_out_are_not_found(server, path):
    """Sent as written (http.client does not normalise): 404 and nothing else, where Voila's
    template-file handler answered the first two with HTTP 500 and a traceback in the log."""
    status, _, body = server.get(path)
    assert status == 404 and "root:" not in body and "{%" not in body
    assert "Traceback" not in server.log_text()


@pytest.mark.parametrize(
    "path",
    [
        "/voila/files/x.duckdb",
        "/voila/files/customers.csv",
        "/voila/files/hello.ipynb",
        "/voila/render/customers.csv",  # Voila redirects non-notebooks to /voila/files/
    ],
)
def test_files_in_the_folder_are_not_downloadable(server, path):
    status, headers, body = server.get(path)
    if status == 302:
        status, _, body = server.get(
            headers["location"].removeprefix(f"http://127.0.0.1:{server.port}")
        )
    assert status in (403, 404)
    assert "13800138000" not in body and "not for download" not in body


def test_error_shows_short_message_and_logs_traceback(server):
    status, _, body = server.get("/voila/render/broken.ipynb")
    assert status == 200
    assert i18n.t("error_short", "zh") in body and i18n.t("error_short", "en") in body
    assert "13800138000" not in body and "Traceback" not in body and "RuntimeError" not in body
    log = server.log_text()
    assert "RuntimeError" in log and "13800138000" in log


@pytest.mark.slow  # a real Voila server: seconds per test
def test_landing_page_redirect_keeps_the_query(start_server, site, tmp_path):
    root = tmp_path / "with_index"
    root.mkdir()
    _notebook(root / "index.ipynb", LANDING)
    s = start_server(root, site[1])
    status, headers, _ = s.get("/?lang=en")
    assert status == 302
    assert headers["location"] == "/voila/render/index.ipynb?lang=en"
    status, _, body = s.get(headers["location"])
    assert status == 200 and "landing page" in body


@pytest.mark.slow  # a real Voila server: seconds per test
def test_kernel_cap_answers_busy_and_frees_the_slot(start_server, site, wait_until):
    s = start_server(*site, "--max-kernels", "1")
    first: dict[str, tuple] = {}
    slow = threading.Thread(target=lambda: first.update(r=s.get("/voila/render/slow.ipynb")))
    slow.start()
    # the slow page's kernel holds the one slot from its start until the page is closed
    wait_until(
        lambda: "Kernel started:" in s.log_text(),
        60,
        message=lambda: f"the slow page's kernel to start:\n{s.log_text()}",
    )
    status, headers, body = s.get("/voila/render/hello.ipynb")
    slow.join(timeout=120)
    assert first["r"][0] == 200 and "slept" in first["r"][2]
    assert status == 503
    assert headers["retry-after"] == "10"
    assert serve.BUSY_TEXT["zh"] in body and serve.BUSY_TEXT["en"] in body
    assert "hello 42" not in body
    # the page asks again by itself: after 5-15 s, or after 20 s without JavaScript
    assert "window.location.reload()" in body and "10 * 1000 * (0.5 + Math.random())" in body
    assert '<noscript><meta http-equiv="refresh" content="20"></noscript>' in body
    # still one kernel after the slow page finished: the next page is busy too ...
    assert s.get("/voila/render/hello.ipynb")[0] == 503
    # ... until the page closes (the browser posts this on unload) and frees the slot
    assert s.post(f"/voila/api/shutdown/{_kernel_id(first['r'][2])}") == 204
    status, _, body = s.get("/voila/render/hello.ipynb")
    assert status == 200 and "hello 42" in body


@pytest.mark.slow  # a real Voila server: seconds per test
def test_preheated_pages_come_from_the_pool_within_the_cap(start_server, site, wait_until):
    """With ``--preheat 1`` each page is run before anyone asks; the pool's kernels take no
    slot, the page handed to a visitor does (one slot: the next visitor is told to retry)."""
    s = start_server(*site, "--max-kernels", "1", "--preheat", "1")
    wait_until(
        lambda: "Kernel pool of hello.ipynb is filled" in s.log_text(),
        120,
        interval=0.5,
        message=lambda: f"the pool of hello.ipynb to fill:\n{s.log_text()}",
    )
    status, _, body = s.get("/voila/render/hello.ipynb")
    assert status == 200 and "hello 42" in body
    assert "Using pre-heated kernel" in s.log_text()
    assert s.get("/voila/render/hello.ipynb")[0] == 503
    assert s.post(f"/voila/api/shutdown/{_kernel_id(body)}") == 204
    status, _, body = s.get("/voila/render/hello.ipynb")
    assert status == 200 and "hello 42" in body


@pytest.mark.slow  # a real Voila server: seconds per test
def test_idle_kernels_are_culled(start_server, site, wait_until):
    s = start_server(*site, "--max-kernels", "1", "--cull-idle-seconds", "2")
    status, _, body = s.get("/voila/render/hello.ipynb")
    assert status == 200
    kernel = _kernel_id(body)

    def not_busy() -> tuple | None:
        answer = s.get("/voila/render/hello.ipynb")
        return None if answer[0] == 503 else answer

    # busy until the culler (every second) has shut the idle kernel down (after 2 s)
    status = wait_until(
        not_busy, 30, interval=0.5, message=lambda: f"the idle kernel's culling:\n{s.log_text()}"
    )
    assert status[0] == 200 and "hello 42" in status[2]
    assert f"Culling 'idle' kernel 'python3' ({kernel})" in s.log_text()


@pytest.mark.slow  # a real Voila server: seconds per test
def test_token_is_exchanged_for_a_cookie(start_server, site):
    """The first visit carries ``?token=``; the answer sets the login cookie and redirects to the
    same address without the token (other parameters kept); later visits need only the cookie.
    No log line shows the token, a wrong one included."""
    s = start_server(*site, "--token", TOKEN)
    for path in ("/", "/voila/tree", "/voila/render/hello.ipynb"):
        status, headers, body = s.get(path)
        assert status == 302 and headers["location"].startswith("/login"), path
        assert "hello 42" not in body
    status, headers, _ = s.get("/voila/render/hello.ipynb?token=wrong")
    assert status == 302 and headers["location"].startswith("/login")
    assert not any(c.startswith("username-") for c in headers.get_all("Set-Cookie") or [])

    status, headers, body = s.get(f"/voila/render/hello.ipynb?lang=en&token={TOKEN}")
    assert (status, headers["location"]) == (302, "/voila/render/hello.ipynb?lang=en")
    assert "hello 42" not in body  # no kernel was started for the visit with the token
    cookie = "; ".join(c.split(";")[0] for c in headers.get_all("Set-Cookie"))
    assert f"username-127-0-0-1-{s.port}=" in cookie
    status, _, body = s.get(headers["location"], cookie)
    assert status == 200 and "hello 42" in body
    # the kernel never saw the token: its page request had none
    assert "kernel token=None" in body and TOKEN not in body
    assert s.get("/voila/tree", cookie)[0] == 200
    status, headers, _ = s.get(f"/?token={TOKEN}")
    assert (status, headers["location"]) == (302, "/")

    log = s.log_text()
    assert TOKEN not in log and "token=wrong" not in log
    assert "302 GET /voila/render/hello.ipynb?lang=en&token=[secret] (127.0.0.1)" in log
    assert "302 GET /voila/render/hello.ipynb?token=[secret] (127.0.0.1)" in log
    assert f"crmkit dashboards: http://127.0.0.1:{s.port}/?token=… (at most" in log


@pytest.mark.slow  # a real Voila server: seconds per test
@pytest.mark.parametrize("source", ["file", "environment"])
def test_token_from_a_file_or_the_environment(start_server, site, tmp_path, source):
    """Neither way puts the token on the server's command line (``ps``), and no kernel inherits
    ``$CRMKIT_TOKEN``."""
    if source == "file":
        path = _token_file(tmp_path / "token", f"{TOKEN}\n")
        s = start_server(*site, "--token-file", str(path))
    else:
        s = start_server(*site, env={"CRMKIT_TOKEN": TOKEN})
    assert s.get("/voila/tree")[0] == 302
    cookie = s.login()
    status, _, body = s.get("/voila/render/hello.ipynb", cookie)
    assert status == 200 and "kernel token=None" in body
    assert TOKEN.encode() not in Path(f"/proc/{s.proc.pid}/cmdline").read_bytes()
    assert TOKEN not in s.log_text()


@pytest.mark.slow  # a real Voila server: seconds per test
def test_query_socket_needs_the_login(start_server, site, wait_until):
    """``/voila/query/<kernel>`` (``--preheat``) hands a page request's details to its kernel:
    403 without the login; with the cookie, the details hold no token."""
    s = start_server(*site, "--preheat", "1", "--token", TOKEN)
    wait_until(
        lambda: "Kernel pool of hello.ipynb is filled" in s.log_text(),
        120,
        interval=0.5,
        message=lambda: f"the pool of hello.ipynb to fill:\n{s.log_text()}",
    )
    cookie = s.login()
    status, _, body = s.get("/voila/render/hello.ipynb?lang=en", cookie)
    assert status == 200 and "Using pre-heated kernel" in s.log_text()
    path = f"/voila/query/{_kernel_id(body)}"

    async def refused() -> int:
        from tornado.httpclient import HTTPClientError

        with pytest.raises(HTTPClientError) as e:
            await _websocket(s, path)
        return e.value.code

    async def details() -> dict:
        ws = await _websocket(s, path, cookie)
        try:
            return json.loads(await asyncio.wait_for(ws.read_message(), 60))
        finally:
            ws.close()

    assert run_async(refused()) == 403
    info = run_async(details())
    assert info["QUERY_STRING"] == "lang=en"
    assert TOKEN not in json.dumps(info)
    assert f"403 GET {path} (127.0.0.1)" in s.log_text()


def _kernel_message(msg_type: str, content: dict) -> dict:
    header = {
        "msg_id": uuid.uuid4().hex,
        "msg_type": msg_type,
        "username": "tests",
        "session": "tests",
        "date": "",
        "version": "5.3",
    }
    return {"header": header, "parent_header": {}, "metadata": {}, "content": content}


def _encode(msg: dict, v1: bool) -> str | bytes:
    if v1:
        from jupyter_server.services.kernels.connection.base import serialize_msg_to_ws_v1

        return serialize_msg_to_ws_v1(msg, "shell", lambda part: json.dumps(part).encode())
    return json.dumps({**msg, "channel": "shell", "buffers": []})


def _decode(frame: str | bytes, v1: bool) -> dict:
    if v1:
        from jupyter_server.services.kernels.connection.base import deserialize_msg_from_ws_v1

        channel, parts = deserialize_msg_from_ws_v1(frame)
        header, parent, metadata, content = (json.loads(p) for p in parts[:4])
        return {"channel": channel, "header": header, "parent_header": parent, "content": content}
    return json.loads(frame)


async def _converse(server: Server, kernel_id: str, messages: list[dict], v1: bool) -> list:
    """Send each message on the kernel's websocket and read until the kernel is idle after it;
    returns every frame received, as sent (text or bytes)."""
    ws = await _websocket(server, f"/api/kernels/{kernel_id}/channels?session_id=tests", v1=v1)
    frames = []
    try:
        for msg in messages:
            await ws.write_message(_encode(msg, v1), binary=v1)
            while True:
                frame = await asyncio.wait_for(ws.read_message(), 60)
                assert frame is not None, "the server closed the kernel's websocket"
                frames.append(frame)
                m = _decode(frame, v1)
                if (
                    m["header"]["msg_type"] == "status"
                    and m["parent_header"].get("msg_id") == msg["header"]["msg_id"]
                    and m["content"]["execution_state"] == "idle"
                ):
                    break
    finally:
        ws.close()
    return frames


@pytest.mark.parametrize("v1", [False, True], ids=["json", "v1"])
def test_widget_protocol_errors_stay_in_the_server_log(server, v1):
    """Two malformed widget messages: a ``comm_open`` without a protocol version (the kernel
    prints "Exception opening comm … Traceback … ValueError" to stderr) and a slider update to a
    string (the kernel sends an ``error`` with the TraitError's traceback). The browser gets the
    short line in place of the error and nothing of the stderr; the log gets both."""
    status, _, body = server.get("/voila/render/widget.ipynb")
    assert status == 200
    model = re.search(r'"model_id": "([0-9a-f]{32})"', body).group(1)
    opening = {"comm_id": uuid.uuid4().hex, "target_name": "jupyter.widget", "data": {}}
    update = {"comm_id": model, "data": {"method": "update", "state": {"value": "not-an-int"}}}
    messages = [_kernel_message("comm_open", opening), _kernel_message("comm_msg", update)]
    frames = run_async(_converse(server, _kernel_id(body), messages, v1))

    texts = [f.decode("utf-8", "replace") if isinstance(f, bytes) else f for f in frames]
    assert [t for t in texts if re.search('Traceback|ValueError|TraitError|File "', t)] == []
    decoded = [_decode(f, v1) for f in frames]
    assert [m for m in decoded if m["header"]["msg_type"] == "stream"] == []
    errors = [m["content"] for m in decoded if m["header"]["msg_type"] == "error"]
    short = f"{i18n.t('error_short', 'zh')} / {i18n.t('error_short', 'en')}"
    assert [(e["ename"], e["evalue"], e["traceback"]) for e in errors] == [
        ("ExecutionError", "Execution error", [short])
    ]
    log = server.log_text()
    assert "Incompatible widget protocol versions" in log
    assert "TraitError" in log and "not-an-int" in log


@pytest.mark.slow  # a real Voila server: seconds per test
def test_kernel_of_a_closed_page_is_shut_down(start_server, site, wait_until):
    """No unload beacon: the page's websocket closes, and 2 s later (``--disconnect-grace-seconds
    2``; the default is 30) its kernel is gone. Idle culling is off, so it was not the culler."""
    s = start_server(*site, "--cull-idle-seconds", "0", "--disconnect-grace-seconds", "2")
    status, _, body = s.get("/voila/render/hello.ipynb")
    assert status == 200
    kernel = _kernel_id(body)

    def connected() -> bool:
        status, model = s.kernel(kernel)
        return status == 200 and model["connections"] == 1

    async def visit():
        ws = await _websocket(s, f"/api/kernels/{kernel}/channels?session_id=tests")
        try:
            wait_until(connected, 30, message="the page's websocket to be counted")
        finally:
            ws.close()

    run_async(visit())
    wait_until(
        lambda: s.kernel(kernel)[0] == 404,
        60,
        interval=0.2,
        message=lambda: f"the kernel of the closed page to go:\n{s.log_text()}",
    )
    assert f"Shutting down kernel {kernel}: no page connected for 2 s" in s.log_text()
    assert "Culling" not in s.log_text()


def test_reconnection_keeps_the_kernel():
    """A websocket that opens again within the grace period cancels the kernel's shutdown."""

    async def scenario():
        km = serve.CappedKernelManager(disconnect_grace_seconds=60)
        km._kernel_connections["k"] = 1  # a kernel with its page connected
        km.notify_disconnect("k")
        scheduled = set(km._reclaim)
        km.notify_connect("k")
        return scheduled, set(km._reclaim), km._kernel_connections["k"]

    assert run_async(scenario()) == ({"k"}, set(), 1)


@pytest.mark.slow  # a real Voila server: seconds per test
def test_idle_culling_spares_a_connected_page(start_server, site, wait_until):
    """Page A is opened and connected, then page B opened and left unconnected: A has been idle
    longer than B. When the culler (idle > 1 s) shuts B down, it has looked at A in the same
    pass and kept it, because a page is connected to it."""
    s = start_server(*site, "--cull-idle-seconds", "1", "--max-kernels", "2")

    async def scenario():
        status, _, body = s.get("/voila/render/hello.ipynb")
        assert status == 200
        a = _kernel_id(body)
        ws = await _websocket(s, f"/api/kernels/{a}/channels?session_id=tests")
        try:
            while s.kernel(a)[1].get("connections") != 1:
                await asyncio.sleep(0.2)
            status, _, body = s.get("/voila/render/hello.ipynb")
            assert status == 200
            b = _kernel_id(body)
            while s.kernel(b)[0] != 404:
                await asyncio.sleep(0.2)
            return a, b, s.kernel(a)
        finally:
            ws.close()

    a, b, (status, model) = run_async(asyncio.wait_for(scenario(), 60))
    assert f"Culling 'idle' kernel 'python3' ({b})" in s.log_text()
    assert (status, model["connections"]) == (200, 1)
    assert f"({a})" not in s.log_text().split("Culling")[-1]


def _listening_addresses(port: int) -> list[ipaddress.IPv4Address | ipaddress.IPv6Address]:
    """The local addresses with a socket listening on ``port``, from Linux's /proc/net/tcp{,6}."""
    found = []
    for table in (Path("/proc/net/tcp"), Path("/proc/net/tcp6")):
        if not table.exists():
            continue
        for line in table.read_text().splitlines()[1:]:
            local, state = line.split()[1], line.split()[3]
            address, hex_port = local.split(":")
            if state == "0A" and int(hex_port, 16) == port:  # 0A: LISTEN
                raw = bytes.fromhex(address)  # 32-bit words in host (little-endian) order
                raw = b"".join(raw[i : i + 4][::-1] for i in range(0, len(raw), 4))
                found.append(ipaddress.ip_address(raw))
    return found


def test_listens_on_loopback_only(server):
    if not Path("/proc/net/tcp").exists():
        pytest.skip("needs Linux's /proc/net/tcp")
    addresses = _listening_addresses(server.port)
    assert addresses == [ipaddress.ip_address("127.0.0.1")]
