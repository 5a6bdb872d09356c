"""read_statutory: nothing silently dropped, and the outcome rules applied as configured."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from ehimpact.data.outcomes import OutcomeRules, derive_outcomes, follow_up_summary, index_dates
from ehimpact.data.statutory import read_statutory
from ehimpact.data.statutory_writer import write_statutory
from ehimpact.data.synthetic import region
from ehimpact.errors import InputError

SALT = "statutory-salt-0123456789"


@pytest.fixture(scope="module")
def written(tmp_path_factory):
    reg = region(1, seed=6, children_per_authority=500)
    root = tmp_path_factory.mktemp("stat")
    return reg, next(iter(write_statutory(reg, root).values())), root


def _read(files, **kw):
    args = {"local_export": files.local_export, "mapping": files.mapping, "cin_xml": files.cin_xml,
            "ssda903_dir": files.ssda903_dir, "salt": SALT}
    args.update(kw)
    return read_statutory(**args)


def _export_with(files, root: Path, name: str, edit) -> Path:
    export = pd.read_csv(files.local_export, dtype=str, keep_default_na=False)
    edit(export)
    path = root / name
    export.to_csv(path, index=False)
    return path


def _blank(export: pd.DataFrame, column: str, rows) -> None:
    export.loc[rows, column] = ""


def test_clean_read_counts_sources_years_and_follow_up(written):
    reg, files, _ = written
    data = _read(files)
    assert data.report.ok, str(data.report)
    src = data.sources.set_index("source")
    assert set(src.index) == {"local_export", "cin_census", "ssda903"}
    assert (src["records_excluded"] == 0).all()
    assert src.loc["local_export", "children"] == 500
    assert 0 < src.loc["cin_census", "children_linked"] == src.loc["cin_census", "children"]
    # extract date: the last census's ReferenceDate; the years read are listed with their coverage
    assert data.extract_source == "CIN census ReferenceDate"
    assert data.rules.extract_date == pd.Timestamp(data.census_years["reference_date"].max())
    assert data.census_years["file"].str.startswith("cin_census_").all()
    assert data.exclusions.empty
    follow = data.follow_up.set_index("outcome")
    assert (follow["observed"] + follow["unobserved_follow_up"] + follow["open_episode"] == 500).all()
    summary = data.summary()
    assert summary["cohort"]["episodes"] == 500 and summary["extract_date"] == str(data.rules.extract_date.date())


def test_exclusions_counted_by_reason_and_threshold_stops_the_read(written):
    reg, files, root = written
    # 9 of 500 episodes without a child id: 1.8%, under the 2% default
    few = _export_with(files, root, "few.csv", lambda e: _blank(e, "Outcome", e.index[:9]))
    data = _read(files, local_export=few)
    row = data.exclusions.iloc[0]
    assert (row["source"], row["field"], int(row["n"])) == ("local_export", "Outcome", 9)
    assert "received_early_help is blank" in row["problem"]
    assert data.sources.set_index("source").loc["local_export", "records_excluded"] == 9
    # 11 of 500 (2.2%) stops, naming the file, the key, the share and the reasons
    many = _export_with(files, root, "many.csv", lambda e: _blank(e, "Outcome", e.index[:11]))
    with pytest.raises(InputError) as err:
        _read(files, local_export=many)
    text = str(err.value)
    for words in ("2.2% of the cohort", "11 of 500 in many.csv", "data.statutory.local_export",
                  "max_excluded_share (2.0%)", "received_early_help is blank", "Fix:"):
        assert words in text, words
    # the threshold is the rules': 5% lets it through
    assert len(_read(files, local_export=many, rules=OutcomeRules(max_excluded_share=0.05)).children) == 489


def test_duplicates_are_counted_not_lost(written):
    reg, files, root = written
    export = pd.read_csv(files.local_export, dtype=str, keep_default_na=False)
    dup = root / "dup.csv"
    pd.concat([export, export.iloc[:30]], ignore_index=True).to_csv(dup, index=False)  # 30 repeated rows: 6%
    data = _read(files, local_export=dup)
    src = data.sources.set_index("source").loc["local_export"]
    assert src["duplicates"] == 30 and len(data.children) == 500
    assert data.exclusions["action"].eq("duplicate excluded").all()


def test_open_episodes_are_counted_and_left_out(written):
    reg, files, root = written
    first = pd.read_csv(files.local_export, dtype=str, keep_default_na=False)
    supported = first.index[first["Outcome"] == "Supported"][:20]
    opened = _export_with(files, root, "open.csv", lambda e: _blank(e, "Episode Closed", supported))
    data = _read(files, local_export=opened)  # 20 of 500 open (4%) is no exclusion: the read goes on
    assert data.counts["open_episodes"] == 20
    assert (data.follow_up["open_episode"] == 20).all()
    kept = data.children
    if "open_episode" in kept and kept["open_episode"].sum():  # the export reader keeps them
        assert kept.loc[kept["open_episode"] == 1, "csc_referral_12m"].isna().all()


def test_no_child_linked_is_an_error(written, tmp_path):
    reg, files, _ = written
    other = region(2, seed=6, children_per_authority=700)  # the second authority's ids: C0000701 on
    other_files = write_statutory(other, tmp_path)
    wrong = other_files[sorted(other_files)[1]]
    with pytest.raises(InputError, match="links to no child of the cohort") as err:
        _read(files, ssda903_dir=wrong.ssda903_dir)
    assert "data.statutory.ssda903_dir" in str(err.value) and "Fix:" in str(err.value)


def test_missing_census_year_is_an_error(written):
    reg, files, _ = written
    census = sorted(Path(files.cin_xml).glob("*.xml"))
    assert len(census) >= 3
    with pytest.raises(InputError, match="CIN census year") as err:
        _read(files, cin_xml=[census[0], census[-1]])  # the middle years left out
    assert "data.statutory.cin_xml" in str(err.value)
    # "report" lists the gap instead
    data = _read(files, cin_xml=[census[0], census[-1]], census_years="report")
    assert (data.census_years["file"] == "").sum() == len(census) - 2


def test_extract_date_from_config_wins_and_censors(written):
    reg, files, _ = written
    data = _read(files, rules=OutcomeRules(extract_date="2021-03-31"))
    assert data.extract_source == "config"
    follow = data.follow_up.set_index("outcome")
    assert follow.loc["cla_24m", "observed"] == 0  # no 24-month window had closed
    assert data.children["cla_24m"].isna().all()
    assert 0 < follow.loc["csc_referral_12m", "observed"] < 500


def test_window_start_rule_reaches_the_flags(written):
    reg, files, _ = written
    on = _read(files)
    off = _read(files, rules=OutcomeRules(window_start="after_index_date"))
    assert off.rules.window_start == "after_index_date"
    # the generator has no same-day events by default: both rules agree here
    assert on.children["csc_referral_12m"].equals(off.children["csc_referral_12m"])


def test_rules_are_checked():
    with pytest.raises(InputError, match="data.window_start"):
        OutcomeRules(window_start="after")
    with pytest.raises(InputError, match="data.comparison_index"):
        OutcomeRules(comparison_index="decision")
    with pytest.raises(InputError, match="data.max_excluded_share"):
        OutcomeRules(max_excluded_share=2)
    with pytest.raises(InputError, match="data.extract_date"):
        OutcomeRules(extract_date="31st March")
    with pytest.raises(InputError, match="census_years"):
        read_statutory(local_export="x.csv", mapping={}, census_years="ignore")


def test_same_day_step_up_counts_by_default_only():
    kids = pd.DataFrame({"child_id": ["a", "b"], "received_early_help": [1, 0],
                         "referral_date": pd.to_datetime(["2022-01-01", "2022-01-01"]),
                         "start_date": pd.to_datetime(["2022-01-10", None]),
                         "end_date": pd.to_datetime(["2022-04-30", None])})
    ev = pd.DataFrame({"child_id": ["a"], "event_type": ["csc_referral"],
                       "event_date": pd.to_datetime(["2022-04-30"])})  # on the day early help closed
    on = derive_outcomes(kids, ev)
    off = derive_outcomes(kids, ev, rules=OutcomeRules(window_start="after_index_date"))
    assert on["csc_referral_12m"].tolist() == [1, 0] and off["csc_referral_12m"].tolist() == [0, 0]
    assert on["step_up_same_day"].tolist() == [1, 0] and on["step_up"].tolist() == [1, 0]


def test_comparison_index_by_assessment():
    kids = pd.DataFrame({"received_early_help": [1, 1, 1, 0, 0],
                         "referral_date": pd.to_datetime(["2022-01-01"] * 5),
                         "assessment_date": pd.to_datetime(["2022-01-11", "2022-01-21", "2022-01-31",
                                                            "2022-02-10", None]),
                         "end_date": pd.to_datetime(["2022-03-01", "2022-04-01", "2022-05-01", None, None])})
    by_ref = index_dates(kids)
    by_assess = index_dates(kids, OutcomeRules(comparison_index="assessment_plus_median"))
    # referral + median(59, 90, 120) = 90 days; assessment + median(49, 70, 90) = 70 days
    assert by_ref.iloc[3] == pd.Timestamp("2022-04-01")
    assert by_assess.iloc[3] == pd.Timestamp("2022-02-10") + pd.Timedelta(days=70)
    assert by_assess.iloc[4] == by_ref.iloc[4]  # no assessment date: the referral rule
    assert by_assess.iloc[:3].equals(by_ref.iloc[:3])  # supported: their closure, either way


def test_follow_up_summary_counts():
    kids = pd.DataFrame({"received_early_help": [1, 1, 0],
                         "index_date": pd.to_datetime(["2020-01-01", None, "2020-06-01"]),
                         "end_date": pd.to_datetime(["2020-01-01", None, None])})
    fu = follow_up_summary(kids, OutcomeRules(extract_date="2021-03-31")).set_index("outcome")
    assert fu.loc["csc_referral_12m", ["observed", "unobserved_follow_up", "open_episode"]].tolist() == [1, 1, 1]
    assert fu.loc["cla_24m", ["observed", "unobserved_follow_up", "open_episode"]].tolist() == [0, 2, 1]


def test_annex_a_of_another_authority_links_to_no_child(written):
    # the vendored liiatools sample workbook: a real Annex A layout, with ids of its own
    reg, files, _ = written
    workbook = Path(__file__).parent / "fixtures" / "external" / "annex_a" / "Annex_A.xlsx"
    with pytest.raises(InputError, match="Ofsted Annex A") as err:
        _read(files, annex_a=workbook)
    text = str(err.value)
    assert "links to no child of the cohort" in text and "data.statutory.annex_a" in text
    assert "Annex_A.xlsx" in text
