"""Statuses and reasons for what is not a clean profile, translated labels, JSON-LD dates, and the CLI."""

from __future__ import annotations

import gzip
import io
import json
import os
import re
from contextlib import redirect_stdout

import pytest

from parsers.linkedin import CONTRACT_KEYS, parse_profile
from parsers.linkedin.__main__ import main as cli_main

GUEST_GROUPED = "guest_2023/guest_2023_en_grouped-positions_certs.html"
GUEST_CREDENTIALS = "guest_2023/guest_2023_en_credential-id_expires.html"

AUTHWALL = (b'<!DOCTYPE html><html><head><title>Sign Up | LinkedIn</title></head><body>'
            b'<main class="authwall-join-form"><form class="join-form" action="/signup"></form>'
            b'<a href="https://www.linkedin.com/authwall?trk=public_profile">Sign in</a></main></body></html>')
HTTP_999 = (b'<html><head><script type="text/javascript">window.onload = function() {'
            b'var trk = "bf"; var trkInfo = "bf"; var cookies = document.cookie.split("; ");'
            b'window.location.href = "https://www.linkedin.com/authwall?trk=" + trk + "&trkInfo=" + trkInfo;'
            b'}</script></head></html>')
NOT_FOUND = ('<!DOCTYPE html><html><head><title>Página não encontrada | LinkedIn</title></head>'
             '<body><h1>Esta página não existe</h1></body></html>').encode()
CAPTCHA = (b'<!DOCTYPE html><html><body><form id="captcha-internal" action="/checkpoint/challenge/verify">'
           b'<div class="g-recaptcha"></div></form></body></html>')


@pytest.mark.parametrize("body, status, reason", [
    (b"", "empty", "empty_body"),
    (b" \n\t ", "empty", "empty_body"),
    (None, "empty", "empty_body"),
    (AUTHWALL, "not_a_profile", "authwall"),
    (HTTP_999, "not_a_profile", "http_999_page"),
    (NOT_FOUND, "not_a_profile", "http_404_page"),
    (CAPTCHA, "not_a_profile", "captcha"),
    (b"<html><body><p>a blog post</p></body></html>", "not_a_profile", "unknown_layout"),
    (b"<!-- nothing -->", "not_a_profile", "no_html_content"),
    (b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4, "unparseable", "binary"),
    (os.urandom(4096), "unparseable", "binary"),
    (b"plain text, no markup", "unparseable", "not_html"),
    (12345, "unparseable", "not_bytes"),
])
def test_non_profile_bodies(body, status, reason):
    result = parse_profile(body)

    assert (result["status"], result["reason"]) == (status, reason)
    assert tuple(result) == CONTRACT_KEYS
    assert result["positions"] == result["education"] == result["certifications"] == []


def test_recorded_http_status_wins():
    assert parse_profile(b"<html></html>", http_status=999)["reason"] == "http_999_page"
    assert parse_profile(b"<html></html>", http_status=404)["reason"] == "http_404"
    assert parse_profile(b"", http_status=999)["status"] == "empty"


def test_size_cap_is_configurable_and_applies_after_gunzip(read_sample):
    page = read_sample(GUEST_GROUPED)

    assert parse_profile(page, max_bytes=100_000)["status"] == "too_large"
    assert parse_profile(page, max_bytes=100_000)["reason"] == "over_size_cap"
    assert parse_profile(gzip.compress(page), max_bytes=100_000)["status"] == "too_large"
    assert parse_profile(b"<html>" + b" " * (5 * 1024 * 1024))["status"] == "too_large"  # default cap: 5 MB
    assert parse_profile(gzip.compress(page))["positions"] == parse_profile(page)["positions"]


@pytest.mark.parametrize("fraction", [0.2, 0.35, 0.5, 0.6, 0.7, 0.8, 0.95])
def test_truncated_page_keeps_only_complete_entries(read_sample, fraction):
    page = read_sample(GUEST_GROUPED)
    full = parse_profile(page)

    result = parse_profile(page[: int(len(page) * fraction)])

    assert (result["status"], result["reason"], result["layout"]) == ("partial", "truncated", "guest_v3")
    for key in ("positions", "education", "certifications"):
        assert result[key] == full[key][: len(result[key])]


def test_truncation_inside_a_grouped_employer_keeps_finished_roles(read_sample):
    page = read_sample(GUEST_GROUPED)
    role_starts = [match.start() for match in re.finditer(rb'<li class="[^"]*experience-group-position[ "]', page)]

    result = parse_profile(page[: role_starts[1] + 200])  # cut inside the second WSO2 role

    assert [(p["title"], p["company"]) for p in result["positions"]][-1] == ("Senior Software Engineer", "WSO2")


def _guest_page(locale: str, date_range: str, issued: str, expires: str, credential_id: str) -> bytes:
    redirect = ("https://www.linkedin.com/redir/redirect?url=https%3A%2F%2Fwww%2Ecoursera%2Eorg%2Fverify%2F"
                "abc123def456&amp;urlhash=x&amp;trk=public_profile_certification-title")
    return f"""<!DOCTYPE html><html lang="{locale[:2]}"><head><meta name="locale" content="{locale}"></head>
<body><main>
<section class="core-section-container pp-section experience"><h2>titre</h2><ul class="experience__list">
<li class="profile-section-card experience-item"><h3 class="profile-section-card__title"> Analista </h3>
<h4 class="profile-section-card__subtitle"><a class="profile-section-card__subtitle-link">Empresa</a></h4>
<p class="experience-item__duration"><span class="date-range">{date_range}</span></p>
<p class="experience-item__location">Bogotá</p></li></ul></section>
<section class="core-section-container pp-section certifications"><ul class="certifications__list">
<li class="profile-section-card"><h3><a class="profile-section-card__title-link" href="{redirect}">Data</a></h3>
<h4>Coursera</h4><div class="certifications__date-range"><span class="certifications__start-date">{issued}</span>
<span class="certifications__end-date">{expires}</span></div>
<div class="certifications__credential-id">{credential_id}</div></li></ul></section>
</main></body></html>""".encode()


@pytest.mark.parametrize("locale, date_range, issued, expires, credential_id", [
    ("pt_BR", "<time>jan. de 2021</time> - o momento<span class='date-range__duration'>2 anos</span>",
     "Emitido em <time>set. de 2020</time>", "Expira em <time>set. de 2023</time>", "ID da credencial AB12-CD34"),
    ("es_ES", "<time>ene. 2021</time> - actualidad<span class='date-range__duration'>2 años</span>",
     "Expedición: <time>sept. 2020</time>", "Vence: <time>sept. 2023</time>", "ID de la credencial AB12-CD34"),
    ("fr_FR", "<time>janv. 2021</time> - aujourd’hui<span class='date-range__duration'>2 ans</span>",
     "Émis le <time>sept. 2020</time>", "Expire le <time>sept. 2023</time>", "ID de la certification AB12-CD34"),
    ("ar_AE", "<time>يناير 2021</time> - حتى الآن<span class='date-range__duration'>سنتان</span>",
     "تاريخ الإصدار <time>سبتمبر 2020</time>", "تنتهي صلاحيتها في <time>سبتمبر 2023</time>",
     "معرّف الشهادة AB12-CD34"),
    ("en_US", "<time>Jan 2021</time> - Present<span class='date-range__duration'>2 yrs</span>",
     "Issued <time>Sep 2020</time>", "Expires <time>Sep 2023</time>", "Credential ID AB12-CD34"),
])
def test_translated_guest_page(locale, date_range, issued, expires, credential_id):
    result = parse_profile(_guest_page(locale, date_range, issued, expires, credential_id))

    assert (result["status"], result["language"]) == ("ok", locale[:2])
    assert [(p["title"], p["company"], p["location"], p["start"], p["end"], p["is_current"])
            for p in result["positions"]] == [("Analista", "Empresa", "Bogotá", "2021-01", None, True)]
    assert result["certifications"] == [{
        "name": "Data", "issuer": "Coursera", "issued": "2020-09", "expires": "2023-09",
        "credential_id": "AB12-CD34", "credential_url": "https://www.coursera.org/verify/abc123def456",
        "credential_id_normalized": "AB12CD34",
    }]


def test_unknown_credential_label_falls_back_to_the_last_word():
    page = _guest_page("de_DE", "<time>2021</time>", "", "", "Nachweis-ID XY99")

    assert parse_profile(page)["certifications"][0]["credential_id"] == "XY99"


def test_jsonld_fills_year_only_and_unreadable_dates():
    jsonld = {"@context": "http://schema.org", "@graph": [{"@type": "Person",
              "worksFor": [{"@type": "Organization", "name": "Empresa",
                            "member": {"@type": "OrganizationRole", "startDate": "2021-05"}}],
              "alumniOf": [{"@type": "Organization", "name": "Outra",
                            "member": {"@type": "OrganizationRole", "startDate": "2018-02", "endDate": "2020-11"}},
                           {"@type": "EducationalOrganization", "name": "Universidade",
                            "member": {"@type": "OrganizationRole", "startDate": 2012, "endDate": 2016}}]}]}
    page = f"""<!DOCTYPE html><html><head><meta name="locale" content="de_DE">
<script type="application/ld+json">{json.dumps(jsonld)}</script></head><body><main>
<section class="core-section-container pp-section experience"><ul class="experience__list">
<li class="experience-item"><h3 class="profile-section-card__title">A</h3>
<h4 class="profile-section-card__subtitle">Empresa</h4><span class="date-range">Mai 2021 - heute</span></li>
<li class="experience-item"><h3 class="profile-section-card__title">B</h3>
<h4 class="profile-section-card__subtitle">Outra</h4><span class="date-range">2018 - 2020</span></li></ul></section>
<section class="core-section-container pp-section education"><ul class="education__list">
<li class="education__list-item"><h3>Universidade</h3></li></ul></section></main></body></html>""".encode()

    result = parse_profile(page)

    assert [(p["start"], p["end"], p["is_current"]) for p in result["positions"]] == [
        ("2021-05", None, True), ("2018-02", "2020-11", False)]
    assert (result["education"][0]["start_year"], result["education"][0]["end_year"]) == ("2012", "2016")


def test_vendor_json_statuses():
    assert parse_profile(b'{"error": "not found"}', "application/json")["reason"] == "vendor_error"
    assert parse_profile(b'{"timestamp": "2024"}', "application/json")["status"] == "not_a_profile"
    assert parse_profile(b'{"experience": [', "application/json")["reason"] == "invalid_json"
    assert parse_profile(b"[1, 2]", "application/json")["reason"] == "json_list_not_record"
    assert parse_profile(b"[" * 100_000, "application/json")["reason"] == "invalid_json"
    weird = {"experience": [{"title": 7, "positions": "x"}, None], "education": {"a": 1}, "certifications": [[]]}
    assert parse_profile(json.dumps(weird).encode(), "application/json")["status"] == "ok"


def test_cli_prints_one_line_per_page_and_per_vendor_record(tmp_path, read_sample):
    html_path = tmp_path / "page.html.gz"
    html_path.write_bytes(gzip.compress(read_sample(GUEST_CREDENTIALS)))
    records = json.loads(read_sample("json_brightdata/profiles_by_url.json"))
    json_path = tmp_path / "records.json"
    json_path.write_text(json.dumps(records))
    empty_path = tmp_path / "empty.html"
    empty_path.write_bytes(b"")

    output = io.StringIO()
    with redirect_stdout(output):
        assert cli_main([str(html_path), str(json_path), str(empty_path), str(tmp_path / "missing.html")]) == 0

    lines = [json.loads(line) for line in output.getvalue().splitlines()]
    assert len(lines) == 1 + len(records) + 2
    assert (lines[0]["source"], lines[0]["status"], len(lines[0]["positions"])) == (str(html_path), "ok", 5)
    assert [line["source"] for line in lines[1:-2]] == [f"{json_path}#{i}" for i in range(len(records))]
    assert all(line["layout"] == "vendor_json" for line in lines[1:-2])
    assert lines[-2]["status"] == "empty"
    assert lines[-1]["reason"].startswith("unreadable_file")
    assert all(tuple(line) == CONTRACT_KEYS for line in lines)
