"""Regional summary: read every authority's ``results.json``, pool, compare, list failures.

Used by ``notebooks/regional_summary.ipynb``.  Pooling is
:func:`ehimpact.estimators.pooling.pool` (random effects); this module only gathers
results and lays them out.  Authorities whose runs failed are listed with their
error, never silently dropped.

What is pooled
    Only **authority-specific** estimates: those of a design whose
    :class:`~ehimpact.estimators.registry.EstimatorSpec` has ``scope="authority"``
    (matching, weighting, ITS on the authority's own series), looked up by the design
    name each ``results.json`` records.  A **region-wide** design (``scope="region"``:
    ``did_2x2``, ``twfe``, ``event_study``, ``staggered_did``) uses every authority of the
    panel at once, so every authority's run holds a copy of the same estimate; it is shown
    **once** and pooled with nothing (pooling copies as if independent would make the
    interval about √N too narrow).

Disclosure
    Each authority's counts are shown exactly as its own ``results.json`` (and so its own
    report) shows them: no further suppression here, so a count is ``c`` in the league
    table only where it is ``c`` in the authority's report.  Regional totals are rounded
    to ``round_totals_to`` (the config's ``disclosure.round_totals_to``, default 10) and
    are sums of published counts only; an authority whose count is suppressed is named as
    such beside the total, never silently left out.  Counts of authorities are not counts
    of people and are never suppressed.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from ehimpact.estimators.result import Estimate
from ehimpact.report.sections import NotAvailable, Section

__all__ = ["RegionalSummary", "collect", "sections", "pooled_section", "league_section", "costs_section",
           "failures_section", "show_body", "design_scope", "round_total", "effect_words"]

#: designs whose estimate is region-wide when the registry cannot be asked (a plug-in not installed)
_REGION_FALLBACK = frozenset({"did_2x2", "twfe", "event_study", "staggered_did"})


def design_scope(name: str | None, units: str | None = None) -> str:
    """``"authority"`` or ``"region"`` for a design name, from the estimator registry.

    Parameters
    ----------
    name : str or None
        The design name recorded in ``results.json`` (``config.design.name``).
    units : str, optional
        The headline estimate's ``units``; used only when the design is unknown to the
        registry (``"authorities"`` then means region-wide).

    Returns
    -------
    str
    """
    if name:
        try:
            from ehimpact.estimators import registry

            return str(registry.get(name).scope)
        except Exception:  # noqa: BLE001 - a plug-in not installed here: fall back below
            if name in _REGION_FALLBACK:
                return "region"
    return "region" if units == "authorities" else "authority"


def round_total(total: int | float, base: int = 10) -> int:
    """A regional total rounded to the nearest ``base``, halves up (the DfE convention).

    Examples
    --------
    >>> round_total(923), round_total(925), round_total(4), round_total(17, 5)
    (920, 930, 0, 15)
    """
    base = int(base)
    if base < 1:
        from ehimpact.errors import InputError

        raise InputError(f"round_totals_to must be a whole number >= 1, got {base!r}",
                         field="disclosure.round_totals_to", fix="use 10 (the DfE convention)")
    return int(math.floor(float(total) / base + 0.5) * base)


def effect_words(value: float, scale: str, unit: str | None = None) -> str:
    """A difference in the package's one sign convention: a magnitude and "lower" / "higher".

    Proportions are in percentage points (``"3.0 percentage points lower"``), rate ratios
    as ratios (``"rate ratio 0.91"``), money in pounds; zero is ``"no different"``.

    Examples
    --------
    >>> effect_words(-0.0296, "proportion"), effect_words(0.5, "continuous", "days")
    ('3.0 percentage points lower', '0.5 days higher')
    """
    if value is None or not math.isfinite(float(value)):
        return "not available"
    v = float(value)
    if scale == "ratio":
        return f"rate ratio {v:.2f}"
    if v == 0:
        return "no different"
    side = "lower" if v < 0 else "higher"
    if scale == "proportion":
        return f"{abs(100 * v):.1f} percentage points {side}"
    if scale == "money":
        return f"£{abs(v):,.0f} {side}"
    return f"{abs(v):.3g}{' ' + unit if unit else ''} {side}"


def _num(x: Any) -> int | None:
    if isinstance(x, bool) or x is None:
        return None
    if isinstance(x, int | float) and math.isfinite(float(x)) and float(x) == int(x):
        return int(x)
    return None


@dataclass
class RegionalSummary:
    """Everything the regional notebook shows.

    Attributes
    ----------
    run_dir : Path
    results : dict
        Authority code -> its ``results.json`` record (runs that succeeded).
    failed : DataFrame
        ``authority, evaluation, error`` of runs that failed.
    synthetic : bool
    round_totals_to : int
        Regional totals are rounded to this (``disclosure.round_totals_to``).
    threshold, symbol :
        The disclosure settings of the runs (``disclosure.threshold`` / ``.symbol``).
    """

    run_dir: Path
    results: dict[str, dict[str, Any]] = field(default_factory=dict)
    failed: pd.DataFrame = field(default_factory=pd.DataFrame)
    synthetic: bool = False
    round_totals_to: int = 10
    threshold: int = 5
    symbol: str = "c"

    # ------------------------------------------------------------------ what each result is
    @staticmethod
    def design_of(res: dict[str, Any]) -> str | None:
        """The headline design's name as ``results.json`` records it."""
        d = res.get("design")
        if isinstance(d, str):
            return d
        if isinstance(d, dict) and d.get("name"):
            return str(d["name"])
        cfg = (res.get("config") or {}).get("design") or {}
        return str(cfg["name"]) if isinstance(cfg, dict) and cfg.get("name") else None

    def scope_of(self, res: dict[str, Any]) -> str:
        """``"authority"`` or ``"region"`` for one result (from the registry's spec of its design)."""
        return design_scope(self.design_of(res), (res.get("primary") or {}).get("units"))

    def _name(self, code: str, res: dict[str, Any]) -> str:
        return str(res.get("authority_name") or code)

    def _with_estimate(self) -> dict[str, dict[str, Any]]:
        return {code: res for code, res in self.results.items()
                if (res.get("primary") or {}).get("estimate") is not None
                and (res.get("primary") or {}).get("se") is not None}

    @property
    def authority_results(self) -> dict[str, dict[str, Any]]:
        """Code -> result, for authority-specific headlines only (what is pooled and ranked)."""
        return {c: r for c, r in self._with_estimate().items() if self.scope_of(r) == "authority"}

    @property
    def region_wide(self) -> list[dict[str, Any]]:
        """Each distinct region-wide headline, once: ``design, primary, authorities``.

        Every authority's run of a region-wide design holds a copy of the same estimate;
        copies (same design, outcome, estimate and SE) are merged, listing the authorities
        whose runs carried them.
        """
        groups: dict[tuple, dict[str, Any]] = {}
        for code, res in self._with_estimate().items():
            if self.scope_of(res) != "region":
                continue
            p = res["primary"]
            key = (self.design_of(res), p.get("outcome"), round(float(p["estimate"]), 12),
                   round(float(p["se"]), 12))
            g = groups.setdefault(key, {"design": self.design_of(res), "primary": p, "authorities": []})
            g["authorities"].append(self._name(code, res))
        return list(groups.values())

    @property
    def primary_estimates(self) -> dict[str, Estimate]:
        """Authority name -> headline Estimate, authority-specific designs only (what is pooled)."""
        return {self._name(code, res): Estimate.from_dict(res["primary"])
                for code, res in self.authority_results.items()}

    # ------------------------------------------------------------------ tables
    def _count(self, v: Any) -> Any:
        """A count as the authority's report shows it (already protected there); a stray small one is hidden."""
        from ehimpact.report.disclosure import is_small_count

        if is_small_count(v, self.threshold):  # results.json written before counts were protected
            return self.symbol
        return v

    def league_table(self) -> pd.DataFrame:
        """Authority-specific headlines ordered by estimate, with CIs and each authority's own counts.

        Proportions are in percentage points.  ``Treated`` / ``Comparison`` are the counts
        as in the authority's own report (``c`` where that report suppresses them); their
        unit (children, months) is in ``Counted``.
        """
        rows = []
        for code, res in self.authority_results.items():
            p = res["primary"]
            ci = p.get("ci") or [None, None]
            f = 100.0 if p.get("scale") == "proportion" else 1.0

            def sc(x: Any, f: float = f) -> Any:
                return None if x is None else float(x) * f

            rows.append({"Authority": self._name(code, res), "Code": code, "Design": self.design_of(res),
                         "Estimate": sc(p.get("estimate")), "CI lower": sc(ci[0]), "CI upper": sc(ci[1]),
                         "Unit": "percentage points" if p.get("scale") == "proportion" else
                         ("rate ratio" if p.get("scale") == "ratio" else (p.get("unit") or p.get("scale"))),
                         "Treated": self._count(p.get("n_treated")),
                         "Comparison": self._count(p.get("n_control")),
                         "Counted": p.get("units") or "children"})
        tab = pd.DataFrame(rows)
        return tab.sort_values("Estimate", kind="stable").reset_index(drop=True) if len(tab) else tab

    def region_wide_table(self) -> pd.DataFrame:
        """One row per distinct region-wide headline (normally one)."""
        rows = []
        for g in self.region_wide:
            p = g["primary"]
            ci = p.get("ci") or [None, None]
            f = 100.0 if p.get("scale") == "proportion" else 1.0
            rows.append({"Design": g["design"], "Outcome": p.get("outcome_label") or p.get("outcome"),
                         "Estimate": float(p["estimate"]) * f,
                         "CI lower": None if ci[0] is None else float(ci[0]) * f,
                         "CI upper": None if ci[1] is None else float(ci[1]) * f,
                         "Unit": "percentage points" if p.get("scale") == "proportion" else
                         (p.get("unit") or p.get("scale")),
                         "Authorities in the panel": _authorities_in(p),
                         "Runs carrying it": len(g["authorities"])})
        return pd.DataFrame(rows)

    def totals(self) -> dict[str, Any]:
        """Regional totals of the pooled authorities' counts, rounded, and what they leave out.

        Returns
        -------
        dict
            ``treated``, ``comparison``: sums of the published counts rounded to
            ``round_totals_to`` (None when nothing is published); ``n_suppressed_treated``,
            ``n_suppressed_comparison``: authorities whose count is suppressed in their own
            report (not in the total); ``units``; ``round_to``.
        """
        out: dict[str, Any] = {"round_to": self.round_totals_to, "units": "children"}
        units = {(r["primary"].get("units") or "children") for r in self.authority_results.values()}
        out["units"] = units.pop() if len(units) == 1 else "units"
        for key, name in (("n_treated", "treated"), ("n_control", "comparison")):
            vals = [r["primary"].get(key) for r in self.authority_results.values()]
            nums = [n for n in (_num(self._count(v)) for v in vals) if n is not None]
            out[name] = round_total(sum(nums), self.round_totals_to) if nums else None
            out[f"n_suppressed_{name}"] = len(vals) - len(nums)
        return out

    def totals_sentence(self) -> str:
        """The regional totals in words, naming any authority whose count is suppressed."""
        t = self.totals()
        k = len(self.authority_results)
        if t["treated"] is None and t["comparison"] is None:
            return f"The counts of all {k} pooled authorities are suppressed in their reports."
        parts = []
        for name in ("treated", "comparison"):
            sup = t[f"n_suppressed_{name}"]
            if t[name] is None:
                parts.append(f"{name}: suppressed ('{self.symbol}') in every authority's report")
                continue
            words = f"{t[name]:,} {name}"
            if sup:
                words += (f" (not counting {sup} {'authority' if sup == 1 else 'authorities'} whose {name} "
                          f"count is suppressed ('{self.symbol}') in {'its' if sup == 1 else 'their'} own report)")
            parts.append(words)
        return (f"Across the {k} pooled authorities: {' and '.join(parts)} {t['units']}; totals rounded to the "
                f"nearest {t['round_to']}.")

    def pooled(self, method: str = "reml") -> Estimate | NotAvailable:
        """Random-effects pooled headline across authorities (authority-specific designs only)."""
        ests = self.primary_estimates
        if len(ests) < 2:
            if not ests and self.region_wide:
                why = ("nothing is pooled: the headline design is region-wide, so it gives one estimate for "
                       "the whole region (below), not one per authority")
            else:
                why = f"only {len(ests)} authority-specific result(s) to pool (at least 2 are needed)"
                if self.region_wide:
                    why += "; the region-wide estimate below is not pooled"
            return NotAvailable("Pooled estimate", why)
        from ehimpact.errors import InputError
        from ehimpact.estimators.pooling import pool

        try:
            # Hartung-Knapp-Sidik-Jonkman: honest intervals with the handful of authorities a region has
            res = pool(list(ests.values()), method=method, labels=list(ests.keys()), knha=True)  # type: ignore[arg-type]
        except InputError as exc:
            return NotAvailable("Pooled estimate", str(exc), kind="input_error")
        # the pooled record's own sample sizes would be sums that silently skip suppressed
        # authorities, unrounded: the totals are stated by totals_sentence() instead
        res.n_treated = 0
        res.n_control = 0
        return res

    def costs_table(self, result: str = "value_for_money") -> pd.DataFrame:
        """One costs result across authorities: value for money or the cost of late intervention."""
        columns = {
            "value_for_money": ["npv", "bcr", "bcr_lo", "bcr_hi", "p_bcr_gt_1", "pv_avoided_costs",
                                "pv_delivery_costs"],
            "late_intervention": ["total", "per_child", "price_base"],
        }[result]
        labels = {"npv": "Net present value (£)", "bcr": "Benefit-cost ratio", "bcr_lo": "BCR, 90% interval from",
                  "bcr_hi": "BCR, 90% interval to", "p_bcr_gt_1": "Chance the BCR exceeds 1",
                  "pv_avoided_costs": "Avoided costs, present value (£)",
                  "pv_delivery_costs": "Delivery costs, present value (£)",
                  "total": "Cost of late intervention (£ a year)", "per_child": "Per child (£ a year)",
                  "price_base": "Price base"}
        rows = []
        for code, res in self.results.items():
            cost = (res.get("costs") or {}).get(result)
            if isinstance(cost, dict):
                head = cost.get("headline") or {}
                rows.append({"Authority": self._name(code, res), **{labels[c]: head.get(c) for c in columns}})
        return pd.DataFrame(rows)

    def section(self) -> Section:
        sec = Section(number=0, title="Regional summary")
        n_ok, n_failed = len(self.results), len(self.failed)
        sec.say(f"{n_ok} authorities reported results; {n_failed} run(s) failed and are listed below.")
        return sec


def _authorities_in(p: dict[str, Any]) -> Any:
    """How many authorities a region-wide estimate rests on (not a count of people)."""
    d = p.get("diagnostics") or {}
    for key in ("n_units", "n_clusters", "n_authorities"):
        if _num(d.get(key)) is not None:
            return int(d[key])
    if p.get("units") == "authorities":
        a, b = _num(p.get("n_treated")), _num(p.get("n_control"))
        if a is not None and b is not None:
            return a + b
    return None


def collect(run_dir: str | Path, *, round_totals_to: int | None = None) -> RegionalSummary:
    """Gather every ``results.json`` and every failure under a batch folder.

    Parameters
    ----------
    run_dir : str or Path
        The batch folder (``<authority>/<evaluation>/results.json`` below it).
    round_totals_to : int, optional
        Round regional totals to this; default the runs' ``disclosure.round_totals_to``
        (10 when they do not say).
    """
    run_dir = Path(run_dir)
    summary = RegionalSummary(run_dir=run_dir)
    failed = []
    for status_path in sorted(run_dir.glob("*/*/status.json")):
        status = json.loads(status_path.read_text())
        folder = status_path.parent
        if status.get("status") == "failed":
            failed.append({"authority": status.get("authority"), "evaluation": status.get("evaluation"),
                           "error": status.get("error")})
            continue
        try:
            res = json.loads((folder / "results.json").read_text())
        except (OSError, ValueError) as exc:
            failed.append({"authority": status.get("authority"), "evaluation": status.get("evaluation"),
                           "error": f"results.json unreadable: {exc}"})
            continue
        summary.results[status.get("authority")] = res
        summary.synthetic = summary.synthetic or bool(res.get("synthetic"))
    summary.failed = pd.DataFrame(failed, columns=["authority", "evaluation", "error"])
    disc = next((((r.get("config") or {}).get("disclosure") or {}) for r in summary.results.values()), {})
    summary.threshold = int(disc.get("threshold") or 5)
    summary.symbol = str(disc.get("symbol") or "c")
    base = round_totals_to if round_totals_to is not None else (disc.get("round_totals_to") or 10)
    round_total(0, base)  # validates the base: a whole number >= 1
    summary.round_totals_to = int(base)
    return summary


def _pooled_words(pooled: Any) -> list[str]:
    """The pooled result in the one sign convention (magnitude and lower/higher)."""
    lo, hi = pooled.ci
    sc, unit = pooled.scale, pooled.unit
    pct = f"{100 * pooled.level:.0f}%"
    out = [f"Across {pooled.k} authorities the average effect was {effect_words(pooled.estimate, sc, unit)} "
           f"({pct} CI {effect_words(lo, sc, unit)} to {effect_words(hi, sc, unit)})."]
    if lo <= pooled.null_value <= hi:
        out.append("The interval includes no effect, so the data are consistent with no difference.")
    else:
        out.append("The interval excludes no effect, so chance alone is an unlikely explanation.")
    out.append(pooled.heterogeneity_words())
    plo, phi = pooled.prediction_interval
    if math.isfinite(plo) and math.isfinite(phi):
        out.append(f"In a new, similar authority the effect would be expected to lie between "
                   f"{effect_words(plo, sc, unit)} and {effect_words(phi, sc, unit)} ({pct} prediction interval).")
    out.append(f"Method: {pooled.method}.")
    out.extend(f"Caution: {w}." for w in pooled.warnings)
    return out


def sections(summary: RegionalSummary) -> list[Section]:
    """The regional write-up: pooled effect and forest plot, region-wide estimate, league table, costs, failures."""
    out = [pooled_section(summary), league_section(summary), costs_section(summary), failures_section(summary)]
    return out


def pooled_section(summary: RegionalSummary) -> Section:
    """Section 1: the pooled authority-specific effect (and any region-wide estimate, once)."""
    s1 = Section(number=1, title="Effect across the region")
    pooled = summary.pooled()
    if isinstance(pooled, NotAvailable):
        s1.say(pooled.text())
    else:
        for line in _pooled_words(pooled):
            s1.say(line)
        s1.say(summary.totals_sentence())
        s1.estimates["pooled"] = pooled
        try:
            ax = pooled.plot()
            s1.figures.append(("Forest plot: each authority's headline estimate and the pooled effect", ax.figure))
        except Exception as exc:  # noqa: BLE001
            s1.say(f"(Forest plot unavailable: {exc})")
    for g in summary.region_wide:
        est = Estimate.from_dict(g["primary"])
        n_auth = _authorities_in(g["primary"])
        rests = f" It rests on {n_auth} authorities." if n_auth else ""
        s1.say(f"**Region-wide estimate ({g['design']}).** This design compares authorities with each other "
               "over time, using every authority in the regional panel at once, so it gives one estimate for "
               "the whole region. It is shown once here and is not pooled: each authority's run holds a copy "
               f"of the same estimate ({len(g['authorities'])} runs), and pooling copies as if they were "
               "independent would make the interval too narrow." + rests)
        lo, hi = est.ci
        on = f" on {est.outcome_label or est.outcome}" if (est.outcome_label or est.outcome) else ""
        s1.say(f"The effect{on} was {effect_words(est.estimate, est.scale, est.unit)} "
               f"({100 * est.level:.0f}% CI {effect_words(lo, est.scale, est.unit)} to "
               f"{effect_words(hi, est.scale, est.unit)}).")
    rw = summary.region_wide_table()
    if len(rw):
        s1.tables.append(("Region-wide estimate", rw))
        s1.rows["Region-wide estimate"] = "One row per region-wide estimate (each shown once, whatever the number of runs)"
    return s1


def league_section(summary: RegionalSummary) -> Section:
    """Section 2: authority-specific headlines side by side."""
    s2 = Section(number=2, title="League table")
    tab = summary.league_table()
    if len(tab):
        s2.say("Authorities ordered by their headline estimate (proportions in percentage points; negative is "
               "lower). Overlapping intervals mean differences between authorities may be chance. Each "
               "authority's counts are as in its own report.")
        if (tab[["Treated", "Comparison"]] == summary.symbol).any().any():
            s2.say(f"'{summary.symbol}': suppressed in the authority's own report, either a count of 1 to "
                   f"{summary.threshold} or a count that differs from another count it publishes (such as the "
                   f"cohort before matching) by 1 to {summary.threshold}.")
        s2.tables.append(("Headline estimate by authority", tab))
        s2.rows["Headline estimate by authority"] = "One row per authority with an authority-specific estimate"
    elif summary.region_wide:
        s2.say("No league table: the headline design is region-wide, so every authority shares the one "
               "estimate shown above.")
    else:
        s2.say("No authority produced a headline estimate.")
    return s2


def costs_section(summary: RegionalSummary) -> Section:
    """Section 3: value for money and the cost of late intervention, by authority."""
    s3 = Section(number=3, title="Costs across the region")
    vfm, late = summary.costs_table("value_for_money"), summary.costs_table("late_intervention")
    if len(vfm):
        s3.say("Net present value (NPV) and benefit-cost ratio (BCR) of each authority's service, with the 90% "
               "interval of the BCR and the chance that it exceeds 1 (the service pays for itself).")
        s3.tables.append(("Value for money by authority", vfm))
        s3.rows["Value for money by authority"] = "One row per authority"
    if len(late):
        s3.say("Estimated annual cost of late intervention in children's services (EIF method applied locally).")
        s3.tables.append(("Cost of late intervention by authority", late))
        s3.rows["Cost of late intervention by authority"] = "One row per authority"
    if not len(vfm) and not len(late):
        s3.say("No authority produced a costs result in this batch.")
    return s3


def failures_section(summary: RegionalSummary) -> Section:
    """Section 4: runs that failed, with their errors."""
    s4 = Section(number=4, title="Runs that failed")
    if len(summary.failed):
        s4.say(f"{len(summary.failed)} run(s) failed; their authorities are not in the pooled estimate.")
        s4.tables.append(("Failed runs", summary.failed))
        s4.rows["Failed runs"] = "One row per failed run"
    else:
        s4.say("Every run completed.")
    return s4


def show_body(section: Section) -> None:
    """Display a section without its heading: its text, tables and figures.

    The regional notebook holds each heading and its framing prose as a Markdown cell an
    evaluator can edit; the code cell below it shows the numbers with this
    (:func:`ehimpact.report.sections.show` with ``heading=False``).
    """
    from ehimpact.report.sections import show

    show(section, heading=False)
