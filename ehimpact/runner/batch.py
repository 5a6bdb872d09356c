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

import errno
import json
import os
import re
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from ehimpact.errors import InputError
from ehimpact.report.results_io import atomic_write_text, fsync_dir
from ehimpact.runner.config import load_config
from ehimpact.runner.paths import (
    HOST,
    check_writable,
    checked_authority,
    inside,
    owner_alive,
    parse_temp_tag,
    temp_tag,
)
from ehimpact.runner.run import RunOutcome, data_authorities, read_failure, read_status, run_one

__all__ = ["BatchResult", "run_batch", "batch_authorities", "BatchLock", "folder_outcomes", "probe_workers",
           "write_summary", "write_index"]


@dataclass
class BatchResult:
    """Outcome of a batch: one row per run, and where the index page is."""

    run_dir: Path
    outcomes: list[RunOutcome]
    index: Path
    summary_csv: Path
    regional: Path | None
    regional_error: str = ""

    @property
    def n_failed(self) -> int:
        return sum(o.status == "failed" for o in self.outcomes)

    @property
    def exit_code(self) -> int:
        """0 when every run succeeded (or was skipped as unchanged), 1 otherwise.

        The regional summary failing the disclosure scan counts as a failure too.
        """
        return 1 if self.n_failed or self.regional_error.startswith(_DISCLOSURE) else 0


def batch_authorities(config_path: str | Path) -> list[str]:
    """Authorities a batch config covers (``all`` = every authority in the data), as written there."""
    cfg, base = load_config(config_path)
    batch = cfg.batch
    if batch is not None and batch.authorities != "all":
        return list(batch.authorities)
    codes = data_authorities(cfg, base)
    if not codes:
        raise InputError("no authorities found in the data", field="batch.authorities",
                         fix="list the authority codes under batch.authorities")
    return codes


def _checked_codes(cfg: Any, base: Path, codes: list[str], *, from_data: bool) -> tuple[list[str], list[str] | None]:
    """Every code checked (:func:`~ehimpact.runner.paths.checked_authority`) before any path is built.

    Returns the checked codes (duplicates dropped) and the data's codes when they were read.
    """
    known: list[str] | None = list(codes) if from_data else None
    out: list[str] = []
    for code in codes:
        try:
            c = checked_authority(code, known)
        except InputError:
            if known is not None:
                raise
            known = data_authorities(cfg, base)
            c = checked_authority(code, known)
        if c not in out:
            out.append(c)
    return out, known


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
        Made absolute before any task is sent, so remote workers write to the same folder.
    workers : int, optional
        Local worker processes (default: the config's, else the number of cores).
    scheduler : str, optional
        Address of an existing Dask scheduler; no local cluster is started then.  Every
        worker must see the output folder (a shared file system): a probe task checks that
        before any work starts.
    resume : bool
        Skip runs whose inputs, parameters and package version are unchanged since they succeeded.
    pdf : bool, optional
        Also render PDFs (needs Chromium).
    authorities : list of str, optional
        Restrict to these codes (the summary and index still list every authority whose
        results are in the output folder).
    regional_summary : bool
        Execute the regional summary notebook at the end.
    engine : str, optional
        papermill engine for the authorities' notebooks: ``"ehimpact-inprocess"`` (default)
        runs them inside the warm worker processes (heavy modules imported once per worker,
        :mod:`ehimpact.runner.engine`); ``None`` starts a Jupyter kernel per notebook.

    Returns
    -------
    BatchResult

    Raises
    ------
    InputError
        A code that is not an authority's, an output folder that cannot be written (also
        by a worker), another batch running on the same folder (``.batch.lock``), a
        scheduler that cannot be reached, or no worker joining within ``batch.worker_wait``.
    """
    config_path = Path(config_path).resolve()
    cfg, base = load_config(config_path)
    batch = cfg.batch
    if batch is None:
        raise InputError("the config has no batch section", field="batch",
                         fix="add `batch: {name: my_batch, authorities: all}` to the config")
    root = check_writable(Path(out_dir) if out_dir is not None else Path(cfg.output_dir),
                          field="--out" if out_dir is not None else "output_dir")
    run_dir = inside(root, root / batch.name)
    run_dir.mkdir(parents=True, exist_ok=True)
    with BatchLock(run_dir):
        _remove_stale_temporaries(run_dir)
        listed = authorities or (list(batch.authorities) if batch.authorities != "all" else None)
        codes, known = _checked_codes(cfg, base, listed or batch_authorities(config_path), from_data=listed is None)
        n_workers = workers or batch.workers or os.cpu_count() or 1
        pdf = batch.pdf if pdf is None else pdf
        kwargs = {"run_name": batch.name, "timeout": batch.timeout_per_notebook, "retries": batch.retries,
                  "pdf": pdf, "resume": resume, "engine": engine, "known": known}  # [engine]
        t0 = time.perf_counter()
        outcomes = _run_all(cfg, config_path, codes, root, run_dir, kwargs, scheduler=scheduler,
                            n_workers=n_workers, engine=engine,
                            worker_wait=float(getattr(batch, "worker_wait", 120) or 120))
        wall = time.perf_counter() - t0
        _remove_stale_temporaries(run_dir)  # e.g. the folder of a task whose worker was killed (then retried)
        order = {c: i for i, c in enumerate(codes)}
        outcomes.sort(key=lambda o: order.get(o.authority, 0))
        try:
            summary_csv = write_summary(run_dir, outcomes)
            regional, regional_error = _regional(run_dir, batch.timeout_per_notebook, cfg) if regional_summary \
                else (None, "")
            index = write_index(run_dir, outcomes, wall=wall, workers=n_workers, regional=regional)
        except OSError as exc:
            reason = "no space left on device" if exc.errno == errno.ENOSPC else (os.strerror(exc.errno)
                                                                                   if exc.errno else str(exc))
            raise InputError(f"the batch summary could not be written in {str(run_dir)!r} ({reason}); "
                             "the authorities' own folders are complete", field="output folder",
                             fix="free space in the output folder, then rerun with --resume") from None
    return BatchResult(run_dir, outcomes, index, summary_csv, regional, regional_error)


def _connect(scheduler: str, timeout: float) -> Any:
    """A client of an existing scheduler, or a one-line :class:`InputError`."""
    from dask.distributed import Client

    try:
        return Client(scheduler, timeout=min(timeout, 10))
    except Exception as exc:  # noqa: BLE001 - any failure to connect is the user's address or cluster
        reason = str(exc).splitlines()[0][:200] if str(exc) else type(exc).__name__
        raise InputError(f"cannot connect to the Dask scheduler at {scheduler!r} ({reason})", field="--scheduler",
                         fix="check the address (e.g. tcp://host:8786) and that `dask scheduler` runs there") from None


def _probe(run_dir: str, token_name: str, token: str) -> str:
    """Worker side of the output-folder probe: see the client's token, write and remove a file."""
    folder = Path(run_dir)
    try:
        if (folder / token_name).read_text() != token:
            return "sees a different output folder (the client's probe file has other content)"
    except OSError:
        return f"cannot see the output folder {run_dir!r} (not on a file system it shares with the client?)"
    probe = folder / f".probe.{temp_tag()}"
    try:
        fd = os.open(probe, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            os.write(fd, b"probe\n")
            os.fsync(fd)
        finally:
            os.close(fd)
    except OSError as exc:
        return f"cannot write to {run_dir!r} ({os.strerror(exc.errno) if exc.errno else exc})"
    finally:
        probe.unlink(missing_ok=True)
    return ""


def probe_workers(client: Any, run_dir: Path) -> None:
    """Check that every worker sees and can write the output folder; a one-line :class:`InputError` if not."""
    import secrets

    token = secrets.token_hex(16)
    name = f".probe-client.{temp_tag()}"
    path = inside(run_dir, run_dir / name)
    atomic_write_text(path, token)
    try:
        answers = client.run(_probe, str(run_dir), name, token)
    finally:
        path.unlink(missing_ok=True)
    bad = {w: a for w, a in answers.items() if a}
    if bad:
        w, a = next(iter(bad.items()))
        raise InputError(f"{len(bad)} of {len(answers)} Dask worker(s) cannot use the output folder: {w} {a}",
                         field="--out",
                         fix="give an output folder on a file system every worker shares (an absolute path)")


def run_and_return(config_path: str, authority: str, **kwargs: Any) -> tuple[RunOutcome, dict[str, bytes]]:
    """Worker side when the workers cannot write the output folder: run into a local folder, return the files."""
    import tempfile

    with tempfile.TemporaryDirectory(prefix="ehimpact-remote-") as local:
        outcome = run_one(config_path, authority, local, **kwargs)
        folder = Path(outcome.folder)
        files = {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()} \
            if folder.is_dir() else {}
    return outcome, files


def write_returned(root: Path, run_name: str, outcome: RunOutcome, files: dict[str, bytes]) -> RunOutcome:
    """Client side of :func:`run_and_return`: publish the returned run as :func:`run_one` would have."""
    from ehimpact.runner.run import _publish, _record_failure, safe_run_folder

    final = safe_run_folder(root, run_name, checked_authority(outcome.authority, [outcome.authority]),
                            outcome.evaluation)
    tmp = inside(root, final.parent / f".{final.name}.{temp_tag()}")
    tmp.mkdir(parents=True)
    try:
        outcome.folder = str(final)
        for rel, data in files.items():
            target = inside(tmp, tmp / rel)
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(data)
        if outcome.status == "ok":  # results.json as the worker's notebook wrote it: no machine path to patch in
            atomic_write_text(tmp / "status.json", json.dumps(outcome.to_dict(), indent=1))
            _publish(root, tmp, final)
        else:
            for name in ("status.json", "failed.json"):
                (tmp / name).unlink(missing_ok=True)
            _record_failure(root, tmp, final, outcome, keep_notebook=True)
    finally:
        if tmp.exists():
            import shutil

            shutil.rmtree(tmp, ignore_errors=True)
    return outcome


def _unchanged(config_path: Path, cfg: Any, root: Path, code: str, kwargs: dict[str, Any]) -> RunOutcome | None:
    """``--resume`` decided on the client (the workers cannot see the earlier runs)."""
    from ehimpact.runner.run import inputs_key, safe_run_folder

    final = safe_run_folder(root, kwargs["run_name"], code, cfg.evaluation.name)
    status = read_status(final)
    key = inputs_key(config_path, code)
    if status and status.get("status") == "ok" and status.get("key") == key and read_failure(final) is None:
        return RunOutcome(code, cfg.evaluation.name, "skipped", str(final), key, finished=status.get("finished", ""))
    return None


def _run_all(cfg: Any, config_path: Path, codes: list[str], root: Path, run_dir: Path, kwargs: dict[str, Any], *,
             scheduler: str | None, n_workers: int, engine: str | None, worker_wait: float) -> list[RunOutcome]:
    """Send one task per authority to the cluster and collect the outcomes (a lost worker is recorded)."""
    import dask
    from dask.distributed import Client, LocalCluster, wait

    outcomes: list[RunOutcome] = []
    cluster = None
    if scheduler:
        client = _connect(scheduler, worker_wait)
    else:
        with dask.config.set(LOCAL_WORKER_CONFIG):
            cluster = LocalCluster(n_workers=min(n_workers, len(codes)), threads_per_worker=1, processes=True,
                                   dashboard_address=None, silence_logs=50)  # task errors come back as outcomes
        client = Client(cluster)
    bar = None
    try:
        try:
            client.wait_for_workers(1, timeout=worker_wait)
        except (TimeoutError, OSError):
            raise InputError(f"no Dask worker joined the scheduler within {worker_wait:g} s", field="--scheduler",
                             fix="start workers (`dask worker ADDRESS`), or raise batch.worker_wait") from None
        try:
            probe_workers(client, run_dir)
            ship = False
        except InputError as exc:  # the workers cannot write there: they send their results back instead
            ship = True
            print(f"note: {exc.message}; results are sent back to this client to write", file=sys.stderr)
        if engine == "ehimpact-inprocess":  # [engine] import pandas, statsmodels, ... once per worker
            from ehimpact.runner.engine import WarmImports

            client.register_plugin(WarmImports())
        bar = _progress(len(codes))
        if ship:
            todo = []
            for code in codes:
                skipped = _unchanged(config_path, cfg, root, code, kwargs) if kwargs.get("resume") else None
                outcomes.append(skipped) if skipped is not None else todo.append(code)
            task_kwargs = {k: v for k, v in kwargs.items() if k != "resume"}
            futures = {client.submit(run_and_return, str(config_path), code, pure=False, key=f"run-{code}-{i}",
                                     **task_kwargs): code for i, code in enumerate(todo)}
        else:
            futures = {client.submit(run_one, str(config_path), code, str(root), pure=False, key=f"run-{code}-{i}",
                                     **kwargs): code for i, code in enumerate(codes)}
        pending = set(futures)
        alone_since: float | None = None

        def record(outcome: RunOutcome) -> None:
            outcomes.append(outcome)
            if bar is not None:
                failed = sum(o.status == "failed" for o in outcomes)
                bar.set_postfix(done=len(outcomes) - failed, failed=failed, remaining=len(codes) - len(outcomes))
                bar.update(1)

        while pending:
            try:
                done, pending_now = wait(list(pending), timeout=2, return_when="FIRST_COMPLETED")
                pending = set(pending_now)
            except TimeoutError:
                done = set()
            for fut in done:
                code = futures[fut]
                try:
                    outcome = fut.result()
                    if ship:
                        outcome = write_returned(root, kwargs["run_name"], *outcome)
                except Exception as exc:  # noqa: BLE001 - a worker died or the task raised: record, carry on
                    text = str(exc).splitlines()[0] if str(exc) else ""
                    outcome = RunOutcome(code, cfg.evaluation.name, "failed", str(run_dir / code), "",
                                         error=f"worker failed: {type(exc).__name__}: {text}"[:2000])
                record(outcome)
            if not pending or done:
                alone_since = None
                continue
            try:
                n_alive = len(client.nthreads())
            except Exception:  # noqa: BLE001 - the scheduler itself is gone
                n_alive = 0
            if n_alive:
                alone_since = None
            elif alone_since is None:
                alone_since = time.monotonic()
            elif time.monotonic() - alone_since > worker_wait:
                msg = f"no Dask workers left: waited {worker_wait:g} s (batch.worker_wait) for one to join"
                print(f"error: {msg}; {len(pending)} authorities not run", file=sys.stderr)
                for fut in pending:
                    fut.cancel()
                    record(RunOutcome(futures[fut], cfg.evaluation.name, "failed", str(run_dir / futures[fut]), "",
                                      error=msg))
                pending = set()
    finally:
        if bar is not None:
            bar.close()
        _quiet_shutdown(client, cluster)
    return outcomes


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


class BatchLock:
    """``.batch.lock`` in a batch folder: one batch at a time per folder.

    The lock file holds the owner's pid, host and start time, and is held with an exclusive
    ``flock`` for the batch's lifetime, so a lock left by a killed batch (its pid gone) is
    taken over, and a second batch on the same folder is refused with a one-line
    :class:`InputError` naming the owner.
    """

    NAME = ".batch.lock"

    def __init__(self, run_dir: Path) -> None:
        self.path = Path(run_dir) / self.NAME
        self.fd: int | None = None

    def owner(self) -> dict[str, Any]:
        """What the lock file says (empty when unreadable)."""
        try:
            return json.loads(self.path.read_text() or "{}")
        except (OSError, ValueError):
            return {}

    def acquire(self) -> BatchLock:
        import fcntl

        for _ in range(20):
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                os.close(fd)
                info = self.owner()
                raise InputError(
                    f"another batch is running on {str(self.path.parent)!r} (pid {info.get('pid', '?')} on "
                    f"{info.get('host', '?')}, since {info.get('started', '?')})", field="output folder",
                    fix="wait for it to finish, or use another --out") from None
            try:
                same = os.fstat(fd).st_ino == os.stat(self.path).st_ino
            except FileNotFoundError:
                same = False
            if not same:  # the file was replaced while we opened it: try again
                os.close(fd)
                continue
            info = self.owner()
            pid, host = info.get("pid"), info.get("host")
            if isinstance(pid, int) and isinstance(host, str) and pid != os.getpid() and owner_alive(pid, host) \
                    and host == HOST:
                os.close(fd)  # a live owner whose lock was not held (another kind of file system): refuse
                raise InputError(f"another batch is running on {str(self.path.parent)!r} (pid {pid} on {host})",
                                 field="output folder", fix="wait for it to finish, or use another --out")
            data = json.dumps({"pid": os.getpid(), "host": HOST,
                               "started": time.strftime("%Y-%m-%dT%H:%M:%S%z")}).encode()
            try:
                os.ftruncate(fd, 0)
                os.pwrite(fd, data, 0)
                os.fsync(fd)
            except OSError as exc:
                os.close(fd)
                raise InputError(f"the batch lock {str(self.path)!r} cannot be written "
                                 f"({os.strerror(exc.errno) if exc.errno else exc})", field="output folder",
                                 fix="free space in the output folder or choose another --out") from None
            self.fd = fd
            return self
        raise InputError(f"could not take the batch lock {str(self.path)!r}", field="output folder",
                         fix="rerun; if it persists, check nothing else rewrites that file")

    def release(self) -> None:
        if self.fd is None:
            return
        try:
            if self.owner().get("pid") == os.getpid():
                self.path.unlink(missing_ok=True)
        finally:
            os.close(self.fd)  # closing releases the flock
            self.fd = None

    def __enter__(self) -> BatchLock:
        return self.acquire()

    def __exit__(self, *exc: object) -> None:
        self.release()


#: temporary names this package makes: a run's folder (``.<evaluation>.tmp-<owner>``), the earlier run
#: during a swap (``.old-``), atomic files (``.<name>.tmp-<owner>...tmp``), the regional summary's folder
_TEMP_GLOBS = ("*/.*.tmp-*", "*/.*.old-*", "*/*/.*.tmp-*", ".*.tmp-*", ".regional.tmp-*")
#: names from before owners were recorded: no owner to check, so removed only when this old (seconds)
_LEGACY_AGE = 600
_LEGACY = re.compile(r"^(\..+\.(tmp|old)-[0-9a-f]{8}|\.tmp.*|tmp[A-Za-z0-9_]{8}|\..+\.[a-z0-9_]{8}\.tmp)$")


def _remove_stale_temporaries(run_dir: Path) -> list[Path]:
    """Delete temporary folders and files whose owner process is gone (never a live one's).

    Runs under the batch lock.  A name records its owner (``tmp-<pid>@<host>``); one on this
    host whose pid is gone is removed, anything on another host (unknowable) is kept.  An
    earlier run parked during a swap (``.<evaluation>.old-<owner>``) whose new folder never
    arrived is put back.  Names from older versions (no owner: ``.x.tmp-1a2b3c4d``, the
    regional summary's ``tmpXXXXXXXX/``) are removed when older than 10 minutes.
    Returns what was removed or restored.
    """
    import shutil

    touched: list[Path] = []
    candidates = {p for pattern in _TEMP_GLOBS for p in run_dir.glob(pattern)}
    candidates |= {p for p in run_dir.iterdir() if _LEGACY.match(p.name) and p.name != BatchLock.NAME}
    candidates |= {p for p in run_dir.glob("*/.*") if _LEGACY.match(p.name)}
    for tmp in sorted(candidates):
        try:
            tmp = inside(run_dir, tmp.parent / tmp.name) if not tmp.is_symlink() else tmp
        except InputError:
            continue
        tag = parse_temp_tag(tmp.name)
        if tag is not None:
            if owner_alive(*tag):
                continue
        else:
            if not _LEGACY.match(tmp.name):
                continue
            try:
                if time.time() - tmp.lstat().st_mtime < _LEGACY_AGE:
                    continue
            except OSError:
                continue
            if tmp.parent == run_dir and tmp.name.startswith("tmp") and (
                    not tmp.is_dir() or any(not c.name.startswith("regional_summary") for c in tmp.iterdir())):
                continue  # only the regional summary's own folder (an authority code could look like this)
        if ".old-" in tmp.name and tmp.is_dir() and not tmp.is_symlink():
            final = tmp.parent / tmp.name[1:tmp.name.index(".old-")]
            if not final.exists():
                os.replace(tmp, final)  # the swap was cut short: the earlier run goes back
                touched.append(final)
                continue
        if tmp.is_dir() and not tmp.is_symlink():
            shutil.rmtree(tmp, ignore_errors=True)
        else:
            tmp.unlink(missing_ok=True)
        touched.append(tmp)
    return touched


def folder_outcomes(run_dir: Path) -> list[RunOutcome]:
    """The state of every authority's folder in a batch folder, from its ``status.json`` and ``failed.json``.

    A folder whose latest attempt failed beside an earlier good result is reported as
    failed, with that attempt's error (the earlier report stays and is linked).
    """
    out: list[RunOutcome] = []
    fields = set(RunOutcome.__dataclass_fields__)
    for folder in sorted(p for p in run_dir.glob("*/*") if p.is_dir() and not p.name.startswith(".")
                         and not p.parent.name.startswith(".")):
        rec = read_failure(folder) or read_status(folder)
        if not rec:
            continue
        rec = {k: v for k, v in rec.items() if k in fields}
        rec.update(folder=str(folder), authority=folder.parent.name, evaluation=folder.name)
        rec.setdefault("key", "")
        rec.setdefault("status", "failed")
        out.append(RunOutcome(**rec))
    return out


def _merged(run_dir: Path, outcomes: list[RunOutcome]) -> list[RunOutcome]:
    """This invocation's outcomes, then every other authority found in the folder."""
    seen = {(o.authority, o.evaluation) for o in outcomes}
    rest = [o for o in folder_outcomes(run_dir) if (o.authority, o.evaluation) not in seen]
    return list(outcomes) + rest


def _earlier(o: RunOutcome) -> bool:
    """A failed outcome whose folder still holds an earlier good report."""
    st = read_status(Path(o.folder))
    return o.status == "failed" and bool(st) and st.get("status") == "ok" and (Path(o.folder) / "report.html").exists()


def _headline(folder: Path) -> dict[str, Any]:
    try:
        res = json.loads((folder / "results.json").read_text())
    except (OSError, ValueError):
        return {}
    p = res.get("primary") or {}
    ci = p.get("ci") or [None, None]
    return {"authority_name": res.get("authority_name"), "estimate": p.get("estimate"), "se": p.get("se"),
            "ci_lower": ci[0], "ci_upper": ci[1], "pvalue": p.get("pvalue"), "outcome": p.get("outcome"),
            "synthetic": res.get("synthetic"), "summary": p.get("summary"), "scale": p.get("scale"),
            "unit": p.get("unit")}


def write_summary(run_dir: Path, outcomes: list[RunOutcome]) -> Path:
    """``summary.csv``: one row per authority and evaluation in the batch folder, failures with their error.

    Built from ``outcomes`` (this invocation) and the status of every other authority's folder,
    so a batch limited to some authorities keeps the others' rows.
    """
    rows = []
    for o in _merged(run_dir, outcomes):
        kept = _earlier(o)
        row = {"authority_code": o.authority, "evaluation": o.evaluation, "status": o.status,
               "error": o.error, "seconds": round(o.seconds, 2), "attempts": o.attempts,
               "folder": os.path.relpath(o.folder, run_dir), "earlier_report_kept": kept}
        row.update(_headline(Path(o.folder)) if o.status != "failed" else {})
        rows.append(row)
    path = run_dir / "summary.csv"
    atomic_write_text(path, pd.DataFrame(rows).to_csv(index=False))
    return path


def write_index(run_dir: Path, outcomes: list[RunOutcome], *, wall: float, workers: int,
                regional: Path | None) -> Path:
    """The batch's index page: every authority in the batch folder, its status, link to its report or its error."""
    from ehimpact.report.index_page import index_html

    rows = []
    outcomes = _merged(run_dir, outcomes)
    synthetic = False
    for o in outcomes:
        rel = os.path.relpath(o.folder, run_dir)
        head = _headline(Path(o.folder)) if o.status != "failed" or _earlier(o) else {}
        synthetic = synthetic or bool(head.get("synthetic"))
        if o.status == "failed":
            head = {"authority_name": head.get("authority_name")}  # an earlier report's numbers are not this run's
        rows.append({
            "authority_code": o.authority, "authority_name": head.get("authority_name") or o.authority,
            "evaluation": o.evaluation, "status": o.status, "error": o.error,
            "report_href": f"{rel}/report.html" if o.status != "failed" else None,
            "earlier_href": f"{rel}/report.html" if o.status == "failed" and _earlier(o) else None,
            **{k: head.get(k) for k in ("estimate", "ci_lower", "ci_upper", "pvalue", "scale", "unit", "outcome",
                                        "summary")},
        })
    n_failed = sum(o.status == "failed" for o in outcomes)
    page = index_html(rows, synthetic=synthetic, title=f"ehimpact batch: {run_dir.name}",
                      intro=f"{len(outcomes)} runs: {len(outcomes) - n_failed} succeeded or unchanged, {n_failed} "
                            f"failed. Wall time {wall:.1f} s on {workers} worker(s).",
                      regional_href=regional.name if regional else None)
    return atomic_write_text(run_dir / "index.html", page)


_DISCLOSURE = "disclosure check failed"


def _regional(run_dir: Path, timeout: int, cfg: Any = None) -> tuple[Path | None, str]:
    """Execute the regional summary notebook over the batch's results: its page, or None and the error.

    Written in ``.regional.tmp-<owner>/`` and published (two renames) only when the notebook
    ran and the disclosure scan (:func:`ehimpact.report.disclosure.scan_outputs`, small counts)
    found nothing; a failure leaves any earlier regional summary in place and is recorded in
    ``regional_summary.error.txt``.
    """
    import shutil

    import papermill as pm

    from ehimpact.report.disclosure import scan_outputs
    from ehimpact.runner.render import to_html
    from ehimpact.runner.run import notebook_path

    tmp = inside(run_dir, run_dir / f".regional.{temp_tag()}")
    tmp.mkdir()
    error_txt = run_dir / "regional_summary.error.txt"
    try:
        nb = tmp / "regional_summary.ipynb"
        try:
            import ehimpact.runner.engine  # noqa: F401  registers the in-process engine

            pm.execute_notebook(str(notebook_path("regional_summary.ipynb")), str(nb), engine_name="ehimpact-inprocess",
                                parameters={"run_dir": str(run_dir.resolve())}, progress_bar=False,
                                execution_timeout=timeout, request_save_on_cell_execute=False, report_mode=True)
            to_html(nb, tmp / "regional_summary.html", watermark=True)
            d = cfg.evaluation.disclosure if cfg is not None else None
            findings = scan_outputs(tmp, identifiers=[], **({"threshold": d.threshold, "symbol": d.symbol} if d else {}))
            if findings:
                shown = "; ".join(f"{f.file} {f.location}: {f.kind}" for f in findings[:5])
                return None, _record_regional_error(error_txt, f"{_DISCLOSURE}, regional summary not published: "
                                                               f"{len(findings)} finding(s): {shown}")
        except Exception as exc:  # noqa: BLE001 - record, don't lose the batch
            return None, _record_regional_error(
                error_txt, f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}")
        for name in ("regional_summary.ipynb", "regional_summary.html"):
            os.replace(tmp / name, run_dir / name)
        fsync_dir(run_dir)
        error_txt.unlink(missing_ok=True)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return run_dir / "regional_summary.html", ""


def _record_regional_error(path: Path, text: str) -> str:
    atomic_write_text(path, text + "\n")
    return text
