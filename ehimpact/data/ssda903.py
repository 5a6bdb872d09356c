"""Read the children-looked-after return (SSDA903) CSV tables into pseudonymous tables.

SSDA903 is the DfE's annual child-level return on looked-after children.  Its tables
are CSV files with fixed column names (``csc-validator-be-903`` ``lac_validator/config.py``);
this module reads the two the outcomes need:

* **Header**: ``CHILD, SEX, DOB, ETHNIC, UPN, MOTHER, MC_DOB``
* **Episodes**: ``CHILD, DECOM, RNE, LS, CIN, PLACE, PLACE_PROVIDER, DEC, REC,
  REASON_PLACE_CHANGE, HOME_POST, PL_POST, URN``

Dates are ``DD/MM/YYYY`` in the DfE specification; exports from case-management
systems also write ISO ``YYYY-MM-DD``.  The format is detected per file and column
(:func:`ehimpact.data.read_report.detect_date_format`): a column that mixes the two,
or whose dates match neither, stops the read with an :class:`~ehimpact.errors.InputError`
naming the file, the column, the formats found with their counts and example lines,
and the fix.  An episode with reason for new episode ``RNE = S`` is the child starting
to be looked after (the ``cla_start`` event).  UPN, full dates of birth and the
postcodes (``HOME_POST``, ``PL_POST``) are never kept: the postcodes are dropped as
soon as a table is read.  The other tables of a return (UASC, OC2, OC3, Missing,
Reviews, ...) may sit in the same folder; they are recognised and ignored.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from ehimpact.data.cin import ETHNICITY_GROUPS
from ehimpact.data.privacy import Salt, birth_month, pseudonymise, resolve_salt
from ehimpact.data.read_report import (
    ReadReport,
    check_order,
    csv_delimiter,
    detect_date_format,
    map_codes,
    parse_dates,
    read_csv_records,
)
from ehimpact.errors import InputError

__all__ = ["SSDA903Data", "read_ssda903", "COLUMNS", "REQUIRED", "RNE_CODES", "LS_CODES"]

#: Full column lists of the two tables (lac_validator config).
COLUMNS: dict[str, list[str]] = {
    "header": ["CHILD", "SEX", "DOB", "ETHNIC", "UPN", "MOTHER", "MC_DOB"],
    "episodes": ["CHILD", "DECOM", "RNE", "LS", "CIN", "PLACE", "PLACE_PROVIDER", "DEC", "REC",
                 "REASON_PLACE_CHANGE", "HOME_POST", "PL_POST", "URN"],
}  # fmt: skip
#: Columns a file must have to be read as that table (older years lack some of the rest).
REQUIRED: dict[str, list[str]] = {
    "header": ["CHILD", "SEX", "DOB", "ETHNIC"],
    "episodes": ["CHILD", "DECOM", "RNE", "LS", "CIN", "PLACE", "DEC", "REC"],
}

#: Reason for new episode: S = started to be looked after.
RNE_CODES = {c: c for c in ("S", "L", "P", "T", "B", "U")}
#: Legal status.
LS_CODES = {c: c for c in ("C1", "C2", "D1", "E1", "V2", "V3", "V4", "L1", "L2", "L3", "J1",
                           "J2", "J3")}  # fmt: skip
#: The return's other tables (recognised by a column only they have, DfE 2024 layout):
#: read past, never an error.
OTHER_TABLES: dict[str, str] = {
    "AD1": "DATE_INT", "Missing": "MIS_START", "OC2": "SDQ_SCORE", "OC3": "IN_TOUCH",
    "PlacedAdoption": "DATE_PLACED", "PrevPerm": "PREV_PERM", "Reviews": "REVIEW_CODE",
    "SocialWorker": "SW_ID", "UASC": "DUC",
}  # fmt: skip
#: Columns that are identifiers and are dropped as soon as a table is read.
DROPPED_ON_LOAD = ("HOME_POST", "PL_POST", "UPN")
_NEED = {f"N{i}": f"N{i}" for i in range(1, 9)}
_SEX = {"1": "male", "2": "female"}


@dataclass
class SSDA903Data:
    """Tidy SSDA903 tables keyed by pseudonymous ``child_id``.

    Attributes
    ----------
    header : DataFrame
        ``child_id, sex, birth_month, ethnicity, mother, mc_birth_month`` (empty if no
        Header file was given).
    episodes : DataFrame
        ``child_id, decom, rne, ls, cin, place, place_provider, dec, rec,
        reason_place_change``.
    authority_code : str or None
    report : ReadReport
    """

    header: pd.DataFrame
    episodes: pd.DataFrame
    authority_code: str | None = None
    report: ReadReport = field(default_factory=ReadReport)

    def events(self, authority_code: str | None = None) -> pd.DataFrame:
        """``cla_start`` events (DECOM of every episode with RNE = S), DATA_CONTRACT §2 layout."""
        starts = self.episodes.loc[self.episodes["rne"] == "S"]
        out = pd.DataFrame({
            "child_id": starts["child_id"].to_numpy(),
            "authority_code": authority_code or self.authority_code,
            "event_type": "cla_start",
            "event_date": starts["decom"].to_numpy(),
            "detail": starts["ls"].to_numpy(),
        })  # fmt: skip
        return out.sort_values(["child_id", "event_date"], kind="stable").reset_index(drop=True)


def read_ssda903(
    source: str | Path | Mapping[str, str | Path],
    *,
    salt: str | Salt | None = None,
    authority_code: str | None = None,
) -> SSDA903Data:
    """Read SSDA903 Header and Episodes CSV files.

    Parameters
    ----------
    source : path or mapping
        A folder holding the CSV files (each is recognised by its header line, so file
        names do not matter), or ``{"episodes": path, "header": path}``.  Episodes is
        required; Header is optional.
    salt : str or Salt, optional
        Secret for the child-id hash (``$EHIMPACT_SALT`` by default); use the same one
        as for the CIN census and the local export.
    authority_code : str, optional
        GSS code attached to the events.

    Returns
    -------
    SSDA903Data

    Raises
    ------
    InputError
        When no Episodes table can be found, or a named file lacks required columns.

    Notes
    -----
    Bad lines are excluded and reported (file, line, field): a blank CHILD, an invalid
    or blank DECOM, a DEC before DECOM, a line with the wrong number of fields, and a
    repeat of an earlier episode (same CHILD and DECOM; the first is kept).

    Examples
    --------
    >>> lac = read_ssda903("returns/903_2024/", salt="a-long-secret")  # doctest: +SKIP
    >>> lac.events().head()  # doctest: +SKIP
    """
    key = resolve_salt(salt)
    report = ReadReport()
    files = _locate(source, report)
    header = _read_header(files["header"], key, report) if files.get("header") else _empty_header()
    episodes = _read_episodes(files["episodes"], key, report)
    return SSDA903Data(header=header, episodes=episodes, authority_code=authority_code,
                       report=report)


def _locate(source: str | Path | Mapping[str, str | Path], report: ReadReport) -> dict[str, Path]:
    if isinstance(source, Mapping):
        unknown = set(source) - set(COLUMNS)
        if unknown:
            raise InputError(f"unknown SSDA903 table(s) {sorted(unknown)}", field="ssda903",
                             fix="use the keys 'episodes' and 'header'")
        files = {k: Path(v) for k, v in source.items()}
    else:
        folder = Path(source)
        if not folder.is_dir():
            raise InputError(f"folder not found: {folder}", field="ssda903_dir",
                             fix="point ssda903_dir at the folder holding the 903 CSV files")
        files = {}
        for path in sorted(folder.glob("*.csv")):
            kind = _identify(path)
            if kind is None:
                report.add(file=path, record="file", field="", problem="not a Header or Episodes table",
                           action="ignored")
            elif kind.startswith("other:"):
                report.add(file=path, record="file", field="",
                           problem=f"SSDA903 {kind[6:]} table (not used)", action="ignored")
            elif kind in files:
                raise InputError(
                    f"two {kind} tables in {folder}: {files[kind].name} and {path.name}",
                    field="ssda903_dir", fix="keep one year's return per folder",
                )
            else:
                files[kind] = path
    if "episodes" not in files:
        raise InputError(
            "no SSDA903 Episodes table found",
            field="ssda903_dir",
            fix=f"provide a CSV whose header has the columns {', '.join(REQUIRED['episodes'])}",
        )
    return files


def _identify(path: Path) -> str | None:
    with path.open("rb") as handle:
        first = handle.readline().decode("utf-8-sig", errors="replace")
    names = {c.strip().strip('"').upper() for c in first.split(csv_delimiter(first))}
    for kind in ("episodes", "header"):
        if set(REQUIRED[kind]) <= names:
            return kind
    for table, marker in OTHER_TABLES.items():
        if marker in names:
            return f"other:{table}"
    lowered = path.stem.lower()
    for kind in ("episodes", "header"):
        if kind.rstrip("s") in lowered:  # named like the table but wrong columns: say so
            missing = [c for c in REQUIRED[kind] if c not in names]
            raise InputError(
                f"{path.name} looks like the {kind} table but lacks column(s) {', '.join(missing)}",
                field="ssda903_dir",
                fix=f"the {kind} header line must contain {', '.join(REQUIRED[kind])}",
            )
    return None


def _read_table(path: Path, kind: str, report: ReadReport) -> pd.DataFrame:
    columns, raw = read_csv_records(path, argument=f"ssda903 {kind}", report=report)
    upper = {c: c.upper() for c in columns}
    raw = raw.rename(columns=upper)
    raw = raw.drop(columns=[c for c in DROPPED_ON_LOAD if c in raw.columns])
    missing = [c for c in REQUIRED[kind] if c not in raw.columns]
    if missing:
        raise InputError(
            f"{path.name} lacks SSDA903 {kind} column(s) {', '.join(missing)}",
            field=f"ssda903 {kind}",
            fix=f"the header line must contain {', '.join(REQUIRED[kind])}",
        )
    for extra in [c for c in raw.columns if c not in COLUMNS[kind] and c != "_record"
                  and c not in DROPPED_ON_LOAD]:
        report.add(file=path, record="header", field=extra, problem="column not in the specification",
                   action="ignored")
    blank = raw["CHILD"].isna()
    for rec in raw.loc[blank, "_record"]:
        report.add(file=path, record=rec, field="CHILD", problem="blank child id",
                   action="record excluded")
    out = raw.loc[~blank].reset_index(drop=True)
    out.attrs["n_lines"] = raw.attrs["n_lines"]
    return out


def _read_episodes(path: Path, salt: Salt, report: ReadReport) -> pd.DataFrame:
    raw = _read_table(path, "episodes", report)
    n_read = raw.attrs["n_lines"]
    fmt = {c: detect_date_format(raw, c, file=path) for c in ("DECOM", "DEC")}
    decom, bad = parse_dates(raw, "DECOM", fmt=fmt["DECOM"], file=path, report=report,
                             required=True)
    dec, _ = parse_dates(raw, "DEC", fmt=fmt["DEC"], file=path, report=report, required=False)
    bad |= check_order(raw, decom, dec, end_label="DEC", start_label="DECOM", file=path,
                       report=report)
    out = pd.DataFrame({
        "child_id": pseudonymise(raw["CHILD"], salt),
        "decom": decom,
        "rne": map_codes(raw, "RNE", RNE_CODES, file=path, report=report),
        "ls": map_codes(raw, "LS", LS_CODES, file=path, report=report),
        "cin": map_codes(raw, "CIN", _NEED, file=path, report=report),
        "place": raw["PLACE"],
        "place_provider": _col(raw, "PLACE_PROVIDER"),
        "dec": dec,
        "rec": raw["REC"],
        "reason_place_change": _col(raw, "REASON_PLACE_CHANGE"),
    })  # fmt: skip
    dup = out.loc[~bad, ["child_id", "decom"]].duplicated(keep="first").reindex(
        out.index, fill_value=False
    )
    for rec in raw.loc[dup, "_record"]:
        report.add(file=path, record=rec, field="DECOM",
                   problem="duplicate episode (same CHILD and DECOM as an earlier line)",
                   action="duplicate excluded")
    keep = ~(bad | dup)
    report.count(path, "episodes", read=n_read, kept=int(keep.sum()))
    return out.loc[keep].reset_index(drop=True)


def _read_header(path: Path, salt: Salt, report: ReadReport) -> pd.DataFrame:
    raw = _read_table(path, "header", report)
    n_read = raw.attrs["n_lines"]
    fmt = {c: detect_date_format(raw, c, file=path) for c in ("DOB", "MC_DOB")}
    dob, _ = parse_dates(raw, "DOB", fmt=fmt["DOB"], file=path, report=report, required=False)
    mc_dob, _ = parse_dates(raw, "MC_DOB", fmt=fmt["MC_DOB"], file=path, report=report,
                            required=False)
    out = pd.DataFrame({
        "child_id": pseudonymise(raw["CHILD"], salt),
        "sex": map_codes(raw, "SEX", _SEX, file=path, report=report, default="other_unknown"),
        "birth_month": birth_month(dob),
        "ethnicity": map_codes(raw, "ETHNIC", ETHNICITY_GROUPS, file=path, report=report,
                               default="unknown"),
        "mother": pd.to_numeric(map_codes(raw.assign(MOTHER=_col(raw, "MOTHER")), "MOTHER",
                                          {"0": "0", "1": "1"}, file=path, report=report),
                                errors="coerce").astype("Int8"),
        "mc_birth_month": birth_month(mc_dob),
    })  # fmt: skip
    dup = out["child_id"].duplicated(keep="first")
    for rec in raw.loc[dup, "_record"]:
        report.add(file=path, record=rec, field="CHILD", problem="child appears on two lines",
                   action="duplicate excluded")
    report.count(path, "header", read=n_read, kept=int((~dup).sum()))
    return out.loc[~dup].reset_index(drop=True)


def _col(raw: pd.DataFrame, name: str) -> pd.Series:
    if name in raw:
        return raw[name]
    return pd.Series(None, index=raw.index, dtype=object)


def _empty_header() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "child_id": pd.Series(dtype=object),
            "sex": pd.Series(dtype=object),
            "birth_month": pd.Series(dtype="datetime64[ns]"),
            "ethnicity": pd.Series(dtype=object),
            "mother": pd.Series(dtype="Int8"),
            "mc_birth_month": pd.Series(dtype="datetime64[ns]"),
        }
    )
