"""A local export as authorities hold it: blank services, unknown codes, Excel date cells,
one column mapped twice, duplicate YAML keys, an empty export (issues 12 and 16)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pandas as pd
import pytest
import yaml

from ehimpact.data.mapping import MAX_LISTED_CODES, load_mapping, read_local_export
from ehimpact.data.privacy import pseudonymise
from ehimpact.errors import InputError

FIX = Path(__file__).parent / "fixtures" / "statutory"
SALT = "fixture-salt-123"
BASE = yaml.safe_load((FIX / "eh_small_mapping.yaml").read_text())
# the fixture's two codes the mapping lacks (HV, X) are mapped here, so the file reads clean
CLEAN = {**BASE, "fields": {
    **BASE["fields"],
    "sex": {"column": "Gender", "codes": {"F": "female", "M": "male", "X": "other_unknown"}},
    "referral_source": {"column": "Referrer", "codes": {
        **BASE["fields"]["referral_source"]["codes"], "HV": "health"}},
}}


def h(raw: str) -> str:
    return pseudonymise([raw], SALT)[0]


def _with(**fields) -> dict:
    return {**CLEAN, "fields": {**CLEAN["fields"], **fields}}


def _blank_services(tmp_path: Path) -> Path:
    """eh_small.csv with C3 (a comparison child: waiting list) given no service at all."""
    text = (FIX / "eh_small.csv").read_text().replace("Waiting list,NONE,HV", "Waiting list,,HV")
    path = tmp_path / "export.csv"
    path.write_text(text)
    return path


# ------------------------------------------------------------------ (a) blank cells to a code


@pytest.mark.parametrize("how", ["codes", "blank"])
def test_blank_service_maps_to_none(tmp_path, how):
    codes = dict(CLEAN["fields"]["intervention_type"]["codes"])
    spec = {"column": "Service", "codes": codes}
    if how == "codes":
        codes[""] = "none"
    else:
        spec["blank"] = "none"
    eh = read_local_export(_blank_services(tmp_path), _with(intervention_type=spec), salt=SALT)
    c3 = eh.children.set_index("child_id").loc[h("C3")]
    assert c3.intervention_type == "none" and c3.received_early_help == 0
    # and the comparison child passes the dictionary's 'required value' rule
    from ehimpact.data.validate import validate

    report = validate(eh.children.assign(index_date=eh.children.end_date), "child_level")
    assert "intervention_type" not in set(report.errors["column"])


def test_blank_service_without_a_rule_stays_missing(tmp_path):
    eh = read_local_export(_blank_services(tmp_path), CLEAN, salt=SALT)
    assert pd.isna(eh.children.set_index("child_id").loc[h("C3"), "intervention_type"])


def test_blank_for_a_flag_and_conflicting_blank_rules(tmp_path):
    text = (FIX / "eh_small.csv").read_text().replace(",N,Y\n", ",,Y\n")  # B2's FSM blank
    (tmp_path / "e.csv").write_text(text)
    eh = read_local_export(tmp_path / "e.csv", _with(fsm={"column": "FSM", "blank": 0}), salt=SALT)
    assert eh.children.set_index("child_id").loc[h("B2"), "fsm"] == 0
    with pytest.raises(InputError, match="blank cells mapped twice"):
        load_mapping(_with(fsm={"column": "FSM", "codes": {"Y": 1, "N": 0, "": 1}, "blank": 0}))
    with pytest.raises(InputError, match="blank: 'nobody' is not allowed"):
        load_mapping(_with(intervention_type={"column": "Service", "blank": "nobody"}))


# ------------------------------------------------------------------ (b) unknown codes


def test_unknown_code_is_an_error_listing_every_value_with_its_count(tmp_path):
    lines = (FIX / "eh_small.csv").read_text().splitlines()
    # a third of the comparison-relevant rows carry codes the mapping does not know
    lines[3] = lines[3].replace(",PP,POL,", ",Parenting,POL,")
    lines[4] = lines[4].replace(",NONE,", ",Parenting,")
    lines[7] = lines[7].replace(",FH,", ",Hub,")
    (tmp_path / "e.csv").write_text("\n".join(lines) + "\n")
    with pytest.raises(InputError) as err:
        read_local_export(tmp_path / "e.csv", CLEAN, salt=SALT)
    msg = str(err.value)
    assert "e.csv: 2 code value(s) are not in the mapping, in 3 row(s)" in msg
    assert "intervention_type (column 'Service'): 'Parenting' (2 row(s)), 'Hub' (1 row(s))" in msg
    assert err.value.field == "intervention_type"
    assert "Fix:" in msg
    table = err.value.problems.set_index("code")["n"].to_dict()
    assert table == {"Parenting": 2, "Hub": 1}


def test_unknown_codes_capped_in_the_message(tmp_path):
    header = "Person ID,Referral Date,Episode Closed,Outcome,Service"
    rows = [f"P{i},01/02/2022,01/03/2022,Supported,S{i:03d}" for i in range(MAX_LISTED_CODES + 7)]
    (tmp_path / "e.csv").write_text("\n".join([header, *rows]) + "\n")
    spec = {"fields": {"child_id": "Person ID", "referral_date": "Referral Date",
                       "end_date": "Episode Closed",
                       "received_early_help": {"column": "Outcome", "codes": {"Supported": 1}},
                       "intervention_type": {"column": "Service", "codes": {"KW": "key_worker"}}}}
    with pytest.raises(InputError) as err:
        read_local_export(tmp_path / "e.csv", spec, salt=SALT)
    msg = str(err.value)
    assert f"{MAX_LISTED_CODES + 7} code value(s)" in msg
    assert "and 7 more value(s) in 7 row(s)" in msg
    assert "'S000'" in msg and f"'S{MAX_LISTED_CODES + 6:03d}'" not in msg
    assert len(err.value.problems) == MAX_LISTED_CODES + 7  # every value counted


def test_unknown_code_in_an_uncoded_category_or_flag(tmp_path):
    text = (FIX / "eh_small.csv").read_text().replace(",Y,N\n", ",Maybe,N\n", 1)
    (tmp_path / "e.csv").write_text(text)
    with pytest.raises(InputError, match=r"fsm \(column 'FSM'\): 'Maybe' \(1 row\(s\)\)"):
        read_local_export(tmp_path / "e.csv", CLEAN, salt=SALT)


def test_code_mapped_to_null_is_missing_on_purpose(tmp_path):
    text = (FIX / "eh_small.csv").read_text().replace(",NONE,", ",Not recorded,")
    (tmp_path / "e.csv").write_text(text)
    codes = {**CLEAN["fields"]["intervention_type"]["codes"], "Not recorded": None}
    eh = read_local_export(tmp_path / "e.csv",
                           _with(intervention_type={"column": "Service", "codes": codes}), salt=SALT)
    assert pd.isna(eh.children.set_index("child_id").loc[h("C3"), "intervention_type"])
    assert eh.unmapped.empty


# ------------------------------------------------------------------ (c) Excel


def _excel(tmp_path: Path, *, sheet: str = "Sheet1", other_first: bool = False) -> Path:
    """eh_small.csv as a workbook with real date cells and numeric cells."""
    import openpyxl

    frame = pd.read_csv(FIX / "eh_small.csv", dtype=str, keep_default_na=False)
    book = openpyxl.Workbook()
    ws = book.active
    if other_first:
        ws.title = "Notes"
        ws.append(["This export was run on 2 December"])
        ws = book.create_sheet(sheet)
    else:
        ws.title = sheet
    ws.append(list(frame.columns))
    dates = {"DOB", "Referral Date", "Episode Start", "Episode Closed"}
    for row in frame.itertuples(index=False):
        cells = []
        for col, value in zip(frame.columns, row, strict=True):
            if col in dates and value:
                cells.append(dt.datetime.strptime(value, "%d/%m/%Y"))
            else:
                cells.append(value or None)
        ws.append(cells)
    path = tmp_path / "export.xlsx"
    book.save(path)
    return path


def test_excel_date_cells_read_as_dates(tmp_path):
    xl = read_local_export(_excel(tmp_path), CLEAN, salt=SALT)
    csv = read_local_export(FIX / "eh_small.csv", CLEAN, salt=SALT)
    pd.testing.assert_frame_equal(xl.children, csv.children)
    assert not any("not a valid date" in p.problem for p in xl.report.problems)
    assert xl.children.set_index("child_id").loc[h("A1"), "age"] == 6  # from the DOB date cell


def test_excel_sheet_selected_by_name_and_position(tmp_path):
    path = _excel(tmp_path, sheet="EH episodes", other_first=True)
    by_name = read_local_export(path, {**CLEAN, "sheet": "EH episodes"}, salt=SALT)
    by_pos = read_local_export(path, {**CLEAN, "sheet": 1}, salt=SALT)
    assert len(by_name.children) == len(by_pos.children) == 4
    with pytest.raises(InputError, match="has no sheet named 'Episodes'.*'Notes', 'EH episodes'"):
        read_local_export(path, {**CLEAN, "sheet": "Episodes"}, salt=SALT)
    with pytest.raises(InputError, match="no data rows"):
        read_local_export(path, CLEAN, salt=SALT)  # the first sheet is the one-line notes


def test_excel_numbers_and_text_dates_mixed_with_date_cells(tmp_path):
    import openpyxl

    path = _excel(tmp_path)
    book = openpyxl.load_workbook(path)
    ws = book.active
    ws["I3"] = "05/01/2023"   # A1's later referral as text: a date cell elsewhere in the column
    book.save(path)
    eh = read_local_export(path, CLEAN, salt=SALT)
    assert len(eh.referrals) == 7 and eh.referrals.referral_date.notna().all()


# ------------------------------------------------------------------ dates in a mapped column


def test_iso_export_detected_without_a_format(tmp_path):
    import re

    text = re.sub(r"(\d{2})/(\d{2})/(\d{4})", r"\3-\2-\1", (FIX / "eh_small.csv").read_text())
    (tmp_path / "e.csv").write_text(text)
    spec = {k: v for k, v in CLEAN.items() if k != "date_format"}
    iso = read_local_export(tmp_path / "e.csv", spec, salt=SALT)
    dmy = read_local_export(FIX / "eh_small.csv", CLEAN, salt=SALT)
    pd.testing.assert_frame_equal(iso.children, dmy.children)
    with pytest.raises(InputError, match="are written YYYY-MM-DD, but the mapping gives the format"):
        read_local_export(tmp_path / "e.csv", CLEAN, salt=SALT)  # date_format: %d/%m/%Y


def test_mixed_dates_in_a_mapped_column(tmp_path):
    lines = (FIX / "eh_small.csv").read_text().splitlines()
    lines[3] = lines[3].replace("10/01/2022", "2022-01-10")
    lines[4] = lines[4].replace("01/09/2022", "2022-09-01")
    (tmp_path / "e.csv").write_text("\n".join(lines) + "\n")
    with pytest.raises(InputError, match=r"column Referral Date mixes date formats: DD/MM/YYYY in 5 "
                       r"row\(s\) .*YYYY-MM-DD \(ISO\) in 2 row\(s\) \(e.g. line 4, line 5\)"):
        read_local_export(tmp_path / "e.csv", CLEAN, salt=SALT)


# ------------------------------------------------------------------ (d) one column, two fields


def test_two_fields_on_one_column_refused():
    with pytest.raises(InputError) as err:
        load_mapping(_with(end_date="Episode Start"))
    msg = str(err.value)
    assert "fields start_date and end_date are all mapped to the one column 'Episode Start'" in msg
    with pytest.raises(InputError, match="child_id and family_id .*'Person ID'"):
        load_mapping(_with(family_id="Person ID"))


# ------------------------------------------------------------------ (e) duplicate YAML keys


def test_duplicate_key_in_mapping_yaml_refused(tmp_path):
    text = (FIX / "eh_small_mapping.yaml").read_text().replace(
        '  child_id: "Person ID"\n', '  child_id: "Person ID"\n  child_id: "Family ID"\n')
    (tmp_path / "m.yaml").write_text(text)
    with pytest.raises(InputError, match=r"m.yaml: key 'child_id' appears twice"):
        load_mapping(tmp_path / "m.yaml")


def test_yaml_alias_in_mapping_refused(tmp_path):
    text = (FIX / "eh_small_mapping.yaml").read_text() + "description: &a x\nsource: *a\n"
    (tmp_path / "m.yaml").write_text(text.replace('source: "Fixture EHM export"\n', ""))
    with pytest.raises(InputError, match="alias"):
        load_mapping(tmp_path / "m.yaml")


# ------------------------------------------------------------------ (f) empty export


def test_empty_export_refused(tmp_path):
    header = (FIX / "eh_small.csv").read_text().splitlines()[0]
    (tmp_path / "e.csv").write_text(header + "\n\n")
    with pytest.raises(InputError, match="e.csv has a header line but no data rows") as err:
        read_local_export(tmp_path / "e.csv", CLEAN, salt=SALT)
    assert err.value.fix
    import openpyxl

    book = openpyxl.Workbook()
    book.active.append(header.split(","))
    book.save(tmp_path / "e.xlsx")
    with pytest.raises(InputError, match="e.xlsx has a header line but no data rows"):
        read_local_export(tmp_path / "e.xlsx", CLEAN, salt=SALT)


# ------------------------------------------------------------------ file sniffing on this route


def test_csv_named_xlsx_and_semicolons(tmp_path):
    (tmp_path / "e.xlsx").write_text((FIX / "eh_small.csv").read_text())
    with pytest.raises(InputError) as err:
        read_local_export(tmp_path / "e.xlsx", CLEAN, salt=SALT)
    assert "e.xlsx is named .xlsx but is not an Excel .xlsx workbook: its content is CSV text" in str(
        err.value) and "\n" not in str(err.value) and "rename it to e.csv" in str(err.value)
    (tmp_path / "s.csv").write_text((FIX / "eh_small.csv").read_text().replace(",", ";"))
    semi = read_local_export(tmp_path / "s.csv", CLEAN, salt=SALT)
    comma = read_local_export(FIX / "eh_small.csv", CLEAN, salt=SALT)
    pd.testing.assert_frame_equal(semi.children, comma.children)


# ------------------------------------------------------------------ a whole authority's files


@pytest.fixture(scope="module")
def authority(tmp_path_factory):
    from ehimpact.data.statutory_writer import write_statutory
    from ehimpact.data.synthetic import region

    reg = region(n_authorities=1, children_per_authority=120, seed=3)
    return next(iter(write_statutory(reg, tmp_path_factory.mktemp("auth")).values()))


def test_authority_export_as_excel_with_date_cells_and_blank_services(authority, tmp_path):
    import openpyxl

    frame = pd.read_csv(authority.local_export, dtype=str, keep_default_na=False)
    comparison = frame["Outcome"] == "Assessed - not supported"
    assert comparison.any() and (frame.loc[comparison, "Service"] == "NONE").all()
    frame.loc[comparison, "Service"] = ""          # as case systems export it: no service
    book = openpyxl.Workbook()
    ws = book.active
    ws.title = "EH episodes"
    ws.append(list(frame.columns))
    dates = {"DOB", "Referral Date", "EHA Date", "Episode Start", "Episode Closed"}
    for row in frame.itertuples(index=False):
        ws.append([dt.datetime.strptime(v, "%d/%m/%Y") if c in dates and v else (v or None)
                   for c, v in zip(frame.columns, row, strict=True)])
    book.save(tmp_path / "export.xlsx")
    spec = yaml.safe_load(authority.mapping.read_text())
    spec["sheet"] = "EH episodes"
    spec["fields"]["intervention_type"]["codes"][""] = "none"
    xl = read_local_export(tmp_path / "export.xlsx", spec, salt=SALT)
    csv = read_local_export(authority.local_export, authority.mapping, salt=SALT)
    pd.testing.assert_frame_equal(xl.children, csv.children)
    assert (xl.children.loc[xl.children.received_early_help == 0, "intervention_type"] == "none").all()


def test_authority_ssda903_in_iso_reads_the_same(authority, tmp_path):
    import re

    from ehimpact.data.ssda903 import read_ssda903

    for name in ("episodes.csv", "header.csv"):
        text = (authority.ssda903_dir / name).read_text()
        (tmp_path / name).write_text(re.sub(r"(\d{2})/(\d{2})/(\d{4})", r"\3-\2-\1", text))
    iso = read_ssda903(tmp_path, salt=SALT)
    dmy = read_ssda903(authority.ssda903_dir, salt=SALT)
    assert len(dmy.events()) > 0
    pd.testing.assert_frame_equal(iso.events(), dmy.events())
    pd.testing.assert_frame_equal(iso.header, dmy.header)
