"""The driver JVM's class archive (AppCDS): which options a driver gets, and that a built archive is really mapped
by the next driver."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from credsignal.core.config import Config
from credsignal.core.spark import class_archive, driver_java_options
from credsignal.core.spark_submit import spark_conf


def test_driver_maps_the_archive_only_once_it_exists(tmp_path):
    archive = tmp_path / "spark.jsa"
    config = Config(jvm_class_archive=archive)

    assert driver_java_options(config) == "-Duser.timezone=UTC"
    archive.write_bytes(b"built")
    assert driver_java_options(config).split() == [
        "-Duser.timezone=UTC", f"-XX:SharedArchiveFile={archive}", "-Xlog:cds=off", "-Xlog:cds+dynamic=off"]


def test_dumping_driver_writes_the_archive_instead_of_mapping_one(tmp_path):
    archive = tmp_path / "spark.jsa"
    archive.write_bytes(b"built")
    options = driver_java_options(Config(jvm_class_archive=archive), dump_class_archive_to=tmp_path / "new.jsa")

    assert f"-XX:ArchiveClassesAtExit={tmp_path / 'new.jsa'}" in options.split()
    assert "SharedArchiveFile" not in options


def test_archive_path_with_a_space_is_left_out_rather_than_split(tmp_path):
    archive = tmp_path / "a folder" / "spark.jsa"
    archive.parent.mkdir()
    archive.write_bytes(b"built")

    assert driver_java_options(Config(jvm_class_archive=archive)) == "-Duser.timezone=UTC"


def test_default_archive_lives_in_the_venv_and_follows_the_java_binary(tmp_path, monkeypatch):
    import pyspark

    java = tmp_path / "jdk" / "bin" / "java"
    java.parent.mkdir(parents=True)
    java.write_text("")
    monkeypatch.setenv("JAVA_HOME", str(tmp_path / "jdk"))
    first = class_archive(Config())

    assert first.parent == Path(sys.prefix) / "var" / "credsignal"
    assert first.name.startswith(f"spark-{pyspark.__version__}-") and first.suffix == ".jsa"
    os.utime(java, ns=(java.stat().st_atime_ns, java.stat().st_mtime_ns + 10**9))  # a JDK updated in place
    assert class_archive(Config()) != first


def test_no_java_means_no_archive(tmp_path, monkeypatch):
    monkeypatch.setenv("JAVA_HOME", str(tmp_path / "no-jdk"))

    assert class_archive(Config()) is None
    assert driver_java_options(Config()) == "-Duser.timezone=UTC"


def test_a_submitted_driver_gets_the_same_options_as_an_in_process_one(tmp_path):
    archive = tmp_path / "spark.jsa"
    archive.write_bytes(b"built")
    config = Config(jvm_class_archive=archive)

    assert spark_conf(config)["spark.driver.extraJavaOptions"] == driver_java_options(config)
    assert spark_conf(config)["spark.executor.extraJavaOptions"] == "-Duser.timezone=UTC"


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_built_archive_is_mapped_by_the_next_driver(tmp_path):
    """`credsignal jvm-archive --to` builds the archive; a driver started from it then loads Spark's classes out of
    it (the JVM's class+load log says "shared objects file (top)" for a class read from this archive)."""
    from credsignal.entry import cli

    archive = tmp_path / "archive" / "spark.jsa"
    assert cli.main(["jvm-archive", "--to", str(archive)]) == 0
    assert archive.is_file() and archive.stat().st_size > 10 * 2**20
    assert [p.name for p in archive.parent.iterdir()] == ["spark.jsa"]  # no temporary left

    class_log = tmp_path / "class-load.log"
    driver = textwrap.dedent(f"""
        from dataclasses import replace
        from pathlib import Path
        from credsignal.core.config import Config
        from credsignal.core.spark import driver_java_options, spark_session, stop_session_and_jvm
        config = Config(jvm_class_archive=Path({str(archive)!r}), driver_memory="1g")
        options = driver_java_options(config) + " -Xlog:class+load=info:file={class_log}"
        spark = spark_session(replace(config, extra_spark_conf={{"spark.driver.extraJavaOptions": options}}))
        assert spark.range(10).count() == 10
        stop_session_and_jvm(spark)
    """)
    subprocess.run([sys.executable, "-c", driver], check=True, timeout=300, cwd=tmp_path)

    loaded = class_log.read_text().splitlines()
    from_archive = [line for line in loaded if "shared objects file (top)" in line]
    assert any("org.apache.spark.sql.SparkSession " in line for line in from_archive), loaded[:20]
    assert len(from_archive) > 2000, len(from_archive)
