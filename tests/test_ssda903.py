"""SSDA903 Header/Episodes reader on a hand-built fixture."""

from __future__ import annotations

import shutil
from pathlib import Path

import pandas as pd
import pytest

from ehimpact.data.privacy import pseudonymise
from ehimpact.data.ssda903 import read_ssda903
from ehimpact.errors import InputError

FIX = Path(__file__).parent / "fixtures" / "statutory"
SALT = "fixture-salt-123"


def h(raw: str) -> str:
    return pseudonymise([raw], SALT)[0]


@pytest.fixture(scope="module")
def lac(tmp_path_factory):
    folder = tmp_path_factory.mktemp("903")
    # file names do not matter: tables are recognised by their header line
    shutil.copy(FIX / "903_episodes.csv", folder / "export_a.csv")
    shutil.copy(FIX / "903_header.csv", folder / "export_b.csv")
    return read_ssda903(folder, salt=SALT, authority_code="E06000036")


def test_episodes(lac):
    # 6 data lines: line 3 duplicates line 2, line 5 has DEC before DECOM,
    # line 6 has DECOM 31/02/2024 -> 3 kept
    assert lac.report.counts["export_a.csv"]["episodes"] == {"read": 6, "kept": 3, "excluded": 3}
    ep = lac.episodes
    assert ep.decom.dt.strftime("%Y-%m-%d").tolist() == ["2023-10-01", "2023-03-15", "2024-06-01"]
    assert ep.rne.tolist() == ["S", "S", "P"]
    assert ep.dec.iloc[1] == pd.Timestamp("2023-03-20")
    assert not {"HOME_POST", "PL_POST", "URN", "home_post", "pl_post"} & set(ep.columns)


def test_report(lac):
    frame = lac.report.to_frame().set_index("record")
    assert frame.loc["line 3", "action"] == "duplicate excluded"
    assert frame.loc["line 5", "field"] == "DEC"
    assert frame.loc["line 5", "problem"] == "DEC is before DECOM"
    assert frame.loc["line 6", "field"] == "DECOM"
    assert (frame["file"] == "export_a.csv").all()


def test_events_are_rne_s(lac):
    ev = lac.events()
    # A1 from 01/10/2023 and B2 from 15/03/2023; C3's P episode is not a start
    assert sorted(zip(ev.child_id, ev.event_date.dt.strftime("%Y-%m-%d"), strict=True)) == sorted(
        [(h("A1"), "2023-10-01"), (h("B2"), "2023-03-15")])
    assert (ev.event_type == "cla_start").all() and (ev.authority_code == "E06000036").all()


def test_header_privacy(lac):
    hd = lac.header.set_index("child_id")
    assert hd.loc[h("A1"), "birth_month"] == pd.Timestamp("2015-06-01")
    assert hd.loc[h("B2"), "ethnicity"] == "black" and hd.loc[h("B2"), "sex"] == "female"
    assert "A123456789012" not in lac.header.to_csv()


def test_wrong_headers(tmp_path):
    text = (FIX / "903_episodes.csv").read_text().replace("DECOM", "DATE_COMMENCED", 1)
    (tmp_path / "episodes.csv").write_text(text)
    with pytest.raises(InputError, match="episodes.csv looks like the episodes table but lacks column"):
        read_ssda903(tmp_path, salt=SALT)
    (tmp_path / "episodes.csv").rename(tmp_path / "other.csv")
    with pytest.raises(InputError, match="no SSDA903 Episodes table found") as err:
        read_ssda903(tmp_path, salt=SALT)
    assert "DECOM" in str(err.value)


def test_bad_line_does_not_lose_others(tmp_path):
    lines = (FIX / "903_episodes.csv").read_text().splitlines()
    lines.insert(2, 'A1,"01/10/2023,S,C2')  # unbalanced quote and too few fields
    (tmp_path / "e.csv").write_text("\n".join(lines) + "\n")
    lac = read_ssda903({"episodes": tmp_path / "e.csv"}, salt=SALT)
    assert len(lac.episodes) == 3
    assert lac.report.to_frame().set_index("record").loc["line 3", "action"] == "record excluded"


def test_implausible_years_reported_not_crash(tmp_path):
    # years like 1023 or 9999 parse as dates but overflow datetime64[ns]: report, exclude
    text = (FIX / "903_episodes.csv").read_text().replace("01/10/2023", "01/10/1023", 1)
    text = text.replace("20/03/2023", "20/03/9999")
    (tmp_path / "e.csv").write_text(text)
    lac = read_ssda903({"episodes": tmp_path / "e.csv"}, salt=SALT)
    frame = lac.report.to_frame().set_index("record")
    assert frame.loc["line 2", "problem"] == "implausible date (outside 1900-2099)"
    assert frame.loc["line 2", "action"] == "record excluded"        # DECOM is required
    assert frame.loc["line 4", "action"] == "value set to missing"   # DEC is optional
    assert lac.episodes.dec.isna().all()
