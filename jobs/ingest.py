"""Bronze ingestion: platform export lines -> typed bronze rows + quarantined rows, one job per source.

`read_export_lines` decompresses the export files on the executors and keeps every line's file and number.
`validate_export_lines` and `mark_duplicates` are pure DataFrame transforms derived from the source's
StructType (credsignal.schemas). `run` reads, transforms, checks the row accounting, and commits each day
partition of bronze and quarantine atomically (credsignal.storage). The contract: docs/landing_contract.md.
"""

from __future__ import annotations

import argparse
import gzip
import json
import logging
import shutil
import uuid
import zlib
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import pandas as pd
from pyspark.sql import Column, DataFrame, SparkSession, Window
from pyspark.sql import functions as F
from pyspark.sql.types import (
    BooleanType,
    DateType,
    DoubleType,
    IntegerType,
    StringType,
    StructField,
    StructType,
    TimestampType,
)

from credsignal import lake
from credsignal.config import Config
from credsignal.schemas import EXPORT_LINE_SCHEMA, EXPORT_SOURCES, ExportSource, bronze_schema
from credsignal.storage import overwrite_partitions

log = logging.getLogger(__name__)

# A line number no real line has: the reader emits it, with the error in `raw`, for a file it cannot read.
UNREADABLE_FILE_LINE = 0
KEPT, DUPLICATE = "kept", "duplicate"

_TIMESTAMP_SHAPE = r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:\d{2})$"
_DATE_SHAPE = r"^\d{4}-\d{2}-\d{2}$"
_INTEGER_SHAPE = r"^-?\d+$"
_NUMBER_SHAPE = r"^-?\d+(\.\d+)?([eE][+-]?\d+)?$"
_CORRUPT_RECORD = "_corrupt_record"


class ExportFileError(RuntimeError):
    """An export file that cannot be read (corrupt or truncated gzip): the partition is not ingested."""


@dataclass
class PartitionCounts:
    rows_in: int = 0
    rows_kept: int = 0
    duplicates: int = 0
    quarantined: dict[str, int] = field(default_factory=dict)

    @property
    def rows_quarantined(self) -> int:
        return sum(self.quarantined.values())

    def balances(self) -> bool:
        return self.rows_in == self.rows_kept + self.rows_quarantined + self.duplicates


@dataclass
class IngestResult:
    source: str
    days: list[date]
    counts: dict[date, PartitionCounts]

    def total(self) -> PartitionCounts:
        total = PartitionCounts()
        for counts in self.counts.values():
            total.rows_in += counts.rows_in
            total.rows_kept += counts.rows_kept
            total.duplicates += counts.duplicates
            for reason, n in counts.quarantined.items():
                total.quarantined[reason] = total.quarantined.get(reason, 0) + n
        return total

    def summary_line(self) -> str:
        total = self.total()
        return (
            f"ingest {self.source}: {len(self.days)} day(s), rows_in={total.rows_in} kept={total.rows_kept} "
            f"quarantined={total.rows_quarantined} duplicates={total.duplicates}"
        )


# ---------------------------------------------------------------------------------------------- reading


def _read_file_lines(task: tuple[Any, str, str]) -> Iterator[tuple]:
    partition, relative_name, absolute_path = task
    try:
        with gzip.open(absolute_path, "rb") as handle:
            lines = handle.read().split(b"\n")
    except (OSError, EOFError, zlib.error) as error:
        yield (partition, relative_name, UNREADABLE_FILE_LINE, f"{type(error).__name__}: {error}", False)
        return
    for number, line in enumerate(lines, start=1):
        line = line.rstrip(b"\r")
        if not line.strip():
            continue
        try:
            yield (partition, relative_name, number, line.decode("utf-8"), True)
        except UnicodeDecodeError:
            yield (partition, relative_name, number, line.decode("utf-8", errors="replace"), False)


def read_jsonl_lines(
    spark: SparkSession, landing: Path, files: Sequence[tuple[Any, Path]], schema: StructType
) -> DataFrame:
    """One row per non-blank line of the given gzipped JSON-lines files, decompressed on the executors.

    `files` pairs each file with its partition value; `schema` is (partition, source_file, line_number, raw,
    utf8_valid), e.g. EXPORT_LINE_SCHEMA. A file that cannot be decompressed yields one row with line number
    UNREADABLE_FILE_LINE and the error in `raw` (see `unreadable_files`).
    """
    tasks = [(partition, str(path.relative_to(landing)), str(path.resolve())) for partition, path in files]
    if not tasks:
        return spark.createDataFrame([], schema)
    slices = max(1, min(len(tasks), spark.sparkContext.defaultParallelism * 4))
    rows = spark.sparkContext.parallelize(tasks, slices).flatMap(_read_file_lines)
    return spark.createDataFrame(rows, schema)


def read_export_lines(spark: SparkSession, landing: Path, source: str, days: Sequence[date]) -> DataFrame:
    """One row per non-blank line of the source's export files for `days` (EXPORT_LINE_SCHEMA)."""
    files = [(day, path) for day in days for path in lake.export_files(landing, source, day)]
    return read_jsonl_lines(spark, landing, files, EXPORT_LINE_SCHEMA)


def unreadable_files(lines: DataFrame) -> list[tuple[str, str]]:
    """(file, error) for every export file the reader could not decompress."""
    bad = lines.where(F.col("line_number") == UNREADABLE_FILE_LINE).select("source_file", "raw")
    return sorted((row.source_file, row.raw) for row in bad.collect())


# ------------------------------------------------------------------------------------------- validating


def _text_schema(source: ExportSource) -> StructType:
    """Every field read as text, so a wrong type becomes a quarantine reason instead of a silent null."""
    fields = [StructField(f.name, StringType()) for f in source.schema.fields]
    return StructType([*fields, StructField(_CORRUPT_RECORD, StringType())])


def _with_seconds(text: Column) -> Column:
    """ISO-8601 allows "2022-10-31T14:05Z"; Spark's cast does not, so give minute-only times their ":00"."""
    return F.regexp_replace(text, r"^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2})(Z|[+-]\d{2}:\d{2})$", "$1:00$2")


def _typed(text: Column, data_type) -> Column:
    if isinstance(data_type, BooleanType):
        return F.when(text == "true", True).when(text == "false", False)
    if isinstance(data_type, TimestampType):
        return _with_seconds(text).try_cast(data_type)
    if isinstance(data_type, (DateType, IntegerType, DoubleType)):
        return text.try_cast(data_type)
    return text


def _is_well_formed(text: Column, data_type) -> Column:
    if isinstance(data_type, TimestampType):
        return text.rlike(_TIMESTAMP_SHAPE) & _with_seconds(text).try_cast(data_type).isNotNull()
    if isinstance(data_type, DateType):
        return text.rlike(_DATE_SHAPE) & text.try_cast(data_type).isNotNull()
    if isinstance(data_type, IntegerType):
        return text.rlike(_INTEGER_SHAPE) & text.try_cast(data_type).isNotNull()
    if isinstance(data_type, DoubleType):
        return text.rlike(_NUMBER_SHAPE) & text.try_cast(data_type).isNotNull()
    if isinstance(data_type, BooleanType):
        return text.isin("true", "false")
    return F.lit(True)


def _reject_constant(name: str) -> None:
    raise ValueError(f"{name} is not JSON")


def _is_one_json_object(text: str | None) -> bool:
    try:
        return isinstance(json.loads(text, parse_constant=_reject_constant), dict)
    except (TypeError, ValueError):
        return False


def _strict_json_objects(raw: pd.Series) -> pd.Series:
    return raw.map(_is_one_json_object).astype(bool)


def is_one_json_object(raw: Column) -> Column:
    """Strict JSON: Spark's from_json reads the first object of `{...}}` or `{...} junk` and ignores the rest."""
    return F.pandas_udf(_strict_json_objects, BooleanType())(raw)


def quarantine_reason(parsed: Column, utf8_valid: Column, source: ExportSource, raw: Column | None = None) -> Column:
    """The first failing rule, in the contract's order; null when the line is valid."""
    malformed = ~utf8_valid | parsed[_CORRUPT_RECORD].isNotNull()
    if raw is not None:
        malformed = malformed | ~is_one_json_object(raw)
    rules: list[tuple[Column, str]] = [(malformed, "malformed_json")]
    fields = source.schema.fields
    rules += [
        (parsed[f.name].isNull() | (parsed[f.name] == ""), f"missing_field:{f.name}")
        for f in fields
        if not f.nullable
    ]
    temporal = (TimestampType, DateType)
    rules += [
        (parsed[f.name].isNotNull() & ~_is_well_formed(parsed[f.name], f.dataType), f"bad_timestamp:{f.name}")
        for f in fields
        if isinstance(f.dataType, temporal)
    ]
    rules += [
        (parsed[f.name].isNotNull() & ~_is_well_formed(parsed[f.name], f.dataType), f"bad_type:{f.name}")
        for f in fields
        if isinstance(f.dataType, (IntegerType, DoubleType, BooleanType))
    ]
    rules += [
        (parsed[f.name].isNotNull() & ~parsed[f.name].isin(*f.metadata["allowed"]), f"bad_enum:{f.name}")
        for f in fields
        if f.metadata.get("allowed")
    ]
    return F.coalesce(*[F.when(condition, F.lit(reason)) for condition, reason in rules])


def validate_export_lines(lines: DataFrame, source: ExportSource) -> DataFrame:
    """Type every line against the source schema and give each rejected line its quarantine `reason`.

    Output: the schema's typed fields, lineage (source_file, line_number), raw, reason, dt.
    """
    parsed = F.from_json(
        "raw", _text_schema(source), {"mode": "PERMISSIVE", "columnNameOfCorruptRecord": _CORRUPT_RECORD}
    )
    with_json = lines.where(F.col("line_number") != UNREADABLE_FILE_LINE).withColumn("_json", parsed)
    json_col = F.col("_json")
    typed = [_typed(json_col[f.name], f.dataType).alias(f.name) for f in source.schema.fields]
    return with_json.select(
        *typed,
        "source_file",
        "line_number",
        "raw",
        quarantine_reason(json_col, F.col("utf8_valid"), source, F.col("raw")).alias("reason"),
        "dt",
    )


def mark_duplicates(validated: DataFrame, natural_key: Sequence[str]) -> DataFrame:
    """Add `status`: the quarantine reason, or "duplicate" for a valid row whose key was seen earlier that day
    (by file, then line) in another valid row, or "kept". A quarantined line never makes a valid one a duplicate."""
    first_seen = Window.partitionBy("dt", F.col("reason").isNull(), *natural_key).orderBy("source_file", "line_number")
    valid_rank = F.when(F.col("reason").isNull(), F.row_number().over(first_seen))
    return validated.withColumn(
        "status",
        F.when(F.col("reason").isNotNull(), F.col("reason"))
        .when(valid_rank == 1, F.lit(KEPT))
        .otherwise(F.lit(DUPLICATE)),
    )


def count_by_partition(marked: DataFrame) -> dict[date, PartitionCounts]:
    counts: dict[date, PartitionCounts] = {}
    for row in marked.groupBy("dt", "status").count().collect():
        partition = counts.setdefault(row.dt, PartitionCounts())
        partition.rows_in += row["count"]
        if row.status == KEPT:
            partition.rows_kept += row["count"]
        elif row.status == DUPLICATE:
            partition.duplicates += row["count"]
        else:
            partition.quarantined[row.status] = row["count"]
    return counts


# ------------------------------------------------------------------------------------------------- run


def ingest_source(spark: SparkSession, config: Config, source_name: str, days: Sequence[date]) -> IngestResult:
    """Ingest the given export days of one source into bronze and quarantine; returns the row accounting."""
    source = EXPORT_SOURCES[source_name]
    days = sorted(set(days))
    lines = read_export_lines(spark, config.landing, source_name, days).cache()
    try:
        broken = unreadable_files(lines)
        if broken:
            details = "; ".join(f"{name} ({error})" for name, error in broken)
            raise ExportFileError(
                f"cannot read export file(s) of {source_name}, nothing was written for this source: {details}"
            )
        marked = mark_duplicates(validate_export_lines(lines, source), source.natural_key).cache()
        counts = count_by_partition(marked)
        for day in days:
            counts.setdefault(day, PartitionCounts())
        unbalanced = [day for day, c in counts.items() if not c.balances()]
        if unbalanced:
            raise RuntimeError(f"row accounting does not balance for {source_name} on {unbalanced}")

        staging = lake.staging_root(config.lake, f"ingest-{source_name}-{uuid.uuid4().hex[:12]}")
        try:
            bronze_columns = [f.name for f in bronze_schema(source).fields]
            overwrite_partitions(
                marked.where(F.col("status") == KEPT).select(*bronze_columns),
                lake.bronze_table(config.lake, source_name),
                "dt",
                days,
                staging=staging,
                sort_by=[*source.natural_key, "source_file", "line_number"],
            )
            overwrite_partitions(
                marked.where(~F.col("status").isin(KEPT, DUPLICATE)).select(
                    "source_file", "line_number", "raw", "reason", "dt"
                ),
                lake.quarantine_table(config.lake, source_name),
                "dt",
                days,
                staging=staging,
                sort_by=["source_file", "line_number"],
            )
        finally:
            shutil.rmtree(staging, ignore_errors=True)
        marked.unpersist()
    finally:
        lines.unpersist()

    result = IngestResult(source_name, days, counts)
    _write_reports(config.lake, result)
    log.info(result.summary_line())
    return result


def _write_reports(lake_root: Path, result: IngestResult) -> None:
    for day, counts in result.counts.items():
        path = lake.ingest_report(lake_root, result.source, day)
        path.parent.mkdir(parents=True, exist_ok=True)
        body = {"source": result.source, "dt": day.isoformat(), **asdict(counts)}
        body["rows_quarantined"] = counts.rows_quarantined
        path.write_text(json.dumps(body, indent=2, sort_keys=True) + "\n")


def ingestible_days(config: Config, source: str, since: date | None = None, until: date | None = None) -> list[date]:
    """Complete export days of a source within [since, until] (until defaults to the config's as_of)."""
    until = until or config.as_of
    return [d for d in lake.complete_export_days(config.landing, source, until=until) if since is None or d >= since]


def run(spark: SparkSession, config: Config, *, sources: Sequence[str] | None = None,
        since: date | None = None, until: date | None = None) -> list[IngestResult]:
    """Ingest every complete export day in [since, until] of each source."""
    results = []
    for source in sources or lake.PLATFORM_SOURCES:
        days = ingestible_days(config, source, since, until)
        results.append(ingest_source(spark, config, source, days))
    return results


def main(argv: Sequence[str] | None = None) -> int:
    """spark-submit entry point: `python -m jobs.ingest --landing L --lake K [--source S] [--since D] [--until D]`."""
    from credsignal.spark import spark_session

    parser = argparse.ArgumentParser(prog="jobs.ingest")
    parser.add_argument("--landing", type=Path)
    parser.add_argument("--lake", type=Path)
    parser.add_argument("--source", action="append", choices=lake.PLATFORM_SOURCES)
    parser.add_argument("--since", type=date.fromisoformat)
    parser.add_argument("--until", type=date.fromisoformat)
    parser.add_argument("--spark-master")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    config = Config.from_env(landing=args.landing, lake=args.lake, spark_master=args.spark_master)
    spark = spark_session(config, app_name="credsignal-ingest")
    for result in run(spark, config, sources=args.source, since=args.since, until=args.until):
        print(result.summary_line())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
