"""What the notebooks call: start an evaluation, show sections, finish.

Kept tiny so the notebooks stay narrative: every number comes from
:class:`~ehimpact.report.evaluation.Evaluation`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

__all__ = ["start", "finish", "summary", "table", "step_markdown", "apply_step_titles", "WATERMARK_CSS", "PAGE_CSS"]

#: page style of every report (synthetic or not): nothing wider than the page; a wide table
#: scrolls inside its own box on screen and wraps when printed; the summary is a page of its own
PAGE_CSS = """
<style>
html, body { max-width: 100%; overflow-x: hidden; }
.jp-Notebook, .jp-Cell, .jp-OutputArea, .jp-OutputArea-output, .jp-RenderedHTMLCommon, .jp-RenderedMarkdown {
  max-width: 100%; min-width: 0; box-sizing: border-box; }
.jp-OutputArea-child { display: block; }
.jp-RenderedHTMLCommon { overflow-wrap: break-word; }
.eh-scroll { max-width: 100%; overflow-x: auto; margin: 0.4em 0 1em 0; }
.jp-RenderedHTMLCommon table.eh-table, table.eh-table { border-collapse: collapse; font-size: 0.9em;
  table-layout: auto; margin-left: 0; margin-right: 0; }
.eh-table caption { caption-side: top; text-align: left; padding: 2px 0 6px 0; }
.eh-table caption .eh-row { display: block; font-weight: normal; font-style: italic; color: #444; font-size: 0.95em; }
.jp-RenderedHTMLCommon .eh-table td, .jp-RenderedHTMLCommon .eh-table th, .eh-table td, .eh-table th {
  padding: 3px 8px; border-bottom: 1px solid #ddd; text-align: left; vertical-align: top; }
.jp-RenderedHTMLCommon .eh-table td.num, .eh-table td.num { text-align: right; white-space: nowrap; }
.jp-RenderedHTMLCommon .eh-table td.num:first-child, .eh-table td.num:first-child { text-align: left; }
.jp-RenderedHTMLCommon .eh-table th, .eh-table th { vertical-align: bottom; }
.eh-figure { max-width: 100%; height: auto; }
.eh-box { border: 2px solid #b58900; background: #fdf6e3; padding: 6px 12px; margin: 0.6em 0; }
.eh-box ul { margin: 0.2em 0 0.2em 1.2em; padding: 0; }
.eh-summary { border: 1px solid #1f4e79; padding: 4px 16px 8px 16px; margin: 0.5em 0 1.5em 0; }
.eh-summary h2 { margin-top: 0.4em; }
.eh-summary p { margin: 0.35em 0; }
@media print {
  @page { size: A4; margin: 14mm; }
  .eh-summary { page-break-after: always; break-after: page; border: none; padding: 0; }
  .eh-scroll { overflow: visible; }
  .jp-RenderedHTMLCommon table.eh-table, table.eh-table { table-layout: auto; width: 100%; font-size: 7pt; }
  .jp-RenderedHTMLCommon .eh-table td, .jp-RenderedHTMLCommon .eh-table th, .eh-table td, .eh-table th {
    white-space: normal; overflow-wrap: normal; word-break: normal; padding: 2px 4px; }
  .jp-RenderedHTMLCommon { overflow-wrap: break-word; }
  img.eh-figure { page-break-inside: avoid; break-inside: avoid; }
  .eh-watermark { position: fixed; }
}
</style>
"""

WATERMARK_CSS = """
<style>
.eh-watermark { position: fixed; top: 45%; left: 0; width: 100%; text-align: center; z-index: 9999;
  transform: rotate(-30deg); font-size: 64px; font-weight: bold; color: rgba(200, 0, 0, 0.12);
  pointer-events: none; font-family: sans-serif; white-space: nowrap; overflow: hidden; }
.eh-banner { background: #fde8e8; border: 1px solid #d33; padding: 6px 10px; font-weight: bold; }
</style>
<div class="eh-watermark" aria-hidden="true">SYNTHETIC DATA</div>
"""


def start(config_path: str, authority: str = "") -> Any:
    """Load the config and data, show the title (and the synthetic watermark); return the Evaluation."""
    from IPython.display import HTML, Markdown, display

    from ehimpact.config import load_config
    from ehimpact.report.evaluation import Evaluation

    cfg, base = load_config(config_path, authority=authority or None)
    ev = Evaluation(cfg.evaluation, authority=authority or None, base_dir=base)
    display(Markdown(f"# {cfg.evaluation.title}\n\n**{ev.authority_name}** ({ev.authority}) · "
                     f"evaluation `{cfg.evaluation.name}`"))
    display(HTML(PAGE_CSS))
    if ev.synthetic:
        display(HTML(WATERMARK_CSS + '<p class="eh-banner">SYNTHETIC DATA: this report demonstrates the method '
                     'on generated data and describes no real children or families.</p>'))
    return ev


def summary(evaluation: Any) -> None:
    """Show the one-page summary (before step 1)."""
    from ehimpact.report.sections import show

    show(evaluation.summary())


def public_parameters(parameters: dict[str, Any] | None) -> dict[str, Any]:
    """Notebook parameters as results.json records them: file names, never machine paths."""
    out: dict[str, Any] = {}
    for k, v in (parameters or {}).items():
        if isinstance(v, (str, Path)) and (k.endswith("_path") or k.endswith("_dir")) and str(v):
            out[k] = Path(str(v)).name
        else:
            out[k] = v
    return out


def finish(evaluation: Any, results_path: str, parameters: dict[str, Any] | None = None) -> None:
    """Write ``results.json`` and say where it went (by file name: no machine path in the report).

    Returns nothing, so the notebook cell shows no path either.
    """
    from IPython.display import Markdown, display

    from ehimpact.report.results_io import write_results

    path = write_results(evaluation, results_path, parameters=public_parameters(parameters))
    display(Markdown(f"*Machine-readable results written to `{Path(path).name}`.*"))


def regional_title(summary: Any) -> None:
    """Title of the regional summary (and the synthetic watermark)."""
    from IPython.display import HTML, Markdown, display

    display(Markdown(f"# Regional summary: {summary.run_dir.name}\n\n"
                     f"{len(summary.results)} authorities with results, {len(summary.failed)} failed."))
    display(HTML(PAGE_CSS))
    if summary.synthetic:
        display(HTML(WATERMARK_CSS + '<p class="eh-banner">SYNTHETIC DATA: generated to demonstrate the method; '
                     'describes no real children or families.</p>'))


def table(evaluation: Any, caption: str, frame: Any, *, row: str = "", counts: list[str] | None = None) -> Any:
    """Show a table an evaluator's own notebook builds, through the same disclosure control as the report's.

    Parameters
    ----------
    evaluation : Evaluation
    caption : str
        What the table shows.
    frame : DataFrame
        Aggregates only (e.g. :func:`ehimpact.report.evaluation.counts_by`): never child records.
    row : str
        What one row is ("One row per sex and group; counts of children").
    counts : list of str, optional
        Columns that count people (default: columns named like counts).

    Returns
    -------
    DataFrame
        The table as shown (small counts suppressed).
    """
    from IPython.display import HTML, display

    from ehimpact.report.sections import Section, table_html

    holder = Section(number=11, title=caption)
    safe = evaluation.add_table(holder, caption, frame, counts=counts, row=row)
    display(HTML(table_html(caption, safe, row)))
    evaluation.extra_tables[caption] = holder.records.get(caption, {})
    return safe


def step_markdown(number: int, title: str, prompt: str = "") -> str:
    """The Markdown of a step's heading cell in the ten-step template."""
    return f"## {number}. {title}" + (f"\n\n*{prompt}*" if prompt else "")


def apply_step_titles(nb: Any, evaluation_config: Any) -> Any:
    """Fill the template's step headings (Markdown cells tagged ``step-N``) from the config's ``steps:``.

    A cell the evaluator edited by hand keeps its text unless the config renames that step.

    Parameters
    ----------
    nb : nbformat.NotebookNode
    evaluation_config : EvaluationConfig

    Returns
    -------
    nbformat.NotebookNode
        The same notebook, changed in place.
    """
    overrides = getattr(evaluation_config, "steps", {}) or {}
    for cell in nb.cells:
        if cell.get("cell_type") != "markdown":
            continue
        tags = cell.get("metadata", {}).get("tags", [])
        numbers = [int(t.split("-", 1)[1]) for t in tags if t.startswith("step-") and t[5:].isdigit()]
        if numbers and numbers[0] in overrides:
            step = evaluation_config.step(numbers[0])
            cell["source"] = step_markdown(numbers[0], step.title, step.prompt)
    return nb
