"""Two-group, two-period DiD estimators with influence functions (Sant'Anna & Zhao 2020).

These are the building blocks :func:`ehimpact.estimators.staggered.staggered_did` runs on
each group-time cell when there are covariates or the data are not a balanced panel
(the no-covariate balanced-panel path is vectorised in ``staggered.py`` instead).

Each function returns ``(att, inf)`` where ``inf`` is the influence function of the
cell's subsample, scaled so that ``Var(att) ~= mean(inf**2) / n_sub`` (the convention of
the R packages DRDID and did).  The estimators are

* ``reg``: outcome regression (Heckman, Ichimura & Todd 1997) -- a regression of the
  comparison units' outcome change on covariates, predicted for the treated;
* ``ipw``: standardised (Hajek) inverse-probability weighting (Abadie 2005);
* ``dr``: doubly robust -- the traditional DR estimator for panels and the locally
  efficient DR estimator for repeated cross-sections (Sant'Anna & Zhao 2020, eq. 3.1
  and 3.4).

A propensity score is fitted by weighted logit (statsmodels GLM) and capped at
``1 - 1e-6`` as in DRDID.  Singular designs are reported by the caller, which knows the
cohort, period and covariate names (see :class:`SingularDesign`).
"""

from __future__ import annotations

import warnings

import numpy as np

__all__ = ["SingularDesign", "panel_att", "rc_att"]

_PS_CAP = 1.0 - 1e-6


class SingularDesign(Exception):
    """Raised when a cell's design matrix is rank deficient; ``column`` is the first culprit."""

    def __init__(self, column: int, part: str) -> None:
        super().__init__(f"column {column} singular in {part}")
        self.column = column
        self.part = part


def _first_dependent_column(X: np.ndarray) -> int:
    for j in range(1, X.shape[1] + 1):
        if np.linalg.matrix_rank(X[:, :j]) < j:
            return j - 1
    return X.shape[1] - 1


def _check_rank(X: np.ndarray, part: str) -> None:
    if X.shape[0] < X.shape[1] or np.linalg.matrix_rank(X) < X.shape[1]:
        raise SingularDesign(_first_dependent_column(X) if X.shape[0] >= X.shape[1] else X.shape[0], part)


def _wols(y: np.ndarray, X: np.ndarray, w: np.ndarray, mask: np.ndarray, part: str):
    """Weighted least squares on rows ``mask``; returns (beta, asymptotic linear representation)."""
    Xm, wm = X[mask], w[mask]
    _check_rank(Xm[wm > 0], part)
    XtWX = (Xm * wm[:, None]).T @ Xm
    beta = np.linalg.solve(XtWX, (Xm * wm[:, None]).T @ y[mask])
    n = len(y)
    resid = np.where(mask, y - X @ beta, 0.0)
    wx_e = (w * mask * resid)[:, None] * X
    lin_rep = wx_e @ np.linalg.inv(XtWX / n)
    return beta, lin_rep


def _logit(d: np.ndarray, X: np.ndarray, w: np.ndarray):
    """Weighted logit propensity score; returns (ps, asymptotic linear representation)."""
    import statsmodels.api as sm

    _check_rank(X[w > 0], "propensity score")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fit = sm.GLM(d, X, family=sm.families.Binomial(), freq_weights=w).fit()
    ps = np.minimum(np.asarray(fit.fittedvalues), _PS_CAP)
    n = len(d)
    hess = (X * (w * ps * (1 - ps))[:, None]).T @ X / n
    score = (w * (d - ps))[:, None] * X
    return ps, score @ np.linalg.inv(hess)


def panel_att(dy: np.ndarray, d: np.ndarray, X: np.ndarray, w: np.ndarray, method: str):
    """ATT and influence function for a panel 2x2 (outcome changes ``dy``, treated ``d``).

    Parameters
    ----------
    dy : ndarray
        Outcome change ``Y_t - Y_base`` per unit in the cell's subsample.
    d : ndarray
        1 for the treated cohort, 0 for comparison units.
    X : ndarray
        Covariates at the base period, with an intercept column first.
    w : ndarray
        Unit weights.
    method : {"reg", "ipw", "dr"}

    Returns
    -------
    (att, inf) : (float, ndarray)
    """
    w = w / w.mean()
    w_treat = w * d
    if method == "reg":
        beta, lin_ols = _wols(dy, X, w, d == 0, "outcome regression")
        out = X @ beta
        eta_treat = np.sum(w_treat * dy) / np.sum(w_treat)
        eta_cont = np.sum(w_treat * out) / np.sum(w_treat)
        inf_treat = (w_treat * dy - w_treat * eta_treat) / w_treat.mean()
        inf_cont = (w_treat * out - w_treat * eta_cont + lin_ols @ (w_treat[:, None] * X).mean(0)) / w_treat.mean()
        return eta_treat - eta_cont, inf_treat - inf_cont
    ps, lin_ps = _logit(d, X, w)
    w_cont = w * ps * (1 - d) / (1 - ps)
    if method == "ipw":
        eta_treat = np.sum(w_treat * dy) / np.sum(w_treat)
        eta_cont = np.sum(w_cont * dy) / np.sum(w_cont)
        inf_treat = w_treat * (dy - eta_treat) / w_treat.mean()
        m2 = (w_cont * (dy - eta_cont))[:, None] * X
        inf_cont = (w_cont * (dy - eta_cont) + lin_ps @ m2.mean(0)) / w_cont.mean()
        return eta_treat - eta_cont, inf_treat - inf_cont
    if method != "dr":  # pragma: no cover - validated by the caller
        raise ValueError(method)
    beta, lin_ols = _wols(dy, X, w, d == 0, "outcome regression")
    resid = dy - X @ beta
    eta_treat = np.sum(w_treat * resid) / np.sum(w_treat)
    eta_cont = np.sum(w_cont * resid) / np.sum(w_cont)
    inf_treat = (w_treat * (resid - eta_treat) - lin_ols @ (w_treat[:, None] * X).mean(0)) / w_treat.mean()
    m2 = ((w_cont * (resid - eta_cont))[:, None] * X).mean(0)
    m3 = (w_cont[:, None] * X).mean(0)
    inf_cont = (w_cont * (resid - eta_cont) + lin_ps @ m2 - lin_ols @ m3) / w_cont.mean()
    return eta_treat - eta_cont, inf_treat - inf_cont


def rc_att(y: np.ndarray, post: np.ndarray, d: np.ndarray, X: np.ndarray, w: np.ndarray, method: str):
    """ATT and influence function for a repeated cross-section 2x2 (one row per observation).

    Parameters
    ----------
    y : ndarray
        Outcome per observation (base and current period rows of the cell).
    post : ndarray
        1 for rows in the current period, 0 for the base period.
    d : ndarray
        1 for the treated cohort, 0 for comparison rows.
    X : ndarray
        Covariates, with an intercept column first.
    w : ndarray
        Observation weights.
    method : {"reg", "ipw", "dr"}

    Returns
    -------
    (att, inf) : (float, ndarray)
    """
    w = w / w.mean()
    if method in ("reg", "dr"):
        b_pre, lin_pre = _wols(y, X, w, (d == 0) & (post == 0), "outcome regression (comparison, base period)")
        b_post, lin_post = _wols(y, X, w, (d == 0) & (post == 1), "outcome regression (comparison, current period)")
        out_pre, out_post = X @ b_pre, X @ b_post
    if method == "reg":
        w_tpre, w_tpost, w_c = w * d * (1 - post), w * d * post, w * d
        e_tpre = np.sum(w_tpre * y) / np.sum(w_tpre)
        e_tpost = np.sum(w_tpost * y) / np.sum(w_tpost)
        e_c = np.sum(w_c * (out_post - out_pre)) / np.sum(w_c)
        inf_tpre = w_tpre * (y - e_tpre) / w_tpre.mean()
        inf_tpost = w_tpost * (y - e_tpost) / w_tpost.mean()
        m1 = (w_c[:, None] * X).mean(0)
        inf_c = (w_c * (out_post - out_pre - e_c) + lin_post @ m1 - lin_pre @ m1) / w_c.mean()
        return (e_tpost - e_tpre) - e_c, (inf_tpost - inf_tpre) - inf_c
    ps, lin_ps = _logit(d, X, w)
    w_tpre, w_tpost = w * d * (1 - post), w * d * post
    w_cpre = w * ps * (1 - d) * (1 - post) / (1 - ps)
    w_cpost = w * ps * (1 - d) * post / (1 - ps)
    if method == "ipw":
        e = {k: np.sum(v * y) / np.sum(v) for k, v in
             {"tpre": w_tpre, "tpost": w_tpost, "cpre": w_cpre, "cpost": w_cpost}.items()}
        att = (e["tpost"] - e["tpre"]) - (e["cpost"] - e["cpre"])
        inf_t = w_tpost * (y - e["tpost"]) / w_tpost.mean() - w_tpre * (y - e["tpre"]) / w_tpre.mean()
        inf_c = w_cpost * (y - e["cpost"]) / w_cpost.mean() - w_cpre * (y - e["cpre"]) / w_cpre.mean()
        m2_pre = ((w_cpre * (y - e["cpre"]))[:, None] * X).mean(0) / w_cpre.mean()
        m2_post = ((w_cpost * (y - e["cpost"]))[:, None] * X).mean(0) / w_cpost.mean()
        inf_c = inf_c + lin_ps @ (m2_post - m2_pre)
        return att, inf_t - inf_c
    if method != "dr":  # pragma: no cover
        raise ValueError(method)
    # locally efficient DR for repeated cross-sections (Sant'Anna & Zhao 2020, eq. 3.4)
    bt_pre, lin_t_pre = _wols(y, X, w, (d == 1) & (post == 0), "outcome regression (treated, base period)")
    bt_post, lin_t_post = _wols(y, X, w, (d == 1) & (post == 1), "outcome regression (treated, current period)")
    out_t_pre, out_t_post = X @ bt_pre, X @ bt_post
    out_c = post * out_post + (1 - post) * out_pre
    w_d, w_dt1, w_dt0 = w * d, w * d * post, w * d * (1 - post)

    def avg(wt, v):
        return np.sum(wt * v) / np.sum(wt)

    a_tpre, a_tpost = avg(w_tpre, y - out_c), avg(w_tpost, y - out_c)
    a_cpre, a_cpost = avg(w_cpre, y - out_c), avg(w_cpost, y - out_c)
    a_dpost, a_dt1 = avg(w_d, out_t_post - out_post), avg(w_dt1, out_t_post - out_post)
    a_dpre, a_dt0 = avg(w_d, out_t_pre - out_pre), avg(w_dt0, out_t_pre - out_pre)
    att = (a_tpost - a_tpre) - (a_cpost - a_cpre) + (a_dpost - a_dt1) - (a_dpre - a_dt0)

    def lead(wt, v, a):
        return wt * (v - a) / wt.mean()

    inf_tpre, inf_tpost = lead(w_tpre, y - out_c, a_tpre), lead(w_tpost, y - out_c, a_tpost)
    m1_post = -(w_tpost[:, None] * post[:, None] * X).mean(0) / w_tpost.mean()
    m1_pre = -(w_tpre[:, None] * (1 - post)[:, None] * X).mean(0) / w_tpre.mean()
    inf_treat = inf_tpost - inf_tpre + lin_post @ m1_post + lin_pre @ m1_pre
    inf_cpre, inf_cpost = lead(w_cpre, y - out_c, a_cpre), lead(w_cpost, y - out_c, a_cpost)
    m2_pre = ((w_cpre * (y - out_c - a_cpre))[:, None] * X).mean(0) / w_cpre.mean()
    m2_post = ((w_cpost * (y - out_c - a_cpost))[:, None] * X).mean(0) / w_cpost.mean()
    m3_post = -(w_cpost[:, None] * post[:, None] * X).mean(0) / w_cpost.mean()
    m3_pre = -(w_cpre[:, None] * (1 - post)[:, None] * X).mean(0) / w_cpre.mean()
    inf_cont = (inf_cpost - inf_cpre + lin_ps @ (m2_post - m2_pre)
                + lin_post @ m3_post + lin_pre @ m3_pre)
    inf_eff = ((lead(w_d, out_t_post - out_post, a_dpost) - lead(w_dt1, out_t_post - out_post, a_dt1))
               - (lead(w_d, out_t_pre - out_pre, a_dpre) - lead(w_dt0, out_t_pre - out_pre, a_dt0)))
    mom_post = ((w_d / w_d.mean() - w_dt1 / w_dt1.mean())[:, None] * X).mean(0)
    mom_pre = ((w_d / w_d.mean() - w_dt0 / w_dt0.mean())[:, None] * X).mean(0)
    inf_or = (lin_t_post - lin_post) @ mom_post - (lin_t_pre - lin_pre) @ mom_pre
    return att, (inf_treat - inf_cont) + inf_eff + inf_or
