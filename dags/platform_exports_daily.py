"""
### platform_exports_daily

Nightly ingestion of the learning platform's exports into the lake's bronze layer.

Each run is for one export day, its partition key (`YYYY-MM-DD`): the nightly run at 00:00 UTC takes the day
that just ended, and a backfill takes every day of its range. The `since`/`until` params instead give a manual
run a window, for an initial load or a repair. The run waits for the `_SUCCESS` marker of each source that
delivers every day (those with a freshness; event-driven
sources such as experiment_assignments have a folder only on days with rows), then ingests the six sources in
parallel (a source without a folder in the window ingests nothing): valid rows to
`bronze/<source>/dt=…`, rejected rows with their reason to `quarantine/<source>/dt=…`, one partition
overwritten per export day. When all six succeed it updates the `bronze_platform` Asset that the feature
DAG is scheduled on, for the run's export day (a manual window: its last day).

Backfill a range, newest day first so that the feature DAG derives only the newest:
`airflow backfill create --dag-id platform_exports_daily --from-date 2023-09-01 --to-date 2023-09-30 --run-backwards`.
Contract: docs/landing_contract.md. Runbook: docs/operations.md.
"""

from __future__ import annotations

from datetime import timedelta

import pendulum
from airflow.sdk import CronPartitionTimetable, Param, PokeReturnValue, dag, task

from credsignal.entry.assets import BRONZE_PLATFORM
from credsignal.core.lake import PLATFORM_SOURCES
from credsignal.entry.airflow_tasks import task_defaults


@dag(
    # The run at midnight is for the day before it (run_offset=-1); its partition key is that export day.
    schedule=CronPartitionTimetable("0 0 * * *", timezone="UTC", run_offset=-1, key_format="%Y-%m-%d"),
    start_date=pendulum.datetime(2022, 9, 1, tz="UTC"),
    # Catching up from 2022 on first deploy would flood the scheduler; history is loaded with a backfill.
    catchup=False,
    max_active_runs=2,
    max_active_tasks=6,
    tags=["credsignal", "ingest", "bronze"],
    doc_md=__doc__,
    default_args=task_defaults(retries=3, retry_delay=timedelta(minutes=2), max_retry_delay=timedelta(minutes=30),
                                execution_timeout=timedelta(hours=2)),
    params={
        "since": Param(None, type=["null", "string"], description="first export day (YYYY-MM-DD); default: the run's partition"),
        "until": Param(None, type=["null", "string"], description="last export day (YYYY-MM-DD); default: since"),
    },
)
def platform_exports_daily():
    @task.sensor(poke_interval=300, timeout=timedelta(hours=8).total_seconds(), mode="reschedule",
                 execution_timeout=timedelta(minutes=5))
    def wait_for_exports(**context) -> PokeReturnValue:
        from credsignal.entry.airflow_tasks import ExportWindow, config_from_airflow, exports_missing

        missing = exports_missing(config_from_airflow(), ExportWindow.for_run(context))
        return PokeReturnValue(is_done=not missing, xcom_value=missing)

    @task
    def ingest(source: str, **context) -> dict:
        from credsignal.entry.airflow_tasks import ingest_for_run

        return ingest_for_run(source, context)

    @task(outlets=[BRONZE_PLATFORM])
    def mark_bronze_updated(accounts: list[dict], **context) -> dict:
        from credsignal.entry.airflow_tasks import summarise_ingest

        return summarise_ingest(accounts, context)

    ready = wait_for_exports()
    accounts = [ingest.override(task_id=f"ingest_{source}")(source) for source in PLATFORM_SOURCES]
    ready >> accounts
    mark_bronze_updated(accounts)


platform_exports_daily()
