"""The definitions of `learner_outcomes_linkedin` from the silver profile tables (paper, section 3.4.3, Table 2
and appendix B.4): the profile matched to each randomized learner, new jobs, past jobs, experience, education,
credential sharing, career outcome, profile length, and the table that joins them to the full table. Each is a
pure DataFrame transform whose docstring quotes the definition it implements."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from functools import lru_cache
from pathlib import Path

from pyspark.sql import Column, DataFrame, Window, functions as F
from pyspark.sql.types import BooleanType, LongType, StringType, StructField, StructType

from credsignal.core.config import Config
from credsignal.core.contracts import LEARNER_OUTCOMES_LINKEDIN_SCHEMA, LINKEDIN_FEATURES_SCHEMA
from jobs.features.columns import (
    PROFILE_RECORD_KEY,
    TITLE_CLASS_SCHEMA,
    UNIVERSITY_RANK_SCHEMA,
    degree_level_row,
    is_coursera_issuer_row,
    normalized_credential_id_row,
    profile_credential_ids_row,
    title_class_row,
    university_rank_row,
    conform,
    flag,
    latest_delivery,
    lookup,
    month_index,
)


# The paper's experience reference date ("the paper used August 2023") and the experiment start of appendix B.4
# ("September 2022, when our experiment started"). Both are keyword arguments of the functions that use them.
EXPERIENCE_REFERENCE_DATE = date(2023, 8, 1)
EXPERIMENT_START = date(2022, 9, 1)


# The reference years of currently_enrolled and years_since_latest_degree are configuration (Config); these are
# the defaults of the functions that take them as keyword arguments.
ENROLLMENT_REFERENCE_YEAR = Config.enrollment_reference_year
DEGREE_REFERENCE_YEAR = Config.degree_reference_year


@dataclass(frozen=True)
class StudyReferences:
    """The fixed references of the LinkedIn covariates and outcomes: the study's choices, never derived from as_of
    (the defaults are the paper's), and the CWUR table the university rank reads (None: its default location)."""

    experience_reference_date: date = EXPERIENCE_REFERENCE_DATE
    experiment_start: date = EXPERIMENT_START
    enrollment_reference_year: int = ENROLLMENT_REFERENCE_YEAR
    degree_reference_year: int = DEGREE_REFERENCE_YEAR
    cwur_path: str | Path | None = None


PARSED_STATUSES = ("ok", "partial")  # same as jobs.parse.PARSED_STATUSES
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


PROFILE_MATCH_REPORT_SCHEMA = StructType([
    StructField("subject", StringType(), nullable=False),  # learner, profile, learner_version, url_at_randomization
    StructField("outcome", StringType(), nullable=False),
    StructField("count", LongType(), nullable=False),
])


def same_certificate_name_row(profile_name: str | None, course_name: str | None) -> tuple:
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


def same_employer_row(company: str | None, other: str | None) -> tuple:
    return (same_employer(company, other),)


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
    return lookup(positions, ["title"], title_class_row, TITLE_CLASS_SCHEMA)


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
    pairs = lookup(current.join(previous, "learner_id", "left"), ["company", "_previous_company"], same_employer_row,
                   StructType([StructField("same_employer_row", BooleanType())]))
    outcome = (
        F.when(month_index("start_month") < month_index(F.lit(experiment_start)), "none")
        .when(F.col("internship"), "new_internship")
        .when(F.coalesce(F.col("same_employer_row"), F.lit(False)), "promotion")
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
    leveled = lookup(learner_education, ["degree"], degree_level_row,
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
                    ["school", "country", "_cwur_path"], university_rank_row, UNIVERSITY_RANK_SCHEMA)
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
                       normalized_credential_id_row, StructType([StructField("_study_id", StringType())]))
    with_ids = lookup(learner_certifications, ["credential_id", "credential_url"], profile_credential_ids_row,
                      StructType([StructField("_shown_id", StringType()), StructField("_url_id", StringType())]))
    with_issuer = lookup(with_ids, ["issuer"], is_coursera_issuer_row,
                         StructType([StructField("_coursera", BooleanType())]))
    paired = with_issuer.join(study_ids, "learner_id")
    named = lookup(paired, ["name", "course_name"], same_certificate_name_row,
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
