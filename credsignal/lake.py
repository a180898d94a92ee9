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


def data_quality_history(lake: Path) -> Path:
    """Every validation run's findings, appended and never rewritten: one Parquet file per run under
    `run_date=YYYY-MM-DD/` (the UTC day the run was validated). Outside curated/: it is the record of runs that
    were blocked as well as of those that were published."""
    return lake / "quality" / "data_quality_history"


def data_quality_history_file(lake: Path, run_date: date, run_id: str) -> Path:
    """One run's findings in the history (`run_id` already safe as a file name)."""
    return data_quality_history(lake) / f"run_date={run_date.isoformat()}" / f"part-{run_id}.parquet"


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


def parse_report(lake: Path, crawl_id: str) -> Path:
    """Counts by status of a parsed crawl, and the fingerprint of the files it was parsed from."""
    return lake / "_reports" / "parse" / f"crawl={crawl_id}.json"


# ------------------------------------------------------------------------------------------------ curated
# What analysts read. Every publish writes one immutable snapshot holding all of the run's tables,
#   curated/_snapshots/<snapshot_id>/<table>/part-*.parquet  +  curated/_snapshots/<snapshot_id>/_SNAPSHOT.json
# and promotes it by atomically replacing one relative symlink, curated/_current -> _snapshots/<snapshot_id>.
# curated/<table> are stable relative symlinks -> _current/<table>. jobs/publish.py writes all of it; the
# layout and the reasoning are in docs/publishing.md. Names starting with "_" or "." are skipped by pyarrow,
# pandas and Spark dataset discovery, which is why the machinery lives under such names.

CURATED_TABLES = (
    "learner_outcomes_full",
    "learner_outcomes_linkedin",
    "data_quality_report",
    "readout_estimates",
)
SNAPSHOTS_DIR = "_snapshots"
CURRENT_LINK = "_current"
SNAPSHOT_MANIFEST = "_SNAPSHOT.json"


def curated_root(lake: Path) -> Path:
    return lake / "curated"


def curated_table(lake: Path, table: str) -> Path:
    """The path analysts read (`pandas.read_parquet`, DuckDB `read_parquet('<path>/*.parquet')`)."""
    return curated_root(lake) / table


def curated_snapshots_root(lake: Path) -> Path:
    return curated_root(lake) / SNAPSHOTS_DIR


def curated_snapshot_dir(lake: Path, snapshot_id: str) -> Path:
    """One published snapshot: a folder per table plus its `_SNAPSHOT.json`."""
    return curated_snapshots_root(lake) / snapshot_id


def curated_snapshot(lake: Path, table: str, snapshot_id: str) -> Path:
    """`table` as published by snapshot `snapshot_id` (a fixed folder that never changes once written)."""
    return curated_snapshot_dir(lake, snapshot_id) / table


def curated_current_link(lake: Path) -> Path:
    """The symlink whose atomic replacement publishes (or rolls back) all curated tables at once."""
    return curated_root(lake) / CURRENT_LINK


def published_manifest(lake: Path) -> Path:
    """Which snapshot is published, by which run, and the history of publishes and rollbacks."""
    return curated_snapshots_root(lake) / "_published.json"
