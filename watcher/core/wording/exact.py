"""The exact old → new lines: what `trialwatch diff` prints, coordinators and feeds show (pure).

Coordinators read this to check what the registry now says, so values are shown as the
registry spells them (RECRUITING, "18 Years"), old → new, and sites by the name they know
them by; every field by its name, never its JSON path, and every value in words, never as
JSON (`labels`). Eligibility items are shown in full: a shortened criterion could read
differently. A long text that changed shows its changed words with a few beside them
(`watcher.core.worddiff`), as "[-taken out-]{+put in+}" here and highlighted in HTML; other
values are shortened, because their detail is on the registry page. A changed arm,
intervention or outcome is said by the parts that changed, and many site changes of one kind
are counted by old → new status (`site_counts`); `change_cells` gives a change's spreadsheet
cells in full.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from watcher.core.change import SITE_KINDS, Change
from watcher.core.record import JSON
from watcher.core.worddiff import CONTEXT_WORDS, Span, marked_text, word_diff
from watcher.core.wording.labels import (
    FIELD_NAMES,
    counted,
    exact_value,
    field_label,
    key_label,
)
from watcher.core.wording.words import (
    by_kind,
    code_words,
    contacts_words,
    item_name,
    operation,
    quoted,
    renamed_parts,
    shorten,
    text_of,
    value_words,
)

HEADINGS: Mapping[str, str] = {
    "status": "Overall status",
    "why_stopped": "Why the study stopped",
    "eligibility": "Eligibility criteria",
    "age_sex": "Age, sex and healthy volunteers",
    "site_added": "Sites added",
    "site_removed": "Sites removed",
    "site_status": "Site status",
    "site_contact": "Site contacts",
    "site_info": "Site addresses renamed",
    "enrollment": "Enrollment",
    "dates": "Dates",
    "results_posted": "Results",
    "phase": "Phase",
    "title": "Titles",
    "conditions": "Conditions",
    "interventions": "Interventions",
    "arms": "Arms",
    "outcomes": "Outcome measures",
    "sponsor": "Sponsor and collaborators",
    "contacts": "Central contacts",
    "other": "Other registry fields",
}
ARROW = "→"
OTHER_WIDTH = 100  # an "other" value is cut to this many characters, at a word boundary
NOT_LISTED = "not listed"  # a site before it was added, or after it was removed
NO_STATUS = "no status given"  # a site the registry lists without a recruiting status


@dataclass(frozen=True, slots=True)
class ExactLine:
    """One exact line: `text` as `trialwatch diff` prints it; a long text that changed also
    has `diff` (its words, unchanged or marked) under `label`, for layouts that mark them."""

    text: str
    label: str | None = None
    diff: tuple[Span, ...] = ()


def _item_words(value: JSON) -> str:
    """An arm, intervention or outcome by its name; all of it when it has none."""
    name = item_name(value)
    return exact_value(value) if name is None else name


def _prefixed(field: str, text: str) -> str:
    last = field.rsplit(".", 1)[-1]
    name = FIELD_NAMES[last] if last in FIELD_NAMES else field_label(field)
    return f"{name}: {text}" if name else text


def _moved(label: str, old: JSON, new: JSON) -> ExactLine:
    """`label: old → new`, or the changed words marked when either value is a long text."""
    was, now = text_of(old), text_of(new)
    if was and now and max(len(was), len(now)) > OTHER_WIDTH:
        spans = word_diff(was, now, CONTEXT_WORDS)
        return ExactLine(f"{label}: {marked_text(spans)}", label, spans)
    return ExactLine(f"{label}: {_shown(old)} {ARROW} {_shown(new)}")


def _shown(value: JSON) -> str:
    """A value in a line, cut when long: its detail is on the registry page."""
    return shorten(exact_value(value), OTHER_WIDTH)


def site_status_words(value: JSON) -> str:
    """A site's recruiting status, as the registry spells it, or that none was given."""
    return value_words(value) if value else NO_STATUS


def exact_lines(change: Change) -> list[ExactLine]:
    """What one change says, as one or more lines (without the group heading)."""
    kind, old, new = change.kind, change.old, change.new
    site = change.site.label() if change.site else ""
    if kind == "site_added":
        return [ExactLine(f"{site}: {site_status_words(new)}")]
    if kind == "site_removed":
        return [ExactLine(f"{site}: was {site_status_words(old)}")]
    if kind == "site_status":
        return [ExactLine(f"{site}: {site_status_words(old)} {ARROW} {site_status_words(new)}")]
    if kind == "site_info":
        named = change.site.facility if change.site and change.site.facility else site
        parts = "; ".join(f"{p} {was} {ARROW} {now}" for p, was, now in renamed_parts(old, new))
        return [ExactLine(f"Site {named}: {parts}")]
    if kind in ("site_contact", "contacts"):
        prefix = f"{site}: " if site else ""
        was, now = contacts_words(old, exact=True), contacts_words(new, exact=True)
        return [ExactLine(f"{prefix}{was} {ARROW} {now}")]
    if kind == "enrollment":
        return [ExactLine(f"{counted(old)} {ARROW} {counted(new)}")]
    if kind == "dates":
        return [ExactLine(_prefixed(change.field, f"{counted(old)} {ARROW} {counted(new)}"))]
    if kind == "eligibility":
        return [ExactLine(text) for text in _eligibility_lines(change)]
    if kind in ("interventions", "arms", "outcomes"):
        return _item_lines(change)
    if kind == "results_posted":
        was, now = ("posted" if v else "not posted" for v in (old, new))
        return [ExactLine(f"{was} {ARROW} {now}")]
    if kind == "other":
        return _other_lines(change)
    line = _prefixed(change.field, f"{exact_value(old)} {ARROW} {exact_value(new)}")
    last_known = (change.detail or {}).get("last_known_status")
    return [ExactLine(f"{line} (last known status: {last_known})" if last_known else line)]


def eligibility_label(change: Change, parent_words: Callable[[str], str] = str) -> str:
    """Which criterion moved and how: "Inclusion, changed (under …)".

    `parent_words` shows the item the criterion sits under (emails quote it).
    """
    detail = change.detail or {}
    where = str(detail.get("section", "")).capitalize() or "Criteria"
    parent = detail.get("parent")
    under = f" (under {parent_words(str(parent))})" if parent else ""
    return f"{where}, {operation(change)}{under}"


def _eligibility_lines(change: Change) -> list[str]:
    label = eligibility_label(change)
    if change.old is None:
        return [f"{label}: {value_words(change.new)}"]
    if change.new is None:
        return [f"{label}: {value_words(change.old)}"]
    return [f"{label}:", f"  was: {value_words(change.old)}", f"  now: {value_words(change.new)}"]


def _members_moved(label: str, old: JSON, new: JSON) -> ExactLine | None:
    """A list of names that changed (an intervention's arms) by the names added and removed."""
    was = [exact_value(v) for v in old] if isinstance(old, list) else []
    now = [exact_value(v) for v in new] if isinstance(new, list) else []
    added = [quoted(v) for v in now if v not in was]
    removed = [quoted(v) for v in was if v not in now]
    parts = [
        f"added {', '.join(added)}" if added else "",
        f"removed {', '.join(removed)}" if removed else "",
    ]
    said = "; ".join(p for p in parts if p)
    return ExactLine(f"{label}: {said}") if said else None


def _item_lines(change: Change) -> list[ExactLine]:
    """An arm, intervention or outcome added or removed (by name), or changed: one line per
    changed part, naming the item ("Changed: “Arm 1”, description: …"), old → new, long texts
    as word diffs, lists of names by the names added and removed."""
    old, new = change.old, change.new
    verb = operation(change)
    group = field_label(change.field) if change.kind == "outcomes" else ""
    head = f"{group} {verb}" if group else verb.capitalize()
    if verb != "changed":
        return [ExactLine(f"{head}: {_item_words(new if verb == 'added' else old)}")]
    named = f"{head}: {quoted(_item_words(old))}"
    return _object_lines(named, old, new) or [ExactLine(named)]


def _other_lines(change: Change) -> list[ExactLine]:
    """A field outside the watched kinds; a list of entries by the entries added and removed,
    one entry edited (one out, one in) by the parts of it that changed."""
    label = field_label(change.field)
    delta = change.detail or {}
    if "added" in delta and "removed" in delta:
        added, removed = delta["added"], delta["removed"]
        if (
            isinstance(added, list)
            and isinstance(removed, list)
            and len(added) == len(removed) == 1
        ):
            return _object_lines(label, removed[0], added[0])
        told = [
            f"{verb} {_shown(entries)}"
            for entries, verb in ((added, "added"), (removed, "removed"))
            if isinstance(entries, list) and entries
        ]
        return [ExactLine(f"{label}: {'; '.join(told) or 'edited'}")]
    return _object_lines(label, change.old, change.new)


def _object_lines(label: str, old: JSON, new: JSON) -> list[ExactLine]:
    """Two versions of a registry value: objects by the parts that changed ("Study design,
    intervention model description: …"), lists of names by the names added and removed, the
    rest old → new."""
    if isinstance(old, dict) and isinstance(new, dict):
        keys = sorted(k for k in old.keys() | new.keys() if old.get(k) != new.get(k))
        return [
            line
            for key in keys
            for line in _object_lines(f"{label}, {key_label(key)}", old.get(key), new.get(key))
        ]
    if isinstance(old, list) and isinstance(new, list):
        line = _members_moved(label, old, new)
        return [line] if line else [ExactLine(f"{label}: reordered")]
    return [_moved(label, old, new)]


def site_counts(changes: Sequence[Change]) -> list[str]:
    """Many site changes of one kind, counted by old → new status, most first:
    "Recruiting → Completed: 43", "No status given → not listed: 43" (sites removed)."""
    if changes and changes[0].kind == "site_contact":  # contact lists do not count by value
        return [f"Contact details changed: {len(changes)} sites"]
    moves = Counter(_status_move(c) for c in changes)
    ranked = sorted(moves.items(), key=lambda pair: (-pair[1], pair[0]))
    return [f"{was[:1].upper()}{was[1:]} {ARROW} {now}: {n}" for (was, now), n in ranked]


def _status_move(change: Change) -> tuple[str, str]:
    """A site change's (old, new) status as words: "Recruiting", "not listed"."""
    was = NOT_LISTED if change.kind == "site_added" else _status_or_none(change.old)
    now = NOT_LISTED if change.kind == "site_removed" else _status_or_none(change.new)
    return was, now


def _status_or_none(value: JSON) -> str:
    status = text_of(value)
    return code_words(status) if status else NO_STATUS


# A spreadsheet's "field" for the kinds whose field path names no single field.
_CELL_FIELDS: Mapping[str, str] = {
    "site_added": "Site recruiting status",
    "site_removed": "Site recruiting status",
    "site_status": "Site recruiting status",
    "site_contact": "Site contacts",
    "site_info": "Site address",
    "contacts": "Central contacts",
    "enrollment": "Enrollment",
    "results_posted": "Results",
}


def change_cells(change: Change) -> tuple[str, str, str, str]:
    """One change as a spreadsheet row's (field, old, new, site): a label, the values in full
    (never cut: the spreadsheet is where a coordinator reads every detail), the site's name."""
    kind, old, new = change.kind, change.old, change.new
    site = change.site.label() if change.site else ""
    label = _CELL_FIELDS.get(kind) or field_label(change.field) or HEADINGS.get(kind, kind)
    if kind in SITE_KINDS - {"site_contact"}:
        was, now = _status_move(change)
        return label, was, now, site
    if kind in ("site_contact", "contacts"):
        return label, contacts_words(old, exact=True), contacts_words(new, exact=True), site
    if kind == "site_info":
        parts = renamed_parts(old, new)
        return label, ", ".join(p[1] for p in parts), ", ".join(p[2] for p in parts), site
    if kind == "results_posted":
        return label, "posted" if old else "not posted", "posted" if new else "not posted", site
    if kind == "eligibility":
        return eligibility_label(change), exact_value(old), exact_value(new), site
    return label, exact_value(old), exact_value(new), site


def summarize_line(changes: Sequence[Change]) -> str:
    """One line for a list of versions: the status move in full, other kinds counted; "" if none.

    "overall status: NOT_YET_RECRUITING → RECRUITING; sites added (1); dates (1)"
    """
    parts = []
    for kind, members in by_kind(changes):
        heading = HEADINGS.get(kind, kind).lower()
        if kind == "status":
            first = members[0]
            parts.append(f"{heading}: {value_words(first.old)} {ARROW} {value_words(first.new)}")
        else:
            parts.append(f"{heading} ({len(members)})")
    return "; ".join(parts)


def format_changes(changes: Sequence[Change]) -> str:
    """Changes grouped under one heading per kind, most important kind first."""
    blocks = []
    for kind, members in by_kind(changes):
        heading = HEADINGS.get(kind, kind)
        count = f" ({len(members)})" if len(members) > 1 else ""
        lines = [f"{heading}{count}"]
        lines += [f"  {line.text}" for change in members for line in exact_lines(change)]
        blocks.append("\n".join(lines))
    return "\n\n".join(blocks) if blocks else "No changes."
