"""Loading the tables one evaluation uses, from the config's ``data:`` section.

:func:`load_inputs` turns the config's data sources (the built-in synthetic region,
prepared tables, or an authority's statutory files and local export) into
:class:`Inputs`: record-level tables that never reach an output, a fingerprint of
them, and a read/validation summary made of counts only.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from ehimpact.errors import InputError
from ehimpact.estimators.result import json_safe

if TYPE_CHECKING:
    from ehimpact.runner.config import EvaluationConfig

__all__ = ["Inputs", "load_inputs"]


@dataclass
class Inputs:
    """The tables one evaluation uses (record-level: never written to outputs)."""

    children: pd.DataFrame | None
    panel: pd.DataFrame | None
    events: pd.DataFrame | None
    synthetic: bool
    sources: list[str]
    fingerprint: str
    validation: dict[str, Any] = field(default_factory=dict)
    truth: dict[str, Any] | None = None


def _fingerprint(*frames: pd.DataFrame | None) -> str:
    h = hashlib.sha256()
    for f in frames:
        if f is not None:
            h.update(pd.util.hash_pandas_object(f, index=False).values.tobytes())
            h.update(",".join(map(str, f.columns)).encode())
    return h.hexdigest()[:16]


def load_inputs(config: EvaluationConfig, base_dir: Path | str = ".", *, authority: str | None = None,
                panel_only: bool = False) -> Inputs:
    """Load the data an evaluation config points at.

    Synthetic data are generated deterministically from the config's seed; files are
    read with :func:`ehimpact.data.load`; statutory files (paths may hold ``{authority}``)
    through :func:`ehimpact.data.read_statutory`.  ``panel_only`` reads just the panel
    (to list a batch's authorities).
    """
    base_dir = Path(base_dir)
    src = config.data
    src.check_files(base_dir, authority)
    if src.synthetic is not None:
        from ehimpact.data import synthetic

        kwargs: dict[str, Any] = {"n_authorities": src.synthetic.n_authorities, "seed": src.synthetic.seed}
        if src.synthetic.children_per_authority:
            kwargs["children_per_authority"] = src.synthetic.children_per_authority
        region = synthetic.region(**kwargs)
        return Inputs(children=region.children, panel=region.panel, events=region.events, synthetic=True,
                      sources=[f"synthetic region (seed {src.synthetic.seed}, "
                               f"{src.synthetic.n_authorities} authorities)"],
                      fingerprint=_fingerprint(region.children, region.panel), truth=region.truth)
    from ehimpact.data import load

    children = panel = events = None
    sources: list[str] = []
    validation: dict[str, Any] = {}
    if src.statutory is not None and not panel_only:
        import os

        from ehimpact.data import read_statutory

        st = src.statutory.model_copy(update={
            k: Path(str(v).format(authority=authority or "")) for k, v in src.statutory.model_dump().items()
            if k != "salt_env" and v is not None})
        salt = os.environ.get(st.salt_env)
        if not salt:
            raise InputError(f"no hashing salt: environment variable {st.salt_env} is not set",
                             field="data.statutory.salt_env",
                             fix=f"export {st.salt_env}=<a long random secret> before running")
        stat = read_statutory(
            cin_xml=base_dir / st.cin_xml if st.cin_xml else None,
            ssda903_dir=base_dir / st.ssda903_dir if st.ssda903_dir else None,
            local_export=base_dir / st.local_export,
            mapping=base_dir / st.mapping,
            salt=salt,
        )
        children, events = stat.children, stat.events
        rep = stat.report_dict()
        # counts only (never example values from the files), small counts suppressed
        tables = [t for f in rep.get("counts", {}).values() for t in f.values() if isinstance(t, dict)]
        validation["statutory"] = _suppress_small(json_safe(
            {"files": rep.get("counts", {}), "problems": rep.get("n_problems", 0),
             "records_read": sum(int(t.get("read", 0)) for t in tables),
             "records_excluded": sum(int(t.get("excluded", 0)) for t in tables),
             "children": rep.get("n_children"), "events": rep.get("n_events", {})}),
            config.disclosure.threshold, config.disclosure.symbol)
        sources.append("statutory returns (CIN census, SSDA903) and local early-help export")
    if src.child_level is not None and not panel_only:
        # validated per authority by Evaluation, so one authority's bad rows fail only its run
        children = load(base_dir / src.child_level)
        sources.append(f"child-level file {src.child_level.name}")
    if src.authority_panel is not None:
        panel = load(base_dir / src.authority_panel, dictionary="authority_panel")
        sources.append(f"authority panel {src.authority_panel.name}")
    synthetic_flag = any(
        f is not None and "synthetic" in f.columns and bool(f["synthetic"].astype(str).str.lower()
                                                            .isin(["true", "1"]).any()) for f in (children, panel)
    )
    truth = None
    if src.truth is not None:
        import json

        truth = json.loads((base_dir / src.truth).read_text())
    return Inputs(children=children, panel=panel, events=events, synthetic=synthetic_flag, sources=sources,
                  fingerprint=_fingerprint(children, panel), validation=validation, truth=truth)


def _suppress_small(obj: Any, threshold: int, symbol: str) -> Any:
    """Replace every count from 1 to ``threshold`` in a nested record by the suppression symbol."""
    if isinstance(obj, dict):
        return {k: _suppress_small(v, threshold, symbol) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_suppress_small(v, threshold, symbol) for v in obj]
    if isinstance(obj, int) and not isinstance(obj, bool) and 1 <= obj <= threshold:
        return symbol
    return obj


