"""Interrupted time series: segmented regression for one authority's monthly series.

The design follows Lopez Bernal, Cummins & Gasparrini (2017), "Interrupted time series
regression for the evaluation of public health interventions: a tutorial" (IJE 46:348).
For a series :math:`y_t` observed in periods :math:`t = 0, \\dots, n-1` and an intervention
that starts in period :math:`t_0`,

.. math:: g(E[y_t]) = \\beta_0 + \\beta_1 t + \\beta_2 P_t + \\beta_3 (t - t_0 + 1) P_t
          + s(t)'\\gamma + x_t'\\delta + \\log(\\text{pop}_t)

with :math:`P_t = 1[t \\ge t_0]`, optional seasonal terms :math:`s(t)` (month dummies or
Fourier pairs), time-varying covariates :math:`x_t` and, for count families, the log
population offset.  :math:`\\beta_2` is the level change (a rate ratio
:math:`e^{\\beta_2}` under the log link) and :math:`\\beta_3` the slope change.  The slope
term counts 1 in the first post period, as the tutorial's ``I(time-36):smokban``.

Inference.  ``inference="hac"`` is heteroskedasticity- and autocorrelation-robust (HAR)
inference as recommended by Lazarus, Lewis, Stock & Watson (2018), "HAR Inference:
Recommendations for Practice", JBES 36(4):541: the equal-weighted cosine (EWC) long-run
variance with ``nu = floor(0.4 T^(2/3))`` cosine terms (:func:`ewc_long_run_variance`),
plus one correction that their stationary-regressor theory does not need but segmented
regression does.  The trend, step and ramp regressors are themselves low-frequency
signals, so the residuals lose much of the band the cosines measure and plain EWC
intervals are far too narrow (in this package's simulations, 120 monthly points with
AR(1) errors, nominal 95% EWC/t(9) intervals covered about 85%).  The EWC variance of
each reported quantity is therefore divided by its design factor ``kappa`` (the share
of that band the residuals keep, computed exactly from the design) and referred to a t
distribution with Satterthwaite degrees of freedom (see :func:`_ewc_contrasts`); those
intervals covered about 95%.  Classic Newey--West (``hac_kernel="newey-west"`` or
``hac_lags=``; statsmodels) is kept for comparison and warns: it covered about 88%.

Gaussian models default to HAR.  GLS with AR(1) errors by REML (``inference="gls"``) also
covered about 95% when the simulated errors were AR(1), with intervals about a quarter narrower,
but only 79-86% when they were AR(2) or ARMA(1,1), where HAR still covered about 95%; an
error model is an assumption the data of one authority can rarely check.  Count models use
the model-based (Poisson, negative binomial) or Pearson-scaled (quasi-Poisson) covariance,
or the same HAR sandwich on the IRLS-weighted design with Pearson residuals.

The counterfactual is the fitted model with the intervention terms set to zero; events
averted are summed over the post period with a delta-method interval.
"""

from __future__ import annotations

import math
import warnings as _warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import pandas as pd

from ehimpact.errors import InputError, format_rows
from ehimpact.estimators.checks import (
    as_list,
    covariate_matrix,
    require_columns,
    require_complete,
    require_frame,
    require_numeric,
)
from ehimpact.estimators.inference import (  # HAC/EWC and REML-AR(1) live with the rest of inference
    _cosines,
    _ewc_contrasts,
    _reml_ar1,
    ewc_long_run_variance,
    ewc_terms,
    newey_west_lags,
)
from ehimpact.estimators.registry import EstimatorSpec
from ehimpact.estimators.result import Estimate

if TYPE_CHECKING:
    from matplotlib.axes import Axes

__all__ = ["its", "ITSResult", "ITS_SPEC", "newey_west_lags", "ewc_terms", "ewc_long_run_variance"]

Family = Literal["gaussian", "poisson", "quasipoisson", "negbin"]
Errors = Literal["hac", "gls", "ols", "model"]
HacKernel = Literal["ewc", "newey-west"]

_LOG_FAMILIES = ("poisson", "quasipoisson", "negbin")
_FREQ_WORDS = {"D": "day", "W": "week", "M": "month", "Q": "quarter", "Y": "year", None: "period"}
_SEASON_LENGTH = {"M": 12, "Q": 4, "W": 52, "D": 7}
MIN_POINTS_EACH_SIDE = 8


# ---------------------------------------------------------------------------- result
@dataclass(eq=False)
class ITSResult(Estimate):
    """Result of :func:`its`: the level change plus slope change, counterfactual and averted events.

    ``estimate``/``ci`` are the level change at the (first) interruption: a rate ratio
    (``scale="ratio"``) for log-link families, a difference in the outcome's units for
    ``family="gaussian"``.

    Attributes
    ----------
    slope_change : Estimate or None
        Change in slope per period (a ratio per period for log-link families).
    counterfactual : DataFrame
        One row per period of the intervention series: ``time, observed, fitted,
        counterfactual, lower, upper`` (the interval is for the counterfactual mean),
        plus ``post``, ``in_fit`` and ``population`` when an offset was given.
    averted : Estimate or None
        Cumulative events (counterfactual minus fitted) over the post period; positive
        means fewer events than expected without the intervention.  Delta-method CI.
    coefficients : DataFrame
        Every model term: ``term, coef, se, ci_lower, ci_upper, pvalue`` (link scale).
    interruptions : DataFrame
        One row per interruption: ``start``, level and slope change with intervals.
    absolute_level, relative_level : float
        The level change at the first post period in outcome units (rate per ``per``
        when an offset was given) and relative to the counterfactual.
    """

    slope_change: Estimate | None = None
    counterfactual: pd.DataFrame | None = None
    averted: Estimate | None = None
    coefficients: pd.DataFrame | None = None
    interruptions: pd.DataFrame | None = None
    family: str = "gaussian"
    errors: str = "hac"
    period: str = "month"
    per: float = 10_000.0
    absolute_level: float = float("nan")
    relative_level: float = float("nan")
    n_pre: int = 0
    n_post: int = 0
    event_label: str = "events"

    # ---------------------------------------------------------------- words
    def headline(self) -> str:
        """One sentence on the level change, with its interval."""
        label = self.outcome_label or self.outcome or "the outcome"
        pct = f"{100 * self.level:.0f}% CI"
        lo, hi = self.ci
        if self.scale == "ratio":
            diff = self.estimate - 1
            direction = "lower" if diff < 0 else "higher"
            return (
                f"Straight after the change, the {label} rate was {abs(100 * diff):.0f}% {direction} than "
                f"its earlier trend predicted (rate ratio {self.estimate:.3f}, {pct} {lo:.3f} to {hi:.3f})."
            )
        direction = "lower" if self.estimate < 0 else "higher"
        unit = f" {self.unit}" if self.unit else ""
        return (
            f"Straight after the change, the {label} was {abs(self.estimate):,.2f}{unit} {direction} than "
            f"its earlier trend predicted ({pct} {lo:,.2f} to {hi:,.2f})."
        )

    def averted_words(self) -> str:
        """Events averted over the post period in plain words, e.g. "about 140 fewer referrals ..."."""
        if self.averted is None:
            return ""
        a = self.averted
        lo, hi = a.ci
        months = f"{self.n_post} {self.period}{'s' if self.n_post != 1 else ''}"
        word = "fewer" if a.estimate >= 0 else "more"
        pct = f"{100 * self.level:.0f}% CI"
        if lo >= 0 or hi <= 0:
            a_lo, a_hi = sorted((abs(lo), abs(hi)))
            ci = f"{pct} {_round_count(a_lo)} to {_round_count(a_hi)}"
        else:
            ci = f"{pct} from {_round_count(-lo)} more to {_round_count(hi)} fewer"
        return (f"About {_round_count(abs(a.estimate))} {word} {self.event_label} over {months} than "
                f"expected without the change ({ci}).")

    def summary(self) -> str:
        """Plain-words summary: level change, events averted, slope change, method, diagnostics."""
        lines = [self.headline()]
        if self.averted is not None:
            lines.append(self.averted_words())
        if self.slope_change is not None:
            s = self.slope_change
            lo, hi = s.ci
            if s.scale == "ratio":
                lines.append(
                    f"The trend changed by a factor of {s.estimate:.4f} per {self.period} "
                    f"({100 * s.level:.0f}% CI {lo:.4f} to {hi:.4f})."
                )
            else:
                lines.append(
                    f"The trend changed by {s.estimate:+,.3f} per {self.period} "
                    f"({100 * s.level:.0f}% CI {lo:+,.3f} to {hi:+,.3f})."
                )
        if self.significant:
            lines.append("The interval for the level change excludes no change.")
        else:
            lines.append("The interval for the level change includes no change: the data are consistent with none.")
        lines.append(
            f"Method: {self.method}; {self.n_pre} {self.period}s before and {self.n_post} after; p = {self.pvalue:.3g}."
        )
        lb = self.diagnostics.get("ljung_box_pvalue")
        dw = self.diagnostics.get("durbin_watson")
        if lb is not None and dw is not None:
            lines.append(f"Residual autocorrelation: Durbin-Watson {dw:.2f}, Ljung-Box p = {lb:.3g}.")
        lines.extend(f"Warning: {w}" for w in self.warnings)
        if self.synthetic:
            lines.append("SYNTHETIC DATA: this result illustrates the method and describes no real children.")
        return "\n".join(lines)

    # ---------------------------------------------------------------- plots
    def plot(self, ax: Axes | None = None, *, rate: bool | None = None, title: str | None = None) -> Axes:
        """Counterfactual plot: observed points, fitted line, counterfactual with band, intervention line.

        Parameters
        ----------
        ax : matplotlib Axes, optional
            Where to draw; a new figure is made when omitted.
        rate : bool, optional
            Plot rates per ``per`` population (default when an offset was given).
        title : str, optional
            Axes title.

        Returns
        -------
        matplotlib.axes.Axes
        """
        import matplotlib.pyplot as plt

        cf = self.counterfactual
        if cf is None:
            raise InputError("this result has no counterfactual to plot", field="counterfactual")
        if ax is None:
            _, ax = plt.subplots(figsize=(8, 4))
        use_rate = ("population" in cf.columns) if rate is None else rate
        if use_rate and "population" not in cf.columns:
            raise InputError("rates need a population offset", field="rate", fix="call plot(rate=False)")
        k = self.per / cf["population"].to_numpy() if use_rate else np.ones(len(cf))
        x = cf["time"]
        ax.scatter(x, cf["observed"] * k, s=14, color="#404040", label="observed", zorder=3)
        ax.plot(x, cf["fitted"] * k, color="#1f4e79", linewidth=2, label="fitted")
        post = cf["post"].to_numpy()
        ax.plot(x[post], cf["counterfactual"][post] * k[post], color="#c55a11", linestyle="--",
                linewidth=2, label="counterfactual (no change)")
        ax.fill_between(x[post], (cf["lower"] * k)[post], (cf["upper"] * k)[post], color="#c55a11",
                        alpha=0.2, linewidth=0, label=f"{100 * self.level:.0f}% CI")
        for start in self.interruptions["start"] if self.interruptions is not None else []:
            ax.axvline(start, color="grey", linestyle=":", linewidth=1.5)
        label = self.outcome_label or self.outcome or "outcome"
        ax.set_ylabel(f"{label} per {self.per:,.0f}" if use_rate else label)
        ax.set_xlabel(self.period)
        ax.set_title(title or f"Interrupted time series: {label}")
        ax.legend(frameon=False, fontsize=8)
        ax.figure.tight_layout()
        return ax

    def plot_acf(self, ax: Axes | None = None, *, lags: int | None = None) -> Axes:
        """Autocorrelation function of the model residuals with approximate 95% bounds.

        Parameters
        ----------
        ax : matplotlib Axes, optional
        lags : int, optional
            Lags to show (default: those stored in ``diagnostics["acf"]``).

        Returns
        -------
        matplotlib.axes.Axes
        """
        import matplotlib.pyplot as plt

        acf = np.asarray(self.diagnostics.get("acf", []), dtype=float)
        if lags is not None:
            acf = acf[: lags + 1]
        if ax is None:
            _, ax = plt.subplots(figsize=(6, 3))
        lag = np.arange(len(acf))
        ax.vlines(lag[1:], 0, acf[1:], color="#1f4e79", linewidth=2)
        ax.axhline(0, color="black", linewidth=0.8)
        bound = 1.96 / math.sqrt(max(self.diagnostics.get("nobs", 1), 1))
        ax.axhline(bound, color="grey", linestyle="--", linewidth=1)
        ax.axhline(-bound, color="grey", linestyle="--", linewidth=1)
        ax.set_xlabel("lag")
        ax.set_ylabel("autocorrelation")
        ax.set_title("Residual autocorrelation")
        ax.figure.tight_layout()
        return ax


def _round_count(x: float) -> str:
    """Round a count for words: 3 significant figures, at least whole numbers."""
    if not math.isfinite(x):
        return "n/a"
    if x >= 100:
        mag = 10 ** (int(math.floor(math.log10(x))) - 1)
        return f"{round(x / mag) * mag:,.0f}"
    return f"{x:,.0f}"


# ---------------------------------------------------------------------------- time axis
@dataclass
class _Timeline:
    """Periods of the series as consecutive integers, and how to show them."""

    index: np.ndarray  # integer period number (ordinal) per row
    is_date: bool
    freq: str | None
    step: float  # numeric time: spacing between periods
    origin: float  # numeric time: value of period 0
    season_pos: np.ndarray  # position in the seasonal cycle (calendar month for monthly dates)
    season_length: int

    def label(self, ordinal: int) -> Any:
        if self.is_date:
            return pd.Period(ordinal=int(ordinal), freq=self.freq).start_time
        v = self.origin + ordinal * self.step
        return int(v) if float(v).is_integer() else v

    def stamps(self, ordinals: np.ndarray) -> pd.Series:
        if self.is_date:
            return pd.Series(pd.PeriodIndex.from_ordinals(ordinals, freq=self.freq).to_timestamp())
        return pd.Series([self.label(o) for o in ordinals])


def _infer_freq(dates: pd.Series) -> str:
    u = np.sort(dates.dropna().unique())
    if len(u) < 2:
        return "M"
    days = np.diff(u).astype("timedelta64[D]").astype(float)
    d = float(np.min(days))
    for lo, hi, f in ((0.5, 1.5, "D"), (6, 8, "W"), (27, 32, "M"), (88, 93, "Q"), (360, 367, "Y")):
        if lo <= d <= hi:
            return f
    raise InputError(
        f"cannot tell the period length of the dates (smallest gap {d:.0f} days)",
        field="time", fix="give monthly, quarterly, weekly, daily or yearly dates, or pass freq='M' etc.",
    )


def _timeline(data: pd.DataFrame, time: str, freq: str | None, season_length: int | None) -> _Timeline:
    s = data[time]
    is_date = pd.api.types.is_datetime64_any_dtype(s) or isinstance(s.dtype, pd.PeriodDtype)
    if not is_date and not pd.api.types.is_numeric_dtype(s):
        # text: numbers written as text stay numbers, anything else must parse as a date
        is_date = bool(pd.to_numeric(s, errors="coerce").isna().any())
    if is_date:
        if isinstance(s.dtype, pd.PeriodDtype):
            s = s.dt.start_time
        parsed = pd.to_datetime(s, errors="coerce")
        bad = s.index[parsed.isna() & s.notna()]
        if len(bad):
            raise InputError(
                f"column {time!r} must hold dates or numbers; found {s.loc[bad[0]]!r}",
                field="time", rows=list(bad), fix="use dates such as 2021-04-01 or a period number",
            )
        f = freq or _infer_freq(parsed)
        periods = parsed.dt.to_period(f)
        ordinals = np.asarray([p.ordinal for p in periods], dtype=np.int64)
        if f == "M":
            pos = parsed.dt.month.to_numpy(dtype=float)
        elif f == "Q":
            pos = parsed.dt.quarter.to_numpy(dtype=float)
        else:
            pos = ordinals.astype(float)
        L = season_length or _SEASON_LENGTH.get(f, 12)
        return _Timeline(ordinals, True, f, 1.0, 0.0, pos, L)
    values = require_numeric(data, time, "time")
    u = np.unique(values)
    step = float(np.min(np.diff(u))) if len(u) > 1 else 1.0
    origin = float(u[0])
    k = (values - origin) / step
    if not np.allclose(k, np.round(k), atol=1e-6):
        rows = data.index[~np.isclose(k, np.round(k), atol=1e-6)]
        raise InputError(
            "time values are not equally spaced", field="time", rows=list(rows),
            fix="give one row per period with a period number (1, 2, 3, ...) or a date",
        )
    return _Timeline(np.round(k).astype(np.int64), False, None, step, origin, values.astype(float),
                     season_length or 12)


def _check_periods(tl: _Timeline, data: pd.DataFrame, groups: np.ndarray, group_names: dict[int, str]) -> None:
    """Raise for duplicate or missing periods within each series (listing them)."""
    for g in np.unique(groups):
        m = groups == g
        idx = tl.index[m]
        rows = data.index[m]
        who = group_names.get(int(g), "")
        vals, counts = np.unique(idx, return_counts=True)
        dup = vals[counts > 1]
        if len(dup):
            labels = [str(tl.label(v)) for v in dup]
            dup_rows = [r for r, i in zip(rows, idx, strict=True) if i in set(dup.tolist())]
            raise InputError(
                f"duplicate periods{who}: {format_rows(labels)}", field="time", rows=dup_rows,
                fix="keep one row per period (aggregate the series first, e.g. groupby(time).sum())",
            )
        full = np.arange(vals.min(), vals.max() + 1)
        missing = np.setdiff1d(full, vals)
        if len(missing):
            labels = [str(tl.label(v)) for v in missing]
            raise InputError(
                f"missing periods{who}: {format_rows(labels)}", field="time",
                fix="add a row for every period between the first and the last (a zero count is a count); "
                "segmented regression needs an unbroken series",
            )


def _intervention_ordinal(value: Any, tl: _Timeline, arg: str) -> int:
    if tl.is_date:
        if isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool):
            raise InputError(f"the time column holds dates, but {arg} is the number {value!r}", field=arg,
                             fix="give the date the change started, e.g. '2019-04-01'")
        try:
            ts = pd.Timestamp(value)
        except (ValueError, TypeError) as exc:
            raise InputError(f"cannot read {value!r} as a date", field=arg,
                             fix="give the date the change started, e.g. '2019-04-01'") from exc
        return int(ts.to_period(tl.freq).ordinal)
    try:
        v = float(value)
    except (TypeError, ValueError) as exc:
        raise InputError(f"the time column holds numbers, but {arg} is {value!r}", field=arg,
                         fix="give the value of the time column where the change started") from exc
    return int(math.ceil((v - tl.origin) / tl.step - 1e-9))


# ---------------------------------------------------------------------------- design
@dataclass
class _Design:
    X: np.ndarray
    names: list[str]
    effect_cols: list[int]  # columns zeroed in the counterfactual
    level_cols: list[int]  # headline level term per interruption
    slope_cols: list[int | None]
    starts: list[int]  # effective first post ordinal per interruption


def _segment_terms(t: np.ndarray, starts: Sequence[int], transition: int, mode: str,
                   slope_change: bool) -> tuple[list[np.ndarray], list[str], list[int], list[int | None]]:
    cols: list[np.ndarray] = []
    names: list[str] = []
    level_idx: list[int] = []
    slope_idx: list[int | None] = []
    multi = len(starts) > 1
    for i, k0 in enumerate(starts):
        suffix = f"_{i + 1}" if multi else ""
        if mode == "ramp" and transition > 0:
            level = np.clip((t - k0 + 1) / (transition + 1), 0.0, 1.0)
            k_eff = k0
        else:
            k_eff = k0 + (transition if mode == "exclude" else 0)
            level = (t >= k_eff).astype(float)
        level_idx.append(len(cols))
        cols.append(level)
        names.append("level" + suffix)
        if slope_change:
            slope_idx.append(len(cols))
            cols.append(np.where(t >= k_eff, t - k_eff + 1, 0).astype(float))
            names.append("slope" + suffix)
        else:
            slope_idx.append(None)
    return cols, names, level_idx, slope_idx


def _season_terms(tl: _Timeline, seasonality: Any) -> tuple[np.ndarray, list[str]]:
    n = len(tl.index)
    if seasonality is None:
        return np.empty((n, 0)), []
    L = tl.season_length
    if isinstance(seasonality, str):
        if seasonality not in ("month", "dummies"):
            raise InputError(f"unknown seasonality {seasonality!r}", field="seasonality",
                             fix="use None, 'month' (dummies) or a number of Fourier pairs such as 2")
        pos = np.mod(np.round(tl.season_pos).astype(int), L)
        levels = np.unique(pos)
        cols = [(pos == lv).astype(float) for lv in levels[1:]]
        return (np.column_stack(cols) if cols else np.empty((n, 0))), [f"season={lv}" for lv in levels[1:]]
    if isinstance(seasonality, bool) or not isinstance(seasonality, (int, np.integer)) or not 1 <= seasonality <= L // 2:
        raise InputError(f"seasonality={seasonality!r} is not a valid number of Fourier pairs", field="seasonality",
                         fix=f"use an integer from 1 to {L // 2}, 'month' for dummies, or None")
    cols, names = [], []
    for j in range(1, int(seasonality) + 1):
        ang = 2 * np.pi * j * tl.season_pos / L
        s, c = np.sin(ang), np.cos(ang)
        cols.append(s)
        names.append(f"sin{j}")
        if not (2 * j == L):  # the last cosine of an even cycle duplicates nothing; its sine is zero
            cols.append(c)
            names.append(f"cos{j}")
    X = np.column_stack(cols)
    keep = np.ptp(X, axis=0) > 1e-12
    return X[:, keep], [nm for nm, k in zip(names, keep, strict=True) if k]


# ---------------------------------------------------------------------------- fitting
@dataclass
class _Fit:
    params: np.ndarray
    cov: np.ndarray
    df: float | None  # t reference df (None: normal)
    resid: np.ndarray  # residuals for diagnostics (Pearson for counts, whitened for GLS)
    method: str
    extra: dict[str, Any] = field(default_factory=dict)
    har: dict[str, Any] | None = None  # HAR (EWC) pieces: Xw, r, period, n_periods, nu

    def var_df(self, G: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
        """Variance and t degrees of freedom (None: normal) of each contrast ``G @ params``."""
        G = np.atleast_2d(np.asarray(G, dtype=float))
        if self.har is not None:
            var, df, _, _ = _ewc_contrasts(G=G, **self.har)
            return var, df
        var = np.einsum("ij,jk,ik->i", G, self.cov, G)
        return var, (None if self.df is None else np.full(G.shape[0], self.df))


def _har_fit(params: np.ndarray, Xw: np.ndarray, r: np.ndarray, period: np.ndarray, n_periods: int,
             nu: int, method: str, resid: np.ndarray, extra: dict[str, Any]) -> _Fit:
    """A fit whose inference is design-corrected EWC (see :func:`_ewc_contrasts`)."""
    har = {"Xw": Xw, "r": r, "period": period, "n_periods": n_periods, "nu": nu}
    k = Xw.shape[1]
    var, df, kappa, plain = _ewc_contrasts(G=np.eye(k), **har)
    # the plain EWC covariance (LLSW's matrix), rescaled so its diagonal is the corrected variances
    H_inv = np.linalg.inv(Xw.T @ Xw)
    C = _cosines(n_periods, nu)[period]
    lam = C.T @ (Xw * r[:, None])  # (nu, k): sqrt(T/2) times LLSW's Lambda_j
    cov_plain = H_inv @ (2.0 / nu * lam.T @ lam) @ H_inv
    s = 1.0 / np.sqrt(kappa)
    extra = {**extra, "hac_kernel": "ewc", "ewc_terms": nu, "ewc_kappa": kappa.tolist(), "ewc_df": df.tolist(),
             "ewc_plain_se": np.sqrt(plain).tolist()}
    return _Fit(params, cov_plain * np.outer(s, s), None, resid, method, extra, har)


def _har_words(nu: int, subject: str) -> str:
    return (f"{subject}HAR standard errors: equal-weighted cosine long-run variance, {nu} cosine terms "
            "(Lazarus, Lewis, Stock & Watson 2018), corrected for the segmented-regression design "
            "with Satterthwaite t degrees of freedom")


def _fit(y: np.ndarray, X: np.ndarray, offset: np.ndarray | None, family: str, errors: str, lags: int,
         ar_order: int, groups: np.ndarray | None, hac_kernel: str = "newey-west",
         period: np.ndarray | None = None, nu: int = 0) -> _Fit:
    import statsmodels.api as sm

    n_periods = int(period.max()) + 1 if period is not None else len(y)
    har = errors == "hac" and hac_kernel == "ewc"

    if family == "gaussian":
        if errors == "gls" and ar_order == 1:
            b, cov, rho, wresid = _reml_ar1(y, X)
            return _Fit(b, cov, float(len(y) - X.shape[1]), wresid,
                        f"GLS with AR(1) errors by REML (rho {rho:.3f})", {"ar_coefficients": [rho]})
        if errors == "gls":
            model = sm.GLSAR(y, X, rho=ar_order)
            with _warnings.catch_warnings():
                _warnings.simplefilter("ignore")
                res = model.iterative_fit(maxiter=50)
            rho = np.atleast_1d(model.rho)
            return _Fit(np.asarray(res.params), np.asarray(res.cov_params()), float(res.df_resid),
                        np.asarray(res.wresid),
                        f"feasible GLS with AR({ar_order}) errors (statsmodels GLSAR, iterated Yule-Walker)",
                        {"ar_coefficients": rho.tolist()})
        model = sm.OLS(y, X)
        if har:
            res = model.fit()
            resid = np.asarray(res.resid)
            return _har_fit(np.asarray(res.params), X, resid, period, n_periods, nu, _har_words(nu, "OLS, "),
                            resid, {})
        if errors == "ols":
            res = model.fit()
            method = "OLS, classical standard errors (ignore autocorrelation: for comparison only)"
        elif groups is None:
            res = model.fit(cov_type="HAC", cov_kwds={"maxlags": lags, "use_correction": True}, use_t=True)
            method = f"OLS, Newey-West (HAC) standard errors, {lags} lags"
        else:
            res = model.fit(cov_type="hac-panel", cov_kwds={"groups": groups, "maxlags": lags}, use_t=True)
            method = f"OLS, Newey-West (HAC) standard errors within series, {lags} lags"
        return _Fit(np.asarray(res.params), np.asarray(res.cov_params()), float(res.df_resid),
                    np.asarray(res.resid), method)

    if family == "negbin":
        with _warnings.catch_warnings():
            _warnings.simplefilter("ignore")
            nb = sm.NegativeBinomial(y, X, offset=offset).fit(disp=0, maxiter=500)
        alpha = float(nb.params[-1])
        fam = sm.families.NegativeBinomial(alpha=alpha)
        label = f"negative binomial (alpha {alpha:.4g} by maximum likelihood)"
    else:
        fam = sm.families.Poisson()
        alpha = None
        label = "Poisson" if family == "poisson" else "quasi-Poisson (Pearson chi-square scale)"
    model = sm.GLM(y, X, family=fam, offset=offset)
    if har:
        res = model.fit()
        mu = np.asarray(res.mu)
        v = fam.variance(mu)
        pearson = (y - mu) / np.sqrt(v)
        # log link: IRLS weight mu^2 / V(mu); the score is sqrt(w) x times the Pearson residual
        Xw = X * (mu / np.sqrt(v))[:, None]
        extra = {"pearson_dispersion": float(np.sum(pearson**2) / res.df_resid)}
        if alpha is not None:
            extra["negbin_alpha"] = alpha
        words = f"{label} regression, log link{', log-population offset' if offset is not None else ''}, "
        return _har_fit(np.asarray(res.params), Xw, pearson, period, n_periods, nu, _har_words(nu, words),
                        pearson, extra)
    if errors == "hac":
        res = model.fit(cov_type="HAC", cov_kwds={"maxlags": lags, "use_correction": True})
        se_words = f"Newey-West (HAC) standard errors, {lags} lags"
    elif family == "quasipoisson":
        res = model.fit(scale="X2")
        se_words = "model-based standard errors scaled by the Pearson dispersion"
    else:
        res = model.fit()
        se_words = "model-based standard errors"
    mu = np.asarray(res.mu)
    pearson = (y - mu) / np.sqrt(fam.variance(mu))
    dispersion = float(np.sum(pearson**2) / res.df_resid)
    extra = {"pearson_dispersion": dispersion}
    if alpha is not None:
        extra["negbin_alpha"] = alpha
    return _Fit(np.asarray(res.params), np.asarray(res.cov_params()), None, pearson,
                f"{label} regression, log link{', log-population offset' if offset is not None else ''}, {se_words}",
                extra)


# ---------------------------------------------------------------------------- main entry
def its(
    data: pd.DataFrame,
    *,
    outcome: str,
    time: str,
    intervention: Any,
    family: Family = "gaussian",
    offset: str | None = None,
    seasonality: str | int | None = None,
    slope_change: bool = True,
    covariates: str | Sequence[str] | None = None,
    control: str | None = None,
    inference: Errors | None = None,
    errors: Errors | None = None,
    hac_lags: int | None = None,
    hac_kernel: HacKernel | None = None,
    hac_terms: int | None = None,
    ar_order: int = 1,
    transition: int | None = None,
    transition_model: Literal["exclude", "ramp"] = "exclude",
    freq: str | None = None,
    season_length: int | None = None,
    per: float = 10_000.0,
    level: float = 0.95,
    outcome_label: str | None = None,
    event_label: str | None = None,
    unit: str | None = None,
    subject: str = "Children and families in the authority",
) -> ITSResult:
    """Interrupted time series (segmented regression) for one series, or one against a comparison.

    Parameters
    ----------
    data : DataFrame
        One row per period (long form with both series when ``control`` is given).
    outcome : str
        Outcome column: a count for the count families, any number for ``"gaussian"``.
    time : str
        Period column: dates (monthly by default; frequency inferred) or period numbers.
    intervention : date, number, or list of them
        When the change started, as a date or a value of ``time``; the first period on or
        after it is the first post period.  A list fits several interruptions, each with
        its own level (and slope) change; the headline is the first.
    family : {"gaussian", "poisson", "quasipoisson", "negbin"}
        Model for the outcome.  Count families use the log link.
    offset : str, optional
        Population column (count families only); its log is the offset, and rates are
        reported per ``per`` (10,000 children by default).
    seasonality : None, "month" or int
        ``"month"``: one dummy per calendar month (position in the cycle); an integer
        ``k``: ``k`` Fourier (sine/cosine) pairs, as ``tsModel::harmonic(month, k, 12)``.
    slope_change : bool, default True
        Fit a change in slope as well as in level (False: the tutorial's main model).
    covariates : str or list of str, optional
        Time-varying covariates.
    control : str, optional
        0/1 column, 1 on the rows of the comparison series.  Controlled ITS: the estimate
        is the difference between the two series' level changes (and slope changes).
    inference : {"hac", "gls", "ols", "model"}, optional
        The standard errors (``errors=`` is its deprecated old name).
        Gaussian: ``"hac"`` (default; autocorrelation-robust (HAR) intervals that assume
        no error model, see ``hac_kernel``), ``"gls"`` (AR(``ar_order``) errors: REML for
        AR(1), as ``nlme::gls(correlation = corAR1())``; iterated feasible GLS by
        statsmodels ``GLSAR`` for higher orders; not offered for controlled ITS) or
        ``"ols"`` (classical, ignores autocorrelation; for comparison only).  Count
        families: ``"model"`` (default) or ``"hac"``.  HAR is the Gaussian default because
        in this package's simulations (120 monthly points, tests/test_its.py) it covered
        about 95% whether the errors were AR(1), AR(2) or ARMA(1,1), while AR(1) GLS covered
        about 95% only when the errors really were AR(1) (79-86% otherwise).  The price is
        width: with AR(1) errors HAR intervals were about 30% wider than GLS's for the level
        change (its t reference has few degrees of freedom, about 4 in 120 points).  Choose
        ``"gls"`` when an AR(p) error model is credible (check ``diagnostics``).
    hac_kernel : {"ewc", "newey-west"}, optional
        Long-run variance for ``inference="hac"``.  ``"ewc"`` (default): HAR inference as
        Lazarus, Lewis, Stock & Watson (2018): equal-weighted cosine estimator with
        ``hac_terms`` cosine terms, here corrected for the segmented-regression design
        (variance divided by the design factor ``kappa``, t reference with Satterthwaite
        degrees of freedom; see the module notes), which covered about 95% in this
        package's simulations.  ``"newey-west"``: classic Newey--West by statsmodels
        (normal-theory t(n - k) reference), kept for comparison; it under-covers and warns.
    hac_lags : int, optional
        Newey--West truncation lag (implies ``hac_kernel="newey-west"``); default
        :func:`newey_west_lags` (``floor(4(n/100)^(2/9))``).
    hac_terms : int, optional
        EWC cosine terms ``nu``; default :func:`ewc_terms` (``floor(0.4 T^(2/3))``, LLSW 2018).
    ar_order : int, default 1
        Autoregressive order for ``inference="gls"``.
    transition : int, optional
        Number of periods after the start that are a phase-in.
    transition_model : {"exclude", "ramp"}
        ``"exclude"``: drop the phase-in periods from the fit and measure the change from
        the end of the phase-in.  ``"ramp"``: the level change phases in linearly.
    freq : str, optional
        Period of date columns (``"M"``, ``"Q"``, ``"W"``, ``"D"``, ``"Y"``); inferred when omitted.
    season_length : int, optional
        Periods per seasonal cycle (12 for monthly data).
    per : float, default 10,000
        Rates are reported per this many people.
    level : float, default 0.95
        Confidence level.
    outcome_label, event_label, unit, subject : str, optional
        Words for the summary (``event_label`` e.g. ``"referrals"``).

    Returns
    -------
    ITSResult
        ``estimate``: level change (rate ratio for log-link families); ``slope_change``,
        ``counterfactual``, ``averted``, ``coefficients``, ``interruptions``; diagnostics
        ``durbin_watson``, ``ljung_box_pvalue``, ``acf``, ``pearson_dispersion``.

    Raises
    ------
    InputError
        Missing columns or values, non-numeric outcome, duplicate or missing periods
        (listed), an intervention outside the series, a non-positive population, negative
        counts, too few points for the model, an unknown family or error type.

    Notes
    -----
    The counterfactual sets every intervention term to zero.  Events averted are
    :math:`\\sum_{t \\ge t_0} (\\hat\\mu^{cf}_t - \\hat\\mu_t)` over the post period; the
    interval is by the delta method from the coefficient covariance, with gradient
    :math:`\\sum_t (\\hat\\mu^{cf}_t x^{cf}_t - \\hat\\mu_t x_t)` under the log link.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> t = np.arange(48)
    >>> df = pd.DataFrame({"month": pd.date_range("2019-01-01", periods=48, freq="MS"),
    ...                    "y": 50 + 0.2 * t - 6 * (t >= 24) + np.sin(t)})
    >>> res = its(df, outcome="y", time="month", intervention="2021-01-01", slope_change=False)
    >>> round(res.estimate, 1)
    -6.0
    """
    data = require_frame(data)
    covs = as_list(covariates)
    require_columns(data, {"outcome": outcome, "time": time, "offset": offset, "covariates": covs,
                           "control": control})
    if family not in ("gaussian", *_LOG_FAMILIES):
        raise InputError(f"unknown family {family!r}", field="family",
                         fix="use 'gaussian', 'poisson', 'quasipoisson' or 'negbin'")
    log_link = family in _LOG_FAMILIES
    # Gaussian default: HAR (design-corrected EWC), which kept 95% coverage in our simulations
    # whatever the error process; REML AR(1) GLS did only when the errors were AR(1) (tests/test_its.py)
    from ehimpact.estimators.inference import inference_alias

    errors = inference_alias(inference, errors, old_name="errors", func="its") or ("model" if log_link else "hac")
    allowed = ("model", "hac") if log_link else ("hac", "gls", "ols")
    if hac_kernel not in (None, "ewc", "newey-west"):
        raise InputError(f"unknown hac_kernel {hac_kernel!r}", field="hac_kernel",
                         fix="use 'ewc' (HAR, the default) or 'newey-west'")
    if hac_kernel == "ewc" and hac_lags is not None:
        raise InputError("hac_lags sets a Newey-West lag, but hac_kernel='ewc' was asked for", field="hac_lags",
                         fix="drop hac_lags (EWC uses hac_terms), or use hac_kernel='newey-west'")
    if hac_kernel == "newey-west" and hac_terms is not None:
        raise InputError("hac_terms sets the EWC cosine terms, but hac_kernel='newey-west' was asked for",
                         field="hac_terms", fix="drop hac_terms (Newey-West uses hac_lags), or use hac_kernel='ewc'")
    hac_kernel = hac_kernel or ("newey-west" if hac_lags is not None else "ewc")
    if errors not in allowed:
        raise InputError(f"errors={errors!r} does not apply to family={family!r}", field="errors",
                         fix=f"use one of {', '.join(allowed)}")
    if offset is not None and not log_link:
        raise InputError("a population offset applies to count families", field="offset",
                         fix="use family='poisson' (or 'quasipoisson', 'negbin') for counts, or model a rate column")
    if transition_model not in ("exclude", "ramp"):
        raise InputError(f"unknown transition_model {transition_model!r}", field="transition_model",
                         fix="use 'exclude' or 'ramp'")
    transition = int(transition or 0)
    if transition < 0:
        raise InputError("transition must be a number of periods >= 0", field="transition")
    if not 0 < level < 1:
        raise InputError(f"level must be between 0 and 1, got {level!r}", field="level", fix="e.g. level=0.95")

    arg_of = {outcome: "outcome", time: "time", **{c: "covariates" for c in covs}}
    if offset:
        arg_of[offset] = "offset"
    if control:
        arg_of[control] = "control"
    require_complete(data, [outcome, time, *covs, *([offset] if offset else []), *([control] if control else [])],
                     arg_of)
    y_all = require_numeric(data, outcome, "outcome")

    # series membership: 1 = the intervention series
    if control is not None:
        cvals = require_numeric(data, control, "control")
        bad = ~np.isin(cvals, (0.0, 1.0))
        if bad.any():
            raise InputError(f"column {control!r} must be 0/1 (1 = comparison series)", field="control",
                             rows=list(data.index[bad]), fix="mark the comparison series' rows with 1")
        treated = (cvals == 0).astype(float)
        if treated.all() or not treated.any():
            raise InputError("controlled ITS needs rows of both the intervention and the comparison series",
                             field="control", fix="stack both series in long form, control=1 on the comparison rows")
    else:
        treated = np.ones(len(data))

    tl = _timeline(data, time, freq, season_length)
    _check_periods(tl, data, treated.astype(int), {1: " in the intervention series", 0: " in the comparison series"}
                   if control else {})
    if control is not None:
        a, b = set(tl.index[treated == 1].tolist()), set(tl.index[treated == 0].tolist())
        if a != b:
            only = sorted(a ^ b)
            raise InputError(f"the two series cover different periods: {format_rows([str(tl.label(o)) for o in only])}",
                             field="control", fix="use the same periods for the intervention and comparison series")

    # order rows: series, then time (row order never matters)
    order = np.lexsort((tl.index, -treated))
    data = data.iloc[order]
    y = y_all[order]
    treated = treated[order]
    t_ord = tl.index[order]
    tl = _Timeline(t_ord, tl.is_date, tl.freq, tl.step, tl.origin, tl.season_pos[order], tl.season_length)
    t = (t_ord - t_ord.min()).astype(float)
    base = int(t_ord.min())

    pop = None
    if offset is not None:
        pop = require_numeric(data, offset, "offset")
        bad = ~(np.isfinite(pop) & (pop > 0))
        if bad.any():
            raise InputError("population must be positive (its log is the offset)", field="offset",
                             rows=list(data.index[bad]), fix="check the population column; every period needs one > 0")
    if log_link:
        bad = y < 0
        if bad.any():
            raise InputError("counts cannot be negative", field="outcome", rows=list(data.index[bad]),
                             fix="check the outcome column, or use family='gaussian' for a measure that can be negative")

    # interruptions
    raw = intervention if isinstance(intervention, (list, tuple)) else [intervention]
    if not raw:
        raise InputError("no intervention date given", field="intervention", fix="give the date the change started")
    starts = sorted({_intervention_ordinal(v, tl, "intervention") - base for v in raw})
    first, last = 0, int(t.max())
    for s, v in zip(starts, raw, strict=False):
        if not first < s + (transition if transition_model == "exclude" else 0) <= last:
            raise InputError(
                f"intervention {v!r} is outside the series, which runs from {tl.label(base)} to "
                f"{tl.label(base + last)}"
                + (f" (with a {transition}-period transition excluded)" if transition else ""),
                field="intervention",
                fix="give a start after the first period and on or before the last, so there are points on both sides",
            )

    # design
    cols: list[np.ndarray] = [np.ones(len(t)), t]
    names = ["const", "time"]
    seg, seg_names, lvl_idx, slp_idx = _segment_terms(t, starts, transition, transition_model, slope_change)
    offset_n = len(cols)
    cols.extend(seg)
    names.extend(seg_names)
    effect_cols = list(range(offset_n, offset_n + len(seg)))
    level_cols = [offset_n + i for i in lvl_idx]
    slope_cols = [None if i is None else offset_n + i for i in slp_idx]
    if control is not None:
        # comparison series share the seasonal terms; the treated series gets its own intercept,
        # trend and changes: the headline is the difference in changes
        treated_start = len(cols)
        cols.extend([treated, treated * t])
        names.extend(["treated", "treated:time"])
        tcols = [c * treated for c in seg]
        effect_cols = list(range(len(cols), len(cols) + len(tcols)))
        level_cols = [len(cols) + i for i in lvl_idx]
        slope_cols = [None if i is None else len(cols) + i for i in slp_idx]
        cols.extend(tcols)
        names.extend(f"treated:{nm}" for nm in seg_names)
        del treated_start
    S, s_names = _season_terms(tl, seasonality)
    C, c_names = covariate_matrix(data, covs)
    X = np.column_stack([*cols, S, C])
    names.extend(s_names)
    names.extend(c_names)

    # phase-in periods excluded from the fit
    in_fit = np.ones(len(t), dtype=bool)
    if transition and transition_model == "exclude":
        for s in starts:
            in_fit &= ~((t >= s) & (t < s + transition))
    n_fit = int(in_fit.sum())
    k = X.shape[1]
    if n_fit - k < 2:
        raise InputError(
            f"too few points to fit the model: {n_fit} periods for {k} terms",
            field="data", fix="use a longer series, fewer seasonal terms/covariates, or slope_change=False",
        )
    Xf = X[in_fit]
    rank = np.linalg.matrix_rank(Xf)
    if rank < k:
        for j in range(1, k + 1):
            if np.linalg.matrix_rank(Xf[:, :j]) < j:
                raise InputError(f"model term {names[j - 1]!r} is constant or duplicates other terms",
                                 field="covariates" if names[j - 1] in c_names else "seasonality",
                                 fix=f"drop {names[j - 1]!r} or simplify the model")

    n_periods_fit = int((treated[in_fit] == 1).sum())
    lags = int(hac_lags) if hac_lags is not None else newey_west_lags(n_periods_fit)
    period_fit = (t[in_fit] - t[in_fit].min()).astype(np.int64)
    n_periods = int(period_fit.max()) + 1
    nu = ewc_terms(n_periods) if hac_terms is None else int(hac_terms)
    if errors == "hac" and hac_kernel == "ewc" and not 1 <= nu < n_periods - 1:
        raise InputError(f"hac_terms={hac_terms!r} cosine terms do not fit a series of {n_periods} periods",
                         field="hac_terms", fix=f"use 1 to {n_periods - 2}, or leave it unset for floor(0.4 T^(2/3))")
    if errors == "gls" and control is not None:
        raise InputError("GLS errors are not available for controlled ITS", field="errors",
                         fix="use errors='hac' (HAR: EWC on the scores summed over the two series per period)")
    log_off = np.log(pop) if pop is not None else None
    fit = _fit(y[in_fit], Xf, None if log_off is None else log_off[in_fit], family, errors, lags, ar_order,
               treated[in_fit].astype(int) if control is not None else None, hac_kernel, period_fit, nu)
    b = fit.params
    k_eye = np.eye(k)

    def contrast(G: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
        var, df_g = fit.var_df(G)
        return np.atleast_2d(G) @ b, np.sqrt(var), df_g

    def one(G: np.ndarray) -> tuple[float, float, tuple[float, float], float]:
        e_, s_, d_ = contrast(G)
        (l_, h_), p_ = _wald(float(e_[0]), float(s_[0]), level, df=None if d_ is None else float(d_[0]))
        return float(e_[0]), float(s_[0]), (l_, h_), p_

    # headline: level change at the first interruption
    j = level_cols[0]
    est, se, (lo, hi), p = one(k_eye[j])
    scale = "ratio" if log_link else "continuous"
    if log_link:
        est, lo, hi = math.exp(est), math.exp(lo), math.exp(hi)

    # predictions on every row of the intervention series
    tr = treated == 1
    Xt, tt = X[tr], t[tr]
    off_t = log_off[tr] if log_off is not None else np.zeros(tr.sum())
    Xcf = Xt.copy()
    Xcf[:, effect_cols] = 0.0
    eta, eta_cf = Xt @ b, Xcf @ b
    _, se_cf, df_cf = contrast(Xcf)
    crit = _crit(level, df_cf)
    inv = np.exp if log_link else (lambda z: z)
    if log_link:
        fitted, cfm = np.exp(eta + off_t), np.exp(eta_cf + off_t)
        lower, upper = np.exp(eta_cf - crit * se_cf + off_t), np.exp(eta_cf + crit * se_cf + off_t)
    else:
        fitted, cfm = eta, eta_cf
        lower, upper = eta_cf - crit * se_cf, eta_cf + crit * se_cf
    del inv
    k_first = starts[0] + (transition if transition_model == "exclude" else 0)
    post = tt >= starts[0]
    cf = pd.DataFrame({
        "time": tl.stamps(t_ord[tr]).to_numpy(),
        "observed": y[tr], "fitted": fitted, "counterfactual": cfm, "lower": lower, "upper": upper,
        "post": post, "in_fit": in_fit[tr],
    })
    if pop is not None:
        cf["population"] = pop[tr]

    # absolute and relative level change at the first post period
    i0 = int(np.flatnonzero(tt == k_first)[0])
    scale_rate = (per / pop[tr][i0]) if pop is not None else 1.0
    x_fit_first = Xt[i0].copy()
    x_fit_first[[c for c in effect_cols if c not in level_cols[:1]]] = 0.0  # the step alone
    step_fit = float(np.exp(x_fit_first @ b + off_t[i0])) if log_link else float(x_fit_first @ b)
    absolute_level = (step_fit - cfm[i0]) * scale_rate
    relative_level = (step_fit - cfm[i0]) / cfm[i0] if cfm[i0] != 0 else float("nan")

    # events averted over the post period: sum of (counterfactual - observed).  With an intercept-shift
    # term and a canonical link (OLS, Poisson) the fitted values add up to the observed over the post
    # period, so this equals sum(counterfactual - fitted), the contrast of the intervention terms whose
    # delta-method variance gives the interval; with other fits (negbin, AR errors) it is the same
    # contrast's interval, centred on the observed sum.
    pm = (tt >= k_first) & in_fit[tr] & np.isfinite(y[tr])
    observed_post = y[tr][pm]
    averted = float(np.sum(cfm[pm] - observed_post))
    if log_link:
        grad = (cfm[pm][:, None] * Xcf[pm] - fitted[pm][:, None] * Xt[pm]).sum(axis=0)
    else:
        grad = (Xcf[pm] - Xt[pm]).sum(axis=0)
    _, av_se_g, av_df = contrast(grad)
    av_se = float(av_se_g[0])
    (av_lo, av_hi), av_p = _wald(averted, av_se, level, df=None if av_df is None else float(av_df[0]))
    n_post = int(pm.sum())
    n_pre = int(((tt < starts[0]) & in_fit[tr]).sum())
    period = _FREQ_WORDS.get(tl.freq if tl.is_date else None, "period")
    ev_label = event_label or (outcome_label or outcome)
    av_warn = []
    cf_total, obs_total = float(np.sum(cfm[pm])), float(np.sum(observed_post))
    if n_post > n_pre or (obs_total > 0 and cf_total > 2 * obs_total):
        # a (log-)linear pre-trend projected far beyond the months it was estimated from can dwarf the
        # observed counts: e.g. 12 pre months projected over 36 (the cause of "6,060 averted" for an
        # authority with about 400 events after the change)
        av_warn.append(
            f"the counterfactual projects a trend estimated from {n_pre} {period}s before the change over "
            f"{n_post} {period}s after it (it expects {_round_count(cf_total)} {ev_label} where "
            f"{_round_count(obs_total)} were observed): events averted rest on that projection; read the level "
            "change, and compare over a post period no longer than the pre period")
    averted_est = Estimate(
        estimate=averted, se=av_se, ci=(av_lo, av_hi), pvalue=av_p, estimand="events averted over the post period",
        method="counterfactual minus observed, summed over the post period; delta-method CI",
        n_treated=n_post, n_control=n_pre, outcome=outcome, outcome_label=f"cumulative {ev_label} averted",
        scale="count", level=level, units="months", subject=subject, warnings=av_warn,
    )

    slope_est = None
    if slope_cols[0] is not None:
        js = slope_cols[0]
        s_est, s_se, (s_lo, s_hi), s_p = one(k_eye[js])
        if log_link:
            s_est, s_lo, s_hi = math.exp(s_est), math.exp(s_lo), math.exp(s_hi)
        slope_est = Estimate(
            estimate=s_est, se=s_se, ci=(s_lo, s_hi), pvalue=s_p, estimand=f"slope change per {period}",
            method=fit.method, n_treated=n_post, n_control=n_pre, outcome=outcome, outcome_label=outcome_label,
            scale=scale, unit=unit, level=level,
        )

    _, se_all, df_all = contrast(k_eye)
    coef_table = _coef_table(names, b, se_all, level, df_all)
    inter_rows = []
    for i, s in enumerate(starts):
        row = {"start": tl.label(base + s)}
        for kind, cidx in (("level", level_cols[i]), ("slope", slope_cols[i])):
            if cidx is None:
                continue
            e, _, (l_, h_), _ = one(k_eye[cidx])
            tf = math.exp if log_link else float
            row.update({kind: tf(e), f"{kind}_lower": tf(l_), f"{kind}_upper": tf(h_)})
        inter_rows.append(row)

    diagnostics, warn = _diagnostics(fit, tl, treated[in_fit] == 1, n_pre, n_post, family, errors, level,
                                     hac_kernel)
    if fit.har is not None:
        _, df_level = fit.var_df(k_eye[j])
        diagnostics["har_df_level"] = float(df_level[0])
        diagnostics["ewc_kappa_level"] = fit.extra["ewc_kappa"][j]
    diagnostics.update({"nobs": n_fit, "n_terms": k,
                        "hac_lags": lags if errors == "hac" and hac_kernel == "newey-west" else None,
                        "seasonality": seasonality, "transition": transition,
                        "transition_model": transition_model if transition else None,
                        "controlled": control is not None, **fit.extra})
    method = f"interrupted time series, {fit.method}"
    if control is not None:
        method = "controlled " + method + "; estimate = difference between the series' changes"
    if seasonality is not None:
        method += f"; seasonality {'by month dummies' if isinstance(seasonality, str) else f'{seasonality} Fourier pair(s)'}"
    return ITSResult(
        estimate=est, se=se, ci=(lo, hi), pvalue=p,
        estimand="level change" + (" (rate ratio)" if log_link else ""), method=method,
        n_treated=n_post, n_control=n_pre, diagnostics=diagnostics, outcome=outcome, outcome_label=outcome_label,
        subject=subject, scale=scale, unit=unit, level=level, warnings=warn,
        slope_change=slope_est, counterfactual=cf, averted=averted_est, coefficients=coef_table,
        interruptions=pd.DataFrame(inter_rows), family=family, errors=errors, period=period, per=per,
        absolute_level=absolute_level, relative_level=relative_level, n_pre=n_pre, n_post=n_post,
        event_label=ev_label,
    )


def _crit(level: float, df: Any) -> Any:
    """Two-sided critical value: normal when ``df`` is None, else t(df) (``df`` may be an array)."""
    from scipy import special

    q = 0.5 + level / 2
    if df is None:
        return float(special.ndtri(q))
    c = special.stdtrit(np.asarray(df, dtype=float), q)
    return float(c) if np.ndim(c) == 0 else c


def _wald(est: Any, se: Any, level: float, df: Any) -> tuple[tuple[Any, Any], Any]:
    """Vectorised Wald interval and two-sided p-value (t(df) or normal), as ``normal_ci``.

    scipy's frozen distributions cost milliseconds each; the special functions do not,
    which matters in simulation loops over many fits.
    """
    from scipy import special

    est, se = np.asarray(est, dtype=float), np.asarray(se, dtype=float)
    crit = _crit(level, df)
    with np.errstate(divide="ignore", invalid="ignore"):
        z = np.abs(est / se)
    p = 2 * (special.ndtr(-z) if df is None else special.stdtr(df, -z))
    lo, hi = est - crit * se, est + crit * se
    if est.ndim == 0:
        return (float(lo), float(hi)), float(p)
    return (lo, hi), p


def _coef_table(names: list[str], b: np.ndarray, se: np.ndarray, level: float, df: Any) -> pd.DataFrame:
    (lo, hi), p = _wald(b, se, level, df)
    return pd.DataFrame({"term": names, "coef": b, "se": se, "ci_lower": lo, "ci_upper": hi, "pvalue": p})


def _diagnostics(fit: _Fit, tl: _Timeline, treated_rows: np.ndarray, n_pre: int, n_post: int, family: str,
                 errors: str, level: float, hac_kernel: str = "ewc") -> tuple[dict[str, Any], list[str]]:
    from statsmodels.stats.diagnostic import acorr_ljungbox
    from statsmodels.stats.stattools import durbin_watson
    from statsmodels.tsa.stattools import acf

    r = fit.resid[treated_rows] if len(fit.resid) == len(treated_rows) else fit.resid
    n = len(r)
    nlags = int(min(24, max(1, n // 4)))
    lb_lags = int(min(12, max(1, n // 5)))
    lb = acorr_ljungbox(r, lags=[lb_lags])
    diag: dict[str, Any] = {
        "durbin_watson": float(durbin_watson(r)),
        "ljung_box_lags": lb_lags,
        "ljung_box_stat": float(lb["lb_stat"].iloc[0]),
        "ljung_box_pvalue": float(lb["lb_pvalue"].iloc[0]),
        "acf": acf(r, nlags=nlags, fft=False).tolist(),
        "residuals": "Pearson" if family != "gaussian" else ("whitened" if errors == "gls" else "raw"),
    }
    warn: list[str] = []
    if min(n_pre, n_post) < MIN_POINTS_EACH_SIDE:
        warn.append(
            f"only {n_pre} point(s) before and {n_post} after the change: with fewer than "
            f"{MIN_POINTS_EACH_SIDE} on either side the trend and the change are poorly estimated"
        )
    if diag["ljung_box_pvalue"] < 0.05 and errors == "gls":
        warn.append(
            f"residuals whitened by the AR error model are still autocorrelated (Ljung-Box p = "
            f"{diag['ljung_box_pvalue']:.3g}): the error model may be wrong and its intervals too narrow; "
            "use errors='hac' (no error model) or a higher ar_order"
        )
    if diag["ljung_box_pvalue"] < 0.05 and errors in ("ols", "model"):
        warn.append(
            f"residuals are autocorrelated (Ljung-Box p = {diag['ljung_box_pvalue']:.3g}): intervals that "
            "ignore this are too narrow; use errors='hac' (or 'gls' for a Gaussian model)"
        )
    disp = fit.extra.get("pearson_dispersion")
    if disp is not None:
        diag["pearson_dispersion"] = disp
        if family == "poisson" and disp > 1.5 and errors == "model":
            warn.append(
                f"overdispersion: Pearson chi-square/df = {disp:.2f} (> 1.5), so Poisson intervals are too "
                "narrow; use family='quasipoisson' or 'negbin'"
            )
    if errors == "hac" and hac_kernel == "newey-west":
        warn.append(
            "classic Newey-West intervals for level and slope changes are often too narrow in series of "
            f"this length ({n} points): in this package's simulations (120 monthly points, AR(1) errors, rho 0.3) "
            "nominal 95% intervals covered about 88%; errors='hac' with the default hac_kernel='ewc' (HAR, "
            "design-corrected) and errors='gls' covered about 95%"
        )
    del level, tl
    return diag, warn


def _example() -> tuple[pd.DataFrame, dict[str, Any]]:
    rng = np.random.default_rng(5)
    n = 60
    t = np.arange(n)
    e = np.zeros(n)
    for i in range(1, n):
        e[i] = 0.3 * e[i - 1] + rng.normal(0, 3)
    y = 80 + 0.3 * t - 10 * (t >= 36) - 0.2 * np.maximum(t - 35, 0) + 4 * np.sin(2 * np.pi * t / 12) + e
    df = pd.DataFrame({"period": pd.date_range("2018-01-01", periods=n, freq="MS"), "rate": y})
    return df, {"outcome": "rate", "time": "period", "intervention": "2021-01-01", "seasonality": 1}


ITS_SPEC = EstimatorSpec(
    name="its",
    func=its,
    roles=("outcome", "time", "offset", "control"),
    example=_example,
    description="Interrupted time series: segmented regression with level and slope change (Lopez Bernal et al. 2017)",
    data_level="series",
    scope="authority",
)
