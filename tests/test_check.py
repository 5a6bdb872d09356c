"""``ehimpact check``: the read summary and a disclosure-safe ``read_report.csv``."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
import yaml

from ehimpact import cli
from ehimpact.data.privacy import pseudonymise
from ehimpact.data.statutory_writer import write_statutory
from ehimpact.data.synthetic import region
from ehimpact.report.disclosure import scan_outputs
from ehimpact.runner.check import REPORT_COLUMNS, check

DEMO = Path(__file__).resolve().parents[1] / "config" / "demo.yaml"
SALT = "check-salt-0123456789abcdef"


def test_demo_config_prints_the_summary_and_writes_a_clean_read_report(tmp_path, capsys):
    code = cli.main(["check", str(DEMO), "--out", str(tmp_path)])
    out = capsys.readouterr().out
    assert code == 0
    for words in ("Read summary", "Outcome rules", "an event on the index date counts", "Records read and excluded",
                  "synthetic generator", "Children linked", "Follow-up completeness per outcome",
                  "csc_referral_12m (12 months)", "cla_24m (24 months)", "step ups"):
        assert words in out, words
    report = tmp_path / "read_report.csv"
    table = pd.read_csv(report, dtype=str, keep_default_na=False)
    assert list(table.columns) == REPORT_COLUMNS
    assert set(table["section"]) >= {"rules", "records", "linkage", "follow_up", "cohort"}
    follow = table[(table["section"] == "follow_up") & table["detail"].str.startswith("observed (")]
    assert set(follow["item"]) == {"reref_eh_12m", "csc_referral_12m", "s47_12m", "cpp_12m", "cla_24m"}
    # the demo's children: ids of the synthetic region are never in the file
    from ehimpact.data.synthetic import region as make

    ids = make(19, seed=1).children.query("authority_code == 'E06000036'")["child_id"]
    assert scan_outputs(tmp_path, identifiers=ids) == []


@pytest.fixture(scope="module")
def small_statutory(tmp_path_factory):
    """One authority in the real formats, with three bad export rows (small counts to suppress)."""
    reg = region(1, seed=4, children_per_authority=400)
    root = tmp_path_factory.mktemp("chk")
    files = next(iter(write_statutory(reg, root).values()))
    export = pd.read_csv(files.local_export, dtype=str, keep_default_na=False)
    export.loc[export.index[:3], "Outcome"] = ""  # 3 of 400 with no decision: excluded, under 2%
    export.to_csv(files.local_export, index=False)
    cfg = {"evaluation": {
        "name": "chk", "title": "Check", "authority": files.authority_code,
        "intervention": {"name": "Synthetic service"},
        "data": {"statutory": {"local_export": files.local_export.name, "mapping": files.mapping.name,
                               "cin_xml": "cin", "ssda903_dir": "ssda903"}},
        "outcomes": [{"column": "csc_referral_12m", "primary": True}], "design": {"name": "match"}}}
    path = files.local_export.parent / "config.yaml"
    path.write_text(yaml.safe_dump(cfg, sort_keys=False))
    raw = export["Person ID"].replace("", pd.NA).dropna()
    return reg, files, path, raw


def test_statutory_check_counts_suppresses_and_leaks_nothing(small_statutory, tmp_path, monkeypatch):
    reg, files, config, raw_ids = small_statutory
    monkeypatch.setenv("EHIMPACT_SALT", SALT)
    res = check(config, out_dir=tmp_path)
    assert res.exit_code == 1 and len(res.problems) == 1  # three records excluded: worth a look
    assert "received_early_help is blank" in res.problems[0]
    text = res.text
    assert "Census years covered:" in text and "cin_census_" in text
    assert "Excluded by reason:" in text and "Outcome" in text
    body = res.path.read_text()
    # no machine path, only file names; no identifier (raw or pseudonymised); small counts suppressed
    assert str(tmp_path) not in body and str(files.local_export.parent) not in body
    table = pd.read_csv(res.path, dtype=str, keep_default_na=False)
    excluded = table[(table["section"] == "excluded")]
    assert (excluded["n"] == "c").all() and len(excluded) == 1
    hashed = pseudonymise(pd.Series(list(raw_ids)), SALT)
    assert scan_outputs(tmp_path, identifiers=list(raw_ids) + list(hashed)) == []
    years = table[table["section"] == "census_years"]
    assert len(years) == len(list(Path(files.cin_xml).glob("*.xml")))
    linked = table[(table["section"] == "linkage") & (table["item"] == "children_linked")]
    assert set(linked["source"]) == {"early-help export", "CIN census", "SSDA903"}


def test_statutory_check_with_small_threshold_shows_counts(small_statutory, tmp_path, monkeypatch):
    # the suppression is the config's: with threshold 2 the 3 exclusions show as 3
    reg, files, config, _ = small_statutory
    monkeypatch.setenv("EHIMPACT_SALT", SALT)
    cfg = yaml.safe_load(config.read_text())
    cfg["evaluation"]["disclosure"] = {"threshold": 2, "symbol": "[x]"}
    other = config.parent / "config_threshold2.yaml"
    other.write_text(yaml.safe_dump(cfg))
    res = check(other, out_dir=tmp_path)
    table = pd.read_csv(res.path, dtype=str, keep_default_na=False)
    assert table.loc[table["section"] == "excluded", "n"].tolist() == ["3"]
    assert "(counts from 1 to 2 are shown as '[x]')" in res.text


def test_check_needs_the_authority_when_paths_hold_it(tmp_path, monkeypatch):
    from ehimpact.errors import InputError

    cfg = {"evaluation": {
        "name": "chk", "title": "Check", "intervention": {"name": "x"},
        "data": {"statutory": {"local_export": "{authority}/eh.csv", "mapping": "m.yaml"}},
        "outcomes": [{"column": "csc_referral_12m"}], "design": {"name": "match"}}}
    path = tmp_path / "c.yaml"
    path.write_text(yaml.safe_dump(cfg))
    (tmp_path / "m.yaml").write_text("fields: {}\n")
    with pytest.raises(InputError, match="--authority"):
        check(path, out_dir=tmp_path)
