"""Bronze ingestion: platform export lines -> typed bronze rows + quarantined rows, one job per source.

`read_export_lines` decompresses the export files on the executors and keeps every line's file and number.
`validate_export_lines` and `mark_duplicates` are pure DataFrame transforms derived from the source's
StructType (credsignal.core.contracts). `ingest_source` takes all pending days of a source in one Spark job: one
pass reads, validates and deduplicates their lines into the cache and counts them per day (an unreadable file
shows in the same counts), then one staged write of bronze and one of quarantine partitioned by dt, and each
day's folder is committed by rename (credsignal.core.storage). The contract: docs/landing_contract.md.

Why a staged write committed day by day, not Spark's dynamic partition overwrite: dynamic overwrite replaces only
the days that have rows, so a rerun whose day has no valid row left would keep yesterday's stale bronze; its
part files are named by job, so a rerun of the same input would not give the same files; and it stages inside
the live table's folder, where a crashed job leaves its scratch, instead of in the run's own staging folder.

The line validator is strict where Spark's reader is lenient: `json_field_kinds` (pure Python) checks that a
line is exactly one JSON object and gives each field's JSON type, so `"true"` is not a boolean nor `"2"` an
integer. It runs in the reader's Python worker, on each line as it is decompressed, reading it with msgspec
and leaving what msgspec refuses to the standard library's json, whose reading is the contract's; a typical
line (the source's fields and no other, each of a kind its type accepts) is read in one msgspec decoding into a
Struct of those kinds. Spark's JSON reader (from_json, PERMISSIVE) then gives each field's text. Neither Spark's
reader alone (it reads `{...}}` and `"true"` as valid) nor a fast parser alone (msgspec and orjson reject a
whole line for a 1e999 in any field, where the contract says bad_type of that field) keeps every quarantine
reason. Files are read only when they are regular files inside the landing root (lake.refused_landing_file).
"""

from __future__ import annotations

import argparse
import gzip
import io
import json
import logging
import math
import os
import shutil
import stat
import typing
import uuid
import zlib
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import msgspec
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

from credsignal.core import lake
from credsignal.core.config import Config
from credsignal.core.contracts import EXPORT_LINE_SCHEMA, EXPORT_SOURCES, ExportSource, bronze_schema
from credsignal.core.spark_submit import SparkJobError
from credsignal.core.storage import overwrite_partitions, write_json_atomically

log = logging.getLogger(__name__)

# A line number no real line has: the reader emits it, with the error in `raw`, for a file it cannot read.
UNREADABLE_FILE_LINE = 0
# The reason validate_export_lines gives that row.
UNREADABLE_FILE = "unreadable_file"
KEPT, DUPLICATE = "kept", "duplicate"

# Anchored with \z, not $: Java's $ also matches before a line terminator that ends the text, and Spark's casts
# trim it, so "2022-10-31\n" would pass as a date.
_TIMESTAMP_SHAPE = r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:\d{2})\z"
_DATE_SHAPE = r"^\d{4}-\d{2}-\d{2}\z"
_INTEGER_SHAPE = r"^-?\d+\z"
_NUMBER_SHAPE = r"^-?\d+(\.\d+)?([eE][+-]?\d+)?\z"
_CORRUPT_RECORD = "_corrupt_record"


class ExportFileError(RuntimeError):
    """An export file that cannot be read (corrupt, truncated or empty gzip) or is refused (outside the landing
    root, not a regular file): its partition is not ingested. `result` holds the days that were."""

    def __init__(self, message: str, *, result: "IngestResult | None" = None) -> None:
        super().__init__(message)
        self.result = result


class IngestFailed(RuntimeError):
    """At least one source failed; every other source was ingested. The message names each failure, `results`
    holds the row accounting of what was ingested."""

    def __init__(self, message: str, *, results: "list[IngestResult]") -> None:
        super().__init__(message)
        self.results = results


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
    # Days in bronze whose landing export lost its _SUCCESS marker (see withdrawn_export_days).
    withdrawn: list[date] = field(default_factory=list)

    def total(self) -> PartitionCounts:
        total = PartitionCounts()
        for counts in self.counts.values():
            total.rows_in += counts.rows_in
            total.rows_kept += counts.rows_kept
            total.duplicates += counts.duplicates
            for reason, n in counts.quarantined.items():
                total.quarantined[reason] = total.quarantined.get(reason, 0) + n
        return total

    def to_json(self) -> dict:
        return {"source": self.source, "days": [day.isoformat() for day in self.days],
                "counts": {day.isoformat(): asdict(counts) for day, counts in self.counts.items()},
                "withdrawn": [day.isoformat() for day in self.withdrawn]}

    @classmethod
    def from_json(cls, payload: Mapping) -> "IngestResult":
        return cls(source=payload["source"], days=[date.fromisoformat(day) for day in payload["days"]],
                   counts={date.fromisoformat(day): PartitionCounts(**counts)
                           for day, counts in payload["counts"].items()},
                   withdrawn=[date.fromisoformat(day) for day in payload["withdrawn"]])

    def summary_line(self) -> str:
        total = self.total()
        return (
            f"ingest {self.source}: {len(self.days)} day(s), rows_in={total.rows_in} kept={total.rows_kept} "
            f"quarantined={total.rows_quarantined} duplicates={total.duplicates}"
            + (f" withdrawn_exports={','.join(d.isoformat() for d in self.withdrawn)}" if self.withdrawn else "")
        )


# ---------------------------------------------------------------------------------------------- reading


def file_line_bytes(task: tuple[Any, str, str, str]) -> tuple[list[int], list[bytes]] | str:
    """A file task of file_tasks -> (line numbers, lines) of its non-blank lines, as bytes without their line
    breaks, or the error as text for a file refused or unreadable."""
    _, _, path, landing = task
    refusal = lake.refused_landing_file(Path(landing), Path(path))
    if refusal is not None:
        return f"refused: {refusal}"
    try:
        data = _read_gzip(path)
    except (OSError, EOFError, zlib.error) as error:
        return f"{type(error).__name__}: {error}"
    lines = data.split(b"\n")
    numbers = [number for number, line in enumerate(lines, start=1) if line.strip()]
    if len(numbers) < len(lines):
        lines = [lines[number - 1] for number in numbers]
    if b"\r" in data:
        lines = [line.rstrip(b"\r") for line in lines]
    return numbers, lines


def read_file_line_bytes(task: tuple[Any, str, str, str]) -> Iterator[tuple]:
    """A file task of file_tasks -> (partition, source_file, line_number, line) per non-blank line, as bytes
    without its line break, or one row with line number UNREADABLE_FILE_LINE and the error as text for a file
    refused or unreadable."""
    partition, relative_name = task[0], task[1]
    read = file_line_bytes(task)
    if isinstance(read, str):
        yield (partition, relative_name, UNREADABLE_FILE_LINE, read)
        return
    for number, line in zip(*read):
        yield (partition, relative_name, number, line)


def _texts_of(lines: list[bytes]) -> tuple[list[str], list[bool]]:
    """_text_of each line, with one decoding of them all: a line break is never part of a UTF-8 sequence, so
    each line decodes alone as it does among the others. Only a line whose text holds the replacement character
    (from a lossy decoding, or its own) is decoded again, alone, to learn whether its bytes were valid."""
    texts = b"\n".join(lines).decode("utf-8", errors="replace").split("\n")
    utf8_valid = [True] * len(texts)
    for index in [index for index, text in enumerate(texts) if "\ufffd" in text]:
        texts[index], utf8_valid[index] = _text_of(lines[index])
    return texts, utf8_valid


def _text_of(line: bytes) -> tuple[str, bool]:
    """The line as text and whether its bytes were valid UTF-8 (if not, the text is a lossy decoding)."""
    try:
        return line.decode("utf-8"), True
    except UnicodeDecodeError:
        return line.decode("utf-8", errors="replace"), False


def _read_gzip(path: str) -> bytes:
    """The decompressed bytes of a regular gzip file. O_NOFOLLOW and O_NONBLOCK, because the file may have been
    swapped for a symlink or a FIFO since it was checked; a 0-byte file is not gzip (an empty export is a gzip
    of no lines)."""
    descriptor = os.open(os.path.realpath(path), os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    with os.fdopen(descriptor, "rb") as raw:
        status = os.fstat(raw.fileno())
        if not stat.S_ISREG(status.st_mode):
            raise OSError("not a regular file")
        if status.st_size == 0:
            raise EOFError("empty file (0 bytes), not gzip")
        return gunzip(raw.read())


def gunzip(compressed: bytes) -> bytes:
    """The decompressed bytes of gzip data (every member), or the standard library's error for data it refuses.

    ISA-L (`isal`) decompresses in about half the CPU of zlib, which matters for the crawl's 1.2 GB. For damaged
    data it raises other errors, with other wording, and for a few kinds of damage another error type than zlib's.
    So data that ISA-L refuses is read again by the standard library, and a bad file still fails with the reason
    it always gave."""
    from isal import igzip

    try:
        return igzip.decompress(compressed)
    except Exception:  # noqa: BLE001  (ISA-L's errors are not zlib's; the standard library decides what is raised)
        with gzip.GzipFile(fileobj=io.BytesIO(compressed), mode="rb") as handle:
            return handle.read()


_TASK_FIELDS = ("source_file", "path", "landing")


def _lines_of_files(schema: StructType, kinds_of: ExportSource | None):
    """The mapInArrow function of read_jsonl_lines: each file task -> one Arrow batch of its lines (`schema`).

    With `kinds_of`, each line also gets its JSON kind bits (json_kind_bits) for that source's fields, computed here
    while the line is in Python anyway, so validation needs no second round trip of every line through a Python
    worker. The batch is built column by column: a file's day and name once, its lines as one array of bytes
    checked as UTF-8 by Arrow, and Python's decoding only for a file with a line that is not UTF-8."""

    def read(batches: Iterator[Any]) -> Iterator[Any]:
        import pyarrow as pa
        from pyspark.sql.pandas.types import to_arrow_schema

        arrow_schema = to_arrow_schema(schema)
        kind_bits = None if kinds_of is None else _kind_bits_of(kinds_of)
        for batch in batches:
            for task in zip(*(batch.column(i).to_pylist() for i in range(batch.num_columns))):
                yield _file_batch(task, arrow_schema, kind_bits)

    return read


def _file_batch(task: tuple[Any, str, str, str], arrow_schema: Any,
                kind_bits: Callable[[str | bytes | None], int] | None) -> Any:
    """One file task's Arrow batch for _lines_of_files: a row per non-blank line, or the error row."""
    import pyarrow as pa

    partition, relative_name = task[0], task[1]
    read = file_line_bytes(task)
    if isinstance(read, str):
        numbers, texts, utf8_valid, kinds = [UNREADABLE_FILE_LINE], [read], [False], [None]
    else:
        numbers, lines = read
        try:
            texts = pa.array(lines, pa.binary()).cast(pa.string())
            utf8_valid = pa.repeat(True, len(lines))
        except pa.ArrowInvalid:  # a line that is not UTF-8
            texts, utf8_valid = _texts_of(lines)
        kinds = None if kind_bits is None else [kind_bits(line) for line in lines]
    count = len(numbers)
    columns = [pa.repeat(pa.scalar(partition, arrow_schema[0].type), count),
               pa.repeat(pa.scalar(relative_name, arrow_schema[1].type), count),
               pa.array(numbers, arrow_schema[2].type), pa.array(texts, pa.string()), pa.array(utf8_valid, pa.bool_())]
    if kind_bits is not None:
        columns.append(pa.array(kinds, pa.int32()))
    return pa.RecordBatch.from_arrays(columns, schema=arrow_schema)


def read_jsonl_lines(
    spark: SparkSession, landing: Path, files: Sequence[tuple[Any, Path]], schema: StructType,
    kinds_of: ExportSource | None = None,
) -> DataFrame:
    """One row per non-blank line of the given gzipped JSON-lines files, decompressed on the executors.

    `files` pairs each file with its partition value; `schema` is (partition, source_file, line_number, raw,
    utf8_valid), e.g. EXPORT_LINE_SCHEMA. With `kinds_of` (a source), a sixth column KINDS holds each line's
    json_kind_bits for the source's fields. A file that cannot be decompressed, or that is refused (it resolves
    outside the landing root or is not a regular file, see lake.refused_landing_file), yields one row with line
    number UNREADABLE_FILE_LINE and the error in `raw` (see `unreadable_files`); it is never opened.
    """
    schema = lines_schema(schema, kinds_of)
    if not files:
        return spark.createDataFrame([], schema)
    slices = max(1, min(len(files), spark.sparkContext.defaultParallelism * 4))
    # Lines cross from the Python workers to the JVM as Arrow batches, not as pickled rows.
    return file_tasks(spark, landing, files, schema.fields[0], slices).mapInArrow(_lines_of_files(schema, kinds_of), schema)


def lines_schema(schema: StructType, kinds_of: ExportSource | None = None) -> StructType:
    """The schema of read_jsonl_lines' rows: `schema`, and with `kinds_of` the column KINDS."""
    return schema if kinds_of is None else StructType([*schema.fields, StructField(KINDS, IntegerType())])


def file_tasks(spark: SparkSession, landing: Path, files: Sequence[tuple[Any, Path]], partition: StructField,
               slices: int) -> DataFrame:
    """One row per file, (partition, source_file, path, landing), in `slices` Spark partitions: the input of a
    mapInArrow that reads the files on the executors with file_line_bytes (which refuses what it must)."""
    # Absolute but not resolved: the executor checks where each file really leads (lake.refused_landing_file).
    tasks = [(value, str(path.relative_to(landing)), os.path.abspath(path), os.path.abspath(landing))
             for value, path in files]
    task_schema = StructType([partition, *(StructField(name, StringType()) for name in _TASK_FIELDS)])
    return spark.createDataFrame(spark.sparkContext.parallelize(tasks, max(1, slices)), task_schema)


def read_export_lines(spark: SparkSession, landing: Path, source: str, days: Sequence[date]) -> DataFrame:
    """One row per non-blank line of the source's export files for `days` (EXPORT_LINE_SCHEMA), with the JSON
    kind bits of the source's fields (KINDS)."""
    files = [(day, path) for day in days for path in lake.export_files(landing, source, day)]
    return read_jsonl_lines(spark, landing, files, EXPORT_LINE_SCHEMA, kinds_of=EXPORT_SOURCES[source])


def unreadable_files(validated: DataFrame) -> list[tuple[Any, str, str]]:
    """(day, file, error) for every export file the reader could not decompress or refused."""
    bad = validated.where(F.col("reason") == UNREADABLE_FILE).select("dt", "source_file", "raw")
    return sorted((row.dt, row.source_file, row.raw) for row in bad.collect())


# ------------------------------------------------------------------------------------------- validating


def _text_schema(source: ExportSource) -> StructType:
    """Every field read as text, so a wrong type becomes a quarantine reason instead of a silent null."""
    fields = [StructField(f.name, StringType()) for f in source.schema.fields]
    return StructType([*fields, StructField(_CORRUPT_RECORD, StringType())])


def _with_seconds(text: Column) -> Column:
    """ISO-8601 allows "2022-10-31T14:05Z"; Spark's cast does not, so give minute-only times their ":00"."""
    return F.regexp_replace(text, r"^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2})(Z|[+-]\d{2}:\d{2})\z", "$1:00$2")


def _typed(text: Column, data_type) -> Column:
    if isinstance(data_type, BooleanType):
        return F.when(text == "true", True).when(text == "false", False)
    if isinstance(data_type, TimestampType):
        return _with_seconds(text).try_cast(data_type)
    if isinstance(data_type, (DateType, IntegerType, DoubleType)):
        return text.try_cast(data_type)
    return text


_SHAPES = {TimestampType: _TIMESTAMP_SHAPE, DateType: _DATE_SHAPE, IntegerType: _INTEGER_SHAPE,
           DoubleType: _NUMBER_SHAPE}


def _is_well_formed(text: Column, typed: Column, data_type) -> Column:
    """The text has its type's shape and `typed`, its _typed value, is not null (it cast)."""
    shape = _SHAPES.get(type(data_type))
    return (text.rlike(shape) if shape else F.lit(True)) & typed.isNotNull()


# The JSON kind of a field's value in a line, as the strict validator sees it.
ABSENT, NULL, STRING, INTEGER, NUMBER, NON_FINITE, BOOLEAN, OBJECT, ARRAY = (
    "absent", "null", "string", "integer", "number", "non_finite", "boolean", "object", "array"
)
# The kinds each contract type accepts (null and absent are decided by the missing_field rule). A JSON number
# where a string is expected is read as its text; nothing else is coerced: "true" is not a boolean, "2" is not
# an integer, and a number too large for a double (1e999) is not a number.
_ACCEPTED_KINDS: dict[type, frozenset[str]] = {
    StringType: frozenset({STRING, INTEGER, NUMBER}),
    TimestampType: frozenset({STRING}),
    DateType: frozenset({STRING}),
    IntegerType: frozenset({INTEGER}),
    DoubleType: frozenset({INTEGER, NUMBER}),
    BooleanType: frozenset({BOOLEAN}),
}
# The column in which read_export_lines gives each line's json_kind_bits.
KINDS = "json_kind_bits"
_ONE_OBJECT_BIT = 1


def _reject_constant(name: str) -> None:
    raise ValueError(f"{name} is not JSON")


def _kind(value: Any) -> str:
    if value is None:
        return NULL
    if isinstance(value, bool):
        return BOOLEAN
    if isinstance(value, int):
        return INTEGER
    if isinstance(value, float):
        return NUMBER if math.isfinite(value) else NON_FINITE
    if isinstance(value, str):
        return STRING
    return OBJECT if isinstance(value, dict) else ARRAY


def _is_unicode(value: Any) -> bool:
    if not isinstance(value, str):
        return True
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate escape such as "\ud800"
        return False
    return True


def json_field_kinds(text: str | None, fields: Sequence[str]) -> tuple[str, ...] | None:
    """The JSON kind of each of `fields` in a line that is exactly one JSON object; None for any other line.

    Stricter than Spark's from_json, which reads the first object of `{...}}` or `{...} junk` and ignores the
    rest: NaN and Infinity literals, trailing text, nesting too deep to parse, and a field string that is not
    valid Unicode (a lone surrogate escape) all make the line malformed. Never raises.
    """
    if text is None:
        return None
    # json's own recursion limit (about 1,000 levels, less the caller's stack) decides how deep a line may nest;
    # msgspec reads deeper, so a line that may nest this deep is left to json.
    deep = text.count("{") + text.count("[") > _MSGSPEC_MAX_OPENERS
    parsed = REFUSED_BY_MSGSPEC if deep else read_by_msgspec(text)
    if parsed is REFUSED_BY_MSGSPEC:
        return json_field_kinds_by_json(text, fields)
    return _kinds_of_object(parsed, fields)


def json_field_kinds_by_json(text: str, fields: Sequence[str]) -> tuple[str, ...] | None:
    """json_field_kinds as the contract defines it, by the standard library's json (slower)."""
    try:
        parsed = json.loads(text, parse_constant=_reject_constant)
    except (ValueError, RecursionError):
        return None
    if isinstance(parsed, dict) and not all(_is_unicode(parsed.get(name)) for name in fields):
        return None
    return _kinds_of_object(parsed, fields)


def _kinds_of_object(parsed: Any, fields: Sequence[str]) -> tuple[str, ...] | None:
    if not isinstance(parsed, dict):
        return None
    return tuple(_kind(parsed[name]) if name in parsed else ABSENT for name in fields)


# What read_by_msgspec gives for a text msgspec does not read.
REFUSED_BY_MSGSPEC = object()
_MSGSPEC_JSON = msgspec.json.Decoder()
_MSGSPEC_MAX_OPENERS = 500


def read_by_msgspec(text: str | bytes) -> Any:
    """The JSON text's value as msgspec reads it, or REFUSED_BY_MSGSPEC.

    On export lines msgspec is about 2.5 times faster than json, and it reads a strict subset of what json reads,
    to the same values: it refuses NaN and Infinity, numbers beyond a double, integers beyond json's digit limit
    and lone surrogate escapes, so falling back to json on REFUSED_BY_MSGSPEC reads every line as json alone
    would (tests/test_ingest_fuzz.py holds json_field_kinds to json_field_kinds_by_json on any text). It reads
    deeper nesting than json, which the callers check. Given the UTF-8 bytes, it also refuses what is not valid
    UTF-8, and it skips decoding them: on the crawl's 184 KB pages that is what makes it faster than json (as
    text, it is not)."""
    try:
        return _MSGSPEC_JSON.decode(text)
    except (msgspec.DecodeError, UnicodeDecodeError, RecursionError):  # msgspec.ValidationError is a DecodeError
        return REFUSED_BY_MSGSPEC


def _field_bit(index: int) -> int:
    return 2 << index


def json_kind_bits(line: str | bytes | None, source: ExportSource) -> int:
    """A line's JSON kinds as the rules need them, in one integer (a struct of a kind's name per field costs the
    JVM more to take in than the rest of the line): bit 0 set when the line is exactly one JSON object
    (json_field_kinds), bit i + 1 unless the source's field i holds a kind its contract type refuses
    (_ACCEPTED_KINDS; a null or absent field refuses nothing, the missing_field rule decides it). 0 for a line
    that is not one JSON object. Bytes are read as UTF-8, a lossy decoding where they are not."""
    return _kind_bits_of(source)(line)


# The fast path of _kind_bits_of reads lines up to this length. A longer line may hold an integer of more digits
# than json reads (4,300), which msgspec reads; the standard way decides such a line.
_TYPICAL_LINE_MAX_LENGTH = 4096
_PYTHON_TYPE_OF_KIND = {STRING: str, INTEGER: int, NUMBER: float, BOOLEAN: bool}


def _typical_line_type(source: ExportSource) -> type:
    """A msgspec Struct that decodes exactly the typical line: one JSON object of the source's fields and no
    other, each absent, null or of a kind its type accepts. msgspec refuses any other line (an unknown field, a
    kind refused, anything that is not strict JSON, a lone surrogate), so a line it reads has every kind bit."""
    fields = []
    for f in source.schema.fields:
        kinds = sorted(_ACCEPTED_KINDS[type(f.dataType)])
        python_types = tuple(_PYTHON_TYPE_OF_KIND[kind] for kind in kinds)
        fields.append((f.name, typing.Union[(*python_types, None)], None))
    return msgspec.defstruct(f"Typical{source.name.title().replace('_', '')}Line", fields, forbid_unknown_fields=True)


def _kind_bits_of(source: ExportSource) -> Callable[[str | bytes | None], int]:
    """json_kind_bits for one source, with what it needs of the contract looked up once, not once a line.

    A typical line is read once, by msgspec into _typical_line_type, in a fraction of the time json_field_kinds
    takes; every other line is decided by json_field_kinds (tests/test_ingest_fuzz.py holds the two to the same
    bits on any line)."""
    names = tuple(source.schema.names)
    accepted = [(_field_bit(index), _ACCEPTED_KINDS[type(f.dataType)] | {NULL, ABSENT})
                for index, f in enumerate(source.schema.fields)]
    every_kind_accepted = _ONE_OBJECT_BIT
    for bit, _ in accepted:
        every_kind_accepted |= bit
    typical_line = msgspec.json.Decoder(_typical_line_type(source))

    def kind_bits(line: str | bytes | None) -> int:
        if line is None:
            return 0
        if len(line) <= _TYPICAL_LINE_MAX_LENGTH:
            try:
                typical_line.decode(line)
                return every_kind_accepted
            except (msgspec.DecodeError, UnicodeDecodeError):  # msgspec.ValidationError is a DecodeError
                pass
        text = line.decode("utf-8", errors="replace") if isinstance(line, bytes) else line
        kinds = json_field_kinds(text, names)
        if kinds is None:
            return 0
        bits = _ONE_OBJECT_BIT
        for kind, (bit, kinds_accepted) in zip(kinds, accepted):
            if kind in kinds_accepted:
                bits |= bit
        return bits

    return kind_bits


def json_kind_bits_udf(raw: Column, source: ExportSource) -> Column:
    """json_kind_bits of each line, by a pandas UDF (for lines that did not come from read_export_lines)."""

    def kind_bits_of_lines(raw: pd.Series) -> pd.Series:
        kind_bits = _kind_bits_of(source)
        return pd.Series([kind_bits(text) for text in raw], index=raw.index, dtype="int32")

    return F.pandas_udf(kind_bits_of_lines, IntegerType())(raw)


@dataclass(frozen=True)
class PlausibleTimes:
    """Timestamps and dates outside [earliest, export day + lead_days] are quarantined as `out_of_range`."""

    earliest: date = Config.earliest_plausible_time
    lead_days: int = Config.latest_plausible_lead_days

    @classmethod
    def of(cls, config: Config) -> "PlausibleTimes":
        return cls(config.earliest_plausible_time, config.latest_plausible_lead_days)


def _in_plausible_range(typed: Column, data_type, export_day: Column, plausible: PlausibleTimes) -> Column:
    latest_day = F.date_add(export_day, plausible.lead_days)
    if isinstance(data_type, DateType):
        return (typed >= F.lit(plausible.earliest)) & (typed <= latest_day)
    earliest = F.lit(plausible.earliest).cast(TimestampType())
    return (typed >= earliest) & (typed < F.date_add(latest_day, 1).cast(TimestampType()))


def quarantine_reason(corrupt: Column, text: Mapping[str, Column], typed: Mapping[str, Column], kinds: Column,
                      utf8_valid: Column, export_day: Column, source: ExportSource,
                      plausible: PlausibleTimes = PlausibleTimes()) -> Column:
    """The first failing rule, in the contract's order; null when the line is valid.

    `corrupt` is from_json's corrupt-record column, `text` each field's text (from_json), `typed` its _typed value
    and `kinds` the line's json_kind_bits."""
    malformed = ~utf8_valid | corrupt.isNotNull() | (kinds.bitwiseAND(_ONE_OBJECT_BIT) == 0)
    rules: list[tuple[Column, str]] = [(malformed, "malformed_json")]
    fields = source.schema.fields
    if len(fields) > 30:
        raise ValueError(f"{source.name}: more fields than json_kind_bits holds (30)")
    accepted_bit = {f.name: _field_bit(index) for index, f in enumerate(fields)}

    def present_but_wrong(f: StructField) -> Column:
        return text[f.name].isNotNull() & (
            (kinds.bitwiseAND(accepted_bit[f.name]) == 0)
            | ~_is_well_formed(text[f.name], typed[f.name], f.dataType))

    rules += [
        (text[f.name].isNull() | (text[f.name] == ""), f"missing_field:{f.name}")
        for f in fields
        if not f.nullable
    ]
    temporal = [f for f in fields if isinstance(f.dataType, (TimestampType, DateType))]
    rules += [(present_but_wrong(f), f"bad_timestamp:{f.name}") for f in temporal]
    rules += [
        (text[f.name].isNotNull() & ~_in_plausible_range(typed[f.name], f.dataType, export_day, plausible),
         f"out_of_range:{f.name}")
        for f in temporal
    ]
    rules += [(present_but_wrong(f), f"bad_type:{f.name}") for f in fields if f not in temporal]
    rules += [
        (text[f.name].isNotNull() & ~text[f.name].isin(*f.metadata["allowed"]), f"bad_enum:{f.name}")
        for f in fields
        if f.metadata.get("allowed")
    ]
    return F.coalesce(*[F.when(condition, F.lit(reason)) for condition, reason in rules])


def validate_export_lines(lines: DataFrame, source: ExportSource, plausible: PlausibleTimes = PlausibleTimes()) -> DataFrame:
    """Type every line against the source schema and give each rejected line its quarantine `reason`.

    Output: the schema's typed fields, lineage (source_file, line_number), raw, reason, dt. The JSON kind bits
    come from the KINDS column when the reader gave it (read_export_lines), else from json_kind_bits_udf. The row
    the reader gives for a file it could not read keeps its error in `raw` and has reason UNREADABLE_FILE, so the
    job learns of broken files from the same aggregation that counts the lines (its day is not written).
    """
    parsed = F.from_json(
        "raw", _text_schema(source), {"mode": "PERMISSIVE", "columnNameOfCorruptRecord": _CORRUPT_RECORD}
    )
    with_json = (
        lines.withColumn("_json", parsed)
        .withColumn("_kinds", F.col(KINDS) if KINDS in lines.columns else json_kind_bits_udf(F.col("raw"), source))
    )
    fields = source.schema.fields
    text = {f.name: F.col("_json")[f.name] for f in fields}
    # The typed values get a projection of their own so that each cast is computed once: the rules use them
    # again, and Spark shares no expression between the branches of the rules' CASE.
    typed_lines = with_json.select(
        "*", *[_typed(text[f.name], f.dataType).alias(f.name) for f in fields])
    typed = {f.name: typed_lines[f.name] for f in fields}
    reason = (F.when(F.col("line_number") == UNREADABLE_FILE_LINE, F.lit(UNREADABLE_FILE))
              .otherwise(quarantine_reason(F.col("_json")[_CORRUPT_RECORD], text, typed, F.col("_kinds"),
                                           F.col("utf8_valid"), F.col("dt"), source, plausible)))
    return typed_lines.select(*typed.values(), "source_file", "line_number", "raw", reason.alias("reason"), "dt")


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
    """Ingest the given export days of one source into bronze and quarantine; returns the row accounting.

    A day with a file that cannot be read or is refused is not written (its bronze and quarantine stay as they
    were); the other days are, and then ExportFileError names the files. Before anything is written, every
    lake path of the source is checked to lie inside the lake root.
    """
    source = EXPORT_SOURCES[source_name]
    days = sorted(set(days))
    bronze = lake.bronze_table(config.lake, source_name)
    quarantine = lake.quarantine_table(config.lake, source_name)
    staging = lake.staging_root(config.lake, f"ingest-{source_name}-{uuid.uuid4().hex[:12]}")
    lake.refuse_paths_outside(config.lake, [
        bronze, quarantine, staging,
        *(table / lake.partition_name(day) for table in (bronze, quarantine) for day in days),
        *(lake.ingest_report(config.lake, source_name, day) for day in days),
    ])
    withdrawn = withdrawn_export_days(config, source_name)
    lines = read_export_lines(spark, config.landing, source_name, days)
    # One pass reads, validates and deduplicates every line into the cache, and counts them per day and status;
    # the writes read the cache. A broken file shows as an UNREADABLE_FILE count of its day.
    validated = validate_export_lines(lines, source, PlausibleTimes.of(config))
    # Only a quarantined line's raw text is ever written: dropping the others' before the deduplication's shuffle
    # makes what is shuffled and cached a fraction of the size.
    validated = validated.withColumn("raw", F.when(F.col("reason").isNotNull(), F.col("raw")))
    marked = mark_duplicates(validated, source.natural_key).cache()
    try:
        counts = count_by_partition(marked) if days else {}
        broken = unreadable_files(marked) if any(UNREADABLE_FILE in c.quarantined for c in counts.values()) else []
        failed_days = sorted({day for day, _, _ in broken})
        days = [day for day in days if day not in failed_days]
        counts = {day: counts.get(day, PartitionCounts()) for day in days}
        unbalanced = [day for day, c in counts.items() if not c.balances()]
        if unbalanced:
            raise RuntimeError(f"row accounting does not balance for {source_name} on {unbalanced}")
        if days:
            written = marked.where(F.col("dt").isin(*days)) if failed_days else marked
            try:
                bronze_columns = [f.name for f in bronze_schema(source).fields]
                overwrite_partitions(
                    written.where(F.col("status") == KEPT).select(*bronze_columns),
                    bronze,
                    "dt",
                    days,
                    staging=staging,
                    sort_by=[*source.natural_key, "source_file", "line_number"],
                )
                overwrite_partitions(
                    written.where(~F.col("status").isin(KEPT, DUPLICATE)).select(
                        "source_file", "line_number", "raw", "reason", "dt"
                    ),
                    quarantine,
                    "dt",
                    days,
                    staging=staging,
                    sort_by=["source_file", "line_number"],
                )
            finally:
                shutil.rmtree(staging, ignore_errors=True)
    finally:
        marked.unpersist()

    result = IngestResult(source_name, days, counts, withdrawn=withdrawn)
    _write_reports(config.lake, result)
    log.info(result.summary_line())
    if withdrawn:
        log.warning("%s: the export of %s lost its %s after ingestion; bronze keeps the rows ingested then "
                    "(docs/operations.md, 'A withdrawn export day')", source_name,
                    ", ".join(d.isoformat() for d in withdrawn), lake.SUCCESS_MARKER)
    if broken:
        details = "; ".join(f"{name} ({error})" for _, name, error in broken)
        raise ExportFileError(
            f"cannot read export file(s) of {source_name}: {details}. Not ingested, bronze and quarantine left as "
            f"they were: {', '.join(d.isoformat() for d in failed_days)}; ingested: {len(days)} other day(s)",
            result=result,
        )
    return result


def withdrawn_export_days(config: Config, source: str) -> list[date]:
    """Days of a source in bronze whose landing export is no longer complete (its `_SUCCESS`, or the whole
    folder, is gone): bronze still holds what was ingested, and no rerun refreshes it until the export is back."""
    return [
        day for day in lake.ingested_days(config.lake, source)
        if not (lake.landing_partition(config.landing, source, day) / lake.SUCCESS_MARKER).exists()
    ]


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
    """Ingest every complete export day in [since, until] of each source (see ingest_each_source on failures)."""
    return ingest_each_source(
        sources or lake.PLATFORM_SOURCES,
        lambda source: ingest_source(spark, config, source, ingestible_days(config, source, since, until)))


def ingest_each_source(sources: Sequence[str], ingest_one: Callable[[str], IngestResult]) -> list[IngestResult]:
    """`ingest_one(source)` for each source, in order.

    A source that fails (a malformed `dt=` folder, a file that cannot be read or is refused, a lake path that
    leads outside the lake, or its spark-submit job, whose error ends with the job's output) does not stop the others; once they are done, IngestFailed names every failure.
    """
    results, failures = [], []
    for source in sources:
        try:
            results.append(ingest_one(source))
        except (lake.MalformedPartitionError, lake.LakePathError, ExportFileError, SparkJobError) as error:
            log.error("ingest %s failed: %s", source, error)
            failures.append(f"{source}: {error}")
            if isinstance(error, ExportFileError) and error.result is not None:
                results.append(error.result)
    if failures:
        raise IngestFailed(f"ingestion failed for {len(failures)} source(s); the others were ingested. "
                           + " | ".join(failures), results=results)
    return results


def main(argv: Sequence[str] | None = None) -> int:
    """spark-submit entry point: `python -m jobs.ingest --landing L --lake K [--source S] [--since D] [--until D]`."""
    from credsignal.core.spark import spark_session

    parser = argparse.ArgumentParser(prog="jobs.ingest")
    parser.add_argument("--landing", type=Path)
    parser.add_argument("--lake", type=Path)
    parser.add_argument("--source", action="append", choices=lake.PLATFORM_SOURCES)
    parser.add_argument("--since", type=date.fromisoformat)
    parser.add_argument("--until", type=date.fromisoformat)
    parser.add_argument("--spark-master")
    parser.add_argument("--result", type=Path, help="write the row accounting here as JSON (for the submitter)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    config = Config.from_env(landing=args.landing, lake=args.lake, spark_master=args.spark_master)
    spark = spark_session(config, app_name="credsignal-ingest")
    results = run(spark, config, sources=args.source, since=args.since, until=args.until)
    for result in results:
        print(result.summary_line())
    if args.result:
        write_json_atomically(args.result, [result.to_json() for result in results])
    return 0


if __name__ == "__main__":
    # The imported module's main, not this __main__ copy's: the functions handed to Spark are then pickled by
    # reference to jobs.ingest. By value they would carry this module's globals (msgspec's decoder cannot be pickled).
    from jobs import ingest

    raise SystemExit(ingest.main())
