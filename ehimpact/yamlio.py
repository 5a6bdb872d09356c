"""YAML reading: libyaml's C parser when available, and refusal of what a user file must not hold.

Configs and mapping files are written by evaluators, so the loader is strict about two
things PyYAML accepts silently:

- **duplicate keys** (``child_id:`` twice in a mapping): PyYAML keeps the last one, so a
  copy-paste slip changes which column is read without a word;
- **aliases** (``&anchor`` / ``*alias``): a few lines of aliases can expand to billions of
  nodes (the "billion laughs") and exhaust memory in whatever walks the data next.

Both are refused with an :class:`~ehimpact.errors.InputError` naming the file and line.
Package data written by ehimpact itself may use anchors (``strict=False``).
"""

from __future__ import annotations

from typing import Any

import yaml

from ehimpact.errors import InputError

__all__ = ["safe_load"]

_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def _check_node(node: yaml.Node, source: str) -> None:
    """Walk the composed node graph once; refuse a node seen twice (an alias) and duplicate keys."""
    seen: set[int] = set()
    stack = [node]
    while stack:
        n = stack.pop()
        if id(n) in seen:
            line = n.start_mark.line + 1 if n.start_mark else "?"
            raise InputError(
                f"uses a YAML alias (*name) for the value first defined at line {line}",
                field=source,
                fix="write the value out in full where it is needed; ehimpact does not accept YAML "
                    "anchors and aliases in user files",
            )
        seen.add(id(n))
        if isinstance(n, yaml.MappingNode):
            keys: dict[Any, int] = {}
            for key_node, value_node in n.value:
                if isinstance(key_node, yaml.ScalarNode):
                    if key_node.tag == "tag:yaml.org,2002:merge":
                        raise InputError(f"uses a YAML merge key (<<) at line "
                                         f"{key_node.start_mark.line + 1}", field=source,
                                         fix="write the keys out in full")
                    k = key_node.value
                    if k in keys:
                        raise InputError(
                            f"{source}: key {k!r} appears twice (lines {keys[k]} and "
                            f"{key_node.start_mark.line + 1}); YAML would silently keep the last one",
                            field=str(k),
                            rows=[keys[k], key_node.start_mark.line + 1],
                            fix="delete one of the two lines",
                        )
                    keys[k] = key_node.start_mark.line + 1
                stack.append(key_node)
                stack.append(value_node)
        elif isinstance(n, yaml.SequenceNode):
            stack.extend(n.value)


def safe_load(text: str, *, source: str = "YAML file", strict: bool = True) -> Any:
    """Parse YAML text with the safe loader (C implementation when available).

    Parameters
    ----------
    text : str
        The YAML document.
    source : str, default "YAML file"
        How to name the document in an error (a file name, never a full machine path).
    strict : bool, default True
        Refuse duplicate keys and aliases (user files).  ``False`` for ehimpact's own
        package data.

    Returns
    -------
    object
        Plain Python data (dicts, lists, scalars); ``None`` for an empty document.

    Raises
    ------
    yaml.YAMLError
        The text is not valid YAML (PyYAML's error, with ``problem_mark``).
    InputError
        ``strict`` and the document repeats a key or uses an alias or merge key.

    Examples
    --------
    >>> safe_load("a: 1\\nb: [2, 3]")
    {'a': 1, 'b': [2, 3]}
    """
    if not strict:
        return yaml.load(text, Loader=_LOADER)  # noqa: S506 - a safe loader
    loader = _LOADER(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None
        _check_node(node, source)
        return loader.construct_document(node)
    finally:
        loader.dispose()
