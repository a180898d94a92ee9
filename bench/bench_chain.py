"""The whole chain at a chosen scale, stage by stage: wall time and peak memory of each step of `credsignal run`.

Stages, each timed on its own with the same functions `credsignal run` and the DAG tasks call
(credsignal.pipeline): synth (optional, `--scale`), crawl rendering (when the landing zone has no complete
crawl), Spark session start-up, ingest (every complete export day of every source), parse (the crawl),
features (both curated tables into staging), validate (GX suites + integrity gates), publish, readout.
Memory per stage: the JVM's and its Python workers' peak RSS (sampled every 0.2 s) and this process's (the
driver's) own high-water mark during the stage (VmHWM, reset at the stage's start; the JVM is a child process and
not counted in it).

Also prints the readout's ITT estimates next to the generator's planted truth (the effect in the planted
columns of _truth/learners_truth.parquet, treatment minus control), and whether each lies in the estimate's
99% interval: the "planted effects are recovered at full scale" check of the readout issue. Exits 1 when the
run did not publish or a planted effect lies outside its interval.

    .venv/bin/python bench/bench_chain.py --landing /tmp/bench_full --lake /tmp/bench_full_lake --json OUT
    .venv/bin/python bench/bench_chain.py --scale 880000 --landing /tmp/bench_full ...   # generate first
    .venv/bin/python bench/bench_chain.py --from-stage features --landing ... --lake ...  # re-time the tail
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import sys
import time
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_ingest import ChildMemory, driver_peak_mib, load_average, reset_driver_peak  # noqa: E402
from credsignal.core import lake  # noqa: E402
from credsignal.core.config import Config  # noqa: E402

# Readout outcomes checked against the planted truth (full sample and LinkedIn sample).
PLANTED_OUTCOMES = {
    "learner_outcomes_full": ("views_all", "views_all_by_others", "views_linkedin", "views_linkedin_by_others"),
    "learner_outcomes_linkedin": ("credential_shared", "new_job", "new_job_in_scope"),
}


class Stages:
    def __init__(self) -> None:
        self.rows: list[dict] = []

    @contextmanager
    def stage(self, name: str, **extra):
        load_start = load_average()
        memory = ChildMemory()
        reset_driver_peak()
        started = time.perf_counter()
        record = {"stage": name, **extra}
        with memory:
            yield record
        record["seconds"] = round(time.perf_counter() - started, 1)
        jvm, workers = memory.peaks_mib()
        record.update(jvm_peak_mib=round(jvm or 0), py_workers_peak_mib=round(workers or 0),
                      driver_peak_mib=round(driver_peak_mib()), load_start=load_start, load_end=load_average())
        self.rows.append(record)
        print(json.dumps(record), flush=True)


def planted_effects(landing: Path, linkedin_ids: set[str]) -> dict[str, dict[str, float]]:
    """Treatment minus control mean of each planted outcome in the generator's truth, per curated table."""
    import pandas as pd

    truth = pd.read_parquet(landing / "_truth" / "learners_truth.parquet")
    samples = {"learner_outcomes_full": truth, "learner_outcomes_linkedin": truth[truth["learner_id"].isin(linkedin_ids)]}
    effects: dict[str, dict[str, float]] = {}
    for table, outcomes in PLANTED_OUTCOMES.items():
        frame = samples[table]
        effects[table] = {}
        for outcome in outcomes:
            if outcome in frame:
                means = frame.groupby("treatment")[outcome].mean()
                effects[table][outcome] = float(means.get(1) - means.get(0))
    return effects


def generator_parameters(linkedin) -> dict[str, float]:
    """The ITTs the generator plants as parameters (synth.profiles, synth.population), for the LinkedIn sample:
    credential_shared is the per-batch planted ITT weighted by the sample's batch sizes."""
    from synth import population, profiles

    weights = linkedin["batch"].value_counts(normalize=True)
    shared = sum(float(population.SHARE_ITT_BY_BATCH[int(b) - 1]) * float(w) for b, w in weights.items())
    return {"credential_shared": round(shared, 4), "new_job": profiles.NEW_JOB_EFFECT,
            "new_job_in_scope": profiles.NEW_JOB_IN_SCOPE_EFFECT}


def recovery(config: Config, snapshot_id: str) -> list[dict]:
    """The readout's full- and LinkedIn-sample ITT, unadjusted and adjusted, next to the planted difference in
    the truth, with the adjusted SE's ratio to the unadjusted one."""
    import pandas as pd

    from jobs import publish

    estimates = pd.read_parquet(config.lake / "curated" / "_snapshots" / snapshot_id / "_readout" / "readout_estimates")
    linkedin = publish.read_published(config.lake, "learner_outcomes_linkedin", snapshot=snapshot_id)
    crosswalk = pd.read_parquet(lake.learner_crosswalk(config.lake))  # restricted: the truth is keyed by platform ID
    planted = planted_effects(config.landing, set(linkedin.merge(crosswalk, on="learner_key")["learner_id"]))
    parameters = generator_parameters(linkedin)
    rows = []
    sample_of = {"learner_outcomes_full": "full", "learner_outcomes_linkedin": "linkedin"}
    overall = estimates[estimates["subgroup"] == "all"]
    cases = [(analysis, table, outcome, truth) for analysis in ("itt", "itt_adjusted")  # Lin-adjusted: issue 19
             for table, effects in planted.items() for outcome, truth in effects.items()]
    for analysis, table, outcome, truth in cases:
        same = (overall["outcome"] == outcome) & (overall["sample"] == sample_of[table])
        match = overall[same & (overall["analysis"] == analysis)]
        if match.empty:
            continue
        row = match.iloc[0]
        unadjusted = overall[same & (overall["analysis"] == "itt")]
        parameter = parameters.get(outcome)
        rows.append({"analysis": analysis, "sample": sample_of[table], "outcome": outcome,
                     "se_ratio_to_unadjusted": round(float(row["se"]) / float(unadjusted.iloc[0]["se"]), 4)
                     if not unadjusted.empty else None,
                     "planted_in_sample": round(truth, 4),
                     "generator_itt": parameter,
                     "generator_itt_inside_99": None if parameter is None else
                     bool(abs(float(row["estimate"]) - parameter) <= 2.5758 * float(row["se"])),
                     "estimate": round(float(row["estimate"]), 4), "se": round(float(row["se"]), 4),
                     "inside_99": bool(abs(float(row["estimate"]) - truth) <= 2.5758 * float(row["se"])),
                     "n": int(row["n_treatment"] + row["n_control"])})
    return rows


def url_balance(config: Config, snapshot_id: str) -> dict[str, dict[str, float]]:
    """has_linkedin_url by arm: as published (the URL in force at randomization) and as the latest learner record
    would give it (the truth's has_linkedin_url_latest: the generator plants late URLs mostly in the treatment
    arm), with the chi-square p-value of each."""
    import pandas as pd
    from scipy.stats import chi2_contingency

    from jobs import publish

    full = publish.read_published(config.lake, "learner_outcomes_full", snapshot=snapshot_id)
    truth = pd.read_parquet(config.landing / "_truth" / "learners_truth.parquet")
    frames = {"published_at_randomization": (full["treatment"], full["has_linkedin_url"]),
              "latest_record": (truth["treatment"], truth["has_linkedin_url_latest"])}
    result = {}
    for name, (arm, flag) in frames.items():
        shares = flag.groupby(arm).mean()
        p_value = float(chi2_contingency(pd.crosstab(arm, flag).values, correction=False).pvalue)
        result[name] = {"control": round(float(shares.get(0)), 4), "treatment": round(float(shares.get(1)), 4),
                        "p_value": p_value}
    return result


def tile_staged(spark, staged: Path, copies: int) -> dict[str, int]:
    """The staged feature tables repeated `copies` times, copy k > 0 of each learner re-keyed (scale_bronze.tiled),
    rewritten the way the feature job writes them. Odd copies swap the arms: a chance imbalance of the 1x sample,
    repeated N times, would be N times as significant and block the sample-ratio gate; swapped, the arms are exactly
    balanced. The effects then cancel, so the N x estimates time the readout and are not meant to be read."""
    from pyspark.sql import functions as F

    from jobs.features.job import write_curated
    from scale_bronze import tiled

    rows = {}
    for table in PLANTED_OUTCOMES:
        original, written = staged / table, staged / f".{table}-x{copies}"
        frame = spark.read.parquet(str(original))
        copy_number = F.when(F.col("learner_key").contains("~"), F.split("learner_key", "~")[0].cast("int")).otherwise(0)
        repeated = tiled(frame, table, copies)
        swapped = repeated.withColumn("treatment", F.when(copy_number % 2 == 1, 1 - F.col("treatment"))
                                      .otherwise(F.col("treatment")).cast(frame.schema["treatment"].dataType))
        write_curated(swapped.select(*frame.columns), written)
        shutil.rmtree(original)
        written.rename(original)
        rows[table] = spark.read.parquet(str(original)).count()
    # The match report's counts by arm, which the readout's attrition table reads, repeated and swapped alike.
    report_path = lake.match_report(staged)
    report = json.loads(report_path.read_text(encoding="utf-8"))
    kept, swapped_copies = (copies + 1) // 2, copies // 2
    count = {(row["match"], row["treatment"]): row["count"] for row in report["profile_match_by_arm"]}
    report["profile_match_by_arm"] = [
        {**row, "count": kept * row["count"] + swapped_copies * count.get((row["match"], 1 - row["treatment"]), 0)}
        for row in report["profile_match_by_arm"]]
    report_path.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    return rows


def generate_in_child(landing: Path, *, n_learners: int, seed: int):
    """synth.platform.generate in a child process, and the child's peak RSS in MiB. Run here, the generator's
    memory (one shard's world: 7 GiB at 10x) stays with this process, since Python keeps what it frees, and would
    count as the driver's in every later stage."""
    import multiprocessing
    import resource
    from concurrent.futures import ProcessPoolExecutor

    from synth.platform import generate

    with ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("spawn")) as pool:
        summary = pool.submit(generate, landing, n_learners=n_learners, seed=seed).result()
    # The largest RSS of any child waited for so far: the generator is the first child of this script.
    return summary, round(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024)


def main(argv: list[str] | None = None) -> int:
    arguments = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    arguments.add_argument("--landing", type=Path, required=True)
    arguments.add_argument("--lake", type=Path, required=True, help="emptied first (unless --from-stage features)")
    arguments.add_argument("--scale", type=int, help="generate the landing zone first (into --landing, emptied)")
    arguments.add_argument("--seed", type=int, default=7)
    arguments.add_argument("--crawl-id", default="2023-09")
    arguments.add_argument("--master", default="local[2]")
    arguments.add_argument("--driver-memory", default="8g")
    arguments.add_argument("--shuffle-partitions", type=int, default=8)
    arguments.add_argument("--cwur", type=Path, default=REPO_ROOT.parent / "shared" / "reference" / "cwurData.csv")
    arguments.add_argument("--from-stage", choices=["ingest", "features", "validate"], default="ingest",
                           help="features: keep --lake's bronze and silver from an earlier run of the same landing "
                                "zone and time only the stages from the feature job on; validate: also keep the "
                                "feature tables that run staged")
    arguments.add_argument("--render-workers", type=int, default=os.cpu_count() or 1,
                           help="processes rendering the crawl's pages (same bytes whatever the number)")
    arguments.add_argument("--tile", type=int, default=1,
                           help="repeat the feature job's staged tables N times (re-keyed learners) before validate, "
                                "so validate, publish and readout run at N x the rows without generating N x")
    arguments.add_argument("--json", type=Path)
    args = arguments.parse_args(argv)

    from credsignal import pipeline
    from credsignal.core.spark import spark_session

    stages = Stages()
    if args.scale:
        shutil.rmtree(args.landing, ignore_errors=True)
        with stages.stage("synth", learners=args.scale) as record:
            summary, record["generator_peak_mib"] = generate_in_child(args.landing, n_learners=args.scale,
                                                                      seed=args.seed)
            record["rows"] = sum(summary.clean_rows.values())
    crawl_folder = args.landing / "linkedin" / f"crawl={args.crawl_id}"
    # A crawl has no _SUCCESS marker; write_crawl renames its expected-records truth file into place last.
    crawl_rendered = bool(lake.crawl_files(args.landing, args.crawl_id)) and (
        args.landing / "_truth" / "crawl_expected.jsonl.gz").exists()
    if not crawl_rendered:
        from synth.profile_pages import write_crawl

        shutil.rmtree(crawl_folder, ignore_errors=True)
        with stages.stage("render crawl") as record:
            record["workers"] = args.render_workers
            record["pages"] = write_crawl(args.landing, crawl_id=args.crawl_id, seed=args.seed,
                                          workers=args.render_workers).records

    if args.from_stage == "ingest":
        shutil.rmtree(args.lake, ignore_errors=True)
    config = Config.from_env(landing=args.landing, lake=args.lake, spark_master=args.master)
    config = replace(config, driver_memory=args.driver_memory, shuffle_partitions=args.shuffle_partitions,
                     cwur_path=args.cwur)
    config = replace(config, as_of=pipeline.newest_complete_day(config))
    run_id = "bench_chain"

    with stages.stage("spark start-up", master=args.master):
        spark = spark_session(config, app_name="credsignal-bench-chain")
        spark.range(1).count()
    if args.from_stage == "ingest":
        with stages.stage("ingest") as record:
            accounts = [pipeline.ingest_account(result)
                        for result in pipeline.ingest_exports(spark, config, until=config.as_of)]
            record["days"] = sum(len(account["days"]) for account in accounts)
            totals = pipeline.ingest_totals(accounts)
            record["rows_in"], record["rows_kept"] = totals["rows_in"], totals["rows_kept"]
        with stages.stage("parse") as record:
            parsed = pipeline.parse_crawls(spark, config, pipeline.crawls_to_parse(config))
            record["crawls"] = parsed
    if args.from_stage != "validate":  # validate: the run's staged tables are there from an earlier bench run
        with stages.stage("features") as record:
            record["rows"] = pipeline.derive_features(spark, config, run_id=run_id, as_of=config.as_of).get("rows")
    if args.tile > 1:
        with stages.stage("tile staged (not the pipeline)", copies=args.tile) as record:
            record["rows"] = tile_staged(spark, pipeline.staging_dir(config, run_id), args.tile)
    with stages.stage("validate") as record:
        outcome = pipeline.validate_staged(spark, config, run_id=run_id, as_of=config.as_of)
        record["blocked"] = bool(outcome.blocked)
        record["failures"] = [f"{f.check}: {f.observed}" for f in outcome.of_severity("failure")][:10]
    snapshot_id = None
    if not outcome.blocked:
        with stages.stage("publish") as record:
            snapshot = pipeline.publish_staged(config, run_id=run_id, as_of=config.as_of)
            snapshot_id = snapshot.snapshot_id
            record["rows"] = snapshot.rows
        with stages.stage("readout"):
            pipeline.build_readout(spark, config, snapshot_id=snapshot_id)

    landing_mib = sum(p.stat().st_size for p in args.landing.rglob("*") if p.is_file()) / 2**20
    result = {
        "machine": {"platform": platform.platform(), "python": platform.python_version(),
                    "cpus": os.cpu_count()},
        "landing": str(args.landing), "landing_mib": round(landing_mib, 1), "as_of": config.as_of.isoformat(),
        "master": args.master, "driver_memory": args.driver_memory, "shuffle_partitions": args.shuffle_partitions,
        "stages": stages.rows,
        "total_seconds": round(sum(r["seconds"] for r in stages.rows), 1),
        "recovery": recovery(config, snapshot_id) if snapshot_id else [],
        "has_linkedin_url_by_arm": url_balance(config, snapshot_id) if snapshot_id else {},
    }
    print(f"\n{'stage':<16}{'seconds':>9}{'JVM MiB':>9}{'workers MiB':>12}{'driver MiB':>11}  load start -> end")
    for r in stages.rows:
        print(f"{r['stage']:<16}{r['seconds']:>9.1f}{r['jvm_peak_mib']:>9}{r['py_workers_peak_mib']:>12}"
              f"{r['driver_peak_mib']:>11}  {r['load_start']} -> {r['load_end']}")
    print(f"total {result['total_seconds']} s")
    for r in result["recovery"]:
        print(f"  {r['analysis']:<13}{r['sample']:<9}{r['outcome']:<26} planted {r['planted_in_sample']:+.4f}  "
              f"estimate {r['estimate']:+.4f} (se {r['se']:.4f}, x{r['se_ratio_to_unadjusted']} of unadjusted)  "
              f"inside 99%: {r['inside_99']}"
              + ("" if r["generator_itt"] is None else
                 f"; generator ITT {r['generator_itt']:+.4f} inside 99%: {r['generator_itt_inside_99']}"))
    for name, shares in result["has_linkedin_url_by_arm"].items():
        print(f"  has_linkedin_url {name:<28} control {shares['control']:.4f}  treatment {shares['treatment']:.4f}"
              f"  chi-square p {shares['p_value']:.3g}")
    if args.json:
        args.json.write_text(json.dumps(result, indent=2, default=str) + "\n", encoding="utf-8")
    recovered = all(r["inside_99"] and r["generator_itt_inside_99"] is not False for r in result["recovery"])
    if snapshot_id and not recovered:
        print("a planted effect lies outside its estimate's 99% interval", file=sys.stderr)
    return 0 if snapshot_id and recovered else 1


if __name__ == "__main__":
    raise SystemExit(main())
