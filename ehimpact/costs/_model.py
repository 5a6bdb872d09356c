"""The arithmetic's inputs: :class:`OutcomeLink` and the array model both appraisal and uncertainty use.

Kept apart from :mod:`ehimpact.costs.appraisal` so that :mod:`ehimpact.costs.uncertainty` (which draws
from the model) and the appraisal (which builds it and calls the uncertainty code) import it one way,
without an import cycle (issue 14).  ``OutcomeLink`` is re-exported by the appraisal module.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ehimpact.costs.discounting import DiscountSchedule
from ehimpact.errors import InputError

__all__ = ["OutcomeLink"]


@dataclass(frozen=True)
class OutcomeLink:
    """How one outcome's change turns into avoided cost.

    Parameters
    ----------
    outcome : str
        Key of the estimate (e.g. ``"cla_24m"``).
    unit_cost : str
        Unit-cost id (e.g. ``"cla_average_year"``).
    quantity : float, default 1
        Units of the cost per avoided event per year (52 for a weekly cost over a year).
    duration : int, default 1
        Years over which the avoided cost recurs (1 for a one-off event).
    start_year : int, default 1
        First year of avoided cost (year 0 is the year of delivery).
    baseline : float, optional
        Outcome probability without the service; needed only for ratio-scale estimates
        (change = baseline x (ratio - 1)).
    """

    outcome: str
    unit_cost: str
    quantity: float = 1.0
    duration: int = 1
    start_year: int = 1
    baseline: float | None = None

    def __post_init__(self) -> None:
        if not (isinstance(self.quantity, (int, float)) and self.quantity >= 0 and math.isfinite(self.quantity)):
            raise InputError(f"quantity {self.quantity!r} for {self.outcome}->{self.unit_cost}", field="quantity",
                             fix="give a non-negative number of units per avoided event per year")
        if int(self.duration) != self.duration or self.duration < 1:
            raise InputError(f"duration {self.duration!r} for {self.outcome}->{self.unit_cost}", field="duration",
                             fix="give a whole number of years, at least 1")
        if int(self.start_year) != self.start_year or self.start_year < 0:
            raise InputError(f"start_year {self.start_year!r} for {self.outcome}->{self.unit_cost}",
                             field="start_year", fix="give a whole year, 0 or later")

    @classmethod
    def coerce(cls, x: OutcomeLink | Mapping[str, Any]) -> OutcomeLink:
        """Accept a link or a dict with the same keys."""
        if isinstance(x, OutcomeLink):
            return x
        if not isinstance(x, Mapping):
            raise InputError(f"{x!r} is not an outcome link", field="links",
                             fix="give a dict with outcome, unit_cost and optionally quantity, duration")
        unknown = set(x) - {"outcome", "unit_cost", "quantity", "duration", "start_year", "baseline"}
        if unknown or "outcome" not in x or "unit_cost" not in x:
            raise InputError(f"outcome link {dict(x)!r} is malformed", field="links",
                             fix="keys are outcome, unit_cost, quantity, duration, start_year, baseline")
        return cls(**{k: v for k, v in x.items()})


# ---------------------------------------------------------------------------------------------- model
@dataclass
class _Model:
    """Everything the arithmetic needs, as arrays (one entry per link, or per outcome for effects)."""

    outcomes: list[str]
    effect: np.ndarray          # (K,) change per child on the event scale
    effect_se: np.ndarray       # (K,)
    effect_ci: np.ndarray       # (K, 2)
    link_outcome: np.ndarray    # (L,) index into outcomes
    links: list[OutcomeLink]
    cost: np.ndarray            # (L,) unit cost in base-year prices
    cost_low: np.ndarray        # (L,)
    cost_high: np.ndarray       # (L,)
    ob: np.ndarray              # (L,) optimism-bias reduction
    quantity: np.ndarray        # (L,)
    pvf: np.ndarray             # (L,) sum of discount factors over the link's years
    agency: list[str]
    cashable: np.ndarray        # (L,) bool
    cohort: float
    deadweight: float
    attribution: float
    delivery_cost: float        # in base-year prices, total
    delivery_years: np.ndarray  # years of delivery spending
    delivery_share: np.ndarray  # share of the cost in each delivery year
    schedule: DiscountSchedule
    horizon: int
    years_start: np.ndarray     # (L,)
    years_dur: np.ndarray       # (L,)
    unconfirmed: list[str] = field(default_factory=list)

    @property
    def pv_delivery(self) -> float:
        return float(self.delivery_cost * (self.delivery_share * self.schedule.factors(self.delivery_years)).sum())

    def pv_by_link(self, *, effect: np.ndarray | None = None, cost: np.ndarray | None = None,
                   ob: np.ndarray | None = None, deadweight: Any = None, attribution: Any = None,
                   pvf: np.ndarray | None = None) -> np.ndarray:
        """PV of avoided costs per link; any argument may carry a leading draws axis."""
        eff = self.effect if effect is None else effect
        dw = self.deadweight if deadweight is None else deadweight
        at = self.attribution if attribution is None else attribution
        events = -eff[..., self.link_outcome] * self.cohort * (1.0 - np.asarray(dw)[..., None]) \
            * np.asarray(at)[..., None]
        c = self.cost if cost is None else cost
        o = self.ob if ob is None else ob
        f = self.pvf if pvf is None else pvf
        return events * self.quantity * c * (1.0 - o) * f
