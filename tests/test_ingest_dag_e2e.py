"""End to end through Airflow: a small dirty synthetic landing zone, `platform_exports_daily` run with
`dag.test()`, and the lake's row accounting compared with what the generator planted, day by day."""

from __future__ import annotations

import json
from datetime import date

import pytest

from credsignal.core import lake
from credsignal.core.lake import PLATFORM_SOURCES


@pytest.fixture(scope="module")
def planted(tmp_path_factory):
    from synth.platform import generate

    root = tmp_path_factory.mktemp("ingest-e2e")
    summary = generate(root / "landing", n_learners=300, seed=11, dirty_rate=0.04)
    return root, json.loads(summary.expected_path.read_text())


def _export_days(landing) -> list[date]:
    """Every export day of the zone: those of a daily source (event-driven sources have folders on some days)."""
    return lake.complete_export_days(landing, "app_sessions")


def test_dag_run_ingests_exactly_what_the_generator_planted(airflow_db, spark, planted, monkeypatch):
    from airflow.dag_processing.dagbag import DagBag

    root, expected = planted
    landing, lake_root = root / "landing", root / "lake"
    monkeypatch.setenv("AIRFLOW_VAR_CREDSIGNAL_LANDING", str(landing))
    monkeypatch.setenv("AIRFLOW_VAR_CREDSIGNAL_LAKE", str(lake_root))
    days = _export_days(landing)
    dag = DagBag().dags["platform_exports_daily"]

    run = dag.test(run_conf={"since": days[0].isoformat(), "until": days[-1].isoformat()})

    assert run.state == "success"
    for source in PLATFORM_SOURCES:
        planted_days = expected[source]
        source_days = {d.isoformat() for d in lake.complete_export_days(landing, source)}
        assert set(planted_days) == source_days <= {d.isoformat() for d in days}
        if source == "experiment_assignments":  # a sparse source: folders on randomization days only
            assert len(source_days) < 15
        # Exactly the delivered days reached bronze; a day without a folder has no ingest report.
        assert {p.stem[len("dt="):] for p in lake.ingest_report(lake_root, source, days[0]).parent.glob("dt=*.json")} \
            == source_days, source
        for day, want in planted_days.items():
            got = json.loads(lake.ingest_report(lake_root, source, date.fromisoformat(day)).read_text())
            assert (got["rows_in"], got["rows_kept"], got["duplicates"], got["quarantined"]) == (
                want["rows_in"], want["rows_kept"], want["duplicates"], want["quarantined"]), (source, day)
        bronze_rows = spark.read.parquet(str(lake.bronze_table(lake_root, source))).count()
        assert bronze_rows == sum(want["rows_kept"] for want in planted_days.values()), source
        reasons = {}
        for row in spark.read.parquet(str(lake.quarantine_table(lake_root, source))).groupBy("reason").count().collect():
            reasons[row["reason"]] = row["count"]
        planted_reasons: dict[str, int] = {}
        for want in planted_days.values():
            for reason, count in want["quarantined"].items():
                planted_reasons[reason] = planted_reasons.get(reason, 0) + count
        assert reasons == planted_reasons, source
    # the dirt really is there: every planted reason family shows up somewhere
    families = {reason.split(":")[0] for by_day in expected.values() for want in by_day.values()
                for reason in want["quarantined"]}
    assert {"malformed_json", "missing_field", "bad_timestamp", "bad_enum"} <= families
