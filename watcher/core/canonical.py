"""What makes two fetches of a record "the same version" (pure).

The registry re-serves every study daily with housekeeping that moves on its own: a new
`versionHolder`, renumbered MeSH leaves, `modelPredictions` that come and go, update stamps
that move with no submitted change, and site lists in a new order. Third-party copies add
keys of their own (ctrdata adds `ctrname`, `record_last_import`); site coordinates
(`geoPoint`) are geocoded by the registry from the address. None of that is a new
version of the trial, so the content hash is taken over the record with all of it removed,
and an identical refetch - or a housekeeping-only one - is not stored again.

The hash is taken over `canonical_json`'s bytes, which orjson spells in a tenth of the time
(`canonical_bytes`): a cold start hashes every record, and the C encoder's sorted spelling was
a fifth of it. A stored hash must never move (every trial would look changed), so orjson's
bytes are used only where they are provably the same, and `json.dumps` spells the rest.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from typing import Any

import orjson

# The sections a study object has in API v2. Anything else at the top level was added by a
# third-party tool; `derivedSection` is computed by the registry from the others.
_SUBMITTED_SECTIONS = (
    "protocolSection",
    "resultsSection",
    "annotationSection",
    "documentSection",
    "hasResults",
)
# Stamps in the status module that move without any submitted change.
_HOUSEKEEPING_STATUS_KEYS = (
    "lastUpdateSubmitDate",
    "lastUpdatePostDateStruct",
    "statusVerifiedDate",
)


def strip_noise(raw: dict[str, Any]) -> dict[str, Any]:
    """Return a copy of the record with only submitted content, sites in a stable order."""
    kept: dict[str, Any] = {k: raw[k] for k in _SUBMITTED_SECTIONS if k in raw}
    protocol = kept.get("protocolSection")
    if isinstance(protocol, dict):
        protocol = dict(protocol)
        status = protocol.get("statusModule")
        if isinstance(status, dict):
            protocol["statusModule"] = {
                k: v for k, v in status.items() if k not in _HOUSEKEEPING_STATUS_KEYS
            }
        locations_module = protocol.get("contactsLocationsModule")
        if isinstance(locations_module, dict) and isinstance(
            locations_module.get("locations"), list
        ):
            protocol["contactsLocationsModule"] = {
                **locations_module,
                "locations": sorted(
                    (_without_geo(site) for site in locations_module["locations"]),
                    key=canonical_json,
                ),
            }
        kept["protocolSection"] = protocol
    return kept


def _without_geo(site: Any) -> Any:
    """A site without its `geoPoint`: the registry computes it from the address."""
    if isinstance(site, dict) and "geoPoint" in site:
        return {k: v for k, v in site.items() if k != "geoPoint"}
    return site


def canonical_json(value: Any) -> str:
    """One spelling per value: sorted keys, no whitespace, UTF-8 kept as is."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


# hashlib lets go of the GIL while it hashes more than 2047 bytes at a time; a cold start's main
# thread then waited to get it back from the keyframe packer and the feed writer (sampled there
# 0.7 ms a trial, for 0.02 ms of hashing), so the text is fed in pieces hashed holding the GIL.
_HASHED_HOLDING_GIL = 2047
# In orjson's compact output a number follows ":", "," or "[", and one spelt in exponent form
# has a digit before its "e-".
_EXPONENT = re.compile(rb"e-\d")


def canonical_bytes(value: Any) -> bytes:
    """`canonical_json(value)` as UTF-8, spelt by orjson where it spells the same bytes.

    orjson spells everything alike (escapes, sorting by code point, integers, every float of
    1e-4 and over) except floats under 1e-4 (`0.00001` or `1.5e-7` for `1e-05`, `1.5e-07`), and
    NaN and the infinities (`null`); it refuses integers beyond 64 bits, keys that are not
    strings and lone surrogates. Output holding such a number, or a null that may have been
    NaN, is spelt by `json.dumps` (a string that only looks like one costs the slow path, never
    a different byte). `tests/test_canonical.py` compares both on every recorded record and on
    random values.
    """
    try:
        text = orjson.dumps(value, option=orjson.OPT_SORT_KEYS)
    except orjson.JSONEncodeError:  # json.dumps answers (or raises) as it always did
        return canonical_json(value).encode("utf-8")
    if _spelt_alike(text):
        return text
    return canonical_json(value).encode("utf-8")


def _spelt_alike(text: bytes) -> bool:
    """Would `json.dumps` spell orjson's `text` the same? No when it may hold a float under 1e-4
    or a NaN or infinity (checked with plain searches: a regular expression that looks at every
    byte would cost more than orjson saves)."""
    if b"0.0000" in text or text.startswith(b"null"):
        return False
    if b"null" in text and (b":null" in text or b",null" in text or b"[null" in text):
        return False
    return not any(text[m.start() - 1] in b"0123456789." for m in _EXPONENT.finditer(text))


def content_hash(raw: dict[str, Any]) -> str:
    """SHA-256 of the record's submitted content; equal hashes mean "no new version"."""
    text = memoryview(canonical_bytes(strip_noise(raw)))
    digest = hashlib.sha256()
    for start in range(0, len(text), _HASHED_HOLDING_GIL):
        digest.update(text[start : start + _HASHED_HOLDING_GIL])
    return digest.hexdigest()


@dataclass(frozen=True, slots=True)
class Stamp:
    """The light fields a poll compares to decide whether a full fetch is worth it.

    `overall_status` is here because real records flip to UNKNOWN without a new update date.
    """

    nct_id: str | None
    last_update_posted: str | None
    overall_status: str | None


def stamp_of(raw: dict[str, Any]) -> Stamp:
    """Read the light fields from a full record or a `fields=` subset of one."""
    protocol = raw.get("protocolSection")
    protocol = protocol if isinstance(protocol, dict) else {}
    ident = protocol.get("identificationModule")
    status = protocol.get("statusModule")
    ident = ident if isinstance(ident, dict) else {}
    status = status if isinstance(status, dict) else {}
    posted = status.get("lastUpdatePostDateStruct")
    nct_id = ident.get("nctId")
    overall = status.get("overallStatus")
    date = posted.get("date") if isinstance(posted, dict) else None
    return Stamp(
        nct_id=nct_id if isinstance(nct_id, str) else None,
        last_update_posted=date if isinstance(date, str) else None,
        overall_status=overall if isinstance(overall, str) else None,
    )


def brief_title(raw: dict[str, Any]) -> str | None:
    """The short title, for listings; None when the record has none."""
    protocol = raw.get("protocolSection")
    ident = protocol.get("identificationModule") if isinstance(protocol, dict) else None
    title = ident.get("briefTitle") if isinstance(ident, dict) else None
    return title if isinstance(title, str) else None
