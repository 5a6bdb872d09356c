"""Power planning for one evaluation: the smallest effect each design could detect, before it is run.

:func:`plan` reads an :class:`~ehimpact.report.evaluation.Evaluation` (its children, panel and config)
and returns one row per outcome and design family with the minimum detectable effect (MDE) from
:mod:`ehimpact.estimators.power`; :func:`plan_text` says the same in sentences, for ``ehimpact plan``
and step 3 of the report.  Nothing here runs a design: planning comes before the evaluation.

Design families
---------------
- *Child-level comparison* (``match``, ``weight``): supported against comparison children of this
  authority; base rate among comparison children; the balance achieved, as the variance inflation of
  the headline child design measured on placebo outcomes (drawn from a model of the comparison
  children's outcomes, no effect; the supported children's outcomes are never read).  If the design
  cannot run, the Kish size of the comparison children's propensity odds weights is used instead.
- *Authority panel* (``did_2x2``, ``twfe``, ``event_study``, ``staggered_did``): the authorities that
  adopted with this one against those that never adopted, over the comparison window; ICC and AR(1)
  serial correlation estimated from the never-adopting authorities' rows.
- *Single series* (``its``, ``synthetic_control``): this authority's own months before and after the
  change; noise from a pre-period fit of trend and month.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from ehimpact.errors import InputError
from ehimpact.estimators import power as P

if TYPE_CHECKING:
    from ehimpact.report.evaluation import Evaluation

__all__ = ["plan", "plan_text", "COLUMNS"]

CHILD = {"match", "weight"}
PANEL = {"did_2x2", "twfe", "event_study", "staggered_did"}
SERIES = {"its", "synthetic_control"}
FAMILY_NAMES = {"child": "Child-level comparison", "panel": "Authority panel", "series": "Single series"}

#: the columns of :func:`plan`, in order (human labels: the table goes into the report as it is)
COLUMNS = ["Outcome", "Design family", "Designs", "Treated or after", "Comparison or before", "Counted in",
           "Base rate or noise", "Minimum detectable effect", "Unit", "Sentence"]


def plan(evaluation: Evaluation, *, alpha: float = 0.05, power: float = 0.8) -> pd.DataFrame:
    """Minimum detectable effects per outcome and design family for one evaluation.

    Parameters
    ----------
    evaluation : Evaluation
        The evaluation (data loaded, designs not yet run).
    alpha : float, default 0.05
        Two-sided significance level.
    power : float, default 0.8
        Power.

    Returns
    -------
    DataFrame
        One row per outcome x design family (:data:`COLUMNS`): the outcome's label, the family and
        its designs in the config, the sizes in their own units (children, authorities, months), the
        base rate (proportions) or noise SD, the MDE in the outcome's unit (percentage points for a
        probability) and the sentence.  A family the data cannot support has a row that says why.

    Examples
    --------
    >>> plan(ev)[["Outcome", "Design family", "Minimum detectable effect"]]   # doctest: +SKIP
    """
    designs = [evaluation.config.design, *getattr(evaluation.config, "robustness", [])]
    names = [d.name for d in designs]
    rows: list[dict[str, Any]] = []
    if any(n in CHILD for n in names):
        rows.extend(_child_rows(evaluation, [d for d in designs if d.name in CHILD], alpha, power))
    if any(n in PANEL for n in names):
        rows.extend(_panel_rows(evaluation, [d for d in designs if d.name in PANEL], alpha, power))
    if any(n in SERIES for n in names):
        rows.extend(_series_rows(evaluation, [d for d in designs if d.name in SERIES], alpha, power))
    out = pd.DataFrame([{k: v for k, v in r.items() if k != "_result"} for r in rows], columns=COLUMNS)
    #: the MDEResult behind each row (None for a row that says why there is none)
    out.attrs["results"] = [r.get("_result") for r in rows]
    for c in ("Treated or after", "Comparison or before"):
        out[c] = out[c].astype("Int64")
    return out


def plan_text(evaluation: Evaluation, *, alpha: float = 0.05, power: float = 0.8) -> str:
    """:func:`plan` in sentences: a heading, then one line per outcome and design family.

    Examples
    --------
    >>> print(plan_text(ev))   # doctest: +SKIP
    Power planning for Bracknell Forest (E06000036) ...
    """
    table = plan(evaluation, alpha=alpha, power=power)
    name = getattr(evaluation, "authority_name", evaluation.authority)
    head = (f"Power planning for {name} ({evaluation.authority}): the smallest effects these data could "
            f"detect, {100 * power:.0f}% power, {100 * alpha:g}% two-sided test.")
    if getattr(evaluation, "synthetic", False):
        head += " SYNTHETIC DATA: these numbers illustrate the method and describe no real children."
    lines = [head]
    for family, part in table.groupby("Design family", sort=False):
        lines.append("")
        lines.append(f"{family} ({part['Designs'].iloc[0]}):")
        lines.extend(f"- {s}" for s in part["Sentence"])
    return "\n".join(lines)


# ----------------------------------------------------------------------------- child level
def _child_rows(ev: Evaluation, designs: list[Any], alpha: float, power: float) -> list[dict[str, Any]]:
    fam = FAMILY_NAMES["child"]
    dnames = ", ".join(dict.fromkeys(d.name for d in designs))
    children = ev.children
    if children is None or "received_early_help" not in getattr(children, "columns", []):
        return [_unavailable(o.label or o.column, fam, dnames, "there is no child-level data for this authority")
                for o in ev.config.outcomes]
    head = ev.config.design if ev.config.design.name in CHILD else designs[0]
    weights: pd.Series | None | bool = False  # computed once, only if a placebo run fails
    rows = []
    for o in ev.config.outcomes:
        label = o.label or o.column
        if o.column not in children.columns:
            rows.append(_unavailable(label, fam, dnames, f"the child-level data has no column {o.column!r}"))
            continue
        c = children.dropna(subset=[o.column])
        d = c["received_early_help"].to_numpy() == 1
        y = pd.to_numeric(c[o.column], errors="coerce").to_numpy(dtype=float)
        n1, n0 = int(d.sum()), int((~d).sum())
        binary = bool(np.isin(y, (0.0, 1.0)).all())
        if n1 < 2 or n0 < 2:
            rows.append(_unavailable(label, fam, dnames, f"{n1:,} supported and {n0:,} comparison children"))
            continue
        if not binary:
            rows.append(_unavailable(label, fam, dnames, "the outcome is not a 0/1 indicator (only proportions "
                                                          "are planned at child level)"))
            continue
        base = float(y[~d].mean())
        if not 0 < base < 1:
            rows.append(_unavailable(label, fam, dnames, f"no comparison child has the outcome (base rate {base:.0%})"))
            continue
        vif = _placebo_variance_inflation(ev, head, o.column, base)
        how = f"{head.name} on placebo outcomes"
        w = None
        if vif is None:  # the design cannot run: the balance the propensity odds weights leave
            if weights is False:
                weights = _expected_control_weights(children, designs)
            if isinstance(weights, pd.Series):
                w = weights.reindex(c.index[~d]).dropna().to_numpy()
                w = w if len(w) else None
            vif, how = 1.0, "propensity odds weights (Kish)"
        try:
            r = P.mde_matched(n1, n0, base, weights_control=w, variance_inflation=vif, alpha=alpha, power=power,
                              outcome_label=o.label or o.column)
        except InputError as exc:
            rows.append(_unavailable(label, fam, dnames, exc.message))
            continue
        r.inputs["balance_from"] = how
        rows.append(_row(label, fam, dnames, r, n1, n0, "children",
                         f"base rate {100 * base:.1f}%; variance x{r.inputs['variance_inflation']:.2f} ({how})"
                         if w is None else f"base rate {100 * base:.1f}%; balance from {how}"))
    return rows


def _placebo_variance_inflation(ev: Evaluation, design: Any, outcome: str, base: float,
                                draws: int = 8) -> float | None:
    """The design's variance on placebo outcomes over a simple comparison's: the balance it achieves.

    Placebo outcomes are drawn ``draws`` times (seeded by the config's seed) from a logistic model of
    the *comparison* children's outcome on the design's covariates, for every child, with no effect
    (:func:`ehimpact.estimators.power.simulate_power`, ``method="plasmode"``): the supported children's
    outcomes are never looked at.  The design runs on them with its own options; the mean of its squared
    standard errors over :math:`p_0(1 - p_0)(1/n_1 + 1/n_0)` is the variance inflation.  It holds what
    matching or weighting costs: comparison children reused or weighted up, children dropped by a
    caliper or trimming, and outcome risks that differ where the supported children are.
    """
    try:
        from ehimpact.estimators import registry

        spec = registry.get(design.name)
        data, kw = ev.design_data(design, outcome)
        kw.pop("outcome_column", None)
        kw["outcome"] = outcome
        treat = kw.get("treatment", "received_early_help")
        d = pd.to_numeric(data[treat], errors="coerce").to_numpy() == 1
        sim = P.simulate_power(data, spec.func, kw, 0.0, outcome=outcome, treatment=treat, reps=draws,
                               seed=getattr(ev.config, "seed", None), method="plasmode")
        ses = sim.ses[np.isfinite(sim.ses) & (sim.ses > 0)]
        if not len(ses):
            return None
        simple = base * (1 - base) * (1 / d.sum() + 1 / (~d).sum())
        return float(np.mean(ses**2) / simple)
    except (InputError, KeyError, ValueError, np.linalg.LinAlgError):
        return None


def _expected_control_weights(children: pd.DataFrame, designs: list[Any]) -> pd.Series | None:
    """ATT odds weights e/(1-e) of the comparison children, from a logistic score on the design's covariates."""
    try:
        from ehimpact.estimators.balance import design_matrices
        from ehimpact.estimators.propensity import fit_propensity
        from ehimpact.report.designs import DEFAULT_COVARIATES

        covs = next((list(d.covariates) for d in designs if getattr(d, "covariates", None)), None)
        covs = covs or [c for c in DEFAULT_COVARIATES if c in children.columns]
        if not covs:
            return None
        data = children.dropna(subset=[*covs, "received_early_help"])
        d = data["received_early_help"].to_numpy(dtype=float)
        X, names, _, _ = design_matrices(data, covs)
        e = np.clip(fit_propensity(X, d, names).score, 1e-6, 1 - 1e-6)
        w = pd.Series(e / (1 - e), index=data.index)
        return w[d == 0]
    except (InputError, ValueError, np.linalg.LinAlgError):  # no usable score: plan without balance loss
        return None


# ----------------------------------------------------------------------------- authority panel
def _panel_rows(ev: Evaluation, designs: list[Any], alpha: float, power: float) -> list[dict[str, Any]]:
    fam = FAMILY_NAMES["panel"]
    dnames = ", ".join(dict.fromkeys(d.name for d in designs))
    outcomes = list(dict.fromkeys(d.options.get("outcome") or "referrals_rate" for d in designs))
    window = next((int(d.options["window_months"]) for d in designs if "window_months" in d.options), 12)
    panel = ev.panel
    rows = []
    for col in outcomes:
        label, units = _panel_words(col)
        if panel is None or col not in panel.columns:
            rows.append(_unavailable(label, fam, dnames, f"the authority panel has no column {col!r}"))
            continue
        try:
            r, j1, j0 = _panel_mde(ev, panel, col, window, units, alpha, power)
        except InputError as exc:
            rows.append(_unavailable(label, fam, dnames, exc.message))
            continue
        s = r.inputs
        rows.append(_row(label, fam, dnames, r, j1, j0, "authorities",
                         f"SD {s['sd']:.3g}, ICC {s['icc']:.2f}, AR(1) {s['rho']:.2f}"))
    return rows


def _panel_mde(ev: Evaluation, panel: pd.DataFrame, col: str, window: int, units: str, alpha: float,
               power: float) -> tuple[P.MDEResult, int, int]:
    unit, time = "authority_code", "period"
    first = panel.groupby(unit)["adoption_period"].first()
    never = first.index[first.isna()]
    own = first.get(ev.authority)
    if own is not None and not pd.isna(own):
        adopters = first.index[first == own]  # the authority's own adoption cohort (as did_2x2 compares)
        start = pd.Timestamp(own)
    else:
        adopters = first.index[first.notna()]
        start = pd.Timestamp(first.dropna().median()) if len(adopters) else None
    if len(adopters) == 0 or len(never) == 0:
        raise InputError(f"{len(adopters)} adopting and {len(never)} never-adopting authorities", field="panel")
    periods = pd.Series(sorted(panel[time].unique()))
    n_pre = int(min(window, (periods < start).sum()))
    n_post = int(min(window, (periods >= start).sum()))
    if n_pre < 1 or n_post < 1:
        raise InputError(f"{n_pre} months before and {n_post} after adoption in the panel", field="panel")
    comp = panel[panel[unit].isin(never)]
    if comp[unit].nunique() < 2:  # one comparison authority: use every authority's months before adoption
        comp = panel[panel["adoption_period"].isna() | (panel[time] < panel["adoption_period"])]
    # whole-year windows: each authority's own seasonal pattern cancels in its before/after change
    season = 12 if n_pre % 12 == 0 and n_post % 12 == 0 and comp[time].nunique() >= 24 else None
    structure = P.estimate_panel_structure(comp, unit, time, col, season_length=season)
    r = P.mde_panel(len(adopters), len(never), n_pre, n_post, structure=structure, alpha=alpha, power=power,
                    units=units)  # the unit names the outcome: no separate label in the sentence
    return r, len(adopters), len(never)


def _panel_words(col: str) -> tuple[str, str]:
    """(label, unit) of a panel column: ("referrals per 10,000 children", "referrals per 10,000 children a month")."""
    base = col.removesuffix("_rate")
    base = {"re_referrals": "re-referrals", "cpp_starts": "child protection plans started", "cla": "children looked after",
            "cin": "children in need", "s47": "section 47 enquiries", "eh_assessments": "early help assessments",
            }.get(base, base.replace("_", " "))
    if col.endswith("_rate"):
        return f"{base} per 10,000 children", f"{base} per 10,000 children a month"
    return base, f"{base} a month"


# ----------------------------------------------------------------------------- single series
def _series_rows(ev: Evaluation, designs: list[Any], alpha: float, power: float) -> list[dict[str, Any]]:
    fam = FAMILY_NAMES["series"]
    dnames = ", ".join(dict.fromkeys(d.name for d in designs))
    outcomes = list(dict.fromkeys(d.options.get("outcome") or "referrals" for d in designs))
    ap = ev.authority_panel
    rows = []
    for col in outcomes:
        label, units = _panel_words(col)
        if ap is None or col not in ap.columns:
            rows.append(_unavailable(label, fam, dnames, f"the authority's series has no column {col!r}"))
            continue
        start = _series_start(ev, ap)
        if start is None:
            rows.append(_unavailable(label, fam, dnames, "no intervention date for this authority "
                                                          "(set evaluation.intervention.start_date)"))
            continue
        try:
            r = _series_mde(ap, col, start, units, alpha, power)
        except InputError as exc:
            rows.append(_unavailable(label, fam, dnames, exc.message))
            continue
        s = r.inputs
        rows.append(_row(label, fam, dnames, r, s["n_post"], s["n_pre"], "months",
                         f"residual SD {s['sd_resid']:.3g} around the {s['noise_model']}, AR(1) {s['rho']:.2f}"))
    return rows


def _series_start(ev: Evaluation, ap: pd.DataFrame) -> pd.Timestamp | None:
    v = ap["adoption_period"].dropna() if "adoption_period" in ap.columns else pd.Series(dtype=object)
    if len(v):
        return pd.Timestamp(v.iloc[0])
    sd = getattr(getattr(ev.config, "intervention", None), "start_date", None)
    return pd.Timestamp(sd) if sd is not None else None


def _series_mde(ap: pd.DataFrame, col: str, start: pd.Timestamp, units: str, alpha: float,
                power: float) -> P.MDEResult:
    s = ap[["period", col]].dropna().sort_values("period")
    t = pd.to_datetime(s["period"])
    pre = s[t < start]
    n_pre, n_post = len(pre), int((t >= start).sum())
    if n_pre < 6 or n_post < 1:
        raise InputError(f"{n_pre} months before and {n_post} after the change; the series needs at least 6 "
                         "before", field="authority_panel")
    # the noise around trend and month of year, from the months before the change; with under 16 of
    # them there are too few to fit the month as well, and the whole series is fitted with a level shift
    # at the change (the ITS model itself) instead
    seasonal_pre = n_pre >= 16
    fit = pre if seasonal_pre else s
    y = fit[col].to_numpy(dtype=float)
    n = len(y)
    tt = np.arange(n, dtype=float)
    month = pd.to_datetime(fit["period"]).dt.month.to_numpy()
    cols = [np.ones(n), tt, *[(month == m).astype(float) for m in range(2, 13)]]
    if not seasonal_pre:
        cols.append((pd.to_datetime(fit["period"]) >= start).to_numpy(dtype=float))
    X = np.column_stack(cols)
    X = X[:, X.any(axis=0)]  # a month missing from the data has no dummy
    beta, *_ = np.linalg.lstsq(X, y, rcond=None)
    resid = y - X @ beta
    k = np.linalg.matrix_rank(X)
    if n - k < 3:
        raise InputError(f"{n} months are too few to estimate the noise around trend and month", field="authority_panel")
    sd = float(math.sqrt((resid**2).sum() / (n - k)))
    if sd <= 0:
        raise InputError("the series has no noise around its trend", field="authority_panel")
    rho = float(np.clip((resid[1:] * resid[:-1]).sum() / (resid**2).sum(), -0.95, 0.95))
    pre_y = pre[col].to_numpy(dtype=float)
    r = P.mde_series(n_pre, n_post, sd_resid=sd, rho=rho, model="trend", season_length=12, alpha=alpha,
                     power=power, units=units, pre_mean=float(pre_y.mean()))
    r.inputs["noise_model"] = ("trend and month of year before the change" if seasonal_pre else
                               "trend, month of year and a level shift over the whole series (under 16 months before)")
    return r


# ----------------------------------------------------------------------------- rows
def _row(label: str, family: str, designs: str, r: P.MDEResult, n1: float, n0: float, counted: str,
         base: str) -> dict[str, Any]:
    return {"Outcome": label, "Design family": family, "Designs": designs, "Treated or after": int(round(n1)),
            "Comparison or before": int(round(n0)), "Counted in": counted, "Base rate or noise": base,
            "Minimum detectable effect": round(float(r.display_value), 3) if math.isfinite(r.mde) else None,
            "Unit": r.display_units, "Sentence": r.sentence(), "_result": r}


def _unavailable(label: str, family: str, designs: str, why: str) -> dict[str, Any]:
    return {"Outcome": label, "Design family": family, "Designs": designs, "Treated or after": None,
            "Comparison or before": None, "Counted in": None, "Base rate or noise": None,
            "Minimum detectable effect": None, "Unit": None,
            "Sentence": f"{family} on {label}: no minimum detectable effect, because {why}."}
