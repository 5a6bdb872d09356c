"""A balanced scorecard for early help (Isos Partnership for the LGA, 2019; seed 004).

Isos proposed "very simple metrics relating to relative early help expenditure; the impact on demand
for statutory services; and the impact on long-term well-being".  This module computes them for one
authority from the authority panel, beside the rest of its region and (when given) its statistical
neighbours, with the direction of travel against the previous year.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from ehimpact.costs._panel import check_panel
from ehimpact.costs.result import CostResult, money
from ehimpact.errors import InputError

if TYPE_CHECKING:
    from matplotlib.axes import Axes

__all__ = ["balanced_scorecard", "Scorecard"]

# (dimension, indicator name, numerator column, kind, unit, lower_is_better)
_INDICATORS: tuple[tuple[str, str, str, str, str, bool | None], ...] = (
    ("Relative early-help spend", "Early-help spend per child aged 0-17", "eh_spend", "flow_per_child", "£ a year",
     None),
    ("Relative early-help spend", "Early-help assessments per 10,000 children", "eh_assessments", "flow_rate",
     "per 10,000 a year", None),
    ("Demand for statutory services", "Referrals to children's social care per 10,000", "referrals", "flow_rate",
     "per 10,000 a year", True),
    ("Demand for statutory services", "Re-referrals as a share of referrals", "re_referrals", "share_of_referrals",
     "%", True),
    ("Demand for statutory services", "Section 47 enquiries per 10,000", "s47", "flow_rate", "per 10,000 a year",
     True),
    ("Demand for statutory services", "Child protection plans started per 10,000", "cpp_starts", "flow_rate",
     "per 10,000 a year", True),
    ("Demand for statutory services", "Children in need per 10,000", "cin", "stock_rate", "per 10,000", True),
    ("Demand for statutory services", "Children looked after per 10,000", "cla", "stock_rate", "per 10,000", True),
)


#: a panel with at least this many authorities is taken as England (153 upper-tier authorities in 2023;
#: DfE tables often leave out the City of London and the Isles of Scilly)
ENGLAND_MIN_AUTHORITIES = 150

def _indicator_values(df: pd.DataFrame, column: str, kind: str, start: pd.Timestamp, end: pd.Timestamp) -> pd.Series:
    """One value per authority over the window."""
    w = df[(df["period"] >= start) & (df["period"] <= end)]
    if w.empty:
        return pd.Series(dtype=float)
    g = w.groupby("authority_code")
    months = g["period"].nunique()
    pop = g["population_0_17"].mean()
    if kind == "flow_per_child":
        return g[column].sum() * (12 / months) / pop
    if kind == "flow_rate":
        return g[column].sum() * (12 / months) / pop * 1e4
    if kind == "stock_rate":
        return g[column].mean() / pop * 1e4
    if kind == "share_of_referrals":
        return 100 * g[column].sum() / g["referrals"].sum().replace(0, np.nan)
    if kind == "mean":
        return g[column].mean()
    raise ValueError(kind)  # pragma: no cover


@dataclass(eq=False)
class Scorecard(CostResult):
    """Balanced scorecard for one authority; ``tables["scorecard"]`` has one row per indicator."""

    def headline_text(self) -> str:
        h = self.headline
        t = self.table("scorecard").set_index("indicator")
        name = h.get("authority_name") or h["authority"]
        parts = []
        spend = "Early-help spend per child aged 0-17"
        if spend in t.index and np.isfinite(t.loc[spend, "authority"]):
            r = t.loc[spend]
            rel = r["authority"] / r["region"] - 1 if r["region"] else np.nan
            more = "more" if rel >= 0 else "less"
            parts.append(f"{name} spends {money(r['authority'])} a year per child on early help, "
                         f"{abs(rel) * 100:.0f}% {more} than the rest of its region ({money(r['region'])})")
        demand = t[t["dimension"] == "Demand for statutory services"]
        if len(demand):
            higher = int((demand["authority"] > demand["region"]).sum())
            parts.append(f"demand for statutory services is above the regional average on {higher} of "
                         f"{len(demand)} measures")
            falling = int((demand["change_pct"] < 0).sum())
            parts.append(f"{falling} of {len(demand)} fell over the last year")
        wb = t[t["dimension"] == "Long-term well-being"]
        parts.append(f"{len(wb)} long-term well-being indicator(s) supplied" if len(wb)
                     else "no long-term well-being indicators were supplied")
        return "; ".join(parts) + f" (12 months to {h['window_end']})."

    def plot(self, ax: Axes | None = None, **kwargs: Any) -> Axes:
        """Each indicator as an index against the region (region = 100), neighbours beside it."""
        import matplotlib.pyplot as plt

        df = self.table("scorecard").iloc[::-1]
        if ax is None:
            _, ax = plt.subplots(figsize=(7.5, 0.45 * len(df) + 1.3))
        y = np.arange(len(df))
        idx = 100 * df["authority"] / df["region"]
        ax.scatter(idx, y, color="#1f4e79", zorder=3, label=self.headline.get("authority_name") or "authority")
        if df["neighbours"].notna().any():
            ax.scatter(100 * df["neighbours"] / df["region"], y, marker="|", s=150, color="#c55a11",
                       label="statistical neighbours", zorder=3)
        ax.axvline(100, color="grey", linestyle="--", linewidth=1)
        ax.set_yticks(y, df["indicator"], fontsize=8)
        ax.set_xlabel("index: rest of region = 100")
        ax.set_title("Balanced scorecard for early help")
        ax.legend(loc="lower right", frameon=False, fontsize=8)
        return ax


def balanced_scorecard(
    panel: pd.DataFrame,
    *,
    authority: str,
    neighbours: Sequence[str] | None = None,
    wellbeing: Sequence[str] | None = None,
    months: int = 12,
    period_end: Any | None = None,
) -> Scorecard:
    """Balanced scorecard: early-help spend, demand for statutory services, long-term well-being.

    Parameters
    ----------
    panel : DataFrame
        Authority panel (DATA_CONTRACT.md section 3) for the authority and its comparators, with
        ``region_code`` and ``population_0_17``.
    authority : str
        GSS code of the authority.
    neighbours : sequence of str, optional
        GSS codes of its statistical neighbours (NFER model, 10 per LA) present in the panel.
    wellbeing : sequence of str, optional
        Extra panel columns holding long-term well-being indicators (e.g. ``neet_rate``,
        ``absence_rate``), averaged over the window.  The panel contract has none of its own.
    months : int, default 12
        Window length; the previous window of the same length gives the change.
    period_end : date-like, optional
        Last month of the window (default: the authority's latest).

    Returns
    -------
    Scorecard
        ``tables["scorecard"]``: ``dimension, indicator, unit, authority, previous, change_pct, region,
        region_rank, region_n, neighbours`` and ``england`` when the panel covers England (at least
        :data:`ENGLAND_MIN_AUTHORITIES` authorities), else ``supplied_mean``: the mean of the authorities
        supplied, which is not an England figure and is not called one.
    """
    wb = list(wellbeing or [])
    cols = [c for _, _, c, _, _, _ in _INDICATORS]
    df = check_panel(panel, ["region_code", "population_0_17", *cols, *wb])
    if not isinstance(months, int) or months < 1:
        raise InputError(f"months is {months!r}", field="months", fix="give a whole number of months, e.g. 12")
    codes = df["authority_code"].astype(str)
    if authority not in set(codes):
        raise InputError(f"authority {authority!r} is not in the panel", field="authority",
                         fix=f"use a GSS code from the panel, e.g. {', '.join(sorted(set(codes))[:5])}")
    own = df[codes == authority]
    end = pd.Timestamp(period_end) if period_end is not None else own["period"].max()
    start = end - pd.DateOffset(months=months - 1)
    prev_end, prev_start = start - pd.DateOffset(months=1), start - pd.DateOffset(months=months)
    region = str(own["region_code"].iloc[0])
    region_codes = sorted(set(codes[(df["region_code"].astype(str) == region)]) - {authority})
    nb = list(neighbours or [])
    missing_nb = sorted(set(nb) - set(codes))
    warnings: list[str] = []
    if missing_nb:
        raise InputError(f"statistical neighbour(s) {missing_nb} are not in the panel", field="neighbours",
                         fix="add their rows to the panel or drop them from the list")
    if not region_codes:
        warnings.append(f"{authority} is the only authority of region {region} in the panel: no regional comparison.")
    specs = list(_INDICATORS) + [("Long-term well-being", c, c, "mean", "as supplied", None) for c in wb]
    comparison_key = "england" if codes.nunique() >= ENGLAND_MIN_AUTHORITIES else "supplied_mean"
    rows = []
    for dim, label, col, kind, unit, _lower in specs:
        cur = _indicator_values(df, col, kind, start, end)
        prev = _indicator_values(df, col, kind, prev_start, prev_end)
        a = float(cur.get(authority, np.nan))
        p = float(prev.get(authority, np.nan))
        reg = cur.reindex(region_codes)
        rank_pool = cur.reindex([authority, *region_codes]).dropna()
        rows.append({
            "dimension": dim, "indicator": label, "unit": unit, "authority": a, "previous": p,
            "change_pct": 100 * (a / p - 1) if p and np.isfinite(p) else np.nan,
            "region": float(reg.mean()) if reg.notna().any() else np.nan,
            "region_rank": int(rank_pool.rank(ascending=False, method="min")[authority])
            if authority in rank_pool.index else None,
            "region_n": int(len(rank_pool)),
            "neighbours": float(cur.reindex(nb).mean()) if nb else np.nan,
            comparison_key: float(cur.mean()),
        })
    table = pd.DataFrame(rows)
    if not wb:
        warnings.append("No long-term well-being indicators were supplied (the authority panel has none); add "
                        "columns such as NEET or school absence rates with `wellbeing=`.")
    if np.all(table["previous"].isna()):
        warnings.append("The panel has no previous year for the direction of travel.")
    name = str(own["authority_name"].iloc[0]) if "authority_name" in own.columns else None
    headline = {"authority": authority, "authority_name": name, "region_code": region,
                "region_comparators": len(region_codes), "neighbours": len(nb),
                "window_start": f"{start:%B %Y}", "window_end": f"{end:%B %Y}"}
    synthetic = bool(own["synthetic"].any()) if "synthetic" in own.columns else False
    return Scorecard(kind="scorecard", headline=headline, tables={"scorecard": table},
                     assumptions={"source": "Isos Partnership for the LGA (2019), balanced scorecard proposal",
                                  "months": months, "region": "mean of the other authorities of the region"},
                     warnings=warnings, synthetic=synthetic)
