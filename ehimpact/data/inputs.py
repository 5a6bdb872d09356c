"""Loading the tables one evaluation uses, from the config's ``data:`` section.

:func:`load_inputs` turns the config's data sources (the built-in synthetic region,
prepared tables, or an authority's statutory files and local export) into
:class:`Inputs`: record-level tables that never reach an output, a fingerprint of
them, and a read/validation summary made of counts only.

The outcome rules (:class:`ehimpact.data.outcomes.OutcomeRules`) come from the
config's ``data.window_start``, ``data.comparison_index``, ``data.extract_date`` and
``data.max_excluded_share``; on the synthetic route the generated flags are derived
again under them when they differ from the defaults.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from ehimpact.data.outcomes import OutcomeRules, derive_flags, follow_up_summary, index_dates
from ehimpact.errors import InputError
from ehimpact.jsonsafe import json_safe
from ehimpact.smallcounts import is_small_count

if TYPE_CHECKING:
    from ehimpact.config import EvaluationConfig

__all__ = ["Inputs", "load_inputs", "suppress_small"]


@dataclass
class Inputs:
    """The tables one evaluation uses (record-level: never written to outputs).

    Attributes
    ----------
    children, panel, events : DataFrame or None
    synthetic : bool
    sources : list of str
    fingerprint : str
    validation : dict
        Counts-only, disclosure-controlled summaries (``statutory``: records read and
        excluded, exclusions by reason, follow-up completeness per outcome, open
        episodes, census years covered, step-ups; ``synthetic``: the generator's cohort
        and follow-up).
    truth : dict or None
    rules : OutcomeRules
        The outcome rules applied (with the extract date actually used).
    read : dict or None
        The reader's summary before disclosure control (counts only, file names only;
        :meth:`ehimpact.data.statutory.StatutoryData.summary`), for ``ehimpact check``.
    """

    children: pd.DataFrame | None
    panel: pd.DataFrame | None
    events: pd.DataFrame | None
    synthetic: bool
    sources: list[str]
    fingerprint: str
    validation: dict[str, Any] = field(default_factory=dict)
    truth: dict[str, Any] | None = None
    rules: OutcomeRules = field(default_factory=OutcomeRules)
    read: dict[str, Any] | None = None


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
    read with :func:`ehimpact.data.load`; statutory files (paths may hold ``{authority}``;
    ``cin_xml`` may be a file, a list, a folder or a glob) through
    :func:`ehimpact.data.read_statutory`, under the config's outcome rules.
    ``panel_only`` reads just the panel (to list a batch's authorities).

    Parameters
    ----------
    config : EvaluationConfig
    base_dir : path
        Folder relative paths are resolved from (the config file's folder).
    authority : str, optional
        GSS code of the authority being run (fills ``{authority}``; the CIN census
        header's LEA is checked against it).
    panel_only : bool, default False

    Returns
    -------
    Inputs

    Raises
    ------
    InputError
        A file is missing or unreadable, the salt is not set, too many records were
        excluded, or a source links to no child (see :func:`ehimpact.data.read_statutory`).
    """
    base_dir = Path(base_dir)
    src = config.data
    src.check_files(base_dir, authority)
    rules = OutcomeRules.from_config(src)
    threshold, symbol = config.disclosure.threshold, config.disclosure.symbol
    if src.synthetic is not None:
        return _synthetic(config, rules, authority)
    from ehimpact.data import load

    children = panel = events = None
    sources: list[str] = []
    validation: dict[str, Any] = {}
    read: dict[str, Any] | None = None
    if src.statutory is not None and not panel_only:
        import os

        from ehimpact.data import read_statutory

        st = src.statutory

        def path(key: str) -> Path | None:
            value = getattr(st, key, None)
            if value is None:
                return None
            return base_dir / str(value).format(authority=authority or "")

        salt = os.environ.get(st.salt_env)
        if not salt:
            raise InputError(f"no hashing salt: environment variable {st.salt_env} is not set",
                             field="data.statutory.salt_env",
                             fix=f"export {st.salt_env}=<a long random secret> before running")
        if hasattr(st, "cin_files"):
            cin = st.cin_files(base_dir, authority) or None
        else:  # pragma: no cover - older config model
            cin = path("cin_xml")
        stat = read_statutory(
            cin_xml=cin,
            ssda903_dir=path("ssda903_dir"),
            annex_a=path("annex_a"),
            local_export=path("local_export"),
            mapping=path("mapping"),
            salt=salt,
            authority_code=authority,
            rules=rules,
        )
        children, events, rules = stat.children, stat.events, stat.rules
        rep = stat.report_dict()
        read = stat.summary()
        # counts only (never example values from the files), small counts suppressed
        tables = [t for f in rep.get("counts", {}).values() for t in f.values() if isinstance(t, dict)]
        validation["statutory"] = suppress_small(json_safe({
            "files": rep.get("counts", {}), "problems": rep.get("n_problems", 0),
            "records_read": sum(int(t.get("read", 0)) for t in tables),
            "records_excluded": sum(int(t.get("excluded", 0)) for t in tables),
            "children": rep.get("n_children"), "events": rep.get("n_events", {}),
            "exclusions_by_reason": read["exclusions"],
            "sources": read["sources"],
            "follow_up": read["follow_up"],
            "census_years": read["census_years"],
            "cohort": read["cohort"],
            "open_episodes": read["cohort"].get("open_episodes", 0),
            "extract_date": read["extract_date"], "extract_source": read["extract_source"],
            "window_start": rules.window_start, "comparison_index": rules.comparison_index,
            "rules": rules.describe(),
        }), threshold, symbol)
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
                  fingerprint=_fingerprint(children, panel), validation=validation, truth=truth, rules=rules,
                  read=read)


def _synthetic(config: EvaluationConfig, rules: OutcomeRules, authority: str | None) -> Inputs:
    """The built-in synthetic region, its flags derived under the config's rules."""
    from ehimpact.data import synthetic

    src = config.data
    kwargs: dict[str, Any] = {"n_authorities": src.synthetic.n_authorities, "seed": src.synthetic.seed}
    if src.synthetic.children_per_authority:
        kwargs["children_per_authority"] = src.synthetic.children_per_authority
    region = synthetic.region(**kwargs)
    children = region.children
    if rules.replace(max_excluded_share=0.02) != OutcomeRules():  # not the generator's own rules
        children = children.copy()
        if rules.comparison_index != "referral_plus_median":
            children["index_date"] = index_dates(children, rules)
        flags = derive_flags(children, region.events, rules)
        for col in flags:
            children[col] = flags[col]
    mine = children if authority is None else children[children["authority_code"].astype(str) == authority]
    supported = int((mine["received_early_help"] == 1).sum())
    follow = follow_up_summary(mine, rules)
    read = {
        "rules": rules.describe(), "window_start": rules.window_start,
        "comparison_index": rules.comparison_index,
        "extract_date": None if rules.extract_date is None else str(rules.extract_date.date()),
        "extract_source": "config" if rules.extract_date is not None else
        "synthetic data: every follow-up window is complete",
        "sources": [{"source": "synthetic", "files": "", "records_read": int(len(mine)), "records_excluded": 0,
                     "duplicates": 0, "open_episodes": 0, "children": int(len(mine)),
                     "children_linked": int(len(mine))}],
        "exclusions": [], "census_years": [],
        "follow_up": follow.to_dict(orient="records"),
        "cohort": {"episodes": int(len(mine)), "supported": supported, "comparison": int(len(mine)) - supported,
                   "open_episodes": 0},
        "generator": {"seed": src.synthetic.seed, "n_authorities": src.synthetic.n_authorities,
                      "children_per_authority": int(region.metadata.get("children_per_authority", 0)),
                      "n_events": int(len(region.events))},
    }
    validation = {"synthetic": suppress_small(json_safe({
        "cohort": read["cohort"], "follow_up": read["follow_up"], "window_start": rules.window_start,
        "comparison_index": rules.comparison_index, "extract_date": read["extract_date"]}),
        config.disclosure.threshold, config.disclosure.symbol)}
    return Inputs(children=children, panel=region.panel, events=region.events, synthetic=True,
                  sources=[f"synthetic region (seed {src.synthetic.seed}, {src.synthetic.n_authorities} authorities)"],
                  fingerprint=_fingerprint(children, region.panel), validation=validation, truth=region.truth,
                  rules=rules, read=read)


def suppress_small(obj: Any, threshold: int, symbol: str) -> Any:
    """Replace every count from 1 to ``threshold`` in a nested record by the suppression symbol.

    Parameters
    ----------
    obj : dict, list or scalar
        A JSON-like record (whole numbers are taken as counts; floats are left alone).
    threshold : int
    symbol : str

    Returns
    -------
    The same structure with small counts replaced.

    Examples
    --------
    >>> suppress_small({"a": 3, "b": [0, 12, 5]}, 5, "c")
    {'a': 'c', 'b': [0, 12, 'c']}
    """
    if isinstance(obj, dict):
        return {k: suppress_small(v, threshold, symbol) for k, v in obj.items()}
    if isinstance(obj, list):
        return [suppress_small(v, threshold, symbol) for v in obj]
    if isinstance(obj, int) and is_small_count(obj, threshold):  # whole numbers only: floats are not counts
        return symbol
    return obj


_suppress_small = suppress_small  # the name earlier callers used
