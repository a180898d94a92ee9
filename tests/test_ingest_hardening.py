"""Fault injection for ingestion (issue 17, items 2-6): each test plants one fault in a landing zone that was
ingested cleanly before, and checks the error that names it, the row accounting, and that bronze and
quarantine of the other days and sources are exactly what they were."""

from __future__ import annotations

import gzip
import json
import os
from datetime import date
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq
import pytest

from credsignal.core import lake
from credsignal.core.config import Config
from jobs import ingest, validate
from jobs.ingest import ExportFileError, IngestFailed

DAY1, DAY2 = date(2022, 10, 30), date(2022, 10, 31)
SOURCES = ["app_sessions", "certificate_views"]
SESSION = '{"learner_id":"L%d","started_at":"%sT10:00:00Z","platform":"web"}'
VIEW = '{"view_id":"V%d","certificate_id":"C1","viewed_at":"%sT09:00:00Z","referrer":null,"by_owner":false}'
TEMPLATES = {"app_sessions": SESSION, "certificate_views": VIEW}


def _write(landing: Path, source: str, day: date, lines: list[str], name: str = "part-00000.jsonl.gz") -> Path:
    folder = lake.landing_partition(landing, source, day)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_bytes(gzip.compress(("\n".join(lines) + "\n").encode(), mtime=0))
    (folder / lake.SUCCESS_MARKER).touch()
    return path


def _lake_files(config: Config) -> dict[str, bytes]:
    """Every bronze and quarantine file, by its path in the lake: the byte-level state analysts would read."""
    files = {}
    for layer in ("bronze", "quarantine"):
        root = config.lake / layer
        if root.is_dir():
            files |= {str(p.relative_to(config.lake)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}
    return files


def _of(files: dict[str, bytes], source: str, day: date | None = None) -> dict[str, bytes]:
    marker = f"/{source}/" + (lake.partition_name(day) + "/" if day else "")
    return {path: body for path, body in files.items() if marker in path}


@pytest.fixture
def ingested(spark, tmp_path):
    """Two sources, two days, three valid lines and one bad line a day, ingested once."""
    config = Config(landing=tmp_path / "landing", lake=tmp_path / "lake")
    for source, template in TEMPLATES.items():
        for day in (DAY1, DAY2):
            _write(config.landing, source, day, [template % (n, day) for n in range(3)] + ["not json"])
    ingest.run(spark, config, sources=SOURCES)
    return config, _lake_files(config)


def _report(config: Config, source: str, day: date) -> dict:
    return json.loads(lake.ingest_report(config.lake, source, day).read_text())


# ------------------------------------------------------------------------------------- 2. strict types


def test_types_looser_than_the_contract_are_quarantined_with_their_reason(spark, tmp_path):
    config = Config(landing=tmp_path / "landing", lake=tmp_path / "lake")
    view = '{"view_id":%s,"certificate_id":"C1","viewed_at":"2022-10-31T09:00:00Z","by_owner":%s}'
    _write(config.landing, "certificate_views", DAY2, [
        view % ('"V1"', "true"),
        view % ('"V2"', '"true"'),                      # a JSON string is not a boolean
        view % ('{"id":"V3"}', "false"),                # an object is not a string
        (view % ('"V4"', "false")).replace('"C1"', '["C1"]'),
    ])
    score = '{"learner_id":"L1","skill":"sql","score":%s,"measured_at":"%s"}'
    _write(config.landing, "skill_scores", DAY2, [
        score % ("0.5", "2022-10-31T08:00:00Z"),
        score % ('"1e999"', "2022-10-31T08:01:00Z"),   # a number in a string, and infinite
        score % ("1e999", "2022-10-31T08:02:00Z"),     # infinite as a JSON number
        score % ('"0.5"', "2022-10-31T08:03:00Z"),
        score % ("0.5", "9999-12-31T00:00:00Z"),       # a sentinel, not a time
        score % ("0.5", "1970-01-01T00:00:00Z"),       # before the plausible range
        score % ("0.5", "2022-11-02T00:00:00Z"),       # after the export day + 1
    ])
    assignment = '{"learner_id":"L%d","experiment_id":"E","batch":1,"arm":"control","randomized_at":"%s","stratum":"s"}'
    _write(config.landing, "experiment_assignments", DAY2, [assignment % (1, "2022-10-31"), assignment % (2, "9999-12-31")])

    results = {r.source: r for r in ingest.run(spark, config, sources=["certificate_views", "skill_scores",
                                                                        "experiment_assignments"])}

    def quarantined(source):
        frame = pd.read_parquet(lake.quarantine_table(config.lake, source))
        return sorted(zip(frame.line_number, frame.reason))

    assert quarantined("certificate_views") == [(2, "bad_type:by_owner"), (3, "bad_type:view_id"),
                                                (4, "bad_type:certificate_id")]
    assert quarantined("skill_scores") == [(2, "bad_type:score"), (3, "bad_type:score"), (4, "bad_type:score"),
                                           (5, "out_of_range:measured_at"), (6, "out_of_range:measured_at"),
                                           (7, "out_of_range:measured_at")]
    assert quarantined("experiment_assignments") == [(2, "out_of_range:randomized_at")]
    for source, kept in {"certificate_views": 1, "skill_scores": 1, "experiment_assignments": 1}.items():
        counts = results[source].counts[DAY2]
        assert counts.rows_kept == kept and counts.balances(), source
        assert _report(config, source, DAY2)["rows_in"] == counts.rows_in
    # What is kept reads back in pandas as what was sent.
    views = pd.read_parquet(lake.bronze_table(config.lake, "certificate_views"))
    assert views.by_owner.tolist() == [True] and views.view_id.tolist() == ["V1"]
    assignments = pd.read_parquet(lake.bronze_table(config.lake, "experiment_assignments"))
    assert [d.isoformat() for d in assignments.randomized_at] == ["2022-10-31"]


def test_the_plausible_range_is_configurable_from_the_environment(spark, tmp_path):
    environ = {"CREDSIGNAL_LANDING": str(tmp_path / "landing"), "CREDSIGNAL_LAKE": str(tmp_path / "lake"),
               "CREDSIGNAL_EARLIEST_PLAUSIBLE_TIME": "1960-01-01", "CREDSIGNAL_LATEST_PLAUSIBLE_LEAD_DAYS": "0"}
    config = Config.from_env(environ)
    assert (config.earliest_plausible_time, config.latest_plausible_lead_days) == (date(1960, 1, 1), 0)
    session = '{"learner_id":"L1","started_at":"%s","platform":"web"}'
    _write(config.landing, "app_sessions", DAY2, [session % "1970-01-01T00:00:00Z", session % "2022-11-01T00:30:00Z",
                                                  session % "2022-10-31T23:59:59Z"])
    [result] = ingest.run(spark, config, sources=["app_sessions"])
    assert result.counts[DAY2].quarantined == {"out_of_range:started_at": 1}
    assert result.counts[DAY2].rows_kept == 2


# ----------------------------------------------------------------------------------- 3. a 0-byte file


def test_an_empty_part_file_fails_its_day_naming_it(spark, ingested):
    config, before = ingested
    empty = lake.landing_partition(config.landing, "app_sessions", DAY2) / "part-00001.jsonl.gz"
    empty.write_bytes(b"")
    _write(config.landing, "app_sessions", DAY1, [SESSION % (n, DAY1) for n in range(5)])  # re-delivered, 5 rows

    with pytest.raises(IngestFailed, match="platform/app_sessions/dt=2022-10-31/part-00001.jsonl.gz "
                                           r"\(EOFError: empty file \(0 bytes\), not gzip\)") as failed:
        ingest.run(spark, config, sources=SOURCES)

    after = _lake_files(config)
    assert _of(after, "app_sessions", DAY2) == _of(before, "app_sessions", DAY2)   # the failing day: untouched
    assert _of(after, "certificate_views") == _of(before, "certificate_views")     # the other source: the same
    by_source = {r.source: r for r in failed.value.results}
    assert by_source["app_sessions"].days == [DAY1]
    assert by_source["app_sessions"].counts[DAY1].rows_kept == 5 == _report(config, "app_sessions", DAY1)["rows_kept"]
    assert pd.read_parquet(lake.bronze_table(config.lake, "app_sessions") / lake.partition_name(DAY1)).shape[0] == 5


def test_an_empty_export_day_is_a_gzip_of_no_lines(spark, tmp_path):
    config = Config(landing=tmp_path / "landing", lake=tmp_path / "lake")
    _write(config.landing, "app_sessions", DAY2, []).write_bytes(gzip.compress(b"", mtime=0))
    [result] = ingest.run(spark, config, sources=["app_sessions"])
    assert result.counts[DAY2].rows_in == 0


# ------------------------------------------------------------------------------- 4. a withdrawn export


def test_a_day_whose_success_marker_disappears_is_reported(spark, ingested):
    config, before = ingested
    (lake.landing_partition(config.landing, "app_sessions", DAY2) / lake.SUCCESS_MARKER).unlink()

    results = {r.source: r for r in ingest.run(spark, config, sources=SOURCES)}

    assert results["app_sessions"].withdrawn == [DAY2] and results["app_sessions"].days == [DAY1]
    assert "withdrawn_exports=2022-10-31" in results["app_sessions"].summary_line()
    assert results["certificate_views"].withdrawn == []
    assert _lake_files(config) == before  # bronze keeps the earlier partition; everything else re-ingested alike
    # The validate step shows it (warning: the data analysts see was ingested from an export since withdrawn).
    from credsignal.pipeline import run_facts

    facts = run_facts(config, as_of=DAY2)
    findings = validate.withdrawn_export_findings(facts.withdrawn_exports)
    assert [(f.table, f.check, f.severity, f.detail) for f in findings] == [
        ("bronze.app_sessions", "landing:withdrawn_exports", validate.WARNING, "2022-10-31")]


# ------------------------------------------------------------------------- 5. outside the landing zone


def test_a_part_file_linking_outside_the_landing_zone_is_refused(spark, ingested, tmp_path):
    config, before = ingested
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    secret = elsewhere / "other.jsonl.gz"
    secret.write_bytes(gzip.compress((SESSION % (99, DAY2) + "\nsecret line\n").encode(), mtime=0))
    planted = lake.landing_partition(config.landing, "app_sessions", DAY2) / "part-00009.jsonl.gz"
    planted.symlink_to(secret)

    with pytest.raises(IngestFailed, match=r"platform/app_sessions/dt=2022-10-31/part-00009.jsonl.gz "
                                           r"\(refused: resolves outside the landing zone\)") as failed:
        ingest.run(spark, config, sources=SOURCES)

    after = _lake_files(config)
    assert after == before
    assert not any(b"secret line" in body or b"L99" in body for body in after.values())
    assert [r.days for r in failed.value.results if r.source == "app_sessions"] == [[DAY1]]


def test_a_symlink_inside_the_landing_zone_is_read(spark, ingested):
    config, _ = ingested
    shared = config.landing / "shared-files" / "views.jsonl.gz"
    shared.parent.mkdir()
    shared.write_bytes(gzip.compress((VIEW % (7, DAY2)).encode(), mtime=0))
    (lake.landing_partition(config.landing, "certificate_views", DAY2) / "part-00001.jsonl.gz").symlink_to(shared)
    [result] = ingest.run(spark, config, sources=["certificate_views"])
    assert result.counts[DAY2].rows_kept == 4


def test_a_part_name_that_is_not_a_regular_file_is_refused_without_blocking(spark, ingested):
    config, before = ingested
    os.mkfifo(lake.landing_partition(config.landing, "certificate_views", DAY1) / "part-00001.jsonl.gz")
    with pytest.raises(IngestFailed, match=r"platform/certificate_views/dt=2022-10-30/part-00001.jsonl.gz "
                                           r"\(refused: is not a regular file\)"):
        ingest.run(spark, config, sources=SOURCES)
    assert _lake_files(config) == before


def test_a_crawl_file_linking_outside_the_landing_zone_is_refused(spark, tmp_path):
    from jobs.parse import parse_crawl

    config = Config(landing=tmp_path / "landing", lake=tmp_path / "lake")
    outside = tmp_path / "outside.jsonl.gz"
    outside.write_bytes(gzip.compress(b'{"profile_url":"https://www.linkedin.com/in/x","body":""}\n', mtime=0))
    folder = config.landing / "linkedin" / "crawl=2023-09"
    folder.mkdir(parents=True)
    (folder / "part-00000.jsonl.gz").symlink_to(outside)
    with pytest.raises(ExportFileError, match=r"linkedin/crawl=2023-09/part-00000.jsonl.gz "
                                              r"\(refused: resolves outside the landing zone\)"):
        parse_crawl(spark, config, "2023-09")
    assert not (config.lake / "silver").exists()


def test_a_lake_table_linking_outside_the_lake_is_refused(spark, ingested, tmp_path):
    config, before = ingested
    outside = tmp_path / "outside-bronze"
    outside.mkdir()
    bronze = lake.bronze_table(config.lake, "certificate_views")
    bronze.rename(tmp_path / "moved-away")
    bronze.symlink_to(outside)

    with pytest.raises(IngestFailed, match=r"certificate_views: refusing to write .*bronze/certificate_views"):
        ingest.run(spark, config, sources=SOURCES)

    assert list(outside.iterdir()) == []
    after = _lake_files(config)
    assert _of(after, "app_sessions") == _of(before, "app_sessions")
    assert _of(after, "quarantine/certificate_views") == _of(before, "quarantine/certificate_views")


# -------------------------------------------------------------------------- 6. a malformed dt folder


def test_a_malformed_partition_folder_fails_only_its_source_naming_it(spark, ingested):
    config, before = ingested
    folder = config.landing / "platform" / "app_sessions" / "dt=2023-13-45"
    folder.mkdir()
    (folder / lake.SUCCESS_MARKER).touch()
    _write(config.landing, "certificate_views", DAY2, [VIEW % (n, DAY2) for n in range(6)])  # re-delivered

    with pytest.raises(IngestFailed, match=r"app_sessions: source app_sessions: landing folder "
                                           r"platform/app_sessions/dt=2023-13-45 is not a dt=YYYY-MM-DD day") as failed:
        ingest.run(spark, config, sources=["app_sessions", "certificate_views"])

    after = _lake_files(config)
    assert _of(after, "app_sessions") == _of(before, "app_sessions")
    assert _of(after, "certificate_views", DAY1) == _of(before, "certificate_views", DAY1)
    [views] = failed.value.results
    assert views.source == "certificate_views" and views.counts[DAY2].rows_kept == 6 and views.counts[DAY2].balances()
    assert "certificate_views" not in str(failed.value)  # it did not fail


@pytest.mark.slow
def test_ingest_run_as_a_module_writes_what_the_in_process_run_wrote(ingested, tmp_path):
    """`python -m jobs.ingest` (the job's documented entry point) ships its functions to the Python workers
    pickled by reference, as the in-process run does."""
    import subprocess
    import sys

    config, in_process = ingested
    by_module = Config(landing=config.landing, lake=tmp_path / "lake-by-module")

    subprocess.run([sys.executable, "-m", "jobs.ingest", "--landing", str(config.landing), "--lake",
                    str(by_module.lake), "--spark-master", "local[1]"],
                   check=True, timeout=300, cwd=tmp_path,
                   env={**os.environ, "SPARK_LOCAL_IP": "127.0.0.1", "CREDSIGNAL_DRIVER_MEMORY": "1g"})

    # Another JVM writes the same rows in the same files; only the order parquet-mr lists a column's encodings in
    # (a hash set's) may differ, so the files are compared by their rows and footers' key-value metadata.
    written = _lake_files(by_module)
    assert sorted(written) == sorted(in_process)
    for path in written:
        ours, theirs = pq.read_table(by_module.lake / path), pq.read_table(config.lake / path)
        assert ours.equals(theirs) and ours.schema.metadata == theirs.schema.metadata, path
