"""The ten steps of the write-up (DOMAIN.md §0), one function each.

Each ``stepN(evaluation, section)`` fills a :class:`~ehimpact.report.sections.Section`
with narrative built from results' ``summary()``, disclosure-controlled tables and
figures.  No function here computes a statistic an estimator should compute: they
call the estimators through :class:`~ehimpact.report.evaluation.Evaluation`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from ehimpact.errors import InputError
from ehimpact.estimators.result import Estimate
from ehimpact.report.sections import NotAvailable, Section

if TYPE_CHECKING:
    from ehimpact.report.evaluation import Evaluation

__all__ = [f"step{i}" for i in range(1, 11)] + ["pitfalls_checklist", "summary", "exclusions", "evidence_level",
                                                 "biggest_threat", "next_steps", "estimate_prose"]


def _bullets(items: list[str]) -> str:
    return "\n".join(f"- {i}" for i in items) if items else "- *(not given in the config)*"


def _note(sec: Section, result: Estimate | NotAvailable) -> None:
    if isinstance(result, NotAvailable):
        sec.say(result.text())


# ---------------------------------------------------------------------------- 1-3
def step1(ev: Evaluation, sec: Section) -> None:
    """Theory of change, from the config."""
    toc = ev.config.theory_of_change
    iv = ev.config.intervention
    sec.say(f"**Service:** {iv.name}. {iv.description}")
    sec.say(f"**The need.** {toc.need or '*(not given)*'}")
    sec.say(f"**Who it is for.** {toc.target_families or '*(not given)*'}")
    sec.say(f"**How it should help.** {toc.mechanism or '*(not given)*'}")
    sec.say("**What should change:**\n" + _bullets(toc.outcomes_expected))


def step2(ev: Evaluation, sec: Section) -> None:
    """Logic model as a five-column table and a flow figure."""
    lm = ev.config.logic_model
    cols = {"Inputs": lm.inputs, "Activities": lm.activities, "Outputs": lm.outputs,
            "Short-term outcomes": lm.short_term_outcomes, "Long-term outcomes": lm.long_term_outcomes}
    depth = max([len(v) for v in cols.values()] + [1])
    table = pd.DataFrame({k: v + [""] * (depth - len(v)) for k, v in cols.items()})
    ev.add_table(sec, "Logic model", table, counts=[], row="Read down each column: one item per line.")
    sec.say("Read left to right: what we put in, what we do, what we deliver, and what should change as a result.")


def step3(ev: Evaluation, sec: Section) -> None:
    """Evaluation questions and outcome measures, with dictionary definitions."""
    sec.say(f"**Question.** Did {ev.config.intervention.name} change outcomes for the children and families "
            f"it supported in {ev.authority_name}, compared with what would have happened without it?")
    rows = []
    fields = _dictionary_fields("child_level") | _dictionary_fields("authority_panel")
    for o in ev.config.outcomes:
        f = fields.get(o.column)
        window = (f.outcome or {}).get("window_months") if f is not None else None
        from ehimpact.report.labels import label

        rows.append({
            "measure": label(o.column),
            "meaning": o.label or (f.description if f is not None else ""),
            "source": f.source if f is not None else "the authority's own data",
            "follow-up": f"{window} months" if window else "",
            "role": "primary" if o.primary else "secondary",
        })
    ev.add_table(sec, "Outcome measures", pd.DataFrame(rows), counts=[], row="One row per outcome measure.")
    sec.say("Measures come from statutory returns (Children in Need census, SSDA903) and the authority's own "
            "early help records, with the definitions in ehimpact's data dictionary; they map to the Troubled "
            "Families headline problems where one applies.")
    _power_plan(ev, sec)


def _power_plan(ev: Evaluation, sec: Section) -> None:
    """Step 3's smallest detectable effects (:func:`ehimpact.report.planning.plan`)."""
    plan = ev.power_plan()
    if isinstance(plan, NotAvailable):
        sec.say(plan.text())
        return
    sec.say("**How large an effect could these data detect?** Before reading the results: an effect smaller "
            "than the one below would probably be missed (80% power, 5% two-sided test), so a finding of "
            "\"no effect\" on that outcome does not show that the service has none.")
    table = plan.drop(columns=[c for c in ("Sentence",) if c in plan.columns])
    ev.add_table(sec, "Smallest detectable effects", table, counts=[],
                 row="One row per outcome and design family; sizes in their own units (children, authorities "
                     "or months).")
    for sentence in plan.get("Sentence", []):
        sec.say(f"- {sentence}")


def _dictionary_fields(name: str) -> dict[str, Any]:
    """Column name -> :class:`ehimpact.data.dictionary.Field` of a shipped dictionary."""
    from ehimpact.data import dictionary

    return dict(dictionary.get(name).fields)


# ---------------------------------------------------------------------------- 4-5
def step4(ev: Evaluation, sec: Section) -> None:
    """Data sources, quality and the cohort (disclosure-safe counts)."""
    sec.say("**Sources:** " + "; ".join(ev.inputs.sources) + ".")
    if ev.synthetic:
        sec.say("**These are synthetic data**, generated by ehimpact to demonstrate the method. "
                "No real child is described.")
    stat = ev.inputs.validation.get("statutory")
    if stat:
        files = stat.get("files", {})

        def n(x: Any) -> str:  # counts arrive already disclosure-controlled ('c' for 1-5)
            return f"{x:,}" if isinstance(x, int) else str(x)

        sec.say(f"Statutory returns and the early help export were read record by record: "
                f"{n(stat.get('records_read'))} records in {len(files)} files; {n(stat.get('records_excluded'))} "
                f"records excluded for problems (the problems are listed for the evaluator by `ehimpact validate` "
                f"and the read report, never in this report).")
    own = ev.inputs.validation.get("child_level")
    if own:
        sec.say(f"Checked against the data dictionary: {own['errors']} error(s), {own['warnings']} warning(s).")
    c = ev.children
    if c is None or len(c) == 0:
        sec.say(NotAvailable("Cohort", "no child-level data for this authority").text())
        return
    c = c.assign(group=np.where(c["received_early_help"] == 1, "supported", "comparison"),
                 age_band=pd.cut(c["age"], [-1, 4, 10, 15, 18], labels=["0-4", "5-10", "11-15", "16-17"]))
    tab = c.groupby(["age_band", "group"], observed=False).size().unstack("group", fill_value=0).reset_index()
    tab.columns.name = None
    tab["age_band"] = tab["age_band"].astype(str)
    total = {"age_band": "Total", **{g: int(tab[g].sum()) for g in tab.columns if g != "age_band"}}
    tab = pd.concat([tab, pd.DataFrame([total])], ignore_index=True)
    counts = [g for g in tab.columns if g != "age_band"]
    ev.add_table(sec, "Children in the cohort by age band", tab, counts=counts, totals=["Total"],
                 row="One row per age band at referral (children); the last row is the whole cohort.")
    n_sup, n_cmp = int((c["received_early_help"] == 1).sum()), int((c["received_early_help"] == 0).sum())
    sec.say(f"The cohort has {ev.count(n_sup, 'supported child', 'supported children')} and "
            f"{ev.count(n_cmp, 'comparison child', 'comparison children')} (assessed but not supported), followed "
            "up from the end of their early help episode (or the equivalent date for comparison children).")
    excl = exclusions(ev)
    if excl:
        sec.say("**Excluded before or by the analysis:** " + "; ".join(excl) + ".")
    _follow_up_table(ev, sec)


def follow_up_records(ev: Evaluation) -> list[dict[str, Any]]:
    """Follow-up completeness per outcome as the data loader recorded it (counts already disclosure-controlled)."""
    val = ev.inputs.validation or {}
    for key in ("statutory", "synthetic"):
        rec = val.get(key)
        if isinstance(rec, dict) and isinstance(rec.get("follow_up"), list):
            return [r for r in rec["follow_up"] if isinstance(r, dict)]
    return []


def extract_date(ev: Evaluation) -> str | None:
    """The data extract date the outcome windows were checked against, if any."""
    val = ev.inputs.validation or {}
    for key in ("statutory", "synthetic"):
        rec = val.get(key)
        if isinstance(rec, dict) and rec.get("extract_date"):
            return str(rec["extract_date"])[:10]
    return None


def _follow_up_table(ev: Evaluation, sec: Section) -> None:
    from ehimpact.report.labels import label

    wanted = {o.column for o in ev.config.outcomes}
    recs = [r for r in follow_up_records(ev) if r.get("outcome") in wanted]
    if not recs:
        return
    table = pd.DataFrame([{
        "outcome": label(r["outcome"]), "window": f"{r.get('window_months')} months",
        "followed up to the end of the window": r.get("observed"),
        "window not over by the data extract": r.get("unobserved_follow_up"),
        "episode still open": r.get("open_episode"),
    } for r in recs])
    counts = ["followed up to the end of the window", "window not over by the data extract", "episode still open"]
    ev.add_table(sec, "Follow-up by outcome", table, counts=counts,
                 row="One row per outcome; counts of children in this authority's cohort.")
    when = extract_date(ev)
    sec.say("A child whose follow-up window had not ended by the data extract"
            + (f" ({when})" if when else "") + " has that outcome unobserved: they are left out of that "
            "outcome's analysis rather than counted as having no event. Children whose early help episode was "
            "still open are left out of every outcome.")
    for r in recs:
        if r.get("observed") == 0:
            sec.say(f"*{label(r['outcome'])}: no child's {r.get('window_months')}-month follow-up had ended by the "
                    "data extract, so this outcome cannot be analysed yet.*")


def _safe_count(n: int, ev: Evaluation) -> str:
    return ev.count(n, "").strip()


def _flat(d: Any, prefix: str = "") -> list[tuple[str, Any]]:
    out: list[tuple[str, Any]] = []
    if isinstance(d, dict):
        for k, v in d.items():
            out += _flat(v, f"{prefix}{k}.")
    elif not isinstance(d, list):
        out.append((prefix.rstrip("."), d))
    return out[:12]


def step5(ev: Evaluation, sec: Section) -> None:
    """Implementation and reach: referrals, take-up, duration, re-referral."""
    c = ev.children
    if c is not None and len(c):
        from ehimpact.data.outcomes import reach_measures

        sup = c[c["received_early_help"] == 1]
        reach = reach_measures(c)
        rows = [{"measure": "Children assessed", "count": reach["assessed"]},
                {"measure": "Children supported", "count": reach["supported"]}]
        has_dates = {"start_date", "end_date"} <= set(sup.columns) and len(sup)
        if has_dates:
            rows.append({"measure": "Episodes closed within 4 weeks", "count": reach["closed_early"]})
        if "reref_eh_12m" in sup.columns:
            rows.append({"measure": "Re-referred to early help within 12 months",
                         "count": int(sup["reref_eh_12m"].fillna(0).sum())})
        for col, words in (("step_up", "Stepped up to children's social care (from the start of early help to "
                                       "12 months after it closed)"),
                           ("step_up_same_day", "Stepped up on the day early help closed"),
                           ("step_down", "Stepped down to early help from children's social care")):
            if col in c.columns:
                frame = c if col == "step_down" else sup
                rows.append({"measure": words, "count": int(pd.to_numeric(frame[col], errors="coerce")
                                                           .fillna(0).sum())})
        tab = pd.DataFrame(rows)
        ev.add_table(sec, "Reach", tab, counts=["count"], row="One row per measure of reach (children).",
                     labels={"count": "Children"})
        if len(sup) and len(c):
            sec.say(f"Take-up: {100 * reach['take_up']:.0f}% of assessed children received early help.")
            if has_dates and np.isfinite(reach["median_weeks"]):
                sec.say(f"The median episode lasted {reach['median_weeks']:.0f} weeks.")
    ap = ev.authority_panel
    if ap is not None and len(ap):
        t = ev.config.disclosure.threshold
        series = [(col, lab) for col, lab in MONTHLY_SERIES if col in ap.columns]
        shown = [(col, lab) for col, lab in series if not has_small_counts(ap[col], t)]
        if shown:
            sec.figures.append((f"Monthly {' and '.join(lab for _, lab in shown)}, {ev.authority_name}",
                                _monthly_figure(ap, ev, shown)))
        hidden = [lab for col, lab in series if (col, lab) not in shown]
        if hidden:
            sec.say(f"*Monthly {' and '.join(hidden)} are not plotted: some months had between 1 and {t}, "
                    "which a chart would disclose.*")
        yearly = ap.assign(year=pd.to_datetime(ap["period"]).dt.year).groupby("year")[
            [c for c in ("referrals", "re_referrals", "eh_assessments", "cpp_starts") if c in ap.columns]
        ].sum().reset_index()
        months = ap.assign(year=pd.to_datetime(ap["period"]).dt.year).groupby("year")["period"].nunique()
        yearly["year"] = [f"{y} ({months[y]} months)" if months[y] < 12 else str(y) for y in yearly["year"]]
        counts = [c for c in yearly.columns if c != "year"]
        ev.add_table(sec, "Activity by calendar year", yearly, counts=counts,
                     row="One row per calendar year (a part year says how many months it covers); counts of events.")


#: the authority's monthly series step 5 plots: (panel column, words)
MONTHLY_SERIES = (("referrals", "referrals to children's social care"), ("eh_assessments", "early help assessments"))


def has_small_counts(values: Any, threshold: int) -> bool:
    """Whether any value is a count from 1 to ``threshold`` (a chart of it would disclose it).

    Parameters
    ----------
    values : array-like
        Counts (non-numeric values are ignored).
    threshold : int
        The disclosure threshold (``disclosure.threshold``, default 5).

    Returns
    -------
    bool
    """
    from ehimpact.smallcounts import is_small_count

    v = pd.to_numeric(pd.Series(np.asarray(values).ravel()), errors="coerce").dropna()
    return any(is_small_count(x, threshold) for x in v.round().to_numpy())  # a chart shows them rounded


def _monthly_figure(ap: pd.DataFrame, ev: Evaluation, series: list[tuple[str, str]]):
    import matplotlib.dates as mdates
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(10, 3.2))
    for col, lab in series:
        ax.plot(pd.to_datetime(ap["period"]), ap[col], label=lab)
    adoption = ev._adoption_period()
    if adoption is not None:
        ax.axvline(adoption, color="grey", linestyle="--", linewidth=1, label="new model starts")
    ax.set_ylabel("number per month")
    ax.xaxis.set_major_locator(mdates.YearLocator())
    ax.xaxis.set_major_formatter(mdates.DateFormatter("%Y"))
    # the legend sits below the axes, never over the data
    ax.legend(frameon=False, fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    ax.set_title(" and ".join(lab for _, lab in series).capitalize(), fontsize=10)
    fig.tight_layout()
    return fig


# ---------------------------------------------------------------------------- 6-8
def step6(ev: Evaluation, sec: Section) -> None:
    """Design choice and evidence its assumptions hold."""
    from ehimpact.report.designs import WHY_DESIGN
    from ehimpact.report.labels import design_label

    d = ev.config.design
    sec.say(f"**Design: {design_label(d.name)}.** " + (_spec(d.name).rationale if _spec(d.name) is not None
                                                         and _spec(d.name).rationale else
                                                         WHY_DESIGN.get(d.name, "A design registered by a plug-in "
                                                                        "package.")))
    primary = ev.primary
    if isinstance(primary, NotAvailable):
        _note(sec, primary)
        return
    run_hooks(ev, sec, 6, d.name, primary)
    note = ev.notes.get("primary")
    if note:
        sec.say(note)
    bal = getattr(primary, "balance", None)
    if isinstance(bal, pd.DataFrame) and len(bal):
        worst = _worst_smd(bal)
        sec.say(f"Balance after adjustment: the largest standardised mean difference is {worst:.2f} "
                f"({'all below' if worst < 0.1 else 'not all below'} the 0.1 rule of thumb).")
        protected = _protected_balance(ev, primary, bal)
        ev.add_table(sec, "Covariate balance before and after adjustment", protected,
                     counts=[], row="One row per characteristic (or category of one): group means or shares, and "
                                    "standardised mean differences before and after adjustment.")
        for meth in ("love_plot", "plot_balance"):
            if hasattr(primary, meth):
                from ehimpact.estimators.balance import love_plot

                # the chart shows what the table shows: a difference suppressed there is not plotted
                shown = bal.copy()
                for col in ("smd_before", "smd_after"):
                    if col in protected.columns:
                        hidden = pd.to_numeric(protected[col], errors="coerce").isna().to_numpy() & \
                            shown[col].notna().to_numpy()
                        shown.loc[hidden, col] = np.nan
                ax = love_plot(shown, title="Balance before and after adjustment") if meth == "love_plot" \
                    and {"covariate", "smd_before", "smd_after"} <= set(shown.columns) else getattr(primary, meth)()
                _label_ticks(ax)
                _legend_outside(ax.figure)
                sec.figures.append(("Love plot: standardised mean differences", ax.figure))
                break
        if hasattr(primary, "overlap_plot"):
            ax = primary.overlap_plot()
            _legend_outside(ax.figure)
            sec.figures.append(("Propensity-score overlap", ax.figure))
    diag = primary.diagnostics
    pre = pretrend_sentence(primary)
    if pre:
        sec.say(pre)
    if d.name in ("staggered_did", "twfe", "event_study", "did_2x2"):
        es = ev.run_design(type(d)(name="event_study"), outcome=primary.outcome, key="event_study_check")
        if isinstance(es, Estimate):
            sec.figures.append(("Event study: effect by months since adoption", es.plot().figure))
            pre = pretrend_sentence(es, "event study leads jointly zero")
            if pre:
                sec.say(pre)
        else:
            _note(sec, es)
    if d.name == "its" and hasattr(primary, "plot_acf"):
        try:
            sec.figures.append(("Residual autocorrelation (ACF): bars beyond the band suggest remaining "
                                "autocorrelation", primary.plot_acf().figure))
        except Exception as exc:  # noqa: BLE001 - a diagnostic plot is optional, but say it is missing
            _figure_missing(sec, "The residual autocorrelation plot", exc)
    if d.name == "its":
        for text in its_diagnostics_sentences(diag):
            sec.say(text)


def step7(ev: Evaluation, sec: Section) -> None:
    """Headline impact estimates with CIs and plots."""
    primary = ev.primary
    if isinstance(primary, NotAvailable):
        _note(sec, primary)
        return
    sec.estimates["primary"] = primary
    sec.say("**Headline.** " + estimate_prose(ev, primary, "primary"))
    if ev.synthetic and ev.inputs.truth:
        truth = _true_value(ev, primary)
        if truth is not None:
            from ehimpact.report.tables import estimate_text

            shown = estimate_text(type(primary)(**{**_fields(primary), "estimate": truth}))[0] \
                if primary.scale == "proportion" else f"{truth:+.4g}"
            sec.say(f"*(Synthetic check: the effect planted in these data is {shown} on the same scale.)*")
    sec.figures.append(("Headline estimate with its 95% confidence interval", _plot_fig(primary)))
    run_hooks(ev, sec, 7, ev.config.design.name, primary)
    # secondary outcomes with the same design
    if ev.config.design.name in ("match", "weight"):
        for o in ev.config.outcomes:
            if o.primary:
                continue
            est = ev.run_design(ev.config.design, outcome=o.column)
            if isinstance(est, Estimate):
                sec.estimates[o.column] = est
                sec.say(_headline(ev, est, f"{ev.config.design.name}:{o.column}"))
            else:
                _note(sec, est)
    if _its_counts_too_small(ev, primary):
        sec.say(f"*The observed, fitted and counterfactual series is not plotted: some months had between 1 and "
                f"{ev.config.disclosure.threshold} {primary.event_label}, which a chart would disclose.*")
    elif hasattr(primary, "att_gt") or hasattr(primary, "coefs") or hasattr(primary, "counterfactual"):
        caption = ("Observed, fitted and counterfactual series" if hasattr(primary, "counterfactual")
                   else "Effects over time")
        try:
            sec.figures.append((caption, primary.plot().figure))
        except Exception as exc:  # noqa: BLE001 - a second plot is optional, but say it is missing
            _figure_missing(sec, f"The plot '{caption}'", exc)


def _worst_smd(bal: pd.DataFrame) -> float:
    """Largest |SMD| after adjustment, as the estimators report it (:func:`ehimpact.estimators.balance.max_abs_smd`)."""
    from ehimpact.estimators.balance import max_abs_smd

    frame = bal if "covariate" in bal.columns else bal.reset_index()
    return max_abs_smd(frame)[0]


def _spec(name: str) -> Any:
    """A design's registry spec, or None when the name is not registered."""
    from ehimpact.estimators import registry

    try:
        return registry.get(name)
    except InputError:
        return None


def run_hooks(ev: Evaluation, sec: Section, step: int, design: str, est: Estimate) -> None:
    """Call the design's write-up hook for this step (``EstimatorSpec.report_hooks``), if it has one.

    A hook that fails is named in the section with its error, never silently dropped.
    """
    import importlib

    spec = _spec(design)
    target = (spec.report_hooks or {}).get(step) if spec is not None else None
    if not target:
        return
    module, _, attr = target.partition(":")
    try:
        hook = getattr(importlib.import_module(module), attr)
    except (ImportError, AttributeError) as exc:
        sec.say(NotAvailable(f"Step {step} content for {design}", f"its report hook {target} cannot be "
                             f"loaded ({exc})").text())
        return
    hook(ev, sec, est)


def _its_counts_too_small(ev: Evaluation, est: Any) -> bool:
    """An ITS on counts whose monthly series has a count of 1 to the threshold (its plot shows every month)."""
    if not hasattr(est, "counterfactual") or getattr(est, "family", "gaussian") == "gaussian":
        return False
    ap = ev.authority_panel
    column = getattr(est, "outcome", None)
    return ap is not None and column in ap.columns and has_small_counts(ap[column], ev.config.disclosure.threshold)


def _figure_missing(sec: Section, what: str, exc: Exception) -> None:
    """Say in the report that a figure could not be drawn, and why (never drop it silently)."""
    sec.say(f"*{what} could not be drawn ({type(exc).__name__}: {str(exc)[:200]}).*")


def _plot_fig(est: Estimate):
    """The headline as a one-row forest plot, in the unit the text uses (percentage points for proportions)."""
    from ehimpact.report.figures import forest_figure
    from ehimpact.report.labels import label

    return forest_figure([est], [label(est.outcome) if est.outcome else est.estimand], figsize=(7, 1.9))


def _fields(est: Estimate) -> dict[str, Any]:
    import dataclasses

    return {f.name: getattr(est, f.name) for f in dataclasses.fields(Estimate)}


def _true_value(ev: Evaluation, est: Estimate) -> float | None:
    truth = ev.inputs.truth or {}
    by_auth = truth.get("child_att_by_authority")
    if isinstance(by_auth, list):  # read back from JSON: records with authority_code
        by_auth = pd.DataFrame(by_auth)
    if isinstance(by_auth, pd.DataFrame) and est.outcome in by_auth.columns:
        row = by_auth[by_auth.get("authority_code", by_auth.index.to_series()) == ev.authority] \
            if "authority_code" in by_auth.columns else by_auth.loc[[ev.authority]] \
            if ev.authority in by_auth.index else None
        if row is not None and len(row):
            return float(row[est.outcome].iloc[0])
    att = truth.get("child_att", {})
    if isinstance(att, dict) and est.outcome in att:
        return float(att[est.outcome])
    overall = truth.get("panel_att_overall", {})
    if isinstance(overall, dict) and est.outcome in overall:
        return float(overall[est.outcome])
    return None


def step8(ev: Evaluation, sec: Section) -> None:
    """Robustness: alternative designs and sensitivity analysis."""
    from ehimpact.report.labels import design_label
    from ehimpact.report.tables import compare_designs

    primary = ev.primary
    results: list[tuple[str, Estimate]] = []
    if isinstance(primary, Estimate):
        results.append((f"{design_label(ev.config.design.name)} (headline)", primary))
    for d in ev.config.robustness:
        est = ev.run_design(d)
        name = design_label(d.name) + (f" ({d.options['method']})" if "method" in d.options else "")
        if isinstance(est, Estimate):
            key = f"{d.name}:{est.outcome}"
            results.append((name, est))
            sec.say(f"**{name[:1].upper() + name[1:]}:** " + _headline(ev, est, key))
            extra = [est.averted_words()] if hasattr(est, "averted_words") else []
            averted = getattr(est, "averted", None)
            extra += [f"Caution: {w}." for w in getattr(averted, "warnings", [])]
            pre = pretrend_sentence(est)
            if pre:
                extra.append(pre)
            if d.name == "its":
                extra += its_diagnostics_sentences(est.diagnostics)
            extra = [x for x in extra if x]
            if extra:
                sec.say(" ".join(extra))
            policy = ev.policy(key)
            if policy is not None and policy.warning is None:
                sec.say(f"*{policy.statement}*")
            run_hooks(ev, sec, 8, d.name, est)
        else:
            _note(sec, est)
    if isinstance(primary, Estimate):
        run_hooks(ev, sec, 8, ev.config.design.name, primary)
    if len(results) > 1:
        tab = compare_designs([r[1] for r in results], [r[0] for r in results], count=ev.count)
        ev.add_table(sec, "The headline beside alternative designs", tab, counts=[], human=False,
                     row="One row per design, each estimate in its own unit and each sample in its own units "
                         "(children, authorities or months).")
    if isinstance(primary, Estimate) and hasattr(primary, "sensitivity"):
        try:
            sens = primary.sensitivity()
            table = sens.table() if hasattr(sens, "table") else sens
            if isinstance(table, pd.DataFrame):
                ev.add_table(sec, "Sensitivity to unmeasured confounding (Rosenbaum bounds)", table, counts=[],
                             row="One row per assumed strength of hidden bias (gamma: how much more likely one of "
                                 "a matched pair could be to receive early help for unrecorded reasons).")
            if hasattr(sens, "summary"):
                sec.say(sens.summary())
        except InputError as exc:
            sec.say(NotAvailable("Sensitivity analysis", str(exc)).text())
    ev_text = evalue_sentence(primary) if isinstance(primary, Estimate) else None
    if ev_text:
        sec.say("**Unmeasured confounding (headline).** " + ev_text)


# ---------------------------------------------------------------------------- 9-10
def step9(ev: Evaluation, sec: Section) -> None:
    """Costs and value for money."""
    if ev.config.costs is None:
        sec.say(NotAvailable("Costs", "no `costs:` section in the config").text())
        return
    try:
        from ehimpact import costs
    except ImportError:
        sec.say(NotAvailable("Costs", "the costs module is not built in this version").text())
        return
    if not hasattr(costs, "evaluate"):
        sec.say(NotAvailable("Costs", "the costs module is not built in this version").text())
        return
    try:
        from ehimpact.costs.config import CostsConfig

        settings = dict(ev.config.costs)
        if "cohort" not in settings:  # default: the children this authority supported
            c = ev.children
            settings["cohort"] = int((c["received_early_help"] == 1).sum()) if c is not None else 0
        cfg = CostsConfig.load(settings)
        for link in cfg.links:  # the headline design on every costed outcome
            if ev.config.design.name in ("match", "weight"):
                ev.run_design(ev.config.design, outcome=link.outcome)
        ests = sec_estimates(ev)
        results = costs.evaluate(cfg, ests, ev.panel, authority=ev.authority, seed=ev.config.seed)
    except InputError as exc:
        sec.say(NotAvailable("Costs", str(exc)).text())
        return
    sec.say(f"Costs are for the {ev.count(int(cfg.cohort), 'child supported', 'children supported')}, in "
            f"{cfg.price_base_year} prices, discounted with the HM Treasury Green Book schedule "
            f"({str(cfg.discount_schedule).replace('_', ' ')}).")
    from ehimpact.report.labels import humanise_words

    for name, res in results.items():
        title = COST_TITLES.get(name, name.replace("_", " ").capitalize())
        text, boxed = split_assumptions(res.summary())
        sec.say(f"**{title}.** " + "  \n".join(text))
        for item in boxed:
            sec.boxed(humanise_words(item), "Assumptions and unconfirmed inputs")
        tab = res.table()
        if isinstance(tab, pd.DataFrame):
            if "agency_label" in tab.columns and "agency" in tab.columns:
                tab = tab.drop(columns="agency")
            pp = {}
            if "effect" in tab.columns and "outcome" in tab.columns and all(
                    getattr(ests.get(o), "scale", None) == "proportion" for o in tab["outcome"]):
                pp = {"effect": "Effect (percentage points)"}
                tab = tab.assign(effect=(100 * pd.to_numeric(tab["effect"], errors="coerce")).round(1))
            ev.add_table(sec, title, tab, counts=[] if name == "scorecard" else None,
                         row=COST_ROWS.get(name, "One row per item."), labels=pp or None)
        try:
            ax = res.plot()
            fig = ax.figure if hasattr(ax, "figure") else ax
            _legend_outside(fig)
            sec.figures.append((title, fig))
        except Exception as exc:  # noqa: BLE001 - a missing plot does not stop the report
            _figure_missing(sec, f"The {name.replace('_', ' ')} plot", exc)
        ev.cost_results[name] = res
    if sec.box:
        sec.say("*Every assumption and unconfirmed input behind these figures is listed once, in the box below.*")


#: section titles and "what a row is" of the costs module's results
COST_TITLES = {"value_for_money": "Value for money", "late_intervention": "Cost of late intervention",
               "scorecard": "Scorecard against the region"}
COST_ROWS = {"value_for_money": "One row per costed outcome: the effect, events avoided and their value.",
             "late_intervention": "One row per statutory service counted: how many, and what it costs a year.",
             "scorecard": "One row per indicator: this authority beside the rest of the region."}

_ASSUMPTION_MARKS = ("warning:", "assumptions:", "assumption:")


def split_assumptions(summary: str) -> tuple[list[str], list[str]]:
    """Split a costs summary into the sentences to print and the items for the assumptions box.

    Lines starting ``Warning:`` or ``Assumptions:`` (placeholder, UNCONFIRMED or assumed
    inputs) go to the box, once each; the synthetic-data line is dropped (the report carries
    the banner and watermark).

    Returns
    -------
    (text, boxed) : tuple of lists of str
    """
    text: list[str] = []
    boxed: list[str] = []
    for line in summary.splitlines():
        t = line.strip()
        low = t.lower()
        if not t or low.startswith("synthetic data:"):
            continue
        mark = next((m for m in _ASSUMPTION_MARKS if low.startswith(m)), None)
        if mark:
            item = t[len(mark):].strip()
            if item and item not in boxed:
                boxed.append(item[:1].upper() + item[1:])
        else:
            text.append(t)
    return text, boxed


def _label_ticks(ax: Any) -> None:
    """Human labels for a chart's category ticks (``sex=female`` -> ``Sex: female``)."""
    from ehimpact.report.labels import label

    ticks = ax.get_yticks()
    names = [t.get_text() for t in ax.get_yticklabels()]
    if names and any(names):
        ax.set_yticks(ticks, [label(n) if n else n for n in names])


def _legend_outside(fig: Any) -> None:
    """Move every legend of a figure to the right of its axes, so no legend covers data.

    The figure is widened by the legend's room, so the axes keep their width (and their tick
    labels their spacing).
    """
    moved = False
    for ax in fig.axes:
        leg = ax.get_legend()
        if leg is None:
            continue
        handles, labels = ax.get_legend_handles_labels()
        if not handles:
            continue
        leg.remove()
        ax.legend(handles, labels, frameon=False, fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0))
        moved = True
    if moved:
        w, h = fig.get_size_inches()
        fig.set_size_inches(w + 2.4, h)
    try:
        fig.tight_layout()
    except Exception:  # noqa: BLE001 - layout is cosmetic
        pass


def sec_estimates(ev: Evaluation) -> dict[str, Estimate]:
    """Estimates by outcome column for costing (headline design)."""
    out: dict[str, Estimate] = {}
    design = ev.config.design.name
    for k, v in ev.estimates().items():  # the headline design's estimates first
        if v.outcome and v.outcome not in out and k.split(":")[0] in (design, "primary"):
            out[v.outcome] = v
    p = ev.primary
    if isinstance(p, Estimate) and p.outcome:
        out[p.outcome] = p
    return out


EVIDENCE_NOTE = ("EIF evidence levels are a guide only here (flagged *indicative*): level 2 means an outcome "
                 "improved but causality cannot be assumed; level 3 needs at least one rigorous evaluation where "
                 "causality can be judged; level 4 needs several, one with effects lasting a year or more.")


def pitfalls_checklist(ev: Evaluation) -> pd.DataFrame:
    """EIF's six common pitfalls, answered from this run."""
    from ehimpact.report.labels import design_label

    p = ev.primary
    rows: list[dict[str, str]] = []
    design = design_label(ev.config.design.name)
    if isinstance(p, Estimate):
        bal = getattr(p, "balance", None)
        if isinstance(bal, pd.DataFrame) and len(bal):
            worst = _worst_smd(bal)
            comp = f"yes, {design}; all |SMD| < 0.1" if worst < 0.1 else f"yes, {design}; largest |SMD| {worst:.2f}"
        else:
            from ehimpact.report.tables import sample_text

            comp = f"yes, {design} ({sample_text(p, ev.count)})"
        rows.append({"pitfall": "1. No robust comparison group", "this evaluation": comp})
    else:
        rows.append({"pitfall": "1. No robust comparison group", "this evaluation": "not assessed: " + p.reason})
    c = ev.children
    if c is not None and len(c) and {"start_date", "end_date"} <= set(c.columns):
        from ehimpact.data.outcomes import reach_measures

        share = reach_measures(c)["closed_early_share"]
        rows.append({"pitfall": "2. High drop-out",
                     "this evaluation": f"{100 * share:.0f}% of episodes closed within 4 weeks (proxy for disengagement)"})
    else:
        rows.append({"pitfall": "2. High drop-out", "this evaluation": "not measured in these data"})
    excluded = exclusions(ev)
    rows.append({"pitfall": "3. Excluding participants from the analysis",
                 "this evaluation": "; ".join(excluded) if excluded else
                 "no supported children excluded, before or by the design"})
    rows.append({"pitfall": "4. Inappropriate measures",
                 "this evaluation": "statutory measures with published definitions (data dictionary)"})
    mde_words = primary_mde_words(ev)
    if isinstance(p, Estimate) and mde_words:
        from ehimpact.report.tables import sample_text

        rows.append({"pitfall": "5. Small sample",
                     "this evaluation": f"{sample_text(p, ev.count)}; {mde_words}"})
    else:
        rows.append({"pitfall": "5. Small sample", "this evaluation": "not assessed"})
    rows.append({"pitfall": "6. No long-term follow-up", "this evaluation": follow_up_words(ev)})
    return pd.DataFrame(rows)


def primary_mde_words(ev: Evaluation) -> str | None:
    """The minimum detectable effect of the headline design on the primary outcome, in words (step 3's plan)."""
    plan = ev.power_plan()
    if isinstance(plan, NotAvailable) or not len(plan):
        return None
    from ehimpact.estimators import registry

    try:
        level = registry.get(ev.config.design.name).data_level
    except InputError:
        level = "child"
    family = {"child": "Child-level comparison", "panel": "Authority panel", "series": "Single series"}[level]
    primary = ev.config.primary_outcome.column
    label = ev._outcome_label(primary)
    for row in plan.to_dict(orient="records"):
        if row.get("Design family") != family:
            continue
        if level == "child" and label and row.get("Outcome") != label:
            continue
        mde = row.get("Minimum detectable effect")
        unit = row.get("Unit") or ""
        if mde is None or (isinstance(mde, float) and not np.isfinite(mde)):
            return "too few children for any plausible effect on the primary outcome to be detected with 80% power"
        size = f"{mde:.1f}" if "percentage point" in unit else f"{mde:,.3g}"
        return f"smallest effect detectable with 80% power about {size} {unit} (step 3)".replace("  ", " ")
    return None


def follow_up_words(ev: Evaluation) -> str:
    """Pitfall 6: the follow-up actually observed, per outcome (not the window the design asked for)."""
    from ehimpact.report.labels import label

    wanted = {o.column for o in ev.config.outcomes}
    recs = [r for r in follow_up_records(ev) if r.get("outcome") in wanted]
    if not recs:
        windows = [w for w in (_window(o.column) for o in ev.config.outcomes) if w]
        return (f"outcomes followed up for {', '.join(sorted({f'{w}' for w in windows}))} months; completeness "
                "against a data extract date not checked") if windows else "not assessed"
    parts = []
    for r in recs:
        n_obs, n_all = r.get("observed"), r.get("children")
        months = r.get("window_months")
        if n_obs == 0:
            parts.append(f"{label(r['outcome'])}: not yet observable ({months}-month window not over for any child)")
        elif isinstance(n_obs, int) and isinstance(n_all, int) and n_all:
            parts.append(f"{label(r['outcome'])}: {months} months, observed for {100 * n_obs / n_all:.0f}% of "
                         "the cohort")
        else:
            parts.append(f"{label(r['outcome'])}: {months} months")
    when = extract_date(ev)
    return "; ".join(parts) + (f" (data extract {when})" if when else "")


def _window(column: str) -> int | None:
    f = _dictionary_fields("child_level").get(column)
    return (f.outcome or {}).get("window_months") if f is not None and f.outcome else None


def _int(x: Any) -> int:
    try:
        return int(x) if x is not None and not isinstance(x, bool) else 0
    except (TypeError, ValueError):
        return 0


def _open_episodes(ev: Evaluation) -> int:
    """Open episodes excluded before estimation, as the outcome derivation recorded them (read defensively)."""
    val = ev.inputs.validation or {}
    found = 0
    for holder in (val, val.get("statutory") or {}, val.get("outcomes") or {}):
        if not isinstance(holder, dict):
            continue
        v = holder.get("open_episodes")
        if isinstance(v, dict):  # e.g. {"excluded": n} or {"supported": n, ...} or by authority
            if ev.authority in v:
                v = v[ev.authority]
            if isinstance(v, dict):
                v = v.get("excluded", v.get("supported", sum(_int(x) for x in v.values()
                                                             if not isinstance(x, dict))))
        if isinstance(v, str) and v == ev.config.disclosure.symbol:
            v = 1  # suppressed: between 1 and the threshold, shown again as suppressed by ev.count
        found = max(found, _int(v))
    return found


def exclusions(ev: Evaluation) -> list[str]:
    """Children left out of the headline analysis, in words (disclosure-controlled counts).

    Reads what the estimators write: matching's ``dropped_by_caliper`` and ``trimmed``
    (``{"treated": n, "control": n}``), weighting's ``trimmed``, and the open episodes the
    outcome derivation excluded before estimation (``Inputs.validation["open_episodes"]``).

    Returns
    -------
    list of str
        Empty when nobody was excluded.
    """
    out: list[str] = []
    opened = _open_episodes(ev)
    if opened:
        out.append(f"{ev.count(opened, 'supported child', 'supported children')} whose early help episode was "
                   "still open at the data extract, excluded before estimation (no follow-up yet)")
    try:
        p = ev.primary
    except InputError:
        return out
    if not isinstance(p, Estimate):
        return out
    diag = p.diagnostics
    total = diag.get("n_treated_input")
    cal = diag.get("dropped_by_caliper")
    if isinstance(cal, dict) and _int(cal.get("treated")):
        n = _int(cal["treated"])
        of = f"of the {ev.count(int(total), 'supported child', 'supported children')}, " if total else ""
        out.append(f"{of}{ev.count(n, 'supported child', 'supported children')} found no comparison child within "
                   "the caliper and are not in the estimate")
    if isinstance(cal, dict) and _int(cal.get("control")):
        out.append(f"{ev.count(_int(cal['control']), 'comparison child', 'comparison children')} found no match "
                   "within the caliper")
    trim = diag.get("trimmed")
    if isinstance(trim, dict):
        if _int(trim.get("treated")):
            out.append(f"{ev.count(_int(trim['treated']), 'supported child', 'supported children')} outside the "
                       "common support of the propensity score, trimmed")
        if _int(trim.get("control")):
            out.append(f"{ev.count(_int(trim['control']), 'comparison child', 'comparison children')} outside "
                       "the common support, trimmed")
    for key in ("n_unmatched", "dropped"):  # plug-in estimators
        if _int(diag.get(key)):
            out.append(f"{ev.count(_int(diag[key]), 'child', 'children')} {key.replace('n_', '').replace('_', ' ')}")
    return out


def pretrend_sentence(est: Estimate, what: str | None = None) -> str | None:
    """The pre-trend test in words, from ``pretest`` (staggered DiD) or ``pretrend_test`` (event study)."""
    diag = est.diagnostics
    for key in ("pretest", "pretrend_test", "pretrend", "pre_trend"):
        pt = diag.get(key)
        if isinstance(pt, dict) and pt.get("pvalue") is not None:
            from ehimpact.report.labels import p_is

            p = float(pt["pvalue"])
            if not np.isfinite(p):
                continue
            df = f" on {int(pt['df'])} degrees of freedom" if isinstance(pt.get("df"), int | float) \
                and pt.get("df") else ""
            return (f"Pre-trend test ({what or 'every effect before adoption jointly zero'}{df}): "
                    f"{p_is(p)}: {'no evidence' if p > 0.05 else 'evidence'} that adopters and comparison "
                    "authorities were already diverging before adoption.")
        if isinstance(pt, dict) and str(pt.get("test", "")).startswith("not available"):
            return (f"Pre-trend test: {pt['test']}, so whether adopters were already diverging before adoption "
                    "cannot be tested with these data.")
    return None


def its_diagnostics_sentences(diag: dict[str, Any]) -> list[str]:
    """The interrupted time series' diagnostics in words: autocorrelation and overdispersion."""
    from ehimpact.report.labels import p_is

    out = []
    dw = diag.get("durbin_watson")
    if isinstance(dw, int | float) and np.isfinite(dw):
        out.append(f"Durbin-Watson statistic {dw:.2f} (2 means no first-order autocorrelation of the residuals).")
    lb = diag.get("ljung_box_pvalue")
    if isinstance(lb, int | float) and np.isfinite(lb):
        out.append(f"Ljung-Box test of remaining autocorrelation: {p_is(lb)}"
                   f"{' (some remains)' if lb < 0.05 else ''}.")
    disp = diag.get("pearson_dispersion")
    if isinstance(disp, int | float) and np.isfinite(disp):
        verdict = ("the counts vary more than a Poisson model assumes, so its intervals are too narrow"
                   if disp > 1.5 else "no sign of overdispersion")
        out.append(f"Overdispersion: Pearson chi-square / df = {disp:.2f} ({verdict}).")
    return out


def evalue_sentence(est: Estimate) -> str | None:
    """The E-value (VanderWeele and Ding 2017) in words, from the result's ``evalue()``."""
    if not hasattr(est, "evalue"):
        return None
    try:
        e = est.evalue()
    except Exception:  # noqa: BLE001 - a result rebuilt without its data has no E-value
        return None
    point = e.get("evalue_estimate", e.get("point")) if isinstance(e, dict) else e
    ci = e.get("evalue_ci", e.get("ci")) if isinstance(e, dict) else None
    if point is None or not np.isfinite(float(point)):
        return None
    text = (f"E-value {float(point):.2f}: an unmeasured confounder would need to be associated with both "
            f"receiving early help and the outcome by a risk ratio of {float(point):.2f} each to explain the "
            "estimate away")
    if ci is not None and np.isfinite(float(ci)):
        text += (f"; for the end of the interval nearest no effect, {float(ci):.2f}"
                 + (" (the interval already includes no effect)" if float(ci) <= 1 else ""))
    return text + " (VanderWeele and Ding 2017; 1 would mean no confounding is needed)."


def _protected_balance(ev: Evaluation, est: Estimate, bal: pd.DataFrame) -> pd.DataFrame:
    """The balance table with shares of small subgroups suppressed (proportion x group size = count)."""
    from ehimpact.report.disclosure import protect_balance

    d = ev.config.disclosure
    diag = est.diagnostics
    sizes = {"treated": _int(diag.get("n_treated_input", est.n_treated)),
             "control": _int(diag.get("n_control_input", est.n_control))}
    if "treated_matched" in diag:  # after matching: the matched (weighted) samples
        sizes.update({"treated_before": sizes["treated"], "control_before": sizes["control"],
                      "treated_after": _int(diag.get("treated_matched")),
                      "control_after": _int(diag.get("controls_matched"))})
    props = [c for c in bal.columns if str(c).startswith("mean_")]
    safe = protect_balance(bal.round(3), group_sizes=sizes, proportion_columns=props, threshold=d.threshold,
                           symbol=d.symbol)
    # means and shares with their decimals: a mean of exactly 1 reads "1.000", never as a count of 1
    for col in safe.columns:
        if col in props or str(col).startswith(("smd_", "var_ratio")):
            safe[col] = [f"{x:.3f}" if isinstance(x, (int, float)) and not isinstance(x, bool) and np.isfinite(x)
                         else x for x in safe[col]]
    return safe


def _headline(ev: Evaluation, est: Estimate, key: str) -> str:
    """An estimate's one sentence, with the few-cluster warning inside it when the policy gives one."""
    text = est.headline()
    policy = ev.policy(key)
    if policy is not None and policy.warning:
        text = text.rstrip(".") + f"; this design {policy.warning}."
    return text


def estimate_prose(ev: Evaluation, est: Estimate, key: str) -> str:
    """The headline paragraph: sentence, what chance can explain, method, sample and warnings.

    Counts of people go through the disclosure rule (:meth:`Evaluation.count`); the p-value
    reads ``< 0.001`` below 0.001.
    """
    from ehimpact.report.labels import p_is
    from ehimpact.report.tables import sample_text

    lines = [_headline(ev, est, key)]
    alpha = 1 - est.level
    p_disagrees = est.significant and np.isfinite(est.pvalue) and est.pvalue >= alpha
    if p_disagrees:  # e.g. a synthetic control's placebo-variance interval against its permutation test
        lines.append(f"The interval excludes no effect, but the test's {p_is(est.pvalue)} does not: with so few "
                     "comparisons, chance cannot be ruled out and the result should be read as inconclusive.")
    else:
        lines.append("The interval excludes no effect, so chance alone is an unlikely explanation."
                     if est.significant else
                     "The interval includes no effect, so the data are consistent with no difference.")
    if hasattr(est, "averted_words"):
        words = est.averted_words()
        if words:
            lines.append(words)
        lines.extend(f"Caution: {w}." for w in getattr(getattr(est, "averted", None), "warnings", []))
    lines.append(f"Estimand: {est.estimand}; method: {est.method}; {sample_text(est, ev.count)}; "
                 f"{p_is(est.pvalue)}.")
    policy = ev.policy(key)
    if policy is not None and policy.warning is None:
        lines.append(policy.statement)
    from ehimpact.report.labels import humanise_words

    lines.extend(f"Caution: {humanise_words(w)}" for w in est.warnings)
    return "  \n".join(lines)


def evidence_level(ev: Evaluation) -> tuple[str, str]:
    """The EIF evidence level (indicative) the design can support, and why.

    Returns
    -------
    (level, reason) : tuple of str
    """
    design = ev.config.design.name
    p = ev.primary
    if design in ("match", "weight", "did_2x2", "twfe", "event_study", "staggered_did"):
        bal = getattr(p, "balance", None) if isinstance(p, Estimate) else None
        balanced = not (isinstance(bal, pd.DataFrame) and len(bal) and _worst_smd(bal) >= 0.1)
        if balanced:
            return ("3 (indicative)", "a quasi-experimental comparison that can support a causal reading if its "
                                      "assumptions hold; level 3 also needs the result to be replicated")
        return ("2 (indicative)", "a comparison-group design whose groups are not yet well balanced, so causality "
                                  "cannot be assumed")
    return ("2 (indicative)", "a single-series design without a comparison group, so causality cannot be assumed")


def biggest_threat(ev: Evaluation) -> str:
    """The main threat to a causal reading of the headline, in one phrase."""
    p = ev.primary
    design = ev.config.design.name
    if isinstance(p, Estimate):
        bal = getattr(p, "balance", None)
        if isinstance(bal, pd.DataFrame) and len(bal):
            worst = _worst_smd(bal)
            if worst >= 0.1:
                bad = bal.loc[bal["smd_after"].abs() >= 0.1, "covariate"].astype(str).tolist()[:3] \
                    if "covariate" in bal.columns else []
                from ehimpact.report.labels import label

                which = f" ({', '.join(label(b) for b in bad)})" if bad else ""
                return (f"the supported and comparison children still differ on some recorded characteristics"
                        f"{which}, and may differ on unrecorded ones")
        policy = ev.policy("primary")
        if policy is not None and policy.few:
            return f"the comparison rests on only {policy.n_clusters} authorities"
    if design in ("match", "weight"):
        return "unrecorded differences between supported and comparison families (the design cannot rule them out)"
    if design == "its":
        return "anything else that changed at the same time as the service (a single series has no comparison)"
    return "adopting and comparison authorities may not have moved in parallel without the new model"


def next_steps(ev: Evaluation) -> list[str]:
    """What to do next, from what this run found."""
    out: list[str] = []
    p = ev.primary
    if isinstance(p, Estimate):
        bal = getattr(p, "balance", None)
        if isinstance(bal, pd.DataFrame) and len(bal) and _worst_smd(bal) >= 0.1:
            out.append("Improve the comparison: match exactly on the characteristics still out of balance, or "
                       "narrow the caliper, and check the result holds.")
        if not p.significant:
            out.append("Collect a larger cohort or a longer follow-up before drawing a conclusion: the interval "
                       "includes no effect.")
    if any(s for s in ev.section(9).box):
        out.append("Replace the placeholder and unconfirmed costs (listed in step 9) with local figures.")
    out.append("Replicate with the next cohort and a longer follow-up (24 months or more).")
    out.append("Pool with other authorities in the regional summary to judge consistency.")
    return out


def summary(ev: Evaluation, sec: Section) -> None:
    """The one-page summary before step 1: question, answer, how sure, what it saves, what next."""
    iv = ev.config.intervention
    sec.say(f"**The question.** Did {iv.name} change outcomes for the children and families it supported in "
            f"{ev.authority_name}, compared with what would have happened without it?")
    if ev.synthetic:
        sec.say("**These are synthetic data**, generated to demonstrate the method; they describe no real children.")
    try:
        p = ev.primary
    except InputError as exc:
        sec.say(f"**The answer.** Not available: {exc}")
        return
    if isinstance(p, Estimate):
        sec.say(f"**The answer.** {_headline(ev, p, 'primary')}")
        level, why = evidence_level(ev)
        sec.say(f"**How sure we are.** {'The interval excludes no effect' if p.significant else 'The interval includes no effect'}. "
                f"The design can support EIF evidence level {level}: {why}. The biggest threat: {biggest_threat(ev)}.")
    else:
        sec.say(f"**The answer.** {p.text()}")
    ev.section(9)
    vfm = ev.cost_results.get("value_for_money")
    h = getattr(vfm, "headline", None) or {}
    if h.get("npv") is not None:
        from ehimpact.report.labels import fmt_money

        npv = float(h["npv"])
        lo, hi = h.get("npv_lo"), h.get("npv_hi")

        def net(x: float) -> str:
            return f"a net saving of {fmt_money(x)}" if x >= 0 else f"a net cost of {fmt_money(-x)}"

        interval = (f" (90% interval from {net(float(lo))} to {net(float(hi))})"
                    if lo is not None and hi is not None else "")
        avoided, delivery = h.get("pv_avoided_costs"), h.get("pv_delivery_costs")
        if avoided is None or delivery is None:
            parts = ""
        elif float(avoided) >= 0:
            parts = f"{fmt_money(avoided)} of later costs avoided against {fmt_money(delivery)} spent"
        else:  # a negative benefit is a cost
            parts = f"{fmt_money(delivery)} spent, and later costs {fmt_money(-float(avoided))} higher, not lower"
        if npv >= 0:
            sec.say(f"**What it saves.** A net saving of {fmt_money(npv)}{interval}: {parts}." if parts else
                    f"**What it saves.** A net saving of {fmt_money(npv)}{interval}.")
        else:
            sec.say(f"**What it saves.** It costs {fmt_money(-npv)} more than it saves{interval}"
                    + (f": {parts}." if parts else "."))
    else:
        sec.say("**What it saves.** Not costed in this run (see step 9).")
    if ev.section(9).box:
        sec.say(f"**Assumptions.** The costs rest on {len(ev.section(9).box)} placeholder, unconfirmed or "
                "assumed inputs, listed in the assumptions box in step 9.")
    sec.say("**What to do next.**\n" + _bullets(next_steps(ev)[:3]))


def step10(ev: Evaluation, sec: Section) -> None:
    """Conclusions, strength of evidence, pitfalls, limitations, next steps."""
    p = ev.primary
    if isinstance(p, Estimate):
        sec.say("**What we found.** " + _headline(ev, p, "primary"))
        level, why = evidence_level(ev)
        sec.say(f"**Strength of evidence.** The design can support EIF evidence level {level}: {why}. "
                f"{EVIDENCE_NOTE}")
        sec.say(f"**Biggest threat.** {biggest_threat(ev)[:1].upper() + biggest_threat(ev)[1:]}.")
    else:
        _note(sec, p)
    ev.add_table(sec, "EIF's six common pitfalls, checked against this evaluation", pitfalls_checklist(ev),
                 counts=[], row="One row per pitfall in EIF's guide (2018).")
    limits = ["Administrative data record contact with services, not children's wellbeing directly.",
              "Unrecorded differences between supported and comparison families could bias the comparison."]
    if ev.synthetic:
        limits.insert(0, "These results come from synthetic data and describe no real children.")
    sec.say("**Limitations:**\n" + _bullets(limits))
    sec.say("**Next steps:**\n" + _bullets(next_steps(ev)))
