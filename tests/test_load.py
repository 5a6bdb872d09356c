"""Loading CSV, Parquet and Excel: same typed table from each; identifiers refused."""

from __future__ import annotations

import pandas as pd
import pytest

import ehimpact as eh
from ehimpact.data import synthetic
from ehimpact.data.load import direct_identifier_columns, load, read_table
from ehimpact.errors import InputError


@pytest.fixture(scope="module")
def children() -> pd.DataFrame:
    return synthetic.region(2, seed=8, children_per_authority=120).children


def _write(frame: pd.DataFrame, path) -> None:
    if path.suffix == ".csv":
        frame.to_csv(path, index=False, date_format="%Y-%m-%d")
    elif path.suffix == ".parquet":
        frame.to_parquet(path, index=False)
    else:
        out = frame.copy()
        for col in out.select_dtypes("datetime").columns:
            out[col] = out[col].dt.strftime("%d/%m/%Y")  # UK dates, as a council export has
        out.to_excel(path, index=False)


@pytest.mark.parametrize("suffix", [".csv", ".parquet", ".xlsx"])
def test_round_trip_gives_the_same_typed_table(children, tmp_path, suffix):
    path = tmp_path / f"children{suffix}"
    _write(children, path)
    got = load(path, dictionary="child_level")
    assert list(got.columns) == list(children.columns)
    for col in ("referral_date", "start_date", "index_date"):
        assert pd.api.types.is_datetime64_any_dtype(got[col])
        pd.testing.assert_series_equal(got[col], children[col], check_dtype=False,
                                       check_names=False)
    for col in ("age", "received_early_help", "cla_24m", "prior_contacts"):
        assert (got[col].astype(float).to_numpy() == children[col].astype(float).to_numpy()).all()
    assert got["absence_rate"].astype(float).equals(children["absence_rate"].astype(float)) or (
        (got["absence_rate"].astype(float) - children["absence_rate"]).abs().max() < 1e-9)
    assert got.attrs["validation"]["ok"] is True
    assert got["child_id"].tolist() == children["child_id"].tolist()


@pytest.mark.parametrize("suffix", [".csv", ".xlsx"])
def test_direct_identifiers_are_refused_by_name_or_alias(children, tmp_path, suffix):
    frame = children.head(5).copy()
    frame["DOB"] = "2010-01-01"
    frame["Post Code"] = "ZZ9 9ZZ"
    frame["NHS_Number"] = "999"
    path = tmp_path / f"with_ids{suffix}"
    _write(frame, path)
    for dictionary in (None, "child_level"):
        with pytest.raises(InputError) as err:
            load(path, dictionary=dictionary)
        msg = str(err.value)
        assert "DOB" in msg and "Post Code" in msg and "NHS_Number" in msg
        assert "remove these columns before loading" in msg
        assert "ZZ9" not in msg and "2010-01-01" not in msg  # never echo the values


def test_direct_identifier_columns_aliases():
    cols = ["child_id", "Forename", "surname", "UPN", "address_line_1", "home_post", "age"]
    assert direct_identifier_columns(cols) == ["Forename", "surname", "UPN", "address_line_1",
                                               "home_post"]


def test_validation_errors_raise_one_input_error(children, tmp_path):
    frame = children.copy().astype(object)
    frame.loc[0, "age"] = 30
    frame.loc[1, "ethnicity"] = "W1"
    path = tmp_path / "bad.csv"
    _write(frame, path)
    with pytest.raises(InputError) as err:
        load(path, dictionary="child_level")
    assert set(err.value.problems["column"]) == {"age", "ethnicity"}
    assert "(rows 2)" in str(err.value) and "(rows 3)" in str(err.value)  # spreadsheet lines


def test_load_without_dictionary_parses_dates(children, tmp_path):
    path = tmp_path / "c.csv"
    _write(children, path)
    got = eh.data.load(path)
    assert pd.api.types.is_datetime64_any_dtype(got["referral_date"])
    assert pd.api.types.is_numeric_dtype(got["age"])
    assert (got["age"].to_numpy() == children["age"].to_numpy()).all()
    frame = children.copy().astype(object)
    frame.loc[0, "age"] = "twelve"
    frame.loc[1, "referral_date"] = "soon"
    _write(frame, path)
    got = eh.data.load(path)  # unreadable columns stay text, for validate() to report
    assert not pd.api.types.is_numeric_dtype(got["age"])
    assert not pd.api.types.is_datetime64_any_dtype(got["referral_date"])
    kinds = eh.data.validate(got, "child_level").set_index("column")["kind"]
    assert kinds["age"] == "wrong_type" and kinds["referral_date"] == "wrong_type"


def test_authority_panel_loads(tmp_path):
    panel = synthetic.region(2, seed=1, children_per_authority=50, months=24,
                             cohort_months=(6,)).panel
    path = tmp_path / "panel.csv"
    panel.to_csv(path, index=False)
    got = load(path, dictionary="authority_panel")
    assert pd.api.types.is_datetime64_any_dtype(got["period"])
    assert got["adoption_period"].notna().sum() == panel["adoption_period"].notna().sum()
    assert (got["referrals"].to_numpy() == panel["referrals"].to_numpy()).all()


def test_file_problems_are_input_errors(tmp_path):
    with pytest.raises(InputError, match="file not found"):
        load(tmp_path / "missing.csv")
    odd = tmp_path / "data.sav"
    odd.write_text("x")
    with pytest.raises(InputError, match="cannot read files ending '.sav'") as err:
        load(odd)
    assert "CSV" in err.value.fix
    broken = tmp_path / "broken.parquet"
    broken.write_text("not parquet")
    with pytest.raises(InputError, match="could not read broken.parquet"):
        read_table(broken)
    latin = tmp_path / "latin.csv"
    latin.write_bytes("name\n\xe9\n".encode("latin-1"))
    with pytest.raises(InputError, match="not UTF-8"):
        read_table(latin)
    with pytest.raises(InputError, match="no data dictionary"):
        load(latin, dictionary="nope")
