"""The landing-zone contract (docs/landing_contract.md) as data, plus a line classifier.

The generator uses the classifier to record what ingestion must produce for every dirty line it plants
(`_truth/ingest_expected.json`). Keep this module in step with the contract document, field order included:
the first failing field in table order decides the quarantine reason.
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
    ARMS,
    CREDENTIAL_TYPES,
    EDUCATION_LEVELS,
    GENDERS,
    PRIMARY_DOMAINS,
)


@dataclass(frozen=True)
class Field:
    name: str
    kind: str  # string | timestamp | date | integer | number | boolean
    required: bool
    allowed: tuple[str, ...] | None = None


SOURCES: dict[str, tuple[Field, ...]] = {
    "learners": (
        Field("learner_id", "string", True),
        Field("country", "string", False),
        Field("education_level", "string", False, EDUCATION_LEVELS),
        Field("gender", "string", False, GENDERS),
        Field("linkedin_url", "string", False),
        Field("registered_at", "timestamp", True),
        Field("updated_at", "timestamp", True),
    ),
    "certificates": (
        Field("certificate_id", "string", True),
        Field("learner_id", "string", True),
        Field("course_id", "string", True),
        Field("course_name", "string", False),
        Field("primary_domain", "string", True, PRIMARY_DOMAINS),
        Field("credential_type", "string", True, CREDENTIAL_TYPES),
        Field("granted_at", "timestamp", True),
    ),
    "certificate_views": (
        Field("view_id", "string", True),
        Field("certificate_id", "string", True),
        Field("viewed_at", "timestamp", True),
        Field("referrer", "string", False),
        Field("by_owner", "boolean", True),
    ),
    "experiment_assignments": (
        Field("learner_id", "string", True),
        Field("experiment_id", "string", True),
        Field("batch", "integer", True),
        Field("arm", "string", True, ARMS),
        Field("randomized_at", "date", True),
        Field("stratum", "string", True),
    ),
    "app_sessions": (
        Field("learner_id", "string", True),
        Field("started_at", "timestamp", True),
        Field("platform", "string", True, PLATFORMS),
    ),
    "skill_scores": (
        Field("learner_id", "string", True),
        Field("skill", "string", True),
        Field("score", "number", True),
        Field("measured_at", "timestamp", True),
    ),
}

NATURAL_KEYS: dict[str, tuple[str, ...]] = {
    "learners": ("learner_id", "updated_at"),
    "certificates": ("certificate_id",),
    "certificate_views": ("view_id",),
    "experiment_assignments": ("experiment_id", "learner_id"),
    "app_sessions": ("learner_id", "started_at", "platform"),
    "skill_scores": ("learner_id", "skill", "measured_at"),
}

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
