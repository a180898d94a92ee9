"""credsignal.core.storage.overwrite_partitions: exactly the listed partitions are replaced, each by one sorted
file with a deterministic name, whether one partition is written (a nightly day, a crawl) or many."""

from __future__ import annotations

from datetime import date

import pyarrow.parquet as pq
import pytest
from pyspark.sql import Row

from credsignal.core.storage import overwrite_partitions

D1, D2, D3 = date(2023, 9, 1), date(2023, 9, 2), date(2023, 9, 3)


def _rows_in_file_order(partition) -> list[dict]:
    files = sorted(partition.iterdir())
    assert [f.name for f in files] == [f"part-{i:05d}.parquet" for i in range(len(files))], files
    return [row for f in files for row in pq.read_table(f).to_pylist()]


@pytest.fixture
def table(spark, tmp_path):
    """A table with three day partitions, each holding one row ("old")."""
    path = tmp_path / "lake" / "bronze" / "t"
    old = spark.createDataFrame([Row(k="old", n=0, dt=day) for day in (D1, D2, D3)])
    overwrite_partitions(old, path, "dt", [D1, D2, D3], staging=tmp_path / "staging-old", sort_by=["k"])
    return path


@pytest.mark.parametrize("listed", [[D2], [D2, D3]], ids=["one partition", "two partitions"])
def test_only_listed_partitions_are_replaced_each_by_one_sorted_file(spark, tmp_path, table, listed):
    untouched = (table / "dt=2023-09-01" / "part-00000.parquet").stat()
    new = spark.createDataFrame([Row(k=k, n=n, dt=D2) for k, n in (("b", 2), ("a", 9), ("c", 1), ("a", 1))])
    staging = tmp_path / "staging"

    overwrite_partitions(new.repartition(3), table, "dt", listed, staging=staging, sort_by=["k", "n"])

    assert sorted(p.name for p in table.iterdir()) == (
        ["dt=2023-09-01", "dt=2023-09-02"] if D3 in listed else ["dt=2023-09-01", "dt=2023-09-02", "dt=2023-09-03"])
    assert _rows_in_file_order(table / "dt=2023-09-02") == [
        {"k": "a", "n": 1}, {"k": "a", "n": 9}, {"k": "b", "n": 2}, {"k": "c", "n": 1}]
    assert len(list((table / "dt=2023-09-02").iterdir())) == 1
    after = (table / "dt=2023-09-01" / "part-00000.parquet").stat()
    assert (after.st_ino, after.st_mtime_ns) == (untouched.st_ino, untouched.st_mtime_ns)
    if D3 not in listed:
        assert _rows_in_file_order(table / "dt=2023-09-03") == [{"k": "old", "n": 0}]
    assert not (staging / table.name).exists()


def test_rows_of_partitions_not_listed_are_not_written(spark, tmp_path, table):
    new = spark.createDataFrame([Row(k="new", n=1, dt=D2), Row(k="new", n=1, dt=D3)])

    overwrite_partitions(new, table, "dt", [D2], staging=tmp_path / "staging", sort_by=["k"])

    assert _rows_in_file_order(table / "dt=2023-09-02") == [{"k": "new", "n": 1}]
    assert _rows_in_file_order(table / "dt=2023-09-03") == [{"k": "old", "n": 0}]
