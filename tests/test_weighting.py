"""eh.weight: published IPW reference (What If, NHEFS), AIPW on NSW/CPS, simulation, errors."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import yaml

import ehimpact as eh
from ehimpact import InputError


@pytest.fixture(scope="module")
def nhefs():
    causaldata = pytest.importorskip("causaldata")
    df = causaldata.nhefs_complete.load_pandas().data.copy()
    for c in ("education", "exercise", "active"):
        df[c] = df[c].astype(int).astype(str)  # categorical, as factor() in the book
    df["age2"] = df.age**2
    df["si2"] = df.smokeintensity**2
    df["sy2"] = df.smokeyrs**2
    df["wt712"] = df.wt71**2
    return df


NHEFS_COVS = ["sex", "race", "age", "age2", "education", "smokeintensity", "si2", "smokeyrs", "sy2",
              "exercise", "active", "wt71", "wt712"]


def test_what_if_program_12_2_ipw_estimate(nhefs, reference_dir):
    ref = yaml.safe_load((reference_dir / "weighting_nhefs_whatif.yaml").read_text())
    est = eh.weight(nhefs, treatment="qsmk", outcome="wt82_71", covariates=NHEFS_COVS, method="ipw")
    print(f"NHEFS IPW ATE {est.estimate:.4f} (SE {est.se:.4f}, CI {est.ci[0]:.3f} to {est.ci[1]:.3f}); "
          f"What If: {ref['estimate']} ({ref['ci_published'][0]} to {ref['ci_published'][1]})")
    assert abs(est.estimate - ref["estimate"]) <= ref["tolerance"]["abs"]
    # our SE accounts for the estimated score, so it is at most the book's conservative GEE SE
    book_se = (ref["ci_published"][1] - ref["ci_published"][0]) / (2 * 1.959964)
    assert est.se <= book_se
    assert est.n_treated == 403 and est.n_control == 1566 - 403
    assert set(est.balance.covariate) >= {"education=1", "education=5", "exercise=0", "active=2", "wt71"}


@pytest.mark.slow
def test_ipw_sandwich_se_matches_bootstrap_that_refits_the_score(nhefs):
    est = eh.weight(nhefs, treatment="qsmk", outcome="wt82_71", covariates=NHEFS_COVS)
    rng = np.random.default_rng(12)
    boots = []
    for _ in range(150):
        b = nhefs.iloc[rng.integers(0, len(nhefs), len(nhefs))].reset_index(drop=True)
        boots.append(eh.weight(b, treatment="qsmk", outcome="wt82_71", covariates=NHEFS_COVS).estimate)
    boot_se = float(np.std(boots, ddof=1))
    print(f"IPW sandwich SE {est.se:.4f}, bootstrap SE (150 draws, score refitted) {boot_se:.4f}")
    # Monte Carlo error of a 150-draw bootstrap SE is ~6%
    assert abs(est.se / boot_se - 1) < 0.2


def test_atte_ipw_and_aipw_agree_on_dw_cps():
    causaldata = pytest.importorskip("causaldata")
    nsw = causaldata.nsw_mixtape.load_pandas().data
    cps = causaldata.cps_mixtape.load_pandas().data
    df = pd.concat([nsw[nsw.treat == 1], cps]).reset_index(drop=True).drop(columns="data_id").astype(float)
    df["u74"] = (df.re74 == 0).astype(float)
    df["u75"] = (df.re75 == 0).astype(float)
    covs = ["age", "educ", "black", "hisp", "marr", "nodegree", "re74", "re75", "u74", "u75"]
    ipw = eh.weight(df, treatment="treat", outcome="re78", covariates=covs, estimand="ATT")
    aipw = eh.weight(df, treatment="treat", outcome="re78", covariates=covs, estimand="ATT", method="aipw")
    print(f"DW CPS ATT: IPW {ipw.estimate:,.0f} [{ipw.ci[0]:,.0f}, {ipw.ci[1]:,.0f}]; "
          f"AIPW {aipw.estimate:,.0f} [{aipw.ci[0]:,.0f}, {aipw.ci[1]:,.0f}]")
    assert ipw.ci[0] <= 1794 <= ipw.ci[1]
    assert aipw.ci[0] <= 1794 <= aipw.ci[1]
    assert ipw.diagnostics["effective_sample_size"]["treated"] == pytest.approx(185)


def _simulate(rng, n, effect=1.0):
    x1 = rng.normal(size=n)
    x2 = rng.binomial(1, 0.4, size=n)
    e = 1 / (1 + np.exp(-(-0.5 + 0.9 * x1 + 0.7 * x2)))
    d = (rng.random(n) < e).astype(float)
    y = 2 + effect * d + 1.2 * x1 + 0.8 * x2 + rng.normal(size=n)
    return pd.DataFrame({"y": y, "d": d, "x1": x1, "x2": x2})


def _coverage(combos, reps, n, seed, effect=1.0):
    rng = np.random.default_rng(seed)
    ests = {c: [] for c in combos}
    cover = {c: 0 for c in combos}
    for _ in range(reps):
        df = _simulate(rng, n, effect)
        for method, estimand in combos:
            est = eh.weight(df, treatment="d", outcome="y", covariates=["x1", "x2"], method=method,
                            estimand=estimand)
            ests[(method, estimand)].append(est.estimate)
            cover[(method, estimand)] += est.ci[0] <= effect <= est.ci[1]
    for c in combos:
        bias, coverage = float(np.mean(ests[c]) - effect), cover[c] / reps
        print(f"{c[0]} {c[1]}: bias {bias:+.4f} ({100 * bias / effect:+.2f}% of the effect), coverage {coverage:.3f}")
        assert abs(bias) < 0.05 * effect, c
        assert 0.92 <= coverage <= 0.98, c


def test_simulation_bias_and_coverage_aipw_and_ipw():
    """400 datasets, constant effect 1: bias < 5%, 95% CI coverage 92-98% (Monte Carlo SE 1.1 points)."""
    _coverage([("aipw", "ATE"), ("ipw", "ATT")], reps=400, n=1000, seed=31)


@pytest.mark.slow
def test_simulation_bias_and_coverage_all_combinations_2000():
    _coverage([("ipw", "ATE"), ("ipw", "ATT"), ("aipw", "ATE"), ("aipw", "ATT")], reps=2000, n=2000, seed=32)


def test_trimming_counts_and_misspecified_outcome_model_is_rescued_by_aipw():
    rng = np.random.default_rng(3)
    n = 5000
    x = rng.normal(size=n)
    e = 1 / (1 + np.exp(-1.5 * x))
    d = (rng.random(n) < e).astype(float)
    y = 1.0 * d + np.exp(x) + rng.normal(size=n)  # outcome non-linear in x: linear model wrong
    df = pd.DataFrame({"x": x, "d": d, "y": y})
    a = eh.weight(df, treatment="d", outcome="y", covariates=["x"], method="aipw")
    assert a.ci[0] <= 1.0 <= a.ci[1]
    t = eh.weight(df, treatment="d", outcome="y", covariates=["x"], trim="crump")
    tr = t.diagnostics["trimmed"]
    assert tr["alpha"] > 0 and tr["treated"] + tr["control"] > 0
    assert t.n_treated + t.n_control + tr["treated"] + tr["control"] == n


@pytest.mark.parametrize(
    "kwargs, field",
    [({"method": "tmle"}, "method"), ({"estimand": "ATC"}, "estimand"), ({"trim": 0.7}, "trim"),
     ({"covariates": []}, "covariates"), ({"outcome": "nope"}, "outcome")],
)
def test_bad_options_raise_input_error(kwargs, field):
    df = _simulate(np.random.default_rng(0), 200)
    args = {"treatment": "d", "outcome": "y", "covariates": ["x1", "x2"], **kwargs}
    with pytest.raises(InputError) as info:
        eh.weight(df, **args)
    assert info.value.field == field


def test_no_controls_and_separation_are_input_errors():
    df = _simulate(np.random.default_rng(0), 200)
    with pytest.raises(InputError, match="no comparison"):
        eh.weight(df.assign(d=1.0), treatment="d", outcome="y", covariates=["x1"])
    with pytest.raises(InputError, match="perfectly predicts"):
        eh.weight(df.assign(z=df.d), treatment="d", outcome="y", covariates=["x1", "z"])
