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
