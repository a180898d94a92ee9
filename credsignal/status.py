"""A quick look at a lake without Spark: every table's partitions and row counts, from Parquet footers."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

LAYERS = ("bronze", "quarantine", "silver", "curated")


@dataclass(frozen=True)
class TableStatus:
    layer: str
    name: str
    path: Path
    partitions: int
    rows: int


def _visible(path: Path) -> bool:
    return not path.name.startswith((".", "_"))


def table_status(layer: str, table: Path) -> TableStatus:
    import pyarrow.parquet as pq

    files = [f for f in table.rglob("*.parquet") if all(_visible(p) for p in f.relative_to(table).parents if p != Path("."))]
    files = [f for f in files if _visible(f)]
    rows = sum(pq.ParquetFile(f).metadata.num_rows for f in files)
    partitions = len({f.parent for f in files})
    return TableStatus(layer, table.name, table, partitions, rows)


def lake_status(lake: Path) -> list[TableStatus]:
    tables = []
    for layer in LAYERS:
        root = lake / layer
        if root.is_dir():
            tables += [table_status(layer, t) for t in sorted(root.iterdir()) if t.is_dir() and _visible(t)]
    return tables


def render(lake: Path) -> str:
    tables = lake_status(lake)
    if not tables:
        return f"no tables under {lake}"
    lines = [f"lake {lake.resolve()}", f"  {'layer':<11}{'table':<30}{'partitions':>11}{'rows':>12}"]
    lines += [f"  {t.layer:<11}{t.name:<30}{t.partitions:>11}{t.rows:>12}" for t in tables]
    return "\n".join(lines)
