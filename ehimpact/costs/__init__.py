"""ehimpact.costs: unit costs, price base, discounting and value for money.

Public API (``import ehimpact as eh``)::

    eh.costs.uprate(1000, "2013/14", "2024/25")          # GDP-deflator uprating
    eh.costs.discount_factors([1, 30, 31])               # Green Book declining schedule
    eh.costs.UnitCosts.default().get("cla_average_year")  # unit-cost database
    eh.costs.value_for_money(estimates, links=..., cohort=..., delivery_cost=..., price_base_year=...)
    eh.costs.late_intervention_cost(panel, authority="E08000001", ...)
    eh.costs.balanced_scorecard(panel, authority="E08000001")
    eh.costs.evaluate(config, estimates, panel)           # everything the report needs

Every result is a :class:`CostResult` with ``table()``, ``summary()``, ``plot()`` and ``to_dict()``.
"""

from __future__ import annotations

import importlib
from typing import Any

_LAZY: dict[str, str] = {
    "CostResult": "ehimpact.costs.result",
    "DeflatorTable": "ehimpact.costs.prices",
    "uprate": "ehimpact.costs.prices",
    "parse_year": "ehimpact.costs.prices",
    "format_year": "ehimpact.costs.prices",
    "DiscountSchedule": "ehimpact.costs.discounting",
    "discount_factors": "ehimpact.costs.discounting",
    "present_value": "ehimpact.costs.discounting",
    "schedules": "ehimpact.costs.discounting",
    "OptimismBias": "ehimpact.costs.optimism",
    "UnitCosts": "ehimpact.costs.unit_costs",
    "AGENCIES": "ehimpact.costs.unit_costs",
    "OutcomeLink": "ehimpact.costs.appraisal",
    "ValueForMoney": "ehimpact.costs.appraisal",
    "value_for_money": "ehimpact.costs.appraisal",
    "simulate": "ehimpact.costs.uncertainty",
    "tornado_table": "ehimpact.costs.uncertainty",
    "plot_tornado": "ehimpact.costs.uncertainty",
    "late_intervention_cost": "ehimpact.costs.late_intervention",
    "LateInterventionCost": "ehimpact.costs.late_intervention",
    "balanced_scorecard": "ehimpact.costs.scorecard",
    "Scorecard": "ehimpact.costs.scorecard",
    "CostsConfig": "ehimpact.costs.config",
    "evaluate": "ehimpact.costs.config",
}

__all__ = sorted(_LAZY)


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        value = getattr(importlib.import_module(_LAZY[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'ehimpact.costs' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
