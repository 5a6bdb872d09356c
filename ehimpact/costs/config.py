"""The ``costs:`` section of an evaluation config, and :func:`evaluate`, the one call the report makes."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from ehimpact.costs.appraisal import DEFAULT_SEED, OutcomeLink, value_for_money
from ehimpact.costs.late_intervention import late_intervention_cost
from ehimpact.costs.optimism import OptimismBias
from ehimpact.costs.prices import DeflatorTable, parse_year
from ehimpact.costs.result import CostResult
from ehimpact.costs.scorecard import balanced_scorecard
from ehimpact.costs.unit_costs import UnitCosts
from ehimpact.errors import InputError
from ehimpact.estimators.result import Estimate

__all__ = ["CostsConfig", "LinkConfig", "LateInterventionConfig", "ScorecardConfig", "evaluate"]

Year = int | str


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class LinkConfig(_Strict):
    """One outcome -> unit-cost link (see :class:`ehimpact.costs.OutcomeLink`)."""

    outcome: str
    unit_cost: str
    quantity: float = Field(default=1.0, ge=0, description="units of the cost per avoided event per year")
    duration: int = Field(default=1, ge=1, description="years the avoided cost recurs")
    start_year: int = Field(default=1, ge=0)
    baseline: float | None = Field(default=None, ge=0, le=1, description="for ratio-scale estimates")


class LateInterventionConfig(_Strict):
    """Cost of late intervention for the authority (needs the authority panel)."""

    enabled: bool = True
    authority: str | None = Field(default=None, description="GSS code; default the evaluation's authority")
    population: float | None = Field(default=None, gt=0, description="total resident population, all ages")
    months: int = Field(default=12, ge=1)
    extra_counts: list[dict[str, Any]] = Field(default_factory=list)


class ScorecardConfig(_Strict):
    """Balanced scorecard (Isos) for the authority against its region and neighbours."""

    enabled: bool = True
    authority: str | None = None
    neighbours: list[str] = Field(default_factory=list)
    wellbeing: list[str] = Field(default_factory=list)
    months: int = Field(default=12, ge=1)


class CostsConfig(_Strict):
    """Settings for step 9 (costs and value for money).

    Validation names the offending key: an unknown unit-cost id (``links[0].unit_cost``), a negative
    cohort (``cohort``), a price year outside the deflator table (``price_base_year``,
    ``delivery_cost_year`` or ``unit_costs[i].price_year``).

    Examples
    --------
    >>> cfg = CostsConfig(cohort=800, delivery_cost=1_200_000, delivery_cost_year="2023/24",
    ...                   price_base_year="2024/25",
    ...                   links=[{"outcome": "cla_24m", "unit_cost": "cla_average_year", "duration": 2}])
    >>> cfg.discount_schedule
    'green_book'
    """

    cohort: float = Field(description="children (or families) supported")
    delivery_cost: float = Field(gt=0, description="total delivery cost, £")
    delivery_cost_year: Year | None = Field(default=None, description="price year of delivery_cost")
    delivery_years: list[int] | None = Field(default=None, description="years the delivery cost is spread over")
    price_base_year: Year = Field(description='price base of the results, e.g. "2024/25"')
    links: list[LinkConfig] = Field(default_factory=list)
    deadweight: float = Field(default=0.0, ge=0, lt=1)
    attribution: float = Field(default=1.0, gt=0, le=1)
    optimism_grade: int | None = Field(default=None, description="one grade for all benefits; default per cost")
    optimism_bias: dict[int, float] | None = Field(default=None, description="grade -> share removed")
    discount_schedule: Literal["green_book", "green_book_health"] = "green_book"
    green_book_version: str | None = None
    unit_costs: list[dict[str, Any]] = Field(default_factory=list, description="entries to add or override")
    unit_costs_csv: Path | None = Field(default=None, description="replace the shipped database")
    deflator_csv: Path | None = Field(default=None, description="CSV with columns year,index")
    deflator_growth: list[float] | None = Field(default=None, description="extend the table (e.g. OBR forecasts)")
    cost_range: float | None = Field(default=0.25, ge=0, lt=1)
    draws: int = Field(default=10_000, ge=0)
    seed: int | None = Field(default=None, description="Monte Carlo seed; default the evaluation's seed")
    level: float = Field(default=0.90, gt=0, lt=1)
    late_intervention: LateInterventionConfig | None = None
    scorecard: ScorecardConfig | None = None

    @field_validator("cohort")
    @classmethod
    def _cohort_positive(cls, v: float) -> float:
        if v < 0:
            raise ValueError(f"cohort is {v}; give the number of children supported (a positive number)")
        return v

    # built lazily so validation and evaluation share them
    def deflators(self) -> DeflatorTable:
        """The deflator table this config uses."""
        t = DeflatorTable.from_csv(self.deflator_csv) if self.deflator_csv else DeflatorTable.default()
        return t.extend(self.deflator_growth) if self.deflator_growth else t

    def unit_cost_table(self) -> UnitCosts:
        """The unit-cost database this config uses (shipped or CSV, plus overrides)."""
        base = UnitCosts.from_csv(self.unit_costs_csv) if self.unit_costs_csv else UnitCosts.default()
        return base.with_overrides(self.unit_costs) if self.unit_costs else base

    def optimism(self) -> OptimismBias:
        """Optimism-bias table (shipped placeholders, replaced by ``optimism_bias`` where given)."""
        ob = OptimismBias.default()
        return ob.with_overrides(self.optimism_bias) if self.optimism_bias else ob

    @model_validator(mode="after")
    def _check_against_data(self) -> CostsConfig:
        try:
            table = self.deflators()
            for key in ("price_base_year", "delivery_cost_year"):
                v = getattr(self, key)
                if v is not None:
                    table.value(v, field=key)
            uc = self.unit_cost_table()
            for i, e in enumerate(self.unit_costs):
                if "price_year" in e:
                    table.value(e["price_year"], field=f"unit_costs[{i}].price_year")
            for i, lk in enumerate(self.links):
                uc.get(lk.unit_cost, field=f"links[{i}].unit_cost")
                table.value(uc.get(lk.unit_cost)["price_year"], field=f"unit_costs.{lk.unit_cost}.price_year")
            ob = self.optimism()
            if self.optimism_grade is not None:
                ob.reduction(self.optimism_grade)
        except InputError as err:
            raise ValueError(f"{err.field}: {err.message}" + (f" ({err.fix})" if err.fix else "")) from None
        return self

    @classmethod
    def load(cls, data: dict[str, Any] | CostsConfig) -> CostsConfig:
        """Validate a ``costs:`` mapping; errors become one :class:`InputError` naming each key.

        Examples
        --------
        >>> try:
        ...     CostsConfig.load({"cohort": -1, "delivery_cost": 1, "price_base_year": 2024})
        ... except InputError as e:
        ...     print(e.field)
        costs.cohort
        """
        if isinstance(data, CostsConfig):
            return data
        if not isinstance(data, dict):
            raise InputError(f"the costs section is a {type(data).__name__}", field="costs",
                             fix="give a mapping of settings (see ehimpact.costs.config.CostsConfig)")
        try:
            return cls.model_validate(data)
        except ValidationError as err:
            lines, first = [], None
            for e in err.errors():
                key = ".".join(str(p) for p in ("costs", *e["loc"]))
                msg = e["msg"].removeprefix("Value error, ")
                if not e["loc"] and ": " in msg:  # a model-level check names its own key first
                    sub, msg = msg.split(": ", 1)
                    key = f"costs.{sub}"
                first = first or key
                lines.append(f"unknown key '{key}'" if e["type"] == "extra_forbidden"
                             else f"missing key '{key}'" if e["type"] == "missing" else f"'{key}': {msg}")
            raise InputError("bad costs config: " + "; ".join(lines), field=first,
                             fix="edit the costs section of the config") from None

    def to_links(self) -> list[OutcomeLink]:
        """The links as :class:`OutcomeLink` objects."""
        return [OutcomeLink(**lk.model_dump()) for lk in self.links]


def evaluate(config: CostsConfig | dict[str, Any], estimates: dict[str, Estimate] | None = None,
             panel: pd.DataFrame | None = None, *, authority: str | None = None,
             seed: int | None = None) -> dict[str, CostResult]:
    """Run every costing the config asks for: the one call step 9 of the report makes.

    Parameters
    ----------
    config : CostsConfig or dict
        The ``costs:`` section.
    estimates : dict of outcome name to Estimate, optional
        Impact estimates; value for money runs when ``config.links`` is non-empty.
    panel : DataFrame, optional
        Authority panel, for the cost of late intervention and the scorecard.
    authority : str, optional
        GSS code of the authority (used when the sub-sections do not name one).
    seed : int, optional
        The evaluation's seed.  The Monte Carlo uses ``costs.seed`` when the config sets it, else this
        seed, else :data:`ehimpact.costs.appraisal.DEFAULT_SEED`; the seed used is recorded in the
        result's ``assumptions["seed"]``.

    Returns
    -------
    dict
        ``"value_for_money"``, ``"late_intervention"`` and ``"scorecard"`` results, as configured.
    """
    cfg = CostsConfig.load(config)
    uc, defl, ob = cfg.unit_cost_table(), cfg.deflators(), cfg.optimism()
    out: dict[str, CostResult] = {}
    if cfg.links:
        if not estimates:
            raise InputError("the costs config links outcomes to unit costs but no estimates were given",
                             field="estimates", fix="pass the impact estimates, or remove costs.links")
        out["value_for_money"] = value_for_money(
            estimates, links=cfg.to_links(), cohort=cfg.cohort, delivery_cost=cfg.delivery_cost,
            delivery_cost_year=cfg.delivery_cost_year, delivery_years=cfg.delivery_years,
            price_base_year=cfg.price_base_year, unit_costs=uc, deflators=defl, deadweight=cfg.deadweight,
            attribution=cfg.attribution, optimism=ob, optimism_grade=cfg.optimism_grade,
            schedule=cfg.discount_schedule, version=cfg.green_book_version, cost_range=cfg.cost_range,
            draws=cfg.draws, seed=_monte_carlo_seed(cfg.seed, seed), level=cfg.level)
    for key, section in (("late_intervention", cfg.late_intervention), ("scorecard", cfg.scorecard)):
        if section is None or not section.enabled:
            continue
        code = section.authority or authority
        if panel is None or code is None:
            raise InputError(f"costs.{key} needs the authority panel and an authority code", field=f"costs.{key}",
                             fix="pass panel= and authority=, or set enabled: false")
        if key == "late_intervention":
            out[key] = late_intervention_cost(panel, authority=code, price_base_year=cfg.price_base_year,
                                              population=section.population, months=section.months,
                                              extra_counts=section.extra_counts, unit_costs=uc, deflators=defl)
        else:
            out[key] = balanced_scorecard(panel, authority=code, neighbours=section.neighbours,
                                          wellbeing=section.wellbeing, months=section.months)
    parse_year(cfg.price_base_year, field="costs.price_base_year")
    return out


def _monte_carlo_seed(costs_seed: int | None, evaluation_seed: int | None) -> int:
    """``costs.seed``, else the evaluation's seed, else the documented default."""
    for v, key in ((costs_seed, "costs.seed"), (evaluation_seed, "seed")):
        if v is None:
            continue
        if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 0:
            raise InputError(f"{key} is {v!r}", field=key, fix="give a whole number >= 0, e.g. seed: 1")
        return int(v)
    return DEFAULT_SEED
