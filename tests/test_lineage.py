"""OpenLineage end to end: the three DAGs run with `dag.test()` in a fresh Airflow process whose provider
(apache-airflow-providers-openlineage) sends its events with the HTTP transport to a receiver on 127.0.0.1, and
the events of each DAG run are checked against the lake they describe: every task's START and COMPLETE, the lake
tables as datasets with their schemas, the row counts ingest, parse and publish computed, and validate's checks as
data-quality assertions."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq
import pytest

from credsignal.core import lake
from credsignal.entry.lineage import ROW_ACCOUNTING_FACET, namespace_of
from credsignal.pipeline import FEATURE_TABLES, QUALITY_TABLE
from credsignal.core.contracts import EXPORT_SOURCES
from helper_dags import load_helper_dag
from local_servers import Inbox
from test_pipeline_e2e import AS_OF, WINDOW_START, make_landing

REPO_ROOT = Path(__file__).resolve().parents[1]
N_LEARNERS = 1500
SEED = 23
RUN_TIMEOUT_S = 1500


@pytest.fixture(scope="module")
def receiver():
    """An OpenLineage HTTP endpoint: every event POSTed to /api/v1/lineage, parsed."""
    events = Inbox()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            if self.path == "/api/v1/lineage":
                events.add(json.loads(body))
            self.send_response(201 if self.path == "/api/v1/lineage" else 404)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield server.server_address[1], events
    server.shutdown()
    server.server_close()
    thread.join(timeout=20)


@pytest.fixture(scope="module")
def dag_runs(airflow_db, receiver, tmp_path_factory):
    """The three DAGs, run once in one fresh process against a small landing zone."""
    port, events = receiver
    root = tmp_path_factory.mktemp("lineage")
    landing = make_landing(root, n_learners=N_LEARNERS, seed=SEED)
    lake_root = root / "lake"
    env = {
        **os.environ,
        "AIRFLOW_VAR_CREDSIGNAL_LANDING": str(landing),
        "AIRFLOW_VAR_CREDSIGNAL_LAKE": str(lake_root),
        "AIRFLOW_VAR_CREDSIGNAL_AS_OF": AS_OF.isoformat(),
        "AIRFLOW__OPENLINEAGE__TRANSPORT": json.dumps(
            {"type": "http", "url": f"http://127.0.0.1:{port}", "endpoint": "api/v1/lineage", "timeout": 5}),
        "AIRFLOW__OPENLINEAGE__NAMESPACE": "credsignal",
        "AIRFLOW__OPENLINEAGE__EXTRACTORS": "credsignal.entry.lineage.TaskLineageExtractor",
        "AIRFLOW__OPENLINEAGE__EXECUTE_IN_THREAD": "True",
        "PYTHONPATH": os.pathsep.join([str(REPO_ROOT), os.environ.get("PYTHONPATH", "")]),
    }
    env.pop("AIRFLOW_CONN_CREDSIGNAL_SPARK", None)
    window = json.dumps({"since": WINDOW_START.isoformat(), "until": AS_OF.isoformat()})
    done = subprocess.run(
        [sys.executable, str(REPO_ROOT / "tests" / "run_dags.py"), str(root / "runs.json"),
         f"platform_exports_daily={window}",
         "linkedin_profiles", "features_daily"],
        env=env, cwd=REPO_ROOT, capture_output=True, text=True, timeout=RUN_TIMEOUT_S)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-6000:]
    runs = json.loads((root / "runs.json").read_text())
    return runs, events.items, landing, lake_root


def task_events(events: list[dict], dag_id: str, task_id: str) -> dict[str, dict]:
    """{eventType: event} of one task's run."""
    chosen = [e for e in events if e["job"]["name"] == f"{dag_id}.{task_id}"]
    by_type = {e["eventType"]: e for e in chosen}
    assert len(by_type) == len(chosen), f"{dag_id}.{task_id}: repeated event types {[e['eventType'] for e in chosen]}"
    return by_type


def datasets(event: dict, side: str) -> dict[str, dict]:
    return {d["name"]: d for d in event[side]}


def schema_names(dataset: dict) -> list[str]:
    return [f["name"] for f in dataset["facets"]["schema"]["fields"]]


@pytest.mark.slow
def test_every_task_of_every_run_has_a_start_and_a_complete_event(dag_runs):
    runs, events, _, _ = dag_runs
    assert {dag_id: run["state"] for dag_id, run in runs.items()} == {
        "platform_exports_daily": "success", "linkedin_profiles": "success", "features_daily": "success"}
    tasks = {
        "platform_exports_daily": ["wait_for_exports", *(f"ingest_{s}" for s in lake.PLATFORM_SOURCES),
                                   "mark_bronze_updated"],
        "linkedin_profiles": ["find_new_crawls", "parse"],
        "features_daily": ["derive_features", "validate", "publish", "readout"],
    }
    for dag_id, task_ids in tasks.items():
        for task_id in task_ids:
            by_type = task_events(events, dag_id, task_id)
            assert set(by_type) == {"START", "COMPLETE"}, (dag_id, task_id, sorted(by_type))
            assert by_type["START"]["job"]["namespace"] == "credsignal"
            assert by_type["START"]["run"]["runId"] == by_type["COMPLETE"]["run"]["runId"]
            assert by_type["COMPLETE"]["run"]["facets"]["airflow"]["dagRun"]["run_id"] == runs[dag_id]["run_id"]


@pytest.mark.slow
def test_ingest_events_carry_the_row_accounting_of_each_source(dag_runs):
    _, events, landing, lake_root = dag_runs
    for source in lake.PLATFORM_SOURCES:
        complete = task_events(events, "platform_exports_daily", f"ingest_{source}")["COMPLETE"]
        inputs, outputs = datasets(complete, "inputs"), datasets(complete, "outputs")
        assert set(inputs) == {source} and inputs[source]["namespace"] == namespace_of(landing)
        bronze = outputs[f"bronze/{source}"]
        assert bronze["namespace"] == namespace_of(lake_root)
        kept = pd.read_parquet(lake.bronze_table(lake_root, source))
        assert bronze["outputFacets"]["outputStatistics"]["rowCount"] == len(kept)
        reports = [json.loads(p.read_text()) for p in lake.ingest_report(lake_root, source, AS_OF).parent.glob("*.json")]
        accounting = bronze["facets"][ROW_ACCOUNTING_FACET]["counts"]
        assert accounting["rows_in"] == sum(r["rows_in"] for r in reports) == \
            inputs[source]["inputFacets"]["inputStatistics"]["rowCount"]
        assert accounting["rows_kept"] == sum(r["rows_kept"] for r in reports) == len(kept)
        quarantined = sum((Counter(r["quarantined"]) for r in reports), Counter())
        assert accounting["quarantined"] == dict(quarantined)
        quarantine = outputs[f"quarantine/{source}"]
        assert quarantine["outputFacets"]["outputStatistics"]["rowCount"] == sum(quarantined.values())
        # The export is described by its contract; bronze is the contract's columns plus lineage columns and dt.
        contract = EXPORT_SOURCES[source].schema.names
        assert [f["name"] for f in inputs[source]["facets"]["schema"]["fields"]] == contract
        assert set(contract) < set(schema_names(bronze)) == set(kept.columns) | {"dt"}


@pytest.mark.slow
def test_parse_event_counts_each_status_and_names_the_silver_tables(dag_runs):
    _, events, landing, lake_root = dag_runs
    complete = task_events(events, "linkedin_profiles", "parse")["COMPLETE"]
    outputs = datasets(complete, "outputs")
    assert set(outputs) == {f"silver/{t}" for t in lake.SILVER_PROFILE_TABLES}
    profiles = pd.read_parquet(lake.silver_table(lake_root, "profiles"))
    statuses = outputs["silver/profiles"]["facets"][ROW_ACCOUNTING_FACET]["counts"]
    assert statuses == profiles["status"].value_counts().to_dict()
    assert outputs["silver/profiles"]["outputFacets"]["outputStatistics"]["rowCount"] == len(profiles)
    (crawl,) = datasets(complete, "inputs").values()
    assert crawl["namespace"] == namespace_of(landing) and crawl["inputFacets"]["inputStatistics"]["fileCount"] >= 1


@pytest.mark.slow
def test_feature_events_lead_from_bronze_and_silver_to_the_published_tables(dag_runs):
    runs, events, _, lake_root = dag_runs
    derive = task_events(events, "features_daily", "derive_features")["COMPLETE"]
    assert {f"bronze/{s}" for s in lake.PLATFORM_SOURCES} | {f"silver/{t}" for t in lake.SILVER_PROFILE_TABLES} \
        == set(datasets(derive, "inputs"))
    publish = task_events(events, "features_daily", "publish")["COMPLETE"]
    published = datasets(publish, "outputs")
    assert set(published) == {f"curated/{t}" for t in (*FEATURE_TABLES, QUALITY_TABLE)}
    staged = datasets(derive, "outputs")
    for table in FEATURE_TABLES:
        frame = pq.read_table(lake.curated_table(lake_root, table))
        (staged_name,) = [name for name in staged if name.endswith(f"/{table}") and name.startswith("_staging/")]
        for event_dataset in (staged[staged_name], published[f"curated/{table}"]):
            assert event_dataset["outputFacets"]["outputStatistics"]["rowCount"] == frame.num_rows
            assert schema_names(event_dataset) == frame.column_names
        # The staged table says which published table it becomes; its descriptions are the contract's.
        assert staged[staged_name]["facets"]["symlinks"]["identifiers"] == [
            {"namespace": namespace_of(lake_root), "name": f"curated/{table}", "type": "TABLE"}]
        described = {f["name"]: f.get("description") for f in published[f"curated/{table}"]["facets"]["schema"]["fields"]}
        assert described["learner_key"]
    assert "restricted/learner_crosswalk" in staged
    readout = task_events(events, "features_daily", "readout")["COMPLETE"]
    (estimates,) = datasets(readout, "outputs").values()
    assert estimates["name"].endswith("readout_estimates")
    assert estimates["outputFacets"]["outputStatistics"]["rowCount"] == \
        len(pd.read_parquet(lake_root / estimates["name"]))


@pytest.mark.slow
def test_validate_event_reports_every_check_as_a_data_quality_assertion(dag_runs):
    _, events, _, lake_root = dag_runs
    complete = task_events(events, "features_daily", "validate")["COMPLETE"]
    report = pd.read_parquet(lake.curated_table(lake_root, QUALITY_TABLE))
    asserted = [(d["name"], a) for d in complete["inputs"]
                for a in d.get("inputFacets", {}).get("dataQualityAssertions", {}).get("assertions", [])]
    assert len(asserted) == len(report)
    assert Counter(a["assertion"] for _, a in asserted) == Counter(report["check"])
    assert Counter(a["severity"] for _, a in asserted) == Counter(report["severity"])
    assert all(a["success"] == (a["severity"] != "failure") for _, a in asserted)
    for table in FEATURE_TABLES:
        about = {name for name, _ in asserted if name.endswith(f"/{table}")}
        assert len(about) == 1, table
    history = datasets(complete, "outputs")["quality/data_quality_history"]
    assert history["outputFacets"]["outputStatistics"]["rowCount"] == len(report)


@pytest.mark.slow
def test_bronze_and_silver_events_carry_the_export_day_they_bring(dag_runs):
    """features_daily is partitioned by export day: a manual window's bronze event is for its last day, and a
    parsed crawl's silver event for the newest day in bronze (here both AS_OF)."""
    from airflow.models.asset import AssetEvent, AssetModel
    from airflow.utils.session import create_session
    from sqlalchemy import select

    from credsignal.entry.assets import BRONZE_PLATFORM, SILVER_PROFILES

    runs = dag_runs[0]
    with create_session() as session:  # the metadata database the DAG runs wrote to (airflow_db)
        events = session.execute(
            select(AssetModel.uri, AssetEvent.source_dag_id, AssetEvent.partition_key)
            .join(AssetModel, AssetEvent.asset_id == AssetModel.id)
            .where(AssetEvent.source_run_id.in_([runs["platform_exports_daily"]["run_id"],
                                                 runs["linkedin_profiles"]["run_id"]]))).all()
    assert sorted(events) == sorted([(BRONZE_PLATFORM.uri, "platform_exports_daily", AS_OF.isoformat()),
                                     (SILVER_PROFILES.uri, "linkedin_profiles", AS_OF.isoformat())]), events


# ------------------------------------------------------------------------------------ the parts, one by one


def test_parquet_fields_read_the_footer_and_the_partition_columns(tmp_path):
    import pyarrow as pa

    from credsignal.entry.lineage import parquet_fields

    folder = tmp_path / "bronze" / "learners" / "dt=2023-09-30"
    folder.mkdir(parents=True)
    schema = pa.schema([pa.field("learner_key", pa.string(), metadata={"description": "pseudonymous key"}),
                        pa.field("score", pa.float64())])
    pq.write_table(pa.table({"learner_key": ["a"], "score": [1.0]}, schema=schema), folder / "part-0.parquet")
    (tmp_path / "bronze" / "learners" / "_staging").mkdir()
    assert parquet_fields(tmp_path / "bronze" / "learners") == [
        ["learner_key", "string", "pseudonymous key"], ["score", "double", ""], ["dt", "date", "partition"]]
    assert parquet_fields(tmp_path / "nothing-here") == []


def test_parquet_fields_read_the_descriptions_spark_keeps_in_the_footer(tmp_path, spark):
    """The feature job's tables carry the contract's descriptions as StructField metadata, which Spark keeps in
    its row schema in the footer (not in Arrow field metadata)."""
    from pyspark.sql import functions as F

    from credsignal.entry.lineage import parquet_fields

    frame = spark.range(3).select(F.col("id").alias("score", metadata={"description": "a score", "timing": "outcome"}),
                                  F.lit("x").alias("note"))
    frame.write.parquet(str(tmp_path / "table"))
    assert parquet_fields(tmp_path / "table") == [["score", "int64", "a score"], ["note", "string", ""]]


def test_declared_tables_become_openlineage_datasets_with_their_facets(tmp_path):
    from openlineage.client.serde import Serde

    from credsignal.entry.lineage import (
        ROW_ACCOUNTING_FACET, assertions_of, input_dataset, namespace_of, output_dataset, table,
    )
    from jobs.validate import Finding

    lake_root = tmp_path / "lake"
    (lake_root / "curated").mkdir(parents=True)
    findings = [Finding("learner_outcomes_full", "srm: overall", "ok", "p=0.4", "p>=0.001", p_value=0.4),
                Finding("learner_outcomes_full", "expect_column_values_to_not_be_null(learner_key)", "failure",
                        "3 nulls", "0 nulls")]
    staged = table(lake_root, lake_root / "_staging" / "r1" / "learner_outcomes_full",
                   assertions=assertions_of(findings)["learner_outcomes_full"], same_as="curated/learner_outcomes_full")
    read = Serde.to_dict(input_dataset(vars(staged)))
    assert read["namespace"] == namespace_of(lake_root) == lake_root.resolve().as_uri()
    assert read["name"] == "_staging/r1/learner_outcomes_full"
    assert read["inputFacets"]["dataQualityAssertions"]["assertions"] == [
        {"assertion": "srm: overall", "success": True, "severity": "ok", "expected": "p>=0.001", "actual": "p=0.4",
         "params": {"p_value": 0.4}},
        {"assertion": "expect_column_values_to_not_be_null(learner_key)", "success": False, "severity": "failure",
         "expected": "0 nulls", "actual": "3 nulls", "params": {}}]
    assert read["facets"]["symlinks"]["identifiers"][0]["name"] == "curated/learner_outcomes_full"
    written = Serde.to_dict(output_dataset(vars(table(lake_root, lake_root / "bronze" / "learners", rows=7,
                                                      accounting={"rows_in": 9, "rows_kept": 7}))))
    assert written["outputFacets"]["outputStatistics"]["rowCount"] == 7
    assert written["facets"][ROW_ACCOUNTING_FACET]["counts"] == {"rows_in": 9, "rows_kept": 7}
    assert written["facets"][ROW_ACCOUNTING_FACET]["_schemaURL"].endswith("docs/operations.md#lineage")
    # The curated name is the stable link, not the snapshot it points to today.
    (lake_root / "curated" / "_snapshots" / "s1" / "t").mkdir(parents=True)
    (lake_root / "curated" / "t").symlink_to(Path("_snapshots") / "s1" / "t")
    assert table(lake_root, lake_root / "curated" / "t").name == "curated/t"


PARENT_DAG = """
import json
import os

import pendulum
from airflow.sdk import dag, task


@dag(dag_id="credsignal_lineage_parent", schedule=None, start_date=pendulum.datetime(2023, 9, 1, tz="UTC"))
def credsignal_lineage_parent():
    @task
    def submit_like_features_daily(**context):
        from credsignal.entry.lineage import spark_properties

        with open(os.environ["CREDSIGNAL_TEST_PROPERTIES_FILE"], "w") as out:
            json.dump(spark_properties(context), out)

    submit_like_features_daily()


the_dag = credsignal_lineage_parent()
"""


@pytest.mark.parametrize("inject", [True, False])
def test_a_submitted_job_gets_the_tasks_openlineage_run_as_its_parent(airflow_db, tmp_path, monkeypatch, inject):
    """As the Spark provider's SparkSubmitOperator does, behind the same `[openlineage]` switch."""
    monkeypatch.setenv("AIRFLOW__OPENLINEAGE__SPARK_INJECT_PARENT_JOB_INFO", str(inject))
    out = tmp_path / "properties.json"
    monkeypatch.setenv("CREDSIGNAL_TEST_PROPERTIES_FILE", str(out))
    the_dag = load_helper_dag(tmp_path / "lineage_test_dags", "credsignal_lineage_parent", PARENT_DAG, monkeypatch)

    run = the_dag.test()
    assert run.state == "success"
    properties = json.loads(out.read_text())
    if not inject:
        assert properties == {}
        return
    assert properties["spark.openlineage.parentJobName"] == "credsignal_lineage_parent.submit_like_features_daily"
    assert properties["spark.openlineage.rootParentJobName"] == "credsignal_lineage_parent"
    assert len(properties["spark.openlineage.parentRunId"]) == 36  # the task's OpenLineage run (a UUID)


def test_deployment_openlineage_properties_win_over_the_injected_ones(tmp_path, monkeypatch):
    from credsignal.core.config import Config
    from credsignal.core.spark_submit import spark_conf

    injected = {"spark.openlineage.parentRunId": "from-the-task", "spark.openlineage.parentJobName": "dag.task"}
    conf = spark_conf(Config(), {"spark.openlineage.parentJobName": "set-by-the-connection"}, injected)
    assert conf["spark.openlineage.parentRunId"] == "from-the-task"
    assert conf["spark.openlineage.parentJobName"] == "set-by-the-connection"
