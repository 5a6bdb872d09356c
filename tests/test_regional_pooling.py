"""Regional summary: only authority-specific estimates are pooled; a region-wide design appears once.

Issue 14 item 2, issue 16 item 2 (league table and regional totals), issue 13 item 5 and 7
(sign wording).  Most tests build a batch folder of results.json records by hand (fast);
the last two run real three-authority batches through the CLI.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import yaml

from ehimpact.report import regional
from ehimpact.report.sections import NotAvailable

ROOT = Path(__file__).resolve().parent.parent


def _est(estimate: float, se: float, *, units: str = "children", n_t=800, n_c=700, scale="proportion") -> dict:
    return {"kind": "Estimate", "estimate": estimate, "se": se, "ci": [estimate - 1.96 * se, estimate + 1.96 * se],
            "pvalue": 0.2, "estimand": "ATT", "method": "m", "n_treated": n_t, "n_control": n_c,
            "diagnostics": {"n_units": 3} if units == "authorities" else {}, "outcome": "csc_referral_12m",
            "outcome_label": "be referred", "subject": "Children supported", "scale": scale, "unit": None,
            "level": 0.95, "warnings": [], "synthetic": True, "units": units}


def _batch(root: Path, design: str, primaries: dict[str, dict], round_to: int = 10) -> Path:
    run = root / "batch"
    for code, p in primaries.items():
        folder = run / code / "ev"
        folder.mkdir(parents=True)
        (folder / "status.json").write_text(json.dumps({"authority": code, "evaluation": "ev", "status": "ok"}))
        (folder / "results.json").write_text(json.dumps({
            "authority_code": code, "authority_name": f"Authority {code[-1]}", "synthetic": True,
            "config": {"design": {"name": design}, "disclosure": {"threshold": 5, "symbol": "c",
                                                                   "round_totals_to": round_to}},
            "primary": p}))
    return run


def _texts(secs) -> str:
    return "\n".join(p for s in secs for p in s.paragraphs)


def test_region_wide_design_is_shown_once_and_pools_nothing(tmp_path):
    """Three copies of one twfe estimate (as design_data gives every authority): once, unpooled, no ZeroDivisionError."""
    copy = _est(-0.2799, 0.9354, units="authorities", n_t=2, n_c=1, scale="continuous")
    run = _batch(tmp_path, "twfe", {f"E0600000{i}": dict(copy) for i in (1, 2, 3)})
    summary = regional.collect(run)
    assert summary.authority_results == {} and len(summary.region_wide) == 1
    assert summary.region_wide[0]["authorities"] == ["Authority 1", "Authority 2", "Authority 3"]
    pooled = summary.pooled()
    assert isinstance(pooled, NotAvailable) and "region-wide" in pooled.reason
    secs = regional.sections(summary)
    text = _texts(secs)
    assert text.count("Region-wide estimate (twfe)") == 1
    assert text.count("0.28 lower") == 1  # the estimate is stated once
    assert "It rests on 3 authorities" in text  # authorities are counted, never suppressed
    (rw,) = [t for c, t in secs[0].tables if c == "Region-wide estimate"]
    assert len(rw) == 1 and rw["Runs carrying it"].tolist() == [3] and rw["Authorities in the panel"].tolist() == [3]
    assert not secs[0].figures and not secs[0].estimates  # no forest plot of copies
    assert not secs[1].tables and "region-wide" in secs[1].paragraphs[0]


def test_authority_specific_design_pools_as_before(tmp_path):
    prim = {"E06000001": _est(-0.04, 0.010), "E06000002": _est(-0.01, 0.012), "E06000003": _est(-0.03, 0.015)}
    summary = regional.collect(_batch(tmp_path, "match", prim))
    pooled = summary.pooled()
    assert not isinstance(pooled, NotAvailable)
    assert pooled.k == 3 and pooled.knha
    direct = regional.Estimate  # the same numbers as pooling the three by hand
    from ehimpact.estimators.pooling import pool

    by_hand = pool([direct.from_dict(p) for p in prim.values()], knha=True)
    assert pooled.estimate == pytest.approx(by_hand.estimate) and pooled.ci == pytest.approx(by_hand.ci)
    secs = regional.sections(summary)
    assert secs[0].figures and "pooled" in secs[0].estimates
    assert not summary.region_wide
    tab = summary.league_table()
    assert tab["Authority"].tolist() == ["Authority 1", "Authority 3", "Authority 2"]
    assert tab["Estimate"].tolist() == pytest.approx([-4.0, -3.0, -1.0])  # percentage points
    assert set(tab["Unit"]) == {"percentage points"}


def test_mixed_batch_pools_only_authority_specific(tmp_path):
    prim = {"E06000001": _est(-0.04, 0.010), "E06000002": _est(-0.01, 0.012)}
    run = _batch(tmp_path, "match", prim)
    twfe = _batch(tmp_path / "x", "twfe", {"E06000003": _est(-0.3, 0.5, units="authorities", n_t=2, n_c=1)})
    (twfe / "E06000003").rename(run / "E06000003")
    summary = regional.collect(run)
    pooled = summary.pooled()
    assert pooled.k == 2 and pooled.labels == ["Authority 1", "Authority 2"]
    assert len(summary.region_wide) == 1


def test_league_table_counts_are_as_in_each_report_and_totals_are_rounded(tmp_path):
    prim = {"E06000001": _est(-0.04, 0.010, n_t=913, n_c=640), "E06000002": _est(-0.01, 0.012, n_t="c", n_c=8),
            "E06000003": _est(-0.03, 0.015, n_t=16, n_c=11)}
    summary = regional.collect(_batch(tmp_path, "match", prim))
    secs = regional.sections(summary)
    (tab,) = [t for c, t in secs[1].tables if c == "Headline estimate by authority"]
    got = dict(zip(tab["Code"], tab["Treated"], strict=True))
    # exactly what each authority's results.json (its report) shows: no extra suppression here
    assert got == {"E06000001": 913, "E06000002": "c", "E06000003": 16}
    assert dict(zip(tab["Code"], tab["Comparison"], strict=True)) == {"E06000001": 640, "E06000002": 8,
                                                                      "E06000003": 11}
    t = summary.totals()
    assert t["treated"] == 930 and t["comparison"] == 660  # 929 and 659, to the nearest 10
    assert t["n_suppressed_treated"] == 1
    sentence = summary.totals_sentence()
    assert sentence.startswith("Across the 3 pooled authorities: 930 treated (not counting 1 authority whose "
                               "treated count is suppressed ('c') in its own report) and 660 comparison children")
    assert "rounded to the nearest 10" in sentence
    text = _texts(secs)
    assert "929" not in text and "1,569" not in text  # no unrounded regional sum anywhere
    # the pooled record's own sample sizes (a silent sum) are not published
    assert secs[0].estimates["pooled"].n_treated == 0


def test_round_totals_to_is_read_and_checked(tmp_path):
    prim = {"E06000001": _est(-0.04, 0.010, n_t=913), "E06000002": _est(-0.01, 0.012, n_t=16)}
    run = _batch(tmp_path, "match", prim, round_to=100)
    assert regional.collect(run).totals()["treated"] == 900
    assert regional.collect(run, round_totals_to=5).totals()["treated"] == 930
    from ehimpact.errors import InputError

    with pytest.raises(InputError, match="round_totals_to"):
        regional.collect(run, round_totals_to=0)


def test_a_stray_small_count_is_hidden_but_authority_counts_are_not(tmp_path):
    prim = {"E06000001": _est(-0.04, 0.010, n_t=4, n_c=3), "E06000002": _est(-0.01, 0.012, n_t=6, n_c=7)}
    summary = regional.collect(_batch(tmp_path, "match", prim))
    tab = summary.league_table()
    assert dict(zip(tab["Code"], tab["Treated"], strict=True)) == {"E06000001": "c", "E06000002": 6}


def test_same_sign_wording_in_every_sentence(tmp_path):
    prim = {"E06000001": _est(-0.04, 0.010), "E06000002": _est(0.01, 0.012), "E06000003": _est(-0.03, 0.015)}
    secs = regional.sections(regional.collect(_batch(tmp_path, "match", prim)))
    text = " ".join(secs[0].paragraphs)
    # every effect is a magnitude and lower/higher: no signed values, no "less/more likely"
    assert not re.search(r"[+\-−]\d", text), text
    assert " less " not in text and " more likely" not in text
    assert re.search(r"\d\.\d percentage points lower", text)
    assert "prediction interval" in text


def test_forest_plot_is_in_percentage_points(tmp_path):
    prim = {"E06000001": _est(-0.04, 0.010), "E06000002": _est(-0.01, 0.012)}
    pooled = regional.collect(_batch(tmp_path, "match", prim)).pooled()
    ax = pooled.plot()
    assert "percentage points" in ax.get_xlabel()
    lo, hi = ax.get_xlim()
    assert lo < -4 and hi > -1  # drawn on the points scale, not -0.04..-0.01


def test_design_scope_comes_from_the_registry():
    assert regional.design_scope("twfe") == "region" and regional.design_scope("did_2x2") == "region"
    assert regional.design_scope("match") == "authority" and regional.design_scope("its") == "authority"
    assert regional.design_scope("not_installed_plugin", "authorities") == "region"
    assert regional.design_scope(None, "children") == "authority"


# ------------------------------------------------------------------ real batches
def _setup(tmp_path: Path, design: dict) -> Path:
    from ehimpact.data import synthetic

    region = synthetic.region(n_authorities=3, seed=5, children_per_authority=400)
    data = tmp_path / "data"
    data.mkdir()
    region.children.to_csv(data / "children.csv", index=False)
    region.panel.to_csv(data / "panel.csv", index=False)
    cfg = yaml.safe_load((ROOT / "config" / "demo.yaml").read_text())
    cfg["evaluation"]["data"] = {"child_level": "data/children.csv", "authority_panel": "data/panel.csv"}
    cfg["evaluation"]["design"] = design
    cfg["evaluation"]["robustness"] = []
    cfg["evaluation"].pop("costs", None)
    cfg["batch"] = {"name": "regional", "authorities": "all", "timeout_per_notebook": 300}
    cfg["output_dir"] = str(tmp_path / "out")
    path = tmp_path / "batch.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return path


def _run_batch(tmp_path: Path, design: dict) -> Path:
    cfg = _setup(tmp_path, design)
    res = subprocess.run([sys.executable, "-m", "ehimpact.cli", "batch", str(cfg), "--workers", "1"],
                         capture_output=True, text=True, timeout=900)
    run = tmp_path / "out" / "regional"
    assert (run / "regional_summary.html").exists(), res.stdout[-2000:] + res.stderr[-3000:]
    return run


def _page_text(path: Path) -> str:
    from ehimpact.report.disclosure import _HTMLReader

    return " ".join(_HTMLReader(path.read_text()).blocks)


@pytest.mark.notebook
def test_batch_with_twfe_shows_the_region_wide_estimate_once(tmp_path):
    run = _run_batch(tmp_path, {"name": "twfe", "options": {"outcome": "referrals_rate"}})
    summary = regional.collect(run)
    assert len(summary.results) == 3 and not summary.authority_results
    assert len(summary.region_wide) == 1 and len(summary.region_wide[0]["authorities"]) == 3
    assert isinstance(summary.pooled(), NotAvailable)
    text = _page_text(run / "regional_summary.html")
    assert text.count("Region-wide estimate (twfe)") == 1
    assert "Pooled (REML" not in text and "Forest plot" not in text


@pytest.mark.notebook
@pytest.mark.slow  # pooling itself is covered above on records; this is the whole route
def test_batch_with_match_pools_the_authorities(tmp_path):
    run = _run_batch(tmp_path, {"name": "match", "options": {"replace": True, "caliper": 0.2}})
    summary = regional.collect(run)
    pooled = summary.pooled()
    assert not isinstance(pooled, NotAvailable) and pooled.k == 3
    text = _page_text(run / "regional_summary.html")
    assert "Across 3 authorities the average effect was" in text
    assert "Region-wide estimate" not in text
    league = pd.DataFrame(summary.league_table())
    assert len(league) == 3
