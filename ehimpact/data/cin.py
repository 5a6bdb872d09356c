"""Read the Children in Need (CIN) census XML return into tidy, pseudonymous tables.

The CIN census is the annual child-level return every English local authority makes
to the DfE (s83 Children Act 1989).  Structure (element names as in the DfE schema
``CIN_schema_<year>.xsd``; a copy of 2017-2024 is in ``tests/fixtures/external/cin``)::

    Message
      Header/CollectionDetails (Collection, Year, ReferenceDate)
      Header/Source (SourceLevel, LEA, SoftwareCode, ...)
      Children/Child
        ChildIdentifiers (LAchildID, UPN, PersonBirthDate, GenderCurrent | Sex, PersonDeathDate)
        ChildCharacteristics (Ethnicity, Disabilities/Disability*)
        CINdetails*  (CINreferralDate, ReferralSource, PrimaryNeedCode, CINclosureDate,
                      ReasonForClosure, DateOfInitialCPC, ..., ReferralNFA)
          Assessments* (AssessmentActualStartDate, AssessmentAuthorisationDate,
                        FactorsIdentifiedAtAssessment/AssessmentFactors*)
          CINPlanDates* (CINPlanStartDate, CINPlanEndDate)
          Section47* (S47ActualStartDate, InitialCPCtarget, DateOfInitialCPC, ICPCnotRequired)
          ChildProtectionPlans* (CPPstartDate, CPPendDate, InitialCategoryOfAbuse,
                                 LatestCategoryOfAbuse, NumberOfPreviousCPP, Reviews/CPPreviewDate*)

Dates are ISO (``YYYY-MM-DD``).  One file per collection year (1 April to 31 March; the
header's ``ReferenceDate`` is 31 March).  An authority keeps several years; a referral
open across 31 March appears in both years' files and the later one has its closure.

**Several years.**  :func:`read_cin` takes a file, a list, a folder or a glob pattern.
Files are combined in ``ReferenceDate`` order: the same child and referral date is one
episode, and the latest census supplies its closure and every other field.
:attr:`CINData.census` says which file covers which dates, and
:attr:`CINData.extract_date` is the latest ``ReferenceDate``.

**Fail loudly.**  A file that is not well-formed XML (e.g. truncated), has a namespace
(the DfE schema has none) or a root other than ``<Message>`` is an :class:`InputError`
naming the file, the line and column, and the fix; it is never read in part.  So are two
different files for the same collection year, files from different authorities, and a
header ``LEA`` that is not the authority being evaluated (``authority_code=`` or
``la_number=``).  Bad *records* in a well-formed file are excluded, counted and listed in
the read report.
"""

from __future__ import annotations

import glob as _glob
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from ehimpact.data import authorities
from ehimpact.data.privacy import Salt, birth_month, pseudonymise, resolve_salt
from ehimpact.data.read_report import ReadReport, check_order, map_codes, parse_dates
from ehimpact.errors import InputError

__all__ = ["CINData", "read_cin", "cin_sources", "SEX_CODES", "ETHNICITY_GROUPS",
           "REFERRAL_SOURCE_GROUPS", "CENSUS_COLUMNS"]

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

#: Columns of :attr:`CINData.census` (one row per file, in ``ReferenceDate`` order).
CENSUS_COLUMNS = ["file", "collection_year", "reference_date", "period_start", "period_end",
                  "lea", "authority_code", "n_children", "n_referrals"]

_NEED_CODES = {f"N{i}": f"N{i}" for i in range(0, 10)}
_ABUSE_CODES = {c: c for c in ("NEG", "PHY", "SAB", "EMO", "MUL")}
_DISABILITY_NONE = "NONE"
_GLOB_CHARS = set("*?[")
_FIELD = "cin_xml"


@dataclass
class CINData:
    """Tidy tables from one or more CIN census files, keyed by pseudonymous ``child_id``.

    Attributes
    ----------
    children : DataFrame
        ``child_id, birth_month, sex, ethnicity, disability, death_date``.
    referrals : DataFrame
        ``child_id, referral_date, referral_source, primary_need, closure_date,
        reason_for_closure, referral_nfa`` (one row per episode: child and referral date).
    assessments, cin_plans, section47, cpp : DataFrame
        One row per Assessments / CINPlanDates / Section47 / ChildProtectionPlans block,
        each with ``child_id`` and ``referral_date`` of its CINdetails:
        ``start_date, authorisation_date, factors`` ("|"-joined codes);
        ``start_date, end_date``; ``s47_date, icpc_target, icpc_date, icpc_not_required``
        (0/1); ``start_date, end_date, initial_category, latest_category, n_previous_cpp``
        (as written: every DfE schema requires a positive integer there, so a first plan
        may carry 1).
    authority_code : str or None
        GSS code: the caller's, else the header ``LEA`` (a 3-digit DfE LA number, resolved
        through :mod:`ehimpact.data.authorities`; kept as written if unknown).
    report : ReadReport
        Problems found and record counts.
    census : DataFrame
        One row per file read, oldest first: ``file, collection_year, reference_date,
        period_start, period_end, lea, authority_code, n_children, n_referrals``.  The
        period is the collection year the file covers (1 April to ``ReferenceDate``).
    la_number : str or None
        The header's ``LEA`` as written (the DfE LA number).
    """

    children: pd.DataFrame
    referrals: pd.DataFrame
    assessments: pd.DataFrame
    cin_plans: pd.DataFrame
    section47: pd.DataFrame
    cpp: pd.DataFrame
    authority_code: str | None = None
    report: ReadReport = field(default_factory=ReadReport)
    census: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=CENSUS_COLUMNS))
    la_number: str | None = None

    @property
    def extract_date(self) -> pd.Timestamp | None:
        """The latest census ``ReferenceDate`` (the natural data extract date), or None."""
        dates = pd.to_datetime(self.census["reference_date"]).dropna() if len(self.census) else []
        return pd.Timestamp(max(dates)) if len(dates) else None

    @property
    def collection_years(self) -> list[int]:
        """Collection years read (the header ``Year``: 2024 is 1 April 2023 - 31 March 2024)."""
        years = self.census["collection_year"].dropna() if len(self.census) else []
        return sorted(int(y) for y in years)

    def missing_years(self) -> list[int]:
        """Collection years between the first and last read that no file covers."""
        years = self.collection_years
        return sorted(set(range(years[0], years[-1] + 1)) - set(years)) if years else []

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


# --------------------------------------------------------------------------- sources


def cin_sources(source: str | Path | Sequence[str | Path]) -> list[Path]:
    """The CIN census files a ``cin_xml`` value names.

    Parameters
    ----------
    source : path, glob pattern, folder, or a sequence of these
        A file; a folder (every ``*.xml`` directly inside it); a glob pattern
        (``"cin/cin_*.xml"``, ``"**"`` recursive); or a list mixing these.

    Returns
    -------
    list of Path
        Existing files, each once, in the order given (a folder's or pattern's files sorted
        by name).

    Raises
    ------
    InputError
        When nothing is given, a file is missing, a folder holds no ``.xml`` file or a
        pattern matches nothing.
    """
    items = [source] if isinstance(source, (str, Path)) else list(source)
    if not items:
        raise InputError("no CIN census file given", field=_FIELD,
                         fix="give a file, a list of files, a folder or a glob pattern")
    out: list[Path] = []
    for item in items:
        path = Path(str(item)).expanduser()
        if path.is_dir():
            found = sorted(p for p in path.iterdir() if p.is_file() and p.suffix.lower() == ".xml")
            if not found:
                raise InputError(f"no .xml file in the folder {path}", field=_FIELD,
                                 fix="put the authority's CIN census files (one per year) there, "
                                     "or give the files or a pattern such as cin/*.xml")
        elif path.is_file():
            found = [path]
        elif _GLOB_CHARS & set(str(item)):
            found = sorted(Path(p) for p in _glob.glob(str(path), recursive=True)
                           if Path(p).is_file())
            if not found:
                raise InputError(f"no file matches the pattern {item}", field=_FIELD,
                                 fix="check the folder and the pattern (relative paths are "
                                     "relative to the config file)")
        else:
            raise InputError(f"file not found: {path}", field=_FIELD,
                             fix="check the path to the CIN census XML file")
        out.extend(found)
    seen: set[Path] = set()
    unique = []
    for p in out:
        key = p.resolve()
        if key not in seen:
            seen.add(key)
            unique.append(p)
    return unique


# --------------------------------------------------------------------------- reading


@dataclass
class _Header:
    path: Path
    year: int | None = None
    reference_date: pd.Timestamp | None = None
    lea: str | None = None
    gss: str | None = None
    year_text: str | None = None
    ref_text: str | None = None


def read_cin(
    source: str | Path | Sequence[str | Path],
    *,
    salt: str | Salt | None = None,
    authority_code: str | None = None,
    la_number: str | None = None,
) -> CINData:
    """Read CIN census XML file(s) into pseudonymous tidy tables.

    Parameters
    ----------
    source : path, folder, glob pattern or sequence of these
        One census file, several years' files, a folder of them (every ``*.xml``) or a
        pattern (``"cin/*.xml"``); see :func:`cin_sources`.  Years are combined without
        double counting: one episode per child and referral date, taken from the latest
        census (by ``ReferenceDate``), which has the closure.
    salt : str or Salt, optional
        Secret for the child-id hash; defaults to ``$EHIMPACT_SALT``.  Use the same
        salt for the SSDA903 and local-export readers so the sources link.
    authority_code : str, optional
        The authority being evaluated (GSS code, or a 3-digit DfE LA number).  Every
        file's header ``LEA`` must be this authority's; it is attached to the events.
    la_number : str, optional
        The same check given as the DfE LA number (``"887"``).

    Returns
    -------
    CINData
        With :attr:`CINData.census` (coverage per file) and :attr:`CINData.extract_date`.

    Raises
    ------
    InputError
        If a file is missing, empty, not well-formed XML (naming the line and column),
        in a namespace or without a ``<Message>`` root, or holds no ``Child`` record; if
        two files are for the same collection year; if the files come from different
        authorities, or from another authority than ``authority_code`` / ``la_number``.

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
    >>> data = read_cin("cin/", salt="a-long-secret", la_number="887")  # doctest: +SKIP
    >>> data.census[["collection_year", "period_start", "period_end"]]  # doctest: +SKIP
    >>> data.events().event_type.value_counts()  # doctest: +SKIP
    """
    key = resolve_salt(salt)
    expected = _expected_authority(authority_code, la_number)
    paths = cin_sources(source)
    report = ReadReport()
    parts = [_read_one(p, key, report) for p in paths]
    headers = [h for _, h in parts]
    order = sorted(range(len(parts)), key=lambda i: (
        headers[i].reference_date is not None, headers[i].reference_date or pd.Timestamp(0), i))
    parts = [parts[i] for i in order]
    headers = [headers[i] for i in order]
    _check_years(headers)
    lea_gss = _check_authority(headers, expected)
    tables = {name: pd.concat([p[0][name] for p in parts], ignore_index=True) for name in parts[0][0]}
    if len(parts) > 1:  # later census returns restate open referrals: keep the latest version
        tables["children"] = tables["children"].drop_duplicates("child_id", keep="last")
        for name, keys in _KEYS.items():
            tables[name] = tables[name].drop_duplicates(keys, keep="last")
    census = pd.DataFrame([_census_row(h, t) for t, h in parts], columns=CENSUS_COLUMNS)
    years = sorted(h.year for h in headers if h.year is not None)
    gap = sorted(set(range(years[0], years[-1] + 1)) - set(years)) if years else []
    if gap:  # a year missing between two others: its referrals and closures are not known
        later = next(h for h in headers if h.year is not None and h.year > gap[0])
        report.add(file=later.path, record="Header", field="Year",
                   problem="no census file for collection year(s) "
                   + ", ".join(str(y) for y in gap) + f" between {years[0]} and {years[-1]}",
                   action="ignored")
    lea = next((h.lea for h in reversed(headers) if h.lea), None)
    code = expected[0] if expected else lea_gss
    return CINData(**{k: v.reset_index(drop=True) for k, v in tables.items()},
                   authority_code=code if code else (authority_code or lea), report=report,
                   census=census, la_number=lea)


_KEYS = {
    "referrals": ["child_id", "referral_date"],
    "assessments": ["child_id", "referral_date", "start_date"],
    "cin_plans": ["child_id", "referral_date", "start_date"],
    "section47": ["child_id", "referral_date", "s47_date"],
    "cpp": ["child_id", "start_date"],
}


def _expected_authority(authority_code: str | None, la_number: str | None) -> tuple[str, str] | None:
    """(GSS code, as given) of the authority the caller evaluates, or None."""
    given = [(v, f) for v, f in ((authority_code, "authority_code"), (la_number, "la_number")) if v]
    if not given:
        return None
    codes = {authorities.resolve(v) for v, _ in given}
    if len(codes) > 1:
        raise InputError(
            f"authority_code {authority_code!r} and la_number {la_number!r} are different "
            "authorities", field="authority_code", fix="give one of them, or two that agree")
    return codes.pop(), str(given[0][0])


def _describe(gss: str | None, raw: str | None) -> str:
    if gss is None:
        return f"{raw!r} (not a known English authority)"
    row = authorities.lookup(gss)
    number = row.get("la_number") or "?"
    return f"{row['name']} (LA number {number}, {gss})"


def _check_authority(headers: list[_Header], expected: tuple[str, str] | None) -> str | None:
    """Raise unless every file is from one authority (the expected one when given)."""
    if expected is not None:
        for h in headers:
            if h.lea is None:
                continue  # reported when read: the LEA could not be checked
            if h.gss != expected[0]:
                raise InputError(
                    f"{h.path.name}: the census header's LEA is {h.lea}, "
                    f"{_describe(h.gss, h.lea)}, but the authority being evaluated is "
                    f"{_describe(expected[0], expected[1])}",
                    field=_FIELD,
                    fix="give this authority's own CIN census files (check the "
                        "{authority} placeholder in data.statutory.cin_xml and the authority code)",
                )
        return expected[0]
    found = {(h.gss or h.lea) for h in headers if h.lea}
    if len(found) > 1:
        listing = "; ".join(f"{h.path.name}: LEA {h.lea}" for h in headers if h.lea)
        raise InputError(
            f"the CIN census files come from different authorities ({listing})",
            field=_FIELD, fix="give one authority's files at a time")
    gss = {h.gss for h in headers if h.gss}
    return gss.pop() if gss else None


def _check_years(headers: list[_Header]) -> None:
    by_date: dict[pd.Timestamp, list[str]] = {}
    for h in headers:
        if h.reference_date is not None:
            by_date.setdefault(h.reference_date, []).append(h.path.name)
    clash = {d: names for d, names in by_date.items() if len(names) > 1}
    if clash:
        date, names = next(iter(clash.items()))
        raise InputError(
            f"{len(names)} CIN census files have the same ReferenceDate {date.date()}: "
            + ", ".join(names),
            field=_FIELD,
            fix="give one file per collection year (a resubmission replaces the earlier file)")


def _census_row(h: _Header, tables: dict[str, pd.DataFrame]) -> dict:
    ref = h.reference_date
    start = (ref - pd.DateOffset(years=1) + pd.Timedelta(days=1)) if ref is not None else pd.NaT
    return {
        "file": h.path.name, "collection_year": h.year,
        "reference_date": ref if ref is not None else pd.NaT,
        "period_start": start, "period_end": ref if ref is not None else pd.NaT,
        "lea": h.lea, "authority_code": h.gss,
        "n_children": len(tables["children"]), "n_referrals": len(tables["referrals"]),
    }


def _read_one(path: Path, salt: Salt, report: ReadReport) -> tuple[dict[str, pd.DataFrame], _Header]:
    if not path.is_file():
        raise InputError(f"file not found: {path}", field=_FIELD,
                         fix="check the path to the CIN census XML file")
    if path.stat().st_size == 0:
        raise InputError(f"{path}: the file is empty", field=_FIELD,
                         fix="export the CIN census XML again; nothing was read from this file")
    sink: dict[str, list[dict]] = {t: [] for t in _RAW_COLUMNS}
    header = _Header(path)
    try:
        seen = _stream(path, sink, report, header)
    except ET.ParseError as err:
        line, col = getattr(err, "position", (0, 0))
        reason = str(err).split(":")[0]
        raise InputError(
            f"{path}: not well-formed XML at line {line}, column {col + 1} ({reason}); "
            "nothing was read from this file",
            field=_FIELD, rows=[line],
            fix="the file is damaged or truncated: export it again from the case-management "
                "system (or open it in an XML editor to find the fault at that line)",
        ) from None
    _finish_header(header, report)
    if not sink["children"]:
        raise InputError(
            f"{path.name}: no readable <Child> record found",
            field=_FIELD,
            fix="check that this is a CIN census XML file (Message/Children/Child)",
        )
    return _tidy(path, sink, salt, report, seen), header


def _finish_header(h: _Header, report: ReadReport) -> None:
    raw_year, raw_ref = h.year_text, h.ref_text
    year = int(raw_year) if raw_year and raw_year.isdigit() and len(raw_year) == 4 else None
    if raw_year and year is None:
        report.add(file=h.path, record="Header", field="Year",
                   problem=f"Year {raw_year!r} is not a year (xs:gYear, e.g. 2024)", action="ignored")
    ref = pd.to_datetime(raw_ref, format=_ISO, errors="coerce") if raw_ref else pd.NaT
    if raw_ref and pd.isna(ref):
        report.add(file=h.path, record="Header", field="ReferenceDate",
                   problem="not a valid date in YYYY-MM-DD format", action="ignored")
    if pd.isna(ref) and year is not None:
        ref = pd.Timestamp(year=year, month=3, day=31)
        report.add(file=h.path, record="Header", field="ReferenceDate",
                   problem=f"no ReferenceDate: taken as 31 March of the collection year {year}",
                   action="value derived")
    if year is None and pd.notna(ref):
        year = int(ref.year)
    if year is not None and pd.notna(ref) and ref.year != year:
        report.add(file=h.path, record="Header", field="Year",
                   problem=f"Year {year} disagrees with ReferenceDate {ref.date()}",
                   action="ReferenceDate used")
        year = int(ref.year)
    if year is None:
        report.add(file=h.path, record="Header", field="ReferenceDate",
                   problem="no Year or ReferenceDate: the census year this file covers is unknown",
                   action="ignored")
    h.year = year
    h.reference_date = None if pd.isna(ref) else pd.Timestamp(ref)
    if h.lea is None:
        report.add(file=h.path, record="Header", field="LEA",
                   problem="no LEA in the header: the authority cannot be checked", action="ignored")
    else:
        try:
            h.gss = authorities.resolve(h.lea)
        except InputError:
            h.gss = None
            report.add(file=h.path, record="Header", field="LEA",
                       problem=f"LEA {h.lea!r} is not a known DfE LA number", action="ignored")


def _local(tag: object) -> str:
    text = tag if isinstance(tag, str) else ""
    return text.rsplit("}", 1)[-1]


def _namespace_error(path: Path, tag: str, where: str) -> InputError:
    namespace = tag[1:].split("}", 1)[0]
    line = _line_of(path, b"xmlns")
    return InputError(
        f"{path}: {where} <{_local(tag)}> is in the XML namespace {namespace!r}"
        + (f" (declared at line {line})" if line else "")
        + "; the DfE CIN census schema has no namespace, so this is not a CIN census file "
        "in the DfE format",
        field=_FIELD, rows=[line] if line else None,
        fix="export the census in the DfE format (no xmlns on <Message>), or remove the "
            "xmlns declaration if the content is otherwise the DfE layout",
    )


def _line_of(path: Path, needle: bytes) -> int | None:
    with path.open("rb") as fh:
        for n, line in enumerate(fh, start=1):
            if needle in line:
                return n
    return None


_HEADER_FIELDS = {"Year": "year_text", "ReferenceDate": "ref_text"}


def _stream(path: Path, sink: dict[str, list[dict]], report: ReadReport, header: _Header) -> int:
    """Stream Child elements with iterparse, releasing each once read."""
    index = 0
    stack: list[ET.Element] = []  # open elements, root first
    for event, elem in ET.iterparse(path, events=("start", "end")):
        if event == "start":
            if not stack:
                if "}" in elem.tag:
                    raise _namespace_error(path, elem.tag, "the root element")
                if elem.tag != "Message":
                    raise InputError(
                        f"{path}: the root element is <{elem.tag}>, not <Message>: this is not a "
                        "CIN census XML file",
                        field=_FIELD, rows=[_line_of(path, f"<{elem.tag}".encode()) or 1],
                        fix="give the authority's CIN census return (Message/Header/Children)")
            elif "}" in elem.tag:
                raise _namespace_error(path, elem.tag, "the element")
            stack.append(elem)
            continue
        stack.pop()
        tag = elem.tag
        if tag == "Child" and stack and stack[-1].tag == "Children":
            index += 1
            _collect_child(elem, index, f"child {index} (Children/Child[{index}])", sink, path, report)
            stack[-1].remove(elem)  # release the child once read (large files)
        elif len(stack) >= 2 and stack[1].tag == "Header":
            text = (elem.text or "").strip() or None
            if tag == "LEA" and header.lea is None and text:
                header.lea = text
            elif tag in _HEADER_FIELDS and text and len(stack) == 3:
                setattr(header, _HEADER_FIELDS[tag], text)
    return index


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
        dates=("InitialCPCtarget", "DateOfInitialCPC"), flags=("ICPCnotRequired",),
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
    integers: Sequence[str] = (), flags: Sequence[str] = (),
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
        elif col in flags:
            frame[name] = _yes_no(raw[col])
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
