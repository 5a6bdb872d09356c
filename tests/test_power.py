"""eh.power: analytic minimum detectable effects against statsmodels, Bloom's multiplier, hand formulas.

References: tests/reference/power_statsmodels.yaml (statsmodels NormalIndPower values with the call that
produced them; Bloom 1995's published multiplier).  Simulation checks: tests/test_power_sim.py.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from numpy.testing import assert_allclose
from scipy import stats

import ehimpact as eh
from ehimpact import InputError
from ehimpact.estimators import power as P

REF = yaml.safe_load((Path(__file__).parent / "reference" / "power_statsmodels.yaml").read_text())
CASES = REF["cases"]


# ----------------------------------------------------------------------------- proportions vs statsmodels
@pytest.mark.parametrize("case", CASES, ids=lambda c: f"{c['n_treated']}-{c['n_control']}-{c['base_rate']}-{c['direction']}")
def test_proportions_mde_matches_statsmodels_reference(case):
    r = P.mde_proportions(case["n_treated"], case["n_control"], case["base_rate"], alpha=case["alpha"],
                          power=case["power"], design_effect=case["design_effect"], direction=case["direction"])
    tol = REF["tolerance"]
    assert abs(r.mde - case["mde"]) < tol["mde_abs"]
    assert abs(r.inputs["cohen_h"] - case["cohen_h"]) < tol["cohen_h_abs"]
    assert r.units == "proportion" and r.kind == "proportions"


def test_proportions_mde_matches_statsmodels_live():
    power_mod = pytest.importorskip("statsmodels.stats.power")
    prop = pytest.importorskip("statsmodels.stats.proportion")
    for n1, n0, p0 in [(1022, 978, 0.201), (250, 700, 0.06), (40, 45, 0.5)]:
        h = power_mod.NormalIndPower().solve_power(effect_size=None, nobs1=n1, alpha=0.05, power=0.8,
                                                   ratio=n0 / n1, alternative="two-sided")
        r = P.mde_proportions(n1, n0, p0)
        # statsmodels' own effect size of the two proportions is the solved h
        assert abs(abs(prop.proportion_effectsize(p0 - r.mde, p0)) - h) < 1e-6
        # and at that h statsmodels' power is the target
        assert abs(power_mod.NormalIndPower().power(r.inputs["cohen_h"], n1, 0.05, ratio=n0 / n1) - 0.8) < 1e-9


def test_more_children_smaller_mde_and_design_effect_is_fewer_children():
    a = P.mde_proportions(500, 500, 0.2).mde
    b = P.mde_proportions(2000, 2000, 0.2).mde
    assert b < a
    assert_allclose(P.mde_proportions(1000, 1000, 0.2, design_effect=2).mde, a, rtol=1e-12)


def test_issue_example_sentence():
    """Issue 15's example: 1,022 supported, 978 comparison, referrals; a rise of 5.2 points."""
    r = eh.power.mde("proportions", n_treated=1022, n_control=978, base_rate=0.201, direction="increase",
                     outcome_label="be referred to children's social care within 12 months")
    assert r.sentence().startswith(
        "With 1,022 supported and 978 comparison children, an effect smaller than 5.2 percentage points on how "
        "likely children are to be referred to children's social care within 12 months would probably be missed")
    assert "80% power, 5% two-sided" in r.sentence()
    d = r.to_dict()
    assert d["sentence"] == r.sentence() and d["mde"] == pytest.approx(0.052436, abs=1e-6)


def test_undetectable_fall_is_said_not_made_up():
    r = P.mde_proportions(10, 10, 0.02)
    assert math.isnan(r.mde)
    assert "could not be detected" in r.sentence()


# ----------------------------------------------------------------------------- Bloom's multiplier
def test_bloom_multiplier_published_value_for_large_samples():
    ref = REF["bloom_multiplier"]
    assert abs(P.bloom_multiplier() - ref["value"]) < ref["tolerance_abs"]
    assert abs(P.bloom_multiplier(10_000) - ref["value"]) < ref["tolerance_abs"]
    # Bloom (1995, Table 1), one-tailed 5%, 80% power: 2.49
    assert abs(P.bloom_multiplier(two_sided=False) - 2.49) < 0.005
    # Bloom (1995, Table 1), two-tailed 5%, 90% power: 3.24
    assert abs(P.bloom_multiplier(power=0.9) - 3.24) < 0.005


@pytest.mark.parametrize("df", [1, 3, 5, 8, 20, 40])
def test_bloom_multiplier_small_df_equals_t_quantiles(df):
    expected = stats.t.ppf(0.975, df) + stats.t.ppf(0.8, df)
    assert_allclose(P.bloom_multiplier(df), expected, rtol=1e-12)
    assert P.bloom_multiplier(df) > P.bloom_multiplier(df + 1) > P.bloom_multiplier()


# ----------------------------------------------------------------------------- matched
def test_matched_is_blooms_formula_at_the_kish_sizes():
    m = stats.norm.ppf(0.975) + stats.norm.ppf(0.8)
    p0 = 0.201
    r0 = P.mde_matched(1022, 978, p0)
    assert_allclose(r0.mde, m * math.sqrt(p0 * (1 - p0) * (1 / 1022 + 1 / 978)), rtol=1e-12)
    # between Cohen's h for a fall and for a rise (it keeps the variance at the base rate)
    assert P.mde_proportions(1022, 978, p0).mde < r0.mde < P.mde_proportions(1022, 978, p0, direction="increase").mde
    w = np.array([3.0] * 100 + [1.0] * 400)  # 500 controls used, 100 of them three times
    ess = w.sum() ** 2 / (w**2).sum()  # 700^2 / 1300
    r = P.mde_matched(1022, 978, p0, weights_control=w)
    assert_allclose(r.inputs["effective_n_control"], ess)
    assert_allclose(r.mde, m * math.sqrt(p0 * (1 - p0) * (1 / 1022 + 1 / ess)), rtol=1e-12)
    assert "worth about 1,022 and 377 in a simple comparison, after balancing" in r.sentence()
    # variance inflation and covariate R^2 multiply the variance
    r2 = P.mde_matched(1022, 978, p0, variance_inflation=2.0, r_squared=0.2)
    assert_allclose(r2.mde, r0.mde * math.sqrt(1.6), rtol=1e-12)
    assert "worth about 511 and 489" in r2.sentence()


def test_matched_mde_beyond_the_base_rate_is_said_not_made_up():
    r = P.mde_matched(300, 300, 0.02, variance_inflation=2)
    assert math.isnan(r.mde)
    assert "even a fall to 0 from 2.0% could not be detected" in r.sentence()


def test_effective_sample_size():
    assert P.effective_sample_size([1, 1, 1]) == 3
    assert_allclose(P.effective_sample_size([2, 1, 1]), 16 / 6)
    with pytest.raises(InputError):
        P.effective_sample_size([0, 0])


# ----------------------------------------------------------------------------- panel
def test_panel_mde_hand_formula():
    # one period each side: c'Rc = 2 - 2 rho; sd 2, icc 0.5 -> sigma_e^2 = 2
    r = P.mde_panel(4, 6, 1, 1, sd=2.0, icc=0.5, rho=0.4)
    se = math.sqrt(2.0 * (2 - 2 * 0.4) * (1 / 4 + 1 / 6))
    m = stats.t.ppf(0.975, 8) + stats.t.ppf(0.8, 8)
    assert_allclose(r.mde, m * se, rtol=1e-12)
    assert r.inputs["df"] == 8
    # independent periods, 12 + 12: c'c = 1/6, design effect 1
    r0 = P.mde_panel(4, 6, 12, 12, sd=1.0, icc=0.0, rho=0.0)
    assert_allclose(r0.inputs["serial_design_effect"], 1.0)
    assert_allclose(r0.mde, m * math.sqrt((1 / 6) * (1 / 4 + 1 / 6)), rtol=1e-12)
    # post-only levels carry the authority level through the ICC
    rp = P.mde_panel(4, 6, 12, 12, sd=1.0, icc=0.6, rho=0.0, comparison="post")
    assert_allclose(rp.mde, m * math.sqrt((0.6 + 0.4 / 12) * (1 / 4 + 1 / 6)), rtol=1e-12)


def test_panel_positive_serial_correlation_raises_the_did_mde():
    lo = P.mde_panel(5, 15, 12, 12, sd=1.0, rho=0.0).mde
    hi = P.mde_panel(5, 15, 12, 12, sd=1.0, rho=0.6).mde
    assert hi > lo


def _ar1_panel(rng, n, t, icc, rho, sd=1.0):
    u = rng.normal(size=n) * sd * math.sqrt(icc)
    s = sd * math.sqrt(1 - icc)
    e = np.empty((n, t))
    e[:, 0] = rng.normal(size=n) * s
    for k in range(1, t):
        e[:, k] = rho * e[:, k - 1] + rng.normal(size=n) * s * math.sqrt(1 - rho**2)
    y = 40 + u[:, None] + e + 3 * np.sin(np.arange(t) / 4)[None, :]
    return pd.DataFrame({"la": np.repeat([f"E{i:02d}" for i in range(n)], t),
                         "month": np.tile(pd.date_range("2019-04-01", periods=t, freq="MS"), n),
                         "rate": y.ravel()})


def test_estimate_panel_structure_recovers_icc_and_rho():
    rng = np.random.default_rng(7)
    df = _ar1_panel(rng, 150, 96, icc=0.6, rho=0.5, sd=2.0)
    s = P.estimate_panel_structure(df, "la", "month", "rate")
    assert s.n_units == 150 and s.n_periods == 96
    assert abs(s.icc - 0.6) < 0.08
    assert abs(s.rho - 0.5) < 0.03
    assert abs(s.sd_total - 2.0) < 0.15
    assert s.rho_raw < s.rho  # the demeaning bias is corrected upwards
    r = P.mde("panel", n_treated_units=5, n_control_units=20, n_pre=12, n_post=12, structure=s,
              units="referrals per 10,000 children")
    assert r.inputs["rho"] == s.rho and r.inputs["icc"] == s.icc


def test_unit_seasonality_is_removed_when_windows_are_whole_years():
    rng = np.random.default_rng(11)
    df = _ar1_panel(rng, 60, 48, icc=0.5, rho=0.3, sd=1.0)
    amp = np.repeat(rng.uniform(0, 4, 60), 48)  # each authority its own seasonal swing
    df["rate"] += amp * np.sin(2 * np.pi * np.tile(np.arange(48), 60) / 12)
    raw = P.estimate_panel_structure(df, "la", "month", "rate")
    des = P.estimate_panel_structure(df, "la", "month", "rate", season_length=12)
    assert raw.sd_within > 1.1 and raw.rho > 0.5  # the swings look like noise, serially correlated
    assert abs(des.sd_within - math.sqrt(0.5)) < 0.06
    assert abs(des.rho - 0.3) < 0.08
    with pytest.raises(InputError) as e:
        P.estimate_panel_structure(df[df.month < df.month.min() + pd.DateOffset(months=18)], "la", "month", "rate",
                                   season_length=12)
    assert e.value.field == "season_length"


def test_estimate_panel_structure_input_errors():
    with pytest.raises(InputError) as e:
        P.estimate_panel_structure(pd.DataFrame({"a": [1]}), "la", "month", "rate")
    assert e.value.field == "panel"
    tiny = pd.DataFrame({"la": ["a"] * 3, "month": [1, 2, 3], "rate": [1.0, 2.0, 3.0]})
    with pytest.raises(InputError, match="at least 2 units"):
        P.estimate_panel_structure(tiny, "la", "month", "rate")


# ----------------------------------------------------------------------------- series
def test_series_level_hand_formula():
    r = P.mde_series(10, 10, sd_resid=3.0, rho=0.0, model="level")
    m = stats.t.ppf(0.975, 18) + stats.t.ppf(0.8, 18)
    assert_allclose(r.mde, m * 3.0 * math.sqrt(0.2), rtol=1e-12)


def test_series_trend_variance_equals_monte_carlo_of_ols():
    t0, t1, rho, sd = 36, 24, 0.4, 2.0
    r = P.mde_series(t0, t1, sd_resid=sd, rho=rho, model="trend", season_length=12)
    n = t0 + t1
    tt = np.arange(n, dtype=float)
    X = np.column_stack([np.ones(n), tt - tt.mean(), *[(np.arange(n) % 12 == j).astype(float) for j in range(1, 12)],
                         (np.arange(n) >= t0).astype(float)])
    rng = np.random.default_rng(3)
    reps = 20_000
    e = np.empty((reps, n))
    e[:, 0] = rng.normal(size=reps) * sd
    for k in range(1, n):
        e[:, k] = rho * e[:, k - 1] + rng.normal(size=reps) * sd * math.sqrt(1 - rho**2)
    delta = np.linalg.lstsq(X, e.T, rcond=None)[0][-1]
    assert_allclose(r.inputs["se"], delta.std(), rtol=0.02)
    assert r.inputs["df"] == n - X.shape[1]
    # rho = 0: the ordinary OLS variance
    r0 = P.mde_series(t0, t1, sd_resid=sd, rho=0.0, model="trend", season_length=12)
    assert_allclose(r0.inputs["se"] ** 2, sd**2 * np.linalg.inv(X.T @ X)[-1, -1], rtol=1e-10)


def test_series_sentence_in_its_own_units():
    r = eh.power.mde("series", n_pre=36, n_post=24, sd_resid=20.0, rho=0.2, units="referrals a month",
                     pre_mean=300.0)
    s = r.sentence()
    assert s.startswith("With 36 months before and 24 after the change, an effect smaller than ")
    assert f"referrals a month ({100 * r.mde / 300:.0f}% of the average before the change) would probably be missed" in s
    assert "percentage points" not in s
    assert r.inputs["mde_share_of_pre_mean"] == pytest.approx(r.mde / 300)


# ----------------------------------------------------------------------------- API and mistakes
def test_eh_power_is_the_module():
    assert eh.power is P
    assert eh.power.mde("proportions", n_treated=100, n_control=100, base_rate=0.3).kind == "proportions"


@pytest.mark.parametrize("call, field", [
    (lambda: P.mde_proportions(100, 100, 1.2), "base_rate"),
    (lambda: P.mde_proportions(0, 100, 0.2), "n_treated"),
    (lambda: P.mde_proportions(100, 100, 0.2, power=1.5), "power"),
    (lambda: P.mde_proportions(100, 100, 0.2, direction="down"), "direction"),
    (lambda: P.mde_matched(100, 100, 0.2, r_squared=1.0), "r_squared"),
    (lambda: P.mde_panel(1, 1, 12, 12, sd=1.0), "n_control_units"),
    (lambda: P.mde_panel(3, 3, 12, 12), "sd"),
    (lambda: P.mde_panel(3, 3, 12, 12, sd=1.0, rho=1.0), "rho"),
    (lambda: P.mde_series(12, 6, sd_resid=1.0, model="arima"), "model"),
    (lambda: P.mde("cluster"), "kind"),
    (lambda: P.mde("proportions", n=100), "kwargs"),
])
def test_user_mistakes_raise_input_error(call, field):
    with pytest.raises(InputError) as err:
        call()
    assert err.value.field == field
