"""Parse job: crawled LinkedIn pages -> silver profile tables, one crawl partition at a time.

Pages are read and parsed on the executors (`parse_crawl_files`: one Python task per crawl file decompresses it
and parses its pages, streamed, never collected); the page bodies stop there: only the parsed records reach the
JVM, as Arrow. `split_profiles` turns the parsed records into the silver tables: `profiles` (one row per fetched
record), `profile_positions`, `profile_education`, `profile_certifications` and `profile_parse_failures` (status
and reason, never the raw page). Re-running a crawl overwrites exactly that crawl's partitions.
"""

from __future__ import annotations

import argparse
import json
import logging
import shutil
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from credsignal.core import lake
from credsignal.core.config import Config
from credsignal.core.contracts import PARSED_PROFILE_SCHEMA
from credsignal.core.storage import overwrite_partitions, write_json_atomically
from jobs.ingest import (
    UNREADABLE_FILE,
    UNREADABLE_FILE_LINE,
    ExportFileError,
    file_tasks,
    read_by_msgspec,
    read_file_line_bytes,
)

log = logging.getLogger(__name__)

PARSED_STATUSES = ("ok", "partial")
HTTP_OK = 200


def read_crawl_line(line: bytes) -> tuple[Any, str | None]:
    """A crawl line's JSON value, or None and the reason the line is a malformed record: it is not valid UTF-8,
    or not JSON as the standard library's json reads it (which refuses nesting deeper than about 1,000 levels).

    msgspec reads the line from its bytes in about a third of the CPU of decoding it and reading the text with
    json (0.21 ms against 0.66 ms per 184 KB page). Its value is taken when it is an object of scalars, which json
    reads to the same value. Anything else is read the way json alone reads it: a line msgspec refuses, and a
    nested one, since msgspec reads a few levels deeper than json (tests/test_ingest_fuzz.py holds the two
    readings to the same result on any bytes)."""
    value = read_by_msgspec(line)
    if isinstance(value, dict) and not any(isinstance(field, (dict, list)) for field in value.values()):
        return value, None
    return read_crawl_line_by_json(line)


def read_crawl_line_by_json(line: bytes) -> tuple[Any, str | None]:
    """read_crawl_line as the crawl contract defines it: the line decoded as UTF-8, then read by the standard
    library's json (slower)."""
    try:
        text = line.decode("utf-8")
    except UnicodeDecodeError:
        return None, "line is not valid UTF-8"
    try:
        return json.loads(text), None
    except (ValueError, RecursionError):  # a line nested too deep is a malformed record, not a failed task
        return None, "line is not JSON"


def _parse_record(crawl_id: str, source_file: str, line_number: int, line: bytes | str) -> tuple:
    """One row of PARSED_PROFILE_SCHEMA from a row of read_file_line_bytes: a crawl line, or the error of a file
    that could not be read."""
    from parsers.linkedin import parse_profile
    from parsers.profile_url import normalize_profile_url

    def failure(status: str, reason: str, record: dict | None = None) -> tuple:
        record = record or {}
        url = _string(record.get("profile_url"))
        return (crawl_id, source_file, line_number, url, normalize_profile_url(url), _timestamp(record.get("fetched_at")),
                _int(record.get("http_status")), _string(record.get("content_type")),
                None, status, reason, None, None, 0, 0, 0, 0, 0, 0, [], [], [])

    if line_number == UNREADABLE_FILE_LINE:
        return failure(UNREADABLE_FILE, line)
    record, malformed = read_crawl_line(line)
    if malformed:
        return failure("malformed_record", malformed)
    if not isinstance(record, dict) or not isinstance(record.get("body"), str):
        return failure("malformed_record", "record has no string body", record if isinstance(record, dict) else None)

    body = record["body"].encode("utf-8", errors="replace")
    content_type = _string(record.get("content_type")) or "text/html"
    parsed = parse_profile(body, content_type)
    status, reason = parsed["status"], parsed.get("reason")
    http_status = _int(record.get("http_status"))
    if http_status is not None and http_status != HTTP_OK and status in PARSED_STATUSES:
        # An error response that happens to look like a profile is still not this learner's profile.
        status, reason = "not_a_profile", f"http_{http_status}"
    lengths = parsed.get("profile_length_by_section") or {}
    url = _string(record.get("profile_url"))
    keep_sections = status in PARSED_STATUSES
    return (
        crawl_id, source_file, line_number, url, normalize_profile_url(url), _timestamp(record.get("fetched_at")),
        http_status, content_type, len(body), status, reason, parsed.get("layout"), parsed.get("language"),
        int(parsed.get("profile_length_chars") or 0),
        *(int(lengths.get(section) or 0) for section in ("about", "experience", "education", "certifications", "other")),
        [_position(p) for p in parsed["positions"]] if keep_sections else [],
        [_education(e) for e in parsed["education"]] if keep_sections else [],
        [_certification(c) for c in parsed["certifications"]] if keep_sections else [],
    )


def _position(p: dict) -> tuple:
    return (p.get("title"), p.get("company"), p.get("location"), p.get("start"), p.get("end"),
            bool(p.get("is_current")), int(p.get("length_chars") or 0))


def _education(e: dict) -> tuple:
    return (e.get("school"), e.get("degree"), e.get("field"), _year(e.get("start_year")), _year(e.get("end_year")))


def _certification(c: dict) -> tuple:
    return (c.get("name"), c.get("issuer"), c.get("issued"), c.get("expires"), c.get("credential_id"),
            c.get("credential_url"), c.get("credential_id_normalized"))


def _year(value) -> str | None:
    return None if value is None else str(value)


def _string(value) -> str | None:
    """A record field that must be a string: anything else (a number, a list, an object) counts as absent."""
    return value if isinstance(value, str) else None


def _int(value) -> int | None:
    """A record field for an IntegerType column: None unless it reads as an integer that fits 32 bits (JSON can
    hold 1e999, which is infinity, or 10**12)."""
    if isinstance(value, bool):
        return None
    try:
        number = int(value)
    except (TypeError, ValueError, OverflowError):
        return None
    return number if -2**31 <= number < 2**31 else None


def _timestamp(value) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    if parsed.tzinfo is None:
        return None
    return parsed.astimezone(timezone.utc).replace(tzinfo=None)


# Parsed records per Arrow batch: a batch holds no page body, so a few hundred records are a few hundred KB.
RECORDS_PER_BATCH = 500


def _parsed_records_of_files(records_per_batch: int):
    """The mapInArrow function of parse_crawl_files: each file task -> its parsed records (PARSED_PROFILE_SCHEMA).

    The file is decompressed and its pages parsed in the same Python worker (ingest's read_file_line_bytes, which
    also refuses files outside the landing root), so only the parsed records cross to the JVM, as Arrow."""

    def parse(batches: Iterator[Any]) -> Iterator[Any]:
        import pyarrow as pa
        from pyspark.sql.pandas.types import to_arrow_schema

        # Importing the parser here loads its lexicons once per task, not once per page.
        import parsers.linkedin  # noqa: F401

        # Timestamps are UTC wall times (_timestamp), read as such whatever the worker's local time zone.
        arrow_schema = to_arrow_schema(PARSED_PROFILE_SCHEMA, timezone="UTC")

        def arrow_batch(records: list[tuple]) -> Any:
            return pa.RecordBatch.from_arrays(
                [pa.array(values, type=f.type) for values, f in zip(zip(*records), arrow_schema)], schema=arrow_schema)

        for batch in batches:
            for task in zip(*(batch.column(i).to_pylist() for i in range(batch.num_columns))):
                records = []
                for line in read_file_line_bytes(task):
                    records.append(_parse_record(*line))
                    if len(records) == records_per_batch:
                        yield arrow_batch(records)
                        records = []
                if records:
                    yield arrow_batch(records)

    return parse


def parse_crawl_files(spark: SparkSession, landing: Path, crawl_id: str, files: Sequence[Path],
                      records_per_batch: int = RECORDS_PER_BATCH) -> DataFrame:
    """A crawl's files -> one parsed record per non-blank line (PARSED_PROFILE_SCHEMA), read and parsed on the
    executors; a file that cannot be read or is refused gives one record of status unreadable_file.

    One Spark task per file: a file's pages take seconds to parse, so the cores stay busy to the last file."""
    if not files:
        return spark.createDataFrame([], PARSED_PROFILE_SCHEMA)
    tasks = file_tasks(spark, landing, [(crawl_id, path) for path in files], PARSED_PROFILE_SCHEMA["crawl_id"],
                       slices=len(files))
    return tasks.mapInArrow(_parsed_records_of_files(records_per_batch), PARSED_PROFILE_SCHEMA)


def _month_start(column: str) -> F.Column:
    """"YYYY-MM" -> that month's first day; "YYYY" -> January of that year (precision kept separately)."""
    text = F.col(column)
    return (
        F.when(text.rlike(r"^\d{4}-\d{2}$"), F.concat(text, F.lit("-01")).try_cast("date"))
        .when(text.rlike(r"^\d{4}$"), F.concat(text, F.lit("-01-01")).try_cast("date"))
    )


def _precision(column: str) -> F.Column:
    text = F.col(column)
    return F.when(text.rlike(r"^\d{4}-\d{2}$"), "month").when(text.rlike(r"^\d{4}$"), "year")


@dataclass
class SilverProfiles:
    profiles: DataFrame
    profile_positions: DataFrame
    profile_education: DataFrame
    profile_certifications: DataFrame
    profile_parse_failures: DataFrame

    def tables(self) -> dict[str, DataFrame]:
        return dict(vars(self))


def split_profiles(parsed: DataFrame) -> SilverProfiles:
    """Parsed records -> the five silver tables (no page bodies, no names)."""
    key = ["crawl_id", "profile_url_normalized", "source_file", "line_number"]
    profiles = parsed.select(
        *key, "profile_url", "fetched_at", "http_status", "content_type", "body_bytes", "status", "reason",
        "layout", "language", "profile_length_chars", "length_about", "length_experience", "length_education",
        "length_certifications", "length_other",
        F.size("positions").alias("n_positions"),
        F.size("education").alias("n_education"),
        F.size("certifications").alias("n_certifications"),
    )
    positions = (
        parsed.select(*key, F.posexplode("positions").alias("position_index", "p"))
        .select(*key, "position_index", "p.*")
        .withColumn("start_month", _month_start("start"))
        .withColumn("start_precision", _precision("start"))
        .withColumn("end_month", _month_start("end"))
        .withColumn("end_precision", _precision("end"))
    )
    education = (
        parsed.select(*key, F.posexplode("education").alias("education_index", "e"))
        .select(*key, "education_index", "e.*")
        .withColumn("start_year", F.col("start_year").try_cast("int"))
        .withColumn("end_year", F.col("end_year").try_cast("int"))
    )
    certifications = parsed.select(*key, F.posexplode("certifications").alias("certification_index", "c")).select(
        *key, "certification_index", "c.*"
    )
    failures = parsed.where(~F.col("status").isin(*PARSED_STATUSES)).select(
        *key, "profile_url", "http_status", "content_type", "body_bytes", "status", "reason"
    )
    return SilverProfiles(profiles, positions, education, certifications, failures)


def parse_crawl(spark: SparkSession, config: Config, crawl_id: str) -> dict[str, int]:
    """Parse one crawl into the silver tables; returns the count of records per status."""
    lake.refuse_paths_outside(config.lake, [
        lake.staging_root(config.lake, f"parse-{crawl_id}"), lake.parse_report(config.lake, crawl_id),
        *(lake.silver_table(config.lake, name) for name in lake.SILVER_PROFILE_TABLES),
    ])
    parsed = parse_crawl_files(spark, config.landing, crawl_id, lake.crawl_files(config.landing, crawl_id)).cache()
    try:
        # The first action parses the crawl into the cache; the unreadable files are looked up only when there are.
        by_status = {row.status: row["count"] for row in parsed.groupBy("status").count().collect()}
        if UNREADABLE_FILE in by_status:
            broken = parsed.where(F.col("status") == UNREADABLE_FILE).select("source_file", "reason").collect()
            details = "; ".join(f"{row.source_file} ({row.reason})" for row in broken)
            raise ExportFileError(f"cannot read crawl file(s) of crawl {crawl_id}, nothing was written: {details}")
        staging = lake.staging_root(config.lake, f"parse-{crawl_id}-{uuid.uuid4().hex[:12]}")
        try:
            for name, table in split_profiles(parsed).tables().items():
                overwrite_partitions(
                    table, lake.silver_table(config.lake, name), "crawl_id", [crawl_id],
                    staging=staging, sort_by=["source_file", "line_number"],
                )
        finally:
            shutil.rmtree(staging, ignore_errors=True)
    finally:
        parsed.unpersist()
    log.info("parse crawl=%s: records=%d by status %s", crawl_id, sum(by_status.values()), by_status)
    report = lake.parse_report(config.lake, crawl_id)
    report.parent.mkdir(parents=True, exist_ok=True)
    body = {"crawl_id": crawl_id, "files": crawl_fingerprint(config, crawl_id), "by_status": by_status}
    temporary = report.with_name(report.name + ".tmp")
    temporary.write_text(json.dumps(body, indent=2, sort_keys=True) + "\n")
    temporary.replace(report)
    return by_status


def crawl_fingerprint(config: Config, crawl_id: str) -> list[list]:
    """(file name, size, mtime in ns) of a crawl's part files: a re-delivered crawl gets parsed again."""
    return [[path.name, path.stat().st_size, path.stat().st_mtime_ns] for path in lake.crawl_files(config.landing, crawl_id)]


def crawls_to_parse(config: Config) -> list[str]:
    """Crawls in the landing zone never parsed, or whose files changed since they were parsed."""
    pending = []
    for crawl_id in lake.crawl_ids(config.landing):
        report = lake.parse_report(config.lake, crawl_id)
        if not report.exists() or json.loads(report.read_text()).get("files") != crawl_fingerprint(config, crawl_id):
            pending.append(crawl_id)
    return pending


def run(spark: SparkSession, config: Config, crawls: Sequence[str] | None = None) -> dict[str, dict[str, int]]:
    return {crawl: parse_crawl(spark, config, crawl) for crawl in (crawls or lake.crawl_ids(config.landing))}


def main(argv: Sequence[str] | None = None) -> int:
    """spark-submit entry point: `python -m jobs.parse --landing L --lake K [--crawl ID ...]`."""
    from credsignal.core.spark import spark_session

    parser = argparse.ArgumentParser(prog="jobs.parse")
    parser.add_argument("--landing", type=Path)
    parser.add_argument("--lake", type=Path)
    parser.add_argument("--crawl", action="append")
    parser.add_argument("--spark-master")
    parser.add_argument("--result", type=Path, help="write each crawl's records by status here as JSON")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    config = Config.from_env(landing=args.landing, lake=args.lake, spark_master=args.spark_master)
    parsed = run(spark_session(config, app_name="credsignal-parse"), config, args.crawl)
    for crawl, counts in parsed.items():
        print(f"crawl {crawl}: {counts}")
    if args.result:
        write_json_atomically(args.result, parsed)
    return 0


if __name__ == "__main__":
    # The imported module's main, not this __main__ copy's: the functions handed to Spark are then pickled by
    # reference to jobs.parse, as in-process, not by value with this module's globals (see jobs.ingest's).
    from jobs import parse

    raise SystemExit(parse.main())
