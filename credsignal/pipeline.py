"""The chain's steps: the one glue both front doors call. `credsignal run` calls `run_pipeline` (every step in
order, in-process); the DAG tasks call the same step functions one by one, through credsignal/entry/airflow_tasks.py,
which adds only what is Airflow's (the task context, lineage declarations, XCom values):

    step      pipeline                                      DAG task
    ingest    ingest_source (ingest_exports: every source)  platform_exports_daily.ingest_<source>
    parse     crawls_to_parse, parse_crawls                 linkedin_profiles.find_new_crawls, parse
    features  feature_as_of (a DAG run's), derive_features  features_daily.choose_export_day, derive_features
    validate  validate_staged, alert_and_block              features_daily.validate
    publish   publish_staged                                features_daily.publish
    readout   build_readout                                 features_daily.readout

Each step reads what the previous one left in the lake, so a DAG task can run it alone; none holds logic of its own
beyond wiring jobs/ together.
"""

from __future__ import annotations

import json
import logging
import re
import shutil
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timezone
from pathlib import Path
from typing import Any

from credsignal.core import contracts, lake
from credsignal.core.config import Config
from credsignal.core.storage import lake_lock

log = logging.getLogger(__name__)

FEATURE_TABLES = contracts.OUTPUT_TABLES
QUALITY_TABLE = "data_quality_report"


class ExperimentNotFound(ValueError):
    """The configured experiment has no assignments in bronze: nothing to derive."""


class PublishBlocked(RuntimeError):
    """Validation found a failure: nothing was published. The message is the validation summary."""

    def __init__(self, outcome: Any) -> None:
        from jobs.validate import render_text

        super().__init__(render_text(outcome))
        self.outcome = outcome


# ------------------------------------------------------------------------------------------- dates, ids


def resolve_as_of(config: Config, days_of: Callable[[str], Iterable[date]], where: str) -> date:
    """The as_of of a run that was given none: the newest complete export day of the sources that deliver every
    day (those with a freshness in Config.source_freshness). Event-driven sources (assignments on randomization
    days only, ...) neither set nor hold back as_of; a daily source that stopped delivering does not hold it back
    either: it falls behind as_of, and validation warns and then blocks, naming it (jobs/validate.py).
    `days_of(source)` lists a source's complete days; `where` says where they were looked for, for the error."""
    daily = config.daily_sources()
    if not daily:
        raise ValueError("no source has a freshness (source_freshness), so as_of cannot be resolved: set as_of")
    newest = [max(days) for days in (list(days_of(source)) for source in daily) if days]
    if not newest:
        raise FileNotFoundError(f"no complete export of {', '.join(daily)} {where}")
    return max(newest)


def newest_complete_day(config: Config) -> date:
    """as_of resolved from the landing zone (`credsignal run`): see resolve_as_of."""
    return resolve_as_of(config, lambda source: lake.complete_export_days(config.landing, source),
                         f"(dt folder with _SUCCESS) under {config.landing / 'platform'}")


def ingested_days(config: Config, source: str) -> list[date]:
    """Export days of a source that reached bronze (each has its ingest report)."""
    return lake.ingested_days(config.lake, source)


def newest_ingested_day(config: Config) -> date:
    """as_of resolved from bronze (a feature run started by an Asset): see resolve_as_of."""
    return resolve_as_of(config, lambda source: ingested_days(config, source), f"in bronze under {config.lake}")


def feature_as_of(config: Config, *, export_day: date | None = None) -> date | None:
    """The as_of of a feature run started for `export_day` (a DAG run's partition; None for a run without one): the
    configured as_of; else export_day, or None when a newer day has reached bronze (that day has its own run, and
    deriving an older one would only publish a snapshot that is out of date at once); else the newest day the daily
    sources have in bronze (resolve_as_of)."""
    if config.as_of is not None:
        return config.as_of
    newest = newest_ingested_day(config)
    if export_day is not None and export_day < newest:
        log.info("export day %s is superseded by %s, which has its own feature run: nothing to derive",
                 export_day, newest)
        return None
    return export_day or newest


def newest_export_days(config: Config, *, as_of: date) -> dict[str, date | None]:
    """Each source's newest complete export day on or before as_of (None when it has none): what freshness judges."""
    return {source: max(lake.complete_export_days(config.landing, source, until=as_of), default=None)
            for source in lake.PLATFORM_SOURCES}


def safe_run_id(run_id: str) -> str:
    """An Airflow run id ("scheduled__2023-09-30T00:00:00+00:00") as a folder name."""
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", run_id).strip("_")


def cli_run_id(now: datetime | None = None) -> str:
    now = now or datetime.now(timezone.utc)
    return f"cli__{now:%Y%m%dT%H%M%S}"


def staging_dir(config: Config, run_id: str) -> Path:
    return lake.staging_root(config.lake, safe_run_id(run_id))


def validation_dir(config: Config, run_id: str) -> Path:
    """Where a run's validation report stays, published or not."""
    return lake.validation_report_dir(config.lake, safe_run_id(run_id))


# ------------------------------------------------------------------------------------------------ steps
# Every step that writes to the lake holds its writer lock, so that two runs (two `credsignal run`s, a DAG run and a
# manual rerun) never write at once; `run_pipeline` holds it from the first step to the last.


def writing(config: Config, step: str, run_id: str | None = None) -> Any:
    """The lake's writer lock for `step`, waiting at most config.lake_lock_wait_seconds for another writer."""
    return lake_lock(config.lake, step=step, run_id=run_id, wait_seconds=config.lake_lock_wait_seconds)


def submitted(config: Config, module: str, argv: Sequence[str], *, name: str,
              lineage_conf: Mapping[str, str] | None = None) -> Any:
    """Run `module`'s main(argv) through spark-submit on the `credsignal_spark` connection's master, with the run's
    Config in its environment; returns the JSON result the job wrote to its --result file."""
    from credsignal.core import spark_submit as submit

    result = lake.job_result(config.lake, f"{name}-{uuid.uuid4().hex[:12]}")
    try:
        submit.submit_job(module, [*argv, "--result", str(result.resolve())], config=config, name=name,
                          lineage_conf=lineage_conf)
        return json.loads(result.read_text(encoding="utf-8"))
    finally:
        result.unlink(missing_ok=True)


def spark_submit_configured() -> bool:
    """Whether the Spark steps go through spark-submit (the `credsignal_spark` connection is defined) rather than
    run in this process."""
    from credsignal.core import spark_submit as submit

    return submit.spark_connection_defined()


def ingest_source(spark: Any, config: Config, source: str, *, since: date | None = None, until: date | None = None,
                  run_id: str | None = None) -> Any:
    """Ingest one source's complete export days in [since, until] (until: the config's as_of) into bronze and
    quarantine; returns its IngestResult. The DAG ingests each source in a task of its own, `ingest_exports` all."""
    from jobs import ingest

    days = ingest.ingestible_days(config, source, since, until)
    with writing(config, f"ingest {source}", run_id):
        if not spark_submit_configured():
            return ingest.ingest_source(spark, config, source, days)
        if not days:
            return ingest.IngestResult(source, [], {})
        argv = ["--source", source, "--since", days[0].isoformat(), "--until", days[-1].isoformat()]
        results = submitted(config, "jobs.ingest", argv, name=f"credsignal-ingest-{source}")
        return ingest.IngestResult.from_json(results[0])


def ingest_exports(spark: Any, config: Config, *, since: date | None = None, until: date | None = None) -> list:
    """Every source, one after the other (ingest_source): a source that fails does not stop the others, IngestFailed
    names the failures at the end (jobs.ingest.ingest_each_source)."""
    from jobs import ingest

    with writing(config, "ingest"):
        if spark_submit_configured():  # one job for every source: one driver start-up instead of six
            argv = [arg for day, flag in ((since, "--since"), (until, "--until")) if day for arg in (flag, day.isoformat())]
            return [ingest.IngestResult.from_json(result)
                    for result in submitted(config, "jobs.ingest", argv, name="credsignal-ingest")]
        return ingest.ingest_each_source(
            lake.PLATFORM_SOURCES, lambda source: ingest_source(spark, config, source, since=since, until=until))


INGEST_COUNTS = ("rows_in", "rows_kept", "rows_quarantined", "duplicates")


def ingest_account(result: Any) -> dict[str, Any]:
    """A source's row accounting over the export days it ingested, as plain JSON."""
    total = result.total()
    return {"source": result.source, "days": [day.isoformat() for day in result.days],
            **{count: getattr(total, count) for count in INGEST_COUNTS}, "quarantined": dict(total.quarantined)}


def ingest_totals(accounts: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
    """The accounts of several sources, by source, and their totals."""
    accounts = list(accounts)
    return {"sources": {account["source"]: account for account in accounts},
            **{count: sum(account[count] for account in accounts) for count in INGEST_COUNTS}}


def crawls_to_parse(config: Config) -> list[str]:
    """Crawls that landed, or were re-delivered, since they were last parsed."""
    from jobs import parse

    return parse.crawls_to_parse(config)


def parse_crawls(spark: Any, config: Config, crawls: list[str], *,
                 run_id: str | None = None) -> dict[str, dict[str, int]]:
    """Parse the crawls into silver, each crawl's partitions overwritten; returns each crawl's records by status."""
    from jobs import parse

    if not crawls:  # parse.run takes no crawls to mean every crawl
        return {}
    with writing(config, "parse", run_id):
        if not spark_submit_configured():
            return parse.run(spark, config, crawls)
        return submitted(config, "jobs.parse", [arg for crawl in crawls for arg in ("--crawl", crawl)],
                         name="credsignal-parse")


def require_experiment(config: Config, *, as_of: date) -> int:
    """The number of assignment rows of config.experiment_id in bronze up to as_of; ExperimentNotFound naming the
    configured id and the ids the export has when there are none (before any Spark work: a wrong id otherwise
    derives empty tables that fail later on row-count checks)."""
    from jobs import features

    present = features.experiment_ids_in_bronze(config.lake, as_of=as_of)
    if present.get(config.experiment_id, 0) == 0:
        found = ", ".join(f"{name!r} ({rows} rows)" for name, rows in sorted(present.items())) or "none"
        raise ExperimentNotFound(
            f"experiment {config.experiment_id!r} has no assignments in the experiment_assignments export up to "
            f"{as_of}; experiment ids present: {found}. Set CREDSIGNAL_EXPERIMENT_ID (Airflow Variable "
            f"credsignal_experiment_id, or credsignal run --experiment-id) to one of them.")
    return present[config.experiment_id]


def derive_features(spark: Any, config: Config, *, run_id: str, as_of: date,
                    lineage_conf: Mapping[str, str] | None = None) -> dict[str, Any]:
    """Stage the feature tables of the run under lake/_staging/<run_id>/ (in-process, in `spark` or else a session
    started here, or spark-submit when the `credsignal_spark` connection is defined, with `lineage_conf` among its
    properties), after checking that the configured experiment has assignments."""
    with writing(config, "features", run_id):
        return _derive_features(spark, config, run_id=run_id, as_of=as_of, lineage_conf=lineage_conf)


def _derive_features(spark: Any, config: Config, *, run_id: str, as_of: date,
                     lineage_conf: Mapping[str, str] | None) -> dict[str, Any]:
    from credsignal.core import privacy
    from credsignal.core.spark import spark_session
    from jobs import features

    require_experiment(config, as_of=as_of)
    staged = staging_dir(config, run_id)
    shutil.rmtree(staged, ignore_errors=True)
    if spark_submit_configured():
        privacy.pseudonym_key(config.lake)  # fails here, not in the driver, when the lake's key is missing
        argv = ["--lake", str(config.lake.resolve()), "--as-of", as_of.isoformat(), "--out", str(staged.resolve()),
                "--experiment-id", config.experiment_id,
                "--enrollment-reference-year", str(config.enrollment_reference_year),
                "--degree-reference-year", str(config.degree_reference_year)]
        if config.cwur_path is not None:
            argv += ["--cwur", str(Path(config.cwur_path).resolve())]
        summary = submitted(config, "jobs.features", argv, name=f"credsignal-features-{safe_run_id(run_id)}",
                            lineage_conf=lineage_conf)
    else:
        summary = features.run(spark or spark_session(config, app_name="credsignal-features"), config, as_of=as_of,
                               write_to=staged, cwur_path=config.cwur_path)
    log.info("features run=%s as_of=%s rows %s", run_id, as_of, summary["rows"])
    return summary


def run_facts(config: Config, *, as_of: date) -> Any:
    """What the gates compare against: the live snapshot's row counts, the newest export, and the row
    accounting of the export days that are new since the live snapshot (all days on a first publish)."""
    from jobs import publish
    from jobs.ingest import withdrawn_export_days
    from jobs.validate import RunFacts

    current = publish.current_snapshot(config.lake)
    previous_rows = dict(current.rows) if current is not None else {}
    since = current.as_of if current is not None else None
    accounts = []
    for source in lake.PLATFORM_SOURCES:
        days = [d for d in ingested_days(config, source) if d <= as_of and (since is None or d > since)]
        total: dict[str, Any] = {"source": source, "rows_in": 0, "rows_quarantined": 0, "quarantined": {}}
        for day in days:
            report = json.loads(lake.ingest_report(config.lake, source, day).read_text())
            total["rows_in"] += report["rows_in"]
            total["rows_quarantined"] += report["rows_quarantined"]
            for reason, count in report["quarantined"].items():
                total["quarantined"][reason] = total["quarantined"].get(reason, 0) + count
        accounts.append(total)
    withdrawn = {source: withdrawn_export_days(config, source) for source in lake.PLATFORM_SOURCES}
    return RunFacts(previous_rows=previous_rows, newest_export_days=newest_export_days(config, as_of=as_of),
                    ingest_accounts=accounts, withdrawn_exports=withdrawn,
                    max_volume_change_pct=config.max_volume_change_pct,
                    max_quarantine_share=config.max_quarantine_share,
                    source_freshness=dict(config.source_freshness))


def staged_feature_facts(staged: Path) -> dict[str, Any]:
    """What the feature job reported beside its tables (_reports/profile_match.json) that the gates record."""
    report = lake.match_report(staged)
    if not report.is_file():
        return {}
    versions = json.loads(report.read_text(encoding="utf-8")).get("learner_versions", {})
    return {"learners_without_version_at_randomization": versions.get("no_version_by_randomization")}


def validate_staged(spark: Any, config: Config, *, run_id: str, as_of: date) -> Any:
    """Run the suites and gates on the staged tables (in-process, in `spark` or else a session started here, or
    spark-submit when the `credsignal_spark` connection is defined); append the findings to data_quality_history;
    stage data_quality_report; keep the report files (report.html shows the history's trends)."""
    from jobs import quality_history

    staged = staging_dir(config, run_id)
    missing = [table for table in FEATURE_TABLES if not (staged / table).is_dir()]
    if missing:
        raise FileNotFoundError(f"run {run_id} has no staged {', '.join(missing)} under {staged}")
    with writing(config, "validate", run_id):
        facts = replace(run_facts(config, as_of=as_of), **staged_feature_facts(staged))
        outcome = _validate_tables(spark, config, staged, run_id=run_id, as_of=as_of, facts=facts)
        quality_history.append_run(config.lake, outcome, file_id=safe_run_id(run_id))
        quality_history.write_report(outcome, validation_dir(config, run_id),
                                     quality_history.read_recent(config.lake),
                                     history_path=lake.data_quality_history(config.lake))
        quality = staged / QUALITY_TABLE
        quality.mkdir(parents=True, exist_ok=True)
        outcome.report_frame().to_parquet(quality / "part-00000.parquet", index=False)
    return outcome


def _validate_tables(spark: Any, config: Config, staged: Path, *, run_id: str, as_of: date, facts: Any) -> Any:
    from credsignal.core.spark import spark_session
    from jobs import validate

    if spark_submit_configured():
        # The facts the gates compare against stay beside the report: what this run was judged by.
        report_dir = validation_dir(config, run_id)
        report_dir.mkdir(parents=True, exist_ok=True)
        facts_path = report_dir / "facts.json"
        facts_path.write_text(validate.facts_json(facts), encoding="utf-8")
        return validate.outcome_from_json(submitted(config, "jobs.validate", [
            "--staged", str(staged.resolve()), "--tables", *FEATURE_TABLES, "--run-id", run_id,
            "--as-of", as_of.isoformat(), "--facts", str(facts_path.resolve())],
            name=f"credsignal-validate-{safe_run_id(run_id)}"))
    spark = spark or spark_session(config, app_name="credsignal-validate")
    tables = validate.read_staged(spark, {table: staged / table for table in FEATURE_TABLES})
    return validate.validate(tables, run_id=run_id, as_of=as_of, facts=facts)


def alert_and_block(outcome: Any, *, context: Any = None) -> None:
    """Alert the people on call about the outcome's failures and warnings through the alert notifiers (which never
    raise), then raise PublishBlocked when it has a failure. In a task, `context` is the task's context; from
    `credsignal run` there is none."""
    from credsignal import alerts

    dag = (context or {}).get("dag")
    alerts.notify_validation(outcome, context=context, dag_id=getattr(dag, "dag_id", None))
    if outcome.blocked:
        raise PublishBlocked(outcome)


def publish_staged(config: Config, *, run_id: str, as_of: date) -> Any:
    """Promote the staged tables atomically as the new live snapshot, then drop the staging folder."""
    from jobs import publish

    staged = staging_dir(config, run_id)
    tables = {table: staged / table for table in (*FEATURE_TABLES, QUALITY_TABLE)}
    with writing(config, "publish", run_id):
        snapshot = publish.publish(config.lake, tables, run_id=run_id, as_of=as_of, keep=config.keep_snapshots)
        keep_match_report(lake.match_report(staged),
                          lake.snapshot_match_report(config.lake, snapshot.snapshot_id))
        shutil.rmtree(staged, ignore_errors=True)
    return snapshot


def keep_match_report(report: Path, target: Path) -> None:
    """Copy the feature job's match report beside the published snapshot (the readout's attrition by arm reads
    it); written to a temporary name and renamed, so a reader never sees half of it. No report, no copy."""
    if not report.is_file():
        return
    target.parent.mkdir(parents=True, exist_ok=True)
    temporary = target.with_name(f".{target.name}.tmp")
    shutil.copyfile(report, temporary)
    temporary.replace(target)


def build_readout(spark: Any, config: Config, *, snapshot_id: str | None = None) -> Any:
    """The analyst readout of a published snapshot (the live one when `snapshot_id` is None), estimated in `spark` or
    else a session started here, or through spark-submit when the `credsignal_spark` connection is defined."""
    from credsignal.core.spark import spark_session
    from jobs import readout

    with writing(config, "readout"):
        if spark_submit_configured():
            argv = ["--lake", str(config.lake.resolve()), *(["--snapshot", snapshot_id] if snapshot_id else [])]
            return readout.ReadoutResult.from_json(submitted(config, "jobs.readout", argv, name="credsignal-readout"))
        return readout.build_readout(spark or spark_session(config, app_name="credsignal-readout"), config.lake,
                                     snapshot=snapshot_id)


# ----------------------------------------------------------------------------------- snapshots, retention


def list_snapshots(config: Config) -> list:
    """The published snapshots kept for rollback, oldest first; `live` marks the live one."""
    from jobs import publish

    return publish.list_snapshots(config.lake)


def roll_back(config: Config, *, to: str | None = None) -> Any:
    """Make snapshot `to` (default: the one published before the live one) live again."""
    from jobs import publish

    with writing(config, "rollback"):
        return publish.rollback(config.lake, to=to)


def delete_expired(config: Config, *, today: date, dry_run: bool = False) -> list:
    """Delete the restricted-zone partitions (quarantine, silver) older than config.restricted_retention_days, or
    with dry_run only list them."""
    from credsignal.core import privacy

    with writing(config, "cleanup"):
        return privacy.delete_expired(config.lake, retention_days=config.restricted_retention_days, today=today,
                                      dry_run=dry_run)


# ------------------------------------------------------------------------------------------------ chain


@dataclass
class PipelineReport:
    config: Config
    run_id: str
    ingest: list = field(default_factory=list)
    parse: dict = field(default_factory=dict)
    features: dict = field(default_factory=dict)
    validation: Any = None
    snapshot: Any = None
    readout: Any = None

    def render(self) -> str:
        lines = [f"run {self.run_id}: as_of {self.config.as_of}; lake {self.config.lake.resolve()}", "",
                 "bronze ingestion:",
                 f"  {'source':<24}{'days':>6}{'rows in':>10}{'kept':>10}{'quarant.':>10}{'dupl.':>8}"]
        for account in map(ingest_account, self.ingest):
            lines.append(f"  {account['source']:<24}{len(account['days']):>6}{account['rows_in']:>10}"
                         f"{account['rows_kept']:>10}{account['rows_quarantined']:>10}{account['duplicates']:>8}")
        if self.parse:
            lines += ["", "profile crawls parsed:"]
            lines += [f"  crawl {crawl}: {dict(sorted(counts.items()))}" for crawl, counts in self.parse.items()]
        if self.features:
            lines += ["", f"features: {self.features['rows']}"]
        if self.validation is not None:
            from jobs.validate import render_text

            lines += ["", render_text(self.validation, limit=10),
                      f"  report: {self.validation.report_path}"]
        if self.snapshot is not None:
            lines += ["", f"published snapshot {self.snapshot.snapshot_id}:"]
            for table in (*FEATURE_TABLES, QUALITY_TABLE):
                lines.append(f"  {table:<28}{self.snapshot.rows.get(table, 0):>9} rows  "
                             f"{lake.curated_table(self.config.lake, table).resolve(strict=False)}")
        if self.readout is not None:
            lines += ["", self.readout.summary()]
        return "\n".join(lines)


def run_pipeline(config: Config, *, run_id: str | None = None) -> PipelineReport:
    """Every step in order, in-process, holding the lake's writer lock throughout. Raises PublishBlocked (after
    alerting) when validation fails, LakeBusy when another run writes the lake for longer than the wait."""
    run_id = run_id or cli_run_id()
    with writing(config, "run", run_id):
        return _run_pipeline(config, run_id=run_id)


def _run_pipeline(config: Config, *, run_id: str) -> PipelineReport:
    from credsignal.core.spark import spark_session

    if config.as_of is None:
        config = replace(config, as_of=newest_complete_day(config))
    spark = spark_session(config)
    report = PipelineReport(config, run_id)
    report.ingest = ingest_exports(spark, config, until=config.as_of)
    report.parse = parse_crawls(spark, config, crawls_to_parse(config), run_id=run_id)
    report.features = derive_features(spark, config, run_id=run_id, as_of=config.as_of)
    report.validation = validate_staged(spark, config, run_id=run_id, as_of=config.as_of)
    alert_and_block(report.validation)
    report.snapshot = publish_staged(config, run_id=run_id, as_of=config.as_of)
    report.readout = build_readout(spark, config, snapshot_id=report.snapshot.snapshot_id)
    return report
