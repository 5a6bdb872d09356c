"""Balance tables and plots shared by match and weight."""

from __future__ import annotations

import numpy as np
import pandas as pd
from numpy.testing import assert_allclose

from ehimpact.estimators.balance import (
    balance_design,
    balance_table,
    love_plot,
    max_abs_smd,
    overlap_plot,
)


def _data():
    rng = np.random.default_rng(0)
    n = 500
    df = pd.DataFrame({"x": rng.normal(size=n), "b": rng.binomial(1, 0.3, n).astype(float),
                       "g": rng.choice(["a", "b", "c"], n)})
    d = (rng.random(n) < 0.4).astype(float)
    return df, d, rng.uniform(0.5, 2.0, n)


def test_every_level_of_a_category_is_a_row():
    df, d, w = _data()
    X, names = balance_design(df, ["x", "b", "g"])
    assert names == ["x", "b", "g=a", "g=b", "g=c"]
    assert_allclose(X[:, 2:].sum(axis=1), 1.0)


def test_smd_denominators_and_weighted_variance_by_hand():
    df, d, w = _data()
    X, names = balance_design(df, ["x", "b"])
    t, c = d == 1, d == 0
    for estimand in ("ATT", "ATC", "ATE"):
        tab = balance_table(X, names, d, weights=w, estimand=estimand).set_index("covariate")
        x = df.x.to_numpy()
        st, sc = x[t].std(ddof=1), x[c].std(ddof=1)
        s = {"ATT": st, "ATC": sc, "ATE": np.sqrt((st**2 + sc**2) / 2)}[estimand]
        assert_allclose(tab.loc["x", "smd_before"], (x[t].mean() - x[c].mean()) / s)
        mt, mc = np.average(x[t], weights=w[t]), np.average(x[c], weights=w[c])
        assert_allclose(tab.loc["x", "smd_after"], (mt - mc) / s)
    # binary column: sqrt(p(1-p)) without n-1, and no variance ratio (as MatchIt)
    p = df.b.to_numpy()[t].mean()
    tab = balance_table(X, names, d, weights=w, estimand="ATT").set_index("covariate")
    assert_allclose(tab.loc["b", "smd_before"], (p - df.b.to_numpy()[c].mean()) / np.sqrt(p * (1 - p)))
    assert np.isnan(tab.loc["b", "var_ratio_after"])
    # reliability-weighted variance: sum w (x - m)^2 * sum w / ((sum w)^2 - sum w^2)
    x, wc = df.x.to_numpy()[c], w[c]
    m = np.average(x, weights=wc)
    vc = (wc * (x - m) ** 2).sum() * wc.sum() / (wc.sum() ** 2 - (wc**2).sum())
    xt, wt = df.x.to_numpy()[t], w[t]
    mt = np.average(xt, weights=wt)
    vt = (wt * (xt - mt) ** 2).sum() * wt.sum() / (wt.sum() ** 2 - (wt**2).sum())
    assert_allclose(tab.loc["x", "var_ratio_after"], vt / vc)
    worst, bad = max_abs_smd(tab.reset_index())
    assert worst == np.nanmax(np.abs(tab.smd_after))


def test_plots_are_keyword_only_and_return_axes():
    import inspect

    import matplotlib.pyplot as plt

    df, d, w = _data()
    X, names = balance_design(df, ["x", "b", "g"])
    tab = balance_table(X, names, d, weights=w)
    for f in (love_plot, overlap_plot):
        params = list(inspect.signature(f).parameters.values())
        assert all(p.kind == p.KEYWORD_ONLY for p in params if p.name in ("ax", "bins", "threshold", "title"))
    fig, (a1, a2) = plt.subplots(1, 2)
    assert love_plot(tab, ax=a1) is a1
    assert overlap_plot(np.random.default_rng(1).uniform(size=len(d)), d, ax=a2) is a2
    plt.close(fig)


def test_overlap_plot_draws_each_group_as_a_density():
    """Two filled step outlines, treated above the line and comparison below, each integrating to 1."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.patches import StepPatch

    rng = np.random.default_rng(3)
    d = rng.integers(0, 2, 400)
    score = np.clip(rng.beta(2, 3, 400) + 0.1 * d, 0, 1)
    ax = overlap_plot(score, d, bins=20)
    steps = [p for p in ax.patches if isinstance(p, StepPatch)]
    assert [s.get_label() for s in steps] == ["treated", "comparison"]
    (ht, edges_t), (hc, edges_c) = ((s.get_data().values, s.get_data().edges) for s in steps)
    np.testing.assert_allclose(edges_t, np.linspace(0, 1, 21))
    np.testing.assert_allclose((ht * np.diff(edges_t)).sum(), 1.0)
    np.testing.assert_allclose((-hc * np.diff(edges_c)).sum(), 1.0)
    assert (ht >= 0).all() and (hc <= 0).all()
    plt.close(ax.figure)
