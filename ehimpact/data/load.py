"""Loading tables from CSV, Parquet and Excel, refusing direct identifiers.

:func:`load` reads a file, refuses any column that is a direct identifier (a name,
address, postcode, UPN, full date of birth or NHS number, by name or common alias),
parses the dictionary's dates and types, and, when a dictionary is named, validates the
table and raises one :class:`~ehimpact.errors.InputError` listing every problem.

Examples
--------
>>> import ehimpact as eh                                           # doctest: +SKIP
>>> children = eh.data.load("children.csv", dictionary="child_level")  # doctest: +SKIP
"""

from __future__ import annotations

import sys
import types
from pathlib import Path
from typing import Any

import pandas as pd

from ehimpact.data.dictionary import available, get
from ehimpact.errors import InputError

__all__ = ["load", "read_table", "direct_identifier_columns", "SUFFIXES"]

SUFFIXES = {
    ".csv": "csv",
    ".txt": "csv",
    ".parquet": "parquet",
    ".pq": "parquet",
    ".xlsx": "excel",
    ".xlsm": "excel",
}


def read_table(path: str | Path, *, sheet: str | int | None = None) -> pd.DataFrame:
    """Read a CSV, Parquet or Excel file as it is (CSV and Excel cells as text).

    Parameters
    ----------
    path : str or Path
    sheet : str or int, optional
        Excel sheet name or position (default: the first sheet).

    Returns
    -------
    DataFrame

    Raises
    ------
    InputError
        If the file does not exist, has an unknown suffix or cannot be parsed.
    """
    p = Path(path)
    if not p.is_file():
        raise InputError(
            f"file not found: {p}",
            field="path",
            fix="check the path (relative paths are read from the current folder)",
        )
    kind = SUFFIXES.get(p.suffix.lower())
    if kind is None:
        raise InputError(
            f"cannot read files ending {p.suffix or '(no suffix)'!r}",
            field="path",
            fix="save the table as CSV (.csv), Parquet (.parquet) or Excel (.xlsx)",
        )
    try:
        if kind == "csv":
            return pd.read_csv(p, dtype=str, keep_default_na=False, na_values=[""],
                               encoding="utf-8-sig")
        if kind == "parquet":
            return pd.read_parquet(p)
        return pd.read_excel(p, sheet_name=0 if sheet is None else sheet, dtype=str,
                             engine="openpyxl")
    except InputError:
        raise
    except UnicodeDecodeError as exc:
        raise InputError(f"{p.name} is not UTF-8 text", field="path",
                         fix="re-save the file as CSV UTF-8") from exc
    except (ValueError, OSError, ImportError, pd.errors.ParserError) as exc:
        raise InputError(f"could not read {p.name}: {exc}", field="path",
                         fix="check that the file is a valid, unprotected "
                         f"{kind} file") from exc


def direct_identifier_columns(columns: list[str] | pd.Index) -> list[str]:
    """Columns that are direct identifiers in any table dictionary (by name or alias).

    Examples
    --------
    >>> direct_identifier_columns(["child_id", "DOB", "Post Code"])
    ['DOB', 'Post Code']
    """
    dicts = [get(name) for name in available()]
    out = []
    for col in columns:
        for d in dicts:
            f = d.match(col)
            if f is not None and not f.allowed_on_load:
                out.append(str(col))
                break
    return out


def load(
    path: str | Path,
    dictionary: str | None = None,
    *,
    sheet: str | int | None = None,
) -> pd.DataFrame:
    """Read a table, refuse direct identifiers, parse types, validate.

    Parameters
    ----------
    path : str or Path
        A ``.csv``, ``.parquet`` or ``.xlsx`` file.
    dictionary : str, optional
        ``"child_level"`` or ``"authority_panel"``.  When given, the dictionary's columns
        are cast to their types (dates parsed) and the table is validated: any error
        raises one :class:`~ehimpact.errors.InputError` listing every problem, and the
        report summary (counts only) is kept in ``df.attrs["validation"]``.  Without a
        dictionary, columns that look like dates (named ``*_date``, ``period``) are parsed.

    sheet : str or int, optional
        Excel sheet (default: the first).

    Returns
    -------
    DataFrame

    Raises
    ------
    InputError
        File missing or unreadable; direct identifiers present (named, with the fix:
        remove them before loading); validation errors.
    """
    if dictionary is not None:
        get(dictionary)  # an unknown dictionary name fails before the file is read
    frame = read_table(path, sheet=sheet)
    refused = direct_identifier_columns(frame.columns)
    if refused:
        raise InputError(
            f"{Path(path).name} contains direct identifiers: {', '.join(refused)}; "
            "ehimpact never loads names, addresses, postcodes, UPNs, full dates of birth "
            "or NHS numbers",
            field=", ".join(refused),
            fix="remove these columns before loading (keep pseudonymous child_id/family_id "
            "and age at referral instead)",
        )
    from ehimpact.data.validate import _validate, parse_date_column

    if dictionary is None:
        return _infer_types(frame, parse_date_column)
    labelled = frame.set_axis(pd.RangeIndex(2, len(frame) + 2), axis=0)
    report, parsed = _validate(labelled, dictionary)
    report.raise_if_errors()
    typed = frame.copy()
    for name, values in parsed.items():  # the columns validation parsed, by position
        typed[name] = values.array
    typed.attrs["validation"] = report.to_dict()
    return typed


def _infer_types(frame: pd.DataFrame, parse_dates: Any) -> pd.DataFrame:
    """Without a dictionary: dates for ``*_date``/``period`` columns, numbers for columns
    whose every non-blank value is a number; anything else stays text (so a later
    :func:`~ehimpact.data.validate.validate` still sees the raw values)."""
    for col in frame.columns:
        values = frame[col]
        if not (values.dtype == object or pd.api.types.is_string_dtype(values)):
            continue
        blank = values.isna() | values.astype("string").str.strip().fillna("").eq("")
        if str(col).endswith("_date") or col in ("period", "adoption_period"):
            parsed = parse_dates(values)
        else:
            parsed = pd.to_numeric(values.mask(blank), errors="coerce")
        if (parsed.notna() | blank).all():
            frame[col] = parsed
    return frame


class _CallableModule(types.ModuleType):
    """``ehimpact.data.load`` is both this module and the function :func:`load`.

    Importing the submodule rebinds the package attribute ``load`` to the module, so the
    module forwards calls to the function: ``eh.data.load(path)`` works in any import order.
    """

    def __call__(self, *args: Any, **kwargs: Any) -> pd.DataFrame:
        return load(*args, **kwargs)


sys.modules[__name__].__class__ = _CallableModule
