"""The demo's outputs leak nothing: no record-level identifier and no unsuppressed count 1-5.

Runs the demo (synthetic region through the real statutory readers, the batch of ten-step
reports and the regional summary) and scans every output file (ipynb, HTML, JSON, CSV)
with ehimpact.report.disclosure.scan_outputs.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from ehimpact.data.privacy import pseudonymise
from ehimpact.report.disclosure import scan_outputs

pytestmark = pytest.mark.notebook

SALT = "test-salt-for-the-disclosure-scan-0123456789"


def _identifiers(inputs: Path) -> set[str]:
    ids: set[str] = set()
    for export in inputs.glob("statutory/*/early_help_export.csv"):
        df = pd.read_csv(export, dtype=str)
        ids |= set(df["Person ID"]) | set(df["Family ID"])
    for header in inputs.glob("statutory/*/ssda903/header.csv"):
        df = pd.read_csv(header, dtype=str)
        ids |= set(df["CHILD"]) | set(df["UPN"].dropna())
    raw = sorted(i for i in ids if isinstance(i, str))
    hashed = set(pseudonymise(raw, SALT))  # the ids the analysis works with are record-level too
    return set(raw) | {h for h in hashed if isinstance(h, str)}


def _demo(out: Path, n: int) -> subprocess.CompletedProcess:
    env = {**os.environ, "EHIMPACT_SALT": SALT}
    return subprocess.run([sys.executable, "-m", "ehimpact.cli", "demo", "--authorities", str(n), "--out", str(out)],
                          capture_output=True, text=True, timeout=3000, env=env)


def _check(out: Path) -> None:
    ids = _identifiers(out / "inputs")
    assert len(ids) > 1000
    findings = scan_outputs(out / "demo", identifiers=ids)
    assert not findings, "\n".join(map(str, findings[:20]))
    reports = list((out / "demo").glob("*/*/report.html"))
    assert reports and (out / "demo" / "index.html").exists()


@pytest.mark.slow
def test_full_demo_outputs_pass_the_disclosure_scan(tmp_path):
    """The full 19-authority demo (make demo's job)."""
    res = _demo(tmp_path, 19)
    assert "index:" in res.stdout, res.stderr[-3000:]
    _check(tmp_path)


def test_small_demo_outputs_pass_the_disclosure_scan(tmp_path):
    """The same scan on a 3-authority demo (default suite)."""
    res = _demo(tmp_path, 3)
    assert "index:" in res.stdout, res.stderr[-3000:]
    _check(tmp_path)


def test_scan_would_catch_a_leak(tmp_path):
    """The scan is not vacuous: a planted id and a small count are found."""
    (tmp_path / "demo").mkdir()
    (tmp_path / "demo" / "x.csv").write_text("group,n\nsupported,3\n")
    (tmp_path / "demo" / "y.html").write_text("<p>child C0000001 was referred</p>")
    found = scan_outputs(tmp_path / "demo", identifiers={"C0000001"})
    assert {f.kind for f in found} == {"identifier", "small count"}
