"""Uncertainty in value for money: vectorised Monte Carlo, PERT draws, one-way sensitivity (tornado).

What is drawn
-------------
* each outcome's effect ~ Normal(estimate, SE) (on the event scale; independent across outcomes);
* each unit cost ~ PERT(low, value, high) (Beta-PERT, shape 4), fixed when low = high;
* each optimism-bias reduction ~ Triangular(0, r, min(2r, 0.99)), so its mean stays r when 2r < 0.99.

Deadweight, attribution, durations and the delivery cost stay fixed in the simulation; the tornado
varies them one at a time.  Every draw is a row, so the whole simulation is a handful of NumPy array
operations (100,000 draws take a few tens of milliseconds).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from ehimpact.errors import InputError

if TYPE_CHECKING:
    from matplotlib.axes import Axes

    from ehimpact.costs._model import _Model

__all__ = ["pert", "simulate", "tornado_table", "plot_tornado"]


def pert(rng: np.random.Generator, low: np.ndarray, mode: np.ndarray, high: np.ndarray, size: int,
         *, shape: float = 4.0) -> np.ndarray:
    """Beta-PERT draws, one column per (low, mode, high) triple; fixed where ``low == high``.

    Parameters
    ----------
    rng : numpy Generator
    low, mode, high : array of shape (L,)
    size : int
        Number of draws (rows).
    shape : float, default 4
        The classic PERT weight on the mode; the mean is ``(low + shape*mode + high) / (shape + 2)``.

    Returns
    -------
    ndarray of shape (size, L)

    Examples
    --------
    >>> x = pert(np.random.default_rng(0), np.array([0.0]), np.array([1.0]), np.array([4.0]), 200_000)
    >>> round(float(x.mean()), 2)  # (0 + 4*1 + 4) / 6
    1.33
    """
    low, mode, high = (np.asarray(a, dtype=float) for a in (low, mode, high))
    if np.any(low > mode) or np.any(mode > high):
        raise InputError("PERT needs low <= mode <= high", field="low", fix="correct the unit-cost range")
    width = high - low
    fixed = width <= 0
    safe = np.where(fixed, 1.0, width)
    alpha = 1.0 + shape * (mode - low) / safe
    beta = 1.0 + shape * (high - mode) / safe
    u = rng.beta(np.where(fixed, 1.0, alpha), np.where(fixed, 1.0, beta), size=(size, low.size))
    return np.where(fixed, mode, low + u * width)


def _draw_ob(rng: np.random.Generator, ob: np.ndarray, size: int) -> np.ndarray:
    hi = np.minimum(2.0 * ob, 0.99)
    u = rng.random((size, ob.size))
    # inverse CDF of Triangular(0, c, hi), written out so it vectorises over columns with different c
    c = np.where(hi > 0, ob / np.where(hi > 0, hi, 1.0), 0.5)
    left = hi * np.sqrt(u * c)
    right = hi * (1.0 - np.sqrt((1.0 - u) * (1.0 - c)))
    return np.where(ob > 0, np.where(u < c, left, right), 0.0)


def simulate(model: _Model, *, draws: int, seed: int) -> pd.DataFrame:
    """Draw NPV and BCR ``draws`` times (same seed, same numbers).

    Returns
    -------
    DataFrame
        Columns ``pv_avoided_costs, npv, bcr`` plus ``pv_<agency>`` per agency.
    """
    rng = np.random.default_rng(seed)
    n = int(draws)
    eff = model.effect + rng.standard_normal((n, model.effect.size)) * model.effect_se
    cost = pert(rng, model.cost_low, model.cost, model.cost_high, n)
    ob = _draw_ob(rng, model.ob, n)
    pv = model.pv_by_link(effect=eff, cost=cost, ob=ob)
    pv_b = pv.sum(axis=1)
    pv_c = model.pv_delivery
    out = {"pv_avoided_costs": pv_b, "npv": pv_b - pv_c, "bcr": pv_b / pv_c}
    agencies = np.array(model.agency)
    for a in dict.fromkeys(model.agency):
        out[f"pv_{a}"] = pv[:, agencies == a].sum(axis=1)
    return pd.DataFrame(out)


def tornado_table(model: _Model) -> pd.DataFrame:
    """One-way sensitivity: NPV and BCR with each driver at its low and high value, others at base.

    Drivers: each outcome's effect (its confidence limits), each unit cost (its range), optimism bias
    (none vs doubled), every duration (one year shorter / longer), deadweight and attribution
    (+/- 10 points, within their bounds).  Rows are sorted by the NPV swing, largest first.
    """
    pv_c = model.pv_delivery
    rows: list[dict[str, Any]] = []

    def add(driver: str, how: str, lo_in: float, hi_in: float, pv_lo: float, pv_hi: float) -> None:
        rows.append({"driver": driver, "varied": how, "low_input": lo_in, "high_input": hi_in,
                     "npv_low": pv_lo - pv_c, "npv_high": pv_hi - pv_c, "bcr_low": pv_lo / pv_c,
                     "bcr_high": pv_hi / pv_c})

    for k, name in enumerate(model.outcomes):
        lo, hi = model.effect_ci[k]
        if np.isfinite(lo) and np.isfinite(hi) and lo != hi:
            e_lo, e_hi = model.effect.copy(), model.effect.copy()
            e_lo[k], e_hi[k] = lo, hi
            add(f"effect on {name}", "confidence limits", lo, hi,
                model.pv_by_link(effect=e_lo).sum(), model.pv_by_link(effect=e_hi).sum())
    for i, lk in enumerate(model.links):
        if model.cost_low[i] < model.cost_high[i]:
            c_lo, c_hi = model.cost.copy(), model.cost.copy()
            c_lo[i], c_hi[i] = model.cost_low[i], model.cost_high[i]
            add(f"unit cost {lk.unit_cost}", "low / high", model.cost_low[i], model.cost_high[i],
                model.pv_by_link(cost=c_lo).sum(), model.pv_by_link(cost=c_hi).sum())
    if np.any(model.ob > 0):
        add("optimism bias", "none / doubled", 0.0, 2.0, model.pv_by_link(ob=np.zeros_like(model.ob)).sum(),
            model.pv_by_link(ob=np.minimum(2 * model.ob, 0.99)).sum())
    pvf_short = np.array([model.schedule.factors(np.arange(s, s + max(d - 1, 1))).sum()
                          for s, d in zip(model.years_start, model.years_dur, strict=True)])
    pvf_long = np.array([model.schedule.factors(np.arange(s, s + d + 1)).sum()
                         for s, d in zip(model.years_start, model.years_dur, strict=True)])
    if not np.allclose(pvf_short, model.pvf) or not np.allclose(pvf_long, model.pvf):
        add("duration of avoided costs", "one year shorter / longer", -1, 1,
            model.pv_by_link(pvf=pvf_short).sum(), model.pv_by_link(pvf=pvf_long).sum())
    dw_lo, dw_hi = max(model.deadweight - 0.1, 0.0), min(model.deadweight + 0.1, 0.99)
    add("deadweight", "-/+ 10 points", dw_lo, dw_hi,
        model.pv_by_link(deadweight=dw_lo).sum(), model.pv_by_link(deadweight=dw_hi).sum())
    at_lo, at_hi = max(model.attribution - 0.1, 0.01), min(model.attribution + 0.1, 1.0)
    if at_lo != at_hi:
        add("attribution", "-/+ 10 points", at_lo, at_hi,
            model.pv_by_link(attribution=at_lo).sum(), model.pv_by_link(attribution=at_hi).sum())
    df = pd.DataFrame(rows)
    df["npv_swing"] = (df["npv_high"] - df["npv_low"]).abs()
    return df.sort_values("npv_swing", ascending=False, kind="stable").reset_index(drop=True)


def plot_tornado(table: pd.DataFrame, *, base: float, ax: Axes | None = None, top: int = 10) -> Axes:
    """Tornado chart of one-way NPV sensitivity (largest swing at the top).

    Parameters
    ----------
    table : DataFrame
        :func:`tornado_table` output.
    base : float
        NPV with every driver at its base value.
    ax : matplotlib Axes, optional
    top : int, default 10
        How many drivers to show.
    """
    import matplotlib.pyplot as plt

    from ehimpact.costs.result import money_axis

    df = table.head(top).iloc[::-1]
    if ax is None:
        _, ax = plt.subplots(figsize=(7.5, 0.5 * len(df) + 1.2))
    y = np.arange(len(df))
    lo = df[["npv_low", "npv_high"]].min(axis=1).to_numpy()
    hi = df[["npv_low", "npv_high"]].max(axis=1).to_numpy()
    ax.barh(y, np.clip(np.minimum(hi, base) - lo, 0, None), left=lo, color="#c55a11", label="lowers NPV")
    ax.barh(y, np.clip(hi - np.maximum(lo, base), 0, None), left=np.maximum(lo, base), color="#1f4e79", label="raises NPV")
    ax.axvline(base, color="black", linewidth=1)
    ax.axvline(0, color="grey", linestyle="--", linewidth=1)
    ax.set_yticks(y, [f"{d}\n({v})" for d, v in zip(df["driver"], df["varied"], strict=True)], fontsize=8)
    ax.set_xlabel("net present value (£)")
    ax.set_title("What drives the result (one-way sensitivity)")
    money_axis(ax)
    ax.legend(loc="lower right", frameon=False, fontsize=8)
    return ax
