"""The in-process papermill engine (ehimpact.runner.engine).

Small notebooks built here check each kind of output, errors, isolation between notebooks
and the per-cell time limit; the ten-step notebook is run for one synthetic authority with
both the kernel engine and the in-process engine and must give the same cells, outputs and
results.json numbers.
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import pickle
import subprocess
import sys
from importlib.metadata import entry_points
from pathlib import Path

import nbformat
import papermill as pm
import pytest
import yaml
from papermill.engines import papermill_engines

from ehimpact.runner import engine as eng

ROOT = Path(__file__).resolve().parent.parent


def _notebook(tmp_path: Path, *sources: str, name: str = "nb.ipynb") -> Path:
    nb = nbformat.v4.new_notebook()
    nb.metadata.kernelspec = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.cells = [nbformat.v4.new_markdown_cell("# test")] + [nbformat.v4.new_code_cell(s) for s in sources]
    path = tmp_path / name
    nbformat.write(nb, path)
    return path


def _run(path: Path, out: Path | None = None, **kw) -> nbformat.NotebookNode:
    out = out or path.with_suffix(".out.ipynb")
    return pm.execute_notebook(str(path), str(out), engine_name=eng.ENGINE_NAME, progress_bar=False, **kw)


def _kinds(cell) -> list[tuple]:
    """Output structure of a cell: type, stream name, MIME keys, execution count."""
    return [(o.output_type, o.get("name"), tuple(sorted(o.get("data", {}))), o.get("execution_count"))
            for o in cell.get("outputs", [])]


def test_engine_is_registered_and_exposed_as_entry_point():
    assert papermill_engines.get_engine(eng.ENGINE_NAME) is eng.InProcessEngine
    eps = {ep.name: ep.value for ep in entry_points(group="papermill.engine")}
    assert eps.get("ehimpact-inprocess") == "ehimpact.runner.engine:InProcessEngine"


def test_importing_the_engine_before_papermill_works():
    # papermill loads its entry points (this module) while being imported: no circular-import error
    code = ("import ehimpact.runner.engine as e; from papermill.engines import papermill_engines as p; "
            "assert p.get_engine(e.ENGINE_NAME) is e.InProcessEngine; print('ok')")
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert res.returncode == 0 and res.stdout.strip() == "ok", res.stderr


def test_streams_displays_and_results_in_order(tmp_path):
    path = _notebook(
        tmp_path,
        "x = 20\nprint('a'); print('b')\nimport sys; print('warn', file=sys.stderr)\nx * 2 + 2",
        "from IPython.display import display, Markdown, HTML\nprint('before')\n"
        "display(Markdown('**m**'))\nprint('after')\ndisplay(HTML('<b>h</b>'))",
        "h = display(Markdown('v1'), display_id=True)\nh.update(Markdown('v2'))",
        "from IPython.display import clear_output\nprint('gone')\nclear_output()\nprint('kept')",
        "x;",  # a trailing semicolon suppresses the result, as in a kernel
    )
    nb = _run(path)
    c1, c2, c3, c4, c5 = nb.cells[1:]
    assert _kinds(c1) == [("stream", "stdout", (), None), ("stream", "stderr", (), None),
                          ("execute_result", None, ("text/plain",), 1)]
    assert c1.outputs[0].text == "a\nb\n" and c1.outputs[1].text == "warn\n"
    assert c1.outputs[2].data["text/plain"] == "42"
    assert [o.output_type for o in c2.outputs] == ["stream", "display_data", "stream", "display_data"]
    assert c2.outputs[1].data["text/markdown"] == "**m**" and c2.outputs[3].data["text/html"] == "<b>h</b>"
    assert c3.outputs[0].data["text/markdown"] == "v2"  # display_id update replaced the output
    assert [o.get("text") for o in c4.outputs] == ["kept\n"]
    assert c5.outputs == []
    assert [c.execution_count for c in nb.cells[1:]] == [1, 2, 3, 4, 5]
    assert nb.metadata.language_info["name"] == "python"
    assert all(c.metadata.papermill["status"] == "completed" for c in nb.cells)


def test_matplotlib_inline_figures_are_png_outputs(tmp_path):
    path = _notebook(
        tmp_path,
        "import matplotlib\nmatplotlib.use('Agg')\n%matplotlib inline\nimport matplotlib.pyplot as plt",
        "fig, ax = plt.subplots()\nax.plot([1, 2, 3])\ndisplay(fig)\nplt.close(fig)",  # explicit display
        "fig2, ax2 = plt.subplots()\nax2.bar([1, 2], [3, 4])",  # shown by the inline backend at cell end
    )
    nb = _run(path)
    explicit, implicit = nb.cells[2].outputs, nb.cells[3].outputs
    assert [o.output_type for o in explicit] == ["display_data"]
    images = [o for o in implicit if o.output_type == "display_data"]
    assert len(images) == 1
    for out in (explicit[0], images[0]):
        assert base64.b64decode(out.data["image/png"])[:8] == b"\x89PNG\r\n\x1a\n"
        assert out.data["text/plain"].startswith("<Figure size")


def test_error_cell_raises_papermill_error_with_input_error(tmp_path):
    path = _notebook(
        tmp_path,
        "print('ran')",
        "from ehimpact.errors import InputError\n"
        "raise InputError('no children were supported', field='received_early_help', fix='check the flag')",
        "print('must not run')",
    )
    out = tmp_path / "failed.ipynb"
    with pytest.raises(pm.PapermillExecutionError) as info:
        _run(path, out)
    err = info.value
    assert err.ename == "InputError"
    assert "no children were supported" in err.evalue and "received_early_help" in err.evalue
    assert err.exec_count == 2
    nb = nbformat.read(out, as_version=4)  # papermill saved it, with its error marker cells
    code = [c for c in nb.cells if c.cell_type == "code"]
    error_outputs = [o for o in code[1].outputs if o.output_type == "error"]
    assert len(error_outputs) == 1 and error_outputs[0].ename == "InputError"
    assert any("InputError" in line for line in error_outputs[0].traceback)
    assert code[2].outputs == [] and code[2].execution_count is None
    assert code[1].metadata.papermill["status"] == "failed"
    assert any("papermill-error-cell-tag" in c.metadata.get("tags", []) for c in nb.cells)


def test_syntax_error_is_an_error_output(tmp_path):
    with pytest.raises(pm.PapermillExecutionError) as info:
        _run(_notebook(tmp_path, "def broken(:\n    pass"))
    assert info.value.ename == "SyntaxError"


def test_notebooks_in_one_process_share_no_state(tmp_path):
    first = _notebook(
        tmp_path,
        "secret = 41\nimport os, sys, matplotlib\nos.environ['EH_ENGINE_TEST'] = '1'\n"
        "sys.path.append('/nowhere')\nos.chdir('/')\nmatplotlib.rcParams['lines.linewidth'] = 9.0",
        "secret + 1",
        name="first.ipynb",
    )
    second = _notebook(
        tmp_path,
        "import os, sys, matplotlib\n"
        "print('secret' in globals(), os.environ.get('EH_ENGINE_TEST'), '/nowhere' in sys.path, "
        "matplotlib.rcParams['lines.linewidth'])",
        name="second.ipynb",
    )
    cwd = os.getcwd()
    nb1 = _run(first)
    assert nb1.cells[2].outputs[0].data["text/plain"] == "42"
    assert os.getcwd() == cwd and "EH_ENGINE_TEST" not in os.environ
    nb2 = _run(second)
    lw0 = __import__("matplotlib").rcParams["lines.linewidth"]
    assert nb2.cells[1].outputs[0].text == f"False None False {lw0}\n"
    assert nb2.cells[1].execution_count == 1  # counts restart per notebook


@pytest.mark.skipif(not Path("/proc/self/statm").exists(), reason="reads /proc (Linux)")
def test_memory_does_not_grow_from_notebook_to_notebook(tmp_path):
    # each run leaves a 40 MB array in a reference cycle: it must be freed after the notebook
    path = _notebook(tmp_path, "import numpy as np\nclass Box: pass\nb = Box(); b.me = b\n"
                     "b.data = np.ones(5_000_000)\nfloat(b.data.sum())")

    def rss_mb() -> float:
        return int(Path("/proc/self/statm").read_text().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 1e6

    _run(path)
    before = rss_mb()
    for _ in range(8):
        nb = _run(path)
    assert nb.cells[1].outputs[0].data["text/plain"] == "5000000.0"
    assert rss_mb() - before < 100  # 8 x 40 MB would be kept without the collection


def test_warnings_are_stderr_output_as_in_a_kernel(tmp_path):
    # pytest records warnings; inside the notebook they must still print to stderr
    path = _notebook(tmp_path, "import warnings\nwarnings.warn('careful', RuntimeWarning)\n"
                     "warnings.warn('old', DeprecationWarning, stacklevel=2)")
    nb = _run(path)
    outs = nb.cells[1].outputs
    assert [o.name for o in outs] == ["stderr"]
    assert "RuntimeWarning: careful" in outs[0].text and "old" not in outs[0].text


def test_cell_time_limit(tmp_path):
    path = _notebook(tmp_path, "x = 0\nwhile True:\n    x += 1", "print('after')")
    with pytest.raises(pm.PapermillExecutionError) as info:
        _run(path, execution_timeout=1)
    assert info.value.ename == "CellTimeoutError"
    assert "1 s" in info.value.evalue
    # a notebook that swallows Exception cannot swallow the time limit
    swallow = _notebook(tmp_path, "try:\n    while True:\n        pass\nexcept Exception:\n    pass",
                        name="swallow.ipynb")
    with pytest.raises(pm.PapermillExecutionError) as info:
        _run(swallow, execution_timeout=1)
    assert info.value.ename == "CellTimeoutError"
    # the engine is still usable, and a quick cell is not affected by the limit
    nb = _run(_notebook(tmp_path, "1 + 1", name="ok.ipynb"), execution_timeout=5)
    assert nb.cells[1].outputs[0].data["text/plain"] == "2"


def test_warm_imports_plugin_pickles_and_imports():
    plugin = pickle.loads(pickle.dumps(eng.WarmImports()))
    assert type(plugin).__name__ == "WarmImports" and plugin.name == "ehimpact-warm-imports"
    asyncio.run(plugin.setup(worker=None))  # runs warm_imports off the event loop
    assert eng._SHELL is not None
    seconds = eng.warm_imports(("json", "colorsys", "no_such_module_xyz"))
    assert set(seconds) == {"json", "colorsys", "shell"}  # a missing module is skipped


def _config(tmp_path: Path) -> Path:
    cfg = yaml.safe_load((ROOT / "config" / "demo.yaml").read_text())
    cfg["evaluation"]["data"] = {"synthetic": {"n_authorities": 3, "seed": 5, "children_per_authority": 400}}
    cfg["evaluation"]["costs"]["draws"] = 500
    cfg["output_dir"] = str(tmp_path / "out")
    path = tmp_path / "cfg.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return path


def _numbers(obj, prefix=""):
    """Every number in a JSON document, by path (for an exact comparison)."""
    if isinstance(obj, dict):
        for k, v in obj.items():
            yield from _numbers(v, f"{prefix}/{k}")
    elif isinstance(obj, list):
        for i, v in enumerate(obj):
            yield from _numbers(v, f"{prefix}/{i}")
    elif isinstance(obj, int | float) and not isinstance(obj, bool):
        yield prefix, obj


def eng_template():
    from ehimpact.runner.run import notebook_path

    return str(notebook_path())


@pytest.mark.notebook
def test_ten_step_notebook_same_with_kernel_and_in_process(tmp_path):
    from ehimpact.runner.run import run_one

    cfg = _config(tmp_path)
    code = "E06000036"
    kernel = run_one(cfg, code, tmp_path / "kernel")
    inproc = run_one(cfg, code, tmp_path / "inproc", engine=eng.ENGINE_NAME)
    assert kernel.status == "ok" and inproc.status == "ok", (kernel.error, inproc.error)
    folder_k, folder_i = Path(kernel.folder), Path(inproc.folder)

    nb_k = nbformat.read(folder_k / "report.ipynb", as_version=4)
    nb_i = nbformat.read(folder_i / "report.ipynb", as_version=4)
    template = nbformat.read(eng_template(), as_version=4)
    assert len(nb_k.cells) == len(nb_i.cells) == len(template.cells) + 1  # + papermill's injected parameters
    for ck, ci in zip(nb_k.cells, nb_i.cells, strict=True):
        assert (ck.cell_type, ck.get("execution_count")) == (ci.cell_type, ci.get("execution_count"))
        if "injected-parameters" not in ck.metadata.get("tags", []):  # holds the output folder
            assert ck.source == ci.source
        assert _kinds(ck) == _kinds(ci), ck.source
        for ok, oi in zip(ck.get("outputs", []), ci.get("outputs", []), strict=True):
            for mime in ("text/markdown", "text/html"):
                assert ok.get("data", {}).get(mime) == oi.get("data", {}).get(mime)
            assert ok.get("text") == oi.get("text")
    n_fig = sum("data:image/svg+xml;base64" in o.get("data", {}).get("text/html", "")
                for c in nb_i.cells for o in c.get("outputs", []))
    assert n_fig >= 3
    assert nb_k.metadata.language_info == nb_i.metadata.language_info

    res_k = json.loads((folder_k / "results.json").read_text())
    res_i = json.loads((folder_i / "results.json").read_text())
    nums_k, nums_i = dict(_numbers(res_k)), dict(_numbers(res_i))
    assert len(nums_k) > 50 and nums_k == nums_i
    assert res_k["primary"]["estimate"] == res_i["primary"]["estimate"]

    html_k = (folder_k / "report.html").read_text()
    html_i = (folder_i / "report.html").read_text()
    assert abs(len(html_k) - len(html_i)) < 0.01 * len(html_k)
    # the figures are embedded, identically (SVG drawn with fixed ids and no date)
    assert html_i.count("data:image/svg+xml;base64") == html_k.count("data:image/svg+xml;base64") >= n_fig
