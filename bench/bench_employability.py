"""The readout's employability part on a published lake: from Spark passes (jobs/readout/employability.py, what the
readout runs) or, as before issue 20, from the LinkedIn sample collected to pandas (statistics.employability_scores,
terciles, itt, cox_itt per tercile). One mode per process, so that the driver's high-water mark (VmHWM of this
Python process; the JVM is a child) is the mode's own. Prints one JSON summary: wall time, VmHWM, tercile sizes
and the rows' estimates.

    .venv/bin/python bench/bench_employability.py --lake /work/bench1x/lake1 --mode spark
    .venv/bin/python bench/bench_employability.py --lake /work/bench1x/lake1 --mode rows
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))


def driver_high_water_mib() -> float:
    with open("/proc/self/status") as status:
        return next(int(line.split()[1]) for line in status if line.startswith("VmHWM")) / 1024


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--lake", type=Path, required=True, help="a lake with a published snapshot")
    parser.add_argument("--mode", choices=("spark", "rows"), required=True)
    parser.add_argument("--driver-memory", default="3g")
    args = parser.parse_args(argv)
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)

    from pyspark.sql import SparkSession

    from jobs.readout import build, employability, estimates, statistics

    spark = (SparkSession.builder.master("local[2]").appName("bench_employability")
             .config("spark.driver.memory", args.driver_memory).config("spark.sql.shuffle.partitions", "8")
             .config("spark.ui.enabled", "false").getOrCreate())
    snapshot_id, source = build.published_snapshot(args.lake)
    linkedin = spark.read.parquet(str(source / build.LINKEDIN_TABLE)).persist()  # as estimate_all caches it
    size = linkedin.count()
    start = time.perf_counter()
    if args.mode == "spark":
        notes: list[str] = []
        rows = estimates.tercile_rows(linkedin, snapshot_id=snapshot_id, notes=notes, cox=True)
        seconds = time.perf_counter() - start
        tercile = employability.employability_terciles(linkedin)
        sizes = {row["t"]: row["count"] for row in
                 linkedin.select(tercile.alias("t")).groupBy("t").count().collect()}
        results = [{key: row[key] for key in ("analysis", "outcome", "subgroup", "estimate", "se", "n_treatment",
                                              "n_control")} for row in rows]
    else:
        frame = linkedin.toPandas()
        groups = statistics.terciles(statistics.employability_scores(frame), keys=frame["learner_key"]).to_numpy()
        times = dict(statistics.COX_OUTCOMES)
        results = []
        for name in employability.TERCILES:
            part = frame.loc[groups == name]
            for outcome in statistics.HETEROGENEITY_OUTCOMES:
                for analysis, result in (("itt", statistics.itt(part, outcome)),
                                         ("cox", statistics.cox_itt(part, outcome, times[outcome]))):
                    results.append({"analysis": analysis, "outcome": outcome, "subgroup": f"employability={name}",
                                    **{key: result[key] for key in ("estimate", "se", "n_treatment", "n_control")}})
        seconds = time.perf_counter() - start
        sizes = {name: int((groups == name).sum()) for name in employability.TERCILES}
        notes = []
    print(json.dumps({"mode": args.mode, "snapshot": snapshot_id, "linkedin_rows": size,
                      "seconds": round(seconds, 1), "driver_vmhwm_mib": round(driver_high_water_mib(), 1),
                      "tercile_sizes": sizes, "notes": notes, "rows": results}, indent=1, default=float))
    spark.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
