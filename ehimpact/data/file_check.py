"""`ehimpact validate FILE`: check one input file as the run would read it, before any run.

:func:`validate_file` works out what it was given: a table checked against a data
dictionary, a CIN census XML (a file or folder), an SSDA903 folder or table, an Ofsted
Annex A workbook, or a local early-help export read through its column mapping.  It reads
the file with the same reader the run uses and returns a
:class:`~ehimpact.data.validate.ValidationReport` whose text starts with a read summary.

It sits apart from :mod:`ehimpact.data.validate` (dictionary validation of a table), which
the readers themselves use, so the readers and this dispatcher do not import each other.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from ehimpact.data.dictionary import get
from ehimpact.data.read_report import ReadReport
from ehimpact.data.validate import _COLUMNS, MAX_EXCLUDED_SHARE, ROUTES, ValidationReport, validate
from ehimpact.errors import InputError

__all__ = ["validate_file"]


def validate_file(
    path: str | Path,
    dictionary: str | None = None,
    *,
    mapping: str | Path | dict[str, Any] | None = None,
    kind: str | None = None,
    sheet: str | int | None = None,
    salt: str | None = None,
    max_excluded_share: float = MAX_EXCLUDED_SHARE,
) -> ValidationReport:
    """Check any input an evaluation reads (``ehimpact validate``).

    Parameters
    ----------
    path : str or Path
        A CSV, Parquet or Excel table; a CIN census XML file, or a folder of them; an
        SSDA903 folder; an Ofsted Annex A workbook; or a local early-help export (with
        ``mapping``).
    dictionary : str, optional
        For tables: ``"child_level"`` (default), ``"authority_panel"`` or
        ``"core_dataset"``.  Ignored by the other routes.
    mapping : path or dict, optional
        The column mapping of a local export; implies ``kind="export"``.
    kind : {"table", "cin", "ssda903", "annex_a", "export"}, optional
        What ``path`` is.  Detected when not given: a mapping means an export; a folder
        of ``.xml`` files, or an XML file, is CIN; another folder is SSDA903; a workbook
        with sheets named ``List 1`` ... is Annex A; a CSV whose header line is an
        SSDA903 Episodes or Header table is SSDA903; anything else is a table.
    sheet : str or int, optional
        Excel sheet of a table (default: the first).
    salt : str, optional
        Hash secret for child ids (``$EHIMPACT_SALT``, else a random one: ids are never
        shown by a check).
    max_excluded_share : float, default 0.02
        A file (or table within it) whose excluded share of records passes this is an
        error, as it stops a run (duplicates and still-open episodes do not count, as in
        :func:`ehimpact.data.read_statutory`).

    Returns
    -------
    ValidationReport
        For a table, the dictionary validation (row labels are spreadsheet line numbers:
        the header is line 1; direct identifiers are reported, not refused).  For the
        other routes, one row per reason records were excluded or values blanked
        (warnings, with counts and record positions, never values) and an error per file
        whose excluded share passes ``max_excluded_share``; ``summary_lines`` holds the
        read summary (records read, kept and excluded per file; census years; Annex A
        coverage) that :meth:`ValidationReport.to_text` prints first.

    Raises
    ------
    InputError
        If the file cannot be found or read, the dictionary or kind is unknown, or the
        reader stops (a truncated XML file, dates in two formats in one column, an
        unknown code in an export, ...).

    Examples
    --------
    >>> validate_file("returns/cin_2024.xml").ok                        # doctest: +SKIP
    >>> validate_file("eh.xlsx", mapping="mapping.yaml").to_text()      # doctest: +SKIP
    """
    p = Path(path)
    if kind is None:
        kind = _detect_kind(p, mapping)
    if kind not in ROUTES:
        raise InputError(f"unknown kind {kind!r}", field="kind", fix=f"use one of {', '.join(ROUTES)}")
    if kind == "table":
        return _validate_table(p, dictionary or "child_level", sheet)
    if not p.exists():
        raise InputError(f"not found: {p}", field="path",
                         fix="check the path (relative paths are read from the current folder)")
    import os
    import secrets

    key = salt or os.environ.get("EHIMPACT_SALT") or secrets.token_hex(16)
    lines: list[str] = []
    if kind == "cin":
        from ehimpact.data.cin import read_cin

        source: Any = p
        if p.is_dir():
            source = sorted(p.glob("*.xml"))
            if not source:
                raise InputError(f"no .xml files in {p}", field="path",
                                 fix="point at a CIN census XML file or a folder of them")
        data = read_cin(source, salt=key)
        report, name = data.report, "CIN census"
        years = getattr(data, "collection_years", None)
        if years:
            lines.append(f"  census collection years: {', '.join(map(str, years))}")
            missing = data.missing_years() if hasattr(data, "missing_years") else []
            if missing:
                lines.append(f"  years missing between them: {', '.join(map(str, missing))}")
        lines.append(f"  children: {len(data.children):,}; referrals: {len(data.referrals):,}")
    elif kind == "ssda903":
        from ehimpact.data.ssda903 import read_ssda903

        source = p
        if p.is_file():  # one table of the return, recognised by its header line
            from ehimpact.data.ssda903 import _identify

            table = _identify(p)
            if table not in ("episodes", "header"):
                raise InputError(f"{p.name} is not an SSDA903 Episodes or Header table",
                                 field="path", fix="point at the return's folder or its Episodes CSV")
            source = {table: p}
        lac = read_ssda903(source, salt=key)
        report, name = lac.report, "SSDA903 return"
        lines.append(f"  episodes: {len(lac.episodes):,}; children looked after (RNE = S starts): "
                     f"{len(lac.events()):,}")
    elif kind == "annex_a":
        from ehimpact.data.annex_a import read_annex_a

        annex = read_annex_a(p, salt=key)
        report, name = annex.report, "Ofsted Annex A workbook"
        for row in annex.coverage.itertuples(index=False):
            span = (f"{row.earliest.date()} to {row.latest.date()}" if pd.notna(row.earliest)
                    else "no dates")
            lines.append(f"  list {row.list} ({row.name}): {row.n_rows:,} rows, {row.date_field} "
                         f"{span}")
    else:
        from ehimpact.data.mapping import read_local_export

        if mapping is None:
            raise InputError("a local export needs its column mapping", field="--mapping",
                             fix="pass --mapping mapping.yaml (see config/mapping_example.yaml)")
        export = read_local_export(p, mapping, salt=key)
        report, name = export.report, "local early-help export"
        if export.dropped:
            lines.append(f"  columns not read (never loaded): {len(export.dropped)}")
    out = _read_report_rows(report, max_excluded_share)
    summary = [f"  {file} {table}: {c['read']:,} read, {c['kept']:,} kept, {c['excluded']:,} excluded"
               for file, tables in report.counts.items() for table, c in tables.items()]
    result = ValidationReport(pd.DataFrame(out, columns=_COLUMNS))
    result.dictionary_name = f"{name} {p.name}"
    result.route = kind
    result.n_checked = sum(c["read"] for t in report.counts.values() for c in t.values())
    result.summary_lines = summary + lines
    return result


def _detect_kind(p: Path, mapping: Any) -> str:
    if mapping is not None:
        return "export"
    if p.is_dir():
        return "cin" if any(p.glob("*.xml")) and not any(p.glob("*.csv")) else "ssda903"
    if not p.is_file():
        return "table"  # read_table names the missing file
    from ehimpact.data.load import sniff

    found = sniff(p)
    if found == "xml" or (p.suffix.lower() == ".xml" and found in ("text", "xml")):
        return "cin"
    if found == "text" and p.suffix.lower() in (".csv", ".txt"):
        from ehimpact.data.ssda903 import _identify

        try:
            if _identify(p) in ("episodes", "header"):
                return "ssda903"
        except InputError:
            pass
    if found == "zip" and p.suffix.lower() in (".xlsx", ".xlsm"):
        from ehimpact.data.annex_a import _SHEET

        try:
            import openpyxl

            book = openpyxl.load_workbook(p, read_only=True)
            names = book.sheetnames
            book.close()
        except Exception:  # noqa: BLE001 - read_table reports the damaged workbook
            return "table"
        if sum(bool(_SHEET.match(n)) for n in names) >= 2:
            return "annex_a"
    return "table"


def _validate_table(p: Path, dictionary: str, sheet: str | int | None) -> ValidationReport:
    from ehimpact.data.load import read_table

    get(dictionary)  # unknown dictionary names fail before reading the file
    frame = read_table(p, sheet=sheet)
    frame.index = pd.RangeIndex(2, len(frame) + 2)
    report = validate(frame, dictionary)
    report.route = "table"
    return report


def _read_report_rows(report: ReadReport, limit: float) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    kinds = {"record excluded": "excluded", "duplicate excluded": "duplicate",
             "value set to missing": "set_missing", "ignored": "ignored"}
    for r in report.summary().itertuples(index=False):
        rows.append({"column": f"{r.file} {r.field}".strip(), "problem": f"{r.problem} ({r.action})",
                     "rows": r.examples, "n_rows": int(r.n),
                     "fix": "correct these records in the source system and export again"
                     if r.action in ("record excluded", "duplicate excluded") else
                     "check the value (it was left out)" if r.action == "value set to missing"
                     else "nothing to do if this is expected",
                     "severity": "warning", "kind": kinds.get(r.action, "read"), "examples": ""})
    # as a run counts them (ehimpact.data.statutory): duplicates and still-open episodes lose
    # no information, so they do not count towards the limit
    frame = report.to_frame()
    harmless = frame[(frame["action"] == "duplicate excluded")
                     | ((frame["action"] == "record excluded")
                        & frame["problem"].str.contains("still open", regex=False))]
    spared = harmless.groupby("file")["record"].nunique().to_dict()
    for file, tables in report.counts.items():
        for table, c in tables.items():
            read = c["read"]
            excluded = max(c["excluded"] - int(spared.get(file, 0)), 0)
            if read == 0:
                rows.append({"column": f"{file} {table}", "problem": "no records",
                             "rows": "", "n_rows": 0, "fix": "export the table again with its rows",
                             "severity": "error", "kind": "empty", "examples": ""})
            elif excluded / read > limit:
                rows.append({"column": f"{file} {table}",
                             "problem": f"{excluded:,} of {read:,} records excluded "
                             f"({excluded / read:.1%}), over the {limit:.0%} limit at which a run stops",
                             "rows": "", "n_rows": excluded,
                             "fix": "fix the reasons listed for this file, then check again",
                             "severity": "error", "kind": "excluded_share", "examples": ""})
    return rows
