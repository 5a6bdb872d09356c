"""Designs run inside an Evaluation: few-cluster inference is chosen for the reader and is reproducible."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import yaml

from ehimpact.report.evaluation import Evaluation
from ehimpact.runner.config import load_config

ROOT = Path(__file__).resolve().parents[1]


def _evaluation(tmp_path: Path, n_authorities: int = 5) -> Evaluation:
    cfg = yaml.safe_load((ROOT / "config" / "demo.yaml").read_text())
    cfg["evaluation"]["data"] = {"synthetic": {"n_authorities": n_authorities, "seed": 5,
                                               "children_per_authority": 300}}
    cfg["evaluation"]["robustness"] = [{"name": "event_study"}]
    cfg["evaluation"].pop("costs", None)
    path = tmp_path / "cfg.yaml"
    path.write_text(yaml.safe_dump(cfg))
    config, base = load_config(path)
    ev = Evaluation(config.evaluation, base_dir=base)
    return ev


def _event_study(ev: Evaluation):
    design = next(d for d in ev.config.robustness if d.name == "event_study")
    return ev.run_design(design)


def test_few_authorities_get_webb_wild_bootstrap_reproducibly(tmp_path):
    """5 authorities: Rademacher signs give 32 draws; Webb weights are chosen, seeded by the config's seed."""
    a, b = _evaluation(tmp_path), _evaluation(tmp_path)
    ea, eb = _event_study(a), _event_study(b)
    wild = ea.diagnostics["wild_bootstrap"]
    assert wild["weights"] == "webb" and not wild["enumerated"] and wild["n_clusters"] == 5
    assert wild["seed"] == a.config.seed
    assert ea.ci == eb.ci and ea.pvalue == eb.pvalue  # same config, same numbers
    assert np.isfinite(ea.ci[0]) and np.isfinite(ea.ci[1])
    note = next(v for k, v in a.notes.items() if k.startswith("event_study"))
    assert "Webb six-point weights" in note and "5 authorities" in note


def test_outcome_measures_table_names_source_and_follow_up(tmp_path):
    """Step 3 takes each outcome's source and window from the data dictionary (it once showed blanks)."""
    ev = _evaluation(tmp_path)
    table = dict(ev.section(3).tables)["Outcome measures"].set_index("Measure")  # shown with human labels
    primary = "Referred to children's social care within 12 months"
    assert table.loc[primary, "Source"] == "CIN census"
    assert table.loc[primary, "Follow-up"] == "12 months"
    assert table.loc["Looked after within 24 months", "Follow-up"] == "24 months"
    assert (table["Source"] != "").all() and (table["Role"] == ["primary", "secondary", "secondary"]).all()


def test_a_figure_that_cannot_be_drawn_is_named_not_dropped(tmp_path, monkeypatch):
    from ehimpact.costs.scorecard import Scorecard

    def broken(self, *args, **kwargs):
        raise ValueError("no axis for you")

    monkeypatch.setattr(Scorecard, "plot", broken)
    cfg = yaml.safe_load((ROOT / "config" / "demo.yaml").read_text())
    cfg["evaluation"]["data"] = {"synthetic": {"n_authorities": 5, "seed": 5, "children_per_authority": 300}}
    cfg["evaluation"]["robustness"] = []
    cfg["evaluation"]["costs"]["draws"] = 200
    path = tmp_path / "cfg.yaml"
    path.write_text(yaml.safe_dump(cfg))
    config, base = load_config(path)
    sec = Evaluation(config.evaluation, base_dir=base).section(9)
    assert any("scorecard plot could not be drawn (ValueError: no axis for you)" in p for p in sec.paragraphs)
    assert "Scorecard" not in [c for c, _ in sec.figures]


def test_monthly_chart_is_not_drawn_when_a_month_has_a_small_count(tmp_path):
    """A line chart of monthly counts would disclose a month with 1-5: that series is left out, and the report says why."""
    ev = _evaluation(tmp_path)
    assert any(c.startswith("Monthly referrals to children's social care and early help assessments")
               for c, _ in _evaluation(tmp_path).section(5).figures)  # drawn when every month is large
    panel = ev.inputs.panel
    rows = panel.index[panel["authority_code"] == ev.authority]
    panel.loc[rows[3], "referrals"] = 3
    sec = ev.section(5)
    figs = dict(sec.figures)
    assert any("referrals to children's social care are not plotted: some months had between 1 and 5" in p
               for p in sec.paragraphs)
    # the other series is still drawn, alone, and the caption names the series it shows
    (caption,) = figs
    assert caption.startswith("Monthly early help assessments")
    (fig,) = figs.values()
    labels = [ln.get_label() for ln in fig.axes[0].get_lines()]
    assert "early help assessments" in labels and "referrals to children's social care" not in labels


def test_its_counterfactual_chart_is_not_drawn_over_small_monthly_counts(tmp_path):
    cfg = yaml.safe_load((ROOT / "config" / "demo.yaml").read_text())
    cfg["evaluation"]["data"] = {"synthetic": {"n_authorities": 5, "seed": 5, "children_per_authority": 300}}
    cfg["evaluation"]["design"] = {"name": "its", "options": {"outcome": "referrals"}}
    cfg["evaluation"]["robustness"] = []
    cfg["evaluation"].pop("costs", None)
    path = tmp_path / "cfg.yaml"
    path.write_text(yaml.safe_dump(cfg))
    config, base = load_config(path)
    probe = Evaluation(config.evaluation, base_dir=base)
    adopted = probe.inputs.panel.dropna(subset=["adoption_period"])["authority_code"].iloc[0]
    ev = Evaluation(config.evaluation, authority=adopted, base_dir=base)
    assert "Observed, fitted and counterfactual series" in [c for c, _ in ev.section(7).figures]
    ev2 = Evaluation(config.evaluation, authority=adopted, base_dir=base)
    panel = ev2.inputs.panel
    panel.loc[panel.index[panel["authority_code"] == adopted][0], "referrals"] = 4
    sec = ev2.section(7)
    assert "Observed, fitted and counterfactual series" not in [c for c, _ in sec.figures]
    assert any("is not plotted: some months had between 1 and 5" in p for p in sec.paragraphs)
