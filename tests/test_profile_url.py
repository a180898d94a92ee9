import pytest

from parsers.profile_url import normalize_profile_url


@pytest.mark.parametrize(
    "url, expected",
    [
        ("https://www.linkedin.com/in/ana-souza", "linkedin.com/in/ana-souza"),
        ("http://br.linkedin.com/in/ana-souza/", "linkedin.com/in/ana-souza"),
        ("https://m.linkedin.com/in/Ana-Souza?trk=public_profile", "linkedin.com/in/ana-souza"),
        ("linkedin.com/in/jos%C3%A9-silva", "linkedin.com/in/josé-silva"),
        ("https://in.linkedin.com/in/ravi-k-123/#experience", "linkedin.com/in/ravi-k-123"),
        ("  HTTPS://WWW.LINKEDIN.COM/IN/RAVI  ", "linkedin.com/in/ravi"),
        ("https://www.linkedin.com/in/ravi/details/experience/", "linkedin.com/in/ravi"),
        ("https://www.linkedin.com/company/coursera", None),
        ("https://notlinkedin.com/in/ravi", None),
        ("https://linkedin.com.evil.io/in/ravi", None),
        ("https://www.linkedin.com/in/", None),
        ("", None),
        (None, None),
        ("http://[bad", None),
    ],
)
def test_normalize_profile_url(url, expected):
    assert normalize_profile_url(url) == expected
