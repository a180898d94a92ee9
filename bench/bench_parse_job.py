"""The parse job at full scale: jobs.parse.parse_crawl over a synthetic crawl on a local[2] session.

Uses the landing zone given with `--landing` (e.g. the 880,000-learner one of bench_synth.py, about 37,000
profiles); writes the synthetic crawl into it with synth.profile_pages.write_crawl first when the crawl is not
there yet (or `--rewrite-crawl`), timing that too; `--scale N` generates the platform exports first.
Then times the session start-up and `parse_crawl` into a lake (a temporary folder unless `--lake`), and prints
records, body MiB, wall time, pages/s (and per core), peak RSS of the driver, JVM and Python workers, load.

    .venv/bin/python bench/bench_parse_job.py --landing /tmp/bench_full [--crawl-id 2023-09] [--json OUT]
    .venv/bin/python bench/bench_parse_job.py --scale 20000          # everything in a temporary folder
"""

from __future__ import annotations

import argparse
import json
import platform
import shutil
import sys
import tempfile
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_ingest import ChildMemory, driver_peak_mib, load_average  # noqa: E402
from credsignal.core import lake  # noqa: E402
from credsignal.core.config import Config  # noqa: E402


def _render_part(task: tuple[Path, int, list[dict], int, str]) -> tuple[int, int]:
    """Render one part file of a crawl (bench-only shortcut for --render-workers > 1)."""
    from synth.profile_pages import _GzipJsonLines, crawl_records

    crawl_dir, index, profiles, seed, fetched_at = task
    part = _GzipJsonLines(crawl_dir / f"part-{index:05d}.jsonl.gz")
    records = body_bytes = 0
    try:
        for record, _expected in crawl_records(profiles, seed=seed, fetched_at=fetched_at):
            part.write(record)
            records += 1
            body_bytes += len(record["body"].encode("utf-8"))
    finally:
        part.close()
    return records, body_bytes


def write_crawl_parallel(landing: Path, crawl_id: str, seed: int, workers: int, per_part: int = 2000) -> dict:
    """The crawl of write_crawl, rendered part by part in ``workers`` processes: the same pages except the fetch
    times (each part restarts the fetch clock) and no ``_truth/crawl_expected`` (not needed to time parsing)."""
    from multiprocessing import Pool

    from synth.profile_pages import read_truth_profiles

    crawl_dir = landing / "linkedin" / f"crawl={crawl_id}"
    crawl_dir.mkdir(parents=True, exist_ok=True)
    for stale in crawl_dir.glob("part-*"):
        stale.unlink()
    profiles = list(read_truth_profiles(landing / "_truth" / "profiles.jsonl.gz"))
    tasks = [(crawl_dir, i // per_part, profiles[i:i + per_part], seed, "2023-09-15T06:00:00Z")
             for i in range(0, len(profiles), per_part)]
    with Pool(workers) as pool:
        done = pool.map(_render_part, tasks, chunksize=1)
    return {"records": sum(r for r, _ in done), "parts": len(tasks), "body_mib": round(sum(b for _, b in done) / 2**20, 1)}


def main(argv: list[str] | None = None) -> int:
    arguments = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    arguments.add_argument("--landing", type=Path)
    arguments.add_argument("--scale", type=int, help="generate the platform exports of this many learners first")
    arguments.add_argument("--seed", type=int, default=7)
    arguments.add_argument("--crawl-id", default="2023-09")
    arguments.add_argument("--rewrite-crawl", action="store_true")
    arguments.add_argument("--render-workers", type=int, default=1,
                           help="render the crawl in this many processes (bench shortcut; 1: synth's write_crawl)")
    arguments.add_argument("--lake", type=Path)
    arguments.add_argument("--master", default="local[2]")
    arguments.add_argument("--driver-memory", default="4g")
    arguments.add_argument("--json", type=Path)
    options = arguments.parse_args(argv)

    temporary: list[Path] = []
    landing = options.landing
    summary: dict = {"crawl_id": options.crawl_id, "master": options.master}
    if options.scale:
        from synth.platform import generate

        if landing is None:
            landing = Path(tempfile.mkdtemp(prefix="bench_parse_landing_"))
            temporary.append(landing)
        started = time.perf_counter()
        generate(landing, n_learners=options.scale, seed=options.seed)
        summary["generate_s"] = round(time.perf_counter() - started, 1)
    if landing is None:
        arguments.error("give --landing DIR or --scale N")
    if options.rewrite_crawl or not lake.crawl_files(landing, options.crawl_id):
        from synth.profile_pages import write_crawl

        load = load_average()
        started = time.perf_counter()
        if options.render_workers > 1:
            written = write_crawl_parallel(landing, options.crawl_id, options.seed, options.render_workers)
        else:
            crawl = write_crawl(landing, crawl_id=options.crawl_id, seed=options.seed)
            written = {"records": crawl.records, "parts": len(crawl.parts), "body_mib": round(crawl.body_bytes / 2**20, 1)}
        summary["write_crawl"] = {
            "seconds": round(time.perf_counter() - started, 1), **written, "render_workers": options.render_workers,
            "load_start": load, "load_end": load_average(),
        }
        print(f"write_crawl: {json.dumps(summary['write_crawl'])}", flush=True)
    files = lake.crawl_files(landing, options.crawl_id)
    summary["parts"] = len(files)
    summary["gz_mib"] = round(sum(p.stat().st_size for p in files) / 2**20, 1)

    lake_root = options.lake
    if lake_root is None:
        lake_root = Path(tempfile.mkdtemp(prefix="bench_parse_lake_"))
        temporary.append(lake_root)
    cores = int(options.master[6:-1]) if options.master.startswith("local[") and options.master[6:-1].isdigit() else 2

    from credsignal.core.spark import spark_session
    from jobs.parse import parse_crawl

    config = Config(landing=landing, lake=lake_root, spark_master=options.master, driver_memory=options.driver_memory)
    memory = ChildMemory()
    summary["load_before"] = load_average()
    with memory:
        started = time.perf_counter()
        spark = spark_session(config, app_name="bench-parse-job")
        startup = time.perf_counter() - started
    summary["versions"] = {"python": platform.python_version(), "spark": spark.version}
    with memory:
        started = time.perf_counter()
        by_status = parse_crawl(spark, config, options.crawl_id)
        seconds = time.perf_counter() - started
    jvm_mib, workers_mib = memory.peaks_mib()
    spark.stop()
    records = sum(by_status.values())
    summary.update({
        "records": records, "by_status": by_status, "startup_s": round(startup, 2), "parse_s": round(seconds, 1),
        "parse_with_startup_s": round(seconds + startup, 1), "pages_per_s": round(records / seconds, 1),
        "pages_per_s_per_core": round(records / seconds / cores, 1),
        "driver_peak_rss_mib": round(driver_peak_mib()),
        "jvm_peak_rss_mib": None if jvm_mib is None else round(jvm_mib),
        "py_workers_peak_rss_mib": None if workers_mib is None else round(workers_mib),
        "load_after": load_average(),
    })
    print(json.dumps(summary, indent=2))
    if options.json:
        options.json.write_text(json.dumps(summary, indent=2) + "\n")
    for path in temporary:
        shutil.rmtree(path, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
