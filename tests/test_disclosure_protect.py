"""The one small-count rule and the functions that apply it to prose, results.json and balance tables."""

from __future__ import annotations

import copy

import pandas as pd
import pytest

from ehimpact.errors import InputError
from ehimpact.report.disclosure import (
    NON_PERSON_UNITS,
    count_text,
    is_small_count,
    protect_balance,
    protect_results,
    redact_text,
    safe_difference,
    small_counts_in_text,
)


# ---------------------------------------------------------------- is_small_count
@pytest.mark.parametrize("value, small", [
    (0, False), (1, True), (5, True), (6, False), (3.0, True), (3.5, False), ("4", True), ("4.0", True),
    ("1,022", False), ("c", False), (True, False), (None, False), (float("nan"), False), (-3, False),
])
def test_is_small_count(value, small):
    assert is_small_count(value) is small


def test_is_small_count_threshold():
    assert is_small_count(9, threshold=10) and not is_small_count(9)


def test_non_person_units():
    assert {"authorities", "months", "indicators", "periods", "clusters", "years", "weeks",
            "quarters"} == NON_PERSON_UNITS


# ---------------------------------------------------------------- count_text
def test_count_text_wording():
    assert count_text(1022, "children") == "1,022 children"
    assert count_text(0, "children") == "no children"
    for n in range(1, 6):
        assert count_text(n, "children") == "a small number (c) of children"
    assert count_text(6, "children") == "6 children"
    assert count_text(3, "child") == "a small number (c) of children"
    assert count_text(3, "comparison family") == "a small number (c) of comparison families"
    assert count_text("c", "children") == "a small number (c) of children"
    assert count_text(3, "kids", plural="young people", symbol="x") == "a small number (x) of young people"
    assert count_text(8, "children", threshold=10) == "a small number (c) of children"


def test_count_text_leaves_non_people_alone():
    assert count_text(3, "authorities") == "3 authorities"
    assert count_text(2, "months") == "2 months"


@pytest.mark.parametrize("bad", [-1, 2.5, None, "three", float("nan")])
def test_count_text_refuses_non_counts(bad):
    with pytest.raises(InputError):
        count_text(bad, "children")


def test_count_text_output_passes_the_prose_rule():
    for n in (1, 3, 5, 0, 40):
        assert not small_counts_in_text(f"The cohort has {count_text(n, 'supported children')}.")


# ---------------------------------------------------------------- safe_difference
def test_safe_difference():
    assert safe_difference(856, 830)
    assert not safe_difference(856, 853)
    assert not safe_difference(853, 856)  # order does not matter
    assert safe_difference(856, 856)  # no difference reveals nothing
    assert safe_difference("c", 853) and safe_difference(None, 3)
    assert not safe_difference(20, 12, threshold=10)


# ---------------------------------------------------------------- prose
@pytest.mark.parametrize("text, values", [
    ("5 treated and 4 comparison children", [5, 4]),
    ("The cohort has 3 children", [3]),
    ("1 child of black ethnicity", [1]),
    ("251 of 1,008 supported children; 2 of 900 families", [2]),
    ("only 5 treated", [5]),
    ("n = 3", [3]),
    ("30 treated and 18 comparison months", []),
    ("across 3 authorities", []),
    ("The median episode lasted 4 weeks.", []),
    ("counts of 1 to 5 children are shown as c", []),
    ("between 1 and 5 children", []),
    ("## 5. Implementation and reach", []),
    ("Step 5: the children", []),
    ("Q = 2.30 on 3 df", []),
    ("an estimate of -3 children, 2.5 children, 4% of children, £5 per child", []),
    ("Pitfall 3 says 2019-04-01", []),
    ("6 children", []),
    ("1 in 5 children is referred", []),
    ("we saw 2 children in 3 families", [2, 3]),
])
def test_small_counts_in_text(text, values):
    assert [v for _, _, v in small_counts_in_text(text)] == values


def test_redact_text():
    assert redact_text("5 treated and 4 comparison children across 3 authorities") == \
        "c treated and c comparison children across 3 authorities"


# ---------------------------------------------------------------- protect_balance
def _balance() -> pd.DataFrame:
    return pd.DataFrame({
        "covariate": ["age", "ethnicity=black", "ethnicity=white", "ethnicity=asian", "fsm", "sen"],
        "mean_treated_before": [7.1, 3 / 921, 900 / 921, 18 / 921, 0.4, 918 / 921],
        "mean_control_before": [8.0, 100 / 1000, 800 / 1000, 100 / 1000, 0.3, 0.5],
        "smd_before": [0.1, 0.2, 0.3, 0.4, 0.5, 0.6],
    })


def test_protect_balance_primary_and_secondary():
    out = protect_balance(_balance(), group_sizes={"treated": 921, "control": 1000},
                          proportion_columns=["mean_treated_before", "mean_control_before"])
    t = out["mean_treated_before"].tolist()
    assert t[0] == 7.1  # a mean of a continuous covariate is not a proportion
    assert t[1] == "c"  # 3 children
    assert t[3] == "c"  # secondary: else 921 - 900 - 18 would give the 3 back
    assert t[2] == pytest.approx(900 / 921)
    assert t[4] == 0.4
    assert t[5] == "c"  # 918 of 921: 1 - p reveals 3 without SEN
    assert out["smd_before"].tolist()[1] == "c"  # the SMD would give the proportion back
    assert out["mean_control_before"].tolist()[1] == pytest.approx(0.1)


def test_protect_balance_small_or_suppressed_group():
    t = pd.DataFrame({"covariate": ["fsm", "age"], "mean_treated": [0.0, 7.0], "mean_control": [0.5, 8.0]})
    out = protect_balance(t, group_sizes={"treated": "c", "control": 100},
                          proportion_columns=["mean_treated", "mean_control"])
    assert out["mean_treated"].tolist() == ["c", 7.0]
    assert out["mean_control"].tolist() == [0.5, 8.0]


def test_protect_balance_nested_before_after():
    t = pd.DataFrame({"covariate": ["tf_crime"], "mean_treated_before": [100 / 856],
                      "mean_treated_after": [97 / 830]})
    out = protect_balance(t, group_sizes={"treated_before": 856, "treated_after": 830},
                          proportion_columns=["mean_treated_before", "mean_treated_after"])
    assert out["mean_treated_after"].tolist() == ["c"]  # 3 dropped children had tf_crime
    out = protect_balance(t, group_sizes={"treated_before": 856, "treated_after": 830},
                          proportion_columns=["mean_treated_before", "mean_treated_after"], nested=())
    assert out["mean_treated_after"].tolist() == [pytest.approx(97 / 830)]


def test_protect_balance_errors():
    with pytest.raises(InputError, match="group size"):
        protect_balance(_balance(), group_sizes={"treated": 921}, proportion_columns=["mean_control_before"])
    with pytest.raises(InputError, match="not in the table"):
        protect_balance(_balance(), group_sizes={"treated": 921}, proportion_columns=["nope"])


# ---------------------------------------------------------------- protect_results
def _record() -> dict:
    est = {
        "kind": "Matched", "units": "children", "n_treated": 5, "n_control": 4, "estimate": -0.1,
        "summary": "Across 5 treated and 4 comparison children ...",
        "diagnostics": {"n_treated_input": 9, "n_control_input": 30, "treated_matched": 5,
                        "controls_matched": 4, "dropped_by_caliper": {"treated": 4, "control": 0},
                        "trimmed": {"treated": 0, "control": 0, "alpha": 0.1, "rule": "crump"},
                        "overlap": {"treated": {"n": 9, "min": 0.1}, "comparison": {"n": 30}}},
        "balance": [{"covariate": "ethnicity=black", "mean_treated_before": 1 / 9, "mean_control_before": 0.5,
                     "smd_before": 0.3}],
    }
    big = {"kind": "Weighted", "units": "children", "n_treated": 900, "n_control": 897,
           "diagnostics": {"n_input": 1797}}
    panel = {"kind": "Estimate", "units": "authorities", "n_treated": 1, "n_control": 3,
             "summary": "1 treated and 3 comparison authorities",
             "diagnostics": {"cells": [{"n": 2}], "n_clusters": 4}}
    its = {"kind": "ITSResult", "units": "months", "n_treated": 30, "n_control": 18,
           "counterfactual": [{"time": "2020-01", "observed": 3.0, "fitted": 4.1},
                              {"time": "2020-02", "observed": 40.0, "fitted": 38.0}]}
    return {
        "evaluation": "x", "authority_code": "E06000001", "config": {"disclosure": {"threshold": 5}},
        "primary": copy.deepcopy(est),
        "estimates": {"primary": copy.deepcopy(est), "weight:y": big, "did_2x2:y": panel, "its:y": its},
        "sections": [{"number": 7, "paragraphs": ["The cohort has 5 treated and 4 comparison children."],
                      "tables": [{"name": "Headline beside others", "disclosed": True, "count_columns": [],
                                  "columns": ["statistic", "match (headline)", "did_2x2"],
                                  "data": [{"statistic": "n_treated", "match (headline)": 5, "did_2x2": 1}]},
                                 {"name": "Scorecard", "disclosed": True, "count_columns": ["region_n"],
                                  "columns": ["indicator", "region_n"],
                                  "data": [{"indicator": "spend", "region_n": 4}]}],
                      "estimates": {"primary": copy.deepcopy(est)}}],
    }


def _small_ints(obj, path="", person=True):
    """(path, value) of every small count left under a person-count key."""
    found = []
    if isinstance(obj, dict):
        if isinstance(obj.get("units"), str):
            person = obj["units"] not in NON_PERSON_UNITS
        for k, v in obj.items():
            if person and k in ("n_treated", "n_control", "treated_matched", "controls_matched", "n") \
                    and is_small_count(v):
                found.append((f"{path}.{k}", v))
            found += _small_ints(v, f"{path}.{k}", person)
    elif isinstance(obj, list):
        for i, v in enumerate(obj):
            found += _small_ints(v, f"{path}[{i}]", person)
    return found


def test_protect_results_everywhere():
    rec = _record()
    before = copy.deepcopy(rec)
    safe = protect_results(rec)
    assert rec == before  # the input is not changed
    assert not _small_ints(safe)
    for est in (safe["primary"], safe["estimates"]["primary"], safe["sections"][0]["estimates"]["primary"]):
        assert est["n_treated"] == "c" and est["n_control"] == "c"
        assert est["diagnostics"]["treated_matched"] == "c"
        assert est["diagnostics"]["dropped_by_caliper"]["treated"] == "c"
        assert est["diagnostics"]["dropped_by_caliper"]["control"] == 0  # a true zero
        assert est["diagnostics"]["trimmed"]["alpha"] == 0.1
        assert est["balance"][0]["mean_treated_before"] == "c"  # 1 of 9 children
        assert est["balance"][0]["smd_before"] == "c"
        assert "5 treated" not in est["summary"]
    assert safe["sections"][0]["paragraphs"] == ["The cohort has c treated and c comparison children."]
    row = safe["sections"][0]["tables"][0]["data"][0]
    assert row["match (headline)"] == "c" and row["did_2x2"] == 1  # authorities are not people


def test_protect_results_leaves_non_people_and_settings():
    safe = protect_results(_record())
    panel = safe["estimates"]["did_2x2:y"]
    assert panel["n_treated"] == 1 and panel["diagnostics"]["cells"][0]["n"] == 2
    assert panel["summary"] == "1 treated and 3 comparison authorities"
    assert safe["estimates"]["its:y"]["n_treated"] == 30
    assert safe["sections"][0]["tables"][1]["data"][0]["region_n"] == 4
    assert safe["config"] == {"disclosure": {"threshold": 5}}
    assert safe["estimates"]["weight:y"]["n_treated"] == 900


def test_protect_results_drops_small_observed_series():
    safe = protect_results(_record())
    rows = safe["estimates"]["its:y"]["counterfactual"]
    assert all("observed" not in r for r in rows) and rows[0]["fitted"] == 4.1
    rec = _record()
    rec["estimates"]["its:y"]["counterfactual"][0]["observed"] = 30.0
    assert protect_results(rec)["estimates"]["its:y"]["counterfactual"][0]["observed"] == 30.0


def test_protect_results_differencing():
    rec = _record()
    rec["estimates"]["weight:y"]["n_treated"] = 903  # 903 - 900 = 3 between two published totals
    rec["estimates"]["weight:y"]["diagnostics"]["n_input"] = 1800
    rec["estimates"]["match:z"] = {"units": "children", "n_treated": 900, "n_control": 880,
                                   "diagnostics": {"n_treated_input": 903, "treated_matched": 900}}
    safe = protect_results(rec)
    m = safe["estimates"]["match:z"]
    assert m["n_treated"] == "c" and m["diagnostics"]["treated_matched"] == "c"
    assert m["diagnostics"]["n_treated_input"] == 903
    assert m["n_control"] == 880


def test_protect_results_is_idempotent_and_validates():
    safe = protect_results(_record())
    assert protect_results(safe) == safe
    with pytest.raises(InputError):
        protect_results(_record(), symbol="5")
    with pytest.raises(InputError):
        protect_results(["not", "a", "dict"])  # type: ignore[arg-type]
