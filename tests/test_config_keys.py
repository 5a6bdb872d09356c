"""Every config key is read by a run (issue 14 item 3): a key the schema accepts and documents but
nothing reads is a setting that silently does nothing.

The schema is walked field by field.  Reads are recorded by watching attribute access on the config
models while real runs go through the whole path in this process: a single authority run with the
in-process notebook engine (synthetic data, every optional key set), `ehimpact check` on statutory
files, and a plug-in design's role mapping.  Batch keys are read by the batch client; they are
checked against the runner's source, since the batch's workers are other processes.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import yaml
from pydantic import BaseModel

import ehimpact.config as C

ROOT = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.notebook

#: keys read through the results record rather than the model (the regional summary reads the runs'
#: results.json): tested where they act, in tests/test_regional_pooling.py
READ_FROM_RESULTS = {("Disclosure", "round_totals_to")}
#: batch keys: read by runner/batch.py in the client process
BATCH_KEYS = {"BatchConfig"}


def _models(model: type[BaseModel], seen: set[type[BaseModel]] | None = None) -> set[type[BaseModel]]:
    seen = set() if seen is None else seen
    if model in seen:
        return seen
    seen.add(model)
    for info in model.model_fields.values():
        ann = info.annotation
        for cand in (ann, *getattr(ann, "__args__", ())):
            for inner in (cand, *getattr(cand, "__args__", ())):
                if isinstance(inner, type) and issubclass(inner, BaseModel):
                    _models(inner, seen)
    return seen


SCHEMA = {(m.__name__, f) for m in _models(C.RunConfig) for f in m.model_fields}


@pytest.fixture()
def reads(monkeypatch: pytest.MonkeyPatch) -> set[tuple[str, str]]:
    seen: set[tuple[str, str]] = set()

    def spy(self: Any, name: str) -> Any:
        cls = type(self)
        if name in cls.model_fields:
            seen.add((cls.__name__, name))
        return object.__getattribute__(self, name)

    monkeypatch.setattr(C._Strict, "__getattribute__", spy)
    return seen


def _synthetic_run(tmp_path: Path) -> None:
    from ehimpact.cli import main
    from ehimpact.runner.run import run_one

    tmp_path.mkdir(parents=True, exist_ok=True)
    cfg = yaml.safe_load((ROOT / "config" / "demo.yaml").read_text())
    ev = cfg["evaluation"]
    ev["data"]["synthetic"].update(n_authorities=4, children_per_authority=300)
    ev["data"].update(extract_date="2023-03-31", window_start="on_index_date",
                      comparison_index="referral_plus_median", max_excluded_share=0.05)
    ev["intervention"]["start_date"] = "2021-04-01"
    ev["design"]["covariates"] = ["age", "fsm", "prior_contacts"]
    ev["robustness"] = [{"name": "its", "options": {"outcome": "referrals"}}]
    ev["steps"] = {3: {"title": "What we measured", "prompt": "Renamed."}}
    ev["disclosure"].update(secondary=True, symbol="c", threshold=5)
    ev["seed"] = 11
    (tmp_path / "per_la.csv").write_text("authority,costs.delivery_cost\nE06000036,1500000\n")
    ev["per_authority"] = "per_la.csv"
    assert main(["notebook", "--out", str(tmp_path / "mine.ipynb")]) == 0
    ev["notebook"] = "mine.ipynb"
    cfg["batch"] = {"name": "keys", "authorities": "all", "timeout_per_notebook": 300, "retries": 1}
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(cfg, sort_keys=False))
    outcome = run_one(path, "E06000036", tmp_path / "out", engine="ehimpact-inprocess", scan=False)
    assert outcome.status == "ok", outcome.message


def _statutory_check(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from ehimpact.cli import write_demo_inputs
    from ehimpact.runner.check import check

    tmp_path.mkdir(parents=True, exist_ok=True)
    monkeypatch.setenv("EHIMPACT_SALT", "a-test-salt-of-enough-length")
    cfg = yaml.safe_load((ROOT / "config" / "demo.yaml").read_text())
    cfg["evaluation"]["data"] = write_demo_inputs(tmp_path / "inputs", n_authorities=2, seed=3)
    cfg["evaluation"]["data"]["statutory"]["salt_env"] = "EHIMPACT_SALT"
    cfg["output_dir"] = str(tmp_path / "out")
    path = tmp_path / "statutory.yaml"
    path.write_text(yaml.safe_dump(cfg, sort_keys=False))
    panel = pd.read_csv(tmp_path / cfg["evaluation"]["data"]["authority_panel"]) \
        if str(cfg["evaluation"]["data"]["authority_panel"]).endswith(".csv") else None
    code = str(panel["authority_code"].iloc[0]) if panel is not None else None
    result = check(path, code)
    assert result.read_report is not None


def _plugin_roles(tmp_path: Path) -> None:
    from ehimpact.estimators import registry
    from ehimpact.estimators.registry import EstimatorSpec
    from ehimpact.report.evaluation import Evaluation

    def diff(data: pd.DataFrame, *, treatment: str, outcome: str) -> Any:
        from ehimpact.estimators.result import Estimate

        y1 = data.loc[data[treatment] == 1, outcome].mean()
        y0 = data.loc[data[treatment] == 0, outcome].mean()
        return Estimate(estimate=float(y1 - y0), se=float("nan"), ci=(float("nan"), float("nan")),
                        pvalue=float("nan"), estimand="difference in means", method="test",
                        n_treated=1, n_control=1, outcome=outcome)

    tmp_path.mkdir(parents=True, exist_ok=True)
    registry.register(EstimatorSpec(name="keys_diff", func=diff, roles=("treatment", "outcome")), replace=True)
    cfg = yaml.safe_load((ROOT / "config" / "demo.yaml").read_text())
    cfg["evaluation"]["data"]["synthetic"].update(n_authorities=2, children_per_authority=200)
    cfg["evaluation"]["design"] = {"name": "keys_diff", "roles": {"treatment": "received_early_help"}}
    path = tmp_path / "plugin.yaml"
    path.write_text(yaml.safe_dump(cfg, sort_keys=False))
    run, base = C.load_config(path)
    est = Evaluation(run.evaluation, base_dir=base).primary
    assert est.estimand == "difference in means"


def test_every_evaluation_key_is_read_by_a_run(tmp_path: Path, reads: set[tuple[str, str]],
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    _synthetic_run(tmp_path / "a")
    _statutory_check(tmp_path / "b", monkeypatch)
    _plugin_roles(tmp_path / "c")
    batch = {(m, f) for m, f in SCHEMA if m in BATCH_KEYS} | {("RunConfig", "batch")}
    unread = sorted(SCHEMA - reads - READ_FROM_RESULTS - batch)
    assert not unread, f"config keys no run reads (wire them up or remove them): {unread}"


def test_every_batch_key_is_read_by_the_batch_runner() -> None:
    source = (ROOT / "ehimpact" / "runner" / "batch.py").read_text()
    unread = [f for f in C.BatchConfig.model_fields if not re.search(rf"\b(batch|cfg\.batch)\.{f}\b", source)
              and f"\"{f}\"" not in source]
    assert not unread, f"batch keys the batch runner never reads: {unread}"
    assert "cfg.batch" in source


def test_the_spy_sees_reads(reads: set[tuple[str, str]]) -> None:
    """The recording must see reads, and only reads, or the test above could pass vacuously."""
    assert ("Design", "name") in SCHEMA and ("DataSources", "extract_date") in SCHEMA and len(SCHEMA) > 50
    design = C.Design(name="match")
    assert ("Design", "covariates") not in reads
    _ = design.covariates
    assert ("Design", "covariates") in reads and ("Design", "options") not in reads
