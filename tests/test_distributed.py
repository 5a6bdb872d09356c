"""Distributed batches (issue 16, item 6): a real ``dask scheduler`` and ``dask worker`` processes on 127.0.0.1.

* the default relative output folder (``outputs``) is made absolute before tasks are sent, so
  every report lands in the client's output folder, not in the workers' working folders;
* one worker killed mid-run: its task is retried on the other, and all numbers equal a local run;
* a worker that cannot see or write the output folder is found by the probe before any work;
* a bad scheduler address is one line; with no workers left the batch stops after
  ``batch.worker_wait`` seconds with a message.

Everything listens on the loopback interface only.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
import yaml

from ehimpact.data import synthetic
from ehimpact.errors import InputError
from ehimpact.runner import batch as batch_mod

ROOT = Path(__file__).resolve().parent.parent
DASK = Path(sys.executable).parent / "dask"
EVAL = "family_key_workers"
pytestmark = pytest.mark.notebook


def _config(tmp_path: Path, n: int = 4) -> tuple[Path, list[str]]:
    region = synthetic.region(n_authorities=n, seed=5, children_per_authority=400)
    data = tmp_path / "data"
    data.mkdir()
    region.children.to_csv(data / "children.csv", index=False)
    region.panel.to_csv(data / "panel.csv", index=False)
    cfg = yaml.safe_load((ROOT / "config" / "demo.yaml").read_text())
    cfg["evaluation"]["data"] = {"child_level": "data/children.csv", "authority_panel": "data/panel.csv"}
    cfg["evaluation"]["robustness"] = []
    cfg["evaluation"].pop("costs", None)
    cfg["batch"] = {"name": "e2e", "authorities": "all", "timeout_per_notebook": 300}
    cfg.pop("output_dir", None)  # the default: "outputs", relative to the current folder
    path = tmp_path / "batch.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return path, list(pd.unique(region.children["authority_code"]))


def _env() -> dict[str, str]:
    return {**os.environ, "MPLBACKEND": "Agg", "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"}


def _start(args: list[str], cwd: Path, log: Path) -> subprocess.Popen:
    cwd.mkdir(parents=True, exist_ok=True)
    return subprocess.Popen([str(DASK), *args], cwd=cwd, stdout=log.open("w"), stderr=subprocess.STDOUT,
                            start_new_session=True, env=_env())


def _stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    proc.wait()


def _scheduler(tmp_path: Path) -> tuple[subprocess.Popen, str]:
    sched_file = tmp_path / "scheduler.json"
    # --no-dashboard alone still serves HTTP on 0.0.0.0:8787: bind that to the loopback too
    proc = _start(["scheduler", "--host", "127.0.0.1", "--port", "0", "--no-dashboard",
                   "--dashboard-address", "127.0.0.1:0", "--scheduler-file", str(sched_file)],
                  tmp_path / "sched", tmp_path / "scheduler.log")
    deadline = time.time() + 120
    while time.time() < deadline and not sched_file.exists():
        time.sleep(0.2)
    assert sched_file.exists(), (tmp_path / "scheduler.log").read_text()
    time.sleep(0.5)
    address = json.loads(sched_file.read_text())["address"]
    assert address.startswith("tcp://127.0.0.1:")
    return proc, address


def _worker(tmp_path: Path, address: str, name: str) -> subprocess.Popen:
    return _start(["worker", address, "--host", "127.0.0.1", "--nthreads", "1", "--nworkers", "1",
                   "--no-dashboard", "--dashboard-address", "127.0.0.1:0", "--name", name],
                  tmp_path / name, tmp_path / f"{name}.log")


def _wait_workers(address: str, n: int) -> None:
    from dask.distributed import Client

    with Client(address, timeout=60) as client:
        client.wait_for_workers(n, timeout=180)


def _cli(*args: str, cwd: Path) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "ehimpact.cli", *args], cwd=cwd, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=_env())


def _numbers(run_dir: Path, codes: list[str]) -> dict[str, dict]:
    out = {}
    for code in codes:
        res = json.loads((run_dir / code / EVAL / "results.json").read_text())
        p = res["primary"]
        out[code] = {k: p.get(k) for k in ("estimate", "se", "ci", "pvalue", "outcome")}
    return out


@pytest.mark.slow
def test_scheduler_two_workers_one_killed_relative_output_equals_local(tmp_path):
    cfg, codes = _config(tmp_path)
    client_dir = tmp_path / "client"
    client_dir.mkdir()
    sched, address = _scheduler(tmp_path)
    workers = [_worker(tmp_path, address, "w1"), _worker(tmp_path, address, "w2")]
    try:
        _wait_workers(address, 2)
        proc = _cli("batch", str(cfg), "--scheduler", address, cwd=client_dir)
        run_dir = client_dir / "outputs" / "e2e"
        deadline = time.time() + 600
        while time.time() < deadline and not list(run_dir.glob(f"*/{EVAL}/status.json")) and proc.poll() is None:
            time.sleep(0.2)
        done_at_kill = list(run_dir.glob(f"*/{EVAL}/status.json"))
        _stop(workers[0])  # mid-run: one authority done, the others running or queued
        assert 1 <= len(done_at_kill) < len(codes)
        stdout, stderr = proc.communicate(timeout=900)
        assert proc.returncode == 0, stderr[-3000:]
        assert "Traceback" not in stderr
    finally:
        for p in (*workers, sched):
            _stop(p)
    summary = pd.read_csv(run_dir / "summary.csv").set_index("authority_code")
    assert set(summary.index) == set(codes) and set(summary["status"]) == {"ok"}
    assert summary["estimate"].notna().all()
    for code in codes:
        assert (run_dir / code / EVAL / "report.html").exists()
    for w in ("w1", "w2"):
        assert not (tmp_path / w / "outputs").exists()  # nothing in the workers' own folders
    assert not list(run_dir.glob("*/.*tmp-*"))
    # the same batch on a local cluster gives the same numbers
    local = subprocess.run([sys.executable, "-m", "ehimpact.cli", "batch", str(cfg), "--workers", "2",
                            "--out", str(tmp_path / "local")], capture_output=True, text=True, timeout=900,
                           env=_env(), cwd=client_dir)
    assert local.returncode == 0, local.stderr[-3000:]
    assert _numbers(run_dir, codes) == _numbers(tmp_path / "local" / "e2e", codes)


@pytest.mark.slow
def test_no_workers_left_times_out_with_a_message(tmp_path):
    cfg, codes = _config(tmp_path, n=3)
    from ehimpact.runner.config import load_config

    config, _ = load_config(cfg)
    run_dir = tmp_path / "out" / "e2e"
    run_dir.mkdir(parents=True)
    sched, address = _scheduler(tmp_path)
    worker = _worker(tmp_path, address, "w1")
    try:
        _wait_workers(address, 1)
        import threading

        def kill_when_started() -> None:
            deadline = time.time() + 300
            while time.time() < deadline and not list(run_dir.glob("*/.*tmp-*")):
                time.sleep(0.1)
            _stop(worker)

        killer = threading.Thread(target=kill_when_started, daemon=True)
        killer.start()
        t0 = time.perf_counter()
        kwargs = {"run_name": "e2e", "timeout": 300, "retries": 0, "pdf": False, "resume": False,
                  "engine": "ehimpact-inprocess", "known": None}
        outcomes = batch_mod._run_all(config, cfg, codes, tmp_path / "out", run_dir, kwargs, scheduler=address,
                                      n_workers=1, engine="ehimpact-inprocess", worker_wait=3)
        took = time.perf_counter() - t0
    finally:
        _stop(worker)
        _stop(sched)
    assert len(outcomes) == 3
    lost = [o for o in outcomes if "no Dask workers left" in o.error]
    assert lost and all(o.status == "failed" for o in lost)
    assert "batch.worker_wait" in lost[0].error
    assert took < 120


def test_no_worker_at_all_is_one_line(tmp_path):
    cfg, codes = _config(tmp_path, n=3)
    from ehimpact.runner.config import load_config

    config, _ = load_config(cfg)
    run_dir = tmp_path / "out" / "e2e"
    run_dir.mkdir(parents=True)
    sched, address = _scheduler(tmp_path)
    try:
        with pytest.raises(InputError, match="no Dask worker joined the scheduler within 2 s"):
            batch_mod._run_all(config, cfg, codes, tmp_path / "out", run_dir, {}, scheduler=address, n_workers=1,
                               engine=None, worker_wait=2)
    finally:
        _stop(sched)


@pytest.mark.parametrize("address", ["tcp://127.0.0.1:1", "nonsense://x:1"])
def test_bad_scheduler_address_is_one_line(tmp_path, address):
    cfg, _ = _config(tmp_path, n=3)
    res = subprocess.run([sys.executable, "-m", "ehimpact.cli", "batch", str(cfg), "--scheduler", address,
                          "--out", str(tmp_path / "out")], capture_output=True, text=True, timeout=300, env=_env())
    assert res.returncode == 2 and "Traceback" not in res.stderr, res.stderr[-2000:]
    assert res.stderr.startswith("error: --scheduler: cannot connect to the Dask scheduler") and \
        len(res.stderr.strip().splitlines()) == 1, res.stderr


class _FakeClient:
    """``client.run`` on two 'workers' that see different folders."""

    def __init__(self, views: dict[str, Path]) -> None:
        self.views = views

    def run(self, fn, run_dir, name, token):  # noqa: ANN001
        return {w: fn(str(view), name, token) for w, view in self.views.items()}


def test_probe_finds_a_worker_that_cannot_see_the_output_folder(tmp_path):
    shared = tmp_path / "shared"
    shared.mkdir()
    elsewhere = tmp_path / "worker-local"
    elsewhere.mkdir()
    batch_mod.probe_workers(_FakeClient({"tcp://127.0.0.1:1": shared, "tcp://127.0.0.1:2": shared}), shared)
    with pytest.raises(InputError, match="1 of 2 Dask worker.* cannot use the output folder: tcp://127.0.0.1:2"):
        batch_mod.probe_workers(_FakeClient({"tcp://127.0.0.1:1": shared, "tcp://127.0.0.1:2": elsewhere}), shared)
    assert not list(shared.iterdir()) and not list(elsewhere.iterdir())  # probe files removed


def test_workers_that_cannot_write_send_their_results_back(tmp_path, monkeypatch, capsys):
    cfg, codes = _config(tmp_path, n=3)
    out = tmp_path / "out"

    def cannot(client, run_dir):  # noqa: ANN001 - as if every worker saw another folder
        raise InputError("2 of 2 Dask worker(s) cannot use the output folder: tcp://127.0.0.1:1 ...")

    monkeypatch.setattr(batch_mod, "probe_workers", cannot)
    res = batch_mod.run_batch(cfg, out_dir=out, workers=1, authorities=[codes[0]], regional_summary=False)
    assert res.exit_code == 0, [o.error for o in res.outcomes]
    assert "results are sent back to this client" in capsys.readouterr().err
    final = out / "e2e" / codes[0] / EVAL
    assert {"report.html", "report.ipynb", "results.json", "status.json"} <= {p.name for p in final.iterdir()}
    assert json.loads((final / "status.json").read_text())["folder"] == str(final)
    assert str(tmp_path) not in (final / "results.json").read_text()  # no machine path (issue 13 item 9)
    assert not [p for p in final.parent.iterdir() if p.name.startswith(".")]
    # --resume is decided on the client: unchanged, so skipped (unless another session rebuilt the
    # shipped notebook in between, which changes the inputs key and so rightly reruns it)
    from ehimpact.runner.run import inputs_key

    key = json.loads((final / "status.json").read_text())["key"]
    again = batch_mod.run_batch(cfg, out_dir=out, workers=1, authorities=[codes[0]], regional_summary=False,
                                resume=True)
    expected = "skipped" if inputs_key(cfg, codes[0]) == key else "ok"
    assert [o.status for o in again.outcomes] == [expected]
