"""The write-up states the follow-up actually observed, the power the data have, and validates files
that only claim to be synthetic (issues 12 item 4, 15 item 6, 16 item 4)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
import yaml

from ehimpact.config import load_config
from ehimpact.errors import InputError
from ehimpact.report import steps
from ehimpact.report.evaluation import Evaluation

DEMO = Path(__file__).resolve().parents[1] / "config" / "demo.yaml"


def _evaluation(tmp_path: Path, edit=None) -> Evaluation:  # noqa: ANN001
    cfg = yaml.safe_load(DEMO.read_text())
    cfg["evaluation"]["data"]["synthetic"]["n_authorities"] = 4
    if edit:
        edit(cfg)
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(cfg, sort_keys=False))
    run, base = load_config(path)
    return Evaluation(run.evaluation, base_dir=base)


@pytest.fixture(scope="module")
def early_extract(tmp_path_factory: pytest.TempPathFactory) -> Evaluation:
    tmp = tmp_path_factory.mktemp("extract")
    return _evaluation(tmp, lambda c: c["evaluation"]["data"].update(extract_date="2021-06-30"))


def test_pitfall_6_states_the_follow_up_observed(early_extract: Evaluation) -> None:
    ev = early_extract
    table = steps.pitfalls_checklist(ev)
    six = table.loc[table["pitfall"].str.startswith("6."), "this evaluation"].iloc[0]
    assert "up to 24 months" not in six  # the old sentence, true whatever the data
    assert "2021-06-30" in six
    recs = {r["outcome"]: r for r in steps.follow_up_records(ev)}
    cla = recs["cla_24m"]
    share = round(100 * cla["observed"] / cla["children"])
    assert share < 100
    assert f"observed for {share}% of the cohort" in six or "not yet observable" in six


def test_step_4_counts_unobserved_follow_up(early_extract: Evaluation) -> None:
    sec = early_extract.section(4)
    tables = dict(sec.tables)
    follow = tables["Follow-up by outcome"]
    row = follow[follow.iloc[:, 0].str.contains("Looked after")].iloc[0]
    unobserved = row.iloc[3]
    recs = {r["outcome"]: r for r in steps.follow_up_records(early_extract)}
    assert recs["cla_24m"]["unobserved_follow_up"] > 5
    assert str(unobserved).replace(",", "") == str(recs["cla_24m"]["unobserved_follow_up"])
    assert any("left out of that outcome's analysis" in t for t in sec.paragraphs)


def test_step_3_shows_the_minimum_detectable_effect_and_pitfall_5_uses_it(tmp_path: Path) -> None:
    ev = _evaluation(tmp_path)
    sec = ev.section(3)
    assert "Smallest detectable effects" in dict(sec.tables)
    plan = ev.power_plan()
    child = plan[(plan["Design family"] == "Child-level comparison")].iloc[0]
    mde = float(child["Minimum detectable effect"])
    five = steps.pitfalls_checklist(ev)
    five = five.loc[five["pitfall"].str.startswith("5."), "this evaluation"].iloc[0]
    assert f"{mde:.1f} percentage points" in five
    # not the old rule of thumb 2.8 x SE of the headline
    p = ev.primary
    assert f"{100 * 2.8 * p.se:.1f} percentage points" not in five or abs(100 * 2.8 * p.se - mde) < 0.05


def test_a_file_claiming_to_be_synthetic_is_still_validated(tmp_path: Path) -> None:
    from ehimpact.data import synthetic

    region = synthetic.region(n_authorities=2, seed=3, children_per_authority=200)
    children = region.children.copy()
    children = pd.concat([children, children.head(50)], ignore_index=True)  # 50 duplicated child ids
    path = tmp_path / "children.csv"
    children.to_csv(path, index=False)
    region.panel.to_csv(tmp_path / "panel.csv", index=False)

    def edit(c):  # noqa: ANN001, ANN202
        c["evaluation"]["data"] = {"child_level": "children.csv", "authority_panel": "panel.csv"}
        c["evaluation"]["authority"] = str(children["authority_code"].iloc[0])

    with pytest.raises(InputError, match="child_id"):
        _evaluation(tmp_path, edit)


def test_a_mean_of_one_is_not_read_as_a_count_of_one(tmp_path: Path) -> None:
    """A balance-table mean of exactly 1 (contacts in 12 months) failed a run's disclosure gate as '1'."""
    from ehimpact.report.disclosure import scan_outputs

    def page(cell: str) -> str:
        return ("<html><body><table><tr><th>Characteristic</th><th>Supported, before</th></tr>"
                f"<tr><td>Contacts in the previous 12 months</td><td>{cell}</td></tr></table></body></html>")

    (tmp_path / "mean").mkdir()
    (tmp_path / "mean" / "report.html").write_text(page("1.000"))
    (tmp_path / "count").mkdir()
    (tmp_path / "count" / "report.html").write_text(page("1"))
    assert scan_outputs(tmp_path / "mean", identifiers=[]) == []
    assert scan_outputs(tmp_path / "count", identifiers=[])  # the same cell written as a whole number is still caught


def test_batch_index_has_watermark_forest_and_sortable_table(tmp_path: Path) -> None:
    """Issue 13 (index page): the batch's index.html is built by report.index_page."""
    import json as _json

    from ehimpact.runner.batch import write_index
    from ehimpact.runner.run import RunOutcome

    outcomes = []
    for code, name, est in (("E06000036", "Bracknell Forest", -0.05), ("E06000037", "West Berkshire", -0.02)):
        folder = tmp_path / code / "family_key_workers"
        folder.mkdir(parents=True)
        (folder / "report.html").write_text("<html></html>")
        (folder / "results.json").write_text(_json.dumps({
            "authority_name": name, "synthetic": True,
            "primary": {"estimate": est, "ci": [est - 0.03, est + 0.03], "pvalue": 0.01, "outcome": "x",
                        "scale": "proportion", "summary": f"{name}: fewer referrals."}}))
        outcomes.append(RunOutcome(code, "family_key_workers", "ok", str(folder), "k"))
    page = write_index(tmp_path, outcomes, wall=1.0, workers=1, regional=None).read_text()
    assert "SYNTHETIC" in page.upper()
    assert "<svg" in page  # the forest plot of headline estimates
    assert "<script" in page and "src=" not in page.split("<script", 1)[1].split(">", 1)[0]  # inline only
    assert "Bracknell Forest" in page and "West Berkshire" in page


def test_plan_command_prints_minimum_detectable_effects(capsys: pytest.CaptureFixture[str]) -> None:
    """Issue 15 item 6: `ehimpact plan CONFIG` before any evaluation is run."""
    from ehimpact.cli import main

    assert main(["plan", str(DEMO)]) == 0
    out = capsys.readouterr().out
    assert "would probably be missed" in out
    assert "percentage points" in out and "supported and" in out and "comparison children" in out
