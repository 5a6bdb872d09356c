"""Run one evaluation for one authority: papermill, then nbconvert, written atomically.

Outputs go to ``<out>/<run>/<authority>/<evaluation>/``: ``report.ipynb``,
``report.html``, ``results.json`` and ``status.json`` (plus ``report.pdf`` on request).
Everything is first written into a hidden temporary folder beside the destination and
then renamed into place, so a reader (or a resumed batch) never sees a half-written run:
the folder either holds a complete previous run, or a complete new one.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import shutil
import time
import uuid
from dataclasses import asdict, dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from ehimpact.errors import InputError
from ehimpact.report.results_io import atomic_write_text
from ehimpact.runner.config import load_config

__all__ = ["RunOutcome", "run_one", "notebook_path", "inputs_key", "run_folder"]

STATUS = "status.json"
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

    cfg, base = load_config(config_path)
    ev = cfg.evaluation
    h = hashlib.sha256()
    h.update(json.dumps(ev.model_dump(mode="json"), sort_keys=True).encode())
    h.update(authority.encode())
    h.update(__version__.encode())
    h.update(notebook_path().read_bytes())
    for key in ("child_level", "authority_panel", "truth"):
        p = getattr(ev.data, key)
        if p is not None:
            _hash_path(h, base / p)
    if ev.data.statutory is not None:
        for key in ("cin_xml", "ssda903_dir", "local_export", "mapping"):
            p = getattr(ev.data.statutory, key)
            if p is not None:
                _hash_path(h, base / str(p).format(authority=authority))
    return h.hexdigest()[:20]


def run_folder(out_dir: str | Path, run_name: str, authority: str, evaluation: str) -> Path:
    """Where a run's outputs live."""
    return Path(out_dir) / run_name / authority / evaluation


def read_status(folder: Path) -> dict[str, Any] | None:
    """The status of a finished run, or None when there is none (or it is unreadable)."""
    try:
        return json.loads((folder / STATUS).read_text())
    except (OSError, ValueError):
        return None


def _publish(tmp: Path, final: Path) -> None:
    """Swap the complete temporary folder into place (old run removed only after)."""
    final.parent.mkdir(parents=True, exist_ok=True)
    old = final.parent / f".{final.name}.old-{uuid.uuid4().hex[:8]}"
    if final.exists():
        os.replace(final, old)
    os.replace(tmp, final)
    shutil.rmtree(old, ignore_errors=True)


def _error_text(exc: BaseException) -> str:
    ename = getattr(exc, "ename", None)
    evalue = getattr(exc, "evalue", None)
    if ename:
        return f"{ename}: {evalue}"
    return f"{type(exc).__name__}: {exc}"


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
) -> RunOutcome:
    """Execute the ten-step notebook for one authority and render it.

    Parameters
    ----------
    config_path : path
        Evaluation config (YAML).
    authority : str
        GSS code.
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
        Skip when the last run succeeded with the same :func:`inputs_key`.
    kernel_name : str, optional
        Jupyter kernel; default the notebook's (``python3`` of this environment).
    engine : str, optional
        papermill engine name; ``None`` starts a Jupyter kernel per notebook, and
        ``"ehimpact-inprocess"`` runs the cells in this process
        (:mod:`ehimpact.runner.engine`; what batches use).

    Returns
    -------
    RunOutcome
        Never raises for a failure inside the notebook: the failure is recorded.
    """
    import papermill as pm

    from ehimpact.runner.render import to_html, to_pdf

    if engine == "ehimpact-inprocess":  # [engine] make sure papermill knows the in-process engine
        import ehimpact.runner.engine  # noqa: F401

    config_path = Path(config_path).resolve()
    cfg, _ = load_config(config_path)
    evaluation = cfg.evaluation.name
    final = run_folder(out_dir, run_name, authority, evaluation)
    key = inputs_key(config_path, authority)
    if resume:
        status = read_status(final)
        if status and status.get("status") == "ok" and status.get("key") == key:
            return RunOutcome(authority, evaluation, "skipped", str(final), key, finished=status.get("finished", ""))

    t0 = time.perf_counter()
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = final.parent / f".{final.name}.tmp-{uuid.uuid4().hex[:8]}"
    tmp.mkdir()
    timings: dict[str, float] = {}
    outcome = RunOutcome(authority, evaluation, "ok", str(final), key)
    try:
        params = {"config_path": str(config_path), "authority": authority,
                  "results_path": str(tmp / "results.json"), "run_id": run_name}
        for attempt in range(retries + 1):
            outcome.attempts = attempt + 1
            try:
                t = time.perf_counter()
                executed = pm.execute_notebook(str(notebook_path()), str(tmp / "report.ipynb"), parameters=params,
                                    kernel_name=kernel_name, progress_bar=False, execution_timeout=timeout,
                                    request_save_on_cell_execute=False, report_mode=True,
                                    engine_name=engine)  # [engine]
                timings["execute"] = time.perf_counter() - t
                break
            except pm.PapermillExecutionError:
                raise
            except Exception as exc:  # kernel start-up races: retry
                if attempt < retries and any(s in _error_text(exc) for s in _KERNEL_START_ERRORS):
                    time.sleep(1 + attempt)
                    continue
                raise
        # results.json records the temporary path it was written to: fix it to the final one
        res = json.loads((tmp / "results.json").read_text())
        res.setdefault("parameters", {})["results_path"] = str(final / "results.json")
        atomic_write_text(tmp / "results.json", json.dumps(res, indent=1))
        t = time.perf_counter()
        to_html(executed, tmp / "report.html", watermark=bool(res.get("synthetic")))
        timings["render"] = time.perf_counter() - t
        if pdf:
            to_pdf(tmp / "report.html", tmp / "report.pdf")
    except Exception as exc:  # noqa: BLE001 - one run's failure is recorded, never raised
        outcome.status = "failed"
        outcome.error = _error_text(exc).splitlines()[0][:2000] if _error_text(exc) else type(exc).__name__
        if (tmp / "report.ipynb").exists():
            os.replace(tmp / "report.ipynb", tmp / "report.failed.ipynb")
        for name in ("results.json", "report.html"):
            (tmp / name).unlink(missing_ok=True)
    outcome.seconds = time.perf_counter() - t0
    outcome.timings = timings
    outcome.finished = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    atomic_write_text(tmp / STATUS, json.dumps(outcome.to_dict(), indent=1))
    _publish(tmp, final)
    return outcome


def check_authority(config_path: str | Path, authority: str | None) -> str:
    """Pre-flight for a single run: the config loads, its data files exist, and an authority is named.

    Returns the authority to run (the argument, or the config's).
    """
    cfg, base = load_config(config_path)
    code = authority or cfg.evaluation.authority
    cfg.evaluation.data.check_files(base, code)
    if not code:
        raise InputError("no authority to run", field="--authority",
                         fix="pass --authority CODE or set evaluation.authority in the config")
    return code
