"""The lake's layout: every path a job reads or writes is named here, nowhere else."""

from __future__ import annotations

import os
import re
import stat
from collections.abc import Iterable
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
_PARTITION_PREFIX = "dt="
_PARTITION_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


class MalformedPartitionError(ValueError):
    """A `dt=` folder of the landing zone whose name is not a real `dt=YYYY-MM-DD` day."""


class LakePathError(RuntimeError):
    """A lake path that would be written resolves outside the lake root (a symlink pointing away)."""


def partition_name(dt: date) -> str:
    return f"dt={dt.isoformat()}"


def landing_partition(landing: Path, source: str, dt: date) -> Path:
    return landing / "platform" / source / partition_name(dt)


def complete_export_days(landing: Path, source: str, *, until: date | None = None) -> list[date]:
    """Export days of a source whose `_SUCCESS` marker exists (an export still being written is skipped).

    Raises MalformedPartitionError naming the source and the folder when a `dt=` folder's name is not a day.
    """
    root = landing / "platform" / source
    if not root.is_dir():
        return []
    days = []
    for child in root.iterdir():
        if not child.name.startswith(_PARTITION_PREFIX):
            continue
        day = _partition_day(child.name)
        if day is None:
            raise MalformedPartitionError(
                f"source {source}: landing folder platform/{source}/{child.name} is not a dt=YYYY-MM-DD day; "
                f"nothing of {source} was ingested (rename or remove the folder)"
            )
        if (child / SUCCESS_MARKER).exists() and (until is None or day <= until):
            days.append(day)
    return sorted(days)


def _partition_day(name: str) -> date | None:
    text = name[len(_PARTITION_PREFIX):]
    if not _PARTITION_DATE.fullmatch(text):
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        return None


def export_files(landing: Path, source: str, dt: date) -> list[Path]:
    return sorted(landing_partition(landing, source, dt).glob("part-*.jsonl.gz"))


def refused_landing_file(landing: Path, path: Path) -> str | None:
    """Why a file found in the landing zone must not be read (None when it may be): it resolves outside the
    landing root (a symlink, or a symlinked folder, pointing away), or it is not a regular file (a folder, a
    FIFO that would block the reader, a device)."""
    try:
        target = Path(os.path.realpath(path, strict=True))
    except OSError as error:
        return f"cannot be resolved ({type(error).__name__})"
    if not target.is_relative_to(Path(os.path.realpath(landing))):
        return "resolves outside the landing zone"
    if not stat.S_ISREG(target.stat().st_mode):
        return "is not a regular file"
    return None


def ingested_days(lake: Path, source: str) -> list[date]:
    """Export days of a source that reached bronze (each has its ingest report)."""
    folder = ingest_report(lake, source, date(2000, 1, 1)).parent
    if not folder.is_dir():
        return []
    return sorted(date.fromisoformat(path.stem[len(_PARTITION_PREFIX):]) for path in folder.glob("dt=*.json"))


def refuse_paths_outside(lake: Path, paths: Iterable[Path]) -> None:
    """Raise LakePathError naming the first path that resolves outside the lake root (checked before writing,
    so a symlink planted in the lake cannot redirect a write elsewhere). The lake root itself may be a link."""
    root = Path(os.path.realpath(lake))
    for path in paths:
        if not Path(os.path.realpath(path)).is_relative_to(root):
            raise LakePathError(f"refusing to write {path}: it resolves outside the lake root {lake}")


def bronze_table(lake: Path, source: str) -> Path:
    return lake / "bronze" / source


def quarantine_table(lake: Path, source: str) -> Path:
    return lake / "quarantine" / source


def ingest_report(lake: Path, source: str, dt: date) -> Path:
    return lake / "_reports" / "ingest" / source / f"{partition_name(dt)}.json"


def writer_lock(lake: Path) -> Path:
    """The lake's one writer lock (credsignal.core.storage.lake_lock): every step that writes holds it; the file also
    says who holds it (pid, host, run id, since when)."""
    return lake / "_writer.lock"


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


def job_result(lake: Path, name: str) -> Path:
    """Where a job submitted through spark-submit leaves its result (JSON) for the run that submitted it."""
    return lake / "_staging" / "_results" / f"{name}.json"


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


# ------------------------------------------------------------------------------------------------ restricted
# The restricted zone holds personal data: raw lines and raw URLs (quarantine, silver), platform IDs (bronze), the
# pseudonym key and the crosswalk from pseudonymous keys to platform IDs (restricted/). Only the pipeline and its
# operators read it; analysts read curated/. docs/privacy.md says who reads what and how long it is kept.

RESTRICTED_LAYERS = ("bronze", "quarantine", "silver", "restricted")
# Layers whose old partitions `credsignal cleanup` deletes after Config.restricted_retention_days.
RETENTION_LAYERS = ("quarantine", "silver")


def restricted_root(lake: Path) -> Path:
    return lake / "restricted"


def learner_crosswalk(lake: Path) -> Path:
    """learner_key -> learner_id (the platform's ID) of the learners in the latest feature run."""
    return restricted_root(lake) / "learner_crosswalk"


def pseudonym_key_file(lake: Path) -> Path:
    """A per-lake random pseudonym key, made only when no key is configured and the lake has none yet."""
    return restricted_root(lake) / "pseudonym.key"


def pseudonym_key_id_file(lake: Path) -> Path:
    """The fingerprint of the key that keyed this lake (not the key), so that a changed key is refused."""
    return restricted_root(lake) / "pseudonym_key_id"


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


def match_report(tables_dir: Path) -> Path:
    """The feature job's profile match report, beside the tables it describes (a run's staging folder, or the
    snapshot that published them); under "_reports", so no reader takes it for a table."""
    return tables_dir / "_reports" / "profile_match.json"


def snapshot_match_report(lake: Path, snapshot_id: str) -> Path:
    """The match report of the run that a snapshot published, kept beside the snapshot for the readout's attrition
    table."""
    return match_report(curated_snapshot_dir(lake, snapshot_id))


def validation_report_dir(lake: Path, run_id: str) -> Path:
    """Where a run's validation report stays, published or not (`run_id` made safe for a folder name)."""
    return lake / "_reports" / "validation" / run_id


def curated_current_link(lake: Path) -> Path:
    """The symlink whose atomic replacement publishes (or rolls back) all curated tables at once."""
    return curated_root(lake) / CURRENT_LINK


def published_manifest(lake: Path) -> Path:
    """Which snapshot is published, by which run, and the history of publishes and rollbacks."""
    return curated_snapshots_root(lake) / "_published.json"
