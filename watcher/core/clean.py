"""A registry record made safe to believe and to repeat, at the edge (pure).

Every string trialwatch writes into an email header, an XML feed or a terminal starts as
registry text, so it is cleaned once, right after a record is fetched and before it is hashed:
one hostile title must not break a header, a feed file or the whole cycle. Cleaning is
idempotent, so a stored record read back can be cleaned again to compare like with like.

- Control characters (C0, DEL, C1) are removed; in single-line fields line breaks, tabs,
  vertical tabs, form feeds, NEL and U+2028/U+2029 become a space. Fields written as
  paragraphs (eligibility criteria, summaries, descriptions) keep tab and newline; CR LF and
  the other breaks become a newline there.
- Lone surrogates and the non-characters U+FFFE/U+FFFF (invalid in XML) become U+FFFD.

A record is also checked for the modules every full record carries (`missing_parts`): a
registry answer without them is a fault, never a new version.
"""

from __future__ import annotations

import re
from typing import Any

# Multi-line text in API v2: the paragraphs a sponsor writes. Every recorded fixture's
# line breaks are in these keys, or in a key ending in "escription" (arm, intervention,
# outcome, masking, population... descriptions).
_MULTILINE_KEYS = frozenset(
    {
        "briefSummary",
        "eligibilityCriteria",
        "accessCriteria",
        "otherDetails",
        "limitationsAndCaveats",
    }
)
_BREAKS = "\r\n|[\r\n\v\f\x85\u2028\u2029]"
_SINGLE_LINE_SPACE = re.compile(f"{_BREAKS}|\t")
_MULTILINE_NEWLINE = re.compile(_BREAKS)
_CONTROLS = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f]")
_UNREPEATABLE = re.compile("[\ud800-\udfff\ufffe\uffff]")
# What the three above would change, in one search: a paragraph's newlines and tabs are text
# (most criteria and descriptions have no other character that is not printable).
_SINGLE_LINE_DIRTY = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\ud800-\udfff\ufffe\uffff]")
_MULTILINE_DIRTY = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u2028\u2029\ud800-\udfff\ufffe\uffff]")
REPLACEMENT = "\ufffd"

# What every full record has (all 148 recorded full records carry both; the two AACT spec
# fixtures without a statusModule are excerpts, not registry answers): the trial's identity, and
# the status module whose update date and overall status every poll compares.
REQUIRED_PARTS: tuple[tuple[str, ...], ...] = (
    ("protocolSection", "identificationModule", "nctId"),
    ("protocolSection", "statusModule", "overallStatus"),
)


def clean_text(text: str, *, multiline: bool = False) -> str:
    """`text` without control characters, stray line separators or unencodable code points."""
    if text.isprintable():  # none of the above (nearly every string): nothing to clean
        return text
    if not (_MULTILINE_DIRTY if multiline else _SINGLE_LINE_DIRTY).search(text):
        return text  # not printable, but nothing to clean: a paragraph, a no-break space
    text = _UNREPEATABLE.sub(REPLACEMENT, text)
    text = _MULTILINE_NEWLINE.sub("\n", text) if multiline else _SINGLE_LINE_SPACE.sub(" ", text)
    return _CONTROLS.sub("", text)


def clean_record(value: Any, key: str = "") -> Any:
    """The JSON value with every string (keys too) cleaned; `key` is its field name.

    A record with nothing to clean (nearly all) is returned as it is, not copied: a cold start
    cleans every record it fetches, and the check below walks one in a fifth of the time a copy
    takes. A record is never changed in place, so callers may keep either.
    """
    return value if _is_clean(value, key) else _cleaned(value, key)


def _cleaned(value: Any, key: str) -> Any:
    """A copy of the JSON value with every string (keys too) cleaned."""
    if isinstance(value, str):
        return clean_text(value, multiline=_is_multiline(key))
    if isinstance(value, dict):
        return {clean_text(k): _cleaned(v, k) for k, v in value.items()}
    if isinstance(value, list):
        return [_cleaned(item, key) for item in value]
    return value


def _is_clean(value: Any, key: str) -> bool:
    """Would `_cleaned` return an equal value? Unrolled (about 300 values a record): it
    recurses only into containers and searches a string only when `isprintable` says no."""
    if isinstance(value, str):
        return value.isprintable() or _settled(value, key)
    if isinstance(value, dict):
        for name, item in value.items():
            if not name.isprintable() and clean_text(name) != name:
                return False
            if isinstance(item, str):
                if not item.isprintable() and not _settled(item, name):
                    return False
            elif isinstance(item, (dict, list)) and not _is_clean(item, name):
                return False
        return True
    if isinstance(value, list):
        for item in value:
            if isinstance(item, str):
                if not item.isprintable() and not _settled(item, key):
                    return False
            elif isinstance(item, (dict, list)) and not _is_clean(item, key):
                return False
    return True


def _settled(text: str, key: str) -> bool:
    """Is `text`, not printable, as cleaning would leave it (a paragraph's newlines)?"""
    return clean_text(text, multiline=_is_multiline(key)) == text


def _is_multiline(key: str) -> bool:
    return key in _MULTILINE_KEYS or key.endswith("escription")


def missing_parts(raw: dict[str, Any]) -> list[str]:
    """The required parts a full record lacks, as dotted paths (empty when it is complete)."""
    missing = []
    for path in REQUIRED_PARTS:
        value: Any = raw
        for step in path:
            value = value.get(step) if isinstance(value, dict) else None
        if not isinstance(value, str) or not value:
            missing.append(".".join(path))
    return missing
