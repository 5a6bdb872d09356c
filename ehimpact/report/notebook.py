"""What the notebooks call: start an evaluation, show sections, finish.

Kept tiny so the notebooks stay narrative: every number comes from
:class:`~ehimpact.report.evaluation.Evaluation`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

__all__ = ["start", "finish", "WATERMARK_CSS"]

WATERMARK_CSS = """
<style>
.eh-watermark { position: fixed; top: 45%; left: 0; width: 100%; text-align: center; z-index: 9999;
  transform: rotate(-30deg); font-size: 64px; font-weight: bold; color: rgba(200, 0, 0, 0.12);
  pointer-events: none; font-family: sans-serif; }
.eh-banner { background: #fde8e8; border: 1px solid #d33; padding: 6px 10px; font-weight: bold; }
.eh-table { border-collapse: collapse; font-size: 0.9em; }
.eh-table td, .eh-table th { padding: 3px 8px; border-bottom: 1px solid #ddd; text-align: right; }
</style>
<div class="eh-watermark">SYNTHETIC DATA</div>
"""


def start(config_path: str, authority: str = "") -> Any:
    """Load the config and data, show the title (and the synthetic watermark); return the Evaluation."""
    from IPython.display import HTML, Markdown, display

    from ehimpact.report.evaluation import Evaluation
    from ehimpact.runner.config import load_config

    cfg, base = load_config(config_path, authority=authority or None)
    ev = Evaluation(cfg.evaluation, authority=authority or None, base_dir=base)
    display(Markdown(f"# {cfg.evaluation.title}\n\n**{ev.authority_name}** ({ev.authority}) · "
                     f"evaluation `{cfg.evaluation.name}`"))
    if ev.synthetic:
        display(HTML(WATERMARK_CSS + '<p class="eh-banner">SYNTHETIC DATA: this report demonstrates the method '
                     'on generated data and describes no real children or families.</p>'))
    return ev


def finish(evaluation: Any, results_path: str, parameters: dict[str, Any] | None = None) -> Path:
    """Write ``results.json`` and say where it went."""
    from IPython.display import Markdown, display

    from ehimpact.report.results_io import write_results

    path = write_results(evaluation, results_path, parameters=parameters)
    display(Markdown(f"*Machine-readable results written to `{Path(path).name}`.*"))
    return path


def regional_title(summary: Any) -> None:
    """Title of the regional summary (and the synthetic watermark)."""
    from IPython.display import HTML, Markdown, display

    display(Markdown(f"# Regional summary: {summary.run_dir.name}\n\n"
                     f"{len(summary.results)} authorities with results, {len(summary.failed)} failed."))
    if summary.synthetic:
        display(HTML(WATERMARK_CSS + '<p class="eh-banner">SYNTHETIC DATA: generated to demonstrate the method; '
                     'describes no real children or families.</p>'))
