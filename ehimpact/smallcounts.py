"""The package's one small-count rule, at the bottom of the layers so every layer can use it.

DfE practice (DOMAIN.md §5): a count of people from 1 to the threshold (5 by default) is
suppressed as ``c``; 0 is a true zero.  Counts of authorities, months and other units that are
not people are never suppressed.  :mod:`ehimpact.report.disclosure` re-exports both names.
"""

from __future__ import annotations

import math
import re
from typing import Any

import numpy as np

__all__ = ["NON_PERSON_UNITS", "is_small_count"]

#: units whose counts are not counts of people (never suppressed)
NON_PERSON_UNITS: frozenset[str] = frozenset(
    {"authorities", "months", "periods", "clusters", "indicators", "years", "weeks", "quarters"}
)


def is_small_count(value: Any, threshold: int = 5) -> bool:
    """Whether ``value`` is a count from 1 to ``threshold``: the package's one small-count rule.

    Parameters
    ----------
    value : Any
        A count.  Integers (Python or NumPy), floats with a whole value (``3.0``, as JSON
        and pandas give them back) and strings holding a whole number (``"3"``,
        ``"3.0"``, ``"1,022"``, as CSV and HTML cells hold them) are read; anything else
        (``True``, ``None``, NaN, ``0.5``, ``"c"``, text) is not a count and gives False.
    threshold : int, default 5
        The disclosure threshold (``disclosure.threshold``).  0 is a true zero and is
        never small.

    Returns
    -------
    bool

    Examples
    --------
    >>> [is_small_count(v) for v in (0, 1, 5, 6, 3.0, 3.5, "4", "c", True, None)]
    [False, True, True, False, True, False, True, False, False, False]
    """
    if value is None or isinstance(value, bool | np.bool_):
        return False
    if isinstance(value, int | np.integer):
        v = int(value)
    elif isinstance(value, float | np.floating):
        x = float(value)
        if not math.isfinite(x) or x != math.floor(x):
            return False
        v = int(x)
    elif isinstance(value, str):
        s = value.strip()
        if not re.fullmatch(r"(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.0+)?", s):
            return False
        v = int(float(s.replace(",", "")))
    else:
        return False
    return 1 <= v <= int(threshold)
