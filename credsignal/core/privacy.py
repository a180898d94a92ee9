"""Pseudonymous keys for the curated tables, and the restricted zone's retention (docs/privacy.md).

Curated rows are keyed by ``learner_key = HMAC-SHA256(key, "learner:" + learner_id)`` (hex), never by the platform's
ID. The key comes from, in this order:

1. the environment variable ``CREDSIGNAL_PSEUDONYM_KEY``;
2. the Airflow Connection ``credsignal_pseudonym`` (its password);
3. the lake's own key file, ``lake/restricted/pseudonym.key`` (mode 0600): made with a random key the first time a
   lake is keyed without a configured key (``credsignal run`` and the demo on a fresh lake), and used after that.

The fingerprint of the key that keyed a lake is kept beside it (not the key). A run whose key differs fails: keys of
two runs would not join, and a lost Connection must not silently re-key a production lake with a fresh random key.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import os
import secrets
import shutil
from collections.abc import Mapping
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd

from credsignal.core import lake

if TYPE_CHECKING:
    from pyspark.sql import Column

log = logging.getLogger(__name__)

KEY_ENV = "CREDSIGNAL_PSEUDONYM_KEY"
KEY_CONNECTION = "credsignal_pseudonym"
MIN_KEY_BYTES = 32
_KEY_ID_MESSAGE = b"credsignal pseudonym key id"


class PseudonymKeyError(RuntimeError):
    """No usable pseudonym key: too short, or not the key that keyed this lake."""


def keyed_hash(key: bytes, kind: str, value: str) -> str:
    """HMAC-SHA256 (hex) of ``"<kind>:<value>"``: the kind keeps a learner's and a certificate's keys apart."""
    return hmac.new(key, f"{kind}:{value}".encode("utf-8"), hashlib.sha256).hexdigest()


def pseudonym_column(column: "Column", key: bytes, *, kind: str) -> "Column":
    """`keyed_hash` of each value of `column` (null stays null), computed on the executors.

    A vectorized UDF rather than sha2 over literal pads: the pads are the key in all but name, and a literal shows
    in query plans, the Spark UI and event logs; the UDF's closure does not."""
    from pyspark.sql.functions import pandas_udf

    @pandas_udf("string")
    def keyed(values: pd.Series) -> pd.Series:
        return values.map(lambda value: None if value is None or value != value else keyed_hash(key, kind, value))

    return keyed(column)


def key_id(key: bytes) -> str:
    return hmac.new(key, _KEY_ID_MESSAGE, hashlib.sha256).hexdigest()[:16]


def _configured_key(environ: Mapping[str, str]) -> tuple[bytes, str] | None:
    if environ.get(KEY_ENV):
        return environ[KEY_ENV].encode("utf-8"), f"${KEY_ENV}"
    try:
        from airflow.sdk import BaseHook
        from airflow.sdk.exceptions import AirflowNotFoundException
    except ImportError:
        return None
    try:
        password = BaseHook.get_connection(KEY_CONNECTION).password
    except AirflowNotFoundException:
        return None
    if not password:
        raise PseudonymKeyError(f"the Airflow Connection {KEY_CONNECTION!r} has no password (the pseudonym key)")
    return password.encode("utf-8"), f"Airflow Connection {KEY_CONNECTION!r}"


def _write_private(path: Path, text: str) -> None:
    """Write `text` to a new file readable by its owner only (created 0600, never world-readable for a moment)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    os.chmod(path.parent, 0o700)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
        handle.write(text)


def pseudonym_key(lake_root: Path, environ: Mapping[str, str] | None = None) -> bytes:
    """The key that keys this lake's curated tables (see the module docstring for where it comes from)."""
    environ = os.environ if environ is None else environ
    key_file, id_file = lake.pseudonym_key_file(lake_root), lake.pseudonym_key_id_file(lake_root)
    configured = _configured_key(environ)
    if configured is not None:
        key, source = configured
    elif key_file.is_file():
        key, source = key_file.read_text(encoding="utf-8").strip().encode("utf-8"), str(key_file)
    elif id_file.is_file():
        raise PseudonymKeyError(
            f"no pseudonym key is configured ({KEY_ENV} or the Airflow Connection {KEY_CONNECTION!r}) and this lake "
            f"was keyed by one (key id {id_file.read_text().strip()}): configure that key again")
    else:
        _write_private(key_file, secrets.token_hex(32) + "\n")
        log.warning("no pseudonym key configured (%s or the Airflow Connection %r): made a random key for this lake "
                    "in %s (owner-only). Production configures its own key; see docs/privacy.md",
                    KEY_ENV, KEY_CONNECTION, key_file)
        key, source = key_file.read_text(encoding="utf-8").strip().encode("utf-8"), str(key_file)
    if len(key) < MIN_KEY_BYTES:
        raise PseudonymKeyError(f"the pseudonym key from {source} is {len(key)} bytes; at least {MIN_KEY_BYTES} needed")
    if id_file.is_file():
        expected = id_file.read_text(encoding="utf-8").strip()
        if key_id(key) != expected:
            raise PseudonymKeyError(
                f"the pseudonym key from {source} (key id {key_id(key)}) is not the one that keyed this lake "
                f"(key id {expected}): its keys would not join the published ones. Configure the lake's key, or use "
                "a new lake")
    else:
        _write_private(id_file, key_id(key) + "\n")
    return key


# ------------------------------------------------------------------------------------------------ retention

def _partition_day(partition: Path) -> date:
    """An export-day partition's day (dt=YYYY-MM-DD); any other partition's day is when it was written."""
    if partition.name.startswith("dt="):
        try:
            return date.fromisoformat(partition.name[len("dt="):])
        except ValueError:
            pass
    return datetime.fromtimestamp(partition.stat().st_mtime, tz=timezone.utc).date()


def expired_partitions(lake_root: Path, *, retention_days: int, today: date) -> list[Path]:
    """Partitions of the retention layers (quarantine by export day, silver by the day it was parsed) older than
    `retention_days` before `today`."""
    if retention_days < 0:
        raise ValueError(f"retention_days must be >= 0, got {retention_days}")
    cutoff = today - timedelta(days=retention_days)
    expired = []
    for layer in lake.RETENTION_LAYERS:
        root = lake_root / layer
        if not root.is_dir():
            continue
        for table in sorted(path for path in root.iterdir() if path.is_dir() and not path.name.startswith((".", "_"))):
            expired += [partition for partition in sorted(table.iterdir())
                        if partition.is_dir() and "=" in partition.name and _partition_day(partition) < cutoff]
    return expired


def delete_expired(lake_root: Path, *, retention_days: int, today: date, dry_run: bool = False) -> list[Path]:
    """Delete (or only list, with dry_run) the expired partitions of the restricted zone; returns them."""
    expired = expired_partitions(lake_root, retention_days=retention_days, today=today)
    for partition in expired:
        if not dry_run:
            shutil.rmtree(partition)
        log.info("%s %s (older than %d days)", "would delete" if dry_run else "deleted", partition, retention_days)
    return expired
