"""Column helpers every feature definition shares: calendar months, 0/1 flags, the latest delivery of a key,
conforming to a table's contract, and the reference classifiers applied through :func:`lookup` (each runs once per
distinct input value, on the executors, and the result is joined back)."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from pyspark.sql import Column, DataFrame, Window, functions as F
from pyspark.sql.types import BooleanType, DoubleType, IntegerType, StructField, StructType


# Columns that identify one fetched record in the silver profile tables (jobs.parse.split_profiles).
PROFILE_RECORD_KEY = ["crawl_id", "source_file", "line_number"]
# Lineage of bronze rows: the later delivery of the same key wins (a re-delivered or corrected row).
# (A function, not a constant: this module is imported on the Python workers, where no SparkContext exists.)
def delivery_order() -> list[Column]:
    return [F.col("dt").desc(), F.col("source_file").desc(), F.col("line_number").desc()]


# Results of the reference classifiers, as computed by `lookup`.
TITLE_CLASS_SCHEMA = StructType([
    StructField("tech", BooleanType()),
    StructField("managerial", BooleanType()),
    StructField("internship", BooleanType()),
    StructField("in_scope", BooleanType()),
])
UNIVERSITY_RANK_SCHEMA = StructType([
    StructField("university_national_rank", IntegerType()),
    StructField("university_match_score", DoubleType()),
])


def conform(frame: DataFrame, schema: StructType) -> DataFrame:
    """Exactly the schema's columns, in its order and types, with their metadata (descriptions)."""
    return frame.select(*(F.col(field.name).cast(field.dataType).alias(field.name, metadata=field.metadata)
                          for field in schema.fields))


def month_index(column: Column | str) -> Column:
    """Calendar month number (year * 12 + month - 1) of a date or timestamp, so that month differences are
    subtractions: Jan 2023 - Dec 2022 = 1 whatever the days. (A candidate for credsignal/ if others need it.)"""
    column = F.col(column) if isinstance(column, str) else column
    return F.year(column) * 12 + F.month(column) - 1


def flag(condition: Column) -> Column:
    """0/1 integer of a boolean condition; null (unknown) counts as 0."""
    return F.when(condition, 1).otherwise(0)


def latest_delivery(frame: DataFrame, key: Sequence[str], order: Sequence[Column] = ()) -> DataFrame:
    """One row per `key` across bronze partitions: the first by `order`, then the latest delivery (dt, then
    source file and line), so a row re-delivered on a later day counts once and a correction wins."""
    window = Window.partitionBy(*key).orderBy(*order, *delivery_order())
    return frame.withColumn("_rank", F.row_number().over(window)).where("_rank = 1").drop("_rank")


# Above this many distinct keys a lookup's result is joined back by a shuffle, not broadcast: a broadcast is
# collected by the driver first, and key sets such as the learners' profile URLs grow with the study (56,443
# distinct (country, URL) pairs at full scale, 563,666 at 10x).
LOOKUP_BROADCAST_MAX_ROWS = 100_000


def lookup(frame: DataFrame, keys: Sequence[str], compute: Callable[..., tuple], result: StructType) -> DataFrame:
    """`frame` with `result`'s columns added, computed by the Python function `compute(*key_values)` once per
    distinct combination of `keys` (nulls included), then joined back.

    This is how the reference classifiers are applied: thousands of distinct titles instead of millions of rows.
    The distinct keys are classified on the executors (mapInArrow) and the result is materialised there
    (localCheckpoint, an eager Spark job), so the driver's Python process never holds the keys, and a chain of
    lookups keeps a linear plan: without the checkpoint, each lookup would put `frame`'s plan into the query
    twice, and chained lookups doubled the plan each time until the analyzer alone took minutes. A result of at
    most LOOKUP_BROADCAST_MAX_ROWS rows is broadcast (Spark collects it in the driver's JVM to ship it); a larger
    one is joined by a shuffle, so no key set that grows with the study passes through the driver.
    Because the lookup is eager, call it on a frame whose plan is cheap (bronze before deduplication, not after):
    a superset of the keys costs nothing in a left join.
    """
    keys = list(keys)
    key_fields = [StructField(f"_key_{i}", frame.schema[name].dataType, nullable=True) for i, name in enumerate(keys)]
    schema = StructType([*key_fields, *(StructField(f.name, f.dataType, nullable=True) for f in result.fields)])
    distinct = frame.select(*(F.col(name).alias(field.name) for name, field in zip(keys, key_fields))).distinct()
    classified = distinct.mapInArrow(_classify_batches(compute, len(keys), schema), schema).localCheckpoint()
    if classified.count() <= LOOKUP_BROADCAST_MAX_ROWS:
        classified = F.broadcast(classified)
    condition = [frame[name].eqNullSafe(classified[f"_key_{i}"]) for i, name in enumerate(keys)]
    return frame.join(classified, condition, "left").drop(*(f"_key_{i}" for i in range(len(keys))))


def _classify_batches(compute: Callable[..., tuple], key_count: int, schema: StructType):
    """The mapInArrow function of `lookup`: each batch of distinct keys with `compute`'s result columns."""

    def classify(batches):
        import pyarrow as pa
        from pyspark.sql.pandas.types import to_arrow_schema

        arrow_schema = to_arrow_schema(schema)
        result_types = [field.type for field in arrow_schema][key_count:]
        for batch in batches:
            key_columns = [batch.column(i) for i in range(key_count)]
            rows = [compute(*values) for values in zip(*(column.to_pylist() for column in key_columns))]
            results = list(zip(*rows)) if rows else [() for _ in result_types]
            yield pa.RecordBatch.from_arrays(
                [*key_columns, *(pa.array(column, type=kind) for column, kind in zip(results, result_types))],
                schema=arrow_schema)

    return classify


# The reference classifiers as `lookup` computes them: one result row (a tuple, in the result schema's order) per
# distinct input value.
def normalized_profile_url_row(url: str | None) -> tuple:
    from parsers.profile_url import normalize_profile_url

    return (normalize_profile_url(url),)


def developing_country_row(country: str | None) -> tuple:
    from credsignal.reference.countries import developed_country_flag

    developed = developed_country_flag(country)
    return (None if developed is None else 1 - developed,)


def title_class_row(title: str | None) -> tuple:
    from credsignal.reference.job_titles import classify_title

    return tuple(classify_title(title))


def degree_level_row(text: str | None) -> tuple:
    from credsignal.reference.degrees import degree_level

    return (degree_level(text),)


def normalized_credential_id_row(credential_id: str | None) -> tuple:
    from parsers.credentials import normalize_credential_id

    return (normalize_credential_id(credential_id),)


def profile_credential_ids_row(shown_id: str | None, credential_url: str | None) -> tuple:
    """The ID the certification shows and the ID inside its credential URL, each normalised (either may match)."""
    from parsers.credentials import coursera_id_from_url, normalize_credential_id

    return normalize_credential_id(shown_id), normalize_credential_id(coursera_id_from_url(credential_url))


def is_coursera_issuer_row(issuer: str | None) -> tuple:
    from credsignal.reference.textnorm import tokenise

    return ("coursera" in tokenise(issuer or ""),)


def university_rank_row(school: str | None, country: str | None, cwur_path: str | None) -> tuple:
    """Rank of `school`: first among institutions of the learner's country, then anywhere (learners study
    abroad); the ranker itself rejects names it cannot tell apart without a country."""
    from credsignal.reference.universities import default_ranker

    if not school:
        return None, None
    ranker = default_ranker(cwur_path)
    match = ranker.match(school, country) or (ranker.match(school, None) if country else None)
    return (match.national_rank, float(match.score)) if match else (None, None)
