"""The landing-zone contract (docs/landing_contract.md) as data, plus a line classifier.

The generator uses the classifier to record what ingestion must produce for every dirty line it plants
(`_truth/ingest_expected.json`). The field lists are the export contract's
(credsignal.core.contracts.EXPORT_SOURCES), field order included: the first failing field in table order decides
the quarantine reason.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

# The allowed values are the contract's (docs/landing_contract.md), defined once, with the export schemas.
from credsignal.core.contracts import (
    APP_PLATFORMS as PLATFORMS,
    CREDENTIAL_TYPES,
    EDUCATION_LEVELS,
    EXPORT_SOURCES,
    GENDERS,
    PRIMARY_DOMAINS,
)


@dataclass(frozen=True)
class Field:
    name: str
    kind: str  # string | timestamp | date | integer | number | boolean
    required: bool
    allowed: tuple[str, ...] | None = None


# The export schemas' Spark types as the classifier names them.
_KINDS = {"StringType": "string", "TimestampType": "timestamp", "DateType": "date", "IntegerType": "integer",
          "DoubleType": "number", "BooleanType": "boolean"}

# Each source's fields in table order, read off the one declaration of the export contract (the classifier is an
# independent implementation of the rules, not of the field list).
SOURCES: dict[str, tuple[Field, ...]] = {
    name: tuple(Field(field.name, _KINDS[type(field.dataType).__name__], not field.nullable,
                      tuple(field.metadata["allowed"]) if "allowed" in field.metadata else None)
                for field in source.schema.fields)
    for name, source in EXPORT_SOURCES.items()
}

NATURAL_KEYS: dict[str, tuple[str, ...]] = {name: source.natural_key for name, source in EXPORT_SOURCES.items()}

# The event timestamp that decides a row's dt folder.
EVENT_FIELD: dict[str, str] = {
    "learners": "updated_at",
    "certificates": "granted_at",
    "certificate_views": "viewed_at",
    "experiment_assignments": "randomized_at",
    "app_sessions": "started_at",
    "skill_scores": "measured_at",
}

_TIMESTAMP_SHAPE = re.compile(
    r"^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})(?::(\d{2})(?:\.\d+)?)?(Z|[+-](\d{2}):(\d{2}))$"
)
_DATE_SHAPE = re.compile(r"^(\d{4})-(\d{2})-(\d{2})$")


def is_valid_timestamp(text: str) -> bool:
    match = _TIMESTAMP_SHAPE.match(text)
    if not match:
        return False
    year, month, day, hour, minute, second = (int(g) if g else 0 for g in match.groups()[:6])
    try:
        datetime(year, month, day, hour, minute, second)
    except ValueError:
        return False
    if match.group(7) != "Z" and (int(match.group(8)) > 23 or int(match.group(9)) > 59):
        return False
    return True


def is_valid_date(text: str) -> bool:
    match = _DATE_SHAPE.match(text)
    if not match:
        return False
    try:
        date(int(match.group(1)), int(match.group(2)), int(match.group(3)))
    except ValueError:
        return False
    return True


def _as_text(value: Any) -> Any:
    # The contract reads a JSON number where a string is expected as its text.
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return json.dumps(value)
    return value


def classify(source: str, raw: bytes) -> tuple[str | None, dict[str, Any] | None]:
    """Return (quarantine reason or None, parsed row). Blank lines must be filtered by the caller."""
    try:
        row = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        return "malformed_json", None
    if not isinstance(row, dict):
        return "malformed_json", None
    fields = SOURCES[source]
    for field in fields:
        if field.required and (row.get(field.name) is None or row.get(field.name) == ""):
            return f"missing_field:{field.name}", row
    for field in fields:
        value = row.get(field.name)
        if value is None or field.kind not in ("timestamp", "date"):
            continue
        text = _as_text(value)
        valid = isinstance(text, str) and (
            is_valid_timestamp(text) if field.kind == "timestamp" else is_valid_date(text)
        )
        if not valid:
            return f"bad_timestamp:{field.name}", row
    for field in fields:
        value = row.get(field.name)
        if value is None:
            continue
        if field.kind == "integer" and (isinstance(value, bool) or not isinstance(value, int)):
            return f"bad_type:{field.name}", row
        if field.kind == "number" and (isinstance(value, bool) or not isinstance(value, (int, float))):
            return f"bad_type:{field.name}", row
        if field.kind == "boolean" and not isinstance(value, bool):
            return f"bad_type:{field.name}", row
    for field in fields:
        value = row.get(field.name)
        if value is None or field.allowed is None:
            continue
        if _as_text(value) not in field.allowed:
            return f"bad_enum:{field.name}", row
    return None, row


def natural_key(source: str, row: dict[str, Any]) -> tuple[Any, ...]:
    return tuple(_as_text(row.get(name)) for name in NATURAL_KEYS[source])
