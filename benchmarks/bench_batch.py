"""Benchmark: notebook batches on Dask, one Jupyter kernel per notebook vs the warm in-process engine.

Issue 7 asks for the 19-authority demo batch and a 153-authority synthetic England batch on
this 2-core machine with 2 workers, reporting wall time, the per-notebook overhead

    overhead = wall x workers / notebooks - (the same analyses as plain function calls) / notebooks

and how it splits into kernel start, imports, execution and rendering.  Targets: overhead
<= 1.5 s per notebook including HTML rendering, both cores busy, the England batch < 5 min.

Data.  The demo batch is exactly ``ehimpact demo``'s input (``ehimpact.cli.write_demo_inputs``:
a synthetic South East of 19 authorities written as each authority's CIN census XML, SSDA903
files and early-help export, plus the authority panel).  ``synthetic.region`` draws its
authorities from one region (at most 33), so the England batch passes the national list
itself: ``synthetic.region(n_authorities=None, authorities=authorities.table())``, all 153
current upper-tier authorities across the nine regions, written the same way.

What is measured, each batch in a fresh process (``harness.run_case``):

* ``wall_s``: the whole ``run_batch`` call (Dask LocalCluster start with 2 worker processes of
  one thread, every notebook run and rendered, cluster shut down; no regional summary).
* ``baseline_per_nb_s``: ``Evaluation(config, authority=code).results()`` for the authorities
  in one process after importing everything, with one BLAS thread as in a Dask worker (a
  sample of them for England with ``--baseline-every``), divided by their number: the
  analysis itself.  Measured before and after the batches (``baseline_before_s``,
  ``baseline_after_s``) and averaged, since this machine's speed drifts by 10-30% within
  minutes and the overhead is a difference of two such measurements.
* ``figures_s``: in the same process, drawing each report's figures as the report does
  (``ehimpact.report.figures.figure_svg``: SVG, tight box): part of ``execution_s`` and of
  the overhead, since the plain calls only build the figures.
* ``overhead_per_nb_s`` = ``wall_s * workers / n - baseline_per_nb_s`` (drawing the figures
  counted as overhead, the strict reading).
* ``overhead_excl_figures_per_nb_s`` = the same minus ``figures_s``: the notebook machinery
  alone (papermill, engine, display, HTML), if drawing the figures once is counted as part of
  the analysis, as a plain script that saves its figures would.
* split per notebook (means over the run's notebooks, from ``status.json`` and the papermill
  metadata of each ``report.ipynb``): ``kernel_s`` (kernel start-up before the first cell
  plus shutdown after the last), ``papermill_s`` (reading, parameterising, writing the
  notebook), ``imports_s`` (kernel engine: the notebooks' cell time with kernels minus
  the same notebooks' cell time with the in-process engine, i.e. the cold
  imports and first-call costs every kernel pays; in-process engine: the import time of the
  heavy modules measured in a fresh process, paid once per worker, shared out over the
  notebooks), ``execution_s`` (cell time minus imports: the analysis
  plus displaying it, figures drawn as PNG), ``render_s`` (nbconvert HTML) and ``other_s``
  (the rest of the wall share: run bookkeeping, Dask scheduling, cluster start, idle cores).
* ``startup_s``: from the ``run_batch`` call to the first notebook starting (Dask cluster
  start, and the workers' warm imports with the in-process engine); paid once per batch.
* ``busy``: the time workers spent in runs / (wall x workers); 1.0 = both cores always busy.

Usage: ``python benchmarks/bench_batch.py [--quick] [--only demo|england] [--engines kernel,inprocess]``.
``--quick`` runs 4 demo authorities and 9 England authorities (one per region).
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import shutil
import sys
from pathlib import Path

import yaml

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from harness import ROOT, run_case, write_results  # noqa: E402

ENGINES = {"kernel": None, "inprocess": "ehimpact-inprocess"}


def _demo_inputs(folder: Path, n: int, seed: int) -> dict:
    from ehimpact.cli import write_demo_inputs

    return write_demo_inputs(folder, n_authorities=n, seed=seed)


def _england_inputs(folder: Path, n: int, seed: int) -> dict:
    """``write_demo_inputs`` for the national list of authorities (one per region in quick mode)."""
    from ehimpact.cli import write_demo_inputs
    from ehimpact.data import authorities

    table = authorities.table()[["gss_code", "name", "region_code"]]
    if n < len(table):  # spread the sample over the regions
        table = table.groupby("region_code", group_keys=False).head(max(1, -(-n // 9))).head(n)
    return write_demo_inputs(folder, n_authorities=None, authorities=table.reset_index(drop=True), seed=seed)


def prepare(work: Path, name: str, n: int, seed: int) -> tuple[Path, list[str]]:
    """Write the inputs and a batch config; return the config path and the authority codes."""
    from ehimpact.runner.batch import batch_authorities

    folder = work / name
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    data = (_demo_inputs if name == "demo" else _england_inputs)(folder / "inputs", n, seed)
    cfg = yaml.safe_load((ROOT / "ehimpact" / "resources" / "config" / "demo.yaml").read_text())
    cfg["evaluation"]["data"] = data
    cfg["batch"] = {**cfg.get("batch", {}), "name": name, "authorities": "all"}
    cfg["output_dir"] = str(folder / "out")
    path = folder / "config.yaml"
    path.write_text(yaml.safe_dump(cfg, sort_keys=False))
    codes = batch_authorities(path)
    return path, codes


def import_seconds() -> float:
    """Seconds to import the heavy modules (and build the IPython shell) in a fresh process."""
    res = run_case("from ehimpact.runner.engine import warm_imports, HEAVY_MODULES\n",
                   "__result__ = sum(warm_imports(HEAVY_MODULES).values())")
    return float(res.get("seconds", float("nan")))


def baseline(config: Path, codes: list[str]) -> dict:
    """The analyses as plain function calls in one (warm) process."""
    setup = f"""
import warnings; warnings.simplefilter("ignore")
import matplotlib; matplotlib.use("Agg")
import matplotlib.pyplot as plt
from ehimpact.runner.engine import warm_imports
warm_imports()
from ehimpact.report.evaluation import Evaluation
from ehimpact.report.figures import figure_svg
from ehimpact.runner.config import load_config
cfg, base = load_config({str(config)!r})
codes = {codes!r}
Evaluation(cfg.evaluation, authority=codes[0], base_dir=base).results()  # first-call costs outside
plt.close("all")
"""
    timed = """
import time as _t
figures = 0.0
for code in codes:
    ev = Evaluation(cfg.evaluation, authority=code, base_dir=base)
    ev.results()
    t = _t.perf_counter()  # what drawing the figures costs, as the report draws them
    for sec in ev.sections():
        for _, fig in sec.figures:
            figure_svg(fig)
    figures += _t.perf_counter() - t
    plt.close("all")
__result__ = {"n": len(codes), "figures": figures}
"""
    # one BLAS/OpenMP thread, as in each Dask worker (distributed's nanny sets these), so the
    # baseline's core-seconds compare with wall x workers
    one_thread = {k: "1" for k in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")}
    return run_case(setup, timed, timeout=7200, env=one_thread)


def measure_baseline(config: Path, sample: list[str], label: str) -> tuple[float, float]:
    """(analysis seconds, figure-drawing seconds) per authority, from :func:`baseline`."""
    base = baseline(config, sample)
    figs = (base.get("result") or {}).get("figures", float("nan")) / len(sample)
    per_nb = base.get("seconds", float("nan")) / len(sample) - figs
    print(f"{label} {per_nb:.2f} s per authority, figures {figs:.2f} s (sample of {len(sample)}) "
          f"{base.get('error', '')}", flush=True)
    return per_nb, figs


def run_batch_case(config: Path, engine: str | None, workers: int) -> dict:
    timed = f"""
import time
from ehimpact.runner.batch import run_batch
started = time.time()
r = run_batch({str(config)!r}, workers={workers}, engine={engine!r}, regional_summary=False)
__result__ = {{"ok": sum(o.status == "ok" for o in r.outcomes), "failed": r.n_failed,
              "errors": sorted({{o.error[:120] for o in r.outcomes if o.status == "failed"}})[:3],
              "folders": [o.folder for o in r.outcomes if o.status == "ok"],
              "seconds": [o.seconds for o in r.outcomes], "started": started}}
"""
    return run_case("", timed, timeout=7200)


def _seconds(a: str, b: str) -> float:
    import datetime as dt

    return (dt.datetime.fromisoformat(b) - dt.datetime.fromisoformat(a)).total_seconds()


def split(folders: list[str], started: float | None = None) -> dict[str, float]:
    """Mean per-notebook timings from status.json and the executed notebooks' papermill metadata.

    ``startup`` is the time from the ``run_batch`` call (``started``, epoch seconds) to the first
    notebook starting: Dask cluster start, plus the workers' warm imports with the in-process engine.
    """
    import datetime as dt

    import nbformat
    import numpy as np

    rows = []
    first_start = None
    for f in folders:
        status = json.loads((Path(f) / "status.json").read_text())
        nb = nbformat.read(Path(f) / "report.ipynb", as_version=4)
        meta = nb.metadata.papermill
        cells = [c.metadata.papermill for c in nb.cells if c.metadata.get("papermill", {}).get("start_time")]
        first, last = cells[0], cells[-1]
        begun = dt.datetime.fromisoformat(meta["start_time"]).timestamp()
        first_start = begun if first_start is None else min(first_start, begun)
        kernel = _seconds(meta["start_time"], first["start_time"]) + _seconds(last["end_time"], meta["end_time"])
        rows.append({"execute": status["timings"].get("execute", np.nan),
                     "render": status["timings"].get("render", np.nan),
                     "run": status["seconds"],
                     "nb": meta["duration"],
                     "kernel": kernel,
                     "cells": sum(c.get("duration") or 0.0 for c in cells)})
    out = {k: float(np.mean([r[k] for r in rows])) for k in rows[0]} if rows else {}
    if rows and started is not None:
        out["startup"] = first_start - started
    return out


def main(argv: list[str]) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true")
    p.add_argument("--only", choices=["demo", "england"])
    p.add_argument("--engines", default="kernel,inprocess")
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--baseline-every", type=int, default=None,
                   help="England baseline on every k-th authority (default 1 in quick mode, 8 otherwise)")
    p.add_argument("--work", default="/tmp/ehimpact-bench-batch")
    p.add_argument("--seed", type=int, default=1)
    args = p.parse_args(argv)
    os.environ.setdefault("EHIMPACT_SALT", secrets.token_hex(16))  # the statutory readers' salt
    os.environ.setdefault("MPLBACKEND", "Agg")
    work = Path(args.work)
    sizes = {"demo": 4 if args.quick else 19, "england": 9 if args.quick else 153}
    names = [args.only] if args.only else ["demo", "england"]
    engines = [e.strip() for e in args.engines.split(",") if e.strip()]
    load0 = os.getloadavg()
    imports = import_seconds()
    print(f"heavy-module imports in a fresh process: {imports:.2f} s", flush=True)
    rows: list[dict] = []
    for name in names:
        config, codes = prepare(work, name, sizes[name], args.seed)
        n = len(codes)
        every = args.baseline_every or (1 if args.quick or name == "demo" else 8)
        sample = codes[::every]
        # the machine's speed drifts by 10-30% over minutes: measure the baseline before and
        # after the batches and use the mean, so the difference compares like with like
        before = measure_baseline(config, sample, f"{name}: {n} authorities; baseline before")
        runs = {}
        for label in engines:
            out = Path(yaml.safe_load(config.read_text())["output_dir"])
            shutil.rmtree(out, ignore_errors=True)
            res = run_batch_case(config, ENGINES[label], args.workers)
            info = res.get("result") or {}
            runs[label] = (res, info, split(info.get("folders", []), info.get("started")))
        after = measure_baseline(config, sample, f"{name}: baseline after")
        base_per_nb = (before[0] + after[0]) / 2
        figures_per_nb = (before[1] + after[1]) / 2
        warm_cells = runs["inprocess"][2].get("cells") if "inprocess" in runs else None
        for label, (res, info, parts) in runs.items():
            wall = res.get("seconds", float("nan"))
            share = wall * args.workers / n
            cells = parts.get("cells", float("nan"))
            if label == "kernel":
                # a kernel pays the imports inside its cells: the same cells run warm cost warm_cells
                imp = cells - warm_cells if warm_cells is not None else imports
            else:
                imp = imports * args.workers / n  # once per worker, before the first notebook
            row = {
                "batch": name, "engine": label, "notebooks": n, "ok": info.get("ok"), "failed": info.get("failed"),
                "workers": args.workers, "wall_s": wall, "wall_x_workers_per_nb_s": share,
                "baseline_per_nb_s": base_per_nb, "baseline_before_s": before[0], "baseline_after_s": after[0],
                "overhead_per_nb_s": share - base_per_nb,
                "kernel_s": parts.get("kernel"), "papermill_s": parts.get("execute", 0) - parts.get("nb", 0),
                "imports_s": imp, "execution_s": cells - (imp if label == "kernel" else 0.0),
                "overhead_excl_figures_per_nb_s": share - base_per_nb - figures_per_nb,
                "figures_s": figures_per_nb,
                "render_s": parts.get("render"),
                "startup_s": parts.get("startup"),
                "other_s": share - parts.get("execute", float("nan")) - parts.get("render", float("nan"))
                - (0.0 if label == "kernel" else imp),
                "busy": sum(info.get("seconds", [])) / (wall * args.workers) if wall == wall else None,
                "peak_mb_driver": res.get("peak_mb"),
            }
            if "error" in res or info.get("errors"):
                row["error"] = res.get("error") or "; ".join(info["errors"])
            rows.append(row)
            print(json.dumps({k: (round(v, 3) if isinstance(v, float) else v) for k, v in row.items()}), flush=True)
    load = os.getloadavg()
    notes = (f"{'QUICK run (4 demo, 9 England authorities). ' if args.quick else ''}"
             f"{args.workers} Dask workers (processes, 1 thread each) on a {os.cpu_count()}-core machine that "
             f"may be shared with other jobs (load average at the start {load0[0]:.1f}, {load0[1]:.1f}, "
             f"{load0[2]:.1f}; at the end {load[0]:.1f}, {load[1]:.1f}, {load[2]:.1f}); this machine's speed also "
             "varies by about 10-15% from run to run. Heavy-module import time in a fresh process: "
             f"{imports:.2f} s. Per-notebook columns are means; overhead = wall x workers / notebooks - baseline "
             "(the same Evaluation(...).results() calls in one warm process, measured before and after the batch "
             "and averaged"
             f"{', England on every ' + str(args.baseline_every or 8) + 'th authority' if 'england' in names and not args.quick else ''}). "
             "kernel_s = kernel start before the first cell + shutdown after the last; imports_s (kernel) = the "
             "notebooks' cell time with kernels minus with the warm engine; execution_s = cell time minus "
             "imports (analysis plus drawing the figures); figures_s = drawing one report's figures as the report does "
             "(SVG), in the baseline process; overhead_excl_figures = overhead - figures_s; other_s = the rest of the wall share "
             "(run bookkeeping, Dask, cluster start, idle cores; in-process imports excluded); startup_s = from the "
             "run_batch call to the first notebook starting (cluster start, warm imports); busy = run time / (wall x workers).")
    write_results("batch_quick" if args.quick else "batch", rows, notes=notes)
    return 0 if all(not r.get("error") for r in rows) else 1


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
