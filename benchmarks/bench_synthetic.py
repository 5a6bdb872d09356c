"""Benchmark: synthetic region generation, validation and loading at 100,000 and 1,000,000 children.

No peer library generates this kind of data (or validates against this dictionary), so the table
reports ehimpact alone, each case in a fresh process (imports excluded).  The target from issue 2:
1,000,000 child rows in under a minute.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from harness import run_case, write_results  # noqa: E402

SETUP = """
import tempfile, pathlib
from ehimpact.data import synthetic, validate, load
synthetic.region(2, seed=0, children_per_authority=100)  # warm caches (authorities CSV, YAML)
"""


def main(argv: list[str]) -> None:
    sizes = [100_000] if "--quick" in argv else [100_000, 1_000_000]
    rows = []
    for n in sizes:
        per = -(-n // 19)
        gen = run_case(SETUP, f"r = synthetic.region(19, seed=0, children_per_authority={per})\n"
                              "__result__ = len(r.children)")
        rows.append({"case": "synthetic.region (19 authorities)", "children": n, **gen})
        val = run_case(SETUP + f"r = synthetic.region(19, seed=0, children_per_authority={per})\n",
                       "rep = validate(r.children, 'child_level')\n__result__ = bool(rep.ok)")
        rows.append({"case": "validate(children, 'child_level')", "children": n, **val})
        if n <= 100_000:
            ld = run_case(
                SETUP + f"r = synthetic.region(19, seed=0, children_per_authority={per})\n"
                "d = pathlib.Path(tempfile.mkdtemp())\nr.children.to_csv(d / 'c.csv', index=False)\n",
                "df = load(d / 'c.csv', dictionary='child_level')\n__result__ = len(df)")
            rows.append({"case": "load(CSV, dictionary='child_level')", "children": n, **ld})
    write_results("synthetic_quick" if "--quick" in argv else "synthetic", rows, notes="ehimpact only (no peer library). Seconds exclude imports; "
                  "the machine is shared, so treat times as upper bounds.")


if __name__ == "__main__":
    main(sys.argv[1:])
