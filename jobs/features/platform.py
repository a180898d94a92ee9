"""The definitions of `learner_outcomes_full` from the platform exports (paper, section 3.4): the randomized
learners, their covariates as of randomization, the study certificate, log-ins and certificate views, and the
table that joins them. Each is a pure DataFrame transform whose docstring quotes the definition it implements."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

from pyspark.sql import Column, DataFrame, Window, functions as F
from pyspark.sql.types import IntegerType, StringType, StructField, StructType

from credsignal.core.contracts import LEARNER_OUTCOMES_FULL_SCHEMA, NOT_MENTIONED
from jobs.features.columns import (
    delivery_order,
    developing_country_row,
    normalized_profile_url_row,
    conform,
    flag,
    latest_delivery,
    lookup,
)


TREATMENT_ARM = "treatment"
LOGIN_WINDOW_DAYS = 30


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
        F.col("updated_at").asc(), *delivery_order())
    latest_first = by_learner.orderBy(F.col("updated_at").desc(), *delivery_order())
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
        lambda country, url: (*developing_country_row(country), *normalized_profile_url_row(url)),
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
