"""The config's outcome rules reach the data: load_inputs on the synthetic route and on files."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import yaml

from ehimpact.data.inputs import load_inputs, suppress_small
from ehimpact.data.outcomes import OutcomeRules
from ehimpact.runner.config import load_config

DEMO = Path(__file__).resolve().parents[1] / "config" / "demo.yaml"


def _demo_with(tmp_path: Path, **data) -> tuple:
    cfg = yaml.safe_load(DEMO.read_text())
    cfg["evaluation"]["data"].update(data)
    cfg["evaluation"]["data"]["synthetic"] = {"n_authorities": 2, "seed": 3, "children_per_authority": 400}
    path = tmp_path / "demo.yaml"
    path.write_text(yaml.safe_dump(cfg))
    run, base = load_config(path)
    return run.evaluation, base


def test_defaults_leave_the_generator_flags_alone(tmp_path):
    ev, base = _demo_with(tmp_path)
    inputs = load_inputs(ev, base)
    assert inputs.rules == OutcomeRules()
    assert inputs.children["cla_24m"].notna().all()
    follow = {f["outcome"]: f for f in inputs.validation["synthetic"]["follow_up"]}
    assert follow["cla_24m"]["observed"] == 800 and follow["cla_24m"]["unobserved_follow_up"] == 0


def test_extract_date_in_the_config_censors_the_synthetic_flags(tmp_path):
    ev, base = _demo_with(tmp_path, extract_date="2021-03-31")
    inputs = load_inputs(ev, base)
    assert inputs.rules.extract_date == pd.Timestamp("2021-03-31")
    kids = inputs.children
    ends = kids["index_date"] + pd.DateOffset(months=12)
    assert kids.loc[ends > "2021-03-31", "csc_referral_12m"].isna().all()
    assert kids.loc[ends <= "2021-03-31", "csc_referral_12m"].notna().all()
    assert kids["cla_24m"].isna().all()  # no 24-month window had closed
    follow = {f["outcome"]: f for f in inputs.read["follow_up"]}
    assert follow["csc_referral_12m"]["unobserved_follow_up"] == int(kids["csc_referral_12m"].isna().sum())
    assert inputs.validation["synthetic"]["extract_date"] == "2021-03-31"


def test_comparison_index_rule_moves_comparison_index_dates_only(tmp_path):
    ev, base = _demo_with(tmp_path, comparison_index="assessment_plus_median")
    moved = load_inputs(ev, base).children
    ev0, base0 = _demo_with(tmp_path)
    kept = load_inputs(ev0, base0).children
    supported = kept["received_early_help"] == 1
    assert moved.loc[supported, "index_date"].equals(kept.loc[supported, "index_date"])
    assert not moved.loc[~supported, "index_date"].equals(kept.loc[~supported, "index_date"])


def test_suppress_small_counts():
    rec = {"a": 0, "b": 5, "c": 6, "d": [1, 2.5, True], "e": {"f": 3}}
    assert suppress_small(rec, 5, "c") == {"a": 0, "b": "c", "c": 6, "d": ["c", 2.5, True], "e": {"f": "c"}}
