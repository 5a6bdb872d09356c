"""Staggered adoption: Callaway & Sant'Anna (2021) group-time average treatment effects.

Authorities (or units within them) start a service at different times.  Two-way fixed
effects then compares late adopters with early adopters already treated and can be
badly biased when effects vary over time.  :func:`staggered_did` instead estimates one
clean 2x2 difference-in-differences per cohort ``g`` (units first treated in period
``g``) and period ``t``,

.. math:: ATT(g, t) = E[Y_t - Y_{b} \\mid G = g] - E[Y_t - Y_{b} \\mid C],

with base period ``b = g - 1 - anticipation`` (for post-treatment cells) and comparison
units ``C`` never treated or not yet treated, then aggregates the ATT(g,t) into a simple
average, an event study, cohort effects or calendar-time effects.

Without covariates on a balanced panel every ATT(g,t), its influence function and every
aggregation is computed from the unit x period outcome matrix with vectorised sums (no
loop of regressions); see :mod:`ehimpact.estimators._staggered_inference`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import pandas as pd
from scipy import sparse, stats

from ehimpact.errors import InputError
from ehimpact.estimators._staggered_cells import SingularDesign, panel_att, rc_att
from ehimpact.estimators._staggered_inference import DenseIF, LinearIF, bootstrap_summary
from ehimpact.estimators.checks import (
    as_list,
    covariate_matrix,
    require_columns,
    require_complete,
    require_frame,
    require_numeric,
    require_weights,
)
from ehimpact.estimators.registry import EstimatorSpec
from ehimpact.estimators.result import Estimate, OutcomeScale

if TYPE_CHECKING:
    from matplotlib.axes import Axes

__all__ = ["staggered_did", "StaggeredDiD", "AggregatedATT", "STAGGERED_SPEC"]

AggregateKind = Literal["simple", "dynamic", "group", "calendar"]
_KINDS = ("simple", "dynamic", "group", "calendar")
_COMPONENT = {"dynamic": "event_time", "group": "group", "calendar": "time"}


# --------------------------------------------------------------------------- results
@dataclass(eq=False)
class AggregatedATT(Estimate):
    """An aggregation of group-time ATTs: the overall effect plus its components.

    ``effects`` has one row per event time (``kind="dynamic"``), cohort (``"group"``) or
    period (``"calendar"``) with columns ``att, se, ci_lower, ci_upper`` and, when
    bootstrapped, ``band_lower, band_upper`` (simultaneous, sup-t).  It is empty for
    ``kind="simple"``.
    """

    kind: str = "simple"
    effects: pd.DataFrame = field(default_factory=pd.DataFrame)

    def plot(self, ax: Axes | None = None, *, label: str | None = None, bands: bool = True) -> Axes:
        """Components with pointwise CIs (and uniform bands when bootstrapped).

        Parameters
        ----------
        ax : matplotlib Axes, optional
        label : str, optional
            Y-axis label; defaults to the outcome.
        bands : bool, default True
            Shade simultaneous bands when they were computed.

        Returns
        -------
        matplotlib.axes.Axes
        """
        if self.kind == "simple" or self.effects.empty:
            return super().plot(ax, label=label)
        return _plot_effects(self.effects, _COMPONENT[self.kind], ax=ax, bands=bands,
                             ylabel=label or self.outcome_label or self.outcome or "ATT",
                             kind=self.kind, level=self.level, overall=(self.estimate, self.ci))


@dataclass(eq=False)
class StaggeredDiD(AggregatedATT):
    """Result of :func:`staggered_did`: the requested aggregation, the ATT(g,t) and the rest.

    Attributes
    ----------
    att_gt : DataFrame
        One row per cohort and period: ``group, time, event_time, att, se, ci_lower,
        ci_upper`` (``band_lower, band_upper`` when bootstrapped) and ``n_treated,
        n_control``.  ``group`` and ``time`` are in the data's own units.
    aggregations : dict
        ``kind -> AggregatedATT`` for every kind; :meth:`aggregate` returns them.
    """

    att_gt: pd.DataFrame = field(default_factory=pd.DataFrame)
    aggregations: dict[str, AggregatedATT] = field(default_factory=dict)

    def aggregate(self, kind: AggregateKind) -> AggregatedATT:
        """The ``"simple"``, ``"dynamic"``, ``"group"`` or ``"calendar"`` aggregation.

        Raises
        ------
        InputError
            For an unknown kind.
        """
        if kind not in self.aggregations:
            raise InputError(f"unknown aggregation {kind!r}", field="kind", fix=f"use one of {', '.join(_KINDS)}")
        return self.aggregations[kind]

    def plot(self, ax: Axes | None = None, *, label: str | None = None, bands: bool = True,
             kind: Literal["att_gt", "simple", "dynamic", "group", "calendar"] | None = None) -> Axes:
        """Event-study plot (default) or group-time ATTs, with CIs and uniform bands.

        Parameters
        ----------
        ax : matplotlib Axes, optional
        label : str, optional
            Y-axis label.
        bands : bool, default True
            Shade simultaneous (sup-t) bands when bootstrapped.
        kind : {"att_gt", "dynamic", "group", "calendar", "simple"}, optional
            What to draw; defaults to ``"dynamic"``.  ``"att_gt"`` draws every ATT(g,t)
            against period, one colour per cohort, pre-treatment cells hollow.

        Returns
        -------
        matplotlib.axes.Axes
        """
        kind = kind or "dynamic"
        if kind != "att_gt":
            return self.aggregate(kind).plot(ax, label=label, bands=bands)
        return _plot_att_gt(self.att_gt, ax=ax, bands=bands,
                            ylabel=label or self.outcome_label or self.outcome or "ATT(g,t)",
                            level=self.level)


_TITLES = {"dynamic": "Effect by time since adoption (event study)",
           "group": "Average effect by adoption cohort",
           "calendar": "Average effect by period, over cohorts already adopting"}
_XLABELS = {"event_time": "periods since adoption (0 = first period with the service)",
            "group": "adoption cohort (first period with the service)",
            "time": "period"}
_PRE, _POST = "#b2182b", "#1f4e79"


def _effect_label(ylabel: str) -> str:
    return ylabel if ylabel.lower().startswith(("effect", "att")) else f"effect on {ylabel}"


def _plot_effects(effects: pd.DataFrame, xcol: str, *, ax, bands, ylabel, kind, level, overall) -> Axes:
    """One point per component: pointwise CI as capped bars, simultaneous band as a wide pale bar."""
    import matplotlib.pyplot as plt
    from matplotlib.lines import Line2D

    if ax is None:
        _, ax = plt.subplots(figsize=(9, 4))
    pct = f"{100 * level:.0f}%"
    x = np.arange(len(effects), dtype=float) if xcol != "event_time" else effects[xcol].to_numpy(float)
    att = effects["att"].to_numpy(float)
    pre = (effects[xcol].to_numpy(float) < 0) if xcol == "event_time" else np.zeros(len(x), bool)
    colours = np.where(pre, _PRE, _POST)
    handles = []
    if bands and "band_lower" in effects:
        ax.vlines(x, effects["band_lower"], effects["band_upper"], colors=colours, alpha=0.22, linewidth=14)
        handles.append(Line2D([], [], color="grey", alpha=0.4, linewidth=10,
                              label=f"{pct} simultaneous band (all points at once)"))
    err = np.vstack([att - effects["ci_lower"].to_numpy(float), effects["ci_upper"].to_numpy(float) - att])
    for mask, colour in ((pre, _PRE), (~pre, _POST)):
        if mask.any():
            ax.errorbar(x[mask], att[mask], yerr=err[:, mask], fmt="o", color=colour, capsize=4, zorder=3)
    handles.insert(0, Line2D([], [], color="black", marker="o", label=f"estimate with {pct} CI (each point)"))
    if pre.any():
        ax.axvline(-0.5, color="black", linestyle=":", linewidth=1)
        handles += [Line2D([], [], color=_PRE, marker="o", linestyle="", label="before adoption (should be near 0)"),
                    Line2D([], [], color=_POST, marker="o", linestyle="", label="after adoption")]
    ax.axhline(0, color="grey", linestyle="--", linewidth=1)
    handles.append(Line2D([], [], color="grey", linestyle="--", linewidth=1, label="no effect"))
    if xcol != "event_time":
        ax.set_xticks(x, [str(v) for v in effects[xcol]])
    else:
        ax.set_xticks(x, [str(int(v)) for v in x])
    ax.set_xlabel(_XLABELS[xcol])
    ax.set_ylabel(_effect_label(ylabel))
    est, (lo, hi) = overall
    ax.set_title(f"{_TITLES[kind]}\noverall {est:.3g} ({pct} CI {lo:.3g} to {hi:.3g})", fontsize=11)
    ax.legend(handles=handles, fontsize=8, loc="center left", bbox_to_anchor=(1.01, 0.5))
    return ax


def _plot_att_gt(table: pd.DataFrame, *, ax, bands, ylabel, level) -> Axes:
    import matplotlib.pyplot as plt
    from matplotlib.lines import Line2D

    if ax is None:
        _, ax = plt.subplots(figsize=(8.5, 4.5))
    pct = f"{100 * level:.0f}%"
    times = list(dict.fromkeys(sorted(table["time"])))
    pos = {t: i for i, t in enumerate(times)}
    cohorts = list(dict.fromkeys(table["group"]))
    width = 0.8 / max(len(cohorts), 1)
    colours = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    handles = []
    has_band = bands and "band_lower" in table
    for j, g in enumerate(cohorts):
        sub = table[table["group"] == g]
        x = np.array([pos[t] for t in sub["time"]]) - 0.4 + width * (j + 0.5)
        att = sub["att"].to_numpy(float)
        c = colours[j % len(colours)]
        if has_band:
            ax.vlines(x, sub["band_lower"], sub["band_upper"], color=c, alpha=0.22, linewidth=10)
        err = np.vstack([att - sub["ci_lower"].to_numpy(float), sub["ci_upper"].to_numpy(float) - att])
        pre = sub["event_time"].to_numpy() < 0
        ax.errorbar(x[~pre], att[~pre], yerr=err[:, ~pre], fmt="o", color=c, capsize=3, zorder=3)
        if pre.any():
            ax.errorbar(x[pre], att[pre], yerr=err[:, pre], fmt="o", mfc="white", color=c, capsize=3, zorder=3)
        handles.append(Line2D([], [], color=c, marker="o", label=f"cohort adopting in {g}"))
    handles.append(Line2D([], [], color="black", marker="o", mfc="white", linestyle="",
                          label="hollow: before the cohort adopts"))
    handles.append(Line2D([], [], color="black", label=f"{pct} CI (each estimate)"))
    if has_band:
        handles.append(Line2D([], [], color="grey", alpha=0.4, linewidth=8,
                              label=f"{pct} simultaneous band (all at once)"))
    ax.axhline(0, color="grey", linestyle="--", linewidth=1)
    handles.append(Line2D([], [], color="grey", linestyle="--", linewidth=1, label="no effect"))
    ax.set_xticks(range(len(times)), [str(t) for t in times])
    for i in range(1, len(times)):
        ax.axvline(i - 0.5, color="#dddddd", linewidth=0.8, zorder=0)
    ax.set_xlabel("period")
    ax.set_ylabel(_effect_label(ylabel))
    ax.set_title("Effect for each adoption cohort and period, ATT(g,t)", fontsize=11)
    ax.legend(handles=handles, fontsize=8, loc="center left", bbox_to_anchor=(1.01, 0.5))
    return ax


# --------------------------------------------------------------------------- data preparation
@dataclass
class _Design:
    """Everything the estimators need, with units and periods coded ``0..n-1`` / ``0..T-1``."""

    times: np.ndarray            # sorted distinct periods (data's own values)
    cohort_values: list[Any]     # first-treated period of each cohort, data's own units
    cohort_index: np.ndarray     # period index at which each cohort is first treated
    unit_cohort: np.ndarray      # per unit: cohort code 0..K-1, K = never treated
    w: np.ndarray                # per unit weights, mean 1
    n: int                       # independent units (rows for repeated cross-sections)
    panel: bool
    Y: np.ndarray | None = None  # balanced panel: n x T
    Xw: np.ndarray | None = None  # balanced panel with covariates: n x T x p
    rows: dict[str, np.ndarray] | None = None  # repeated cross-section: y, t, unit, X
    cluster: tuple[np.ndarray, int] | None = None
    cov_names: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def _period_values(s: pd.Series, arg: str) -> np.ndarray:
    """Time-like column as sortable numbers (datetimes as int64 ns)."""
    if pd.api.types.is_datetime64_any_dtype(s):
        return s.to_numpy("datetime64[ns]").astype(np.int64).astype(float)
    return require_numeric(s.to_frame(), s.name, arg)


def _first_treated_values(data: pd.DataFrame, first_treated: str, time_is_dt: bool) -> np.ndarray:
    s = data[first_treated]
    if pd.api.types.is_datetime64_any_dtype(s):
        if not time_is_dt:
            raise InputError("first_treated holds dates but the time column does not",
                             field="first_treated", fix="use the same kind of values for both (periods or dates)")
        out = s.to_numpy("datetime64[ns]").astype(np.int64).astype(float)
        out[s.isna().to_numpy()] = np.nan
        return out
    g = require_numeric(data, first_treated, "first_treated")
    g = np.where(g == 0, np.nan, g)
    if time_is_dt and np.isfinite(g).any():
        bad = data.index[np.isfinite(g)]
        raise InputError("time holds dates but first_treated holds numbers",
                         field="first_treated", rows=list(bad[:20]),
                         fix="give the adoption date as a date (NaT for never treated)")
    return g


def _codes(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    codes, uniques = pd.factorize(values, sort=False)
    return codes.astype(np.int64), np.asarray(uniques)


def _prepare(data, *, outcome, unit, time, first_treated, covariates, weights, cluster, panel,
             anticipation) -> _Design:
    covs = as_list(covariates)
    require_columns(data, {"outcome": outcome, "unit": unit, "time": time, "first_treated": first_treated,
                           "covariates": covs, "weights": weights, "cluster": cluster})
    arg_of = {outcome: "outcome", time: "time", **{c: "covariates" for c in covs}}
    needed = [outcome, time, *covs] + ([unit] if unit else []) + ([cluster] if cluster else [])
    require_complete(data, needed, arg_of)
    if panel and unit is None:
        raise InputError("a panel needs a unit identifier", field="unit",
                         fix="name the unit column, or pass panel=False for repeated cross-sections")
    y = require_numeric(data, outcome, "outcome")
    time_is_dt = pd.api.types.is_datetime64_any_dtype(data[time])
    tv = _period_values(data[time], "time")
    g = _first_treated_values(data, first_treated, time_is_dt)
    w_row = require_weights(data, weights)
    times = np.unique(tv)
    T = len(times)
    if T < 2:
        raise InputError(f"only {T} distinct period(s) in the data: a difference-in-differences needs at "
                         "least a before and an after period", field="time", fix="check the time column and any filters")
    tcode = _period_codes(tv, times)

    if unit is not None:
        ucode = _unit_codes(data[unit].to_numpy())
        n_units = int(ucode.max()) + 1
    else:
        ucode, n_units = np.arange(len(data)), len(data)
    # first_treated must be a property of the unit
    gu = np.full(n_units, np.nan)
    gu[ucode] = g
    gback = gu[ucode]
    varies = ~((gback == g) | (np.isnan(gback) & np.isnan(g)))
    if varies.any():
        bad_units = pd.unique(data[unit].to_numpy()[varies])
        raise InputError(f"first_treated changes over time within {len(bad_units)} unit(s) (e.g. {bad_units[0]!r})",
                         field="first_treated", rows=list(data.index[varies][:50]),
                         fix="first_treated is the period a unit first received the service: give every row "
                             "of a unit the same value (0 or blank if never treated)")
    wu = np.ones(n_units)
    if w_row is not None:
        wu[ucode] = w_row
        if not np.allclose(wu[ucode], w_row):
            raise InputError("weights change over time within a unit", field="weights",
                             fix="use one weight per unit (e.g. its population in the first period)")
    if wu.sum() <= 0:
        raise InputError("all weights are zero", field="weights", fix="check the weight column")
    wu = wu / wu.mean()

    notes: list[str] = []
    # cohorts: first period at or after the adoption value; adoption after the last period = never
    finite = np.isfinite(gu)
    gidx = np.full(n_units, -1, dtype=np.int64)
    gidx[finite] = np.searchsorted(times, gu[finite], side="left")
    late = finite & (gidx >= T)
    if late.any():
        notes.append(f"{int(late.sum())} unit(s) adopt after the last period and are treated as never treated")
        gidx[late] = -1
    treated = gidx >= 0
    early = treated & (gidx - anticipation < 1)
    if early.any():
        vals = sorted(pd.unique(gu[early]))
        shown = ", ".join(_fmt_period(v, time_is_dt) for v in vals)
        raise InputError(
            f"cohort(s) first treated {shown} have no pre-treatment period in the data "
            f"({int(early.sum())} unit(s)); with anticipation={anticipation} the first adoption period "
            f"that can be estimated is {_fmt_period(times[min(anticipation + 1, T - 1)], time_is_dt)}",
            field="first_treated",
            fix="drop units treated from the start (they have no before-period to compare with), "
                "add earlier periods, or reduce anticipation",
        )
    cohort_index = np.unique(gidx[treated])
    if len(cohort_index) == 0:
        raise InputError("no unit is ever treated within the observed periods", field="first_treated",
                         fix="check the first_treated column: it should hold the adoption period of treated units")
    K = len(cohort_index)
    unit_cohort = np.full(n_units, K, dtype=np.int64)
    unit_cohort[treated] = np.searchsorted(cohort_index, gidx[treated])
    cohort_values = [_period_out(times[i], time_is_dt) for i in cohort_index]

    cl = None
    if cluster is not None:
        ccode_row, _ = _codes(data[cluster].to_numpy())
        cu = np.full(n_units, -1, dtype=np.int64)
        cu[ucode] = ccode_row
        if (cu[ucode] != ccode_row).any():
            bad = data.index[cu[ucode] != ccode_row]
            raise InputError("a unit belongs to more than one cluster", field="cluster", rows=list(bad[:50]),
                             fix="cluster at a level coarser than the unit (e.g. authority), constant within unit")
        n_cl = int(cu.max()) + 1
        if n_cl < 2:
            raise InputError("only one cluster: cluster-robust inference is undefined", field="cluster",
                             fix="cluster at a finer level or leave cluster=None")
        cl = (cu, n_cl)

    X_row, cov_names = covariate_matrix(data, covs) if covs else (None, [])
    design = _Design(times=times, cohort_values=cohort_values, cohort_index=cohort_index,
                     unit_cohort=unit_cohort, w=wu, n=n_units, panel=panel, cluster=cl,
                     cov_names=cov_names, notes=notes)
    if panel:
        cell = ucode * T + tcode
        if len(cell) == n_units * T and _is_identity(cell):
            # rows already sorted by unit then period, one per pair: the outcome *is* the matrix
            design.Y = np.ascontiguousarray(y).reshape(n_units, T)
            if covs:
                design.Xw = np.ascontiguousarray(X_row).reshape(n_units, T, X_row.shape[1])
            return design
        if len(cell) == n_units * T:
            Y = np.full(n_units * T, np.nan)  # the outcome has no NaN (checked above)
            Y[cell] = y
            if not np.isnan(Y).any():
                # n*T rows filled all n*T unit-period slots: each exactly once, so the panel is
                # balanced without duplicates (no counting pass needed)
                design.Y = Y.reshape(n_units, T)
                if covs:
                    Xw = np.empty((n_units * T, X_row.shape[1]))
                    Xw[cell] = X_row
                    design.Xw = Xw.reshape(n_units, T, X_row.shape[1])
                return design
        counts = np.bincount(cell, minlength=n_units * T)
        if (counts > 1).any():
            dup = np.flatnonzero(counts[cell] > 1)
            raise InputError(f"{int((counts > 1).sum())} unit-period pair(s) appear more than once",
                             field="unit", rows=list(data.index[dup][:50]),
                             fix="keep one row per unit and period (aggregate or deduplicate first)")
        if (counts == 0).any():
            missing_units = np.unique(np.flatnonzero(counts == 0) // T)
            labels = pd.unique(data[unit].to_numpy())  # factorize order = order of appearance
            raise InputError(
                f"the panel is unbalanced: {len(missing_units)} unit(s) lack some periods "
                f"(e.g. {labels[missing_units[0]]!r})", field="unit",
                fix="pass panel=False to use every row (repeated-cross-section estimator with "
                    "unit-clustered influence functions, like R did's allow_unbalanced_panel), "
                    "or keep only units observed in every period")
        Y = np.empty(n_units * T)
        Y[cell] = y
        design.Y = Y.reshape(n_units, T)
        if covs:
            Xw = np.empty((n_units * T, X_row.shape[1]))
            Xw[cell] = X_row
            design.Xw = Xw.reshape(n_units, T, X_row.shape[1])
    else:
        design.rows = {"y": y, "t": tcode, "unit": ucode, "X": X_row}
    return design


def _period_codes(tv: np.ndarray, times: np.ndarray) -> np.ndarray:
    """Index of each row's period in the sorted distinct ``times``.

    Whole-number periods spanning a short range (years, months numbered ...) use a lookup
    table, much faster than a binary search on unsorted rows; anything else searches.
    """
    lo, hi = times[0], times[-1]
    if hi - lo < 1e6 and np.array_equal(times, np.round(times)):
        lut = np.zeros(int(hi - lo) + 1, dtype=np.int64)
        lut[(times - lo).astype(np.int64)] = np.arange(len(times))
        return lut[(tv - lo).astype(np.int64)]
    return np.searchsorted(times, tv)


def _unit_codes(values: np.ndarray) -> np.ndarray:
    """Codes ``0..n-1`` in order of first appearance (as ``pd.factorize``).

    Rows sorted by a numeric unit id, the usual layout, need no hashing: a new unit starts
    wherever the id changes.
    """
    if values.dtype.kind in "iuf" and len(values) > 1 and bool(np.all(values[1:] >= values[:-1])):
        codes = np.empty(len(values), dtype=np.int64)
        codes[0] = 0
        np.cumsum(values[1:] != values[:-1], out=codes[1:])
        return codes
    return _codes(values)[0]


def _is_identity(cell: np.ndarray) -> bool:
    """True when ``cell`` is exactly ``0, 1, ..., len - 1`` (checked in chunks, no big temporaries)."""
    step = 1 << 20
    for start in range(0, len(cell), step):
        chunk = cell[start:start + step]
        if chunk[0] != start or not np.array_equal(chunk, np.arange(start, start + len(chunk))):
            return False
    return True


def _fmt_period(v: float, is_dt: bool) -> str:
    return str(_period_out(v, is_dt))


def _period_out(v: float, is_dt: bool) -> Any:
    if is_dt:
        return pd.Timestamp(int(v))
    return int(v) if float(v).is_integer() else float(v)


# --------------------------------------------------------------------------- cells
@dataclass
class _Cell:
    k: int          # cohort code
    t: int          # period index
    base: int       # base period index
    controls: np.ndarray  # cohort codes used as comparison (K = never treated)


def _cells(d: _Design, control_group: str, anticipation: int, base_period: str,
           time_is_dt: bool) -> list[_Cell]:
    K, T = len(d.cohort_index), len(d.times)
    has_never = bool((d.unit_cohort == K).any())
    if control_group == "never" and not has_never:
        raise InputError(
            "no never-treated units, so no cohort has a comparison group "
            f"(cohorts {', '.join(map(str, d.cohort_values))})", field="control_group",
            fix="use control_group='not_yet' (later adopters as comparisons), or add never-treated units")
    cells: list[_Cell] = []
    skipped: list[str] = []
    for k, gi in enumerate(d.cohort_index):
        first_post = gi - anticipation
        ts = range(1, T) if base_period == "varying" else range(T)
        for t in ts:
            base = gi - 1 - anticipation if (t >= first_post or base_period == "universal") else t - 1
            if control_group == "never":
                controls = np.array([K])
            else:
                later = [j for j, gj in enumerate(d.cohort_index) if gj > max(t, base) + anticipation and j != k]
                controls = np.array(([K] if has_never else []) + later, dtype=np.int64)
            if len(controls) == 0:
                skipped.append(f"{d.cohort_values[k]}@{_fmt_period(d.times[t], time_is_dt)}")
                continue
            cells.append(_Cell(k, t, base, controls))
    if skipped:
        d.notes.append("no not-yet-treated comparison units for cohort@period " + ", ".join(skipped)
                       + " (no never-treated units): these ATT(g,t) are not estimated")
    post_cohorts = {c.k for c in cells if c.t >= d.cohort_index[c.k] - anticipation}
    missing = [d.cohort_values[k] for k in range(K) if k not in post_cohorts]
    if missing and len(missing) == K:
        raise InputError(
            f"cohort(s) {', '.join(map(str, missing))} have no comparison units in any period after adoption",
            field="first_treated", fix="add never-treated units or use control_group='not_yet'")
    if missing:
        d.notes.append(f"cohort(s) {', '.join(map(str, missing))} have no comparison units after adoption "
                       "(every other unit is treated by then): they serve only as comparisons")
    return cells


def _fast_panel(d: _Design, cells: list[_Cell]) -> tuple[np.ndarray, LinearIF, np.ndarray, np.ndarray]:
    """Balanced panel without covariates: every ATT(g,t) and its influence function from sums."""
    Y, w, coh = d.Y, d.w, d.unit_cohort
    n, T = Y.shape
    K1 = len(d.cohort_index) + 1
    colmean = (w @ Y) / w.sum()
    Yc = Y - colmean  # centring keeps the sums of squares well conditioned
    Wk = np.bincount(coh, weights=w, minlength=K1)
    Sk = sparse.csr_matrix((w, (coh, np.arange(n))), shape=(K1, n)) @ Yc  # K1 x T weighted sums
    m = len(cells)
    A = np.zeros((K1, T, m))
    B = np.zeros((K1, m))
    att = np.empty(m)
    n_tr = np.empty(m, dtype=np.int64)
    n_co = np.empty(m, dtype=np.int64)
    counts = np.bincount(coh, minlength=K1)
    for c, cell in enumerate(cells):
        if cell.t == cell.base:  # universal base period: the reference cell is 0 by construction
            att[c] = 0.0
            n_tr[c], n_co[c] = counts[cell.k], counts[cell.controls].sum()
            continue
        wd, wc = Wk[cell.k], Wk[cell.controls].sum()
        mu_d = (Sk[cell.k, cell.t] - Sk[cell.k, cell.base]) / wd
        mu_c = (Sk[cell.controls, cell.t] - Sk[cell.controls, cell.base]).sum() / wc
        att[c] = mu_d - mu_c
        A[cell.k, cell.t, c], A[cell.k, cell.base, c], B[cell.k, c] = n / wd, -n / wd, -n * mu_d / wd
        A[cell.controls, cell.t, c] = -n / wc
        A[cell.controls, cell.base, c] = n / wc
        B[cell.controls, c] = n * mu_c / wc
        n_tr[c], n_co[c] = counts[cell.k], counts[cell.controls].sum()
    return att, LinearIF(Yc, w, coh, A, B, np.zeros(m)), n_tr, n_co


def _singular_error(exc: SingularDesign, d: _Design, cell: _Cell, time_is_dt: bool, n_tr: int, n_co: int):
    names = ["(intercept)", *d.cov_names]
    col = names[min(exc.column, len(names) - 1)]
    g = d.cohort_values[cell.k]
    t = _fmt_period(d.times[cell.t], time_is_dt)
    return InputError(
        f"cohort {g}, period {t}: the {exc.part} cannot be fitted because covariate {col!r} is constant "
        f"or collinear in this cell ({n_tr} treated unit(s), {n_co} comparison unit(s))",
        field="covariates",
        fix=f"drop or coarsen {col!r}, merge small cohorts, or use fewer covariates (method='reg' needs "
            "variation among comparison units only)")


def _covariate_cells(d: _Design, cells: list[_Cell], method: str, time_is_dt: bool):
    """ATT(g,t) by regression / IPW / DR per cell; influence functions as an explicit matrix."""
    n, m = d.n, len(cells)
    IF = np.zeros((n, m))
    att = np.zeros(m)
    n_tr = np.zeros(m, dtype=np.int64)
    n_co = np.zeros(m, dtype=np.int64)
    coh = d.unit_cohort
    for c, cell in enumerate(cells):
        is_t = coh == cell.k
        is_c = np.isin(coh, cell.controls)
        n_tr[c], n_co[c] = int(is_t.sum()), int(is_c.sum())
        if cell.t == cell.base:
            continue
        try:
            if d.panel:
                idx = np.flatnonzero(is_t | is_c)
                dy = d.Y[idx, cell.t] - d.Y[idx, cell.base]
                X = _with_intercept(d.Xw[idx, cell.base] if d.Xw is not None else None, len(idx))
                a, inf = panel_att(dy, is_t[idx].astype(float), X, d.w[idx], method)
                IF[idx, c] = inf * (n / len(idx))
            else:
                r = d.rows
                ru = r["unit"]
                sel = np.flatnonzero(((r["t"] == cell.t) | (r["t"] == cell.base)) & (is_t | is_c)[ru])
                dsel = is_t[ru[sel]].astype(float)
                post = (r["t"][sel] == cell.t).astype(float)
                _require_rc_cells(d, cell, dsel, post, time_is_dt)
                X = _with_intercept(r["X"][sel] if r["X"] is not None else None, len(sel))
                a, inf = rc_att(r["y"][sel], post, dsel, X, d.w[ru[sel]], method)
                IF[:, c] = np.bincount(ru[sel], weights=inf * (n / len(sel)), minlength=n)
        except SingularDesign as exc:
            raise _singular_error(exc, d, cell, time_is_dt, n_tr[c], n_co[c]) from None
        att[c] = a
    return att, DenseIF(IF, d.w, coh), n_tr, n_co


def _require_rc_cells(d: _Design, cell: _Cell, dsel, post, time_is_dt) -> None:
    for dv, pv, what in ((1, 0, "treated, base period"), (1, 1, "treated, current period"),
                         (0, 0, "comparison, base period"), (0, 1, "comparison, current period")):
        if not ((dsel == dv) & (post == pv)).any():
            raise InputError(
                f"cohort {d.cohort_values[cell.k]}, period {_fmt_period(d.times[cell.t], time_is_dt)}: "
                f"no observations for the {what}", field="first_treated",
                fix="check the data cover every period for every cohort, or drop this cohort")


def _with_intercept(X: np.ndarray | None, n: int) -> np.ndarray:
    one = np.ones((n, 1))
    return one if X is None or X.shape[1] == 0 else np.hstack([one, X])


# --------------------------------------------------------------------------- aggregation
def _aggregations(d: _Design, cells: list[_Cell], att: np.ndarray, rep, anticipation: int):
    """Append every aggregation's influence function to ``rep``; return their column layout.

    Weights follow Callaway & Sant'Anna (2021, sec. 3): cohort shares ``pg`` estimated from
    the data, whose estimation adds ``w_i * alpha[cohort_i]`` to the influence function.
    """
    K = len(d.cohort_index)
    K1 = K + 1
    pg = np.bincount(d.unit_cohort, weights=d.w, minlength=K1)[:K] / d.n
    gk = np.array([c.k for c in cells])
    tt = np.array([c.t for c in cells])
    gi = d.cohort_index[gk]
    e = tt - gi
    post = gi <= tt
    m = len(cells)
    layout: dict[str, dict[str, Any]] = {}

    def weighted(keep: np.ndarray) -> tuple[np.ndarray, np.ndarray, float]:
        """Weights over cells ``keep`` proportional to pg, and the wif coefficient alpha."""
        wts = np.zeros(m)
        p = pg[gk[keep]]
        S = p.sum()
        wts[keep] = p / S
        est = float(wts @ att)
        alpha = np.zeros(K1)
        np.add.at(alpha, gk[keep], att[keep] / S)
        ncell = np.bincount(gk[keep], minlength=K1).astype(float)
        alpha -= est * ncell / S
        return wts, alpha, est

    # simple
    keep = np.flatnonzero(post)
    wts, alpha, _ = weighted(keep)
    start = rep.m
    _extend_from_all(rep, _pad(wts[:, None], rep.m), K1, alpha[:, None])
    layout["simple"] = {"overall": start, "components": [], "labels": []}

    # dynamic: one column per event time, then the average over e >= 0
    es = np.unique(e)
    W = np.zeros((m, len(es)))
    AL = np.zeros((K1, len(es)))
    for j, ev in enumerate(es):
        W[:, j], AL[:, j], _ = weighted(np.flatnonzero(e == ev))
    start = rep.m
    _extend_from_all(rep, _pad(W, rep.m), K1, AL)
    comp = np.arange(start, start + len(es))
    nonneg = es >= 0
    Wo = np.zeros((rep.m, 1))
    Wo[comp[nonneg], 0] = 1.0 / nonneg.sum()
    _extend_from_all(rep, Wo, K1)
    layout["dynamic"] = {"overall": rep.m - 1, "components": comp, "labels": es}

    # group: equal-weight average of a cohort's post cells, then pg-weighted across cohorts
    gs = [k for k in range(K) if (post & (gk == k)).any()]
    W = np.zeros((m, len(gs)))
    for j, k in enumerate(gs):
        sel = post & (gk == k)
        W[sel, j] = 1.0 / sel.sum()
    start = rep.m
    _extend_from_all(rep, _pad(W, rep.m), K1)
    comp = np.arange(start, start + len(gs))
    att_g = np.array([att[post & (gk == k)].mean() for k in gs])
    p = pg[gs]
    S = p.sum()
    Wo = np.zeros((rep.m, 1))
    Wo[comp, 0] = p / S
    alpha = np.zeros((K1, 1))
    overall_g = float(p @ att_g / S)
    alpha[gs, 0] = (att_g - overall_g) / S
    _extend_from_all(rep, Wo, K1, alpha)
    layout["group"] = {"overall": rep.m - 1, "components": comp, "labels": [d.cohort_values[k] for k in gs]}

    # calendar: pg-weighted average of cohorts treated by period t, then the mean over periods
    ts = np.unique(tt[post])
    W = np.zeros((m, len(ts)))
    AL = np.zeros((K1, len(ts)))
    for j, t in enumerate(ts):
        W[:, j], AL[:, j], _ = weighted(np.flatnonzero(post & (tt == t)))
    start = rep.m
    _extend_from_all(rep, _pad(W, rep.m), K1, AL)
    comp = np.arange(start, start + len(ts))
    Wo = np.zeros((rep.m, 1))
    Wo[comp, 0] = 1.0 / len(ts)
    _extend_from_all(rep, Wo, K1)
    layout["calendar"] = {"overall": rep.m - 1, "components": comp, "labels": list(ts)}
    return layout


def _pad(W: np.ndarray, rows: int) -> np.ndarray:
    """Cell weights (first rows) padded with zeros for the columns already appended."""
    out = np.zeros((rows, W.shape[1]))
    out[: W.shape[0]] = W
    return out


def _extend_from_all(rep, W: np.ndarray, K1: int, alpha: np.ndarray | None = None) -> None:
    """Append columns that combine *any* existing columns (cells or earlier aggregations)."""
    if alpha is None:
        alpha = np.zeros((K1, W.shape[1]))
    rep.extend(W, alpha)


# --------------------------------------------------------------------------- public function
def staggered_did(
    data: pd.DataFrame,
    *,
    outcome: str,
    unit: str | None,
    time: str,
    first_treated: str,
    control_group: Literal["never", "not_yet"] = "never",
    covariates: str | Sequence[str] | None = None,
    method: Literal["reg", "ipw", "dr"] = "reg",
    aggregate: AggregateKind = "simple",
    anticipation: int = 0,
    base_period: Literal["varying", "universal"] = "varying",
    inference: Literal["analytic", "bootstrap"] | None = None,
    bootstrap_draws: int = 999,
    bootstrap: int | None = None,
    bootstrap_weights: Literal["mammen", "rademacher"] = "mammen",
    cluster: str | None = None,
    panel: bool = True,
    weights: str | None = None,
    seed: int | None = None,
    level: float = 0.95,
    outcome_label: str | None = None,
    scale: OutcomeScale | None = None,
    subject: str = "Children supported",
) -> StaggeredDiD:
    """Callaway & Sant'Anna (2021) difference-in-differences for staggered adoption.

    Parameters
    ----------
    data : DataFrame
        Long format: one row per unit and period (panel) or per observation (repeated
        cross-sections, ``panel=False``).
    outcome : str
        Outcome column (numeric).
    unit : str or None
        Unit identifier (e.g. authority or family).  May be ``None`` only with ``panel=False``.
    time : str
        Period column: integers (years, quarters numbered ...) or datetimes.  Periods are
        ordered and event time counts periods, not calendar distance.
    first_treated : str
        First period the unit received the service, in the units of ``time``.  Never
        treated: ``0`` or missing (``NaN``/``NaT``); both are accepted.  A value between
        two observed periods counts from the next observed period; a value after the last
        period means never treated within the data.
    control_group : {"never", "not_yet"}
        Comparison units: never treated only, or also those not yet treated (and not
        anticipating) by the later of the current and base periods.
    covariates : str or list of str, optional
        Pre-treatment covariates (their base-period values in a panel); text columns
        become dummies.  Conditional parallel trends.
    method : {"reg", "ipw", "dr"}
        Outcome regression, inverse-probability weighting, or doubly robust (Sant'Anna &
        Zhao 2020).  Identical without covariates.
    aggregate : {"simple", "dynamic", "group", "calendar"}
        Which aggregation is the headline; all four are available via :meth:`StaggeredDiD.aggregate`.
    anticipation : int, default 0
        Periods before adoption in which units may already respond.
    base_period : {"varying", "universal"}
        Pre-treatment ATT(g,t) compare consecutive periods (``"varying"``, R did's default)
        or all use the period before adoption (``"universal"``, whose reference cell is 0).
    inference : {"analytic", "bootstrap"}, default "analytic"
        ``"analytic"``: influence-function standard errors.  ``"bootstrap"``: a
        ``bootstrap_draws``-draw multiplier bootstrap; standard errors from the draws'
        interquartile range and simultaneous (sup-t) bands for the ATT(g,t) and for each
        aggregation's components.
    bootstrap_draws : int, default 999
        Draws for ``inference="bootstrap"``.
    bootstrap : int, optional
        Deprecated: ``bootstrap=n`` is ``inference="bootstrap", bootstrap_draws=n`` (0 is analytic).
    bootstrap_weights : {"mammen", "rademacher"}
        Multiplier distribution (Mammen's two-point, as R did, or Rademacher).
    cluster : str, optional
        Cluster column at a level coarser than the unit (e.g. authority); influence
        functions are summed within clusters, ``se = sqrt(sum_c S_c^2) / n``, as current R
        did (its ``mboot.R``; releases before that used cluster means, which differ when
        clusters differ in size).  Units are always the sampling unit otherwise.
    panel : bool, default True
        ``True``: balanced panel (an unbalanced one raises).  ``False``: repeated
        cross-sections; with ``unit`` given this is the unbalanced-panel estimator
        (influence functions summed within unit, as R did's ``allow_unbalanced_panel``).
    weights : str, optional
        Sampling weights, constant within unit.
    seed : int, optional
        Seed for the bootstrap.
    level : float, default 0.95
        Confidence level.
    outcome_label, scale, subject : optional
        Words for :meth:`Estimate.summary`.

    Returns
    -------
    StaggeredDiD
        Headline = the ``aggregate`` overall effect; ``.att_gt``, ``.effects``,
        ``.aggregate(kind)``, ``.plot(kind=...)``.

    Raises
    ------
    InputError
        Missing columns or values, a unit whose ``first_treated`` changes, cohorts treated
        before any pre-period, no comparison units, an unbalanced panel with
        ``panel=True``, a singular covariate design in a cell (naming cohort, period and
        covariate), bad arguments.

    Notes
    -----
    For cohort :math:`g` and period :math:`t` with base period :math:`b`, the influence
    function of the no-covariate ATT(g,t) for unit :math:`i` is

    .. math:: \\psi_i = \\frac{w_i G_i (\\Delta Y_i - \\bar{\\Delta Y}_g)}{\\bar{w G}}
              - \\frac{w_i C_i (\\Delta Y_i - \\bar{\\Delta Y}_C)}{\\bar{w C}},

    and :math:`\\widehat{se} = \\sqrt{\\sum_i \\psi_i^2} / n` (sums over clusters when
    clustered).  Aggregations weight cells by estimated cohort shares and include the
    estimation effect of those shares, as in R did's ``aggte``.

    Examples
    --------
    >>> from ehimpact.estimators.staggered import _example
    >>> df, kw = _example()
    >>> est = staggered_did(df, **kw)
    >>> est.att_gt.columns[:4].tolist()
    ['group', 'time', 'event_time', 'att']
    """
    from ehimpact.estimators.inference import inference_alias

    if bootstrap is not None:  # the old name: a number of draws, 0 for analytic
        old = "bootstrap" if bootstrap else "analytic"
        inference = inference_alias(inference, old, old_name="bootstrap", func="staggered_did")
        bootstrap_draws = bootstrap or bootstrap_draws
    inference = inference or "analytic"
    if inference not in ("analytic", "bootstrap"):
        raise InputError(f"unknown inference {inference!r}", field="inference", fix="use 'analytic' or 'bootstrap'")
    bootstrap = int(bootstrap_draws) if inference == "bootstrap" else 0
    data = require_frame(data)
    _check_args(control_group=control_group, method=method, aggregate=aggregate, anticipation=anticipation,
                base_period=base_period, bootstrap=bootstrap, bootstrap_weights=bootstrap_weights, level=level)
    covs = as_list(covariates)
    d = _prepare(data, outcome=outcome, unit=unit, time=time, first_treated=first_treated, covariates=covs,
                 weights=weights, cluster=cluster, panel=panel, anticipation=anticipation)
    time_is_dt = pd.api.types.is_datetime64_any_dtype(data[time])
    cells = _cells(d, control_group, anticipation, base_period, time_is_dt)
    if panel and not covs:
        att, rep, n_tr, n_co = _fast_panel(d, cells)
    else:
        att, rep, n_tr, n_co = _covariate_cells(d, cells, method, time_is_dt)
    m = len(cells)
    layout = _aggregations(d, cells, att, rep, anticipation)
    est_all = _point_estimates(d, cells, att, layout, rep.m)

    var = rep.var(d.cluster)
    # a cell with one treated and one comparison unit has zero variance up to rounding (-1e-17)
    se = np.sqrt(np.clip(var, 0.0, None)) / d.n
    # reference cells (universal base period) and their aggregates have no sampling variance
    ref = np.array([c.t == c.base for c in cells] + [False] * (rep.m - m)) | (var <= 0)
    se[ref] = np.nan
    z = float(stats.norm.ppf(0.5 + level / 2))
    crit_u = None
    if bootstrap:
        rng = np.random.default_rng(seed)
        boot = rep.bootstrap(bootstrap, rng, bootstrap_weights, d.cluster)
        groups = [np.flatnonzero(~ref[:m])] + [np.asarray(layout[k]["components"]) for k in _COMPONENT]
        se_b, crit_u = bootstrap_summary(boot, level, [g for g in groups if len(g)])
        se = np.where(ref, np.nan, se_b)

    lo, hi = est_all - z * se, est_all + z * se
    pre_test = _pretest(rep, est_all, cells, d, m, ref)

    method_words = _method_words(method, covs, control_group, bootstrap, bootstrap_weights, cluster, panel, unit)
    if scale is None:
        scale = "proportion" if np.isin(d.Y if d.Y is not None else d.rows["y"], (0.0, 1.0)).all() else "continuous"
    att_gt = pd.DataFrame({
        "group": [d.cohort_values[c.k] for c in cells],
        "time": [_period_out(d.times[c.t], time_is_dt) for c in cells],
        "event_time": [int(c.t - d.cohort_index[c.k]) for c in cells],
        "att": att, "se": se[:m], "ci_lower": lo[:m], "ci_upper": hi[:m],
    })
    if crit_u is not None:
        att_gt["band_lower"] = att - crit_u[:m] * se[:m]
        att_gt["band_upper"] = att + crit_u[:m] * se[:m]
    att_gt["n_treated"], att_gt["n_control"] = n_tr, n_co

    n_treated_units = int((d.unit_cohort < len(d.cohort_index)).sum())
    n_control_units = int(d.n - n_treated_units)
    common = dict(estimand="ATT", n_treated=n_treated_units, n_control=n_control_units, outcome=outcome,
                  outcome_label=outcome_label, scale=scale, subject=subject, level=level,
                  warnings=list(d.notes))
    diagnostics = {
        "n_cells": m, "n_units": d.n, "periods": len(d.times), "cohorts": list(d.cohort_values),
        "control_group": control_group, "anticipation": anticipation, "base_period": base_period,
        "bootstrap": bootstrap, "n_clusters": d.cluster[1] if d.cluster else None,
        "pretest": pre_test, "covariates": list(d.cov_names),
    }
    if d.cluster is not None and d.cluster[1] < 30:
        common["warnings"].append(f"only {d.cluster[1]} clusters: influence-function intervals can be too narrow")
    aggs: dict[str, AggregatedATT] = {}
    for kind in _KINDS:
        lay = layout[kind]
        j = lay["overall"]
        eff = pd.DataFrame()
        if kind != "simple":
            comp = np.asarray(lay["components"])
            eff = pd.DataFrame({_COMPONENT[kind]: lay["labels"], "att": est_all[comp], "se": se[comp],
                                "ci_lower": lo[comp], "ci_upper": hi[comp]})
            if kind == "calendar":
                eff["time"] = [_period_out(d.times[t], time_is_dt) for t in lay["labels"]]
            if kind == "dynamic":
                eff["event_time"] = eff["event_time"].astype(int)
            if crit_u is not None:
                eff["band_lower"] = est_all[comp] - crit_u[comp] * se[comp]
                eff["band_upper"] = est_all[comp] + crit_u[comp] * se[comp]
        pval = float(2 * stats.norm.sf(abs(est_all[j] / se[j]))) if se[j] > 0 else float("nan")
        aggs[kind] = AggregatedATT(
            estimate=est_all[j], se=se[j], ci=(lo[j], hi[j]), pvalue=pval,
            method=f"Callaway-Sant'Anna staggered DiD, {kind} aggregation; {method_words}",
            diagnostics=dict(diagnostics), kind=kind, effects=eff, **common)
    head = aggs[aggregate]
    return StaggeredDiD(
        estimate=head.estimate, se=head.se, ci=head.ci, pvalue=head.pvalue, method=head.method,
        diagnostics=diagnostics, kind=aggregate, effects=head.effects, att_gt=att_gt,
        aggregations=aggs, **common)


def _point_estimates(d, cells, att, layout, total: int) -> np.ndarray:
    """Every column's point estimate, recomputed from the ATT(g,t) with the layout's weights."""
    K = len(d.cohort_index)
    pg = np.bincount(d.unit_cohort, weights=d.w, minlength=K + 1)[:K]
    gk = np.array([c.k for c in cells])
    tt = np.array([c.t for c in cells])
    gi = d.cohort_index[gk]
    e, post = tt - gi, gi <= tt
    out = np.full(total, np.nan)
    m = len(cells)
    out[:m] = att

    def wavg(sel):
        p = pg[gk[sel]]
        return float(p @ att[sel] / p.sum())

    out[layout["simple"]["overall"]] = wavg(post)
    dyn = layout["dynamic"]
    vals = np.array([wavg(e == ev) for ev in dyn["labels"]])
    out[dyn["components"]] = vals
    out[dyn["overall"]] = vals[np.asarray(dyn["labels"]) >= 0].mean()
    grp = layout["group"]
    ks = [k for k in range(K) if (post & (gk == k)).any()]
    vals = np.array([att[post & (gk == k)].mean() for k in ks])
    out[grp["components"]] = vals
    out[grp["overall"]] = float(pg[ks] @ vals / pg[ks].sum())
    cal = layout["calendar"]
    vals = np.array([wavg(post & (tt == t)) for t in cal["labels"]])
    out[cal["components"]] = vals
    out[cal["overall"]] = vals.mean()
    return out


def _pretest(rep, est, cells, d, m, ref) -> dict[str, Any] | None:
    """Wald test that every pre-treatment ATT(g,t) is zero (analytic covariance)."""
    pre = np.flatnonzero(np.array([c.t < d.cohort_index[c.k] for c in cells]) & ~ref[:m])
    if len(pre) == 0:
        return None
    V = rep.cov(pre, d.cluster) / d.n**2
    try:
        stat = float(est[pre] @ np.linalg.pinv(V) @ est[pre])
    except np.linalg.LinAlgError:  # pragma: no cover
        return None
    df = int(np.linalg.matrix_rank(V))
    return {"statistic": stat, "df": df, "pvalue": float(stats.chi2.sf(stat, df)) if df else float("nan")}


def _method_words(method, covs, control_group, bootstrap, bweights, cluster, panel, unit) -> str:
    est = {"reg": "outcome regression", "ipw": "inverse-probability weighting", "dr": "doubly robust"}[method]
    parts = [est if covs else "no covariates", f"{'never' if control_group == 'never' else 'not-yet'}-treated comparisons"]
    if not panel:
        parts.append("unbalanced panel" if unit else "repeated cross-sections")
    inf = f"multiplier bootstrap ({bootstrap} {bweights} draws, simultaneous bands)" if bootstrap else \
        "analytic influence-function SEs"
    parts.append(inf + (f" clustered by {cluster}" if cluster else ""))
    return ", ".join(parts)


def _check_args(*, control_group, method, aggregate, anticipation, base_period, bootstrap, bootstrap_weights,
                level) -> None:
    choices = {"control_group": (control_group, ("never", "not_yet")), "method": (method, ("reg", "ipw", "dr")),
               "aggregate": (aggregate, _KINDS), "base_period": (base_period, ("varying", "universal")),
               "bootstrap_weights": (bootstrap_weights, ("mammen", "rademacher"))}
    for arg, (val, ok) in choices.items():
        if val not in ok:
            raise InputError(f"unknown value {val!r}", field=arg, fix=f"use one of {', '.join(map(repr, ok))}")
    if not isinstance(anticipation, (int, np.integer)) or anticipation < 0:
        raise InputError(f"anticipation must be a whole number of periods >= 0, got {anticipation!r}",
                         field="anticipation", fix="use 0 (no anticipation) or the number of periods")
    if not isinstance(bootstrap, (int, np.integer)) or bootstrap < 0 or 0 < bootstrap < 50:
        raise InputError(f"bootstrap must be 0 (analytic) or at least 50 draws, got {bootstrap!r}",
                         field="bootstrap", fix="use 0, or e.g. 999 draws")
    if not 0 < level < 1:
        raise InputError(f"level must be between 0 and 1, got {level!r}", field="level", fix="e.g. 0.95")


# --------------------------------------------------------------------------- registry
def _example() -> tuple[pd.DataFrame, dict[str, Any]]:
    rng = np.random.default_rng(3)
    n, T = 120, 6
    unit = np.repeat(np.arange(n), T)
    year = np.tile(np.arange(2015, 2015 + T), n)
    first = np.array([0, 2017, 2019])[np.arange(n) % 3]
    g = np.repeat(first, T)
    effect = np.where((g > 0) & (year >= g), 0.5 + 0.2 * (year - g), 0.0)
    y = rng.normal(size=n)[unit] + 0.1 * (year - 2015) + effect + rng.normal(scale=0.5, size=n * T)
    df = pd.DataFrame({"y": y, "id": unit, "year": year, "first": g})
    return df, {"outcome": "y", "unit": "id", "time": "year", "first_treated": "first"}


STAGGERED_SPEC = EstimatorSpec(
    name="staggered_did",
    func=staggered_did,
    roles=("outcome", "unit", "time", "first_treated", "cluster", "weights"),
    example=_example,
    description="Callaway-Sant'Anna group-time ATT for staggered adoption, with aggregations",
    data_level="panel",
    scope="region",
    diagnostics=('pretest',),
)
