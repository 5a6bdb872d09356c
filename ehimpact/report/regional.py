"""Regional summary: read every authority's ``results.json``, pool, compare, list failures.

Used by ``notebooks/regional_summary.ipynb``.  Pooling is
:func:`ehimpact.estimators.pooling.pool` (random effects); this module only gathers
results and lays them out.  Authorities whose runs failed are listed with their
error, never silently dropped.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from ehimpact.estimators.result import Estimate
from ehimpact.report.sections import NotAvailable, Section

__all__ = ["RegionalSummary", "collect"]


@dataclass
class RegionalSummary:
    """Everything the regional notebook shows."""

    run_dir: Path
    results: dict[str, dict[str, Any]] = field(default_factory=dict)
    failed: pd.DataFrame = field(default_factory=pd.DataFrame)
    synthetic: bool = False

    @property
    def primary_estimates(self) -> dict[str, Estimate]:
        """Authority name -> headline Estimate (only runs that produced one)."""
        out = {}
        for code, res in self.results.items():
            p = res.get("primary") or {}
            if p.get("estimate") is not None and p.get("se") is not None:
                out[res.get("authority_name") or code] = Estimate.from_dict(p)
        return out

    def league_table(self) -> pd.DataFrame:
        """Authorities ordered by their headline estimate, with CIs."""
        rows = []
        for code, res in self.results.items():
            p = res.get("primary") or {}
            ci = p.get("ci") or [None, None]
            rows.append({"authority": res.get("authority_name") or code, "code": code,
                         "estimate": p.get("estimate"), "ci_lower": ci[0], "ci_upper": ci[1],
                         "n_treated": p.get("n_treated"), "n_control": p.get("n_control")})
        tab = pd.DataFrame(rows)
        return tab.sort_values("estimate").reset_index(drop=True) if len(tab) else tab

    def pooled(self, method: str = "reml") -> Estimate | NotAvailable:
        """Random-effects pooled headline across authorities."""
        ests = self.primary_estimates
        if len(ests) < 2:
            return NotAvailable("Pooled estimate", f"only {len(ests)} authority result(s) to pool")
        try:
            from ehimpact.estimators.pooling import pool
        except ImportError:
            return NotAvailable("Pooled estimate", "random-effects pooling is not built in this version")
        from ehimpact.errors import InputError

        try:
            # Hartung-Knapp-Sidik-Jonkman: honest intervals with the handful of authorities a region has
            return pool(list(ests.values()), method=method, labels=list(ests.keys()), knha=True)
        except InputError as exc:
            return NotAvailable("Pooled estimate", str(exc))

    def costs_table(self, result: str = "value_for_money") -> pd.DataFrame:
        """One costs result across authorities: value for money or the cost of late intervention."""
        columns = {
            "value_for_money": ["npv", "bcr", "bcr_lo", "bcr_hi", "p_bcr_gt_1", "pv_avoided_costs",
                                "pv_delivery_costs"],
            "late_intervention": ["total", "per_child", "price_base"],
        }[result]
        rows = []
        for code, res in self.results.items():
            cost = (res.get("costs") or {}).get(result)
            if isinstance(cost, dict):
                head = cost.get("headline") or {}
                rows.append({"authority": res.get("authority_name") or code, **{c: head.get(c) for c in columns}})
        return pd.DataFrame(rows)

    def section(self) -> Section:
        sec = Section(number=0, title="Regional summary")
        n_ok, n_failed = len(self.results), len(self.failed)
        sec.say(f"{n_ok} authorities reported results; {n_failed} run(s) failed and are listed below.")
        return sec


def collect(run_dir: str | Path) -> RegionalSummary:
    """Gather every ``results.json`` and every failure under a batch folder."""
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
    return summary


def sections(summary: RegionalSummary) -> list[Section]:
    """The regional write-up: pooled effect and forest plot, league table, costs, failures."""
    out = []
    s1 = Section(number=1, title="Pooled effect across the region")
    pooled = summary.pooled()
    if isinstance(pooled, NotAvailable):
        s1.say(pooled.text())
    else:
        s1.say(pooled.summary().replace("\n", "  \n"))
        s1.estimates["pooled"] = pooled
        try:
            ax = pooled.plot()
            s1.figures.append(("Forest plot: each authority's headline estimate and the pooled effect", ax.figure))
        except Exception as exc:  # noqa: BLE001
            s1.say(f"(Forest plot unavailable: {exc})")
    out.append(s1)
    s2 = Section(number=2, title="League table")
    tab = summary.league_table()
    if len(tab):
        s2.say("Authorities ordered by their headline estimate. Overlapping intervals mean differences between "
               "authorities may be chance.")
        s2.tables.append(("Headline estimate by authority", _disclose_counts(tab, ["n_treated", "n_control"])))
    out.append(s2)
    s3 = Section(number=3, title="Costs across the region")
    vfm, late = summary.costs_table("value_for_money"), summary.costs_table("late_intervention")
    if len(vfm):
        s3.say("Net present value (NPV) and benefit-cost ratio (BCR) of each authority's service, with the 90% "
               "interval of the BCR and the chance that it exceeds 1 (the service pays for itself).")
        s3.tables.append(("Value for money by authority", vfm))
    if len(late):
        s3.say("Estimated annual cost of late intervention in children's services (EIF method applied locally).")
        s3.tables.append(("Cost of late intervention by authority", late))
    if not len(vfm) and not len(late):
        s3.say("No authority produced a costs result in this batch.")
    out.append(s3)
    s4 = Section(number=4, title="Runs that failed")
    if len(summary.failed):
        s4.say(f"{len(summary.failed)} run(s) failed; their authorities are not in the pooled estimate.")
        s4.tables.append(("Failed runs", summary.failed))
    else:
        s4.say("Every run completed.")
    out.append(s4)
    return out


def _disclose_counts(table: pd.DataFrame, counts: list[str]) -> pd.DataFrame:
    from ehimpact.report.disclosure import disclose

    res = disclose(table, counts=[c for c in counts if c in table.columns])
    return res.table if hasattr(res, "table") else res[0]
