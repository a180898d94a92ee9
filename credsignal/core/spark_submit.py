"""Running a Spark job through spark-submit, on whatever cluster an Airflow Connection names.

The Spark steps run in-process (local mode, :func:`credsignal.core.spark.spark_session`) unless the Airflow Connection
``credsignal_spark`` is defined; then they go through the Spark provider's ``SparkSubmitHook`` (the class
``SparkSubmitOperator`` drives) to the connection's master: ``local[N]``, ``spark://host:7077``, ``yarn`` or
``k8s://...``. Moving from a laptop to a cluster is a change of connection, not of code (docs/spark_cluster.md).

* :func:`package_project` builds the zip of the project's packages (with their data files) that ships to the
  driver and executors through ``--py-files``; it is deterministic and cached by content hash.
* :func:`entry_file` places the one application file (``credsignal/entry/spark_submit.py``) beside it: the application
  is ``credsignal_spark_entry.py <module> <args...>``, so any job module with a ``main(argv)`` can be submitted.
* :func:`submit_job` submits one job and raises :class:`SparkJobError` (with the end of spark-submit's output)
  when it fails. ``credsignal.pipeline.derive_features`` submits when the connection is defined, else runs the
  feature job in-process.

Airflow is imported inside the functions: importing this module is cheap for the DAG processor.
"""

from __future__ import annotations

import hashlib
import importlib.util
import io
import json
import os
import shutil
import sys
import tempfile
import threading
import zipfile
from collections import deque
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from credsignal.core.config import CWUR_PATH_ENV_VAR, Config, default_cwur_path
from credsignal.core.spark import common_settings, is_local_master, local_file_system_conf

CONN_ID = "credsignal_spark"
# The project's importable packages, shipped whole (credsignal/reference/data, synth/data...).
PACKAGES = ("credsignal", "jobs", "parsers", "expectations", "synth")
# Files shipped from those packages: the code and the data files it loads with importlib.resources (the table
# contracts, the page templates and their stylesheet among them).
SHIPPED_SUFFIXES = (".py", ".json", ".csv", ".txt", ".yml", ".j2", ".css")
ENTRY_FILE_NAME = "credsignal_spark_entry.py"
# Fixed zip metadata, so the same sources give the same bytes (the earliest timestamp a zip can hold).
_ZIP_EPOCH = (1980, 1, 1, 0, 0, 0)
_SPARK_SUBMIT = "spark-submit"
# Connection extras read here, on top of those the provider's hook reads itself (deploy-mode, spark-binary,
# queue, namespace, principal, keytab). Keys use the provider's dash style.
RESOURCE_EXTRAS = {
    "executor-memory": "executor_memory",
    "executor-cores": "executor_cores",
    "total-executor-cores": "total_executor_cores",
    "num-executors": "num_executors",
}
CONF_EXTRA = "spark-conf"
ARTIFACTS_EXTRA = "artifacts-dir"
# Lines of spark-submit's output kept for the error message of a failed job.
ERROR_TAIL_LINES = 40


class SparkJobError(RuntimeError):
    """A submitted Spark job failed (or spark-submit could not run it)."""


class SparkConnectionError(ValueError):
    """The Spark connection is set but unusable (for example an AIRFLOW_CONN_* value Airflow cannot parse)."""


# ------------------------------------------------------------------------------------------------ packaging

def _package_dir(package: str) -> Path:
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise SparkJobError(f"cannot find the package {package!r} to ship to Spark")
    return Path(next(iter(spec.submodule_search_locations)))


def project_files(packages: Sequence[str] = PACKAGES) -> list[tuple[str, Path]]:
    """(name inside the zip, file) of every shipped file, sorted by name; caches and hidden files left out."""
    files = []
    for package in packages:
        root = _package_dir(package)
        for path in root.rglob("*"):
            relative = path.relative_to(root)
            if (not path.is_file() or path.suffix not in SHIPPED_SUFFIXES
                    or any(part == "__pycache__" or part.startswith(".") for part in relative.parts)):
                continue
            files.append(((Path(package) / relative).as_posix(), path))
    return sorted(files)


def package_project(dest_dir: Path, packages: Sequence[str] = PACKAGES) -> Path:
    """The project zip for ``--py-files`` in `dest_dir`, named by the hash of its content; built when missing.

    The zip is deterministic (sorted entries, fixed timestamps and permissions), so the same sources always give
    the same file and an unchanged project is never rebuilt. It is written to a temporary name and renamed, so
    concurrent callers never see half a zip.
    """
    dest_dir = Path(dest_dir)
    files = [(name, path.read_bytes()) for name, path in project_files(packages)]
    digest = hashlib.sha256()
    for name, data in files:
        digest.update(name.encode("utf-8") + b"\0" + str(len(data)).encode() + b"\0" + data)
    target = dest_dir / f"credsignal-{digest.hexdigest()[:16]}.zip"
    if target.is_file():
        return target
    dest_dir.mkdir(parents=True, exist_ok=True)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, data in files:
            info = zipfile.ZipInfo(name, date_time=_ZIP_EPOCH)
            info.external_attr = 0o644 << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            info.create_system = 3  # unix, whatever builds it
            archive.writestr(info, data, compresslevel=6)
    _write_atomically(target, buffer.getvalue())
    return target


def entry_file(dest_dir: Path) -> Path:
    """The spark-submit application (a copy of credsignal/entry/spark_submit.py) in `dest_dir`.

    A copy outside the source tree, so the driver's ``sys.path[0]`` (the application's folder) cannot shadow
    the zip's packages.
    """
    from importlib import resources

    source = resources.files("credsignal.entry").joinpath("spark_submit.py").read_bytes()
    target = Path(dest_dir) / ENTRY_FILE_NAME
    if not (target.is_file() and target.read_bytes() == source):
        Path(dest_dir).mkdir(parents=True, exist_ok=True)
        _write_atomically(target, source)
    return target


def _write_atomically(target: Path, data: bytes) -> None:
    handle, temporary = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.")
    try:
        with os.fdopen(handle, "wb") as out:
            out.write(data)
        os.replace(temporary, target)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def default_artifacts_dir() -> Path:
    return Path(tempfile.gettempdir()) / "credsignal-spark"


# ------------------------------------------------------------------------------------------------ connection

def _get_connection(conn_id: str) -> Any:
    """The Airflow Connection: in a task through the task SDK's supervisor, elsewhere from the secrets backends
    (AIRFLOW_CONN_* variables, then the metadata database when one is configured)."""
    from airflow.sdk import BaseHook

    return BaseHook.get_connection(conn_id)


def spark_connection_defined(conn_id: str = CONN_ID) -> bool:
    """Whether the Spark connection exists, i.e. whether jobs go through spark-submit.

    An ``AIRFLOW_CONN_<ID>`` variable that is set but that Airflow cannot read (``spark://local[2]``: brackets
    are not valid in a URI host) raises :class:`SparkConnectionError` instead of silently running in-process.
    """
    from airflow.sdk.exceptions import AirflowNotFoundException

    try:
        _get_connection(conn_id)
    except AirflowNotFoundException:
        raw = os.environ.get(f"AIRFLOW_CONN_{conn_id.upper()}")
        if raw:
            raise SparkConnectionError(
                f"AIRFLOW_CONN_{conn_id.upper()}={raw!r} is set but Airflow cannot read it as a connection. "
                "Percent-encode a local master (spark://local%5B2%5D, spark://local%5B%2A%5D) or use the JSON form "
                '{"conn_type": "spark", "host": "local[2]"}.'
            ) from None
        return False
    return True


def _connection_extras(conn_id: str) -> dict[str, Any]:
    try:
        extra = _get_connection(conn_id).extra_dejson
    except Exception as error:  # the hook reports a missing connection itself
        raise SparkConnectionError(f"cannot read the Spark connection {conn_id!r}: {error}") from error
    conf = extra.get(CONF_EXTRA) or {}
    if isinstance(conf, str):
        conf = json.loads(conf)
    if not isinstance(conf, Mapping):
        raise SparkConnectionError(f"the {CONF_EXTRA!r} extra of {conn_id!r} must be an object of Spark properties")
    return {**extra, CONF_EXTRA: {str(k): str(v) for k, v in conf.items()}}


# ------------------------------------------------------------------------------------------------ submitting

def spark_conf(config: Config, connection_conf: Mapping[str, str] | None = None,
               lineage_conf: Mapping[str, str] | None = None) -> dict[str, str]:
    """The ``--conf`` properties of a submitted job: the Config's settings (as spark_session sets them), the
    Python the executors run, the OpenLineage parent job (credsignal.entry.lineage.spark_properties), then the
    connection's ``spark-conf`` extra, then ``Config.extra_spark_conf``: as in the provider's injection, OpenLineage
    properties a deployment set itself win."""
    conf = {
        **common_settings(config),
        # The venv's interpreter, or the executors miss pandas/pyarrow/rapidfuzz; a cluster whose nodes keep
        # Python elsewhere sets spark.pyspark.python in the connection's spark-conf extra.
        "spark.pyspark.python": os.environ.get("PYSPARK_PYTHON") or sys.executable,
        "spark.pyspark.driver.python": os.environ.get("PYSPARK_DRIVER_PYTHON") or sys.executable,
    }
    cwur = _cwur_path(config)
    if cwur is not None:
        # The ranker's default location is relative to its source file, which on an executor is inside the zip.
        conf[f"spark.executorEnv.{CWUR_PATH_ENV_VAR}"] = str(cwur)
    conf.update(lineage_conf or {})
    conf.update(connection_conf or {})
    conf.update({str(k): str(v) for k, v in config.extra_spark_conf.items()})
    return conf


def _cwur_path(config: Config) -> Path | None:
    if config.cwur_path is not None:
        return Path(config.cwur_path).resolve()
    path = default_cwur_path()
    return path.resolve() if path.is_file() else None


def _submit_environment(master: str, spark_binary: str, config: Config) -> dict[str, str]:
    """spark-submit's environment (a client-mode driver inherits it), with the run's Config as CREDSIGNAL_*
    variables, so a submitted job's `Config.from_env` has the settings an Airflow Variable or a CLI flag gave the
    run, not only those of the submitter's environment."""
    env = {**os.environ, **config.to_env()}
    env.setdefault("PYSPARK_PYTHON", sys.executable)
    env.setdefault("PYSPARK_DRIVER_PYTHON", sys.executable)
    if is_local_master(master):
        env.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    cwur = _cwur_path(config)
    if cwur is not None:
        env.setdefault(CWUR_PATH_ENV_VAR, str(cwur))
    # spark-submit from PATH; else the one the venv's pyspark installs (the test runner or Airflow is often
    # started as .venv/bin/python without the venv on PATH).
    if shutil.which(spark_binary, path=env.get("PATH")) is None:
        for folder in (Path(sys.executable).parent, Path(_pyspark_home()) / "bin"):
            if (folder / spark_binary).is_file():
                env["PATH"] = os.pathsep.join([str(folder), env.get("PATH", "")])
                break
    return env


def _pyspark_home() -> str:
    spec = importlib.util.find_spec("pyspark")
    return str(Path(spec.origin).parent) if spec and spec.origin else ""


@dataclass
class PreparedSubmit:
    """Everything `submit_job` runs: the provider's hook (with its resolved connection), the application file
    and spark-submit's environment."""

    hook: Any
    application: Path
    py_files: Path
    env: dict[str, str]

    @property
    def master(self) -> str:
        return self.hook._connection["master"]

    def command(self) -> list[str]:
        """The spark-submit command line the hook runs."""
        return self.hook._build_spark_submit_command(str(self.application))


def prepare_submit(module: str, argv: Sequence[str], *, conn_id: str = CONN_ID, config: Config,
                   name: str | None = None, artifacts_dir: Path | None = None,
                   lineage_conf: Mapping[str, str] | None = None) -> PreparedSubmit:
    """Build the SparkSubmitHook for one job from the connection and the Config, without running anything."""
    from airflow.providers.apache.spark.hooks.spark_submit import SparkSubmitHook

    extras = _connection_extras(conn_id)
    artifacts = Path(artifacts_dir or extras.get(ARTIFACTS_EXTRA) or default_artifacts_dir())
    py_files = package_project(artifacts)
    application = entry_file(artifacts)
    resources = {argument: extras[key] for key, argument in RESOURCE_EXTRAS.items()
                 if extras.get(key) not in (None, "")}
    for argument in ("executor_cores", "total_executor_cores", "num_executors"):
        if argument in resources:
            resources[argument] = int(resources[argument])
    hook = SparkSubmitHook(
        conf=spark_conf(config, extras[CONF_EXTRA], lineage_conf),
        conn_id=conn_id,
        py_files=str(py_files),
        name=name or f"credsignal-{module.rsplit('.', 1)[-1]}",
        application_args=[module, *(str(arg) for arg in argv)],
        **resources,
    )
    master = hook._connection["master"]
    # Only the connection knows the master, and the file system's jar is on this machine alone.
    hook._conf.update(local_file_system_conf(master, hook._conf))
    env = _submit_environment(master, hook._connection["spark_binary"], config)
    return PreparedSubmit(hook=hook, application=application, py_files=py_files, env=env)


def submit_job(module: str, argv: Sequence[str], *, conn_id: str = CONN_ID, config: Config,
               name: str | None = None, artifacts_dir: Path | None = None, timeout: float | None = None,
               lineage_conf: Mapping[str, str] | None = None) -> None:
    """Run ``<module>.main(argv)`` through spark-submit on the connection's master; return when it has finished.

    Raises :class:`SparkJobError` when spark-submit exits non-zero, the driver fails (standalone cluster mode
    is tracked until it ends), or `timeout` seconds pass (the submission is then killed, as Airflow's on_kill
    would). The message has the command and the last lines of spark-submit's output.
    """
    from airflow.providers.common.compat.sdk import AirflowException

    prepared = prepare_submit(module, argv, conn_id=conn_id, config=config, name=name, artifacts_dir=artifacts_dir,
                              lineage_conf=lineage_conf)
    hook = prepared.hook
    tail: deque[str] = deque(maxlen=ERROR_TAIL_LINES)
    process_log = hook._process_spark_submit_log
    hook._process_spark_submit_log = lambda lines: process_log(_kept(lines, tail))
    timed_out = threading.Event()

    def kill() -> None:
        timed_out.set()
        hook.on_kill()

    timer = threading.Timer(timeout, kill) if timeout else None
    if timer is not None:
        timer.daemon = True
        timer.start()
    try:
        hook.submit(str(prepared.application), env=prepared.env)
    except (AirflowException, OSError) as error:
        reason = f"timed out after {timeout:g} s" if timed_out.is_set() else str(error)
        raise SparkJobError(
            f"Spark job {module} failed on {prepared.master}: {reason}\n"
            f"--- last lines of spark-submit's output ---\n" + "\n".join(tail)
        ) from error
    finally:
        if timer is not None:
            timer.cancel()
    if timed_out.is_set():
        raise SparkJobError(f"Spark job {module} on {prepared.master} timed out after {timeout:g} s")


def _kept(lines: Iterable[str], tail: deque[str]) -> Iterator[str]:
    for line in lines:
        tail.append(line.rstrip("\n"))
        yield line
