"""Fail loudly: inputs that used to give a normal-looking report stop with exit code 2.

Each case goes through the command line (``ehimpact check`` and ``ehimpact run``) on
files written in the real formats, then broken the way real files break: too many bad
records, the wrong authority's return (ids that link to no child), a different id
scheme, an empty export.  The message must name the file or config key and say the fix.
(The XML, date-format, code-mapping and LA-number cases are tested beside their readers.)
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
import yaml

from ehimpact import cli
from ehimpact.data.statutory_writer import write_statutory
from ehimpact.data.synthetic import region

SALT = "fail-loudly-salt-0123456789"


@pytest.fixture(scope="module")
def written(tmp_path_factory):
    reg = region(2, seed=2, children_per_authority=300)
    root = tmp_path_factory.mktemp("loud")
    files = write_statutory(reg, root)
    a, b = sorted(files)
    return root, files[a], files[b]


def _config(root: Path, own, **statutory) -> Path:
    data = {"local_export": str(own.local_export), "mapping": str(own.mapping), "cin_xml": str(own.cin_xml),
            "ssda903_dir": str(own.ssda903_dir)}
    data.update({k: str(v) for k, v in statutory.items()})
    cfg = {"evaluation": {
        "name": "loud", "title": "Fail loudly", "authority": own.authority_code,
        "intervention": {"name": "Synthetic service"}, "data": {"statutory": data},
        "outcomes": [{"column": "csc_referral_12m", "primary": True}], "design": {"name": "match"}},
        "output_dir": str(root / "out")}
    path = root / f"config_{len(list(root.glob('config_*.yaml')))}.yaml"
    path.write_text(yaml.safe_dump(cfg, sort_keys=False))
    return path


def _run(command: str, config: Path, root: Path, monkeypatch, capsys) -> tuple[int, str]:
    monkeypatch.setenv("EHIMPACT_SALT", SALT)
    capsys.readouterr()
    code = cli.main([command, str(config), "--out", str(root / f"out_{command}")])
    return code, capsys.readouterr().err


def _bad_ids(root: Path, own) -> Path:
    export = pd.read_csv(own.local_export, dtype=str, keep_default_na=False)
    export.loc[export.index[:20], "Person ID"] = ""  # 20 of 300 episodes lose their child id
    path = root / "export_blank_ids.csv"
    export.to_csv(path, index=False)
    return path


def _other_scheme(root: Path, own, other) -> Path:
    """The other authority's census, relabelled with this authority's LA number: no id links."""
    folder = root / "cin_other_scheme"
    folder.mkdir(exist_ok=True)
    for f in sorted(Path(other.cin_xml).glob("*.xml")):
        text = f.read_text().replace(f"<LEA>{other.la_number}</LEA>", f"<LEA>{own.la_number}</LEA>")
        (folder / f.name).write_text(text)
    return folder


def _header_only(root: Path, own) -> Path:
    path = root / "export_header_only.csv"
    pd.read_csv(own.local_export, dtype=str).iloc[:0].to_csv(path, index=False)
    return path


def _zero_bytes(root: Path, own) -> Path:
    path = root / "export_zero_bytes.csv"
    path.write_text("")
    return path


CASES = {
    # case: (statutory key -> builder, words the message must hold)
    "excluded_share": ("local_export", _bad_ids,
                       ["export_blank_ids.csv", "data.statutory.local_export", "max_excluded_share",
                        "blank child id", "Fix:"]),
    "wrong_authority_ssda903": ("ssda903_dir", None,
                                ["data.statutory.ssda903_dir", "links to no child", "wrong authority",
                                 "episodes.csv", "Fix:"]),
    "different_id_scheme_cin": ("cin_xml", _other_scheme,
                                ["data.statutory.cin_xml", "links to no child", "id scheme", "cin_census_",
                                 "Fix:"]),
    "empty_export": ("local_export", _header_only, ["export_header_only.csv", "local_export", "Fix:"]),
    "zero_byte_export": ("local_export", _zero_bytes, ["export_zero_bytes.csv", "local_export", "Fix:"]),
}


def _case_config(case: str, written) -> Path:
    root, own, other = written
    key, build, _ = CASES[case]
    if build is None:
        value = other.ssda903_dir
    elif build is _other_scheme:
        value = build(root, own, other)
    else:
        value = build(root, own)
    return _config(root, own, **{key: value})


def test_clean_files_check_clean(written, monkeypatch, capsys):
    root, own, _ = written
    code, err = _run("check", _config(root, own), root, monkeypatch, capsys)
    assert code == 0, err
    assert (root / "out_check" / "read_report.csv").is_file()


@pytest.mark.parametrize("case", sorted(CASES))
def test_check_exits_2_naming_file_and_fix(case, written, monkeypatch, capsys):
    root = written[0]
    code, err = _run("check", _case_config(case, written), root, monkeypatch, capsys)
    assert code == 2, err
    for words in CASES[case][2]:
        assert words in err, (words, err)
    assert "Traceback" not in err


RUN_CASES = [pytest.param(c, marks=[] if c == "excluded_share" else [pytest.mark.slow]) for c in sorted(CASES)]


@pytest.mark.parametrize("case", RUN_CASES)
def test_run_exits_2_naming_file_and_fix(case, written, monkeypatch, capsys):
    root = written[0]
    code, err = _run("run", _case_config(case, written), root, monkeypatch, capsys)
    assert "Traceback" not in err
    assert any(k in err for k in ("data.statutory.", "local_export")), err  # the key at fault, always
    assert code == 2, err
    for words in CASES[case][2]:
        assert words in err, (words, err)
