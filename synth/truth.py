"""The planted ground truth: one row per randomized learner, computed from the clean data the generator emits."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from synth import reference
from synth.contract import EDUCATION_LEVELS, GENDERS
from synth.encoding import SECONDS_PER_DAY
from synth.population import N_LINKEDIN_REFERRERS, URL_CHANGED_AFTER, World

TRUTH_COLUMNS = [
    "learner_id", "batch", "treatment", "randomized_at", "stratum", "certificate_id", "primary_domain",
    "credential_type", "developing_country", "education_level", "gender", "main_skill", "main_skill_score",
    "main_skill_standardized", "logged_in_after_randomization", "count_views_all", "count_views_by_others",
    "count_views_linkedin", "count_views_linkedin_by_others", "views_all", "views_all_by_others", "views_linkedin",
    "views_linkedin_by_others", "has_linkedin_url", "credential_shared", "new_job", "new_job_4m",
    "new_job_in_scope", "new_job_in_scope_4m",
    # What was planted around randomization (synth.population: the case names), and the latest record's URL flag.
    "url_case", "url_crawled_at", "attribute_case", "skill_case", "has_linkedin_url_latest",
]
OUTCOME_COLUMNS = ["credential_shared", "new_job", "new_job_4m", "new_job_in_scope", "new_job_in_scope_4m"]


def learner_versions(world: World) -> tuple[np.ndarray, ...]:
    """Every learner row the export holds: (learner, updated_at, education, gender, country, url code)."""
    registration = np.flatnonzero(world.exported_registration)
    return (
        np.concatenate([registration, world.update_learner]),
        np.concatenate([world.registered_at[registration], world.update_at]),
        np.concatenate([world.education[registration], world.update_education]),
        np.concatenate([world.gender[registration], world.update_gender]),
        np.concatenate([world.country[registration], world.update_country]),
        np.concatenate([world.registration_url[registration], world.update_url]),
    )


def version_in_force(world: World, learner: np.ndarray, updated: np.ndarray, *, at_randomization: bool) -> np.ndarray:
    """Per learner, the index of its row in force: the latest with updated_at before the end of the randomization
    day (UTC), or the earliest row when none is that early; with at_randomization False, the latest row."""
    n = world.kind.size
    cutoff = (world.randomized_day[learner] + 1) * SECONDS_PER_DAY
    early = updated < cutoff if at_randomization else np.ones(updated.size, bool)
    chosen = np.full(n, -1, np.int64)
    order = np.lexsort((updated, early))  # late rows first, then early ones; each group by time
    chosen[learner[order]] = order  # the last write per learner wins: the latest early row, if any
    fallback = np.lexsort((-updated, learner))
    earliest = np.full(n, -1, np.int64)
    earliest[learner[fallback]] = fallback  # last write per learner: the smallest updated_at
    return np.where(np.isin(np.arange(n), learner[early]), chosen, earliest)


def main_skill_at_randomization(world: World) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Main skill, score and standardized score from the measurements in force at randomization: per (learner,
    skill) the latest measured before the end of the randomization day; statistics per skill over those."""
    n_total = world.kind.size
    names = np.array(world.skill_names, dtype=object)
    learner = world.skill_learner
    in_force = world.skill_measured < (world.randomized_day[learner] + 1) * SECONDS_PER_DAY
    rows = np.flatnonzero(in_force)
    order = rows[np.lexsort((-world.skill_measured[rows], world.skill_name[rows], learner[rows]))]
    first = order[np.r_[True, (np.diff(learner[order]) != 0) | (np.diff(world.skill_name[order]) != 0)]]
    learner, skill, score = learner[first], world.skill_name[first], world.skill_score[first]
    skill_mean = np.bincount(skill, weights=score, minlength=names.size) / np.maximum(
        np.bincount(skill, minlength=names.size), 1
    )
    skill_max = np.full(names.size, np.nan)
    np.fmax.at(skill_max, skill, score)
    # Main skill: highest score, ties broken alphabetically (skill names are indexed in sorted order).
    order = np.lexsort((skill, -score, learner))
    best = order[np.r_[True, np.diff(learner[order]) != 0]]
    main_skill = np.full(n_total, None, dtype=object)
    main_score = np.full(n_total, np.nan)
    main_standardized = np.full(n_total, np.nan)
    owners = learner[best]
    main_skill[owners] = names[skill[best]]
    main_score[owners] = score[best]
    main_standardized[owners] = (score[best] - skill_mean[skill[best]]) / skill_max[skill[best]]
    return main_skill, main_score, main_standardized


def build_truth(world: World, outcomes: dict[int, dict[str, Any] | None]) -> pd.DataFrame:
    """`outcomes` maps learner index -> profile outcomes (None when the page could not be read)."""
    randomized = np.flatnonzero(world.kind == 0)
    n_total = world.kind.size
    courses = reference.courses()
    countries = reference.countries()
    learner_of, updated, education_of, gender_of, country_of, url_of = learner_versions(world)
    at_randomization = version_in_force(world, learner_of, updated, at_randomization=True)
    latest = version_in_force(world, learner_of, updated, at_randomization=False)
    education, gender, country = education_of[at_randomization], gender_of[at_randomization], country_of[at_randomization]
    has_url = url_of[at_randomization] >= 0
    if not np.array_equal(has_url[randomized], world.has_linkedin_url[randomized]):
        raise AssertionError("the planted learner rows disagree with the URL in force at randomization")

    # Views of the study certificate inside [randomized_at 00:00 UTC, end of as_of day].
    learner = world.extra["view_learner"]
    is_study = world.view_cert == world.certificate_id[learner]
    in_window = (world.view_at >= world.randomized_day[learner] * SECONDS_PER_DAY) & (world.view_at <= world.as_of_end)
    counted = is_study & in_window & (world.kind[learner] == 0)
    linkedin = world.view_referrer < N_LINKEDIN_REFERRERS
    by_others = ~world.view_by_owner

    def count(mask: np.ndarray) -> np.ndarray:
        return np.bincount(learner[counted & mask], minlength=n_total)

    views_all = count(np.ones_like(counted))
    views_others = count(by_others)
    views_linkedin = count(linkedin)
    views_linkedin_others = count(linkedin & by_others)

    # Any app session in (randomized_at 00:00, randomized_at 00:00 + 30 days].
    session_learner = world.session_learner
    r0 = world.randomized_day[session_learner] * SECONDS_PER_DAY
    in_login_window = (world.session_at > r0) & (world.session_at <= r0 + 30 * SECONDS_PER_DAY)
    logged_in = np.bincount(session_learner[in_login_window], minlength=n_total) > 0

    main_skill, main_score, main_standardized = main_skill_at_randomization(world)

    outcome_columns: dict[str, list[Any]] = {name: [] for name in OUTCOME_COLUMNS}
    for i in randomized.tolist():
        values = outcomes.get(i)
        for name in OUTCOME_COLUMNS:
            outcome_columns[name].append(np.nan if values is None else float(values[name]))

    r = randomized
    developing = np.array([countries[c].developing for c in country[r]], dtype=np.int8)
    frame = pd.DataFrame(
        {
            "learner_id": world.learner_id[r].astype(object),
            "batch": world.batch[r].astype(np.int64),
            "treatment": world.treatment[r].astype(np.int64),
            "randomized_at": world.randomized_day[r].astype("datetime64[D]").astype(object),
            "stratum": world.stratum[r],
            "certificate_id": world.certificate_id[r].astype(object),
            "primary_domain": [courses[c].domain for c in world.course[r]],
            "credential_type": [courses[c].credential_type for c in world.course[r]],
            "developing_country": developing.astype(np.int64),
            "education_level": [EDUCATION_LEVELS[e] if e >= 0 else "not mentioned" for e in education[r]],
            "gender": [GENDERS[g] if g >= 0 else "not mentioned" for g in gender[r]],
            "main_skill": main_skill[r],
            "main_skill_score": main_score[r],
            "main_skill_standardized": main_standardized[r],
            "logged_in_after_randomization": logged_in[r].astype(np.int64),
            "count_views_all": views_all[r].astype(np.int64),
            "count_views_by_others": views_others[r].astype(np.int64),
            "count_views_linkedin": views_linkedin[r].astype(np.int64),
            "count_views_linkedin_by_others": views_linkedin_others[r].astype(np.int64),
            "views_all": (views_all[r] > 0).astype(np.int64),
            "views_all_by_others": (views_others[r] > 0).astype(np.int64),
            "views_linkedin": (views_linkedin[r] > 0).astype(np.int64),
            "views_linkedin_by_others": (views_linkedin_others[r] > 0).astype(np.int64),
            "has_linkedin_url": world.has_linkedin_url[r].astype(np.int64),
            **outcome_columns,
            "url_case": world.url_case[r],
            "url_crawled_at": np.where(
                world.url_case[r] == URL_CHANGED_AFTER,
                np.where(world.url_crawled_later[r], "later_url", "url_at_randomization"), None),
            "attribute_case": world.attribute_case[r],
            "skill_case": world.skill_case[r],
            "has_linkedin_url_latest": (url_of[latest[r]] >= 0).astype(np.int64),
        }
    )
    return frame.sort_values("learner_id", kind="stable").reset_index(drop=True)[TRUTH_COLUMNS]
