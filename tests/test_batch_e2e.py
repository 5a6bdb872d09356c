"""End-to-end batch: three authorities on Dask, one with broken data; resume; kill and resume.

These run real notebooks through papermill (a few seconds each).
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

ROOT = Path(__file__).resolve().parent.parent
pytestmark = pytest.mark.notebook


def _setup(tmp_path: Path, n: int = 3) -> tuple[Path, list[str]]:
    region = synthetic.region(n_authorities=n, seed=5, children_per_authority=400)
    children = region.children.copy()
    codes = list(pd.unique(children["authority_code"]))
    # deliberately broken: the third authority recorded no supported children
    children.loc[children["authority_code"] == codes[2], "received_early_help"] = 0
    data = tmp_path / "data"
    data.mkdir()
    children.to_csv(data / "children.csv", index=False)
    region.panel.to_csv(data / "panel.csv", index=False)
    cfg = yaml.safe_load((ROOT / "config" / "demo.yaml").read_text())
    cfg["evaluation"]["data"] = {"child_level": "data/children.csv", "authority_panel": "data/panel.csv"}
    cfg["evaluation"]["robustness"] = []
    cfg["evaluation"].pop("costs", None)
    cfg["batch"] = {"name": "e2e", "authorities": "all", "timeout_per_notebook": 300}
    cfg["output_dir"] = str(tmp_path / "out")
    path = tmp_path / "batch.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return path, codes


def _cli(*args: str, **kw) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "ehimpact.cli", *args], capture_output=True, text=True,
                          timeout=600, **kw)


def _assert_complete(out: Path) -> None:
    """No file is truncated or invalid: JSON and notebooks parse, HTML is closed."""
    for f in out.rglob("*"):
        if not f.is_file() or any(part.startswith(".") for part in f.relative_to(out).parts):
            continue
        if f.suffix in (".json", ".ipynb"):
            json.loads(f.read_text())
        elif f.suffix == ".html":
            assert f.read_text().rstrip().endswith("</html>"), f
        elif f.suffix == ".csv":
            pd.read_csv(f)


def test_batch_with_one_broken_authority_then_resume(tmp_path):
    cfg, codes = _setup(tmp_path)
    out = tmp_path / "out" / "e2e"
    res = _cli("batch", str(cfg), "--workers", "2")
    assert res.returncode == 1, res.stderr  # one failure -> non-zero
    assert "Traceback" not in res.stderr
    summary = pd.read_csv(out / "summary.csv")
    assert set(summary["authority_code"]) == set(codes)
    status = dict(zip(summary["authority_code"], summary["status"], strict=True))
    assert status[codes[0]] == "ok" and status[codes[1]] == "ok" and status[codes[2]] == "failed"
    err = summary.set_index("authority_code").loc[codes[2], "error"]
    assert "InputError" in err
    for code in codes[:2]:
        folder = out / code / "family_key_workers"
        assert (folder / "report.html").exists() and (folder / "results.json").exists()
    assert not (out / codes[2] / "family_key_workers" / "report.html").exists()
    assert json.loads((out / codes[2] / "family_key_workers" / "failed.json").read_text())["status"] == "failed"
    assert not (out / ".batch.lock").exists()  # released at the end
    index = (out / "index.html").read_text()
    assert all(code in index for code in codes) and "failed" in index
    _assert_complete(tmp_path / "out")

    res2 = _cli("batch", str(cfg), "--workers", "2", "--resume")
    summary2 = pd.read_csv(out / "summary.csv").set_index("authority_code")["status"]
    assert summary2[codes[0]] == "skipped" and summary2[codes[1]] == "skipped"
    assert summary2[codes[2]] == "failed"  # rerun (and still broken)
    assert res2.returncode == 1


def test_batch_killed_mid_run_then_resume_completes(tmp_path):
    cfg, codes = _setup(tmp_path)
    data = tmp_path / "data" / "children.csv"
    region = synthetic.region(n_authorities=3, seed=5, children_per_authority=400)
    region.children.to_csv(data, index=False)  # unbroken this time
    out = tmp_path / "out" / "e2e"
    proc = subprocess.Popen([sys.executable, "-m", "ehimpact.cli", "batch", str(cfg), "--workers", "1"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    deadline = time.time() + 300
    while time.time() < deadline and not list(out.glob("*/*/status.json")):
        time.sleep(0.2)
    time.sleep(1.0)  # let the next notebook start, then kill everything mid-run
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    _assert_complete(tmp_path / "out")
    done_before = {p.parent.parent.name for p in out.glob("*/*/status.json")}
    assert 1 <= len(done_before) < 3
    assert json.loads((out / ".batch.lock").read_text())["pid"] == proc.pid  # left by the killed batch ...
    res = _cli("batch", str(cfg), "--workers", "2", "--resume")
    assert res.returncode == 0, res.stderr  # ... and taken over, its pid being gone
    summary = pd.read_csv(out / "summary.csv").set_index("authority_code")["status"]
    assert all(summary[c] == "skipped" for c in done_before)
    assert all(summary[c] == "ok" for c in set(codes) - done_before)
    assert not list(out.glob("*/.*tmp-*"))
    _assert_complete(tmp_path / "out")
