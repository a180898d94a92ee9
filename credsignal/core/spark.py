"""Building the SparkSession from the Config: the only place that knows Spark settings."""

from __future__ import annotations

import logging
import os
import sys
from typing import TYPE_CHECKING

from credsignal.core.config import Config

if TYPE_CHECKING:
    from pyspark.sql import SparkSession


def spark_session(config: Config, app_name: str = "credsignal") -> "SparkSession":
    """Return the process's SparkSession, creating it from the config if there is none yet.

    An existing session (the tests' shared one, or one made by `dag.test()` in the same process) is reused:
    Spark allows one per JVM.
    """
    # Workers must run the same interpreter as the driver, or they miss the venv's packages.
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    os.environ.setdefault("PYSPARK_DRIVER_PYTHON", sys.executable)
    # Without it Spark resolves the machine's hostname and warns (or binds a non-loopback address).
    os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")

    from pyspark.sql import SparkSession

    builder = (
        SparkSession.builder.appName(app_name)
        .master(config.spark_master)
        .config("spark.sql.shuffle.partitions", str(config.shuffle_partitions))
        .config("spark.default.parallelism", str(max(2, config.shuffle_partitions)))
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.driver.memory", config.driver_memory)
        .config("spark.sql.sources.partitionOverwriteMode", "dynamic")
        .config("spark.sql.parquet.compression.codec", "zstd")
        .config("spark.driver.extraJavaOptions", "-Duser.timezone=UTC")
        .config("spark.executor.extraJavaOptions", "-Duser.timezone=UTC")
    )
    # Each Python worker already has a core of its own: numpy's OpenBLAS starting a thread per core in every worker
    # made the readout's matrix products 20x slower on 2 cores (threads spinning against each other and the JVM).
    for variable in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        builder = builder.config(f"spark.executorEnv.{variable}", "1")
    if config.spark_master.startswith("local"):
        # Reading a bronze table lists one folder per export day (396 a year). Past 32 folders Spark lists them
        # with a distributed job, which on one machine's disk costs seconds per table (16 s for the six tables at
        # full scale, 2 s listed on the driver). On a cluster reading object storage the parallel listing pays off.
        builder = builder.config("spark.sql.sources.parallelPartitionDiscovery.threshold", "100000")
    for key, value in config.extra_spark_conf.items():
        builder = builder.config(key, value)
    session = builder.getOrCreate()
    session.sparkContext.setLogLevel("WARN")
    # py4j logs its shutdown at INFO after pytest or Airflow closed the streams, which prints tracebacks.
    logging.getLogger("py4j").setLevel(logging.WARNING)
    return session


def stop_session_and_jvm(spark: "SparkSession", timeout_s: float = 60.0) -> None:
    """spark.stop() ends the SparkContext but leaves py4j's gateway JVM alive with its whole heap for the rest of
    the Python process (9.4 GiB RSS, busy on one core, in the 10x run); the gateway exits when its stdin closes."""
    import subprocess

    from pyspark import SparkContext

    spark.stop()
    gateway = SparkContext._gateway
    if gateway is None:
        return
    gateway.shutdown()
    process = getattr(gateway, "proc", None)
    if process is not None:
        process.stdin.close()
        try:
            process.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
    SparkContext._gateway = None
    SparkContext._jvm = None
