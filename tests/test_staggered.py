"""staggered_did: peer reference with covariates, planted-effect simulation, user errors, invariances."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import yaml
from numpy.testing import assert_allclose

import ehimpact as eh
from ehimpact import InputError

KW = dict(outcome="lemp", unit="countyreal", time="year", first_treated="first.treat")


@pytest.fixture(scope="module")
def mpdta(reference_dir):
    return pd.read_csv(reference_dir / "mpdta.csv")


@pytest.fixture(scope="module")
def peer(reference_dir):
    return yaml.safe_load((reference_dir / "mpdta_moderndid_covariates.yaml").read_text())


# ----------------------------------------------------------------------------- peer references
@pytest.mark.parametrize("method", ["dr", "ipw", "reg"])
def test_covariates_match_moderndid(mpdta, peer, method):
    ref = peer["panel"][method]
    est = eh.staggered_did(mpdta, **KW, covariates="lpop", method=method, aggregate="dynamic")
    assert est.att_gt["group"].tolist() == ref["group"] and est.att_gt["time"].tolist() == ref["time"]
    print(f"{method}: max |ATT diff| {np.max(np.abs(est.att_gt['att'] - ref['att'])):.2e}, "
          f"dynamic {est.estimate:.6f} ({est.se:.6f}) vs {ref['dynamic_overall']}")
    assert_allclose(est.att_gt["att"], ref["att"], atol=peer["tolerance"]["att_abs"])
    assert_allclose(est.att_gt["se"], ref["se"], rtol=peer["tolerance"]["se_rtol"])
    assert_allclose([est.estimate, est.se], ref["dynamic_overall"], rtol=peer["tolerance"]["se_rtol"])


@pytest.mark.parametrize("method", ["dr", "ipw", "reg"])
def test_repeated_cross_section_matches_moderndid_points(mpdta, peer, method):
    est = eh.staggered_did(mpdta, **{**KW, "unit": None}, covariates="lpop", method=method, panel=False)
    assert_allclose(est.att_gt["att"], peer["repeated_cross_section_att"][method], atol=peer["tolerance"]["att_abs"])


def test_repeated_cross_section_se_is_the_cell_formula(mpdta):
    """One cell by hand: ATT = difference of four means, SE = sqrt(sum of squared IF) / n_cell."""
    est = eh.staggered_did(mpdta, **{**KW, "unit": None}, panel=False)
    s = mpdta[mpdta.year.isin([2003, 2004]) & mpdta["first.treat"].isin([0, 2004])]
    m = s.groupby([s["first.treat"] > 0, s.year == 2004])["lemp"]
    mean, var, n = m.mean(), m.var(ddof=0), m.size()
    att = (mean[True, True] - mean[True, False]) - (mean[False, True] - mean[False, False])
    se = np.sqrt((var / n).sum())
    row = est.att_gt.query("group == 2004 and time == 2004").iloc[0]
    assert_allclose(row["att"], att, rtol=1e-12)
    assert_allclose(row["se"], se, rtol=1e-12)


def test_no_covariate_paths_agree(mpdta):
    """Vectorised panel path == per-cell regression path (reg with an intercept only)."""
    from ehimpact.estimators import staggered as st

    fast = eh.staggered_did(mpdta, **KW, control_group="not_yet", aggregate="group")
    d = st._prepare(mpdta, **KW, covariates=[], weights=None, cluster=None, panel=True, anticipation=0)
    cells = st._cells(d, "not_yet", 0, "varying", False)
    att, rep, *_ = st._covariate_cells(d, cells, "dr", False)
    assert_allclose(fast.att_gt["att"], att, atol=1e-12)
    assert_allclose(fast.att_gt["se"], np.sqrt(rep.var()) / d.n, rtol=1e-10)


def test_unbalanced_panel_path(mpdta):
    rng = np.random.default_rng(0)
    drop = mpdta.sample(frac=0.05, random_state=rng.integers(1 << 30)).index
    est = eh.staggered_did(mpdta.drop(index=drop), **KW, panel=False, aggregate="dynamic")
    full = eh.staggered_did(mpdta, **KW, aggregate="dynamic")
    assert abs(est.estimate - full.estimate) < 3 * full.se
    assert "unbalanced panel" in est.method
    with pytest.raises(InputError, match="unbalanced"):
        eh.staggered_did(mpdta.drop(index=drop), **KW)


# ----------------------------------------------------------------------------- simulation
def simulate(rng, n=300, T=8, cluster_sd=0.0, n_clusters=None):
    """Staggered adoption with effects growing with exposure and differing by cohort (TWFE is biased)."""
    cohorts = np.array([0, 4, 6, 8])  # 0 = never; periods 1..T
    if n_clusters:  # adoption decided by the cluster (authority), as in practice
        cl = rng.integers(0, n_clusters, n)
        g = cohorts[rng.integers(0, 4, n_clusters)][cl]
    else:
        g = cohorts[rng.integers(0, 4, n)]
    unit_fe = rng.normal(size=n) + 0.3 * (g == 4)
    t = np.arange(1, T + 1)
    exposure = np.where((g[:, None] > 0) & (t[None, :] >= g[:, None]), t[None, :] - g[:, None] + 1, 0)
    slope = np.select([g == 4, g == 6, g == 8], [0.5, 0.3, 0.2], 0.0)
    effect = slope[:, None] * exposure
    y = unit_fe[:, None] + 0.2 * t[None, :] + effect + rng.normal(size=(n, T))
    if n_clusters:
        y = y + cluster_sd * rng.normal(size=(n_clusters, T))[cl]
    df = pd.DataFrame({"y": y.ravel(), "id": np.repeat(np.arange(n), T), "t": np.tile(t, n),
                       "g": np.repeat(g, T)})
    if n_clusters:
        df["area"] = np.repeat(cl, T)
    treated = exposure > 0
    true_simple = effect[treated].mean()  # simple aggregation = treated-unit-period average
    return df, true_simple


def _coverage(reps, seed, **kw):
    rng = np.random.default_rng(seed)
    est, cover, truths, twfe = [], [], [], []
    for _ in range(reps):
        df, truth = simulate(rng)
        r = eh.staggered_did(df, outcome="y", unit="id", time="t", first_treated="g", **kw)
        est.append(r.estimate)
        truths.append(truth)
        cover.append(r.ci[0] <= truth <= r.ci[1])
        d = (df["g"] > 0) & (df["t"] >= df["g"])
        yd = df["y"] - df.groupby("id")["y"].transform("mean") - df.groupby("t")["y"].transform("mean")
        dd = d - d.groupby(df["id"]).transform("mean") - d.groupby(df["t"]).transform("mean") + d.mean()
        twfe.append(float((yd * dd).sum() / (dd * dd).sum()))
    est, truths = np.array(est), np.array(truths)
    bias = (est - truths).mean() / truths.mean()
    twfe_bias = (np.array(twfe) - truths).mean() / truths.mean()
    return bias, float(np.mean(cover)), twfe_bias


def test_simulation_bias_and_coverage_fast():
    bias, cov, twfe_bias = _coverage(150, seed=11)
    print(f"150 reps: relative bias {bias:+.3%}, 95% CI coverage {cov:.3f}, TWFE relative bias {twfe_bias:+.1%}")
    assert abs(bias) < 0.10
    assert 0.92 <= cov <= 0.98
    assert abs(twfe_bias) > 0.10  # the design is one where TWFE is biased


@pytest.mark.slow
@pytest.mark.parametrize("kw", [{}, {"control_group": "not_yet", "bootstrap": 199}])
def test_simulation_bias_and_coverage_slow(kw):
    bias, cov, twfe_bias = _coverage(500, seed=12, **kw)
    print(f"500 reps {kw}: relative bias {bias:+.3%}, coverage {cov:.3f}, TWFE relative bias {twfe_bias:+.1%}")
    assert abs(bias) < 0.10
    assert 0.92 <= cov <= 0.98


@pytest.mark.slow
def test_uniform_band_simultaneous_coverage_slow():
    """Sup-t bands cover *every* ATT(g,t) at once in ~95% of samples; pointwise CIs do not.

    In ``simulate`` every unit of cohort g has effect slope_g * (t - g + 1) from period g on
    (slopes 0.5, 0.3, 0.2 for g = 4, 6, 8) and 0 before, so each cell's ATT(g,t) is known.
    """
    rng = np.random.default_rng(31)
    slopes = {4: 0.5, 6: 0.3, 8: 0.2}
    band_all, ci_all = [], []
    for _ in range(500):
        df, _ = simulate(rng)
        r = eh.staggered_did(df, outcome="y", unit="id", time="t", first_treated="g", inference="bootstrap", bootstrap_draws=999,
                             seed=int(rng.integers(1 << 31)))
        a = r.att_gt
        truth = np.array([slopes[g] * (t - g + 1) if t >= g else 0.0 for g, t in zip(a["group"], a["time"], strict=True)])
        band_all.append(bool(((a["band_lower"] <= truth) & (truth <= a["band_upper"])).all()))
        ci_all.append(bool(((a["ci_lower"] <= truth) & (truth <= a["ci_upper"])).all()))
    band, ci = float(np.mean(band_all)), float(np.mean(ci_all))
    print(f"500 reps, {len(truth)} ATT(g,t) each: all covered by the 95% uniform band {band:.3f}, "
          f"by the pointwise 95% CIs {ci:.3f}")
    assert 0.92 <= band <= 0.98
    assert ci < 0.85  # pointwise intervals are not simultaneous


def test_cluster_se_larger_with_cluster_shocks():
    df, _ = simulate(np.random.default_rng(4), n=600, cluster_sd=1.0, n_clusters=40)
    plain = eh.staggered_did(df, outcome="y", unit="id", time="t", first_treated="g")
    cl = eh.staggered_did(df, outcome="y", unit="id", time="t", first_treated="g", cluster="area")
    assert cl.estimate == pytest.approx(plain.estimate, rel=1e-12)
    assert cl.se > 1.5 * plain.se
    boot = eh.staggered_did(df, outcome="y", unit="id", time="t", first_treated="g", cluster="area",
                            inference="bootstrap", bootstrap_draws=999, seed=1)
    assert boot.se == pytest.approx(cl.se, rel=0.15)


def test_cluster_se_is_r_did_cluster_sum_convention():
    """Clustered SE of one ATT(g,t) by hand: sqrt(sum_c S_c**2) / n with S_c the cluster SUM of the IF.

    R did (bcallaway11/did, R/mboot.R at commit 0867d6c3f3442aba30b5e9b14afe157098718288)
    aggregates the influence function to cluster sums, ``cluster_sum_if <- rowsum(inf.func,
    cluster, reorder=TRUE)``, and reports ``se = bSigma * sqrt(n_clusters) / n``, i.e.
    sqrt(sum_c S_c^2) / n (citing Callaway & Sant'Anna 2021, Remark 10).  Older did
    (R/mboot.R at commit 920e19e07957d280aefadc8e63a71be7313cda51) divided by cluster size
    (``cluster_mean_if <- rowsum(...) / cluster_n``, ``se = bSigma / sqrt(n_clusters)``); the two
    agree only for equal-sized clusters, so unequal clusters here tell them apart.
    """
    rng = np.random.default_rng(21)
    df, _ = simulate(rng, n=400)
    share = 1.5 ** np.arange(15)
    area = rng.choice(15, size=400, p=share / share.sum())  # cluster sizes from ~1 to ~130 units
    df["area"] = area[df["id"]]
    df["y"] += 0.7 * rng.normal(size=(15, 9))[df["area"], df["t"]]  # shocks shared within cluster
    sizes = df.groupby("area")["id"].nunique()
    assert sizes.max() > 10 * sizes.min()  # very unequal clusters
    est = eh.staggered_did(df, outcome="y", unit="id", time="t", first_treated="g", cluster="area")
    row = est.att_gt.query("group == 4 and time == 5").iloc[0]
    wide = df.pivot(index="id", columns="t", values="y")
    first = df.groupby("id")["g"].first()
    area = df.groupby("id")["area"].first()
    dy = wide[5] - wide[3]  # base period g - 1 = 3
    tr, co = first == 4, first == 0
    n = len(wide)
    psi = np.where(tr, n / tr.sum() * (dy - dy[tr].mean()), 0.0) - np.where(co, n / co.sum() * (dy - dy[co].mean()), 0.0)
    S = pd.Series(psi, index=wide.index).groupby(area).sum()
    se_sum = np.sqrt((S**2).sum()) / n
    M = S / wide.index.to_series().groupby(area).size()
    se_mean_old = np.sqrt((M**2).sum()) / len(M)
    print(f"ATT(4,5) clustered SE: ours {row.se:.6f}, by hand (cluster sums) {se_sum:.6f}, "
          f"old R did cluster-means convention {se_mean_old:.6f}")
    assert_allclose(row["att"], dy[tr].mean() - dy[co].mean(), rtol=1e-12)
    assert_allclose(row["se"], se_sum, rtol=1e-10)
    assert abs(se_mean_old / se_sum - 1) > 0.10  # the conventions do differ on these data
    boot = eh.staggered_did(df, outcome="y", unit="id", time="t", first_treated="g", cluster="area",
                            inference="bootstrap", bootstrap_draws=4999, seed=3)
    bse = boot.att_gt.query("group == 4 and time == 5").iloc[0]["se"]
    print(f"bootstrap (15 clusters, 4999 Mammen draws) SE {bse:.6f}")
    assert_allclose(bse, se_sum, rtol=0.10)


# ----------------------------------------------------------------------------- invariances and options
def test_row_order_and_unit_relabelling(mpdta):
    base = eh.staggered_did(mpdta, **KW, aggregate="group")
    shuffled = mpdta.sample(frac=1, random_state=3).copy()
    shuffled["countyreal"] = "c" + (shuffled["countyreal"] * 7 % 100003).astype(str)
    other = eh.staggered_did(shuffled, **KW, aggregate="group")
    assert_allclose(other.att_gt["att"], base.att_gt["att"], rtol=1e-10)
    assert_allclose(other.att_gt["se"], base.att_gt["se"], rtol=1e-10)
    assert other.estimate == pytest.approx(base.estimate, rel=1e-10)


def test_datetime_periods_and_nan_never_treated(mpdta):
    df = mpdta.copy()
    df["date"] = pd.to_datetime(df["year"].astype(str) + "-04-01")
    df["start"] = pd.to_datetime(df["first.treat"].replace(0, np.nan).astype("Int64").astype(str) + "-04-01",
                                 errors="coerce")
    est = eh.staggered_did(df, outcome="lemp", unit="countyreal", time="date", first_treated="start")
    base = eh.staggered_did(mpdta, **KW)
    assert_allclose(est.att_gt["att"], base.att_gt["att"], rtol=1e-12)
    assert est.att_gt["time"].iloc[0] == pd.Timestamp("2004-04-01")
    df2 = mpdta.assign(ft=mpdta["first.treat"].replace(0, np.nan))
    assert eh.staggered_did(df2, **{**KW, "first_treated": "ft"}).estimate == pytest.approx(base.estimate)


def test_weights_scale_invariant_and_matter(mpdta):
    a = eh.staggered_did(mpdta.assign(w=np.exp(mpdta["lpop"])), **KW, weights="w")
    b = eh.staggered_did(mpdta.assign(w=10 * np.exp(mpdta["lpop"])), **KW, weights="w")
    c = eh.staggered_did(mpdta, **KW)
    assert a.estimate == pytest.approx(b.estimate, rel=1e-12) and a.se == pytest.approx(b.se, rel=1e-12)
    assert abs(a.estimate - c.estimate) > 1e-4


def test_universal_base_and_anticipation(mpdta):
    u = eh.staggered_did(mpdta, **KW, base_period="universal", aggregate="dynamic")
    ref = u.aggregate("dynamic").effects.set_index("event_time")
    assert ref.loc[-1, "att"] == 0 and np.isnan(ref.loc[-1, "se"])
    v = eh.staggered_did(mpdta, **KW, aggregate="dynamic")
    assert u.estimate == pytest.approx(v.estimate, rel=1e-12)  # post cells are identical
    a = eh.staggered_did(mpdta.query("`first.treat` != 2004"), **KW, anticipation=1)
    assert set(a.att_gt["group"]) == {2006, 2007}


def test_not_yet_without_never_treated_drops_last_cohort(mpdta):
    est = eh.staggered_did(mpdta.query("`first.treat` > 0"), **KW, control_group="not_yet")
    assert est.warnings and 2007 not in set(est.att_gt.query("event_time >= 0")["group"])


def test_plots(mpdta, tmp_path):
    """Every plot: words on the axes, a zero line, a legend naming CI and (when bootstrapped) the band."""
    import matplotlib.pyplot as plt

    boot = eh.staggered_did(mpdta, **KW, inference="bootstrap", bootstrap_draws=199, seed=1, outcome_label="log teen employment")
    analytic = eh.staggered_did(mpdta, **KW)
    for est, has_band in ((boot, True), (analytic, False)):
        for kind in ("att_gt", "dynamic", "group", "calendar"):
            ax = est.plot(kind=kind)
            assert ax.get_title() and "_" not in ax.get_xlabel() and ax.get_xlabel()
            assert ax.get_ylabel().startswith("effect")
            zero = [ln for ln in ax.get_lines() if np.allclose(ln.get_ydata(), 0) and len(ln.get_ydata()) == 2]
            assert zero, f"{kind}: no reference line at zero"
            legend = [t.get_text() for t in ax.get_legend().get_texts()]
            assert any("CI" in t for t in legend) and any("no effect" in t for t in legend)
            assert any("simultaneous band" in t for t in legend) == has_band
            if kind == "dynamic":
                assert any("before adoption" in t for t in legend)
            ax.figure.savefig(tmp_path / f"{kind}.png")
            plt.close(ax.figure)
    ax = boot.plot(kind="simple")
    assert ax.get_title()
    plt.close(ax.figure)
    assert (tmp_path / "dynamic.png").stat().st_size > 1000


def test_to_dict_is_json_safe(mpdta):
    import json

    est = eh.staggered_did(mpdta, **KW, inference="bootstrap", bootstrap_draws=99, seed=1)
    json.dumps(est.to_dict())
    assert "percentage" not in est.summary()  # continuous outcome


# ----------------------------------------------------------------------------- user errors
def test_missing_column(mpdta):
    with pytest.raises(InputError, match="first_treated"):
        eh.staggered_did(mpdta, **{**KW, "first_treated": "nope"})


def test_first_treated_varies_within_unit(mpdta):
    bad = mpdta.copy()
    bad.loc[bad.index[0], "first.treat"] = 2006
    with pytest.raises(InputError, match="first_treated changes over time") as exc:
        eh.staggered_did(bad, **KW)
    assert exc.value.field == "first_treated" and exc.value.rows


def test_no_comparison_units_names_cohorts(mpdta):
    with pytest.raises(InputError, match="no never-treated units") as exc:
        eh.staggered_did(mpdta.query("`first.treat` > 0"), **KW)
    assert "2004" in str(exc.value) and "not_yet" in str(exc.value)


def test_cohort_without_pre_period(mpdta):
    bad = mpdta.copy()
    bad.loc[bad["first.treat"] == 2004, "first.treat"] = 2003
    with pytest.raises(InputError, match="2003 have no pre-treatment period"):
        eh.staggered_did(bad, **KW)
    with pytest.raises(InputError, match="pre-treatment period"):
        eh.staggered_did(mpdta, **KW, anticipation=1)
    with pytest.raises(InputError, match="at least a before and an after"):
        eh.staggered_did(mpdta.query("year == 2004"), **KW)


def test_singular_covariate_in_small_cohort_names_cohort_and_covariate(mpdta):
    bad = mpdta.assign(region=np.where(mpdta["first.treat"] == 2004, "north", "south"),
                       x=mpdta["lpop"])
    bad.loc[bad["first.treat"] == 0, "x"] = 1.0  # constant among comparison units
    with pytest.raises(InputError) as exc:
        eh.staggered_did(bad, **KW, covariates=["x"], method="reg")
    msg = str(exc.value)
    assert "cohort 2004" in msg and "'x'" in msg and "singular" not in msg.lower()
    with pytest.raises(InputError, match="region"):
        eh.staggered_did(bad, **KW, covariates=["region"], method="dr")


def test_duplicates_and_bad_arguments(mpdta):
    with pytest.raises(InputError, match="more than once"):
        eh.staggered_did(pd.concat([mpdta, mpdta.head(3)]), **KW)
    for arg, val in [("method", "ols"), ("control_group", "nyt"), ("aggregate", "event"),
                     ("bootstrap", 10), ("anticipation", -1), ("base_period", "x")]:
        with pytest.raises(InputError) as exc:
            eh.staggered_did(mpdta, **KW, **{arg: val})
        assert exc.value.field == arg
    with pytest.raises(InputError, match="unit"):
        eh.staggered_did(mpdta, **{**KW, "unit": None})
    with pytest.raises(InputError, match="missing"):
        eh.staggered_did(mpdta.assign(lemp=mpdta["lemp"].where(mpdta.index != 5)), **KW)
    with pytest.raises(InputError, match="cluster"):
        eh.staggered_did(mpdta.assign(c=np.arange(len(mpdta)) % 7), **KW, cluster="c")
    with pytest.raises(InputError, match="kind"):
        eh.staggered_did(mpdta, **KW).aggregate("bogus")


# ----------------------------------------------------------------------------- multiplier bootstrap draws
def test_mammen_digits_encode_the_exact_probability():
    """P(high) = (70 + 0.d1 d2 ... in base 256) / 256 must equal (5 - sqrt 5) / 10 to 2**-60."""
    from decimal import Decimal, getcontext

    from ehimpact.estimators import _staggered_inference as si

    getcontext().prec = 40
    exact = (Decimal(5) - Decimal(5).sqrt()) / 10
    r = sum(Decimal(dg) / Decimal(256) ** (i + 1) for i, dg in enumerate(si._MAMMEN_TIE_DIGITS))
    coded = (si._MAMMEN_BYTE + r) / 256
    assert abs(coded - exact) < Decimal(2) ** -60
    lo, hi = si._two_point("mammen")
    p = float(exact)
    assert_allclose([p * hi + (1 - p) * lo, p * hi**2 + (1 - p) * lo**2], [0.0, 1.0], atol=1e-15)


@pytest.mark.parametrize("kind", ["mammen", "rademacher"])
def test_multiplier_sums_are_v_times_f(kind):
    """With F = identity the result *is* the multiplier matrix V; any F then gives V @ F.

    The same seed and the same number of rows give the same V, so this checks the centring
    and float32 algebra of ``multiplier_sums`` against the explicit product, and checks the
    multipliers themselves: two values, mean 0, variance 1, independent across rows and draws.
    """
    from ehimpact.estimators import _staggered_inference as si

    n, draws = 300, 4000
    V = si.multiplier_sums(np.eye(n), draws, np.random.default_rng(7), kind)
    lo, hi = si._two_point(kind)
    assert set(np.unique(np.round(V, 5))) == {round(lo, 5), round(hi, 5)}
    se = 1 / np.sqrt(V.size)
    third = 0.0 if kind == "rademacher" else 1.0  # Mammen's third moment is 1
    sd3 = np.sqrt(np.mean(V**6) - third**2) / np.sqrt(V.size)  # SE of the mean of V**3
    print(f"{kind}: mean {V.mean():+.5f}, var {V.var():.5f}, third moment {np.mean(V**3):.4f}")
    assert abs(V.mean()) < 4 * se and abs(np.mean(V**2) - 1) < 4 * np.std(V**2) * se + 1e-5
    assert abs(np.mean(V**3) - third) < 4 * sd3
    corr = np.corrcoef(V[:, :50], rowvar=False)[np.triu_indices(50, 1)]
    assert np.abs(corr).max() < 5 / np.sqrt(draws)
    F = np.random.default_rng(1).normal(loc=[5.0, -3.0, 0.0], size=(n, 3)) * [1.0, 100.0, 1e-3]
    got = si.multiplier_sums(F, draws, np.random.default_rng(7), kind)
    assert_allclose(got, V @ F, rtol=1e-5, atol=1e-5 * np.abs(F).sum(0).max())
    again = si.multiplier_sums(F, draws, np.random.default_rng(7), kind)
    assert np.array_equal(got, again)  # deterministic by seed
    assert not np.allclose(got, si.multiplier_sums(F, draws, np.random.default_rng(8), kind))


def test_bootstrap_is_deterministic_by_seed(mpdta):
    a = eh.staggered_did(mpdta, **KW, inference="bootstrap", bootstrap_draws=199, seed=5)
    b = eh.staggered_did(mpdta, **KW, inference="bootstrap", bootstrap_draws=199, seed=5)
    c = eh.staggered_did(mpdta, **KW, inference="bootstrap", bootstrap_draws=199, seed=6)
    assert a.att_gt["se"].equals(b.att_gt["se"]) and a.att_gt["band_upper"].equals(b.att_gt["band_upper"])
    assert not a.att_gt["se"].equals(c.att_gt["se"])


@pytest.mark.parametrize("covariates", [None, "lpop"])
def test_sorted_fast_path_equals_general_path(mpdta, covariates):
    """Rows sorted by unit then period take a reshape shortcut; shuffled rows take the scatter path."""
    from ehimpact.estimators import staggered as st

    shuffled = mpdta.sample(frac=1, random_state=9)
    kw = dict(KW, covariates=[covariates] if covariates else [], weights=None, cluster=None, panel=True,
              anticipation=0)
    assert st._is_identity(np.arange(5)) and not st._is_identity(np.array([0, 2, 1]))
    for ids in (np.array([3, 3, 7, 7, 9]), np.array([3.0, 3.0, 7.5, 9.0]), np.array([7, 3, 3, 9]),
                np.array(["b", "a", "a"], dtype=object)):
        assert np.array_equal(st._unit_codes(ids), pd.factorize(ids)[0])
    for tv in (np.array([2007.0, 2003, 2005, 2003]), np.array([1.5, 0.5, 1.5]), np.array([3e9, 1.0, 3e9])):
        times = np.unique(tv)
        assert np.array_equal(st._period_codes(tv, times), np.searchsorted(times, tv))
    a, b = st._prepare(mpdta, **kw), st._prepare(shuffled, **kw)
    order = np.argsort(mpdta["countyreal"].unique())
    assert np.array_equal(a.Y[order], b.Y[np.argsort(shuffled["countyreal"].unique())])
    fa = eh.staggered_did(mpdta, **KW, covariates=covariates)
    fb = eh.staggered_did(shuffled, **KW, covariates=covariates)
    assert_allclose(fa.att_gt["att"], fb.att_gt["att"], rtol=1e-10, atol=1e-13)
    assert_allclose(fa.att_gt["se"], fb.att_gt["se"], rtol=1e-10)
