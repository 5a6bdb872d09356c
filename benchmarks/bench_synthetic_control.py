"""Synthetic control / synthetic DiD: ehimpact vs synthdid-py and pysyncon, estimate and full placebo run.

Same panel for everyone, built from one seed inside each fresh process: ``N`` donors plus one
treated unit, ``T`` months (the last 24 after the change), unit and month effects, two latent
factors, AR(1) errors, an effect of -2.  Sizes: 150 donors x 120 months and 1,000 donors x 240
months.  Per library:

- **estimate**: the point estimate with its weights, no inference;
- **placebo run**: every donor treated in turn with the other donors as its pool, the run behind
  both the placebo SE (Arkhangelsky et al. Algorithm 4) and the placebo-in-space p-value.
  synthdid-py: ``tau.se(method="placebo", replications=N)`` (N draws, as many refits as donors);
  pysyncon: ``PlaceboTest().fit(..., max_workers=2)`` (its own process pool over both cores).

Settings that make the problems comparable: synthdid-py with its defaults (Frank-Wolfe with the
sparsify step); ehimpact with its default exact QP solver; pysyncon's ``Synth`` on the pre-period
outcomes as predictors with equal ``custom_V`` (no outer V search, which would multiply its time by
the Nelder-Mead iterations) and its SLSQP inner solver.  pysyncon scales each predictor by its
standard deviation across units before solving, so its SC weights solve a slightly different problem.

Usage: ``python benchmarks/bench_synthetic_control.py [--quick] [--only CASE ...] [--timeout S]``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from harness import peer_python, run_case, write_results  # noqa: E402

SETUP = """
import numpy as np, pandas as pd
N, T = {n} + 1, {t}
T0 = T - 24
rng = np.random.default_rng(2026)
F = np.cumsum(rng.normal(0, 0.4, (T, 2)), axis=0)
L = rng.normal(1.0, 0.5, (N, 2))
e = np.zeros((N, T))
for k in range(1, T):
    e[:, k] = 0.5 * e[:, k - 1] + rng.normal(0, 1, N)
Y = 40 + rng.normal(0, 5, N)[:, None] + 0.02 * np.arange(T)[None, :] + L @ F.T + e
Y[0, T0:] -= 2.0
df = pd.DataFrame({{"u": np.repeat(np.arange(N), T), "t": np.tile(np.arange(T), N), "y": Y.ravel()}})
df["d"] = ((df["u"] == 0) & (df["t"] >= T0)).astype(int)
del e
"""

_EH = "import ehimpact as eh\nimport ehimpact.estimators.synthetic_control\nimport scipy.linalg\n"
CASES = {
    "ehimpact sdid estimate": (_EH, """
r = eh.synthetic_control(df, outcome="y", unit="u", time="t", treated=0, start=T0, method="sdid", inference="none")
__result__ = [r.estimate, None]
"""),
    "ehimpact sdid placebo run": (_EH, """
r = eh.synthetic_control(df, outcome="y", unit="u", time="t", treated=0, start=T0, method="sdid")
__result__ = [r.estimate, r.se]
"""),
    "ehimpact sc estimate": (_EH, """
r = eh.synthetic_control(df, outcome="y", unit="u", time="t", treated=0, start=T0, method="sc", inference="none")
__result__ = [r.estimate, None]
"""),
    "ehimpact sc placebo run": (_EH, """
r = eh.synthetic_control(df, outcome="y", unit="u", time="t", treated=0, start=T0, method="sc")
__result__ = [r.estimate, r.se]
"""),
}

_SDID_SETUP = """
from synthdid import panel_matrices, synthdid_estimate, sc_estimate
p = panel_matrices(df, unit="u", time="t", outcome="y", treatment="d")
"""
_PYSYNCON_SETUP = """
from pysyncon import Dataprep, Synth
from pysyncon.utils import PlaceboTest
pre = list(range(T0))
dp = Dataprep(foo=df, predictors=[], predictors_op="mean", dependent="y", unit_variable="u", time_variable="t",
              treatment_identifier=0, controls_identifier=list(range(1, N)), time_predictors_prior=pre,
              time_optimize_ssr=pre, special_predictors=[("y", [k], "mean") for k in pre])
V = np.full(T0, 1.0 / T0)
def att(s):
    gaps = s.dataprep.foo.pivot(index="t", columns="u", values="y")
    w = pd.Series(s.W, index=list(range(1, N)))
    return float((gaps[0] - gaps[w.index] @ w).iloc[T0:].mean())
"""
_SYNTHDID_PKGS = ["synthdid-py==0.1.0", "pandas"]
_PYSYNCON_PKGS = ["pysyncon==1.7.0", "pandas"]
PEERS = {
    "synthdid-py sdid estimate": ("synthdid", _SYNTHDID_PKGS, _SDID_SETUP, """
tau = synthdid_estimate(p.Y, p.N0, p.T0)
__result__ = [float(tau), None]
"""),
    "synthdid-py sdid placebo run": ("synthdid", _SYNTHDID_PKGS, _SDID_SETUP, """
tau = synthdid_estimate(p.Y, p.N0, p.T0)
__result__ = [float(tau), float(tau.se(method="placebo", replications=p.N0, random_state=1))]
"""),
    "synthdid-py sc estimate": ("synthdid", _SYNTHDID_PKGS, _SDID_SETUP, """
tau = sc_estimate(p.Y, p.N0, p.T0)
__result__ = [float(tau), None]
"""),
    "synthdid-py sc placebo run": ("synthdid", _SYNTHDID_PKGS, _SDID_SETUP, """
tau = sc_estimate(p.Y, p.N0, p.T0)
__result__ = [float(tau), float(tau.se(method="placebo", replications=p.N0, random_state=1))]
"""),
    "pysyncon sc estimate": ("pysyncon", _PYSYNCON_PKGS, _PYSYNCON_SETUP, """
s = Synth()
s.fit(dataprep=dp, custom_V=V)
__result__ = [att(s), None]
"""),
    "pysyncon sc placebo run": ("pysyncon", _PYSYNCON_PKGS, _PYSYNCON_SETUP, """
s = Synth()
s.fit(dataprep=dp, custom_V=V)
pl = PlaceboTest()
pl.fit(dataprep=dp, scm=s, scm_options={"custom_V": V}, max_workers=2, verbose=False)
__result__ = [att(s), None]
"""),
}

_CPU = """
import resource as _r
_c0 = _r.getrusage(_r.RUSAGE_SELF).ru_utime + _r.getrusage(_r.RUSAGE_SELF).ru_stime
{body}
_u = _r.getrusage(_r.RUSAGE_SELF)
_k = _r.getrusage(_r.RUSAGE_CHILDREN)
__result__ = list(__result__) + [_u.ru_utime + _u.ru_stime - _c0 + _k.ru_utime + _k.ru_stime]
"""


def _row(name: str, n: int, t: int, res: dict) -> dict:
    row: dict = {"library": name, "donors": n, "months": t}
    if "error" in res:
        row["error"] = res["error"]
        return row
    est, se, cpu = res["result"]
    row.update({"seconds": res["seconds"], "cpu_seconds": cpu, "peak_mb": res["peak_mb"], "estimate": est,
                "se": "" if se is None else se})
    return row


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--only", nargs="*")
    ap.add_argument("--timeout", type=float, default=600)
    ap.add_argument("--sizes", nargs="*", help="DONORSxMONTHS, e.g. 150x120")
    args = ap.parse_args(argv)
    sizes = ([tuple(int(v) for v in s.split("x")) for s in args.sizes] if args.sizes
             else [(40, 60)] if args.quick else [(150, 120), (1000, 240)])
    rows = []
    for n, t in sizes:
        setup = SETUP.format(n=n, t=t)
        for name, (imports, timed) in CASES.items():
            if args.only and not any(o in name for o in args.only):
                continue
            res = run_case(setup + imports, _CPU.format(body=timed.strip()), timeout=args.timeout)
            rows.append(_row(name, n, t, res))
            print(rows[-1], flush=True)
        for name, (venv, packages, imports, timed) in PEERS.items():
            if args.only and not any(o in name for o in args.only):
                continue
            try:
                py = peer_python(venv, packages)
            except Exception as exc:  # noqa: BLE001 - report, do not abort the run
                rows.append({"library": name, "donors": n, "months": t, "error": f"venv: {exc}"})
                continue
            res = run_case(setup + imports, _CPU.format(body=timed.strip()), python=py, timeout=args.timeout,
                           env={"PYTHONPATH": ""})
            rows.append(_row(name, n, t, res))
            print(rows[-1], flush=True)
        _write(args, rows)  # after each size, so a long run keeps what it has measured
    return 0


def _write(args: argparse.Namespace, rows: list[dict]) -> None:
    write_results("synthetic_control_quick" if args.quick else "synthetic_control", rows, notes=(
        "One treated unit plus N donors, T months (last 24 treated), unit/month effects, two factors, AR(1) "
        "errors, effect -2. 'estimate': weights and point estimate, no inference. 'placebo run': every donor "
        "treated in turn (synthdid-py: placebo SE with as many draws as donors; pysyncon: PlaceboTest on 2 "
        "processes, its cpu_seconds include the children). ehimpact: exact QP weights; synthdid-py: its "
        "Frank-Wolfe defaults; pysyncon: SLSQP with equal custom_V on the pre-period outcomes (predictors "
        "scaled by their SD, so its estimate differs). Fresh process per case; time excludes data generation, "
        f"imports and pysyncon's first Dataprep; peak_mb is the process's maximum resident memory. Per-case "
        f"timeout {args.timeout:.0f} s. Shared 2-core machine: other engineers' jobs ran at the same time, so "
        "wall times are noisy; cpu_seconds is the steadier comparison."))


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
