"""The whole feature job (jobs.features.run: both tables, the crosswalk and the match report) on a lake that
bench_chain.py (or the pipeline) has filled with bronze and silver.

bench_features.py times learner_outcomes_full alone against DuckDB; this one times the stage as the pipeline runs
it, in a fresh session: the session's start-up, then `run` into a temporary staging folder. It prints the wall time,
the CPU time of the driver, the JVM and its Python workers (what the stage costs whatever the load), the peak memory,
and the Spark jobs grouped by call site (status store): how many each part of the job submits, and their wall time.

`--compare OLD_CHECKOUT --rounds N` runs the job N times with each code, alternating old and new in child
processes (this script, with BENCH_FEATURES_CODE set to the checkout whose jobs.features is imported): a shared
machine's load drifts, so only figures from the same run compare. The last round's staged tables of the two codes
are then compared row for row (DuckDB, EXCEPT ALL both ways): the same lake and pseudonym key give the same rows.

    .venv/bin/python bench/bench_chain.py --scale 880000 --landing L --lake LAKE     # once, for bronze and silver
    .venv/bin/python bench/bench_feature_job.py --lake LAKE [--json OUT]
    git archive main | tar -x -C /tmp/features-old
    .venv/bin/python bench/bench_feature_job.py --lake LAKE --compare /tmp/features-old --rounds 2 --json OUT
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from datetime import date
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
# The checkout whose code is timed (--compare runs this script with an older one); the bench helpers stay ours.
CODE_ROOT = Path(os.environ.get("BENCH_FEATURES_CODE", REPO_ROOT)).resolve()
sys.path.insert(0, str(REPO_ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_ingest import ChildMemory, driver_peak_mib, import_code_from, load_average  # noqa: E402
from bench_parse_job import spark_jobs, stage_cpu_s  # noqa: E402

import_code_from(CODE_ROOT)
from credsignal.core.config import Config  # noqa: E402

DEFAULT_CWUR = REPO_ROOT.parent / "shared" / "reference" / "cwurData.csv"


def jobs_by_call_site(jobs: list[dict]) -> list[dict]:
    """The session's Spark jobs summed by call site (the job's name), most wall time first."""
    grouped: dict[str, dict] = defaultdict(lambda: {"jobs": 0, "s": 0.0})
    for job in jobs:
        grouped[job["name"]]["jobs"] += 1
        grouped[job["name"]]["s"] += job["s"]
    return sorted(({"call_site": name, "jobs": g["jobs"], "s": round(g["s"], 2)} for name, g in grouped.items()),
                  key=lambda g: -g["s"])


def run_once(options) -> dict:
    from credsignal.core.spark import spark_session
    from jobs import features

    config = Config(lake=options.lake.resolve(), spark_master=options.master, driver_memory=options.driver_memory,
                    shuffle_partitions=options.shuffle_partitions,
                    extra_spark_conf=dict(setting.split("=", 1) for setting in options.conf))
    staging = Path(tempfile.mkdtemp(prefix="bench_feature_job_")) if options.out is None else options.out
    memory = ChildMemory()
    result: dict = {"code": features.__file__, "load_before": load_average()}
    with memory:
        started = time.perf_counter()
        spark = spark_session(config, app_name="bench-feature-job")
        result["startup_s"] = round(time.perf_counter() - started, 2)
        cpu_started, started = stage_cpu_s(), time.perf_counter()
        summary = features.run(spark, config, as_of=options.as_of, write_to=staging, cwur_path=options.cwur)
        result["features_s"] = round(time.perf_counter() - started, 1)
        result["stage_cpu_s"] = round(stage_cpu_s() - cpu_started, 1)
    jvm_mib, workers_mib = memory.peaks_mib()
    jobs = spark_jobs(spark)
    result.update({
        "versions": {"python": platform.python_version(), "spark": spark.version},
        "rows": summary["rows"], "load_after": load_average(),
        "driver_peak_rss_mib": round(driver_peak_mib()),
        "jvm_peak_rss_mib": None if jvm_mib is None else round(jvm_mib),
        "py_workers_peak_rss_mib": None if workers_mib is None else round(workers_mib),
        "spark_jobs": len(jobs), "spark_jobs_s": round(sum(job["s"] for job in jobs), 1),
        "by_call_site": jobs_by_call_site(jobs), "staging": str(staging),
    })
    spark.stop()
    if options.out is None:
        shutil.rmtree(staging, ignore_errors=True)
        result.pop("staging")
    return result


def differing_rows(old: Path, new: Path, tables: list[str]) -> dict[str, dict[str, int]]:
    """Rows of each staged table found in one code's output and not the other's (multiset difference)."""
    import duckdb

    differences = {}
    with duckdb.connect() as connection:
        for table in tables:
            old_rows, new_rows = (f"read_parquet('{(root / table).as_posix()}/*.parquet')" for root in (old, new))
            count = "SELECT count(*) FROM (SELECT * FROM {} EXCEPT ALL SELECT * FROM {})"
            differences[table] = {
                "only_old": connection.execute(count.format(old_rows, new_rows)).fetchone()[0],
                "only_new": connection.execute(count.format(new_rows, old_rows)).fetchone()[0],
            }
    return differences


def compare(options) -> dict:
    """Alternate old and new code over the same lake, each in a child process of this script."""
    runs: dict[str, list[dict]] = {"old": [], "new": []}
    codes = {"old": options.compare.resolve(), "new": REPO_ROOT}
    kept = Path(tempfile.mkdtemp(prefix="bench_feature_job_outputs_"))
    try:
        for round_number in range(options.rounds):
            for label in ("old", "new") if round_number % 2 == 0 else ("new", "old"):
                out, staging = kept / f"{label}.json", kept / label
                shutil.rmtree(staging, ignore_errors=True)
                command = [sys.executable, str(Path(__file__).resolve()), "--lake", str(options.lake),
                           "--as-of", options.as_of.isoformat(), "--cwur", str(options.cwur), "--master",
                           options.master, "--driver-memory", options.driver_memory, "--shuffle-partitions",
                           str(options.shuffle_partitions), "--out", str(staging), "--json", str(out),
                           *(f"--conf={setting}" for setting in options.conf)]
                # The Python workers, started by the JVM in the driver's folder, import the same checkout's code.
                subprocess.run(command, check=True, cwd=codes[label], stdout=subprocess.DEVNULL,
                               env={**os.environ, "BENCH_FEATURES_CODE": str(codes[label]),
                                    "PYTHONPATH": str(codes[label])})
                result = json.loads(out.read_text())
                runs[label].append(result)
                print(f"round {round_number + 1} {label}: features {result['features_s']} s, CPU "
                      f"{result['stage_cpu_s']} s, {result['spark_jobs']} Spark jobs, load {result['load_before']} "
                      f"-> {result['load_after']}", flush=True)
        tables = sorted(runs["new"][-1]["rows"])
        return {"runs": runs, "differing_rows": differing_rows(kept / "old", kept / "new", tables)}
    finally:
        shutil.rmtree(kept, ignore_errors=True)


def main(argv: list[str] | None = None) -> int:
    arguments = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    arguments.add_argument("--lake", type=Path, required=True, help="a lake with bronze and silver (bench_chain's)")
    arguments.add_argument("--as-of", type=date.fromisoformat, default=date(2023, 9, 30))
    arguments.add_argument("--cwur", type=Path, default=DEFAULT_CWUR)
    arguments.add_argument("--master", default="local[2]")
    arguments.add_argument("--driver-memory", default="8g")
    arguments.add_argument("--shuffle-partitions", type=int, default=8)
    arguments.add_argument("--conf", action="append", default=[], metavar="KEY=VALUE",
                           help="a Spark setting for this run (Config.extra_spark_conf), to time a setting")
    arguments.add_argument("--out", type=Path, help="stage the tables here and keep them (default: a temporary folder)")
    arguments.add_argument("--compare", type=Path, metavar="OLD_CHECKOUT",
                           help="alternate runs of this checkout's code with OLD_CHECKOUT's, in child processes")
    arguments.add_argument("--rounds", type=int, default=2)
    arguments.add_argument("--json", type=Path)
    options = arguments.parse_args(argv)

    summary = {"machine": {"platform": platform.platform(), "cpus": os.cpu_count()}, "lake": str(options.lake),
               "as_of": options.as_of.isoformat(), "master": options.master, "conf": options.conf}
    summary.update(compare(options) if options.compare is not None else run_once(options))
    print(json.dumps(summary, indent=2))
    if options.json:
        options.json.write_text(json.dumps(summary, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
