"""Synthetic control and synthetic difference-in-differences for one treated authority.

One authority changes its practice at ``start``; the others (its statistical neighbours, or the
rest of the region) are the donor pool.  Three estimators share one frame, as in
Arkhangelsky, Athey, Hirshberg, Imbens & Wager (2021), "Synthetic Difference-in-Differences",
AER 111(12):4088, and the reference R package ``synthdid`` (0.0.9):

.. math:: \\hat\\tau = \\Big(\\bar y_{1,\\text{post}} - \\sum_i \\hat\\omega_i \\bar y_{i,\\text{post}}\\Big)
          - \\Big(\\sum_t \\hat\\lambda_t y_{1t} - \\sum_i \\hat\\omega_i \\sum_t \\hat\\lambda_t y_{it}\\Big)

- ``method="sdid"``: unit weights :math:`\\omega` on the simplex solve
  :math:`\\min \\lVert \\tilde A\\omega - \\tilde b\\rVert^2 + T_0\\zeta_\\omega^2\\lVert\\omega\\rVert^2`
  where :math:`\\tilde A` holds the donors' pre-period paths and :math:`\\tilde b` the treated
  one, each demeaned over time (the intercept: a constant level gap is allowed), with
  :math:`\\zeta_\\omega = (N_1 T_1)^{1/4}\\hat\\sigma` and :math:`\\hat\\sigma` the standard
  deviation of the donors' first differences in the pre-period.  Time weights :math:`\\lambda`
  on the simplex solve the same problem across donors: pre-period columns (demeaned over
  donors) reproduce each donor's post-period mean, with :math:`\\zeta_\\lambda = 10^{-6}\\hat\\sigma`.
- ``method="sc"``: the same unit weights without intercept and with
  :math:`\\zeta = 10^{-6}\\hat\\sigma`, and :math:`\\lambda = 0`: Abadie, Diamond & Hainmueller's
  (2010) synthetic control on the pre-period outcome path, as ``synthdid::sc_estimate``.
- ``method="did"``: uniform weights, the two-way fixed-effects DiD.

Solvers.  ``solver="qp"`` (default) finds the exact minimiser of each weight problem, a
convex quadratic programme on the simplex, by a primal active-set method on the KKT system
(finite, with the optimality conditions checked at the end to ``1e-10``); its placebo runs reuse
one Gram matrix of the donors' paths.  ``solver="frank-wolfe"`` reproduces ``synthdid``'s
Frank-Wolfe path to the last iteration: 100 iterations from uniform weights, then weights
at or below a quarter of the largest set to zero ("sparsify"), then up to 10,000 iterations
stopping once the objective falls by less than :math:`(10^{-5}\\hat\\sigma)^2` in one step.  That
rule stops Frank-Wolfe short of the optimum, so the two solvers' weights differ.  On
California's Proposition 99 (``tests/reference/synthetic_control_prop99.yaml``) the stopped
Frank-Wolfe unit weights are up to 0.0034 (SDID) and 0.0046 (SC) from the exact optimum, and
their objective is 0.17% (SDID) and 1.0% (SC) above the optimum's; the time weights agree to
1e-7.  The estimates are -15.604 vs -15.605 (SDID), -19.620 vs -19.514 (SC) and -27.349 for both
(DID).  The published Table 1 figures (-15.6, -19.6, -27.3) are synthdid's Frank-Wolfe values: the
exact SC optimum rounds to -19.5.  ``solver="frank-wolfe"`` therefore reproduces the paper and
synthdid-py to 1e-6; ``solver="qp"`` is the default because it is the minimiser the method
defines, does not depend on a stopping rule, and is tens of times faster.

Inference.  With one treated authority the placebo standard error of Arkhangelsky et al.
(Algorithm 4) refits the estimator with each donor in turn as the treated unit (the other
donors as its pool, the original :math:`\\zeta`), and takes the standard deviation of those
placebo estimates.  ``synthdid`` draws 200 random permutations; with one treated unit only the
identity of the pseudo-treated donor matters, so ``replications=None`` (default) enumerates
all donors once, the limit of the draws; ``replications=B`` draws as ``synthdid`` does.  The
same placebo fits give the placebo-in-space test of Abadie et al. (2010): the p-value is the
rank of the treated unit's post/pre RMSPE ratio among all units' ratios.

Fit.  The pre-period RMSPE is the root mean square of the pre-period gap after the level
shift the method allows (none for SC, the mean gap for SDID and DID).  The fit is called poor
when it exceeds the standard deviation of the treated unit's own pre-period series (the
synthetic comparison then explains less of the series than its mean does), or for SC when the
treated unit lies above every donor, or below every donor, in every pre-period.

Notes
-----
Simulation (``tests/test_synthetic_control_sim.py``, slow; 400 panels, 80 of each of 20x48,
40x72, 60x96, 100x72 and 150x96 authorities x months, the last 24 months treated; unit and month
effects, two latent factors, AR(1) errors with rho 0.5 and innovation SD 1, one treated authority
drawn like the donors, a planted effect of -2; seed 20261202): bias of SDID -0.021 (SD of the
estimates 0.89) and of SC -0.005 (SD 1.27); the placebo test at 5% rejected 3.25% (13 of 400) of
the panels without the effect (the rank rule's nominal size: 5% at 20-100 authorities, 4.7% at 150)
and 56.5% with it; SDID's 95% placebo-SE interval covered the effect in 93.5%.  Figures also in
``tests/reference/synthetic_control_prop99.yaml`` (``simulation``).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import pandas as pd

from ehimpact.errors import InputError, format_rows
from ehimpact.estimators.checks import (
    as_list,
    require_columns,
    require_frame,
    require_numeric,
)
from ehimpact.estimators.registry import EstimatorSpec
from ehimpact.estimators.result import Estimate, OutcomeScale, normal_ci

if TYPE_CHECKING:
    from matplotlib.axes import Axes

__all__ = ["synthetic_control", "SyntheticControlResult", "SYNTHETIC_CONTROL_SPEC", "simplex_qp"]

Method = Literal["sdid", "sc", "did"]
Solver = Literal["qp", "frank-wolfe"]

MIN_PRE_PERIODS = 5
_METHOD_WORDS = {
    "sdid": "synthetic difference-in-differences (Arkhangelsky et al. 2021)",
    "sc": "synthetic control (Abadie, Diamond & Hainmueller 2010)",
    "did": "difference-in-differences with equal weights",
}


# ---------------------------------------------------------------------------- solvers
def simplex_qp(G: np.ndarray, c: np.ndarray, *, w0: np.ndarray | None = None, dense_start: bool = False,
               tol: float = 1e-10, max_iter: int | None = None) -> np.ndarray:
    """Exact minimiser of ``0.5 w'Gw - c'w`` over the unit simplex (``w >= 0``, ``sum(w) = 1``).

    A primal active-set method: start at a feasible point (``w0``, else the best vertex, or with
    ``dense_start`` the clipped equality-constrained solution on every coordinate); on the current support solve the
    equality-constrained problem from its KKT system; step back to the boundary when a weight
    would turn negative (dropping it); add the coordinate that most violates the optimality
    condition ``g_i >= -mu``.  It stops when no coordinate violates it by more than ``tol`` times
    the scale of ``G``, which certifies the optimum.

    Parameters
    ----------
    G : ndarray, shape (n, n)
        Symmetric positive semi-definite matrix (``A'A + eta I`` for least squares).
    c : ndarray, shape (n,)
        Linear term (``A'b``).
    w0 : ndarray, optional
        A feasible starting point (a warm start, e.g. a neighbouring problem's solution); the
        result does not depend on it, only the number of steps does.
    dense_start : bool
        Start from the clipped full-support solution: fewer steps when a ridge makes ``G`` well
        conditioned and the optimum has many non-zero weights (SDID's unit weights).
    tol : float
        Relative tolerance of the optimality check.
    max_iter : int, optional
        Cap on active-set changes (default ``10 n + 100``).

    Returns
    -------
    ndarray
        The optimal weights.

    Examples
    --------
    >>> simplex_qp(np.eye(2), np.array([1.0, 0.0])).round(6).tolist()
    [1.0, 0.0]
    """
    n = len(c)
    if n == 1:
        return np.ones(1)
    scale = max(float(np.abs(np.diag(G)).max()), float(np.abs(c).max()), 1e-300)
    eps = tol * scale
    w = _start(G, c, dense_start) if w0 is None else np.asarray(w0, dtype=float).copy()
    support = [int(i) for i in np.flatnonzero(w > 0)]
    max_iter = max_iter or 10 * n + 100
    w, support = _support_optimum(G, c, w, support)
    for _ in range(max_iter):
        g = G @ w - c
        mu = -float(g[support].mean())
        viol = g + mu
        viol[support] = np.inf
        k = int(np.argmin(viol))
        if viol[k] >= -eps:
            return w
        w, support = _support_optimum(G, c, w, [*support, k])
    return w  # pragma: no cover - the cap is far above what the method needs


def _support_optimum(G: np.ndarray, c: np.ndarray, w: np.ndarray, support: list[int]) -> tuple[np.ndarray, list[int]]:
    """From feasible ``w``, move to the minimiser on ``support``, dropping weights that reach zero."""
    while True:
        S = np.asarray(support)
        z = _equality_qp(G[np.ix_(S, S)], c[S])
        if np.all(z > 0):
            w = np.zeros(len(c))
            w[S] = z
            return w, support
        wS = w[S]
        neg = z <= 0
        alpha = float(np.min(wS[neg] / (wS[neg] - z[neg])))
        wS = wS + alpha * (z - wS)
        keep = wS > 1e-15
        keep[np.argmax(wS)] = True
        w = np.zeros(len(c))
        w[S[keep]] = wS[keep] / wS[keep].sum()
        support = [int(i) for i in S[keep]]


def _start(G: np.ndarray, c: np.ndarray, dense: bool) -> np.ndarray:
    """A feasible start: the best vertex, or (``dense``) a positive support optimum found by
    solving on every coordinate and dropping all negative weights at once until none is left."""
    n = len(c)
    if dense:
        S = np.arange(n)
        for _ in range(100):
            z = _equality_qp(G[np.ix_(S, S)], c[S])
            if not np.all(np.isfinite(z)):
                break
            if np.all(z > 0):
                w = np.zeros(n)
                w[S] = z
                return w
            if not np.any(z > 0):
                break
            S = S[z > 0]
    w = np.zeros(n)
    w[int(np.argmin(0.5 * np.diag(G) - c))] = 1.0
    return w


def _equality_qp(G: np.ndarray, c: np.ndarray) -> np.ndarray:
    """Minimiser of ``0.5 z'Gz - c'z`` subject to ``sum(z) = 1`` (KKT system)."""
    m = len(c)
    if m == 1:
        return np.ones(1)
    from scipy.linalg import LinAlgError as _SciPyLinAlgError
    from scipy.linalg import cho_factor, cho_solve

    try:  # Cholesky: z = G^-1 c - nu G^-1 1, nu from sum(z) = 1
        fac = cho_factor(G, check_finite=False)
        sol = cho_solve(fac, np.column_stack([c, np.ones(m)]), check_finite=False)
        a, b = sol[:, 0], sol[:, 1]
        if np.all(np.isfinite(sol)) and b.sum() != 0:
            return a - (a.sum() - 1.0) / b.sum() * b
    except (_SciPyLinAlgError, ValueError):
        pass
    K = np.empty((m + 1, m + 1))
    K[:m, :m] = G
    K[:m, m] = 1.0
    K[m, :m] = 1.0
    K[m, m] = 0.0
    rhs = np.append(c, 1.0)
    try:
        sol = np.linalg.solve(K, rhs)
    except np.linalg.LinAlgError:
        sol = np.linalg.lstsq(K, rhs, rcond=None)[0]
    return sol[:m]


def _fw(A: np.ndarray, b: np.ndarray, zeta: float, x: np.ndarray, min_decrease: float,
        max_iter: int) -> np.ndarray:
    """Frank-Wolfe with exact line search for ``||Ax-b||^2/m + zeta^2 ||x||^2`` on the simplex.

    The steps and the stopping rule (objective decrease below ``min_decrease**2``) of
    ``synthdid``'s ``sc.weight.fw``; ``A`` and ``b`` arrive already demeaned when an intercept
    is wanted.
    """
    m = A.shape[0]
    eta = m * zeta**2
    x = x.astype(float).copy()
    prev2 = prev1 = math.nan
    t = 0
    while t < max_iter and (t < 2 or prev2 - prev1 > min_decrease**2):
        t += 1
        Ax = A @ x
        half_grad = (Ax - b) @ A + eta * x
        i = int(np.argmin(half_grad))
        d = -x
        d[i] = 1.0 - x[i]
        if np.any(d != 0):
            d_err = A[:, i] - Ax
            step = -float(half_grad @ d) / (float(d_err @ d_err) + eta * float(d @ d))
            x = x + min(1.0, max(0.0, step)) * d
        err = A @ x - b
        val = zeta**2 * float(x @ x) + float(err @ err) / m
        prev2, prev1 = prev1, val
    return x


def _sparsify(v: np.ndarray) -> np.ndarray:
    v = np.where(v <= v.max() / 4, 0.0, v)
    return v / v.sum()


def _fw_weights(A: np.ndarray, b: np.ndarray, zeta: float, start: np.ndarray | None, min_decrease: float,
                intercept: bool) -> np.ndarray:
    """synthdid's two-stage Frank-Wolfe: 100 iterations, sparsify, then up to 10,000."""
    if intercept:
        A = A - A.mean(axis=0)
        b = b - b.mean()
    x0 = np.full(A.shape[1], 1.0 / A.shape[1]) if start is None else start
    x = _fw(A, b, zeta, x0, min_decrease, 100)
    return _fw(A, b, zeta, _sparsify(x), min_decrease, 10_000)


def _qp_weights(A: np.ndarray, b: np.ndarray, zeta: float, intercept: bool) -> np.ndarray:
    if intercept:
        A = A - A.mean(axis=0)
        b = b - b.mean()
    m = A.shape[0]
    G = A.T @ A
    eta = m * zeta**2
    G[np.diag_indices_from(G)] += eta
    return simplex_qp(G, A.T @ b, dense_start=_dense(eta, G))


def _dense(eta: float, G: np.ndarray) -> bool:
    """Whether the ridge is large enough for the full-support start to help (SDID unit weights)."""
    return bool(eta > 1e-6 * float(np.diag(G).max()))


# ---------------------------------------------------------------------------- the fit
@dataclass
class _Fit:
    omega: np.ndarray
    lam: np.ndarray
    tau: float
    synthetic: np.ndarray  # level-shifted synthetic path of the treated unit, all periods
    gap: np.ndarray


def _collapsed(Y: np.ndarray, T0: int) -> tuple[np.ndarray, np.ndarray]:
    """Pre-period paths and post-period means of every row."""
    return Y[:, :T0], Y[:, T0:].mean(axis=1)


def _fit_one(Yd: np.ndarray, y1: np.ndarray, T0: int, method: str, zeta_omega: float, zeta_lambda: float,
             solver: str, noise: float, omega0: np.ndarray | None = None,
             lambda0: np.ndarray | None = None) -> _Fit:
    """Weights and estimate for one treated path ``y1`` against donor rows ``Yd``."""
    N0 = Yd.shape[0]
    pre_d, post_d = _collapsed(Yd, T0)
    if method == "did":
        omega = np.full(N0, 1.0 / N0)
        lam = np.full(T0, 1.0 / T0)
    else:
        intercept = method == "sdid"
        if solver == "qp":
            omega = _qp_weights(pre_d.T, y1[:T0], zeta_omega, intercept)
        else:
            omega = _fw_weights(pre_d.T, y1[:T0], zeta_omega, omega0, 1e-5 * noise, intercept)
        if method == "sdid":
            if solver == "qp":
                lam = _qp_weights(pre_d, post_d, zeta_lambda, True)
            else:
                lam = _fw_weights(pre_d, post_d, zeta_lambda, lambda0, 1e-5 * noise, True)
        else:
            lam = np.zeros(T0)
    return _finish(Yd, y1, T0, omega, lam)


def _finish(Yd: np.ndarray, y1: np.ndarray, T0: int, omega: np.ndarray, lam: np.ndarray) -> _Fit:
    raw = omega @ Yd
    shift = float(lam @ (y1[:T0] - raw[:T0]))
    synthetic = raw + shift
    gap = y1 - synthetic
    return _Fit(omega=omega, lam=lam, tau=float(gap[T0:].mean()), synthetic=synthetic, gap=gap)


def _noise_level(Yd: np.ndarray, T0: int) -> float:
    d = np.diff(Yd[:, :T0], axis=1)
    return float(d.std(ddof=1)) if d.size > 1 else 0.0


def _rmspe(gap: np.ndarray, T0: int, method: str) -> tuple[float, float]:
    """Pre-period RMSPE after the level shift the method allows, and post-period RMSPE."""
    pre = gap[..., :T0]
    if method != "sc":
        pre = pre - pre.mean(axis=-1, keepdims=True)
    return np.sqrt((pre**2).mean(axis=-1)), np.sqrt((gap[..., T0:] ** 2).mean(axis=-1))


def _placebo_fits(Yd: np.ndarray, T0: int, method: str, zeta_omega: float, zeta_lambda: float,
                  solver: str, noise: float, fit: _Fit) -> tuple[np.ndarray, np.ndarray]:
    """Each donor in turn as the treated unit, the other donors as its pool (Algorithm 4).

    Returns the placebo estimates and their gap paths (donors x periods).  For the QP solver
    the Gram matrices are built once for all donors and cut down per placebo.
    """
    N0, T = Yd.shape
    taus = np.empty(N0)
    gaps = np.empty((N0, T))
    pre, post = _collapsed(Yd, T0)
    if method == "did" or solver != "qp":
        for j in range(N0):
            others = np.delete(np.arange(N0), j)
            if solver == "qp" or method == "did":
                f = _fit_one(Yd[others], Yd[j], T0, method, zeta_omega, zeta_lambda, solver, noise)
            else:  # synthdid starts each placebo's Frank-Wolfe from the original weights
                om0 = fit.omega[others]
                om0 = om0 / om0.sum() if om0.sum() > 0 else np.full(N0 - 1, 1.0 / (N0 - 1))
                f = _fit_one(Yd[others], Yd[j], T0, method, zeta_omega, zeta_lambda, solver, noise,
                             omega0=om0, lambda0=fit.lam if method == "sdid" else None)
            taus[j], gaps[j] = f.tau, f.gap
        return taus, gaps
    intercept = method == "sdid"
    Z = pre - pre.mean(axis=1, keepdims=True) if intercept else pre  # each donor's path, demeaned over time
    M = Z @ Z.T
    eta_o = T0 * zeta_omega**2
    if method == "sdid":
        X = np.hstack([pre, post[:, None]])  # rows: donors; columns: pre periods, post mean
        S_all = X.T @ X
        s_all = X.sum(axis=0)
        eta_l = (N0 - 1) * zeta_lambda**2
    idx = np.arange(N0)
    for j in range(N0):
        others = idx[idx != j]
        G = M[np.ix_(others, others)].copy()
        G[np.diag_indices_from(G)] += eta_o
        omega = simplex_qp(G, M[others, j], dense_start=_dense(eta_o, G))
        if method == "sdid":
            s = s_all - X[j]
            C = S_all - np.outer(X[j], X[j]) - np.outer(s, s) / (N0 - 1)
            Gl = C[:T0, :T0].copy()
            Gl[np.diag_indices_from(Gl)] += eta_l
            lam = simplex_qp(Gl, C[:T0, T0], w0=fit.lam)
        else:
            lam = np.zeros(T0)
        f = _finish(Yd[others], Yd[j], T0, omega, lam)
        taus[j], gaps[j] = f.tau, f.gap
    return taus, gaps


# ---------------------------------------------------------------------------- result
@dataclass(eq=False)
class SyntheticControlResult(Estimate):
    """Result of :func:`synthetic_control`: the ATT over the post period, weights, fit and placebos.

    Attributes
    ----------
    effects : DataFrame
        One row per period: ``time, treated, synthetic, gap, post``; ``gap`` in the post period
        is the per-period effect (``synthetic`` includes the level shift SDID and DID allow).
    weights : DataFrame
        ``donor, weight`` (and ``name`` when names were given), largest first.
    time_weights : DataFrame or None
        ``time, weight`` over the pre-period (SDID; uniform for DID; None for SC).
    rmspe_pre, rmspe_post, rmspe_ratio : float
        Pre-period fit, post-period gap and their ratio.
    placebos : DataFrame or None
        One row per donor treated in its turn: ``donor, estimate, rmspe_pre, rmspe_post, ratio``.
    placebo_gaps : DataFrame or None
        Gap paths of the placebos (rows: periods; columns: donors), for :meth:`plot_gap`.
    rank : int
        Rank of the treated unit's RMSPE ratio among all ``n_control + 1`` units (1 = largest).
    """

    effects: pd.DataFrame | None = None
    weights: pd.DataFrame | None = None
    time_weights: pd.DataFrame | None = None
    placebos: pd.DataFrame | None = None
    placebo_gaps: pd.DataFrame | None = None
    treated_unit: Any = None
    treated_name: str | None = None
    start: Any = None
    design: str = "sdid"
    solver: str = "qp"
    rmspe_pre: float = float("nan")
    rmspe_post: float = float("nan")
    rmspe_ratio: float = float("nan")
    rank: int = 0
    n_pre: int = 0
    n_post: int = 0
    period: str = "period"
    names: dict[str, str] = field(default_factory=dict)

    def _donor_words(self, top: int = 5, threshold: float = 0.05) -> str:
        """"Wokingham 41%, West Berkshire 33% and 4 others (26%)"."""
        w = self.weights
        if w is None or len(w) == 0:
            return "no donors"
        if self.design == "did":
            return f"an equally weighted comparison of all {len(w)} donors"
        label = w["name"] if "name" in w.columns else w["donor"].astype(str)
        shown = [(str(n), float(x)) for n, x in zip(label, w["weight"], strict=False) if x >= threshold][:top]
        if not shown:
            shown = [(str(label.iloc[0]), float(w["weight"].iloc[0]))]
        parts = [f"{n} {100 * x:.0f}%" for n, x in shown]
        rest = w[w["weight"] > 0].iloc[len(shown):]
        if len(rest):
            parts.append(f"{len(rest)} other{'s' if len(rest) != 1 else ''} ({100 * rest['weight'].sum():.0f}%)")
        text = ", ".join(parts[:-1]) + " and " + parts[-1] if len(parts) > 1 else parts[0]
        return f"a weighted comparison of {text}"

    def headline(self) -> str:
        """One sentence: the average gap after the change, against the named donors, with interval."""
        label = self.outcome_label or self.outcome or "the outcome"
        who = f"In {self.treated_name}, " if self.treated_name else ""
        direction = "lower" if self.estimate < 0 else "higher"
        unit = f" {self.unit}" if self.unit else ""
        mag = self._magnitude(self.estimate)
        ci = self._ci_words("higher", "lower")
        months = f"{self.n_post} {self.period}{'s' if self.n_post != 1 else ''}"
        text = (f"{who}{label} averaged {mag}{unit} {direction} over the {months} after the change than "
                f"in {self._donor_words()} ({ci}")
        if self.placebos is not None and len(self.placebos):
            text += f"; ranked {self.rank} of {self.n_control + 1} in the placebo test, p = {self.pvalue:.2f}"
        return text[0].upper() + text[1:] + ")."

    def summary(self) -> str:
        """Headline, fit, placebo test and warnings, one per line."""
        lines = [self.headline()]
        lines.append(
            f"Pre-period fit: RMSPE {self.rmspe_pre:,.3g} over {self.n_pre} {self.period}s; "
            f"post/pre RMSPE ratio {self.rmspe_ratio:,.3g}."
        )
        if self.placebos is not None and len(self.placebos):
            lines.append(
                f"Placebo test: treating each of the {self.n_control} donors as if it had changed, "
                f"{self.rank - 1} had a larger post/pre gap ratio than the treated authority (p = {self.pvalue:.3g})."
            )
        lines.append(f"Estimand: {self.estimand}; method: {self.method}.")
        lines.extend(f"Warning: {w}" for w in self.warnings)
        if self.synthetic:
            lines.append("SYNTHETIC DATA: this result illustrates the method and describes no real children.")
        return "\n".join(lines)

    def plot(self, ax: Axes | None = None, *, title: str | None = None, label: str | None = None) -> Axes:
        """The treated series against its synthetic comparison, with the start marked.

        Parameters
        ----------
        ax : matplotlib Axes, optional
            Where to draw; a new figure is made when omitted.
        title : str, optional
        label : str, optional
            Legend label of the treated series (default: its name).

        Returns
        -------
        matplotlib.axes.Axes
        """
        import matplotlib.pyplot as plt

        if ax is None:
            _, ax = plt.subplots(figsize=(8, 4))
        e = self.effects
        name = label or self.treated_name or str(self.treated_unit)
        ax.plot(e["time"], e["treated"], color="#1f4e79", linewidth=2, label=name)
        ax.plot(e["time"], e["synthetic"], color="#c55a11", linestyle="--", linewidth=2,
                label="synthetic comparison" + (" (level-shifted)" if self.design != "sc" else ""))
        ax.axvline(e["time"].iloc[self.n_pre], color="grey", linestyle=":", linewidth=1.5)
        ax.set_ylabel(self.outcome_label or self.outcome or "outcome")
        ax.set_xlabel(self.period)
        ax.set_title(title or f"{name} and its synthetic comparison")
        ax.legend(frameon=False, fontsize=8)
        return ax

    def plot_gap(self, ax: Axes | None = None, *, title: str | None = None, placebos: bool = True) -> Axes:
        """The gap (treated minus synthetic) over time, the placebo gaps drawn behind it in grey.

        Parameters
        ----------
        ax : matplotlib Axes, optional
        title : str, optional
        placebos : bool, default True
            Draw the placebo gaps (when placebo inference was run).

        Returns
        -------
        matplotlib.axes.Axes
        """
        import matplotlib.pyplot as plt

        if ax is None:
            _, ax = plt.subplots(figsize=(8, 4))
        e = self.effects
        if placebos and self.placebo_gaps is not None:
            g = self.placebo_gaps
            ax.plot(e["time"], g.to_numpy(), color="#b0b0b0", linewidth=0.7, alpha=0.7, zorder=1)
        ax.plot(e["time"], e["gap"], color="#1f4e79", linewidth=2.2, zorder=3,
                label=self.treated_name or str(self.treated_unit))
        ax.axhline(0, color="black", linewidth=0.8)
        ax.axvline(e["time"].iloc[self.n_pre], color="grey", linestyle=":", linewidth=1.5)
        ax.set_ylabel(f"gap in {self.outcome_label or self.outcome or 'outcome'}")
        ax.set_xlabel(self.period)
        ax.set_title(title or "Gap to the synthetic comparison" + (", placebos in grey" if placebos and
                                                                    self.placebo_gaps is not None else ""))
        return ax


# ---------------------------------------------------------------------------- input
def _time_key(value: Any, times: np.ndarray, arg: str) -> Any:
    if isinstance(times[0], (pd.Timestamp, np.datetime64)) or np.issubdtype(np.asarray(times).dtype, np.datetime64):
        try:
            return pd.Timestamp(value)
        except (TypeError, ValueError) as exc:
            raise InputError(f"{value!r} is not a date", field=arg, fix="give the first period of the change, e.g. '2021-04-01'") from exc
    if isinstance(value, str):
        try:
            return type(times[0].item() if hasattr(times[0], "item") else times[0])(value)
        except (TypeError, ValueError) as exc:
            raise InputError(f"{value!r} is not a period of the time column", field=arg,
                             fix="give start in the same form as the time column") from exc
    return value


def _build_panel(data: pd.DataFrame, outcome: str, unit: str, time: str, treated: Any, start: Any,
                 donors: Sequence[Any] | None, covariates: list[str], min_pre_periods: int,
                 ) -> tuple[np.ndarray, np.ndarray, list[Any], Any, np.ndarray, int, np.ndarray | None]:
    """Donor matrix, treated path, donor labels, treated label, periods, T0 and covariate array."""
    y = require_numeric(data, outcome, "outcome")
    ok = np.isfinite(y)
    units = data[unit].to_numpy()
    if pd.Series(units).isna().any():
        rows = list(data.index[pd.Series(units).isna().to_numpy()])
        raise InputError(f"column {unit!r} has missing unit ids", field="unit", rows=rows,
                         fix="give every row its authority")
    tcol = data[time]
    if tcol.isna().any():
        raise InputError(f"column {time!r} has missing periods", field="time", rows=list(data.index[tcol.isna()]),
                         fix="give every row its period")
    # the treated unit: a 0/1 column or a unit label
    if isinstance(treated, str) and treated in data.columns and treated not in set(units.tolist()):
        d = require_numeric(data, treated, "treated")
        tr_units = pd.unique(units[d == 1])
        if len(tr_units) != 1:
            raise InputError(
                f"column {treated!r} marks {len(tr_units)} units as treated; this design takes exactly one",
                field="treated", fix="evaluate one authority at a time (pass its id as treated=)")
        if start is None:
            start = tcol[(units == tr_units[0]) & (d == 1)].min()
        treated = tr_units[0]
    if start is None:
        raise InputError("start is required when treated names a unit", field="start",
                         fix="give the first period of the change, e.g. start='2021-04-01'")
    uniq_units = pd.unique(units)
    if treated not in set(uniq_units.tolist()):
        raise InputError(f"treated unit {treated!r} is not in column {unit!r}", field="treated",
                         fix=f"use one of the units in the data, e.g. {format_rows(uniq_units[:5].tolist(), 5)}")
    if donors is not None:
        donors = list(donors)
        if treated in donors:
            raise InputError(f"the treated unit {treated!r} is in its own donor pool", field="donors",
                             fix="remove it from the donor list")
        unknown = [d_ for d_ in donors if d_ not in set(uniq_units.tolist())]
        if unknown:
            raise InputError(f"donor(s) not found in column {unit!r}: {format_rows(unknown)}", field="donors",
                             fix="check the ids against the panel (statistical neighbours must be in the data)")
        if len(set(donors)) != len(donors):
            raise InputError("the donor list repeats a unit", field="donors", fix="list each donor once")
    else:
        donors = [u for u in sorted(uniq_units.tolist(), key=str) if u != treated]
    if len(donors) < 2:
        raise InputError(f"only {len(donors)} donor unit(s); at least 2 are needed", field="donors",
                         fix="add comparison authorities to the panel or the donor list")
    keep_units = set(donors) | {treated}
    sel = np.fromiter((u in keep_units for u in units), bool, len(units))
    frame = pd.DataFrame({"u": units[sel], "t": tcol.to_numpy()[sel], "y": y[sel]}, index=data.index[sel])
    dup = frame.duplicated(["u", "t"], keep=False).to_numpy()
    if dup.any():
        raise InputError(f"{int(dup.sum())} rows repeat a {unit} x {time} combination", field="time",
                         rows=list(frame.index[dup]), fix="keep one row per unit and period")
    frame = frame[ok[sel]]
    periods = np.sort(pd.unique(tcol.to_numpy()[sel]))
    start_key = _time_key(start, periods, "start")
    try:
        pre_mask = periods < start_key
    except TypeError as exc:
        raise InputError(f"start {start!r} cannot be compared with the periods in {time!r}", field="start",
                         fix="give start in the same form as the time column") from exc
    T0 = int(pre_mask.sum())
    if not pre_mask[:T0].all():  # pragma: no cover - sorted
        raise AssertionError
    order = [*donors, treated]
    wide = frame.pivot(index="u", columns="t", values="y").reindex(index=order, columns=periods)
    missing = wide.isna().to_numpy()
    if missing[:-1].any():
        bad = np.flatnonzero(missing[:-1].any(axis=1))
        desc = [f"{donors[i]} ({format_rows([_plain(p) for p in periods[missing[i]]], 3)})" for i in bad]
        raise InputError(
            f"{len(bad)} donor(s) lack an outcome in some periods: {format_rows(desc, 5)}",
            field="donors", rows=[donors[i] for i in bad],
            fix="the donor pool must be observed in every period: fill the gaps or drop these donors (donors=[...])")
    if missing[-1].any():
        raise InputError(
            f"the treated unit {treated!r} lacks an outcome in {format_rows([_plain(p) for p in periods[missing[-1]]])}",
            field="outcome", rows=[treated], fix="fill the missing periods or shorten the panel")
    if T0 < min_pre_periods:
        raise InputError(
            f"the treated unit has {T0} period(s) before start={_plain(start_key)}; at least {min_pre_periods} are needed "
            "for the weights to be learnt", field="start",
            fix="use a longer pre-period (earlier data) or another design")
    if T0 == len(periods):
        raise InputError(f"no period on or after start={_plain(start_key)}", field="start",
                         fix="start must fall inside the panel's periods")
    Y = wide.to_numpy(dtype=float)
    X = None
    if covariates:
        X = np.empty((len(order), len(periods), len(covariates)))
        for k, cov in enumerate(covariates):
            v = require_numeric(data, cov, "covariates")[sel]
            cw = pd.DataFrame({"u": units[sel], "t": tcol.to_numpy()[sel], "v": v}).pivot(
                index="u", columns="t", values="v").reindex(index=order, columns=periods)
            if cw.isna().to_numpy().any():
                raise InputError(f"covariate {cov!r} is missing for some unit-periods", field="covariates",
                                 fix="time-varying covariates must be complete in the panel")
            X[:, :, k] = cw.to_numpy()
    return Y[:-1], Y[-1], donors, treated, periods, T0, X


def _plain(p: Any) -> Any:
    if isinstance(p, (pd.Timestamp, np.datetime64)):
        return pd.Timestamp(p).date().isoformat()
    return p.item() if hasattr(p, "item") else p


def _adjust_covariates(Yd: np.ndarray, y1: np.ndarray, X: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Outcome less ``X beta``, beta from two-way fixed effects on the donors (Kranz 2022, projected)."""
    Xd = X[:-1]

    def demean(a: np.ndarray) -> np.ndarray:
        return a - a.mean(axis=0, keepdims=True) - a.mean(axis=1, keepdims=True) + a.mean(axis=(0, 1), keepdims=True)

    yy = demean(Yd).ravel()
    XX = np.stack([demean(Xd[:, :, k]).ravel() for k in range(X.shape[2])], axis=1)
    beta = np.linalg.lstsq(XX, yy, rcond=None)[0]
    return Yd - Xd @ beta, y1 - X[-1] @ beta, beta


# ---------------------------------------------------------------------------- estimator
def synthetic_control(
    data: pd.DataFrame,
    *,
    outcome: str,
    unit: str,
    time: str,
    treated: Any,
    start: Any = None,
    method: Method = "sdid",
    donors: Sequence[Any] | None = None,
    covariates: str | Sequence[str] | None = None,
    inference: Literal["placebo", "none"] = "placebo",
    seed: int | None = None,
    replications: int | None = None,
    solver: Solver = "qp",
    level: float = 0.95,
    names: Mapping[Any, str] | None = None,
    on_poor_fit: Literal["warn", "raise"] = "warn",
    min_pre_periods: int = MIN_PRE_PERIODS,
    outcome_label: str | None = None,
    scale: OutcomeScale = "continuous",
    unit_label: str | None = None,
    period: str | None = None,
    synthetic: bool = False,
) -> SyntheticControlResult:
    """Synthetic control, synthetic DiD or DiD for one treated authority against a donor pool.

    Parameters
    ----------
    data : DataFrame
        Long panel: one row per authority and period.
    outcome, unit, time : str
        Columns: the outcome, the authority id and the period (numbers or dates).
    treated : str or label
        The treated authority's id in ``unit``; or a 0/1 column marking its treated periods
        (then ``start`` defaults to its first treated period).
    start : period
        First period of the change (in the form of ``time``); periods before it are the pre-period.
    method : {"sdid", "sc", "did"}
        Synthetic DiD (unit and time weights, level gap allowed), synthetic control (unit
        weights, no level gap), or equal-weight DiD.
    donors : list, optional
        Comparison authorities (e.g. CIPFA statistical neighbours); default every other unit.
    covariates : str or list, optional
        Time-varying numeric covariates; the outcome is first adjusted by ``X beta`` with
        beta from a two-way fixed-effects regression on the donors (Kranz 2022's projected
        approach).
    inference : {"placebo", "none"}
        ``"placebo"``: refit with each donor treated in turn, giving the placebo SE (Algorithm 4
        of Arkhangelsky et al.), the normal interval and the placebo-in-space p-value.
    seed : int, optional
        Seeds the draws when ``replications`` is given.
    replications : int, optional
        Draw this many placebo replications as ``synthdid`` does (it uses 200); default: every
        donor once, the limit of the draws.
    solver : {"qp", "frank-wolfe"}
        Exact QP on the simplex, or ``synthdid``'s stopped Frank-Wolfe for reproduction.
    level : float, default 0.95
    names : mapping, optional
        Unit id -> name for the weights table and the headline ("Wokingham 41%").
    on_poor_fit : {"warn", "raise"}
        What a poor pre-period fit does: ``diagnostics["poor_fit"]`` and a warning in words,
        or an :class:`InputError`.
    min_pre_periods : int, default 5
    outcome_label, scale, unit_label, period : optional
        Words for the headline; ``period`` names one time step ("month").
    synthetic : bool, default False
        True when the data are synthetic.

    Returns
    -------
    SyntheticControlResult
        ``estimate`` is the ATT averaged over the post period; ``pvalue`` the placebo-in-space
        p-value (rank of the post/pre RMSPE ratio); ``se``/``ci`` from the placebo SE.

    Raises
    ------
    InputError
        Missing columns, the treated unit unknown or in its own donor pool, unknown donors,
        donors with missing periods (named), too few pre-periods, too few donors, and a poor
        fit when ``on_poor_fit="raise"``.

    Notes
    -----
    The weights, solvers and inference are described in the module docstring
    (:mod:`ehimpact.estimators.synthetic_control`).  On California's Proposition 99
    (``tests/test_synthetic_control.py``) ``solver="frank-wolfe"`` gives -15.6, -19.6 and -27.3, the
    published Table 1 figures, and equals synthdid-py 0.1.0's estimates, weights and placebo
    estimates to 1e-6; the exact QP gives -15.6, -19.5 and -27.3 (see the module docstring for why
    SC differs).

    Simulation (``tests/test_synthetic_control_sim.py``, 400 panels of 20-150 authorities and
    48-96 months, unit and month effects, two factors, AR(1) errors rho 0.5, planted effect -2):
    bias SDID -0.021, SC -0.005; the 5% placebo test rejected 3.25% of panels without an effect;
    SDID's 95% interval covered 93.5%.

    Examples
    --------
    >>> df, kw = _example()
    >>> est = synthetic_control(df, **kw)
    >>> round(est.estimate, 1)
    -4.9
    """
    data = require_frame(data)
    covs = as_list(covariates)
    require_columns(data, {"outcome": outcome, "unit": unit, "time": time, "covariates": covs})
    if method not in ("sdid", "sc", "did"):
        raise InputError(f"unknown method {method!r}", field="method", fix="use 'sdid', 'sc' or 'did'")
    if solver not in ("qp", "frank-wolfe"):
        raise InputError(f"unknown solver {solver!r}", field="solver", fix="use 'qp' or 'frank-wolfe'")
    if inference not in ("placebo", "none"):
        raise InputError(f"unknown inference {inference!r}", field="inference", fix="use 'placebo' or 'none'")
    if on_poor_fit not in ("warn", "raise"):
        raise InputError(f"unknown on_poor_fit {on_poor_fit!r}", field="on_poor_fit", fix="use 'warn' or 'raise'")
    Yd, y1, donor_ids, tr, periods, T0, X = _build_panel(
        data, outcome, unit, time, treated, start, donors, covs, min_pre_periods)
    beta = None
    if X is not None:
        Yd, y1, beta = _adjust_covariates(Yd, y1, X)
    N0, T = Yd.shape
    T1 = T - T0
    noise = _noise_level(Yd, T0)
    if method == "sdid":
        zeta_omega = (1 * T1) ** 0.25 * noise
    else:
        zeta_omega = 1e-6 * noise
    zeta_lambda = 1e-6 * noise
    import scipy.linalg  # noqa: F401 - loaded before the limit, or its BLAS would escape it
    from threadpoolctl import threadpool_limits

    # many small dense solves: one BLAS thread is several times faster than a contended pool
    blas_one = threadpool_limits(limits=1, user_api="blas")
    try:
        fit = _fit_one(Yd, y1, T0, method, zeta_omega, zeta_lambda, solver, noise)
        placebo_fit = (_placebo_fits(Yd, T0, method, zeta_omega, zeta_lambda, solver, noise, fit)
                       if inference == "placebo" else None)
    finally:
        blas_one.restore_original_limits()
    rm_pre, rm_post = (float(v) for v in _rmspe(fit.gap, T0, method))
    ratio = rm_post / rm_pre if rm_pre > 0 else math.inf

    names = {k: str(v) for k, v in (names or {}).items()}
    diag: dict[str, Any] = {"noise_level": noise, "zeta_omega": zeta_omega, "zeta_lambda": zeta_lambda,
                            "effective_donors": float(1 / np.sum(fit.omega**2)),
                            "effective_pre_periods": float(1 / np.sum(fit.lam**2)) if fit.lam.sum() > 0 else 0.0}
    if beta is not None:
        diag["covariate_coefficients"] = dict(zip(covs, beta.tolist(), strict=False))
    warnings: list[str] = []
    # fit check
    pre_tr = y1[:T0]
    sd_pre = float(pre_tr.std(ddof=1)) if T0 > 1 else math.nan
    above = (pre_tr > Yd[:, :T0].max(axis=0)).all()
    below = (pre_tr < Yd[:, :T0].min(axis=0)).all()
    poor = bool(rm_pre > sd_pre) or (method == "sc" and bool(above or below))
    diag["pre_sd_treated"] = sd_pre
    diag["outside_donor_range"] = bool(above or below)
    diag["poor_fit"] = poor
    if poor:
        if method == "sc" and (above or below):
            why = (f"the treated authority's outcome was {'above' if above else 'below'} every donor's in every "
                   "period before the change, so no weighted average of donors can match it")
        else:
            why = (f"the synthetic comparison misses the treated authority's pre-period series by {rm_pre:,.3g} on "
                   f"average (RMSPE), more than the series' own spread ({sd_pre:,.3g})")
        msg = (f"Poor pre-period fit: {why}. The comparison is not credible and this design should not be "
               "relied on for this authority; "
               + ("try method='sdid', which allows a constant level gap, or " if method == "sc" else "")
               + "use another design or a different donor pool.")
        diag["fit_warning"] = msg
        if on_poor_fit == "raise":
            raise InputError(msg, field="outcome", rows=[tr], fix="use another design or donor pool, or pass on_poor_fit='warn'")
        warnings.append(msg)

    se = math.nan
    ci = (math.nan, math.nan)
    pvalue = math.nan
    rank = 0
    placebos = placebo_gaps = None
    if inference == "placebo":
        assert placebo_fit is not None
        taus, gaps = placebo_fit
        p_pre, p_post = _rmspe(gaps, T0, method)
        with np.errstate(divide="ignore", invalid="ignore"):
            p_ratio = np.where(p_pre > 0, p_post / p_pre, np.inf)
        if replications is None:
            se = float(np.sqrt(np.mean((taus - taus.mean()) ** 2)))
            se_words = f"placebo SE over all {N0} donors"
        else:
            rng = np.random.default_rng(seed)
            draws = taus[rng.integers(0, N0, int(replications))]
            se = float(np.sqrt((replications - 1) / replications) * draws.std(ddof=1))
            se_words = f"placebo SE from {replications} draws"
        ci, p_normal = normal_ci(fit.tau, se, level)  # the one Wald interval
        rank = int(1 + np.sum(p_ratio >= ratio))
        pvalue = rank / (N0 + 1)
        diag["pvalue_normal"] = float(p_normal) if se > 0 else math.nan
        diag["placebo_se_all_donors"] = float(np.sqrt(np.mean((taus - taus.mean()) ** 2)))
        placebos = pd.DataFrame({"donor": donor_ids, "estimate": taus, "rmspe_pre": p_pre, "rmspe_post": p_post,
                                 "ratio": p_ratio})
        if names:
            placebos.insert(1, "name", [names.get(str(d_), str(d_)) for d_ in donor_ids])
        placebo_gaps = pd.DataFrame(gaps.T, index=pd.Index(periods, name="time"),
                                    columns=[str(d_) for d_ in donor_ids])
        if N0 + 1 < 20:
            warnings.append(f"With {N0} donors the placebo p-value cannot be below {1 / (N0 + 1):.2f}.")
    else:
        se_words = "no inference"

    weights = pd.DataFrame({"donor": donor_ids, "weight": fit.omega})
    if names:
        weights["name"] = [names.get(str(d_), str(d_)) for d_ in donor_ids]
    weights = weights.sort_values("weight", ascending=False, kind="stable").reset_index(drop=True)
    time_weights = None if method == "sc" else pd.DataFrame({"time": periods[:T0], "weight": fit.lam})
    effects = pd.DataFrame({"time": periods, "treated": y1, "synthetic": fit.synthetic, "gap": fit.gap,
                            "post": np.arange(T) >= T0})
    solver_words = "exact QP on the simplex" if solver == "qp" else "synthdid's Frank-Wolfe"
    freq = period or _period_word(periods)
    return SyntheticControlResult(
        estimate=fit.tau, se=se, ci=ci, pvalue=pvalue, estimand="ATT",
        method=f"{_METHOD_WORDS[method]}; weights by {solver_words}; {se_words}; placebo-in-space p-value",
        n_treated=1, n_control=N0, diagnostics=diag, outcome=outcome, outcome_label=outcome_label,
        subject=str(names.get(str(tr), tr)), scale=scale, unit=unit_label, level=level, warnings=warnings,
        synthetic=synthetic, units="authorities", effects=effects, weights=weights, time_weights=time_weights,
        placebos=placebos, placebo_gaps=placebo_gaps, treated_unit=tr,
        treated_name=names.get(str(tr), str(tr)), start=_plain(periods[T0]), design=method, solver=solver,
        rmspe_pre=rm_pre, rmspe_post=rm_post, rmspe_ratio=ratio, rank=rank, n_pre=T0, n_post=T1,
        period=freq, names=names,
    )


def _period_word(periods: np.ndarray) -> str:
    if np.issubdtype(np.asarray(periods).dtype, np.datetime64) and len(periods) > 2:
        days = float(np.median(np.diff(periods).astype("timedelta64[D]").astype(float)))
        for word, d in (("day", 1), ("week", 7), ("month", 30.4), ("quarter", 91.3), ("year", 365.2)):
            if abs(days - d) / d < 0.15:
                return word
    return "period"


def _example() -> tuple[pd.DataFrame, dict[str, Any]]:
    rng = np.random.default_rng(11)
    n_units, n_t, t0 = 16, 48, 36
    factor = np.cumsum(rng.normal(0, 1, n_t))
    load = rng.uniform(0.5, 1.5, n_units)
    y = (50 + rng.normal(0, 5, n_units)[:, None] + 0.1 * np.arange(n_t)[None, :] + load[:, None] * factor[None, :]
         + rng.normal(0, 1, (n_units, n_t)))
    y[0, t0:] -= 5.0
    ids = [f"A{i:02d}" for i in range(n_units)]
    df = pd.DataFrame({"authority": np.repeat(ids, n_t),
                       "month": np.tile(pd.date_range("2018-01-01", periods=n_t, freq="MS"), n_units),
                       "rate": y.ravel()})
    return df, {"outcome": "rate", "unit": "authority", "time": "month", "treated": "A00", "start": "2021-01-01"}


SYNTHETIC_CONTROL_SPEC = EstimatorSpec(
    name="synthetic_control",
    func=synthetic_control,
    roles=("outcome", "unit", "time", "treated"),
    example=_example,
    description="Synthetic control / synthetic DiD for one authority against its donors (Arkhangelsky et al. 2021)",
    data_level="panel",
    scope="authority",
    rationale=("The authority's monthly series is compared with a weighted combination of comparison authorities "
               "(its statistical neighbours, or the other authorities in the panel that did not make the change) "
               "whose path before the change matched its own: synthetic difference-in-differences (Arkhangelsky "
               "et al. 2021) or the synthetic control (Abadie et al. 2010). It relies on no other change hitting "
               "this authority alone at the same time, and on the comparison fitting well before the change."),
    report_hooks={6: "ehimpact.report.synthetic_control_report:step6",
                  7: "ehimpact.report.synthetic_control_report:step7",
                  8: "ehimpact.report.synthetic_control_report:step8"},
    diagnostics=('poor_fit',),
)
