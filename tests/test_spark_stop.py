"""stop_session_and_jvm ends py4j's gateway JVM, not only the SparkContext (spark.stop() leaves the JVM and its
heap alive for the rest of the process). Run in a child process: the test session's JVM must stay up."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

CHILD = textwrap.dedent("""
    from pyspark.sql import SparkSession
    from credsignal.core.spark import stop_session_and_jvm

    spark = SparkSession.builder.master("local[1]").config("spark.ui.enabled", "false").getOrCreate()
    assert spark.range(3).count() == 3
    jvm = spark.sparkContext._gateway.proc
    stop_session_and_jvm(spark)
    print("jvm_exit", jvm.poll())
""")


def test_stop_session_and_jvm_ends_the_gateway_process():
    env = {**os.environ, "SPARK_LOCAL_IP": "127.0.0.1", "PYSPARK_PYTHON": sys.executable}
    done = subprocess.run([sys.executable, "-c", CHILD], env=env, capture_output=True, text=True, timeout=180)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "jvm_exit 0" in done.stdout.splitlines()
