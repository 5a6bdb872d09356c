"""Rendering executed notebooks: offline HTML (code hidden) and PDF through a local Chromium.

nbconvert's HTML templates reference require.js and MathJax on a CDN; the report
must open offline, so every external ``<script src>``/``<link href>`` is removed after
export (the report uses no JavaScript and no maths).  Figures are embedded as base64 PNG.
"""

from __future__ import annotations

import functools
import re
import shutil
import subprocess
from pathlib import Path

from ehimpact.errors import InputError

__all__ = ["to_html", "to_pdf", "find_chromium", "REMOVE_TAGS"]

REMOVE_TAGS = ("parameters", "injected-parameters", "remove-cell")
_EXTERNAL = re.compile(r"<script[^>]+src=[\"']https?://[^>]*>\s*</script>|<link[^>]+href=[\"']https?://[^>]*>",
                       re.IGNORECASE)


def to_html(notebook_path: str | Path, html_path: str | Path, *, watermark: bool = False) -> Path:
    """Export an executed notebook to self-contained HTML with inputs hidden.

    Parameters
    ----------
    notebook_path, html_path : path
    watermark : bool
        Keep the synthetic-data watermark (it is part of the notebook output already; this
        adds a print rule so it repeats on every printed page).

    Returns
    -------
    Path
    """
    import nbformat

    nb = nbformat.read(str(notebook_path), as_version=4)
    body, _ = _exporter().from_notebook_node(nb)
    body = _EXTERNAL.sub("", body)
    if watermark:
        body = body.replace("</head>", "<style>@media print { .eh-watermark { position: fixed; } }</style></head>", 1)
    html_path = Path(html_path)
    html_path.write_text(body, encoding="utf-8")
    return html_path


@functools.lru_cache(maxsize=1)
def _exporter():  # noqa: ANN202 - built once per process: Jinja compiles the templates on creation
    from nbconvert import HTMLExporter
    from nbconvert.preprocessors import TagRemovePreprocessor
    from traitlets.config import Config

    c = Config()
    c.TagRemovePreprocessor.remove_cell_tags = set(REMOVE_TAGS)
    c.TagRemovePreprocessor.enabled = True
    c.HTMLExporter.exclude_input = True
    c.HTMLExporter.exclude_input_prompt = True
    c.HTMLExporter.exclude_output_prompt = True
    exporter = HTMLExporter(config=c)
    exporter.register_preprocessor(TagRemovePreprocessor(config=c), enabled=True)
    return exporter


def find_chromium() -> str | None:
    """Path of a locally installed Chromium/Chrome, or None."""
    for name in ("chromium", "chromium-browser", "google-chrome", "chrome"):
        path = shutil.which(name)
        if path:
            return path
    return None


def to_pdf(html_path: str | Path, pdf_path: str | Path, *, timeout: float = 120) -> Path:
    """Print HTML to PDF with headless Chromium (Debian package ``chromium``).

    Raises
    ------
    InputError
        When no Chromium is installed (with the command that installs it).
    """
    chromium = find_chromium()
    if chromium is None:
        raise InputError("PDF output needs a local Chromium, and none was found", field="--pdf",
                         fix="install it (Debian/Ubuntu: sudo apt-get install chromium) or drop --pdf; "
                             "the HTML report is complete without it")
    html_path, pdf_path = Path(html_path).resolve(), Path(pdf_path).resolve()
    cmd = [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
           "--disable-background-networking", "--disable-component-update", "--disable-sync",
           "--no-pdf-header-footer", f"--print-to-pdf={pdf_path}", html_path.as_uri()]
    subprocess.run(cmd, check=True, capture_output=True, timeout=timeout)
    return pdf_path
