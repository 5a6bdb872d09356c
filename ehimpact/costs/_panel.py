"""Shared handling of the authority panel (DATA_CONTRACT.md section 3) for the cost models."""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

from ehimpact.errors import InputError
from ehimpact.estimators.checks import require_columns, require_frame

__all__ = ["window", "check_panel"]


def check_panel(panel: object, columns: Sequence[str]) -> pd.DataFrame:
    """Check the panel is a DataFrame with ``authority_code``, ``period`` and ``columns``."""
    df = require_frame(panel, "panel")
    require_columns(df, {"panel": ["authority_code", "period", *columns]})
    out = df.copy()
    try:
        out["period"] = pd.to_datetime(out["period"])
    except (ValueError, TypeError):
        raise InputError("period is not a date", field="period",
                         fix="give the first day of each month, e.g. 2024-04-01") from None
    return out


def window(panel: pd.DataFrame, *, authority: str, months: int, period_end: object | None,
           arg: str = "authority") -> tuple[pd.DataFrame, pd.Timestamp, pd.Timestamp, list[str]]:
    """Rows of one authority in the ``months`` months ending at ``period_end`` (default: its latest).

    Returns the rows, the first and last period, and warnings (e.g. fewer months than asked).
    """
    if not isinstance(months, int) or months < 1:
        raise InputError(f"months is {months!r}", field="months", fix="give a whole number of months, e.g. 12")
    codes = panel["authority_code"].astype(str)
    if authority not in set(codes):
        known = sorted(set(codes))
        raise InputError(f"authority {authority!r} is not in the panel", field=arg,
                         fix=f"use a GSS code from the panel, e.g. {', '.join(known[:5])}")
    rows = panel[codes == authority]
    end = pd.Timestamp(period_end) if period_end is not None else rows["period"].max()
    start = end - pd.DateOffset(months=months - 1)
    sel = rows[(rows["period"] >= start) & (rows["period"] <= end)]
    warnings = []
    if sel.empty:
        raise InputError(f"no rows for {authority} between {start:%Y-%m} and {end:%Y-%m}", field="period_end",
                         fix="choose a period inside the panel")
    n = sel["period"].nunique()
    if n < months:
        warnings.append(f"Only {n} of the {months} months to {end:%B %Y} are in the panel for {authority}; "
                        "flows were scaled up to a full year.")
    return sel, start, end, warnings
