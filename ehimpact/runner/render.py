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
from typing import Any

from ehimpact.errors import InputError

__all__ = ["to_html", "to_pdf", "find_chromium", "REMOVE_TAGS"]

REMOVE_TAGS = ("parameters", "injected-parameters", "remove-cell")
_EXTERNAL = re.compile(r"<script[^>]+src=[\"']https?://[^>]*>\s*</script>|<link[^>]+href=[\"']https?://[^>]*>",
                       re.IGNORECASE)


def to_html(notebook_path: str | Path | Any, html_path: str | Path, *, watermark: bool = False) -> Path:
    """Export an executed notebook to self-contained HTML with inputs hidden.

    Parameters
    ----------
    notebook_path : path or nbformat.NotebookNode
        The executed notebook, as a file or as the node papermill returned (which saves
        reading and re-validating it).
    html_path : path
    watermark : bool
        Keep the synthetic-data watermark (it is part of the notebook output already; this
        adds a print rule so it repeats on every printed page).

    Returns
    -------
    Path
    """
    import nbformat

    if isinstance(notebook_path, (str, Path)):
        nb = nbformat.read(str(notebook_path), as_version=4)
    else:
        nb = notebook_path  # nbconvert's exporter works on a deep copy
    body, _ = _exporter().from_notebook_node(nb)
    body = _EXTERNAL.sub("", body)
    if watermark:
        body = body.replace("</head>", "<style>@media print { .eh-watermark { position: fixed; } }</style></head>", 1)
    html_path = Path(html_path)
    html_path.write_text(body, encoding="utf-8")
    return html_path


@functools.lru_cache(maxsize=1)
def _exporter():  # noqa: ANN202 - built once per process: Jinja compiles the templates on creation
    from nbconvert.preprocessors import TagRemovePreprocessor
    from traitlets.config import Config

    c = Config()
    c.TagRemovePreprocessor.remove_cell_tags = set(REMOVE_TAGS)
    c.TagRemovePreprocessor.enabled = True
    for cls in ("HTMLExporter", "ReportHTMLExporter"):
        c[cls].exclude_input = True
        c[cls].exclude_input_prompt = True
        c[cls].exclude_output_prompt = True
    exporter = _report_exporter_class()(config=c)
    exporter.register_preprocessor(TagRemovePreprocessor(config=c), enabled=True)
    return exporter


def _report_exporter_class() -> type:
    """nbconvert's ``HTMLExporter`` without its closing BeautifulSoup pass.

    nbconvert 7 (7.17.2 here): ``HTMLExporter.from_notebook_node`` re-parses the finished page
    with BeautifulSoup to give images without ``alt`` a placeholder text and to add
    ``tabindex`` to input and output wrappers.  On a report that pass took two thirds of
    the export (86 of 130 ms, measured on the demo report): it re-parses half a megabyte of
    HTML.  A report needs neither change: every figure carries its caption as ``alt``
    (:func:`ehimpact.report.figures.figure_html`), the inputs are hidden, and the wide
    tables sit in focusable containers (:func:`ehimpact.report.sections.show`).  The rest
    of the method (filters and resources) is nbconvert's, repeated; ``tests/test_render.py``
    checks the page equals nbconvert's own apart from those attributes.
    """
    from nbconvert import HTMLExporter
    from nbconvert.exporters.templateexporter import TemplateExporter
    from nbconvert.filters.highlight import Highlight2HTML
    from nbconvert.filters.widgetsdatatypefilter import WidgetsDataTypeFilter

    class ReportHTMLExporter(HTMLExporter):
        """HTML export of an ehimpact report (see :func:`_report_exporter_class`)."""

        def from_notebook_node(self, nb: Any, resources: Any = None, **kw: Any) -> tuple[str, dict[str, Any]]:
            if not all(hasattr(self, a) for a in ("_init_resources", "_nb_metadata", "register_filter")):
                return super().from_notebook_node(nb, resources, **kw)  # a future nbconvert: its own way
            langinfo = nb.metadata.get("language_info", {})
            lexer = langinfo.get("pygments_lexer", langinfo.get("name", None))
            self.register_filter("highlight_code",
                                 self.filters.get("highlight_code", Highlight2HTML(pygments_lexer=lexer, parent=self)))
            resources = self._init_resources(resources)
            self.register_filter("filter_data_type", WidgetsDataTypeFilter(
                notebook_metadata=self._nb_metadata, parent=self, resources=resources))
            return TemplateExporter.from_notebook_node(self, nb, resources, **kw)

    return ReportHTMLExporter


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
