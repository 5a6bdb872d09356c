"""Reading the package data that ships with :mod:`ehimpact.costs` (unit costs, deflators, schedules)."""

from __future__ import annotations

from functools import cache
from importlib import resources
from typing import Any

from ehimpact.yamlio import safe_load

__all__ = ["data_text", "load_yaml"]


def data_text(name: str) -> str:
    """Text of a file in ``ehimpact/costs/data``."""
    return resources.files("ehimpact.costs").joinpath("data", name).read_text(encoding="utf-8")


@cache
def _cached_yaml(name: str) -> Any:
    return safe_load(data_text(name), strict=False)


def load_yaml(name: str) -> Any:
    """Parsed YAML from the package data (cached; treat as read-only)."""
    return _cached_yaml(name)
