"""One evaluation of one authority: load the data, run the designs, build the ten sections.

The notebook ``ten_step_evaluation.ipynb`` creates an :class:`Evaluation` from its
parameters and shows ``evaluation.section(n)`` for n = 1..10; every number in the
write-up comes from here (and so from tested library functions), never from the
notebook.  A design whose estimator is not built, or whose data cannot support it,
produces a :class:`~ehimpact.report.sections.NotAvailable` note in its place, never a
made-up number.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from ehimpact.data.inputs import Inputs, load_inputs
from ehimpact.errors import InputError
from ehimpact.estimators.result import Estimate, json_safe
from ehimpact.report.designs import CONTRACT_ROLES, DEFAULT_COVARIATES
from ehimpact.report.sections import NotAvailable, Section

if TYPE_CHECKING:  # the config schema lives with the runner; the report only reads it
    from ehimpact.runner.config import Design, EvaluationConfig

__all__ = ["Evaluation", "Inputs", "load_inputs", "DEFAULT_COVARIATES"]



class Evaluation:
    """Runs one evaluation for one authority and builds its ten sections.

    Parameters
    ----------
    config : EvaluationConfig
    authority : str, optional
        GSS code; defaults to ``config.authority``.
    base_dir : path
        Folder relative data paths are resolved from.
    inputs : Inputs, optional
        Pre-loaded data (tests, batch); loaded from the config otherwise.

    Examples
    --------
    >>> ev = Evaluation(config, authority="E06000036")      # doctest: +SKIP
    >>> ev.section(7).estimates["primary"].summary()        # doctest: +SKIP
    """

    def __init__(self, config: EvaluationConfig, *, authority: str | None = None,
                 base_dir: Path | str = ".", inputs: Inputs | None = None) -> None:
        self.config = config
        self.authority = authority or config.authority
        if self.authority is None:
            raise InputError("no authority given", field="evaluation.authority",
                             fix="set evaluation.authority in the config or pass --authority CODE")
        self.inputs = inputs if inputs is not None else load_inputs(config, base_dir, authority=self.authority)
        self.synthetic = self.inputs.synthetic
        self._check_authority()
        self._check_columns()
        self._validate_own_rows()
        self._results: dict[str, Estimate | NotAvailable] = {}
        self._sections: dict[int, Section] = {}
        self.disclosure_log: list[dict[str, Any]] = []
        self.cost_results: dict[str, Any] = {}
        #: plain-words notes about how a design was run (e.g. automatic wild bootstrap), by result key
        self.notes: dict[str, str] = {}
        #: the few-cluster policy each panel design ran under, by result key
        self.policies: dict[str, Any] = {}
        #: disclosure records of tables an evaluator's own notebook added (``report.notebook.table``)
        self.extra_tables: dict[str, Any] = {}

    # ------------------------------------------------------------------ data views
    def _check_authority(self) -> None:
        known: set[str] = set()
        for f in (self.inputs.children, self.inputs.panel):
            if f is not None and "authority_code" in f.columns:
                known |= set(f["authority_code"].astype(str).unique())
        if known and self.authority not in known:
            raise InputError(f"authority {self.authority!r} is not in the data", field="authority",
                             fix=f"use one of {', '.join(sorted(known)[:25])}")

    def _check_columns(self) -> None:
        """Every configured outcome and covariate column exists: an unknown one is an InputError naming close matches."""
        import difflib

        child_cols = set(self.inputs.children.columns) if self.inputs.children is not None else set()
        panel_cols = set(self.inputs.panel.columns) if self.inputs.panel is not None else set()
        every = child_cols | panel_cols
        if not every:
            return
        wanted: list[tuple[str, str, set[str]]] = []  # (column, config field, columns it may be in)
        for i, o in enumerate(self.config.outcomes):
            wanted.append((o.column, f"evaluation.outcomes[{i}].column", every))
        for where, d in [("evaluation.design", self.config.design)] + [
                (f"evaluation.robustness[{i}]", d) for i, d in enumerate(self.config.robustness)]:
            out = d.options.get("outcome")
            if isinstance(out, str):
                wanted.append((out, f"{where}.options.outcome", panel_cols if self._level(d.name) != "child"
                               and panel_cols else every))
            for c in d.covariates or []:
                wanted.append((c, f"{where}.covariates", child_cols or every))
        for column, fld, pool in wanted:
            if column in pool:
                continue
            close = difflib.get_close_matches(column, sorted(pool), n=3, cutoff=0.6)
            hint = f"did you mean {' or '.join(repr(c) for c in close)}?" if close else \
                f"the data have {', '.join(sorted(pool)[:30])}"
            raise InputError(f"column {column!r} is not in the data", field=fld,
                             fix=f"{hint} Correct the name in the config, or map it in the column mapping")

    def _validate_own_rows(self) -> None:
        """Validate this authority's rows against the dictionary: one authority's bad data fails its run only."""
        c = self.children
        # only data generated here, in this process, skip the check: a file that merely says
        # synthetic=True (or one edited after it was generated) is validated like any other
        if c is None or self.config.data.synthetic is not None:
            return
        from ehimpact.data import validate

        report = validate(c, "child_level")
        self.inputs.validation["child_level"] = {"errors": int(len(report.errors)),
                                                 "warnings": int(len(report.warnings))}
        report.raise_if_errors()

    @property
    def children(self) -> pd.DataFrame | None:
        """Child-level rows of this authority."""
        c = self.inputs.children
        if c is None:
            return None
        return c[c["authority_code"].astype(str) == self.authority]

    @property
    def panel(self) -> pd.DataFrame | None:
        """The whole regional panel (panel designs use other authorities as comparisons)."""
        return self.inputs.panel

    @property
    def authority_panel(self) -> pd.DataFrame | None:
        p = self.inputs.panel
        if p is None:
            return None
        return p[p["authority_code"].astype(str) == self.authority].sort_values("period")

    @property
    def authority_name(self) -> str:
        p = self.inputs.panel
        if p is not None and "authority_name" in p.columns:
            names = p.loc[p["authority_code"] == self.authority, "authority_name"]
            if len(names):
                return str(names.iloc[0])
        try:
            from ehimpact.data import authorities

            return str(authorities.lookup(self.authority)["name"])
        except Exception:  # noqa: BLE001 - the name is cosmetic
            return self.authority

    # ------------------------------------------------------------------ disclosure
    def count(self, n: Any, noun: str, plural: str | None = None, *, total: Any = None) -> str:
        """A count of people in prose, through the same rule as tables (``c`` for 1 to the threshold).

        Parameters
        ----------
        n : int
        noun : str
            What is counted, singular or as it reads after the number ("supported children").
        plural : str, optional
        total : int, optional
            A published total that ``n`` is part of (the cohort a matched sample came from).
            When their difference would be a count of 1 to the threshold, ``n`` is not shown.
        """
        from ehimpact.report.disclosure import count_text, safe_difference

        d = self.config.disclosure
        if total is not None and n is not None and not safe_difference(total, n, threshold=d.threshold):
            word = plural or noun
            return f"{d.symbol} {word} (suppressed: its difference from the cohort total is a small number)"
        return count_text(n, noun, threshold=d.threshold, symbol=d.symbol, plural=plural)

    def small(self, n: Any) -> bool:
        """Whether ``n`` is a count of people the disclosure rule hides (1 to the threshold)."""
        from ehimpact.report.disclosure import is_small_count

        return bool(is_small_count(n, self.config.disclosure.threshold))

    def add_table(self, section: Section, caption: str, table: pd.DataFrame, *,
                  counts: list[str] | None = None, rates: dict[str, str] | None = None,
                  totals: list[str] | None = None, additive: bool = False, row: str = "",
                  labels: dict[str, str] | None = None, human: bool = True) -> pd.DataFrame:
        """Disclosure-control a table (DOMAIN.md §5) and add it to a section.

        Every table a report shows goes through here.  ``counts`` names the count columns
        (default: columns named like counts: ``n``, ``n_*``, ``count``...); a table with no
        counts passes through unchanged but is still recorded as checked.  ``row`` says what
        one row is (shown under the caption); the shown table gets human labels
        (:func:`ehimpact.report.labels.humanise`, column labels overridable with ``labels``),
        while results.json keeps the machine names.
        """
        from ehimpact.report.disclosure import disclose, table_record

        if not isinstance(table.index, pd.RangeIndex):  # row labels become a visible column
            table = table.reset_index()
        d = self.config.disclosure
        if counts is None:  # columns named like counts that hold whole numbers (not money, not rates)
            counts = [c for c in table.columns if _looks_like_count_column(str(c)) and _whole(table[c])]
        if counts:
            safe, log = disclose(table, counts=counts, rates=rates, totals=totals, threshold=d.threshold,
                                 secondary=d.secondary, symbol=d.symbol, additive_counts=additive,
                                 name=caption)
            record = table_record(safe, log)
            self.disclosure_log.extend({**e, "table": caption} if isinstance(e, dict) else e
                                       for e in log.to_list())
        else:
            safe = table
            record = {"name": caption, "disclosed": True, "count_columns": [],
                      "columns": [str(c) for c in table.columns], "data": json_safe(table)}
        if human:
            from ehimpact.report.labels import humanise

            shown = humanise(safe, labels=labels)
        else:
            shown = safe
        shown, same = _fold_constant_columns(shown)
        if same:
            row = (row + " " if row else "") + "Same on every row: " + "; ".join(same) + "."
        section.tables.append((caption, shown))
        section.records[caption] = record
        if row:
            section.rows[caption] = row
            record["row"] = row
        return safe

    # ------------------------------------------------------------------ designs
    def design_data(self, design: Design, outcome: str) -> tuple[pd.DataFrame, dict[str, Any]]:
        """The data and keyword arguments a design runs on, from the data contract's columns."""
        name = design.name
        opts = dict(design.options)
        if name not in ("match", "weight", "its", "did_2x2", "twfe", "event_study", "staggered_did",
                        "synthetic_control"):
            return self._plugin_data(design, outcome, opts)
        if name in ("match", "weight"):
            data = self.children
            if data is None:
                raise InputError("this design needs child-level data", field="data.child_level",
                                 fix="add a child-level file or statutory files to the config")
            covs = design.covariates or [c for c in DEFAULT_COVARIATES if c in data.columns]
            data = data.dropna(subset=[outcome])
            return data, {"treatment": "received_early_help", "outcome": outcome, "covariates": covs, **opts}
        panel = self.panel
        if panel is None:
            raise InputError("this design needs the authority panel", field="data.authority_panel",
                             fix="add an authority x month panel file to the config")
        adoption = self._adoption_period()
        if name == "its":
            ap = self.authority_panel.copy()
            start = opts.pop("intervention", None) or self.config.intervention.start_date or adoption
            if start is None or (isinstance(start, float) and math.isnan(start)):
                raise InputError("no intervention date for this authority", field="intervention.start_date",
                                 fix="set evaluation.intervention.start_date")
            kw = {"outcome": outcome, "time": "period", "intervention": pd.Timestamp(start),
                  "family": "poisson", "offset": "population_0_17", "seasonality": "month"}
            return ap, {**kw, **opts}
        p = panel.copy()
        p["first_treated"] = p["adoption_period"]
        if name == "did_2x2":
            if adoption is None:
                raise InputError(f"{self.authority} did not adopt the new model in these data", field="design",
                                 fix="use a child-level design (match, weight) for this authority")
            from ehimpact.estimators.did import two_by_two_panel

            p = two_by_two_panel(p, adoption=adoption, months=int(opts.pop("window_months", 12)))
            return p, {"outcome": outcome, "treated": "treated", "post": "post", "unit": "authority_code",
                       **self._cluster_options(name, p, opts)}
        if name == "twfe":
            return p, {"outcome": outcome, "unit": "authority_code", "time": "period", "treatment": "adopted",
                       **self._cluster_options(name, p, opts)}
        if name in ("event_study", "staggered_did"):
            return p, {"outcome": outcome, "unit": "authority_code", "time": "period",
                       "first_treated": "first_treated", **self._cluster_options(name, p, opts)}
        return self._synthetic_control_data(p, outcome, opts, adoption)

    def _synthetic_control_data(self, p: pd.DataFrame, outcome: str, opts: dict[str, Any],
                                adoption: pd.Timestamp | None) -> tuple[pd.DataFrame, dict[str, Any]]:
        """This authority against its donors: statistical neighbours from the config, else the authorities
        in the panel that never adopted, less any the config excludes."""
        from ehimpact.data import authorities

        start = opts.pop("start", None) or self.config.intervention.start_date or adoption
        if start is None or (isinstance(start, float) and math.isnan(start)):
            raise InputError(f"{self.authority} has no date of change for the synthetic control",
                             field="evaluation.intervention.start_date",
                             fix="set the date the new model started, or use a child-level design")

        def codes(values: Any, key: str) -> list[str]:
            if values is None:
                return []
            if isinstance(values, str):
                values = [values]
            return [authorities.resolve(str(v)) if hasattr(authorities, "resolve") else str(v) for v in values]

        neighbours = codes(opts.pop("donors", None), "donors")
        exclude = set(codes(opts.pop("exclude", None), "exclude"))
        if neighbours:
            donors = [d for d in neighbours if d not in exclude]
            self.notes.setdefault("donor_pool", "Donors: the statistical neighbours listed in the config"
                                  + (f", less {len(exclude)} excluded" if exclude else "") + ".")
        else:
            never = p.loc[p["adoption_period"].isna(), "authority_code"].astype(str)
            donors = sorted(set(never) - exclude - {self.authority})
            self.notes.setdefault("donor_pool", "Donors: the authorities in the panel that never adopted the new "
                                  "model" + (f", less {len(exclude)} excluded in the config" if exclude else "")
                                  + ".")
        names = {}
        if "authority_name" in p.columns:
            names = dict(zip(p["authority_code"].astype(str), p["authority_name"].astype(str), strict=False))
        data = p[p["authority_code"].astype(str).isin({*donors, self.authority})]
        kw: dict[str, Any] = {"outcome": outcome, "unit": "authority_code", "time": "period",
                              "treated": self.authority, "start": pd.Timestamp(start), "donors": donors,
                              "names": names, "period": "month", "synthetic": self.synthetic}
        if outcome.endswith("_rate"):
            kw["unit_label"] = "per 10,000 children"
        return data, {**kw, **opts}

    def _plugin_data(self, design: Design, outcome: str, opts: dict[str, Any]
                     ) -> tuple[pd.DataFrame, dict[str, Any]]:
        """A plug-in design's data and keyword arguments, from its spec's data level and roles."""
        from ehimpact.estimators import registry

        spec = registry.get(design.name)
        level = spec.data_level
        if level == "child":
            data = self.children
        elif level == "series":
            data = self.authority_panel
        else:
            data = self.panel
            if data is not None and "adoption_period" in data.columns:
                data = data.assign(first_treated=data["adoption_period"])
        if data is None:
            need = "child-level data" if level == "child" else "the authority panel"
            raise InputError(f"design {design.name} needs {need}", field="data",
                             fix="add it to the config's data: section")
        given = dict(design.roles)
        kwargs: dict[str, Any] = {}
        for role in spec.roles:
            if role == "outcome":
                kwargs["outcome"] = outcome
            elif role == "covariates":
                kwargs["covariates"] = design.covariates or [c for c in DEFAULT_COVARIATES if c in data.columns]
            elif role in given:
                kwargs[role] = given[role]
            elif role in CONTRACT_ROLES.get(level, {}):
                kwargs[role] = CONTRACT_ROLES[level][role]
        for role, col in kwargs.items():
            if role in ("outcome", "covariates") or not isinstance(col, str):
                continue
            if col not in data.columns and role in spec.roles and role in given:
                raise InputError(f"design.roles.{role}: column {col!r} is not in the data", field=f"design.roles.{role}",
                                 fix="map the role to a column of the data")
        unknown = set(given) - set(spec.roles)
        if unknown:
            raise InputError(f"design {design.name} has no role(s) {', '.join(sorted(unknown))}",
                             field="design.roles", fix=f"its roles are {', '.join(spec.roles) or 'none'}")
        if level == "child" and "outcome" in kwargs:
            data = data.dropna(subset=[outcome])
        return data, {**kwargs, **opts}

    @staticmethod
    def _level(name: str) -> str:
        """A design's data level from its registry spec ("child" for an unknown name)."""
        from ehimpact.estimators import registry

        try:
            return registry.get(name).data_level
        except InputError:
            return "child"

    def _cluster_options(self, name: str, data: pd.DataFrame, opts: dict[str, Any]) -> dict[str, Any]:
        """The few-cluster policy's options for a panel design (an explicit ``inference`` option wins)."""
        from ehimpact.estimators import registry
        from ehimpact.estimators.inference import few_cluster_policy

        spec = registry.get(name)  # the spec says whether the design offers the wild bootstrap
        policy = few_cluster_policy(max(int(data["authority_code"].nunique()), 1), name, wild=spec.wild_bootstrap,
                                    series=spec.data_level == "series")
        self._last_policy = policy
        if "inference" in opts:
            return opts
        return {**policy.options, **opts}

    def power_plan(self) -> pd.DataFrame | NotAvailable:
        """Minimum detectable effects per outcome and design family, computed once (step 3, pitfall 5)."""
        if not hasattr(self, "_plan"):
            from ehimpact.report.planning import plan

            try:
                self._plan: pd.DataFrame | NotAvailable = plan(self)
            except InputError as exc:
                self._plan = NotAvailable("Smallest detectable effects", str(exc), kind="input_error")
        return self._plan

    def policy(self, key: str) -> Any:
        """The :class:`~ehimpact.estimators.inference.FewClusterPolicy` a panel result ran under, or None."""
        return self.policies.get(key)

    def _adoption_period(self) -> pd.Timestamp | None:
        ap = self.authority_panel
        if ap is None or "adoption_period" not in ap.columns:
            return None
        v = ap["adoption_period"].dropna()
        return pd.Timestamp(v.iloc[0]) if len(v) else None

    def run_design(self, design: Design, *, outcome: str | None = None, key: str | None = None
                   ) -> Estimate | NotAvailable:
        """Run a design; a design that is not built, or that the data cannot support, returns a note."""
        from ehimpact.estimators import registry

        outcome = outcome or design.options.get("outcome") or self._default_outcome(design)
        key = key or f"{design.name}:{outcome}"
        if key in self._results:
            return self._results[key]
        label = self._outcome_label(outcome)
        try:
            spec = registry.get(design.name)
        except InputError as exc:
            est = NotAvailable(f"{design.name} on {outcome}", str(exc), kind="not_built")
            self._results[key] = est
            return est
        try:
            self._last_policy = None
            data, kwargs = self.design_data(design, outcome)
            kwargs.pop("outcome_column", None)
            if spec.data_level == "series":
                from ehimpact.estimators.inference import few_cluster_policy

                self._last_policy = few_cluster_policy(1, design.name, n_periods=int(len(data)), series=True)
            if self._last_policy is not None:
                self.policies[key] = self._last_policy
                self.notes[key] = self._last_policy.statement
            if "seed" not in kwargs and _accepts(spec.func, "seed"):
                kwargs["seed"] = self.config.seed  # bootstrap draws reproducible run to run
            est = spec.func(data, **kwargs)
            est.synthetic = self.synthetic
            if label and not est.outcome_label:
                est.outcome_label = label
            if spec.data_level == "panel" and spec.scope == "region":
                est.subject = "Authorities that adopted the new model"
                est.units = "authorities"
            elif spec.data_level == "panel":
                est.units = "authorities"
            elif spec.data_level == "series":
                est.units = "months"
        except InputError as exc:
            est = NotAvailable(f"{design.name} on {outcome}", str(exc), kind="input_error")
        self._results[key] = est
        return est

    def _default_outcome(self, design: Design) -> str:
        primary = self.config.primary_outcome.column
        level = self._level(design.name)
        if level != "child" and self.inputs.panel is not None and primary not in self.inputs.panel.columns:
            return "referrals_rate" if level == "panel" else "referrals"
        return primary

    def _outcome_label(self, column: str) -> str | None:
        for o in self.config.outcomes:
            if o.column == column and o.label:
                return o.label
        return {
            "referrals_rate": "rate of referrals to children's social care per 10,000 children",
            "referrals": "children's social care referral",
            "cpp_starts_rate": "rate of child protection plans started per 10,000 children",
            "cla_rate": "rate of children looked after per 10,000 children",
        }.get(column)

    # ------------------------------------------------------------------ results
    @property
    def primary(self) -> Estimate | NotAvailable:
        """The headline estimate: configured design on the primary outcome.

        Raises
        ------
        InputError
            When the data cannot support the headline design (the run then fails and the batch
            lists it); a design that is merely not built yet returns a note instead.
        """
        est = self.run_design(self.config.design, outcome=self.config.primary_outcome.column
                              if self._level(self.config.design.name) == "child" else None, key="primary")
        if isinstance(est, NotAvailable) and est.kind == "input_error":
            raise InputError(f"headline design failed: {est.reason}", field="design",
                             fix="fix the data or choose another design")
        return est

    def estimates(self) -> dict[str, Estimate]:
        """Every estimate computed so far (JSON-able via ``to_dict``)."""
        return {k: v for k, v in self._results.items() if isinstance(v, Estimate)}

    def _safe_dict(self, est: Estimate) -> dict[str, Any]:
        """``to_dict()`` with counts of people from 1 to the threshold suppressed."""
        from ehimpact.smallcounts import NON_PERSON_UNITS, is_small_count

        d = est.to_dict()
        if est.units not in NON_PERSON_UNITS:
            t, sym = self.config.disclosure.threshold, self.config.disclosure.symbol
            for k in ("n_treated", "n_control"):
                if isinstance(d.get(k), int) and is_small_count(d[k], t):
                    d[k] = sym
        return d

    def section(self, number: int) -> Section:
        """Build (once) and return one of the ten sections."""
        if number not in self._sections:
            from ehimpact.report import steps

            step = self.config.step(number)
            sec = Section(number=number, title=step.title, prompt=step.prompt)
            getattr(steps, f"step{number}")(self, sec)
            _redact(sec, self.config.disclosure.threshold, self.config.disclosure.symbol)
            _release_figures(sec)
            self._sections[number] = sec
        return self._sections[number]

    def sections(self) -> list[Section]:
        """The ten sections, in order (the summary page is :meth:`summary`)."""
        return [self.section(n) for n in range(1, 11)]

    def summary(self) -> Section:
        """The one-page summary shown before step 1 (built from the ten sections)."""
        if 0 not in self._sections:
            from ehimpact.report import steps

            sec = Section(number=0, title="Summary",
                          prompt="The question, the answer, how sure we are, what it saves and what to do next.")
            steps.summary(self, sec)
            _redact(sec, self.config.disclosure.threshold, self.config.disclosure.symbol)
            _release_figures(sec)
            self._sections[0] = sec
        return self._sections[0]

    def results(self) -> dict[str, Any]:
        """The machine-readable record for ``results.json`` (aggregates only)."""
        secs = [self.section(n) for n in range(1, 11)]
        summary = self.summary()
        primary = self.primary
        record = json_safe({
            "evaluation": self.config.name,
            "title": self.config.title,
            "authority_code": self.authority,
            "authority_name": self.authority_name,
            "synthetic": self.synthetic,
            "data_fingerprint": self.inputs.fingerprint,
            "data_sources": self.inputs.sources,
            "primary": self._safe_dict(primary) if isinstance(primary, Estimate) else
            {"not_available": primary.reason},
            "estimates": {k: self._safe_dict(v) for k, v in self.estimates().items()},
            "not_available": {k: v.reason for k, v in self._results.items() if isinstance(v, NotAvailable)},
            "costs": {k: v.to_dict() for k, v in self.cost_results.items()},
            "notes": self.notes,
            "summary": summary.to_dict(),
            "sections": [s.to_dict() for s in secs],
            "disclosure_log": self.disclosure_log,
            "notebook_tables": self.extra_tables,
        })
        from ehimpact.report.disclosure import protect_results

        d = self.config.disclosure
        return protect_results(record, threshold=d.threshold, symbol=d.symbol)


def _redact(sec: Section, threshold: int, symbol: str) -> None:
    """Every sentence and box item through the one small-count rule (the net under ``count``):
    the page then says what results.json says (:func:`~ehimpact.report.disclosure.protect_results`
    applies the same rule to it)."""
    from ehimpact.report.disclosure import redact_text

    sec.paragraphs[:] = [redact_text(p, threshold=threshold, symbol=symbol) for p in sec.paragraphs]
    sec.box[:] = [redact_text(b, threshold=threshold, symbol=symbol) for b in sec.box]


def _release_figures(sec: Section) -> None:
    """Unregister a section's figures from pyplot: a notebook's inline backend would otherwise show them
    at the end of whichever cell built the section (the summary builds step 9), not where they belong.
    The figures still draw (:func:`ehimpact.report.figures.figure_html`)."""
    import sys

    plt = sys.modules.get("matplotlib.pyplot")
    if plt is None:
        return
    for _, fig in sec.figures:
        plt.close(fig)


#: a shown table wider than this many columns has its constant columns stated once under the caption
WIDE_TABLE = 8


def _fold_constant_columns(table: pd.DataFrame) -> tuple[pd.DataFrame, list[str]]:
    """Columns equal on every row of a wide table, said once ("Agency: ...") instead of repeated per row.

    Keeps a table that would be wider than an A4 page narrow enough to print whole; blank
    columns are dropped the same way.  Tables of one row, or of at most :data:`WIDE_TABLE`
    columns, are left alone.
    """
    if table.shape[1] <= WIDE_TABLE or len(table) < 2:
        return table, []
    same: list[str] = []
    keep = []
    for i, col in enumerate(table.columns):
        values = table.iloc[:, i].astype(str).str.strip()
        if i > 0 and values.nunique() == 1:
            v = values.iloc[0]
            if v:
                same.append(f"{col}: {v}")
        else:
            keep.append(i)
    return table.iloc[:, keep], same


def _accepts(func: Any, name: str) -> bool:
    """Whether ``func`` takes a keyword argument ``name`` (plug-in estimators may not)."""
    import inspect

    try:
        params = inspect.signature(func).parameters
    except (TypeError, ValueError):
        return False
    return name in params


def _whole(s: pd.Series) -> bool:
    v = pd.to_numeric(s, errors="coerce").dropna()
    return bool(len(v)) and bool(((v % 1) == 0).all()) and bool((v >= 0).all())


def _looks_like_count_column(name: str) -> bool:
    import fnmatch

    from ehimpact.report.disclosure import DEFAULT_COUNT_FIELDS

    low = name.lower()
    return any(fnmatch.fnmatch(low, p) for p in (*DEFAULT_COUNT_FIELDS, "n_treated", "n_control"))


def counts_by(frame: pd.DataFrame, by: list[str], value: str = "n") -> pd.DataFrame:
    """Counts of rows by groups, as a tidy table (helper for cohort tables)."""
    out = frame.groupby(by, observed=True, dropna=False).size().rename(value).reset_index()
    return out


def rate(num: float, den: float) -> float:
    return float(num) / float(den) if den else float("nan")


_ = np  # numpy is used by steps via this module's namespace in tests
