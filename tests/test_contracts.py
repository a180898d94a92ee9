"""The table contracts (credsignal/core/contracts.yml) and what is derived from them: the Spark schemas, the GX
suites' column expectations, the Parquet column docs and docs/data_dictionary.md."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from credsignal.core import contracts
from expectations.suites import SUITES

REPO_ROOT = Path(__file__).resolve().parents[1]
DICTIONARY = REPO_ROOT / "docs" / "data_dictionary.md"


def test_the_data_dictionary_is_generated_from_the_contract_and_current():
    text = DICTIONARY.read_text(encoding="utf-8")
    assert contracts.render_dictionary(text) == text, (
        "docs/data_dictionary.md is out of date: run .venv/bin/python -m credsignal.core.contracts "
        "docs/data_dictionary.md")


def test_render_dictionary_replaces_only_the_generated_blocks():
    blocks = []
    for name in contracts.OUTPUT_TABLES:
        begin, end = contracts.dictionary_block_markers(name)
        blocks.append(f"## {name}\nprose kept\n{begin}\n| stale | row |\n{end}\nmore prose\n")
    rendered = contracts.render_dictionary("".join(blocks))
    assert "| stale | row |" not in rendered and rendered.count("prose kept") == 2
    assert "| `learner_key` | string | pre-treatment |" in rendered
    assert "| `new_job` | int | outcome |" in rendered


def test_a_dictionary_without_its_generated_block_is_refused():
    with pytest.raises(ValueError, match="no generated block for learner_outcomes_full"):
        contracts.render_dictionary("# a dictionary someone rewrote by hand\n")


@pytest.mark.parametrize("table", contracts.OUTPUT_TABLES)
def test_every_published_column_is_described_and_timed(table):
    descriptions = contracts.column_descriptions(table)
    assert list(descriptions) == [field.name for field in contracts.OUTPUT_SCHEMAS[table].fields]
    assert all(text.strip() and "\n" not in text for text in descriptions.values())
    assert set(contracts.column_timings(table).values()) == set(contracts.COLUMN_TIMINGS)


@pytest.mark.parametrize("table", contracts.OUTPUT_TABLES)
def test_published_tables_hold_pseudonymous_keys_and_no_url(table):
    published = set(contracts.OUTPUT_SCHEMAS[table].fieldNames())
    assert {"learner_key", "certificate_key"} <= published
    assert not published & {"learner_id", "certificate_id", "profile_url_normalized"}
    assert contracts.OUTPUT_SCHEMAS[table]["learner_key"].nullable is False


def test_the_linkedin_table_extends_the_full_table():
    full, linkedin = contracts.LEARNER_OUTCOMES_FULL_SCHEMA, contracts.LEARNER_OUTCOMES_LINKEDIN_SCHEMA
    assert linkedin.fields[:len(full.fields)] == full.fields
    assert contracts.LINKEDIN_FEATURES_SCHEMA.fields == linkedin.fields[len(full.fields):]


def test_exports_and_curated_tables_share_the_enums():
    learners = contracts.EXPORT_SOURCES["learners"].schema
    assert tuple(learners["education_level"].metadata["allowed"]) == contracts.enum("education_levels")
    education = next(column for column in contracts.table("learner_outcomes_full").columns
                     if column.name == "education_level")
    assert education.accepted_values == [*contracts.enum("education_levels"), contracts.NOT_MENTIONED]


@pytest.mark.parametrize(("entry", "message"), [
    ({"name": "x", "type": "string", "timing": "later", "description": "d"}, "timing 'later'"),
    ({"name": "x", "type": "varchar", "timing": "outcome", "description": "d"}, "type 'varchar'"),
    ({"name": "x", "type": "int", "timing": "outcome", "description": "d", "tests": {"positive": True}},
     "unknown tests"),
])
def test_a_wrong_declaration_names_its_table_and_column(entry, message):
    with pytest.raises(ValueError, match=rf"table t, column x: .*{message}"):
        contracts.ColumnContract.declared("t", entry)


@pytest.mark.parametrize("table", contracts.OUTPUT_TABLES)
def test_every_declared_column_test_is_in_the_suite(table):
    suite = SUITES[table](date(2023, 9, 30), [])
    configured = {(type(expectation).__name__, expectation.column) for expectation in suite.expectations
                  if hasattr(expectation, "column")}
    value_sets = {expectation.column: list(expectation.value_set) for expectation in suite.expectations
                  if type(expectation).__name__ == "ExpectColumnValuesToBeInSet"}
    for column in contracts.table(table).curated_columns:
        if column.tests.get("not_null"):
            assert ("ExpectColumnValuesToNotBeNull", column.name) in configured
        if column.tests.get("unique"):
            assert ("ExpectColumnValuesToBeUnique", column.name) in configured
        if "range" in column.tests:
            assert ("ExpectColumnValuesToBeBetween", column.name) in configured
        if column.accepted_values is not None:
            assert value_sets[column.name] == column.accepted_values
    columns_rule = next(e for e in suite.expectations if type(e).__name__ == "ExpectTableColumnsToMatchSet")
    assert list(columns_rule.column_set) == list(contracts.column_descriptions(table))


@pytest.mark.parametrize(("column", "shown"), [
    ("views_all", "All Views (views_all)"),
    ("new_job_in_scope", "New Job in Scope (new_job_in_scope)"),
    ("stratum", "stratum"),  # no label declared
    ("New job (>= 1 month)", "New job (>= 1 month)"),  # not a column: a readout row label
])
def test_the_readout_names_columns_by_the_contracts_labels(column, shown):
    assert contracts.labelled(column) == shown
