"""The feature job: reads bronze and silver, assembles the plan of the definitions (what to materialise, what to
broadcast: execution tuning lives here, not in the definitions), turns platform IDs into pseudonymous keys, and
writes the staged tables and the match report. `main` is the spark-submit entry point."""

from __future__ import annotations

import argparse
import json
import logging
from collections.abc import Sequence
from datetime import date
from pathlib import Path

from pyspark.sql import DataFrame, SparkSession, functions as F
from pyspark.sql.types import StructType

from credsignal.core import lake, privacy
from credsignal.core.config import Config
from credsignal.core.contracts import (
    CROSSWALK_SCHEMA,
    EXPORT_SOURCES,
    OUTPUT_SCHEMAS,
    OUTPUT_TABLES,
    PARSED_PROFILE_SCHEMA,
    PSEUDONYMOUS_KEYS,
    bronze_schema,
)
from credsignal.core.storage import replace_directory, write_json_atomically
from jobs.features.columns import conform
from jobs.features.platform import (
    learner_covariates,
    learner_outcomes_full,
    logged_in_after_randomization,
    main_skill,
    randomized_learners,
    skill_scores_at_randomization,
    skill_statistics,
    study_certificates,
    view_counts,
)
from jobs.features.linkedin import (
    EXPERIENCE_REFERENCE_DATE,
    EXPERIMENT_START,
    LEARNER_VERSION,
    NO_VERSION_BY_RANDOMIZATION,
    StudyReferences,
    career_outcome,
    classify_positions,
    credential_shared,
    education_features,
    learner_outcomes_linkedin,
    linkedin_features,
    linkedin_sample,
    match_counts_by_arm,
    match_report,
    new_jobs,
    past_jobs,
    professional_experience,
    profile_entries,
    profile_length,
    profile_matches,
    sample_study_certificates,
)


log = logging.getLogger(__name__)

# How the curated tables are laid out on disk. They are written here once and published as they are
# (jobs/publish.py links the files into the snapshot), so this is the layout analysts read: docs/publishing.md.
ROWS_PER_FILE = 1024 * 1024
ROWS_PER_ROW_GROUP = 128 * 1024
COMPRESSION = "zstd"


# build_tables' entry for the frame it persists: unpersisting a table derived from it would release nothing.
PERSISTED_FULL = "persisted_learner_outcomes_full"

SILVER_SCHEMAS: dict[str, StructType] = {}


def silver_schema(table: str) -> StructType:
    """The schema jobs.parse.split_profiles writes for `table` (derived from it, so the two never drift)."""
    if not SILVER_SCHEMAS:
        from jobs.parse import split_profiles

        spark = SparkSession.getActiveSession()
        empty = spark.createDataFrame([], PARSED_PROFILE_SCHEMA)
        SILVER_SCHEMAS.update({name: frame.schema for name, frame in split_profiles(empty).tables().items()})
    return SILVER_SCHEMAS[table]


def read_bronze(spark: SparkSession, lake_root: Path, source: str, *, as_of: date) -> DataFrame:
    """A bronze table as of `as_of` (export days dt <= as_of), with its contract schema; empty when absent."""
    schema = bronze_schema(EXPORT_SOURCES[source])
    path = lake.bronze_table(lake_root, source)
    if not path.is_dir() or not any(path.glob("dt=*")):
        return spark.createDataFrame([], schema)
    return spark.read.schema(schema).parquet(str(path)).where(F.col("dt") <= F.lit(as_of))


def read_silver(spark: SparkSession, lake_root: Path, table: str) -> DataFrame:
    schema = silver_schema(table)
    path = lake.silver_table(lake_root, table)
    if not path.is_dir() or not any(path.glob("crawl_id=*")):
        return spark.createDataFrame([], schema)
    return spark.read.schema(schema).parquet(str(path))


def experiment_ids_in_bronze(lake_root: Path, *, as_of: date) -> dict[str, int]:
    """{experiment_id: assignment rows} of the bronze assignments export up to as_of, without Spark: one column is
    scanned batch by batch (pyarrow) and only the per-id counts are kept, so the driver never holds the table."""
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.dataset as ds

    path = lake.bronze_table(lake_root, "experiment_assignments")
    if not path.is_dir() or not any(path.glob("dt=*")):
        return {}
    # The ids read as a dictionary and one batch at a time: read as strings, with the scanner's read-ahead, the
    # driver peaked 380 MiB higher at 10x (8.8M assignments), against 90 MiB this way.
    dictionary = ds.ParquetFileFormat(read_options=ds.ParquetReadOptions(dictionary_columns=["experiment_id"]))
    dataset = ds.dataset(path, format=dictionary, exclude_invalid_files=True,
                         partitioning=ds.partitioning(pa.schema([("dt", pa.string())]), flavor="hive"))
    counts: dict[str, int] = {}
    for batch in dataset.to_batches(columns=["experiment_id"], filter=ds.field("dt") <= as_of.isoformat(),
                                    batch_readahead=0, fragment_readahead=0):
        for item in pc.value_counts(batch.column("experiment_id")).to_pylist():
            counts[item["values"]] = counts.get(item["values"], 0) + item["counts"]
    return counts


def plan_randomized_learners(assignments: DataFrame, experiment_id: str) -> DataFrame:
    """randomized_learners of the bronze `assignments`, materialised once (every branch joins them) and joined by a
    shuffle, never broadcast."""
    # They are the study's whole population (880,000 learners), but Spark sizes a checkpoint from its source files:
    # 4.5 MB for 135 MB of rows at full scale, under the broadcast threshold. Each join with them then collected the
    # population into the driver and built a hash table of it there, once per query.
    return randomized_learners(assignments, experiment_id).localCheckpoint().hint("merge")


def plan_main_skill(skill_scores: DataFrame, randomized: DataFrame) -> DataFrame:
    """main_skill of each randomized learner from the bronze `skill_scores`."""
    # Materialised: the per-skill statistics and the per-learner ranking both read it.
    scores = skill_scores_at_randomization(skill_scores, randomized).localCheckpoint()
    # A few dozen skills: a hash aggregate broadcast back, not a window that sorts each skill into one task.
    return main_skill(scores, F.broadcast(skill_statistics(scores)))


def plan_learner_outcomes_full(
    randomized: DataFrame,
    covariates: DataFrame,
    certificates: DataFrame,
    views: DataFrame,
    sessions: DataFrame,
    skill_scores: DataFrame,
    *,
    as_of: date,
) -> DataFrame:
    """learner_outcomes_full of the `randomized` learners from the bronze tables and their `covariates`
    (learner_covariates, derived once by the caller: the LinkedIn match reads them too). Both inputs are read by
    several branches, so the caller materialises them."""
    # Read by several branches below. Materialised once (localCheckpoint, as on the LinkedIn side): otherwise each
    # branch re-reads and re-deduplicates bronze, since the branches prune different columns and Spark cannot
    # reuse one exchange for them (certificates were scanned three times).
    study = study_certificates(certificates, randomized).localCheckpoint()
    return learner_outcomes_full(
        randomized, study, covariates, plan_main_skill(skill_scores, randomized),
        # Only the learners with a log-in or a view: the table's left join and zero fill cover the others, and a
        # result with every learner would cost one more join over all of them.
        logged_in_after_randomization(sessions, randomized, only_logged_in=True),
        view_counts(views, study, as_of=as_of, only_viewed=True),
    )


def plan_learner_outcomes_linkedin(
    full: DataFrame,
    matches: DataFrame,
    certificates: DataFrame,
    positions: DataFrame,
    education: DataFrame,
    certifications: DataFrame,
    *,
    as_of: date,
    references: StudyReferences = StudyReferences(),
) -> DataFrame:
    """learner_outcomes_linkedin from `full` (the learner_outcomes_full table), `matches` (profile_matches of
    `full`'s learners: the match report counts the same matches), the bronze `certificates` and the silver profile
    tables `positions`, `education` and `certifications`."""
    # The LinkedIn side is small (one row per matched learner or profile entry) but every definition reads the
    # same inputs, so they are materialised (localCheckpoint) once: without it the query plan repeats the matching
    # and classification plans in every branch, and planning alone dominates the run time.
    sample = linkedin_sample(full, matches).localCheckpoint()
    learner_positions = classify_positions(profile_entries(sample, positions)).localCheckpoint()
    learner_education = profile_entries(sample, education).localCheckpoint()
    learner_certifications = profile_entries(sample, certifications, learner_columns=()).localCheckpoint()
    study = sample_study_certificates(sample, certificates).localCheckpoint()

    per_learner = [
        new_jobs(learner_positions, as_of=as_of),
        past_jobs(learner_positions),
        professional_experience(learner_positions, reference_date=references.experience_reference_date),
        career_outcome(learner_positions, experiment_start=references.experiment_start),
        credential_shared(learner_certifications, study),
        education_features(learner_education, enrollment_reference_year=references.enrollment_reference_year,
                           degree_reference_year=references.degree_reference_year,
                           cwur_path=None if references.cwur_path is None else str(references.cwur_path)),
        profile_length(sample, learner_positions, as_of=as_of),
    ]
    # Each per-learner table, and the features they make up, has at most one row per matched learner (the LinkedIn
    # sample: tens of thousands), so they are broadcast: a chain of sort-merge joins would run one sorter per join
    # in the same task.
    features = linkedin_features(sample, [F.broadcast(table) for table in per_learner], as_of=as_of)
    return learner_outcomes_linkedin(full, F.broadcast(features))


def build_tables(
    spark: SparkSession,
    lake_root: Path,
    *,
    as_of: date,
    experiment_id: str,
    references: StudyReferences = StudyReferences(),
    pseudonym_key: bytes,
) -> dict[str, DataFrame]:
    """Read bronze (export days up to as_of) and silver from the lake and derive, unwritten:
    learner_outcomes_full, learner_outcomes_linkedin (as published: keyed by `pseudonym_key`, see
    `curated_tables`), learner_crosswalk (restricted), profile_match_report and profile_match_by_arm. The full
    table, with its pseudonymous keys, is persisted (the other tables build on it) and returned as PERSISTED_FULL
    too: the caller unpersists that frame after writing. The randomized learners, their covariates (as of
    randomization) and the profile matches are derived once and shared."""
    bronze = {source: read_bronze(spark, lake_root, source, as_of=as_of) for source in lake.PLATFORM_SOURCES}
    silver = {table: read_silver(spark, lake_root, table)
              for table in ("profiles", "profile_positions", "profile_education", "profile_certifications")}
    randomized = plan_randomized_learners(bronze["experiment_assignments"], experiment_id)
    covariates = learner_covariates(bronze["learners"], randomized).localCheckpoint()
    # Keyed before it is persisted: the full table's sorted write (which samples its keys, then writes them) and the
    # crosswalk's then read the keys from the cache, where each hashed all 880,000 learners again in Python workers.
    full = with_pseudonymous_keys(plan_learner_outcomes_full(
        randomized, covariates, bronze["certificates"], bronze["certificate_views"],
        bronze["app_sessions"], bronze["skill_scores"], as_of=as_of,
    ), pseudonym_key=pseudonym_key).persist()
    matches = profile_matches(full.select("learner_id"), covariates, silver["profiles"]).localCheckpoint()
    linkedin = plan_learner_outcomes_linkedin(
        full, matches, bronze["certificates"], silver["profile_positions"], silver["profile_education"],
        silver["profile_certifications"], as_of=as_of, references=references,
    )
    report = match_report(matches, silver["profiles"])
    return {**curated_tables({"learner_outcomes_full": full, "learner_outcomes_linkedin": linkedin},
                             pseudonym_key=pseudonym_key),
            "profile_match_report": report, "profile_match_by_arm": match_counts_by_arm(matches, full),
            PERSISTED_FULL: full}


def with_pseudonymous_keys(frame: DataFrame, *, pseudonym_key: bytes) -> DataFrame:
    """`frame` with the pseudonymous key (PSEUDONYMOUS_KEYS) of each platform ID beside the ID. A key column that
    `frame` already has is kept as it is."""
    for platform_id, (name, kind) in PSEUDONYMOUS_KEYS.items():
        if name not in frame.columns:
            frame = frame.withColumn(name, privacy.pseudonym_column(F.col(platform_id), pseudonym_key, kind=kind))
    return frame


def curated_tables(tables: dict[str, DataFrame], *, pseudonym_key: bytes) -> dict[str, DataFrame]:
    """The output tables as published (OUTPUT_SCHEMAS: pseudonymous keys, no URL) plus `learner_crosswalk`
    (learner_key -> learner_id, for the restricted zone only). The keys a table already has (with_pseudonymous_keys)
    are used as they are."""
    keyed = {name: with_pseudonymous_keys(frame, pseudonym_key=pseudonym_key) for name, frame in tables.items()}
    curated = {name: conform(frame, OUTPUT_SCHEMAS[name]) for name, frame in keyed.items()}
    learner_key, _ = PSEUDONYMOUS_KEYS["learner_id"]
    crosswalk = keyed["learner_outcomes_full"].select(learner_key, "learner_id")
    return {**curated, "learner_crosswalk": conform(crosswalk, CROSSWALK_SCHEMA)}


def report_counts(report: Sequence[dict], subject: str) -> dict[str, int]:
    """{outcome: count} of one subject of the match report (as written to _reports/profile_match.json)."""
    return {row["outcome"]: row["count"] for row in report if row["subject"] == subject}


def write_curated(frame: DataFrame, path: Path) -> None:
    """Write a curated table as analysts will read it: sorted by learner_key across its files (a range-partitioned
    sort, and part files in that order), zstd, at most ROWS_PER_FILE rows a file and ROWS_PER_ROW_GROUP a row
    group, statistics on. The contract's column descriptions travel as the StructFields' metadata, which Spark keeps
    in every file's footer (its row schema, key org.apache.spark.sql.parquet.row.metadata)."""
    (frame.orderBy("learner_key").write.mode("overwrite")
     .option("compression", COMPRESSION)
     .option("maxRecordsPerFile", ROWS_PER_FILE)
     .option("parquet.block.row.count.limit", ROWS_PER_ROW_GROUP)
     .parquet(str(path)))


def run(
    spark: SparkSession,
    config: Config,
    *,
    as_of: date | None = None,
    write_to: Path,
    experience_reference_date: date = EXPERIENCE_REFERENCE_DATE,
    experiment_start: date = EXPERIMENT_START,
    cwur_path: str | Path | None = None,
) -> dict:
    """Derive both tables from config.lake and write them as Parquet under `write_to/<table>/` (a staging folder:
    publishing to lake/curated/ is the caller's), and the learner crosswalk to the restricted zone. The match report
    goes to `write_to/_reports/profile_match.json` (underscore: not a table) and is returned with the row counts and
    the count of learners with no version by their randomization day (`learner_versions`, which the validate step
    records)."""
    as_of = as_of or config.as_of
    if as_of is None:
        raise ValueError("the feature job needs an as_of date")
    references = StudyReferences(experience_reference_date, experiment_start, config.enrollment_reference_year,
                                 config.degree_reference_year, cwur_path)
    tables = build_tables(spark, config.lake, as_of=as_of, experiment_id=config.experiment_id, references=references,
                          pseudonym_key=privacy.pseudonym_key(config.lake))
    try:
        for name in OUTPUT_TABLES:
            write_curated(tables[name], write_to / name)
        crosswalk = lake.learner_crosswalk(config.lake)
        written = crosswalk.with_name(f".{crosswalk.name}.{write_to.name}")
        tables["learner_crosswalk"].orderBy("learner_key").write.mode("overwrite").parquet(str(written))
        replace_directory(written, crosswalk)
        report = [row.asDict() for row in tables["profile_match_report"].orderBy("subject", "outcome").collect()]
        by_arm = [row.asDict() for row in tables["profile_match_by_arm"].orderBy("match", "treatment").collect()]
    finally:
        tables[PERSISTED_FULL].unpersist()
    rows = {name: spark.read.parquet(str(write_to / name)).count() for name in OUTPUT_TABLES}
    versions = {NO_VERSION_BY_RANDOMIZATION: report_counts(report, LEARNER_VERSION).get(NO_VERSION_BY_RANDOMIZATION, 0)}
    summary = {"as_of": as_of.isoformat(), "experiment_id": config.experiment_id, "rows": rows,
               "learner_versions": versions, "profile_match": report, "profile_match_by_arm": by_arm}
    report_path = lake.match_report(write_to)
    report_path.parent.mkdir(parents=True, exist_ok=True)
    report_path.write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
    log.info("features as_of=%s: %s; learners with no version by their randomization day: %d", as_of, rows,
             versions[NO_VERSION_BY_RANDOMIZATION])
    return summary


def main(argv: Sequence[str] | None = None) -> int:
    """spark-submit entry point: `python -m jobs.features --lake L --as-of D --out DIR [--cwur PATH]`."""
    from credsignal.core.spark import spark_session

    parser = argparse.ArgumentParser(prog="jobs.features")
    parser.add_argument("--lake", type=Path)
    parser.add_argument("--as-of", type=date.fromisoformat, required=True)
    parser.add_argument("--out", type=Path, required=True, help="staging folder for the two tables")
    parser.add_argument("--experiment-id")
    parser.add_argument("--experience-reference-date", type=date.fromisoformat, default=EXPERIENCE_REFERENCE_DATE)
    parser.add_argument("--experiment-start", type=date.fromisoformat, default=EXPERIMENT_START)
    parser.add_argument("--enrollment-reference-year", type=int,
                        help="currently_enrolled: an education entry ending after this year (paper: 2022)")
    parser.add_argument("--degree-reference-year", type=int,
                        help="years_since_latest_degree counts from this year (paper: 2023)")
    parser.add_argument("--cwur", type=Path, help="CWUR table (default: the ranker's default location)")
    parser.add_argument("--spark-master")
    parser.add_argument("--result", type=Path, help="write the run's summary here as JSON (for the submitter)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    config = Config.from_env(lake=args.lake, as_of=args.as_of, experiment_id=args.experiment_id,
                             spark_master=args.spark_master, enrollment_reference_year=args.enrollment_reference_year,
                             degree_reference_year=args.degree_reference_year)
    summary = run(spark_session(config, app_name="credsignal-features"), config, as_of=args.as_of, write_to=args.out,
                  experience_reference_date=args.experience_reference_date, experiment_start=args.experiment_start,
                  cwur_path=args.cwur)
    print(json.dumps(summary, indent=2))
    if args.result:
        write_json_atomically(args.result, summary)
    return 0
