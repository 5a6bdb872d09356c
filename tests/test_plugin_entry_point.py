"""A partner's package registers a design through the `ehimpact.estimators` entry point.

The example in examples/partner_plugin (shown in CONTRIBUTING.md) is really installed with
pip (into a temporary target folder) and found by a fresh interpreter through
importlib.metadata, then checked with the shared conformance test.
"""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_plugin_installs_registers_and_conforms(tmp_path):
    target = tmp_path / "site"
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation",
                    "--target", str(target), str(ROOT / "examples" / "partner_plugin")], check=True)
    code = (
        "from ehimpact.estimators import registry\n"
        "from ehimpact.testing import check_estimator\n"
        "assert 'median_diff' in registry.available(), registry.available()\n"
        "est = check_estimator(registry.get('median_diff'))\n"
        "print(round(est.estimate, 6))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         env={"PYTHONPATH": f"{target}:{ROOT}", "PATH": "/usr/bin:/bin"})
    assert out.returncode == 0, out.stderr
    assert float(out.stdout.strip()) < 0  # the example plants a negative shift


def test_plugin_not_installed_is_an_input_error():
    from ehimpact import InputError
    from ehimpact.estimators import registry

    try:
        registry.get("median_diff")
    except InputError as exc:
        assert "unknown design" in str(exc)
