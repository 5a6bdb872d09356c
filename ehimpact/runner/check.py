"""``ehimpact check``: read every input, derive the outcomes, and say what was read.

:func:`check` loads a config's data exactly as a run would (the same readers, the same
outcome rules and the same stops: an excluded share over the threshold, a source that
links to no child, a missing census year), then returns a read summary and writes
``read_report.csv``:

* records read and excluded, per source and file, and the excluded records by reason;
* the census years read and the dates each covers;
* the children of each source and how many link to the cohort;
* follow-up completeness per outcome: observed, unobserved (the window ends after the
  extract date) and open episodes;
* the cohort: supported and comparison children, step-ups (and same-day step-ups) and
  step-downs;
* the outcome rules applied, with the extract date and where it came from.

``read_report.csv`` holds counts only: no identifier, no child's date, file names
without their folders, and every count from 1 to the config's disclosure threshold
replaced by its suppression symbol.  On the built-in synthetic data the summary
describes the generator's cohort and outcome completeness.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from ehimpact.errors import InputError

__all__ = ["CheckResult", "check", "REPORT_COLUMNS", "REPORT_NAME"]

REPORT_NAME = "read_report.csv"
#: Columns of ``read_report.csv``: one row per count.
REPORT_COLUMNS = ["section", "source", "file", "item", "detail", "n"]

_LABELS = {"local_export": "early-help export", "cin_census": "CIN census", "ssda903": "SSDA903",
           "annex_a": "Ofsted Annex A", "synthetic": "synthetic generator"}


@dataclass
class CheckResult:
    """What ``ehimpact check`` found.

    Attributes
    ----------
    text : str
        The read summary, for the console (small counts suppressed as in the CSV).
    table : DataFrame
        The rows of ``read_report.csv`` (:data:`REPORT_COLUMNS`), disclosure-controlled.
    path : Path or None
        Where ``read_report.csv`` was written.
    problems : list of str
        Problems worth a look that did not stop the read (records excluded or values
        set to missing, below the threshold); empty when the read was clean.
    authority : str or None
    """

    text: str
    table: pd.DataFrame
    path: Path | None
    problems: list[str] = field(default_factory=list)
    authority: str | None = None

    @property
    def read_report(self) -> Path | None:
        """Where ``read_report.csv`` was written (the same as :attr:`path`)."""
        return self.path

    @property
    def ok(self) -> bool:
        """True when nothing was excluded or set to missing."""
        return not self.problems

    @property
    def exit_code(self) -> int:
        """0 when clean, 1 when there are problems (an InputError, exit 2, is raised instead)."""
        return 0 if self.ok else 1


def check(config_path: str | Path, authority: str | None = None, *, out_dir: str | Path | None = None
          ) -> CheckResult:
    """Read every input of a config, derive the outcomes and write ``read_report.csv``.

    Parameters
    ----------
    config_path : str or Path
        The evaluation YAML.
    authority : str, optional
        GSS code (or DfE LA number) of the authority whose files to read; defaults to the
        config's ``evaluation.authority``.  Needed when file paths hold ``{authority}``.
        On synthetic data without one, the whole region is summarised.
    out_dir : path, optional
        Folder for ``read_report.csv``; default ``<output_dir>/check/<authority>/`` (the
        config's ``output_dir``, relative to the working directory as for ``run``).

    Returns
    -------
    CheckResult

    Raises
    ------
    InputError
        Whatever would stop a run: a missing or unreadable file, a mapping error, an
        excluded share over ``data.max_excluded_share``, a source that links to no child
        of the cohort, a missing census year, no salt.

    Examples
    --------
    >>> res = check("config/demo.yaml", out_dir="/tmp/check")   # doctest: +SKIP
    >>> print(res.text)                                         # doctest: +SKIP
    """
    from ehimpact.config import load_config
    from ehimpact.data.inputs import load_inputs

    cfg, base = load_config(config_path)
    ev = cfg.evaluation
    code = authority or ev.authority
    if code is not None:
        code = _checked(cfg, base, code)
        cfg, base = _load_for(config_path, code, cfg, base)
        ev = cfg.evaluation
    st = ev.data.statutory
    if code is None and st is not None and any("{authority}" in str(v) for v in st.model_dump().values()):
        raise InputError("the data paths hold {authority} but no authority was given", field="--authority",
                         fix="pass --authority CODE or set evaluation.authority in the config")
    inputs = load_inputs(ev, base, authority=code)
    if code is not None and inputs.children is not None and "authority_code" in inputs.children \
            and ev.data.synthetic is not None \
            and not (inputs.children["authority_code"].astype(str) == code).any():
        raise InputError(f"authority {code!r} is not in the synthetic region", field="--authority",
                         fix="use one of " + ", ".join(sorted(inputs.children["authority_code"].astype(str)
                                                                 .unique())[:25]))
    read = inputs.read or {}
    threshold, symbol = ev.disclosure.threshold, ev.disclosure.symbol
    if ev.data.synthetic is not None and inputs.children is not None:
        read = _with_synthetic_steps(read, inputs, code)
    table = _table(read, threshold, symbol)
    problems = _problems(read)
    text = _text(ev, code, read, problems, threshold, symbol)
    folder = Path(out_dir) if out_dir is not None else Path(cfg.output_dir) / "check" / (code or "all")
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / REPORT_NAME
    table.to_csv(path, index=False)
    return CheckResult(text=text, table=table, path=path, problems=problems, authority=code)


def _checked(cfg: Any, base: Path, code: str) -> str:
    try:
        from ehimpact.runner.run import checked_code
    except ImportError:  # pragma: no cover - older runner
        return code
    return checked_code(cfg, base, code)


def _load_for(config_path: str | Path, code: str, cfg: Any, base: Path) -> tuple[Any, Path]:
    """The config as it applies to one authority (per-authority table, placeholders), when supported."""
    import inspect

    from ehimpact.config import load_config

    if "authority" in inspect.signature(load_config).parameters:
        return load_config(config_path, authority=code)
    return cfg, base  # pragma: no cover


def _with_synthetic_steps(read: dict[str, Any], inputs: Any, code: str | None) -> dict[str, Any]:
    """Step-ups and step-downs of the generated cohort, derived as for real files."""
    from ehimpact.data.outcomes import derive_outcomes

    kids = inputs.children
    if code is not None:
        kids = kids[kids["authority_code"].astype(str) == code]
    events = inputs.events
    if events is not None and "authority_code" in events and code is not None:
        events = events[events["authority_code"].astype(str) == code]
    derived = derive_outcomes(kids, events, rules=inputs.rules)
    supported = derived["received_early_help"] == 1
    cohort = dict(read.get("cohort", {}))
    cohort.update(step_ups=int(derived.loc[supported, "step_up"].fillna(0).sum()),
                  step_ups_same_day=int(derived.loc[supported, "step_up_same_day"].fillna(0).sum()))
    return {**read, "cohort": cohort}


def _n(value: Any, threshold: int, symbol: str) -> Any:
    """A count as shown: 1..threshold suppressed."""
    if value is None or (isinstance(value, float) and pd.isna(value)):
        return ""
    from ehimpact.smallcounts import is_small_count

    n = int(value)
    return symbol if is_small_count(n, threshold) else n


def _table(read: dict[str, Any], threshold: int, symbol: str) -> pd.DataFrame:
    rows: list[dict[str, Any]] = []

    def add(section: str, source: str, file: str, item: str, detail: str, n: Any) -> None:
        rows.append({"section": section, "source": source, "file": Path(str(file)).name if file else "",
                     "item": item, "detail": detail, "n": n if n == "" else _n(n, threshold, symbol)})

    for line in read.get("rules", []):
        add("rules", "", "", "rule", line, "")
    add("rules", "", "", "extract_date", f"{read.get('extract_date') or 'none'} "
        f"({read.get('extract_source') or 'not given'})", "")
    for s in read.get("sources", []):
        label = _LABELS.get(s["source"], s["source"])
        for item in ("records_read", "records_excluded", "duplicates", "open_episodes", "children",
                     "children_linked"):
            if item == "open_episodes" and s["source"] != "local_export":
                continue
            add("records" if item.startswith("records") or item in ("duplicates", "open_episodes") else "linkage",
                label, "", item, s.get("files", ""), s.get(item, 0))
    for e in read.get("exclusions", []):
        add("excluded", _LABELS.get(e["source"], e["source"]), e["file"], e["field"],
            f"{e['problem']} ({e['action']})", e["n"])
    for c in read.get("census_years", []):
        year = c.get("collection_year")
        year = "" if year is None or (isinstance(year, float) and pd.isna(year)) else str(int(year))
        covers = f"{_day(c.get('period_start'))} to {_day(c.get('period_end'))}"
        add("census_years", "CIN census", c.get("file", ""), f"collection year {year}".strip(),
            f"covers {covers} (ReferenceDate {_day(c.get('reference_date'))})", "")
    for f in read.get("follow_up", []):
        for item in ("children", "observed", "unobserved_follow_up", "open_episode", "observed_supported",
                     "observed_comparison"):
            add("follow_up", "", "", f["outcome"], f"{item} ({f['window_months']}-month window)", f.get(item, 0))
    for item, n in read.get("cohort", {}).items():
        add("cohort", "", "", item, "", n)
    gen = read.get("generator")
    if gen:
        add("records", "synthetic generator", "", "seed", str(gen.get("seed")), "")
        add("records", "synthetic generator", "", "events generated", "", gen.get("n_events", 0))
    return pd.DataFrame(rows, columns=REPORT_COLUMNS)


def _day(value: Any) -> str:
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return "?"
    return str(pd.Timestamp(value).date())


def _problems(read: dict[str, Any]) -> list[str]:
    out = [f"CIN census collection year {int(c['collection_year'])} is missing: no file covers "
           f"{_day(c.get('period_start'))} to {_day(c.get('period_end'))}"
           for c in read.get("census_years", []) if not c.get("file") and c.get("collection_year") is not None]
    for e in read.get("exclusions", []):
        if e["action"] == "duplicate excluded" or "still open" in e["problem"]:
            continue
        out.append(f"{e['file']} {e['field'] or '(record)'}: {e['problem']} ({e['n']} record(s) excluded)")
    return out


def _text(ev: Any, code: str | None, read: dict[str, Any], problems: list[str], threshold: int,
          symbol: str) -> str:
    def n(x: Any) -> str:
        v = _n(x, threshold, symbol)
        return f"{v:,}" if isinstance(v, int) else str(v)

    lines = [f"Read summary: {ev.name}" + (f", authority {code}" if code else ", every authority"),
             f"(counts from 1 to {threshold} are shown as {symbol!r})", "", "Outcome rules:"]
    lines += [f"  - {r}" for r in read.get("rules", [])]
    if read.get("extract_date"):
        lines.append(f"  - the extract date came from: {read.get('extract_source') or 'not said'}")
    else:
        lines.append(f"  - {read.get('extract_source') or 'no extract date'}")
    lines += ["", "Records read and excluded:"]
    gen = read.get("generator")
    if gen:
        lines.append(f"  synthetic generator: seed {gen.get('seed')}, {gen.get('n_authorities')} authorities of "
                     f"{n(gen.get('children_per_authority'))} children each (no file read)")
    for s in read.get("sources", []):
        label = _LABELS.get(s["source"], s["source"])
        files = f" ({s['files']})" if s.get("files") else ""
        extra = []
        if s.get("duplicates"):
            extra.append(f"{n(s['duplicates'])} duplicates")
        if s.get("open_episodes"):
            extra.append(f"{n(s['open_episodes'])} open episodes")
        lines.append(f"  {label}{files}: {n(s['records_read'])} read, {n(s['records_excluded'])} excluded"
                     + (f" (of which {', '.join(extra)})" if extra else ""))
    excl = read.get("exclusions", [])
    lines += ["", "Excluded by reason:" if excl else "Excluded by reason: none"]
    for e in excl:
        lines.append(f"  {e['file']} {e['field'] or '(record)'}: {e['problem']}: {n(e['n'])}")
    census = read.get("census_years", [])
    if census:
        lines += ["", "Census years covered:"]
        for c in census:
            year = c.get("collection_year")
            year = "?" if year is None or (isinstance(year, float) and pd.isna(year)) else str(int(year))
            where = c.get("file") or "NO FILE (missing year)"
            lines.append(f"  {where}: collection year {year}, {_day(c.get('period_start'))} to "
                         f"{_day(c.get('period_end'))}")
    elif ev.data.statutory is not None:
        lines += ["", "Census years covered: no CIN census given"]
    lines += ["", "Children linked:"]
    for s in read.get("sources", []):
        if s["source"] == "local_export":
            lines.append(f"  early-help export: {n(s['children'])} children in the cohort")
        else:
            lines.append(f"  {_LABELS.get(s['source'], s['source'])}: {n(s['children'])} children, "
                         f"{n(s['children_linked'])} of them in the cohort")
    lines += ["", "Follow-up completeness per outcome:"]
    for f in read.get("follow_up", []):
        lines.append(f"  {f['outcome']} ({f['window_months']} months): {n(f['observed'])} observed, "
                     f"{n(f['unobserved_follow_up'])} unobserved (window ends after the extract), "
                     f"{n(f['open_episode'])} open episodes")
    cohort = read.get("cohort", {})
    if cohort:
        lines += ["", "Cohort: " + ", ".join(f"{k.replace('_', ' ')} {n(v)}" for k, v in cohort.items())]
    lines += ["", f"Problems: {len(problems)}" if problems else "Problems: none"]
    lines += [f"  - {p}" for p in problems[:20]]
    return "\n".join(lines)
