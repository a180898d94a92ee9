"""Validate a run's staged tables before anything is published: GX suites plus experiment-integrity gates.

Findings come from:
- the Great Expectations suites in expectations/ (schema, keys, value sets, flags, counts, ordering);
- plausibility bands for rates (expectations/bands.json), blocking only on a clear binomial deviation;
- sample-ratio mismatch (chi-square against the planned 50/50, overall, per batch and per stratum);
- covariate balance (standardized mean differences of pre-treatment covariates);
- attrition into the LinkedIn table (matched share by arm);
- volume against the previous published snapshot, each source's freshness (Config.source_freshness),
  quarantine share.

A "failure" finding blocks publishing; a "warning" is reported and alerted but does not. GX runs on pandas
frames read from the staged Parquet: on Spark, GX computes each metric as its own Spark job (24 s for five
expectations on a three-row frame here), on pandas the whole suite takes about a second for 900k rows.
"""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd

from credsignal.core.config import DEFAULT_SOURCE_FRESHNESS, SourceFreshness

log = logging.getLogger(__name__)

OK, WARNING, FAILURE = "ok", "warning", "failure"
SRM_BLOCK_P = 0.001  # GrowthBook's and Eppo's convention
SRM_WARN_P = 0.01  # Statsig warns between 0.001 and 0.01
SMD_WARN = 0.1
ATTRITION_WARN_P = 0.01
# Share of randomized learners without a learner version by their randomization day above which the run warns: a
# few (a quarantined early row) are noise; many mean the export lacks the history (a current-state snapshot).
NO_VERSION_WARN_SHARE = 0.01
BANDS_FILE = "bands.json"  # a resource of the expectations package

FULL_BALANCE_COVARIATES = ("primary_domain", "credential_type", "developing_country", "education_level", "gender",
                           "main_skill_standardized")
LINKEDIN_BALANCE_COVARIATES = FULL_BALANCE_COVARIATES + ("professional_experience_years", "past_tech_job",
                                                         "past_managerial_job")


@dataclass
class Finding:
    table: str
    check: str
    severity: str
    observed: str
    expected: str
    p_value: float | None = None
    detail: str = ""
    # What to change when the check does not pass: the configuration key or the landing files (remedy_for).
    remedy: str = ""
    value: float | None = None  # the observed figure as a number, for the history's trend charts


@dataclass
class ValidationOutcome:
    run_id: str
    as_of: date
    findings: list[Finding] = field(default_factory=list)
    report_path: Path | None = None

    @property
    def blocked(self) -> bool:
        return any(f.severity == FAILURE for f in self.findings)

    def of_severity(self, severity: str) -> list[Finding]:
        return [f for f in self.findings if f.severity == severity]

    def report_frame(self) -> pd.DataFrame:
        """The `data_quality_report` table: one row per check of this run."""
        rows = [{"run_id": self.run_id, "as_of": self.as_of, **asdict(f)} for f in self.findings]
        columns = ["run_id", "as_of", "table", "check", "severity", "observed", "expected", "p_value", "detail",
                   "remedy"]
        return pd.DataFrame(rows, columns=columns).astype({"p_value": "float64"})


# ------------------------------------------------------------------------------------------- GX suites


def run_suite(table: str, frame: pd.DataFrame, as_of: date) -> list[Finding]:
    """Run the table's GX suite on the frame (with its consistency columns) and return one finding per expectation."""
    import great_expectations as gx
    from great_expectations.data_context.types.base import ProgressBarsConfig

    from expectations.suites import SUITES, add_consistency_columns

    batch = add_consistency_columns(frame)
    context = gx.get_context(mode="ephemeral")
    context.variables.progress_bars = ProgressBarsConfig(globally=False)
    batch_definition = (
        context.data_sources.add_pandas(name="staged")
        .add_dataframe_asset(name=table)
        .add_batch_definition_whole_dataframe("whole_table")
    )
    suite = context.suites.add(SUITES[table](as_of, list(batch.columns)))
    definition = context.validation_definitions.add(
        gx.ValidationDefinition(name=f"{table}_validation", data=batch_definition, suite=suite)
    )
    result = definition.run(batch_parameters={"dataframe": batch}, result_format="SUMMARY")
    findings = []
    for item in result.results:
        config = item.expectation_config
        kwargs = {k: v for k, v in config.kwargs.items() if k not in ("batch_id",)}
        summary = item.result or {}
        if "observed_value" in summary:
            observed = str(summary["observed_value"])
        else:
            examples = ", ".join(map(str, (summary.get("partial_unexpected_list") or [])[:5]))
            observed = f"{summary.get('unexpected_count', 0)} unexpected rows" + (f" (e.g. {examples})" if examples else "")
        if item.exception_info and item.exception_info.get("raised_exception"):
            observed = f"error: {item.exception_info.get('exception_message')}"
        findings.append(Finding(
            table=table,
            check=f"gx:{config.type}",
            severity=OK if item.success else FAILURE,
            observed=observed,
            expected=json.dumps(kwargs, default=str, sort_keys=True),
            value=_number(summary.get("observed_value", summary.get("unexpected_count"))),
        ))
    return findings


# ------------------------------------------------------------------------------------ integrity gates


def _number(value) -> float | None:
    """A finite float, or None (GX observed values can be lists, strings or dates)."""
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        return None
    return float(value) if math.isfinite(value) else None


def _srm_p_value(treated: int, control: int) -> float:
    from scipy.stats import chisquare

    if treated + control == 0:
        return 1.0
    return float(chisquare([treated, control]).pvalue)


def _srm_severity(p_value: float) -> str:
    return FAILURE if p_value < SRM_BLOCK_P else WARNING if p_value < SRM_WARN_P else OK


def sample_ratio_findings(table: str, frame: pd.DataFrame) -> list[Finding]:
    """Chi-square test of arm counts against the planned 50/50: overall, per batch and per stratum.

    The per-batch and per-stratum p-values are Bonferroni-adjusted over the groups tested at that level (p times
    the number of groups, at most 1) before the 0.001 / 0.01 thresholds apply, so the chance that a clean run is
    blocked stays at 0.1% per level however many groups there are. Unadjusted, the LinkedIn table's ~120
    batch x stratum groups block a clean night about one time in nine (1 - 0.999^120): the 2x-scale benchmark
    was blocked by a stratum at 721 vs 586 (p = 0.00019, adjusted 0.023). The finding's p_value is the adjusted one.
    """
    findings = []
    groupings: list[tuple[str, list[str]]] = [("overall", []), ("batch", ["batch"]), ("stratum", ["batch", "stratum"])]
    for level, keys in groupings:
        groups = [((), frame)] if not keys else list(frame.groupby(keys, sort=True))
        for key, group in groups:
            treated = int(group["treatment"].sum())
            control = int(len(group) - treated)
            raw_p_value = _srm_p_value(treated, control)
            p_value = min(1.0, raw_p_value * len(groups))
            severity = _srm_severity(p_value)
            if level != "overall" and severity == OK:
                continue  # per-group passes would drown the report; their count is in the summary line below
            label = level if not keys else f"{level} {key if not isinstance(key, tuple) else '/'.join(map(str, key))}"
            detail = "" if len(groups) == 1 else f"unadjusted p={raw_p_value:.3g}, Bonferroni over {len(groups)} groups"
            findings.append(Finding(table, f"srm:{label}", severity, f"treatment={treated} control={control}",
                                    "50/50", p_value, detail, value=p_value))
        if keys:
            findings.append(Finding(table, f"srm:{level}s_tested", OK, f"{len(groups)} groups tested", "50/50",
                                    value=len(groups)))
    return findings


def _indicator_columns(frame: pd.DataFrame, covariate: str) -> dict[str, pd.Series]:
    column = frame[covariate]
    if pd.api.types.is_numeric_dtype(column) and column.dropna().nunique() > 2 or covariate in (
            "developing_country", "past_tech_job", "past_managerial_job"):
        return {covariate: column.astype("float64")}
    if pd.api.types.is_numeric_dtype(column):
        return {covariate: column.astype("float64")}
    return {f"{covariate}={level}": (column == level).astype("float64") for level in sorted(column.dropna().unique())}


def standardized_mean_difference(treated: pd.Series, control: pd.Series) -> float:
    treated, control = treated.dropna(), control.dropna()
    if len(treated) < 2 or len(control) < 2:
        return float("nan")
    pooled = math.sqrt((treated.var(ddof=1) + control.var(ddof=1)) / 2)
    difference = treated.mean() - control.mean()
    return 0.0 if pooled == 0 and difference == 0 else float(difference / pooled) if pooled else float("inf")


def balance_findings(table: str, frame: pd.DataFrame, covariates: Sequence[str]) -> list[Finding]:
    """|standardized mean difference| between arms for each pre-treatment covariate (each level of a category)."""
    findings = []
    is_treated = frame["treatment"] == 1
    for covariate in covariates:
        if covariate not in frame:
            continue
        for name, values in _indicator_columns(frame, covariate).items():
            smd = standardized_mean_difference(values[is_treated], values[~is_treated])
            severity = WARNING if not math.isnan(smd) and abs(smd) >= SMD_WARN else OK
            findings.append(Finding(table, f"balance:{name}", severity, f"smd={smd:.4f}", f"|smd| < {SMD_WARN}",
                                    value=_number(smd)))
    return findings


def attrition_findings(full: pd.DataFrame, linkedin: pd.DataFrame) -> list[Finding]:
    """The share of each arm that made it into the LinkedIn table; a differential share threatens the study."""
    from scipy.stats import chi2_contingency

    matched = full["learner_key"].isin(linkedin["learner_key"])
    counts = pd.crosstab(full["treatment"], matched).reindex(index=[0, 1], columns=[False, True], fill_value=0)
    shares = {arm: counts.loc[arm, True] / max(1, counts.loc[arm].sum()) for arm in (0, 1)}
    if counts.values.sum() == 0 or (counts.sum(axis=0) == 0).any():
        p_value = 1.0
    else:
        p_value = float(chi2_contingency(counts.values, correction=False).pvalue)
    severity = WARNING if p_value < ATTRITION_WARN_P else OK
    return [Finding("learner_outcomes_linkedin", "attrition:matched_share_by_arm", severity,
                    f"treatment={shares[1]:.4f} control={shares[0]:.4f}", "equal shares", p_value, value=p_value)]


def load_bands(path: Path | None = None) -> dict:
    """The rate bands of expectations/bands.json (or of another file, in tests)."""
    if path is None:
        from importlib import resources

        return json.loads(resources.files("expectations").joinpath(BANDS_FILE).read_text(encoding="utf-8"))
    return json.loads(Path(path).read_text(encoding="utf-8"))


def band_findings(table: str, frame: pd.DataFrame, bands: Mapping) -> list[Finding]:
    """A rate outside its band warns; it fails only if a binomial test says the deviation is clear."""
    from scipy.stats import binomtest

    block_p = bands.get("block_p_value", 0.001)
    findings = []
    for column, band in bands.get(table, {}).items():
        if column not in frame:
            continue
        values = frame[column].dropna()
        n, k = int(len(values)), int(values.sum())
        if n == 0:
            continue
        rate = k / n
        expected = f"[{band['low']}, {band['high']}] (paper {band['paper']})"
        if band["low"] <= rate <= band["high"]:
            findings.append(Finding(table, f"band:{column}", OK, f"{rate:.4f} (n={n})", expected, value=rate))
            continue
        edge, alternative = (band["low"], "less") if rate < band["low"] else (band["high"], "greater")
        p_value = float(binomtest(k, n, edge, alternative=alternative).pvalue)
        severity = FAILURE if p_value < block_p else WARNING
        findings.append(Finding(table, f"band:{column}", severity, f"{rate:.4f} (n={n})", expected, p_value,
                                value=rate))
    return findings


def volume_findings(table: str, rows: int, previous_rows: int | None, max_change_pct: float) -> list[Finding]:
    if previous_rows is None:
        return [Finding(table, "volume:vs_previous_snapshot", OK, f"{rows} rows", "no previous snapshot", value=rows)]
    change = 100.0 * (rows - previous_rows) / max(1, previous_rows)
    severity = FAILURE if abs(change) > max_change_pct else OK
    return [Finding(table, "volume:vs_previous_snapshot", severity, f"{rows} rows ({change:+.1f}%)",
                    f"within ±{max_change_pct}% of {previous_rows}", value=rows)]


def freshness_findings(newest_export_days: Mapping[str, date | None], as_of: date,
                       freshness: Mapping[str, SourceFreshness | None]) -> list[Finding]:
    """One finding per source, judged by its own newest complete export day on or before as_of (dbt-style source
    freshness, Config.source_freshness): a source with a freshness warns once it is warn_after days behind as_of
    and blocks once it is error_after days behind; an event-driven source (no freshness) is never stale."""
    findings = []
    for source, rule in freshness.items():
        newest = newest_export_days.get(source)
        table = f"landing.{source}"
        if rule is None:
            findings.append(Finding(table, "freshness:newest_export", OK, str(newest or "no export yet"),
                                    "event-driven (no freshness): a dt folder only on days with rows"))
            continue
        expected = " ".join(part for part in (
            f"warn at {rule.warn_after} day(s) behind {as_of}," if rule.warn_after else "",
            f"error at {rule.error_after} day(s)" if rule.error_after else "no error")
            if part)
        lag = None if newest is None else (as_of - newest).days
        if lag is None:
            severity, observed = (FAILURE if rule.error_after else WARNING), f"no complete export on or before {as_of}"
        else:
            severity = (FAILURE if rule.error_after and lag >= rule.error_after
                        else WARNING if rule.warn_after and lag >= rule.warn_after else OK)
            observed = f"{newest} ({lag} day(s) behind as_of)"
        detail = "" if severity == OK else f"{source} delivers every day; its newest complete dt folder: {newest}"
        findings.append(Finding(table, "freshness:newest_export", severity, observed, expected, detail=detail,
                                value=lag))
    return findings


def quarantine_findings(accounts: Sequence[Mapping], max_share: float) -> list[Finding]:
    """Per source: the share of this run's lines that went to quarantine (a renamed column sends them all)."""
    findings = []
    for account in accounts:
        rows_in = account["rows_in"]
        share = account["rows_quarantined"] / rows_in if rows_in else 0.0
        severity = FAILURE if share > max_share else OK
        top = sorted(account.get("quarantined", {}).items(), key=lambda kv: -kv[1])[:3]
        findings.append(Finding(f"bronze.{account['source']}", "quarantine:share", severity,
                                f"{share:.4f} of {rows_in} lines", f"≤ {max_share}",
                                detail=", ".join(f"{reason}: {n}" for reason, n in top), value=share))
    return findings


def learner_version_findings(learners_without_version: int | None, randomized_learners: int) -> list[Finding]:
    """Learners with no learner version by the end of their randomization day: their covariates come from their
    earliest (later) version and their URL does not count (jobs.features.learner_covariates). Always reported;
    a warning above NO_VERSION_WARN_SHARE of the randomized learners (the export then lacks the history that
    makes covariates pre-treatment)."""
    if learners_without_version is None:
        return []
    share = learners_without_version / randomized_learners if randomized_learners else 0.0
    severity = WARNING if share > NO_VERSION_WARN_SHARE else OK
    return [Finding("learner_outcomes_full", "covariates:no_learner_version_by_randomization", severity,
                    f"{learners_without_version} of {randomized_learners} learners ({share:.4f})",
                    f"share ≤ {NO_VERSION_WARN_SHARE}",
                    detail="covariates from the earliest version after randomization; LinkedIn URL not counted")]


def _column_of(finding: Finding) -> str | None:
    """The column a GX finding is about (its expectation's `column` or `column_list` argument), if any."""
    try:
        kwargs = json.loads(finding.expected)
    except (TypeError, ValueError):
        return None
    if not isinstance(kwargs, dict):
        return None
    column = kwargs.get("column") or kwargs.get("column_list")
    return ", ".join(column) if isinstance(column, list) else column


def remedy_for(finding: Finding) -> str:
    """What to change when `finding` does not pass, naming the configuration key (CREDSIGNAL_*; Airflow Variable
    credsignal_<key>) or the landing files. docs/operations.md has the longer runbook."""
    kind, _, subject = finding.check.partition(":")
    table = finding.table
    if kind == "gx":
        column = _column_of(finding)
        about = f"column {column} of {table}" if column else f"table {table}"
        return (f"{about} broke its contract: find the column's source in docs/data_dictionary.md and check that "
                f"source's landing files (landing/platform/<source>/dt=*/) and their quarantine (lake/quarantine/)")
    if kind == "srm":
        return ("arm counts are off 50/50: check landing/platform/experiment_assignments/ for missing, partial or "
                "repeated days, and that CREDSIGNAL_EXPERIMENT_ID names the study's experiment")
    if kind == "balance":
        covariate = subject.split("=", 1)[0]
        return (f"pre-treatment covariate {covariate} differs between arms: check that landing/platform/learners/ "
                f"(and skill_scores) deliver every version with its real updated_at / measured_at, so covariates "
                f"are as of randomization; small LinkedIn samples also show this by chance")
    if kind == "band":
        return (f"the rate of {subject} left its band: check the landing files of its source (docs/data_dictionary.md)"
                f", or change the band in expectations/bands.json if the study itself changed")
    if kind == "volume":
        return (f"{table}'s row count moved against the live snapshot: check landing/platform/experiment_assignments/ "
                f"for missing or extra days and CREDSIGNAL_EXPERIMENT_ID; raise CREDSIGNAL_MAX_VOLUME_CHANGE_PCT if "
                f"the change is expected")
    if kind == "freshness":
        source = table.removeprefix("landing.")
        return (f"{source} delivers every day: deliver its missing export days (landing/platform/{source}/"
                f"dt=YYYY-MM-DD/ with its _SUCCESS marker), or, if {source} no longer delivers every day, set its "
                f"entry of CREDSIGNAL_SOURCE_FRESHNESS (Airflow Variable credsignal_source_freshness) to null; "
                f"an explicit CREDSIGNAL_AS_OF is judged on the days up to it")
    if kind == "quarantine":
        source = table.removeprefix("bronze.")
        return (f"fix the lines of landing/platform/{source}/ that went to lake/quarantine/{source}/ (their reason is "
                f"beside each line), or raise CREDSIGNAL_MAX_QUARANTINE_SHARE")
    if kind == "attrition":
        return ("the LinkedIn match differs by arm: check that the crawl (landing/linkedin/crawl=*/) fetched the URLs "
                "of both arms, and _reports/profile_match.json for URLs given or changed after randomization")
    if kind == "landing":
        source = table.removeprefix("bronze.")
        return (f"landing/platform/{source}/dt=<day>/ lost its _SUCCESS after ingestion: wait for the re-delivery and "
                f"re-run the day, or delete the day's bronze, quarantine and ingest report (docs/operations.md, "
                f"'A withdrawn export day')")
    if kind == "covariates":
        return ("deliver the learners export's history: one row per learner version with its updated_at "
                "(landing/platform/learners/), including the versions before randomization")
    return f"see docs/operations.md for check {finding.check} of {table}"


def withdrawn_export_findings(withdrawn: Mapping[str, Sequence[date]]) -> list[Finding]:
    """Per source with any: export days in bronze whose landing `_SUCCESS` is gone. Bronze keeps what was ingested
    and no rerun refreshes it until the platform re-delivers the day (docs/operations.md, 'A withdrawn export day')."""
    return [
        Finding(f"bronze.{source}", "landing:withdrawn_exports", WARNING,
                f"{len(days)} day(s) in bronze without a complete export", "every ingested day still has _SUCCESS",
                detail=", ".join(d.isoformat() for d in days))
        for source, days in sorted(withdrawn.items()) if days
    ]


# ------------------------------------------------------------------------------------------------ run


@dataclass(frozen=True)
class RunFacts:
    """What the gates compare against, gathered by the caller."""

    previous_rows: Mapping[str, int] = field(default_factory=dict)
    newest_export_days: Mapping[str, date | None] = field(default_factory=dict)  # per source, on or before as_of
    ingest_accounts: Sequence[Mapping] = ()
    withdrawn_exports: Mapping[str, Sequence[date]] = field(default_factory=dict)
    max_volume_change_pct: float = 20.0
    max_quarantine_share: float = 0.05
    source_freshness: Mapping[str, SourceFreshness | None] = field(
        default_factory=lambda: dict(DEFAULT_SOURCE_FRESHNESS))
    # From the feature job's report; None when it was not given (then no finding).
    learners_without_version_at_randomization: int | None = None


def validate(tables: Mapping[str, pd.DataFrame], *, run_id: str, as_of: date, facts: RunFacts,
             bands: Mapping | None = None) -> ValidationOutcome:
    bands = load_bands() if bands is None else bands
    outcome = ValidationOutcome(run_id, as_of)
    for name, frame in tables.items():
        outcome.findings += run_suite(name, frame, as_of)
        outcome.findings += sample_ratio_findings(name, frame)
        covariates = LINKEDIN_BALANCE_COVARIATES if name == "learner_outcomes_linkedin" else FULL_BALANCE_COVARIATES
        outcome.findings += balance_findings(name, frame, covariates)
        outcome.findings += band_findings(name, frame, bands)
        outcome.findings += volume_findings(name, len(frame), facts.previous_rows.get(name), facts.max_volume_change_pct)
    if {"learner_outcomes_full", "learner_outcomes_linkedin"} <= set(tables):
        outcome.findings += attrition_findings(tables["learner_outcomes_full"], tables["learner_outcomes_linkedin"])
    outcome.findings += freshness_findings(facts.newest_export_days, as_of, facts.source_freshness)
    outcome.findings += quarantine_findings(facts.ingest_accounts, facts.max_quarantine_share)
    randomized = len(tables["learner_outcomes_full"]) if "learner_outcomes_full" in tables else 0
    outcome.findings += learner_version_findings(facts.learners_without_version_at_randomization, randomized)
    outcome.findings += withdrawn_export_findings(facts.withdrawn_exports)
    for finding in outcome.findings:
        finding.remedy = finding.remedy or remedy_for(finding)
    failures, warnings = outcome.of_severity(FAILURE), outcome.of_severity(WARNING)
    log.info("validate run=%s: %d checks, %d failures, %d warnings%s", run_id, len(outcome.findings), len(failures),
             len(warnings), " -> publishing BLOCKED" if failures else "")
    return outcome


def render_text(outcome: ValidationOutcome, limit: int = 20) -> str:
    lines = [f"validation run {outcome.run_id} (as_of {outcome.as_of}): "
             f"{'BLOCKED' if outcome.blocked else 'passed'}; {len(outcome.of_severity(FAILURE))} failures, "
             f"{len(outcome.of_severity(WARNING))} warnings of {len(outcome.findings)} checks"]
    for finding in (outcome.of_severity(FAILURE) + outcome.of_severity(WARNING))[:limit]:
        p = "" if finding.p_value is None else f" p={finding.p_value:.3g}"
        lines.append(f"  {finding.severity.upper():8} {finding.table} {finding.check}: observed {finding.observed};"
                     f" expected {finding.expected}{p}")
        if finding.remedy:
            lines.append(f"           what to change: {finding.remedy}")
    return "\n".join(lines)


def read_staged(staged: Mapping[str, Path]) -> dict[str, pd.DataFrame]:
    """Staged Parquet folders (Spark output) as pandas frames, dates as pandas timestamps."""
    import pyarrow.dataset as ds

    return {
        # date_as_object=False: date columns (randomized_at) as datetime64, not datetime.date objects, which GX
        # cannot compare with its datetime bounds ("Could not parse metric_value ... into datetime").
        name: ds.dataset(path, format="parquet", exclude_invalid_files=True).to_table().to_pandas(date_as_object=False)
        for name, path in staged.items()
    }
