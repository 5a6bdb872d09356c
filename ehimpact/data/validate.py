"""Dictionary-driven validation: every problem in a table, reported at once.

:func:`validate` checks a DataFrame against a data dictionary
(:mod:`ehimpact.data.dictionary`) and returns a :class:`ValidationReport` listing every
problem found: direct identifiers present, missing required columns, wrong types,
values outside the allowed values or range, missing required values, duplicate keys,
impossible date orders and broken cross-field rules.  Nothing stops at the first
problem, so one run tells the user everything to fix.

The report never carries record values: only column names, problem descriptions, row
numbers and counts.  In particular a category column's unknown values are counted, never
shown (free text in a covariate may be a name or an id), and a number column's text is
counted, never shown.

Every route applies the same checks (issue 16): a table against its dictionary
(:func:`validate`), and :func:`validate_file` on a table, a CIN census XML file or
folder, an SSDA903 folder, an Ofsted Annex A workbook or a local export read through
its mapping.  Dates before :data:`EARLIEST_DATE` or more than
:data:`LATEST_YEARS_AHEAD` year(s) after today are implausible everywhere.

Examples
--------
>>> import pandas as pd
>>> from ehimpact.data.validate import validate
>>> report = validate(pd.DataFrame({"age": [3, 40]}), "child_level")
>>> report.ok
False
>>> "age" in set(report["column"])
True
"""

from __future__ import annotations

import re
import sys
import types
from typing import Any

import numpy as np
import pandas as pd

from ehimpact.data.dictionary import Dictionary, Field, get, normalise_name
from ehimpact.data.read_report import (
    EARLIEST_DATE,
    LATEST_YEARS_AHEAD,
    latest_date,
    plausible_range_text,
)
from ehimpact.errors import InputError, format_rows

__all__ = ["ValidationReport", "validate", "coerce", "parse_date_column",
           "EARLIEST_DATE", "LATEST_YEARS_AHEAD", "MAX_EXCLUDED_SHARE", "ROUTES"]

#: A file whose excluded share of records passes this fails ``validate_file`` (issue 12's
#: default threshold for stopping a run).
MAX_EXCLUDED_SHARE = 0.02
#: What :func:`validate_file` can check, by ``kind``.
ROUTES = ("table", "cin", "ssda903", "annex_a", "export")
_MAX_COUNTS_SHOWN = 10

_COLUMNS = ["column", "problem", "rows", "n_rows", "fix", "severity", "kind", "examples"]
_TRUE = {"1", "true", "t", "yes", "y"}
_FALSE = {"0", "false", "f", "no", "n"}


class ValidationReport(pd.DataFrame):
    """Every problem found in a table, one row per problem.

    Columns: ``column`` (the field at fault), ``problem`` (what is wrong), ``rows``
    (the first few row labels), ``n_rows`` (how many rows), ``fix`` (what to do),
    ``severity`` (``error`` or ``warning``), ``kind`` (a short code) and ``examples``
    (up to three offending *category codes*, never free text; dropped by
    :meth:`to_dict`).

    Derived frames (slices, filters) are plain DataFrames.
    """

    _metadata = ["dictionary_name", "n_checked", "route", "summary_lines"]

    @property
    def _constructor(self) -> type[pd.DataFrame]:
        return pd.DataFrame

    @property
    def errors(self) -> pd.DataFrame:
        """The problems that must be fixed."""
        return pd.DataFrame(self[self["severity"] == "error"]).reset_index(drop=True)

    @property
    def warnings(self) -> pd.DataFrame:
        """Problems worth checking that do not stop an evaluation."""
        return pd.DataFrame(self[self["severity"] == "warning"]).reset_index(drop=True)

    @property
    def ok(self) -> bool:
        """True when there are no errors (warnings allowed)."""
        return not bool((self["severity"] == "error").any())

    def to_text(self) -> str:
        """The report as plain text, for the command line (with the read summary, if any)."""
        name = getattr(self, "dictionary_name", "?")
        n = getattr(self, "n_checked", None)
        route = getattr(self, "route", None)
        if route in (None, "table"):
            head = f"Validation against the {name!r} data dictionary"
            head += f" ({n:,} rows checked)" if n is not None else ""
        else:
            head = f"Read check of {name}"
            head += f" ({n:,} records read)" if n is not None else ""
        summary = list(getattr(self, "summary_lines", None) or [])
        if len(self) == 0:
            return "\n".join([head + ": no problems found.", *summary])
        lines = [
            head + f": {len(self.errors)} error(s), {len(self.warnings)} warning(s).",
            *summary,
        ]
        for rec in self.to_records_list():
            rows = f" [rows {rec['rows']}]" if rec["rows"] else ""
            found = f" (found: {rec['examples']})" if rec["examples"] else ""
            lines.append(
                f"- {rec['severity'].upper()} {rec['column']}: {rec['problem']}{found}{rows}. "
                f"Fix: {rec['fix']}"
            )
        return "\n".join(lines)

    def to_records_list(self) -> list[dict[str, Any]]:
        """Rows as plain dicts (all columns)."""
        return [dict(r) for r in pd.DataFrame(self).to_dict(orient="records")]

    def to_dict(self) -> dict[str, Any]:  # type: ignore[override]
        """JSON-safe summary with counts only (no row labels, no values).

        Returns
        -------
        dict
            ``dictionary, rows_checked, ok, n_errors, n_warnings, problems`` where each
            problem has ``column, kind, problem, n_rows, severity, fix``.
        """
        problems = [
            {
                "column": str(r["column"]),
                "kind": str(r["kind"]),
                "problem": str(r["problem"]),
                "n_rows": int(r["n_rows"]),
                "severity": str(r["severity"]),
                "fix": str(r["fix"]),
            }
            for r in self.to_records_list()
        ]
        n = getattr(self, "n_checked", None)
        return {
            "dictionary": getattr(self, "dictionary_name", None),
            "rows_checked": int(n) if n is not None else None,
            "ok": self.ok,
            "n_errors": int(len(self.errors)),
            "n_warnings": int(len(self.warnings)),
            "problems": problems,
        }

    def raise_if_errors(self) -> None:
        """Raise one :class:`~ehimpact.errors.InputError` listing every error.

        The error's ``problems`` attribute holds this report's errors as a table.
        """
        if self.ok:
            return
        errs = self.errors
        lines = [
            f"{r['column']}: {r['problem']}" + (f" (rows {r['rows']})" if r["rows"] else "")
            + f"; fix: {r['fix']}"
            for r in errs.to_dict(orient="records")
        ]
        raise InputError(
            f"the data failed validation against the "
            f"{getattr(self, 'dictionary_name', '?')!r} dictionary with {len(errs)} "
            "problem(s):\n  - " + "\n  - ".join(lines),
            field=", ".join(dict.fromkeys(errs["column"].astype(str))),
            fix="correct every problem listed (or run `ehimpact validate FILE --dictionary NAME` "
            "for the full report), then load the data again",
            problems=errs,
        )


class _Collector:
    def __init__(self, frame: pd.DataFrame) -> None:
        self.frame = frame
        self.rows: list[dict[str, Any]] = []

    def add(
        self,
        column: str,
        problem: str,
        fix: str,
        *,
        mask: Any = None,
        kind: str,
        severity: str = "error",
        examples: list[Any] | None = None,
    ) -> None:
        if mask is not None:
            mask = np.asarray(mask, dtype=bool)
            if not mask.any():
                return
            labels = list(self.frame.index[mask][:5])
            n = int(mask.sum())
            rows = format_rows(labels, limit=5)
            if n > 5:
                rows = f"{format_rows(labels, limit=5)} and {n - 5:,} more"
        else:
            rows, n = "", 0
        self.rows.append(
            {
                "column": column,
                "problem": problem,
                "rows": rows,
                "n_rows": n,
                "fix": fix,
                "severity": severity,
                "kind": kind,
                "examples": ", ".join(map(str, examples or [])),
            }
        )


def parse_date_column(values: pd.Series) -> pd.Series:
    """Parse dates written as ISO (``2021-03-31``) or UK (``31/03/2021``) text.

    Datetime columns are returned unchanged; anything that does not parse becomes NaT.
    """
    if pd.api.types.is_datetime64_any_dtype(values):
        return values.dt.tz_localize(None) if getattr(values.dt, "tz", None) else values
    text = values.astype("string").str.strip()
    text = text.mask(text == "")
    iso = pd.to_datetime(text, format="ISO8601", errors="coerce")
    uk = text.notna() & iso.isna()
    if uk.any():
        iso = iso.copy()
        for fmt in ("%d/%m/%Y", "%d-%m-%Y", "%d/%m/%y", "%d %b %Y", "%d %B %Y"):
            todo = uk & iso.isna()
            if not todo.any():
                break
            iso.loc[todo] = pd.to_datetime(text[todo], format=fmt, errors="coerce")
    # implausible years (e.g. "0001-01-01" or "/1") count as unreadable, not as a crash
    plausible = (iso >= pd.Timestamp("1800-01-01")) & (iso <= pd.Timestamp("2200-12-31"))
    return iso.where(plausible).astype("datetime64[ns]")


def _to_number(text: pd.Series) -> pd.Series:
    """Text to float; unreadable -> NaN.  Arrow's cast is ~5x faster than to_numeric when
    every value reads, which is the usual case; otherwise fall back to to_numeric."""
    try:
        import pyarrow as pa
        import pyarrow.compute as pc

        arr = pa.array(text.to_numpy(dtype=object, na_value=None), type=pa.string())
        out = pc.cast(arr, pa.float64()).to_numpy(zero_copy_only=False)
        return pd.Series(out, index=text.index, dtype="float64")
    except (ImportError, ValueError, TypeError, NotImplementedError):
        # pyarrow.ArrowInvalid subclasses ValueError
        return pd.to_numeric(text, errors="coerce").astype("float64")


def _coerce_one(values: pd.Series, f: Field) -> pd.Series:
    """Typed version of a column; unparseable values become missing."""
    if f.type == "date":
        return parse_date_column(values)
    if f.type in ("integer", "float", "binary"):
        if values.dtype == bool:
            return values.astype("Int64")
        if values.dtype == object or pd.api.types.is_string_dtype(values):
            text = values.astype("string").str.strip()
            low = text.str.lower()
            if f.type == "binary":
                text = text.mask(low.isin(_TRUE), "1").mask(low.isin(_FALSE), "0")
            values = _to_number(text.mask(text == ""))
        out = pd.to_numeric(values, errors="coerce")
        if f.type == "float":
            return out.astype("Float64")
        whole = out.isna() | (out == np.round(out))
        return out.where(whole).astype("Float64").round().astype("Int64")
    if f.type == "boolean":
        if values.dtype == bool or str(values.dtype) == "boolean":
            return values.astype("boolean")
        low = values.astype("string").str.strip().str.lower()
        out = pd.Series(pd.NA, index=values.index, dtype="boolean")
        out[low.isin(_TRUE).fillna(False)] = True
        out[low.isin(_FALSE).fillna(False)] = False
        return out
    text = values.astype("string").str.strip()
    return text.mask(text == "")


def coerce(frame: pd.DataFrame, dictionary: str | Dictionary) -> pd.DataFrame:
    """Cast the dictionary's columns to their types (dates parsed, 0/1 as Int64, ...).

    Values that cannot be read become missing; :func:`validate` reports them.
    Columns not in the dictionary are left as they are.

    Parameters
    ----------
    frame : DataFrame
    dictionary : str or Dictionary

    Returns
    -------
    DataFrame
    """
    d = get(dictionary) if isinstance(dictionary, str) else dictionary
    out = frame.copy()
    for col in frame.columns:
        f = d.fields.get(col)
        if f is not None and f.allowed_on_load:
            out[col] = _coerce_one(frame[col], f)
    return out


def _blank(values: pd.Series) -> pd.Series:
    missing = values.isna()
    if values.dtype == object or pd.api.types.is_string_dtype(values):
        missing |= values.astype("string").str.strip().fillna("").eq("")
    return missing


def validate(data: pd.DataFrame, dictionary: str | Dictionary = "child_level") -> ValidationReport:
    """Check a table against a data dictionary and report every problem at once.

    Parameters
    ----------
    data : DataFrame
        Raw (text) or typed columns; row labels are used in the report (loaded files use
        spreadsheet line numbers).
    dictionary : str or Dictionary, default "child_level"
        ``"child_level"`` or ``"authority_panel"``.

    Returns
    -------
    ValidationReport
        Empty (and ``.ok``) when nothing is wrong.

    Raises
    ------
    InputError
        Only if ``data`` is not a DataFrame or the dictionary name is unknown.

    Examples
    --------
    >>> import pandas as pd
    >>> validate(pd.DataFrame({"postcode": ["AB1 2CD"]}), "child_level").errors["kind"].iloc[0]
    'direct_identifier'
    """
    return _validate(data, dictionary)[0]


def _validate(
    data: pd.DataFrame, dictionary: str | Dictionary
) -> tuple[ValidationReport, dict[str, pd.Series]]:
    """:func:`validate`, also returning the dictionary columns it parsed (for load)."""
    if not isinstance(data, pd.DataFrame):
        raise InputError(
            f"expected a pandas DataFrame, got {type(data).__name__}",
            field="data",
            fix="load the file with ehimpact.data.load(path) first",
        )
    d = get(dictionary) if isinstance(dictionary, str) else dictionary
    out = _Collector(data)

    # 1. direct identifiers and column names
    present: dict[str, str] = {}  # field name -> column in data
    for col in data.columns:
        f = d.match(col)
        if f is None:
            out.add(str(col), "column is not in the data dictionary (it will be ignored)",
                    f"rename it to a dictionary field, or drop it; see data_dictionary/{d.name}.yaml",
                    kind="unknown_column", severity="warning")
        elif not f.allowed_on_load:
            label = f.name if normalise_name(col) == normalise_name(f.name) else f"a {f.name}"
            out.add(str(col), f"direct identifier ({label}) must not be loaded",
                    "remove the column from the file before loading; keep only pseudonymous ids",
                    kind="direct_identifier")
        elif col != f.name:
            out.add(str(col), f"column name differs from the dictionary name {f.name!r}",
                    f"rename the column to {f.name}", kind="column_name")
        else:
            present[f.name] = col
    for f in d.required():
        if f.allowed_on_load and f.name not in present:
            near = [c for c in data.columns if d.match(c) is f]
            fix = f"rename column {near[0]!r} to {f.name}" if near else (
                f"add the column {f.name} ({f.description.rstrip('.')})")
            out.add(f.name, "required column is missing", fix, kind="missing_column")

    # 2. types, allowed values, ranges, blanks
    typed: dict[str, pd.Series] = {}
    for name, col in present.items():
        f = d.fields[name]
        raw = data[col]
        blank = _blank(raw)
        val = _coerce_one(raw, f)
        typed[name] = val
        unreadable = ~blank & val.isna()
        if unreadable.any():
            what = {
                "date": "not a date (use YYYY-MM-DD or DD/MM/YYYY)",
                "integer": "not a whole number",
                "float": "not a number",
                "binary": "not 0 or 1",
                "boolean": "not true/false",
            }.get(f.type, "unreadable value")
            out.add(name, f"{int(unreadable.sum()):,} cell(s) {what.replace('not ', 'are not ', 1)}",
                    f"correct the values so the column is of type {f.type} (text in a number "
                    "column is never read as a category)", mask=unreadable, kind="wrong_type")
        if not f.nullable and (blank.any()):
            out.add(name, "required value is blank", f"fill in {name} on every row",
                    mask=blank, kind="missing_value")
        if f.allowed is not None:
            allowed = {str(a) for a in f.allowed}
            text = val.astype("string")
            bad = text.notna() & ~text.isin(allowed)
            if bad.any():
                counts = text[bad].value_counts().tolist()  # counts only: values may identify
                shown = ", ".join(f"{c:,}" for c in counts[:_MAX_COUNTS_SHOWN])
                if len(counts) > _MAX_COUNTS_SHOWN:
                    shown += f" and {len(counts) - _MAX_COUNTS_SHOWN:,} more"
                out.add(name, f"{int(bad.sum()):,} cell(s) hold {len(counts):,} value(s) not in the "
                        f"allowed list (cells per unknown value: {shown}; the values are not shown, "
                        "as free text may identify a child)",
                        "use one of: " + ", ".join(map(str, f.allowed)) + " (map the export's "
                        "codes to these in the column mapping)", mask=bad, kind="not_allowed")
        if f.pattern is not None:
            text = val.astype("string")
            bad = text.notna() & ~text.str.match(re.compile(f.pattern)).fillna(False)
            out.add(name, "value does not have the expected format",
                    f"values must match {f.pattern}", mask=bad, kind="bad_format")
        if f.reference == "authorities":
            from ehimpact.data import authorities

            known = set(authorities.table(include_former=True)["gss_code"])
            text = val.astype("string")
            pattern_ok = text.str.match(re.compile(f.pattern)).fillna(False) if f.pattern else True
            bad = text.notna() & pattern_ok & ~text.isin(known)
            out.add(name, "not the GSS code of an English upper-tier authority",
                    "use the codes in ehimpact.data.authorities.table() (e.g. E10000030 for "
                    "Surrey)", mask=bad, kind="unknown_code")
        if f.range is not None:
            lo, hi = f.range
            if f.type == "date":
                lo = pd.Timestamp(lo) if lo is not None else None
                hi = pd.Timestamp(hi) if hi is not None else None
            bad = pd.Series(False, index=data.index)
            if lo is not None:
                bad |= (val < lo).fillna(False).astype(bool)
            if hi is not None:
                bad |= (val > hi).fillna(False).astype(bool)
            rng = f"{lo if lo is not None else '-inf'} to {hi if hi is not None else 'inf'}"
            out.add(name, f"value outside the allowed range {rng}".replace(" 00:00:00", ""),
                    "check the values (unit: " + (f.unit or "none") + ")",
                    mask=bad.to_numpy(), kind="out_of_range")

    # 2b. dates no children's services record can hold (every route: see read_report)
    latest = latest_date()
    for name, val in typed.items():
        if d.fields[name].type != "date":
            continue
        bad = ((val < EARLIEST_DATE) | (val > latest)).fillna(False).astype(bool)
        if bad.any():
            out.add(name, f"{int(bad.sum()):,} date(s) {plausible_range_text()}: not plausible",
                    "check the dates (a year typed wrongly, or a placeholder such as 01/01/1900 "
                    "or 31/12/2100 for 'not known': leave those blank)", mask=bad.to_numpy(),
                    kind="implausible_date")

    # 3. duplicate keys and duplicated rows
    key_dup = None
    if d.keys and all(k in typed for k in d.keys):
        keys = pd.DataFrame({k: typed[k] for k in d.keys})
        key_dup = keys.duplicated(keep=False) & keys.notna().all(axis=1)
        if key_dup.any():
            n_keys = int(keys[key_dup].drop_duplicates().shape[0])
            out.add(", ".join(d.keys), f"duplicate key: {n_keys:,} {' + '.join(d.keys)} value(s) "
                    f"appear on more than one row ({int(key_dup.sum()):,} rows)",
                    "keep one row per key (remove or merge duplicates)",
                    mask=key_dup.to_numpy(), kind="duplicate_key")
    # whole rows repeated (an export appended twice); a repeated row repeats its key, so
    # only rows with a repeated key need hashing when the dictionary has keys
    pos = np.arange(len(data)) if key_dup is None else np.flatnonzero(key_dup.to_numpy())
    if len(pos):
        copies = data.iloc[pos].astype(str).duplicated(keep="first").to_numpy()
        if copies.any():
            mask = np.zeros(len(data), dtype=bool)
            mask[pos[copies]] = True
            out.add("(whole row)", f"{int(copies.sum()):,} row(s) are exact copies of an earlier row",
                    "remove the repeated rows (was the export appended twice?)",
                    mask=mask, kind="duplicate_row")

    # 4. date order
    for rule in d.date_order:
        a, b = rule["earlier"], rule["later"]
        if a in typed and b in typed:
            if rule.get("strict"):
                bad = (typed[b] <= typed[a]).fillna(False)
            else:
                bad = (typed[b] < typed[a]).fillna(False)
            out.add(b, f"{rule.get('problem', f'{b} before {a}')} ({b} before "
                    f"{'or on ' if rule.get('strict') else ''}{a})",
                    f"check {a} and {b}; {b} must be on or after {a}",
                    mask=bad.to_numpy(dtype=bool), kind="date_order",
                    severity=rule.get("severity", "error"))

    # 5. cross-field rules, on the typed columns they need
    for rule in d.rules:
        expr = rule["violation"]
        names = set(re.findall(r"[A-Za-z_][A-Za-z0-9_]*", expr))
        needed = {n for n in names if n in d.fields}
        if not needed <= set(typed):
            continue
        env = pd.DataFrame({n: typed[n] for n in needed}, index=data.index)
        for n in needed:  # nullable dtypes -> NumPy/object so eval's comparisons behave
            if str(env[n].dtype) in ("Int64", "Float64", "boolean"):
                env[n] = env[n].astype("float64")
            elif str(env[n].dtype) == "string":
                env[n] = env[n].astype(object)
        bad = env.eval(expr, engine="python")
        bad = pd.Series(bad, index=data.index).fillna(False).astype(bool)
        out.add(rule["column"], rule["problem"], rule["fix"], mask=bad.to_numpy(),
                kind="rule", severity=rule.get("severity", "error"))

    report = ValidationReport(pd.DataFrame(out.rows, columns=_COLUMNS))
    report.dictionary_name = d.name
    report.n_checked = len(data)
    return report, typed


class _CallableModule(types.ModuleType):
    """``ehimpact.data.validate`` is both this module and the function :func:`validate`.

    Importing the submodule rebinds the package attribute ``validate`` to the module, so
    the module forwards calls: ``eh.data.validate(df, "child_level")`` works in any order.
    """

    def __call__(self, *args: Any, **kwargs: Any) -> ValidationReport:
        return validate(*args, **kwargs)


sys.modules[__name__].__class__ = _CallableModule
