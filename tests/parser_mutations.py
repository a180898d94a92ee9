"""Hostile variants of real LinkedIn bodies, shared by the parser's fuzz tests and bench/fuzz_parser.py.

Every mutator takes the page (bytes) and a ``random.Random`` and returns new bytes, so Hypothesis can drive
it (``st.randoms()``) and the bench can replay input number N from its seed. The real pages are read from
../shared/linkedin_samples at run time, never copied into the repository.
"""

from __future__ import annotations

import gzip
import json
import random
import re
from typing import Any, Callable

# Inputs stay a little above the parser's default 5 MB cap: big enough to hit it, small enough to build quickly.
MAX_INPUT_BYTES = 6 * 1024 * 1024
_HTML_LANG = re.compile(rb"(<html\b[^>]*?)\s+(?:xml:)?lang\s*=\s*(?:\"[^\"]*\"|'[^']*'|[^\s>]+)", re.IGNORECASE)
_LOCALE_META = re.compile(rb"<meta\b[^>]*\bname\s*=\s*[\"']?(?:locale|i18nLocale)\b[^>]*>", re.IGNORECASE)
_CHARSET = re.compile(rb"(<meta\b[^>]*?\bcharset\s*=\s*[\"']?)([A-Za-z0-9_\-:.]*)", re.IGNORECASE)

# Declared charsets a careless or hostile page may carry: unknown names, codecs that are not text encodings,
# encodings that cannot be what a page with an ASCII <meta> tag is in, and real legacy encodings.
CHARSETS = ("zlib", "base64", "rot13", "hex", "uu", "bz2", "quopri", "idna", "punycode", "undefined",
            "unicode_escape", "utf-16", "utf-32", "utf-7", "latin-1", "windows-1252", "shift_jis", "koi8-r",
            "cp037", "x-user-defined", "", "utf-8", "no-such-charset", "%%%")
ENTITIES = (b"&#1;", b"&#0;", b"&#xfffe;", b"&#xffff;", b"&#xd800;", b"&#x110000;", b"&nosuch;", b"&amp",
            b"&#99999999999;", b"&#x1F600;", b"\x01", b"\x0b", b"\x0c", b"\x7f", b"\xef\xbf\xbe", b"\xed\xa0\x80")
MARKUP = (b"<!--", b"-->", b"<!-- comment -->", b"<?pi data?>", b"<![CDATA[x]]>", b"<!DOCTYPE x>", b"</li>",
          b"<li>", b"</ul>", b"<ul class='experience__list'>", b"<span class='date-range'>", b"</section>",
          b"<script>", b"</script>", b"<time>", b"Mar 2022 - Present", b"\xc3", b"\xff\xfe", b"\x00")


def strip_declared_language(page: bytes) -> bytes:
    """The page without ``<html lang>`` and ``<meta name="locale">``: it no longer says its language."""
    return _LOCALE_META.sub(b"", _HTML_LANG.sub(rb"\1", page))


def declare_charset(page: bytes, charset: str) -> bytes:
    """The page with its ``<meta charset>`` (or one added after ``<head>``) set to ``charset``."""
    value = charset.encode("ascii")
    if _CHARSET.search(page):
        return _CHARSET.sub(lambda match: match.group(1) + value, page, count=1)
    return re.sub(rb"(<head\b[^>]*>)", rb"\1<meta charset=\"" + value + b"\">", page, count=1, flags=re.IGNORECASE)


def _span(page: bytes, rng: random.Random) -> tuple[int, int]:
    start = rng.randrange(len(page) + 1)
    return start, min(len(page), start + rng.choice((1, 8, 64, 4096, len(page))))


def truncate(page: bytes, rng: random.Random) -> bytes:
    return page[: rng.randrange(len(page) + 1)]


def slice_out(page: bytes, rng: random.Random) -> bytes:
    start, end = _span(page, rng)
    return page[start:end]


def flip_bytes(page: bytes, rng: random.Random) -> bytes:
    data = bytearray(page)
    for _ in range(rng.choice((1, 10, 100, 1000)) if data else 0):
        data[rng.randrange(len(data))] = rng.randrange(256)
    return bytes(data)


def delete_span(page: bytes, rng: random.Random) -> bytes:
    start, end = _span(page, rng)
    return page[:start] + page[end:]


def duplicate_span(page: bytes, rng: random.Random) -> bytes:
    start, end = _span(page, rng)
    repeats = min(rng.choice((1, 2, 10)), MAX_INPUT_BYTES // max(1, end - start))
    return page[:end] + page[start:end] * repeats + page[end:]


def insert_tokens(page: bytes, rng: random.Random) -> bytes:
    """Control characters, odd character references, stray markup and broken UTF-8 at random places."""
    pieces, cursor = [], 0
    for at in sorted(rng.randrange(len(page) + 1) for _ in range(rng.choice((1, 5, 50)))):
        pieces += [page[cursor:at], rng.choice(ENTITIES + MARKUP)]
        cursor = at
    return b"".join(pieces) + page[cursor:]


def mutate_characters(page: bytes, rng: random.Random) -> bytes:
    """Character-level edits on the decoded text: any code point (surrogates and non-characters too)."""
    text = list(page.decode("utf-8", "replace"))
    for _ in range(rng.choice((1, 10, 100)) if text else 0):
        text[rng.randrange(len(text))] = chr(rng.choice((rng.randrange(0x20), rng.randrange(0x110000),
                                                        0xFFFE, 0xD800, 0x202E, 0x0640, 0x0660)))
    return "".join(text).encode("utf-8", "surrogatepass")


def strip_language_and_cut(page: bytes, rng: random.Random) -> bytes:
    return truncate(strip_declared_language(page), rng)


def swap_charset(page: bytes, rng: random.Random) -> bytes:
    return declare_charset(page, rng.choice(CHARSETS))


def deep_nesting(page: bytes, rng: random.Random) -> bytes:
    at = rng.randrange(len(page) + 1)
    tag = rng.choice((b"<div>", b"<ul><li>", b"<span class='date-range'>", b"<section class='core-section-container"
                      b" pp-section experience'>", b"<b><i>", b"<table><tr><td>"))
    return page[:at] + tag * rng.choice((100, 10_000, 100_000)) + page[at:]


def huge_attribute(page: bytes, rng: random.Random) -> bytes:
    at = page.find(b"<li", rng.randrange(len(page) + 1))
    at = at if at >= 0 else rng.randrange(len(page) + 1)
    value = rng.choice((b"experience__list ", b"x", b"\"", b"&#1;")) * rng.choice((1000, 100_000, 1_000_000))
    return page[:at] + b"<li class='" + value + b"'>" + page[at:]


def gzip_wrap(page: bytes, rng: random.Random) -> bytes:
    packed = gzip.compress(page, compresslevel=1)
    return packed if rng.random() < 0.5 else packed[: rng.randrange(len(packed) + 1)]


def splice(page: bytes, rng: random.Random, other: bytes | None = None) -> bytes:
    other = other if other is not None else page
    return page[: rng.randrange(len(page) + 1)] + other[rng.randrange(len(other) + 1):]


PAGE_MUTATORS: tuple[Callable[[bytes, random.Random], bytes], ...] = (
    truncate, slice_out, flip_bytes, delete_span, duplicate_span, insert_tokens, mutate_characters,
    strip_language_and_cut, swap_charset, deep_nesting, huge_attribute, gzip_wrap, splice,
)


def mutate_page(page: bytes, rng: random.Random, mutator: Callable[..., bytes], pages: list[bytes]) -> bytes:
    """One mutation (a splice takes its second page from ``pages``), cut to MAX_INPUT_BYTES so that stacked
    mutations stay bounded."""
    mutated = splice(page, rng, rng.choice(pages)) if mutator is splice else mutator(page, rng)
    return mutated[:MAX_INPUT_BYTES]


def junk_bytes(rng: random.Random) -> bytes:
    return rng.randbytes(rng.choice((0, 1, 16, 512, 65536)))


def junk_markup(rng: random.Random) -> bytes:
    """Tag soup from the pieces LinkedIn pages are made of."""
    return b"".join(rng.choice(MARKUP + ENTITIES) for _ in range(rng.randrange(200)))


def junk_json_value(rng: random.Random, depth: int = 0) -> Any:
    """Any JSON value, wrong types welcome: what a vendor field may hold instead of what it should."""
    kind = rng.randrange(10 if depth < 4 else 7)
    if kind < 7:
        return (None, True, 0, -1.5e308, "", "Jan 2020 - Present", "x" * 100_000)[kind]
    if kind == 7:
        return [junk_json_value(rng, depth + 1) for _ in range(rng.randrange(4))]
    keys = ("title", "positions", "start_date", "end_date", "meta", "url", "experience", "education", "@type")
    return {rng.choice(keys): junk_json_value(rng, depth + 1) for _ in range(rng.randrange(4))}


def mutate_json_record(record: Any, rng: random.Random, rate: float = 0.1) -> Any:
    """The vendor record with a share ``rate`` of its values replaced by values of the wrong type."""
    if isinstance(record, dict):
        return {key: junk_json_value(rng) if rng.random() < rate else mutate_json_record(value, rng, rate)
                for key, value in record.items()}
    if isinstance(record, list):
        return [junk_json_value(rng) if rng.random() < rate else mutate_json_record(value, rng, rate)
                for value in record]
    return record


def nested_json(depth: int) -> bytes:
    """A record whose experience list nests ``depth`` levels deep (json's recursion limit is about 1,000)."""
    return b'{"experience": ' + b"[" * depth + b"{}" + b"]" * depth + b"}"


def json_body(record: Any) -> bytes:
    return json.dumps(record, ensure_ascii=False).encode("utf-8", "surrogatepass")
