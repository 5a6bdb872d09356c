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


# ----------------------------------------------------------------------------- DfE LA numbers


def test_every_authority_has_a_three_digit_la_number_with_its_source():
    tab = authorities.table(include_former=True)
    assert tab["la_number"].str.fullmatch(r"\d{3}").all()
    assert tab["la_number_source"].str.contains("old_la_code").all()
    # unique among current authorities (North Yorkshire 815 and Somerset 933 were reused in 2023)
    assert authorities.table()["la_number"].is_unique


def test_la_numbers_match_dfe_publications():
    # REAL_DATA.md's South East list, plus the London examples and the liiatools sample's 201
    expected = {
        "825": "Buckinghamshire", "826": "Milton Keynes", "845": "East Sussex",
        "846": "Brighton and Hove", "850": "Hampshire", "851": "Portsmouth", "852": "Southampton",
        "867": "Bracknell Forest", "868": "Windsor and Maidenhead", "869": "West Berkshire",
        "870": "Reading", "871": "Slough", "872": "Wokingham", "886": "Kent", "887": "Medway",
        "921": "Isle of Wight", "931": "Oxfordshire", "936": "Surrey", "938": "West Sussex",
        "201": "City of London", "202": "Camden",
    }  # fmt: skip
    for number, name in expected.items():
        assert authorities.lookup(authorities.resolve(number))["name"] == name, number
    assert set(authorities.region("South East")["la_number"]) == {
        n for n in expected if n not in ("201", "202")}


def test_resolve_gss_code_la_number_and_unknown():
    assert authorities.resolve("E10000030") == "E10000030"
    assert authorities.resolve(" e06000035 ") == "E06000035"
    assert authorities.resolve("936") == "E10000030"
    assert authorities.resolve(887) == "E06000035"
    assert authorities.resolve("815") == "E06000065"  # the current North Yorkshire, not the county
    assert authorities.resolve("909") == "E10000006"  # Cumbria (former) still resolves
    assert authorities.la_number("E06000035") == "887"
    assert authorities.la_number("938") == "938"
    with pytest.raises(InputError, match=r"LA number '999'.*close matches: 943") as err:
        authorities.resolve("999")
    assert err.value.field == "authority_code"
    assert "la_number" in err.value.fix
    with pytest.raises(InputError, match=r"GSS code 'E1000003'.*E100000"):
        authorities.resolve("E1000003")
