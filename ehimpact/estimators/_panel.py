"""Panel coding shared by the fixed-effects designs: dense unit/period codes and the one-row-per-cell check.

Lives apart from :mod:`ehimpact.estimators.did` so that the Goodman-Bacon decomposition
(:mod:`ehimpact.estimators.bacon`), which TWFE calls, does not import back into ``did``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ehimpact.errors import InputError

__all__: list[str] = []


def _codes(data: pd.DataFrame, column: str) -> tuple[np.ndarray, np.ndarray]:
    """Dense integer codes 0..L-1 in sorted order of the labels, and the labels."""
    s = data[column]
    if pd.api.types.is_integer_dtype(s.dtype) and not isinstance(s.dtype, pd.CategoricalDtype):
        x = s.to_numpy()
        lo, hi = int(x.min()), int(x.max())
        if hi - lo <= 4 * len(x):  # dense integer ids: O(n) without sorting
            off = (x - lo).astype(np.intp, copy=False)
            present = np.bincount(off, minlength=hi - lo + 1) > 0
            if present.all():  # already dense: the offset is the code
                return off, np.arange(lo, hi + 1, dtype=x.dtype)
            rank = np.cumsum(present) - 1
            return rank[off], np.flatnonzero(present) + lo
    codes, labels = pd.factorize(s, sort=True)
    return codes.astype(np.intp, copy=False), np.asarray(labels)


def _require_unique_cells(data: pd.DataFrame, u: np.ndarray, t: np.ndarray, n_u: int, n_t: int,
                          unit: str, time: str) -> bool:
    """Raise on repeated unit x period rows; return whether the panel is balanced."""
    cell = u.astype(np.int64) * n_t + t
    if n_u * n_t <= 4 * len(cell) + 1024:
        counts = np.bincount(cell, minlength=n_u * n_t)
        dup_any = counts.max() > 1
        balanced = not dup_any and len(cell) == n_u * n_t
    else:
        dup_any, balanced = pd.Series(cell).duplicated().any(), False
    if dup_any:
        dup = pd.Series(cell).duplicated(keep=False).to_numpy()
        raise InputError(
            f"{int(dup.sum())} rows repeat a {unit} x {time} combination",
            field="time", rows=list(data.index[dup]),
            fix="keep one row per unit and period (aggregate or drop duplicates first)",
        )
    return bool(balanced)
