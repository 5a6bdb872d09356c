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
import html
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
from ehimpact.smallcounts import NON_PERSON_UNITS, is_small_count  # the one rule, re-exported

__all__ = [
    "NON_PERSON_UNITS",
    "is_small_count",
    "count_text",
    "safe_difference",
    "small_counts_in_text",
    "redact_text",
    "protect_results",
    "protect_balance",
    "PERSON_COUNT_KEYS",
    "PERSON_COUNT_GROUPS",
    "NON_PERSON_KEYS",
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


# ---------------------------------------------------------------------- the one small-count rule
#: units whose counts are not people: an estimate over authorities or months is not disclosive
_DIGITS = re.compile(r"\d{1,3}(?:,\d{3})+|\d+")


# ---------------------------------------------------------------------- counts in prose
_PLURALS = {"child": "children", "person": "people", "young person": "young people", "family": "families",
            "parent": "parents", "carer": "carers", "pupil": "pupils", "household": "households",
            "authority": "authorities", "month": "months", "episode": "episodes", "referral": "referrals"}


def _plural(noun: str) -> str:
    noun = noun.strip()
    for singular, plural in _PLURALS.items():
        if noun == singular or noun.endswith(" " + singular):
            return noun[: len(noun) - len(singular)] + plural
    return noun


def count_text(n: Any, noun: str, *, threshold: int = 5, symbol: str = "c", plural: str | None = None) -> str:
    """A count of people for a sentence, worded so that a count of 1 to ``threshold`` is not revealed.

    Wording (the choice, following DfE practice of suppressing rather than bounding):

    * 0 -> ``"no children"`` (a true zero is shown, as in DfE tables);
    * 1 to ``threshold`` -> ``"a small number (c) of children"``: the suppression symbol
      in brackets, so a reader of the report meets the same ``c`` as in its tables (whose
      note explains it) and the output scanner can tell it is suppressed.  "Fewer than 6"
      was not chosen: it reads as a number and invites arithmetic with other figures;
    * otherwise ``"1,022 children"`` (thousands separated).

    Counts of things that are not people (the noun's last word is one of
    :data:`NON_PERSON_UNITS`, e.g. ``"authorities"``, ``"months"``) are never suppressed.

    Parameters
    ----------
    n : int or str
        The count; a suppression symbol (``"c"`` ...) already in its place is worded as a
        small number.
    noun : str
        What is counted, as shown (``"children"``, ``"treated children"``,
        ``"comparison families"``).  A known singular (``child``, ``person``, ``family``,
        ``young person``, ``parent``, ``carer``) is put in the plural; the singular is never
        needed, because a count of 1 is always suppressed.
    threshold : int, default 5
        Counts from 1 to ``threshold`` are suppressed.
    symbol : str, default "c"
        The suppression symbol (``disclosure.symbol``).
    plural : str, optional
        The plural to use instead of the one derived from ``noun``.

    Returns
    -------
    str

    Raises
    ------
    InputError
        ``n`` is negative, fractional, missing or not a number.

    Examples
    --------
    >>> count_text(1022, "children"), count_text(3, "child"), count_text(0, "families")
    ('1,022 children', 'a small number (c) of children', 'no families')
    >>> count_text(3, "authorities")
    '3 authorities'
    """
    word = plural or _plural(noun)
    if isinstance(n, str) and _is_symbol(n, symbol):
        return f"a small number ({symbol}) of {word}"
    ok = isinstance(n, int | np.integer | float | np.floating) and not isinstance(n, bool | np.bool_)
    if ok:
        x = float(n)
        ok = math.isfinite(x) and x >= 0 and x == math.floor(x)
    if not ok:
        raise InputError(f"a count must be a whole number >= 0, got {n!r}", field=f"count of {word}",
                         fix="pass the number of people counted (an int), or the suppression symbol")
    v = int(n)
    if v == 0:
        return f"no {word}"
    last = word.split()[-1].lower() if word.split() else ""
    if last not in NON_PERSON_UNITS and is_small_count(v, threshold):
        return f"a small number ({symbol}) of {word}"
    return f"{v:,} {word}"


def safe_difference(total: Any, part: Any, *, threshold: int = 5) -> bool:
    """Whether ``total`` and ``part`` can both be published: True when it is **safe**.

    Publishing a total and a part of it (a cohort and its matched children; a region and
    the sum of its authorities) reveals their difference.  It is unsafe (False) when that
    difference is a count from 1 to ``threshold``.  A value already suppressed (a symbol
    such as ``"c"``) or missing cannot be differenced, so the pair is then safe.

    Parameters
    ----------
    total, part : int or str
        The two published counts (order does not matter).
    threshold : int, default 5

    Returns
    -------
    bool
        True: publish both.  False: suppress one of them (normally the part) or round.

    Examples
    --------
    >>> safe_difference(856, 830), safe_difference(856, 853), safe_difference("c", 853)
    (True, False, True)
    """
    def num(x: Any) -> int | None:
        if x is None or isinstance(x, bool | np.bool_):
            return None
        if isinstance(x, str):
            s = x.strip().replace(",", "")
            return int(float(s)) if re.fullmatch(r"\d+(?:\.0+)?", s) else None
        try:
            f = float(x)
        except (TypeError, ValueError):
            return None
        return int(f) if math.isfinite(f) and f == math.floor(f) else None

    a, b = num(total), num(part)
    if a is None or b is None:
        return True
    return not is_small_count(abs(a - b), threshold)


# ---------------------------------------------------------------------- counts of people in text
#: nouns that name people: a small number before one of these is a count of people
PERSON_NOUNS = frozenset({
    "children", "child", "people", "person", "persons", "families", "family", "parents", "parent",
    "carers", "carer", "pupils", "pupil", "boys", "girls", "mothers", "fathers", "siblings", "adults",
    "individuals", "households", "household", "infants", "babies", "teenagers", "adolescents",
    "learners", "students", "residents", "clients", "service-users", "participants",
})
#: words that, right after a number, mean people even with no noun after them ("5 treated")
PERSON_ADJECTIVES = frozenset({
    "treated", "supported", "comparison", "comparisons", "matched", "unmatched", "controls", "control",
    "assessed", "referred", "excluded", "dropped", "eligible", "focal", "trimmed", "untreated",
})
#: words that end the search: the number counts these, not people
_NON_PERSON_WORDS = frozenset(NON_PERSON_UNITS) | {
    "authority", "month", "period", "cluster", "indicator", "year", "week", "quarter", "day", "days",
    "hours", "percent", "percentage", "per", "points", "pp", "df", "sd", "sds", "steps", "step",
    "pitfalls", "designs", "covariates", "times", "draws", "lags", "bins", "estimates", "studies",
    "regions", "councils", "las", "areas", "sites", "decimal", "places", "levels", "categories",
    "outcomes", "measures", "tables", "figures", "sections", "items", "questions", "series",
}
_STOPWORDS = frozenset({
    "the", "a", "an", "in", "on", "at", "for", "with", "by", "from", "were", "was", "are", "is", "be",
    "had", "have", "has", "each", "this", "that", "these", "those", "which", "who", "it", "as", "if",
    "not", "no", "than", "per", "into", "over", "under", "within", "after", "before", "since", "up",
})
_JOINERS = frozenset({"and", "or", "of", "to", "plus", "vs", "versus", "&"})
_TOKENS = re.compile(
    r"(?P<num>(?<![\w£$€.,/\-−–])(?:\d{1,3}(?:,\d{3})+|\d+)(?![\w%/]|[.,:]\d))"
    r"|(?P<word>[^\W\d_][\w'’\-]*)"
    r"|(?P<stop>[.;:!?()\[\]{}|¶\n]|,(?=\s*[^\d\s]))"
    r"|(?P<eq>=)"
)


def _range_spans(text: str, threshold: int) -> list[tuple[int, int]]:
    """Where the text names the suppression rule itself ("1 to 5", "between 1 and 5")."""
    pat = re.compile(rf"\b1\s*(?:to|-|–|—|and)\s*{int(threshold)}\b")
    return [m.span() for m in pat.finditer(text)]


def small_counts_in_text(text: str, threshold: int = 5) -> list[tuple[int, int, int]]:
    """Counts of people from 1 to ``threshold`` written in a sentence.

    A whole number counts people when the words after it, up to the end of the clause,
    reach a noun for people (``"3 children"``, ``"4 comparison families"``, ``"251 of 1,008
    supported children"``, ``"5 treated and 4 comparison children"``) or, with no noun at
    all, start with a word that means people (``"5 treated"``, ``"2 supported"``).  A
    number whose words reach a unit that is not people first (``"30 treated and 18
    comparison months"``, ``"3 authorities"``, ``"4 weeks"``, ``"3 df"``) is not counted,
    and neither are decimals, percentages, money, negative numbers, dates, ordinals,
    headings (``"5. Implementation"``), ratios (``"1 in 5 children"``) or the rule's own
    wording (``"1 to 5"``).  ``n = 3``
    counts people unless a unit that is not people follows.

    Parameters
    ----------
    text : str
    threshold : int, default 5

    Returns
    -------
    list of (start, end, value)
        Character spans of the numbers, in order.

    Examples
    --------
    >>> [v for _, _, v in small_counts_in_text("5 treated and 4 comparison children; 30 months")]
    [5, 4]
    >>> small_counts_in_text("counts of 1 to 5 children are shown as c across 3 authorities")
    []
    """
    if not text or not re.search(r"\d", text):
        return []
    ranges = _range_spans(text, threshold)
    toks = [(m.lastgroup, m.group(), m.start(), m.end()) for m in _TOKENS.finditer(text)]
    out: list[tuple[int, int, int]] = []
    for i, (kind, tok, start, end) in enumerate(toks):
        if kind != "num":
            continue
        value = int(tok.replace(",", ""))
        if not 1 <= value <= threshold or any(a <= start < b for a, b in ranges):
            continue
        # "1 in 5 children" is a ratio, not a count
        if (i >= 2 and toks[i - 1][1].lower() == "in" and toks[i - 2][0] == "num") or (
                i + 2 < len(toks) and toks[i + 1][1].lower() == "in" and toks[i + 2][0] == "num"):
            continue
        n_equals = (i >= 2 and toks[i - 1][0] == "eq" and toks[i - 2][0] == "word"
                    and toks[i - 2][1].lower() in ("n", "n_treated", "n_control", "k_children"))
        if _counts_people(toks, i + 1, n_equals):
            out.append((start, end, value))
    return out


def _counts_people(toks: list[tuple[str | None, str, int, int]], j: int, default: bool) -> bool:
    first: str | None = None
    free = False
    prev = ""
    for kind, tok, _, _ in toks[j:j + 10]:
        if kind == "stop" or kind == "eq":
            break
        if kind == "num":
            prev = "num"
            continue
        w = tok.lower().replace("’", "'")
        if w.endswith("'s"):
            w = w[:-2]
        if w in PERSON_NOUNS:
            return True
        if w in _NON_PERSON_WORDS:
            return False
        if w in _JOINERS or (w in ("the", "these", "those", "them", "whom") and prev == "of"):
            prev = w
            continue
        if first is None:
            first = w
        if w in PERSON_ADJECTIVES:
            prev = w
            continue
        if not free and w not in _STOPWORDS:
            free = True
            prev = w
            continue
        break
    return default or (first in PERSON_ADJECTIVES)


def redact_text(text: str, *, threshold: int = 5, symbol: str = "c") -> str:
    """``text`` with every count of people from 1 to ``threshold`` replaced by ``symbol``.

    Uses :func:`small_counts_in_text`; ``"5 treated and 4 comparison children"`` becomes
    ``"c treated and c comparison children"``.
    """
    spans = small_counts_in_text(text, threshold)
    for start, end, _ in reversed(spans):
        text = text[:start] + symbol + text[end:]
    return text


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


# ---------------------------------------------------------------------- balance tables
_STAGES = ("before", "after", "unadjusted", "adjusted", "raw", "matched", "weighted")
_LEVEL_SPLIT = re.compile(r"\s*(?:=|: |\[)\s*")


def _stage(col: str) -> str | None:
    parts = str(col).lower().split("_")
    return parts[-1] if parts and parts[-1] in _STAGES else None


def _size_for(col: str, group_sizes: Mapping[str, Any]) -> Any:
    if col in group_sizes:
        return group_sizes[col]
    low = str(col).lower()
    hits = [k for k in group_sizes if re.search(rf"(?:^|_){re.escape(str(k).lower())}(?:_|$)", low)]
    if not hits:
        raise InputError(
            f"no group size for proportion column {col!r}",
            field="group_sizes",
            fix=f"give group_sizes a key for it: the column name itself or a part of it such as "
                f"'treated' or 'treated_before' (keys given: {', '.join(map(str, group_sizes)) or 'none'})",
        )
    return group_sizes[max(hits, key=len)]


def protect_balance(
    table: pd.DataFrame,
    *,
    group_sizes: Mapping[str, int],
    proportion_columns: Sequence[str],
    threshold: int = 5,
    symbol: str = "c",
    label_column: str | None = None,
    derived_columns: Sequence[str] | None = None,
    nested: Sequence[tuple[str, str]] | None = None,
) -> pd.DataFrame:
    """Suppress the proportions of a balance table that reveal a count of 1 to ``threshold``.

    A balance table shows, for each level of a binary or categorical covariate, the share
    of each group that has it.  A share ``p`` of a group of ``n`` children reveals the
    count ``round(p * n)``; it is suppressed (shown as ``symbol``) when that count, or for
    a binary covariate shown in one row the count without it (``n - round(p * n)``, from
    ``1 - p``), is from 1 to ``threshold``.  Secondary suppression then makes sure nothing
    hidden can be worked out:

    * **levels of one covariate** (rows named ``var=level``, ``var: level`` or
      ``var[level]``) add up to the group: where only one level of a column is hidden,
      the smallest other non-zero level is hidden too, and where every level is shown,
      a remainder of 1 to ``threshold`` (the levels not shown) hides the smallest level;
    * **nested groups** (the matched children are part of the cohort): where both
      ``mean_treated_before`` and ``mean_treated_after`` are shown, their counts may not
      differ by 1 to ``threshold`` (else the *after* cell is hidden);
    * **derived columns** (SMDs, variance ratios) are computed from the proportions, so
      in a row with a hidden proportion the derived cells of the same stage (``_before``
      / ``_after``) are hidden as well.

    Rows whose values in ``proportion_columns`` are not all between 0 and 1 (means of
    continuous covariates such as age) are left alone.  A group of ``threshold`` or fewer
    children, or a group whose size is itself suppressed (a symbol), has every proportion
    hidden.

    Parameters
    ----------
    table : DataFrame
        The balance table (``covariate`` plus columns of means/proportions, SMDs ...).
    group_sizes : dict
        Group size for each proportion column: a key equal to the column name, or a part
        of it between underscores (``{"treated_before": 856, "control_before": 1144,
        "treated_after": 830, "control_after": 667}`` or just ``{"treated": 856,
        "control": 1144}``); the longest matching key wins.
    proportion_columns : sequence of str
        The columns holding shares of a group (``mean_treated_before`` ...).
    threshold : int, default 5
    symbol : str, default "c"
    label_column : str, optional
        The column naming the covariate (level); default ``covariate`` when present, else
        the first text column, else the index.
    derived_columns : sequence of str, optional
        Columns computed from the proportions; default every other column except the label.
    nested : sequence of (str, str), optional
        ``(outer, inner)`` pairs of proportion columns where the inner group is part of the
        outer one; default the ``X_before``/``X_after`` pairs.  Pass ``()`` for none (for
        example when *after* means are weighted rather than matched).

    Returns
    -------
    DataFrame
        A copy with hidden cells replaced by ``symbol`` (those columns become object dtype).

    Raises
    ------
    InputError
        A proportion column is missing, or has no group size.

    Examples
    --------
    >>> t = pd.DataFrame({"covariate": ["ethnicity=black", "ethnicity=white", "fsm"],
    ...                   "mean_treated": [3 / 921, 918 / 921, 0.4]})
    >>> protect_balance(t, group_sizes={"treated": 921}, proportion_columns=["mean_treated"])[
    ...     "mean_treated"].tolist()
    ['c', 'c', 0.4]
    """
    if not isinstance(table, pd.DataFrame):
        raise InputError(f"expected a pandas DataFrame, got {type(table).__name__}", field="table",
                         fix="pass the balance table as a DataFrame")
    props = [c for c in proportion_columns]
    missing_cols = [c for c in props if c not in table.columns]
    if missing_cols:
        raise InputError(f"proportion column(s) not in the table: {', '.join(map(str, missing_cols))}",
                         field="proportion_columns", fix=f"use columns of the table: {', '.join(map(str, table.columns))}")
    if label_column is None:
        if "covariate" in table.columns:
            label_column = "covariate"
        else:
            text_cols = [c for c in table.columns if c not in props and table[c].dtype == object]
            label_column = text_cols[0] if text_cols else None
    labels = [str(x) for x in (table[label_column] if label_column is not None else table.index)]
    derived = list(derived_columns) if derived_columns is not None else [
        c for c in table.columns if c not in props and c != label_column]
    if nested is None:
        nested = [(c, c[: -len("_before")] + "_after") for c in props
                  if str(c).endswith("_before") and c[: -len("_before")] + "_after" in props]
    n_rows = len(table)
    sizes: dict[str, int | None] = {}
    for c in props:
        s = _size_for(c, group_sizes)
        sizes[c] = int(s) if isinstance(s, int | np.integer | float) and not isinstance(s, bool) \
            and math.isfinite(float(s)) else None
    hidden = {c: [False] * n_rows for c in props}
    counts: dict[str, list[int | None]] = {c: [None] * n_rows for c in props}
    cells = {c: table[c].tolist() for c in table.columns}  # plain lists: per-cell pandas access is slow
    rows_in: list[int] = []
    for r in range(n_rows):
        vals = [cells[c][r] for c in props]
        nums = []
        ok = True
        for v in vals:
            if _is_symbol(v, symbol) or _blank(v):
                continue
            try:
                x = float(v)
            except (TypeError, ValueError):
                ok = False
                break
            if not (0.0 <= x <= 1.0):
                ok = False
                break
            nums.append(x)
        if ok:
            rows_in.append(r)
    for c in props:
        n = sizes[c]
        for r in rows_in:
            v = cells[c][r]
            if _is_symbol(v, symbol):
                hidden[c][r] = True
                continue
            if _blank(v):
                continue
            if n is None or n <= threshold:
                hidden[c][r] = n is None or n > 0
                continue
            counts[c][r] = int(round(float(v) * n))

    # covariate groups: rows named var=level share a covariate
    groups: dict[str, list[int]] = {}
    for r in rows_in:
        parts = _LEVEL_SPLIT.split(labels[r], maxsplit=1)
        key = parts[0] if len(parts) == 2 else f"\0{r}"  # a single binary row is its own group
        groups.setdefault(key, []).append(r)

    def hide_smallest(c: str, rows: list[int]) -> bool:
        cand = [r for r in rows if not hidden[c][r] and counts[c][r] is not None]
        if not cand:
            return False
        nz = [r for r in cand if counts[c][r] > 0] or cand
        pick = min(nz, key=lambda r: (counts[c][r], r))
        hidden[c][pick] = True
        return True

    for c in props:  # primary
        n = sizes[c]
        for key, rows in groups.items():
            single = key.startswith("\0")
            for r in rows:
                k = counts[c][r]
                if k is None or hidden[c][r]:
                    continue
                if is_small_count(k, threshold) or (single and n is not None and is_small_count(n - k, threshold)):
                    hidden[c][r] = True
    for _ in range(4 * n_rows + 4):  # secondary, to a fixed point
        changed = False
        for c in props:
            n = sizes[c]
            for key, rows in groups.items():
                if key.startswith("\0") or n is None:
                    continue
                h = [r for r in rows if hidden[c][r]]
                if len(h) == 1:
                    changed |= hide_smallest(c, rows)
                elif not h and is_small_count(n - sum(counts[c][r] or 0 for r in rows), threshold):
                    changed |= hide_smallest(c, rows)
        for outer, inner in nested:
            for r in rows_in:
                if hidden[outer][r] or hidden[inner][r]:
                    continue
                a, b = counts[outer][r], counts[inner][r]
                if a is not None and b is not None and is_small_count(abs(a - b), threshold):
                    hidden[inner][r] = True
                    changed = True
        if not changed:
            break

    out = table.copy()
    for c in props:
        if any(hidden[c]):
            out[c] = pd.Series([symbol if hidden[c][r] else cells[c][r] for r in range(n_rows)],
                               index=table.index, dtype=object)
    for d in derived:
        st = _stage(d)
        new = list(cells[d])
        touched = False
        for r in range(n_rows):
            if any(hidden[c][r] and (st is None or _stage(c) in (st, None)) for c in props):
                if not _blank(new[r]):
                    new[r] = symbol
                    touched = True
        if touched:
            out[d] = pd.Series(new, index=table.index, dtype=object)
    return out


# ---------------------------------------------------------------------- results.json
#: keys whose whole-number values count people wherever they appear (outside a
#: non-person context such as an estimate whose ``units`` are authorities or months)
PERSON_COUNT_KEYS: frozenset[str] = frozenset({
    "n_treated", "n_control", "n_treated_input", "n_control_input", "n_input", "treated_matched",
    "controls_matched", "n_supported", "n_comparison", "n_children", "n_families", "n_people",
    "n_excluded", "n_dropped", "n_unmatched", "n_trimmed", "n_dropped_caliper", "open_episodes",
    "n_open_episodes", "treated_above_comparison_max", "comparison_below_treated_min",
    "children", "families", "n", "count",
})
#: keys whose value is a dict of counts of people by group (``{"treated": 3, "control": 0}``)
PERSON_COUNT_GROUPS: frozenset[str] = frozenset({"dropped_by_caliper", "trimmed", "excluded", "dropped",
                                                 "unmatched", "open_episodes"})
#: keys that are never counts of people (authorities, ranks, model sizes, settings)
NON_PERSON_KEYS: frozenset[str] = frozenset({
    "region_n", "region_rank", "region_comparators", "neighbours", "k", "q_df", "nobs", "n_terms",
    "n_periods", "n_pre", "n_post", "n_clusters", "n_units", "n_cells", "n_authorities", "n_months",
    "n_indicators", "n_obs", "periods", "draws", "seed", "threshold", "ratio", "lags", "leads",
    "ljung_box_lags", "hac_lags", "months", "months_in_panel", "year", "start_year", "duration",
    "event_time", "number", "reference", "reference_period", "df", "bootstrap", "anticipation",
})
#: record subtrees left exactly as they are (settings and provenance, not results)
_UNTOUCHED = frozenset({"config", "parameters", "versions", "data_sources", "data_fingerprint", "seed",
                        "schema", "created", "authority_code", "authority_name", "evaluation", "disclosure_log"})
#: sample-size keys of an estimate by group: totals and parts that must not differ by 1..threshold
_FAMILIES = {
    "treated": ("n_treated", "n_treated_input", "treated_matched", "n_input"),
    "control": ("n_control", "n_control_input", "controls_matched", "n_input"),
}
_BALANCE_COLS = re.compile(r"^(mean|prop|share|pct)_(treated|control|comparison|supported)(_.+)?$")


#: built-in designs whose estimates count authorities or months, not children
_PANEL_DESIGNS = frozenset({"did_2x2", "twfe", "event_study", "staggered_did", "its", "synthetic_control"})


def _child_designs() -> set[str]:
    """Design names whose estimates count authorities or months (not children).

    The built-in ones, plus any design registered in this process whose ``data_level`` is
    not ``"child"`` (read from the registry without importing any estimator module).
    """
    out = set(_PANEL_DESIGNS)
    try:
        from ehimpact.estimators import registry

        out |= {name for name, spec in getattr(registry, "_registry", {}).items()
                if getattr(spec, "data_level", "child") != "child"}
    except Exception:  # noqa: BLE001 - disclosure control must not depend on a plug-in loading
        pass
    return out


def _non_person_column(name: Any, panel_designs: set[str]) -> bool:
    low = str(name).lower().strip()
    words = set(re.split(r"[^a-z0-9]+", low))
    if words & (set(NON_PERSON_UNITS) | {"authority", "month", "rank", "year", "week", "quarter"}):
        return True
    if low in NON_PERSON_KEYS:
        return True
    first = re.split(r"[\s(:]+", low, maxsplit=1)[0]
    return first in panel_designs


class _Protector:
    """One pass of :func:`protect_results` over a record: the safe copy and what changed."""

    def __init__(self, threshold: int, symbol: str):
        self.t = int(threshold)
        self.sym = symbol
        self.actions: list[tuple[str, str]] = []
        self.panel_designs = _child_designs()
        self.primary_sizes: dict[str, Any] = {}
        self._balance_cache: dict[str, list[dict[str, Any]] | None] = {}

    def note(self, path: str, what: str) -> None:
        self.actions.append((path or "(top)", what))

    # -------------------------------------------------------------- values
    def text(self, s: str, path: str) -> str:
        new = redact_text(s, threshold=self.t, symbol=self.sym)
        if new != s:
            self.note(path, "count of people in text")
        return new

    def walk(self, obj: Any, path: str, person: bool, sizes: dict[str, Any] | None = None) -> Any:
        if isinstance(obj, str):
            return self.text(obj, path)
        if isinstance(obj, list):
            return [self.walk(v, f"{path}[{i}]", person, sizes) for i, v in enumerate(obj)]
        if not isinstance(obj, dict):
            return obj
        if isinstance(obj.get("units"), str):
            person = obj["units"] not in NON_PERSON_UNITS
        if isinstance(obj.get("data"), list) and ("columns" in obj or "count_columns" in obj
                                                   or obj.get("disclosed") is True):
            return self.table(obj, path, person)
        sizes = self.sizes(obj) or sizes
        out: dict[str, Any] = {}
        for key, v in obj.items():
            p = f"{path}.{key}" if path else str(key)
            if key in _UNTOUCHED and not path:
                out[key] = v
            elif key in NON_PERSON_KEYS:
                out[key] = v
            elif person and key in PERSON_COUNT_KEYS and is_small_count(v, self.t):
                out[key] = self.sym
                self.note(p, "count of people")
            elif person and key in PERSON_COUNT_GROUPS and isinstance(v, dict):
                sub = {}
                for k2, v2 in v.items():
                    if isinstance(v2, int | float) and is_small_count(v2, self.t) and k2 not in NON_PERSON_KEYS \
                            and k2 not in ("alpha", "rule"):
                        sub[k2] = self.sym
                        self.note(f"{p}.{k2}", "count of people")
                    else:
                        sub[k2] = self.walk(v2, f"{p}.{k2}", person, sizes)
                out[key] = sub
            elif key == "balance" and isinstance(v, list) and person and sizes:
                out[key] = self.balance_rows(v, sizes, p)
            elif isinstance(v, list) and v and all(isinstance(x, dict) for x in v) \
                    and any("observed" in x for x in v):
                out[key] = self.series(v, p)
            else:
                out[key] = self.walk(v, p, person, sizes)
        return out

    def sizes(self, est: dict[str, Any]) -> dict[str, Any]:
        """Group sizes for an estimate's balance table, from the estimate itself."""
        if "n_treated" not in est and "n_control" not in est:
            return {}
        d = est.get("diagnostics") if isinstance(est.get("diagnostics"), dict) else {}
        nt, nc = est.get("n_treated"), est.get("n_control")
        return {"treated_before": d.get("n_treated_input", nt), "control_before": d.get("n_control_input", nc),
                "treated_after": d.get("treated_matched", nt), "control_after": d.get("controls_matched", nc),
                "treated": nt, "control": nc, "comparison": nc}

    def balance_rows(self, rows: list[dict[str, Any]], sizes: dict[str, Any], path: str) -> list[dict[str, Any]]:
        # the same balance table sits in several places of a record (primary, diagnostics,
        # sections): protect each distinct one once
        key = json.dumps([rows, sizes], sort_keys=True, default=str)
        if key not in self._balance_cache:
            frame = pd.DataFrame(rows)
            props = [c for c in frame.columns if _BALANCE_COLS.match(str(c))]
            safe_rows = None
            if props and "covariate" in frame.columns:
                try:
                    safe_rows = protect_balance(frame, group_sizes=sizes, proportion_columns=props,
                                                threshold=self.t, symbol=self.sym,
                                                label_column="covariate").to_dict("records")
                except InputError:
                    safe_rows = None
            self._balance_cache[key] = safe_rows
        safe_rows = self._balance_cache[key]
        if safe_rows is None:
            return self.walk(rows, path, True)
        out = []
        for i, (orig, new) in enumerate(zip(rows, safe_rows, strict=True)):
            rec = {}
            for k, v in orig.items():
                nv = new.get(k, v)
                if isinstance(nv, str) and nv == self.sym and not (isinstance(v, str) and _is_symbol(v, self.sym)):
                    rec[k] = self.sym
                    self.note(f"{path}[{i}].{k}", "proportion revealing a count of people")
                else:
                    rec[k] = self.walk(v, f"{path}[{i}].{k}", True)
            out.append(rec)
        return out

    def series(self, rows: list[dict[str, Any]], path: str) -> list[dict[str, Any]]:
        """A per-period series: its observed counts go when any period is 1..threshold."""
        if any(is_small_count(r.get("observed"), self.t) for r in rows):
            self.note(path, "per-period observed counts removed (a period has 1 to "
                            f"{self.t}; the report does not show them)")
            return [{k: v for k, v in r.items() if k != "observed"} for r in rows]
        return rows

    # -------------------------------------------------------------- tables
    def table(self, rec: dict[str, Any], path: str, person: bool) -> dict[str, Any]:
        out = dict(rec)
        data = [dict(r) if isinstance(r, dict) else r for r in rec.get("data") or []]
        cols = list(rec.get("columns") or (list(data[0]) if data and isinstance(data[0], dict) else []))
        count_cols = [c for c in (rec.get("count_columns") or [])
                      if not _non_person_column(c, set())] if person else []
        name = rec.get("name", "?")
        tpath = f"{path}(table {name!r})"
        frame_cols = set(cols)
        props = [c for c in frame_cols if _BALANCE_COLS.match(str(c))]
        if props and "covariate" in frame_cols and self.primary_sizes and person:
            out["data"] = self.balance_rows(data, self.primary_sizes, f"{tpath}.data")
            return out
        label_col = cols[0] if cols else None
        changed_counts = False
        for i, row in enumerate(data):
            if not isinstance(row, dict):
                continue
            stat_row = person and any(isinstance(v, str) and v.strip().lower() in PERSON_COUNT_KEYS
                                      for k, v in row.items() if k == label_col)
            non_person_row = _row_counts_non_people(row.values())
            for k, v in list(row.items()):
                p = f"{tpath} row {i + 1} column {k!r}"
                if isinstance(v, str):
                    row[k] = self.text(v, p)
                elif non_person_row:
                    continue
                elif k in count_cols and is_small_count(v, self.t):
                    row[k] = self.sym
                    changed_counts = True
                    self.note(p, "count of people")
                elif stat_row and k != label_col and not _non_person_column(k, self.panel_designs) \
                        and is_small_count(v, self.t):
                    row[k] = self.sym
                    self.note(p, "count of people")
        if changed_counts:  # the table was not protected: protect its margins too
            try:
                safe, _ = disclose(pd.DataFrame(data), counts=count_cols, threshold=self.t, symbol=self.sym,
                                   totals=["Total", "total", "All", "England"], additive_counts=False,
                                   check_ranges=False, name=str(name))
                data = json.loads(json.dumps(safe.to_dict("records"), default=str))
            except InputError:
                pass
        out["data"] = data
        for key in ("name", "caption", "note"):
            if isinstance(out.get(key), str):
                out[key] = self.text(out[key], f"{tpath}.{key}")
        return out

    # -------------------------------------------------------------- differencing
    def differences(self, original: dict[str, Any], safe: dict[str, Any]) -> None:
        """Secondary suppression: no two published sample sizes of a group differ by 1..threshold."""
        entries: dict[str, list[tuple[list[Any], int]]] = {g: [] for g in _FAMILIES}

        def visit(o: Any, s: Any, trail: list[Any], person: bool) -> None:
            if isinstance(o, dict) and isinstance(s, dict):
                if isinstance(o.get("units"), str):
                    person = o["units"] not in NON_PERSON_UNITS
                if person and ("n_treated" in o or "n_control" in o):
                    for group, keys in _FAMILIES.items():
                        for holder, loc in ((o, s), (o.get("diagnostics"), s.get("diagnostics"))):
                            if not isinstance(holder, dict) or not isinstance(loc, dict):
                                continue
                            for key in keys:
                                v = holder.get(key)
                                if isinstance(v, int | float) and not isinstance(v, bool) and \
                                        not _is_symbol(loc.get(key), self.sym) and float(v) == int(v):
                                    entries[group].append(([*trail] + ([] if holder is o else ["diagnostics"]) + [key],
                                                           int(v)))
                for k, v in o.items():
                    if (k in _UNTOUCHED and not trail) or k in ("diagnostics",):
                        continue
                    if k in s:
                        visit(v, s[k], [*trail, k], person)
            elif isinstance(o, list) and isinstance(s, list):
                for i, (a, b) in enumerate(zip(o, s, strict=False)):
                    visit(a, b, [*trail, i], person)

        visit(original, safe, [], True)
        for group, items in entries.items():
            hidden_values: set[int] = set()
            while True:
                vals = sorted({v for _, v in items if v not in hidden_values}, reverse=True)
                pair = next(((a, b) for a in vals for b in vals if 1 <= a - b <= self.t), None)
                if pair is None:
                    break
                hidden_values.add(pair[1])
            for trail, v in items:
                if v in hidden_values:
                    loc: Any = safe
                    for step in trail[:-1]:
                        loc = loc[step]
                    if not _is_symbol(loc.get(trail[-1]), self.sym):
                        loc[trail[-1]] = self.sym
                        self.note(".".join(map(str, trail)),
                                  f"sample size of the {group} group suppressed: another published size "
                                  f"differs from it by 1 to {self.t}")


def _protect(record: Mapping[str, Any], threshold: int, symbol: str) -> tuple[dict[str, Any], list[tuple[str, str]]]:
    if not isinstance(record, Mapping):
        raise InputError(f"expected a results record (a dict), got {type(record).__name__}", field="record",
                         fix="pass the dict that is written to results.json")
    if not isinstance(threshold, int | np.integer) or isinstance(threshold, bool) or threshold < 1:
        raise InputError(f"threshold must be a whole number >= 1, got {threshold!r}", field="threshold",
                         fix="use 5 (the DfE convention)")
    if not isinstance(symbol, str) or not symbol.strip() or any(ch.isdigit() for ch in symbol):
        raise InputError(f"the suppression symbol must be text without digits, got {symbol!r}",
                         field="disclosure.symbol", fix='use "c" (the DfE convention)')
    safe = json.loads(json.dumps(record, default=str))
    actions: list[tuple[str, str]] = []
    # to a fixed point: a sample size suppressed for differencing hides its balance column next
    for _ in range(5):
        pr = _Protector(threshold, symbol)
        prim = safe.get("primary")
        if isinstance(prim, dict) and prim.get("units", "children") not in NON_PERSON_UNITS:
            pr.primary_sizes = pr.sizes(prim)
        new = pr.walk(safe, "", True)
        pr.differences(safe, new)
        if not pr.actions:
            break
        actions += pr.actions
        safe = new
    return safe, actions


def protect_results(record: Mapping[str, Any], *, threshold: int = 5, symbol: str = "c") -> dict[str, Any]:
    """Make a ``results.json`` record safe to publish: no count of people from 1 to ``threshold``.

    The record is copied (JSON round trip) and nothing else in it changes.  What it knows:

    * **Counts of people by key**, anywhere (top level, ``primary``, ``estimates``,
      ``diagnostics``, ``sections[*].estimates``, nested aggregations): the keys in
      :data:`PERSON_COUNT_KEYS` (``n_treated``, ``n_control``, ``n_treated_input``,
      ``treated_matched``, ``controls_matched``, ``n`` ...) and the group dicts in
      :data:`PERSON_COUNT_GROUPS` (``dropped_by_caliper: {treated, control}``,
      ``trimmed`` ...).  Inside an object whose ``units`` is one of
      :data:`NON_PERSON_UNITS` (an estimate over authorities or months) they are left
      alone, and so are the keys in :data:`NON_PERSON_KEYS` (``region_n``, ``k``,
      ``nobs`` ...) everywhere.
    * **Text**: every string (paragraphs, summaries, warnings, table cells) has its counts
      of people worded as the symbol (:func:`redact_text`).
    * **Tables** (``{"name", "columns", "data", "count_columns"}``): count columns
      (except columns of authorities, months, ranks ...), and rows labelled with a
      person-count key (``n_treated`` in a "statistic" column, except in the columns of
      designs over authorities or months); if a table's counts needed suppressing here it
      was never protected, so :func:`disclose` is run on it for its margins too.
    * **Balance tables** (``balance`` lists in estimates, and section tables with
      ``covariate`` and ``mean_treated_*`` columns): :func:`protect_balance` with the
      group sizes of the estimate (``n_treated_input`` before, ``treated_matched`` after).
    * **Per-period series** (lists of rows with ``observed``, e.g. an ITS counterfactual):
      if any period's observed count is 1 to ``threshold`` the observed values are
      removed (the model's fitted and counterfactual values stay).
    * **Differencing**: the sample sizes of each group across all estimates (cohort
      ``n_treated_input``, matched ``n_treated`` / ``treated_matched``, ``n_input``) may
      not differ by 1 to ``threshold``; where two do, the smaller is suppressed.

    ``config``, ``parameters``, ``versions``, ``data_sources``, ``disclosure_log`` and the
    record's identity fields are left as they are.

    Parameters
    ----------
    record : dict
        What ``Evaluation.results()`` returns (any JSON-able dict).
    threshold : int, default 5
    symbol : str, default "c"

    Returns
    -------
    dict
        The protected copy.  Applying it twice changes nothing more.

    Raises
    ------
    InputError
        ``record`` is not a dict, the threshold is not a whole number >= 1, or the symbol
        contains a digit.
    """
    return _protect(record, threshold, symbol)[0]


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
    return not _is_symbol(v, symbol) and is_small_count(v, threshold)


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


# ---------------------------------------------------------------------- reading outputs as a reader sees them
_BLOCK_TAGS = frozenset({"p", "div", "li", "ul", "ol", "h1", "h2", "h3", "h4", "h5", "h6", "br", "hr", "table",
                         "thead", "tbody", "tr", "td", "th", "caption", "pre", "blockquote", "section",
                         "article", "header", "footer", "figure", "figcaption", "dt", "dd", "dl", "title",
                         "body", "html", "head", "summary", "details", "img", "svg"})


class _HTMLReader:
    """Prose blocks and tables of an HTML page (the standard library parser; no lxml needed)."""

    def __init__(self, text: str):
        from html.parser import HTMLParser

        self.blocks: list[str] = []
        self.tables: list[dict[str, Any]] = []
        self.images: list[str] = []  # alt texts are read as prose; sources are checked for PNGs
        reader = self
        stack: list[dict[str, Any]] = []  # open tables (tables can nest)
        buf: list[str] = []
        skip = [0]

        def flush() -> None:
            s = re.sub(r"\s+", " ", "".join(buf)).strip()
            buf.clear()
            if s:
                if stack and stack[-1]["cell"] is not None:
                    stack[-1]["cell"].append(s)
                elif stack and stack[-1]["caption"] is not None:
                    stack[-1]["caption"].append(s)
                else:
                    reader.blocks.append(s)

        class P(HTMLParser):
            def handle_starttag(self, tag, attrs):
                a = dict(attrs)
                if tag in ("style", "script"):
                    skip[0] += 1
                    return
                if tag in _BLOCK_TAGS:
                    flush()
                if tag == "img":
                    if a.get("alt"):
                        reader.blocks.append(a["alt"])
                    reader.images.append(a.get("src") or "")
                elif tag == "table":
                    stack.append({"rows": [], "row": None, "cell": None, "caption": None, "header": []})
                elif stack and tag == "tr":
                    stack[-1]["row"] = []
                elif stack and tag in ("td", "th"):
                    stack[-1]["cell"] = []
                    stack[-1]["is_th"] = tag == "th"
                elif stack and tag == "caption":
                    stack[-1]["caption"] = []

            def handle_endtag(self, tag):
                if tag in ("style", "script"):
                    skip[0] = max(0, skip[0] - 1)
                    return
                if tag in _BLOCK_TAGS:
                    flush()
                if not stack:
                    return
                t = stack[-1]
                if tag in ("td", "th") and t["cell"] is not None:
                    if t["row"] is None:
                        t["row"] = []
                    t["row"].append((" ".join(t["cell"]), t.get("is_th", False)))
                    t["cell"] = None
                elif tag == "tr" and t["row"] is not None:
                    t["rows"].append(t["row"])
                    t["row"] = None
                elif tag == "caption" and t["caption"] is not None:
                    reader.blocks.append(" ".join(t["caption"]))
                    t["caption"] = None
                elif tag == "table":
                    reader.tables.append(stack.pop())

            def handle_data(self, data):
                if not skip[0]:
                    buf.append(data)

        p = P(convert_charrefs=True)
        p.feed(text)
        p.close()
        flush()
        while stack:
            reader.tables.append(stack.pop())


_COUNT_HEADER_WORDS = frozenset({"n", "count", "counts", "number", "children", "child", "families", "family",
                                 "people", "pupils", "supported", "comparison", "treated", "matched",
                                 "referrals", "assessed", "n_treated", "n_control"})
_NOT_COUNT_HEADER_WORDS = frozenset({"mean", "smd", "ratio", "rate", "share", "pct", "percent", "proportion",
                                     "estimate", "se", "ci", "lower", "upper", "p", "pvalue", "weight", "cost",
                                     "value", "effect", "rank", "code", "id", "age", "gamma", "difference",
                                     "change", "per", "npv", "bcr", "£", "%", "score"})


def _header_is_count(header: str, panel_designs: set[str]) -> bool:
    low = str(header).lower().strip()
    if not low or _non_person_column(low, panel_designs):
        return False
    words = set(re.split(r"[^a-z0-9£%]+", low.replace("_", " "))) - {""}
    if words & _NOT_COUNT_HEADER_WORDS:
        return False
    if fnmatch.fnmatch(low.replace(" ", "_"), "n_*") or low in PERSON_COUNT_KEYS:
        return True
    return bool(words & _COUNT_HEADER_WORDS)


def _label_is_count(label: str) -> bool:
    """A row label saying the row holds counts of people ("n_treated", "children supported").

    Only labels made of person words (``"treated children"``, ``"children supported"``) or
    sample-size keys count: ``"Children looked after"`` labels a category, whose row also
    holds costs and quantities.
    """
    low = str(label).lower().strip()
    if low in PERSON_COUNT_KEYS or low in ("n treated", "n control", "n comparison", "sample size"):
        return True
    if low.startswith(("number of ", "n of ", "count of ")):
        low = low.split(" of ", 1)[1]
    words = set(re.split(r"[^a-z]+", low)) - {""}
    return bool(words & PERSON_NOUNS) and words <= (PERSON_NOUNS | PERSON_ADJECTIVES | {"in", "the", "cohort"})


_UNIT_WORDS = frozenset(NON_PERSON_UNITS) | {"authority", "month", "period", "cluster", "indicator", "year",
                                              "week", "quarter", "authority-months", "months of data"}


def _row_counts_non_people(cells: Iterable[Any]) -> bool:
    """Whether a table row names a unit that is not people for its counts (a cell "authorities")."""
    return any(isinstance(c, str) and c.strip().lower() in _UNIT_WORDS for c in cells)


def _scan_html_table(table: dict[str, Any], label: str, rel: str, threshold: int, symbol: str,
                     panel_designs: set[str], found: list[Finding]) -> None:
    rows = table["rows"]
    if not rows:
        return
    header_rows = 0
    while header_rows < len(rows) and all(is_th for _, is_th in rows[header_rows]):
        header_rows += 1
    headers: list[str] = []
    for r in rows[:header_rows]:  # the last header row names the columns; earlier ones span
        headers = [h for h, _ in r]
    body = rows[header_rows:]
    width = max((len(r) for r in body), default=0)
    if len(headers) < width:  # an index column without a header cell
        headers = [""] * (width - len(headers)) + headers
    count_cols = {j for j, h in enumerate(headers) if _header_is_count(h, panel_designs)}
    for i, row in enumerate(body, start=1):
        cells = [c for c, _ in row]
        row_label = next((c for c in cells if c and not re.fullmatch(r"[\d.,\s%£c-]*", c)), "")
        counting_row = _label_is_count(row_label)
        # a row that says its counts are of authorities or months ("Counted in: authorities")
        non_person_row = _row_counts_non_people(cells)
        for j, cell in enumerate(cells):
            head = headers[j] if j < len(headers) else ""
            where = f"{label} row {i} column {head!r}" if head else f"{label} row {i} cell {j + 1}"
            if _is_symbol(cell, symbol):
                continue
            # a cell written with decimals ("1.000") is a mean or share, never a count a report prints
            shown_as_count = "." not in cell.strip()
            if not non_person_row and shown_as_count and is_small_count(cell, threshold) and (j in count_cols or (
                    counting_row and cell != row_label and not _non_person_column(head, panel_designs))):
                found.append(Finding(rel, where, "small count", f"unsuppressed count {cell.strip()!r}"))
                continue
            for _, _, v in small_counts_in_text(cell, threshold):
                found.append(Finding(rel, where, "small count", f"count of people in text: {v} ..."))


def _scan_prose(blocks: Iterable[tuple[str, str]], rel: str, threshold: int, found: list[Finding]) -> None:
    for where, text in blocks:
        for start, end, _v in small_counts_in_text(text, threshold):
            context = text[max(0, start - 30):end + 40].replace("\n", " ")
            found.append(Finding(rel, where, "small count", f"count of people in text: {context!r}"))


def _scan_html(text: str, rel: str, prefix: str, threshold: int, symbol: str, panel_designs: set[str],
               found: list[Finding], notes: list[str], sizes: Mapping[str, int] | None = None) -> None:
    page = _HTMLReader(text)
    _scan_prose(((f"{prefix}text {k}", b) for k, b in enumerate(page.blocks, start=1)), rel, threshold, found)
    for k, tab in enumerate(page.tables, start=1):
        _scan_html_table(tab, f"{prefix}table {k}", rel, threshold, symbol, panel_designs, found)
        if sizes:
            _scan_balance_table(tab, f"{prefix}table {k}", rel, threshold, symbol, sizes, found)
    _scan_prose(((f"{prefix}figure text {k}", t) for k, t in enumerate(svg_texts(text), start=1)), rel,
                threshold, found)
    n_png = len(re.findall(r"data:image/png;base64,", text))
    if n_png:
        notes.append(_png_note(rel, n_png))


def _group_sizes(folder: Path) -> dict[str, int]:
    """The headline's published group sizes from the ``results.json`` beside a report (for balance tables)."""
    f = folder / "results.json"
    try:
        prim = json.loads(f.read_text(encoding="utf-8")).get("primary") or {}
    except (OSError, ValueError, AttributeError):
        return {}
    if not isinstance(prim, dict) or prim.get("units", "children") in NON_PERSON_UNITS:
        return {}
    d = prim.get("diagnostics") if isinstance(prim.get("diagnostics"), dict) else {}
    raw = {"treated_before": d.get("n_treated_input"), "control_before": d.get("n_control_input"),
           "treated_after": d.get("treated_matched", prim.get("n_treated")),
           "control_after": d.get("controls_matched", prim.get("n_control"))}
    return {k: int(v) for k, v in raw.items() if _num_count(v) is not None}


def _num_count(v: Any) -> int | None:
    if isinstance(v, bool) or not isinstance(v, int | float) or not math.isfinite(float(v)) or v != int(v):
        return None
    return int(v)


_GROUP_WORDS = {"treated": ("supported", "treated"), "control": ("comparison", "control")}


def _scan_balance_table(table: dict[str, Any], label: str, rel: str, threshold: int, symbol: str,
                        sizes: Mapping[str, int], found: list[Finding]) -> None:
    """A balance table's shares times the published group sizes must not give a count of 1..threshold."""
    rows = table["rows"]
    if len(rows) < 2:
        return
    headers = [h for h, _ in rows[0]]
    cols: dict[int, int] = {}
    for j, h in enumerate(headers):
        low = h.lower()
        if any(w in low for w in ("smd", "std", "difference", "ratio", "variance")):
            continue
        stage = "before" if "before" in low else ("after" if "after" in low else None)
        group = next((g for g, words in _GROUP_WORDS.items() if any(w in low for w in words)), None)
        if stage and group and f"{group}_{stage}" in sizes:
            cols[j] = sizes[f"{group}_{stage}"]
    if not cols:
        return
    for i, row in enumerate(rows[1:], start=1):
        cells = [c for c, _ in row]
        vals: dict[int, float] = {}
        ok = True
        for j in cols:
            if j >= len(cells) or _is_symbol(cells[j], symbol) or not cells[j].strip():
                continue
            try:
                x = float(cells[j].replace(",", ""))
            except ValueError:
                ok = False
                break
            if not 0.0 <= x <= 1.0:
                ok = False
                break
            vals[j] = x
        if not ok:
            continue
        name = cells[0] if cells else ""
        single = len(_LEVEL_SPLIT.split(name, maxsplit=1)) < 2
        for j, x in vals.items():
            n = cols[j]
            k = int(round(x * n))
            if is_small_count(k, threshold) or (single and is_small_count(n - k, threshold)):
                found.append(Finding(rel, f"{label} row {i} column {headers[j]!r}", "small count",
                                     f"share of a group of {n:,} that gives a count of 1 to {threshold}"))


def _png_note(rel: str, n: int) -> str:
    return (f"{rel}: {n} PNG image(s) not read for small counts: no OCR is installed (figures are "
            "written as SVG, whose text is read)")


def _scan_markdown(text: str, rel: str, prefix: str, threshold: int, symbol: str, panel_designs: set[str],
                   found: list[Finding], notes: list[str], sizes: Mapping[str, int] | None = None) -> None:
    if "<" in text and re.search(r"<(table|p|div|img|br)\b", text):
        _scan_html(text, rel, prefix, threshold, symbol, panel_designs, found, notes, sizes)
        return
    lines = text.splitlines()
    blocks, cur, start = [], [], 1
    for n, line in enumerate([*lines, ""], start=1):
        if line.strip() and not line.lstrip().startswith("|"):
            if not cur:
                start = n
            cur.append(line)
            continue
        if cur:
            blocks.append((f"{prefix}line {start}", " ".join(cur)))
            cur = []
        if line.lstrip().startswith("|"):  # a Markdown table row: cells one by one
            for c, cell in enumerate(line.strip().strip("|").split("|"), start=1):
                blocks.append((f"{prefix}line {n} cell {c}", cell))
    _scan_prose(blocks, rel, threshold, found)


def _scan_notebook(doc: Any, rel: str, threshold: int, symbol: str, panel_designs: set[str],
                   found: list[Finding], notes: list[str], sizes: Mapping[str, int] | None = None) -> None:
    def join(x: Any) -> str:
        return "".join(x) if isinstance(x, list) else str(x or "")

    for c, cell in enumerate(doc.get("cells") or [], start=1):
        if not isinstance(cell, dict):
            continue
        if cell.get("cell_type") == "markdown":
            _scan_markdown(join(cell.get("source")), rel, f"cell {c} ", threshold, symbol, panel_designs, found, notes)
        for o, out in enumerate(cell.get("outputs") or [], start=1):
            prefix = f"cell {c} output {o} "
            if out.get("output_type") == "stream":
                _scan_markdown(join(out.get("text")), rel, prefix, threshold, symbol, panel_designs, found, notes)
                continue
            data = out.get("data") or {}
            if "text/html" in data:
                _scan_html(join(data["text/html"]), rel, prefix, threshold, symbol, panel_designs, found, notes,
                           sizes)
            elif "text/markdown" in data:
                _scan_markdown(join(data["text/markdown"]), rel, prefix, threshold, symbol, panel_designs, found,
                               notes)
            elif "text/plain" in data:
                _scan_markdown(join(data["text/plain"]), rel, prefix, threshold, symbol, panel_designs, found,
                               notes)
            if "image/svg+xml" in data:
                svg = join(data["image/svg+xml"])
                texts = [html.unescape(re.sub(r"<[^>]+>", "", t))
                         for t in re.findall(r"<text\b[^>]*>(.*?)</text>", svg, re.DOTALL)]
                _scan_prose(((f"{prefix}figure text {k}", t) for k, t in enumerate(texts, start=1)), rel,
                            threshold, found)
            if "image/png" in data:
                notes.append(_png_note(f"{rel} {prefix.strip()}", 1))


def _scan_results_json(doc: Any, rel: str, threshold: int, symbol: str, found: list[Finding]) -> None:
    """Every field of a JSON output, as :func:`protect_results` defines it: what it would change is a finding."""
    if isinstance(doc, list):
        doc = {"items": doc}
    if not isinstance(doc, dict):
        return
    original = doc
    _, actions = _protect(doc, threshold, symbol)
    for path, what in actions:
        loc = path
        m = re.match(r"^(?P<pre>.*?)\(table (?P<name>'[^']*'|\"[^\"]*\")\) row (?P<rest>.*)$", path)
        if m:
            loc = f"table {m.group('name')} row {m.group('rest')}"
        elif what == "count of people":
            loc = f"key {path.rsplit('.', 1)[-1]!r} at {path}"
        value = _value_at(original, path)
        detail = f"unsuppressed count {value!r}" if is_small_count(value, threshold) else what
        found.append(Finding(rel, loc, "small count", detail))


def _value_at(doc: Any, path: str) -> Any:
    m = re.match(r"^(?P<pre>.*?)\(table .*\) row (?P<row>\d+) column '(?P<col>[^']*)'$", path)
    try:
        if m:
            tab = _value_at(doc, m.group("pre"))
            return tab["data"][int(m.group("row")) - 1][m.group("col")]
        cur = doc
        for part in re.findall(r"[^.\[\]]+|\[\d+\]", path):
            cur = cur[int(part[1:-1])] if part.startswith("[") else cur[part]
        return cur
    except (KeyError, IndexError, TypeError, ValueError):
        return None


def _scan_csv(path: Path, rel: str, patterns: Sequence[str], threshold: int, symbol: str,
              found: list[Finding], panel_designs: set[str] | None = None, sep: str = ",") -> None:
    try:
        df = pd.read_csv(path, dtype=str, keep_default_na=False, sep=sep)
    except Exception as exc:  # noqa: BLE001 - a malformed CSV is itself a finding
        found.append(Finding(rel, "file", "unreadable", f"could not read as CSV ({exc.__class__.__name__})"))
        return
    panel = panel_designs if panel_designs is not None else set()
    cols = [c for c in df.columns if any(fnmatch.fnmatch(str(c).lower(), p) for p in patterns)
            and not _non_person_column(c, panel)]
    for c in cols:
        for i, v in enumerate(df[c]):
            if _small(v, threshold, symbol):
                found.append(Finding(rel, f"line {i + 2} column {c!r}", "small count",
                                     f"unsuppressed count {v!r}"))
    for c in df.columns:
        if c in cols:
            continue
        for i, v in enumerate(df[c]):
            if isinstance(v, str) and re.search(r"[A-Za-z]", v):
                for _, _, n in small_counts_in_text(v, threshold):
                    found.append(Finding(rel, f"line {i + 2} column {c!r}", "small count",
                                         f"count of people in text: {n} ..."))


def _identifier_set(identifiers: Iterable[Any]) -> set[str]:
    """``{str(x).strip() for x in identifiers if x is not None and str(x).strip()}`` in one pass of
    builtins (the million ids of a large authority: 2 s -> 0.3 s)."""
    from functools import partial
    from operator import is_not

    ids = set(map(str.strip, map(str, filter(partial(is_not, None), identifiers))))
    ids.discard("")
    return ids


def scan_outputs(
    directory: str | Path,
    *,
    identifiers: Iterable[Any],
    count_fields: Sequence[str] = DEFAULT_COUNT_FIELDS,
    threshold: int = 5,
    symbol: str = "c",
    min_identifier_length: int = 4,
    json_count_keys: Sequence[str] = ("n_treated", "n_control"),
    notes: list[str] | None = None,
) -> list[Finding]:
    """Scan every file of an output folder for record-level identifiers and counts of 1 to ``threshold``.

    What is read, and how a count of people is told from other numbers:

    * **HTML** (and the HTML outputs of an ipynb): prose, read sentence by sentence with
      :func:`small_counts_in_text` ("5 treated", "4 comparison children", "3 children"),
      image ``alt`` texts and table captions too; **tables**, where a column whose header
      names a count (``n``, ``n_*``, ``count``, ``children``, ``supported``, ``comparison``
      ...) or a row whose label does (``n_treated``, ``children supported``) holds counts,
      and every cell's text is read as prose; columns of authorities, months, indicators,
      ranks and of designs over authorities or months (``did_2x2``, ``its`` ...) are not
      counts of people;
    * **SVG figures** embedded in HTML or ipynb: the words of their ``<text>`` elements, as
      prose (a tick label ``5`` is no finding; a legend ``n = 5`` or ``5 children`` is);
    * **PNG images** are not read (no OCR is installed): each is recorded in ``notes``;
    * **ipynb**: Markdown cells, stream outputs and every output as above;
    * **JSON**: every field as :func:`protect_results` defines it (whatever it would
      suppress is a finding), plus the disclosed-table convention above;
    * **CSV/TSV**: columns named like counts (``count_fields``), and prose in text cells;
    * **Markdown/text**: prose.  YAML and logs are searched for identifiers only.

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
        Kept for compatibility: JSON keys that count people are those of
        :data:`PERSON_COUNT_KEYS`, which include these.
    notes : list of str, optional
        If given, what could not be checked (PNG images without OCR) is appended to it.

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
    ids = _identifier_set(identifiers)
    short = sorted(i for i in ids if len(i) < min_identifier_length)
    if short:
        raise InputError(
            f"{len(short)} identifier(s) shorter than {min_identifier_length} characters "
            f"(e.g. {short[0]!r}) would match ordinary numbers",
            field="identifiers",
            fix="pass the record-level identifiers as they appear in the input (child ids, "
            "UPNs), or lower min_identifier_length knowingly",
        )
    extra_keys = [k for k in json_count_keys if k not in PERSON_COUNT_KEYS]
    panel_designs = _child_designs()
    notes = notes if notes is not None else []
    found: list[Finding] = []
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        rel = str(path.relative_to(root))
        suffix = path.suffix.lower()
        if suffix == ".png":
            notes.append(_png_note(rel, 1))
            continue
        if suffix not in _TEXT_SUFFIXES and suffix != ".svg":
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
                found.append(Finding(rel, "file", "unreadable", f"not valid {suffix[1:].upper()}"))
                continue
            if suffix == ".ipynb" and isinstance(doc, dict) and "cells" in doc:
                _scan_notebook(doc, rel, threshold, symbol, panel_designs, found, notes,
                               _group_sizes(path.parent))
            else:
                _scan_results_json(doc, rel, threshold, symbol, found)
                if extra_keys:
                    _scan_json_tables(doc, rel, threshold, symbol, found, extra_keys)
        elif suffix in (".html", ".htm"):
            _scan_html(text, rel, "", threshold, symbol, panel_designs, found, notes, _group_sizes(path.parent))
        elif suffix == ".svg":
            texts = [html.unescape(re.sub(r"<[^>]+>", "", t))
                     for t in re.findall(r"<text\b[^>]*>(.*?)</text>", text, re.DOTALL)]
            _scan_prose(((f"figure text {k}", t) for k, t in enumerate(texts, start=1)), rel, threshold, found)
        elif suffix in (".csv", ".tsv"):
            _scan_csv(path, rel, count_fields, threshold, symbol, found, panel_designs,
                      sep="\t" if suffix == ".tsv" else ",")
        elif suffix in (".md", ".txt"):
            _scan_markdown(text, rel, "", threshold, symbol, panel_designs, found, notes)
    return found
