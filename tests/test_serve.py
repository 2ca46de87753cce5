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
"""

from __future__ import annotations

import http.client
import ipaddress
import os
import re
import socket
import subprocess
import sys
import threading
from dataclasses import dataclass
from pathlib import Path

import duckdb
import nbformat
import pytest

from crmkit import i18n, serve

HELLO = 'greeting = "hel" + "lo"\nprint(greeting, 6 * 7)'
ENV = 'import os\nprint("role=" + os.environ["CRMKIT_ROLE"])\nprint("published=" + os.environ["CRMKIT_PUBLISHED"])'  # noqa: E501
BROKEN = 'raise RuntimeError("customer 13800138000 not found")'
SLOW = 'import time\ntime.sleep(3)\nprint("slept")'
LANDING = 'print("landing page")'
TOKEN = "s3cret-token-for-tests"


# ---------------------------------------------------------------------------- check_bind


@pytest.fixture(autouse=True)
def _no_token_in_env(monkeypatch):
    monkeypatch.delenv("CRMKIT_TOKEN", raising=False)


@pytest.mark.parametrize("host", ["0.0.0.0", "192.168.1.20", "10.0.0.5", "::", "", "example.org"])
def test_check_bind_refuses_other_addresses_without_token(host):
    with pytest.raises(ValueError, match="refusing to listen on .* without a token") as e:
        serve.check_bind(host, None)
    assert "pass --token or set CRMKIT_TOKEN" in str(e.value)


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
    assert c.MappingKernelManager.cull_connected is True
    assert serve.voila_config(tmp_path, cull_idle_seconds=4).MappingKernelManager.cull_interval == 2


def test_voila_config_preheat(tmp_path):
    """Off by default; ``preheat=2`` asks Voila for two pre-run kernels per page, refilled at
    once."""
    assert "preheat_kernel" not in serve.voila_config(tmp_path).VoilaConfiguration
    c = serve.voila_config(tmp_path, preheat=2)
    assert c.VoilaConfiguration.preheat_kernel is True
    assert c.VoilaConfiguration.default_pool_size == 2
    assert c.VoilaKernelManager.fill_delay == 0


@pytest.mark.parametrize(
    ("option", "value"), [("max_kernels", 0), ("cull_idle_seconds", -1), ("preheat", -1)]
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
    assert serve.BUSY_TEXT == {"zh": "服务繁忙，请稍后重试", "en": "Busy, please retry in a minute"}


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

    def get(self, path: str) -> tuple[int, http.client.HTTPMessage, str]:
        return self.request("GET", path)

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
    (root / "x.duckdb").write_bytes(b"not for download")
    (root / "customers.csv").write_text("name,phone\n张三,13800138000\n")
    return root, _published(base / "published.duckdb")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _start(root: Path, published: Path, log_dir: Path, wait_until, *options: str) -> Server:
    port = _free_port()
    cmd = [sys.executable, "-m", "crmkit.serve", "--no-browser", "--port", str(port)]
    cmd += ["--root", str(root), "--published", str(published), *options]
    env = {k: v for k, v in os.environ.items() if k != "CRMKIT_TOKEN"}
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
    """Factory: ``start_server(root, published, *options) -> Server``, stopped after the test."""
    servers = []

    def start(root: Path, published: Path, *options: str) -> Server:
        servers.append(_start(root, published, tmp_path, wait_until, *options))
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


@pytest.mark.slow  # a real Voila server: seconds per test
def test_server_prints_its_url(server):
    assert f"crmkit dashboards: http://127.0.0.1:{server.port}/\n" in server.log_text()


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
    assert headers["retry-after"] == "60"
    assert "服务繁忙，请稍后重试" in body and "Busy, please retry in a minute" in body
    assert "hello 42" not in body
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
def test_token_is_required(start_server, site):
    s = start_server(*site, "--token", TOKEN)
    for path in ("/", "/voila/tree", "/voila/render/hello.ipynb"):
        status, headers, body = s.get(path)
        assert status == 302 and headers["location"].startswith("/login"), path
        assert "hello 42" not in body
    status, headers, _ = s.get("/voila/render/hello.ipynb?token=wrong")
    assert status == 302 and headers["location"].startswith("/login")
    status, _, body = s.get(f"/voila/render/hello.ipynb?token={TOKEN}")
    assert status == 200 and "hello 42" in body
    assert s.get(f"/?token={TOKEN}")[0] == 200
    assert f"crmkit dashboards: http://127.0.0.1:{s.port}/?token={TOKEN}" in s.log_text()


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
