"""Run one evaluation for one authority: papermill, nbconvert, a disclosure scan, then publish.

Outputs go to ``<out>/<run>/<authority>/<evaluation>/``: ``report.ipynb``,
``report.html``, ``results.json`` and ``status.json`` (plus ``report.pdf`` on request).

* The authority code is checked (:func:`ehimpact.runner.paths.checked_authority`) and every
  path proven to lie inside the output root (:func:`ehimpact.runner.paths.inside`) before
  anything is written; the output root is proven writable before any work.
* Everything is first written into a run-specific temporary folder beside the destination
  (``.<evaluation>.tmp-<pid>@<host>-<random>``, on the same file system), scanned with
  :func:`ehimpact.report.disclosure.scan_outputs`, and renamed into place only when the run
  succeeded and the scan found nothing.  A reader (or a resumed batch) never sees a
  half-written run.
* A failure never replaces a good earlier result: ``failed.json`` (and the failed notebook,
  ``report.failed.ipynb``, unless the failure was a disclosure finding) are written beside
  it, and its ``report.html``/``results.json``/``status.json`` stay.  Without an earlier
  result the folder holds just the failure (``status.json`` with ``"status": "failed"``).
* On a full disk the run fails with one line and nothing partial is published.
"""

from __future__ import annotations

import datetime as dt
import errno
import hashlib
import json
import os
import re
import shutil
import time
from dataclasses import asdict, dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from ehimpact.errors import InputError
from ehimpact.report.results_io import atomic_write_text, fsync_dir
from ehimpact.runner.config import load_config
from ehimpact.runner.paths import check_writable, checked_authority, inside, temp_tag

__all__ = ["RunOutcome", "run_one", "notebook_path", "inputs_key", "run_folder", "safe_run_folder", "read_status",
           "read_failure", "checked_code", "data_authorities", "record_identifiers", "disclosure_findings",
           "DisclosureFailure", "check_authority"]

STATUS = "status.json"
FAILED = "failed.json"
_PLAIN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,79}$")
_KERNEL_START_ERRORS = ("Kernel didn't respond", "Kernel died before replying", "Address already in use",
                        "ZMQError", "kernel_info", "DeadKernelError")


def notebook_path(name: str = "ten_step_evaluation.ipynb") -> Path:
    """Path of a notebook shipped with the package."""
    return Path(str(resources.files("ehimpact") / "resources" / "notebooks" / name))


@dataclass
class RunOutcome:
    """What happened to one run (written to ``status.json`` and the batch summary)."""

    authority: str
    evaluation: str
    status: str  # "ok" | "failed" | "skipped"
    folder: str
    key: str
    error: str = ""
    #: the whole error message (every line of a multi-line InputError); ``error`` is its first line
    message: str = ""
    seconds: float = 0.0
    timings: dict[str, float] = field(default_factory=dict)
    attempts: int = 1
    finished: str = ""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _hash_path(h: Any, path: Path) -> None:
    if path.is_dir():
        for p in sorted(path.rglob("*")):
            if p.is_file():
                h.update(p.name.encode())
                h.update(p.read_bytes())
    elif path.is_file():
        h.update(path.read_bytes())


def inputs_key(config_path: str | Path, authority: str) -> str:
    """Fingerprint of everything a run depends on: config, data files, notebook, package version.

    ``--resume`` skips a run whose key is unchanged since it last succeeded.
    """
    from ehimpact import __version__

    cfg, base = load_config(config_path, authority=authority)
    ev = cfg.evaluation
    h = hashlib.sha256()
    h.update(json.dumps(ev.model_dump(mode="json"), sort_keys=True).encode())
    h.update(authority.encode())
    h.update(__version__.encode())
    h.update(template_path(ev, base).read_bytes())
    for key in ("child_level", "authority_panel", "truth", "per_authority"):
        p = getattr(ev.data, key, None) if key != "per_authority" else ev.per_authority
        if p is not None:
            _hash_path(h, base / p)
    if ev.data.statutory is not None:
        for path in ev.data.statutory.cin_files(base, authority):
            _hash_path(h, path)
        for key in ("ssda903_dir", "local_export", "mapping", "annex_a"):
            p = getattr(ev.data.statutory, key)
            if p is not None:
                _hash_path(h, base / str(p).format(authority=authority))
    return h.hexdigest()[:20]


def template_path(evaluation: Any, base: Path) -> Path:
    """The notebook a run executes: the config's ``evaluation.notebook`` (an evaluator's own copy), or
    the built-in ten-step template."""
    own = getattr(evaluation, "notebook", None)
    if own is None:
        return notebook_path()
    path = Path(base) / own
    if not path.is_file():
        raise InputError(f"notebook not found: {own}", field="evaluation.notebook",
                         fix="check the path (relative to the config file), or write a copy to start from with "
                             "`ehimpact notebook --out FILE.ipynb`")
    if path.suffix != ".ipynb":
        raise InputError(f"{path.name} is not a Jupyter notebook (.ipynb)", field="evaluation.notebook",
                         fix="point evaluation.notebook at an .ipynb file")
    return path


def _template(evaluation: Any, base: Path) -> Any:
    """The notebook to execute, its step headings filled from the config's ``steps:``."""
    import nbformat

    from ehimpact.report.notebook import apply_step_titles

    path = template_path(evaluation, base)
    try:
        nb = nbformat.read(str(path), as_version=4)
    except Exception as exc:  # noqa: BLE001 - any unreadable notebook is the user's file
        raise InputError(f"{path.name} is not a readable notebook ({type(exc).__name__})",
                         field="evaluation.notebook", fix="open it in Jupyter and save it again") from None
    if not any("parameters" in c.get("metadata", {}).get("tags", []) for c in nb.cells):
        raise InputError(f"{path.name} has no cell tagged 'parameters'", field="evaluation.notebook",
                         fix="keep the template's parameters cell (config_path, authority, results_path, run_id)")
    nb.metadata.setdefault("papermill", {})["template"] = path.name
    return apply_step_titles(nb, evaluation)


def _strip_paths(nb: Any, replacements: dict[str, str]) -> Any:
    """Replace machine paths in an executed notebook's injected parameters and papermill metadata."""
    def clean(text: str) -> str:
        for long, short in sorted(replacements.items(), key=lambda kv: -len(kv[0])):
            text = text.replace(long, short)
        return text

    for cell in nb.cells:
        if "injected-parameters" in cell.get("metadata", {}).get("tags", []) or \
                "parameters" in cell.get("metadata", {}).get("tags", []):
            cell["source"] = clean(cell["source"])
    meta = nb.metadata.get("papermill", {})
    for key in ("input_path", "output_path"):
        if isinstance(meta.get(key), str):
            meta[key] = Path(clean(meta[key])).name
    params = meta.get("parameters")
    if isinstance(params, dict):
        meta["parameters"] = {k: clean(v) if isinstance(v, str) else v for k, v in params.items()}
    return nb


def run_folder(out_dir: str | Path, run_name: str, authority: str, evaluation: str) -> Path:
    """Where a run's outputs live (the codes are not checked here: see :func:`safe_run_folder`)."""
    return Path(out_dir) / run_name / authority / evaluation


def safe_run_folder(out_dir: str | Path, run_name: str, authority: str, evaluation: str) -> Path:
    """:func:`run_folder`, resolved and proven to lie inside the output root (:func:`~ehimpact.runner.paths.inside`)."""
    for name, value in (("run name", run_name), ("evaluation name", evaluation)):
        if not _PLAIN.match(str(value)):
            raise InputError(f"the {name} {str(value)[:60]!r} cannot be used in a path", field=name,
                             fix="use letters, digits, '_' and '-' only")
    return inside(out_dir, run_folder(Path(out_dir).resolve(), run_name, authority, evaluation))


def read_status(folder: Path) -> dict[str, Any] | None:
    """The status of a finished run, or None when there is none (or it is unreadable)."""
    try:
        return json.loads((folder / STATUS).read_text())
    except (OSError, ValueError):
        return None


def read_failure(folder: Path) -> dict[str, Any] | None:
    """The failure recorded beside an earlier good result (``failed.json``), or None."""
    try:
        return json.loads((folder / FAILED).read_text())
    except (OSError, ValueError):
        return None


def data_authorities(cfg: Any, base: Path) -> list[str]:
    """Authority codes present in the config's data (panel first, then child-level rows)."""
    from ehimpact.data.inputs import load_inputs

    inputs = load_inputs(cfg.evaluation, base, panel_only=cfg.evaluation.data.authority_panel is not None)
    codes: list[str] = []
    for f in (inputs.panel, inputs.children):
        if f is not None and "authority_code" in f.columns:
            codes += [c for c in _unique(f["authority_code"]) if c not in codes]
    return codes


def _unique(col: Any) -> list[str]:
    import pandas as pd

    return [str(c) for c in pd.unique(col.dropna().astype(str))]


def checked_code(cfg: Any, base: Path, authority: str, known: list[str] | None = None) -> str:
    """:func:`~ehimpact.runner.paths.checked_authority`, reading the data's codes only when needed."""
    try:
        return checked_authority(authority, known)
    except InputError:
        if known is not None or not isinstance(authority, str) or not _PLAIN.match(authority):
            raise
    return checked_authority(authority, data_authorities(cfg, base))


def _fsync_tree(folder: Path) -> None:
    for p in folder.rglob("*"):
        if p.is_file():
            fd = os.open(p, os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
    fsync_dir(folder)


def _publish(root: Path, tmp: Path, final: Path) -> None:
    """Swap the complete temporary folder into place; the earlier run is removed only after.

    Both folders are proven to lie inside ``root``.  Between the two renames the earlier run
    sits in ``.<name>.old-<pid>@<host>-...``; start-up clean-up puts such a folder back when
    its owner died before the new one arrived.
    """
    tmp, final = inside(root, tmp), inside(root, final)
    _fsync_tree(tmp)
    final.parent.mkdir(parents=True, exist_ok=True)
    old = inside(root, final.parent / f".{final.name}.old-{temp_tag()[4:]}")
    if final.exists():
        os.replace(final, old)
    try:
        os.replace(tmp, final)
    except BaseException:
        if old.exists() and not final.exists():
            os.replace(old, final)  # the earlier run goes back
        raise
    fsync_dir(final.parent)
    if old.exists():
        shutil.rmtree(old, ignore_errors=True)


def _valid_notebook(path: Path) -> bool:
    try:
        json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return True


def _record_failure(root: Path, tmp: Path, final: Path, outcome: RunOutcome, *, keep_notebook: bool) -> None:
    """Record a failed run without ever replacing an earlier good result.

    With a good result in ``final`` (``status.json`` ok), ``failed.json`` and the failed
    notebook (``report.failed.ipynb``) are written beside it, and its ``report.html`` and
    ``results.json`` stay.  Without one, ``final`` becomes a folder holding just the failure.
    The failed notebook is kept only when it is complete (valid JSON) and the failure was not
    a disclosure finding (then the notebook itself is what must not be published).
    """
    tmp, final = inside(root, tmp), inside(root, final)
    nb = tmp / "report.ipynb"
    failed_nb = tmp / "report.failed.ipynb"
    if nb.exists() and keep_notebook and _valid_notebook(nb):
        os.replace(nb, failed_nb)
    earlier = read_status(final)
    text = json.dumps(outcome.to_dict(), indent=1)
    if earlier and earlier.get("status") == "ok":
        atomic_write_text(final / FAILED, text)
        target = final / "report.failed.ipynb"
        if failed_nb.exists():
            os.replace(failed_nb, target)
        else:
            target.unlink(missing_ok=True)  # an older failure's notebook must not pose as this one's
        fsync_dir(final)
        return
    for p in list(tmp.iterdir()):
        if p.name != failed_nb.name:
            shutil.rmtree(p) if p.is_dir() else p.unlink()
    atomic_write_text(tmp / STATUS, text)
    atomic_write_text(tmp / FAILED, text)
    _publish(root, tmp, final)


def _error_text(exc: BaseException) -> str:
    ename = getattr(exc, "ename", None)
    evalue = getattr(exc, "evalue", None)
    if ename:
        return f"{ename}: {evalue}"
    if isinstance(exc, OSError) and exc.errno == errno.ENOSPC:
        return "OSError: the output folder is full (no space left on device); nothing was published"
    return f"{type(exc).__name__}: {exc}"


class DisclosureFailure(Exception):
    """The disclosure scan found something in a run's outputs (named by file, place and kind only)."""

    def __init__(self, findings: list[Any]) -> None:
        self.findings = findings
        shown = "; ".join(f"{f.file} {f.location}: {f.kind}" for f in findings[:5])
        more = f" and {len(findings) - 5} more" if len(findings) > 5 else ""
        super().__init__(f"disclosure check failed, nothing published: {len(findings)} finding(s): {shown}{more}")


_ID_COLUMNS = ("child_id", "family_id", "upn")


def _id_frame(path: Path, columns: tuple[str, ...]) -> Any:
    """Just the id columns (and ``authority_code``) of a table: CSV read with ``usecols``, else in full."""
    import pandas as pd

    wanted = {*columns, "authority_code"}
    if path.suffix.lower() in (".csv", ".txt", ".tsv", ".gz"):
        sep = "\t" if path.suffix.lower() == ".tsv" else ","
        try:
            return pd.read_csv(path, dtype=str, usecols=lambda c: c in wanted, sep=sep)
        except (ValueError, OSError):  # an encoding or layout the package's loader handles
            pass
    from ehimpact.data import load

    frame = load(path)
    return frame[[c for c in frame.columns if c in wanted]].astype("string")


def record_identifiers(cfg: Any, base: Path, authority: str) -> set[str]:
    """Record-level identifiers of an authority's input, as the disclosure scan looks for them.

    Read cheaply (the id columns only, not the whole input again): the child-level table's
    ``child_id``/``family_id``/``upn``; on the statutory route the raw ids in the files (the
    export's mapped id columns, SSDA903 ``CHILD``/``UPN``, CIN ``LAchildID``/``UPN``) and
    their pseudonymised forms (the ids the analysis works with); the built-in synthetic
    region's ids.  Ids shorter than 4 characters are left out (they would match ordinary
    numbers).
    """
    import re

    ev = cfg.evaluation
    src = ev.data
    ids: set[str] = set()

    def add(frame: Any) -> None:
        if frame is None:
            return
        if "authority_code" in frame.columns and (frame["authority_code"].astype(str) == authority).any():
            frame = frame[frame["authority_code"].astype(str) == authority]
        for c in _ID_COLUMNS:
            if c in frame.columns:
                ids.update(frame[c].dropna().astype(str).tolist())  # a list: iterating Arrow strings is slow

    if src.synthetic is not None:
        from ehimpact.data.inputs import load_inputs

        inputs = load_inputs(ev, base, authority=authority)
        add(inputs.children)
    if src.child_level is not None:
        add(_id_frame(base / src.child_level, _ID_COLUMNS))
    st = src.statutory
    if st is not None:
        import pandas as pd

        raw: set[str] = set()

        def path(p: Any) -> Path | None:
            return base / str(p).format(authority=authority) if p is not None else None

        try:
            from ehimpact.data.mapping import load_mapping

            spec = load_mapping(path(st.mapping))
            cols = [fm.column for name, fm in spec.fields.items() if name in _ID_COLUMNS and fm.column]
            export = path(st.local_export)
            if cols and export is not None and export.suffix.lower() == ".csv":
                frame = pd.read_csv(export, dtype=str, usecols=lambda c: c in cols)
                for c in frame.columns:
                    raw.update(frame[c].dropna())
        except (InputError, OSError, ValueError):
            pass
        d = path(st.ssda903_dir)
        for table in sorted(d.glob("*.csv")) if d is not None and d.is_dir() else []:
            try:
                frame = pd.read_csv(table, dtype=str, usecols=lambda c: c in ("CHILD", "UPN"))
            except (OSError, ValueError):
                continue
            for c in frame.columns:
                raw.update(frame[c].dropna())
        xml = path(st.cin_xml)
        if xml is not None and xml.is_file():
            text = xml.read_text(encoding="utf-8", errors="replace")
            raw.update(m.strip() for m in re.findall(r"<(?:LAchildID|UPN|FormerUPN)>([^<]+)<", text))
        raw = {r.strip() for r in raw if isinstance(r, str) and r.strip()}
        ids |= raw
        salt = os.environ.get(st.salt_env)
        if salt and raw:
            from ehimpact.data.privacy import pseudonymise

            ids.update(h for h in pseudonymise(sorted(raw), salt) if isinstance(h, str))
    stripped = {i.strip() for i in ids if isinstance(i, str)}
    return {i for i in stripped if len(i) >= 4}


def disclosure_findings(folder: Path, cfg: Any, base: Path, authority: str) -> list[Any]:
    """Scan a run's (unpublished) folder with :func:`ehimpact.report.disclosure.scan_outputs`."""
    from ehimpact.report.disclosure import scan_outputs

    ids = record_identifiers(cfg, base, authority)
    d = cfg.evaluation.disclosure
    return list(scan_outputs(folder, identifiers=ids, threshold=d.threshold, symbol=d.symbol))


def run_one(
    config_path: str | Path,
    authority: str,
    out_dir: str | Path,
    *,
    run_name: str = "run",
    timeout: int = 900,
    retries: int = 2,
    pdf: bool = False,
    resume: bool = False,
    kernel_name: str | None = None,
    engine: str | None = None,  # [engine]
    known: list[str] | None = None,
    scan: bool = True,
) -> RunOutcome:
    """Execute the ten-step notebook for one authority, render it, scan it and publish it.

    Parameters
    ----------
    config_path : path
        Evaluation config (YAML).
    authority : str
        GSS code (checked with :func:`~ehimpact.runner.paths.checked_authority` before any
        path is built: an :class:`InputError` otherwise).
    out_dir : path
        Output root; the run goes to ``out_dir/run_name/authority/evaluation``.
    run_name : str
        Name of the batch (or ``"run"`` for a single run).
    timeout : int
        Per-cell time limit in seconds (nbclient's limit applies to each cell).
    retries : int
        Extra attempts when the kernel fails to start (ZMQ port races under load).
    pdf : bool
        Also print the HTML to PDF with a local Chromium.
    resume : bool
        Skip when the last run succeeded with the same :func:`inputs_key` (and no failure
        was recorded after it).
    kernel_name : str, optional
        Jupyter kernel; default the notebook's (``python3`` of this environment).
    engine : str, optional
        papermill engine name; ``None`` starts a Jupyter kernel per notebook, and
        ``"ehimpact-inprocess"`` runs the cells in this process
        (:mod:`ehimpact.runner.engine`; what batches use).
    known : list of str, optional
        Authority codes of the data (a batch passes them; otherwise read when needed).
    scan : bool, default True
        Run the disclosure scan on the finished outputs before publishing them; a finding
        fails the run.

    Returns
    -------
    RunOutcome
        Never raises for a failure inside the notebook: the failure is recorded (beside an
        earlier good result, which is kept).

    Raises
    ------
    InputError
        An authority code that is not one, or an output folder that cannot be written.
    """
    import papermill as pm

    from ehimpact.runner.render import to_html, to_pdf

    if engine == "ehimpact-inprocess":  # [engine] make sure papermill knows the in-process engine
        import ehimpact.runner.engine  # noqa: F401

    config_path = Path(config_path).resolve()
    cfg, base = load_config(config_path)
    evaluation = cfg.evaluation.name
    authority = checked_code(cfg, base, authority, known)
    root = check_writable(out_dir, field="output folder")
    final = safe_run_folder(root, run_name, authority, evaluation)
    key = inputs_key(config_path, authority)
    if resume:
        status = read_status(final)
        if status and status.get("status") == "ok" and status.get("key") == key and read_failure(final) is None:
            return RunOutcome(authority, evaluation, "skipped", str(final), key, finished=status.get("finished", ""))

    t0 = time.perf_counter()
    tmp = inside(root, final.parent / f".{final.name}.{temp_tag()}")
    tmp.mkdir(parents=True)
    timings: dict[str, float] = {}
    outcome = RunOutcome(authority, evaluation, "ok", str(final), key)
    keep_notebook = True
    try:
        try:
            params = {"config_path": str(config_path), "authority": authority,
                      "results_path": str(tmp / "results.json"), "run_id": run_name}
            template = _template(cfg.evaluation, base)
            for attempt in range(retries + 1):
                outcome.attempts = attempt + 1
                try:
                    t = time.perf_counter()
                    executed = pm.execute_notebook(template, str(tmp / "report.ipynb"),
                                                   parameters=params, kernel_name=kernel_name, progress_bar=False,
                                                   execution_timeout=timeout, request_save_on_cell_execute=False,
                                                   report_mode=True, engine_name=engine)  # [engine]
                    timings["execute"] = time.perf_counter() - t
                    break
                except pm.PapermillExecutionError:
                    raise
                except Exception as exc:  # kernel start-up races: retry
                    if attempt < retries and any(s in _error_text(exc) for s in _KERNEL_START_ERRORS):
                        time.sleep(1 + attempt)
                        continue
                    raise
            # no machine path in any output: the notebook and results.json name files, not folders
            cfg_path = Path(config_path)
            names = {str(tmp / "results.json"): "results.json", str(tmp / "report.ipynb"): "report.ipynb",
                     str(cfg_path.resolve()): cfg_path.name, str(config_path): cfg_path.name,
                     str(tmp): ".", str(final): "."}
            executed = _strip_paths(executed, names)
            import nbformat

            atomic_write_text(tmp / "report.ipynb", nbformat.writes(executed))
            # results.json is final as the notebook wrote it (parameters by file name): never read back and patched
            res = json.loads((tmp / "results.json").read_text())
            t = time.perf_counter()
            to_html(executed, tmp / "report.html", watermark=bool(res.get("synthetic")))
            timings["render"] = time.perf_counter() - t
            if pdf:
                to_pdf(tmp / "report.html", tmp / "report.pdf")
            if scan:
                t = time.perf_counter()
                findings = disclosure_findings(tmp, cfg, base, authority)
                timings["scan"] = time.perf_counter() - t
                if findings:
                    keep_notebook = False
                    raise DisclosureFailure(findings)
            outcome.seconds = time.perf_counter() - t0
            outcome.timings = timings
            outcome.finished = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
            atomic_write_text(tmp / STATUS, json.dumps(outcome.to_dict(), indent=1))
            _publish(root, tmp, final)
            return outcome
        except Exception as exc:  # noqa: BLE001 - one run's failure is recorded, never raised
            outcome.status = "failed"
            text = _error_text(exc)
            outcome.error = text.splitlines()[0][:2000] if text else type(exc).__name__
            outcome.message = text[:20000] if text else outcome.error
            outcome.seconds = time.perf_counter() - t0
            outcome.timings = timings
            outcome.finished = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
            full = isinstance(exc, OSError) and exc.errno == errno.ENOSPC
            try:
                if tmp.exists():
                    _record_failure(root, tmp, final, outcome, keep_notebook=keep_notebook and not full)
            except OSError as rec_exc:  # e.g. the disk is full: nothing is published, the error is returned
                if not outcome.error.startswith("OSError: the output folder is full"):
                    outcome.error += f" (the failure could not be recorded: {_error_text(rec_exc)})"
            return outcome
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)


def check_authority(config_path: str | Path, authority: str | None) -> str:
    """Pre-flight for a single run: the config loads, an authority is named and is one, its data files exist.

    Returns the authority to run (the argument, or the config's), as checked by
    :func:`~ehimpact.runner.paths.checked_authority` (a DfE LA number becomes its GSS code
    where the authorities table can resolve it).

    Raises
    ------
    InputError
        No authority, a code that is not an authority's (``../x``, ``;touch x``), or a
        missing data file.
    """
    cfg, base = load_config(config_path)
    code = authority or cfg.evaluation.authority
    if not code:
        raise InputError("no authority to run", field="--authority",
                         fix="pass --authority CODE or set evaluation.authority in the config")
    code = checked_code(cfg, base, code)
    cfg.evaluation.data.check_files(base, code)
    return code
