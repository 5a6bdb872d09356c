"""The notebook is the evaluator's own template (issue 14 item 7): `ehimpact notebook` writes a copy,
`evaluation.notebook:` runs it in a batch, a cell the evaluator adds reaches every report, the step
headings follow the config's `steps:`, and papermill lists the parameters."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import nbformat
import pandas as pd
import pytest
import yaml

from ehimpact.cli import main
from ehimpact.data import synthetic

ROOT = Path(__file__).resolve().parent.parent
pytestmark = pytest.mark.notebook

SUBGROUP_CELL = (
    "from ehimpact.report.evaluation import counts_by\n"
    "from ehimpact.report.notebook import table\n"
    "by_sex = counts_by(evaluation.children, ['sex', 'received_early_help'])\n"
    "table(evaluation, 'Subgroup: children by sex and group', by_sex,\n"
    "      row='One row per sex and group (1 = supported); counts of children.', counts=['n'])"
)


def _custom_notebook(tmp_path: Path) -> Path:
    path = tmp_path / "my_evaluation.ipynb"
    assert main(["notebook", "--out", str(path)]) == 0
    nb = nbformat.read(str(path), as_version=4)
    at = next(i for i, c in enumerate(nb.cells) if "step-4" in c.get("metadata", {}).get("tags", []))
    nb.cells.insert(at + 2, nbformat.v4.new_code_cell(SUBGROUP_CELL))
    nb.cells[at]["source"] = "## 4. Our data, as we describe it\n\nEdited by the evaluator."
    nbformat.write(nb, str(path))
    return path


def test_notebook_command_refuses_to_overwrite(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "nb.ipynb"
    assert main(["notebook", "--out", str(path)]) == 0
    assert main(["notebook", "--out", str(path)]) == 2
    assert "already exists" in capsys.readouterr().err


def test_papermill_lists_the_template_parameters(tmp_path: Path) -> None:
    path = _custom_notebook(tmp_path)
    out = subprocess.run([str(Path(sys.executable).parent / "papermill"), "--help-notebook", str(path)],
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    for name in ("config_path", "authority", "results_path", "run_id"):
        assert name in out.stdout, out.stdout


def _config(tmp_path: Path, n: int) -> Path:
    region = synthetic.region(n_authorities=n, seed=5, children_per_authority=300)
    data = tmp_path / "data"
    data.mkdir()
    region.children.to_csv(data / "children.csv", index=False)
    region.panel.to_csv(data / "panel.csv", index=False)
    _custom_notebook(tmp_path)
    cfg = yaml.safe_load((ROOT / "config" / "demo.yaml").read_text())
    cfg["evaluation"]["data"] = {"child_level": "data/children.csv", "authority_panel": "data/panel.csv"}
    cfg["evaluation"]["robustness"] = []
    cfg["evaluation"].pop("costs", None)
    cfg["evaluation"]["notebook"] = "my_evaluation.ipynb"
    cfg["evaluation"]["steps"] = {3: {"title": "What we measured", "prompt": "Renamed in the config."}}
    cfg["batch"] = {"name": "custom", "authorities": "all", "timeout_per_notebook": 300}
    cfg["output_dir"] = str(tmp_path / "out")
    cfg["evaluation"]["authority"] = str(region.children["authority_code"].iloc[0])
    config = tmp_path / "batch.yaml"
    config.write_text(yaml.safe_dump(cfg, sort_keys=False))
    return config


def _check_reports(tmp_path: Path, run: str, n: int) -> None:
    reports = sorted(p for p in (tmp_path / "out" / run).rglob("report.html")
                     if not any(s.startswith(".") for s in p.relative_to(tmp_path / "out").parts))
    assert len(reports) == n
    for report in reports:
        html = report.read_text()
        assert "Subgroup: children by sex and group" in html
        assert "Our data, as we describe it" in html  # the evaluator's own heading
        assert "3. What we measured" in html  # the config's rename fills the tagged heading
        results = json.loads((report.parent / "results.json").read_text())
        assert "Subgroup: children by sex and group" in results["notebook_tables"]
        nb = json.loads((report.parent / "report.ipynb").read_text())
        assert str(tmp_path) not in json.dumps(nb)  # no machine path in the notebook
        assert str(tmp_path) not in json.dumps(results)


def test_custom_notebook_runs_and_its_cell_reaches_the_report(tmp_path: Path) -> None:
    config = _config(tmp_path, 2)
    out = subprocess.run([sys.executable, "-m", "ehimpact.cli", "run", str(config)],
                         capture_output=True, text=True, timeout=900, env=dict(os.environ))
    assert out.returncode == 0, out.stderr[-3000:]
    _check_reports(tmp_path, "custom", 1)


@pytest.mark.slow
def test_custom_notebook_runs_in_a_batch_and_its_cell_reaches_every_report(tmp_path: Path) -> None:
    config = _config(tmp_path, 2)
    out = subprocess.run([sys.executable, "-m", "ehimpact.cli", "batch", str(config), "--workers", "2"],
                         capture_output=True, text=True, timeout=900, env=dict(os.environ))
    assert out.returncode == 0, out.stderr[-3000:]
    summary = pd.read_csv(tmp_path / "out" / "custom" / "summary.csv")
    assert (summary["status"] == "ok").sum() == 2
    _check_reports(tmp_path, "custom", 2)
