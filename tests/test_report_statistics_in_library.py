"""Statistics the write-up shows come from tested library functions, not report code (issue 14 item 6)."""

from __future__ import annotations

import pandas as pd
import pytest

from ehimpact.data.outcomes import reach_measures
from ehimpact.errors import InputError
from ehimpact.estimators.did import two_by_two_panel


def test_reach_measures_by_hand() -> None:
    kids = pd.DataFrame({
        "received_early_help": [1, 1, 1, 0, 0],
        "start_date": pd.to_datetime(["2022-01-03", "2022-01-03", "2022-02-01", None, None]),
        # 2 weeks, 26 weeks, 8 weeks
        "end_date": pd.to_datetime(["2022-01-17", "2022-07-04", "2022-03-29", None, None]),
    })
    m = reach_measures(kids)
    assert (m["assessed"], m["supported"], m["closed_early"]) == (5, 3, 1)
    assert m["take_up"] == pytest.approx(0.6)
    assert m["median_weeks"] == pytest.approx(8.0)
    assert m["closed_early_share"] == pytest.approx(1 / 3)
    no_dates = reach_measures(kids[["received_early_help"]])
    assert pd.isna(no_dates["median_weeks"]) and no_dates["closed_early"] == 0
    with pytest.raises(InputError):
        reach_measures(kids.drop(columns="received_early_help"))


def _panel() -> pd.DataFrame:
    months = pd.date_range("2020-01-01", periods=36, freq="MS")
    rows = []
    for unit, adopted in (("A", "2021-01-01"), ("B", "2021-01-01"), ("C", "2021-07-01"), ("D", None), ("E", None)):
        for t in months:
            rows.append({"authority_code": unit, "period": t,
                         "adoption_period": pd.Timestamp(adopted) if adopted else pd.NaT})
    return pd.DataFrame(rows)


def test_two_by_two_panel_keeps_the_cohort_and_never_adopters_in_the_window() -> None:
    out = two_by_two_panel(_panel(), adoption="2021-01-01", months=6)
    assert sorted(out["authority_code"].unique()) == ["A", "B", "D", "E"]  # C adopted on another date
    assert out["period"].min() == pd.Timestamp("2020-07-01") and out["period"].max() == pd.Timestamp("2021-06-01")
    assert len(out) == 4 * 12
    assert out.groupby("authority_code")["treated"].first().to_dict() == {"A": 1, "B": 1, "D": 0, "E": 0}
    assert out.groupby("post")["period"].min()[1] == pd.Timestamp("2021-01-01")
    assert int(out["post"].sum()) == 4 * 6


def test_two_by_two_panel_refuses_what_it_cannot_build() -> None:
    with pytest.raises(InputError, match="adoption"):
        two_by_two_panel(_panel(), adoption=None)
    with pytest.raises(InputError, match="window_months"):
        two_by_two_panel(_panel(), adoption="2021-01-01", months=0)
    adopters = _panel().dropna(subset=["adoption_period"])
    with pytest.raises(InputError, match="never adopted"):
        two_by_two_panel(adopters, adoption="2021-01-01")
