"""Wild cluster bootstrap: wildboottest peer value, exact identities, few-cluster coverage."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import yaml
from numpy.testing import assert_allclose
from scipy import stats

import ehimpact as eh
from ehimpact import InputError
from ehimpact.estimators.inference import wild_cluster_bootstrap


def _small_cluster_data() -> pd.DataFrame:
    """Same generator as tests/reference/make_twfe_references.py:small_cluster_data()."""
    rng = np.random.default_rng(20261123)
    G, m = 10, 30
    g = np.repeat(np.arange(G), m)
    x = rng.normal(size=G * m) + rng.normal(size=G)[g]
    y = 1 + 0.15 * x + rng.normal(size=G)[g] + rng.normal(size=G * m)
    return pd.DataFrame({"y": y, "x": x, "g": g})


def test_matches_wildboottest_full_enumeration(reference_dir):
    ref = yaml.safe_load((reference_dir / "twfe_pyfixest.yaml").read_text())["wild"]
    d = _small_cluster_data()
    X = np.column_stack([np.ones(len(d)), d.x])
    res = wild_cluster_bootstrap(d.y.to_numpy(), X, 1, d.g.to_numpy())
    assert res.enumerated and res.draws == 1024
    assert_allclose(res.t_stat, ref["t_stat"], rtol=1e-10)
    assert_allclose(res.pvalue, ref["pvalue"], atol=ref["pvalue_atol"])


def test_t_statistic_is_the_cr1_t_and_ci_inverts_the_test():
    import statsmodels.api as sm

    d = _small_cluster_data()
    X = np.column_stack([np.ones(len(d)), d.x])
    fit = sm.OLS(d.y.to_numpy(), X).fit(cov_type="cluster", cov_kwds={"groups": d.g.to_numpy()}, use_t=True)
    res = wild_cluster_bootstrap(d.y.to_numpy(), X, 1, d.g.to_numpy(), level=0.9)
    assert_allclose(res.se, fit.bse[1], rtol=1e-12)
    assert_allclose(res.t_stat, fit.tvalues[1], rtol=1e-12)
    lo, hi = res.ci
    # just inside the limits the null is not rejected at 10%; just outside it is
    step = 1e-4 * res.se
    for limit, inward in ((lo, +1), (hi, -1)):
        p_in = wild_cluster_bootstrap(d.y.to_numpy(), X, 1, d.g.to_numpy(), null=limit + inward * step).pvalue
        p_out = wild_cluster_bootstrap(d.y.to_numpy(), X, 1, d.g.to_numpy(), null=limit - inward * step).pvalue
        assert p_in >= 0.1 > p_out, (p_in, p_out)


def test_contrast_equals_reparametrised_coefficient():
    """Testing R'b for R = (0, 1, 1) equals testing one coefficient after reparametrising."""
    rng = np.random.default_rng(1)
    g = np.repeat(np.arange(9), 25)
    a, b = rng.normal(size=(2, len(g)))
    y = 0.3 * a + 0.2 * b + rng.normal(size=9)[g] + rng.normal(size=len(g))
    X = np.column_stack([np.ones(len(g)), a, b])
    r1 = wild_cluster_bootstrap(y, X, np.array([0.0, 1.0, 1.0]), g, null=0.5)
    # y = c + b1 a + b2 b = c + (b1+b2) a + b2 (b - a)
    r2 = wild_cluster_bootstrap(y, np.column_stack([np.ones(len(g)), a, b - a]), 1, g, null=0.5)
    assert_allclose(r1.estimate, r2.estimate, rtol=1e-12)
    assert_allclose(r1.t_stat, r2.t_stat, rtol=1e-10)
    assert r1.pvalue == r2.pvalue
    assert_allclose(r1.ci, r2.ci, rtol=1e-6)


def test_deterministic_and_weight_types():
    d = _small_cluster_data()
    X = np.column_stack([np.ones(len(d)), d.x])
    y, g = d.y.to_numpy(), d.g.to_numpy()
    assert wild_cluster_bootstrap(y, X, 1, g, seed=1) == wild_cluster_bootstrap(y, X, 1, g, seed=2) or \
        wild_cluster_bootstrap(y, X, 1, g, seed=1).pvalue == wild_cluster_bootstrap(y, X, 1, g, seed=2).pvalue
    w1 = wild_cluster_bootstrap(y, X, 1, g, weight_type="webb", seed=5, draws=1999)
    w2 = wild_cluster_bootstrap(y, X, 1, g, weight_type="webb", seed=5, draws=1999)
    w3 = wild_cluster_bootstrap(y, X, 1, g, weight_type="webb", seed=6, draws=1999)
    assert w1 == w2 or (w1.pvalue == w2.pvalue and w1.ci == w2.ci)
    assert not w1.enumerated and w1.draws == 1999
    assert w3.pvalue != w1.pvalue or w3.ci != w1.ci
    assert abs(w1.pvalue - wild_cluster_bootstrap(y, X, 1, g).pvalue) < 0.05
    big = np.repeat(np.arange(20), 15)
    r = wild_cluster_bootstrap(y, X, 1, big, seed=3, draws=999)
    assert not r.enumerated and r.draws == 999


def test_weighted_fit_uses_wls():
    import statsmodels.api as sm

    d = _small_cluster_data()
    w = np.random.default_rng(2).uniform(0.5, 2, len(d))
    X = np.column_stack([np.ones(len(d)), d.x])
    fit = sm.WLS(d.y.to_numpy(), X, weights=w).fit(cov_type="cluster", cov_kwds={"groups": d.g.to_numpy()},
                                                  use_t=True)
    res = wild_cluster_bootstrap(d.y.to_numpy(), X, 1, d.g.to_numpy(), weights=w)
    assert_allclose(res.estimate, fit.params[1], rtol=1e-12)
    assert_allclose(res.t_stat, fit.tvalues[1], rtol=1e-10)


def _few_cluster_did(rng: np.random.Generator, G: int = 12, n_treated: int = 4) -> pd.DataFrame:
    """12 authorities of very unequal size, 4 adopt; heavy-tailed, heteroskedastic errors."""
    sizes = np.round(np.exp(np.linspace(np.log(15), np.log(300), G))).astype(int)
    rng.shuffle(sizes)
    area = np.repeat(np.arange(G), 2 * sizes)
    post = np.concatenate([np.repeat([0, 1], s) for s in sizes])
    treated = (area < n_treated).astype(int)
    shock = rng.normal(0, 0.5, (G, 2))[area, post]
    e = rng.standard_t(5, size=len(area)) * (1 + treated)
    y = 0.2 * treated + 0.1 * post + shock + e  # true effect 0
    return pd.DataFrame({"y": y, "t": treated, "p": post, "a": area})


def _coverage(reps: int, seed: int) -> tuple[float, float]:
    rng = np.random.default_rng(seed)
    analytic = wild = 0
    crit = stats.t(11).ppf(0.975)
    for _ in range(reps):
        est = eh.did_2x2(_few_cluster_did(rng), outcome="y", treated="t", post="p", cluster="a",
                         inference="wild")
        analytic += abs(est.estimate) <= crit * est.se   # CR1 with t(G-1): the analytic interval
        wild += est.ci[0] <= 0.0 <= est.ci[1]
    return analytic / reps, wild / reps


def test_twelve_clusters_wild_covers_where_cr1_undercovers():
    """400 simulated 12-cluster DiDs: CR1 t(11) intervals under-cover, wild bootstrap covers 92-98%.

    Monte Carlo SE of a 400-draw coverage near 0.94 is 1.2 points; the slow test uses 2,000.
    """
    analytic, wild = _coverage(400, seed=2026)
    print(f"12 clusters, 4 treated: analytic CR1 coverage {analytic:.3f}, wild bootstrap coverage {wild:.3f}")
    assert analytic < 0.91
    assert 0.92 <= wild <= 0.98
    assert wild - analytic > 0.03


@pytest.mark.slow
def test_twelve_clusters_coverage_2000_replications():
    analytic, wild = _coverage(2000, seed=7)
    print(f"12 clusters, 4 treated, 2000 reps: analytic CR1 coverage {analytic:.4f}, wild {wild:.4f}")
    assert analytic < 0.91
    assert 0.93 <= wild <= 0.97


def test_input_errors():
    d = _small_cluster_data()
    X = np.column_stack([np.ones(len(d)), d.x])
    with pytest.raises(InputError, match="webb") as info:
        wild_cluster_bootstrap(d.y, X, 1, d.g, weight_type="mammen")
    assert info.value.field == "wild_weights"
    with pytest.raises(InputError) as info:
        wild_cluster_bootstrap(d.y, X, 1, np.zeros(len(d)))
    assert info.value.field == "cluster"
    with pytest.raises(InputError) as info:
        wild_cluster_bootstrap(d.y, X, 1, d.g, draws=10, weight_type="webb")
    assert info.value.field == "bootstrap_draws"
    with pytest.raises(InputError) as info:
        wild_cluster_bootstrap(d.y, np.column_stack([X, X[:, 1]]), 1, d.g)
    assert info.value.field == "covariates"
    df = pd.DataFrame({"y": d.y, "t": (d.g < 5).astype(int), "p": (np.arange(len(d)) % 2)})
    with pytest.raises(InputError) as info:
        eh.did_2x2(df, outcome="y", treated="t", post="p", inference="wild")
    assert info.value.field == "cluster"


@pytest.mark.parametrize("which", [0, 1])
def test_twfe_wild_matches_pyfixest_dummy_bootstrap(reference_dir, which):
    """Absorbed unit and year effects: the same 4,096 enumerated draws as pyfixest's one-hot model."""
    causaldata = pytest.importorskip("causaldata")
    ref = yaml.safe_load((reference_dir / "twfe_pyfixest.yaml").read_text())["wild_fe"][which]
    d = causaldata.castle.load_pandas().data.sort_values(["sid", "year"]).reset_index(drop=True).copy()
    d = d.astype({k: "float64" for k in d.columns if d[k].dtype == "float32"}).copy()
    nxt = d.groupby("sid")["post"].shift(-1).fillna(d["post"])
    d = d.assign(post_bacon=np.maximum(d["post"], nxt).astype(int))
    d = d[d.sid.isin(ref["states"])]
    if which == 1:
        d = d[~(d.sid.isin([2, 5]) & (d.year == 2001))]
    assert len(d) == ref["nobs"]
    est = eh.twfe(d, outcome="l_homicide", unit="sid", time="year", treatment="post_bacon", inference="wild")
    wb = est.diagnostics["wild_bootstrap"]
    assert wb["enumerated"] and wb["draws"] == 4096 and wb["fixed_effects"] == "exact"
    # The draws v = +1 and v = -1 reproduce |t| exactly.  ehimpact always counts these two ties;
    # pyfixest tests |t*| > |t| in floating point, so rounding decides (it counted them in the
    # balanced case, not in the unbalanced one).  Every other draw must agree exactly.
    ties = 2 / 4096
    assert min(abs(est.pvalue - ref["pvalue"]), abs(est.pvalue - ties - ref["pvalue"])) <= ref["pvalue_atol"]


def _authority_panel(rng: np.random.Generator, G: int = 12, T: int = 16, n_treated: int = 6) -> pd.DataFrame:
    """12 authorities x 16 periods, half adopt at period 8; AR(1) t-distributed errors, unequal variances."""
    unit = np.repeat(np.arange(G), T)
    t = np.tile(np.arange(T), G)
    d = ((unit < n_treated) & (t >= 8)).astype(int)
    sd = np.exp(rng.normal(0, 0.7, G))[unit]
    e = np.zeros((G, T))
    z = rng.standard_t(4, (G, T))
    for s in range(T):
        e[:, s] = (0.7 * e[:, s - 1] if s else 0.0) + z[:, s]
    y = rng.normal(size=G)[unit] + 0.05 * t + e.ravel() * sd  # true effect 0
    return pd.DataFrame({"y": y, "d": d, "u": unit, "t": t})


@pytest.mark.slow
def test_twfe_wild_coverage_in_a_twelve_authority_panel():
    """1,000 simulated 12-authority panels: wild bootstrap (exact FE handling) covers 92-98%."""
    rng = np.random.default_rng(31)
    crit = stats.t(11).ppf(0.975)
    analytic = wild = 0
    reps = 1000
    for _ in range(reps):
        est = eh.twfe(_authority_panel(rng), outcome="y", unit="u", time="t", treatment="d",
                      inference="wild", decompose=False)
        analytic += abs(est.estimate) <= crit * est.se
        wild += est.ci[0] <= 0.0 <= est.ci[1]
    print(f"twfe, 12 authorities: analytic CR1 coverage {analytic / reps:.3f}, wild {wild / reps:.3f}")
    assert 0.92 <= wild / reps <= 0.98


@pytest.mark.parametrize("weighted, unbalanced", [(True, False), (True, True), (False, True)])
def test_absorbed_effects_bootstrap_equals_dummy_regression_bootstrap(weighted, unbalanced):
    """twfe(inference="wild") gives the same p-value and CI as bootstrapping the explicit dummy model."""
    rng = np.random.default_rng(40)
    df = _authority_panel(rng, G=10, T=9, n_treated=4)
    df["w"] = rng.uniform(0.5, 3.0, 10)[df.u] if weighted else 1.0
    if unbalanced:
        df = df.drop(index=[3, 20, 41, 77]).reset_index(drop=True)
    est = eh.twfe(df, outcome="y", unit="u", time="t", treatment="d", inference="wild",
                  weights="w" if weighted else None, decompose=False)
    X = np.column_stack([df.d, pd.get_dummies(df.u, dtype=float).to_numpy(),
                         pd.get_dummies(df.t, drop_first=True, dtype=float).to_numpy()])
    ref = wild_cluster_bootstrap(df.y.to_numpy(), X, 0, df.u.to_numpy(),
                                 weights=df.w.to_numpy() if weighted else None)
    wb = est.diagnostics["wild_bootstrap"]
    assert wb["fixed_effects"] == "exact" and ref.fixed_effects == "none"
    assert_allclose(wb["estimate"], ref.estimate, rtol=1e-9)
    assert wb["pvalue"] == ref.pvalue
    assert_allclose(wb["ci"], ref.ci, rtol=1e-6)


def test_four_clusters_rademacher_interval_is_unbounded_webb_is_not():
    """With 4 clusters the 16 Rademacher sign vectors cannot reject anything at 5%: say so, don't search to 1e13.

    The two equal-sign vectors reproduce the sample's own t at every null value, so the p-value
    never falls below 2/16.  Webb's six-point weights (6**4 = 1296 vectors) bound the interval.
    """
    rng = np.random.default_rng(7)
    g = np.repeat(np.arange(4), 40)
    x = rng.normal(size=len(g)) + rng.normal(size=4)[g]
    y = 0.5 * x + rng.normal(size=4)[g] + rng.normal(size=len(g))
    X = np.column_stack([np.ones(len(g)), x])
    rad = wild_cluster_bootstrap(y, X, 1, g)
    assert rad.enumerated and rad.draws == 16
    assert rad.ci == (-np.inf, np.inf)
    assert rad.pvalue >= 2 / 16
    for far in (10.0, 1e3, 1e4):  # no value is rejected as far out as the search goes
        assert wild_cluster_bootstrap(y, X, 1, g, null=rad.estimate + far * rad.se).pvalue >= 0.05
    webb = wild_cluster_bootstrap(y, X, 1, g, weight_type="webb", draws=999, seed=3)
    lo, hi = webb.ci
    assert np.isfinite(lo) and np.isfinite(hi) and lo < webb.estimate < hi
    assert hi - lo < 200 * webb.se


def test_unbounded_interval_is_worded_for_a_reader():
    est = eh.Estimate(estimate=-3.0, se=2.0, ci=(-np.inf, np.inf), pvalue=0.4, n_treated=3, n_control=1,
                      estimand="ATT", method="m", outcome="referrals_rate", scale="level", units="authorities")
    assert "unbounded: the data cannot rule out any size of effect" in est.headline()
    assert "-inf" not in est.headline() and "inf" not in est.headline().replace("information", "")
