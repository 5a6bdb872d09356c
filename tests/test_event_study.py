"""event_study: pyfixest peer values, hand-built statsmodels dummy regression, planted dynamics, errors."""

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


def test_castle_event_study_matches_pyfixest(castle, reference_dir):
    peer = yaml.safe_load((reference_dir / "twfe_pyfixest.yaml").read_text())
    case = next(c for c in peer["cases"] if c["name"].startswith("castle event study"))
    es = eh.event_study(castle, outcome="l_homicide", unit="sid", time="year", first_treated="first_treated",
                        leads=case["leads"], lags=case["lags"], reference=case["reference"])
    got = es.coefs.set_index("event_time")
    for name, value in case["coef"].items():
        k = (-1 if name[3] == "m" else 1) * int(name[4:])
        assert_allclose(got.loc[k, "estimate"], value, rtol=peer["tolerance"]["coef_rtol"])
        assert_allclose(got.loc[k, "se"], case["se"][name], rtol=peer["tolerance"]["se_rtol"])
    assert got.loc[-1, "estimate"] == 0 and got.loc[-1, "reference"]
    post = [v for n, v in case["coef"].items() if n.startswith("es_p")]
    assert_allclose(es.estimate, np.mean(post), rtol=1e-6)
    pt = es.diagnostics["pretrend_test"]
    assert pt["df"] == (3, 49) and 0 < pt["pvalue"] < 1
    assert "average of the 5 post-adoption coefficients" in es.method
    json.dumps(es.to_dict())


def _panel(rng, n_units=60, T=12, cohorts=(4, 7, None), dyn=lambda e: 0.5 + 0.2 * e, pre=lambda e: 0.0 * e,
           gaps=False):
    unit = np.repeat(np.arange(n_units), T)
    t = np.tile(np.arange(T), n_units)
    g = np.array([np.nan if c is None else c for c in cohorts])[np.arange(n_units) % len(cohorts)][unit]
    e = t - g
    effect = np.where(np.isnan(g), 0.0, np.where(e >= 0, dyn(np.nan_to_num(e)), pre(np.nan_to_num(e))))
    x = rng.normal(size=len(t))
    y = rng.normal(size=n_units)[unit] + rng.normal(size=T)[t] + 0.3 * x + effect + rng.normal(size=len(t))
    df = pd.DataFrame({"y": y, "x": x, "id": unit, "t": t, "g": g})
    if gaps:
        df = df.sample(frac=0.9, random_state=3).reset_index(drop=True)
    return df


@pytest.mark.parametrize("bin_endpoints, gaps, covs, reference", [
    (True, False, None, -1), (False, True, ["x"], -1), (True, True, ["x"], -2)])
def test_equals_hand_built_dummy_regression_in_statsmodels(bin_endpoints, gaps, covs, reference):
    import statsmodels.api as sm

    df = _panel(np.random.default_rng(8), gaps=gaps)
    leads, lags = 3, 2
    es = eh.event_study(df, outcome="y", unit="id", time="t", first_treated="g", leads=leads, lags=lags,
                        reference=reference, bin_endpoints=bin_endpoints, covariates=covs)
    # by hand: event-time dummies, unit and period dummies, OLS, CR1 by unit
    e = df.t - df.g
    if bin_endpoints:
        e = e.clip(-leads, lags)
        d = df
    else:
        keep = df.g.isna() | e.between(-leads, lags)
        d, e = df[keep], e[keep]
    cols = {}
    for k in range(-leads, lags + 1):
        if k != reference:
            cols[k] = (e == k).astype(float).to_numpy()
    X = np.column_stack([*cols.values(),
                         *( [d[covs].to_numpy()] if covs else []),
                         pd.get_dummies(d.id, drop_first=True, dtype=float).to_numpy(),
                         pd.get_dummies(d.t, drop_first=True, dtype=float).to_numpy(),
                         np.ones(len(d))])
    fit = sm.OLS(d.y.to_numpy(), X).fit(cov_type="cluster", cov_kwds={"groups": d.id.to_numpy()}, use_t=True)
    got = es.coefs.set_index("event_time")
    assert_allclose(got.loc[list(cols), "estimate"], fit.params[:len(cols)], rtol=1e-8, atol=1e-10)
    # statsmodels counts every dummy in K; fixest's rule (ours) leaves out the unit dummies nested in
    # the clusters: rescale its variance by (n-K_sm)/(n-K_ours)
    n, k_sm = len(d), X.shape[1]
    k_ours = len(cols) + (len(covs) if covs else 0) + d.t.nunique()
    assert_allclose(got.loc[list(cols), "se"], fit.bse[:len(cols)] * np.sqrt((n - k_sm) / (n - k_ours)),
                    rtol=1e-8)
    assert es.diagnostics["dropped_outside_window"] == (0 if bin_endpoints else int((~keep).sum()))


def test_planted_dynamic_effects_are_recovered_and_covered():
    """Cohort-homogeneous effects 0.5 + 0.2 min(e, 3): unbiased coefficients, CI coverage 92-98%.

    The effect is flat from event time 3 on, so the binned end point (e >= 3) has one true value.
    """
    rng = np.random.default_rng(21)
    truth = {k: 0.5 + 0.2 * k for k in range(0, 4)}
    avg_truth = np.mean(list(truth.values()))
    hits, ests, rejections = 0, [], 0
    reps = 200
    for _ in range(reps):
        df = _panel(rng, dyn=lambda e: 0.5 + 0.2 * np.minimum(e, 3))
        es = eh.event_study(df, outcome="y", unit="id", time="t", first_treated="g", leads=3, lags=3)
        hits += es.ci[0] <= avg_truth <= es.ci[1]
        ests.append(es.coefs.set_index("event_time")["estimate"])
        rejections += es.diagnostics["pretrend_test"]["pvalue"] < 0.05
    mean = pd.concat(ests, axis=1).mean(axis=1)
    cover = hits / reps
    print(f"event study: headline coverage {cover:.3f}; mean coefs {mean.round(3).to_dict()}; "
          f"pre-trend test size {rejections / reps:.3f}")
    for k, v in truth.items():
        assert abs(mean[k] - v) < 0.05
    for k in (-3, -2):
        assert abs(mean[k]) < 0.05
    assert 0.92 <= cover <= 0.98
    assert rejections / reps <= 0.10


def test_pretrend_test_detects_anticipation():
    rng = np.random.default_rng(5)
    pvals = []
    for _ in range(20):
        df = _panel(rng, pre=lambda e: np.where(e >= -2, 0.6, 0.0))
        es = eh.event_study(df, outcome="y", unit="id", time="t", first_treated="g", leads=3, lags=3,
                            reference=-3)
        pvals.append(es.diagnostics["pretrend_test"]["pvalue"])
    assert np.median(pvals) < 0.01
    assert any("pre-trends" in w for w in es.warnings)


def test_dates_and_never_treated_codes_give_the_same_answer():
    df = _panel(np.random.default_rng(2))
    base = eh.event_study(df, outcome="y", unit="id", time="t", first_treated="g", leads=2, lags=2)
    start = pd.Timestamp("2022-01-01")
    dd = df.assign(t=start + pd.to_timedelta(df.t * 7, unit="D"),
                   g=start + pd.to_timedelta(df.g * 7, unit="D"))  # NaN -> NaT: never treated
    dated = eh.event_study(dd, outcome="y", unit="id", time="t", first_treated="g", leads=2, lags=2)
    assert_allclose(dated.coefs.estimate, base.coefs.estimate, rtol=1e-12)
    zero = eh.event_study(df.assign(t=df.t + 1, g=(df.g + 1).fillna(0)), outcome="y", unit="id", time="t",
                          first_treated="g", leads=2, lags=2)  # R did convention: 0 = never
    assert_allclose(zero.coefs.estimate, base.coefs.estimate, rtol=1e-12)


def test_wild_inference_and_plot():
    df = _panel(np.random.default_rng(4), n_units=24)
    es = eh.event_study(df, outcome="y", unit="id", time="t", first_treated="g", leads=2, lags=2,
                        inference="wild", seed=1)
    assert "wild cluster bootstrap" in es.method
    assert es.diagnostics["wild_bootstrap"]["n_clusters"] == 24
    assert es.ci[0] < es.estimate < es.ci[1]
    c = es.coefs[~es.coefs.reference]
    assert ((c.ci_lower < c.estimate) & (c.estimate < c.ci_upper)).all()
    ax = es.plot()
    ax.figure.savefig("/tmp/event_study.png", dpi=80)
    assert ax.get_xlabel() == "periods relative to adoption"


@pytest.mark.parametrize("mutate, kwargs, field", [
    (lambda d: d, {"reference": 0}, "reference"),
    (lambda d: d, {"leads": -1}, "leads"),
    (lambda d: d, {"lags": 40}, "lags"),
    (lambda d: d.assign(g=np.where(d.index == 0, 99.0, d.g)), {}, "first_treated"),
    (lambda d: d.assign(t=pd.Timestamp("2020-01-01") + pd.to_timedelta(d.t * 7, unit="D"),
                        g=pd.Timestamp("2020-01-01") + pd.to_timedelta(np.where(d.index == 1, 5, d.g) * 7,
                                                                       unit="D")), {}, "first_treated"),
    (lambda d: d.assign(g=d.g.fillna(20)), {"bin_endpoints": False, "leads": 7, "lags": 7}, "lags"),
    (lambda d: d.drop(columns="g"), {}, "first_treated"),
    (lambda d: d.assign(g=d.g.astype(object).where(d.g.isna(), "soon")), {}, "first_treated"),
    (lambda d: d, {"inference": "exact"}, "inference"),
    (lambda d: d.assign(t=pd.Timestamp("2020-01-01") + pd.to_timedelta(d.t * 31, unit="D")), {},
     "first_treated"),  # dates in time, numbers in first_treated
])
def test_user_mistakes_raise_input_error(mutate, kwargs, field):
    df = mutate(_panel(np.random.default_rng(0), T=8))
    args = {"leads": 2, "lags": 2, **kwargs}
    with pytest.raises(InputError) as info:
        eh.event_study(df, outcome="y", unit="id", time="t", first_treated="g", **args)
    assert info.value.field == field
    assert "Fix:" in str(info.value)


def test_too_few_authorities_for_the_leads_is_said_not_raised():
    """`ehimpact demo --authorities 2` ended in LinAlgError: with 2 clusters the cluster-robust covariance
    of 6 leads has rank 1, so the joint pre-trend test does not exist; it is reported as not available."""
    import numpy as np
    import pandas as pd

    import ehimpact as eh

    rng = np.random.default_rng(2)
    months = pd.date_range("2020-01-01", periods=30, freq="MS")
    rows = [{"u": u, "t": t, "y": rng.normal(), "g": pd.Timestamp("2021-06-01") if u == "A" else pd.NaT}
            for u in ("A", "B") for t in months]
    est = eh.event_study(pd.DataFrame(rows), outcome="y", unit="u", time="t", first_treated="g", leads=6, lags=6)
    pt = est.diagnostics["pretrend_test"]
    assert pt["pvalue"] is None and pt["test"].startswith("not available") and pt["rank"] < 6
    assert any("cannot be tested" in w for w in est.warnings)
