"""A warm, in-process papermill engine: notebooks run inside the current Python process.

papermill's default engine starts a fresh Jupyter kernel for every notebook, and each
kernel imports pandas, statsmodels, scipy, scikit-learn and matplotlib again: about 2 s
of overhead per notebook for a few hundred milliseconds of work.  In a batch the same
worker process runs notebook after notebook, so the imports need to happen only once.

:class:`InProcessEngine` (registered as ``engine_name="ehimpact-inprocess"``, also through
the ``papermill.engine`` entry-point group) executes the cells with IPython's
:class:`~IPython.core.interactiveshell.InteractiveShell` in the calling process and writes
the outputs in nbformat's format, as a kernel would:

* ``stream`` outputs for ``sys.stdout``/``sys.stderr`` (consecutive writes to the same
  stream are merged into one output),
* ``display_data`` for :func:`IPython.display.display` (text/markdown, text/html,
  image/png, ...; ``display_id`` updates and ``clear_output`` are honoured),
* ``execute_result`` for a cell's last expression, with its execution count,
* ``error`` (``ename``, ``evalue``, ``traceback``) for an exception; execution stops at
  that cell and papermill raises :class:`papermill.exceptions.PapermillExecutionError`
  exactly as with a kernel (the runner reads ``.ename``/``.evalue``).

Magics work (``%matplotlib inline`` displays figures as image/png outputs through
matplotlib-inline, as in a kernel); GUI event loops do not (there is no event loop).

Isolation between notebooks run in the same process.  Each notebook gets a fresh user
namespace and execution counts restart at 1; afterwards the namespace is emptied and the
garbage collector run (so a worker's memory does not grow from notebook to notebook), and
the engine closes all matplotlib
figures and restores matplotlib's rcParams, the working directory, ``sys.path``,
``os.environ``, ``sys.argv``, the warning filters and ``sys.modules["__main__"]`` to what
they were before the notebook.  Imported modules stay imported (that is the point): a
notebook that mutates module-level state of a library (monkey-patching, caches) leaves
that state for the next notebook, which a kernel would not.  Output written by C code
directly to file descriptors 1 and 2 is not captured (a kernel captures it).  Notebooks
are run one at a time per process (a process-wide lock), because the standard streams
and IPython's singleton are process-wide; run one thread per worker process.

Time limit.  ``execution_timeout`` (papermill's per-cell limit, seconds) is enforced by a
watchdog thread that raises :class:`CellTimeout` inside the executing thread.  Python
delivers such an exception at the next bytecode boundary, so a cell stuck inside one
long C call (a big matrix product, ``time.sleep``) is stopped only when that call
returns.  The timed-out cell gets an ``error`` output with ``ename="CellTimeoutError"``
and papermill raises ``PapermillExecutionError`` (nbclient instead raises its own
``CellTimeoutError`` without an error output); the partial notebook is kept.

Examples
--------
>>> import papermill as pm
>>> import ehimpact.runner.engine as engine
>>> engine.ENGINE_NAME
'ehimpact-inprocess'
>>> # pm.execute_notebook("in.ipynb", "out.ipynb", engine_name=engine.ENGINE_NAME)
"""

from __future__ import annotations

import base64
import ctypes
import datetime as dt
import io
import os
import platform
import sys
import threading
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

# When this module is imported before papermill, `import papermill` below loads papermill's
# entry points, which import this (half-initialised) module and read InProcessEngine: the
# placeholder keeps that from failing, and the real class is registered at the end.
globals()["InProcessEngine"] = None

from papermill.engines import Engine, papermill_engines  # noqa: E402

__all__ = ["ENGINE_NAME", "InProcessEngine", "CellTimeout", "WarmImports", "warm_imports",  # noqa: F822
           "HEAVY_MODULES"]

ENGINE_NAME = "ehimpact-inprocess"

#: Modules the ten-step and regional notebooks import (checked on the demo run: not
#: scikit-learn or linearmodels, which the designs import lazily when they need them),
#: imported once per worker by :func:`warm_imports`.
HEAVY_MODULES = (
    "numpy", "pandas", "pyarrow", "scipy.stats", "scipy.optimize", "statsmodels.api",
    "statsmodels.formula.api", "matplotlib", "matplotlib.pyplot", "matplotlib_inline.backend_inline",
    "IPython", "IPython.display", "nbformat", "nbconvert", "papermill", "ehimpact",
    "ehimpact.report.evaluation", "ehimpact.report.notebook", "ehimpact.report.sections",
    "ehimpact.report.regional", "ehimpact.runner.render",
)

_LANGUAGE_INFO = {
    "codemirror_mode": {"name": "ipython", "version": 3},
    "file_extension": ".py",
    "mimetype": "text/x-python",
    "name": "python",
    "nbconvert_exporter": "python",
    "pygments_lexer": "ipython3",
    "version": platform.python_version(),
}
_BINARY_MIMES = ("image/png", "image/jpeg", "image/gif", "image/webp", "application/pdf")
_RUN_LOCK = threading.Lock()  # one notebook at a time per process
_SHELL: Any = None


class CellTimeout(BaseException):
    """Raised inside a cell that ran longer than ``execution_timeout`` seconds.

    A ``BaseException`` so that a notebook's ``except Exception`` cannot swallow it.
    """


# ---------------------------------------------------------------------------------------
# Output collection
# ---------------------------------------------------------------------------------------

def _now() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _jsonable_bundle(data: dict[str, Any]) -> dict[str, Any]:
    """Base64-encode binary MIME data, as ipykernel does before sending it."""
    out = {}
    for mime, value in data.items():
        if isinstance(value, bytes | bytearray | memoryview):
            value = bytes(value)
            value = base64.b64encode(value).decode("ascii") if mime in _BINARY_MIMES or not _is_text(value) \
                else value.decode("utf-8")
        out[mime] = value
    return out


def _is_text(value: bytes) -> bool:
    try:
        value.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


class _CellOutputs:
    """The outputs of the cell being executed, in arrival order."""

    def __init__(self, cell: Any, execution_count: int | None, tee: dict[str, Any]) -> None:
        self.cell = cell
        self.execution_count = execution_count
        self.clear_pending = False
        self.display_ids: dict[str, list[Any]] = {}
        self.tee = tee

    def _append(self, output: dict[str, Any]) -> None:
        # plain nodes in nbformat's v4 output shape; nbformat.v4.new_output would also validate
        # each one against the schema (~1.5 ms apiece, ~100 outputs per report)
        from nbformat import from_dict

        if self.clear_pending:
            self.cell.outputs[:] = []
            self.display_ids.clear()
            self.clear_pending = False
        self.cell.outputs.append(from_dict(output))

    def stream(self, name: str, text: str) -> None:
        if not text:
            return
        sink = self.tee.get(name)
        if sink is not None:
            sink.write(text)
        outs = self.cell.outputs
        if outs and not self.clear_pending and outs[-1].get("output_type") == "stream" \
                and outs[-1].get("name") == name:
            outs[-1]["text"] += text
        else:
            self._append({"output_type": "stream", "name": name, "text": text})

    def display(self, data: dict[str, Any], metadata: dict[str, Any], transient: dict[str, Any] | None,
                update: bool) -> None:
        display_id = (transient or {}).get("display_id")
        bundle = _jsonable_bundle(data)
        if update:
            from nbformat import from_dict

            for out in self.display_ids.get(display_id, []) if display_id else []:
                out["data"] = from_dict(bundle)
                out["metadata"] = from_dict(metadata)
            return
        self._append({"output_type": "display_data", "data": bundle, "metadata": metadata})
        if display_id:
            self.display_ids.setdefault(display_id, []).append(self.cell.outputs[-1])

    def execute_result(self, data: dict[str, Any], metadata: dict[str, Any]) -> None:
        self._append({"output_type": "execute_result", "data": _jsonable_bundle(data), "metadata": metadata,
                      "execution_count": self.execution_count})

    def error(self, ename: str, evalue: str, traceback: list[str]) -> None:
        self._append({"output_type": "error", "ename": ename, "evalue": evalue, "traceback": list(traceback)})

    def clear(self, wait: bool) -> None:
        if wait:
            self.clear_pending = True
        else:
            self.cell.outputs[:] = []
            self.display_ids.clear()

    @property
    def has_error(self) -> bool:
        return any(o.get("output_type") == "error" for o in self.cell.outputs)


class _CellStream(io.TextIOBase):
    """``sys.stdout``/``sys.stderr`` while a cell runs: text becomes stream outputs."""

    def __init__(self, name: str, shell: Any) -> None:
        super().__init__()
        self.name_ = name
        self._shell = shell

    @property
    def encoding(self) -> str:  # type: ignore[override]
        return "utf-8"

    def writable(self) -> bool:
        return True

    def isatty(self) -> bool:
        return False

    def write(self, text: str) -> int:  # type: ignore[override]
        if isinstance(text, bytes):
            text = text.decode("utf-8", "replace")
        sink = self._shell._eh_sink
        if sink is not None:
            sink.stream(self.name_, text)
        return len(text)

    def flush(self) -> None:
        pass


# ---------------------------------------------------------------------------------------
# The shell (built lazily: IPython is imported only when a notebook is run)
# ---------------------------------------------------------------------------------------

def _build_shell() -> Any:
    from IPython.core.displayhook import DisplayHook
    from IPython.core.displaypub import DisplayPublisher
    from IPython.core.error import UsageError
    from IPython.core.interactiveshell import InteractiveShell
    from traitlets import Type
    from traitlets.config import Config

    class _Publisher(DisplayPublisher):
        def publish(self, data, metadata=None, source=None, *, transient=None, update=False, **kwargs):
            sink = self.shell._eh_sink
            if sink is not None:
                sink.display(data, metadata or {}, transient, update)

        def clear_output(self, wait=False):
            sink = self.shell._eh_sink
            if sink is not None:
                sink.clear(wait)

    class _DisplayHook(DisplayHook):
        def write_output_prompt(self):
            pass

        def write_format_data(self, format_dict, md_dict=None):
            sink = self.shell._eh_sink
            if sink is not None:
                sink.execute_result(format_dict, md_dict or {})

        def finish_displayhook(self):
            pass

        def flush(self):
            # called by reset(), which clears the whole namespace right after; skips the
            # gc.collect() of DisplayHook.flush (0.1-1 s per notebook on a large heap)
            oh = self.shell.user_ns.get("_oh")
            if oh is not None:
                oh.clear()
            self._, self.__, self.___ = "", "", ""

    class InProcessShell(InteractiveShell):
        """InteractiveShell whose output goes into the notebook cell being executed."""

        displayhook_class = Type(_DisplayHook)
        display_pub_class = Type(_Publisher)

        def __init__(self, **kwargs: Any) -> None:
            self._eh_sink = None
            super().__init__(**kwargs)

        def init_sys_modules(self) -> None:
            # keep the host's __main__; the engine swaps it in only while a notebook runs
            pass

        def _showtraceback(self, etype, evalue, stb):
            sink = self._eh_sink
            if sink is not None:
                sink.error(str(etype.__name__), str(evalue), stb)

        def enable_gui(self, gui=None):
            if gui not in (None, "inline"):
                raise UsageError(f"the in-process notebook engine has no GUI event loop ({gui!r}); "
                                 "use `%matplotlib inline`")

    cfg = Config()
    cfg.HistoryManager.enabled = False  # no shared sqlite history between worker processes
    shell = InProcessShell(config=cfg)
    import matplotlib

    shell._eh_rc0 = dict(matplotlib.rcParams)
    return shell


def _shell() -> Any:
    global _SHELL
    if _SHELL is None:
        _SHELL = _build_shell()
    return _SHELL


@contextmanager
def _as_current_shell(shell: Any) -> Iterator[None]:
    """Make ``shell`` what ``get_ipython()`` and ``display()`` find, then restore the previous one."""
    classes = list(type(shell)._walk_mro())
    missing = object()
    saved = [(cls, cls.__dict__.get("_instance", missing)) for cls in classes]
    main = sys.modules.get("__main__")
    for cls in classes:
        cls._instance = shell
    sys.modules["__main__"] = shell.user_module
    try:
        yield
    finally:
        for cls, value in saved:
            if value is missing:
                try:
                    delattr(cls, "_instance")
                except AttributeError:
                    pass
            else:
                cls._instance = value
        if main is not None:
            sys.modules["__main__"] = main


@contextmanager
def _process_state(shell: Any) -> Iterator[None]:
    """Restore what a notebook may change in the process: cwd, paths, env, rcParams, warnings."""
    cwd, path, argv, environ = os.getcwd(), list(sys.path), list(sys.argv), dict(os.environ)
    try:
        with warnings.catch_warnings():
            _kernel_warning_settings()
            yield
    finally:
        try:
            os.chdir(cwd)
        except OSError:
            pass
        sys.path[:] = path
        sys.argv[:] = argv
        for key in set(os.environ) - set(environ):
            del os.environ[key]
        for key, value in environ.items():
            if os.environ.get(key) != value:
                os.environ[key] = value
        _reset_matplotlib(shell)


def _kernel_warning_settings() -> None:
    """Warning filters and display of a fresh Python process, whatever the host process set.

    A kernel starts with Python's default filters and prints warnings to its stderr; a
    host (pytest, a Dask worker) may record, ignore or raise them instead.
    """
    warnings.resetwarnings()
    warnings.filterwarnings("default", category=DeprecationWarning, module="__main__")
    for category in (DeprecationWarning, PendingDeprecationWarning, ImportWarning, ResourceWarning):
        warnings.simplefilter("ignore", category, append=True)
    warnings.showwarning = _show_warning


def _show_warning(message: Any, category: Any, filename: str, lineno: int, file: Any = None,
                  line: str | None = None) -> None:
    (file or sys.stderr).write(warnings.formatwarning(message, category, filename, lineno, line))


def _reset_matplotlib(shell: Any) -> None:
    if "matplotlib.pyplot" in sys.modules:
        sys.modules["matplotlib.pyplot"].close("all")
    import matplotlib

    rc0 = {k: v for k, v in shell._eh_rc0.items() if k not in ("backend", "backend_fallback")}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        matplotlib.rcParams.update(rc0)


@contextmanager
def _std_streams(shell: Any) -> Iterator[None]:
    out, err = sys.stdout, sys.stderr
    sys.stdout, sys.stderr = _CellStream("stdout", shell), _CellStream("stderr", shell)
    try:
        yield
    finally:
        sys.stdout, sys.stderr = out, err


class _Watchdog:
    """Raises :class:`CellTimeout` in the executing thread after ``timeout`` seconds."""

    def __init__(self, timeout: float | None) -> None:
        self.timeout = timeout if timeout and timeout > 0 else None
        self.thread_id = threading.get_ident()
        self.lock = threading.Lock()
        self.active = False
        self.fired = False
        self.timer: threading.Timer | None = None

    def _fire(self) -> None:
        with self.lock:
            if self.active:
                ctypes.pythonapi.PyThreadState_SetAsyncExc(ctypes.c_ulong(self.thread_id),
                                                          ctypes.py_object(CellTimeout))
                self.fired = True

    def __enter__(self) -> _Watchdog:
        if self.timeout is not None:
            self.active = True
            self.timer = threading.Timer(self.timeout, self._fire)
            self.timer.daemon = True
            self.timer.start()
        return self

    def stop(self) -> None:
        """Disarm; clear an exception that was scheduled but not yet delivered."""
        if self.timer is None:
            return
        self.timer.cancel()
        with self.lock:
            if self.active and self.fired:
                ctypes.pythonapi.PyThreadState_SetAsyncExc(ctypes.c_ulong(self.thread_id), None)
            self.active = False

    def __exit__(self, *exc: object) -> None:
        self.stop()


# ---------------------------------------------------------------------------------------
# The engine
# ---------------------------------------------------------------------------------------

class InProcessEngine(Engine):
    """papermill engine that runs the notebook's cells in this process (no kernel).

    Use it with ``papermill.execute_notebook(..., engine_name="ehimpact-inprocess")``.
    See the module docstring for what is isolated between notebooks and how the per-cell
    time limit behaves.
    """

    @classmethod
    def execute_managed_notebook(
        cls,
        nb_man: Any,
        kernel_name: str | None,
        log_output: bool = False,
        stdout_file: Any = None,
        stderr_file: Any = None,
        start_timeout: int = 60,
        execution_timeout: float | None = None,
        **kwargs: Any,
    ) -> Any:
        """Execute every cell of ``nb_man.nb`` in order, stopping at the first error.

        Parameters
        ----------
        nb_man : papermill.engines.NotebookExecutionManager
            Wraps the notebook and records per-cell metadata.
        kernel_name : str or None
            Ignored (the notebook runs in this Python).
        log_output : bool
            Also write cell output to this process's stdout/stderr.
        stdout_file, stderr_file : file-like, optional
            Also write cell stdout/stderr here.
        start_timeout : int
            Ignored (there is no kernel to start).
        execution_timeout : float, optional
            Per-cell time limit in seconds (``None`` or 0: no limit).

        Returns
        -------
        nbformat.NotebookNode
        """
        tee: dict[str, Any] = {"stdout": stdout_file, "stderr": stderr_file}
        if log_output:
            tee = {"stdout": _Tee(sys.stdout, stdout_file), "stderr": _Tee(sys.stderr, stderr_file)}
        with _RUN_LOCK:
            shell = _shell()
            if shell.execution_count != 1:  # normally already reset after the previous notebook
                shell.reset(new_session=True)
            try:
                with _as_current_shell(shell), _process_state(shell):
                    cls._run_cells(shell, nb_man, tee, execution_timeout)
            finally:
                shell._eh_sink = None
                shell.reset(new_session=True)  # release the notebook's objects now
                _collect_garbage()
        nb_man.nb.metadata["language_info"] = dict(_LANGUAGE_INFO)
        nb_man.nb.metadata.setdefault("papermill", {})["engine_name"] = ENGINE_NAME
        return nb_man.nb

    @classmethod
    def _run_cells(cls, shell: Any, nb_man: Any, tee: dict[str, Any], timeout: float | None) -> None:
        for index, cell in enumerate(nb_man.nb.cells):
            try:
                nb_man.cell_start(cell, index)
                if cell.cell_type == "code" and cell.source.strip():
                    ok = cls._run_cell(shell, cell, tee, timeout)
                    if not ok:
                        nb_man.cell_exception(nb_man.nb.cells[index], cell_index=index)
                        break
            finally:
                nb_man.cell_complete(nb_man.nb.cells[index], cell_index=index)

    @classmethod
    def _run_cell(cls, shell: Any, cell: Any, tee: dict[str, Any], timeout: float | None) -> bool:
        cell.outputs = []
        count = shell.execution_count
        sink = _CellOutputs(cell, count, tee)
        timing = {"iopub.status.busy": _now(), "iopub.execute_input": _now()}
        shell._eh_sink = sink
        timed_out = False
        try:
            with _std_streams(shell), _Watchdog(timeout) as dog:
                try:
                    result = shell.run_cell(cell.source, store_history=True, silent=False)
                except CellTimeout:  # raised outside the user's code (e.g. a post-execute hook)
                    result = None
                finally:
                    dog.stop()
                timed_out = dog.fired
        except CellTimeout:  # delivered between run_cell returning and the watchdog stopping
            timed_out = True
            result = None
        finally:
            shell._eh_sink = None
        if timed_out:
            cell.outputs[:] = [o for o in cell.outputs if o.get("output_type") != "error"]
            sink.error("CellTimeoutError", f"Cell execution timed out after {timeout:g} s "
                       "(in-process engine; the limit applies to each cell)", [])
        cell.execution_count = count
        timing["shell.execute_reply"] = timing["iopub.status.idle"] = _now()
        cell.metadata["execution"] = timing
        success = result is not None and result.success and not timed_out
        return success and not sink.has_error


def _collect_garbage() -> None:
    """Free the notebook's reference cycles now, so a long-lived worker does not grow.

    What survives the collection (modules imported by the notebook, library caches) is
    frozen out of later collections, so each collection only scans new objects.
    """
    import gc

    gc.collect()
    gc.freeze()


class _Tee:
    def __init__(self, *sinks: Any) -> None:
        self.sinks = [s for s in sinks if s is not None]

    def write(self, text: str) -> None:
        for s in self.sinks:
            s.write(text)


# ---------------------------------------------------------------------------------------
# Warming Dask workers
# ---------------------------------------------------------------------------------------

def warm_imports(modules: tuple[str, ...] = HEAVY_MODULES) -> dict[str, float]:
    """Import the heavy modules (and build the shell) once, in this process.

    Parameters
    ----------
    modules : tuple of str
        Module names; one that is not installed is skipped.

    Returns
    -------
    dict
        Seconds spent per module (0 for modules already imported), plus ``"shell"`` (building
        the IPython shell and drawing one small figure, which loads matplotlib's fonts).
    """
    import importlib
    import time

    seconds: dict[str, float] = {}
    for name in modules:
        t = time.perf_counter()
        try:
            mod = importlib.import_module(name)
            if name == "matplotlib":
                mod.use("Agg")
        except ImportError:
            continue
        seconds[name] = time.perf_counter() - t
    t = time.perf_counter()
    with _RUN_LOCK:
        _shell()
        _first_figure()
        _collect_garbage()
    seconds["shell"] = time.perf_counter() - t
    return seconds


def _first_figure() -> None:
    """Draw one small figure to PNG (as the inline backend does) and SVG (as reports do): loads fonts and renderers."""
    if "matplotlib.pyplot" not in sys.modules:
        return
    plt = sys.modules["matplotlib.pyplot"]
    fig, ax = plt.subplots(figsize=(2, 1))
    ax.plot([0, 1], [0, 1], label="warm")
    ax.set_title("warm-up")
    ax.legend()
    fig.savefig(io.BytesIO(), format="png", bbox_inches="tight")
    from ehimpact.report.figures import figure_svg

    figure_svg(fig)  # the report's figures are SVG: load that backend too
    plt.close(fig)


def _make_warm_imports_plugin() -> type:
    from distributed.diagnostics.plugin import WorkerPlugin

    class WarmImports(WorkerPlugin):
        """Dask worker plugin: import the heavy modules once when a worker starts.

        Register with ``client.register_plugin(WarmImports())``; every worker (including
        workers that join later) then imports :data:`HEAVY_MODULES` before its first task.
        """

        name = "ehimpact-warm-imports"
        idempotent = True

        async def setup(self, worker: Any) -> None:
            """Import the modules (once per worker), in a thread so heartbeats keep going."""
            import asyncio

            await asyncio.get_running_loop().run_in_executor(None, warm_imports)

    WarmImports.__module__ = __name__
    WarmImports.__qualname__ = "WarmImports"
    return WarmImports


def __getattr__(name: str) -> Any:
    # built on first use so that importing this module (papermill loads it through the
    # entry point at its own import) does not import dask.distributed
    if name == "WarmImports":
        cls = _make_warm_imports_plugin()
        globals()["WarmImports"] = cls
        return cls
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


papermill_engines.register(ENGINE_NAME, InProcessEngine)
