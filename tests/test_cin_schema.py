"""CIN census files against the DfE: schema validity, a third-party sample, several years, loud failures.

The schemas and the sample are the DfE's / Social Finance's (vendored from the liiatools 0.2.0
wheel, see tests/fixtures/external/README.md), not ours: a round trip through our own writer
cannot show that either side follows the DfE.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pandas as pd
import pytest
import xmlschema

from ehimpact.data import authorities
from ehimpact.data.cin import read_cin
from ehimpact.data.privacy import pseudonymise
from ehimpact.data.statutory_writer import census_year, cin_schema_year, write_statutory
from ehimpact.data.synthetic import region
from ehimpact.errors import InputError

EXTERNAL = Path(__file__).parent / "fixtures" / "external" / "cin"
SAMPLE = EXTERNAL / "cin-2022.xml"
SALT = "cin-schema-salt-99"


@pytest.fixture(scope="module")
def schemas():
    return {y: xmlschema.XMLSchema(EXTERNAL / f"CIN_schema_{y}.xsd") for y in range(2017, 2025)}


@pytest.fixture(scope="module")
def written(tmp_path_factory):
    # starts April 2020, so the CIN events run into the 2024 and 2025 collection years
    reg = region(n_authorities=2, children_per_authority=400, seed=5, start="2020-04-01")
    return reg, write_statutory(reg, tmp_path_factory.mktemp("cin_schema"))


def _year(path: Path) -> int:
    return int(re.search(r"(\d{4})\.xml$", path.name).group(1))


# ----------------------------------------------------------------------------- schema validity


def test_every_written_census_file_is_valid_against_the_dfe_schema_of_its_year(written, schemas):
    _, files = written
    years = set()
    for f in files.values():
        assert f.cin_files, f.authority_code
        for path in f.cin_files:
            year = _year(path)
            schema = schemas[cin_schema_year(year)]
            errors = [str(e).splitlines()[0] for e in schema.iter_errors(path)]
            assert errors == [], (path.name, errors[:3])
            years.add(cin_schema_year(year))
    assert {2022, 2023, 2024} <= years


def test_validation_can_fail(schemas, tmp_path):
    # the faults of the old writer (issue 12) are schema errors: the check above can fail
    text = SAMPLE.read_text()
    assert schemas[2022].is_valid(SAMPLE)
    for old, new in [("<Year>2022</Year>", "<Year>synthetic</Year>"),
                     ("<LEA>201</LEA>", "<LEA>E09000001</LEA>"),
                     ("<GenderCurrent>1</GenderCurrent>", "<Sex>M</Sex>"),
                     ("<NumberOfPreviousCPP>10</NumberOfPreviousCPP>",
                      "<NumberOfPreviousCPP>0</NumberOfPreviousCPP>"),
                     ("<LatestCategoryOfAbuse>PHY</LatestCategoryOfAbuse>", "")]:
        bad = tmp_path / "bad.xml"
        bad.write_text(text.replace(old, new))
        assert not schemas[2022].is_valid(bad), new
    # codes a year does not know: CINPlanDates before 2022, referral source 5D before 2023
    assert not schemas[2021].is_valid(SAMPLE)
    bad.write_text(text.replace("<ReferralSource>1A</ReferralSource>",
                                "<ReferralSource>5D</ReferralSource>"))
    assert not schemas[2022].is_valid(bad) and schemas[2023].is_valid(bad)


def test_written_files_carry_the_dfe_elements(written):
    _, files = written
    f = files["E06000035"]
    assert f.la_number == "887" and f.cin_xml.is_dir()
    assert list(f.cin_files) == sorted(f.cin_xml.glob("*.xml"))
    text = "\n".join(p.read_text() for p in f.cin_files)
    assert "<LEA>887</LEA>" in text and "<Sex>" not in text and "synthetic</Year>" not in text
    for element in ("GenderCurrent", "AssessmentFactors", "CINPlanStartDate", "ICPCnotRequired",
                    "DateOfInitialCPC", "LatestCategoryOfAbuse", "CPPreviewDate", "CINclosureDate",
                    "ReasonForClosure"):
        assert f"<{element}>" in text, element
    assert "<NumberOfPreviousCPP>0<" not in text
    # a child's referrals in later years: one more CINdetails in a later file
    assert "<CINdetails>" in text
    for path in f.cin_files:
        year = _year(path)
        head = path.read_text()[:1500]
        assert f"<Year>{year}</Year><ReferenceDate>{year}-03-31</ReferenceDate>" in head
        if year < 2022:
            assert "<CINPlanDates>" not in path.read_text()


def test_several_referrals_of_one_child_are_several_cindetails(tmp_path, schemas):
    reg = region(n_authorities=1, children_per_authority=300, seed=8)
    ev = reg.events
    first = ev.loc[ev.event_type == "csc_referral"].drop_duplicates("child_id").head(6)
    again = first.assign(event_date=first.event_date + pd.Timedelta(days=40))
    events = pd.concat([ev, again], ignore_index=True)
    f = write_statutory(children=reg.children, events=events, out_dir=tmp_path)["E06000035"]
    counts = {}
    for path in f.cin_files:
        assert schemas[cin_schema_year(_year(path))].is_valid(path), path.name
        for block in path.read_text().split("<Child>")[1:]:
            cid = re.search(r"<LAchildID>(.*?)</LAchildID>", block).group(1)
            counts[cid] = max(counts.get(cid, 0), block.count("<CINdetails>"))
    assert all(counts[c] >= 2 for c in first.child_id)
    cin = read_cin(f.cin_xml, salt=SALT)
    n = cin.referrals.groupby("child_id").size()
    assert (n.reindex(pseudonymise(first.child_id, SALT)) >= 2).all()


def test_census_years_and_schema_choice():
    assert census_year("2023-04-01") == 2024 and census_year("2024-03-31") == 2024
    assert [cin_schema_year(y) for y in (2015, 2021, 2024, 2025, 2030)] == [2017, 2021, 2024, 2024,
                                                                             2024]


def test_unknown_authority_needs_an_la_number(tmp_path):
    reg = region(n_authorities=1, children_per_authority=60, seed=1)
    kids = reg.children.assign(authority_code="E99999999")
    events = reg.events.assign(authority_code="E99999999")
    with pytest.raises(InputError, match="no DfE 3-digit LA number for authority 'E99999999'"):
        write_statutory(children=kids, events=events, out_dir=tmp_path)
    files = write_statutory(children=kids, events=events, out_dir=tmp_path,
                            la_numbers={"E99999999": "999"})
    assert "<LEA>999</LEA>" in files["E99999999"].cin_files[0].read_text()


# ----------------------------------------------------------------------------- a file written by others


def test_vendored_dfe_sample_is_read_with_the_values_in_the_file(schemas):
    # every value below was read by eye from tests/fixtures/external/cin/cin-2022.xml
    assert schemas[2022].is_valid(SAMPLE)
    cin = read_cin(SAMPLE, salt=SALT)
    assert cin.report.ok, cin.report.to_frame()
    assert cin.la_number == "201" and cin.authority_code == "E09000001"  # City of London
    assert cin.collection_years == [2022]
    assert cin.extract_date == pd.Timestamp("2022-03-31")
    row = cin.census.iloc[0]
    assert (row.period_start, row.period_end) == (pd.Timestamp("2021-04-01"), pd.Timestamp("2022-03-31"))
    cid = pseudonymise(["DfEX0000001"], SALT)[0]
    child = cin.children.set_index("child_id").loc[cid]
    assert child.birth_month == pd.Timestamp("1966-03-01")  # born 1966-03-24
    assert child.sex == "male"  # GenderCurrent 1
    assert child.ethnicity == "white"  # WBRI
    assert child.disability == 1  # HAND, HEAR
    assert child.death_date == pd.Timestamp("1980-10-08")
    ref = cin.referrals.iloc[0]
    assert ref.child_id == cid and ref.referral_date == pd.Timestamp("1970-10-06")
    assert ref.referral_source == "self_family"  # 1A
    assert ref.primary_need == "N4" and ref.reason_for_closure == "RC1" and ref.referral_nfa == 0
    assert ref.closure_date == pd.Timestamp("1971-02-27")
    a = cin.assessments.iloc[0]
    assert (a.start_date, a.authorisation_date, a.factors) == (
        pd.Timestamp("1970-06-03"), pd.Timestamp("1971-07-18"), "2A|2B")
    p = cin.cin_plans.iloc[0]
    assert (p.start_date, p.end_date) == (pd.Timestamp("1971-01-24"), pd.Timestamp("1971-01-26"))
    s = cin.section47.iloc[0]
    assert (s.s47_date, s.icpc_target, s.icpc_date, s.icpc_not_required) == (
        pd.Timestamp("1970-06-02"), pd.Timestamp("1970-06-23"), pd.Timestamp("1970-06-17"), 0)
    c = cin.cpp.iloc[0]
    assert (c.start_date, c.end_date, c.initial_category, c.latest_category, c.n_previous_cpp) == (
        pd.Timestamp("1970-02-17"), pd.Timestamp("1971-03-14"), "PHY", "PHY", 10)
    assert len(cin.children) == len(cin.referrals) == len(cin.cpp) == 1
    ev = cin.events().event_type.value_counts().to_dict()
    assert ev == {"csc_referral": 1, "s47": 1, "cpp_start": 1, "cpp_end": 1}
    assert set(cin.events().authority_code) == {"E09000001"}


# ----------------------------------------------------------------------------- several years


def _two_years(tmp_path: Path) -> list[Path]:
    """The sample as two census years: a referral open at 31 March 2022, closed in 2022-23."""
    text = SAMPLE.read_text()
    early = (text.replace("<CINreferralDate>1970-10-06", "<CINreferralDate>2021-10-06")
             .replace("                <CINclosureDate>1971-02-27</CINclosureDate>\n", "")
             .replace("                <ReasonForClosure>RC1</ReasonForClosure>\n", ""))
    later = (text.replace("<CINreferralDate>1970-10-06", "<CINreferralDate>2021-10-06")
             .replace("<Year>2022</Year>", "<Year>2023</Year>")
             .replace("<ReferenceDate>2022-03-31", "<ReferenceDate>2023-03-31")
             .replace("<CINclosureDate>1971-02-27", "<CINclosureDate>2022-06-30")
             .replace("<PrimaryNeedCode>N4", "<PrimaryNeedCode>N1"))
    folder = tmp_path / "cin"
    folder.mkdir()
    paths = [folder / "cin_2021-22.xml", folder / "cin_2022-23.xml"]
    paths[0].write_text(early)
    paths[1].write_text(later)
    return paths


def test_referral_open_across_31_march_is_one_episode_with_the_later_closure(tmp_path):
    paths = _two_years(tmp_path)
    for given in (paths, paths[::-1]):  # file order does not matter: ReferenceDate does
        cin = read_cin(given, salt=SALT)
        assert len(cin.referrals) == 1
        ref = cin.referrals.iloc[0]
        assert ref.closure_date == pd.Timestamp("2022-06-30") and ref.primary_need == "N1"
        assert len(cin.cpp) == len(cin.section47) == len(cin.assessments) == 1
        assert cin.collection_years == [2022, 2023] and cin.missing_years() == []
        assert cin.extract_date == pd.Timestamp("2023-03-31")
        assert cin.census["file"].tolist() == ["cin_2021-22.xml", "cin_2022-23.xml"]
        assert cin.census["period_start"].tolist() == [pd.Timestamp("2021-04-01"),
                                                       pd.Timestamp("2022-04-01")]
    only_early = read_cin(paths[0], salt=SALT)
    assert only_early.referrals.closure_date.isna().all()  # open at the first census


def test_written_years_combine_to_the_generator_events(written):
    reg, files = written
    f = files["E06000036"]
    cin = read_cin(f.cin_xml, salt=SALT, authority_code="E06000036")
    assert cin.report.ok, cin.report.to_frame().head()
    assert cin.collection_years == sorted(_year(p) for p in f.cin_files)
    # open referrals are restated in the next year's file, yet each is one episode
    per_file = cin.census["n_referrals"].sum()
    assert per_file > len(cin.referrals)
    gen = reg.events.loc[(reg.events.authority_code == "E06000036")
                         & reg.events.event_type.isin(["csc_referral", "s47", "cpp_start", "cpp_end"])]
    got = cin.events()
    for kind in ("csc_referral", "s47", "cpp_start", "cpp_end"):
        want = sorted(zip(pseudonymise(gen.loc[gen.event_type == kind, "child_id"], SALT),
                          gen.loc[gen.event_type == kind, "event_date"], strict=True))
        have = sorted(zip(got.loc[got.event_type == kind, "child_id"],
                          got.loc[got.event_type == kind, "event_date"], strict=True))
        assert have == want, kind
    # a referral closed after 31 March: open in one file, closed in the next
    opened = read_cin(f.cin_files[0], salt=SALT).referrals
    assert opened.closure_date.isna().any()
    merged = cin.referrals.set_index(["child_id", "referral_date"]).closure_date
    open_then = opened.loc[opened.closure_date.isna()].set_index(["child_id", "referral_date"]).index
    assert merged.reindex(open_then).notna().any()


def test_list_folder_and_glob_read_the_same(tmp_path):
    paths = _two_years(tmp_path)
    folder = paths[0].parent
    (folder / "notes.txt").write_text("not a census file")
    results = [read_cin(x, salt=SALT) for x in (paths, folder, str(folder / "cin_*.xml"),
                                                 [str(folder / "*.xml")], str(folder))]
    for r in results:
        assert r.census["file"].tolist() == ["cin_2021-22.xml", "cin_2022-23.xml"]
        pd.testing.assert_frame_equal(r.referrals, results[0].referrals)
    with pytest.raises(InputError, match="no file matches the pattern"):
        read_cin(str(folder / "cin_*.XMLX"), salt=SALT)
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(InputError, match="no .xml file in the folder"):
        read_cin(empty, salt=SALT)


def test_two_files_for_one_year_and_a_gap_between_years(tmp_path):
    paths = _two_years(tmp_path)
    copy = paths[0].parent / "resubmitted.xml"
    shutil.copy(paths[0], copy)
    with pytest.raises(InputError, match=r"2 CIN census files have the same ReferenceDate 2022-03-31: "
                                         r"cin_2021-22.xml, resubmitted.xml"):
        read_cin(paths[0].parent, salt=SALT)
    copy.unlink()
    later = paths[1].read_text().replace("<Year>2023", "<Year>2025").replace(
        "<ReferenceDate>2023-03-31", "<ReferenceDate>2025-03-31")
    paths[1].write_text(later)
    cin = read_cin(paths, salt=SALT)
    assert cin.collection_years == [2022, 2025] and cin.missing_years() == [2023, 2024]
    problem = cin.report.to_frame().iloc[0]
    assert (problem.file, problem.field) == ("cin_2022-23.xml", "Year")
    assert problem.problem == "no census file for collection year(s) 2023, 2024 between 2022 and 2025"


# ----------------------------------------------------------------------------- fail loudly


def test_truncated_file_is_an_input_error_with_file_and_line(tmp_path):
    text = SAMPLE.read_text()
    cut = text.index("<ChildProtectionPlans>")
    path = tmp_path / "cin_2022_truncated.xml"
    path.write_text(text[:cut])
    lines = text[:cut].count("\n") + 1
    with pytest.raises(InputError) as err:
        read_cin([SAMPLE, path], salt=SALT)
    msg = str(err.value)
    assert f"cin_2022_truncated.xml: not well-formed XML at line {lines}, column" in msg
    assert "nothing was read from this file" in msg and "export it again" in msg
    assert err.value.field == "cin_xml" and err.value.rows == [lines]


def test_wrong_namespace_is_an_input_error(tmp_path):
    path = tmp_path / "ns.xml"
    path.write_text(SAMPLE.read_text().replace("<Message>", '<Message xmlns="urn:not-dfe">'))
    with pytest.raises(InputError, match=r"ns.xml: the root element <Message> is in the XML "
                                         r"namespace 'urn:not-dfe' \(declared at line 1\)") as err:
        read_cin(path, salt=SALT)
    assert "no namespace" in str(err.value) and err.value.fix
    inner = tmp_path / "inner.xml"
    inner.write_text(SAMPLE.read_text().replace("<Child>", '<Child xmlns="urn:x">'))
    with pytest.raises(InputError, match="the element <Child> is in the XML namespace 'urn:x'"):
        read_cin(inner, salt=SALT)


def test_lea_mismatch_is_an_input_error_naming_both(tmp_path):
    # the sample is City of London's (LEA 201); evaluating Surrey (936, E10000030)
    with pytest.raises(InputError) as err:
        read_cin(SAMPLE, salt=SALT, authority_code="E10000030")
    msg = str(err.value)
    assert "cin-2022.xml: the census header's LEA is 201, City of London (LA number 201, E09000001)" in msg
    assert "the authority being evaluated is Surrey (LA number 936, E10000030)" in msg
    with pytest.raises(InputError, match="LA number 936"):
        read_cin(SAMPLE, salt=SALT, la_number="936")
    # the right authority, by either code, passes and is attached to the events
    for kwargs in ({"authority_code": "E09000001"}, {"la_number": "201"}, {"authority_code": "201"}):
        assert set(read_cin(SAMPLE, salt=SALT, **kwargs).events().authority_code) == {"E09000001"}
    with pytest.raises(InputError, match="LA number '999'"):
        read_cin(SAMPLE, salt=SALT, la_number="999")
    other = tmp_path / "other.xml"
    other.write_text(SAMPLE.read_text().replace("<LEA>201</LEA>", "<LEA>936</LEA>").replace(
        "2022-03-31", "2023-03-31").replace("<Year>2022", "<Year>2023"))
    with pytest.raises(InputError, match=r"come from different authorities \(cin-2022.xml: LEA 201; "
                                         r"other.xml: LEA 936\)"):
        read_cin([SAMPLE, other], salt=SALT)


def test_authorities_resolve_gss_la_number_and_unknown():
    assert authorities.resolve("E09000001") == "E09000001"
    assert authorities.resolve("201") == "E09000001"
    with pytest.raises(InputError, match="no English upper-tier authority has the DfE LA number '777'"):
        authorities.resolve("777")
