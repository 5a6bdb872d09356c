"""Outcome derivation: link early-help episodes to statutory events by child id.

The rules, one by one (each is a field of :class:`OutcomeRules`, set in the config
under ``evaluation.data``; ``docs/DATA_CONTRACT.md`` §5 says the same in words):

1. **Index date** (start of follow-up).  A supported child's early-help episode
   closure date (``end_date``).
2. **Window start** (``window_start``).  By default (``"on_index_date"``) an event
   counts for an outcome with an ``N``-month window when
   ``index_date <= event_date <= index_date + N calendar months``
   (``pandas.DateOffset(months=N)``): an event *on* the index date counts.  A
   referral to children's social care on the day early help closes (a "step up")
   is exactly what the service tries to prevent, and such step-ups are common, so
   leaving them out makes supported children look better than they did.
   ``"after_index_date"`` keeps the older strict rule
   ``index_date < event_date <= index_date + N months``.
3. **Comparison children's index date** (``comparison_index``).  Comparison
   children (assessed but not supported) have no episode to close.  By default
   (``"referral_plus_median"``) their index date is their ``referral_date`` plus the
   median length of the supported episodes of the same authority, measured from
   referral to closure (``end_date - referral_date``, whole days, halves to even):
   the date they would have closed had they been supported.  Referral dates are
   recorded for every child in both groups, so the follow-up of both groups starts
   the same typical time after referral, and any need that arises during a typical
   episode is counted in neither group's follow-up.  ``"assessment_plus_median"``
   uses the assessment date plus the median ``end_date - assessment_date`` instead
   (for services whose clock starts at assessment); a comparison child with no
   assessment date falls back to the referral rule.
4. **Extract date** (``extract_date``).  The date the data were extracted: the
   ``data.extract_date`` of the config, else the latest CIN census
   ``ReferenceDate``, else the latest date found in the files.  When
   ``index_date + N months`` falls after it, the child's ``N``-month outcome is
   **unobserved**: it is missing (not 0) and the child is left out of that
   outcome's analysis; :func:`follow_up_summary` counts such children per outcome.
5. **Open episodes.**  A supported episode with no end date at the extract has no
   index date; it is flagged ``open_episode`` and its outcomes are missing (left
   out of every outcome analysis), and counted.
6. **Step-ups and step-downs** (step 5).  ``step_up``: a social-care referral from
   the start of early help to ``N`` months after closure; ``step_up_same_day``: a
   supported child referred to social care on the day early help closed;
   ``step_down``: early help starting soon after a social-care episode closed.
7. **Excluded records** (``max_excluded_share``, default 2%).  The readers exclude
   bad records and count them by reason; when the excluded share of a source or of
   the cohort passes this share the read stops (:func:`ehimpact.data.read_statutory`).

=====================  =========================================  ================
column                 event                                      window (months)
=====================  =========================================  ================
``reref_eh_12m``       ``eh_referral`` (local export)             12
``csc_referral_12m``   ``csc_referral`` (CIN CINreferralDate)     12
``s47_12m``            ``s47`` (CIN S47ActualStartDate)           12
``cpp_12m``            ``cpp_start`` (CIN CPPstartDate)           12
``cla_24m``            ``cla_start`` (SSDA903 DECOM, RNE = S)     24
=====================  =========================================  ================

Extra measures (:func:`derive_outcomes`): referral to social care within any ``N``
months of closure, first and repeat child protection plans, step-up and step-down.
Rate measures over referral and plan tables: :func:`rereferrals` (DfE: a referral
within 12 months of a previous referral) and :func:`repeat_plans` (a plan for a
child who had **ever** had one before; CIN table D3, former NI 65).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from ehimpact.errors import InputError

__all__ = [
    "reach_measures",
    "OUTCOME_WINDOWS",
    "WINDOW_STARTS",
    "COMPARISON_INDEXES",
    "OutcomeRules",
    "index_dates",
    "flag_within",
    "derive_flags",
    "derive_outcomes",
    "follow_up_summary",
    "rereferrals",
    "repeat_plans",
]

#: DATA_CONTRACT outcome column -> (event_type, months)
OUTCOME_WINDOWS: dict[str, tuple[str, int]] = {
    "reref_eh_12m": ("eh_referral", 12),
    "csc_referral_12m": ("csc_referral", 12),
    "s47_12m": ("s47", 12),
    "cpp_12m": ("cpp_start", 12),
    "cla_24m": ("cla_start", 24),
}

WINDOW_STARTS = ("on_index_date", "after_index_date")
COMPARISON_INDEXES = ("referral_plus_median", "assessment_plus_median")


@dataclass(frozen=True)
class OutcomeRules:
    """How outcomes are derived from events (the module docstring states each rule).

    Parameters
    ----------
    window_start : {"on_index_date", "after_index_date"}, default "on_index_date"
        Whether an event on the index date counts (rule 2).
    comparison_index : {"referral_plus_median", "assessment_plus_median"}
        Comparison children's index date (rule 3).
    extract_date : date, optional
        Data extract date (rule 4); ``None``: every window is taken as complete.
    max_excluded_share : float, default 0.02
        Largest share of a source's records (or of the cohort) that may be excluded
        before a read stops (rule 7).

    Examples
    --------
    >>> OutcomeRules().inclusive_start
    True
    >>> OutcomeRules(window_start="after_index_date", extract_date="2024-03-31").extract_date
    Timestamp('2024-03-31 00:00:00')
    """

    window_start: str = "on_index_date"
    comparison_index: str = "referral_plus_median"
    extract_date: pd.Timestamp | None = None
    max_excluded_share: float = 0.02

    def __post_init__(self) -> None:
        if self.window_start not in WINDOW_STARTS:
            raise InputError(f"window_start must be one of {', '.join(WINDOW_STARTS)}, got {self.window_start!r}",
                             field="data.window_start", fix="use on_index_date (the default) or after_index_date")
        if self.comparison_index not in COMPARISON_INDEXES:
            raise InputError(
                f"comparison_index must be one of {', '.join(COMPARISON_INDEXES)}, got {self.comparison_index!r}",
                field="data.comparison_index", fix="use referral_plus_median (the default) or assessment_plus_median")
        share = self.max_excluded_share
        if isinstance(share, bool) or not isinstance(share, int | float) or not 0 <= share <= 1:
            raise InputError(f"max_excluded_share must be a share from 0 to 1, got {share!r}",
                             field="data.max_excluded_share", fix="e.g. 0.02 (2%)")
        if self.extract_date is not None:
            try:
                value = self.extract_date
                if isinstance(value, str):  # ISO only: "31st March" must not become this year's
                    value = pd.to_datetime(value.strip(), format="ISO8601")
                when = pd.Timestamp(value).normalize()
            except (ValueError, TypeError):
                raise InputError(f"cannot read extract_date {self.extract_date!r}", field="data.extract_date",
                                 fix="use an ISO date such as 2024-03-31") from None
            object.__setattr__(self, "extract_date", None if pd.isna(when) else when)

    @property
    def inclusive_start(self) -> bool:
        """True when an event on the index date counts."""
        return self.window_start == "on_index_date"

    def replace(self, **changes: Any) -> OutcomeRules:
        """A copy with some rules changed."""
        return dataclasses.replace(self, **changes)

    @classmethod
    def from_config(cls, data: Any, *, extract_date: dt.date | pd.Timestamp | None = None) -> OutcomeRules:
        """The rules from a config's ``evaluation.data`` section (absent keys: the defaults)."""
        return cls(window_start=getattr(data, "window_start", "on_index_date"),
                   comparison_index=getattr(data, "comparison_index", "referral_plus_median"),
                   extract_date=getattr(data, "extract_date", None) or extract_date,
                   max_excluded_share=float(getattr(data, "max_excluded_share", 0.02)))

    def describe(self) -> list[str]:
        """The rules in plain words, one line each (for read summaries and reports)."""
        start = ("an event on the index date counts (index_date <= event_date <= index_date + N months)"
                 if self.inclusive_start else
                 "only events after the index date count (index_date < event_date <= index_date + N months)")
        base = "referral" if self.comparison_index == "referral_plus_median" else "assessment"
        extract = (f"extract date {self.extract_date.date()}: a window ending after it is unobserved"
                   if self.extract_date is not None else "no extract date: every window taken as complete")
        return [f"window: {start}",
                f"comparison children's index date: {base} date + the supported children's median "
                f"episode length (from {base} to closure)",
                extract,
                f"a read stops when more than {self.max_excluded_share:.1%} of a source's records are excluded"]


def _require(frame: pd.DataFrame, columns: list[str], arg: str) -> None:
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise InputError(f"missing column(s) {', '.join(missing)}", field=arg,
                         fix=f"{arg} needs the columns {', '.join(columns)}")


def _rules(rules: OutcomeRules | None) -> OutcomeRules:
    return OutcomeRules() if rules is None else rules


def index_dates(children: pd.DataFrame, rules: OutcomeRules | None = None) -> pd.Series:
    """Start of outcome follow-up for every episode (rules 1, 3 and 5).

    ``end_date`` for supported children (missing for an open episode); for
    comparison children ``referral_date`` (or ``assessment_date``, by
    ``rules.comparison_index``) plus the median supported episode length from that
    date to ``end_date``, in whole days over the closed supported episodes of the
    same authority (all authorities pooled when ``authority_code`` is absent),
    rounded to a whole day (halves to even).

    Parameters
    ----------
    children : DataFrame
        ``received_early_help, referral_date, end_date`` (``assessment_date`` for
        the assessment rule; ``authority_code``).
    rules : OutcomeRules, optional

    Returns
    -------
    Series of datetime64, aligned to ``children``.
    """
    rules = _rules(rules)
    _require(children, ["received_early_help", "referral_date", "end_date"], "children")
    supported = children["received_early_help"].fillna(0).astype(int) == 1
    if "authority_code" in children:
        groups = children["authority_code"].astype(object).fillna("")
    else:
        groups = pd.Series("", index=children.index)

    def plus_median(anchor: pd.Series) -> pd.Series:
        length = (children["end_date"] - anchor).dt.days
        median = length[supported].groupby(groups[supported]).median()
        days = groups.map(median)
        if days[~supported].isna().any():
            raise InputError(
                "comparison children in an authority with no closed supported episode: cannot set index_date",
                field="received_early_help",
                rows=list(children.index[~supported & days.isna()][:10]),
                fix="include the authority's supported episodes, or give index_date explicitly",
            )
        # round half to even (numpy's rule), as the synthetic generator does
        offset = pd.to_timedelta(np.round(days.fillna(0).to_numpy()).astype("int64"), unit="D")
        return anchor + pd.Series(offset, index=children.index)

    fallback = plus_median(children["referral_date"])
    if rules.comparison_index == "assessment_plus_median":
        if "assessment_date" not in children or children.loc[supported, "assessment_date"].isna().all():
            raise InputError("comparison_index is assessment_plus_median but no supported episode has an "
                             "assessment date", field="assessment_date",
                             fix="map the export's assessment date, or use comparison_index: referral_plus_median")
        by_assessment = plus_median(pd.to_datetime(children["assessment_date"]))
        fallback = by_assessment.where(by_assessment.notna(), fallback)
    return children["end_date"].where(supported, fallback)


def flag_within(
    children: pd.DataFrame,
    events: pd.DataFrame,
    *,
    event_type: str | tuple[str, ...],
    months: int,
    start: str = "index_date",
    inclusive_start: bool = False,
    extract_date: pd.Timestamp | None = None,
) -> pd.Series:
    """1 when the child has an event of ``event_type`` in ``(start, start + months]``.

    Parameters
    ----------
    children : DataFrame
        ``child_id`` and the ``start`` column.
    events : DataFrame
        ``child_id, event_type, event_date``.
    event_type : str or tuple of str
    months : int
        Calendar months (``pandas.DateOffset``).
    start : str, default ``"index_date"``
    inclusive_start : bool, default False
        Count events on the start date itself (``[start, ...]``).
    extract_date : Timestamp, optional
        A window ending after it is unobserved (missing).

    Returns
    -------
    Series of Int8 (missing where ``start`` is missing or the window is not
    complete by ``extract_date``), aligned to ``children``.
    """
    _require(children, ["child_id", start], "children")
    t0 = pd.to_datetime(children[start])
    return _any_between(children, t0, t0 + pd.DateOffset(months=months), events, event_type,
                        inclusive_start=inclusive_start, extract_date=extract_date)


def _any_between(
    children: pd.DataFrame,
    t0: pd.Series,
    t1: pd.Series,
    events: pd.DataFrame,
    event_type: str | tuple[str, ...],
    *,
    inclusive_start: bool,
    extract_date: pd.Timestamp | None = None,
) -> pd.Series:
    """Per row of ``children``: any event of the type with ``t0 < date <= t1`` (or ``t0 <=``)."""
    _require(events, ["child_id", "event_type", "event_date"], "events")
    kinds = (event_type,) if isinstance(event_type, str) else tuple(event_type)
    ev = events.loc[events["event_type"].isin(kinds), ["child_id", "event_date"]]
    base = pd.DataFrame({"child_id": children["child_id"].to_numpy(), "_t0": t0.to_numpy(),
                         "_t1": t1.to_numpy(), "_row": np.arange(len(children))})
    pairs = base.merge(ev, on="child_id", how="inner")
    date = pairs["event_date"]
    after = date >= pairs["_t0"] if inclusive_start else date > pairs["_t0"]
    hit = after & (date <= pairs["_t1"])
    rows = np.zeros(len(children), dtype=bool)
    rows[pairs.loc[hit, "_row"].to_numpy()] = True
    out = pd.Series(rows.astype("int8"), index=children.index).astype("Int8")
    known = t0.notna() & t1.notna()
    if extract_date is not None:
        known &= t1 <= pd.Timestamp(extract_date)
    return out.where(known.to_numpy())


def derive_flags(children: pd.DataFrame, events: pd.DataFrame, rules: OutcomeRules | None = None
                 ) -> pd.DataFrame:
    """The DATA_CONTRACT outcome flags (:data:`OUTCOME_WINDOWS`) for every episode.

    Parameters
    ----------
    children : DataFrame
        ``child_id, index_date`` (compute it with :func:`index_dates` if absent).
    events : DataFrame
        ``child_id, event_type, event_date``.
    rules : OutcomeRules, optional
        Window start and extract date (default: events on the index date count, no
        extract date).

    Returns
    -------
    DataFrame with one Int8 column per outcome, aligned to ``children``; missing
    where the index date is missing (open episode) or the window passes the extract.
    """
    rules = _rules(rules)
    return pd.DataFrame({
        name: flag_within(children, events, event_type=kind, months=months,
                          inclusive_start=rules.inclusive_start, extract_date=rules.extract_date)
        for name, (kind, months) in OUTCOME_WINDOWS.items()
    }, index=children.index)  # fmt: skip


def follow_up_summary(children: pd.DataFrame, rules: OutcomeRules | None = None,
                      windows: dict[str, int] | None = None) -> pd.DataFrame:
    """Follow-up completeness per outcome: observed, unobserved (window open at the extract), open episodes.

    Parameters
    ----------
    children : DataFrame
        ``index_date`` and ``received_early_help`` (``end_date`` for open episodes).
    rules : OutcomeRules, optional
    windows : dict, optional
        Outcome -> months (default: :data:`OUTCOME_WINDOWS`).

    Returns
    -------
    DataFrame
        ``outcome, window_months, children, observed, unobserved_follow_up,
        open_episode, observed_supported, observed_comparison`` (counts of
        children; not disclosure-controlled).
    """
    rules = _rules(rules)
    windows = windows or {k: m for k, (_, m) in OUTCOME_WINDOWS.items()}
    t0 = pd.to_datetime(children["index_date"]) if "index_date" in children else pd.Series(
        pd.NaT, index=children.index)
    supported = children["received_early_help"].fillna(0).astype(int) == 1
    open_ep = _open(children)
    rows = []
    for name, months in windows.items():
        t1 = t0 + pd.DateOffset(months=months)
        observed = t0.notna() & t1.notna()
        if rules.extract_date is not None:
            observed &= t1 <= rules.extract_date
        rows.append({"outcome": name, "window_months": int(months), "children": int(len(children)),
                     "observed": int(observed.sum()),
                     "unobserved_follow_up": int((~observed & ~open_ep).sum()),
                     "open_episode": int(open_ep.sum()),
                     "observed_supported": int((observed & supported).sum()),
                     "observed_comparison": int((observed & ~supported).sum())})
    return pd.DataFrame(rows)


def _open(children: pd.DataFrame) -> pd.Series:
    if "open_episode" in children:
        return children["open_episode"].fillna(0).astype(int) == 1
    supported = children["received_early_help"].fillna(0).astype(int) == 1
    end = children["end_date"] if "end_date" in children else pd.Series(pd.NaT, index=children.index)
    return supported & end.isna()


def derive_outcomes(
    children: pd.DataFrame,
    events: pd.DataFrame,
    *,
    rules: OutcomeRules | None = None,
    csc_months: int | tuple[int, ...] = (6, 12, 24),
    step_up_months: int = 12,
    step_down_months: int = 3,
    closures: pd.DataFrame | None = None,
    plans: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """All outcome flags and extra measures for each early-help episode.

    Parameters
    ----------
    children : DataFrame
        ``child_id, referral_date, start_date, end_date, received_early_help``
        (``index_date`` is computed with :func:`index_dates` when absent).
    events : DataFrame
        ``child_id, event_type, event_date`` (DATA_CONTRACT §2).
    rules : OutcomeRules, optional
        Window start, comparison index date and extract date (module docstring).
    csc_months : int or tuple of int, default (6, 12, 24)
        Windows for ``csc_referral_<N>m`` (12 is always produced).
    step_up_months : int, default 12
        ``step_up``: a ``csc_referral`` in ``[start, index_date + N months]``, where
        ``start`` is ``start_date`` (``referral_date`` for comparison children).
    step_down_months : int, default 3
        ``step_down``: a social-care episode (CIN referral) closed within N months
        before the early-help referral (``referral_date - N months <= closure <=
        referral_date``).  Needs ``closures`` (``child_id, closure_date``).
    closures : DataFrame, optional
        CIN closures, e.g. ``CINData.referrals`` (its ``closure_date`` column).
    plans : DataFrame, optional
        CIN plans (``child_id, start_date, n_previous_cpp``, e.g. ``CINData.cpp``) so a
        plan recorded as having previous plans counts as a repeat; without it, first and
        repeat plans are told apart from the ``cpp_start`` events alone.

    Returns
    -------
    DataFrame
        ``children`` with ``index_date`` and the DATA_CONTRACT flags replaced by
        derived values, plus ``open_episode`` (0/1), ``csc_referral_<N>m``,
        ``cpp_first_12m`` (a first plan in the window: no plan ever started before it),
        ``cpp_repeat_12m`` (a plan in the window for a child with an earlier plan),
        ``step_up``, ``step_up_same_day`` and ``step_down``.  Flags are missing where
        the follow-up is unobserved (open episode, or a window passing the extract).
    """
    rules = _rules(rules)
    _require(children, ["child_id", "referral_date", "end_date", "received_early_help"], "children")
    out = children.copy()
    supported = out["received_early_help"].fillna(0).astype(int) == 1
    out["open_episode"] = (supported & out["end_date"].isna()).astype("int8")
    if "index_date" not in out or out["index_date"].isna().all() \
            or rules.comparison_index != "referral_plus_median":
        out["index_date"] = index_dates(out, rules)
    else:  # a given index date: an open episode still has none
        out["index_date"] = out["index_date"].where(out["open_episode"] == 0)
    flags = derive_flags(out, events, rules)
    for name in flags:
        out[name] = flags[name]
    window = {"inclusive_start": rules.inclusive_start, "extract_date": rules.extract_date}
    for months in sorted({12, *((csc_months,) if isinstance(csc_months, int) else csc_months)}):
        out[f"csc_referral_{months}m"] = flag_within(out, events, event_type="csc_referral",
                                                     months=months, **window)
    if plans is None:
        plans = events.loc[events["event_type"] == "cpp_start", ["child_id", "event_date"]]
        plans = plans.rename(columns={"event_date": "start_date"})
    kinds = repeat_plans(plans, date="start_date")
    kinds = pd.DataFrame({"child_id": kinds["child_id"], "event_date": kinds["start_date"],
                          "event_type": np.where(kinds["repeat"] == 1, "cpp_repeat", "cpp_first")})
    out["cpp_first_12m"] = flag_within(out, kinds, event_type="cpp_first", months=12, **window)
    out["cpp_repeat_12m"] = flag_within(out, kinds, event_type="cpp_repeat", months=12, **window)
    start = out["start_date"] if "start_date" in out else pd.Series(pd.NaT, index=out.index)
    start = start.fillna(out["referral_date"])
    out["step_up"] = _any_between(out, start, out["index_date"] + pd.DateOffset(months=step_up_months),
                                  events, "csc_referral", inclusive_start=True,
                                  extract_date=rules.extract_date)
    same_day = _any_between(out, out["index_date"], out["index_date"], events, "csc_referral",
                            inclusive_start=True)
    out["step_up_same_day"] = same_day.where(supported.to_numpy(), 0).astype("Int8")
    if closures is not None:
        _require(closures, ["child_id", "closure_date"], "closures")
        ev = closures.loc[closures["closure_date"].notna(), ["child_id", "closure_date"]]
        ev = ev.rename(columns={"closure_date": "event_date"}).assign(event_type="csc_closure")
        back = out.assign(_from=out["referral_date"] - pd.DateOffset(months=step_down_months))
        out["step_down"] = flag_within(back, ev, event_type="csc_closure", months=step_down_months,
                                       start="_from", inclusive_start=True)
    return out


def rereferrals(
    referrals: pd.DataFrame,
    *,
    date: str = "referral_date",
    months: int = 12,
    period: tuple[str | pd.Timestamp, str | pd.Timestamp] | None = None,
) -> pd.DataFrame:
    """Mark re-referrals: referrals within ``months`` of the child's previous referral.

    DfE definition (Children in need statistics, "re-referrals"): a referral is a
    re-referral when the same child had a previous referral within the 12 months
    before it: ``date - 12 months <= previous < date``.  The rate is re-referrals ÷
    referrals, over the referrals in ``period``; earlier referrals still count as
    "previous".

    Parameters
    ----------
    referrals : DataFrame
        ``child_id`` and ``date``; one row per referral.
    date : str, default ``"referral_date"``
    months : int, default 12
    period : (start, end), optional
        Inclusive reporting period (e.g. ``("2023-04-01", "2024-03-31")``).

    Returns
    -------
    DataFrame
        The referrals in ``period`` with a 0/1 ``rereferral`` column;
        ``.attrs["rate"]`` holds the rate and ``.attrs["n"]`` the denominator.

    Examples
    --------
    >>> r = pd.DataFrame({"child_id": ["a", "a", "a"],
    ...                   "referral_date": pd.to_datetime(["2023-01-10", "2023-06-01", "2024-09-01"])})
    >>> rereferrals(r)["rereferral"].tolist()
    [0, 1, 0]
    """
    _require(referrals, ["child_id", date], "referrals")
    frame = referrals.copy()
    # the child's latest referral on an earlier day (same-day repeats are not "previous")
    days = frame[["child_id", date]].drop_duplicates().sort_values(["child_id", date])
    days["_previous"] = days.groupby("child_id")[date].shift(1)
    previous = frame[["child_id", date]].merge(days, on=["child_id", date], how="left")["_previous"]
    previous.index = frame.index
    within = previous.notna() & (previous >= frame[date] - pd.DateOffset(months=months))
    frame["rereferral"] = within.astype("int8")
    if period is not None:
        lo, hi = pd.Timestamp(period[0]), pd.Timestamp(period[1])
        frame = frame.loc[(frame[date] >= lo) & (frame[date] <= hi)]
    frame.attrs["n"] = int(len(frame))
    frame.attrs["rate"] = float(frame["rereferral"].mean()) if len(frame) else float("nan")
    return frame


def repeat_plans(
    plans: pd.DataFrame,
    *,
    date: str = "start_date",
    previous: str | None = "n_previous_cpp",
    period: tuple[str | pd.Timestamp, str | pd.Timestamp] | None = None,
) -> pd.DataFrame:
    """Mark repeat child protection plans: the child had **ever** had a plan before.

    A plan start is a repeat when the same child has an earlier plan start in the
    data, or (when the ``previous`` column is given, e.g. CIN ``NumberOfPreviousCPP``)
    the return records a previous plan, however long ago: ``NumberOfPreviousCPP`` of 2 or
    more, since the DfE schema makes the field a positive integer (a first plan is 1).

    Parameters
    ----------
    plans : DataFrame
        ``child_id`` and ``date``; one row per plan start.
    date : str, default ``"start_date"``
    previous : str or None, default ``"n_previous_cpp"``
        The return's plan count (``NumberOfPreviousCPP``, 1 for a first plan), used when
        present in ``plans``.
    period : (start, end), optional
        Inclusive period of plan starts to report on (earlier plans still count).

    Returns
    -------
    DataFrame
        Plan starts in ``period`` with a 0/1 ``repeat`` column; ``.attrs["rate"]`` and
        ``.attrs["n"]``.
    """
    _require(plans, ["child_id", date], "plans")
    frame = plans.copy()
    # a plan on a later day than the child's first plan (same-day duplicates are not "before")
    earlier = frame.groupby("child_id")[date].transform("min") < frame[date]
    if previous is not None and previous in frame:
        # Every DfE CIN schema (2017-2024) types NumberOfPreviousCPP as xs:positiveInteger, so a
        # schema-valid first plan cannot carry 0: the count evidently includes the current plan.
        # A repeat is therefore 2 or more (UNCONFIRMED against the DfE guide's wording).
        earlier |= pd.to_numeric(frame[previous], errors="coerce").fillna(0) >= 2
    frame["repeat"] = earlier.astype("int8")
    if period is not None:
        lo, hi = pd.Timestamp(period[0]), pd.Timestamp(period[1])
        frame = frame.loc[(frame[date] >= lo) & (frame[date] <= hi)]
    frame.attrs["n"] = int(len(frame))
    frame.attrs["rate"] = float(frame["repeat"].mean()) if len(frame) else float("nan")
    return frame



def reach_measures(children: pd.DataFrame, *, short_weeks: float = 4) -> dict[str, float | int]:
    """Step 5's process measures of one authority's cohort: take-up and how long episodes lasted.

    Parameters
    ----------
    children : DataFrame
        ``received_early_help`` and, for the durations, ``start_date`` and ``end_date``.
    short_weeks : float, default 4
        Episodes closed within this many weeks count as "closed early" (a proxy for drop-out:
        EIF's pitfall 2).

    Returns
    -------
    dict
        ``assessed, supported`` (counts of children), ``take_up`` (share supported),
        ``median_weeks`` (median supported episode length, NaN without dates),
        ``closed_early`` (count) and ``closed_early_share``.

    Examples
    --------
    >>> kids = pd.DataFrame({"received_early_help": [1, 1, 0],
    ...                      "start_date": pd.to_datetime(["2022-01-01", "2022-01-01", None]),
    ...                      "end_date": pd.to_datetime(["2022-01-15", "2022-07-01", None])})
    >>> m = reach_measures(kids)
    >>> (m["supported"], round(m["take_up"], 3), m["closed_early"], m["median_weeks"])
    (2, 0.667, 1, 13.929)
    """
    _require(children, ["received_early_help"], "children")
    sup = children[pd.to_numeric(children["received_early_help"], errors="coerce") == 1]
    out: dict[str, float | int] = {"assessed": int(len(children)), "supported": int(len(sup)),
                                   "take_up": float(len(sup) / len(children)) if len(children) else float("nan"),
                                   "median_weeks": float("nan"), "closed_early": 0,
                                   "closed_early_share": float("nan")}
    if {"start_date", "end_date"} <= set(children.columns) and len(sup):
        weeks = (pd.to_datetime(sup["end_date"]) - pd.to_datetime(sup["start_date"])).dt.days / 7
        known = weeks.dropna()
        out["median_weeks"] = round(float(known.median()), 3) if len(known) else float("nan")
        out["closed_early"] = int((known < short_weeks).sum())
        out["closed_early_share"] = float((known < short_weeks).mean()) if len(known) else float("nan")
    return out
