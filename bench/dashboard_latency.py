"""Dashboard latency on big data: every page, measured from the browser (issue 10, item 3).

Serves a published snapshot once (``crmkit serve`` on a free loopback port) and drives Debian's
Chromium with Playwright (never ``playwright install``). For each page in
``crmkit.views.base.PAGES``:

- **open**: page opened → the ready marker is shown and every one of the page's charts has drawn
  a trace; ``--loads`` loads (default 11), each in a fresh browser context (a fresh kernel), the
  first one not counted (it warms the server, the OS file cache and DuckDB's);
- **filter**: the province filter changed → the ready marker names the new province and every
  chart's ``layout.meta.filters`` does too (:func:`crmkit.charts.show_in` writes it), i.e. every
  chart was redrawn; ``--filters`` changes, each to another province, on the last page opened.

With ``--preheat N`` the server runs each page N times ahead of visitors (``crmkit serve
--preheat``); every load then waits, untimed, until the page's pool has been refilled (Voila's
log says so): the open time of a visitor who does not arrive right after another one. The waits
are reported as ``refill_s`` (about when the next visitor gets a pre-run page again).

Optionally (``--server``) the page's ``*_data`` function is also timed directly in Python, no
filter and one province, to tell the server's share from the browser's.

Median, min and max go under the key ``"dashboard"`` of the results file (other keys, e.g. the
analysis suite's, are kept) and a table is printed. Targets (issue 10): open ≤ 2 s, filter ≤ 1 s.

Usage::

    python -m bench.dashboard_latency --published data/published.duckdb \\
        [--pages all | overview,churn] [--loads 11] [--filters 10] [--server] \\
        [--out bench/results/<date>.json]
"""

from __future__ import annotations

import argparse
import contextlib
import os
import socket
import statistics
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

from bench.record import dated, record

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
#: Targets of issue 10 (seconds): page open → every chart drawn; filter → every chart redrawn.
TARGETS = {"open_s": 2.0, "filter_s": 1.0}
#: Charts each page draws (the browser tests' ``CHARTS``; the classification page has five).
CHARTS = {
    "overview": 4,
    "data_overview": 4,
    "classification": 5,
    "needs": 4,
    "satisfaction": 4,
    "churn": 6,
}
#: The ``*_data`` function behind each page (``crmkit.views``).
DATA_FUNCTIONS = {
    "overview": "kpi_overview_data",
    "data_overview": "overview_data",
    "classification": "classification_data",
    "needs": "needs_data",
    "satisfaction": "satisfaction_data",
    "churn": "churn_data",
}
TIMEOUT_MS = 300_000
CHARTS_DRAWN = """n => {
    const plots = Array.from(document.querySelectorAll('.js-plotly-plot'));
    return plots.length >= n && plots.every(g => g.querySelector('g.trace, g.hm'));
}"""
#: Every chart carries the filters it was drawn for (``Filters.describe``: "…; 省份: 广东; …").
REDRAWN = """key => {
    const plots = Array.from(document.querySelectorAll('.js-plotly-plot'));
    return plots.length > 0
        && plots.every(g => ((g.layout.meta || {}).filters || '').includes(key));
}"""


def stats(xs: list[float]) -> dict[str, float]:
    """Median, min, max and n of some timings (seconds)."""
    if not xs:
        return {"median": None, "min": None, "max": None, "n": 0}
    return {"median": statistics.median(xs), "min": min(xs), "max": max(xs), "n": len(xs)}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _serve(published: Path, port: int, log: Path, preheat: int = 0) -> subprocess.Popen:
    cmd = [sys.executable, "-m", "crmkit.serve", "--no-browser", "--port", str(port)]
    cmd += ["--root", str(ROOT / "dashboards"), "--published", str(published)]
    cmd += ["--preheat", str(preheat), "--max-kernels", "4"]
    env = {k: v for k, v in os.environ.items() if k != "CRMKIT_TOKEN"}
    with log.open("wb") as out:
        proc = subprocess.Popen(cmd, env=env, stdout=out, stderr=out)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"crmkit serve exited with {proc.returncode}; see {log}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/voila/tree", timeout=5):
                return proc
        except urllib.error.HTTPError:
            return proc
        except OSError:
            time.sleep(0.2)
    proc.terminate()
    raise RuntimeError(f"crmkit serve did not answer within 120 s; see {log}")


def _open(page, url: str, charts: int) -> tuple[float, float, float]:  # noqa: ANN001
    """Seconds from navigation to: the HTML loaded, the ready marker shown, every chart drawn."""
    t0 = time.perf_counter()
    page.goto(url, timeout=TIMEOUT_MS)
    loaded = time.perf_counter() - t0
    page.wait_for_selector(".crmkit-ready", state="attached", timeout=TIMEOUT_MS)
    ready = time.perf_counter() - t0
    page.wait_for_function(CHARTS_DRAWN, arg=charts, timeout=TIMEOUT_MS)
    return loaded, ready, time.perf_counter() - t0


def _change_province(page, choice: str) -> float:  # noqa: ANN001
    key = f"省份: {choice};"
    t0 = time.perf_counter()
    page.select_option(".crmkit-filter-province select", label=choice)
    page.wait_for_selector(
        f".crmkit-ready[data-filters*='{key}']", state="attached", timeout=TIMEOUT_MS
    )
    page.wait_for_function(REDRAWN, arg=key, timeout=TIMEOUT_MS)
    return time.perf_counter() - t0


def _pool_fills(log: Path, name: str) -> int:
    return log.read_text(errors="replace").count(f"Kernel pool of {name}.ipynb is filled")


def _kernels_busy(server_pid: int) -> bool:
    """Whether any process under the server (its kernels) uses CPU over half a second."""
    import psutil

    kids = psutil.Process(server_pid).children(recursive=True)
    for k in kids:
        with contextlib.suppress(psutil.NoSuchProcess):
            k.cpu_percent(None)
    time.sleep(0.5)
    busy = 0.0
    for k in kids:
        with contextlib.suppress(psutil.NoSuchProcess):
            busy = max(busy, k.cpu_percent(None))
    return busy > 5.0


def _wait_for_pool(
    log: Path, name: str, fills: int, server_pid: int, timeout: float = 900
) -> float:
    """Wait until Voila's log says the page's pre-heated pool was filled ``fills`` times and
    the kernels have finished running their pages (no kernel busy twice in a row)."""
    t0 = time.perf_counter()
    quiet = 0
    while _pool_fills(log, name) < fills or quiet < 2:
        if time.perf_counter() - t0 > timeout:
            raise RuntimeError(f"the pre-heated pool of {name} was not refilled in {timeout} s")
        if _pool_fills(log, name) >= fills:
            quiet = 0 if _kernels_busy(server_pid) else quiet + 1
        else:
            time.sleep(0.2)
    return time.perf_counter() - t0


def measure_page(  # noqa: ANN001
    browser,
    base_url: str,
    name: str,
    loads: int,
    filters: int,
    pause: float = 0.5,
    pool_log: Path | None = None,
    server_pid: int | None = None,
) -> dict:
    """Open ``name`` ``loads`` times (the first not counted), then change the province
    ``filters`` times on the last one opened; ``pause`` seconds between loads. With a
    pre-heated server (``pool_log``: its log) each load first waits until the page's pool has
    been refilled; those waits are reported as ``refill_s``."""
    url = f"{base_url}voila/render/{name}.ipynb"
    charts = CHARTS.get(name, 1)
    opens, changes, refills, loaded, ready = [], [], [], [], []
    # one browser context per page: the first (uncounted) load fills its HTTP cache with
    # Voila's and plotly's scripts, as a manager's browser has them after the first visit
    ctx = browser.new_context(viewport={"width": 1400, "height": 1000})
    for i in range(loads):
        if pool_log is not None:
            waited = _wait_for_pool(pool_log, name, i + 1, server_pid)
            if i:
                refills.append(waited + pause)
        page = ctx.new_page()
        try:
            html_s, ready_s, took = _open(page, url, charts)
            if i:
                opens.append(took)
                loaded.append(html_s)
                ready.append(ready_s)
            if i == loads - 1 and filters:
                provinces = page.locator(".crmkit-filter-province option").all_inner_texts()[1:]
                for k in range(filters):
                    changes.append(_change_province(page, provinces[k % len(provinces)]))
        finally:
            page.close(run_before_unload=True)
            time.sleep(pause)  # the kernel shuts down (and a pre-heated one is replaced)
    ctx.close()
    out = {
        "charts": charts,
        "open_s": stats(opens),
        "filter_s": stats(changes),
        # where an open's time goes: the HTML page (Voila: kernel + notebook run, unless
        # pre-heated), then the widgets until the ready marker, then the charts drawn
        "html_s": stats(loaded),
        "ready_s": stats(ready),
    }
    if pool_log is not None:
        out["refill_s"] = stats(refills)
    return out


def _measure_or_error(*args) -> dict:
    """:func:`measure_page`, or the error that stopped it (the other pages still run)."""
    try:
        return measure_page(*args)
    except Exception as e:  # a timeout on one page must not lose the others' figures
        return {"error": f"{type(e).__name__}: {str(e).splitlines()[0]}"}


def measure(
    published: Path,
    pages: list[str],
    loads: int,
    filters: int,
    *,
    preheat: int = 0,
    pause: float = 0.5,
) -> dict[str, dict]:
    """Browser timings of ``pages`` over one ``crmkit serve [--preheat N]`` of ``published``."""
    from playwright.sync_api import sync_playwright

    port = _free_port()
    log = Path(os.environ.get("TMPDIR", "/tmp")) / f"crmkit-dashboard-latency-{port}.log"
    proc = _serve(published, port, log, preheat)
    out: dict[str, dict] = {}
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            try:
                for name in pages:
                    print(f"… {name}", file=sys.stderr, flush=True)
                    out[name] = _measure_or_error(
                        browser,
                        f"http://127.0.0.1:{port}/",
                        name,
                        loads,
                        filters,
                        pause,
                        log if preheat else None,
                        proc.pid,
                    )
            finally:
                browser.close()
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    return out


def server_timings(published: Path, pages: list[str], repeat: int = 3) -> dict[str, dict]:
    """The pages' ``*_data`` functions timed in this process (no filter; the first province),
    best of ``repeat`` after one warm-up call: the server's part of an open / a filter change."""
    from crmkit import views

    con = views.open_snapshot(published)
    try:
        province = views.filter_options(con)["province"][0]
        out = {}
        for name in pages:
            fn = getattr(views, DATA_FUNCTIONS[name])
            res = {}
            for key, f in (
                ("all_s", views.Filters()),
                ("province_s", views.Filters(province=province)),
            ):
                fn(con, f)
                times = []
                for _ in range(repeat):
                    t0 = time.perf_counter()
                    fn(con, f)
                    times.append(time.perf_counter() - t0)
                res[key] = stats(times)
            out[name] = res
        return out
    finally:
        con.disconnect()


def snapshot_size(published: Path) -> dict[str, int]:
    """Customers and orders in the snapshot (what the timings were measured on)."""
    from crmkit import db

    con = db.connect(published, read_only=True)
    try:
        return {t: int(con.table(t).count().execute()) for t in ("customers", "orders")}
    finally:
        con.disconnect()


def combine(previous: dict | None, new: dict) -> dict:
    """``new`` with the pages of ``previous`` it did not measure, when both were measured on the
    same snapshot (same path and size) and server setting (``preheat``): pages can be measured
    one run at a time."""
    same = ("published", "size", "preheat")
    if not previous or [previous.get(k) for k in same] != [new.get(k) for k in same]:
        return new
    out = dict(new)
    for key in ("pages", "server"):
        if key in previous or key in new:
            out[key] = {**previous.get(key, {}), **new.get(key, {})}
    return out


def _fmt(m: dict | None) -> str:
    if not m or m.get("median") is None:
        return "—"
    return f"{m['median']:.2f} ({m['min']:.2f}–{m['max']:.2f})"


def _median(m: dict | None) -> str:
    return "—" if not m or m.get("median") is None else f"{m['median']:.2f}"


def _ok(m: dict | None, target: float) -> str:
    if not m or m.get("median") is None:
        return "—"
    return "yes" if m["median"] <= target else f"no ({m['median'] / target:.1f}×)"


def latency_table(result: dict) -> str:
    """A Markdown table: page × (open, filter) median (min–max) in seconds, and whether each
    meets its target (else how many times over it)."""
    server = result.get("server", {})
    head = "| page | open s median (min–max) | ≤ 2 s | filter s median (min–max) | ≤ 1 s |"
    sep = "|---|---|---|---|---|"
    if server:
        head += " `_data` s: all / one province |"
        sep += "---|"
    rows = [head, sep]
    for name, r in result["pages"].items():
        if "error" in r:
            rows.append(f"| {name} | {r['error']} | | | |")
            continue
        row = (
            f"| {name} | {_fmt(r['open_s'])} | {_ok(r['open_s'], TARGETS['open_s'])} "
            f"| {_fmt(r['filter_s'])} | {_ok(r['filter_s'], TARGETS['filter_s'])} |"
        )
        if server:
            s = server.get(name, {})
            row += f" {_median(s.get('all_s'))} / {_median(s.get('province_s'))} |"
        rows.append(row)
    return "\n".join(rows)


def run(
    published: Path,
    pages: list[str],
    loads: int,
    filters: int,
    *,
    server: bool = False,
    preheat: int = 0,
    pause: float = 0.5,
) -> dict:
    """Everything one run reports under ``"dashboard"``."""
    result = {
        "published": str(published),
        "size": snapshot_size(published),
        "loads": loads,
        "filters": filters,
        "preheat": preheat,
        "pause_s": pause,
        "targets": TARGETS,
        "method": (
            "median/min/max of warm loads (first not counted) page open -> every chart drawn, "
            "and of province changes -> every chart redrawn (layout.meta.filters), "
            "Playwright + Debian chromium, one crmkit serve"
        ),
        "pages": measure(published, pages, loads, filters, preheat=preheat, pause=pause),
    }
    if server:
        result["server"] = server_timings(published, pages)
    return result


def main(argv: list[str] | None = None) -> None:
    from crmkit.views.base import PAGES

    p = argparse.ArgumentParser(prog="python -m bench.dashboard_latency")
    p.add_argument("--published", type=Path, default=ROOT / "data" / "published.duckdb")
    p.add_argument("--pages", default="all", help=f"'all' or a comma list of {list(PAGES)}")
    p.add_argument("--loads", type=int, default=11, help="loads per page; the first not counted")
    p.add_argument("--filters", type=int, default=10)
    p.add_argument("--server", action="store_true", help="also time the *_data functions")
    p.add_argument("--preheat", type=int, default=0, help="crmkit serve --preheat N")
    p.add_argument("--pause", type=float, default=0.5, help="seconds between loads")
    p.add_argument("--out", type=Path, default=None, help="results file (default dated)")
    a = p.parse_args(argv)
    pages = list(PAGES) if a.pages == "all" else [x.strip() for x in a.pages.split(",")]
    unknown = [x for x in pages if x not in PAGES]
    if unknown:
        p.error(f"unknown pages {unknown}; expected 'all' or some of {list(PAGES)}")
    if not a.published.exists():
        p.error(f"no snapshot at {a.published}; run `crmkit publish` first")
    if a.loads < 2 or a.filters < 0:
        p.error("--loads must be ≥ 2 (the first is not counted) and --filters ≥ 0")
    result = run(
        a.published.resolve(),
        pages,
        a.loads,
        a.filters,
        server=a.server,
        preheat=a.preheat,
        pause=a.pause,
    )
    out = a.out or dated()
    result = record("dashboard", result, out=out, merge=combine)["dashboard"]
    size = result["size"]
    print(f"{size['customers']:,} customers, {size['orders']:,} orders ({a.published})")
    print(latency_table(result))
    print(f"results: {out} (key 'dashboard')")


if __name__ == "__main__":
    main()
