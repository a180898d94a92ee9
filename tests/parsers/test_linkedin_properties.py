"""Property tests: whatever the input, parse_profile returns the contract, never raises, and is quick."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from parsers.linkedin import CONTRACT_KEYS, STATUSES, parse_profile

SECONDS_PER_CALL = 2.0
SAMPLES = Path(__file__).resolve().parents[2] / ".." / "shared" / "linkedin_samples"
GUEST_PAGE = SAMPLES / "guest_2023" / "guest_2023_en_grouped-positions_certs.html"

# Markup LinkedIn pages actually use, so that random soup reaches the layout parsers, not just the sniffers.
TAGS = ["div", "section", "ul", "li", "span", "h2", "h3", "h4", "p", "a", "time", "script", "button", "main"]
CLASSES = ["core-section-container pp-section experience", "core-section-container pp-section education",
           "core-section-container pp-section certifications", "experience__list", "experience-group",
           "experience-group__positions", "profile-section-card__title", "profile-section-card__subtitle",
           "date-range", "date-range__duration", "education__list", "education__item--degree-info",
           "certifications__list", "certifications__start-date", "certifications__end-date",
           "certifications__credential-id", "pvs-entity", "pvs-list", "t-bold", "t-14 t-normal",
           "t-14 t-normal t-black--light", "visually-hidden", "sr-only", "show-more-less-text__text--less", ""]
TEXTS = ["Mar 2022 - Present", "jan. de 2021 - o momento", "يناير 2022", "Credential ID X1", "2016 - 2020",
         "Issued", "Expires déc. 2021", "", "&amp;", "\u00a0", "<", "WSO2", "💡"]


def _check(result: dict, started: float) -> None:
    assert time.perf_counter() - started < SECONDS_PER_CALL
    assert tuple(result) == CONTRACT_KEYS
    assert result["status"] in STATUSES
    assert isinstance(result["positions"], list) and isinstance(result["profile_length_chars"], int)
    for position in result["positions"]:
        for key in ("start", "end"):
            assert position[key] is None or len(position[key]) in (4, 7)


@st.composite
def tag_soup(draw) -> bytes:
    pieces = ["<!DOCTYPE html><html><head><meta name='locale' content='en_US'></head><body>"]
    for _ in range(draw(st.integers(0, 60))):
        choice = draw(st.integers(0, 3))
        if choice == 0:
            tag = draw(st.sampled_from(TAGS))
            pieces.append(f"<{tag} class='{draw(st.sampled_from(CLASSES))}' aria-hidden='true'>")
        elif choice == 1:
            pieces.append(f"</{draw(st.sampled_from(TAGS))}>")
        elif choice == 2:
            pieces.append(draw(st.sampled_from(TEXTS)))
        else:
            pieces.append(draw(st.text(max_size=20)))
    if draw(st.booleans()):
        pieces.append("</body></html>")
    return "".join(pieces).encode("utf-8", "surrogatepass")


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=4096), st.sampled_from(["text/html", "application/json", ""]))
def test_random_bytes(body, content_type):
    started = time.perf_counter()
    _check(parse_profile(body, content_type), started)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(tag_soup())
def test_random_tag_soup(body):
    started = time.perf_counter()
    _check(parse_profile(body), started)


@settings(max_examples=60, deadline=None)
@given(st.text(max_size=300))
def test_random_json_text(text):
    started = time.perf_counter()
    _check(parse_profile(text.encode("utf-8", "surrogatepass"), "application/json"), started)


@pytest.mark.skipif(not GUEST_PAGE.is_file(), reason=f"real LinkedIn samples not found at {SAMPLES}")
@settings(max_examples=40, deadline=None)
@given(st.floats(0.0, 1.0), st.floats(0.0, 0.02))
def test_random_truncations_of_a_real_page(cut_at, cut_before):
    page = GUEST_PAGE.read_bytes()
    start = int(len(page) * cut_before)
    started = time.perf_counter()
    result = parse_profile(page[start: start + int(len(page) * cut_at)])
    _check(result, started)


def test_pathological_nesting_is_bounded():
    for body in (b"<div>" * 300_000, b"<ul><li>" * 100_000, b"<html><body>" + b"<span class='date-range'>" * 50_000):
        started = time.perf_counter()
        _check(parse_profile(body), started)
