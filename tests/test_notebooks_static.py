"""The shipped notebooks: typed, documented parameters; calls only (no statistics in cells)."""

from __future__ import annotations

import re

import nbformat
import papermill as pm
import pytest

from ehimpact.runner.run import notebook_path

NOTEBOOKS = ["ten_step_evaluation.ipynb", "regional_summary.ipynb"]


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_parameters_have_types_and_help(name):
    params = pm.inspect_notebook(str(notebook_path(name)))
    assert params
    for p in params.values():
        assert p["inferred_type_name"] not in (None, "None"), p
        assert p["help"], p


def test_ten_step_parameters():
    params = pm.inspect_notebook(str(notebook_path()))
    assert set(params) >= {"config_path", "authority", "results_path"}


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_cells_hold_calls_not_statistics(name):
    nb = nbformat.read(str(notebook_path(name)), as_version=4)
    code = "\n".join(c.source for c in nb.cells if c.cell_type == "code")
    for forbidden in (r"\.mean\(", r"\.std\(", r"np\.", r"groupby", r"statsmodels", r"sklearn", r"scipy"):
        assert not re.search(forbidden, code), forbidden
