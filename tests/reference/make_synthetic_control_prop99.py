"""Refresh the ``synthdid_py`` section of tests/reference/synthetic_control_prop99.yaml.

Runs in the synthdid-py peer environment (benchmarks/harness.py:peer_python("synthdid",
["synthdid-py==0.1.0", "pandas"]), plus pyyaml)::

    .venv-bench-synthdid/bin/pip install pyyaml
    .venv-bench-synthdid/bin/python tests/reference/make_synthetic_control_prop99.py

It reads the vendored panel (tests/fixtures/external/california_prop99.csv, byte-identical to
the one inside the wheel), runs synthdid-py's three estimators and writes their point
estimates, unit weights, time weights, placebo standard errors (200 draws, as synthdid's
default, for five seeds) and the placebo estimate with each donor as the pseudo-treated unit.  Every other key of the yaml (published values, tolerances, the
simulation figures) is kept as it is.  ``--per-donor`` recomputes everything but the 200-draw
SEs (about 3,000 Frank-Wolfe refits, the slow part), which it keeps from the yaml.  ``--ehimpact`` (run with ``.venv/bin/python``) instead
refreshes the ``ehimpact`` section: this package's estimates with both solvers, placebo SEs, and
the objective values that show where Frank-Wolfe stops short of the optimum.
"""

from __future__ import annotations

import importlib.metadata
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

HERE = Path(__file__).resolve().parent
CSV = HERE.parent / "fixtures" / "external" / "california_prop99.csv"
OUT = HERE / "synthetic_control_prop99.yaml"
SEEDS = (1, 2, 3, 4, 5)


def ehimpact_section() -> dict:
    """ehimpact's own figures on the same data (both solvers), to compare and to guard against drift."""
    from ehimpact.estimators import synthetic_control as scm

    df = pd.read_csv(CSV, sep=";")
    kw = {"outcome": "PacksPerCapita", "unit": "State", "time": "Year", "treated": "treated"}
    out: dict = {"produced_by": ".venv/bin/python tests/reference/make_synthetic_control_prop99.py --ehimpact",
                 "frank_wolfe": {}, "qp": {}, "solver_difference": {}}
    Yd, y1, donors, _, periods, T0, _ = scm._build_panel(df, kw["outcome"], kw["unit"], kw["time"], kw["treated"],
                                                     None, None, [], 5)
    for m in ("sdid", "sc", "did"):
        res = {s: scm.synthetic_control(df, **kw, method=m, solver=s) for s in ("frank-wolfe", "qp")}
        for s, key in (("frank-wolfe", "frank_wolfe"), ("qp", "qp")):
            r = res[s]
            out[key][m] = {"estimate": r.estimate, "estimate_one_decimal": round(r.estimate, 1),
                           "placebo_se_all_donors": r.se, "placebo_pvalue": r.pvalue, "rank": r.rank,
                           "rmspe_pre": r.rmspe_pre, "rmspe_ratio": r.rmspe_ratio}
        if m == "did":
            continue
        d = r.diagnostics
        intercept = m == "sdid"

        def objective(w: np.ndarray, intercept: bool = intercept, d: dict = d) -> float:
            A, b = Yd[:, :T0].T, y1[:T0]
            if intercept:
                A, b = A - A.mean(axis=0), b - b.mean()
            e = A @ w - b
            return float(e @ e / T0 + d["zeta_omega"] ** 2 * w @ w)

        wf = res["frank-wolfe"].weights.set_index("donor")["weight"].reindex(donors)  # the columns' order
        wq = res["qp"].weights.set_index("donor")["weight"].reindex(donors)
        out["solver_difference"][m] = {
            "estimate_frank_wolfe": res["frank-wolfe"].estimate, "estimate_qp": res["qp"].estimate,
            "omega_objective_frank_wolfe": objective(wf.to_numpy()),
            "omega_objective_qp": objective(wq.to_numpy()),
            "max_abs_weight_difference": float((wf - wq).abs().max()),
            "support_frank_wolfe": int((wf > 0).sum()), "support_qp": int((wq > 0).sum()),
        }
    return out


def main() -> None:
    if "--ehimpact" in sys.argv:
        ref = yaml.safe_load(OUT.read_text())
        ref["ehimpact"] = ehimpact_section()
        OUT.write_text(yaml.safe_dump(ref, sort_keys=False, width=110))
        print(f"wrote the ehimpact section of {OUT}")
        return
    from synthdid import did_estimate, panel_matrices, sc_estimate, synthdid_estimate
    from synthdid.estimate import refit
    from synthdid.vcov import _weights_for_subset

    df = pd.read_csv(CSV, sep=";")
    panel = panel_matrices(df, unit="State", time="Year", outcome="PacksPerCapita", treatment="treated")
    units = [str(u) for u in panel.units][: panel.N0]
    times = [int(t) for t in panel.time][: panel.T0]
    per_donor_only = "--per-donor" in sys.argv  # keep the (slow) 200-draw SEs already in the yaml
    section: dict = {
        "version": importlib.metadata.version("synthdid-py"),
        "command": "synthdid.{synthdid,sc,did}_estimate(Y, N0, T0) on panel_matrices(df); "
                   "tau.se(method='placebo', replications=200, random_state=seed)",
        "produced_by": ".venv-bench-synthdid/bin/python tests/reference/make_synthetic_control_prop99.py"
                       + (" --per-donor (placebo_se_200_draws kept from the full run without the flag)"
                          if per_donor_only else ""),
        "estimators": {},
    }
    old = yaml.safe_load(OUT.read_text()).get("synthdid_py", {}) if OUT.exists() else {}
    for name, fn in (("sdid", synthdid_estimate), ("sc", sc_estimate), ("did", did_estimate)):
        tau = fn(panel.Y, panel.N0, panel.T0)
        if per_donor_only:
            ses = list(old["estimators"][name]["placebo_se_200_draws"].values())
        else:
            ses = [float(tau.se(method="placebo", replications=200, random_state=s)) for s in SEEDS]
        # Algorithm 4's draw with donor j as the pseudo-treated unit, for each j (what the draws sample from)
        placebo = {}
        for j in range(panel.N0):
            ind = np.array([*[i for i in range(panel.N0) if i != j], j])
            placebo[units[j]] = float(refit(tau, Y=tau.setup.Y[ind], N0=panel.N0 - 1, T0=panel.T0,
                                            X=tau.setup.X[ind],
                                            weights=_weights_for_subset(tau.weights, ind[:-1])))
        section["estimators"][name] = {
            "estimate": float(tau),
            "omega": {u: float(w) for u, w in zip(units, np.asarray(tau.weights.omega), strict=False)},
            "lambda": {t: float(w) for t, w in zip(times, np.asarray(tau.weights.lambda_), strict=False)},
            "placebo_se_200_draws": dict(zip([f"seed {s}" for s in SEEDS], ses, strict=False)),
            "placebo_estimates": placebo,
        }
    ref = yaml.safe_load(OUT.read_text()) if OUT.exists() else {}
    ref["synthdid_py"] = section
    OUT.write_text(yaml.safe_dump(ref, sort_keys=False, width=110))
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()
