"""Every built design passes the shared estimator contract (STYLE.md: check_estimator)."""

import pytest

from ehimpact.estimators import registry
from ehimpact.testing import check_estimator


@pytest.mark.parametrize("name", registry.available())
def test_builtin_estimators_conform(name):
    check_estimator(registry.get(name))


def test_unknown_design_is_an_input_error():
    from ehimpact import InputError

    with pytest.raises(InputError, match="unknown design"):
        registry.get("no_such_design")


def test_the_diagnostics_schema_is_enforced():
    """Issue 13 item 2 / 14 item 1: a design whose diagnostics the write-up cannot read fails the contract."""
    import numpy as np
    import pandas as pd

    from ehimpact.estimators.registry import EstimatorSpec
    from ehimpact.estimators.result import Estimate

    def example():
        rng = np.random.default_rng(0)
        return pd.DataFrame({"t": rng.integers(0, 2, 200), "y": rng.normal(size=200)}), {"treatment": "t",
                                                                                         "outcome": "y"}

    def make(diagnostics):
        def func(data, *, treatment, outcome):
            from ehimpact.estimators.checks import require_columns, require_frame

            data = require_frame(data)
            require_columns(data, {"treatment": treatment, "outcome": outcome})
            m = float(data.groupby(treatment)[outcome].mean().diff().iloc[-1])
            return Estimate(estimate=m, se=0.1, ci=(m - 0.2, m + 0.2), pvalue=0.5, estimand="ATE", method="test",
                            n_treated=100, n_control=100, outcome=outcome, diagnostics=dict(diagnostics))
        return func

    ok = EstimatorSpec(name="diag_ok", func=make({"pretest": {"pvalue": 0.4}}), roles=("treatment", "outcome"),
                       example=example, diagnostics=("pretest",))
    check_estimator(ok)
    for diagnostics, promised, words in [({"pretrend": {"pvalue": 0.4}}, (), "read by nothing"),
                                         ({"pretest": 0.4}, (), "not dict"),
                                         ({}, ("pretest",), "promises")]:
        bad = EstimatorSpec(name="diag_bad", func=make(diagnostics), roles=("treatment", "outcome"),
                            example=example, diagnostics=promised)
        with pytest.raises(AssertionError, match=words):
            check_estimator(bad)


def test_the_few_cluster_policy_reads_the_spec():
    """Issue 14 item 1: whether a design offers the wild bootstrap is part of its spec, not a list of names."""
    from ehimpact.estimators.inference import few_cluster_policy

    assert [n for n in registry.available() if registry.get(n).wild_bootstrap] == ["did_2x2", "twfe",
                                                                                    "event_study"]
    # a plug-in panel design with a wild bootstrap gets it below 30 authorities; one without gets the warning
    assert few_cluster_policy(9, "plugin_panel", wild=True).options == {"inference": "wild", "wild_weights": "webb"}
    assert few_cluster_policy(9, "plugin_panel", wild=False).warning is not None
    assert "own series" in few_cluster_policy(1, "plugin_series", series=True, n_periods=48).statement
