"""Batch runs across authorities on Dask distributed.

``ehimpact batch CONFIG`` fans :func:`~ehimpact.runner.run.run_one` out over the
authorities of a region: on a local cluster by default (one process per core, one thread
each, which also sidesteps papermill's process-wide ``cwd``), or on an existing cluster
(``--scheduler tcp://host:8786``; see the README for SLURM with dask-jobqueue).
One authority's failure never stops the others: it is recorded in ``summary.csv`` and the
index page.  Every run's folder is swapped into place atomically, so a batch killed mid-run
leaves complete folders only, and ``--resume`` reruns what is missing, failed or changed.
"""

from __future__ import annotations

import html
import json
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from ehimpact.errors import InputError
from ehimpact.report.results_io import atomic_write_text
from ehimpact.runner.config import load_config
from ehimpact.runner.run import RunOutcome, run_one

__all__ = ["BatchResult", "run_batch", "batch_authorities"]


@dataclass
class BatchResult:
    """Outcome of a batch: one row per run, and where the index page is."""

    run_dir: Path
    outcomes: list[RunOutcome]
    index: Path
    summary_csv: Path
    regional: Path | None

    @property
    def n_failed(self) -> int:
        return sum(o.status == "failed" for o in self.outcomes)

    @property
    def exit_code(self) -> int:
        """0 when every run succeeded (or was skipped as unchanged), 1 otherwise."""
        return 1 if self.n_failed else 0


def batch_authorities(config_path: str | Path) -> list[str]:
    """Authorities a batch config covers (``all`` = every authority in the data)."""
    cfg, base = load_config(config_path)
    batch = cfg.batch
    if batch is not None and batch.authorities != "all":
        return list(batch.authorities)
    from ehimpact.data.inputs import load_inputs

    inputs = load_inputs(cfg.evaluation, base, panel_only=cfg.evaluation.data.authority_panel is not None)
    codes: list[str] = []
    for f in (inputs.panel, inputs.children):
        if f is not None and "authority_code" in f.columns:
            codes += [c for c in pd.unique(f["authority_code"].astype(str)) if c not in codes]
    if not codes:
        raise InputError("no authorities found in the data", field="batch.authorities",
                         fix="list the authority codes under batch.authorities")
    return codes


def _progress(total: int):
    try:
        from tqdm.auto import tqdm

        return tqdm(total=total, desc="authorities", unit="run", file=sys.stderr,
                    disable=not sys.stderr.isatty() and os.environ.get("EHIMPACT_PROGRESS") != "1")
    except ImportError:  # pragma: no cover
        return None


#: Dask settings for the local cluster a batch starts (an existing cluster keeps its own).
#: Measured on the 2-core machine (benchmarks/results/batch.md): Dask's default
#: ``MALLOC_TRIM_THRESHOLD_=65536`` makes glibc hand memory back to the system after every
#: large free, which slowed a notebook's pandas work by about 10%; the workers here live
#: for one batch, so the C library's own (adaptive) threshold is kept.  The statistical
#: profiler samples the running task's stack every 10 ms for the dashboard, which a
#: batch does not start.
LOCAL_WORKER_CONFIG: dict[str, Any] = {
    "distributed.nanny.pre-spawn-environ": {"OMP_NUM_THREADS": 1, "MKL_NUM_THREADS": 1,
                                            "OPENBLAS_NUM_THREADS": 1},
    "distributed.worker.profile.enabled": False,
}


def run_batch(
    config_path: str | Path,
    *,
    out_dir: str | Path | None = None,
    workers: int | None = None,
    scheduler: str | None = None,
    resume: bool = False,
    pdf: bool | None = None,
    authorities: list[str] | None = None,
    regional_summary: bool = True,
    engine: str | None = "ehimpact-inprocess",  # [engine]
) -> BatchResult:
    """Run the evaluation for every authority of a batch config, in parallel.

    Parameters
    ----------
    config_path : path
        Config with ``evaluation:`` and ``batch:`` sections.
    out_dir : path, optional
        Output root (default: the config's ``output_dir``, relative to the current folder).
    workers : int, optional
        Local worker processes (default: the config's, else the number of cores).
    scheduler : str, optional
        Address of an existing Dask scheduler; no local cluster is started then.
    resume : bool
        Skip runs whose inputs, parameters and package version are unchanged since they succeeded.
    pdf : bool, optional
        Also render PDFs (needs Chromium).
    authorities : list of str, optional
        Restrict to these codes.
    regional_summary : bool
        Execute the regional summary notebook at the end.
    engine : str, optional
        papermill engine for the authorities' notebooks: ``"ehimpact-inprocess"`` (default)
        runs them inside the warm worker processes (heavy modules imported once per worker,
        :mod:`ehimpact.runner.engine`); ``None`` starts a Jupyter kernel per notebook.

    Returns
    -------
    BatchResult
    """
    import dask
    from dask.distributed import Client, LocalCluster, as_completed

    config_path = Path(config_path).resolve()
    cfg, _ = load_config(config_path)
    batch = cfg.batch
    if batch is None:
        raise InputError("the config has no batch section", field="batch",
                         fix="add `batch: {name: my_batch, authorities: all}` to the config")
    out_root = Path(out_dir) if out_dir is not None else Path(cfg.output_dir)
    run_dir = out_root / batch.name
    run_dir.mkdir(parents=True, exist_ok=True)
    _remove_stale_temporaries(run_dir)
    codes = authorities or batch_authorities(config_path)
    n_workers = workers or batch.workers or os.cpu_count() or 1
    pdf = batch.pdf if pdf is None else pdf

    kwargs = {"run_name": batch.name, "timeout": batch.timeout_per_notebook, "retries": batch.retries,
              "pdf": pdf, "resume": resume, "engine": engine}  # [engine]
    outcomes: list[RunOutcome] = []
    t0 = time.perf_counter()
    cluster = None
    if scheduler:
        client = Client(scheduler)
    else:
        with dask.config.set(LOCAL_WORKER_CONFIG):
            cluster = LocalCluster(n_workers=min(n_workers, len(codes)), threads_per_worker=1, processes=True,
                                   dashboard_address=None, silence_logs=40)
        client = Client(cluster)
    if engine == "ehimpact-inprocess":  # [engine] import pandas, statsmodels, ... once per worker
        from ehimpact.runner.engine import WarmImports

        client.register_plugin(WarmImports())
    bar = _progress(len(codes))
    try:
        futures = {client.submit(run_one, str(config_path), code, str(out_root), pure=False, key=f"run-{code}-{i}",
                                 **kwargs): code for i, code in enumerate(codes)}
        for fut in as_completed(futures):
            code = futures[fut]
            try:
                outcome = fut.result()
            except Exception as exc:  # noqa: BLE001 - a worker died: record, carry on
                outcome = RunOutcome(code, cfg.evaluation.name, "failed", str(run_dir / code), "",
                                     error=f"worker failed: {type(exc).__name__}: {exc}")
            outcomes.append(outcome)
            if bar is not None:
                failed = sum(o.status == "failed" for o in outcomes)
                bar.set_postfix(done=len(outcomes) - failed, failed=failed, remaining=len(codes) - len(outcomes))
                bar.update(1)
    finally:
        if bar is not None:
            bar.close()
        _quiet_shutdown(client, cluster)
    wall = time.perf_counter() - t0
    order = {c: i for i, c in enumerate(codes)}
    outcomes.sort(key=lambda o: order.get(o.authority, 0))
    summary_csv = write_summary(run_dir, outcomes)
    regional = None
    if regional_summary:
        regional = _regional(run_dir, batch.timeout_per_notebook)
    index = write_index(run_dir, outcomes, wall=wall, workers=n_workers, regional=regional)
    return BatchResult(run_dir, outcomes, index, summary_csv, regional)


def _quiet_shutdown(client: Any, cluster: Any) -> None:
    """Close the Dask client and local cluster without heartbeat tracebacks on stderr.

    Workers that are mid-heartbeat when the scheduler stops log ``CommClosedError``; that is
    shutdown noise, not a failure, so distributed's loggers are silenced while closing.
    """
    import logging

    loggers = [logging.getLogger(n) for n in ("distributed", "distributed.core", "distributed.worker",
                                              "distributed.nanny", "distributed.scheduler", "tornado")]
    levels = [lg.level for lg in loggers]
    for lg in loggers:
        lg.setLevel(logging.CRITICAL)
    try:
        client.close()
        if cluster is not None:
            cluster.close()
    finally:
        for lg, lvl in zip(loggers, levels, strict=True):
            lg.setLevel(lvl)


def _remove_stale_temporaries(run_dir: Path) -> None:
    """Delete temporary folders left by a batch that was killed mid-run (never published)."""
    import shutil

    for pattern in ("*/.*.tmp-*", "*/.*.old-*", ".tmp*"):
        for tmp in run_dir.glob(pattern):
            shutil.rmtree(tmp, ignore_errors=True) if tmp.is_dir() else tmp.unlink(missing_ok=True)


def _headline(folder: Path) -> dict[str, Any]:
    try:
        res = json.loads((folder / "results.json").read_text())
    except (OSError, ValueError):
        return {}
    p = res.get("primary") or {}
    ci = p.get("ci") or [None, None]
    return {"authority_name": res.get("authority_name"), "estimate": p.get("estimate"), "se": p.get("se"),
            "ci_lower": ci[0], "ci_upper": ci[1], "pvalue": p.get("pvalue"), "outcome": p.get("outcome"),
            "synthetic": res.get("synthetic"), "summary": p.get("summary")}


def write_summary(run_dir: Path, outcomes: list[RunOutcome]) -> Path:
    """``summary.csv``: one row per authority and evaluation, failures with their error."""
    rows = []
    for o in outcomes:
        row = {"authority_code": o.authority, "evaluation": o.evaluation, "status": o.status,
               "error": o.error, "seconds": round(o.seconds, 2), "attempts": o.attempts,
               "folder": os.path.relpath(o.folder, run_dir)}
        row.update(_headline(Path(o.folder)) if o.status != "failed" else {})
        rows.append(row)
    path = run_dir / "summary.csv"
    atomic_write_text(path, pd.DataFrame(rows).to_csv(index=False))
    return path


def write_index(run_dir: Path, outcomes: list[RunOutcome], *, wall: float, workers: int,
                regional: Path | None) -> Path:
    """The batch's index page: every authority, its status, link to its report or its error."""
    rows = []
    for o in outcomes:
        rel = os.path.relpath(o.folder, run_dir)
        head = _headline(Path(o.folder)) if o.status != "failed" else {}
        name = html.escape(str(head.get("authority_name") or o.authority))
        if o.status == "failed":
            cell = f'<td class="failed">failed</td><td>{html.escape(o.error)}</td>'
        else:
            txt = html.escape(head.get("summary") or "no headline estimate")
            cell = f'<td>{o.status}</td><td><a href="{rel}/report.html">report</a> · {txt}</td>'
        rows.append(f"<tr><td>{html.escape(o.authority)}</td><td>{name}</td><td>{html.escape(o.evaluation)}</td>"
                    f"{cell}</tr>")
    n_failed = sum(o.status == "failed" for o in outcomes)
    regional_link = f'<p><a href="{regional.name}">Regional summary</a></p>' if regional else \
        "<p>Regional summary: not produced.</p>"
    page = f"""<!doctype html><html><head><meta charset="utf-8"><title>ehimpact batch {html.escape(run_dir.name)}</title>
<style>body{{font-family:sans-serif;margin:2em}} td,th{{padding:4px 10px;border-bottom:1px solid #ddd}}
.failed{{color:#b00;font-weight:bold}}</style></head><body>
<h1>ehimpact batch: {html.escape(run_dir.name)}</h1>
<p>{len(outcomes)} runs: {len(outcomes) - n_failed} succeeded or unchanged, {n_failed} failed.
Wall time {wall:.1f} s on {workers} worker(s). Machine-readable: <a href="summary.csv">summary.csv</a>.</p>
{regional_link}
<table><tr><th>code</th><th>authority</th><th>evaluation</th><th>status</th><th>result</th></tr>
{''.join(rows)}</table></body></html>"""
    return atomic_write_text(run_dir / "index.html", page)


def _regional(run_dir: Path, timeout: int) -> Path | None:
    """Execute the regional summary notebook over the batch's results; None if it fails."""
    import tempfile

    import papermill as pm

    from ehimpact.runner.render import to_html
    from ehimpact.runner.run import notebook_path

    with tempfile.TemporaryDirectory(dir=run_dir) as tmp:
        nb = Path(tmp) / "regional_summary.ipynb"
        try:
            import ehimpact.runner.engine  # noqa: F401  registers the in-process engine

            pm.execute_notebook(str(notebook_path("regional_summary.ipynb")), str(nb), engine_name="ehimpact-inprocess",
                                parameters={"run_dir": str(run_dir.resolve())}, progress_bar=False,
                                execution_timeout=timeout, request_save_on_cell_execute=False, report_mode=True)
            to_html(nb, Path(tmp) / "regional_summary.html", watermark=True)
        except Exception as exc:  # noqa: BLE001 - record, don't lose the batch
            atomic_write_text(run_dir / "regional_summary.error.txt", f"{type(exc).__name__}: {exc}\n")
            return None
        os.replace(nb, run_dir / "regional_summary.ipynb")
        os.replace(Path(tmp) / "regional_summary.html", run_dir / "regional_summary.html")
    return run_dir / "regional_summary.html"
