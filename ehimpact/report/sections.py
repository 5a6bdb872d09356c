"""A write-up section: narrative, disclosure-controlled tables, figures and estimates.

Sections are built by :mod:`ehimpact.report.evaluation` and shown by the notebook with
:func:`show`.  Every table passes through disclosure control before it is stored here;
there is no other way to put a table into a section.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from ehimpact.estimators.result import Estimate, json_safe

__all__ = ["Section", "show", "NotAvailable"]


@dataclass
class NotAvailable:
    """Why a part of the report has no numbers (estimator not built, data missing, user error)."""

    what: str
    reason: str
    kind: str = "not_built"  # "not_built" | "input_error"

    def text(self) -> str:
        return f"**{self.what}: not available.** {self.reason}"


@dataclass
class Section:
    """One of the ten steps of the write-up."""

    number: int
    title: str
    prompt: str = ""
    paragraphs: list[str] = field(default_factory=list)
    tables: list[tuple[str, pd.DataFrame]] = field(default_factory=list)
    #: disclosure records (``ehimpact.report.disclosure.table_record``) by caption
    records: dict[str, dict[str, Any]] = field(default_factory=dict)
    figures: list[tuple[str, Any]] = field(default_factory=list)
    estimates: dict[str, Estimate] = field(default_factory=dict)

    def say(self, text: str) -> None:
        """Add a paragraph (Markdown)."""
        self.paragraphs.append(text)

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe record of the section (tables are already disclosure-controlled)."""
        return {
            "number": self.number,
            "title": self.title,
            "paragraphs": self.paragraphs,
            "tables": [self.records.get(c) or {"name": c, "disclosed": True, "count_columns": [],
                                               "data": json_safe(t)} for c, t in self.tables],
            "estimates": {k: v.to_dict() for k, v in self.estimates.items()},
        }


def format_number(x: float) -> str:
    """Numbers as a reader expects: 17,279 not 1.73e+04; 0.0765 not 7.65e-02; tiny p-values in e-notation."""
    if x != x:  # NaN
        return ""
    a = abs(x)
    if a >= 1000:
        return f"{x:,.0f}"
    if a >= 10:
        return f"{x:,.1f}"
    if a >= 0.001 or a == 0:
        return f"{x:.3g}" if a < 1 else f"{x:.2f}"
    return f"{x:.2g}"


def show(section: Section) -> None:
    """Display a section in a notebook: heading, prompt, text, tables, figures.

    The heading, prompt and paragraphs go out as one Markdown output, and each table or
    figure as one HTML output with its caption, so a report has a few dozen outputs rather
    than a hundred (each output costs time in papermill and nbconvert).
    """
    import html

    from IPython.display import HTML, Markdown, display

    text = [f"## {section.number}. {section.title}"]
    if section.prompt:
        text.append(f"*{section.prompt}*")
    display(Markdown("\n\n".join(text + list(section.paragraphs))))
    for caption, table in section.tables:
        body = table.to_html(index=False, na_rep="", float_format=format_number, classes="eh-table", border=0)
        # tabindex: a wide table scrolls sideways, and keyboard users can reach the scroll bar
        display(HTML(f"<p><strong>{html.escape(caption)}</strong></p>"
                     f'<div tabindex="0" style="overflow-x:auto">{body}</div>'))
    if not section.figures:
        return
    import matplotlib.pyplot as plt

    from ehimpact.report.figures import figure_html

    for caption, fig in section.figures:
        # drawn once, as SVG, with the caption as its alternative text
        display(HTML(f"<p><strong>{html.escape(caption)}</strong></p>{figure_html(fig, caption)}"))
        plt.close(fig)
