"""Every number of the readout as rows of `readout_estimates` (ESTIMATE_COLUMNS): the estimators of
jobs/readout/statistics.py and jobs/readout/adjusted.py applied to the two curated tables."""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from jobs.readout import adjusted as adj
from jobs.readout import cox_moments, employability, moments
from jobs.readout.statistics import (
    BALANCE_CATEGORICAL,
    BALANCE_LINKEDIN_EXTRA,
    BALANCE_NUMERIC,
    COX_OUTCOMES,
    CURVE_BANDS,
    EMPLOYABILITY_KEY,
    FULL,
    FULL_ITT_OUTCOMES,
    HETEROGENEITY_OUTCOMES,
    ITT_COV_TYPE,
    LATE_COV_TYPE,
    LATE_ENDOGENOUS,
    LATE_OUTCOMES,
    LINKEDIN,
    LINKEDIN_ITT_OUTCOMES,
    LOGGED_IN,
    SHARE_OUTCOME,
    TREATMENT,
    Z95,
    _label,
    sample_ratio_of_counts,
)

ESTIMATE_COLUMNS = [
    "snapshot_id", "analysis", "outcome", "sample", "subgroup", "estimator", "estimate", "se", "baseline",
    "baseline_se", "treatment_mean", "treatment_mean_se", "effect_pct", "effect_pct_se", "n", "n_treatment",
    "n_control", "ci_low", "ci_high", "p_value", "p_adjusted", "smd", "variance_reduction",
]
COUNT_COLUMNS = ("n", "n_treatment", "n_control")

# Table 3: (row label, event flag, months-to column; derived for the >= 4-month rows when absent).
TABLE3_SURVIVAL = (
    ("new_job", "new_job", "months_to_new_job"),
    ("new_job_in_scope", "new_job_in_scope", "months_to_new_job_in_scope"),
    ("new_job_4m", "new_job_4m", "months_to_new_job_4m"),
    ("new_job_in_scope_4m", "new_job_in_scope_4m", "months_to_new_job_in_scope_4m"),
)
TABLE3_PANEL_B = "past_job_in_scope=0"  # Panel B: learners whose prior job was not in scope
TABLE3_PANEL_B_OUTCOMES = ("new_job_in_scope", "new_job_in_scope_4m")
TABLE14_REGRESSOR = "new_job"
SUMMARY_OUTCOMES = ("new_job", "new_job_in_scope", "credential_shared", *FULL_ITT_OUTCOMES)

ESTIMATOR_DIM = f"difference_in_means_{ITT_COV_TYPE.lower()}"
ESTIMATOR_LIN = "lin_interacted_ols_hc2"
ESTIMATOR_COX_HR = "cox_ph_log_hr_controls_strata_batch"
ESTIMATOR_COX_PP = "cox_pp_at_control_followup_delta"


@dataclass
class Estimates:
    """What estimate_all returns: the rows, the balance and summary tables, the curves, the notes."""

    rows: pd.DataFrame
    balances: dict[str, pd.DataFrame]
    curves: pd.DataFrame
    notes: list[str] = field(default_factory=list)
    summary: pd.DataFrame | None = None
    attrition: pd.DataFrame | None = None
    table14_r2: dict[str, float] = field(default_factory=dict)


def _row(snapshot_id: str, analysis: str, outcome: str, sample: str, subgroup: str, estimator: str,
         result: Mapping) -> dict:
    row = {column: result.get(column, float("nan")) for column in ESTIMATE_COLUMNS}
    row.update(snapshot_id=snapshot_id, analysis=analysis, outcome=outcome, sample=sample, subgroup=subgroup,
               estimator=estimator)
    if not np.isfinite(row["n"]) and np.isfinite(row["n_treatment"]) and np.isfinite(row["n_control"]):
        row["n"] = row["n_treatment"] + row["n_control"]
    return row


def _guarded(notes: list[str], label: str, compute: Callable[[], dict]) -> dict | None:
    """Run one optional model; a failure becomes a note, not a failed readout."""
    try:
        return compute()
    except Exception as error:  # noqa: BLE001 - report, do not fail the readout
        notes.append(f"{label} failed: {type(error).__name__}: {error}")
        return None


def _controls(sample: str) -> tuple[str, ...]:
    return adj.CONTROLS_NUMERIC_LINKEDIN if sample == LINKEDIN else adj.CONTROLS_NUMERIC_FULL


def _present(outcomes: Sequence[str], frame: DataFrame) -> list[str]:
    return [name for name in outcomes if name in frame.columns]


def estimate_all(full: DataFrame, linkedin: DataFrame, *, snapshot_id: str = "", cox: bool = True,
                 heterogeneity: bool = True, match_by_arm: Sequence[Mapping] | None = None) -> Estimates:
    """Every number of the readout from the two curated tables as Spark DataFrames. Outcomes or covariates missing
    from a table are skipped with a note, so an older snapshot still gets a readout. `match_by_arm` is the
    feature job's match report by arm (attrition).

    The sample ratio, balance, summary statistics, attrition, the ITTs (overall, by batch, among those who logged
    in, by subgroup), the LATEs, the unadjusted Cox models and the Figure 2 curves come from moments Spark
    aggregates (jobs/readout/moments.py), Lin's adjusted ITTs and the Table 14 LPMs from two passes over each
    sample (all their fits at once), Table 3's Cox models with controls from one pass per Newton step
    (jobs/readout/cox_moments.py), the employability terciles and their estimates from a few passes
    (jobs/readout/employability.py). No sample's rows are collected."""
    # The LinkedIn sample is read by about a dozen aggregations: cached, it is read once. The full sample is read
    # by four (moments, levels, the two least-squares passes), each of a few of its columns: caching all its columns
    # cost more than reading those columns again from Parquet.
    linkedin = linkedin.persist()
    try:
        return _estimates(full, linkedin, snapshot_id=snapshot_id, cox=cox, heterogeneity=heterogeneity,
                          match_by_arm=match_by_arm)
    finally:
        linkedin.unpersist()


def _estimates(full: DataFrame, linkedin: DataFrame, *, snapshot_id: str, cox: bool, heterogeneity: bool,
               match_by_arm: Sequence[Mapping] | None) -> Estimates:
    rows: list[dict] = []
    notes: list[str] = []
    outcomes_of = {LINKEDIN: LINKEDIN_ITT_OUTCOMES, FULL: FULL_ITT_OUTCOMES}
    spark_frames = {FULL: full, LINKEDIN: linkedin}
    # The subgroups' cells are folded into the same aggregation: the moments add over cells.
    by = {FULL: _present(("has_linkedin_url", *adj.SUBGROUP_COLUMNS), full),
          LINKEDIN: _present(dict.fromkeys(("batch", LOGGED_IN, *adj.SUBGROUP_COLUMNS)), linkedin)}
    pairs = {LINKEDIN: {o: LATE_ENDOGENOUS for o in LATE_OUTCOMES
                        if o in linkedin.columns and LATE_ENDOGENOUS in linkedin.columns}, FULL: {}}
    balance_numeric = {FULL: BALANCE_NUMERIC, LINKEDIN: BALANCE_NUMERIC + BALANCE_LINKEDIN_EXTRA}
    summary_numeric = (TREATMENT, *BALANCE_NUMERIC, *BALANCE_LINKEDIN_EXTRA, *SUMMARY_OUTCOMES)
    # One aggregation of the moments and one of the levels per sample, keyed by the outcomes each row knows for the
    # adjusted ITTs' covariates (moments.per_outcome_rows).
    covariates = {sample: moments.lin_covariates(frame, numeric=_controls(sample))
                  for sample, frame in spark_frames.items()}
    per_outcome_cells, per_outcome_levels = {}, {}
    for sample, frame in spark_frames.items():
        numeric, categorical = covariates[sample]
        rows_by_outcome = moments.per_outcome_rows(frame, _present(outcomes_of[sample], frame))
        per_outcome_cells[sample] = moments.outcome_moments(rows_by_outcome, _present(dict.fromkeys(
            [*outcomes_of[sample], *summary_numeric, *balance_numeric[sample], *numeric]), frame),
            by=[moments.OUTCOME, *by[sample]], pairs=pairs[sample], extremes=numeric)
        per_outcome_levels[sample] = moments.level_counts(
            rows_by_outcome, _present(dict.fromkeys([*BALANCE_CATEGORICAL, *categorical]), frame),
            by=[moments.OUTCOME])
    cells = {sample: moments.rows_of(per_outcome_cells[sample]) for sample in spark_frames}
    levels = {sample: moments.rows_of(per_outcome_levels[sample]) for sample in spark_frames}
    size = {sample: int(cells[sample][moments.COUNT].sum()) for sample in spark_frames}

    for sample in spark_frames:
        arm = cells[sample].groupby(moments.ARM)[moments.COUNT].sum()
        srm = sample_ratio_of_counts(int(arm.get(1, 0)), int(arm.get(0, 0)))
        share = {"estimate": srm["share_treated"], "baseline": 0.5, "n_treatment": srm["n_treatment"],
                 "n_control": srm["n_control"], "p_value": srm["p_value"],
                 "se": math.sqrt(0.25 / max(1, srm["n_treatment"] + srm["n_control"]))}
        rows.append(_row(snapshot_id, "srm", TREATMENT, sample, "all", "chi2_vs_50_50", share))

    balances: dict[str, pd.DataFrame] = {}
    for sample in spark_frames:
        table = moments.balance_from_moments(moments.indicator_moments(
            cells[sample], levels[sample], balance_numeric[sample], BALANCE_CATEGORICAL))
        balances[sample] = table
        for record in table.to_dict("records"):
            result = {**record, "estimate": record["difference"], "baseline": record["control_mean"],
                      "baseline_se": record["control_mean_se"]}
            rows.append(_row(snapshot_id, "balance", record["covariate"], sample, "all", ESTIMATOR_DIM, result))

    # Lin's adjusted ITTs and the Table 14 LPMs: every fit of a sample in the same two passes over its rows.
    table14_views = (_present(FULL_ITT_OUTCOMES, linkedin)
                     if TABLE14_REGRESSOR in linkedin.columns and size[LINKEDIN] >= 10 else [])
    fits: dict[str, dict] = {}
    for sample, frame in spark_frames.items():
        lin = _present(outcomes_of[sample], frame) if size[sample] >= 50 else []
        extra = [moments.lpm_fit(view, TABLE14_REGRESSOR) for view in table14_views] if sample == LINKEDIN else []
        if not lin and not extra:
            continue
        designs = _guarded(notes, f"adjusted ITTs ({sample})", lambda: moments.lin_designs_of_cells(
            per_outcome_cells[sample], per_outcome_levels[sample], lin, numeric=covariates[sample][0],
            categorical=covariates[sample][1])) or {}
        results = moments.ols_hc2_fits(frame, [fit for _, fit in designs.values()] + extra)
        fits[sample] = {("lin", outcome): (cells_of, result)
                        for (outcome, (cells_of, _)), result in zip(designs.items(), results)}
        fits[sample].update({("lpm", fit.outcome): (None, result)
                             for fit, result in zip(extra, results[len(designs):])})

    # ITT, unadjusted and adjusted (Lin), for every binary outcome (Table 3 OLS rows, Table 6, Table 13).
    adjusted: dict[tuple[str, str], dict | None] = {}
    for sample in (LINKEDIN, FULL):
        for outcome in outcomes_of[sample]:
            if outcome not in spark_frames[sample].columns:
                notes.append(f"{sample} sample has no column {outcome}: ITT skipped")
                continue
            rows.append(_row(snapshot_id, "itt", outcome, sample, "all", ESTIMATOR_DIM,
                             moments.itt_from_cells(cells[sample], outcome)))
            if ("lin", outcome) in fits.get(sample, {}):
                cells_of, fit = fits[sample][("lin", outcome)]
                result = _guarded(notes, f"adjusted ITT for {outcome} ({sample})",
                                  lambda: moments.lin_itt_of_fit(cells_of, outcome, fit))
                adjusted[(sample, outcome)] = result
                if result is not None:
                    rows.append(_row(snapshot_id, "itt_adjusted", outcome, sample, "all", ESTIMATOR_LIN, result))

    if SHARE_OUTCOME in linkedin.columns and "batch" in linkedin.columns:
        linked = cells[LINKEDIN]
        batches = sorted(linked["batch"].dropna().unique())
        for batch in batches:
            rows.append(_row(snapshot_id, "itt", SHARE_OUTCOME, LINKEDIN, f"batch={_label(batch)}", ESTIMATOR_DIM,
                             moments.itt_from_cells(linked.loc[linked["batch"] == batch], SHARE_OUTCOME)))
        if LOGGED_IN in linkedin.columns:
            logged = linked.loc[linked[LOGGED_IN] == 1]
            rows.append(_row(snapshot_id, "itt", SHARE_OUTCOME, LINKEDIN, f"{LOGGED_IN}=1", ESTIMATOR_DIM,
                             moments.itt_from_cells(logged, SHARE_OUTCOME)))
            for batch in sorted(logged["batch"].dropna().unique()):
                rows.append(_row(snapshot_id, "itt", SHARE_OUTCOME, LINKEDIN,
                                 f"{LOGGED_IN}=1 & batch={_label(batch)}", ESTIMATOR_DIM,
                                 moments.itt_from_cells(logged.loc[logged["batch"] == batch], SHARE_OUTCOME)))

    for outcome in pairs[LINKEDIN]:
        result = moments.late_from_cells(cells[LINKEDIN], outcome)
        rows.append(_row(snapshot_id, "late", outcome, LINKEDIN, "all", f"2sls_{LATE_COV_TYPE.lower()}", result))
        if result["first_stage_f"] < 10:
            notes.append(f"weak first stage for the LATE on {outcome}: robust F = {result['first_stage_f']:.1f}")

    if cox and size[LINKEDIN] == 0:
        notes.append("the LinkedIn sample is empty: no Cox models")
    elif cox:
        events = [(event, time) for event, time in COX_OUTCOMES
                  if {event, time, "followup_months"} <= set(linkedin.columns)]
        durations = _guarded(notes, "Cox models", lambda: moments.event_duration_counts(linkedin, events)) or {}
        for event, _ in events:
            if event in durations:
                result = _guarded(notes, f"Cox model for {event}",
                                  lambda: moments.cox_itt_from_counts(durations[event]))
                if result is not None:
                    rows.append(_row(snapshot_id, "cox", event, LINKEDIN, "all", "cox_ph_log_hr_strata_batch", result))
        rows += table3_rows(linkedin, snapshot_id=snapshot_id, notes=notes,
                            shared=adjusted.get((LINKEDIN, SHARE_OUTCOME)))

    if heterogeneity and size[LINKEDIN] >= 300 and "new_job" in linkedin.columns:
        if EMPLOYABILITY_KEY in linkedin.columns:
            rows += tercile_rows(linkedin, snapshot_id=snapshot_id, notes=notes, cox=cox)
        else:
            notes.append(f"LinkedIn sample has no {EMPLOYABILITY_KEY}: employability terciles skipped (their "
                         "cross-fitting folds are a function of it)")
    if heterogeneity:
        rows += subgroup_rows(cells, outcomes_of, snapshot_id=snapshot_id)

    table14_r2: dict[str, float] = {}
    for view in table14_views:
        result = moments.lpm_of_fit(fits[LINKEDIN][("lpm", view)][1])
        table14_r2[view] = result["r_squared"]
        rows.append(_row(snapshot_id, "views_vs_new_job", view, LINKEDIN, "all", "lpm_ols_hc2", result))

    summary = moments.summary_from_moments(
        *(moments.indicator_moments(cells[sample], levels[sample], summary_numeric, BALANCE_CATEGORICAL)
          for sample in (FULL, LINKEDIN)))
    for record in summary.to_dict("records"):
        for sample, prefix in ((FULL, "full"), (LINKEDIN, "linkedin")):
            if record[f"{prefix}_n"]:
                rows.append(_row(snapshot_id, "summary", record["variable"], sample, "all", "mean",
                                 {"estimate": record[f"{prefix}_mean"], "se": record[f"{prefix}_se"],
                                  "n": record[f"{prefix}_n"]}))
        if np.isfinite(record["difference"]):
            rows.append(_row(snapshot_id, "summary", record["variable"], "linkedin_minus_full", "all",
                             "subsample_difference", {
                                 "estimate": record["difference"], "se": record["difference_se"],
                                 "ci_low": record["difference"] - Z95 * record["difference_se"],
                                 "ci_high": record["difference"] + Z95 * record["difference_se"],
                                 "p_value": record["p_value"], "n": record["linkedin_n"]}))

    def arm_counts(part: pd.DataFrame) -> dict[int, int]:
        return {arm: int(part.loc[part[moments.ARM] == arm, moments.COUNT].sum()) for arm in (1, 0)}

    with_url = (arm_counts(cells[FULL].loc[cells[FULL]["has_linkedin_url"] == 1]) if by[FULL] else None)
    counts = adj.stage_counts(arm_counts(cells[FULL]), with_url, arm_counts(cells[LINKEDIN]), match_by_arm)
    attrition = adj.attrition(counts)
    if match_by_arm is None:
        notes.append("no profile match report by arm for this snapshot: the attrition table shows URL -> matched "
                     "only (the fetched and parsed stages need the feature job's report)")
    for record in attrition.to_dict("records"):
        if not record["nested"]:
            notes.append(f"attrition: more learners reached {record['stage']} than {record['from_stage']} in an arm "
                         f"(treatment {record['n_treatment']}/{record['base_treatment']}, control "
                         f"{record['n_control']}/{record['base_control']}): the match report by arm disagrees with "
                         f"the tables; no SE for that row")
        rows.append(_row(snapshot_id, "attrition", record["stage"], FULL, f"from={record['from_stage']}",
                         "difference_in_shares_neyman", {
                             "estimate": record["difference"], "se": record["se"], "p_value": record["p_value"],
                             "baseline": record["share_control"], "treatment_mean": record["share_treatment"],
                             "n_treatment": record["n_treatment"], "n_control": record["n_control"],
                             "ci_low": record["difference"] - Z95 * record["se"],
                             "ci_high": record["difference"] + Z95 * record["se"]}))

    curves = pd.DataFrame(columns=["batch", TREATMENT, "month", "n_observed", "n_with_job", "share", *CURVE_BANDS])
    if {"new_job", "months_to_new_job", "followup_months", "batch"} <= set(linkedin.columns):
        curves = moments.cumulative_share_from_counts(moments.event_month_counts(spark_frames[LINKEDIN]))
    else:
        notes.append("LinkedIn sample lacks the survival columns: Figure 2 skipped")

    estimates = pd.DataFrame(rows, columns=ESTIMATE_COLUMNS)
    for column in COUNT_COLUMNS:
        estimates[column] = estimates[column].fillna(0).astype("int64")
    return Estimates(estimates, balances, curves, notes, summary=summary, attrition=attrition,
                     table14_r2=table14_r2)


def table3_rows(linkedin: DataFrame, *, snapshot_id: str, notes: list[str], shared: dict | None) -> list[dict]:
    """The 2025 paper's Table 3: credential_shared by OLS with controls (Lin's regression: `shared`, the adjusted
    ITT of the LinkedIn sample, None when it failed) and the employment outcomes by Cox with controls (two rows
    each: log hazard ratio, and the effect in pp at the control group's follow-up), in Panel A (the LinkedIn
    sample) and Panel B (prior job not in scope). Every Cox model is fitted in the same Spark passes
    (jobs/readout/cox_moments.py)."""
    rows: list[dict] = []
    columns = set(linkedin.columns)
    panels = {"all": None}
    panel_outcomes = {"all": [label for label, *_ in TABLE3_SURVIVAL]}
    if "past_job_in_scope" in columns:
        panels[TABLE3_PANEL_B] = F.col("past_job_in_scope") == 0
        panel_outcomes[TABLE3_PANEL_B] = list(TABLE3_PANEL_B_OUTCOMES)
    else:
        notes.append("LinkedIn sample has no past_job_in_scope: Table 3 Panel B skipped")
    sizes = linkedin.agg(*[F.count(F.lit(1) if condition is None else F.when(condition, F.lit(1))).alias(panel)
                           for panel, condition in panels.items()]).first().asDict()
    models = [cox_moments.CoxModel(subgroup, event, time) for subgroup in panels if sizes[subgroup] >= 50
              for label, event, time in TABLE3_SURVIVAL
              if label in panel_outcomes[subgroup] and {event, "followup_months"} <= columns]
    fits = _guarded(notes, "Table 3 Cox models", lambda: cox_moments.cox_adjusted_fits(linkedin, models, panels)) or {}
    for subgroup in panels:
        if sizes[subgroup] < 50:
            continue
        if subgroup == "all" and shared is not None:
            rows.append(_row(snapshot_id, "table3", SHARE_OUTCOME, LINKEDIN, subgroup, ESTIMATOR_LIN, shared))
        for label, event, time in TABLE3_SURVIVAL:
            model = cox_moments.CoxModel(subgroup, event, time)
            if model not in fits:
                continue
            result = _guarded(notes, f"Table 3 Cox model for {label} ({subgroup})", lambda: _result_of(fits[model]))
            if result is None:
                continue
            if result["fit_warnings"]:
                notes.append(f"Table 3 Cox model for {label} ({subgroup}): {result['fit_warnings'][0]}")
            if result["imputed_times"] and subgroup == "all":
                notes.append(f"{time} is not in the table: derived from the 1-month column; "
                             f"{result['imputed_times']} event months are unknown in [4, follow-up] and set to 4")
            rows.append(_row(snapshot_id, "table3", label, LINKEDIN, subgroup, ESTIMATOR_COX_HR, {
                **result, "effect_pct": 100.0 * (result["hazard_ratio"] - 1.0),
                "effect_pct_se": 100.0 * result["hazard_ratio"] * result["se"],
                "baseline": result["observed_baseline"]}))
            pp = result["pp_effect"]
            rows.append(_row(snapshot_id, "table3", label, LINKEDIN, subgroup, ESTIMATOR_COX_PP, {
                **result, "estimate": pp, "se": result["pp_se"], "ci_low": pp - Z95 * result["pp_se"],
                "ci_high": pp + Z95 * result["pp_se"]}))
    return rows


def tercile_rows(linkedin: DataFrame, *, snapshot_id: str, notes: list[str], cox: bool) -> list[dict]:
    """The 2025 paper's Table 4 design: per tercile of baseline employability (jobs/readout/employability.py) the
    ITT and (with `cox`) the unadjusted Cox model of each heterogeneity outcome."""
    outcomes = _present(HETEROGENEITY_OUTCOMES, linkedin)
    tercile = employability.employability_terciles(linkedin)
    cells, durations = employability.tercile_moments(linkedin, tercile, outcomes, cox=cox)
    rows: list[dict] = []
    for name in employability.TERCILES:
        part = cells.loc[cells[employability.TERCILE] == name]
        subgroup = f"employability={name}"
        for outcome in outcomes:
            rows.append(_row(snapshot_id, "itt", outcome, LINKEDIN, subgroup, ESTIMATOR_DIM,
                             moments.itt_from_cells(part, outcome)))
            if outcome in durations:
                counts = employability.of_tercile(durations[outcome], name)
                result = _guarded(notes, f"Cox model for {outcome} ({subgroup})",
                                  lambda: moments.cox_itt_from_counts(counts))
                if result is not None:
                    rows.append(_row(snapshot_id, "cox", outcome, LINKEDIN, subgroup, "cox_ph_log_hr_strata_batch",
                                     result))
    return rows


def _result_of(fit: dict | Exception) -> dict:
    if isinstance(fit, Exception):
        raise fit
    return fit


def subgroup_rows(cells_of: Mapping[str, pd.DataFrame], outcomes_of: Mapping[str, Sequence[str]], *,
                  snapshot_id: str) -> list[dict]:
    """Effects by developing country, education (degree or not), primary domain and batch for every outcome
    (difference in means, HC2), with Benjamini-Hochberg adjusted p-values over the whole family of subgroup
    tests (p_adjusted). `cells_of` holds each sample's :func:`moments.outcome_moments` by the subgroup columns:
    a subgroup is the union of the cells its mask selects."""
    rows: list[dict] = []
    for sample, cells in cells_of.items():
        if not cells[moments.COUNT].sum():
            continue
        masks = adj.subgroups(cells)
        for outcome in outcomes_of[sample]:
            if f"n:{outcome}" not in cells:
                continue
            for name, mask in masks.items():
                part = cells.loc[mask]
                if (part.groupby(moments.ARM)[moments.COUNT].sum() > 0).sum() < 2:
                    continue
                rows.append(_row(snapshot_id, "heterogeneity", outcome, sample, name, ESTIMATOR_DIM,
                                 moments.itt_from_cells(part, outcome)))
    adjusted = adj.benjamini_hochberg([row["p_value"] for row in rows])
    for row, value in zip(rows, adjusted):
        row["p_adjusted"] = float(value)
    return rows
