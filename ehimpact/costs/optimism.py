"""Optimism bias on benefits: percentage reductions by confidence grade (configurable)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from ehimpact.costs._data import load_yaml
from ehimpact.errors import InputError

__all__ = ["OptimismBias"]


@dataclass(frozen=True)
class OptimismBias:
    """Share of a benefit removed for optimism, by the confidence grade of its evidence.

    Parameters
    ----------
    reductions : mapping of int to float
        Grade (1 = strongest evidence) -> fraction removed, in [0, 1).
    source : str
        Citation, shown in outputs.
    unconfirmed : bool
        True for the shipped placeholder table (the HMT/New Economy values could not be checked).

    Examples
    --------
    >>> ob = OptimismBias.default()
    >>> ob.apply(1000.0, grade=3)
    900.0
    """

    reductions: Mapping[int, float]
    source: str = "user supplied"
    unconfirmed: bool = False

    def __post_init__(self) -> None:
        clean = {}
        for g, r in self.reductions.items():
            try:
                gi, rf = int(g), float(r)
            except (TypeError, ValueError):
                raise InputError(f"grade {g!r}: reduction {r!r} is not a number", field="optimism_bias",
                                 fix="map whole-number grades to fractions, e.g. {1: 0.0, 2: 0.05}") from None
            if not 0 <= rf < 1:
                raise InputError(f"grade {gi}: reduction {rf} is outside [0, 1)", field="optimism_bias",
                                 fix="give the share removed as a fraction, e.g. 0.1 for 10%")
            clean[gi] = rf
        object.__setattr__(self, "reductions", dict(sorted(clean.items())))

    @classmethod
    def default(cls) -> OptimismBias:
        """The shipped placeholder table (UNCONFIRMED; see ``data/optimism_bias.yaml``)."""
        spec = load_yaml("optimism_bias.yaml")
        return cls(reductions=spec["reductions"], source=spec["source"], unconfirmed=bool(spec["unconfirmed"]))

    def with_overrides(self, reductions: Mapping[int, float], *, source: str = "user configuration") -> OptimismBias:
        """A copy with some grades replaced (the result is no longer marked unconfirmed if all are replaced)."""
        merged = {**self.reductions, **{int(k): v for k, v in reductions.items()}}
        all_replaced = set(self.reductions) <= {int(k) for k in reductions}
        return OptimismBias(reductions=merged, source=source if all_replaced else f"{self.source}; {source}",
                            unconfirmed=self.unconfirmed and not all_replaced)

    def reduction(self, grade: int | None) -> float:
        """Fraction removed for ``grade`` (``None`` means no adjustment)."""
        if grade is None:
            return 0.0
        try:
            g = int(grade)
        except (TypeError, ValueError):
            g = None
        if g is None or g not in self.reductions:
            raise InputError(f"confidence grade {grade!r} has no optimism-bias reduction", field="optimism_grade",
                             fix=f"use one of {sorted(self.reductions)} or add it under optimism_bias")
        return self.reductions[g]

    def apply(self, benefit: float, *, grade: int | None) -> float:
        """``benefit * (1 - reduction(grade))``."""
        return benefit * (1.0 - self.reduction(grade))
