"""A quick look at a lake without Spark: every table's partitions and row counts, from Parquet footers."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

LAYERS = ("bronze", "quarantine", "silver", "restricted", "curated")


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


HEADLINE_RATES = {
    "learner_outcomes_full": ("views_all", "views_linkedin", "views_linkedin_by_others"),
    "learner_outcomes_linkedin": ("credential_shared", "new_job", "new_job_in_scope"),
}


def render_published(lake: Path) -> str:
    """The live snapshot: where it is, its row counts, and the headline rates by arm."""
    from jobs import publish

    current = publish.current_snapshot(lake)
    if current is None:
        return "nothing published yet"
    lines = [f"published snapshot {current.snapshot_id} (as_of {current.as_of}, run {current.run_id})"]
    for table, rows in sorted(current.rows.items()):
        lines.append(f"  {table:<28}{rows:>9} rows  {lake.resolve() / 'curated' / table}")
    for table, columns in HEADLINE_RATES.items():
        if table not in current.rows:
            continue
        frame = publish.read_published(lake, table, snapshot=current.snapshot_id)
        columns = [column for column in columns if column in frame]
        by_arm = frame.groupby("treatment")[columns].mean()
        lines.append(f"  {table}: share by arm (n control {int((frame.treatment == 0).sum())}, "
                     f"treatment {int((frame.treatment == 1).sum())})")
        for column in columns:
            control, treated = by_arm[column].get(0, float("nan")), by_arm[column].get(1, float("nan"))
            lines.append(f"    {column:<28} control {control:7.2%}   treatment {treated:7.2%}")
    return "\n".join(lines)
