"""
### features_daily

Derives the study's curated tables from bronze and silver, validates them, and publishes them for analysts.

Scheduled on the partitioned Assets of the upstream DAGs: one run per export day (the partition key) that
bronze gained, and one when a new crawl is parsed into silver (for the newest export day in bronze). `as_of` is
the `credsignal_as_of` Variable, else the run's export day.

0. `choose_export_day`: a run whose day is older than the newest day in bronze (a backfill, a late day) skips the
   rest: the newer day has its own run, and publishing an older snapshot would put out-of-date tables live.
1. `derive_features` (Spark): `learner_outcomes_full` and `learner_outcomes_linkedin` staged under
   `lake/_staging/<run_id>/` (through spark-submit when the `credsignal_spark` Connection is set).
2. `validate`: Great Expectations suites and experiment-integrity gates (sample ratio, balance, attrition,
   bands, volume, freshness, quarantine). Failures and warnings are alerted; a failure fails this task and
   nothing is published.
3. `publish`: the staged tables become the live snapshot of `lake/curated/` in one atomic switch.
4. `readout`: the analyst readout (HTML + `readout_estimates`) of the new snapshot.

Updates `credsignal://lake/curated`. Data dictionary: docs/data_dictionary.md. Runbook: docs/operations.md.
"""

from __future__ import annotations

from datetime import timedelta

import pendulum
from airflow.sdk import IdentityMapper, PartitionedAssetTimetable, dag, task

from credsignal.entry.assets import BRONZE_PLATFORM, CURATED_TABLES, SILVER_PROFILES
from credsignal.entry.airflow_tasks import task_defaults


@dag(
    # Both upstream DAGs key their events by export day, the key this DAG runs for.
    schedule=PartitionedAssetTimetable(assets=BRONZE_PLATFORM | SILVER_PROFILES,
                                       default_partition_mapper=IdentityMapper()),
    start_date=pendulum.datetime(2022, 9, 1, tz="UTC"),
    catchup=False,
    max_active_runs=1,
    tags=["credsignal", "features", "curated"],
    doc_md=__doc__,
    default_args=task_defaults(retries=2, retry_delay=timedelta(minutes=5), max_retry_delay=timedelta(hours=1),
                                execution_timeout=timedelta(hours=2)),
)
def features_daily():
    @task.short_circuit
    def choose_export_day(**context) -> str | None:
        from credsignal.entry.airflow_tasks import feature_day_for_run

        return feature_day_for_run(context)

    @task
    def derive_features(as_of: str, **context) -> dict:
        from credsignal.entry.airflow_tasks import features_for_run

        return features_for_run(context, as_of)

    # A blocked publish is a verdict on the data, not a flaky step: retrying cannot change it.
    @task(retries=0)
    def validate(staged: dict, **context) -> dict:
        from credsignal.entry.airflow_tasks import validate_for_run

        return validate_for_run(staged, context)

    @task(outlets=[CURATED_TABLES])
    def publish(validated: dict, **context) -> dict:
        from credsignal.entry.airflow_tasks import publish_for_run

        return publish_for_run(validated, context)

    @task
    def readout(published: dict, **context) -> str:
        from credsignal.entry.airflow_tasks import readout_for_run

        return readout_for_run(published, context)

    readout(publish(validate(derive_features(choose_export_day()))))


features_daily()
