"""Publish step: snapshots, atomic promotion, rollback, retention, determinism, interrupted publishes, readers."""

from __future__ import annotations

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
import pyarrow.parquet as pq
import pytest

from credsignal.core import lake as lake_layout
from jobs import publish as P

REPO_ROOT = Path(__file__).resolve().parents[1]
FULL, LINKEDIN, READOUT = "learner_outcomes_full", "learner_outcomes_linkedin", "readout_estimates"
DESCRIPTIONS = {
    FULL: {"learner_key": "Pseudonymous learner key.", "treatment": "1 if nudged to share the certificate.",
           "version": "Which test publish wrote the row."},
    LINKEDIN: {"learner_key": "Pseudonymous learner key."},
}


def outcomes(version: int, rows: int = 40) -> pd.DataFrame:
    """A small learner table whose every row says which version it belongs to (so a mix is detectable)."""
    return pd.DataFrame({
        "learner_key": [f"L{i:05d}" for i in range(rows)],
        "treatment": [i % 2 for i in range(rows)],
        "version": [version] * rows,
        "randomized_at": pd.to_datetime(["2022-09-01"] * rows).date,
        "skill_score": [None if i % 7 == 0 else i / 10 for i in range(rows)],
    })


def stage(root: Path, table: str, frame: pd.DataFrame, *, files: int = 1, seed: int = 0) -> Path:
    """Write `frame` shuffled into `files` pandas-written Parquet files under root/table (a staged folder)."""
    folder = root / table
    folder.mkdir(parents=True)
    shuffled = frame.sample(frac=1.0, random_state=seed)
    size = -(-len(shuffled) // files)
    for index in range(files):
        shuffled.iloc[index * size:(index + 1) * size].to_parquet(folder / f"part-{index}.parquet")
    return folder


def staged_tables(root: Path, version: int, *, rows: int = 40, files: int = 1, seed: int = 0) -> dict[str, Path]:
    root = root / f"v{version}-{seed}-{files}"
    if root.exists():  # the same staged data asked for again
        return {table: root / table for table in (FULL, LINKEDIN)}
    return {
        FULL: stage(root, FULL, outcomes(version, rows), files=files, seed=seed),
        LINKEDIN: stage(root, LINKEDIN, outcomes(version, rows // 2), files=files, seed=seed + 1),
    }


def expected(version: int, rows: int = 40) -> pd.DataFrame:
    return outcomes(version, rows).sort_values("learner_key").reset_index(drop=True)


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
                state[key] = P._hash_file(path)[0] if path.suffix == ".parquet" else path.read_text()
    return state


def publish(lake: Path, staged: dict[str, Path], version: int, **kwargs) -> P.PublishedSnapshot:
    kwargs.setdefault("descriptions", DESCRIPTIONS)
    return P.publish(lake, staged, run_id=f"scheduled__2023-10-{version:02d}T00:00:00+00:00",
                     as_of=date(2023, 10, version), **kwargs)


@pytest.fixture
def small_files(monkeypatch):
    """Files of at most 16 rows in row groups of 4, so a 40-row table is three files."""
    monkeypatch.setattr(P, "ROWS_PER_FILE", 16)
    monkeypatch.setattr(P, "ROWS_PER_ROW_GROUP", 4)


# ------------------------------------------------------------------------------------------------ publishing

def test_publish_is_readable_with_pandas_and_duckdb(tmp_path):
    lake = tmp_path / "lake"
    result = publish(lake, staged_tables(tmp_path, 1, files=3), 1)

    assert result.action == "publish" and result.previous is None
    for table, rows in ((FULL, 40), (LINKEDIN, 20)):
        want = expected(1, rows)
        pd.testing.assert_frame_equal(read_curated(lake, table), want)  # already sorted by learner_key
        got = read_duckdb(lake, table)
        assert got["learner_key"].tolist() == want["learner_key"].tolist()
        assert got["version"].tolist() == want["version"].tolist()
        assert got["skill_score"].isna().sum() == want["skill_score"].isna().sum()
        pd.testing.assert_frame_equal(P.read_published(lake, table), want)
    curated = lake_layout.curated_root(lake)
    assert os.readlink(curated / FULL) == os.path.join("_current", FULL)
    assert os.readlink(curated / "_current") == os.path.join("_snapshots", result.snapshot_id)


def test_files_carry_descriptions_run_metadata_zstd_statistics_and_sizes(tmp_path, small_files):
    lake = tmp_path / "lake"
    result = publish(lake, staged_tables(tmp_path, 3), 3)
    folder = lake_layout.curated_table(lake, FULL)
    files = sorted(folder.glob("*.parquet"))

    assert [f.name for f in files] == [f.name for f in result.snapshot.tables[FULL].files]
    assert [pq.ParquetFile(f).metadata.num_rows for f in files] == [16, 16, 8]
    first_ids = [pq.read_table(f, columns=["learner_key"])["learner_key"][0].as_py() for f in files]
    assert first_ids == ["L00000", "L00016", "L00032"]  # sorted across files, not only within
    for path in files:
        parquet = pq.ParquetFile(path)
        schema = parquet.schema_arrow
        assert schema.field("learner_key").metadata == {b"description": b"Pseudonymous learner key."}
        assert schema.field("treatment").metadata[b"description"].startswith(b"1 if nudged")
        assert not schema.field("skill_score").metadata  # no description given: none invented
        kv = {k.decode(): v.decode() for k, v in parquet.metadata.metadata.items()}
        assert kv["credsignal.run_id"] == "scheduled__2023-10-03T00:00:00+00:00"
        assert kv["credsignal.as_of"] == "2023-10-03"
        assert kv["credsignal.snapshot_id"] == result.snapshot_id
        assert kv["credsignal.table"] == FULL
        assert json.loads(kv["credsignal.column_descriptions"])["version"] == "Which test publish wrote the row."
        assert "pandas" not in kv  # foreign metadata from the staging writer is dropped
        meta = parquet.metadata
        assert all(meta.row_group(i).num_rows <= 4 for i in range(meta.num_row_groups))
        assert meta.row_group(0).sorting_columns[0].column_index == schema.get_field_index("learner_key")
        for i in range(meta.num_row_groups):
            for j in range(meta.num_columns):
                column = meta.row_group(i).column(j)
                assert column.compression == "ZSTD"
                assert column.is_stats_set and column.statistics.has_min_max
    # DuckDB users see the same key-values.
    with duckdb.connect() as con:
        rows = con.sql(f"SELECT key::VARCHAR, value::VARCHAR FROM parquet_kv_metadata('{files[0].as_posix()}')"
                       ).fetchall()
    assert ("credsignal.as_of", "2023-10-03") in rows


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
            assert P._hash_file(folder / table / f["name"]) == (f["sha256"], f["data_sha256"])
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


# ------------------------------------------------------------------------------------------------ determinism

def test_same_data_twice_gives_identical_data_pages_whatever_the_staged_order(tmp_path, small_files):
    lake = tmp_path / "lake"
    first = publish(lake, staged_tables(tmp_path, 5, files=1, seed=1), 5)
    second = P.publish(lake, staged_tables(tmp_path, 5, files=3, seed=2), run_id="manual__rerun",
                       as_of=date(2023, 10, 5), descriptions=DESCRIPTIONS)

    assert first.snapshot_id != second.snapshot_id
    for table in (FULL, LINKEDIN):
        a, b = first.snapshot.tables[table], second.snapshot.tables[table]
        assert [(f.name, f.rows, f.data_sha256) for f in a.files] == [(f.name, f.rows, f.data_sha256) for f in b.files]
        for fa, fb in zip(a.files, b.files):
            # The footers differ only in the run's key-values.
            ma = pq.ParquetFile(lake_layout.curated_snapshot(lake, table, first.snapshot_id) / fa.name).metadata
            mb = pq.ParquetFile(lake_layout.curated_snapshot(lake, table, second.snapshot_id) / fb.name).metadata
            ka, kb = dict(ma.metadata), dict(mb.metadata)
            for key in (b"credsignal.run_id", b"credsignal.snapshot_id"):
                assert ka.pop(key) != kb.pop(key)
            ka.pop(b"ARROW:schema"), kb.pop(b"ARROW:schema")  # the Arrow schema repeats the key-values
            assert ka == kb
            sa, sb = ma.schema.to_arrow_schema(), mb.schema.to_arrow_schema()
            assert sa.remove_metadata().equals(sb.remove_metadata(), check_metadata=True)
            assert ma.to_dict()["row_groups"] == mb.to_dict()["row_groups"]


def test_same_run_on_two_lakes_gives_byte_identical_files(tmp_path):
    hashes = []
    for name, seed in (("one", 1), ("two", 7)):
        result = publish(tmp_path / name, staged_tables(tmp_path, 4, seed=seed), 4)
        hashes.append({t: [f.sha256 for f in i.files] for t, i in result.snapshot.tables.items()})
    assert hashes[0] == hashes[1]


def test_retried_run_with_the_same_data_reuses_its_snapshot(tmp_path):
    lake = tmp_path / "lake"
    first = publish(lake, staged_tables(tmp_path, 1), 1)
    publish(lake, staged_tables(tmp_path, 2), 2)
    again = publish(lake, staged_tables(tmp_path, 1, seed=3), 1)

    assert again.action == "republish" and again.snapshot_id == first.snapshot_id
    assert [s.snapshot_id for s in P.list_snapshots(lake)] == [first.snapshot_id, P.snapshot_id_for(
        "scheduled__2023-10-02T00:00:00+00:00")]
    assert read_curated(lake, FULL)["version"].unique().tolist() == [1]


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


def test_rollback_refuses_a_snapshot_whose_files_changed(tmp_path):
    lake = tmp_path / "lake"
    first = publish(lake, staged_tables(tmp_path, 1), 1)
    publish(lake, staged_tables(tmp_path, 2), 2)
    damaged = lake_layout.curated_snapshot(lake, FULL, first.snapshot_id) / first.snapshot.tables[FULL].files[0].name
    damaged.write_bytes(damaged.read_bytes()[:-20] + b"\0" * 20)

    with pytest.raises(P.PublishError, match="does not match its recorded sha256"):
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
    again = publish(lake, staged_tables(tmp_path, 3, seed=5), 3, keep=1)
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

def test_fault_between_files_leaves_the_previous_snapshot_and_a_rerun_completes(tmp_path, small_files):
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
        P.ROWS_PER_FILE = 16
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

def test_a_listing_that_straddles_a_promotion_never_mixes_two_snapshots(tmp_path, small_files):
    """A reader lists the table's files, a publish promotes, the reader opens the files it listed."""
    lake = tmp_path / "lake"
    publish(lake, staged_tables(tmp_path, 1), 1)
    folder = lake_layout.curated_table(lake, FULL)
    listed = sorted(os.listdir(folder))
    assert len(listed) == 3

    publish(lake, staged_tables(tmp_path, 2), 2)
    with pytest.raises(FileNotFoundError):  # a loud, retryable error instead of old and new rows together
        pq.ParquetDataset([str(folder / name) for name in listed]).read()
    # A table whose first file is unchanged still gets all-new names: a straddled listing can't keep the
    # unchanged file alone and return a silent subset.
    changed = outcomes(2)
    changed.loc[changed.index[-1], "treatment"] = 7
    before = P.current_snapshot(lake).tables[FULL].files
    after = publish(lake, {FULL: stage(tmp_path / "changed", FULL, changed)}, 5).snapshot.tables[FULL].files
    assert before[0].data_sha256 == after[0].data_sha256 and before[-1].data_sha256 != after[-1].data_sha256
    assert not {f.name for f in before} & {f.name for f in after}
    # The same data published again keeps its file names, so such a reader reads the same rows.
    publish(lake, staged_tables(tmp_path, 2, seed=9), 3)
    listed = sorted(os.listdir(folder))
    publish(lake, staged_tables(tmp_path, 2, seed=4), 4)
    again = pq.ParquetDataset([str(folder / name) for name in listed]).read().to_pandas()
    pd.testing.assert_frame_equal(again, expected(2))


def test_concurrent_readers_always_see_one_complete_snapshot(tmp_path, small_files):
    lake = tmp_path / "lake"
    versions = range(1, 9)
    rows = {v: 30 + v for v in versions}  # each version its own row count: a mix or a partial read shows
    staged = {v: {FULL: stage(tmp_path / f"s{v}", FULL, outcomes(v, rows[v]))} for v in versions}
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

@pytest.mark.parametrize("case", ["missing", "empty", "only_success_marker", "spark_without_success", "corrupt"])
def test_bad_staged_input_raises_naming_the_table_and_changes_nothing(tmp_path, case):
    lake = tmp_path / "lake"
    staged = staged_tables(tmp_path, 1)
    publish(lake, staged, 1)
    before = tree(lake)
    bad = tmp_path / "bad" / LINKEDIN
    if case != "missing":
        bad.mkdir(parents=True)
    if case == "only_success_marker":
        (bad / "_SUCCESS").touch()
    if case == "spark_without_success":
        outcomes(2).to_parquet(bad / "part-00000-aa.snappy.parquet")
        (bad / ".part-00000-aa.snappy.parquet.crc").touch()
    if case == "corrupt":
        (bad / "part-0.parquet").write_bytes(b"PAR1 not really parquet PAR1")

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


def test_staged_files_disagreeing_on_an_all_null_chunk_are_read_under_one_schema(tmp_path):
    folder = tmp_path / "staged" / READOUT
    folder.mkdir(parents=True)
    pd.DataFrame({"outcome": ["a"], "note": [None]}).to_parquet(folder / "part-0.parquet")  # note: null type
    pd.DataFrame({"outcome": ["b"], "note": ["checked"]}).to_parquet(folder / "part-1.parquet")
    empty = stage(tmp_path / "staged", "data_quality_report",
                  pd.DataFrame({"check": pd.Series([], dtype="string"), "p_value": pd.Series([], dtype=float)}))

    lake = tmp_path / "lake"
    result = publish(lake, {READOUT: folder, "data_quality_report": empty}, 1)
    got = read_curated(lake, READOUT)
    assert got["outcome"].tolist() == ["a", "b"] and got["note"].tolist() == [None, "checked"]
    report = read_curated(lake, "data_quality_report")
    assert report.shape == (0, 2) and result.snapshot.tables["data_quality_report"].rows == 0


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


def test_spark_staged_table_publishes(tmp_path, spark):
    from pyspark.sql import functions as F

    staged = tmp_path / "staged" / FULL
    (spark.createDataFrame(outcomes(6)).withColumn("created", F.current_timestamp())
     .repartition(3).write.parquet(str(staged)))
    assert (staged / "_SUCCESS").exists() and list(staged.glob(".*.crc"))

    lake = tmp_path / "lake"
    publish(lake, {FULL: staged}, 6)
    got = read_curated(lake, FULL)
    pd.testing.assert_frame_equal(got.drop(columns="created"), expected(6), check_dtype=False)
    assert read_duckdb(lake, FULL)["learner_key"].tolist() == expected(6)["learner_key"].tolist()
    kv = pq.ParquetFile(next(lake_layout.curated_table(lake, FULL).glob("*.parquet"))).metadata.metadata
    assert not any(k.startswith(b"org.apache.spark") for k in kv)


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
