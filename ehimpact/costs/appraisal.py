"""Costs avoided from an impact estimate, and value for money (NPV, BCR, ROI, payback).

The model
---------
For each link between an outcome and a unit cost (an outcome may link to several costs, e.g. the five
agencies' shares of a domestic-abuse incident):

* events avoided = ``-effect x cohort x (1 - deadweight) x attribution`` (``effect`` is the change in
  the probability, or rate per child, of the outcome; a reduction is negative, so avoided events are
  positive);
* avoided cost in each year ``start .. start + duration - 1`` =
  ``events avoided x quantity x unit cost (uprated to the price base) x (1 - optimism-bias reduction)``;
* present value = that annual amount times the sum of the Green Book discount factors over those years.

The delivery cost (uprated to the price base) falls in year 0 unless spread over ``delivery_years``.
Then NPV = PV(avoided costs) - PV(delivery cost), BCR = PV(avoided) / PV(delivery), ROI = NPV / PV(delivery),
and the payback year is the first year in which cumulative discounted avoided costs reach cumulative
discounted delivery costs.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from ehimpact.costs._model import OutcomeLink, _Model
from ehimpact.costs.discounting import DiscountSchedule, _resolve
from ehimpact.costs.optimism import OptimismBias
from ehimpact.costs.prices import DeflatorTable, format_year, parse_year
from ehimpact.costs.result import CostResult, money, money_axis, pct
from ehimpact.costs.uncertainty import plot_tornado, simulate, tornado_table
from ehimpact.costs.unit_costs import AGENCY_LABELS, UnitCosts
from ehimpact.errors import InputError
from ehimpact.estimators.result import Estimate

if TYPE_CHECKING:
    from matplotlib.axes import Axes

__all__ = ["OutcomeLink", "ValueForMoney", "value_for_money", "DEFAULT_SEED"]

#: Monte Carlo seed when neither the costs config nor the evaluation gives one.
DEFAULT_SEED = 20240401


def _effect_on_event_scale(est: Estimate, link: OutcomeLink, name: str) -> tuple[float, float, tuple[float, float]]:
    if not isinstance(est, Estimate):
        raise InputError(f"estimates[{name!r}] is a {type(est).__name__}, not an Estimate", field="estimates",
                         rows=[name], fix="pass the result of an ehimpact estimator")
    if est.scale == "ratio":
        if link.baseline is None:
            raise InputError(f"the estimate for {name!r} is a ratio; its baseline probability is needed",
                             field="baseline", rows=[name],
                             fix="give baseline (the outcome rate without the service) in the outcome link")
        b = float(link.baseline)
        return b * (est.estimate - 1.0), b * est.se, (b * (est.ci[0] - 1.0), b * (est.ci[1] - 1.0))
    if est.scale == "money":
        raise InputError(f"the estimate for {name!r} is in money, not events", field="estimates", rows=[name],
                         fix="link an outcome measured as a probability, rate or count per child")
    if not math.isfinite(est.estimate):
        raise InputError(f"the estimate for {name!r} is not a number", field="estimates", rows=[name],
                         fix="re-run the estimator; it did not produce an estimate")
    return est.estimate, est.se, est.ci


def _build_model(estimates: Mapping[str, Estimate], links: Sequence[OutcomeLink], *, cohort: float,
                 delivery_cost: float, delivery_cost_year: Any, price_base_year: Any, unit_costs: UnitCosts,
                 deflators: DeflatorTable, deadweight: float, attribution: float, optimism: OptimismBias,
                 optimism_grade: int | None, schedule: DiscountSchedule, delivery_years: Sequence[int] | None,
                 cost_range: float | None) -> _Model:
    if not links:
        raise InputError("no outcome is linked to a unit cost", field="links",
                         fix="give at least one link, e.g. {outcome: cla_24m, unit_cost: cla_average_year}")
    if isinstance(cohort, bool) or not isinstance(cohort, (int, float, np.integer, np.floating)) \
            or not math.isfinite(cohort) or cohort < 0:
        raise InputError(f"cohort is {cohort!r}", field="cohort",
                         fix="give the number of children (or families) supported, a positive number")
    if not 0 <= deadweight < 1:
        raise InputError(f"deadweight is {deadweight!r}", field="deadweight", fix="give a fraction in [0, 1)")
    if not 0 < attribution <= 1:
        raise InputError(f"attribution is {attribution!r}", field="attribution", fix="give a fraction in (0, 1]")
    if not (isinstance(delivery_cost, (int, float)) and math.isfinite(delivery_cost) and delivery_cost > 0):
        raise InputError(f"delivery_cost is {delivery_cost!r}", field="delivery_cost",
                         fix="give the total cost of delivering the service, in pounds")
    if cost_range is not None and not 0 <= cost_range < 1:
        raise InputError(f"cost_range is {cost_range!r}", field="cost_range",
                         fix="give a fraction such as 0.25 (unit costs varied +/-25% where no range is published)")
    base = parse_year(price_base_year, field="price_base_year")
    deflators.value(base, field="price_base_year")
    outcomes = list(dict.fromkeys(lk.outcome for lk in links))
    missing = [o for o in outcomes if o not in estimates]
    if missing:
        raise InputError(f"no estimate for linked outcome(s) {missing}", field="links", rows=missing,
                         fix=f"estimates given: {sorted(estimates)}; link only those, or estimate the others")
    eff, se, ci = [], [], []
    for o in outcomes:
        first = next(lk for lk in links if lk.outcome == o)
        e, s, c = _effect_on_event_scale(estimates[o], first, o)
        eff.append(e)
        se.append(s if math.isfinite(s) else 0.0)
        ci.append(c)
    cost, lo, hi, ob, q, pvf, cash, agency, unconfirmed = ([] for _ in range(9))
    for lk in links:
        entry = unit_costs.get(lk.unit_cost, field=f"links[{lk.outcome}].unit_cost")
        f = deflators.factor(entry["price_year"], base)
        v = entry["value"] * f
        if "low" in entry and "high" in entry:
            lo.append(entry["low"] * f)
            hi.append(entry["high"] * f)
        elif cost_range:
            lo.append(v * (1 - cost_range))
            hi.append(v * (1 + cost_range))
        else:
            lo.append(v)
            hi.append(v)
        cost.append(v)
        grade = optimism_grade if optimism_grade is not None else entry["confidence_grade"]
        ob.append(optimism.reduction(grade))
        q.append(float(lk.quantity))
        yrs = np.arange(lk.start_year, lk.start_year + lk.duration)
        pvf.append(float(schedule.factors(yrs).sum()))
        cash.append(bool(entry["cashable"]))
        agency.append(entry["agency"])
        if entry.get("unconfirmed"):
            unconfirmed.append(lk.unit_cost)
    dy = np.asarray(delivery_years if delivery_years else [0], dtype=float)
    if np.any(dy < 0):
        raise InputError("delivery_years must be 0 or later", field="delivery_years", fix="count from year 0")
    dcost = float(delivery_cost) * deflators.factor(
        delivery_cost_year if delivery_cost_year is not None else base, base)
    horizon = int(max(max(lk.start_year + lk.duration - 1 for lk in links), dy.max()))
    return _Model(
        outcomes=outcomes, effect=np.array(eff), effect_se=np.array(se), effect_ci=np.array(ci),
        link_outcome=np.array([outcomes.index(lk.outcome) for lk in links]), links=list(links),
        cost=np.array(cost), cost_low=np.array(lo), cost_high=np.array(hi), ob=np.array(ob),
        quantity=np.array(q), pvf=np.array(pvf), agency=agency, cashable=np.array(cash, dtype=bool),
        cohort=float(cohort), deadweight=float(deadweight), attribution=float(attribution),
        delivery_cost=dcost, delivery_years=dy, delivery_share=np.full(len(dy), 1.0 / len(dy)),
        schedule=schedule, horizon=horizon, years_start=np.array([lk.start_year for lk in links]),
        years_dur=np.array([lk.duration for lk in links]), unconfirmed=sorted(set(unconfirmed)),
    )


def _by_year(m: _Model, pv_link: np.ndarray) -> pd.DataFrame:
    years = np.arange(0, m.horizon + 1)
    d = m.schedule.factors(years)
    annual = np.where(m.pvf > 0, pv_link / np.where(m.pvf > 0, m.pvf, 1.0), 0.0)  # undiscounted per year
    active = (years[:, None] >= m.years_start) & (years[:, None] < m.years_start + m.years_dur)
    benefits = (active * annual).sum(axis=1)
    costs = np.zeros_like(years, dtype=float)
    for y, s in zip(m.delivery_years.astype(int), m.delivery_share, strict=True):
        costs[y] += m.delivery_cost * s
    df = pd.DataFrame({"year": years, "discount_factor": d, "avoided_costs": benefits, "delivery_costs": costs,
                       "pv_avoided_costs": benefits * d, "pv_delivery_costs": costs * d})
    df["cumulative_net_pv"] = (df["pv_avoided_costs"] - df["pv_delivery_costs"]).cumsum()
    return df


def _payback(by_year: pd.DataFrame) -> int | None:
    ok = by_year.index[by_year["cumulative_net_pv"] >= -1e-9 * max(1.0, by_year["pv_delivery_costs"].sum())]
    return int(by_year.loc[ok[0], "year"]) if len(ok) else None


# ---------------------------------------------------------------------------------------------- result
@dataclass(eq=False)
class ValueForMoney(CostResult):
    """Value for money of a service: costs avoided, NPV, BCR, ROI, payback, with Monte Carlo intervals.

    ``headline`` holds ``pv_avoided_costs, pv_delivery_costs, npv, bcr, roi, payback_year`` (point
    values) and, after simulation, ``npv_mean, npv_lo, npv_hi, bcr_median, bcr_lo, bcr_hi, p_bcr_gt_1,
    p_npv_gt_0``.  ``tables``: ``links``, ``by_agency``, ``by_year``, ``tornado``.  ``draws`` (not
    serialised) holds the simulated NPV and BCR.
    """

    draws: pd.DataFrame | None = None
    level: float = 0.90

    def headline_text(self) -> str:
        """The value for money in words: a negative return is worded as a cost, shares stay within 100%."""
        h = self.headline
        parts = [_return_sentence(h["bcr"])]
        if h.get("bcr_lo") is not None:
            parts[0] += f" ({pct(self.level)} interval {_interval_words(h['bcr_lo'], h['bcr_hi'])})"
        agency = self.table("by_agency")
        share = _gross_agency_shares(agency)
        if share is not None:
            la = AGENCY_LABELS["la_childrens_services"]
            if la in share.index:
                parts.append(f"the local authority bears {pct(share[la])} of the savings")
            else:
                parts.append(f"{share.index[0]} bears {pct(share.iloc[0])} of the savings")
        if h.get("p_bcr_gt_1") is not None:
            parts.append(f"the chance the service pays for itself is {pct(h['p_bcr_gt_1'])}")
        first = "; ".join(parts) + "."
        npv = (f"{_npv_words(h['npv'])} ({_avoided_words(h['pv_avoided_costs'])} against "
               f"{money(h['pv_delivery_costs'])} delivery cost, {self.assumptions.get('price_base')} prices")
        if h.get("npv_lo") is not None:
            npv += f"; {pct(self.level)} interval {_npv_interval_words(h['npv_lo'], h['npv_hi'])}"
        npv += ")."
        cash = _cashable_words(h.get("cashable_share"), h.get("pv_gross_avoided_costs", h["pv_avoided_costs"]))
        pay = (f" It pays back in year {h['payback_year']}." if h["payback_year"] is not None
               else " It does not pay back within the years modelled.")
        return first + "\n" + npv + cash + pay

    def summary(self) -> str:
        lines = [self.headline_text()]
        a = self.assumptions
        lines.append(
            f"Assumptions: cohort {a['cohort']:,.0f}; deadweight {pct(a['deadweight'])}; attribution "
            f"{pct(a['attribution'])}; discounting {a['discount_schedule']} (Green Book {a['green_book_version']});"
            f" optimism bias {a['optimism_bias']}; {a.get('draws', 0):,} Monte Carlo draws (seed {a.get('seed')})."
        )
        lines.extend(f"Warning: {w}" for w in self.warnings)
        if self.synthetic:
            lines.append("SYNTHETIC DATA: this result illustrates the method and describes no real children.")
        return "\n".join(lines)

    def plot(self, ax: Axes | None = None, *, kind: str = "agency") -> Axes:
        """``kind="agency"``: PV of avoided costs by agency (cashable / non-cashable);
        ``"tornado"``: one-way sensitivity of NPV; ``"npv"``: histogram of simulated NPV.
        """
        import matplotlib.pyplot as plt

        if kind == "tornado":
            return plot_tornado(self.table("tornado"), base=self.headline["npv"], ax=ax)
        if ax is None:
            _, ax = plt.subplots(figsize=(7, 3.8))
        if kind == "npv":
            if self.draws is None:
                raise InputError("no simulation was run", field="kind", fix="run with draws > 0")
            ax.hist(self.draws["npv"], bins=60, histtype="stepfilled", color="#1f4e79", alpha=0.85)
            ax.axvline(0, color="firebrick", linestyle="--", linewidth=1)
            ax.axvline(self.headline["npv"], color="black", linewidth=1)
            ax.set_xlabel(f"net present value (£, {self.assumptions.get('price_base')} prices)")
            ax.set_ylabel("draws")
            ax.set_title(f"Simulated NPV; P(BCR > 1) = {pct(self.headline.get('p_bcr_gt_1'))}")
            money_axis(ax)
            return ax
        if kind != "agency":
            raise InputError(f"unknown plot kind {kind!r}", field="kind", fix='use "agency", "tornado" or "npv"')
        df = self.table("by_agency")
        piv = df.pivot_table(index="agency_label", columns="cashable", values="pv_avoided_costs",
                             aggfunc="sum", fill_value=0.0)
        piv = piv.reindex(columns=[True, False], fill_value=0.0)
        order = piv.sum(axis=1).sort_values().index
        piv = piv.loc[order]
        ax.barh(piv.index, piv[True], color="#1f4e79", label="cashable")
        ax.barh(piv.index, piv[False], left=piv[True], color="#9dc3e6", label="not cashable")
        ax.set_xlabel(f"present value of avoided costs (£, {self.assumptions.get('price_base')} prices)")
        ax.set_title("Who saves: avoided costs by agency")
        money_axis(ax)
        ax.legend(loc="lower right", frameon=False)
        return ax


def value_for_money(
    estimates: Mapping[str, Estimate] | Estimate,
    *,
    links: Sequence[OutcomeLink | Mapping[str, Any]],
    cohort: float,
    delivery_cost: float,
    price_base_year: Any,
    delivery_cost_year: Any | None = None,
    delivery_years: Sequence[int] | None = None,
    unit_costs: UnitCosts | None = None,
    deflators: DeflatorTable | None = None,
    deadweight: float = 0.0,
    attribution: float = 1.0,
    optimism: OptimismBias | None = None,
    optimism_grade: int | None = None,
    schedule: str | DiscountSchedule = "green_book",
    version: str | None = None,
    cost_range: float | None = 0.25,
    draws: int = 10_000,
    seed: int = DEFAULT_SEED,
    level: float = 0.90,
    tornado: bool = True,
) -> ValueForMoney:
    """Costs avoided by a service, by agency, and its value for money with uncertainty.

    Parameters
    ----------
    estimates : Estimate or mapping of outcome name to Estimate
        Effects on outcome probabilities (or rates per child); a reduction is negative.  A single
        Estimate is keyed by its ``outcome``.
    links : sequence of OutcomeLink or dict
        Outcome -> unit-cost links (see :class:`OutcomeLink`).
    cohort : float
        Children (or families) supported: the effect applies to each.
    delivery_cost : float
        Total cost of delivering the service to the cohort, £ in ``delivery_cost_year`` prices.
    price_base_year : int or str
        Price base of the results, e.g. ``"2024/25"``.
    delivery_cost_year : int or str, optional
        Price year of ``delivery_cost`` (default: the price base).
    delivery_years : sequence of int, optional
        Years over which the delivery cost is spread evenly (default ``[0]``).
    unit_costs : UnitCosts, optional
        Default: :meth:`UnitCosts.default`.
    deflators : DeflatorTable, optional
        Default: :meth:`DeflatorTable.default`.
    deadweight : float, default 0
        Share of the change that would have happened anyway (use it when the estimate is not already
        against a counterfactual comparison group).
    attribution : float, default 1
        Share of the change attributable to this service rather than others working with the family.
    optimism : OptimismBias, optional
        Reductions by grade (default: the shipped, UNCONFIRMED placeholder table).
    optimism_grade : int, optional
        One grade for every benefit; default each unit cost's own ``confidence_grade``.
    schedule : {"green_book", "green_book_health"} or DiscountSchedule
        Discount schedule; ``version`` picks the Green Book edition.
    cost_range : float or None, default 0.25
        Unit costs without a published low/high range are varied by +/- this share in the simulation
        and the tornado (an assumption, reported in the warnings); ``None`` keeps them fixed.
    draws : int, default 10000
        Monte Carlo draws (0 for none).  100,000 draws take well under a second.
    seed : int, default ``DEFAULT_SEED`` (20240401)
        Random seed of the Monte Carlo: the same seed gives the same numbers.  In a report it is the
        ``costs.seed`` key, else the evaluation's ``seed`` (see :func:`ehimpact.costs.config.evaluate`).
    level : float, default 0.90
        Level of the reported intervals.
    tornado : bool, default True
        Compute the one-way sensitivity table.

    Returns
    -------
    ValueForMoney

    Examples
    --------
    >>> from ehimpact.estimators.result import Estimate
    >>> est = Estimate(estimate=-0.008, se=0.003, ci=(-0.0139, -0.0021), pvalue=0.008, estimand="ATT",
    ...                method="matching", n_treated=1000, n_control=1000, outcome="cla_24m", scale="proportion")
    >>> vfm = value_for_money({"cla_24m": est}, links=[{"outcome": "cla_24m", "unit_cost": "cla_average_year",
    ...                        "duration": 2}], cohort=1000, delivery_cost=500_000, price_base_year="2024/25",
    ...                        draws=2000, seed=1)
    >>> round(vfm.headline["bcr"], 2)
    1.59
    """
    if isinstance(estimates, Estimate):
        estimates = {estimates.outcome or "outcome": estimates}
    if not isinstance(estimates, Mapping):
        raise InputError(f"estimates is a {type(estimates).__name__}", field="estimates",
                         fix="pass a dict of outcome name -> Estimate")
    uc = unit_costs if unit_costs is not None else UnitCosts.default()
    defl = deflators if deflators is not None else DeflatorTable.default()
    ob = optimism if optimism is not None else OptimismBias.default()
    sched = _resolve(schedule, version)
    lks = [OutcomeLink.coerce(x) for x in links]
    if not isinstance(draws, (int, np.integer)) or draws < 0:
        raise InputError(f"draws is {draws!r}", field="draws", fix="give a whole number, 0 for no simulation")
    if not 0 < level < 1:
        raise InputError(f"level is {level!r}", field="level", fix="give e.g. 0.9 for a 90% interval")
    m = _build_model(estimates, lks, cohort=cohort, delivery_cost=delivery_cost,
                     delivery_cost_year=delivery_cost_year, price_base_year=price_base_year, unit_costs=uc,
                     deflators=defl, deadweight=deadweight, attribution=attribution, optimism=ob,
                     optimism_grade=optimism_grade, schedule=sched, delivery_years=delivery_years,
                     cost_range=cost_range)
    base = format_year(parse_year(price_base_year, field="price_base_year"))
    pv_link = m.pv_by_link()
    pv_b, pv_c = float(pv_link.sum()), m.pv_delivery
    by_year = _by_year(m, pv_link)

    link_rows = []
    for i, lk in enumerate(m.links):
        k = m.link_outcome[i]
        events = -m.effect[k] * m.cohort * (1 - m.deadweight) * m.attribution
        link_rows.append({
            "outcome": lk.outcome, "unit_cost": lk.unit_cost, "agency": m.agency[i],
            "cashable": bool(m.cashable[i]), "effect": m.effect[k], "events_avoided": events,
            "quantity": lk.quantity, "unit_cost_base_prices": m.cost[i], "optimism_reduction": m.ob[i],
            "annual_avoided_cost": events * lk.quantity * m.cost[i] * (1 - m.ob[i]),
            "start_year": lk.start_year, "duration": lk.duration, "pv_avoided_costs": pv_link[i],
            "unconfirmed_unit_cost": lk.unit_cost in m.unconfirmed,
        })
    links_df = pd.DataFrame(link_rows)
    by_agency = (links_df.groupby(["agency", "cashable"], as_index=False)["pv_avoided_costs"].sum())
    by_agency["agency_label"] = by_agency["agency"].map(AGENCY_LABELS)
    total = by_agency["pv_avoided_costs"].sum()
    by_agency["share"] = by_agency["pv_avoided_costs"] / total if total != 0 else np.nan
    by_agency = by_agency.sort_values("pv_avoided_costs", ascending=False).reset_index(drop=True)

    headline: dict[str, Any] = {
        "pv_avoided_costs": pv_b, "pv_delivery_costs": pv_c, "npv": pv_b - pv_c, "bcr": pv_b / pv_c,
        "roi": (pv_b - pv_c) / pv_c, "payback_year": _payback(by_year),
        **_cashable_share(links_df),
    }
    assumptions = {
        "price_base": base, "cohort": m.cohort, "deadweight": m.deadweight, "attribution": m.attribution,
        "delivery_cost_base_prices": m.delivery_cost, "delivery_years": m.delivery_years.astype(int).tolist(),
        "discount_schedule": sched.name, "green_book_version": sched.version, "discount_source": sched.source,
        "optimism_bias": (f"grade {optimism_grade} for every benefit" if optimism_grade is not None
                          else "by each unit cost's confidence grade") + f" ({ob.source})",
        "optimism_reductions": dict(ob.reductions), "deflator": f"{defl.name}, {defl.source} (vintage {defl.vintage})",
        "unit_costs": uc.source, "cost_range": cost_range, "draws": int(draws), "seed": seed, "level": level,
    }
    warnings = _warnings(m, estimates, ob, defl, sched, cost_range)
    if headline["pv_added_costs"] > 0 and headline["cashable_share"] is not None:
        warnings.append(
            f"Some outcomes add {money(headline['pv_added_costs'])} of costs; the cashable share is of the "
            f"{money(headline['pv_gross_avoided_costs'])} of gross avoided costs, because a share of the net "
            "figure could exceed 100%.")
    tables = {"links": links_df, "by_agency": by_agency, "by_year": by_year}
    draws_df = None
    if draws:
        sim = simulate(m, draws=int(draws), seed=seed)
        draws_df = sim
        a = (1 - level) / 2
        headline.update({
            "npv_mean": float(sim["npv"].mean()), "npv_lo": float(sim["npv"].quantile(a)),
            "npv_hi": float(sim["npv"].quantile(1 - a)), "bcr_median": float(sim["bcr"].median()),
            "bcr_lo": float(sim["bcr"].quantile(a)), "bcr_hi": float(sim["bcr"].quantile(1 - a)),
            "p_bcr_gt_1": float((sim["bcr"] > 1).mean()), "p_npv_gt_0": float((sim["npv"] > 0).mean()),
        })
    if tornado:
        tables["tornado"] = tornado_table(m)
    synthetic = any(getattr(e, "synthetic", False) for e in estimates.values())
    return ValueForMoney(kind="value_for_money", headline=headline, tables=tables, assumptions=assumptions,
                         warnings=warnings, synthetic=synthetic, draws=draws_df, level=level)


def _warnings(m: _Model, estimates: Mapping[str, Estimate], ob: OptimismBias, defl: DeflatorTable,
              sched: DiscountSchedule, cost_range: float | None) -> list[str]:
    w = []
    if m.unconfirmed:
        w.append(f"UNCONFIRMED unit cost(s) used: {', '.join(m.unconfirmed)} (not checked against the "
                 "official GMCA workbook); replace them with your own where you can.")
    if ob.unconfirmed and np.any(m.ob > 0):
        w.append("Optimism-bias reductions are UNCONFIRMED placeholder defaults; set your own (optimism_bias).")
    if cost_range and np.any(m.cost_low == m.cost * (1 - cost_range)):
        w.append(f"Unit costs without a published range were varied by +/-{pct(cost_range)} (an assumption).")
    for o in m.outcomes:
        est = estimates[o]
        if not est.significant:
            w.append(f"The effect on {o} is not statistically distinguishable from zero; the savings may be none.")
    if defl.unverified:
        w.append("Deflators: " + " ".join(str(defl.unverified).split()))
    if sched.unconfirmed and m.horizon > 125:
        w.append("Discounting beyond year 125: " + " ".join(sched.unconfirmed.split()))
    if np.any(m.effect > 0):
        ups = [o for o, e in zip(m.outcomes, m.effect, strict=True) if e > 0]
        w.append(f"The service is estimated to INCREASE {', '.join(ups)}; those appear as negative savings.")
    return w


# ---------------------------------------------------------------------------------------------- words
def _cashable_share(links_df: pd.DataFrame) -> dict[str, float | None]:
    """Cashable share of the *gross* avoided costs, so it lies in [0, 1].

    The old net form (cashable PV / net PV of all links) exceeds 100% as soon as an outcome the service
    increased adds costs that are not cashable (e.g. 113%), and is negative when the net PV is.  The
    gross form counts only links with avoided (positive) costs; added costs are reported beside it
    (``pv_added_costs``), never netted off the share.
    """
    pv = links_df["pv_avoided_costs"].to_numpy(dtype=float) if len(links_df) else np.zeros(0)
    cash = links_df["cashable"].to_numpy(dtype=bool) if len(links_df) else np.zeros(0, dtype=bool)
    gross = float(pv[pv > 0].sum())
    added = float(-pv[pv < 0].sum())
    share = float(pv[(pv > 0) & cash].sum() / gross) if gross > 0 else None
    if share is not None:
        share = min(max(share, 0.0), 1.0)  # exact by construction; guards rounding only
    return {"cashable_share": share, "pv_gross_avoided_costs": gross, "pv_added_costs": added}


def _gross_agency_shares(agency: pd.DataFrame) -> pd.Series | None:
    """Each agency's share of the gross savings (agencies with added costs count as 0), largest first."""
    if agency.empty:
        return None
    by = agency.groupby("agency_label")["pv_avoided_costs"].sum().clip(lower=0.0)
    if by.sum() <= 0:
        return None
    return (by / by.sum()).sort_values(ascending=False)


def _return_sentence(bcr: float) -> str:
    if bcr is None or bcr != bcr:
        return "The return per £1 spent is not available"
    if bcr >= 0:
        return f"Every £1 spent is estimated to return {money(bcr, pence=True)} in avoided costs"
    return (f"The service is estimated to add costs rather than avoid them: every £1 spent adds a further "
            f"{money(-bcr, pence=True)} of costs elsewhere")


def _per_pound(x: float) -> str:
    return f"{money(x, pence=True)} avoided" if x >= 0 else f"{money(-x, pence=True)} of added costs"


def _interval_words(lo: float, hi: float) -> str:
    if lo >= 0:
        return f"{money(lo, pence=True)} to {money(hi, pence=True)}"
    return f"from {_per_pound(lo)} to {_per_pound(hi)} per £1"


def _npv_words(npv: float) -> str:
    if npv >= 0:
        return f"Net present value {money(npv)}"
    return f"A net cost of {money(-npv)} in present value"


def _npv_interval_words(lo: float, hi: float) -> str:
    if lo >= 0:
        return f"{money(lo)} to {money(hi)}"
    return f"from {_net_words(lo)} to {_net_words(hi)}"


def _net_words(v: float) -> str:
    return f"a net saving of {money(v)}" if v >= 0 else f"a net cost of {money(-v)}"


def _avoided_words(pv: float) -> str:
    return f"{money(pv)} avoided" if pv >= 0 else f"{money(-pv)} of added costs"


def _cashable_words(share: float | None, gross: float) -> str:
    if share is None:
        return " No costs are avoided, so none are cashable."
    return f" {pct(share)} of the {money(gross)} of avoided costs are cashable."
