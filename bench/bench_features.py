"""The feature job's full-sample derivation (learner_outcomes_full) in Spark vs a DuckDB reference, same bronze data.

Generates its own input (synth.platform.generate, then jobs.ingest.run into bronze Parquet) unless --workdir
already holds a lake for the same scale and seed, then times:

- Spark: session start-up, then jobs.features.plan_learner_outcomes_full read from bronze and written as Parquet;
- DuckDB: the same definitions in SQL (study certificate, views and LinkedIn referrers, app log-in window, main
  skill and its standardisation, learner version at randomization, developing country through the same reference classifier)
  on the same bronze Parquet, written as Parquet;

and checks that the two outputs agree (row count and column sums). Prints one JSON summary.

    .venv/bin/python bench/bench_features.py --learners 20000 [--workdir DIR] [--seed 7] [--keep] [--json OUT]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))

from credsignal.core import contracts, lake  # noqa: E402  (path set up above for direct script runs)
from credsignal.core.config import Config  # noqa: E402
from jobs import features  # noqa: E402

AS_OF = date(2023, 9, 30)

# Sums compared between the two outputs (besides the row count).
CHECKED_SUMS = [
    "treatment", "developing_country", "logged_in_after_randomization", "count_views_all", "count_views_by_others",
    "count_views_linkedin", "count_views_linkedin_by_others", "views_all", "views_all_by_others", "views_linkedin",
    "views_linkedin_by_others", "has_linkedin_url", "main_skill_score", "main_skill_standardized",
]
CHECKED_COUNTS = ["certificate_id", "main_skill", "developing_country"]


def duckdb_sql(bronze: Path, experiment_id: str, as_of: date) -> str:
    """learner_outcomes_full in DuckDB SQL: the definitions of jobs/features/, written independently."""

    def table(source: str) -> str:
        path = (bronze / source).as_posix()
        return f"(SELECT * FROM read_parquet('{path}/dt=*/*.parquet', hive_partitioning = true) WHERE dt <= DATE '{as_of}')"

    latest = "dt DESC, source_file DESC, line_number DESC"
    host = features.REFERRER_HOST_PATTERN.replace("'", "''")
    scheme = features.REFERRER_SCHEME_PATTERN.replace("'", "''")
    return f"""
    WITH assignments AS (
        SELECT learner_id, batch, CASE WHEN arm = '{features.TREATMENT_ARM}' THEN 1 ELSE 0 END AS treatment,
               randomized_at, stratum
        FROM {table('experiment_assignments')} WHERE experiment_id = '{experiment_id}'
        QUALIFY row_number() OVER (PARTITION BY experiment_id, learner_id ORDER BY {latest}) = 1
    ),
    learners AS (
        -- The version in force at the end of the randomization day, else the earliest (whose URL does not count).
        SELECT l.*, l.updated_at >= CAST(a.randomized_at + INTERVAL 1 DAY AS TIMESTAMPTZ) AS after_randomization
        FROM {table('learners')} l JOIN assignments a USING (learner_id)
        QUALIFY row_number() OVER (PARTITION BY learner_id ORDER BY after_randomization,
            CASE WHEN NOT after_randomization THEN updated_at END DESC NULLS LAST, updated_at, {latest}) = 1
    ),
    certificates AS (
        SELECT * FROM {table('certificates')}
        QUALIFY row_number() OVER (PARTITION BY certificate_id ORDER BY {latest}) = 1
    ),
    study AS (
        SELECT c.learner_id, c.certificate_id, c.primary_domain, c.credential_type, a.randomized_at
        FROM certificates c JOIN assignments a USING (learner_id)
        WHERE CAST(c.granted_at AS DATE) BETWEEN date_trunc('month', a.randomized_at) AND a.randomized_at
        QUALIFY row_number() OVER (PARTITION BY c.learner_id ORDER BY c.granted_at, c.certificate_id) = 1
    ),
    views AS (
        SELECT *, lower(trim(referrer)) AS ref FROM {table('certificate_views')}
        QUALIFY row_number() OVER (PARTITION BY view_id ORDER BY {latest}) = 1
    ),
    view_counts AS (
        SELECT s.learner_id,
               count(*) AS count_views_all,
               count(*) FILTER (WHERE NOT v.by_owner) AS count_views_by_others,
               count(*) FILTER (WHERE v.linkedin) AS count_views_linkedin,
               count(*) FILTER (WHERE v.linkedin AND NOT v.by_owner) AS count_views_linkedin_by_others
        FROM (
            SELECT *, coalesce(
                regexp_extract(ref, '{host}', 1) IN ('linkedin.com', 'lnkd.in')
                OR regexp_extract(ref, '{host}', 1) LIKE '%.linkedin.com'
                OR (regexp_extract(ref, '{scheme}', 1) = 'android-app'
                    AND regexp_extract(ref, '{host}', 1) = 'com.linkedin.android'), false) AS linkedin
            FROM views
        ) v JOIN study s USING (certificate_id)
        WHERE v.viewed_at >= CAST(s.randomized_at AS TIMESTAMPTZ)
          AND v.viewed_at < CAST(DATE '{as_of}' + INTERVAL 1 DAY AS TIMESTAMPTZ)
        GROUP BY s.learner_id
    ),
    logins AS (
        SELECT DISTINCT a.learner_id
        FROM {table('app_sessions')} s JOIN assignments a USING (learner_id)
        WHERE s.started_at > CAST(a.randomized_at AS TIMESTAMPTZ)
          AND s.started_at <= CAST(a.randomized_at + INTERVAL {features.LOGIN_WINDOW_DAYS} DAY AS TIMESTAMPTZ)
    ),
    scores AS (
        SELECT learner_id, skill, score FROM {table('skill_scores')} JOIN assignments a USING (learner_id)
        WHERE measured_at < CAST(a.randomized_at + INTERVAL 1 DAY AS TIMESTAMPTZ)
        QUALIFY row_number() OVER (PARTITION BY learner_id, skill ORDER BY measured_at DESC, {latest}) = 1
    ),
    main_skill AS (
        SELECT learner_id, skill AS main_skill, score AS main_skill_score,
               CASE WHEN skill_max <> 0 THEN (score - skill_mean) / skill_max END AS main_skill_standardized
        FROM (SELECT *, avg(score) OVER (PARTITION BY skill) AS skill_mean,
                        max(score) OVER (PARTITION BY skill) AS skill_max FROM scores)
        QUALIFY row_number() OVER (PARTITION BY learner_id ORDER BY score DESC, skill) = 1
    )
    SELECT a.learner_id, a.batch, a.treatment, a.randomized_at, a.stratum,
           s.certificate_id, s.primary_domain, s.credential_type,
           k.developing_country,
           coalesce(l.education_level, '{contracts.NOT_MENTIONED}') AS education_level,
           coalesce(l.gender, '{contracts.NOT_MENTIONED}') AS gender,
           m.main_skill, m.main_skill_score, m.main_skill_standardized,
           CASE WHEN g.learner_id IS NULL THEN 0 ELSE 1 END AS logged_in_after_randomization,
           coalesce(v.count_views_all, 0) AS count_views_all,
           coalesce(v.count_views_by_others, 0) AS count_views_by_others,
           coalesce(v.count_views_linkedin, 0) AS count_views_linkedin,
           coalesce(v.count_views_linkedin_by_others, 0) AS count_views_linkedin_by_others,
           CASE WHEN coalesce(v.count_views_all, 0) > 0 THEN 1 ELSE 0 END AS views_all,
           CASE WHEN coalesce(v.count_views_by_others, 0) > 0 THEN 1 ELSE 0 END AS views_all_by_others,
           CASE WHEN coalesce(v.count_views_linkedin, 0) > 0 THEN 1 ELSE 0 END AS views_linkedin,
           CASE WHEN coalesce(v.count_views_linkedin_by_others, 0) > 0 THEN 1 ELSE 0 END AS views_linkedin_by_others,
           CASE WHEN NOT l.after_randomization AND length(trim(coalesce(l.linkedin_url, ''))) > 0 THEN 1 ELSE 0 END
               AS has_linkedin_url
    FROM assignments a
    LEFT JOIN study s USING (learner_id)
    LEFT JOIN learners l USING (learner_id)
    LEFT JOIN country_classes k ON k.country IS NOT DISTINCT FROM l.country
    LEFT JOIN main_skill m USING (learner_id)
    LEFT JOIN logins g USING (learner_id)
    LEFT JOIN view_counts v USING (learner_id)
    """


def run_duckdb(bronze: Path, out: Path, experiment_id: str, as_of: date) -> float:
    import duckdb
    import pandas as pd

    from credsignal.reference.countries import developed_country_flag

    started = time.perf_counter()
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    countries = [row[0] for row in con.execute(
        f"SELECT DISTINCT country FROM read_parquet('{(bronze / 'learners').as_posix()}/dt=*/*.parquet')").fetchall()]
    flags = [developed_country_flag(country) for country in countries]
    country_classes = pd.DataFrame({"country": countries,
                                    "developing_country": [None if f is None else 1 - f for f in flags]},
                                   ).astype({"developing_country": "Int32"})
    con.register("country_classes", country_classes)
    con.execute(f"COPY ({duckdb_sql(bronze, experiment_id, as_of)}) TO '{out.as_posix()}' (FORMAT parquet)")
    con.close()
    return time.perf_counter() - started


def summary_of(frame) -> dict:
    """Row count, column sums and non-null counts of a pandas frame (the agreement check)."""
    return {
        "rows": int(len(frame)),
        **{f"sum_{c}": round(float(frame[c].astype(float).sum()), 6) for c in CHECKED_SUMS},
        **{f"count_{c}": int(frame[c].notna().sum()) for c in CHECKED_COUNTS},
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--learners", type=int, default=20_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--workdir", type=Path, help="landing + lake here (reused if generated before); default: temp")
    parser.add_argument("--keep", action="store_true", help="keep the temporary workdir")
    parser.add_argument("--driver-memory", default="6g")
    parser.add_argument("--json", type=Path, help="also write the summary here")
    args = parser.parse_args(argv)

    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="bench-features-"))
    workdir.mkdir(parents=True, exist_ok=True)
    config = Config(landing=workdir / "landing", lake=workdir / "lake", shuffle_partitions=4,
                    driver_memory=args.driver_memory)
    marker = workdir / f"input-{args.learners}-{args.seed}.json"
    result: dict = {"learners": args.learners, "seed": args.seed, "workdir": str(workdir),
                    "machine": {"cpus": os.cpu_count(), "python": platform.python_version(),
                                "platform": platform.platform()}}
    try:
        from credsignal.core.spark import spark_session, stop_session_and_jvm

        started = time.perf_counter()
        spark = spark_session(config, app_name="bench-features")
        spark.range(1).count()
        result["spark_startup_s"] = round(time.perf_counter() - started, 2)

        if not marker.exists():
            from jobs import ingest
            from synth.platform import generate

            shutil.rmtree(config.lake, ignore_errors=True)
            started = time.perf_counter()
            summary = generate(config.landing, n_learners=args.learners, seed=args.seed)
            result["generate_s"] = round(time.perf_counter() - started, 2)
            started = time.perf_counter()
            ingest.run(spark, config)
            result["ingest_s"] = round(time.perf_counter() - started, 2)
            marker.write_text(json.dumps({"clean_rows": summary.clean_rows}) + "\n")
        result["input_rows"] = json.loads(marker.read_text())["clean_rows"]

        bronze = config.lake / "bronze"
        out = workdir / "out"
        shutil.rmtree(out, ignore_errors=True)
        out.mkdir()

        started = time.perf_counter()
        tables = {s: features.read_bronze(spark, config.lake, s, as_of=AS_OF) for s in lake.PLATFORM_SOURCES}
        randomized = features.plan_randomized_learners(tables["experiment_assignments"], config.experiment_id)
        full = features.plan_learner_outcomes_full(
            randomized, features.learner_covariates(tables["learners"], randomized), tables["certificates"],
            tables["certificate_views"], tables["app_sessions"], tables["skill_scores"], as_of=AS_OF)
        full.write.mode("overwrite").parquet(str(out / "spark"))
        result["spark_job_s"] = round(time.perf_counter() - started, 2)
        result["spark_total_s"] = round(result["spark_job_s"] + result["spark_startup_s"], 2)
        # DuckDB runs in this process next: spark.stop() alone leaves the gateway JVM and its heap alive beside it,
        # and at 10x the two together ran the machine out of memory (the kernel killed this process).
        stop_session_and_jvm(spark)

        result["duckdb_s"] = round(run_duckdb(bronze, out / "duckdb.parquet", config.experiment_id, AS_OF), 2)
        result["ratio_spark_job_to_duckdb"] = round(result["spark_job_s"] / result["duckdb_s"], 1)
        result["ratio_spark_total_to_duckdb"] = round(result["spark_total_s"] / result["duckdb_s"], 1)

        import pandas as pd

        spark_summary = summary_of(pd.read_parquet(out / "spark"))
        duckdb_summary = summary_of(pd.read_parquet(out / "duckdb.parquet"))
        result["spark_summary"] = spark_summary
        result["agree"] = spark_summary == duckdb_summary
        if not result["agree"]:
            result["duckdb_summary"] = duckdb_summary
    finally:
        if args.workdir is None and not args.keep:
            shutil.rmtree(workdir, ignore_errors=True)
    print(json.dumps(result, indent=2))
    if args.json:
        args.json.write_text(json.dumps(result, indent=2) + "\n")
    return 0 if result.get("agree") else 1


if __name__ == "__main__":
    raise SystemExit(main())
