"""The one configuration object: environment, then CLI flags (or Airflow Variables), then defaults.

It is built at the edge (the CLI, a DAG task) and passed down; transforms never read the environment.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field, replace
from datetime import date
from pathlib import Path
from typing import Any, Mapping

ENV_PREFIX = "CREDSIGNAL_"


@dataclass(frozen=True)
class Config:
    landing: Path = Path("var/landing")
    lake: Path = Path("var/lake")
    as_of: date | None = None
    spark_master: str = "local[2]"
    shuffle_partitions: int = 4
    driver_memory: str = "4g"
    experiment_id: str = "credential-feature-2022"
    # Export days older than this many days before as_of (or today) make the freshness check fail.
    freshness_lag_days: int = 3
    # A published table whose row count moves by more than this against the previous snapshot blocks publishing.
    max_volume_change_pct: float = 20.0
    # A source whose quarantined share of an export day exceeds this warns.
    max_quarantine_share: float = 0.05
    # Published snapshots kept for rollback, the live one included.
    keep_snapshots: int = 5
    # `credsignal cleanup` deletes restricted-zone partitions (quarantine by export day, silver by the day it was
    # parsed) older than this many days (docs/privacy.md).
    restricted_retention_days: int = 365
    # A step that finds the lake being written by another run waits this long for it, then fails naming the holder.
    lake_lock_wait_seconds: float = 600.0
    # The CWUR university ranking table; None means the ranker's default (../shared/reference/cwurData.csv).
    cwur_path: Path | None = None
    extra_spark_conf: Mapping[str, str] = field(default_factory=dict)

    def with_overrides(self, **overrides: Any) -> "Config":
        """Apply non-None overrides, coercing strings the way the environment does."""
        clean = {key: _coerce(key, value) for key, value in overrides.items() if value is not None}
        return replace(self, **clean)

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
    "freshness_lag_days": int,
    "max_volume_change_pct": float,
    "max_quarantine_share": float,
    "keep_snapshots": int,
    "restricted_retention_days": int,
    "lake_lock_wait_seconds": float,
    "cwur_path": Path,
}


def _coerce(name: str, value: Any) -> Any:
    wanted = _FIELD_TYPES.get(name)
    if wanted is None or isinstance(value, wanted) or not isinstance(value, str):
        return value
    if wanted is date:
        return date.fromisoformat(value)
    return wanted(value)
