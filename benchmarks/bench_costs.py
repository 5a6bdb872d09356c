"""Benchmark: value-for-money Monte Carlo (eh.costs.value_for_money) at 10,000 to 1,000,000 draws.

No peer library does this calculation (the GMCA/New Economy CBA model is an Excel workbook), so the
table reports ehimpact alone: wall time of the whole call (model build, simulation, tornado) and of the
simulation step alone, with peak memory, each case in a fresh process.  The target: 100,000 draws in
under a second.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from harness import run_case, write_results  # noqa: E402

SETUP = """
import numpy as np
import ehimpact as eh
from ehimpact.estimators.result import Estimate
from ehimpact.costs.appraisal import _build_model
from ehimpact.costs.uncertainty import simulate
def est(e, se, o):
    return Estimate(estimate=e, se=se, ci=(e - 1.96 * se, e + 1.96 * se), pvalue=0.01, estimand="ATT",
                    method="bench", n_treated=1, n_control=1, outcome=o, scale="proportion")
ests = {"cla_24m": est(-0.008, 0.003, "cla_24m"), "s47_12m": est(-0.02, 0.01, "s47_12m"),
        "dv": est(-0.03, 0.01, "dv")}
links = [{"outcome": "cla_24m", "unit_cost": "cla_average_year", "duration": 2},
         {"outcome": "s47_12m", "unit_cost": "s47_enquiry"}] + [
        {"outcome": "dv", "unit_cost": u} for u in ("dv_incident_nhs", "dv_incident_cjs", "dv_incident_police",
                                                     "dv_incident_la_children", "dv_incident_la_housing")]
kw = dict(links=links, cohort=1000, delivery_cost=500_000, price_base_year="2024/25")
eh.costs.value_for_money(ests, draws=100, **kw)  # warm caches (YAML, CSV) outside the timed region
"""


def main(argv: list[str]) -> None:
    sizes = [10_000, 100_000] if "--quick" in argv else [10_000, 100_000, 1_000_000]
    rows = []
    for n in sizes:
        whole = run_case(SETUP, f"r = eh.costs.value_for_money(ests, draws={n}, seed=1, **kw)\n"
                                "__result__ = round(r.headline['npv_mean'])")
        rows.append({"case": "value_for_money (whole call)", "draws": n, "links": 7, **whole})
        sim = run_case(SETUP + "\nfrom ehimpact.costs.unit_costs import UnitCosts\n"
                       "r0 = eh.costs.value_for_money(ests, draws=0, tornado=False, **kw)\n",
                       f"import ehimpact.costs.appraisal as A\n"
                       f"m = A._build_model(ests, [A.OutcomeLink.coerce(x) for x in links], cohort=1000, "
                       f"delivery_cost=500_000, delivery_cost_year=None, price_base_year='2024/25', "
                       f"unit_costs=eh.costs.UnitCosts.default(), deflators=eh.costs.DeflatorTable.default(), "
                       f"deadweight=0.0, attribution=1.0, optimism=eh.costs.OptimismBias.default(), "
                       f"optimism_grade=None, schedule=eh.costs.schedules()['green_book'], delivery_years=None, "
                       f"cost_range=0.25)\n"
                       f"d = simulate(m, draws={n}, seed=1)\n__result__ = round(float(d['npv'].mean()))")
        rows.append({"case": "simulation step only", "draws": n, "links": 7, **sim})
    write_results("costs_quick" if "--quick" in argv else "costs", rows, notes="ehimpact only (no peer library computes this). Seconds exclude imports; "
                  "the machine is shared, so treat times as upper bounds.")


if __name__ == "__main__":
    main(sys.argv[1:])
