"""scan_outputs: planted identifiers and small counts are found; a clean folder passes."""

from __future__ import annotations

import json

import nbformat
import pandas as pd
import pytest

from ehimpact import InputError
from ehimpact.report import disclose, scan_outputs, table_record

IDS = ["LA123-000017", "LA123-000018", "UPN9988776655"]


def _clean_folder(root):
    root.mkdir(parents=True, exist_ok=True)
    t = pd.DataFrame({"age": ["0-4", "5-9", "10-17"], "n_children": [3, 40, 55], "n_referred": [12, 19, 0]})
    safe, log = disclose(t, counts=["n_children", "n_referred"], additive_counts=False, name="by_age")
    (root / "results.json").write_text(json.dumps({"estimates": [{"estimate": -0.03, "n_treated": 800}],
                                                   "tables": [table_record(safe, log)],
                                                   "disclosure_log": log.to_list()}))
    safe.to_csv(root / "by_age.csv", index=False)
    (root / "report.html").write_text("<html><body><p>Children supported were 3.1 percentage points "
                                      "less likely ...</p><img src='data:image/png;base64,iVBORw0KGgo'></body></html>")
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_markdown_cell("# Step 1\nThe service supported 800 children."),
                nbformat.v4.new_code_cell("print(1)", outputs=[nbformat.v4.new_output("stream", text="1\n")])]
    nbformat.write(nb, root / "report.ipynb")
    (root / "notes.md").write_text("Counts of 1 to 5 are shown as c.\n")
    (root / "figure.png").write_bytes(b"\x89PNG LA123-000017")  # binary files are not text outputs
    return root


def test_clean_folder_has_no_findings(tmp_path):
    root = _clean_folder(tmp_path / "out")
    assert scan_outputs(root, identifiers=IDS) == []


def test_planted_identifier_and_small_counts_are_found(tmp_path):
    root = _clean_folder(tmp_path / "out")
    # an identifier in a notebook output, a markdown file and a CSV name column
    nb = nbformat.read(root / "report.ipynb", as_version=4)
    nb.cells.append(nbformat.v4.new_code_cell("df.head()", outputs=[
        nbformat.v4.new_output("stream", text="child_id LA123-000018 outcome 1\n")]))
    nbformat.write(nb, root / "report.ipynb")
    (root / "sub").mkdir()
    (root / "sub" / "extra.md").write_text("ok\nsee UPN9988776655.\n")
    # a disclosed table with an unsuppressed 3, and a CSV count column with a 2
    doc = json.loads((root / "results.json").read_text())
    doc["tables"][0]["data"][1]["n_referred"] = 3
    (root / "results.json").write_text(json.dumps(doc))
    pd.DataFrame({"area": ["A", "B"], "n_children": [2, 30]}).to_csv(root / "leak.csv", index=False)

    found = scan_outputs(root, identifiers=IDS)
    got = {(f.file, f.kind, f.detail) for f in found}
    assert ("report.ipynb", "identifier", "record-level identifier 'LA123-000018'") in got
    assert ("sub/extra.md", "identifier", "record-level identifier 'UPN9988776655'") in got
    assert ("results.json", "small count", "unsuppressed count 3") in got
    assert ("leak.csv", "small count", "unsuppressed count '2'") in got
    assert len(found) == 4
    loc = {f.file: f.location for f in found}
    assert loc["sub/extra.md"] == "line 2"
    assert loc["results.json"] == "table 'by_age' row 2 column 'n_referred'"
    assert loc["leak.csv"] == "line 2 column 'n_children'"
    assert "LA123-000018" in str([f for f in found if f.file == "report.ipynb"][0])


def test_identifier_inside_a_file_name_or_path(tmp_path):
    (tmp_path / "log.txt").write_text("wrote outputs/LA123-000017.csv and dir/UPN9988776655/x\n")
    found = scan_outputs(tmp_path, identifiers=IDS)
    assert sorted(f.detail for f in found) == ["record-level identifier 'LA123-000017'",
                                               "record-level identifier 'UPN9988776655'"]


def test_identifier_is_a_whole_token(tmp_path):
    (tmp_path / "a.txt").write_text("LA123-0000170 and XLA123-000017 are other ids\n")
    assert scan_outputs(tmp_path, identifiers=IDS) == []


def test_table_record_without_disclosed_flag_is_still_checked(tmp_path):
    rec = {"name": "raw", "count_columns": ["n"], "data": [{"g": "a", "n": 4}, {"g": "b", "n": 0}]}
    (tmp_path / "results.json").write_text(json.dumps({"tables": [rec]}))
    found = scan_outputs(tmp_path, identifiers=[])
    assert [(f.location, f.detail) for f in found] == [("table 'raw' row 1 column 'n'", "unsuppressed count 4")]


def test_small_sample_size_in_an_estimate_is_found(tmp_path):
    doc = {"estimates": [{"estimate": 0.1, "n_treated": 4, "n_control": 120}], "diagnostics": {"n_lags": 3}}
    (tmp_path / "results.json").write_text(json.dumps(doc))
    found = scan_outputs(tmp_path, identifiers=[])
    assert [(f.location, f.detail) for f in found] == [("key 'n_treated' at estimates[0].n_treated",
                                                       "unsuppressed count 4")]


def test_invalid_json_is_reported(tmp_path):
    (tmp_path / "results.json").write_text("{not json")
    assert [f.kind for f in scan_outputs(tmp_path, identifiers=[])] == ["unreadable"]


def test_scan_errors(tmp_path):
    with pytest.raises(InputError, match="directory"):
        scan_outputs(tmp_path / "missing", identifiers=IDS)
    with pytest.raises(InputError, match="identifiers.*shorter than 4"):
        scan_outputs(tmp_path, identifiers=["17", "LA123-000017"])


def test_report_package_is_lazy():
    import subprocess
    import sys

    code = ("import sys, ehimpact.report as r; assert 'ehimpact.report.disclosure' not in sys.modules; "
            "r.disclose; assert 'ehimpact.report.disclosure' in sys.modules")
    subprocess.run([sys.executable, "-c", code], check=True)


def _figure_html(labels):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from ehimpact.report.figures import figure_html

    fig, ax = plt.subplots()
    ax.barh(labels, [1.0] * len(labels))
    ax.set_title("Balance & overlap <by group>")
    out = figure_html(fig, "A figure")
    plt.close(fig)
    return out


def test_identifier_inside_an_embedded_svg_figure_is_found(tmp_path):
    """Figures are base64 SVG with their text kept as text: the scan reads the words inside them."""
    root = _clean_folder(tmp_path / "out")
    (root / "fig.html").write_text(f"<html><body>{_figure_html(['age', 'LA123-000018'])}</body></html>")
    found = scan_outputs(root, identifiers=IDS)
    assert [(f.file, f.kind) for f in found] == [("fig.html", "identifier")]
    assert found[0].location.startswith("figure text") and "LA123-000018" in found[0].detail


def test_svg_figure_text_is_read_and_unescaped(tmp_path):
    from ehimpact.report.figures import svg_texts

    texts = svg_texts(_figure_html(["age", "fsm"]))
    assert "Balance & overlap <by group>" in texts and {"age", "fsm"} <= set(texts)
    root = _clean_folder(tmp_path / "out")
    (root / "fig.html").write_text(_figure_html(["age", "fsm"]))
    assert scan_outputs(root, identifiers=IDS) == []
