"""The local file system Spark writes through (credsignal/core/jvm/NioLocalFileSystem.java): Hadoop's own, with
permissions set by a system call instead of a chmod process per file and folder."""

from __future__ import annotations

import stat
import tempfile
from pathlib import Path

import pytest

from credsignal.core import spark as spark_module
from credsignal.core.spark import LOCAL_FILE_SYSTEM_CLASS, local_file_system_conf


def _file_system(spark):
    jvm = spark._jvm
    return jvm.org.apache.hadoop.fs.FileSystem.get(jvm.java.net.URI("file:///"), spark._jsc.hadoopConfiguration())


def _processes_the_jvm_started(spark, work) -> list[str]:
    """The commands of the processes the driver's JVM started while `work()` ran, from its own flight recorder
    (a machine-wide count would also count every other process on the machine)."""
    jvm = spark._jvm
    recording = jvm.jdk.jfr.Recording()
    recording.enable("jdk.ProcessStart")
    recording.start()
    try:
        work()
    finally:
        recording.stop()
    with tempfile.TemporaryDirectory() as folder:
        dump = jvm.java.io.File(str(Path(folder) / "work.jfr")).toPath()
        recording.dump(dump)
        recording.close()
        events = jvm.jdk.jfr.consumer.RecordingFile.readAllEvents(dump)
        return [event.getString("command") for event in events
                if event.getEventType().getName() == "jdk.ProcessStart"]


def test_the_session_writes_through_the_nio_local_file_system(spark):
    # `make install` builds the jar (credsignal jvm-filesystem); without it Spark falls back to Hadoop's own.
    assert _file_system(spark).getClass().getName() == LOCAL_FILE_SYSTEM_CLASS


@pytest.mark.parametrize("mode", ["-rw-------", "-rw-r--r--", "-rwxr-x--x", "-r--r-----", "drwxr-xr-x",
                                  "drwx------", "d---------"])
def test_a_permission_is_set_bit_for_bit(spark, tmp_path, mode):
    target = tmp_path / "target"
    target.mkdir() if mode.startswith("d") else target.write_bytes(b"x")
    jvm = spark._jvm
    _file_system(spark).setPermission(jvm.org.apache.hadoop.fs.Path(str(target)),
                                      jvm.org.apache.hadoop.fs.permission.FsPermission.valueOf(mode))
    assert stat.filemode(target.stat().st_mode) == mode
    target.chmod(0o700)  # so that tmp_path can be removed


def test_a_sticky_bit_is_set_by_hadoops_own_way(spark, tmp_path):
    jvm = spark._jvm
    _file_system(spark).setPermission(jvm.org.apache.hadoop.fs.Path(str(tmp_path)),
                                      jvm.org.apache.hadoop.fs.permission.FsPermission.valueOf("drwxrwxrwt"))
    assert stat.S_IMODE(tmp_path.stat().st_mode) == 0o1777


def test_a_partitioned_write_keeps_modes_and_checksums_and_starts_no_chmod_process(spark, tmp_path):
    from pyspark.sql import functions as F

    partitions = 60
    frame = spark.range(600).select((F.col("id") % partitions).alias("day"), "id").cache()
    frame.count()
    started = _processes_the_jvm_started(
        spark, lambda: frame.repartition("day").write.partitionBy("day").parquet(str(tmp_path / "table")))
    frame.unpersist()

    folders = sorted((tmp_path / "table").glob("day=*"))
    assert len(folders) == partitions
    for folder in folders:
        assert stat.S_IMODE(folder.stat().st_mode) == 0o755
        data = [path for path in folder.iterdir() if path.suffix == ".parquet" and not path.name.startswith(".")]
        assert data and all(stat.S_IMODE(path.stat().st_mode) == 0o644 for path in data)
        assert all((folder / f".{path.name}.crc").is_file() for path in data)  # Hadoop's checksum layer is kept
    # Hadoop's own file system starts three chmod processes a partition (folder, file, checksum): 180 here.
    assert [command for command in started if "chmod" in command] == []


@pytest.mark.parametrize(("master", "settings", "expected"), [
    ("local[2]", {}, True),
    ("spark://127.0.0.1:7077", {}, True),
    ("spark://spark-master.internal:7077", {}, False),  # the jar is on this machine only
    ("yarn", {}, False),
    ("local[2]", {"spark.driver.extraClassPath": "/opt/jars/x.jar"}, False),  # a deployment's own class path
    ("local[2]", {"spark.hadoop.fs.file.impl": "org.apache.hadoop.fs.LocalFileSystem"}, False),
])
def test_the_file_system_is_set_only_where_its_jar_is(tmp_path, monkeypatch, master, settings, expected):
    jar = tmp_path / "local-file-system.jar"
    jar.write_bytes(b"built")
    monkeypatch.setattr(spark_module, "local_file_system_jar", lambda: jar)
    conf = local_file_system_conf(master, settings)
    assert conf == ({"spark.hadoop.fs.file.impl": LOCAL_FILE_SYSTEM_CLASS, "spark.driver.extraClassPath": str(jar),
                     "spark.executor.extraClassPath": str(jar)} if expected else {})


def test_no_file_system_setting_without_its_jar(tmp_path, monkeypatch):
    monkeypatch.setattr(spark_module, "local_file_system_jar", lambda: tmp_path / "never-built.jar")
    assert local_file_system_conf("local[2]", {}) == {}


def test_the_jar_is_compiled_against_pysparks_jars(tmp_path, monkeypatch):
    import zipfile

    from credsignal.core.spark import build_local_file_system_jar

    jar = tmp_path / "var" / "local-file-system.jar"
    monkeypatch.setattr(spark_module, "local_file_system_jar", lambda: jar)
    assert build_local_file_system_jar() == jar
    with zipfile.ZipFile(jar) as built:
        assert sorted(built.namelist()) == ["credsignal/hadoop/NioLocalFileSystem$NioRawLocalFileSystem.class",
                                            "credsignal/hadoop/NioLocalFileSystem.class"]
    assert [path.name for path in jar.parent.iterdir()] == [jar.name]  # no temporary file left beside it
