"""The real parser reads the synthetic pages as crawl_expected says it must (the project's bar: 99.5% of fields)."""

from __future__ import annotations

import importlib
import inspect
from typing import Any

import pytest

from synth.profile_pages import render_page

AGREEMENT_BAR = 0.995
ENTRY_FIELDS = {
    "positions": ("title", "company", "location", "start", "end", "is_current"),
    "education": ("school", "degree", "field", "start_year", "end_year"),
    "certifications": ("name", "issuer", "issued", "expires", "credential_id", "credential_url"),
}


def _parser():
    try:
        module = importlib.import_module("parsers.linkedin")
        return module.parse_profile
    except (ImportError, AttributeError) as error:
        pytest.skip(f"parsers.linkedin.parse_profile is not importable yet ({error}); nothing to compare against")


def field_agreement(expected: dict[str, Any], parsed: dict[str, Any]) -> tuple[int, int, list[str]]:
    """(agreeing fields, compared fields, disagreements). A missing or extra entry counts all its fields."""
    total = agreeing = 0
    disagreements: list[str] = []

    def compare(name: str, want: Any, got: Any) -> None:
        nonlocal total, agreeing
        total += 1
        if want == got:
            agreeing += 1
        else:
            disagreements.append(f"{name}: expected {want!r}, parsed {got!r}")

    compare("status", expected["status"], parsed.get("status"))
    if expected["status"] in ("ok", "partial"):
        compare("language", expected["language"], parsed.get("language"))
    for kind, fields in ENTRY_FIELDS.items():
        want_entries, got_entries = expected[kind], parsed.get(kind) or []
        for index in range(max(len(want_entries), len(got_entries))):
            want = want_entries[index] if index < len(want_entries) else {}
            got = got_entries[index] if index < len(got_entries) else {}
            for field_name in fields:
                compare(f"{kind}[{index}].{field_name}", want.get(field_name, "<missing>"),
                        got.get(field_name, "<missing>"))
    return agreeing, total, disagreements


def test_parser_agrees_with_expected_structure(make_profiles):
    parse_profile = _parser()
    accepts_status = "http_status" in inspect.signature(parse_profile).parameters
    agreeing = total = 0
    failures: list[str] = []
    profiles = make_profiles(400, seed=2023)
    for index, profile in enumerate(profiles):
        page = render_page(profile, seed=7, padding=index % 4 == 0, rate_limited=index % 97 == 0)
        kwargs = {"http_status": page.http_status} if accepts_status else {}
        parsed = parse_profile(page.body.encode("utf-8"), page.content_type, **kwargs)
        good, compared, disagreements = field_agreement(page.expected, parsed)
        agreeing += good
        total += compared
        failures += [f"{profile['profile_url']} ({profile['language']}, {page.expected['page_fault']}): {d}"
                     for d in disagreements]
    agreement = agreeing / total
    print(f"\nparser field agreement: {agreement:.4%} over {total} fields; {len(failures)} disagreements")
    for failure in failures[:40]:
        print("  ", failure)
    assert agreement >= AGREEMENT_BAR, "\n".join(failures[:20])
