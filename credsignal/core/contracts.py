"""Schemas of the platform exports as typed in bronze (docs/landing_contract.md is the prose version).

Each export schema is a `StructType` constant. A field that is required in the contract is `nullable=False`;
an enumerated field carries its allowed values in the field metadata under `allowed`. Ingestion derives its
validation from these constants, so the contract is written once.
"""

from __future__ import annotations

from dataclasses import dataclass

from pyspark.sql.types import (
    ArrayType,
    BooleanType,
    DataType,
    DateType,
    DoubleType,
    IntegerType,
    LongType,
    StringType,
    StructField,
    StructType,
    TimestampType,
)

EDUCATION_LEVELS = (
    "less than high school diploma",
    "high school diploma",
    "college no degree",
    "associate degree",
    "bachelor degree",
    "masters degree",
    "professional degree",
    "doctorate degree",
)
GENDERS = ("male", "female", "other")
PRIMARY_DOMAINS = ("Business", "Computer Science", "Data Science", "Information Technology")
CREDENTIAL_TYPES = ("Course", "Guided Project", "Specialization", "Professional Certificate")
ARMS = ("treatment", "control")
APP_PLATFORMS = ("web", "ios", "android")


def _required(name: str, data_type: DataType, allowed: tuple[str, ...] | None = None) -> StructField:
    return StructField(name, data_type, nullable=False, metadata={"allowed": list(allowed)} if allowed else {})


def _optional(name: str, data_type: DataType, allowed: tuple[str, ...] | None = None) -> StructField:
    return StructField(name, data_type, nullable=True, metadata={"allowed": list(allowed)} if allowed else {})


LEARNERS_SCHEMA = StructType([
    _required("learner_id", StringType()),
    _optional("country", StringType()),
    _optional("education_level", StringType(), EDUCATION_LEVELS),
    _optional("gender", StringType(), GENDERS),
    _optional("linkedin_url", StringType()),
    _required("registered_at", TimestampType()),
    _required("updated_at", TimestampType()),
])

CERTIFICATES_SCHEMA = StructType([
    _required("certificate_id", StringType()),
    _required("learner_id", StringType()),
    _required("course_id", StringType()),
    _optional("course_name", StringType()),
    _required("primary_domain", StringType(), PRIMARY_DOMAINS),
    _required("credential_type", StringType(), CREDENTIAL_TYPES),
    _required("granted_at", TimestampType()),
])

CERTIFICATE_VIEWS_SCHEMA = StructType([
    _required("view_id", StringType()),
    _required("certificate_id", StringType()),
    _required("viewed_at", TimestampType()),
    _optional("referrer", StringType()),
    _required("by_owner", BooleanType()),
])

EXPERIMENT_ASSIGNMENTS_SCHEMA = StructType([
    _required("learner_id", StringType()),
    _required("experiment_id", StringType()),
    _required("batch", IntegerType()),
    _required("arm", StringType(), ARMS),
    _required("randomized_at", DateType()),
    _required("stratum", StringType()),
])

APP_SESSIONS_SCHEMA = StructType([
    _required("learner_id", StringType()),
    _required("started_at", TimestampType()),
    _required("platform", StringType(), APP_PLATFORMS),
])

SKILL_SCORES_SCHEMA = StructType([
    _required("learner_id", StringType()),
    _required("skill", StringType()),
    _required("score", DoubleType()),
    _required("measured_at", TimestampType()),
])


@dataclass(frozen=True)
class ExportSource:
    """One platform export: its schema and the natural key that identifies duplicates within a day."""

    name: str
    schema: StructType
    natural_key: tuple[str, ...]


EXPORT_SOURCES: dict[str, ExportSource] = {
    source.name: source
    for source in (
        ExportSource("learners", LEARNERS_SCHEMA, ("learner_id", "updated_at")),
        ExportSource("certificates", CERTIFICATES_SCHEMA, ("certificate_id",)),
        ExportSource("certificate_views", CERTIFICATE_VIEWS_SCHEMA, ("view_id",)),
        ExportSource("experiment_assignments", EXPERIMENT_ASSIGNMENTS_SCHEMA, ("experiment_id", "learner_id")),
        ExportSource("app_sessions", APP_SESSIONS_SCHEMA, ("learner_id", "started_at", "platform")),
        ExportSource("skill_scores", SKILL_SCORES_SCHEMA, ("learner_id", "skill", "measured_at")),
    )
}

# Lineage columns every bronze row carries, so any value can be traced to the line it came from.
LINEAGE_FIELDS = [
    StructField("source_file", StringType(), nullable=False),
    StructField("line_number", LongType(), nullable=False),
]
PARTITION_FIELD = StructField("dt", DateType(), nullable=False)

# What ingestion reads before validation: one row per non-blank line of an export file.
EXPORT_LINE_SCHEMA = StructType([
    PARTITION_FIELD,
    *LINEAGE_FIELDS,
    StructField("raw", StringType(), nullable=True),
    # False when the line's bytes were not valid UTF-8 (then `raw` holds a lossy decoding).
    StructField("utf8_valid", BooleanType(), nullable=False),
])

QUARANTINE_SCHEMA = StructType([
    *LINEAGE_FIELDS,
    StructField("raw", StringType(), nullable=True),
    StructField("reason", StringType(), nullable=False),
    PARTITION_FIELD,
])


def bronze_schema(source: ExportSource) -> StructType:
    """The bronze table: the export's typed fields, then lineage, then the partition column."""
    return StructType([*source.schema.fields, *LINEAGE_FIELDS, PARTITION_FIELD])


# ------------------------------------------------------------------------------------------------ crawls

# What the parse job reads: one row per non-blank line of a crawl file.
CRAWL_LINE_SCHEMA = StructType([
    StructField("crawl_id", StringType(), nullable=False),
    *LINEAGE_FIELDS,
    StructField("raw", StringType(), nullable=True),
    StructField("utf8_valid", BooleanType(), nullable=False),
])

POSITION_STRUCT = StructType([
    StructField("title", StringType()),
    StructField("company", StringType()),
    StructField("location", StringType()),
    StructField("start", StringType()),
    StructField("end", StringType()),
    StructField("is_current", BooleanType()),
    StructField("length_chars", IntegerType()),
])
EDUCATION_STRUCT = StructType([
    StructField("school", StringType()),
    StructField("degree", StringType()),
    StructField("field", StringType()),
    StructField("start_year", StringType()),
    StructField("end_year", StringType()),
])
CERTIFICATION_STRUCT = StructType([
    StructField("name", StringType()),
    StructField("issuer", StringType()),
    StructField("issued", StringType()),
    StructField("expires", StringType()),
    StructField("credential_id", StringType()),
    StructField("credential_url", StringType()),
    StructField("credential_id_normalized", StringType()),
])

# One parsed crawl record (the parse job's intermediate, never written as such: it is split into the silver
# tables below, and the page body is dropped).
PARSED_PROFILE_SCHEMA = StructType([
    StructField("crawl_id", StringType(), nullable=False),
    *LINEAGE_FIELDS,
    StructField("profile_url", StringType()),
    StructField("profile_url_normalized", StringType()),
    StructField("fetched_at", TimestampType()),
    StructField("http_status", IntegerType()),
    StructField("content_type", StringType()),
    StructField("body_bytes", LongType()),
    StructField("status", StringType(), nullable=False),
    StructField("reason", StringType()),
    StructField("layout", StringType()),
    StructField("language", StringType()),
    StructField("profile_length_chars", IntegerType()),
    StructField("length_about", IntegerType()),
    StructField("length_experience", IntegerType()),
    StructField("length_education", IntegerType()),
    StructField("length_certifications", IntegerType()),
    StructField("length_other", IntegerType()),
    StructField("positions", ArrayType(POSITION_STRUCT)),
    StructField("education", ArrayType(EDUCATION_STRUCT)),
    StructField("certifications", ArrayType(CERTIFICATION_STRUCT)),
])
