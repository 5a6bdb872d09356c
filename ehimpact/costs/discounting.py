"""Green Book discounting: versioned schedules and vectorised discount factors."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from ehimpact.costs._data import load_yaml
from ehimpact.errors import InputError

__all__ = ["DiscountSchedule", "discount_factors", "present_value", "schedules"]


@dataclass(frozen=True)
class DiscountSchedule:
    """A piecewise-constant discount-rate schedule.

    Parameters
    ----------
    name : str
        ``"green_book"`` or ``"green_book_health"`` (or a user name).
    breaks : tuple of float
        Last year of each segment but the open-ended last one (Green Book: 30, 75, 125, 200, 300).
    rates : tuple of float
        One rate per segment (``len(breaks) + 1``).
    version, source : str
        Green Book edition and citation.
    unconfirmed : str, optional
        What could not be checked.
    """

    name: str
    breaks: tuple[float, ...]
    rates: tuple[float, ...]
    version: str = "user"
    source: str = "user supplied"
    label: str = ""
    unconfirmed: str | None = None

    def __post_init__(self) -> None:
        if len(self.rates) != len(self.breaks) + 1:
            raise InputError(f"schedule {self.name!r} has {len(self.rates)} rates for {len(self.breaks)} breaks",
                             field="rates", fix="give one more rate than breaks")
        if any(b2 <= b1 for b1, b2 in zip(self.breaks, self.breaks[1:], strict=False)) or \
                (self.breaks and self.breaks[0] <= 0):
            raise InputError(f"breaks of schedule {self.name!r} must be positive and increasing",
                             field="breaks", fix="e.g. [30, 75, 125, 200, 300]")
        if any(not (-0.5 < r < 1) for r in self.rates):
            raise InputError(f"rates of schedule {self.name!r} look wrong: {list(self.rates)}", field="rates",
                             fix="give rates as fractions (0.035 for 3.5%)")

    def factors(self, years: Any) -> np.ndarray:
        """Discount factors ``D(t)`` for ``t`` years after year 0 (vectorised, fractional ``t`` allowed).

        Each rate applies to its own segment only and the factors compound:
        ``D(t) = prod_k (1 + r_k) ** -(time spent in segment k up to t)``.
        """
        t = np.asarray(years, dtype=float)
        if np.any(~np.isfinite(t)) or np.any(t < 0):
            bad = np.flatnonzero(~np.isfinite(t.ravel()) | (t.ravel() < 0)).tolist()
            raise InputError("years must be zero or positive", field="years", rows=bad,
                             fix="count years from 0 (the first year of the proposal)")
        edges = np.array([0.0, *self.breaks, np.inf])
        widths = np.diff(edges)
        exposure = np.clip(t[..., None] - edges[:-1], 0.0, widths)  # time in each segment
        log_d = -(exposure * np.log1p(np.asarray(self.rates))).sum(axis=-1)
        return np.exp(log_d)


def schedules(version: str | None = None) -> dict[str, DiscountSchedule]:
    """The Green Book schedules of one edition (default: the latest shipped).

    Examples
    --------
    >>> sorted(schedules())
    ['green_book', 'green_book_health']
    """
    spec = load_yaml("discount_schedules.yaml")
    v = str(version) if version is not None else str(spec["default_version"])
    if v not in spec["versions"]:
        raise InputError(f"Green Book version {v!r} is not shipped", field="version",
                         fix=f"use one of {sorted(spec['versions'])} or add it to discount_schedules.yaml")
    ed = spec["versions"][v]
    out = {}
    for name, s in ed["schedules"].items():
        out[name] = DiscountSchedule(name=name, breaks=tuple(s["breaks"]), rates=tuple(s["rates"]),
                                     version=v, source=" ".join(ed["source"].split()), label=s.get("label", ""),
                                     unconfirmed=s.get("unconfirmed"))
    return out


def _resolve(schedule: str | DiscountSchedule, version: str | None) -> DiscountSchedule:
    if isinstance(schedule, DiscountSchedule):
        return schedule
    available = schedules(version)
    if schedule not in available:
        raise InputError(f"unknown discount schedule {schedule!r}", field="schedule",
                         fix=f"use one of {sorted(available)}")
    return available[schedule]


def discount_factors(years: Any, schedule: str | DiscountSchedule = "green_book", *,
                     version: str | None = None) -> np.ndarray:
    """Green Book discount factors for the given years.

    Parameters
    ----------
    years : int, float or array
        Years after year 0 (year 0 is undiscounted).
    schedule : {"green_book", "green_book_health"} or DiscountSchedule
        Standard STPR (3.5% for years 0-30, then 3.0, 2.5, 2.0, 1.5, 1.0%) or the health rate
        (1.5%, declining likewise).
    version : str, optional
        Green Book edition in ``data/discount_schedules.yaml`` (default: latest shipped).

    Returns
    -------
    ndarray
        Same shape as ``years``.

    Notes
    -----
    The declining schedule is applied segment by segment and compounded:
    :math:`D(t) = 1.035^{-\\min(t,30)} \\cdot 1.03^{-\\mathrm{clip}(t-30, 0, 45)} \\cdots`, so
    :math:`D(31) = D(30)/1.03`.  A lower long-term rate never reaches back to year 0.

    Examples
    --------
    >>> np.round(discount_factors([0, 1, 30, 31]), 6)
    array([1.      , 0.966184, 0.356278, 0.345901])
    """
    return _resolve(schedule, version).factors(years)


def present_value(flows: Any, years: Any | None = None, schedule: str | DiscountSchedule = "green_book", *,
                  version: str | None = None) -> float | np.ndarray:
    """Discounted sum of a stream of flows (last axis = years).

    Parameters
    ----------
    flows : array
        Flows in real base-year prices; the last axis runs over ``years``.
    years : array, optional
        Year of each flow; default ``0, 1, 2, ...``.

    Examples
    --------
    >>> round(float(present_value([100, 100])), 2)
    196.62
    """
    f = np.asarray(flows, dtype=float)
    y = np.arange(f.shape[-1]) if years is None else np.asarray(years, dtype=float)
    return (f * discount_factors(y, schedule, version=version)).sum(axis=-1)
