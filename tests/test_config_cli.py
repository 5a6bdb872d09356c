"""Config validation and the CLI's handling of user mistakes: one line, non-zero exit, no traceback."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from ehimpact import InputError
from ehimpact.config import DEFAULT_STEPS, load_config

ROOT = Path(__file__).resolve().parent.parent
DEMO = ROOT / "config" / "demo.yaml"


def _write(tmp_path: Path, mutate) -> Path:
    cfg = yaml.safe_load(DEMO.read_text())
    mutate(cfg)
    path = tmp_path / "cfg.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return path


def test_demo_config_is_valid():
    cfg, base = load_config(DEMO)
    assert cfg.evaluation.design.name == "match"
    assert cfg.evaluation.primary_outcome.column == "csc_referral_12m"
    assert cfg.evaluation.step(1).title == DEFAULT_STEPS[1].title
    assert base == DEMO.parent


def test_wrong_key_names_the_key_and_suggests_the_right_one(tmp_path):
    path = _write(tmp_path, lambda c: c["evaluation"].update({"desing": c["evaluation"].pop("design")}))
    with pytest.raises(InputError) as info:
        load_config(path)
    msg = str(info.value)
    assert "evaluation.desing" in msg and "did you mean 'design'" in msg
    assert "missing key 'evaluation.design'" in msg


def test_nested_wrong_key_and_bad_value(tmp_path):
    def mutate(c):
        c["evaluation"]["disclosure"]["treshold"] = 5
        c["evaluation"]["steps"] = {11: {"title": "x"}}
    with pytest.raises(InputError) as info:
        load_config(_write(tmp_path, mutate))
    msg = str(info.value)
    assert "evaluation.disclosure.treshold" in msg and "threshold" in msg
    assert "step numbers run from 1 to 10" in msg


def test_step_titles_come_from_config(tmp_path):
    path = _write(tmp_path, lambda c: c["evaluation"].update({"steps": {3: {"title": "What we measure"}}}))
    cfg, _ = load_config(path)
    assert cfg.evaluation.step(3).title == "What we measure"
    assert cfg.evaluation.step(4).title == DEFAULT_STEPS[4].title


def _cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "ehimpact.cli", *args], capture_output=True, text=True, cwd=ROOT)


def test_cli_wrong_key_exits_nonzero_with_one_line_and_no_traceback(tmp_path):
    path = _write(tmp_path, lambda c: c["evaluation"].update({"outcomez": []}))
    out = _cli("run", str(path), "--authority", "E06000036")
    assert out.returncode == 2
    assert "Traceback" not in out.stderr
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and "outcomez" in lines[0]


def test_cli_missing_data_file_exits_nonzero_with_one_line(tmp_path):
    def mutate(c):
        c["evaluation"]["data"] = {"child_level": "no_such_file.csv"}
    out = _cli("run", str(_write(tmp_path, mutate)), "--authority", "E06000036")
    assert out.returncode == 2
    assert "Traceback" not in out.stderr
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and "no_such_file.csv" in lines[0] and "data.child_level" in lines[0]


def test_cli_missing_config_and_bad_yaml(tmp_path):
    out = _cli("run", str(tmp_path / "nope.yaml"))
    assert out.returncode == 2 and "config file not found" in out.stderr and "Traceback" not in out.stderr
    bad = tmp_path / "bad.yaml"
    bad.write_text("evaluation: [unclosed\n")
    out = _cli("run", str(bad))
    assert out.returncode == 2 and "not valid YAML" in out.stderr and "Traceback" not in out.stderr
