"""Matching with replacement summarised from ranges of tied controls (issue 16, item 8: scale).

A large authority with discrete covariates has hundreds of millions of tied (treated, control)
pairs; :func:`ehimpact.estimators.matching._direction_from_ranges` gives the numbers of the
pair-by-pair computation without listing the pairs.
"""

from __future__ import annotations

import numpy as np
import pytest

import ehimpact.estimators.matching as M
from ehimpact.data import synthetic
from ehimpact.report.designs import DEFAULT_COVARIATES


@pytest.fixture(scope="module")
def children():
    c = synthetic.region(n_authorities=1, children_per_authority=20_000, seed=2).children
    return c.dropna(subset=["absence_rate"])


def _fit(children, monkeypatch, limit, outcome, **kw):
    monkeypatch.setattr(M, "_PAIR_LIMIT", limit)
    return M.match(children, treatment="received_early_help", outcome=outcome, covariates=DEFAULT_COVARIATES,
                   replace=True, caliper=0.2, seed=1, **kw)


@pytest.mark.parametrize("kw", [{}, {"ratio": 3}, {"estimand": "ATE"}, {"exact": "sex"}])
def test_ranges_give_the_pairs_numbers_bit_for_bit(children, monkeypatch, kw):
    pairs = _fit(children, monkeypatch, 10**12, "csc_referral_12m", **kw)
    ranges = _fit(children, monkeypatch, -1, "csc_referral_12m", **kw)
    assert ranges.estimate == pairs.estimate
    assert ranges.se == pairs.se
    assert (ranges.n_treated, ranges.n_control) == (pairs.n_treated, pairs.n_control)
    a = pairs.balance.select_dtypes("number").to_numpy(dtype=float)
    b = ranges.balance.select_dtypes("number").to_numpy(dtype=float)
    assert np.array_equal(a, b, equal_nan=True)


def test_ranges_continuous_outcome_to_rounding(children, monkeypatch):
    pairs = _fit(children, monkeypatch, 10**12, "absence_rate")
    ranges = _fit(children, monkeypatch, -1, "absence_rate")
    assert ranges.estimate == pytest.approx(pairs.estimate, rel=1e-12, abs=1e-12)
    assert ranges.se == pytest.approx(pairs.se, rel=1e-12)


def test_tied_pairs_outnumber_rows(children):
    """The case the ranges exist for: far more tied pairs than children."""
    d = children["received_early_help"].to_numpy() == 1
    from ehimpact.estimators.balance import design_matrices
    from ehimpact.estimators.propensity import fit_propensity

    X, names, _, _ = design_matrices(children, DEFAULT_COVARIATES)
    ps = fit_propensity(X, d.astype(float), names)
    sd = float(np.std(ps.linear, ddof=1))
    r = M._knn_ranges(ps.linear, d, np.zeros(len(d), dtype=np.int64), 1, 0.2 * sd)
    assert r.total > 2 * len(children)  # ~2.2 at 20,000 children, ~23 at 200,000, ~570 at 1,000,000


def _numbers(m):
    return (m.estimate, m.se, m.n_treated, m.n_control,
            m.balance.select_dtypes("number").to_numpy(dtype=float).tobytes())


def test_remembered_design_gives_fresh_numbers(children, monkeypatch):
    """The last large design is remembered across outcomes (a power simulation's draws): same numbers."""
    monkeypatch.setattr(M, "_REMEMBER_ROWS", 0)
    kw = dict(treatment="received_early_help", covariates=DEFAULT_COVARIATES, replace=True, caliper=0.2)
    rng = np.random.default_rng(3)
    redrawn = children.assign(csc_referral_12m=(rng.random(len(children)) < 0.3).astype(float))
    M._DESIGNS.clear()
    fresh = _numbers(M.match(redrawn, outcome="csc_referral_12m", **kw))
    M.match(children, outcome="cla_24m", **kw)  # remembers this design
    assert M._DESIGNS.get("key") is not None
    assert _numbers(M.match(redrawn, outcome="csc_referral_12m", **kw)) == fresh
    # a covariate changed in place is a new design, not the remembered one
    changed = redrawn.copy()
    changed.loc[changed.index[:500], "prior_contacts"] = 0
    M._DESIGNS.clear()
    want = _numbers(M.match(changed, outcome="csc_referral_12m", **kw))
    M.match(redrawn, outcome="csc_referral_12m", **kw)
    assert _numbers(M.match(changed, outcome="csc_referral_12m", **kw)) == want != fresh
