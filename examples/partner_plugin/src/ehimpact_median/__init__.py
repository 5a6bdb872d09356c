"""An ehimpact plug-in: difference in medians between supported and comparison children.

Installed with ``pip install examples/partner_plugin``; configs can then say
``design: {name: median_diff}`` and ehimpact finds it through the entry point.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ehimpact.estimators.checks import (
    require_binary,
    require_columns,
    require_frame,
    require_numeric,
)
from ehimpact.estimators.registry import EstimatorSpec
from ehimpact.estimators.result import Estimate


def median_diff(data: pd.DataFrame, *, treatment: str, outcome: str, draws: int = 499, seed: int = 0,
                level: float = 0.95) -> Estimate:
    """Median outcome of the treated minus median of the comparison group, percentile bootstrap CI."""
    data = require_frame(data)
    require_columns(data, {"treatment": treatment, "outcome": outcome})
    d = require_binary(data, treatment, "treatment")
    y = require_numeric(data, outcome, "outcome")
    # sort so the result does not depend on row order
    order = np.lexsort((y, d))
    d, y = d[order], y[order]
    y1, y0 = y[d == 1], y[d == 0]
    est = float(np.median(y1) - np.median(y0))
    rng = np.random.default_rng(seed)
    boot = np.median(rng.choice(y1, (draws, y1.size)), axis=1) - np.median(rng.choice(y0, (draws, y0.size)), axis=1)
    lo, hi = np.quantile(boot, [(1 - level) / 2, (1 + level) / 2])
    se = float(boot.std(ddof=1))
    p = float(2 * min((boot <= 0).mean(), (boot >= 0).mean()))
    return Estimate(estimate=est, se=se, ci=(float(lo), float(hi)), pvalue=p, estimand="difference in medians",
                    method=f"percentile bootstrap ({draws} draws)", n_treated=int(y1.size), n_control=int(y0.size),
                    outcome=outcome)


def _example() -> tuple[pd.DataFrame, dict]:
    rng = np.random.default_rng(3)
    d = rng.integers(0, 2, 300)
    return pd.DataFrame({"t": d, "y": rng.normal(size=300) - 0.5 * d}), {"treatment": "t", "outcome": "y"}


SPEC = EstimatorSpec(name="median_diff", func=median_diff, roles=("treatment", "outcome"), example=_example,
                     description="Difference in medians with a bootstrap CI (example plug-in)")
