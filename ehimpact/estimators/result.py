"""The one result type every estimator returns: :class:`Estimate`.

An :class:`Estimate` carries the number, its uncertainty, what it estimates and how,
the sample sizes, diagnostics, and the words to say it in.  Subclasses (event study,
staggered DiD, matching, ITS) add detail but keep this contract, so the report, the
runner and the regional pooling treat every design alike.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar, Literal

import pandas as pd

from ehimpact.jsonsafe import json_safe  # re-exported: estimators and results use it

if TYPE_CHECKING:  # matplotlib is imported lazily: notebooks pay for it only when plotting
    from matplotlib.axes import Axes

__all__ = ["Estimate", "OutcomeScale", "json_safe"]

OutcomeScale = Literal["proportion", "continuous", "count", "rate", "ratio", "money"]


def _fmt(x: float, digits: int) -> str:
    return f"{x:,.{digits}f}"


@dataclass(eq=False)
class Estimate:
    """An estimated effect with its uncertainty, provenance and plain-words reading.

    Parameters
    ----------
    estimate : float
        The point estimate, on the scale given by ``scale`` (a difference in proportions
        for ``"proportion"``, a rate ratio for ``"ratio"``, and so on).
    se : float
        Standard error of ``estimate`` (``nan`` where only an interval is available).
    ci : tuple of float
        Lower and upper confidence limits at level ``level``.
    pvalue : float
        Two-sided p-value for the null of no effect (0 on a difference scale, 1 for ratios).
    estimand : str
        What is estimated: ``"ATT"``, ``"ATE"``, ``"level change"``, ...
    method : str
        How: estimator and inference, e.g. ``"2x2 DiD, OLS, cluster-robust (CR1) SE"``.
    n_treated, n_control : int
        Units (or observations) in the treated and comparison groups.
    diagnostics : dict
        Design-specific evidence (balance, pre-trends, autocorrelation ...). Must never
        hold record-level data: aggregates only.
    outcome : str, optional
        Column name of the outcome.
    outcome_label : str, optional
        Words for the outcome as a verb phrase after "likely to" for proportions
        (``"be referred to children's social care within 12 months"``) or a noun phrase
        otherwise (``"school absence rate"``).
    subject : str, default "Children supported"
        Who the effect is about, the sentence's subject.
    scale : {"proportion", "continuous", "count", "rate", "ratio", "money"}
        How to phrase the number.  ``"proportion"`` reads as percentage points.
    unit : str, optional
        Unit for continuous outcomes (``"days"``, ``"per 10,000 children"``).
    level : float, default 0.95
        Confidence level of ``ci``.
    warnings : list of str
        Things a reader must know (e.g. imbalance after matching, few clusters).
    synthetic : bool, default False
        True when the input data were synthetic; every output then says so.
    units : str, default "children"
        What ``n_treated``/``n_control`` count ("children", "families", "authorities",
        "months"); disclosure control applies to counts of people only.

    Examples
    --------
    >>> est = Estimate(estimate=-0.031, se=0.0097, ci=(-0.050, -0.012), pvalue=0.001,
    ...                estimand="ATT", method="2x2 DiD", n_treated=800, n_control=900,
    ...                outcome_label="be referred to children's social care within 12 months",
    ...                scale="proportion")
    >>> est.summary().splitlines()[0]  # doctest: +ELLIPSIS
    "Children supported were 3.1 percentage points less likely to be referred to children's social care within 12 months (95% CI 1.2 to 5.0)..."
    """

    estimate: float
    se: float
    ci: tuple[float, float]
    pvalue: float
    estimand: str
    method: str
    n_treated: int
    n_control: int
    diagnostics: dict[str, Any] = field(default_factory=dict)
    outcome: str | None = None
    outcome_label: str | None = None
    subject: str = "Children supported"
    scale: OutcomeScale = "continuous"
    unit: str | None = None
    level: float = 0.95
    warnings: list[str] = field(default_factory=list)
    synthetic: bool = False
    units: str = "children"

    #: registry of subclasses by name, so :meth:`from_dict` can rebuild the right type
    _kinds: ClassVar[dict[str, type[Estimate]]] = {}

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        Estimate._kinds[cls.__name__] = cls

    def __post_init__(self) -> None:
        self.estimate = float(self.estimate)
        self.se = float(self.se) if self.se is not None else float("nan")
        lo, hi = self.ci
        self.ci = (float(lo), float(hi))
        self.pvalue = float(self.pvalue) if self.pvalue is not None else float("nan")
        self.n_treated = int(self.n_treated)
        self.n_control = int(self.n_control)

    # ------------------------------------------------------------------ reading
    @property
    def null_value(self) -> float:
        """The value meaning "no effect": 1 for ratios, 0 otherwise."""
        return 1.0 if self.scale == "ratio" else 0.0

    @property
    def significant(self) -> bool:
        """Whether the confidence interval excludes the null value."""
        lo, hi = self.ci
        return bool(lo > self.null_value or hi < self.null_value)

    def _magnitude(self, x: float) -> str:
        """Format a magnitude (absolute value) in the outcome's units."""
        x = abs(x)
        if self.scale == "proportion":
            return _fmt(100 * x, 1)
        if self.scale == "money":
            return "£" + _fmt(x, 0)
        if self.scale == "count":
            return _fmt(x, 0)
        if self.scale == "ratio":
            return _fmt(100 * x, 0) + "%"
        digits = 2 if x < 10 else 1
        return _fmt(x, digits)

    def _ci_words(self, positive: str, negative: str) -> str:
        """The interval in the direction of the estimate, e.g. ``1.2 to 5.0``.

        When the interval crosses the null the direction is named on each side.
        """
        pct = f"{100 * self.level:.0f}% CI"
        null = self.null_value
        lo, hi = (x - null for x in self.ci)
        if math.isnan(lo) or math.isnan(hi):
            return f"{pct} not available"
        if not (math.isfinite(lo) and math.isfinite(hi)):
            return f"{pct} unbounded: the data cannot rule out any size of effect"
        if lo * hi >= 0:  # same side of the null
            a, b = sorted((abs(lo), abs(hi)))
            return f"{pct} {self._magnitude(a)} to {self._magnitude(b)}"
        neg, pos = min(self.ci[0] - null, self.ci[1] - null), max(self.ci[0] - null, self.ci[1] - null)
        return f"{pct} from {self._magnitude(neg)} {negative} to {self._magnitude(pos)} {positive}"

    def headline(self) -> str:
        """One plain-English sentence a councillor can read, with the interval."""
        label = self.outcome_label or (self.outcome or "outcome")
        diff = self.estimate - self.null_value
        if self.scale == "proportion":
            direction = "less" if diff < 0 else "more"
            ci = self._ci_words("more", "less")
            return (
                f"{self.subject} were {self._magnitude(diff)} percentage points {direction} likely to "
                f"{label} ({ci})."
            )
        if self.scale == "ratio":
            direction = "lower" if diff < 0 else "higher"
            lo, hi = self.ci
            return (
                f"The {label} was {self._magnitude(diff)} {direction} than expected without the change "
                f"(rate ratio {self.estimate:.2f}, {100 * self.level:.0f}% CI {lo:.2f} to {hi:.2f})."
            )
        direction = "lower" if diff < 0 else "higher"
        unit = f" {self.unit}" if self.unit else ""
        ci = self._ci_words("higher", "lower")
        return f"For {self.subject.lower()}, the {label} was {self._magnitude(diff)}{unit} {direction} ({ci})."

    def summary(self) -> str:
        """Plain-words summary: the headline, what it rests on, and any warnings.

        Returns
        -------
        str
            First line: the one-sentence reading.  Then the method, sample, p-value and
            warnings, each on its own line.
        """
        lines = [self.headline()]
        if self.significant:
            lines.append("The interval excludes no effect, so chance alone is an unlikely explanation.")
        else:
            lines.append("The interval includes no effect, so the data are consistent with no difference.")
        lines.append(
            f"Estimand: {self.estimand}; method: {self.method}; "
            f"{self.n_treated:,} treated and {self.n_control:,} comparison {self.units}; p = {self.pvalue:.3g}."
        )
        lines.extend(f"Warning: {w}" for w in self.warnings)
        if self.synthetic:
            lines.append("SYNTHETIC DATA: this result illustrates the method and describes no real children.")
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.summary()

    # ------------------------------------------------------------------ tables and plots
    def table(self) -> pd.DataFrame:
        """The headline numbers as a one-row DataFrame.

        Returns
        -------
        pandas.DataFrame
            Columns ``estimand, estimate, se, ci_lower, ci_upper, pvalue, n_treated,
            n_control, method``.
        """
        return pd.DataFrame(
            [
                {
                    "outcome": self.outcome,
                    "estimand": self.estimand,
                    "estimate": self.estimate,
                    "se": self.se,
                    "ci_lower": self.ci[0],
                    "ci_upper": self.ci[1],
                    "pvalue": self.pvalue,
                    "n_treated": self.n_treated,
                    "n_control": self.n_control,
                    "method": self.method,
                }
            ]
        )

    def plot(self, ax: Axes | None = None, *, label: str | None = None) -> Axes:
        """Point estimate with its confidence interval and the no-effect line.

        Parameters
        ----------
        ax : matplotlib Axes, optional
            Where to draw; a new figure is made when omitted.
        label : str, optional
            Row label; defaults to the estimand.

        Returns
        -------
        matplotlib.axes.Axes
        """
        import matplotlib.pyplot as plt

        if ax is None:
            _, ax = plt.subplots(figsize=(6, 1.8))
        lo, hi = self.ci
        ax.errorbar([self.estimate], [0], xerr=[[self.estimate - lo], [hi - self.estimate]],
                    fmt="o", color="#1f4e79", capsize=4)
        ax.axvline(self.null_value, color="grey", linestyle="--", linewidth=1)
        ax.set_yticks([0], [label or self.estimand])
        ax.set_xlabel(self.outcome_label or self.outcome or "effect")
        ax.set_title(f"{self.estimand} with {100 * self.level:.0f}% CI")
        return ax

    # ------------------------------------------------------------------ serialisation
    def to_dict(self) -> dict[str, Any]:
        """A JSON-safe dictionary of every field (``kind`` names the class).

        Returns
        -------
        dict
            Round-trips through :meth:`from_dict`.
        """
        out: dict[str, Any] = {"kind": type(self).__name__}
        for f in dataclasses.fields(self):
            out[f.name] = json_safe(getattr(self, f.name))
        out["summary"] = self.headline()
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Estimate:
        """Rebuild a plain :class:`Estimate` from :meth:`to_dict` output.

        Subclass-only fields are dropped (the regional summary needs the common
        contract only).  Missing numbers come back as ``nan``.
        """
        names = {f.name for f in dataclasses.fields(Estimate)}
        kwargs = {k: v for k, v in data.items() if k in names}
        for k in ("estimate", "se", "pvalue"):
            kwargs[k] = float("nan") if kwargs.get(k) is None else kwargs[k]
        ci = kwargs.get("ci") or [None, None]
        kwargs["ci"] = tuple(float("nan") if x is None else x for x in ci)
        diagnostics = dict(kwargs.get("diagnostics") or {})
        for k in ("n_treated", "n_control"):  # a disclosure-suppressed count ("c") reads back as 0
            if not isinstance(kwargs.get(k), (int, float)) or isinstance(kwargs.get(k), bool):
                diagnostics[f"{k}_suppressed"] = kwargs.get(k)
                kwargs[k] = 0
        kwargs["diagnostics"] = diagnostics
        return Estimate(**kwargs)


def normal_ci(estimate: float, se: float, level: float = 0.95, df: float | None = None) -> tuple[tuple[float, float], float]:
    """Wald confidence interval and two-sided p-value.

    Parameters
    ----------
    estimate, se : float
        Point estimate and standard error.
    level : float, default 0.95
        Confidence level.
    df : float, optional
        Degrees of freedom for a t reference distribution; normal when omitted.

    Returns
    -------
    (ci, pvalue) : tuple
        ``((lo, hi), p)``.

    Examples
    --------
    >>> (lo, hi), p = normal_ci(1.0, 0.5)
    >>> round(lo, 3), round(hi, 3), round(p, 4)
    (0.02, 1.98, 0.0455)
    """
    from scipy import special  # scipy.special, not frozen distributions: this is called in loops

    q = 0.5 + level / 2
    crit = float(special.stdtrit(df, q)) if df is not None else float(special.ndtri(q))
    z = estimate / se if se > 0 else float("nan")
    if not math.isfinite(z):
        p = float("nan")
    else:
        tail = special.stdtr(df, -abs(z)) if df is not None else special.ndtr(-abs(z))
        p = 2 * float(tail)
    return (estimate - crit * se, estimate + crit * se), p
