"""Write child-level data and events in the real statutory formats.

:func:`write_statutory` turns a synthetic region (``children`` + ``events``, DATA_CONTRACT
§1-2) into, per authority, exactly the files an authority holds:

* ``cin/cin_census_<year>.xml``: one CIN census XML file per collection year (1 April to
  31 March; ``<Year>`` 2024 is 1 April 2023 - 31 March 2024), each valid against the DfE
  schema of its year (``CIN_schema_<year>.xsd``; tested for 2020-2024);
* ``ssda903/header.csv`` and ``ssda903/episodes.csv``: SSDA903 tables (DD/MM/YYYY);
* ``early_help_export.csv``: a case-management export with its own column names and
  codes (and made-up names and postcodes, which the readers must drop);
* ``early_help_mapping.yaml``: the column mapping that reads that export.

So the tests and the demo exercise the real readers (:func:`ehimpact.data.read_statutory`).
Every file is marked synthetic.

The CIN census files carry what a real return has: the header's ``LEA`` is the authority's
3-digit DfE LA number; each child has ``GenderCurrent``, ethnicity and disabilities and one
``CINdetails`` per referral, in schema order: referral, source, primary need, closure and
reason, Assessments with factors, CINPlanDates (from the 2022 schema), Section47 with its
ICPC fields, ReferralNFA, and child protection plans with both categories of abuse,
``NumberOfPreviousCPP`` and reviews.  A referral open across 31 March appears in both
years' files; only the later one has its closure.  Dates the synthetic region does not
fix (closures, assessments, CIN plans, reviews) are made up, consistently, from ``seed``.
"""

from __future__ import annotations

from bisect import bisect_right
from dataclasses import dataclass
from itertools import groupby
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

import numpy as np
import pandas as pd
import yaml

from ehimpact.data import authorities
from ehimpact.errors import InputError

__all__ = ["StatutoryFiles", "write_statutory", "EXPORT_MAPPING", "census_year", "cin_schema_year"]

_ETHNIC_CODE = {"white": "WBRI", "mixed": "MOTH", "asian": "AOTH", "black": "BOTH",
                "other": "OOTH", "unknown": "NOBT"}  # fmt: skip
#: GenderCurrent codes (1 male, 2 female, 0 not known).
_GENDER_CURRENT = {"male": "1", "female": "2", "other_unknown": "0"}
_903_SEX = {"male": "1", "female": "2"}
_YES_NO = {1: "Y", 0: "N"}

#: The export's own codes for each coded field (their code -> dictionary value).
_EXPORT_CODES: dict[str, dict[str, Any]] = {
    "received_early_help": {"Supported": 1, "Assessed - not supported": 0},
    "intervention_type": {"KW": "key_worker", "PP": "parenting_programme", "FH": "family_hub",
                          "TY": "targeted_youth", "NONE": "none"},
    "referral_source": {"SCH": "school", "HLT": "health", "POL": "police", "SELF": "self_family",
                        "LA": "la_services", "OTH": "other"},
    "sex": {"F": "female", "M": "male", "U": "other_unknown"},
    "ethnicity": {"WHI": "white", "MIX": "mixed", "ASI": "asian", "BLK": "black", "OTH": "other",
                  "UNK": "unknown"},
}  # fmt: skip
#: child_level field -> export column written by :func:`write_statutory`.
_EXPORT_COLUMNS: dict[str, str] = {
    "child_id": "Person ID", "family_id": "Family ID", "date_of_birth": "DOB",
    "sex": "Gender", "ethnicity": "Ethnic Group", "referral_date": "Referral Date",
    "assessment_date": "EHA Date", "start_date": "Episode Start", "end_date": "Episode Closed",
    "received_early_help": "Outcome", "intervention_type": "Service",
    "referral_source": "Referrer", "disability_sen": "SEN/Disability", "fsm": "FSM",
    "prior_contacts": "Contacts 12m", "tf_crime": "TF Crime", "tf_school": "TF School",
    "tf_children_need_help": "TF Children Need Help", "tf_worklessness": "TF Worklessness",
    "tf_domestic_abuse": "TF Domestic Abuse", "tf_health": "TF Health",
    "absence_rate": "Absence %", "exclusion_12m": "Excluded 12m",
    "yj_entry_24m": "YJ First Time Entrant 24m", "synthetic": "Synthetic Record",
}  # fmt: skip
_IDENTIFIER_COLUMNS = ("Forename", "Surname", "Postcode")


def _mapping(authority_code: str) -> dict[str, Any]:
    fields: dict[str, Any] = {}
    for target, column in _EXPORT_COLUMNS.items():
        codes = _EXPORT_CODES.get(target)
        fields[target] = {"column": column, "codes": codes} if codes else column
    return {
        "source": "SYNTHETIC early-help episode export written by ehimpact.data.statutory_writer",
        "date_format": "%d/%m/%Y",
        "constants": {"authority_code": authority_code},
        "fields": fields,
        "drop": list(_IDENTIFIER_COLUMNS),
    }


#: The mapping for an export written by :func:`write_statutory` (authority code filled in).
EXPORT_MAPPING = _mapping("E06000000")


@dataclass(frozen=True)
class StatutoryFiles:
    """Paths written for one authority.

    Attributes
    ----------
    authority_code : str
        GSS code.
    cin_xml : Path
        The folder holding the authority's CIN census files (what ``data.statutory.cin_xml``
        takes: the reader reads every ``*.xml`` in it).
    ssda903_dir, local_export, mapping : Path
    cin_files : tuple of Path
        The census files in that folder, oldest collection year first.
    la_number : str
        The DfE LA number written in each census header's ``LEA``.
    """

    authority_code: str
    cin_xml: Path
    ssda903_dir: Path
    local_export: Path
    mapping: Path
    cin_files: tuple[Path, ...] = ()
    la_number: str = ""


def write_statutory(
    region: Any = None,
    out_dir: str | Path = ".",
    *,
    children: pd.DataFrame | None = None,
    events: pd.DataFrame | None = None,
    seed: int = 0,
    la_numbers: dict[str, str] | None = None,
) -> dict[str, StatutoryFiles]:
    """Write each authority's children and events as CIN XML, SSDA903 CSVs and an export.

    Parameters
    ----------
    region : SyntheticRegion, optional
        From :func:`ehimpact.data.synthetic.region`; or pass ``children`` and ``events``.
    out_dir : str or Path
        One sub-folder per authority code is created inside.
    children, events : DataFrame, optional
        DATA_CONTRACT §1 and §2 tables (used when ``region`` is not given).
    seed : int, default 0
        Seeds the made-up details the contract does not fix (day of birth within the
        year of age, names, postcodes, CIN closures, assessments, CIN plans, reviews).
    la_numbers : dict, optional
        GSS code -> DfE 3-digit LA number for the census headers; by default from
        :func:`ehimpact.data.authorities.la_number`.

    Returns
    -------
    dict
        Authority code -> :class:`StatutoryFiles`.

    Notes
    -----
    Raw child ids are written as the authority's own ids (``LAchildID``, ``CHILD``,
    ``Person ID``); the readers replace them by salted hashes.  Each ``csc_referral`` is
    a ``CINdetails`` block; an ``s47`` or ``cpp_start`` sits in the child's latest
    referral on or before it; the n-th ``cpp_end`` closes the n-th plan.  One census
    file is written per collection year from the first to the last CIN event; a
    referral is in every year's file from its referral to its closure, and each
    assessment, plan or enquiry in the files of the years it overlaps.  Codes a year's
    schema does not know are replaced by their predecessors (referral source 5D, early
    help, is 5B before 2023).  ``NumberOfPreviousCPP`` must be a positive integer in every
    DfE schema (2017-2024), so a first plan is written as 1 (its earlier plans counted
    otherwise).  Each
    ``cla_start`` is an SSDA903 episode with RNE = S.  The export holds one row per
    child (the evaluated episode) and one more row per later ``eh_referral``.  Dates of
    birth are made up consistent with ``age`` at referral.

    Examples
    --------
    >>> from ehimpact.data.synthetic import region
    >>> files = write_statutory(region(n_authorities=1, children_per_authority=100), "/tmp/s")  # doctest: +SKIP
    """
    if region is not None:
        children, events = region.children, region.events
    if children is None or events is None:
        raise InputError("nothing to write", field="region",
                         fix="pass a SyntheticRegion or both children= and events=")
    root = Path(out_dir)
    rng = np.random.default_rng(seed)
    kids = children.copy()
    offset = rng.integers(0, 300, len(kids))
    kids["date_of_birth"] = _years_before(kids["referral_date"], kids["age"]) - pd.to_timedelta(
        offset, unit="D")
    written: dict[str, StatutoryFiles] = {}
    for code, group in kids.groupby("authority_code", sort=True):
        folder = root / str(code)
        (folder / "ssda903").mkdir(parents=True, exist_ok=True)
        ev = events.loc[events["authority_code"] == code]
        number = _la_number(str(code), la_numbers)
        dob = group.set_index("child_id")["date_of_birth"]
        cin_dir = folder / "cin"
        cin_dir.mkdir(parents=True, exist_ok=True)
        for old in cin_dir.glob("cin_census_*.xml"):
            old.unlink()  # a rewrite must not leave an earlier run's years behind
        cin_files = _write_cin(cin_dir, number, group, ev, dob,
                               np.random.default_rng([seed, _stable(str(code))]))
        files = StatutoryFiles(
            authority_code=str(code),
            cin_xml=cin_dir,
            ssda903_dir=folder / "ssda903",
            local_export=folder / "early_help_export.csv",
            mapping=folder / "early_help_mapping.yaml",
            cin_files=tuple(cin_files),
            la_number=number,
        )
        _write_903(files.ssda903_dir, group, ev, dob)
        _write_export(files.local_export, group, ev)
        files.mapping.write_text(
            "# SYNTHETIC: mapping for the synthetic early-help export next to this file\n"
            + yaml.safe_dump(_mapping(str(code)), sort_keys=False, allow_unicode=True)
        )
        written[str(code)] = files
    return written


def _years_before(date: pd.Series, years: pd.Series) -> pd.Series:
    """``date`` moved back ``years`` calendar years (29 February -> 28 February)."""
    year = date.dt.year - years.astype("int64")
    day = date.dt.day.where(
        ~((date.dt.month == 2) & (date.dt.day == 29) & ~_leap(year)), 28)
    return pd.to_datetime(pd.DataFrame({"year": year, "month": date.dt.month, "day": day}))


def _leap(year: pd.Series) -> pd.Series:
    return (year % 4 == 0) & ((year % 100 != 0) | (year % 400 == 0))


def _iso(value: Any) -> str:
    return "" if value is None or pd.isna(value) else pd.Timestamp(value).strftime("%Y-%m-%d")


def _dmy(value: Any) -> str:
    return "" if pd.isna(value) else pd.Timestamp(value).strftime("%d/%m/%Y")


def _el(tag: str, value: Any) -> str:
    return "" if value is None or value == "" else f"<{tag}>{escape(str(value))}</{tag}>"


def _stable(text: str) -> int:
    """A seed from a string, the same in every process (``hash`` is salted)."""
    return int.from_bytes(text.encode()[-8:].rjust(8, b"\0"), "big")


def _la_number(code: str, given: dict[str, str] | None) -> str:
    number = (given or {}).get(code)
    if number is None:
        try:
            number = authorities.la_number(code)
        except InputError:
            number = None
    if number is None or not (len(str(number)) == 3 and str(number).isdigit()):
        raise InputError(
            f"no DfE 3-digit LA number for authority {code!r}, which the CIN census header "
            "(<LEA>) needs", field="authority_code",
            fix="use GSS codes from ehimpact.data.authorities.table(), or pass "
                "la_numbers={gss_code: '123', ...} to write_statutory")
    return str(number)


def census_year(date: Any) -> int:
    """The CIN census collection year of a date (``Year`` 2024: 1 April 2023 - 31 March 2024).

    Examples
    --------
    >>> census_year("2023-03-31"), census_year("2023-04-01")
    (2023, 2024)
    """
    when = pd.Timestamp(date)
    return when.year + 1 if when.month >= 4 else when.year


#: Collection years of the DfE CIN census schemas this writer follows.
SCHEMA_YEARS = tuple(range(2017, 2025))


def cin_schema_year(year: int) -> int:
    """The DfE schema year for a collection year: its own, or the nearest one known (2017-2024).

    Examples
    --------
    >>> cin_schema_year(2026), cin_schema_year(2022), cin_schema_year(2010)
    (2024, 2022, 2017)
    """
    return min(SCHEMA_YEARS, key=lambda y: (abs(y - int(year)), -y))


_ABUSE = ("NEG", "PHY", "SAB", "EMO", "MUL")
#: Assessment factors valid in every schema 2017-2024 (18A/19A were split in 2021, 24A added 2022).
_FACTORS = ("1B", "2B", "3A", "3B", "4A", "4B", "6A", "6B", "8B", "9A", "10A", "14A", "16A",
            "21", "22A")
_REFERRAL_SOURCES = {"1A", "1B", "1C", "1D", "2A", "2B", "3A", "3B", "3C", "3D", "3E", "3F", "4",
                     "5A", "5B", "5C", "6", "7", "8", "9", "10"}  # + 5D from 2023
_NEEDS = {f"N{i}" for i in range(10)}
_DAY = pd.Timedelta(days=1)
_PERIODS: dict[int, tuple[pd.Timestamp, pd.Timestamp]] = {}  # year -> (ReferenceDate, 1 April before)


@dataclass
class _Plan:
    start: pd.Timestamp
    end: pd.Timestamp | None
    initial: str
    latest: str
    previous: int
    reviews: list[pd.Timestamp]


@dataclass
class _Episode:
    """One referral (CINdetails) with every date the census needs."""

    referral: pd.Timestamp
    source: str
    need: str
    closure: pd.Timestamp | None = None
    reason: str = ""
    nfa: bool = False
    assessment: tuple[pd.Timestamp, pd.Timestamp, tuple[str, ...]] | None = None
    cin_plan: tuple[pd.Timestamp, pd.Timestamp] | None = None
    s47: list[tuple[pd.Timestamp, pd.Timestamp | None]] | None = None  # (start, ICPC date)
    plans: list[_Plan] | None = None


def _days(rng: np.random.Generator, lo: int, hi: int) -> pd.Timedelta:
    return pd.Timedelta(days=int(rng.integers(lo, hi + 1)))


def _episodes(rows: list[tuple], rng: np.random.Generator) -> list[_Episode]:
    """A child's CIN episodes from its events (id, type, date, source, need, abuse), in date order."""
    refs = []
    for r in rows:
        if r[1] == "csc_referral" and (not refs or refs[-1][2] != r[2]):
            refs.append(r)
    if not refs:  # activity without a referral: the census needs one (on the first activity)
        refs = [(rows[0][0], "csc_referral", rows[0][2], None, None, None)]
    ref_dates = [pd.Timestamp(r[2]) for r in refs]
    episodes = [_Episode(referral=ref_dates[j], source=_text(r[3]) or "10", need=_text(r[4]),
                         s47=[], plans=[]) for j, r in enumerate(refs)]

    def home(date: Any) -> int:  # latest referral on or before the date (else the first)
        return max(bisect_right(ref_dates, pd.Timestamp(date)) - 1, 0)

    ends = [pd.Timestamp(r[2]) for r in rows if r[1] == "cpp_end"]
    for n, r in enumerate(x for x in rows if x[1] == "cpp_start"):
        start = pd.Timestamp(r[2])
        end = ends[n] if n < len(ends) and ends[n] >= start else None
        initial = _text(r[5]) if _text(r[5]) in _ABUSE else "NEG"
        latest = initial if rng.random() < 0.8 else str(rng.choice(_ABUSE))
        reviews, when = [], start + pd.DateOffset(months=3)
        while end is None or when < end:
            reviews.append(pd.Timestamp(when))
            when = when + pd.DateOffset(months=6)
            if len(reviews) >= 12:
                break
        episodes[home(start)].plans.append(_Plan(start, end, initial, latest, max(n, 1), reviews))
    for r in rows:
        if r[1] == "s47":
            episodes[home(r[2])].s47.append((pd.Timestamp(r[2]), None))
    for j, ep in enumerate(episodes):
        nxt = ref_dates[j + 1] if j + 1 < len(ref_dates) else None
        ep.s47 = [(d, next((p.start for p in ep.plans if d <= p.start <= d + pd.Timedelta(days=60)),
                           None)) for d, _ in ep.s47]
        has_cp = bool(ep.s47 or ep.plans)
        if not has_cp and rng.random() < 0.15:  # no further action after the referral
            ep.nfa, ep.reason = True, "RC8"
            ep.closure = ep.referral + _days(rng, 0, 10)
            if nxt is not None and ep.closure >= nxt:
                ep.closure = max(ep.referral, nxt - _DAY)
            continue
        a0 = ep.referral + _days(rng, 0, 5)
        a1 = a0 + _days(rng, 10, 45)
        factors = tuple(sorted(rng.choice(_FACTORS, size=int(rng.integers(1, 4)), replace=False)))
        soft = [a1 + _days(rng, 0, 60)]
        if not ep.plans and rng.random() < 0.5:
            ep.cin_plan = (a1, a1 + _days(rng, 60, 300))
            soft.append(ep.cin_plan[1])
        hard = [ep.referral, *(d for d, _ in ep.s47), *(p.end for p in ep.plans if p.end is not None)]
        if any(p.end is None for p in ep.plans):  # a plan still open: so is the referral
            ep.closure = None
        else:
            ep.closure = max([*hard, *soft]) + _days(rng, 0, 14)
            if nxt is not None and ep.closure >= nxt:
                ep.closure = max(max(hard), nxt - _DAY)
            ep.reason = "RC7" if (ep.cin_plan or has_cp) else "RC8"
        if ep.closure is not None:
            a1 = min(a1, ep.closure)
            a0 = min(a0, a1)
            if ep.cin_plan:
                ep.cin_plan = (min(ep.cin_plan[0], ep.closure), min(ep.cin_plan[1], ep.closure))
        ep.assessment = (a0, a1, factors)
    return episodes


def _d(value: pd.Timestamp) -> str:
    return value.strftime("%Y-%m-%d")


def _cin_details(ep: _Episode, year: int, schema: int) -> str | None:
    """One <CINdetails> for the census ``year``, or None if the episode is not in it."""
    ref_date, start = _PERIODS.get(year) or _PERIODS.setdefault(
        year, (pd.Timestamp(year=year, month=3, day=31), pd.Timestamp(year=year - 1, month=4, day=1)))
    if ep.referral > ref_date or (ep.closure is not None and ep.closure < start):
        return None

    def shown(d: pd.Timestamp | None) -> pd.Timestamp | None:  # dates after the census are not known yet
        return d if d is not None and d <= ref_date else None

    def overlaps(first: pd.Timestamp, last: pd.Timestamp | None) -> bool:
        return first <= ref_date and (last is None or last >= start)

    source = ep.source
    if source == "5D" and schema < 2023:
        source = "5B"  # "LA services - early help" was added in 2023; before: other internal
    if source not in _REFERRAL_SOURCES and not (source == "5D" and schema >= 2023):
        source = "10"
    out = ["  <CINdetails>", f"   <CINreferralDate>{_d(ep.referral)}</CINreferralDate>",
           f"   <ReferralSource>{source}</ReferralSource>"]
    if ep.need in _NEEDS:
        out.append(f"   <PrimaryNeedCode>{ep.need}</PrimaryNeedCode>")
    closure = shown(ep.closure)
    if closure is not None:
        out.append(f"   <CINclosureDate>{_d(closure)}</CINclosureDate>")
        out.append(f"   <ReasonForClosure>{ep.reason}</ReasonForClosure>")
    if ep.assessment and overlaps(ep.assessment[0], ep.assessment[1]):
        a0, a1, factors = ep.assessment
        out.append("   <Assessments>")
        out.append(f"    <AssessmentActualStartDate>{_d(a0)}</AssessmentActualStartDate>")
        if shown(a1) is not None:
            out.append(f"    <AssessmentAuthorisationDate>{_d(a1)}</AssessmentAuthorisationDate>")
            out.append("    <FactorsIdentifiedAtAssessment>"
                       + "".join(f"<AssessmentFactors>{f}</AssessmentFactors>" for f in factors)
                       + "</FactorsIdentifiedAtAssessment>")
        out.append("   </Assessments>")
    if ep.cin_plan and schema >= 2022 and overlaps(*ep.cin_plan):
        end = shown(ep.cin_plan[1])
        out.append(f"   <CINPlanDates><CINPlanStartDate>{_d(ep.cin_plan[0])}</CINPlanStartDate>"
                   + (f"<CINPlanEndDate>{_d(end)}</CINPlanEndDate>" if end is not None else "")
                   + "</CINPlanDates>")
    for s47, icpc in ep.s47 or []:
        if not overlaps(s47, icpc or s47):
            continue
        held = shown(icpc)
        out.append("   <Section47>"
                   f"<S47ActualStartDate>{_d(s47)}</S47ActualStartDate>"
                   f"<InitialCPCtarget>{_d(s47 + pd.Timedelta(days=15))}</InitialCPCtarget>"
                   + (f"<DateOfInitialCPC>{_d(held)}</DateOfInitialCPC>" if held is not None else "")
                   + f"<ICPCnotRequired>{'false' if icpc is not None else 'true'}</ICPCnotRequired>"
                   "</Section47>")
    out.append(f"   <ReferralNFA>{'true' if ep.nfa else 'false'}</ReferralNFA>")
    for plan in ep.plans or []:
        if not overlaps(plan.start, plan.end):
            continue
        end = shown(plan.end)
        reviews = [r for r in plan.reviews if r <= ref_date and (end is None or r <= end)]
        out.append("   <ChildProtectionPlans>"
                   f"<CPPstartDate>{_d(plan.start)}</CPPstartDate>"
                   + (f"<CPPendDate>{_d(end)}</CPPendDate>" if end is not None else "")
                   + f"<InitialCategoryOfAbuse>{plan.initial}</InitialCategoryOfAbuse>"
                   f"<LatestCategoryOfAbuse>{plan.latest}</LatestCategoryOfAbuse>"
                   f"<NumberOfPreviousCPP>{plan.previous}</NumberOfPreviousCPP>"
                   + ("<Reviews>" + "".join(f"<CPPreviewDate>{_d(r)}</CPPreviewDate>" for r in reviews)
                      + "</Reviews>" if reviews else "")
                   + "</ChildProtectionPlans>")
    out.append("  </CINdetails>")
    return "\n".join(out)


def _write_cin(folder: Path, la_number: str, kids: pd.DataFrame, events: pd.DataFrame,
               dob: pd.Series, rng: np.random.Generator) -> list[Path]:
    """Write one census file per collection year; return their paths, oldest first."""
    cin_types = ("csc_referral", "s47", "cpp_start", "cpp_end")
    ev = events.loc[events["event_type"].isin(cin_types)].sort_values(
        ["child_id", "event_date"], kind="stable")
    cols = ["child_id", "event_type", "event_date", "referral_source_code", "primary_need_code",
            "category_of_abuse"]
    ev = ev.reindex(columns=cols)
    if ev.empty:
        return []
    info = kids.assign(dob=dob.reindex(kids["child_id"]).to_numpy()).set_index("child_id")[
        ["sex", "ethnicity", "disability_sen", "dob"]].to_dict("index")
    children = []
    for child_id, rows in groupby(ev.itertuples(index=False, name=None), key=lambda r: r[0]):
        episodes = _episodes(list(rows), rng)
        children.append((str(child_id), _identifiers(str(child_id), info[child_id]), episodes))
    first = census_year(ev["event_date"].min())
    last = census_year(ev["event_date"].max())
    written = []
    for year in range(first, last + 1):
        schema = cin_schema_year(year)
        blocks = []
        for _, head, episodes in children:
            details = [d for d in (_cin_details(ep, year, schema) for ep in episodes) if d]
            if details:
                blocks.append(" <Child>\n" + head + "\n" + "\n".join(details) + "\n </Child>")
        if not blocks:
            continue
        path = folder / f"cin_census_{year}.xml"
        out = [
            '<?xml version="1.0" encoding="utf-8"?>',
            "<!-- SYNTHETIC DATA written by ehimpact.data.statutory_writer: no real child. -->",
            f"<!-- CIN census {year - 1}-{str(year)[2:]}: 1 April {year - 1} to 31 March {year}; "
            f"DfE schema CIN_schema_{schema}.xsd -->",
            "<Message>",
            "<Header>",
            f"<CollectionDetails><Collection>CIN</Collection><Year>{year}</Year>"
            f"<ReferenceDate>{year}-03-31</ReferenceDate></CollectionDetails>",
            f"<Source><SourceLevel>L</SourceLevel><LEA>{la_number}</LEA>"
            "<SoftwareCode>ehimpact synthetic</SoftwareCode><Release>1</Release>"
            f"<SerialNo>001</SerialNo><DateTime>{year}-05-01T09:00:00</DateTime></Source>",
            "</Header>",
            "<Children>",
            *blocks,
            "</Children>",
            "</Message>",
            "",
        ]
        path.write_text("\n".join(out), encoding="utf-8")
        written.append(path)
    return written


def _identifiers(child_id: str, kid: dict[str, Any]) -> str:
    dob = _iso(kid["dob"])
    ident = ("  <ChildIdentifiers>" + _el("LAchildID", child_id)
             + _el("UPN", "X" + _digits(child_id)) + _el("PersonBirthDate", dob)
             + _el("GenderCurrent", _GENDER_CURRENT.get(kid["sex"], "0")) + "</ChildIdentifiers>")
    disability = "LD" if int(kid.get("disability_sen", 0) or 0) == 1 else "NONE"
    chars = ("  <ChildCharacteristics>"
             + _el("Ethnicity", _ETHNIC_CODE.get(kid["ethnicity"], "NOBT"))
             + f"<Disabilities><Disability>{disability}</Disability></Disabilities>"
             + "</ChildCharacteristics>")
    return ident + "\n" + chars


def _text(value: Any) -> str:
    return "" if value is None or (not isinstance(value, str) and pd.isna(value)) else str(value)


def _digits(child_id: str) -> str:
    return "".join(ch for ch in child_id if ch.isdigit()).zfill(12)[-12:]


def _write_903(folder: Path, kids: pd.DataFrame, events: pd.DataFrame, dob: pd.Series) -> None:
    cla = events.loc[events["event_type"] == "cla_start"].sort_values(["child_id", "event_date"])
    episodes = pd.DataFrame({
        "CHILD": cla["child_id"].astype(str),
        "DECOM": cla["event_date"].map(_dmy),
        "RNE": cla["rne"].map(_text) if "rne" in cla else "S",
        "LS": cla["legal_status"].map(_text) if "legal_status" in cla else "",
        "CIN": cla["primary_need_code"].map(_text) if "primary_need_code" in cla else "",
        "PLACE": cla["placement"].map(_text) if "placement" in cla else "",
        "PLACE_PROVIDER": "PR1", "DEC": "", "REC": "", "REASON_PLACE_CHANGE": "",
        "HOME_POST": "ZZ99 9ZZ", "PL_POST": "ZZ99 9ZZ", "URN": "SC999999",
    })  # fmt: skip
    episodes.to_csv(folder / "episodes.csv", index=False)
    info = kids.set_index("child_id")
    ids = pd.unique(cla["child_id"])
    header = pd.DataFrame({
        "CHILD": [str(i) for i in ids],
        "SEX": [_903_SEX.get(info.loc[i, "sex"], "") for i in ids],
        "DOB": [_dmy(dob.loc[i]) for i in ids],
        "ETHNIC": [_ETHNIC_CODE.get(info.loc[i, "ethnicity"], "NOBT") for i in ids],
        "UPN": ["X" + _digits(str(i)) for i in ids],
        "MOTHER": "", "MC_DOB": "",
    })  # fmt: skip
    header.to_csv(folder / "header.csv", index=False)


def _write_export(path: Path, kids: pd.DataFrame, events: pd.DataFrame) -> None:
    rev = {f: {v: k for k, v in codes.items()} for f, codes in _EXPORT_CODES.items()}
    cols: dict[str, Any] = {}
    for target, column in _EXPORT_COLUMNS.items():
        if target not in kids:
            continue
        values = kids[target]
        if target in ("referral_date", "assessment_date", "start_date", "end_date", "date_of_birth"):
            cols[column] = values.map(_dmy)
        elif target in rev:
            cols[column] = values.map(lambda v, r=rev[target]: "" if pd.isna(v) else r[v])
        elif target == "synthetic":
            cols[column] = np.where(values.astype(bool), "Y", "N")
        elif target in ("child_id", "family_id"):
            cols[column] = values.astype(str)
        elif target == "absence_rate":
            cols[column] = values.map(lambda v: "" if pd.isna(v) else repr(float(v)))
        elif target == "prior_contacts":
            cols[column] = values.map(lambda v: "" if pd.isna(v) else str(int(v)))
        else:  # 0/1 flags
            cols[column] = values.map(lambda v: "" if pd.isna(v) else _YES_NO[int(v)])
    export = pd.DataFrame(cols)
    export.insert(2, "Forename", "Synthetic")
    export.insert(3, "Surname", "Child")
    export.insert(4, "Postcode", "ZZ99 9ZZ")
    # later early-help referrals: one more row each, with only id and referral date
    first = kids.set_index("child_id")["referral_date"]
    later = events.loc[events["event_type"] == "eh_referral", ["child_id", "event_date"]]
    later = later.loc[later["event_date"].to_numpy() != first.reindex(later["child_id"]).to_numpy()]
    extra = pd.DataFrame({c: "" for c in export.columns}, index=range(len(later)))
    extra["Person ID"] = later["child_id"].astype(str).to_numpy()
    extra["Referral Date"] = later["event_date"].map(_dmy).to_numpy()
    extra["Family ID"] = kids.set_index("child_id")["family_id"].reindex(
        later["child_id"]).astype(str).to_numpy()
    pd.concat([export, extra], ignore_index=True).to_csv(path, index=False)
