"""Runner safety (issue 16, items 1, 5 and the scanner gate of 2): codes and paths, atomic and durable outputs.

Each test reproduces one failure of the issue and fails on the runner before the fix:

* a traversal code (``../../../victim``) leaves a planted file outside the output folder intact,
  and ``;touch x`` / ``$(...)`` codes create nothing;
* a failed rerun keeps the earlier good report, and records the failure beside it;
* a full disk (simulated ENOSPC, and a real 256 kB tmpfs where mounts are allowed) publishes
  nothing partial, with a one-line error;
* a batch limited by ``--authority`` keeps the other authorities in summary.csv and index.html;
* start-up clean-up spares a live process's temporary folder (and matches the regional
  summary's), and a second batch on one folder is refused through the lock file;
* a read-only output folder is a one-line error before any work;
* a disclosure finding fails the run and publishes nothing, naming file and kind only.

Notebooks run in this process through the in-process engine (a few seconds each), on a
3-authority synthetic region of 400 children per authority.
"""

from __future__ import annotations

import errno
import json
import os
import shutil
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pandas as pd
import pytest
import yaml

from ehimpact.data import synthetic
from ehimpact.errors import InputError
from ehimpact.runner import batch as batch_mod
from ehimpact.runner import render
from ehimpact.runner import run as run_mod
from ehimpact.runner.paths import HOST, check_writable, checked_authority, inside, temp_tag
from ehimpact.runner.run import run_one

ROOT = Path(__file__).resolve().parent.parent
pytestmark = pytest.mark.notebook
EVAL = "family_key_workers"


def _write_config(folder: Path, children: pd.DataFrame, panel: pd.DataFrame, **batch) -> Path:
    data = folder / "data"
    data.mkdir(parents=True, exist_ok=True)
    children.to_csv(data / "children.csv", index=False)
    panel.to_csv(data / "panel.csv", index=False)
    cfg = yaml.safe_load((ROOT / "config" / "demo.yaml").read_text())
    cfg["evaluation"]["data"] = {"child_level": "data/children.csv", "authority_panel": "data/panel.csv"}
    cfg["evaluation"]["robustness"] = []
    cfg["evaluation"].pop("costs", None)
    cfg["batch"] = {"name": "e2e", "authorities": "all", "timeout_per_notebook": 300, **batch}
    cfg["output_dir"] = str(folder / "out")
    path = folder / "batch.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return path


@pytest.fixture(scope="module")
def region():
    reg = synthetic.region(n_authorities=3, seed=5, children_per_authority=400)
    return reg, list(pd.unique(reg.children["authority_code"]))


@pytest.fixture()
def setup(tmp_path, region):
    reg, codes = region
    return _write_config(tmp_path, reg.children, reg.panel), codes


def _run(cfg: Path, code: str, out: Path, **kw) -> run_mod.RunOutcome:
    return run_one(cfg, code, out, run_name="e2e", engine="ehimpact-inprocess", **kw)


def _files(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def _cli(*args: str, **kw) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "ehimpact.cli", *args], capture_output=True, text=True,
                          timeout=600, **kw)


# ------------------------------------------------------------------ 16.1 codes and paths
@pytest.mark.parametrize("code", ["../../../victim", "../victim", ";touch x", "$(touch x)", "E06000035/../../x",
                                  "E99999999", "", "Surrey", "E0600003"])
def test_bad_codes_are_refused_before_any_path(code):
    with pytest.raises(InputError) as err:
        checked_authority(code)
    assert "authority_code" in str(err.value) and "\n" not in str(err.value)


def test_real_codes_pass_and_data_codes_only_when_plain():
    assert checked_authority("E06000036") == "E06000036"
    assert checked_authority(" e06000036\n") == "E06000036"  # the canonical code, never the text given
    assert checked_authority("XY123", known=["XY123"]) == "XY123"
    with pytest.raises(InputError):
        checked_authority("../x", known=["../x"])  # a code in the data is still no path


def test_traversal_attempt_leaves_planted_file_intact(setup, tmp_path):
    cfg, codes = setup
    out = tmp_path / "a" / "b" / "out"
    # out/e2e/../../../victim is tmp/a/victim: where the old runner wrote (and replaced) its folder
    victim = tmp_path / "a" / "victim" / EVAL
    victim.mkdir(parents=True)
    (victim / "important.txt").write_text("precious")
    for code in ("../../../victim", ";touch x", "$(touch x)"):
        with pytest.raises(InputError):
            _run(cfg, code, out)
    assert (victim / "important.txt").read_text() == "precious"
    assert sorted(p.name for p in (tmp_path / "a" / "victim").iterdir()) == [EVAL]
    made = [p for p in tmp_path.rglob("*") if "touch" in p.name or p.name == "x"]
    assert not made
    # the CLI's single run and a batch config naming the code are refused the same way
    res = _cli("run", str(cfg), "--authority", "../../../victim", "--out", str(out))
    assert res.returncode == 2 and "Traceback" not in res.stderr and "not an authority code" in res.stderr
    bad = yaml.safe_load(cfg.read_text())
    bad["batch"]["authorities"] = ["../../../victim"]
    cfg.write_text(yaml.safe_dump(bad))
    with pytest.raises(InputError, match="not an authority code"):
        batch_mod.run_batch(cfg, out_dir=out, workers=1, regional_summary=False)
    assert (victim / "important.txt").read_text() == "precious"


def test_inside_refuses_paths_and_links_that_leave_the_root(tmp_path):
    root = tmp_path / "out"
    root.mkdir()
    (tmp_path / "elsewhere").mkdir()
    (root / "link").symlink_to(tmp_path / "elsewhere")
    assert inside(root, "e2e/E06000035") == (root / "e2e" / "E06000035").resolve()
    for p in ("../x", root / ".." / "x", "link/E06000035", "/etc"):
        with pytest.raises(InputError, match="outside the output folder"):
            inside(root, p)


# ------------------------------------------------------------------ 16.5 atomic, durable outputs
def test_failed_rerun_keeps_the_earlier_good_report(setup, tmp_path, region):
    cfg, codes = setup
    out = tmp_path / "out"
    first = _run(cfg, codes[0], out)
    assert first.status == "ok", first.error
    final = out / "e2e" / codes[0] / EVAL
    good = {k: v for k, v in _files(final).items()}
    assert {"report.html", "results.json", "status.json", "report.ipynb"} <= set(good)
    # the authority's data break: no supported children, so its rerun fails
    reg, _ = region
    children = reg.children.copy()
    children.loc[children["authority_code"] == codes[0], "received_early_help"] = 0
    children.to_csv(tmp_path / "data" / "children.csv", index=False)
    second = _run(cfg, codes[0], out)
    assert second.status == "failed" and "InputError" in second.error
    after = _files(final)
    for name in ("report.html", "results.json", "status.json", "report.ipynb"):
        assert after[name] == good[name], name  # the earlier good result is untouched
    failed = json.loads(after["failed.json"])
    assert failed["status"] == "failed" and failed["error"] == second.error
    assert "report.failed.ipynb" in after  # the failed notebook, beside the good one
    assert not [p for p in final.parent.iterdir() if p.name.startswith(".")]  # no temporaries left
    # the batch summary says it failed and that the earlier report is kept; --resume reruns it
    summary = batch_mod.write_summary(out / "e2e", [second])
    row = pd.read_csv(summary).set_index("authority_code").loc[codes[0]]
    assert row["status"] == "failed" and bool(row["earlier_report_kept"])
    index = batch_mod.write_index(out / "e2e", [second], wall=1, workers=1, regional=None).read_text()
    assert "earlier report (kept)" in index
    assert _run(cfg, codes[0], out, resume=True).status == "failed"


def _half_then_enospc(notebook, html_path, **kw):
    Path(html_path).write_text("<!doctype html><html><body>half a rep")
    raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(html_path))


def test_full_disk_publishes_nothing_partial(setup, tmp_path, monkeypatch):
    cfg, codes = setup
    out = tmp_path / "out"
    real_to_html = render.to_html
    # 1. the disk fills while the report is written, and stays full: nothing is published at all
    monkeypatch.setattr(render, "to_html", _half_then_enospc)
    real_write = run_mod.atomic_write_text

    def full(path, text):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(path))

    monkeypatch.setattr(run_mod, "atomic_write_text", full)
    o = _run(cfg, codes[1], out)
    assert o.status == "failed" and "no space left on device" in o.error and "\n" not in o.error
    folder = out / "e2e" / codes[1]
    assert not folder.exists() or not any(folder.rglob("*.*"))  # no report, no notebook, no temporaries
    # 2. an earlier good result, then a rerun on a full disk: the earlier result stays byte for byte
    monkeypatch.setattr(run_mod, "atomic_write_text", real_write)
    monkeypatch.setattr(render, "to_html", real_to_html)
    assert _run(cfg, codes[1], out).status == "ok"
    good = _files(folder / EVAL)
    monkeypatch.setattr(render, "to_html", _half_then_enospc)
    monkeypatch.setattr(run_mod, "atomic_write_text", full)
    o = _run(cfg, codes[1], out)
    assert o.status == "failed" and "no space left on device" in o.error
    assert _files(folder / EVAL) == good
    assert not [p for p in folder.iterdir() if p.name.startswith(".")]
    # 3. only the report write fails (the failure can be recorded): no truncated report or notebook
    monkeypatch.setattr(run_mod, "atomic_write_text", real_write)
    o = _run(cfg, codes[2], out)
    rec = out / "e2e" / codes[2] / EVAL
    assert o.status == "failed" and sorted(p.name for p in rec.iterdir()) == ["failed.json", "status.json"]


_TMPFS_SCRIPT = textwrap.dedent("""
    set -e
    mount -t tmpfs -o size={size} tmpfs {mnt}
    {extra}
    set +e
    {python} -m ehimpact.cli {args} > {mnt}/../stdout.txt 2> {mnt}/../stderr.txt
    echo $? > {mnt}/../rc.txt
    {python} -c "import json,pathlib,sys; r=pathlib.Path(sys.argv[1]); print(json.dumps([[str(p.relative_to(r)),
    p.stat().st_size, p.read_text(errors='replace')[-200:] if p.suffix in ('.json','.ipynb','.html') else '']
    for p in sorted(r.rglob('*')) if p.is_file()]))" {mnt} > {mnt}/../files.json
""")


def _in_tmpfs(tmp_path: Path, size: str, args: str, extra: str = "") -> tuple[int, str, list]:
    if shutil.which("unshare") is None or os.geteuid() != 0:
        pytest.skip("needs unshare and root to mount a private tmpfs")
    mnt = tmp_path / "mnt" / "fs"
    mnt.mkdir(parents=True)
    script = _TMPFS_SCRIPT.format(size=size, mnt=mnt, extra=extra.format(mnt=mnt), python=sys.executable,
                                  args=args.format(mnt=mnt))
    res = subprocess.run(["unshare", "-m", "--propagation", "private", "sh", "-c", script], capture_output=True,
                         text=True, timeout=600, cwd=ROOT)
    if res.returncode != 0 or not (mnt.parent / "rc.txt").exists():
        pytest.skip(f"private tmpfs not available here: {res.stderr[-300:]}")
    rc = int((mnt.parent / "rc.txt").read_text())
    return rc, (mnt.parent / "stderr.txt").read_text(), json.loads((mnt.parent / "files.json").read_text())


def test_real_full_tmpfs_publishes_nothing_partial(setup, tmp_path):
    cfg, codes = setup
    rc, err, files = _in_tmpfs(tmp_path, "256k", f"run {cfg} --authority {codes[0]} --out {{mnt}}/out")
    assert rc != 0 and "Traceback" not in err, err
    assert len([ln for ln in err.splitlines() if ln.startswith("error:")]) == 1, err
    names = [f[0] for f in files]
    assert not any(n.endswith(("report.html", "results.json", "report.ipynb", "report.failed.ipynb"))
                   for n in names), names
    assert not any("/." in "/" + n for n in names), names  # no temporary left behind
    for name, _size, tail in files:  # whatever was recorded is complete
        if name.endswith(".json"):
            assert tail.rstrip().endswith("}"), name


def test_batch_on_a_full_tmpfs_ends_in_one_line_with_nothing_partial(setup, tmp_path):
    cfg, codes = setup
    rc, err, files = _in_tmpfs(tmp_path, "256k",
                               f"batch {cfg} --authority {codes[0]} --workers 1 --out {{mnt}}/out")
    assert rc != 0 and "Traceback" not in err, err[-2000:]
    names = [f[0] for f in files]
    assert not any(n.endswith(("report.html", "results.json", "report.ipynb", "report.failed.ipynb"))
                   for n in names), names
    assert not any("/." in "/" + n and not n.endswith(".batch.lock") for n in names), names
    for name, _size, tail in files:
        if name.endswith((".json", ".ipynb")):
            assert tail.rstrip().endswith("}"), name
        if name.endswith(".html"):
            assert tail.rstrip().endswith("</html>"), name


def test_read_only_output_folder_is_one_line_before_any_work(setup, tmp_path):
    cfg, codes = setup
    rc, err, files = _in_tmpfs(tmp_path, "1m", f"run {cfg} --authority {codes[0]} --out {{mnt}}/out",
                               extra="mkdir {mnt}/out; mount -o remount,ro {mnt}")
    assert rc == 2 and "Traceback" not in err, err
    assert err.startswith("error: ") and "Read-only file system" in err and len(err.strip().splitlines()) == 1
    assert files == []


def test_unwritable_folder_check(tmp_path, monkeypatch):
    (tmp_path / "file").write_text("x")
    with pytest.raises(InputError, match="cannot be written"):
        check_writable(tmp_path / "file" / "out")  # a file where a folder should be
    assert check_writable(tmp_path / "new" / "out") == (tmp_path / "new" / "out").resolve()
    assert not list((tmp_path / "new" / "out").iterdir())  # the probe is removed


def test_authority_limited_batch_keeps_the_other_authorities(setup, tmp_path):
    cfg, codes = setup
    out = tmp_path / "out"
    for code in (codes[0], codes[2]):
        assert _run(cfg, code, out).status == "ok"
    res = batch_mod.run_batch(cfg, out_dir=out, workers=1, authorities=[codes[1]], regional_summary=False)
    assert [o.authority for o in res.outcomes] == [codes[1]] and res.exit_code == 0
    summary = pd.read_csv(res.summary_csv).set_index("authority_code")
    assert list(summary.index) == [codes[1], codes[0], codes[2]]
    assert set(summary["status"]) == {"ok"} and summary["estimate"].notna().all()
    index = res.index.read_text()
    assert all(f'{c}/{EVAL}/report.html' in index for c in codes)
    assert not (out / "e2e" / ".batch.lock").exists()  # released


def _dead_pid() -> int:
    p = subprocess.Popen([sys.executable, "-c", "pass"])
    p.wait()
    return p.pid


def test_stale_cleanup_spares_a_live_process_and_matches_the_regional_temporaries(tmp_path):
    run_dir = tmp_path / "e2e"
    auth = run_dir / "E06000035"
    (auth / EVAL).mkdir(parents=True)
    (auth / EVAL / "report.html").write_text("<html></html>")
    live = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    dead = _dead_pid()
    try:
        keep = auth / f".{EVAL}.{temp_tag(live.pid)}"
        gone = auth / f".{EVAL}.{temp_tag(dead)}"
        regional = run_dir / f".regional.{temp_tag(dead)}"
        regional_live = run_dir / f".regional.{temp_tag(live.pid)}"
        other_host = auth / f".{EVAL}.tmp-{dead}@another-host-abcdef12"
        legacy = run_dir / "tmpab12cd34"  # the regional summary's folder of older versions
        atomic_left = run_dir / f".summary.csv.tmp-{dead}@{HOST}-abcdefgh.tmp"
        for d in (keep, gone, regional, regional_live, other_host, legacy):
            d.mkdir()
            (d / "regional_summary.ipynb").write_text("{}")
        atomic_left.write_text("half")
        old = time.time() - 3600
        os.utime(legacy, (old, old))
        # an earlier run parked during a swap whose new folder never arrived: put back
        parked = tmp_path / "e2e" / "E06000036" / f".{EVAL}.old-{temp_tag(dead)[4:]}"
        parked.mkdir(parents=True)
        (parked / "report.html").write_text("earlier")
        batch_mod._remove_stale_temporaries(run_dir)
        assert keep.exists() and regional_live.exists() and other_host.exists()
        assert not gone.exists() and not regional.exists() and not legacy.exists() and not atomic_left.exists()
        assert (run_dir / "E06000036" / EVAL / "report.html").read_text() == "earlier" and not parked.exists()
        assert (auth / EVAL / "report.html").exists()
    finally:
        live.kill()
        live.wait()


_HOLD = "import sys, time; from ehimpact.runner.batch import BatchLock; l = BatchLock(sys.argv[1]).acquire(); " \
        "print('held', flush=True); time.sleep(60)"


def test_a_second_batch_on_one_folder_is_refused_and_a_stale_lock_taken_over(setup, tmp_path):
    cfg, codes = setup
    run_dir = tmp_path / "out" / "e2e"
    run_dir.mkdir(parents=True)
    holder = subprocess.Popen([sys.executable, "-c", _HOLD, str(run_dir)], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        with pytest.raises(InputError, match=f"another batch is running .*pid {holder.pid} on {HOST}"):
            batch_mod.run_batch(cfg, out_dir=tmp_path / "out", workers=1, regional_summary=False)
    finally:
        holder.kill()
        holder.wait()
    # the holder died without releasing: its lock file is left, naming a pid that is gone
    info = json.loads((run_dir / ".batch.lock").read_text())
    assert info["pid"] == holder.pid
    with batch_mod.BatchLock(run_dir) as lock:
        assert lock.owner()["pid"] == os.getpid()
    assert not (run_dir / ".batch.lock").exists()


# ------------------------------------------------------------------ 16.2 the disclosure scan as a gate
def test_disclosure_finding_fails_the_run_and_publishes_nothing(setup, tmp_path, monkeypatch, region):
    cfg, codes = setup
    out = tmp_path / "out"
    reg, _ = region
    leaked = str(reg.children.loc[reg.children["authority_code"] == codes[0], "child_id"].iloc[0])
    real = render.to_html

    def leaky(nb, html_path, **kw):
        path = real(nb, html_path, **kw)
        text = Path(path).read_text().replace("</body>", f"<p>child {leaked} was referred</p></body>")
        Path(path).write_text(text)
        return path

    monkeypatch.setattr(render, "to_html", leaky)
    o = _run(cfg, codes[0], out)
    assert o.status == "failed" and "disclosure check failed" in o.error
    assert "report.html" in o.error and "identifier" in o.error and leaked not in o.error
    final = out / "e2e" / codes[0] / EVAL
    names = sorted(p.name for p in final.iterdir())
    assert names == ["failed.json", "status.json"]  # no report, results or notebook published
    assert leaked not in "".join(p.read_text() for p in final.iterdir())


def test_gate_looks_for_the_ids_the_analysis_uses_on_the_statutory_route(tmp_path, monkeypatch):
    from ehimpact.cli import write_demo_inputs
    from ehimpact.data.inputs import load_inputs
    from ehimpact.runner.config import load_config

    monkeypatch.setenv("EHIMPACT_SALT", "a-long-secret-for-the-gate-test-0123456789")
    data = write_demo_inputs(tmp_path / "inputs", n_authorities=2, seed=3)
    cfg = yaml.safe_load((ROOT / "config" / "demo.yaml").read_text())
    cfg["evaluation"]["data"] = data
    path = tmp_path / "demo.yaml"
    path.write_text(yaml.safe_dump(cfg))
    config, base = load_config(path)
    code = sorted(p.name for p in (tmp_path / "inputs" / "statutory").iterdir())[0]
    ids = run_mod.record_identifiers(config, base, code)
    inputs = load_inputs(config.evaluation, base, authority=code)
    used = set(inputs.children["child_id"]) | set(inputs.children["family_id"].dropna()) | \
        set(inputs.events["child_id"])
    assert used and used <= ids  # every pseudonymised id the report could leak
    export = pd.read_csv(next((tmp_path / "inputs" / "statutory" / code).glob("*export*.csv")), dtype=str)
    assert set(export["Person ID"]) <= ids  # and the raw ids of the files
