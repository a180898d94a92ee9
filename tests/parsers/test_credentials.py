"""Credential ID normalisation and Coursera URL decoding (the feature job relies on these exact rules)."""

from __future__ import annotations

import pytest

from parsers.credentials import (coursera_id_from_url, credential_id_normalized, normalize_credential_id,
                                 unwrap_linkedin_redirect)


@pytest.mark.parametrize("raw, expected", [
    ("Y56E6CQDYP6F", "Y56E6CQDYP6F"),
    ("y56e 6cqd-yp6f", "Y56E6CQDYP6F"),
    (" ab\u00a0cd–12 ", "ABCD12"),
    ("", None),
    (None, None),
    (" - ", None),
])
def test_normalize_credential_id(raw, expected):
    assert normalize_credential_id(raw) == expected


@pytest.mark.parametrize("url, expected", [
    ("https://www.coursera.org/verify/ABC123DEF456", "ABC123DEF456"),
    ("https://coursera.org/verify/abc123def456", "abc123def456"),
    ("https://www.coursera.org/verify/specialization/ZX9Y8W7V6U5T", "ZX9Y8W7V6U5T"),
    ("https://www.coursera.org/verify/professional-cert/QWERTY123456", "QWERTY123456"),
    ("https://www.coursera.org/account/accomplishments/certificate/Y56E6CQDYP6F", "Y56E6CQDYP6F"),
    ("https://www.coursera.org/account/accomplishments/specialization/ZX9Y8W7V6U5T", "ZX9Y8W7V6U5T"),
    ("https://www.coursera.org/account/accomplishments/specialization/certificate/ZX9Y8W7V6U5T", "ZX9Y8W7V6U5T"),
    ("https://www.coursera.org/account/accomplishments/professional-cert/QWERTY123456", "QWERTY123456"),
    ("https://www.coursera.org/account/accomplishments/professional-cert/certificate/QWERTY123456", "QWERTY123456"),
    ("https://www.coursera.org/account/accomplishments/verify/FM2LAKBFKF5L?utm_source=x", "FM2LAKBFKF5L"),
    ("https://www.coursera.org/account/accomplishments/records/2LBETK9T5H6X?utm_source=link", "2LBETK9T5H6X"),
    ("coursera.org/verify/ABC123DEF456/", "ABC123DEF456"),
    ("https://www.linkedin.com/redir/redirect?url=https%3A%2F%2Fwww%2Ecoursera%2Eorg%2Fverify%2FABC123DEF456"
     "&urlhash=x&trk=y", "ABC123DEF456"),
    ("https://coursera.org/share/96f5528fc5ae53a7ff716a0d89f9a65e", None),
    ("https://www.credly.com/badges/e5c148a7-1370-4932-90b6-75197f244142", None),
    ("https://evil.example/coursera.org/verify/ABC123DEF456", None),
    ("not a url", None),
    (None, None),
])
def test_coursera_id_from_url(url, expected):
    assert coursera_id_from_url(url) == expected


def test_unwrap_linkedin_redirect():
    wrapped = ("https://www.linkedin.com/redir/redirect?url=https%3A%2F%2Fwww%2Ecredly%2Ecom%2Fbadges%2Fabc"
               "%3Fsource%3Dlinked_in_profile&urlhash=-ghg&trk=public_profile_see-credential")

    assert unwrap_linkedin_redirect(wrapped) == "https://www.credly.com/badges/abc?source=linked_in_profile"
    assert unwrap_linkedin_redirect("/redir/redirect?url=https%3A%2F%2Fa.example%2Fx") == "https://a.example/x"
    assert unwrap_linkedin_redirect("https://a.example/x") == "https://a.example/x"
    assert unwrap_linkedin_redirect("https://www.linkedin.com/redir/redirect?urlhash=x") == (
        "https://www.linkedin.com/redir/redirect?urlhash=x")
    assert unwrap_linkedin_redirect(None) is None


def test_normalised_id_prefers_the_shown_id_then_the_url():
    url = "https://www.coursera.org/verify/URLID1234567"

    assert credential_id_normalized("shown-id 12", url) == "SHOWNID12"
    assert credential_id_normalized(None, url) == "URLID1234567"
    assert credential_id_normalized(None, "https://example.org/x") is None
