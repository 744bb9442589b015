"""Stored versions: deltas against the previous version, keyframes, exact round trips, damage."""

from __future__ import annotations

import copy
import json
import zlib
from itertools import pairwise
from typing import Any

import pytest
from conftest import load_fixture, version_chains
from hypothesis import given, settings
from hypothesis import strategies as st

from watcher.core import codec
from watcher.core.codec import KEYFRAME_EVERY, decode_chain, encode, is_keyframe
from watcher.errors import StoreError

Raw = dict[str, Any]
Row = tuple[str, bytes]
OLD = "NCT07227597__partrita-tigit__2026-02-05__62edf6a6.json"
NEW = "NCT07227597__partrita-tigit__2026-03-10__66773312.json"
LARGEST = "NCT02513394__mcode-ctms-spec-data.json"  # 1.5 MB, 437 sites


def _store(versions: list[Raw]) -> list[Row]:
    """Encode versions in order, exactly as the store appends them."""
    rows: list[Row] = []
    previous: Raw | None = None
    deltas = 0
    for raw in versions:
        codec_name, blob = encode(raw, previous, deltas)
        deltas = 0 if is_keyframe(codec_name) else deltas + 1
        rows.append((codec_name, blob))
        previous = raw
    return rows


def _read(rows: list[Row], n: int) -> Raw:
    """Version n (0-based) as the store reads it: from the nearest keyframe at or before it."""
    start = max(k for k in range(n + 1) if is_keyframe(rows[k][0]))
    return decode_chain(rows[start : n + 1])


def _same(decoded: Raw, raw: Raw) -> bool:
    """Equal values and the same key order everywhere."""
    return json.dumps(decoded, ensure_ascii=False) == json.dumps(raw, ensure_ascii=False)


def _enrolment_versions(raw: Raw, count: int) -> list[Raw]:
    """`count` versions of a real record, each with a new enrollment figure."""
    versions = [raw]
    for n in range(1, count):
        version = copy.deepcopy(versions[-1])
        version["protocolSection"]["designModule"]["enrollmentInfo"]["count"] = 100 + n
        versions.append(version)
    return versions


def _legacy_row(raw: Raw) -> Row:
    """A row as store.py wrote it before this codec: compact JSON, zlib level 9."""
    text = json.dumps(raw, ensure_ascii=False, separators=(",", ":"))
    return "zlib", zlib.compress(text.encode("utf-8"), 9)


# -- round trips ----------------------------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.parametrize("nct", sorted(version_chains()))
def test_every_recorded_version_reads_back_exactly(nct: str) -> None:
    """Every recorded version of every trial reads back as served, key order included."""
    versions = [json.loads(p.read_text(encoding="utf-8")) for p in version_chains()[nct]]
    rows = _store(versions)
    assert is_keyframe(rows[0][0])
    for n, raw in enumerate(versions):
        assert _same(_read(rows, n), raw)


def test_a_new_version_of_a_real_trial_is_stored_small() -> None:
    """A real new version (dates, arms, outcomes edited) costs under 1 KB instead of ~6 KB."""
    old, new = load_fixture(OLD), load_fixture(NEW)
    codec_name, blob = encode(new, old, 0)
    assert codec_name == "delta-zlib"
    assert len(blob) < 1024 < len(encode(new, None, 0)[1])
    assert _same(decode_chain([encode(old, None, 0), (codec_name, blob)]), new)


def test_a_chain_longer_than_k_gets_keyframes() -> None:
    """Every KEYFRAME_EVERY-th version is a keyframe, so a read never needs more rows than K."""
    versions = _enrolment_versions(load_fixture(NEW), 2 * KEYFRAME_EVERY + 1)
    rows = _store(versions)
    keyframes = [n for n, (codec_name, _) in enumerate(rows) if is_keyframe(codec_name)]
    assert keyframes == [0, KEYFRAME_EVERY, 2 * KEYFRAME_EVERY]
    for n in (KEYFRAME_EVERY - 1, KEYFRAME_EVERY, 2 * KEYFRAME_EVERY):
        assert _same(_read(rows, n), versions[n])


@pytest.mark.slow
def test_the_largest_record_keeps_shortversion_chains() -> None:
    """A 1.5 MB record gets a keyframe every few versions, keeping its reads fast."""
    versions = _enrolment_versions(load_fixture(LARGEST), codec._LARGE_KEYFRAME_EVERY + 1)
    rows = _store(versions)
    assert [is_keyframe(c) for c, _ in rows] == [True] + [False] * (
        codec._LARGE_KEYFRAME_EVERY - 1
    ) + [True]
    assert _same(_read(rows, codec._LARGE_KEYFRAME_EVERY - 1), versions[-2])


def test_reading_past_a_later_keyframe_starts_again_from_it() -> None:
    """Rows handed over from an earlier keyframe than needed still give the wanted version."""
    versions = _enrolment_versions(load_fixture(NEW), KEYFRAME_EVERY + 3)
    assert _same(decode_chain(_store(versions)), versions[-1])


def test_versions_written_before_deltas_still_read_and_anchor_deltas() -> None:
    """An old compact "zlib" row reads back, and a delta written after it reads back too."""
    old, new = load_fixture(OLD), load_fixture(NEW)
    legacy = _legacy_row(old)
    assert _same(decode_chain([legacy]), old)
    assert _same(decode_chain([legacy, encode(new, old, 0)]), new)


def test_a_chain_written_in_the_previous_line_form_reads_back_and_anchors_deltas() -> None:
    """Rows the previous trialwatch wrote (the C encoder's line form: a keyframe and a delta)
    read back, and so does a delta written now after them, in today's form."""
    old, new = load_fixture(OLD), load_fixture(NEW)
    third = copy.deepcopy(new)
    third["protocolSection"]["statusModule"]["overallStatus"] = "COMPLETED"
    before = [codec._c_encoder_text(old), codec._c_encoder_text(new)]
    rows = [("zlib", zlib.compress(before[0])), ("delta-zlib", codec._delta(*before))]
    rows.append(encode(third, new, 1))
    assert rows[2][0] == "delta-zlib"
    assert codec._text(new) != before[1]  # the last delta applies to a text of another form
    for n, raw in enumerate((old, new, third)):
        assert _same(_read(rows, n), raw)


def test_a_keyframe_is_still_readable_by_the_old_decoder() -> None:
    """A new keyframe is plain zlib'd JSON, so a reader that knows only whole zlib rows reads it."""
    raw = load_fixture(NEW)
    codec_name, blob = encode(raw, None, 0)
    assert codec_name == "zlib"
    assert _same(json.loads(zlib.decompress(blob).decode("utf-8")), raw)


# -- never bigger than a keyframe -----------------------------------------------------------------


@pytest.mark.slow
def test_no_stored_delta_is_bigger_than_the_keyframe_would_be() -> None:
    """Over every recorded version chain, each delta is smaller than storing the version whole."""
    checked = 0
    for paths in version_chains().values():
        versions = [json.loads(p.read_text(encoding="utf-8")) for p in paths]
        for previous, raw in pairwise(versions):
            codec_name, blob = encode(raw, previous, 0)
            keyframe = encode(raw, None, 0)[1]
            assert len(blob) <= len(keyframe)
            checked += codec_name == "delta-zlib"
    assert checked > 50


def test_an_unrelated_previous_version_gives_a_keyframe() -> None:
    """When the previous record shares nothing useful, the version is stored whole."""
    raw = load_fixture(NEW)
    row = encode(raw, {"unrelated": [1, 2, 3]}, 0)
    assert is_keyframe(row[0]) and decode_chain([row]) == raw


# -- random edits (hypothesis) --------------------------------------------------------------------

BASE = load_fixture(NEW)
SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(10**12), 10**12),
    st.integers(),  # beyond 64 bits too: orjson refuses those, the C encoder's form takes them
    st.floats(),  # NaN and the infinities too: orjson would write them as null
    st.text(max_size=40),
)


def _containers(node: Any) -> list[Any]:
    """Every dict and list in a record, the record first."""
    found = [node]
    children = node.values() if isinstance(node, dict) else node
    for child in children:
        if isinstance(child, dict | list):
            found += _containers(child)
    return found


def _edit(raw: Raw, data: st.DataObject) -> None:
    """One random edit in place: change a value, add or remove a list item, or reorder keys."""
    target = data.draw(st.sampled_from(_containers(raw)))
    kind = data.draw(st.sampled_from(["change", "add", "remove", "reorder"]))
    if isinstance(target, list):
        if kind == "remove" and target:
            del target[data.draw(st.integers(0, len(target) - 1))]
        elif kind == "change" and target:
            target[data.draw(st.integers(0, len(target) - 1))] = data.draw(SCALARS)
        else:
            item = copy.deepcopy(target[0]) if target and kind == "add" else data.draw(SCALARS)
            target.insert(data.draw(st.integers(0, len(target))), item)
    elif kind == "reorder" and target:
        order = data.draw(st.permutations(list(target)))
        items = [(key, target.pop(key)) for key in order]
        target.update(items)
    elif kind == "remove" and target:
        del target[data.draw(st.sampled_from(sorted(target)))]
    else:
        target[data.draw(st.text(min_size=1, max_size=12))] = data.draw(SCALARS)


@pytest.mark.slow
@settings(max_examples=60, deadline=None)
@given(st.data())
def test_random_edits_round_trip_exactly(data: st.DataObject) -> None:
    """Versions made by random edits of a real record all read back exactly, key order kept."""
    versions = [BASE]
    for _ in range(data.draw(st.integers(1, 4))):
        version = copy.deepcopy(versions[-1])
        for _ in range(data.draw(st.integers(1, 3))):
            _edit(version, data)
        versions.append(version)
    rows = _store(versions)
    for n, raw in enumerate(versions):
        assert _same(_read(rows, n), raw)


# -- damage ---------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def chain() -> tuple[list[Raw], list[Row]]:
    """Three versions of a real trial: a keyframe and two deltas."""
    versions = [load_fixture(OLD), load_fixture(NEW)]
    third = copy.deepcopy(versions[1])
    third["protocolSection"]["statusModule"]["overallStatus"] = "COMPLETED"
    versions.append(third)
    rows = _store(versions)
    assert [c for c, _ in rows] == ["zlib", "delta-zlib", "delta-zlib"]
    return versions, rows


def test_every_damaged_byte_of_a_delta_is_caught(chain: tuple[list[Raw], list[Row]]) -> None:
    """Any single byte of a delta flipped gives StoreError naming the row, never a wrong record.

    A flip may land on bits deflate never reads (in a dynamic block's code-length header),
    where the row still gives exactly the version stored: that is no damage to the record."""
    versions, rows = chain
    codec_name, blob = rows[1]
    caught = 0
    for at in range(len(blob)):
        damaged = blob[:at] + bytes([blob[at] ^ 0x55]) + blob[at + 1 :]
        try:
            read = decode_chain([rows[0], (codec_name, damaged)])
        except StoreError as exc:
            assert "row 2 of 2 (a delta)" in str(exc)
            caught += 1
        else:
            assert _same(read, versions[1]), f"byte {at} flipped reads back a wrong record"
    assert caught >= 0.99 * len(blob)


def test_a_damaged_keyframe_is_caught(chain: tuple[list[Raw], list[Row]]) -> None:
    """A keyframe with a flipped byte gives StoreError naming the row as damaged."""
    _, rows = chain
    codec_name, blob = rows[0]
    damaged = blob[:100] + bytes([blob[100] ^ 0x01]) + blob[101:]
    with pytest.raises(StoreError, match=r"row 1 of 2 is damaged"):
        decode_chain([(codec_name, damaged), rows[1]])


def test_a_missing_row_is_caught(chain: tuple[list[Raw], list[Row]]) -> None:
    """A delta applied to the wrong version (a row left out) is refused, not misapplied."""
    _, rows = chain
    with pytest.raises(StoreError, match=r"row 2 of 2 \(a delta\) does not apply"):
        decode_chain([rows[0], rows[2]])


def test_a_truncated_delta_is_caught(chain: tuple[list[Raw], list[Row]]) -> None:
    """A delta cut short is reported as damaged."""
    _, rows = chain
    codec_name, blob = rows[1]
    with pytest.raises(StoreError, match=r"row 2 of 2 \(a delta\) is damaged"):
        decode_chain([rows[0], (codec_name, blob[:-3])])


def test_a_well_formed_delta_that_builds_the_wrong_text_is_caught(
    chain: tuple[list[Raw], list[Row]],
) -> None:
    """Operations that decompress fine but rebuild other text fail the final checksum."""
    versions, rows = chain
    base = codec._text(versions[0])
    forged = zlib.compress(b"%08x %08x\n0 0 100 0" % (zlib.crc32(base), 12345)) + zlib.compress(b"")
    with pytest.raises(StoreError, match="checksum does not match"):
        decode_chain([rows[0], ("delta-zlib", forged)])


def test_operations_out_of_range_are_caught(chain: tuple[list[Raw], list[Row]]) -> None:
    """A copy reaching past the end of the previous version is reported, not an IndexError."""
    versions, rows = chain
    base = codec._text(versions[0])
    forged = zlib.compress(b"%08x 0\n0 0 99999999 0" % zlib.crc32(base)) + zlib.compress(b"")
    with pytest.raises(StoreError, match="out of range"):
        decode_chain([rows[0], ("delta-zlib", forged)])


@pytest.mark.parametrize(
    ("rows", "message"),
    [
        ([], "no stored rows"),
        ([("brotli", b"")], "codec 'brotli', unknown"),
        ([("delta-zlib", b"")], "delta with no keyframe"),
        ([("zlib", zlib.compress(b"[1, 2]"))], "not a study object"),
        ([("zlib", zlib.compress(b"{oops"))], "not valid JSON"),
    ],
)
def test_rows_that_cannot_make_a_record_are_refused(rows: list[Row], message: str) -> None:
    """Empty, unknown, keyframe-less and non-study rows each raise StoreError saying why."""
    with pytest.raises(StoreError, match=message):
        decode_chain(rows)


def test_codec_names() -> None:
    """Keyframes keep the old "zlib" name; deltas have their own."""
    assert is_keyframe("zlib")
    assert not is_keyframe("delta-zlib")
