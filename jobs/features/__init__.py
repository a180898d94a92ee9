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
executors) and the result is joined back, by a broadcast when it is small.

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

The package: `columns` (the helpers and classifier lookups the definitions share), `platform` (the full table's
definitions), `linkedin` (the LinkedIn table's definitions) and `job` (reading, the plan, writing, `main`). Its
names are importable from `jobs.features` itself.
"""

from __future__ import annotations

from jobs.features.columns import (  # noqa: F401
    PROFILE_RECORD_KEY,
    TITLE_CLASS_SCHEMA,
    UNIVERSITY_RANK_SCHEMA,
    conform,
    month_index,
    flag,
    latest_delivery,
    lookup,
)
from jobs.features.platform import (  # noqa: F401
    TREATMENT_ARM,
    LOGIN_WINDOW_DAYS,
    randomized_learners,
    end_of_randomization_day,
    learner_version_at_randomization,
    learner_covariates,
    study_certificates,
    REFERRER_HOST_PATTERN,
    REFERRER_SCHEME_PATTERN,
    is_linkedin_referrer,
    VIEW_COUNT_COLUMNS,
    VIEW_FLAG_COLUMNS,
    view_counts,
    logged_in_after_randomization,
    skill_scores_at_randomization,
    skill_statistics,
    main_skill,
    learner_outcomes_full,
)
from jobs.features.linkedin import (  # noqa: F401
    StudyReferences,
    EXPERIENCE_REFERENCE_DATE,
    EXPERIMENT_START,
    ENROLLMENT_REFERENCE_YEAR,
    DEGREE_REFERENCE_YEAR,
    PARSED_STATUSES,
    NEW_JOB_MONTHS_AFTER,
    NEW_JOB_ROBUSTNESS_MONTHS_AFTER,
    DEGREE_LEVEL_RANKS,
    SAME_EMPLOYER_SCORE,
    CERTIFICATE_NAME_SCORE,
    EMPLOYER_LEGAL_WORDS_FILE,
    employer_legal_words,
    PROFILE_MATCH_REPORT_SCHEMA,
    employer_key,
    same_employer,
    latest_profiles,
    MATCHED,
    URL_AT_RANDOMIZATION,
    LEARNER_VERSION,
    NO_VERSION_BY_RANDOMIZATION,
    profile_matches,
    match_report,
    match_counts_by_arm,
    classify_positions,
    starts_new_job,
    new_jobs,
    past_jobs,
    professional_experience,
    career_outcome,
    education_features,
    credential_shared,
    profile_length,
    linkedin_sample,
    profile_entries,
    sample_study_certificates,
    linkedin_features,
    learner_outcomes_linkedin,
)
from jobs.features.job import (  # noqa: F401
    PERSISTED_FULL,
    SILVER_SCHEMAS,
    silver_schema,
    read_bronze,
    read_silver,
    experiment_ids_in_bronze,
    plan_randomized_learners,
    plan_main_skill,
    plan_learner_outcomes_full,
    plan_learner_outcomes_linkedin,
    build_tables,
    with_pseudonymous_keys,
    curated_tables,
    report_counts,
    run,
    main,
)
