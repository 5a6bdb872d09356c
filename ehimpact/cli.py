"""The ``ehimpact`` command.

::

    ehimpact demo [--authorities N] [--out DIR]      synthetic region, full batch, regional summary
    ehimpact run CONFIG.yaml [--authority CODE]      one evaluation, one authority
    ehimpact batch CONFIG.yaml [--workers N] [--scheduler ADDRESS] [--resume]
    ehimpact check CONFIG.yaml [--authority CODE]    read every input, derive outcomes, print the read summary
    ehimpact plan CONFIG.yaml [--authority CODE]     minimum detectable effects before evaluating
    ehimpact notebook --out FILE.ipynb               a copy of the ten-step template to adapt
    ehimpact validate DATA [--dictionary NAME] [--mapping FILE]
                                                     check a data file (table, CIN XML, SSDA903 folder,
                                                     Annex A workbook, or a local export with its mapping)
    ehimpact synth --out DIR [...]                   write synthetic input files

A user's mistake ends with one line on stderr (``error: ...``) and exit code 2; a batch
with failed authorities exits 1; success exits 0.  No tracebacks for user errors.
"""

from __future__ import annotations

import argparse
import os
import secrets
import sys
from importlib import resources
from pathlib import Path

import yaml

from ehimpact.errors import InputError

__all__ = ["main"]


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="ehimpact", description="Evaluate early help services: impact, costs, reports.")
    p.add_argument("--version", action="store_true", help="print the version and exit")
    sub = p.add_subparsers(dest="command")

    d = sub.add_parser("demo", help="run the full batch on a built-in synthetic region")
    d.add_argument("--authorities", type=int, default=19, help="number of synthetic authorities (default 19)")
    d.add_argument("--out", default="outputs", help="output folder (default: outputs)")
    d.add_argument("--workers", type=int, default=None, help="parallel workers (default: one per core)")
    d.add_argument("--seed", type=int, default=1, help="seed of the synthetic region")

    r = sub.add_parser("run", help="run one evaluation for one authority")
    r.add_argument("config", help="evaluation config (YAML)")
    r.add_argument("--authority", help="GSS code (default: the config's evaluation.authority)")
    r.add_argument("--out", help="output folder (default: the config's output_dir)")
    r.add_argument("--pdf", action="store_true", help="also render a PDF (needs a local Chromium)")

    b = sub.add_parser("batch", help="run an evaluation for every authority of a batch config")
    b.add_argument("config", help="config with evaluation: and batch: sections")
    b.add_argument("--workers", type=int, help="local worker processes (default: one per core)")
    b.add_argument("--scheduler", help="address of an existing Dask scheduler, e.g. tcp://host:8786")
    b.add_argument("--resume", action="store_true", help="skip runs whose inputs are unchanged since they succeeded")
    b.add_argument("--out", help="output folder (default: the config's output_dir)")
    b.add_argument("--pdf", action="store_true", help="also render PDFs (needs a local Chromium)")
    b.add_argument("--authority", action="append", help="restrict to this authority (repeatable)")

    c = sub.add_parser("check", help="read every input of a config, derive the outcomes, print the read summary")
    c.add_argument("config", help="evaluation config (YAML)")
    c.add_argument("--authority", help="GSS code or DfE LA number (default: the config's evaluation.authority)")
    c.add_argument("--out", help="folder for read_report.csv (default: the config's output_dir)")

    pl = sub.add_parser("plan", help="minimum detectable effects per outcome and design, before evaluating")
    pl.add_argument("config", help="evaluation config (YAML)")
    pl.add_argument("--authority", help="GSS code or DfE LA number (default: the config's evaluation.authority)")

    nb = sub.add_parser("notebook", help="write a copy of the ten-step evaluation notebook to adapt")
    nb.add_argument("--out", required=True, help="where to write the notebook (.ipynb)")
    nb.add_argument("--regional", action="store_true", help="the regional summary notebook instead")
    nb.add_argument("--force", action="store_true", help="overwrite an existing file")

    v = sub.add_parser("validate", help="check a data file against the data dictionary")
    v.add_argument("data", help="CSV, Parquet or Excel table; CIN census XML; SSDA903 folder; Annex A workbook; "
                                "or a local early-help export (with --mapping)")
    v.add_argument("--dictionary", help="child_level, authority_panel or core_dataset (tables)")
    v.add_argument("--mapping", help="column-mapping YAML of a local early-help export")

    s = sub.add_parser("synth", help="write synthetic input files")
    s.add_argument("--out", required=True, help="folder to write to")
    s.add_argument("--authorities", type=int, default=19)
    s.add_argument("--seed", type=int, default=0)
    s.add_argument("--formats", choices=["tables", "statutory", "both"], default="tables",
                   help="tables (CSV/Parquet), statutory returns (CIN XML, SSDA903, local export), or both")
    return p


def _cmd_run(args: argparse.Namespace) -> int:
    from ehimpact.config import load_config
    from ehimpact.runner.run import check_authority, run_one

    cfg, _ = load_config(args.config)
    code = check_authority(args.config, args.authority)
    out = Path(args.out) if args.out else Path(cfg.output_dir)
    outcome = run_one(args.config, code, out, run_name=cfg.batch.name if cfg.batch else "run", pdf=args.pdf,
                      engine="ehimpact-inprocess")
    if outcome.status == "failed":
        full = outcome.message or outcome.error
        user_error = full.startswith("InputError:")
        message = full.removeprefix("InputError:").strip() if user_error else full
        print(f"error: run failed for {code}: {message}", file=sys.stderr)  # the whole message, every line
        if Path(outcome.folder).exists():
            print(f"details: {outcome.folder}", file=sys.stderr)
        return 2 if user_error else 1
    print(f"report: {Path(outcome.folder) / 'report.html'}")
    return 0


def _report_batch(result) -> int:  # noqa: ANN001
    for o in result.outcomes:
        if o.status == "failed":
            print(f"failed: {o.authority}: {o.error}", file=sys.stderr)
    if getattr(result, "regional_error", ""):
        print(f"regional summary: {result.regional_error}", file=sys.stderr)
    ok = sum(o.status == "ok" for o in result.outcomes)
    skipped = sum(o.status == "skipped" for o in result.outcomes)
    print(f"{ok} run, {skipped} unchanged, {result.n_failed} failed")
    print(f"index: {result.index.resolve()}")
    return result.exit_code


def _cmd_batch(args: argparse.Namespace) -> int:
    from ehimpact.runner.batch import run_batch

    result = run_batch(args.config, out_dir=args.out, workers=args.workers, scheduler=args.scheduler,
                       resume=args.resume, pdf=args.pdf or None, authorities=args.authority)
    return _report_batch(result)


def _cmd_demo(args: argparse.Namespace) -> int:
    from ehimpact.runner.batch import run_batch
    from ehimpact.runner.paths import check_writable

    out = check_writable(Path(args.out).resolve(), field="--out")
    src = Path(str(resources.files("ehimpact") / "resources" / "config" / "demo.yaml"))
    cfg = yaml.safe_load(src.read_text())
    cfg["evaluation"]["data"] = write_demo_inputs(out / "inputs", n_authorities=args.authorities, seed=args.seed)
    cfg["output_dir"] = str(out)
    os.environ.setdefault("EHIMPACT_SALT", secrets.token_hex(16))  # demo only: a fresh secret each run
    config_path = out / "demo_config.yaml"
    config_path.write_text(yaml.safe_dump(cfg, sort_keys=False))
    print(f"ehimpact demo: synthetic region of {args.authorities} authorities -> {out}", flush=True)
    os.environ.setdefault("EHIMPACT_PROGRESS", "1")
    result = run_batch(config_path, out_dir=out, workers=args.workers)
    return _report_batch(result)


def write_demo_inputs(folder: Path, *, n_authorities: int | None, seed: int, authorities=None) -> dict:  # noqa: ANN001
    """Write a synthetic region as the files an authority really has, and return the config's ``data:``.

    The authority panel and the ground truth are written as tables; the child-level data as each
    authority's CIN census XML, SSDA903 CSVs and early-help export with its column mapping, so the
    demo runs through the same readers, outcome derivation and pseudonymisation as real data.
    ``authorities`` (a table of ``gss_code, name, region_code``) replaces the default single region,
    e.g. for a national batch.
    """
    from ehimpact.data import synthetic
    from ehimpact.data.statutory_writer import write_statutory

    extra = {"authorities": authorities} if authorities is not None else {}
    region = synthetic.region(n_authorities=n_authorities, seed=seed, **extra)
    written = region.write(folder)
    files = write_statutory(region, folder / "statutory")
    first_code, first = next(iter(files.items()))
    base = folder.parent

    def template(path: Path) -> str:
        return str(path.relative_to(base)).replace(first_code, "{authority}")

    return {
        "authority_panel": str(written["panel"].relative_to(base)),
        "truth": str(written["truth"].relative_to(base)),
        "statutory": {"local_export": template(first.local_export), "mapping": template(first.mapping),
                      "cin_xml": template(first.cin_xml), "ssda903_dir": template(first.ssda903_dir)},
    }


def _cmd_validate(args: argparse.Namespace) -> int:
    from ehimpact.data.file_check import validate_file

    report = validate_file(args.data, args.dictionary, mapping=args.mapping)
    print(report.to_text() if hasattr(report, "to_text") else str(report))
    return 0 if report.ok else 1


def _cmd_check(args: argparse.Namespace) -> int:
    from ehimpact.runner.check import check

    result = check(args.config, args.authority, out_dir=args.out)
    print(result.text if hasattr(result, "text") else str(result))
    if getattr(result, "read_report", None) is not None:
        print(f"read report: {Path(result.read_report).name} in {Path(result.read_report).parent.name}/")
    return 0 if getattr(result, "ok", True) else 1


def _cmd_plan(args: argparse.Namespace) -> int:
    from ehimpact.config import load_config
    from ehimpact.report.evaluation import Evaluation
    from ehimpact.report.planning import plan_text
    from ehimpact.runner.run import check_authority

    code = check_authority(args.config, args.authority)
    cfg, base = load_config(args.config, authority=code)
    print(plan_text(Evaluation(cfg.evaluation, authority=code, base_dir=base)))
    return 0


def _cmd_notebook(args: argparse.Namespace) -> int:
    import shutil

    name = "regional_summary.ipynb" if args.regional else "ten_step_evaluation.ipynb"
    src = Path(str(resources.files("ehimpact") / "resources" / "notebooks" / name))
    out = Path(args.out)
    if out.suffix != ".ipynb":
        raise InputError(f"{out.name} does not end in .ipynb", field="--out", fix="name the file e.g. my_evaluation.ipynb")
    if out.exists() and not args.force:
        raise InputError(f"{out.name} already exists", field="--out", fix="choose another name or pass --force")
    out.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(src, out)
    print(f"notebook: {out}")
    print("edit its Markdown cells freely; keep the cell tagged 'parameters'. Run it with "
          "`evaluation: {notebook: " + out.name + "}` in the config, or with papermill directly "
          "(`papermill --help-notebook " + out.name + "` lists its parameters).")
    return 0


def _cmd_synth(args: argparse.Namespace) -> int:
    from ehimpact.data import synthetic

    out = Path(args.out)
    region = synthetic.region(n_authorities=args.authorities, seed=args.seed)
    written = []
    if args.formats in ("tables", "both"):
        written += list(region.write(out) or [])
    if args.formats in ("statutory", "both"):
        from ehimpact.data.statutory_writer import write_statutory

        written += list(write_statutory(region, out / "statutory") or [])
    print(f"synthetic region (seed {args.seed}, {args.authorities} authorities) written to {out}")
    return 0


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``ehimpact`` command."""
    args = _parser().parse_args(argv)
    if args.version:
        from ehimpact import __version__

        print(__version__)
        return 0
    handlers = {"demo": _cmd_demo, "run": _cmd_run, "batch": _cmd_batch, "validate": _cmd_validate,
                "synth": _cmd_synth, "check": _cmd_check, "plan": _cmd_plan, "notebook": _cmd_notebook}
    if args.command not in handlers:
        _parser().print_help()
        return 2
    try:
        return handlers[args.command](args)
    except InputError as exc:
        print(f"error: {exc}", file=sys.stderr)  # the whole message, every line of it
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # pragma: no cover
        return 0


if __name__ == "__main__":
    sys.exit(main())

