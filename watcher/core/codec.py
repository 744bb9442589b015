"""How a stored version is packed: a keyframe now and then, line deltas in between (pure).

Why it looks like this:
- A new version of a trial usually changes a handful of values in a record of 5 KB to 1.5 MB,
  so storing every version whole (zlib, ~7 KB each) is mostly the same bytes again. A record
  is written as JSON with one item per line (`_text`: a key and its value, a nested object
  starting on its key's line, indented two spaces a level), and a new version is stored as
  copies of byte ranges of the version before it plus inserted lines, compressed with zlib.
- Why that line form: it is what orjson writes (`OPT_INDENT_2`), 0.015 ms a small trial
  against 0.15 ms for `json.dumps`'s C encoder with a line break in its separator (the form
  before it) and 0.7 ms for the pure-Python encoder that `indent=0` forces, and a cold start
  encodes every trial once. The indentation costs bytes: a small keyframe 5 % more after
  zlib, and `bench/storage.py` stores 12 % more in all on the recorded chains (771,506 to
  864,765 bytes, most of it the deeply nested results of the largest records; the median new
  version 176 to 184 bytes). orjson writes NaN and the infinities as null and refuses
  integers beyond 64 bits and lone surrogates, so a record holding a null (a line ending in
  `null`: no string holds a line break) or one of those is written in the C encoder's form
  instead, which `json.loads` reads back exactly.
- Deltas are compressed at zlib level 6 (level 9 took twice as long for 1.3 % fewer bytes),
  and so is a keyframe weighed against a delta. The keyframes no delta is weighed against (a
  first version, a full chain) use level 4, the last with lazy matching: a cold start writes
  one for every trial, and on the recorded records level 6 took 1.10 ms a record against
  0.57 ms for 5 % fewer bytes.
- Why lines and not a zlib preset dictionary: zlib looks back only 32 KB, so a preset
  dictionary of the previous version stops helping on exactly the large records that cost the
  most. Measured by `bench/storage.py` on the recorded version chains, a preset dictionary
  stores a median 556 bytes per new version and 27.9 KB at worst (a 176 KB record); this
  codec stores 177 bytes, 1.6 KB at worst; storing versions whole takes 7.9 KB.
- A copy may point anywhere in the old text and is anchored on lines that are rare in it
  (a facility name, a date with its key), so a site list the registry reorders wholesale costs
  one copy per site, not the whole list again. The inserted lines are compressed with the old
  lines no copy kept as a preset dictionary, so an edited eligibility text costs about its
  edit, not its length.
- A read never rebuilds the versions in between: each delta only rewrites a short list of
  pieces (slices of the keyframe and of the inserted bytes), and the wanted version is joined
  once at the end. Reading costs a keyframe's decompression and one `json.loads`, plus a few
  microseconds per delta.
- Every `KEYFRAME_EVERY`-th version is a self-contained keyframe, so a damaged row spoils at
  most the versions up to the next keyframe.
- Keyframes keep the codec name "zlib" of the rows written before this module existed: old rows
  hold compact JSON, the one-scalar-per-line text an earlier trialwatch wrote (`indent=0`) or
  the C encoder's line form, new ones the line form above; `json.loads` reads them all, so old
  databases need no rewrite.
  A delta names the checksum of the text it applies to, so a delta written against an older
  form (or a new one after an old keyframe) finds its base: the text is re-spelt in the form
  whose checksum matches (`_rebase`), once per chain that mixes forms.
- Each delta carries CRC-32s of the text it applies to and of the text it makes, so a missing
  or misordered row, or a damaged one, raises `StoreError` instead of returning a wrong record.
"""

from __future__ import annotations

import json
import zlib
from bisect import bisect_right
from collections.abc import Sequence
from itertools import accumulate
from typing import Any

import orjson

from watcher.errors import StoreError

KEYFRAME = "zlib"
DELTA = "delta-zlib"

# At most 31 deltas after a keyframe. A read costs ~10 ns per byte of the record's text
# (inflate the keyframe, join, parse) plus a few microseconds per delta, so a typical record
# (~25 KB) reads in well under a millisecond at any chain length, and K is set by storage and
# by damage instead: a keyframe (~6.5 KB) spread over 32 versions adds ~200 bytes to each, and
# one damaged row costs at most a month of daily versions. The largest records differ: the
# 1.5 MB trial (830 KB of text, 437 sites) takes ~7.5 ms for the keyframe alone, and a delta
# after a reordered site list adds up to ~0.7 ms, so a record over `_LARGE` keeps a short chain.
KEYFRAME_EVERY = 32
_LARGE = 384 * 1024
_LARGE_KEYFRAME_EVERY = 4

_LEVEL = 6  # deltas (see the module's docstring)
_KEYFRAME_LEVEL = 4
# A line found more often than this in the old version (a bracket, a common value) never starts
# a copy on its own; among fewer places, the one where the most lines match on (up to `_REACH`)
# wins, so a site list the registry repeats or a "Research Site" facility still matches well.
_CANDIDATES = 16
_REACH = 64
_MIN_COPY = 16  # bytes; a shorter copy costs more as an operation than as inserted bytes
_WINDOW = 32 * 1024  # how far back zlib can copy from: all of a preset dictionary it can use

# A slice of the text of a version: (buffer, start, end). A version being rebuilt is a list of
# pieces, so that applying a delta costs its operations, not the size of the record.
Piece = tuple[bytes, int, int]


def is_keyframe(codec: str) -> bool:
    """A keyframe row decodes on its own; any other row needs the rows before it."""
    return codec == KEYFRAME


def encode(
    raw: dict[str, Any], previous: dict[str, Any] | None, chain_length: int
) -> tuple[str, bytes]:
    """Pack `raw` as a delta against `previous`, or as a keyframe when a delta is not worth it.

    `previous` is the decoded version just before (None for a trial's first version) and
    `chain_length` the number of deltas stored since the last keyframe. A keyframe is written
    for the first version, after `KEYFRAME_EVERY` - 1 deltas (fewer for a record over 384 KB),
    and whenever the delta would not be smaller.
    """
    text = _text(raw)
    every = KEYFRAME_EVERY if len(text) <= _LARGE else _LARGE_KEYFRAME_EVERY
    if previous is None or chain_length + 1 >= every:
        return _keyframe(text)
    delta = _delta(_text(previous), text)
    keyframe = zlib.compress(text, _LEVEL)  # like with like: the delta's level
    if len(delta) < len(keyframe):
        return DELTA, delta
    return KEYFRAME, keyframe


def _keyframe(text: bytes) -> tuple[str, bytes]:
    """A keyframe no delta is weighed against (a first version, a full chain), from its text."""
    return KEYFRAME, zlib.compress(text, _KEYFRAME_LEVEL)


def decode_chain(rows: Sequence[tuple[str, bytes]]) -> dict[str, Any]:
    """The record of the last row, rebuilt from the keyframe at the start of `rows`.

    `rows` are (codec, blob) pairs, oldest first, from a keyframe up to the wanted version.
    """
    if not rows:
        raise StoreError("no stored rows to decode a version from")
    total = len(rows)
    if total == 1 and is_keyframe(rows[0][0]):
        return _record(_inflate(rows[0][1], 1, total), 1, total)
    pieces: list[Piece] = []
    crc = 0
    for number, (codec, blob) in enumerate(rows, start=1):
        if is_keyframe(codec):
            text = _inflate(blob, number, total)
            pieces, crc = [(text, 0, len(text))], zlib.crc32(text)
        elif codec != DELTA:
            raise StoreError(
                f"stored row {number} of {total} uses codec {codec!r}, unknown to this trialwatch"
            )
        elif number == 1:
            raise StoreError(f"stored row 1 of {total} is a delta with no keyframe before it")
        else:
            where = f"stored row {number} of {total} (a delta)"
            pieces, crc = _rebase(pieces, crc, blob, number - 1, total)
            pieces, crc = _apply(pieces, crc, blob, where)
    text = b"".join(memoryview(buffer)[start:end] for buffer, start, end in pieces)
    if zlib.crc32(text) != crc:
        raise StoreError(
            f"stored rows 1-{total} rebuild a version whose checksum does not match; "
            "a delta row is damaged"
        )
    return _record(text, total, total)


def _text(raw: dict[str, Any]) -> bytes:
    """The record as UTF-8 JSON, one item per line: orjson's indented form where `json.loads`
    reads it back as the same record, else the C encoder's (the module's docstring says why)."""
    try:
        text = orjson.dumps(raw, option=orjson.OPT_INDENT_2)
    except orjson.JSONEncodeError:  # an integer beyond 64 bits, a lone surrogate
        return _c_encoder_text(raw)
    if b"null" in text and (b"null,\n" in text or b"null\n" in text):
        return _c_encoder_text(raw)  # a null may have been a NaN or an infinity
    return text + b"\n"


def _c_encoder_text(raw: dict[str, Any]) -> bytes:
    """The line form of `json.dumps`'s C encoder: a line break after each item's comma."""
    text = json.dumps(raw, ensure_ascii=False, separators=(",\n", ":"))
    return text.encode("utf-8") + b"\n"


def _indented_text(raw: dict[str, Any]) -> bytes:
    """The line form deltas written before the C-encoder form applied to (`indent=0`)."""
    text = json.dumps(raw, ensure_ascii=False, indent=0, separators=(",", ":"))
    return text.encode("utf-8") + b"\n"


def _rebase(
    pieces: list[Piece], crc: int, blob: bytes, number: int, total: int
) -> tuple[list[Piece], int]:
    """The text a delta applies to, re-spelt in the line form it was written against.

    A chain stored across an upgrade mixes forms: a keyframe or delta of an earlier form
    (`_c_encoder_text`, `_indented_text`, or compact JSON from before deltas existed) followed
    by a delta of the current form. The
    delta's header names its base's checksum; when the text in hand does not have it, the text
    is parsed and written again in each form until one does (`_apply` reports a mismatch).
    `number` is the row whose version the pieces make.
    """
    try:
        unpacker = zlib.decompressobj()
        header = unpacker.decompress(blob, 64).partition(b"\n")[0]
        expected = int(header.split(b" ")[0], 16)
    except (ValueError, zlib.error):
        return pieces, crc  # `_apply` says how the row is damaged
    if expected == crc:
        return pieces, crc
    text = b"".join(memoryview(buffer)[start:end] for buffer, start, end in pieces)
    if zlib.crc32(text) != crc:
        return pieces, crc
    record = _record(text, number, total)
    for spell in (_text, _c_encoder_text, _indented_text):
        respelt = spell(record)
        if zlib.crc32(respelt) == expected:
            return [(respelt, 0, len(respelt))], expected
    return pieces, crc


def _delta(old: bytes, new: bytes) -> bytes:
    """Copies from `old` and inserted bytes that make `new`, as two zlib streams back to back.

    The first stream is a header line `<old crc> <new crc>` and a line of integers in threes,
    `inserted skip copied`: take the next `inserted` bytes of the second stream, then copy
    `copied` old bytes starting `skip` bytes after where the last copy ended (negative to go
    back); a last lone integer takes the remaining inserted bytes. The second stream holds the
    inserted bytes, compressed with the old bytes no copy keeps as a preset dictionary.
    """
    old_lines = old.splitlines(keepends=True)
    new_lines = new.splitlines(keepends=True)
    old_at = [0, *accumulate(map(len, old_lines))]
    new_at = [0, *accumulate(map(len, new_lines))]
    numbers: list[int] = []
    inserted: list[bytes] = []
    copies: list[tuple[int, int]] = []
    done = old_end = 0
    for new_line, old_line, count in _matches(old_lines, new_lines):
        start, end = old_at[old_line], old_at[old_line + count]
        if end - start < _MIN_COPY:  # cheaper inserted than copied
            continue
        numbers += (new_at[new_line] - done, start - old_end, end - start)
        inserted.append(new[done : new_at[new_line]])
        copies.append((start, end))
        done, old_end = new_at[new_line + count], end
    numbers.append(len(new) - done)
    inserted.append(new[done:])
    ops = b"%08x %08x\n" % (zlib.crc32(old), zlib.crc32(new)) + b" ".join(
        b"%d" % n for n in numbers
    )
    packer = zlib.compressobj(_LEVEL, zdict=_spare([(old, 0, len(old))], [0, len(old)], copies))
    rest = packer.compress(b"".join(inserted)) + packer.flush()
    return zlib.compress(ops, _LEVEL) + rest


def _matches(old: list[bytes], new: list[bytes]) -> list[list[int]]:
    """Runs of new lines found in `old`, as (new start, old start, count), in new-line order.

    One pass over `new`. A run grows while the next old line matches. Otherwise a line found in
    `old` at most `_CANDIDATES` times (a facility, a date with its key; not a bracket) starts a
    new run where the most lines match on, which then also reaches back over the unmatched lines
    before it. After a replaced value, matching resumes on the same diagonal (same offset into
    `old`), so a changed status does not cost the common lines after it.
    """
    spots: dict[bytes, list[int]] = {}
    for i, line in enumerate(old):
        spots.setdefault(line, []).append(i)
    runs: list[list[int]] = []
    j = 0
    while j < len(new):
        line = new[j]
        if runs:
            run = runs[-1]
            i = run[1] + j - run[0]
            if i < len(old) and old[i] == line:
                if run[0] + run[2] == j:
                    run[2] += 1
                else:
                    runs.append([j, i, 1])
                j += 1
                continue
        found = spots.get(line, ())
        if 0 < len(found) <= _CANDIDATES:
            anchor = max(found, key=lambda i: _reach(old, new, i, j))
            floor = runs[-1][0] + runs[-1][2] if runs else 0
            back = 0
            while (
                j - back > floor
                and anchor - back > 0
                and new[j - back - 1] == old[anchor - back - 1]
            ):
                back += 1
            runs.append([j - back, anchor - back, back + 1])
        j += 1
    return runs


def _reach(old: list[bytes], new: list[bytes], i: int, j: int) -> int:
    """How many lines match from `old[i]` and `new[j]` on (up to `_REACH`)."""
    count = 0
    while count < _REACH and i + count < len(old) and j + count < len(new):
        if old[i + count] != new[j + count]:
            break
        count += 1
    return count


def _apply(old: list[Piece], base_crc: int, blob: bytes, where: str) -> tuple[list[Piece], int]:
    """The pieces a delta makes from the `old` pieces, and the CRC-32 their text must have."""
    old_at = [0, *accumulate(end - start for _, start, end in old)]
    try:
        unpacker = zlib.decompressobj()
        header, _, body = unpacker.decompress(blob).partition(b"\n")
        if not unpacker.eof:
            raise ValueError("its operations are cut short")
        expected_base, target_crc = (int(part, 16) for part in header.split(b" "))
        if expected_base != base_crc:
            raise StoreError(
                f"{where} does not apply to the row before it (checksum mismatch); "
                "a row is missing, out of order or damaged"
            )
        plan = _plan(list(map(int, body.split())), old_at[-1])
        copies = [(start, start + length) for start, length in plan if start >= 0]
        inserts = zlib.decompressobj(zdict=_spare(old, old_at, copies))
        inserted = inserts.decompress(unpacker.unused_data)
        if not inserts.eof or inserts.unused_data:
            raise ValueError("its inserted bytes are cut short or followed by stray bytes")
    except (ValueError, zlib.error) as exc:
        raise StoreError(f"{where} is damaged: {exc}") from None
    pieces: list[Piece] = []
    taken = 0
    for start, length in plan:
        if start >= 0:
            pieces += _cut(old, old_at, start, start + length)
        else:
            pieces.append((inserted, taken, taken + length))
            taken += length
    if taken != len(inserted):
        raise StoreError(
            f"{where} is damaged: it holds {len(inserted)} inserted bytes but uses {taken}"
        )
    return pieces, target_crc


def _plan(numbers: list[int], old_size: int) -> list[tuple[int, int]]:
    """The operations in order: (old start, length) for a copy, (-1, length) for inserted bytes."""
    if len(numbers) % 3 != 1:
        raise ValueError("its operations are incomplete")
    plan: list[tuple[int, int]] = []
    old_end = 0
    for k in range(0, len(numbers) - 1, 3):
        inserted, skip, length = numbers[k : k + 3]
        start = old_end + skip
        if inserted < 0 or start < 0 or length < 1 or start + length > old_size:
            raise ValueError(f"operation {k // 3 + 1} is out of range")
        if inserted:
            plan.append((-1, inserted))
        plan.append((start, length))
        old_end = start + length
    if numbers[-1] < 0:
        raise ValueError("its last operation is out of range")
    if numbers[-1]:
        plan.append((-1, numbers[-1]))
    return plan


def _cut(pieces: list[Piece], at: list[int], start: int, end: int) -> list[Piece]:
    """The pieces holding bytes `start` to `end` of the text `pieces` make (`at`: their starts).

    Whole pieces in between are taken as one list slice: after a reordered site list a version
    is thousands of pieces, and later copies of most of the record must not walk them one by one.
    """
    if start >= end:
        return []
    first = bisect_right(at, start) - 1
    last = bisect_right(at, end - 1) - 1
    buffer, offset, stop = pieces[first]
    if first == last:
        return [(buffer, offset + start - at[first], offset + end - at[first])]
    head = (buffer, offset + start - at[first], stop)
    buffer, offset, stop = pieces[last]
    return [head, *pieces[first + 1 : last], (buffer, offset, offset + end - at[last])]


def _spare(pieces: list[Piece], at: list[int], copies: list[tuple[int, int]]) -> bytes:
    """The old bytes no copy keeps (the last 32 KB of them: all that zlib can look back on)."""
    gaps: list[Piece] = []
    done = 0
    for start, end in sorted(copies):
        if start > done:
            gaps += _cut(pieces, at, done, start)
        done = max(done, end)
    gaps += _cut(pieces, at, done, at[-1])
    return b"".join(memoryview(buffer)[start:end] for buffer, start, end in gaps)[-_WINDOW:]


def _inflate(blob: bytes, number: int, total: int) -> bytes:
    try:
        return zlib.decompress(blob)
    except zlib.error as exc:
        raise StoreError(f"stored row {number} of {total} is damaged: {exc}") from None


def _record(text: bytes, number: int, total: int) -> dict[str, Any]:
    try:
        record = json.loads(text)
    except ValueError as exc:  # JSONDecodeError and UnicodeDecodeError are both ValueErrors
        raise StoreError(f"stored row {number} of {total} is not valid JSON: {exc}") from None
    if not isinstance(record, dict):
        raise StoreError(f"stored row {number} of {total} holds JSON that is not a study object")
    return record
