"""Publish step: snapshots of the staged files as they are, atomic promotion, rollback, retention, interrupted
publishes, readers."""

from __future__ import annotations

import hashlib
import json
import os
import re
import subprocess
import sys
import textwrap
import threading
from datetime import date
from pathlib import Path

import duckdb
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from credsignal.core import lake as lake_layout
from jobs import publish as P

REPO_ROOT = Path(__file__).resolve().parents[1]
FULL, LINKEDIN, READOUT = "learner_outcomes_full", "learner_outcomes_linkedin", "readout_estimates"


def outcomes(version: int, rows: int = 40) -> pd.DataFrame:
    """A small learner table whose every row says which version it belongs to (so a mix is detectable)."""
    return pd.DataFrame({
        "learner_key": [f"L{i:05d}" for i in range(rows)],
        "treatment": [i % 2 for i in range(rows)],
        "version": [version] * rows,
        "randomized_at": pd.to_datetime(["2022-09-01"] * rows).date,
        "skill_score": [None if i % 7 == 0 else i / 10 for i in range(rows)],
    })


def stage(root: Path, table: str, frame: pd.DataFrame, *, files: int = 1) -> Path:
    """Write `frame` in order into `files` pandas-written Parquet files under root/table (a staged folder; fixed
    file names, as pandas writers such as pipeline.validate_staged use)."""
    folder = root / table
    folder.mkdir(parents=True)
    size = -(-len(frame) // files)
    for index in range(files):
        frame.iloc[index * size:(index + 1) * size].to_parquet(folder / f"part-{index}.parquet", index=False)
    return folder


def staged_tables(root: Path, version: int, *, rows: int = 40, files: int = 3, write: int = 0) -> dict[str, Path]:
    """Both study tables staged; `write` tells apart two writes of the same data (two staged folders)."""
    root = root / f"v{version}-{write}-{files}"
    if root.exists():  # the same staged files asked for again (a retried publish)
        return {table: root / table for table in (FULL, LINKEDIN)}
    return {
        FULL: stage(root, FULL, outcomes(version, rows), files=files),
        LINKEDIN: stage(root, LINKEDIN, outcomes(version, rows // 2), files=files),
    }


def expected(version: int, rows: int = 40) -> pd.DataFrame:
    return outcomes(version, rows)


def read_curated(lake: Path, table: str) -> pd.DataFrame:
    return pd.read_parquet(lake_layout.curated_table(lake, table))


def read_duckdb(lake: Path, table: str) -> pd.DataFrame:
    pattern = (lake_layout.curated_table(lake, table) / "*.parquet").as_posix()
    with duckdb.connect() as con:
        return con.sql(f"SELECT * FROM read_parquet('{pattern}') ORDER BY learner_key").df()


def tree(lake: Path) -> dict[str, str]:
    """Everything under the lake: files by content hash, symlinks by target."""
    if not lake.exists():
        return {}
    state = {}
    for dirpath, dirnames, filenames in os.walk(lake):
        for name in dirnames + filenames:
            path = Path(dirpath) / name
            key = path.relative_to(lake).as_posix()
            if path.is_symlink():
                state[key] = "-> " + os.readlink(path)
            elif path.is_file():
                state[key] = hashlib.sha256(path.read_bytes()).hexdigest()
    return state


def publish(lake: Path, staged: dict[str, Path], version: int, **kwargs) -> P.PublishedSnapshot:
    return P.publish(lake, staged, run_id=f"scheduled__2023-10-{version:02d}T00:00:00+00:00",
                     as_of=date(2023, 10, version), **kwargs)


# ------------------------------------------------------------------------------------------------ publishing

def test_publish_is_readable_with_pandas_and_duckdb(tmp_path):
    lake = tmp_path / "lake"
    result = publish(lake, staged_tables(tmp_path, 1), 1)

    assert result.action == "publish" and result.previous is None
    for table, rows in ((FULL, 40), (LINKEDIN, 20)):
        want = expected(1, rows)
        pd.testing.assert_frame_equal(read_curated(lake, table), want)
        got = read_duckdb(lake, table)
        assert got["learner_key"].tolist() == want["learner_key"].tolist()
        assert got["version"].tolist() == want["version"].tolist()
        assert got["skill_score"].isna().sum() == want["skill_score"].isna().sum()
        pinned = P.read_published(lake, table)
        pd.testing.assert_frame_equal(pinned, want)
        assert pinned.attrs == {"snapshot_id": result.snapshot_id, "run_id": "scheduled__2023-10-01T00:00:00+00:00",
                                "as_of": "2023-10-01"}  # from _SNAPSHOT.json
    curated = lake_layout.curated_root(lake)
    assert os.readlink(curated / FULL) == os.path.join("_current", FULL)
    assert os.readlink(curated / "_current") == os.path.join("_snapshots", result.snapshot_id)


def test_published_files_are_the_staged_files_linked_not_rewritten(tmp_path):
    lake = tmp_path / "lake"
    staged = staged_tables(tmp_path, 3)
    result = publish(lake, staged, 3)

    for table in (FULL, LINKEDIN):
        sources = sorted(staged[table].glob("*.parquet"))
        published = [lake_layout.curated_table(lake, table) / f.name for f in result.snapshot.tables[table].files]
        assert len(published) == len(sources) == 3
        for source, path in zip(sources, published):
            assert path.stat().st_ino == source.stat().st_ino  # a link to the staged file: no byte copied
        # One write id per table, in every name: part-<n>-<write id>.parquet.
        names = [path.name for path in published]
        write_id = names[0].split("-")[-1]
        assert names == [f"part-{n:05d}-{write_id}" for n in range(3)]
        assert [pq.ParquetFile(path).metadata.num_rows for path in published] == [
            pq.ParquetFile(source).metadata.num_rows for source in sources]
    # The staged folder stays whole until the caller drops it (a killed publish can be rerun from it).
    assert sorted(p.name for p in staged[FULL].iterdir()) == ["part-0.parquet", "part-1.parquet", "part-2.parquet"]


def test_publish_reads_footers_never_data_pages(tmp_path):
    """A staged file whose data pages are damaged but whose footer is intact publishes: nothing read them."""
    staged = staged_tables(tmp_path, 1, files=1)
    path = staged[FULL] / "part-0.parquet"
    data = bytearray(path.read_bytes())
    first_page = pq.ParquetFile(path).metadata.row_group(0).column(0).data_page_offset
    data[first_page:first_page + 16] = b"\xff" * 16
    path.write_bytes(bytes(data))

    lake = tmp_path / "lake"
    result = publish(lake, staged, 1)
    assert result.rows == {FULL: 40, LINKEDIN: 20}  # from the footers
    with pytest.raises((OSError, pa.ArrowException)):  # the damage shows where pages are read: by readers
        read_curated(lake, FULL)


def test_snapshot_manifest_records_run_tables_and_hashes(tmp_path):
    lake = tmp_path / "lake"
    result = publish(lake, staged_tables(tmp_path, 2), 2)
    folder = lake_layout.curated_snapshot_dir(lake, result.snapshot_id)
    manifest = json.loads((folder / "_SNAPSHOT.json").read_text())

    assert manifest["run_id"] == "scheduled__2023-10-02T00:00:00+00:00" and manifest["as_of"] == "2023-10-02"
    assert manifest["snapshot_id"] == result.snapshot_id and manifest["created_at"]
    assert {t: manifest["tables"][t]["rows"] for t in manifest["tables"]} == {FULL: 40, LINKEDIN: 20}
    for table, info in manifest["tables"].items():
        on_disk = sorted(p.name for p in (folder / table).iterdir())
        assert on_disk == [f["name"] for f in info["files"]]
        for f in info["files"]:
            path = folder / table / f["name"]
            footer_length = int.from_bytes(path.read_bytes()[-8:-4], "little")
            assert f["bytes"] == path.stat().st_size
            assert f["footer_sha256"] == hashlib.sha256(path.read_bytes()[-8 - footer_length:]).hexdigest()
            assert f["rows"] == pq.ParquetFile(path).metadata.num_rows
    assert P.current_snapshot(lake) == P.list_snapshots(lake)[-1]
    assert P.current_snapshot(lake).live
    assert result.rows == P.current_snapshot(lake).rows == {FULL: 40, LINKEDIN: 20}
    assert str(P.current_snapshot(lake)).split()[:4] == ["*", result.snapshot_id, "as_of", "2023-10-02"]


@pytest.mark.parametrize("run_id, snapshot_id", [
    ("manual__2023-09-30T00:00:00+00:00", "manual__2023-09-30T000000+0000"),
    ("scheduled__2023-09-30T00:00:00.123456+00:00", "scheduled__2023-09-30T000000.123456+0000"),
    ("__weird run/../id", "weird_run_.._id"),
])
def test_snapshot_ids_are_filesystem_safe(run_id, snapshot_id):
    assert P.snapshot_id_for(run_id) == snapshot_id


def test_run_ids_that_sanitize_alike_get_distinct_snapshots(tmp_path):
    lake = tmp_path / "lake"
    first = P.publish(lake, staged_tables(tmp_path, 1), run_id="run:1", as_of=date(2023, 10, 1))
    second = P.publish(lake, staged_tables(tmp_path, 2), run_id="run1", as_of=date(2023, 10, 2))
    assert (first.snapshot_id, second.snapshot_id) == ("run1", "run1.2")
    assert read_curated(lake, FULL)["version"].unique().tolist() == [2]


# ------------------------------------------------------------------------------------------------ retries

def test_retried_run_with_the_same_staged_files_reuses_its_snapshot(tmp_path):
    lake = tmp_path / "lake"
    first = publish(lake, staged_tables(tmp_path, 1), 1)
    publish(lake, staged_tables(tmp_path, 2), 2)
    again = publish(lake, staged_tables(tmp_path, 1), 1)

    assert again.action == "republish" and again.snapshot_id == first.snapshot_id
    assert [s.snapshot_id for s in P.list_snapshots(lake)] == [first.snapshot_id, P.snapshot_id_for(
        "scheduled__2023-10-02T00:00:00+00:00")]
    assert read_curated(lake, FULL)["version"].unique().tolist() == [1]
    # Another write of the same data is another snapshot: publish tells files apart by their footers and who
    # wrote them, never by reading the data.
    rewritten = publish(lake, staged_tables(tmp_path, 1, write=1), 1)
    assert rewritten.action == "publish" and rewritten.snapshot_id == first.snapshot_id + ".2"


# ------------------------------------------------------------------------------------------------ rollback, retention

def test_rollback_then_publish_again(tmp_path, capsys):
    lake = tmp_path / "lake"
    ids = [publish(lake, staged_tables(tmp_path, v), v).snapshot_id for v in (1, 2, 3)]

    back = P.rollback(lake)
    assert (back.action, back.previous, back.snapshot_id) == ("rollback", ids[2], ids[1])
    assert read_curated(lake, FULL)["version"].unique().tolist() == [2]
    assert read_duckdb(lake, LINKEDIN)["version"].unique().tolist() == [2]

    assert P.main(["rollback", "--lake", str(lake), "--to", ids[0]]) == 0
    assert read_curated(lake, FULL)["version"].unique().tolist() == [1]
    assert P.main(["rollback", "--lake", str(lake)]) == 1  # nothing older than the first snapshot
    assert "no previous snapshot" in capsys.readouterr().err
    with pytest.raises(P.PublishError, match="no snapshot 'nope'"):
        P.rollback(lake, to="nope")

    latest = publish(lake, staged_tables(tmp_path, 4), 4)
    assert latest.previous == ids[0]
    assert read_curated(lake, FULL)["version"].unique().tolist() == [4]
    assert P.main(["list", "--lake", str(lake)]) == 0
    listing = capsys.readouterr().out.splitlines()
    assert [line.split()[0] for line in listing] == [ids[0], ids[1], ids[2], "*"]

    history = json.loads(lake_layout.published_manifest(lake).read_text())
    assert history["current"] == latest.snapshot_id
    assert [(h["action"], h["snapshot_id"]) for h in history["history"]] == [
        ("publish", ids[0]), ("publish", ids[1]), ("publish", ids[2]), ("rollback", ids[1]),
        ("rollback", ids[0]), ("publish", latest.snapshot_id)]


@pytest.mark.parametrize("damage, message", [
    (lambda data: data[:-20] + b"\0" * 20, "does not match its recorded footer"),
    (lambda data: data[:-20], "bytes, its manifest recorded"),
    (lambda data: data + b"\0", "bytes, its manifest recorded"),
])
def test_rollback_refuses_a_snapshot_whose_files_changed(tmp_path, damage, message):
    lake = tmp_path / "lake"
    first = publish(lake, staged_tables(tmp_path, 1), 1)
    publish(lake, staged_tables(tmp_path, 2), 2)
    damaged = lake_layout.curated_snapshot(lake, FULL, first.snapshot_id) / first.snapshot.tables[FULL].files[0].name
    damaged.write_bytes(damage(damaged.read_bytes()))

    with pytest.raises(P.PublishError, match=message):
        P.rollback(lake)
    assert read_curated(lake, FULL)["version"].unique().tolist() == [2]


def test_keep_n_snapshots_never_the_live_one(tmp_path):
    lake = tmp_path / "lake"
    ids = [publish(lake, staged_tables(tmp_path, v), v, keep=2).snapshot_id for v in (1, 2, 3, 4)]
    assert [s.snapshot_id for s in P.list_snapshots(lake)] == ids[2:]
    assert sorted(p.name for p in lake_layout.curated_snapshots_root(lake).iterdir()
                  if not p.name.startswith(".")) == sorted([*ids[2:], "_published.json"])

    # The live snapshot is kept even when it is not the newest: a retried older run re-promoted, keep=1.
    P.rollback(lake)
    again = publish(lake, staged_tables(tmp_path, 3), 3, keep=1)
    assert again.action == "republish" and again.pruned == (ids[3],)
    assert [s.snapshot_id for s in P.list_snapshots(lake)] == [ids[2]]
    assert read_curated(lake, FULL)["version"].unique().tolist() == [3]


def test_tables_not_staged_are_carried_into_the_new_snapshot(tmp_path):
    lake = tmp_path / "lake"
    first = publish(lake, staged_tables(tmp_path, 1), 1)
    readout = stage(tmp_path / "readout", READOUT, pd.DataFrame({"outcome": ["new_job", "shared"],
                                                                 "estimate": [0.012, 0.05]}))
    second = publish(lake, {READOUT: readout}, 2)

    assert set(second.snapshot.tables) == {FULL, LINKEDIN, READOUT}
    assert second.snapshot.tables[FULL].carried_from == first.snapshot_id
    assert second.snapshot.tables[READOUT].carried_from is None
    assert read_curated(lake, FULL)["version"].unique().tolist() == [1]
    assert read_curated(lake, READOUT)["outcome"].tolist() == ["new_job", "shared"]
    name = first.snapshot.tables[FULL].files[0].name
    old = lake_layout.curated_snapshot(lake, FULL, first.snapshot_id) / name
    new = lake_layout.curated_snapshot(lake, FULL, second.snapshot_id) / name
    assert old.stat().st_ino == new.stat().st_ino  # a hard link, not a copy


# ------------------------------------------------------------------------------------------------ interruptions

def test_fault_between_files_leaves_the_previous_snapshot_and_a_rerun_completes(tmp_path):
    lake = tmp_path / "lake"
    publish(lake, staged_tables(tmp_path, 1), 1)
    before = tree(lake)
    steps = []

    def die_after_second_file(step: str) -> None:
        steps.append(step)
        if sum(s.startswith("file:") for s in steps) == 2:
            raise RuntimeError("killed mid-publish")

    with pytest.raises(RuntimeError, match="killed mid-publish"):
        publish(lake, staged_tables(tmp_path, 2), 2, fault=die_after_second_file)
    assert tree(lake) == before  # no temp folder left, nothing promoted, history unchanged
    assert len(list(staged_tables(tmp_path, 2)[FULL].glob("*.parquet"))) == 3  # the staged files untouched
    for table, rows in ((FULL, 40), (LINKEDIN, 20)):
        pd.testing.assert_frame_equal(read_curated(lake, table), expected(1, rows))
        assert read_duckdb(lake, table)["version"].unique().tolist() == [1]

    rerun = publish(lake, staged_tables(tmp_path, 2), 2)
    assert rerun.action == "publish"
    pd.testing.assert_frame_equal(read_curated(lake, FULL), expected(2))


def test_fault_before_promotion_keeps_the_old_snapshot_live_and_the_rerun_promotes(tmp_path):
    lake = tmp_path / "lake"
    first = publish(lake, staged_tables(tmp_path, 1), 1)

    def fail_promotion(step: str) -> None:
        if step.startswith("promote:"):
            raise RuntimeError("lost the worker")

    with pytest.raises(RuntimeError, match="lost the worker"):
        publish(lake, staged_tables(tmp_path, 2), 2, fault=fail_promotion)
    assert P.current_snapshot(lake).snapshot_id == first.snapshot_id
    assert read_curated(lake, FULL)["version"].unique().tolist() == [1]

    rerun = publish(lake, staged_tables(tmp_path, 2), 2)
    assert rerun.action == "republish" and len(P.list_snapshots(lake)) == 2
    assert read_curated(lake, FULL)["version"].unique().tolist() == [2]


def test_killed_publish_leaves_a_temp_folder_the_next_publish_removes(tmp_path):
    """A real kill: a child process publishing exits abruptly after its second file (no cleanup runs)."""
    lake = tmp_path / "lake"
    publish(lake, staged_tables(tmp_path, 1), 1)
    staged = staged_tables(tmp_path, 2)
    script = textwrap.dedent(f"""
        import os, sys
        from datetime import date
        from pathlib import Path
        from jobs import publish as P
        files = []
        def kill(step):
            files.extend([step] if step.startswith("file:") else [])
            if len(files) == 2:
                os._exit(9)
        staged = {{{FULL!r}: Path({str(staged[FULL])!r}), {LINKEDIN!r}: Path({str(staged[LINKEDIN])!r})}}
        P.publish(Path({str(lake)!r}), staged, run_id="killed", as_of=date(2023, 10, 2), fault=kill)
    """)
    done = subprocess.run([sys.executable, "-c", script], cwd=REPO_ROOT, capture_output=True, text=True)
    assert done.returncode == 9, done.stderr
    leftovers = [p for p in lake_layout.curated_snapshots_root(lake).iterdir() if p.name.startswith(".tmp-")]
    assert len(leftovers) == 1 and len(list(leftovers[0].rglob("*.parquet"))) == 2
    assert read_curated(lake, FULL)["version"].unique().tolist() == [1]
    assert [s.run_id for s in P.list_snapshots(lake)] == ["scheduled__2023-10-01T00:00:00+00:00"]

    rerun = P.publish(lake, staged, run_id="killed", as_of=date(2023, 10, 2))
    assert not leftovers[0].exists()
    assert rerun.snapshot_id == "killed"
    assert read_curated(lake, FULL)["version"].unique().tolist() == [2]


# ------------------------------------------------------------------------------------------------ readers

def test_a_listing_that_straddles_a_promotion_never_mixes_two_snapshots(tmp_path):
    """A reader lists the table's files, a publish promotes, the reader opens the files it listed."""
    lake = tmp_path / "lake"
    publish(lake, staged_tables(tmp_path, 1), 1)
    folder = lake_layout.curated_table(lake, FULL)
    listed = sorted(os.listdir(folder))
    assert len(listed) == 3

    publish(lake, staged_tables(tmp_path, 2), 2)
    with pytest.raises(FileNotFoundError):  # a loud, retryable error instead of old and new rows together
        pq.ParquetDataset([str(folder / name) for name in listed]).read()
    # Another write of the very same data still gets all-new names (pandas names its files part-0, part-1, ... in
    # every write): a straddled listing can't keep some files alone and return a silent subset, or a mix.
    before = P.current_snapshot(lake).tables[FULL].files
    after = publish(lake, staged_tables(tmp_path, 2, write=1), 3).snapshot.tables[FULL].files
    assert [f.footer_sha256 for f in before] == [f.footer_sha256 for f in after]
    assert not {f.name for f in before} & {f.name for f in after}
    listed = sorted(os.listdir(folder))
    publish(lake, staged_tables(tmp_path, 2, write=2), 4)
    with pytest.raises(FileNotFoundError):
        pq.ParquetDataset([str(folder / name) for name in listed]).read()
    # A table this run does not stage is carried with its names (the same files), so such a reader reads the
    # same rows.
    listed = sorted(os.listdir(lake_layout.curated_table(lake, LINKEDIN)))
    publish(lake, {FULL: staged_tables(tmp_path, 5)[FULL]}, 5)
    again = pq.ParquetDataset([str(lake_layout.curated_table(lake, LINKEDIN) / name) for name in listed]).read()
    pd.testing.assert_frame_equal(again.to_pandas(), expected(2, 20))


def test_concurrent_readers_always_see_one_complete_snapshot(tmp_path):
    lake = tmp_path / "lake"
    versions = range(1, 9)
    rows = {v: 30 + v for v in versions}  # each version its own row count: a mix or a partial read shows
    staged = {v: {FULL: stage(tmp_path / f"s{v}", FULL, outcomes(v, rows[v]), files=3)} for v in versions}
    publish(lake, staged[1], 1)

    finished, read_once = threading.Event(), threading.Event()
    seen: dict[str, set] = {"pandas": set(), "duckdb": set(), "pinned": set()}
    retried: list[str] = []
    problems: list[str] = []

    def check(how: str, frame: pd.DataFrame) -> None:
        if how == "pandas" and frame.shape == (0, 0):
            # pyarrow listed the old snapshot's folder, then found none of its names under the new one (it
            # skips entries that vanish while it lists) and so read no file at all: an empty frame without
            # even columns. Loud to any use of it, and not a mix; the retry reads the new snapshot.
            retried.append("pandas-nothing-listed")
            return
        got = frame["version"].unique().tolist()
        if len(got) != 1 or len(frame) != rows[got[0]] or frame["learner_key"].nunique() != len(frame):
            problems.append(f"{how}: versions {got}, {len(frame)} rows")
        else:
            seen[how].add(got[0])

    def attempt(how: str, read, retryable: tuple[type[BaseException], ...]) -> None:
        try:
            check(how, read())
        except retryable:
            retried.append(how)  # listed one snapshot's files, opened them after the next was promoted
        except Exception as error:  # anything else is a failure of the guarantee (and must not kill the loop)
            problems.append(f"{how}: {error!r}")

    def reader() -> None:
        while not finished.is_set():
            attempt("pandas", lambda: read_curated(lake, FULL), (FileNotFoundError,))
            attempt("duckdb", lambda: read_duckdb(lake, FULL), (duckdb.IOException,))
            attempt("pinned", lambda: P.read_published(lake, FULL), ())  # must never fail
            read_once.set()

    def after_each_file(step: str) -> None:
        # Make sure the reader gets through a round between every two files and before every promotion.
        read_once.clear()
        assert read_once.wait(timeout=120), f"the reader made no progress: {problems}"

    thread = threading.Thread(target=reader)
    thread.start()
    try:
        for v in versions[1:]:
            publish(lake, staged[v], v, keep=len(versions), fault=after_each_file)
        after_each_file("two more rounds, so the last promotion is read too")
        after_each_file("")
    finally:
        finished.set()
        read_once.set()
        thread.join()

    assert problems == []
    assert seen["pinned"] == set(versions)  # the reader ran between every two promotions
    assert len(seen["pandas"]) >= len(versions) - 1 and len(seen["duckdb"]) >= len(versions) - 1
    assert read_curated(lake, FULL)["version"].unique().tolist() == [versions[-1]]
    print(f"straddled reads retried: {len(retried)} {sorted(set(retried))}")


# ------------------------------------------------------------------------------------------------ bad input

@pytest.mark.parametrize("case", ["missing", "empty", "only_success_marker", "spark_without_success", "corrupt",
                                  "truncated", "schemas_disagree", "a_file"])
def test_bad_staged_input_raises_naming_the_table_and_changes_nothing(tmp_path, case):
    lake = tmp_path / "lake"
    staged = staged_tables(tmp_path, 1)
    publish(lake, staged, 1)
    before = tree(lake)
    bad = tmp_path / "bad" / LINKEDIN
    if case == "a_file":
        bad.parent.mkdir(parents=True)
        outcomes(2).to_parquet(bad)
    elif case != "missing":
        bad.mkdir(parents=True)
    if case == "only_success_marker":
        (bad / "_SUCCESS").touch()
    if case == "spark_without_success":
        outcomes(2).to_parquet(bad / "part-00000-aa.snappy.parquet")
        (bad / ".part-00000-aa.snappy.parquet.crc").touch()
    if case == "corrupt":
        (bad / "part-0.parquet").write_bytes(b"PAR1 not really parquet PAR1")
    if case == "truncated":  # a half-written file: cut short, its footer gone
        outcomes(2).to_parquet(bad / "part-0.parquet")
        (bad / "part-0.parquet").write_bytes((bad / "part-0.parquet").read_bytes()[:-100])
    if case == "schemas_disagree":  # e.g. a pandas chunk whose column was all null: the files are not rewritten
        pd.DataFrame({"outcome": ["a"], "note": [None]}).to_parquet(bad / "part-0.parquet")
        pd.DataFrame({"outcome": ["b"], "note": ["checked"]}).to_parquet(bad / "part-1.parquet")

    with pytest.raises(P.PublishError, match=f"'{LINKEDIN}': .*{re.escape(str(bad))}"):
        publish(lake, {FULL: staged_tables(tmp_path, 2)[FULL], LINKEDIN: bad}, 2)
    assert tree(lake) == before
    assert read_curated(lake, FULL)["version"].unique().tolist() == [1]


def test_bad_input_on_an_empty_lake_creates_nothing(tmp_path):
    lake = tmp_path / "lake"
    with pytest.raises(P.PublishError, match=f"{FULL}.*does not exist"):
        publish(lake, {FULL: tmp_path / "nowhere"}, 1)
    with pytest.raises(P.PublishError, match="nothing to publish"):
        publish(lake, {}, 1)
    assert not lake.exists()


def test_rollback_with_nothing_published_creates_nothing(tmp_path):
    lake = tmp_path / "lake"
    with pytest.raises(P.PublishError, match="nothing is published"):
        P.rollback(lake)
    assert not lake.exists() and P.list_snapshots(lake) == [] and P.current_snapshot(lake) is None


def test_pandas_staged_tables_publish_even_when_empty(tmp_path):
    """data_quality_report is staged by pandas (pipeline.validate_staged), the readout's tables too."""
    report = stage(tmp_path / "staged", "data_quality_report",
                   pd.DataFrame({"check": pd.Series([], dtype="string"), "p_value": pd.Series([], dtype=float)}))
    readout = stage(tmp_path / "staged", READOUT, pd.DataFrame({"outcome": ["a", "b"], "estimate": [0.1, 0.2]}))

    lake = tmp_path / "lake"
    result = publish(lake, {READOUT: readout, "data_quality_report": report}, 1)
    assert read_curated(lake, READOUT)["outcome"].tolist() == ["a", "b"]
    assert read_curated(lake, "data_quality_report").shape == (0, 2)
    assert result.rows == {READOUT: 2, "data_quality_report": 0}


def test_a_real_folder_where_a_link_belongs_is_not_overwritten(tmp_path):
    lake = tmp_path / "lake"
    legacy = lake_layout.curated_table(lake, FULL)
    legacy.mkdir(parents=True)
    (legacy / "old.parquet").write_bytes(b"analyst data")
    with pytest.raises(P.PublishError, match="not the link"):
        publish(lake, staged_tables(tmp_path, 1), 1)
    assert (legacy / "old.parquet").read_bytes() == b"analyst data"
    assert not lake_layout.curated_snapshots_root(lake).exists()


# ------------------------------------------------------------------------------------------------ front doors

def test_module_command_lists_snapshots(tmp_path):
    lake = tmp_path / "lake"
    result = publish(lake, staged_tables(tmp_path, 1), 1)
    done = subprocess.run([sys.executable, "-m", "jobs.publish", "list", "--lake", str(lake)], cwd=REPO_ROOT,
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split()[:2] == ["*", result.snapshot_id]


def test_spark_staged_table_publishes_with_its_column_docs(tmp_path, spark):
    from pyspark.sql import functions as F

    from credsignal.core.storage import footer_descriptions
    from jobs.features.job import write_curated

    frame = spark.createDataFrame(outcomes(6).iloc[::-1])
    described = frame.select(*(F.col(name).alias(name, metadata={"description": f"about {name}"})
                               for name in frame.columns))
    staged = tmp_path / "staged" / FULL
    write_curated(described.repartition(3), staged)
    assert (staged / "_SUCCESS").exists() and list(staged.glob(".*.crc"))

    lake = tmp_path / "lake"
    result = publish(lake, {FULL: staged}, 6)
    got = read_curated(lake, FULL)
    pd.testing.assert_frame_equal(got, expected(6), check_dtype=False)  # sorted by the writer
    assert read_duckdb(lake, FULL)["learner_key"].tolist() == expected(6)["learner_key"].tolist()
    folder = lake_layout.curated_table(lake, FULL)
    assert sorted(p.name for p in folder.iterdir()) == sorted(f.name for f in result.snapshot.tables[FULL].files)
    for path in folder.iterdir():  # Spark's markers and checksums stay behind; the footers keep the docs
        assert footer_descriptions(pq.read_schema(path))["learner_key"] == "about learner_key"


def test_status_shows_the_live_snapshot_with_stable_paths_and_rates_by_arm(tmp_path):
    from credsignal.entry.status import render_published

    lake = tmp_path / "lake"
    assert render_published(lake) == "nothing published yet"
    full = outcomes(1).assign(views_all=[1 if i < 10 else 0 for i in range(40)])  # treatment = i % 2
    staged = {FULL: stage(tmp_path / "s", FULL, full), LINKEDIN: stage(tmp_path / "s", LINKEDIN, outcomes(1, 20))}
    snapshot = publish(lake, staged, 1)
    lines = render_published(lake).splitlines()
    assert lines[0].startswith(f"published snapshot {snapshot.snapshot_id} (as_of 2023-10-01")
    assert f"  {FULL:<28}{40:>9} rows  {lake.resolve() / 'curated' / FULL}" in lines
    assert f"  {LINKEDIN:<28}{20:>9} rows  {lake.resolve() / 'curated' / LINKEDIN}" in lines
    assert f"  {FULL}: share by arm (n control 20, treatment 20)" in lines
    assert f"    {'views_all':<28} control  25.00%   treatment  25.00%" in lines


@pytest.mark.parametrize("name", ["../escape", "Learners", "outcomes\n", "outcomes\nx", "", "1st"])
def test_a_table_name_that_is_not_a_lowercase_identifier_is_refused(tmp_path, name):
    with pytest.raises(P.PublishError, match="is not a lowercase identifier"):
        P.check_staged(name, staged_tables(tmp_path, 2)[FULL])
