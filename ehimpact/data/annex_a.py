"""Read an Ofsted Annex A workbook (ILACS inspection lists 1-8) into pseudonymous tidy tables.

Every English local authority prepares Annex A for an inspection of its children's
services: one workbook, a sheet per list, keyed by ``Child Unique ID``:

====  ===================================  =============================================
list  what it holds                        used here for
====  ===================================  =============================================
1     contacts                             coverage only
2     early help assessments               reach figures (:meth:`AnnexAData.reach`)
3     referrals to children's social care  ``csc_referral`` events
4     social care assessments              coverage only
5     section 47 enquiries and ICPCs       ``s47`` events
6     children in need                     coverage only
7     child protection plans               ``cpp_start`` / ``cpp_end`` events
8     children in care                     ``cla_start`` events
====  ===================================  =============================================

Lists 9-11 (care leavers, adoption) are not read.

Column headings and code values are free text that differs between authorities, so
both are recognised by regular expressions (:data:`HEADINGS`, and the code patterns
below), and a ``data_map`` can add an authority's own.  Dates are read from real date
cells, from Excel serial numbers, or from text in DD/MM/YYYY or ISO form (detected per
column; a column mixing the two is an :class:`~ehimpact.errors.InputError`).

Child ids are hashed with :func:`ehimpact.data.privacy.pseudonymise` and the same salt
as the CIN census, SSDA903 and local-export readers, so the sources link.  Names of
workers, postcodes, URNs and full dates of birth are never kept (dates of birth become
the month of birth).

Annex A has no supported / not-supported decision: it cannot say which children an
early-help service supported, so the early-help export stays the source of the cohort.
Annex A can supply the outcomes (Lists 3, 5, 7, 8) when no CIN census or SSDA903 is
given, for the period the workbook covers (:attr:`AnnexAData.coverage`), which is
usually only the six to twelve months before an inspection.

The regular expressions are this module's own; liiatools' ``annex_a/data-map.yml``
(MIT) was read to learn the shapes of real headings and codes.

Examples
--------
>>> from ehimpact.data.annex_a import read_annex_a
>>> annex = read_annex_a("Annex_A.xlsx", salt="a-long-secret")   # doctest: +SKIP
>>> annex.coverage                                                 # doctest: +SKIP
>>> annex.events().event_type.value_counts()                       # doctest: +SKIP
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from ehimpact.data.cin import ETHNICITY_GROUPS, REFERRAL_SOURCE_GROUPS
from ehimpact.data.privacy import Salt, birth_month, pseudonymise, resolve_salt
from ehimpact.data.read_report import ReadReport, detect_date_format, parse_dates
from ehimpact.errors import InputError

__all__ = ["AnnexAData", "read_annex_a", "HEADINGS", "MAIN_DATE", "LIST_NAMES"]

LIST_NAMES = {1: "contacts", 2: "early help", 3: "referrals", 4: "assessments",
              5: "section 47 enquiries", 6: "children in need", 7: "child protection plans",
              8: "children in care"}  # fmt: skip

_COMMON: list[tuple[str, str, str]] = [
    # (field, kind, regular expression on the normalised heading)
    ("child_id", "id", r"^(child )?unique( child)? id|^child id|^(la )?child (unique )?(id|identifier)"),
    ("sex", "sex", r"^(gender|sex)\b"),
    ("ethnicity", "ethnicity", r"^ethnic"),
    ("birth_month", "dob", r"date of birth|^dob$|birth date"),
    ("age", "number", r"^age\b"),
    ("disability", "yesno", r"disab"),
]
#: Per list: the headings this reader uses, as (field, kind, regex on the heading lower-cased
#: with runs of spaces and punctuation collapsed).  The first field whose regex matches a
#: heading takes it; headings nobody matches are not read.
HEADINGS: dict[int, list[tuple[str, str, str]]] = {
    1: [("contact_date", "date", r"date of contact|contact date"),
        ("contact_source", "source", r"(contact )?source")],
    2: [("assessment_start", "date", r"(assessment )?start"),
        ("assessment_end", "date", r"complet|(assessment )?end date"),
        ("organisation", "text", r"organi[sz]ation|completing|provider")],
    3: [("referral_date", "date", r"date of (the )?referral|referral date"),
        ("referral_source", "source", r"(referral )?source"),
        ("referral_nfa", "yesno", r"\bnfa\b|no further action"),
        ("n_referrals_12m", "number", r"number of referrals")],
    4: [("assessment_start", "date", r"assessment start|start date"),
        ("assessment_authorised", "date", r"authori[sz]"),
        ("child_seen", "yesno", r"child seen")],
    5: [("s47_date", "date", r"(section 47|s47|strategy).*start|enquiry start|s47 date"),
        ("icpc_not_required", "yesno", r"unnecessary|not required"),
        ("icpc_date", "date", r"date of (the )?initial child protection conference|icpc date"),
        ("icpc_to_cpp", "yesno", r"result in a child protection plan"),
        ("n_s47_12m", "number", r"number of section 47"),
        ("n_icpc_12m", "number", r"number of icpcs?")],
    6: [("cin_start", "date", r"cin start|start date"),
        ("primary_need", "need", r"primary need"),
        ("cin_closure", "date", r"closure date"),
        ("closure_reason", "text", r"reason for closure"),
        ("case_status", "text", r"case status")],
    7: [("cpp_start", "date", r"plan start|cpp start"),
        ("initial_category", "abuse", r"initial category"),
        ("latest_category", "abuse", r"latest category"),
        ("cpp_end", "date", r"plan end|cpp end"),
        ("n_previous_cpp", "number", r"number of previous")],
    8: [("cla_start", "date", r"started to be looked after|date (entered|became) (looked after|care)"),
        ("category_of_need", "need", r"category of need"),
        ("legal_status_start", "date", r"start date of (the )?current legal status"),
        ("legal_status", "legal", r"legal status"),
        ("cla_end", "date", r"^date ceased"),
        ("reason_ceased", "text", r"^reason ceased"),
        ("placement_type", "text", r"placement type")],
}  # fmt: skip
#: The date that places each list's rows in time (its coverage and, for 3/5/7/8, the event).
MAIN_DATE = {1: "contact_date", 2: "assessment_start", 3: "referral_date", 4: "assessment_start",
             5: "s47_date", 6: "cin_start", 7: "cpp_start", 8: "cla_start"}
#: Headings never read (identifiers and workers' names), whatever a data map says.
NEVER_READ = re.compile(r"worker|postcode|post code|\burn\b|name|address|upn|nhs")
_EVENTS = [(3, "referral_date", "csc_referral", "referral_source"), (5, "s47_date", "s47", None),
           (7, "cpp_start", "cpp_start", "initial_category"), (7, "cpp_end", "cpp_end", None),
           (8, "cla_start", "cla_start", "legal_status")]
_EVENT_LISTS = {3, 5, 7, 8}

# ------------------------------------------------------------------ code patterns (ordered)
_SEX = [("female", r"fem|^b\)|^f$|^2$|^girl"), ("male", r"^a\)|^mal|^m$|^1$|^boy"),
        ("other_unknown", r".")]
_YESNO = [(1, r"^(a\) ?)?y(es)?\b|^1$|^true$"), (0, r"^(b\) ?)?no?\b|^0$|^false$")]
_ABUSE = [("MUL", r"multi|\bmul\b"), ("NEG", r"neglect|\bneg\b"), ("PHY", r"physical|\bphy\b"),
          ("SAB", r"sexual|\bsab\b"), ("EMO", r"emotion|\bemo\b")]
_ETHNIC_WORDS = [("mixed", r"mixed|white and|\bmw"), ("white", r"white|travell|gypsy|roma|irish"),
                 ("asian", r"asian|indian|pakistan|bangladesh"),
                 ("black", r"black|caribbean|african"), ("other", r"chinese|other|arab"),
                 ("unknown", r"refus|not (yet )?obtained|unknown|not stated|not known")]
_SOURCE_WORDS = [("police", r"police"), ("health", r"health|\bgp\b|nurse|hospital|midwi|a&e"),
                 ("school", r"school|educat|college|nursery"),
                 ("self_family", r"self|family|relative|carer|parent|individual|acquaint|neighbour"),
                 ("la_services", r"social care|housing|la services|local authority|legal"),
                 ("other", r"other|anonymous|unknown|probation|voluntary|court|yot|youth")]
_SOURCE_CODE = re.compile(r"^(?:[a-z]{1,2}\)\s*)?(10|[1-9][a-f]?)\s*[:\-.)]", re.I)
_ETHNIC_CODE = re.compile(r"\b(" + "|".join(ETHNICITY_GROUPS) + r")\b", re.I)
_LEGAL_CODE = re.compile(r"\b(C1|C2|D1|E1|V2|V3|V4|L1|L2|L3|J1|J2|J3)\b", re.I)
_NEED_CODE = re.compile(r"\bN([0-9])\b", re.I)
_SHEET = re.compile(r"^\s*(?:annex\s*a\s*[-_]?\s*)?list\s*0?(\d{1,2})\b", re.I)
_SERIAL = (32874, 73050)  # Excel serial numbers of 1990-01-01 and 2099-12-31
_ERRORS = {"#n/a", "#value!", "#ref!", "#div/0!", "#name?", "#null!", "#num!", "n/a", "na"}


@dataclass
class AnnexAData:
    """Tidy Annex A tables keyed by pseudonymous ``child_id``.

    Attributes
    ----------
    lists : dict of int -> DataFrame
        One table per list read, with the fields of :data:`HEADINGS` found in the sheet
        (``child_id`` hashed, ``birth_month`` instead of the date of birth, codes
        normalised: ``sex`` and ``ethnicity`` as the data dictionary's values,
        ``referral_source`` as its groups, categories of abuse as CIN codes, legal
        status and category of need as their DfE codes).
    coverage : DataFrame
        ``list, name, sheet, date_field, n_rows, earliest, latest`` per list read.
    authority_code : str or None
    report : ReadReport
        Every excluded row and every value set to missing, by reason.
    """

    lists: dict[int, pd.DataFrame]
    coverage: pd.DataFrame
    authority_code: str | None = None
    report: ReadReport = field(default_factory=ReadReport)
    file: str = ""

    def events(self, authority_code: str | None = None) -> pd.DataFrame:
        """Statutory events in the DATA_CONTRACT §2 layout, from Lists 3, 5, 7 and 8.

        ``csc_referral`` (List 3 date of referral; detail: referral-source group),
        ``s47`` (List 5 strategy discussion / section 47 start), ``cpp_start`` and
        ``cpp_end`` (List 7 plan start and end; detail: initial category of abuse) and
        ``cla_start`` (List 8 date started to be looked after; detail: legal status).

        Returns
        -------
        DataFrame
            ``child_id, authority_code, event_type, event_date, detail, source``; one row
            per child, event type and date.
        """
        parts = []
        for number, date_col, kind, detail in _EVENTS:
            table = self.lists.get(number)
            if table is None or date_col not in table:
                continue
            rows = table.loc[table[date_col].notna()]
            parts.append(pd.DataFrame({
                "child_id": rows["child_id"].to_numpy(),
                "event_type": kind,
                "event_date": rows[date_col].to_numpy(),
                "detail": rows[detail].to_numpy() if detail and detail in rows else None,
                "source": f"annex_a list {number}",
            }))  # fmt: skip
        columns = ["child_id", "authority_code", "event_type", "event_date", "detail", "source"]
        if not parts:
            return pd.DataFrame({c: pd.Series(dtype="datetime64[ns]" if c == "event_date" else object)
                                 for c in columns})
        out = pd.concat(parts, ignore_index=True)
        out = out.drop_duplicates(["child_id", "event_type", "event_date"], keep="first")
        out.insert(1, "authority_code", authority_code or self.authority_code)
        out["event_date"] = out["event_date"].astype("datetime64[ns]")
        return out.sort_values(["child_id", "event_date", "event_type"], kind="stable").reset_index(
            drop=True)[columns]

    def reach(self) -> dict[str, Any]:
        """Early-help reach from List 2 (counts of children and assessments, not identifiers).

        Returns
        -------
        dict
            ``children`` (distinct children with an early-help assessment), ``assessments``,
            ``completed``, ``open`` (no completion date), ``earliest`` and ``latest``
            assessment start (ISO dates), and ``by_organisation`` (assessments per
            organisation completing them).  Empty when the workbook has no List 2.
            Counts are raw: apply disclosure control before publishing them.
        """
        table = self.lists.get(2)
        if table is None:
            return {}
        start = table.get("assessment_start")
        end = table.get("assessment_end")
        out: dict[str, Any] = {
            "children": int(table["child_id"].nunique()),
            "assessments": int(len(table)),
            "completed": int(end.notna().sum()) if end is not None else None,
            "open": int(end.isna().sum()) if end is not None else None,
            "earliest": _iso(start.min()) if start is not None else None,
            "latest": _iso(start.max()) if start is not None else None,
        }
        if "organisation" in table:
            counts = table["organisation"].fillna("(not recorded)").value_counts()
            out["by_organisation"] = {str(k): int(v) for k, v in counts.items()}
        return out


def _iso(value: Any) -> str | None:
    return None if pd.isna(value) else pd.Timestamp(value).date().isoformat()


# ------------------------------------------------------------------ reading


def read_annex_a(
    path: str | Path,
    *,
    salt: str | Salt | None = None,
    authority_code: str | None = None,
    data_map: str | Path | Mapping[str, Any] | None = None,
) -> AnnexAData:
    """Read Lists 1-8 of an Ofsted Annex A workbook.

    Parameters
    ----------
    path : str or Path
        The ``.xlsx`` workbook.  Sheets are found by name (``List 3``, ``List 3 -
        Referrals``, ``Annex A List 3``, ...).
    salt : str or Salt, optional
        Secret for the child-id hash (``$EHIMPACT_SALT`` by default); the same as for
        the other readers, so the sources link.
    authority_code : str, optional
        GSS code attached to the events.
    data_map : path or dict, optional
        Extra heading patterns for an authority's own column names, tried before the
        built-in ones::

            headings:
              3: {referral_date: ["date referral received"]}
              8: {cla_start: ["lac start"]}

        Fields and kinds are those of :data:`HEADINGS`.

    Returns
    -------
    AnnexAData

    Raises
    ------
    InputError
        The file is not an Excel workbook or has no ``List N`` sheet; a list that gives
        events (3, 5, 7, 8) or reach (2) lacks its child id or its date column (the
        message lists the headings found); a date column mixes DD/MM/YYYY and ISO text;
        the data map is malformed.

    Notes
    -----
    Rows with a blank child id, or with a blank or unreadable main date, are excluded
    and counted by reason in ``report`` (:meth:`ReadReport.exclusions`).  Codes that no
    pattern recognises are set to missing and counted, never guessed.
    """
    from ehimpact.data.load import sniff

    path = Path(path)
    if not path.is_file():
        raise InputError(f"file not found: {path}", field="annex_a", fix="check the path")
    kind = sniff(path)
    if kind != "zip":
        what = {"text": "text (CSV?)", "ole": "an old-style .xls or password-protected workbook",
                "empty": "empty"}.get(kind, f"{kind} data")
        raise InputError(f"{path.name} is not an Excel .xlsx workbook: its content is {what}",
                         field="annex_a",
                         fix="save Annex A as an .xlsx workbook without a password")
    key = resolve_salt(salt)
    extra = _load_data_map(data_map)
    report = ReadReport()
    sheets = _read_sheets(path)
    found: dict[int, tuple[str, list[tuple[Any, ...]]]] = {}
    for name, rows in sheets.items():
        m = _SHEET.match(name)
        number = int(m.group(1)) if m else None
        if number is None or number not in HEADINGS:
            report.add(file=path, record=f"sheet {name!r}", field="", action="ignored",
                       problem="not one of Annex A lists 1-8")
            continue
        if number in found:
            raise InputError(f"{path.name} has two sheets for list {number}: {found[number][0]!r} "
                             f"and {name!r}", field="annex_a", fix="keep one sheet per list")
        found[number] = (name, rows)
    if not found:
        raise InputError(f"{path.name} has no Annex A list sheets (sheets: "
                         f"{', '.join(map(repr, sheets))})", field="annex_a",
                         fix="name the sheets 'List 1' ... 'List 8' as in Ofsted's template")
    lists: dict[int, pd.DataFrame] = {}
    coverage = []
    for number in sorted(found):
        name, rows = found[number]
        table = _read_list(path, number, name, rows, key, report, extra.get(number, []))
        if table is None:
            continue
        lists[number] = table
        date_col = MAIN_DATE[number]
        dates = table[date_col] if date_col in table else pd.Series(dtype="datetime64[ns]")
        coverage.append({"list": number, "name": LIST_NAMES[number], "sheet": name,
                         "date_field": date_col, "n_rows": len(table),
                         "earliest": dates.min() if len(dates) else pd.NaT,
                         "latest": dates.max() if len(dates) else pd.NaT})
    for number in sorted(set(LIST_NAMES) - set(found)):
        report.add(file=path, record="workbook", field=f"List {number}", action="ignored",
                   problem="list not in the workbook")
    cov = pd.DataFrame(coverage, columns=["list", "name", "sheet", "date_field", "n_rows",
                                          "earliest", "latest"])
    return AnnexAData(lists=lists, coverage=cov, authority_code=authority_code, report=report,
                      file=path.name)


def _load_data_map(data_map: str | Path | Mapping[str, Any] | None) -> dict[int, list[tuple[str, str, str]]]:
    if data_map is None:
        return {}
    if isinstance(data_map, (str, Path)):
        from ehimpact.yamlio import safe_load

        p = Path(data_map)
        if not p.is_file():
            raise InputError(f"data map not found: {p}", field="data_map", fix="check the path")
        try:
            doc = safe_load(p.read_text(encoding="utf-8"), source=p.name)
        except Exception as err:  # noqa: BLE001 - yaml errors of any kind, one line
            if isinstance(err, InputError):
                raise
            raise InputError(f"{p.name} is not valid YAML ({str(err).splitlines()[0]})",
                             field="data_map", fix="fix the YAML syntax") from None
    else:
        doc = dict(data_map)
    headings = doc.get("headings") if isinstance(doc, dict) else None
    if not isinstance(headings, dict) or set(doc) - {"headings"}:
        raise InputError("a data map needs one key, headings:, with list number -> field -> "
                         "patterns", field="data_map",
                         fix="write headings: then e.g. 3: {referral_date: ['date referral received']}")
    out: dict[int, list[tuple[str, str, str]]] = {}
    for number, fields in headings.items():
        try:
            n = int(str(number).lower().replace("list", "").strip())
        except ValueError:
            n = -1
        if n not in HEADINGS or not isinstance(fields, dict):
            raise InputError(f"data map: {number!r} is not a list number 1-8 with fields",
                             field="data_map", fix="use 1 ... 8 as keys under headings:")
        kinds = {f: k for f, k, _ in _COMMON + HEADINGS[n]}
        for fname, patterns in fields.items():
            if fname not in kinds:
                raise InputError(f"data map: list {n} has no field {fname!r}", field="data_map",
                                 fix=f"use one of {', '.join(kinds)}")
            patterns = [patterns] if isinstance(patterns, str) else patterns
            for pattern in patterns or []:
                try:
                    re.compile(str(pattern))
                except re.error as err:
                    raise InputError(f"data map: pattern {pattern!r} for {fname} is not a regular "
                                     f"expression ({err})", field="data_map",
                                     fix="fix the pattern") from None
                out.setdefault(n, []).append((fname, kinds[fname], str(pattern).lower()))
    return out


def _read_sheets(path: Path) -> dict[str, list[tuple[Any, ...]]]:
    import openpyxl

    try:
        book = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except Exception as err:  # noqa: BLE001 - openpyxl raises many types for a damaged workbook
        raise InputError(f"{path.name} cannot be read as an Excel workbook ({type(err).__name__})",
                         field="annex_a", fix="open it in Excel and save it again as .xlsx") from None
    try:
        return {ws.title: list(ws.iter_rows(values_only=True)) for ws in book.worksheets}
    finally:
        book.close()


def _norm_heading(value: Any) -> str:
    text = str(value or "").replace("\u2018", "'").replace("\u2019", "'").lower()
    return re.sub(r"[\s_]+", " ", re.sub(r"[^\w'&/?()\s-]", " ", text)).strip()


def _match_headings(header: list[str], number: int,
                    extra: list[tuple[str, str, str]]) -> dict[str, tuple[int, str]]:
    """Field -> (column position, kind) for the headings this reader recognises."""
    normed = [_norm_heading(h) for h in header]
    taken: set[int] = set()
    out: dict[str, tuple[int, str]] = {}
    for fname, kind, pattern in extra + _COMMON + HEADINGS[number]:
        if fname in out:
            continue
        rx = re.compile(pattern)
        for i, h in enumerate(normed):
            if i in taken or not h or NEVER_READ.search(h) and fname != "child_id":
                continue
            if rx.search(h):
                out[fname] = (i, kind)
                taken.add(i)
                break
    return out


def _read_list(path: Path, number: int, sheet: str, rows: list[tuple[Any, ...]], salt: Salt,
               report: ReadReport, extra: list[tuple[str, str, str]]) -> pd.DataFrame | None:
    first = next((i for i, r in enumerate(rows) if any(not _blank(v) for v in r)), None)
    label = f"List {number}"
    if first is None:
        report.add(file=path, record=f"sheet {sheet!r}", field="", action="ignored",
                   problem="sheet is empty")
        report.count(path, label, read=0, kept=0)
        return _empty_list(number)
    header = [str(v).strip() if v is not None else "" for v in rows[first]]
    fields = _match_headings(header, number, extra)
    needed = ["child_id", MAIN_DATE[number]]
    missing = [f for f in needed if f not in fields]
    if missing:
        heads = ", ".join(repr(h) for h in header if h)[:600]
        if number in _EVENT_LISTS or number == 2:
            raise InputError(
                f"{path.name} sheet {sheet!r} (list {number}, {LIST_NAMES[number]}): no column for "
                f"{' and '.join(missing)}; its headings are {heads}",
                field=f"annex_a {label}",
                fix="rename the heading as in Ofsted's Annex A template, or give a data_map with "
                f"a pattern for {', '.join(missing)}",
            )
        report.add(file=path, record=f"sheet {sheet!r}", field=", ".join(missing), action="ignored",
                   problem="list skipped: no column for " + " and ".join(missing))
        return None
    body = []
    records = []
    for offset, row in enumerate(rows[first + 1:], start=first + 2):
        if all(_blank(v) for v in row):
            continue
        body.append([row[i] if i < len(row) else None for i, _ in fields.values()])
        records.append(f"{sheet} row {offset}")
    raw = pd.DataFrame(body, columns=list(fields), dtype=object)
    raw["_record"] = records
    n_read = len(raw)
    out = pd.DataFrame(index=raw.index)
    bad = pd.Series(False, index=raw.index)
    for fname, (_, kind) in fields.items():
        heading = header[fields[fname][0]]
        if kind == "id":
            continue
        if kind in ("date", "dob"):
            cells = raw[fname].map(_date_cell)
            frame = pd.DataFrame({fname: cells, "_record": raw["_record"]})
            fmt = detect_date_format(frame, fname, file=f"{path.name} sheet {sheet!r}", label=heading)
            required = fname == MAIN_DATE[number]
            dates, excl = parse_dates(frame, fname, fmt=fmt, file=path, report=report,
                                      required=required, label=f"{label} {heading}")
            if required:
                bad |= excl
            out[fname] = birth_month(dates) if kind == "dob" else dates
        elif kind == "number":
            out[fname] = _numbers(raw, fname, path, report, f"{label} {heading}")
        elif kind == "text":
            text = raw[fname].map(_text)
            out[fname] = text.astype(object).where(text.notna(), None)
        else:
            out[fname] = _codes(raw, fname, kind, path, report, f"{label} {heading}")
    ids = raw["child_id"].map(_text)
    blank_id = ids.isna()
    for rec in raw.loc[blank_id, "_record"]:
        report.add(file=path, record=rec, field=f"{label} {header[fields['child_id'][0]]}",
                   problem="blank child id", action="record excluded")
    bad |= blank_id
    out.insert(0, "child_id", pseudonymise(ids, salt))
    keep = ~bad
    date_col = MAIN_DATE[number]
    dup = out.loc[keep].duplicated(keep="first").reindex(out.index, fill_value=False)
    for rec in raw.loc[dup, "_record"]:
        report.add(file=path, record=rec, field=f"{label} {date_col}",
                   problem="duplicate row (the same child and values as an earlier row)",
                   action="duplicate excluded")
    keep &= ~dup
    report.count(path, label, read=n_read, kept=int(keep.sum()))
    return out.loc[keep].reset_index(drop=True)


def _empty_list(number: int) -> pd.DataFrame:
    cols = {"child_id": pd.Series(dtype=object)}
    for fname, kind, _ in _COMMON[1:] + HEADINGS[number]:
        cols[fname] = pd.Series(dtype="datetime64[ns]" if kind in ("date", "dob") else object)
    return pd.DataFrame(cols)


def _blank(value: Any) -> bool:
    return value is None or (isinstance(value, str) and (not value.strip()
                                                         or value.strip().lower() in _ERRORS))


def _text(value: Any) -> str | None:
    if _blank(value) or (isinstance(value, float) and value != value):
        return None
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return re.sub(r"\s+", " ", str(value).replace("\xa0", " ")).strip()


def _date_cell(value: Any) -> Any:
    """A date column's cell: dates stay dates, Excel serial numbers become dates, text stays text."""
    if _blank(value):
        return None
    if isinstance(value, dt.datetime):
        return pd.Timestamp(value) if 1900 <= value.year <= 2099 else value
    if isinstance(value, dt.date):
        return pd.Timestamp(value)
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        if _SERIAL[0] <= value <= _SERIAL[1]:
            return pd.Timestamp("1899-12-30") + pd.Timedelta(days=int(value))
        return str(value)
    return str(value).strip()


def _numbers(raw: pd.DataFrame, fname: str, path: Path, report: ReadReport, label: str) -> pd.Series:
    text = raw[fname].map(_text)
    values = pd.to_numeric(text, errors="coerce")
    invalid = text.notna() & (values.isna() | ~(values.abs() <= 1e6).fillna(False))
    values = values.where(~invalid)
    for rec in raw.loc[invalid, "_record"]:
        report.add(file=path, record=rec, field=label, problem="not a number (or beyond a million)",
                   action="value set to missing")
    if fname == "age" or fname.startswith("n_"):  # whole years / counts
        values = values.where(values.isna(), values.fillna(0).astype(float).apply(int))
        return values.astype("Int64")
    return values


def _match(value: str, patterns: list[tuple[Any, str]]) -> Any:
    for code, pattern in patterns:
        if re.search(pattern, value):
            return code
    return None


def _code(value: str | None, kind: str) -> Any:
    if not isinstance(value, str):
        return None
    low = value.lower()
    if kind == "sex":
        return _match(low, _SEX)
    if kind == "yesno":
        return _match(low, _YESNO)
    if kind == "abuse":
        return _match(low, _ABUSE)
    if kind == "ethnicity":
        m = _ETHNIC_CODE.search(value)
        return ETHNICITY_GROUPS[m.group(1).upper()] if m else _match(low, _ETHNIC_WORDS)
    if kind == "source":
        m = _SOURCE_CODE.match(value)
        if m and m.group(1).upper() in REFERRAL_SOURCE_GROUPS:
            return REFERRAL_SOURCE_GROUPS[m.group(1).upper()]
        return _match(low, _SOURCE_WORDS)
    if kind == "legal":
        m = _LEGAL_CODE.search(value)
        return m.group(1).upper() if m else None
    if kind == "need":
        m = _NEED_CODE.search(value)
        return f"N{m.group(1)}" if m else None
    return value


def _codes(raw: pd.DataFrame, fname: str, kind: str, path: Path, report: ReadReport,
           label: str) -> pd.Series:
    text = raw[fname].map(_text)
    values = text.map(lambda v: _code(v, kind))
    if kind == "ethnicity":  # a blank ethnicity is "not known", as in the CIN census
        values = values.where(text.notna(), "unknown")
    unknown = text.notna() & values.isna()
    for rec in raw.loc[unknown, "_record"]:
        report.add(file=path, record=rec, field=label,
                   problem=f"value not recognised as a {kind.replace('yesno', 'yes/no')} code",
                   action="value set to missing")
    if kind == "yesno":
        return pd.to_numeric(values, errors="coerce").astype("Int8")
    return values.astype(object).where(values.notna(), None)
