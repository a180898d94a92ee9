"""Spark through spark-submit: the project zip, the connection -> spark-submit mapping, and (slow) a real Spark
standalone master and worker on 127.0.0.1 running the feature job with the same output as local mode."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import date
from pathlib import Path

import pytest

from credsignal.core import lake
from credsignal.core.config import Config, SourceFreshness, parse_source_freshness
from credsignal.core.spark import LOCAL_FILE_SYSTEM_CLASS
from credsignal.core.spark_submit import (
    CONN_ID,
    ENTRY_FILE_NAME,
    SparkConnectionError,
    SparkJobError,
    package_project,
    prepare_submit,
    spark_connection_defined,
    submit_job,
)

CONN_VAR = f"AIRFLOW_CONN_{CONN_ID.upper()}"
AS_OF = date(2023, 9, 30)
FEATURE_TABLES = ("learner_outcomes_full", "learner_outcomes_linkedin")


# ------------------------------------------------------------------------------------------------ the project zip

def test_package_project_ships_packages_with_data_files(tmp_path):
    archive = package_project(tmp_path / "a")
    names = set(zipfile.ZipFile(archive).namelist())
    for expected in (
        "credsignal/__init__.py", "credsignal/core/spark.py", "credsignal/entry/spark_submit.py",
        "credsignal/reference/data/developed_countries.json", "jobs/features/job.py", "jobs/ingest.py",
        "parsers/__init__.py", "parsers/lexicon.py", "credsignal/reference/data/month_names.json",
        "expectations/bands.json",
        "synth/platform.py", "synth/data/people.json",
        "credsignal/core/templates/base.html.j2", "credsignal/core/templates/credsignal.css",
    ):
        assert expected in names
    assert not [n for n in names if "__pycache__" in n or n.endswith(".pyc") or n.startswith(("tests/", "dags/"))]

    # Deterministic and cached by content: the same bytes elsewhere, the same file when asked again.
    assert archive.name.startswith("credsignal-") and len(archive.stem) == len("credsignal-") + 16
    again = package_project(tmp_path / "b")
    assert again.name == archive.name and again.read_bytes() == archive.read_bytes()
    modified = archive.stat().st_mtime_ns
    assert package_project(tmp_path / "a") == archive and archive.stat().st_mtime_ns == modified


def test_package_hash_follows_content(tmp_path, monkeypatch):
    source = tmp_path / "src" / "toypkg"
    (source / "data").mkdir(parents=True)
    (source / "__init__.py").write_text("")
    (source / "data" / "table.csv").write_text("a,b\n1,2\n")
    (source / "notes.md").write_text("not shipped")
    monkeypatch.syspath_prepend(str(tmp_path / "src"))
    first = package_project(tmp_path / "out", packages=("toypkg",))
    assert zipfile.ZipFile(first).namelist() == ["toypkg/__init__.py", "toypkg/data/table.csv"]
    (source / "data" / "table.csv").write_text("a,b\n1,3\n")
    second = package_project(tmp_path / "out", packages=("toypkg",))
    assert second != first and first.exists() and second.exists()


def test_zip_imports_the_project_and_its_data_ahead_of_the_source_tree(tmp_path):
    """What an executor sees: the zip on PYTHONPATH comes before the venv's editable install of the project,
    and the packages load their data files from inside it."""
    archive = package_project(tmp_path)
    code = (
        "import credsignal.reference.data_files as d, credsignal.core.pages as pages\n"
        "import jobs.ingest, parsers, expectations, synth\n"
        "from credsignal.reference.countries import developed_country_flag\n"
        "for module in (d, pages, jobs.ingest, parsers, expectations, synth):\n"
        "    assert module.__file__.startswith(%r), module.__file__\n"
        "assert d.load_json('developed_countries.json')\n"
        "assert developed_country_flag('Germany') == 1\n"
        "assert '<style>' in pages.render('base.html.j2', title='t', generated_at='g')\n"
        "from parsers.lexicon import month_numbers\n"
        "assert month_numbers()['jan'] == 1\n"
        "print('ok')\n" % str(archive)
    )
    env = {**os.environ, "PYTHONPATH": str(archive)}
    result = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, env=env,
                            timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().endswith("ok")


# ------------------------------------------------------------------------------------------------ connection

def _arguments(command: list[str], flag: str) -> list[str]:
    return [command[i + 1] for i, item in enumerate(command[:-1]) if item == flag]


def test_connection_maps_to_spark_submit_arguments(tmp_path, monkeypatch):
    monkeypatch.delenv("SPARK_LOCAL_IP", raising=False)
    monkeypatch.delenv("PYSPARK_PYTHON", raising=False)
    monkeypatch.setenv(CONN_VAR, json.dumps({
        "conn_type": "spark", "host": "127.0.0.1", "port": 7077,
        "extra": {"deploy-mode": "client", "executor-memory": "3g", "executor-cores": "1",
                  "total-executor-cores": 4,
                  "spark-conf": {"spark.dynamicAllocation.enabled": "false", "spark.sql.shuffle.partitions": 64}},
    }))
    config = Config(shuffle_partitions=8, driver_memory="3g",
                    extra_spark_conf={"spark.executor.memoryOverhead": "512m"})
    assert spark_connection_defined()
    prepared = prepare_submit("jobs.features", ["--lake", tmp_path / "lake", "--as-of", "2023-09-30"],
                              config=config, artifacts_dir=tmp_path / "artifacts")
    command = prepared.command()

    assert command[0] == "spark-submit"
    assert _arguments(command, "--master") == ["spark://127.0.0.1:7077"]
    assert _arguments(command, "--deploy-mode") == ["client"]
    assert _arguments(command, "--executor-memory") == ["3g"]
    assert _arguments(command, "--executor-cores") == ["1"]
    assert _arguments(command, "--total-executor-cores") == ["4"]
    assert _arguments(command, "--name") == ["credsignal-features"]
    assert _arguments(command, "--py-files") == [str(prepared.py_files)]
    assert prepared.py_files.parent == tmp_path / "artifacts" and prepared.py_files.suffix == ".zip"
    conf = dict(item.split("=", 1) for item in _arguments(command, "--conf"))
    assert conf["spark.driver.memory"] == "3g"
    assert conf["spark.sql.shuffle.partitions"] == "64"  # the connection's spark-conf beats the Config's 8
    assert conf["spark.dynamicAllocation.enabled"] == "false"
    assert conf["spark.executor.memoryOverhead"] == "512m"
    assert conf["spark.pyspark.python"] == sys.executable
    # The application is the entry file, then the module and its arguments.
    at = command.index(str(prepared.application))
    assert prepared.application.name == ENTRY_FILE_NAME
    assert command[at + 1:] == ["jobs.features", "--lake", str(tmp_path / "lake"), "--as-of", "2023-09-30"]
    assert prepared.env["SPARK_LOCAL_IP"] == "127.0.0.1"
    assert prepared.env["PYSPARK_PYTHON"] == sys.executable


def test_submitted_job_reads_the_config_of_the_run_that_submitted_it(tmp_path, monkeypatch):
    """A setting given by an Airflow Variable or a CLI flag reaches the submitted driver (a client-mode driver
    inherits spark-submit's environment), overriding what the submitter's own environment says."""
    monkeypatch.setenv(CONN_VAR, "spark://127.0.0.1:7077")
    monkeypatch.setenv("CREDSIGNAL_MAX_QUARANTINE_SHARE", "0.5")
    config = Config(landing=Path("relative/landing"), lake=tmp_path / "lake", as_of=date(2023, 9, 30),
                    experiment_id="another-experiment", max_quarantine_share=0.2, cwur_path=tmp_path / "cwur.csv",
                    source_freshness={"learners": None, "app_sessions": SourceFreshness(warn_after=2, error_after=5)})
    prepared = prepare_submit("jobs.ingest", [], config=config, artifacts_dir=tmp_path / "artifacts")
    submitted = Config.from_env(prepared.env)

    assert submitted == replace(config, landing=Path("relative/landing").resolve(),
                                source_freshness=parse_source_freshness(
                                    {"learners": None, "app_sessions": {"warn_after": 2, "error_after": 5}}))
    assert prepared.env["CREDSIGNAL_MAX_QUARANTINE_SHARE"] == "0.2"


@pytest.mark.parametrize(("value", "master", "local"), [
    ("spark://127.0.0.1:7077", "spark://127.0.0.1:7077", True),
    ("spark://local%5B2%5D", "local[2]", True),
    ('{"conn_type": "spark", "host": "local[*]"}', "local[*]", True),
    ("spark://yarn?queue=etl&deploy-mode=cluster", "yarn", False),
    ("spark://spark-master.internal:7077", "spark://spark-master.internal:7077", False),
])
def test_connection_forms(tmp_path, monkeypatch, value, master, local):
    monkeypatch.delenv("SPARK_LOCAL_IP", raising=False)
    monkeypatch.setenv(CONN_VAR, value)
    jar = tmp_path / "local-file-system.jar"
    jar.write_bytes(b"built")
    monkeypatch.setattr("credsignal.core.spark.local_file_system_jar", lambda: jar)
    assert spark_connection_defined()
    prepared = prepare_submit("jobs.parse", [], config=Config(), artifacts_dir=tmp_path)
    assert prepared.master == master
    assert ("SPARK_LOCAL_IP" in prepared.env) is local
    # The file system's jar is on this machine: a master elsewhere keeps Hadoop's own.
    conf = dict(item.split("=", 1) for item in _arguments(prepared.command(), "--conf"))
    assert (conf.get("spark.hadoop.fs.file.impl") == LOCAL_FILE_SYSTEM_CLASS) is local
    assert (conf.get("spark.executor.extraClassPath") == str(jar)) is local


def test_undefined_or_unreadable_connection(monkeypatch):
    monkeypatch.delenv(CONN_VAR, raising=False)
    assert not spark_connection_defined()
    monkeypatch.setenv(CONN_VAR, "spark://local[2]")  # brackets: Airflow cannot parse it
    with pytest.raises(SparkConnectionError, match="%5B2%5D"):
        spark_connection_defined()


# ------------------------------------------------------------------------------------------------ real Spark

def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _spark_home() -> Path:
    import pyspark

    return Path(pyspark.__file__).resolve().parent


class ClusterNotReady(RuntimeError):
    pass


@dataclass
class StandaloneCluster:
    """A Spark standalone master and worker started as subprocesses, each in its own process group."""

    master_url: str
    webui_url: str
    processes: list[subprocess.Popen]
    logs: list[Path]

    def state(self) -> dict:
        """The master's status page as JSON: status, workers (with state), activeapps, completedapps."""
        with urllib.request.urlopen(f"{self.webui_url}/json/", timeout=5) as response:
            return json.load(response)

    def log_tail(self, lines: int = 30) -> str:
        return "\n".join(f"--- {log.name}\n" + "\n".join(log.read_text(errors="replace").splitlines()[-lines:])
                         for log in self.logs if log.exists())

    def wait_for(self, predicate, what: str, seconds: float):
        """Poll the master until predicate(state) is truthy; raise at the deadline or when a daemon exits."""
        deadline = time.monotonic() + seconds
        while True:
            try:
                value = predicate(self.state())
                if value:
                    return value
            except (urllib.error.URLError, OSError, ValueError):
                pass  # not listening yet
            for process in self.processes:
                if process.poll() is not None:
                    raise ClusterNotReady(f"{what}: {process.args[1]} exited with {process.returncode}\n"
                                          f"{self.log_tail()}")
            if time.monotonic() > deadline:
                raise ClusterNotReady(f"{what}: not within {seconds:.0f} s\n{self.log_tail()}")
            try:  # the pause between polls, cut short if the master exits
                self.processes[0].wait(timeout=0.5)
            except subprocess.TimeoutExpired:
                pass

    def wait_ready(self, seconds: float = 120) -> None:
        self.wait_for(lambda state: state.get("status") == "ALIVE" and [
            worker for worker in state.get("workers", []) if worker.get("state") == "ALIVE"
        ], "an ALIVE master with an ALIVE worker", seconds)

    def stop(self, grace: float = 20.0) -> None:
        """TERM each daemon's process group (the worker's executors are in it), then KILL after the grace period."""
        for process in self.processes:
            _signal_group(process, signal.SIGTERM)
        deadline = time.monotonic() + grace
        for process in self.processes:
            try:
                process.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                pass
            _signal_group(process, signal.SIGKILL)  # the daemon if still there, and stragglers of its group
            process.wait()


def _signal_group(process: subprocess.Popen, sig: int) -> None:
    try:
        os.killpg(process.pid, sig)  # start_new_session: the group id is the daemon's pid
    except ProcessLookupError:
        pass


def start_standalone_cluster(root: Path, *, cores: int = 1, memory: str = "2g") -> StandaloneCluster:
    """Launch `spark-class ...Master` and `...Worker` from the pyspark distribution on 127.0.0.1, on free ports,
    logs and work folders under `root`. Returns at once: call `wait_ready()`, and `stop()` in any case."""
    home = _spark_home()
    spark_class = home / "bin" / "spark-class"
    env = {
        **os.environ,
        "SPARK_HOME": str(home),
        "SPARK_LOCAL_IP": "127.0.0.1",
        "SPARK_DAEMON_MEMORY": "512m",
        "SPARK_LOCAL_DIRS": str(root / "local"),
        "PYSPARK_PYTHON": sys.executable,
    }
    master_port, webui_port, worker_port, worker_webui_port = (_free_port() for _ in range(4))
    master_url = f"spark://127.0.0.1:{master_port}"
    commands = {
        "master": [str(spark_class), "org.apache.spark.deploy.master.Master",
                   "--host", "127.0.0.1", "--port", str(master_port), "--webui-port", str(webui_port)],
        # It retries its registration until the master is up, so both can start at once.
        "worker": [str(spark_class), "org.apache.spark.deploy.worker.Worker", master_url,
                   "--host", "127.0.0.1", "--port", str(worker_port), "--webui-port", str(worker_webui_port),
                   "--cores", str(cores), "--memory", memory, "--work-dir", str(root / "work")],
    }
    cluster = StandaloneCluster(master_url, f"http://127.0.0.1:{webui_port}", [], [])
    try:
        for name, command in commands.items():
            log = root / f"{name}.log"
            cluster.logs.append(log)
            with log.open("wb") as out:
                cluster.processes.append(subprocess.Popen(command, env=env, stdout=out, stderr=subprocess.STDOUT,
                                                          stdin=subprocess.DEVNULL, start_new_session=True))
    except BaseException:
        cluster.stop()
        raise
    return cluster


@pytest.fixture(scope="module")
def launched_spark_cluster(tmp_path_factory):
    """The cluster's daemons, launched but maybe not ready yet (they start while the lake is being built)."""
    if not (_spark_home() / "bin" / "spark-class").exists():
        pytest.skip("the pyspark distribution has no bin/spark-class")
    cluster = start_standalone_cluster(tmp_path_factory.mktemp("spark-standalone"))
    try:
        yield cluster
    finally:
        cluster.stop()


@pytest.fixture(scope="module")
def spark_cluster(launched_spark_cluster):
    """A Spark standalone master with one ALIVE worker (1 core, 2g) on 127.0.0.1."""
    try:
        launched_spark_cluster.wait_ready()
    except ClusterNotReady as error:
        pytest.fail(str(error))
    return launched_spark_cluster


@pytest.fixture(scope="module")
def small_lake(spark, tmp_path_factory):
    """Landing zone from the synthesizers, ingested and parsed in-process: bronze + silver for the feature job."""
    import synth.platform
    import synth.profile_pages
    from jobs import ingest, parse

    root = tmp_path_factory.mktemp("cluster-lake")
    config = Config(landing=root / "landing", lake=root / "lake", as_of=AS_OF, shuffle_partitions=2,
                    driver_memory="1g")
    synth.platform.generate(config.landing, n_learners=1500, seed=3)
    synth.profile_pages.write_crawl(config.landing, crawl_id="2023-09", seed=7)
    ingest.run(spark, config)
    parse.run(spark, config)
    return config


def _frame(folder: Path, key: Sequence[str] | None = None):
    """A Parquet folder as pandas, in a canonical row order: by `key`, else by every scalar column."""
    import pandas as pd

    frame = pd.read_parquet(folder)
    for column in frame.columns:  # partition columns come back categorical, with the categories seen
        if isinstance(frame[column].dtype, pd.CategoricalDtype):
            frame[column] = frame[column].astype(str)
    if key is None:
        key = [c for c in frame.columns
               if frame[c].map(lambda v: v is None or isinstance(v, (str, int, float, bool))).all()]
    return frame.sort_values(list(key), kind="mergesort").reset_index(drop=True)


def _tables(root: Path) -> dict[str, object]:
    """Every table of the restricted zone under the lake `root` (bronze/<source>, quarantine/<source>,
    silver/<table>) in a canonical row order."""
    return {str(folder.relative_to(root)): _frame(folder)
            for zone in ("bronze", "quarantine", "silver") for folder in sorted((root / zone).glob("*"))
            if folder.is_dir() and any(folder.rglob("*.parquet"))}


def _without_snapshot_id(frame):
    return frame.drop(columns=["snapshot_id"]).sort_values(list(frame.columns.drop("snapshot_id")),
                                                           kind="mergesort").reset_index(drop=True)


@pytest.mark.slow
@pytest.mark.timeout(2400)  # a safety net: each stage is a spark-submit application with its own driver
def test_every_spark_stage_through_spark_submit_matches_local_mode(spark, launched_spark_cluster, small_lake,
                                                                   spark_cluster, tmp_path, monkeypatch):
    """A user who outgrows one machine defines the credsignal_spark connection and changes nothing else: the
    pipeline's ingest, parse, features, validate and readout then each run as a spark-submit application on the
    standalone cluster, and what they write equals what the same steps wrote in-process (the small_lake fixture's
    ingest and parse, then features, validate, publish and readout here)."""
    import shutil

    from pandas.testing import assert_frame_equal

    from credsignal import pipeline
    from credsignal.core import privacy
    from jobs import publish

    local = small_lake
    local_outcome_run = "local"
    pipeline.derive_features(spark, local, run_id=local_outcome_run, as_of=AS_OF)
    local_outcome = pipeline.validate_staged(spark, local, run_id=local_outcome_run, as_of=AS_OF)
    local_snapshot = pipeline.publish_staged(local, run_id=local_outcome_run, as_of=AS_OF)
    local_readout = pipeline.build_readout(spark, local, snapshot_id=local_snapshot.snapshot_id)

    cluster = replace(small_lake, lake=tmp_path / "lake")
    for key_file in (lake.pseudonym_key_file, lake.pseudonym_key_id_file):  # both lakes key learners alike
        key_file(cluster.lake).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(key_file(local.lake), key_file(cluster.lake))
    assert privacy.pseudonym_key(cluster.lake) == privacy.pseudonym_key(local.lake)

    # The URI form of the connection, with one extra: executors as big as the worker allows (default 1g).
    monkeypatch.setenv(CONN_VAR, f"{spark_cluster.master_url}?executor-memory=1536m")
    assert spark_connection_defined()
    accounts = [pipeline.ingest_account(result) for result in pipeline.ingest_exports(None, cluster)]
    parsed = pipeline.parse_crawls(None, cluster, pipeline.crawls_to_parse(cluster))
    pipeline.derive_features(None, cluster, run_id="cluster", as_of=AS_OF)
    outcome = pipeline.validate_staged(None, cluster, run_id="cluster", as_of=AS_OF)
    snapshot = pipeline.publish_staged(cluster, run_id="cluster", as_of=AS_OF)
    readout = pipeline.build_readout(None, cluster, snapshot_id=snapshot.snapshot_id)

    # Each step ran on the cluster, not in a local[*] driver: the master lists the finished applications, named by
    # the jobs' session builders.
    finished = {app.get("name") for app in spark_cluster.state().get("completedapps", [])}
    assert {"credsignal-ingest", "credsignal-parse", "credsignal-features", "credsignal-validate",
            "credsignal-readout"} <= finished, finished

    assert {account["source"] for account in accounts} == set(lake.PLATFORM_SOURCES)
    assert all(account["rows_in"] > 0 for account in accounts)
    local_tables, cluster_tables = _tables(local.lake), _tables(cluster.lake)
    assert {f"bronze/{source}" for source in lake.PLATFORM_SOURCES} <= set(local_tables)
    assert list(cluster_tables) == list(local_tables)
    for name in local_tables:
        assert_frame_equal(local_tables[name], cluster_tables[name], check_exact=True, obj=name)
    assert parsed == {"2023-09": json.loads(lake.parse_report(local.lake, "2023-09").read_text())["by_status"]}
    assert [(f.table, f.check, f.severity, f.observed) for f in outcome.findings] == [
        (f.table, f.check, f.severity, f.observed) for f in local_outcome.findings]
    for table in FEATURE_TABLES:
        assert_frame_equal(publish.read_published(local.lake, table).sort_values("learner_key").reset_index(drop=True),
                           publish.read_published(cluster.lake, table).sort_values("learner_key").reset_index(drop=True),
                           check_exact=True, obj=table)
    assert_frame_equal(_without_snapshot_id(local_readout.estimates), _without_snapshot_id(readout.estimates),
                       check_exact=False, rtol=1e-9, obj="readout_estimates")
    assert readout.n_full == local_readout.n_full and readout.n_linkedin == local_readout.n_linkedin


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_one_source_ingested_through_spark_submit_matches_local_mode(small_lake, tmp_path, monkeypatch):
    """The DAG ingests each source in a task of its own (pipeline.ingest_source): with the connection defined,
    that is one spark-submit application per source (here on a local master), and it writes that source's bronze,
    quarantine and day reports exactly as the in-process ingest of the small_lake fixture did, and nothing else."""
    from pandas.testing import assert_frame_equal

    from credsignal import pipeline

    source = "app_sessions"  # the fixture's landing plants malformed lines there: quarantine is not empty
    submitted = replace(small_lake, lake=tmp_path / "lake")
    monkeypatch.setenv(CONN_VAR, "spark://local%5B1%5D")
    result = pipeline.ingest_source(None, submitted, source)

    local_tables, submitted_tables = _tables(small_lake.lake), _tables(submitted.lake)
    assert list(submitted_tables) == [name for name in local_tables if name.endswith(f"/{source}")]
    for name, table in submitted_tables.items():
        assert_frame_equal(local_tables[name], table, check_exact=True, obj=name)
    assert result.source == source and result.days and result.total().rows_quarantined > 0
    for day in result.days:
        report = lake.ingest_report(submitted.lake, source, day)
        assert report.read_text() == lake.ingest_report(small_lake.lake, source, day).read_text(), report.name


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_failed_submission_raises_with_the_drivers_output(tmp_path, monkeypatch):
    """Local spark-submit (`spark://local%5B1%5D`): a job that fails surfaces as SparkJobError with its output."""
    monkeypatch.setenv(CONN_VAR, "spark://local%5B1%5D")
    with pytest.raises(SparkJobError, match="No module named 'jobs.no_such_job'") as failure:
        submit_job("jobs.no_such_job", [], config=Config(driver_memory="512m", shuffle_partitions=1),
                   artifacts_dir=tmp_path, timeout=240)
    assert "local[1]" in str(failure.value)
