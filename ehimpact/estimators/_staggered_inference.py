"""Influence functions of group-time ATTs and their aggregations: variances and multiplier bootstrap.

Two representations of the ``n_units x m`` influence-function matrix share one interface:

* :class:`LinearIF` -- for a balanced panel without covariates every column is, for a unit
  ``i`` of cohort ``k``, ``w_i * (Y_i @ A[k] + B[k]) + D``: linear in the unit's outcome
  row.  Variances then need only per-cohort Gram matrices of ``[w*Y, w, 1]`` and each
  bootstrap draw costs ``n x (T + 2)`` multiply-adds however many cells and aggregations
  there are.  No ``n x m`` matrix is ever formed.
* :class:`DenseIF` -- the explicit matrix, for covariates and repeated cross-sections.

Aggregations are linear maps of the cell columns plus the estimation effect of the
cohort-share weights (``w_i * alpha[k_i]``), so both classes implement :meth:`extend`.
Clustering sums influence functions within clusters (Callaway & Sant'Anna 2021, sec. 4.1).
"""

from __future__ import annotations

import numpy as np
from scipy import sparse, stats

__all__ = ["LinearIF", "DenseIF", "multiplier_draws", "bootstrap_summary"]

_MAMMEN_P = (np.sqrt(5) + 1) / (2 * np.sqrt(5))
_MAMMEN_LO, _MAMMEN_HI = (1 - np.sqrt(5)) / 2, (1 + np.sqrt(5)) / 2


def multiplier_draws(rng: np.random.Generator, shape: tuple[int, int], kind: str) -> np.ndarray:
    """Mean-zero, unit-variance multiplier weights (``"rademacher"`` or ``"mammen"``).

    Drawn from random bits (Rademacher) or uniforms (Mammen) in float32-free float64 blocks.
    """
    if kind == "rademacher":
        nbits = shape[0] * shape[1]
        bits = np.unpackbits(rng.integers(0, 256, size=(nbits + 7) // 8, dtype=np.uint8))[:nbits]
        return (bits.astype(np.float64) * 2.0 - 1.0).reshape(shape)
    u = rng.random(shape)
    return np.where(u < _MAMMEN_P, _MAMMEN_LO, _MAMMEN_HI)


def _cluster_matrix(codes: np.ndarray, n_clusters: int) -> sparse.csr_matrix:
    n = len(codes)
    return sparse.csr_matrix((np.ones(n), (codes, np.arange(n))), shape=(n_clusters, n))


class LinearIF:
    """Influence functions linear in each unit's outcome row (balanced panel, no covariates).

    Parameters
    ----------
    Y : ndarray (n, T)
        Outcomes, centred by column.
    w : ndarray (n,)
        Unit weights (mean 1).
    cohort : ndarray (n,)
        Cohort code of each unit, ``0..K-1``.
    A : ndarray (K, T, m), B : ndarray (K, m), D : ndarray (m,)
        Coefficients: ``IF[i, j] = w_i * (Y_i @ A[k_i, :, j] + B[k_i, j]) + D[j]``.
    """

    def __init__(self, Y, w, cohort, A, B, D):
        self.Y, self.w, self.cohort = Y, w, cohort
        self.A, self.B, self.D = A, B, D
        self.n = Y.shape[0]
        K = A.shape[0]
        self._rows = [np.flatnonzero(cohort == k) for k in range(K)]
        self._gram = None

    @property
    def m(self) -> int:
        return self.D.shape[0]

    def _features(self, k: int) -> np.ndarray:
        idx = self._rows[k]
        wk = self.w[idx]
        return np.column_stack([self.Y[idx] * wk[:, None], wk, np.ones(len(idx))])

    def _coef(self, k: int) -> np.ndarray:
        return np.vstack([self.A[k], self.B[k][None, :], self.D[None, :]])

    def extend(self, W: np.ndarray, alpha: np.ndarray) -> None:
        """Append columns ``IF @ W + w * alpha[cohort]`` (``W``: m x q, ``alpha``: K x q)."""
        self.A = np.concatenate([self.A, np.einsum("ktm,mq->ktq", self.A, W)], axis=2)
        self.B = np.concatenate([self.B, self.B @ W + alpha], axis=1)
        self.D = np.concatenate([self.D, self.D @ W])

    def cluster_sums(self, codes: np.ndarray, n_clusters: int) -> np.ndarray:
        """Influence functions summed within clusters: ``n_clusters x m``."""
        out = np.zeros((n_clusters, self.m))
        for k, idx in enumerate(self._rows):
            if len(idx):
                S = _cluster_matrix(codes[idx], n_clusters)
                out += (S @ self._features(k)) @ self._coef(k)
        return out

    def cov(self, cols: np.ndarray | None = None, cluster: tuple[np.ndarray, int] | None = None) -> np.ndarray:
        """Sum of outer products of influence functions (over units or clusters), columns ``cols``."""
        cols = np.arange(self.m) if cols is None else cols
        if cluster is not None:
            S = self.cluster_sums(*cluster)[:, cols]
            return S.T @ S
        if self._gram is None:
            self._gram = [self._features(k).T @ self._features(k) for k in range(len(self._rows))]
        out = np.zeros((len(cols), len(cols)))
        for k, G in enumerate(self._gram):
            C = self._coef(k)[:, cols]
            out += C.T @ G @ C
        return out

    def var(self, cluster=None) -> np.ndarray:
        """Diagonal of :meth:`cov` for every column, without forming the full matrix."""
        if cluster is not None:
            S = self.cluster_sums(*cluster)
            return np.sum(S * S, axis=0)
        if self._gram is None:
            self._gram = [self._features(k).T @ self._features(k) for k in range(len(self._rows))]
        out = np.zeros(self.m)
        for k, G in enumerate(self._gram):
            C = self._coef(k)
            out += np.sum((G @ C) * C, axis=0)
        return out

    def bootstrap(self, draws: int, rng: np.random.Generator, kind: str, cluster=None,
                  block: int = 100) -> np.ndarray:
        """``draws x m`` bootstrap deviations ``(1/n) sum_i v_i IF_i`` (one multiplier per unit or cluster)."""
        if cluster is not None:
            return _boot_dense(self.cluster_sums(*cluster), self.n, draws, rng, kind, block)
        out = np.empty((draws, self.m))
        feats = [self._features(k) for k in range(len(self._rows))]
        coefs = [self._coef(k) for k in range(len(self._rows))]
        for start in range(0, draws, block):
            b = min(block, draws - start)
            acc = np.zeros((b, self.m))
            for F, C in zip(feats, coefs, strict=True):
                if len(F):
                    acc += (multiplier_draws(rng, (b, len(F)), kind) @ F) @ C
            out[start:start + b] = acc / self.n
        return out


class DenseIF:
    """The explicit ``n x m`` influence-function matrix (covariates, repeated cross-sections)."""

    def __init__(self, IF: np.ndarray, w: np.ndarray, cohort: np.ndarray):
        self.IF, self.w, self.cohort = IF, w, cohort
        self.n = IF.shape[0]

    @property
    def m(self) -> int:
        return self.IF.shape[1]

    def extend(self, W: np.ndarray, alpha: np.ndarray) -> None:
        """Append columns ``IF @ W + w * alpha[cohort]``."""
        self.IF = np.hstack([self.IF, self.IF @ W + self.w[:, None] * alpha[self.cohort]])

    def cluster_sums(self, codes: np.ndarray, n_clusters: int) -> np.ndarray:
        return _cluster_matrix(codes, n_clusters) @ self.IF

    def cov(self, cols=None, cluster=None) -> np.ndarray:
        M = self.cluster_sums(*cluster) if cluster is not None else self.IF
        M = M if cols is None else M[:, cols]
        return M.T @ M

    def var(self, cluster=None) -> np.ndarray:
        M = self.cluster_sums(*cluster) if cluster is not None else self.IF
        return np.sum(M * M, axis=0)

    def bootstrap(self, draws, rng, kind, cluster=None, block: int = 100) -> np.ndarray:
        M = self.cluster_sums(*cluster) if cluster is not None else self.IF
        return _boot_dense(M, self.n, draws, rng, kind, block)


def _boot_dense(M: np.ndarray, n: int, draws: int, rng, kind: str, block: int) -> np.ndarray:
    out = np.empty((draws, M.shape[1]))
    for start in range(0, draws, block):
        b = min(block, draws - start)
        out[start:start + b] = (multiplier_draws(rng, (b, M.shape[0]), kind) @ M) / n
    return out


def bootstrap_summary(boot: np.ndarray, level: float, groups: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """Bootstrap standard errors and sup-t critical values.

    Standard errors use the interquartile range of the draws divided by that of the normal
    (robust to a few wild draws, as R's did).  For each index set in ``groups`` the
    critical value is the ``level`` quantile of ``max_j |boot_j| / se_j`` over the set
    (columns with zero spread are left out).

    Returns
    -------
    (se, crit) : ndarrays of length ``m`` (``crit`` is per column, from its group)
    """
    q75, q25 = np.quantile(boot, [0.75, 0.25], axis=0)
    se = (q75 - q25) / (stats.norm.ppf(0.75) - stats.norm.ppf(0.25))
    crit = np.full(boot.shape[1], np.nan)
    for cols in groups:
        cols = np.asarray(cols)
        ok = cols[se[cols] > 1e-12 * max(1.0, float(np.nanmax(np.abs(se[cols])) if len(cols) else 1.0))]
        if len(ok) == 0:
            continue
        t = np.max(np.abs(boot[:, ok]) / se[ok], axis=1)
        crit[cols] = float(np.quantile(t, level))
    se = np.where(se > 0, se, np.nan)
    return se, crit
