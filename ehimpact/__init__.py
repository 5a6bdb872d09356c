"""ehimpact: does early help for children and families work, and what does it save?

Public API (imported lazily, so ``import ehimpact`` is cheap)::

    import ehimpact as eh
    est = eh.did_2x2(df, outcome="csc_referral_12m", treated="early_help", post="post")
    print(est.summary())

Estimators return :class:`Estimate`; user mistakes raise :class:`InputError`.
"""

from __future__ import annotations

import importlib
from typing import Any

from ehimpact.errors import InputError

__version__ = "0.1.0"

# public name -> module that defines it
_LAZY: dict[str, str] = {
    "Estimate": "ehimpact.estimators.result",
    "did_2x2": "ehimpact.estimators.did",
    "twfe": "ehimpact.estimators.did",
    "event_study": "ehimpact.estimators.did",
    "goodman_bacon": "ehimpact.estimators.bacon",
    "staggered_did": "ehimpact.estimators.staggered",
    "match": "ehimpact.estimators.matching",
    "weight": "ehimpact.estimators.weighting",
    "its": "ehimpact.estimators.its",
    "synthetic_control": "ehimpact.estimators.synthetic_control",
    "pool": "ehimpact.estimators.pooling",
    "compare": "ehimpact.report.tables",
    "power": "ehimpact.estimators.power",  # a module: eh.power.mde(...)
}
_SUBPACKAGES = {"data", "estimators", "costs", "report", "runner"}

__all__ = ["InputError", "__version__", *_LAZY, *sorted(_SUBPACKAGES)]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        value = getattr(importlib.import_module(_LAZY[name]), name)
        globals()[name] = value
        return value
    if name in _SUBPACKAGES:
        module = importlib.import_module(f"ehimpact.{name}")
        globals()[name] = module
        return module
    raise AttributeError(f"module 'ehimpact' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
