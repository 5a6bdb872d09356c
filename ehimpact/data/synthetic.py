"""A synthetic region: child-level episodes, statutory events, an authority panel, and the truth.

Everything here is made up.  Every table carries ``synthetic=True`` and every file
written says so, so nothing generated here can be mistaken for a real child's record.

The generator exists so that the estimators, the reports and the demo can be checked
against a known answer.  It is built to be *hard in the way real data is hard*:

* **Selection on observables.**  Families with more Troubled Families problems, free
  school meals and more prior contacts are both more likely to be supported by early help
  and more likely to reach children's social care.  A naive supported-vs-comparison
  difference is therefore biased (it hides the benefit); adjusting for the observed
  confounders (age, sex-free risk terms, disability/SEN, FSM, prior contacts, the six TF
  flags, authority) recovers the truth, because treatment depends on nothing else.
* **Small planted effects**, heterogeneous by authority, of the size the 2019 national
  Troubled Families evaluation found (looked after at 24 months about 2.5% -> 1.7%;
  DOMAIN.md section 3.3), set on the log-odds scale.
* **Outcomes come from events.**  Each binary outcome flag is derived from the
  :data:`events` table by :func:`derive_flags` with the window rule of
  ``docs/DATA_CONTRACT.md``; some events deliberately fall just outside the windows.
* **Staggered adoption** of a new early-help model in the authority x month panel, with
  dynamic effects that build up over the first year, seasonality and noise.

Potential outcomes are drawn with common random numbers, so each child has both
``Y(0)`` and ``Y(1)``; the *sample* ATT (``truth["child_att"]``, and per authority
``truth["child_att_by_authority"]``) is the mean of ``Y(1) - Y(0)`` over supported
children, and ``truth["child_att_expected"]`` (``..._by_authority_expected``) is the mean
of ``P(Y(1)=1 | X) - P(Y(0)=1 | X)`` over them: the population value for children like
these, which an unbiased estimator targets on average over outcome noise.  Outcomes with
an age limit are averaged over eligible supported children only (absence and exclusion:
aged 5+; youth justice entry: aged 10+).

Panel truth (``truth["panel_att"]``) is on the rate scale (per 10,000 children): the
difference between the expected rates with and without the new model, averaged over the
authorities of a cohort at each event time; ``panel_att_overall`` averages it over every
adopted authority-month.

The ``events`` table (one row per event, sorted by child and date) has the contract columns
``child_id, authority_code, event_type, event_date`` plus the detail the statutory writers
need: ``referral_source_code`` (CIN census ReferralSource code, csc_referral),
``primary_need_code`` (N1-N8, csc_referral and cla_start), ``category_of_abuse``
(NEG/EMO/PHY/SAB/MUL, cpp_start), and for cla_start the SSDA903 ``rne`` (always "S"),
``legal_status`` (LS) and ``placement`` (PLACE).  Consistency: every s47 follows a
csc_referral, every cpp_start follows an s47 and has a later cpp_end, every cla_start
follows a csc_referral; every child has one eh_referral on its referral_date.

Examples
--------
>>> from ehimpact.data import synthetic
>>> reg = synthetic.region(n_authorities=3, children_per_authority=500, seed=1)
>>> bool(reg.children["synthetic"].all())
True
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ehimpact.errors import InputError

__all__ = [
    "SyntheticRegion",
    "region",
    "write_region",
    "derive_flags",
    "OUTCOME_WINDOWS",
    "EVENT_TYPES",
    "PANEL_COUNTS",
]

#: Event-based binary outcomes: flag -> (event_type, follow-up window in months); one definition,
#: shared with the statutory readers.
from ehimpact.data.outcomes import OUTCOME_WINDOWS  # noqa: E402

EVENT_TYPES = ("eh_referral", "csc_referral", "s47", "cpp_start", "cpp_end", "cla_start")

#: Panel count columns (DATA_CONTRACT section 3); each has a ``<name>_rate`` per 10,000.
PANEL_COUNTS = ("referrals", "re_referrals", "cin", "s47", "cpp_starts", "cla", "eh_assessments")

TF_FLAGS = (
    "tf_crime",
    "tf_school",
    "tf_children_need_help",
    "tf_worklessness",
    "tf_domestic_abuse",
    "tf_health",
)

# Log-odds effects of early help at the average authority (multiplied per authority by a
# factor drawn from U(0.3, 1.7)).  The CSC-referral chain is staged: referral, then s47
# given referral, then CPP given s47, so the s47 and CPP effects are the product of the
# stages.  CPP given s47 is *raised* by early help (more need is uncovered), as the 2019
# national evaluation found at 7-18 months.
_LOGIT_EFFECTS = {
    "reref_eh": -0.14,
    "csc": -0.20,
    "s47_given_csc": -0.05,
    "cpp_given_s47": 0.10,
    "cla": -0.42,
    "exclusion": -0.15,
    "yj": -0.20,
}
_ABSENCE_EFFECT = -1.5  # percentage points of sessions missed

# Dynamic panel effects on the log rate: full effect reached after `ramp` months.
_PANEL_EFFECTS: dict[str, tuple[float, int]] = {
    "referrals": (-0.08, 12),
    "re_referrals": (-0.10, 12),
    "s47": (-0.05, 12),
    "cpp_starts": (-0.04, 12),
    "cin": (-0.04, 18),
    "cla": (-0.03, 24),
    "eh_assessments": (0.15, 3),
}
# Baseline monthly rates per 10,000 children (cin, cla: stock per 10,000 at month end).
_PANEL_BASE = {
    "referrals": 45.0,
    "s47": 14.0,
    "cpp_starts": 4.3,
    "cin": 330.0,
    "cla": 70.0,
    "eh_assessments": 26.0,
}


@dataclass(eq=False)
class SyntheticRegion:
    """A generated region: the tables of ``docs/DATA_CONTRACT.md`` plus the truth.

    Attributes
    ----------
    children : DataFrame
        One row per child early-help episode or comparison child (contract section 1).
    events : DataFrame
        Statutory and local events behind the outcomes (contract section 2).
    panel : DataFrame
        Authority x month panel with staggered adoption (contract section 3).
    authorities : DataFrame
        The reference rows (real codes and names) the region was built on.
    truth : dict
        ``child_att``, ``child_att_expected``, ``child_att_by_authority``,
        ``panel_att``, ``panel_att_overall`` and the planted parameters.
    metadata : dict
        Seed, arguments, dates, and ``synthetic: True``.
    """

    children: pd.DataFrame
    events: pd.DataFrame
    panel: pd.DataFrame
    authorities: pd.DataFrame
    truth: dict[str, Any]
    metadata: dict[str, Any] = field(default_factory=dict)

    def write(self, out_dir: str | Path, *, format: str = "csv") -> dict[str, Path]:
        """Write the tables, the truth and the metadata to a folder.

        Parameters
        ----------
        out_dir : str or Path
            Folder to write into (created if needed).
        format : {"csv", "parquet"}, default "csv"
            File format of the four tables.

        Returns
        -------
        dict
            Table name -> path written (``children``, ``events``, ``panel``,
            ``authorities``, ``truth``, ``metadata``, ``readme``).
        """
        if format not in ("csv", "parquet"):
            raise InputError(
                f"unknown format {format!r}", field="format", fix='use "csv" or "parquet"'
            )
        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        paths: dict[str, Path] = {}
        for name in ("children", "events", "panel", "authorities"):
            frame: pd.DataFrame = getattr(self, name)
            path = out / f"synthetic_{name}.{format}"
            if format == "csv":
                frame.to_csv(path, index=False, date_format="%Y-%m-%d")
            else:
                frame.to_parquet(path, index=False)
            paths[name] = path
        from ehimpact.jsonsafe import json_safe

        paths["truth"] = out / "synthetic_truth.json"
        paths["truth"].write_text(json.dumps(json_safe(self.truth), indent=2))
        paths["metadata"] = out / "synthetic_metadata.json"
        paths["metadata"].write_text(json.dumps(json_safe(self.metadata), indent=2))
        paths["readme"] = out / "README_SYNTHETIC.txt"
        paths["readme"].write_text(
            "SYNTHETIC DATA generated by ehimpact.data.synthetic.region "
            f"(seed {self.metadata.get('seed')}). No row describes a real child or family; "
            "authority codes and names are real but every count, date and outcome is made up.\n"
        )
        return paths


# --------------------------------------------------------------------------------------
# flags from events: the one place the window rule lives
# --------------------------------------------------------------------------------------


def derive_flags(children: pd.DataFrame, events: pd.DataFrame, rules: Any = None) -> pd.DataFrame:
    """Derive the event-based outcome flags from an events table.

    An event counts for an outcome with a window of N months when
    ``index_date <= event_date <= index_date + N calendar months``
    (``pandas.DateOffset(months=N)``; an event on the index date counts, see
    :mod:`ehimpact.data.outcomes`); events are matched to children on ``child_id``
    (one episode per child).  The flags and windows are in :data:`OUTCOME_WINDOWS`.

    Parameters
    ----------
    children : DataFrame
        Needs ``child_id`` and ``index_date``.
    events : DataFrame
        Needs ``child_id``, ``event_type`` and ``event_date``.
    rules : OutcomeRules, optional
        Window start and extract date (:class:`ehimpact.data.outcomes.OutcomeRules`).

    Returns
    -------
    DataFrame
        Same index as ``children``; one 0/1 int8 column per flag in
        :data:`OUTCOME_WINDOWS` (nullable Int8 when a flag is unobserved: an open
        episode, or a window passing the extract date).

    Examples
    --------
    >>> kids = pd.DataFrame({"child_id": ["a"], "index_date": pd.to_datetime(["2020-01-31"])})
    >>> ev = pd.DataFrame({"child_id": ["a", "a"], "event_type": ["s47", "cla_start"],
    ...                    "event_date": pd.to_datetime(["2021-01-31", "2020-01-31"])})
    >>> derive_flags(kids, ev)[["s47_12m", "cla_24m"]].iloc[0].tolist()
    [1, 1]
    """
    for frame, cols, arg in (
        (children, ("child_id", "index_date"), "children"),
        (events, ("child_id", "event_type", "event_date"), "events"),
    ):
        missing = [c for c in cols if c not in frame.columns]
        if missing:
            raise InputError(
                f"missing column(s) {', '.join(missing)}",
                field=arg,
                fix="pass the tables described in docs/DATA_CONTRACT.md",
            )
    if children["child_id"].duplicated().any():
        dup = children.index[children["child_id"].duplicated(keep=False)]
        raise InputError(
            "child_id is not unique; flags are matched to children on child_id",
            field="child_id",
            rows=list(dup[:10]),
            fix="keep one episode per child, or derive flags per episode separately",
        )
    # one derivation for generated and real data: the statutory readers' (ehimpact.data.outcomes)
    from ehimpact.data.outcomes import derive_flags as _derive

    flags = _derive(children, events, rules)
    return flags if flags.isna().any().any() else flags.astype(np.int8)


# --------------------------------------------------------------------------------------
# the generator
# --------------------------------------------------------------------------------------


def _expit(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


def _choice(rng: np.random.Generator, values: list[str], p: list[float], n: int) -> np.ndarray:
    p_arr = np.asarray(p, dtype=float)
    return np.asarray(values, dtype=object)[rng.choice(len(values), size=n, p=p_arr / p_arr.sum())]


def _days(rng: np.random.Generator, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """Uniform integer days in [lo, hi] (elementwise; hi >= lo)."""
    return lo + np.floor(rng.random(lo.shape) * (hi - lo + 1)).astype(np.int64)


def _window_days(index_days: np.ndarray, months: int) -> np.ndarray:
    """Days from index date to index date + N calendar months."""
    start = index_days.astype("datetime64[D]")
    end = (pd.DatetimeIndex(start) + pd.DateOffset(months=months)).to_numpy()
    return (end.astype("datetime64[D]") - start).astype(np.int64)


def _select_authorities(
    region_code: str, n_authorities: int | None, authorities: pd.DataFrame | None
) -> pd.DataFrame:
    from ehimpact.data import authorities as la

    table = la.region(region_code) if authorities is None else authorities.reset_index(drop=True)
    if n_authorities is None:
        return table
    if not isinstance(n_authorities, int | np.integer) or n_authorities < 1:
        raise InputError(
            f"n_authorities must be a positive whole number, got {n_authorities!r}",
            field="n_authorities",
            fix=f"use 1 to {len(table)}",
        )
    if n_authorities > len(table):
        raise InputError(
            f"the region has {len(table)} authorities, {n_authorities} were asked for",
            field="n_authorities",
            fix=f"use at most {len(table)}, or choose a larger region (region_code)",
        )
    return table.iloc[:n_authorities].reset_index(drop=True)


def _children(
    rng: np.random.Generator,
    las: pd.DataFrame,
    children_per_authority: int,
    start: np.datetime64,
    intake_months: int,
    effect_multiplier: np.ndarray,
    *,
    step_up_same_day_share: float = 0.0,
    extract: pd.Timestamp | None = None,
    extra_rng: np.random.Generator | None = None,
    effect_scale: float = 1.0,
) -> tuple[pd.DataFrame, pd.DataFrame, dict[str, Any]]:
    n_la = len(las)
    n = n_la * children_per_authority
    la_idx = np.repeat(np.arange(n_la), children_per_authority)

    # families of 1-3 children within an authority share referral, problems and support
    fam_size = rng.choice([1, 2, 3], size=n, p=[0.55, 0.30, 0.15])
    fam_start = np.zeros(n, dtype=bool)
    ends = np.cumsum(fam_size)
    ends = ends[ends < n]
    fam_start[0] = True
    fam_start[ends] = True
    fam_start[np.arange(0, n, children_per_authority)] = True  # no family spans authorities
    fam = np.cumsum(fam_start) - 1
    n_fam = fam[-1] + 1
    fam_la = la_idx[fam_start]

    # family-level characteristics, correlated through a latent need (never used directly)
    need = rng.normal(size=n_fam)
    tf_base = np.array([-1.9, -1.2, -0.6, -1.0, -1.1, -1.2])
    tf = (rng.normal(size=(n_fam, 6)) * 1.1 + tf_base + 0.8 * need[:, None]) > 0
    fsm_f = rng.random(n_fam) < _expit(-0.7 + 0.6 * need)
    eth_f = _choice(
        rng, ["white", "mixed", "asian", "black", "other", "unknown"],
        [0.74, 0.07, 0.09, 0.05, 0.02, 0.03], n_fam,
    )
    intake_days = int(
        (pd.Timestamp(start) + pd.DateOffset(months=intake_months) - pd.Timestamp(start)).days
    )
    referral_f = start.astype("datetime64[D]").astype(np.int64) + rng.integers(
        0, intake_days, n_fam
    )
    source_f = _choice(
        rng, ["school", "health", "police", "self_family", "la_services", "other"],
        [0.30, 0.16, 0.14, 0.12, 0.18, 0.10], n_fam,
    )

    # child-level characteristics
    age = rng.choice(18, size=n, p=_age_probs())
    sex = _choice(rng, ["female", "male", "other_unknown"], [0.485, 0.500, 0.015], n)
    disability = rng.random(n) < _expit(-1.6 + 0.3 * need[fam] + 0.2 * (age >= 5))
    prior = rng.poisson(np.exp(-0.4 + 0.5 * need[fam]))
    tf_c = tf[fam]
    fsm = fsm_f[fam]
    n_tf = tf_c.sum(axis=1)
    prior_c = np.minimum(prior, 6)

    # selection into early help: observed family problems, FSM, the children's contacts
    # and ages (all observed; nothing unobserved drives both support and outcomes)
    fam_n = np.bincount(fam, minlength=n_fam)
    fam_prior = np.bincount(fam, weights=prior_c, minlength=n_fam) / fam_n
    fam_age = np.bincount(fam, weights=age, minlength=n_fam) / fam_n  # younger: more support
    la_sel = rng.normal(0.0, 0.3, n_la)
    fam_n_tf = tf.sum(axis=1)
    treat_f = rng.random(n_fam) < _expit(
        -0.6 + la_sel[fam_la] + 0.30 * fam_n_tf + 0.45 * fsm_f + 0.30 * fam_prior
        - 0.04 * fam_age
    )
    treated = treat_f[fam]

    # outcome risk (a function of observed confounders only)
    la_risk = rng.normal(0.0, 0.2, n_la)[la_idx]
    base = (
        0.20 * prior_c + 0.25 * n_tf + 0.35 * fsm + 0.25 * disability + la_risk
    )
    mult = effect_multiplier[la_idx] * effect_scale  # (x 1.0 is exact: the defaults are unchanged)
    u = rng.random((n, 8))  # common random numbers for the potential outcomes

    def pot(logit0: np.ndarray, effect: float, ucol: int) -> tuple[np.ndarray, ...]:
        p0 = _expit(logit0)
        p1 = _expit(logit0 + effect * mult)
        return p0, p1, u[:, ucol] < p0, u[:, ucol] < p1

    young = (age < 1).astype(float)
    teen = (age >= 10).astype(float)
    l_reref = -1.85 + 0.6 * base + 0.2 * tf_c[:, 2]
    l_csc = -1.90 + 0.9 * base + 0.4 * tf_c[:, 4] + 0.3 * young
    l_s47 = -0.85 + 0.3 * tf_c[:, 4] + 0.2 * young + 0.05 * prior_c
    l_cpp = 0.70 + 0.3 * young - 0.04 * age
    l_cla = -4.40 + 0.9 * base + 0.9 * young + 0.4 * tf_c[:, 4] + 0.15 * teen
    l_excl = -3.2 + 0.6 * base + 0.7 * tf_c[:, 1] + 0.5 * ((age >= 11) & (age <= 15))
    l_yj = -4.1 + 0.6 * base + 1.1 * tf_c[:, 0] + 0.4 * (sex == "male")

    e = _LOGIT_EFFECTS
    p0_reref, p1_reref, y0_reref, y1_reref = pot(l_reref, e["reref_eh"], 0)
    p0_csc, p1_csc, y0_csc, y1_csc = pot(l_csc, e["csc"], 1)
    q0, q1, z0, z1 = pot(l_s47, e["s47_given_csc"], 2)
    r0, r1, w0, w1 = pot(l_cpp, e["cpp_given_s47"], 3)
    y0_s47, y1_s47 = y0_csc & z0, y1_csc & z1
    y0_cpp, y1_cpp = y0_s47 & w0, y1_s47 & w1
    p0_cla, p1_cla, y0_cla, y1_cla = pot(l_cla, e["cla"], 4)
    p0_ex, p1_ex, y0_ex, y1_ex = pot(l_excl, e["exclusion"], 5)
    p0_yj, p1_yj, y0_yj, y1_yj = pot(l_yj, e["yj"], 6)
    absence0 = np.clip(
        9.0 + 1.2 * base + 4.0 * tf_c[:, 1] + 0.4 * np.maximum(age - 10, 0)
        + rng.normal(0, 3.0, n), 0, 100,
    )
    absence1 = np.clip(absence0 + _ABSENCE_EFFECT * mult, 0, 100)

    potential = {
        "reref_eh_12m": (p0_reref, p1_reref, y0_reref, y1_reref),
        "csc_referral_12m": (p0_csc, p1_csc, y0_csc, y1_csc),
        "s47_12m": (p0_csc * q0, p1_csc * q1, y0_s47, y1_s47),
        "cpp_12m": (p0_csc * q0 * r0, p1_csc * q1 * r1, y0_cpp, y1_cpp),
        "cla_24m": (p0_cla, p1_cla, y0_cla, y1_cla),
        "exclusion_12m": (p0_ex, p1_ex, y0_ex, y1_ex),
        "yj_entry_24m": (p0_yj, p1_yj, y0_yj, y1_yj),
        "absence_rate": (absence0, absence1, absence0, absence1),
    }
    observed = {k: np.where(treated, v[3], v[2]) for k, v in potential.items()}

    # dates (integer days since the epoch)
    referral = referral_f[fam]
    assess_f = referral_f + rng.integers(5, 46, n_fam)
    start_f = assess_f + rng.integers(0, 21, n_fam)
    end_f = start_f + np.clip(np.round(rng.gamma(4.0, 45.0, n_fam)), 42, 365).astype(np.int64)
    assessment = assess_f[fam]
    ep_start = start_f[fam]
    ep_end = end_f[fam]
    # comparison children: index = referral + median supported episode length in the authority
    length = ep_end - referral
    med = np.zeros(n_la)
    for a in range(n_la):
        sel = treated & (la_idx == a)
        med[a] = np.median(length[sel]) if sel.any() else np.median(length[la_idx == a])
    index = np.where(treated, ep_end, referral + np.round(med[la_idx]).astype(np.int64))

    intervention = np.where(
        treated,
        _choice(
            rng, ["key_worker", "parenting_programme", "family_hub", "targeted_youth"],
            [0.45, 0.25, 0.20, 0.10], n,
        ),
        "none",
    )
    intervention = np.where(treated & (intervention == "targeted_youth") & (age < 11),
                            "key_worker", intervention)

    ids = np.char.add("C", np.char.zfill(np.arange(1, n + 1).astype(str), 7))
    fam_ids = np.char.add("F", np.char.zfill((fam + 1).astype(str), 7))
    codes = las["gss_code"].to_numpy()

    def as_date(days: np.ndarray) -> np.ndarray:
        return days.astype("datetime64[D]").astype("datetime64[ns]")

    nat = np.datetime64("NaT", "ns")
    children = pd.DataFrame(
        {
            "child_id": ids.astype(object),
            "family_id": fam_ids.astype(object),
            "authority_code": codes[la_idx],
            "referral_date": as_date(referral),
            "assessment_date": as_date(assessment),
            "start_date": np.where(treated, as_date(ep_start), nat),
            "end_date": np.where(treated, as_date(ep_end), nat),
            "index_date": as_date(index),
            "received_early_help": treated.astype(np.int8),
            "intervention_type": intervention,
            "referral_source": source_f[fam],
            "age": age.astype(np.int64),
            "sex": sex,
            "ethnicity": eth_f[fam],
            "disability_sen": disability.astype(np.int8),
            "fsm": fsm.astype(np.int8),
            "prior_contacts": prior.astype(np.int64),
        }
    )
    for j, name in enumerate(TF_FLAGS):
        children[name] = tf_c[:, j].astype(np.int8)

    events = _events(rng, children, index, referral, observed, codes[la_idx], ids)
    rules = None
    # follow-up observed by the extract (all True without an extract date), per window length
    complete = {m: np.ones(n, dtype=bool) for m in (12, 24)}
    if step_up_same_day_share > 0:
        events = _same_day_step_ups(extra_rng, events, children, step_up_same_day_share)
    if extract is not None:
        from ehimpact.data.outcomes import OutcomeRules

        rules = OutcomeRules(extract_date=extract)
        events = events.loc[events["event_date"] <= extract].reset_index(drop=True)
        open_ep = treated & (children["end_date"] > extract).to_numpy()
        children.loc[open_ep, "end_date"] = pd.NaT  # still open at the extract: no closure recorded
        children.loc[open_ep, "index_date"] = pd.NaT
        for m in complete:
            ends = pd.DatetimeIndex(children["index_date"]) + pd.DateOffset(months=m)
            complete[m] = np.asarray(ends <= extract) & ~open_ep

    # event-based flags come from the events, through the one derivation function
    flags = derive_flags(children, events, rules)
    for col in OUTCOME_WINDOWS:
        seen = flags[col].notna().to_numpy()
        if not np.array_equal(flags[col].to_numpy()[seen].astype(np.int8), observed[col][seen].astype(np.int8)):
            raise RuntimeError(f"synthetic events do not reproduce {col}: generator bug")
        children[col] = flags[col]
    children["absence_rate"] = np.where((age >= 5) & complete[12], np.round(observed["absence_rate"], 1),
                                        np.nan)
    exclusion = np.where(age >= 5, observed["exclusion_12m"], 0).astype(np.int8)
    children["exclusion_12m"] = exclusion if extract is None else pd.array(
        np.where(complete[12], exclusion.astype(float), np.nan), dtype="Int8")
    children["yj_entry_24m"] = pd.array(
        np.where((age >= 10) & complete[24], observed["yj_entry_24m"].astype(float), np.nan), dtype="Int8"
    )
    children["synthetic"] = True

    # truth among supported children (yj: aged 10+; absence: aged 5+)
    eligible = {
        "absence_rate": age >= 5,
        "exclusion_12m": age >= 5,
        "yj_entry_24m": age >= 10,
    }
    att, att_exp, rows, rows_exp = {}, {}, [], []
    att_obs, att_exp_obs, n_obs = {}, {}, {}
    months_of = {**{k: m for k, (_, m) in OUTCOME_WINDOWS.items()}, "absence_rate": 12,
                 "exclusion_12m": 12, "yj_entry_24m": 24}
    for name, (p0, p1, y0, y1) in potential.items():
        if name == "exclusion_12m":  # no exclusions under 5 in either world
            y0, y1, p0, p1 = (np.where(age >= 5, x, 0) for x in (y0, y1, p0, p1))
        keep = treated & eligible.get(name, np.ones(n, dtype=bool))
        att[name] = float(np.mean(y1[keep].astype(float) - y0[keep]))
        att_exp[name] = float(np.mean(p1[keep] - p0[keep]))
        seen = keep & complete[months_of[name]]  # supported children whose follow-up the extract covers
        n_obs[name] = int(seen.sum())
        att_obs[name] = float(np.mean(y1[seen].astype(float) - y0[seen])) if seen.any() else float("nan")
        att_exp_obs[name] = float(np.mean(p1[seen] - p0[seen])) if seen.any() else float("nan")
        by = pd.Series(y1[keep].astype(float) - y0[keep]).groupby(codes[la_idx][keep]).mean()
        rows.append(by.rename(name))
        by_exp = pd.Series(p1[keep] - p0[keep]).groupby(codes[la_idx][keep]).mean()
        rows_exp.append(by_exp.rename(name))
    by_la = pd.concat(rows, axis=1).reindex(codes)
    by_la.index.name = "authority_code"
    by_la_exp = pd.concat(rows_exp, axis=1).reindex(codes)
    by_la_exp.index.name = "authority_code"
    truth = {
        "child_att": att,
        "child_att_expected": att_exp,
        "child_att_by_authority": by_la,
        "child_att_by_authority_expected": by_la_exp,
        "child_effect_multiplier": dict(zip(codes, effect_multiplier.tolist(), strict=True)),
        "child_logit_effects": dict(_LOGIT_EFFECTS),
        "child_absence_effect": _ABSENCE_EFFECT,
    }
    if extract is not None:  # the target an analysis of the observed children estimates
        truth.update(child_att_observed=att_obs, child_att_expected_observed=att_exp_obs,
                     child_n_supported_observed=n_obs,
                     child_open_episodes=int((treated & children["end_date"].isna().to_numpy()).sum()))
    if step_up_same_day_share > 0:
        same_day = events.merge(children[["child_id", "index_date", "received_early_help"]], on="child_id")
        same_day = same_day[(same_day["event_type"] == "csc_referral")
                            & (same_day["event_date"] == same_day["index_date"])
                            & (same_day["received_early_help"] == 1)]
        truth["child_step_ups_same_day"] = int(same_day["child_id"].nunique())
    return children, events, truth


def _same_day_step_ups(rng: np.random.Generator, events: pd.DataFrame, children: pd.DataFrame,
                       share: float) -> pd.DataFrame:
    """Move a share of supported children's in-window CSC referrals onto the closure day (a step-up)."""
    kids = children.loc[children["received_early_help"] == 1, ["child_id", "index_date"]]
    t0 = events["child_id"].map(kids.set_index("child_id")["index_date"])
    t1 = t0 + pd.DateOffset(months=12)
    rows = events.index[(events["event_type"] == "csc_referral") & t0.notna()
                        & (events["event_date"] > t0) & (events["event_date"] <= t1)]
    moved = rows[rng.random(len(rows)) < share]
    out = events.copy()
    out.loc[moved, "event_date"] = t0[moved]
    out = out.sort_values(["child_id", "event_date", "event_type"], kind="stable")
    return out.reset_index(drop=True)


def _age_probs() -> np.ndarray:
    w = np.array([9, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 5, 4, 3], dtype=float)
    return w / w.sum()


def _events(
    rng: np.random.Generator,
    children: pd.DataFrame,
    index: np.ndarray,
    referral: np.ndarray,
    observed: dict[str, np.ndarray],
    la_codes: np.ndarray,
    ids: np.ndarray,
) -> pd.DataFrame:
    n = len(children)
    w12 = _window_days(index, 12)
    w24 = _window_days(index, 24)
    one = np.ones(n, dtype=np.int64)
    parts: list[dict[str, Any]] = []

    def add(mask: np.ndarray, etype: str, days: np.ndarray, **detail: Any) -> None:
        row = {"child_id": ids[mask], "authority_code": la_codes[mask], "event_type": etype,
               "event_date": days[mask]}
        for key, value in detail.items():
            row[key] = value[mask] if isinstance(value, np.ndarray) else value
        parts.append(row)

    # early help: the referral itself, and re-referrals after the index date
    add(np.ones(n, dtype=bool), "eh_referral", referral)
    reref = observed["reref_eh_12m"].astype(bool)
    add(reref, "eh_referral", index + _days(rng, one, w12))
    late = ~reref & (rng.random(n) < 0.06)  # re-referred after the 12-month window
    add(late, "eh_referral", index + _days(rng, w12 + 1, w24))

    # CSC referral -> s47 -> CPP chain within 12 months
    csc = observed["csc_referral_12m"].astype(bool)
    csc_day = index + _days(rng, one, w12)
    need_codes = _choice(rng, ["N1", "N2", "N3", "N4", "N5", "N6", "N7", "N8"],
                         [0.55, 0.03, 0.04, 0.14, 0.17, 0.02, 0.01, 0.04], n)
    ref_codes = _choice(
        rng, ["6", "2A", "3F", "3C", "5A", "5D", "1A", "8", "3A", "4", "10"],
        [0.28, 0.20, 0.08, 0.06, 0.10, 0.08, 0.06, 0.06, 0.04, 0.02, 0.02], n,
    )
    add(csc, "csc_referral", csc_day, referral_source_code=ref_codes, primary_need_code=need_codes)
    # decoys: CSC referrals during the episode (before the index date: an event on it counts)
    before = ~csc & (rng.random(n) < 0.05) & (index - referral > 1)
    add(before, "csc_referral", _days(rng, referral + 1, index - 1), referral_source_code="5D",
        primary_need_code=need_codes)
    s47 = observed["s47_12m"].astype(bool)
    s47_day = _days(rng, csc_day, index + w12)
    add(s47, "s47", s47_day)
    cpp = observed["cpp_12m"].astype(bool)
    cpp_day = _days(rng, s47_day, index + w12)
    abuse = _choice(rng, ["NEG", "EMO", "PHY", "SAB", "MUL"], [0.50, 0.35, 0.08, 0.04, 0.03], n)
    add(cpp, "cpp_start", cpp_day, category_of_abuse=abuse)
    cpp_end = cpp_day + rng.integers(90, 541, n)
    add(cpp, "cpp_end", cpp_end)

    # looked after within 24 months: always after a CSC referral; when the child was not
    # referred within 12 months, the referral and the care episode both fall in months 13-24
    cla = observed["cla_24m"].astype(bool)
    late_ref = cla & ~csc
    late_ref_day = index + _days(rng, w12 + 1, w24 - 1)
    add(late_ref, "csc_referral", late_ref_day, referral_source_code=ref_codes,
        primary_need_code=need_codes)
    cla_from = np.where(csc, csc_day, late_ref_day)
    cla_day = _days(rng, cla_from, index + w24)
    ls = _choice(rng, ["V2", "C1", "C2", "E1", "L1", "J2"], [0.45, 0.34, 0.12, 0.03, 0.03, 0.03], n)
    place = _choice(rng, ["U1", "U3", "U4", "U6", "K2", "P1", "R1", "H5"],
                    [0.15, 0.10, 0.35, 0.15, 0.10, 0.05, 0.05, 0.05], n)
    add(cla, "cla_start", cla_day, rne="S", legal_status=ls, placement=place,
        primary_need_code=need_codes)

    frames = [pd.DataFrame(p) for p in parts if len(p["child_id"])]
    events = pd.concat(frames, ignore_index=True)
    events["event_date"] = events["event_date"].to_numpy().astype("datetime64[D]").astype(
        "datetime64[ns]"
    )
    detail = ["referral_source_code", "primary_need_code", "category_of_abuse", "rne",
              "legal_status", "placement"]
    for col in detail:
        if col not in events:
            events[col] = None
    events = events[["child_id", "authority_code", "event_type", "event_date", *detail]]
    events = events.sort_values(["child_id", "event_date", "event_type"], kind="stable")
    events = events.reset_index(drop=True)
    events["synthetic"] = True
    return events


def _panel(
    rng: np.random.Generator,
    las: pd.DataFrame,
    start: np.datetime64,
    months: int,
    cohorts: list[int],
    never_share: float,
) -> tuple[pd.DataFrame, dict[str, Any]]:
    n_la = len(las)
    periods = pd.date_range(pd.Timestamp(start), periods=months, freq="MS")
    month_idx = np.arange(months)

    # staggered adoption: shuffle authorities, ~never_share never adopt, the rest split
    order = rng.permutation(n_la)
    n_never = int(round(never_share * n_la))
    adopt_month = np.full(n_la, -1)
    adopters = order[n_never:]
    for k, a in enumerate(adopters):
        adopt_month[a] = cohorts[k % len(cohorts)]

    pop0 = np.exp(rng.normal(np.log(90_000), 0.6, n_la)).clip(20_000, 400_000)
    growth = rng.normal(0.003, 0.002, n_la)
    pop = np.round(pop0[:, None] * (1 + growth[:, None]) ** (month_idx[None, :] / 12)).astype(
        np.int64
    )
    moy = periods.month.to_numpy()
    season = 0.10 * np.cos(2 * np.pi * (moy - 10) / 12) - 0.15 * (moy == 8)  # August dip
    event_time = np.where(adopt_month[:, None] >= 0, month_idx[None, :] - adopt_month[:, None],
                          -10_000)
    adopted = (adopt_month[:, None] >= 0) & (event_time >= 0)

    cols: dict[str, np.ndarray] = {}
    lam0: dict[str, np.ndarray] = {}
    lam1: dict[str, np.ndarray] = {}
    period_shock = rng.normal(0, 0.03, months)
    for name in PANEL_COUNTS:
        if name == "re_referrals":
            continue
        la_eff = rng.normal(0, 0.25, n_la)
        trend = rng.normal(0.0, 0.02)
        stock = name in ("cin", "cla")
        seas = 0.0 if stock else season
        noise = rng.normal(0, 0.02 if stock else 0.05, (n_la, months))
        log0 = (np.log(_PANEL_BASE[name]) + la_eff[:, None] + trend * month_idx / 12
                + seas + period_shock[None, :] + noise)
        effect, ramp = _PANEL_EFFECTS[name]
        dyn = effect * np.clip((event_time + 1) / ramp, 0, 1) * adopted
        lam0[name] = np.exp(log0)
        lam1[name] = np.exp(log0 + dyn)
        cols[name] = rng.poisson(lam1[name] * pop / 10_000)
    # re-referrals: a share of this month's referrals (22% nationally, DOMAIN.md section 7)
    share0 = _expit(np.log(0.22 / 0.78) + rng.normal(0, 0.1, n_la))[:, None] * np.ones(months)
    eff, ramp = _PANEL_EFFECTS["re_referrals"]
    share1 = _expit(np.log(share0 / (1 - share0)) + eff * np.clip((event_time + 1) / ramp, 0, 1)
                    * adopted)
    cols["re_referrals"] = rng.binomial(cols["referrals"], share1)
    lam0["re_referrals"] = lam0["referrals"] * share0
    lam1["re_referrals"] = lam1["referrals"] * share1
    spend_per_child = rng.normal(9.0, 1.5, n_la).clip(4, 16)  # GBP per child per month
    spend = np.round(
        spend_per_child[:, None] * pop * (1 + 0.12 * adopted) * np.exp(rng.normal(0, 0.04,
                                                                        (n_la, months)))
    )

    codes = las["gss_code"].to_numpy()
    adoption_period = pd.DatetimeIndex(
        [periods[m] if m >= 0 else pd.NaT for m in adopt_month]
    ).to_numpy()
    panel = pd.DataFrame(
        {
            "authority_code": np.repeat(codes, months),
            "authority_name": np.repeat(las["name"].to_numpy(), months),
            "region_code": np.repeat(las["region_code"].to_numpy(), months),
            "period": np.tile(periods.to_numpy(), n_la),
            "population_0_17": pop.ravel(),
        }
    )
    for name in PANEL_COUNTS:
        panel[name] = cols[name].ravel().astype(np.int64)
    panel["eh_spend"] = spend.ravel()
    for name in PANEL_COUNTS:
        panel[f"{name}_rate"] = panel[name] / panel["population_0_17"] * 10_000
    panel["eh_spend_per_child"] = panel["eh_spend"] / panel["population_0_17"]
    panel["adoption_period"] = np.repeat(adoption_period, months)
    panel["adopted"] = adopted.ravel().astype(np.int8)
    panel["synthetic"] = True

    # truth on the rate scale (per 10,000): cohort x event time, and overall among adopters
    rows = []
    overall = {}
    for name in PANEL_COUNTS:
        diff = lam1[name] - lam0[name]
        overall[f"{name}_rate"] = float(diff[adopted].mean()) if adopted.any() else float("nan")
        for m in sorted(set(adopt_month[adopt_month >= 0])):
            members = adopt_month == m
            for t in range(months):
                rows.append(
                    {
                        "outcome": f"{name}_rate",
                        "cohort": periods[m],
                        "event_time": t - m,
                        "att": float(diff[members, t].mean()),
                        "n_authorities": int(members.sum()),
                    }
                )
    truth = {
        "panel_att": pd.DataFrame(rows),
        "panel_att_overall": overall,
        "panel_log_effects": {k: {"effect": v[0], "ramp_months": v[1]}
                              for k, v in _PANEL_EFFECTS.items()},
    }
    return panel, truth


def region(
    n_authorities: int | None = 19,
    seed: int = 0,
    *,
    children_per_authority: int = 2_000,
    months: int = 48,
    region_code: str = "E12000008",
    start: str = "2019-04-01",
    intake_months: int = 12,
    cohort_months: tuple[int, ...] = (12, 18, 24, 30),
    never_share: float = 0.25,
    authorities: pd.DataFrame | None = None,
    step_up_same_day_share: float = 0.0,
    extract_date: str | None = None,
    child_effect_scale: float = 1.0,
) -> SyntheticRegion:
    """Generate a synthetic region with a known answer.

    Parameters
    ----------
    n_authorities : int or None, default 19
        How many authorities of the region to use (first by GSS code); ``None`` for all.
    seed : int, default 0
        Seed of the NumPy generator; the same seed gives the same region.
    children_per_authority : int, default 2000
        Child rows per authority (supported and comparison children together).
    months : int, default 48
        Length of the authority x month panel.
    region_code : str, default "E12000008"
        Region whose real authority codes and names are used (South East: 19
        authorities, as in seed document 002).
    start : str, default "2019-04-01"
        First panel month and first day of child referrals.
    intake_months : int, default 12
        Children are referred over this many months from ``start``.
    cohort_months : tuple of int, default (12, 18, 24, 30)
        Months (from ``start``) at which adoption cohorts take up the new model.
    never_share : float, default 0.25
        Share of authorities that never adopt.
    authorities : DataFrame, optional
        Use these reference rows (``gss_code, name, region_code``) instead.
    step_up_same_day_share : float, default 0
        Share of supported children referred to social care within 12 months whose
        referral is moved onto the day early help closed (a same-day step-up, common
        in practice; counted by the default window rule, missed by the strict one).
        Draws from a separate random stream, so 0 leaves every default number as is.
    extract_date : str, optional
        Data extract date: events after it are dropped, supported episodes still open
        at it lose their end date (``open_episode``), and outcomes whose window ends
        after it are missing.  ``truth["child_att_expected_observed"]`` is then the
        target over the supported children whose follow-up the extract covers.  Must
        be on or after the end of the intake (``start + intake_months``).
    child_effect_scale : float, default 1
        Multiplies every child-level planted effect (log-odds effects and the absence
        effect), e.g. 4 for a CSC-referral effect of about 12 percentage points.

    Returns
    -------
    SyntheticRegion

    Raises
    ------
    InputError
        For impossible arguments (too many authorities, too short a panel, ...).

    Examples
    --------
    >>> reg = region(n_authorities=2, children_per_authority=300, seed=3)
    >>> sorted(reg.truth)[:2]
    ['child_absence_effect', 'child_att']
    """
    _check_int("seed", seed, 0)
    _check_int("children_per_authority", children_per_authority, 20)
    _check_int("months", months, 12)
    _check_int("intake_months", intake_months, 1)
    if not cohort_months or any(not 1 <= int(c) < months for c in cohort_months):
        raise InputError(
            f"cohort_months {tuple(cohort_months)} must lie between 1 and months - 1 ({months - 1})",
            field="cohort_months",
            fix="choose adoption months inside the panel, e.g. (12, 18, 24, 30) for 48 months",
        )
    if not 0 <= never_share < 1:
        raise InputError(
            f"never_share must be in [0, 1), got {never_share}", field="never_share",
            fix="use e.g. 0.25",
        )
    try:
        start_day = np.datetime64(pd.Timestamp(start).normalize().date(), "D")
    except (ValueError, TypeError) as exc:
        raise InputError(f"cannot read start date {start!r}", field="start",
                         fix="use an ISO date such as 2019-04-01") from exc
    if pd.Timestamp(start_day).day != 1:
        raise InputError("start must be the first day of a month", field="start",
                         fix="use e.g. 2019-04-01")
    if isinstance(step_up_same_day_share, bool) or not isinstance(step_up_same_day_share, int | float) \
            or not 0 <= step_up_same_day_share <= 1:
        raise InputError(f"step_up_same_day_share must be a share from 0 to 1, got {step_up_same_day_share!r}",
                         field="step_up_same_day_share", fix="use e.g. 0.4")
    if isinstance(child_effect_scale, bool) or not isinstance(child_effect_scale, int | float) \
            or not 0 <= child_effect_scale <= 20:
        raise InputError(f"child_effect_scale must be a number from 0 to 20, got {child_effect_scale!r}",
                         field="child_effect_scale", fix="use e.g. 1 (the default) or 4")
    extract = None
    if extract_date is not None:
        try:
            extract = pd.Timestamp(extract_date).normalize()
        except (ValueError, TypeError):
            raise InputError(f"cannot read extract_date {extract_date!r}", field="extract_date",
                             fix="use an ISO date such as 2021-03-31") from None
        intake_end = pd.Timestamp(start_day) + pd.DateOffset(months=intake_months)
        if extract < intake_end:
            raise InputError(f"extract_date {extract.date()} is before the end of the intake ({intake_end.date()})",
                             field="extract_date", fix="use a date on or after start + intake_months")
    las = _select_authorities(region_code, n_authorities, authorities)
    rng = np.random.default_rng(seed)
    mult = rng.uniform(0.3, 1.7, len(las))
    children, events, child_truth = _children(
        rng, las, children_per_authority, start_day, intake_months, mult,
        step_up_same_day_share=float(step_up_same_day_share), extract=extract,
        extra_rng=np.random.default_rng([seed, 20261202]), effect_scale=float(child_effect_scale),
    )
    panel, panel_truth = _panel(rng, las, start_day, months, [int(c) for c in cohort_months],
                                never_share)
    las_out = las.copy()
    las_out["synthetic"] = True
    if extract is None:
        extract = max(pd.Timestamp(events["event_date"].max()), panel["period"].max())
    metadata = {
        "synthetic": True,
        "generator": "ehimpact.data.synthetic.region",
        "seed": seed,
        "n_authorities": len(las),
        "children_per_authority": children_per_authority,
        "months": months,
        "region_code": region_code,
        "start": str(pd.Timestamp(start_day).date()),
        "intake_months": intake_months,
        "cohort_months": [int(c) for c in cohort_months],
        "never_share": never_share,
        "extract_date": str(pd.Timestamp(extract).date()),
        "window_rule": "index_date <= event_date <= index_date + DateOffset(months=N)",
        "step_up_same_day_share": float(step_up_same_day_share),
        "child_effect_scale": float(child_effect_scale),
        "note": "SYNTHETIC: real authority codes and names; every record is made up.",
    }
    truth = {**child_truth, **panel_truth, "synthetic": True}
    for frame in (children, events, panel, las_out):
        frame.attrs["synthetic"] = True
    return SyntheticRegion(children, events, panel, las_out, truth, metadata)


def _check_int(name: str, value: Any, minimum: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < minimum:
        raise InputError(
            f"{name} must be a whole number of at least {minimum}, got {value!r}",
            field=name,
            fix=f"pass an integer >= {minimum}",
        )


def write_region(
    out_dir: str | Path,
    *,
    n_authorities: int | None = 19,
    seed: int = 0,
    children_per_authority: int = 2_000,
    months: int = 48,
    region_code: str = "E12000008",
    format: str = "csv",
) -> dict[str, Path]:
    """Generate a region and write it to ``out_dir`` (the ``ehimpact synth`` command).

    Parameters
    ----------
    out_dir : str or Path
        Folder to write.
    n_authorities, seed, children_per_authority, months, region_code
        As for :func:`region`.
    format : {"csv", "parquet"}, default "csv"

    Returns
    -------
    dict
        Name -> path of every file written.
    """
    reg = region(
        n_authorities, seed, children_per_authority=children_per_authority, months=months,
        region_code=region_code,
    )
    return reg.write(out_dir, format=format)
