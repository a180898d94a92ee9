"""What one Spark driver costs before and after its work, with and without the JVM class archive.

Every Airflow task of the pipeline, and every spark-submit, starts a driver: a Python process, its JVM, a
SparkSession, then the step. This runs the nightly ingest of one source for one export day through the job's own
step (`jobs.ingest.ingest_source`, what a task or a submitted driver runs), as a child process, alternating a driver that
maps the class archive (`credsignal jvm-archive`) with one that does not (CREDSIGNAL_JVM_CLASS_ARCHIVE pointing
at no file). Each child reports when its session was up and when its step ended; the parent times the whole
process, the JVM's exit included.

    .venv/bin/python bench/bench_driver_start.py --landing /tmp/cmp/landing --source app_sessions \
        --day 2023-09-30 --rounds 4 --json driver_start.json
    git archive OLD | tar -x -C /tmp/old      # the same step with older code, three runs per driver:
    .venv/bin/python bench/bench_driver_start.py --landing /tmp/cmp/landing --day 2023-09-30 --compare /tmp/old \
        --runs 3 --rounds 2
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))

CHILD = """
import json, sys, time
started = time.monotonic()
from datetime import date
from pathlib import Path
from credsignal.core.config import Config
from credsignal.core.spark import spark_session, stop_session_and_jvm
from jobs import ingest
landing, lake_root, source, day = Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3], date.fromisoformat(sys.argv[4])
runs = int(sys.argv[5])
config = Config.from_env(landing=landing, lake=lake_root)
spark = spark_session(config, app_name="bench-driver-start")
session_up = time.monotonic()
steps, jobs = [], []
for run in range(runs):
    spark.sparkContext.setJobGroup(f"run-{run}", "ingest_source")
    began = time.monotonic()
    result = ingest.ingest_source(spark, config, source, [day])
    steps.append(time.monotonic() - began)
    jobs.append(len(spark.sparkContext.statusTracker().getJobIdsForGroup(f"run-{run}")))
step_done = time.monotonic()
stop_session_and_jvm(spark)
print(json.dumps({"session_s": session_up - started, "step_s": steps[0], "again_s": steps[1:], "spark_jobs": jobs,
                  "stop_s": time.monotonic() - step_done, "rows_in": result.total().rows_in}))
"""


def run_driver(landing: Path, source: str, day: date, archive: bool, runs: int = 1, code: Path = REPO_ROOT) -> dict:
    from credsignal.core.config import Config
    from credsignal.core.spark import class_archive

    # The checkout whose jobs and credsignal the driver imports (--compare times an older one): its folder is the
    # working directory, first on the path of `python -c`.
    environment = {**os.environ, "SPARK_LOCAL_IP": "127.0.0.1", "PYTHONPATH": str(code)}
    if archive:
        environment.pop("CREDSIGNAL_JVM_CLASS_ARCHIVE", None)
        assert class_archive(Config()).is_file(), "no class archive: run `credsignal jvm-archive` first"
    else:
        environment["CREDSIGNAL_JVM_CLASS_ARCHIVE"] = str(Path(tempfile.gettempdir()) / "no-such-archive.jsa")
    with tempfile.TemporaryDirectory(prefix="bench-driver-start-") as lake_root:
        started = time.monotonic()
        done = subprocess.run([sys.executable, "-c", CHILD, str(landing), lake_root, source, day.isoformat(),
                               str(runs)],
                              env=environment, capture_output=True, text=True, check=True, cwd=code)
        wall = time.monotonic() - started
    figures = json.loads(done.stdout.strip().splitlines()[-1])
    rounded = {k: round(v, 2) if isinstance(v, float) else [round(x, 2) for x in v] if k == "again_s" else v
               for k, v in figures.items()}
    return {"archive": archive, "code": str(code), "process_s": round(wall, 2), **rounded}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--landing", type=Path, required=True)
    parser.add_argument("--source", default="app_sessions")
    parser.add_argument("--day", type=date.fromisoformat, required=True)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--runs", type=int, default=1, help="run the step this many times in each driver: the "
                                                             "second and later runs show the warm cost")
    parser.add_argument("--compare", type=Path, metavar="OLD_CHECKOUT",
                        help="alternate this checkout's code with OLD_CHECKOUT's, both with the archive")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)

    variants = ([(REPO_ROOT, True), (args.compare.resolve(), True)] if args.compare
                else [(REPO_ROOT, True), (REPO_ROOT, False)])
    runs = []
    for round_number in range(args.rounds):
        for code, archive in variants if round_number % 2 == 0 else variants[::-1]:
            run = run_driver(args.landing, args.source, args.day, archive, args.runs, code)
            runs.append({"round": round_number + 1, **run})
            print(json.dumps(runs[-1]), flush=True)
    summary = {}
    for code, archive in variants:
        mine = [r for r in runs if r["archive"] == archive and r["code"] == str(code)]
        summary[f"{code} {'with' if archive else 'without'} archive"] = {
            key: round(statistics.median(r[key] for r in mine), 2) for key in ("process_s", "session_s", "step_s",
                                                                               "stop_s")}
    print(json.dumps(summary, indent=2))
    if args.json:
        args.json.write_text(json.dumps({"runs": runs, "median": summary, "machine": platform.platform(),
                                         "cpus": os.cpu_count(), "load_after": os.getloadavg()}, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
