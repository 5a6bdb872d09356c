"""Nothing is wider than the page: report, index and regional summary in a real browser (issue 13).

Headless Debian Chromium (package ``chromium``) loads each page at 1280 px with an inline
script appended that measures the page (``document.documentElement.scrollWidth``) and
every element whose right edge passes the viewport without an ancestor that scrolls or
clips it; ``--dump-dom`` returns the DOM with the measurement written into it.  The report
is printed to PDF through Chromium (A4, as a councillor prints it): the test checks the
page count and that the summary is on page 1 (``pdfinfo``/``pdftotext`` from Debian's
``poppler-utils``).  Dependency-free apart from those two packages; the test skips with a
message when they are missing (``.ci/run`` installs both).

Screenshots (``EH_SCREENS=/some/folder``): the summary page and a full report at 1280 px,
the index page, and the PDF's pages as PNG (``pdftoppm``).
"""

from __future__ import annotations

import html
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from html.parser import HTMLParser
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = next((shutil.which(n) for n in ("chromium", "chromium-browser") if shutil.which(n)), None)
POPPLER = shutil.which("pdftotext") and shutil.which("pdfinfo")
WIDTH = 1280

pytestmark = [
    pytest.mark.notebook,
    pytest.mark.skipif(CHROMIUM is None, reason="headless Chromium is not installed "
                                                "(Debian: apt-get install -y chromium); layout not checked"),
]

FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run", "--hide-scrollbars",
         "--disable-extensions", "--mute-audio"]

#: appended to a copy of the page: measures overflow after layout and writes it into the DOM
MEASURE = """
<script>
(function () {
  function clipped(el) {
    for (var p = el.parentElement; p && p !== document.body; p = p.parentElement) {
      var s = getComputedStyle(p);
      if (/(auto|scroll|hidden|clip)/.test(s.overflowX)) { return true; }
    }
    return false;
  }
  function measure() {
    var vw = document.documentElement.clientWidth, bad = [];
    document.querySelectorAll('body *').forEach(function (el) {
      var s = getComputedStyle(el);
      if (s.position === 'fixed' || el.closest('.eh-watermark') || s.display === 'none') { return; }
      var r = el.getBoundingClientRect();
      if (r.width > 0 && r.right > vw + 1 && !clipped(el)) {
        bad.push((el.tagName + '.' + (el.className || '')).slice(0, 60) + ' right=' + Math.round(r.right));
      }
    });
    var out = {scrollWidth: document.documentElement.scrollWidth, clientWidth: vw,
               bodyScrollWidth: document.body.scrollWidth, height: document.documentElement.scrollHeight,
               overflowing: bad.slice(0, 20), n_overflowing: bad.length};
    var pre = document.createElement('pre');
    pre.id = 'eh-measure';
    var mark = 'EH' + 'MEASURE';  // split, so the script's own text does not match
    pre.textContent = mark + JSON.stringify(out) + mark;
    document.body.appendChild(pre);
  }
  if (document.readyState === 'complete') { measure(); } else { window.addEventListener('load', measure); }
})();
</script>
"""


def _run(args: list[str], *, timeout: float = 120) -> subprocess.CompletedProcess:
    profile = tempfile.mkdtemp(prefix="eh-chromium-")  # a fresh profile each time
    try:
        return subprocess.run([CHROMIUM, *FLAGS, f"--user-data-dir={profile}", *args], capture_output=True,
                              text=True, timeout=timeout, check=False)
    finally:
        shutil.rmtree(profile, ignore_errors=True)


def measure(page: Path, width: int = WIDTH) -> dict:
    """Load ``page`` at ``width`` px in headless Chromium and return the overflow measurement."""
    copy = page.with_name(f".measure-{page.name}")
    text = page.read_text(encoding="utf-8")
    copy.write_text(text.replace("</body>", MEASURE + "</body>", 1) if "</body>" in text else text + MEASURE,
                    encoding="utf-8")
    try:
        res = _run([f"--window-size={width},900", "--virtual-time-budget=5000", "--dump-dom", copy.as_uri()])
    finally:
        copy.unlink(missing_ok=True)
    found = re.search(r"EHMEASURE(.*?)EHMEASURE", res.stdout, re.DOTALL)
    assert found, f"no measurement from Chromium: {res.stderr[-2000:]}"
    return json.loads(html.unescape(found.group(1)))


def screenshot(page: Path, png: Path, *, width: int = WIDTH, height: int = 1100) -> Path:
    _run([f"--window-size={width},{height}", "--virtual-time-budget=5000", f"--screenshot={png}", page.as_uri()])
    return png


def print_pdf(page: Path, pdf: Path) -> Path:
    res = _run(["--no-pdf-header-footer", "--virtual-time-budget=5000", f"--print-to-pdf={pdf}", page.as_uri()],
               timeout=180)
    assert pdf.exists() and pdf.stat().st_size > 1000, res.stderr[-2000:]
    return pdf


def pdf_pages(pdf: Path) -> int:
    info = subprocess.run(["pdfinfo", str(pdf)], capture_output=True, text=True, check=True).stdout
    return int(re.search(r"^Pages:\s+(\d+)", info, re.MULTILINE).group(1))


def pdf_text(pdf: Path, first: int, last: int) -> str:
    return subprocess.run(["pdftotext", "-f", str(first), "-l", str(last), "-layout", str(pdf), "-"],
                          capture_output=True, text=True, check=True).stdout


class _Cells(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.depth, self.cells, self._buf = 0, [], None

    def handle_starttag(self, tag, attrs):
        if tag == "table" and "eh-table" in (dict(attrs).get("class") or ""):
            self.depth += 1
        elif tag in ("td", "th") and self.depth:
            self._buf = []

    def handle_endtag(self, tag):
        if tag in ("td", "th") and self._buf is not None:
            self.cells.append("".join(self._buf))
            self._buf = None
        elif tag == "table" and self.depth:
            self.depth -= 1

    def handle_data(self, data):
        if self._buf is not None:
            self._buf.append(data)


def table_cells(page: Path) -> list[str]:
    """The text of every cell of the report's tables (``table.eh-table``)."""
    p = _Cells()
    p.feed(page.read_text(encoding="utf-8"))
    return p.cells


def _words(text: str) -> list[str]:
    """Words of a text, split at hyphens too (a printed cell may wrap after one)."""
    return [w for w in (t.strip(".,;:()[]'\"") for t in re.split(r"[\s\-]+", text)) if w]


@pytest.fixture(scope="module")
def batch(tmp_path_factory) -> Path:
    """A small synthetic batch (two authorities): reports, index and regional summary."""
    tmp = tmp_path_factory.mktemp("layout")
    cfg = yaml.safe_load((ROOT / "config" / "demo.yaml").read_text())
    cfg["evaluation"]["data"] = {"synthetic": {"n_authorities": 4, "seed": 5, "children_per_authority": 400}}
    cfg["evaluation"]["costs"]["draws"] = 500
    cfg["batch"] = {"name": "layout", "authorities": ["E06000036", "E06000037"], "timeout_per_notebook": 300}
    cfg["output_dir"] = str(tmp / "out")
    path = tmp / "batch.yaml"
    path.write_text(yaml.safe_dump(cfg))
    res = subprocess.run([sys.executable, "-m", "ehimpact.cli", "batch", str(path), "--workers", "1"],
                         capture_output=True, text=True, timeout=900, env={**os.environ, "MPLBACKEND": "Agg"})
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-3000:]
    return tmp / "out" / "layout"


def _report(batch: Path) -> Path:
    return next(batch.glob("*/family_key_workers/report.html"))


@pytest.mark.slow  # a two-authority batch through Dask and papermill: about 2 minutes on 2 busy cores
@pytest.mark.parametrize("name", ["report", "index", "regional_summary"])
def test_nothing_is_wider_than_the_page_at_1280px(batch, name):
    page = _report(batch) if name == "report" else batch / f"{name}.html"
    m = measure(page)
    assert m["scrollWidth"] <= m["clientWidth"], m
    assert m["n_overflowing"] == 0, m["overflowing"]


@pytest.mark.slow
@pytest.mark.skipif(not POPPLER, reason="poppler-utils (pdfinfo, pdftotext) not installed; PDF not checked")
def test_pdf_has_the_summary_on_page_1_and_a_sane_page_count(batch, tmp_path):
    pdf = print_pdf(_report(batch), tmp_path / "report.pdf")
    n = pdf_pages(pdf)
    assert 6 <= n <= 40, n
    first = pdf_text(pdf, 1, 1)
    assert "Summary" in first and "The answer." in first and "What to do next." in first
    assert "1. Confirm your theory of change" not in first  # the summary is a page of its own
    # nothing clipped in the A4 PDF: every word of every table cell is printed (a table in a scrolling box
    # was cut at the page edge: its right-hand columns were missing from the PDF)
    printed = set(_words(pdf_text(pdf, 1, n)))
    missing = sorted({w for w in _words(" ".join(table_cells(_report(batch)))) if len(w) <= 20} - printed)
    assert not missing, missing[:30]
    out = os.environ.get("EH_SCREENS")
    if out:
        folder = Path(out)
        folder.mkdir(parents=True, exist_ok=True)
        shutil.copy(pdf, folder / "report.pdf")
        if shutil.which("pdftoppm"):
            subprocess.run(["pdftoppm", "-r", "60", "-png", str(pdf), str(folder / "pdf-page")], check=True)


@pytest.mark.slow
def test_screenshots_when_asked(batch):
    out = os.environ.get("EH_SCREENS")
    if not out:
        pytest.skip("set EH_SCREENS=/folder to keep screenshots")
    folder = Path(out)
    folder.mkdir(parents=True, exist_ok=True)
    report = _report(batch)
    screenshot(report, folder / "summary-1280.png", height=1100)
    height = measure(report)["height"]
    screenshot(report, folder / "report-full-1280.png", height=min(int(height) + 50, 16000))
    screenshot(batch / "index.html", folder / "index-1280.png", height=1000)
    screenshot(batch / "regional_summary.html", folder / "regional-1280.png", height=1400)
    assert (folder / "summary-1280.png").exists()


def test_the_checks_can_fail(tmp_path):
    """A wide table outside a scrolling box overflows the page; inside one it is cut off in print."""
    cells = "".join(f"<td>cell{i}value</td>" for i in range(60))
    page = tmp_path / "wide.html"
    page.write_text(f'<!doctype html><html><body><table class="eh-table"><tr>{cells}</tr></table></body></html>')
    m = measure(page)
    assert m["scrollWidth"] > m["clientWidth"] and m["n_overflowing"] > 0
    if POPPLER:
        boxed = tmp_path / "boxed.html"
        boxed.write_text('<!doctype html><html><body><div style="overflow-x:auto">'
                         f'<table class="eh-table"><tr>{cells}</tr></table></div></body></html>')
        assert measure(boxed)["n_overflowing"] == 0  # on screen it scrolls inside its box ...
        pdf = print_pdf(boxed, tmp_path / "boxed.pdf")
        printed = set(_words(pdf_text(pdf, 1, pdf_pages(pdf))))
        assert set(_words(" ".join(table_cells(boxed)))) - printed  # ... but printed, its right side is lost


def test_index_table_sorts_by_clicking_offline(tmp_path):
    """The index's inline script sorts by a clicked heading (numbers as numbers), with no file or network."""
    from ehimpact.report.index_page import index_html

    rows = [{"authority_code": c, "authority_name": n, "evaluation": "e", "status": "ok", "estimate": e,
             "ci_lower": e - 0.05, "ci_upper": e + 0.05, "pvalue": 0.5, "scale": "proportion", "outcome": "x"}
            for c, n, e in (("E1", "Alpha", 0.02), ("E2", "Beta", -0.10), ("E3", "Gamma", -0.01))]
    page = tmp_path / "index.html"
    click = """<script>
    var th = document.querySelectorAll('table.eh-sortable thead th')[5];
    th.click();
    var order = Array.prototype.map.call(document.querySelectorAll('table.eh-sortable tbody tr'),
                                         function (r) { return r.cells[1].textContent; });
    var pre = document.createElement('pre'); pre.id = 'order'; pre.textContent = 'ORDER:' + order.join(',') + ':END';
    document.body.appendChild(pre);
    </script>"""
    page.write_text(index_html(rows, synthetic=False).replace("</body>", click + "</body>"))
    res = _run([f"--window-size={WIDTH},900", "--dump-dom", page.as_uri()])
    assert "ORDER:Beta,Gamma,Alpha:END" in res.stdout, res.stdout[-500:]
