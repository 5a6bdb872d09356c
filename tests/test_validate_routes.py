"""One validation for every route (issue 16 items 3 and 4; issue 12 `ehimpact validate`).

Child-level tables: duplicated ids and rows, implausible dates, text in numbers and free
text in categories are errors with counts, and never show a cell's value.
``validate_file``: CIN XML, SSDA903 folders, Annex A workbooks and local exports (with
their mapping) each give a read summary and are not OK on errors.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pandas as pd
import pytest

from ehimpact.data import synthetic
from ehimpact.data.file_check import validate_file
from ehimpact.data.load import load
from ehimpact.data.read_report import EARLIEST_DATE, LATEST_YEARS_AHEAD, latest_date
from ehimpact.data.validate import validate
from ehimpact.errors import InputError

FIX = Path(__file__).parent / "fixtures"
EXT = FIX / "external"
FREE_TEXT = "FREETEXT C0000001 of Jane Smith"


@pytest.fixture(scope="module")
def children() -> pd.DataFrame:
    return synthetic.region(1, seed=5, children_per_authority=400).children


def _csv(frame: pd.DataFrame, path: Path) -> Path:
    frame.to_csv(path, index=False, date_format="%Y-%m-%d")
    return path


def _all_text(report) -> str:
    return report.to_text() + json.dumps(report.to_dict()) + report.to_csv()


# ------------------------------------------------------------------ child-level tables


def test_duplicated_ids_and_rows_are_an_error_with_counts(children, tmp_path):
    dup = pd.concat([children, children.iloc[:200]], ignore_index=True)
    path = _csv(dup, tmp_path / "children.csv")
    with pytest.raises(InputError) as err:
        load(path, dictionary="child_level")
    msg = str(err.value)
    assert "duplicate key: 200 child_id value(s) appear on more than one row (400 rows)" in msg
    assert "200 row(s) are exact copies of an earlier row" in msg
    # the same child and referral date with other values differing: still a duplicate id
    again = children.iloc[:3].assign(age=children.iloc[:3]["age"].where(
        children.iloc[:3]["age"] < 10, 9) + 1)
    report = validate(pd.concat([children, again], ignore_index=True), "child_level")
    assert "duplicate key: 3 child_id value(s)" in " ".join(report.errors.problem)
    assert "duplicate_row" not in set(report.kind)


def test_implausible_dates_named_with_counts(children, tmp_path):
    bad = children.copy()
    bad.loc[bad.index[:3], "end_date"] = pd.Timestamp("2100-01-01")
    bad.loc[bad.index[3:5], "start_date"] = pd.Timestamp("1900-01-01")
    report = validate(bad, "child_level")
    rows = report.errors.set_index("kind").loc["implausible_date"]
    problems = dict(zip(rows["column"], rows["problem"], strict=True))
    assert problems["end_date"].startswith("3 date(s) before 1990-01-01 or after ")
    assert problems["start_date"].startswith("2 date(s) before 1990-01-01")
    with pytest.raises(InputError, match="end_date: 3 date"):
        load(_csv(bad, tmp_path / "c.csv"), dictionary="child_level")
    assert EARLIEST_DATE == pd.Timestamp("1990-01-01") and LATEST_YEARS_AHEAD == 1
    assert latest_date() > pd.Timestamp.today()


def test_text_in_a_number_column_is_an_error_and_never_shown(children, tmp_path):
    bad = children.astype({"prior_contacts": object}).copy()
    bad.loc[bad.index[:4], "prior_contacts"] = "see notes: Jane Smith"
    report = validate_file(_csv(bad, tmp_path / "c.csv"), "child_level")
    row = report.errors.set_index("column").loc["prior_contacts"]
    assert row.problem == "4 cell(s) are not a whole number" and row.n_rows == 4
    assert "Jane" not in _all_text(report)
    with pytest.raises(InputError) as err:
        load(tmp_path / "c.csv", dictionary="child_level")
    assert "prior_contacts: 4 cell(s) are not a whole number" in str(err.value)
    assert "Jane" not in str(err.value)


def test_free_text_in_a_category_counted_never_shown(children, tmp_path):
    bad = children.copy()
    bad.loc[bad.index[:5], "ethnicity"] = FREE_TEXT
    bad.loc[bad.index[5:7], "ethnicity"] = "Irish Traveller"
    path = _csv(bad, tmp_path / "c.csv")
    report = validate_file(path, "child_level")
    row = report.errors.set_index("column").loc["ethnicity"]
    assert row.problem.startswith("7 cell(s) hold 2 value(s) not in the allowed list (cells per "
                                  "unknown value: 5, 2;")
    text = _all_text(report)
    for secret in ("FREETEXT", "C0000001", "Jane", "Smith", "Irish"):
        assert secret not in text
    with pytest.raises(InputError) as err:
        load(path, dictionary="child_level")
    assert "FREETEXT" not in str(err.value) and "C0000001" not in str(err.value)
    assert "C0000001" not in err.value.problems.to_csv()


# ------------------------------------------------------------------ validate_file routes


def test_cin_xml_route(tmp_path):
    sample = EXT / "cin" / "cin-2022.xml"
    report = validate_file(sample)
    assert report.route == "cin" and report.ok
    text = report.to_text()
    assert text.startswith("Read check of CIN census cin-2022.xml")
    assert "cin-2022.xml referrals: 1 read, 1 kept, 0 excluded" in text
    assert "census collection years: 2022" in text
    # a folder of census files is the same route
    shutil.copy(sample, tmp_path / "cin_2022.xml")
    assert validate_file(tmp_path).route == "cin"


def test_truncated_cin_xml_stops(tmp_path):
    raw = (EXT / "cin" / "cin-2022.xml").read_bytes()
    (tmp_path / "cut.xml").write_bytes(raw[: len(raw) // 2])
    with pytest.raises(InputError) as err:
        validate_file(tmp_path / "cut.xml")
    assert "cut.xml" in str(err.value)


def test_ssda903_folder_route(tmp_path):
    shutil.copy(EXT / "s903" / "SSDA903_2020_episodes.csv", tmp_path / "episodes.csv")
    report = validate_file(tmp_path)
    assert report.route == "ssda903" and report.ok
    text = report.to_text()
    assert "episodes.csv episodes: 5 read, 5 kept, 0 excluded" in text
    assert "children looked after (RNE = S starts): 1" in text
    # the Episodes CSV on its own is recognised by its header line
    alone = validate_file(EXT / "s903" / "SSDA903_2020_episodes.csv")
    assert alone.route == "ssda903" and alone.ok


def test_ssda903_mixed_dates_stop(tmp_path):
    lines = (EXT / "s903" / "SSDA903_2020_episodes.csv").read_text().splitlines()
    lines[1] = lines[1].replace("11/12/2018", "2018-12-11")
    (tmp_path / "episodes.csv").write_text("\n".join(lines) + "\n")
    with pytest.raises(InputError, match="episodes.csv: column DECOM mixes date formats"):
        validate_file(tmp_path)


def test_ssda903_excluded_share_over_the_limit_not_ok(tmp_path):
    lines = (EXT / "s903" / "SSDA903_2020_episodes.csv").read_text().splitlines()
    lines[2] = lines[2].replace("02/12/2018", "31/02/2018")  # 1 of 5 episodes excluded: 20%
    (tmp_path / "episodes.csv").write_text("\n".join(lines) + "\n")
    report = validate_file(tmp_path)
    assert not report.ok
    err = report.errors.set_index("kind").loc["excluded_share"]
    assert err.problem == "1 of 5 records excluded (20.0%), over the 2% limit at which a run stops"
    assert "31/02/2018" not in report.to_text()
    assert validate_file(tmp_path, max_excluded_share=0.25).ok


def test_annex_a_route():
    report = validate_file(EXT / "annex_a" / "Annex_A.xlsx")
    assert report.route == "annex_a" and report.ok  # one unrecognised need code: a warning
    text = report.to_text()
    assert "list 3 (referrals): 6 rows, referral_date 2020-09-16 to 2020-09-16" in text
    assert "list 7 (child protection plans): 7 rows, cpp_start 2019-06-25 to 2021-02-08" in text
    assert "Dustin" not in text and "PSRMEM" not in text


def test_export_route_needs_and_uses_the_mapping(tmp_path):
    export, mapping = FIX / "statutory" / "eh_small.csv", FIX / "statutory" / "eh_small_mapping.yaml"
    with pytest.raises(InputError, match="not in the mapping"):  # its two unknown codes
        validate_file(export, mapping=mapping)
    import yaml

    spec = yaml.safe_load(mapping.read_text())
    spec["fields"]["sex"]["codes"]["X"] = "other_unknown"
    spec["fields"]["referral_source"]["codes"]["HV"] = "health"
    report = validate_file(export, mapping=spec)
    assert report.route == "export"
    text = report.to_text()
    assert "eh_small.csv episodes: 6 read, 4 kept, 2 excluded" in text
    # G7 (closed before it started) is lost, H8 (still open) is not: 1 of 6 is over 2%
    assert not report.ok
    assert report.errors.problem.iloc[0].startswith("1 of 6 records excluded (16.7%)")
    assert "Alfie" not in text and "AB1 2CD" not in text


def test_table_route_unchanged_and_kind_forced(children, tmp_path):
    path = _csv(children, tmp_path / "children.csv")
    report = validate_file(path)  # dictionary defaults to child_level
    assert report.ok and report.route == "table"
    assert report.to_text().startswith("Validation against the 'child_level' data dictionary")
    with pytest.raises(InputError, match="unknown kind 'spss'"):
        validate_file(path, kind="spss")
