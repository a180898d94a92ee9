"""The parse job at full scale: jobs.parse.parse_crawl over a synthetic crawl on a local[2] session.

Uses the landing zone given with `--landing` (e.g. the 880,000-learner one of bench_synth.py, about 37,000
profiles); writes the synthetic crawl into it with synth.profile_pages.write_crawl first when the crawl is not
there yet (or `--rewrite-crawl`), timing that too; `--scale N` generates the platform exports first.
Then times the session start-up and `parse_crawl` into a lake (a temporary folder unless `--lake`), and prints
records, body MiB, wall time, pages/s (and per core), peak RSS of the driver, JVM and Python workers, load, and
where the stage's wall time went: each Spark job of parse_crawl (read+parse+cache, status count, the writes) from
Spark's status store, the rest being the driver's own work (commits by rename, the report).

`--parser-cpu` also measures, in this one process, the CPU time of decompressing every crawl file (with
jobs.ingest.gunzip, as the stage does), of reading each page's line (jobs.parse.read_crawl_line, as the stage
does), and of `parsers.linkedin.parse_profile` on every page: the stage's wall time against the parser's CPU
divided by the cores is issue 21's ratio (target <= 1.5).

`--compare OLD_CHECKOUT --rounds N` runs the stage N times with each code, alternating old and new in child
processes (this script, with BENCH_PARSE_CODE set to the checkout whose jobs.parse is imported), each into its own
lake; a shared machine's load drifts, so only figures from the same run compare. `--keep-lakes DIR` keeps the
last round's lakes (DIR/old, DIR/new) for bench/compare_parse_lakes.py.

    .venv/bin/python bench/bench_parse_job.py --landing /tmp/bench_full [--crawl-id 2023-09] [--json OUT]
    .venv/bin/python bench/bench_parse_job.py --scale 20000          # everything in a temporary folder
    git archive main | tar -x -C /tmp/parse-old
    .venv/bin/python bench/bench_parse_job.py --landing L --compare /tmp/parse-old --rounds 2 --parser-cpu --json OUT
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
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
# The checkout whose code is timed (--compare runs this script with an older one); the bench helpers stay ours.
CODE_ROOT = Path(os.environ.get("BENCH_PARSE_CODE", REPO_ROOT)).resolve()
sys.path.insert(0, str(REPO_ROOT))
sys.path.insert(0, str(CODE_ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_ingest import ChildMemory, driver_peak_mib, import_code_from, load_average  # noqa: E402

import_code_from(CODE_ROOT)
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


def spark_jobs(spark) -> list[dict]:
    """Every finished Spark job of this session, oldest first: its call site and wall seconds (status store)."""
    jobs = []
    listed = spark.sparkContext._jsc.sc().statusStore().jobsList(None)  # a Scala Seq
    for job in (listed.apply(i) for i in range(listed.size())):
        if job.submissionTime().isDefined() and job.completionTime().isDefined():
            started, ended = job.submissionTime().get().getTime(), job.completionTime().get().getTime()
            jobs.append({"job": job.jobId(), "name": job.name(), "s": round((ended - started) / 1000, 2), "start": started})
    jobs.sort(key=lambda job: job["job"])
    return [{k: v for k, v in job.items() if k != "start"} for job in jobs]


def stage_cpu_s() -> float:
    """CPU seconds so far of this process and of everything under it: the JVM and its Python workers, the
    workers that have exited included (in their parents' children times). What the stage costs whatever the
    load, where its wall time also depends on how many runnable processes share the cores."""
    import psutil

    total = time.process_time()
    for process in psutil.Process().children(recursive=True):
        try:
            times = process.cpu_times()
        except psutil.Error:
            continue
        total += times.user + times.system + times.children_user + times.children_system
    return total


def parser_cpu(files: list[Path]) -> dict:
    """CPU seconds of this process decompressing every crawl file, reading every page's line (its JSON, read as
    the stage reads it, and the body as bytes), and parsing every page with parsers.linkedin.parse_profile, each
    phase timed on its own."""
    from jobs.ingest import gunzip
    from jobs.parse import read_crawl_line
    from parsers.linkedin import parse_profile

    clock = time.process_time
    decompress = read_line = parse = 0.0
    pages = 0
    for path in files:
        started = clock()
        lines = gunzip(path.read_bytes()).split(b"\n")
        decompress += clock() - started
        for line in lines:
            if not line.strip():
                continue
            started = clock()
            record, _ = read_crawl_line(line.rstrip(b"\r"))
            body = (record["body"].encode("utf-8", errors="replace")
                    if isinstance(record, dict) and isinstance(record.get("body"), str) else None)
            read_line += clock() - started
            if body is None:
                continue
            started = clock()
            parse_profile(body, record.get("content_type") or "text/html")
            parse += clock() - started
            pages += 1
    return {"pages": pages, "decompress_cpu_s": round(decompress, 1), "read_line_cpu_s": round(read_line, 1),
            "parser_cpu_s": round(parse, 1), "parser_ms_per_page": round(1000 * parse / max(pages, 1), 2)}


def compare(options, landing: Path) -> dict:
    """Alternate old and new code over the same crawl, each in a child process of this script."""
    runs: dict[str, list[dict]] = {"old": [], "new": []}
    codes = {"old": options.compare.resolve(), "new": (options.new or REPO_ROOT).resolve()}
    keep = options.keep_lakes
    for round_number in range(options.rounds):
        for label in ("old", "new") if round_number % 2 == 0 else ("new", "old"):
            lake_root = Path(tempfile.mkdtemp(prefix=f"bench_parse_{label}_"))
            out = lake_root.with_suffix(".json")
            command = [sys.executable, str(Path(__file__).resolve()), "--landing", str(landing), "--lake",
                       str(lake_root), "--crawl-id", options.crawl_id, "--master", options.master,
                       "--driver-memory", options.driver_memory, "--json", str(out)]
            # The Python workers, started by the JVM in the driver's folder, import the same checkout's code.
            subprocess.run(command, check=True, cwd=codes[label],
                           env={**os.environ, "BENCH_PARSE_CODE": str(codes[label]), "PYTHONPATH": str(codes[label])},
                           stdout=subprocess.DEVNULL)
            result = json.loads(out.read_text())
            out.unlink()
            runs[label].append(result)
            print(f"round {round_number + 1} {label}: parse {result['parse_s']} s, CPU {result.get('stage_cpu_s')} s, load {result['load_before']} -> "
                  f"{result['load_after']}", flush=True)
            if keep is not None and round_number == options.rounds - 1:
                shutil.rmtree(keep / label, ignore_errors=True)
                keep.mkdir(parents=True, exist_ok=True)
                shutil.move(str(lake_root), keep / label)
            else:
                shutil.rmtree(lake_root, ignore_errors=True)
    return runs


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
    arguments.add_argument("--parser-cpu", action="store_true",
                           help="also measure the parser's own CPU time on every page of the crawl, in this process")
    arguments.add_argument("--compare", type=Path, metavar="OLD_CHECKOUT",
                           help="alternate runs of this checkout's code with OLD_CHECKOUT's, in child processes")
    arguments.add_argument("--new", type=Path, metavar="NEW_CHECKOUT", help="with --compare: instead of this one")
    arguments.add_argument("--rounds", type=int, default=2)
    arguments.add_argument("--keep-lakes", type=Path, help="with --compare: keep the last round's lakes here")
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

    cores = int(options.master[6:-1]) if options.master.startswith("local[") and options.master[6:-1].isdigit() else 2
    summary["cores"] = cores
    if options.parser_cpu:
        summary["load_before_parser_cpu"] = load_average()
        summary["parser_cpu"] = parser_cpu(files)
        print(f"parser_cpu: {json.dumps(summary['parser_cpu'])}", flush=True)
    if options.compare is not None:
        summary["runs"] = compare(options, landing)
        summary["code"] = {"old": str(options.compare.resolve()), "new": str((options.new or REPO_ROOT).resolve())}
        if options.parser_cpu:
            ideal = summary["parser_cpu"]["parser_cpu_s"] / cores
            summary["ratio_to_parser_cpu_per_core"] = {
                label: [round(run["parse_s"] / ideal, 2) for run in runs] for label, runs in summary["runs"].items()}
        return finish(summary, options.json, temporary)

    lake_root = options.lake
    if lake_root is None:
        lake_root = Path(tempfile.mkdtemp(prefix="bench_parse_lake_"))
        temporary.append(lake_root)

    from credsignal.core.spark import spark_session
    from jobs import parse as parse_job
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
        cpu_started, started = stage_cpu_s(), time.perf_counter()
        by_status = parse_crawl(spark, config, options.crawl_id)
        seconds = time.perf_counter() - started
        cpu_seconds = stage_cpu_s() - cpu_started
    jvm_mib, workers_mib = memory.peaks_mib()
    job_times = spark_jobs(spark)
    spark.stop()
    records = sum(by_status.values())
    summary.update({
        "records": records, "by_status": by_status, "startup_s": round(startup, 2), "parse_s": round(seconds, 1), "stage_cpu_s": round(cpu_seconds, 1),
        "parse_with_startup_s": round(seconds + startup, 1), "pages_per_s": round(records / seconds, 1),
        "pages_per_s_per_core": round(records / seconds / cores, 1),
        "driver_peak_rss_mib": round(driver_peak_mib()),
        "jvm_peak_rss_mib": None if jvm_mib is None else round(jvm_mib),
        "py_workers_peak_rss_mib": None if workers_mib is None else round(workers_mib),
        "load_after": load_average(), "code": parse_job.__file__,
        "spark_jobs": job_times, "spark_jobs_s": round(sum(job["s"] for job in job_times), 1),
        "driver_only_s": round(seconds - sum(job["s"] for job in job_times), 1),
    })
    if "parser_cpu" in summary:
        summary["ratio_to_parser_cpu_per_core"] = round(seconds / (summary["parser_cpu"]["parser_cpu_s"] / cores), 2)
    return finish(summary, options.json, temporary)


def finish(summary: dict, out: Path | None, temporary: list[Path]) -> int:
    print(json.dumps(summary, indent=2))
    if out:
        out.write_text(json.dumps(summary, indent=2) + "\n")
    for path in temporary:
        shutil.rmtree(path, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
