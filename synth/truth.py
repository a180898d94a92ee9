"""The planted ground truth: one row per randomized learner, computed from the clean data the generator emits."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from synth import reference
from synth.contract import EDUCATION_LEVELS, GENDERS
from synth.encoding import SECONDS_PER_DAY
from synth.population import N_LINKEDIN_REFERRERS, World

TRUTH_COLUMNS = [
    "learner_id", "batch", "treatment", "randomized_at", "stratum", "certificate_id", "primary_domain",
    "credential_type", "developing_country", "education_level", "gender", "main_skill", "main_skill_score",
    "main_skill_standardized", "logged_in_after_randomization", "count_views_all", "count_views_by_others",
    "count_views_linkedin", "count_views_linkedin_by_others", "views_all", "views_all_by_others", "views_linkedin",
    "views_linkedin_by_others", "has_linkedin_url", "credential_shared", "new_job", "new_job_4m",
    "new_job_in_scope", "new_job_in_scope_4m",
]
OUTCOME_COLUMNS = ["credential_shared", "new_job", "new_job_4m", "new_job_in_scope", "new_job_in_scope_4m"]


def latest_state(world: World) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Education, gender, country after applying every update row (the latest updated_at wins)."""
    education, gender, country = world.education.copy(), world.gender.copy(), world.country.copy()
    order = np.argsort(world.update_at, kind="stable")
    learner = world.update_learner[order]
    education[learner] = world.update_education[order]
    gender[learner] = world.update_gender[order]
    country[learner] = world.update_country[order]
    return education, gender, country


def build_truth(world: World, outcomes: dict[int, dict[str, Any] | None]) -> pd.DataFrame:
    """`outcomes` maps learner index -> profile outcomes (None when the page could not be read)."""
    randomized = np.flatnonzero(world.kind == 0)
    n_total = world.kind.size
    courses = reference.courses()
    countries = reference.countries()
    education, gender, country = latest_state(world)

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

    # Main skill: highest score, ties broken alphabetically (skill names are indexed in sorted order).
    names = np.array(world.skill_names, dtype=object)
    skill_mean = np.bincount(world.skill_name, weights=world.skill_score, minlength=names.size) / np.maximum(
        np.bincount(world.skill_name, minlength=names.size), 1
    )
    skill_max = np.full(names.size, np.nan)
    np.fmax.at(skill_max, world.skill_name, world.skill_score)
    order = np.lexsort((world.skill_name, -world.skill_score, world.skill_learner))
    first = order[np.r_[True, np.diff(world.skill_learner[order]) != 0]]
    main_skill = np.full(n_total, None, dtype=object)
    main_score = np.full(n_total, np.nan)
    main_standardized = np.full(n_total, np.nan)
    owners = world.skill_learner[first]
    main_skill[owners] = names[world.skill_name[first]]
    main_score[owners] = world.skill_score[first]
    skill = world.skill_name[first]
    main_standardized[owners] = (world.skill_score[first] - skill_mean[skill]) / skill_max[skill]

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
        }
    )
    return frame.sort_values("learner_id", kind="stable").reset_index(drop=True)[TRUTH_COLUMNS]
