"""The whole chain under a real `airflow standalone` (scheduler, DAG processor, triggerer, API server; SQLite;
LocalExecutor with parallelism 2), driven only through the REST API, the DAGs meeting at their Assets.

1. A small landing zone (600 learners, their exports, one LinkedIn crawl) in a temp folder.
2. `airflow standalone` in its own session and process group, in a temp AIRFLOW_HOME (tests/standalone.py).
3. The crawler announces the crawl: an event on `credsignal://landing/linkedin` (POST /api/v2/assets/events),
   which starts `linkedin_profiles`; its `parse` task updates `credsignal://lake/silver/profiles`.
4. `features_daily` is unpaused and the initial load of `platform_exports_daily` is triggered (conf since/until:
   every export day); its `mark_bronze_updated` updates `credsignal://lake/bronze/platform`, which starts
   `features_daily`: derive_features -> validate -> publish -> readout.
5. The published tables are read with pandas and checked against the generator's planted truth.
6. A backfill of the last three export days (`POST /api/v2/backfills`, what `airflow backfill create` does), newest
   first: three partitioned runs re-ingest their days, and of the three feature runs their bronze events start, the
   newest day's derives and publishes while the two older ones are skipped as superseded.

Why features_daily is unpaused only after silver is in: it runs on bronze | silver, and a run started by the
silver update alone (no export day in bronze yet) fails in derive_features ("no export day is in bronze for every
source") and waits 5 minutes for its retry. Airflow queues Asset events only for unpaused DAGs, so the silver
update is not left pending, and exactly one features_daily run is started, by the bronze update, with both layers
in the lake: the order of a real deployment where the crawl lands before the nightly load.

Run: .venv/bin/python -m pytest tests/test_airflow_standalone_e2e.py -m slow -s
"""

from __future__ import annotations

import json
import sys
import time
from datetime import date
from pathlib import Path

import pandas as pd
import pytest

from credsignal.core import lake
from credsignal.entry.assets import BRONZE_PLATFORM, CRAWL_LANDED, SILVER_PROFILES
from credsignal.core.config import Config

import standalone  # tests/standalone.py (pytest pythonpath)

REPO_ROOT = Path(__file__).resolve().parents[1]
CRAWL_ID = "2023-09"
DAG_IDS = ("platform_exports_daily", "linkedin_profiles", "features_daily")
INITIAL_LOAD_RUN_ID = "e2e_initial_load"

# Deadlines (seconds). Generous: the machine has 2 cores and may be shared; every task starts its own Spark JVM.
HEALTH_TIMEOUT = 300
PARSE_TIMEOUT = 300
SILVER_TIMEOUT = 600
CHAIN_TIMEOUT = 900



pytestmark = [pytest.mark.slow, pytest.mark.timeout(HEALTH_TIMEOUT + PARSE_TIMEOUT + SILVER_TIMEOUT + CHAIN_TIMEOUT + 600)]

_T0 = time.monotonic()


def _progress(message: str) -> None:
    print(f"[standalone-e2e +{time.monotonic() - _T0:6.0f} s] {message}", flush=True)


@pytest.fixture(scope="module")
def landing(tmp_path_factory) -> Path:
    from synth.platform import generate
    from synth.profile_pages import write_crawl

    root = tmp_path_factory.mktemp("standalone-landing") / "landing"
    generate(root, n_learners=600, seed=5, dirty_rate=0.01)
    write_crawl(root, crawl_id=CRAWL_ID, seed=7)
    return root


def _config_variables(landing: Path, lake_root: Path, shared_dir: Path) -> dict[str, str]:
    """Every `credsignal_<field>` Airflow Variable as AIRFLOW_VAR_* (the environment backend answers them in the
    task process). A Variable missing from the environment costs the task a round trip to the API server's
    Metastore backend, slow on a loaded machine; only `as_of` is left unset: the run derives it from bronze."""
    from dataclasses import asdict

    from credsignal.core.config import _FIELD_TYPES, Config
    from credsignal.core.spark import class_archive

    defaults = asdict(Config())
    values = {name: defaults[name] for name in _FIELD_TYPES if name != "as_of"}
    # A day of this 600-learner zone has a handful of lines per source, so one planted malformed line is 8-50% of
    # a day. Which days a feature run's quarantine gate counts depends on how the backfill's runs interleave (the
    # newest day's run may validate before or after the older days are ingested), so the gate's share is set
    # above what a single line can reach: the test is about partitions, tests/test_validate.py about the gate.
    values.update(landing=landing, lake=lake_root, cwur_path=shared_dir / "reference" / "cwurData.csv",
                  jvm_class_archive=class_archive(Config()),
                  spark_master="local[2]", shuffle_partitions=2, driver_memory="1g", max_quarantine_share=0.6)
    # A mapping (source_freshness) is given as JSON, as a user sets it in a Variable.
    return {f"AIRFLOW_VAR_CREDSIGNAL_{name.upper()}": json.dumps(value) if isinstance(value, dict) else str(value)
            for name, value in values.items()}


@pytest.fixture(scope="module")
def airflow(tmp_path_factory, landing, shared_dir):
    """A running `airflow standalone` whose tasks read `landing` and write the lake beside it. Stopped at the end
    of the module, whatever happened; the teardown fails if any process it started is still alive."""
    home = tmp_path_factory.mktemp("standalone-airflow-home")
    lake_root = landing.parent / "lake"
    server = standalone.AirflowStandalone(
        home=home,
        dags_folder=REPO_ROOT / "dags",
        parallelism=2,
        extra_env={
            **_config_variables(landing, lake_root, shared_dir),
            "CREDSIGNAL_DRIVER_MEMORY": "1g",
            "CREDSIGNAL_SHUFFLE_PARTITIONS": "2",
            "SPARK_LOCAL_IP": "127.0.0.1",
            "PYSPARK_PYTHON": sys.executable,
            "PYSPARK_DRIVER_PYTHON": sys.executable,
        },
    )
    _progress(f"starting airflow standalone: AIRFLOW_HOME={home} api={server.base_url}")
    try:
        server.start(health_timeout=HEALTH_TIMEOUT)
        _progress("healthy")
        server.lake = lake_root
        yield server
    finally:
        _progress("stopping airflow standalone")
        left = server.stop()
        _progress(f"stopped; {len(left)} process(es) left")
        assert not left, "processes of airflow standalone still alive after KILL:\n" + "\n".join(map(str, left))


def _export_days(landing: Path) -> list[date]:
    days = lake.complete_export_days(landing, "learners")
    assert days, f"no export day under {landing}"
    return days


def _fail_with_reports(server, message: str, runs: list[tuple[str, str]]) -> None:
    reports = [server.failure_report(dag_id, run_id) for dag_id, run_id in runs]
    text = "\n\n".join([message, *reports, server.output_tail(40)])
    print(text, flush=True)
    pytest.fail(text, pytrace=False)


class _Watch:
    """Polls runs: fails fast (with the failed tasks' logs) when one fails; prints logs of a task that will be
    retried, once, so a slow retry does not hide the reason."""

    def __init__(self, server) -> None:
        self.server = server
        self.reported: set[tuple] = set()

    def check(self, dag_id: str, run: dict) -> None:
        run_id = run["dag_run_id"]
        if run["state"] == "failed":
            _fail_with_reports(self.server, f"{dag_id} run {run_id} failed", [(dag_id, run_id)])
        if run["state"] != "running":
            return
        for ti in self.server.task_instances(dag_id, run_id):
            key = (dag_id, run_id, ti["task_id"], ti["try_number"])
            if ti["state"] in ("up_for_retry", "failed") and key not in self.reported:
                self.reported.add(key)
                print(self.server.failure_report(dag_id, run_id, states={"up_for_retry", "failed"}), flush=True)


def test_chain_runs_under_airflow_standalone_through_assets(airflow, landing):
    server = airflow
    days = _export_days(landing)
    watch = _Watch(server)

    server.wait_for_dags(DAG_IDS, timeout=PARSE_TIMEOUT)
    _progress(f"DAGs parsed: {', '.join(DAG_IDS)}")
    for uri in (CRAWL_LANDED.uri, SILVER_PROFILES.uri, BRONZE_PLATFORM.uri):
        server.asset_id(uri, timeout=PARSE_TIMEOUT)

    # --- the crawler announces the crawl; linkedin_profiles parses it into silver
    server.set_paused("linkedin_profiles", False)
    event = server.post_asset_event(CRAWL_LANDED.uri, {"crawl": CRAWL_ID})
    _progress(f"posted asset event {event['id']} on {CRAWL_LANDED.uri}")

    # Unpausing also starts the 06:00 safety-net run (catchup=False schedules the latest 06:00), which may parse the
    # crawl first; max_active_runs=1 puts the asset-triggered run after it, and that one then finds nothing new.
    # Either way: silver gets exactly one update, and the asset-triggered run must succeed.
    def linkedin_done():
        runs = server.dag_runs("linkedin_profiles")
        for run in runs:
            watch.check("linkedin_profiles", run)
        by_asset = [r for r in runs if r["run_type"] == "asset_triggered"]
        settled = by_asset and all(r["state"] == "success" for r in runs)
        return settled and server.asset_events(SILVER_PROFILES.uri)

    def linkedin_state() -> str:
        runs = server.dag_runs("linkedin_profiles")
        return "\n".join([*(server.failure_report("linkedin_profiles", r["dag_run_id"], states={"failed",
                           "up_for_retry", "running", "queued"}) for r in runs), server.output_tail(40)])

    silver_events = standalone.wait_for(linkedin_done, timeout=SILVER_TIMEOUT, interval=10,
                                        what=f"linkedin_profiles to update {SILVER_PROFILES.uri}",
                                        describe=linkedin_state)
    linkedin_runs = server.dag_runs("linkedin_profiles")
    assert len(silver_events) == 1, silver_events
    _progress(f"silver updated by {silver_events[0]['source_run_id']}; linkedin_profiles runs: "
              f"{[(r['dag_run_id'], r['state']) for r in linkedin_runs]}")

    # --- the initial load; bronze then starts features_daily
    server.set_paused("features_daily", False)
    server.set_paused("platform_exports_daily", False)
    conf = {"since": days[0].isoformat(), "until": days[-1].isoformat()}
    server.trigger("platform_exports_daily", logical_date=f"{days[-1].isoformat()}T00:00:00Z", conf=conf,
                   run_id=INITIAL_LOAD_RUN_ID)
    _progress(f"triggered platform_exports_daily {INITIAL_LOAD_RUN_ID} with conf {conf}")

    state: dict = {}

    def features_done():
        load = server.dag_run("platform_exports_daily", INITIAL_LOAD_RUN_ID)
        watch.check("platform_exports_daily", load)
        if load["state"] != state.get("load"):
            state["load"] = load["state"]
            _progress(f"platform_exports_daily {INITIAL_LOAD_RUN_ID}: {load['state']}")
        runs = [r for r in server.dag_runs("features_daily") if r["run_type"] == "asset_triggered"]
        for run in runs:
            watch.check("features_daily", run)
            if run["state"] != state.get(run["dag_run_id"]):
                state[run["dag_run_id"]] = run["state"]
                _progress(f"features_daily {run['dag_run_id']}: {run['state']}")
        return next((r for r in runs if r["state"] == "success"), None)

    def chain_state() -> str:
        reports = [server.failure_report("platform_exports_daily", INITIAL_LOAD_RUN_ID,
                                         states={"failed", "up_for_retry"})]
        reports += [server.failure_report("features_daily", r["dag_run_id"], states={"failed", "up_for_retry"})
                    for r in server.dag_runs("features_daily")]
        return "\n".join([*reports, server.output_tail(40)])

    run = standalone.wait_for(features_done, timeout=CHAIN_TIMEOUT, interval=10,
                              what="an asset-triggered features_daily run to succeed", describe=chain_state)
    _progress(f"features_daily {run['dag_run_id']} succeeded")

    # It was started by the Assets: the bronze update of the initial load is among its upstream events.
    upstream = {e["uri"] for e in server.upstream_asset_events("features_daily", run["dag_run_id"])}
    assert BRONZE_PLATFORM.uri in upstream, upstream
    tis = {ti["task_id"]: ti["state"] for ti in server.task_instances("features_daily", run["dag_run_id"])}
    assert tis == {"choose_export_day": "success", "derive_features": "success", "validate": "success",
                   "publish": "success", "readout": "success"}, tis
    # The initial load's bronze event carries the window's last export day as its partition: the feature run's key.
    assert run.get("partition_key") == days[-1].isoformat(), run

    # --- what was published
    lake_root = server.lake
    truth = pd.read_parquet(landing / "_truth" / "learners_truth.parquet")
    full = pd.read_parquet(lake_root / "curated" / "learner_outcomes_full")
    linkedin = pd.read_parquet(lake_root / "curated" / "learner_outcomes_linkedin")
    _progress(f"published: learner_outcomes_full={len(full)} learner_outcomes_linkedin={len(linkedin)} "
              f"(planted randomized learners: {len(truth)})")
    assert len(truth) > 0
    assert len(full) == len(truth)
    crosswalk = pd.read_parquet(lake.learner_crosswalk(lake_root))  # curated rows carry keys, not platform IDs
    assert set(full.merge(crosswalk, on="learner_key")["learner_id"]) == set(truth["learner_id"])
    assert 0 < len(linkedin) <= len(full)
    assert set(linkedin["learner_key"]) <= set(full["learner_key"])
    readouts = sorted((lake_root / "curated" / "_snapshots").glob("*/_readout/*.html"))
    assert readouts, f"no readout HTML under {lake_root / 'curated' / '_snapshots'}"
    assert readouts[0].stat().st_size > 0


def test_backfill_of_three_export_days_derives_the_newest_once(airflow, landing):
    """Runs after the chain test, on its lake: every export day is in bronze and one snapshot is live."""
    server = airflow
    daily_source = Config().daily_sources()[0]  # learners, for one, has folders on some days only
    days = lake.complete_export_days(landing, daily_source)[-3:]
    assert [(b - a).days for a, b in zip(days, days[1:])] == [1, 1], days
    watch = _Watch(server)
    before = {r["dag_run_id"] for r in server.dag_runs("features_daily")}
    # The initial load's window ended with the learners' last export; these days may or may not be in bronze yet.
    reports = {d: lake.ingest_report(server.lake, daily_source, d) for d in days}
    reported_at = {d: report.stat().st_mtime_ns if report.exists() else None for d, report in reports.items()}

    backfill = server.create_backfill("platform_exports_daily", from_date=f"{days[0].isoformat()}T00:00:00Z",
                                      to_date=f"{days[-1].isoformat()}T00:00:00Z", run_backwards=True)
    _progress(f"backfill {backfill['id']} of platform_exports_daily {days[0]}..{days[-1]}, newest first")

    def settled():
        runs = [r for r in server.dag_runs("platform_exports_daily") if r.get("run_type") == "backfill"]
        for run in runs:
            watch.check("platform_exports_daily", run)
        features = [r for r in server.dag_runs("features_daily") if r["dag_run_id"] not in before]
        for run in features:
            watch.check("features_daily", run)
        done = len(runs) == 3 and all(r["state"] == "success" for r in runs)
        features_done = len(features) == 3 and all(r["state"] in ("success", "failed") for r in features)
        return (runs, features) if done and features_done else None

    def backfill_state() -> str:
        runs = server.dag_runs("platform_exports_daily") + server.dag_runs("features_daily")
        return "\n".join([json.dumps(server.backfill(backfill["id"])),
                          *(f"{r['dag_id']} {r['dag_run_id']} {r.get('partition_key')} {r['state']}" for r in runs),
                          server.output_tail(40)])

    backfill_runs, feature_runs = standalone.wait_for(settled, timeout=CHAIN_TIMEOUT, interval=10,
                                                      what="the backfill and the feature runs it starts",
                                                      describe=backfill_state)
    # Three partitioned runs, one per export day, and each re-ingested its own day.
    assert sorted(r["partition_key"] for r in backfill_runs) == [d.isoformat() for d in days]
    for day, report in reports.items():
        assert report.exists() and (reported_at[day] is None or report.stat().st_mtime_ns > reported_at[day]), day
    bronze_keys = {e.get("partition_key") for e in server.asset_events(BRONZE_PLATFORM.uri)}
    assert {d.isoformat() for d in days} <= bronze_keys, bronze_keys
    # One feature run per day; only the newest derives and publishes, the older two are superseded.
    by_key = {r["partition_key"]: r for r in feature_runs}
    assert sorted(by_key) == [d.isoformat() for d in days], feature_runs
    for key, run in by_key.items():
        assert run["state"] == "success", run
        tis = {ti["task_id"]: ti["state"] for ti in server.task_instances("features_daily", run["dag_run_id"])}
        if key == days[-1].isoformat():
            assert set(tis.values()) == {"success"}, tis
        else:
            assert tis["choose_export_day"] == "success" and tis["derive_features"] == "skipped", tis
    from jobs import publish

    assert publish.current_snapshot(server.lake).as_of == days[-1]
    _progress(f"backfill done: feature runs {[(k, r['dag_run_id']) for k, r in sorted(by_key.items())]}")
