"""Twenty managers at once: ``crmkit serve`` under load while ``crmkit publish`` swaps the snapshot.

One ``crmkit serve`` (``--preheat 1``, as ``make serve``; the page cap its default, from this
machine's memory) over a demo warehouse of ``--customers`` customers (built once and cached in
``bench/.data/serve-load-<n>/``), driven by Debian's Chromium through Playwright (never
``playwright install``). Two phases:

1. **load**: ``--clients`` browser contexts at once, each on one page (round robin over the
   pages), open it (→ the ready marker and every chart drawn) and change the province filter
   ``--filters`` times (→ every chart redrawn for it), while ``crmkit publish`` replaces the
   snapshot again and again until the last client is done. Counted: **errors** (a client that
   failed or timed out, a JavaScript error on a page, the short error line on a page, an HTTP
   answer ≥ 500 other than "busy", a publish that failed) and **busy pages** (HTTP 503 answers to
   a page, each retry counted). Timed: open and filter, median and p95 (nearest rank). The page
   kernels' memory (RSS) is sampled once every client has opened its page.
2. **disconnect**: ``--clients`` pages opened in a second Chromium, which is then killed
   (SIGKILL: no unload beacon, no websocket close frame); the seconds until the server's kernels
   are back at the pre-heated pool's size (target ≤ 60 s).

Results go under ``"serve_load"`` in ``bench/results/<date>.json`` (other keys kept) and a
summary is printed. Targets (issue 17): 0 errors, 0 busy pages, kernels back within 60 s.

Usage::

    python -m bench.serve_load [--customers 2000] [--clients 20] [--filters 2] [--preheat 1] \\
        [--out bench/results/<date>.json]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import math
import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from datetime import date
from pathlib import Path

from bench.dashboard_latency import (
    CHARTS,
    CHARTS_DRAWN,
    CHROMIUM,
    CHROMIUM_ARGS,
    REDRAWN,
    snapshot_size,
    stats,
)
from bench.record import dated, record

ROOT = Path(__file__).resolve().parents[1]
DATA = Path(__file__).parent / ".data"
TARGETS = {"errors": 0, "busy_pages": 0, "reclaim_s": 60.0}
TIMEOUT_MS = 300_000
#: What a page shows in place of a failed cell (crmkit.i18n "error_short", both languages).
ERROR_LINES = ("页面出错", "Something went wrong")


def p95(xs: list[float]) -> float | None:
    """The 95th percentile by nearest rank: the smallest value with at least 95 % of the values
    at or below it (of 20 values, the 19th smallest)."""
    if not xs:
        return None
    return sorted(xs)[math.ceil(0.95 * len(xs)) - 1]


def timings(xs: list[float]) -> dict:
    """:func:`bench.dashboard_latency.stats` with the p95."""
    return {**stats(xs), "p95": p95(xs)}


def error_kinds(errors: list[str]) -> dict[str, int]:
    """How many errors of each kind, a kind being the message up to its first line break and
    without the address and the long numbers it names, most frequent first."""
    kinds = Counter(re.sub(r"http\S+|\d{4,}", "…", e.splitlines()[0])[:100] for e in errors)
    return dict(kinds.most_common())


def _env() -> dict[str, str]:
    """The environment of the processes started here: this checkout's crmkit, no token."""
    env = {k: v for k, v in os.environ.items() if k != "CRMKIT_TOKEN"}
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH")) if p)
    return env


def _crmkit(*args: str) -> list[str]:
    return [sys.executable, "-m", "crmkit", *args]


def demo_snapshot(customers: int) -> tuple[Path, Path]:
    """The cached demo warehouse of ``customers`` customers (seed 42) and its snapshot."""
    folder = DATA / f"serve-load-{customers}"
    warehouse, published = folder / "warehouse.duckdb", folder / "published.duckdb"
    folder.mkdir(parents=True, exist_ok=True)
    if not warehouse.exists():
        cmd = _crmkit("demo", "--customers", str(customers), "--seed", "42", "--quiet")
        subprocess.run([*cmd, "--db", str(warehouse)], check=True, env=_env())
    if not published.exists():
        publish = _crmkit("publish", "--db", str(warehouse), "--out", str(published))
        subprocess.run(publish, check=True, env=_env(), capture_output=True)
    return warehouse, published


class Server:
    """``crmkit serve`` on a free port of 127.0.0.1, its log in a file."""

    def __init__(self, published: Path, preheat: int):
        from bench.dashboard_latency import _free_port

        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}/"
        self.log = Path(os.environ.get("TMPDIR", "/tmp")) / f"crmkit-serve-load-{self.port}.log"
        cmd = [sys.executable, "-m", "crmkit.serve", "--no-browser", "--port", str(self.port)]
        cmd += ["--root", str(ROOT / "dashboards"), "--published", str(published)]
        cmd += ["--preheat", str(preheat)]
        with self.log.open("wb") as out:
            self.proc = subprocess.Popen(cmd, env=_env(), stdout=out, stderr=out)
        self.wait(lambda: "crmkit dashboards:" in self.log_text(), 120, "to listen")

    def log_text(self) -> str:
        return self.log.read_text(errors="replace")

    def wait(self, predicate, timeout: float, what: str) -> float:
        """Poll ``predicate`` every 0.5 s; the seconds it took (fails after ``timeout``)."""
        t0 = time.perf_counter()
        while not predicate():
            if self.proc.poll() is not None:
                raise RuntimeError(f"crmkit serve exited with {self.proc.returncode}; {self.log}")
            if time.perf_counter() - t0 > timeout:
                raise RuntimeError(f"crmkit serve did not {what} within {timeout:g} s; {self.log}")
            time.sleep(0.5)
        return time.perf_counter() - t0

    def max_kernels(self) -> int:
        return int(re.search(r"at most (\d+) pages open at once", self.log_text()).group(1))

    def kernels(self) -> list:
        """The kernel processes (pre-heated and pages)."""
        import psutil

        found = []
        for p in psutil.Process(self.proc.pid).children(recursive=True):
            try:
                if "ipykernel_launcher" in " ".join(p.cmdline()):
                    found.append(p)
            except psutil.NoSuchProcess:
                pass
        return found

    def wait_for_pools(self, pages: int, timeout: float = 900) -> float:
        """Until every page's pool has been filled once (Voila logs it when the kernels have
        started) and the kernels have run their pages (none busy twice in a row)."""
        from bench.dashboard_latency import _kernels_busy

        quiet = 0

        def ready() -> bool:
            nonlocal quiet
            if self.log_text().count("Kernel pool of") < pages:
                return False
            quiet = 0 if _kernels_busy(self.proc.pid) else quiet + 1
            return quiet >= 2

        return self.wait(ready, timeout, "fill its pools")

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


async def _client(browser, url: str, name: str, filters: int) -> dict:  # noqa: ANN001
    """One manager: open ``name``, change the province ``filters`` times."""
    out: dict = {"page": name, "busy": 0, "errors": [], "open_s": None, "filter_s": []}
    context = await browser.new_context(viewport={"width": 1400, "height": 1000})
    page = await context.new_page()
    page_url = f"{url}voila/render/{name}.ipynb"

    def on_response(response) -> None:  # noqa: ANN001
        if response.url.split("?")[0] == page_url and response.status == 503:
            out["busy"] += 1
        elif response.status >= 500:
            out["errors"].append(f"HTTP {response.status} {response.url}")

    page.on("response", on_response)
    page.on("pageerror", lambda e: out["errors"].append(f"JavaScript: {e}"))
    try:
        t0 = time.perf_counter()
        await page.goto(page_url, timeout=TIMEOUT_MS)
        await page.wait_for_selector(".crmkit-ready", state="attached", timeout=TIMEOUT_MS)
        await page.wait_for_function(CHARTS_DRAWN, arg=CHARTS[name], timeout=TIMEOUT_MS)
        out["open_s"] = time.perf_counter() - t0
        options = await page.locator(".crmkit-filter-province option").all_inner_texts()
        for choice in options[1 : 1 + filters]:
            key = f"省份: {choice};"
            t0 = time.perf_counter()
            await page.select_option(".crmkit-filter-province select", label=choice)
            await page.wait_for_selector(
                f".crmkit-ready[data-filters*='{key}']", state="attached", timeout=TIMEOUT_MS
            )
            await page.wait_for_function(REDRAWN, arg=key, timeout=TIMEOUT_MS)
            out["filter_s"].append(time.perf_counter() - t0)
        text = await page.inner_text("body")
        out["errors"] += [f"error line on the page: {s}" for s in ERROR_LINES if s in text]
    except Exception as e:  # a timeout counts as an error; the other clients go on
        out["errors"].append(f"{type(e).__name__}: {str(e).splitlines()[0]}")
    finally:
        out["context"] = context
    return out


def _publish_loop(warehouse: Path, published: Path, stop: threading.Event) -> list[dict]:
    """``crmkit publish`` over and over until ``stop``: each run's seconds and exit code."""
    runs = []
    while not stop.is_set():
        t0 = time.perf_counter()
        cmd = _crmkit("publish", "--db", str(warehouse), "--out", str(published))
        proc = subprocess.run(cmd, env=_env(), capture_output=True, text=True)
        runs.append(
            {
                "seconds": time.perf_counter() - t0,
                "exit_code": proc.returncode,
                "stderr_tail": proc.stderr[-500:] if proc.returncode else "",
            }
        )
    return runs


async def load_phase(
    server: Server, warehouse: Path, published: Path, clients: int, filters: int
) -> dict:
    """Phase 1: ``clients`` managers at once while publishes run back to back."""
    from playwright.async_api import async_playwright

    pages = list(CHARTS)
    stop = threading.Event()
    runs: list[dict] = []
    publisher = threading.Thread(
        target=lambda: runs.extend(_publish_loop(warehouse, published, stop))
    )
    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            publisher.start()
            t0 = time.perf_counter()
            results = await asyncio.gather(
                *(
                    _client(browser, server.url, pages[i % len(pages)], filters)
                    for i in range(clients)
                )
            )
            wall = time.perf_counter() - t0
            rss = []
            for k in server.kernels():
                try:
                    rss.append(k.memory_info().rss / 2**20)
                except Exception:  # noqa: S112 - a kernel that just went
                    continue
            stop.set()
            await asyncio.to_thread(publisher.join)
            for r in results:  # closed as a crash would: no unload beacon
                await r.pop("context").close()
        finally:
            stop.set()
            await browser.close()
    errors = [e for r in results for e in r["errors"]]
    errors += [f"publish exit {r['exit_code']}: {r['stderr_tail']}" for r in runs if r["exit_code"]]
    return {
        "wall_s": wall,
        "open_s": timings([r["open_s"] for r in results if r["open_s"] is not None]),
        "filter_s": timings([s for r in results for s in r["filter_s"]]),
        "errors": len(errors),
        "errors_by_kind": error_kinds(errors),
        "clients_opened": sum(1 for r in results if r["open_s"] is not None),
        "clients_done": sum(1 for r in results if len(r["filter_s"]) == filters),
        "busy_pages": sum(r["busy"] for r in results),
        "clients_busy_at_least_once": sum(1 for r in results if r["busy"]),
        "pages": {name: sum(1 for r in results if r["page"] == name) for name in pages},
        "publishes": {
            "n": len(runs),
            "seconds": stats([r["seconds"] for r in runs]),
            "failed": sum(1 for r in runs if r["exit_code"]),
        },
        "kernel_rss_mib": stats(rss),
        "kernels_when_sampled": len(rss),
    }


def _kill_marked(marker: str) -> int:
    """SIGKILL this process's descendants (Playwright's Chromium) whose command line holds
    ``marker``; how many there were."""
    import psutil

    killed = 0
    for proc in psutil.Process().children(recursive=True):
        try:
            if marker in " ".join(proc.cmdline()):
                proc.send_signal(signal.SIGKILL)
                killed += 1
        except psutil.NoSuchProcess:
            pass
    return killed


async def disconnect_phase(server: Server, clients: int, pool: int) -> dict:
    """Phase 2: ``clients`` pages open in a Chromium that is then killed; seconds until the
    server is back at ``pool`` kernels."""
    from playwright.async_api import async_playwright

    marker = f"--crmkit-serve-load={server.port}"  # Chromium ignores it; ps shows it
    pages = list(CHARTS)
    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path=CHROMIUM, args=[*CHROMIUM_ARGS, marker])
        try:
            contexts = [await browser.new_context() for _ in range(clients)]

            async def open_one(i: int, context) -> None:  # noqa: ANN001
                page = await context.new_page()
                url = f"{server.url}voila/render/{pages[i % len(pages)]}.ipynb"
                await page.goto(url, timeout=TIMEOUT_MS)
                await page.wait_for_selector(".crmkit-ready", state="attached", timeout=TIMEOUT_MS)

            opened = await asyncio.gather(
                *(open_one(i, c) for i, c in enumerate(contexts)), return_exceptions=True
            )
            failed = [f"{type(e).__name__}: {str(e).splitlines()[0]}" for e in opened if e]
            # the pools refill after each hand-over: wait until they are full again
            wait_full = server.wait(
                lambda: len(server.kernels()) >= pool + clients - len(failed),
                600,
                "refill its pools",
            )
            before = len(server.kernels())
            killed = _kill_marked(marker)
            reclaimed = await asyncio.to_thread(
                server.wait, lambda: len(server.kernels()) <= pool, 300, "reclaim the kernels"
            )
        finally:
            with contextlib.suppress(Exception):  # it was killed on purpose
                await browser.close()
    return {
        "clients": clients,
        "failed_to_open": failed,
        "pool_size": pool,
        "kernels_before": before,
        "refill_wait_s": wait_full,
        "chromium_processes_killed": killed,
        "seconds_to_pool": reclaimed,
    }


def _say(what: str) -> None:
    print(f"{time.strftime('%H:%M:%S')} {what}", file=sys.stderr, flush=True)


def run(customers: int, clients: int, filters: int, preheat: int) -> dict:
    _say(f"demo warehouse of {customers:,} customers and its snapshot")
    warehouse, published = demo_snapshot(customers)
    _say("crmkit serve")
    server = Server(published, preheat)
    try:
        pages = len(list((ROOT / "dashboards").glob("*.ipynb")))
        pool = preheat * pages
        refill = server.wait_for_pools(pages) if preheat else 0.0
        load_average = os.getloadavg()
        _say(f"load: {clients} clients while crmkit publish runs")
        load = asyncio.run(load_phase(server, warehouse, published, clients, filters))
        # the load's contexts were closed without their unload beacon
        load["back_to_pool_s"] = server.wait(
            lambda: len(server.kernels()) <= pool, 300, "go back to its pools"
        )
        _say("disconnect: pages in a Chromium that is killed")
        try:
            disconnect = asyncio.run(
                disconnect_phase(server, min(clients, server.max_kernels()), pool)
            )
        except Exception as e:  # keep the load's figures
            disconnect = {"error": f"{type(e).__name__}: {str(e).splitlines()[0]}"}
        refusals = server.log_text().count("refusing a new kernel")
        max_kernels = server.max_kernels()
    finally:
        server.stop()
    return {
        "date": date.today().isoformat(),
        "published": str(published),
        "size": snapshot_size(published),
        "clients": clients,
        "filters": filters,
        "preheat": preheat,
        "max_kernels": max_kernels,
        "first_pool_fill_s": refill,
        "load_average_at_start": load_average,
        "targets": TARGETS,
        "method": (
            "one crmkit serve (default page cap), Playwright + Debian chromium: clients open a "
            "page each at once (round robin over the pages) -> ready marker and every chart "
            "drawn, then change the province filter -> every chart redrawn, while crmkit "
            "publish replaces the snapshot back to back; then as many pages open in a second "
            "chromium that is SIGKILLed, timed until the kernels are back at the pool size"
        ),
        "load": load,
        "kernel_refusals_in_log": refusals,
        "disconnect": disconnect,
    }


def summary(result: dict) -> str:
    """The figures against their targets, one line each."""
    load, gone = result["load"], result["disconnect"]

    def s(m: dict) -> str:
        if m.get("median") is None:
            return "—"
        return f"median {m['median']:.1f} s, p95 {m['p95']:.1f} s (n {m['n']})"

    rss = load["kernel_rss_mib"]
    return "\n".join(
        [
            f"{result['size']['customers']:,} customers, {result['clients']} clients, page cap "
            f"{result['max_kernels']}, --preheat {result['preheat']}",
            f"errors       {load['errors']} (target 0)"
            + "".join(f"\n  {n:>4} × {kind}" for kind, n in load["errors_by_kind"].items()),
            f"clients      {load['clients_opened']} drew their page, {load['clients_done']} also "
            f"changed the filter {result['filters']} times",
            f"busy pages   {load['busy_pages']} (target 0)",
            f"open         {s(load['open_s'])}",
            f"filter       {s(load['filter_s'])}",
            f"publishes    {load['publishes']['n']} during the load, "
            f"{load['publishes']['failed']} failed",
            f"kernel RSS   median {rss['median']:.0f} MiB, max {rss['max']:.0f} MiB "
            f"({load['kernels_when_sampled']} kernels)"
            if rss["median"] is not None
            else "kernel RSS   —",
            f"disconnect   {gone['error']}"
            if "error" in gone
            else f"disconnect   {gone['clients']} pages killed: kernels {gone['kernels_before']} "
            f"-> {gone['pool_size']} in {gone['seconds_to_pool']:.1f} s (target ≤ 60 s)",
        ]
    )


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(prog="python -m bench.serve_load")
    p.add_argument("--customers", type=int, default=2000, help="demo size (cached)")
    p.add_argument("--clients", type=int, default=20)
    p.add_argument("--filters", type=int, default=2, help="province changes per client")
    p.add_argument("--preheat", type=int, default=1, help="crmkit serve --preheat N")
    p.add_argument("--out", type=Path, default=None, help="results file (default dated)")
    a = p.parse_args(argv)
    if a.clients < 1 or a.filters < 0 or a.preheat < 0:
        p.error("--clients must be ≥ 1, --filters and --preheat ≥ 0")
    if not Path(CHROMIUM).is_file():
        p.error(f"{CHROMIUM} not found; install Debian's chromium (never `playwright install`)")
    result = run(a.customers, a.clients, a.filters, a.preheat)
    out = a.out or dated()
    record("serve_load", result, out=out)
    print(summary(result))
    print(f"results: {out} (key 'serve_load')")


if __name__ == "__main__":
    main()
