"""Produce tests/reference/cin_ingress_peer.yaml with the DfE-rule validator's own CIN parser.

Run in a separate environment (the peer needs pandas < 2):

    python -m venv /tmp/peercin
    /tmp/peercin/bin/pip install csc-validator-be-cin==0.1.13 "numpy<2"
    /tmp/peercin/bin/python tests/reference/cin_ingress_peer.py > tests/reference/cin_ingress_peer.yaml

It parses the CIN fixtures with ``cin_validator.ingress.XMLtoCSV`` (Data to Insight's
csc-validator-be-cin, the structural reference named in DOMAIN.md section 7) and writes
the records it finds, raw and unvalidated, so tests/test_cin_reference.py can check that
ehimpact.data.read_cin extracts the same records.
"""

import sys
import xml.etree.ElementTree as ET
from importlib.metadata import version
from pathlib import Path

import pandas as pd
import yaml
from cin_validator.ingress import XMLtoCSV

FIXTURES = Path(__file__).parents[1] / "fixtures" / "statutory"


def rows(frame, columns):
    out = []
    for rec in frame[columns].itertuples(index=False):
        out.append([None if pd.isna(v) else str(v) for v in rec])
    return sorted(out, key=lambda r: [x or "" for x in r])


def main():
    doc = {
        "source": (
            f"csc-validator-be-cin {version('csc-validator-be-cin')} (Data to Insight, PyPI), "
            "cin_validator.ingress.XMLtoCSV, pandas " + pd.__version__
        ),
        "command": "/tmp/peercin/bin/python tests/reference/cin_ingress_peer.py",
        "note": "raw records as the peer parser reads them (no validation: bad dates and "
                "records without LAchildID are kept; ehimpact excludes and reports those). "
                "An empty ChildCharacteristics element is added to children lacking one, "
                "because XMLtoCSV raises AttributeError on them (cin_small.xml child 5).",
        "files": {},
    }
    for name in ("cin_small.xml", "cin_synthetic_seed4.xml"):
        root = ET.parse(FIXTURES / name).getroot()
        for child in root.iter("Child"):  # the peer crashes on a Child without this block
            if child.find("ChildCharacteristics") is None:
                child.append(ET.Element("ChildCharacteristics"))
        parsed = XMLtoCSV(root)
        doc["files"][name] = {
            "children": rows(parsed.ChildIdentifiers,
                             ["LAchildID", "PersonBirthDate", "GenderCurrent", "Sex"]),
            "referrals": rows(parsed.CINdetails,
                              ["LAchildID", "CINreferralDate", "ReferralSource", "CINclosureDate"]),
            "section47": rows(parsed.Section47, ["LAchildID", "S47ActualStartDate"]),
            "cpp": rows(parsed.ChildProtectionPlans,
                        ["LAchildID", "CPPstartDate", "CPPendDate", "NumberOfPreviousCPP"]),
        }
    yaml.safe_dump(doc, sys.stdout, sort_keys=False, width=100)


if __name__ == "__main__":
    main()
