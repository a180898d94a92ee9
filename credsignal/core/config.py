"""The one configuration object: environment, then CLI flags (or Airflow Variables), then defaults.

It is built at the edge (the CLI, a DAG task) and passed down; transforms never read the environment.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field, replace
from datetime import date
from pathlib import Path
from typing import Any, Mapping

ENV_PREFIX = "CREDSIGNAL_"
CWUR_PATH_ENV_VAR = "CREDSIGNAL_CWUR_PATH"


def default_cwur_path() -> Path:
    """Where the CWUR ranking table is when no path is configured: $CREDSIGNAL_CWUR_PATH, else the shared folder
    beside the repository (the table is read in place, never copied in)."""
    configured = os.environ.get(CWUR_PATH_ENV_VAR)
    if configured:
        return Path(configured)
    repository_root = Path(__file__).resolve().parents[2]
    return repository_root.parent / "shared" / "reference" / "cwurData.csv"


@dataclass(frozen=True)
class SourceFreshness:
    """A source's freshness, in the style of dbt's `freshness: {warn_after, error_after}`, counted in export days.

    A source with a freshness delivers every day (a dt folder with _SUCCESS, empty on a day without rows), so a
    missing day means the export is late. Its lag is as_of minus its newest complete export day; the source warns
    once the lag reaches warn_after days and blocks publishing once it reaches error_after days (as dbt, whose
    "older than N days" is the same thing measured at the end of the as_of day). A source without a freshness
    (None) is event-driven: it has a dt folder only on days with rows, and is never stale.
    """

    warn_after: int | None = 1
    error_after: int | None = 3

    def __post_init__(self) -> None:
        for name in ("warn_after", "error_after"):
            value = getattr(self, name)
            if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
                raise ValueError(f"freshness {name} must be a whole number of days >= 1 or null, not {value!r}")
        if self.warn_after is None and self.error_after is None:
            raise ValueError("a freshness needs warn_after or error_after; use null for an event-driven source")
        if self.warn_after is not None and self.error_after is not None and self.warn_after > self.error_after:
            raise ValueError(f"freshness warn_after ({self.warn_after}) is after error_after ({self.error_after})")


# Which sources deliver every day (docs/landing_contract.md). Assignments exist only on randomization days; skill
# measurements and learner records change on some days, not every day.
DEFAULT_SOURCE_FRESHNESS: Mapping[str, SourceFreshness | None] = {
    "learners": None,
    "certificates": SourceFreshness(warn_after=1, error_after=3),
    "certificate_views": SourceFreshness(warn_after=1, error_after=3),
    "experiment_assignments": None,
    "app_sessions": SourceFreshness(warn_after=1, error_after=3),
    "skill_scores": None,
}


def parse_source_freshness(text: str | Mapping[str, Any]) -> dict[str, SourceFreshness | None]:
    """The defaults, with the sources named in `text` replaced: a JSON object such as
    `{"app_sessions": {"warn_after": 1, "error_after": 2}, "learners": null}` (null: event-driven)."""
    given = json.loads(text) if isinstance(text, str) else text
    if not isinstance(given, Mapping):
        raise ValueError(f"source_freshness must be a JSON object of source -> freshness or null, not {text!r}")
    unknown = sorted(set(given) - set(DEFAULT_SOURCE_FRESHNESS))
    if unknown:
        raise ValueError(f"source_freshness names unknown source(s) {unknown}; sources: {sorted(DEFAULT_SOURCE_FRESHNESS)}")
    merged = dict(DEFAULT_SOURCE_FRESHNESS)
    for source, value in given.items():
        if value is None or isinstance(value, SourceFreshness):
            merged[source] = value
        elif isinstance(value, Mapping) and set(value) <= {"warn_after", "error_after"}:
            merged[source] = SourceFreshness(warn_after=value.get("warn_after"), error_after=value.get("error_after"))
        else:
            raise ValueError(f"source_freshness of {source}: expected null or {{\"warn_after\": days, "
                             f"\"error_after\": days}}, not {value!r}")
    return merged


@dataclass(frozen=True)
class Config:
    landing: Path = Path("var/landing")
    lake: Path = Path("var/lake")
    as_of: date | None = None
    spark_master: str = "local[2]"
    shuffle_partitions: int = 4
    driver_memory: str = "4g"
    experiment_id: str = "credential-feature-2022"
    # Per source: dbt-style freshness (warn_after / error_after days) for a source that delivers every day, None
    # for an event-driven one. as_of, when not given, is the newest complete day of the sources with a freshness.
    source_freshness: Mapping[str, SourceFreshness | None] = field(
        default_factory=lambda: dict(DEFAULT_SOURCE_FRESHNESS))
    # A published table whose row count moves by more than this against the previous snapshot blocks publishing.
    max_volume_change_pct: float = 20.0
    # A source whose quarantined share of an export day exceeds this warns.
    max_quarantine_share: float = 0.05
    # Export timestamps and dates outside [earliest_plausible_time, export day + latest_plausible_lead_days]
    # are quarantined (`out_of_range`): 9999-12-31 is a sentinel, not a date, and breaks pandas readers.
    earliest_plausible_time: date = date(2000, 1, 1)
    latest_plausible_lead_days: int = 1
    # Published snapshots kept for rollback, the live one included.
    keep_snapshots: int = 5
    # `credsignal cleanup` deletes restricted-zone partitions (quarantine by export day, silver by the day it was
    # parsed) older than this many days (docs/privacy.md).
    restricted_retention_days: int = 365
    # A step that finds the lake being written by another run waits this long for it, then fails naming the holder.
    lake_lock_wait_seconds: float = 600.0
    # The CWUR university ranking table; None means the ranker's default (../shared/reference/cwurData.csv).
    cwur_path: Path | None = None
    # Reference years of the LinkedIn education covariates, fixed by the study (appendix B.4), not derived from
    # as_of: currently_enrolled is an education entry ending after enrollment_reference_year ("later than 2022"),
    # years_since_latest_degree counts from degree_reference_year ("between 2023 and ...").
    enrollment_reference_year: int = 2022
    degree_reference_year: int = 2023
    # The JVM class archive (AppCDS) Spark drivers start from; None: the one `credsignal jvm-archive` (run by `make
    # install`) builds in the venv for its pyspark and this machine's Java. A missing file just starts without it.
    jvm_class_archive: Path | None = None
    extra_spark_conf: Mapping[str, str] = field(default_factory=dict)

    def daily_sources(self) -> tuple[str, ...]:
        """The sources with a freshness: they deliver every day, and as_of is resolved from them."""
        return tuple(source for source, freshness in self.source_freshness.items() if freshness is not None)

    def with_overrides(self, **overrides: Any) -> "Config":
        """Apply non-None overrides, coercing strings the way the environment does."""
        clean = {key: _coerce(key, value) for key, value in overrides.items() if value is not None}
        return replace(self, **clean)

    def to_env(self) -> dict[str, str]:
        """The CREDSIGNAL_* variables that make `from_env` give this Config back (paths made absolute): how a job
        started in another process (spark-submit's driver) gets the settings of the run that started it."""
        environ = {}
        for name in _FIELD_TYPES:
            value = getattr(self, name)
            if value is None:
                continue
            if isinstance(value, Path):
                text = str(value.resolve())
            elif isinstance(value, date):
                text = value.isoformat()
            elif name == "source_freshness":
                text = json.dumps({source: None if freshness is None else
                                   {"warn_after": freshness.warn_after, "error_after": freshness.error_after}
                                   for source, freshness in value.items()}, sort_keys=True)
            else:
                text = str(value)
            environ[ENV_PREFIX + name.upper()] = text
        return environ

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **overrides: Any) -> "Config":
        """Defaults, then CREDSIGNAL_* variables, then explicit overrides (CLI flags)."""
        environ = os.environ if environ is None else environ
        from_environment = {
            name: environ[ENV_PREFIX + name.upper()]
            for name in _FIELD_TYPES
            if environ.get(ENV_PREFIX + name.upper())
        }
        return cls().with_overrides(**from_environment).with_overrides(**overrides)


_FIELD_TYPES: dict[str, type] = {
    "landing": Path,
    "lake": Path,
    "as_of": date,
    "spark_master": str,
    "shuffle_partitions": int,
    "driver_memory": str,
    "experiment_id": str,
    "source_freshness": dict,
    "max_volume_change_pct": float,
    "max_quarantine_share": float,
    "earliest_plausible_time": date,
    "latest_plausible_lead_days": int,
    "keep_snapshots": int,
    "restricted_retention_days": int,
    "lake_lock_wait_seconds": float,
    "cwur_path": Path,
    "enrollment_reference_year": int,
    "degree_reference_year": int,
    "jvm_class_archive": Path,
}


def _coerce(name: str, value: Any) -> Any:
    wanted = _FIELD_TYPES.get(name)
    if name == "source_freshness" and isinstance(value, (str, Mapping)):
        return parse_source_freshness(value)
    if wanted is None or isinstance(value, wanted) or not isinstance(value, str):
        return value
    if wanted is date:
        return date.fromisoformat(value)
    return wanted(value)
