"""Propensity scores: fitting, overlap diagnostics and trimming to common support.

Shared by :func:`ehimpact.estimators.matching.match` and
:func:`ehimpact.estimators.weighting.weight`.  The default model is an unpenalised
logistic regression (the maximum-likelihood fit R's ``glm(family=binomial)`` and MatchIt
report), fitted with scikit-learn's L-BFGS on standardised columns and polished with
Newton steps so the scores agree with ``glm`` to ~1e-8; ``model="gbm"`` uses
scikit-learn's histogram gradient boosting.

Every way a propensity model can fail because of the data (a constant covariate, one that
perfectly predicts treatment, no overlap between the groups) raises
:class:`~ehimpact.errors.InputError` naming the covariate.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal, TypeVar

import numpy as np

from ehimpact.errors import InputError

__all__ = ["PropensityFit", "fit_propensity", "crump_alpha", "overlap_summary", "PSModel", "single_blas_thread"]

PSModel = Literal["logit", "gbm"]
F = TypeVar("F", bound=Callable[..., Any])

_EPS = 1e-12


@dataclass
class PropensityFit:
    """A fitted propensity model.

    Attributes
    ----------
    score : ndarray
        Estimated P(treated | covariates) for every row.
    linear : ndarray
        The logit of ``score`` (the linear predictor for the logistic model).
    model : str
        ``"logit"`` or ``"gbm"``.
    coef : ndarray or None
        Logistic coefficients on the original scale, intercept first (``None`` for gbm).
    names : list of str
        Covariate design-column names.
    """

    score: np.ndarray
    linear: np.ndarray
    model: str
    coef: np.ndarray | None
    names: list[str]


def _check_constant(X: np.ndarray, names: list[str]) -> None:
    """Name a covariate that takes one value in every row."""
    lo, hi = X.min(axis=0), X.max(axis=0)
    for j in np.flatnonzero(lo == hi):
        raise InputError(
            f"covariate {names[j]!r} is constant (every row is {lo[j]:g}); a propensity model cannot use it",
            field="covariates",
            fix=f"drop {names[j]!r} from covariates",
        )


def _check_columns(X: np.ndarray, d: np.ndarray, names: list[str]) -> None:
    """Name a covariate that on its own separates treated from comparison units."""
    treated = d == 1
    for j, name in enumerate(names):
        col = X[:, j]
        t_lo, t_hi = col[treated].min(), col[treated].max()
        c_lo, c_hi = col[~treated].min(), col[~treated].max()
        if t_lo > c_hi or t_hi < c_lo:
            raise InputError(
                f"covariate {name!r} perfectly predicts treatment (treated range {t_lo:g} to {t_hi:g}, "
                f"comparison range {c_lo:g} to {c_hi:g}): there is no overlap to compare like with like",
                field="covariates",
                fix=f"restrict the data to where {name!r} overlaps between the groups, or drop it "
                    "if it defines eligibility",
            )


def _check_rank(G: np.ndarray, names: list[str]) -> None:
    """Name the first covariate that is a linear combination of the ones before it.

    ``G`` is the Gram matrix of the standardised design with intercept first.
    """
    scale = np.sqrt(np.clip(np.diag(G), _EPS, None))
    C = G / np.outer(scale, scale)
    for j in range(2, C.shape[0] + 1):
        if np.linalg.eigvalsh(C[:j, :j])[0] < 1e-10:
            name = names[j - 2]
            raise InputError(
                f"covariate {name!r} is a linear combination of the other covariates (e.g. every "
                "level of a category, or a total and its parts)",
                field="covariates",
                fix=f"drop {name!r} (or the covariate it duplicates)",
            )


def _newton(Z: np.ndarray, d: np.ndarray, beta: np.ndarray, max_steps: int) -> tuple[np.ndarray, bool]:
    """Newton-Raphson steps for the logistic log-likelihood; returns (beta, converged)."""
    for _ in range(max_steps):
        eta = np.clip(Z @ beta, -700, 700)
        p = 1.0 / (1.0 + np.exp(-eta))
        w = p * (1.0 - p)
        H = (Z * w[:, None]).T @ Z
        g = Z.T @ (d - p)
        try:
            step = np.linalg.solve(H, g)
        except np.linalg.LinAlgError:
            return beta, False
        if not np.all(np.isfinite(step)):
            return beta, False
        beta = beta + step
        if np.max(np.abs(step)) < 1e-10:
            return beta, True
    return beta, False


#: below this many rows the MLE is found by Newton-Raphson directly (a handful of small
#: matrix products, faster than L-BFGS's per-iteration overhead); above it by scikit-learn's
#: L-BFGS, polished with Newton steps up to _POLISH_MAX rows.
_NEWTON_MAX = 50_000
_POLISH_MAX = 200_000


def _logit_fit(X: np.ndarray, d: np.ndarray, names: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """Unpenalised logistic MLE on standardised columns; returns (linear predictor, coef)."""
    mu = X.mean(axis=0)
    sd = X.std(axis=0)
    sd[sd == 0] = 1.0
    Z = np.empty((len(X), X.shape[1] + 1))
    Z[:, 0] = 1.0
    np.subtract(X, mu, out=Z[:, 1:])
    Z[:, 1:] /= sd
    _check_rank(Z.T @ Z, names)
    converged = False
    if len(X) <= _NEWTON_MAX:
        beta, converged = _newton(Z, d, np.zeros(Z.shape[1]), 50)
    if not converged:
        from sklearn.linear_model import LogisticRegression

        lr = LogisticRegression(C=np.inf, solver="lbfgs", max_iter=300, tol=1e-6)
        lr.fit(Z[:, 1:], d)
        beta = np.concatenate([lr.intercept_, lr.coef_.ravel()])
        if len(X) <= _POLISH_MAX:
            # L-BFGS stops at a gradient tolerance; Newton steps from there reach the MLE to
            # machine precision, so greedy matching agrees with R's glm scores
            polished, ok = _newton(Z, d, beta, 2)
            beta = polished if ok or np.all(np.isfinite(polished)) else beta
    eta = Z @ beta
    slopes = beta[1:] / sd
    intercept = beta[0] - np.sum(slopes * mu)
    return eta, np.concatenate([[intercept], slopes])


_CONTROLLER: Any = None


def _blas_threads() -> Any:
    """One BLAS thread: the products here are thin (n x k with k small), where threading gains
    little, and on a shared machine oversubscribed BLAS threads are many times slower."""
    global _CONTROLLER
    if _CONTROLLER is None:  # scanning the loaded libraries is slow: do it once
        from threadpoolctl import ThreadpoolController

        _CONTROLLER = ThreadpoolController()
    return _CONTROLLER.limit(limits=1)


def single_blas_thread(func: F) -> F:
    """Run ``func`` with one BLAS thread (see :func:`_blas_threads`)."""
    import functools

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        with _blas_threads():
            return func(*args, **kwargs)

    return wrapper  # type: ignore[return-value]


def fit_propensity(
    X: np.ndarray,
    d: np.ndarray,
    names: list[str],
    *,
    model: PSModel = "logit",
    seed: int | None = None,
) -> PropensityFit:
    """Estimate propensity scores P(treated | X).

    Parameters
    ----------
    X : ndarray, shape (n, k)
        Covariate design matrix (no intercept).
    d : ndarray, shape (n,)
        0/1 treatment indicator.
    names : list of str
        Column names of ``X`` (used in error messages).
    model : {"logit", "gbm"}
        Unpenalised logistic regression (default) or histogram gradient boosting.
    seed : int, optional
        Random state for ``"gbm"``.

    Returns
    -------
    PropensityFit

    Raises
    ------
    InputError
        A constant covariate, a covariate that alone perfectly predicts treatment, collinear
        covariates, or covariates that jointly separate the groups (no overlap).

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(500, 2)); d = (rng.random(500) < 1 / (1 + np.exp(-X[:, 0]))).astype(float)
    >>> fit = fit_propensity(X, d, ["x1", "x2"])
    >>> bool(((fit.score > 0) & (fit.score < 1)).all())
    True
    """
    if X.shape[1] == 0:
        p = np.full(len(d), d.mean())
        return PropensityFit(p, np.log(p / (1 - p)), model, None, [])
    _check_constant(X, names)
    if model == "logit":
        with _blas_threads():
            eta, coef = _logit_fit(X, d, names)
        score = 1.0 / (1.0 + np.exp(-np.clip(eta, -700, 700)))
        fit = PropensityFit(score, eta, "logit", coef, list(names))
    elif model == "gbm":
        from sklearn.ensemble import HistGradientBoostingClassifier
        from threadpoolctl import threadpool_limits

        clf = HistGradientBoostingClassifier(random_state=seed if seed is not None else 0)
        # a fresh limit (the cached controller predates sklearn's OpenMP runtime): spinning
        # OpenMP threads on a shared machine make boosting many times slower
        with threadpool_limits(limits=1):
            clf.fit(X, d)
            score = np.clip(clf.predict_proba(X)[:, 1], 1e-6, 1 - 1e-6)
        fit = PropensityFit(score, np.log(score / (1 - score)), "gbm", None, list(names))
    else:
        raise InputError(f"unknown propensity model {model!r}", field="ps_model", fix="use 'logit' or 'gbm'")
    _check_separation(fit.score, d, X, names)
    return fit


def _check_separation(score: np.ndarray, d: np.ndarray, X: np.ndarray, names: list[str]) -> None:
    """Raise when the scores separate the groups, naming a single culprit covariate if any.

    The per-column check runs only when the fitted scores signal separation, so the common
    case costs two min/max passes over the scores.
    """
    treated = d == 1
    if score[treated].min() >= score[~treated].max() or score[treated].max() <= score[~treated].min():
        _check_columns(X, d, names)
        raise InputError(
            "the covariates together perfectly predict treatment: treated and comparison propensity "
            "scores do not overlap at all, so no like-for-like comparison exists",
            field="covariates",
            fix="check for a covariate that records eligibility or the service itself, and remove it; "
                "or restrict the data to a population where both groups occur",
        )


def crump_alpha(score: np.ndarray) -> float:
    """The Crump, Hotz, Imbens and Mitnik (2009) optimal trimming threshold alpha.

    Units with scores outside ``[alpha, 1 - alpha]`` are dropped.  With
    ``g = 1 / (e (1 - e))``: if ``max g <= 2 E[g]`` no trimming is needed (alpha = 0);
    otherwise alpha solves ``1 / (alpha (1 - alpha)) = 2 E[g | g <= 1 / (alpha (1 - alpha))]``
    (their Theorem 1 and eq. 5.1).  The often-quoted rule of thumb is alpha = 0.1.

    Parameters
    ----------
    score : ndarray
        Propensity scores.

    Returns
    -------
    float
        alpha in [0, 0.5).

    Examples
    --------
    >>> crump_alpha(np.linspace(0.2, 0.8, 101))
    0.0
    """
    e = np.clip(score, _EPS, 1 - _EPS)
    g = 1.0 / (e * (1.0 - e))
    if g.max() <= 2.0 * g.mean():
        return 0.0
    gs = np.sort(g)
    cmean = np.cumsum(gs) / np.arange(1, len(gs) + 1)
    # smallest gamma = g_(k) with g_(k) >= 2 * mean(g_(1..k)): the fixed point of the rule
    ok = gs >= 2.0 * cmean
    k = int(np.argmax(ok)) if ok.any() else len(gs) - 1
    gamma = gs[k]
    # gamma = 1 / (alpha (1 - alpha))  =>  alpha = 1/2 - sqrt(1/4 - 1/gamma)
    return float(0.5 - np.sqrt(max(0.25 - 1.0 / gamma, 0.0)))


def overlap_summary(score: np.ndarray, d: np.ndarray) -> dict[str, Any]:
    """Aggregate overlap diagnostics of the propensity score (no record-level values).

    Returns
    -------
    dict
        Per group: n, min, 1st/5th/50th/95th/99th percentiles, max; the number of treated
        above the largest comparison score and of comparison units below the smallest
        treated score (outside common support); the share of scores below 0.01 or above
        0.99.
    """
    out: dict[str, Any] = {}
    qs = [0.01, 0.05, 0.5, 0.95, 0.99]
    for label, m in (("treated", d == 1), ("comparison", d == 0)):
        s = score[m]
        qv = np.quantile(s, qs)
        out[label] = {"n": int(m.sum()), "min": float(s.min()), "p01": float(qv[0]), "p05": float(qv[1]),
                      "median": float(qv[2]), "p95": float(qv[3]), "p99": float(qv[4]), "max": float(s.max())}
    st, sc = score[d == 1], score[d == 0]
    out["treated_above_comparison_max"] = int((st > sc.max()).sum())
    out["comparison_below_treated_min"] = int((sc < st.min()).sum())
    out["share_extreme"] = float(((score < 0.01) | (score > 0.99)).mean())
    return out
