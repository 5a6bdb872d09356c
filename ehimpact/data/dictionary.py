"""The data dictionary: every field and indicator, its type, range, source and sensitivity.

The YAML files live in ``data_dictionary/`` at the top of the repository and ship as
package data under ``ehimpact/resources/data_dictionary``.  This module reads them into
small typed objects that :mod:`ehimpact.data.validate` and :mod:`ehimpact.data.load` use.

Examples
--------
>>> from ehimpact.data import dictionary
>>> d = dictionary.get("child_level")
>>> d.fields["age"].range
(0, 17)
>>> "postcode" in [f.name for f in d.direct_identifiers()]
True
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import cache
from importlib.resources import files
from typing import TYPE_CHECKING, Any

from ehimpact.errors import InputError

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "Field",
    "Dictionary",
    "available",
    "get",
    "core_dataset",
    "normalise_name",
    "TYPES",
    "SENSITIVITY",
    "SOURCES",
]

TYPES = ("string", "category", "integer", "float", "binary", "boolean", "date")
SENSITIVITY = ("direct_identifier", "quasi_identifier", "attribute")
SOURCES = (
    "CIN census",
    "SSDA903",
    "school census",
    "local system",
    "youth justice",
    "ONS mid-year estimates",
    "derived",
)
_TABLES = ("child_level", "authority_panel")


def normalise_name(name: object) -> str:
    """Column name as matched against the dictionary: lower case, no spaces, ``_`` or ``-``.

    Examples
    --------
    >>> normalise_name(" Date of Birth")
    'dateofbirth'
    """
    return re.sub(r"[\s_\-.]+", "", str(name).strip().lower())


@dataclass(frozen=True)
class Field:
    """One column of a table.

    Attributes
    ----------
    name : str
        Column name (fixed by ``docs/DATA_CONTRACT.md`` for the contract columns).
    type : str
        One of :data:`TYPES`.
    required : bool
        The column must be present.
    nullable : bool
        Blank values are allowed.
    description, source, sensitivity : str
        What it is, where it comes from (:data:`SOURCES`), and its sensitivity class
        (:data:`SENSITIVITY`).
    unit : str or None
    allowed : tuple or None
        Allowed values (categories).
    range : tuple or None
        ``(min, max)``; either may be ``None``.  Dates are ISO strings.
    pattern : str or None
        Regular expression every non-blank string value must match.
    reference : str or None
        ``"authorities"``: values must be GSS codes in :mod:`ehimpact.data.authorities`.
    aliases : tuple of str
        Other names for the same column.
    allowed_on_load : bool
        False for direct identifiers: :func:`ehimpact.data.load` refuses the column.
    outcome : dict or None
        For outcomes: ``window_months``, ``window_rule``, optional ``event_type`` and
        ``direction_of_good``.
    """

    name: str
    type: str
    required: bool
    nullable: bool
    description: str
    source: str
    sensitivity: str
    unit: str | None = None
    allowed: tuple[Any, ...] | None = None
    range: tuple[Any, Any] | None = None
    pattern: str | None = None
    reference: str | None = None
    aliases: tuple[str, ...] = ()
    allowed_on_load: bool = True
    outcome: dict[str, Any] | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def names(self) -> set[str]:
        """Normalised name and aliases, for matching columns."""
        return {normalise_name(self.name), *(normalise_name(a) for a in self.aliases)}


@dataclass(frozen=True)
class Dictionary:
    """A table's data dictionary.

    Attributes
    ----------
    name, title, grain : str
    keys : tuple of str
        Columns that together identify a row (checked for duplicates).
    fields : dict
        Column name -> :class:`Field`, in file order.
    date_order : tuple of dict
        ``earlier``/``later`` pairs (``strict`` for ``<``; otherwise ``<=``).
    rules : tuple of dict
        Cross-field rules: a pandas expression flagging the rows that break it.
    """

    name: str
    title: str
    grain: str
    keys: tuple[str, ...]
    fields: dict[str, Field]
    date_order: tuple[dict[str, Any], ...] = ()
    rules: tuple[dict[str, Any], ...] = ()

    def direct_identifiers(self) -> list[Field]:
        """Fields refused on load (``allowed_on_load: false``)."""
        return [f for f in self.fields.values() if not f.allowed_on_load]

    def required(self) -> list[Field]:
        """Fields whose column must be present."""
        return [f for f in self.fields.values() if f.required]

    def outcomes(self) -> list[Field]:
        """Fields that are outcomes (carry a follow-up window)."""
        return [f for f in self.fields.values() if f.outcome]

    def match(self, column: object) -> Field | None:
        """The field a column name refers to (by name or alias, ignoring case/spacing)."""
        key = normalise_name(column)
        for f in self.fields.values():
            if key in f.names():
                return f
        return None

    def table(self) -> pd.DataFrame:
        """The dictionary as a DataFrame, one row per field (for reports)."""
        import pandas as pd

        rows = []
        for f in self.fields.values():
            rows.append(
                {
                    "field": f.name,
                    "type": f.type,
                    "unit": f.unit,
                    "allowed_or_range": ", ".join(map(str, f.allowed))
                    if f.allowed
                    else (f"{f.range[0]} to {f.range[1]}" if f.range else None),
                    "required": f.required,
                    "nullable": f.nullable,
                    "source": f.source,
                    "sensitivity": f.sensitivity,
                    "allowed_on_load": f.allowed_on_load,
                    "window_months": (f.outcome or {}).get("window_months"),
                    "description": f.description,
                }
            )
        return pd.DataFrame(rows)


def _resource_dir() -> Any:
    return files("ehimpact") / "resources" / "data_dictionary"


@cache
def _read_yaml(name: str) -> dict[str, Any]:
    import yaml

    path = _resource_dir() / f"{name}.yaml"
    if not path.is_file():
        raise InputError(
            f"no data dictionary called {name!r}",
            field="dictionary",
            fix="use one of " + ", ".join(available()),
        )
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # the C loader is ~10x faster
    with path.open("r", encoding="utf-8") as fh:
        return yaml.load(fh, Loader=loader)  # noqa: S506 - a safe loader


def available() -> list[str]:
    """Names of the table dictionaries (``child_level``, ``authority_panel``).

    Examples
    --------
    >>> available()
    ['authority_panel', 'child_level']
    """
    return sorted(_TABLES)


def _field(name: str, spec: dict[str, Any], dictionary: str) -> Field:
    def bad(msg: str) -> InputError:
        return InputError(
            f"data dictionary {dictionary}.yaml, field {name}: {msg}",
            field=name,
            fix="correct the YAML file in data_dictionary/",
        )

    known = {
        "type", "required", "nullable", "description", "source", "sensitivity", "unit",
        "allowed", "range", "pattern", "aliases", "allowed_on_load", "outcome", "reference",
    }
    if spec.get("type") not in TYPES:
        raise bad(f"type {spec.get('type')!r} is not one of {', '.join(TYPES)}")
    if spec.get("sensitivity") not in SENSITIVITY:
        raise bad(f"sensitivity {spec.get('sensitivity')!r} is not one of {', '.join(SENSITIVITY)}")
    if spec.get("source") not in SOURCES:
        raise bad(f"source {spec.get('source')!r} is not one of {', '.join(SOURCES)}")
    for key in ("required", "nullable", "description"):
        if key not in spec:
            raise bad(f"missing key {key!r}")
    if spec.get("reference") not in (None, "authorities"):
        raise bad(f"reference {spec.get('reference')!r} is unknown (use authorities)")
    rng = spec.get("range")
    if rng is not None and (not isinstance(rng, list) or len(rng) != 2):
        raise bad("range must be [min, max]")
    direct = spec["sensitivity"] == "direct_identifier"
    allowed_on_load = bool(spec.get("allowed_on_load", not direct))
    if direct and allowed_on_load:
        raise bad("a direct identifier must have allowed_on_load: false")
    return Field(
        name=name,
        type=spec["type"],
        required=bool(spec["required"]),
        nullable=bool(spec["nullable"]),
        description=str(spec["description"]).strip(),
        source=spec["source"],
        sensitivity=spec["sensitivity"],
        unit=spec.get("unit"),
        allowed=tuple(spec["allowed"]) if spec.get("allowed") is not None else None,
        range=tuple(rng) if rng is not None else None,
        pattern=spec.get("pattern"),
        reference=spec.get("reference"),
        aliases=tuple(spec.get("aliases") or ()),
        allowed_on_load=allowed_on_load,
        outcome=dict(spec["outcome"]) if spec.get("outcome") else None,
        extra={k: v for k, v in spec.items() if k not in known},
    )


@cache
def get(name: str) -> Dictionary:
    """Load a table dictionary by name.

    Parameters
    ----------
    name : str
        ``"child_level"`` or ``"authority_panel"``.

    Returns
    -------
    Dictionary

    Raises
    ------
    InputError
        If there is no such dictionary, or its YAML breaks the dictionary's own rules.

    Examples
    --------
    >>> get("authority_panel").keys
    ('authority_code', 'period')
    """
    if not isinstance(name, str) or name not in _TABLES:
        raise InputError(
            f"no data dictionary called {name!r}",
            field="dictionary",
            fix="use one of " + ", ".join(available()),
        )
    raw = _read_yaml(name)
    fields = {n: _field(n, spec, name) for n, spec in raw["fields"].items()}
    for key in raw.get("keys", []):
        if key not in fields:
            raise InputError(f"key {key!r} is not a field", field=key,
                             fix=f"correct data_dictionary/{name}.yaml")
    return Dictionary(
        name=raw["name"],
        title=raw.get("title", name),
        grain=raw.get("grain", ""),
        keys=tuple(raw.get("keys", [])),
        fields=fields,
        date_order=tuple(raw.get("date_order") or ()),
        rules=tuple(raw.get("rules") or ()),
    )


def core_dataset() -> pd.DataFrame:
    """The regional core data set (seed 002 Appendix II) as a table of indicators.

    Returns
    -------
    DataFrame
        One row per indicator: ``id, area, name, definition, unit, direction_of_good,
        source, tf_domain, tf_domain_basis``.

    Examples
    --------
    >>> sorted(core_dataset()["area"].unique())[:3]
    ['Early Help', 'Early Years', 'Education']
    """
    import pandas as pd

    raw = _read_yaml("core_dataset")
    rows = [{"area": area["area"], **ind} for area in raw["areas"] for ind in area["indicators"]]
    return pd.DataFrame(rows)
