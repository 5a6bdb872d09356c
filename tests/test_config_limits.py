"""Config mistakes end in one InputError naming the key, never a traceback or a bad setting (issue 16 item 7;
issue 12: several census files, per-authority values)."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from ehimpact.cli import main
from ehimpact.config import load_config
from ehimpact.errors import InputError
from ehimpact.yamlio import safe_load

DEMO = Path(__file__).resolve().parents[1] / "config" / "demo.yaml"


def _write(tmp_path: Path, edit) -> Path:  # noqa: ANN001
    cfg = yaml.safe_load(DEMO.read_text())
    edit(cfg)
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(cfg, sort_keys=False))
    return path


@pytest.mark.parametrize("edit, key", [
    (lambda c: c["evaluation"]["costs"].update(draws=2e9), "draws"),
    (lambda c: c["evaluation"]["disclosure"].update(symbol="5"), "symbol"),
    (lambda c: c["evaluation"]["disclosure"].update(round_totals_to=0), "round_totals_to"),
    (lambda c: c["evaluation"]["design"]["options"].update(bootstrap=10**9), "bootstrap"),
])
def test_bad_settings_are_refused_with_the_key(tmp_path: Path, edit, key: str) -> None:  # noqa: ANN001
    path = _write(tmp_path, edit)
    with pytest.raises(InputError) as err:
        load_config(path)
    assert key in str(err.value)


def test_cli_prints_one_line_error_and_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = _write(tmp_path, lambda c: c["evaluation"]["costs"].update(draws=2e9))
    assert main(["run", str(path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "draws" in err and "Traceback" not in err
    assert str(tmp_path) not in err  # no machine path: the config is named by its file name


def test_duplicate_key_in_config_is_refused(tmp_path: Path) -> None:
    text = DEMO.read_text().replace("  title:", "  name: other\n  title:", 1)
    path = tmp_path / "dup.yaml"
    path.write_text(text)
    with pytest.raises(InputError, match="appears twice"):
        load_config(path)


def test_alias_bomb_is_refused_quickly() -> None:
    lines = ['a: &a ["x","x","x","x","x","x","x","x","x"]']
    for i in range(1, 9):
        prev, cur = chr(96 + i), chr(97 + i)
        lines.append(f"{cur}: &{cur} [" + ",".join([f"*{prev}"] * 9) + "]")
    with pytest.raises(InputError, match="alias"):
        safe_load("\n".join(lines))


def test_yaml_without_aliases_or_duplicates_loads() -> None:
    assert safe_load("a: 1\nb: {c: [1, 2]}\n") == {"a": 1, "b": {"c": [1, 2]}}


def test_cin_xml_takes_a_list_a_folder_and_a_glob(tmp_path: Path) -> None:
    folder = tmp_path / "cin"
    folder.mkdir()
    for year in (2021, 2022, 2023):
        (folder / f"CIN_{year}.xml").write_text("<Message/>")
    (folder / "notes.txt").write_text("x")

    def with_cin(value):  # noqa: ANN001, ANN202
        def edit(c):  # noqa: ANN001, ANN202
            c["evaluation"]["data"] = {"statutory": {"local_export": "eh.csv", "mapping": "m.yaml",
                                                     "cin_xml": value}}
        return edit

    expected = [folder / f"CIN_{y}.xml" for y in (2021, 2022, 2023)]
    for value in (["cin/CIN_2021.xml", "cin/CIN_2022.xml", "cin/CIN_2023.xml"], "cin", "cin/CIN_*.xml"):
        cfg, base = load_config(_write(tmp_path, with_cin(value)))
        assert cfg.evaluation.data.statutory.cin_files(base) == expected
    cfg, base = load_config(_write(tmp_path, with_cin("cin/CIN_19*.xml")))
    with pytest.raises(InputError, match="no file matches"):
        cfg.evaluation.data.statutory.cin_files(base)


def test_per_authority_table_overrides_delivery_cost(tmp_path: Path) -> None:
    (tmp_path / "per_la.csv").write_text(
        "authority,costs.delivery_cost,intervention.start_date\n"
        "E06000036,1200000,2021-04-01\n"
        "E06000037,3400000,\n")

    def edit(c):  # noqa: ANN001, ANN202
        c["evaluation"]["per_authority"] = "per_la.csv"
        c["evaluation"]["intervention"]["start_date"] = "2020-09-01"

    path = _write(tmp_path, edit)
    a, _ = load_config(path, authority="E06000036")
    b, _ = load_config(path, authority="E06000037")
    c, _ = load_config(path, authority="E06000038")  # no row: the config's own values
    assert a.evaluation.costs["delivery_cost"] == 1_200_000
    assert str(a.evaluation.intervention.start_date) == "2021-04-01"
    assert b.evaluation.costs["delivery_cost"] == 3_400_000
    assert str(b.evaluation.intervention.start_date) == "2020-09-01"  # blank cell keeps the config's value
    assert c.evaluation.costs["delivery_cost"] == 2_500_000


def test_per_authority_unknown_key_is_named(tmp_path: Path) -> None:
    (tmp_path / "per_la.csv").write_text("authority,intervention.start_dat\nE06000036,2021-04-01\n")
    path = _write(tmp_path, lambda c: c["evaluation"].update(per_authority="per_la.csv"))
    with pytest.raises(InputError, match="start_dat"):
        load_config(path, authority="E06000036")


def test_placeholder_in_evaluation_values(tmp_path: Path) -> None:
    path = _write(tmp_path, lambda c: c["evaluation"].update(title="Key workers in {authority}"))
    cfg, _ = load_config(path, authority="E06000036")
    assert cfg.evaluation.title == "Key workers in E06000036"


def test_one_run_parses_its_config_once(tmp_path: Path) -> None:
    """Issue 14 item 4: the runner, the notebook and the checks share one parse of the config."""
    import ehimpact.config as C
    from ehimpact.runner.run import run_one

    def edit(c):  # noqa: ANN001, ANN202
        c["evaluation"]["data"]["synthetic"].update(n_authorities=2, children_per_authority=200)
        c["evaluation"]["robustness"] = []
        c["evaluation"].pop("costs")

    path = _write(tmp_path, edit)
    before = C.PARSE_COUNT["n"]
    outcome = run_one(path, "E06000036", tmp_path / "out", engine="ehimpact-inprocess", scan=False)
    assert outcome.status == "ok", outcome.message
    assert C.PARSE_COUNT["n"] - before == 1
    path.write_text(path.read_text().replace("title:", "title: 'Changed' #", 1))  # an edit is read again
    load_config(path, authority="E06000036")
    assert C.PARSE_COUNT["n"] - before == 2
