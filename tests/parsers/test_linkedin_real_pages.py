"""Hand-checked output for the real sample pages (read from ../shared/linkedin_samples/, see conftest).

Expected values were written from reading each page's DOM: job titles, employers, dates, schools and
credentials only; no names, contact data or photos.
"""

from __future__ import annotations

import json

import pytest

from parsers.linkedin import CONTRACT_KEYS, parse_profile

GUEST_GROUPED = "guest_2023/guest_2023_en_grouped-positions_certs.html"
GUEST_CREDENTIALS = "guest_2023/guest_2023_en_credential-id_expires.html"
LOGGEDIN_MAIN = "loggedin_2022/austin.html"
LOGGEDIN_EXPERIENCE = "loggedin_2022/austin_exp.html"


def _positions(result: dict) -> list[tuple]:
    return [(p["title"], p["company"], p["location"], p["start"], p["end"], p["is_current"])
            for p in result["positions"]]


def _education(result: dict) -> list[tuple]:
    return [(e["school"], e["degree"], e["field"], e["start_year"], e["end_year"]) for e in result["education"]]


def _certifications(result: dict) -> list[tuple]:
    return [(c["name"], c["issuer"], c["issued"], c["expires"], c["credential_id"], c["credential_id_normalized"])
            for c in result["certifications"]]


GROUPED_POSITIONS = [
    ("Co-Founder & CTO", "Aristotle - Co-Pilot for Cold Sales", "San Francisco, California, United States",
     "2023-03", None, True),
    ("Co-Founder", "CabbageApps", "Colombo, Sri Lanka", "2017-01", None, True),
    ("Co-Founder", "Hyperglade", "Singapore", "2021-06", None, True),
    ("Board Member", "Urban.lk", "Colombo, Western, Sri Lanka", "2020-03", None, True),
    ("EIR", "Hustle Fund", "California, United States", "2022-10", "2023-03", False),
    ("Co-Founder", "Carbon Planter", "Colombo, Western Province, Sri Lanka", "2020-04", "2022-10", False),
    ("CEO", "alakazam", "Colombo, Sri Lanka", "2017-07", "2020-01", False),
    # li.experience-group: two roles at one employer
    ("Senior Software Engineer", "WSO2", "Colombo", "2015-04", "2017-03", False),
    ("Software Engineer", "WSO2", "Colombo", "2013-04", "2015-04", False),
    ("Software Engineer", "DSI Samson Group - Sri Lanka", "Slave Island, Sri Lanka", "2012-03", "2013-04", False),
    # li.experience-group: three roles, the middle one without a location
    ("Chief Developer of Custom Application Department", "Azbow", "Sri Lanka", "2011-11", "2012-03", False),
    ("Software Engineer", "Azbow", None, "2011-09", "2011-11", False),
    ("Assistant Software Engineer", "Azbow", "Sri Lanka", "2011-07", "2011-09", False),
    ("Social Media Marketer", "TechHamlet", None, "2011-09", "2011-11", False),
    ("Blogger", "TechHamlet", "Sri Lanka", "2011-02", "2011-07", False),
    ("The Founder and CEO", "Dryoid", None, "2010-12", "2011-07", False),
]
GROUPED_EDUCATION = [
    ("National University of Ireland, Galway", "Master's degree", "Information Technology", "2012", "2013"),
    ("Institute of Java Technological Studies", "BSc. Software Engineering", None, "2009", "2011"),
    ("Ananda College Colombo 10", "O/L", "Information Technology", "2000", "2011"),
]
GROUPED_CERTIFICATIONS = [
    ("Oracle Certified Java Web Developer", "Oracle", "2011-10", None, None, None),
    ("Oracle certified Java programmer", "Oracle", "2011-09", None, None, None),
    ("Chamber Certified Java Programmer", "Chartered Chamber of Java Professionals", "2010-07", None, None, None),
    ("Java Mobile Edition 1 Mobile Application Developer Certified Professional Exam", "Oracle", None, None, None,
     None),
]

CREDENTIALS_POSITIONS = [
    ("Senior Software Engineer", "Insighture - We're hiring", None, "2022-03", None, True),
    ("Software Engineer - Applied R & D", "Pearson Lanka", None, "2021-03", "2022-03", False),
    ("Software Engineer - ML & AI", "Insighture", None, "2020-08", "2021-03", False),
    ("Trainee Software Engineer - Applied Research and Development", "Pearson Lanka", "Colombo", "2018-09",
     "2019-09", False),
    ("Trainee", "Bank of Ceylon", "Chavakachcheri", "2015-01", "2016-01", False),
]
CREDENTIALS_EDUCATION = [
    ("University of Kelaniya Sri Lanka", "Bachelor’s Degree", "BSc. (Hons) Software Engineering", "2016", "2020"),
    ("Hindu College, Chavakachcheri", "High School", "Physical Sciences (2014 A/L)", "2004", "2014"),
]
CREDENTIALS_CERTIFICATIONS = [
    ("AWS Learning: Serverless", "Amazon Web Services (AWS)", "2022-12", None, None, None),
    # no ID shown: the normalised ID comes from the Coursera URL (/account/accomplishments/records/<ID>)
    ("Convolutional Neural Networks in TensorFlow", "deeplearning.ai", "2020-05", None, None, "2LBETK9T5H6X"),
    ("Getting Started with AWS Machine Learning", "Coursera", "2020-04", None, "Y56E6CQDYP6F", "Y56E6CQDYP6F"),
    # coursera.org/share/<hash> carries no credential ID
    ("Introduction to TensorFlow for Artificial Intelligence, Machine Learning, and Deep Learning",
     "deeplearning.ai", "2020-04", None, None, None),
    ("Git and GitHub", "365 Data Science", "2020-03", None, "#cert_99rml64y", "#CERT_99RML64Y"),
    ("Machine Learning & AI Foundations: Value Estimations", "Lynda.com", "2018-09", None, None, None),
    ("Neural Networks and Deep Learning", "deeplearning.ai", "2018-04", None, "FM2LAKBFKF5L", "FM2LAKBFKF5L"),
    ("Intro to Python for Data Science", "www.datacamp.com", "2018-02", None, "4,625,344", "4,625,344"),
    ("Learning Java", "LinkedIn", "2017-11", None, "AcYg_9LG5-4qlrTwRON1la6CEAkz", "ACYG_9LG54QLRTWRON1LA6CEAKZ"),
    ("AWS Certified Developer – Associate", "Amazon Web Services (AWS)", "2021-12", "2024-12", None, None),
    ("AWS Certified Solutions Architect – Associate", "Amazon Web Services (AWS)", "2021-10", "2024-10", None,
     None),
    ("Natural Language Processing in TensorFlow", "deeplearning.ai", None, None, "MXLVRU9F2HT9", "MXLVRU9F2HT9"),
]

LOGGEDIN_FIRST_POSITIONS = [
    ("Software Engineer", "Google", "San Francisco Bay Area", "2019-12", None, True),
    ("Software Engineer", "Bounced Inc.", "Kingston, ON, Canada", "2018-09", "2019-12", False),
    ("Project Manager", "QWEB, Queen's University Web Development", "Kingston, Ontario, Canada", "2018-09",
     "2019-04", False),
    ("Undergraduate Student Researcher | Controls & Navigation", "Queen's University", "Kingston, Ontario, Canada",
     "2018-09", "2019-04", False),
    ("Software Engineer - Satellite", "Queen's Space Engineering Team", None, "2018-08", "2019-04", False),
]
LOGGEDIN_ALL_POSITIONS = LOGGEDIN_FIRST_POSITIONS + [
    ("Software Engineer", "Queen's Centre for Advanced Computing", "Queen's University", "2017-05", "2018-08", False),
    ("Teaching Assistant | Linear Algebra", "Queen's University", "Kingston, Ontario", "2016-09", "2017-04", False),
    # grouped roles: the card's bold line is the employer
    ("Site Supervisor", "Pedalheads Bike Camps Inc.", "Toronto, Canada Area", "2016-06", "2016-08", False),
    ("Staff Trainer", "Pedalheads Bike Camps Inc.", "Ontario, Canada", "2016-03", "2016-06", False),
    # "May 2016 · 1 mo": a one-month role
    ("Student Teacher", "Toronto District School Board", "Sir Oliver Mowat C.I.", "2016-05", "2016-05", False),
    ("Camp Counselor", "Pedalheads Bike Camps Inc.", None, "2015-06", "2015-08", False),
    ("Program Assistant", "Best Buddies Canada", "Toronto, Canada Area", "2014-06", "2014-08", False),
]
LOGGEDIN_EDUCATION = [
    ("Queen's University", "Bachelor of Science - BS", "Physics", "2014", "2019"),
    ("Don Mills Collegiate Institute", None, None, "2010", "2014"),
]


@pytest.mark.parametrize("page, positions, education, certifications", [
    (GUEST_GROUPED, GROUPED_POSITIONS, GROUPED_EDUCATION, GROUPED_CERTIFICATIONS),
    (GUEST_CREDENTIALS, CREDENTIALS_POSITIONS, CREDENTIALS_EDUCATION, CREDENTIALS_CERTIFICATIONS),
], ids=["grouped-positions", "credential-ids"])
def test_guest_page_is_parsed_exactly(read_sample, page, positions, education, certifications):
    result = parse_profile(read_sample(page), source=page)

    assert (result["status"], result["reason"], result["layout"], result["language"]) == ("ok", None, "guest_v3", "en")
    assert _positions(result) == positions
    assert _education(result) == education
    assert _certifications(result) == certifications
    assert result["source"] == page


def test_guest_credential_urls_are_unwrapped_from_linkedin_redirects(read_sample):
    urls = [c["credential_url"] for c in parse_profile(read_sample(GUEST_CREDENTIALS))["certifications"]]

    assert urls[2] == "https://www.coursera.org/account/accomplishments/certificate/Y56E6CQDYP6F"
    assert urls[6] == "https://www.coursera.org/account/accomplishments/verify/FM2LAKBFKF5L"
    assert urls[4] is None  # no link on the page
    assert all(url is None or "linkedin.com/redir" not in url for url in urls)


def test_guest_profile_lengths_are_per_section_and_per_position(read_sample):
    result = parse_profile(read_sample(GUEST_CREDENTIALS))
    by_section = result["profile_length_by_section"]

    assert set(by_section) == {"about", "experience", "education", "certifications", "other"}
    assert all(by_section[section] > 0 for section in by_section)
    assert result["profile_length_chars"] == sum(by_section.values())
    assert all(position["length_chars"] > len(position["title"]) for position in result["positions"])
    assert sum(p["length_chars"] for p in result["positions"]) <= by_section["experience"]


def test_guest_profile_url_comes_from_the_canonical_link(read_sample):
    url = parse_profile(read_sample(GUEST_GROUPED))["profile_url"]

    assert url.startswith("https://") and ".linkedin.com/in/" in url


def test_output_has_no_person_name_or_photo(read_sample):
    text = json.dumps(parse_profile(read_sample(GUEST_GROUPED)))

    assert "media.licdn.com" not in text
    assert '"name"' in text  # certification names only
    assert set(parse_profile(read_sample(GUEST_GROUPED))) == set(CONTRACT_KEYS)


@pytest.mark.parametrize("page, positions, education", [
    (LOGGEDIN_MAIN, LOGGEDIN_FIRST_POSITIONS, LOGGEDIN_EDUCATION),
    (LOGGEDIN_EXPERIENCE, LOGGEDIN_ALL_POSITIONS, []),
], ids=["main-page", "details-experience-page"])
def test_loggedin_page_is_parsed_exactly(read_sample, page, positions, education):
    result = parse_profile(read_sample(page))

    assert (result["status"], result["layout"], result["language"]) == ("ok", "loggedin_pvs", "en")
    assert _positions(result) == positions
    assert _education(result) == education
    assert result["certifications"] == []


def test_loggedin_lengths_skip_screen_reader_duplicates(read_sample):
    result = parse_profile(read_sample(LOGGEDIN_MAIN))
    google = result["positions"][0]

    # title + "Google · Full-time" + dates + location, each once although the page holds each twice
    assert 80 <= google["length_chars"] <= 100
    assert result["profile_length_by_section"]["about"] > 0


@pytest.mark.parametrize("page", ["guest_legacy_2015/iteles.html", "guest_legacy_2015/nelsonic.html"])
def test_legacy_2015_pages_are_reported_not_misread(read_sample, page):
    result = parse_profile(read_sample(page))

    assert (result["status"], result["reason"], result["layout"]) == (
        "not_a_profile", "legacy_layout_2015", "legacy_2015")
    assert result["positions"] == result["education"] == result["certifications"] == []


def _vendor_record(read_sample, file_name: str, index: int) -> bytes:
    records = json.loads(read_sample(f"json_brightdata/{file_name}"))
    return json.dumps(records[index]).encode()


def test_vendor_record_with_grouped_roles(read_sample):
    result = parse_profile(_vendor_record(read_sample, "profiles_by_name.json", 39), "application/json")

    assert (result["status"], result["layout"]) == ("ok", "vendor_json")
    assert _positions(result) == [
        ("UK Financial Controller - LCD", "Thermo Fisher Scientific", None, "2021-10", None, True),
        ("Finance Manager", "Thermo Fisher Scientific", None, "2019-10", "2021-09", False),
        ("Finance Manager", "Tangerine Holdings", None, "2015-07", "2019-10", False),
        ("Management / Assistant Accountant", "Tangerine Holdings", None, "2011-07", "2015-06", False),
        ("Purchase Ledger Clerk", "Tangerine Holdings", None, "2009-04", "2011-06", False),
        ("Accounts Assistant", "ShP Limited", None, "2007-06", "2009-01", False),
    ]
    assert _education(result) == [
        ("CIMA", "CIMA PROFESSIONAL QUALIFICATION (ACMA)", "Accounting and Finance", "2012", "2015"),
        ("Lancaster University", "BSc IT and Media Communications", None, "2002", "2006"),
    ]


def test_vendor_record_with_certifications_and_year_only_dates(read_sample):
    result = parse_profile(_vendor_record(read_sample, "profiles_by_name.json", 20), "application/json")

    assert _positions(result) == [
        ("slushpool", "slushpool", None, "2016-09", None, True),
        ("Sales Manager", "VIS", "United States", "2015-03", "2018-05", False),
    ]
    assert _certifications(result) == [("Certified Business Professional (CBP)", "VIS", "2017-09", None, None, None)]
    assert _education(result)[1] == (
        "Houston Baptist University", "Master of Business Administration - MBA",
        "BUSINESS, MANAGEMENT, MARKETING, AND RELATED SUPPORT SERVICES", "2009", "2013")

    by_url = parse_profile(_vendor_record(read_sample, "profiles_by_url.json", 1), "application/json")
    assert _positions(by_url)[:2] == [
        ("Founder and Visionary", "Simon Sinek's The Optimism Company", "Greater New York City Area", "2007", None,
         True),
        ("Host, A Bit of Optimism podcast", "Simon Sinek's The Optimism Company", "Greater New York City Area",
         "2020", None, True),
    ]


def test_vendor_certification_meta_with_button_text(read_sample):
    result = parse_profile(_vendor_record(read_sample, "profiles_by_url.json", 3), "application/json")

    assert _certifications(result) == [
        ("Google AdWords Certified", "Google", "2017-10", None, None, None),
        ("Google AdWords Search Advertising Certification", "Google", "2017-10", None, None, None),
    ]
    assert result["profile_length_by_section"]["certifications"] > 0


def test_every_vendor_record_parses(read_sample):
    for file_name in ("profiles_by_name.json", "profiles_by_url.json"):
        for record in json.loads(read_sample(f"json_brightdata/{file_name}")):
            result = parse_profile(json.dumps(record).encode(), "application/json")
            assert result["status"] == "ok", result["reason"]
            assert all(p["start"] is None or p["start"][:2] in ("19", "20") for p in result["positions"])
