"""The contracts of the lake's tables, declared once.

- The platform exports as typed in bronze (docs/landing_contract.md is the prose version): each export schema is a
  `StructType` constant. A field that is required in the contract is `nullable=False`; an enumerated field carries
  its allowed values in the field metadata under `allowed`. Ingestion derives its validation from these constants.
- The curated tables, declared in contracts.yml beside this module (columns, types, pre-treatment or outcome,
  descriptions, definitions, tests): :data:`TABLES`. Their Spark schemas, the GX suites' column expectations
  (expectations/suites.py), the Parquet column docs (publish) and docs/data_dictionary.md's column tables are
  derived from them; ``python -m credsignal.core.contracts docs/data_dictionary.md`` regenerates the dictionary.
- The value sets both share (education levels, genders, ...), declared in contracts.yml under `enums`.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from typing import Any

import yaml
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

CONTRACTS_FILE = "contracts.yml"


@cache
def _declarations() -> dict[str, Any]:
    text = resources.files("credsignal.core").joinpath(CONTRACTS_FILE).read_text(encoding="utf-8")
    return yaml.load(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))


def enum(name: str) -> tuple:
    """A value set of contracts.yml's `enums`."""
    return tuple(_declarations()["enums"][name])


EDUCATION_LEVELS = enum("education_levels")
GENDERS = enum("genders")
PRIMARY_DOMAINS = enum("primary_domains")
CREDENTIAL_TYPES = enum("credential_types")
ARMS = enum("arms")
APP_PLATFORMS = enum("app_platforms")
CAREER_OUTCOMES = enum("career_outcomes")
DEGREE_LEVELS = enum("degree_levels")
(NOT_MENTIONED,) = enum("not_mentioned")


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


# ------------------------------------------------------------------------------------------------ curated tables

# When a column's value is fixed: "pre-treatment" (as of the end of the randomization day: the assignment, the
# learner's version in force then, skill measurements up to then, profile facts dated before randomization) or
# "outcome" (as of the end of the as_of day or month, or of the profile collection).
PRE_TREATMENT, OUTCOME = "pre-treatment", "outcome"
COLUMN_TIMINGS = (PRE_TREATMENT, OUTCOME)
SPARK_TYPES: dict[str, DataType] = {"string": StringType(), "int": IntegerType(), "long": LongType(),
                                    "double": DoubleType(), "date": DateType()}
COLUMN_TESTS = ("not_null", "unique", "accepted_values", "range")


@dataclass(frozen=True)
class ColumnContract:
    """One column of a curated table, as contracts.yml declares it."""

    name: str
    type: str
    timing: str
    description: str
    nullable: bool = True
    label: str | None = None
    definition: str = ""
    source: str = ""
    edge_rules: str = ""
    tests: dict[str, Any] = field(default_factory=dict)
    curated_as: ColumnContract | None = None
    hash_domain: str | None = None
    restricted: bool = False

    @classmethod
    def declared(cls, table: str, entry: dict[str, Any], *, timing: str | None = None,
                 nullable: bool | None = None) -> ColumnContract:
        entry = dict(entry)
        name = entry.get("name")
        where = f"contracts.yml: table {table}, column {name}"
        entry.setdefault("timing", timing)
        if nullable is not None:
            entry.setdefault("nullable", nullable)
        if entry.get("timing") not in COLUMN_TIMINGS:
            raise ValueError(f"{where}: timing {entry.get('timing')!r} is not one of {COLUMN_TIMINGS}")
        if entry.get("type") not in SPARK_TYPES:
            raise ValueError(f"{where}: type {entry.get('type')!r} is not one of {sorted(SPARK_TYPES)}")
        unknown_tests = set(entry.get("tests") or {}) - set(COLUMN_TESTS)
        if unknown_tests:
            raise ValueError(f"{where}: unknown tests {sorted(unknown_tests)}; known: {COLUMN_TESTS}")
        if entry.get("curated_as") is not None:
            entry["curated_as"] = cls.declared(table, dict(entry["curated_as"], type="string"), timing=entry["timing"],
                                               nullable=entry.get("nullable", True))
        return cls(**entry)

    @property
    def field(self) -> StructField:
        """The Spark field; its description and timing ride in the metadata (the Parquet column docs)."""
        return StructField(self.name, SPARK_TYPES[self.type], nullable=self.nullable,
                           metadata={"description": self.description, "timing": self.timing})

    @property
    def accepted_values(self) -> list | None:
        """The accepted values test's value set, enum references resolved."""
        declared = self.tests.get("accepted_values")
        if declared is None or isinstance(declared, list):
            return declared
        return [value for name in (declared["enum"], *declared.get("and", ())) for value in enum(name)]


def published(columns: tuple[ColumnContract, ...]) -> tuple[ColumnContract, ...]:
    """`columns` as published: platform IDs replaced by their pseudonymous keys, restricted columns dropped."""
    return tuple(column.curated_as or column for column in columns if not column.restricted)


@dataclass(frozen=True)
class TableContract:
    """A curated table: its columns as the definitions compute them (platform IDs, restricted columns)."""

    name: str
    columns: tuple[ColumnContract, ...]
    inherited: int = 0  # how many of the columns come first from the table it extends

    @property
    def own_columns(self) -> tuple[ColumnContract, ...]:
        """The columns this table adds to the one it extends (all of them when it extends none)."""
        return self.columns[self.inherited:]

    @property
    def schema(self) -> StructType:
        return StructType([column.field for column in self.columns])

    @property
    def curated_columns(self) -> tuple[ColumnContract, ...]:
        """The columns as published: platform IDs replaced by their pseudonymous keys, restricted ones dropped."""
        return published(self.columns)

    @property
    def curated_schema(self) -> StructType:
        return StructType([column.field for column in self.curated_columns])


@cache
def _tables() -> dict[str, TableContract]:
    tables: dict[str, TableContract] = {}
    for name, declared in _declarations()["tables"].items():
        inherited = tables[declared["extends"]].columns if "extends" in declared else ()
        own = tuple(ColumnContract.declared(name, entry) for entry in declared["columns"])
        tables[name] = TableContract(name, inherited + own, inherited=len(inherited))
    return tables


def table(name: str) -> TableContract:
    """The contract of curated table `name`."""
    if name not in _tables():
        raise KeyError(f"unknown curated table {name!r}; expected one of {sorted(_tables())}")
    return _tables()[name]


OUTPUT_TABLES = ("learner_outcomes_full", "learner_outcomes_linkedin")
LEARNER_OUTCOMES_FULL_SCHEMA = table("learner_outcomes_full").schema
LEARNER_OUTCOMES_LINKEDIN_SCHEMA = table("learner_outcomes_linkedin").schema
# What the LinkedIn table adds to the full table.
LINKEDIN_FEATURES_SCHEMA = StructType([column.field for column in table("learner_outcomes_linkedin").own_columns])
# The published contract of each output table (column docs, the data dictionary, the Parquet column docs).
OUTPUT_SCHEMAS = {name: table(name).curated_schema for name in OUTPUT_TABLES}
# platform ID column -> (curated column, hash domain): the definitions key rows by the platform's IDs, what leaves
# the feature job carries keyed hashes instead (credsignal.core.privacy, docs/privacy.md).
PSEUDONYMOUS_KEYS = {column.name: (column.curated_as.name, column.curated_as.hash_domain)
                     for column in table("learner_outcomes_linkedin").columns if column.curated_as}
CROSSWALK_SCHEMA = StructType([
    StructField("learner_key", StringType(), nullable=False),
    StructField("learner_id", StringType(), nullable=False),
])


def labelled(column: str) -> str:
    """A column as the readout names it: the paper's label beside the column's name ("All Views (views_all)"),
    or the bare name when the contract gives none (also for names that are not columns, such as Table 3's rows)."""
    for contract in _tables().values():
        for declared in contract.curated_columns:
            if declared.name == column and declared.label:
                return f"{declared.label} ({column})"
    return column


def column_descriptions(name: str) -> dict[str, str]:
    """{column: one-line description} of a published table, in column order."""
    return {column.name: column.description for column in table(name).curated_columns}


def column_timings(name: str) -> dict[str, str]:
    """{column: PRE_TREATMENT or OUTCOME} of a published table, in column order."""
    return {column.name: column.timing for column in table(name).curated_columns}


# ------------------------------------------------------------------------------------------------ data dictionary

DICTIONARY_HEADER = ("| Column | Type | When | Definition | Source | Edge rules |", "|---|---|---|---|---|---|")


def dictionary_block_markers(name: str) -> tuple[str, str]:
    return (f"<!-- columns of {name}: generated from credsignal/core/contracts.yml, do not edit -->",
            f"<!-- end of the columns of {name} -->")


def dictionary_columns(name: str) -> str:
    """The data dictionary's column table of the columns published table `name` adds to the one it extends
    (markdown): the extended table's columns are in its own section."""
    columns = published(table(name).own_columns)
    rows = [f"| `{c.name}` | {c.type} | {c.timing} | {c.definition} | {c.source} | {c.edge_rules} |".replace(
        "|  |", "| |") for c in columns]
    return "\n".join([*DICTIONARY_HEADER, *rows])


def render_dictionary(document: str) -> str:
    """`document` (docs/data_dictionary.md) with each table's generated column block replaced by the contract's."""
    for name in OUTPUT_TABLES:
        begin, end = dictionary_block_markers(name)
        if begin not in document or end not in document:
            raise ValueError(f"the data dictionary has no generated block for {name} ({begin} ... {end})")
        before, rest = document.split(begin, 1)
        _, after = rest.split(end, 1)
        document = f"{before}{begin}\n{dictionary_columns(name)}\n{end}{after}"
    return document


if __name__ == "__main__":
    for path in sys.argv[1:]:
        with open(path, encoding="utf-8") as handle:
            current = handle.read()
        with open(path, "w", encoding="utf-8") as handle:
            handle.write(render_dictionary(current))
