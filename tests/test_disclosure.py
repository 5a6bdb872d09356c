"""eh.report.disclose: worked examples, property tests (hypothesis) and user errors."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scipy.optimize import linprog

from ehimpact import InputError
from ehimpact.report.disclosure import SYMBOLS, DisclosureLog, disclose, table_record


def _hidden(x) -> bool:
    return isinstance(x, str) and x in SYMBOLS


# ---------------------------------------------------------------------- worked examples
def test_primary_secondary_and_zero():
    t = pd.DataFrame({"area": ["A", "B", "C"], "boys": [3, 12, 20], "girls": [8, 9, 0]})
    safe, log = disclose(t, name="referrals")
    assert safe["boys"].tolist() == ["c", "c", 20]
    assert safe["girls"].tolist() == ["c", "c", 0]  # the zero stays a zero
    assert log.count("primary") == 1 and log.count("secondary") == 3
    assert t["boys"].tolist() == [3, 12, 20]  # input untouched
    entry = [e for e in log if e["kind"] == "primary"][0]
    assert entry == {"table": "referrals", "row": {"area": "A"}, "column": "boys",
                     "action": "suppressed", "kind": "primary", "reason": "count between 1 and 5"}
    json.dumps(log.to_dict())
    assert "3" not in json.dumps(log.to_list())  # the log never holds a suppressed value


def test_threshold_is_configurable_and_secondary_can_be_off():
    t = pd.DataFrame({"area": ["A", "B"], "n": [7, 40], "m": [30, 50]})
    assert disclose(t)[0]["n"].tolist() == [7, 40]
    safe, log = disclose(t, threshold=10, secondary=False)
    assert safe["n"].tolist() == ["c", 40] and log.count("secondary") == 0


def test_total_row_and_column_protected_and_rounded():
    t = pd.DataFrame({
        "area": ["A", "B", "C", "England"],
        "boys": [3, 12, 20, 35], "girls": [8, 9, 0, 17], "total": [11, 21, 20, 52],
    })
    safe, log = disclose(t, totals=["England", "total"], round_to=10)
    # LA rows (and the LA total column) are unrounded; the England row is rounded to 10
    assert safe.loc[3, ["boys", "girls", "total"]].tolist() == [40, 20, 50]
    assert safe.loc[2, "total"] == 20 and safe.loc[1, "total"] == 21
    assert log.count("rounded") == 3
    # no row or column has exactly one hidden cell
    grid = safe[["boys", "girls", "total"]].to_numpy()
    hid = np.vectorize(_hidden)(grid)
    assert set(hid.sum(axis=0)) <= {0, 2, 3, 4} and set(hid.sum(axis=1)) <= {0, 2, 3}


def test_round_to_dict_names_rows_and_columns():
    t = pd.DataFrame({"region": ["SE", "SW", "Total"], "n": [123, 87, 210], "m": [44, 56, 100]})
    safe, _ = disclose(t, totals=["Total"], round_to={"Total": 10, "m": 5})
    assert safe["n"].tolist() == [123, 87, 210]
    assert safe["m"].tolist() == [45, 55, 100]


def test_rates_from_suppressed_counts_are_suppressed():
    t = pd.DataFrame({
        "area": ["A", "B", "C"], "referred": [4, 30, 25], "children": [400, 300, 250],
        "rate_per_10k": [100.0, 1000.0, 1000.0], "pct": [1.0, 10.0, 10.0],
    })
    safe, log = disclose(t, counts=["referred", "children"], additive_counts=False,
                         rates={"rate_per_10k": "referred", "pct": ("referred", "children")})
    assert safe["referred"].tolist() == ["c", 30, "c"]  # 25 is the next smallest
    assert safe["rate_per_10k"].tolist() == ["c", 1000.0, "c"]
    assert safe["pct"].tolist() == ["c", 10.0, "c"]
    assert log.count("rate") == 4
    assert safe["children"].tolist() == [400, 300, 250]  # different measure: not a margin


def test_range_check_closes_two_primaries_summing_to_two():
    """Rows/columns each have 2 hidden cells, yet row A's two 1s are pinned: 1 + 1 = 2."""
    t = pd.DataFrame({"g": ["A", "B"], "x": [1, 30], "y": [1, 40], "z": [20, 50]})
    weak, _ = disclose(t, check_ranges=False)
    assert weak["z"].tolist() == [20, 50]  # margin rule alone leaves it pinned
    assert _pinned(t, weak, ["x", "y", "z"])
    safe, log = disclose(t)
    assert not _pinned(t, safe, ["x", "y", "z"])
    assert any("worked out" in e["reason"] for e in log)


def test_long_table_two_dimensions_with_totals():
    rows = []
    for la, vals in {"Kent": [3, 40, 20], "Surrey": [15, 2, 30], "All": [18, 42, 50]}.items():
        for age, v in zip(["0-4", "5-9", "Total"], [vals[0], vals[1], vals[0] + vals[1]], strict=True):
            rows.append({"la": la, "age": age, "n": v})
    t = pd.DataFrame(rows)
    safe, log = disclose(t, counts=["n"], by=["la", "age"], totals=["All", "Total"])
    cell = {(r.la, r.age): r.n for r in safe.itertuples()}
    assert cell[("Kent", "0-4")] == "c" and cell[("Surrey", "5-9")] == "c"
    for la in ["Kent", "Surrey", "All"]:
        assert sum(_hidden(cell[(la, a)]) for a in ["0-4", "5-9", "Total"]) != 1
    for age in ["0-4", "5-9", "Total"]:
        assert sum(_hidden(cell[(la, age)]) for la in ["Kent", "Surrey", "All"]) != 1
    assert not _pinned_long(t, safe)


def test_wide_table_on_index_and_idempotent():
    t = pd.DataFrame({"a": [1, 10, 12], "b": [9, 0, 14]}, index=pd.Index(["x", "y", "z"], name="band"))
    safe, log = disclose(t)
    assert log.entries[0]["row"] == {"band": "x"}
    again, log2 = disclose(safe)
    pd.testing.assert_frame_equal(again, safe)
    assert log2.count("primary") == 0 and log2.count("secondary") == 0


def test_numeric_labels_are_not_counts():
    t = pd.DataFrame({"year": [2022, 2023, 2024], "n": [3, 40, 50], "m": [20, 30, 44]})
    safe, log = disclose(t)
    assert log.count_columns == ["n", "m"] and safe["year"].tolist() == [2022, 2023, 2024]


def test_nullable_integer_counts_with_missing_values():
    t = pd.DataFrame({"g": ["a", "b", "c"], "n": pd.array([3, None, 40], dtype="Int64"),
                      "m": pd.array([10, 12, 9], dtype="Int64")})
    safe, log = disclose(t)
    assert log.count_columns == ["n", "m"]
    assert safe["n"].iloc[0] == "c" and pd.isna(safe["n"].iloc[1])  # missing stays missing


def test_table_record_convention():
    t = pd.DataFrame({"area": ["A", "B"], "n": [2, 30], "m": [10, 11]})
    safe, log = disclose(t, name="by_area")
    rec = table_record(safe, log)
    assert rec["disclosed"] is True and rec["count_columns"] == ["n", "m"] and rec["name"] == "by_area"
    assert rec["data"][0]["n"] == "c"
    json.dumps(rec)


# ---------------------------------------------------------------------- user errors
@pytest.mark.parametrize(
    ("table", "kwargs", "pattern"),
    [
        (pd.DataFrame({"a": ["x", "y"], "n": [1.5, 3]}), {"counts": ["n"]}, r"counts: n.*whole numbers.*rows 0"),
        (pd.DataFrame({"a": ["x", "y"], "n": [-1, 3]}), {"counts": ["n"]}, r"counts: n"),
        (pd.DataFrame({"a": ["x", "y"], "n": ["lots", 3]}), {"counts": ["n"]}, r"counts: n.*'lots'"),
        (pd.DataFrame({"a": ["x", "y"], "n": [1, 3]}), {"counts": ["nope"]}, r"nope: column 'nope' not found"),
        (pd.DataFrame({"a": ["x", "y"], "n": [1, 3]}), {"rates": {"r": "n"}}, r"column 'r' not found"),
        (pd.DataFrame({"a": ["x", "y"], "n": [1, 3], "r": [1.0, 2.0]}), {"rates": {"r": "zz"}}, r"rates: r"),
        (pd.DataFrame({"a": ["x", "y"], "n": [1, 3]}), {"threshold": 0}, r"threshold"),
        (pd.DataFrame({"a": ["x", "y"]}), {}, r"counts: no count columns"),
        (pd.DataFrame({"a": ["E", "R", "x"], "n": [9, 9, 9]}), {"totals": ["E", "R"]}, r"totals: more than one total row"),
    ],
)
def test_user_errors(table, kwargs, pattern):
    with pytest.raises(InputError, match=pattern):
        disclose(table, **kwargs)


def test_not_a_dataframe():
    with pytest.raises(InputError, match="table"):
        disclose({"n": [1]})  # type: ignore[arg-type]


# ---------------------------------------------------------------------- properties
def _bounds_lp(eq_rows, rhs, bounds, k):
    if len(eq_rows) == 0:
        return bounds[k][0], bounds[k][1] if bounds[k][1] is not None else np.inf
    lo = linprog(np.eye(len(bounds))[k], A_eq=eq_rows, b_eq=rhs, bounds=bounds, method="highs")
    hi = linprog(-np.eye(len(bounds))[k], A_eq=eq_rows, b_eq=rhs, bounds=bounds, method="highs")
    assert lo.status == 0 and hi.status == 0
    return lo.fun, -hi.fun


def _pinned(orig: pd.DataFrame, safe: pd.DataFrame, cols, threshold=5, *, totals=False) -> bool:
    """Independent attacker for a wide table: knows every visible cell, the row and column
    sums, and that a primary cell (a true 1..threshold) lies in [1, threshold].

    Without total cells, every row and column sum is taken as known (or, when the sum is
    itself 1..threshold and so would be suppressed, as lying in [1, threshold]).  With a
    total row and column (the last ones), each row and column says body - total = 0.
    Returns the primary cells (row, column position) pinned to a single value.
    """
    v = orig[cols].to_numpy(dtype=float)
    hid = np.vectorize(_hidden)(safe[cols].to_numpy())
    cells = list(zip(*np.nonzero(hid), strict=True))
    primaries = [c for c in cells if 1 <= v[c] <= threshold]
    if not primaries:
        return []
    idx = {c: i for i, c in enumerate(cells)}
    lines = [[(r, j) for j in range(v.shape[1])] for r in range(v.shape[0])]
    lines += [[(r, j) for r in range(v.shape[0])] for j in range(v.shape[1])]
    eqs = []  # (coefficients over cells, rhs, small-sum flag)
    for line in lines:
        coef = [1.0] * len(line)
        if totals:
            coef[-1] = -1.0
        a = np.zeros(len(cells))
        b = 0.0
        for c, k in zip(line, coef, strict=True):
            if c in idx:
                a[idx[c]] = k
                b += k * v[c]
        full = sum(k * v[c] for c, k in zip(line, coef, strict=True))
        small = (not totals) and 1 <= full <= threshold
        if a.any() or small:
            eqs.append((a, b - (full if small else 0.0), small))
    n_slack = sum(e[2] for e in eqs)
    rows, rhs = [], []
    s_i = 0
    for a, b, small in eqs:
        row = np.concatenate([a, np.zeros(n_slack)])
        if small:
            row[len(cells) + s_i] = -1.0
            s_i += 1
        rows.append(row)
        rhs.append(b)
    bounds = [(1, threshold) if 1 <= v[c] <= threshold else (0, None) for c in cells]
    bounds += [(1, threshold)] * n_slack
    ranges = {c: _bounds_lp(np.array(rows), rhs, bounds, idx[c]) for c in primaries}
    return [c for c, (lo, hi) in ranges.items() if hi - lo < 0.5]


def _pinned_long(orig: pd.DataFrame, safe: pd.DataFrame) -> list:
    wide_o = orig.pivot(index="la", columns="age", values="n")
    wide_s = safe.pivot(index="la", columns="age", values="n")
    order_r = [x for x in wide_o.index if x != "All"] + ["All"]
    order_c = [x for x in wide_o.columns if x != "Total"] + ["Total"]
    return _pinned(wide_o.loc[order_r, order_c], wide_s.loc[order_r, order_c], order_c, totals=True)


count_values = st.one_of(st.just(0), st.integers(1, 5), st.integers(6, 60))


@st.composite
def wide_tables(draw):
    n_rows = draw(st.integers(2, 6))
    n_cols = draw(st.integers(2, 4))
    data = np.array(draw(st.lists(count_values, min_size=n_rows * n_cols, max_size=n_rows * n_cols))).reshape(n_rows, n_cols)
    cols = [f"c{j}" for j in range(n_cols)]
    t = pd.DataFrame(data, columns=cols)
    t.insert(0, "g", [f"r{i}" for i in range(n_rows)])
    with_totals = draw(st.booleans())
    if with_totals:
        t["total"] = t[cols].sum(axis=1)
        tot = t[[*cols, "total"]].sum().to_dict()
        t = pd.concat([t, pd.DataFrame([{"g": "Total", **tot}])], ignore_index=True)
        cols = [*cols, "total"]
    return t, cols, with_totals


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(wide_tables())
def test_properties_of_disclosed_tables(case):
    t, cols, with_totals = case
    safe, log = disclose(t, totals=["Total", "total"] if with_totals else None)
    grid_o = t[cols].to_numpy()
    grid_s = safe[cols].to_numpy()
    hid = np.vectorize(_hidden)(grid_s)
    # 1. no visible count of 1..5
    visible = grid_s[~hid].astype(float)
    assert not np.any((visible >= 1) & (visible <= 5))
    # 2. zeros unchanged, except a zero hidden as a last resort (logged as secondary)
    zero_hidden = {(e["row"]["g"], e["column"]) for e in log if e["kind"] == "secondary"}
    for r, c in zip(*np.nonzero((grid_o == 0) & hid), strict=True):
        assert (t["g"].iloc[r], cols[c]) in zero_hidden
    # 3. every row and column with a hidden cell has at least two, unless (no total cells)
    #    its sum is itself 1..5, so it would be suppressed and the one hidden cell is safe
    sums_small = lambda axis: (grid_o.sum(axis=axis) >= 1) & (grid_o.sum(axis=axis) <= 5)  # noqa: E731
    for axis in (0, 1):
        lonely = hid.sum(axis=axis) == 1
        assert not np.any(lonely & ~(sums_small(axis) & (not with_totals)))
    # 4. no suppressed count can be worked out from the visible cells and the sums
    #    (independent LP attacker); the only exception is a table whose own sums reveal a
    #    cell with every cell hidden, which the log must flag
    pinned = _pinned(t, safe, cols, totals=with_totals)
    flagged = {(u["row"]["g"], u["column"]) for u in log.unprotected}
    for r, j in pinned:
        assert hid.all() or all(hid[r, :]) or all(hid[:, j]), "pinned but cells left to hide"
        assert (t["g"].iloc[r], cols[j]) in flagged
    # 5. idempotent
    again, log2 = disclose(safe, totals=["Total", "total"] if with_totals else None)
    pd.testing.assert_frame_equal(again, safe)
    assert log2.count("secondary") == 0 and log2.count("primary") == 0


def test_log_type():
    assert isinstance(disclose(pd.DataFrame({"g": ["a", "b"], "n": [10, 20]}))[1], DisclosureLog)


@pytest.mark.slow
@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(wide_tables())
def test_properties_many_examples(case):
    test_properties_of_disclosed_tables.hypothesis.inner_test(case)


@st.composite
def long_tables(draw):
    """LA x age counts in long form with an 'All' LA row and a 'Total' age per LA."""
    n_la, n_age = draw(st.integers(2, 4)), draw(st.integers(2, 3))
    body = np.array(draw(st.lists(count_values, min_size=n_la * n_age, max_size=n_la * n_age))).reshape(n_la, n_age)
    full = np.zeros((n_la + 1, n_age + 1), dtype=int)
    full[:n_la, :n_age] = body
    full[:n_la, n_age] = body.sum(axis=1)
    full[n_la, :] = full[:n_la, :].sum(axis=0)
    las = [f"LA{i}" for i in range(n_la)] + ["All"]
    ages = [f"a{j}" for j in range(n_age)] + ["Total"]
    rows = [{"la": la, "age": ag, "n": int(full[i, j])} for i, la in enumerate(las) for j, ag in enumerate(ages)]
    order = draw(st.permutations(range(len(rows))))
    return pd.DataFrame([rows[k] for k in order])


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(long_tables())
def test_properties_of_long_tables_with_totals(t):
    safe, log = disclose(t, counts=["n"], by=["la", "age"], totals=["All", "Total"])
    hid = safe["n"].map(_hidden)
    vis = pd.to_numeric(safe["n"][~hid])
    assert not ((vis >= 1) & (vis <= 5)).any()
    for dim in ("la", "age"):
        other = "age" if dim == "la" else "la"
        per_group = hid.groupby(safe[other]).sum()
        assert not (per_group == 1).any()
    pinned = _pinned_long(t, safe)
    flagged = {(u["row"]["la"], u["row"]["age"]) for u in log.unprotected}
    wide = t.pivot(index="la", columns="age", values="n")
    order_r = [x for x in wide.index if x != "All"] + ["All"]
    order_c = [x for x in wide.columns if x != "Total"] + ["Total"]
    for r, j in pinned:
        assert (order_r[r], order_c[j]) in flagged
    again, log2 = disclose(safe, counts=["n"], by=["la", "age"], totals=["All", "Total"])
    pd.testing.assert_frame_equal(again, safe)
