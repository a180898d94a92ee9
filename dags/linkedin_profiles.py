"""
### linkedin_profiles

Parses collected LinkedIn profile pages into the lake's silver tables (`profiles`, `profile_positions`,
`profile_education`, `profile_certifications`, `profile_parse_failures`), one partition per crawl.

A crawl is an occasional event, not a daily one. The DAG runs when the crawler announces a crawl (an event on the
`credsignal://landing/linkedin` Asset, posted through the REST API) and, as a safety net, once a day at 06:00 UTC;
either way it parses only the crawls that are new or were re-delivered since they were last parsed, and does
nothing (its tasks are skipped) when there are none. Parsing a crawl again overwrites that crawl's partitions.

Updates the `credsignal://lake/silver/profiles` Asset that `features_daily` is scheduled on.
Runbook: docs/operations.md.
"""

from __future__ import annotations

from datetime import timedelta

import pendulum
from airflow.sdk import AssetOrTimeSchedule, CronTriggerTimetable, dag, task

from credsignal.entry.assets import CRAWL_LANDED, SILVER_PROFILES
from credsignal.entry.airflow_tasks import task_defaults


@dag(
    schedule=AssetOrTimeSchedule(timetable=CronTriggerTimetable("0 6 * * *", timezone="UTC"), assets=[CRAWL_LANDED]),
    start_date=pendulum.datetime(2023, 9, 1, tz="UTC"),
    catchup=False,
    max_active_runs=1,
    tags=["credsignal", "parse", "silver"],
    doc_md=__doc__,
    default_args=task_defaults(retries=2, retry_delay=timedelta(minutes=5), max_retry_delay=timedelta(hours=1),
                                execution_timeout=timedelta(hours=3)),
)
def linkedin_profiles():
    @task.short_circuit(execution_timeout=timedelta(minutes=10))
    def find_new_crawls() -> list[str]:
        from credsignal.entry.airflow_tasks import pending_crawls

        return pending_crawls()

    @task(outlets=[SILVER_PROFILES])
    def parse(crawls: list[str], **context) -> dict:
        from credsignal.entry.airflow_tasks import parse_crawls

        return parse_crawls(crawls, context)

    parse(find_new_crawls())


linkedin_profiles()
