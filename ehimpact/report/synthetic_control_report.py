"""Write-up hooks of the synthetic control design (steps 6, 7 and 8).

Named in :data:`ehimpact.estimators.synthetic_control.SYNTHETIC_CONTROL_SPEC` as
``report_hooks`` and called by :func:`ehimpact.report.steps.run_hooks` with the evaluation,
the section and the :class:`~ehimpact.estimators.synthetic_control.SyntheticControlResult`.
Step 6 shows the pre-period fit and the donor weights by authority name, step 7 the
treated-against-synthetic and gap plots (the headline sentence itself names the donors),
step 8 the placebo distribution and where the authority ranks in it.  Counts here are of
authorities and months, never of people.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

if TYPE_CHECKING:
    from ehimpact.report.evaluation import Evaluation
    from ehimpact.report.sections import Section

__all__ = ["step6", "step7", "step8", "donor_table", "placebo_table"]

#: donors shown by name in step 6; the rest are summed in one row
SHOWN_DONORS = 12


def _fmt(x: float) -> str:
    return f"{x:,.3g}" if np.isfinite(x) else "not available"


def donor_table(est: Any, *, shown: int = SHOWN_DONORS) -> pd.DataFrame:
    """Donor weights by authority name, largest first; donors beyond ``shown`` summed in one row.

    Parameters
    ----------
    est : SyntheticControlResult
    shown : int
        How many donors to list by name.

    Returns
    -------
    DataFrame
        ``authority, weight (%)``.
    """
    w = est.weights
    if w is None or not len(w):
        return pd.DataFrame(columns=["authority", "weight (%)"])
    names = w["name"] if "name" in w.columns else w["donor"].astype(str)
    table = pd.DataFrame({"authority": names.astype(str).to_numpy(), "weight (%)": 100 * w["weight"].to_numpy()})
    table = table.sort_values("weight (%)", ascending=False, kind="stable").reset_index(drop=True)
    if len(table) > shown:
        rest = table.iloc[shown:]
        table = pd.concat([table.iloc[:shown], pd.DataFrame(
            [{"authority": f"{len(rest)} other authorities", "weight (%)": float(rest["weight (%)"].sum())}])],
            ignore_index=True)
    table["weight (%)"] = table["weight (%)"].round(1)
    return table


def placebo_table(est: Any) -> pd.DataFrame:
    """The treated authority and every placebo, ranked by the post/pre RMSPE ratio (1 = largest)."""
    p = est.placebos
    if p is None or not len(p):
        return pd.DataFrame()
    names = p["name"] if "name" in p.columns else p["donor"].astype(str)
    frame = pd.DataFrame({"authority": names.astype(str).to_numpy(), "estimate": p["estimate"].to_numpy(),
                          "post/pre RMSPE ratio": p["ratio"].to_numpy(), "treated": False})
    own = pd.DataFrame([{"authority": est.treated_name or str(est.treated_unit), "estimate": est.estimate,
                         "post/pre RMSPE ratio": est.rmspe_ratio, "treated": True}])
    frame = pd.concat([own, frame], ignore_index=True).sort_values("post/pre RMSPE ratio", ascending=False,
                                                                   kind="stable").reset_index(drop=True)
    frame.insert(0, "rank", np.arange(1, len(frame) + 1))
    return frame


def step6(ev: Evaluation, sec: Section, est: Any) -> None:
    """Pre-period fit and donor weights by authority name."""
    pool = ev.notes.get("donor_pool")
    if pool:
        sec.say(pool)
    sec.say(f"**Fit before the change.** Over the {est.n_pre} months before the change the synthetic comparison "
            f"tracked {est.treated_name or est.treated_unit} with a root mean squared prediction error (RMSPE) of "
            f"{_fmt(est.rmspe_pre)} {est.unit or ''}".rstrip() + "; after the change the gap's RMSPE is "
            f"{_fmt(est.rmspe_ratio)} times that.")
    if est.diagnostics.get("poor_fit"):
        sec.say("**Caution: the comparison does not fit well before the change.** "
                + str(est.diagnostics.get("fit_warning", "")) + " The estimate below should not be relied on.")
    ev.add_table(sec, "Donor weights of the synthetic comparison", donor_table(est), counts=[],
                 labels={"authority": "Comparison authority"},
                 row="One row per comparison authority (weights in % sum to 100); authorities with no weight "
                     "are not listed.")
    sec.figures.append((f"{est.treated_name or est.treated_unit} and its synthetic comparison", est.plot().figure))


def step7(ev: Evaluation, sec: Section, est: Any) -> None:
    """The gap to the synthetic comparison month by month, the placebos behind it."""
    sec.figures.append(("Gap to the synthetic comparison by month (placebos in grey)", est.plot_gap().figure))


def step8(ev: Evaluation, sec: Section, est: Any) -> None:
    """Placebo-in-space distribution and the authority's rank in it."""
    table = placebo_table(est)
    if not len(table):
        sec.say("*No placebo test was run for the synthetic control.*")
        return
    n = len(table)
    rank = int(est.rank) if est.rank else int(table.loc[table["treated"], "rank"].iloc[0])
    sec.say(f"**Placebo test.** Each of the {n - 1} comparison authorities was treated in turn as if it had "
            f"changed its model on the same date. {est.treated_name or est.treated_unit} ranks {rank} of {n} by "
            f"how much its gap grew after the change (post/pre RMSPE ratio); a rank this high or higher would "
            f"arise by chance in {100 * est.pvalue:.0f}% of such comparisons (permutation p = {est.pvalue:.2f}).")
    shown = table.assign(**{"this authority": np.where(table["treated"], "yes", "")}).drop(columns="treated")
    top = shown.head(10)
    if rank > 10:
        top = pd.concat([top, shown[shown["rank"] == rank]], ignore_index=True)
    top["estimate"] = top["estimate"].map(_fmt)
    top["post/pre RMSPE ratio"] = top["post/pre RMSPE ratio"].map(_fmt)
    ev.add_table(sec, "Placebo test: the ten largest post/pre gap ratios", top, counts=[],
                 labels={"authority": "Authority", "this authority": "The authority evaluated"},
                 row="One row per authority treated as if it had changed (rank 1 = the largest gap ratio).")
