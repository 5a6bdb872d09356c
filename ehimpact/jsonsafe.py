"""JSON-safe conversion of results: the one function every layer that writes a record uses.

Lives at the bottom of the package (it imports nothing of ehimpact), so data readers,
estimators, costs and the report can all use it without importing upward.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any

import numpy as np
import pandas as pd

__all__ = ["json_safe"]


def json_safe(value: Any) -> Any:
    """Convert a value to something :func:`json.dumps` accepts, without loss of meaning.

    NumPy scalars become Python numbers, NaN and infinities become ``None``, tuples and
    arrays become lists, DataFrames become lists of records, dataclasses and objects with
    ``to_dict()`` are converted through it, timestamps become ISO strings.

    Parameters
    ----------
    value : object
        Anything found in a result.

    Returns
    -------
    object
        A JSON-serialisable equivalent.

    Examples
    --------
    >>> json_safe({"a": np.float64(1.5), "b": (1, float("nan"))})
    {'a': 1.5, 'b': [1, None]}
    """
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        v = float(value)
        return v if math.isfinite(v) else None
    if isinstance(value, dict):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set)):
        return [json_safe(v) for v in value]
    if isinstance(value, np.ndarray):
        return [json_safe(v) for v in value.tolist()]
    if isinstance(value, pd.DataFrame):
        if not isinstance(value.index, pd.RangeIndex):  # a meaningful index (e.g. authority) is kept
            value = value.reset_index()
        return [json_safe(r) for r in value.to_dict(orient="records")]
    if isinstance(value, pd.Series):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, (pd.Timestamp, np.datetime64)):
        return pd.Timestamp(value).isoformat()
    if hasattr(value, "to_dict") and callable(value.to_dict):
        return json_safe(value.to_dict())
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return json_safe(dataclasses.asdict(value))
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return str(value)
