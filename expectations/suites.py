"""Great Expectations 1.x suites, one per published table, as code reviewed like code.

Each suite is built for a run (some bounds depend on its as-of date). Cross-column consistency rules that GX has
no built-in for (a 0/1 flag agreeing with its count) are checked on derived 0/1 columns that
`add_consistency_columns` adds to the batch, each named `_check_<rule>` and expected to be 1 on every row.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

import great_expectations as gx
import great_expectations.expectations as gxe
import pandas as pd
from pyspark.sql import Column, DataFrame, functions as F

from credsignal.core import contracts

VIEW_COUNTS = ("count_views_all", "count_views_by_others", "count_views_linkedin", "count_views_linkedin_by_others")
VIEW_FLAGS = ("views_all", "views_all_by_others", "views_linkedin", "views_linkedin_by_others")


def consistency_columns(columns: Sequence[str]) -> dict[str, Column]:
    """The `_check_*` 0/1 columns for the cross-column rules among `columns`. A missing value fails a rule (0), as
    pandas' comparisons with NaN did."""
    present = set(columns)

    def holds(condition: Column) -> Column:
        return F.coalesce(condition, F.lit(False)).cast("int")

    checks = {}
    for flag, count in zip(VIEW_FLAGS, VIEW_COUNTS):
        if flag in present and count in present:
            positive = F.when(F.col(count) > 0, 1).otherwise(0)
            checks[f"_check_{flag}_iff_{count}_positive"] = holds(F.col(flag) == positive)
    if "has_degree_linkedin" in present:
        one_hot = sum(F.coalesce(F.col(c), F.lit(0))
                      for c in ("has_bachelor_linkedin", "has_master_linkedin", "has_doctor_linkedin"))
        checks["_check_degree_one_hot_sums_to_has_degree"] = holds(one_hot == F.col("has_degree_linkedin"))
    if "credential_shared_by_name" in present:
        both = (F.col("credential_shared") == 1) & (F.col("credential_shared_by_name") == 1)
        checks["_check_shared_by_name_only_without_id_match"] = 1 - holds(both)
    for narrow, wide in (("new_job_4m", "new_job"), ("new_job_in_scope", "new_job"),
                         ("new_job_in_scope_4m", "new_job_in_scope")):
        if narrow in present:
            checks[f"_check_{narrow}_implies_{wide}"] = holds(F.col(narrow) <= F.col(wide))
    return checks


def add_consistency_columns(frame: DataFrame) -> DataFrame:
    """The batch GX validates: the table plus `_check_*` 0/1 columns for the cross-column rules."""
    return frame.withColumns(consistency_columns(frame.columns))


def column_expectations(table: str) -> list:
    """The column tests the table's contract declares (credsignal/core/contracts.yml), on its published columns."""
    expectations: list = []
    for column in contracts.table(table).curated_columns:
        tests = column.tests
        if tests.get("not_null"):
            expectations.append(gxe.ExpectColumnValuesToNotBeNull(column=column.name))
        if tests.get("unique"):
            expectations.append(gxe.ExpectColumnValuesToBeUnique(column=column.name))
        if column.accepted_values is not None:
            expectations.append(gxe.ExpectColumnValuesToBeInSet(column=column.name, value_set=column.accepted_values))
        if "range" in tests:
            expectations.append(gxe.ExpectColumnValuesToBeBetween(
                column=column.name, min_value=tests["range"].get("min"), max_value=tests["range"].get("max")))
    return expectations


def _common(table: str, as_of: date) -> list:
    """The rules of every learner table: its columns, its contract's column tests, and the cross-column rules."""
    columns = [column.name for column in contracts.table(table).curated_columns]
    expectations: list = [
        gxe.ExpectTableRowCountToBeBetween(min_value=1),
        gxe.ExpectTableColumnsToMatchSet(column_set=columns, exact_match=False),
        gxe.ExpectColumnMaxToBeBetween(column="randomized_at", max_value=pd.Timestamp(as_of)),
        *column_expectations(table),
    ]
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
    expectations = _common("learner_outcomes_full", as_of)
    expectations += [gxe.ExpectColumnValuesToNotBeNull(column="certificate_key", mostly=0.99)]
    return gx.ExpectationSuite(name="learner_outcomes_full", expectations=expectations + _consistency(batch_columns))


def learner_outcomes_linkedin_suite(as_of: date, batch_columns: list[str]) -> gx.ExpectationSuite:
    expectations = _common("learner_outcomes_linkedin", as_of)
    expectations += [
        gxe.ExpectColumnPairValuesAToBeGreaterThanB(column_A="followup_months", column_B="months_to_new_job",
                                                     or_equal=True, ignore_row_if="either_value_is_missing"),
        gxe.ExpectColumnPairValuesAToBeGreaterThanB(column_A="followup_months", column_B="months_to_new_job_in_scope",
                                                     or_equal=True, ignore_row_if="either_value_is_missing"),
        gxe.ExpectColumnPairValuesAToBeGreaterThanB(column_A="followup_months", column_B="months_to_new_job_4m",
                                                     or_equal=True, ignore_row_if="either_value_is_missing"),
        gxe.ExpectColumnPairValuesAToBeGreaterThanB(column_A="followup_months",
                                                     column_B="months_to_new_job_in_scope_4m",
                                                     or_equal=True, ignore_row_if="either_value_is_missing"),
    ]
    return gx.ExpectationSuite(name="learner_outcomes_linkedin",
                               expectations=expectations + _consistency(batch_columns))


SUITES = {
    "learner_outcomes_full": learner_outcomes_full_suite,
    "learner_outcomes_linkedin": learner_outcomes_linkedin_suite,
}
