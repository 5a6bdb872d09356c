"""Sensitivity to unmeasured confounding: Rosenbaum bounds and the E-value.

- :func:`rosenbaum_bounds`: for matched pairs, the range of one-sided p-values of
  Wilcoxon's signed-rank test when an unmeasured covariate could multiply the odds of
  treatment within a pair by up to Γ (Rosenbaum 2002, *Observational Studies*, 2nd ed.,
  ch. 4; the large-sample normal approximation, as R ``rbounds::psens`` 2.2).
- :func:`gamma_at_loss`: the Γ at which the upper-bound p-value first exceeds alpha.
- :func:`evalue`: VanderWeele and Ding (2017, *Ann Intern Med* 167:268) E-value for a risk
  ratio and its confidence limit; for a difference in means via their approximation
  RR ≈ exp(0.91 d), d the standardised difference.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import numpy as np
import pandas as pd
from scipy import optimize, stats

from ehimpact.errors import InputError

__all__ = ["rosenbaum_bounds", "gamma_at_loss", "evalue", "evalue_rr"]


def _signed_rank_parts(diffs: np.ndarray, alternative: str) -> tuple[float, np.ndarray]:
    d = np.asarray(diffs, dtype=float)
    d = d[np.isfinite(d)]
    if alternative == "less":
        d = -d
    d = d[d != 0]  # zero differences carry no sign (rbounds and Rosenbaum drop them)
    if len(d) == 0:
        raise InputError("every matched difference is zero: there is nothing to test",
                         field="diffs", fix="check the outcome varies within matched sets")
    ranks = stats.rankdata(np.abs(d))  # average ranks for ties
    t = float(ranks[d > 0].sum())
    return t, ranks


def rosenbaum_bounds(
    diffs: Sequence[float] | np.ndarray,
    gammas: Sequence[float] | np.ndarray = (1, 1.5, 2, 3, 4, 5, 6),
    *,
    alternative: Literal["greater", "less"] = "greater",
) -> pd.DataFrame:
    """Rosenbaum bounds on the one-sided Wilcoxon signed-rank p-value.

    Parameters
    ----------
    diffs : array-like
        Treated-minus-control differences, one per matched pair (or matched set: the
        treated outcome minus the mean of its matched controls).
    gammas : array-like of float
        Sensitivity parameters Γ >= 1.
    alternative : {"greater", "less"}
        Direction of the effect being tested (``"less"`` tests for a reduction).

    Returns
    -------
    DataFrame
        Columns ``gamma, p_lower, p_upper``: the smallest and largest p-values consistent
        with hidden bias of at most Γ.  At Γ = 1 both equal the usual (normal-approximation)
        signed-rank p-value.

    Notes
    -----
    With ranks :math:`q_i` of :math:`|d_i|` over the non-zero differences,
    :math:`T = \\sum_{d_i > 0} q_i`, :math:`p^+ = Γ / (1 + Γ)`,
    :math:`E^+ = p^+ \\sum q_i`, :math:`V = p^+ (1 - p^+) \\sum q_i^2`, and the upper bound
    is :math:`1 - Φ((T - E^+) / \\sqrt{V})`; the lower bound uses :math:`p^- = 1 / (1 + Γ)`.

    Examples
    --------
    >>> b = rosenbaum_bounds([3.0, 5.0, -1.0, 4.0, 2.0, 6.0], [1, 2])
    >>> list(b.columns)
    ['gamma', 'p_lower', 'p_upper']
    """
    g = np.asarray(gammas, dtype=float)
    if np.any(g < 1) or not np.all(np.isfinite(g)):
        raise InputError("every gamma must be a finite number >= 1", field="gammas",
                         fix="use values such as [1, 1.5, 2, 3]")
    t, ranks = _signed_rank_parts(np.asarray(diffs), alternative)
    s1, s2 = ranks.sum(), (ranks**2).sum()
    pp = g / (1 + g)
    pm = 1 / (1 + g)
    sd = np.sqrt(s2 * pp * (1 - pp))
    upper = stats.norm.sf((t - pp * s1) / sd)
    lower = stats.norm.sf((t - pm * s1) / sd)
    return pd.DataFrame({"gamma": g, "p_lower": lower, "p_upper": upper})


def gamma_at_loss(
    diffs: Sequence[float] | np.ndarray,
    *,
    alpha: float = 0.05,
    alternative: Literal["greater", "less"] = "greater",
    gamma_max: float = 100.0,
) -> float:
    """The Γ at which the upper-bound p-value reaches ``alpha`` (significance is lost).

    Returns 1.0 when the result is not significant even without hidden bias, and
    ``inf`` when it stays significant up to ``gamma_max``.

    Examples
    --------
    >>> round(gamma_at_loss(np.arange(1.0, 41.0)), 1) > 5
    True
    """
    t, ranks = _signed_rank_parts(np.asarray(diffs), alternative)
    s1, s2 = ranks.sum(), (ranks**2).sum()

    def f(log_g: float) -> float:
        gg = np.exp(log_g)
        pp = gg / (1 + gg)
        return float(stats.norm.sf((t - pp * s1) / np.sqrt(s2 * pp * (1 - pp)))) - alpha

    if f(0.0) >= 0:
        return 1.0
    if f(np.log(gamma_max)) < 0:
        return float("inf")
    return float(np.exp(optimize.brentq(f, 0.0, np.log(gamma_max), xtol=1e-10)))


def evalue_rr(rr: float) -> float:
    """E-value of a risk ratio: ``RR + sqrt(RR (RR - 1))`` (RR < 1 is inverted first).

    Examples
    --------
    >>> round(evalue_rr(3.9), 2)
    7.26
    """
    if not np.isfinite(rr) or rr <= 0:
        raise InputError("a risk ratio must be positive and finite", field="estimate",
                         fix="pass a ratio, or use scale='md' for a difference in means")
    r = rr if rr >= 1 else 1 / rr
    return float(r + np.sqrt(r * (r - 1)))


def evalue(
    estimate: float,
    ci: tuple[float, float],
    *,
    scale: Literal["rr", "md"] = "rr",
    sd: float | None = None,
) -> dict[str, float]:
    """E-values for an estimate and for the confidence limit closest to the null.

    Parameters
    ----------
    estimate : float
        A risk ratio (``scale="rr"``) or a difference in means (``scale="md"``).
    ci : (float, float)
        Its confidence interval.
    scale : {"rr", "md"}
        For ``"md"`` the difference is standardised by ``sd`` and converted with
        RR ≈ exp(0.91 d) (VanderWeele and Ding 2017, Table; as R ``EValue::evalues.MD``).
    sd : float, optional
        Outcome standard deviation, required for ``scale="md"``.

    Returns
    -------
    dict
        ``rr`` (the risk-ratio scale estimate), ``evalue_estimate``, ``evalue_ci`` (1 when
        the interval includes the null).

    Examples
    --------
    >>> e = evalue(3.9, (1.8, 8.7))
    >>> round(e["evalue_estimate"], 2), round(e["evalue_ci"], 2)
    (7.26, 3.0)
    """
    if scale == "md":
        if sd is None or not sd > 0:
            raise InputError("a difference in means needs the outcome's standard deviation",
                             field="sd", fix="pass sd= (e.g. the comparison group's SD)")
        rr, lo, hi = (float(np.exp(0.91 * x / sd)) for x in (estimate, *ci))
    elif scale == "rr":
        rr, (lo, hi) = float(estimate), (float(ci[0]), float(ci[1]))
    else:
        raise InputError(f"unknown scale {scale!r}", field="scale", fix="use 'rr' or 'md'")
    e_est = evalue_rr(rr)
    if lo <= 1 <= hi:
        e_ci = 1.0
    else:
        e_ci = evalue_rr(lo if rr > 1 else hi)
    return {"rr": rr, "evalue_estimate": e_est, "evalue_ci": e_ci}
