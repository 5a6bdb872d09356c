"""Outcome derivation on the hand-built fixture: every number is counted by hand below."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
import yaml

from ehimpact.data.outcomes import OutcomeRules, flag_within, index_dates, repeat_plans, rereferrals
from ehimpact.data.statutory import read_statutory
from ehimpact.errors import InputError

FIX = Path(__file__).parent / "fixtures" / "statutory"
SALT = "fixture-salt-123"
# the fixture is built to have bad records: a third of some tables is excluded on purpose
LENIENT = OutcomeRules(max_excluded_share=1.0, extract_date="2026-03-31")


def small_mapping() -> dict:
    """The fixture mapping, with its two deliberately unknown codes (X, HV) mapped to missing."""
    spec = yaml.safe_load((FIX / "eh_small_mapping.yaml").read_text())
    spec["fields"]["sex"]["codes"]["X"] = None
    spec["fields"]["referral_source"]["codes"]["HV"] = None
    return spec


@pytest.fixture(scope="module")
def data():
    return read_statutory(
        local_export=FIX / "eh_small.csv", mapping=small_mapping(),
        cin_xml=FIX / "cin_small.xml",
        ssda903_dir={"episodes": FIX / "903_episodes.csv", "header": FIX / "903_header.csv"},
        salt=SALT, rules=LENIENT, census_years="report",  # one hand-built census holds every year
    )


def test_rereferral_rate_hand_count(data):
    # CSC referrals kept from cin_small.xml (D4's is excluded: closed before referred):
    #   A1: 2022-05-10, 2023-02-01 (8.7 months after the previous -> RE-REFERRAL),
    #       2024-03-01 (13 months after 2023-02-01 -> not)
    #   B2: 2023-01-15
    #   C3: 2023-04-01, 2024-04-01 (exactly 12 months -> "within 12 months": RE-REFERRAL)
    #   E5: 2023-07-01;  J9: 2022-10-01
    # -> 8 referrals, 2 re-referrals, rate 2/8 = 0.25
    m = data.measures
    assert (m["csc_referrals"], m["csc_rereferrals"]) == (8, 2)
    assert m["csc_rereferral_rate"] == pytest.approx(2 / 8, abs=1e-12)


def test_repeat_plan_rate_hand_count(data):
    # plan starts: A1 2023-03-01 (first ever, NumberOfPreviousCPP 0 in this hand-built file)
    #              B2 2023-02-01 (NumberOfPreviousCPP 1: a first plan, since every DfE schema makes
    #              the field a positive integer, so a repeat is 2 or more)
    #              C3 2023-05-01 (first), C3 2024-05-01 (earlier plan in data -> REPEAT)
    # -> 4 starts, 1 repeat, rate 0.25
    m = data.measures
    assert (m["cpp_starts"], m["cpp_repeats"]) == (4, 1)
    assert m["cpp_repeat_rate"] == pytest.approx(0.25, abs=1e-12)


def test_eh_rereferral_rate_hand_count(data):
    # export referrals: A1 01/02/2022 and 05/01/2023 (11 months later -> re-referral),
    # B2, C3, G7, H8, J9 -> 7 referrals, 1 re-referral
    assert data.measures["eh_referrals"] == 7
    assert data.measures["eh_rereferral_rate"] == pytest.approx(1 / 7, abs=1e-12)


EXPECTED = pd.DataFrame(
    # index_date: A1 end 2022-04-30; B2 end 2022-03-31; J9 end 2023-06-30;
    # C3 (comparison) referral 2022-09-01 + median supported length
    # (A1 88 days, B2 80 days, J9 161 days -> median 88) = 2022-11-28
    {
        "index_date": pd.to_datetime(["2022-04-30", "2022-03-31", "2022-11-28", "2023-06-30"]),
        # A1 EH re-referral 2023-01-05 is within (2022-04-30, 2023-04-30]
        "reref_eh_12m":     [1, 0, 0, 0],
        # A1 csc 2022-05-10; B2 csc 2023-01-15 <= 2023-03-31; C3 csc 2023-04-01 <= 2023-11-28;
        # J9 csc 2022-10-01 is before its index date
        "csc_referral_12m": [1, 1, 1, 0],
        # within 6 months: A1 yes (May 2022); B2 no (Jan 2023 > 2022-09-30);
        # C3 2023-04-01 <= 2023-05-28 yes; J9 no
        "csc_referral_6m":  [1, 0, 1, 0],
        # A1 s47 2023-02-10; B2 s47 2023-01-20; C3 none; J9 none
        "s47_12m":          [1, 1, 0, 0],
        # A1 plan 2023-03-01 <= 2023-04-30; B2 2023-02-01; C3 2023-05-01 <= 2023-11-28
        "cpp_12m":          [1, 1, 1, 0],
        # first vs repeat plan: B2's plan has NumberOfPreviousCPP = 1, which the DfE schema's
        # positive integer makes a first plan (a repeat is 2 or more) -> first
        "cpp_first_12m":    [1, 1, 1, 0],
        "cpp_repeat_12m":   [0, 0, 0, 0],
        # A1 RNE=S 2023-10-01 <= 2024-04-30; B2 2023-03-15 <= 2024-03-31;
        # B2's second S episode is excluded (DEC before DECOM); C3's S episode has an
        # impossible DECOM (excluded), its other episode is RNE P
        "cla_24m":          [1, 1, 0, 0],
        # step-up: csc referral between EH start (referral for C3) and index + 12 months
        "step_up":          [1, 1, 1, 0],
        # step-down: J9's CIN episode closed 2022-12-01, EH referral 2023-01-20 (< 3 months)
        "step_down":        [0, 0, 0, 1],
    }
)


def test_child_flags_hand_count(data):
    got = data.children[EXPECTED.columns].copy()
    for col in EXPECTED.columns[1:]:
        got[col] = got[col].astype("int64")
    pd.testing.assert_frame_equal(got.reset_index(drop=True), EXPECTED, check_dtype=False)


def test_report_dict_json_safe(data):
    import json

    out = json.loads(json.dumps(data.report_dict()))
    assert out["n_children"] == 4
    assert out["counts"]["903_episodes.csv"]["episodes"]["excluded"] == 3
    assert SALT not in json.dumps(out)


def test_window_rule_boundaries():
    kids = pd.DataFrame({"child_id": ["a"] * 3, "index_date": pd.to_datetime(["2020-01-31"] * 3)})
    ev = pd.DataFrame({"child_id": ["a"], "event_type": ["s47"],
                       "event_date": pd.to_datetime(["2021-01-31"])})
    assert flag_within(kids, ev, event_type="s47", months=12).tolist() == [1, 1, 1]
    ev["event_date"] = pd.to_datetime(["2021-02-01"])  # one day past the window
    assert flag_within(kids, ev, event_type="s47", months=12).tolist() == [0, 0, 0]
    ev["event_date"] = pd.to_datetime(["2020-01-31"])  # on the index date: not counted
    assert flag_within(kids, ev, event_type="s47", months=12).tolist() == [0, 0, 0]


def test_rate_functions_period_and_errors():
    r = pd.DataFrame({"child_id": ["a", "a", "b"],
                      "referral_date": pd.to_datetime(["2022-12-01", "2023-05-01", "2023-06-01"])})
    out = rereferrals(r, period=("2023-04-01", "2024-03-31"))
    # the Dec 2022 referral is outside the year but still counts as "previous"
    assert out["rereferral"].tolist() == [1, 0] and out.attrs["rate"] == 0.5
    with pytest.raises(InputError, match="referral_date"):
        rereferrals(r.drop(columns="referral_date"))
    plans = pd.DataFrame({"child_id": ["a", "a"], "start_date": pd.to_datetime(["2015-01-01", "2023-06-01"])})
    assert repeat_plans(plans, period=("2023-04-01", "2024-03-31")).attrs["rate"] == 1.0
    # NumberOfPreviousCPP is an xs:positiveInteger in every DfE CIN schema (2017-2024): a first plan is
    # written as 1, so only 2 or more marks a repeat (tests/fixtures/external/cin/CIN_schema_2024.xsd)
    counted = pd.DataFrame({"child_id": ["a", "b", "c"], "n_previous_cpp": [1, 2, 3],
                            "start_date": pd.to_datetime(["2023-05-01"] * 3)})
    assert repeat_plans(counted)["repeat"].tolist() == [0, 1, 1]
    kids = pd.DataFrame({"received_early_help": [0], "referral_date": pd.to_datetime(["2022-01-01"]),
                         "end_date": [pd.NaT]})
    with pytest.raises(InputError, match="no closed supported episode"):
        index_dates(kids)


def test_export_only_and_mapping_identifier_refused():
    # without CIN / SSDA903 the statutory flags are 0 (no events), the EH re-referral remains
    only = read_statutory(local_export=FIX / "eh_small.csv", mapping=small_mapping(), salt=SALT,
                          rules=LENIENT)
    assert only.children["reref_eh_12m"].tolist() == [1, 0, 0, 0]
    assert only.children[["csc_referral_12m", "s47_12m", "cpp_12m", "cla_24m"]].sum().sum() == 0
    assert "csc_rereferral_rate" not in only.measures
    assert (only.events.authority_code == "E06000036").all()
    spec = small_mapping()
    spec["fields"]["child_surname"] = "Surname"  # an alias of a dictionary direct identifier
    with pytest.raises(InputError, match="child_surname: is a direct identifier"):
        read_statutory(local_export=FIX / "eh_small.csv", mapping=spec, salt=SALT, rules=LENIENT)


@pytest.mark.parametrize("kwargs", [{"csc_months": "12"}, {"csc_months": (0,)},
                                    {"step_up_months": 1.5}, {"step_down_months": True}])
def test_window_arguments_checked(kwargs):
    with pytest.raises(InputError, match="whole numbers of months"):
        read_statutory(local_export=FIX / "eh_small.csv", mapping=small_mapping(),
                       salt=SALT, rules=LENIENT, **kwargs)
