"""Writing lake tables so that a half-written output is never visible.

Spark writes a run's partitions into the run's staging folder; each finished partition then replaces the
published one by directory renames on the same filesystem. A crash leaves either the old partition, or (between
the two renames) no partition, never a mix; the staging folder is scratch and is removed afterwards.
"""

from __future__ import annotations

import logging
import os
import shutil
import uuid
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pyspark.sql import DataFrame

log = logging.getLogger(__name__)


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
    """
    from pyspark.sql import functions as F

    staged_table = staging / table.name
    (
        frame.repartition(F.col(column))
        .sortWithinPartitions(column, *sort_by)
        .write.mode("overwrite")
        .partitionBy(column)
        .parquet(str(staged_table))
    )
    for value in sorted(set(values)):
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
