"""File sniffing on load: content, not the name, decides how a file is read (issue 16 item 7)."""

from __future__ import annotations

import pandas as pd
import pytest

from ehimpact.data.file_check import validate_file
from ehimpact.data.load import load, read_table, sniff
from ehimpact.errors import InputError

CSV = "child_id,authority_code,referral_date,age\nc1,E10000030,2022-01-05,7\nc2,E10000030,2022-02-01,9\n"


def test_csv_renamed_xlsx_is_one_line(tmp_path):
    path = tmp_path / "children.xlsx"
    path.write_text(CSV)
    for call in (read_table, load, lambda p: validate_file(p, "child_level")):
        with pytest.raises(InputError) as err:
            call(path)
        msg = str(err.value)
        assert "\n" not in msg
        assert "children.xlsx is named .xlsx but is not an Excel .xlsx workbook: its content is " \
               "text (CSV?)" in msg
        assert "rename it to children.csv" in msg
        assert "BadZipFile" not in msg


def test_xlsx_renamed_csv_is_one_line(tmp_path):
    frame = pd.DataFrame({"child_id": ["c1"], "age": ["7"]})
    frame.to_excel(tmp_path / "real.xlsx", index=False)
    (tmp_path / "real.xlsx").rename(tmp_path / "real.csv")
    with pytest.raises(InputError, match=r"real.csv is named .csv but is not CSV text: its content "
                       r"is a zip archive .*rename it to real.xlsx"):
        read_table(tmp_path / "real.csv")


def test_zip_that_is_not_a_workbook(tmp_path):
    import zipfile

    with zipfile.ZipFile(tmp_path / "odd.xlsx", "w") as z:
        z.writestr("readme.txt", "not a workbook")
    with pytest.raises(InputError) as err:
        read_table(tmp_path / "odd.xlsx")
    assert "could not read odd.xlsx" in str(err.value) and "\n" not in str(err.value)


@pytest.mark.parametrize("sep", [";", "\t", "|"])
def test_other_separators_detected_and_read(tmp_path, sep):
    path = tmp_path / "children.csv"
    path.write_text(CSV.replace(",", sep))
    got = read_table(path)
    want = read_table(_write(tmp_path / "comma.csv", CSV))
    pd.testing.assert_frame_equal(got, want)
    assert got.attrs["delimiter"] == sep


def test_semicolon_csv_loads_with_its_dictionary(tmp_path):
    path = _write(tmp_path / "children.csv", CSV.replace(",", ";"))
    frame = load(path)
    assert "authority_code" in frame.columns  # not a KeyError on one merged column
    assert frame["age"].tolist() == [7, 9]


def test_semicolons_with_decimal_commas_stay_one_column_each(tmp_path):
    # European exports: ';' between fields and ',' as the decimal mark inside them
    path = _write(tmp_path / "p.csv", "child_id;absence_rate\nc1;2,5\nc2;10,0\n")
    assert read_table(path).columns.tolist() == ["child_id", "absence_rate"]


@pytest.mark.parametrize("content,kind", [
    (b"\x00\x01\x02binary\x00", "binary"),
    ("a,b\n1,2\n".encode("utf-16"), "utf16"),
    (b"", "empty"),
    (b"PAR1....", "parquet"),
    (b'<?xml version="1.0"?><Message/>', "xml"),
])
def test_binary_utf16_and_empty_one_line(tmp_path, content, kind):
    path = tmp_path / "data.csv"
    path.write_bytes(content)
    assert sniff(path) == kind
    with pytest.raises(InputError) as err:
        read_table(path)
    assert "\n" not in str(err.value) and "data.csv" in str(err.value)


def _write(path, text):
    path.write_text(text)
    return path
