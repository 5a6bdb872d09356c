"""YAML reading with libyaml's C parser when PyYAML was built with it (about 8x faster).

Configs and mapping files are read once per notebook and again by the runner, so the
parser's speed is part of every batch run's overhead.  Errors are PyYAML's own
(:class:`yaml.YAMLError` with ``problem_mark``) whichever parser is used.
"""

from __future__ import annotations

from typing import Any

import yaml

__all__ = ["safe_load"]

_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def safe_load(text: str) -> Any:
    """Parse YAML text with the safe loader (C implementation when available).

    Parameters
    ----------
    text : str

    Returns
    -------
    object
        Plain Python data (dicts, lists, scalars).

    Raises
    ------
    yaml.YAMLError
        The text is not valid YAML.
    """
    return yaml.load(text, Loader=_LOADER)  # noqa: S506 - a safe loader
