"""Publish time at 1x and 10x: the same staged table, ten times larger, must publish in the same time.

Takes a learner_outcomes_full table (e.g. `lake/curated/learner_outcomes_full` of a synth run at 880,000 learners:
bench/bench_chain.py or scripts/demo.sh), writes it as the feature job stages it (jobs.features.job.write_curated:
the contract's schema and docs, sorted, zstd, files of <= 1Mi rows) into a fresh lake's staging folder, and a 10x
table made of 10 copies with re-keyed learner_key (`<copy>-<key>`, so that the sorted copies lie apart and
compress like the original: ten times the bytes) beside it; then times jobs.publish.publish of the 1x table into
that lake, then of the 10x one over it. Prints one JSON summary.

    .venv/bin/python bench/bench_publish.py --table LAKE/curated/learner_outcomes_full --workdir DIR
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import time
from datetime import date
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))

from credsignal.core import contracts, lake  # noqa: E402  (path set up above for direct script runs)
from credsignal.core.config import Config  # noqa: E402

TABLE = "learner_outcomes_full"
COPIES = 10


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--table", type=Path, required=True, help="a learner_outcomes_full Parquet folder")
    parser.add_argument("--workdir", type=Path, required=True, help="the bench lake goes here (emptied first)")
    parser.add_argument("--driver-memory", default="4g")
    args = parser.parse_args(argv)

    from pyspark.sql import functions as F

    from credsignal.core.spark import spark_session
    from jobs import publish
    from jobs.features.columns import conform
    from jobs.features.job import write_curated

    shutil.rmtree(args.workdir, ignore_errors=True)
    config = Config(landing=args.workdir / "landing", lake=args.workdir / "lake", shuffle_partitions=4,
                    driver_memory=args.driver_memory)
    spark = spark_session(config, app_name="bench-publish")
    schema = contracts.OUTPUT_SCHEMAS[TABLE]
    source = conform(spark.read.parquet(str(args.table.resolve())), schema)
    staged = {}
    result: dict = {"table": str(args.table)}
    for scale, frame in (("1x", source), (f"{COPIES}x", conform(
            source.crossJoin(spark.range(COPIES).withColumnRenamed("id", "copy"))
            .withColumn("learner_key", F.concat_ws("-", F.col("copy").cast("string"), "learner_key")), schema))):
        folder = lake.staging_root(config.lake, f"bench-{scale}") / TABLE
        started = time.perf_counter()
        write_curated(frame, folder)
        result[f"stage_{scale}_s"] = round(time.perf_counter() - started, 2)
        staged[scale] = folder
    for scale, folder in staged.items():
        started = time.perf_counter()
        done = publish.publish(config.lake, {TABLE: folder}, run_id=f"bench-{scale}", as_of=date(2023, 9, 30))
        result[f"publish_{scale}_s"] = round(time.perf_counter() - started, 3)
        result[f"rows_{scale}"] = done.rows[TABLE]
        result[f"files_{scale}"] = len(done.snapshot.tables[TABLE].files)
        result[f"bytes_{scale}"] = sum(f.bytes for f in done.snapshot.tables[TABLE].files)
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
