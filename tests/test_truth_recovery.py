"""Truth recovery: a synthetic authority in the real formats, read through the real path.

The authority carries the hard parts of real files (issue 12):

* one DfE-schema-valid CIN census file per collection year (2020 and 2021);
* SSDA903 tables with DD/MM/YYYY dates;
* an early-help export with its own column names and a *blank* service for every
  comparison child (the mapping sends blanks to ``none``);
* same-day step-ups (60% of the supported children referred to social care within 12
  months are referred on the day early help closed) and episodes still open at the extract;
* an extract date (31 March 2021, the last census's ReferenceDate) before every 24-month
  window closes, and before many 12-month windows close;
* a planted effect on referral to children's social care within 12 months (about -13
  percentage points).

A config YAML on the raw files goes through :class:`ehimpact.report.evaluation.Evaluation`
and the propensity-score matching design.  With the default window rule (an event on the
index date counts) the 95% CI holds the planted effect; with ``window_start:
after_index_date`` (the old rule) the same data give an interval that excludes it: the
step-ups are not counted and the service looks about twice as good as it is.
"""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd
import pytest
import yaml

from ehimpact.data.statutory_writer import write_statutory
from ehimpact.data.synthetic import region
from ehimpact.report.evaluation import Evaluation
from ehimpact.runner.config import load_config

SALT = "truth-recovery-salt-0123456789"
EXTRACT = "2021-03-31"
OUTCOME = "csc_referral_12m"
XSD = Path(__file__).parent / "fixtures" / "external" / "cin"


@pytest.fixture(scope="module")
def authority(tmp_path_factory):
    reg = region(1, seed=1, children_per_authority=6000, step_up_same_day_share=0.6,
                 extract_date=EXTRACT, child_effect_scale=4)
    code = str(reg.children["authority_code"].iloc[0])
    root = tmp_path_factory.mktemp("truth")
    files = write_statutory(reg, root)[code]
    folder = files.local_export.parent
    # the export as a case-management system writes it: comparison children have no service
    export = pd.read_csv(files.local_export, dtype=str, keep_default_na=False)
    export.loc[export["Service"] == "NONE", "Service"] = ""
    export.to_csv(files.local_export, index=False)
    spec = yaml.safe_load(files.mapping.read_text())
    codes = spec["fields"]["intervention_type"]["codes"]
    codes.pop("NONE")
    codes[""] = "none"  # a blank cell is a code the mapping names
    files.mapping.write_text(yaml.safe_dump(spec, sort_keys=False))
    configs = {}
    for rule in ("on_index_date", "after_index_date"):
        cfg = {"evaluation": {
            "name": "truth_recovery", "title": "Truth recovery", "authority": code,
            "intervention": {"name": "Synthetic key-worker service"},
            "data": {"statutory": {
                "local_export": files.local_export.name, "mapping": files.mapping.name,
                # a glob for one config, the folder for the other: both are how authorities keep them
                "cin_xml": "cin/cin_census_*.xml" if rule == "on_index_date" else "cin",
                "ssda903_dir": files.ssda903_dir.name}, "window_start": rule},
            "outcomes": [{"column": OUTCOME, "label": "be referred to children's social care within 12 months",
                          "primary": True}],
            "design": {"name": "match", "options": {"replace": True, "caliper": 0.2}},
        }}
        path = folder / f"config_{rule}.yaml"
        path.write_text(yaml.safe_dump(cfg, sort_keys=False))
        configs[rule] = path
    return reg, code, files, configs


def _evaluate(config: Path, code: str, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("EHIMPACT_SALT", SALT)
    cfg, base = load_config(config)
    ev = Evaluation(cfg.evaluation, authority=code, base_dir=base)
    return ev, ev.run_design(cfg.evaluation.design)


def test_the_files_carry_the_hard_parts(authority):
    reg, code, files, _ = authority
    xmlschema = pytest.importorskip("xmlschema")
    census = sorted(files.cin_xml.glob("*.xml"))
    assert len(census) >= 2  # one file per collection year
    for path in census:
        year = re.search(r"(\d{4})", path.name).group(1)
        text = path.read_text()
        assert f"<Year>{year}</Year>" in text and f"<ReferenceDate>{year}-03-31</ReferenceDate>" in text
        schema = xmlschema.XMLSchema(XSD / f"CIN_schema_{year}.xsd")
        errors = list(schema.iter_errors(str(path)))
        assert not errors, (path.name, len(errors), str(errors[0])[:300])
    episodes = pd.read_csv(files.ssda903_dir / "episodes.csv", dtype=str)
    assert episodes["DECOM"].str.fullmatch(r"\d{2}/\d{2}/\d{4}").all()
    export = pd.read_csv(files.local_export, dtype=str, keep_default_na=False)
    comparison = export["Outcome"] == "Assessed - not supported"
    assert comparison.sum() > 1000 and (export.loc[comparison, "Service"] == "").all()
    assert "Person ID" in export and "child_id" not in export  # its own column names
    assert reg.truth["child_step_ups_same_day"] > 100
    assert reg.truth["child_open_episodes"] > 0


def test_default_rule_recovers_the_planted_effect(authority, monkeypatch):
    reg, code, _, configs = authority
    ev, est = _evaluate(configs["on_index_date"], code, monkeypatch)
    read = ev.inputs.read
    # the extract date is the last census's ReferenceDate, before every 24-month window closes
    assert (read["extract_date"], read["extract_source"]) == (EXTRACT, "CIN census ReferenceDate")
    follow = {f["outcome"]: f for f in read["follow_up"]}
    assert follow["cla_24m"]["observed"] == 0
    assert follow[OUTCOME]["unobserved_follow_up"] > 1000 and follow[OUTCOME]["observed"] > 1000
    # unobserved children are left out, never counted as "no event"
    kids = ev.children
    assert kids[OUTCOME].isna().sum() == follow[OUTCOME]["unobserved_follow_up"] + kids["open_episode"].sum()
    assert read["cohort"]["open_episodes"] == reg.truth["child_open_episodes"]
    assert read["cohort"]["step_ups_same_day"] == reg.truth["child_step_ups_same_day"]
    assert read["exclusions"] == [] or all("still open" in e["problem"] for e in read["exclusions"])
    truth = reg.truth["child_att_expected_observed"][OUTCOME]
    assert truth < -0.10  # a planted effect of the size the issue reports, not a null
    lo, hi = est.ci
    assert lo <= truth <= hi, (est.estimate, est.ci, truth)
    assert hi - lo < 0.12  # and an interval narrow enough to mean something


def test_after_index_date_rule_misses_it(authority, monkeypatch):
    reg, code, _, configs = authority
    ev, est = _evaluate(configs["after_index_date"], code, monkeypatch)
    assert ev.inputs.rules.window_start == "after_index_date"
    truth = reg.truth["child_att_expected_observed"][OUTCOME]
    lo, hi = est.ci
    # same-day step-ups are not counted: supported children look better than they did
    assert hi < truth, (est.estimate, est.ci, truth)
    assert est.estimate < 1.5 * truth


def test_generator_options_move_dates_not_outcomes():
    from ehimpact.data.outcomes import OutcomeRules, derive_flags
    from ehimpact.errors import InputError

    base = region(2, seed=5, children_per_authority=400)
    moved = region(2, seed=5, children_per_authority=400, step_up_same_day_share=0.5)
    # same children, same outcomes under the default rule: only CSC referral dates moved
    pd.testing.assert_frame_equal(base.children, moved.children)
    assert base.truth["child_att"] == moved.truth["child_att"]
    assert moved.truth["child_step_ups_same_day"] > 20
    strict = derive_flags(moved.children, moved.events, OutcomeRules(window_start="after_index_date"))
    lost = (moved.children[OUTCOME] == 1) & (strict[OUTCOME] == 0)
    assert int(lost.sum()) == moved.truth["child_step_ups_same_day"]
    for bad in ({"step_up_same_day_share": 1.5}, {"extract_date": "2019-06-30"}, {"child_effect_scale": -1},
                {"extract_date": "not a date"}):
        with pytest.raises(InputError):
            region(1, seed=5, children_per_authority=100, **bad)
