"""SSDA903 dates: DD/MM/YYYY or ISO detected per file and column; mixed columns refused.

The third-party Episodes sample (``tests/fixtures/external/s903``, liiatools 0.2.0, MIT) is
read as the DfE lays it out; its values below were checked by eye from the file.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from ehimpact.data.privacy import pseudonymise
from ehimpact.data.ssda903 import read_ssda903
from ehimpact.errors import InputError

EXT = Path(__file__).parent / "fixtures" / "external" / "s903"
SAMPLE = EXT / "SSDA903_2020_episodes.csv"
SALT = "fixture-salt-123"


def h(raw: str) -> str:
    return pseudonymise([raw], SALT)[0]


def _iso(text: str) -> str:
    """The sample with every DD/MM/YYYY date rewritten as YYYY-MM-DD."""
    import re

    return re.sub(r"(\d{2})/(\d{2})/(\d{4})", r"\3-\2-\1", text)


def test_vendored_sample_reads_as_the_dfe_lays_it_out():
    lac = read_ssda903({"episodes": SAMPLE}, salt=SALT, authority_code="E09000001")
    ep = lac.episodes
    # 5 episodes of 2 children (689661 three, 249901 two), nothing excluded
    assert lac.report.counts[SAMPLE.name]["episodes"] == {"read": 5, "kept": 5, "excluded": 0}
    assert ep.child_id.value_counts().to_dict() == {h("689661"): 3, h("249901"): 2}
    first = ep.iloc[0]
    assert first.decom == pd.Timestamp("2018-12-11") and first.dec == pd.Timestamp("2019-07-18")
    assert (first.rne, first.ls, first.cin, first.place, first.rec) == ("P", "V4", "N4", "K2", "E15")
    assert ep.iloc[4].reason_place_change == "CREQB"
    # the one RNE = S episode: 689661 from 02/12/2018 under J2
    ev = lac.events()
    assert ev[["event_type", "event_date", "detail"]].to_dict("records") == [
        {"event_type": "cla_start", "event_date": pd.Timestamp("2018-12-02"), "detail": "J2"}]
    assert ev.child_id.tolist() == [h("689661")]


def test_postcodes_dropped_on_load():
    lac = read_ssda903({"episodes": SAMPLE}, salt=SALT)
    text = lac.episodes.astype(str).to_csv()
    for postcode in ("Y8 5KZ", "T28 2WB", "I28 8HA", "F18 7NI", "P13 2TR"):
        assert postcode not in text
    assert not {"HOME_POST", "PL_POST", "home_post", "pl_post"} & set(lac.episodes.columns)
    # dropped, not reported as unexpected columns
    assert not any(p.field in ("HOME_POST", "PL_POST") for p in lac.report.problems)


def test_iso_dates_load(tmp_path):
    path = tmp_path / "episodes.csv"
    path.write_text(_iso(SAMPLE.read_text()))
    iso = read_ssda903({"episodes": path}, salt=SALT)
    dmy = read_ssda903({"episodes": SAMPLE}, salt=SALT)
    assert len(iso.episodes) == 5
    pd.testing.assert_frame_equal(iso.episodes, dmy.episodes)
    assert len(iso.events()) == 1  # looked-after children are not 0


def test_iso_with_time_of_day_loads(tmp_path):
    import re

    path = tmp_path / "episodes.csv"
    path.write_text(re.sub(r"(\d{4}-\d{2}-\d{2})", r"\1 00:00:00", _iso(SAMPLE.read_text())))
    lac = read_ssda903({"episodes": path}, salt=SALT)
    assert lac.episodes.decom.iloc[0] == pd.Timestamp("2018-12-11")


def test_each_column_detected_on_its_own(tmp_path):
    # DECOM in ISO, DEC left in DD/MM/YYYY: each column is consistent, so both read
    lines = SAMPLE.read_text().splitlines()
    out = [lines[0]]
    for line in lines[1:]:
        cells = line.split(",")
        cells[1] = _iso(cells[1])
        out.append(",".join(cells))
    path = tmp_path / "episodes.csv"
    path.write_text("\n".join(out) + "\n")
    lac = read_ssda903({"episodes": path}, salt=SALT)
    assert len(lac.episodes) == 5 and lac.episodes.dec.notna().all()


def test_mixed_formats_in_one_column_refused(tmp_path):
    lines = SAMPLE.read_text().splitlines()
    lines[3] = lines[3].replace("16/05/2019", "2019-05-16", 1)  # line 4: DECOM as ISO
    lines[5] = lines[5].replace("10/04/2019", "2019-04-10", 1)  # line 6: DECOM as ISO
    path = tmp_path / "ep_2020.csv"
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(InputError) as err:
        read_ssda903({"episodes": path}, salt=SALT)
    msg = str(err.value)
    assert "ep_2020.csv" in msg and "DECOM" in msg
    assert "DD/MM/YYYY in 3 row(s) (e.g. line 2, line 3, line 5)" in msg
    assert "YYYY-MM-DD (ISO) in 2 row(s) (e.g. line 4, line 6)" in msg
    assert "Fix:" in msg
    # formats, counts and lines only: no child id, no date value
    for value in ("689661", "249901", "2019-05-16", "11/12/2018"):
        assert value not in msg


def test_third_format_refused(tmp_path):
    # DD-MM-YYYY throughout: matches neither format
    import re

    path = tmp_path / "episodes.csv"
    path.write_text(re.sub(r"(\d{2})/(\d{2})/(\d{4})", r"\1-\2-\3", SAMPLE.read_text()))
    with pytest.raises(InputError, match=r"episodes.csv: the dates in column DECOM match neither "
                       r"DD/MM/YYYY nor YYYY-MM-DD: another format, like 99-99-9999 in 5 row") as err:
        read_ssda903({"episodes": path}, salt=SALT)
    assert "11-12-2018" not in str(err.value)


def test_one_odd_date_is_a_bad_record_not_a_format(tmp_path):
    # a single cell in another shape is a typo: that line is excluded and counted by reason
    lines = SAMPLE.read_text().splitlines()
    lines[2] = lines[2].replace("02/12/2018", "02-12-2018", 1)
    path = tmp_path / "episodes.csv"
    path.write_text("\n".join(lines) + "\n")
    lac = read_ssda903({"episodes": path}, salt=SALT)
    assert lac.report.counts["episodes.csv"]["episodes"] == {"read": 5, "kept": 4, "excluded": 1}
    reasons = lac.report.exclusions()
    assert reasons[["field", "problem", "n"]].to_dict("records") == [
        {"field": "DECOM", "problem": "not a valid date in DD/MM/YYYY format", "n": 1}]


def test_every_exclusion_counted_by_reason(tmp_path):
    lines = SAMPLE.read_text().splitlines()
    lines.append(lines[1])                                           # line 7: duplicate episode
    lines.append(lines[4].replace("249901", "", 1))                  # line 8: blank CHILD
    lines.append(lines[4].replace("10/04/2019", "01/01/2017", 1))    # line 9: DEC before DECOM
    path = tmp_path / "episodes.csv"
    path.write_text("\n".join(lines) + "\n")
    lac = read_ssda903({"episodes": path}, salt=SALT)
    counts = lac.report.counts["episodes.csv"]["episodes"]
    assert counts == {"read": 8, "kept": 5, "excluded": 3}
    reasons = lac.report.exclusions().set_index("problem")["n"].to_dict()
    assert reasons == {"blank child id": 1, "DEC is before DECOM": 1,
                       "duplicate episode (same CHILD and DECOM as an earlier line)": 1}
    assert sum(reasons.values()) == counts["excluded"]
    assert lac.report.to_dict()["excluded_by_reason"]


def test_other_tables_of_the_return_tolerated(tmp_path):
    import shutil

    shutil.copy(SAMPLE, tmp_path / "episodes.csv")
    (tmp_path / "sw_episodes.csv").write_text(
        "CHILD,DOB,SW_ID,SW_DECOM,SW_DEC,SW_REASON\n689661,01/01/2010,SW1,02/12/2018,,\n")
    (tmp_path / "uasc.csv").write_text("CHILD,DOB,SEX,DUC\n689661,01/01/2010,1,\n")
    lac = read_ssda903(tmp_path, salt=SALT)
    assert len(lac.episodes) == 5
    ignored = {p.file: p.problem for p in lac.report.problems if p.action == "ignored"}
    assert ignored == {"sw_episodes.csv": "SSDA903 SocialWorker table (not used)",
                       "uasc.csv": "SSDA903 UASC table (not used)"}


def test_header_dates_detected(tmp_path):
    (tmp_path / "header.csv").write_text(
        "CHILD,SEX,DOB,ETHNIC,UPN,MOTHER,MC_DOB\n689661,1,2010-06-15,WBRI,A123,,\n"
        "249901,2,2012-01-03,BAFR,B456,0,\n")
    (tmp_path / "episodes.csv").write_text(SAMPLE.read_text())
    lac = read_ssda903(tmp_path, salt=SALT)
    hd = lac.header.set_index("child_id")
    assert hd.loc[h("689661"), "birth_month"] == pd.Timestamp("2010-06-01")
    assert "A123" not in lac.header.astype(str).to_csv()
