"""Shared test fixtures."""

from __future__ import annotations

import os
from pathlib import Path

import matplotlib
import pytest

matplotlib.use("Agg")
os.environ.setdefault("MPLBACKEND", "Agg")

REFERENCE = Path(__file__).parent / "reference"


@pytest.fixture(scope="session")
def reference_dir() -> Path:
    """Folder of published/peer reference data (each file documents its source)."""
    return REFERENCE
