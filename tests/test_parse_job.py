"""The parse job end to end on a small crawl: real guest page, failures, idempotence, corrupt files."""

from __future__ import annotations

import gzip
import json

import pytest
from pyspark.testing import assertDataFrameEqual

from credsignal.core import lake
from credsignal.core.config import Config
from jobs.ingest import ExportFileError
from jobs.parse import crawls_to_parse, parse_crawl, parse_crawl_files

AUTHWALL = "<html><head><title>Sign Up | LinkedIn</title></head><body><div class='authwall'>Join LinkedIn</div></body></html>"


def _write_crawl(landing, crawl_id, lines, name="part-00000.jsonl.gz"):
    folder = landing / "linkedin" / f"crawl={crawl_id}"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_bytes(gzip.compress(("\n".join(lines) + "\n").encode(), mtime=0))
    return path


def _record(url, body, status=200, content_type="text/html"):
    return json.dumps({"profile_url": url, "fetched_at": "2023-09-15T10:00:00Z", "http_status": status,
                       "content_type": content_type, "body": body})


@pytest.fixture
def crawl(shared_dir, tmp_path):
    page = (shared_dir / "linkedin_samples" / "guest_2023" / "guest_2023_en_credential-id_expires.html").read_text()
    config = Config(landing=tmp_path / "landing", lake=tmp_path / "lake")
    _write_crawl(config.landing, "2023-09", [
        _record("https://br.linkedin.com/in/Sample-One/", page),
        _record("https://www.linkedin.com/in/walled", AUTHWALL),
        _record("https://www.linkedin.com/in/gone", "<html><body>Page not found</body></html>", status=404),
        _record("https://www.linkedin.com/in/empty", ""),
        '{"profile_url": "https://www.linkedin.com/in/cut", "body": "<ht',
    ])
    return config


def _table(spark, config, name):
    return spark.read.parquet(str(config.lake / "silver" / name))


def test_parse_crawl_writes_silver_tables(spark, crawl):
    counts = parse_crawl(spark, crawl, "2023-09")
    assert sum(counts.values()) == 5
    assert counts["ok"] == 1 and counts["malformed_record"] == 1

    profiles = {r.profile_url_normalized: r for r in _table(spark, crawl, "profiles").collect()}
    sample = profiles["linkedin.com/in/sample-one"]
    assert (sample.status, sample.layout, sample.n_positions, sample.n_education, sample.n_certifications) == (
        "ok", "guest_v3", 5, 2, 12)
    assert sample.profile_length_chars > 0
    assert profiles["linkedin.com/in/walled"].status == "not_a_profile"
    assert profiles["linkedin.com/in/gone"].status == "not_a_profile"
    assert profiles["linkedin.com/in/empty"].status == "empty"

    positions = _table(spark, crawl, "profile_positions")
    assert positions.count() == 5
    assert positions.where("start_month is null and start is not null").count() == 0
    certifications = _table(spark, crawl, "profile_certifications")
    assert certifications.where("credential_id is not null").count() == 6

    failures = _table(spark, crawl, "profile_parse_failures")
    assert sorted(r.status for r in failures.collect()) == ["empty", "malformed_record", "not_a_profile", "not_a_profile"]
    # Silver tables never hold page bodies.
    for name in ("profiles", "profile_parse_failures"):
        assert not {"body", "raw"} & set(_table(spark, crawl, name).columns)


def test_parse_crawl_is_idempotent(spark, crawl):
    parse_crawl(spark, crawl, "2023-09")
    first = sorted(_table(spark, crawl, "profile_positions").collect())
    parse_crawl(spark, crawl, "2023-09")
    assert sorted(_table(spark, crawl, "profile_positions").collect()) == first


def test_corrupt_crawl_file_fails_naming_it(spark, crawl):
    bad = _write_crawl(crawl.landing, "2023-09", ["{}"] * 10, name="part-00001.jsonl.gz")
    bad.write_bytes(b"\x1f\x8b not really gzip")
    with pytest.raises(ExportFileError, match="linkedin/crawl=2023-09/part-00001.jsonl.gz"):
        parse_crawl(spark, crawl, "2023-09")
    assert not (crawl.lake / "silver").exists()


def test_only_new_or_redelivered_crawls_are_parsed_again(spark, crawl):
    assert crawls_to_parse(crawl) == ["2023-09"]
    parse_crawl(spark, crawl, "2023-09")
    assert crawls_to_parse(crawl) == []
    _write_crawl(crawl.landing, "2023-10", [_record("https://www.linkedin.com/in/late", "")])
    assert crawls_to_parse(crawl) == ["2023-10"]
    _write_crawl(crawl.landing, "2023-09", [_record("https://www.linkedin.com/in/again", "")], name="part-00001.jsonl.gz")
    assert crawls_to_parse(crawl) == ["2023-09", "2023-10"]


def test_record_fields_of_the_wrong_type_count_as_absent(spark, shared_dir, tmp_path):
    """A crawl record's JSON may hold anything: 1e999 (infinity) or 10**12 as the status, a list or a number as
    the content type, an object as the URL. Each such field is null, the page is still parsed, the job runs."""
    page = (shared_dir / "linkedin_samples" / "guest_2023" / "guest_2023_en_credential-id_expires.html").read_text()
    config = Config(landing=tmp_path / "landing", lake=tmp_path / "lake")
    odd_fields = [{"http_status": 1e999}, {"http_status": 10**12, "content_type": ["text/html"]},
                  {"content_type": 5, "fetched_at": 7}, {"http_status": True, "content_type": {"a": 1}}]
    lines = [json.dumps({"profile_url": f"https://www.linkedin.com/in/odd-{index}", "body": page, **fields})
             for index, fields in enumerate(odd_fields)]
    lines.append(json.dumps({"profile_url": {"url": "https://www.linkedin.com/in/x"}, "body": page}))
    _write_crawl(config.landing, "2023-11", lines)

    counts = parse_crawl(spark, config, "2023-11")

    assert counts == {"ok": 5}
    profiles = _table(spark, config, "profiles").collect()
    assert {(r.http_status, r.content_type, r.fetched_at, r.n_positions) for r in profiles} == {
        (None, "text/html", None, 5)}
    assert {r.profile_url for r in profiles} == {None, *(f"https://www.linkedin.com/in/odd-{i}" for i in range(4))}


@pytest.mark.parametrize("records_per_batch", [1, 2, 4])
def test_parsed_records_do_not_depend_on_the_arrow_batch_size(spark, crawl, records_per_batch):
    files = lake.crawl_files(crawl.landing, "2023-09")
    whole = parse_crawl_files(spark, crawl.landing, "2023-09", files, records_per_batch=100)
    assert whole.count() == 5
    assertDataFrameEqual(parse_crawl_files(spark, crawl.landing, "2023-09", files, records_per_batch=records_per_batch),
                         whole)


@pytest.mark.parametrize("line, reason", [
    ('{"body": ' + "[" * 100_000 + "]" * 100_000 + "}", "line is not JSON"),  # too deep for json
    ('{"body": "<html>"} trailing', "line is not JSON"),
    ('["<html></html>"]', "record has no string body"),
])
def test_a_crawl_line_that_is_not_a_record_is_malformed_and_never_crashes_the_job(line, reason):
    from jobs.parse import _parse_record

    record = _parse_record("2023-09", "part-00000.jsonl.gz", 1, line.encode("utf-8"))
    assert (record[9], record[10]) == ("malformed_record", reason)


@pytest.mark.slow
def test_parse_run_as_a_module_writes_what_the_in_process_run_wrote(spark, crawl, tmp_path):
    """`python -m jobs.parse` (the job's documented entry point) ships its functions to the Python workers
    pickled by reference, as the in-process run does."""
    import os
    import subprocess
    import sys
    from dataclasses import replace

    parse_crawl(spark, crawl, "2023-09")
    by_module = replace(crawl, lake=tmp_path / "lake-by-module")

    subprocess.run([sys.executable, "-m", "jobs.parse", "--landing", str(crawl.landing), "--lake",
                    str(by_module.lake), "--spark-master", "local[1]"], check=True, timeout=300, cwd=tmp_path,
                   env={**os.environ, "SPARK_LOCAL_IP": "127.0.0.1", "CREDSIGNAL_DRIVER_MEMORY": "1g"})

    for name in lake.SILVER_PROFILE_TABLES:
        assertDataFrameEqual(_table(spark, by_module, name), _table(spark, crawl, name))
