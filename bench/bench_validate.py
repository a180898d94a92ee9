"""The GX suites of a staged table on Spark, two ways: Spark jobs and seconds of each (issue 20).

(a) GX 1.x's own Spark datasource (context.data_sources.add_spark, a dataframe asset, batch_parameters
    {"dataframe": df}), with a chosen result_format; its SparkDFExecutionEngine bundles a domain's aggregate metrics
    into one `.agg`, so the job count follows the number of column domains, plus the unexpected lists SUMMARY asks for;
(b) jobs.validate.suite_findings: the same suite evaluated on the metrics of one aggregation.

    .venv/bin/python bench/bench_validate.py --staged lake/_staging/<run> [--table learner_outcomes_full]

Measured (December 2026, 2 cores shared with three other sessions, load average ~20; learner_outcomes_full, the first
200,000 rows of a bench_chain 880k run, 40 expectations, none failing): (a) BOOLEAN_ONLY 26 jobs / 56.3 s, SUMMARY
100 jobs / 49.8 s; (b) 5 jobs / 9.3 s. jobs.validate keeps (b).
"""

from __future__ import annotations

import argparse
import json
import time
from datetime import date
from pathlib import Path


def jobs_and_seconds(spark, fn) -> tuple[int, float, object]:
    tracker = spark.sparkContext.statusTracker()
    before = len(tracker.getJobIdsForGroup(None))
    start = time.perf_counter()
    result = fn()
    return len(tracker.getJobIdsForGroup(None)) - before, time.perf_counter() - start, result


def gx_on_spark(table: str, frame, as_of: date, result_format: str) -> list[bool]:
    import great_expectations as gx
    from great_expectations.data_context.types.base import ProgressBarsConfig

    from expectations.suites import SUITES, add_consistency_columns

    batch = add_consistency_columns(frame)
    context = gx.get_context(mode="ephemeral")
    context.variables.progress_bars = ProgressBarsConfig(globally=False)
    definition = (context.data_sources.add_spark(name="staged").add_dataframe_asset(name=table)
                  .add_batch_definition_whole_dataframe("whole_table"))
    suite = context.suites.add(SUITES[table](as_of, list(batch.columns)))
    validation = context.validation_definitions.add(
        gx.ValidationDefinition(name=f"{table}_validation", data=definition, suite=suite))
    result = validation.run(batch_parameters={"dataframe": batch}, result_format=result_format)
    return [item.success for item in result.results]


def main(argv=None) -> int:
    from credsignal.core.config import Config
    from credsignal.core.spark import spark_session
    from jobs import validate

    parser = argparse.ArgumentParser(prog="bench_validate")
    parser.add_argument("--staged", type=Path, required=True)
    parser.add_argument("--table", default="learner_outcomes_full")
    parser.add_argument("--as-of", type=date.fromisoformat, default=date(2023, 9, 30))
    parser.add_argument("--formats", nargs="+", default=["BOOLEAN_ONLY", "SUMMARY"])
    args = parser.parse_args(argv)
    spark = spark_session(Config(spark_master="local[2]", shuffle_partitions=2, driver_memory="2g"),
                          app_name="bench-validate")
    frame = spark.read.parquet(str(args.staged / args.table))
    rows = frame.count()
    import great_expectations  # noqa: F401  (its import, ~3 s, is not what is measured)

    validate.suite_findings(args.table, frame.limit(10), args.as_of)  # warm up the JVM's code paths for both
    measured = {}
    for result_format in args.formats:
        jobs, seconds, successes = jobs_and_seconds(
            spark, lambda: gx_on_spark(args.table, frame, args.as_of, result_format))
        measured[f"(a) GX Spark datasource, {result_format}"] = {"jobs": jobs, "seconds": round(seconds, 1),
                                                                 "expectations": len(successes),
                                                                 "failed": successes.count(False)}
    jobs, seconds, findings = jobs_and_seconds(spark, lambda: validate.suite_findings(args.table, frame, args.as_of))
    measured["(b) suite_findings on one aggregation"] = {
        "jobs": jobs, "seconds": round(seconds, 1), "expectations": len(findings),
        "failed": sum(f.severity == validate.FAILURE for f in findings)}
    print(json.dumps({"table": args.table, "rows": rows, "measured": measured}, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
