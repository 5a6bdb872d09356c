"""Price base: a GDP-deflator table and :func:`uprate`.

Unit costs are published in the prices of different years (GMCA's database runs from 2002/03 to
2014/15).  The Green Book (paras 5.11-5.13) asks for real prices in one base year, moved with the GDP
deflator.  :class:`DeflatorTable` holds an index by **financial year** and converts between years.

Years
-----
Financial years are written ``"2013/14"`` (also accepted: ``"2013-14"``, ``"2013/2014"``,
``"2013-2014"``).  An integer ``2013`` means the financial year that *starts* in April 2013, i.e.
``"2013/14"``.  Calendar-year tables are not mixed in: give every price year as a financial year.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ehimpact.costs._data import load_yaml
from ehimpact.errors import InputError

__all__ = ["DeflatorTable", "uprate", "parse_year", "format_year"]

_FY = re.compile(r"^\s*(\d{4})\s*[/-]\s*(\d{2}|\d{4})\s*$")
_YEAR = re.compile(r"^\s*(\d{4})\s*$")


def parse_year(year: Any, *, field: str = "year") -> int:
    """The starting calendar year of a financial year.

    Parameters
    ----------
    year : int or str
        ``2013``, ``"2013"``, ``"2013/14"``, ``"2013-14"`` or ``"2013/2014"``.
    field : str
        Argument or config key named in the error message.

    Returns
    -------
    int
        ``2013`` for all the examples above.

    Examples
    --------
    >>> parse_year("2013/14"), parse_year(2013), parse_year("2013-2014")
    (2013, 2013, 2013)
    """
    if isinstance(year, bool):
        raise InputError(f"{year!r} is not a year", field=field, fix='give a financial year such as "2013/14"')
    if isinstance(year, (int, np.integer)):
        return int(year)
    if isinstance(year, (float, np.floating)) and float(year).is_integer():
        return int(year)
    if isinstance(year, str):
        m = _FY.match(year)
        if m:
            start, end = int(m.group(1)), m.group(2)
            end_full = int(end) if len(end) == 4 else (start // 100) * 100 + int(end)
            if len(end) == 2 and end_full <= start:  # e.g. 1999/00
                end_full += 100
            if end_full != start + 1:
                raise InputError(f"{year!r} is not a financial year (the second year must follow the first)",
                                 field=field, fix='write it as "2013/14"')
            return start
        m = _YEAR.match(year)
        if m:
            return int(m.group(1))
    raise InputError(f"{year!r} is not a year", field=field,
                     fix='give a financial year such as "2013/14" or the year it starts in, e.g. 2013')


def format_year(start: int) -> str:
    """``2013`` -> ``"2013/14"``."""
    return f"{start}/{(start + 1) % 100:02d}"


@dataclass(frozen=True)
class DeflatorTable:
    """A GDP-deflator index by financial year.

    Parameters
    ----------
    index : mapping of int to float
        Starting year of each financial year -> index value (any base).
    source, vintage : str
        Where the numbers come from and which release.
    unverified : str, optional
        What could not be checked, repeated in every output that uses the table.

    Examples
    --------
    >>> t = DeflatorTable.default()
    >>> round(t.factor("2013/14", "2022/23"), 4)
    1.2413
    """

    index: Mapping[int, float]
    source: str = "user supplied"
    vintage: str = "unknown"
    unverified: str | None = None
    name: str = "GDP deflator"
    _years: np.ndarray = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        clean = {}
        for k, v in self.index.items():
            y = parse_year(k, field="deflator year")
            try:
                val = float(v)
            except (TypeError, ValueError):
                raise InputError(f"index for {format_year(y)} is {v!r}, not a number",
                                 field="deflator index", fix="give a positive number for every year") from None
            if not np.isfinite(val) or val <= 0:
                raise InputError(f"index for {format_year(y)} is {v!r}", field="deflator index",
                                 fix="every index value must be a positive number")
            if y in clean:
                raise InputError(f"year {format_year(y)} appears twice", field="deflator year",
                                 fix="keep one row per financial year")
            clean[y] = val
        if not clean:
            raise InputError("the deflator table is empty", field="deflator", fix="give at least two years")
        object.__setattr__(self, "index", dict(sorted(clean.items())))
        object.__setattr__(self, "_years", np.array(sorted(clean)))

    # ------------------------------------------------------------------ construction
    @classmethod
    def default(cls) -> DeflatorTable:
        """The shipped table: ONS YBGB financial-year means (see ``data/gdp_deflators.yaml``)."""
        spec = load_yaml("gdp_deflators.yaml")
        return cls(index=spec["financial_years"], source=spec["source"].strip(), vintage=str(spec["vintage"]),
                   unverified=spec.get("unverified"), name=spec.get("name", "GDP deflator"))

    @classmethod
    def from_csv(cls, path: str | Path, *, source: str | None = None, vintage: str | None = None) -> DeflatorTable:
        """Read a user table with columns ``year`` and ``index``.

        Parameters
        ----------
        path : str or Path
            CSV file; ``year`` as ``"2024/25"`` or ``2024``, ``index`` a positive number.
        source, vintage : str, optional
            Recorded in outputs; default to the file name.
        """
        p = Path(path)
        if not p.exists():
            raise InputError(f"file {str(p)!r} does not exist", field="deflator_csv",
                             fix="give the path of a CSV with columns year,index")
        df = pd.read_csv(p, dtype={"year": str})
        missing = [c for c in ("year", "index") if c not in df.columns]
        if missing:
            raise InputError(f"column(s) {missing} missing from {p.name}", field="deflator_csv",
                             fix="the file needs columns year,index")
        bad = df.index[pd.to_numeric(df["index"], errors="coerce").isna()].tolist()
        if bad:
            raise InputError("index is blank or not a number", field="deflator_csv", rows=[r + 2 for r in bad],
                             fix="give a positive number on every line (line numbers count the header as 1)")
        return cls(index=dict(zip(df["year"], df["index"], strict=True)), source=source or f"user file {p.name}",
                   vintage=vintage or "user supplied")

    @classmethod
    def from_growth(cls, base_year: Any, rates: list[float] | np.ndarray, *, base_index: float = 100.0,
                    source: str = "constant growth rates") -> DeflatorTable:
        """A table grown from ``base_year`` at the given annual inflation rates (e.g. OBR forecasts).

        Examples
        --------
        >>> DeflatorTable.from_growth(2024, [0.02]).index
        {2024: 100.0, 2025: 102.0}
        """
        start = parse_year(base_year, field="base_year")
        levels = base_index * np.cumprod(np.concatenate([[1.0], 1.0 + np.asarray(rates, dtype=float)]))
        return cls(index={start + i: float(v) for i, v in enumerate(levels)}, source=source, vintage="n/a")

    def extend(self, rates: list[float] | np.ndarray, *, source: str = "forecast growth rates") -> DeflatorTable:
        """Append years after the last one, grown at ``rates`` (e.g. OBR deflator forecasts)."""
        last = int(self._years[-1])
        grown = DeflatorTable.from_growth(last, rates, base_index=self.index[last])
        merged = {**self.index, **grown.index}
        return DeflatorTable(index=merged, source=f"{self.source}; extended with {source}",
                             vintage=self.vintage, unverified=self.unverified, name=self.name)

    # ------------------------------------------------------------------ use
    @property
    def years(self) -> tuple[str, str]:
        """First and last financial year in the table, e.g. ``("1979/80", "2024/25")``."""
        return format_year(int(self._years[0])), format_year(int(self._years[-1]))

    def value(self, year: Any, *, field: str = "year") -> float:
        """Index value for one financial year; a year outside the table is an :class:`InputError`."""
        y = parse_year(year, field=field)
        if y not in self.index:
            lo, hi = self.years
            raise InputError(
                f"price year {format_year(y)} is outside the deflator table ({lo} to {hi}, {self.name})",
                field=field,
                fix="use a year in the table, or supply your own deflator CSV (columns year,index) "
                    "or extend the table with forecast growth rates")
        return self.index[y]

    def factor(self, from_year: Any, to_year: Any) -> float:
        """Multiplier taking prices of ``from_year`` to prices of ``to_year``."""
        return self.value(to_year, field="to_year") / self.value(from_year, field="from_year")

    def table(self) -> pd.DataFrame:
        """The index as a DataFrame (``year``, ``index``)."""
        return pd.DataFrame({"year": [format_year(int(y)) for y in self._years],
                             "index": [self.index[int(y)] for y in self._years]})


def uprate(value: float | np.ndarray, from_year: Any, to_year: Any, *,
           deflators: DeflatorTable | None = None) -> float | np.ndarray:
    """Move a cost from the prices of one financial year to another with the GDP deflator.

    Parameters
    ----------
    value : float or array
        Cost in ``from_year`` prices (£).
    from_year, to_year : int or str
        Financial years, ``"2013/14"`` or ``2013`` (the year the financial year starts).
    deflators : DeflatorTable, optional
        Defaults to the shipped ONS table (:meth:`DeflatorTable.default`).

    Returns
    -------
    float or ndarray
        ``value * index[to_year] / index[from_year]``.

    Raises
    ------
    InputError
        A year outside the table (the message gives the table's range).

    Notes
    -----
    Deflating a nominal stream to real terms is the same operation backwards: with a 2% deflator,
    £1,000 nominal in year 1 is £1,000 / 1.02 = £980.39 in year-0 prices (the Green Book's worked
    example, which rounds to £980).

    Examples
    --------
    >>> round(uprate(1000, "2025/26", "2024/25", deflators=DeflatorTable.from_growth(2024, [0.02])), 2)
    980.39
    """
    table = deflators if deflators is not None else DeflatorTable.default()
    f = table.factor(from_year, to_year)
    if isinstance(value, (list, tuple)):
        value = np.asarray(value, dtype=float)
    return value * f
