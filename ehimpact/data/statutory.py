"""One call from an authority's files to an analysis-ready ``child_level`` table.

:func:`read_statutory` reads the local early-help export (through its column
mapping), the CIN census XML and the SSDA903 tables, pseudonymises every child id with
the same salt so the three sources link, builds the DATA_CONTRACT ``events`` table and
derives the outcome flags and extra measures (:mod:`ehimpact.data.outcomes`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from ehimpact.data.cin import CINData, read_cin
from ehimpact.data.mapping import ColumnMapping, LocalExport, read_local_export
from ehimpact.data.outcomes import derive_outcomes, repeat_plans, rereferrals
from ehimpact.data.privacy import Salt, resolve_salt
from ehimpact.data.read_report import ReadReport
from ehimpact.data.ssda903 import SSDA903Data, read_ssda903
from ehimpact.errors import InputError

__all__ = ["StatutoryData", "read_statutory", "EVENT_COLUMNS"]

EVENT_COLUMNS = ["child_id", "authority_code", "event_type", "event_date", "detail", "source"]


@dataclass(eq=False)
class StatutoryData:
    """Everything read from one authority's statutory returns and local export.

    Attributes
    ----------
    children : DataFrame
        ``child_level`` rows (one per evaluated early-help episode) with
        ``index_date``, the DATA_CONTRACT outcome flags and the extra measures of
        :func:`ehimpact.data.outcomes.derive_outcomes`.
    events : DataFrame
        DATA_CONTRACT §2 events: ``child_id, authority_code, event_type, event_date,
        detail, source``.
    measures : dict
        Authority-level rates: CSC re-referral rate (DfE) and repeat child protection
        plan rate, with their denominators.
    report : ReadReport
        Problems and counts from every file (no child records).
    cin, ssda903, local : the per-source readers' results (``None`` when not given).
    """

    children: pd.DataFrame
    events: pd.DataFrame
    measures: dict[str, Any]
    report: ReadReport
    cin: CINData | None = None
    ssda903: SSDA903Data | None = None
    local: LocalExport | None = field(default=None, repr=False)

    def report_dict(self) -> dict[str, Any]:
        """JSON-safe read report: counts per file and table, problems, measures."""
        out = self.report.to_dict()
        out["measures"] = {k: (None if pd.isna(v) else v) for k, v in self.measures.items()}
        out["n_children"] = int(len(self.children))
        out["n_events"] = {str(k): int(v) for k, v in self.events["event_type"].value_counts().items()}
        if self.local is not None:
            out["dropped_columns"] = list(self.local.dropped)
        if self.local is not None and not self.local.unmapped.empty:
            out["unmapped_codes"] = [
                {"field": r.field, "column": r.column, "code": str(r.code), "n": int(r.n)}
                for r in self.local.unmapped.itertuples(index=False)
            ]
        return out


def read_statutory(
    *,
    local_export: str | Path,
    mapping: str | Path | Mapping[str, Any] | ColumnMapping,
    cin_xml: str | Path | Sequence[str | Path] | None = None,
    ssda903_dir: str | Path | Mapping[str, str | Path] | None = None,
    salt: str | Salt | None = None,
    authority_code: str | None = None,
    episodes: str = "first",
    csc_months: int | tuple[int, ...] = (6, 12, 24),
    step_up_months: int = 12,
    step_down_months: int = 3,
) -> StatutoryData:
    """Read an authority's early-help export, CIN census and SSDA903 and derive outcomes.

    Parameters
    ----------
    local_export : str or Path
        Early-help episodes exported from the case-management system (CSV or Excel).
    mapping : path, dict or ColumnMapping
        Column-mapping YAML for the export (see :mod:`ehimpact.data.mapping` and
        ``config/mapping_example.yaml``).
    cin_xml : path or sequence of paths, optional
        CIN census XML file(s).  Without it the CSC referral, s47 and CPP flags are 0.
    ssda903_dir : path or mapping, optional
        Folder of SSDA903 CSV files (or ``{"episodes": ..., "header": ...}``).  Without
        it ``cla_24m`` is 0.
    salt : str or Salt, optional
        Secret for the child-id hash, from the config (kept outside the outputs) or
        ``$EHIMPACT_SALT``.  Never written to any output.
    authority_code : str, optional
        GSS code; defaults to the export's ``authority_code`` (mapped column or constant)
        or the CIN header's LEA.
    episodes : {"first", "all"}, default "first"
        See :func:`ehimpact.data.mapping.read_local_export`.
    csc_months, step_up_months, step_down_months : int
        Windows of the extra measures (see :func:`ehimpact.data.outcomes.derive_outcomes`).

    Returns
    -------
    StatutoryData

    Raises
    ------
    InputError
        When a file cannot be read at all (missing, not XML/CSV, wrong header line) or
        the mapping is invalid.  Bad records never raise: they are excluded and listed
        in ``.report``.

    Examples
    --------
    A synthetic authority written in the statutory formats, then read back:

    >>> import tempfile
    >>> from ehimpact.data.synthetic import region
    >>> from ehimpact.data.statutory_writer import write_statutory
    >>> reg = region(n_authorities=1, children_per_authority=100, seed=1)
    >>> f = write_statutory(reg, tempfile.mkdtemp())["E06000035"]
    >>> data = read_statutory(local_export=f.local_export, mapping=f.mapping,
    ...                       cin_xml=f.cin_xml, ssda903_dir=f.ssda903_dir,
    ...                       salt="a-long-secret-from-config")
    >>> data.report.ok, len(data.children)
    (True, 100)
    >>> bool((data.children["cla_24m"] == reg.children["cla_24m"].to_numpy()).all())
    True
    """
    windows = (csc_months,) if isinstance(csc_months, int) else tuple(csc_months)
    for name, values in (("csc_months", windows), ("step_up_months", (step_up_months,)),
                         ("step_down_months", (step_down_months,))):
        if not values or not all(isinstance(v, int) and not isinstance(v, bool) and 0 < v <= 120
                                 for v in values):
            raise InputError(f"{name} must be whole numbers of months from 1 to 120, got {values!r}",
                             field=name, fix=f"e.g. {name}=12")
    key = resolve_salt(salt)
    report = ReadReport()
    local = read_local_export(local_export, mapping, salt=key, episodes=episodes)
    report.extend(local.report)
    cin = read_cin(cin_xml, salt=key) if cin_xml is not None else None
    lac = read_ssda903(ssda903_dir, salt=key) if ssda903_dir is not None else None
    code = authority_code or _export_authority(local) or (cin.authority_code if cin else None)
    children = local.children.copy()
    if code is not None:
        if "authority_code" not in children or children["authority_code"].isna().all():
            children["authority_code"] = code
    parts = [pd.DataFrame({
        "child_id": local.referrals["child_id"], "authority_code": code,
        "event_type": "eh_referral", "event_date": local.referrals["referral_date"],
        "detail": None, "source": "local_export",
    })]  # fmt: skip
    if cin is not None:
        report.extend(cin.report)
        parts.append(cin.events(code).assign(source="cin_census"))
    if lac is not None:
        report.extend(lac.report)
        parts.append(lac.events(code).assign(source="ssda903"))
    events = pd.concat([p[EVENT_COLUMNS] for p in parts if len(p)], ignore_index=True)
    events["event_date"] = pd.to_datetime(events["event_date"])
    events = events.sort_values(["child_id", "event_date", "event_type"], kind="stable")
    events = events.reset_index(drop=True)
    if children.empty:
        raise InputError("no usable early-help episode in the export", field="local_export",
                         fix="check the mapping and the read report (every row was excluded)")
    derived = derive_outcomes(
        children, events, csc_months=csc_months, step_up_months=step_up_months,
        step_down_months=step_down_months,
        closures=cin.referrals if cin is not None else None,
        plans=cin.cpp if cin is not None else None,
    )  # fmt: skip
    measures: dict[str, Any] = {}
    if cin is not None:
        rr = rereferrals(cin.referrals)
        rp = repeat_plans(cin.cpp)
        measures.update(csc_rereferral_rate=rr.attrs["rate"], csc_referrals=rr.attrs["n"],
                        csc_rereferrals=int(rr["rereferral"].sum()),
                        cpp_repeat_rate=rp.attrs["rate"], cpp_starts=rp.attrs["n"],
                        cpp_repeats=int(rp["repeat"].sum()))
    eh = rereferrals(local.referrals)
    measures.update(eh_rereferral_rate=eh.attrs["rate"], eh_referrals=eh.attrs["n"])
    return StatutoryData(children=derived, events=events, measures=measures, report=report,
                         cin=cin, ssda903=lac, local=local)


def _export_authority(local: LocalExport) -> str | None:
    if "authority_code" not in local.children:
        return None
    codes = local.children["authority_code"].dropna().unique()
    return str(codes[0]) if len(codes) == 1 else None
