"""A wheel built from the repo works on its own: notebooks, dictionary, configs and costs ship inside it.

Builds the wheel, installs it (no dependencies: they come from this environment) into a
temporary folder, and runs `ehimpact demo` from an unrelated working directory with that
folder first on the path, so nothing can be read from the source tree.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.slow
def test_wheel_runs_the_demo_from_anywhere(tmp_path):
    wheels = tmp_path / "wheels"
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "-w", str(wheels), str(ROOT)],
                   check=True)
    site = tmp_path / "site"
    wheel = next(wheels.glob("ehimpact-*.whl"))
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--target", str(site),
                    str(wheel)], check=True)
    work = tmp_path / "elsewhere"
    work.mkdir()
    env = {**os.environ, "PYTHONPATH": str(site), "EHIMPACT_SALT": "wheel-test-salt-0123456789"}
    check = subprocess.run([sys.executable, "-c", "import ehimpact, sys; print(ehimpact.__file__)"],
                           capture_output=True, text=True, cwd=work, env=env)
    assert str(site) in check.stdout  # the installed copy, not the source tree
    res = subprocess.run([sys.executable, "-m", "ehimpact.cli", "demo", "--authorities", "2", "--out", "out"],
                         capture_output=True, text=True, cwd=work, env=env, timeout=1800)
    assert res.returncode == 0, res.stderr[-3000:]
    assert list((work / "out" / "demo").glob("*/*/report.html"))
    assert (work / "out" / "demo" / "regional_summary.html").exists()
