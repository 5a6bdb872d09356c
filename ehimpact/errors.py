"""Errors a user can cause.

Every mistake a user can make (a missing column, a wrong type, a bad config key,
a design the data cannot support) raises :class:`InputError`, whose message names
the field, the rows and the fix.  Anything else escaping the library is a bug.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

__all__ = ["InputError", "format_rows"]


def format_rows(rows: Iterable[Any], limit: int = 10) -> str:
    """Render row labels for a message: ``"3, 7, 12 and 40 more"``.

    Parameters
    ----------
    rows : iterable
        Row labels (index values or 1-based line numbers).
    limit : int, default 10
        How many to show before summarising the rest.

    Returns
    -------
    str
        A short, human-readable list.

    Examples
    --------
    >>> format_rows(range(1, 15), limit=3)
    '1, 2, 3 and 11 more'
    """
    rows = list(rows)
    shown = ", ".join(str(r) for r in rows[:limit])
    extra = len(rows) - limit
    return f"{shown} and {extra} more" if extra > 0 else shown


class InputError(ValueError):
    """A problem with the user's data, arguments or configuration.

    Parameters
    ----------
    message : str
        What is wrong, in plain words.
    field : str, optional
        The column, argument or config key at fault.
    rows : sequence, optional
        Row labels (or line numbers) where the problem occurs.
    fix : str, optional
        What the user should do about it.
    problems : pandas.DataFrame, optional
        For reports of several problems at once (e.g. data validation): one row per
        problem with columns ``field, rows, problem, fix``.

    Examples
    --------
    >>> err = InputError("column is missing", field="outcome", fix="add it or rename a column")
    >>> str(err)
    "outcome: column is missing. Fix: add it or rename a column."
    """

    def __init__(
        self,
        message: str,
        *,
        field: str | None = None,
        rows: Sequence[Any] | None = None,
        fix: str | None = None,
        problems: Any = None,
    ) -> None:
        self.message = message
        self.field = field
        self.rows = list(rows) if rows is not None else None
        self.fix = fix
        self.problems = problems
        super().__init__(self._compose())

    def _compose(self) -> str:
        text = f"{self.field}: {self.message}" if self.field else self.message
        if self.rows:
            text += f" (rows {format_rows(self.rows)})"
        if self.fix:
            text = text.rstrip(".") + f". Fix: {self.fix.rstrip('.')}."
        return text
