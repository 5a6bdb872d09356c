"""eh.costs: cost of late intervention, balanced scorecard, the costs config and evaluate()."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

import ehimpact as eh
from ehimpact import InputError
from ehimpact.estimators.result import Estimate


def _panel():
    """Three authorities in one region, 24 months; A's counts are round numbers for hand checks."""
    periods = pd.date_range("2022-04-01", periods=24, freq="MS")
    rows = []
    for code, k in (("E06000001", 1.0), ("E06000002", 2.0), ("E06000003", 3.0)):
        for i, p in enumerate(periods):
            later = i >= 12
            rows.append({"authority_code": code, "authority_name": f"LA {code[-1]}", "region_code": "E12000001",
                         "period": p, "population_0_17": 20_000 * k, "referrals": 100 * k * (0.9 if later else 1),
                         "re_referrals": 20 * k, "cin": 400 * k, "s47": 30 * k, "cpp_starts": 10 * k,
                         "cla": (100 + (10 if later else 0)) * k, "eh_assessments": 50 * k,
                         "eh_spend": 100_000 * k * (1.5 if code.endswith("1") else 1), "synthetic": True})
    return pd.DataFrame(rows)


def test_late_intervention_by_hand():
    panel = _panel()
    defl = eh.costs.DeflatorTable.default()
    r = eh.costs.late_intervention_cost(panel, authority="E06000001", price_base_year="2024/25",
                                        population=50_000)
    # Last 12 months (April 2023 - March 2024) for authority 1:
    #   CLA stock 110 on average x £51,080 (2013/14) uprated; CIN 400 x 2 x £1,416 (2008/09);
    #   s47 30 x 12 = 360 x £511 (2008/09); plans 10 x 12 = 120 x £900 (2004/05);
    #   referrals 90 x 12 = 1,080 x £117 (2009/10)
    f = lambda y: defl.factor(y, "2024/25")  # noqa: E731
    expected = {"cla": 110 * 51_080 * f("2013/14"), "cin": 400 * 2 * 1_416 * f("2008/09"),
                "s47": 360 * 511 * f("2008/09"), "cpp_starts": 120 * 900 * f("2004/05"),
                "referrals": 1_080 * 117 * f("2009/10")}
    got = r.table("by_category").set_index("measure")["cost"]
    for k, v in expected.items():
        assert got[k] == pytest.approx(v, rel=1e-12), k
    total = sum(expected.values())
    assert r.headline["total"] == pytest.approx(total, rel=1e-12)
    assert r.headline["per_child"] == pytest.approx(total / 20_000, rel=1e-12)
    assert r.headline["per_head"] == pytest.approx(total / 50_000, rel=1e-12)
    assert r.headline["national_per_person"] == 287
    text = r.summary()
    assert "£287 per person" in text and "not directly comparable" in text and "SYNTHETIC" in text
    json.dumps(r.to_dict())


def test_late_intervention_extra_counts_and_errors():
    panel = _panel()
    r = eh.costs.late_intervention_cost(
        panel, authority="E06000001", price_base_year="2008/09",
        extra_counts=[{"category": "Domestic abuse", "count": 200, "unit_cost": u}
                      for u in ("dv_incident_nhs", "dv_incident_police", "dv_incident_cjs")])
    by_agency = r.table("by_agency").set_index("agency")["cost"]
    # 200 incidents x £1,171 (NHS) and x £415 (police), 2008/09 prices = no uprating
    assert by_agency["nhs"] == pytest.approx(200 * 1171)
    assert by_agency["police"] == pytest.approx(200 * 415)
    with pytest.raises(InputError) as err:
        eh.costs.late_intervention_cost(panel, authority="E09000001", price_base_year="2024/25")
    assert err.value.field == "authority" and "E06000001" in str(err.value)
    with pytest.raises(InputError) as err:
        eh.costs.late_intervention_cost(panel.drop(columns="cla"), authority="E06000001", price_base_year=2024)
    assert "cla" in str(err.value)
    with pytest.raises(InputError) as err:
        eh.costs.late_intervention_cost(panel, authority="E06000001", price_base_year=2024, population=-1)
    assert err.value.field == "population"
    with pytest.raises(InputError) as err:
        eh.costs.late_intervention_cost(panel, authority="E06000001", price_base_year=2024,
                                        extra_counts=[{"category": "x", "count": 1, "unit_cost": "nope"}])
    assert err.value.field == "extra_counts[0].unit_cost"
    short = eh.costs.late_intervention_cost(panel[panel["period"] >= "2023-10-01"], authority="E06000001",
                                            price_base_year=2024)
    assert any("Only 6 of the 12 months" in w for w in short.warnings)


def test_scorecard_by_hand():
    panel = _panel()
    sc = eh.costs.balanced_scorecard(panel, authority="E06000001", neighbours=["E06000003"])
    t = sc.table().set_index("indicator")
    # spend per child: authority 1 spends 150,000 a month for 20,000 children = £90 a year per child;
    # authorities 2 and 3 spend 100,000k / 20,000k = £60 a year per child
    spend = t.loc["Early-help spend per child aged 0-17"]
    assert spend["authority"] == pytest.approx(90) and spend["region"] == pytest.approx(60)
    assert spend["region_rank"] == 1 and spend["region_n"] == 3
    # referrals per 10,000: 90 x 12 / 20,000 x 10,000 = 540 this year, 600 last year (-10%)
    ref = t.loc["Referrals to children's social care per 10,000"]
    assert ref["authority"] == pytest.approx(540) and ref["previous"] == pytest.approx(600)
    assert ref["change_pct"] == pytest.approx(-10)
    # re-referral share: 20 / 90 = 22.2% for every authority
    assert t.loc["Re-referrals as a share of referrals", "authority"] == pytest.approx(100 * 20 / 90)
    # CLA stock per 10,000: 110 / 20,000 x 10,000 = 55, the same for neighbours (330 / 60,000)
    assert t.loc["Children looked after per 10,000", "neighbours"] == pytest.approx(55)
    text = sc.summary()
    assert text.startswith("LA 1 spends £90 a year per child on early help, 50% more than the rest of its region")
    assert "no long-term well-being indicators" in text
    json.dumps(sc.to_dict())
    with pytest.raises(InputError) as err:
        eh.costs.balanced_scorecard(panel, authority="E06000001", neighbours=["E09000009"])
    assert err.value.field == "neighbours"
    wb = panel.assign(neet_rate=np.where(panel["authority_code"] == "E06000001", 5.0, 7.0))
    sc2 = eh.costs.balanced_scorecard(wb, authority="E06000001", wellbeing=["neet_rate"])
    row = sc2.table().set_index("indicator").loc["neet_rate"]
    assert (row["dimension"], row["authority"], row["region"]) == ("Long-term well-being", 5.0, 7.0)


def test_scorecard_calls_the_mean_of_a_few_authorities_what_it_is():
    """Issue 13 item 5: the mean of three supplied authorities is not an England figure."""
    t = eh.costs.balanced_scorecard(_panel(), authority="E06000001").table()
    assert "supplied_mean" in t.columns and "england" not in t.columns and "england_panel" not in t.columns
    spend = t.set_index("indicator").loc["Early-help spend per child aged 0-17"]
    assert spend["supplied_mean"] == pytest.approx((90 + 60 + 60) / 3)


def _est(effect, se, outcome):
    return Estimate(estimate=effect, se=se, ci=(effect - 1.96 * se, effect + 1.96 * se), pvalue=0.01,
                    estimand="ATT", method="test", n_treated=500, n_control=500, outcome=outcome,
                    scale="proportion", synthetic=True)


CONFIG = {
    "cohort": 800, "delivery_cost": 600_000, "delivery_cost_year": "2023/24", "price_base_year": "2024/25",
    "links": [{"outcome": "cla_24m", "unit_cost": "cla_average_year", "duration": 2},
              {"outcome": "s47_12m", "unit_cost": "s47_enquiry"}],
    "unit_costs": [{"id": "cla_average_year", "value": 65_000, "price_year": "2023/24", "low": 50_000,
                    "high": 90_000, "unconfirmed": False, "source": "our 2023/24 outturn"}],
    "optimism_bias": {1: 0.0, 2: 0.05, 3: 0.1, 4: 0.2, 5: 0.3},
    "draws": 20_000, "seed": 5,
    "late_intervention": {"population": 280_000},
    "scorecard": {"neighbours": ["E06000003"]},
}


def test_evaluate_runs_everything():
    ests = {"cla_24m": _est(-0.008, 0.003, "cla_24m"), "s47_12m": _est(-0.02, 0.01, "s47_12m")}
    out = eh.costs.evaluate(CONFIG, ests, _panel(), authority="E06000001")
    assert set(out) == {"value_for_money", "late_intervention", "scorecard"}
    vfm = out["value_for_money"]
    # the override is used: 65,000 in 2023/24 prices uprated to 2024/25, grade 4 -> 20% removed
    links = vfm.table("links").set_index("unit_cost")
    f = eh.costs.DeflatorTable.default().factor("2023/24", "2024/25")
    assert links.loc["cla_average_year", "unit_cost_base_prices"] == pytest.approx(65_000 * f)
    assert links.loc["cla_average_year", "optimism_reduction"] == 0.2
    assert vfm.synthetic and "SYNTHETIC" in vfm.summary()
    assert not any("Optimism-bias reductions are UNCONFIRMED" in w for w in vfm.warnings)
    json.dumps({k: v.to_dict() for k, v in out.items()})
    again = eh.costs.evaluate(CONFIG, ests, _panel(), authority="E06000001")
    assert again["value_for_money"].headline == vfm.headline


@pytest.mark.parametrize("change,key", [
    ({"cohort": -10}, "costs.cohort"),
    ({"links": [{"outcome": "cla_24m", "unit_cost": "cla_avrage_year"}]}, "costs.links[0].unit_cost"),
    ({"price_base_year": "2035/36"}, "costs.price_base_year"),
    ({"delivery_cost_year": "1975/76"}, "costs.delivery_cost_year"),
    ({"unit_costs": [{"id": "s47_enquiry", "price_year": "1901/02"}]}, "costs.unit_costs[0].price_year"),
    ({"discount_schedule": "flat"}, "costs.discount_schedule"),
    ({"optimism_grade": 9}, "costs.optimism_grade"),
    ({"draws": -1}, "costs.draws"),
    ({"cohrot": 5}, "costs.cohrot"),
])
def test_config_errors_name_the_key(change, key):
    with pytest.raises(InputError) as err:
        eh.costs.CostsConfig.load({**CONFIG, **change})
    assert err.value.field == key
    bad_value = str(next(iter(change.values())))
    if key in ("costs.price_base_year", "costs.delivery_cost_year"):
        assert bad_value in str(err.value) and "1979/80 to 2024/25" in str(err.value)
    if key == "costs.links[0].unit_cost":
        assert "cla_avrage_year" in str(err.value) and "did you mean cla_average_year" in str(err.value)


def test_config_user_deflator_csv_extends_range(tmp_path):
    p = tmp_path / "defl.csv"
    p.write_text("year,index\n2023/24,100\n2024/25,102\n2025/26,104\n")
    cfg = eh.costs.CostsConfig.load({**CONFIG, "price_base_year": "2025/26", "deflator_csv": str(p),
                                     "unit_costs": [{"id": "cla_average_year", "value": 65_000,
                                                     "price_year": "2023/24"}],
                                     "links": [{"outcome": "cla_24m", "unit_cost": "cla_average_year"}]})
    assert cfg.deflators().factor("2023/24", "2025/26") == pytest.approx(1.04)
    # s47_enquiry's 2008/09 price year is not in this user table: named when linked
    with pytest.raises(InputError) as err:
        eh.costs.CostsConfig.load({**CONFIG, "price_base_year": "2025/26", "deflator_csv": str(p)})
    assert "2008/09" in str(err.value) or "2023/24" in str(err.value)


def test_evaluate_needs_estimates_and_panel():
    with pytest.raises(InputError) as err:
        eh.costs.evaluate(CONFIG, None, _panel(), authority="E06000001")
    assert err.value.field == "estimates"
    ests = {"cla_24m": _est(-0.008, 0.003, "cla_24m"), "s47_12m": _est(-0.02, 0.01, "s47_12m")}
    with pytest.raises(InputError) as err:
        eh.costs.evaluate(CONFIG, ests, None)
    assert err.value.field == "costs.late_intervention"


def test_plots_for_panel_results(tmp_path):
    import matplotlib.pyplot as plt

    panel = _panel()
    fig, axes = plt.subplots(1, 2, figsize=(14, 4))
    li = eh.costs.late_intervention_cost(panel, authority="E06000001", price_base_year=2024)
    sc = eh.costs.balanced_scorecard(panel, authority="E06000001", neighbours=["E06000003"])
    assert li.plot(ax=axes[0]) is axes[0] and sc.plot(ax=axes[1]) is axes[1]
    fig.savefig(tmp_path / "panel_costs.png")
    plt.close("all")
