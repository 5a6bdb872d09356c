"""eh.power.simulate_power confirms the analytic MDEs: resample the data, plant the MDE, count detections.

The slow test is the issue's "simulated power at the analytic MDE is 80% +/- 4%"; the fast ones are small
versions of it (wider bounds, fewer replications) and the panel (units resampled) analogue.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats

import ehimpact as eh
from ehimpact import InputError
from ehimpact.estimators import power as P
from ehimpact.estimators.result import Estimate, normal_ci

N_T, N_C, BASE = 1022, 978, 0.201  # the example authority


def _children(seed: int) -> pd.DataFrame:
    """An authority's supported and comparison children with no effect of support on referrals."""
    rng = np.random.default_rng(seed)
    d = np.r_[np.ones(N_T), np.zeros(N_C)]
    x = rng.normal(size=N_T + N_C)
    y = (rng.random(N_T + N_C) < BASE).astype(float)
    return pd.DataFrame({"supported": d, "referred": y, "age": x})


def difference_in_proportions(data: pd.DataFrame, *, level: float = 0.95) -> Estimate:
    """Supported minus comparison proportion, unpooled normal interval (what the MDE formula tests)."""
    g1 = data.loc[data.supported == 1, "referred"]
    g0 = data.loc[data.supported == 0, "referred"]
    est = g1.mean() - g0.mean()
    se = math.sqrt(g1.var(ddof=1) / len(g1) + g0.var(ddof=1) / len(g0))
    ci, p = normal_ci(est, se, level)
    return Estimate(estimate=est, se=se, ci=ci, pvalue=p, estimand="ATE", method="difference in proportions",
                    n_treated=len(g1), n_control=len(g0))


def _power_at_mde(reps: int, seed: int) -> tuple[P.PowerSimulation, float]:
    df = _children(seed)
    base = float(df.loc[df.supported == 0, "referred"].mean())
    mde = P.mde_proportions(N_T, N_C, base).mde
    sim = P.simulate_power(df, difference_in_proportions, {}, -mde, outcome="referred", treatment="supported",
                           reps=reps, seed=seed + 1)
    return sim, mde


def test_simulated_power_at_the_analytic_mde_fast():
    sim, mde = _power_at_mde(reps=250, seed=11)
    print(f"fast: MDE {mde:.4f}; simulated power {sim.power:.3f} (MC SE {sim.mc_se:.3f}, {sim.reps} reps)")
    assert sim.reps == 250 and sim.failed == 0
    assert abs(sim.power - 0.8) < 0.08  # 3 MC SEs at 250 reps
    assert "planted" in sim.sentence()


@pytest.mark.slow
def test_simulated_power_at_the_analytic_mde_is_80_percent_plus_minus_4():
    sim, mde = _power_at_mde(reps=2000, seed=2026)
    print(f"slow: MDE {mde:.4f}; simulated power {sim.power:.3f} (MC SE {sim.mc_se:.3f}, {sim.reps} reps)")
    assert abs(sim.power - 0.8) <= 0.04
    assert sim.mc_se < 0.01


def test_no_planted_effect_gives_the_test_size():
    df = _children(3)
    sim = P.simulate_power(df, difference_in_proportions, {}, 0.0, outcome="referred", treatment="supported",
                           reps=300, seed=4)
    assert sim.power < 0.1  # about 5%: MC SE 1.3 points


def test_group_sizes_are_kept_and_binary_stays_binary():
    df = _children(5)
    seen = []

    def spy(data, **kw):
        seen.append((int((data.supported == 1).sum()), set(np.unique(data.referred))))
        return difference_in_proportions(data, **kw)

    P.simulate_power(df, spy, None, -0.05, outcome="referred", treatment="supported", reps=5, seed=1)
    assert all(n == N_T and vals <= {0.0, 1.0} for n, vals in seen)


def _confounded_children(seed: int, n: int = 1500) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=n)
    d = (rng.random(n) < 1 / (1 + np.exp(-(0.8 * x)))).astype(float)
    y = (rng.random(n) < 1 / (1 + np.exp(-(-1.5 + 0.7 * x)))).astype(float)  # no effect of support
    return pd.DataFrame({"supported": d, "referred": y, "age": x})


def test_plasmode_keeps_the_rows_and_gives_the_size_under_no_effect():
    """Plasmode (outcomes redrawn, rows kept) with the package's matching: about 5% detections with no
    effect planted, although support and referrals both depend on the covariate."""
    df = _confounded_children(8)
    kw = {"treatment": "supported", "outcome": "referred", "covariates": ["age"], "replace": True, "caliper": None}
    seen = []

    def spy(data, **k):
        seen.append(data["age"].to_numpy())
        return eh.match(data, **k)

    sim = P.simulate_power(df, spy, kw, 0.0, outcome="referred", treatment="supported", reps=80, seed=9,
                           method="plasmode")
    print(f"match, plasmode, no effect: detected {sim.power:.3f} (MC SE {sim.mc_se:.3f})")
    assert all(np.array_equal(a, df["age"].to_numpy()) for a in seen)  # the rows are the data's own
    assert sim.baseline == 0.0 and "plasmode" in sim.method
    assert sim.power <= 0.125  # 5% +/- 3 MC SEs
    assert abs(sim.estimates.mean()) < 0.02


def test_plasmode_power_at_the_matched_mde_with_measured_variance_inflation():
    df = _confounded_children(4)
    kw = {"treatment": "supported", "outcome": "referred", "covariates": ["age"], "replace": True, "caliper": None}
    d = df.supported.to_numpy() == 1
    base = float(df.referred[~d].mean())
    # the design on placebo outcomes (no effect), as report.planning measures its variance inflation
    placebo = P.simulate_power(df, eh.match, kw, 0.0, outcome="referred", treatment="supported", reps=8, seed=1,
                               method="plasmode")
    ratios = placebo.ses**2 / (base * (1 - base) * (1 / d.sum() + 1 / (~d).sum()))
    r = P.mde_matched(int(d.sum()), int((~d).sum()), base, variance_inflation=float(np.mean(ratios)))
    sim = P.simulate_power(df, eh.match, kw, -r.mde, outcome="referred", treatment="supported", reps=100, seed=2,
                           method="plasmode")
    print(f"match, plasmode at the matched MDE {r.mde:.4f} (VIF {np.mean(ratios):.2f}): power {sim.power:.3f} "
          f"(MC SE {sim.mc_se:.3f})")
    assert 0.68 <= sim.power <= 0.92


# ----------------------------------------------------------------------------- panels: units resampled
def _panel(seed: int, n_units: int = 40, n_treated: int = 10, t0: int = 12, t1: int = 12, rho: float = 0.4):
    rng = np.random.default_rng(seed)
    t = t0 + t1
    u = rng.normal(size=n_units) * 3.0
    e = np.empty((n_units, t))
    e[:, 0] = rng.normal(size=n_units)
    for k in range(1, t):
        e[:, k] = rho * e[:, k - 1] + rng.normal(size=n_units) * math.sqrt(1 - rho**2)
    y = 40 + u[:, None] + e + np.sin(np.arange(t) / 3)[None, :]
    treated = (np.arange(n_units) < n_treated).astype(int)
    return pd.DataFrame({"la": np.repeat(np.arange(n_units), t), "month": np.tile(np.arange(t), n_units),
                         "rate": y.ravel(), "treated": np.repeat(treated, t),
                         "post": np.tile((np.arange(t) >= t0).astype(int), n_units)})


def unit_did(data: pd.DataFrame, *, level: float = 0.95) -> Estimate:
    """2x2 DiD on authority means: each authority's post minus pre mean, compared by a t test (J - 2 df)."""
    g = data.groupby(["la", "post"])["rate"].mean().unstack()
    change = g[1] - g[0]
    tr = data.groupby("la")["treated"].first()
    c1, c0 = change[tr == 1], change[tr == 0]
    est = c1.mean() - c0.mean()
    sp = ((len(c1) - 1) * c1.var() + (len(c0) - 1) * c0.var()) / (len(c1) + len(c0) - 2)
    se = math.sqrt(sp * (1 / len(c1) + 1 / len(c0)))
    df = len(c1) + len(c0) - 2
    q = stats.t.ppf(0.5 + level / 2, df)
    return Estimate(estimate=est, se=se, ci=(est - q * se, est + q * se), pvalue=2 * stats.t.sf(abs(est / se), df),
                    estimand="ATT", method="unit DiD", n_treated=len(c1), n_control=len(c0))


def test_panel_mde_confirmed_by_resampling_authorities():
    rows = []
    for seed in range(4):
        df = _panel(seed)
        s = P.estimate_panel_structure(df[df.treated == 0], "la", "month", "rate")
        r = P.mde_panel(10, 30, 12, 12, structure=s)
        sim = P.simulate_power(df, unit_did, {}, r.mde, outcome="rate", treatment=["treated", "post"],
                               unit="la", reps=60, seed=100 + seed)
        rows.append(sim.power)
    power = float(np.mean(rows))
    print(f"panel: simulated power at the analytic MDE {power:.3f} over {4 * 60} resamples")
    assert 0.65 < power < 0.92  # MC SE about 2.6 points; the bootstrap of 40 units adds its own noise


def test_simulate_power_input_errors():
    df = _children(1)
    with pytest.raises(InputError) as e:
        P.simulate_power(df, difference_in_proportions, {}, -0.05, outcome="nope", treatment="supported")
    assert e.value.field == "data"
    with pytest.raises(InputError) as e:
        P.simulate_power(df, difference_in_proportions, {}, -0.5, outcome="referred", treatment="supported")
    assert e.value.field == "effect"
    with pytest.raises(InputError) as e:
        P.simulate_power(df.assign(supported=0.0), difference_in_proportions, {}, -0.05, outcome="referred",
                         treatment="supported")
    assert e.value.field == "treatment"
    with pytest.raises(InputError) as e:
        P.simulate_power(df, difference_in_proportions, {}, -0.05, outcome="referred", treatment="supported",
                         method="plasmode", unit="age")
    assert e.value.field == "method"
