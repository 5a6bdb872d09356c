"""Statistical disclosure control for published tables about children.

:func:`disclose` makes a table safe to publish under the DfE convention (DOMAIN.md §5):
counts of 1 to ``threshold`` (default 5) are shown as ``c``; 0 is a true zero and is
shown; **secondary suppression** hides further cells so that no suppressed count can be
recovered from row, column or total sums; national and regional totals can be rounded
to the nearest 10; rates and percentages computed from a suppressed count are
suppressed too.  Every decision is written to a :class:`DisclosureLog` (never the
hidden value itself) that the runner stores in ``results.json``.

:func:`scan_outputs` checks a finished output folder: no record-level identifier from
the input and no unsuppressed small count in a disclosed table may appear anywhere.

Convention for disclosed tables in JSON (the runner follows it; :func:`table_record`
writes it)::

    {"tables": [{"name": "referrals_by_age", "disclosed": true,
                 "count_columns": ["n_referred", "n_children"],
                 "columns": [...], "data": [{"age": "0-4", "n_referred": "c", ...}, ...],
                 "disclosure_log": [...]}]}

Any JSON object with ``"disclosed": true`` (or with ``count_columns`` and ``data``) is
checked: every value of its ``count_columns`` in every record of ``data`` must be 0, above
the threshold, or a symbol.  CSV files are checked in the columns whose names match
``count_fields`` (``n``, ``n_*``, ``*_count``, ``children`` ...).  Identifiers are looked
for in every text file.  Tables inside HTML are not parsed: the same tables are in
``results.json``, where they are checked.
"""

from __future__ import annotations

import fnmatch
import json
import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd

from ehimpact.errors import InputError
from ehimpact.report.figures import svg_texts

__all__ = [
    "disclose",
    "DisclosureLog",
    "scan_outputs",
    "Finding",
    "table_record",
    "SYMBOLS",
    "DEFAULT_COUNT_FIELDS",
]

#: GSS/DfE shorthand that already means "not shown" (treated as hidden on input)
SYMBOLS = frozenset({"c", "z", ":", "x", "k", "u", "[c]", "[z]", "[x]", "[k]", "[u]", ".."})


# ---------------------------------------------------------------------- the log
@dataclass
class DisclosureLog:
    """What :func:`disclose` suppressed or rounded in one table, and why.

    The log names cells (row labels and column), the kind of action and the reason;
    it never records a suppressed value.

    Attributes
    ----------
    table : str
        Table name.
    threshold : int
        Counts from 1 to ``threshold`` were suppressed.
    symbol : str
        The symbol shown in place of a suppressed cell.
    count_columns : list of str
        Columns treated as counts.
    entries : list of dict
        One per action: ``table, row (dict of labels), column, action
        ("suppressed"/"rounded"), kind ("primary"/"secondary"/"rate"/"rounded"), reason``.
    notes : list of str
        Anything a reviewer should know (e.g. columns left untouched).
    unprotected : list of dict
        Suppressed cells that the table's own row and column sums would still reveal
        (every cell of those sums is hidden already); the sums must not be published.
    """

    table: str
    threshold: int
    symbol: str
    count_columns: list[str] = field(default_factory=list)
    entries: list[dict[str, Any]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    unprotected: list[dict[str, Any]] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.entries)

    def __iter__(self):
        return iter(self.entries)

    def count(self, kind: str) -> int:
        """Number of entries of one kind (``"primary"``, ``"secondary"``, ``"rate"``, ``"rounded"``)."""
        return sum(e["kind"] == kind for e in self.entries)

    def to_list(self) -> list[dict[str, Any]]:
        """The entries as a JSON-safe list (what the runner writes to ``results.json``)."""
        return json.loads(json.dumps(self.entries, default=str))

    def to_dict(self) -> dict[str, Any]:
        """Summary and entries, JSON-safe."""
        return {
            "table": self.table,
            "threshold": self.threshold,
            "symbol": self.symbol,
            "count_columns": list(self.count_columns),
            "n_primary": self.count("primary"),
            "n_secondary": self.count("secondary"),
            "n_rate": self.count("rate"),
            "n_rounded": self.count("rounded"),
            "entries": self.to_list(),
            "notes": list(self.notes),
            "unprotected": json.loads(json.dumps(self.unprotected, default=str)),
        }

    def summary(self) -> str:
        """One sentence for the report's methods note."""
        return (
            f"Table '{self.table}': {self.count('primary')} count(s) of 1 to {self.threshold} shown as "
            f"'{self.symbol}', {self.count('secondary')} further cell(s) suppressed so totals cannot "
            f"reveal them, {self.count('rate')} rate(s) from suppressed counts suppressed, "
            f"{self.count('rounded')} total(s) rounded."
        )


# ---------------------------------------------------------------------- parsing
def _is_symbol(x: Any, extra: str) -> bool:
    return isinstance(x, str) and (x.strip() in SYMBOLS or x.strip() == extra)


def _parse_counts(table: pd.DataFrame, col: str, symbol: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Values (float, NaN where not a number), hidden mask (symbols), missing mask (blank)."""
    s = table[col]
    hidden = np.array([_is_symbol(x, symbol) for x in s], dtype=bool)
    values = (pd.to_numeric(s.astype(object).where(~hidden), errors="coerce")
              .astype(float).to_numpy(dtype=float))
    missing = s.isna().to_numpy() & ~hidden
    bad = np.isnan(values) & ~hidden & ~missing
    bad |= ~np.isnan(values) & ((values < 0) | (values != np.round(values)))
    if bad.any():
        rows = list(table.index[bad])
        raise InputError(
            f"count column {col!r} must hold whole numbers >= 0 (or a symbol such as "
            f"'{symbol}'); found {s[bad].iloc[0]!r}",
            field=f"counts: {col}",
            rows=rows,
            fix="pass only count columns in counts=; list rates in rates= and leave other "
            "measures out",
        )
    return values, hidden, missing


def _blank(x: Any) -> bool:
    try:
        return bool(pd.isna(x))
    except (TypeError, ValueError):
        return False


def _looks_like_counts(s: pd.Series, symbol: str) -> bool:
    vals = [x for x in s if not (_is_symbol(x, symbol) or _blank(x))]
    if not vals:  # a wholly suppressed count column
        return any(_is_symbol(x, symbol) for x in s)
    num = pd.to_numeric(pd.Series(vals), errors="coerce")
    if num.isna().any() or isinstance(s.dtype, pd.CategoricalDtype) or pd.api.types.is_bool_dtype(s):
        return False
    arr = num.to_numpy(dtype=float)
    return bool(np.all(arr >= 0) and np.all(arr == np.round(arr)))


_LABEL_NAMES = ("year", "*_year", "year_*", "month", "period", "quarter", "code", "*_code", "*_id",
                "id", "age", "age_*", "la", "lea", "urn")


def _label_like(name: Any) -> bool:
    """Whole-number columns that are labels, not counts (years, codes, ages)."""
    low = str(name).lower()
    return any(fnmatch.fnmatch(low, p) for p in _LABEL_NAMES)


# ---------------------------------------------------------------------- equations
@dataclass
class _Equation:
    members: list[int]  # flat cell ids
    coefs: list[float]
    totals: list[int]  # member ids that are the total
    where: str
    # no total cell in the table and the implied sum is itself 1..threshold: such a sum
    # would be suppressed if published, so a reader knows only that it lies in 1..threshold
    small_sum: bool = False


def _build_equations(
    labels: list[np.ndarray],
    label_names: list[str],
    n: int,
    m: int,
    count_cols: list[str],
    total_labels: set[str],
    total_cols: list[int],
    additive: bool,
) -> list[_Equation]:
    eqs: list[_Equation] = []
    lab = [np.array([str(x) for x in arr], dtype=object) for arr in labels]
    for d, name in enumerate(label_names):
        others = [lab[e] for e in range(len(lab)) if e != d]
        keys = list(zip(*others, strict=True)) if others else [()] * n
        groups: dict[tuple, list[int]] = {}
        for r in range(n):
            groups.setdefault(keys[r], []).append(r)
        for key, rows in groups.items():
            tot = [r for r in rows if lab[d][r] in total_labels]
            body = [r for r in rows if lab[d][r] not in total_labels]
            if len(tot) > 1:
                raise InputError(
                    f"more than one total row ({', '.join(str(lab[d][r]) for r in tot)}) in the "
                    f"same group of {name!r}",
                    field="totals",
                    fix="put sub-totals (e.g. regions) in their own label column so each group "
                    "has at most one total row",
                )
            if len(body) + len(tot) < 2:
                continue
            ctx = ", ".join(f"{label_names[e]}={k}" for e, k in zip([e for e in range(len(lab)) if e != d], key, strict=True))
            for j in range(m):
                members = [r * m + j for r in body] + [r * m + j for r in tot]
                coefs = [1.0] * len(body) + [-1.0] * len(tot)
                where = f"column {count_cols[j]!r} summed over {name}" + (f" ({ctx})" if ctx else "")
                eqs.append(_Equation(members, coefs, [r * m + j for r in tot], where))
    if additive:
        body_cols = [j for j in range(m) if j not in total_cols]
        if len(total_cols) > 1:
            raise InputError(
                f"more than one total column ({', '.join(count_cols[j] for j in total_cols)})",
                field="totals",
                fix="name one total column, or set additive_counts=False when the count "
                "columns are different measures",
            )
        if len(body_cols) + len(total_cols) >= 2:
            for r in range(n):
                members = [r * m + j for j in body_cols] + [r * m + j for j in total_cols]
                coefs = [1.0] * len(body_cols) + [-1.0] * len(total_cols)
                row = ", ".join(f"{nm}={lab[d][r]}" for d, nm in enumerate(label_names))
                eqs.append(_Equation(members, coefs, [r * m + j for j in total_cols],
                                     f"count columns summed across row {row}"))
    return eqs


def _pick(eq: _Equation, values: np.ndarray, hidden: np.ndarray, missing: np.ndarray) -> int | None:
    """The visible cell to hide next in an equation: smallest non-zero body cell, then the
    total, then (last resort) a zero."""
    cand = [c for c in eq.members if not hidden[c] and not missing[c]]
    if not cand:
        return None
    body_nz = sorted((c for c in cand if c not in eq.totals and values[c] > 0), key=lambda c: (values[c], c))
    if body_nz:
        return body_nz[0]
    tots = [c for c in cand if c in eq.totals]
    if tots:
        return tots[0]
    return sorted(cand)[0]


def _components(eqs: list[_Equation], hidden: np.ndarray, known: np.ndarray) -> list[list[int]]:
    """Groups of hidden cells linked through shared sums (union-find)."""
    parent: dict[int, int] = {}

    def find(x: int) -> int:
        while parent.setdefault(x, x) != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for eq in eqs:
        if not all(known[c] for c in eq.members):
            continue
        h = [c for c in eq.members if hidden[c]]
        for c in h:
            find(c)
        for a, b in zip(h, h[1:], strict=False):
            parent[find(a)] = find(b)
    groups: dict[int, list[int]] = {}
    for c in np.flatnonzero(hidden & known):
        groups.setdefault(find(int(c)), []).append(int(c))
    return list(groups.values())


def _pinned_cells(
    cells: list[int], eqs: list[_Equation], values: np.ndarray, primary: np.ndarray, threshold: int,
) -> list[int]:
    """Primary cells of one component that a reader could work out exactly (LP, HiGHS).

    The reader knows every visible cell and every sum, and which hidden cells are
    primary (so those lie in 1..threshold); other hidden cells are >= 0.  A sum that is
    itself 1..threshold (no total cell in the table) is known only to lie in that range.
    """
    from scipy.optimize import linprog

    pos = {c: i for i, c in enumerate(cells)}
    used = [eq for eq in eqs if any(c in pos for c in eq.members)]
    n_small = sum(eq.small_sum for eq in used)
    width = len(cells) + n_small
    rows, rhs = [], []
    slack = len(cells)
    for eq in used:
        a = np.zeros(width)
        b = 0.0  # right-hand side: the true sum of the hidden part, which a reader can infer
        for c, k in zip(eq.members, eq.coefs, strict=True):
            if c in pos:
                a[pos[c]] += k
                b += k * values[c]
        if eq.small_sum:  # sum known only to lie in 1..threshold: subtract an unknown slack
            a[slack] = -1.0
            b = -(float(values[eq.members].sum()) - b)
            slack += 1
        rows.append(a)
        rhs.append(b)
    bounds = [(1.0, float(threshold)) if primary[c] else (0.0, None) for c in cells]
    bounds += [(1.0, float(threshold))] * n_small
    targets = [c for c in cells if primary[c]]
    if not rows:
        return []
    a_eq, b_eq = np.vstack(rows), np.array(rhs)
    # the true values are one feasible point; a cell is pinned only if no feasible point
    # moves it.  Each LP pushes one unresolved cell away from its true value, and every
    # cell that moves in the solution is resolved too, so few LPs are needed.
    x0 = np.array([values[c] for c in cells], dtype=float)
    unresolved = {pos[c] for c in targets}
    pinned: list[int] = []
    # a few vertices in random directions usually move almost every cell at once
    rng = np.random.default_rng(len(cells))
    cap = float(np.nanmax(x0)) * 4 + 4 * threshold  # a box keeps random LPs bounded; a point
    boxed = [(lo, cap if hi is None else hi) for lo, hi in bounds]  # inside it is still feasible
    for _ in range(3):
        if not unresolved:
            break
        res = linprog(rng.standard_normal(width), A_eq=a_eq, b_eq=b_eq, bounds=boxed, method="highs")
        if res.status == 0:
            unresolved -= {j for j in unresolved if abs(res.x[j] - x0[j]) >= 0.5}
    while unresolved:
        i = min(unresolved)
        moved = False
        for sign in ((1.0, -1.0) if x0[i] > bounds[i][0] else (-1.0, 1.0)):
            obj = np.zeros(width)
            obj[i] = sign  # sign +1 minimises the cell, -1 maximises it
            res = linprog(obj, A_eq=a_eq, b_eq=b_eq, bounds=bounds, method="highs")
            if res.status == 3:  # unbounded: the cell can move without limit
                moved = True
                break
            if res.status == 0 and abs(res.x[i] - x0[i]) >= 0.5:
                moved = True
                unresolved -= {j for j in unresolved if abs(res.x[j] - x0[j]) >= 0.5}
                break
        unresolved.discard(i)
        if not moved:
            pinned.append(cells[i])
    return pinned


# ---------------------------------------------------------------------- main entry
def disclose(
    table: pd.DataFrame,
    *,
    counts: Sequence[str] | None = None,
    by: Sequence[str] | None = None,
    rates: Mapping[str, str | Sequence[str]] | None = None,
    totals: Iterable[str] | None = None,
    threshold: int = 5,
    secondary: bool = True,
    round_to: int | Mapping[str, int] | None = None,
    symbol: str = "c",
    additive_counts: bool = True,
    name: str = "table",
    check_ranges: bool = True,
) -> tuple[pd.DataFrame, DisclosureLog]:
    """Make a table of counts safe to publish: primary and secondary suppression, rounding.

    Parameters
    ----------
    table : DataFrame
        Long (label columns + count columns) or wide (one label column or the index,
        several count columns).  Already-suppressed cells (``c``, ``z``, ``:`` ...) are
        kept hidden and trusted to have been protected by whoever suppressed them, so
        applying :func:`disclose` twice changes nothing.
    counts : list of str, optional
        Count columns.  Default: every column whose values are all whole numbers >= 0
        (or symbols), except ``by`` and rate columns and label-like names (``year``,
        ``*_code``, ``age`` ...).  Name them explicitly in production code.
    by : list of str, optional
        Label columns that place a count in the table (authority, age band, ...).
        Default: the non-numeric columns; the index when there are none.
    rates : dict, optional
        ``{"rate_col": "count_col"}`` or ``{"rate_col": ("numerator", "denominator")}``:
        a rate is suppressed wherever one of its counts is.
    totals : iterable of str, optional
        Labels of total rows (e.g. ``"England"``, ``"Total"``) and names of total count
        columns.  A total row is the sum of the other rows of its group; a total column
        the sum of the other count columns in its row.
    threshold : int, default 5
        Counts from 1 to ``threshold`` are suppressed (0 is shown: a true zero).
    secondary : bool, default True
        Hide further cells so suppressed counts cannot be recovered from sums.  Turn off
        only for a table whose margins are never published.
    round_to : int or dict, optional
        ``10`` rounds every visible cell of the total rows (national/regional figures) to
        the nearest 10; ``{"England": 10, "total": 10}`` rounds the named rows or columns.
    symbol : str, default "c"
        Shown in place of a suppressed cell.
    additive_counts : bool, default True
        The count columns are parts of one whole (age bands, ...), so each row's sum is
        treated as known.  Set False when they are different measures.
    name : str, default "table"
        Table name for the log.
    check_ranges : bool, default True
        After the margin rule, compute by linear programming the range each hidden cell
        could take for someone who knows every visible cell and sum (and which cells are
        primary), and suppress more until no hidden cell is pinned to one value.

    Returns
    -------
    (DataFrame, DisclosureLog)
        A copy of the table with suppressed cells replaced by ``symbol`` (count and rate
        columns become object dtype), and the log.

    Raises
    ------
    InputError
        A count column holds negative, fractional or text values; a named column is
        missing; more than one total in a group; a bad threshold.

    Notes
    -----
    Every row sum and column sum of the counts is treated as known to a reader (published
    elsewhere or derivable), whether or not a total row or column is in the table.  The
    margin rule: in every such sum with exactly one hidden cell, hide the smallest visible
    non-zero cell (then the total, and a zero only as a last resort), repeating until no
    sum has exactly one hidden cell.  The range check then closes subtler routes (a cell
    determined by several sums at once, or two primary cells whose sum is 2).

    Examples
    --------
    >>> t = pd.DataFrame({"area": ["A", "B", "C"], "boys": [3, 12, 20], "girls": [8, 9, 0]})
    >>> safe, log = disclose(t, name="referrals")
    >>> safe["boys"].tolist(), safe["girls"].tolist()
    (['c', 'c', 20], ['c', 'c', 0])
    >>> log.count("primary"), log.count("secondary")
    (1, 3)
    """
    if not isinstance(table, pd.DataFrame):
        raise InputError(f"expected a pandas DataFrame, got {type(table).__name__}", field="table",
                         fix="pass the table as a DataFrame")
    if not isinstance(threshold, int | np.integer) or threshold < 1:
        raise InputError(f"threshold must be a whole number >= 1, got {threshold!r}", field="threshold",
                         fix="use 5 (the DfE convention)")
    rates = dict(rates or {})
    total_set = {str(t) for t in (totals or [])}
    for col in [*(counts or []), *(by or []), *rates]:
        if col not in table.columns:
            raise InputError(f"column {col!r} not found", field=col,
                             fix=f"use one of {', '.join(map(str, table.columns))}")
    rate_sources: dict[str, list[str]] = {}
    for rc, src in rates.items():
        srcs = [src] if isinstance(src, str) else list(src)
        for s in srcs:
            if s not in table.columns:
                raise InputError(f"rate {rc!r} refers to column {s!r}, which is not in the table",
                                 field=f"rates: {rc}", fix="name the count column(s) the rate is computed from")
        rate_sources[rc] = srcs
    if counts is None:
        skip = set(by or []) | set(rates)
        counts = [c for c in table.columns if c not in skip and not _label_like(c)
                  and _looks_like_counts(table[c], symbol)]
    counts = list(counts)
    if not counts:
        raise InputError("no count columns found", field="counts",
                         fix="name the count columns: disclose(table, counts=[...])")
    if by is None:
        by = [c for c in table.columns if c not in counts and c not in rates
              and not pd.api.types.is_numeric_dtype(table[c])]
    by = list(by)
    log = DisclosureLog(table=name, threshold=int(threshold), symbol=symbol, count_columns=counts)
    untouched = [c for c in table.columns if c not in counts and c not in by and c not in rates]
    if untouched:
        log.notes.append(f"left as they are (not counts, labels or rates): {', '.join(map(str, untouched))}")

    n, m = len(table), len(counts)
    parsed = [_parse_counts(table, c, symbol) for c in counts]
    values = np.column_stack([p[0] for p in parsed]).ravel() if n else np.zeros(0)
    hidden0 = np.column_stack([p[1] for p in parsed]).ravel() if n else np.zeros(0, bool)
    missing = np.column_stack([p[2] for p in parsed]).ravel() if n else np.zeros(0, bool)
    if by:
        labels = [table[c].to_numpy() for c in by]
        label_names = by
    else:
        labels = [table.index.to_numpy()]
        label_names = [str(table.index.name or "row")]

    def row_of(r: int) -> dict[str, Any]:
        return {nm: _plain(labels[d][r]) for d, nm in enumerate(label_names)}

    total_cols = [j for j, c in enumerate(counts) if str(c) in total_set]
    eqs = _build_equations(labels, label_names, n, m, counts, total_set, total_cols, additive_counts)

    visible = ~hidden0 & ~missing
    primary = visible & (values >= 1) & (values <= threshold)
    hidden = hidden0 | primary
    reasons: dict[int, tuple[str, str]] = {
        int(c): ("primary", f"count between 1 and {threshold}") for c in np.flatnonzero(primary)
    }

    unprotected: list[int] = []
    if secondary:
        _secondary(eqs, values, hidden, missing, primary, threshold, reasons, check_ranges, unprotected)
    for cell in unprotected:
        r, j = divmod(cell, m)
        log.unprotected.append({"table": name, "row": row_of(r), "column": counts[j]})
    if unprotected:
        log.notes.append(
            f"{len(unprotected)} suppressed cell(s) can still be worked out from this table's row and "
            "column sums even with every cell hidden: do not publish those sums (or this table) "
            "alongside it"
        )

    # rounding of totals (after suppression decisions; suppressed cells stay suppressed)
    rounded = np.zeros_like(hidden)
    out_values = values.copy()
    if round_to is not None:
        # an int rounds the total *rows* (national/regional figures); LA figures, including an
        # LA's own total column, stay unrounded (DfE CLA convention)
        rules: dict[str, int] = (
            {t: int(round_to) for t in total_set if t not in {str(c) for c in counts}}
            if isinstance(round_to, int | np.integer)
            else {str(k): int(v) for k, v in dict(round_to).items()}
        )
        for key, base in rules.items():
            if base < 1:
                raise InputError(f"rounding base must be >= 1, got {base!r}", field=f"round_to: {key}",
                                 fix="use 10 for the DfE convention")
        for r in range(n):
            row_bases = [rules[str(labels[d][r])] for d in range(len(labels)) if str(labels[d][r]) in rules]
            for j, c in enumerate(counts):
                bases = row_bases + ([rules[str(c)]] if str(c) in rules else [])
                cell = r * m + j
                if bases and not hidden[cell] and not missing[cell]:
                    base = max(bases)
                    new = math.floor(values[cell] / base + 0.5) * base  # half up, as DfE
                    out_values[cell] = new
                    rounded[cell] = True

    # build the output
    out = table.copy()
    grid = out_values.reshape(n, m) if n else np.zeros((0, m))
    hid = hidden.reshape(n, m) if n else np.zeros((0, m), bool)
    for j, c in enumerate(counts):
        col = []
        for r in range(n):
            if hid[r, j]:
                orig = table[c].iloc[r]
                col.append(orig if _is_symbol(orig, symbol) else symbol)
            elif missing[r * m + j]:
                col.append(table[c].iloc[r])
            else:
                col.append(int(grid[r, j]))
        out[c] = pd.Series(col, index=table.index, dtype=object)
    for cell in sorted(reasons):
        kind, why = reasons[cell]
        r, j = divmod(cell, m)
        log.entries.append({"table": name, "row": row_of(r), "column": counts[j], "action": "suppressed",
                            "kind": kind, "reason": why})
    for cell in np.flatnonzero(rounded):
        r, j = divmod(int(cell), m)
        log.entries.append({"table": name, "row": row_of(r), "column": counts[j], "action": "rounded",
                            "kind": "rounded", "reason": "national/regional total rounded"})
    # rates
    idx = {c: j for j, c in enumerate(counts)}
    for rc, srcs in rate_sources.items():
        s_out = out[rc].astype(object).copy()
        for r in range(n):
            src_hidden = any(
                (hid[r, idx[s]] if s in idx else _is_symbol(table[s].iloc[r], symbol)) for s in srcs
            )
            if src_hidden and not _is_symbol(table[rc].iloc[r], symbol):
                s_out.iloc[r] = symbol
                log.entries.append({"table": name, "row": row_of(r), "column": rc, "action": "suppressed",
                                    "kind": "rate", "reason": f"computed from suppressed {', '.join(srcs)}"})
        out[rc] = s_out
    return out, log


def _secondary(
    eqs: list[_Equation], values: np.ndarray, hidden: np.ndarray, missing: np.ndarray,
    primary: np.ndarray, threshold: int, reasons: dict[int, tuple[str, str]], check_ranges: bool,
    unprotected: list[int],
) -> None:
    """Hide cells until no margin has exactly one hidden cell and no hidden cell is pinned."""
    cell_eqs: dict[int, list[_Equation]] = {}
    for eq in eqs:
        for c in eq.members:
            cell_eqs.setdefault(c, []).append(eq)

    cache: dict[frozenset[int], list[int]] = {}

    def hide(cell: int, why: str) -> None:
        hidden[cell] = True
        reasons[cell] = ("secondary", why)

    for eq in eqs:
        if not eq.totals and not np.isnan(values[eq.members]).any():
            eq.small_sum = 1 <= float(values[eq.members].sum()) <= threshold
    for _ in range(10 * len(values) + 10):
        changed = False
        for eq in eqs:
            if eq.small_sum:
                continue  # the sum itself is unknown: one hidden cell is already protected
            h = [c for c in eq.members if hidden[c]]
            if len(h) == 1 and not np.isnan(values[h[0]]):  # hidden on input: trust that pass
                pick = _pick(eq, values, hidden, missing)
                if pick is not None:
                    hide(pick, f"only suppressed cell in {eq.where}")
                    changed = True
        if changed:
            continue
        if not check_ranges:
            break
        # only primary cells need protecting: a pinned secondary cell matters only through
        # the primary cells it pins, which the LP sees directly
        pinned_by_comp: list[list[int]] = []
        known = ~np.isnan(values)  # cells hidden on input (a second pass) have no known value
        for comp in _components(eqs, hidden, known):
            if not any(primary[c] for c in comp):
                continue
            key = frozenset(comp)
            if key not in cache:
                cache[key] = _pinned_cells(comp, [e for e in eqs if all(known[c] for c in e.members)],
                                           values, primary, threshold)
            pins = cache[key]
            if pins:
                pinned_by_comp.append(pins)
        if not pinned_by_comp:
            break
        acted = False
        for pin in (c for pins in pinned_by_comp for c in pins):
            options = [(eq, _pick(eq, values, hidden, missing)) for eq in cell_eqs.get(pin, [])]
            options = [(eq, p) for eq, p in options if p is not None]
            if not options:  # every cell in those sums is hidden already: the sums reveal it
                if pin not in unprotected:
                    unprotected.append(int(pin))
                continue
            eq, pick = min(options, key=lambda o: (values[o[1]] if values[o[1]] > 0 else math.inf, o[1]))
            hide(pick, f"a suppressed cell could be worked out from the sums ({eq.where})")
            acted = True
        if not acted:
            break


def _plain(x: Any) -> Any:
    if isinstance(x, np.generic):
        return x.item()
    return x if isinstance(x, str | int | float | bool) or x is None else str(x)


def table_record(table: pd.DataFrame, log: DisclosureLog) -> dict[str, Any]:
    """A disclosed table in the ``results.json`` convention that :func:`scan_outputs` checks.

    Parameters
    ----------
    table : DataFrame
        The output of :func:`disclose`.
    log : DisclosureLog
        Its log.

    Returns
    -------
    dict
        ``{"name", "disclosed": True, "count_columns", "columns", "data", "disclosure_log"}``.
    """
    from ehimpact.estimators.result import json_safe

    return {
        "name": log.table,
        "disclosed": True,
        "count_columns": list(log.count_columns),
        "threshold": log.threshold,
        "columns": [str(c) for c in table.columns],
        "data": json_safe(table.reset_index(drop=True)),
        "disclosure_log": log.to_list(),
    }


# ---------------------------------------------------------------------- output scanning
#: column-name patterns treated as counts when scanning CSV files
DEFAULT_COUNT_FIELDS: tuple[str, ...] = (
    "n", "n_*", "*_n", "count", "count_*", "*_count", "*_counts", "number", "number_*",
    "children", "*_children", "families", "*_families", "referrals", "*_referrals",
)
_TEXT_SUFFIXES = {".ipynb", ".html", ".htm", ".json", ".csv", ".md", ".txt", ".tsv", ".yaml", ".yml", ".log"}
_TOKEN = re.compile(r"[A-Za-z0-9_\-./]+")


@dataclass(frozen=True)
class Finding:
    """Something in an output folder that must not be published.

    Attributes
    ----------
    file : str
        Path relative to the scanned folder.
    location : str
        ``"line 12"``, ``"figure text 3"`` (words inside an embedded SVG figure), or for
        tables ``"table 'x' row 3 column 'n'"``.
    kind : {"identifier", "small count", "unreadable"}
    detail : str
        What was found (an identifier is named, so the evaluator can find it; the
        finding itself must not be published).
    """

    file: str
    location: str
    kind: Literal["identifier", "small count", "unreadable"]
    detail: str

    def __str__(self) -> str:
        return f"{self.file}: {self.location}: {self.kind}: {self.detail}"


def _small(v: Any, threshold: int, symbol: str) -> bool:
    if isinstance(v, bool) or v is None or _is_symbol(v, symbol):
        return False
    try:
        x = float(v)
    except (TypeError, ValueError):
        return False
    return math.isfinite(x) and 1 <= x <= threshold


#: units whose counts are not people: an estimate over authorities or months is not disclosive
NON_PERSON_UNITS = frozenset({"authorities", "months", "periods", "clusters", "studies"})


def _scan_json_tables(obj: Any, rel: str, threshold: int, symbol: str, found: list[Finding],
                      keys: Sequence[str] = ()) -> None:
    if isinstance(obj, dict):
        if obj.get("units") in NON_PERSON_UNITS:  # e.g. an Estimate whose n_treated counts authorities
            keys = ()
        for key in keys:
            if key in obj and _small(obj[key], threshold, symbol):
                found.append(Finding(rel, f"key {key!r}", "small count", f"unsuppressed count {obj[key]!r}"))
        # a table record with count columns is checked whether or not it claims to be disclosed
        if obj.get("disclosed") is True or ("count_columns" in obj and "data" in obj):
            cols = obj.get("count_columns") or []
            data = obj.get("data") or []
            tname = obj.get("name", "?")
            limit = int(obj.get("threshold", threshold))
            for i, rec in enumerate(data if isinstance(data, list) else []):
                if isinstance(rec, dict):
                    for c in cols:
                        if c in rec and _small(rec[c], limit, symbol):
                            found.append(Finding(rel, f"table {tname!r} row {i + 1} column {c!r}",
                                                 "small count", f"unsuppressed count {rec[c]!r}"))
        for v in obj.values():
            _scan_json_tables(v, rel, threshold, symbol, found, keys)
    elif isinstance(obj, list):
        for v in obj:
            _scan_json_tables(v, rel, threshold, symbol, found, keys)


def _scan_csv(path: Path, rel: str, patterns: Sequence[str], threshold: int, symbol: str,
              found: list[Finding]) -> None:
    try:
        df = pd.read_csv(path, dtype=str, keep_default_na=False)
    except Exception as exc:  # noqa: BLE001 - a malformed CSV is itself a finding
        found.append(Finding(rel, "file", "unreadable", f"could not read as CSV ({exc.__class__.__name__})"))
        return
    cols = [c for c in df.columns if any(fnmatch.fnmatch(str(c).lower(), p) for p in patterns)]
    for c in cols:
        for i, v in enumerate(df[c]):
            if _small(v, threshold, symbol):
                found.append(Finding(rel, f"line {i + 2} column {c!r}", "small count",
                                     f"unsuppressed count {v!r}"))


def scan_outputs(
    directory: str | Path,
    *,
    identifiers: Iterable[Any],
    count_fields: Sequence[str] = DEFAULT_COUNT_FIELDS,
    threshold: int = 5,
    symbol: str = "c",
    min_identifier_length: int = 4,
    json_count_keys: Sequence[str] = ("n_treated", "n_control"),
) -> list[Finding]:
    """Scan every file of an output folder for record-level identifiers and small counts.

    Parameters
    ----------
    directory : str or Path
        The folder (scanned recursively): ipynb, HTML, JSON, CSV, Markdown, text, YAML.
    identifiers : iterable
        Record-level identifiers from the input (child ids, UPNs ...).  Each is looked
        for as a whole token (so ``C1234`` does not match inside ``C12345``).
    count_fields : sequence of str
        Column-name patterns (``fnmatch``, case-insensitive) treated as counts in CSVs.
    threshold : int, default 5
        Counts from 1 to ``threshold`` are findings.
    symbol : str, default "c"
        The suppression symbol (never a finding).
    min_identifier_length : int, default 4
        Shorter identifiers are refused: they would match ordinary numbers and words.
    json_count_keys : sequence of str, default ("n_treated", "n_control")
        Keys of any JSON object whose value is a count of children (an estimate's
        sample sizes): 1..threshold there is a finding too.

    Returns
    -------
    list of Finding
        Empty when the folder is safe to publish.

    Raises
    ------
    InputError
        The folder does not exist, or an identifier is too short to search for.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> d = pathlib.Path(tempfile.mkdtemp())
    >>> _ = (d / "report.md").write_text("Child C000123 was referred")
    >>> [f.kind for f in scan_outputs(d, identifiers=["C000123"])]
    ['identifier']
    """
    root = Path(directory)
    if not root.is_dir():
        raise InputError(f"{str(root)!r} is not a folder", field="directory",
                         fix="pass the output folder of a run, e.g. outputs/<run>/<authority>")
    ids = {str(x).strip() for x in identifiers if x is not None and str(x).strip()}
    short = sorted(i for i in ids if len(i) < min_identifier_length)
    if short:
        raise InputError(
            f"{len(short)} identifier(s) shorter than {min_identifier_length} characters "
            f"(e.g. {short[0]!r}) would match ordinary numbers",
            field="identifiers",
            fix="pass the record-level identifiers as they appear in the input (child ids, "
            "UPNs), or lower min_identifier_length knowingly",
        )
    found: list[Finding] = []
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        rel = str(path.relative_to(root))
        suffix = path.suffix.lower()
        if suffix not in _TEXT_SUFFIXES:
            continue
        try:
            text = path.read_text(encoding="utf-8", errors="replace")
        except OSError as exc:
            found.append(Finding(rel, "file", "unreadable", str(exc)))
            continue
        if ids:
            # the words inside embedded SVG figures (base64, so invisible to a line scan) too
            lines = [(f"line {n}", line) for n, line in enumerate(text.splitlines(), start=1)]
            lines += [(f"figure text {i}", t) for i, t in enumerate(svg_texts(text), start=1)]
            for where, line in lines:
                for tok in _TOKEN.findall(line):
                    hits = {tok} if tok in ids else set()
                    # tokens like "C1.csv" or "id-C1" contain identifiers between punctuation
                    hits |= {p for p in re.split(r"[./]", tok) if p in ids}
                    hits |= {p for p in re.split(r"[.\-/]", tok) if p in ids}
                    for h in sorted(hits):
                        found.append(Finding(rel, where, "identifier", f"record-level identifier {h!r}"))
        if suffix in (".json", ".ipynb"):
            try:
                doc = json.loads(text)
            except json.JSONDecodeError:
                if suffix == ".json":
                    found.append(Finding(rel, "file", "unreadable", "not valid JSON"))
                continue
            _scan_json_tables(doc, rel, threshold, symbol, found, json_count_keys)
        elif suffix in (".csv", ".tsv"):
            if suffix == ".csv":
                _scan_csv(path, rel, count_fields, threshold, symbol, found)
    return found
