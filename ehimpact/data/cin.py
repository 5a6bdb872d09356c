"""Read the Children in Need (CIN) census XML return into tidy, pseudonymous tables.

The CIN census is the annual child-level return every English local authority makes
to the DfE (s83 Children Act 1989).  Structure (element names as in the DfE
specification and the ``csc-validator-be-cin`` ingress code)::

    Message
      Header/CollectionDetails (Collection, Year, ReferenceDate)
      Header/Source (SourceLevel, LEA, SoftwareCode, ...)
      Children/Child
        ChildIdentifiers (LAchildID, UPN, PersonBirthDate, GenderCurrent | Sex, PersonDeathDate)
        ChildCharacteristics (Ethnicity, Disabilities/Disability*)
        CINdetails*  (CINreferralDate, ReferralSource, PrimaryNeedCode, CINclosureDate,
                      ReasonForClosure, ReferralNFA)
          Assessments* (AssessmentActualStartDate, AssessmentAuthorisationDate,
                        FactorsIdentifiedAtAssessment/AssessmentFactors*)
          CINPlanDates* (CINPlanStartDate, CINPlanEndDate)
          Section47* (S47ActualStartDate, InitialCPCtarget, DateOfInitialCPC, ICPCnotRequired)
          ChildProtectionPlans* (CPPstartDate, CPPendDate, InitialCategoryOfAbuse,
                                 LatestCategoryOfAbuse, NumberOfPreviousCPP, Reviews/CPPreviewDate*)

Dates are ISO (``YYYY-MM-DD``).  The file is streamed with ``iterparse``; if it is
not well-formed XML the reader falls back to reading it child by child, so one broken
``<Child>`` block is reported and excluded without losing the others.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from ehimpact.data.privacy import Salt, birth_month, pseudonymise, resolve_salt
from ehimpact.data.read_report import ReadReport, check_order, map_codes, parse_dates
from ehimpact.errors import InputError

__all__ = ["CINData", "read_cin", "SEX_CODES", "ETHNICITY_GROUPS", "REFERRAL_SOURCE_GROUPS"]

_ISO = "%Y-%m-%d"

#: GenderCurrent (1 male, 2 female, 0 not known, 9 not specified) and Sex (M/F/U, 2024-25).
SEX_CODES: dict[str, str] = {
    "1": "male", "2": "female", "0": "other_unknown", "9": "other_unknown",
    "M": "male", "F": "female", "U": "other_unknown",
}  # fmt: skip

#: DfE ethnicity codes -> the dictionary's major groups.
ETHNICITY_GROUPS: dict[str, str] = {
    **{c: "white" for c in ("WBRI", "WIRI", "WIRT", "WOTH", "WROM")},
    **{c: "mixed" for c in ("MWBC", "MWBA", "MWAS", "MOTH")},
    **{c: "asian" for c in ("AIND", "APKN", "ABAN", "AOTH")},
    **{c: "black" for c in ("BCRB", "BAFR", "BOTH")},
    **{c: "other" for c in ("CHNE", "OOTH")},
    **{c: "unknown" for c in ("REFU", "NOBT")},
}

#: CIN ReferralSource codes -> the dictionary's referral-source groups.
REFERRAL_SOURCE_GROUPS: dict[str, str] = {
    **{c: "self_family" for c in ("1A", "1B", "1C", "1D")},
    **{c: "school" for c in ("2A", "2B")},
    **{c: "health" for c in ("3A", "3B", "3C", "3D", "3E", "3F")},
    **{c: "la_services" for c in ("4", "5A", "5B", "5C", "5D")},
    "6": "police",
    **{c: "other" for c in ("7", "8", "9", "10")},
}

_NEED_CODES = {f"N{i}": f"N{i}" for i in range(0, 10)}
_ABUSE_CODES = {c: c for c in ("NEG", "PHY", "SAB", "EMO", "MUL")}
_DISABILITY_NONE = "NONE"

_CHILD_OPEN = re.compile(rb"<(?:[\w.-]+:)?Child(?:\s[^<>]*)?>")
_CHILD_CLOSE = re.compile(rb"</(?:[\w.-]+:)?Child\s*>")
_HEADER = re.compile(rb"<(?:[\w.-]+:)?Header[\s>].*?</(?:[\w.-]+:)?Header\s*>", re.S)
_PREFIX = re.compile(rb"<(/?)[\w.-]+:")


@dataclass
class CINData:
    """Tidy tables from one or more CIN census files, keyed by pseudonymous ``child_id``.

    Attributes
    ----------
    children : DataFrame
        ``child_id, birth_month, sex, ethnicity, disability, death_date``.
    referrals : DataFrame
        ``child_id, referral_date, referral_source, primary_need, closure_date,
        reason_for_closure, referral_nfa`` (one row per CINdetails).
    assessments, cin_plans, section47, cpp : DataFrame
        One row per Assessments / CINPlanDates / Section47 / ChildProtectionPlans block,
        each with ``child_id`` and ``referral_date`` of its CINdetails.
    authority_code : str or None
        From ``Header/Source/LEA`` (the 3-digit DfE code) unless given by the caller.
    report : ReadReport
        Problems found and record counts.
    """

    children: pd.DataFrame
    referrals: pd.DataFrame
    assessments: pd.DataFrame
    cin_plans: pd.DataFrame
    section47: pd.DataFrame
    cpp: pd.DataFrame
    authority_code: str | None = None
    report: ReadReport = field(default_factory=ReadReport)

    def events(self, authority_code: str | None = None) -> pd.DataFrame:
        """Statutory events in the DATA_CONTRACT §2 layout.

        ``csc_referral`` (CINreferralDate), ``s47`` (S47ActualStartDate),
        ``cpp_start`` (CPPstartDate) and ``cpp_end`` (CPPendDate).

        Returns
        -------
        DataFrame
            ``child_id, authority_code, event_type, event_date, detail``.
        """
        code = authority_code or self.authority_code
        parts = [
            _events(self.referrals, "referral_date", "csc_referral", "referral_source"),
            _events(self.section47, "s47_date", "s47", None),
            _events(self.cpp, "start_date", "cpp_start", "initial_category"),
            _events(self.cpp, "end_date", "cpp_end", None),
        ]
        out = pd.concat(parts, ignore_index=True)
        out.insert(1, "authority_code", code)
        return out.sort_values(["child_id", "event_date", "event_type"], kind="stable").reset_index(
            drop=True
        )


def _events(frame: pd.DataFrame, col: str, kind: str, detail: str | None) -> pd.DataFrame:
    rows = frame.loc[frame[col].notna()]
    return pd.DataFrame(
        {
            "child_id": rows["child_id"].to_numpy(),
            "event_type": kind,
            "event_date": rows[col].to_numpy(),
            "detail": rows[detail].to_numpy() if detail else None,
        }
    )


# --------------------------------------------------------------------------- reading


def read_cin(
    path: str | Path | Sequence[str | Path],
    *,
    salt: str | Salt | None = None,
    authority_code: str | None = None,
) -> CINData:
    """Read CIN census XML file(s) into pseudonymous tidy tables.

    Parameters
    ----------
    path : path or sequence of paths
        One census file, or several years' files (a referral that appears in two
        years' returns is kept once, from the later file).
    salt : str or Salt, optional
        Secret for the child-id hash; defaults to ``$EHIMPACT_SALT``.  Use the same
        salt for the SSDA903 and local-export readers so the sources link.
    authority_code : str, optional
        GSS code to attach to events (the file's own ``LEA`` code is used otherwise).

    Returns
    -------
    CINData

    Raises
    ------
    InputError
        If a file is missing, empty, or contains no readable ``Child`` record.

    Notes
    -----
    Bad records do not stop the read: a child without ``LAchildID``, a CINdetails
    without a valid ``CINreferralDate``, a Section47 without a valid
    ``S47ActualStartDate``, a plan without a valid ``CPPstartDate`` or any record whose
    end date is before its start date is excluded and listed in ``report`` with the
    file, the child index / XML path and the field.  UPN and full dates of birth are
    never kept (birth month only).

    Examples
    --------
    >>> data = read_cin("cin_2024.xml", salt="a-long-secret")  # doctest: +SKIP
    >>> data.events().event_type.value_counts()  # doctest: +SKIP
    """
    key = resolve_salt(salt)
    paths = [path] if isinstance(path, (str, Path)) else list(path)
    if not paths:
        raise InputError("no CIN census file given", field="cin_xml", fix="pass a path")
    report = ReadReport()
    parts = [_read_one(Path(p), key, report) for p in paths]
    lea = next((p[1] for p in parts if p[1]), None)
    tables = {name: pd.concat([p[0][name] for p in parts], ignore_index=True) for name in parts[0][0]}
    if len(parts) > 1:  # later census returns restate open referrals: keep the latest version
        tables["children"] = tables["children"].drop_duplicates("child_id", keep="last")
        for name, keys in _KEYS.items():
            tables[name] = tables[name].drop_duplicates(keys, keep="last")
    return CINData(**{k: v.reset_index(drop=True) for k, v in tables.items()},
                   authority_code=authority_code or lea, report=report)


_KEYS = {
    "referrals": ["child_id", "referral_date"],
    "assessments": ["child_id", "referral_date", "start_date"],
    "cin_plans": ["child_id", "referral_date", "start_date"],
    "section47": ["child_id", "referral_date", "s47_date"],
    "cpp": ["child_id", "start_date"],
}


def _read_one(path: Path, salt: Salt, report: ReadReport) -> tuple[dict[str, pd.DataFrame], str | None]:
    if not path.is_file():
        raise InputError(f"file not found: {path}", field="cin_xml",
                         fix="check the path to the CIN census XML file")
    sink: dict[str, list[dict]] = {t: [] for t in _RAW_COLUMNS}
    lea: str | None = None
    try:
        lea, seen = _stream(path, sink, report)
    except ET.ParseError as err:
        line, col = getattr(err, "position", (0, 0))
        report.add(file=path, record=f"line {line}, column {col}", field="",
                   problem="file is not well-formed XML", action="read child by child")
        sink = {t: [] for t in _RAW_COLUMNS}
        lea, seen = _recover(path, sink, report)
    n_children = len(sink["children"])
    if n_children == 0:
        raise InputError(
            f"{path.name}: no readable <Child> record found",
            field="cin_xml",
            fix="check that this is a CIN census XML file (Message/Children/Child) and not truncated",
        )
    return _tidy(path, sink, salt, report, seen), lea


def _local(tag: object) -> str:
    text = tag if isinstance(tag, str) else ""
    return text.rsplit("}", 1)[-1]


def _stream(path: Path, sink: dict[str, list[dict]], report: ReadReport) -> tuple[str | None, int]:
    """Stream Child elements with iterparse, releasing each once read."""
    lea = None
    index = 0
    stack: list[ET.Element] = []  # open elements, root first
    for event, elem in ET.iterparse(path, events=("start", "end")):
        if event == "start":
            stack.append(elem)
            continue
        stack.pop()
        tag = _local(elem.tag)
        if tag == "LEA" and lea is None and elem.text:
            lea = elem.text.strip()
        elif tag == "Child" and stack and _local(stack[-1].tag) == "Children":
            index += 1
            _strip_ns(elem)
            _collect_child(elem, index, f"child {index} (Children/Child[{index}])", sink, path, report)
            stack[-1].remove(elem)  # release the child once read (large files)
    return lea, index


def _recover(path: Path, sink: dict[str, list[dict]], report: ReadReport) -> tuple[str | None, int]:
    """Read a broken file child by child: each <Child> up to its first </Child>."""
    data = path.read_bytes()
    lea = None
    header = _HEADER.search(data)
    if header:
        try:
            node = ET.fromstring(_PREFIX.sub(rb"<\1", header.group(0)))
            found = node.find(".//LEA")
            lea = found.text.strip() if found is not None and found.text else None
        except ET.ParseError:
            report.add(file=path, record="Header", field="LEA", problem="header is not well-formed",
                       action="ignored")
    index = 0
    for index, opening in enumerate(_CHILD_OPEN.finditer(data), start=1):
        close = _CHILD_CLOSE.search(data, opening.end())
        line = data.count(b"\n", 0, opening.start()) + 1
        where = f"child {index} (line {line})"
        if close is None:
            report.add(file=path, record=where, field="Child", problem="no closing </Child> tag",
                       action="record excluded")
            continue
        chunk = _PREFIX.sub(rb"<\1", data[opening.start() : close.end()])
        try:
            elem = ET.fromstring(chunk)
        except ET.ParseError as err:
            report.add(file=path, record=where, field="Child",
                       problem=f"not well-formed XML ({str(err).split(':')[0]})",
                       action="record excluded")
            continue
        _strip_ns(elem)
        _collect_child(elem, index, where, sink, path, report)
    return lea, index


def _strip_ns(elem: ET.Element) -> None:
    for node in elem.iter():
        node.tag = _local(node.tag)


def _text(elem: ET.Element | None, tag: str) -> str | None:
    if elem is None:
        return None
    node = elem.find(tag)
    if node is None or node.text is None:
        return None
    value = node.text.strip()
    return value or None


_RAW_COLUMNS = {
    "children": ["LAchildID", "PersonBirthDate", "Sex", "PersonDeathDate", "Ethnicity", "Disability"],
    "referrals": ["LAchildID", "CINreferralDate", "ReferralSource", "PrimaryNeedCode",
                  "CINclosureDate", "ReasonForClosure", "ReferralNFA"],
    "assessments": ["LAchildID", "CINreferralDate", "AssessmentActualStartDate",
                    "AssessmentAuthorisationDate", "AssessmentFactors"],
    "cin_plans": ["LAchildID", "CINreferralDate", "CINPlanStartDate", "CINPlanEndDate"],
    "section47": ["LAchildID", "CINreferralDate", "S47ActualStartDate", "InitialCPCtarget",
                  "DateOfInitialCPC", "ICPCnotRequired"],
    "cpp": ["LAchildID", "CINreferralDate", "CPPstartDate", "CPPendDate", "InitialCategoryOfAbuse",
            "LatestCategoryOfAbuse", "NumberOfPreviousCPP"],
}  # fmt: skip


def _collect_child(
    child: ET.Element, index: int, where: str, sink: dict[str, list[dict]], path: Path,
    report: ReadReport,
) -> None:
    ids = child.find("ChildIdentifiers")
    la_id = _text(ids, "LAchildID")
    if la_id is None:
        report.add(file=path, record=where, field="LAchildID", problem="child has no LAchildID",
                   action="record excluded")
        return
    chars = child.find("ChildCharacteristics")
    disabilities = [
        (d.text or "").strip() for d in (chars.iter("Disability") if chars is not None else [])
    ]
    sink["children"].append({
        "_record": where, "LAchildID": la_id,
        "PersonBirthDate": _text(ids, "PersonBirthDate"),
        "Sex": _text(ids, "Sex") or _text(ids, "GenderCurrent"),
        "PersonDeathDate": _text(ids, "PersonDeathDate"),
        "Ethnicity": _text(chars, "Ethnicity"),
        "Disability": "|".join(d for d in disabilities if d) or None,
    })  # fmt: skip
    for j, cin in enumerate(child.findall("CINdetails"), start=1):
        base = f"{where}/CINdetails[{j}]"
        ref = _text(cin, "CINreferralDate")
        row = {"_record": base, "LAchildID": la_id}
        row.update({c: _text(cin, c) for c in _RAW_COLUMNS["referrals"][1:]})
        sink["referrals"].append(row)
        for table, tag in (("assessments", "Assessments"), ("cin_plans", "CINPlanDates"),
                           ("section47", "Section47"), ("cpp", "ChildProtectionPlans")):
            for k, node in enumerate(cin.findall(tag), start=1):
                sub = {"_record": f"{base}/{tag}[{k}]", "LAchildID": la_id, "CINreferralDate": ref}
                for c in _RAW_COLUMNS[table][2:]:
                    if c == "AssessmentFactors":
                        sub[c] = "|".join(
                            (f.text or "").strip() for f in node.iter("AssessmentFactors")
                        ) or None
                    else:
                        sub[c] = _text(node, c)
                sink[table].append(sub)


def _frame(sink: dict[str, list[dict]], table: str) -> pd.DataFrame:
    return pd.DataFrame(sink[table], columns=["_record", *_RAW_COLUMNS[table]], dtype=object)


def _tidy(
    path: Path, sink: dict[str, list[dict]], salt: Salt, report: ReadReport, seen: int
) -> dict[str, pd.DataFrame]:
    """Validate raw strings, exclude bad records, pseudonymise, return tidy tables."""
    out: dict[str, pd.DataFrame] = {}

    raw = _frame(sink, "children")
    dob, _ = parse_dates(raw, "PersonBirthDate", fmt=_ISO, file=path, report=report, required=False)
    died, _ = parse_dates(raw, "PersonDeathDate", fmt=_ISO, file=path, report=report, required=False)
    bad_death = check_order(raw, dob, died, end_label="PersonDeathDate",
                            start_label="PersonBirthDate", file=path, report=report)
    dup = raw["LAchildID"].duplicated(keep="first")
    for rec in raw.loc[dup, "_record"]:
        report.add(file=path, record=rec, field="LAchildID", problem="child appears twice in the file",
                   action="duplicate excluded")
    keep = ~(bad_death | dup)
    disability = raw["Disability"].fillna("").astype(str)
    out["children"] = pd.DataFrame({
        "child_id": pseudonymise(raw["LAchildID"], salt),
        "birth_month": birth_month(dob),
        "sex": map_codes(raw, "Sex", SEX_CODES, file=path, report=report, label="Sex",
                         default="other_unknown"),
        "ethnicity": map_codes(raw, "Ethnicity", ETHNICITY_GROUPS, file=path, report=report,
                               default="unknown"),
        "disability": ((disability != "") & (disability != _DISABILITY_NONE)).astype("int8"),
        "death_date": died,
    })[keep]  # fmt: skip
    # "read" counts every <Child> seen, including those excluded before parsing (no id,
    # broken XML)
    report.count(path, "children", read=max(seen, len(raw)), kept=int(keep.sum()))

    raw = _frame(sink, "referrals")
    ref, bad = parse_dates(raw, "CINreferralDate", fmt=_ISO, file=path, report=report, required=True)
    close, _ = parse_dates(raw, "CINclosureDate", fmt=_ISO, file=path, report=report, required=False)
    bad |= check_order(raw, ref, close, end_label="CINclosureDate", start_label="CINreferralDate",
                       file=path, report=report)
    frame = pd.DataFrame({
        "child_id": pseudonymise(raw["LAchildID"], salt),
        "referral_date": ref,
        "referral_source": map_codes(raw, "ReferralSource", REFERRAL_SOURCE_GROUPS, file=path,
                                     report=report, default="other"),
        "primary_need": map_codes(raw, "PrimaryNeedCode", _NEED_CODES, file=path, report=report),
        "closure_date": close,
        "reason_for_closure": raw["ReasonForClosure"],
        "referral_nfa": _yes_no(raw["ReferralNFA"]),
    })  # fmt: skip
    out["referrals"] = _dedupe(frame, raw, bad, ["child_id", "referral_date"], path, report,
                               "referrals", "CINreferralDate")

    out["assessments"] = _sub_table(
        path, sink, "assessments", salt, report,
        start=("AssessmentActualStartDate", "start_date"),
        end=("AssessmentAuthorisationDate", "authorisation_date"),
        extra={"factors": "AssessmentFactors"},
    )  # fmt: skip
    out["cin_plans"] = _sub_table(path, sink, "cin_plans", salt, report,
                                  start=("CINPlanStartDate", "start_date"),
                                  end=("CINPlanEndDate", "end_date"), extra={})
    out["section47"] = _sub_table(
        path, sink, "section47", salt, report, start=("S47ActualStartDate", "s47_date"), end=None,
        extra={"icpc_target": "InitialCPCtarget", "icpc_date": "DateOfInitialCPC",
               "icpc_not_required": "ICPCnotRequired"},
        dates=("InitialCPCtarget", "DateOfInitialCPC"),
    )  # fmt: skip
    out["cpp"] = _sub_table(
        path, sink, "cpp", salt, report, start=("CPPstartDate", "start_date"),
        end=("CPPendDate", "end_date"),
        extra={"initial_category": "InitialCategoryOfAbuse",
               "latest_category": "LatestCategoryOfAbuse",
               "n_previous_cpp": "NumberOfPreviousCPP"},
        codes={"InitialCategoryOfAbuse": _ABUSE_CODES, "LatestCategoryOfAbuse": _ABUSE_CODES},
        integers=("NumberOfPreviousCPP",),
    )  # fmt: skip
    return out


def _yes_no(raw: pd.Series) -> pd.Series:
    text = raw.astype("string").str.strip().str.lower()
    return text.map({"true": 1, "1": 1, "false": 0, "0": 0}).astype("Int8")


def _sub_table(
    path: Path, sink: dict[str, list[dict]], table: str, salt: Salt, report: ReadReport, *,
    start: tuple[str, str], end: tuple[str, str] | None, extra: dict[str, str],
    dates: Sequence[str] = (), codes: dict[str, dict[str, str]] | None = None,
    integers: Sequence[str] = (),
) -> pd.DataFrame:
    raw = _frame(sink, table)
    ref = pd.to_datetime(raw["CINreferralDate"], format=_ISO, errors="coerce")
    ref = ref.where(ref.between(pd.Timestamp("1900-01-01"), pd.Timestamp("2099-12-31")))
    ref = ref.astype("datetime64[ns]")  # the parent referral's date (checked on its own row)
    first, bad = parse_dates(raw, start[0], fmt=_ISO, file=path, report=report, required=True)
    frame = pd.DataFrame({"child_id": pseudonymise(raw["LAchildID"], salt), "referral_date": ref,
                          start[1]: first})
    if end is not None:
        last, _ = parse_dates(raw, end[0], fmt=_ISO, file=path, report=report, required=False)
        bad |= check_order(raw, first, last, end_label=end[0], start_label=start[0], file=path,
                           report=report)
        frame[end[1]] = last
    for name, col in extra.items():
        if col in dates:
            frame[name], _ = parse_dates(raw, col, fmt=_ISO, file=path, report=report, required=False)
        elif codes and col in codes:
            frame[name] = map_codes(raw, col, codes[col], file=path, report=report)
        elif col in integers:
            frame[name] = _integers(raw, col, path, report)
        else:
            frame[name] = raw[col]
    return _dedupe(frame, raw, bad, ["child_id", start[1]], path, report, table, start[0])


def _integers(raw: pd.DataFrame, col: str, path: Path, report: ReadReport) -> pd.Series:
    text = raw[col].astype("string").str.strip()
    values = pd.to_numeric(text, errors="coerce")
    invalid = text.notna() & (text != "") & (
        values.isna() | (values < 0) | (values % 1 != 0) | (values > 1000))
    for rec in raw.loc[invalid, "_record"]:
        report.add(file=path, record=rec, field=col, problem="not a whole number 0-1000",
                   action="value set to missing")
    return values.where(~invalid).astype("Int64")


def _dedupe(
    frame: pd.DataFrame, raw: pd.DataFrame, bad: pd.Series, keys: list[str], path: Path,
    report: ReadReport, table: str, field_name: str,
) -> pd.DataFrame:
    # only a record repeating an earlier *kept* record counts as a duplicate
    dup = frame.loc[~bad, keys].duplicated(keep="first").reindex(frame.index, fill_value=False)
    for rec in raw.loc[dup, "_record"]:
        report.add(file=path, record=rec, field=field_name,
                   problem=f"duplicate of an earlier record ({', '.join(keys[1:])} repeated)",
                   action="duplicate excluded")
    keep = ~(bad | dup)
    report.count(path, table, read=len(frame), kept=int(keep.sum()))
    return frame.loc[keep].reset_index(drop=True)
