"""Feature job: bronze platform tables + silver profile tables -> the study's two curated tables.

* ``learner_outcomes_full``: one row per randomized learner of the experiment (the paper's "Coursera Internal
  Data", N=880,000): assignment, study certificate, covariates, app log-in and certificate-view outcomes.
* ``learner_outcomes_linkedin``: the same columns plus the LinkedIn outcomes and covariates, one row per
  randomized learner whose profile was fetched and parsed (the "LinkedIn Matched Sample", N=37,000).

Every definition is one function below (a pure DataFrame -> DataFrame transform, or a Column expression) whose
docstring quotes the paper (Hutchinson et al. 2025, section 3.4 and appendix B.4) and the settled details of issue
4; docs/data_dictionary.md is the column-by-column reference. Months are calendar months, counted with
:func:`month_index` (year * 12 + month - 1), so "one month after randomization" is plain integer arithmetic; a
year-only profile date counts as January (the parser keeps its precision). Everything is in UTC: the session runs
with ``spark.sql.session.timeZone=UTC``, so ``to_date``/``month`` of a timestamp are UTC days and months.

The reference classifiers (countries, job titles, degrees, universities) and the credential-ID / profile-URL
normalisations are called, never re-implemented: each runs once per *distinct* input value (:func:`lookup`, on the
driver) and the small result is broadcast-joined back.

Pre-treatment means as of randomization: covariates come from the learner version in force at the end of the
randomization day (UTC), skill measurements up to then and profile facts dated up to the randomization month; each
output column declares whether it is pre-treatment or an outcome (credsignal/core/contracts.yml).

The reference years of the education covariates are :class:`credsignal.core.config.Config` fields passed as keyword
arguments. Settings that are not in Config are keyword arguments with documented defaults:
``experience_reference_date`` (:data:`EXPERIENCE_REFERENCE_DATE`), ``experiment_start``
(:data:`EXPERIMENT_START`) and ``cwur_path`` (None: the ranker's default location, see
:func:`credsignal.core.config.default_cwur_path`).

`run` writes the tables under a staging folder given by the caller (the publish step promotes them to
lake/curated/); `build_tables` returns them unwritten so a caller can validate first.
"""

from __future__ import annotations

import argparse
import json
import logging
from collections.abc import Callable, Sequence
from datetime import date
from functools import lru_cache
from pathlib import Path

from pyspark.sql import Column, DataFrame, SparkSession, Window
from pyspark.sql import functions as F
from pyspark.sql.types import BooleanType, DoubleType, IntegerType, LongType, StringType, StructField, StructType

from credsignal.core import lake, privacy
from credsignal.core.config import Config
from credsignal.core.contracts import (
    CROSSWALK_SCHEMA,
    EXPORT_SOURCES,
    LEARNER_OUTCOMES_FULL_SCHEMA,
    LEARNER_OUTCOMES_LINKEDIN_SCHEMA,
    LINKEDIN_FEATURES_SCHEMA,
    NOT_MENTIONED,
    OUTPUT_SCHEMAS,
    OUTPUT_TABLES,
    PARSED_PROFILE_SCHEMA,
    PSEUDONYMOUS_KEYS,
    bronze_schema,
)
from credsignal.core.storage import replace_directory

log = logging.getLogger(__name__)

# The paper's experience reference date ("the paper used August 2023") and the experiment start of appendix B.4
# ("September 2022, when our experiment started"). Both are keyword arguments of the functions that use them.
EXPERIENCE_REFERENCE_DATE = date(2023, 8, 1)
EXPERIMENT_START = date(2022, 9, 1)
# The reference years of currently_enrolled and years_since_latest_degree are configuration (Config); these are
# the defaults of the functions that take them as keyword arguments.
ENROLLMENT_REFERENCE_YEAR = Config.enrollment_reference_year
DEGREE_REFERENCE_YEAR = Config.degree_reference_year

TREATMENT_ARM = "treatment"
PARSED_STATUSES = ("ok", "partial")  # same as jobs.parse.PARSED_STATUSES
LOGIN_WINDOW_DAYS = 30
NEW_JOB_MONTHS_AFTER = 1
NEW_JOB_ROBUSTNESS_MONTHS_AFTER = 4  # paper footnote 6
# Degree levels, lowest to highest, as returned by credsignal.reference.degrees.degree_level.
DEGREE_LEVEL_RANKS = {"none": 0, "bachelor": 1, "master": 2, "doctor": 3}
# Fuzzy thresholds (rapidfuzz 0-100). Conservative: a miss only loses a diagnostic or turns a promotion into a
# new job, a false hit would invent one.
SAME_EMPLOYER_SCORE = 90.0
CERTIFICATE_NAME_SCORE = 90.0
# Words that do not tell employers apart ("Acme Ltd." and "ACME" are one employer): a word list of
# credsignal/reference/data.
EMPLOYER_LEGAL_WORDS_FILE = "employer_legal_words.json"


@lru_cache(maxsize=1)
def employer_legal_words() -> frozenset[str]:
    """The legal-form words of EMPLOYER_LEGAL_WORDS_FILE, normalised like employer names."""
    from credsignal.reference.textnorm import normalise
    from credsignal.reference.data_files import load_json

    return frozenset(normalise(word) for word in load_json(EMPLOYER_LEGAL_WORDS_FILE)["words"])

# Columns that identify one fetched record in the silver profile tables (jobs.parse.split_profiles).
PROFILE_RECORD_KEY = ["crawl_id", "source_file", "line_number"]

# Lineage of bronze rows: the later delivery of the same key wins (a re-delivered or corrected row).
# (A function, not a constant: this module is imported on the Python workers, where no SparkContext exists.)
def _delivery_order() -> list[Column]:
    return [F.col("dt").desc(), F.col("source_file").desc(), F.col("line_number").desc()]

PROFILE_MATCH_REPORT_SCHEMA = StructType([
    StructField("subject", StringType(), nullable=False),  # learner, profile, learner_version, url_at_randomization
    StructField("outcome", StringType(), nullable=False),
    StructField("count", LongType(), nullable=False),
])

# Results of the reference classifiers, as computed by `lookup`.
TITLE_CLASS_SCHEMA = StructType([
    StructField("tech", BooleanType()),
    StructField("managerial", BooleanType()),
    StructField("internship", BooleanType()),
    StructField("in_scope", BooleanType()),
])
UNIVERSITY_RANK_SCHEMA = StructType([
    StructField("university_national_rank", IntegerType()),
    StructField("university_match_score", DoubleType()),
])

def conform(frame: DataFrame, schema: StructType) -> DataFrame:
    """Exactly the schema's columns, in its order and types, with their metadata (descriptions)."""
    return frame.select(*(F.col(field.name).cast(field.dataType).alias(field.name, metadata=field.metadata)
                          for field in schema.fields))


# ------------------------------------------------------------------------------------------------ shared helpers

def month_index(column: Column | str) -> Column:
    """Calendar month number (year * 12 + month - 1) of a date or timestamp, so that month differences are
    subtractions: Jan 2023 - Dec 2022 = 1 whatever the days. (A candidate for credsignal/ if others need it.)"""
    column = F.col(column) if isinstance(column, str) else column
    return F.year(column) * 12 + F.month(column) - 1


def flag(condition: Column) -> Column:
    """0/1 integer of a boolean condition; null (unknown) counts as 0."""
    return F.when(condition, 1).otherwise(0)


def latest_delivery(frame: DataFrame, key: Sequence[str], order: Sequence[Column] = ()) -> DataFrame:
    """One row per `key` across bronze partitions: the first by `order`, then the latest delivery (dt, then
    source file and line), so a row re-delivered on a later day counts once and a correction wins."""
    window = Window.partitionBy(*key).orderBy(*order, *_delivery_order())
    return frame.withColumn("_rank", F.row_number().over(window)).where("_rank = 1").drop("_rank")


def lookup(frame: DataFrame, keys: Sequence[str], compute: Callable[..., tuple], result: StructType) -> DataFrame:
    """`frame` with `result`'s columns added, computed by the Python function `compute(*key_values)` once per
    distinct combination of `keys` (nulls included), then broadcast-joined back.

    This is how the reference classifiers are applied: thousands of distinct titles instead of millions of rows.
    The distinct keys are collected and classified on the driver (an eager Spark job), and the small result goes
    back as a local relation. Classifying on the executors instead (mapInArrow over the distinct keys) puts
    `frame`'s plan into the query twice per lookup, so chained lookups double the plan each time and the analyzer
    alone took minutes; the driver round trip keeps the plan linear, and the key sets are small (countries,
    profile URLs, titles, schools, credential IDs: at most tens of thousands at full scale). Both ways across go
    through Arrow: row-by-row collect and createDataFrame of 37k profile URLs took 3 s each way at full scale.
    Because the collect is eager, call it on a frame whose plan is cheap (bronze before deduplication, not after):
    a superset of the keys costs nothing in a left join.
    """
    import pyarrow as pa
    from pyspark.sql.pandas.types import to_arrow_schema

    keys = list(keys)
    key_fields = [StructField(f"_key_{i}", frame.schema[name].dataType, nullable=True) for i, name in enumerate(keys)]
    schema = StructType([*key_fields, *(StructField(f.name, f.dataType, nullable=True) for f in result.fields)])
    distinct = frame.select(*keys).distinct().toArrow()
    key_columns = [distinct.column(i).to_pylist() for i in range(len(keys))]
    rows = [(*values, *compute(*values)) for values in zip(*key_columns)]
    columns = list(zip(*rows)) if rows else [() for _ in schema.fields]
    arrow_schema = to_arrow_schema(schema)
    table = frame.sparkSession.createDataFrame(
        pa.Table.from_arrays([pa.array(column, type=field.type) for column, field in zip(columns, arrow_schema)],
                             schema=arrow_schema), schema)
    condition = [frame[name].eqNullSafe(table[f"_key_{i}"]) for i, name in enumerate(keys)]
    return frame.join(F.broadcast(table), condition, "left").drop(*(f"_key_{i}" for i in range(len(keys))))


# Python functions applied by `lookup`.

def _normalized_profile_url(url: str | None) -> tuple:
    from parsers.profile_url import normalize_profile_url

    return (normalize_profile_url(url),)


def _developing_country(country: str | None) -> tuple:
    from credsignal.reference.countries import developed_country_flag

    developed = developed_country_flag(country)
    return (None if developed is None else 1 - developed,)


def _title_class(title: str | None) -> tuple:
    from credsignal.reference.job_titles import classify_title

    return tuple(classify_title(title))


def _degree_level(text: str | None) -> tuple:
    from credsignal.reference.degrees import degree_level

    return (degree_level(text),)


def _normalized_credential_id(credential_id: str | None) -> tuple:
    from parsers.credentials import normalize_credential_id

    return (normalize_credential_id(credential_id),)


def _profile_credential_ids(shown_id: str | None, credential_url: str | None) -> tuple:
    """The ID the certification shows and the ID inside its credential URL, each normalised (either may match)."""
    from parsers.credentials import coursera_id_from_url, normalize_credential_id

    return normalize_credential_id(shown_id), normalize_credential_id(coursera_id_from_url(credential_url))


def _is_coursera_issuer(issuer: str | None) -> tuple:
    from credsignal.reference.textnorm import tokenise

    return ("coursera" in tokenise(issuer or ""),)


def _same_certificate_name(profile_name: str | None, course_name: str | None) -> tuple:
    from rapidfuzz import fuzz

    from credsignal.reference.textnorm import normalise

    if not profile_name or not course_name:
        return (False,)
    return (fuzz.ratio(normalise(profile_name), normalise(course_name)) >= CERTIFICATE_NAME_SCORE,)


def employer_key(company: str | None) -> str:
    """Employer name for comparison: accents, case, punctuation and legal-form words dropped."""
    from credsignal.reference.textnorm import tokenise

    tokens = tokenise(company or "")
    legal_words = employer_legal_words()
    return " ".join(token for token in tokens if token not in legal_words) or " ".join(tokens)


def same_employer(company: str | None, other: str | None) -> bool:
    """Fuzzy employer equality (rapidfuzz token_sort_ratio >= SAME_EMPLOYER_SCORE); a missing name is never
    the same employer."""
    from rapidfuzz import fuzz

    left, right = employer_key(company), employer_key(other)
    if not left or not right:
        return False
    return left == right or fuzz.token_sort_ratio(left, right) >= SAME_EMPLOYER_SCORE


def _same_employer(company: str | None, other: str | None) -> tuple:
    return (same_employer(company, other),)


def _university_rank(school: str | None, country: str | None, cwur_path: str | None) -> tuple:
    """Rank of `school`: first among institutions of the learner's country, then anywhere (learners study
    abroad); the ranker itself rejects names it cannot tell apart without a country."""
    from credsignal.reference.universities import default_ranker

    if not school:
        return None, None
    ranker = default_ranker(cwur_path)
    match = ranker.match(school, country) or (ranker.match(school, None) if country else None)
    return (match.national_rank, float(match.score)) if match else (None, None)


# ------------------------------------------------------------------------------------------------ platform side

def randomized_learners(assignments: DataFrame, experiment_id: str) -> DataFrame:
    """The experiment's randomized learners, one row per learner (latest delivery of (experiment_id, learner_id)):
    learner_id, batch, treatment (1 for arm "treatment", else 0), randomized_at, stratum."""
    current = latest_delivery(assignments.where(F.col("experiment_id") == experiment_id), ["experiment_id", "learner_id"])
    return current.select(
        "learner_id", "batch", flag(F.col("arm") == TREATMENT_ARM).alias("treatment"), "randomized_at", "stratum"
    )


def end_of_randomization_day(randomized_at: Column | str) -> Column:
    """The first instant after the randomization day (the next day's 00:00 UTC): pre-treatment data is what was
    recorded strictly before it, so 23:59:59 on randomized_at counts and 00:00:00 of the next day does not."""
    randomized_at = F.col(randomized_at) if isinstance(randomized_at, str) else randomized_at
    return F.to_timestamp(F.date_add(randomized_at, 1))


def learner_version_at_randomization(learners: DataFrame, randomized: DataFrame,
                                     extra_columns: Sequence[str] = ()) -> DataFrame:
    """Per randomized learner with a learner record, the version in force at randomization: the latest
    updated_at on or before the end of the randomization day (UTC), ties by the later delivery. A learner with no
    version by then takes the earliest version (ties by the later delivery) and has no_version_by_randomization
    true, so the caller can count them.

    Also per learner, from the versions recorded after the randomization day: url_after_randomization (one of them
    has a non-blank LinkedIn URL) and the latest version's `later_*` values of `extra_columns` (the caller's
    per-row derivations, e.g. the normalised URL). `learners` is bronze (every delivered version); `randomized`
    has learner_id and randomized_at."""
    after = F.col("updated_at") >= end_of_randomization_day("randomized_at")
    versions = (
        learners.join(randomized.select("learner_id", "randomized_at"), "learner_id")
        .withColumn("no_version_by_randomization", after)
    )
    by_learner = Window.partitionBy("learner_id")
    in_force_first = by_learner.orderBy(
        F.col("no_version_by_randomization").asc(),
        F.when(~F.col("no_version_by_randomization"), F.col("updated_at")).desc_nulls_last(),
        F.col("updated_at").asc(), *_delivery_order())
    latest_first = by_learner.orderBy(F.col("updated_at").desc(), *_delivery_order())
    has_url = F.coalesce(F.length(F.trim("linkedin_url")) > 0, F.lit(False))
    later = [F.first(F.when(after, F.col(column)), ignorenulls=False).over(latest_first).alias(f"later_{column}")
             for column in extra_columns]
    ranked = versions.select(
        "*",
        F.row_number().over(in_force_first).alias("_rank"),
        F.max(after & has_url).over(by_learner).alias("url_after_randomization"),
        *later,
    )
    return ranked.where("_rank = 1").select(
        "learner_id", "country", "education_level", "gender", "linkedin_url", "registered_at", "updated_at",
        "no_version_by_randomization", "url_after_randomization", *extra_columns,
        *(f"later_{column}" for column in extra_columns))


def learner_covariates(learners: DataFrame, randomized: DataFrame) -> DataFrame:
    """Covariates of each randomized learner from the learner version in force at randomization
    (learner_version_at_randomization; paper 3.4.1, "Demographic and background characteristics", and Table 2
    Panel A: "pre-treatment covariates").

    - developing_country: "Following the OECD classification, we use this information to group countries into
      developing and developed" (appendix B.1 list): 1 developing, 0 developed, null when the country is missing
      or not recognised (reported, never guessed).
    - education_level, gender: the survey answers, "not mentioned" when null ("Because response to the survey is
      voluntary, we do not observe these characteristics for all learners").
    - has_linkedin_url: 1 when the URL in force at randomization is non-blank: the LinkedIn sample is the learners
      "who provided LinkedIn profile URLs in their Coursera accounts before randomization" (paper, section 1). A
      URL first given after randomization does not count, nor does the URL of a learner with no version by the
      randomization day (all their versions are later: the URL may be the treatment's doing).
    - linkedin_url_normalized: the join key to profiles (parsers.profile_url.normalize_profile_url) of that URL;
      later_url_normalized: the normalised URL of the learner's latest version when it replaced the URL at
      randomization with another one (profile_matches falls back to it); null otherwise.
    - no_version_by_randomization, url_after_randomization: see learner_version_at_randomization (counted in the
      match report, never in the tables).

    `learners` is the bronze table; the classifiers run on its raw rows, before a version is chosen, so their one
    eager key collection (distinct (country, URL) pairs: tens of thousands) scans bronze instead of recomputing the
    version choice (15 s to 3 s at full scale).
    """
    classified = lookup(
        learners, ["country", "linkedin_url"],
        lambda country, url: (*_developing_country(country), *_normalized_profile_url(url)),
        StructType([StructField("developing_country", IntegerType()),
                    StructField("linkedin_url_normalized", StringType())]),
    )
    version = learner_version_at_randomization(classified, randomized,
                                               ["developing_country", "linkedin_url_normalized"])
    url_in_force = ~F.col("no_version_by_randomization") & F.coalesce(F.length(F.trim("linkedin_url")) > 0,
                                                                        F.lit(False))
    later_url = F.col("later_linkedin_url_normalized")
    return version.select(
        "learner_id", "country", "developing_country",
        F.coalesce("education_level", F.lit(NOT_MENTIONED)).alias("education_level"),
        F.coalesce("gender", F.lit(NOT_MENTIONED)).alias("gender"),
        F.when(url_in_force, F.col("linkedin_url")).alias("linkedin_url"),
        flag(url_in_force).alias("has_linkedin_url"),
        F.when(url_in_force, F.col("linkedin_url_normalized")).alias("linkedin_url_normalized"),
        F.when(url_in_force & later_url.isNotNull() & ~later_url.eqNullSafe(F.col("linkedin_url_normalized")),
               later_url).alias("later_url_normalized"),
        "no_version_by_randomization",
        (~url_in_force & F.col("url_after_randomization")).alias("url_given_after_randomization"),
    )


def study_certificates(certificates: DataFrame, randomized: DataFrame) -> DataFrame:
    """The study certificate of each randomized learner who has one: "the learner's certificate granted in the
    calendar month that ends at randomized_at (earliest if several)" (issue 4; the paper randomizes each month's
    graduates at the end of that month).

    Granted from the first day of randomized_at's month through the end of the randomized_at day (UTC);
    earliest granted_at wins, ties by certificate_id. Certificates are first deduplicated by certificate_id
    across export days. Returns learner_id, randomized_at, certificate_id, course_name, primary_domain,
    credential_type, granted_at.
    """
    current = latest_delivery(certificates, ["certificate_id"])
    granted_day = F.to_date("granted_at")
    in_month = current.join(randomized.select("learner_id", "randomized_at"), "learner_id").where(
        (granted_day >= F.trunc("randomized_at", "month")) & (granted_day <= F.col("randomized_at"))
    )
    first = Window.partitionBy("learner_id").orderBy("granted_at", "certificate_id")
    return (
        in_month.withColumn("_rank", F.row_number().over(first)).where("_rank = 1")
        .select("learner_id", "randomized_at", "certificate_id", "course_name", "primary_domain", "credential_type",
                "granted_at")
    )


# Host of a URL: after an optional scheme and user-info, up to the first / : ? or #. The same pattern is used by
# the DuckDB reference implementation (bench/bench_features.py).
REFERRER_HOST_PATTERN = r"^(?:[a-z][a-z0-9+.\-]*://)?(?:[^/?#@]*@)?([^/:?#]*)"
REFERRER_SCHEME_PATTERN = r"^([a-z][a-z0-9+.\-]*)://"


def is_linkedin_referrer(referrer: Column | str) -> Column:
    """A view "originated from LinkedIn (referral URL indicates LinkedIn)" (paper 3.4.3): the referrer's host is
    linkedin.com or any subdomain of it (www., br., m., ...), lnkd.in (LinkedIn's link shortener), or the
    LinkedIn Android app referrer android-app://com.linkedin.android. Case-insensitive; a null or empty referrer
    is not LinkedIn, nor are look-alikes such as notlinkedin.com or linkedin.com.evil.io."""
    text = F.lower(F.trim(F.col(referrer) if isinstance(referrer, str) else referrer))
    host = F.regexp_extract(text, REFERRER_HOST_PATTERN, 1)
    scheme = F.regexp_extract(text, REFERRER_SCHEME_PATTERN, 1)
    web = (host == "linkedin.com") | host.endswith(".linkedin.com") | (host == "lnkd.in")
    android_app = (scheme == "android-app") & (host == "com.linkedin.android")
    return F.coalesce(web | android_app, F.lit(False))


VIEW_COUNT_COLUMNS = ["count_views_all", "count_views_by_others", "count_views_linkedin", "count_views_linkedin_by_others"]
# The 0/1 flag of each count, in the same order (the paper's names: "All Views by Others", not "views_by_others").
VIEW_FLAG_COLUMNS = ["views_all", "views_all_by_others", "views_linkedin", "views_linkedin_by_others"]


def view_counts(views: DataFrame, study_certs: DataFrame, *, as_of: date, only_viewed: bool = False) -> DataFrame:
    """Views of the study certificate from randomized_at 00:00 UTC through the end of the as_of day (views
    deduplicated by view_id across export days), per learner with a study certificate.

    Paper 3.4.3: "All Views equals one when the certificate received at least one view. All Views by Others
    equals one when the certificate page was viewed at least once by someone other than the learner. Views
    LinkedIn equals one when at least one view originated from LinkedIn (referral URL indicates LinkedIn). Views
    LinkedIn by Others equals one when at least one view originated from LinkedIn and was made by someone other
    than the learner." Others = by_owner false. Counts count_views_* and 0/1 flags views_*.

    `only_viewed`: only the learners with at least one view in the window (a caller that left-joins the result
    and fills zeros saves a join over every learner).
    """
    window_start = F.to_timestamp(F.col("randomized_at"))
    window_end = F.to_timestamp(F.date_add(F.lit(as_of), 1))  # exclusive: the as_of day is included
    in_window = (
        latest_delivery(views, ["view_id"])
        .join(study_certs.select("learner_id", "certificate_id", "randomized_at"), "certificate_id")
        .where((F.col("viewed_at") >= window_start) & (F.col("viewed_at") < window_end))
        .withColumn("_linkedin", is_linkedin_referrer("referrer"))
        .withColumn("_other", ~F.col("by_owner"))
    )
    counts = in_window.groupBy("learner_id").agg(
        F.count(F.lit(1)).alias("count_views_all"),
        F.count(F.when(F.col("_other"), 1)).alias("count_views_by_others"),
        F.count(F.when(F.col("_linkedin"), 1)).alias("count_views_linkedin"),
        F.count(F.when(F.col("_linkedin") & F.col("_other"), 1)).alias("count_views_linkedin_by_others"),
    )
    count_columns = VIEW_COUNT_COLUMNS
    per_learner = counts if only_viewed else study_certs.select("learner_id").join(counts, "learner_id", "left")
    return (
        per_learner
        .select("learner_id", *(F.coalesce(c, F.lit(0)).cast("long").alias(c) for c in count_columns))
        .select("*", *(flag(F.col(c) > 0).alias(name) for c, name in zip(count_columns, VIEW_FLAG_COLUMNS)))
    )


def logged_in_after_randomization(sessions: DataFrame, randomized: DataFrame, *, only_logged_in: bool = False
                                  ) -> DataFrame:
    """1 when the learner has any app session in (randomized_at, randomized_at + 30 days] (issue 4; paper 3.3.4
    reports the share of learners who open the app within 30 days of randomization). randomized_at is a date,
    taken as its 00:00 UTC instant, consistently with the view window; so the window is
    (R 00:00, R+30 00:00].

    `only_logged_in`: only the learners who logged in (a caller that left-joins the result and fills zeros saves
    a join over every learner)."""
    start = F.to_timestamp(F.col("randomized_at"))
    end = F.to_timestamp(F.date_add(F.col("randomized_at"), LOGIN_WINDOW_DAYS))
    logged = (
        sessions.select("learner_id", "started_at")
        .join(randomized.select("learner_id", "randomized_at"), "learner_id")
        .where((F.col("started_at") > start) & (F.col("started_at") <= end))
        .select("learner_id").distinct()
        .withColumn("_logged", F.lit(1))
    )
    if only_logged_in:
        return logged.withColumnRenamed("_logged", "logged_in_after_randomization")
    return randomized.select("learner_id").join(logged, "learner_id", "left").select(
        "learner_id", F.coalesce("_logged", F.lit(0)).alias("logged_in_after_randomization")
    )


def skill_scores_at_randomization(skill_scores: DataFrame, randomized: DataFrame) -> DataFrame:
    """Each randomized learner's score per skill at randomization: the main skill is a pre-treatment covariate
    (Table 2 Panel A), so only measurements taken by the end of the learner's randomization day (UTC) count. One
    score per (randomized learner, skill): the latest measured_at by then (then the latest delivery). Returns
    learner_id, skill, score; `randomized` has learner_id and randomized_at."""
    before = skill_scores.join(randomized.select("learner_id", "randomized_at"), "learner_id").where(
        F.col("measured_at") < end_of_randomization_day("randomized_at"))
    return latest_delivery(before, ["learner_id", "skill"], [F.col("measured_at").desc()]).select(
        "learner_id", "skill", "score")


def skill_statistics(scores: DataFrame) -> DataFrame:
    """Footnote 4's "mean and max ... computed at the level of each specific skill": per skill, the mean and max
    of `scores` (skill_scores_at_randomization: every randomized learner scored on it by their randomization
    day). Returns skill, skill_mean, skill_max."""
    return scores.groupBy("skill").agg(F.avg("score").alias("skill_mean"), F.max("score").alias("skill_max"))


def main_skill(scores: DataFrame, statistics: DataFrame) -> DataFrame:
    """The learner's main skill and its score at randomization (paper 3.4.1: "Coursera assesses skill mastery using a
    Glicko-based algorithm ... We use both the absolute skill score and a max-mean standardization computed
    within each specific skill category"; footnote 4: "(learner's skill score - mean skill score) / (max skill
    score), where mean and max are computed at the level of each specific skill").

    `scores` are skill_scores_at_randomization, `statistics` skill_statistics of the same scores. main_skill is
    the highest-scoring skill, ties alphabetical; the standardized score is null when the skill's max is 0.
    """
    best = Window.partitionBy("learner_id").orderBy(F.col("score").desc(), F.col("skill"))
    return (
        scores.join(statistics, "skill")
        .withColumn("_rank", F.row_number().over(best)).where("_rank = 1")
        .select(
            "learner_id", F.col("skill").alias("main_skill"), F.col("score").alias("main_skill_score"),
            F.when(F.col("skill_max") != 0, (F.col("score") - F.col("skill_mean")) / F.col("skill_max"))
            .alias("main_skill_standardized"),
        )
    )


def learner_outcomes_full(
    randomized: DataFrame,
    study: DataFrame,
    covariates: DataFrame,
    main_skills: DataFrame,
    logins: DataFrame,
    views: DataFrame,
) -> DataFrame:
    """Table `learner_outcomes_full` (LEARNER_OUTCOMES_FULL_SCHEMA): one row per learner of the experiment's
    `randomized` learners (randomized_learners: "all of experiment_assignments for the configured experiment"),
    with their study certificate (`study`: study_certificates), `covariates` (learner_covariates), main skill
    (`main_skills`: main_skill), app log-in (`logins`: logged_in_after_randomization) and certificate views
    (`views`: view_counts of the study certificates); `logins` and `views` may hold only the learners who logged
    in or had a view. Learners without a study certificate have null certificate columns and zero views; without a
    learner record, "not mentioned" survey answers, null developing_country and has_linkedin_url 0."""
    table = (
        randomized
        .join(study.select("learner_id", "certificate_id", "primary_domain", "credential_type"), "learner_id", "left")
        .join(covariates, "learner_id", "left")
        .join(main_skills, "learner_id", "left")
        .join(logins, "learner_id", "left")
        .join(views, "learner_id", "left")
    )
    zero_if_missing = [f.name for f in LEARNER_OUTCOMES_FULL_SCHEMA.fields
                       if f.name.startswith(("count_views", "views_"))
                       or f.name in ("has_linkedin_url", "logged_in_after_randomization")]
    table = table.fillna(0, subset=zero_if_missing).fillna(NOT_MENTIONED, subset=["education_level", "gender"])
    return conform(table, LEARNER_OUTCOMES_FULL_SCHEMA)


# ------------------------------------------------------------------------------------------------ LinkedIn side

def latest_profiles(profiles: DataFrame) -> DataFrame:
    """The latest fetch of each normalised profile URL (fetched_at, then crawl, file and line), whatever its
    status: "If a URL was fetched several times, use the latest fetched_at"."""
    window = Window.partitionBy("profile_url_normalized").orderBy(
        F.col("fetched_at").desc_nulls_last(), F.col("crawl_id").desc(), F.col("source_file").desc(),
        F.col("line_number").desc(),
    )
    return (
        profiles.where(F.col("profile_url_normalized").isNotNull())
        .withColumn("_rank", F.row_number().over(window)).where("_rank = 1").drop("_rank")
    )


MATCHED = "matched"
# Subjects of the match report besides "learner" (one outcome per randomized learner) and "profile".
URL_AT_RANDOMIZATION = "url_at_randomization"
LEARNER_VERSION = "learner_version"
NO_VERSION_BY_RANDOMIZATION = "no_version_by_randomization"


def profile_matches(randomized: DataFrame, covariates: DataFrame, profiles: DataFrame) -> DataFrame:
    """Each randomized learner's profile match: learner_id, the learner's country, match (matched,
    no_learner_record, no_url, unparseable_url, not_fetched, or fetch_failed:<status>), and for a fetched URL the
    record key, the normalised URL, the parse status and the profile length columns. `covariates` is
    learner_covariates' output.

    The crawl is matched on the URL in force at randomization (has_linkedin_url). When the learner replaced it
    after randomization (later_url_normalized) and the URL at randomization gives no parsed profile, the later
    URL is tried: the same person's profile, moved. url_match says which URL matched: at_randomization,
    later_url, or null (no match). A URL first given after randomization is never tried (no_url). The columns
    no_version_by_randomization, url_given_after_randomization and url_changed are kept for the match report."""
    latest = latest_profiles(profiles).select(
        *PROFILE_RECORD_KEY, F.col("profile_url_normalized").alias("_url"), F.col("status").alias("profile_status"),
        "profile_length_chars", "length_certifications",
    )
    fetched_columns = [*PROFILE_RECORD_KEY, "_url", "profile_status", "profile_length_chars", "length_certifications"]
    on_later = latest.select(*(F.col(c).alias(f"_later_{c}") for c in fetched_columns))
    joined = (
        randomized.select("learner_id")
        .join(covariates.select("learner_id", "country", "has_linkedin_url", "linkedin_url_normalized",
                                "later_url_normalized", "no_version_by_randomization",
                                "url_given_after_randomization", F.lit(True).alias("_has_record")),
              "learner_id", "left")
        .join(latest, F.col("linkedin_url_normalized") == F.col("_url"), "left")
        .join(on_later, F.col("later_url_normalized") == F.col("_later__url"), "left")
    )
    parsed_at_randomization = F.coalesce(F.col("profile_status").isin(*PARSED_STATUSES), F.lit(False))
    parsed_later = F.coalesce(F.col("_later_profile_status").isin(*PARSED_STATUSES), F.lit(False))
    use_later = ~parsed_at_randomization & parsed_later
    chosen = joined.select(
        "learner_id", "country", "has_linkedin_url", "_has_record", "no_version_by_randomization",
        "url_given_after_randomization",
        F.col("later_url_normalized").isNotNull().alias("url_changed"),
        F.when(use_later, F.col("later_url_normalized")).otherwise(F.col("linkedin_url_normalized"))
        .alias("_key_url"),
        *(F.when(use_later, F.col(f"_later_{c}")).otherwise(F.col(c)).alias(c) for c in fetched_columns),
        F.when(parsed_at_randomization, F.lit("at_randomization")).when(use_later, F.lit("later_url"))
        .alias("url_match"),
    )
    match = (
        F.when(F.col("_has_record").isNull(), "no_learner_record")
        .when(F.col("has_linkedin_url") == 0, "no_url")
        .when(F.col("_key_url").isNull(), "unparseable_url")
        .when(F.col("_url").isNull(), "not_fetched")
        .when(F.col("profile_status").isin(*PARSED_STATUSES), MATCHED)
        .otherwise(F.concat(F.lit("fetch_failed:"), F.col("profile_status")))
    )
    return chosen.select(
        "learner_id", "country", match.alias("match"), F.col("_url").alias("profile_url_normalized"),
        *PROFILE_RECORD_KEY,
        "profile_status", "profile_length_chars", "length_certifications", "url_match",
        F.coalesce("no_version_by_randomization", F.lit(False)).alias("no_version_by_randomization"),
        F.coalesce("url_given_after_randomization", F.lit(False)).alias("url_given_after_randomization"),
        F.coalesce("url_changed", F.lit(False)).alias("url_changed"),
    )


def match_report(matches: DataFrame, profiles: DataFrame) -> DataFrame:
    """Counts of the profile match (PROFILE_MATCH_REPORT_SCHEMA): per learner outcome (subject "learner"); for
    fetched profiles (subject "profile"): URLs that belong to no randomized learner (ignored, no row),
    records whose URL could not be normalised, URLs matched by several learners. Learner versions (subject
    "learner_version"): learners with no version by the randomization day (their earliest version was taken).
    URLs after randomization (subject "url_at_randomization"): given_after_randomization (no URL in force at
    randomization, one given later: not in the sample), and for a URL changed after randomization
    changed:matched_at_randomization (matched on the URL at randomization), changed:matched_later_url (matched on
    the later URL) or changed:unmatched. Zero counts have no row."""
    learner_counts = matches.groupBy(F.lit("learner").alias("subject"), F.col("match").alias("outcome")).count()
    learner_urls = matches.where(F.col("profile_url_normalized").isNotNull()).groupBy("profile_url_normalized") \
        .agg(F.count(F.lit(1)).alias("_learners"))
    fetched = latest_profiles(profiles).select("profile_url_normalized")
    no_learner = (
        fetched.join(learner_urls, "profile_url_normalized", "left_anti")
        .groupBy(F.lit("profile").alias("subject"), F.lit("no_randomized_learner").alias("outcome")).count()
    )
    unparseable = (
        profiles.where(F.col("profile_url_normalized").isNull())
        .groupBy(F.lit("profile").alias("subject"), F.lit("unparseable_profile_url").alias("outcome")).count()
    )
    shared = (
        learner_urls.where(F.col("_learners") > 1)
        .groupBy(F.lit("profile").alias("subject"), F.lit("url_of_several_learners").alias("outcome")).count()
    )
    url_outcome = (
        F.when(F.col("url_given_after_randomization"), "given_after_randomization")
        .when(F.col("url_changed") & (F.col("url_match") == "at_randomization"), "changed:matched_at_randomization")
        .when(F.col("url_changed") & (F.col("url_match") == "later_url"), "changed:matched_later_url")
        .when(F.col("url_changed"), "changed:unmatched")
    )
    versions = matches.select(
        F.when(F.col("no_version_by_randomization"), NO_VERSION_BY_RANDOMIZATION).alias("_version"),
        url_outcome.alias("_url_outcome"))
    per_version = (versions.where(F.col("_version").isNotNull())
                   .groupBy(F.lit(LEARNER_VERSION).alias("subject"), F.col("_version").alias("outcome")).count())
    per_url = (versions.where(F.col("_url_outcome").isNotNull())
               .groupBy(F.lit(URL_AT_RANDOMIZATION).alias("subject"), F.col("_url_outcome").alias("outcome")).count())
    return conform(learner_counts.unionByName(no_learner).unionByName(unparseable).unionByName(shared)
                   .unionByName(per_version).unionByName(per_url), PROFILE_MATCH_REPORT_SCHEMA)


def match_counts_by_arm(matches: DataFrame, full: DataFrame) -> DataFrame:
    """Learners per profile match outcome and arm (match, treatment, count), for the readout's test of
    differential attrition (URL -> fetched -> parsed -> matched by arm). `matches` is profile_matches' output,
    `full` the learner_outcomes_full table (its treatment column)."""
    return matches.join(full.select("learner_id", "treatment"), "learner_id").groupBy("match", "treatment").count()


def classify_positions(positions: DataFrame) -> DataFrame:
    """Positions with the title classes of credsignal.reference.job_titles.classify_title (tech, managerial,
    internship, in_scope = tech or managerial), computed once per distinct title."""
    return lookup(positions, ["title"], _title_class, TITLE_CLASS_SCHEMA)


def starts_new_job(start_month: Column, randomized_at: Column, *, as_of: date, months_after: int) -> Column:
    """A position start that counts as a new job: "a starting date at least one month after randomization"
    (paper 3.4.3; footnote 6: four months in robustness checks), i.e. its calendar month is >= the randomization
    month + `months_after` and <= the as_of month. A missing start never counts."""
    start = month_index(start_month)
    qualifies = (start >= month_index(randomized_at) + months_after) & (start <= month_index(F.lit(as_of)))
    return F.coalesce(qualifies, F.lit(False))


def new_jobs(learner_positions: DataFrame, *, as_of: date) -> DataFrame:
    """Per learner with positions: new_job, new_job_4m, new_job_in_scope, new_job_in_scope_4m and the survival
    times months_to_new_job, months_to_new_job_in_scope, months_to_new_job_4m, months_to_new_job_in_scope_4m.

    Paper 3.4.3: "New Job is an indicator equal to one if the learner reports a new position on LinkedIn with a
    starting date at least one month after randomization ... This broad definition includes all new positions,
    whether with new employers or internal promotions" (so a new role at the same employer counts). "New Job in
    Scope ... a new position in the technology sector or a managerial role" (title classes of
    classify_positions). months_to_*: randomization month to the first qualifying start (null when none).
    """
    one = starts_new_job(F.col("start_month"), F.col("randomized_at"), as_of=as_of, months_after=NEW_JOB_MONTHS_AFTER)
    four = starts_new_job(F.col("start_month"), F.col("randomized_at"), as_of=as_of,
                          months_after=NEW_JOB_ROBUSTNESS_MONTHS_AFTER)
    in_scope = F.coalesce(F.col("in_scope"), F.lit(False))
    months = month_index("start_month") - month_index("randomized_at")
    return learner_positions.groupBy("learner_id").agg(
        F.max(flag(one)).alias("new_job"),
        F.max(flag(four)).alias("new_job_4m"),
        F.max(flag(one & in_scope)).alias("new_job_in_scope"),
        F.max(flag(four & in_scope)).alias("new_job_in_scope_4m"),
        F.min(F.when(one, months)).alias("months_to_new_job"),
        F.min(F.when(one & in_scope, months)).alias("months_to_new_job_in_scope"),
        F.min(F.when(four, months)).alias("months_to_new_job_4m"),
        F.min(F.when(four & in_scope, months)).alias("months_to_new_job_in_scope_4m"),
    )


def past_jobs(learner_positions: DataFrame) -> DataFrame:
    """Baseline job covariates, all three from the same jobs: the positions that started in or before the
    randomization month (the complement of starts_new_job's one-month rule, so no position is both past and new).

    Table 2 note: "Past Tech Job takes the value of 1 when the learner had a job title related to technology
    before randomization and zero otherwise. Past Managerial Job is defined analogously for jobs with managerial
    titles." Table 3 Panel B restricts to "learners whose previous employment was not in scope".

    - past_tech_job, past_managerial_job: any such position has a tech / managerial title.
    - past_job_in_scope: any such position has an in-scope (tech or managerial) title, so it is exactly
      max(past_tech_job, past_managerial_job) and the Panel B subsample (past_job_in_scope 0) is the learners with
      both covariates 0. Rule chosen against appendix B.4, whose "current job" / "most recent experience" (the
      latest start) serves only career_outcome: the Table 2 note says "had a job title ... before randomization",
      i.e. any past job, and the paper's figures agree (12.7% past tech, 6.4% past managerial, 17.2% of the
      sample outside Panel B's 30,607 of 36,946: a union, not the latest job alone).
    """
    before = learner_positions.where(month_index("start_month") <= month_index("randomized_at"))
    return before.groupBy("learner_id").agg(
        F.max(flag(F.col("in_scope"))).alias("past_job_in_scope"),
        F.max(flag(F.col("tech"))).alias("past_tech_job"),
        F.max(flag(F.col("managerial"))).alias("past_managerial_job"),
    )


def professional_experience(learner_positions: DataFrame, *, reference_date: date = EXPERIENCE_REFERENCE_DATE) -> DataFrame:
    """professional_experience_years: calendar months from the earliest position start to `reference_date`
    (the paper's August 2023) divided by 12, floored at 0 (a start after the reference date is no experience).
    Positions without a parseable start are ignored; null when none has one."""
    months = month_index(F.lit(reference_date)) - month_index(F.min("start_month"))
    return learner_positions.groupBy("learner_id").agg(
        F.when(F.min("start_month").isNotNull(), F.greatest(months / F.lit(12.0), F.lit(0.0)))
        .alias("professional_experience_years")
    )


def career_outcome(learner_positions: DataFrame, *, experiment_start: date = EXPERIMENT_START) -> DataFrame:
    """career_outcome (appendix B.4): "we calculated the time difference in months between the start date of the
    most recent experience and September 2022, when our experiment started. If the time difference is greater
    than or equal to 0 months ...: If "Intern" is found in the current job title, the outcome is classified as a
    new internship. If the employer of the current job differs from the employer of the previous job, ... new
    job. Otherwise ... promotion." Otherwise "none".

    Most recent = latest start month (ties by profile order); previous = the next one in that order. The
    internship test is classify_title's internship class; employers are compared with `same_employer`. No
    previous position (a first job) or a missing employer name gives "new_job". Uses `experiment_start`, not
    the learner's randomization month."""
    order = Window.partitionBy("learner_id").orderBy(F.col("start_month").desc(), F.col("position_index"))
    ranked = (
        learner_positions.where(F.col("start_month").isNotNull())
        .withColumn("_order", F.row_number().over(order))
        .where("_order <= 2")
    )
    current = ranked.where("_order = 1").select("learner_id", "start_month", "company", "internship")
    previous = ranked.where("_order = 2").select("learner_id", F.col("company").alias("_previous_company"))
    pairs = lookup(current.join(previous, "learner_id", "left"), ["company", "_previous_company"], _same_employer,
                   StructType([StructField("_same_employer", BooleanType())]))
    outcome = (
        F.when(month_index("start_month") < month_index(F.lit(experiment_start)), "none")
        .when(F.col("internship"), "new_internship")
        .when(F.coalesce(F.col("_same_employer"), F.lit(False)), "promotion")
        .otherwise("new_job")
    )
    return pairs.select("learner_id", outcome.alias("career_outcome"))


def education_features(learner_education: DataFrame, *, enrollment_reference_year: int = ENROLLMENT_REFERENCE_YEAR,
                       degree_reference_year: int = DEGREE_REFERENCE_YEAR, cwur_path: str | None = None) -> DataFrame:
    """Education covariates (appendix B.4) per learner with education entries (learner_id, country and the
    silver profile_education columns):

    - linkedin_degree_level: "the participant's highest level of education based on keywords found in the title
      of their degree" (credsignal.reference.degrees.degree_level of the degree field): doctor > master >
      bachelor > none; has_degree_linkedin ("TRUE if any of the above conditions are satisfied") and one-hot
      has_bachelor/master/doctor_linkedin of the highest level.
    - currently_enrolled: "set to TRUE if the end date of the participant's educational program is later than
      2022" - any entry with end year > enrollment_reference_year (configuration: the study fixed 2022).
    - The latest degree: the entry with level bachelor or above and the latest end year (then the highest level,
      then profile order). years_since_latest_degree: "the difference in years between 2023 and the ... most
      recent academic degree. If the result is negative ... set to 0" (degree_reference_year - end year, floored at
      0; null without an end year; configuration: the study fixed 2023). university_national_rank: "national rankings provided by a public Kaggle dataset"
      (CWUR, latest year per institution) of its school, with its rapidfuzz score university_match_score; null
      when no confident match.
    """
    leveled = lookup(learner_education, ["degree"], _degree_level,
                     StructType([StructField("_level", StringType())]))
    level_rank = F.coalesce(
        *[F.when(F.col("_level") == name, F.lit(rank)) for name, rank in DEGREE_LEVEL_RANKS.items()], F.lit(0)
    )
    leveled = leveled.withColumn("_level_rank", level_rank)
    latest_degree_order = Window.partitionBy("learner_id").orderBy(
        F.col("end_year").desc_nulls_last(), F.col("_level_rank").desc(), F.col("education_index")
    )
    latest_degree = (
        leveled.where(F.col("_level_rank") >= DEGREE_LEVEL_RANKS["bachelor"])
        .withColumn("_order", F.row_number().over(latest_degree_order)).where("_order = 1")
        .select("learner_id", "school", "country",
                # (greatest() skips nulls: without the guard a missing end year would give 0, not null.)
                F.when(F.col("end_year").isNotNull(), F.greatest(F.lit(degree_reference_year) - F.col("end_year"), F.lit(0)))
                .alias("years_since_latest_degree"))
    )
    ranked = lookup(latest_degree.withColumn("_cwur_path", F.lit(cwur_path).cast("string")),
                    ["school", "country", "_cwur_path"], _university_rank, UNIVERSITY_RANK_SCHEMA)
    highest = leveled.groupBy("learner_id").agg(
        F.max("_level_rank").alias("_highest"),
        F.max(flag(F.col("end_year") > enrollment_reference_year)).alias("currently_enrolled"),
    )
    level_name = F.coalesce(*[F.when(F.col("_highest") == rank, F.lit(name))
                              for name, rank in DEGREE_LEVEL_RANKS.items()])
    return highest.join(ranked.drop("school", "country", "_cwur_path"), "learner_id", "left").select(
        "learner_id",
        level_name.alias("linkedin_degree_level"),
        flag(F.col("_highest") >= DEGREE_LEVEL_RANKS["bachelor"]).alias("has_degree_linkedin"),
        flag(F.col("_highest") == DEGREE_LEVEL_RANKS["bachelor"]).alias("has_bachelor_linkedin"),
        flag(F.col("_highest") == DEGREE_LEVEL_RANKS["master"]).alias("has_master_linkedin"),
        flag(F.col("_highest") == DEGREE_LEVEL_RANKS["doctor"]).alias("has_doctor_linkedin"),
        "currently_enrolled", "years_since_latest_degree", "university_national_rank", "university_match_score",
    )


def credential_shared(learner_certifications: DataFrame, study: DataFrame) -> DataFrame:
    """Per learner with a study certificate and profile certifications (learner_certifications: learner_id and
    the silver profile_certifications columns; study: learner_id, certificate_id, course_name):

    - credential_shared: "equal to one if the credential appears on the learner's LinkedIn profile at the time
      of data collection" (paper 3.4.3; footnote 7: "Credentials are identified by their unique Coursera-issued
      ID"): the study certificate_id, normalised (parsers.credentials.normalize_credential_id: upper-case, no
      spaces or hyphens), equals a certification's shown ID or the ID inside its credential URL
      (coursera_id_from_url), both normalised the same way.
    - credential_shared_by_name: diagnostic, not sharing: 1 when no ID matched and a certification issued by
      Coursera that carries no ID at all has a name fuzzily equal to the certificate's course name.
    """
    study_ids = lookup(study.select("learner_id", "certificate_id", "course_name"), ["certificate_id"],
                       _normalized_credential_id, StructType([StructField("_study_id", StringType())]))
    with_ids = lookup(learner_certifications, ["credential_id", "credential_url"], _profile_credential_ids,
                      StructType([StructField("_shown_id", StringType()), StructField("_url_id", StringType())]))
    with_issuer = lookup(with_ids, ["issuer"], _is_coursera_issuer,
                         StructType([StructField("_coursera", BooleanType())]))
    paired = with_issuer.join(study_ids, "learner_id")
    named = lookup(paired, ["name", "course_name"], _same_certificate_name,
                   StructType([StructField("_same_name", BooleanType())]))
    id_match = (F.col("_shown_id") == F.col("_study_id")) | (F.col("_url_id") == F.col("_study_id"))
    no_id = F.col("_shown_id").isNull() & F.col("_url_id").isNull() & F.col("credential_id_normalized").isNull()
    by_name = F.col("_coursera") & no_id & F.col("_same_name")
    return (
        named.groupBy("learner_id").agg(F.max(flag(id_match)).alias("credential_shared"),
                                        F.max(flag(by_name)).alias("_by_name"))
        .select("learner_id", "credential_shared",
                F.when(F.col("credential_shared") == 1, 0).otherwise(F.col("_by_name")).alias("credential_shared_by_name"))
    )


def profile_length(matched: DataFrame, learner_positions: DataFrame, *, as_of: date) -> DataFrame:
    """profile_length_chars: the visible profile text (the parser's profile_length_chars, the sum of its
    sections) minus the certifications section and minus the text of the positions that count as new jobs
    (new_job's definition), so that the credential and the outcome do not inflate the covariate. Floored at 0."""
    new_job_text = (
        learner_positions
        .where(starts_new_job(F.col("start_month"), F.col("randomized_at"), as_of=as_of,
                              months_after=NEW_JOB_MONTHS_AFTER))
        .groupBy("learner_id").agg(F.sum(F.coalesce("length_chars", F.lit(0))).alias("_new_job_chars"))
    )
    visible = (F.coalesce(F.col("profile_length_chars"), F.lit(0)) - F.coalesce(F.col("length_certifications"), F.lit(0))
               - F.coalesce(F.col("_new_job_chars"), F.lit(0)))
    return matched.select("learner_id", "profile_length_chars", "length_certifications") \
        .join(new_job_text, "learner_id", "left") \
        .select("learner_id", F.greatest(visible, F.lit(0)).cast("int").alias("profile_length_chars"))


def linkedin_sample(full: DataFrame, matches: DataFrame) -> DataFrame:
    """The LinkedIn Matched Sample: the learners of `full` (the learner_outcomes_full table) whose normalised
    LinkedIn URL matches a fetched profile whose latest fetch parsed, status ok or partial (`matches`:
    profile_matches of `full`'s learners, match "matched"), with their match columns, randomized_at and
    certificate_id."""
    return matches.where(F.col("match") == MATCHED).join(
        full.select("learner_id", "randomized_at", "certificate_id"), "learner_id")


def profile_entries(sample: DataFrame, entries: DataFrame,
                    learner_columns: Sequence[str] = ("randomized_at", "country")) -> DataFrame:
    """The rows of a silver profile table (`entries`: positions, education or certifications) of each sample
    learner's matched profile (`sample`: linkedin_sample), with the learner's learner_id and `learner_columns`."""
    return sample.select("learner_id", *learner_columns, *PROFILE_RECORD_KEY).join(entries, PROFILE_RECORD_KEY)


def sample_study_certificates(sample: DataFrame, certificates: DataFrame) -> DataFrame:
    """The study certificate of each learner of `sample` (linkedin_sample) who has one, with its course name from
    the bronze `certificates` (latest delivery): learner_id, certificate_id, course_name."""
    return sample.where(F.col("certificate_id").isNotNull()).select("learner_id", "certificate_id").join(
        latest_delivery(certificates, ["certificate_id"]).select("certificate_id", "course_name"), "certificate_id"
    )


def linkedin_features(sample: DataFrame, per_learner: Sequence[DataFrame], *, as_of: date) -> DataFrame:
    """The LinkedIn columns of each learner of `sample` (linkedin_sample): the profile URL and parse status,
    followup_months (randomization month to the as_of month) and the columns of the `per_learner` definitions
    (new_jobs, past_jobs, professional_experience, career_outcome, credential_shared, education_features,
    profile_length), each of which has at most one row per learner. A learner with no positions has every new/past
    flag 0, months_to_* and professional_experience_years null, career_outcome "none"; without education, degree
    level "none"."""
    features = sample.select("learner_id", "profile_url_normalized", "profile_status",
                             (month_index(F.lit(as_of)) - month_index("randomized_at")).alias("followup_months"))
    for table in per_learner:
        features = features.join(table, "learner_id", "left")
    zero_flags = [f.name for f in LINKEDIN_FEATURES_SCHEMA.fields
                  if f.name.startswith(("new_job", "past_", "credential_shared", "has_", "currently_enrolled"))]
    return (
        features.fillna(0, subset=zero_flags)
        .fillna({"career_outcome": "none", "linkedin_degree_level": "none"})
    )


def learner_outcomes_linkedin(full: DataFrame, features: DataFrame) -> DataFrame:
    """Table `learner_outcomes_linkedin` (LEARNER_OUTCOMES_LINKEDIN_SCHEMA): the rows of `full` (the
    learner_outcomes_full table) of the LinkedIn Matched Sample, with their LinkedIn columns (`features`:
    linkedin_features)."""
    return conform(full.join(features, "learner_id"), LEARNER_OUTCOMES_LINKEDIN_SCHEMA)


# ------------------------------------------------------------------------------------------------ reading, job

SILVER_SCHEMAS: dict[str, StructType] = {}


def silver_schema(table: str) -> StructType:
    """The schema jobs.parse.split_profiles writes for `table` (derived from it, so the two never drift)."""
    if not SILVER_SCHEMAS:
        from jobs.parse import split_profiles

        spark = SparkSession.getActiveSession()
        empty = spark.createDataFrame([], PARSED_PROFILE_SCHEMA)
        SILVER_SCHEMAS.update({name: frame.schema for name, frame in split_profiles(empty).tables().items()})
    return SILVER_SCHEMAS[table]


def read_bronze(spark: SparkSession, lake_root: Path, source: str, *, as_of: date) -> DataFrame:
    """A bronze table as of `as_of` (export days dt <= as_of), with its contract schema; empty when absent."""
    schema = bronze_schema(EXPORT_SOURCES[source])
    path = lake.bronze_table(lake_root, source)
    if not path.is_dir() or not any(path.glob("dt=*")):
        return spark.createDataFrame([], schema)
    return spark.read.schema(schema).parquet(str(path)).where(F.col("dt") <= F.lit(as_of))


def read_silver(spark: SparkSession, lake_root: Path, table: str) -> DataFrame:
    schema = silver_schema(table)
    path = lake.silver_table(lake_root, table)
    if not path.is_dir() or not any(path.glob("crawl_id=*")):
        return spark.createDataFrame([], schema)
    return spark.read.schema(schema).parquet(str(path))


def experiment_ids_in_bronze(lake_root: Path, *, as_of: date) -> dict[str, int]:
    """{experiment_id: assignment rows} of the bronze assignments export up to as_of, without Spark: one column is
    scanned batch by batch (pyarrow) and only the per-id counts are kept, so the driver never holds the table."""
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.dataset as ds

    path = lake.bronze_table(lake_root, "experiment_assignments")
    if not path.is_dir() or not any(path.glob("dt=*")):
        return {}
    dataset = ds.dataset(path, format="parquet", exclude_invalid_files=True,
                         partitioning=ds.partitioning(pa.schema([("dt", pa.string())]), flavor="hive"))
    counts: dict[str, int] = {}
    for batch in dataset.to_batches(columns=["experiment_id"], filter=ds.field("dt") <= as_of.isoformat()):
        for item in pc.value_counts(batch.column("experiment_id")).to_pylist():
            counts[item["values"]] = counts.get(item["values"], 0) + item["counts"]
    return counts


# ------------------------------------------------------------------------------------------------ plan assembly
# The definitions above say what each table is; the plan functions below and build_tables decide how Spark runs
# them: which shared intermediate is materialised once (localCheckpoint: eager, and the plans reading it start
# from its rows instead of repeating its derivation) and which small side of a join is broadcast.

def plan_main_skill(skill_scores: DataFrame, randomized: DataFrame) -> DataFrame:
    """main_skill of each randomized learner from the bronze `skill_scores`."""
    # Materialised: the per-skill statistics and the per-learner ranking both read it.
    scores = skill_scores_at_randomization(skill_scores, randomized).localCheckpoint()
    # A few dozen skills: a hash aggregate broadcast back, not a window that sorts each skill into one task.
    return main_skill(scores, F.broadcast(skill_statistics(scores)))


def plan_learner_outcomes_full(
    randomized: DataFrame,
    covariates: DataFrame,
    certificates: DataFrame,
    views: DataFrame,
    sessions: DataFrame,
    skill_scores: DataFrame,
    *,
    as_of: date,
) -> DataFrame:
    """learner_outcomes_full of the `randomized` learners from the bronze tables and their `covariates`
    (learner_covariates, derived once by the caller: the LinkedIn match reads them too). Both inputs are read by
    several branches, so the caller materialises them."""
    # Read by several branches below. Materialised once (localCheckpoint, as on the LinkedIn side): otherwise each
    # branch re-reads and re-deduplicates bronze, since the branches prune different columns and Spark cannot
    # reuse one exchange for them (certificates were scanned three times).
    study = study_certificates(certificates, randomized).localCheckpoint()
    return learner_outcomes_full(
        randomized, study, covariates, plan_main_skill(skill_scores, randomized),
        # Only the learners with a log-in or a view: the table's left join and zero fill cover the others, and a
        # result with every learner would cost one more join over all of them.
        logged_in_after_randomization(sessions, randomized, only_logged_in=True),
        view_counts(views, study, as_of=as_of, only_viewed=True),
    )


def plan_learner_outcomes_linkedin(
    full: DataFrame,
    matches: DataFrame,
    certificates: DataFrame,
    positions: DataFrame,
    education: DataFrame,
    certifications: DataFrame,
    *,
    as_of: date,
    experience_reference_date: date = EXPERIENCE_REFERENCE_DATE,
    experiment_start: date = EXPERIMENT_START,
    enrollment_reference_year: int = ENROLLMENT_REFERENCE_YEAR,
    degree_reference_year: int = DEGREE_REFERENCE_YEAR,
    cwur_path: str | Path | None = None,
) -> DataFrame:
    """learner_outcomes_linkedin from `full` (the learner_outcomes_full table), `matches` (profile_matches of
    `full`'s learners: the match report counts the same matches), the bronze `certificates` and the silver profile
    tables `positions`, `education` and `certifications`."""
    # The LinkedIn side is small (one row per matched learner or profile entry) but every definition reads the
    # same inputs, so they are materialised (localCheckpoint) once: without it the query plan repeats the matching
    # and classification plans in every branch, and planning alone dominates the run time.
    sample = linkedin_sample(full, matches).localCheckpoint()
    learner_positions = classify_positions(profile_entries(sample, positions)).localCheckpoint()
    learner_education = profile_entries(sample, education).localCheckpoint()
    learner_certifications = profile_entries(sample, certifications, learner_columns=()).localCheckpoint()
    study = sample_study_certificates(sample, certificates).localCheckpoint()

    per_learner = [
        new_jobs(learner_positions, as_of=as_of),
        past_jobs(learner_positions),
        professional_experience(learner_positions, reference_date=experience_reference_date),
        career_outcome(learner_positions, experiment_start=experiment_start),
        credential_shared(learner_certifications, study),
        education_features(learner_education, enrollment_reference_year=enrollment_reference_year,
                           degree_reference_year=degree_reference_year,
                           cwur_path=None if cwur_path is None else str(cwur_path)),
        profile_length(sample, learner_positions, as_of=as_of),
    ]
    # Each per-learner table, and the features they make up, has at most one row per matched learner (the LinkedIn
    # sample: tens of thousands), so they are broadcast: a chain of sort-merge joins would run one sorter per join
    # in the same task.
    features = linkedin_features(sample, [F.broadcast(table) for table in per_learner], as_of=as_of)
    return learner_outcomes_linkedin(full, F.broadcast(features))


def build_tables(
    spark: SparkSession,
    lake_root: Path,
    *,
    as_of: date,
    experiment_id: str,
    experience_reference_date: date = EXPERIENCE_REFERENCE_DATE,
    experiment_start: date = EXPERIMENT_START,
    enrollment_reference_year: int = ENROLLMENT_REFERENCE_YEAR,
    degree_reference_year: int = DEGREE_REFERENCE_YEAR,
    cwur_path: str | Path | None = None,
    pseudonym_key: bytes,
) -> dict[str, DataFrame]:
    """Read bronze (export days up to as_of) and silver from the lake and derive, unwritten:
    learner_outcomes_full, learner_outcomes_linkedin (as published: keyed by `pseudonym_key`, see
    `curated_tables`), learner_crosswalk (restricted) and profile_match_report. The full table is persisted
    (the LinkedIn table and the report build on it); the caller may unpersist it after writing. The randomized
    learners, their covariates (as of randomization) and the profile matches are derived once and shared."""
    bronze = {source: read_bronze(spark, lake_root, source, as_of=as_of) for source in lake.PLATFORM_SOURCES}
    silver = {table: read_silver(spark, lake_root, table)
              for table in ("profiles", "profile_positions", "profile_education", "profile_certifications")}
    randomized = randomized_learners(bronze["experiment_assignments"], experiment_id).localCheckpoint()
    covariates = learner_covariates(bronze["learners"], randomized).localCheckpoint()
    full = plan_learner_outcomes_full(
        randomized, covariates, bronze["certificates"], bronze["certificate_views"],
        bronze["app_sessions"], bronze["skill_scores"], as_of=as_of,
    ).persist()
    matches = profile_matches(full.select("learner_id"), covariates, silver["profiles"]).localCheckpoint()
    linkedin = plan_learner_outcomes_linkedin(
        full, matches, bronze["certificates"], silver["profile_positions"], silver["profile_education"],
        silver["profile_certifications"], as_of=as_of, experience_reference_date=experience_reference_date,
        experiment_start=experiment_start, enrollment_reference_year=enrollment_reference_year,
        degree_reference_year=degree_reference_year, cwur_path=cwur_path,
    )
    report = match_report(matches, silver["profiles"])
    return {**curated_tables({"learner_outcomes_full": full, "learner_outcomes_linkedin": linkedin},
                             pseudonym_key=pseudonym_key),
            "profile_match_report": report, "profile_match_by_arm": match_counts_by_arm(matches, full)}


def curated_tables(tables: dict[str, DataFrame], *, pseudonym_key: bytes) -> dict[str, DataFrame]:
    """The output tables as published (OUTPUT_SCHEMAS: pseudonymous keys, no URL) plus `learner_crosswalk`
    (learner_key -> learner_id, for the restricted zone only)."""
    pseudonym_column = privacy.pseudonym_column

    def keyed(frame: DataFrame) -> DataFrame:
        for platform_id, (name, kind) in PSEUDONYMOUS_KEYS.items():
            frame = frame.withColumn(name, pseudonym_column(F.col(platform_id), pseudonym_key, kind=kind))
        return frame

    curated = {name: conform(keyed(frame), OUTPUT_SCHEMAS[name]) for name, frame in tables.items()}
    learner_key, kind = PSEUDONYMOUS_KEYS["learner_id"]
    crosswalk = tables["learner_outcomes_full"].select(
        pseudonym_column(F.col("learner_id"), pseudonym_key, kind=kind).alias(learner_key), "learner_id")
    return {**curated, "learner_crosswalk": conform(crosswalk, CROSSWALK_SCHEMA)}


def report_counts(report: Sequence[dict], subject: str) -> dict[str, int]:
    """{outcome: count} of one subject of the match report (as written to _reports/profile_match.json)."""
    return {row["outcome"]: row["count"] for row in report if row["subject"] == subject}


def run(
    spark: SparkSession,
    config: Config,
    *,
    as_of: date | None = None,
    write_to: Path,
    experience_reference_date: date = EXPERIENCE_REFERENCE_DATE,
    experiment_start: date = EXPERIMENT_START,
    cwur_path: str | Path | None = None,
) -> dict:
    """Derive both tables from config.lake and write them as Parquet under `write_to/<table>/` (a staging folder:
    publishing to lake/curated/ is the caller's), and the learner crosswalk to the restricted zone. The match report
    goes to `write_to/_reports/profile_match.json` (underscore: not a table) and is returned with the row counts and
    the count of learners with no version by their randomization day (`learner_versions`, which the validate step
    records)."""
    as_of = as_of or config.as_of
    if as_of is None:
        raise ValueError("the feature job needs an as_of date")
    tables = build_tables(spark, config.lake, as_of=as_of, experiment_id=config.experiment_id,
                          experience_reference_date=experience_reference_date, experiment_start=experiment_start,
                          enrollment_reference_year=config.enrollment_reference_year,
                          degree_reference_year=config.degree_reference_year, cwur_path=cwur_path,
                          pseudonym_key=privacy.pseudonym_key(config.lake))
    try:
        for name in OUTPUT_TABLES:
            tables[name].orderBy("learner_key").write.mode("overwrite").parquet(str(write_to / name))
        crosswalk = lake.learner_crosswalk(config.lake)
        written = crosswalk.with_name(f".{crosswalk.name}.{write_to.name}")
        tables["learner_crosswalk"].orderBy("learner_key").write.mode("overwrite").parquet(str(written))
        replace_directory(written, crosswalk)
        report = [row.asDict() for row in tables["profile_match_report"].orderBy("subject", "outcome").collect()]
        by_arm = [row.asDict() for row in tables["profile_match_by_arm"].orderBy("match", "treatment").collect()]
    finally:
        tables["learner_outcomes_full"].unpersist()
    rows = {name: spark.read.parquet(str(write_to / name)).count() for name in OUTPUT_TABLES}
    versions = {NO_VERSION_BY_RANDOMIZATION: report_counts(report, LEARNER_VERSION).get(NO_VERSION_BY_RANDOMIZATION, 0)}
    summary = {"as_of": as_of.isoformat(), "experiment_id": config.experiment_id, "rows": rows,
               "learner_versions": versions, "profile_match": report, "profile_match_by_arm": by_arm}
    report_path = lake.match_report(write_to)
    report_path.parent.mkdir(parents=True, exist_ok=True)
    report_path.write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
    log.info("features as_of=%s: %s; learners with no version by their randomization day: %d", as_of, rows,
             versions[NO_VERSION_BY_RANDOMIZATION])
    return summary


def main(argv: Sequence[str] | None = None) -> int:
    """spark-submit entry point: `python -m jobs.features --lake L --as-of D --out DIR [--cwur PATH]`."""
    from credsignal.core.spark import spark_session

    parser = argparse.ArgumentParser(prog="jobs.features")
    parser.add_argument("--lake", type=Path)
    parser.add_argument("--as-of", type=date.fromisoformat, required=True)
    parser.add_argument("--out", type=Path, required=True, help="staging folder for the two tables")
    parser.add_argument("--experiment-id")
    parser.add_argument("--experience-reference-date", type=date.fromisoformat, default=EXPERIENCE_REFERENCE_DATE)
    parser.add_argument("--experiment-start", type=date.fromisoformat, default=EXPERIMENT_START)
    parser.add_argument("--enrollment-reference-year", type=int,
                        help="currently_enrolled: an education entry ending after this year (paper: 2022)")
    parser.add_argument("--degree-reference-year", type=int,
                        help="years_since_latest_degree counts from this year (paper: 2023)")
    parser.add_argument("--cwur", type=Path, help="CWUR table (default: the ranker's default location)")
    parser.add_argument("--spark-master")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    config = Config.from_env(lake=args.lake, as_of=args.as_of, experiment_id=args.experiment_id,
                             spark_master=args.spark_master, enrollment_reference_year=args.enrollment_reference_year,
                             degree_reference_year=args.degree_reference_year)
    summary = run(spark_session(config, app_name="credsignal-features"), config, as_of=args.as_of, write_to=args.out,
                  experience_reference_date=args.experience_reference_date, experiment_start=args.experiment_start,
                  cwur_path=args.cwur)
    print(json.dumps(summary, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
