"""Input checks shared by every estimator.

Each check raises :class:`~ehimpact.errors.InputError` naming the argument, the
column, the offending rows and the fix.  Estimators call these before any
arithmetic, so a user's mistake never surfaces as a NumPy or statsmodels traceback.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
import pandas as pd

from ehimpact.errors import InputError

__all__ = [
    "require_frame",
    "require_columns",
    "require_numeric",
    "require_binary",
    "require_complete",
    "require_weights",
    "covariate_matrix",
    "as_list",
]


def as_list(value: str | Sequence[str] | None) -> list[str]:
    """Normalise a column argument (``None``, one name or a list) to a list."""
    if value is None:
        return []
    if isinstance(value, str):
        return [value]
    return list(value)


def require_frame(data: object, arg: str = "data") -> pd.DataFrame:
    """Check that ``data`` is a non-empty DataFrame."""
    if not isinstance(data, pd.DataFrame):
        raise InputError(
            f"expected a pandas DataFrame, got {type(data).__name__}",
            field=arg,
            fix="load the file with ehimpact.data.load(path) or pandas.read_csv first",
        )
    if len(data) == 0:
        raise InputError("the table has no rows", field=arg, fix="check the file and any filters")
    return data


def require_columns(data: pd.DataFrame, columns: dict[str, str | Sequence[str] | None]) -> None:
    """Check that every named column exists.

    Parameters
    ----------
    data : DataFrame
    columns : dict
        Argument name -> column name(s), e.g. ``{"outcome": "y", "covariates": ["a", "b"]}``.
    """
    missing: list[str] = []
    for arg, cols in columns.items():
        for col in as_list(cols):
            if col not in data.columns:
                missing.append(f"{arg}={col!r}")
    if missing:
        available = ", ".join(map(str, list(data.columns)[:30]))
        raise InputError(
            f"column(s) not found: {', '.join(missing)}",
            field=missing[0].split("=")[0],
            fix=f"use one of the columns in the data ({available})",
        )


def require_numeric(data: pd.DataFrame, column: str, arg: str) -> np.ndarray:
    """Return a column as float, or raise naming the rows that are not numbers."""
    s = data[column]
    if pd.api.types.is_bool_dtype(s):
        return s.to_numpy(dtype=float)
    if pd.api.types.is_numeric_dtype(s):
        return s.to_numpy(dtype=float)
    converted = pd.to_numeric(s, errors="coerce")
    bad = s.index[converted.isna() & s.notna()]
    if len(bad):
        raise InputError(
            f"column {column!r} must be numeric; found values such as {s.loc[bad[0]]!r}",
            field=arg,
            rows=list(bad),
            fix="recode these values as numbers (or leave them blank for missing)",
        )
    return converted.to_numpy(dtype=float)


def require_binary(data: pd.DataFrame, column: str, arg: str) -> np.ndarray:
    """Return a 0/1 indicator as float, or raise naming rows with other values."""
    values = require_numeric(data, column, arg)
    bad = ~np.isin(values, (0.0, 1.0)) & ~np.isnan(values)
    if bad.any():
        rows = data.index[bad]
        raise InputError(
            f"column {column!r} must be 0/1 (or True/False); found {values[bad][0]!r}",
            field=arg,
            rows=list(rows),
            fix="code the indicator as 1 = yes, 0 = no",
        )
    return values


def require_complete(data: pd.DataFrame, columns: Iterable[str], arg_of: dict[str, str]) -> None:
    """Raise if any of ``columns`` has missing values, naming column and rows.

    Estimators do not silently drop rows: a user decides what missing means.
    """
    for col in columns:
        na = data[col].isna().to_numpy()
        if na.any():
            raise InputError(
                f"column {col!r} has {int(na.sum())} missing value(s)",
                field=arg_of.get(col, col),
                rows=list(data.index[na]),
                fix="fill or drop these rows before estimating (e.g. data.dropna(subset=[...]))",
            )


def require_weights(data: pd.DataFrame, column: str | None) -> np.ndarray | None:
    """Return non-negative finite weights, or ``None`` when no column is given."""
    if column is None:
        return None
    w = require_numeric(data, column, "weights")
    bad = ~np.isfinite(w) | (w < 0)
    if bad.any():
        raise InputError(
            "weights must be finite and non-negative",
            field="weights",
            rows=list(data.index[bad]),
            fix="check the weight column; use 0 to exclude a row",
        )
    if w.sum() <= 0:
        raise InputError("all weights are zero", field="weights", fix="check the weight column")
    return w


def covariate_matrix(data: pd.DataFrame, covariates: Sequence[str], *,
                     drop_first: bool = True) -> tuple[np.ndarray, list[str]]:
    """Numeric columns for covariates: numbers as they are, categories as 0/1 indicators.

    Parameters
    ----------
    data : DataFrame
    covariates : list of str
    drop_first : bool, default True
        Drop each category's first level (a regression design).  ``False`` keeps every
        level, as balance tables show them.

    Returns
    -------
    (X, names) : tuple
        ``names`` are ``covariate`` or ``covariate=level``.

    Examples
    --------
    >>> X, names = covariate_matrix(pd.DataFrame({"a": [1.0, 2.0], "g": ["x", "y"]}), ["a", "g"])
    >>> names
    ['a', 'g=y']
    """
    return _fill(len(data), _covariate_columns(data, covariates), drop_first)


def _covariate_columns(data: pd.DataFrame, covariates: Sequence[str]) -> list[tuple[str, Any, list[Any] | None]]:
    """Each covariate once: ``(name, float values, None)`` or ``(name, category codes, levels)``."""
    out: list[tuple[str, Any, list[Any] | None]] = []
    for col in covariates:
        s = data[col]
        if pd.api.types.is_numeric_dtype(s) or pd.api.types.is_bool_dtype(s):
            out.append((col, s.to_numpy(dtype=float), None))
        else:
            cat = s.astype("category")
            out.append((col, cat.cat.codes.to_numpy(), list(cat.cat.categories)))  # missing -> -1
    return out


def _fill(n: int, columns: list[tuple[str, Any, list[Any] | None]], drop_first: bool) -> tuple[np.ndarray, list[str]]:
    """The design matrix of :func:`_covariate_columns`' output, written into one array (no stacking copies)."""
    first = 1 if drop_first else 0
    names: list[str] = []
    for col, _, levels in columns:
        names.extend([col] if levels is None else [f"{col}={lv}" for lv in levels[first:]])
    if not names:
        return np.empty((n, 0)), []
    X = np.empty((n, len(names)))
    j = 0
    for _, values, levels in columns:
        if levels is None:
            X[:, j] = values
            j += 1
        else:
            k = len(levels) - first
            if k:
                X[:, j:j + k] = values[:, None] == np.arange(first, first + k)[None, :]
            j += k
    return X, names
