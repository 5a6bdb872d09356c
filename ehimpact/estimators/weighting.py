"""Inverse-probability weighting and augmented (doubly robust) IPW: :func:`weight`.

- ``method="ipw"``: weights ``1/e`` (treated) and ``1/(1-e)`` (comparison) for the ATE;
  ``1`` and ``e/(1-e)`` for the ATT.  With ``stabilize=True`` (default) the weights are
  normalised within each group (the Hajek estimator, whose point estimate equals that
  with Robins' stabilised weights ``P(D)/e``); ``stabilize=False`` gives the
  Horvitz-Thompson estimator.  Standard errors come from the stacked estimating
  equations (outcome means and the logistic score), so the estimation of the propensity
  score is accounted for (Lunceford and Davidian 2004); with ``ps_model="gbm"`` the score
  is treated as known.
- ``method="aipw"``: the augmented IPW estimator (Robins, Rotnitzky and Zhao 1994;
  Glynn and Quinn 2010) with linear outcome regressions fitted separately in each group;
  the standard error is the empirical standard deviation of the efficient influence
  function over sqrt(n) (valid when either model is right, both converging fast enough).
  For the ATT the estimator is Moodie et al.'s (2018) / Hahn's form
  ``[sum D (Y - m0) - sum (1-D) e/(1-e) (Y - m0)] / sum D``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import pandas as pd

from ehimpact.errors import InputError
from ehimpact.estimators.balance import (
    _compact,
    balance_table,
    design_matrices,
    love_plot,
    max_abs_smd,
    overlap_plot,
)
from ehimpact.estimators.checks import (
    as_list,
    covariate_matrix,
    require_binary,
    require_columns,
    require_complete,
    require_frame,
    require_numeric,
)
from ehimpact.estimators.propensity import (
    PSModel,
    crump_alpha,
    fit_propensity,
    overlap_summary,
    single_blas_thread,
)
from ehimpact.estimators.registry import EstimatorSpec
from ehimpact.estimators.result import Estimate, OutcomeScale, normal_ci

if TYPE_CHECKING:
    from matplotlib.axes import Axes

__all__ = ["weight", "Weighted", "WEIGHT_SPEC"]


@dataclass(eq=False)
class Weighted(Estimate):
    """Result of :func:`weight`: an :class:`Estimate` plus ``.balance`` (weighted SMDs)."""

    balance: pd.DataFrame = field(default_factory=pd.DataFrame)

    def __post_init__(self) -> None:
        super().__post_init__()
        self._score: np.ndarray | None = None
        self._treat: np.ndarray | None = None
        self._outcome_sd: float | None = None

    def love_plot(self, ax: Axes | None = None, *, threshold: float = 0.1) -> Axes:
        """Love plot of |SMD| before and after weighting."""
        return love_plot(self.balance, ax=ax, threshold=threshold, title="Balance before and after weighting")

    def overlap_plot(self, ax: Axes | None = None, *, bins: int = 40) -> Axes:
        """Propensity-score overlap of the two groups."""
        if self._score is None or self._treat is None:
            raise InputError("this result carries no scores (it was rebuilt from a dictionary)",
                             field="overlap_plot", fix="rerun eh.weight on the data")
        return overlap_plot(self._score, self._treat, ax=ax, bins=bins)

    def evalue(self) -> dict[str, float]:
        """E-value (difference in means standardised by the comparison group's SD)."""
        from ehimpact.estimators.sensitivity import evalue

        return evalue(self.estimate, self.ci, scale="md", sd=self._outcome_sd)


def _ipw(y: np.ndarray, d: np.ndarray, e: np.ndarray, Z: np.ndarray | None, estimand: str,
         stabilize: bool) -> tuple[float, np.ndarray, np.ndarray]:
    """IPW estimate, its influence function (with the logistic-score correction), weights."""
    n = len(y)
    if estimand == "ATE":
        a1, a0 = d / e, (1 - d) / (1 - e)
    else:
        a1, a0 = d.astype(float), (1 - d) * e / (1 - e)
    if stabilize:
        s1, s0 = a1.mean(), a0.mean()
    else:
        s1 = s0 = 1.0 if estimand == "ATE" else d.mean()
    mu1 = float((a1 * y).mean() / s1)
    mu0 = float((a0 * y).mean() / s0)
    tau = mu1 - mu0
    # psi_g = a_g (y - mu_g) (Hajek) or a_g y - s_g mu_g (HT); influence = psi / s
    if stabilize:
        psi1, psi0 = a1 * (y - mu1), a0 * (y - mu0)
    else:
        psi1, psi0 = a1 * y - s1 * mu1, a0 * y - s0 * mu0
    if estimand == "ATT" and not stabilize:
        psi1 = d * (y - mu1)
        psi0 = a0 * y - d * mu0
    phi = psi1 / s1 - psi0 / s0
    if Z is not None:
        # d a1/d beta and d a0/d beta for the logistic score, then the M-estimation correction
        if estimand == "ATE":
            da1 = -(a1 * (1 - e))[:, None] * Z
            da0 = (a0 * e)[:, None] * Z
        else:
            da1 = np.zeros_like(Z)
            da0 = a0[:, None] * Z
        r1 = (y - mu1) if stabilize else y
        r0 = (y - mu0) if stabilize else y
        g = (da1 * r1[:, None]).mean(axis=0) / s1 - (da0 * r0[:, None]).mean(axis=0) / s0
        H = (Z * (e * (1 - e))[:, None]).T @ Z / n
        score = Z * (d - e)[:, None]
        phi = phi + score @ np.linalg.solve(H, g)
    w = np.where(d == 1, a1 / s1 * (d.mean() if estimand == "ATE" else 1.0), a0 / s0 *
                 ((1 - d).mean() if estimand == "ATE" else d.mean()))
    return tau, phi, w


def _ols_predict(X: np.ndarray, y: np.ndarray, mask: np.ndarray) -> np.ndarray:
    Z = np.column_stack([np.ones(len(X)), X])
    beta, *_ = np.linalg.lstsq(Z[mask], y[mask], rcond=None)
    return Z @ beta


def _aipw(y: np.ndarray, d: np.ndarray, e: np.ndarray, X: np.ndarray,
          estimand: str) -> tuple[float, np.ndarray, np.ndarray]:
    m0 = _ols_predict(X, y, d == 0)
    if estimand == "ATE":
        m1 = _ols_predict(X, y, d == 1)
        psi = m1 - m0 + d * (y - m1) / e - (1 - d) * (y - m0) / (1 - e)
        tau = float(psi.mean())
        phi = psi - tau
        w = np.where(d == 1, 1 / e, 1 / (1 - e))
    else:
        p = d.mean()
        r = y - m0
        odds = e / (1 - e)
        tau = float((d * r - (1 - d) * odds * r).sum() / d.sum())
        phi = (d * (r - tau) - (1 - d) * odds * r) / p
        w = np.where(d == 1, 1.0, odds)
    return tau, phi, w


@single_blas_thread
def weight(
    data: pd.DataFrame,
    *,
    treatment: str,
    outcome: str,
    covariates: str | Sequence[str],
    method: Literal["ipw", "aipw"] = "ipw",
    estimand: Literal["ATE", "ATT"] = "ATE",
    stabilize: bool = True,
    trim: Literal["crump"] | float | None = None,
    ps_model: PSModel = "logit",
    outcome_covariates: str | Sequence[str] | None = None,
    seed: int | None = None,
    level: float = 0.95,
    outcome_label: str | None = None,
    scale: OutcomeScale | None = None,
    subject: str = "Children supported",
) -> Weighted:
    """Inverse-probability weighting (IPW) or augmented IPW (doubly robust).

    Parameters
    ----------
    data : DataFrame
        One row per child (or family).
    treatment : str
        0/1 column: 1 = received the service.
    outcome : str
        Outcome column.
    covariates : str or list of str
        Covariates of the propensity model (and, by default, of the outcome model).
    method : {"ipw", "aipw"}
    estimand : {"ATE", "ATT"}
    stabilize : bool, default True
        Normalised (Hajek) weights; ``False`` for Horvitz-Thompson.
    trim : {None, "crump"} or float
        Drop units with scores outside ``[a, 1 - a]`` (Crump et al. 2009 rule, or a given a).
    ps_model : {"logit", "gbm"}
    outcome_covariates : str or list of str, optional
        Covariates of the AIPW outcome regressions (default: ``covariates``).
    seed : int, optional
        Random state for ``ps_model="gbm"``.
    level : float
        Confidence level.
    outcome_label, scale, subject : optional
        Words for the summary.

    Returns
    -------
    Weighted
        Estimate, ``.balance`` (weighted SMDs and variance ratios), diagnostics: weight
        summary, effective sample sizes, trimming counts, overlap summary.

    Raises
    ------
    InputError
        The same data problems as :func:`ehimpact.estimators.matching.match`.

    Examples
    --------
    >>> from causaldata import nsw_mixtape
    >>> nsw = nsw_mixtape.load_pandas().data
    >>> est = weight(nsw, treatment="treat", outcome="re78", covariates=["age", "educ"])
    >>> est.estimand
    'ATE'
    """
    data = require_frame(data)
    covs = as_list(covariates)
    ocovs = as_list(outcome_covariates) if outcome_covariates is not None else covs
    require_columns(data, {"treatment": treatment, "outcome": outcome, "covariates": covs,
                           "outcome_covariates": ocovs})
    if not covs:
        raise InputError("no covariates given", field="covariates", fix="name the pre-treatment covariates")
    if method not in ("ipw", "aipw"):
        raise InputError(f"unknown method {method!r}", field="method", fix="use 'ipw' or 'aipw'")
    if estimand not in ("ATE", "ATT"):
        raise InputError(f"unknown estimand {estimand!r}", field="estimand", fix="use 'ATE' or 'ATT'")
    if not (trim is None or trim == "crump" or (isinstance(trim, float) and 0 < trim < 0.5)):
        raise InputError(f"unknown trim {trim!r}", field="trim", fix="use None, 'crump' or e.g. 0.05")
    if not 0 < level < 1:
        raise InputError(f"level must be between 0 and 1, got {level!r}", field="level", fix="use e.g. 0.95")
    arg_of = {treatment: "treatment", outcome: "outcome", **{c: "covariates" for c in covs},
              **{c: "outcome_covariates" for c in ocovs if c not in covs}}
    require_complete(data, list(dict.fromkeys([treatment, outcome, *covs, *ocovs])), arg_of)
    d_all = require_binary(data, treatment, "treatment")
    y_all = require_numeric(data, outcome, "outcome")
    from ehimpact.estimators.matching import _require_both_groups

    _require_both_groups(d_all, treatment)
    X, names, Xb, bnames = design_matrices(data, covs)
    Xb = _compact(Xb)  # exactly, until the balance table: less memory held while the models are fitted
    ps = fit_propensity(X, d_all, names, model=ps_model, seed=seed)
    keep = np.ones(len(data), dtype=bool)
    alpha = None
    if trim is not None:
        alpha = crump_alpha(ps.score) if trim == "crump" else float(trim)
        keep = (ps.score >= alpha) & (ps.score <= 1 - alpha)
        if not (d_all[keep] == 1).any() or not (d_all[keep] == 0).any():
            raise InputError(f"trimming to scores in [{alpha:.3f}, {1 - alpha:.3f}] leaves no treated or "
                             "no comparison units", field="trim", fix="use trim=None and inspect the overlap plot")
    y, d, e = y_all[keep], d_all[keep], ps.score[keep]
    Z = np.column_stack([np.ones(int(keep.sum())), X[keep]]) if (ps.model == "logit" and method == "ipw") else None
    if method == "ipw":
        tau, phi, w = _ipw(y, d, e, Z, estimand, stabilize)
    else:
        # the outcome model's design is the propensity design when the covariates are the same
        Xo = X if list(ocovs) == list(covs) else covariate_matrix(data, ocovs)[0]
        del X
        tau, phi, w = _aipw(y, d, e, Xo if keep.all() else Xo[keep], estimand)
        del Xo
    n = len(y)
    se = float(np.sqrt((phi**2).sum()) / n)
    ci, pval = normal_ci(tau, se, level)

    wb = np.zeros(len(data))
    wb[keep] = w
    balance = balance_table(np.asarray(Xb, dtype=np.float64), bnames, d_all, weights=wb, estimand=estimand)
    worst, bad = max_abs_smd(balance)
    warnings: list[str] = []
    if bad:
        warnings.append(f"covariate balance after weighting is not adequate: |SMD| > 0.1 for "
                        f"{', '.join(bad[:8])} (largest {worst:.2f})")
    ess = {}
    for label, g in (("treated", 1), ("control", 0)):
        wg = w[d == g]
        ess[label] = float(wg.sum() ** 2 / (wg**2).sum())
    if min(e.min(), 1 - e.max()) < 0.01:
        warnings.append("some propensity scores are below 0.01 or above 0.99: weights are extreme; "
                        "consider trim='crump'")
    diagnostics: dict[str, Any] = {
        "n_input": len(data),
        "unadjusted_difference": float(y_all[d_all == 1].mean() - y_all[d_all == 0].mean()),
        "trimmed": {"treated": int(((d_all == 1) & ~keep).sum()), "control": int(((d_all == 0) & ~keep).sum()),
                    "alpha": alpha, "rule": trim},
        "effective_sample_size": ess,
        "weights": {"max": float(w.max()), "p99": float(np.quantile(w, 0.99)), "mean": float(w.mean())},
        "overlap": overlap_summary(ps.score, d_all),
        "balance": balance,
        "max_abs_smd_after": worst,
        "ps_model": ps_model,
    }
    if scale is None:
        scale = "proportion" if np.isin(y, (0.0, 1.0)).all() else "continuous"
    if method == "ipw":
        words = (f"inverse-probability weighting ({'normalised' if stabilize else 'Horvitz-Thompson'} "
                 f"weights, {ps_model} propensity model); sandwich standard error"
                 f"{' accounting for the estimated score' if Z is not None else ' (score treated as known)'}")
    else:
        words = f"augmented IPW (doubly robust; {ps_model} propensity, linear outcome models); influence-function SE"
    result = Weighted(
        estimate=tau, se=se, ci=ci, pvalue=pval, estimand=estimand, method=words,
        n_treated=int((d == 1).sum()), n_control=int((d == 0).sum()), diagnostics=diagnostics,
        outcome=outcome, outcome_label=outcome_label, scale=scale, subject=subject, level=level,
        warnings=warnings, balance=balance,
    )
    result._score = ps.score
    result._treat = d_all
    result._outcome_sd = float(np.std(y[d == 0], ddof=1))
    return result


def _example() -> tuple[pd.DataFrame, dict[str, Any]]:
    rng = np.random.default_rng(5)
    n = 800
    x1 = rng.normal(size=n)
    x2 = rng.binomial(1, 0.4, size=n).astype(float)
    p = 1 / (1 + np.exp(-(-0.3 + 0.6 * x1 + 0.5 * x2)))
    d = (rng.random(n) < p).astype(float)
    y = 2 + 1.0 * d + x1 + 0.5 * x2 + rng.normal(size=n)
    df = pd.DataFrame({"y": y, "d": d, "x1": x1, "x2": x2})
    return df, {"treatment": "d", "outcome": "y", "covariates": ["x1", "x2"], "method": "aipw"}


WEIGHT_SPEC = EstimatorSpec(
    name="weight",
    func=weight,
    roles=("treatment", "outcome", "covariates", "outcome_covariates"),
    example=_example,
    description="Inverse-probability weighting and augmented IPW (doubly robust)",
    diagnostics=('trimmed', 'max_abs_smd_after'),
)
