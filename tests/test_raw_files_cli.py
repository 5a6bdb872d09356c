"""Issue 12 through the command line: an authority's raw files, as its systems hold them, and each way
they break.

The files are written in the real formats (per-year DfE-schema-valid CIN census files, SSDA903 CSVs,
a local export with its own column names), then given to `ehimpact run` / `ehimpact check` as an
evaluator would: census years as a list, a folder and a glob; the export as an Excel workbook with
native date cells and blank services for comparison children; the authority by its 3-digit DfE LA
number; per-authority delivery costs in a batch.  Each broken input exits 2 naming the file or key
and the fix.
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
import yaml

from ehimpact import cli
from ehimpact.data.statutory_writer import write_statutory
from ehimpact.data.synthetic import region

SALT = "raw-files-salt-0123456789abcdef"
pytestmark = pytest.mark.notebook


@pytest.fixture(scope="module")
def written(tmp_path_factory: pytest.TempPathFactory):
    reg = region(2, seed=4, children_per_authority=300)
    root = tmp_path_factory.mktemp("raw")
    files = write_statutory(reg, root)
    a, b = sorted(files)
    return root, files[a], files[b]


def _config(root: Path, own, *, name: str, **statutory) -> Path:
    data = {"local_export": str(own.local_export), "mapping": str(own.mapping), "cin_xml": str(own.cin_xml),
            "ssda903_dir": str(own.ssda903_dir)}
    data.update(statutory)
    cfg = {"evaluation": {
        "name": "raw", "title": "Raw files", "authority": own.authority_code,
        "intervention": {"name": "Synthetic service"}, "data": {"statutory": data},
        "outcomes": [{"column": "csc_referral_12m", "primary": True}], "design": {"name": "match"}},
        "output_dir": str(root / "out")}
    path = root / f"{name}.yaml"
    path.write_text(yaml.safe_dump(cfg, sort_keys=False))
    return path


def _cli(args: list[str], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    monkeypatch.setenv("EHIMPACT_SALT", SALT)
    capsys.readouterr()
    code = cli.main(args)
    return code, capsys.readouterr().err


def _census(own) -> list[Path]:
    files = sorted(Path(own.cin_xml).glob("*.xml"))
    assert len(files) >= 4, files  # the evaluation needs every census year it follows children through
    return files


# ---------------------------------------------------------------------------- raw files that must work
@pytest.mark.parametrize("form", ["list", "folder", "glob"])
def test_census_years_as_a_list_a_folder_and_a_glob(form: str, written, monkeypatch, capsys) -> None:
    root, own, _ = written
    files = _census(own)
    value = {"list": [str(f) for f in files], "folder": str(own.cin_xml),
             "glob": str(Path(own.cin_xml) / "cin_census_*.xml")}[form]
    config = _config(root, own, name=f"cin_{form}", cin_xml=value)
    code, err = _cli(["check", str(config), "--out", str(root / f"check_{form}")], monkeypatch, capsys)
    assert code == 0, err
    report = pd.read_csv(root / f"check_{form}" / "read_report.csv")
    years = report[report["section"].astype(str).str.contains("census", case=False)]
    assert len(years) >= len(files)
    code, err = _cli(["run", str(config), "--out", str(root / f"run_{form}")], monkeypatch, capsys)
    assert code == 0, err
    res = json.loads(next((root / f"run_{form}").rglob("results.json")).read_text())
    assert res["primary"]["estimand"] == "ATT"


def _excel_export(root: Path, own) -> tuple[Path, Path]:
    """The export as an Excel workbook with real date cells; comparison children's service left blank."""
    mapping = yaml.safe_load(Path(own.mapping).read_text())
    raw = pd.read_csv(own.local_export, dtype=str, keep_default_na=False)
    fields = mapping["fields"]
    service = fields["intervention_type"]["column"] if isinstance(fields["intervention_type"], dict) \
        else fields["intervention_type"]
    outcome = fields["received_early_help"]["column"] if isinstance(fields["received_early_help"], dict) \
        else fields["received_early_help"]
    codes = fields["received_early_help"].get("codes", {}) if isinstance(fields["received_early_help"], dict) else {}
    not_supported = {k for k, v in codes.items() if str(v) == "0"}
    raw.loc[raw[outcome].isin(not_supported), service] = ""
    fmt = mapping.get("date_format", "%d/%m/%Y")
    for key, spec in fields.items():
        col = spec["column"] if isinstance(spec, dict) else spec
        if (key.endswith("_date") or key == "date_of_birth") and col in raw.columns:
            raw[col] = pd.to_datetime(raw[col].replace("", None), format=spec.get("format", fmt)
                                      if isinstance(spec, dict) else fmt)
    path = root / "export.xlsx"
    raw.to_excel(path, index=False, sheet_name="EH episodes")
    if isinstance(fields["intervention_type"], dict):
        fields["intervention_type"]["blank"] = "none"
    mapping["sheet"] = "EH episodes"
    mapping_path = root / "mapping_excel.yaml"
    mapping_path.write_text(yaml.safe_dump(mapping, sort_keys=False))
    return path, mapping_path


def test_excel_export_with_date_cells_and_blank_services_runs(written, monkeypatch, capsys) -> None:
    root, own, _ = written
    export, mapping = _excel_export(root, own)
    config = _config(root, own, name="excel", local_export=str(export), mapping=str(mapping))
    code, err = _cli(["run", str(config), "--out", str(root / "out_excel")], monkeypatch, capsys)
    assert code == 0, err
    res = json.loads(next((root / "out_excel").rglob("results.json")).read_text())
    assert res["primary"]["estimand"] == "ATT"


def test_authority_given_by_its_3_digit_la_number(written, monkeypatch, capsys) -> None:
    root, own, _ = written
    config = _config(root, own, name="la_number")
    code, err = _cli(["run", str(config), "--authority", str(own.la_number), "--out", str(root / "run_la")],
                     monkeypatch, capsys)
    assert code == 0, err
    res = json.loads(next((root / "run_la").rglob("results.json")).read_text())
    assert res["authority_code"] == own.authority_code  # 3-digit LA number resolved to the GSS code


# ---------------------------------------------------------------------------- raw files that must stop
def _truncated(root: Path, own) -> Path:
    folder = root / "cin_truncated"
    folder.mkdir(exist_ok=True)
    for f in _census(own):
        text = f.read_text()
        (folder / f.name).write_text(text[: len(text) // 2] if f == _census(own)[-1] else text)
    return folder


def _namespaced(root: Path, own) -> Path:
    folder = root / "cin_namespace"
    folder.mkdir(exist_ok=True)
    for f in _census(own):
        text = f.read_text().replace("<Message>", '<Message xmlns="http://www.example.org/cin">', 1)
        (folder / f.name).write_text(text)
    return folder


def _mixed_dates(root: Path, own) -> Path:
    folder = root / "903_mixed"
    folder.mkdir(exist_ok=True)
    for f in Path(own.ssda903_dir).glob("*.csv"):
        frame = pd.read_csv(f, dtype=str, keep_default_na=False)
        if "DECOM" in frame.columns:
            iso = pd.to_datetime(frame["DECOM"], format="%d/%m/%Y", errors="coerce").dt.strftime("%Y-%m-%d")
            half = frame.index[: len(frame) // 2]
            frame.loc[half, "DECOM"] = iso[half]
        frame.to_csv(folder / f.name, index=False)
    return folder


def _unmapped(root: Path, own) -> Path:
    raw = pd.read_csv(own.local_export, dtype=str, keep_default_na=False)
    mapping = yaml.safe_load(Path(own.mapping).read_text())
    spec = mapping["fields"]["ethnicity"]
    col = spec["column"] if isinstance(spec, dict) else spec
    raw.loc[raw.index[:7], col] = "Not in the code list"
    path = root / "export_unmapped.csv"
    raw.to_csv(path, index=False)
    return path


BROKEN = {
    "truncated_xml": ("cin_xml", _truncated, ["cin_census_", "line", "Fix:"]),
    "wrong_namespace": ("cin_xml", _namespaced, ["cin_census_", "namespace", "Fix:"]),
    "mixed_date_formats": ("ssda903_dir", _mixed_dates, ["DECOM", "Fix:"]),
    "unmapped_code": ("local_export", _unmapped, ["Not in the code list", "7", "Fix:"]),
}


@pytest.mark.parametrize("case", sorted(BROKEN))
def test_broken_input_exits_2_naming_file_and_fix(case: str, written, monkeypatch, capsys) -> None:
    root, own, _ = written
    key, build, words = BROKEN[case]
    config = _config(root, own, name=f"broken_{case}", **{key: str(build(root, own))})
    code, err = _cli(["check", str(config), "--out", str(root / f"check_{case}")], monkeypatch, capsys)
    assert code == 2, err
    assert "Traceback" not in err
    for w in words:
        assert w in err, (w, err)


def test_the_wrong_authoritys_census_exits_2(written, monkeypatch, capsys) -> None:
    root, own, other = written
    config = _config(root, own, name="wrong_census", cin_xml=str(other.cin_xml))
    code, err = _cli(["check", str(config), "--out", str(root / "check_wrong")], monkeypatch, capsys)
    assert code == 2, err
    assert "LEA" in err and str(other.la_number) in err and "Fix:" in err


def test_an_unknown_la_number_exits_2(written, monkeypatch, capsys) -> None:
    root, own, _ = written
    config = _config(root, own, name="unknown_la")
    code, err = _cli(["check", str(config), "--authority", "999", "--out", str(root / "check_999")],
                     monkeypatch, capsys)
    assert code == 2, err
    assert "999" in err and "Fix:" in err


# ---------------------------------------------------------------------------- batch: per-authority values
@pytest.mark.slow
def test_per_authority_delivery_costs_in_a_batch(written, monkeypatch, capsys) -> None:
    root, own, other = written
    template = {k: str(getattr(own, k)).replace(own.authority_code, "{authority}")
                for k in ("local_export", "mapping", "cin_xml", "ssda903_dir")}
    (root / "per_la.csv").write_text(f"authority,costs.delivery_cost\n{own.la_number},400000\n"
                                     f"{other.authority_code},900000\n")
    cfg = yaml.safe_load(_config(root, own, name="tmp").read_text())
    cfg["evaluation"]["data"]["statutory"] = template
    cfg["evaluation"]["per_authority"] = "per_la.csv"
    cfg["evaluation"]["costs"] = {"delivery_cost": 1, "delivery_cost_year": "2023/24", "price_base_year": "2024/25",
                                  "links": [{"outcome": "csc_referral_12m", "unit_cost": "cin_case_6m"}],
                                  "draws": 1000}
    cfg["batch"] = {"name": "costs", "authorities": [own.authority_code, other.authority_code],
                    "timeout_per_notebook": 300}
    path = root / "batch_costs.yaml"
    path.write_text(yaml.safe_dump(cfg, sort_keys=False))
    code, err = _cli(["batch", str(path), "--workers", "2", "--out", str(root / "out_batch")], monkeypatch, capsys)
    assert code == 0, err
    delivery = {}
    for res_path in (root / "out_batch" / "costs").rglob("results.json"):
        if any(part.startswith(".") for part in res_path.parts):
            continue
        res = json.loads(res_path.read_text())
        delivery[res["authority_code"]] = res["costs"]["value_for_money"]["headline"]["pv_delivery_costs"]
    # each authority's own delivery cost (the table names one by LA number, one by GSS code), uprated alike
    assert delivery[own.authority_code] / delivery[other.authority_code] == pytest.approx(400_000 / 900_000)
