"""Side-by-side tables of estimates (:func:`compare`) and number formatting for reports.

:func:`compare` puts several :class:`~ehimpact.estimators.result.Estimate` results next to
each other, one column per model, the way pyfixest's ``etable`` or linearmodels'
``compare`` do: the report's robustness step shows the headline design beside its
alternatives.  :func:`format_table` turns any table into strings a councillor can read.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Literal

import numpy as np
import pandas as pd

from ehimpact.errors import InputError
from ehimpact.estimators.result import Estimate

__all__ = ["compare", "format_table", "COMPARE_ROWS", "compare_designs", "estimate_unit", "estimate_text", "sample_text"]

#: the statistics :func:`compare` reports, in order
COMPARE_ROWS: tuple[str, ...] = (
    "estimate", "se", "ci_lower", "ci_upper", "level", "pvalue", "n_treated", "n_control",
    "estimand", "method", "outcome",
)


def _as_estimate(x: Any, position: int) -> Estimate:
    if isinstance(x, Estimate):
        return x
    if isinstance(x, Mapping) and "estimate" in x:
        return Estimate.from_dict(dict(x))
    raise InputError(
        f"item {position} is a {type(x).__name__}, not an Estimate",
        field="estimates",
        fix="pass Estimate results (or their to_dict() records), e.g. compare(did, psm, names=['DiD', 'PSM'])",
    )


def compare(
    *estimates: Estimate | Mapping[str, Any],
    names: Sequence[str] | None = None,
    layout: Literal["wide", "long"] = "wide",
) -> pd.DataFrame:
    """Estimates side by side: estimate, SE, CI, p-value, sample sizes and method.

    Parameters
    ----------
    *estimates : Estimate or dict
        Results to compare (``to_dict()`` records from ``results.json`` work too).  A
        single mapping ``{"name": estimate, ...}`` or a single list is also accepted.
    names : sequence of str, optional
        Column names; default ``(1)``, ``(2)``, ... (or the mapping's keys).
    layout : {"wide", "long"}, default "wide"
        ``"wide"``: one column per estimate, one row per statistic (:data:`COMPARE_ROWS`),
        like pyfixest's ``etable``.  ``"long"``: one row per estimate with typed columns,
        for further computation or plotting.

    Returns
    -------
    pandas.DataFrame

    Raises
    ------
    InputError
        No estimates, something that is not an estimate, or names that are duplicated or
        do not match the number of estimates.

    Examples
    --------
    >>> a = Estimate(estimate=-0.03, se=0.01, ci=(-0.05, -0.01), pvalue=0.003, estimand="ATT",
    ...              method="2x2 DiD", n_treated=800, n_control=900)
    >>> b = Estimate(estimate=-0.02, se=0.012, ci=(-0.044, 0.004), pvalue=0.1, estimand="ATT",
    ...              method="PSM", n_treated=780, n_control=780)
    >>> compare(a, b, names=["DiD", "Matching"]).loc["estimate"].tolist()
    [-0.03, -0.02]
    """
    items: list[Any] = list(estimates)
    if len(items) == 1 and isinstance(items[0], Mapping) and "estimate" not in items[0]:
        mapping = items[0]
        if names is None:
            names = [str(k) for k in mapping]
        items = list(mapping.values())
    elif len(items) == 1 and isinstance(items[0], list | tuple):
        items = list(items[0])
    if not items:
        raise InputError("nothing to compare", field="estimates", fix="pass one or more Estimate results")
    ests = [_as_estimate(x, i + 1) for i, x in enumerate(items)]
    if names is None:
        names = [f"({i + 1})" for i in range(len(ests))]
    names = [str(n) for n in names]
    if len(names) != len(ests):
        raise InputError(f"{len(names)} names for {len(ests)} estimates", field="names",
                         fix="give one name per estimate")
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise InputError(f"duplicated names: {', '.join(dupes)}", field="names", fix="make every name unique")
    records = []
    for e in ests:
        records.append({
            "estimate": e.estimate, "se": e.se, "ci_lower": e.ci[0], "ci_upper": e.ci[1],
            "level": e.level, "pvalue": e.pvalue, "n_treated": e.n_treated, "n_control": e.n_control,
            "estimand": e.estimand, "method": e.method, "outcome": e.outcome,
        })
    long = pd.DataFrame(records, index=pd.Index(names, name="model"), columns=list(COMPARE_ROWS))
    if layout == "long":
        return long
    if layout != "wide":
        raise InputError(f"unknown layout {layout!r}", field="layout", fix='use "wide" or "long"')
    wide = long.astype(object).T
    wide.index.name = "statistic"
    return wide


def _fmt_number(x: Any, digits: int) -> Any:
    if isinstance(x, bool | np.bool_) or x is None or isinstance(x, str):
        return "" if x is None else x
    if isinstance(x, int | np.integer):
        return f"{int(x):,}"
    if isinstance(x, float | np.floating):
        if not math.isfinite(float(x)):
            return ""
        if float(x).is_integer() and abs(x) >= 1000:
            return f"{x:,.0f}"
        return f"{x:,.{digits}f}"
    return str(x)


def format_table(table: pd.DataFrame, *, digits: int = 3, pvalue_floor: float = 0.001) -> pd.DataFrame:
    """Numbers as strings for a report: fixed decimals, thousands separators, p-values.

    A :func:`compare` table (wide layout) is condensed pyfixest-style: the SE goes in
    brackets and the CI becomes one ``[lo, hi]`` row.  Any other table (including one
    from :func:`~ehimpact.report.disclosure.disclose`, whose ``c`` symbols pass through
    untouched) is formatted cell by cell.

    Parameters
    ----------
    table : DataFrame
        The table to format.
    digits : int, default 3
        Decimals for non-integer numbers.
    pvalue_floor : float, default 0.001
        p-values below it are shown as ``<0.001``.

    Returns
    -------
    pandas.DataFrame
        Same shape (or condensed rows for a compare table), all strings.
    """
    if not isinstance(table, pd.DataFrame):
        raise InputError(f"expected a DataFrame, got {type(table).__name__}", field="table",
                         fix="pass the output of compare() or disclose()")
    if table.index.name == "statistic" and {"estimate", "se", "ci_lower", "ci_upper"} <= set(table.index):
        out = {}
        for col in table.columns:
            c = table[col]
            p = c.get("pvalue")
            p_txt = "" if p is None or not math.isfinite(float(p)) else (
                f"<{pvalue_floor:g}" if p < pvalue_floor else f"{p:.{digits}f}")
            level = c.get("level")
            out[col] = {
                "estimate": _fmt_number(c["estimate"], digits),
                "se": f"({_fmt_number(c['se'], digits)})",
                (f"{100 * level:.0f}% CI" if level else "CI"):
                    f"[{_fmt_number(c['ci_lower'], digits)}, {_fmt_number(c['ci_upper'], digits)}]",
                "p-value": p_txt,
                "treated": _fmt_number(c.get("n_treated"), digits),
                "comparison": _fmt_number(c.get("n_control"), digits),
                "estimand": c.get("estimand") or "",
                "method": c.get("method") or "",
            }
        frame = pd.DataFrame(out)
        frame.index.name = "statistic"
        return frame
    return table.apply(lambda col: col.map(lambda v: _fmt_number(v, digits))).astype(object)


def estimate_unit(est: Estimate) -> str:
    """The named unit an estimate is stated in: ``percentage points``, ``rate ratio``, ``per 10,000 children``."""
    if est.scale == "proportion":
        return "percentage points"
    if est.scale == "ratio":
        return "rate ratio (1 = no change)"
    if est.scale == "money":
        return "£"
    if est.unit:
        return str(est.unit)
    if est.outcome and str(est.outcome).endswith("_rate"):
        return "per 10,000 children"
    return "events" if est.scale == "count" else ""


def _num(x: float, scale: str) -> str:
    if not math.isfinite(x):
        return "unbounded"
    if scale == "proportion":
        return f"{100 * x:+.1f}"
    if scale == "ratio":
        return f"{x:.3f}"
    if scale == "count":
        return f"{x:+,.0f}"
    return f"{x:+,.2f}" if abs(x) < 100 else f"{x:+,.0f}"


def estimate_text(est: Estimate) -> tuple[str, str]:
    """The estimate and its interval as text in the estimate's own unit.

    Returns
    -------
    (estimate, interval) : tuple of str
        e.g. ``("-6.4 pp", "-11.9 to -0.8 pp")`` for a proportion, ``("0.935", "0.900 to 0.972")``
        for a rate ratio.
    """
    suffix = " pp" if est.scale == "proportion" else ""
    lo, hi = est.ci
    if not (math.isfinite(lo) and math.isfinite(hi)):
        ci = "unbounded" if not (math.isnan(lo) or math.isnan(hi)) else "not available"
    else:
        ci = f"{_num(lo, est.scale)} to {_num(hi, est.scale)}{suffix}"
    return f"{_num(est.estimate, est.scale)}{suffix}", ci


def sample_text(est: Estimate, count: Callable[..., str] | None = None) -> str:
    """What an estimate rests on, in its own units: children, authorities or months.

    Parameters
    ----------
    est : Estimate
    count : callable, optional
        ``count(n, noun)`` for counts of people (disclosure control:
        :func:`ehimpact.report.disclosure.count_text`); plain numbers otherwise.
    """
    units = est.units or "children"
    if units == "months":
        return f"{est.n_treated:,} months after the change, {est.n_control:,} before"
    if units == "authorities":
        return (f"{est.n_treated:,} adopting and {est.n_control:,} comparison "
                f"{'authority' if est.n_control == 1 else 'authorities'}")
    if count is None:
        return f"{est.n_treated:,} treated and {est.n_control:,} comparison {units}"
    diag = est.diagnostics or {}
    totals = {"treated": diag.get("n_treated_input"), "control": diag.get("n_control_input")}

    def part(n: int, noun: str, total: Any) -> str:
        try:
            return count(n, noun, total=total) if total is not None else count(n, noun)
        except TypeError:  # a plain count(n, noun) callable
            return count(n, noun)

    return (f"{part(est.n_treated, 'treated ' + units, totals['treated'])} and "
            f"{part(est.n_control, 'comparison ' + units, totals['control'])}")


def compare_designs(estimates: Sequence[Estimate], names: Sequence[str], *,
                    count: Callable[..., str] | None = None) -> pd.DataFrame:
    """The headline beside alternative designs, each in its own named unit and its own n.

    Unlike :func:`compare`, which puts raw numbers in one column per model, this is the
    table a report shows: one row per design, the estimate and interval as text in the
    design's unit (percentage points, rate ratio, per 10,000 children), and what the design
    rests on in its own units (children, authorities, months).

    Parameters
    ----------
    estimates : sequence of Estimate
    names : sequence of str
        Design names as the reader should see them.
    count : callable, optional
        Disclosure-safe count of people, ``count(n, noun) -> str``.

    Returns
    -------
    DataFrame
        Columns ``Design, Outcome, Estimate, 95% CI, Unit, p-value, Rests on``.
    """
    from ehimpact.report.labels import fmt_p, label

    if len(estimates) != len(names):
        raise InputError(f"{len(names)} names for {len(estimates)} estimates", field="names",
                         fix="give one name per estimate")
    rows = []
    for name, est in zip(names, estimates, strict=True):
        e, ci = estimate_text(est)
        rows.append({
            "Design": name,
            "Outcome": label(est.outcome) if est.outcome else "",
            "Estimate": e,
            f"{100 * est.level:.0f}% CI": ci,
            "Unit": estimate_unit(est),
            "p-value": fmt_p(est.pvalue),
            "Rests on": sample_text(est, count),
        })
    return pd.DataFrame(rows)
