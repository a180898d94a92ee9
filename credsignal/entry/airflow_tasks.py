"""What the DAG tasks do, kept out of the DAG files so those only wire tasks.

Every function here turns the Airflow task context (or plain values) into a Config and the run's window or as_of,
calls the step's function in credsignal.pipeline (the glue `credsignal run` calls too), declares the task's lineage
and returns its XCom value. Airflow and Spark are imported inside the functions, so importing this module is cheap
for the DAG processor.
"""

from __future__ import annotations

import logging
from collections import Counter
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any, Mapping

from credsignal.core import lake
from credsignal.core.config import Config, _FIELD_TYPES

log = logging.getLogger(__name__)

AIRFLOW_VARIABLE_PREFIX = "credsignal_"


def config_from_airflow(**overrides: Any) -> Config:
    """Defaults, then CREDSIGNAL_* environment, then Airflow Variables `credsignal_<field>`, then overrides."""
    from airflow.sdk import Variable

    from_variables = {
        name: Variable.get(AIRFLOW_VARIABLE_PREFIX + name, default=None) for name in _FIELD_TYPES
    }
    return Config.from_env().with_overrides(**from_variables).with_overrides(**overrides)


@dataclass(frozen=True)
class ExportWindow:
    """The export days one DAG run covers, both ends included."""

    since: date
    until: date

    @classmethod
    def for_run(cls, context: Mapping[str, Any]) -> "ExportWindow":
        """The run's params `since`/`until` when given (initial loads, repairs), else its partition's export day
        (scheduled and backfilled runs), else its data interval's day."""
        params = context.get("params") or {}
        interval_start = context.get("data_interval_start") or context.get("logical_date")
        default_day = run_partition_day(context) or (interval_start.date() if interval_start is not None else None)
        since = _as_date(params.get("since")) or default_day
        until = _as_date(params.get("until")) or since
        if since is None or until is None:
            raise ValueError("this run has no data interval: pass params since/until")
        if until < since:
            raise ValueError(f"until {until} is before since {since}")
        return cls(since, until)

    def days(self) -> list[date]:
        return [self.since + timedelta(days=n) for n in range((self.until - self.since).days + 1)]


def run_partition_day(context: Mapping[str, Any]) -> date | None:
    """The export day a partitioned run is for: its partition key (YYYY-MM-DD); None for a run without one (a
    manual run, dag.test())."""
    key = getattr(context.get("dag_run"), "partition_key", None) or context.get("partition_key")
    return _as_date(key)


def announce_export_day(context: Mapping[str, Any], asset: Any, day: date) -> None:
    """Give the asset event of a run without a partition (a manual window) the export day it brought, so that the
    partitioned consumers (features_daily) see it. A partitioned run's events carry its key already."""
    if run_partition_day(context) is None and context.get("outlet_events") is not None:
        context["outlet_events"][asset].add_partitions(day.isoformat())


def _as_date(value: Any) -> date | None:
    if value in (None, ""):
        return None
    return value if isinstance(value, date) else date.fromisoformat(str(value)[:10])


def exports_missing(config: Config, window: ExportWindow) -> list[str]:
    """Daily sources (those with a freshness) whose export for the window's last day has no `_SUCCESS` marker yet.
    An event-driven source has a folder only on days with rows, so its absence is not waited for."""
    return [
        source
        for source in config.daily_sources()
        if not (lake.landing_partition(config.landing, source, window.until) / lake.SUCCESS_MARKER).exists()
    ]


def ingest_for_run(source: str, context: Mapping[str, Any]) -> dict[str, Any]:
    """Ingest one source over the run's window; returns its row accounting (pipeline.ingest_account) for XCom."""
    from credsignal import pipeline
    from credsignal.core.spark import spark_session

    config = config_from_airflow()
    window = ExportWindow.for_run(context)
    spark = spark_session(config, app_name=f"credsignal-ingest-{source}")
    account = pipeline.ingest_account(pipeline.ingest_source(spark, config, source, since=window.since,
                                                             until=window.until, run_id=context.get("run_id")))
    _declare_ingest(config, account, context)
    return account


def _declare_ingest(config: Config, account: Mapping[str, Any], context: Mapping[str, Any]) -> None:
    from credsignal.entry import lineage
    from credsignal.core.contracts import EXPORT_SOURCES

    source = account["source"]
    accounting = {key: value for key, value in account.items() if key not in ("source", "days")}
    export = lineage.table(config.landing, config.landing / source, rows=account["rows_in"],
                           fields=lineage.contract_fields(EXPORT_SOURCES[source].schema))
    lineage.declare(context, inputs=[export], outputs=[
        lineage.table(config.lake, lake.bronze_table(config.lake, source), rows=account["rows_kept"],
                      accounting=accounting),
        lineage.table(config.lake, lake.quarantine_table(config.lake, source), rows=account["rows_quarantined"],
                      accounting={"quarantined": account["quarantined"]}),
    ])


def summarise_ingest(accounts: list[dict[str, Any]], context: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """One line per source, and the totals, for the run's log and the Asset event (whose partition is the window's
    last export day)."""
    from credsignal import pipeline
    from credsignal.entry.assets import BRONZE_PLATFORM

    if context is not None:
        announce_export_day(context, BRONZE_PLATFORM, ExportWindow.for_run(context).until)
    summary = pipeline.ingest_totals(accounts)
    for account in accounts:
        log.info(
            "bronze %s: rows_in=%d kept=%d quarantined=%d duplicates=%d",
            account["source"], account["rows_in"], account["rows_kept"], account["rows_quarantined"],
            account["duplicates"],
        )
    log.info("bronze total: %s", {count: summary[count] for count in pipeline.INGEST_COUNTS})
    return summary


# ------------------------------------------------------------------------------- profiles and features


def pending_crawls() -> list[str]:
    """Crawls that landed (or were re-delivered) since they were last parsed."""
    from credsignal import pipeline

    crawls = pipeline.crawls_to_parse(config_from_airflow())
    log.info("crawls to parse: %s", crawls or "none")
    return crawls


def parse_crawls(crawls: list[str], context: Mapping[str, Any] | None = None) -> dict[str, dict[str, int]]:
    from credsignal import pipeline
    from credsignal.entry import lineage
    from credsignal.core.spark import spark_session

    config = config_from_airflow()
    spark = spark_session(config, app_name="credsignal-parse")
    counts = pipeline.parse_crawls(spark, config, crawls, run_id=(context or {}).get("run_id"))
    _announce_newest_day(config, context)
    for crawl, crawl_counts in counts.items():
        log.info("silver profiles crawl=%s: records=%d %s", crawl, sum(crawl_counts.values()), crawl_counts)
    by_status = dict(sum((Counter(crawl_counts) for crawl_counts in counts.values()), Counter()))
    lineage.declare(context, inputs=[
        lineage.table(config.landing, config.landing / "linkedin" / crawl, rows=sum(counts[crawl].values()),
                      files=len(lake.crawl_files(config.landing, crawl)), accounting=counts[crawl], with_schema=False)
        for crawl in counts
    ], outputs=[
        lineage.table(config.lake, lake.silver_table(config.lake, table),
                      **({"rows": sum(by_status.values()), "accounting": by_status} if table == "profiles" else {}))
        for table in lake.SILVER_PROFILE_TABLES
    ])
    return counts


def _announce_newest_day(config: Config, context: Mapping[str, Any] | None) -> None:
    """A new crawl re-derives the features as of the newest export day in bronze: the silver event's partition.
    With nothing in bronze yet there is nothing to derive, and the event goes without one (Airflow logs it)."""
    from credsignal import pipeline
    from credsignal.entry.assets import SILVER_PROFILES

    if context is None:
        return
    try:
        newest = pipeline.newest_ingested_day(config)
    except FileNotFoundError:
        log.info("no export day in bronze yet: the silver update starts no feature run")
        return
    announce_export_day(context, SILVER_PROFILES, newest)


@dataclass(frozen=True)
class FeatureRun:
    """What the tasks of a features_daily run hand on to each other: the run id (its staging folder's name) and the
    as_of it derives. XCom carries plain JSON, so as_of crosses it as an ISO day: `of` reads it, `to_xcom` and
    feature_day_for_run (the first task, whose value is that day alone) write it."""

    run_id: str
    as_of: date

    @classmethod
    def of(cls, context: Mapping[str, Any], upstream: str | Mapping[str, Any]) -> "FeatureRun":
        """This run's facts from the upstream task's XCom: choose_export_day's day, or a later task's to_xcom."""
        return cls(context["run_id"], date.fromisoformat(upstream if isinstance(upstream, str) else upstream["as_of"]))

    def to_xcom(self, **results: Any) -> dict[str, Any]:
        """The facts and a task's results, as its XCom value."""
        return {"run_id": self.run_id, "as_of": self.as_of.isoformat(), **results}


def feature_day_for_run(context: Mapping[str, Any]) -> str | None:
    """The as_of of this feature run (ISO day; pipeline.feature_as_of for the run's partition, the export day whose
    bronze or silver update started it), or None when a newer export day has its own run: the rest is skipped."""
    from credsignal import pipeline

    as_of = pipeline.feature_as_of(config_from_airflow(), export_day=run_partition_day(context))
    return None if as_of is None else as_of.isoformat()


def features_for_run(context: Mapping[str, Any], as_of: str) -> dict[str, Any]:
    """Stage the feature tables for this run, as of `as_of` (feature_day_for_run)."""
    from credsignal.entry import lineage
    from credsignal import pipeline

    config = config_from_airflow()
    run = FeatureRun.of(context, as_of)
    summary = pipeline.derive_features(None, config, run_id=run.run_id, as_of=run.as_of,
                                       lineage_conf=lineage.spark_properties(context))
    staged = pipeline.staging_dir(config, run.run_id)
    lineage.declare(context, inputs=_lake_inputs(config), outputs=[
        *(lineage.table(config.lake, staged / table, rows=summary["rows"].get(table),
                        same_as=f"curated/{table}") for table in pipeline.FEATURE_TABLES),
        lineage.table(config.lake, lake.learner_crosswalk(config.lake)),
    ])
    return run.to_xcom(rows=summary["rows"])


def _lake_inputs(config: Config) -> list[Any]:
    """The bronze and silver tables the feature job reads."""
    from credsignal.entry import lineage

    return [*(lineage.table(config.lake, lake.bronze_table(config.lake, source)) for source in lake.PLATFORM_SOURCES),
            *(lineage.table(config.lake, lake.silver_table(config.lake, table))
              for table in lake.SILVER_PROFILE_TABLES)]


def validate_for_run(staged: Mapping[str, Any], context: Mapping[str, Any]) -> dict[str, Any]:
    """Validate the staged tables, alert on failures and warnings, and fail the task when publishing is blocked."""
    from credsignal import pipeline

    config = config_from_airflow()
    run = FeatureRun.of(context, staged)
    outcome = pipeline.validate_staged(None, config, run_id=run.run_id, as_of=run.as_of)
    _declare_validation(config, run.run_id, outcome, context)
    log.info("validation run=%s: %d checks, %d failures, %d warnings; report %s", run.run_id,
             len(outcome.findings), len(outcome.of_severity("failure")), len(outcome.of_severity("warning")),
             outcome.report_path)
    pipeline.alert_and_block(outcome, context=context)
    return run.to_xcom(rows=staged["rows"], report=str(outcome.report_path))


def _declare_validation(config: Config, run_id: str, outcome: Any, context: Mapping[str, Any]) -> None:
    """The staged tables (and the bronze tables the volume, freshness and quarantine gates judge) as inputs, each
    with the assertions about it; the run's findings as the data_quality_history and data_quality_report rows."""
    from credsignal.entry import lineage

    from credsignal import pipeline
    staged = pipeline.staging_dir(config, run_id)
    assertions = lineage.assertions_of(outcome.findings)
    inputs = [lineage.table(config.lake, staged / table, assertions=assertions.pop(table, []),
                            same_as=f"curated/{table}") for table in pipeline.FEATURE_TABLES]
    for subject, about in sorted(assertions.items()):
        source = subject.partition(".")[2]
        if source in lake.PLATFORM_SOURCES:  # bronze.<source> and landing.<source> findings
            inputs.append(lineage.table(config.lake, lake.bronze_table(config.lake, source), assertions=about,
                                        with_schema=False))
        else:
            log.warning("validation findings about %r name no lake table; they are in the report only", subject)
    lineage.declare(context, inputs=inputs, outputs=[
        lineage.table(config.lake, lake.data_quality_history(config.lake), rows=len(outcome.findings)),
        lineage.table(config.lake, staged / pipeline.QUALITY_TABLE, rows=len(outcome.findings),
                      same_as=f"curated/{pipeline.QUALITY_TABLE}"),
    ])


def publish_for_run(validated: Mapping[str, Any], context: Mapping[str, Any]) -> dict[str, Any]:
    from credsignal.entry import lineage

    from credsignal import pipeline
    config = config_from_airflow()
    run = FeatureRun.of(context, validated)
    staged = pipeline.staging_dir(config, run.run_id)
    inputs = [lineage.table(config.lake, staged / table, same_as=f"curated/{table}")
              for table in (*pipeline.FEATURE_TABLES, pipeline.QUALITY_TABLE)]
    snapshot = pipeline.publish_staged(config, run_id=run.run_id, as_of=run.as_of)
    log.info("published snapshot %s: %s", snapshot.snapshot_id, dict(snapshot.rows))
    lineage.declare(context, inputs=inputs, outputs=[
        lineage.table(config.lake, lake.curated_table(config.lake, table), rows=rows)
        for table, rows in dict(snapshot.rows).items()])
    return run.to_xcom(snapshot_id=snapshot.snapshot_id, rows=dict(snapshot.rows))


def readout_for_run(published: Mapping[str, Any], context: Mapping[str, Any] | None = None) -> str:
    from credsignal.entry import lineage

    from credsignal import pipeline
    config = config_from_airflow()
    result = pipeline.build_readout(None, config, snapshot_id=published["snapshot_id"])
    log.info("%s", result.summary())
    lineage.declare(context, inputs=[
        lineage.table(config.lake, lake.curated_table(config.lake, table), rows=published["rows"].get(table))
        for table in pipeline.FEATURE_TABLES
    ], outputs=[lineage.table(config.lake, result.estimates_path.parent, rows=len(result.estimates))])
    return str(result.html_path)


def task_defaults(*, retries: int, retry_delay: timedelta, max_retry_delay: timedelta,
                  execution_timeout: timedelta) -> dict[str, Any]:
    """default_args of every credsignal DAG: retries with exponential backoff, a timeout, and the alert notifiers
    (webhook and e-mail) as the on_failure_callback. A blocked publish is not alerted again there: the validate
    task has sent that run's alert, with its findings (credsignal.alerts.alert_for)."""
    from credsignal import alerts

    return {
        "retries": retries,
        "retry_delay": retry_delay,
        "retry_exponential_backoff": 2.0,
        "max_retry_delay": max_retry_delay,
        "execution_timeout": execution_timeout,
        "on_failure_callback": alerts.alert_notifiers(),
    }
