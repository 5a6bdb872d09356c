"""Power planning: the smallest effect each design could detect, before an evaluation is run.

``eh.power.mde(kind, ...)`` gives the minimum detectable effect (MDE) for one design family, as an
:class:`MDEResult` that says it in words::

    >>> import ehimpact as eh
    >>> r = eh.power.mde("proportions", n_treated=1022, n_control=978, base_rate=0.201,
    ...                  outcome_label="be referred to children's social care within 12 months")
    >>> round(r.mde, 4)
    0.0477
    >>> print(r.sentence())  # doctest: +ELLIPSIS
    With 1,022 supported and 978 comparison children, an effect smaller than 4.8 percentage points on how ...

Design families
---------------
- ``"proportions"`` (:func:`mde_proportions`): two independent groups, a 0/1 outcome; Cohen's h, as
  statsmodels' ``NormalIndPower``.
- ``"matched"`` (:func:`mde_matched`): the child-level comparison after matching or weighting, with the
  effective sample sizes the balance leaves (Kish) and any variance inflation.
- ``"panel"`` (:func:`mde_panel`): adopting against comparison authorities, pre and post periods,
  intra-cluster and serial correlation (:func:`estimate_panel_structure`), Bloom's multiplier.
- ``"series"`` (:func:`mde_series`): one authority's own series (interrupted time series, synthetic
  control), from the pre-period noise.

Every analytic MDE can be checked by :func:`simulate_power`: resample the authority's own data, plant
the effect, rerun the design and count how often it is detected.

References
----------
Bloom, H. S. (1995). Minimum detectable effects: a simple way to report the statistical power of
experimental designs. *Evaluation Review* 19(5):547-556.
Bloom, H. S. (2006). The core analytics of randomized experiments for social research. MDRC working
paper on research methodology.
Cohen, J. (1988). *Statistical Power Analysis for the Behavioral Sciences*, 2nd ed., ch. 6 (h).
Kish, L. (1965). *Survey Sampling*. Wiley (effective sample size of weighted data).
Nickell, S. (1981). Biases in dynamic models with fixed effects. *Econometrica* 49:1417-1426.
"""

from __future__ import annotations

import inspect
import math
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import pandas as pd
from scipy import optimize, stats

from ehimpact.errors import InputError

__all__ = [
    "MDEResult", "PanelStructure", "PowerSimulation", "bloom_multiplier", "effective_sample_size",
    "estimate_panel_structure", "mde", "mde_matched", "mde_panel", "mde_proportions", "mde_series",
    "simulate_power",
]

Direction = Literal["decrease", "increase"]


# ----------------------------------------------------------------------------- result
@dataclass
class MDEResult:
    """A minimum detectable effect and the words to say it in.

    Attributes
    ----------
    mde : float
        The MDE, positive, in ``units`` (a proportion, 0.052, for ``scale="proportion"``).
    units : str
        What the number is in: ``"proportion"`` or a named unit (``"referrals per 10,000 children"``).
    kind : str
        Design family: ``"proportions"``, ``"matched"``, ``"panel"`` or ``"series"``.
    method : str
        The formula used, in words, with its source.
    inputs : dict
        Everything the number rests on (sizes, base rate, noise, correlations, alpha, power).
    n_text : str
        The sample sizes in words, in their own units ("1,022 supported and 978 comparison children").
    outcome_label : str, optional
        For proportions a verb phrase after "how likely children are to"; otherwise a noun phrase.
    alpha, power : float
        Two-sided significance level and power.
    """

    mde: float
    units: str
    kind: str
    method: str
    inputs: dict[str, Any]
    n_text: str
    outcome_label: str | None = None
    alpha: float = 0.05
    power: float = 0.8
    warnings: list[str] = field(default_factory=list)

    @property
    def scale(self) -> str:
        """``"proportion"`` when the MDE is a difference in proportions."""
        return "proportion" if self.units == "proportion" else "level"

    @property
    def display_value(self) -> float:
        """The MDE as shown to readers: percentage points for proportions, else in ``units``."""
        return 100 * self.mde if self.scale == "proportion" else self.mde

    @property
    def display_units(self) -> str:
        return "percentage points" if self.scale == "proportion" else self.units

    def sentence(self) -> str:
        """The MDE in plain words.

        Examples
        --------
        >>> mde_proportions(1022, 978, 0.201, outcome_label="be referred within 12 months").sentence()
        ... # doctest: +ELLIPSIS
        'With 1,022 supported and 978 comparison children, an effect smaller than 4.8 percentage points ...'
        """
        if not math.isfinite(self.mde):
            return (f"With {self.n_text}, no effect on {self._on() or 'the outcome'} could be detected with "
                    f"{_pct(self.power)} power: " + (self.warnings[0] if self.warnings else "the data are too few."))
        on = self._on()
        share = self.inputs.get("mde_share_of_pre_mean")
        of_mean = f" ({100 * share:.0f}% of the average before the change)" if share else ""
        return (f"With {self.n_text}, an effect smaller than {_num(self.display_value)} {self.display_units}"
                f"{of_mean}{f' on {on}' if on else ''} would probably be missed (the minimum detectable effect: "
                f"{_pct(self.power)} power, {_pct(self.alpha)} two-sided test).")

    def _on(self) -> str | None:
        label = self.outcome_label or self.inputs.get("outcome")
        if not label:
            return None
        if self.scale == "proportion" and self.outcome_label:
            return f"how likely children are to {label}"
        return str(label)

    def to_dict(self) -> dict[str, Any]:
        from ehimpact.jsonsafe import json_safe

        return json_safe({"mde": self.mde, "units": self.units, "kind": self.kind, "method": self.method,
                          "inputs": self.inputs, "n_text": self.n_text, "outcome_label": self.outcome_label,
                          "alpha": self.alpha, "power": self.power, "sentence": self.sentence(),
                          "warnings": list(self.warnings)})


def _num(x: float) -> str:
    """Two significant figures at least, one decimal at least: 5.2, 12.3, 0.031, 1,250."""
    ax = abs(x)
    if ax >= 100:
        return f"{x:,.0f}"
    if ax >= 1:
        return f"{x:,.1f}"
    if ax == 0:
        return "0"
    digits = max(1, 1 - int(math.floor(math.log10(ax))))
    return f"{x:.{digits}f}"


def _pct(x: float) -> str:
    return f"{100 * x:.0f}%" if abs(100 * x - round(100 * x)) < 1e-9 else f"{100 * x:g}%"


# ----------------------------------------------------------------------------- checks
def _check_prob(value: float, name: str, *, open_interval: bool = True) -> float:
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise InputError(f"{name} is {value!r}", field=name, fix=f"give {name} as a number between 0 and 1") from None
    ok = 0 < v < 1 if open_interval else 0 <= v < 1
    if not ok or not math.isfinite(v):
        raise InputError(f"{name} is {value!r}; it must lie strictly between 0 and 1", field=name,
                         fix=f"give {name} as a share, e.g. 0.2 for 20%")
    return v


def _check_count(value: float, name: str, minimum: float = 1) -> float:
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise InputError(f"{name} is {value!r}", field=name, fix=f"give {name} as a whole number") from None
    if not math.isfinite(v) or v < minimum:
        raise InputError(f"{name} is {value!r}; it must be at least {minimum:g}", field=name,
                         fix=f"give {name} as a count of at least {minimum:g}")
    return v


def _check_positive(value: float, name: str, *, allow_zero: bool = False) -> float:
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise InputError(f"{name} is {value!r}", field=name, fix=f"give {name} as a positive number") from None
    if not math.isfinite(v) or v < 0 or (v == 0 and not allow_zero):
        raise InputError(f"{name} is {value!r}; it must be {'>= 0' if allow_zero else '> 0'}", field=name,
                         fix=f"give {name} as a positive number")
    return v


def _check_rho(value: float, name: str = "rho") -> float:
    v = float(value)
    if not -1 < v < 1:
        raise InputError(f"{name} is {value!r}; an AR(1) correlation lies strictly between -1 and 1", field=name,
                         fix="estimate it with estimate_panel_structure(...) or give e.g. 0.3")
    return v


# ----------------------------------------------------------------------------- building blocks
def bloom_multiplier(df: float | None = None, *, alpha: float = 0.05, power: float = 0.8,
                     two_sided: bool = True) -> float:
    r"""Bloom's (1995) multiplier: the MDE is this many standard errors of the estimate.

    Parameters
    ----------
    df : float, optional
        Degrees of freedom of the test (clusters minus 2 for a cluster comparison); ``None`` for a
        normal test (large samples).
    alpha : float, default 0.05
        Significance level.
    power : float, default 0.8
        Power.
    two_sided : bool, default True
        Two-sided test.

    Returns
    -------
    float

    Notes
    -----
    .. math:: M = t_{1-\alpha/2,\,df} + t_{power,\,df}

    (one-sided: :math:`t_{1-\alpha}`).  Bloom (1995, Table 1): 2.80 for a two-sided 5% test at 80%
    power with many degrees of freedom (1.960 + 0.842); with few clusters it grows (Bloom 2006,
    Table 2: about 3.0 with 20 df, 3.5 with 5 df... computed here from the t quantiles).  The
    far tail of a two-sided test is ignored, as in Bloom.

    Examples
    --------
    >>> round(bloom_multiplier(), 2)
    2.8
    """
    alpha = _check_prob(alpha, "alpha")
    power = _check_prob(power, "power")
    q = 1 - alpha / 2 if two_sided else 1 - alpha
    if df is None or not math.isfinite(df):
        return float(stats.norm.ppf(q) + stats.norm.ppf(power))
    if df <= 0:
        raise InputError(f"the test has {df:g} degrees of freedom", field="df",
                         fix="a cluster comparison needs at least 3 clusters (df = clusters - 2)")
    return float(stats.t.ppf(q, df) + stats.t.ppf(power, df))


def effective_sample_size(weights: Sequence[float] | np.ndarray) -> float:
    r"""Kish's (1965) effective sample size of weighted data, :math:`(\sum w)^2 / \sum w^2`.

    Examples
    --------
    >>> effective_sample_size([1, 1, 1, 1])
    4.0
    >>> effective_sample_size([2, 1, 1])  # a control matched twice counts for less than two
    2.6666666666666665
    """
    w = np.asarray(weights, dtype=float)
    w = w[np.isfinite(w) & (w > 0)]
    if len(w) == 0:
        raise InputError("no positive weights", field="weights", fix="pass the matching or balancing weights")
    return float(w.sum() ** 2 / (w**2).sum())


def _ar1_corr(n: int, rho: float) -> np.ndarray:
    idx = np.arange(n)
    return rho ** np.abs(idx[:, None] - idx[None, :])


def _contrast_variance(n_pre: int, n_post: int, rho: float) -> float:
    """Var(mean(post) - mean(pre)) / sigma^2 for an AR(1) series with unit variance."""
    c = np.concatenate([np.full(n_pre, -1.0 / n_pre), np.full(n_post, 1.0 / n_post)])
    return float(c @ _ar1_corr(n_pre + n_post, rho) @ c)


# ----------------------------------------------------------------------------- proportions
def mde_proportions(n_treated: float, n_control: float, base_rate: float, *, alpha: float = 0.05,
                    power: float = 0.8, design_effect: float = 1.0, direction: Direction = "decrease",
                    outcome_label: str | None = None, subject: str = "children") -> MDEResult:
    r"""Minimum detectable difference of two proportions (independent groups).

    Parameters
    ----------
    n_treated, n_control : float
        Children (or families) in each group.
    base_rate : float
        The comparison group's proportion with the outcome (e.g. 0.20 referred within 12 months).
    alpha : float, default 0.05
        Two-sided significance level.
    power : float, default 0.8
        Power.
    design_effect : float, default 1
        Variance inflation (clustering, weighting): each group counts as ``n / design_effect``.
    direction : {"decrease", "increase"}
        The direction of the effect looked for; the MDE differs a little by direction because the
        variance of a proportion depends on its level.
    outcome_label : str, optional
        Verb phrase after "how likely children are to" for :meth:`MDEResult.sentence`.
    subject : str, default "children"
        What the counts count.

    Returns
    -------
    MDEResult
        ``mde`` in proportion units (0.049 = 4.9 percentage points).

    Notes
    -----
    Cohen's (1988) effect size for proportions is :math:`h = 2\arcsin\sqrt{p_1} - 2\arcsin\sqrt{p_0}`,
    whose estimate has variance :math:`1/n_1 + 1/n_0` whatever the proportions.  With
    :math:`\tilde n = (1/n_1 + 1/n_0)^{-1}` (after dividing each by the design effect) and
    :math:`z = \Phi^{-1}(1 - \alpha/2)`, :math:`|h|` solves

    .. math:: \Phi(|h|\sqrt{\tilde n} - z) + \Phi(-|h|\sqrt{\tilde n} - z) = \text{power}

    exactly as ``statsmodels.stats.power.NormalIndPower().solve_power(effect_size=None, nobs1=n_1,
    alpha=alpha, power=power, ratio=n_0/n_1, alternative="two-sided")`` (to 1e-6, tested), and the
    MDE is :math:`|p_0 - p_1|` with :math:`p_1 = \sin^2(\arcsin\sqrt{p_0} \mp |h|/2)`.  Ignoring the
    far tail, :math:`|h| = (z + z_{power}) / \sqrt{\tilde n}` (Bloom's multiplier 2.80 standard errors).

    Examples
    --------
    >>> round(mde_proportions(1022, 978, 0.201).mde, 4)
    0.0477
    """
    n1 = _check_count(n_treated, "n_treated", 2)
    n0 = _check_count(n_control, "n_control", 2)
    p0 = _check_prob(base_rate, "base_rate")
    alpha = _check_prob(alpha, "alpha")
    pw = _check_prob(power, "power")
    deff = _check_positive(design_effect, "design_effect")
    if direction not in ("decrease", "increase"):
        raise InputError(f"direction is {direction!r}", field="direction", fix="use 'decrease' or 'increase'")
    if pw <= alpha / 2:
        raise InputError(f"power {pw} is below alpha/2", field="power", fix="use e.g. power=0.8")
    n_tilde = 1.0 / (deff / n1 + deff / n0)
    z = stats.norm.isf(alpha / 2)

    def f(h: float) -> float:
        s = h * math.sqrt(n_tilde)
        return float(stats.norm.sf(z - s) + stats.norm.cdf(-z - s)) - pw

    h = float(optimize.brentq(f, 0.0, 50.0, xtol=1e-14, rtol=1e-14, maxiter=500))
    a0 = math.asin(math.sqrt(p0))
    warnings: list[str] = []
    if direction == "decrease":
        a1 = a0 - h / 2
        if a1 < 0:
            warnings.append(f"even a fall to 0 from {100 * p0:.1f}% could not be detected with these numbers.")
            value = float("nan")
        else:
            value = p0 - math.sin(a1) ** 2
    else:
        a1 = a0 + h / 2
        if a1 > math.pi / 2:
            warnings.append(f"even a rise to 100% from {100 * p0:.1f}% could not be detected with these numbers.")
            value = float("nan")
        else:
            value = math.sin(a1) ** 2 - p0
    n_text = _two_group_text(n1, n0, subject)
    return MDEResult(
        mde=value, units="proportion", kind="proportions",
        method=("difference of two proportions, Cohen's h with a two-sided normal test "
                "(as statsmodels NormalIndPower)" + (f", design effect {deff:g}" if deff != 1 else "")),
        inputs={"n_treated": n1, "n_control": n0, "base_rate": p0, "design_effect": deff, "cohen_h": h,
                "effective_n": n_tilde, "direction": direction, "alpha": alpha, "power": pw},
        n_text=n_text, outcome_label=outcome_label, alpha=alpha, power=pw, warnings=warnings)


def _two_group_text(n1: float, n0: float, subject: str) -> str:
    return f"{n1:,.0f} supported and {n0:,.0f} comparison {subject}"


# ----------------------------------------------------------------------------- matched / weighted
def mde_matched(n_treated: float, n_control: float, base_rate: float, *,
                weights_treated: Sequence[float] | np.ndarray | None = None,
                weights_control: Sequence[float] | np.ndarray | None = None,
                variance_inflation: float = 1.0, r_squared: float = 0.0, alpha: float = 0.05,
                power: float = 0.8, direction: Direction = "decrease", outcome_label: str | None = None,
                subject: str = "children") -> MDEResult:
    r"""MDE of a child-level comparison after matching or weighting.

    Parameters
    ----------
    n_treated, n_control : float
        Supported and comparison children available (before matching).
    base_rate : float
        Comparison children's proportion with the outcome.
    weights_treated, weights_control : array-like, optional
        Balance achieved, as weights: the matching weights (times each comparison child is used,
        divided by the matches per child) or balancing weights of each group.  They set the
        effective sample sizes.
    variance_inflation : float, default 1
        Balance achieved or expected, as a factor on the variance of a simple comparison of the two
        groups: measured by running the design on placebo outcomes (see
        :func:`ehimpact.report.planning.plan`), or expected (e.g. 2 for 1:1 matching with
        replacement that reuses comparison children).  Multiplies with the weights' own loss.
    r_squared : float, default 0
        Share of outcome variance explained by covariates adjusted for: the variance shrinks by
        ``1 - r_squared`` (Bloom 2006).
    alpha, power, outcome_label, subject
        As :func:`mde_proportions`.
    direction : {"decrease", "increase"}
        Only checks that a fall of the MDE is possible (the formula is symmetric).

    Returns
    -------
    MDEResult

    Notes
    -----
    Effective sample sizes (Kish 1965): :math:`n^{e}_g = (\sum_i w_i)^2 / \sum_i w_i^2` in each group
    (``n_g`` when no weights are given).  The MDE is Bloom's (1995; 2006, eq. for a binary outcome)

    .. math:: MDE = M \sqrt{\text{VIF}\,(1 - R^2)\; p_0 (1 - p_0) \Big(\frac{1}{n^e_1} + \frac{1}{n^e_0}\Big)},
              \quad M = z_{1-\alpha/2} + z_{power}

    with the variance evaluated at the base rate :math:`p_0` in both groups.  Unlike Cohen's h
    (:func:`mde_proportions`) it does not let the treated group's variance shrink with the effect:
    after matching most of the variance is the reused comparison children's, at :math:`p_0`.
    Confirm with :func:`simulate_power` (``method="plasmode"`` for matching with replacement).

    Examples
    --------
    >>> r = mde_matched(1022, 978, 0.201, weights_control=[2.0] * 300 + [1.0] * 422)
    >>> r.inputs["effective_n_control"] > 600
    True
    """
    n1 = _check_count(n_treated, "n_treated", 2)
    n0 = _check_count(n_control, "n_control", 2)
    p0 = _check_prob(base_rate, "base_rate")
    alpha = _check_prob(alpha, "alpha")
    pw = _check_prob(power, "power")
    vif = _check_positive(variance_inflation, "variance_inflation")
    r2 = float(r_squared)
    if not 0 <= r2 < 1:
        raise InputError(f"r_squared is {r_squared!r}", field="r_squared", fix="give a share in [0, 1), e.g. 0.1")
    if direction not in ("decrease", "increase"):
        raise InputError(f"direction is {direction!r}", field="direction", fix="use 'decrease' or 'increase'")
    e1 = effective_sample_size(weights_treated) if weights_treated is not None else n1
    e0 = effective_sample_size(weights_control) if weights_control is not None else n0
    m = bloom_multiplier(alpha=alpha, power=pw)
    se = math.sqrt(vif * (1 - r2) * p0 * (1 - p0) * (1 / e1 + 1 / e0))
    value = m * se
    warnings: list[str] = []
    limit = p0 if direction == "decrease" else 1 - p0
    if value >= limit:
        warnings.append(f"even a {'fall to 0' if direction == 'decrease' else 'rise to 100%'} from "
                        f"{100 * p0:.1f}% could not be detected with these numbers.")
        value = float("nan")
    n_text = _two_group_text(n1, n0, subject)
    w1, w0 = e1 / vif, e0 / vif  # as many children in a simple comparison
    if abs(w1 - n1) > 0.5 or abs(w0 - n0) > 0.5:
        n_text += f" (worth about {w1:,.0f} and {w0:,.0f} in a simple comparison, after balancing)"
    return MDEResult(
        mde=value, units="proportion", kind="matched",
        method=(f"matched or weighted comparison: Bloom (1995) multiplier {m:.2f} x SE of a difference of "
                f"proportions at the base rate, Kish effective sizes, variance inflation {vif:.2f}, "
                f"covariate R-squared {r2:g}"),
        inputs={"n_treated": n1, "n_control": n0, "base_rate": p0, "effective_n_treated": e1,
                "effective_n_control": e0, "variance_inflation": vif, "r_squared": r2, "multiplier": m,
                "se": se, "direction": direction, "alpha": alpha, "power": pw},
        n_text=n_text, outcome_label=outcome_label, alpha=alpha, power=pw, warnings=warnings)


# ----------------------------------------------------------------------------- panel
@dataclass
class PanelStructure:
    """Noise of an authority x period panel, for :func:`mde_panel` (see :func:`estimate_panel_structure`).

    Attributes
    ----------
    sd_total : float
        SD of the outcome around the period means (between-authority plus within-authority).
    sd_within : float
        SD of the within-authority residual (after authority and period effects).
    icc : float
        Intra-cluster correlation: share of ``sd_total**2`` that is a fixed authority level.
    rho : float
        AR(1) serial correlation of the within-authority residual (bias-corrected).
    n_units, n_periods : int
    mean : float
        Grand mean of the outcome.
    """

    sd_total: float
    sd_within: float
    icc: float
    rho: float
    n_units: int
    n_periods: int
    mean: float
    rho_raw: float = float("nan")

    def to_dict(self) -> dict[str, float]:
        return {k: float(v) for k, v in self.__dict__.items()}


def estimate_panel_structure(panel: pd.DataFrame, unit: str, time: str, outcome: str, *,
                             season_length: int | None = None) -> PanelStructure:
    r"""Intra-cluster correlation and AR(1) serial correlation of a unit x period panel.

    Use the rows without treatment effects: comparison authorities, or the pre-adoption months.

    Parameters
    ----------
    panel : DataFrame
        One row per unit and period.
    unit, time, outcome : str
        Column names.
    season_length : int, optional
        Also remove each unit's own seasonal pattern (12 for months): use it when the comparison
        windows are whole years, over which an authority's own seasonality cancels.

    Returns
    -------
    PanelStructure

    Notes
    -----
    Residuals :math:`e_{it} = y_{it} - \bar y_{i\cdot} - \bar y_{\cdot t} + \bar y_{\cdot\cdot}`
    (two-way demeaning).  The lag-1 autocorrelation pooled over units,
    :math:`\hat\rho_0 = \sum e_{it} e_{i,t-1} / \sum e_{it}^2`, is biased towards zero by the unit
    demeaning by about :math:`(1 + \rho)/(T - 1)` (Nickell 1981); it is corrected to
    :math:`\hat\rho = (\hat\rho_0 (T - 1) + 1) / (T - 2)`.  The within variance is
    :math:`\hat\sigma_e^2 = \sum e^2 / [(N - 1)(T - \mathbf 1' R \mathbf 1 / T)]`, with :math:`R` the AR(1)
    correlation matrix (the demeaning removes :math:`\mathbf 1' R \mathbf 1 / T` of the :math:`T` degrees of
    freedom).  The authority variance is method-of-moments from the period-adjusted unit means,
    :math:`\hat\sigma_u^2 = \max(0, s^2_{\bar y_i} - \hat\sigma_e^2 \mathbf 1' R \mathbf 1 / T^2)`, and
    :math:`ICC = \hat\sigma_u^2 / (\hat\sigma_u^2 + \hat\sigma_e^2)`.  With ``season_length`` = s the
    residuals are also centred within each unit and season (periods in order, position mod s), and
    the within variance loses :math:`N(s - 1)` more degrees of freedom.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> rows = [(u, t, 10 + u + rng.normal()) for u in range(30) for t in range(48)]
    >>> s = estimate_panel_structure(pd.DataFrame(rows, columns=["u", "t", "y"]), "u", "t", "y")
    >>> s.icc > 0.9
    True
    """
    if not isinstance(panel, pd.DataFrame):
        raise InputError(f"panel is a {type(panel).__name__}", field="panel", fix="pass a DataFrame")
    missing = [c for c in (unit, time, outcome) if c not in panel.columns]
    if missing:
        raise InputError(f"column(s) {missing} not in the panel", field="panel", fix=f"the panel has {list(panel.columns)[:20]}")
    df = panel[[unit, time, outcome]].dropna()
    wide = df.pivot_table(index=unit, columns=time, values=outcome, aggfunc="mean").sort_index(axis=1)
    wide = wide.dropna(axis=0, how="any")
    n, t = wide.shape
    if n < 2 or t < 4:
        raise InputError(f"the panel has {n} complete units and {t} periods", field="panel",
                         fix="estimating the noise needs at least 2 units with at least 4 periods each, no gaps")
    y = wide.to_numpy(dtype=float)
    unit_means = y.mean(axis=1, keepdims=True)
    time_means = y.mean(axis=0, keepdims=True)
    grand = float(y.mean())
    e = y - unit_means - time_means + grand
    extra_df = 0
    if season_length:
        sl = int(season_length)
        if sl < 2 or t < 2 * sl:
            raise InputError(f"season_length {season_length!r} with {t} periods", field="season_length",
                             fix="give e.g. 12 for months, with at least two full seasons of data")
        pos = np.arange(t) % sl
        for k in range(sl):
            e[:, pos == k] -= e[:, pos == k].mean(axis=1, keepdims=True)
        extra_df = n * (sl - 1)
    ss = float((e**2).sum())
    rho0 = float((e[:, 1:] * e[:, :-1]).sum() / ss) if ss > 0 else 0.0
    rho = float(np.clip((rho0 * (t - 1) + 1) / (t - 2), -0.98, 0.98)) if t > 2 else rho0
    one_r_one = float(_ar1_corr(t, rho).sum())
    sig_e2 = ss / max((n - 1) * (t - one_r_one / t) - extra_df, 1.0)
    ubar = (unit_means - grand).ravel()
    s2_u = float(np.var(ubar, ddof=1))
    sig_u2 = max(0.0, s2_u - sig_e2 * one_r_one / t**2)
    icc = sig_u2 / (sig_u2 + sig_e2) if sig_u2 + sig_e2 > 0 else 0.0
    return PanelStructure(sd_total=math.sqrt(sig_u2 + sig_e2), sd_within=math.sqrt(sig_e2), icc=icc, rho=rho,
                          n_units=n, n_periods=t, mean=grand, rho_raw=rho0)


def mde_panel(n_treated_units: int, n_control_units: int, n_pre: int, n_post: int, *,
              sd: float | None = None, icc: float | None = None, rho: float | None = None,
              structure: PanelStructure | None = None, comparison: Literal["did", "post"] = "did",
              alpha: float = 0.05, power: float = 0.8, units: str = "units of the outcome",
              outcome_label: str | None = None, subject: str = "authorities",
              period_name: str = "months") -> MDEResult:
    r"""MDE of an authority panel comparison (difference-in-differences on unit x period data).

    Parameters
    ----------
    n_treated_units, n_control_units : int
        Adopting and comparison authorities.
    n_pre, n_post : int
        Periods before and after adoption in the comparison window.
    sd, icc, rho : float, optional
        Total SD of the outcome (around the period means), intra-cluster correlation and AR(1)
        serial correlation; default from ``structure``.
    structure : PanelStructure, optional
        From :func:`estimate_panel_structure` on the comparison rows of the panel.
    comparison : {"did", "post"}
        ``"did"``: change from pre to post against the comparison's change (the authority level
        cancels: only the within noise and its serial correlation count).  ``"post"``: post-period
        levels only (the authority level counts, through the ICC).
    alpha, power : float
    units : str
        The outcome's unit, e.g. ``"referrals per 10,000 children"``.
    outcome_label : str, optional
        Noun phrase for the sentence ("referrals per 10,000 children a month").
    subject, period_name : str
        What the units and periods are.

    Returns
    -------
    MDEResult

    Notes
    -----
    With :math:`\sigma_e^2 = (1 - ICC)\,\sigma^2` and :math:`\sigma_u^2 = ICC\,\sigma^2`, one authority's
    contrast is :math:`c' y_i`; for ``"did"``, :math:`c = (-1/T_0, \dots, -1/T_0, 1/T_1, \dots, 1/T_1)`
    and :math:`Var(c'y_i) = \sigma_e^2\, c' R(\rho) c` with :math:`R_{st} = \rho^{|s-t|}`; for
    ``"post"``, :math:`\sigma_u^2 + \sigma_e^2 \mathbf 1'R\mathbf 1/T_1^2`.  The design effect of serial
    correlation is :math:`D = c'Rc / c'c` (1 with independent periods).  Then (Bloom 1995; 2006 eq. for
    group-randomised designs)

    .. math:: MDE = M_{J-2} \sqrt{Var(c'y_i)\,(1/J_1 + 1/J_0)},\quad M_{J-2} = t_{1-\alpha/2, J-2} + t_{power, J-2}

    with :math:`J = J_1 + J_0` authorities.  With few authorities the package's intervals come from
    the wild cluster bootstrap; this analytic MDE is then an approximation to check by simulation.

    Examples
    --------
    >>> r = mde_panel(4, 5, 12, 12, sd=3.0, icc=0.8, rho=0.3, units="referrals per 10,000 children")
    >>> round(r.inputs["multiplier"], 2)
    3.26
    """
    j1 = int(_check_count(n_treated_units, "n_treated_units", 1))
    j0 = int(_check_count(n_control_units, "n_control_units", 1))
    t0 = int(_check_count(n_pre, "n_pre", 1))
    t1 = int(_check_count(n_post, "n_post", 1))
    if structure is not None:
        sd = structure.sd_total if sd is None else sd
        icc = structure.icc if icc is None else icc
        rho = structure.rho if rho is None else rho
    if sd is None:
        raise InputError("no outcome SD given", field="sd", fix="pass sd=..., or structure=estimate_panel_structure(...)")
    sd = _check_positive(sd, "sd")
    icc = 0.0 if icc is None else float(icc)
    if not 0 <= icc < 1:
        raise InputError(f"icc is {icc!r}", field="icc", fix="give a share in [0, 1)")
    rho = _check_rho(0.0 if rho is None else rho)
    if comparison not in ("did", "post"):
        raise InputError(f"comparison is {comparison!r}", field="comparison", fix="use 'did' or 'post'")
    df = j1 + j0 - 2
    if df < 1:
        raise InputError(f"{j1 + j0} authorities leave no degrees of freedom", field="n_control_units",
                         fix="a comparison of authorities needs at least 3 of them")
    sig_e2 = (1 - icc) * sd**2
    sig_u2 = icc * sd**2
    if comparison == "did":
        crc = _contrast_variance(t0, t1, rho)
        cc = 1.0 / t0 + 1.0 / t1
        v_unit = sig_e2 * crc
    else:
        crc = float(_ar1_corr(t1, rho).sum()) / t1**2
        cc = 1.0 / t1
        v_unit = sig_u2 + sig_e2 * crc
    deff = crc / cc
    se = math.sqrt(v_unit * (1.0 / j1 + 1.0 / j0))
    m = bloom_multiplier(df, alpha=alpha, power=power)
    n_text = (f"{j1:,} adopting and {j0:,} comparison {subject} over {t0:,} {period_name} before and "
              f"{t1:,} after")
    return MDEResult(
        mde=m * se, units=units, kind="panel",
        method=(f"authority panel ({'difference-in-differences' if comparison == 'did' else 'post-period levels'}): "
                f"Bloom (1995) multiplier {m:.2f} (t, {df} df) x SE with ICC {icc:.2f} and AR(1) {rho:.2f} "
                f"(serial-correlation design effect {deff:.2f})"),
        inputs={"n_treated_units": j1, "n_control_units": j0, "n_pre": t0, "n_post": t1, "sd": sd, "icc": icc,
                "rho": rho, "comparison": comparison, "df": df, "multiplier": m, "se": se,
                "serial_design_effect": deff, "alpha": alpha, "power": power,
                **({"outcome_mean": structure.mean} if structure is not None else {})},
        n_text=n_text, outcome_label=outcome_label, alpha=alpha, power=power)


# ----------------------------------------------------------------------------- single series
def mde_series(n_pre: int, n_post: int, *, sd_resid: float, rho: float = 0.0,
               model: Literal["level", "trend"] = "trend", season_length: int | None = None,
               alpha: float = 0.05, power: float = 0.8, units: str = "units of the outcome",
               outcome_label: str | None = None, pre_mean: float | None = None,
               period_name: str = "months") -> MDEResult:
    r"""MDE of one authority's own series (interrupted time series, synthetic control).

    Parameters
    ----------
    n_pre, n_post : int
        Periods before and after the change.
    sd_resid : float
        SD of the pre-period residual noise (around trend and season for ``"trend"``; around the
        synthetic comparison, i.e. the pre-period gap, for a synthetic control with ``"level"``).
    rho : float, default 0
        AR(1) correlation of that noise.
    model : {"trend", "level"}
        ``"trend"``: segmented regression (intercept, linear trend, optional season dummies and a
        post-period level shift), the ITS.  ``"level"``: post mean minus pre mean of a trend-free
        series or gap (synthetic control).
    season_length : int, optional
        Add season dummies (12 for months) to the ``"trend"`` model.
    alpha, power : float
    units : str
        The outcome's unit ("referrals a month").
    outcome_label : str, optional
        Noun phrase for the sentence.
    pre_mean : float, optional
        Pre-period mean, to state the MDE as a percentage of it.
    period_name : str

    Returns
    -------
    MDEResult

    Notes
    -----
    For ``"trend"`` the level shift :math:`\hat\delta` is estimated by OLS on :math:`X` (intercept,
    time, season, post indicator) while the errors are AR(1), :math:`\Sigma = \sigma^2 R(\rho)`; its
    variance is the sandwich :math:`[(X'X)^{-1} X' \Sigma X (X'X)^{-1}]_{\delta\delta}`.  For ``"level"``
    it is :math:`\sigma^2 c'R(\rho)c` with the pre/post mean contrast :math:`c`.  Then
    :math:`MDE = M_{df}\, SE` (Bloom 1995) with :math:`df = T_0 + T_1 - k`.  A synthetic control's
    weights are treated as known, so this is the MDE of a perfect comparison: the placebo test is wider.

    Examples
    --------
    >>> r = mde_series(36, 24, sd_resid=20.0, rho=0.2, units="referrals a month")
    >>> 20 < r.mde < 40
    True
    """
    t0 = int(_check_count(n_pre, "n_pre", 3))
    t1 = int(_check_count(n_post, "n_post", 1))
    s = _check_positive(sd_resid, "sd_resid")
    rho = _check_rho(rho)
    if model not in ("trend", "level"):
        raise InputError(f"model is {model!r}", field="model", fix="use 'trend' (ITS) or 'level' (synthetic control)")
    n = t0 + t1
    R = _ar1_corr(n, rho)
    if model == "level":
        var = s**2 * _contrast_variance(t0, t1, rho)
        k = 2
    else:
        tt = np.arange(n, dtype=float)
        cols = [np.ones(n), tt - tt.mean()]
        if season_length:
            for j in range(1, int(season_length)):
                cols.append((np.arange(n) % int(season_length) == j).astype(float))
        post = (np.arange(n) >= t0).astype(float)
        cols.append(post)
        X = np.column_stack(cols)
        k = X.shape[1]
        if n - k < 1:
            raise InputError(f"{n} periods are too few for a model with {k} parameters", field="n_pre",
                             fix="use more pre-period months, or season_length=None")
        xtx_inv = np.linalg.inv(X.T @ X)
        a = xtx_inv @ X.T
        var = float(s**2 * (a @ R @ a.T)[-1, -1])
    df = n - k
    m = bloom_multiplier(df, alpha=alpha, power=power)
    value = m * math.sqrt(var)
    n_text = f"{t0:,} {period_name} before and {t1:,} after the change"
    inputs = {"n_pre": t0, "n_post": t1, "sd_resid": s, "rho": rho, "model": model, "season_length": season_length,
              "df": df, "multiplier": m, "se": math.sqrt(var), "alpha": alpha, "power": power}
    if pre_mean:
        inputs["pre_mean"] = float(pre_mean)
        inputs["mde_share_of_pre_mean"] = value / abs(float(pre_mean))
    return MDEResult(
        mde=value, units=units, kind="series",
        method=(f"single series ({'segmented regression level shift' if model == 'trend' else 'post minus pre mean'}"
                f", AR(1) {rho:.2f}): Bloom (1995) multiplier {m:.2f} (t, {df} df) x SE"),
        inputs=inputs, n_text=n_text, outcome_label=outcome_label, alpha=alpha, power=power)


# ----------------------------------------------------------------------------- dispatch
_KINDS: dict[str, Callable[..., MDEResult]] = {
    "proportions": mde_proportions, "matched": mde_matched, "panel": mde_panel, "series": mde_series,
}


def mde(kind: str, **kwargs: Any) -> MDEResult:
    """Minimum detectable effect for one design family.

    Parameters
    ----------
    kind : {"proportions", "matched", "panel", "series"}
        :func:`mde_proportions`, :func:`mde_matched`, :func:`mde_panel` or :func:`mde_series`.
    **kwargs
        That function's arguments.

    Returns
    -------
    MDEResult

    Examples
    --------
    >>> mde("series", n_pre=36, n_post=24, sd_resid=20.0).kind
    'series'
    """
    func = _KINDS.get(kind)
    if func is None:
        raise InputError(f"unknown design family {kind!r}", field="kind", fix=f"use one of {', '.join(_KINDS)}")
    try:
        inspect.signature(func).bind(**kwargs)
    except TypeError as err:
        raise InputError(f"mde({kind!r}): {err}", field="kwargs",
                         fix=f"see help(ehimpact.power.{func.__name__}) for its arguments") from None
    return func(**kwargs)


# ----------------------------------------------------------------------------- simulation
@dataclass
class PowerSimulation:
    """Result of :func:`simulate_power`.

    Attributes
    ----------
    power : float
        Share of replications in which the design detected the planted effect.
    mc_se : float
        Monte Carlo standard error of ``power``, :math:`\\sqrt{p(1-p)/R}`.
    reps : int
        Replications that ran (``failed`` more raised an error and are left out).
    effect : float
        The planted effect.
    estimates : ndarray
        The design's estimate in each replication.
    ses : ndarray
        Its standard error in each replication.
    baseline : float
        The value tested against (the design's estimate on the data as given, or 0).
    """

    power: float
    mc_se: float
    reps: int
    effect: float
    failed: int
    estimates: np.ndarray
    baseline: float
    method: str
    ses: np.ndarray = field(default_factory=lambda: np.zeros(0))

    def sentence(self) -> str:
        return (f"In {self.reps:,} resamples of the data with an effect of {_num(self.effect)} planted, the design "
                f"detected it {100 * self.power:.1f}% of the time (Monte Carlo SE {100 * self.mc_se:.1f} points).")


def simulate_power(data: pd.DataFrame, design_func: Callable[..., Any], kwargs: Mapping[str, Any] | None,
                   effect: float, *, outcome: str, treatment: str | Sequence[str], reps: int = 200,
                   seed: int | None = None, unit: str | None = None, alpha: float = 0.05,
                   baseline: Literal["estimate", "zero"] = "estimate",
                   method: Literal["resample", "plasmode"] = "resample",
                   covariates: Sequence[str] | None = None) -> PowerSimulation:
    r"""Power of a design on the authority's own data, by resampling and planting an effect.

    Parameters
    ----------
    data : DataFrame
        The data the design runs on (children, or the unit x period panel).
    design_func : callable
        The design, e.g. ``eh.match``; called as ``design_func(resample, **kwargs)`` and returning an
        object with ``estimate`` and ``ci`` (an :class:`~ehimpact.estimators.result.Estimate`).
    kwargs : mapping
        Its arguments (``outcome``/``treatment`` included as the design needs them).
    effect : float
        The effect to plant, on the outcome's scale (a difference in proportions for a 0/1 outcome:
        -0.05 lowers the treated rows' chance by 5 points).
    outcome : str
        The outcome column the effect is planted in.
    treatment : str or list of str
        Rows receiving the effect: those where every named column is 1 (``["treated", "post"]`` for
        a difference-in-differences panel).
    reps : int, default 200
        Replications.
    seed : int, optional
        Random seed.
    unit : str, optional
        Resample whole units (authorities) instead of rows; duplicated units get new ids.
    alpha : float, default 0.05
        Two-sided level; the design is run at ``level = 1 - alpha`` when it takes ``level``.
    baseline : {"estimate", "zero"}
        Detected means: the interval excludes the design's estimate on the data as given
        (``"estimate"``, default: real data may already hold an effect, so the planted one is
        measured against it), or excludes 0 (``"zero"``, data known to hold no effect).  Plasmode
        simulations always test against 0.
    method : {"resample", "plasmode"}
        ``"resample"`` (default): rows (or units) drawn with replacement.  ``"plasmode"``: the rows
        are kept as they are (covariates, treatment, overlap) and only the outcome is drawn afresh,
        from a model of the comparison rows with the effect added for the planted rows.  Use it for
        matching with replacement, for which the bootstrap is invalid (Abadie and Imbens 2008).
    covariates : list of str, optional
        Covariates of the plasmode outcome model (default ``kwargs["covariates"]``, else none).

    Returns
    -------
    PowerSimulation

    Notes
    -----
    *Resample*: each replication draws rows (or units) with replacement *within* the planted and
    unplanted groups, so the group sizes stay those of the data.  A 0/1 outcome keeps 0/1 values: for a
    fall each planted 1 becomes 0 with probability :math:`|\delta| / \bar y_1` (a rise: each 0 becomes 1
    with probability :math:`\delta / (1 - \bar y_1)`), so the planted group's expected proportion moves
    by exactly :math:`\delta`; any other outcome has :math:`\delta` added.

    *Plasmode* (Franklin et al. 2014, *Comput. Stat. Data Anal.* 72:219): a logistic (0/1 outcome) or
    linear model of the outcome on the covariates is fitted to the unplanted rows; each replication
    draws :math:`y_i \sim \text{Bernoulli}(\hat p_0(x_i) + \delta\, 1\{i\ \text{planted}\})` (clipped to
    [0, 1]), or :math:`\hat\mu_0(x_i) + \delta 1\{\cdot\} + N(0, \hat s^2)`, so the true effect is
    :math:`\delta` and nothing else differs between the groups but what the covariates explain.

    Power is the share detected, with Monte Carlo SE :math:`\sqrt{p(1-p)/R}`.

    Examples
    --------
    >>> rng = np.random.default_rng(1)
    >>> df = pd.DataFrame({"d": np.repeat([1.0, 0.0], 500), "y": (rng.random(1000) < 0.2).astype(float)})
    >>> def diff(data, **kw):  # a design returning estimate and ci
    ...     from ehimpact.estimators.result import Estimate, normal_ci
    ...     g1, g0 = data.y[data.d == 1], data.y[data.d == 0]
    ...     est = g1.mean() - g0.mean()
    ...     se = (g1.var() / len(g1) + g0.var() / len(g0)) ** 0.5
    ...     ci, p = normal_ci(est, se)
    ...     return Estimate(estimate=est, se=se, ci=ci, pvalue=p, estimand="ATE", method="z",
    ...                     n_treated=len(g1), n_control=len(g0))
    >>> sim = simulate_power(df, diff, {}, -0.07, outcome="y", treatment="d", reps=50, seed=2)
    >>> sim.power > 0.5
    True
    """
    if not isinstance(data, pd.DataFrame):
        raise InputError(f"data is a {type(data).__name__}", field="data", fix="pass a DataFrame")
    tcols = [treatment] if isinstance(treatment, str) else list(treatment)
    missing = [c for c in [outcome, *tcols, *([unit] if unit else [])] if c not in data.columns]
    if missing:
        raise InputError(f"column(s) {missing} not in the data", field="data",
                         fix=f"the data has {list(data.columns)[:20]}")
    if not isinstance(reps, (int, np.integer)) or reps < 1:
        raise InputError(f"reps is {reps!r}", field="reps", fix="give a whole number, e.g. 200")
    if baseline not in ("estimate", "zero"):
        raise InputError(f"baseline is {baseline!r}", field="baseline", fix="use 'estimate' or 'zero'")
    if method not in ("resample", "plasmode"):
        raise InputError(f"method is {method!r}", field="method", fix="use 'resample' or 'plasmode'")
    if method == "plasmode" and unit is not None:
        raise InputError("plasmode simulation is for child-level rows, not a panel of units", field="method",
                         fix="use method='resample' with unit=... for a panel")
    alpha = _check_prob(alpha, "alpha")
    kw = dict(kwargs or {})
    try:
        if "level" in inspect.signature(design_func).parameters and "level" not in kw:
            kw["level"] = 1 - alpha
    except (TypeError, ValueError):
        pass
    data = data.reset_index(drop=True)
    planted = np.ones(len(data), dtype=bool)
    for c in tcols:
        planted &= pd.to_numeric(data[c], errors="coerce").to_numpy() == 1
    if not planted.any():
        raise InputError(f"no rows have {' and '.join(tcols)} equal to 1", field="treatment",
                         fix="name the column(s) marking the rows that receive the effect")
    y = pd.to_numeric(data[outcome], errors="coerce").to_numpy(dtype=float)
    binary = bool(np.isin(y[np.isfinite(y)], (0.0, 1.0)).all())
    p1 = float(np.nanmean(y[planted]))
    if method == "plasmode":
        return _plasmode(data, design_func, kw, float(effect), outcome=outcome, planted=planted, y=y,
                         binary=binary, covariates=list(covariates if covariates is not None
                                                        else kw.get("covariates") or []),
                         reps=int(reps), seed=seed, alpha=alpha)
    if binary:
        if effect < 0 and -effect > p1:
            raise InputError(f"a fall of {-effect:g} is more than the planted rows' proportion {p1:.3f}",
                             field="effect", fix="plant a smaller effect")
        if effect > 0 and effect > 1 - p1:
            raise InputError(f"a rise of {effect:g} would take the proportion above 1", field="effect",
                             fix="plant a smaller effect")
        flip_p = -effect / p1 if effect < 0 else effect / (1 - p1)
    rng = np.random.default_rng(seed)

    base = 0.0
    if baseline == "estimate":
        base = float(design_func(data, **kw).estimate)

    if unit is None:
        idx_planted_grp = [np.flatnonzero(planted), np.flatnonzero(~planted)]
    else:
        units = data[unit].to_numpy()
        unit_planted = pd.Series(planted).groupby(units).any()
        groups = [unit_planted.index[unit_planted.to_numpy()].to_numpy(),
                  unit_planted.index[~unit_planted.to_numpy()].to_numpy()]
        rows_of = {u: np.flatnonzero(units == u) for u in unit_planted.index}

    ests: list[float] = []
    ses: list[float] = []
    detected = 0
    failed = 0
    for _ in range(int(reps)):
        if unit is None:
            take = np.concatenate([g[rng.integers(0, len(g), len(g))] for g in idx_planted_grp if len(g)])
            sample = data.iloc[take].reset_index(drop=True)
        else:
            drawn = np.concatenate([g[rng.integers(0, len(g), len(g))] for g in groups if len(g)])
            take = np.concatenate([rows_of[u] for u in drawn])
            sample = data.iloc[take].reset_index(drop=True)
            # a unit drawn twice is two units: new ids "<id>#<draw>"
            new_ids = np.array([f"{u}#{k}" for k, u in enumerate(drawn)], dtype=object)
            sample[unit] = np.repeat(new_ids, [len(rows_of[u]) for u in drawn])
        mask = np.ones(len(sample), dtype=bool)
        for c in tcols:
            mask &= pd.to_numeric(sample[c], errors="coerce").to_numpy() == 1
        yy = pd.to_numeric(sample[outcome], errors="coerce").to_numpy(dtype=float).copy()
        if binary:
            target = 1.0 if effect < 0 else 0.0
            flip = mask & (yy == target) & (rng.random(len(yy)) < flip_p)
            yy[flip] = 1.0 - target
        else:
            yy[mask] += effect
        sample[outcome] = yy
        try:
            est = design_func(sample, **kw)
        except InputError:
            failed += 1
            continue
        lo, hi = est.ci
        ests.append(float(est.estimate))
        ses.append(float(est.se))
        detected += not (lo <= base <= hi)
    ran = len(ests)
    if ran == 0:
        raise InputError(f"the design failed in all {reps} resamples", field="design_func",
                         fix="check that the design runs on the data as given")
    p = detected / ran
    return PowerSimulation(
        power=p, mc_se=math.sqrt(p * (1 - p) / ran), reps=ran, effect=float(effect), failed=failed,
        estimates=np.asarray(ests), ses=np.asarray(ses), baseline=base,
        method=(f"{ran} resamples of {'units' if unit else 'rows'} within the planted and unplanted groups, "
                f"effect {effect:g} planted in {outcome}, detected = {100 * (1 - alpha):g}% interval excludes "
                f"{'the estimate on the data as given' if baseline == 'estimate' else '0'}"))


def _plasmode(data: pd.DataFrame, design_func: Callable[..., Any], kw: dict[str, Any], effect: float, *,
              outcome: str, planted: np.ndarray, y: np.ndarray, binary: bool, covariates: list[str], reps: int,
              seed: int | None, alpha: float) -> PowerSimulation:
    """Outcomes drawn afresh from a model of the comparison rows, the effect added to the planted rows."""
    n = len(data)
    if covariates:
        from ehimpact.estimators.balance import design_matrices

        missing = [c for c in covariates if c not in data.columns]
        if missing:
            raise InputError(f"covariate(s) {missing} not in the data", field="covariates",
                             fix="name covariates of the data, or pass covariates=[]")
        X, names, _, _ = design_matrices(data, covariates)
    else:
        X, names = np.zeros((n, 0)), []
    ctrl = ~planted & np.isfinite(y)
    clipped = 0.0
    if binary:
        mu0 = np.full(n, float(y[ctrl].mean()))
        if X.shape[1]:
            try:
                from ehimpact.estimators.propensity import fit_propensity

                fit = fit_propensity(X[ctrl], y[ctrl], names)
                if fit.coef is not None:
                    mu0 = 1.0 / (1.0 + np.exp(-(fit.coef[0] + X @ fit.coef[1:])))
            except InputError:  # separation or a constant covariate: the comparison mean
                pass
        p = mu0 + effect * planted
        clipped = float(((p < 0) | (p > 1))[planted].mean())
        p = np.clip(p, 0.0, 1.0)
        s_noise = 0.0
    else:
        Z = np.column_stack([np.ones(n), X])
        beta, *_ = np.linalg.lstsq(Z[ctrl], y[ctrl], rcond=None)
        mu0 = Z @ beta
        resid = y[ctrl] - mu0[ctrl]
        s_noise = float(np.sqrt((resid**2).sum() / max(int(ctrl.sum()) - Z.shape[1], 1)))
        p = mu0 + effect * planted
    rng = np.random.default_rng(seed)
    ests: list[float] = []
    ses: list[float] = []
    detected = failed = 0
    for _ in range(reps):
        yy = (rng.random(n) < p).astype(float) if binary else p + rng.normal(scale=s_noise, size=n)
        try:
            est = design_func(data.assign(**{outcome: yy}), **kw)
        except InputError:
            failed += 1
            continue
        lo, hi = est.ci
        ests.append(float(est.estimate))
        ses.append(float(est.se))
        detected += not (lo <= 0.0 <= hi)
    ran = len(ests)
    if ran == 0:
        raise InputError(f"the design failed in all {reps} plasmode draws", field="design_func",
                         fix="check that the design runs on the data as given")
    pw = detected / ran
    note = f"; {100 * clipped:.0f}% of planted rows clipped to [0, 1]" if clipped else ""
    return PowerSimulation(
        power=pw, mc_se=math.sqrt(pw * (1 - pw) / ran), reps=ran, effect=effect, failed=failed,
        estimates=np.asarray(ests), ses=np.asarray(ses), baseline=0.0,
        method=(f"{ran} plasmode draws of {outcome} ({'logistic' if binary else 'linear'} model of the comparison "
                f"rows on {len(covariates)} covariates), effect {effect:g} added to the planted rows, detected = "
                f"{100 * (1 - alpha):g}% interval excludes 0{note}"))


# ``eh.power`` resolves through ehimpact's lazy table ("power" -> this module's ``power``): the module itself.
power = sys.modules[__name__]
