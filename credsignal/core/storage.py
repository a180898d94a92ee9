"""Writing lake tables so that a half-written output is never visible.

Spark writes a run's partitions into the run's staging folder; each finished partition then replaces the
published one by directory renames on the same filesystem. A crash leaves either the old partition, or (between
the two renames) no partition, never a mix; the staging folder is scratch and is removed afterwards.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import os
import shutil
import socket
import time
import uuid
from collections.abc import Iterable, Iterator, Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

from credsignal.core import lake

if TYPE_CHECKING:
    from pyspark.sql import DataFrame

log = logging.getLogger(__name__)


def write_json_atomically(target: Path, payload: Any) -> None:
    """Write `payload` as JSON to `target` through a temporary file renamed over it: a reader sees the whole file
    or none, and after a crash the file is the old one or the new one (both the file and its folder are fsynced)."""
    target.parent.mkdir(parents=True, exist_ok=True)
    temporary = target.with_name(f".{target.name}.{uuid.uuid4().hex[:8]}")
    with open(temporary, "w", encoding="utf-8") as handle:
        json.dump(payload, handle, indent=2, sort_keys=True, default=str)
        handle.write("\n")
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(temporary, target)
    folder = os.open(target.parent, os.O_RDONLY)
    try:
        os.fsync(folder)
    finally:
        os.close(folder)


def overwrite_partitions(
    frame: "DataFrame",
    table: Path,
    column: str,
    values: Iterable[Any],
    *,
    staging: Path,
    sort_by: Sequence[str],
) -> None:
    """Replace exactly the `<column>=<value>` partitions of `table` listed in `values` with `frame`'s rows.

    A listed value with no rows in `frame` ends up with no partition (stale rows from an earlier run go away);
    partitions not listed are untouched. Rows are sorted and files named deterministically, so re-running
    the same input gives the same files.

    With one value (a nightly day, a crawl) the rows are gathered by one task without a shuffle: the same one
    sorted file as a shuffle by `column` gives. The callers hand in cached frames, so that task only reads.
    """
    from pyspark.sql import functions as F

    values = sorted(set(values))
    staged_table = staging / table.name
    gathered = frame.coalesce(1) if len(values) == 1 else frame.repartition(F.col(column))
    (
        gathered
        .sortWithinPartitions(column, *sort_by)
        .write.mode("overwrite")
        .partitionBy(column)
        .parquet(str(staged_table))
    )
    for value in values:
        name = f"{column}={value.isoformat() if hasattr(value, 'isoformat') else value}"
        staged = staged_table / name
        if staged.is_dir():
            _normalise_file_names(staged)
        replace_directory(staged if staged.is_dir() else None, table / name)
    shutil.rmtree(staged_table, ignore_errors=True)


def _normalise_file_names(partition: Path) -> None:
    """Keep only data files, named part-00000.parquet, part-00001.parquet, ... in Spark's order."""
    for path in sorted(partition.iterdir()):
        if path.name.startswith((".", "_")):
            path.unlink()
    for index, path in enumerate(sorted(partition.glob("part-*.parquet"))):
        path.rename(partition / f"part-{index:05d}.parquet")


def replace_directory(new: Path | None, final: Path) -> None:
    """Swap `new` in as `final` (or just remove `final` when `new` is None) using renames only."""
    final.parent.mkdir(parents=True, exist_ok=True)
    # Dot-prefixed names are invisible to Spark, pyarrow and DuckDB readers of the table.
    retired = final.with_name(f".{final.name}.retired-{uuid.uuid4().hex}")
    if final.exists():
        os.rename(final, retired)
    if new is not None:
        os.rename(new, final)
    if retired.exists():
        shutil.rmtree(retired)


# ------------------------------------------------------------------------------------------------ one writer

class LakeBusy(RuntimeError):
    """Another process holds the lake's writer lock; the message names it."""


_held: dict[Path, int] = {}  # lock file -> depth, for the locks this process holds (a step inside `run`)


def _holder_text(lock_file: Path) -> str:
    try:
        holder = json.loads(lock_file.read_text(encoding="utf-8") or "{}")
    except (OSError, ValueError):
        holder = {}
    if not holder:
        return "another process (it has not written its name yet)"
    return (f"pid {holder.get('pid')} on {holder.get('host')}, run {holder.get('run_id') or '-'}, "
            f"step {holder.get('step')}, since {holder.get('since')}")


@contextlib.contextmanager
def lake_lock(lake_root: Path, *, step: str, run_id: str | None = None,
              wait_seconds: float | None = None, poll_seconds: float = 0.5) -> Iterator[None]:
    """Hold the lake's one writer lock (lake.writer_lock) while writing to the lake.

    A second writer waits up to `wait_seconds` (None: as long as it takes) and then raises LakeBusy naming the
    holder: pid, host, run id, step and since when. The kernel releases the lock of a process that dies. Nested
    use in one process (a step inside `credsignal run`) holds it once.
    """
    lock_file = lake.writer_lock(Path(lake_root)).resolve()
    if _held.get(lock_file):
        _held[lock_file] += 1
        try:
            yield
        finally:
            _held[lock_file] -= 1
        return
    lock_file.parent.mkdir(parents=True, exist_ok=True)
    deadline = None if wait_seconds is None else time.monotonic() + wait_seconds
    with open(lock_file, "a+", encoding="utf-8") as handle:
        waiting_logged = False
        while True:
            try:
                fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                holder = _holder_text(lock_file)
                if deadline is not None and time.monotonic() >= deadline:
                    raise LakeBusy(f"the lake {lake_root} is being written by {holder}; {step} did not start "
                                   f"(waited {wait_seconds:g} s). Wait for it to finish, then run again") from None
                if not waiting_logged:
                    log.info("%s waits for the lake %s, being written by %s", step, lake_root, holder)
                    waiting_logged = True
                time.sleep(poll_seconds)
        try:
            handle.seek(0)
            handle.truncate()
            handle.write(json.dumps({"pid": os.getpid(), "host": socket.gethostname(), "run_id": run_id, "step": step,
                                     "since": datetime.now(timezone.utc).isoformat(timespec="seconds")}))
            handle.flush()
            _held[lock_file] = 1
            yield
        finally:
            _held.pop(lock_file, None)
            handle.seek(0)
            handle.truncate()
            handle.flush()
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


SPARK_ROW_METADATA = b"org.apache.spark.sql.parquet.row.metadata"


def footer_descriptions(schema: Any) -> dict[str, str]:
    """column -> description from a Parquet file's schema as pyarrow reads it (`pq.read_schema`): the Arrow field
    metadata pyarrow and pandas writers keep, else the StructField metadata of the row schema Spark keeps in the
    footer (the feature job writes the contract's descriptions that way). Columns without one are left out."""
    described = {f.name: f.metadata[b"description"].decode("utf-8") for f in schema
                 if f.metadata and b"description" in f.metadata}
    spark_schema = (schema.metadata or {}).get(SPARK_ROW_METADATA)
    if spark_schema:
        for column in json.loads(spark_schema).get("fields", []):
            text = column.get("metadata", {}).get("description")
            if text and column["name"] not in described:
                described[column["name"]] = text
    return described
