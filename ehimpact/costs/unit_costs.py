"""The unit-cost database: shipped GMCA-derived values plus the user's own entries."""

from __future__ import annotations

import functools
import io
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ehimpact.costs._data import data_text
from ehimpact.costs.prices import DeflatorTable, format_year, parse_year
from ehimpact.errors import InputError

__all__ = ["UnitCosts", "AGENCIES", "VALUE_TYPES", "FIELDS"]

AGENCIES = ("la_childrens_services", "nhs", "police", "criminal_justice", "dwp_hmrc", "education", "housing")
AGENCY_LABELS = {
    "la_childrens_services": "Local authority children's services",
    "nhs": "NHS",
    "police": "Police",
    "criminal_justice": "Criminal justice",
    "dwp_hmrc": "DWP / HMRC",
    "education": "Education",
    "housing": "Housing",
}
VALUE_TYPES = ("fiscal", "economic", "social")

#: required fields of every entry
REQUIRED = ("id", "description", "unit", "value", "price_year", "agency", "value_type", "cashable", "source",
            "confidence_grade")
#: optional fields
OPTIONAL = ("category", "low", "high", "unconfirmed", "note")
FIELDS = REQUIRED + OPTIONAL


def _truthy(x: Any, *, field: str, uid: str) -> bool:
    if isinstance(x, (bool, np.bool_)):
        return bool(x)
    s = str(x).strip().lower()
    if s in ("true", "1", "yes", "y"):
        return True
    if s in ("false", "0", "no", "n", ""):
        return False
    raise InputError(f"unit cost {uid!r}: {field} is {x!r}, not true/false", field=field, rows=[uid],
                     fix="write true or false")


def _blank(x: Any) -> bool:
    return x is None or (isinstance(x, float) and np.isnan(x)) or (isinstance(x, str) and not x.strip())


def _clean_entry(raw: Mapping[str, Any], *, partial: bool = False) -> dict[str, Any]:
    """Validate one entry; ``partial`` allows missing fields (an override of an existing id)."""
    uid = raw.get("id")
    if _blank(uid):
        raise InputError("an entry has no id", field="id", fix="give every unit cost an id")
    uid = str(uid).strip()
    unknown = sorted(set(raw) - set(FIELDS))
    if unknown:
        raise InputError(f"unit cost {uid!r} has unknown field(s) {unknown}", field=unknown[0], rows=[uid],
                         fix=f"fields are {list(FIELDS)}")
    out: dict[str, Any] = {"id": uid}
    for f in REQUIRED[1:]:
        if f not in raw or _blank(raw[f]):
            if partial:
                continue
            raise InputError(f"unit cost {uid!r} is missing {f}", field=f, rows=[uid],
                             fix=f"give {f} for {uid!r} (required: {', '.join(REQUIRED)})")
        out[f] = raw[f]
    for f in OPTIONAL:
        if f in raw and not _blank(raw[f]):
            out[f] = raw[f]
    for f in ("value", "low", "high"):
        if f in out:
            try:
                out[f] = float(out[f])
            except (TypeError, ValueError):
                raise InputError(f"unit cost {uid!r}: {f} is {out[f]!r}, not a number", field=f, rows=[uid],
                                 fix="give a number in pounds") from None
            if not np.isfinite(out[f]) or out[f] < 0:
                raise InputError(f"unit cost {uid!r}: {f} is {out[f]}", field=f, rows=[uid],
                                 fix="give a non-negative number in pounds")
    if "price_year" in out:
        out["price_year"] = format_year(parse_year(out["price_year"], field=f"{uid}.price_year"))
    if "agency" in out and out["agency"] not in AGENCIES:
        raise InputError(f"unit cost {uid!r}: agency {out['agency']!r} is not known", field="agency", rows=[uid],
                         fix=f"use one of {', '.join(AGENCIES)}")
    if "value_type" in out and out["value_type"] not in VALUE_TYPES:
        raise InputError(f"unit cost {uid!r}: value_type {out['value_type']!r} is not known", field="value_type",
                         rows=[uid], fix=f"use one of {', '.join(VALUE_TYPES)}")
    for f in ("cashable", "unconfirmed"):
        if f in out:
            out[f] = _truthy(out[f], field=f, uid=uid)
    if "confidence_grade" in out:
        try:
            out["confidence_grade"] = int(out["confidence_grade"])
        except (TypeError, ValueError):
            raise InputError(f"unit cost {uid!r}: confidence_grade {out['confidence_grade']!r} is not a whole "
                             "number", field="confidence_grade", rows=[uid], fix="use 1 (strongest) to 5") from None
    return out


def _check_range(e: Mapping[str, Any]) -> None:
    lo, hi, v = e.get("low"), e.get("high"), e["value"]
    if (lo is None) != (hi is None):
        raise InputError(f"unit cost {e['id']!r} has only one of low/high", field="low" if lo is None else "high",
                         rows=[e["id"]], fix="give both low and high, or neither")
    if lo is not None and not lo <= v <= hi:
        raise InputError(f"unit cost {e['id']!r}: need low <= value <= high, got {lo}, {v}, {hi}", field="low",
                         rows=[e["id"]], fix="correct the range")


class UnitCosts:
    """A validated table of unit costs, one row per id.

    Build it with :meth:`default` (the shipped database), :meth:`from_csv` or :meth:`from_records`,
    and add or replace entries with :meth:`with_overrides`.

    Examples
    --------
    >>> uc = UnitCosts.default()
    >>> uc.get("s47_enquiry")["value"]
    511.0
    >>> uc2 = uc.with_overrides([{"id": "s47_enquiry", "value": 600, "source": "our finance team"}])
    >>> uc2.get("s47_enquiry")["value"], uc2.get("s47_enquiry")["price_year"]
    (600.0, '2008/09')
    """

    def __init__(self, entries: Iterable[Mapping[str, Any]], *, source: str = "user supplied") -> None:
        rows: dict[str, dict[str, Any]] = {}
        for raw in entries:
            e = _clean_entry(raw)
            if e["id"] in rows:
                raise InputError(f"unit cost id {e['id']!r} appears more than once", field="id", rows=[e["id"]],
                                 fix="keep one entry per id (use with_overrides to replace a shipped value)")
            e.setdefault("unconfirmed", False)
            e.setdefault("category", "other")
            _check_range(e)
            rows[e["id"]] = e
        self._rows = rows
        self.source = source

    # ------------------------------------------------------------------ construction
    @classmethod
    def default(cls) -> UnitCosts:
        """The shipped database (``data/unit_costs.csv``; GMCA UCD v1.4 values, see DOMAIN.md 3.2)."""
        records = [dict(r) for r in _default_records()]  # copies: the constructor fills in defaults
        return cls(records, source="ehimpact unit-cost database (GMCA UCD v1.4 values)")

    @classmethod
    def from_csv(cls, path: str | Path) -> UnitCosts:
        """Read a full database from CSV (same columns as the shipped one)."""
        p = Path(path)
        if not p.exists():
            raise InputError(f"file {str(p)!r} does not exist", field="unit_costs",
                             fix="give the path of a CSV with the unit-cost columns")
        df = pd.read_csv(p, dtype=str, keep_default_na=False)
        return cls(df.to_dict(orient="records"), source=f"user file {p.name}")

    @classmethod
    def from_records(cls, records: Iterable[Mapping[str, Any]]) -> UnitCosts:
        """Build from a list of dicts."""
        return cls(records)

    def with_overrides(self, entries: Iterable[Mapping[str, Any]] | pd.DataFrame) -> UnitCosts:
        """A copy with entries added (new id: every required field) or replaced (existing id: any fields).

        Raises
        ------
        InputError
            An id given twice, a new id with missing fields, or an invalid value.
        """
        if isinstance(entries, pd.DataFrame):
            entries = entries.to_dict(orient="records")
        seen: set[str] = set()
        rows = {k: dict(v) for k, v in self._rows.items()}
        for raw in entries:
            uid = None if _blank(raw.get("id")) else str(raw.get("id")).strip()
            if uid in seen:
                raise InputError(f"unit cost id {uid!r} is given more than once in the overrides", field="id",
                                 rows=[uid], fix="merge the entries into one")
            e = _clean_entry(raw, partial=uid in rows)
            seen.add(e["id"])
            merged = {**rows.get(e["id"], {}), **e}
            if e["id"] in rows and "value" in e and not {"low", "high"} & set(e):
                merged.pop("low", None)  # a new point value makes the old range meaningless
                merged.pop("high", None)
            if e["id"] in rows:
                merged["overridden"] = True
                if "value" in e:  # the value is now the user's: the shipped caveats no longer apply
                    merged.setdefault("unconfirmed", False)
                    if "unconfirmed" not in e:
                        merged["unconfirmed"] = False
                    if "source" not in e:
                        merged["source"] = "user override"
            rows[e["id"]] = merged
        out = UnitCosts.__new__(UnitCosts)
        for r in rows.values():
            r.setdefault("unconfirmed", False)
            r.setdefault("category", "other")
            _check_range(r)
        out._rows = rows
        out.source = f"{self.source} + user overrides"
        return out

    # ------------------------------------------------------------------ access
    def __contains__(self, uid: object) -> bool:
        return uid in self._rows

    def __len__(self) -> int:
        return len(self._rows)

    @property
    def ids(self) -> list[str]:
        """Every id, in file order."""
        return list(self._rows)

    def get(self, uid: str, *, field: str = "unit_cost") -> dict[str, Any]:
        """One entry as a dict; an unknown id is an :class:`InputError` naming close matches."""
        if uid not in self._rows:
            import difflib

            close = difflib.get_close_matches(str(uid), self.ids, n=3)
            hint = f"did you mean {', '.join(close)}?" if close else "see UnitCosts.default().table() for the ids"
            raise InputError(f"unknown unit-cost id {uid!r}", field=field, rows=[uid],
                             fix=f"{hint} Or add it under unit_costs overrides")
        return dict(self._rows[uid])

    def value(self, uid: str, *, price_year: Any | None = None, deflators: DeflatorTable | None = None,
              which: str = "value") -> float:
        """The value (or ``low``/``high``) of one entry, uprated to ``price_year`` when given."""
        e = self.get(uid)
        v = e.get(which, e["value"])
        if price_year is None:
            return float(v)
        table = deflators if deflators is not None else DeflatorTable.default()
        return float(v) * table.factor(e["price_year"], price_year)

    def table(self, *, price_year: Any | None = None, deflators: DeflatorTable | None = None) -> pd.DataFrame:
        """All entries as a DataFrame; with ``price_year`` adds ``value_<year>`` uprated."""
        df = pd.DataFrame([{f: r.get(f) for f in (*FIELDS, "overridden")} for r in self._rows.values()])
        df["overridden"] = df["overridden"].fillna(False).astype(bool)
        if price_year is not None:
            table = deflators if deflators is not None else DeflatorTable.default()
            col = "value_" + format_year(parse_year(price_year, field="price_year")).replace("/", "_")
            df[col] = [r["value"] * table.factor(r["price_year"], price_year) for r in self._rows.values()]
        return df


@functools.cache
def _default_records() -> tuple[dict[str, str], ...]:
    """The shipped database's rows, parsed once per process (treat as read-only)."""
    df = pd.read_csv(io.StringIO(data_text("unit_costs.csv")), dtype=str, keep_default_na=False)
    return tuple(df.to_dict(orient="records"))
