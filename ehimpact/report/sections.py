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

__all__ = ["Section", "show", "NotAvailable", "table_html", "box_html", "section_html"]


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
    #: what one row of each table is ("One row per age band"), by caption
    rows: dict[str, str] = field(default_factory=dict)
    #: a boxed list shown after the text (step 9: the assumptions box)
    box_title: str = ""
    box: list[str] = field(default_factory=list)

    def say(self, text: str) -> None:
        """Add a paragraph (Markdown)."""
        self.paragraphs.append(text)

    def boxed(self, item: str, title: str = "Assumptions") -> None:
        """Add an item to the section's box (listed once, in one place)."""
        self.box_title = self.box_title or title
        if item not in self.box:
            self.box.append(item)

    @property
    def heading(self) -> str:
        """``"Summary"`` for the summary page (number 0), else ``"N. Title"``."""
        return self.title if self.number == 0 else f"{self.number}. {self.title}"

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe record of the section (tables are already disclosure-controlled)."""
        return {
            "number": self.number,
            "title": self.title,
            "paragraphs": self.paragraphs,
            "tables": [self.records.get(c) or {"name": c, "disclosed": True, "count_columns": [],
                                               "data": json_safe(t)} for c, t in self.tables],
            "estimates": {k: v.to_dict() for k, v in self.estimates.items()},
            "rows": dict(self.rows),
            "box": {"title": self.box_title, "items": list(self.box)} if self.box else None,
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


def show(section: Section, *, heading: bool = True) -> None:
    """Display a section in a notebook: heading, prompt, text, tables, figures.

    The heading, prompt and paragraphs go out as one Markdown output, and each table or
    figure as one HTML output with its caption, so a report has a few dozen outputs rather
    than a hundred (each output costs time in papermill and nbconvert).

    Parameters
    ----------
    section : Section
    heading : bool, default True
        Show the step's heading and prompt.  The ten-step template holds them in its own
        Markdown cells (tagged ``step-N``, which the runner fills from the config's ``steps:``),
        so it passes ``heading=False``.
    """
    import html

    from IPython.display import HTML, Markdown, display

    if section.number == 0:
        display(HTML(section_html(section)))
        return
    text = [f"## {section.heading}"] if heading else []
    if heading and section.prompt:
        text.append(f"*{section.prompt}*")
    if text or section.paragraphs:
        display(Markdown("\n\n".join(text + list(section.paragraphs))))
    if section.box:
        display(HTML(box_html(section.box_title, section.box)))
    for caption, table in section.tables:
        display(HTML(table_html(caption, table, section.rows.get(caption, ""))))
    if not section.figures:
        return
    import matplotlib.pyplot as plt

    from ehimpact.report.figures import figure_html

    for caption, fig in section.figures:
        # drawn once, as SVG, with the caption as its alternative text
        display(HTML(f"<p><strong>{html.escape(caption)}</strong></p>{figure_html(fig, caption)}"))
        plt.close(fig)


def table_html(caption: str, table: pd.DataFrame, row: str = "") -> str:
    """A table in its own scrolling box, with a caption saying what it shows and what a row is.

    Parameters
    ----------
    caption : str
    table : DataFrame
        Already disclosure-controlled and labelled.
    row : str
        What one row is (``"One row per age band"``).

    Returns
    -------
    str
        HTML: ``<div class="eh-scroll"><table><caption>...``; a wide table scrolls inside
        its box (keyboard users reach it through ``tabindex``), the page does not.
    """
    import html

    cap = f"<caption><strong>{html.escape(caption)}</strong>"
    if row:
        cap += f' <span class="eh-row">{html.escape(row)}</span>'
    cap += "</caption>"
    head = "".join(f'<th scope="col">{html.escape(str(c))}</th>' for c in table.columns)
    rows = []
    for values in table.itertuples(index=False, name=None):
        cells = []
        for v in values:
            text = _cell_text(v)
            cls = ' class="num"' if _NUMERIC.match(text) else ""
            cells.append(f"<td{cls}>{html.escape(text)}</td>")
        rows.append("<tr>" + "".join(cells) + "</tr>")
    body = (f'<table class="eh-table">{cap}<thead><tr>{head}</tr></thead>'
            f'<tbody>{"".join(rows)}</tbody></table>')
    return f'<div class="eh-scroll" tabindex="0" role="region" aria-label="{html.escape(caption)}">{body}</div>'


_NUMERIC = __import__("re").compile(r"^(?:[-+]?£?[\d.,]+(?:k|m|bn)?%?(?: pp)?|< 0\.001|c|z|:|x|k|u|yes|no)$")


def _cell_text(v: Any) -> str:
    if v is None:
        return ""
    if isinstance(v, float):
        return format_number(v)
    return str(v)


def box_html(title: str, items: list[str]) -> str:
    """A boxed list (the assumptions box)."""
    import html

    lis = "".join(f"<li>{html.escape(i)}</li>" for i in items)
    return f'<div class="eh-box"><p><strong>{html.escape(title)}</strong></p><ul>{lis}</ul></div>'


def section_html(section: Section) -> str:
    """The summary page as one HTML block (a page of its own when printed)."""
    import html
    import re

    def md(text: str) -> str:  # the summary's few Markdown marks: **bold** and *italic*
        t = html.escape(text)
        t = re.sub(r"\*\*(.+?)\*\*", r"<strong>\1</strong>", t)
        return re.sub(r"(?<![*\w])\*(?!\s)(.+?)\*(?!\w)", r"<em>\1</em>", t)

    parts = [f'<section class="eh-summary"><h2>{html.escape(section.heading)}</h2>']
    if section.prompt:
        parts.append(f"<p><em>{html.escape(section.prompt)}</em></p>")
    for para in section.paragraphs:
        lines = para.split("\n")
        items = [ln[2:] for ln in lines[1:] if ln.startswith("- ")]
        if items and len(items) == len(lines) - 1:  # "**Heading.**\n- item\n- item"
            lis = "".join(f"<li>{md(i)}</li>" for i in items)
            parts.append(f"<p>{md(lines[0])}</p><ul>{lis}</ul>")
        else:
            parts.append(f"<p>{md(para)}</p>")
    if section.box:
        parts.append(box_html(section.box_title, section.box))
    for caption, table in section.tables:
        parts.append(table_html(caption, table, section.rows.get(caption, "")))
    parts.append("</section>")
    return "".join(parts)
