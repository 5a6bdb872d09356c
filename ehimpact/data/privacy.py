"""Privacy on load: pseudonymous child ids and no direct identifiers.

Statutory returns and case-management exports carry personal data.  Everything
ehimpact reads from them passes through this module first:

* child (and family) ids are replaced by a keyed hash,
  ``HMAC-SHA256(salt, id)`` truncated to 16 hex characters.  The same salt applied
  to the CIN census, SSDA903 and the local export gives the same pseudonym for the
  same child, so the three sources link; without the salt the pseudonym cannot be
  reversed or re-linked to other data.
* the salt comes from the ``salt`` argument (e.g. read from a config file kept
  outside the outputs) or the ``EHIMPACT_SALT`` environment variable.  It is held
  in a :class:`Salt` whose ``repr``/``str`` never show it, and is never written to
  any output.
* direct identifiers (names, addresses, postcodes, UPN, NHS number, full dates of
  birth) are dropped; dates of birth are generalised to the month (first day of the
  month) after age has been computed from the full date.

The sensitivity classes follow the data dictionary (``direct_identifier``,
``quasi_identifier``, ``attribute``).
"""

from __future__ import annotations

import hashlib
import hmac
import os
from collections.abc import Iterable
from functools import lru_cache
from typing import Any

import pandas as pd

from ehimpact.errors import InputError

__all__ = [
    "SALT_ENV",
    "DIRECT_IDENTIFIERS",
    "Salt",
    "resolve_salt",
    "pseudonymise",
    "birth_month",
    "age_at",
    "direct_identifiers",
    "drop_direct_identifiers",
]

SALT_ENV = "EHIMPACT_SALT"
_HASH_CHARS = 16
_MIN_SALT_CHARS = 8

#: Names (normalised: lower case, no spaces/underscores) that are direct identifiers
#: whatever the dictionary says.  Used to refuse them in mappings and drop them on load.
DIRECT_IDENTIFIERS: frozenset[str] = frozenset(
    {
        "name", "firstname", "forename", "surname", "lastname", "fullname", "childname",
        "address", "addressline1", "addressline2", "street", "postcode", "homepost", "plpost",
        "upn", "formerupn", "uln", "nhsnumber", "nhsno", "nino", "nationalinsurancenumber",
        "dateofbirth", "dob", "personbirthdate", "mcdob", "email", "phone", "telephone",
    }
)  # fmt: skip


def _norm(name: str) -> str:
    return "".join(ch for ch in str(name).lower() if ch.isalnum())


class Salt:
    """A secret salt for pseudonymous ids; its value is never shown or serialised.

    Parameters
    ----------
    value : str
        At least 8 characters.

    Examples
    --------
    >>> s = Salt("correct horse battery")
    >>> repr(s)
    'Salt(<hidden>)'
    """

    __slots__ = ("_key",)

    def __init__(self, value: str) -> None:
        if not isinstance(value, str) or len(value) < _MIN_SALT_CHARS:
            raise InputError(
                f"the salt must be a string of at least {_MIN_SALT_CHARS} characters",
                field="salt",
                fix=f"set a long random secret in the config or the {SALT_ENV} environment variable",
            )
        self._key = value.encode("utf-8")

    @property
    def key(self) -> bytes:
        """The salt as bytes (for hashing only)."""
        return self._key

    def __repr__(self) -> str:
        return "Salt(<hidden>)"

    __str__ = __repr__

    def __reduce__(self) -> Any:  # refuse pickling so the salt cannot leak into outputs
        raise TypeError("Salt objects are not serialisable")


def resolve_salt(salt: str | Salt | None = None) -> Salt:
    """Return the salt from the argument or, failing that, ``$EHIMPACT_SALT``.

    Parameters
    ----------
    salt : str or Salt, optional
        The secret (from a config file kept outside the outputs).

    Returns
    -------
    Salt

    Raises
    ------
    InputError
        When neither the argument nor the environment variable provides one.

    Examples
    --------
    >>> resolve_salt("a-long-secret-value")
    Salt(<hidden>)
    """
    if isinstance(salt, Salt):
        return salt
    if salt is None:
        salt = os.environ.get(SALT_ENV)
    if not salt:
        raise InputError(
            "no salt for pseudonymising child ids",
            field="salt",
            fix=f"pass salt=... (from a config kept outside the outputs) or set {SALT_ENV}",
        )
    return Salt(salt)


def pseudonymise(ids: Iterable[Any], salt: str | Salt | None = None) -> pd.Series:
    """Replace ids by ``HMAC-SHA256(salt, id)`` truncated to 16 hex characters.

    Ids are compared as trimmed strings, so ``" 123"`` and ``"123"`` link.
    Missing ids stay missing.

    Parameters
    ----------
    ids : iterable
        Raw ids (LAchildID, CHILD, the export's person id).
    salt : str or Salt, optional
        See :func:`resolve_salt`.

    Returns
    -------
    Series of str (``object`` dtype), same index as ``ids`` when it is a Series.

    Examples
    --------
    >>> a = pseudonymise(["123", " 123"], "a-long-secret-value")
    >>> a[0] == a[1], len(a[0])
    (True, 16)
    """
    key = resolve_salt(salt).key
    series = ids if isinstance(ids, pd.Series) else pd.Series(list(ids), dtype=object)
    text = series.astype("string").str.strip()
    blank = text.isna() | (text == "")
    uniques = pd.unique(text[~blank].to_numpy(dtype=object))
    base = hmac.new(key, digestmod=hashlib.sha256)  # copying the keyed state is cheaper than new
    digests = {}
    for value in uniques:
        h = base.copy()
        h.update(value.encode("utf-8"))
        digests[value] = h.hexdigest()[:_HASH_CHARS]
    out = text.map(digests).astype(object)
    return out.where(~blank, None)


def birth_month(dob: pd.Series) -> pd.Series:
    """Generalise dates of birth to the first day of their month.

    Examples
    --------
    >>> birth_month(pd.Series(pd.to_datetime(["2015-06-17"])))[0].date()
    datetime.date(2015, 6, 1)
    """
    dates = pd.to_datetime(dob)
    return dates.dt.to_period("M").dt.to_timestamp().astype("datetime64[ns]")


def age_at(dob: pd.Series, on: pd.Series) -> pd.Series:
    """Completed years of age on a date (vectorised; missing in, missing out).

    Examples
    --------
    >>> int(age_at(pd.Series(pd.to_datetime(["2010-03-01"])), pd.Series(pd.to_datetime(["2020-02-29"])))[0])
    9
    """
    dob = pd.to_datetime(dob)
    on = pd.to_datetime(on)
    years = on.dt.year - dob.dt.year
    before_birthday = (on.dt.month < dob.dt.month) | (
        (on.dt.month == dob.dt.month) & (on.dt.day < dob.dt.day)
    )
    age = years - before_birthday.astype("Int64")
    return age.astype("Int64").where(dob.notna() & on.notna())


@lru_cache(maxsize=1)
def _dictionary_identifiers() -> frozenset[str]:
    """Fields (and their aliases) marked ``direct_identifier`` in the data dictionary."""
    try:
        from ehimpact.data.dictionary import get

        fields = get("child_level").fields.values()
    except Exception:  # the dictionary is optional here: fall back to the built-in list
        return frozenset()
    found: set[str] = set()
    for spec in fields:
        if spec.sensitivity == "direct_identifier":
            found.update(_norm(n) for n in (spec.name, *spec.aliases))
    return frozenset(found)


def direct_identifiers(columns: Iterable[str]) -> list[str]:
    """Which of ``columns`` are direct identifiers (built-in list + data dictionary).

    Examples
    --------
    >>> direct_identifiers(["Child ID", "Post Code", "Surname", "sex"])
    ['Post Code', 'Surname']
    """
    known = DIRECT_IDENTIFIERS | _dictionary_identifiers()
    return [c for c in columns if _norm(c) in known]


def drop_direct_identifiers(frame: pd.DataFrame) -> pd.DataFrame:
    """Return ``frame`` without its direct-identifier columns."""
    drop = direct_identifiers(frame.columns)
    return frame.drop(columns=drop) if drop else frame
