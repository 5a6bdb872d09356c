"""The cost of late intervention for one authority: EIF's method applied locally.

EIF (Chowdry & Fitzsimons 2016) estimated the cost of late intervention in England and Wales at nearly
£17bn a year, £287 per person: immediate, short-run fiscal costs of six issue areas, built from caseloads
and unit costs.  Here the same caseload x unit cost arithmetic runs on an authority's own counts from
the authority panel (referrals, section 47 enquiries, child protection plans started, children in need
and children looked after), plus any counts the user adds (e.g. police domestic-abuse incidents).

Flows (referrals, enquiries, plans started) are summed over the window; stocks (children looked after,
children in need) are averaged over it and costed per year.  Results are annual, in base-year prices.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from ehimpact.costs._panel import check_panel, window
from ehimpact.costs.prices import DeflatorTable, format_year, parse_year
from ehimpact.costs.result import CostResult, money, money_axis, pct
from ehimpact.costs.unit_costs import AGENCY_LABELS, UnitCosts
from ehimpact.errors import InputError

if TYPE_CHECKING:
    from matplotlib.axes import Axes

__all__ = ["late_intervention_cost", "LateInterventionCost", "DEFAULT_MEASURES", "EIF_NATIONAL"]

#: EIF's national figure, for comparison only
EIF_NATIONAL = {
    "per_person": 287.0,
    "total": 16.6e9,
    "source": "EIF, The cost of late intervention: EIF analysis 2016 (Chowdry & Fitzsimons, Nov 2016)",
    "coverage": "England and Wales, six issue areas, all agencies, short-run fiscal costs, 2016 prices "
                "(price year UNCONFIRMED)",
}

#: default panel counts and the unit costs they are priced with
DEFAULT_MEASURES: tuple[dict[str, Any], ...] = (
    {"category": "Children looked after", "column": "cla", "stock": True, "unit_cost": "cla_average_year",
     "quantity": 1.0, "note": "average number looked after x annual cost"},
    {"category": "Children in need", "column": "cin", "stock": True, "unit_cost": "cin_case_6m",
     "quantity": 2.0, "note": "average caseload x two six-month case-management costs a year"},
    {"category": "Child protection", "column": "s47", "stock": False, "unit_cost": "s47_enquiry",
     "quantity": 1.0, "note": "section 47 enquiries started"},
    {"category": "Child protection", "column": "cpp_starts", "stock": False, "unit_cost": "cp_core_assessment",
     "quantity": 1.0, "note": "plans started x core-assessment cost (a proxy: no plan unit cost is shipped)"},
    {"category": "Front door", "column": "referrals", "stock": False, "unit_cost": "csc_referral",
     "quantity": 1.0, "note": "referrals to children's social care"},
)


@dataclass(eq=False)
class LateInterventionCost(CostResult):
    """Annual cost of late intervention for one authority, by category and agency.

    ``headline``: ``authority, total, per_child, per_head, national_per_person, window_start,
    window_end``; ``tables``: ``by_category``, ``by_agency``.
    """

    def headline_text(self) -> str:
        h = self.headline
        name = h.get("authority_name") or h["authority"]
        text = (f"Late intervention in the services counted here cost {name} an estimated {money(h['total'])} a "
                f"year ({h['price_base']} prices, 12 months to {h['window_end']}): {money(h['per_child'])} per "
                "child aged 0-17")
        if h.get("per_head") is not None:
            text += f" and {money(h['per_head'])} per resident"
        text += (f". EIF's national figure was £{EIF_NATIONAL['per_person']:.0f} per person (2016, England and "
                 "Wales, six issue areas across all agencies): not directly comparable, as this local figure "
                 f"covers {', '.join(h['categories']).lower()} only.")
        top = self.table("by_category").groupby("category")["cost"].sum().sort_values(ascending=False)
        if len(top) and h["total"] > 0:
            text += f" The largest part is {top.index[0].lower()} ({pct(top.iloc[0] / h['total'])})."
        return text

    def plot(self, ax: Axes | None = None, **kwargs: Any) -> Axes:
        """Annual cost by category, stacked by the agency that bears it."""
        import matplotlib.pyplot as plt

        if ax is None:
            _, ax = plt.subplots(figsize=(7, 3.5))
        df = self.table("by_category")
        piv = df.pivot_table(index="category", columns="agency_label", values="cost", aggfunc="sum",
                             fill_value=0.0)
        piv = piv.loc[piv.sum(axis=1).sort_values().index]
        left = np.zeros(len(piv))
        colours = ["#1f4e79", "#9dc3e6", "#c55a11", "#70ad47", "#7f7f7f", "#ffc000", "#5b9bd5"]
        for j, col in enumerate(piv.columns):
            ax.barh(piv.index, piv[col], left=left, color=colours[j % len(colours)], label=col)
            left += piv[col].to_numpy()
        ax.set_xlabel(f"annual cost (£, {self.headline['price_base']} prices)")
        ax.set_title(f"Cost of late intervention: {self.headline.get('authority_name') or self.headline['authority']}")
        money_axis(ax)
        ax.legend(loc="lower right", frameon=False, fontsize=8)
        return ax


def late_intervention_cost(
    panel: pd.DataFrame,
    *,
    authority: str,
    price_base_year: Any,
    population: float | None = None,
    months: int = 12,
    period_end: Any | None = None,
    measures: Sequence[Mapping[str, Any]] | None = None,
    extra_counts: Sequence[Mapping[str, Any]] | None = None,
    unit_costs: UnitCosts | None = None,
    deflators: DeflatorTable | None = None,
) -> LateInterventionCost:
    """Annual cost of late intervention for one authority, by category and agency.

    Parameters
    ----------
    panel : DataFrame
        Authority panel (DATA_CONTRACT.md section 3): ``authority_code, period, population_0_17`` and the
        count columns used by ``measures``.
    authority : str
        GSS code.
    price_base_year : int or str
        Price base of the result, e.g. ``"2024/25"``.
    population : float, optional
        Total resident population (all ages), for the per-head figure beside EIF's £287.
    months : int, default 12
        Length of the window; flows are scaled to a year if the panel has fewer months.
    period_end : date-like, optional
        Last month of the window (default: the authority's latest month).
    measures : sequence of dict, optional
        Panel counts to cost: ``category, column, stock (bool), unit_cost, quantity``; default
        :data:`DEFAULT_MEASURES`.
    extra_counts : sequence of dict, optional
        Annual counts from elsewhere: ``category, count, unit_cost, quantity`` (e.g. police
        domestic-abuse incidents x each agency's cost per incident).
    unit_costs, deflators : optional
        Defaults: the shipped database and ONS deflators.

    Returns
    -------
    LateInterventionCost

    Examples
    --------
    >>> import pandas as pd
    >>> panel = pd.DataFrame({"authority_code": "E06000001", "period": pd.date_range("2023-04-01", periods=12,
    ...                       freq="MS"), "population_0_17": 20_000, "cla": 100, "cin": 400, "s47": 30,
    ...                       "cpp_starts": 10, "referrals": 120})
    >>> r = late_intervention_cost(panel, authority="E06000001", price_base_year="2024/25")
    >>> r.headline["total"] > 0
    True
    """
    ms = [dict(m) for m in (measures if measures is not None else DEFAULT_MEASURES)]
    for i, m in enumerate(ms):
        miss = {"category", "column", "unit_cost"} - set(m)
        if miss:
            raise InputError(f"measure {i} lacks {sorted(miss)}", field=f"measures[{i}]",
                             fix="give category, column, unit_cost (and stock, quantity)")
    df = check_panel(panel, ["population_0_17", *dict.fromkeys(m["column"] for m in ms)])
    uc = unit_costs if unit_costs is not None else UnitCosts.default()
    defl = deflators if deflators is not None else DeflatorTable.default()
    base = parse_year(price_base_year, field="price_base_year")
    defl.value(base, field="price_base_year")
    if population is not None and not (isinstance(population, (int, float)) and population > 0):
        raise InputError(f"population is {population!r}", field="population",
                         fix="give the authority's total resident population (all ages), a positive number")
    rows, start, end, warnings = window(df, authority=authority, months=months, period_end=period_end)
    n_months = rows["period"].nunique()
    scale = 12.0 / n_months
    out = []
    for i, m in enumerate(ms):
        vals = pd.to_numeric(rows[m["column"]], errors="coerce")
        if vals.isna().any():
            bad = rows.index[vals.isna()].tolist()
            raise InputError(f"{m['column']} is blank or not a number for {authority}", field=m["column"],
                             rows=bad, fix="fill the counts, or drop the measure")
        if m.get("stock", False):
            count = float(vals.groupby(rows["period"]).sum().mean())
        else:
            count = float(vals.sum()) * scale
        out.append(_priced(m, count, uc, defl, base, f"measures[{i}].unit_cost"))
    for i, x in enumerate(extra_counts or []):
        miss = {"category", "count", "unit_cost"} - set(x)
        if miss:
            raise InputError(f"extra count {i} lacks {sorted(miss)}", field=f"extra_counts[{i}]",
                             fix="give category, count (a year's count), unit_cost and optionally quantity")
        if not isinstance(x["count"], (int, float)) or x["count"] < 0:
            raise InputError(f"extra count {i} is {x['count']!r}", field=f"extra_counts[{i}].count",
                             fix="give a non-negative annual count")
        out.append(_priced({**x, "column": x.get("column", "user count"), "stock": False}, float(x["count"]), uc,
                           defl, base, f"extra_counts[{i}].unit_cost"))
    by_cat = pd.DataFrame(out)
    by_cat["agency_label"] = by_cat["agency"].map(AGENCY_LABELS)
    total = float(by_cat["cost"].sum())
    by_agency = by_cat.groupby(["agency", "agency_label"], as_index=False)["cost"].sum()
    by_agency["share"] = by_agency["cost"] / total if total > 0 else np.nan
    by_agency = by_agency.sort_values("cost", ascending=False).reset_index(drop=True)
    pop_child = float(pd.to_numeric(rows["population_0_17"], errors="coerce").groupby(rows["period"]).sum().mean())
    if not pop_child > 0:
        raise InputError(f"population_0_17 is missing or zero for {authority}", field="population_0_17",
                         fix="fill the ONS mid-year population aged 0-17")
    unconf = sorted({r["unit_cost"] for r in out if r["unconfirmed"]})
    if unconf:
        warnings.append(f"UNCONFIRMED unit cost(s) used: {', '.join(unconf)}.")
    warnings.append("EIF's £287 per person covers England and Wales, all agencies and six issue areas (2016); "
                    "this local figure covers only the counts listed, so it is not directly comparable.")
    if defl.unverified:
        warnings.append("Deflators: " + " ".join(str(defl.unverified).split()))
    name = None
    if "authority_name" in rows.columns:
        name = str(rows["authority_name"].iloc[0])
    headline = {
        "authority": authority, "authority_name": name, "price_base": format_year(base), "total": total,
        "per_child": total / pop_child, "per_head": total / population if population else None,
        "population_0_17": pop_child, "population": population,
        "national_per_person": EIF_NATIONAL["per_person"], "window_start": f"{start:%B %Y}",
        "window_end": f"{end:%B %Y}", "months_in_panel": int(n_months),
        "categories": list(dict.fromkeys(by_cat["category"])),
    }
    assumptions = {"eif_national": EIF_NATIONAL, "unit_costs": uc.source,
                   "deflator": f"{defl.name}, {defl.source} (vintage {defl.vintage})", "months": months}
    synthetic = bool(rows["synthetic"].any()) if "synthetic" in rows.columns else False
    return LateInterventionCost(kind="late_intervention", headline=headline,
                                tables={"by_category": by_cat, "by_agency": by_agency}, assumptions=assumptions,
                                warnings=warnings, synthetic=synthetic)


def _priced(m: Mapping[str, Any], count: float, uc: UnitCosts, defl: DeflatorTable, base: int,
            key: str) -> dict[str, Any]:
    e = uc.get(m["unit_cost"], field=key)
    q = float(m.get("quantity", 1.0))
    unit = e["value"] * defl.factor(e["price_year"], base)
    return {"category": m["category"], "measure": m["column"], "count": count, "unit_cost": m["unit_cost"],
            "quantity": q, "unit_cost_base_prices": unit, "cost": count * q * unit, "agency": e["agency"],
            "cashable": bool(e["cashable"]), "unconfirmed": bool(e.get("unconfirmed")), "note": m.get("note", "")}
