"""Estimator registry: design names in configs resolve to functions here.

Built-in designs are listed lazily (module path strings), so importing the registry
costs nothing.  A partner's package adds a design without editing ehimpact by
declaring a Python entry point in the group ``ehimpact.estimators`` whose object is an
:class:`EstimatorSpec` (preferred: it carries an example for the conformance test) or a
plain callable returning an :class:`~ehimpact.estimators.result.Estimate`::

    [project.entry-points."ehimpact.estimators"]
    median_diff = "my_package.estimators:SPEC"

See CONTRIBUTING.md for a worked example.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib.metadata import entry_points
from typing import Any, Literal

from ehimpact.errors import InputError

__all__ = ["EstimatorSpec", "register", "get", "available", "ENTRY_POINT_GROUP", "DIAGNOSTICS_SCHEMA",
           "DIAGNOSTICS_WRONG_NAMES"]

ENTRY_POINT_GROUP = "ehimpact.estimators"

#: the diagnostics the write-up reads, by name, with the types they may have: a design that writes
#: one of these keys must write it with one of these types (:func:`ehimpact.testing.check_estimator`)
DIAGNOSTICS_SCHEMA: dict[str, tuple[type, ...]] = {
    "dropped_by_caliper": (dict,),        # {"treated": n, "control": n} left out by a caliper
    "trimmed": (dict, int),               # left out by trimming the propensity score
    "pretest": (dict, type(None)),        # joint pre-trend test: {"stat", "df", "pvalue", ...}
    "pearson_dispersion": (float, int, type(None)),  # count models: Pearson chi-square / df
    "max_abs_smd_after": (float, int),    # balance achieved
    "n_clusters": (int, type(None)),      # clusters (authorities) the inference rests on
    "poor_fit": (bool,),                  # the comparison does not fit before the change
    "fit_warning": (str, type(None)),
}
#: names the write-up once read but no design writes (issue 13): a design must not use them
DIAGNOSTICS_WRONG_NAMES: dict[str, str] = {
    "pretrend": "pretest", "overdispersion": "pearson_dispersion", "e_value": "an evalue() method",
    "n_dropped_caliper": "dropped_by_caliper", "n_trimmed": "trimmed", "n_unmatched": "dropped_by_caliper",
}


@dataclass
class EstimatorSpec:
    """A registered design.

    Parameters
    ----------
    name : str
        The name configs use (``design: did_2x2``).
    func : callable
        ``func(data, **kwargs) -> Estimate``.
    roles : tuple of str
        Keyword arguments that name columns (``outcome``, ``unit`` ...); the runner fills
        them from the config's column mapping.
    example : callable, optional
        ``example() -> (DataFrame, dict)``: small data and keyword arguments the
        conformance test runs the estimator on.
    description : str
        One line for listings and the report.
    data_level : {"child", "panel", "series"}
        What one row of the design's data is: a child (child-level comparison), an
        authority-period (the regional authority panel), or a period of this authority's
        own series (ITS, synthetic control on one treated authority).
    scope : {"authority", "region"}
        ``"authority"``: the estimate is specific to the authority evaluated, so estimates of
        several authorities can be pooled.  ``"region"``: the design uses every authority in
        the panel and gives one region-wide estimate; it is shown once and never pooled.
    rationale : str
        Why this design, in plain words: shown at the top of step 6 of the write-up.
    wild_bootstrap : bool
        The design offers ``inference="wild"`` (the restricted wild cluster bootstrap): with few
        authorities the write-up's one few-cluster policy
        (:func:`ehimpact.estimators.inference.few_cluster_policy`) switches to it; a panel design
        without it says in its sentence that its interval may be too narrow.
    diagnostics : tuple of str
        Keys of :data:`DIAGNOSTICS_SCHEMA` the design always writes (checked by
        :func:`ehimpact.testing.check_estimator`).
    report_hooks : dict of int to str
        Write-up hooks by step (6, 7 or 8), each ``"module:function"`` called as
        ``function(evaluation, section, estimate)`` after the step's standard content.  Named
        by string so that a design's module never imports the report.
    """

    name: str
    func: Callable[..., Any]
    roles: tuple[str, ...] = ()
    example: Callable[[], tuple[Any, dict[str, Any]]] | None = None
    description: str = ""
    extra: dict[str, Any] = field(default_factory=dict)
    data_level: Literal["child", "panel", "series"] = "child"
    scope: Literal["authority", "region"] = "authority"
    rationale: str = ""
    report_hooks: dict[int, str] = field(default_factory=dict)
    diagnostics: tuple[str, ...] = ()
    wild_bootstrap: bool = False


# name -> "module:attribute" of an EstimatorSpec; resolved on first use
_BUILTIN: dict[str, str] = {
    "did_2x2": "ehimpact.estimators.did:DID_2X2_SPEC",
    "twfe": "ehimpact.estimators.did:TWFE_SPEC",
    "event_study": "ehimpact.estimators.did:EVENT_STUDY_SPEC",
    "staggered_did": "ehimpact.estimators.staggered:STAGGERED_SPEC",
    "match": "ehimpact.estimators.matching:MATCH_SPEC",
    "weight": "ehimpact.estimators.weighting:WEIGHT_SPEC",
    "its": "ehimpact.estimators.its:ITS_SPEC",
    "synthetic_control": "ehimpact.estimators.synthetic_control:SYNTHETIC_CONTROL_SPEC",
}

_registry: dict[str, EstimatorSpec] = {}
_entry_points_loaded = False


def register(spec: EstimatorSpec, *, replace: bool = False) -> EstimatorSpec:
    """Add a design to the registry (at run time; entry points do this for packages).

    Raises
    ------
    InputError
        If the name is taken and ``replace`` is False.
    """
    if not replace and (spec.name in _registry or spec.name in _BUILTIN):
        raise InputError(
            "an estimator with this name is already registered",
            field=spec.name,
            fix="choose another name or pass replace=True",
        )
    _registry[spec.name] = spec
    return spec


def _resolve(target: str) -> EstimatorSpec | None:
    module, _, attr = target.partition(":")
    try:
        mod = importlib.import_module(module)
    except ModuleNotFoundError as exc:  # design not built yet
        if exc.name and module.startswith(exc.name):
            return None
        raise
    return getattr(mod, attr, None)


def _load_entry_points() -> None:
    global _entry_points_loaded
    if _entry_points_loaded:
        return
    _entry_points_loaded = True
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        obj = ep.load()
        spec = obj if isinstance(obj, EstimatorSpec) else EstimatorSpec(name=ep.name, func=obj)
        _registry.setdefault(spec.name, spec)


def available() -> list[str]:
    """Names of every design that can run now (built-in ones that are built, and plug-ins)."""
    _load_entry_points()
    names = [n for n in _BUILTIN if n in _registry or _resolve(_BUILTIN[n]) is not None]
    return names + [n for n in _registry if n not in _BUILTIN]


def get(name: str) -> EstimatorSpec:
    """Look a design up by name.

    Raises
    ------
    InputError
        If no design of that name exists or it is not built yet.
    """
    if name in _registry:
        return _registry[name]
    if name in _BUILTIN:
        spec = _resolve(_BUILTIN[name])
        if spec is not None:
            _registry[name] = spec
            return spec
        raise InputError(
            "this design is listed but not built yet in this version of ehimpact",
            field=f"design: {name}",
            fix=f"choose one of {', '.join(available())}",
        )
    _load_entry_points()
    if name in _registry:
        return _registry[name]
    raise InputError(
        "unknown design",
        field=f"design: {name}",
        fix=f"choose one of {', '.join(available())}, or install the package that registers it",
    )
