"""Rendering: self-contained offline HTML with code hidden; PDF through a local Chromium or a clear message."""

from __future__ import annotations

import re

import nbformat
import pytest

from ehimpact import InputError
from ehimpact.runner import render


def _notebook(path):
    nb = nbformat.v4.new_notebook()
    p = nbformat.v4.new_code_cell("secret_parameter = 'do-not-show'")
    p.metadata["tags"] = ["parameters"]
    code = nbformat.v4.new_code_cell("print('hidden code')")
    code.outputs = [nbformat.v4.new_output("display_data", data={"text/html": "<p>visible result</p>"})]
    nb.cells = [nbformat.v4.new_markdown_cell("# Title"), p, code]
    nbformat.write(nb, str(path))
    return path


def test_html_is_offline_and_hides_code(tmp_path):
    html = render.to_html(_notebook(tmp_path / "r.ipynb"), tmp_path / "r.html", watermark=True).read_text()
    assert "visible result" in html and "Title" in html
    assert "hidden code" not in html and "do-not-show" not in html
    assert not re.search(r"<script[^>]+src=[\"']https?://", html)
    assert not re.search(r"<link[^>]+href=[\"']https?://", html)
    assert html.rstrip().endswith("</html>")


def test_pdf_with_chromium_or_a_clear_message(tmp_path, monkeypatch):
    html = render.to_html(_notebook(tmp_path / "r.ipynb"), tmp_path / "r.html")
    if render.find_chromium() is not None:
        pdf = render.to_pdf(html, tmp_path / "r.pdf")
        assert pdf.read_bytes()[:4] == b"%PDF"
    monkeypatch.setattr(render, "find_chromium", lambda: None)
    with pytest.raises(InputError, match="apt-get install chromium"):
        render.to_pdf(html, tmp_path / "x.pdf")


def _report_like_notebook(path):
    """A notebook with what a report holds: markdown, HTML tables, an SVG figure with alt text, a plain image."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from ehimpact.report.figures import figure_html

    fig, ax = plt.subplots()
    ax.plot([1, 2, 3], label="line")
    ax.legend()
    figure = figure_html(fig, "A line, rising")
    plt.close(fig)
    nb = nbformat.read(_notebook(path), as_version=4)
    cell = nbformat.v4.new_code_cell("show(section)")
    cell.outputs = [
        nbformat.v4.new_output("display_data", data={"text/markdown": "## 1. Heading\n\n*prompt* and **bold** text"}),
        nbformat.v4.new_output("display_data", data={"text/html": '<div tabindex="0"><table><tr><td>1,234</td>'
                                                                  "</tr></table></div>"}),
        nbformat.v4.new_output("display_data", data={"text/html": figure}),
        nbformat.v4.new_output("stream", name="stdout", text="a printed line\n"),
    ]
    nb.cells.append(cell)
    nbformat.write(nb, str(path))
    return nb


def test_report_exporter_equals_nbconvert_but_for_the_accessibility_pass(tmp_path):
    """The exporter skips nbconvert's BeautifulSoup pass (alt placeholders, tabindex); nothing else changes."""
    from bs4 import BeautifulSoup
    from nbconvert import HTMLExporter

    nb = _report_like_notebook(tmp_path / "r.ipynb")
    ours = render.to_html(nb, tmp_path / "ours.html").read_text()
    config = render._exporter().config
    stock = HTMLExporter(config=config)
    stock.register_preprocessor(render._exporter()._preprocessors[-1], enabled=True)
    theirs, _ = stock.from_notebook_node(nb)
    theirs = render._EXTERNAL.sub("", theirs)

    def normal(html: str) -> str:
        soup = BeautifulSoup(html, features="html.parser")
        for el in soup.select("[tabindex]"):
            if "jp-OutputArea-output" in el.get("class", []) or "jp-Cell-inputWrapper" in el.get("class", []):
                del el["tabindex"]
        return str(soup)

    assert normal(ours) == normal(theirs)
    assert 'alt="A line, rising"' in ours and "No description has been provided" not in ours
    assert "a printed line" in ours and "<strong>bold</strong>" in ours and "1,234" in ours
