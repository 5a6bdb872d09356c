"""A design is its registry spec: a plug-in and the synthetic control run from a config through
`ehimpact run` (and `ehimpact batch`), with no edit to ehimpact (issues 14 item 1, 15 item 4)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import yaml

from ehimpact.data import synthetic

ROOT = Path(__file__).resolve().parent.parent
pytestmark = pytest.mark.notebook


def _inputs(tmp_path: Path, n: int = 6, per: int = 300) -> tuple[dict, list[str], pd.DataFrame]:
    region = synthetic.region(n_authorities=n, seed=7, children_per_authority=per)
    data = tmp_path / "data"
    data.mkdir(exist_ok=True)
    region.children.to_csv(data / "children.csv", index=False)
    region.panel.to_csv(data / "panel.csv", index=False)
    cfg = yaml.safe_load((ROOT / "config" / "demo.yaml").read_text())
    cfg["evaluation"]["data"] = {"child_level": "data/children.csv", "authority_panel": "data/panel.csv"}
    cfg["evaluation"]["robustness"] = []
    cfg["evaluation"].pop("costs", None)
    cfg["output_dir"] = str(tmp_path / "out")
    return cfg, list(pd.unique(region.children["authority_code"])), region.panel


def _write(tmp_path: Path, cfg: dict) -> Path:
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(cfg, sort_keys=False))
    return path


@pytest.fixture(scope="module")
def plugin_site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    target = tmp_path_factory.mktemp("site")
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation",
                    "--target", str(target), str(ROOT / "examples" / "partner_plugin")], check=True)
    return target


def _cli(args: list[str], site: Path | None = None) -> subprocess.CompletedProcess:
    env = dict(os.environ)
    if site is not None:
        env["PYTHONPATH"] = f"{site}:{ROOT}"
    return subprocess.run([sys.executable, "-m", "ehimpact.cli", *args], capture_output=True, text=True,
                          timeout=900, env=env)


def _results(out: Path) -> dict:
    found = [p for p in out.rglob("results.json") if not any(s.startswith(".") for s in p.parts)]
    assert found, list(out.rglob("*"))
    return json.loads(found[0].read_text())


def test_plugin_design_runs_from_a_config(tmp_path: Path, plugin_site: Path) -> None:
    cfg, codes, _ = _inputs(tmp_path, n=2)
    cfg["evaluation"]["design"] = {"name": "median_diff", "options": {"draws": 199}}
    cfg["evaluation"]["authority"] = codes[0]
    out = _cli(["run", str(_write(tmp_path, cfg))], plugin_site)
    assert out.returncode == 0, out.stderr[-3000:]
    res = _results(tmp_path / "out")
    assert res["primary"]["estimand"] == "difference in medians"
    assert "percentile bootstrap" in res["primary"]["method"]
    html = next(p for p in (tmp_path / "out").rglob("report.html") if "." not in p.parent.name[:1])
    assert "difference in medians" in html.read_text()


@pytest.mark.slow
def test_plugin_design_runs_in_a_batch(tmp_path: Path, plugin_site: Path) -> None:
    cfg, codes, _ = _inputs(tmp_path, n=3)
    cfg["evaluation"]["design"] = {"name": "median_diff", "options": {"draws": 199}}
    cfg["batch"] = {"name": "plugin", "authorities": "all", "timeout_per_notebook": 300}
    out = _cli(["batch", str(_write(tmp_path, cfg)), "--workers", "2"], plugin_site)
    assert out.returncode == 0, out.stderr[-3000:]
    summary = pd.read_csv(tmp_path / "out" / "plugin" / "summary.csv")
    assert (summary["status"] == "ok").sum() == 3


def test_synthetic_control_design_writes_weights_fit_and_placebos(tmp_path: Path) -> None:
    cfg, codes, panel = _inputs(tmp_path, n=8)
    adopters = panel.dropna(subset=["adoption_period"])["authority_code"].unique()
    treated = str(adopters[0])
    cfg["evaluation"]["authority"] = treated
    cfg["evaluation"]["design"] = {"name": "synthetic_control", "options": {"outcome": "referrals_rate"}}
    cfg["evaluation"]["outcomes"] = [{"column": "csc_referral_12m", "primary": True,
                                      "label": "be referred to children's social care within 12 months"}]
    out = _cli(["run", str(_write(tmp_path, cfg))])
    assert out.returncode == 0, out.stderr[-3000:]
    res = _results(tmp_path / "out")
    assert res["primary"]["estimand"] == "ATT"
    html = next(p for p in (tmp_path / "out").rglob("report.html")).read_text()
    for words in ("Donor weights of the synthetic comparison", "and its synthetic comparison",
                  "Gap to the synthetic comparison", "Placebo test", "weighted comparison of"):
        assert words in html, words
    never = panel[panel["adoption_period"].isna()]
    names = set(never["authority_name"].astype(str))
    headline = res["primary"].get("summary") or ""
    assert any(n in html for n in names)
    assert "ranked" in html
    _ = headline
