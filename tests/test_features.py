"""Unit tests of the feature job (jobs/features/) on tiny in-test frames, one learner per edge case.

Each definition's edge cases are built into one small input (one learner per case) and derived once per module
(fixtures below), then checked case by case with `pytest.mark.parametrize` and as a whole with
`assertDataFrameEqual` against exact expected tables. Timestamps are UTC-aware on purpose: the job takes days and
months in UTC whatever the machine's zone.
"""

from __future__ import annotations

from datetime import date, datetime, timezone
from pathlib import Path

import pytest
from pyspark.sql import Row
from pyspark.sql import functions as F
from pyspark.testing import assertDataFrameEqual

from credsignal.core import contracts
from credsignal.core.contracts import EXPORT_SOURCES, PARSED_PROFILE_SCHEMA, bronze_schema
from jobs import features
from jobs.parse import split_profiles

EXPERIMENT = "exp-test"
AS_OF = date(2023, 9, 30)
R = date(2023, 1, 31)  # the usual randomization day: the last day of the grant month
REPO_ROOT = Path(__file__).resolve().parents[1]


def utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=timezone.utc)


# ------------------------------------------------------------------------------------------------ input builders

_DEFAULTS = {
    "learners": {"registered_at": utc(2022, 1, 1), "updated_at": utc(2022, 1, 1)},
    "certificates": {"course_id": "course-1", "course_name": "Python for Everybody", "primary_domain": "Data Science",
                     "credential_type": "Course"},
    "certificate_views": {"by_owner": False},
    "experiment_assignments": {"experiment_id": EXPERIMENT, "batch": 1, "arm": "control", "stratum": "s1"},
    "app_sessions": {"platform": "web"},
    "skill_scores": {"measured_at": utc(2023, 1, 1)},
}


def bronze(spark, source: str, rows: list[dict]):
    """A bronze table of `source` (contract schema + lineage + dt) from partial rows."""
    schema = bronze_schema(EXPORT_SOURCES[source])
    records = []
    for number, row in enumerate(rows, start=1):
        full = {"source_file": f"platform/{source}/part-00000.jsonl.gz", "line_number": number, "dt": AS_OF,
                **_DEFAULTS[source], **row}
        records.append(tuple(full.get(field.name) for field in schema.fields))
    return spark.createDataFrame(records, schema)


def empty(spark, source: str):
    return bronze(spark, source, [])


def silver(spark, profiles: list[dict]) -> dict:
    """The silver profile tables (jobs.parse.split_profiles) of parsed records given as dicts: url, status,
    positions [(title, company, start, end)], education [(school, degree, start_year, end_year)],
    certifications [(name, issuer, credential_id, credential_url)], lengths."""
    records = []
    for line, profile in enumerate(profiles, start=1):
        positions = [(title, company, None, start, end, end is None, 100) for title, company, start, end in
                     profile.get("positions", [])]
        education = [(school, degree, None, start, end) for school, degree, start, end in profile.get("education", [])]
        certifications = [(name, issuer, None, None, credential_id, credential_url, None)
                          for name, issuer, credential_id, credential_url in profile.get("certifications", [])]
        records.append((
            "2023-09", "linkedin/crawl=2023-09/part-00000.jsonl.gz", line, profile["url"], profile.get("normalized"),
            profile.get("fetched_at", utc(2023, 9, 15)), 200, "text/html", 1000, profile.get("status", "ok"), None,
            "guest_v3", "en", profile.get("length", 1000), 0, 0, 0, profile.get("length_certifications", 0), 0,
            positions, education, certifications,
        ))
    return split_profiles(spark.createDataFrame(records, PARSED_PROFILE_SCHEMA)).tables()


def _shape(schema) -> list[tuple]:
    """Names, types and descriptions of a schema (nullability is Spark's to infer)."""
    return [(field.name, field.dataType, field.metadata.get("description")) for field in schema.fields]


def rows_by_learner(frame) -> dict[str, Row]:
    return {row.learner_id: row for row in frame.collect()}


# ------------------------------------------------------------------------------------------------ platform cases

# Randomized learners: (learner_id, extra assignment fields). Each has a study certificate unless said otherwise.
STUDY_CERTIFICATE_CASES = {
    # learner: (certificates [(certificate_id, granted_at)], expected study certificate_id)
    "cert_mid_month": ([("CMID", utc(2023, 1, 15, 12))], "CMID"),
    "cert_first_second_of_month": ([("CFIRST", utc(2023, 1, 1, 0, 0, 0))], "CFIRST"),
    "cert_last_second_of_randomization_day": ([("CLAST", utc(2023, 1, 31, 23, 59, 59))], "CLAST"),
    "cert_previous_month": ([("CPREV", utc(2022, 12, 31, 23, 59, 59))], None),
    "cert_after_randomization": ([("CAFTER", utc(2023, 2, 1, 0, 0, 0))], None),
    "cert_earliest_of_two": ([("CLATE", utc(2023, 1, 20)), ("CEARLY", utc(2023, 1, 10))], "CEARLY"),
    "no_certificate": ([], None),
}

# View windows: the learner's study certificate is V_<learner>, granted 2023-01-10, randomized 2023-01-31.
LI = "https://www.linkedin.com/feed/"
GOOGLE = "https://www.google.com/"
VIEW_CASES = {
    # learner: (views [(viewed_at, referrer, by_owner)], expected (all, by_others, linkedin, linkedin_by_others))
    "view_at_randomization_midnight": ([(utc(2023, 1, 31, 0, 0, 0), GOOGLE, False)], (1, 1, 0, 0)),
    "view_before_randomization": ([(utc(2023, 1, 30, 23, 59, 59), LI, False)], (0, 0, 0, 0)),
    "view_last_second_of_as_of": ([(utc(2023, 9, 30, 23, 59, 59), LI, False)], (1, 1, 1, 1)),
    "view_after_as_of": ([(utc(2023, 10, 1, 0, 0, 0), LI, False)], (0, 0, 0, 0)),
    "owner_views_only": ([(utc(2023, 2, 1), LI, True), (utc(2023, 2, 2), None, True)], (2, 0, 1, 0)),
    "mixed_views": ([(utc(2023, 2, 1), LI, True), (utc(2023, 3, 1), "https://lnkd.in/eXyZ12a", False),
                     (utc(2023, 3, 2), GOOGLE, False), (utc(2023, 3, 3), "", False)], (4, 3, 2, 1)),
    "no_views": ([], (0, 0, 0, 0)),
}

LOGIN_CASES = {
    # learner: (session starts, expected logged_in_after_randomization); window (R 00:00, R + 30 days 00:00]
    "login_at_randomization_midnight": ([utc(2023, 1, 31, 0, 0, 0)], 0),
    "login_one_second_after": ([utc(2023, 1, 31, 0, 0, 1)], 1),
    "login_last_instant_of_window": ([utc(2023, 3, 2, 0, 0, 0)], 1),
    "login_after_window": ([utc(2023, 3, 2, 0, 0, 1)], 0),
    "login_before_randomization": ([utc(2023, 1, 20)], 0),
    "no_login": ([], 0),
}

COVARIATE_CASES = {
    # learner: (learner records [(dt, updated_at, country, education_level, gender, linkedin_url)],
    #           expected (developing_country, education_level, gender, has_linkedin_url))
    # Randomized R = 2023-01-31: the version in force is the latest with updated_at <= 2023-01-31 23:59:59 UTC.
    "updated_on_later_day": (
        [(date(2022, 12, 1), utc(2022, 12, 1), "USA", "bachelor degree", "female", None),
         (date(2023, 1, 15), utc(2023, 1, 15), "Brazil", None, "female", "https://www.linkedin.com/in/a")],
        (1, "not mentioned", "female", 1)),
    "old_record_redelivered_later": (
        [(date(2023, 1, 20), utc(2023, 1, 20), "Germany", "masters degree", "male", None),
         (date(2023, 3, 1), utc(2023, 1, 1), "India", "high school diploma", "other", None)],
        (0, "masters degree", "male", 0)),
    "version_at_last_second_of_randomization_day": (
        [(date(2022, 6, 1), utc(2022, 6, 1), "USA", None, None, None),
         (date(2023, 2, 1), utc(2023, 1, 31, 23, 59, 59), "Brazil", "bachelor degree", "male", "linkedin.com/in/last-second")],
        (1, "bachelor degree", "male", 1)),
    "version_at_midnight_after_randomization_day": (
        [(date(2022, 6, 1), utc(2022, 6, 1), "USA", "bachelor degree", "female", None),
         (date(2023, 2, 1), utc(2023, 2, 1, 0, 0, 0), "Brazil", "masters degree", "male", "linkedin.com/in/midnight")],
        (0, "bachelor degree", "female", 0)),
    "url_given_on_randomization_day": (
        [(date(2022, 6, 1), utc(2022, 6, 1), "India", None, None, None),
         (date(2023, 1, 31), utc(2023, 1, 31, 12), "India", None, None, "https://www.linkedin.com/in/on-the-day")],
        (1, "not mentioned", "not mentioned", 1)),
    "url_given_after_randomization": (
        [(date(2022, 6, 1), utc(2022, 6, 1), "India", None, None, None),
         (date(2023, 3, 1), utc(2023, 3, 1), "India", None, None, "https://www.linkedin.com/in/late")],
        (1, "not mentioned", "not mentioned", 0)),
    # Every version after the randomization day: the earliest is taken (and counted); its URL is not in force.
    "no_version_by_randomization": (
        [(date(2023, 5, 1), utc(2023, 5, 1), "Germany", "masters degree", "male", "https://www.linkedin.com/in/nv2"),
         (date(2023, 2, 10), utc(2023, 2, 10), "India", "high school diploma", "other", "https://www.linkedin.com/in/nv1")],
        (1, "high school diploma", "other", 0)),
    "country_turkiye": ([(AS_OF, utc(2023, 1, 1), "Türkiye", None, None, "   ")], (0, "not mentioned", "not mentioned", 0)),
    "country_korea_variant": ([(AS_OF, utc(2023, 1, 1), "Korea, Republic of", None, None, "")], (0, "not mentioned", "not mentioned", 0)),
    "country_iso_code_developing": ([(AS_OF, utc(2023, 1, 1), "br", None, None, None)], (1, "not mentioned", "not mentioned", 0)),
    "country_unknown": ([(AS_OF, utc(2023, 1, 1), "Atlantis", None, None, None)], (None, "not mentioned", "not mentioned", 0)),
    "country_missing": ([(AS_OF, utc(2023, 1, 1), None, None, None, None)], (None, "not mentioned", "not mentioned", 0)),
    "no_learner_record": ([], (None, "not mentioned", "not mentioned", 0)),
}


@pytest.fixture(scope="module")
def platform(spark):
    """All platform-side cases in one small set of bronze tables, and the learner_outcomes_full table of them."""
    learners_ids = [*STUDY_CERTIFICATE_CASES, *VIEW_CASES, *LOGIN_CASES, *COVARIATE_CASES]
    assignments = [{"learner_id": learner, "randomized_at": R, "arm": "treatment" if i % 2 else "control"}
                   for i, learner in enumerate(learners_ids)]
    # Not randomized in this experiment: another experiment's learner gets no row.
    assignments.append({"learner_id": "other_experiment", "randomized_at": R, "experiment_id": "another"})
    # A re-delivered assignment (same key, later export day): one row, the later delivery.
    assignments.append({"learner_id": "cert_mid_month", "randomized_at": R, "arm": "control", "batch": 2,
                        "dt": date(2023, 2, 1)})
    assignments[0]["dt"] = date(2023, 1, 31)

    certificates = []
    for learner, (certs, _) in STUDY_CERTIFICATE_CASES.items():
        certificates += [{"certificate_id": cid, "learner_id": learner, "granted_at": at} for cid, at in certs]
    # The same certificate re-delivered on a later export day counts once.
    certificates.append({"certificate_id": "CMID", "learner_id": "cert_mid_month", "granted_at": utc(2023, 1, 15, 12),
                         "dt": date(2023, 2, 1)})
    views = []
    for learner, (learner_views, _) in VIEW_CASES.items():
        certificates.append({"certificate_id": f"V_{learner}", "learner_id": learner, "granted_at": utc(2023, 1, 10)})
        # A view of another certificate of the same learner never counts.
        certificates.append({"certificate_id": f"OTHER_{learner}", "learner_id": learner, "granted_at": utc(2022, 6, 1)})
        views.append({"view_id": f"other-{learner}", "certificate_id": f"OTHER_{learner}", "viewed_at": utc(2023, 2, 1),
                      "referrer": LI})
        for n, (at, referrer, owner) in enumerate(learner_views):
            views.append({"view_id": f"{learner}-{n}", "certificate_id": f"V_{learner}", "viewed_at": at,
                          "referrer": referrer, "by_owner": owner})
    # A view re-delivered on a later export day counts once.
    views.append({"view_id": "mixed_views-0", "certificate_id": "V_mixed_views", "viewed_at": utc(2023, 2, 1),
                  "referrer": LI, "by_owner": True, "dt": date(2023, 2, 2)})
    sessions = [{"learner_id": learner, "started_at": at} for learner, (starts, _) in LOGIN_CASES.items()
                for at in starts]
    learner_rows = []
    for learner, (records, _) in COVARIATE_CASES.items():
        for dt, updated, country, education, gender, url in records:
            learner_rows.append({"learner_id": learner, "dt": dt, "updated_at": updated, "country": country,
                                 "education_level": education, "gender": gender, "linkedin_url": url})
    tables = {
        "assignments": bronze(spark, "experiment_assignments", assignments),
        "learners": bronze(spark, "learners", learner_rows),
        "certificates": bronze(spark, "certificates", certificates),
        "views": bronze(spark, "certificate_views", views),
        "sessions": bronze(spark, "app_sessions", sessions),
        "skills": empty(spark, "skill_scores"),
    }
    randomized = features.randomized_learners(tables["assignments"], EXPERIMENT)
    full = features.plan_learner_outcomes_full(
        randomized, features.learner_covariates(tables["learners"], randomized), tables["certificates"],
        tables["views"], tables["sessions"], tables["skills"], as_of=AS_OF,
    )
    return {"tables": tables, "full": full, "rows": rows_by_learner(full), "randomized": randomized}


def test_full_table_has_one_row_per_randomized_learner_and_the_contract_schema(platform):
    full = platform["full"]
    assert _shape(full.schema) == _shape(contracts.LEARNER_OUTCOMES_FULL_SCHEMA)
    expected_ids = {*STUDY_CERTIFICATE_CASES, *VIEW_CASES, *LOGIN_CASES, *COVARIATE_CASES}
    assert sorted(platform["rows"]) == sorted(expected_ids)
    assert full.count() == len(expected_ids)  # the re-delivered assignment is one row


def test_assignment_columns_take_the_latest_delivery(platform):
    row = platform["rows"]["cert_mid_month"]
    assert (row.batch, row.treatment, row.randomized_at, row.stratum) == (2, 0, R, "s1")
    assert platform["rows"]["cert_first_second_of_month"].treatment == 1


@pytest.mark.parametrize("learner", list(STUDY_CERTIFICATE_CASES))
def test_study_certificate(platform, learner):
    expected = STUDY_CERTIFICATE_CASES[learner][1]
    row = platform["rows"][learner]
    assert row.certificate_id == expected
    if expected is None:
        assert (row.primary_domain, row.credential_type, row.count_views_all, row.views_all) == (None, None, 0, 0)
    else:
        assert (row.primary_domain, row.credential_type) == ("Data Science", "Course")


def test_study_certificates_exact(spark, platform):
    tables = platform["tables"]
    randomized = features.randomized_learners(tables["assignments"], EXPERIMENT)
    actual = features.study_certificates(tables["certificates"], randomized).where(
        F.col("learner_id").isin(*STUDY_CERTIFICATE_CASES)).select("learner_id", "certificate_id")
    expected = spark.createDataFrame(
        [(learner, cid) for learner, (_, cid) in STUDY_CERTIFICATE_CASES.items() if cid is not None],
        "learner_id string, certificate_id string")
    assertDataFrameEqual(actual, expected)


@pytest.mark.parametrize("learner", list(VIEW_CASES))
def test_view_counts_and_flags(platform, learner):
    row = platform["rows"][learner]
    counts = VIEW_CASES[learner][1]
    assert (row.count_views_all, row.count_views_by_others, row.count_views_linkedin,
            row.count_views_linkedin_by_others) == counts
    assert (row.views_all, row.views_all_by_others, row.views_linkedin, row.views_linkedin_by_others) == tuple(
        int(c > 0) for c in counts)


def test_view_counts_exact(spark, platform):
    tables = platform["tables"]
    randomized = features.randomized_learners(tables["assignments"], EXPERIMENT)
    study = features.study_certificates(tables["certificates"], randomized)
    actual = features.view_counts(tables["views"], study, as_of=AS_OF).where(F.col("learner_id").isin(*VIEW_CASES))
    expected = spark.createDataFrame(
        [(learner, *counts, *(int(c > 0) for c in counts)) for learner, (_, counts) in VIEW_CASES.items()],
        "learner_id string, count_views_all long, count_views_by_others long, count_views_linkedin long, "
        "count_views_linkedin_by_others long, views_all int, views_all_by_others int, views_linkedin int, "
        "views_linkedin_by_others int")
    assertDataFrameEqual(actual, expected)


def test_view_counts_only_viewed_keeps_exactly_the_learners_with_a_view(platform):
    tables = platform["tables"]
    randomized = features.randomized_learners(tables["assignments"], EXPERIMENT)
    study = features.study_certificates(tables["certificates"], randomized)
    dense = features.view_counts(tables["views"], study, as_of=AS_OF)
    assertDataFrameEqual(features.view_counts(tables["views"], study, as_of=AS_OF, only_viewed=True),
                         dense.where(F.col("count_views_all") > 0))


REFERRER_CASES = [
    ("https://www.linkedin.com/", True),
    ("https://linkedin.com/", True),
    ("http://www.linkedin.com/notifications/", True),
    ("https://br.linkedin.com/", True),
    ("https://in.linkedin.com/feed/", True),
    ("https://m.linkedin.com/", True),
    ("HTTPS://WWW.LINKEDIN.COM/FEED/", True),
    ("www.linkedin.com/feed/", True),
    ("https://www.linkedin.com:443/feed/", True),
    ("  https://www.linkedin.com/  ", True),
    ("https://lnkd.in/eXyZ12a", True),
    ("android-app://com.linkedin.android/", True),
    ("android-app://com.linkedin.android", True),
    (None, False),
    ("", False),
    ("https://notlinkedin.com/", False),
    ("https://linkedin.com.evil.io/", False),
    ("https://www.google.com/url?q=https://www.linkedin.com/in/someone", False),
    ("https://www.bing.com/search?q=linkedin+coursera", False),
    ("https://www.linkedin.com@evil.example/", False),
    ("android-app://com.google.android.gm/", False),
    ("https://lnkd.in.evil.example/", False),
    ("https://www.facebook.com/", False),
]


@pytest.fixture(scope="module")
def referrer_results(spark):
    frame = spark.createDataFrame([(i, referrer) for i, (referrer, _) in enumerate(REFERRER_CASES)],
                                  "case int, referrer string")
    return {row.case: row.linkedin
            for row in frame.select("case", features.is_linkedin_referrer("referrer").alias("linkedin")).collect()}


@pytest.mark.parametrize("case", range(len(REFERRER_CASES)), ids=[repr(r) for r, _ in REFERRER_CASES])
def test_linkedin_referrer_forms(referrer_results, case):
    assert referrer_results[case] is REFERRER_CASES[case][1]


@pytest.mark.parametrize("learner", list(LOGIN_CASES))
def test_logged_in_after_randomization(platform, learner):
    assert platform["rows"][learner].logged_in_after_randomization == LOGIN_CASES[learner][1]


def test_logged_in_exact(spark, platform):
    tables = platform["tables"]
    randomized = features.randomized_learners(tables["assignments"], EXPERIMENT).where(
        F.col("learner_id").isin(*LOGIN_CASES))
    actual = features.logged_in_after_randomization(tables["sessions"], randomized)
    expected = spark.createDataFrame([(learner, flag) for learner, (_, flag) in LOGIN_CASES.items()],
                                     "learner_id string, logged_in_after_randomization int")
    assertDataFrameEqual(actual, expected)


def test_logged_in_only_logged_in_keeps_exactly_the_learners_who_logged_in(platform):
    tables = platform["tables"]
    randomized = features.randomized_learners(tables["assignments"], EXPERIMENT)
    dense = features.logged_in_after_randomization(tables["sessions"], randomized)
    assertDataFrameEqual(features.logged_in_after_randomization(tables["sessions"], randomized, only_logged_in=True),
                         dense.where(F.col("logged_in_after_randomization") == 1))


@pytest.mark.parametrize("learner", list(COVARIATE_CASES))
def test_covariates_from_the_latest_learner_record(platform, learner):
    row = platform["rows"][learner]
    assert (row.developing_country, row.education_level, row.gender, row.has_linkedin_url) == COVARIATE_CASES[learner][1]


def test_covariates_as_of_randomization_exact(spark, platform):
    """The version in force at the end of the randomization day, its URL, the fallback to the earliest version."""
    covariates = features.learner_covariates(platform["tables"]["learners"], platform["randomized"]).where(
        F.col("learner_id").isin("version_at_last_second_of_randomization_day",
                                 "version_at_midnight_after_randomization_day", "url_given_on_randomization_day",
                                 "url_given_after_randomization", "no_version_by_randomization"))
    expected = spark.createDataFrame([
        ("version_at_last_second_of_randomization_day", "Brazil", 1, "bachelor degree", "male", 1,
         "linkedin.com/in/last-second", None, False, False),
        ("version_at_midnight_after_randomization_day", "USA", 0, "bachelor degree", "female", 0, None, None, False,
         True),
        ("url_given_on_randomization_day", "India", 1, "not mentioned", "not mentioned", 1,
         "linkedin.com/in/on-the-day", None, False, False),
        ("url_given_after_randomization", "India", 1, "not mentioned", "not mentioned", 0, None, None, False, True),
        ("no_version_by_randomization", "India", 1, "high school diploma", "other", 0, None, None, True, True),
    ], "learner_id string, country string, developing_country int, education_level string, gender string, "
       "has_linkedin_url int, linkedin_url_normalized string, later_url_normalized string, "
       "no_version_by_randomization boolean, url_given_after_randomization boolean")
    assertDataFrameEqual(covariates.select(*expected.columns), expected)


# Learners randomized on R whose URL changed (or appeared) after randomization: (versions [(updated_at, url)],
# fetched profile slugs [(slug, status)], expected (match, matched URL, url_match)).
URL_CHANGE_CASES = {
    "moved_old_fetched": ([(utc(2022, 6, 1), "linkedin.com/in/old-a"), (utc(2023, 5, 1), "linkedin.com/in/new-a")],
                          [("old-a", "ok"), ("new-a", "ok")], ("matched", "linkedin.com/in/old-a", "at_randomization")),
    "moved_old_not_fetched": ([(utc(2022, 6, 1), "linkedin.com/in/old-b"), (utc(2023, 5, 1), "linkedin.com/in/new-b")],
                              [("new-b", "partial")], ("matched", "linkedin.com/in/new-b", "later_url")),
    "moved_old_failed": ([(utc(2022, 6, 1), "linkedin.com/in/old-c"), (utc(2023, 5, 1), "linkedin.com/in/new-c")],
                         [("old-c", "authwall"), ("new-c", "ok")], ("matched", "linkedin.com/in/new-c", "later_url")),
    "moved_neither_fetched": ([(utc(2022, 6, 1), "linkedin.com/in/old-d"), (utc(2023, 5, 1), "linkedin.com/in/new-d")],
                              [], ("not_fetched", None, None)),
    "url_first_given_later": ([(utc(2022, 6, 1), None), (utc(2023, 5, 1), "linkedin.com/in/late-e")],
                              [("late-e", "ok")], ("no_url", None, None)),
    "only_versions_after": ([(utc(2023, 3, 1), "linkedin.com/in/after-f")], [("after-f", "ok")], ("no_url", None, None)),
    "steady_url": ([(utc(2022, 6, 1), "linkedin.com/in/steady-g"), (utc(2023, 5, 1), "linkedin.com/in/steady-g")],
                   [("steady-g", "ok")], ("matched", "linkedin.com/in/steady-g", "at_randomization")),
}


def test_profile_match_uses_the_url_at_randomization_then_the_later_url(spark):
    assignments, learners, profiles = [], [], []
    for learner, (versions, fetched, _) in URL_CHANGE_CASES.items():
        assignments.append({"learner_id": learner, "randomized_at": R})
        learners += [{"learner_id": learner, "updated_at": at, "linkedin_url": url} for at, url in versions]
        profiles += [{"url": f"https://www.linkedin.com/in/{slug}", "normalized": f"linkedin.com/in/{slug}",
                      "status": status} for slug, status in fetched]
    randomized = features.randomized_learners(bronze(spark, "experiment_assignments", assignments), EXPERIMENT)
    covariates = features.learner_covariates(bronze(spark, "learners", learners), randomized)
    silver_profiles = silver(spark, profiles)["profiles"]
    matches = features.profile_matches(randomized, covariates, silver_profiles)
    expected = spark.createDataFrame([(learner, *case[2]) for learner, case in URL_CHANGE_CASES.items()],
                                     "learner_id string, match string, profile_url_normalized string, url_match string")
    assertDataFrameEqual(matches.select(*expected.columns), expected)
    report = features.match_report(matches, silver_profiles).where(F.col("subject").isin("url_at_randomization",
                                                                                           "learner_version"))
    assertDataFrameEqual(report, spark.createDataFrame([
        ("learner_version", "no_version_by_randomization", 1),
        ("url_at_randomization", "changed:matched_at_randomization", 1),
        ("url_at_randomization", "changed:matched_later_url", 2),
        ("url_at_randomization", "changed:unmatched", 1),
        ("url_at_randomization", "given_after_randomization", 2),
    ], features.PROFILE_MATCH_REPORT_SCHEMA))


def test_main_skill_ties_latest_measurement_and_standardization(spark):
    scores = bronze(spark, "skill_scores", [
        {"learner_id": "tie", "skill": "sql", "score": 0.5},
        {"learner_id": "tie", "skill": "python", "score": 0.5},  # tie: alphabetical wins
        {"learner_id": "sql_high", "skill": "sql", "score": 0.9},
        {"learner_id": "remeasured", "skill": "r", "score": 0.9, "measured_at": utc(2022, 6, 1)},
        {"learner_id": "remeasured", "skill": "r", "score": 0.2, "measured_at": utc(2023, 1, 1)},  # latest wins
        {"learner_id": "remeasured", "skill": "excel", "score": 0.3},
        {"learner_id": "python_low", "skill": "python", "score": 0.3},
        {"learner_id": "zero", "skill": "typing", "score": 0.0},  # max 0: standardized undefined
        # Randomized R = 2023-01-31: the last second of the day counts, the next midnight does not (neither for
        # the learner nor for the skill's mean and max).
        {"learner_id": "late_high", "skill": "python", "score": 0.2, "measured_at": utc(2023, 1, 31, 23, 59, 59)},
        {"learner_id": "late_high", "skill": "python", "score": 1.0, "measured_at": utc(2023, 2, 1, 0, 0, 0)},
        {"learner_id": "only_after", "skill": "sql", "score": 0.99, "measured_at": utc(2023, 3, 1)},
        {"learner_id": "not_randomized", "skill": "sql", "score": 0.1},
    ])
    randomized = spark.createDataFrame(
        [(learner, R) for learner in ("tie", "sql_high", "remeasured", "python_low", "zero", "late_high", "only_after")],
        "learner_id string, randomized_at date")
    python_mean = (0.5 + 0.3 + 0.2) / 3
    expected = spark.createDataFrame([
        ("tie", "python", 0.5, (0.5 - python_mean) / 0.5),
        ("sql_high", "sql", 0.9, (0.9 - 0.7) / 0.9),
        ("remeasured", "excel", 0.3, 0.0),
        ("python_low", "python", 0.3, (0.3 - python_mean) / 0.5),
        ("zero", "typing", 0.0, None),
        ("late_high", "python", 0.2, (0.2 - python_mean) / 0.5),
    ], "learner_id string, main_skill string, main_skill_score double, main_skill_standardized double")
    assertDataFrameEqual(features.plan_main_skill(scores, randomized), expected)


RANDOMIZED_JOINS = {
    "study_certificates": lambda tables, randomized: features.study_certificates(tables["certificates"], randomized),
    "logged_in_after_randomization":
        lambda tables, randomized: features.logged_in_after_randomization(tables["sessions"], randomized),
}


@pytest.mark.parametrize("branch", list(RANDOMIZED_JOINS))
def test_randomized_learners_are_joined_by_a_shuffle_never_broadcast(platform, branch):
    # The randomized learners are the whole population, which Spark sizes from their source files; these are tiny,
    # so the plan would broadcast them unless told not to.
    tables, derive = platform["tables"], RANDOMIZED_JOINS[branch]
    joined = derive(tables, features.plan_randomized_learners(tables["assignments"], EXPERIMENT))
    rows = joined.collect()
    plan = joined._jdf.queryExecution().executedPlan().toString()  # the adaptive plan: initial and final
    assert "SortMergeJoin" in plan
    assert "Broadcast" not in plan
    assertDataFrameEqual(rows, derive(tables, platform["randomized"]))


def _key_length(key: str | None) -> tuple:
    return (None if key is None else len(key),)


def _keys(spark):
    """Five rows with keys "0", null, "222", null, "44444": from spark.range, so no row starts on the driver."""
    return spark.range(5).selectExpr("id", "CASE WHEN id % 2 = 0 THEN repeat(string(id), int(id) + 1) END AS key")


@pytest.mark.parametrize("max_broadcast_rows, broadcast", [(100, True), (2, False)])
def test_lookup_classifies_each_distinct_key_on_the_executors(spark, monkeypatch, max_broadcast_rows, broadcast):
    from pyspark.sql.types import IntegerType, StructField, StructType

    from jobs.features import columns

    monkeypatch.setattr(columns, "LOOKUP_BROADCAST_MAX_ROWS", max_broadcast_rows)
    looked_up = columns.lookup(_keys(spark), ["key"], _key_length, StructType([StructField("length", IntegerType())]))
    assertDataFrameEqual(looked_up, spark.createDataFrame(
        [(0, "0", 1), (1, None, None), (2, "222", 3), (3, None, None), (4, "44444", 5)], "id long, key string, length int"))
    analyzed = looked_up._jdf.queryExecution().analyzed().toString()
    # The keys' results come from a checkpoint the executors wrote, not from rows the driver sent (a local relation).
    assert "LocalRelation" not in analyzed and "LogicalRDD" in analyzed
    # Three distinct keys (null is one): broadcast only under the limit.
    assert ("strategy=broadcast" in analyzed) == broadcast


# ------------------------------------------------------------------------------------------------ LinkedIn cases
# One learner per case, each with a profile (unless said otherwise). Defaults: randomized R (2023-01-31), country
# Brazil, study certificate S_<learner> named "Python for Everybody".

NEW_JOB_CASES = {
    # learner: (randomized_at, positions [(title, company, start)], expected
    #           (new_job, new_job_4m, new_job_in_scope, new_job_in_scope_4m, months_to_new_job, months_to_in_scope,
    #           months_to_new_job_4m, months_to_in_scope_4m))
    "start_in_randomization_month": (R, [("Software Engineer", "Acme", "2023-01")], (0, 0, 0, 0, None, None, None, None)),
    "start_next_month": (R, [("Software Engineer", "Acme", "2023-02")], (1, 0, 1, 0, 1, 1, None, None)),
    "start_day_after_month_end": (date(2022, 11, 30), [("Software Engineer", "Acme", "2022-12")], (1, 0, 1, 0, 1, 1, None, None)),
    "start_three_months_after": (R, [("Software Engineer", "Acme", "2023-04")], (1, 0, 1, 0, 3, 3, None, None)),
    "start_four_months_after": (R, [("Software Engineer", "Acme", "2023-05")], (1, 1, 1, 1, 4, 4, 4, 4)),
    "start_in_as_of_month": (R, [("Software Engineer", "Acme", "2023-09")], (1, 1, 1, 1, 8, 8, 8, 8)),
    "start_after_as_of": (R, [("Software Engineer", "Acme", "2023-10")], (0, 0, 0, 0, None, None, None, None)),
    "year_only_start_next_year": (date(2022, 12, 31), [("Software Engineer", "Acme", "2023")], (1, 0, 1, 0, 1, 1, None, None)),
    "year_only_start_same_year": (R, [("Software Engineer", "Acme", "2023")], (0, 0, 0, 0, None, None, None, None)),
    "new_job_not_in_scope": (R, [("Cashier", "Shop", "2023-03")], (1, 0, 0, 0, 2, None, None, None)),
    "in_scope_after_other": (R, [("Cashier", "Shop", "2023-02"), ("Software Engineer", "Acme", "2023-06")],
                             (1, 1, 1, 1, 1, 5, 5, 5)),
    "same_employer_new_role": (R, [("Data Analyst", "Acme", "2021-01"), ("Senior Data Analyst", "Acme", "2023-03")],
                               (1, 0, 1, 0, 2, 2, None, None)),
    "grouped_roles_one_employer": (R, [("Junior Developer", "Acme", "2020-01"), ("Developer", "Acme", "2022-06"),
                                       ("Lead Developer", "Acme", "2023-04")], (1, 0, 1, 0, 3, 3, None, None)),
    "missing_start": (R, [("Software Engineer", "Acme", None)], (0, 0, 0, 0, None, None, None, None)),
}

PAST_JOB_CASES = {
    # learner: (positions [(title, company, start)], expected (past_job_in_scope, past_tech_job, past_managerial_job))
    "past_latest_in_scope": ([("Cashier", "Shop", "2019-01"), ("Software Engineer", "Acme", "2021-05")], (1, 1, 0)),
    # Any past position counts for all three (one rule): an earlier in-scope job makes past_job_in_scope 1.
    "past_earlier_in_scope": ([("Software Engineer", "Acme", "2019-01"), ("Cashier", "Shop", "2021-05")], (1, 1, 0)),
    "past_earlier_managerial": ([("Sales Manager", "Acme", "2018-01"), ("Cashier", "Shop", "2021-05")], (1, 0, 1)),
    "past_none_in_scope": ([("Cashier", "Shop", "2018-01"), ("Waiter", "Bar", "2021-05")], (0, 0, 0)),
    "past_in_randomization_month": ([("Cashier", "Shop", "2019-01"), ("Sales Manager", "Acme", "2023-01")], (1, 0, 1)),
    "past_only_after_randomization": ([("Cashier", "Shop", "2020-01"), ("Software Engineer", "Acme", "2023-02")],
                                      (0, 0, 0)),
    "past_year_only_in_randomization_year": ([("Head of Sales", "Acme", "2023")], (1, 0, 1)),
}

CAREER_CASES = {
    # learner: (positions [(title, company, start)], expected career_outcome). Experiment start: 2022-09.
    "career_new_internship": ([("Cashier", "Shop", "2020-01"), ("Marketing Intern", "Acme", "2022-10")], "new_internship"),
    "career_new_employer": ([("Cashier", "Shop", "2020-01"), ("Software Engineer", "Acme", "2023-03")], "new_job"),
    "career_promotion_same_employer": ([("Analyst", "Acme Ltd.", "2020-01"), ("Senior Analyst", "ACME", "2022-09")],
                                       "promotion"),
    "career_promotion_fuzzy_employer": ([("Analyst", "Banco Itaú S.A.", "2020-01"),
                                         ("Gerente de Projetos", "Banco Itau", "2023-02")], "promotion"),
    "career_started_before_experiment": ([("Cashier", "Shop", "2020-01"), ("Software Engineer", "Acme", "2022-08")],
                                         "none"),
    "career_first_job": ([("Software Engineer", "Acme", "2022-11")], "new_job"),
    # Randomized in 2023-06: new_job 0 (start in 2023-03) but career_outcome uses the experiment start.
    "career_new_job_before_randomization": ([("Cashier", "Shop", "2019-01"), ("Developer", "Acme", "2023-03")], "new_job"),
}
CAREER_RANDOMIZED = {"career_new_job_before_randomization": date(2023, 6, 30)}

EXPERIENCE_CASES = {
    # learner: (positions [(title, company, start)], expected professional_experience_years to 2023-08)
    "experience_from_earliest_start": ([("Developer", "Acme", "2021-08"), ("Cashier", "Shop", "2019-02")], 4.5),
    "experience_year_only": ([("Developer", "Acme", "2020")], (2023 * 12 + 7 - 2020 * 12) / 12),
    "experience_start_after_reference": ([("Developer", "Acme", "2023-09")], 0.0),
}

EDUCATION_CASES = {
    # learner: (education [(school, degree, start_year, end_year)], expected
    #           (level, has_degree, bachelor, master, doctor, currently_enrolled, years_since_latest_degree))
    "degree_bachelor_and_master": ([("Escola Local", "Bachelor of Science", "2010", "2014"),
                                    ("Escola Local", "MSc", "2015", "2017")], ("master", 1, 0, 1, 0, 0, 6)),
    "degree_doctor": ([("Escola Local", "PhD in Physics", "2015", "2020")], ("doctor", 1, 0, 0, 1, 0, 3)),
    "degree_mathematics_is_not_ma": ([("Escola Local", "Mathematics", "2015", "2019")], ("none", 0, 0, 0, 0, 0, None)),
    "degree_enrolled_ends_as_of_year": ([("Escola Local", "Licenciatura en Economía", "2019", "2023")],
                                        ("bachelor", 1, 1, 0, 0, 1, 0)),
    "degree_ends_in_future_floor_zero": ([("Escola Local", "BSc", "2021", "2025")], ("bachelor", 1, 1, 0, 0, 1, 0)),
    "degree_ended_last_year_not_enrolled": ([("Escola Local", "BSc", "2018", "2022")], ("bachelor", 1, 1, 0, 0, 0, 1)),
    "degree_latest_is_not_the_latest_entry": ([("Escola Local", "BSc", "2012", "2016"),
                                               ("Escola Local", "High School Diploma", "2019", "2020")],
                                              ("bachelor", 1, 1, 0, 0, 0, 7)),
    "degree_without_years": ([("Escola Local", "Bachelor of Arts", None, None)], ("bachelor", 1, 1, 0, 0, 0, None)),
    "degree_no_education": ([], ("none", 0, 0, 0, 0, 0, None)),
}

CREDENTIAL_CASES = {
    # learner: (certifications [(name, issuer, credential_id, credential_url)], expected (shared, shared_by_name)).
    # The study certificate ID of each case is S<index>ABCD1234 (see _study_id).
    "credential_exact_id": ([("Python for Everybody", "Coursera", "{id}", None)], (1, 0)),
    "credential_lower_case_id": ([("Python", "Coursera", "{id_lower}", None)], (1, 0)),
    "credential_spaced_id": ([("Python", "Coursera", "{id_spaced}", None)], (1, 0)),
    "credential_hyphenated_id": ([("Python", "Coursera", "{id_hyphens}", None)], (1, 0)),
    "credential_id_only_in_url": ([("Python", "Coursera", None, "https://www.coursera.org/account/accomplishments/verify/{id}?utm_source=link")],
                                  (1, 0)),
    "credential_id_in_linkedin_redirect": ([("Python", "Coursera", None,
                                             "https://www.linkedin.com/redir/redirect?url=https%3A%2F%2Fcoursera.org%2Fverify%2F{id}")],
                                           (1, 0)),
    "credential_other_id": ([("Python for Everybody", "Coursera", "ZZZZ9999ZZZZ", None)], (0, 0)),
    "credential_by_name_only": ([("Python for Everybody", "Coursera", None, None)], (0, 1)),
    "credential_by_name_other_issuer": ([("Python for Everybody", "Udemy", None, None)], (0, 0)),
    "credential_id_and_name": ([("Python for Everybody", "Coursera", None, None), ("Python", "Coursera", "{id}", None)],
                               (1, 0)),
    "credential_none_on_profile": ([], (0, 0)),
}

LINKEDIN_CASES = [*NEW_JOB_CASES, *PAST_JOB_CASES, *CAREER_CASES, *EXPERIENCE_CASES, *EDUCATION_CASES,
                  *CREDENTIAL_CASES, "no_positions", "no_study_certificate"]


def _study_id(learner: str) -> str:
    return f"S{LINKEDIN_CASES.index(learner):03d}ABCD1234"


def _credential_text(template: str | None, study_id: str) -> str | None:
    if template is None:
        return None
    spaced = " ".join(study_id[i:i + 4] for i in range(0, len(study_id), 4))
    return template.format(id=study_id, id_lower=study_id.lower(), id_spaced=spaced, id_hyphens=spaced.replace(" ", "-"))


def _url(learner: str, form: str = "https://www.linkedin.com/in/{slug}") -> str:
    return form.format(slug=learner.replace("_", "-"))


@pytest.fixture(scope="module")
def linkedin(spark):
    """Every LinkedIn case in one input; learner_outcomes_full + learner_outcomes_linkedin derived once."""
    assignments, learners, certificates, profiles = [], [], [], []
    url_forms = ["https://www.linkedin.com/in/{slug}", "http://br.linkedin.com/in/{slug}/", "https://m.linkedin.com/in/{slug}?trk=x",
                 "linkedin.com/in/{slug}", "www.linkedin.com/in/{slug}#top"]
    for i, learner in enumerate(LINKEDIN_CASES):
        randomized = NEW_JOB_CASES.get(learner, (R,))[0] if learner in NEW_JOB_CASES else CAREER_RANDOMIZED.get(learner, R)
        assignments.append({"learner_id": learner, "randomized_at": randomized})
        learners.append({"learner_id": learner, "country": "Brazil", "linkedin_url": _url(learner, url_forms[i % 5])})
        if learner != "no_study_certificate":
            granted = datetime(randomized.year, randomized.month, 5, tzinfo=timezone.utc)
            certificates.append({"certificate_id": _study_id(learner), "learner_id": learner, "granted_at": granted})
        positions = []
        if learner in NEW_JOB_CASES:
            positions = NEW_JOB_CASES[learner][1]
        for cases in (PAST_JOB_CASES, CAREER_CASES, EXPERIENCE_CASES):
            if learner in cases:
                positions = cases[learner][0]
        # Profiles list the most recent position first.
        rendered = [(title, company, start, None) for title, company, start in reversed(positions)]
        education = EDUCATION_CASES.get(learner, ([],))[0]
        certifications = [(name, issuer, _credential_text(cid, _study_id(learner)), _credential_text(url, _study_id(learner)))
                          for name, issuer, cid, url in CREDENTIAL_CASES.get(learner, ([],))[0]]
        url = _url(learner)
        profiles.append({"url": url, "normalized": f"linkedin.com/in/{learner.replace('_', '-')}",
                         "positions": rendered, "education": education, "certifications": certifications})
    # Profile-match edges: a learner whose only fetch failed, a learner whose older fetch failed but the latest
    # parsed, a learner without URL, and a profile of nobody in the experiment.
    for learner in ("fetch_failed", "refetched_ok", "no_url"):
        assignments.append({"learner_id": learner, "randomized_at": R})
        certificates.append({"certificate_id": f"S_{learner}", "learner_id": learner, "granted_at": utc(2023, 1, 5)})
        learners.append({"learner_id": learner, "country": "Brazil",
                         "linkedin_url": None if learner == "no_url" else _url(learner)})
    profiles.append({"url": _url("fetch_failed"), "normalized": "linkedin.com/in/fetch-failed", "status": "authwall"})
    profiles.append({"url": _url("refetched_ok"), "normalized": "linkedin.com/in/refetched-ok", "status": "authwall",
                     "fetched_at": utc(2023, 9, 1)})
    profiles.append({"url": _url("refetched_ok"), "normalized": "linkedin.com/in/refetched-ok", "status": "partial",
                     "fetched_at": utc(2023, 9, 20)})
    profiles.append({"url": _url("stranger"), "normalized": "linkedin.com/in/stranger"})

    tables = silver(spark, profiles)
    bronze_tables = {
        "assignments": bronze(spark, "experiment_assignments", assignments),
        "learners": bronze(spark, "learners", learners),
        "certificates": bronze(spark, "certificates", certificates),
    }
    randomized = features.randomized_learners(bronze_tables["assignments"], EXPERIMENT)
    covariates = features.learner_covariates(bronze_tables["learners"], randomized)
    full = features.plan_learner_outcomes_full(
        randomized, covariates, bronze_tables["certificates"],
        empty(spark, "certificate_views"), empty(spark, "app_sessions"), empty(spark, "skill_scores"), as_of=AS_OF,
    ).cache()
    matches = features.profile_matches(full.select("learner_id"), covariates, tables["profiles"])
    table = features.plan_learner_outcomes_linkedin(
        full, matches, bronze_tables["certificates"], tables["profile_positions"], tables["profile_education"],
        tables["profile_certifications"], as_of=AS_OF,
    )
    report = features.match_report(matches, tables["profiles"])
    rows = rows_by_learner(table)
    report_rows = {(r.subject, r.outcome): r["count"] for r in report.collect()}
    by_arm = {(r.match, r.treatment): r["count"] for r in features.match_counts_by_arm(matches, full).collect()}
    yield {"table": table, "rows": rows, "report": report_rows, "silver": tables, "bronze": bronze_tables,
           "by_arm": by_arm, "arms": {r.treatment: r["count"] for r in full.groupBy("treatment").count().collect()}}
    full.unpersist()


def test_linkedin_table_rows_and_schema(linkedin):
    assert _shape(linkedin["table"].schema) == _shape(contracts.LEARNER_OUTCOMES_LINKEDIN_SCHEMA)
    # Every case matched (five URL forms), the latest parsed re-fetch matched; no failed fetch, no URL, no stranger.
    assert sorted(linkedin["rows"]) == sorted([*LINKEDIN_CASES, "refetched_ok"])
    assert linkedin["rows"]["refetched_ok"].profile_status == "partial"


def test_profile_match_report(linkedin):
    report = linkedin["report"]
    assert report[("learner", "matched")] == len(LINKEDIN_CASES) + 1
    assert report[("learner", "fetch_failed:authwall")] == 1
    assert report[("learner", "no_url")] == 1
    assert report[("profile", "no_randomized_learner")] == 1


def test_profile_match_counts_by_arm_add_up_to_the_report(linkedin):
    by_arm = linkedin["by_arm"]
    for (subject, outcome), count in linkedin["report"].items():
        if subject == "learner":
            assert sum(n for (match, _), n in by_arm.items() if match == outcome) == count, outcome
    for arm, count in linkedin["arms"].items():
        assert sum(n for (_, treatment), n in by_arm.items() if treatment == arm) == count


@pytest.mark.parametrize("learner", list(NEW_JOB_CASES))
def test_new_job(linkedin, learner):
    row = linkedin["rows"][learner]
    assert (row.new_job, row.new_job_4m, row.new_job_in_scope, row.new_job_in_scope_4m, row.months_to_new_job,
            row.months_to_new_job_in_scope, row.months_to_new_job_4m,
            row.months_to_new_job_in_scope_4m) == NEW_JOB_CASES[learner][2]
    randomized = NEW_JOB_CASES[learner][0]
    assert row.followup_months == (AS_OF.year * 12 + AS_OF.month) - (randomized.year * 12 + randomized.month)


def test_new_jobs_exact(spark, linkedin):
    """new_jobs on the silver positions of the new-job cases, as one exact table."""
    positions = linkedin["silver"]["profile_positions"].withColumn(
        "learner_id", F.regexp_replace(F.regexp_extract("profile_url_normalized", "/in/(.*)$", 1), "-", "_"))
    randomized = spark.createDataFrame([(learner, case[0]) for learner, case in NEW_JOB_CASES.items()],
                                       "learner_id string, randomized_at date")
    actual = features.new_jobs(features.classify_positions(positions.join(randomized, "learner_id")), as_of=AS_OF)
    expected = spark.createDataFrame(
        [(learner, *case[2]) for learner, case in NEW_JOB_CASES.items()],
        "learner_id string, new_job int, new_job_4m int, new_job_in_scope int, new_job_in_scope_4m int, "
        "months_to_new_job int, months_to_new_job_in_scope int, months_to_new_job_4m int, "
        "months_to_new_job_in_scope_4m int")
    assertDataFrameEqual(actual, expected)


@pytest.mark.parametrize("learner", list(PAST_JOB_CASES))
def test_past_jobs(linkedin, learner):
    row = linkedin["rows"][learner]
    assert (row.past_job_in_scope, row.past_tech_job, row.past_managerial_job) == PAST_JOB_CASES[learner][1]


def test_past_job_in_scope_describes_the_same_jobs_as_past_tech_and_managerial(linkedin):
    """Panel B's subsample (past_job_in_scope 0) is exactly the learners with both Table 2 covariates 0."""
    rows = linkedin["rows"].values()
    assert all(r.past_job_in_scope == max(r.past_tech_job, r.past_managerial_job) for r in rows)
    assert {r.past_job_in_scope for r in rows} == {0, 1}


@pytest.mark.parametrize("learner", list(CAREER_CASES))
def test_career_outcome(linkedin, learner):
    assert linkedin["rows"][learner].career_outcome == CAREER_CASES[learner][1]


def test_career_outcome_uses_experiment_start_not_randomization(linkedin):
    row = linkedin["rows"]["career_new_job_before_randomization"]
    assert (row.new_job, row.career_outcome) == (0, "new_job")


@pytest.mark.parametrize("learner", list(EXPERIENCE_CASES))
def test_professional_experience_years(linkedin, learner):
    assert linkedin["rows"][learner].professional_experience_years == pytest.approx(EXPERIENCE_CASES[learner][1])


@pytest.mark.parametrize("learner", list(EDUCATION_CASES))
def test_education_features(linkedin, learner):
    row = linkedin["rows"][learner]
    actual = (row.linkedin_degree_level, row.has_degree_linkedin, row.has_bachelor_linkedin, row.has_master_linkedin,
              row.has_doctor_linkedin, row.currently_enrolled, row.years_since_latest_degree)
    assert actual == EDUCATION_CASES[learner][1]
    assert row.has_bachelor_linkedin + row.has_master_linkedin + row.has_doctor_linkedin == row.has_degree_linkedin


@pytest.mark.parametrize("learner", list(CREDENTIAL_CASES))
def test_credential_shared(linkedin, learner):
    row = linkedin["rows"][learner]
    assert (row.credential_shared, row.credential_shared_by_name) == CREDENTIAL_CASES[learner][1]


def test_learner_with_no_positions(linkedin):
    row = linkedin["rows"]["no_positions"]
    assert (row.new_job, row.new_job_4m, row.new_job_in_scope, row.new_job_in_scope_4m, row.past_job_in_scope,
            row.past_tech_job, row.past_managerial_job) == (0,) * 7
    assert (row.months_to_new_job, row.months_to_new_job_in_scope, row.months_to_new_job_4m,
            row.months_to_new_job_in_scope_4m, row.professional_experience_years) == (None,) * 5
    assert row.career_outcome == "none"


def test_learner_with_no_study_certificate(linkedin):
    row = linkedin["rows"]["no_study_certificate"]
    assert (row.certificate_id, row.credential_shared, row.credential_shared_by_name, row.count_views_all) == (None, 0, 0, 0)


def test_profile_length_excludes_certifications_and_new_jobs(spark):
    matched = spark.createDataFrame([("a", 1000, 120), ("b", 50, 80)],
                                    "learner_id string, profile_length_chars int, length_certifications int")
    positions = spark.createDataFrame([
        ("a", R, date(2023, 3, 1), 200),   # a new job: excluded
        ("a", R, date(2023, 1, 1), 300),   # in the randomization month: kept
        ("b", R, date(2023, 5, 1), 10),
    ], "learner_id string, randomized_at date, start_month date, length_chars int")
    expected = spark.createDataFrame([("a", 680), ("b", 0)], "learner_id string, profile_length_chars int")
    assertDataFrameEqual(features.profile_length(matched, positions, as_of=AS_OF), expected)


def test_education_reference_years_are_arguments_not_as_of(spark):
    education = spark.createDataFrame([
        ("ends_2021", "Brazil", 0, "Escola Local", "BSc", 2021),
        ("ends_2022", "Brazil", 0, "Escola Local", "BSc", 2022),
        ("ends_2031", "Brazil", 0, "Escola Local", "MSc", 2031),
    ], "learner_id string, country string, education_index int, school string, degree string, end_year int")
    paper = features.education_features(education).select("learner_id", "currently_enrolled",
                                                           "years_since_latest_degree")
    assertDataFrameEqual(paper, spark.createDataFrame([("ends_2021", 0, 2), ("ends_2022", 0, 1), ("ends_2031", 1, 0)],
                                                      "learner_id string, currently_enrolled int, "
                                                      "years_since_latest_degree int"))
    shifted = features.education_features(education, enrollment_reference_year=2021, degree_reference_year=2030)
    assertDataFrameEqual(shifted.select("learner_id", "currently_enrolled", "years_since_latest_degree"),
                         spark.createDataFrame([("ends_2021", 0, 9), ("ends_2022", 1, 8), ("ends_2031", 1, 0)],
                                               "learner_id string, currently_enrolled int, "
                                               "years_since_latest_degree int"))


def test_reference_years_come_from_the_environment():
    from credsignal.core.config import Config

    config = Config.from_env({"CREDSIGNAL_ENROLLMENT_REFERENCE_YEAR": "2021", "CREDSIGNAL_DEGREE_REFERENCE_YEAR": "2030"})
    assert (config.enrollment_reference_year, config.degree_reference_year) == (2021, 2030)
    assert (Config().enrollment_reference_year, Config().degree_reference_year) == (2022, 2023)


def test_university_rank_of_the_latest_degree(spark, shared_dir):
    education = spark.createDataFrame([
        ("usp", "Brazil", 0, "Universidade de São Paulo", "Bacharelado em Economia", 2016),
        ("usp", "Brazil", 1, "Harvard University", "High School", 2019),   # later, but not a degree
        ("harvard", "USA", 0, "Harvard Univ.", "MBA", 2020),
        ("unknown", "Brazil", 0, "Escola Técnica Local", "BSc", 2018),
        ("no_degree", "USA", 0, "Harvard University", "Certificate", 2018),
    ], "learner_id string, country string, education_index int, school string, degree string, end_year int")
    actual = features.education_features(education,
                                         cwur_path=str(shared_dir / "reference" / "cwurData.csv"))
    got = {row.learner_id: (row.university_national_rank, row.university_match_score) for row in actual.collect()}
    assert got["usp"] == (1, 100.0)
    assert got["harvard"][0] == 1 and 92.0 <= got["harvard"][1] <= 100.0
    assert got["unknown"] == (None, None)
    assert got["no_degree"] == (None, None)


# ------------------------------------------------------------------------------------------------ helpers, docs

@pytest.mark.parametrize("left, right, same", [
    ("Acme Ltd.", "ACME", True),
    ("Banco Itaú S.A.", "Banco Itau", True),
    ("Nubank", "Nubank Ltda", True),
    ("Acme", "Globex", False),
    ("Acme", None, False),
    (None, None, False),
])
def test_same_employer(left, right, same):
    assert features.same_employer(left, right) is same


def test_local_sessions_list_bronze_day_folders_on_the_driver(spark):
    # One folder per export day: Spark's distributed listing (past 32 folders) cost 16 s at full scale, 2 s here.
    assert spark.conf.get("spark.sql.sources.parallelPartitionDiscovery.threshold") == "100000"


# ------------------------------------------------------------------------------------------------ experiment check

def test_an_experiment_without_assignments_fails_before_any_spark_work(spark, tmp_path):
    from credsignal.core import lake
    from credsignal import pipeline
    from credsignal.core.config import Config

    assignments = bronze(spark, "experiment_assignments", [
        {"learner_id": "a1", "experiment_id": "exp-a", "randomized_at": R, "dt": R},
        {"learner_id": "a2", "experiment_id": "exp-a", "randomized_at": R, "dt": R},
        {"learner_id": "b1", "experiment_id": "exp-b", "randomized_at": R, "dt": R},
        {"learner_id": "c1", "experiment_id": "exp-c", "randomized_at": AS_OF, "dt": AS_OF},
    ])
    assignments.write.partitionBy("dt").parquet(str(lake.bronze_table(tmp_path, "experiment_assignments")))
    assert features.experiment_ids_in_bronze(tmp_path, as_of=AS_OF) == {"exp-a": 2, "exp-b": 1, "exp-c": 1}
    assert features.experiment_ids_in_bronze(tmp_path, as_of=R) == {"exp-a": 2, "exp-b": 1}
    assert features.experiment_ids_in_bronze(tmp_path / "elsewhere", as_of=AS_OF) == {}

    assert pipeline.require_experiment(Config(lake=tmp_path, experiment_id="exp-a"), as_of=AS_OF) == 2
    config = Config(lake=tmp_path, experiment_id="exp-typo")
    # spark=None: the check needs no session, and fails before the feature job would start one.
    with pytest.raises(pipeline.ExperimentNotFound) as failure:
        pipeline.derive_features(None, config, run_id="r1", as_of=R)
    message = str(failure.value)
    assert "'exp-typo'" in message and "'exp-a' (2 rows), 'exp-b' (1 rows)" in message and "exp-c" not in message
    assert "CREDSIGNAL_EXPERIMENT_ID" in message
    assert not pipeline.staging_dir(config, "r1").exists()


# ------------------------------------------------------------------------------------------------ writing

def test_curated_tables_are_written_sorted_compacted_and_with_the_contract_docs(spark, platform, tmp_path,
                                                                                monkeypatch):
    """The layout analysts read is the feature job's (publish links these files as they are)."""
    import pyarrow.parquet as pq

    from credsignal.core.storage import footer_descriptions
    from jobs.features import job

    monkeypatch.setattr(job, "ROWS_PER_FILE", 5)
    monkeypatch.setattr(job, "ROWS_PER_ROW_GROUP", 2)
    table = job.curated_tables({"learner_outcomes_full": platform["full"]}, pseudonym_key=b"k" * 32)
    job.write_curated(table["learner_outcomes_full"].repartition(3), tmp_path / "full")

    files = sorted((tmp_path / "full").glob("*.parquet"))
    keys = [key for path in files for key in pq.read_table(path, columns=["learner_key"])["learner_key"].to_pylist()]
    assert keys == sorted(keys) and len(keys) == platform["full"].count()  # sorted across files, not only within
    assert len(files) >= -(-len(keys) // 5)
    for path in files:
        metadata = pq.ParquetFile(path).metadata
        assert 0 < metadata.num_rows <= 5
        groups = [metadata.row_group(i) for i in range(metadata.num_row_groups)]
        assert all(group.num_rows <= 2 for group in groups)
        assert {group.column(j).compression for group in groups for j in range(metadata.num_columns)} == {"ZSTD"}
        assert footer_descriptions(pq.read_schema(path)) == contracts.column_descriptions("learner_outcomes_full")
