"""Serving: the real ``crmkit serve`` (its token, websockets, pages in Chromium), one server at a
time."""

from __future__ import annotations

import asyncio
import json
import os
import re
import shutil
import subprocess
import time
import uuid
from collections.abc import Callable
from pathlib import Path

from bench.hostile_probe import (
    ROOT,
    TOKEN,
    Ctx,
    Row,
    _python,
    crmkit,
)
from bench.hostile_probe.data_cases import XSS, XSS_PLANT, planted

# ---------------------------------------------------------------------------------------------
# serving: the real crmkit serve, one server at a time
# ---------------------------------------------------------------------------------------------

#: Pages copied into the token server's folder: two real dashboards, pre-heated.
TOKEN_PAGES = ("data_overview", "needs")
PAGE_TIMEOUT_MS = 300_000


def _start(root: Path, published: Path, log: Path, *options: str | Path):
    """``crmkit serve`` on a free loopback port (a tests/test_serve.Server), once it listens."""
    from bench.dashboard_latency import _free_port
    from tests import test_serve as ts

    port = _free_port()
    argv = ["-m", "crmkit", "serve", "--no-browser", "--port", port, "--root", root]
    with log.open("wb") as out:
        proc = _python(*argv, "--published", published, *options, stdout=out, stderr=out)
    server = ts.Server(port, proc, log)
    _wait(lambda: "crmkit dashboards:" in server.log_text(), 120, proc)
    return server


def _wait(predicate: Callable[[], object], timeout: float, proc: subprocess.Popen) -> float:
    """Poll every 0.5 s until ``predicate()`` holds; the seconds it took."""
    t0 = time.perf_counter()
    while not predicate():
        if proc.poll() is not None:
            raise RuntimeError(f"crmkit serve exited with {proc.returncode}")
        if time.perf_counter() - t0 > timeout:
            raise TimeoutError(f"waited {timeout:g} s")
        time.sleep(0.5)
    return time.perf_counter() - t0


def _stop(proc: subprocess.Popen) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=60)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def probe_token_server(ctx: Ctx) -> list[Row]:
    """``crmkit serve --token-file … --preheat 1`` over the planted snapshot."""
    p = planted(ctx)
    d = ctx.folder("serve_token")
    site = ctx.folder("serve_token/site")
    for page in TOKEN_PAGES:
        shutil.copy(ROOT / "dashboards" / f"{page}.ipynb", site)
    token = d / "token"
    token.write_text(TOKEN + "\n", encoding="utf-8")
    token.chmod(0o600)
    server = _start(site, p["dashboard"], d / "serve.log", "--token-file", token, "--preheat", 1)
    try:
        filled = [f"Kernel pool of {page}.ipynb is filled" for page in TOKEN_PAGES]
        _wait(lambda: all(f in server.log_text() for f in filled), 900, server.proc)
        rows = [_query_socket(server), _xss(server), _traversal(server, site, p)]
        rows += _token_seen(server)
    finally:
        _stop(server.proc)
    return rows


def _query_socket(server) -> Row:  # noqa: ANN001
    from tornado.httpclient import HTTPClientError

    from tests import test_serve as ts

    cookie = server.login(TOKEN)
    status, _, body = server.get("/voila/render/data_overview.ipynb?lang=en", cookie)
    path = f"/voila/query/{ts._kernel_id(body)}"

    async def without() -> int:
        try:
            ws = await ts._websocket(server, path)
        except HTTPClientError as e:
            return e.code
        ws.close()
        return 101

    async def details() -> dict:
        ws = await ts._websocket(server, path, cookie)
        try:
            return json.loads(await asyncio.wait_for(ws.read_message(), 60))
        finally:
            ws.close()

    refused = asyncio.run(without())
    info = asyncio.run(details())
    return Row(
        "query_without_token",
        "serving",
        "/voila/query/<kernel id> (--preheat) without the token / login cookie",
        "`/voila/query/<kernel_id>` (used by `--preheat`) opens without the token and echoes the "
        "query string — the token",
        f"page {status} from the pre-heated pool; websocket without the cookie: HTTP {refused}; "
        f"with it: QUERY_STRING {info.get('QUERY_STRING')!r}, token in the details: "
        f"{TOKEN in json.dumps(info)}",
        {
            "refused (403)": refused == 403,
            "no token in what it echoes": TOKEN not in json.dumps(info),
            "page from the pool": "Using pre-heated kernel" in server.log_text(),
        },
        {"path": path, "query_string": info.get("QUERY_STRING")},
    )


_PAGE_STATE = """() => ({
    xss: window.__xss || null,
    injected: document.querySelectorAll('img[src="x"], img[onerror]').length,
    text: document.body.innerText + '\\n'
        + Array.from(document.querySelectorAll('option')).map(o => o.textContent).join('\\n'),
    errorLines: document.querySelectorAll('.crmkit-error').length,
})"""


def _xss(server) -> Row:  # noqa: ANN001
    from playwright.sync_api import sync_playwright

    from bench.dashboard_latency import CHROMIUM, CHROMIUM_ARGS

    seen, dialogs = {}, []
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = browser.new_context().new_page()
            page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
            for name in TOKEN_PAGES:
                url = f"http://127.0.0.1:{server.port}/voila/render/{name}.ipynb?token={TOKEN}"
                page.goto(url, timeout=PAGE_TIMEOUT_MS)
                page.wait_for_selector(".crmkit-ready", state="attached", timeout=PAGE_TIMEOUT_MS)
                page.wait_for_timeout(3000)  # an injected <img src=x> fails to load in far less
                state = page.evaluate(_PAGE_STATE)
                shown = [w for w in XSS_PLANT if XSS.format(w) in state["text"]]
                seen[name] = {"xss": state["xss"], "injected": state["injected"], "shown": shown}
        finally:
            browser.close()
    ran = {k: v["xss"] for k, v in seen.items() if v["xss"]}
    shown = {k: v["shown"] for k, v in seen.items()}
    return Row(
        "xss_as_text",
        "held",
        "XSS payloads (<img src=x onerror=…>) in city, owner, product names, feedback texts, "
        "opened in Chromium",
        "XSS payloads in 15 fields rendered as text on every page",
        f"payloads shown as text: {shown}; scripts run: {ran or 'none'}; injected elements: "
        f"{sum(v['injected'] for v in seen.values())}; dialogs {len(dialogs)}",
        {
            "no payload ran": not ran and not dialogs,
            "no element injected": all(v["injected"] == 0 for v in seen.values()),
            "shown as text on a page": any(shown.values()),
        },
        {"pages": seen},
    )


def _traversal(server, site: Path, p: dict) -> Row:  # noqa: ANN001
    cookie = server.login(TOKEN)
    up = os.path.relpath(p["dashboard"], site).replace("/", "%2f")
    paths = [
        "/voila/files/../../../../../../etc/passwd",
        "/voila/files/..%2f..%2f..%2f..%2f..%2f..%2fetc%2fpasswd",
        "/voila/render/..%2f..%2f..%2f..%2f..%2f..%2fetc%2fpasswd",
        "/voila/templates/crmkit/static/..%2f..%2f..%2f..%2f..%2f..%2f..%2f..%2fetc%2fpasswd",
        "/voila/static/..%2f..%2f..%2f..%2f..%2f..%2fetc%2fpasswd",
        "/static/..%2f..%2f..%2f..%2f..%2f..%2fetc%2fpasswd",
        f"/voila/files/{up}",
        "/voila/files/data_overview.ipynb",
        "/api/contents/..%2f",
        "/files/..%2f..%2f..%2fetc%2fpasswd",
    ]
    answers = {}
    for path in paths:
        status, _, body = server.get(path, cookie)
        leaked = "root:x:0:0" in body or "DUCK" in body[:64] or "import crmkit" in body
        answers[path] = (status, leaked)
    return Row(
        "path_traversal",
        "held",
        f"path traversal ({len(paths)} paths: ../ and %2f to /etc/passwd, the snapshot, a "
        "notebook's source), logged in",
        "path traversal and open binds were refused",
        "statuses " + ", ".join(f"{s}" for s, _ in answers.values()) + "; content leaked: "
        f"{[k for k, (_, leak) in answers.items() if leak] or 'none'}",
        {"none served": not any(leak for _, leak in answers.values())},
        {"answers": answers},
    )


def _token_seen(server) -> list[Row]:  # noqa: ANN001
    import psutil

    log = server.log_text()
    procs = [psutil.Process(server.proc.pid), *psutil.Process(server.proc.pid).children(True)]
    in_argv = [p.pid for p in procs if TOKEN in " ".join(p.cmdline())]
    in_env = [p.pid for p in procs if TOKEN in "".join(p.environ().values())]
    ps = subprocess.run(["ps", "-eww", "-o", "args"], capture_output=True, text=True).stdout
    redacted = re.findall(r"\d{3} GET \S*token=\[secret\]\S*", log)
    return [
        Row(
            "token_in_log",
            "serving",
            "the token in the server's access log",
            "the token appears in access logs (`?token=`)",
            f"{log.count(TOKEN)} log lines with the token; redacted lines e.g. "
            f"{(redacted or ['none'])[:2]}",
            {"token not logged": TOKEN not in log, "visits logged redacted": bool(redacted)},
            {"redacted": redacted[:5]},
        ),
        Row(
            "token_in_ps",
            "serving",
            "the token in `ps` (server started with --token-file)",
            "the token appears … in `ps`",
            f"`ps -eww -o args` lines with the token: {ps.count(TOKEN)}; in the argv of the "
            f"server and its {len(procs) - 1} kernels: {len(in_argv)}; in their environment: "
            f"{len(in_env)}",
            {"not in ps": TOKEN not in ps, "not in argv or env": not in_argv and not in_env},
            {"processes": len(procs)},
        ),
    ]


def probe_page_server(ctx: Ctx) -> list[Row]:
    """``crmkit serve`` over the real dashboards folder (bench.serve_load's server, no token)."""
    from bench.serve_load import Server
    from tests import test_serve as ts

    p = planted(ctx)
    server = Server(p["dashboard"], preheat=0)
    http = ts.Server(server.port, server.proc, server.log)
    try:
        rows = [_malformed_comm(http), _execute_refused(http, ctx)]
        server.wait(lambda: not server.kernels(), 300, "free the probe's kernels")
        rows.append(_tabs_killed(server))
    finally:
        server.stop()
    return rows


def _malformed_comm(http) -> Row:  # noqa: ANN001
    from crmkit import i18n
    from tests import test_serve as ts

    status, _, body = http.get("/voila/render/data_overview.ipynb")
    model = re.search(r'"model_id": "([0-9a-f]{32})"', body)[1]
    nowhere = "IPY_MODEL_" + "0" * 32
    messages = [
        ("comm_open", {"comm_id": uuid.uuid4().hex, "target_name": "jupyter.widget", "data": {}}),
        (
            "comm_msg",
            {"comm_id": model, "data": {"method": "update", "state": {"layout": nowhere}}},
        ),
        (
            "comm_msg",
            {
                "comm_id": model,
                "data": {"method": "update", "state": {}, "buffer_paths": [["value"]]},
            },
        ),  # fmt: skip
    ]
    frames = []
    for v1 in (True, False):
        sent = [ts._kernel_message(kind, content) for kind, content in messages]
        frames += [(v1, f) for f in asyncio.run(ts._converse(http, ts._kernel_id(body), sent, v1))]
    texts = [f.decode("utf-8", "replace") if isinstance(f, bytes) else f for _, f in frames]
    # the short error reply's ename is "ExecutionError": any other exception name is a leak
    leaked = [
        t for t in texts if re.search(r'Traceback|File "|(?<!Execution)Error\b|site-packages', t)
    ]
    decoded = [ts._decode(f, v1) for v1, f in frames]
    streams = [m for m in decoded if m["header"]["msg_type"] == "stream"]
    errors = [m["content"] for m in decoded if m["header"]["msg_type"] == "error"]
    short = f"{i18n.t('error_short', 'zh')} / {i18n.t('error_short', 'en')}"
    log = http.log_text()
    return Row(
        "malformed_comm",
        "serving",
        "malformed widget comm messages (comm_open without a version, an update to a model "
        "that does not exist, buffer paths without buffers), v1 and JSON protocols",
        "a malformed widget comm sends a Python traceback to the browser",
        f"page {status}; {len(frames)} frames back, {len(leaked)} with a traceback or error "
        f"name, {len(streams)} stderr streams, {len(errors)} error replies "
        f"{sorted({(e['ename'], tuple(e['traceback'])) for e in errors})}; server log has the "
        f"traceback: {'Traceback' in log}",
        {
            "no traceback to the browser": not leaked and not streams,
            "errors only as the short line": all(e["traceback"] == [short] for e in errors),
            "traceback in the server log": "Traceback" in log,
        },
        {"frames": len(frames), "leaked": [t[:300] for t in leaked]},
    )


def _execute_refused(http, ctx: Ctx) -> Row:  # noqa: ANN001
    from tests import test_serve as ts

    status, _, body = http.get("/voila/render/data_overview.ipynb")
    kernel = ts._kernel_id(body)
    marker = ctx.folder("serve_pages") / "executed"
    code = f"open({str(marker)!r}, 'w').write('ran')"

    async def attempt(v1: bool) -> list[str]:
        ws = await ts._websocket(http, f"/api/kernels/{kernel}/channels?session_id=probe", v1=v1)
        run = ts._kernel_message(
            "execute_request",
            {"code": code, "silent": False, "store_history": False, "user_expressions": {},
             "allow_stdin": False, "stop_on_error": True},
        )  # fmt: skip
        # the kernel answers its shell in order: kernel_info_reply comes after anything the
        # execute_request would have caused
        for msg in (run, ts._kernel_message("kernel_info_request", {})):
            await ws.write_message(ts._encode(msg, v1), binary=v1)
        got = []
        try:
            while not got or got[-1] != "kernel_info_reply":
                m = ts._decode(await asyncio.wait_for(ws.read_message(), 60), v1)
                if m["parent_header"].get("msg_id") == run["header"]["msg_id"]:
                    got.append("(to execute) " + m["header"]["msg_type"])
                else:
                    got.append(m["header"]["msg_type"])
        finally:
            ws.close()
        return got

    answers = {"v1": asyncio.run(attempt(True)), "json": asyncio.run(attempt(False))}
    refused = 'Received message of type "execute_request", which is not allowed'
    to_execute = [a for got in answers.values() for a in got if a.startswith("(to execute)")]
    return Row(
        "execute_request_refused",
        "held",
        "execute_request on a page kernel's websocket (v1 and JSON), then kernel_info_request",
        "the kernel websocket refused `execute_request` in every wire format",
        f"page {status}; answers {answers}; code ran: {marker.exists()}; server log: "
        f"{http.log_text().count(refused)} × '{refused}'",
        {
            "nothing answered the execute_request": not to_execute,
            "code did not run": not marker.exists(),
            "the socket worked (kernel_info_reply)": all(
                got[-1:] == ["kernel_info_reply"] for got in answers.values()
            ),
        },
        {"answers": answers},
    )


def _tabs_killed(server) -> Row:  # noqa: ANN001
    from bench.serve_load import disconnect_phase

    res = asyncio.run(disconnect_phase(server, 8, 0))
    return Row(
        "tabs_killed_kernels_back",
        "serving",
        "8 pages open in a Chromium then killed (SIGKILL: no unload beacon, no close frame)",
        "kernels of tabs that close without the unload beacon stay 10 minutes, so 8 such tabs "
        "lock everyone out",
        f"{res['kernels_before']} kernels with {res['clients']} pages open "
        f"({len(res['failed_to_open'])} failed to open); Chromium killed ("
        f"{res['chromium_processes_killed']} processes); kernels back to "
        f"{res['pool_size']} after {res['seconds_to_pool']:.1f} s",
        {
            "all 8 opened": not res["failed_to_open"] and res["kernels_before"] >= 8,
            "back within 60 s": res["seconds_to_pool"] <= 60,
        },
        res,
    )


def probe_open_bind(ctx: Ctx) -> list[Row]:
    p = planted(ctx)
    run = crmkit("serve", "--host", "0.0.0.0", "--no-browser", "--published", p["dashboard"])
    return [
        Row(
            "open_bind_refused",
            "held",
            "crmkit serve --host 0.0.0.0 without a token",
            "path traversal and open binds were refused",
            f"exit {run.code}; {run.err1!r}",
            {
                "exit 2": run.code == 2,
                "refused": "refusing to listen on 0.0.0.0 without a token" in run.err,
            },
            run.facts(),
        )
    ]
