"""parse_profile: one collected LinkedIn body (HTML page or vendor JSON record) -> the contract dict.

Never raises, and its work is linear in the (capped) input size: no backtracking-prone regex sees more than a
field's first few hundred characters, DOM walks use explicit stacks, and bodies over the cap are not parsed.
"""

from __future__ import annotations

import json
import zlib
from typing import Any

from lxml import etree

from parsers.dates import guess_language
from parsers.linkedin import detect
from parsers.linkedin.dom import parse_html_document, visible_text
from parsers.linkedin.fields import canonical_profile_url, linkedin_profile_url, page_language
from parsers.linkedin.guest_v3 import parse_guest_v3
from parsers.linkedin.jsonld import read_jsonld_person, reconcile_education, reconcile_positions
from parsers.linkedin.loggedin_pvs import parse_loggedin_pvs
from parsers.linkedin.result import new_result, set_lengths
from parsers.linkedin.vendor_json import is_vendor_profile, parse_vendor_record

DEFAULT_MAX_BYTES = 5 * 1024 * 1024
_GZIP_MAGIC = b"\x1f\x8b"


class _TooLarge(Exception):
    pass


def parse_profile(body: bytes | str | None, content_type: str = "text/html", *, source: str | None = None,
                  max_bytes: int = DEFAULT_MAX_BYTES, http_status: int | None = None) -> dict[str, Any]:
    """Parse one body. ``content_type`` containing "json" selects the vendor-record reader.

    ``http_status``, when the crawler recorded it, lets a 999/404 response be reported as such even when its
    body says little. ``max_bytes`` caps the body, after gzip decompression. A ``content_type`` that is not a
    string (a crawl record's JSON field can hold anything) counts as absent: the body is read as HTML.
    """
    try:
        return _parse(body, content_type if isinstance(content_type, str) else "", source, max_bytes, http_status)
    except Exception as error:  # the contract: a bad page is a status, never an exception
        return new_result(source, "unparseable", f"internal_error:{type(error).__name__}")


def _as_bytes(body: Any) -> bytes | None:
    if body is None:
        return b""
    if isinstance(body, str):
        return body.encode("utf-8", "surrogatepass")
    if isinstance(body, (bytes, bytearray, memoryview)):
        return bytes(body)
    return None


def _gunzip(body: bytes, max_bytes: int) -> bytes:
    decompressor = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)
    output = decompressor.decompress(body, max_bytes + 1)
    if len(output) > max_bytes:
        raise _TooLarge
    return output


def _parse(raw: Any, content_type: str, source: str | None, max_bytes: int,
           http_status: int | None) -> dict[str, Any]:
    body = _as_bytes(raw)
    if body is None:
        return new_result(source, "unparseable", "not_bytes")
    if len(body) > max_bytes:
        return new_result(source, "too_large", "over_size_cap")
    if body.startswith(_GZIP_MAGIC):
        try:
            body = _gunzip(body, max_bytes)
        except _TooLarge:
            return new_result(source, "too_large", "over_size_cap")
        except zlib.error:
            return new_result(source, "unparseable", "bad_gzip")
    http_reason = f"http_{http_status}" if isinstance(http_status, int) and not 200 <= http_status < 300 else None
    if not body or body.isspace():
        return new_result(source, "empty", http_reason or "empty_body")
    if http_reason:
        return new_result(source, "not_a_profile", "http_999_page" if http_status == 999 else http_reason)
    if detect.looks_binary(body):
        return new_result(source, "unparseable", "binary")
    if "json" in content_type.lower():
        return _parse_json(body, source)
    return _parse_html(body, source)


def _parse_json(body: bytes, source: str | None) -> dict[str, Any]:
    try:
        record = json.loads(body)
    except (ValueError, RecursionError):
        return new_result(source, "unparseable", "invalid_json")
    if isinstance(record, list) and len(record) == 1:
        record = record[0]
    if isinstance(record, list):
        return new_result(source, "unparseable", "json_list_not_record")
    return parse_vendor_json_record(record, source)


def parse_vendor_json_record(record: Any, source: str | None = None) -> dict[str, Any]:
    """The contract dict for an already-decoded vendor record (the CLI uses it for files holding a list)."""
    try:
        if not is_vendor_profile(record):
            reason = "vendor_error" if isinstance(record, dict) and record.get("error") else "no_profile_fields"
            return new_result(source, "not_a_profile", reason, detect.VENDOR_JSON)
        parsed = parse_vendor_record(record)
        result = new_result(source, "ok", None, detect.VENDOR_JSON)
        result.update(positions=parsed["positions"], education=parsed["education"],
                      certifications=parsed["certifications"], profile_url=parsed["profile_url"],
                      language=guess_language(parsed["date_texts"]))
        set_lengths(result, parsed["lengths"])
        return result
    except Exception as error:  # same contract as parse_profile
        return new_result(source, "unparseable", f"internal_error:{type(error).__name__}")


def _parse_html(body: bytes, source: str | None) -> dict[str, Any]:
    if not detect.looks_like_html(body):
        return new_result(source, "unparseable", "not_html")
    body = detect.to_utf8(body)
    truncated = detect.looks_truncated(body)
    try:
        root = parse_html_document(detect.cut_to_last_complete_item(body) if truncated else body)
    except (etree.ParserError, etree.XMLSyntaxError, ValueError):
        root = None
    if root is None or not isinstance(root.tag, str):
        return new_result(source, "not_a_profile", "no_html_content")
    layout = detect.detect_layout(body, root)
    if layout is None:
        reason = detect.non_profile_reason(body)
        if truncated and reason == "unknown_layout":
            return new_result(source, "unparseable", "truncated")
        return new_result(source, "not_a_profile", reason)
    if layout == detect.LEGACY_2015:
        return new_result(source, "not_a_profile", "legacy_layout_2015", layout)

    # Read before the layout parser prunes headings away; only needed when the page does not say its language.
    declared_language = page_language(root)
    language_texts = [] if declared_language else _language_texts(root)
    parsed = parse_guest_v3(root) if layout == detect.GUEST_V3 else parse_loggedin_pvs(root)
    if layout == detect.GUEST_V3 and not parsed["profile_sections"] and not truncated:
        # Authwall variants show a teaser top card with the guest page's classes but no profile sections.
        reason = detect.non_profile_reason(body)
        if reason != "unknown_layout":
            return new_result(source, "not_a_profile", reason)
    person = read_jsonld_person(root)
    if person is not None:
        reconcile_positions(parsed["positions"], person)
        reconcile_education(parsed["education"], person)
    result = new_result(source, "partial" if truncated else "ok", "truncated" if truncated else None, layout)
    result.update(positions=parsed["positions"], education=parsed["education"],
                  certifications=parsed["certifications"])
    result["language"] = declared_language or guess_language(language_texts)
    result["profile_url"] = canonical_profile_url(root) or linkedin_profile_url(person.url if person else None)
    set_lengths(result, parsed["lengths"])
    return result


_LANGUAGE_TEXTS = etree.XPath(
    "//span[contains(@class, 'date-range')] | //*[contains(@class, 'certifications__')]"
    " | //h2[contains(@class, 'core-section-container__title')]")
_VISIBLE_SPANS = etree.XPath("//span[@aria-hidden='true']")
MAX_LANGUAGE_TEXTS = 400


def _language_texts(root: etree._Element) -> list[str]:
    """Dates, certification labels and section headings, to guess the language of a page that does not declare
    it (guest pages by class; logged-in pages show every text in an aria-hidden span)."""
    elements = _LANGUAGE_TEXTS(root)[:MAX_LANGUAGE_TEXTS] + _VISIBLE_SPANS(root)[:MAX_LANGUAGE_TEXTS]
    return [visible_text(element) for element in elements]
