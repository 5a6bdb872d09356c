"""eh.compare and format_table."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

import ehimpact as eh
from ehimpact import InputError
from ehimpact.estimators.result import Estimate
from ehimpact.report import format_table
from ehimpact.report.tables import COMPARE_ROWS


def _est(e, se, method, n=800):
    return Estimate(estimate=e, se=se, ci=(e - 1.96 * se, e + 1.96 * se), pvalue=0.0004 if abs(e / se) > 3 else 0.2,
                    estimand="ATT", method=method, n_treated=n, n_control=n + 100, outcome="referral")


def test_wide_and_long_layouts():
    a, b = _est(-0.031, 0.0097, "2x2 DiD"), _est(-0.02, 0.012, "PSM", n=1500)
    wide = eh.compare(a, b, names=["DiD", "Matching"])
    assert list(wide.columns) == ["DiD", "Matching"] and tuple(wide.index) == COMPARE_ROWS
    assert wide.loc["estimate", "DiD"] == -0.031 and wide.loc["method", "Matching"] == "PSM"
    assert wide.loc["n_treated", "Matching"] == 1500
    long = eh.compare(a, b, names=["DiD", "Matching"], layout="long")
    np.testing.assert_allclose(long["ci_lower"], [a.ci[0], b.ci[0]])
    assert long.index.tolist() == ["DiD", "Matching"]
    # default names, a mapping, a list and results.json records all work
    assert eh.compare(a, b).columns.tolist() == ["(1)", "(2)"]
    assert eh.compare({"x": a, "y": b}).columns.tolist() == ["x", "y"]
    assert eh.compare([a, b]).shape == (len(COMPARE_ROWS), 2)
    rec = json.loads(json.dumps(b.to_dict()))
    assert eh.compare(a, rec).loc["se", "(2)"] == pytest.approx(0.012)


def test_pooled_result_compares_with_its_inputs():
    df = pd.DataFrame({"estimate": [-0.03, -0.01, -0.04, 0.0], "se": [0.01, 0.012, 0.015, 0.011]})
    reml, dl = eh.pool(df), eh.pool(df, method="dl")
    t = eh.compare(reml, dl, names=["REML", "DL"], layout="long")
    assert t.loc["REML", "estimate"] == pytest.approx(reml.estimate)
    assert "DL" in t.loc["DL", "method"]


def test_format_table():
    a, b = _est(-0.031, 0.0097, "2x2 DiD"), _est(-0.02, 0.012, "PSM", n=1500)
    f = format_table(eh.compare(a, b, names=["DiD", "PSM"]))
    assert f.loc["estimate", "DiD"] == "-0.031" and f.loc["se", "DiD"] == "(0.010)"
    assert f.loc["95% CI", "DiD"] == "[-0.050, -0.012]"
    assert f.loc["p-value", "DiD"] == "<0.001" and f.loc["p-value", "PSM"] == "0.200"
    assert f.loc["treated", "PSM"] == "1,500"
    g = format_table(pd.DataFrame({"area": ["A", "B"], "n": pd.Series(["c", 12000], dtype=object), "rate": [0.12345, np.nan]}), digits=2)
    assert g["n"].tolist() == ["c", "12,000"] and g["rate"].tolist() == ["0.12", ""]


def test_errors():
    a = _est(-0.031, 0.0097, "2x2 DiD")
    with pytest.raises(InputError, match="nothing to compare"):
        eh.compare()
    with pytest.raises(InputError, match="item 2"):
        eh.compare(a, 3.0)
    with pytest.raises(InputError, match="names: 1 names for 2"):
        eh.compare(a, a, names=["x"])
    with pytest.raises(InputError, match="duplicated names: x"):
        eh.compare(a, a, names=["x", "x"])
    with pytest.raises(InputError, match="layout"):
        eh.compare(a, layout="tall")
    with pytest.raises(InputError, match="table"):
        format_table([1, 2])
