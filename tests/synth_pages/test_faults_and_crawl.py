"""Page faults, sizes, determinism, and the crawl files write_crawl produces."""

from __future__ import annotations

import gzip
import json

import lxml.html
import pytest

from synth.profile_pages import RATE_LIMITED, read_truth_profiles, render_page, render_profile_page, write_crawl


def test_rendering_is_deterministic(make_profiles):
    for profile in make_profiles(10, seed=1, page_fault=None):
        assert render_profile_page(profile, seed=4) == render_profile_page(profile, seed=4)
        assert render_profile_page(profile, seed=4) != render_profile_page(profile, seed=5)


def test_padded_pages_weigh_like_real_ones(make_profiles):
    for profile in make_profiles(25, seed=2, page_fault=None):
        size = len(render_profile_page(profile, seed=1).encode("utf-8"))
        assert 100_000 <= size <= 260_000
        assert len(render_profile_page(profile, seed=1, padding=False)) < 80_000


@pytest.mark.parametrize("fault", ["authwall", "empty", "not_found", "truncated"])
def test_page_faults(make_profiles, fault):
    for profile in make_profiles(15, seed=3, page_fault=fault):
        page = render_page(profile, seed=1)
        assert page.expected["page_fault"] == fault
        if fault == "empty":
            assert page.body == "" and page.http_status == 200 and page.expected["status"] == "empty"
        elif fault == "authwall":
            assert page.http_status == 200 and page.expected["status"] == "not_a_profile"
            root = lxml.html.document_fromstring(page.body)
            assert root.xpath("//form[contains(@class,'join-form')]")
            assert not root.xpath("//ul[contains(@class,'experience__list')]")
        elif fault == "not_found":
            assert page.http_status == 404 and len(page.body) < 5_000
            assert lxml.html.document_fromstring(page.body).xpath("//main[contains(@class,'page-not-found')]")
        if fault != "truncated":
            assert page.expected["positions"] == page.expected["education"] == page.expected["certifications"] == []


def test_truncated_pages_keep_exactly_the_entries_that_arrived(make_profiles):
    profiles = [p for p in make_profiles(80, seed=4, page_fault="truncated") if p["positions"] or p["certifications"]]
    lost_something = 0
    for profile in profiles:
        full = render_page({**profile, "page_fault": None}, seed=1)
        cut = render_page(profile, seed=1)
        assert cut.expected["status"] == "partial" and cut.http_status == 200
        assert full.body.startswith(cut.body) and len(cut.body) < len(full.body)
        assert "</body>" not in cut.body and "</html>" not in cut.body
        for kind in ("positions", "education", "certifications"):
            kept = cut.expected[kind]
            assert kept == full.expected[kind][:len(kept)]
        # The cut lies inside a profile section: what was kept ends at the last closed entry.
        kept_positions = len(cut.expected["positions"])
        closed_cards = cut.body.count('experience-item" data-section') + cut.body.count('experience-group-position" data-section')
        assert kept_positions in (closed_cards, closed_cards - 1)
        lost_something += sum(len(full.expected[k]) - len(cut.expected[k])
                              for k in ("positions", "education", "certifications")) > 0
    assert lost_something > len(profiles) // 2


def test_rate_limited_response():
    profile = {"learner_id": "L1", "profile_url": "https://www.linkedin.com/in/a-1", "language": "en",
               "page_fault": None, "positions": [], "education": [], "certifications": []}
    page = render_page(profile, seed=1, rate_limited=True)
    assert page.http_status == 999 and "trkInfo" in page.body
    assert page.expected["page_fault"] == RATE_LIMITED and page.expected["status"] == "not_a_profile"


def _read_jsonl_gz(path):
    with gzip.open(path, "rt", encoding="utf-8") as handle:
        return [json.loads(line) for line in handle]


def test_write_crawl_files(tmp_path, make_profiles, write_truth):
    profiles = make_profiles(45, seed=9)
    write_truth(tmp_path, profiles)
    summary = write_crawl(tmp_path, crawl_id="2023-09", seed=7, fetched_at="2023-09-15T06:00:00Z",
                          records_per_part=20, rate_limited_share=0.1)
    crawl_dir = tmp_path / "linkedin" / "crawl=2023-09"
    assert [p.name for p in summary.parts] == ["part-00000.jsonl.gz", "part-00001.jsonl.gz", "part-00002.jsonl.gz"]
    assert sorted(p.name for p in crawl_dir.iterdir()) == [p.name for p in summary.parts]
    records = [r for part in summary.parts for r in _read_jsonl_gz(part)]
    expected = _read_jsonl_gz(tmp_path / "_truth" / "crawl_expected.jsonl.gz")
    assert summary.records == len(records) == len(expected) == len(profiles)
    assert [r["profile_url"] for r in records] == [p["profile_url"] for p in profiles] == [e["profile_url"] for e in expected]
    for record, expectation, profile in zip(records, expected, profiles):
        assert set(record) == {"profile_url", "fetched_at", "http_status", "content_type", "body"}
        assert record["content_type"] == "text/html"
        assert record["fetched_at"].startswith("2023-09-15T") and record["fetched_at"].endswith("Z")
        assert record["http_status"] == expectation["http_status"]
        assert expectation["status"] in {"ok", "partial", "not_a_profile", "empty"}
        if profile["page_fault"] is None and expectation["page_fault"] is None:
            assert len(expectation["positions"]) == len(profile["positions"])
    fetched = [r["fetched_at"] for r in records]
    assert fetched == sorted(fetched)
    assert summary.by_page_fault.get(RATE_LIMITED, 0) >= 1

    # Same seed, same bytes (gzip mtime 0), however many processes render; a previous run's parts are replaced.
    first = [p.read_bytes() for p in summary.parts] + [summary.expected_path.read_bytes()]
    again = write_crawl(tmp_path, crawl_id="2023-09", seed=7, fetched_at="2023-09-15T06:00:00Z",
                        records_per_part=20, rate_limited_share=0.1, workers=2)
    assert [p.read_bytes() for p in again.parts] + [again.expected_path.read_bytes()] == first
    assert (again.records, again.body_bytes, again.by_language) == (summary.records, summary.body_bytes,
                                                                   summary.by_language)
    assert first[0][4:8] == b"\x00\x00\x00\x00"  # gzip header mtime


def test_truth_reader_skips_blank_lines(tmp_path):
    path = tmp_path / "p.jsonl.gz"
    with gzip.open(path, "wt", encoding="utf-8") as handle:
        handle.write('{"learner_id": "a"}\n\n{"learner_id": "b"}\n')
    assert [p["learner_id"] for p in read_truth_profiles(path)] == ["a", "b"]
