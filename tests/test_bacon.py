"""Goodman-Bacon decomposition: published castle-doctrine example, exact identities, user errors."""

from __future__ import annotations

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
    d = causaldata.castle.load_pandas().data.sort_values(["sid", "year"]).reset_index(drop=True)
    nxt = d.groupby("sid")["post"].shift(-1).fillna(d["post"])
    d = d.assign(post_bacon=np.maximum(d["post"], nxt).astype(int))  # bacondecomp's coding (see YAML)
    return d


@pytest.fixture(scope="module")
def ref(reference_dir):
    return yaml.safe_load((reference_dir / "bacon_castle.yaml").read_text())


def test_castle_matches_bacondecomp_vignette(castle, ref):
    bd = eh.goodman_bacon(castle, outcome="l_homicide", unit="sid", time="year", treatment="post_bacon")
    assert_allclose(bd.twfe_estimate, ref["twfe_estimate"], rtol=ref["tolerance"]["twfe"]["rtol"])
    got = bd.by_type().set_index("type")
    for row in ref["by_type"]:
        assert_allclose(got.loc[row["type"], "weight"], row["weight"], atol=ref["tolerance"]["by_type"]["atol"])
        assert_allclose(got.loc[row["type"], "avg_estimate"], row["avg_estimate"],
                        atol=ref["tolerance"]["by_type"]["atol"])
    c = bd.comparisons
    for row in ref["rows"]:
        hit = c[(c.treated == row["treated"]) & (c.control == row["control"])]
        assert len(hit) == 1
        assert_allclose(hit.estimate.iloc[0], row["estimate"], rtol=ref["tolerance"]["row"]["rtol"])
        assert_allclose(hit.weight.iloc[0], row["weight"], rtol=ref["tolerance"]["row"]["rtol"])


def _staggered(rng, n_units=60, T=12, always=0, effect_growth=0.3):
    unit = np.repeat(np.arange(n_units), T)
    t = np.tile(np.arange(T), n_units)
    cohorts = np.array([3, 5, 8, 99])
    g = cohorts[np.arange(n_units) % 4]
    g[:always] = 0
    g = g[unit]
    d = (t >= g).astype(int)
    y = rng.normal(size=n_units)[unit] + 0.1 * t + d * (1 + effect_growth * (t - g)) + rng.normal(size=len(t))
    return pd.DataFrame({"y": y, "d": d, "id": unit, "period": t})


@pytest.mark.parametrize("always", [0, 5])
def test_weights_sum_to_one_and_reproduce_twfe_regression(always):
    df = _staggered(np.random.default_rng(always), always=always)
    bd = eh.goodman_bacon(df, outcome="y", unit="id", time="period", treatment="d")
    assert_allclose(bd.comparisons["weight"].sum(), 1.0, atol=1e-10)
    # the TWFE coefficient from linearmodels (an independent fit), not from the decomposition code
    from linearmodels import PanelOLS
    p = df.set_index(["id", "period"])
    coef = PanelOLS(p.y, p[["d"]], entity_effects=True, time_effects=True).fit().params["d"]
    assert_allclose(bd.weighted_sum, coef, rtol=0, atol=1e-8)
    assert_allclose(bd.twfe_estimate, coef, atol=1e-8)
    kinds = set(bd.comparisons["type"])
    assert ("treated vs always treated" in kinds) == (always > 0)
    assert (bd.comparisons["weight"] >= 0).all()


def test_datetime_periods_and_plot(tmp_path):
    df = _staggered(np.random.default_rng(3))
    df["period"] = pd.Timestamp("2020-01-01") + pd.to_timedelta(df["period"] * 31, unit="D")
    df["period"] = df["period"].dt.to_period("M").dt.to_timestamp()
    bd = eh.goodman_bacon(df, outcome="y", unit="id", time="period", treatment="d")
    assert_allclose(bd.weighted_sum, bd.twfe_estimate, atol=1e-10)
    assert 0 < bd.forbidden_weight < 1
    ax = bd.plot()
    ax.figure.savefig("/tmp/bacon_scatter.png", dpi=80)
    assert len(ax.collections) == 3
    import json
    json.dumps(bd.to_dict())


def test_unbalanced_panel_names_the_units():
    df = _staggered(np.random.default_rng(1))
    df = df.drop(index=df.index[(df.id.isin([4, 9])) & (df.period == 2)])
    with pytest.raises(InputError) as info:
        eh.goodman_bacon(df, outcome="y", unit="id", time="period", treatment="d")
    assert info.value.field == "unit"
    assert info.value.rows == [4, 9]
    assert "unbalanced" in str(info.value)


def test_treatment_switching_off_is_rejected():
    df = _staggered(np.random.default_rng(1))
    df.loc[(df.id == 0) & (df.period == 10), "d"] = 0
    with pytest.raises(InputError, match="switches from 1 back to 0") as info:
        eh.goodman_bacon(df, outcome="y", unit="id", time="period", treatment="d")
    assert info.value.rows == [0]


def test_duplicates_and_no_adopters_are_rejected():
    df = _staggered(np.random.default_rng(1))
    with pytest.raises(InputError, match="repeat"):
        eh.goodman_bacon(pd.concat([df, df.iloc[:1]]), outcome="y", unit="id", time="period", treatment="d")
    with pytest.raises(InputError, match="no unit changes"):
        eh.goodman_bacon(df.assign(d=0), outcome="y", unit="id", time="period", treatment="d")
