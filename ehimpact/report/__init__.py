"""Reporting: tables, plots, statistical disclosure control, the ten steps.

Imported lazily, so ``import ehimpact.report`` costs nothing until a name is used
(notebooks import this in their first cell and start-up time matters)::

    from ehimpact.report import disclose, scan_outputs, compare
    safe, log = disclose(table, counts=["n"], totals=["England"], round_to=10)
"""

from __future__ import annotations

import importlib
from typing import Any

# public name -> module that defines it
_LAZY: dict[str, str] = {
    "disclose": "ehimpact.report.disclosure",
    "DisclosureLog": "ehimpact.report.disclosure",
    "scan_outputs": "ehimpact.report.disclosure",
    "Finding": "ehimpact.report.disclosure",
    "table_record": "ehimpact.report.disclosure",
    "compare": "ehimpact.report.tables",
    "format_table": "ehimpact.report.tables",
}

__all__ = list(_LAZY)


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        value = getattr(importlib.import_module(_LAZY[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'ehimpact.report' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
