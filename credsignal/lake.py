"""The lake's layout: every path a job reads or writes is named here, nowhere else."""

from __future__ import annotations

from datetime import date
from pathlib import Path

PLATFORM_SOURCES = (
    "learners",
    "certificates",
    "certificate_views",
    "experiment_assignments",
    "app_sessions",
    "skill_scores",
)
SUCCESS_MARKER = "_SUCCESS"


def partition_name(dt: date) -> str:
    return f"dt={dt.isoformat()}"


def landing_partition(landing: Path, source: str, dt: date) -> Path:
    return landing / "platform" / source / partition_name(dt)


def complete_export_days(landing: Path, source: str, *, until: date | None = None) -> list[date]:
    """Export days of a source whose `_SUCCESS` marker exists (an export still being written is skipped)."""
    root = landing / "platform" / source
    if not root.is_dir():
        return []
    days = []
    for child in root.iterdir():
        if not child.name.startswith("dt=") or not (child / SUCCESS_MARKER).exists():
            continue
        day = date.fromisoformat(child.name[3:])
        if until is None or day <= until:
            days.append(day)
    return sorted(days)


def export_files(landing: Path, source: str, dt: date) -> list[Path]:
    return sorted(landing_partition(landing, source, dt).glob("part-*.jsonl.gz"))


def bronze_table(lake: Path, source: str) -> Path:
    return lake / "bronze" / source


def quarantine_table(lake: Path, source: str) -> Path:
    return lake / "quarantine" / source


def ingest_report(lake: Path, source: str, dt: date) -> Path:
    return lake / "_reports" / "ingest" / source / f"{partition_name(dt)}.json"


def staging_root(lake: Path, run_id: str) -> Path:
    """Scratch space of one run; nothing under it is ever read by analysts."""
    return lake / "_staging" / run_id


SILVER_PROFILE_TABLES = (
    "profiles",
    "profile_positions",
    "profile_education",
    "profile_certifications",
    "profile_parse_failures",
)


def crawl_ids(landing: Path) -> list[str]:
    root = landing / "linkedin"
    if not root.is_dir():
        return []
    return sorted(child.name[len("crawl="):] for child in root.iterdir() if child.name.startswith("crawl="))


def crawl_files(landing: Path, crawl_id: str) -> list[Path]:
    return sorted((landing / "linkedin" / f"crawl={crawl_id}").glob("part-*.jsonl.gz"))


def silver_table(lake: Path, table: str) -> Path:
    return lake / "silver" / table


# ------------------------------------------------------------------------------------------------ curated
# What analysts read. `curated/<table>` is a relative symlink to one immutable snapshot folder, swapped
# atomically by jobs/publish.py; the layout and the reasoning are in docs/publishing.md.

CURATED_TABLES = (
    "learner_outcomes_full",
    "learner_outcomes_linkedin",
    "data_quality_report",
    "readout_estimates",
)
SNAPSHOTS_DIR = "_snapshots"


def curated_root(lake: Path) -> Path:
    return lake / "curated"


def curated_table(lake: Path, table: str) -> Path:
    """The path analysts read (`pandas.read_parquet`, DuckDB `read_parquet('<path>/*.parquet')`)."""
    return curated_root(lake) / table


def curated_snapshots(lake: Path, table: str) -> Path:
    return curated_root(lake) / SNAPSHOTS_DIR / table


def curated_snapshot(lake: Path, table: str, snapshot_id: str) -> Path:
    return curated_snapshots(lake, table) / snapshot_id


def published_manifest(lake: Path) -> Path:
    """Which snapshot of each table is published, by which run, and the history of publishes and rollbacks."""
    return curated_root(lake) / SNAPSHOTS_DIR / "_published.json"
