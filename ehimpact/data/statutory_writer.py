"""Write child-level data and events in the real statutory formats.

:func:`write_statutory` turns a synthetic region (``children`` + ``events``, DATA_CONTRACT
§1-2) into, per authority, exactly the files an authority holds:

* ``cin_census.xml``: CIN census XML (Message/Header/Children/Child ...; ISO dates);
* ``ssda903/header.csv`` and ``ssda903/episodes.csv``: SSDA903 tables (DD/MM/YYYY);
* ``early_help_export.csv``: a case-management export with its own column names and
  codes (and made-up names and postcodes, which the readers must drop);
* ``early_help_mapping.yaml``: the column mapping that reads that export.

So the tests and the demo exercise the real readers (:func:`ehimpact.data.read_statutory`).
Every file is marked synthetic.
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

from ehimpact.errors import InputError

__all__ = ["StatutoryFiles", "write_statutory", "EXPORT_MAPPING"]

_ETHNIC_CODE = {"white": "WBRI", "mixed": "MOTH", "asian": "AOTH", "black": "BOTH",
                "other": "OOTH", "unknown": "NOBT"}  # fmt: skip
_CIN_SEX = {"male": "M", "female": "F", "other_unknown": "U"}
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
    """Paths written for one authority."""

    authority_code: str
    cin_xml: Path
    ssda903_dir: Path
    local_export: Path
    mapping: Path


def write_statutory(
    region: Any = None,
    out_dir: str | Path = ".",
    *,
    children: pd.DataFrame | None = None,
    events: pd.DataFrame | None = None,
    seed: int = 0,
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
        year of age, names, postcodes).

    Returns
    -------
    dict
        Authority code -> :class:`StatutoryFiles`.

    Notes
    -----
    Raw child ids are written as the authority's own ids (``LAchildID``, ``CHILD``,
    ``Person ID``); the readers replace them by salted hashes.  Each ``csc_referral`` is
    a ``CINdetails`` block; an ``s47`` or ``cpp_start`` sits in the child's latest
    referral on or before it; the n-th ``cpp_end`` closes the n-th plan.  Each
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
        files = StatutoryFiles(
            authority_code=str(code),
            cin_xml=folder / "cin_census.xml",
            ssda903_dir=folder / "ssda903",
            local_export=folder / "early_help_export.csv",
            mapping=folder / "early_help_mapping.yaml",
        )
        dob = group.set_index("child_id")["date_of_birth"]
        _write_cin(files.cin_xml, str(code), group, ev, dob)
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


def _write_cin(path: Path, code: str, kids: pd.DataFrame, events: pd.DataFrame,
               dob: pd.Series) -> None:
    cin_types = ("csc_referral", "s47", "cpp_start", "cpp_end")
    ev = events.loc[events["event_type"].isin(cin_types)].sort_values(
        ["child_id", "event_date"], kind="stable")
    cols = ["child_id", "event_type", "event_date", "referral_source_code", "primary_need_code",
            "category_of_abuse"]
    ev = ev.reindex(columns=cols)
    info = kids.assign(dob=dob.reindex(kids["child_id"]).to_numpy()).set_index("child_id")[
        ["sex", "ethnicity", "disability_sen", "dob"]].to_dict("index")
    out = [
        '<?xml version="1.0" encoding="utf-8"?>',
        "<!-- SYNTHETIC DATA written by ehimpact.data.statutory_writer: no real child. -->",
        "<Message>",
        "<Header><CollectionDetails><Collection>CIN</Collection><Year>synthetic</Year>"
        "</CollectionDetails>",
        f"<Source><SourceLevel>L</SourceLevel><LEA>{escape(code)}</LEA>"
        "<SoftwareCode>ehimpact synthetic</SoftwareCode></Source></Header>",
        "<Children>",
    ]
    records = ev.itertuples(index=False, name=None)
    for child_id, rows in groupby(records, key=lambda r: r[0]):
        out.append(_cin_child(str(child_id), list(rows), info[child_id]))
    out += ["</Children>", "</Message>", ""]
    path.write_text("\n".join(out), encoding="utf-8")


def _cin_child(child_id: str, rows: list[tuple], kid: dict[str, Any]) -> str:
    """One <Child> block; ``rows`` are (id, type, date, source, need, abuse) in date order."""
    refs = [r for r in rows if r[1] == "csc_referral"]
    blocks: list[list[str]] = [[] for _ in range(max(len(refs), 1))]
    ref_dates = [r[2] for r in refs]

    def home(date: Any) -> int:  # latest referral on or before the date (else the first)
        return max(bisect_right(ref_dates, date) - 1, 0)

    for r in rows:
        if r[1] == "s47":
            blocks[home(r[2])].append(f"<Section47>{_el('S47ActualStartDate', _iso(r[2]))}</Section47>")
    ends = [r[2] for r in rows if r[1] == "cpp_end"]
    for n, r in enumerate(x for x in rows if x[1] == "cpp_start"):
        end = ends[n] if n < len(ends) and ends[n] >= r[2] else None
        blocks[home(r[2])].append(
            "<ChildProtectionPlans>" + _el("CPPstartDate", _iso(r[2]))
            + _el("CPPendDate", _iso(end)) + _el("InitialCategoryOfAbuse", _text(r[5]))
            + _el("NumberOfPreviousCPP", n) + "</ChildProtectionPlans>")
    details = []
    for j, block in enumerate(blocks):
        head = ""
        if refs:  # (a child with no referral gets an incomplete CINdetails block)
            ref = refs[j]
            head = (_el("CINreferralDate", _iso(ref[2])) + _el("ReferralSource", _text(ref[3]))
                    + _el("PrimaryNeedCode", _text(ref[4])) + "<ReferralNFA>false</ReferralNFA>")
        details.append(f"<CINdetails>{head}{''.join(block)}</CINdetails>")
    ident = (f"<ChildIdentifiers>{_el('LAchildID', child_id)}"
             f"{_el('UPN', 'X' + _digits(child_id))}{_el('PersonBirthDate', _iso(kid['dob']))}"
             f"{_el('Sex', _CIN_SEX.get(kid['sex'], 'U'))}</ChildIdentifiers>")
    disability = "LD" if int(kid.get("disability_sen", 0) or 0) == 1 else "NONE"
    chars = (f"<ChildCharacteristics>{_el('Ethnicity', _ETHNIC_CODE.get(kid['ethnicity'], 'NOBT'))}"
             f"<Disabilities><Disability>{disability}</Disability></Disabilities>"
             "</ChildCharacteristics>")
    return "<Child>" + ident + chars + "".join(details) + "</Child>"


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
