"""Authorities reference table: counts, regions, lookups and errors."""

from __future__ import annotations

import pytest

from ehimpact.data import authorities
from ehimpact.errors import InputError


def test_153_current_authorities_with_children_services_codes():
    tab = authorities.table()
    # 152 in the ONS April 2021 lookup, -3 abolished counties, +4 new unitaries (DOMAIN.md s.6)
    assert len(tab) == 153
    assert tab["gss_code"].is_unique
    assert set(tab["gss_code"].str[:3]) == {"E06", "E08", "E09", "E10"}
    assert tab["code_name_source"].str.len().gt(0).all()
    assert tab["region_source"].str.startswith("derived").all()


def test_region_counts_match_known_totals():
    counts = authorities.table().groupby("region_code").size().to_dict()
    assert counts == {
        "E12000001": 12, "E12000002": 24, "E12000003": 15, "E12000004": 10, "E12000005": 14,
        "E12000006": 11, "E12000007": 33, "E12000008": 19, "E12000009": 15,
    }


def test_south_east_has_the_19_authorities_of_seed_002():
    se = authorities.region("South East")
    assert len(se) == 19
    assert {"Surrey", "Kent", "Medway", "Isle of Wight", "Buckinghamshire"} <= set(se["name"])
    assert authorities.region("e12000008").equals(se)


def test_lookup_by_code_name_and_former():
    assert authorities.lookup("E10000030")["name"] == "Surrey"
    assert authorities.lookup("  brighton and hove ")["gss_code"] == "E06000043"
    cumbria = authorities.lookup("E10000006")
    assert not cumbria["current"]
    assert cumbria["replaced_by"] == "E06000063;E06000064"
    assert "E10000006" not in set(authorities.table()["gss_code"])
    assert "E10000006" in set(authorities.table(include_former=True)["gss_code"])


def test_unknown_codes_raise_input_error_with_suggestion():
    with pytest.raises(InputError, match="did you mean Surrey") as err:
        authorities.lookup("Surey")
    assert err.value.field == "authority_code"
    with pytest.raises(InputError, match="not an English region"):
        authorities.region("E12000010")
