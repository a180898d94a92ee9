"""Credential IDs and URLs: the one place that decides what "the same credential ID" means.

The feature job matches certificates learners shared on LinkedIn to the platform's ``certificate_id``; it must
call these functions rather than re-implement them, so that both sides normalise identically.
"""

from __future__ import annotations

import re
from urllib.parse import parse_qs, urlsplit

_MAX_REDIRECT_NESTING = 3
_MAX_URL_CHARS = 4096

# Coursera paths that end in the certificate's verification code. Longest, most specific first.
_COURSERA_ID_PATH = re.compile(
    r"/(?:account/accomplishments/)?"
    r"(?:verify/specialization|verify/professional-cert|verify"
    r"|specialization/certificate|professional-cert/certificate"
    r"|certificate|specialization|professional-cert|records)"
    r"/(?P<id>[A-Za-z0-9]{6,64})/?$"
)
_ID_SEPARATORS = re.compile(r"[\s\-‐‑‒–—]+")


def unwrap_linkedin_redirect(url: str | None) -> str | None:
    """The target of LinkedIn's ``/redir/redirect?url=<encoded>`` wrapper; other URLs come back unchanged."""
    if not url:
        return None
    current = url.strip()[:_MAX_URL_CHARS]
    for _ in range(_MAX_REDIRECT_NESTING):
        try:
            parts = urlsplit(current)
        except ValueError:
            return current
        host = (parts.hostname or "").lower() if parts.netloc else ""
        is_linkedin = not parts.netloc or host == "linkedin.com" or host.endswith(".linkedin.com")
        if not (is_linkedin and parts.path.startswith("/redir/")):
            return current
        targets = parse_qs(parts.query).get("url")
        if not targets or not targets[0].strip():
            return current
        current = targets[0].strip()
    return current


def coursera_id_from_url(url: str | None) -> str | None:
    """Verification code in a Coursera certificate URL (``/verify/<ID>``, ``/account/accomplishments/...``).

    Accepts the URL still wrapped in a LinkedIn redirect. Returns the ID as written (not normalised), or None
    for non-Coursera URLs and Coursera URLs without a code (e.g. ``coursera.org/share/<hash>``).
    """
    target = unwrap_linkedin_redirect(url)
    if not target:
        return None
    try:
        parts = urlsplit(target if "://" in target else "https://" + target)
        host = (parts.hostname or "").lower()
    except ValueError:
        return None
    if host != "coursera.org" and not host.endswith(".coursera.org"):
        return None
    match = _COURSERA_ID_PATH.search(parts.path)
    return match.group("id") if match else None


def normalize_credential_id(credential_id: str | None) -> str | None:
    """Upper-case, spaces and hyphens removed: "y56e 6cqd-yp6f" -> "Y56E6CQDYP6F". None if nothing is left."""
    if not credential_id:
        return None
    normalized = _ID_SEPARATORS.sub("", credential_id).upper()
    return normalized or None


def credential_id_normalized(shown_id: str | None, credential_url: str | None) -> str | None:
    """Normalised ID from the ID the page shows, else from a Coursera credential URL."""
    return normalize_credential_id(shown_id) or normalize_credential_id(coursera_id_from_url(credential_url))
