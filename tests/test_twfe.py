"""twfe: pyfixest peer values, linearmodels equality, Bacon identity, bias under staggered effects, errors."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import yaml
from numpy.testing import assert_allclose

import ehimpact as eh
from ehimpact import InputError

causaldata = pytest.importorskip("causaldata")


@pytest.fixture(scope="module")
def castle():
    d = causaldata.castle.load_pandas().data.sort_values(["sid", "year"]).reset_index(drop=True).copy()
    d = d.astype({k: "float64" for k in d.columns if d[k].dtype == "float32"}).copy()
    nxt = d.groupby("sid")["post"].shift(-1).fillna(d["post"])
    d = d.assign(post_bacon=np.maximum(d["post"], nxt).astype(int))
    d = d.assign(first_treated=d.sid.map(d[d.post_bacon == 1].groupby("sid").year.min()))
    return d


@pytest.fixture(scope="module")
def peer(reference_dir):
    return yaml.safe_load((reference_dir / "twfe_pyfixest.yaml").read_text())


def _case(peer, prefix):
    return next(c for c in peer["cases"] if c["name"].startswith(prefix))


@pytest.mark.parametrize("prefix, kwargs, subset", [
    ("castle twfe, CRV1 by state", {}, None),
    ("castle twfe, CRV1 by year", {"cluster": "year"}, None),
    ("castle twfe, weights", {"covariates": ["l_police", "unemployrt"], "weights": "popwt"}, None),
    ("castle twfe, unbalanced", {}, "unbalanced"),
])
def test_matches_pyfixest(castle, peer, prefix, kwargs, subset):
    case = _case(peer, prefix)
    d = castle
    if subset == "unbalanced":
        d = castle[~((castle.sid % 7 == 0) & castle.year.isin([2001, 2004]))]
    est = eh.twfe(d, outcome="l_homicide", unit="sid", time="year", treatment="post_bacon", **kwargs)
    assert est.diagnostics["nobs"] == case["nobs"]
    got = est.coefficients.set_index("term")
    for term, value in case["coef"].items():
        assert_allclose(got.loc[term, "estimate"], value, rtol=peer["tolerance"]["coef_rtol"])
        assert_allclose(got.loc[term, "se"], case["se"][term], rtol=peer["tolerance"]["se_rtol"])


def test_published_twfe_and_bacon_diagnostic(castle, reference_dir):
    ref = yaml.safe_load((reference_dir / "bacon_castle.yaml").read_text())
    est = eh.twfe(castle, outcome="l_homicide", unit="sid", time="year", treatment="post_bacon")
    assert_allclose(est.estimate, ref["twfe_estimate"], rtol=1e-12)  # R lm() value in the bacondecomp notebook
    assert est.bacon is not None
    assert_allclose(est.bacon.weighted_sum, est.estimate, atol=1e-8)
    assert_allclose(est.bacon.comparisons.weight.sum(), 1.0, atol=1e-12)
    assert est.diagnostics["staggered"] and est.diagnostics["balanced"]
    assert any("staggered_did" in w for w in est.warnings)
    assert est.n_treated == 21 and est.n_control == 29
    json.dumps(est.to_dict())


def _panel(rng, n_units=40, T=8, cohorts=(3, 5, 99), effect=1.0, growth=0.0, gaps=False, weights=False):
    unit = np.repeat(np.arange(n_units), T)
    t = np.tile(np.arange(T), n_units)
    g = np.asarray(cohorts)[np.arange(n_units) % len(cohorts)][unit]
    d = (t >= g).astype(int)
    x = rng.normal(size=len(t))
    y = rng.normal(size=n_units)[unit] + rng.normal(size=T)[t] + 0.3 * x \
        + d * (effect + growth * (t - g)) + rng.normal(size=len(t))
    df = pd.DataFrame({"y": y, "d": d, "x": x, "id": unit, "t": t, "g": np.where(g < 99, g, np.nan)})
    if weights:
        df["w"] = rng.uniform(0.5, 2, n_units)[unit]
    if gaps:
        df = df.sample(frac=0.85, random_state=1).reset_index(drop=True)
    return df


@pytest.mark.parametrize("gaps, weights, covs", [(False, False, None), (True, False, ["x"]),
                                                 (True, True, ["x"]), (False, True, None)])
def test_equals_linearmodels_panelols(gaps, weights, covs):
    """Coefficients and clustered SEs equal linearmodels PanelOLS (an independent implementation)."""
    from linearmodels import PanelOLS

    df = _panel(np.random.default_rng(5), gaps=gaps, weights=weights)
    est = eh.twfe(df, outcome="y", unit="id", time="t", treatment="d", covariates=covs,
                  weights="w" if weights else None)
    p = df.set_index(["id", "t"])
    exog = p[["d", *(covs or [])]]
    res = PanelOLS(p.y, exog, entity_effects=True, time_effects=True,
                   weights=p.w if weights else None).fit(cov_type="clustered", cluster_entity=True,
                                                           debiased=False, group_debias=False)
    got = est.coefficients.set_index("term")
    assert_allclose(got["estimate"], res.params.to_numpy(), rtol=1e-8, atol=1e-10)
    # linearmodels 7.1 (debiased=False) scales the clustered variance by n / (n - absorbed effects);
    # ours is fixest's G/(G-1) (n-1)/(n-K), K = slopes + period effects (unit effects nested in clusters)
    n, G, T = est.diagnostics["nobs"], est.diagnostics["n_clusters"], est.diagnostics["n_periods"]
    n_units = est.diagnostics["n_units"]
    ours = G / (G - 1) * (n - 1) / (n - exog.shape[1] - T)
    theirs = n / (n - (n_units + T - 1))
    assert_allclose(got["se"], res.std_errors.to_numpy() * np.sqrt(ours / theirs), rtol=1e-7)


def test_datetime_periods_give_the_same_answer():
    df = _panel(np.random.default_rng(2))
    est = eh.twfe(df, outcome="y", unit="id", time="t", treatment="d")
    df2 = df.assign(t=pd.Timestamp("2021-04-01") + pd.to_timedelta(df.t * 7, unit="D"))
    est2 = eh.twfe(df2, outcome="y", unit="id", time="t", treatment="d")
    assert_allclose(est2.estimate, est.estimate, rtol=1e-12)
    assert_allclose(est2.se, est.se, rtol=1e-12)


def test_unbiased_and_covers_with_homogeneous_effect():
    """Constant effect: TWFE is unbiased and its CR1 CI covers 92-98% (200 panels x 60 units)."""
    rng = np.random.default_rng(11)
    hits, ests = 0, []
    for _ in range(200):
        est = eh.twfe(_panel(rng, n_units=60, effect=1.0), outcome="y", unit="id", time="t", treatment="d",
                      decompose=False)
        hits += est.ci[0] <= 1.0 <= est.ci[1]
        ests.append(est.estimate)
    cover, bias = hits / 200, np.mean(ests) - 1.0
    print(f"twfe homogeneous effect: coverage {cover:.3f}, bias {bias:+.4f}")
    assert 0.92 <= cover <= 0.98
    assert abs(bias) < 0.03


def test_biased_under_heterogeneous_staggered_effects():
    """Effects growing with time since adoption: TWFE is biased (the motivation for staggered_did).

    True average effect among treated observations is computed from the simulation; the TWFE
    estimate is far below it, because later adopters are compared with already-treated units.
    """
    rng = np.random.default_rng(12)
    biases = []
    for _ in range(30):
        df = _panel(rng, n_units=60, T=10, cohorts=(2, 5, 99), effect=0.0, growth=0.5)
        treated = df[df.d == 1]
        truth = float((0.5 * (treated.t - treated.g)).mean())
        est = eh.twfe(df, outcome="y", unit="id", time="t", treatment="d")
        biases.append(est.estimate - truth)
    rel = np.mean(biases) / truth
    print(f"twfe under growing staggered effects: mean bias {np.mean(biases):+.3f} vs truth {truth:.3f} "
          f"({100 * rel:+.0f}%), forbidden Bacon weight {est.bacon.forbidden_weight:.2f}")
    assert rel < -0.3  # more than 30% too small
    assert est.bacon.forbidden_weight > 0.1


def test_wild_inference_replaces_p_value_and_ci(castle):
    est = eh.twfe(castle, outcome="l_homicide", unit="sid", time="year", treatment="post_bacon",
                  inference="wild", seed=3)
    wb = est.diagnostics["wild_bootstrap"]
    assert wb["n_clusters"] == 50 and not wb["enumerated"] and wb["draws"] == 999
    assert_allclose(wb["se"] * 0 + est.ci[0], wb["ci"][0])
    assert est.ci[0] < est.estimate < est.ci[1]
    assert "wild cluster bootstrap" in est.method
    again = eh.twfe(castle, outcome="l_homicide", unit="sid", time="year", treatment="post_bacon",
                    inference="wild", seed=3)
    assert again.ci == est.ci and again.pvalue == est.pvalue  # deterministic given the seed


@pytest.mark.parametrize("mutate, kwargs, field", [
    (lambda d: d.drop(columns="y"), {}, "outcome"),
    (lambda d: d.assign(d=d.d * 2), {}, "treatment"),
    (lambda d: d.assign(y=d.y.where(d.index != 3)), {}, "outcome"),
    (lambda d: pd.concat([d, d.iloc[[0]]]), {}, "time"),
    (lambda d: d.assign(d=(d.t >= 3).astype(int)), {}, "treatment"),   # everyone adopts at once
    (lambda d: d.assign(c=d.id * 1.0), {"covariates": ["c"]}, "covariates"),  # fixed within unit
    (lambda d: d.assign(c=2 * d.x), {"covariates": ["x", "c"]}, "covariates"),
    (lambda d: d.assign(w=-1.0), {"weights": "w"}, "weights"),
    (lambda d: d.assign(one=1), {"cluster": "one"}, "cluster"),
    (lambda d: d, {"inference": "bayes"}, "inference"),
])
def test_user_mistakes_raise_input_error(mutate, kwargs, field):
    df = mutate(_panel(np.random.default_rng(0)))
    with pytest.raises(InputError) as info:
        eh.twfe(df, outcome="y", unit="id", time="t", treatment="d", **kwargs)
    assert info.value.field == field
    assert "Fix:" in str(info.value)
