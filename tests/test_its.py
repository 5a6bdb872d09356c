"""eh.its: published reference (Lopez Bernal et al. 2017), equivalence with statsmodels, user errors, outputs."""

from __future__ import annotations

import hashlib
import json

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
import yaml
from numpy.testing import assert_allclose

import ehimpact as eh
from ehimpact import InputError
from ehimpact.estimators.its import (
    ITSResult,
    _ewc_contrasts,
    ewc_long_run_variance,
    ewc_terms,
    newey_west_lags,
)


@pytest.fixture(scope="module")
def sicily(reference_dir):
    return pd.read_csv(reference_dir / "its_sicily.csv")


@pytest.fixture(scope="module")
def spec(reference_dir):
    return yaml.safe_load((reference_dir / "its_sicily.yaml").read_text())


def _fit_case(sicily, case, **extra):
    return eh.its(sicily, outcome="aces", time="time", intervention=37, family=case["family"], offset="stdpop",
                  seasonality=case["seasonality"], slope_change=case["slope_change"], **extra)


# ---------------------------------------------------------------------------- published reference
def test_sicily_data_is_the_published_file(sicily, reference_dir):
    digest = hashlib.md5((reference_dir / "its_sicily.csv").read_bytes()).hexdigest()
    assert digest == "633952291c39be7e169573b0e25b45b4"  # as recorded in its_sicily.yaml
    assert len(sicily) == 59
    assert sicily.loc[sicily["smokban"] == 1, "time"].min() == 37


@pytest.mark.parametrize("idx", range(4))
def test_lopez_bernal_2017_sicily_models(sicily, spec, idx):
    case = spec["cases"][idx]
    tol = spec["tolerance"]
    res = _fit_case(sicily, case)
    coef = res.coefficients.set_index("term")
    assert_allclose(coef.loc["level", "coef"], case["coef"], rtol=tol["coef_rtol"])
    assert_allclose(coef.loc["level", "se"], case["se"], rtol=tol["se_rtol"])
    assert_allclose(res.estimate, case["rr"], rtol=tol["coef_rtol"])
    assert_allclose(res.ci, (case["lo"], case["hi"]), rtol=tol["se_rtol"])
    # to the published precision (3 decimals)
    assert [round(v, 3) for v in (res.estimate, *res.ci)] == case["rr_3dp"], case["name"]
    assert res.scale == "ratio"
    if "dispersion" in case:
        assert_allclose(res.diagnostics["pearson_dispersion"], case["dispersion"], rtol=tol["se_rtol"])
    if "trend_per_year" in case:
        assert_allclose(np.exp(12 * coef.loc["time", "coef"]), case["trend_per_year"], rtol=tol["coef_rtol"])
    if "slope_coef" in case:
        assert_allclose(np.log(res.slope_change.estimate), case["slope_coef"], rtol=1e-6)
        assert_allclose(res.slope_change.se, case["slope_se"], rtol=tol["se_rtol"])


def test_sicily_by_date_with_calendar_months_matches(sicily, spec):
    """Dates and calendar-month Fourier terms give the same model as time=1..59 (time = month mod 12)."""
    case = spec["cases"][2]
    d = sicily.assign(date=pd.to_datetime(dict(year=sicily.year, month=sicily.month, day=1)))
    res = eh.its(d, outcome="aces", time="date", intervention="2005-01-10", family="quasipoisson", offset="stdpop",
                 seasonality=2, slope_change=False)
    assert_allclose(res.estimate, case["rr"], rtol=1e-7)
    assert res.n_pre == 36 and res.n_post == 23 and res.period == "month"


# ---------------------------------------------------------------------------- equivalence
def _design(n, t0, month, covariate):
    t = np.arange(n, dtype=float)
    post = (t >= t0).astype(float)
    cols = [np.ones(n), t, post, np.where(t >= t0, t - t0 + 1, 0.0)]
    for j in (1, 2):
        cols += [np.sin(2 * np.pi * j * month / 12), np.cos(2 * np.pi * j * month / 12)]
    cols.append(covariate)
    return np.column_stack(cols)


def _count_series(seed=3, n=72, t0=40):
    rng = np.random.default_rng(seed)
    month = (np.arange(n) % 12) + 1.0
    pop = rng.uniform(40_000, 45_000, n)
    cov = rng.normal(size=n)
    X = _design(n, t0, month, cov)
    beta = np.array([np.log(60 / 10_000), 0.004, -0.15, -0.01, 0.1, 0.05, 0.02, -0.03, 0.05])
    y = rng.poisson(np.exp(X @ beta + np.log(pop)))
    df = pd.DataFrame({"period": pd.date_range("2015-01-01", periods=n, freq="MS"), "referrals": y,
                       "children": pop, "unemployment": cov})
    return df, X, np.log(pop)


def test_poisson_point_estimates_equal_statsmodels_glm():
    df, X, off = _count_series()
    res = eh.its(df, outcome="referrals", time="period", intervention="2018-05-01", family="poisson",
                 offset="children", seasonality=2, covariates="unemployment")
    ref = sm.GLM(df["referrals"].to_numpy(), X, family=sm.families.Poisson(), offset=off).fit()
    assert_allclose(res.coefficients["coef"].to_numpy(), ref.params, rtol=0, atol=1e-8)
    assert_allclose(res.coefficients["se"].to_numpy(), ref.bse, rtol=1e-8)
    assert_allclose(np.log(res.estimate), ref.params[2], atol=1e-8)
    assert_allclose(res.counterfactual["fitted"].to_numpy(), ref.fittedvalues, rtol=1e-8)


def test_gaussian_hac_and_gls_equal_statsmodels():
    rng = np.random.default_rng(11)
    n, t0 = 96, 50
    month = (np.arange(n) % 12) + 1.0
    X = _design(n, t0, month, rng.normal(size=n))[:, :-1]
    y = X @ np.array([50, 0.1, -4, -0.2, 2, 1, 0.5, 0.2]) + rng.normal(0, 2, n)
    df = pd.DataFrame({"t": np.arange(1, n + 1), "m": month, "y": y})
    lags = newey_west_lags(n)
    hac = eh.its(df, outcome="y", time="t", intervention=t0 + 1, seasonality=2, inference="hac", hac_kernel="newey-west")
    ref = sm.OLS(y, X).fit(cov_type="HAC", cov_kwds={"maxlags": lags, "use_correction": True}, use_t=True)
    assert_allclose(hac.coefficients["coef"], ref.params, rtol=1e-9)
    assert_allclose(hac.coefficients["se"], ref.bse, rtol=1e-9)
    assert_allclose(hac.coefficients["ci_lower"], ref.conf_int()[:, 0], rtol=1e-9)
    assert hac.diagnostics["hac_lags"] == lags == 3  # floor(4 * 0.96 ** (2/9)) = floor(3.96)
    assert "Newey-West" in hac.method and any("Newey-West" in w for w in hac.warnings)
    # hac_lags= alone selects classic Newey-West too
    hac6 = eh.its(df, outcome="y", time="t", intervention=t0 + 1, seasonality=2, inference="hac", hac_lags=6)
    ref6 = sm.OLS(y, X).fit(cov_type="HAC", cov_kwds={"maxlags": 6, "use_correction": True}, use_t=True)
    assert_allclose(hac6.coefficients["se"], ref6.bse, rtol=1e-9)
    gls2 = eh.its(df, outcome="y", time="t", intervention=t0 + 1, seasonality=2, inference="gls", ar_order=2)
    g = sm.GLSAR(y, X, rho=2).iterative_fit(maxiter=50)
    assert_allclose(gls2.coefficients["coef"], g.params, rtol=1e-9)
    assert_allclose(gls2.coefficients["se"], g.bse, rtol=1e-9)
    assert "GLSAR" in gls2.method


def test_gls_ar1_reml_matches_nlme(reference_dir):
    ref = yaml.safe_load((reference_dir / "its_ar1_reml.yaml").read_text())
    d = pd.read_csv(reference_dir / "its_ar1_simulated.csv")
    res = eh.its(d, outcome="rate", time="time", intervention=49, seasonality=1, inference="gls")
    coef = res.coefficients.set_index("term")
    rtol = ref["tolerance"]["rtol"]
    for term, v in ref["terms"].items():
        assert_allclose(coef.loc[term, "coef"], v["coef"], rtol=rtol, err_msg=term)
        assert_allclose(coef.loc[term, "se"], v["se"], rtol=rtol, err_msg=term)
    assert_allclose(coef.loc["const", "coef"] - coef.loc["time", "coef"], ref["intercept_at_time_1"], rtol=rtol)
    assert_allclose(res.diagnostics["ar_coefficients"][0], ref["phi"], rtol=rtol)
    assert_allclose(res.estimate, ref["terms"]["level"]["coef"], rtol=rtol)
    assert "REML" in res.method


# ---------------------------------------------------------------------------- HAR (EWC) inference
@pytest.fixture(scope="module")
def ewc_ref(reference_dir):
    return yaml.safe_load((reference_dir / "its_ewc.yaml").read_text())


def test_ewc_long_run_variance_matches_r(ewc_ref):
    """EWC Omega on a fixed series: R's loop over the LLSW definition, and scipy's type II DCT."""
    from scipy.fft import dct

    z = np.column_stack([ewc_ref["series"]["z1"], ewc_ref["series"]["z2"]])
    T = len(z)
    for case in ewc_ref["omega"]:
        om = ewc_long_run_variance(z, terms=case["nu"])
        want = [[case["omega11"], case["omega12"]], [case["omega12"], case["omega22"]]]
        assert_allclose(om, want, rtol=ewc_ref["tolerance"]["rtol"], err_msg=f"nu={case['nu']}")
        # scipy's unnormalised DCT-II is 2 sum_t z_t cos(pi k (2t+1) / 2T), t = 0..T-1: Lambda_j = sqrt(2/T) dct_j / 2
        lam = np.sqrt(2 / T) * dct(z, type=2, axis=0)[1:case["nu"] + 1] / 2
        assert_allclose(om, lam.T @ lam / case["nu"], rtol=1e-12)
    assert ewc_long_run_variance(z[:, 0]).shape == (1, 1)
    with pytest.raises(InputError, match="cosine terms") as exc:
        ewc_long_run_variance(z, terms=T)
    assert exc.value.field == "hac_terms"


def test_ewc_terms_rule():
    # floor(0.4 T^(2/3)) (Lazarus et al. 2018)
    assert [ewc_terms(n) for n in (24, 60, 96, 120, 240, 1000)] == [3, 6, 8, 9, 15, 40]


def test_har_its_design_matches_r(reference_dir, ewc_ref):
    """inference="hac" on the frozen AR(1) series: plain EWC SEs, design factor, df and corrected SEs as R."""
    from scipy import stats

    d = pd.read_csv(reference_dir / "its_ar1_simulated.csv")
    res = eh.its(d, outcome="rate", time="time", intervention=49, seasonality=1, inference="hac")
    ref = ewc_ref["its_design"]
    rtol = ewc_ref["tolerance"]["rtol"]
    coef = res.coefficients.set_index("term")
    names = list(coef.index)
    assert res.diagnostics["ewc_terms"] == ref["nu"] == 8
    for term, v in ref["terms"].items():
        i = names.index(term)
        assert_allclose(coef.loc[term, "coef"], v["coef"], rtol=1e-10, atol=1e-12, err_msg=term)
        assert_allclose(res.diagnostics["ewc_plain_se"][i], v["plain_se"], rtol=rtol, err_msg=term)
        assert_allclose(res.diagnostics["ewc_kappa"][i], v["kappa"], rtol=rtol, err_msg=term)
        assert_allclose(res.diagnostics["ewc_df"][i], v["df"], rtol=rtol, err_msg=term)
        assert_allclose(coef.loc[term, "se"], v["se"], rtol=rtol, err_msg=term)
        half = stats.t.ppf(0.975, v["df"]) * v["se"]
        assert_allclose(coef.loc[term, "ci_upper"] - coef.loc[term, "coef"], half, rtol=1e-9, err_msg=term)
    lv = ref["terms"]["level"]
    assert_allclose(res.se, lv["se"], rtol=rtol)
    assert_allclose(res.diagnostics["har_df_level"], lv["df"], rtol=rtol)
    assert "HAR" in res.method and "cosine" in res.method
    assert not any("Newey-West" in w for w in res.warnings)


def test_har_contrasts_equal_brute_force():
    """The chunked, vectorised contrasts equal explicit n x n matrices for arbitrary contrasts and two series."""
    rng = np.random.default_rng(4)
    T = 40
    period = np.concatenate([np.arange(T), np.arange(T)])  # two series sharing periods
    g = np.repeat([1.0, 0.0], T)
    t = period.astype(float)
    X = np.column_stack([np.ones(2 * T), t, g, g * t, (t >= 20) * 1.0, g * (t >= 20), np.sin(t)])
    r0 = rng.normal(size=2 * T)
    r = r0 - X @ np.linalg.lstsq(X, r0, rcond=None)[0]  # residuals
    G = rng.normal(size=(5, X.shape[1]))
    nu = 5
    var, df, kappa, plain = _ewc_contrasts(X, r, period, T, nu, G, chunk=2)
    Hi = np.linalg.inv(X.T @ X)
    M = np.eye(2 * T) - X @ Hi @ X.T
    C = np.cos(np.pi * np.outer(period + 0.5, np.arange(1, nu + 1)) / T)
    for m, gm in enumerate(G):
        a = X @ Hi @ gm
        W = 2 / nu * sum(np.outer(C[:, j] * a, C[:, j] * a) for j in range(nu))
        MWM = M @ W @ M
        assert_allclose(plain[m], r @ W @ r, rtol=1e-10)
        assert_allclose(kappa[m], np.trace(MWM) / (a @ a), rtol=1e-10)
        assert_allclose(df[m], np.trace(MWM) ** 2 / np.trace(MWM @ MWM), rtol=1e-10)
        assert_allclose(var[m], plain[m] / kappa[m], rtol=1e-10)


def test_har_poisson_sandwich_is_ewc_of_the_glm_scores():
    """Count families: the plain HAR covariance is H^-1 (T Omega_EWC of x_t (y_t - mu_t)) H^-1, H = X'diag(mu)X."""
    df, X, off = _count_series(seed=9)
    res = eh.its(df, outcome="referrals", time="period", intervention="2018-05-01", family="poisson",
                 offset="children", seasonality=2, covariates="unemployment", inference="hac")
    glm = sm.GLM(df["referrals"].to_numpy(), X, family=sm.families.Poisson(), offset=off).fit()
    mu = glm.mu
    Hi = np.linalg.inv(X.T @ (X * mu[:, None]))
    T = len(mu)
    V = Hi @ (T * ewc_long_run_variance(X * (df["referrals"].to_numpy() - mu)[:, None])) @ Hi
    assert_allclose(res.diagnostics["ewc_plain_se"], np.sqrt(np.diag(V)), rtol=1e-7)
    assert_allclose(res.coefficients["coef"], glm.params, atol=1e-8)
    kappa = np.array(res.diagnostics["ewc_kappa"])
    assert_allclose(res.coefficients["se"], np.sqrt(np.diag(V) / kappa), rtol=1e-7)
    assert res.averted.ci[0] < res.averted.estimate < res.averted.ci[1]
    cf = res.counterfactual
    assert (cf["lower"] <= cf["counterfactual"]).all() and (cf["counterfactual"] <= cf["upper"]).all()


def test_hac_argument_mistakes():
    rng = np.random.default_rng(0)
    df = pd.DataFrame({"t": np.arange(40), "y": rng.normal(size=40) + (np.arange(40) >= 20)})
    with pytest.raises(InputError, match="unknown hac_kernel") as exc:
        eh.its(df, outcome="y", time="t", intervention=20, inference="hac", hac_kernel="parzen")
    assert exc.value.field == "hac_kernel"
    with pytest.raises(InputError, match="hac_lags sets a Newey-West lag") as exc:
        eh.its(df, outcome="y", time="t", intervention=20, inference="hac", hac_kernel="ewc", hac_lags=3)
    assert exc.value.field == "hac_lags"
    with pytest.raises(InputError, match="hac_terms sets the EWC") as exc:
        eh.its(df, outcome="y", time="t", intervention=20, inference="hac", hac_kernel="newey-west", hac_terms=5)
    assert exc.value.field == "hac_terms"
    with pytest.raises(InputError, match="cosine terms do not fit") as exc:
        eh.its(df, outcome="y", time="t", intervention=20, inference="hac", hac_terms=40)
    assert exc.value.field == "hac_terms"


def test_newey_west_rule():
    assert [newey_west_lags(n) for n in (24, 60, 100, 120, 240, 1000)] == [2, 3, 4, 4, 4, 6]


# ---------------------------------------------------------------------------- outputs
def test_counterfactual_and_averted_are_consistent():
    df, _, _ = _count_series(seed=8)
    res = eh.its(df, outcome="referrals", time="period", intervention="2018-05-01", family="quasipoisson",
                 offset="children", seasonality=2, event_label="referrals")
    cf = res.counterfactual
    assert list(cf.columns[:6]) == ["time", "observed", "fitted", "counterfactual", "lower", "upper"]
    pre = ~cf["post"]
    assert_allclose(cf.loc[pre, "fitted"], cf.loc[pre, "counterfactual"], rtol=1e-12)
    assert (cf["lower"] <= cf["counterfactual"]).all() and (cf["counterfactual"] <= cf["upper"]).all()
    post = cf["post"]
    assert_allclose(res.averted.estimate, (cf.loc[post, "counterfactual"] - cf.loc[post, "fitted"]).sum(), rtol=1e-12)
    assert res.averted.ci[0] < res.averted.estimate < res.averted.ci[1]
    assert res.n_post == 32 and res.n_pre == 40
    words = res.summary()
    assert "fewer referrals over 32 months" in words or "more referrals over 32 months" in words
    assert "95% CI" in words.splitlines()[1]
    json.dumps(res.to_dict())


def test_gaussian_averted_is_linear_in_the_coefficients():
    rng = np.random.default_rng(2)
    n, t0 = 60, 30
    t = np.arange(n)
    y = 20 + 0.1 * t - 3 * (t >= t0) - 0.1 * np.maximum(t - t0 + 1, 0) + rng.normal(0, 1, n)
    df = pd.DataFrame({"t": t, "y": y})
    res = eh.its(df, outcome="y", time="t", intervention=t0)
    c = res.coefficients.set_index("term")["coef"]
    m = n - t0
    assert_allclose(res.averted.estimate, -(m * c["level"] + c["slope"] * m * (m + 1) / 2), rtol=1e-10)
    assert_allclose(res.absolute_level, c["level"], rtol=1e-10)


def test_plots(tmp_path):
    df, _, _ = _count_series(seed=4)
    res = eh.its(df, outcome="referrals", time="period", intervention="2018-05-01", family="quasipoisson",
                 offset="children", seasonality=2, outcome_label="referrals")
    ax = res.plot()
    assert ax.get_ylabel() == "referrals per 10,000"
    ax.figure.savefig(tmp_path / "its.png")
    ax2 = res.plot_acf()
    assert len(res.diagnostics["acf"]) > 5
    ax2.figure.savefig(tmp_path / "acf.png")
    assert res.plot(ax) is ax  # ax positional, as for every result class (issue 14; tests/test_plot_signatures.py)


def test_result_type_and_diagnostics(sicily):
    res = eh.its(sicily, outcome="aces", time="time", intervention=37, family="poisson", offset="stdpop",
                 slope_change=False)
    assert isinstance(res, ITSResult) and isinstance(res, eh.Estimate)
    d = res.diagnostics
    assert 0 < d["durbin_watson"] < 4 and 0 <= d["ljung_box_pvalue"] <= 1
    assert d["pearson_dispersion"] > 3  # the tutorial's overdispersion
    assert any("overdispersion" in w for w in res.warnings)
    assert res.slope_change is None


def test_fewer_than_eight_points_warns():
    t = np.arange(20)
    df = pd.DataFrame({"t": t, "y": 5 + 0.1 * t + (t >= 15) + np.sin(t)})
    res = eh.its(df, outcome="y", time="t", intervention=15)
    assert any("fewer than 8" in w for w in res.warnings)


# ---------------------------------------------------------------------------- user errors
@pytest.fixture()
def monthly():
    t = np.arange(36)
    return pd.DataFrame({"period": pd.date_range("2020-01-01", periods=36, freq="MS"),
                         "count": 100 + t, "pop": 50_000.0})


def test_duplicate_periods_are_listed(monthly):
    bad = pd.concat([monthly, monthly.iloc[[5, 9]]])
    with pytest.raises(InputError, match=r"duplicate periods.*2020-06-01.*2020-10-01") as exc:
        eh.its(bad, outcome="count", time="period", intervention="2021-06-01")
    assert exc.value.field == "time" and exc.value.rows


def test_missing_periods_are_listed(monthly):
    with pytest.raises(InputError, match=r"missing periods.*2020-04-01.*2020-05-01") as exc:
        eh.its(monthly.drop(index=[3, 4]), outcome="count", time="period", intervention="2021-06-01")
    assert exc.value.field == "time"


@pytest.mark.parametrize("when", ["2019-06-01", "2020-01-01", "2023-01-01"])
def test_intervention_outside_the_series(monthly, when):
    with pytest.raises(InputError, match="outside the series") as exc:
        eh.its(monthly, outcome="count", time="period", intervention=when)
    assert exc.value.field == "intervention"


def test_intervention_of_the_wrong_kind(monthly):
    with pytest.raises(InputError, match="holds dates"):
        eh.its(monthly, outcome="count", time="period", intervention=12)
    with pytest.raises(InputError, match="cannot read"):
        eh.its(monthly, outcome="count", time="period", intervention="next spring")


def test_non_positive_population(monthly):
    bad = monthly.copy()
    bad.loc[[2, 7], "pop"] = [0.0, -5.0]
    with pytest.raises(InputError, match="population must be positive") as exc:
        eh.its(bad, outcome="count", time="period", intervention="2021-06-01", family="poisson", offset="pop")
    assert exc.value.field == "offset" and exc.value.rows == [2, 7]


def test_too_few_points():
    df = pd.DataFrame({"t": range(1, 8), "y": [3.0, 4, 5, 4, 6, 7, 6]})
    with pytest.raises(InputError, match="too few points"):
        eh.its(df, outcome="y", time="t", intervention=4, seasonality="month")


def test_non_numeric_outcome(monthly):
    bad = monthly.astype({"count": object})
    bad.loc[4, "count"] = "n/a"
    with pytest.raises(InputError, match="must be numeric") as exc:
        eh.its(bad, outcome="count", time="period", intervention="2021-06-01")
    assert exc.value.field == "outcome" and exc.value.rows == [4]


def test_other_mistakes(monthly):
    with pytest.raises(InputError, match="negative"):
        eh.its(monthly.assign(count=-monthly["count"]), outcome="count", time="period", intervention="2021-06-01",
               family="poisson")
    with pytest.raises(InputError, match="unknown family"):
        eh.its(monthly, outcome="count", time="period", intervention="2021-06-01", family="binomial")
    with pytest.raises(InputError, match="offset applies to count"):
        eh.its(monthly, outcome="count", time="period", intervention="2021-06-01", offset="pop")
    with pytest.raises(InputError, match="does not apply"):
        eh.its(monthly, outcome="count", time="period", intervention="2021-06-01", family="poisson", inference="gls")
    with pytest.raises(InputError, match="missing value"):
        eh.its(monthly.assign(count=monthly["count"].where(monthly.index != 3)), outcome="count", time="period",
               intervention="2021-06-01")
    with pytest.raises(InputError, match="Fourier"):
        eh.its(monthly, outcome="count", time="period", intervention="2021-06-01", seasonality=7)


# ---------------------------------------------------------------------------- designs
def _two_series(seed=5, n=72, t0=36, extra=-8.0, common=-5.0):
    rng = np.random.default_rng(seed)
    t = np.arange(n)
    rows = []
    for control in (0, 1):
        level = common + (extra if control == 0 else 0.0)
        y = 60 + 10 * (1 - control) + 0.2 * t + level * (t >= t0) + 3 * np.sin(2 * np.pi * t / 12) + rng.normal(0, 1.5, n)
        rows.append(pd.DataFrame({"t": t + 1, "y": y, "comparison": control}))
    return pd.concat(rows, ignore_index=True).sample(frac=1, random_state=1)


def test_controlled_its_estimates_the_difference_in_changes():
    df = _two_series()
    res = eh.its(df, outcome="y", time="t", intervention=37, control="comparison", seasonality=1)
    assert res.ci[0] < -8.0 < res.ci[1]
    assert abs(res.estimate + 8.0) < 1.5
    assert res.diagnostics["controlled"] and "controlled" in res.method
    # same point estimates as OLS on the stacked interaction design
    d = df.sort_values(["comparison", "t"])
    tt = d["t"].to_numpy() - 1.0
    g = 1.0 - d["comparison"].to_numpy()
    post = (tt >= 36).astype(float)
    slope = np.where(tt >= 36, tt - 35, 0.0)
    X = np.column_stack([np.ones(len(d)), tt, post, slope, g, g * tt, g * post, g * slope,
                         np.sin(2 * np.pi * d["t"] / 12), np.cos(2 * np.pi * d["t"] / 12)])
    ref = sm.OLS(d["y"].to_numpy(), X).fit()
    assert_allclose(res.estimate, ref.params[6], rtol=1e-9)
    assert_allclose(res.slope_change.estimate, ref.params[7], rtol=1e-9, atol=1e-12)
    # the comparison series' own (common) change is not in the estimate
    common = res.coefficients.set_index("term").loc["level", "coef"]
    assert abs(common + 5.0) < 1.5
    assert len(res.counterfactual) == 72  # the intervention series only


def test_controlled_its_errors():
    df = _two_series()
    with pytest.raises(InputError, match="GLS errors are not available"):
        eh.its(df, outcome="y", time="t", intervention=37, control="comparison", inference="gls")
    with pytest.raises(InputError, match="different periods"):
        eh.its(df[~((df.comparison == 1) & (df.t == 72))], outcome="y", time="t", intervention=37,
               control="comparison")
    with pytest.raises(InputError, match="missing periods in the comparison series"):
        eh.its(df[~((df.comparison == 1) & (df.t == 20))], outcome="y", time="t", intervention=37,
               control="comparison")


def test_multiple_interruptions():
    t = np.arange(90)
    rng = np.random.default_rng(0)
    y = 30 + 0.1 * t - 4 * (t >= 30) - 6 * (t >= 60) + rng.normal(0, 0.5, 90)
    df = pd.DataFrame({"t": t, "y": y})
    res = eh.its(df, outcome="y", time="t", intervention=[60, 30], slope_change=False)
    assert list(res.interruptions["start"]) == [30, 60]
    assert_allclose(res.interruptions["level"], [-4, -6], atol=0.6)
    assert_allclose(res.estimate, res.interruptions["level"].iloc[0])
    # the counterfactual removes both changes
    post = res.counterfactual["post"].to_numpy()
    gap = (res.counterfactual["counterfactual"] - res.counterfactual["fitted"]).to_numpy()
    assert_allclose(gap[post][-1], -res.interruptions["level"].sum(), rtol=1e-9)


def test_transition_excluded_or_ramped():
    t = np.arange(72)
    ramp = np.clip((t - 36 + 1) / 4, 0, 1)  # a 3-period phase-in, full effect from period 39
    y = 40 + 0.1 * t - 6 * ramp + np.random.default_rng(3).normal(0, 0.3, 72)
    df = pd.DataFrame({"t": t, "y": y})
    naive = eh.its(df, outcome="y", time="t", intervention=36, slope_change=False)
    excl = eh.its(df, outcome="y", time="t", intervention=36, slope_change=False, transition=3)
    ramped = eh.its(df, outcome="y", time="t", intervention=36, slope_change=False, transition=3,
                    transition_model="ramp")
    assert abs(excl.estimate + 6) < 0.3 and abs(ramped.estimate + 6) < 0.3
    assert abs(naive.estimate + 6) > abs(excl.estimate + 6)
    assert excl.diagnostics["nobs"] == 69 and not excl.counterfactual["in_fit"].iloc[36:39].any()
    with pytest.raises(InputError, match="outside the series"):
        eh.its(df, outcome="y", time="t", intervention=70, transition=3)


def test_seasonal_dummies_and_negbin_run():
    df, _, _ = _count_series(seed=6)
    res = eh.its(df, outcome="referrals", time="period", intervention="2018-05-01", family="negbin",
                 offset="children", seasonality="month")
    assert sum(t.startswith("season=") for t in res.coefficients["term"]) == 11
    assert res.diagnostics["negbin_alpha"] >= 0
    assert 0.7 < res.estimate < 1.0  # planted rate ratio exp(-0.15) = 0.86
    nw = eh.its(df, outcome="referrals", time="period", intervention="2018-05-01", family="poisson",
                offset="children", seasonality=2, inference="hac", hac_kernel="newey-west")
    assert "Newey-West" in nw.method
    har = eh.its(df, outcome="referrals", time="period", intervention="2018-05-01", family="poisson",
                 offset="children", seasonality=2, inference="hac")
    assert "HAR" in har.method and har.diagnostics["ewc_terms"] == ewc_terms(72) == 6
    assert_allclose(har.estimate, nw.estimate, rtol=1e-10)  # same point estimate, other intervals


# ---------------------------------------------------------------------------- simulation
LEVEL, SLOPE = -12.0, -0.3


def _ar1_series(rng, n, rho, sd=4.0):
    """Monthly series: trend, planted level and slope change at mid-series, one seasonal cycle, AR(1) errors."""
    t = np.arange(n)
    t0 = n // 2
    e = np.empty(n)
    e[0] = rng.normal(0, sd / np.sqrt(1 - rho**2))
    eps = rng.normal(0, sd, n)
    for i in range(1, n):
        e[i] = rho * e[i - 1] + eps[i]
    y = (100 + 0.2 * t + LEVEL * (t >= t0) + SLOPE * np.maximum(t - t0 + 1, 0)
         + 5 * np.sin(2 * np.pi * t / 12) + 3 * np.cos(2 * np.pi * t / 12) + e)
    dates = pd.date_range("2005-01-01", periods=n, freq="MS")
    return pd.DataFrame({"period": dates, "y": y}), dates[t0]


def _simulate(reps, n, rho, seed, errors_fn=None):
    """Fit every replicate four ways; coverage, bias and mean interval width per method.

    ``gls``: REML AR(1); ``har``: errors="hac" (design-corrected EWC, the default HAC);
    ``nw``: classic Newey-West; ``ols``: naive.  ``ewc_plain`` is the uncorrected LLSW
    interval (EWC variance, t(nu)) read from the same HAR fits' diagnostics.
    """
    from scipy import stats

    rng = np.random.default_rng(seed)
    kinds = {"gls": {"inference": "gls"}, "har": {"inference": "hac"},
             "nw": {"inference": "hac", "hac_kernel": "newey-west"}, "ols": {"inference": "ols"}}
    out = {k: [] for k in (*kinds, "ewc_plain")}
    for _ in range(reps):
        df, start = _ar1_series(rng, n, rho) if errors_fn is None else errors_fn(rng, n)
        for k, kw in kinds.items():
            r = eh.its(df, outcome="y", time="period", intervention=start, seasonality=1, **kw)
            out[k].append((r.estimate, *r.ci, r.slope_change.estimate, *r.slope_change.ci))
            if k == "har":
                c = stats.t.ppf(0.975, r.diagnostics["ewc_terms"])
                se_l, se_s = r.diagnostics["ewc_plain_se"][2:4]
                out["ewc_plain"].append((r.estimate, r.estimate - c * se_l, r.estimate + c * se_l,
                                         r.slope_change.estimate, r.slope_change.estimate - c * se_s,
                                         r.slope_change.estimate + c * se_s))
    summary = {}
    for k, rows in out.items():
        a = np.array(rows)
        summary[k] = {
            "bias_level": (a[:, 0].mean() - LEVEL) / abs(LEVEL),
            "cover_level": np.mean((a[:, 1] <= LEVEL) & (LEVEL <= a[:, 2])),
            "width_level": np.mean(a[:, 2] - a[:, 1]),
            "bias_slope": (a[:, 3].mean() - SLOPE) / abs(SLOPE),
            "cover_slope": np.mean((a[:, 4] <= SLOPE) & (SLOPE <= a[:, 5])),
            "width_slope": np.mean(a[:, 5] - a[:, 4]),
        }
        print(f"n={n} rho={rho} reps={reps} {k:>9}: " + ", ".join(f"{m} {v:+.3f}" for m, v in summary[k].items()))
    return summary


def test_simulation_ar1_seasonal_fast():
    """120 monthly points, AR(1) rho 0.3: unbiased; GLS and HAR cover better than naive OLS (fast sanity check;
    120 replicates, Monte Carlo SE of a coverage near 95% about 2 points)."""
    s = _simulate(120, 120, 0.3, seed=1)
    for k in s:
        assert abs(s[k]["bias_level"]) < 0.05 and abs(s[k]["bias_slope"]) < 0.05, k
    for k in ("gls", "har"):
        assert s[k]["cover_level"] >= 0.88 and s[k]["cover_slope"] >= 0.88, k
        assert s["ols"]["cover_level"] + s["ols"]["cover_slope"] < s[k]["cover_level"] + s[k]["cover_slope"], k
    # the design correction only widens: plain EWC is the same centre with a smaller variance and more df
    assert s["har"]["width_level"] > s["ewc_plain"]["width_level"]


@pytest.mark.slow
def test_simulation_ar1_seasonal_coverage_1000():
    """1,000 series of 120 months, AR(1) rho 0.3 plus seasonality (Monte Carlo SE of coverage ~0.7 points).

    GLS with AR(1) errors (REML) and HAR (errors="hac": design-corrected EWC) must cover 92-98% with
    bias < 5%; naive OLS visibly under-covers (< 92%).  Classic Newey-West and uncorrected EWC are
    printed and asserted to under-cover as well, which is why neither is the default.
    """
    s = _simulate(1000, 120, 0.3, seed=20261123)
    for k in s:
        assert abs(s[k]["bias_level"]) < 0.05 and abs(s[k]["bias_slope"]) < 0.05, k
    for m in ("cover_level", "cover_slope"):
        assert 0.92 <= s["gls"][m] <= 0.98, m
        assert 0.92 <= s["har"][m] <= 0.98, m
        assert s["ols"][m] < 0.92, m
        assert s["nw"][m] < 0.92 and s["ewc_plain"][m] < 0.92, m


def _arma_series(phi1, phi2, theta, sd=4.0, burn=200):
    """Like :func:`_ar1_series` but with stationary ARMA(2,1) errors (started far back, then cut)."""
    def make(rng, n):
        eps = rng.normal(0, sd, n + burn)
        e = np.zeros(n + burn)
        for i in range(2, n + burn):
            e[i] = phi1 * e[i - 1] + phi2 * e[i - 2] + eps[i] + theta * eps[i - 1]
        t = np.arange(n)
        t0 = n // 2
        y = (100 + 0.2 * t + LEVEL * (t >= t0) + SLOPE * np.maximum(t - t0 + 1, 0)
             + 5 * np.sin(2 * np.pi * t / 12) + 3 * np.cos(2 * np.pi * t / 12) + e[burn:])
        dates = pd.date_range("2005-01-01", periods=n, freq="MS")
        return pd.DataFrame({"period": dates, "y": y}), dates[t0]
    return make


@pytest.mark.slow
@pytest.mark.parametrize(("label", "phi1", "phi2", "theta"), [("AR(2) 0.3, 0.3", 0.3, 0.3, 0.0),
                                                              ("ARMA(1,1) 0.8, -0.5", 0.8, 0.0, -0.5)])
def test_simulation_errors_not_ar1_400(label, phi1, phi2, theta):
    """Why HAR is the Gaussian default: with errors that are not AR(1), HAR still covers 92-98% while
    AR(1) GLS (and Newey-West, and naive OLS) under-cover.  400 series of 120 months each (MC SE ~1.1 points)."""
    s = _simulate(400, 120, label, seed=5, errors_fn=_arma_series(phi1, phi2, theta))
    for m in ("cover_level", "cover_slope"):
        assert 0.92 <= s["har"][m] <= 0.98, m
        assert s["gls"][m] < 0.92 and s["nw"][m] < 0.92 and s["ols"][m] < 0.92, m
    for k in s:
        assert abs(s[k]["bias_level"]) < 0.05 and abs(s[k]["bias_slope"]) < 0.05, k


@pytest.mark.slow
def test_simulation_controlled_its_har_coverage_300():
    """Controlled ITS, 96 months, two series with AR(1) errors (rho 0.4) and a shared shock: the HAR
    interval (EWC on the scores summed per period) for the difference in level changes covers 92-98%."""
    rng = np.random.default_rng(3)
    n, t0, reps = 96, 48, 300
    t = np.arange(n)
    hits = {"har": 0, "nw": 0}
    for _ in range(reps):
        common = rng.normal(size=n)
        rows = []
        for c in (0, 1):
            e = np.zeros(n)
            eps = rng.normal(0, 2, n)
            for i in range(1, n):
                e[i] = 0.4 * e[i - 1] + eps[i]
            y = (50 + 5 * (1 - c) + 0.1 * t + (-3 - 4 * (c == 0)) * (t >= t0) + 2 * np.sin(2 * np.pi * t / 12)
                 + e + common)
            rows.append(pd.DataFrame({"t": t + 1, "y": y, "comp": c}))
        d = pd.concat(rows)
        for k, kw in (("har", {}), ("nw", {"hac_kernel": "newey-west"})):
            r = eh.its(d, outcome="y", time="t", intervention=t0 + 1, control="comp", seasonality=1,
                       slope_change=False, **kw)
            hits[k] += r.ci[0] <= -4 <= r.ci[1]
    cover = {k: v / reps for k, v in hits.items()}
    print(f"controlled ITS coverage of the difference in level changes: {cover}")
    assert 0.92 <= cover["har"] <= 0.98


def test_simulation_counts_rate_ratio_and_averted_coverage():
    """Overdispersed monthly counts with a planted rate ratio 0.85 and slope change: quasi-Poisson
    covers the rate ratio and the delta-method interval covers the true events averted."""
    rng = np.random.default_rng(7)
    n, t0, reps = 72, 36, 200
    t = np.arange(n)
    month = t % 12 + 1
    pop = np.linspace(50_000, 52_000, n)
    eta0 = np.log(80 / 10_000) + 0.003 * t + 0.08 * np.sin(2 * np.pi * month / 12) + np.log(pop)
    rr, slope = 0.85, -0.004
    eta1 = eta0 + np.log(rr) * (t >= t0) + slope * np.maximum(t - t0 + 1, 0)
    mu0, mu1 = np.exp(eta0), np.exp(eta1)
    true_averted = float(np.sum(mu0[t0:] - mu1[t0:]))
    dates = pd.date_range("2016-01-01", periods=n, freq="MS")
    hits = np.zeros(3)
    hits_har = np.zeros(2)
    est = []
    for _ in range(reps):
        y = rng.negative_binomial(n=200, p=200 / (200 + mu1))  # variance mu + mu^2/200: overdispersed
        df = pd.DataFrame({"period": dates, "referrals": y, "children": pop})
        r = eh.its(df, outcome="referrals", time="period", intervention=dates[t0], family="quasipoisson",
                   offset="children", seasonality=1)
        hits += [r.ci[0] <= rr <= r.ci[1], r.slope_change.ci[0] <= np.exp(slope) <= r.slope_change.ci[1],
                 r.averted.ci[0] <= true_averted <= r.averted.ci[1]]
        est.append((np.log(r.estimate), r.averted.estimate))
        h = eh.its(df, outcome="referrals", time="period", intervention=dates[t0], family="quasipoisson",
                   offset="children", seasonality=1, inference="hac")
        hits_har += [h.ci[0] <= rr <= h.ci[1], h.averted.ci[0] <= true_averted <= h.averted.ci[1]]
    cover = hits / reps
    cover_har = hits_har / reps
    e = np.array(est)
    bias_rr = (e[:, 0].mean() - np.log(rr)) / abs(np.log(rr))
    bias_av = (e[:, 1].mean() - true_averted) / true_averted
    print(f"counts: coverage rr {cover[0]:.3f} slope {cover[1]:.3f} averted {cover[2]:.3f}; "
          f"bias log rr {bias_rr:+.3f}, averted {bias_av:+.3f} (true {true_averted:.0f}); "
          f"HAR coverage rr {cover_har[0]:.3f} averted {cover_har[1]:.3f}")
    assert abs(bias_rr) < 0.05 and abs(bias_av) < 0.05
    assert (cover >= 0.91).all() and (cover <= 0.98).all()
    assert (cover_har >= 0.91).all() and (cover_har <= 0.98).all()


def test_docstring_examples_run():
    import doctest

    import ehimpact.estimators.inference as inference_module
    import ehimpact.estimators.its as its_module

    # the HAC/EWC and REML-AR(1) helpers (and their examples) live in estimators/inference.py
    results = [doctest.testmod(its_module), doctest.testmod(inference_module)]
    assert sum(r.attempted for r in results) >= 8 and all(r.failed == 0 for r in results)
    assert results[0].attempted >= 1
