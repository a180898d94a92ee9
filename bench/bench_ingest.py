"""Bronze ingestion of one full-scale export day per source (and of certificate_views' whole history), Spark vs DuckDB.

Given a landing zone (`--landing DIR`), or generating one (`--scale N`, into `--landing` or a temporary folder),
times `jobs.ingest.ingest_source` on a `local[2]` session for:

- the busiest complete export day of each source (the dt folder with the most compressed bytes, e.g. a
  randomization day for experiment_assignments);
- the whole history of `certificate_views` (every complete dt folder in one call), unless `--no-history`;
- with `--initial-load`, the initial load: every complete dt folder of every source, one `ingest_source` call per
  source as `credsignal run` does (pipeline.ingest_exports), with a total row over the sources.

and, side by side in the same run, DuckDB (`read_json` over the same `.jsonl.gz` files, typed with TRY_CAST,
written to Parquet, `threads` = the Spark cores) as the reference, with the ratio Spark / DuckDB.

Reported per case: wall time without the session start-up (the session is started once, timed separately,
before the first case), wall time including it, rows in per second, the driver's peak RSS (getrusage) and the
JVM's and Python workers' peak RSS (psutil, sampled every 0.2 s), the load average before and after.
DuckDB reads with `ignore_errors`, so its row count is Spark's rows_in minus the lines that are not a JSON
object (printed side by side).

    .venv/bin/python bench/bench_ingest.py --landing /tmp/bench_full [--lake DIR] [--sources a,b] [--json OUT]
    .venv/bin/python bench/bench_ingest.py --scale 20000      # generate a landing zone first
    .venv/bin/python bench/bench_ingest.py --landing /tmp/l88k --initial-load --no-history --sources ''  # initial load only
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shutil
import sys
import tempfile
import threading
import time
from datetime import date
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))

from credsignal.core import lake  # noqa: E402  (path set up above for direct script runs)
from credsignal.core.config import Config  # noqa: E402

HISTORY_SOURCE = "certificate_views"


def import_code_from(code_root: Path) -> None:
    """Make the project's packages import from `code_root` (an older checkout a bench compares with) from now on:
    the bench helpers have imported this checkout's, and the code timed must come from `code_root` alone."""
    if code_root.resolve() == REPO_ROOT:
        return
    for module in [name for name in sys.modules if name.split(".")[0] in ("credsignal", "jobs", "parsers", "synth")]:
        del sys.modules[module]
    sys.path.insert(0, str(code_root))


def load_average() -> str:
    return " ".join(f"{value:.2f}" for value in os.getloadavg())


def driver_peak_mib() -> float:
    """This process's peak RSS since it started, or since the last reset_driver_peak()."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024  # kB
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux reports KiB; monotone, never reset


def reset_driver_peak() -> bool:
    """Start this process's peak RSS afresh (Linux: writing 5 to clear_refs resets VmHWM to the current RSS), so
    each stage reports its own high-water mark rather than the largest of all earlier stages."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        return False
    return True


class ChildMemory:
    """Peak RSS of the JVM child of this process and of its Python workers, sampled in a thread."""

    def __init__(self, interval: float = 0.2) -> None:
        self.interval = interval
        self.jvm_peak = 0
        self.workers_peak = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        try:
            import psutil
        except ImportError:  # pragma: no cover - psutil is in the venv; the bench still runs without it
            self._psutil = None
        else:
            self._psutil = psutil

    def _jvm(self):
        me = self._psutil.Process()
        for child in me.children(recursive=True):
            try:
                if "java" in child.name():
                    return child
            except self._psutil.Error:
                continue
        return None

    def _sample(self) -> None:
        psutil = self._psutil
        while not self._stop.is_set():
            jvm = self._jvm()
            if jvm is not None:
                try:
                    self.jvm_peak = max(self.jvm_peak, jvm.memory_info().rss)
                    workers = 0
                    for child in jvm.children(recursive=True):
                        try:
                            workers += child.memory_info().rss
                        except psutil.Error:
                            pass
                    self.workers_peak = max(self.workers_peak, workers)
                except psutil.Error:
                    pass
            self._stop.wait(self.interval)

    def __enter__(self) -> "ChildMemory":
        self.jvm_peak = self.workers_peak = 0
        if self._psutil is not None:
            self._stop.clear()
            self._thread = threading.Thread(target=self._sample, daemon=True)
            self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        if self._thread is not None:
            self._stop.set()
            self._thread.join()

    def peaks_mib(self) -> tuple[float | None, float | None]:
        if self._psutil is None:
            return None, None
        return self.jvm_peak / 2**20, self.workers_peak / 2**20


def busiest_day(landing: Path, source: str) -> date:
    days = lake.complete_export_days(landing, source)
    if not days:
        raise SystemExit(f"no complete export day of {source} in {landing}")
    return max(days, key=lambda day: (sum(p.stat().st_size for p in lake.export_files(landing, source, day)), day))


def _duckdb_type(spark_type) -> str:
    from pyspark.sql.types import BooleanType, DateType, DoubleType, IntegerType, LongType, TimestampType

    return {
        BooleanType: "BOOLEAN", DateType: "DATE", DoubleType: "DOUBLE", IntegerType: "INTEGER",
        LongType: "BIGINT", TimestampType: "TIMESTAMPTZ",
    }.get(type(spark_type), "VARCHAR")


def duckdb_ingest(files: list[Path], source: str, out: Path, threads: int) -> tuple[float, int]:
    """Read the files with read_json (every field as text, then TRY_CAST as typed in bronze), write Parquet."""
    import duckdb

    from credsignal.core.contracts import EXPORT_SOURCES

    fields = EXPORT_SOURCES[source].schema.fields
    columns = "{" + ", ".join(f"'{f.name}': 'VARCHAR'" for f in fields) + "}"
    typed = ", ".join(
        f.name if _duckdb_type(f.dataType) == "VARCHAR" else f"TRY_CAST({f.name} AS {_duckdb_type(f.dataType)}) AS {f.name}"
        for f in fields
    )
    paths = "[" + ", ".join(f"'{p.as_posix()}'" for p in files) + "]"
    out.mkdir(parents=True, exist_ok=True)
    target = (out / f"{source}.parquet").as_posix()
    started = time.perf_counter()
    connection = duckdb.connect()
    connection.execute(f"SET threads = {threads}")
    connection.execute(
        f"COPY (SELECT {typed} FROM read_json({paths}, format = 'newline_delimited', columns = {columns}, "
        f"ignore_errors = true, compression = 'gzip')) TO '{target}' (FORMAT parquet, COMPRESSION zstd)"
    )
    rows = connection.execute(f"SELECT count(*) FROM read_parquet('{target}')").fetchone()[0]
    seconds = time.perf_counter() - started
    connection.close()
    return seconds, rows


def initial_load_total(rows: list[dict]) -> dict:
    """The initial load's row: the sum over its per-source cases (one ingest_source call each)."""
    total = {"case": "initial load: total", "source": "*", "load_start": rows[0]["load_start"],
             "load_end": rows[-1]["load_end"], "jvm_peak_rss_mib": max(r["jvm_peak_rss_mib"] or 0 for r in rows)}
    for key in ("days", "files", "gz_mib", "rows_in", "rows_kept", "rows_quarantined", "duplicates", "spark_s",
                "duckdb_s", "duckdb_rows"):
        if all(key in r for r in rows):
            total[key] = round(sum(r[key] for r in rows), 2)
    total["spark_with_startup_s"] = round(total["spark_s"] + rows[0]["spark_with_startup_s"] - rows[0]["spark_s"], 2)
    total["spark_rows_per_s"] = round(total["rows_in"] / total["spark_s"]) if total["spark_s"] else None
    if total.get("duckdb_s"):
        total["spark_over_duckdb"] = round(total["spark_s"] / total["duckdb_s"], 1)
    print(json.dumps(total), flush=True)
    return total


def main(argv: list[str] | None = None) -> int:
    arguments = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    arguments.add_argument("--landing", type=Path, help="landing zone to read (generated here with --scale)")
    arguments.add_argument("--scale", type=int, help="generate a landing zone of this many learners first")
    arguments.add_argument("--seed", type=int, default=7)
    arguments.add_argument("--lake", type=Path, help="lake to write into (default: a temporary folder, removed)")
    arguments.add_argument("--sources", default=",".join(lake.PLATFORM_SOURCES))
    arguments.add_argument("--master", default="local[2]")
    arguments.add_argument("--driver-memory", default="4g")
    arguments.add_argument("--no-history", action="store_true", help=f"skip the whole history of {HISTORY_SOURCE}")
    arguments.add_argument("--initial-load", action="store_true",
                           help="also every complete day of every source, one ingest_source call per source")
    arguments.add_argument("--no-duckdb", action="store_true")
    arguments.add_argument("--json", type=Path, help="also write the results as JSON here")
    arguments.add_argument("--conf", action="append", default=[], metavar="KEY=VALUE",
                           help="a Spark setting for this run (Config.extra_spark_conf), to time a setting")
    options = arguments.parse_args(argv)

    temporary: list[Path] = []
    landing = options.landing
    if options.scale:
        from synth.platform import generate

        if landing is None:
            landing = Path(tempfile.mkdtemp(prefix="bench_ingest_landing_"))
            temporary.append(landing)
        started = time.perf_counter()
        generate(landing, n_learners=options.scale, seed=options.seed)
        print(f"generated {options.scale:,d} learners into {landing} in {time.perf_counter() - started:.1f} s")
    if landing is None:
        arguments.error("give --landing DIR or --scale N")
    lake_root = options.lake
    if lake_root is None:
        lake_root = Path(tempfile.mkdtemp(prefix="bench_ingest_lake_"))
        temporary.append(lake_root)
    duck_out = Path(tempfile.mkdtemp(prefix="bench_ingest_duckdb_"))
    temporary.append(duck_out)
    threads = int(options.master[len("local["):-1]) if options.master.startswith("local[") and options.master[6:-1].isdigit() else 2

    sources = [s for s in options.sources.split(",") if s]
    cases: list[tuple[str, str, list[date]]] = [(f"{s} busiest day", s, [busiest_day(landing, s)]) for s in sources]
    if not options.no_history:
        cases.append((f"{HISTORY_SOURCE} whole history", HISTORY_SOURCE, lake.complete_export_days(landing, HISTORY_SOURCE)))
    if options.initial_load:
        cases += [(f"initial load: {s}", s, lake.complete_export_days(landing, s)) for s in lake.PLATFORM_SOURCES]

    from credsignal.core.spark import spark_session
    from jobs.ingest import ingest_source

    config = Config(landing=landing, lake=lake_root, spark_master=options.master, driver_memory=options.driver_memory,
                    extra_spark_conf=dict(setting.split("=", 1) for setting in options.conf))
    memory = ChildMemory()
    load_before = load_average()
    with memory:
        started = time.perf_counter()
        spark = spark_session(config, app_name="bench-ingest")
        startup = time.perf_counter() - started
    print(f"session start-up {startup:.1f} s (master {options.master}); load {load_before}")
    versions = {"python": platform.python_version(), "spark": spark.version}

    results = []
    for label, source, days in cases:
        files = [p for day in days for p in lake.export_files(landing, source, day)]
        gz_mib = sum(p.stat().st_size for p in files) / 2**20
        load_start = load_average()
        with memory:
            started = time.perf_counter()
            result = ingest_source(spark, config, source, days)
            seconds = time.perf_counter() - started
        jvm_mib, workers_mib = memory.peaks_mib()
        total = result.total()
        row = {
            "case": label, "source": source, "days": len(days),
            "first_day": days[0].isoformat(), "last_day": days[-1].isoformat(),
            "files": len(files), "gz_mib": round(gz_mib, 1),
            "rows_in": total.rows_in, "rows_kept": total.rows_kept, "rows_quarantined": total.rows_quarantined,
            "duplicates": total.duplicates,
            "spark_s": round(seconds, 2), "spark_with_startup_s": round(seconds + startup, 2),
            "spark_rows_per_s": round(total.rows_in / seconds) if seconds else None,
            "driver_peak_rss_mib": round(driver_peak_mib()),
            "jvm_peak_rss_mib": None if jvm_mib is None else round(jvm_mib),
            "py_workers_peak_rss_mib": None if workers_mib is None else round(workers_mib),
            "load_start": load_start,
        }
        if not options.no_duckdb:
            duck_seconds, duck_rows = duckdb_ingest(files, source, duck_out / label.replace(" ", "_"), threads)
            row.update({
                "duckdb_s": round(duck_seconds, 2), "duckdb_rows": duck_rows,
                "duckdb_rows_per_s": round(duck_rows / duck_seconds) if duck_seconds else None,
                "spark_over_duckdb": round(seconds / duck_seconds, 1) if duck_seconds else None,
            })
        row["load_end"] = load_average()
        results.append(row)
        print(json.dumps(row), flush=True)

    spark.stop()
    load_rows = [r for r in results if r["case"].startswith("initial load: ")]
    if load_rows:
        results.append(initial_load_total(load_rows))
    summary = {
        "landing": str(landing), "master": options.master, "conf": options.conf, "startup_s": round(startup, 2),
        "load_before": load_before, "load_after": load_average(), "versions": versions,
        "driver_peak_rss_mib": round(driver_peak_mib()), "cases": results,
    }
    header = (f"{'case':36s} {'files':>5s} {'gz MiB':>7s} {'rows in':>10s} {'spark s':>8s} {'+start':>7s} "
              f"{'rows/s':>8s} {'duck s':>7s} {'duck rows':>10s} {'ratio':>6s} {'JVM MiB':>8s} {'load':>16s}")
    print(header)
    for r in results:
        print(f"{r['case']:36s} {r['files']:5d} {r['gz_mib']:7.1f} {r['rows_in']:10,d} {r['spark_s']:8.1f} "
              f"{r['spark_with_startup_s']:7.1f} {r['spark_rows_per_s']:8,d} {r.get('duckdb_s', float('nan')):7.2f} "
              f"{r.get('duckdb_rows', 0):10,d} {r.get('spark_over_duckdb', float('nan')):6.1f} "
              f"{r['jvm_peak_rss_mib'] or 0:8d} {r['load_start']:>16s}")
    print(f"driver peak RSS {summary['driver_peak_rss_mib']} MiB; session start-up {startup:.1f} s; "
          f"load before {load_before}, after {summary['load_after']}")
    if options.json:
        options.json.write_text(json.dumps(summary, indent=2) + "\n")
    for path in temporary:
        shutil.rmtree(path, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
