"""What went wrong while reading statutory returns and local exports.

A :class:`ReadReport` collects one row per problem found while reading a CIN census
XML file, an SSDA903 CSV table or a local early-help export: the file, the record
(CSV line number, or XML child index and path), the field and what is wrong.  Bad
records are excluded and counted; the rest of the file is kept.

The report never holds a child's record: no identifiers and no dates, only file
names, positions, field names, problem descriptions and (for coded fields) the
offending code, which is not personal data.
"""

from __future__ import annotations

import datetime as _dt
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

__all__ = ["ReadProblem", "ReadReport", "detect_date_format", "csv_delimiter", "DATE_FORMATS",
           "EARLIEST_DATE", "LATEST_YEARS_AHEAD", "latest_date", "plausible_range_text", "EXCLUDING_ACTIONS"]

#: Actions that take a record out of the data (the rest only blank a value or ignore a column).
EXCLUDING_ACTIONS = ("record excluded", "duplicate excluded")

_COLUMNS = ["file", "record", "field", "problem", "action"]


@dataclass(frozen=True)
class ReadProblem:
    """One problem found while reading a file.

    Parameters
    ----------
    file : str
        File name (no directory, so reports can be shared).
    record : str
        Where: ``"line 12"`` for CSV, ``"child 3 (/Message/Children/Child[3])"`` for XML,
        ``"file"`` for whole-file problems.
    field : str
        Column or XML element at fault (``""`` for whole-record problems).
    problem : str
        What is wrong, in plain words.
    action : str
        What the reader did: ``"record excluded"``, ``"value set to missing"``,
        ``"ignored"``, ``"duplicate excluded"``.
    """

    file: str
    record: str
    field: str
    problem: str
    action: str


@dataclass
class ReadReport:
    """Problems and counts from reading one or more input files.

    Attributes
    ----------
    problems : list of ReadProblem
        One entry per problem.
    counts : dict
        ``{file: {table: {"read": n, "kept": k, "excluded": e}}}``.

    Examples
    --------
    >>> rep = ReadReport()
    >>> rep.add(file="episodes.csv", record="line 4", field="DEC",
    ...         problem="episode ends before it starts", action="record excluded")
    >>> rep.count("episodes.csv", "episodes", read=10, kept=9)
    >>> rep.n_problems, rep.to_dict()["counts"]["episodes.csv"]["episodes"]["excluded"]
    (1, 1)
    """

    problems: list[ReadProblem] = field(default_factory=list)
    counts: dict[str, dict[str, dict[str, int]]] = field(default_factory=dict)

    def add(self, *, file: str | Path, record: str, field: str, problem: str, action: str) -> None:
        """Record one problem (``file`` is reduced to its base name)."""
        self.problems.append(ReadProblem(Path(str(file)).name, record, field, problem, action))

    def count(self, file: str | Path, table: str, *, read: int, kept: int) -> None:
        """Record how many records of ``table`` were read from ``file`` and how many kept."""
        name = Path(str(file)).name
        self.counts.setdefault(name, {})[table] = {
            "read": int(read),
            "kept": int(kept),
            "excluded": int(read) - int(kept),
        }

    def extend(self, other: ReadReport) -> None:
        """Merge another report into this one."""
        self.problems.extend(other.problems)
        for name, tables in other.counts.items():
            self.counts.setdefault(name, {}).update(tables)

    @property
    def n_problems(self) -> int:
        """Number of problems recorded."""
        return len(self.problems)

    @property
    def ok(self) -> bool:
        """True when no problem was found."""
        return not self.problems

    def exclusions(self) -> pd.DataFrame:
        """Excluded records counted by reason.

        Returns
        -------
        DataFrame
            ``file, field, problem, action, n``: one row per reason a record was taken
            out (``action`` is ``record excluded`` or ``duplicate excluded``), with the
            number of records.  No record values.
        """
        frame = self.to_frame()
        frame = frame[frame["action"].isin(EXCLUDING_ACTIONS)]
        if frame.empty:
            return pd.DataFrame(columns=["file", "field", "problem", "action", "n"])
        return (frame.groupby(["file", "field", "problem", "action"], sort=False)["record"]
                .nunique().rename("n").reset_index())

    def to_frame(self) -> pd.DataFrame:
        """All problems as a DataFrame with columns ``file, record, field, problem, action``."""
        return pd.DataFrame([p.__dict__ for p in self.problems], columns=_COLUMNS)

    def summary(self) -> pd.DataFrame:
        """Problems grouped by file, field and problem, with counts and example records."""
        frame = self.to_frame()
        if frame.empty:
            return pd.DataFrame(columns=["file", "field", "problem", "action", "n", "examples"])
        grouped = frame.groupby(["file", "field", "problem", "action"], sort=False)["record"]
        out = grouped.agg(n="size", examples=lambda r: ", ".join(list(r)[:3])).reset_index()
        return out

    def to_dict(self, *, max_problems: int = 200) -> dict[str, Any]:
        """JSON-safe record: counts per file and table, and the first problems.

        Parameters
        ----------
        max_problems : int, default 200
            Cap on the number of individual problems listed (all are counted).
        """
        return {
            "n_problems": self.n_problems,
            "counts": {f: {t: dict(c) for t, c in tabs.items()} for f, tabs in self.counts.items()},
            "excluded_by_reason": [
                {k: (int(v) if k == "n" else str(v)) for k, v in row.items()}
                for row in self.exclusions().to_dict(orient="records")
            ],
            "by_problem": [
                {k: (int(v) if k == "n" else str(v)) for k, v in row.items()}
                for row in self.summary().to_dict(orient="records")
            ],
            "problems": [p.__dict__ for p in self.problems[:max_problems]],
        }

    def __str__(self) -> str:
        if self.ok:
            files = ", ".join(self.counts) or "no files"
            return f"ReadReport: no problems ({files})"
        lines = [f"ReadReport: {self.n_problems} problem(s)"]
        for row in self.summary().itertuples(index=False):
            lines.append(
                f"  {row.file} {row.field or '(record)'}: {row.problem} "
                f"[{row.n}x, {row.action}; e.g. {row.examples}]"
            )
        return "\n".join(lines)


# ---------------------------------------------------------------------------
# Shared record checks used by the CIN, SSDA903 and local-export readers.
# Each takes a frame of raw strings plus a ``_record`` column (where the record
# came from) and reports problems into a ReadReport; none looks at other rows.
# ---------------------------------------------------------------------------


_EARLIEST = pd.Timestamp("1900-01-01")  # hard limits: beyond them a cell is a typo or overflows
_LATEST = pd.Timestamp("2099-12-31")
#: Dates before this are implausible in a child-level table (:mod:`ehimpact.data.validate`
#: reports them as errors on every route that validates a table).
EARLIEST_DATE = pd.Timestamp("1990-01-01")
#: Dates more than this many years after today are implausible, on every route.
LATEST_YEARS_AHEAD = 1


def latest_date() -> pd.Timestamp:
    """The latest plausible date: today plus :data:`LATEST_YEARS_AHEAD` years."""
    return pd.Timestamp.today().normalize() + pd.DateOffset(years=LATEST_YEARS_AHEAD)


def plausible_range_text() -> str:
    """``"before 1990-01-01 or after <today + 1 year>"`` for messages."""
    return f"before {EARLIEST_DATE.date()} or after {latest_date().date()}"


def _cell_dates(raw: pd.Series) -> pd.Series:
    """Dates of cells that already hold a date (Excel date cells); NaT elsewhere."""
    if pd.api.types.is_datetime64_any_dtype(raw):
        out = raw.dt.tz_localize(None) if getattr(raw.dt, "tz", None) else raw
        out = out.where(out.between(_EARLIEST, _LATEST))  # a non-ns unit may hold year 2300
        return out.astype("datetime64[ns]").dt.normalize()
    is_date = _is_date_cell(raw)
    out = pd.Series(pd.NaT, index=raw.index, dtype="datetime64[ns]")
    if is_date.any():
        out.loc[is_date] = pd.to_datetime(raw[is_date].map(_as_timestamp), errors="coerce").dt.normalize()
    return out


def _is_date_cell(raw: pd.Series) -> pd.Series:
    if pd.api.types.is_datetime64_any_dtype(raw):
        return raw.notna()
    if pd.api.types.infer_dtype(raw, skipna=True) in ("string", "empty"):  # fast path: text only
        return pd.Series(False, index=raw.index)
    return raw.map(lambda v: isinstance(v, (_dt.date, pd.Timestamp)) and not pd.isna(v)).astype(bool)


def _as_timestamp(value: Any) -> Any:
    try:
        stamp = pd.Timestamp(value)
        return stamp if _EARLIEST <= stamp <= _LATEST else pd.NaT
    except (ValueError, OverflowError, pd.errors.OutOfBoundsDatetime):
        return pd.NaT


def _date_text(raw: pd.Series, cells: pd.Series) -> pd.Series:
    """Cell text of the non-date cells (stripped; dates and blanks -> <NA>)."""
    if pd.api.types.is_datetime64_any_dtype(raw):
        return pd.Series(pd.NA, index=raw.index, dtype="string")
    if pd.api.types.infer_dtype(raw, skipna=True) in ("string", "empty"):
        text = raw.astype("string").str.strip()
        return text.mask(text == "")
    is_date = _is_date_cell(raw)
    text = raw.astype(object).where(~is_date).map(_cell_text).astype("string").str.strip()
    return text.mask(text == "")


def _cell_text(value: Any) -> Any:
    if value is None or (isinstance(value, float) and value != value):
        return None
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def parse_dates(
    frame: pd.DataFrame,
    column: str,
    *,
    fmt: str,
    file: str | Path,
    report: ReadReport,
    required: bool,
    label: str | None = None,
) -> tuple[pd.Series, pd.Series]:
    """Parse one column of date strings in format ``fmt``; report what does not parse.

    Parameters
    ----------
    frame : DataFrame
        Raw strings (``None`` for blank) and a ``_record`` column.  Cells that already
        hold a date (``datetime``/``Timestamp``, as Excel date cells are read) are taken
        as they are, whatever ``fmt`` says.
    column : str
        Column to parse.
    fmt : str
        ``strptime`` format, e.g. ``"%d/%m/%Y"`` (SSDA903) or ``"%Y-%m-%d"`` (CIN).  For
        the ISO format a time of day after the date (``2023-10-01 00:00:00``) is allowed.
    file : str or Path
        For the report.
    report : ReadReport
        Problems are added here.
    required : bool
        A blank or invalid required date excludes the record; an invalid optional
        date is set to missing.  A year before 1900 or after 2099 counts as invalid (a
        typo).  The stricter plausible range (:data:`EARLIEST_DATE`, today plus
        :data:`LATEST_YEARS_AHEAD` years) is :mod:`ehimpact.data.validate`'s, for tables:
        a reader keeps what the return holds (the DfE's own sample census file is dated
        1970).
    label : str, optional
        Field name to show in the report (defaults to ``column``).

    Returns
    -------
    dates : Series of datetime64
    bad : Series of bool
        Rows to exclude (only ever True when ``required``).
    """
    raw = frame[column] if column in frame else pd.Series(None, index=frame.index, dtype=object)
    is_cell = _is_date_cell(raw)
    cells = _cell_dates(raw)  # NaT for a date cell outside the plausible years
    text = _date_text(raw, cells)
    if fmt == ISO:
        text = text.str.replace(_TIME_SUFFIX, "", regex=True)
    blank = text.isna() & ~is_cell
    parsed = pd.to_datetime(text.where(~blank), format=fmt, errors="coerce")
    parsed = parsed.where(~is_cell, cells)
    invalid = ~blank & ~is_cell & parsed.isna()
    # a year such as 1023 or 9999 parses but is a typo (and beyond datetime64[ns])
    implausible = (~blank & parsed.notna() & ~parsed.between(_EARLIEST, _LATEST)) | (
        is_cell & cells.isna())
    dates = parsed.where(~implausible).astype("datetime64[ns]")
    name = label or column
    human = DATE_FORMATS.get(fmt, fmt.replace("%d", "DD").replace("%m", "MM").replace("%Y", "YYYY"))
    human = human.replace(" (ISO)", "")
    action = "record excluded" if required else "value set to missing"
    for rec in frame.loc[invalid, "_record"]:
        report.add(file=file, record=rec, field=name,
                   problem=f"not a valid date in {human} format", action=action)
    for rec in frame.loc[implausible, "_record"]:
        report.add(file=file, record=rec, field=name,
                   problem=f"implausible date (outside {_EARLIEST.year}-{_LATEST.year})",
                   action=action)
    invalid |= implausible
    bad = pd.Series(False, index=frame.index)
    if required:
        for rec in frame.loc[blank, "_record"]:
            report.add(file=file, record=rec, field=name, problem="required date is blank",
                       action="record excluded")
        bad = blank | invalid
    return dates, bad


DMY = "%d/%m/%Y"
ISO = "%Y-%m-%d"
#: The two date formats the readers detect, with the words used in messages.
DATE_FORMATS = {DMY: "DD/MM/YYYY", ISO: "YYYY-MM-DD (ISO)"}
_TIME_SUFFIX = r"[ T]\d{1,2}:\d{2}(?::\d{2}(?:\.\d+)?)?$"
_DATEISH = re.compile(r"^(\d{1,4}[-/. ]\d{1,2}[-/. ]\d{1,4}|\d{1,2}[-/ ][A-Za-z]{3,9}[-/ ]\d{2,4}|\d{8})"
                      r"(?:[ T]\d{1,2}:\d{2}(?::\d{2}(?:\.\d+)?)?)?$")
#: A date shape other than the two formats counts as a third format (an error) only when
#: at least this many cells of the column have it; one odd cell is a bad record.
MIN_OTHER_FORMAT = 2


def _shape(value: str) -> str:
    """The shape of a date text (digits -> 9, letters -> A): never the value itself."""
    return re.sub(r"[A-Za-z]", "A", re.sub(r"\d", "9", value))[:24]


def detect_date_format(
    frame: pd.DataFrame,
    column: str,
    *,
    file: str | Path,
    default: str = DMY,
    label: str | None = None,
) -> str:
    """Detect whether a column's dates are written DD/MM/YYYY or YYYY-MM-DD.

    Each text cell is classified as a valid DD/MM/YYYY date, a valid ISO date (a time of
    day may follow), another date-like shape (``99-99-9999``, ``99/99/99``, ...), or
    unreadable.  Cells holding real dates (Excel date cells) and blanks are not counted.

    Parameters
    ----------
    frame : DataFrame
        Raw cells and a ``_record`` column (used for example rows in messages).
    column : str
    file : str or Path
        Named in the error message.
    default : str, default DD/MM/YYYY
        Format returned when the column has no text dates at all.
    label : str, optional
        Column name to show (defaults to ``column``).

    Returns
    -------
    str
        ``"%d/%m/%Y"`` or ``"%Y-%m-%d"``.  Cells that do not read in it are left to
        :func:`parse_dates`, which reports them record by record.

    Raises
    ------
    InputError
        When the column mixes two formats (both formats are named, each with its count
        and example rows), or when its dates match neither format.  Messages give
        formats, counts and row numbers only, never a cell's value.
    """
    from ehimpact.errors import InputError

    if column not in frame:
        return default
    raw = frame[column]
    text = _date_text(raw, _cell_dates(raw))
    present = text.notna()
    if not present.any():
        return default
    text = text[present]
    records = frame.loc[present, "_record"] if "_record" in frame else pd.Series(
        [f"row {i}" for i in text.index], index=text.index)
    dmy = pd.to_datetime(text, format=DMY, errors="coerce").notna() & text.str.match(
        r"^\d{1,2}/\d{1,2}/\d{4}$")
    iso_text = text.str.replace(_TIME_SUFFIX, "", regex=True)
    iso = pd.to_datetime(iso_text, format=ISO, errors="coerce").notna() & iso_text.str.match(
        r"^\d{4}-\d{1,2}-\d{1,2}$")
    rest = ~(dmy | iso)
    dateish = rest & text.str.match(_DATEISH)
    found: list[tuple[str, pd.Series]] = []
    if dmy.any():
        found.append(("DD/MM/YYYY", dmy))
    if iso.any():
        found.append(("YYYY-MM-DD (ISO)", iso))
    shapes = text[dateish].map(_shape)
    for shape, n in shapes.value_counts().items():
        if n >= MIN_OTHER_FORMAT:
            found.append((f"another format, like {shape}", dateish & (text.map(_shape) == shape)))
    name = Path(str(file)).name
    col = label or column

    def listing(items: list[tuple[str, pd.Series]]) -> str:
        parts = []
        for what, mask in items:
            rows = list(records[mask])[:3]
            parts.append(f"{what} in {int(mask.sum()):,} row(s) (e.g. {', '.join(rows)})")
        return "; ".join(parts)

    if len(found) >= 2:
        raise InputError(
            f"{name}: column {col} mixes date formats: {listing(found)}",
            field=col,
            fix=f"write every date in {col} the same way (DD/MM/YYYY, as the DfE specifies, or "
            "YYYY-MM-DD) in the export, then read the file again",
        )
    if not (dmy.any() or iso.any()):
        if found or int(rest.sum()) >= MIN_OTHER_FORMAT:
            unreadable = rest & ~dateish
            items = found + ([("text that is not a date", unreadable)] if unreadable.any() else [])
            if not found:  # one-off shapes only
                items = [("values that are not DD/MM/YYYY or YYYY-MM-DD dates", rest)]
            raise InputError(
                f"{name}: the dates in column {col} match neither DD/MM/YYYY nor YYYY-MM-DD: "
                f"{listing(items)}",
                field=col,
                fix=f"re-export {col} with dates written DD/MM/YYYY (the DfE's format) or "
                "YYYY-MM-DD",
            )
        return default
    return DMY if dmy.any() else ISO


def check_order(
    frame: pd.DataFrame,
    start: pd.Series,
    end: pd.Series,
    *,
    end_label: str,
    start_label: str,
    file: str | Path,
    report: ReadReport,
) -> pd.Series:
    """Flag records whose end date is before their start date (impossible); report them."""
    bad = (end < start).fillna(False).astype(bool)
    for rec in frame.loc[bad, "_record"]:
        report.add(
            file=file,
            record=rec,
            field=end_label,
            problem=f"{end_label} is before {start_label}",
            action="record excluded",
        )
    return bad


def map_codes(
    frame: pd.DataFrame,
    column: str,
    codes: dict[str, str],
    *,
    file: str | Path,
    report: ReadReport,
    label: str | None = None,
    default: Any = None,
) -> pd.Series:
    """Map raw codes to dictionary values; unknown codes are reported and set to ``default``."""
    raw = frame[column] if column in frame else pd.Series(None, index=frame.index, dtype=object)
    text = raw.astype("string").str.strip()
    blank = text.isna() | (text == "")
    mapped = text.map(codes)
    unknown = ~blank & ~text.isin(list(codes)).fillna(False).astype(bool)  # a code mapped to None is known
    name = label or column
    for rec, code in zip(frame.loc[unknown, "_record"], text[unknown], strict=True):
        report.add(
            file=file,
            record=rec,
            field=name,
            problem=f"unknown code {str(code)[:20]!r}",
            action="value set to missing" if default is None else f"value set to {default!r}",
        )
    out = mapped.astype(object).where(mapped.notna(), default)
    return out


def read_csv_records(
    path: str | Path,
    *,
    argument: str,
    report: ReadReport,
) -> tuple[list[str], pd.DataFrame]:
    """Read a CSV file line by line so that one corrupted line never affects another.

    Every line is split on its own (quotes are honoured within a line only), so a
    stray quote or an extra comma excludes that line alone.  The separator is detected
    from the header line (comma, semicolon, tab or vertical bar; ``raw.attrs["delimiter"]``).  Lines whose field count
    differs from the header's are reported and excluded.

    Parameters
    ----------
    path : str or Path
        The CSV file (UTF-8, with or without BOM; undecodable bytes are replaced).
    argument : str
        Argument name to put in an :class:`InputError` (e.g. ``"ssda903_dir"``).
    report : ReadReport
        Problems are added here.

    Returns
    -------
    columns : list of str
        Header names, stripped.
    raw : DataFrame
        One row per well-formed line: strings (``None`` for blank) plus ``_record``
        (``"line N"``, 1-based physical line).  ``raw.attrs["n_lines"]`` counts all
        non-blank data lines, well-formed or not.

    Raises
    ------
    InputError
        If the file does not exist or has no header line.
    """
    import csv

    from ehimpact.errors import InputError

    path = Path(path)
    if not path.is_file():
        raise InputError(f"file not found: {path}", field=argument, fix="check the path")
    text = path.read_bytes().decode("utf-8-sig", errors="replace")
    lines = _LINE_BREAK.split(text)  # \r\n, \n or \r: numbered as an editor numbers them
    first = next((i for i, line in enumerate(lines) if line.strip()), None)
    if first is None:
        raise InputError(f"{path.name} is empty", field=argument,
                         fix="export the table again with its header line")
    header = lines[first]
    delimiter = csv_delimiter(header)
    try:
        columns = [_clean(c) or "" for c in _split(header, delimiter)]
    except csv.Error as exc:  # e.g. an unclosed quote in the header line
        raise InputError(f"{path.name}: the header (line {first + 1}) cannot be read as CSV ({exc})",
                         field=argument, rows=[first + 1],
                         fix="open the file, check the quotes in its first line and save it as CSV again") from None
    repeated = sorted({c for c in columns if columns.count(c) > 1})
    if repeated:
        raise InputError(
            f"{path.name}: column(s) {', '.join(map(repr, repeated))} appear more than once in the header",
            field=argument,
            fix="give every column a distinct name in the header line",
        )
    width = len(columns)
    rows: list[list[str]] = []
    numbers: list[int] = []
    n_lines = 0
    for number in range(first + 1, len(lines)):
        line = lines[number]
        if not line.strip():
            continue
        n_lines += 1
        if '"' in line:  # quoted fields: let the csv module parse this one line
            try:
                fields = _split(line, delimiter)
            except csv.Error:
                fields = None
        else:
            fields = line.split(delimiter)
        if fields is None or len(fields) != width:
            got = "unreadable" if fields is None else f"{len(fields)} fields"
            report.add(file=path, record=f"line {number + 1}", field="",
                       problem=f"line has {got}, the header has {width}", action="record excluded")
            continue
        rows.append(fields)
        numbers.append(number + 1)
    if n_lines and len(rows) * 2 < n_lines:
        raise InputError(
            f"{path.name}: most lines ({n_lines - len(rows)} of {n_lines}) do not have the "
            f"{width} fields the header line names",
            field=argument,
            fix="check the header line (a missing or merged column name) and the delimiter "
            f"({_DELIMITER_NAMES[delimiter]}, detected from the header line)",
        )
    raw = pd.DataFrame(rows, columns=columns, dtype=object)
    for col in columns:  # vectorised: trim, blank -> missing
        trimmed = raw[col].str.strip()
        raw[col] = trimmed.where(trimmed != "", None)
    raw["_record"] = [f"line {n}" for n in numbers]
    raw.attrs["n_lines"] = n_lines
    raw.attrs["delimiter"] = delimiter
    return columns, raw


_LINE_BREAK = re.compile(r"\r\n|\n|\r")


_DELIMITER_NAMES = {",": "comma", ";": "semicolon", "\t": "tab", "|": "vertical bar"}


def csv_delimiter(header: str) -> str:
    """The field separator of a CSV header line: comma unless the line clearly uses another.

    Parameters
    ----------
    header : str
        The first (header) line.

    Returns
    -------
    str
        ``","``, ``";"``, ``"\\t"`` or ``"|"``.

    Examples
    --------
    >>> csv_delimiter("child_id;referral_date;age")
    ';'
    >>> csv_delimiter("child_id,referral_date")
    ','
    """
    counts = {d: header.count(d) for d in _DELIMITER_NAMES}
    best = max(counts, key=lambda d: counts[d])
    return "," if counts[","] >= counts[best] or counts[best] == 0 else best


def _split(line: str, delimiter: str = ",") -> list[str]:
    import csv

    parsed = list(csv.reader([line], strict=True, delimiter=delimiter))
    return parsed[0] if parsed else []


def _clean(value: str) -> str | None:
    value = value.strip()
    return value or None
