"""Round trip: synthetic region -> CIN XML + SSDA903 CSV + local export -> readers.

The derived outcomes must equal the generator's own outcome columns exactly, for every
child and every flag whose follow-up is observed, and the events read back must be the
generator's events.  The writer's census files end at 31 March of the last collection year,
so that ``ReferenceDate`` is the extract date: a child whose window ends after it has the
outcome unobserved (missing), and exactly those children do.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from ehimpact.data.outcomes import OUTCOME_WINDOWS
from ehimpact.data.privacy import pseudonymise
from ehimpact.data.statutory import read_statutory
from ehimpact.data.statutory_writer import write_statutory
from ehimpact.data.synthetic import region

SALT = "round-trip-salt-2026"


@pytest.fixture(scope="module")
def trip(tmp_path_factory):
    reg = region(n_authorities=2, children_per_authority=700, seed=11)
    files = write_statutory(reg, tmp_path_factory.mktemp("statutory"))
    read = {
        code: read_statutory(local_export=f.local_export, mapping=f.mapping, cin_xml=f.cin_xml,
                             ssda903_dir=f.ssda903_dir, salt=SALT)
        for code, f in files.items()
    }
    return reg, files, read


def _generator_children(reg, code):
    kids = reg.children.loc[reg.children.authority_code == code].copy()
    kids["child_id"] = pseudonymise(kids["child_id"], SALT).to_numpy()
    kids["family_id"] = pseudonymise(kids["family_id"], SALT).to_numpy()
    return kids.set_index("child_id").sort_index()


def test_every_authority_read_without_problems(trip):
    reg, files, read = trip
    assert sorted(read) == sorted(reg.children.authority_code.unique())
    for data in read.values():
        assert data.report.ok, str(data.report)


def _mismatches(got: pd.DataFrame, gen: pd.DataFrame, extract: pd.Timestamp, flag: str) -> int:
    """Children whose flag differs from the generator's, or whose observed/unobserved is wrong."""
    months = OUTCOME_WINDOWS[flag][1]
    # an open episode (no index date) or a window ending after the extract is not observed
    unobserved = ((got["index_date"] + pd.DateOffset(months=months)) > extract) | got["index_date"].isna()
    wrong_missing = int((got[flag].isna() != unobserved).sum())
    seen = ~unobserved
    values = got.loc[seen, flag].astype(int).to_numpy() != gen.loc[seen, flag].astype(int).to_numpy()
    return wrong_missing + int(values.sum())


def test_extract_date_is_the_last_census_reference_date(trip):
    _, files, read = trip
    for code, data in read.items():
        last = max(int(p.stem[-4:]) for p in files[code].cin_files)
        assert data.cin.extract_date == pd.Timestamp(f"{last}-03-31")
        assert data.rules.extract_date == data.cin.extract_date


def test_outcome_flags_equal_generator_exactly(trip):
    reg, _, read = trip
    n_positive = dict.fromkeys(OUTCOME_WINDOWS, 0)
    for code, data in read.items():
        gen = _generator_children(reg, code)
        got = data.children.set_index("child_id").sort_index()
        assert got.index.equals(gen.index)  # every child, once
        assert (got["index_date"] == gen["index_date"]).all()
        for flag in OUTCOME_WINDOWS:
            assert _mismatches(got, gen, data.cin.extract_date, flag) == 0, flag
            n_positive[flag] += int(got[flag].fillna(0).sum())
    # the comparison is not vacuous: every flag has positives in the generated data
    assert min(n_positive.values()) > 5, n_positive


def test_input_fields_survive(trip):
    reg, _, read = trip
    for code, data in read.items():
        gen = _generator_children(reg, code)
        got = data.children.set_index("child_id").sort_index()
        for col in gen.columns:
            if col in OUTCOME_WINDOWS or col == "index_date":
                continue
            a, b = gen[col], got[col]
            if col == "synthetic":
                b = b.astype(bool)
            if pd.api.types.is_datetime64_any_dtype(a):
                assert a.equals(b), col
            elif col == "absence_rate":
                np.testing.assert_array_equal(a.to_numpy(float), b.to_numpy(float), err_msg=col)
            else:
                assert _text(a) == _text(b), col


def _text(values: pd.Series) -> list[str | None]:
    return [None if pd.isna(v) else str(int(v) if isinstance(v, (bool, np.integer)) else v)
            for v in values]


def test_events_equal_generator(trip):
    reg, _, read = trip
    for code, data in read.items():
        gen = reg.events.loc[reg.events.authority_code == code]
        key = ["child_id", "event_type", "event_date"]
        expected = gen[key].assign(child_id=pseudonymise(gen["child_id"], SALT).to_numpy())
        got = data.events[key]
        assert len(got) == len(expected)
        pd.testing.assert_frame_equal(
            got.sort_values(key).reset_index(drop=True),
            expected.sort_values(key).reset_index(drop=True), check_dtype=False)
        assert (data.events.authority_code == code).all()


def test_outputs_hold_no_identifier_or_salt(trip):
    reg, files, read = trip
    code, data = next(iter(read.items()))
    blob = (data.children.astype(str).to_csv() + data.events.astype(str).to_csv()
            + json.dumps(data.report_dict()))
    raw_ids = reg.children.loc[reg.children.authority_code == code, "child_id"].head(50)
    assert not any(f",{rid}," in blob for rid in raw_ids)
    for value in ("Synthetic,Child", "ZZ99 9ZZ", SALT):
        assert value not in blob
    assert "date_of_birth" not in data.children
    # the written export really does carry identifiers that the reader dropped
    assert "ZZ99 9ZZ" in files[code].local_export.read_text()


@pytest.mark.slow
def test_default_region_round_trip(tmp_path):
    """The generator's default region (19 authorities x 2,000 children), every flag exact."""
    reg = region(seed=0)
    files = write_statutory(reg, tmp_path)
    mismatches = {}
    for code, f in files.items():
        data = read_statutory(local_export=f.local_export, mapping=f.mapping, cin_xml=f.cin_xml,
                              ssda903_dir=f.ssda903_dir, salt=SALT)
        assert data.report.ok, str(data.report)
        gen = _generator_children(reg, code)
        got = data.children.set_index("child_id").sort_index()
        assert got.index.equals(gen.index)
        n = int((got["index_date"].to_numpy() != gen["index_date"].to_numpy()).sum())
        if n:
            mismatches[(code, "index_date")] = n
        for flag in OUTCOME_WINDOWS:
            n = _mismatches(got, gen, data.cin.extract_date, flag)
            if n:
                mismatches[(code, flag)] = n
    assert mismatches == {}
    assert len(files) == 19
