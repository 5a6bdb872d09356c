"""Inference shared by the regression-based estimators.

One place for standard errors: classical, heteroskedasticity-robust (HC1) and
cluster-robust (CR1, Stata's small-sample correction, t with G-1 df), all through
statsmodels.  Estimators call :func:`ols` and :func:`coefficient`; none re-implements
a sandwich.  The restricted wild cluster bootstrap for few clusters
(:func:`wild_cluster_bootstrap`) lives here too, so every estimator shares it.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from ehimpact.errors import InputError

__all__ = ["OLSFit", "ols", "coefficient", "SEType", "WildBootstrap", "wild_cluster_bootstrap",
           "cluster_covariance", "FewClusterPolicy", "few_cluster_policy", "FEW_CLUSTERS", "WILD_DESIGNS",
           "inference_alias", "newey_west_lags", "ewc_terms", "ewc_long_run_variance"]

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


def cluster_covariance(
    X: np.ndarray,
    resid: np.ndarray,
    codes: np.ndarray,
    *,
    weights: np.ndarray | None = None,
    dof_k: int | None = None,
) -> tuple[np.ndarray, int]:
    """CR1 cluster-robust covariance of least-squares coefficients, vectorised for large n.

    Used where :func:`ols` cannot be: models whose fixed effects were absorbed by a within
    transformation (the small-sample factor must count the absorbed parameters) and data
    too large for statsmodels' copies (tens of millions of rows).

    Parameters
    ----------
    X : ndarray, shape (n, k)
        (Within-transformed) regressors.
    resid : ndarray, shape (n,)
        Residuals of the fit.
    codes : ndarray of int, shape (n,)
        Cluster codes ``0..G-1``.
    weights : ndarray, optional
        WLS weights.
    dof_k : int, optional
        Parameter count in the small-sample factor ``(n-1)/(n-K)``; default ``k``.

    Returns
    -------
    (cov, G) : tuple
        ``cov = G/(G-1) (n-1)/(n-K) A (sum_g s_g s_g') A`` with ``A = (X'WX)^{-1}`` and
        ``s_g = X_g' W_g e_g`` (Stata/fixest CR1), and the number of clusters.

    Examples
    --------
    >>> X = np.column_stack([np.ones(6), np.arange(6.0)])
    >>> cov, G = cluster_covariance(X, np.array([1., -1, 2, -2, 0.5, -0.5]), np.array([0, 0, 1, 1, 2, 2]))
    >>> G, cov.shape
    (3, (2, 2))
    """
    n, k = X.shape
    G = int(codes.max()) + 1 if n else 0
    we = resid if weights is None else resid * weights
    Xw = X if weights is None else X * weights[:, None]
    A = np.linalg.inv(X.T @ Xw)
    scores = np.column_stack([np.bincount(codes, weights=X[:, j] * we, minlength=G) for j in range(k)])
    K = k if dof_k is None else dof_k
    c = G / (G - 1) * (n - 1) / (n - K)
    return c * (A @ (scores.T @ scores) @ A), G


# ---------------------------------------------------------------------------------------------
# Wild cluster bootstrap (restricted, "WCR"): few-cluster inference for one linear contrast
# ---------------------------------------------------------------------------------------------

WildWeights = Literal["rademacher", "webb"]

_WEBB = np.array([-np.sqrt(1.5), -1.0, -np.sqrt(0.5), np.sqrt(0.5), 1.0, np.sqrt(1.5)])


@dataclass
class WildBootstrap:
    """Result of a restricted wild cluster bootstrap-t for one linear contrast.

    Attributes
    ----------
    estimate : float
        The contrast ``R'beta`` at the unrestricted least-squares fit.
    se : float
        Its CR1 cluster-robust standard error (the denominator of ``t_stat``).
    t_stat : float
        Cluster-robust t statistic for the null ``R'beta = null``.
    pvalue : float
        Symmetric bootstrap p-value: the share of bootstrap ``|t*|`` at least ``|t|``.
    ci : tuple of float
        Confidence interval by test inversion: every value ``r`` whose bootstrap
        p-value is at least ``1 - level``.
    level : float
        Confidence level of ``ci``.
    weights : str
        ``"rademacher"`` or ``"webb"``.
    draws : int
        Bootstrap samples used (``2**G`` when every Rademacher draw was enumerated).
    enumerated : bool
        True when all ``2**G`` Rademacher sign vectors were used (deterministic, no seed).
    n_clusters : int
        Number of clusters ``G``.
    null : float
        The null value the p-value tests.
    seed : int or None
        Seed of the random draws (irrelevant when ``enumerated``).
    fixed_effects : str
        ``"none"``; ``"exact"`` when absorbed fixed effects were handled exactly (identical
        to bootstrapping the full dummy-variable regression); ``"projected"`` when the data
        were too large for that and the bootstrap ran on the within-transformed model.
    """

    estimate: float
    se: float
    t_stat: float
    pvalue: float
    ci: tuple[float, float]
    level: float
    weights: str
    draws: int
    enumerated: bool
    n_clusters: int
    null: float
    seed: int | None
    fixed_effects: str = "none"

    def to_dict(self) -> dict[str, object]:
        """Plain dictionary of every field (JSON-safe numbers)."""
        return {k: (list(v) if isinstance(v, tuple) else v) for k, v in self.__dict__.items()}


def _draw_weights(n_clusters: int, weights: str, draws: int, rng: np.random.Generator | None,
                  max_enumerate: int) -> tuple[np.ndarray, bool]:
    """Bootstrap weights, shape (G, B): all 2**G sign vectors when G is small, else random."""
    if weights == "rademacher" and n_clusters <= max_enumerate:
        codes = np.arange(2 ** n_clusters, dtype=np.int64)
        bits = (codes[None, :] >> np.arange(n_clusters, dtype=np.int64)[:, None]) & 1
        return (2.0 * bits - 1.0), True
    assert rng is not None
    if weights == "rademacher":
        return rng.integers(0, 2, size=(n_clusters, draws)) * 2.0 - 1.0, False
    return _WEBB[rng.integers(0, 6, size=(n_clusters, draws))], False


def _cluster_sums(values: np.ndarray, codes: np.ndarray, n_clusters: int) -> np.ndarray:
    """Per-cluster column sums of a (n,) or (n, k) array, as (G,) or (G, k)."""
    if values.ndim == 1:
        return np.bincount(codes, weights=values, minlength=n_clusters)
    return np.column_stack([np.bincount(codes, weights=values[:, j], minlength=n_clusters)
                            for j in range(values.shape[1])]) if values.shape[1] else \
        np.zeros((n_clusters, 0))


def wild_cluster_bootstrap(
    y: np.ndarray,
    X: np.ndarray,
    contrast: int | np.ndarray,
    groups: np.ndarray,
    *,
    null: float = 0.0,
    weights: np.ndarray | None = None,
    weight_type: WildWeights = "rademacher",
    draws: int = 999,
    level: float = 0.95,
    seed: int | None = None,
    max_enumerate: int = 12,
    absorb: Callable[[np.ndarray], np.ndarray] | None = None,
    absorb_max_cells: int = 50_000_000,
) -> WildBootstrap:
    """Restricted wild cluster bootstrap-t (WCR) for one coefficient or linear contrast.

    Parameters
    ----------
    y : ndarray, shape (n,)
        Outcome (already purged of absorbed fixed effects, if any: see Notes).
    X : ndarray, shape (n, k)
        Full-rank design matrix.
    contrast : int or ndarray of shape (k,)
        Column index of the tested coefficient, or the vector ``R`` of ``R'beta``.
    groups : ndarray, shape (n,)
        Cluster labels.
    null : float, default 0
        Null value of ``R'beta`` for the p-value.
    weights : ndarray, optional
        WLS weights (the fit and the bootstrap use ``sqrt(w)``-scaled data).
    weight_type : {"rademacher", "webb"}
        Rademacher (+1/-1) or Webb's six-point weights (better with fewer than ~10 clusters).
    draws : int, default 999
        Random bootstrap samples (ignored when Rademacher draws are enumerated).
    level : float, default 0.95
        Confidence level of the test-inversion interval.
    seed : int, optional
        Seed for the random draws; the result is deterministic given the seed.
    max_enumerate : int, default 12
        With Rademacher weights and at most this many clusters, all ``2**G`` sign vectors
        are used instead of random draws (``G = 12`` gives 4,096), so the p-value is exact
        for the bootstrap distribution and needs no seed.
    absorb : callable, optional
        For models with absorbed fixed effects: ``absorb(Z)`` returns the columns of the
        (n, m) array ``Z`` with the fixed effects projected out (weighted, if ``weights``).
        ``y`` and ``X`` must then be within-transformed already.  See Notes.
    absorb_max_cells : int, default 50,000,000
        The exact fixed-effects treatment projects an (n, 2G) array; above this size the
        bootstrap falls back to the within-transformed model (``fixed_effects="projected"``).

    Returns
    -------
    WildBootstrap

    Raises
    ------
    InputError
        Fewer than two clusters, unknown weight type, too few draws, non-full-rank ``X``.

    Notes
    -----
    For a null ``R'beta = r`` the restricted least-squares fit gives residuals
    :math:`\\tilde u(r) = \\hat e + X A R\\,(R'\\hat\\beta - r)/(R'AR)` with
    :math:`A = (X'X)^{-1}`, linear in ``r``.  Bootstrap samples are
    :math:`y^* = X\\tilde\\beta(r) + \\tilde u(r) \\circ v_{g(i)}`; the bootstrap t statistic
    uses the CR1 variance :math:`\\frac{G}{G-1}\\frac{n-1}{n-k}\\sum_g (a'X_g'e^*_g)^2`,
    :math:`a = AR`.  Everything reduces to cluster-level sums (Roodman et al. 2019,
    "Fast and wild"): with :math:`q_g = a'X_g'\\tilde u_g`, :math:`H_g = a'X_g'X_gA` and
    :math:`S_g = X_g'\\tilde u_g`, the numerator is :math:`q'v` and the cluster scores are
    :math:`q \\\\circ v - H S v`, so each draw costs :math:`O(G k)` after one pass over the
    data, and because everything is affine in ``r`` the p-value at any ``r`` costs
    :math:`O(B)`.  The interval inverts the test by bisection on ``r`` with the same draws.

    With absorbed fixed effects, pass the within-transformed ``y`` and ``X`` (Frisch-Waugh-
    Lovell) and the projection ``absorb``.  The bootstrap coefficients are those of the full
    dummy-variable regression either way; its residuals are
    :math:`M_{\\tilde X} M_{FE}(\\tilde u \\circ v)`, and because
    :math:`\\tilde u \\circ v = \\sum_g v_g \\tilde u^{(g)}` the cluster scores need
    :math:`M_{FE}` applied once to each cluster's residual block (2G projections, not one per
    draw).  The result equals bootstrapping the full dummy regression, as pyfixest's
    ``wildboottest()`` does with one-hot fixed effects (tested to the last draw).  Without
    ``absorb`` the time means of the bootstrap errors are not removed, an approximation.

    The p-value is the share of draws with ``|t*| >= |t|``.  Under enumeration the draws
    ``v = +-1`` reproduce ``|t|`` exactly; they are always counted (the conservative
    convention).  R fwildclusterboot and Python wildboottest test ``|t*| > |t|`` in floating
    point, so such ties fall on either side by rounding (on the reference data wildboottest
    0.3.2 counted both, and the p-values agree exactly).

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> g = np.repeat(np.arange(10), 20)
    >>> x = rng.normal(size=200)
    >>> y = 1 + 0.5 * x + rng.normal(size=10)[g] + rng.normal(size=200)
    >>> X = np.column_stack([np.ones(200), x])
    >>> res = wild_cluster_bootstrap(y, X, 1, g)
    >>> res.enumerated, res.draws, res.ci[0] < 0.5 < res.ci[1]
    (True, 1024, True)
    """
    from scipy import linalg

    if weight_type not in ("rademacher", "webb"):
        raise InputError(f"unknown wild bootstrap weights {weight_type!r}", field="wild_weights",
                         fix="use 'rademacher' or 'webb'")
    if int(draws) < 99:
        raise InputError(f"{draws} bootstrap draws are too few for a p-value", field="bootstrap_draws",
                         fix="use at least 999 draws")
    if not 0 < level < 1:
        raise InputError(f"level must be between 0 and 1, got {level}", field="level",
                         fix="use e.g. 0.95")
    y = np.asarray(y, dtype=float)
    X = np.asarray(X, dtype=float)
    if weights is not None:
        sw = np.sqrt(np.asarray(weights, dtype=float))
        y, X = y * sw, X * sw[:, None]
    n, k = X.shape
    codes = np.unique(np.asarray(groups), return_inverse=True)[1].ravel()
    G = int(codes.max()) + 1
    if G < 2:
        raise InputError("the wild cluster bootstrap needs at least two clusters", field="cluster",
                         fix="cluster at a finer level")
    R = np.zeros(k)
    if np.ndim(contrast) == 0:
        R[int(contrast)] = 1.0
    else:
        R = np.asarray(contrast, dtype=float).ravel()

    XtX = X.T @ X
    try:
        chol = linalg.cho_factor(XtX)
    except linalg.LinAlgError as exc:
        raise InputError("the design matrix is not of full rank", field="covariates",
                         fix="drop collinear covariates") from exc
    # an exactly collinear design can still factor through rounding: a pivot that is tiny against
    # the column scales means a rank-deficient X (whether LAPACK raised depends on summation order)
    pivots = np.abs(np.diag(chol[0]))
    scale = np.sqrt(np.maximum(np.diag(XtX), np.finfo(float).tiny))
    if (pivots / scale).min() < 1e-7:
        raise InputError("the design matrix is not of full rank", field="covariates",
                         fix="drop collinear covariates")
    beta = linalg.cho_solve(chol, X.T @ y)
    e = y - X @ beta
    a = linalg.cho_solve(chol, R)            # A R
    theta = float(R @ beta)
    xa = X @ a                               # n-vector
    denom = float(R @ a)                     # R'AR
    u1 = xa / denom                          # restricted residual = e + (theta - r) * u1

    # cluster-level building blocks, each affine in delta = theta - r
    q0 = _cluster_sums(xa * e, codes, G)
    q1 = _cluster_sums(xa * u1, codes, G)
    S0 = _cluster_sums(X * e[:, None], codes, G)      # (G, k)
    S1 = _cluster_sums(X * u1[:, None], codes, G)
    H = linalg.cho_solve(chol, _cluster_sums(X * xa[:, None], codes, G).T).T  # (G, k)
    fixed_effects = "none"
    F0 = F1 = None  # cluster-by-cluster score blocks when fixed effects are absorbed
    if absorb is not None:
        if n * 2 * G <= absorb_max_cells:
            F0, F1 = _absorbed_blocks(absorb, [e, u1], xa, codes, G, sw if weights is not None else None)
            fixed_effects = "exact"
        else:
            fixed_effects = "projected"

    rng = None if (weight_type == "rademacher" and G <= max_enumerate) else np.random.default_rng(seed)
    V, enumerated = _draw_weights(G, weight_type, int(draws), rng, max_enumerate)
    B = V.shape[1]

    c = G / (G - 1) * (n - 1) / max(n - k, 1)
    num0, num1 = q0 @ V, q1 @ V                       # numerator = num0 + delta * num1
    if F0 is None:
        T0 = q0[:, None] * V - H @ (S0.T @ V)         # cluster scores = T0 + delta * T1
        T1 = q1[:, None] * V - H @ (S1.T @ V)
    else:
        T0 = F0 @ V - H @ (S0.T @ V)
        T1 = F1 @ V - H @ (S1.T @ V)
    P00, P01, P11 = (T0 * T0).sum(0), (T0 * T1).sum(0), (T1 * T1).sum(0)
    se = float(np.sqrt(c * np.sum(q0 ** 2)))
    del T0, T1

    def pvalue_at(r: float) -> float:
        delta = theta - r
        t = delta / se if se > 0 else np.inf
        numer = num0 + delta * num1
        var = c * np.maximum(P00 + 2 * delta * P01 + delta * delta * P11, 0.0)
        # |t*| >= |t|  <=>  numer^2 >= t^2 var  (also right when var = 0), without dividing;
        # the tolerance makes exact ties (v = +-1 under enumeration) count whatever the rounding
        return float(np.count_nonzero(numer * numer >= (t * t) * (1 - 2e-10) * var)) / B

    alpha = 1 - level
    # With every Rademacher sign vector enumerated, the two vectors of equal signs reproduce
    # the sample's own t at every null value, so no p-value is below 2 / 2**G: with G <= 5
    # clusters (2/32 > 0.05) no value is ever rejected and the interval is unbounded.
    # Deciding it here avoids searching out to r ~ 1e13, where rounding ends the search.
    if enumerated and 2.0 / B >= alpha:
        ci = (-np.inf, np.inf)
    else:
        ci = (_invert(pvalue_at, theta, se, alpha, -1), _invert(pvalue_at, theta, se, alpha, +1))
    t_stat = (theta - null) / se if se > 0 else float("nan")
    return WildBootstrap(
        estimate=theta, se=se, t_stat=float(t_stat), pvalue=pvalue_at(null), ci=ci, level=level,
        weights=weight_type, draws=int(B), enumerated=enumerated, n_clusters=G, null=float(null),
        seed=None if enumerated else seed, fixed_effects=fixed_effects,
    )


def _absorbed_blocks(absorb: Callable[[np.ndarray], np.ndarray], residuals: list[np.ndarray],
                     xa: np.ndarray, codes: np.ndarray, G: int,
                     sw: np.ndarray | None) -> list[np.ndarray]:
    """F[h, g] = sum over i in cluster h of xa_i (M_FE u^(g))_i for each residual vector u.

    ``u^(g)`` is ``u`` on cluster g's rows and zero elsewhere.  With weights the data are
    ``sqrt(w)``-scaled, so the projection is applied on the unscaled scale and scaled back.
    """
    n = len(xa)
    rows = np.arange(n)
    out = []
    for u in residuals:
        Z = np.zeros((n, G))
        Z[rows, codes] = u if sw is None else np.divide(u, sw, out=np.zeros(n), where=sw > 0)
        Z = absorb(Z)
        if sw is not None:
            Z *= sw[:, None]
        out.append(_cluster_sums(xa[:, None] * Z, codes, G))
    return out


def _invert(pvalue_at, theta: float, se: float, alpha: float, side: int) -> float:
    """Confidence limit on one side: the value of ``r`` where the p-value falls below ``alpha``.

    The search widens up to about 8,000 standard errors from the estimate; a limit further
    out than that is reported as infinite: the data do not bound the interval, and from
    about a million standard errors out rounding, not the data, decides the p-value.
    """
    if not se > 0:
        return theta
    inside = theta
    step = 2.0 * se
    outside = theta + side * step
    for _ in range(13):  # widen until the null is rejected (2 se * 2**12 ~ 8,000 se)
        if pvalue_at(outside) < alpha:
            break
        inside, step = outside, step * 2
        outside = theta + side * step
    else:
        return side * np.inf
    for _ in range(60):  # bisection on the step function p(r) - alpha
        mid = 0.5 * (inside + outside)
        if pvalue_at(mid) < alpha:
            outside = mid
        else:
            inside = mid
        if abs(outside - inside) <= 1e-7 * se:
            break
    return float(0.5 * (inside + outside))


#: below this many clusters (authorities) analytic cluster-robust intervals are too narrow
#: (Cameron, Gelbach and Miller 2008; MacKinnon and Webb 2017)
FEW_CLUSTERS = 30
#: panel designs whose estimator offers the restricted wild cluster bootstrap
WILD_DESIGNS = frozenset({"did_2x2", "twfe", "event_study"})
#: panel designs that rest on authorities as clusters
CLUSTER_DESIGNS = frozenset({"did_2x2", "twfe", "event_study", "staggered_did"})


@dataclass(frozen=True)
class FewClusterPolicy:
    """How a panel design is to be run and read given how many authorities it rests on.

    Attributes
    ----------
    design : str
    n_clusters : int
        Authorities (clusters) the design rests on.
    few : bool
        Fewer than :data:`FEW_CLUSTERS` clusters.
    options : dict
        Estimator keyword arguments the policy sets (``inference``, ``wild_weights``);
        empty when the analytic interval is kept.
    warning : str or None
        Words that must appear in the sentence reporting the estimate when the design
        cannot use the wild bootstrap with few clusters.
    statement : str
        The sentence every panel design carries: how many authorities it rests on, and
        how its interval was computed.
    """

    design: str
    n_clusters: int
    few: bool
    options: dict
    warning: str | None
    statement: str


def few_cluster_policy(n_clusters: int, design: str, *, threshold: int = FEW_CLUSTERS,
                       n_periods: int | None = None, wild: bool | None = None,
                       series: bool | None = None) -> FewClusterPolicy:
    """One few-cluster policy for every panel design.

    Below ``threshold`` authorities a design that offers the restricted wild cluster
    bootstrap uses it (Webb six-point weights with 12 or fewer clusters, where Rademacher
    signs give too few distinct draws; Rademacher above).  A design that does not offer it
    keeps its own interval, and the sentence reporting it must say that the interval may
    be too narrow.  Every panel design states how many authorities it rests on; a single
    series (ITS) rests on one authority's months.

    Parameters
    ----------
    n_clusters : int
        Authorities in the comparison (clusters).
    design : str
        Registered design name (``did_2x2``, ``twfe``, ``event_study``, ``staggered_did``,
        ``its``; any other name is treated as a design without a wild bootstrap).
    threshold : int, default 30
        Fewer clusters than this count as few.
    n_periods : int, optional
        Months in a single-series design (ITS), for its statement.
    wild : bool, optional
        Whether the design offers the restricted wild cluster bootstrap (its registry spec's
        ``wild_bootstrap``); by default, read from the built-in names in :data:`WILD_DESIGNS`.
    series : bool, optional
        A single-series design (spec ``data_level == "series"``); by default, ``design == "its"``.

    Returns
    -------
    FewClusterPolicy

    Raises
    ------
    InputError
        ``n_clusters`` below 1.

    Examples
    --------
    >>> few_cluster_policy(9, "did_2x2").options
    {'inference': 'wild', 'wild_weights': 'webb'}
    >>> few_cluster_policy(3, "staggered_did").warning is not None
    True
    """
    n = int(n_clusters)
    if n < 1:
        raise InputError(f"a design cannot rest on {n} authorities", field="n_clusters",
                         fix="pass the number of authorities in the comparison (1 or more)")
    authorities = f"{n:,} {'authority' if n == 1 else 'authorities'}"
    if (design == "its") if series is None else series:
        months = f" ({n_periods:,} months)" if n_periods else ""
        statement = (f"Rests on {authorities}{months}: one authority's own series, with no comparison "
                     "authorities; its interval comes from the series' month-to-month variation.")
        return FewClusterPolicy(design, n, False, {}, None, statement)
    few = n < threshold
    if not few:
        return FewClusterPolicy(design, n, False, {}, None,
                                f"Rests on {authorities}, enough for cluster-robust intervals.")
    if (design in WILD_DESIGNS) if wild is None else wild:
        weights = "webb" if n <= 12 else "rademacher"
        words = "Webb six-point" if weights == "webb" else "Rademacher"
        statement = (f"Rests on only {authorities} (fewer than {threshold}), so its interval and p-value use the "
                     f"wild cluster bootstrap ({words} weights, null imposed) rather than analytic "
                     "cluster-robust standard errors, which are too narrow with few authorities.")
        return FewClusterPolicy(design, n, True, {"inference": "wild", "wild_weights": weights}, None, statement)
    warning = (f"rests on only {authorities} (fewer than {threshold}) and this design has no wild bootstrap, "
               "so its interval is likely too narrow: read it as indicative")
    return FewClusterPolicy(design, n, True, {}, warning, warning[0].upper() + warning[1:] + ".")


def inference_alias(inference: Any, old_value: Any, *, old_name: str, func: str, default: Any = None) -> Any:
    """Resolve the one inference argument, ``inference=``, against an older name that still works.

    Every estimator takes its inference choice as ``inference=``; the names used before
    (``se_type``, ``errors``, ``se``, ``bootstrap``) are accepted with a
    :class:`DeprecationWarning`.

    Parameters
    ----------
    inference : object
        The value given as ``inference=`` (``None`` when not given).
    old_value : object
        The value given under the old name (``None`` when not given).
    old_name, func : str
        For the messages.
    default : object
        The value when neither is given.

    Returns
    -------
    object
        The inference choice.

    Raises
    ------
    InputError
        Both names are given, with different values.
    """
    import warnings

    if old_value is None:
        return default if inference is None else inference
    warnings.warn(f"{func}({old_name}=...) is deprecated; use inference={old_value!r}", DeprecationWarning,
                  stacklevel=3)
    if inference is not None and inference != old_value:
        raise InputError(f"{old_name}={old_value!r} and inference={inference!r} disagree", field="inference",
                         fix=f"give inference= only ({old_name}= is its old name)")
    return old_value


# ---------------------------------------------------------------------------- time series (ITS)
# Heteroskedasticity- and autocorrelation-robust inference for a single series: Newey-West lags,
# equal-weighted cosine (EWC) long-run variance with its design correction, and regression with
# AR(1) errors by REML.  Used by :func:`ehimpact.estimators.its.its`.


def newey_west_lags(n: int) -> int:
    """Default Newey--West truncation lag, ``floor(4 (n/100)^(2/9))``.

    The rule of thumb of Newey & West (1994, Review of Economic Studies 61:631), also
    used by Stata's and R's ``sandwich::NeweyWest`` documentation examples.

    Parameters
    ----------
    n : int
        Number of time points in the fitted series.

    Returns
    -------
    int
        At least 1.

    Examples
    --------
    >>> newey_west_lags(60), newey_west_lags(120)
    (3, 4)
    """
    return max(1, int(math.floor(4 * (n / 100) ** (2 / 9))))


def ewc_terms(n: int) -> int:
    """Number of cosine terms for the EWC long-run variance, ``floor(0.4 T^(2/3))``.

    The rule recommended by Lazarus, Lewis, Stock & Watson (2018), "HAR Inference:
    Recommendations for Practice", JBES 36(4):541, for tests of a single restriction
    (their summary of recommendations, Table 1, and the rule ``nu = 0.4 T^(2/3)`` in
    Section 2); the fixed-b reference distribution of the resulting t-statistic is
    Student-t with ``nu`` degrees of freedom for stationary regressors.

    Parameters
    ----------
    n : int
        Number of time periods ``T``.

    Returns
    -------
    int
        At least 1.

    Examples
    --------
    >>> ewc_terms(60), ewc_terms(120), ewc_terms(240)
    (6, 9, 15)
    """
    return max(1, int(math.floor(0.4 * n ** (2 / 3) + 1e-9)))  # 1000 ** (2/3) is 99.999... in floating point


def _cosines(n: int, nu: int) -> np.ndarray:
    """Type II cosines ``cos(pi j (t - 1/2) / T)``, ``t = 1..T`` (rows), ``j = 1..nu`` (columns)."""
    t = np.arange(1, n + 1) - 0.5
    return np.cos(np.pi * np.outer(t, np.arange(1, nu + 1)) / n)


def ewc_long_run_variance(scores: np.ndarray, *, terms: int | None = None) -> np.ndarray:
    """Equal-weighted cosine (EWC) estimate of the long-run variance of a time series.

    .. math:: \\hat\\Omega = \\frac{1}{\\nu} \\sum_{j=1}^{\\nu} \\Lambda_j \\Lambda_j', \\qquad
              \\Lambda_j = \\sqrt{2/T} \\sum_{t=1}^{T} z_t \\cos\\big(\\pi j (t - \\tfrac12) / T\\big)

    (Lazarus, Lewis, Stock & Watson 2018, JBES 36(4):541, Section 2, "EWC").  For
    regression scores :math:`z_t = x_t \\hat u_t` the HAR covariance of the OLS
    coefficients is :math:`(X'X)^{-1}\\, T\\hat\\Omega\\, (X'X)^{-1}`.

    Parameters
    ----------
    scores : array, shape (T,) or (T, k)
        The series :math:`z_t` in time order (not demeaned: regression scores have mean zero).
    terms : int, optional
        Number of cosine terms ``nu``; default :func:`ewc_terms` ``(T)``.

    Returns
    -------
    ndarray, shape (k, k)
        :math:`\\hat\\Omega` (per-period scale, like a variance).

    Examples
    --------
    >>> z = np.array([1.0, -2.0, 0.5, 1.5, -1.0, 0.0])
    >>> round(float(ewc_long_run_variance(z, terms=2)[0, 0]), 6)
    0.125
    """
    z = np.asarray(scores, dtype=float)
    if z.ndim == 1:
        z = z[:, None]
    n = z.shape[0]
    nu = ewc_terms(n) if terms is None else int(terms)
    if not 1 <= nu < n:
        raise InputError(f"the number of cosine terms must be between 1 and {n - 1}, got {terms!r}",
                         field="hac_terms", fix="leave hac_terms unset to use floor(0.4 T^(2/3))")
    lam = math.sqrt(2 / n) * (_cosines(n, nu).T @ z)  # (nu, k)
    return lam.T @ lam / nu


def _ewc_contrasts(Xw: np.ndarray, r: np.ndarray, period: np.ndarray, n_periods: int, nu: int,
                   G: np.ndarray, chunk: int = 64) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Design-corrected EWC variance and t degrees of freedom of the contrasts ``G @ beta``.

    ``Xw`` is the (IRLS-weighted) design, ``r`` the matching (Pearson) residuals, ``period``
    each row's period index ``0..T-1`` (rows of several series in one period share a
    cosine, so the series' scores are summed per period first).  For a contrast ``g`` with
    influence vector :math:`a = X_w H^{-1} g` (:math:`H = X_w'X_w`) the plain EWC variance
    is :math:`v = (2/\\nu) \\sum_j (\\sum_i c_j(t_i) a_i \\hat r_i)^2 = \\hat r' W \\hat r`.

    With :math:`\\hat r = M r` (:math:`M` the residual maker) and errors whose spectrum is
    flat over the ``nu`` lowest frequencies (the premise of HAR inference), :math:`E[v]` is
    :math:`\\kappa` times the variance of :math:`a'r`, with
    :math:`\\kappa = \\mathrm{tr}(MWM) / \\lVert a\\rVert^2`.  Segmented-regression terms (trend,
    step, ramp) are themselves low-frequency, so the residuals lose much of that band and
    :math:`\\kappa` is well below 1 (about 0.6 for a level change at mid-series with 120
    points): plain EWC intervals are then far too narrow.  We divide by :math:`\\kappa` and
    use a t reference with Satterthwaite degrees of freedom
    :math:`\\mathrm{tr}(MWM)^2 / \\mathrm{tr}((MWM)^2)` -- the Bell & McCaffrey (2002) recipe
    for cluster-robust variances, applied to the EWC quadratic form.

    Returns
    -------
    var, df, kappa, plain : ndarray, each of length ``len(G)``
    """
    G = np.atleast_2d(np.asarray(G, dtype=float))
    H_inv = np.linalg.inv(Xw.T @ Xw)
    C = _cosines(n_periods, nu)[period]  # (n, nu): each row's cosines
    A = Xw @ (H_inv @ G.T)  # (n, m) influence vectors
    plain = 2.0 / nu * np.sum((C.T @ (A * r[:, None])) ** 2, axis=0)
    tr = np.empty(G.shape[0])
    tr2 = np.empty(G.shape[0])
    for s in range(0, G.shape[0], chunk):
        a = A[:, s:s + chunk]
        P = C[:, :, None] * a[:, None, :]  # (n, nu, m)
        MP = P - np.einsum("nk,kjm->njm", Xw @ H_inv, np.einsum("nk,njm->kjm", Xw, P))
        gram = np.einsum("njm,nlm->mjl", MP, MP)  # (m, nu, nu)
        tr[s:s + chunk] = np.einsum("mjj->m", gram)
        tr2[s:s + chunk] = np.einsum("mjl,mjl->m", gram, gram)
    norm2 = np.sum(A**2, axis=0)
    with np.errstate(divide="ignore", invalid="ignore"):
        kappa = np.where(norm2 > 0, 2.0 / nu * tr / norm2, 1.0)
        df = np.where(tr2 > 0, tr**2 / tr2, float(nu))
        var = np.where(kappa > 0, plain / kappa, np.nan)
    return var, np.maximum(df, 1.0), kappa, plain


def _prais_winsten(z: np.ndarray, rho: float) -> np.ndarray:
    """Whiten rows of ``z`` for stationary AR(1) errors (exact: the first row is kept, scaled)."""
    out = np.empty_like(z, dtype=float)
    out[0] = math.sqrt(1 - rho**2) * z[0]
    out[1:] = z[1:] - rho * z[:-1]
    return out


def _reml_ar1(y: np.ndarray, X: np.ndarray) -> tuple[np.ndarray, np.ndarray, float, np.ndarray]:
    """Regression with stationary AR(1) errors by restricted maximum likelihood (REML).

    The profile restricted log-likelihood in the autocorrelation ``rho`` is

    .. math:: -\\tfrac12[(n-k)\\log(\\mathrm{RSS}^*_\\rho/(n-k)) - \\log(1-\\rho^2)
              + \\log|X^{*\\prime}_\\rho X^*_\\rho|]

    with ``*`` the Prais--Winsten transform; it is maximised over ``(-0.99, 0.99)``.  This
    is the model of R's ``nlme::gls(correlation = corAR1(), method = "REML")``.  REML's
    ``rho`` is far less biased than the Yule--Walker estimate from OLS residuals, which
    matters in short series (see tests/test_its.py).
    """
    from scipy import optimize

    n, k = X.shape

    def objective(rho: float) -> float:
        ys, Xs = _prais_winsten(y, rho), _prais_winsten(X, rho)
        b = np.linalg.lstsq(Xs, ys, rcond=None)[0]
        rss = float(np.sum((ys - Xs @ b) ** 2))
        return 0.5 * ((n - k) * math.log(rss / (n - k)) - math.log(1 - rho**2) + np.linalg.slogdet(Xs.T @ Xs)[1])

    rho = float(optimize.minimize_scalar(objective, bounds=(-0.99, 0.99), method="bounded",
                                         options={"xatol": 1e-10}).x)
    ys, Xs = _prais_winsten(y, rho), _prais_winsten(X, rho)
    xtx_inv = np.linalg.inv(Xs.T @ Xs)
    b = xtx_inv @ Xs.T @ ys
    wresid = ys - Xs @ b
    sigma2 = float(wresid @ wresid) / (n - k)
    return b, sigma2 * xtx_inv, rho, wresid
