"""One inference vocabulary (issue 14 item 5): every estimator takes ``inference=``; the old names
(``se_type``, ``errors``, ``se``, ``bootstrap``) still work, give the same numbers and warn."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import ehimpact as eh
from ehimpact.errors import InputError


def _same(a, b) -> None:  # noqa: ANN001
    assert a.estimate == b.estimate and a.se == b.se and tuple(a.ci) == tuple(b.ci)


def _quiet(fn, **kw):  # noqa: ANN001, ANN202
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the new name must not warn
        return fn(**kw)


def test_did_2x2_inference_names_the_standard_error() -> None:
    from ehimpact.estimators.did import _example

    data, kw = _example()
    new = _quiet(eh.did_2x2, data=data, **kw, inference="classical")
    with pytest.warns(DeprecationWarning, match="se_type"):
        old = eh.did_2x2(data, **kw, se_type="classical")
    _same(new, old)
    assert new.diagnostics["se_type"] == "classical"
    with pytest.raises(InputError) as err:
        with pytest.warns(DeprecationWarning):
            eh.did_2x2(data, **kw, se_type="robust", inference="classical")
    assert err.value.field == "inference"


def test_its_inference_replaces_errors() -> None:
    from ehimpact.estimators.its import _example

    data, kw = _example()
    kw = {k: v for k, v in kw.items() if k not in ("errors", "inference")}
    new = _quiet(eh.its, data=data, **kw, inference="hac")
    with pytest.warns(DeprecationWarning, match="errors"):
        old = eh.its(data, **kw, errors="hac")
    _same(new, old)


def test_match_inference_replaces_se() -> None:
    from ehimpact.estimators.matching import _example

    data, kw = _example()
    kw = {k: v for k, v in kw.items() if k not in ("se", "inference", "replace")}
    new = _quiet(eh.match, data=data, **kw, replace=True, inference="ai")
    with pytest.warns(DeprecationWarning, match="se="):
        old = eh.match(data, **kw, replace=True, se="ai")
    _same(new, old)


def test_staggered_inference_replaces_bootstrap_draws() -> None:
    from ehimpact.estimators.staggered import _example

    data, kw = _example()
    new = _quiet(eh.staggered_did, data=data, **kw, inference="bootstrap", bootstrap_draws=199, seed=4)
    with pytest.warns(DeprecationWarning, match="bootstrap"):
        old = eh.staggered_did(data, **kw, bootstrap=199, seed=4)
    _same(new, old)
    analytic = _quiet(eh.staggered_did, data=data, **kw)
    assert not np.isclose(analytic.se, new.se, rtol=1e-12)
