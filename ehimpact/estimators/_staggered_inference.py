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
Clustering sums influence functions within clusters (Callaway & Sant'Anna 2021, Remark 10):
``se = sqrt(sum_c S_c**2) / n`` with ``S_c`` the cluster sum, as R did's ``mboot.R`` does now
(``rowsum(inf.func, cluster)``; bcallaway11/did commit 0867d6c).  Earlier did releases divided
each sum by the cluster's size (commit 920e19e); the two agree only for equal-sized clusters.
"""

from __future__ import annotations

import numpy as np
from scipy import sparse, stats

__all__ = ["LinearIF", "DenseIF", "multiplier_sums", "bootstrap_summary"]

_MAMMEN_LO, _MAMMEN_HI = (1 - np.sqrt(5)) / 2, (1 + np.sqrt(5)) / 2
# P(Mammen weight = _MAMMEN_HI) = (5 - sqrt 5) / 10 = 0.27639320225002103... = (70 + r) / 256
# with r = 0.7551...: a uniform random byte below 70 gives the high value, above it the
# low one, and the 1-in-256 ties compare further uniform bytes with r's base-256 digits
# (computed with decimal at 50 digits).  Exact to 2**-64, finer than a float64 uniform,
# for about 8 random bits per multiplier.
_MAMMEN_BYTE = 70
_MAMMEN_TIE_DIGITS = (193, 180, 116, 128, 36, 77, 149)
# Byte -> its 8 bits as float32 (Rademacher: one random bit per multiplier).
_BITS_F32 = np.unpackbits(np.arange(256, dtype=np.uint8)[:, None], axis=1).astype(np.float32)
# Multipliers generated per block: 2**20 float32 = 4 MB, so a block stays in cache between
# being drawn and being multiplied.
_BLOCK = 1 << 20


def _two_point(kind: str) -> tuple[float, float]:
    """Low and high values of the multiplier distribution (mean 0, variance 1)."""
    if kind == "rademacher":
        return -1.0, 1.0
    if kind == "mammen":
        return float(_MAMMEN_LO), float(_MAMMEN_HI)
    raise ValueError(f"unknown multiplier distribution {kind!r}")  # pragma: no cover - validated by caller


def _high_indicators(rng: np.random.Generator, out: np.ndarray, kind: str) -> np.ndarray:
    """Fill float32 ``out`` with independent 0/1 indicators of drawing the high value.

    Rademacher: one random bit each.  Mammen: one random byte each, compared with the
    probability's first base-256 digit; the 1-in-256 ties are settled by further bytes.
    """
    size = out.shape[0]
    if kind == "rademacher":
        nbytes = (size + 7) // 8
        bits = _random_bytes(rng, nbytes)
        if size % 8 == 0:
            np.take(_BITS_F32, bits, axis=0, out=out.reshape(nbytes, 8))
        else:
            out[:] = _BITS_F32[bits].ravel()[:size]
        return out
    u = _random_bytes(rng, size)
    np.less(u, _MAMMEN_BYTE, out=out, casting="unsafe")
    tie = np.flatnonzero(u == _MAMMEN_BYTE)
    for digit in _MAMMEN_TIE_DIGITS:
        if tie.size == 0:
            break
        v = _random_bytes(rng, tie.size)
        out[tie[v < digit]] = 1.0
        tie = tie[v == digit]
    return out


def _random_bytes(rng: np.random.Generator, nbytes: int) -> np.ndarray:
    """``nbytes`` uniform random bytes straight from the bit generator (deterministic by seed)."""
    return rng.bit_generator.random_raw((nbytes + 7) // 8).view(np.uint8)[:nbytes]


def multiplier_sums(F: np.ndarray, draws: int, rng: np.random.Generator, kind: str) -> np.ndarray:
    """``V @ F`` for a ``draws x n`` matrix ``V`` of independent multipliers, never formed in full.

    Parameters
    ----------
    F : ndarray (n, p)
        Rows to weight (e.g. each unit's influence-function features).
    draws : int
        Number of bootstrap draws (rows of the result).
    rng : numpy Generator
        Source of randomness; the result is a deterministic function of its state.
    kind : {"mammen", "rademacher"}
        Two-point multiplier distribution, ``v = lo + (hi - lo) * b`` with ``b`` Bernoulli.

    Returns
    -------
    ndarray (draws, p)

    Notes
    -----
    With ``F`` centred by column (``Fc = F - Fbar``),
    ``sum_i v_i F_i = (hi - lo) * sum_i b_i Fc_i + Fbar * (n lo + (hi - lo) sum_i b_i)``:
    only the 0/1 indicators ``b`` are needed.  They are drawn in cache-sized blocks as
    float32 (one random bit per Rademacher multiplier, about 8 per Mammen one)
    and multiplied by ``[Fc, 1]`` in float32 with one BLAS call per block.  Centring keeps
    the float32 sums free of cancellation (relative error ~1e-6, far below the bootstrap's
    Monte Carlo error).  BLAS is held to one thread: the product is memory-bound, and a
    second thread only contends on a shared machine.
    """
    from threadpoolctl import threadpool_limits

    F = np.asarray(F, dtype=np.float64)
    n, p = F.shape
    lo, hi = _two_point(kind)
    out = np.zeros((draws, p))
    if n == 0:
        return out
    fbar = F.mean(axis=0)
    Fc = F - fbar
    live = np.flatnonzero(np.any(Fc != 0, axis=0))  # e.g. a constant weight column centres to 0
    q = len(live)
    G = np.empty((n, q + 1), dtype=np.float32)
    G[:, :q] = Fc[:, live]
    G[:, q] = 1.0  # the product's last column counts the high draws
    del Fc
    exact_counts = n < (1 << 24)  # float32 sums of ones are exact below 2**24
    rows = max(1, min(draws, _BLOCK // n))
    buf = np.empty(rows * n, dtype=np.float32)
    with threadpool_limits(limits=1, user_api="blas"):
        for start in range(0, draws, rows):
            r = min(rows, draws - start)
            b = _high_indicators(rng, buf[: r * n], kind).reshape(r, n)
            H = (b @ G).astype(np.float64)
            count = H[:, q] if exact_counts else b.sum(axis=1, dtype=np.float64)
            block = out[start:start + r]
            block[:, live] = (hi - lo) * H[:, :q]
            block += (n * lo + (hi - lo) * count)[:, None] * fbar
    return out


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
        self._feats: list[np.ndarray | None] = [None] * K

    @property
    def m(self) -> int:
        return self.D.shape[0]

    def _features(self, k: int) -> np.ndarray:
        """``[w*Y, w, 1]`` for the units of cohort ``k`` (built once, then reused)."""
        if self._feats[k] is None:
            idx = self._rows[k]
            F = np.empty((len(idx), self.Y.shape[1] + 2))
            np.multiply(self.Y[idx], self.w[idx, None], out=F[:, :-2])
            F[:, -2] = self.w[idx]
            F[:, -1] = 1.0
            self._feats[k] = F
        return self._feats[k]

    def _grams(self) -> list[np.ndarray]:
        if self._gram is None:
            self._gram = [self._features(k).T @ self._features(k) for k in range(len(self._rows))]
        return self._gram

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
        out = np.zeros((len(cols), len(cols)))
        for k, G in enumerate(self._grams()):
            C = self._coef(k)[:, cols]
            out += C.T @ G @ C
        return out

    def var(self, cluster=None) -> np.ndarray:
        """Diagonal of :meth:`cov` for every column, without forming the full matrix."""
        if cluster is not None:
            S = self.cluster_sums(*cluster)
            return np.sum(S * S, axis=0)
        out = np.zeros(self.m)
        for k, G in enumerate(self._grams()):
            C = self._coef(k)
            out += np.sum((G @ C) * C, axis=0)
        return out

    def bootstrap(self, draws: int, rng: np.random.Generator, kind: str, cluster=None) -> np.ndarray:
        """``draws x m`` bootstrap deviations ``(1/n) sum_i v_i IF_i`` (one multiplier per unit or cluster).

        Per cohort, the multipliers weight the ``n_k x (T + 2)`` features and the result is
        mapped to all ``m`` columns by the cohort's coefficients, so the cost is
        ``draws x n x (T + 2)`` however many cells and aggregations there are.
        """
        if cluster is not None:
            return _boot_dense(self.cluster_sums(*cluster), self.n, draws, rng, kind)
        out = np.zeros((draws, self.m))
        for k in range(len(self._rows)):
            if len(self._rows[k]):
                out += multiplier_sums(self._features(k), draws, rng, kind) @ self._coef(k)
        return out / self.n


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

    def bootstrap(self, draws: int, rng: np.random.Generator, kind: str, cluster=None) -> np.ndarray:
        """``draws x m`` bootstrap deviations (one multiplier per unit or cluster)."""
        M = self.cluster_sums(*cluster) if cluster is not None else self.IF
        return _boot_dense(M, self.n, draws, rng, kind)


def _boot_dense(M: np.ndarray, n: int, draws: int, rng: np.random.Generator, kind: str) -> np.ndarray:
    return multiplier_sums(M, draws, rng, kind) / n


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
