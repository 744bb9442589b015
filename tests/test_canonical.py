"""The content hash: housekeeping-only refetches are the same version, real edits are not."""

from __future__ import annotations

import hashlib
import json
import random
from pathlib import Path
from typing import Any

import orjson
import pytest
from conftest import all_fixture_records, load_fixture
from hypothesis import given, settings
from hypothesis import strategies as st

from watcher.core.canonical import (
    _spelt_alike,
    canonical_bytes,
    canonical_json,
    content_hash,
    stamp_of,
    strip_noise,
)
from watcher.core.clean import clean_record

SAME = [  # real consecutive snapshots whose differences are registry housekeeping only
    ("NCT05574335__partrita-tigit__2026-02-03__91d8d988.json",
     "NCT05574335__partrita-tigit__2026-02-12__9c89203a.json"),  # update stamps only
    ("NCT05329766__partrita-tigit__2026-02-03__91d8d988.json",
     "NCT05329766__partrita-tigit__2026-02-28__15569d0d.json"),
    ("NCT01505608__ctrdata-demo-sqlite__2023-12-03__1f22b10a.json",
     "NCT01505608__ctrdata-demo-sqlite__2024-05-16__b195accc.json"),  # MeSH renumbered
    ("NCT06825494__partrita-tigit__2026-02-11__afb21bfb.json",
     "NCT06825494__partrita-tigit__2026-03-14__14b1b906.json"),  # site coordinates only
]  # fmt: skip
DIFFERENT = [
    ("NCT05294952__partrita-tigit__2026-02-03__91d8d988.json",
     "NCT05294952__partrita-tigit__2026-03-03__8078b9f0.json"),  # flip to UNKNOWN, same date
    ("NCT06911827__partrita-tigit__2026-02-11__afb21bfb.json",
     "NCT06911827__partrita-tigit__2026-02-26__0763c69c.json"),
]  # fmt: skip


@pytest.mark.parametrize(("old", "new"), SAME)
def test_housekeeping_is_not_a_new_version(old: str, new: str) -> None:
    """Snapshots that differ only in registry housekeeping hash the same."""
    assert content_hash(load_fixture(old)) == content_hash(load_fixture(new))


@pytest.mark.parametrize(("old", "new"), DIFFERENT)
def test_a_real_edit_is_a_new_version(old: str, new: str) -> None:
    """A submitted change, even one with no new update date, changes the hash."""
    assert content_hash(load_fixture(old)) != content_hash(load_fixture(new))


def test_site_order_and_third_party_keys_do_not_matter() -> None:
    """A reordered site list and a key added by another tool are the same version."""
    raw = load_fixture("NCT06892548__partrita-tigit__2026-02-12__9c89203a.json")
    sites = raw["protocolSection"]["contactsLocationsModule"]["locations"]
    shuffled = list(sites)
    random.Random(7).shuffle(shuffled)
    copy = {**raw, "ctrname": "CTGOV2", "protocolSection": {**raw["protocolSection"]}}
    module = raw["protocolSection"]["contactsLocationsModule"]
    copy["protocolSection"]["contactsLocationsModule"] = {**module, "locations": shuffled}
    assert content_hash(copy) == content_hash(raw)


def test_stamp_reads_light_fields_from_a_fields_subset() -> None:
    """The light fields are read the same from a full record and from a `fields=` answer."""
    status = {"overallStatus": "UNKNOWN", "lastUpdatePostDateStruct": {"date": "2024-02-05"}}
    light = {
        "protocolSection": {
            "identificationModule": {"nctId": "NCT05294952"},
            "statusModule": status,
        }
    }
    full = load_fixture("NCT05294952__partrita-tigit__2026-03-03__8078b9f0.json")
    assert stamp_of(light) == stamp_of(full)


# -- the hash's bytes, spelt by orjson, are the bytes json.dumps spelt ----------------------------


def hash_as_before(raw: dict[str, Any]) -> str:
    """The content hash as every stored row holds it: `json.dumps` over the stripped record, the
    sites sorted by their `json.dumps` spelling (written out here, not imported)."""
    kept = strip_noise(raw)
    sites = kept.get("protocolSection", {}).get("contactsLocationsModule", {}).get("locations")
    if isinstance(sites, list):
        sites.sort(key=lambda site: json.dumps(site, sort_keys=True, separators=(",", ":"),
                                               ensure_ascii=False))  # fmt: skip
    text = json.dumps(kept, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


@pytest.mark.parametrize("path", all_fixture_records(), ids=lambda p: p.name[:40])
def test_every_recorded_record_hashes_as_it_did(path: Path) -> None:
    raw = json.loads(path.read_text(encoding="utf-8"))
    for record in (raw, clean_record(raw)):
        assert content_hash(record) == hash_as_before(record)
        assert canonical_bytes(record) == canonical_json(record).encode("utf-8")
    # ...and by orjson itself, not by the slow path it falls back on (else no time is saved)
    assert _spelt_alike(orjson.dumps(strip_noise(clean_record(raw)), option=orjson.OPT_SORT_KEYS))


@pytest.mark.parametrize(
    "value",
    [
        {"a": 1e-05},  # orjson: 0.00001
        {"a": [-1.5e-07]},  # orjson: -1.5e-7
        {"a": float("nan")},  # orjson: null
        [float("inf")],
        {"a": 2**70},  # orjson refuses it
        {"b": {"\u00e9": 1, "Z": 2, "z": None}, "a": '\u2028 \x1f " \\'},
        {"looks like a float": "e-5 0.00001 ,null"},
    ],
)
def test_values_orjson_spells_otherwise_are_spelt_as_json_dumps_does(value: Any) -> None:
    assert canonical_bytes(value) == canonical_json(value).encode("utf-8")


_TEXT = st.text(
    st.sampled_from([*'a:", \\{}[]e-0.1', "\n", "\u00e9", "\u2028", "\x1f", "\U0001f600"])
)
_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**70), 2**70)
    | st.floats(allow_nan=True, allow_infinity=True)
    | _TEXT,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(_TEXT, inner, max_size=4),
    max_leaves=20,
)


@settings(max_examples=500)
@given(st.dictionaries(_TEXT, _VALUES, max_size=5))
def test_random_values_are_spelt_as_json_dumps_does(value: dict[str, Any]) -> None:
    assert canonical_bytes(value) == canonical_json(value).encode("utf-8")


@settings(max_examples=300)
@given(st.floats(allow_nan=True, allow_infinity=True))
def test_every_float_is_spelt_as_json_dumps_does(number: float) -> None:
    assert canonical_bytes({"n": [number, {"m": number}]}) == canonical_json(
        {"n": [number, {"m": number}]}
    ).encode("utf-8")
