"""CIN census XML reader: hand-built fixture, malformed files, privacy."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from ehimpact.data.cin import read_cin
from ehimpact.data.privacy import pseudonymise
from ehimpact.errors import InputError

FIX = Path(__file__).parent / "fixtures" / "statutory"
SALT = "fixture-salt-123"


def h(raw: str) -> str:
    return pseudonymise([raw], SALT)[0]


@pytest.fixture(scope="module")
def cin():
    return read_cin(FIX / "cin_small.xml", salt=SALT)


def test_tables_from_fixture(cin):
    # 7 <Child> blocks; the 5th has no LAchildID and is excluded -> 6 children
    assert len(cin.children) == 6
    assert cin.report.counts["cin_small.xml"]["children"] == {"read": 7, "kept": 6, "excluded": 1}
    # 9 CINdetails among children with ids (A1:3, B2:1, C3:2, D4:1, E5:1, J9:1);
    # D4's closure is before its referral -> excluded -> 8
    assert len(cin.referrals) == 8
    assert cin.report.counts["cin_small.xml"]["referrals"]["excluded"] == 1
    a1 = cin.referrals[cin.referrals.child_id == h("A1")]
    assert a1.referral_date.dt.strftime("%Y-%m-%d").tolist() == ["2022-05-10", "2023-02-01", "2024-03-01"]
    assert a1.referral_source.tolist() == ["school", "police", "health"]
    assert a1.referral_nfa.tolist() == [0, 0, 1]
    # Section47: A1 and B2 valid; E5's date 2023-13-01 invalid -> excluded
    assert sorted(cin.section47.child_id) == sorted([h("A1"), h("B2")])
    # plans: A1 1, B2 1, C3 2
    assert len(cin.cpp) == 4
    b2 = cin.cpp[cin.cpp.child_id == h("B2")].iloc[0]
    assert b2.n_previous_cpp == 1 and b2.initial_category == "EMO" and pd.isna(b2.end_date)
    assert cin.assessments.factors.tolist() == ["3A|4A"]
    assert cin.authority_code == "E06000036"


def test_child_characteristics_generalised(cin):
    kids = cin.children.set_index("child_id")
    assert kids.loc[h("A1"), "sex"] == "male"          # <Sex>M</Sex>
    assert kids.loc[h("B2"), "sex"] == "female"        # <GenderCurrent>2</GenderCurrent>
    assert kids.loc[h("B2"), "ethnicity"] == "black"   # BAFR
    assert kids.loc[h("B2"), "disability"] == 1        # LD
    assert kids.loc[h("A1"), "disability"] == 0        # NONE
    # birth date generalised to month; no UPN, no raw id anywhere
    assert kids.loc[h("A1"), "birth_month"] == pd.Timestamp("2015-06-01")
    assert "UPN" not in cin.children and "upn" not in cin.children
    text = pd.concat([cin.children.astype(str), cin.referrals.astype(str)]).to_csv()
    assert "A123456789012" not in text and "2015-06-15" not in text
    assert kids.loc[h("E5"), "ethnicity"] == "unknown"  # code XXXX reported


def test_report_names_file_record_field(cin):
    frame = cin.report.to_frame()
    row = frame[frame.field == "S47ActualStartDate"].iloc[0]
    assert row.file == "cin_small.xml"
    assert row.record == "child 6 (Children/Child[6])/CINdetails[1]/Section47[1]"
    assert row.action == "record excluded"
    assert {"LAchildID", "CINclosureDate", "Ethnicity"} <= set(frame.field)
    assert "E5" not in cin.report.to_dict()["problems"].__repr__()


def test_events_layout(cin):
    ev = cin.events("E06000036")
    assert list(ev.columns) == ["child_id", "authority_code", "event_type", "event_date", "detail"]
    counts = ev.event_type.value_counts().to_dict()
    # 8 referrals, 2 s47, 4 plan starts, 2 plan ends (A1, C3's first)
    assert counts == {"csc_referral": 8, "cpp_start": 4, "s47": 2, "cpp_end": 2}


def test_broken_xml_is_an_input_error_never_read_in_part(tmp_path):
    text = (FIX / "cin_small.xml").read_text()
    # break the closing tag of B2's child block (the 2nd child)
    i = text.index("<LAchildID>B2</LAchildID>")
    j = text.index("</Child>", i)
    broken = text[:j] + "</Chil>" + text[j + len("</Child>"):]
    line = broken[:j].count("\n") + 1
    path = tmp_path / "broken.xml"
    path.write_text(broken)
    with pytest.raises(InputError, match=rf"broken.xml: not well-formed XML at line {line}, column") as err:
        read_cin(path, salt=SALT)
    assert err.value.field == "cin_xml" and err.value.rows == [line]
    assert "export it again" in err.value.fix and "nothing was read" in str(err.value)


def test_namespaced_file_is_refused(tmp_path):
    text = (FIX / "cin_small.xml").read_text().replace(
        "<Message>", '<Message xmlns="http://www.dcsf.gov.uk/schemas/cbds">')
    path = tmp_path / "ns.xml"
    path.write_text(text)
    with pytest.raises(InputError, match=r"ns.xml: the root element <Message> is in the XML namespace "
                                         r"'http://www.dcsf.gov.uk/schemas/cbds' \(declared at line 3\)"):
        read_cin(path, salt=SALT)


@pytest.mark.parametrize(("content", "message"), [
    ("", "x.xml: the file is empty"),
    ("not xml at all", "x.xml: not well-formed XML at line 1, column 1"),
    ("<Message><Children></Children></Message>", "x.xml: no readable <Child>"),
    ("<Return><Children></Children></Return>", "the root element is <Return>, not <Message>"),
])
def test_unreadable_file_raises(tmp_path, content, message):
    path = tmp_path / "x.xml"
    path.write_text(content)
    with pytest.raises(InputError, match=message) as err:
        read_cin(path, salt=SALT)
    assert err.value.field == "cin_xml"


def test_missing_file_and_salt(tmp_path, monkeypatch):
    with pytest.raises(InputError, match="file not found"):
        read_cin(tmp_path / "none.xml", salt=SALT)
    monkeypatch.delenv("EHIMPACT_SALT", raising=False)
    with pytest.raises(InputError, match="no salt") as err:
        read_cin(FIX / "cin_small.xml")
    assert err.value.field == "salt"


def test_two_years_deduplicated(tmp_path):
    cin = read_cin([FIX / "cin_small.xml", FIX / "cin_small.xml"], salt=SALT)
    assert len(cin.referrals) == 8 and len(cin.cpp) == 4 and len(cin.children) == 6


def test_nested_child_tag_found_by_fuzzing(tmp_path):
    # hypothesis found this: an extra "<Child>" before a child made iterparse see a Child
    # inside a Child.  The file is not well-formed (the tags no longer match), so it is now
    # refused as a whole, at the line where the mismatch shows
    text = (FIX / "cin_small.xml").read_text()
    i = text.index("<Child>")
    path = tmp_path / "nested.xml"
    path.write_text(text[:i] + "<Child>" + text[i:])
    with pytest.raises(InputError, match="nested.xml: not well-formed XML at line"):
        read_cin(path, salt=SALT)
