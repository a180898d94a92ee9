"""The one spark-submit application of the project: ``credsignal_spark_entry.py <module> [job arguments...]``.

spark-submit needs a Python *file* as its application; the jobs are modules inside the project zip that
``--py-files`` puts on the driver's and executors' path. This file (copied beside the zip by
:func:`credsignal.core.spark_submit.package_project`'s caller, so the driver's ``sys.path[0]`` is not the source tree)
imports the named job module and calls its ``main(argv)``, or runs it as ``__main__`` when it has no ``main``.
Calling ``main`` on the imported module (not ``runpy`` as ``__main__``) matters: the functions a job hands to
Spark are then pickled by reference to ``jobs.<name>`` and resolved from the zip on the executors.

The jobs build their session with :func:`credsignal.core.spark.spark_session` from ``Config.from_env``, and settings
a session builder sets win over spark-submit's (a builder's ``.master("local[2]")`` beats ``--master``). So before
the job starts, the settings spark-submit was given for the fields the Config owns (master, shuffle partitions,
driver memory) are copied into the ``CREDSIGNAL_*`` environment the job's Config reads. This works the same in
client and cluster deploy mode because it reads the submitted Spark conf, not the submitter's environment.

Only the standard library and pyspark are imported here, so the file runs before anything else is on the path.
"""

from __future__ import annotations

import importlib
import os
import runpy
import sys

# Spark property -> the Config field's environment variable (credsignal.core.config: CREDSIGNAL_<FIELD>).
SUBMITTED_SETTINGS = {
    "spark.master": "CREDSIGNAL_SPARK_MASTER",
    "spark.sql.shuffle.partitions": "CREDSIGNAL_SHUFFLE_PARTITIONS",
    "spark.driver.memory": "CREDSIGNAL_DRIVER_MEMORY",
}


def adopt_submitted_settings() -> dict[str, str]:
    """Copy the submitted Spark conf's master / shuffle partitions / driver memory into CREDSIGNAL_* variables.

    Returns what was set. Outside spark-submit (no gateway to join) nothing is done.
    """
    if "PYSPARK_GATEWAY_PORT" not in os.environ:
        return {}
    from pyspark import SparkConf
    from pyspark.context import SparkContext

    SparkContext._ensure_initialized()  # joins the JVM spark-submit started; the session reuses it
    conf = SparkConf()  # loads the spark.* system properties spark-submit set
    adopted = {}
    for key, variable in SUBMITTED_SETTINGS.items():
        value = conf.get(key, None)
        if value:
            os.environ[variable] = adopted[variable] = value
    return adopted


def run(module_name: str, argv: list[str]) -> int:
    """Run a job module's ``main(argv)`` (or the module as ``__main__``) and return its exit code."""
    module = importlib.import_module(module_name)
    main = getattr(module, "main", None)
    if callable(main):
        result = main(argv)
        return result if isinstance(result, int) else 0
    sys.argv = [module_name, *argv]
    try:
        runpy.run_module(module_name, run_name="__main__", alter_sys=True)
    except SystemExit as stop:
        return stop.code if isinstance(stop.code, int) else (0 if stop.code is None else 1)
    return 0


def _stop_session() -> None:
    if "pyspark.sql" not in sys.modules:
        return
    from pyspark.sql import SparkSession

    session = SparkSession.getActiveSession()
    if session is not None:
        session.stop()


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0].startswith("-"):
        print("usage: credsignal_spark_entry.py <job module, e.g. jobs.features> [job arguments...]", file=sys.stderr)
        return 2
    adopt_submitted_settings()
    try:
        return run(argv[0], argv[1:])
    finally:
        _stop_session()


if __name__ == "__main__":
    raise SystemExit(main())
