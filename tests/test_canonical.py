"""The content hash: housekeeping-only refetches are the same version, real edits are not."""

from __future__ import annotations

import random

import pytest
from conftest import load_fixture

from watcher.core.canonical import content_hash, stamp_of

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
