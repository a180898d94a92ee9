"""An N-times bronze lake made by tiling a generated one, for measuring how the feature job grows with volume.

The generator builds its whole population in memory (4.4 GiB at the study's scale), so 10x (8.8M learners) does
not fit on a 24 GiB machine. The feature job does not need a new population to show how it grows: copy k of
every bronze row (k = 0..N-1) gets its keys made distinct (learner, certificate, view IDs and the profile URL's
slug get a suffix ``~k``; copy 0 keeps the original keys), and everything else (dates, export days, referrers,
scores, duplicates and corrections across days) is kept, so each copy has the distributions, the duplicate
rate and the per-day layout of the original. What this does not scale: distinct countries, skills and
courses (the same few hundred values, as a real platform would have).

Writes ``<out>/lake/bronze/<source>/dt=<day>/`` for the six platform sources (one Parquet file per export day,
like the ingest job) and the marker ``<out>/input-<learners x N>-<seed>.json`` that bench_features.py reads, so

    .venv/bin/python bench/scale_bronze.py --lake /tmp/bfw/lake --copies 10 --out /tmp/b10 --learners 880000
    .venv/bin/python bench/bench_features.py --learners 8800000 --seed 7 --workdir /tmp/b10

times the feature job on Spark and DuckDB at 10x.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))

from credsignal.core import lake  # noqa: E402  (path set up above for direct script runs)
from credsignal.core.config import Config  # noqa: E402
from credsignal.core.contracts import EXPORT_SOURCES, bronze_schema  # noqa: E402

# The columns that identify an entity, per source: each copy suffixes them so copies never share a key.
KEY_COLUMNS = {
    "learners": ["learner_id"],
    "certificates": ["certificate_id", "learner_id"],
    "certificate_views": ["view_id", "certificate_id"],
    "experiment_assignments": ["learner_id"],
    "app_sessions": ["learner_id"],
    "skill_scores": ["learner_id"],
    # The staged feature tables (bench_chain.py --tile).
    "learner_outcomes_full": ["learner_key", "certificate_key"],
    "learner_outcomes_linkedin": ["learner_key", "certificate_key"],
}
# Keys whose copies get the copy number in front, not behind: a table sorted by such a key then interleaves the copies
# as distinct learners would be, instead of placing each row's copies side by side, which Parquet would compress
# into almost nothing and so understate the I/O of N times the rows.
PREFIXED_KEYS = {"learner_key", "certificate_key"}


def tiled(frame, source: str, copies: int):
    """`frame` (a bronze table, or a staged feature table) repeated `copies` times with the keys of copy k > 0
    made distinct by ``~k`` (behind the key; in front for PREFIXED_KEYS)."""
    from pyspark.sql import functions as F

    spark = frame.sparkSession
    copy = F.col("_copy")
    with_copies = frame.crossJoin(F.broadcast(spark.range(copies).withColumnRenamed("id", "_copy")))

    def distinct_per_copy(name: str):
        parts = (copy.cast("string"), F.lit("~"), F.col(name)) if name in PREFIXED_KEYS else (
            F.col(name), F.lit("~"), copy.cast("string"))
        return F.when(copy == 0, F.col(name)).otherwise(F.concat(*parts))

    replaced = {name: distinct_per_copy(name) for name in KEY_COLUMNS[source]}
    if source == "learners":
        replaced["linkedin_url"] = F.when(copy == 0, F.col("linkedin_url")).otherwise(
            F.regexp_replace("linkedin_url", "/in/", F.concat(F.lit("/in/c"), copy.cast("string"), F.lit("-"))))
    return with_copies.select(*(replaced.get(name, F.col(name)).alias(name) for name in frame.columns))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--lake", type=Path, required=True, help="the lake whose bronze is tiled")
    parser.add_argument("--copies", type=int, default=10)
    parser.add_argument("--out", type=Path, required=True, help="workdir for bench_features.py (lake/ inside)")
    parser.add_argument("--learners", type=int, required=True, help="learners of the source lake (for the marker)")
    parser.add_argument("--seed", type=int, default=7, help="seed of the source lake (for the marker)")
    parser.add_argument("--driver-memory", default="6g")
    args = parser.parse_args(argv)

    from credsignal.core.spark import spark_session
    from pyspark.sql import functions as F

    config = Config(landing=args.out / "landing", lake=args.out / "lake", driver_memory=args.driver_memory)
    spark = spark_session(config, app_name="scale-bronze")
    rows = {}
    started = time.perf_counter()
    for source in lake.PLATFORM_SOURCES:
        source_path = lake.bronze_table(args.lake, source)
        target = lake.bronze_table(config.lake, source)
        shutil.rmtree(target, ignore_errors=True)
        frame = spark.read.schema(bronze_schema(EXPORT_SOURCES[source])).parquet(str(source_path))
        rows[source] = frame.count() * args.copies
        # One task per export day writes that day's file, as the ingest job lays bronze out.
        days = frame.select("dt").distinct().count()
        (tiled(frame, source, args.copies).repartition(days, F.col("dt"))
         .write.partitionBy("dt").mode("overwrite").parquet(str(target)))
        print(f"{source}: {rows[source]:,} rows, {days} days", flush=True)
    spark.stop()
    marker = args.out / f"input-{args.learners * args.copies}-{args.seed}.json"
    marker.write_text(json.dumps({"clean_rows": rows, "tiled_from": str(args.lake), "copies": args.copies}) + "\n")
    print(f"{time.perf_counter() - started:.0f} s; marker {marker}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
