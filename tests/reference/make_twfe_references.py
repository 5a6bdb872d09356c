"""Produce tests/reference/twfe_pyfixest.yaml: peer values from pyfixest and wildboottest.

Run in the pyfixest peer environment (benchmarks/harness.py:peer_python("pyfixest", ...)) plus
causaldata:  .venv-bench-pyfixest/bin/python tests/reference/make_twfe_references.py
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pandas as pd
import yaml


def castle() -> pd.DataFrame:
    from causaldata import castle as c

    d = c.load_pandas().data.sort_values(["sid", "year"]).reset_index(drop=True)
    d = d.astype({k: "float64" for k in d.columns if d[k].dtype == "float32"})
    nxt = d.groupby("sid")["post"].shift(-1).fillna(d["post"])
    d["post_bacon"] = np.maximum(d["post"], nxt).astype(int)  # bacondecomp coding (see bacon_castle.yaml)
    first = d[d.post_bacon == 1].groupby("sid").year.min()
    d["first_treated"] = d.sid.map(first)
    return d


def event_dummies(d: pd.DataFrame, leads: int = 4, lags: int = 4, ref: int = -1) -> list[str]:
    e = (d.year - d.first_treated).clip(-leads, lags)
    cols = []
    for k in range(-leads, lags + 1):
        if k == ref:
            continue
        name = f"es_{'m' if k < 0 else 'p'}{abs(k)}"
        d[name] = ((e == k) & d.first_treated.notna()).astype(int)
        cols.append(name)
    return cols


def small_cluster_data() -> pd.DataFrame:
    rng = np.random.default_rng(20261123)
    G, m = 10, 30
    g = np.repeat(np.arange(G), m)
    x = rng.normal(size=G * m) + rng.normal(size=G)[g]
    y = 1 + 0.15 * x + rng.normal(size=G)[g] + rng.normal(size=G * m)
    return pd.DataFrame({"y": y, "x": x, "g": g})


def main() -> None:
    from importlib.metadata import version

    import pyfixest as pf
    import statsmodels.api as sm
    from wildboottest.wildboottest import wildboottest as wbt

    d = castle()
    out: dict = {"source": (f"pyfixest {version('pyfixest')} feols, vcov={{'CRV1': cluster}} (fixest default ssc); "
                            f"wildboottest {version('wildboottest')}; data causaldata {version('causaldata')} castle "
                            "with post_bacon as in bacon_castle.yaml. Produced by tests/reference/make_twfe_references.py"),
           "tolerance": {"coef_rtol": 1.0e-6, "se_rtol": 1.0e-6,
                         "why": "pyfixest demeans iteratively to tol 1e-8 (fixef_tol), so its coefficients "
                                "carry ~1e-8 relative error; ehimpact's balanced demeaning is exact"},
           "cases": []}

    def case(name, fml, data, vcov, weights=None, **extra):
        f = pf.feols(fml, data=data, vcov=vcov, weights=weights)
        out["cases"].append({"name": name, "formula": fml, "vcov": vcov, "weights": weights, "nobs": int(f._N),
                             "coef": {str(k): float(v) for k, v in f.coef().items()},
                             "se": {str(k): float(v) for k, v in f.se().items()}, **extra})

    case("castle twfe, CRV1 by state", "l_homicide ~ post_bacon | sid + year", d, {"CRV1": "sid"})
    case("castle twfe, CRV1 by year (unit effects not nested)", "l_homicide ~ post_bacon | sid + year", d,
         {"CRV1": "year"})
    case("castle twfe, weights and covariates", "l_homicide ~ post_bacon + l_police + unemployrt | sid + year",
         d, {"CRV1": "sid"}, weights="popwt")
    du = d[~((d.sid % 7 == 0) & (d.year.isin([2001, 2004])))].copy()
    case("castle twfe, unbalanced (states 7,14,...,49 miss 2001 and 2004)", "l_homicide ~ post_bacon | sid + year",
         du, {"CRV1": "sid"}, drop="sid % 7 == 0 and year in (2001, 2004)")
    cols = event_dummies(d)
    case("castle event study, leads=lags=4 binned, reference -1", "l_homicide ~ " + " + ".join(cols) + " | sid + year",
         d, {"CRV1": "sid"}, leads=4, lags=4, reference=-1)

    s = small_cluster_data()
    model = sm.OLS(s.y, sm.add_constant(s[["x"]]))
    res = wbt(model, param="x", cluster=s.g, B=99999, weights_type="rademacher", impose_null=True,
              bootstrap_type="11", seed=1, show=False)
    out["wild"] = {"data": "small_cluster_data() in this script: G=10 clusters x 30, seed 20261123",
                   "model": "y ~ 1 + x, test x = 0, WCR11 Rademacher, B=99999 (2^10 = 1024 < B: full enumeration)",
                   "t_stat": float(np.asarray(res["statistic"]).ravel()[0]),
                   "pvalue": float(np.asarray(res["p-value"]).ravel()[0]), "pvalue_atol": 1.0e-12}
    # wild cluster bootstrap with absorbed fixed effects: pyfixest bootstraps the one-hot dummy model
    twelve = sorted(d.sid.unique())[:12]
    out["wild_fe"] = []
    for name, data in (("castle, first 12 states (sid order), balanced", d[d.sid.isin(twelve)]),
                       ("castle, first 12 states, unbalanced (2001 dropped for sid 2 and 5)",
                        d[d.sid.isin(twelve) & ~(d.sid.isin([2, 5]) & (d.year == 2001))])):
        f = pf.feols("l_homicide ~ post_bacon | sid + year", data=data, vcov={"CRV1": "sid"})
        r = f.wildboottest(param="post_bacon", reps=9999, seed=1)
        out["wild_fe"].append({"name": name, "nobs": int(f._N), "states": [int(x) for x in twelve],
                               "command": "feols('l_homicide ~ post_bacon | sid + year', vcov={'CRV1': 'sid'})"
                                          ".wildboottest(param='post_bacon', reps=9999, seed=1)  # 2^12 < reps: "
                                          "full enumeration, Rademacher, WCR11",
                               "pvalue": float(r["Pr(>|t|)"]), "pvalue_atol": 1.0e-12})
    Path(sys.argv[1] if len(sys.argv) > 1 else Path(__file__).with_name("twfe_pyfixest.yaml")).write_text(
        "# Generated; do not edit by hand.\n" + yaml.safe_dump(out, sort_keys=False))


if __name__ == "__main__":
    main()
