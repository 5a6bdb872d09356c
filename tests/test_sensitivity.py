"""Rosenbaum bounds (rbounds lead example; scipy at Gamma = 1) and E-values (VanderWeele & Ding 2017)."""

from __future__ import annotations

import numpy as np
import pytest
import yaml
from numpy.testing import assert_allclose
from scipy import stats

from ehimpact import InputError
from ehimpact.estimators.sensitivity import evalue, gamma_at_loss, rosenbaum_bounds


@pytest.fixture(scope="module")
def lead(reference_dir):
    return yaml.safe_load((reference_dir / "sensitivity_rbounds_lead.yaml").read_text())


def test_gamma_one_equals_signed_rank_test(lead):
    d = np.array(lead["trt"], float) - np.array(lead["ctrl"], float)
    b = rosenbaum_bounds(d, [1.0])
    peer = stats.wilcoxon(d, alternative="greater", method="approx", correction=False).pvalue
    assert_allclose(b.p_upper[0], peer, rtol=lead["tolerance"]["rtol"])
    assert_allclose(b.p_lower[0], peer, rtol=lead["tolerance"]["rtol"])


def test_lead_bounds_widen_with_gamma_and_significance_is_lost_between_4_and_6(lead):
    d = np.array(lead["trt"], float) - np.array(lead["ctrl"], float)
    b = rosenbaum_bounds(d, [1, 2, 3, 4, 5, 6])
    print(b.round(4).to_string())
    assert (np.diff(b.p_upper) > 0).all() and (np.diff(b.p_lower) < 0).all()
    g = gamma_at_loss(d)
    # the lead effect is insensitive to moderate hidden bias (Rosenbaum 2002, ch. 4); with the
    # rbounds normal approximation the upper bound crosses 0.05 between Gamma = 4 and 5.  (The
    # book's table itself was not available here to compare digit by digit: this pins our value.)
    assert 4 < g < 5, g
    at = rosenbaum_bounds(d, [g])
    assert_allclose(at.p_upper[0], 0.05, atol=1e-8)


def test_direction_less_mirrors_greater():
    rng = np.random.default_rng(0)
    d = rng.normal(0.4, 1, size=80)
    assert_allclose(rosenbaum_bounds(d, [1.5]).p_upper, rosenbaum_bounds(-d, [1.5], alternative="less").p_upper)


def test_evalue_published_example(reference_dir):
    ref = yaml.safe_load((reference_dir / "sensitivity_evalue.yaml").read_text())
    for case in ref["cases"]:
        e = evalue(case["rr"], tuple(case["ci"]))
        assert abs(e["evalue_estimate"] - case["evalue_estimate"]) < ref["tolerance"]["abs"]
        assert abs(e["evalue_ci"] - case["evalue_ci"]) < ref["tolerance"]["abs"]
        # a protective ratio gives the same E-value as its inverse
        inv = evalue(1 / case["rr"], (1 / case["ci"][1], 1 / case["ci"][0]))
        assert_allclose(inv["evalue_estimate"], e["evalue_estimate"])
    for case in ref["md_cases"]:
        e = evalue(case["md"], (case["md"] - 0.1, case["md"] + 0.1), scale="md", sd=case["sd"])
        assert abs(e["rr"] - case["rr"]) < ref["md_tolerance"]["abs"]
        assert abs(e["evalue_estimate"] - case["evalue_estimate"]) < ref["md_tolerance"]["abs"]
    assert evalue(1.2, (0.9, 1.6))["evalue_ci"] == 1.0


@pytest.mark.parametrize("call", [
    lambda: rosenbaum_bounds([1.0, 2.0], [0.5]),
    lambda: rosenbaum_bounds([0.0, 0.0], [1.0]),
    lambda: evalue(-1.0, (0.5, 2.0)),
    lambda: evalue(1.0, (0.5, 2.0), scale="md"),
])
def test_bad_inputs_raise_input_error(call):
    with pytest.raises(InputError):
        call()
