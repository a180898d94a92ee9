"""The LinkedIn profile URL as a join key between the platform's learners and the crawled pages."""

from __future__ import annotations

import re
from urllib.parse import unquote, urlsplit

_PROFILE_PATH = re.compile(r"^/in/([^/]+)", re.IGNORECASE)


def normalize_profile_url(url: str | None) -> str | None:
    """`linkedin.com/in/<slug>`: lower-case, any country or mobile subdomain (br., in., m., www.) folded into
    linkedin.com, the slug percent-decoded, no scheme, query, fragment or trailing slash. None when the URL is
    not a LinkedIn member profile URL.

    >>> normalize_profile_url("http://BR.linkedin.com/in/Jos%C3%A9-Silva/?trk=x#top")
    'linkedin.com/in/josé-silva'
    """
    if not url or not isinstance(url, str):
        return None
    text = url.strip()
    if "://" not in text:
        text = "https://" + text
    try:
        parts = urlsplit(text)
    except ValueError:
        return None
    host = (parts.hostname or "").lower()
    if host != "linkedin.com" and not host.endswith(".linkedin.com"):
        return None
    match = _PROFILE_PATH.match(unquote(parts.path))
    if not match:
        return None
    slug = match.group(1).strip().lower()
    return f"linkedin.com/in/{slug}" if slug else None
