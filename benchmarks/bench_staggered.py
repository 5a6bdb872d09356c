"""Callaway-Sant'Anna ATT(g,t): ehimpact vs csdid, differences, moderndid and a NumPy lower bound.

Same balanced panel for everyone: 10 periods, cohorts first treated in periods 4, 6, 8 plus
never treated, no covariates, never-treated comparisons, outcome regression, analytic SEs
(no bootstrap), built from one seed inside each fresh process.  Reported beside each time:
ATT(4,4) and its SE, which must agree across libraries.  The NumPy lower bound does the
least work any such estimator must do: factorise units, scatter the outcome into a unit x
period matrix, and compute every 2x2 mean difference with its influence-function SE.

Usage: ``python benchmarks/bench_staggered.py [--quick] [--sizes N ...] [--only CASE ...]``.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from harness import peer_python, run_case, write_results  # noqa: E402

SETUP = """
import numpy as np, pandas as pd
N = {n}
rng = np.random.default_rng(2024)
T = 10
g = np.array([0, 4, 6, 8])[rng.integers(0, 4, N)]
t = np.arange(1, T + 1)
eff = np.where((g[:, None] > 0) & (t[None, :] >= g[:, None]), 0.1 * (t[None, :] - g[:, None] + 1), 0.0)
y = rng.normal(size=N)[:, None] + 0.05 * t[None, :] + eff + rng.normal(size=(N, T))
df = pd.DataFrame({{"id": np.repeat(np.arange(N), T), "t": np.tile(t, N), "g": np.repeat(g, T),
                    "y": y.ravel()}})
del y, eff
"""

_LOWER_BOUND = """
codes, uniq = pd.factorize(df["id"].to_numpy())
n = len(uniq)
tv = df["t"].to_numpy()
times = np.unique(tv)
tc = np.searchsorted(times, tv)
Y = np.empty((n, len(times)))
Y[codes, tc] = df["y"].to_numpy()
G = np.empty(n)
G[codes] = df["g"].to_numpy()
ctrl = G == 0
out = {}
for gv in np.unique(G[G > 0]):
    gi = np.searchsorted(times, gv)
    tr = G == gv
    for ti in range(1, len(times)):
        b = gi - 1 if ti >= gi else ti - 1
        dy = Y[:, ti] - Y[:, b]
        a, c = dy[tr], dy[ctrl]
        att = a.mean() - c.mean()
        se = np.sqrt(((a - a.mean()) ** 2).sum() / len(a) ** 2 + ((c - c.mean()) ** 2).sum() / len(c) ** 2)
        out[(gv, times[ti])] = (att, se)
__result__ = [float(v) for v in out[(4, 4)]]
"""

CASES = {
    "ehimpact": ("import ehimpact as eh\nimport ehimpact.estimators.staggered\n", """
r = eh.staggered_did(df, outcome="y", unit="id", time="t", first_treated="g")
row = r.att_gt.query("group == 4 and time == 4").iloc[0]
__result__ = [float(row.att), float(row.se)]
"""),
    "ehimpact +999 boot": ("import ehimpact as eh\nimport ehimpact.estimators.staggered\n", """
r = eh.staggered_did(df, outcome="y", unit="id", time="t", first_treated="g", inference="bootstrap", bootstrap_draws=999, seed=1)
row = r.att_gt.query("group == 4 and time == 4").iloc[0]
__result__ = [float(row.att), float(row.se)]
"""),
    # same data, rows shuffled before the clock starts: no sorted-input shortcut applies
    "ehimpact, rows shuffled": ("import ehimpact as eh\nimport ehimpact.estimators.staggered\n"
                                "df = df.sample(frac=1, random_state=1).reset_index(drop=True)\n", """
r = eh.staggered_did(df, outcome="y", unit="id", time="t", first_treated="g")
row = r.att_gt.query("group == 4 and time == 4").iloc[0]
__result__ = [float(row.att), float(row.se)]
"""),
    "numpy lower bound": ("", _LOWER_BOUND),
    "numpy lower bound, rows shuffled": (
        "df = df.sample(frac=1, random_state=1).reset_index(drop=True)\n", _LOWER_BOUND),
}

PEERS = {
    "csdid": (["csdid", "pandas"], "from csdid.att_gt import ATTgt\n", """
a = ATTgt(yname="y", gname="g", idname="id", tname="t", data=df, control_group=["nevertreated"])
a.fit(est_method="reg", bstrap=False)
r = a.results
k = [i for i, (gg, tt) in enumerate(zip(r["group"], r["year"])) if gg == 4 and tt == 4][0]
__result__ = [float(r["att"][k]), float(r["se"][k])]
"""),
    # differences 0.3.0 refuses 0 for never treated ("replace the 0s with np.nan"): recoded
    # before the clock starts, like the other libraries' data conventions.
    "differences": (["differences==0.3.0", "pandas"], """
from differences import ATTgt
df["g"] = np.where(df["g"] == 0, np.nan, df["g"])
""", """
a = ATTgt(data=df.set_index(["id", "t"]), cohort_column="g")
a.fit(formula="y", est_method="reg", control_group="never_treated", progress_bar=False)
res = a.results()
row = res.xs((4, 4), level=("cohort", "time")).iloc[0]
__result__ = [float(row[("ATTgtElements", "", "ATT")]), float(row[("ATTgtElements", "analytic", "std_error")])]
"""),
    "moderndid": (["moderndid==0.2.0", "pandas"], "from moderndid import att_gt\n", """
r = att_gt(data=df, yname="y", tname="t", gname="g", idname="id", est_method="reg", boot=False)
gs, ts = np.asarray(r.groups), np.asarray(r.times)
k = int(np.flatnonzero((gs == 4) & (ts == 4))[0])
__result__ = [float(np.asarray(r.att_gt)[k]), float(np.asarray(r.se_gt)[k])]
"""),
}


def main(argv: list[str]) -> int:
    args = _parse(argv)
    quick = args.quick
    sizes = args.sizes or ([20_000] if quick else [100_000, 1_000_000])
    rows = []
    for n in sizes:
        setup = SETUP.format(n=n)
        for name, (imports, timed) in CASES.items():
            if args.only and name not in args.only:
                continue
            res = run_case(setup + imports, _with_cpu(timed), timeout=600)
            rows.append(_row(name, n, res))
        for name, (packages, imports, timed) in PEERS.items():
            if args.only and name not in args.only:
                continue
            try:
                py = peer_python(name, packages)
            except Exception as exc:  # noqa: BLE001 - report, do not abort the run
                rows.append({"library": name, "units": n, "error": f"venv: {exc}"})
                continue
            res = run_case(setup + imports, _with_cpu(timed), python=py, timeout=300 if quick else 900,
                           env={"PYTHONPATH": ""})
            rows.append(_row(name, n, res))
    lb = {(r["library"], r["units"]): r for r in rows if r["library"].startswith("numpy lower bound")
          and "seconds" in r}
    for r in rows:
        # shuffled rows are compared with the lower bound on the same shuffled rows
        ref = "numpy lower bound, rows shuffled" if r["library"].endswith("rows shuffled") else "numpy lower bound"
        base = lb.get((ref, r["units"]))
        if r.get("seconds") and base:
            r["x lower bound"] = r["seconds"] / base["seconds"]
            r["x lower bound (cpu)"] = r["cpu_seconds"] / base["cpu_seconds"]
    write_results(args.name or ("staggered_quick" if quick else "staggered"), rows, notes=(
        "Balanced panel, 10 periods, cohorts 4/6/8 + never treated, no covariates, never-treated "
        "comparisons, outcome regression, analytic SEs unless stated ('+999 boot': 999-draw Mammen "
        "multiplier bootstrap with uniform bands, so its SE differs from the analytic one by Monte "
        "Carlo noise). Fresh process per case; time excludes data generation and imports; peak_mb is "
        "the process's maximum resident memory. ATT(4,4) and SE beside times. Shared 2-core machine: "
        "other engineers' jobs ran at the same time, so times are noisy."))
    return 0


def _with_cpu(timed: str) -> str:
    """Also report the process's CPU seconds (all threads) over the timed code.

    On a machine shared with other jobs, wall time measures the queue as much as the code;
    CPU time is what the code itself used, close to its wall time on a quiet machine (for
    single-threaded work).
    """
    return ("import time as _bench_time\n_bench_cpu0 = _bench_time.process_time()\n" + timed
            + "\n__result__ = list(__result__) + [_bench_time.process_time() - _bench_cpu0]\n")


def _parse(argv: list[str]):
    import argparse

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="20,000 units only")
    ap.add_argument("--sizes", type=int, nargs="+", help="numbers of units (default 100,000 and 1,000,000)")
    ap.add_argument("--only", nargs="+", help="case names to run, e.g. ehimpact 'numpy lower bound'")
    ap.add_argument("--name", help="results file name (default staggered / staggered_quick)")
    return ap.parse_args(argv)


def _row(name: str, n: int, res: dict) -> dict:
    if "error" in res:
        return {"library": name, "units": n, "error": res["error"][:200]}
    att, se, cpu = res["result"]
    return {"library": name, "units": n, "seconds": res["seconds"], "cpu_seconds": cpu, "peak_mb": res["peak_mb"],
            "att_4_4": att, "se_4_4": se}


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
