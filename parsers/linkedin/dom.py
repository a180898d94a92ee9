"""Small lxml helpers: class selection, pruning of invisible markup, visible text."""

from __future__ import annotations

import re
import threading
from typing import Callable

from lxml import etree

from credsignal.reference.textnorm import collapse_whitespace

# Markup a reader never sees as profile text: code, page chrome (buttons), screen-reader duplicates, derived
# text (the computed "2 yrs 3 mos" beside a date range) and section headings.
NON_CONTENT_TAGS = ("script", "style", "noscript", "template", "button", "svg", "icon", "h2")
HIDDEN_CLASSES = frozenset({"sr-only", "visually-hidden", "a11y-text", "date-range__duration"})
COLLAPSED_TEXT_CLASS = "show-more-less-text__text--less"
EXPANDED_TEXT_CLASS = "show-more-less-text__text--more"
_PRUNE_CANDIDATES = etree.XPath(
    ".//*[" + " or ".join(f"contains(@class, '{name}')" for name in (*HIDDEN_CLASSES, COLLAPSED_TEXT_CLASS)) + "]"
)
_PARSERS = threading.local()
# Characters libxml2's HTML parser lets into text (raw control bytes, "&#1;", "&#xfffe;") but lxml refuses to
# write back into a tree. They are never visible, so text moved by the pruning drops them.
_NOT_XML_TEXT = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff\ud800-\udfff]")


def class_predicate(name: str) -> str:
    """XPath predicate body: the element's class list contains ``name`` as a whole token."""
    return f"contains(concat(' ', normalize-space(@class), ' '), ' {name} ')"


def compiled(xpath: str) -> Callable[[etree._Element], list]:
    return etree.XPath(xpath)


def classes(element: etree._Element) -> frozenset[str]:
    value = element.get("class")
    return frozenset(value.split()) if value else frozenset()


def has_class(element: etree._Element, name: str) -> bool:
    value = element.get("class")
    return bool(value) and name in value.split()


def first(element: etree._Element, xpath: Callable[[etree._Element], list]) -> etree._Element | None:
    found = xpath(element)
    return found[0] if found else None


def first_of(element: etree._Element, *xpaths: Callable[[etree._Element], list]) -> etree._Element | None:
    """First match of the first XPath that matches (lxml elements without children are falsy: never use `or`)."""
    for xpath in xpaths:
        found = xpath(element)
        if found:
            return found[0]
    return None


def prune_invisible(container: etree._Element) -> None:
    """Remove, in place, everything under ``container`` that is not visible profile text (see above).

    Done once per section so that every later text read is a plain C-level ``itertext``.
    """
    etree.strip_elements(container, *NON_CONTENT_TAGS, with_tail=False)
    for element in _PRUNE_CANDIDATES(container):
        names = (element.get("class") or "").split()
        if HIDDEN_CLASSES.intersection(names):
            _drop_keeping_tail(element)
        elif COLLAPSED_TEXT_CLASS in names:
            # The collapsed preview repeats the start of the expanded text beside it: keep the full text once.
            parent = element.getparent()
            if parent is not None and any(has_class(sibling, EXPANDED_TEXT_CLASS) for sibling in parent):
                _drop_keeping_tail(element)


def _drop_keeping_tail(element: etree._Element) -> None:
    """Remove ``element`` and its subtree; the text that followed it stays in place."""
    parent = element.getparent()
    if parent is None:
        return
    if element.tail:
        previous = element.getprevious()
        if previous is not None:
            previous.tail = _NOT_XML_TEXT.sub("", (previous.tail or "") + element.tail)
        else:
            parent.text = _NOT_XML_TEXT.sub("", (parent.text or "") + element.tail)
    parent.remove(element)


def visible_text(element: etree._Element | None) -> str:
    """Collapsed text of a pruned subtree. Text nodes are joined with a space so that adjacent inline fields
    ("Present" and what follows) never fuse into one word. Comments, processing instructions and entity
    nodes (whose ``tag`` is not a string) hold no visible text: ""."""
    if element is None or not isinstance(element.tag, str):
        return ""
    return collapse_whitespace(" ".join(element.itertext()))


def text_of(element: etree._Element | None) -> str | None:
    return visible_text(element) or None


def parse_html_document(body: bytes, encoding: str = "utf-8") -> etree._Element | None:
    """Parse with the encoding stated (libxml2 would otherwise guess latin-1 for a page without a charset
    declaration); invalid UTF-8 sequences become U+FFFD. Plain etree elements, not lxml.html's HtmlElement:
    the per-element class lookup of the latter costs more than the rest of the field extraction.
    Returns None for a document without any element."""
    return etree.fromstring(body, parser=_parser(encoding))


def _parser(encoding: str) -> etree.HTMLParser:
    # lxml parser objects must not be shared between threads.
    parsers = getattr(_PARSERS, "by_encoding", None)
    if parsers is None:
        parsers = _PARSERS.by_encoding = {}
    if encoding not in parsers:
        parsers[encoding] = etree.HTMLParser(encoding=encoding, remove_comments=True, remove_pis=True)
    return parsers[encoding]
