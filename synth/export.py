"""Clean export lines per source, built column-wise (one JSON object per line, fields in contract order)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from synth import reference
from synth.contract import CREDENTIAL_TYPES, EDUCATION_LEVELS, GENDERS, PLATFORMS, PRIMARY_DOMAINS
from synth.encoding import (
    SECONDS_PER_DAY,
    assign_timestamp_styles,
    day_number,
    format_timestamps,
    json_strings,
    quoted,
)
from synth.population import EXPERIMENT_ID, OTHER_EXPERIMENTS, REFERRERS, World

# Additive schema change: app sessions carry an extra field from this day on; ingestion must ignore it.
APP_VERSION_FIELD_FROM = "2023-04-01"


@dataclass
class SourceTable:
    """Clean rows of one source; `event_seconds` orders rows inside a partition."""

    lines: list[str]
    event_seconds: np.ndarray
    folder_day: np.ndarray


def apply_timestamp_styles(rng: np.random.Generator, world: World) -> dict[str, np.ndarray]:
    """Choose the text style of every timestamp once, truncating minute-style instants before any truth is taken."""
    styles = {}
    for name in ("registered_at", "granted_at", "session_at", "view_at", "skill_measured", "update_at",
                 "other_cert_granted"):
        adjusted, style = assign_timestamp_styles(rng, getattr(world, name))
        setattr(world, name, adjusted)
        styles[name] = style
    return styles


def folder_days(event_day: np.ndarray, window_start: int) -> np.ndarray:
    """History before the window goes into the one-time backfill folder (window_start - 1 day)."""
    return np.maximum(event_day, window_start - 1)


def make_late(rng: np.random.Generator, folder: np.ndarray, rate: float, window_start: int, as_of: int) -> np.ndarray:
    """~rate of rows arrive 1-3 days late (never beyond as_of, never for backfilled history)."""
    late = (rng.random(folder.size) < rate) & (folder >= window_start)
    shifted = np.minimum(folder + rng.integers(1, 4, folder.size), as_of)
    return np.where(late, shifted, folder)


def build_sources(
    rng: np.random.Generator,
    world: World,
    styles: dict[str, np.ndarray],
    linkedin_url_by_learner: dict[int, str],
    changed_url_by_learner: dict[int, str],
    dirty_rate: float,
) -> dict[str, SourceTable]:
    window_start = day_number(world.window_start)
    as_of = day_number(world.as_of)
    countries = reference.countries()
    courses = reference.courses()
    tables: dict[str, SourceTable] = {}

    # --- learners: one row at registration (unless planted later), one more per later version -----------------
    n = world.learner_id.size
    registration = np.flatnonzero(world.exported_registration)
    learner = np.concatenate([registration, world.update_learner])
    updated = np.concatenate([world.registered_at[registration], world.update_at])
    updated_style = np.concatenate([styles["registered_at"][registration], styles["update_at"]])
    registered_text = format_timestamps(world.registered_at, styles["registered_at"])
    registered_json = [registered_text[i] for i in learner.tolist()]
    updated_json = format_timestamps(updated, updated_style)
    country = np.concatenate([world.country[registration], world.update_country])
    education = np.concatenate([world.education[registration], world.update_education])
    gender = np.concatenate([world.gender[registration], world.update_gender])
    url_code = np.concatenate([world.registration_url[registration], world.update_url])
    country_name = json_strings([c.name for c in countries])
    country_iso = json_strings([c.iso2 for c in countries])
    use_iso = rng.random(learner.size) < 0.3
    country_json = [country_iso[c] if iso else country_name[c] for c, iso in zip(country.tolist(), use_iso.tolist())]
    education_text = json_strings(list(EDUCATION_LEVELS)) + ["null"]
    gender_text = json_strings(list(GENDERS)) + ["null"]
    url_text = {i: json_strings([url])[0] for i, url in linkedin_url_by_learner.items()}
    changed_url_text = {i: json_strings([url])[0] for i, url in changed_url_by_learner.items()}

    def url_json(i: int, code: int) -> str:
        return "null" if code < 0 else changed_url_text[i] if code == 1 else url_text[i]

    ids = quoted(world.learner_id)
    lines = [
        f'{{"learner_id":{ids[i]},"country":{c},"education_level":{education_text[e]},"gender":{gender_text[g]},'
        f'"linkedin_url":{url_json(i, k)},"registered_at":{r},"updated_at":{t}}}'
        for i, c, e, g, k, r, t in zip(
            learner.tolist(), country_json, education.tolist(), gender.tolist(), url_code.tolist(), registered_json,
            updated_json,
        )
    ]
    tables["learners"] = SourceTable(lines, updated, folder_days(updated // SECONDS_PER_DAY, window_start))

    # --- certificates: the study certificate of every earner plus other certificates --------------------------
    earner = np.flatnonzero(world.kind < 2)
    cert_learner = np.concatenate([earner, world.other_cert_learner])
    cert_course = np.concatenate([world.course[earner], world.other_cert_course])
    cert_id = np.concatenate([world.certificate_id[earner], world.other_cert_id])
    granted = np.concatenate([world.granted_at[earner], world.other_cert_granted])
    granted_style = np.concatenate([styles["granted_at"][earner], styles["other_cert_granted"]])
    course_fields = [
        f'"course_id":{json_strings([c.course_id])[0]},"course_name":{json_strings([c.name])[0]},'
        f'"primary_domain":{json_strings([c.domain])[0]},"credential_type":{json_strings([c.credential_type])[0]}'
        for c in courses
    ]
    assert all(c.domain in PRIMARY_DOMAINS and c.credential_type in CREDENTIAL_TYPES for c in courses)
    granted_json = format_timestamps(granted, granted_style)
    cert_json = quoted(cert_id)
    lines = [
        f'{{"certificate_id":{k},"learner_id":{ids[i]},{course_fields[c]},"granted_at":{g}}}'
        for k, i, c, g in zip(cert_json, cert_learner.tolist(), cert_course.tolist(), granted_json)
    ]
    tables["certificates"] = SourceTable(lines, granted, folder_days(granted // SECONDS_PER_DAY, window_start))

    # --- certificate views --------------------------------------------------------------------------------------
    referrer_json = json_strings(REFERRERS)
    viewed_json = format_timestamps(world.view_at, styles["view_at"])
    lines = [
        f'{{"view_id":"{v}","certificate_id":"{c}","viewed_at":{t},"referrer":{referrer_json[r]},'
        f'"by_owner":{"true" if o else "false"}}}'
        for v, c, t, r, o in zip(
            world.view_id.tolist(), world.view_cert.tolist(), viewed_json, world.view_referrer.tolist(),
            world.view_by_owner.tolist(),
        )
    ]
    folder = make_late(rng, folder_days(world.view_at // SECONDS_PER_DAY, window_start), dirty_rate, window_start, as_of)
    tables["certificate_views"] = SourceTable(lines, world.view_at, folder)

    # --- experiment assignments: ours, and other experiments' in the same export -----------------------------------
    # Each experiment randomizes on its own days, so the export has rows (and a dt folder) only on those days.
    randomized = np.flatnonzero(world.kind == 0)
    who_parts, day_parts, arm_parts, batch_parts = [randomized], [world.randomized_day[randomized]], [
        world.treatment[randomized]], [world.batch[randomized]]
    experiments = [EXPERIMENT_ID] * randomized.size
    strata = world.stratum[randomized].tolist()
    for experiment_id, day_offsets, share_ours, share_others in OTHER_EXPERIMENTS:
        u = rng.random(n)
        members = np.flatnonzero(np.where(world.kind == 0, u < share_ours, u < share_others))
        wave = rng.integers(0, len(day_offsets), members.size)
        who_parts.append(members)
        day_parts.append(np.minimum(window_start + np.array(day_offsets, np.int64)[wave], as_of))
        arm_parts.append((rng.random(members.size) < 0.5).astype(np.int8))
        batch_parts.append(wave + 1)
        experiments += [experiment_id] * members.size
        strata += ["all"] * members.size
    who = np.concatenate(who_parts)
    day = np.concatenate(day_parts)
    dates = np.datetime_as_string(day.astype("datetime64[D]")).tolist()
    arms = np.concatenate(arm_parts)
    batches = np.concatenate(batch_parts)
    lines = [
        f'{{"learner_id":{ids[i]},"experiment_id":"{e}","batch":{b},"arm":"{"treatment" if a else "control"}",'
        f'"randomized_at":"{d}","stratum":"{s}"}}'
        for i, e, b, a, d, s in zip(who.tolist(), experiments, batches.tolist(), arms.tolist(), dates, strata)
    ]
    tables["experiment_assignments"] = SourceTable(lines, day * SECONDS_PER_DAY, folder_days(day, window_start))

    # --- app sessions -------------------------------------------------------------------------------------------
    started_json = format_timestamps(world.session_at, styles["session_at"])
    version_from = day_number(np.datetime64(APP_VERSION_FIELD_FROM, "D").astype(object))
    with_version = (world.session_at // SECONDS_PER_DAY) >= version_from
    lines = [
        f'{{"learner_id":{ids[i]},"started_at":{t},"platform":"{PLATFORMS[p]}"'
        + (',"app_version":"4.12.0"}' if v else "}")
        for i, t, p, v in zip(
            world.session_learner.tolist(), started_json, world.session_platform.tolist(), with_version.tolist()
        )
    ]
    folder = make_late(rng, folder_days(world.session_at // SECONDS_PER_DAY, window_start), dirty_rate, window_start, as_of)
    tables["app_sessions"] = SourceTable(lines, world.session_at, folder)

    # --- skill scores ---------------------------------------------------------------------------------------------
    skill_json = json_strings(world.skill_names)
    measured_json = format_timestamps(world.skill_measured, styles["skill_measured"])
    lines = [
        f'{{"learner_id":{ids[i]},"skill":{skill_json[k]},"score":{s!r},"measured_at":{t}}}'
        for i, k, s, t in zip(
            world.skill_learner.tolist(), world.skill_name.tolist(), world.skill_score.tolist(), measured_json
        )
    ]
    tables["skill_scores"] = SourceTable(
        lines, world.skill_measured, folder_days(world.skill_measured // SECONDS_PER_DAY, window_start)
    )
    return tables
