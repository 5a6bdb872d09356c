"""What the write-up says about each built-in design, and the data contract's default columns.

Shared by :mod:`ehimpact.report.evaluation` (which runs the designs), :mod:`ehimpact.report.steps`
(which writes the sections) and :mod:`ehimpact.report.planning` (power), so none of them imports
another for these constants.  A plug-in design brings its own words in its
:class:`~ehimpact.estimators.registry.EstimatorSpec` (``rationale``).
"""

from __future__ import annotations

__all__ = ["DEFAULT_COVARIATES", "CONTRACT_ROLES", "WHY_DESIGN"]

DEFAULT_COVARIATES = [
    "age", "sex", "ethnicity", "disability_sen", "fsm", "prior_contacts",
    "tf_crime", "tf_school", "tf_children_need_help", "tf_worklessness", "tf_domestic_abuse", "tf_health",
]
#: the data contract's column for each estimator role, by the design's data level
#: (docs/DATA_CONTRACT.md); a config's ``design.roles`` maps a role to another column
CONTRACT_ROLES: dict[str, dict[str, str]] = {
    "child": {"treatment": "received_early_help", "unit": "child_id", "cluster": "family_id",
              "time": "index_date"},
    "panel": {"unit": "authority_code", "time": "period", "treatment": "adopted",
              "first_treated": "first_treated", "cluster": "authority_code", "offset": "population_0_17"},
    "series": {"time": "period", "offset": "population_0_17"},
}

WHY_DESIGN = {
    "match": "Supported children are compared with similar children who were assessed but not supported "
             "(propensity-score matching on their characteristics and history), as the national Troubled "
             "Families evaluations did. It relies on the comparison children being alike in everything that "
             "drives both support and outcomes that the data record.",
    "weight": "Supported and comparison children are reweighted so their recorded characteristics match "
              "(inverse-probability and doubly-robust weighting). It relies on no unrecorded differences "
              "driving both support and outcomes.",
    "did_2x2": "The change in this authority's rates after the new model started is compared with the change "
               "over the same months in authorities that did not adopt it (difference-in-differences). It "
               "relies on the two groups having moved in parallel had the model not started.",
    "twfe": "Two-way fixed effects compares authorities before and after adoption, controlling for fixed "
            "differences between authorities and common shocks over time.",
    "event_study": "An event study traces the effect month by month around adoption, and tests whether adopters "
                   "were already diverging before they adopted (pre-trends).",
    "staggered_did": "Authorities adopted the new model at different times, so each adoption cohort is compared "
                     "with authorities that had not (yet) adopted (Callaway and Sant'Anna), avoiding the bias "
                     "of two-way fixed effects with staggered adoption.",
    "its": "The authority's own monthly series before the change predicts what would have happened without it "
           "(interrupted time series with trend and seasonality).",
    "synthetic_control": "The authority's monthly series is compared with a weighted combination of comparison "
                         "authorities (its statistical neighbours, or the other authorities in the panel) whose "
                         "path before the change matched its own (synthetic difference-in-differences, "
                         "Arkhangelsky et al. 2021). It relies on no other change hitting this authority alone "
                         "at the same time.",
}
