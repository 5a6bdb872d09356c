"""Shared benchmark harness: fresh-process timing and peak memory, peer virtual environments.

Each case runs in its own Python process, so peak memory (``ru_maxrss``) belongs to that
case alone and import costs are excluded from the timed region.  Peer libraries whose
version pins conflict with ehimpact's live in their own virtual environments
(``.venv-bench-<name>``), created on first use by :func:`peer_python`.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESULTS = Path(__file__).resolve().parent / "results"

_WRAPPER = r'''
import json, resource, sys, time
__setup__
t0 = time.perf_counter()
__result__ = None
__timed__
elapsed = time.perf_counter() - t0
peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print("__BENCH__" + json.dumps({"seconds": elapsed, "peak_mb": peak_mb, "result": __result__}, default=str))
'''


def peer_python(name: str, packages: list[str]) -> Path:
    """Python of a virtual environment holding ``packages`` (created once, then reused).

    Parameters
    ----------
    name : str
        Environment name, e.g. ``"csdid"``.
    packages : list of str
        pip requirement strings.
    """
    venv = ROOT / f".venv-bench-{name}"
    py = venv / "bin" / "python"
    import hashlib  # not hash(): it is salted per process, so the stamp would never match

    stamp = venv / (".stamp-" + hashlib.sha256("\n".join(packages).encode()).hexdigest()[:12])
    if not stamp.exists():
        if not py.exists():
            subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        subprocess.run([str(py), "-m", "pip", "install", "--quiet", "--upgrade", "pip"], check=True)
        subprocess.run([str(py), "-m", "pip", "install", "--quiet", *packages], check=True)
        stamp.touch()
    return py


def run_case(setup: str, timed: str, *, python: str | Path = sys.executable, timeout: float = 1800,
             env: dict[str, str] | None = None) -> dict:
    """Run ``timed`` after ``setup`` in a fresh process; return seconds, peak MB and ``__result__``.

    ``timed`` may assign ``__result__`` (e.g. the point estimate) to report beside the time.
    A failure (including out-of-memory) is returned as ``{"error": ...}``, not raised.
    """
    code = _WRAPPER.replace("__setup__", textwrap.dedent(setup)).replace("__timed__", textwrap.dedent(timed))
    full_env = {**os.environ, "PYTHONPATH": str(ROOT), **(env or {})}
    try:
        proc = subprocess.run([str(python), "-c", code], capture_output=True, text=True,
                              timeout=timeout, env=full_env)
    except subprocess.TimeoutExpired:
        return {"error": f"timed out after {timeout:.0f} s"}
    for line in proc.stdout.splitlines():
        if line.startswith("__BENCH__"):
            return json.loads(line[len("__BENCH__"):])
    tail = (proc.stderr or proc.stdout).strip().splitlines()[-3:]
    return {"error": f"exit {proc.returncode}: " + " | ".join(tail)}


def write_results(name: str, rows: list[dict], notes: str = "") -> Path:
    """Save rows as JSON and a Markdown table in ``benchmarks/results/`` and print the table."""
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / f"{name}.json").write_text(json.dumps({"rows": rows, "notes": notes}, indent=2, default=str))
    keys: list[str] = []
    for r in rows:
        keys += [k for k in r if k not in keys]
    lines = ["| " + " | ".join(keys) + " |", "|" + "---|" * len(keys)]
    for r in rows:
        cells = []
        for k in keys:
            v = r.get(k, "")
            cells.append(f"{v:.4g}" if isinstance(v, float) else str(v))
        lines.append("| " + " | ".join(cells) + " |")
    md = f"## {name}\n\n{notes}\n\n" + "\n".join(lines) + "\n"
    (RESULTS / f"{name}.md").write_text(md)
    print(md)
    return RESULTS / f"{name}.md"
