"""The one result type of :mod:`ehimpact.costs`: :class:`CostResult`."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

import pandas as pd

from ehimpact.estimators.result import json_safe

if TYPE_CHECKING:
    from matplotlib.axes import Axes

__all__ = ["CostResult", "money", "pct", "money_axis"]


def money(x: float, *, pence: bool = False) -> str:
    """``1234.5`` -> ``"£1,235"`` (``-`` sign before the pound sign); pence for small ratios."""
    if x is None or x != x:
        return "not available"
    sign = "-" if x < 0 else ""
    if pence:
        return f"{sign}£{abs(x):,.2f}"
    ax = abs(x)
    if ax >= 1e6:
        return f"{sign}£{ax / 1e6:,.1f}m"
    return f"{sign}£{ax:,.0f}"


def money_axis(ax: Axes, axis: str = "x") -> Axes:
    """Label an axis in pounds (£120k, £1.5m) instead of scientific notation."""
    from matplotlib.ticker import FuncFormatter

    def fmt(v: float, _pos: int) -> str:
        a = abs(v)
        sign = "-" if v < 0 else ""
        if a >= 1e6:
            return f"{sign}£{a / 1e6:,.1f}m"
        if a >= 1e3:
            return f"{sign}£{a / 1e3:,.0f}k"
        return f"{sign}£{a:,.0f}"

    (ax.xaxis if axis == "x" else ax.yaxis).set_major_formatter(FuncFormatter(fmt))
    return ax


def pct(x: float, digits: int = 0) -> str:
    """``0.781`` -> ``"78%"``."""
    if x is None or x != x:
        return "not available"
    return f"{100 * x:.{digits}f}%"


@dataclass(eq=False)
class CostResult:
    """A costing result: numbers, tables, assumptions and the words to say it in.

    Parameters
    ----------
    kind : str
        ``"value_for_money"``, ``"late_intervention"`` or ``"scorecard"``.
    headline : dict
        The key numbers (JSON-safe scalars).
    tables : dict of str to DataFrame
        Named tables; the first is the main one returned by :meth:`table`.
    assumptions : dict
        Every parameter the numbers rest on (price base, discount schedule, sources ...).
    warnings : list of str
        What a reader must know (UNCONFIRMED inputs, assumptions made for the user).
    synthetic : bool
        True when the inputs were synthetic.
    """

    kind: str
    headline: dict[str, Any]
    tables: dict[str, pd.DataFrame] = field(default_factory=dict)
    assumptions: dict[str, Any] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    synthetic: bool = False

    _kinds: ClassVar[dict[str, type[CostResult]]] = {}

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        CostResult._kinds[cls.__name__] = cls

    # ------------------------------------------------------------------ words
    def headline_text(self) -> str:
        """One or two sentences a councillor can read (subclasses phrase their own)."""
        return "; ".join(f"{k}: {v}" for k, v in self.headline.items())

    def summary(self) -> str:
        """Plain-words summary: the headline, then assumptions that matter and warnings, one per line."""
        lines = [self.headline_text()]
        lines.extend(f"Warning: {w}" for w in self.warnings)
        if self.synthetic:
            lines.append("SYNTHETIC DATA: this result illustrates the method and describes no real children.")
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.summary()

    # ------------------------------------------------------------------ tables and plots
    def table(self, name: str | None = None) -> pd.DataFrame:
        """A named table (default: the main one).

        Parameters
        ----------
        name : str, optional
            One of ``self.tables``; the first when omitted.
        """
        if not self.tables:
            return pd.DataFrame([self.headline])
        if name is None:
            return next(iter(self.tables.values())).copy()
        if name not in self.tables:
            from ehimpact.errors import InputError

            raise InputError(f"no table {name!r}", field="name", fix=f"use one of {sorted(self.tables)}")
        return self.tables[name].copy()

    def plot(self, ax: Axes | None = None, **kwargs: Any) -> Axes:
        """Default plot: a bar per row of the main table's first numeric column."""
        import matplotlib.pyplot as plt

        if ax is None:
            _, ax = plt.subplots(figsize=(7, 3.5))
        df = self.table()
        num = df.select_dtypes("number")
        if not num.empty:
            ax.barh(df.iloc[:, 0].astype(str), num.iloc[:, 0], color="#1f4e79")
        ax.set_title(self.kind.replace("_", " "))
        return ax

    # ------------------------------------------------------------------ serialisation
    def to_dict(self) -> dict[str, Any]:
        """A JSON-safe dictionary: kind, headline, tables (records), assumptions, warnings, summary."""
        return {
            "kind": type(self).__name__,
            "result": self.kind,
            "headline": json_safe(self.headline),
            "tables": {k: json_safe(v) for k, v in self.tables.items()},
            "assumptions": json_safe(self.assumptions),
            "warnings": list(self.warnings),
            "synthetic": bool(self.synthetic),
            "summary": self.summary(),
        }

    def replace(self, **changes: Any) -> CostResult:
        """A copy with some fields changed."""
        return dataclasses.replace(self, **changes)
