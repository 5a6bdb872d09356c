"""The loader's fast number reading (issue 16, item 8: scale) types columns as ``pd.to_numeric`` does."""

from __future__ import annotations

import pandas as pd
import pytest

from ehimpact.data.load import _infer_types, _numbers
from ehimpact.data.validate import parse_date_column

CASES = [["1", "2", "3"], ["1", "", "3"], ["1.5", "2", "x"], ["8.4", "10.2", ""], ["1.0", "2.0"], [" 1", "2"],
         ["+1", "2"], ["1e3", "2"], ["nan", "1"], ["-0", "5"], ["99999999999999999999", "1"], ["0.1", "0.7"]]


@pytest.mark.parametrize("values", CASES)
@pytest.mark.parametrize("dtype", ["str", object, "string"])
def test_numbers_match_to_numeric(values, dtype):
    s = pd.Series(values, dtype=dtype)
    blank = s.astype("string").str.strip().eq("")
    got, want = _numbers(s, blank), pd.to_numeric(s.mask(blank), errors="coerce")
    assert got.dtype == want.dtype
    assert got.equals(want)


def test_text_columns_stay_text_and_numbers_become_numbers():
    n = 3000  # more rows than the sample, with the text only past it in one column
    frame = pd.DataFrame({"child_id": [f"C{i:07d}" for i in range(n)],
                          "late_text": ["1"] * (n - 1) + ["x"],
                          "age": [str(i % 18) for i in range(n)],
                          "rate": [f"{i / 7:.3f}" if i % 5 else "" for i in range(n)]}, dtype="str")
    typed = _infer_types(frame.copy(), parse_date_column)
    assert typed["child_id"].dtype == frame["child_id"].dtype
    assert typed["late_text"].dtype == frame["late_text"].dtype
    assert typed["age"].dtype == "int64"
    assert typed["rate"].dtype == "float64" and typed["rate"].isna().sum() == n // 5
