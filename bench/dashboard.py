"""Dashboard latency: page open → all charts drawn, and filter change → all charts redrawn.

Starts ``crmkit serve`` on a free loopback port over a published snapshot, opens a page in
Debian's Chromium ``--loads`` times (the first load warms the server and is not counted), and
changes the province filter ``--filters`` times. Prints median / min / max and writes
``bench/results/<date>-dashboard.json``.

Usage: ``python -m bench.dashboard --published data/published.duckdb [--page data_overview]``.
"""

from __future__ import annotations

import argparse
import json
import socket
import statistics
import subprocess
import sys
import time
import urllib.request
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS = Path(__file__).parent / "results"
CHROMIUM_ARGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
REDRAWN = """() => Array.from(document.querySelectorAll('.js-plotly-plot'))
    .every(g => (g.layout.meta || {}).filters?.includes('CHOICE'))"""
CHARTS_DRAWN = """n => {
    const plots = Array.from(document.querySelectorAll('.js-plotly-plot'));
    return plots.length >= n && plots.every(g => g.querySelector('g.trace, g.hm'));
}"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _stats(xs: list[float]) -> dict[str, float]:
    return {"median": statistics.median(xs), "min": min(xs), "max": max(xs), "n": len(xs)}


def measure(published: Path, page_name: str, loads: int, filters: int, charts: int) -> dict:
    from playwright.sync_api import sync_playwright

    port = _free_port()
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "crmkit.serve",
            "--no-browser",
            "--port",
            str(port),
            "--root",
            str(ROOT / "dashboards"),
            "--published",
            str(published),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}/voila/render/{page_name}.ipynb"
    try:
        for _ in range(300):
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/voila/tree", timeout=2)
                break
            except OSError:
                time.sleep(0.2)
        load_times, filter_times = [], []
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
            for i in range(loads + 1):
                ctx = browser.new_context(viewport={"width": 1400, "height": 1000})
                page = ctx.new_page()
                t0 = time.perf_counter()
                page.goto(url)
                page.wait_for_selector(".crmkit-ready", state="attached", timeout=180_000)
                page.wait_for_function(CHARTS_DRAWN, arg=charts, timeout=180_000)
                if i:
                    load_times.append(time.perf_counter() - t0)
                if i == loads:
                    provinces = page.locator(".crmkit-filter-province option").all_inner_texts()
                    for k in range(filters):
                        choice = provinces[1 + k % (len(provinces) - 1)]
                        t0 = time.perf_counter()
                        page.select_option(".crmkit-filter-province select", label=choice)
                        page.wait_for_selector(
                            f".crmkit-ready[data-filters*='省份: {choice}']",
                            state="attached",
                            timeout=180_000,
                        )
                        page.wait_for_function(REDRAWN.replace("CHOICE", choice), timeout=180_000)
                        filter_times.append(time.perf_counter() - t0)
                page.close(run_before_unload=True)
                time.sleep(0.5)
                ctx.close()
            browser.close()
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    return {
        "page": page_name,
        "published": str(published),
        "load_s": _stats(load_times),
        "filter_s": _stats(filter_times),
    }


def main() -> None:
    p = argparse.ArgumentParser(prog="python -m bench.dashboard")
    p.add_argument("--published", type=Path, default=ROOT / "data" / "published.duckdb")
    p.add_argument("--page", default="data_overview")
    p.add_argument("--loads", type=int, default=10)
    p.add_argument("--filters", type=int, default=5)
    p.add_argument("--charts", type=int, default=4)
    args = p.parse_args()
    res = measure(args.published, args.page, args.loads, args.filters, args.charts)
    for key in ("load_s", "filter_s"):
        m = res[key]
        print(
            f"{key:<10} median {m['median']:.2f} s  (min {m['min']:.2f}, max {m['max']:.2f}, "
            f"n {m['n']})"
        )
    RESULTS.mkdir(exist_ok=True)
    out = RESULTS / f"{date.today():%Y-%m-%d}-dashboard-{args.page}.json"
    out.write_text(json.dumps(res, indent=2))
    print(f"written {out}")


if __name__ == "__main__":
    main()
