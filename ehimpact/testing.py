"""Conformance checks every estimator passes (ehimpact's ``check_estimator``).

Partners adding a design run :func:`check_estimator` on their
:class:`~ehimpact.estimators.registry.EstimatorSpec` in their own tests; ehimpact's
suite runs it over every registered design.
"""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd

from ehimpact.errors import InputError
from ehimpact.estimators.registry import EstimatorSpec
from ehimpact.estimators.result import Estimate

__all__ = ["check_estimator"]


def check_estimator(spec: EstimatorSpec, *, rtol: float = 1e-8) -> Estimate:
    """Run the shared contract on a registered design.

    Checks that the estimator

    1. returns an :class:`Estimate` with a finite estimate, ``ci[0] <= estimate <= ci[1]``
       (on its own scale) and non-negative sample sizes;
    2. gives the same estimate when the rows are shuffled;
    3. raises :class:`InputError` (not a traceback) for a missing column and for a
       non-DataFrame input;
    4. writes the diagnostics its spec promises (``EstimatorSpec.diagnostics``), each key of
       :data:`~ehimpact.estimators.registry.DIAGNOSTICS_SCHEMA` with its type, and none of the
       names the write-up does not read (:data:`~ehimpact.estimators.registry.DIAGNOSTICS_WRONG_NAMES`);
    5. produces a ``to_dict()`` that survives ``json.dumps`` and ``summary()`` text.

    Parameters
    ----------
    spec : EstimatorSpec
        Must carry an ``example`` returning ``(data, kwargs)``.
    rtol : float
        Tolerance for the row-order invariance check.

    Returns
    -------
    Estimate
        The estimate on the example data.
    """
    if spec.example is None:
        raise AssertionError(f"{spec.name}: EstimatorSpec.example is required for the conformance test")
    data, kwargs = spec.example()
    est = spec.func(data, **kwargs)
    assert isinstance(est, Estimate), f"{spec.name} returned {type(est).__name__}, not Estimate"
    assert math.isfinite(est.estimate), f"{spec.name}: estimate is not finite"
    lo, hi = est.ci
    assert lo <= est.estimate <= hi, f"{spec.name}: estimate {est.estimate} outside its CI {est.ci}"
    assert est.n_treated >= 0 and est.n_control >= 0

    shuffled = data.sample(frac=1.0, random_state=np.random.default_rng(7).integers(1 << 31))
    est2 = spec.func(shuffled, **kwargs)
    assert math.isclose(est.estimate, est2.estimate, rel_tol=rtol, abs_tol=1e-10), (
        f"{spec.name}: estimate depends on row order ({est.estimate} vs {est2.estimate})"
    )

    column_args = [k for k, v in kwargs.items() if isinstance(v, str) and v in data.columns]
    assert column_args, f"{spec.name}: the example names no columns"
    broken = dict(kwargs)
    broken[column_args[0]] = "__no_such_column__"
    try:
        spec.func(data, **broken)
    except InputError as exc:
        assert "__no_such_column__" in str(exc) or column_args[0] in str(exc)
    else:  # pragma: no cover - a conformance failure
        raise AssertionError(f"{spec.name}: a missing column did not raise InputError")
    try:
        spec.func(data.to_dict(), **kwargs)
    except InputError:
        pass
    else:  # pragma: no cover
        raise AssertionError(f"{spec.name}: a non-DataFrame input did not raise InputError")

    from ehimpact.estimators.registry import DIAGNOSTICS_SCHEMA, DIAGNOSTICS_WRONG_NAMES

    diag = est.diagnostics or {}
    for key in getattr(spec, "diagnostics", ()):
        assert key in DIAGNOSTICS_SCHEMA, f"{spec.name}: diagnostics key {key!r} is not in DIAGNOSTICS_SCHEMA"
        assert key in diag, f"{spec.name}: promises diagnostics[{key!r}] but did not write it"
    for key, value in diag.items():
        assert key not in DIAGNOSTICS_WRONG_NAMES, \
            f"{spec.name}: diagnostics[{key!r}] is read by nothing; the write-up reads {DIAGNOSTICS_WRONG_NAMES[key]}"
        if key in DIAGNOSTICS_SCHEMA:
            assert isinstance(value, DIAGNOSTICS_SCHEMA[key]), (
                f"{spec.name}: diagnostics[{key!r}] is {type(value).__name__}, not "
                f"{' or '.join(t.__name__ for t in DIAGNOSTICS_SCHEMA[key])}")
    json.dumps(est.to_dict())
    assert isinstance(est.summary(), str) and est.summary()
    assert isinstance(est.table(), pd.DataFrame)
    return est
