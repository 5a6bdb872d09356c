"""Simulation: bias of SDID and SC, size of the placebo test, coverage of SDID's interval.

Panels shaped like authority data: 20-150 authorities, 48-96 months, the last 24 after the
change, one treated authority drawn from the same model as the donors (so the placebo test's
exchangeability holds), unit effects, month effects (trend and season), two latent factors with
authority-specific loadings, AR(1) errors (rho 0.5, innovation SD 1), and a planted effect of -2 from
the start.  The measured figures are in tests/reference/synthetic_control_prop99.yaml
(``simulation``) and in the docstring of :func:`ehimpact.estimators.synthetic_control.synthetic_control`.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from ehimpact.estimators.synthetic_control import synthetic_control

EFFECT = -2.0
SIZES = [(20, 48), (40, 72), (60, 96), (100, 72), (150, 96)]


def simulate_panel(rng: np.random.Generator, n_units: int, n_months: int, effect: float) -> tuple[pd.DataFrame, int]:
    """One panel; unit 0 is treated from month ``n_months - 24``."""
    t0 = n_months - 24
    t = np.arange(n_months)
    month_fx = 0.02 * t + 1.5 * np.sin(2 * np.pi * t / 12)
    factors = np.cumsum(rng.normal(0, 0.4, (n_months, 2)), axis=0)
    loadings = rng.normal(1.0, 0.5, (n_units, 2))
    e = np.empty((n_units, n_months))
    e[:, 0] = rng.normal(0, 1 / np.sqrt(1 - 0.25), n_units)
    for k in range(1, n_months):
        e[:, k] = 0.5 * e[:, k - 1] + rng.normal(0, 1, n_units)
    y = 40 + rng.normal(0, 5, n_units)[:, None] + month_fx[None, :] + loadings @ factors.T + e
    y[0, t0:] += effect
    df = pd.DataFrame({"la": np.repeat(np.arange(n_units), n_months), "month": np.tile(t, n_units),
                       "y": y.ravel()})
    return df, t0


def null_pvalue(est, effect: float) -> float:
    """The placebo p-value had the effect not been planted.

    The weights use only the treated unit's pre-period and the donors, and the placebos leave
    the treated unit out, so removing the effect changes only the treated unit's post-period gap
    (checked against a refit in :func:`test_null_pvalue_equals_refit`).
    """
    gap = est.effects["gap"].to_numpy() - effect * est.effects["post"].to_numpy()
    ratio = np.sqrt(np.mean(gap[est.n_pre:] ** 2)) / est.rmspe_pre
    rank = 1 + int((est.placebos["ratio"].to_numpy() >= ratio).sum())
    return rank / (est.n_control + 1)


def run(reps: int, seed: int, sizes=SIZES) -> dict[str, float]:
    """Bias (SDID, SC) under the planted effect; size (no effect) and coverage (SDID, placebo SE)."""
    rng = np.random.default_rng(seed)
    err_sdid, err_sc, reject0, reject1, cover = [], [], [], [], []
    for r in range(reps):
        n, T = sizes[r % len(sizes)]
        draw = rng.integers(1 << 32)
        df, t0 = simulate_panel(np.random.default_rng(draw), n, T, EFFECT)
        kw = {"outcome": "y", "unit": "la", "time": "month", "treated": 0, "start": t0}
        sdid = synthetic_control(df, **kw, method="sdid")
        sc = synthetic_control(df, **kw, method="sc", inference="none")
        err_sdid.append(sdid.estimate - EFFECT)
        err_sc.append(sc.estimate - EFFECT)
        cover.append(sdid.ci[0] <= EFFECT <= sdid.ci[1])
        reject0.append(null_pvalue(sdid, EFFECT) <= 0.05)
        reject1.append(sdid.pvalue <= 0.05)
    return {"reps": reps, "bias_sdid": float(np.mean(err_sdid)), "sd_sdid": float(np.std(err_sdid)),
            "bias_sc": float(np.mean(err_sc)), "sd_sc": float(np.std(err_sc)),
            "size_placebo_5pct": float(np.mean(reject0)), "power_placebo_5pct": float(np.mean(reject1)),
            "coverage_sdid_95": float(np.mean(cover))}


def test_fast_bias_sign_and_size():
    """Few small panels: the estimates recover the planted effect loosely, intervals are sane."""
    out = run(12, seed=5, sizes=[(20, 48), (30, 60)])
    assert abs(out["bias_sdid"]) < 0.6 and abs(out["bias_sc"]) < 0.8  # effect -2: sign and size kept
    assert out["coverage_sdid_95"] >= 0.75
    assert out["size_placebo_5pct"] <= 0.25


def test_null_pvalue_equals_refit():
    df, t0 = simulate_panel(np.random.default_rng(3), 20, 48, EFFECT)
    null, _ = simulate_panel(np.random.default_rng(3), 20, 48, 0.0)
    kw = {"outcome": "y", "unit": "la", "time": "month", "treated": 0, "start": t0}
    est, est0 = synthetic_control(df, **kw), synthetic_control(null, **kw)
    assert est0.pvalue == null_pvalue(est, EFFECT)
    assert est0.estimate == pytest.approx(est.estimate - EFFECT, abs=1e-9) and est0.se == pytest.approx(est.se)


@pytest.mark.slow
def test_simulation_bias_size_coverage():
    """400 panels (80 of each size): figures as in the yaml's ``simulation`` section."""
    out = run(400, seed=20261202)
    assert abs(out["bias_sdid"]) < 0.1, out
    assert abs(out["bias_sc"]) < 0.15, out
    assert 0.03 <= out["size_placebo_5pct"] <= 0.07, out
    assert 0.92 <= out["coverage_sdid_95"] <= 0.975, out
