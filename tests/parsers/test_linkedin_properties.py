"""Property and fuzz tests: whatever the input, parse_profile returns the contract, never raises, never reports
``internal_error``, and is quick.

Inputs: arbitrary bytes, tag soup, JSON text, and mutations of the real sample pages and vendor records
(truncations, byte and character edits, control characters and odd character references, stray markup, deep
nesting, huge attributes, declared charset and language removed or changed; mutators in
tests/parser_mutations.py, pages read from ../shared at test time). Every test is derandomized and keeps no
example database, so CI runs the same examples every time; the whole file takes well under a minute of CPU.
The long run (100,000 inputs) is bench/fuzz_parser.py.
"""

from __future__ import annotations

import json
import time
from datetime import timedelta
from functools import lru_cache
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

import parser_mutations as mutations
from parsers.linkedin import parse_profile
from parsers.linkedin.result import contract_violations

SECONDS_PER_CALL = 5.0
SAMPLES = Path(__file__).resolve().parents[2] / ".." / "shared" / "linkedin_samples"
GUEST_PAGES = ("guest_2023/guest_2023_en_grouped-positions_certs.html",
               "guest_2023/guest_2023_en_credential-id_expires.html")
PARSED_PAGES = (*GUEST_PAGES, "loggedin_2022/austin.html", "loggedin_2022/austin_exp.html")
ALL_PAGES = (*PARSED_PAGES, "guest_legacy_2015/iteles.html", "guest_legacy_2015/nelsonic.html")
VENDOR_FILE = "json_brightdata/profiles_by_url.json"

FUZZ = settings(derandomize=True, database=None, deadline=timedelta(seconds=SECONDS_PER_CALL),
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                       HealthCheck.large_base_example])
needs_samples = pytest.mark.skipif(not SAMPLES.is_dir(), reason=f"real LinkedIn samples not found at {SAMPLES}")

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
         "Issued", "Expires déc. 2021", "", "&amp;", "&#1;", "&#xfffe;", "\x0c", "\u00a0", "<", "WSO2", "💡"]


@lru_cache(maxsize=None)
def sample(relative_path: str) -> bytes:
    return (SAMPLES / relative_path).read_bytes()


@lru_cache(maxsize=None)
def parsed_sample(relative_path: str) -> dict:
    return parse_profile(sample(relative_path))


def parse_checked(body, content_type="text/html") -> dict:
    """parse_profile, asserting the properties every input must have."""
    started = time.perf_counter()
    result = parse_profile(body, content_type)
    assert time.perf_counter() - started < SECONDS_PER_CALL
    assert contract_violations(result) == []
    assert not (result["reason"] or "").startswith("internal_error"), result["reason"]
    return result


def entries(result: dict) -> tuple:
    return result["positions"], result["education"], result["certifications"]


@st.composite
def tag_soup(draw) -> bytes:
    pieces = [draw(st.sampled_from(["<!DOCTYPE html><html><head><meta name='locale' content='en_US'></head><body>",
                                    "<!DOCTYPE html><html><head></head><body>", "<html><body>", ""]))]
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


@settings(FUZZ, max_examples=200)
@given(st.binary(max_size=4096), st.sampled_from(["text/html", "application/json", "", None, 5]))
def test_arbitrary_bytes(body, content_type):
    parse_checked(body, content_type)


@settings(FUZZ, max_examples=150)
@given(tag_soup())
def test_tag_soup(body):
    parse_checked(body)


@settings(FUZZ, max_examples=60)
@given(st.text(max_size=300))
def test_arbitrary_json_text(text):
    parse_checked(text.encode("utf-8", "surrogatepass"), "application/json")


@needs_samples
@settings(FUZZ, max_examples=150)
@given(st.sampled_from(ALL_PAGES), st.lists(st.sampled_from(mutations.PAGE_MUTATORS), min_size=1, max_size=3),
       st.randoms(use_true_random=False))
def test_mutated_real_pages(page_name, mutators, rng):
    body = sample(page_name)
    for mutator in mutators:
        body = mutations.mutate_page(body, rng, mutator, [sample(name) for name in ALL_PAGES])

    parse_checked(body)


@needs_samples
@settings(FUZZ, max_examples=40)
@given(st.sampled_from(PARSED_PAGES), st.sampled_from(["language", "charset", "both"]),
       st.sampled_from(mutations.CHARSETS))
def test_real_pages_without_their_declarations_keep_every_entry(page_name, removed, charset):
    """Removing the declared language (and/or declaring a wrong or bogus charset) loses nothing."""
    body = sample(page_name)
    if removed in ("language", "both"):
        body = mutations.strip_declared_language(body)
    if removed in ("charset", "both"):
        body = mutations.declare_charset(body, charset)
    original = parsed_sample(page_name)

    result = parse_checked(body)

    assert (result["status"], result["layout"]) == (original["status"], original["layout"])
    assert entries(result) == entries(original)
    assert result["language"] == original["language"] == "en"


@needs_samples
@settings(FUZZ, max_examples=60)
@given(st.sampled_from(GUEST_PAGES), st.floats(0.0, 1.0), st.booleans())
def test_truncated_real_pages_keep_only_complete_entries(page_name, cut_at, strip_language):
    page = mutations.strip_declared_language(sample(page_name)) if strip_language else sample(page_name)

    result = parse_checked(page[: int(len(page) * cut_at)])

    if result["status"] == "partial":
        for full, kept in zip(entries(parsed_sample(page_name)), entries(result)):
            assert kept == full[: len(kept)]


@needs_samples
@settings(FUZZ, max_examples=25)
@given(st.sampled_from(GUEST_PAGES), st.floats(0.0, 1.0),
       st.sampled_from([b"<div>", b"<ul><li>", b"<span class='date-range'>", b"<b><i>", b"<table><tr><td>"]),
       st.integers(1, 200_000))
def test_deep_nesting_inside_a_real_page(page_name, at, tag, depth):
    page = sample(page_name)
    cut = int(len(page) * at)

    parse_checked(page[:cut] + tag * depth + page[cut:])


@needs_samples
@settings(FUZZ, max_examples=25)
@given(st.sampled_from(GUEST_PAGES), st.sampled_from([b"experience__list ", b"x", b'"', b"&#1;"]),
       st.integers(1, 400_000))
def test_huge_attribute_inside_a_real_page(page_name, token, repeats):
    page = sample(page_name)
    at = page.find(b'<li class="')

    result = parse_checked(page[:at] + b"<li class='" + token * repeats + b"'>" + page[at:])

    assert result["status"] in ("ok", "too_large")


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=30),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4),
    max_leaves=20,
)


@needs_samples
@settings(FUZZ, max_examples=100)
@given(st.integers(0, 10_000), st.lists(st.tuples(st.integers(0, 10_000), JSON_VALUES), min_size=1, max_size=8))
def test_vendor_records_with_values_of_the_wrong_type(record_index, replacements):
    records = json.loads(sample(VENDOR_FILE))
    record = records[record_index % len(records)]
    for path_index, value in replacements:
        paths = _value_paths(record)  # again after each replacement: the one before may have changed the shape
        _replace(record, paths[path_index % len(paths)], value)

    result = parse_checked(mutations.json_body(record), "application/json")

    assert result["status"] in ("ok", "not_a_profile")


@settings(FUZZ, max_examples=20)
@given(st.integers(1, 100_000), st.sampled_from([b"[", b'{"a":', b'{"experience":[']))
def test_deeply_nested_json(depth, opener):
    parse_checked(opener * depth, "application/json")
    parse_checked(mutations.nested_json(min(depth, 900)), "application/json")


def _value_paths(node, prefix=()) -> list[tuple]:
    """Every path (keys and list indexes) to a value inside ``node``, the root's children first."""
    children = node.items() if isinstance(node, dict) else enumerate(node) if isinstance(node, list) else []
    paths = []
    for key, child in children:
        paths.append((*prefix, key))
        paths.extend(_value_paths(child, (*prefix, key)))
    return paths


def _replace(record, path: tuple, value) -> None:
    node = record
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value


def test_pathological_nesting_is_bounded():
    for body in (b"<div>" * 300_000, b"<ul><li>" * 100_000, b"<html><body>" + b"<span class='date-range'>" * 50_000):
        parse_checked(body)
