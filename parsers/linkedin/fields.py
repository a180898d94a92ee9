"""Field-level helpers shared by the layouts: labels, certification dates, page language, profile URL."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from lxml import etree

from credsignal.reference.textnorm import collapse_whitespace, fold, fold_with_offsets
from parsers import lexicon
from parsers.dates import parse_single_date

MAX_FIELD_CHARS = 2000
_LANGUAGE_CODE = re.compile(r"^([A-Za-z]{2,3})(?:[-_][A-Za-z0-9]+)*$")


def clean(text: str | None) -> str | None:
    """Collapsed, length-capped field text, or None."""
    collapsed = collapse_whitespace(text[:MAX_FIELD_CHARS] if text else text)
    return collapsed or None


def strip_leading_label(text: str, folded_labels: list[str]) -> tuple[bool, str]:
    """Remove the first label (already folded, longest first) that ``text`` starts with.

    Returns (label_found, rest of the ORIGINAL text, with separators like ':' and spaces stripped).
    """
    stripped = collapse_whitespace(text)
    folded, offsets = fold_with_offsets(stripped)
    for label in folded_labels:
        if label and folded.startswith(label):
            end = len(label)
            # A label must end on a word boundary: "ID" must not eat the start of "IDX123".
            if end < len(folded) and folded[end].isalnum() and label[-1].isalnum():
                continue
            original_end = offsets[end] if end < len(offsets) else len(stripped)
            return True, stripped[original_end:].lstrip(" :：-–—\u00a0").strip()
    return False, stripped


def credential_id_from_labelled_text(text: str | None) -> str | None:
    """"Credential ID Y56E6CQDYP6F" / "ID da credencial: X" -> the ID as shown, label removed.

    For a label the lexicon does not know yet, the ID is what follows a colon, else the last word: IDs are one
    token, labels are several.
    """
    cleaned = clean(text)
    if not cleaned:
        return None
    found, rest = strip_leading_label(cleaned, list(lexicon.labels("credential_id")))
    if found:
        return rest or None
    if ":" in cleaned:
        return cleaned.rsplit(":", 1)[1].strip() or None
    return cleaned.split()[-1]


def label_position(folded: str, folded_labels: tuple[str, ...]) -> int | None:
    positions = []
    for label in folded_labels:
        match = re.search(rf"(?<!\w){re.escape(label)}(?!\w)", folded)
        if match:
            positions.append(match.start())
    return min(positions) if positions else None


def credential_id_inside(text: str | None) -> str | None:
    """A credential ID embedded in a longer line: "Issued Aug 2022 Credential ID ABC-1 See credential"."""
    cleaned = clean(text)
    if not cleaned:
        return None
    folded, offsets = fold_with_offsets(cleaned)
    start = label_position(folded, lexicon.labels("credential_id"))
    if start is None:
        return None
    rest = credential_id_from_labelled_text(cleaned[offsets[start]:])
    if not rest:
        return None
    folded_rest, rest_offsets = fold_with_offsets(rest)
    button_at = label_position(folded_rest, lexicon.labels("see_credential"))
    if button_at is None:
        # The vendor glues the button text to the value ("ABC123See credential"): look without a boundary too.
        button_at = min((folded_rest.find(label) for label in lexicon.labels("see_credential")
                         if folded_rest.find(label) > 0), default=None)
    if button_at is not None:
        rest = rest[:rest_offsets[button_at]].strip()
    return rest or None


def split_issued_expires(text: str | None) -> tuple[str | None, str | None]:
    """Dates from one combined string: "Issued Dec 2021 · Expires Dec 2024", "Emitido em jan. de 2022"."""
    if not text:
        return None, None
    folded = fold(text[:MAX_FIELD_CHARS])
    expires_at = label_position(folded, lexicon.labels("expires"))
    if expires_at is None:
        return parse_single_date(folded), None
    return parse_single_date(folded[:expires_at]), parse_single_date(folded[expires_at:])


def _head(root: etree._Element) -> etree._Element:
    head = root.find("head")
    return head if head is not None else root


def page_language(root: etree._Element) -> str | None:
    """Language from <meta name="locale"> (guest pages), the logged-in app's i18nLocale, or <html lang>."""
    candidates = []
    for meta in _head(root).iter("meta"):
        if meta.get("name") in ("locale", "i18nLocale"):
            candidates.append(meta.get("content"))
    candidates.append(root.get("lang"))
    for candidate in candidates:
        match = _LANGUAGE_CODE.match((candidate or "").strip())
        if match:
            return match.group(1).lower()
    return None


def linkedin_profile_url(url: str | None) -> str | None:
    """``url`` if it is a linkedin.com/in/ profile address (query and fragment dropped)."""
    if not url or not isinstance(url, str):
        return None
    try:
        parts = urlsplit(url.strip()[:MAX_FIELD_CHARS])
    except ValueError:
        return None
    host = (parts.hostname or "").lower()
    if not (host == "linkedin.com" or host.endswith(".linkedin.com")) or not parts.path.startswith("/in/"):
        return None
    return f"{parts.scheme or 'https'}://{parts.netloc}{parts.path}"


def canonical_profile_url(root: etree._Element) -> str | None:
    head = _head(root)
    for link in head.iter("link"):
        if (link.get("rel") or "").lower() == "canonical":
            found = linkedin_profile_url(link.get("href"))
            if found:
                return found
    for meta in head.iter("meta"):
        if meta.get("property") == "og:url":
            found = linkedin_profile_url(meta.get("content"))
            if found:
                return found
    return None
