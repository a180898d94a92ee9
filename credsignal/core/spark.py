"""Building the SparkSession from the Config: the only place that knows Spark settings."""

from __future__ import annotations

import hashlib
import logging
import os
import shutil
import subprocess
import sys
import tempfile
import time
import zipfile
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

from credsignal.core.config import Config

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

log = logging.getLogger(__name__)

# The JVM's own messages about its class archive: a rejected archive (another JDK build) only means a slower start.
_QUIET_CLASS_ARCHIVE = ("-Xlog:cds=off", "-Xlog:cds+dynamic=off")


def _jdk_tool(name: str) -> Path | None:
    """A JDK program as pyspark's launcher finds java: $JAVA_HOME/bin/<name>, else the one on PATH."""
    java_home = os.environ.get("JAVA_HOME")
    found = str(Path(java_home) / "bin" / name) if java_home else shutil.which(name)
    return Path(found).resolve() if found and Path(found).is_file() else None


def _pyspark_jars() -> Path:
    import pyspark

    return (Path(pyspark.__file__).parent / "jars").resolve()


def class_archive(config: Config) -> Path | None:
    """Where the driver JVM's class archive is: Config.jvm_class_archive, else a file in the venv named after the
    pyspark version and the java binary (path and mtime), so another Spark or JDK gets an archive of its own."""
    if config.jvm_class_archive is not None:
        return Path(config.jvm_class_archive)
    java = _jdk_tool("java")
    if java is None:
        return None
    import pyspark

    key = hashlib.sha256(f"{java}|{java.stat().st_mtime_ns}|{_pyspark_jars()}".encode()).hexdigest()[:16]
    return Path(sys.prefix) / "var" / "credsignal" / f"spark-{pyspark.__version__}-{key}.jsa"


def driver_java_options(config: Config, *, dump_class_archive_to: Path | None = None) -> str:
    """spark.driver.extraJavaOptions: UTC, and the class archive when there is one.

    A driver loads and verifies Spark's classes as it starts; the archive maps them already parsed, which takes
    about 4 s off a one-day nightly step's 19 s (docs/benchmarks.md). Every Airflow task and spark-submit starts a
    driver, so each saves that."""
    options = ["-Duser.timezone=UTC"]
    if dump_class_archive_to is not None:
        options += [f"-XX:ArchiveClassesAtExit={dump_class_archive_to}", *_QUIET_CLASS_ARCHIVE]
    elif (archive := class_archive(config)) is not None and archive.is_file():
        options += [f"-XX:SharedArchiveFile={archive}", *_QUIET_CLASS_ARCHIVE]
    if any(" " in option for option in options):
        # Spark splits these options at spaces; without an archive the driver only starts slower.
        options = options[:1]
    return " ".join(options)


def common_settings(config: Config, *, dump_class_archive_to: Path | None = None) -> dict[str, str]:
    """The Spark settings of the Config that an in-process session and a spark-submitted job share."""
    return {
        "spark.sql.shuffle.partitions": str(config.shuffle_partitions),
        "spark.default.parallelism": str(max(2, config.shuffle_partitions)),
        "spark.ui.showConsoleProgress": "false",
        "spark.sql.session.timeZone": "UTC",
        "spark.driver.memory": config.driver_memory,
        "spark.sql.sources.partitionOverwriteMode": "dynamic",
        "spark.sql.parquet.compression.codec": "zstd",
        # A client-mode driver, like an in-process one, starts on this machine: it can map the class archive.
        "spark.driver.extraJavaOptions": driver_java_options(config, dump_class_archive_to=dump_class_archive_to),
        "spark.executor.extraJavaOptions": "-Duser.timezone=UTC",
    }


def spark_session(config: Config, app_name: str = "credsignal", *,
                  dump_class_archive_to: Path | None = None) -> "SparkSession":
    """Return the process's SparkSession, creating it from the config if there is none yet.

    An existing session (the tests' shared one, or one made by `dag.test()` in the same process) is reused:
    Spark allows one per JVM. `dump_class_archive_to` is for build_class_archive only.
    """
    # Workers must run the same interpreter as the driver, or they miss the venv's packages.
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    os.environ.setdefault("PYSPARK_DRIVER_PYTHON", sys.executable)
    # Without it Spark resolves the machine's hostname and warns (or binds a non-loopback address).
    os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")

    from pyspark.sql import SparkSession

    builder = SparkSession.builder.appName(app_name).master(config.spark_master)
    for key, value in common_settings(config, dump_class_archive_to=dump_class_archive_to).items():
        builder = builder.config(key, value)
    builder = builder.config("spark.ui.enabled", "false")
    # Each Python worker already has a core of its own: numpy's OpenBLAS starting a thread per core in every worker
    # made the readout's matrix products 20x slower on 2 cores (threads spinning against each other and the JVM).
    for variable in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        builder = builder.config(f"spark.executorEnv.{variable}", "1")
    if config.spark_master.startswith("local"):
        # Reading a bronze table lists one folder per export day (396 a year). Past 32 folders Spark lists them
        # with a distributed job, which on one machine's disk costs seconds per table (16 s for the six tables at
        # full scale, 2 s listed on the driver). On a cluster reading object storage the parallel listing pays off.
        builder = builder.config("spark.sql.sources.parallelPartitionDiscovery.threshold", "100000")
    for key, value in {**local_file_system_conf(config.spark_master, config.extra_spark_conf),
                       **config.extra_spark_conf}.items():
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


def is_local_master(master: str) -> bool:
    """A master whose driver and executors all run on this machine (local[N], or a cluster on the loopback)."""
    if master.startswith("local"):
        return True
    host = master.split("://", 1)[-1].split(":", 1)[0]
    return master.startswith("spark://") and host in ("127.0.0.1", "localhost")


# ------------------------------------------------------------------------------------------ local file system

LOCAL_FILE_SYSTEM_CLASS = "credsignal.hadoop.NioLocalFileSystem"
_LOCAL_FILE_SYSTEM_SOURCE = Path(__file__).parent / "jvm" / "NioLocalFileSystem.java"
_LOCAL_FILE_SYSTEM_KEYS = ("spark.hadoop.fs.file.impl", "spark.driver.extraClassPath", "spark.executor.extraClassPath")


def local_file_system_jar() -> Path | None:
    """Where `credsignal jvm-filesystem` builds the jar of NioLocalFileSystem: in the venv, named after its source
    and pyspark's jars, so a changed source or another Spark gets a jar of its own. None where the source is not
    on disk: a driver that spark-submit started from the zipped project, whose settings spark-submit passed."""
    if not _LOCAL_FILE_SYSTEM_SOURCE.is_file():
        return None
    key = hashlib.sha256(_LOCAL_FILE_SYSTEM_SOURCE.read_bytes() + str(_pyspark_jars()).encode()).hexdigest()[:16]
    return Path(sys.prefix) / "var" / "credsignal" / f"local-file-system-{key}.jar"


def local_file_system_conf(master: str, settings: Mapping[str, str]) -> dict[str, str]:
    """The Spark settings that make Hadoop's file:// file system NioLocalFileSystem (its source says why): when
    its jar is built and the driver and executors run on this machine, where the jar is. None when `settings`
    (a deployment's own) set any of them: the class must be on the class path the file system is named with."""
    jar = local_file_system_jar()
    if (jar is None or not jar.is_file() or not is_local_master(master)
            or any(key in settings for key in _LOCAL_FILE_SYSTEM_KEYS)):
        return {}
    return dict(zip(_LOCAL_FILE_SYSTEM_KEYS, (LOCAL_FILE_SYSTEM_CLASS, str(jar), str(jar))))


def build_local_file_system_jar(*, timeout_s: float = 300.0) -> Path:
    """Compile NioLocalFileSystem against pyspark's jars and write its jar (local_file_system_jar()), atomically."""
    javac = _jdk_tool("javac")
    if javac is None:
        raise RuntimeError("no javac found (JAVA_HOME or PATH): cannot build the local file system's jar")
    jar = local_file_system_jar()
    if jar is None:
        raise RuntimeError(f"the local file system's source is not on disk: {_LOCAL_FILE_SYSTEM_SOURCE}")
    jar.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="credsignal-jvm-") as folder:
        classes = Path(folder) / "classes"
        subprocess.run([str(javac), "--release", "17", "-nowarn", "-cp", f"{_pyspark_jars()}/*", "-d", str(classes),
                        str(_LOCAL_FILE_SYSTEM_SOURCE)], check=True, timeout=timeout_s)
        temporary = jar.with_name(f".{jar.name}.{os.getpid()}.tmp")
        with zipfile.ZipFile(temporary, "w", zipfile.ZIP_DEFLATED) as archive:
            for path in sorted(classes.rglob("*.class")):
                archive.write(path, path.relative_to(classes).as_posix())
        os.replace(temporary, jar)
    log.info("local file system jar %s", jar)
    return jar


# ------------------------------------------------------------------------------------------------ class archive

def build_class_archive(config: Config, *, timeout_s: float = 900.0) -> Path:
    """Build the driver's class archive (class_archive(config)) and return its path.

    A fresh interpreter starts a driver that dumps the classes it loaded when its JVM exits, after running the
    kinds of work the pipeline does (_exercise_for_class_archive). The archive is written under a temporary name
    and renamed into place once that JVM has exited, so a driver starting meanwhile never maps a partial file."""
    import multiprocessing

    archive = class_archive(config)
    if archive is None:
        raise RuntimeError("no java found (JAVA_HOME or PATH): cannot build a class archive")
    archive.parent.mkdir(parents=True, exist_ok=True)
    temporary = archive.with_name(f".{archive.name}.{os.getpid()}.tmp")
    temporary.unlink(missing_ok=True)
    started = time.monotonic()
    child = multiprocessing.get_context("spawn").Process(target=_dump_class_archive, args=(config, temporary),
                                                         name="credsignal-class-archive")
    child.start()
    child.join(timeout_s)
    try:
        if child.is_alive():
            child.kill()
            child.join()
            raise RuntimeError(f"building the class archive took over {timeout_s:.0f} s")
        if child.exitcode != 0 or not temporary.is_file() or temporary.stat().st_size == 0:
            raise RuntimeError(f"building the class archive failed (exit code {child.exitcode}); see the log above")
        os.replace(temporary, archive)
    finally:
        temporary.unlink(missing_ok=True)
    log.info("class archive %s: %.0f MiB in %.0f s", archive, archive.stat().st_size / 2**20,
             time.monotonic() - started)
    return archive


def _dump_class_archive(config: Config, temporary: Path) -> None:
    """The child of build_class_archive: a local driver that exercises Spark, then ends its JVM and waits for it
    (the JVM writes the archive as it exits)."""
    with tempfile.TemporaryDirectory(prefix="credsignal-class-archive-") as folder:
        local = replace(config, spark_master="local[2]", shuffle_partitions=2, driver_memory="1g")
        spark = spark_session(local, app_name="credsignal-class-archive", dump_class_archive_to=temporary)
        _exercise_for_class_archive(spark, Path(folder))
        stop_session_and_jvm(spark, timeout_s=600.0)


def _exercise_for_class_archive(spark: "SparkSession", folder: Path) -> None:
    """What the pipeline's stages do, in miniature: JSON and typed casts, a Python worker over Arrow, windows,
    joins, aggregations, a cache, a partitioned Parquet write with dynamic overwrite and its read, pandas out."""
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    lines = spark.range(2000).select(
        (F.col("id") % 5).cast("string").alias("k"),
        F.date_add(F.lit("2023-01-01").cast("date"), (F.col("id") % 3).cast("int")).alias("dt"),
        F.format_string('{"id": %d, "at": "2023-01-0%dT10:00:00Z", "x": 1.5}', F.col("id"),
                        (F.col("id") % 9 + 1).cast("int")).alias("raw"),
    )
    typed = lines.select("*", F.from_json("raw", "id long, at string, x double").alias("v")).select(
        "k", "dt", "v.id", F.regexp_replace("v.at", "Z$", "").try_cast("timestamp").alias("at"), "v.x")

    def unchanged(batches):
        yield from batches

    through_python = typed.mapInArrow(unchanged, typed.schema)
    latest = through_python.withColumn(
        "rank", F.row_number().over(Window.partitionBy("k").orderBy(F.col("at").desc(), "id"))).cache()
    counts = latest.groupBy("k").agg(F.count("*").alias("n"), F.max("x").alias("x_max"))
    joined = latest.join(counts, "k").join(F.broadcast(counts.select("k")), "k", "left_anti").unionByName(
        latest.join(counts, "k"))
    joined.count()
    table = folder / "table"
    joined.repartition("dt").sortWithinPartitions("dt", "id").write.mode("overwrite").partitionBy("dt").parquet(
        str(table))
    read = spark.read.parquet(str(table))
    read.select(F.posexplode(F.array("id", "n")), "dt").groupBy("dt").count().toPandas()
    spark.createDataFrame(read.limit(10).toPandas()).collect()
    latest.unpersist()
