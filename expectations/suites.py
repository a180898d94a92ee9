"""Great Expectations 1.x suites, one per published table, as code reviewed like code.

Each suite is built for a run (some bounds depend on its as-of date). Cross-column consistency rules that GX has
no built-in for (a 0/1 flag agreeing with its count) are checked on derived 0/1 columns that
`add_consistency_columns` adds to the batch, each named `_check_<rule>` and expected to be 1 on every row.
"""

from __future__ import annotations

from datetime import date

import great_expectations as gx
import great_expectations.expectations as gxe
import pandas as pd

from credsignal.core.contracts import ARMS, CREDENTIAL_TYPES, EDUCATION_LEVELS, GENDERS, PRIMARY_DOMAINS

NOT_MENTIONED = "not mentioned"
CAREER_OUTCOMES = ("new_internship", "new_job", "promotion", "none")
DEGREE_LEVELS = ("doctor", "master", "bachelor", "none")

FULL_COLUMNS = (
    "learner_key", "batch", "treatment", "randomized_at", "stratum", "certificate_key", "primary_domain",
    "credential_type", "developing_country", "education_level", "gender", "main_skill", "main_skill_score",
    "main_skill_standardized", "logged_in_after_randomization", "count_views_all", "count_views_by_others",
    "count_views_linkedin", "count_views_linkedin_by_others", "views_all", "views_all_by_others", "views_linkedin",
    "views_linkedin_by_others", "has_linkedin_url",
)
LINKEDIN_COLUMNS = FULL_COLUMNS + (
    "new_job", "new_job_4m", "new_job_in_scope", "new_job_in_scope_4m", "past_job_in_scope", "past_tech_job",
    "past_managerial_job", "followup_months", "months_to_new_job", "months_to_new_job_in_scope", "months_to_new_job_4m",
    "months_to_new_job_in_scope_4m", "credential_shared",
    "credential_shared_by_name", "professional_experience_years", "linkedin_degree_level", "has_degree_linkedin",
    "has_bachelor_linkedin", "has_master_linkedin", "has_doctor_linkedin", "currently_enrolled",
    "years_since_latest_degree", "university_national_rank", "university_match_score", "career_outcome",
    "profile_length_chars",
)
VIEW_COUNTS = ("count_views_all", "count_views_by_others", "count_views_linkedin", "count_views_linkedin_by_others")
VIEW_FLAGS = ("views_all", "views_all_by_others", "views_linkedin", "views_linkedin_by_others")
FULL_FLAGS = ("treatment", "logged_in_after_randomization", "has_linkedin_url", *VIEW_FLAGS)
LINKEDIN_FLAGS = FULL_FLAGS + (
    "new_job", "new_job_4m", "new_job_in_scope", "new_job_in_scope_4m", "past_job_in_scope", "past_tech_job",
    "past_managerial_job", "credential_shared", "credential_shared_by_name", "has_degree_linkedin",
    "has_bachelor_linkedin", "has_master_linkedin", "has_doctor_linkedin", "currently_enrolled",
)


def add_consistency_columns(frame: pd.DataFrame) -> pd.DataFrame:
    """The batch GX validates: the table plus `_check_*` 0/1 columns for the cross-column rules."""
    checks = {}
    for flag, count in zip(VIEW_FLAGS, VIEW_COUNTS):
        if flag in frame and count in frame:
            checks[f"_check_{flag}_iff_{count}_positive"] = (frame[flag] == (frame[count] > 0).astype(int)).astype(int)
    if "has_degree_linkedin" in frame:
        one_hot = frame[["has_bachelor_linkedin", "has_master_linkedin", "has_doctor_linkedin"]].sum(axis=1)
        checks["_check_degree_one_hot_sums_to_has_degree"] = (one_hot == frame["has_degree_linkedin"]).astype(int)
    if "credential_shared_by_name" in frame:
        both = (frame["credential_shared"] == 1) & (frame["credential_shared_by_name"] == 1)
        checks["_check_shared_by_name_only_without_id_match"] = (~both).astype(int)
    for narrow, wide in (("new_job_4m", "new_job"), ("new_job_in_scope", "new_job"),
                         ("new_job_in_scope_4m", "new_job_in_scope")):
        if narrow in frame:
            checks[f"_check_{narrow}_implies_{wide}"] = (frame[narrow] <= frame[wide]).astype(int)
    return frame.assign(**checks)


def _common(columns: tuple[str, ...], flags: tuple[str, ...], key: str, as_of: date) -> list:
    expectations: list = [
        gxe.ExpectTableRowCountToBeBetween(min_value=1),
        gxe.ExpectTableColumnsToMatchSet(column_set=list(columns), exact_match=False),
        gxe.ExpectColumnValuesToNotBeNull(column=key),
        gxe.ExpectColumnValuesToBeUnique(column=key),
        gxe.ExpectColumnValuesToNotBeNull(column="batch"),
        gxe.ExpectColumnValuesToBeBetween(column="batch", min_value=1, max_value=12),
        gxe.ExpectColumnValuesToNotBeNull(column="randomized_at"),
        gxe.ExpectColumnMaxToBeBetween(column="randomized_at", max_value=pd.Timestamp(as_of)),
        gxe.ExpectColumnValuesToBeInSet(column="primary_domain", value_set=list(PRIMARY_DOMAINS)),
        gxe.ExpectColumnValuesToBeInSet(column="credential_type", value_set=list(CREDENTIAL_TYPES)),
        gxe.ExpectColumnValuesToBeInSet(column="education_level", value_set=[*EDUCATION_LEVELS, NOT_MENTIONED]),
        gxe.ExpectColumnValuesToBeInSet(column="gender", value_set=[*GENDERS, NOT_MENTIONED]),
        gxe.ExpectColumnValuesToBeInSet(column="developing_country", value_set=[0, 1]),
    ]
    expectations += [gxe.ExpectColumnValuesToBeInSet(column=flag, value_set=[0, 1]) for flag in flags]
    expectations += [gxe.ExpectColumnValuesToNotBeNull(column=flag) for flag in flags]
    expectations += [gxe.ExpectColumnValuesToBeBetween(column=count, min_value=0) for count in VIEW_COUNTS]
    expectations += [
        gxe.ExpectColumnPairValuesAToBeGreaterThanB(column_A="count_views_all", column_B=narrow, or_equal=True)
        for narrow in ("count_views_by_others", "count_views_linkedin")
    ]
    expectations += [
        gxe.ExpectColumnPairValuesAToBeGreaterThanB(column_A="count_views_linkedin",
                                                     column_B="count_views_linkedin_by_others", or_equal=True),
        gxe.ExpectColumnPairValuesAToBeGreaterThanB(column_A="count_views_by_others",
                                                     column_B="count_views_linkedin_by_others", or_equal=True),
    ]
    return expectations


def _consistency(frame_columns: list[str]) -> list:
    return [
        gxe.ExpectColumnValuesToBeInSet(column=column, value_set=[1])
        for column in frame_columns
        if column.startswith("_check_")
    ]


def learner_outcomes_full_suite(as_of: date, batch_columns: list[str]) -> gx.ExpectationSuite:
    expectations = _common(FULL_COLUMNS, FULL_FLAGS, "learner_key", as_of)
    expectations += [gxe.ExpectColumnValuesToNotBeNull(column="certificate_key", mostly=0.99)]
    return gx.ExpectationSuite(name="learner_outcomes_full", expectations=expectations + _consistency(batch_columns))


def learner_outcomes_linkedin_suite(as_of: date, batch_columns: list[str]) -> gx.ExpectationSuite:
    expectations = _common(LINKEDIN_COLUMNS, LINKEDIN_FLAGS, "learner_key", as_of)
    expectations += [
        gxe.ExpectColumnValuesToBeInSet(column="career_outcome", value_set=list(CAREER_OUTCOMES)),
        gxe.ExpectColumnValuesToBeInSet(column="linkedin_degree_level", value_set=list(DEGREE_LEVELS)),
        gxe.ExpectColumnValuesToBeBetween(column="followup_months", min_value=0, max_value=60),
        gxe.ExpectColumnPairValuesAToBeGreaterThanB(column_A="followup_months", column_B="months_to_new_job",
                                                     or_equal=True, ignore_row_if="either_value_is_missing"),
        gxe.ExpectColumnPairValuesAToBeGreaterThanB(column_A="followup_months", column_B="months_to_new_job_in_scope",
                                                     or_equal=True, ignore_row_if="either_value_is_missing"),
        gxe.ExpectColumnPairValuesAToBeGreaterThanB(column_A="followup_months", column_B="months_to_new_job_4m",
                                                     or_equal=True, ignore_row_if="either_value_is_missing"),
        gxe.ExpectColumnPairValuesAToBeGreaterThanB(column_A="followup_months",
                                                     column_B="months_to_new_job_in_scope_4m",
                                                     or_equal=True, ignore_row_if="either_value_is_missing"),
        gxe.ExpectColumnValuesToBeBetween(column="professional_experience_years", min_value=0, max_value=70),
        gxe.ExpectColumnValuesToBeBetween(column="years_since_latest_degree", min_value=0, max_value=70),
        gxe.ExpectColumnValuesToBeBetween(column="university_match_score", min_value=0, max_value=100),
        gxe.ExpectColumnValuesToBeBetween(column="university_national_rank", min_value=1),
        gxe.ExpectColumnValuesToBeBetween(column="profile_length_chars", min_value=0),
    ]
    return gx.ExpectationSuite(name="learner_outcomes_linkedin",
                               expectations=expectations + _consistency(batch_columns))


SUITES = {
    "learner_outcomes_full": learner_outcomes_full_suite,
    "learner_outcomes_linkedin": learner_outcomes_linkedin_suite,
}
