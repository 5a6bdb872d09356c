"""ehimpact's CIN reader against the DfE-rule validator's own parser (peer reference).

tests/reference/cin_ingress_peer.yaml holds the records that csc-validator-be-cin 0.1.13
(``cin_validator.ingress.XMLtoCSV``) reads from the same fixture files; the command that
produced it is in the file.  The peer does not validate, so on the clean synthetic file the
records must match exactly, and on the hand-built file ehimpact must hold exactly the
peer's records minus the ones it reports as excluded.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
import yaml

from ehimpact.data.cin import SEX_CODES, read_cin
from ehimpact.data.privacy import pseudonymise

HERE = Path(__file__).parent
FIX = HERE / "fixtures" / "statutory"
PEER = yaml.safe_load((HERE / "reference" / "cin_ingress_peer.yaml").read_text())
SALT = "reference-salt-1"


def _ours(name):
    cin = read_cin(FIX / name, salt=SALT)

    def fmt(frame, columns):
        out = []
        for rec in frame[columns].itertuples(index=False):
            out.append(tuple(None if pd.isna(v) else (v.strftime("%Y-%m-%d") if isinstance(
                v, pd.Timestamp) else str(v)) for v in rec))
        return sorted(out, key=lambda r: [x or "" for x in r])

    return cin, {
        "referrals": fmt(cin.referrals, ["child_id", "referral_date", "closure_date"]),
        "section47": fmt(cin.section47, ["child_id", "s47_date"]),
        "cpp": fmt(cin.cpp, ["child_id", "start_date", "end_date", "n_previous_cpp"]),
    }


def _peer(name, *, drop_unidentified=True):
    raw = PEER["files"][name]
    ids = lambda v: None if v is None else pseudonymise([v], SALT)[0]  # noqa: E731
    out = {
        "referrals": [(ids(r[0]), r[1], r[3]) for r in raw["referrals"]],
        "section47": [(ids(r[0]), r[1]) for r in raw["section47"]],
        "cpp": [(ids(r[0]), r[1], r[2], r[3]) for r in raw["cpp"]],
    }
    if drop_unidentified:
        out = {k: [r for r in v if r[0] is not None] for k, v in out.items()}
    return {k: sorted(v, key=lambda r: [x or "" for x in r]) for k, v in out.items()}


def test_synthetic_file_matches_peer_exactly():
    cin, ours = _ours("cin_synthetic_seed4.xml")
    peer = _peer("cin_synthetic_seed4.xml", drop_unidentified=False)
    assert cin.report.ok
    for table in ours:
        assert ours[table] == peer[table], table
    assert len(peer["referrals"]) > 30 and len(peer["cpp"]) > 3  # not a vacuous comparison
    sexes = {r[0]: SEX_CODES[r[3] or r[2]] for r in PEER["files"]["cin_synthetic_seed4.xml"]["children"]}
    got = dict(zip(cin.children.child_id, cin.children.sex, strict=True))
    assert {pseudonymise([k], SALT)[0]: v for k, v in sexes.items()} == got


@pytest.mark.parametrize("table", ["referrals", "section47", "cpp"])
def test_hand_built_file_is_peer_minus_reported_exclusions(table):
    cin, ours = _ours("cin_small.xml")
    peer = _peer("cin_small.xml")  # the child without LAchildID is dropped by both
    missing = [r for r in peer[table] if r not in ours[table]]
    counts = cin.report.counts["cin_small.xml"][table]
    assert counts["read"] == len(peer[table])
    assert len(missing) == counts["excluded"]
    assert set(ours[table]) <= set(peer[table])
    # the excluded records are the ones the report names: D4's referral closed before it
    # was made, E5's Section47 dated 2023-13-01
    expected = {"referrals": [(pseudonymise(["D4"], SALT)[0], "2023-06-01", "2023-05-01")],
                "section47": [(pseudonymise(["E5"], SALT)[0], "2023-13-01")], "cpp": []}
    assert missing == expected[table]
