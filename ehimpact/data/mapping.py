"""Column mapping for a local early-help export (case-management system → ``child_level``).

Every authority's case-management system (Liquidlogic EHM, Mosaic, Capita One, ...)
exports early-help episodes with its own column names and codes.  A small YAML file
says which export column feeds which ``child_level`` field (DATA_CONTRACT §1), how to
translate its codes, and how its dates are written::

    source: "Anytown EHM episode export"
    date_format: "%d/%m/%Y"             # default for every date field
    constants:
      authority_code: E06000036         # a value for the whole file
    fields:
      child_id: "Person ID"             # short form: just the column
      referral_date: "Referral Date"
      end_date: {column: "Closed", format: "%Y-%m-%d"}
      received_early_help:
        column: "Outcome"
        codes: {Supported: 1, "Waiting list": 0, Declined: 0}
      sex: {column: "Gender", codes: {F: female, M: male, U: other_unknown}}
      date_of_birth: "DOB"              # used for age at referral, then dropped

Columns the mapping does not name are never read into the output, so names,
addresses and postcodes in the export are discarded by construction.  The mapping is
validated before any data is touched (:func:`load_mapping`); applying it
(:func:`read_local_export`) reports every invalid value with counts, never a child's
record.

Blank cells
    A blank cell is missing unless the mapping says otherwise.  Comparison children
    who were assessed but not supported usually have no service; send their blank
    cells to a code in either of two equivalent ways::

        intervention_type:
          column: "Service"
          codes: {KW: key_worker, PP: parenting_programme, "": none}   # "" = a blank cell
        intervention_type: {column: "Service", codes: {KW: key_worker}, blank: none}

    ``blank:`` works for any field, coded or not (e.g. ``fsm: {column: FSM, blank: 0}``).

Unknown codes
    Every code value found in a coded column (or a category or 0/1 column) must be in
    the mapping.  A value the mapping does not know is never dropped quietly: the read
    stops with one :class:`~ehimpact.errors.InputError` listing, per field and column,
    every unknown value with its count (at most :data:`MAX_LISTED_CODES` per field;
    code values are codes, not identifiers).  Add each to ``codes:``; to mean "missing"
    on purpose, map it to ``null`` (``codes: {"Not recorded": null}``).

Dates
    ``date_format:`` (top level) or ``format:`` (per field) gives the strftime format.
    Without one, each date column is detected as DD/MM/YYYY or YYYY-MM-DD; a column
    that mixes the two is an error naming the column and both formats' counts.
    Excel date cells are read as dates whatever the format says.

Excel
    ``.xlsx`` and ``.xlsm`` exports are read with their native date cells.  ``sheet:``
    (top level) names the sheet or gives its position from 0 (default: the first)::

        sheet: "EH episodes"

Refused mappings
    Two fields mapped to one column (``start_date`` and ``end_date`` both "Episode
    Start", or ``family_id`` on the child id column), a key written twice in the YAML
    (the second would silently win), YAML aliases, and an export with no data rows are
    all errors, each naming what is wrong.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping as MappingABC
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml

from ehimpact.data.privacy import (
    Salt,
    age_at,
    direct_identifiers,
    pseudonymise,
    resolve_salt,
)
from ehimpact.data.read_report import (
    DMY,
    ISO,
    ReadReport,
    check_order,
    detect_date_format,
    map_codes,
    parse_dates,
    read_csv_records,
)
from ehimpact.errors import InputError
from ehimpact.yamlio import safe_load

__all__ = ["FIELDS", "REQUIRED", "MAX_LISTED_CODES", "ColumnMapping", "LocalExport", "load_mapping",
           "read_local_export"]

#: At most this many unknown code values are listed per field in an error (all are counted).
MAX_LISTED_CODES = 20
_NO_BLANK = object()  # sentinel: blank cells stay missing

_CATEGORIES: dict[str, tuple[str, ...]] = {
    "intervention_type": ("key_worker", "parenting_programme", "family_hub", "targeted_youth", "none"),
    "referral_source": ("school", "health", "police", "self_family", "la_services", "other"),
    "sex": ("female", "male", "other_unknown"),
    "ethnicity": ("white", "mixed", "asian", "black", "other", "unknown"),
}
_FLAGS = ("received_early_help", "disability_sen", "fsm", "tf_crime", "tf_school",
          "tf_children_need_help", "tf_worklessness", "tf_domestic_abuse", "tf_health",
          "exclusion_12m", "yj_entry_24m")  # fmt: skip

#: child_level fields a local export can feed, with their kind.  Outcomes derived from
#: statutory events (csc_referral_12m, s47_12m, cpp_12m, cla_24m, reref_eh_12m) and
#: index_date are derived, not mapped.
FIELDS: dict[str, str] = {
    "child_id": "id", "family_id": "id", "authority_code": "string",
    "referral_date": "date", "assessment_date": "date", "start_date": "date", "end_date": "date",
    "date_of_birth": "dob", "age": "int", "prior_contacts": "int", "absence_rate": "float",
    "synthetic": "bool",
    **{f: "flag" for f in _FLAGS},
    **{f: "category" for f in _CATEGORIES},
}  # fmt: skip
#: Fields every mapping must provide.
REQUIRED: tuple[str, ...] = ("child_id", "referral_date", "end_date", "received_early_help")
_RANGES = {"age": (0, 17), "prior_contacts": (0, 1000), "absence_rate": (0.0, 100.0)}
_TRUE = {"1", "y", "yes", "true", "t"}
_FALSE = {"0", "n", "no", "false", "f"}
_TOP_KEYS = {"source", "date_format", "constants", "fields", "drop", "sheet", "description"}


@dataclass(frozen=True)
class FieldMap:
    """How one ``child_level`` field is read: source column, date format, code map."""

    target: str
    column: str | None
    constant: Any = None
    fmt: str | None = None
    codes: dict[str, Any] | None = None
    blank: Any = _NO_BLANK
    fmt_given: bool = False


@dataclass(frozen=True)
class ColumnMapping:
    """A validated column mapping (see the module docstring for the YAML layout).

    Attributes
    ----------
    fields : dict
        Target field -> :class:`FieldMap`.
    source : str
        Free-text description of the export.
    sheet : str or int or None
        Excel sheet to read (first sheet by default).
    """

    fields: dict[str, FieldMap]
    source: str = ""
    sheet: str | int | None = None

    @property
    def columns(self) -> list[str]:
        """Export columns the mapping reads."""
        return [f.column for f in self.fields.values() if f.column is not None]


@dataclass
class LocalExport:
    """A local early-help export read through a mapping.

    Attributes
    ----------
    children : DataFrame
        ``child_level`` input fields (pseudonymous ids, no direct identifiers).
    referrals : DataFrame
        ``child_id, referral_date`` of every row with a valid id and referral date
        (the ``eh_referral`` events, including rows excluded from ``children``).
    unmapped : DataFrame
        ``field, column, code, n``: codes found in the data that the mapping does not
        translate (counts and codes only).
    report : ReadReport
    dropped : list of str
        Export columns the mapping does not read (never loaded: names, addresses, ...).
    """

    children: pd.DataFrame
    referrals: pd.DataFrame
    unmapped: pd.DataFrame
    report: ReadReport = field(default_factory=ReadReport)
    dropped: list[str] = field(default_factory=list)


# --------------------------------------------------------------------------- mapping


def load_mapping(mapping: str | Path | MappingABC[str, Any]) -> ColumnMapping:
    """Read and validate a column-mapping YAML file (or an already-parsed dict).

    Parameters
    ----------
    mapping : path or dict

    Returns
    -------
    ColumnMapping

    Raises
    ------
    InputError
        One error listing every problem: unknown keys or target fields (with the
        closest valid name), required fields not mapped, code maps to values the data
        dictionary does not allow, direct identifiers as targets.  ``.problems`` holds
        the table.

    Examples
    --------
    >>> m = load_mapping({"fields": {"child_id": "ID", "referral_date": "Ref",
    ...     "end_date": "End", "received_early_help": {"column": "Sup", "codes": {"Y": 1, "N": 0}}}})
    >>> sorted(m.fields)
    ['child_id', 'end_date', 'received_early_help', 'referral_date']
    """
    name = "mapping"
    if isinstance(mapping, (str, Path)):
        path = Path(mapping)
        name = path.name
        if not path.is_file():
            raise InputError(f"mapping file not found: {path}", field="mapping",
                             fix="check the path to the column-mapping YAML")
        try:
            doc = safe_load(path.read_text(encoding="utf-8"), source=name)
        except yaml.YAMLError as err:
            raise InputError(f"{name} is not valid YAML ({str(err).splitlines()[0]})",
                             field="mapping", fix="fix the YAML syntax (indentation, colons, quotes)") from None
    else:
        doc = dict(mapping)
    if not isinstance(doc, dict) or not isinstance(doc.get("fields"), dict):
        raise InputError(f"{name} has no 'fields:' section", field="mapping",
                         fix="add 'fields:' with one 'child_level_field: Export Column' per line")
    problems: list[dict[str, str]] = []

    def bad(key: str, problem: str, fix: str) -> None:
        problems.append({"field": key, "rows": "", "problem": problem, "fix": fix})

    for key in sorted(set(doc) - _TOP_KEYS):
        bad(key, "unknown top-level key", f"use only {', '.join(sorted(_TOP_KEYS))}")
    default_fmt = doc.get("date_format")
    fields: dict[str, FieldMap] = {}
    constants = doc.get("constants") or {}
    if not isinstance(constants, dict):
        bad("constants", "must be a mapping of field: value", "write 'constants:' then 'field: value' lines")
        constants = {}
    entries = [(t, s, False) for t, s in doc["fields"].items()] + [
        (t, v, True) for t, v in constants.items()
    ]
    for target, spec, is_constant in entries:
        target = str(target)
        if target != "date_of_birth" and direct_identifiers([target]):
            bad(target, "is a direct identifier and may not be loaded",
                "remove it from the mapping: identifiers are dropped on load")
            continue
        if target not in FIELDS:
            near = difflib.get_close_matches(target, list(FIELDS), n=1)
            hint = f"did you mean '{near[0]}'?" if near else f"valid fields: {', '.join(FIELDS)}"
            bad(target, "is not a child_level field", hint)
            continue
        if target in fields:
            bad(target, "is mapped twice (in fields and constants)", "keep one")
            continue
        if is_constant:
            fields[target] = FieldMap(target, None, constant=spec)
            continue
        if isinstance(spec, str):
            spec = {"column": spec}
        if not isinstance(spec, dict) or not isinstance(spec.get("column"), str):
            bad(target, "needs a source column name", f"write '{target}: Export Column Name'")
            continue
        unknown = set(spec) - {"column", "format", "codes", "blank"}
        if unknown:
            bad(target, f"unknown option(s) {sorted(unknown)}", "use column, format, codes, blank")
        codes = spec.get("codes")
        blank = _NO_BLANK
        if codes is not None:
            if not isinstance(codes, dict):
                bad(target, "codes must be a mapping 'their code: dictionary value'", "fix the YAML")
                codes = None
            else:
                codes = {("" if k is None else str(k).strip()): v for k, v in codes.items()}
                for code, value in codes.items():
                    if value is not None and not _allowed(target, value):
                        bad(target, f"code {code!r} maps to {value!r}, which is not allowed",
                            f"map it to one of {_allowed_text(target)}")
                if "" in codes:
                    blank = codes.pop("")
        if "blank" in spec:
            if blank is not _NO_BLANK and blank != spec["blank"]:
                bad(target, f"blank cells mapped twice ('' in codes and blank: {spec['blank']!r})",
                    "keep one of them")
            blank = spec["blank"]
            if blank is not None and not _allowed(target, blank):
                bad(target, f"blank: {blank!r} is not allowed", f"use one of {_allowed_text(target)}")
        is_date = FIELDS[target] in ("date", "dob")
        fmt_given = is_date and ("format" in spec or default_fmt is not None)
        fmt = spec.get("format", default_fmt if is_date else None)
        if fmt is not None and not _date_format_ok(fmt):
            bad(target, f"date format {fmt!r} cannot read dates back",
                "use strftime codes such as '%d/%m/%Y' or '%Y-%m-%d'")
            fmt = None
        fields[target] = FieldMap(target, spec["column"], fmt=fmt, codes=codes, blank=blank,
                                  fmt_given=fmt_given)
    by_column: dict[str, list[str]] = {}
    for target, fm in fields.items():
        if fm.column is not None:
            by_column.setdefault(fm.column.strip(), []).append(target)
    for column, targets in by_column.items():
        if len(targets) > 1:
            bad(" and ".join(targets), f"fields {' and '.join(targets)} are all mapped to the one column "
                f"{column!r}", "map each field to its own column (a date or id column cannot "
                "stand for two fields)")
    for required in REQUIRED:
        if required not in fields:
            bad(required, "required field is not mapped", f"add '{required}: <export column>' under fields")
    drop = doc.get("drop") or []
    if not isinstance(drop, list) or not all(isinstance(c, str) for c in drop):
        bad("drop", "must be a list of column names", "write drop: [Forename, Surname, Postcode]")
    else:
        mapped = {f.column for f in fields.values() if f.column}
        for column in sorted(set(drop) & mapped):
            bad("drop", f"column {column!r} is both mapped and dropped", "remove it from one list")
    if problems:
        table = pd.DataFrame(problems)
        listing = "; ".join(f"{p['field']}: {p['problem']}" for p in problems)
        raise InputError(f"{name}: {len(problems)} problem(s) in the column mapping: {listing}",
                         field="mapping", fix="; ".join(dict.fromkeys(p["fix"] for p in problems)),
                         problems=table)
    sheet = doc.get("sheet")
    return ColumnMapping(fields=fields, source=str(doc.get("source", "")), sheet=sheet)


def _date_format_ok(fmt: Any) -> bool:
    """A format must write and read back a day, month and year unchanged."""
    if not isinstance(fmt, str):
        return False
    day = pd.Timestamp("2021-11-23")
    try:
        return bool(pd.to_datetime(pd.Series([day.strftime(fmt)]), format=fmt).iloc[0] == day)
    except (ValueError, TypeError):
        return False


@lru_cache(maxsize=1)
def _dictionary_categories() -> dict[str, tuple[str, ...]]:
    """Allowed values of the category fields: the data dictionary's, else the contract's."""
    try:
        from ehimpact.data.dictionary import get

        fields = get("child_level").fields
        return {name: tuple(fields[name].allowed or _CATEGORIES[name]) for name in _CATEGORIES}
    except Exception:  # dictionary not installed/readable: the DATA_CONTRACT lists
        return dict(_CATEGORIES)


def _allowed(target: str, value: Any) -> bool:
    kind = FIELDS[target]
    if kind == "category":
        return value in _dictionary_categories()[target]
    if kind in ("flag", "bool"):
        return value in (0, 1, True, False)
    return True


def _allowed_text(target: str) -> str:
    kind = FIELDS[target]
    if kind == "category":
        return ", ".join(_dictionary_categories()[target])
    return "0 or 1"


# --------------------------------------------------------------------------- applying


def read_local_export(
    path: str | Path,
    mapping: str | Path | MappingABC[str, Any] | ColumnMapping,
    *,
    salt: str | Salt | None = None,
    episodes: str = "first",
    unknown_codes: str = "error",
) -> LocalExport:
    """Read a local early-help export (CSV or Excel) through a column mapping.

    Parameters
    ----------
    path : str or Path
        ``.csv``, ``.xlsx`` or ``.xls`` file.
    mapping : path, dict or ColumnMapping
        See :func:`load_mapping`.
    salt : str or Salt, optional
        Secret for the id hash (``$EHIMPACT_SALT`` by default); use the same one as for
        the CIN census and SSDA903 so the sources link.
    episodes : {"first", "all"}, default "first"
        ``"first"``: each child's earliest referral is the evaluated episode and later
        rows are re-referrals (``eh_referral`` events only, not validated as episodes).
        ``"all"``: every row is an episode.
    unknown_codes : {"error", "missing"}, default "error"
        What a code value the mapping does not know does.  ``"error"``: the read stops
        with one :class:`~ehimpact.errors.InputError` listing every unknown value with
        its count per field and column.  ``"missing"``: the value is set to missing and
        listed in ``LocalExport.unmapped`` and the read report (for exploring a new
        export; never the default, because a dropped code can move the estimate).

    Returns
    -------
    LocalExport

    Raises
    ------
    InputError
        If the mapping is invalid, the file cannot be read or has no data rows, a mapped
        column is not in the file (the message lists the missing and the available
        columns), a date column mixes DD/MM/YYYY and ISO dates, or (by default) a code
        value is not in the mapping.

    Notes
    -----
    Records are excluded (and reported with their line and field) when the child id
    is blank, the referral date is blank or invalid, the end date is before the start
    date, the start date is before the referral date, a supported episode has no end
    date (still open), or the row repeats an earlier child id and referral date.
    Invalid optional values are set to missing and reported.  When ``date_of_birth`` is
    mapped, age at referral is computed from the full date and the date is dropped.

    Examples
    --------
    >>> eh = read_local_export("eh_episodes.csv", "config/mapping_example.yaml",
    ...                        salt="a-long-secret")  # doctest: +SKIP
    >>> eh.unmapped  # doctest: +SKIP
    """
    if unknown_codes not in ("error", "missing"):
        raise InputError(f"unknown unknown_codes={unknown_codes!r}", field="unknown_codes",
                         fix='use "error" (the default) or "missing"')
    if episodes not in ("first", "all"):
        raise InputError(f"unknown episodes={episodes!r}", field="episodes",
                         fix='use "first" (earliest referral per child) or "all"')
    spec = mapping if isinstance(mapping, ColumnMapping) else load_mapping(mapping)
    key = resolve_salt(salt)
    path = Path(path)
    report = ReadReport()
    raw = _read_raw(path, spec, report)
    if raw.attrs.get("n_lines", len(raw)) == 0:
        raise InputError(f"{path.name} has a header line but no data rows", field="local_export",
                         fix="export the episodes again (check the date range and filters of "
                         "the export), or point local_export at the right file")
    missing = [c for c in spec.columns if c not in raw.columns]
    if missing:
        available = [c for c in raw.columns if c != "_record"]
        raise InputError(
            f"{path.name} lacks mapped column(s) {', '.join(map(repr, missing))}; "
            f"it has {', '.join(map(repr, available[:30]))}",
            field="local_export",
            fix="correct the column names in the mapping YAML (or the export's header line)",
        )
    out = pd.DataFrame(index=raw.index)
    bad = pd.Series(False, index=raw.index)
    unmapped: list[dict[str, Any]] = []
    for target, fm in spec.fields.items():
        if fm.column is None:
            out[target] = fm.constant
            continue
        kind = FIELDS[target]
        if fm.codes is not None:
            out[target] = _coded(raw, fm, path, report, unmapped)
            if kind in ("int", "float", "flag", "bool"):
                out[target] = pd.to_numeric(out[target], errors="coerce")
                if kind in ("flag", "bool"):
                    out[target] = out[target].astype("Int8")
        elif kind in ("date", "dob"):
            required = target == "referral_date"
            fmt = _date_format(raw, fm, path)
            out[target], excl = parse_dates(raw, fm.column, fmt=fmt, file=path,
                                            report=report, required=required, label=fm.column)
            bad |= excl
        elif kind in ("flag", "bool"):
            out[target] = _flag(raw, fm, path, report, unmapped)
        elif kind in ("int", "float"):
            out[target] = _number(raw, fm, kind, path, report)
        elif kind == "category":
            identity = {v: v for v in _dictionary_categories()[target]}
            out[target] = _coded(raw, FieldMap(target, fm.column, codes=identity), path, report,
                                 unmapped)
        else:
            out[target] = raw[fm.column]
        if fm.blank is not _NO_BLANK:
            empty = _blank_cells(raw[fm.column])
            if empty.any():
                column = out[target].astype(object)
                column[empty] = fm.blank
                out[target] = _retype(column, kind)
    if unmapped and unknown_codes == "error":
        _raise_unknown_codes(unmapped, path)
    blank_id = raw[spec.fields["child_id"].column].isna()
    for rec in raw.loc[blank_id, "_record"]:
        report.add(file=path, record=rec, field=spec.fields["child_id"].column,
                   problem="blank child id", action="record excluded")
    bad |= blank_id
    if "date_of_birth" in out:
        if "age" not in out:
            out["age"] = age_at(out["date_of_birth"], out["referral_date"])
        out = out.drop(columns="date_of_birth")
    _check_ranges(out, raw, spec, path, report)
    for start, end in (("referral_date", "start_date"), ("start_date", "end_date")):
        if start in out and end in out:
            bad |= check_order(raw, out[start], out[end], end_label=spec.fields[end].column or end,
                               start_label=spec.fields[start].column or start, file=path,
                               report=report)
    out["child_id"] = pseudonymise(raw[spec.fields["child_id"].column], key)
    if "family_id" in out:
        out["family_id"] = pseudonymise(out["family_id"], key)
    # every row with an id and a referral date is an eh_referral event, whatever else is wrong
    has_referral = ~blank_id & out["referral_date"].notna()
    referrals = out.loc[has_referral, ["child_id", "referral_date"]].reset_index(drop=True)
    if episodes == "first":  # later referrals of a child are events, not evaluated episodes
        earliest = out.loc[has_referral].groupby("child_id")["referral_date"].transform("min")
        later = (out["referral_date"] > earliest.reindex(out.index)).fillna(False).astype(bool)
        bad |= later
    open_episode = (out["received_early_help"] == 1).fillna(False) & out["end_date"].isna() & ~bad
    for rec in raw.loc[open_episode, "_record"]:
        report.add(file=path, record=rec, field=spec.fields["end_date"].column or "end_date",
                   problem="supported episode has no end date (still open)",
                   action="record excluded")
    no_treatment = out["received_early_help"].isna() & ~bad
    for rec in raw.loc[no_treatment, "_record"]:
        report.add(file=path, record=rec, field=spec.fields["received_early_help"].column or "",
                   problem="received_early_help is blank or unmapped", action="record excluded")
    bad |= open_episode | no_treatment
    dup = out.loc[~bad, ["child_id", "referral_date"]].duplicated(keep="first").reindex(
        out.index, fill_value=False
    )
    for rec in raw.loc[dup, "_record"]:
        report.add(file=path, record=rec, field=spec.fields["referral_date"].column or "",
                   problem="duplicate episode (same child and referral date as an earlier row)",
                   action="duplicate excluded")
    keep = ~(bad | dup)
    n_later = int(later.sum()) if episodes == "first" else 0
    report.count(path, "episodes", read=raw.attrs.get("n_lines", len(raw)) - n_later,
                 kept=int(keep.sum()))
    report.count(path, "referrals", read=raw.attrs.get("n_lines", len(raw)), kept=len(referrals))
    table = pd.DataFrame(unmapped, columns=["field", "column", "code", "n"])
    if not table.empty:
        table = table.groupby(["field", "column", "code"], as_index=False)["n"].sum()
    ordered = [c for c in FIELDS if c in out]
    dropped = [c for c in raw.columns if c != "_record" and c not in spec.columns]
    return LocalExport(children=out.loc[keep, ordered].reset_index(drop=True), referrals=referrals,
                       unmapped=table, report=report, dropped=dropped)


def _blank_cells(values: pd.Series) -> pd.Series:
    text = values.astype("string").str.strip()
    return (text.isna() | (text == "")).astype(bool)


def _retype(column: pd.Series, kind: str) -> pd.Series:
    if kind in ("flag", "bool"):
        return pd.to_numeric(column, errors="coerce").astype("Int8")
    if kind == "int":
        return pd.to_numeric(column, errors="coerce").astype("Int64")
    if kind == "float":
        return pd.to_numeric(column, errors="coerce").astype(float)
    return column


def _date_format(raw: pd.DataFrame, fm: FieldMap, path: Path) -> str:
    """The column's date format: detected (DD/MM/YYYY or ISO) unless the mapping gives one.

    A given DD/MM/YYYY or ISO format is checked against the cells: a column written the
    other way round, or mixing both, is an error rather than every date failing.
    """
    assert fm.column is not None
    if fm.fmt_given and fm.fmt not in (DMY, ISO):
        return str(fm.fmt)
    found = detect_date_format(raw, fm.column, file=path, default=fm.fmt or DMY,
                               label=fm.column)
    if fm.fmt_given and found != fm.fmt:
        text = raw[fm.column].astype("string").str.strip()
        if not pd.to_datetime(text, format=fm.fmt, errors="coerce").notna().any():
            words = {DMY: "DD/MM/YYYY", ISO: "YYYY-MM-DD"}
            raise InputError(
                f"{path.name}: the dates in column {fm.column!r} are written {words[found]}, but "
                f"the mapping gives the format {fm.fmt!r} ({words[str(fm.fmt)]})",
                field=fm.target,
                fix=f"set format: '{found}' for {fm.target} in the mapping (or remove "
                "date_format/format and let the reader detect it)",
            )
        return str(fm.fmt)
    return found


def _raise_unknown_codes(unmapped: list[dict[str, Any]], path: Path) -> None:
    table = pd.DataFrame(unmapped).groupby(["field", "column", "code"], as_index=False,
                                           sort=False)["n"].sum()
    parts = []
    for (target, column), rows in table.groupby(["field", "column"], sort=False):
        rows = rows.sort_values("n", ascending=False, kind="stable")
        shown = ", ".join(f"{r.code!r} ({int(r.n):,} row(s))"
                          for r in rows.head(MAX_LISTED_CODES).itertuples())
        more = len(rows) - MAX_LISTED_CODES
        if more > 0:
            shown += f" and {more:,} more value(s) in {int(rows.n.iloc[MAX_LISTED_CODES:].sum()):,} row(s)"
        parts.append(f"{target} (column {column!r}): {shown}")
    fields = list(dict.fromkeys(table["field"]))
    raise InputError(
        f"{path.name}: {len(table):,} code value(s) are not in the mapping, in "
        f"{int(table.n.sum()):,} row(s); a code the mapping does not know is never dropped "
        "quietly:\n  - " + "\n  - ".join(parts),
        field=", ".join(fields),
        fix="add each value under codes: for its field in the mapping YAML (map it to null "
        "to mean missing on purpose; \"\": <code> or blank: <code> for blank cells)",
        problems=table,
    )


def _read_raw(path: Path, spec: ColumnMapping, report: ReadReport) -> pd.DataFrame:
    from ehimpact.data.load import sniff

    if not path.is_file():
        raise InputError(f"file not found: {path}", field="local_export", fix="check the path")
    suffix = path.suffix.lower()
    found = sniff(path)
    if suffix in (".xlsx", ".xlsm", ".xls"):
        if found != "zip":
            what = {"text": "CSV text", "ole": "an old-style .xls or password-protected workbook",
                    "empty": "empty"}.get(found, f"{found} data")
            fix = (f"rename it to {path.stem}.csv" if found == "text" else
                   "open it in Excel and save it as .xlsx (without a password), or export CSV")
            raise InputError(f"{path.name} is named {path.suffix} but is not an Excel .xlsx "
                             f"workbook: its content is {what}", field="local_export", fix=fix)
        return _read_excel(path, spec.sheet)
    if found not in ("text", "empty"):
        raise InputError(f"{path.name} is not CSV text (its content looks like {found} data)",
                         field="local_export",
                         fix="export the episodes as CSV (UTF-8) or as an Excel .xlsx workbook")
    _, frame = read_csv_records(path, argument="local_export", report=report)
    return frame


def _read_excel(path: Path, sheet: str | int | None) -> pd.DataFrame:
    """One sheet as raw cells: text stripped, date cells kept as dates, whole numbers as text."""
    import openpyxl

    try:
        book = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except Exception as err:  # noqa: BLE001 - openpyxl raises many types for a damaged workbook
        raise InputError(f"{path.name} cannot be read as Excel ({type(err).__name__})",
                         field="local_export", fix="re-save it as .xlsx or export CSV") from None
    try:
        names = book.sheetnames
        if sheet is None:
            chosen = names[0]
        elif isinstance(sheet, int) and not isinstance(sheet, bool):
            if not 0 <= sheet < len(names):
                raise InputError(f"{path.name} has {len(names)} sheet(s); sheet: {sheet} does not "
                                 "exist", field="sheet",
                                 fix=f"use a position from 0 to {len(names) - 1} or a sheet name: "
                                 f"{', '.join(map(repr, names))}")
            chosen = names[sheet]
        else:
            matches = [n for n in names if n.strip().lower() == str(sheet).strip().lower()]
            if not matches:
                raise InputError(f"{path.name} has no sheet named {sheet!r}", field="sheet",
                                 fix=f"set sheet: to one of {', '.join(map(repr, names))}")
            chosen = matches[0]
        rows = list(book[chosen].iter_rows(values_only=True))
    finally:
        book.close()
    while rows and all(_empty(v) for v in rows[-1]):
        rows.pop()
    first = next((i for i, r in enumerate(rows) if not all(_empty(v) for v in r)), None)
    if first is None:
        raise InputError(f"{path.name} sheet {chosen!r} is empty", field="local_export",
                         fix="export the episodes again, or set sheet: to the sheet that holds them")
    header = [str(v).strip() if v is not None else "" for v in rows[first]]
    while header and header[-1] == "":
        header.pop()
    repeated = sorted({c for c in header if c and header.count(c) > 1})
    if repeated:
        raise InputError(f"{path.name}: column(s) {', '.join(map(repr, repeated))} appear more than "
                         "once in the header", field="local_export",
                         fix="give every column a distinct name in the header row")
    body, numbers = [], []
    for offset, row in enumerate(rows[first + 1:], start=first + 2):
        cells = [_cell(v) for v in list(row[: len(header)]) + [None] * (len(header) - len(row))]
        if all(c is None for c in cells):
            continue
        body.append(cells)
        numbers.append(offset)
    frame = pd.DataFrame(body, columns=header, dtype=object)
    frame["_record"] = [f"row {n}" for n in numbers]
    frame.attrs["n_lines"] = len(frame)
    frame.attrs["sheet"] = chosen
    return frame


def _empty(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def _cell(value: Any) -> Any:
    """An Excel cell as the CSV reader would give it, except that dates stay dates."""
    import datetime as dt

    if _empty(value):
        return None
    if isinstance(value, dt.datetime):
        return pd.Timestamp(value) if 1900 <= value.year <= 2099 else value
    if isinstance(value, dt.date):
        return pd.Timestamp(value)
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, str):
        return value.strip()
    return str(value)


def _coded(raw: pd.DataFrame, fm: FieldMap, path: Path, report: ReadReport,
           unmapped: list[dict[str, Any]]) -> pd.Series:
    assert fm.column is not None and fm.codes is not None
    values = map_codes(raw, fm.column, {k: v for k, v in fm.codes.items()}, file=path,
                       report=report, label=fm.column)
    text = raw[fm.column].astype("string").str.strip()
    missing = text.notna() & (text != "") & ~text.isin(list(fm.codes)).fillna(False).astype(bool)
    for code, n in text[missing].value_counts().items():
        unmapped.append({"field": fm.target, "column": fm.column, "code": str(code)[:40], "n": int(n)})
    return values


def _flag(raw: pd.DataFrame, fm: FieldMap, path: Path, report: ReadReport,
          unmapped: list[dict[str, Any]]) -> pd.Series:
    assert fm.column is not None
    text = raw[fm.column].astype("string").str.strip()
    lowered = text.str.lower()
    codes = {**{t: 1 for t in _TRUE}, **{f: 0 for f in _FALSE}}
    values = map_codes(raw.assign(**{fm.column: lowered}), fm.column, codes, file=path,
                       report=report, label=fm.column)
    unknown = lowered.notna() & (lowered != "") & ~lowered.isin(list(codes)).fillna(False).astype(bool)
    for code, n in text[unknown].value_counts().items():  # as written in the export
        unmapped.append({"field": fm.target, "column": fm.column, "code": str(code)[:40], "n": int(n)})
    return pd.to_numeric(values, errors="coerce").astype("Int8")


def _number(raw: pd.DataFrame, fm: FieldMap, kind: str, path: Path, report: ReadReport) -> pd.Series:
    assert fm.column is not None
    text = raw[fm.column].astype("string").str.strip()
    values = pd.to_numeric(text, errors="coerce")
    invalid = text.notna() & (text != "") & values.isna()
    if kind == "int":
        # whole numbers of a sane size only (1e30 would wrap round in Int64)
        invalid |= values.notna() & ((values % 1 != 0) | (values.abs() > 1e9))
    else:
        invalid |= values.notna() & ~np.isfinite(values.astype(float))
    for rec in raw.loc[invalid, "_record"]:
        report.add(file=path, record=rec, field=fm.column, problem=f"not a valid {kind}",
                   action="value set to missing")
    values = values.where(~invalid)
    return values.astype("Int64") if kind == "int" else values.astype(float)


@lru_cache(maxsize=1)
def _dictionary_ranges() -> dict[str, tuple[float, float]]:
    """Ranges of the numeric fields: the data dictionary's, else the built-in ones."""
    try:
        from ehimpact.data.dictionary import get

        fields = get("child_level").fields
        out = {}
        for name, (lo, hi) in _RANGES.items():
            rng = fields[name].range or (lo, hi)
            out[name] = (lo if rng[0] is None else rng[0], hi if rng[1] is None else rng[1])
        return out
    except Exception:  # dictionary not installed/readable
        return dict(_RANGES)


def _check_ranges(out: pd.DataFrame, raw: pd.DataFrame, spec: ColumnMapping, path: Path,
                  report: ReadReport) -> None:
    for target, (lo, hi) in _dictionary_ranges().items():
        if target not in out:
            continue
        values = pd.to_numeric(out[target], errors="coerce")
        outside = ((values < lo) | (values > hi)).fillna(False).astype(bool)
        label = spec.fields[target].column if target in spec.fields else target
        for rec in raw.loc[outside, "_record"]:
            report.add(file=path, record=rec, field=label or target,
                       problem=f"outside the allowed range {lo}-{hi}", action="value set to missing")
        out[target] = out[target].where(~outside)
