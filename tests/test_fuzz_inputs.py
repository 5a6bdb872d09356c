"""Fuzz the statutory readers with corrupted XML and CSV (hypothesis).

Two properties, for every corruption:
1. the readers either succeed or raise ``InputError`` (never another exception);
2. a record whose own text was not touched is never lost: every other child of the CIN
   file keeps all its referrals, s47 enquiries and plans, and every other CSV line keeps
   its row.

The default suite runs a few examples per reader; ``-m slow`` runs many more.
"""

from __future__ import annotations

import re

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ehimpact.data.cin import read_cin
from ehimpact.data.mapping import read_local_export
from ehimpact.data.privacy import pseudonymise
from ehimpact.data.ssda903 import read_ssda903
from ehimpact.data.statutory_writer import write_statutory
from ehimpact.data.synthetic import region
from ehimpact.errors import InputError

SALT = "fuzz-salt-123456"
FAST = settings(max_examples=5, deadline=None, derandomize=True,
                suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
SLOW = settings(max_examples=250, deadline=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])

# characters that break XML and CSV in interesting ways (no newlines: see _within_line)
NASTY = st.lists(st.sampled_from(list('<>/&;"\',=:! -_abcCDS019') + [
    "</Child>", "<Child>", "<!--", "]]>", "\x00", "é", "\ufeff", "2023-13-01", "31/02/2024",
    "1023", "9999", "Z"]),
    max_size=8).map("".join)


class Base(dict):
    """The clean inputs (short repr so hypothesis reports stay readable)."""

    def __repr__(self) -> str:
        return "Base(cin, episodes, export, mapping)"


@pytest.fixture(scope="module")
def base(tmp_path_factory):
    reg = region(n_authorities=1, children_per_authority=60, seed=2)
    files = next(iter(write_statutory(reg, tmp_path_factory.mktemp("fuzzbase")).values()))
    episodes = "\n".join(
        ["CHILD,DECOM,RNE,LS,CIN,PLACE,PLACE_PROVIDER,DEC,REC,REASON_PLACE_CHANGE,HOME_POST,PL_POST,URN"]
        + [f"K{i:03d},{1 + i:02d}/0{1 + i % 9}/2022,S,C2,N1,U1,PR1,,,,ZZ1 1ZZ,,"
           for i in range(12)]) + "\n"
    cin = files.cin_files[-1]  # one census year's file (the writer writes one per year)
    return Base(cin=cin.read_bytes(), episodes=episodes,
                export=files.local_export.read_text(), mapping=files.mapping,
                cin_read=read_cin(cin, salt=SALT),
                export_read=read_local_export(files.local_export, files.mapping, salt=SALT,
                                              episodes="all"))


# ----------------------------------------------------------------------------- mutation


def _mutate(text: str, start: int, end: int, op: str, where: float, length: int, junk: str) -> str:
    """Apply one corruption inside ``text[start:end]`` (the record's own span)."""
    pos = start + int(where * max(end - start - 1, 0))
    if op == "delete":
        return text[:pos] + text[min(pos + length, end):]
    if op == "insert":
        return text[:pos] + junk + text[pos:]
    return text[:pos] + junk + text[min(pos + len(junk), end):]  # overwrite


OPS = st.sampled_from(["delete", "insert", "overwrite"])
WHERE = st.floats(min_value=0, max_value=1, allow_nan=False)
LENGTH = st.integers(min_value=1, max_value=25)


def _cin_counts(data) -> dict[str, pd.Series]:
    return {name: getattr(data, name).groupby("child_id").size()
            for name in ("referrals", "section47", "cpp")}


def _check_cin(tmp_path, raw: bytes, clean, untouched: set[str]) -> None:
    path = tmp_path / "fuzz.xml"
    path.write_bytes(raw)
    try:
        got = read_cin(path, salt=SALT)
    except InputError:
        assert not untouched, "InputError although untouched children remained"
        return
    before, after = _cin_counts(clean), _cin_counts(got)
    ids = set(pseudonymise(sorted(untouched), SALT))
    assert ids <= set(got.children.child_id)
    for name in before:
        for cid in ids:
            assert after[name].get(cid, 0) >= before[name].get(cid, 0), (name, cid)


def _child_spans(text: str) -> list[tuple[int, int, str]]:
    spans = []
    for m in re.finditer(r"<Child>.*?</Child>", text, flags=re.S):
        cid = re.search(r"<LAchildID>(.*?)</LAchildID>", m.group(0)).group(1)
        spans.append((m.start(), m.end(), cid))
    return spans


def _cin_one_child(tmp_path, base, data) -> None:
    text = base["cin"].decode()
    spans = _child_spans(text)
    k = data.draw(st.integers(0, len(spans) - 1))
    start, end, cid = spans[k]
    bad = _mutate(text, start, end, data.draw(OPS), data.draw(WHERE), data.draw(LENGTH),
                  data.draw(NASTY))
    _check_cin(tmp_path, bad.encode("utf-8", errors="surrogatepass"), base["cin_read"],
               {c for s, e, c in spans if c != cid})


def _cin_truncated(tmp_path, base, data) -> None:
    text = base["cin"].decode()
    cut = data.draw(st.integers(0, len(text)))
    whole = {c for s, e, c in _child_spans(text) if e <= cut}
    _check_cin(tmp_path, text[:cut].encode(), base["cin_read"], whole)


@FAST
@given(data=st.data())
def test_cin_corrupted_child(tmp_path, base, data):
    _cin_one_child(tmp_path, base, data)


@FAST
@given(data=st.data())
def test_cin_truncated(tmp_path, base, data):
    _cin_truncated(tmp_path, base, data)


@FAST
@given(junk=st.binary(max_size=300))
def test_cin_garbage_only_input_error(tmp_path, junk):
    path = tmp_path / "junk.xml"
    path.write_bytes(junk)
    try:
        read_cin(path, salt=SALT)
    except InputError:
        pass


# ----------------------------------------------------------------------------- CSV


def _lines(text: str) -> list[str]:
    return text.splitlines()


def _fuzz_line(text: str, data, *, header: bool) -> tuple[str, int]:
    lines = _lines(text)
    k = 0 if header else data.draw(st.integers(1, len(lines) - 1))
    junk = data.draw(NASTY).replace("\x00", "")
    line = _mutate(lines[k], 0, len(lines[k]), data.draw(OPS), data.draw(WHERE),
                   data.draw(LENGTH), junk)
    lines[k] = line
    return "\n".join(lines) + "\n", k


def _check_episodes(tmp_path, base, data, *, header: bool) -> None:
    text, k = _fuzz_line(base["episodes"], data, header=header)
    (tmp_path / "episodes.csv").write_text(text)
    try:
        got = read_ssda903({"episodes": tmp_path / "episodes.csv"}, salt=SALT)
    except InputError:
        assert header, "InputError for a corrupted data line"
        return
    kept = set(zip(got.episodes.child_id, got.episodes.decom, strict=True))
    for j, line in enumerate(_lines(base["episodes"])[1:], start=1):
        if j == k:
            continue
        child, decom = line.split(",")[:2]
        key = (pseudonymise([child], SALT)[0], pd.to_datetime(decom, format="%d/%m/%Y"))
        assert key in kept, f"line {j + 1} lost"


@FAST
@given(data=st.data())
def test_episodes_corrupted_line(tmp_path, base, data):
    _check_episodes(tmp_path, base, data, header=False)


@FAST
@given(data=st.data())
def test_episodes_corrupted_header(tmp_path, base, data):
    _check_episodes(tmp_path, base, data, header=True)


def _check_export(tmp_path, base, data) -> None:
    text, k = _fuzz_line(base["export"], data, header=False)
    (tmp_path / "export.csv").write_text(text)
    clean = base["export_read"]
    try:  # by default the one file-level stop a corrupted line may cause: an unknown code
        read_local_export(tmp_path / "export.csv", base["mapping"], salt=SALT, episodes="all")
    except InputError as err:
        assert "not in the mapping" in str(err), str(err)
    got = read_local_export(tmp_path / "export.csv", base["mapping"], salt=SALT, episodes="all",
                            unknown_codes="missing")
    rows = _lines(base["export"])
    lost = set(zip(clean.children.child_id, clean.children.referral_date, strict=True)) - set(
        zip(got.children.child_id, got.children.referral_date, strict=True))
    touched_id = rows[k].split(",")[0]
    assert lost <= {(pseudonymise([touched_id], SALT)[0], d) for d in clean.children.referral_date}
    assert len(got.referrals) >= len(clean.referrals) - 1


@FAST
@given(data=st.data())
def test_export_corrupted_line(tmp_path, base, data):
    _check_export(tmp_path, base, data)


# ----------------------------------------------------------------------------- slow


@pytest.mark.slow
@SLOW
@given(data=st.data())
def test_cin_corrupted_child_many(tmp_path, base, data):
    _cin_one_child(tmp_path, base, data)


@pytest.mark.slow
@SLOW
@given(data=st.data())
def test_cin_truncated_many(tmp_path, base, data):
    _cin_truncated(tmp_path, base, data)


@pytest.mark.slow
@SLOW
@given(data=st.data())
def test_episodes_corrupted_many(tmp_path, base, data):
    _check_episodes(tmp_path, base, data, header=data.draw(st.booleans()))


@pytest.mark.slow
@SLOW
@given(data=st.data())
def test_export_corrupted_many(tmp_path, base, data):
    _check_export(tmp_path, base, data)


# ----------------------------------------------------------------------------- mapping YAML

_scalars = st.one_of(st.none(), st.booleans(), st.integers(-5, 5), st.floats(allow_nan=True),
                     st.sampled_from(["Person ID", "Referral Date", "%d/%m/%Y", "%q", "male",
                                      "female", "", "codes", "column", "format", "1"]))
_values = st.recursive(_scalars, lambda inner: st.one_of(
    st.lists(inner, max_size=3), st.dictionaries(st.sampled_from(
        ["column", "codes", "format", "F", "M", "x"]), inner, max_size=3)), max_leaves=8)
_targets = st.sampled_from(["child_id", "referral_date", "end_date", "received_early_help", "sex",
                            "age", "fsm", "surname", "colour", "date_of_birth", "absence_rate"])


@settings(max_examples=40, deadline=None, derandomize=True)
@given(doc=st.dictionaries(st.sampled_from(["fields", "constants", "drop", "date_format", "x"]),
                           st.one_of(_values, st.dictionaries(_targets, _values, max_size=6)),
                           max_size=4))
def test_mapping_fuzz_only_input_error(doc):
    from pathlib import Path

    fixture = Path(__file__).parent / "fixtures" / "statutory" / "eh_small.csv"
    base = {"child_id": "Person ID", "referral_date": "Referral Date", "end_date": "Episode Closed",
            "received_early_help": {"column": "Outcome", "codes": {"Supported": 1}}}
    fields = doc.get("fields")
    if isinstance(fields, dict):  # half the time start from a valid mapping and spoil it
        doc = {**doc, "fields": {**base, **fields}}
    try:
        read_local_export(fixture, doc, salt=SALT)
    except InputError:
        pass
