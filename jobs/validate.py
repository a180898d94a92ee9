"""Validate a run's staged tables before anything is published: GX suites plus experiment-integrity gates.

Findings come from:
- the Great Expectations suites in expectations/ (schema, keys, value sets, flags, counts, ordering);
- plausibility bands for rates (expectations/bands.json), blocking only on a clear binomial deviation;
- sample-ratio mismatch (chi-square against the planned 50/50, overall, per batch and per stratum);
- covariate balance (standardized mean differences of pre-treatment covariates);
- attrition into the LinkedIn table (matched share by arm);
- volume against the previous published snapshot, each source's freshness (Config.source_freshness),
  quarantine share.

A "failure" finding blocks publishing; a "warning" is reported and alerted but does not. Everything is computed
from Spark DataFrames of the staged Parquet in a few aggregations per table; only aggregates reach the driver,
so its memory does not grow with the tables. The GX suites are evaluated on metrics of one aggregation
(suite_findings): GX's Spark datasource ran many more Spark jobs for the same suite (bench/bench_validate.py),
and GX on pandas needed each whole table in the driver (11 GiB at 10x).

`main(argv)` runs the step as a spark-submit application and writes the outcome beside the report
(outcome_json / outcome_from_json), as the other jobs do (`--result`).
"""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import date, datetime
from pathlib import Path

import numpy as np
import pandas as pd
from pyspark.sql import Column, DataFrame, SparkSession, functions as F
from pyspark.sql.types import BooleanType, DoubleType, FloatType, NumericType

from credsignal.core.config import DEFAULT_SOURCE_FRESHNESS, SourceFreshness
from credsignal.core.storage import write_json_atomically

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
#
# The suites are GX ExpectationSuites (expectations/suites.py); they are evaluated here on metrics that one Spark
# aggregation computes for the whole suite (plus one grouping per uniqueness rule, and a look at a few unexpected
# rows only for a rule that fails). GX's own Spark execution engine computed each expectation's metrics as separate
# Spark jobs (bench/bench_validate.py measures both), and its pandas engine needed the whole table in the driver.


@dataclass(frozen=True)
class _Rule:
    """One expectation as Spark expressions: the rows it judges (`domain`) and, of those, the ones that break it."""

    columns: tuple[str, ...]
    domain: Column
    unexpected: Column


def _missing(frame: DataFrame, column: str) -> Column:
    """Null, or NaN in a floating column: what pandas (and so GX on pandas) counts as missing."""
    value = F.col(column)
    if isinstance(frame.schema[column].dataType, (DoubleType, FloatType)):
        return value.isNull() | F.isnan(value)
    return value.isNull()


def _rule(frame: DataFrame, kind: str, kwargs: Mapping) -> _Rule | None:
    """The row rule of a column-map or column-pair expectation; None for the table and aggregate ones."""
    if kind == "expect_column_values_to_not_be_null":
        column = kwargs["column"]
        return _Rule((column,), F.lit(True), _missing(frame, column))
    if kind == "expect_column_values_to_be_in_set":
        column = kwargs["column"]
        return _Rule((column,), ~_missing(frame, column), ~F.col(column).isin(list(kwargs["value_set"])))
    if kind == "expect_column_values_to_be_between":
        column, value = kwargs["column"], F.col(kwargs["column"])
        low, high = kwargs.get("min_value"), kwargs.get("max_value")
        broken = F.lit(False)
        if low is not None:
            broken = broken | ((value <= low) if kwargs.get("strict_min") else (value < low))
        if high is not None:
            broken = broken | ((value >= high) if kwargs.get("strict_max") else (value > high))
        return _Rule((column,), ~_missing(frame, column), broken)
    if kind == "expect_column_pair_values_a_to_be_greater_than_b":
        a, b = kwargs["column_A"], kwargs["column_B"]
        missing_a, missing_b = _missing(frame, a), _missing(frame, b)
        ignore = kwargs.get("ignore_row_if") or "both_values_are_missing"
        domain = {"both_values_are_missing": ~(missing_a & missing_b),
                  "either_value_is_missing": ~(missing_a | missing_b), "neither": F.lit(True)}[ignore]
        holds = (F.col(a) >= F.col(b)) if kwargs.get("or_equal") else (F.col(a) > F.col(b))
        # A comparison with a missing value is unknown in Spark and false in pandas, which GX then counts as broken.
        return _Rule((a, b), domain, ~F.coalesce(holds, F.lit(False)))
    return None


SUITE_AGGREGATES = {"expect_table_row_count_to_be_between", "expect_table_columns_to_match_set",
                    "expect_column_max_to_be_between", "expect_column_values_to_be_unique"}


def _between(value, kwargs: Mapping) -> bool:
    low, high = kwargs.get("min_value"), kwargs.get("max_value")
    if value is None:
        return False
    if isinstance(value, date) and not isinstance(value, datetime):
        value = pd.Timestamp(value)
    return (low is None or value >= low) and (high is None or value <= high)


def _mostly_holds(considered: int, unexpected: int, mostly: float | None) -> bool:
    if mostly is None:
        return unexpected == 0
    return considered == 0 or (considered - unexpected) / considered >= mostly


def _example(row) -> str:
    return str(row[0]) if len(row) == 1 else str(tuple(row))


def suite_findings(table: str, frame: DataFrame, as_of: date) -> list[Finding]:
    """Evaluate the table's GX suite on the frame (with its consistency columns): one finding per expectation.

    The metrics of every expectation come from one Spark aggregation; a uniqueness rule adds a grouping of its
    column, and only a rule that fails reads up to five of its unexpected rows for the report."""
    from expectations.suites import SUITES, add_consistency_columns

    batch = add_consistency_columns(frame)
    suite = SUITES[table](as_of, list(batch.columns))
    aggregates: dict[str, Column] = {"rows": F.count(F.lit(1))}
    plans = []
    for index, expectation in enumerate(suite.expectations):
        config = expectation.configuration
        kind, kwargs = config.type, dict(config.kwargs)
        missing = [c for c in (kwargs.get("column"), kwargs.get("column_A"), kwargs.get("column_B"))
                   if c is not None and c not in batch.columns]
        rule = None if missing else _rule(batch, kind, kwargs)
        if rule is not None:
            aggregates[f"considered_{index}"] = F.count(F.when(rule.domain, 1))
            aggregates[f"unexpected_{index}"] = F.count(F.when(rule.domain & rule.unexpected, 1))
        elif kind == "expect_column_max_to_be_between" and not missing:
            aggregates[f"max_{index}"] = F.max(F.when(~_missing(batch, kwargs["column"]), F.col(kwargs["column"])))
        elif kind not in SUITE_AGGREGATES and not missing:
            raise ValueError(f"no Spark evaluation for {kind}: add it to jobs.validate._rule")
        plans.append((index, kind, kwargs, rule, missing))
    metrics = batch.agg(*[value.alias(name) for name, value in aggregates.items()]).first().asDict()
    findings = []
    for index, kind, kwargs, rule, missing in plans:
        expected = json.dumps({k: v for k, v in kwargs.items() if k != "batch_id"}, default=str, sort_keys=True)
        observed_value = unexpected = None
        if missing:
            success, observed = False, f'error: Error: The column "{missing[0]}" in BatchData does not exist.'
        elif kind == "expect_table_row_count_to_be_between":
            observed_value = metrics["rows"]
            success = _between(observed_value, kwargs)
        elif kind == "expect_table_columns_to_match_set":
            observed_value = sorted(batch.columns)
            wanted = set(kwargs["column_set"] or [])
            success = wanted <= set(observed_value) and (not kwargs.get("exact_match", True)
                                                         or wanted == set(observed_value))
        elif kind == "expect_column_max_to_be_between":
            observed_value = metrics[f"max_{index}"]
            if isinstance(observed_value, date):
                observed_value = pd.Timestamp(observed_value)
            success = _between(observed_value, kwargs)
        else:
            if kind == "expect_column_values_to_be_unique":
                column = kwargs["column"]
                present = batch.where(~_missing(batch, column))
                duplicates = present.groupBy(column).count().where(F.col("count") > 1)
                unexpected = int(duplicates.agg(F.sum("count")).first()[0] or 0)
                considered = present.count() if kwargs.get("mostly") is not None else None
                examples = (present.join(duplicates.select(column), column, "left_semi").select(column)
                            if unexpected else None)
            else:
                considered, unexpected = metrics[f"considered_{index}"], metrics[f"unexpected_{index}"]
                examples = batch.where(rule.domain & rule.unexpected).select(*rule.columns) if unexpected else None
            success = _mostly_holds(considered or 0, unexpected, kwargs.get("mostly"))
            shown = ", ".join(_example(row) for row in examples.limit(5).collect()) if examples is not None else ""
            observed = f"{unexpected} unexpected rows" + (f" (e.g. {shown})" if shown else "")
        if observed_value is not None:
            observed = str(observed_value)
        findings.append(Finding(table=table, check=f"gx:{kind}", severity=OK if success else FAILURE,
                                observed=observed, expected=expected,
                                value=_number(observed_value if observed_value is not None else unexpected)))
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


def arm_counts(frame: DataFrame) -> pd.DataFrame:
    """Rows and treated rows per (batch, stratum): what every sample-ratio test needs, from one Spark grouping."""
    counts = frame.groupBy("batch", "stratum").agg(F.count(F.lit(1)).alias("rows"),
                                                   F.coalesce(F.sum("treatment"), F.lit(0)).alias("treated"))
    return counts.toPandas()


def sample_ratio_findings(table: str, counts: pd.DataFrame) -> list[Finding]:
    """Chi-square test of arm counts (`arm_counts`) against the planned 50/50: overall, per batch and per stratum.

    The per-batch and per-stratum p-values are Bonferroni-adjusted over the groups tested at that level (p times
    the number of groups, at most 1) before the 0.001 / 0.01 thresholds apply, so the chance that a clean run is
    blocked stays at 0.1% per level however many groups there are. Unadjusted, the LinkedIn table's ~120
    batch x stratum groups block a clean night about one time in nine (1 - 0.999^120): the 2x-scale benchmark
    was blocked by a stratum at 721 vs 586 (p = 0.00019, adjusted 0.023). The finding's p_value is the adjusted one.
    A group whose batch or stratum is missing is counted overall only.
    """
    findings = []
    groupings: list[tuple[str, list[str]]] = [("overall", []), ("batch", ["batch"]), ("stratum", ["batch", "stratum"])]
    for level, keys in groupings:
        groups = ([((), counts)] if not keys
                  else list(counts.groupby(keys if len(keys) > 1 else keys[0], sort=True)))
        for key, group in groups:
            treated = int(group["treated"].sum())
            control = int(group["rows"].sum() - treated)
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


# Covariates compared as they are (0/1 flags kept numeric even when a category would also fit).
NUMERIC_COVARIATES = ("developing_country", "past_tech_job", "past_managerial_job")


def balance_moments(frame: DataFrame, covariates: Sequence[str]) -> pd.DataFrame:
    """Per arm and per covariate (numeric) or covariate level (0/1 indicator of a category): n, mean and sample
    variance, from one Spark pass over the table.

    A numeric covariate is compared on its present values; a category's indicator is 0 on a missing value, so it
    counts every row of the arm. The indicator's moments follow from the level counts (mean k/n, variance
    k(n-k)/(n(n-1)))."""
    present = [c for c in covariates if c in frame.columns]
    numeric = [c for c in present if isinstance(frame.schema[c].dataType, (NumericType, BooleanType))]
    arm = F.coalesce(F.col("treatment") == 1, F.lit(False)).alias("treated")

    def value(column: str) -> Column:
        return F.when(~_missing(frame, column), F.col(column).cast("double"))

    entries = [F.struct(F.lit(c).alias("covariate"), F.lit(None).cast("string").alias("level"),
                        value(c).alias("value")) for c in numeric]
    entries += [F.struct(F.lit(c).alias("covariate"), F.col(c).cast("string").alias("level"),
                         F.lit(None).cast("double").alias("value")) for c in present if c not in numeric]
    if not entries:
        return pd.DataFrame(columns=["treated", "covariate", "level", "n", "mean", "var"])
    stacked = frame.select(arm, F.explode(F.array(*entries)).alias("entry")).select("treated", "entry.*")
    grouped = stacked.groupBy("treated", "covariate", "level").agg(
        F.count(F.lit(1)).alias("rows"), F.count("value").alias("present"), F.avg("value").alias("mean"),
        F.var_samp("value").alias("var")).toPandas()
    moments = []
    for (treated, covariate), group in grouped.groupby(["treated", "covariate"], sort=True, dropna=False):
        if covariate in numeric:
            [row] = group.itertuples()
            moments.append((treated, covariate, covariate, int(row.present), row.mean, row.var))
            continue
        n = int(group["rows"].sum())
        for level, k in zip(group["level"], group["rows"]):
            if level is not None and not pd.isna(level):
                moments.append((treated, covariate, f"{covariate}={level}", n, k / n, k * (n - k) / (n * (n - 1))
                                if n > 1 else float("nan")))
    return pd.DataFrame(moments, columns=["treated", "covariate", "level", "n", "mean", "var"])


def standardized_mean_difference(treated: tuple[int, float, float], control: tuple[int, float, float]) -> float:
    """SMD of two groups given as (n, mean, sample variance)."""
    (n_t, mean_t, var_t), (n_c, mean_c, var_c) = treated, control
    if n_t < 2 or n_c < 2:
        return float("nan")
    pooled = math.sqrt((var_t + var_c) / 2)
    difference = mean_t - mean_c
    return 0.0 if pooled == 0 and difference == 0 else float(difference / pooled) if pooled else float("inf")


def balance_findings(table: str, moments: pd.DataFrame, covariates: Sequence[str]) -> list[Finding]:
    """|standardized mean difference| between arms for each pre-treatment covariate (each level of a category),
    from `balance_moments`."""
    findings = []
    for covariate in covariates:
        rows = moments[moments["covariate"] == covariate]
        for name in sorted(set(rows["level"]), key=lambda level: (level != covariate, level)):
            by_arm = {bool(r.treated): (r.n, r.mean, r.var) for r in rows[rows["level"] == name].itertuples()}
            # A level one arm lacks is 0 on every row of that arm.
            arm_rows = {bool(r.treated): r.n for r in rows.itertuples()}
            treated = by_arm.get(True, (arm_rows.get(True, 0), 0.0, 0.0))
            control = by_arm.get(False, (arm_rows.get(False, 0), 0.0, 0.0))
            smd = standardized_mean_difference(treated, control)
            severity = WARNING if not math.isnan(smd) and abs(smd) >= SMD_WARN else OK
            findings.append(Finding(table, f"balance:{name}", severity, f"smd={smd:.4f}", f"|smd| < {SMD_WARN}",
                                    value=_number(smd)))
    return findings


def matched_counts(full: DataFrame, linkedin: DataFrame) -> np.ndarray:
    """Learners of the full table by arm (rows 0, 1) and by whether they are in the LinkedIn table (columns no, yes)."""
    in_linkedin = linkedin.select("learner_key").distinct().withColumn("matched", F.lit(True))
    counts = (full.join(in_linkedin, "learner_key", "left").where(F.col("treatment").isin(0, 1))
              .groupBy("treatment", F.coalesce("matched", F.lit(False)).alias("matched")).count().collect())
    table = np.zeros((2, 2), dtype=np.int64)
    for row in counts:
        table[int(row["treatment"]), int(row["matched"])] = row["count"]
    return table


def attrition_findings(counts: np.ndarray) -> list[Finding]:
    """The share of each arm that made it into the LinkedIn table (`matched_counts`); a differential share
    threatens the study."""
    from scipy.stats import chi2_contingency

    shares = {arm: counts[arm, 1] / max(1, counts[arm].sum()) for arm in (0, 1)}
    if counts.sum() == 0 or (counts.sum(axis=0) == 0).any():
        p_value = 1.0
    else:
        p_value = float(chi2_contingency(counts, correction=False).pvalue)
    severity = WARNING if p_value < ATTRITION_WARN_P else OK
    return [Finding("learner_outcomes_linkedin", "attrition:matched_share_by_arm", severity,
                    f"treatment={shares[1]:.4f} control={shares[0]:.4f}", "equal shares", p_value, value=p_value)]


def load_bands(path: Path | None = None) -> dict:
    """The rate bands of expectations/bands.json (or of another file, in tests)."""
    if path is None:
        from importlib import resources

        return json.loads(resources.files("expectations").joinpath(BANDS_FILE).read_text(encoding="utf-8"))
    return json.loads(Path(path).read_text(encoding="utf-8"))


def band_counts(table: str, frame: DataFrame, bands: Mapping) -> dict[str, tuple[int, int]]:
    """Per banded column of the table: (present values, their sum), from one Spark aggregation."""
    columns = [c for c in bands.get(table, {}) if c in frame.columns]
    if not columns:
        return {}
    present = {c: F.when(~_missing(frame, c), F.col(c)) for c in columns}
    row = frame.agg(*[F.count(v).alias(f"n_{i}") for i, v in enumerate(present.values())],
                    *[F.sum(v).alias(f"k_{i}") for i, v in enumerate(present.values())]).first()
    return {c: (int(row[f"n_{i}"]), int(row[f"k_{i}"] or 0)) for i, c in enumerate(columns)}


def band_findings(table: str, counts: Mapping[str, tuple[int, int]], bands: Mapping) -> list[Finding]:
    """A rate (`band_counts`) outside its band warns; it fails only if a binomial test says the deviation is clear."""
    from scipy.stats import binomtest

    block_p = bands.get("block_p_value", 0.001)
    findings = []
    for column, band in bands.get(table, {}).items():
        if column not in counts:
            continue
        n, k = counts[column]
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


def table_findings(name: str, frame: DataFrame, *, as_of: date, facts: RunFacts, bands: Mapping) -> list[Finding]:
    """The suite, sample-ratio, balance, band and volume findings of one staged table, from a few Spark
    aggregations (nothing but aggregates reaches the driver)."""
    covariates = LINKEDIN_BALANCE_COVARIATES if name == "learner_outcomes_linkedin" else FULL_BALANCE_COVARIATES
    counts = arm_counts(frame)
    findings = suite_findings(name, frame, as_of)
    findings += sample_ratio_findings(name, counts)
    findings += balance_findings(name, balance_moments(frame, covariates), covariates)
    findings += band_findings(name, band_counts(name, frame, bands), bands)
    findings += volume_findings(name, int(counts["rows"].sum()), facts.previous_rows.get(name),
                                facts.max_volume_change_pct)
    return findings


def validate(tables: Mapping[str, DataFrame], *, run_id: str, as_of: date, facts: RunFacts,
             bands: Mapping | None = None) -> ValidationOutcome:
    """Every suite and gate of the run on the staged tables (Spark DataFrames)."""
    bands = load_bands() if bands is None else bands
    outcome = ValidationOutcome(run_id, as_of)
    for name, frame in tables.items():
        outcome.findings += table_findings(name, frame, as_of=as_of, facts=facts, bands=bands)
    if {"learner_outcomes_full", "learner_outcomes_linkedin"} <= set(tables):
        outcome.findings += attrition_findings(matched_counts(tables["learner_outcomes_full"],
                                                              tables["learner_outcomes_linkedin"]))
    outcome.findings += freshness_findings(facts.newest_export_days, as_of, facts.source_freshness)
    outcome.findings += quarantine_findings(facts.ingest_accounts, facts.max_quarantine_share)
    randomized = next((f.value for f in outcome.findings
                       if f.table == "learner_outcomes_full" and f.check == "volume:vs_previous_snapshot"), 0)
    outcome.findings += learner_version_findings(facts.learners_without_version_at_randomization, int(randomized))
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


def read_staged(spark: SparkSession, staged: Mapping[str, Path]) -> dict[str, DataFrame]:
    """The staged Parquet folders as Spark DataFrames."""
    return {name: spark.read.parquet(str(path)) for name, path in staged.items()}


def outcome_json(outcome: ValidationOutcome) -> dict:
    """The outcome as plain JSON, for the pipeline to read back what a spark-submit run of `main` decided."""
    return {"run_id": outcome.run_id, "as_of": outcome.as_of.isoformat(),
            "findings": [asdict(f) for f in outcome.findings]}


def outcome_from_json(payload: Mapping) -> ValidationOutcome:
    return ValidationOutcome(payload["run_id"], date.fromisoformat(payload["as_of"]),
                             [Finding(**finding) for finding in payload["findings"]])


def main(argv: Sequence[str] | None = None) -> int:
    """spark-submit entry point: `python -m jobs.validate --staged DIR --run-id R --as-of D --facts F --result O`:
    validates the staged tables under DIR with the gates' facts (a JSON of RunFacts' fields, as
    pipeline.run_facts gathers them) and writes the outcome to O (outcome_json)."""
    import argparse

    from credsignal.core.config import Config
    from credsignal.core.spark import spark_session

    parser = argparse.ArgumentParser(prog="jobs.validate")
    parser.add_argument("--staged", type=Path, required=True, help="the run's staging folder (lake/_staging/<run>)")
    parser.add_argument("--tables", nargs="+", default=["learner_outcomes_full", "learner_outcomes_linkedin"])
    parser.add_argument("--run-id", required=True)
    parser.add_argument("--as-of", type=date.fromisoformat, required=True)
    parser.add_argument("--facts", type=Path, required=True, help="RunFacts as JSON (facts_json)")
    parser.add_argument("--result", type=Path, required=True, help="where the outcome's JSON goes")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    spark = spark_session(Config.from_env(), app_name="credsignal-validate")
    tables = read_staged(spark, {table: args.staged / table for table in args.tables})
    outcome = validate(tables, run_id=args.run_id, as_of=args.as_of,
                       facts=facts_from_json(args.facts.read_text(encoding="utf-8")))
    write_json_atomically(args.result, outcome_json(outcome))
    print(render_text(outcome))
    return 0


def facts_json(facts: RunFacts) -> str:
    return json.dumps({
        "previous_rows": dict(facts.previous_rows),
        "newest_export_days": {s: d.isoformat() if d else None for s, d in facts.newest_export_days.items()},
        "ingest_accounts": list(facts.ingest_accounts),
        "withdrawn_exports": {s: [d.isoformat() for d in days] for s, days in facts.withdrawn_exports.items()},
        "max_volume_change_pct": facts.max_volume_change_pct, "max_quarantine_share": facts.max_quarantine_share,
        "source_freshness": {s: None if rule is None else asdict(rule) for s, rule in facts.source_freshness.items()},
        "learners_without_version_at_randomization": facts.learners_without_version_at_randomization,
    })


def facts_from_json(text: str) -> RunFacts:
    data = json.loads(text)
    return RunFacts(
        previous_rows=data["previous_rows"],
        newest_export_days={s: date.fromisoformat(d) if d else None for s, d in data["newest_export_days"].items()},
        ingest_accounts=data["ingest_accounts"],
        withdrawn_exports={s: [date.fromisoformat(d) for d in days] for s, days in data["withdrawn_exports"].items()},
        max_volume_change_pct=data["max_volume_change_pct"], max_quarantine_share=data["max_quarantine_share"],
        source_freshness={s: None if rule is None else SourceFreshness(**rule)
                          for s, rule in data["source_freshness"].items()},
        learners_without_version_at_randomization=data["learners_without_version_at_randomization"],
    )


if __name__ == "__main__":
    import sys

    sys.exit(main())
