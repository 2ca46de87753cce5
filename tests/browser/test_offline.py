"""A page with an ipywidgets Button and a plotly FigureWidget draws with nothing but 127.0.0.1.

Voila's stock lab template links Font Awesome from cdn.jsdelivr.net; the crmkit template must
not, and the widget code (ipywidgets from the lab extensions, plotly's FigureWidget through
anywidget) must come from the server. Any request to another host fails the test.
"""

import duckdb
import nbformat
import pytest

pytestmark = pytest.mark.browser

#: Markdown with math: typeset by JupyterLab's MathJax 3 bundled with Voila, not MathJax from cdnjs.
MATH_NOTE = "Share of customers: $p = n / N$"
WIDGETS_PAGE = """\
import ipywidgets as widgets
import plotly.graph_objects as go

button = widgets.Button(description="Refresh", icon="refresh")
fig = go.FigureWidget(
    data=[go.Bar(x=["East", "North", "South"], y=[3, 5, 2], marker_color="#1f77b4")],
    layout={"title": {"text": "Customers by region"}, "width": 640, "height": 400},
)
display(button, fig)
"""


@pytest.fixture
def widgets_root(tmp_path):
    root = tmp_path / "dashboards"
    root.mkdir()
    nb = nbformat.v4.new_notebook(
        cells=[nbformat.v4.new_markdown_cell(MATH_NOTE), nbformat.v4.new_code_cell(WIDGETS_PAGE)],
        metadata={"kernelspec": {"name": "python3", "display_name": "Python 3"}},
    )
    nbformat.write(nb, root / "widgets.ipynb")
    published = tmp_path / "published.duckdb"
    duckdb.connect(str(published)).close()
    return root, published


def test_widget_and_plot_draw_with_only_local_requests(
    served, page, requests_seen, wait_for_voila, screenshot, widgets_root
):
    server = served(*widgets_root)
    page.goto(server.page("widgets"))
    wait_for_voila(page)

    button = page.wait_for_selector("button.jupyter-button", timeout=60_000)
    assert button.inner_text().strip() == "Refresh"
    # the plot drew: three bars in plotly's SVG, and the title
    page.wait_for_selector(".js-plotly-plot .main-svg", timeout=60_000)
    assert page.locator(".js-plotly-plot .bars path").count() == 3
    assert page.locator(".js-plotly-plot .gtitle").text_content() == "Customers by region"
    page.wait_for_selector("mjx-container", timeout=60_000)
    # the page is fully loaded: no request still pending that could go out later
    page.wait_for_load_state("networkidle")
    screenshot(page, "offline_widgets")

    assert requests_seen.urls, "no request recorded"
    assert requests_seen.leaving_localhost() == []
    # Font Awesome comes from Voila's own bundle, not from a CDN
    assert any("/voila/templates/crmkit/static/voila-style.js" in u for u in requests_seen.urls)
