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
