"""Inference shared by the regression-based estimators.

One place for standard errors: classical, heteroskedasticity-robust (HC1) and
cluster-robust (CR1, Stata's small-sample correction, t with G-1 df), all through
statsmodels.  Estimators call :func:`ols` and :func:`coefficient`; none re-implements
a sandwich.  (Wild cluster bootstrap for few clusters lives here too once built.)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np

from ehimpact.errors import InputError

__all__ = ["OLSFit", "ols", "coefficient", "SEType"]

SEType = Literal["classical", "robust", "cluster"]


@dataclass
class OLSFit:
    """A fitted linear model and the covariance used for inference."""

    params: np.ndarray
    cov: np.ndarray
    names: list[str]
    nobs: int
    df: float | None  # degrees of freedom of the t reference (None = normal)
    se_type: str
    n_clusters: int | None
    resid: np.ndarray
    fitted: np.ndarray


def _check_rank(X: np.ndarray, names: list[str]) -> None:
    rank = np.linalg.matrix_rank(X)
    if rank < X.shape[1]:
        # find the first column that adds nothing, to name it
        for j in range(1, X.shape[1] + 1):
            if np.linalg.matrix_rank(X[:, :j]) < j:
                raise InputError(
                    f"covariate {names[j - 1]!r} is constant or a combination of the other terms",
                    field="covariates",
                    fix=f"drop {names[j - 1]!r} (or the covariate it duplicates)",
                )


def ols(
    y: np.ndarray,
    X: np.ndarray,
    names: list[str],
    *,
    weights: np.ndarray | None = None,
    se_type: SEType = "robust",
    groups: np.ndarray | None = None,
) -> OLSFit:
    """Least squares (weighted when ``weights`` given) with the chosen standard errors.

    Parameters
    ----------
    y : ndarray, shape (n,)
    X : ndarray, shape (n, k)
        Design matrix including the intercept.
    names : list of str
        Column names of ``X`` (used in error messages and results).
    weights : ndarray, optional
        Analytic/probability weights (WLS).
    se_type : {"classical", "robust", "cluster"}
        ``"robust"`` is HC1; ``"cluster"`` is CR1 with t(G-1) reference, as Stata.
    groups : ndarray, optional
        Cluster labels, required for ``se_type="cluster"``.

    Returns
    -------
    OLSFit
    """
    import statsmodels.api as sm

    _check_rank(X, names)
    model = sm.WLS(y, X, weights=weights) if weights is not None else sm.OLS(y, X)
    n_clusters = None
    if se_type == "classical":
        res = model.fit()
        df = float(res.df_resid)
    elif se_type == "robust":
        res = model.fit(cov_type="HC1", use_t=True)
        df = float(res.df_resid)
    elif se_type == "cluster":
        if groups is None:
            raise InputError("clustered standard errors need a cluster column", field="cluster",
                             fix="name the cluster column (e.g. the authority or family id)")
        codes = np.unique(groups, return_inverse=True)[1]
        n_clusters = int(codes.max()) + 1
        if n_clusters < 2:
            raise InputError("only one cluster: cluster-robust standard errors are undefined",
                             field="cluster", fix="cluster at a finer level or use se_type='robust'")
        res = model.fit(cov_type="cluster", cov_kwds={"groups": codes}, use_t=True)
        df = float(n_clusters - 1)
    else:
        raise InputError(f"unknown standard-error type {se_type!r}", field="se_type",
                         fix="use 'classical', 'robust' or 'cluster'")
    return OLSFit(
        params=np.asarray(res.params), cov=np.asarray(res.cov_params()), names=list(names),
        nobs=int(res.nobs), df=df, se_type=se_type, n_clusters=n_clusters,
        resid=np.asarray(res.resid), fitted=np.asarray(res.fittedvalues),
    )


def coefficient(fit: OLSFit, name: str) -> tuple[float, float, float | None]:
    """Point estimate, standard error and reference df of one coefficient."""
    j = fit.names.index(name)
    return float(fit.params[j]), float(np.sqrt(fit.cov[j, j])), fit.df
