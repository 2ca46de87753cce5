"""A manager beyond the page cap waits on a page that asks again by itself, and gets the page once
a slot is free; a tab that goes away without the unload beacon frees its slot.

With ``--max-kernels 1 --disconnect-grace-seconds 2``: manager A opens the page (the one slot),
manager B gets the "busy" page (HTTP 503). A's browser context is closed without running the
page's unload handlers, so no shutdown beacon is sent: the server notices the closed websocket
and shuts A's kernel down 2 s later. B's busy page reloads by itself (every 5-15 s) and shows
the page.
"""

import json
import re
import urllib.request

import duckdb
import nbformat
import pytest

from crmkit import serve

pytestmark = [pytest.mark.browser, pytest.mark.slow]

HELLO = 'print("hello", 6 * 7)'


@pytest.fixture
def hello_root(tmp_path):
    root = tmp_path / "dashboards"
    root.mkdir()
    nb = nbformat.v4.new_notebook(
        cells=[nbformat.v4.new_code_cell(HELLO)],
        metadata={"kernelspec": {"name": "python3", "display_name": "Python 3"}},
    )
    nbformat.write(nb, root / "hello.ipynb")
    published = tmp_path / "published.duckdb"
    duckdb.connect(str(published)).close()
    return root, published


def _connections(server, kernel_id: str) -> int:
    with urllib.request.urlopen(f"{server.url}api/kernels/{kernel_id}", timeout=10) as r:
        return json.load(r)["connections"]


def test_busy_page_retries_until_a_closed_tab_frees_the_slot(
    browser, served, hello_root, wait_for_voila, wait_until
):
    server = served(*hello_root, max_kernels=1, disconnect_grace_seconds=2)
    first = browser.new_context()
    page_a = first.new_page()
    page_a.goto(server.page("hello"))
    wait_for_voila(page_a)
    kernel = re.search(r'"kernelId": "([0-9a-f-]{36})"', page_a.content()).group(1)
    wait_until(lambda: _connections(server, kernel) == 1, 60, message="A's kernel connection")

    second = browser.new_context()
    try:
        page_b = second.new_page()
        answers = []
        page_b.on("response", lambda r: r.url == server.page("hello") and answers.append(r.status))
        assert page_b.goto(server.page("hello")).status == 503
        assert page_b.locator("h1").inner_text() == serve.BUSY_TEXT["zh"]
        assert page_b.locator("h2").inner_text() == serve.BUSY_TEXT["en"]

        first.close()  # no beforeunload handlers: no beacon
        page_b.wait_for_selector("text=hello 42", timeout=90_000)
        assert answers[0] == 503 and answers[-1] == 200
        assert f"Shutting down kernel {kernel}: no page connected for 2 s" in server.log_text()
    finally:
        second.close()
        first.close()
