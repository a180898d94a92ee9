"""Unit tests of the ingestion transforms on tiny in-test frames, with exact expected outputs."""

from __future__ import annotations

import gzip
from datetime import date, datetime
from pathlib import Path

import pytest
from pyspark.sql import functions as F
from pyspark.testing import assertDataFrameEqual

from credsignal.core.config import Config
from credsignal.core.contracts import EXPORT_LINE_SCHEMA, EXPORT_SOURCES
from jobs.ingest import (
    ExportFileError,
    count_by_partition,
    ingest_source,
    mark_duplicates,
    validate_export_lines,
)

DAY = date(2022, 10, 31)


def _lines(spark, *raws, utf8_valid=True, day=DAY):
    rows = [(day, "platform/x/part-00000.jsonl.gz", n, raw, utf8_valid) for n, raw in enumerate(raws, start=1)]
    return spark.createDataFrame(rows, EXPORT_LINE_SCHEMA)


def _reasons(spark, source, *raws):
    validated = validate_export_lines(_lines(spark, *raws), EXPORT_SOURCES[source])
    return [row.reason for row in validated.orderBy("line_number").collect()]


ASSIGNMENT = '"learner_id":"L1","experiment_id":"E","batch":2,"arm":"treatment","randomized_at":"2022-10-31","stratum":"s"'


@pytest.mark.parametrize(
    "raw, reason",
    [
        ("{" + ASSIGNMENT + "}", None),
        ("{" + ASSIGNMENT, "malformed_json"),
        ("{" + ASSIGNMENT + "}}", "malformed_json"),  # Spark alone would read the first object and keep it
        ("{" + ASSIGNMENT + "} trailing", "malformed_json"),
        ("[{" + ASSIGNMENT + "}]", "malformed_json"),
        ("{" + ASSIGNMENT.replace('"batch":2', '"batch":NaN') + "}", "malformed_json"),
        ("[1, 2]", "malformed_json"),
        ("null", "malformed_json"),
        ("42", "malformed_json"),
        ('{"learner_id":"L1"}', "missing_field:experiment_id"),
        ("{" + ASSIGNMENT.replace('"L1"', '""') + "}", "missing_field:learner_id"),
        ("{" + ASSIGNMENT.replace('"L1"', "null") + "}", "missing_field:learner_id"),
        ("{" + ASSIGNMENT.replace('"2022-10-31"', '"31/10/2022"') + "}", "bad_timestamp:randomized_at"),
        ("{" + ASSIGNMENT.replace('"2022-10-31"', '"2022-02-30"') + "}", "bad_timestamp:randomized_at"),
        # A line terminator at the end is another shape, though Spark's cast trims it.
        ("{" + ASSIGNMENT.replace('"2022-10-31"', '"2022-10-31\\n"') + "}", "bad_timestamp:randomized_at"),
        ("{" + ASSIGNMENT.replace('"batch":2', '"batch":"three"') + "}", "bad_type:batch"),
        ("{" + ASSIGNMENT.replace('"batch":2', '"batch":2.5') + "}", "bad_type:batch"),
        # The contract's types are strict: a number in a string is not a number.
        ("{" + ASSIGNMENT.replace('"batch":2', '"batch":"2"') + "}", "bad_type:batch"),
        ("{" + ASSIGNMENT.replace('"treatment"', '"placebo"') + "}", "bad_enum:arm"),
        ("{" + ASSIGNMENT.replace('"treatment"', '"Treatment "') + "}", "bad_enum:arm"),
        # The first failing rule wins: a missing field beats a bad date.
        ('{"experiment_id":"E","batch":2,"arm":"x","randomized_at":"bad","stratum":"s"}', "missing_field:learner_id"),
        ("{" + ASSIGNMENT + ',"unexpected_extra":1}', None),
    ],
)
def test_assignment_line_reason(spark, raw, reason):
    assert _reasons(spark, "experiment_assignments", raw) == [reason]


@pytest.mark.parametrize(
    "viewed_at, reason",
    [
        ("2022-10-31T14:05:09Z", None),
        ("2022-10-31T14:05:09.250+05:30", None),
        ("2022-10-31T14:05Z", None),
        ("2022-10-31T14:05-03:00", None),
        ("2022-10-31T14Z", "bad_timestamp:viewed_at"),
        ("2022-10-31T14:05:09", "bad_timestamp:viewed_at"),
        ("2022-13-45T10:00:00Z", "bad_timestamp:viewed_at"),
        ("2022-10-31", "bad_timestamp:viewed_at"),
        ("yesterday", "bad_timestamp:viewed_at"),
        # A line terminator at the end is another shape, though Spark's cast trims it (JSON escapes here).
        ("2022-10-31T14:05:09Z\\n", "bad_timestamp:viewed_at"),
        ("2022-10-31T14:05Z\\r\\n", "bad_timestamp:viewed_at"),
        ("2022-10-31T14:05:09+05:30\\u2028", "bad_timestamp:viewed_at"),
        ("2022-10-31T14:05:09Z\\u0085", "bad_timestamp:viewed_at"),
    ],
)
def test_timestamp_shapes(spark, viewed_at, reason):
    raw = f'{{"view_id":"V1","certificate_id":"C1","viewed_at":"{viewed_at}","referrer":null,"by_owner":false}}'
    assert _reasons(spark, "certificate_views", raw) == [reason]


@pytest.mark.parametrize(
    "viewed_at, instant_utc",
    [
        ("2022-10-31T14:05:09Z", datetime(2022, 10, 31, 14, 5, 9)),
        ("2022-10-31T14:05Z", datetime(2022, 10, 31, 14, 5)),
        ("2022-10-31T14:05+05:30", datetime(2022, 10, 31, 8, 35)),
        ("2022-10-31T01:00:00-03:00", datetime(2022, 10, 31, 4, 0)),
    ],
)
def test_timestamps_are_stored_in_utc(spark, viewed_at, instant_utc):
    raw = f'{{"view_id":"V1","certificate_id":"C1","viewed_at":"{viewed_at}","referrer":null,"by_owner":false}}'
    validated = validate_export_lines(_lines(spark, raw), EXPORT_SOURCES["certificate_views"])
    assert validated.select(F.date_format("viewed_at", "yyyy-MM-dd HH:mm:ss").alias("t")).first().t == \
        instant_utc.strftime("%Y-%m-%d %H:%M:%S")


@pytest.mark.parametrize(
    "by_owner, reason", [("true", None), ("false", None), ('"yes"', "bad_type:by_owner"), ("1", "bad_type:by_owner")]
)
def test_boolean_field(spark, by_owner, reason):
    raw = f'{{"view_id":"V1","certificate_id":"C1","viewed_at":"2022-10-31T00:00:00Z","by_owner":{by_owner}}}'
    assert _reasons(spark, "certificate_views", raw) == [reason]


def test_invalid_utf8_is_malformed(spark):
    validated = validate_export_lines(
        _lines(spark, '{"learner_id":"L\ufffd"}', utf8_valid=False), EXPORT_SOURCES["app_sessions"]
    )
    assert [r.reason for r in validated.collect()] == ["malformed_json"]


def test_optional_enum_allows_null_but_not_unknown(spark):
    base = '"learner_id":"L1","registered_at":"2020-01-01T00:00:00Z","updated_at":"2022-10-31T08:00:00Z"'
    raws = [
        "{" + base + ',"education_level":null,"gender":"female"}',
        "{" + base + ',"education_level":"expert degree"}',
        "{" + base + ',"gender":"unknown"}',
    ]
    assert _reasons(spark, "learners", *raws) == [None, "bad_enum:education_level", "bad_enum:gender"]


def test_typed_values_are_utc(spark):
    raw = '{"view_id":"V1","certificate_id":"C1","viewed_at":"2022-10-31T23:30:00-03:00","referrer":"","by_owner":true}'
    row = validate_export_lines(_lines(spark, raw), EXPORT_SOURCES["certificate_views"]).collect()[0]
    assert row.viewed_at == datetime(2022, 11, 1, 2, 30)
    assert row.by_owner is True and row.referrer == ""


def test_mark_duplicates_keeps_first_by_file_then_line(spark):
    view = '{"view_id":"V1","certificate_id":"C1","viewed_at":"2022-10-31T00:00:00Z","by_owner":false}'
    other = view.replace("V1", "V2")
    # an earlier, quarantined copy of V2's key (bad by_owner) must not make the valid V2 a duplicate
    bad_copy = other.replace('"by_owner":false', '"by_owner":"no"')
    rows = [
        (DAY, "platform/v/part-00000.jsonl.gz", 2, bad_copy, True),
        (DAY, "platform/v/part-00001.jsonl.gz", 1, view, True),
        (DAY, "platform/v/part-00000.jsonl.gz", 7, view, True),
        (DAY, "platform/v/part-00000.jsonl.gz", 8, other, True),
        (DAY, "platform/v/part-00000.jsonl.gz", 9, "{bad", True),
        (date(2022, 11, 1), "platform/v/part-00000.jsonl.gz", 1, view, True),
    ]
    lines = spark.createDataFrame(rows, EXPORT_LINE_SCHEMA)
    marked = mark_duplicates(validate_export_lines(lines, EXPORT_SOURCES["certificate_views"]), ("view_id",))
    assertDataFrameEqual(
        marked.select("dt", "source_file", "line_number", "status"),
        [
            (DAY, "platform/v/part-00000.jsonl.gz", 2, "bad_type:by_owner"),
            (DAY, "platform/v/part-00001.jsonl.gz", 1, "duplicate"),
            (DAY, "platform/v/part-00000.jsonl.gz", 7, "kept"),
            (DAY, "platform/v/part-00000.jsonl.gz", 8, "kept"),
            (DAY, "platform/v/part-00000.jsonl.gz", 9, "malformed_json"),
            # The same key on another day is not a duplicate within that day.
            (date(2022, 11, 1), "platform/v/part-00000.jsonl.gz", 1, "kept"),
        ],
        checkRowOrder=False,
    )
    counts = count_by_partition(marked)
    assert (counts[DAY].rows_in, counts[DAY].rows_kept, counts[DAY].duplicates) == (5, 2, 1)
    assert counts[DAY].quarantined == {"malformed_json": 1, "bad_type:by_owner": 1}
    assert counts[DAY].balances()


def _write_export(landing, source, day, lines, name="part-00000.jsonl.gz"):
    folder = landing / "platform" / source / f"dt={day.isoformat()}"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_bytes(gzip.compress(("\n".join(lines) + "\n").encode(), mtime=0))
    (folder / "_SUCCESS").touch()
    return folder / name


SESSION = '{"learner_id":"L%d","started_at":"2022-10-31T10:00:00Z","platform":"web"}'


def test_ingest_writes_bronze_and_quarantine_and_is_idempotent(spark, tmp_path):
    config = Config(landing=tmp_path / "landing", lake=tmp_path / "lake")
    _write_export(config.landing, "app_sessions", DAY, [SESSION % 2, SESSION % 1, SESSION % 1, "", "not json",
                                                          SESSION.replace("web", "tablet") % 3])
    first = ingest_source(spark, config, "app_sessions", [DAY])
    counts = first.counts[DAY]
    assert (counts.rows_in, counts.rows_kept, counts.duplicates) == (5, 2, 1)
    assert counts.quarantined == {"malformed_json": 1, "bad_enum:platform": 1}

    bronze = config.lake / "bronze" / "app_sessions" / "dt=2022-10-31"
    assert sorted(p.name for p in bronze.iterdir()) == ["part-00000.parquet"]
    table = spark.read.parquet(str(config.lake / "bronze" / "app_sessions"))
    assert [(r.learner_id, r.line_number) for r in table.orderBy("learner_id").collect()] == [("L1", 2), ("L2", 1)]
    quarantine = spark.read.parquet(str(config.lake / "quarantine" / "app_sessions"))
    assert sorted((r.line_number, r.reason) for r in quarantine.collect()) == [(5, "malformed_json"), (6, "bad_enum:platform")]

    before = bronze.joinpath("part-00000.parquet").read_bytes()
    again = ingest_source(spark, config, "app_sessions", [DAY])
    assert again.counts == first.counts
    assert bronze.joinpath("part-00000.parquet").read_bytes() == before
    assert spark.read.parquet(str(config.lake / "bronze" / "app_sessions")).count() == 2


def test_rerun_with_no_valid_rows_removes_stale_partition(spark, tmp_path):
    config = Config(landing=tmp_path / "landing", lake=tmp_path / "lake")
    _write_export(config.landing, "app_sessions", DAY, [SESSION % 1])
    ingest_source(spark, config, "app_sessions", [DAY])
    # The re-delivered export has a renamed column: every row is quarantined, none may survive from before.
    _write_export(config.landing, "app_sessions", DAY, [SESSION.replace("platform", "device") % 1])
    result = ingest_source(spark, config, "app_sessions", [DAY])
    assert result.counts[DAY].quarantined == {"missing_field:platform": 1}
    assert not (config.lake / "bronze" / "app_sessions" / "dt=2022-10-31").exists()


def test_corrupt_gzip_fails_naming_the_file_and_writes_nothing(spark, tmp_path):
    config = Config(landing=tmp_path / "landing", lake=tmp_path / "lake")
    _write_export(config.landing, "app_sessions", DAY, [SESSION % 1])
    broken = _write_export(config.landing, "app_sessions", DAY, [SESSION % n for n in range(2000)], "part-00001.jsonl.gz")
    broken.write_bytes(broken.read_bytes()[:-40])
    with pytest.raises(ExportFileError, match="platform/app_sessions/dt=2022-10-31/part-00001.jsonl.gz"):
        ingest_source(spark, config, "app_sessions", [DAY])
    assert not (config.lake / "bronze").exists()
    assert not any((config.lake / "_staging").glob("*")) if (config.lake / "_staging").exists() else True


def _inodes(table):
    return {p.relative_to(table): p.stat().st_ino for p in sorted(table.rglob("*.parquet"))}


def test_a_nightly_day_and_a_rerun_of_one_day_touch_exactly_that_day(spark, tmp_path):
    config = Config(landing=tmp_path / "landing", lake=tmp_path / "lake")
    days = [date(2022, 10, 29), date(2022, 10, 30), date(2022, 10, 31)]
    on = {day: SESSION.replace("2022-10-31", day.isoformat()) for day in days}
    for n, day in enumerate(days):
        _write_export(config.landing, "app_sessions", day, [on[day] % n])
    first = ingest_source(spark, config, "app_sessions", days[:2])  # the initial load: both days in one job
    assert first.days == days[:2]
    bronze = config.lake / "bronze" / "app_sessions"
    loaded = _inodes(bronze)
    assert sorted(str(p) for p in loaded) == ["dt=2022-10-29/part-00000.parquet", "dt=2022-10-30/part-00000.parquet"]

    ingest_source(spark, config, "app_sessions", days[2:])  # the nightly run: only the new day is written
    nightly = _inodes(bronze)
    assert {p: i for p, i in nightly.items() if p in loaded} == loaded
    assert set(nightly) - set(loaded) == {Path("dt=2022-10-31/part-00000.parquet")}

    _write_export(config.landing, "app_sessions", days[0], [on[days[0]] % 7, on[days[0]] % 8])  # re-delivered
    rerun = ingest_source(spark, config, "app_sessions", days[:1])
    assert rerun.counts[days[0]].rows_kept == 2
    after = _inodes(bronze)
    assert [p for p in after if after[p] != nightly[p]] == [Path("dt=2022-10-29/part-00000.parquet")]
