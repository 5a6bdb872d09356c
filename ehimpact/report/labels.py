"""Human labels and number styles for everything a report shows: one place.

A column a reader sees gets its label here: from the data dictionary (the first clause of
a field's description, or its ``label`` when the dictionary gives one), from the unit-cost
table (a unit cost's description) and the agency names of the costs module, and from
:data:`STAT_LABELS` for the statistics the estimators name.  A new field gets its label
where it is defined, in the dictionary, and every table picks it up.

Number styles (one convention for the whole write-up):

- probabilities as **percentage points** (:func:`fmt_pp`);
- money as ``£2.1m``, ``£678k``, ``£950`` (:func:`fmt_money`);
- p-values as ``< 0.001`` or three decimals (:func:`fmt_p`);
- yes/no for booleans, never ``True``/``False``.
"""

from __future__ import annotations

import functools
import math
import re
from typing import Any

import numpy as np
import pandas as pd

__all__ = ["label", "fmt_money", "fmt_p", "fmt_pp", "fmt_count", "humanise", "STAT_LABELS", "design_label",
           "unit_words", "humanise_words", "p_is"]

#: labels of the statistics estimators and report tables name (not data fields)
STAT_LABELS: dict[str, str] = {
    "covariate": "Characteristic",
    "mean_treated_before": "Supported, before",
    "mean_control_before": "Comparison, before",
    "mean_treated_after": "Supported, after",
    "mean_control_after": "Comparison, after",
    "smd_before": "Std. mean difference before",
    "smd_after": "Std. mean difference after",
    "var_ratio_before": "Variance ratio before",
    "var_ratio_after": "Variance ratio after",
    "distance": "Propensity score (logit)",
    "gamma": "Gamma (hidden bias)",
    "p_lower": "p-value, lower bound",
    "p_upper": "p-value, upper bound",
    "pvalue": "p-value",
    "p_value": "p-value",
    "estimate": "Estimate",
    "se": "Standard error",
    "ci_lower": "Lower 95% limit",
    "ci_upper": "Upper 95% limit",
    "n_treated": "Treated",
    "n_control": "Comparison",
    "estimand": "Estimand",
    "method": "Method",
    "outcome": "Outcome",
    "unit_cost": "Unit cost",
    "agency": "Agency",
    "agency_label": "Agency",
    "cashable": "Cashable",
    "effect": "Effect",
    "events_avoided": "Events avoided",
    "quantity": "Quantity",
    "unit_cost_base_prices": "Unit cost (base prices)",
    "optimism_reduction": "Optimism-bias reduction",
    "annual_avoided_cost": "Avoided cost a year",
    "start_year": "First year",
    "duration": "Years",
    "pv_avoided_costs": "Present value of avoided costs",
    "unconfirmed_unit_cost": "Unit cost unconfirmed",
    "unconfirmed": "Unconfirmed",
    "category": "Category",
    "measure": "Measure",
    "count": "Number",
    "cost": "Cost a year",
    "note": "Note",
    "dimension": "Dimension",
    "indicator": "Indicator",
    "unit": "Unit",
    "authority": "This authority",
    "previous": "Previous year",
    "change_pct": "Change (%)",
    "region": "Rest of region",
    "region_rank": "Rank in region",
    "region_n": "Authorities in region",
    "neighbours": "Statistical neighbours",
    "supplied_mean": "Mean of the authorities supplied",
    "england": "England",
    "age_band": "Age band",
    "comparison": "Comparison",
    "supported": "Supported",
    "year": "Year",
    "pitfall": "Pitfall",
    "this evaluation": "This evaluation",
    "meaning": "Meaning",
    "source": "Source",
    "follow-up": "Follow-up",
    "role": "Role",
    "design": "Design",
}

#: short labels for data-dictionary fields whose description does not start with one.  A field
#: the dictionary gives a ``label:`` uses that instead (the dictionary is the place to add them).
FIELD_LABELS: dict[str, str] = {
    "age": "Age (years)", "sex": "Sex", "ethnicity": "Ethnic group", "fsm": "Free school meals",
    "prior_contacts": "Contacts in the previous 12 months",
    "tf_crime": "Crime or anti-social behaviour", "tf_school": "Not attending school regularly",
    "tf_children_need_help": "Children who need help", "tf_worklessness": "Worklessness or financial exclusion",
    "tf_domestic_abuse": "Domestic violence and abuse", "tf_health": "Health problems",
    "csc_referral_12m": "Referred to children's social care within 12 months",
    "cpp_12m": "Child protection plan within 12 months", "cla_24m": "Looked after within 24 months",
    "s47_12m": "Section 47 enquiry within 12 months", "reref_eh_12m": "Re-referred to early help within 12 months",
    "exclusion_12m": "Suspended or excluded within 12 months", "absence_rate": "School absence rate (%)",
    "yj_entry_24m": "Entered youth justice within 24 months",
    "referrals": "Referrals to children's social care", "re_referrals": "Re-referrals",
    "cin": "Children in need", "s47": "Section 47 enquiries", "cpp_starts": "Child protection plans started",
    "cla": "Children looked after", "eh_assessments": "Early help assessments", "eh_spend": "Early help spend",
    "population_0_17": "Children aged 0-17", "eh_spend_per_child": "Early help spend per child aged 0-17",
    "received_early_help": "Received early help",
}

#: designs in words
DESIGN_LABELS = {
    "match": "propensity-score matching", "weight": "propensity-score weighting",
    "did_2x2": "difference-in-differences (2x2)", "twfe": "two-way fixed effects",
    "event_study": "event study", "staggered_did": "staggered difference-in-differences",
    "its": "interrupted time series",
}

_SHARES = frozenset({"optimism_reduction", "deadweight", "attribution", "share", "take_up"})
_MONEY = re.compile(r"(cost|pv_|npv|spend|£|saving|price)", re.IGNORECASE)
_PVALUE = re.compile(r"^(p|pvalue|p_value|p-value|p_lower|p_upper|ljung_box_pvalue)$", re.IGNORECASE)


def design_label(name: str) -> str:
    """A registered design name in words (``did_2x2`` -> ``difference-in-differences (2x2)``)."""
    return DESIGN_LABELS.get(name, name.replace("_", " "))


@functools.cache
def _dictionary_labels() -> dict[str, str]:
    out: dict[str, str] = {}
    try:
        from ehimpact.data import dictionary
    except ImportError:  # pragma: no cover
        return out
    for name in ("authority_panel", "child_level"):
        try:
            fields = dictionary.get(name).fields
        except Exception:  # noqa: BLE001 - a label is cosmetic; the raw name is the fallback
            continue
        for key, f in fields.items():
            given = (getattr(f, "extra", None) or {}).get("label")
            if given:
                out.setdefault(str(key), str(given))
            elif str(key) in FIELD_LABELS:
                out.setdefault(str(key), FIELD_LABELS[str(key)])
            elif str(key).endswith("_rate") and str(key)[:-5] in FIELD_LABELS:
                out.setdefault(str(key), f"{FIELD_LABELS[str(key)[:-5]]} per 10,000 children")
            else:
                out.setdefault(str(key), _first_clause(f.description))
    for key, text in FIELD_LABELS.items():
        out.setdefault(key, text)
    return out


@functools.cache
def _cost_labels() -> dict[str, str]:
    out: dict[str, str] = {}
    try:
        from ehimpact.costs.unit_costs import AGENCY_LABELS

        out.update({str(k): str(v) for k, v in AGENCY_LABELS.items()})
    except Exception:  # noqa: BLE001
        pass
    try:
        from importlib import resources

        with resources.files("ehimpact.costs").joinpath("data/unit_costs.csv").open(encoding="utf-8") as fh:
            table = pd.read_csv(fh, usecols=["id", "description"], dtype=str)
        out.update(dict(zip(table["id"], table["description"], strict=False)))
    except Exception:  # noqa: BLE001
        pass
    return out


def _first_clause(text: str) -> str:
    """The first clause of a dictionary description: ``"Referrals ... in the period"``."""
    t = " ".join(str(text).split())
    t = re.split(r"\.\s|\s\(|;\s|:\s", t + " ", maxsplit=1)[0].rstrip(". ")
    return t[:1].upper() + t[1:] if t else t


def label(name: Any) -> str:
    """The label a reader sees for a column or value name.

    Looked up, in order: :data:`STAT_LABELS`; the unit-cost table and agency names; the
    data dictionaries; a ``covariate=level`` pair as ``"Covariate: level"``.  Anything else
    has its underscores replaced and its first letter capitalised.

    Parameters
    ----------
    name : str

    Returns
    -------
    str

    Examples
    --------
    >>> label("smd_after")
    'Std. mean difference after'
    >>> label("sex=female")
    'Sex: female'
    """
    s = str(name)
    if s in STAT_LABELS:
        return STAT_LABELS[s]
    costs = _cost_labels()
    if s in costs:
        return costs[s]
    fields = _dictionary_labels()
    if s in fields:
        return fields[s]
    if "=" in s:
        var, level = s.split("=", 1)
        return f"{label(var)}: {level.replace('_', ' ')}"
    t = s.replace("_", " ").strip()
    return t[:1].upper() + t[1:] if t else t


_SNAKE = re.compile(r"\b([a-z][a-z0-9]*(?:_[a-z0-9]+)*)(=[A-Za-z0-9_]+)?\b")


def _mid(text: str) -> str:
    """A label as it reads inside a sentence: first letter lower-cased unless it starts an acronym."""
    return text[:1].lower() + text[1:] if len(text) > 1 and text[1:2].islower() else text


def humanise_words(text: str) -> str:
    """Replace data-field and unit-cost names in a sentence with their labels.

    Only names the data dictionary or the unit-cost table know are replaced (``sex=female``
    -> ``sex: female``, ``cla_24m`` -> ``looked after within 24 months``); option names and
    anything else are left as written.
    """
    known = {**_dictionary_labels(), **_cost_labels()}

    def sub(m: re.Match[str]) -> str:
        name, level = m.group(1), m.group(2)
        if name not in known or (not level and "_" not in name):
            return m.group(0)
        if level:
            return f"{_mid(known[name])}: {level[1:].replace('_', ' ')}"
        return _mid(known[name])

    return _SNAKE.sub(sub, str(text))


def _finite(x: Any) -> float | str:
    """``x`` as a finite float, or the text a formatter shows instead ("" for None or NaN, the text itself)."""
    try:
        v = float(x)
    except (TypeError, ValueError):
        return "" if x is None else str(x)
    return v if math.isfinite(v) else ""


def fmt_money(x: Any) -> str:
    """Money in one style: ``£2.1m``, ``£678k``, ``£950``; negatives as ``-£2.1m``.

    Examples
    --------
    >>> fmt_money(2_112_000), fmt_money(678_400), fmt_money(-907_012), fmt_money(950)
    ('£2.1m', '£678k', '-£907k', '£950')
    """
    v = _finite(x)
    if isinstance(v, str):
        return v
    sign = "-" if v < 0 else ""
    a = abs(v)
    if a >= 1e9:
        body = f"{a / 1e9:.1f}bn"
    elif a >= 1e6:
        body = f"{a / 1e6:.1f}m"
    elif a >= 1e4:
        body = f"{a / 1e3:.0f}k"
    elif a >= 1e3:
        body = f"{a / 1e3:.1f}k"
    else:
        body = f"{a:,.0f}"
    return f"{sign}£{body}"


def fmt_p(p: Any, floor: float = 0.001) -> str:
    """A p-value as a reader expects: ``< 0.001`` below the floor, else three decimals.

    Examples
    --------
    >>> fmt_p(2.8e-52), fmt_p(0.0259)
    ('< 0.001', '0.026')
    """
    v = _finite(p)
    if isinstance(v, str):
        return v
    return f"< {floor:g}" if v < floor else f"{v:.3f}"


def p_is(p: Any, floor: float = 0.001) -> str:
    """A p-value in a sentence: ``p < 0.001`` or ``p = 0.026``."""
    text = fmt_p(p, floor)
    return f"p {text}" if text.startswith("<") else f"p = {text}"


def fmt_pp(x: Any, digits: int = 1, *, signed: bool = True) -> str:
    """A difference in proportions as percentage points: ``-0.0635`` -> ``-6.4 pp``."""
    v = _finite(x)
    if isinstance(v, str):
        return v
    return f"{100 * v:+.{digits}f} pp" if signed else f"{100 * v:.{digits}f} pp"


def fmt_count(x: Any) -> str:
    """A whole number with thousands separators (symbols such as ``c`` pass through)."""
    if isinstance(x, str) or x is None:
        return "" if x is None else x
    try:
        v = float(x)
    except (TypeError, ValueError):
        return str(x)
    if not math.isfinite(v):
        return ""
    return f"{v:,.0f}"


def unit_words(scale: str | None, unit: str | None = None) -> str:
    """The unit an estimate on ``scale`` is stated in, for table headers and axes."""
    if scale == "proportion":
        return "percentage points"
    if scale == "ratio":
        return "rate ratio (1 = no change)"
    if scale == "money":
        return "£"
    if unit:
        return unit
    return {"count": "events", "rate": "per 10,000 children"}.get(scale or "", "")


def _format_cell(v: Any, column: str, digits: int) -> Any:
    if v is None or (isinstance(v, float) and not math.isfinite(v)):
        return ""
    if isinstance(v, bool | np.bool_):
        return "yes" if bool(v) else "no"
    if isinstance(v, str):
        if v in ("True", "False"):
            return "yes" if v == "True" else "no"
        return v
    if isinstance(v, int | np.integer | float | np.floating):
        if _PVALUE.match(column):
            return fmt_p(v)
        if _MONEY.search(column) and not column.startswith("unconfirmed"):
            return fmt_money(v)
        fv = float(v)
        if fv == 0:
            return "0"
        if column.endswith("_pct"):
            return f"{fv:+.1f}%"
        if column in _SHARES or column.endswith("_share"):
            return f"{100 * fv:.0f}%"
        if fv.is_integer() and (abs(fv) >= 1 or fv == 0):
            return f"{fv:,.0f}"
        a = abs(fv)
        if a >= 100:
            return f"{fv:,.0f}"
        if a >= 10:
            return f"{fv:,.1f}"
        if round(fv, 2) == fv:  # a value given to 1-2 decimals keeps them (-5.9, 0.25)
            return f"{fv:.2f}".rstrip("0").rstrip(".")
        return f"{fv:.{digits}f}"
    return v


def humanise(table: pd.DataFrame, *, digits: int = 3, labels: dict[str, str] | None = None,
             value_columns: tuple[str, ...] = ()) -> pd.DataFrame:
    """A table as a councillor reads it: labelled columns, yes/no, p-values, money, labelled values.

    Parameters
    ----------
    table : DataFrame
        Already disclosure-controlled (symbols such as ``c`` pass through).
    digits : int, default 3
        Decimals for small non-integer numbers.
    labels : dict, optional
        Column labels that override :func:`label` for this table.
    value_columns : tuple of str
        Columns whose *values* are names to label too (e.g. ``covariate``, ``agency``).

    Returns
    -------
    DataFrame
        All cells strings; columns renamed.
    """
    out = table.copy()
    if not isinstance(out.index, pd.RangeIndex):
        out = out.reset_index()
    cols = [str(c) for c in out.columns]
    out.columns = cols
    for c in cols:
        if c in value_columns or c in ("covariate", "agency", "unit_cost", "outcome", "measure", "measure_id"):
            out[c] = out[c].map(lambda v: label(v) if isinstance(v, str) else v)
        out[c] = out[c].map(lambda v, c=c: _format_cell(v, c, digits)).astype(object)
    names = {c: (labels or {}).get(c) or label(c) for c in cols}
    return out.rename(columns=names)
