"""The write-up says only true things, in one unit, and a councillor can read it (issue 13).

Each numbered test reproduces an item of issue 13 that failed on the code before the change:
1 exclusions, 2 diagnostics reaching the report, 3 few-cluster policy, 4 ITS events averted,
7 units and signs, 9 machine paths; then the councillor-ready checks (summary page, labels,
assumptions box, captions) and issue 16.7's unknown-column error.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from ehimpact.errors import InputError
from ehimpact.report.evaluation import Evaluation
from ehimpact.runner.config import load_config

ROOT = Path(__file__).resolve().parents[1]


def _config(tmp_path: Path, *, n: int = 5, robustness=None, costs: bool = False, design=None,
            **evaluation) -> tuple:
    cfg = yaml.safe_load((ROOT / "config" / "demo.yaml").read_text())
    cfg["evaluation"]["data"] = {"synthetic": {"n_authorities": n, "seed": 5, "children_per_authority": 400}}
    cfg["evaluation"]["robustness"] = robustness if robustness is not None else []
    if design is not None:
        cfg["evaluation"]["design"] = design
    if costs:
        cfg["evaluation"]["costs"]["draws"] = 200
    else:
        cfg["evaluation"].pop("costs", None)
    cfg["evaluation"].update(evaluation)
    path = tmp_path / "cfg.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return load_config(path)


def _evaluation(tmp_path: Path, **kw) -> Evaluation:
    config, base = _config(tmp_path, **kw)
    return Evaluation(config.evaluation, base_dir=base)


def _adopter(tmp_path: Path, **kw) -> Evaluation:
    """An evaluation of an authority that adopted the new model (panel designs need one)."""
    config, base = _config(tmp_path, **kw)
    probe = Evaluation(config.evaluation, base_dir=base)
    code = probe.inputs.panel.dropna(subset=["adoption_period"])["authority_code"].iloc[0]
    return Evaluation(config.evaluation, authority=code, base_dir=base, inputs=probe.inputs)


def _text(sec) -> str:
    return "\n".join(sec.paragraphs)


def _row(table: pd.DataFrame, startswith: str) -> str:
    col0, col1 = table.columns[:2]
    return str(table.loc[table[col0].astype(str).str.startswith(startswith), col1].iloc[0])


# ------------------------------------------------------------------------- 1. exclusions
def test_1_pitfall_3_counts_children_dropped_by_the_caliper(tmp_path):
    """Caliper 0.05: supported children find no match; pitfall 3 once said none were excluded."""
    ev = _evaluation(tmp_path, design={"name": "match", "options": {"replace": True, "caliper": 0.05}})
    dropped = ev.primary.diagnostics["dropped_by_caliper"]["treated"]
    assert dropped > 5  # the scenario: many supported children dropped
    table = dict(ev.section(10).tables)["EIF's six common pitfalls, checked against this evaluation"]
    text = _row(table, "3.")
    assert "no supported children excluded" not in text
    assert f"{dropped:,} supported children found no comparison child within the caliper" in text
    assert f"{dropped:,} supported children" in _text(ev.section(4))


def test_1_pitfall_3_counts_open_episodes_excluded_before_estimation(tmp_path):
    ev = _evaluation(tmp_path)
    ev.inputs.validation["open_episodes"] = {"excluded": 37}
    table = dict(ev.section(10).tables)["EIF's six common pitfalls, checked against this evaluation"]
    assert "37 supported children whose early help episode was still open" in _row(table, "3.")
    ev2 = _evaluation(tmp_path)
    ev2.inputs.validation["open_episodes"] = 3  # a count of 1-5 is worded with the symbol
    table = dict(ev2.section(10).tables)["EIF's six common pitfalls, checked against this evaluation"]
    assert "a small number (c) of supported children whose early help episode" in _row(table, "3.")


# ------------------------------------------------------------------------- 2. diagnostics
def test_2_pretest_overdispersion_and_evalue_reach_the_report(tmp_path):
    ev = _adopter(tmp_path, robustness=[{"name": "staggered_did", "options": {"outcome": "referrals_rate"}},
                                        {"name": "its", "options": {"outcome": "referrals"}}],
                  design={"name": "match", "options": {"replace": True, "caliper": 0.2}})
    text = _text(ev.section(8))
    stag = next(v for k, v in ev.estimates().items() if k.startswith("staggered_did"))
    p = stag.diagnostics["pretest"]["pvalue"]
    assert "Pre-trend test" in text and (f"p = {p:.3f}" in text or "p < 0.001" in text)
    its = next(v for k, v in ev.estimates().items() if k.startswith("its"))
    disp = its.diagnostics["pearson_dispersion"]
    assert f"Pearson chi-square / df = {disp:.2f}" in text
    e = ev.primary.evalue()
    assert f"E-value {e['evalue_estimate']:.2f}" in text


# ------------------------------------------------------------------------- 3. few clusters
def test_3_few_cluster_policy_is_one_rule_for_every_panel_design():
    from ehimpact.estimators.inference import few_cluster_policy

    for design in ("did_2x2", "twfe", "event_study"):
        pol = few_cluster_policy(9, design)
        assert pol.few and pol.options == {"inference": "wild", "wild_weights": "webb"} and pol.warning is None
        assert "9 authorities" in pol.statement
    assert few_cluster_policy(20, "twfe").options["wild_weights"] == "rademacher"
    pol = few_cluster_policy(3, "staggered_did")
    assert pol.few and not pol.options and "3 authorities" in pol.warning and "too narrow" in pol.warning
    assert few_cluster_policy(40, "staggered_did").warning is None
    assert "1 authority (48 months)" in few_cluster_policy(1, "its", n_periods=48).statement
    with pytest.raises(InputError):
        few_cluster_policy(0, "twfe")


def test_3_every_panel_design_states_its_authorities_and_staggered_warns_in_its_sentence(tmp_path):
    robust = [{"name": "did_2x2", "options": {"outcome": "referrals_rate"}},
              {"name": "event_study", "options": {"outcome": "referrals_rate"}},
              {"name": "staggered_did", "options": {"outcome": "referrals_rate"}},
              {"name": "its", "options": {"outcome": "referrals"}}]
    ev = _adopter(tmp_path, n=4, robustness=robust)
    sec = ev.section(8)
    n = ev.inputs.panel["authority_code"].nunique()
    stag = next(p for p in sec.paragraphs if p.startswith("**Staggered difference-in-differences"))
    # the warning is inside the sentence that gives the interval, not in a note elsewhere
    assert "95% CI" in stag and f"rests on only {n} authorities" in stag and "too narrow" in stag
    for key in ev.estimates():
        if key.split(":")[0] in ("did_2x2", "event_study", "staggered_did", "its"):
            assert "Rests on" in ev.notes[key] or "rests on" in ev.notes[key], key
    assert any("Rests on 1 authority" in p for p in sec.paragraphs)


# ------------------------------------------------------------------------- 4. ITS averted
def _series(seed: int = 3, n_pre: int = 24, n_post: int = 24) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    t = np.arange(n_pre + n_post)
    mu = np.exp(3.0 + 0.004 * t - 0.15 * (t >= n_pre))
    y = rng.negative_binomial(5, 5 / (5 + mu))
    return pd.DataFrame({"period": pd.date_range("2019-01-01", periods=len(t), freq="MS"), "referrals": y})


@pytest.mark.parametrize("family", ["poisson", "negbin"])
def test_4_its_averted_is_the_post_period_sum_of_counterfactual_minus_observed(family):
    from ehimpact.estimators.its import its

    data = _series()
    res = its(data, outcome="referrals", time="period", intervention=pd.Timestamp("2021-01-01"), family=family)
    cf = res.counterfactual
    post = cf["post"] & cf["in_fit"]
    expected = float((cf.loc[post, "counterfactual"] - cf.loc[post, "observed"]).sum())
    assert res.averted.estimate == pytest.approx(expected, rel=1e-9, abs=1e-6)
    lo, hi = res.averted.ci
    assert lo < res.averted.estimate < hi
    assert (hi - res.averted.estimate) == pytest.approx(res.averted.estimate - lo, rel=1e-6)  # Wald interval
    assert res.averted.units == "months"
    # the averted count can never exceed the counterfactual total (it is bounded by what was expected)
    assert res.averted.estimate <= cf.loc[post, "counterfactual"].sum()


def test_4_a_counterfactual_projected_far_beyond_its_pre_period_is_flagged():
    """12 months before, 36 after: the projection the "6,060 averted of about 400" came from is said in words."""
    from ehimpact.estimators.its import its

    data = _series(n_pre=12, n_post=36)
    res = its(data, outcome="referrals", time="period", intervention=data["period"].iloc[12], family="poisson")
    assert res.averted.warnings and "projects a trend estimated from 12 months" in res.averted.warnings[0]
    data = _series(n_pre=24, n_post=12)
    res = its(data, outcome="referrals", time="period", intervention=data["period"].iloc[24], family="poisson")
    cf = res.counterfactual[res.counterfactual["post"]]
    if cf["counterfactual"].sum() <= 2 * cf["observed"].sum():
        assert not res.averted.warnings


# ------------------------------------------------------------------------- 7. units and signs
def test_7_probabilities_are_percentage_points_in_text_tables_and_axes(tmp_path):
    robust = [{"name": "weight", "options": {"method": "aipw"}},
              {"name": "did_2x2", "options": {"outcome": "referrals_rate"}},
              {"name": "its", "options": {"outcome": "referrals"}}]
    ev = _adopter(tmp_path, robustness=robust)
    p = ev.primary
    pp = f"{100 * abs(p.estimate):.1f} percentage points"
    assert pp in _text(ev.section(7))
    table = dict(ev.section(8).tables)["The headline beside alternative designs"]
    head = table.iloc[0]
    assert head["Estimate"] == f"{100 * p.estimate:+.1f} pp" and head["Unit"] == "percentage points"
    assert "children" in head["Rests on"]
    units = dict(zip(table["Design"], table["Unit"], strict=True))
    rests = dict(zip(table["Design"], table["Rests on"], strict=True))
    assert units["difference-in-differences (2x2)"] == "per 10,000 children"
    assert "comparison authorit" in rests["difference-in-differences (2x2)"]
    assert units["interrupted time series"].startswith("rate ratio") and "months" in rests["interrupted time series"]
    assert "n_treated" not in " ".join(table.columns) and not any("0.0" in str(v) for v in table["Estimate"][:1])
    # the headline chart's axis is in the same unit as the text
    fig = dict(ev.section(7).figures)["Headline estimate with its 95% confidence interval"]
    ax = fig.axes[0]
    assert ax.get_xlabel() == "difference, percentage points"
    (point,) = [ln for ln in ax.lines if ln.get_marker() == "o"]
    (x,) = point.get_xdata()
    assert x == pytest.approx(100 * p.estimate)


# ------------------------------------------------------------------------- 9. machine paths
def test_9_no_machine_path_in_results_or_the_notebook_cell(tmp_path, monkeypatch):
    from ehimpact.report import notebook

    ev = _evaluation(tmp_path)
    out = tmp_path / "deep" / "folder" / "results.json"
    out.parent.mkdir(parents=True)
    monkeypatch.setattr("IPython.display.display", lambda *a, **k: None)
    value = notebook.finish(ev, str(out), parameters={"config_path": str(tmp_path / "cfg.yaml"),
                                                      "authority": ev.authority, "run_id": "x"})
    assert value is None  # the last cell shows no PosixPath(...)
    text = out.read_text()
    assert str(tmp_path) not in text and "/tmp" not in text
    assert json.loads(text)["parameters"]["config_path"] == "cfg.yaml"


# ------------------------------------------------------------------------- councillor-ready
def test_summary_page_holds_question_answer_certainty_savings_and_next_steps(tmp_path):
    ev = _evaluation(tmp_path, costs=True)
    sec = ev.summary()
    text = _text(sec)
    for part in ("**The question.**", "**The answer.**", "**How sure we are.**", "EIF evidence level",
                 "biggest threat", "**What it saves.**", "interval", "**What to do next.**"):
        assert part in text, part
    assert ev.primary.headline() in text
    # assumptions are flagged in the summary and listed once, in step 9's box, not in its sentences
    s9 = ev.section(9)
    assert s9.box and s9.box_title.startswith("Assumptions")
    assert f"rest on {len(s9.box)} placeholder, unconfirmed or assumed inputs" in text
    assert not any("UNCONFIRMED" in p or "Warning:" in p for p in s9.paragraphs)
    assert ev.results()["summary"]["number"] == 0


def test_tables_have_human_labels_captions_and_readable_numbers(tmp_path):
    ev = _evaluation(tmp_path, costs=True, robustness=[{"name": "weight", "options": {"method": "aipw"}}])
    snake = re.compile(r"^[a-z0-9]+(_[a-z0-9]+)+$")
    for sec in ev.sections():
        for caption, table in sec.tables:
            assert sec.rows.get(caption, "").startswith(("One row per", "Read down")), caption
            for col in table.columns:
                assert not snake.match(str(col)), (caption, col)
            cells = table.astype(str).to_numpy().ravel().tolist()
            assert "True" not in cells and "False" not in cells, caption
            assert not any(re.fullmatch(r"-?\d\.\d+e-\d+", c) for c in cells), caption  # no 2.8e-52
    bal = dict(ev.section(6).tables)["Covariate balance before and after adjustment"]
    assert "Std. mean difference after" in bal.columns and "Age (years)" in bal.iloc[:, 0].tolist()
    vfm = dict(ev.section(9).tables)["Value for money"]
    assert all(re.fullmatch(r"-?£[\d.,]+(k|m|bn)?", v) for v in vfm["Present value of avoided costs"])


def test_money_and_pvalue_styles():
    from ehimpact.report.labels import fmt_money, fmt_p, label

    assert (fmt_money(2_112_000), fmt_money(678_400), fmt_money(-907_012)) == ("£2.1m", "£678k", "-£907k")
    assert fmt_p(2.8e-52) == "< 0.001" and fmt_p(0.0259) == "0.026"
    assert label("cin_case_6m").startswith("Child in need")  # from the unit-cost table
    assert label("la_childrens_services") == "Local authority children's services"
    assert label("referrals_rate") == "Referrals to children's social care per 10,000 children"


def test_index_page_is_sortable_offline_with_forest_and_watermark():
    from ehimpact.report.index_page import index_html

    rows = [{"authority_code": "E1", "authority_name": "A", "evaluation": "e", "status": "ok",
             "report_href": "E1/e/report.html", "estimate": -0.06, "ci_lower": -0.1, "ci_upper": -0.02,
             "pvalue": 0.01, "scale": "proportion", "outcome": "csc_referral_12m", "summary": "s"},
            {"authority_code": "E2", "authority_name": "B", "evaluation": "e", "status": "failed",
             "error": "no supported children"}]
    page = index_html(rows, synthetic=True, title="batch")
    assert "SYNTHETIC DATA" in page and "eh-watermark" in page
    assert "<svg" in page and "percentage points" in page and "-6.0 pp" in page
    assert "eh-sortable" in page and "<script>" in page and "src=" not in page.split("<script>")[1]
    assert "http://" not in page.replace('xmlns="http://www.w3.org/2000/svg"', "") and "https://" not in page
    assert "SYNTHETIC DATA" not in index_html(rows, synthetic=False)


# ------------------------------------------------------------------------- 16.7 unknown columns
def test_unknown_outcome_or_covariate_column_is_an_input_error_naming_close_matches(tmp_path):
    config, base = _config(tmp_path, outcomes=[{"column": "csc_referal_12m", "primary": True}])
    with pytest.raises(InputError) as err:
        Evaluation(config.evaluation, base_dir=base)
    assert "csc_referal_12m" in str(err.value) and "csc_referral_12m" in str(err.value)
    assert err.value.field == "evaluation.outcomes[0].column"
    config, base = _config(tmp_path, design={"name": "match", "covariates": ["age", "prior_contact"]})
    with pytest.raises(InputError) as err:
        Evaluation(config.evaluation, base_dir=base)
    assert "prior_contacts" in str(err.value)


def test_charts_show_what_tables_show_with_labels_and_legends_off_the_data(tmp_path):
    """The Love plot drops the differences its table suppresses, has human labels and its legend outside."""
    ev = _evaluation(tmp_path)
    sec = ev.section(6)
    table = dict(sec.tables)["Covariate balance before and after adjustment"]
    fig = dict(sec.figures)["Love plot: standardised mean differences"]
    ax = fig.axes[0]
    after = ax.collections[1].get_offsets()
    plotted = int(np.isfinite(np.asarray(after)[:, 0]).sum())
    shown = int(pd.to_numeric(table["Std. mean difference after"], errors="coerce").notna().sum())
    assert plotted == shown
    names = [t.get_text() for t in ax.get_yticklabels()]
    assert "Age (years)" in names and not any("_" in n or "=" in n for n in names)
    x0, _ = ax.get_legend().get_bbox_to_anchor().transformed(ax.transAxes.inverted()).p0
    assert x0 >= 1.0  # to the right of the axes, over no data


def test_every_sentence_passes_the_small_count_rule(tmp_path, monkeypatch):
    """A count of people written by any module (e.g. a costs summary) is worded with the symbol on the page."""
    from ehimpact.report import steps

    original = steps.step1

    def step1(ev, sec):
        original(ev, sec)
        sec.say("The cohort has 3 supported children and 4 comparison children.")
        sec.boxed("Cohort 3 children; deadweight 0%")

    monkeypatch.setattr(steps, "step1", step1)
    sec = _evaluation(tmp_path).section(1)
    assert "c supported children and c comparison children" in sec.paragraphs[-1]
    assert "3 supported" not in " ".join(sec.paragraphs) and "3 children" not in " ".join(sec.box)
