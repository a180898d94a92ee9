"""Pseudonymous keys (HMAC-SHA256 on Spark against Python's hmac), the curated projection, where the key comes from,
and the restricted zone's retention clean-up (credsignal.core.privacy, docs/privacy.md)."""

from __future__ import annotations

import hashlib
import hmac
import os
import stat
import subprocess
import sys
import time
from datetime import date, datetime, timedelta, timezone

import pytest
from pyspark.sql import functions as F

from credsignal.core import contracts, lake, privacy

KEY = b"unit-test-key-0123456789abcdef-0123456789"
OTHER_KEY = b"another-unit-test-key-0123456789abcdefgh"


def test_keyed_hash_is_hmac_sha256_of_the_kind_and_the_value():
    assert privacy.keyed_hash(KEY, "learner", "lrn_1") == hmac.new(KEY, b"learner:lrn_1", hashlib.sha256).hexdigest()
    assert privacy.keyed_hash(KEY, "learner", "lrn_1") != privacy.keyed_hash(OTHER_KEY, "learner", "lrn_1")


def test_pseudonym_column_on_spark_equals_python_hmac(spark):
    values = ["lrn_a1b2c3d4e5", "", "Zoë-ñ-日本", "x" * 300, None, "lrn_a1b2c3d4e5"]
    frame = spark.createDataFrame([(v,) for v in values], "learner_id string")
    got = [row.key for row in frame.select(privacy.pseudonym_column(F.col("learner_id"), KEY, kind="learner")
                                           .alias("key")).collect()]
    want = [None if v is None else hmac.new(KEY, f"learner:{v}".encode("utf-8"), hashlib.sha256).hexdigest()
            for v in values]
    assert got == want
    assert got[0] == got[-1] and len(got[0]) == 64


def test_the_plan_does_not_show_the_key(spark):
    frame = spark.createDataFrame([("lrn_1",)], "learner_id string")
    keyed = frame.select(privacy.pseudonym_column(F.col("learner_id"), KEY, kind="learner"))
    plan = keyed._jdf.queryExecution().toString()
    assert KEY.decode() not in plan and KEY.hex() not in plan


def test_curated_tables_carry_keys_and_no_url(spark):
    from jobs import features

    full = spark.createDataFrame([("lrn_1", "CERT1"), ("lrn_2", None)], "learner_id string, certificate_id string")
    linkedin = spark.createDataFrame([("lrn_1", "CERT1", "linkedin.com/in/ana-silva-1234")],
                                     "learner_id string, certificate_id string, profile_url_normalized string")
    full = full.select(*[F.col(c) if c in full.columns else F.lit(None).alias(c)
                         for c in contracts.LEARNER_OUTCOMES_FULL_SCHEMA.fieldNames()])
    linkedin = linkedin.select(*[F.col(c) if c in linkedin.columns else F.lit(None).alias(c)
                                 for c in contracts.LEARNER_OUTCOMES_LINKEDIN_SCHEMA.fieldNames()])
    tables = features.curated_tables({"learner_outcomes_full": full, "learner_outcomes_linkedin": linkedin},
                                     pseudonym_key=KEY)
    for name in contracts.OUTPUT_TABLES:
        columns = tables[name].columns
        assert columns == [f.name for f in contracts.OUTPUT_SCHEMAS[name].fields]
        assert not {"learner_id", "certificate_id", "profile_url_normalized"} & set(columns)
    full_rows = {r.learner_key: r for r in tables["learner_outcomes_full"].collect()}
    crosswalk = {r.learner_key: r.learner_id for r in tables["learner_crosswalk"].collect()}
    assert crosswalk == {privacy.keyed_hash(KEY, "learner", i): i for i in ("lrn_1", "lrn_2")}
    assert set(full_rows) == set(crosswalk)
    assert full_rows[privacy.keyed_hash(KEY, "learner", "lrn_1")].certificate_key == privacy.keyed_hash(KEY, "certificate", "CERT1")
    assert full_rows[privacy.keyed_hash(KEY, "learner", "lrn_2")].certificate_key is None
    [linkedin_row] = tables["learner_outcomes_linkedin"].collect()
    assert linkedin_row.learner_key == privacy.keyed_hash(KEY, "learner", "lrn_1")
    # A learner's key and a certificate's key never coincide, even for equal platform IDs.
    assert privacy.keyed_hash(KEY, "learner", "X") != privacy.keyed_hash(KEY, "certificate", "X")


# ------------------------------------------------------------------------------------------------ the key

def _mode(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def test_a_configured_key_is_used_and_recorded_by_its_fingerprint_only(tmp_path):
    key = privacy.pseudonym_key(tmp_path, {privacy.KEY_ENV: KEY.decode()})
    assert key == KEY
    assert not lake.pseudonym_key_file(tmp_path).exists()
    recorded = lake.pseudonym_key_id_file(tmp_path).read_text()
    assert KEY.decode() not in recorded and recorded.strip() == privacy.key_id(KEY)


def test_without_a_configured_key_a_fresh_lake_gets_its_own_private_random_key(tmp_path, caplog, capsys):
    first = privacy.pseudonym_key(tmp_path, {})
    key_file = lake.pseudonym_key_file(tmp_path)
    assert len(first) >= privacy.MIN_KEY_BYTES
    assert _mode(key_file) == 0o600 and _mode(key_file.parent) == 0o700
    logged = caplog.text + capsys.readouterr().out  # Airflow's logging, once imported, writes to stdout
    assert "made a random key for this lake" in logged and first.decode() not in logged
    assert privacy.pseudonym_key(tmp_path, {}) == first
    assert privacy.pseudonym_key(tmp_path / "other", {}) != first  # per lake


def test_a_different_key_is_refused(tmp_path):
    privacy.pseudonym_key(tmp_path, {privacy.KEY_ENV: KEY.decode()})
    with pytest.raises(privacy.PseudonymKeyError, match="not the one that keyed this lake"):
        privacy.pseudonym_key(tmp_path, {privacy.KEY_ENV: OTHER_KEY.decode()})


def test_a_lost_configured_key_is_not_silently_replaced_by_a_random_one(tmp_path):
    privacy.pseudonym_key(tmp_path, {privacy.KEY_ENV: KEY.decode()})
    with pytest.raises(privacy.PseudonymKeyError, match="configure that key again"):
        privacy.pseudonym_key(tmp_path, {})
    assert not lake.pseudonym_key_file(tmp_path).exists()


def test_a_short_key_is_refused(tmp_path):
    with pytest.raises(privacy.PseudonymKeyError, match="at least 32"):
        privacy.pseudonym_key(tmp_path, {privacy.KEY_ENV: "short"})


# ------------------------------------------------------------------------------------------------ retention

def _partition(table, name, *, written_days_ago: int = 0):
    folder = table / name
    folder.mkdir(parents=True)
    (folder / "part-00000.parquet").write_bytes(b"raw lines")
    when = time.time() - written_days_ago * 86400
    os.utime(folder, (when, when))
    return folder


def test_cleanup_deletes_restricted_partitions_older_than_the_retention(tmp_path):
    today = datetime.now(timezone.utc).date()
    old_day, recent_day = today - timedelta(days=40), today - timedelta(days=5)
    quarantine = lake.quarantine_table(tmp_path, "learners")
    silver = lake.silver_table(tmp_path, "profiles")
    bronze = lake.bronze_table(tmp_path, "learners")
    expired = [_partition(quarantine, lake.partition_name(old_day)),
               _partition(silver, "crawl_id=2023-09", written_days_ago=40)]
    kept = [_partition(quarantine, lake.partition_name(recent_day)),
            _partition(silver, "crawl_id=2023-10", written_days_ago=5),
            _partition(bronze, lake.partition_name(old_day))]  # bronze is the record the features rebuild from

    dry = subprocess.run([sys.executable, "-m", "credsignal.entry.cli", "cleanup", "--lake", str(tmp_path),
                          "--retention-days", "30", "--dry-run"], capture_output=True, text=True, timeout=120)
    assert dry.returncode == 0, dry.stderr
    assert "would delete 2 restricted-zone partitions older than 30 days" in dry.stdout
    assert all(p.exists() for p in expired + kept)

    result = subprocess.run([sys.executable, "-m", "credsignal.entry.cli", "cleanup", "--lake", str(tmp_path)],
                            env={**os.environ, "CREDSIGNAL_RESTRICTED_RETENTION_DAYS": "30"},
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert "deleted 2 restricted-zone partitions" in result.stdout
    assert all(str(p) in result.stdout for p in expired)
    assert not any(p.exists() for p in expired)
    assert all(p.exists() for p in kept)


def test_retention_counts_export_days_not_file_times(tmp_path):
    folder = _partition(lake.quarantine_table(tmp_path, "certificates"), "dt=2023-01-31", written_days_ago=0)
    assert privacy.expired_partitions(tmp_path, retention_days=30, today=date(2023, 3, 15)) == [folder]
    assert privacy.expired_partitions(tmp_path, retention_days=60, today=date(2023, 3, 15)) == []
