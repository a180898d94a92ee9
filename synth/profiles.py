"""True structured LinkedIn profiles for learners who gave a LinkedIn URL, and the outcomes they imply.

The profiles are written in the parser's output shape (positions / education / certifications); another component
renders them as pages. Outcomes (credential_shared, new_job, ...) are computed from these structures with the rules
in `profile_outcomes`, the same definitions the pipeline applies to what it parses.
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

import numpy as np

from credsignal.reference.textnorm import strip_accents
from synth import reference
from synth.encoding import HEX, SECONDS_PER_DAY, random_codes
from synth.population import URL_ADDED_AFTER, URL_CHANGED_AFTER, World

PAGE_FAULTS = ("authwall", "empty", "truncated", "not_found")
PAGE_FAULT_WEIGHTS = (0.4, 0.2, 0.2, 0.2)
PAGE_FAULT_SHARE = 0.03
# Table 3: control means and ITT for the LinkedIn sample.
NEW_JOB_IN_SCOPE_CONTROL = 0.127
NEW_JOB_IN_SCOPE_EFFECT = 0.012
NEW_JOB_CONTROL = 0.173
NEW_JOB_EFFECT = 0.010
# Start-month weights decay**k for k months after randomization; tuned so that ~46% of in-scope and ~67% of other
# new jobs start >= 4 months after randomization, matching the 4-month control means 0.090 (all) and 0.059 (scope).
START_DECAY_OTHER = 0.96
START_DECAY_SCOPE = 0.81


@dataclass(frozen=True)
class LinkedinIdentity:
    learner_index: int
    slug: str
    profile_url: str
    linkedin_url: str
    language: str


def normalize_title(text: str) -> str:
    return strip_accents(text.lower())


def month_index(year: int, month: int) -> int:
    return year * 12 + month - 1


def month_text(index: int) -> str:
    return f"{index // 12:04d}-{index % 12 + 1:02d}"


def _epoch_month(seconds: int) -> int:
    day = np.datetime64(int(seconds // SECONDS_PER_DAY), "D").astype(object)
    return month_index(day.year, day.month)


def make_identities(rng: np.random.Generator, world: World) -> list[LinkedinIdentity]:
    countries = reference.countries()
    names = reference.people()["names"]
    members = np.flatnonzero(world.has_any_url())
    suffixes = random_codes(rng, members.size, 8, HEX)
    picks = rng.random((members.size, 5))
    identities = []
    for position, i in enumerate(members.tolist()):
        country = countries[world.country[i]]
        pool = names[country.language]
        first = pool["first"][int(picks[position, 0] * len(pool["first"]))]
        last = pool["last"][int(picks[position, 1] * len(pool["last"]))]
        base = f"{first}-{last}".lower().replace(" ", "-")
        if picks[position, 2] < 0.6:
            base = strip_accents(base)
        slug = f"{base}-{suffixes[position]}"
        encoded = quote(slug, safe="-")
        profile_url = f"https://www.linkedin.com/in/{encoded}"
        form = picks[position, 3]
        subdomain = country.subdomain
        if form < 0.40:
            url = f"https://www.linkedin.com/in/{slug}"
        elif form < 0.55:
            url = f"http://{subdomain}.linkedin.com/in/{slug}/"
        elif form < 0.65:
            url = f"https://m.linkedin.com/in/{slug}?trk=x"
        elif form < 0.70:
            url = f"https://m.linkedin.com/in/{slug}?trk=people-guest_people_search-card"
        elif form < 0.85:
            url = f"linkedin.com/in/{encoded}"
        elif form < 0.95:
            url = f"https://www.linkedin.com/in/{slug}/"
        else:
            url = f"www.linkedin.com/in/{slug}"
        language = country.language
        if language != "en" and picks[position, 4] < 0.2:
            language = "en"
        identities.append(LinkedinIdentity(i, slug, profile_url, url, language))
    return identities


def changed_identities(rng: np.random.Generator, world: World, identities: list[LinkedinIdentity]
                       ) -> dict[int, LinkedinIdentity]:
    """The new vanity URL of each learner whose URL changed after randomization (same person, new slug)."""
    changed = [ident for ident in identities if world.url_case[ident.learner_index] == URL_CHANGED_AFTER]
    suffixes = random_codes(rng, len(changed), 6, HEX)
    result = {}
    for ident, suffix in zip(changed, suffixes.tolist()):
        slug = f"{ident.slug.rsplit('-', 1)[0]}-{suffix}"
        encoded = quote(slug, safe="-")
        result[ident.learner_index] = LinkedinIdentity(
            ident.learner_index, slug, f"https://www.linkedin.com/in/{encoded}", f"https://www.linkedin.com/in/{slug}/",
            ident.language,
        )
    return result


def _credential_id_text(rng: random.Random, cert_id: str) -> str:
    form = rng.random()
    if form < 0.80:
        return cert_id
    if form < 0.88:
        return cert_id.lower()
    if form < 0.94:
        return " ".join(cert_id[i : i + 4] for i in range(0, 12, 4))
    return "-".join(cert_id[i : i + 4] for i in range(0, 12, 4))


def _credential_url(rng: random.Random, cert_id: str, credential_type: str) -> str:
    form = rng.random()
    if credential_type == "Specialization" and form < 0.5:
        path = f"account/accomplishments/specialization/certificate/{cert_id}"
    elif credential_type == "Professional Certificate" and form < 0.5:
        path = f"account/accomplishments/professional-cert/{cert_id}"
    elif form < 0.55:
        path = f"verify/{cert_id}"
    elif form < 0.85:
        path = f"account/accomplishments/certificate/{cert_id}"
    else:
        path = f"account/accomplishments/verify/{cert_id}"
    host = "https://www.coursera.org/" if rng.random() < 0.9 else "coursera.org/"
    query = "?utm_source=link&utm_medium=certificate&utm_content=cert_image" if rng.random() < 0.15 else ""
    return host + path + query


def _coursera_certification(
    rng: random.Random, cert_id: str, name: str, credential_type: str, granted_seconds: int
) -> dict[str, Any]:
    shows_id = rng.random() < 0.70
    credential_id = _credential_id_text(rng, cert_id) if shows_id else None
    url = _credential_url(rng, cert_id, credential_type) if (not shows_id or rng.random() < 0.6) else None
    return {
        "name": name,
        "issuer": "Coursera",
        "issued": month_text(_epoch_month(granted_seconds)),
        "expires": None,
        "credential_id": credential_id,
        "credential_url": url,
    }


class ProfileBuilder:
    def __init__(self, world: World, cwur_path: Path | None, seed: int) -> None:
        self.world = world
        self.rng = random.Random(seed)
        self.countries = reference.countries()
        self.courses = reference.courses()
        titles = reference.job_titles()
        self.titles = titles["titles"]
        self.scope_keywords = [strip_accents(k) for k in titles["scope_keywords"]]
        self.companies = titles["companies"]
        self.education = reference.education()
        self.ranked = reference.ranked_schools(cwur_path)
        self.other_certs = reference.other_certifications()
        self.as_of_month = month_index(world.as_of.year, world.as_of.month)
        self.certs_by_learner: dict[int, list[int]] = {}
        for position, learner in enumerate(world.other_cert_learner.tolist()):
            self.certs_by_learner.setdefault(learner, []).append(position)

    def _title(self, language: str, in_scope: bool) -> str:
        pools = self.titles[language]
        r = self.rng.random()
        if in_scope:
            group = "tech" if r < 0.6 else ("managerial" if r < 0.9 else "intern_scope")
        else:
            group = "other" if r < 0.8 else "intern_other"
        return self.rng.choice(pools[group])

    def _company(self, language: str) -> str:
        pool = self.companies[language] if self.rng.random() < 0.7 else self.companies["global"]
        return self.rng.choice(pool)

    def _location(self, country_index: int) -> str | None:
        if self.rng.random() < 0.2:
            return None
        return self.rng.choice(self.countries[country_index].cities)

    def _start_month(self, randomized_month: int, decay: float) -> int:
        span = self.as_of_month - randomized_month
        weights = [decay**k for k in range(1, span + 1)]
        return randomized_month + self.rng.choices(range(1, span + 1), weights=weights)[0]

    def build(self, identity: LinkedinIdentity) -> dict[str, Any]:
        rng, world = self.rng, self.world
        i = identity.learner_index
        language = identity.language
        randomized_month = _epoch_month(int(world.randomized_day[i]) * SECONDS_PER_DAY)
        randomized_year = randomized_month // 12
        treated = int(world.treatment[i])
        positions: list[dict[str, Any]] = []

        # Career before randomization.
        if rng.random() >= 0.15:
            years = min(rng.expovariate(1 / 3.3), 20.0)
            career_start = randomized_month - max(1, int(round(years * 12)))
            n_jobs = min(1 + int(rng.expovariate(1.0) * years / 2.5), 5)
            cuts = sorted(rng.sample(range(career_start + 1, randomized_month + 1), min(n_jobs - 1, randomized_month - career_start)))
            starts = [career_start] + cuts
            if rng.random() < 0.03:
                starts[-1] = randomized_month  # started in the randomization month itself: not a new job
            company = self._company(language)
            for k, start in enumerate(starts):
                if k > 0 and rng.random() >= 0.15:
                    company = self._company(language)  # otherwise a promotion: grouped roles at one employer
                last = k == len(starts) - 1
                end = None if last else starts[k + 1]
                positions.append(
                    {
                        "title": self._title(language, rng.random() < 0.2),
                        "company": company,
                        "location": self._location(int(world.country[i])),
                        "start": start,
                        "end": end,
                        "is_current": last,
                    }
                )
            if positions and rng.random() < 0.2:
                last = positions[-1]
                last["end"], last["is_current"] = randomized_month - rng.randint(0, 6), False
                if last["end"] < last["start"]:
                    last["end"] = last["start"]

        # New jobs after randomization (Table 3 targets).
        scope_probability = NEW_JOB_IN_SCOPE_CONTROL + NEW_JOB_IN_SCOPE_EFFECT * treated
        any_probability = NEW_JOB_CONTROL + NEW_JOB_EFFECT * treated
        other_probability = (any_probability - scope_probability) / (1 - scope_probability)
        new_in_scope = rng.random() < scope_probability
        new_other = (not new_in_scope) and rng.random() < other_probability
        if new_in_scope or new_other:
            start = self._start_month(randomized_month, START_DECAY_SCOPE if new_in_scope else START_DECAY_OTHER)
            current = [p for p in positions if p["is_current"]]
            company = current[0]["company"] if current and rng.random() < 0.2 else self._company(language)
            for previous in current:
                if rng.random() < 0.85:
                    previous["end"], previous["is_current"] = max(start - rng.randint(0, 1), previous["start"]), False
            positions.append(
                {
                    "title": self._title(language, new_in_scope),
                    "company": company,
                    "location": self._location(int(world.country[i])),
                    "start": start,
                    "end": None,
                    "is_current": True,
                }
            )
            if start < self.as_of_month and rng.random() < 0.08:
                positions[-1]["end"], positions[-1]["is_current"] = start + 1, False
                positions.append(
                    {
                        "title": self._title(language, new_in_scope),
                        "company": company,
                        "location": positions[-1]["location"],
                        "start": start + 1,
                        "end": None,
                        "is_current": True,
                    }
                )

        rendered_positions = []
        for position in sorted(positions, key=lambda p: (p["start"], p["end"] or 10**9), reverse=True):
            year_only = position["start"] // 12 < randomized_year and rng.random() < 0.05
            start, end = position["start"], position["end"]
            rendered_positions.append(
                {
                    "title": position["title"],
                    "company": position["company"],
                    "location": position["location"],
                    "start": str(start // 12) if year_only else month_text(start),
                    "end": None if end is None else (str(end // 12) if year_only else month_text(end)),
                    "is_current": position["is_current"],
                }
            )

        education = self._education(identity, randomized_year)
        certifications = self._certifications(i)
        page_fault = None
        if rng.random() < PAGE_FAULT_SHARE:
            page_fault = rng.choices(PAGE_FAULTS, weights=PAGE_FAULT_WEIGHTS)[0]
        return {
            "learner_id": str(world.learner_id[i]),
            "profile_url": identity.profile_url,
            "language": language,
            "positions": rendered_positions,
            "education": education,
            "certifications": certifications,
            "page_fault": page_fault,
        }

    def _education(self, identity: LinkedinIdentity, randomized_year: int) -> list[dict[str, Any]]:
        rng = self.rng
        language = identity.language
        country = self.countries[int(self.world.country[identity.learner_index])]
        count = rng.choices([0, 1, 2, 3], weights=[0.12, 0.5, 0.3, 0.08])[0]
        entries = []
        end_year = randomized_year + rng.choice([-12, -8, -5, -3, -2, -1, 0, 1, 2])
        for _ in range(count):
            ranked = self.ranked.get(country.name)
            if ranked and rng.random() < 0.35:
                school = rng.choice(ranked)
            elif rng.random() < 0.1:
                school = rng.choice(self.ranked["*"])
            else:
                school = rng.choice(self.education["local_schools"][language])
            degree = rng.choice(self.education["degrees"][language])[0]
            length = rng.choice([2, 3, 4, 4, 5])
            has_years = rng.random() >= 0.1
            entries.append(
                {
                    "school": school,
                    "degree": degree if rng.random() >= 0.08 else None,
                    "field": rng.choice(self.education["fields"][language]),
                    "start_year": end_year - length if has_years else None,
                    "end_year": end_year if has_years else None,
                }
            )
            end_year -= length + rng.randint(0, 3)
        return entries

    def _certifications(self, i: int) -> list[dict[str, Any]]:
        rng, world = self.rng, self.world
        entries = []
        study_course = self.courses[int(world.course[i])]
        if world.shared[i]:
            entries.append(
                _coursera_certification(
                    rng, str(world.certificate_id[i]), study_course.name, study_course.credential_type,
                    int(world.granted_at[i]),
                )
            )
        for position in self.certs_by_learner.get(i, []):
            if rng.random() < 0.35:
                course = self.courses[int(world.other_cert_course[position])]
                entries.append(
                    _coursera_certification(
                        rng, str(world.other_cert_id[position]), course.name, course.credential_type,
                        int(world.other_cert_granted[position]),
                    )
                )
        for _ in range(rng.choices([0, 1, 2], weights=[0.6, 0.3, 0.1])[0]):
            other = rng.choice(self.other_certs)
            issued = month_index(rng.randint(2018, 2023), rng.randint(1, 12))
            issued = min(issued, self.as_of_month)
            entries.append(
                {
                    "name": other["name"],
                    "issuer": other["issuer"],
                    "issued": month_text(issued) if rng.random() < 0.9 else None,
                    "expires": month_text(issued + 36) if rng.random() < 0.2 else None,
                    "credential_id": "".join(rng.choice("ABCDEFGHJKLMNPQRSTUVWXYZ0123456789") for _ in range(10))
                    if rng.random() < 0.4
                    else None,
                    "credential_url": None,
                }
            )
        rng.shuffle(entries)
        return entries

    def in_scope(self, title: str) -> bool:
        normalized = normalize_title(title)
        return any(keyword in normalized for keyword in self.scope_keywords)


_YEAR_MONTH = re.compile(r"^(\d{4})-(\d{2})$")


def profile_outcomes(
    profile: dict[str, Any], randomized_month: int, as_of_month: int, study_certificate_id: str,
    in_scope: Any,
) -> dict[str, int]:
    """Outcome definitions (Section 3.4.3) applied to one structured profile.

    credential_shared: the study certificate's ID appears in a certification's credential_id (ignoring case, spaces
    and hyphens) or in its credential_url. new_job: a position whose start month is >= randomization month + 1 and
    <= the as_of month (year-only starts never qualify; the generator only emits them for years before
    randomization). *_4m: start month >= randomization month + 4. *_in_scope: the title matches a scope keyword.
    """
    shared = 0
    for certification in profile["certifications"]:
        text = re.sub(r"[\s\-]", "", certification.get("credential_id") or "").upper()
        url = (certification.get("credential_url") or "").upper()
        if text == study_certificate_id or study_certificate_id in url:
            shared = 1
    flags = {"new_job": 0, "new_job_4m": 0, "new_job_in_scope": 0, "new_job_in_scope_4m": 0}
    for position in profile["positions"]:
        match = _YEAR_MONTH.match(position["start"] or "")
        if not match:
            continue
        start = month_index(int(match.group(1)), int(match.group(2)))
        if not randomized_month + 1 <= start <= as_of_month:
            continue
        scope = in_scope(position["title"])
        flags["new_job"] = 1
        flags["new_job_in_scope"] |= int(scope)
        if start >= randomized_month + 4:
            flags["new_job_4m"] = 1
            flags["new_job_in_scope_4m"] |= int(scope)
    return {"credential_shared": shared, **flags}
