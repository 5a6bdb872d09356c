"""Covariate balance: standardised mean differences, variance ratios, Love and overlap plots.

Shared by matching and weighting.  Conventions follow R's MatchIt ``summary()`` (4.x) so
numbers can be checked against it:

- the SMD is ``(mean_treated - mean_control) / s``, where ``s`` is the standard deviation
  of the **treated group before adjustment** for the ATT, of the control group for the ATC,
  and ``sqrt((s_t^2 + s_c^2) / 2)`` (both groups, before adjustment) for the ATE; the same
  denominator is used before and after adjustment, so the two columns are comparable;
- binary (0/1) columns use ``sqrt(p (1 - p))`` (no n-1 correction), other columns the
  n-1 standard deviation;
- after adjustment, means and variances are weighted (matching or IPW weights), the
  variance with the reliability-weights correction ``sum(w) / (sum(w)^2 - sum(w^2))``;
- the variance ratio (treated / control) is reported for non-binary columns only (for a
  0/1 column it is a function of the means and MatchIt leaves it blank): ``nan`` there.

Every covariate appears, and a categorical covariate appears once per level.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from ehimpact.estimators.checks import _covariate_columns, _fill, covariate_matrix

if TYPE_CHECKING:
    from matplotlib.axes import Axes

__all__ = ["balance_design", "design_matrices", "balance_table", "love_plot", "overlap_plot", "max_abs_smd"]


def balance_design(data: pd.DataFrame, covariates: Sequence[str]) -> tuple[np.ndarray, list[str]]:
    """Columns to check balance on: numeric covariates as they are, every level of a category.

    Parameters
    ----------
    data : DataFrame
    covariates : list of str

    Returns
    -------
    (X, names) : tuple
        ``names`` are ``covariate`` or ``covariate=level``.

    Examples
    --------
    >>> X, names = balance_design(pd.DataFrame({"a": [1.0, 2.0], "g": ["x", "y"]}), ["a", "g"])
    >>> names
    ['a', 'g=x', 'g=y']
    """
    return covariate_matrix(data, covariates, drop_first=False)


def design_matrices(data: pd.DataFrame, covariates: Sequence[str]) -> tuple[np.ndarray, list[str], np.ndarray, list[str]]:
    """Propensity design (categories as dummies, first level dropped) and balance design
    (every level).  When every covariate is numeric both are the same array (one copy).

    Returns
    -------
    (X_ps, ps_names, X_balance, balance_names) : tuple
    """
    cols = list(covariates)
    if all(pd.api.types.is_numeric_dtype(data[c]) or pd.api.types.is_bool_dtype(data[c]) for c in cols):
        X = np.ascontiguousarray(data[cols].to_numpy(dtype=float))
        return X, cols, X, cols
    columns = _covariate_columns(data, cols)  # each category's levels found once for both designs
    X, names = _fill(len(data), columns, drop_first=True)
    Xb, bnames = _fill(len(data), columns, drop_first=False)
    return X, names, Xb, bnames


def _compact(X: np.ndarray) -> np.ndarray:
    """``X`` in the smallest type that holds every value exactly (int8, float32), else itself: the
    remembered balance matrix of a large authority's 0/1 and small-count covariates is 8x smaller."""
    with np.errstate(all="ignore"):  # out-of-range values simply fail the round trip
        for dtype in (np.int8, np.float32):
            small = X.astype(dtype)
            if np.array_equal(small.astype(np.float64), X, equal_nan=dtype is np.float32):
                return small
    return X


def _group_moments(X: np.ndarray, W: np.ndarray, chunk: int = 131_072) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Weighted means and sums of squared deviations of X's columns for each weight column of W.

    One pass in row chunks (bounded memory), centred on the first chunk's means to avoid
    cancellation; also reports which columns are 0/1.  Returns ``(mean, dev2, binary)`` with
    ``mean`` and ``dev2`` of shape (W columns, X columns).
    """
    k = X.shape[1]
    centre = X[: min(len(X), chunk)].mean(axis=0)
    S0 = W.sum(axis=0)
    S1 = np.zeros((W.shape[1], k))
    S2 = np.zeros((W.shape[1], k))
    binary = np.ones(k, dtype=bool)
    for a in range(0, len(X), chunk):
        raw = X[a:a + chunk]
        block = raw - centre
        w = W[a:a + chunk]
        S1 += w.T @ block
        S2 += w.T @ (block * block)
        binary &= ((raw == 0) | (raw == 1)).all(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean_c = S1 / S0[:, None]
        dev2 = S2 - S1 * mean_c
    return centre + mean_c, np.maximum(dev2, 0.0), binary


def balance_table(
    X: np.ndarray,
    names: list[str],
    d: np.ndarray,
    *,
    weights: np.ndarray,
    estimand: str = "ATT",
    extra: dict[str, np.ndarray] | None = None,
) -> pd.DataFrame:
    """Balance before and after adjustment, one row per design column.

    Parameters
    ----------
    X : ndarray, shape (n, k)
        Balance design (see :func:`balance_design`).
    names : list of str
        Column names of ``X``.
    d : ndarray
        0/1 treatment.
    weights : ndarray
        Adjustment weights (matching weights: 0 for unmatched units; or IPW weights).
    estimand : {"ATT", "ATC", "ATE"}
        Chooses the SMD denominator (module docstring).
    extra : dict, optional
        More columns to report first (e.g. ``{"distance": score}``).

    Returns
    -------
    DataFrame
        Columns ``covariate, mean_treated_before, mean_control_before, mean_treated_after,
        mean_control_after, smd_before, smd_after, var_ratio_before, var_ratio_after``.
    """
    if extra:
        E = np.column_stack(list(extra.values()))
        parts = [balance_table(E, list(extra), d, weights=weights, estimand=estimand)]
        if X.size:
            parts.append(balance_table(X, names, d, weights=weights, estimand=estimand))
        return pd.concat(parts, ignore_index=True)
    t = (d == 1).astype(float)
    c = (d == 0).astype(float)
    W = np.column_stack([t, c, weights * t, weights * c])
    mean, dev2, binary = _group_moments(X, W)
    n_t, n_c = t.sum(), c.sum()
    mt0, mc0, mt1, mc1 = mean
    vt0, vc0 = dev2[0] / (n_t - 1), dev2[1] / (n_c - 1)

    def _wvar(j: int) -> np.ndarray:
        sw, sw2 = W[:, j].sum(), (W[:, j] ** 2).sum()
        denom = sw**2 - sw2
        return dev2[j] * sw / denom if denom > 0 else np.full(X.shape[1], np.nan)

    vt1, vc1 = _wvar(2), _wvar(3)
    # binary columns: p(1-p), as MatchIt
    vt0_b = np.where(binary, mt0 * (1 - mt0), vt0)
    vc0_b = np.where(binary, mc0 * (1 - mc0), vc0)
    if estimand == "ATT":
        s = np.sqrt(vt0_b)
    elif estimand == "ATC":
        s = np.sqrt(vc0_b)
    else:
        s = np.sqrt((vt0_b + vc0_b) / 2)
    s = np.where(s > 0, s, np.nan)
    with np.errstate(divide="ignore", invalid="ignore"):
        vr0 = np.where(binary, np.nan, vt0 / vc0)
        vr1 = np.where(binary, np.nan, vt1 / vc1)
    return pd.DataFrame({
        "covariate": names,
        "mean_treated_before": mt0,
        "mean_control_before": mc0,
        "mean_treated_after": mt1,
        "mean_control_after": mc1,
        "smd_before": (mt0 - mc0) / s,
        "smd_after": (mt1 - mc1) / s,
        "var_ratio_before": vr0,
        "var_ratio_after": vr1,
    })


def max_abs_smd(balance: pd.DataFrame, *, skip: Sequence[str] = ("distance",)) -> tuple[float, list[str]]:
    """Largest |SMD| after adjustment and the covariates above 0.1 (excluding ``skip`` rows)."""
    names = balance["covariate"].to_numpy()
    smd = np.abs(balance["smd_after"].to_numpy())
    keep = ~np.isin(names, list(skip)) & np.isfinite(smd)
    bad = [str(c) for c in names[keep & (smd > 0.1)]]
    return (float(smd[keep].max()) if keep.any() else 0.0), bad


def love_plot(balance: pd.DataFrame, *, ax: Axes | None = None, threshold: float = 0.1,
              absolute: bool = True, title: str | None = None) -> Axes:
    """Love plot: |SMD| of each covariate before and after adjustment.

    Parameters
    ----------
    balance : DataFrame
        A balance table (``.balance`` of a matching or weighting result).
    ax : matplotlib Axes, optional
        Where to draw.
    threshold : float, default 0.1
        Reference line for acceptable balance.
    absolute : bool, default True
        Plot |SMD| rather than signed SMD.
    title : str, optional

    Returns
    -------
    matplotlib.axes.Axes
    """
    import matplotlib.pyplot as plt

    b = balance.iloc[::-1]
    if ax is None:
        _, ax = plt.subplots(figsize=(6, 0.3 * len(b) + 1.2))
    f = np.abs if absolute else (lambda x: x)
    y = np.arange(len(b))
    ax.scatter(f(b["smd_before"].to_numpy()), y, marker="o", facecolors="none", edgecolors="#b22222",
               label="before")
    ax.scatter(f(b["smd_after"].to_numpy()), y, marker="o", color="#1f4e79", label="after")
    ax.axvline(threshold, color="grey", linestyle="--", linewidth=1)
    if not absolute:
        ax.axvline(-threshold, color="grey", linestyle="--", linewidth=1)
        ax.axvline(0, color="black", linewidth=0.8)
    ax.set_yticks(y, b["covariate"].tolist())
    ax.set_xlabel("absolute standardised mean difference" if absolute else "standardised mean difference")
    ax.set_title(title or "Covariate balance")
    ax.legend(loc="lower right", frameon=False)
    return ax


def overlap_plot(score: np.ndarray, d: np.ndarray, *, ax: Axes | None = None, bins: int = 40,
                 title: str | None = None) -> Axes:
    """Mirrored histograms of the propensity score in the treated and comparison groups.

    Parameters
    ----------
    score : ndarray
        Propensity scores.
    d : ndarray
        0/1 treatment.
    ax : matplotlib Axes, optional
    bins : int
    title : str, optional

    Returns
    -------
    matplotlib.axes.Axes
    """
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=(6, 3.5))
    edges = np.linspace(0, 1, bins + 1)
    ht, _ = np.histogram(score[d == 1], bins=edges, density=True)
    hc, _ = np.histogram(score[d == 0], bins=edges, density=True)
    # one filled step outline per group (not a bar per bin): looks the same, draws in half the time
    ax.stairs(ht, edges, fill=True, color="#1f4e79", alpha=0.8, label="treated")
    ax.stairs(-hc, edges, fill=True, color="#b22222", alpha=0.8, label="comparison")
    ax.axhline(0, color="black", linewidth=0.8)
    ax.set_xlabel("propensity score")
    ax.set_ylabel("density (comparison below the line)")
    ax.set_title(title or "Propensity score overlap")
    ax.legend(frameon=False)
    return ax
