"""Writing and reading ``results.json``: the machine-readable record of one run.

Results leave notebooks through this module, not through scrapbook (unmaintained):
the notebook's last cell calls :func:`write_results`.  Files are written to a
temporary name and renamed, so a reader never sees a half-written file.
"""

from __future__ import annotations

import datetime as dt
import functools
import json
import os
import platform
import re
import socket
import tempfile
from importlib import metadata
from pathlib import Path
from typing import Any

from ehimpact.estimators.result import json_safe

__all__ = ["write_results", "read_results", "atomic_write_text", "fsync_dir", "package_versions"]

_PACKAGES = ("ehimpact", "numpy", "pandas", "scipy", "statsmodels", "linearmodels", "scikit-learn",
             "matplotlib", "papermill", "nbconvert", "pydantic")


def package_versions() -> dict[str, str]:
    """Versions of ehimpact and the libraries its numbers depend on."""
    return dict(_package_versions())


@functools.cache
def _package_versions() -> tuple[tuple[str, str], ...]:
    out = {"python": platform.python_version()}
    for name in _PACKAGES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = "not installed"
    return tuple(out.items())


def _owner_tag() -> str:
    """``tmp-<pid>@<host>-``: temporary names carry their owner, so clean-up spares a live writer's files."""
    host = re.sub(r"[^A-Za-z0-9-]", "-", socket.gethostname() or "host")[:40] or "host"
    return f"tmp-{os.getpid()}@{host}-"


def fsync_dir(folder: str | Path) -> None:
    """Flush a folder's entries (a rename into it) to disk; a no-op where folders cannot be opened."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:  # pragma: no cover - e.g. Windows
        return
    try:
        os.fsync(fd)
    except OSError:  # pragma: no cover - some file systems refuse fsync on folders
        pass
    finally:
        os.close(fd)


def atomic_write_text(path: str | Path, text: str) -> Path:
    """Write text to ``path`` durably: a temporary file in the same folder, fsync, rename, fsync the folder.

    A reader never sees a half-written file, and on any error (a full disk: ``ENOSPC``) the
    temporary file is removed and ``path`` keeps its earlier content.  The temporary name
    (``.<name>.tmp-<pid>@<host>-XXXXXXXX.tmp``) names its owner process.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.{_owner_tag()}", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    fsync_dir(path.parent)
    return path


def write_results(evaluation: Any, path: str | Path, *, parameters: dict[str, Any] | None = None) -> Path:
    """Write an evaluation's ``results.json`` (aggregates only, never record-level data).

    Parameters
    ----------
    evaluation : ehimpact.report.evaluation.Evaluation
        The finished evaluation.
    path : path
        Where to write.
    parameters : dict, optional
        The notebook parameters, recorded for provenance.

    Returns
    -------
    Path
    """
    record = evaluation.results()
    record.update({
        "schema": "ehimpact.results/1",
        "created": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "parameters": json_safe(parameters or {}),
        "seed": evaluation.config.seed,
        "versions": package_versions(),
        "config": json_safe(evaluation.config.model_dump(mode="json")),
    })
    return atomic_write_text(path, json.dumps(record, indent=1, allow_nan=False))


def read_results(path: str | Path) -> dict[str, Any]:
    """Read a ``results.json`` file."""
    return json.loads(Path(path).read_text(encoding="utf-8"))
