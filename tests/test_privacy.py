"""Salted hashing, generalisation and secrecy of the salt."""

from __future__ import annotations

import hashlib
import hmac
import pickle

import pandas as pd
import pytest

from ehimpact.data.privacy import (
    Salt,
    age_at,
    birth_month,
    direct_identifiers,
    pseudonymise,
    resolve_salt,
)
from ehimpact.errors import InputError


def test_hmac_sha256_truncated():
    expected = hmac.new(b"a-long-secret", b"C0000001", hashlib.sha256).hexdigest()[:16]
    assert pseudonymise(["C0000001"], "a-long-secret")[0] == expected


def test_same_salt_links_different_salt_does_not():
    a = pseudonymise(["123", " 123 ", "124", None, ""], "salt-number-one")
    assert a[0] == a[1] != a[2]
    assert a[3] is None and a[4] is None
    b = pseudonymise(["123"], "salt-number-two")
    assert b[0] != a[0]


def test_salt_from_env_and_hidden(monkeypatch):
    monkeypatch.setenv("EHIMPACT_SALT", "env-salt-value")
    salt = resolve_salt()
    assert pseudonymise(["x"])[0] == pseudonymise(["x"], "env-salt-value")[0]
    assert "env-salt-value" not in repr(salt) + str(salt) + f"{salt}"
    with pytest.raises(TypeError):
        pickle.dumps(salt)
    monkeypatch.delenv("EHIMPACT_SALT")
    with pytest.raises(InputError, match="no salt"):
        resolve_salt()
    with pytest.raises(InputError, match="at least 8"):
        Salt("short")


def test_generalisation():
    dob = pd.Series(pd.to_datetime(["2015-06-17", "2012-02-29", None]))
    assert birth_month(dob).dt.strftime("%Y-%m-%d").fillna("NaT").tolist() == [
        "2015-06-01", "2012-02-01", "NaT"]
    on = pd.Series(pd.to_datetime(["2020-06-16", "2020-02-28", "2020-01-01"]))
    # day before 5th birthday -> 4; 29 Feb 2012 child on 28 Feb 2020 -> 7; missing -> NA
    assert age_at(dob, on).tolist()[:2] == [4, 7]
    assert pd.isna(age_at(dob, on).iloc[2])


def test_direct_identifiers_detected():
    cols = ["Person ID", "First Name", "Surname", "Post Code", "UPN", "NHS Number", "DOB", "Gender"]
    assert direct_identifiers(cols) == ["First Name", "Surname", "Post Code", "UPN", "NHS Number", "DOB"]
