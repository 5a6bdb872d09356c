"""eh.costs: price base, discounting, unit costs, costs avoided and value for money.

Every number checked here is worked by hand in the test (the arithmetic is written out), or
comes from tests/reference/costs_green_book.yaml with its source.
"""

from __future__ import annotations

import json
import time

import numpy as np
import pytest
import yaml
from numpy.testing import assert_allclose

import ehimpact as eh
from ehimpact import InputError
from ehimpact.estimators.result import Estimate


@pytest.fixture(scope="module")
def ref(reference_dir):
    return yaml.safe_load((reference_dir / "costs_green_book.yaml").read_text())


def _est(effect, se, outcome="cla_24m", scale="proportion"):
    (lo, hi), p = (effect - 1.959964 * se, effect + 1.959964 * se), 0.01
    return Estimate(estimate=effect, se=se, ci=(lo, hi), pvalue=p, estimand="ATT", method="test",
                    n_treated=500, n_control=500, outcome=outcome, scale=scale)


# ---------------------------------------------------------------------------------------------- prices
def test_green_book_deflator_example(ref):
    case = ref["deflator_example"]
    # A 2% deflator: index 100 in year 0, 102 in year 1.  £1,000 nominal in year 1 in year-0 prices:
    # 1000 * 100 / 102 = 980.392..., which the Green Book prints as £980.
    table = eh.costs.DeflatorTable.from_growth(2024, [case["deflator"]])
    real = eh.costs.uprate(case["nominal"], "2025/26", "2024/25", deflators=table)
    assert real == pytest.approx(1000 * 100 / 102, abs=case["tolerance"]["abs"])
    assert real == pytest.approx(case["real_exact"], abs=case["tolerance"]["abs"])
    assert round(real, -1) == case["real_published"]


def test_shipped_deflators_are_means_of_ons_quarters():
    spec = yaml.safe_load(eh.costs._data.data_text("gdp_deflators.yaml"))
    q = spec["quarterly_ybgb"]
    t = eh.costs.DeflatorTable.default()
    # 2013/14 = mean of YBGB 2013 Q2-Q4 and 2014 Q1 = (81.6 + 82.2 + 82.3 + 82.6) / 4 = 82.175
    assert q[2013][1:] == [81.6, 82.2, 82.3] and q[2014][0] == 82.6
    assert t.value("2013/14") == pytest.approx(82.175, abs=1e-9)
    # 2024/25 = (110.1 + 112.1 + 113.2 + 114.1) / 4 = 112.375
    assert t.value(2024) == pytest.approx(112.375, abs=1e-9)
    # Uprating the GMCA average cost of a child in care (£51,080, 2013/14) to 2024/25:
    # 51080 * 112.375 / 82.175 = 69,852.8...
    assert eh.costs.uprate(51080, "2013/14", "2024/25") == pytest.approx(51080 * 112.375 / 82.175, rel=1e-12)
    # YBGB is 2022 = 100 as a calendar-year mean; the calendar-year quarters of 2022 average 100.0
    assert np.mean(q[2022]) == pytest.approx(100.0, abs=0.01)
    assert t.years == ("1979/80", "2024/25")


@pytest.mark.parametrize("text,start", [("2013/14", 2013), ("2013-14", 2013), ("2013/2014", 2013), (2013, 2013),
                                        ("1999/00", 1999), ("2013", 2013), (np.int64(2013), 2013)])
def test_year_formats(text, start):
    assert eh.costs.parse_year(text) == start


@pytest.mark.parametrize("bad", ["2013/15", "13/14", "last year", True, None, 2013.5])
def test_bad_year_is_input_error(bad):
    with pytest.raises(InputError):
        eh.costs.parse_year(bad)


def test_year_outside_table_names_it_and_range():
    with pytest.raises(InputError) as err:
        eh.costs.uprate(100, "1970/71", "2024/25")
    msg = str(err.value)
    assert "1970/71" in msg and "1979/80 to 2024/25" in msg and err.value.field == "from_year"
    with pytest.raises(InputError, match="2030/31"):
        eh.costs.uprate(100, "2013/14", "2030/31")


def test_user_deflator_csv(tmp_path):
    p = tmp_path / "defl.csv"
    p.write_text("year,index\n2024/25,100\n2025/26,103\n2026/27,105.06\n")
    t = eh.costs.DeflatorTable.from_csv(p)
    # £1,000 in 2024/25 prices is 1000 * 105.06 / 100 = £1,050.60 in 2026/27 prices
    assert eh.costs.uprate(1000, "2024/25", "2026/27", deflators=t) == pytest.approx(1050.6)
    p.write_text("year,index\n2024/25,100\n2025/26,\n")
    with pytest.raises(InputError) as err:
        eh.costs.DeflatorTable.from_csv(p)
    assert err.value.rows == [3] and err.value.field == "deflator_csv"
    p.write_text("year,index\n2024/25,100\n2024-25,101\n")
    with pytest.raises(InputError, match="twice"):
        eh.costs.DeflatorTable.from_csv(p)


def test_extend_with_forecast_growth():
    t = eh.costs.DeflatorTable.default().extend([0.02, 0.03], source="illustrative forecast")
    # 2025/26 = 112.375 * 1.02 = 114.6225; 2026/27 = 114.6225 * 1.03 = 118.061175
    assert t.value("2026/27") == pytest.approx(112.375 * 1.02 * 1.03, rel=1e-12)


# ---------------------------------------------------------------------------------------------- discounting
def test_green_book_declining_schedule(ref):
    spec = ref["discount_factors"]
    years = [c["year"] for c in spec["cases"]]
    got = eh.costs.discount_factors(years, schedule=spec["schedule"])
    assert_allclose(got, [c["factor"] for c in spec["cases"]], rtol=spec["tolerance"]["rtol"])
    # written out: year 31 is year 30 discounted one more year at the 3.0% segment rate, not at 3.5%,
    # and the 3.0% rate never reaches back to year 0 (1.03**-31 would be 0.400)
    assert got[2] == pytest.approx(1.035 ** -30 / 1.03, rel=1e-14)
    assert got[3] == pytest.approx(1.035 ** -30 * 1.03 ** -45, rel=1e-14)
    assert eh.costs.discount_factors(0) == 1.0


def test_health_schedule(ref):
    spec = ref["health_discount_factors"]
    got = eh.costs.discount_factors([c["year"] for c in spec["cases"]], schedule=spec["schedule"])
    assert_allclose(got, [c["factor"] for c in spec["cases"]], rtol=spec["tolerance"]["rtol"])
    # 1.5% for years 0-30: year 10 = 1.015**-10
    assert eh.costs.discount_factors(10, "green_book_health") == pytest.approx(1.015 ** -10, rel=1e-14)


def test_long_horizon_segments_and_versions():
    d = eh.costs.discount_factors([125, 200, 300, 301], version="2022")
    by_hand_125 = 1.035 ** -30 * 1.03 ** -45 * 1.025 ** -50
    by_hand_200 = by_hand_125 * 1.02 ** -75
    by_hand_300 = by_hand_200 * 1.015 ** -100
    assert_allclose(d, [by_hand_125, by_hand_200, by_hand_300, by_hand_300 / 1.01], rtol=1e-12)
    assert_allclose(eh.costs.discount_factors(np.arange(40), version="2026"),
                    eh.costs.discount_factors(np.arange(40), version="2022"))
    with pytest.raises(InputError, match="version"):
        eh.costs.discount_factors(1, version="1997")
    with pytest.raises(InputError, match="schedule"):
        eh.costs.discount_factors(1, schedule="treasury")
    with pytest.raises(InputError) as err:
        eh.costs.discount_factors([1, -2])
    assert err.value.field == "years" and err.value.rows == [1]


def test_present_value():
    # £100 in years 0 and 1: 100 + 100/1.035 = 196.618...
    assert eh.costs.present_value([100, 100]) == pytest.approx(100 + 100 / 1.035)


# ---------------------------------------------------------------------------------------------- unit costs
def test_default_database_has_domain_values():
    uc = eh.costs.UnitCosts.default()
    expected = {  # DOMAIN.md 3.2 (GMCA UCD v1.4)
        "cla_average_year": (51080, "2013/14"), "cla_foster_la_week": (700, "2013/14"),
        "cla_residential_la_week": (2995, "2013/14"), "cla_residential_private_week": (2947, "2013/14"),
        "cin_case_6m": (1416, "2008/09"), "s47_enquiry": (511, "2008/09"), "cp_core_assessment": (900, "2004/05"),
        "permanent_exclusion_year": (9219, "2005/06"), "persistent_truancy_year": (1509, "2005/06"),
        "neet_18_24_year": (4257, "2010/11"), "yj_first_time_entrant": (3152, "2008/09"),
        "incredible_years_child": (1869, "2013/14"),
    }
    for uid, (value, year) in expected.items():
        e = uc.get(uid)
        assert (e["value"], e["price_year"]) == (value, year), uid
    # the five fiscal parts of a domestic-violence incident sum to the all-in £2,470 (CR2.0)
    dv = sum(uc.get(u)["value"] for u in uc.ids if u.startswith("dv_incident_"))
    assert dv == 1171 + 581 + 415 + 193 + 110 == 2470
    # the four parts of a s31 care-order application sum to its £25,000 total (SS4.1)
    assert sum(uc.get(u)["value"] for u in uc.ids if u.startswith("care_order_s31_")) == 25000
    assert uc.get("cla_average_year")["unconfirmed"] is True
    assert uc.get("s47_enquiry")["unconfirmed"] is False
    assert set(uc.table()["agency"]) <= set(eh.costs.AGENCIES)


def test_overrides_add_and_replace():
    uc = eh.costs.UnitCosts.default()
    new = {"id": "family_key_worker", "description": "Key worker", "unit": "per family", "value": 3000,
           "price_year": "2024/25", "agency": "la_childrens_services", "value_type": "fiscal", "cashable": "false",
           "source": "local finance", "confidence_grade": 2, "low": 2500, "high": 4000}
    uc2 = uc.with_overrides([new, {"id": "cla_average_year", "value": 60000, "price_year": 2023,
                                   "unconfirmed": False, "source": "our CLA budget"}])
    assert uc2.get("family_key_worker")["high"] == 4000
    e = uc2.get("cla_average_year")
    assert (e["value"], e["price_year"], e["unconfirmed"], e["agency"]) == (60000, "2023/24", False,
                                                                             "la_childrens_services")
    assert uc.get("cla_average_year")["value"] == 51080  # original untouched
    own = uc.with_overrides([{"id": "cla_average_year", "value": 70_000}]).get("cla_average_year")
    assert (own["unconfirmed"], own["source"], own["price_year"]) == (False, "user override", "2013/14")
    assert bool(uc2.table().set_index("id").loc["cla_average_year", "overridden"])


def test_unit_cost_errors_name_id_and_field():
    uc = eh.costs.UnitCosts.default()
    with pytest.raises(InputError) as err:
        uc.with_overrides([{"id": "new_cost", "value": 10, "unit": "each"}])
    assert err.value.field == "description" and err.value.rows == ["new_cost"]
    with pytest.raises(InputError) as err:
        uc.with_overrides([{"id": "s47_enquiry", "value": 1}, {"id": "s47_enquiry", "value": 2}])
    assert err.value.field == "id" and "s47_enquiry" in str(err.value)
    with pytest.raises(InputError) as err:
        uc.with_overrides([{"id": "s47_enquiry", "agency": "council"}])
    assert err.value.field == "agency"
    with pytest.raises(InputError) as err:
        uc.with_overrides([{"id": "s47_enquiry", "value": 600, "low": 700, "high": 800}])
    assert err.value.field == "low"
    with pytest.raises(InputError) as err:
        eh.costs.UnitCosts([{"id": "a", "description": "x", "unit": "u", "value": 1, "price_year": 2020,
                             "agency": "nhs", "value_type": "fiscal", "cashable": True, "source": "s",
                             "confidence_grade": 1}] * 2)
    assert err.value.field == "id"
    with pytest.raises(InputError, match="did you mean s47_enquiry"):
        uc.get("s47_enquirey")


def test_optimism_bias_config():
    ob = eh.costs.OptimismBias.default()
    assert ob.unconfirmed and ob.apply(1000.0, grade=3) == pytest.approx(1000 * (1 - 0.10))
    mine = ob.with_overrides({1: 0, 2: 0.1, 3: 0.2, 4: 0.3, 5: 0.5})
    assert not mine.unconfirmed and mine.reduction(4) == 0.3
    with pytest.raises(InputError, match="grade 9"):
        ob.reduction(9)
    with pytest.raises(InputError):
        eh.costs.OptimismBias({1: 1.5})


# ---------------------------------------------------------------------------------------------- value for money
def _hand_worked_vfm(**kw):
    """The costs-avoided example worked by hand in test_costs_avoided_by_hand."""
    uc = eh.costs.UnitCosts.default()
    defl = eh.costs.DeflatorTable.from_growth(2020, [0.02, 0.03])  # 100, 102, 105.06
    args = dict(
        links=[{"outcome": "cla_24m", "unit_cost": "cla_average_year", "duration": 2},
               {"outcome": "s47_12m", "unit_cost": "s47_enquiry", "duration": 1},
               {"outcome": "s47_12m", "unit_cost": "dv_incident_police", "duration": 1}],
        cohort=1000, delivery_cost=400_000, delivery_cost_year="2022/23", price_base_year="2022/23",
        unit_costs=uc.with_overrides([
            {"id": "cla_average_year", "value": 50_000, "price_year": "2020/21", "low": 40_000, "high": 60_000},
            {"id": "s47_enquiry", "value": 500, "price_year": "2021/22"},
            {"id": "dv_incident_police", "value": 400, "price_year": "2022/23"}]),
        deflators=defl, deadweight=0.2, attribution=0.5, optimism_grade=3, draws=0)
    args.update(kw)
    ests = {"cla_24m": _est(-0.01, 0.004), "s47_12m": _est(-0.05, 0.02, outcome="s47_12m")}
    return eh.costs.value_for_money(ests, **args)


def test_costs_avoided_by_hand():
    v = _hand_worked_vfm()
    # Events avoided = -effect x cohort x (1 - deadweight) x attribution:
    #   CLA: 0.01 x 1000 x 0.8 x 0.5 = 4;   s47: 0.05 x 1000 x 0.8 x 0.5 = 20
    # Unit costs in 2022/23 prices (deflator 100, 102, 105.06 for 2020/21..2022/23):
    #   CLA 50,000 x 105.06/100 = 52,530;  s47 500 x 105.06/102 = 515;  police 400
    # Optimism bias grade 3 (placeholder default) removes 10%.
    # Annual avoided costs: CLA 4 x 52,530 x 0.9 = 189,108;  s47 20 x 515 x 0.9 = 9,270;
    #   police 20 x 400 x 0.9 = 7,200
    # CLA recurs in years 1 and 2: PV = 189,108 x (1/1.035 + 1/1.035^2) = 189,108 x 1.8996942...
    # s47 and police in year 1 only: PV = (9,270 + 7,200) / 1.035
    pvf2 = 1 / 1.035 + 1 / 1.035 ** 2
    pv_cla = 4 * 52_530 * 0.9 * pvf2
    pv_s47 = 20 * 515 * 0.9 / 1.035
    pv_pol = 20 * 400 * 0.9 / 1.035
    links = v.table("links").set_index("unit_cost")
    assert links.loc["cla_average_year", "events_avoided"] == pytest.approx(4)
    assert links.loc["s47_enquiry", "unit_cost_base_prices"] == pytest.approx(515)
    assert links.loc["cla_average_year", "annual_avoided_cost"] == pytest.approx(189_108)
    assert_allclose(links["pv_avoided_costs"], [pv_cla, pv_s47, pv_pol], rtol=1e-12)
    pv_b = pv_cla + pv_s47 + pv_pol            # = 359,240.5 + 8,956.5 + 6,956.5 = 375,153.6...
    h = v.headline
    assert h["pv_avoided_costs"] == pytest.approx(pv_b, rel=1e-12)
    assert h["pv_delivery_costs"] == 400_000   # year 0, already in 2022/23 prices
    assert h["npv"] == pytest.approx(pv_b - 400_000, rel=1e-12)
    assert h["bcr"] == pytest.approx(pv_b / 400_000, rel=1e-12)
    assert h["roi"] == pytest.approx(pv_b / 400_000 - 1, rel=1e-12)
    assert h["payback_year"] is None           # 375k < 400k: never pays back within 2 years
    # by agency: LA children's services gets CLA + s47 (cashable CLA, non-cashable s47); police its part
    ag = v.table("by_agency").groupby("agency")["pv_avoided_costs"].sum()
    assert ag["la_childrens_services"] == pytest.approx(pv_cla + pv_s47)
    assert ag["police"] == pytest.approx(pv_pol)
    assert h["cashable_share"] == pytest.approx(pv_cla / pv_b)
    # payback: with delivery cost £300,000, cumulative PV after year 1 = 189,108/1.035 + 15,913 = 198,623
    # (< 300k) and after year 2 = 375,154 (>= 300k): pays back in year 2
    assert _hand_worked_vfm(delivery_cost=300_000).headline["payback_year"] == 2


def test_delivery_cost_uprated_and_spread():
    v = _hand_worked_vfm(delivery_cost_year="2020/21", delivery_years=[0, 1])
    # 400,000 in 2020/21 prices = 420,240 in 2022/23 prices; half in year 0, half in year 1:
    # PV = 210,120 + 210,120/1.035
    assert v.headline["pv_delivery_costs"] == pytest.approx(210_120 + 210_120 / 1.035, rel=1e-12)


def test_ratio_scale_estimate_needs_baseline():
    est = Estimate(estimate=0.8, se=0.05, ci=(0.7, 0.9), pvalue=0.001, estimand="level change", method="its",
                   n_treated=1, n_control=1, outcome="cla", scale="ratio")
    kw = dict(cohort=100, delivery_cost=10_000, price_base_year="2024/25", draws=0)
    with pytest.raises(InputError) as err:
        eh.costs.value_for_money({"cla": est}, links=[{"outcome": "cla", "unit_cost": "s47_enquiry"}], **kw)
    assert err.value.field == "baseline"
    v = eh.costs.value_for_money({"cla": est}, links=[{"outcome": "cla", "unit_cost": "s47_enquiry",
                                                       "baseline": 0.05}], **kw)
    # change = 0.05 x (0.8 - 1) = -0.01 per child -> 1 event avoided among 100 children
    assert v.table("links")["events_avoided"].iloc[0] == pytest.approx(1.0)


def test_vfm_input_errors():
    ests = {"cla_24m": _est(-0.01, 0.004)}
    base = dict(links=[{"outcome": "cla_24m", "unit_cost": "cla_average_year"}], cohort=100,
                delivery_cost=1000, price_base_year="2024/25", draws=0)
    for change, fld in [({"cohort": -5}, "cohort"), ({"deadweight": 1.2}, "deadweight"),
                        ({"attribution": 0}, "attribution"), ({"delivery_cost": 0}, "delivery_cost"),
                        ({"price_base_year": "2031/32"}, "price_base_year"),
                        ({"links": [{"outcome": "cla_24m", "unit_cost": "nope"}]}, "links[cla_24m].unit_cost"),
                        ({"links": [{"outcome": "cpp_12m", "unit_cost": "s47_enquiry"}]}, "links"),
                        ({"links": []}, "links"), ({"draws": -1}, "draws"), ({"optimism_grade": 7}, "optimism_grade"),
                        ({"links": [{"outcome": "cla_24m", "unit_cost": "s47_enquiry", "duration": 0}]}, "duration")]:
        with pytest.raises(InputError) as err:
            eh.costs.value_for_money(ests, **{**base, **change})
        assert err.value.field == fld, change
    with pytest.raises(InputError, match="Estimate"):
        eh.costs.value_for_money({"cla_24m": 0.01}, **base)


# ---------------------------------------------------------------------------------------------- Monte Carlo
def test_monte_carlo_mean_converges_to_analytic_npv():
    # Linear case: NPV is linear in the effect, each unit cost and each (1 - optimism) term, and the
    # draws are independent with means equal to the point values (normal effect; symmetric PERT ranges;
    # triangular optimism bias with mean r), so E[NPV] = NPV at the point values.
    # Delivery cost £100,000 keeps NPV (about £275,000) well away from zero, so a relative tolerance is
    # meaningful: the Monte Carlo standard error of the mean is sd/sqrt(n), about 0.17% of NPV here, and
    # the 0.5% tolerance is about 3 standard errors.
    v = _hand_worked_vfm(draws=100_000, seed=7, delivery_cost=100_000)
    analytic = v.headline["npv"]
    mc_se = v.draws["npv"].std() / np.sqrt(100_000)
    assert abs(v.headline["npv_mean"] - analytic) / abs(analytic) < 0.005
    assert abs(v.headline["npv_mean"] - analytic) < 3.5 * mc_se
    assert v.draws["npv"].std() > 0.1 * abs(analytic)  # the simulation really varied
    # pv by agency draws add up to the total
    cols = [c for c in v.draws if c.startswith("pv_") and c != "pv_avoided_costs"]
    assert_allclose(v.draws[cols].sum(axis=1), v.draws["pv_avoided_costs"], rtol=1e-12)


def test_monte_carlo_asymmetric_range_shifts_mean_by_pert_mean():
    # With an asymmetric range the MC mean follows the PERT mean (low + 4 mode + high) / 6, not the mode:
    # CLA cost 50,000 with range 45,000-80,000 has PERT mean (45,000 + 200,000 + 80,000)/6 = 54,166.67
    uc_over = [{"id": "cla_average_year", "value": 50_000, "price_year": "2020/21", "low": 45_000, "high": 80_000},
               {"id": "s47_enquiry", "value": 500, "price_year": "2021/22"},
               {"id": "dv_incident_police", "value": 400, "price_year": "2022/23"}]
    v = _hand_worked_vfm(unit_costs=eh.costs.UnitCosts.default().with_overrides(uc_over), draws=100_000, seed=3,
                         cost_range=None, delivery_cost=100_000)
    links = v.table("links").set_index("unit_cost")
    shift = links.loc["cla_average_year", "pv_avoided_costs"] * (54_166.666666 / 50_000 - 1)
    assert v.headline["npv_mean"] == pytest.approx(v.headline["npv"] + shift, rel=0.005)


def test_same_seed_same_numbers():
    a = _hand_worked_vfm(draws=5_000, seed=11)
    b = _hand_worked_vfm(draws=5_000, seed=11)
    c = _hand_worked_vfm(draws=5_000, seed=12)
    assert a.headline == b.headline
    assert a.draws.equals(b.draws)
    assert a.headline["npv_mean"] != c.headline["npv_mean"]


def test_p_bcr_and_intervals_are_consistent():
    v = _hand_worked_vfm(draws=50_000, seed=5)
    h = v.headline
    assert h["bcr_lo"] < h["bcr_median"] < h["bcr_hi"]
    assert h["p_bcr_gt_1"] == pytest.approx(h["p_npv_gt_0"])  # same event when delivery cost is fixed
    # normal approximation check on the effect-only case: no cost range, no optimism, one link
    v1 = eh.costs.value_for_money({"cla_24m": _est(-0.01, 0.005)},
                                  links=[{"outcome": "cla_24m", "unit_cost": "s47_enquiry"}], cohort=10_000,
                                  delivery_cost=400, price_base_year="2008/09", optimism_grade=None,
                                  optimism=eh.costs.OptimismBias({4: 0.0}), cost_range=None, draws=200_000,
                                  seed=2)
    # PV benefit = 100 events (+/- 50) x 511 / 1.035; BCR > 1 iff events > 400 x 1.035 / 511 = 0.810...
    # P = Phi((100 - 0.810) / 50) = Phi(1.9838) = 0.97636
    from scipy.stats import norm

    assert v1.headline["p_bcr_gt_1"] == pytest.approx(norm.cdf((100 - 400 * 1.035 / 511) / 50), abs=0.002)


def test_simulation_speed_is_vectorised():
    # not a benchmark (see benchmarks/bench_costs.py); a loose guard that 100,000 draws are not a loop
    v = _hand_worked_vfm(draws=100, seed=1)
    from ehimpact.costs.appraisal import _build_model  # noqa: F401  (model building excluded below)

    t0 = time.perf_counter()
    _hand_worked_vfm(draws=100_000, seed=1, tornado=False)
    assert time.perf_counter() - t0 < 10
    assert v.draws.shape[0] == 100


# ---------------------------------------------------------------------------------------------- outputs
def test_summary_words_and_json():
    v = _hand_worked_vfm(draws=20_000, seed=1)
    text = v.summary()
    h = v.headline
    assert text.startswith(f"Every £1 spent is estimated to return £{h['bcr']:.2f} in avoided costs (90% interval")
    assert "the chance the service pays for itself is" in text
    assert "UNCONFIRMED" in text and "placeholder" in text
    d = v.to_dict()
    json.dumps(d)
    assert d["headline"]["npv"] == pytest.approx(h["npv"]) and d["kind"] == "ValueForMoney"
    assert "draws" not in d


def test_tornado_orders_drivers():
    v = _hand_worked_vfm()
    t = v.table("tornado")
    assert list(t["npv_swing"]) == sorted(t["npv_swing"], reverse=True)
    row = t.set_index("driver").loc["effect on cla_24m"]
    # effect at its CI limits: -0.01 -/+ 1.96 x 0.004 -> CLA PV scales by (limit / -0.01)
    pv_cla = v.table("links").set_index("unit_cost").loc["cla_average_year", "pv_avoided_costs"]
    lo, hi = -0.01 - 1.959964 * 0.004, -0.01 + 1.959964 * 0.004
    assert sorted([row["npv_low"], row["npv_high"]]) == pytest.approx(
        sorted([v.headline["npv"] + pv_cla * (lo / -0.01 - 1), v.headline["npv"] + pv_cla * (hi / -0.01 - 1)]))


def test_plots(tmp_path):
    import matplotlib.pyplot as plt

    v = _hand_worked_vfm(draws=2_000, seed=1)
    fig, axes = plt.subplots(1, 3, figsize=(18, 4))
    assert v.plot(ax=axes[0]) is axes[0]
    assert v.plot(ax=axes[1], kind="tornado") is axes[1]
    assert v.plot(ax=axes[2], kind="npv") is axes[2]
    fig.tight_layout()
    fig.savefig(tmp_path / "vfm.png")
    with pytest.raises(InputError):
        v.plot(kind="pie")
    plt.close("all")
