"""Run every benchmark (``benchmarks/bench_*.py``), each in its own process, one after another.

Usage: ``make bench`` or ``python benchmarks/run.py [--quick] [name ...]``.
Results land in ``benchmarks/results/<name>.md`` and ``.json``; ``RESULTS.md`` collects them.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent


def main(argv: list[str]) -> int:
    quick = "--quick" in argv
    wanted = [a for a in argv if not a.startswith("-")]
    scripts = sorted(HERE.glob("bench_*.py"))
    if wanted:
        scripts = [s for s in scripts if any(w in s.stem for w in wanted)]
    failed = []
    for script in scripts:
        print(f"\n=== {script.stem} ===", flush=True)
        rc = subprocess.run([sys.executable, str(script), *(["--quick"] if quick else [])]).returncode
        if rc:
            failed.append(script.stem)
    parts = sorted((HERE / "results").glob("*.md"))
    (HERE / "RESULTS.md").write_text("# Benchmark results (see each bench_*.py for the set-up)\n\n"
                                     + "\n".join(p.read_text() for p in parts))
    if failed:
        print("benchmarks that failed:", ", ".join(failed))
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
