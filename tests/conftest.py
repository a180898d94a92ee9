"""Shared fixtures: one local SparkSession for the whole run, and a hermetic Airflow home."""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED = REPO_ROOT.parent / "shared"


AIRFLOW_HOME_KEY = pytest.StashKey[Path]()


def pytest_configure(config):
    """A throw-away AIRFLOW_HOME for the run, set before anything imports Airflow (removed when the run ends)."""
    home = Path(tempfile.mkdtemp(prefix="credsignal-airflow-"))
    config.stash[AIRFLOW_HOME_KEY] = home
    os.environ["AIRFLOW_HOME"] = str(home)
    os.environ["AIRFLOW__CORE__DAGS_FOLDER"] = str(REPO_ROOT / "dags")
    os.environ["AIRFLOW__CORE__LOAD_EXAMPLES"] = "False"
    os.environ["AIRFLOW__CORE__UNIT_TEST_MODE"] = "True"
    os.environ["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"] = f"sqlite:///{home / 'airflow.db'}"
    os.environ["AIRFLOW__LOGGING__BASE_LOG_FOLDER"] = str(home / "logs")
    # Settings the tests must not inherit from the machine.
    for name in list(os.environ):
        if name.startswith(("CREDSIGNAL_", "AIRFLOW_VAR_CREDSIGNAL_")):
            del os.environ[name]


def pytest_unconfigure(config):
    # Each run made its own home (metadata database, task logs): left behind, they pile up in the temp folder.
    home = config.stash.get(AIRFLOW_HOME_KEY, None)
    if home is not None:
        shutil.rmtree(home, ignore_errors=True)


@pytest.fixture(scope="session")
def airflow_db():
    """The metadata database `dag.test()` needs, migrated once per run."""
    subprocess.run([sys.executable, "-m", "airflow", "db", "migrate"], check=True, capture_output=True)
    return Path(os.environ["AIRFLOW_HOME"])


@pytest.fixture(scope="session")
def spark():
    from credsignal.core.config import Config
    from credsignal.core.spark import spark_session

    session = spark_session(Config(spark_master="local[2]", shuffle_partitions=2, driver_memory="2g"),
                            app_name="credsignal-tests")
    yield session
    session.stop()


@pytest.fixture(scope="session")
def bench_script():
    """Loads a script of bench/ (not a package) as a module, by its name, for testing its functions."""
    def load(name: str):
        spec = importlib.util.spec_from_file_location(name, REPO_ROOT / "bench" / f"{name}.py")
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        return module

    return load


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    if not SHARED.is_dir():
        pytest.skip(f"the shared folder {SHARED} is not beside the repository")
    return SHARED
