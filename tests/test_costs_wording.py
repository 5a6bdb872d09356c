"""Value-for-money words (issue 13 items 6 and 8): shares within 100%, a negative return worded as a
cost, and the evaluation's seed reaching the costs Monte Carlo.  Each test fails on the code before
the change (which printed "113% of the avoided costs are cashable", "return -£0.15 in avoided costs",
and had no way to pass the evaluation's seed)."""

from __future__ import annotations

import re

import pytest

import ehimpact as eh
from ehimpact import InputError
from ehimpact.costs.config import CostsConfig, evaluate
from ehimpact.estimators.result import Estimate


def _est(effect, se, outcome):
    lo, hi = effect - 1.959964 * se, effect + 1.959964 * se
    return Estimate(estimate=effect, se=se, ci=(lo, hi), pvalue=0.01, estimand="ATT", method="test",
                    n_treated=500, n_control=500, outcome=outcome, scale="proportion")


OVERRIDES = [
    {"id": "cla_average_year", "value": 50_000, "price_year": "2024/25", "cashable": True},
    {"id": "s47_enquiry", "value": 4_000, "price_year": "2024/25", "cashable": False},
]
# year 0, so no discounting: the numbers below are worked by hand
LINKS = [{"outcome": "cla_24m", "unit_cost": "cla_average_year", "duration": 1, "start_year": 0},
         {"outcome": "s47_12m", "unit_cost": "s47_enquiry", "duration": 1, "start_year": 0}]


def _vfm(cla_effect, s47_effect, *, draws=2_000, se=0.004, seed=1, delivery_cost=400_000):
    ests = {"cla_24m": _est(cla_effect, se, "cla_24m"), "s47_12m": _est(s47_effect, se, "s47_12m")}
    return eh.costs.value_for_money(
        ests, links=LINKS, cohort=1000, delivery_cost=delivery_cost, price_base_year="2024/25",
        unit_costs=eh.costs.UnitCosts.default().with_overrides(OVERRIDES), optimism_grade=1,
        optimism=eh.costs.OptimismBias.default().with_overrides({1: 0.0}),
        cost_range=None, draws=draws, seed=seed)


def _percentages(text):
    return [float(x) for x in re.findall(r"(-?\d+(?:\.\d+)?)%", text)]


# ---------------------------------------------------------------------------------------------- item 6a
def test_cashable_share_is_at_most_100_percent_when_an_outcome_adds_costs():
    # CLA falls by 1 point: 10 fewer children looked after, £500k cashable avoided;
    # s47 rises by 2 points: 20 more enquiries, £80k of non-cashable added costs; net £420k.
    v = _vfm(-0.01, +0.02)
    h = v.headline
    assert h["pv_gross_avoided_costs"] == pytest.approx(500_000)
    assert h["pv_added_costs"] == pytest.approx(80_000)
    assert h["pv_avoided_costs"] == pytest.approx(420_000)
    assert h["cashable_share"] == pytest.approx(1.0)  # old: 500k / 420k = 119%
    text = v.headline_text()
    assert all(p <= 100 for p in _percentages(text)), text
    assert "100% of the £500,000 of avoided costs are cashable" in text
    assert any("gross avoided costs" in w and "exceed 100%" in w for w in v.warnings)


def test_cashable_share_mixed_links_is_the_cashable_part_of_gross_savings():
    # both fall: CLA £500k cashable, s47 £40k non-cashable -> 500 / 540
    v = _vfm(-0.01, -0.01)
    assert v.headline["cashable_share"] == pytest.approx(500 / 540)
    assert v.headline["pv_added_costs"] == 0
    assert not any("gross avoided costs" in w for w in v.warnings)


def test_no_savings_means_no_cashable_share():
    v = _vfm(+0.01, +0.01)
    assert v.headline["cashable_share"] is None
    assert "No costs are avoided, so none are cashable." in v.headline_text()


# ---------------------------------------------------------------------------------------------- item 6b
def test_negative_return_is_worded_as_a_cost():
    # both outcomes rise: £540k of added costs on a £400k service -> BCR -1.35
    v = _vfm(+0.01, +0.01)
    assert v.headline["bcr"] == pytest.approx(-540_000 / 400_000)
    text = v.headline_text()
    assert not re.search(r"return\s*[-−]£", text), text
    assert "-£" not in text and "−£" not in text, text
    assert text.startswith("The service is estimated to add costs rather than avoid them: every £1 spent adds a "
                           "further £1.35 of costs elsewhere")
    assert "A net cost of £940,000 in present value" in text
    assert "£540,000 of added costs against £400,000 delivery cost" in text


def test_interval_crossing_zero_names_the_cost_side_in_words():
    # a small saving with a wide interval: the lower limit of the BCR is below zero
    v = _vfm(-0.002, 0.0, se=0.01, draws=5_000)
    h = v.headline
    assert h["bcr"] > 0 and h["bcr_lo"] < 0 and h["npv_lo"] < 0
    text = v.headline_text()
    assert "-£" not in text and "−£" not in text, text
    assert re.search(r"interval from £\d+\.\d\d of added costs to £\d+\.\d\d avoided per £1", text), text
    assert re.search(r"interval from a net cost of £[\d,.]+m? to a net saving of £[\d,.]+m?", text), text


def test_positive_return_wording_is_unchanged():
    v = _vfm(-0.02, -0.02, se=0.002)
    text = v.headline_text()
    assert text.startswith(f"Every £1 spent is estimated to return £{v.headline['bcr']:.2f} in avoided costs "
                           "(90% interval £")
    assert text.split("\n")[1].startswith("Net present value £")


# ---------------------------------------------------------------------------------------------- item 8
def _cfg(**extra):
    return CostsConfig.load({"cohort": 1000, "delivery_cost": 400_000, "price_base_year": "2024/25",
                             "links": LINKS, "unit_costs": OVERRIDES, "draws": 500, **extra})


def _ests():
    return {"cla_24m": _est(-0.01, 0.004, "cla_24m"), "s47_12m": _est(-0.01, 0.004, "s47_12m")}


def test_evaluation_seed_reaches_the_costs_monte_carlo():
    a = evaluate(_cfg(), _ests(), seed=5)["value_for_money"]
    b = evaluate(_cfg(), _ests(), seed=5)["value_for_money"]
    c = evaluate(_cfg(), _ests(), seed=6)["value_for_money"]
    assert a.assumptions["seed"] == 5 and c.assumptions["seed"] == 6
    assert a.headline["npv_lo"] == b.headline["npv_lo"]
    assert a.headline["npv_lo"] != c.headline["npv_lo"]
    direct = eh.costs.value_for_money(_ests(), links=LINKS, cohort=1000, delivery_cost=400_000,
                                      price_base_year="2024/25",
                                      unit_costs=eh.costs.UnitCosts.default().with_overrides(OVERRIDES),
                                      draws=500, seed=5)
    assert direct.headline["npv_lo"] == a.headline["npv_lo"]


def test_costs_seed_key_wins_over_the_evaluation_seed_and_default_is_documented():
    cfg = _cfg(seed=9)
    assert cfg.seed == 9
    assert evaluate(cfg, _ests(), seed=5)["value_for_money"].assumptions["seed"] == 9
    from ehimpact.costs.appraisal import DEFAULT_SEED

    assert evaluate(_cfg(), _ests())["value_for_money"].assumptions["seed"] == DEFAULT_SEED == 20240401


def test_bad_seed_is_an_input_error():
    with pytest.raises(InputError) as err:
        evaluate(_cfg(), _ests(), seed=-1)
    assert err.value.field == "seed"
