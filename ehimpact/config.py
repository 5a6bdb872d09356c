"""Configuration models: what an evaluator writes in YAML (parsed once per run, passed down as an object).

An evaluation config says which authority, which service, its theory of change and
logic model, where the data are, which outcomes, which design (and options), the
robustness checks, the costs, the step titles and the disclosure rules.  A batch
config says which authorities and which evaluations to run together.

Every model forbids unknown keys, so a typo fails with a message naming the key and
the keys allowed there (:func:`load_config`), instead of being silently ignored.
"""

from __future__ import annotations

import datetime as dt
import difflib
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from ehimpact.errors import InputError
from ehimpact.yamlio import safe_load

__all__ = [
    "EvaluationConfig",
    "BatchConfig",
    "RunConfig",
    "load_config",
    "DEFAULT_STEPS",
]

#: upper bounds on resampling sizes: beyond these the Monte Carlo error is negligible, and a typo
#: (``draws: 2e9``) would otherwise end in a MemoryError an hour into a batch
MAX_BOOTSTRAP = 100_000
MAX_COST_DRAWS = 1_000_000


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)


class Step(_Strict):
    """Title and prompt of one of the ten write-up steps."""

    title: str
    prompt: str = ""


#: DOMAIN.md §0. Only step 1's EIF title is confirmed; the rest are ehimpact's defaults and
#: can be renamed in config (``steps: {2: {title: ...}}``).
DEFAULT_STEPS: dict[int, Step] = {
    1: Step(title="Confirm your theory of change",
            prompt="The need, the families we aim to reach, how the service is meant to help, and what should change."),
    2: Step(title="Logic model", prompt="Inputs, activities and outputs leading to short- and long-term outcomes."),
    3: Step(title="Evaluation questions and outcome measures",
            prompt="What we ask, which indicators answer it, and why they are valid measures."),
    4: Step(title="Data and cohort", prompt="Where the data come from, their quality, and who is in the cohort."),
    5: Step(title="Implementation and reach",
            prompt="Referrals, take-up, duration, step-up and step-down, re-referrals: was the service delivered as intended?"),
    6: Step(title="Design and comparison group",
            prompt="Why this design, and the evidence that its assumptions hold (balance, overlap, pre-trends)."),
    7: Step(title="Impact", prompt="The headline estimates with their confidence intervals."),
    8: Step(title="Robustness and sensitivity",
            prompt="Do the findings survive other specifications, placebo tests and sensitivity analysis?"),
    9: Step(title="Costs and value for money",
            prompt="Delivery cost, late-intervention costs avoided, who saves, and value for money with uncertainty."),
    10: Step(title="Conclusions and strength of evidence",
             prompt="What the design can support, the EIF six-pitfalls checklist, limitations and next steps."),
}


class TheoryOfChange(_Strict):
    """Step 1: why the service should work."""

    need: str = ""
    target_families: str = ""
    mechanism: str = ""
    outcomes_expected: list[str] = Field(default_factory=list)


class LogicModel(_Strict):
    """Step 2: inputs -> activities -> outputs -> outcomes."""

    inputs: list[str] = Field(default_factory=list)
    activities: list[str] = Field(default_factory=list)
    outputs: list[str] = Field(default_factory=list)
    short_term_outcomes: list[str] = Field(default_factory=list)
    long_term_outcomes: list[str] = Field(default_factory=list)


class Intervention(_Strict):
    """The service being evaluated."""

    name: str
    description: str = ""
    start_date: dt.date | None = Field(default=None, description="when the new offer started (ITS, 2x2 DiD)")


class SyntheticData(_Strict):
    """Use the built-in synthetic region instead of real files."""

    n_authorities: int = Field(default=19, ge=2, le=200)
    seed: int = 0
    children_per_authority: int | None = Field(default=None, ge=50)


class StatutoryFiles(_Strict):
    """Statutory returns and a local export, one set per authority.

    Paths may contain ``{authority}``, replaced by the GSS code of the authority being run,
    so one batch config can point at every authority's files.
    """

    local_export: Path = Field(description="early-help episodes exported from the case-management system "
                                           "(CSV or Excel; the mapping's `sheet:` picks an Excel sheet)")
    mapping: Path = Field(description="column-mapping YAML for the export (see config/mapping_example.yaml)")
    cin_xml: Path | list[Path] | None = Field(
        default=None, description="CIN census XML: one file, a list of files, a folder of *.xml files, or a glob "
                                  "such as 'cin/CIN_*.xml' (one file per census year; years are combined)")
    ssda903_dir: Path | None = Field(default=None, description="folder of SSDA903 CSV tables")
    annex_a: Path | None = Field(default=None, description="Ofsted Annex A workbook (Lists 1-8); supplies the "
                                                           "outcomes when no CIN census or SSDA903 is given")
    salt_env: str = Field(default="EHIMPACT_SALT", description="environment variable holding the hashing salt")

    def cin_files(self, base: Path, authority: str | None = None) -> list[Path]:
        """The CIN census files ``cin_xml`` names: a file, a list, a folder or a glob, resolved from ``base``."""
        if self.cin_xml is None:
            return []
        items = self.cin_xml if isinstance(self.cin_xml, list) else [self.cin_xml]
        files: list[Path] = []
        for item in items:
            text = str(item).format(authority=authority) if authority and "{authority}" in str(item) else str(item)
            path = base / text
            if any(ch in text for ch in "*?["):
                import glob

                matched = sorted(Path(p) for p in glob.glob(str(base / text)) if Path(p).is_file())
                if not matched:
                    raise InputError(f"no file matches the pattern {text!r}", field="data.statutory.cin_xml",
                                     fix="check the pattern (relative to the config file's folder)")
                files += matched
            elif path.is_dir():
                matched = sorted(p for p in path.iterdir() if p.suffix.lower() == ".xml")
                if not matched:
                    raise InputError(f"the folder {text!r} holds no .xml file", field="data.statutory.cin_xml",
                                     fix="point cin_xml at the folder of CIN census files, or list the files")
                files += matched
            else:
                files.append(path)
        return files


class DataSources(_Strict):
    """Where the data come from: synthetic, prepared tables, or statutory files."""

    synthetic: SyntheticData | None = None
    child_level: Path | None = None
    authority_panel: Path | None = None
    statutory: StatutoryFiles | None = None
    truth: Path | None = Field(default=None, description="synthetic ground truth JSON (shown beside estimates)")
    extract_date: dt.date | None = Field(
        default=None, description="date the data were extracted; default: the latest CIN census ReferenceDate. "
                                  "A child whose follow-up window ends after it has that outcome unobserved")
    window_start: Literal["on_index_date", "after_index_date"] = Field(
        default="on_index_date", description="whether an event on the index date counts (a step-up to social care "
                                             "on the day early help closes does, by default)")
    comparison_index: Literal["referral_plus_median", "assessment_plus_median"] = Field(
        default="referral_plus_median",
        description="comparison children's index date: their referral (or assessment) date plus the supported "
                    "children's median episode length, the date they would have closed")
    max_excluded_share: float = Field(
        default=0.02, ge=0.0, le=1.0,
        description="stop the run when more than this share of a source's records or of the cohort is excluded")

    @model_validator(mode="after")
    def _one_source(self) -> DataSources:
        if self.synthetic is None and self.child_level is None and self.authority_panel is None \
                and self.statutory is None:
            raise ValueError("give `synthetic: {}` or at least one of child_level, authority_panel, statutory")
        return self

    def check_files(self, base: Path, authority: str | None = None) -> None:
        """Raise :class:`InputError` for any data file that does not exist."""
        for key in ("child_level", "authority_panel", "truth"):
            path = getattr(self, key)
            if path is not None and not (base / path).exists():
                raise InputError(f"data file not found: {path}", field=f"data.{key}",
                                 fix="check the path (relative paths are relative to the config file)")
        if self.statutory is not None:
            if authority is not None or "{authority}" not in str(self.statutory.cin_xml):
                for path in self.statutory.cin_files(base, authority):
                    if not path.exists():
                        raise InputError(f"file not found: {path.name}", field="data.statutory.cin_xml",
                                         fix="check the path (relative paths are relative to the config file)")
            for key in ("ssda903_dir", "local_export", "mapping", "annex_a"):
                path = getattr(self.statutory, key)
                if path is not None and "{authority}" in str(path):
                    if authority is None:
                        continue
                    path = Path(str(path).format(authority=authority))
                if path is not None and not (base / path).exists():
                    raise InputError(f"file not found: {path}", field=f"data.statutory.{key}",
                                     fix="check the path (relative paths are relative to the config file)")


class Outcome(_Strict):
    """An outcome measure and how to describe it."""

    column: str
    label: str | None = Field(default=None, description="words after 'likely to' for 0/1 outcomes")
    primary: bool = False


class Design(_Strict):
    """The impact design and its options (passed to the estimator)."""

    name: str = Field(description="one of did_2x2, twfe, event_study, staggered_did, match, weight, its, "
                                  "or a design registered by a plug-in package")
    covariates: list[str] = Field(default_factory=list)
    options: dict[str, Any] = Field(default_factory=dict)
    roles: dict[str, str] = Field(
        default_factory=dict, description="for a plug-in design: role -> column, where a column differs from "
                                          "the data contract's (treatment: received_early_help, unit: "
                                          "authority_code, time: period, ...)")

    @field_validator("options")
    @classmethod
    def _bounded_draws(cls, v: dict[str, Any]) -> dict[str, Any]:
        for key in ("bootstrap", "n_boot", "reps", "draws", "n_draws", "placebo_draws"):
            n = v.get(key)
            if isinstance(n, (int, float)) and not isinstance(n, bool) and n > MAX_BOOTSTRAP:
                raise ValueError(f"{key}: {n:g} is more than {MAX_BOOTSTRAP:,} resamples; beyond that the "
                                 "interval no longer changes, while memory and time grow without limit")
        return v


class Disclosure(_Strict):
    """Statistical disclosure control for every table a report shows."""

    threshold: int = Field(default=5, ge=1, le=100, description="counts 1..threshold are suppressed as 'c'")
    secondary: bool = True
    round_totals_to: int | None = Field(default=10, ge=1, description="round regional/national totals to this")
    symbol: str = Field(default="c", min_length=1, max_length=3, description="shown in place of a suppressed count")

    @field_validator("symbol")
    @classmethod
    def _not_a_number(cls, v: str) -> str:
        if any(ch.isdigit() for ch in v) or not v.strip():
            raise ValueError(f"the suppression symbol {v!r} must not contain a digit or be blank: a suppressed "
                             "cell would read as a number (DfE uses 'c')")
        return v


class EvaluationConfig(_Strict):
    """One evaluation of one service (run per authority)."""

    name: str = Field(pattern=r"^[A-Za-z0-9_\-]+$", description="short id used in output paths")
    title: str
    authority: str | None = Field(default=None, description="GSS code; the batch sets it per authority")
    intervention: Intervention
    theory_of_change: TheoryOfChange = Field(default_factory=TheoryOfChange)
    logic_model: LogicModel = Field(default_factory=LogicModel)
    data: DataSources
    outcomes: list[Outcome] = Field(min_length=1)
    design: Design
    robustness: list[Design] = Field(default_factory=list)
    costs: dict[str, Any] | None = Field(default=None, description="step 9 settings (see ehimpact.costs.config)")
    steps: dict[int, Step] = Field(default_factory=dict)
    disclosure: Disclosure = Field(default_factory=Disclosure)
    seed: int = 20261123
    notebook: Path | None = Field(
        default=None, description="an evaluator's own copy of the ten-step notebook (`ehimpact notebook --out "
                                  "FILE` writes one to start from); default: the built-in template")
    per_authority: Path | None = Field(
        default=None,
        description="CSV or Excel table of values that differ by authority: a column `authority` (GSS code or "
                    "DfE LA number) and one column per config key, named by its dotted path, e.g. "
                    "`costs.delivery_cost`, `intervention.start_date`")

    @field_validator("steps")
    @classmethod
    def _steps_1_to_10(cls, v: dict[int, Step]) -> dict[int, Step]:
        bad = [k for k in v if not 1 <= k <= 10]
        if bad:
            raise ValueError(f"step numbers run from 1 to 10; got {bad}")
        return v

    @field_validator("outcomes")
    @classmethod
    def _one_primary(cls, v: list[Outcome]) -> list[Outcome]:
        if not any(o.primary for o in v):
            v[0].primary = True
        return v

    @field_validator("costs")
    @classmethod
    def _costs_valid(cls, v: dict[str, Any] | None) -> dict[str, Any] | None:
        if v is None:
            return v
        from ehimpact.costs.config import CostsConfig

        draws = v.get("draws")
        if isinstance(draws, (int, float)) and not isinstance(draws, bool) and draws > MAX_COST_DRAWS:
            raise ValueError(f"costs.draws: {draws:g} Monte Carlo draws is more than {MAX_COST_DRAWS:,}; "
                             "beyond that the interval no longer changes, while memory grows without limit")
        try:
            CostsConfig.load({"cohort": 1, **v})  # cohort defaults to the supported children at run time
        except InputError as exc:
            raise ValueError(str(exc).split(". Fix:")[0].replace("bad costs config: ", "")) from None
        return v

    def step(self, number: int) -> Step:
        """Title and prompt of a step: the config's, or the default."""
        return self.steps.get(number, DEFAULT_STEPS[number])

    @property
    def primary_outcome(self) -> Outcome:
        return next(o for o in self.outcomes if o.primary)


class BatchConfig(_Strict):
    """Several authorities (and evaluations) run together."""

    name: str = Field(pattern=r"^[A-Za-z0-9_\-]+$")
    authorities: list[str] | Literal["all"] = "all"
    workers: int | None = Field(default=None, ge=1)
    timeout_per_notebook: int = Field(default=900, ge=10, description="seconds per cell (nbclient limit)")
    retries: int = Field(default=2, ge=0, description="retries for kernel start-up races")
    pdf: bool = False
    worker_wait: int = Field(default=120, ge=5, description="seconds a distributed batch waits for a worker "
                                                            "before it stops with a message")


class RunConfig(_Strict):
    """A config file: one evaluation, optionally a batch section and an output folder."""

    evaluation: EvaluationConfig
    batch: BatchConfig | None = None
    output_dir: Path = Path("outputs")


def _friendly(err: ValidationError, source: str) -> InputError:
    """Turn pydantic's errors into one InputError naming each key and the fix."""
    lines = []
    first_key = None
    for e in err.errors():
        key = ".".join(str(p) for p in e["loc"])
        first_key = first_key or key
        if e["type"] == "extra_forbidden":
            parent_model = _model_at(RunConfig, e["loc"][:-1])
            allowed = sorted(parent_model.model_fields) if parent_model else []
            close = difflib.get_close_matches(str(e["loc"][-1]), allowed, n=1)
            hint = f"did you mean '{close[0]}'?" if close else f"allowed keys: {', '.join(allowed)}"
            lines.append(f"unknown key '{key}' ({hint})")
        elif e["type"] == "missing":
            lines.append(f"missing key '{key}'")
        else:
            lines.append(f"'{key}': {e['msg']}")
    return InputError(f"bad config {source}: " + "; ".join(lines), field=first_key,
                      fix="edit the config (see docs/USER_GUIDE.md for every key)")


def _model_at(model: type[BaseModel], loc: tuple[Any, ...]) -> type[BaseModel] | None:
    for part in loc:
        if not isinstance(part, str):
            continue
        info = model.model_fields.get(part)
        if info is None:
            return None
        ann = info.annotation
        candidates = [ann, *getattr(ann, "__args__", ())]
        nxt = next((c for c in candidates if isinstance(c, type) and issubclass(c, BaseModel)), None)
        if nxt is None:
            return None
        model = nxt
    return model


def load_config(path: str | Path, *, authority: str | None = None) -> tuple[RunConfig, Path]:
    """Read and validate a YAML config.

    Parameters
    ----------
    path : str or Path
        The YAML file.
    authority : str, optional
        GSS code of the authority being run.  When given, ``{authority}`` in any string value
        of the evaluation is replaced by the code, and the row of ``evaluation.per_authority``
        for that authority overrides the keys its columns name.

    Returns
    -------
    (RunConfig, Path)
        The validated config and the folder that relative paths are relative to.

    Raises
    ------
    InputError
        The file is missing, is not YAML, or has an unknown/missing/invalid key.
    """
    path = Path(path)
    if not path.exists():
        raise InputError(f"config file not found: {path}", field="CONFIG", fix="check the path")
    key = (str(path.resolve()), _digest(path), authority)
    hit = _PARSED.get(key)
    if hit is not None and all(_digest(dep) == d for dep, d in hit[2]):
        # parsed once per run: the runner, the notebook and the checks share one parse
        return hit[0].model_copy(deep=True), hit[1]
    cfg, base = _parse(path, authority)
    table = cfg.evaluation.per_authority
    deps = [(base / table, _digest(base / table))] if table is not None and authority is not None else []
    if len(_PARSED) > 64:
        _PARSED.clear()
    _PARSED[key] = (cfg, base, deps)
    return cfg.model_copy(deep=True), base


#: parsed configs by (file, a digest of its text, authority), with the files they read beside
_PARSED: dict[tuple[Any, ...], tuple[RunConfig, Path, list[tuple[Path, str]]]] = {}
#: how many times a config file's YAML was parsed in this process (a test checks "once per run")
PARSE_COUNT = {"n": 0}


def _digest(path: Path) -> str:
    import hashlib

    try:
        return hashlib.sha1(path.read_bytes()).hexdigest()  # noqa: S324 - a cache key, not security
    except OSError:
        return ""


#: the YAML of a config file, parsed once per process (by a digest of its text)
_RAW: dict[tuple[str, str], Any] = {}


def _parse(path: Path, authority: str | None) -> tuple[RunConfig, Path]:
    import copy

    raw_key = (str(path.resolve()), _digest(path))
    try:
        if raw_key not in _RAW:
            PARSE_COUNT["n"] += 1
            if len(_RAW) > 64:
                _RAW.clear()
            _RAW[raw_key] = safe_load(path.read_text(), source=path.name)
        raw = copy.deepcopy(_RAW[raw_key])
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark else ""
        raise InputError(f"config {path} is not valid YAML{where}", field="CONFIG",
                         fix="check indentation and quoting") from None
    if not isinstance(raw, dict):
        raise InputError(f"config {path} must be a mapping with an 'evaluation:' section", field="CONFIG",
                         fix="see config/demo.yaml for the layout")
    base = path.resolve().parent
    if authority is not None and isinstance(raw.get("evaluation"), dict):
        raw["evaluation"] = _for_authority(raw["evaluation"], authority, base)
    try:
        cfg = RunConfig.model_validate(raw)
    except ValidationError as err:
        raise _friendly(err, path.name) from None
    return cfg, base


def _fill_placeholder(value: Any, authority: str) -> Any:
    if isinstance(value, str):
        return value.replace("{authority}", authority)
    if isinstance(value, dict):
        return {k: _fill_placeholder(v, authority) for k, v in value.items()}
    if isinstance(value, list):
        return [_fill_placeholder(v, authority) for v in value]
    return value


def _for_authority(evaluation: dict[str, Any], authority: str, base: Path) -> dict[str, Any]:
    """The evaluation section as it applies to one authority: per-authority table and placeholders."""
    import copy

    ev = copy.deepcopy(evaluation)
    table_path = ev.get("per_authority")
    if table_path:
        ev = _apply_per_authority(ev, Path(str(table_path)), authority, base)
    data = ev.get("data")
    if isinstance(data, dict):  # file paths are templated later, by the loaders, per authority
        ev = {**{k: _fill_placeholder(v, authority) for k, v in ev.items() if k != "data"}, "data": data}
    else:
        ev = _fill_placeholder(ev, authority)
    return ev


def _apply_per_authority(ev: dict[str, Any], table_path: Path, authority: str, base: Path) -> dict[str, Any]:
    from ehimpact.data.load import read_table

    table = read_table(base / table_path)
    key_col = next((c for c in table.columns if str(c).strip().lower() in ("authority", "authority_code",
                                                                             "gss_code", "la_number")), None)
    if key_col is None:
        raise InputError(f"{table_path.name} has no `authority` column", field="evaluation.per_authority",
                         fix="add a column `authority` holding each authority's GSS code or DfE LA number")
    codes = table[key_col].astype(str).str.strip()
    wanted = {authority}
    try:
        from ehimpact.data import authorities as _auth

        if hasattr(_auth, "la_number"):
            la = _auth.la_number(authority)
            if la:
                wanted.add(str(la))
    except InputError:
        pass
    rows = table[codes.isin(wanted)]
    if len(rows) > 1:
        raise InputError(f"{table_path.name} has {len(rows)} rows for authority {authority}",
                         field="evaluation.per_authority", rows=[int(i) + 2 for i in rows.index],
                         fix="keep one row per authority")
    if rows.empty:
        return ev
    row = rows.iloc[0]
    for col in table.columns:
        if col == key_col:
            continue
        value = row[col]
        if value is None or (isinstance(value, float) and value != value) or str(value).strip() == "":
            continue  # a blank cell keeps the config's value
        parts = str(col).strip().split(".")
        if parts[0] in ("name", "authority", "per_authority", "data"):
            raise InputError(f"{table_path.name}: column {col!r} cannot vary by authority",
                             field="evaluation.per_authority",
                             fix="use `{authority}` in data paths instead; remove the column")
        node: dict[str, Any] = ev
        for part in parts[:-1]:
            node = node.setdefault(part, {})
            if not isinstance(node, dict):
                raise InputError(f"{table_path.name}: column {col!r} does not name a config key",
                                 field="evaluation.per_authority", fix="name columns by dotted config keys, "
                                 "e.g. costs.delivery_cost")
        node[parts[-1]] = _cell(value)
    return ev


def _cell(value: Any) -> Any:
    """A table cell as a YAML scalar would be: numbers as numbers, dates as ISO text."""
    if hasattr(value, "isoformat"):
        return value.isoformat()[:10]
    text = str(value).strip()
    for cast in (int, float):
        try:
            return cast(text)
        except ValueError:
            pass
    return text
