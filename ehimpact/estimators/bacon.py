"""Goodman-Bacon decomposition of the two-way fixed effects DiD estimate.

With staggered adoption the TWFE coefficient on a 0/1 treatment is a weighted average of
every 2x2 difference-in-differences that can be built from the timing groups
(Goodman-Bacon 2021, *Journal of Econometrics* 225(2), Theorem 1).  Some of those 2x2s use
already-treated units as controls ("later vs earlier treated"); when effects grow over
time they are biased, which is why the report shows this decomposition whenever adoption
is staggered and points to :func:`ehimpact.staggered_did`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from ehimpact.errors import InputError
from ehimpact.estimators.checks import (
    require_binary,
    require_columns,
    require_complete,
    require_frame,
    require_numeric,
)
from ehimpact.estimators.result import json_safe

if TYPE_CHECKING:
    from matplotlib.axes import Axes

__all__ = ["BaconDecomposition", "goodman_bacon", "COMPARISON_TYPES"]

EARLY_VS_LATE = "earlier vs later treated"
LATE_VS_EARLY = "later vs earlier treated"
VS_NEVER = "treated vs never treated"
VS_ALWAYS = "treated vs always treated"
#: every comparison type, in the order tables list them
COMPARISON_TYPES = (EARLY_VS_LATE, LATE_VS_EARLY, VS_NEVER, VS_ALWAYS)
#: types whose control group is already treated (biased when effects change over time)
FORBIDDEN = (LATE_VS_EARLY, VS_ALWAYS)


@dataclass(eq=False)
class BaconDecomposition:
    """The 2x2 comparisons behind a TWFE estimate, their weights and estimates.

    Attributes
    ----------
    comparisons : DataFrame
        One row per 2x2: ``treated`` and ``control`` (timing groups, the first treated period;
        ``"never"``/``"always"`` for those groups), ``type`` (one of
        :data:`COMPARISON_TYPES`), ``estimate`` (the 2x2 DiD), ``weight`` (summing to 1),
        ``n_treated_units``, ``n_control_units``.
    twfe_estimate : float
        The TWFE coefficient from the two-way within regression on the same data; equals
        ``(comparisons.weight * comparisons.estimate).sum()``.
    outcome, treatment : str
        Column names.
    """

    comparisons: pd.DataFrame
    twfe_estimate: float
    outcome: str = ""
    treatment: str = ""
    notes: list[str] = field(default_factory=list)

    @property
    def weighted_sum(self) -> float:
        """Sum of weight x 2x2 estimate over all comparisons (reproduces the TWFE estimate)."""
        c = self.comparisons
        return float((c["weight"] * c["estimate"]).sum())

    @property
    def forbidden_weight(self) -> float:
        """Total weight on comparisons whose controls are already treated."""
        c = self.comparisons
        return float(c.loc[c["type"].isin(FORBIDDEN), "weight"].sum())

    def by_type(self) -> pd.DataFrame:
        """Weight and weighted-average 2x2 estimate by comparison type.

        Returns
        -------
        DataFrame
            Columns ``type, weight, avg_estimate, n_comparisons`` (as R bacondecomp prints).
        """
        c = self.comparisons
        rows = []
        for kind in COMPARISON_TYPES:
            part = c[c["type"] == kind]
            if len(part) == 0:
                continue
            w = float(part["weight"].sum())
            avg = float((part["weight"] * part["estimate"]).sum() / w) if w > 0 else float("nan")
            rows.append({"type": kind, "weight": w, "avg_estimate": avg, "n_comparisons": len(part)})
        return pd.DataFrame(rows)

    def table(self) -> pd.DataFrame:
        """All comparisons (a copy of :attr:`comparisons`)."""
        return self.comparisons.copy()

    def summary(self) -> str:
        """Plain-words reading: how much weight rests on already-treated controls."""
        share = self.forbidden_weight
        lines = [
            f"The two-way fixed effects estimate {self.twfe_estimate:.4g} is a weighted average of "
            f"{len(self.comparisons)} two-group, two-period comparisons.",
            f"{100 * share:.0f}% of the weight is on comparisons that use already-treated units as "
            "controls; if effects change over time these are biased, so prefer staggered_did.",
        ]
        return "\n".join(lines)

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe dictionary (comparisons as records, the summary by type, the TWFE estimate)."""
        return json_safe({
            "twfe_estimate": self.twfe_estimate,
            "weighted_sum": self.weighted_sum,
            "forbidden_weight": self.forbidden_weight,
            "by_type": self.by_type(),
            "comparisons": self.comparisons,
            "notes": self.notes,
        })

    def plot(self, ax: Axes | None = None, *, title: str | None = None) -> Axes:
        """Goodman-Bacon scatter: each 2x2's weight (x) against its estimate (y), by type.

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
            _, ax = plt.subplots(figsize=(6.5, 4.2))
        styles = {EARLY_VS_LATE: ("o", "#1f4e79"), LATE_VS_EARLY: ("^", "#c0392b"),
                  VS_NEVER: ("s", "#2e8b57"), VS_ALWAYS: ("D", "#8e44ad")}
        c = self.comparisons
        for kind in COMPARISON_TYPES:
            part = c[c["type"] == kind]
            if len(part):
                marker, colour = styles[kind]
                ax.scatter(part["weight"], part["estimate"], marker=marker, color=colour,
                           label=kind, alpha=0.85, edgecolor="white", linewidth=0.5, s=45)
        ax.axhline(self.twfe_estimate, color="black", linestyle="--", linewidth=1,
                   label=f"TWFE estimate {self.twfe_estimate:.3g}")
        ax.axhline(0, color="grey", linewidth=0.8)
        ax.set_xlabel("weight of the 2x2 comparison")
        ax.set_ylabel(f"2x2 DiD estimate{f' ({self.outcome})' if self.outcome else ''}")
        ax.set_title(title or "Goodman-Bacon decomposition of the TWFE estimate")
        ax.legend(fontsize=8, frameon=False)
        return ax


def goodman_bacon(data: pd.DataFrame, *, outcome: str, unit: str, time: str,
                  treatment: str) -> BaconDecomposition:
    """Decompose the TWFE DiD estimate into its 2x2 comparisons (Goodman-Bacon 2021).

    Parameters
    ----------
    data : DataFrame
        Balanced panel: one row per unit and period.
    outcome : str
        Numeric outcome column.
    unit : str
        Unit identifier (e.g. authority code).
    time : str
        Period column (integers or datetimes; only their order is used).
    treatment : str
        0/1 column, absorbing: once 1 for a unit it stays 1 (staggered adoption).

    Returns
    -------
    BaconDecomposition
        Comparisons, weights (summing to 1) and 2x2 estimates; ``.by_type()``, ``.plot()``.

    Raises
    ------
    InputError
        Missing columns or values, non-0/1 treatment, duplicate unit-period rows, an
        unbalanced panel (naming the units with missing periods), a treatment that switches
        off (naming the units), or no unit that changes treatment status.

    Notes
    -----
    Timing groups are sets of units first treated in the same period (plus the never- and
    always-treated).  With sample shares :math:`n_k`, treated-period shares
    :math:`\\bar D_k` and :math:`\\hat V^D` the variance of the two-way demeaned treatment,
    the weights are Goodman-Bacon's (2021) eq. (10a-c), e.g. for timing group ``k`` against
    the never treated ``U``:
    :math:`s_{kU} = (n_k + n_U)^2 n_{kU}(1-n_{kU}) \\bar D_k (1-\\bar D_k) / \\hat V^D`.
    Each 2x2 is a difference of group-by-window means of the outcome.  The weights are
    computed from these formulas, not normalised afterwards, so their sum being 1 and the
    weighted sum reproducing the regression coefficient are genuine checks (tested to 1e-8).
    Always-treated units enter as a timing group treated in the first period; they can
    only serve as controls ("treated vs always treated", a forbidden comparison).

    Examples
    --------
    >>> from causaldata import castle
    >>> d = castle.load_pandas().data
    >>> bd = goodman_bacon(d, outcome="l_homicide", unit="sid", time="year", treatment="post")
    >>> round(bd.twfe_estimate, 4), round(bd.weighted_sum, 4)
    (0.0694, 0.0694)
    """
    data = require_frame(data)
    require_columns(data, {"outcome": outcome, "unit": unit, "time": time, "treatment": treatment})
    arg_of = {outcome: "outcome", unit: "unit", time: "time", treatment: "treatment"}
    require_complete(data, [outcome, unit, time, treatment], arg_of)
    y = require_numeric(data, outcome, "outcome")
    d = require_binary(data, treatment, "treatment")
    Y, D, unit_labels, periods = _balanced_matrices(data, y, d, unit=unit, time=time)
    _require_absorbing(D, unit_labels, treatment)

    n_units, T = Y.shape
    first = np.where(D.any(axis=1), D.argmax(axis=1), T)  # first treated period index; T = never
    if not ((first > 0) & (first < T)).any():
        raise InputError(
            "no unit changes treatment status inside the panel, so there is no DiD comparison",
            field="treatment",
            fix="check the treatment coding; a decomposition needs units that adopt during the panel",
        )
    groups, inverse, counts = np.unique(first, return_inverse=True, return_counts=True)
    ybar = np.column_stack([np.bincount(inverse, weights=Y[:, j], minlength=len(groups))
                            for j in range(T)]) / counts[:, None]
    share = counts / n_units
    dbar = (T - groups) / T

    Dt = D - D.mean(axis=1, keepdims=True) - D.mean(axis=0, keepdims=True) + D.mean()
    vd = float(np.mean(Dt * Dt))
    twfe = float(np.sum(Dt * Y) / np.sum(Dt * Dt))

    def label(g: int) -> Any:
        if g == T:
            return "never"
        if g == 0:
            return "always"
        return periods[g]

    def window_diff(k: int, a: int, b: int, c: int) -> float:
        """Mean of group k over periods [b, c) minus its mean over [a, b)."""
        return float(ybar[k, b:c].mean() - ybar[k, a:b].mean())

    rows: list[dict[str, Any]] = []
    never = np.flatnonzero(groups == T)
    timing = [k for k in range(len(groups)) if groups[k] < T]
    for k in timing:
        tk = int(groups[k])
        if never.size and tk > 0:
            u = int(never[0])
            nku = share[k] / (share[k] + share[u])
            w = (share[k] + share[u]) ** 2 * nku * (1 - nku) * dbar[k] * (1 - dbar[k]) / vd
            est = window_diff(k, 0, tk, T) - window_diff(u, 0, tk, T)
            rows.append(_row(label(tk), "never", VS_NEVER, est, w, counts[k], counts[u]))
    for i, k in enumerate(timing):
        for l_ in timing[i + 1:]:
            tk, tl = int(groups[k]), int(groups[l_])  # tk < tl: k adopts earlier
            nkl = share[k] / (share[k] + share[l_])
            base = nkl * (1 - nkl)
            if tk > 0:  # earlier group treated, later group (not yet treated) as control
                w = ((share[k] + share[l_]) * (1 - dbar[l_])) ** 2 * base \
                    * (dbar[k] - dbar[l_]) / (1 - dbar[l_]) * (1 - dbar[k]) / (1 - dbar[l_]) / vd
                est = window_diff(k, 0, tk, tl) - window_diff(l_, 0, tk, tl)
                rows.append(_row(label(tk), label(tl), EARLY_VS_LATE, est, w, counts[k], counts[l_]))
            # later group treated, earlier (already treated) group as control
            w = ((share[k] + share[l_]) * dbar[k]) ** 2 * base \
                * dbar[l_] / dbar[k] * (dbar[k] - dbar[l_]) / dbar[k] / vd
            est = window_diff(l_, tk, tl, T) - window_diff(k, tk, tl, T)
            kind = VS_ALWAYS if tk == 0 else LATE_VS_EARLY
            rows.append(_row(label(tl), label(tk), kind, est, w, counts[l_], counts[k]))
    comparisons = pd.DataFrame(rows)
    notes = []
    if (first == 0).any():
        notes.append(f"{int((first == 0).sum())} unit(s) are treated in every period (always treated)")
    return BaconDecomposition(comparisons=comparisons, twfe_estimate=twfe, outcome=outcome,
                              treatment=treatment, notes=notes)


def _row(treated: Any, control: Any, kind: str, est: float, w: float, nt: int, nc: int) -> dict[str, Any]:
    return {"treated": treated, "control": control, "type": kind, "estimate": est, "weight": float(w),
            "n_treated_units": int(nt), "n_control_units": int(nc)}


def _balanced_matrices(data: pd.DataFrame, y: np.ndarray, d: np.ndarray, *, unit: str,
                       time: str) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Unit x period matrices of outcome and treatment; raise unless the panel is balanced."""
    from ehimpact.estimators._panel import _codes, _require_unique_cells

    u_codes, u_labels = _codes(data, unit)
    t_codes, t_labels = _codes(data, time)
    n_u, n_t = len(u_labels), len(t_labels)
    _require_unique_cells(data, u_codes, t_codes, n_u, n_t, unit, time)
    cell = u_codes.astype(np.int64) * n_t + t_codes
    if len(cell) != n_u * n_t:
        per_unit = np.bincount(u_codes, minlength=n_u)
        short = [u_labels[i] for i in np.flatnonzero(per_unit < n_t)]
        raise InputError(
            f"the panel is unbalanced: {len(short)} unit(s) are missing some of the {n_t} periods",
            field="unit", rows=short,
            fix="the decomposition needs a balanced panel: keep units observed in every period "
                "(or the periods every unit is observed in)",
        )
    Y = np.empty(n_u * n_t)
    D = np.empty(n_u * n_t)
    Y[cell], D[cell] = y, d
    return Y.reshape(n_u, n_t), D.reshape(n_u, n_t), np.asarray(u_labels), np.asarray(t_labels)


def _require_absorbing(D: np.ndarray, unit_labels: np.ndarray, treatment: str) -> None:
    switch_off = (np.diff(D, axis=1) < 0).any(axis=1)
    if switch_off.any():
        bad = list(unit_labels[switch_off])
        raise InputError(
            f"{treatment!r} switches from 1 back to 0 for {len(bad)} unit(s): the decomposition "
            "needs staggered adoption (once treated, always treated)",
            field="treatment", rows=bad,
            fix="code treatment as 1 from the first treated period onwards",
        )
