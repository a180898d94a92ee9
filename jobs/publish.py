"""Publish step (write-audit-publish): promote a run's validated staged tables to lake/curated/ atomically.

Layout (names from credsignal.core.lake; the reasoning is in docs/publishing.md)::

    lake/curated/
      learner_outcomes_full -> _current/learner_outcomes_full     stable relative symlinks, made once
      _current -> _snapshots/<snapshot_id>                         THE pointer: replaced atomically
      _snapshots/
        <snapshot_id>/                                             immutable once renamed into place
          _SNAPSHOT.json                                           run_id, as_of, tables, files: rows, bytes, footer hash
          learner_outcomes_full/part-00000-<write id>.parquet     the staged file itself (a hard link)
        _published.json                                           history of publishes and rollbacks
        .tmp-<snapshot_id>-<pid>/                                  a snapshot being built (never read)

Publishing a run commits the staged files as they are; the feature job (Spark) already wrote them sorted,
compacted, zstd-compressed and with the contract's column descriptions in the footer. Publish time depends on
the number of files, not on their size:
1. checks every staged table (a finished write; every Parquet file's footer readable, one schema across its
   files; on the lake's filesystem) and every curated/<table> path before touching anything, reading footers
   only, never data pages, so bad input raises a clear error and changes nothing;
2. under the lake's writer lock (credsignal.core.storage.lake_lock: one writer at a time), removes what an
   earlier killed publish left behind;
3. hard-links each staged Parquet file into `_snapshots/.tmp-<id>-<pid>/<table>/` under a name unique to that
   write (`part-<n>-<write id>.parquet`), writes `_SNAPSHOT.json` (rows, bytes and footer hash per file), fsyncs,
   and renames the folder into place (a half-built snapshot is never visible). The staged folder stays whole
   until the caller drops it, so a publish killed at any point can be rerun from it;
4. tables of the live snapshot that this run does not stage (e.g. a readout published later than the study
   tables) are carried into the new snapshot as hard links, so every snapshot is complete on its own;
5. promotes ALL tables at once by pointing `_current` at the new snapshot (a temp symlink os.replace'd over
   it: rename(2) is atomic), creates missing `curated/<table>` links, appends to `_published.json`;
6. keeps the newest `keep` snapshots (the live one always) and deletes the rest.

File names carry the identity of the write that made them (a hash of the staged files' names, sizes, inodes and
modification times), so two snapshots share a file name only when they hold the very same files: a reader whose
directory listing straddles a promotion reads one complete snapshot or fails (FileNotFoundError; with pyarrow
possibly an empty frame without columns) and reads again, never a mix of two or a part of one.
`read_published` resolves `_current` once and so never straddles; run id, as-of and snapshot id come from the
snapshot's `_SNAPSHOT.json`.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import logging
import os
import re
import shutil
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from datetime import date, datetime, timezone
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from credsignal.core import lake as lake_layout
from credsignal.core.storage import lake_lock, write_json_atomically

log = logging.getLogger(__name__)

_TABLE_NAME = re.compile(r"[a-z][a-z0-9_]*")
_TMP_PREFIX = ".tmp-"
_DELETE_PREFIX = ".delete-"
_SNAPSHOT_ID_MAX = 100
_PARQUET_MAGIC = b"PAR1"

Fault = Callable[[str], None]


class PublishError(RuntimeError):
    """Publishing or rolling back refused; nothing visible to readers changed."""


@dataclass(frozen=True)
class FileInfo:
    name: str  # relative to the table's folder
    rows: int
    bytes: int
    footer_sha256: str | None = None  # the Parquet footer: schema, row groups, offsets, statistics (None: older manifests)

    @classmethod
    def from_json(cls, payload: Mapping) -> "FileInfo":
        # Manifests written before publish stopped rewriting also carry sha256/data_sha256 of the whole file.
        return cls(name=payload["name"], rows=payload["rows"], bytes=payload["bytes"],
                   footer_sha256=payload.get("footer_sha256"))


@dataclass(frozen=True)
class TableInfo:
    rows: int
    files: tuple[FileInfo, ...]
    carried_from: str | None = None  # the snapshot whose files were carried over (this run did not stage it)


@dataclass(frozen=True)
class SnapshotInfo:
    snapshot_id: str
    run_id: str
    as_of: date
    created_at: str
    sequence: int
    tables: Mapping[str, TableInfo]
    live: bool = False

    @property
    def rows(self) -> dict[str, int]:
        """Row count per table."""
        return {table: info.rows for table, info in self.tables.items()}

    def __str__(self) -> str:
        """One line for listings: `*` if live, id, as-of, creation time, rows per table."""
        tables = ", ".join(f"{t} {i.rows}" + (" (carried)" if i.carried_from else "") for t, i in self.tables.items())
        return f"{'*' if self.live else ' '} {self.snapshot_id:<45} as_of {self.as_of}  {self.created_at}  {tables}"

    def to_json(self) -> dict:
        payload = asdict(self)
        payload.pop("live")
        payload["as_of"] = self.as_of.isoformat()
        return payload

    @classmethod
    def from_json(cls, payload: Mapping, *, live: bool = False) -> "SnapshotInfo":
        tables = {
            name: TableInfo(rows=t["rows"], files=tuple(FileInfo.from_json(f) for f in t["files"]),
                            carried_from=t.get("carried_from"))
            for name, t in payload["tables"].items()
        }
        return cls(snapshot_id=payload["snapshot_id"], run_id=payload["run_id"],
                   as_of=date.fromisoformat(payload["as_of"]), created_at=payload["created_at"],
                   sequence=int(payload["sequence"]), tables=tables, live=live)


@dataclass(frozen=True)
class PublishedSnapshot:
    """What a publish or rollback did: the snapshot now live, the one live before, snapshots deleted."""
    action: str  # "publish", "republish" (an identical snapshot of the same run already existed) or "rollback"
    snapshot: SnapshotInfo
    previous: str | None
    pruned: tuple[str, ...] = field(default_factory=tuple)

    @property
    def snapshot_id(self) -> str:
        return self.snapshot.snapshot_id

    @property
    def rows(self) -> dict[str, int]:
        return self.snapshot.rows


# ------------------------------------------------------------------------------------------------ ids, paths

def snapshot_id_for(run_id: str) -> str:
    """A filesystem-safe snapshot id from an Airflow run id.

    `manual__2023-09-30T00:00:00+00:00` -> `manual__2023-09-30T000000+0000`: ":" is dropped, anything outside
    [A-Za-z0-9_.+-] becomes "_", and a leading "." or "_" (names readers skip) is stripped.
    """
    cleaned = re.sub(r"[^A-Za-z0-9_.+-]", "_", run_id.replace(":", "")).lstrip("._")
    if not cleaned:
        raise PublishError(f"run id {run_id!r} has no filesystem-safe characters to name a snapshot")
    return cleaned[:_SNAPSHOT_ID_MAX]


def _snapshots_root(lake_root: Path) -> Path:
    return lake_layout.curated_snapshots_root(lake_root)


def _live_id(lake_root: Path) -> str | None:
    """The snapshot `_current` points at, read once (a single readlink: never half of a promotion)."""
    try:
        target = os.readlink(lake_layout.curated_current_link(lake_root))
    except FileNotFoundError:
        return None
    except OSError as error:
        raise PublishError(f"{lake_layout.curated_current_link(lake_root)} is not a symlink: {error}") from error
    return Path(target).name


def _read_info(snapshot_dir: Path, *, live: bool = False) -> SnapshotInfo | None:
    try:
        payload = json.loads((snapshot_dir / lake_layout.SNAPSHOT_MANIFEST).read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    return SnapshotInfo.from_json(payload, live=live)


# ------------------------------------------------------------------------------------------------ durability

def _fsync_path(path: Path, *, directory: bool = False) -> None:
    fd = os.open(path, os.O_RDONLY | (os.O_DIRECTORY if directory else 0))
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _symlink_atomically(link: Path, target: str) -> None:
    """Make `link` point at `target` (relative) in one rename: readers see the old or the new target."""
    tmp = link.with_name(f".{link.name}.tmp-{os.getpid()}")
    with contextlib.suppress(FileNotFoundError):
        tmp.unlink()
    os.symlink(target, tmp)
    os.replace(tmp, link)
    _fsync_path(link.parent, directory=True)


def _clean_leftovers(lake_root: Path) -> list[Path]:
    """Remove what a killed publish left: temp snapshot folders, half-deleted snapshots, temp links and files.

    Called with the lock held, so nothing found here belongs to a live publisher.
    """
    removed = []
    root = _snapshots_root(lake_root)
    for child in sorted(root.iterdir()):
        if child.name.startswith((_TMP_PREFIX, _DELETE_PREFIX)) and child.is_dir() and not child.is_symlink():
            shutil.rmtree(child)
            removed.append(child)
        elif child.name.startswith(".") and ".tmp-" in child.name and child.is_file():
            child.unlink()
            removed.append(child)
    curated = lake_layout.curated_root(lake_root)
    for child in sorted(curated.iterdir()):
        if child.name.startswith(".") and ".tmp-" in child.name and child.is_symlink():
            child.unlink()
            removed.append(child)
    for path in removed:
        log.warning("removed %s, left behind by an interrupted publish", path)
    return removed


# ------------------------------------------------------------------------------------------------ staged input

@dataclass(frozen=True)
class StagedTable:
    """A checked staged table: its Parquet files and, for each, what the snapshot records under which name."""
    table: str
    folder: Path
    files: tuple[tuple[Path, FileInfo], ...]

    @property
    def rows(self) -> int:
        return sum(info.rows for _, info in self.files)


def _staged_files(table: str, path: Path) -> list[Path]:
    """The Parquet files of a staged table folder, after checking the folder is a finished write."""
    if not path.exists():
        raise PublishError(f"staged table {table!r}: {path} does not exist")
    if not path.is_dir():
        raise PublishError(f"staged table {table!r}: {path} is not a folder of Parquet files")
    if (path / "_temporary").exists():
        raise PublishError(f"staged table {table!r}: {path} holds a _temporary folder (an unfinished Spark write)")
    files = sorted(p for p in path.rglob("*.parquet") if p.is_file()
                   and not any(part.startswith((".", "_")) for part in p.relative_to(path).parts))
    if not files:
        raise PublishError(f"staged table {table!r}: {path} holds no Parquet files")
    spark_written = any(p.with_name(f".{p.name}.crc").exists() for p in files)
    if spark_written and not (path / lake_layout.SUCCESS_MARKER).exists():
        raise PublishError(f"staged table {table!r}: {path} was written by Spark but has no "
                           f"{lake_layout.SUCCESS_MARKER} marker (an unfinished write)")
    return files


def _footer(table: str, path: Path) -> tuple[pq.FileMetaData, str]:
    """The file's parsed Parquet footer and the sha256 of its bytes; reads the footer only, never a data page."""
    try:
        size = path.stat().st_size
        with open(path, "rb") as handle:
            if size < 12:
                raise PublishError(f"staged table {table!r}: {path} is too short to be Parquet ({size} bytes)")
            handle.seek(size - 8)
            tail = handle.read(8)
            length = int.from_bytes(tail[:4], "little")
            if tail[4:] != _PARQUET_MAGIC or length + 12 > size:
                raise PublishError(f"staged table {table!r}: {path} does not end in a Parquet footer "
                                   f"(a truncated or half-written file)")
            handle.seek(size - 8 - length)
            footer = handle.read(length)
        metadata = pq.read_metadata(path)
    except (pa.ArrowException, OSError) as error:
        raise PublishError(f"staged table {table!r}: cannot read the Parquet footer of {path}: {error}") from error
    return metadata, hashlib.sha256(footer + tail).hexdigest()


def _write_id(folder: Path, files: Sequence[Path]) -> str:
    """Who wrote these files, not what they hold: names, sizes, inodes and modification times. A rewrite gives a
    new id; the same staged files (a retried publish) the same one."""
    identity = hashlib.sha256()
    for path in files:
        stat = path.stat()
        identity.update(f"{path.relative_to(folder).as_posix()}\0{stat.st_size}\0{stat.st_ino}\0"
                        f"{stat.st_mtime_ns}\n".encode())
    return identity.hexdigest()[:16]


def check_staged(table: str, path: Path) -> StagedTable:
    """Check a staged table from its Parquet footers (a finished write, readable footers, one schema for all its
    files) and name each file as the snapshot will. Raises PublishError naming the table and path."""
    if not _TABLE_NAME.fullmatch(table):
        raise PublishError(f"table name {table!r} is not a lowercase identifier")
    folder = Path(path)
    files = _staged_files(table, folder)
    footers = [(source, *_footer(table, source)) for source in files]
    schema = footers[0][1].schema.to_arrow_schema().remove_metadata()
    for source, metadata, _ in footers[1:]:
        other = metadata.schema.to_arrow_schema().remove_metadata()
        if not other.equals(schema):
            # The files are published as they are, so readers would see whichever schema they open first.
            raise PublishError(f"staged table {table!r}: {source} has columns {other} but {files[0]} has "
                               f"{schema}; the files of a table must share one schema")
    write_id = _write_id(folder, files)
    named = []
    for index, (source, metadata, footer_hash) in enumerate(footers):
        name = (source.relative_to(folder).parent / f"part-{index:05d}-{write_id}.parquet").as_posix()
        named.append((source, FileInfo(name=name, rows=metadata.num_rows, bytes=source.stat().st_size,
                                       footer_sha256=footer_hash)))
    return StagedTable(table=table, folder=folder, files=tuple(named))


def _same_filesystem(table: str, folder: Path, lake_root: Path) -> None:
    """Files are linked into the snapshot, never copied (a copy would grow with the data): same filesystem only."""
    existing = lake_root.resolve()
    while not existing.exists():
        existing = existing.parent
    if folder.stat().st_dev != existing.stat().st_dev:
        raise PublishError(f"staged table {table!r}: {folder} is on another filesystem than the lake {lake_root}; "
                           f"stage it under the lake (credsignal.core.lake.staging_root)")


# ------------------------------------------------------------------------------------------------ committing

def _link_table(staged: StagedTable, out_dir: Path, *, fault: Fault) -> TableInfo:
    """The staged files, linked under their snapshot names: cost per file, not per byte."""
    out_dir.mkdir()
    for source, info in staged.files:
        target = out_dir / info.name
        target.parent.mkdir(parents=True, exist_ok=True)
        os.link(source, target)
        # Spark does not fsync what it writes; after validation its pages are normally on disk already, so
        # this costs nothing then, and it is what makes the snapshot durable before the switch.
        _fsync_path(target)
        fault(f"file:{staged.table}/{info.name}")
    for folder in {(out_dir / info.name).parent for _, info in staged.files}:
        _fsync_path(folder, directory=True)
    return TableInfo(rows=staged.rows, files=tuple(info for _, info in staged.files))


def _carry(table: str, info: TableInfo, source: Path, out_dir: Path, *, from_snapshot: str) -> TableInfo:
    """Bring a table this run did not stage into the new snapshot unchanged (hard links; copies if refused)."""
    out_dir.mkdir()
    for f in info.files:
        (out_dir / f.name).parent.mkdir(parents=True, exist_ok=True)
        try:
            os.link(source / f.name, out_dir / f.name)
        except OSError:
            shutil.copy2(source / f.name, out_dir / f.name)
    _fsync_path(out_dir, directory=True)
    return replace(info, carried_from=info.carried_from or from_snapshot)


# ------------------------------------------------------------------------------------------------ history

def _history(lake_root: Path) -> dict:
    path = lake_layout.published_manifest(lake_root)
    if not path.exists():
        return {"current": None, "history": []}
    return json.loads(path.read_text(encoding="utf-8"))


def _record(lake_root: Path, action: str, info: SnapshotInfo, previous: str | None) -> None:
    manifest = _history(lake_root)
    manifest["current"] = info.snapshot_id
    manifest["history"].append({"action": action, "snapshot_id": info.snapshot_id, "run_id": info.run_id,
                                "as_of": info.as_of.isoformat(), "previous": previous,
                                "at": datetime.now(timezone.utc).isoformat(timespec="seconds")})
    write_json_atomically(lake_layout.published_manifest(lake_root), manifest)


def _promote(lake_root: Path, info: SnapshotInfo) -> None:
    """Point `_current` at the snapshot, then make sure every one of its tables has its stable link."""
    link = lake_layout.curated_current_link(lake_root)
    _symlink_atomically(link, os.path.join(lake_layout.SNAPSHOTS_DIR, info.snapshot_id))
    for table in info.tables:
        stable = lake_layout.curated_table(lake_root, table)
        target = os.path.join(lake_layout.CURRENT_LINK, table)
        if not stable.is_symlink() or os.readlink(stable) != target:
            _symlink_atomically(stable, target)


def _check_stable_paths(lake_root: Path, tables: Sequence[str]) -> None:
    for table in tables:
        stable = lake_layout.curated_table(lake_root, table)
        if stable.exists() and not stable.is_symlink():
            raise PublishError(f"{stable} is a real folder or file, not the link the publish step manages; "
                               f"move it away before publishing {table!r}")
    link = lake_layout.curated_current_link(lake_root)
    if link.exists() and not link.is_symlink():
        raise PublishError(f"{link} is not a symlink; move it away before publishing")


def _prune(lake_root: Path, keep: int, protect: Sequence[str]) -> tuple[str, ...]:
    """Keep `keep` snapshots: those in `protect` (the live one) and the newest others; delete the rest."""
    snapshots = list_snapshots(lake_root)
    others = [s.snapshot_id for s in snapshots if s.snapshot_id not in protect]
    room = max(0, keep - len(set(protect)))
    keepers = set(protect) | set(others[max(0, len(others) - room):] if room else ())
    pruned = []
    root = _snapshots_root(lake_root)
    for snapshot in snapshots:
        if snapshot.snapshot_id in keepers:
            continue
        doomed = root / f"{_DELETE_PREFIX}{snapshot.snapshot_id}-{os.getpid()}"
        os.rename(root / snapshot.snapshot_id, doomed)  # gone from listings at once, then deleted at leisure
        shutil.rmtree(doomed)
        pruned.append(snapshot.snapshot_id)
    if pruned:
        log.info("pruned snapshots %s (keeping %d)", pruned, keep)
    return tuple(pruned)


# ------------------------------------------------------------------------------------------------ public API

def _no_fault(step: str) -> None:
    return None


def publish(
    lake_root: Path,
    staged: Mapping[str, Path],
    *,
    run_id: str,
    as_of: date,
    keep: int = 5,
    fault: Fault | None = None,
) -> PublishedSnapshot:
    """Commit `staged` (table -> staged Parquet folder) as they are as one new snapshot and make it the live one.

    The files are linked into the snapshot, not rewritten: sorting, compression, file sizes and column docs are
    the writer's (the feature job's). `fault(step)` is called after each file linked ("file:<table>/<name>"),
    before the snapshot folder is renamed into place ("snapshot:<id>") and before promotion ("promote:<id>");
    tests raise from it (or kill the process) to interrupt a publish. Tables of the live snapshot not in
    `staged` are carried over. Raises PublishError, without changing anything, on a missing, empty,
    half-written or unreadable staged table.
    """
    lake_root = Path(lake_root)
    fault = fault or _no_fault
    if keep < 1:
        raise PublishError(f"keep must be at least 1 (the live snapshot), got {keep}")
    if not staged:
        raise PublishError("nothing to publish: no staged tables given")
    # Check everything we can before taking the lock or writing a byte.
    sources = {table: check_staged(table, Path(staged[table])) for table in sorted(staged)}
    for table, source in sources.items():
        if table not in lake_layout.CURATED_TABLES:
            log.warning("publishing %r, which is not one of lake.CURATED_TABLES %s", table,
                        lake_layout.CURATED_TABLES)
        _same_filesystem(table, source.folder, lake_root)
    _check_stable_paths(lake_root, list(sources))
    base_id = snapshot_id_for(run_id)

    with lake_lock(lake_root, step="publish", run_id=run_id):
        _snapshots_root(lake_root).mkdir(parents=True, exist_ok=True)
        _clean_leftovers(lake_root)
        root = _snapshots_root(lake_root)
        previous_id = _live_id(lake_root)
        previous = _read_info(root / previous_id) if previous_id else None
        existing = list_snapshots(lake_root)
        taken = {s.snapshot_id for s in existing} | {p.name for p in root.iterdir()}
        snapshot_id, n = base_id, 1
        while snapshot_id in taken:
            n += 1
            snapshot_id = f"{base_id}.{n}"
        tmp = root / f"{_TMP_PREFIX}{snapshot_id}-{os.getpid()}"
        tmp.mkdir()
        try:
            tables = {table: _link_table(source, tmp / table, fault=fault) for table, source in sources.items()}
            if previous is not None:
                for table in sorted(set(previous.tables) - set(tables)):
                    tables[table] = _carry(table, previous.tables[table], root / previous.snapshot_id / table,
                                           tmp / table, from_snapshot=previous.snapshot_id)
            info = SnapshotInfo(snapshot_id=snapshot_id, run_id=run_id, as_of=as_of,
                                created_at=datetime.now(timezone.utc).isoformat(timespec="microseconds"),
                                sequence=max((s.sequence for s in existing), default=0) + 1,
                                tables=dict(sorted(tables.items())))
            # The same staged files of the same run (a retried task) re-promote the snapshot they already made.
            same = next((s for s in reversed(existing) if s.run_id == run_id and s.as_of == as_of
                         and _same_data(s, info)), None)
            if same is not None:
                shutil.rmtree(tmp)
                info = same
                action = "republish"
            else:
                write_json_atomically(tmp / lake_layout.SNAPSHOT_MANIFEST, info.to_json())
                fault(f"snapshot:{snapshot_id}")
                os.rename(tmp, root / snapshot_id)
                _fsync_path(root, directory=True)
                action = "publish"
        except BaseException:
            # An exception (not a kill) cleans up at once; a killed process leaves tmp for the next publish.
            # Either way the staged files are untouched (tmp only held links to them).
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        fault(f"promote:{info.snapshot_id}")
        _promote(lake_root, info)
        _record(lake_root, action, info, previous_id)
        pruned = _prune(lake_root, keep, protect=[info.snapshot_id])
    log.info("%s snapshot %s (run %s, as of %s): %s", action, info.snapshot_id, run_id, as_of,
             ", ".join(f"{t} {i.rows} rows" for t, i in info.tables.items()))
    return PublishedSnapshot(action=action, snapshot=replace(info, live=True), previous=previous_id, pruned=pruned)


def _same_data(a: SnapshotInfo, b: SnapshotInfo) -> bool:
    def signature(s: SnapshotInfo) -> dict:
        return {t: [(f.name, f.rows, f.bytes, f.footer_sha256) for f in i.files] for t, i in s.tables.items()}
    return signature(a) == signature(b)


def list_snapshots(lake_root: Path) -> list[SnapshotInfo]:
    """Every complete snapshot, oldest first (by publish sequence); `live` marks the published one."""
    root = _snapshots_root(Path(lake_root))
    if not root.is_dir():
        return []
    live = _live_id(Path(lake_root))
    snapshots = []
    for child in root.iterdir():
        if child.name.startswith((".", "_")) or not child.is_dir():
            continue
        info = _read_info(child, live=child.name == live)
        if info is not None:
            snapshots.append(info)
    return sorted(snapshots, key=lambda s: (s.sequence, s.snapshot_id))


def current_snapshot(lake_root: Path) -> SnapshotInfo | None:
    live = _live_id(Path(lake_root))
    if live is None:
        return None
    return _read_info(_snapshots_root(Path(lake_root)) / live, live=True)


def _verify(lake_root: Path, info: SnapshotInfo) -> None:
    """Every file of the snapshot is there with its recorded size and footer (footers only: see publishing.md)."""
    folder = _snapshots_root(lake_root) / info.snapshot_id
    for table, t in info.tables.items():
        for f in t.files:
            path = folder / table / f.name
            if not path.is_file():
                raise PublishError(f"snapshot {info.snapshot_id}: {path} is missing")
            if path.stat().st_size != f.bytes:
                raise PublishError(f"snapshot {info.snapshot_id}: {path} has {path.stat().st_size} bytes, "
                                   f"its manifest recorded {f.bytes}")
            if f.footer_sha256 is not None:
                try:
                    footer = _footer(table, path)[1]
                except PublishError:
                    footer = None
                if footer != f.footer_sha256:
                    raise PublishError(f"snapshot {info.snapshot_id}: {path} does not match its recorded footer")


def rollback(lake_root: Path, *, to: str | None = None) -> PublishedSnapshot:
    """Make snapshot `to` (default: the one published before the live one) live again, all tables at once.

    The target's files are checked against their recorded sizes and footers first. Nothing is deleted.
    """
    lake_root = Path(lake_root)
    if not _snapshots_root(lake_root).is_dir():
        raise PublishError(f"nothing is published under {lake_layout.curated_root(lake_root)}")
    with lake_lock(lake_root, step="rollback"):
        _clean_leftovers(lake_root)
        snapshots = list_snapshots(lake_root)
        live_id = _live_id(lake_root)
        if to is None:
            live = next((s for s in snapshots if s.snapshot_id == live_id), None)
            if live is None:
                raise PublishError("nothing is published, so there is no previous snapshot to roll back to")
            older = [s for s in snapshots if s.sequence < live.sequence]
            if not older:
                raise PublishError(f"snapshot {live_id} is the oldest one kept; no previous snapshot to roll "
                                   f"back to (kept: {[s.snapshot_id for s in snapshots]})")
            target = older[-1]
        else:
            target = next((s for s in snapshots if s.snapshot_id == to), None)
            if target is None:
                raise PublishError(f"no snapshot {to!r}; kept: {[s.snapshot_id for s in snapshots]}")
        _verify(lake_root, target)
        _check_stable_paths(lake_root, list(target.tables))
        _promote(lake_root, target)
        _record(lake_root, "rollback", target, live_id)
    log.warning("rolled back curated tables from %s to %s (run %s)", live_id, target.snapshot_id, target.run_id)
    return PublishedSnapshot(action="rollback", snapshot=replace(target, live=True), previous=live_id)


def read_published(lake_root: Path, table: str, snapshot: str | None = None):
    """`table` as published (the live snapshot, or `snapshot`) as a pandas DataFrame.

    `_current` is resolved once, so the read is of one snapshot even if a publish promotes another meanwhile.
    `df.attrs` carries snapshot_id, and run_id and as_of from the snapshot's _SNAPSHOT.json.
    """
    lake_root = Path(lake_root)
    snapshot_id = snapshot or _live_id(lake_root)
    if snapshot_id is None:
        raise PublishError(f"nothing is published under {lake_layout.curated_root(lake_root)}")
    folder = lake_layout.curated_snapshot(lake_root, table, snapshot_id)
    if not folder.is_dir():
        raise PublishError(f"snapshot {snapshot_id} has no table {table!r} ({folder})")
    info = _read_info(lake_layout.curated_snapshot_dir(lake_root, snapshot_id))
    frame = pq.read_table(folder).to_pandas()
    frame.attrs.update({"snapshot_id": snapshot_id, "run_id": info.run_id if info else None,
                        "as_of": info.as_of.isoformat() if info else None})
    return frame


# ------------------------------------------------------------------------------------------------ command line

def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m jobs.publish",
                                     description="List published curated snapshots or roll back to one.")
    commands = parser.add_subparsers(dest="command", required=True)
    listing = commands.add_parser("list", help="snapshots kept, oldest first; * marks the live one")
    listing.add_argument("--lake", type=Path, required=True)
    back = commands.add_parser("rollback", help="make an earlier snapshot live again (all tables at once)")
    back.add_argument("--lake", type=Path, required=True)
    back.add_argument("--to", default=None, help="snapshot id (default: the one before the live one)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    try:
        if args.command == "list":
            snapshots = list_snapshots(args.lake)
            if not snapshots:
                print(f"no published snapshots under {lake_layout.curated_root(args.lake)}")
            for info in snapshots:
                print(info)
            return 0
        result = rollback(args.lake, to=args.to)
        print(f"rolled back: {result.previous} -> {result.snapshot_id}")
        return 0
    except PublishError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
