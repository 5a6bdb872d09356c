"""Ofsted Annex A reader on the vendored third-party workbook and on variants of it.

``tests/fixtures/external/annex_a/Annex_A.xlsx`` is liiatools 0.2.0's sample (MIT).  The
values asserted below were read by eye from the workbook (openpyxl, values only).
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pandas as pd
import pytest

from ehimpact.data.annex_a import read_annex_a
from ehimpact.data.privacy import pseudonymise
from ehimpact.errors import InputError

SAMPLE = Path(__file__).parent / "fixtures" / "external" / "annex_a" / "Annex_A.xlsx"
SALT = "fixture-salt-123"


def h(raw) -> str:
    return pseudonymise([str(raw)], SALT)[0]


@pytest.fixture(scope="module")
def annex():
    return read_annex_a(SAMPLE, salt=SALT, authority_code="E09000001")


def _copy(tmp_path: Path, edit) -> Path:
    """The sample with ``edit(workbook)`` applied."""
    import openpyxl

    book = openpyxl.load_workbook(SAMPLE)
    edit(book)
    out = tmp_path / "annex.xlsx"
    book.save(out)
    return out


def test_lists_1_to_8_read_and_9_to_11_ignored(annex):
    assert sorted(annex.lists) == [1, 2, 3, 4, 5, 6, 7, 8]
    counts = {t: c["kept"] for t, c in annex.report.counts["Annex_A.xlsx"].items()}
    assert counts == {"List 1": 5, "List 2": 5, "List 3": 6, "List 4": 5, "List 5": 5,
                      "List 6": 5, "List 7": 7, "List 8": 5}
    ignored = {p.record for p in annex.report.problems if p.action == "ignored"}
    assert ignored == {"sheet 'List 9'", "sheet 'List 10'", "sheet 'List 11'"}


def test_coverage_earliest_and_latest_per_list(annex):
    cov = annex.coverage.set_index("list")
    assert cov.loc[2, ["earliest", "latest"]].tolist() == [pd.Timestamp("2020-09-16"),
                                                          pd.Timestamp("2020-09-18")]
    assert cov.loc[3, "earliest"] == cov.loc[3, "latest"] == pd.Timestamp("2020-09-16")
    assert cov.loc[7, ["earliest", "latest"]].tolist() == [pd.Timestamp("2019-06-25"),
                                                          pd.Timestamp("2021-02-08")]
    assert cov.loc[8, "date_field"] == "cla_start" and cov.loc[8, "n_rows"] == 5


def test_list_2_reach(annex):
    reach = annex.reach()
    assert reach["children"] == 5 and reach["assessments"] == 5
    assert reach["completed"] == 5 and reach["open"] == 0
    assert (reach["earliest"], reach["latest"]) == ("2020-09-16", "2020-09-18")
    assert reach["by_organisation"] == {"Early Help Locality 2": 3, "Top Town Academy": 1,
                                        "Early Help Service": 1}
    first = annex.lists[2].iloc[0]
    assert first.child_id == h(612306) and first.assessment_end == pd.Timestamp("2020-09-30")


def test_events_in_the_data_contract_layout(annex):
    ev = annex.events()
    assert ev.columns.tolist() == ["child_id", "authority_code", "event_type", "event_date",
                                   "detail", "source"]
    assert ev.event_type.value_counts().to_dict() == {
        "cpp_start": 7, "csc_referral": 6, "s47": 5, "cla_start": 5, "cpp_end": 5}
    assert (ev.authority_code == "E09000001").all()
    by = ev.set_index(["child_id", "event_type"])
    # List 3 row 2: 6537810, referred 16/09/2020 by "s) 8: Other"; the same child's s47 (List 5)
    assert by.loc[(h(6537810), "csc_referral"), "detail"] == "other"
    assert by.loc[(h(6537810), "s47"), "event_date"] == pd.Timestamp("2020-09-16")
    assert by.loc[(h(4653765), "csc_referral"), "detail"] == "health"   # "j) 3D: Health services"
    # List 7 row 2: 10721552, plan 23/11/2020 - 16/02/2021, physical abuse
    assert by.loc[(h(10721552), "cpp_start"), ["event_date", "detail"]].tolist() == [
        pd.Timestamp("2020-11-23"), "PHY"]
    assert by.loc[(h(10721552), "cpp_end"), "event_date"] == pd.Timestamp("2021-02-16")
    # List 8 row 2: 1761444, looked after from 06/08/2009 under "E1: Placement order"
    assert by.loc[(h(1761444), "cla_start"), ["event_date", "detail"]].tolist() == [
        pd.Timestamp("2009-08-06"), "E1"]
    assert set(ev.source) == {"annex_a list 3", "annex_a list 5", "annex_a list 7",
                              "annex_a list 8"}


def test_ids_link_with_the_other_readers(annex, tmp_path):
    # the same child id in a CIN census / SSDA903 / export hashes to the same pseudonym
    (tmp_path / "episodes.csv").write_text(
        "CHILD,DECOM,RNE,LS,CIN,PLACE,PLACE_PROVIDER,DEC,REC,REASON_PLACE_CHANGE,HOME_POST,PL_POST,URN\n"
        "1761444,06/08/2009,S,E1,N1,U6,PR4,,,,,,\n")
    from ehimpact.data.ssda903 import read_ssda903

    lac = read_ssda903({"episodes": tmp_path / "episodes.csv"}, salt=SALT)
    assert lac.events().child_id.iloc[0] in set(annex.events().child_id)


def test_codes_normalised(annex):
    l1 = annex.lists[1]
    # List 1: "Female" and "b) Female" are both female; "a) Male" male
    assert l1.sex.tolist()[:3] == ["female", "female", "male"]
    assert l1.ethnicity.tolist()[:3] == ["white", "asian", "unknown"]  # WBRI, APKN, NOBT
    assert annex.lists[2].sex.iloc[1] == "other_unknown"            # "c) Not stated/recorded"
    assert annex.lists[8].ethnicity.iloc[2] == "unknown"             # blank ethnicity
    assert annex.lists[5].icpc_not_required.tolist()[:3] == [0, 0, 1]
    assert annex.lists[8].legal_status.tolist() == ["E1", "C2", "C2", "C2", "C1"]
    # an unrecognised need code is set to missing and counted, never guessed
    assert pd.isna(annex.lists[6].primary_need.iloc[0])              # "PSRMEM - Support ..."
    assert any(p.field == "List 6 Primary Need Code" and p.action == "value set to missing"
               for p in annex.report.problems)


def test_no_names_postcodes_or_birth_dates_kept(annex):
    text = "".join(t.astype(str).to_csv() for t in annex.lists.values())
    text += annex.events().astype(str).to_csv()
    for secret in ("Dustin", "Hazlett", "Mathilde", "Eugene Swift", "T28 2WB", "C25 1YT",
                   "2015-01-25", "9212044", "Locality 4 Duty Team"):
        assert secret not in text
    assert "birth_month" in annex.lists[1] and "date_of_birth" not in annex.lists[1]
    assert annex.lists[1].birth_month.iloc[0] == pd.Timestamp("2015-01-01")


def test_text_dates_and_serial_numbers(tmp_path):
    def edit(book):
        ws = book["List 3"]
        ws["F2"] = "16/09/2020"          # DD/MM/YYYY text
        ws["F3"] = 44090                 # an Excel serial number (2020-09-16)
    annex = read_annex_a(_copy(tmp_path, edit), salt=SALT)
    assert (annex.lists[3].referral_date == pd.Timestamp("2020-09-16")).all()

    def iso(book):
        ws = book["List 7"]
        for row in range(2, 9):
            cell = ws.cell(row=row, column=7)
            cell.value = cell.value.strftime("%Y-%m-%d")
    annex = read_annex_a(_copy(tmp_path, iso), salt=SALT)
    assert annex.lists[7].cpp_start.iloc[0] == pd.Timestamp("2020-11-23")


def test_mixed_text_dates_refused(tmp_path):
    def edit(book):
        ws = book["List 3"]
        ws["F2"], ws["F3"] = "16/09/2020", "17/09/2020"
        ws["F4"], ws["F5"] = "2020-09-16", "2020-09-18"
    with pytest.raises(InputError, match=r"sheet 'List 3'.*column Date of Referral mixes date "
                       r"formats: DD/MM/YYYY in 2 row\(s\) \(e.g. List 3 row 2, List 3 row 3\); "
                       r"YYYY-MM-DD \(ISO\) in 2 row\(s\)"):
        read_annex_a(_copy(tmp_path, edit), salt=SALT)


def test_headings_of_another_authority(tmp_path):
    def edit(book):
        ws = book["List 3"]
        ws["A1"], ws["F1"] = "LA Child ID", "Referral Received"
        book["List 3"].title = "List 3 - Referrals"
    path = _copy(tmp_path, edit)
    with pytest.raises(InputError) as err:
        read_annex_a(path, salt=SALT)
    msg = str(err.value)
    assert "sheet 'List 3 - Referrals' (list 3, referrals): no column for referral_date" in msg
    assert "'Referral Received'" in msg and "data_map" in msg
    annex = read_annex_a(path, salt=SALT,
                         data_map={"headings": {3: {"referral_date": ["referral received"]}}})
    assert len(annex.lists[3]) == 6 and annex.lists[3].child_id.iloc[0] == h(6537810)
    with pytest.raises(InputError, match="list 3 has no field 'referal_date'"):
        read_annex_a(path, salt=SALT, data_map={"headings": {3: {"referal_date": ["x"]}}})


def test_data_map_yaml_duplicate_key_refused(tmp_path):
    (tmp_path / "map.yaml").write_text("headings:\n  3: {referral_date: [a]}\n  3: {referral_date: [b]}\n")
    with pytest.raises(InputError, match="appears twice"):
        read_annex_a(SAMPLE, salt=SALT, data_map=tmp_path / "map.yaml")


def test_blank_ids_and_dates_excluded_and_counted(tmp_path):
    def edit(book):
        ws = book["List 5"]
        ws["A2"] = None                       # blank child id
        ws["G3"] = "not recorded"             # unreadable s47 date
        ws["G4"] = None                       # blank s47 date
    annex = read_annex_a(_copy(tmp_path, edit), salt=SALT)
    assert annex.report.counts["annex.xlsx"]["List 5"] == {"read": 5, "kept": 2, "excluded": 3}
    reasons = annex.report.exclusions().set_index("problem")["n"].to_dict()
    assert reasons == {"blank child id": 1, "not a valid date in DD/MM/YYYY format": 1,
                       "required date is blank": 1}


def test_not_a_workbook_is_one_line(tmp_path):
    (tmp_path / "annex.xlsx").write_text("Child Unique ID,Gender\n1,F\n")
    with pytest.raises(InputError) as err:
        read_annex_a(tmp_path / "annex.xlsx", salt=SALT)
    assert "annex.xlsx is not an Excel .xlsx workbook: its content is text (CSV?)" in str(err.value)
    assert "\n" not in str(err.value)

    def rename(book):
        for ws in book.worksheets:
            ws.title = ws.title.replace("List", "Sheet")
    with pytest.raises(InputError, match="has no Annex A list sheets"):
        read_annex_a(_copy(tmp_path, rename), salt=SALT)


def test_workbook_date_cells_need_no_format(annex):
    # the sample's dates are all real date cells: nothing is unreadable
    assert not any("not a valid date" in p.problem for p in annex.report.problems)
    assert isinstance(dt.date.today(), dt.date)


def test_out_of_range_cells_reported_not_crash(tmp_path):
    # found by fuzzing: a date cell in year 2300 overflowed pandas' nanosecond dates, and a
    # count of 1e30 overflowed an integer
    def edit(book):
        ws = book["List 3"]
        ws["F2"] = dt.datetime(2300, 1, 1)
        ws["I3"] = 1e30
    annex = read_annex_a(_copy(tmp_path, edit), salt=SALT)
    frame = annex.report.to_frame().set_index("record")
    assert frame.loc["List 3 row 2", "problem"] == "implausible date (outside 1900-2099)"
    assert frame.loc["List 3 row 2", "action"] == "record excluded"
    assert frame.loc["List 3 row 3", "action"] == "value set to missing"
    assert len(annex.lists[3]) == 5 and annex.lists[3].n_referrals_12m.isna().sum() == 1
