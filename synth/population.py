"""The synthetic world as numpy arrays: learners, certificates, randomization, sessions, views, skill scores.

Every array is generated from one numpy Generator in a fixed order, so a seed fixes the world. Calibration targets
come from the paper's Table 2 / Table 11 (full sample) and Table 3 / Table 13 (LinkedIn matched sample); the numbers
below are chosen so that the *emitted* data reproduces them (docs/synthetic_data.md compares target and measured).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

import numpy as np

from synth import reference
from synth.contract import CREDENTIAL_TYPES, EDUCATION_LEVELS, GENDERS, PLATFORMS, PRIMARY_DOMAINS
from synth.encoding import LOWER_ALNUM, SECONDS_PER_DAY, UPPER_ALNUM, day_number, random_codes

EXPERIMENT_ID = "credential-feature-2022"
N_BATCHES = 5
# More experiments in the same assignments export (the pipeline keeps only the configured one): id, randomization
# days as offsets from window_start, share of our randomized learners, share of other learners.
OTHER_EXPERIMENTS = (
    ("onboarding-checklist-2022", (40, 130), 0.03, 0.25),
    ("search-ranking-2023", (200,), 0.02, 0.10),
)

# Planted learner-version cases (truth columns url_case, attribute_case, skill_case).
NO_CASE = "none"
URL_ADDED_AFTER = "url_added_after_randomization"
URL_CHANGED_AFTER = "url_changed_after_randomization"
URL_ADDED_ON_DAY = "url_added_on_randomization_day"
UPDATED_BEFORE = "updated_before_randomization"
UPDATED_AFTER = "updated_after_randomization"
UPDATED_AT_END_OF_DAY = "updated_at_end_of_randomization_day"  # R 23:59:59 UTC: in force at randomization
UPDATED_NEXT_DAY = "updated_at_start_of_next_day"  # R+1 00:00:00 UTC: not in force
NO_VERSION_BEFORE = "no_version_before_randomization"  # earliest version used
SKILL_MEASURED_AFTER = "measured_after_randomization"
SKILL_MEASURED_ON_DAY = "measured_on_randomization_day"
# A nudge to use LinkedIn makes treated learners add their URL after randomization more often.
LATE_URL_RATE = {0: 0.01, 1: 0.03}
URL_CHANGE_RATE = 0.06
URL_CRAWLED_LATER_SHARE = 0.5
URL_ON_DAY_RATE = 0.04
EDGE_UPDATE_RATE = 0.005
NO_VERSION_RATE = 0.003
LATE_SKILL_RATE = 0.2
SKILL_ON_DAY_RATE = 0.01

# Table 11 counts (full sample, N = 888,219).
EDUCATION_COUNTS = np.array([8016, 53155, 64078, 25298, 114926, 44975, 3540, 3963], dtype=float)
EDUCATION_UNKNOWN = 570268
GENDER_COUNTS = np.array([269836, 146897, 1027], dtype=float)
GENDER_UNKNOWN = 470459
DOMAIN_COUNTS = np.array([330462, 222335, 208819, 126603], dtype=float)  # PRIMARY_DOMAINS order
TYPE_SHARES = np.array([0.818, 0.168, 0.009, 0.005])  # CREDENTIAL_TYPES order
DEVELOPING_SHARE = 0.896
DEGREE_LEVELS = np.array([3, 4, 5, 6, 7])  # associate .. doctorate: a college degree for the sample rule

# Section 3.3.4: share of learners who open the app within 30 days of randomization, per batch.
LOGIN_RATE_BY_BATCH = np.array([0.92, 0.96, 0.93, 0.90, 0.82])
# Table 13 panel A: control sharing rate and ITT per batch (LinkedIn sample). The effect only reaches learners
# who logged in, so the per-exposed effect is ITT / login rate.
SHARE_CONTROL_BY_BATCH = np.array([0.178, 0.150, 0.164, 0.175, 0.165])
SHARE_ITT_BY_BATCH = np.array([0.0224, 0.0326, 0.0298, 0.0426, 0.0158])
# Learners without a LinkedIn URL may still have LinkedIn; they share less (no URL given, less engaged).
SHARE_CONTROL_NO_URL = 0.11
SHARE_EFFECT_EXPOSED_NO_URL = 0.03

# Views of the study certificate from randomization to as_of (Table 2 / Table 11).
P_LINKEDIN_VIEW_IF_SHARED = 0.80
P_LINKEDIN_VIEW_NOT_SHARED = {True: 0.323, False: 0.0635}  # keyed by has_linkedin_url
P_OTHER_VIEW = {True: 0.034, False: 0.031}
P_LINKEDIN_BY_OTHERS = 0.75
P_OTHER_BY_OTHERS = 0.65


@dataclass
class World:
    """Everything the exporters and the truth need. Learner-level arrays have one entry per learner."""

    as_of: date
    window_start: date
    as_of_end: int  # last second of the as_of day, epoch seconds
    # learners
    learner_id: np.ndarray
    kind: np.ndarray  # 0 randomized, 1 certificate earner not eligible for the experiment, 2 registered only
    country: np.ndarray  # index into reference.countries()
    education: np.ndarray  # -1 null, else index into EDUCATION_LEVELS
    gender: np.ndarray  # -1 null, else index into GENDERS
    registered_at: np.ndarray
    has_linkedin_url: np.ndarray
    # the study certificate (kinds 0 and 1)
    batch: np.ndarray  # 0 for kind 2
    randomized_day: np.ndarray  # day number of randomized_at (last day of the batch month)
    course: np.ndarray  # index into reference.courses()
    granted_at: np.ndarray
    certificate_id: np.ndarray
    # randomization (kind 0)
    treatment: np.ndarray
    stratum: np.ndarray
    logged_in_window: np.ndarray
    shared: np.ndarray
    # updates (later learner rows): learner index, time, new education, gender, country
    update_learner: np.ndarray
    update_at: np.ndarray
    update_education: np.ndarray
    update_gender: np.ndarray
    update_country: np.ndarray
    # other certificates
    other_cert_learner: np.ndarray
    other_cert_course: np.ndarray
    other_cert_granted: np.ndarray
    other_cert_id: np.ndarray
    # events
    session_learner: np.ndarray
    session_at: np.ndarray
    session_platform: np.ndarray
    view_id: np.ndarray
    view_cert: np.ndarray  # certificate id text
    view_at: np.ndarray
    view_referrer: np.ndarray  # index into REFERRERS
    view_by_owner: np.ndarray
    skill_learner: np.ndarray
    skill_name: np.ndarray  # index into skill list
    skill_score: np.ndarray
    skill_measured: np.ndarray
    skill_names: list[str]
    extra: dict[str, np.ndarray] = field(default_factory=dict)
    # Learner versions after randomization (planted by _plant_learner_versions). `has_linkedin_url` above is the
    # URL in force at randomization; these say what the export shows around it.
    exported_registration: np.ndarray = field(default_factory=lambda: np.empty(0, bool))  # False: first row later
    registration_url: np.ndarray = field(default_factory=lambda: np.empty(0, np.int8))  # -1 none, 0 first URL
    update_url: np.ndarray = field(default_factory=lambda: np.empty(0, np.int8))  # per update row: -1, 0, 1 (changed)
    url_crawled_later: np.ndarray = field(default_factory=lambda: np.empty(0, bool))  # crawl fetched the changed URL
    url_case: np.ndarray = field(default_factory=lambda: np.empty(0, object))
    attribute_case: np.ndarray = field(default_factory=lambda: np.empty(0, object))
    skill_case: np.ndarray = field(default_factory=lambda: np.empty(0, object))

    def has_any_url(self) -> np.ndarray:
        """Learners whose export shows a LinkedIn URL at some point (at randomization or later)."""
        return self.has_linkedin_url | (self.url_case == URL_ADDED_AFTER)


# Referrers. LinkedIn = host linkedin.com or a subdomain, lnkd.in, or android-app://com.linkedin.android.
LINKEDIN_REFERRERS = [
    "https://www.linkedin.com/",
    "https://www.linkedin.com/feed/",
    "https://www.linkedin.com/in/me/details/certifications/",
    "https://br.linkedin.com/",
    "https://in.linkedin.com/feed/",
    "https://lnkd.in/eXyZ12a",
    "https://lnkd.in/gQ7v_Pk",
    "android-app://com.linkedin.android/",
    "https://m.linkedin.com/",
    "https://linkedin.com/",
    "http://www.linkedin.com/notifications/",
]
LINKEDIN_REFERRER_WEIGHTS = [0.25, 0.2, 0.05, 0.06, 0.06, 0.1, 0.03, 0.12, 0.06, 0.03, 0.04]
OTHER_REFERRERS: list[str | None] = [
    "https://www.google.com/",
    "https://www.google.co.in/",
    "https://www.facebook.com/",
    "https://l.facebook.com/",
    "",
    None,
    "https://t.co/AbC123",
    "https://www.coursera.org/accomplishments",
    "android-app://com.google.android.gm/",
    "https://notlinkedin.com/",
    "https://linkedin.com.evil.io/",
    "https://www.bing.com/search?q=linkedin+coursera",
    "https://www.google.com/url?q=https://www.linkedin.com/in/someone",
]
OTHER_REFERRER_WEIGHTS = [0.2, 0.08, 0.1, 0.05, 0.14, 0.18, 0.04, 0.05, 0.04, 0.03, 0.03, 0.03, 0.03]
REFERRERS: list[str | None] = LINKEDIN_REFERRERS + OTHER_REFERRERS
N_LINKEDIN_REFERRERS = len(LINKEDIN_REFERRERS)


def batch_month_starts(window_start: date) -> list[date]:
    starts = []
    year, month = window_start.year, window_start.month
    for _ in range(N_BATCHES + 1):
        starts.append(date(year, month, 1))
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return starts


def _pick(rng: np.random.Generator, weights: np.ndarray, n: int) -> np.ndarray:
    cumulative = np.cumsum(weights / weights.sum())
    return np.minimum(np.searchsorted(cumulative, rng.random(n), side="right"), weights.size - 1)


def _education_distributions() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per-group distributions over [null, levels...] such that the randomized sample matches Table 11.

    The sample rule (developing country OR no college degree) means developed learners never hold a degree, so the
    degree mass all sits with developing learners.
    """
    total = EDUCATION_COUNTS.sum() + EDUCATION_UNKNOWN
    overall = np.concatenate([[EDUCATION_UNKNOWN], EDUCATION_COUNTS]) / total
    developed = overall.copy()
    developed[1 + DEGREE_LEVELS] = 0.0
    developed /= developed.sum()
    developing = np.clip((overall - (1 - DEVELOPING_SHARE) * developed) / DEVELOPING_SHARE, 0.0, None)
    developing /= developing.sum()
    degree_only = np.zeros_like(overall)
    degree_only[1 + DEGREE_LEVELS] = overall[1 + DEGREE_LEVELS]
    degree_only /= degree_only.sum()
    return developing, developed, degree_only


def build_world(
    rng: np.random.Generator, n_learners: int, linkedin_share: float, as_of: date, window_start: date,
    taken_learner_codes: np.ndarray | None = None,
) -> World:
    """`taken_learner_codes`: learner id codes earlier shards used, which this world's learners must not reuse."""
    countries = reference.countries()
    courses = reference.courses()
    country_developing = np.array([c.developing for c in countries])
    country_weight = np.array([c.weight for c in countries])
    window_start_day = day_number(window_start)
    as_of_day = day_number(as_of)
    as_of_end = (as_of_day + 1) * SECONDS_PER_DAY - 1

    n_ineligible = int(round(0.05 * n_learners))
    n_registered_only = int(round(0.03 * n_learners))
    n_total = n_learners + n_ineligible + n_registered_only
    kind = np.concatenate(
        [np.zeros(n_learners, np.int8), np.ones(n_ineligible, np.int8), np.full(n_registered_only, 2, np.int8)]
    )
    earner = kind < 2
    randomized = kind == 0
    learner_id = np.char.add("lrn_", random_codes(rng, n_total, 10, LOWER_ALNUM, exclude=taken_learner_codes))

    # --- country, education, gender -------------------------------------------------------------------------
    developing = np.where(randomized, rng.random(n_total) < DEVELOPING_SHARE, False)
    developing[kind == 2] = rng.random(int((kind == 2).sum())) < DEVELOPING_SHARE
    country = np.empty(n_total, np.int64)
    for flag in (True, False):
        members = np.flatnonzero(developing == flag)
        candidates = np.flatnonzero(country_developing == flag)
        country[members] = candidates[_pick(rng, country_weight[candidates], members.size)]

    dist_developing, dist_developed, dist_degree = _education_distributions()
    education = np.empty(n_total, np.int64)
    education_dist = np.where(developing[:, None], dist_developing[None, :], dist_developed[None, :])
    education_dist[kind == 1] = dist_degree
    cumulative = np.cumsum(education_dist, axis=1)
    education = (rng.random(n_total)[:, None] > cumulative).sum(axis=1) - 1
    education = np.minimum(education, len(EDUCATION_LEVELS) - 1)

    gender_weights = np.concatenate([[GENDER_UNKNOWN], GENDER_COUNTS])
    gender = _pick(rng, gender_weights, n_total) - 1

    # --- the study certificate -----------------------------------------------------------------------------
    month_starts = batch_month_starts(window_start)
    month_start_day = np.array([day_number(d) for d in month_starts])
    batch = np.where(earner, rng.integers(1, N_BATCHES + 1, n_total), 0)
    first_day = np.where(earner, month_start_day[np.maximum(batch - 1, 0)], 0)
    randomized_day = np.where(earner, month_start_day[np.maximum(batch, 1)] - 1, 0)
    domain = _pick(rng, DOMAIN_COUNTS, n_total)
    credential_type = _pick(rng, TYPE_SHARES, n_total)
    course_table = {}
    for index, course in enumerate(courses):
        key = (PRIMARY_DOMAINS.index(course.domain), CREDENTIAL_TYPES.index(course.credential_type))
        course_table.setdefault(key, []).append(index)
    course = np.empty(n_total, np.int64)
    for (d, t), members_of in course_table.items():
        members = np.flatnonzero((domain == d) & (credential_type == t))
        course[members] = np.array(members_of)[rng.integers(0, len(members_of), members.size)]
    month_seconds = (randomized_day + 1 - first_day) * SECONDS_PER_DAY
    granted_at = np.where(earner, first_day * SECONDS_PER_DAY + (rng.random(n_total) * month_seconds).astype(np.int64), 0)

    lead_days = np.exp(rng.normal(np.log(60), 1.3, n_total)).clip(1, 6 * 365)
    registered_at = granted_at - (lead_days * SECONDS_PER_DAY).astype(np.int64)
    registered_only = kind == 2
    span = as_of_end - day_number(date(2019, 1, 1)) * SECONDS_PER_DAY
    registered_at[registered_only] = day_number(date(2019, 1, 1)) * SECONDS_PER_DAY + (
        rng.random(int(registered_only.sum())) * span
    ).astype(np.int64)

    # --- LinkedIn URL propensity (Section 3.4.2: more Data Science, fewer Guided Projects and developing) ---------
    propensity = (
        np.where(domain == PRIMARY_DOMAINS.index("Data Science"), 1.39, 1.0)
        * np.where(credential_type == CREDENTIAL_TYPES.index("Guided Project"), 0.53, 1.0)
        * np.where(developing, 0.39, 1.0)
        * np.where(gender >= 0, 10.0, 1.0)
        * np.where(education >= 0, 9.0, 1.0)
    )
    scale = linkedin_share / propensity[randomized].mean() if randomized.any() else 0.0
    has_linkedin_url = randomized & (rng.random(n_total) < np.minimum(propensity * scale, 0.95))

    # --- stratified randomization, exact 50/50 within batch x stratum --------------------------------------------
    has_degree_at_randomization = np.isin(education, DEGREE_LEVELS)
    treatment = np.zeros(n_total, np.int8)
    # Updates before randomization change the state the platform randomized on; draw them first.
    (update_learner, update_at, update_education, update_gender, update_country) = _draw_updates(
        rng, kind, developing, education, gender, country, country_developing, registered_at, window_start_day,
        as_of_end,
    )
    education_at_rand = education.copy()
    for i, when, new_education in zip(update_learner.tolist(), update_at.tolist(), update_education.tolist()):
        if kind[i] == 0 and when < (randomized_day[i] + 1) * SECONDS_PER_DAY:
            education_at_rand[i] = new_education
    has_degree_at_randomization = np.isin(education_at_rand, DEGREE_LEVELS)
    stratum_code = domain * 4 + developing.astype(np.int64) * 2 + has_degree_at_randomization.astype(np.int64)
    members = np.flatnonzero(randomized)
    group = batch[members] * 100 + stratum_code[members]
    order = np.lexsort((rng.random(members.size), group))
    sorted_group = group[order]
    starts = np.r_[0, np.flatnonzero(np.diff(sorted_group)) + 1]
    sizes = np.diff(np.r_[starts, sorted_group.size])
    rank = np.arange(sorted_group.size) - np.repeat(starts, sizes)
    size_of = np.repeat(sizes, sizes)
    half = size_of // 2
    assigned = (rank < half).astype(np.int8)
    leftover = rank >= 2 * half
    assigned[leftover] = (rng.random(int(leftover.sum())) < 0.5).astype(np.int8)
    treatment[members[order]] = assigned
    stratum = np.full(n_total, "", dtype=object)
    domain_names = np.array(PRIMARY_DOMAINS, dtype=object)
    stratum[members] = (
        domain_names[domain[members]]
        + np.where(developing[members], "|developing|", "|developed|")
        + np.where(has_degree_at_randomization[members], "degree", "no_degree")
    )

    # --- exposure and sharing -----------------------------------------------------------------------------------
    batch_index = np.maximum(batch - 1, 0)
    logged_in_window = earner & (rng.random(n_total) < LOGIN_RATE_BY_BATCH[batch_index])
    exposed = (treatment == 1) & logged_in_window
    share_probability = np.where(
        has_linkedin_url,
        SHARE_CONTROL_BY_BATCH[batch_index] + exposed * SHARE_ITT_BY_BATCH[batch_index] / LOGIN_RATE_BY_BATCH[batch_index],
        SHARE_CONTROL_NO_URL + exposed * SHARE_EFFECT_EXPOSED_NO_URL,
    )
    shared = earner & (rng.random(n_total) < share_probability)

    certificate_id = random_codes(rng, n_total, 12, UPPER_ALNUM)

    world = World(
        as_of=as_of,
        window_start=window_start,
        as_of_end=as_of_end,
        learner_id=learner_id,
        kind=kind,
        country=country,
        education=education,
        gender=gender,
        registered_at=registered_at,
        has_linkedin_url=has_linkedin_url,
        batch=batch,
        randomized_day=randomized_day,
        course=course,
        granted_at=granted_at,
        certificate_id=certificate_id,
        treatment=treatment,
        stratum=stratum,
        logged_in_window=logged_in_window,
        shared=shared,
        update_learner=update_learner,
        update_at=update_at,
        update_education=update_education,
        update_gender=update_gender,
        update_country=update_country,
        other_cert_learner=np.empty(0, np.int64),
        other_cert_course=np.empty(0, np.int64),
        other_cert_granted=np.empty(0, np.int64),
        other_cert_id=np.empty(0, "U12"),
        session_learner=np.empty(0, np.int64),
        session_at=np.empty(0, np.int64),
        session_platform=np.empty(0, np.int8),
        view_id=np.empty(0, "U16"),
        view_cert=np.empty(0, "U12"),
        view_at=np.empty(0, np.int64),
        view_referrer=np.empty(0, np.int64),
        view_by_owner=np.empty(0, bool),
        skill_learner=np.empty(0, np.int64),
        skill_name=np.empty(0, np.int64),
        skill_score=np.empty(0, float),
        skill_measured=np.empty(0, np.int64),
        skill_names=[],
    )
    _add_other_certificates(rng, world, month_start_day)
    _add_sessions(rng, world)
    _add_views(rng, world)
    _add_skills(rng, world, domain)
    _plant_learner_versions(rng, world, country_developing)
    _plant_late_skills(rng, world)
    world.extra["domain"] = domain
    world.extra["credential_type"] = credential_type
    world.extra["developing"] = developing
    return world


def _draw_updates(
    rng: np.random.Generator,
    kind: np.ndarray,
    developing: np.ndarray,
    education: np.ndarray,
    gender: np.ndarray,
    country: np.ndarray,
    country_developing: np.ndarray,
    registered_at: np.ndarray,
    window_start_day: int,
    as_of_end: int,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """~2% of learners change education, gender or country later; the later learner row wins."""
    who = np.flatnonzero(rng.random(kind.size) < 0.02)
    earliest = np.maximum(registered_at[who], window_start_day * SECONDS_PER_DAY) + 3600
    when = earliest + (rng.random(who.size) * np.maximum(as_of_end - earliest, 1)).astype(np.int64)
    valid = when <= as_of_end
    who, when = who[valid], when[valid]
    what = rng.random(who.size)
    new_education = education[who].copy()
    new_gender = gender[who].copy()
    new_country = country[who].copy()
    change_education = what < 0.4
    # Keep the sample rule true after the update: developed learners without a degree stay without one,
    # ineligible learners keep their degree.
    choices_no_degree = np.array([-1, 0, 1, 2])
    choices_any = np.arange(-1, len(EDUCATION_LEVELS))
    for position in np.flatnonzero(change_education):
        i = who[position]
        if kind[i] == 1:
            pool = np.array([3, 4, 5, 6, 7])
        elif developing[i]:
            pool = choices_any
        else:
            pool = choices_no_degree
        pool = pool[pool != education[i]]
        new_education[position] = pool[rng.integers(0, pool.size)]
    change_gender = (what >= 0.4) & (what < 0.8)
    new_gender[change_gender] = np.where(
        gender[who][change_gender] < 0, rng.integers(0, 2, int(change_gender.sum())), -1
    )
    change_country = what >= 0.8
    for position in np.flatnonzero(change_country):
        i = who[position]
        same_class = np.flatnonzero(country_developing == country_developing[country[i]])
        same_class = same_class[same_class != country[i]]
        new_country[position] = same_class[rng.integers(0, same_class.size)]
    return who, when, new_education, new_gender, new_country


def _add_other_certificates(rng: np.random.Generator, world: World, month_start_day: np.ndarray) -> None:
    """~30% of earners hold older certificates; ~5% earn one more after randomization (never in the batch month)."""
    n_courses = len(reference.courses())
    earner = np.flatnonzero(world.kind < 2)
    first_day = month_start_day[world.batch[earner] - 1]
    holders = earner[rng.random(earner.size) < 0.30]
    counts = np.minimum(1 + rng.poisson(0.5, holders.size), 3)
    owner = np.repeat(holders, counts)
    lo = world.registered_at[owner]
    hi = np.repeat(first_day[np.searchsorted(earner, holders)], counts) * SECONDS_PER_DAY - 1
    keep = hi > lo + 3600
    owner, lo, hi = owner[keep], lo[keep], hi[keep]
    granted_before = lo + (rng.random(owner.size) * (hi - lo)).astype(np.int64)

    later = earner[rng.random(earner.size) < 0.05]
    lo_later = (world.randomized_day[later] + 1) * SECONDS_PER_DAY
    lo_later = np.maximum(lo_later, (month_start_day[np.minimum(world.batch[later], N_BATCHES)]) * SECONDS_PER_DAY)
    granted_later = lo_later + (rng.random(later.size) * (world.as_of_end - lo_later)).astype(np.int64)

    owners = np.concatenate([owner, later])
    granted = np.concatenate([granted_before, granted_later])
    course = rng.integers(0, n_courses, owners.size)
    clash = course == world.course[owners]
    course[clash] = (course[clash] + 1) % n_courses
    ids = random_codes(rng, owners.size, 12, UPPER_ALNUM, exclude=world.certificate_id)
    world.other_cert_learner = owners
    world.other_cert_course = course
    world.other_cert_granted = granted
    world.other_cert_id = ids


def _uniform_between(rng: np.random.Generator, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    return lo + (rng.random(lo.size) * np.maximum(hi - lo, 0)).astype(np.int64)


def _add_sessions(rng: np.random.Generator, world: World) -> None:
    """App sessions. Days R (randomized_at) and R+30 carry no session of an earner, so whether one reads the
    30-day window as dates or as instants from R 00:00 gives the same logged_in_after_randomization."""
    as_of_day = day_number(world.as_of)
    earner = np.flatnonzero(world.kind < 2)
    r_day = world.randomized_day[earner]
    max_offset = as_of_day - r_day
    parts_learner, parts_day_seconds = [], []

    n_pre = rng.poisson(2.0, earner.size)
    who = np.repeat(np.arange(earner.size), n_pre)
    offset = -rng.integers(1, 91, who.size)
    parts_learner.append(who)
    parts_day_seconds.append((r_day[who] + offset) * SECONDS_PER_DAY)

    logged = world.logged_in_window[earner]
    first = np.flatnonzero(logged)
    offset = 1 + (29 * rng.random(first.size) ** 2).astype(np.int64)
    parts_learner.append(first)
    parts_day_seconds.append((r_day[first] + offset) * SECONDS_PER_DAY)
    n_extra = np.where(logged, rng.poisson(2.5, earner.size), 0)
    late_starters = (~logged) & (rng.random(earner.size) < 0.5)
    n_late = np.where(late_starters, 1 + rng.poisson(1.0, earner.size), 0)
    who = np.repeat(np.arange(earner.size), n_extra)
    offset = 1 + (rng.random(who.size) * (max_offset[who] - 1)).astype(np.int64)  # 1 .. max-1, then skip 30
    offset[offset >= 30] += 1
    parts_learner.append(who)
    parts_day_seconds.append((r_day[who] + offset) * SECONDS_PER_DAY)
    who = np.repeat(np.arange(earner.size), n_late)
    offset = 31 + (rng.random(who.size) * (max_offset[who] - 30)).astype(np.int64)
    parts_learner.append(who)
    parts_day_seconds.append((r_day[who] + offset) * SECONDS_PER_DAY)

    local = np.concatenate(parts_learner)
    learner = earner[local]
    started = np.concatenate(parts_day_seconds) + rng.integers(0, SECONDS_PER_DAY, local.size)

    registered = np.flatnonzero(world.kind == 2)
    n_reg = rng.poisson(3.0, registered.size)
    who = np.repeat(registered, n_reg)
    learner = np.concatenate([learner, who])
    started = np.concatenate([started, _uniform_between(rng, world.registered_at[who], np.full(who.size, world.as_of_end))])

    keep = (started > world.registered_at[learner]) & (started <= world.as_of_end)
    learner, started = learner[keep], started[keep]
    favourite = rng.choice(3, size=world.kind.size, p=[0.55, 0.10, 0.35])
    platform = np.where(rng.random(learner.size) < 0.8, favourite[learner], rng.integers(0, 3, learner.size))
    # The natural key is (learner, started_at, platform); drop the rare accidental collision.
    order = np.lexsort((platform, started, learner))
    learner, started, platform = learner[order], started[order], platform[order]
    duplicate = np.r_[False, (np.diff(learner) == 0) & (np.diff(started) == 0) & (np.diff(platform) == 0)]
    world.session_learner = learner[~duplicate]
    world.session_at = started[~duplicate]
    world.session_platform = platform[~duplicate].astype(np.int8)
    assert len(PLATFORMS) == 3


def _negative_binomial_extra(rng: np.random.Generator, mean: float, n: int, dispersion: float = 0.6) -> np.ndarray:
    return rng.negative_binomial(dispersion, dispersion / (dispersion + mean), n)


def _view_counts(
    rng: np.random.Generator, viewers: np.ndarray, p_others: float, others_mean: float, owner_if_others: float,
    owner_if_alone: float,
) -> tuple[np.ndarray, np.ndarray]:
    """(views by others, views by the owner) per viewer; every viewer has at least one view."""
    has_others = rng.random(viewers.size) < p_others
    others = np.where(has_others, 1 + _negative_binomial_extra(rng, others_mean - 1, viewers.size), 0)
    owner = np.where(has_others, rng.poisson(owner_if_others, viewers.size), 1 + rng.poisson(owner_if_alone, viewers.size))
    return others, owner


def _repeat_with_rank(counts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(owner position, rank within owner) for `counts[i]` copies of each position i."""
    who = np.repeat(np.arange(counts.size), counts)
    starts = np.cumsum(counts) - counts
    return who, np.arange(who.size) - starts[who]


def _add_views(rng: np.random.Generator, world: World) -> None:
    earner = np.flatnonzero(world.kind < 2)
    url = world.has_linkedin_url[earner]
    shared = world.shared[earner]
    p_linkedin = np.where(
        shared,
        P_LINKEDIN_VIEW_IF_SHARED,
        np.where(url, P_LINKEDIN_VIEW_NOT_SHARED[True], P_LINKEDIN_VIEW_NOT_SHARED[False]),
    )
    linkedin_viewer = rng.random(earner.size) < p_linkedin
    other_viewer = rng.random(earner.size) < np.where(url, P_OTHER_VIEW[True], P_OTHER_VIEW[False])
    linkedin_weights = np.array(LINKEDIN_REFERRER_WEIGHTS)
    other_weights = np.array(OTHER_REFERRER_WEIGHTS)

    owners: list[np.ndarray] = []
    ats: list[np.ndarray] = []
    referrers: list[np.ndarray] = []
    by_owner_parts: list[np.ndarray] = []
    certs: list[np.ndarray] = []

    def emit(
        local: np.ndarray, n_others: np.ndarray, n_owner: np.ndarray, linkedin: bool, lo: np.ndarray,
        hi: np.ndarray, near_end_share: float = 0.0,
    ) -> None:
        which, rank = _repeat_with_rank(n_others + n_owner)
        at = _uniform_between(rng, lo[which], hi[which])
        if near_end_share:
            # Some land in the last minutes before `hi` (the R 00:00 UTC boundary for pre-randomization views).
            near = rng.random(at.size) < near_end_share
            at[near] = np.maximum(hi[which][near] - rng.integers(0, 600, int(near.sum())), lo[which][near])
        owners.append(earner[local[which]])
        ats.append(at)
        if linkedin:
            referrers.append(_pick(rng, linkedin_weights, which.size))
        else:
            referrers.append(N_LINKEDIN_REFERRERS + _pick(rng, other_weights, which.size))
        by_owner_parts.append(rank >= n_others[which])
        certs.append(world.certificate_id[earner[local[which]]])

    window_lo = np.maximum(world.randomized_day[earner] * SECONDS_PER_DAY, world.granted_at[earner] + 60)
    as_of_end = np.full(earner.size, world.as_of_end)
    local = np.flatnonzero(linkedin_viewer)
    others, owner = _view_counts(rng, local, P_LINKEDIN_BY_OTHERS, 3.96, 0.33, 0.2)
    emit(local, others, owner, True, window_lo[local], as_of_end[local])
    local = np.flatnonzero(other_viewer)
    others, owner = _view_counts(rng, local, P_OTHER_BY_OTHERS, 5.4, 0.4, 0.3)
    emit(local, others, owner, False, window_lo[local], as_of_end[local])

    # Views before randomization exist and must not count.
    pre_lo = world.granted_at[earner] + 60
    pre_hi = world.randomized_day[earner] * SECONDS_PER_DAY - 1
    local = np.flatnonzero((rng.random(earner.size) < 0.12) & (pre_hi > pre_lo))
    n_pre = 1 + rng.poisson(0.8, local.size)
    n_pre_owner = rng.binomial(n_pre, 0.3)
    from_linkedin = rng.random(local.size) < 0.7
    for linkedin in (True, False):
        take = from_linkedin == linkedin
        sub = local[take]
        emit(sub, (n_pre - n_pre_owner)[take], n_pre_owner[take], linkedin, pre_lo[sub], pre_hi[sub], 0.1)

    # Views of the learner's other certificates: another certificate_id, they never count.
    viewed = np.flatnonzero(rng.random(world.other_cert_learner.size) < 0.15)
    holder = np.repeat(viewed, 1 + rng.poisson(1.5, viewed.size))
    owners.append(world.other_cert_learner[holder])
    ats.append(_uniform_between(rng, world.other_cert_granted[holder] + 60, np.full(holder.size, world.as_of_end)))
    referrers.append(
        np.where(
            rng.random(holder.size) < 0.6,
            _pick(rng, linkedin_weights, holder.size),
            N_LINKEDIN_REFERRERS + _pick(rng, other_weights, holder.size),
        )
    )
    by_owner_parts.append(rng.random(holder.size) < 0.2)
    certs.append(world.other_cert_id[holder])

    at = np.concatenate(ats)
    keep = at <= world.as_of_end
    world.view_at = at[keep]
    world.view_referrer = np.concatenate(referrers)[keep]
    world.view_by_owner = np.concatenate(by_owner_parts)[keep]
    world.view_cert = np.concatenate(certs)[keep]
    world.extra["view_learner"] = np.concatenate(owners)[keep]
    world.view_id = random_codes(rng, world.view_at.size, 16, "0123456789abcdef")


def _add_skills(rng: np.random.Generator, world: World, domain: np.ndarray) -> None:
    """1-4 skills per earner, Glicko-like skewed scores, all measured before randomization."""
    skills = reference.skills_by_domain()
    names = sorted({s for values in skills.values() for s in values})
    name_index = {name: i for i, name in enumerate(names)}
    domain_skills = [np.array([name_index[s] for s in skills[d]]) for d in PRIMARY_DOMAINS]
    skill_scale = 0.6 + 0.8 * rng.random(len(names))

    # Only randomized learners are scored, so "the mean of a skill over all learners" has one meaning.
    earner = np.flatnonzero(world.kind == 0)
    k = 1 + _pick(rng, np.array([0.35, 0.3, 0.2, 0.15]), earner.size)
    slots = np.repeat(earner, k)
    from_domain = rng.random(slots.size) < 0.7
    chosen = rng.integers(0, len(names), slots.size)
    for d, pool in enumerate(domain_skills):
        take = from_domain & (domain[slots] == d)
        chosen[take] = pool[rng.integers(0, pool.size, int(take.sum()))]
    pair = slots.astype(np.int64) * 64 + chosen
    _, first = np.unique(pair, return_index=True)
    first = np.sort(first)
    slots, chosen = slots[first], chosen[first]
    score = np.round(skill_scale[chosen] * rng.gamma(0.9, 0.072, slots.size), 4)
    lo = np.maximum(world.registered_at[slots], world.granted_at[slots] - 90 * SECONDS_PER_DAY)
    hi = world.randomized_day[slots] * SECONDS_PER_DAY - 1
    measured = _uniform_between(rng, lo, hi)
    world.skill_learner = slots
    world.skill_name = chosen
    world.skill_score = score
    world.skill_measured = measured
    world.skill_names = names


def _plant_learner_versions(rng: np.random.Generator, world: World, country_developing: np.ndarray) -> None:
    """Learner rows around randomization, as a real export has them. Each randomized learner gets at most one
    planted case, and none goes to a learner who already has an attribute update, so every learner's rows stay
    hours apart (minute-style timestamps never make two rows share a natural key)."""
    n = world.kind.size
    day_end = (world.randomized_day + 1) * SECONDS_PER_DAY  # first second after the randomization day
    world.exported_registration = np.ones(n, bool)
    world.registration_url = np.where(world.has_linkedin_url, 0, -1).astype(np.int8)
    world.url_crawled_later = np.zeros(n, bool)
    world.url_case = np.full(n, NO_CASE, dtype=object)
    world.attribute_case = np.full(n, NO_CASE, dtype=object)
    randomized = world.kind == 0
    updated_at_of = np.full(n, -1, np.int64)
    updated_at_of[world.update_learner] = world.update_at
    has_update = updated_at_of >= 0
    world.attribute_case[randomized & has_update & (updated_at_of < day_end)] = UPDATED_BEFORE
    world.attribute_case[randomized & has_update & (updated_at_of >= day_end)] = UPDATED_AFTER
    free = randomized & ~has_update
    u = rng.random(n)
    after = day_end + (rng.random(n) * np.maximum(world.as_of_end - day_end, 1)).astype(np.int64)

    late = free & ~world.has_linkedin_url & (u < np.where(world.treatment == 1, LATE_URL_RATE[1], LATE_URL_RATE[0]))
    changed = free & world.has_linkedin_url & (u < URL_CHANGE_RATE)
    on_day = free & world.has_linkedin_url & (u >= URL_CHANGE_RATE) & (u < URL_CHANGE_RATE + URL_ON_DAY_RATE)
    free &= ~(late | changed | on_day)
    v = rng.random(n)
    end_of_day = free & (v < EDGE_UPDATE_RATE)
    next_day = free & (v >= EDGE_UPDATE_RATE) & (v < 2 * EDGE_UPDATE_RATE)
    # Without a URL: a URL seen only in a version after randomization is not known to be in force at it.
    no_version = free & ~world.has_linkedin_url & (v >= 2 * EDGE_UPDATE_RATE) & (
        v < 2 * EDGE_UPDATE_RATE + NO_VERSION_RATE)

    world.url_case[late], world.url_case[changed], world.url_case[on_day] = URL_ADDED_AFTER, URL_CHANGED_AFTER, URL_ADDED_ON_DAY
    world.url_crawled_later[changed] = rng.random(int(changed.sum())) < URL_CRAWLED_LATER_SHARE
    world.registration_url[late | on_day] = -1
    world.attribute_case[end_of_day], world.attribute_case[next_day] = UPDATED_AT_END_OF_DAY, UPDATED_NEXT_DAY
    world.attribute_case[no_version] = NO_VERSION_BEFORE
    world.exported_registration[no_version] = False

    # New rows: the learner's state is unchanged except for what the case changes.
    rows_learner, rows_at, rows_url = [], [], []
    for mask, when, url in (
        (late, after, 0),
        (changed, after, 1),
        (on_day, day_end - SECONDS_PER_DAY + (rng.random(n) * (SECONDS_PER_DAY - 1)).astype(np.int64), 0),
        (end_of_day, day_end - 1, None),
        (next_day, day_end, None),
        (no_version, np.minimum(day_end + rng.integers(1, 90, n) * SECONDS_PER_DAY, world.as_of_end), None),
    ):
        members = np.flatnonzero(mask)
        rows_learner.append(members)
        rows_at.append(when[members])
        rows_url.append(np.full(members.size, url, np.int8) if url is not None else world.registration_url[members])
    learner = np.concatenate(rows_learner)
    education, gender, country = world.education[learner].copy(), world.gender[learner].copy(), world.country[learner].copy()
    # The edge updates change gender or country (within its OECD class), never the stratum the platform used.
    edge = np.isin(world.attribute_case[learner], (UPDATED_AT_END_OF_DAY, UPDATED_NEXT_DAY))
    flip_gender = edge & (rng.random(learner.size) < 0.5)
    gender[flip_gender] = np.where(gender[flip_gender] < 0, 1, -1)
    for position in np.flatnonzero(edge & ~flip_gender).tolist():
        same_class = np.flatnonzero(country_developing == country_developing[country[position]])
        same_class = same_class[same_class != country[position]]
        country[position] = same_class[rng.integers(0, same_class.size)]
    world.update_url = np.concatenate([world.registration_url[world.update_learner], *rows_url]).astype(np.int8)
    world.update_learner = np.concatenate([world.update_learner, learner])
    world.update_at = np.concatenate([world.update_at, np.concatenate(rows_at)])
    world.update_education = np.concatenate([world.update_education, education])
    world.update_gender = np.concatenate([world.update_gender, gender])
    world.update_country = np.concatenate([world.update_country, country])


def _plant_late_skills(rng: np.random.Generator, world: World) -> None:
    """Skill measurements after randomization (re-measured skills, mostly higher, and new skills), and a few on the
    randomization day itself (in force at randomization)."""
    n = world.kind.size
    world.skill_case = np.full(n, NO_CASE, dtype=object)
    scored = np.unique(world.skill_learner)
    u = rng.random(scored.size)
    later = scored[u < LATE_SKILL_RATE]
    on_day = scored[(u >= LATE_SKILL_RATE) & (u < LATE_SKILL_RATE + SKILL_ON_DAY_RATE)]
    world.skill_case[later], world.skill_case[on_day] = SKILL_MEASURED_AFTER, SKILL_MEASURED_ON_DAY
    # One existing (learner, skill) per chosen learner is measured again; later learners may also gain a new skill.
    first_row = np.searchsorted(world.skill_learner, np.concatenate([later, on_day]))
    # skill_learner is grouped by learner in ascending order (see _add_skills), so the first row is one of theirs.
    again_learner = world.skill_learner[first_row]
    again_skill = world.skill_name[first_row]
    again_score = np.round(world.skill_score[first_row] * (1.2 + rng.random(first_row.size)) + 0.01, 4)
    day_start = world.randomized_day[again_learner] * SECONDS_PER_DAY
    again_at = np.where(
        np.isin(again_learner, on_day),
        day_start + (rng.random(first_row.size) * (SECONDS_PER_DAY - 1)).astype(np.int64),
        day_start + SECONDS_PER_DAY + (rng.random(first_row.size) * np.maximum(
            world.as_of_end - day_start - SECONDS_PER_DAY, 1)).astype(np.int64),
    )
    new_learner = later[rng.random(later.size) < 0.5]
    owned = set(zip(world.skill_learner.tolist(), world.skill_name.tolist()))
    new_skill = rng.integers(0, len(world.skill_names), new_learner.size)
    keep = np.array([(i, k) not in owned for i, k in zip(new_learner.tolist(), new_skill.tolist())], bool)
    new_learner, new_skill = new_learner[keep], new_skill[keep]
    new_score = np.round(0.05 + 0.3 * rng.random(new_learner.size), 4)
    new_start = (world.randomized_day[new_learner] + 1) * SECONDS_PER_DAY
    new_at = new_start + (rng.random(new_learner.size) * np.maximum(world.as_of_end - new_start, 1)).astype(np.int64)
    world.skill_learner = np.concatenate([world.skill_learner, again_learner, new_learner])
    world.skill_name = np.concatenate([world.skill_name, again_skill, new_skill])
    world.skill_score = np.concatenate([world.skill_score, again_score, new_score])
    world.skill_measured = np.concatenate([world.skill_measured, again_at, new_at])
