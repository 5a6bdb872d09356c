"""The batch's index page: every authority, its status, its headline, a forest plot; sortable offline.

:func:`index_html` builds the whole page as one self-contained HTML string: the synthetic
watermark when inputs are synthetic, a small forest plot of the headline estimates (inline
SVG, in the unit the reports use: percentage points for proportions), and a table a user
can sort by clicking a column heading (inline script only, so the page opens offline).
The runner writes it (``runner/batch.py``); nothing here reads or writes files.
"""

from __future__ import annotations

import html
import math
from collections.abc import Mapping, Sequence
from typing import Any

__all__ = ["index_html", "forest_svg", "SORT_SCRIPT"]

#: click a heading to sort by it (again to reverse); numbers sort as numbers (``data-sort``)
SORT_SCRIPT = """
<script>
(function () {
  function key(cell) {
    var v = cell.getAttribute('data-sort');
    if (v === null) { v = cell.textContent.trim(); }
    var n = parseFloat(v);
    return (v !== '' && !isNaN(n) && isFinite(v)) ? n : v.toLowerCase();
  }
  document.querySelectorAll('table.eh-sortable').forEach(function (table) {
    var heads = table.querySelectorAll('thead th');
    heads.forEach(function (th, i) {
      th.setAttribute('tabindex', '0');
      th.setAttribute('role', 'button');
      th.title = 'Sort by this column';
      function sort() {
        var body = table.tBodies[0];
        var rows = Array.prototype.slice.call(body.rows);
        var asc = th.getAttribute('aria-sort') !== 'ascending';
        heads.forEach(function (h) { h.removeAttribute('aria-sort'); });
        th.setAttribute('aria-sort', asc ? 'ascending' : 'descending');
        rows.sort(function (a, b) {
          var x = key(a.cells[i]), y = key(b.cells[i]);
          if (typeof x !== typeof y) { x = String(x); y = String(y); }
          return (x < y ? -1 : x > y ? 1 : 0) * (asc ? 1 : -1);
        });
        rows.forEach(function (r) { body.appendChild(r); });
      }
      th.addEventListener('click', sort);
      th.addEventListener('keydown', function (e) { if (e.key === 'Enter' || e.key === ' ') { e.preventDefault(); sort(); } });
    });
  });
})();
</script>
"""

_CSS = """
<style>
html, body { max-width: 100%; overflow-x: hidden; }
body { font-family: sans-serif; margin: 2em; color: #222; }
.eh-scroll { max-width: 100%; overflow-x: auto; }
table.eh-sortable { border-collapse: collapse; font-size: 0.92em; }
table.eh-sortable caption { text-align: left; padding-bottom: 6px; }
table.eh-sortable td, table.eh-sortable th { padding: 4px 10px; border-bottom: 1px solid #ddd; vertical-align: top;
  text-align: left; }
table.eh-sortable td.num { text-align: right; white-space: nowrap; }
table.eh-sortable th { cursor: pointer; background: #f3f6fa; }
table.eh-sortable th[aria-sort="ascending"]::after { content: " \\25B2"; }
table.eh-sortable th[aria-sort="descending"]::after { content: " \\25BC"; }
.failed { color: #b00; font-weight: bold; }
.eh-forest { max-width: 760px; width: 100%; height: auto; }
.eh-watermark { position: fixed; top: 45%; left: 0; width: 100%; text-align: center; z-index: 9999;
  transform: rotate(-30deg); font-size: 64px; font-weight: bold; color: rgba(200, 0, 0, 0.12);
  pointer-events: none; white-space: nowrap; overflow: hidden; }
.eh-banner { background: #fde8e8; border: 1px solid #d33; padding: 6px 10px; font-weight: bold; }
</style>
"""


def _num(x: Any) -> float:
    try:
        v = float(x)
    except (TypeError, ValueError):
        return float("nan")
    return v


def _scaled(row: Mapping[str, Any]) -> tuple[float, float, float, str]:
    """Estimate, lower, upper in the reports' unit, and the unit's words."""
    scale = row.get("scale")
    e, lo, hi = _num(row.get("estimate")), _num(row.get("ci_lower")), _num(row.get("ci_upper"))
    if scale == "proportion":
        return 100 * e, 100 * lo, 100 * hi, "percentage points"
    if scale == "ratio":
        return e, lo, hi, "rate ratio"
    return e, lo, hi, str(row.get("unit") or "effect")


def _fmt(x: float, unit: str) -> str:
    if not math.isfinite(x):
        return ""
    if unit == "percentage points":
        return f"{x:+.1f} pp"
    if unit == "rate ratio":
        return f"{x:.3f}"
    return f"{x:+,.2f}"


def forest_svg(rows: Sequence[Mapping[str, Any]], *, width: int = 720) -> str:
    """A small forest plot of headline estimates as inline SVG (no script, no external file).

    Parameters
    ----------
    rows : sequence of dict
        ``authority_name`` (or ``authority_code``), ``estimate``, ``ci_lower``, ``ci_upper``
        and ``scale`` (``"proportion"`` is drawn in percentage points).  Rows without a
        finite estimate are left out; when the rows mix units, only the commonest unit is drawn.
    width : int
        Width of the drawing in SVG units (it scales to the page: ``width:100%``).

    Returns
    -------
    str
        ``<svg>`` markup, or an empty string when there is nothing to draw.
    """
    pts = []
    for r in rows:
        e, lo, hi, unit = _scaled(r)
        if math.isfinite(e):
            pts.append((str(r.get("authority_name") or r.get("authority_code") or ""), e, lo, hi, unit))
    if not pts:
        return ""
    units = [p[4] for p in pts]
    unit = max(set(units), key=units.count)
    pts = [p for p in pts if p[4] == unit]
    null = 1.0 if unit == "rate ratio" else 0.0
    vals = [v for p in pts for v in p[1:4] if math.isfinite(v)] + [null]
    lo_v, hi_v = min(vals), max(vals)
    pad = (hi_v - lo_v) * 0.05 or 1.0
    lo_v, hi_v = lo_v - pad, hi_v + pad
    left, right, top, row_h = 200, 20, 16, 18
    height = top + row_h * len(pts) + 40
    plot_w = width - left - right

    def x(v: float) -> float:
        return left + (v - lo_v) / (hi_v - lo_v) * plot_w

    out = [f'<svg class="eh-forest" viewBox="0 0 {width} {height}" role="img" '
           f'aria-label="Headline estimates by authority with 95% confidence intervals ({html.escape(unit)})" '
           'xmlns="http://www.w3.org/2000/svg" font-family="sans-serif" font-size="11">']
    out.append(f'<line x1="{x(null):.1f}" y1="{top - 6}" x2="{x(null):.1f}" y2="{top + row_h * len(pts)}" '
               'stroke="#888" stroke-dasharray="4 3"/>')
    for i, (name, e, lo, hi, _) in enumerate(pts):
        y = top + row_h * i + row_h / 2
        out.append(f'<text x="{left - 8}" y="{y + 4:.1f}" text-anchor="end">{html.escape(name[:32])}</text>')
        if math.isfinite(lo) and math.isfinite(hi):
            out.append(f'<line x1="{x(lo):.1f}" y1="{y:.1f}" x2="{x(hi):.1f}" y2="{y:.1f}" stroke="#1f4e79" '
                       'stroke-width="2"/>')
        out.append(f'<circle cx="{x(e):.1f}" cy="{y:.1f}" r="3.5" fill="#1f4e79"/>')
    base = top + row_h * len(pts) + 6
    out.append(f'<line x1="{left}" y1="{base}" x2="{left + plot_w}" y2="{base}" stroke="#444"/>')
    for t in (lo_v + pad, null, hi_v - pad):
        out.append(f'<text x="{x(t):.1f}" y="{base + 14}" text-anchor="middle">{html.escape(_fmt(t, unit))}</text>')
    out.append(f'<text x="{left + plot_w / 2:.1f}" y="{base + 30}" text-anchor="middle">'
               f'{html.escape(unit)} (dashed line: no effect)</text>')
    out.append("</svg>")
    return "".join(out)


def index_html(rows: Sequence[Mapping[str, Any]], *, synthetic: bool, title: str = "ehimpact batch",
               intro: str = "", regional_href: str | None = None, summary_href: str | None = "summary.csv") -> str:
    """The batch index page as one self-contained HTML string.

    Parameters
    ----------
    rows : sequence of dict
        One per authority and evaluation: ``authority_code``, ``authority_name``,
        ``evaluation``, ``status`` (``"ok"``, ``"failed"``, ``"skipped"`` ...), ``error``,
        ``report_href`` (relative link to the report, or None), ``earlier_href`` (a kept
        earlier report of a failed rerun, or None), and the headline from results.json:
        ``estimate``, ``ci_lower``, ``ci_upper``, ``pvalue``, ``scale``, ``unit``,
        ``outcome``, ``summary``.  Missing keys are blank.
    synthetic : bool
        Inputs were synthetic: the page carries the watermark and a banner.
    title : str
        Page heading (escaped).
    intro : str
        A sentence under the heading (plain text, escaped): counts of runs, wall time.
    regional_href : str, optional
        Link to the regional summary page.
    summary_href : str, optional
        Link to summary.csv.

    Returns
    -------
    str
        A complete HTML document; its only script is inline (it opens offline).
    """
    from ehimpact.report.labels import fmt_p, label

    esc = html.escape
    body_rows = []
    for r in rows:
        status = str(r.get("status") or "")
        failed = status == "failed"
        e, lo, hi, unit = _scaled(r)
        report = r.get("report_href")
        if failed:
            kept = f' · <a href="{esc(str(r["earlier_href"]))}">earlier report (kept)</a>' \
                if r.get("earlier_href") else ""
            result = f'{esc(str(r.get("error") or ""))}{kept}'
        else:
            link = f'<a href="{esc(str(report))}">report</a> · ' if report else ""
            result = link + esc(str(r.get("summary") or "no headline estimate"))
        ci = f"{_fmt(lo, unit)} to {_fmt(hi, unit)}" if math.isfinite(lo) and math.isfinite(hi) else ""
        body_rows.append(
            "<tr>"
            f"<td>{esc(str(r.get('authority_code') or ''))}</td>"
            f"<td>{esc(str(r.get('authority_name') or r.get('authority_code') or ''))}</td>"
            f"<td>{esc(str(r.get('evaluation') or ''))}</td>"
            f'<td class="{"failed" if failed else ""}">{esc(status)}</td>'
            f"<td>{esc(label(r['outcome'])) if r.get('outcome') else ''}</td>"
            f'<td class="num" data-sort="{e if math.isfinite(e) else ""}">{esc(_fmt(e, unit))}</td>'
            f'<td class="num" data-sort="{lo if math.isfinite(lo) else ""}">{esc(ci)}</td>'
            f'<td class="num" data-sort="{_num(r.get("pvalue")) if math.isfinite(_num(r.get("pvalue"))) else ""}">'
            f"{esc(fmt_p(r.get('pvalue')))}</td>"
            f"<td>{result}</td></tr>")
    n_failed = sum(str(r.get("status")) == "failed" for r in rows)
    shown = [r for r in rows if str(r.get("status")) != "failed"]
    forest = forest_svg(shown)
    outcomes = {r.get("outcome") for r in shown if r.get("outcome")}
    forest_title = "Headline estimates" + (f": {label(next(iter(outcomes)))}" if len(outcomes) == 1 else "")
    forest_title += " (95% confidence intervals)"
    wm = ('<div class="eh-watermark" aria-hidden="true">SYNTHETIC DATA</div>'
          '<p class="eh-banner">SYNTHETIC DATA: generated to demonstrate the method; describes no real children or '
          "families.</p>") if synthetic else ""
    links = []
    if regional_href:
        links.append(f'<a href="{esc(regional_href)}">Regional summary</a>')
    if summary_href:
        links.append(f'Machine-readable: <a href="{esc(summary_href)}">{esc(summary_href)}</a>')
    return f"""<!doctype html><html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1"><title>{esc(title)}</title>{_CSS}</head><body>
{wm}<h1>{esc(title)}</h1>
<p>{esc(intro) if intro else f"{len(rows)} runs: {len(rows) - n_failed} succeeded or unchanged, {n_failed} failed."}</p>
<p>{' · '.join(links)}</p>
{f'<h2>{esc(forest_title)}</h2>' + forest if forest else ''}
<div class="eh-scroll" tabindex="0" role="region" aria-label="Authorities">
<table class="eh-sortable"><caption><strong>Authorities in this batch.</strong> One row per authority and evaluation;
click a heading to sort.</caption>
<thead><tr><th>Code</th><th>Authority</th><th>Evaluation</th><th>Status</th><th>Outcome</th><th>Estimate</th>
<th>95% CI</th><th>p-value</th><th>Result</th></tr></thead>
<tbody>{''.join(body_rows)}</tbody></table></div>
{SORT_SCRIPT}</body></html>"""
