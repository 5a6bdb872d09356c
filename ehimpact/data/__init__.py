"""ehimpact.data: loading, dictionary-driven validation, authorities, synthetic data.

Public names (imported on first use, so ``import ehimpact.data`` stays cheap)::

    eh.data.load(path, dictionary=None)        read CSV/Parquet/Excel, refuse identifiers
    eh.data.validate(df, "child_level")        every problem at once -> ValidationReport
    eh.data.validate_file(path, "child_level") the ``ehimpact validate`` command
    eh.data.synthetic.region(...)              a synthetic region with known truth
    eh.data.authorities.table() / .lookup()    English upper-tier authorities
    eh.data.dictionary.get("child_level")      the data dictionary

``load`` and ``validate`` are functions although modules of the same names exist
(``ehimpact/data/load.py``, ``validate.py``).  Whichever the package attribute ends up
bound to (an import of the submodule rebinds it to the module), calling it works: the
two modules forward calls to their function.
"""

from __future__ import annotations

import importlib
from typing import Any

# public name -> (module, attribute or None for the module itself)
_LAZY: dict[str, tuple[str, str | None]] = {
    "load": ("ehimpact.data.load", "load"),
    "read_table": ("ehimpact.data.load", "read_table"),
    "validate": ("ehimpact.data.validate", "validate"),
    "validate_file": ("ehimpact.data.file_check", "validate_file"),
    "ValidationReport": ("ehimpact.data.validate", "ValidationReport"),
    "coerce": ("ehimpact.data.validate", "coerce"),
    "derive_flags": ("ehimpact.data.synthetic", "derive_flags"),
    "SyntheticRegion": ("ehimpact.data.synthetic", "SyntheticRegion"),
    "read_statutory": ("ehimpact.data.statutory", "read_statutory"),  # issue 8 (statutory readers)
    "StatutoryData": ("ehimpact.data.statutory", "StatutoryData"),
    "read_annex_a": ("ehimpact.data.annex_a", "read_annex_a"),
    "AnnexAData": ("ehimpact.data.annex_a", "AnnexAData"),
    "read_cin": ("ehimpact.data.cin", "read_cin"),
    "read_ssda903": ("ehimpact.data.ssda903", "read_ssda903"),
    "synthetic": ("ehimpact.data.synthetic", None),
    "authorities": ("ehimpact.data.authorities", None),
    "dictionary": ("ehimpact.data.dictionary", None),
}
# names whose function shares its name with a submodule
_SHADOWED = {"load", "validate"}

__all__ = sorted(_LAZY)


def __getattr__(name: str) -> Any:
    if name not in _LAZY:
        raise AttributeError(f"module 'ehimpact.data' has no attribute {name!r}")
    module_name, attr = _LAZY[name]
    module = importlib.import_module(module_name)
    value = module if attr is None else getattr(module, attr)
    globals()[name] = value
    _restore_shadowed()
    return value


def _restore_shadowed() -> None:
    """Importing ``ehimpact.data.load`` sets the package attribute ``load`` to the module;
    point it back at the function."""
    import sys

    for name in _SHADOWED:
        module = sys.modules.get(f"ehimpact.data.{name}")
        if module is not None and globals().get(name) is module:
            globals()[name] = getattr(module, name)


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
