"""Outcome derivation: link early-help episodes to statutory events by child id.

Binary outcomes follow the DATA_CONTRACT window rule: an event counts for an
episode when ``index_date < event_date <= index_date + N calendar months``
(``pandas.DateOffset(months=N)``), where ``index_date`` is the early-help closure
date for supported children and, for comparison children, their referral date plus
the median length of the supported episodes (the date they would have closed).

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
months of closure, first and repeat child protection plans, step-up (a social-care
referral from the start of early help to ``N`` months after closure) and step-down
(early help starting soon after a social-care episode closed).  Rate measures over
referral and plan tables: :func:`rereferrals` (DfE: a referral within 12 months of
a previous referral) and :func:`repeat_plans` (a plan for a child who had **ever**
had one before; CIN table D3, former NI 65).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ehimpact.errors import InputError

__all__ = [
    "OUTCOME_WINDOWS",
    "index_dates",
    "flag_within",
    "derive_flags",
    "derive_outcomes",
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


def _require(frame: pd.DataFrame, columns: list[str], arg: str) -> None:
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise InputError(f"missing column(s) {', '.join(missing)}", field=arg,
                         fix=f"{arg} needs the columns {', '.join(columns)}")


def index_dates(children: pd.DataFrame) -> pd.Series:
    """Start of outcome follow-up for every episode (DATA_CONTRACT §1).

    ``end_date`` for supported children; for comparison children ``referral_date``
    plus the median supported episode length, where the length is
    ``end_date - referral_date`` in whole days over the supported episodes of the
    same authority (all authorities pooled when ``authority_code`` is absent), rounded
    to a whole day (halves to even).

    Parameters
    ----------
    children : DataFrame
        ``received_early_help, referral_date, end_date`` (and ``authority_code``).

    Returns
    -------
    Series of datetime64, aligned to ``children``.
    """
    _require(children, ["received_early_help", "referral_date", "end_date"], "children")
    supported = children["received_early_help"].fillna(0).astype(int) == 1
    length = (children["end_date"] - children["referral_date"]).dt.days
    if "authority_code" in children:
        groups = children["authority_code"].astype(object).fillna("")
    else:
        groups = pd.Series("", index=children.index)
    median = length[supported].groupby(groups[supported]).median()
    days = groups.map(median)
    if days[~supported].isna().any():
        raise InputError(
            "comparison children in an authority with no supported episode: cannot set index_date",
            field="received_early_help",
            rows=list(children.index[~supported & days.isna()][:10]),
            fix="include the authority's supported episodes, or give index_date explicitly",
        )
    # round half to even (numpy's rule), as the synthetic generator does
    offset = pd.to_timedelta(np.round(days.fillna(0).to_numpy()).astype("int64"), unit="D")
    offset = pd.Series(offset, index=children.index)
    fallback = children["referral_date"] + offset
    return children["end_date"].where(supported, fallback)


def flag_within(
    children: pd.DataFrame,
    events: pd.DataFrame,
    *,
    event_type: str | tuple[str, ...],
    months: int,
    start: str = "index_date",
    inclusive_start: bool = False,
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

    Returns
    -------
    Series of Int8 (missing where ``start`` is missing), aligned to ``children``.
    """
    _require(children, ["child_id", start], "children")
    t0 = pd.to_datetime(children[start])
    return _any_between(children, t0, t0 + pd.DateOffset(months=months), events, event_type,
                        inclusive_start=inclusive_start)


def _any_between(
    children: pd.DataFrame,
    t0: pd.Series,
    t1: pd.Series,
    events: pd.DataFrame,
    event_type: str | tuple[str, ...],
    *,
    inclusive_start: bool,
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
    return out.where((t0.notna() & t1.notna()).to_numpy())


def derive_flags(children: pd.DataFrame, events: pd.DataFrame) -> pd.DataFrame:
    """The DATA_CONTRACT outcome flags (:data:`OUTCOME_WINDOWS`) for every episode.

    Parameters
    ----------
    children : DataFrame
        ``child_id, index_date`` (compute it with :func:`index_dates` if absent).
    events : DataFrame
        ``child_id, event_type, event_date``.

    Returns
    -------
    DataFrame with one Int8 column per outcome, aligned to ``children``.
    """
    return pd.DataFrame({
        name: flag_within(children, events, event_type=kind, months=months)
        for name, (kind, months) in OUTCOME_WINDOWS.items()
    }, index=children.index)  # fmt: skip


def derive_outcomes(
    children: pd.DataFrame,
    events: pd.DataFrame,
    *,
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
        derived values, plus ``csc_referral_<N>m``, ``cpp_first_12m`` (a first plan in
        the window: no plan ever started before it), ``cpp_repeat_12m`` (a plan in the
        window for a child with an earlier plan), ``step_up`` and ``step_down``.
    """
    _require(children, ["child_id", "referral_date", "end_date", "received_early_help"], "children")
    out = children.copy()
    if "index_date" not in out or out["index_date"].isna().all():
        out["index_date"] = index_dates(out)
    flags = derive_flags(out, events)
    for name in flags:
        out[name] = flags[name]
    for months in sorted({12, *((csc_months,) if isinstance(csc_months, int) else csc_months)}):
        out[f"csc_referral_{months}m"] = flag_within(out, events, event_type="csc_referral",
                                                     months=months)
    if plans is None:
        plans = events.loc[events["event_type"] == "cpp_start", ["child_id", "event_date"]]
        plans = plans.rename(columns={"event_date": "start_date"})
    kinds = repeat_plans(plans, date="start_date")
    kinds = pd.DataFrame({"child_id": kinds["child_id"], "event_date": kinds["start_date"],
                          "event_type": np.where(kinds["repeat"] == 1, "cpp_repeat", "cpp_first")})
    out["cpp_first_12m"] = flag_within(out, kinds, event_type="cpp_first", months=12)
    out["cpp_repeat_12m"] = flag_within(out, kinds, event_type="cpp_repeat", months=12)
    start = out["start_date"] if "start_date" in out else pd.Series(pd.NaT, index=out.index)
    start = start.fillna(out["referral_date"])
    out["step_up"] = _any_between(out, start, out["index_date"] + pd.DateOffset(months=step_up_months),
                                  events, "csc_referral", inclusive_start=True)
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
    the return records one or more previous plans, however long ago.

    Parameters
    ----------
    plans : DataFrame
        ``child_id`` and ``date``; one row per plan start.
    date : str, default ``"start_date"``
    previous : str or None, default ``"n_previous_cpp"``
        Count of plans before this one, used when present in ``plans``.
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
        earlier |= pd.to_numeric(frame[previous], errors="coerce").fillna(0) > 0
    frame["repeat"] = earlier.astype("int8")
    if period is not None:
        lo, hi = pd.Timestamp(period[0]), pd.Timestamp(period[1])
        frame = frame.loc[(frame[date] >= lo) & (frame[date] <= hi)]
    frame.attrs["n"] = int(len(frame))
    frame.attrs["rate"] = float(frame["repeat"].mean()) if len(frame) else float("nan")
    return frame

