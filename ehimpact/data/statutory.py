"""One call from an authority's files to an analysis-ready ``child_level`` table.

:func:`read_statutory` reads the local early-help export (through its column
mapping), the CIN census XML (one file per census year), the SSDA903 tables and an
Ofsted Annex A workbook, pseudonymises every child id with the same salt so the
sources link, builds the DATA_CONTRACT ``events`` table and derives the outcome flags
and extra measures (:mod:`ehimpact.data.outcomes`, under :class:`OutcomeRules`).

Nothing is dropped silently:

* every excluded record is counted by source and reason (:attr:`StatutoryData.exclusions`);
* when the excluded share of a source, or of the cohort (the export's episodes),
  passes ``rules.max_excluded_share`` (default 2%) the read stops with an
  :class:`~ehimpact.errors.InputError` carrying the read report;
* a source that links to no child of the cohort is an :class:`~ehimpact.errors.InputError`
  (the wrong authority's file, or a different id scheme);
* follow-up completeness per outcome (observed, unobserved at the extract, open
  episodes), census years and step-ups are counted (:meth:`StatutoryData.summary`).

Duplicates (the same record twice) and open episodes are counted but are not
exclusions for the threshold: no information is lost with them.
"""

from __future__ import annotations

import inspect
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from ehimpact.data.cin import CINData, read_cin
from ehimpact.data.mapping import ColumnMapping, LocalExport, read_local_export
from ehimpact.data.outcomes import (
    OutcomeRules,
    derive_outcomes,
    follow_up_summary,
    repeat_plans,
    rereferrals,
)
from ehimpact.data.privacy import Salt, resolve_salt
from ehimpact.data.read_report import ReadReport
from ehimpact.data.ssda903 import SSDA903Data, read_ssda903
from ehimpact.errors import InputError

__all__ = ["StatutoryData", "read_statutory", "EVENT_COLUMNS", "SOURCE_LABELS"]

EVENT_COLUMNS = ["child_id", "authority_code", "event_type", "event_date", "detail", "source"]

#: source key -> words used in messages and summaries
SOURCE_LABELS = {"local_export": "early-help export", "cin_census": "CIN census",
                 "ssda903": "SSDA903", "annex_a": "Ofsted Annex A"}
#: source key -> config key (for messages)
_CONFIG_KEYS = {"local_export": "data.statutory.local_export", "cin_census": "data.statutory.cin_xml",
                "ssda903": "data.statutory.ssda903_dir", "annex_a": "data.statutory.annex_a"}
_OPEN = "still open"


@dataclass(eq=False)
class StatutoryData:
    """Everything read from one authority's statutory returns and local export.

    Attributes
    ----------
    children : DataFrame
        ``child_level`` rows (one per evaluated early-help episode) with
        ``index_date``, ``open_episode``, the DATA_CONTRACT outcome flags (missing
        where unobserved) and the extra measures of
        :func:`ehimpact.data.outcomes.derive_outcomes`.
    events : DataFrame
        DATA_CONTRACT §2 events: ``child_id, authority_code, event_type, event_date,
        detail, source``.
    measures : dict
        Authority-level rates: CSC re-referral rate (DfE) and repeat child protection
        plan rate, with their denominators.
    report : ReadReport
        Problems and counts from every file (no child records).
    cin, ssda903, local, annex_a : the per-source readers' results (``None`` when not given).
    rules : OutcomeRules
        The rules applied, with the extract date actually used.
    extract_source : str
        Where the extract date came from (``"config"``, ``"CIN census ReferenceDate"``,
        ``"latest date in the files"``).
    sources : DataFrame
        Per source: ``source, files, records_read, records_excluded, duplicates,
        open_episodes, children, children_linked``.
    exclusions : DataFrame
        Excluded records by ``source, file, field, problem, action, n``.
    follow_up : DataFrame
        :func:`ehimpact.data.outcomes.follow_up_summary` of the cohort.
    census_years : DataFrame
        CIN census files read: ``file, year, reference_date`` (what the reader knows).
    counts : dict
        Cohort counts: ``episodes, supported, comparison, open_episodes, step_ups,
        step_ups_same_day, step_downs``.
    """

    children: pd.DataFrame
    events: pd.DataFrame
    measures: dict[str, Any]
    report: ReadReport
    cin: CINData | None = None
    ssda903: SSDA903Data | None = None
    local: LocalExport | None = field(default=None, repr=False)
    annex_a: Any = field(default=None, repr=False)
    rules: OutcomeRules = field(default_factory=OutcomeRules)
    extract_source: str = ""
    sources: pd.DataFrame = field(default_factory=pd.DataFrame)
    exclusions: pd.DataFrame = field(default_factory=pd.DataFrame)
    follow_up: pd.DataFrame = field(default_factory=pd.DataFrame)
    census_years: pd.DataFrame = field(default_factory=pd.DataFrame)
    counts: dict[str, int] = field(default_factory=dict)

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

    def summary(self) -> dict[str, Any]:
        """Counts-only summary (no identifiers, no dates of children, file names only).

        Returns
        -------
        dict
            ``rules``, ``extract_date``, ``extract_source``, ``sources``, ``exclusions``,
            ``follow_up``, ``census_years`` (lists of records) and ``cohort`` counts.
            Counts are not disclosure-controlled here.
        """
        def records(frame: pd.DataFrame) -> list[dict[str, Any]]:
            return [{k: (v.item() if hasattr(v, "item") else v) for k, v in r.items()}
                    for r in frame.to_dict(orient="records")]

        return {
            "rules": self.rules.describe(),
            "window_start": self.rules.window_start,
            "comparison_index": self.rules.comparison_index,
            "extract_date": None if self.rules.extract_date is None else str(self.rules.extract_date.date()),
            "extract_source": self.extract_source,
            "sources": records(self.sources),
            "exclusions": records(self.exclusions),
            "follow_up": records(self.follow_up),
            "census_years": records(self.census_years),
            "cohort": dict(self.counts),
            "annex_a_reach": self.annex_a.reach() if callable(getattr(self.annex_a, "reach", None)) else {},
        }


def read_statutory(
    *,
    local_export: str | Path,
    mapping: str | Path | Mapping[str, Any] | ColumnMapping,
    cin_xml: str | Path | Sequence[str | Path] | None = None,
    ssda903_dir: str | Path | Mapping[str, str | Path] | None = None,
    annex_a: str | Path | None = None,
    salt: str | Salt | None = None,
    authority_code: str | None = None,
    episodes: str = "first",
    rules: OutcomeRules | None = None,
    census_years: str = "require",
    csc_months: int | tuple[int, ...] = (6, 12, 24),
    step_up_months: int = 12,
    step_down_months: int = 3,
) -> StatutoryData:
    """Read an authority's early-help export, CIN census, SSDA903 and Annex A and derive outcomes.

    Parameters
    ----------
    local_export : str or Path
        Early-help episodes exported from the case-management system (CSV or Excel).
        It is the source of the cohort: only it says who was supported and who not.
    mapping : path, dict or ColumnMapping
        Column-mapping YAML for the export (see :mod:`ehimpact.data.mapping` and
        ``config/mapping_example.yaml``).
    cin_xml : path or sequence of paths, optional
        CIN census XML file(s), one per census year.  Without it the CSC referral,
        s47 and CPP flags are 0 (or come from Annex A).
    ssda903_dir : path or mapping, optional
        Folder of SSDA903 CSV files (or ``{"episodes": ..., "header": ...}``).  Without
        it ``cla_24m`` is 0 (or comes from Annex A).
    annex_a : path, optional
        Ofsted Annex A workbook: supplies the events the CIN census and SSDA903 do not
        (needs :mod:`ehimpact.data.annex_a`).
    salt : str or Salt, optional
        Secret for the child-id hash, from the config (kept outside the outputs) or
        ``$EHIMPACT_SALT``.  Never written to any output.
    authority_code : str, optional
        GSS code of the authority evaluated; defaults to the export's ``authority_code``
        (mapped column or constant) or the CIN header's LEA.  Passed to the CIN reader,
        which checks the census header's LEA against it.
    episodes : {"first", "all"}, default "first"
        See :func:`ehimpact.data.mapping.read_local_export`.
    rules : OutcomeRules, optional
        Window start, comparison index date, extract date and the largest excluded
        share (:class:`ehimpact.data.outcomes.OutcomeRules`; defaults there).  Without an
        extract date, the latest CIN census ``ReferenceDate`` is used, else the latest
        date found in the files.
    census_years : {"require", "report"}, default "require"
        ``"require"``: a CIN census collection year the cohort's follow-up needs (from
        the first closure to the extract date) but no file covers stops the read, since
        referrals in that year would count as none.  ``"report"`` only lists the
        missing years in :attr:`StatutoryData.census_years` (for hand-built files that
        hold several years in one census).
    csc_months, step_up_months, step_down_months : int
        Windows of the extra measures (see :func:`ehimpact.data.outcomes.derive_outcomes`).

    Returns
    -------
    StatutoryData

    Raises
    ------
    InputError
        When a file cannot be read at all (missing, not XML/CSV, wrong header line) or
        the mapping is invalid; when more than ``rules.max_excluded_share`` of a
        source's records (or of the cohort) are excluded (the message carries the
        read report); when a source links to no child of the cohort.  Fewer bad
        records do not raise: they are excluded, counted by reason and listed in
        ``.report``.

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
    >>> data.report.ok, len(data.children), data.extract_source
    (True, 100, 'CIN census ReferenceDate')
    >>> seen = data.children["cla_24m"].notna().to_numpy()  # follow-up complete by the extract
    >>> bool((data.children["cla_24m"][seen] == reg.children["cla_24m"][seen].to_numpy()).all())
    True
    """
    windows = (csc_months,) if isinstance(csc_months, int) else tuple(csc_months)
    for name, values in (("csc_months", windows), ("step_up_months", (step_up_months,)),
                         ("step_down_months", (step_down_months,))):
        if not values or not all(isinstance(v, int) and not isinstance(v, bool) and 0 < v <= 120
                                 for v in values):
            raise InputError(f"{name} must be whole numbers of months from 1 to 120, got {values!r}",
                             field=name, fix=f"e.g. {name}=12")
    rules = OutcomeRules() if rules is None else rules
    if census_years not in ("require", "report"):
        raise InputError(f"census_years must be 'require' or 'report', got {census_years!r}",
                         field="census_years", fix="use 'require' (the default)")
    key = resolve_salt(salt)
    report = ReadReport()
    local = read_local_export(local_export, mapping, salt=key, episodes=episodes)
    report.extend(local.report)
    code = authority_code or _export_authority(local)
    cin = None
    if cin_xml is not None:
        kwargs: dict[str, Any] = {"salt": key}
        if code is not None and _accepts(read_cin, "authority_code"):
            kwargs["authority_code"] = code  # the CIN reader checks the header's LEA against it
        cin = read_cin(cin_xml, **kwargs)
    lac = read_ssda903(ssda903_dir, salt=key) if ssda903_dir is not None else None
    annex = _read_annex_a(annex_a, key, code) if annex_a is not None else None
    code = code or (cin.authority_code if cin else None)
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
    if annex is not None:
        report.extend(getattr(annex, "report", ReadReport()))
        ev = annex.events(code) if callable(getattr(annex, "events", None)) else pd.DataFrame(
            columns=EVENT_COLUMNS[:-1])
        # Annex A supplies only what the census and SSDA903 do not: never the same event twice
        covered = ({"csc_referral", "s47", "cpp_start", "cpp_end"} if cin is not None else set()) | (
            {"cla_start"} if lac is not None else set())
        ev = ev.loc[~ev["event_type"].isin(covered | {"eh_referral"})]
        parts.append(ev.assign(source="annex_a"))
    events = pd.concat([p.reindex(columns=EVENT_COLUMNS) for p in parts if len(p)], ignore_index=True)
    events["event_date"] = pd.to_datetime(events["event_date"])
    events = events.sort_values(["child_id", "event_date", "event_type"], kind="stable")
    events = events.reset_index(drop=True)
    if children.empty:
        raise InputError(
            f"no usable early-help episode in the export {Path(str(local_export)).name}: every row was excluded"
            f"\n{report}", field="data.statutory.local_export",
            fix="check the export is the episode table, and the mapping's column names and date format "
                "against its header line (the read report above lists what was wrong)")

    sources = _source_table(local, cin, lac, annex, events, children)
    exclusions = _exclusions(report, local, cin, lac, annex)
    _check_shares(sources, rules, report)
    _check_links(sources, cin, lac, annex, code)

    extract_source = "config"
    if rules.extract_date is None:
        when = _cin_extract_date(cin)
        extract_source = "CIN census ReferenceDate"
        if when is None:
            when = _latest_date(events, children)
            extract_source = "latest date in the files"
        rules = rules.replace(extract_date=when)
    missing_years = _check_census_years(cin, children, rules, stop=census_years == "require")
    derived = derive_outcomes(
        children, events, rules=rules, csc_months=csc_months, step_up_months=step_up_months,
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
    follow = follow_up_summary(derived, rules)
    open_dropped = int(sources.loc[sources["source"] == "local_export", "open_episodes"].sum())
    if open_dropped:  # open episodes the export reader left out: still counted as open
        follow["open_episode"] += open_dropped
        follow["children"] += open_dropped
    supported = derived["received_early_help"].fillna(0).astype(int) == 1
    counts = {
        "episodes": int(len(derived)) + open_dropped,
        "supported": int(supported.sum()) + open_dropped,
        "comparison": int((~supported).sum()),
        "open_episodes": int(derived["open_episode"].sum()) + open_dropped,
        "step_ups": int(derived.loc[supported, "step_up"].fillna(0).sum()),
        "step_ups_same_day": int(derived.loc[supported, "step_up_same_day"].fillna(0).sum()),
        "step_downs": int(derived["step_down"].fillna(0).sum()) if "step_down" in derived else 0,
    }
    return StatutoryData(children=derived, events=events, measures=measures, report=report,
                         cin=cin, ssda903=lac, local=local, annex_a=annex, rules=rules,
                         extract_source=extract_source, sources=sources, exclusions=exclusions,
                         follow_up=follow, census_years=_census_years(cin, missing_years), counts=counts)


def _accepts(func: Any, name: str) -> bool:
    try:
        return name in inspect.signature(func).parameters
    except (TypeError, ValueError):  # pragma: no cover - builtins
        return False


def _read_annex_a(path: str | Path, key: Salt, code: str | None) -> Any:
    try:
        from ehimpact.data.annex_a import read_annex_a
    except ImportError:
        raise InputError("this version of ehimpact cannot read Ofsted Annex A workbooks yet",
                         field="data.statutory.annex_a",
                         fix="remove annex_a from the config, or give the CIN census and SSDA903") from None
    return read_annex_a(path, salt=key, authority_code=code)


def _report_counts(rep: ReadReport | None, tables: Sequence[str] | None = None) -> tuple[int, int]:
    if rep is None:
        return 0, 0
    read = excluded = 0
    for tabs in rep.counts.values():
        for name, c in tabs.items():
            if tables is None or name in tables:
                read += int(c.get("read", 0))
                excluded += int(c.get("excluded", 0))
    return read, excluded


def _not_lost(rep: ReadReport | None) -> tuple[int, int]:
    """Duplicates and open episodes among the exclusions (counted, but no information lost)."""
    if rep is None:
        return 0, 0
    dup = sum(p.action == "duplicate excluded" for p in rep.problems)
    opened = sum(p.action == "record excluded" and _OPEN in p.problem for p in rep.problems)
    return dup, opened


def _files(rep: ReadReport | None) -> str:
    return ", ".join(sorted(rep.counts)) if rep is not None else ""


def _source_table(local: LocalExport, cin: CINData | None, lac: SSDA903Data | None, annex: Any,
                  events: pd.DataFrame, children: pd.DataFrame) -> pd.DataFrame:
    cohort = set(children["child_id"])
    rows = []
    for name, rep, tables, ids in (
        ("local_export", local.report, ("episodes",), children["child_id"]),
        ("cin_census", cin.report if cin is not None else None, None,
         cin.children["child_id"] if cin is not None else None),
        ("ssda903", lac.report if lac is not None else None, None,
         _ids(lac) if lac is not None else None),
        ("annex_a", getattr(annex, "report", None) if annex is not None else None, None,
         _annex_ids(annex, events) if annex is not None else None),
    ):
        if ids is None:
            continue
        read, excluded = _report_counts(rep, tables)
        dup, opened = _not_lost(rep)
        unique = set(pd.Series(ids).dropna())
        rows.append({"source": name, "files": _files(rep), "records_read": read, "records_excluded": excluded,
                     "duplicates": dup, "open_episodes": opened if name == "local_export" else 0,
                     "children": len(unique), "children_linked": len(unique & cohort)})
    return pd.DataFrame(rows)


def _annex_ids(annex: Any, events: pd.DataFrame) -> pd.Series:
    """Every child of the workbook's lists (List 2's early help included), else of its events."""
    lists = getattr(annex, "lists", None)
    if isinstance(lists, Mapping) and lists:
        parts = [t["child_id"] for t in lists.values() if "child_id" in t]
        if parts:
            return pd.concat(parts, ignore_index=True)
    return events.loc[events["source"] == "annex_a", "child_id"]


def _ids(lac: SSDA903Data) -> pd.Series:
    parts = [t["child_id"] for t in (lac.header, lac.episodes) if "child_id" in t]
    return pd.concat(parts, ignore_index=True) if parts else pd.Series(dtype=object)


def _exclusions(report: ReadReport, local: LocalExport, cin: CINData | None, lac: SSDA903Data | None,
                annex: Any) -> pd.DataFrame:
    owner: dict[str, str] = {}
    for name, rep in (("local_export", local.report), ("cin_census", cin.report if cin else None),
                      ("ssda903", lac.report if lac else None),
                      ("annex_a", getattr(annex, "report", None) if annex is not None else None)):
        for f in (rep.counts if rep is not None else {}):
            owner.setdefault(f, name)
        for p in (rep.problems if rep is not None else []):
            owner.setdefault(p.file, name)
    rows = [{"source": owner.get(p.file, ""), "file": p.file, "field": p.field, "problem": p.problem,
             "action": p.action} for p in report.problems if "excluded" in p.action]
    cols = ["source", "file", "field", "problem", "action"]
    if not rows:
        return pd.DataFrame(columns=[*cols, "n"])
    frame = pd.DataFrame(rows, columns=cols)
    return frame.groupby(cols, sort=False).size().rename("n").reset_index()


def _check_shares(sources: pd.DataFrame, rules: OutcomeRules, report: ReadReport) -> None:
    limit = rules.max_excluded_share
    for r in sources.itertuples(index=False):
        lost = r.records_excluded - r.duplicates - r.open_episodes
        if r.records_read <= 0 or lost <= 0:
            continue
        share = lost / r.records_read
        if share > limit:
            what = ("of the cohort (the early-help export's episodes)" if r.source == "local_export"
                    else f"of the {SOURCE_LABELS[r.source]} records")
            raise InputError(
                f"{share:.1%} {what} were excluded ({lost} of {r.records_read} in {r.files}), more than "
                f"data.max_excluded_share ({limit:.1%}); an estimate on what is left could be wrong without "
                f"saying so\n{report}",
                field=_CONFIG_KEYS[r.source],
                fix="correct the records the read report lists (their file, line or child, and field), or, "
                    "if these exclusions are expected, raise evaluation.data.max_excluded_share in the config")


def _check_links(sources: pd.DataFrame, cin: CINData | None, lac: SSDA903Data | None, annex: Any,
                 code: str | None) -> None:
    cohort = int(sources.loc[sources["source"] == "local_export", "children"].sum())
    for r in sources.itertuples(index=False):
        if r.source == "local_export" or r.children == 0 or r.children_linked > 0 or cohort == 0:
            continue
        lea = f" (its header's LEA is {cin.authority_code})" if r.source == "cin_census" and cin is not None \
            and cin.authority_code else ""
        raise InputError(
            f"the {SOURCE_LABELS[r.source]} ({r.files}){lea} links to no child of the cohort: none of its "
            f"{r.children} children has an id that matches one of the {cohort} children in the early-help "
            "export. It is the wrong authority's file, or a different id scheme",
            field=_CONFIG_KEYS[r.source],
            fix=f"give this authority's {SOURCE_LABELS[r.source]} files"
                f"{' (' + code + ')' if code else ''}, and map the export's child id column to the same id the "
                "returns use (LAchildID in the CIN census, CHILD in SSDA903), with the same salt for every source")


def _cin_extract_date(cin: CINData | None) -> pd.Timestamp | None:
    """The latest census ReferenceDate the CIN reader found (``None`` if it reports none)."""
    if cin is None:
        return None
    for attr in ("extract_date", "reference_date"):
        value = getattr(cin, attr, None)
        if value is not None and not callable(value):
            return pd.Timestamp(value).normalize()
    dates = getattr(cin, "reference_dates", None)
    if dates is not None and not callable(dates) and len(dates):
        values = dates.values() if isinstance(dates, Mapping) else dates
        return max(pd.Timestamp(v) for v in values).normalize()
    try:
        from ehimpact.data import cin as cin_module

        fn = getattr(cin_module, "extract_date", None)
        value = fn(cin) if callable(fn) else None
    except (TypeError, AttributeError, ValueError, InputError):
        value = None
    return None if value is None else pd.Timestamp(value).normalize()


def _latest_date(events: pd.DataFrame, children: pd.DataFrame) -> pd.Timestamp:
    dates = [events["event_date"].max()]
    for col in ("referral_date", "assessment_date", "start_date", "end_date"):
        if col in children:
            dates.append(pd.to_datetime(children[col]).max())
    return max(pd.Timestamp(d) for d in dates if pd.notna(d)).normalize()


def _collection_year(day: pd.Timestamp) -> int:
    """CIN collection year of a date: 2024 covers 1 April 2023 to 31 March 2024."""
    return int(day.year + (1 if day.month >= 4 else 0))


def _check_census_years(cin: CINData | None, children: pd.DataFrame, rules: OutcomeRules, *,
                        stop: bool = True) -> list[int]:
    """Every census year the cohort's follow-up needs must be given: a missing year is missing events."""
    years = [int(y) for y in getattr(cin, "collection_years", []) or []] if cin is not None else []
    if not years or rules.extract_date is None:
        return []
    first = pd.to_datetime(children["end_date"]).where(children["received_early_help"] == 1).min()
    if pd.isna(first):
        first = pd.to_datetime(children["referral_date"]).min()
    if pd.isna(first) or first > rules.extract_date:
        return []
    needed = set(range(_collection_year(first), _collection_year(rules.extract_date) + 1))
    missing = sorted(needed - set(years))
    if missing and stop:
        given = ", ".join(str(y) for y in sorted(set(years)))
        raise InputError(
            f"CIN census year(s) {', '.join(map(str, missing))} are missing: the cohort's follow-up runs from "
            f"{first.date()} to the extract date {rules.extract_date.date()}, which needs the census years "
            f"{min(needed)} to {max(needed)}, and the files given cover {given}. Social-care referrals in a "
            "missing year would be counted as none",
            field="data.statutory.cin_xml",
            fix="give one CIN census file per collection year (cin_xml takes a list, a folder or a glob such as "
                "'cin/CIN_*.xml'), or set evaluation.data.extract_date to the end of the years you have")
    return missing


def _census_years(cin: CINData | None, missing: Sequence[int] = ()) -> pd.DataFrame:
    """Which census file covers which dates (from :attr:`CINData.census`, file names only).

    A collection year the follow-up needs but no file covers is a row with no file.
    """
    cols = ["file", "collection_year", "reference_date", "period_start", "period_end"]
    census = getattr(cin, "census", None) if cin is not None else None
    if isinstance(census, pd.DataFrame) and len(census):
        out = census.reindex(columns=cols).copy()
        out["file"] = out["file"].map(lambda f: Path(str(f)).name)
        gaps = pd.DataFrame([{"file": "", "collection_year": y,
                              "period_start": pd.Timestamp(y - 1, 4, 1), "period_end": pd.Timestamp(y, 3, 31)}
                             for y in missing], columns=cols)
        out = pd.concat([out, gaps], ignore_index=True) if len(gaps) else out
        return out.sort_values("collection_year", kind="stable").reset_index(drop=True)
    if cin is None:
        return pd.DataFrame(columns=cols)
    # a reader that does not say: the files it read, coverage unknown
    return pd.DataFrame([{"file": f} for f in cin.report.counts], columns=cols)


def _export_authority(local: LocalExport) -> str | None:
    if "authority_code" not in local.children:
        return None
    codes = local.children["authority_code"].dropna().unique()
    return str(codes[0]) if len(codes) == 1 else None
