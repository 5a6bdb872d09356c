"""Estimators: one module per design, each returning an :class:`~ehimpact.estimators.result.Estimate`."""

from ehimpact.estimators.result import Estimate

__all__ = ["Estimate"]
