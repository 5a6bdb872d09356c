"""Data dictionaries: contract columns present, every field complete, core data set complete."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from ehimpact.data import dictionary
from ehimpact.data.synthetic import OUTCOME_WINDOWS
from ehimpact.errors import InputError

CONTRACT = Path(__file__).resolve().parents[1] / "docs" / "DATA_CONTRACT.md"


def _contract_columns(section: str) -> set[str]:
    """Backticked column names in the first cell of the tables of one contract section."""
    text = CONTRACT.read_text()
    body = text.split(f"## {section}")[1].split("\n## ")[0]
    cols: set[str] = set()
    for line in body.splitlines():
        if line.startswith("| `"):
            cols |= set(re.findall(r"`([a-z0-9_]+)`", line.split("|")[1]))
    return cols


def test_child_level_has_every_contract_column_with_its_name():
    d = dictionary.get("child_level")
    cols = _contract_columns("1.")
    assert len(cols) == 33  # 17 descriptors + 6 TF flags + 8 outcomes + open_episode + synthetic
    assert cols <= set(d.fields), cols - set(d.fields)


def test_authority_panel_has_every_contract_column():
    d = dictionary.get("authority_panel")
    cols = _contract_columns("3.") - {"count"}  # `<count>_rate` is a pattern
    assert cols <= set(d.fields), cols - set(d.fields)
    for count in ("referrals", "re_referrals", "cin", "s47", "cpp_starts", "cla", "eh_assessments"):
        assert d.fields[f"{count}_rate"].unit == "per 10,000 children aged 0-17"


@pytest.mark.parametrize("name", dictionary.available())
def test_every_field_is_complete(name):
    d = dictionary.get(name)
    for f in d.fields.values():
        assert f.type in dictionary.TYPES
        assert f.source in dictionary.SOURCES
        assert f.sensitivity in dictionary.SENSITIVITY
        assert len(f.description) > 10, f.name
        if f.type == "category":
            assert f.allowed, f.name
        if f.sensitivity == "direct_identifier":
            assert not f.allowed_on_load
    assert set(d.keys) <= set(d.fields)
    for rule in d.date_order:
        assert {rule["earlier"], rule["later"]} <= set(d.fields)
    for rule in d.rules:
        assert rule["column"] in d.fields and rule["fix"] and rule["problem"]


def test_direct_identifiers_listed_and_refused():
    d = dictionary.get("child_level")
    names = {f.name for f in d.direct_identifiers()}
    assert names == {"child_name", "address", "postcode", "upn", "date_of_birth", "nhs_number"}
    assert d.match("D.O.B").name == "date_of_birth"  # dots, spaces, _ and - are ignored
    assert d.match("dobby") is None
    assert d.match("Date Of Birth").name == "date_of_birth"
    assert d.match("dob").name == "date_of_birth"


def test_outcome_windows_agree_with_the_flag_derivation():
    d = dictionary.get("child_level")
    for f in d.outcomes():
        assert f.outcome["window_months"] in (12, 24)
        assert f.outcome["window_rule"]
        assert f.outcome["direction_of_good"] in ("higher", "lower", "neutral")
    for flag, (event_type, months) in OUTCOME_WINDOWS.items():
        spec = d.fields[flag].outcome
        assert (spec["event_type"], spec["window_months"]) == (event_type, months)
        assert "index_date <= event_date <= index_date + N" in spec["window_rule"]


def test_core_dataset_covers_appendix_ii():
    core = dictionary.core_dataset()
    areas = core.groupby("area").size().to_dict()
    # seed 002 Appendix II, counting lettered sub-items (breastfeeding a-c, obesity a-b,
    # exclusions a-d) as separate indicators
    assert areas == {"Health": 16, "Early Years": 5, "Education": 9, "Housing": 1, "Work": 5,
                     "Early Help": 9, "Substance Misuse": 1, "Social Care": 11, "Police": 3,
                     "Youth Justice": 1}
    assert core["id"].is_unique
    assert set(core["direction_of_good"]) <= {"higher", "lower", "neutral"}
    assert set(core["tf_domain"]) == {"crime_asb", "school_attendance", "children_need_help",
                                      "worklessness_financial_exclusion", "domestic_abuse",
                                      "health"}
    assert set(core["tf_domain_basis"]) == {"direct", "judgement"}
    assert core[["definition", "unit", "source"]].map(len).gt(2).all().all()


def test_table_view_and_errors():
    tab = dictionary.get("child_level").table()
    assert {"field", "type", "sensitivity", "window_months"} <= set(tab.columns)
    assert tab.set_index("field").loc["cla_24m", "window_months"] == 24
    with pytest.raises(InputError, match="no data dictionary called 'core'") as err:
        dictionary.get("core")
    assert "child_level" in err.value.fix
    with pytest.raises(InputError, match="sensitivity"):
        dictionary._field("x", {"type": "string", "required": True, "nullable": True,
                                "description": "an x", "source": "derived",
                                "sensitivity": "secret"}, "test")
    with pytest.raises(InputError, match="allowed_on_load"):
        dictionary._field("nm", {"type": "string", "required": False, "nullable": True,
                                 "description": "a name", "source": "local system",
                                 "sensitivity": "direct_identifier", "allowed_on_load": True},
                          "test")
