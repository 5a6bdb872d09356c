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

import numpy as np
import pandas as pd

from ehimpact.data.dictionary import available, get
from ehimpact.errors import InputError

__all__ = ["load", "read_table", "direct_identifier_columns", "sniff", "sniff_delimiter", "SUFFIXES",
           "DELIMITERS"]

#: Field separators a CSV export may use, with their names for messages.
DELIMITERS = {",": "comma", ";": "semicolon", "\t": "tab", "|": "vertical bar"}
_MAGIC = (
    (b"PK\x03\x04", "zip"),              # .xlsx/.xlsm (and any zip)
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", "ole"),  # old .xls, or a protected workbook
    (b"PAR1", "parquet"),
)
_WHAT = {"zip": "a zip archive (an Excel .xlsx workbook?)", "ole": "an old-style (.xls) or "
         "password-protected Excel file", "parquet": "a Parquet file", "text": "text (CSV?)",
         "utf16": "UTF-16 text", "binary": "a binary file", "empty": "empty",
         "xml": "XML (a CIN census file? check it with `ehimpact validate`)"}


def sniff(path: str | Path) -> str:
    """What a file's first bytes say it is, whatever its name.

    Parameters
    ----------
    path : str or Path

    Returns
    -------
    str
        ``"zip"`` (an .xlsx workbook), ``"ole"`` (old .xls or a password-protected
        workbook), ``"parquet"``, ``"xml"``, ``"text"``, ``"utf16"``, ``"binary"`` or
        ``"empty"``.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "export.xlsx"
    >>> _ = p.write_text("a,b\\n1,2\\n")
    >>> sniff(p)
    'text'
    """
    with Path(path).open("rb") as handle:
        head = handle.read(4096)
    if not head:
        return "empty"
    for magic, kind in _MAGIC:
        if head.startswith(magic):
            return kind
    if head[:2] in (b"\xff\xfe", b"\xfe\xff"):
        return "utf16"
    if b"\x00" in head:
        return "binary"
    body = head.lstrip(b"\xef\xbb\xbf").lstrip()
    if body.startswith(b"<"):
        return "xml"
    return "text"


def sniff_delimiter(header: str) -> str:
    """The field separator of a CSV header line (see :func:`ehimpact.data.read_report.csv_delimiter`).

    Examples
    --------
    >>> sniff_delimiter("child_id;referral_date;age")
    ';'
    """
    from ehimpact.data.read_report import csv_delimiter

    return csv_delimiter(header)


def _check_kind(p: Path, kind: str) -> None:
    """A one-line error when the content does not match the suffix."""
    found = sniff(p)
    expected = {"csv": ("text",), "parquet": ("parquet",), "excel": ("zip",)}[kind]
    if found in expected:
        return
    if found == "empty":
        raise InputError(f"{p.name} is empty", field="path",
                         fix="export the table again with its header line")
    if found == "utf16":
        raise InputError(f"{p.name} is UTF-16 text, not UTF-8", field="path",
                         fix="re-save the file as CSV UTF-8")
    names = {"csv": "CSV text", "parquet": "a Parquet file", "excel": "an Excel .xlsx workbook"}
    if kind == "parquet":
        raise InputError(f"could not read {p.name}: it is not a Parquet file (its content is "
                         f"{_WHAT[found]})", field="path",
                         fix="check that the file is a valid parquet file, or give it the suffix "
                         "of what it is")
    right = {"text": ".csv", "zip": ".xlsx", "parquet": ".parquet"}.get(found)
    fix = (f"rename it to {p.stem}{right} (its content is {_WHAT[found]})" if right else
           f"save the table as CSV (.csv), Parquet (.parquet) or Excel (.xlsx); this file is "
           f"{_WHAT[found]}")
    raise InputError(f"{p.name} is named {p.suffix} but is not {names[kind]}: its content is "
                     f"{_WHAT[found]}", field="path", fix=fix)

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
        If the file does not exist, has an unknown suffix, its content is not what the
        suffix says (a CSV renamed ``.xlsx``: one line naming the real content), or it
        cannot be parsed.

    Notes
    -----
    A CSV's separator is detected from its header line: comma, semicolon, tab or
    vertical bar (``df.attrs["delimiter"]``).
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
    _check_kind(p, kind)
    try:
        if kind == "csv":
            with p.open("rb") as handle:
                first = handle.readline(65536).decode("utf-8-sig", errors="replace")
            sep = sniff_delimiter(first)
            frame = pd.read_csv(p, dtype=str, keep_default_na=False, na_values=[""],
                                encoding="utf-8-sig", sep=sep)
            frame.attrs["delimiter"] = sep
            return frame
        if kind == "parquet":
            return pd.read_parquet(p)
        return pd.read_excel(p, sheet_name=0 if sheet is None else sheet, dtype=str,
                             engine="openpyxl")
    except InputError:
        raise
    except UnicodeDecodeError as exc:
        raise InputError(f"{p.name} is not UTF-8 text", field="path",
                         fix="re-save the file as CSV UTF-8") from exc
    except Exception as exc:  # noqa: BLE001 - any parser failure is the file's, in one line
        if isinstance(exc, (KeyboardInterrupt, MemoryError)):
            raise
        first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise InputError(f"could not read {p.name}: {first_line}", field="path",
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


_SAMPLE = 1000


def _numbers(values: pd.Series, blank: pd.Series) -> pd.Series:
    """``pd.to_numeric(values.mask(blank), errors="coerce")``, by Arrow's casts when they read every value.

    Arrow's string casts are ~10x faster than ``to_numeric`` on text; both round correctly.  The
    result keeps ``to_numeric``'s type: int64 when every value is a whole number written without a
    decimal point and none is blank, else float64.  Anything Arrow does not read (spaces around
    a number, a sign on a whole number) goes to ``to_numeric`` itself.
    """
    masked = values.mask(blank)
    if getattr(values.dtype, "na_value", None) is pd.NA:  # nullable "string": to_numeric returns Int64/Float64
        return pd.to_numeric(masked, errors="coerce")
    try:
        import pyarrow as pa
        import pyarrow.compute as pc

        native = getattr(masked.array, "__arrow_array__", None)
        arr = native() if native is not None else pa.array(masked.to_numpy(dtype=object, na_value=None),
                                                           type=pa.string())
        if isinstance(arr, pa.ChunkedArray):
            arr = arr.combine_chunks()
        if not pa.types.is_string(arr.type) and not pa.types.is_large_string(arr.type):
            arr = arr.cast(pa.string())
        if not blank.any():
            try:
                ints = pc.cast(arr, pa.int64())
                return pd.Series(ints.to_numpy(zero_copy_only=False), index=values.index, dtype="int64")
            except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
                pass
        floats = pc.cast(arr, pa.float64()).to_numpy(zero_copy_only=False)
        finite = np.isfinite(floats)
        if not blank.any() and np.array_equal(floats[finite], np.round(floats[finite])):
            raise ValueError("whole numbers Arrow did not read as integers: to_numeric decides the type")
        return pd.Series(floats, index=values.index, dtype="float64")
    except (ImportError, ValueError, TypeError, NotImplementedError):  # pyarrow.ArrowInvalid is a ValueError
        return pd.to_numeric(masked, errors="coerce")


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
            # a column becomes numbers only if every non-blank value reads as one: when a sample
            # already holds text (ids, codes, categories), the whole column need not be tried
            sample = values[~blank].iloc[:_SAMPLE]
            if pd.to_numeric(sample, errors="coerce").isna().any():
                continue
            parsed = _numbers(values, blank)
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
