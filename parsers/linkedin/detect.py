"""What a body is before any field is read: binary junk, truncated, which layout, or which non-profile page."""

from __future__ import annotations

import codecs
import re

from lxml import etree

from parsers import lexicon

GUEST_V3 = "guest_v3"
LOGGEDIN_PVS = "loggedin_pvs"
LEGACY_2015 = "legacy_2015"
VENDOR_JSON = "vendor_json"

_BINARY_MAGIC = (b"%PDF", b"\x89PNG", b"PK\x03\x04", b"GIF8", b"\xff\xd8\xff", b"\x7fELF", b"BZh", b"\xfd7zXZ")
_ALLOWED_CONTROL = b"\t\n\r\x0c"
_CONTROL_BYTES = bytes(b for b in range(32) if b not in _ALLOWED_CONTROL) + b"\x7f"
_BINARY_SAMPLE_BYTES = 8192
_MAX_CONTROL_SHARE = 0.01
_TAIL_BYTES = 4096
_META_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?\s*([A-Za-z0-9_\-:.]+)""", re.IGNORECASE)
MARKER_SCAN_CHARS = 256 * 1024
HTTP_999_MAX_BYTES = 16 * 1024

# Class names and ids that only these layouts emit. Looked up in the raw bytes: a substring test over 250 KB
# costs microseconds, an XPath class test over the whole DOM milliseconds.
_GUEST_V3_MARKERS = (b"core-section-container", b"top-card-layout", b"experience__list")
_PVS_MARKERS = (b"pvs-entity", b"pvs-list")
_LEGACY_MARKERS = (b'id="application-body"', b'id="topcard"', b"profile-top-card")


def looks_binary(body: bytes) -> bool:
    """Images, archives and random bytes, as opposed to (possibly mis-encoded) text."""
    sample = body[:_BINARY_SAMPLE_BYTES]
    if sample.startswith(_BINARY_MAGIC) or b"\x00" in sample:
        return True
    control_count = len(sample) - len(sample.translate(None, _CONTROL_BYTES))
    if control_count > len(sample) * _MAX_CONTROL_SHARE:
        return True
    try:
        sample.decode("utf-8")
        return False
    except UnicodeDecodeError as error:
        if error.start >= len(sample) - 4:  # a multi-byte character cut by the sample boundary
            return False
    # Not UTF-8: legacy-encoded HTML still has markup; random high bytes do not.
    return b"<" not in sample or sample.count(b"<") < len(sample) // 2000


def to_utf8(body: bytes) -> bytes:
    """UTF-8 bytes for the parser: honour a BOM, else a <meta charset> that names a text encoding.

    UTF-8 bodies are passed through unvalidated (decoding a 250 KB page costs a third of parsing it);
    the parser replaces any invalid sequence with U+FFFD. A declared charset is not trusted blindly:
    - one Python does not know as a text encoding (a typo, "zlib", "base64", "rot13") is ignored;
    - UTF-16/32 is read as UTF-8, as browsers do (WHATWG encoding sniffing): a <meta> tag that could be read
      as ASCII proves the body is not UTF-16;
    - a body that is valid UTF-8 stays UTF-8 whatever it declares: legacy-encoded text (latin-1, cp1252, ...)
      with any non-ASCII letter is practically never valid UTF-8, while a mislabelled UTF-8 page is common.
    """
    if body.startswith(codecs.BOM_UTF8):
        return body[len(codecs.BOM_UTF8):]
    if body.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return body.decode("utf-16", "replace").encode("utf-8")
    encoding = declared_encoding(body)
    if encoding is None or encoding == "utf-8":
        return body
    try:
        body.decode("utf-8")
        return body
    except UnicodeDecodeError:
        pass
    try:
        return body.decode(encoding, "replace").encode("utf-8", "replace")
    except LookupError:  # bytes.decode refuses codecs that are not text encodings: zlib, base64, rot13, hex
        return body
    except UnicodeError:  # text codecs that allow no error handler but "strict": idna, punycode, undefined
        return body


def declared_encoding(body: bytes) -> str | None:
    """Python's codec name for the charset a <meta> declares; None when absent or unknown to Python."""
    declared = _META_CHARSET.search(body[:4096])
    if not declared:
        return None
    try:
        name = codecs.lookup(declared.group(1).decode("ascii", "replace")).name
    except LookupError:
        return None
    return "utf-8" if name.startswith(("utf-16", "utf-32")) else name


def looks_like_html(body: bytes) -> bool:
    return b"<" in body[:_TAIL_BYTES]


def looks_truncated(body: bytes) -> bool:
    """A document that opened as an HTML page (doctype or <html>) but never closed it."""
    head = body[:_TAIL_BYTES].lstrip().lower()
    if not (head.startswith(b"<!doctype") or b"<html" in head):
        return False
    tail = body[-_TAIL_BYTES:].lower()
    return b"</html" not in tail and b"</body" not in tail


def cut_to_last_complete_item(body: bytes) -> bytes:
    """Drop the unfinished end of a cut page: everything after the last closed list item.

    Every profile entry (position, school, certificate) is an <li>, so an entry is complete iff its </li>
    arrived; what follows the last </li> can only be a partial entry or page chrome.
    """
    last_close = max(body.rfind(b"</li>"), body.rfind(b"</LI>"))
    return body[: last_close + len(b"</li>")] if last_close >= 0 else body


def detect_layout(body: bytes, root: etree._Element) -> str | None:
    is_guest_v3 = any(marker in body for marker in _GUEST_V3_MARKERS)
    if not is_guest_v3 and any(marker in body for marker in _LEGACY_MARKERS):
        return LEGACY_2015
    if is_guest_v3:
        return GUEST_V3
    if any(marker in body for marker in _PVS_MARKERS):
        return LOGGEDIN_PVS
    head = root.find("head")
    if head is not None:
        # A page cut inside <head> still names its layout. Legacy pages reuse the same pageKey but never
        # set a locale meta tag, so both are required.
        metas = {meta.get("name"): meta.get("content") for meta in head.iter("meta")}
        if metas.get("pageKey") == "public_profile_v3_desktop" and metas.get("locale"):
            return GUEST_V3
    return None


def non_profile_reason(body: bytes) -> str:
    """Why an HTML body with no profile layout is not a profile (authwall, captcha, ...)."""
    text = body[:MARKER_SCAN_CHARS].decode("utf-8", "replace").lower()
    for reason, markers in lexicon.page_markers():
        if reason == "http_999_page" and len(body) > HTTP_999_MAX_BYTES:
            continue
        if any(marker in text for marker in markers):
            return reason
    return "unknown_layout"
