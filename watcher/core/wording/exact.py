"""The exact old → new lines: what `trialwatch diff` prints, coordinators and feeds show (pure).

Coordinators read this to check what the registry now says, so values are shown as the
registry spells them (RECRUITING, "18 Years"), old → new, and sites by the name they know
them by. Eligibility items are shown in full: a shortened criterion could read differently.
Free-text "other" fields are shortened, because their detail is on the registry page.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

from watcher.core.change import Change
from watcher.core.record import JSON
from watcher.core.wording.words import (
    by_kind,
    contacts_words,
    item_name,
    operation,
    renamed_parts,
    shorten,
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
# The last part of a change's field, as a person names it; "" where the heading says it all.
FIELD_NAMES: Mapping[str, str] = {
    "overallStatus": "",
    "whyStopped": "",
    "phases": "",
    "conditions": "",
    "lastKnownStatus": "Last known status",
    "sex": "Sex",
    "minimumAge": "Minimum age",
    "maximumAge": "Maximum age",
    "healthyVolunteers": "Healthy volunteers",
    "startDateStruct": "Start",
    "primaryCompletionDateStruct": "Primary completion",
    "completionDateStruct": "Completion",
    "briefTitle": "Brief title",
    "officialTitle": "Official title",
    "name": "Lead sponsor",
    "collaborators": "Collaborators",
    "primaryOutcomes": "Primary outcome",
    "secondaryOutcomes": "Secondary outcome",
}
ARROW = "→"
OTHER_WIDTH = 100  # an "other" value is cut to this many characters, at a word boundary


def _counted(value: JSON) -> str:
    """An enrollment as "120 estimated", a date as "2026-03 (estimated)"."""
    if not isinstance(value, dict):
        return value_words(value)
    kind = value.get("type")
    kind_text = str(kind).lower() if kind else ""
    if "count" in value:
        return " ".join(p for p in (value_words(value.get("count")), kind_text) if p)
    date = value_words(value.get("date"))
    return f"{date} ({kind_text})" if kind_text else date


def _item_words(value: JSON) -> str:
    """An arm, intervention or outcome by its name; all of it when it has none."""
    name = item_name(value)
    return value_words(value) if name is None else name


def _field_name(field: str) -> str:
    last = field.rsplit(".", 1)[-1]
    return FIELD_NAMES.get(last, field.removeprefix("protocolSection."))


def _prefixed(field: str, text: str) -> str:
    name = _field_name(field)
    return f"{name}: {text}" if name else text


def _line(change: Change) -> list[str]:
    """What one change says, as one or more lines (without the group heading)."""
    kind, old, new = change.kind, change.old, change.new
    site = change.site.label() if change.site else ""
    if kind == "site_added":
        return [f"+ {site}: {value_words(new) if new else 'no recruiting status given'}"]
    if kind == "site_removed":
        return [f"- {site}: was {value_words(old)}"]
    if kind == "site_status":
        return [f"{site}: {value_words(old)} {ARROW} {value_words(new)}"]
    if kind == "site_info":
        named = change.site.facility if change.site and change.site.facility else site
        parts = "; ".join(f"{p} {was} {ARROW} {now}" for p, was, now in renamed_parts(old, new))
        return [f"Site {named}: {parts}"]
    if kind in ("site_contact", "contacts"):
        prefix = f"{site}: " if site else ""
        was, now = contacts_words(old, exact=True), contacts_words(new, exact=True)
        return [f"{prefix}{was} {ARROW} {now}"]
    if kind == "enrollment":
        return [f"{_counted(old)} {ARROW} {_counted(new)}"]
    if kind == "dates":
        return [_prefixed(change.field, f"{_counted(old)} {ARROW} {_counted(new)}")]
    if kind == "eligibility":
        return _eligibility_lines(change)
    if kind in ("interventions", "arms", "outcomes"):
        return [_item_line(change)]
    if kind == "results_posted":
        return [f"{'posted' if old else 'not posted'} {ARROW} {'posted' if new else 'not posted'}"]
    if kind == "other":
        return [_other_line(change)]
    line = _prefixed(change.field, f"{value_words(old)} {ARROW} {value_words(new)}")
    last_known = (change.detail or {}).get("last_known_status")
    return [f"{line} (last known status: {last_known})" if last_known else line]


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


def _item_line(change: Change) -> str:
    """An arm, intervention or outcome added, removed or changed (with the keys that changed)."""
    old, new = change.old, change.new
    verb = operation(change)
    if verb == "added":
        named = _item_words(new)
    elif verb == "removed":
        named = _item_words(old)
    else:
        was, now = _item_words(old), _item_words(new)
        named = was if was == now else f"{was} {ARROW} {now}"
        if isinstance(old, dict) and isinstance(new, dict):
            keys = sorted(k for k in old.keys() | new.keys() if old.get(k) != new.get(k))
            named += f" ({', '.join(keys)})"
    group = _field_name(change.field) if change.kind == "outcomes" else ""
    return f"{group} {verb}: {named}" if group else f"{verb.capitalize()}: {named}"


def _other_words(value: JSON) -> str:
    """A free-text registry value, shortened: its detail is on the registry page."""
    return shorten(value_words(value), OTHER_WIDTH)


def _other_line(change: Change) -> str:
    name = change.field.removeprefix("protocolSection.")
    delta = change.detail or {}
    if "added" in delta and "removed" in delta:
        added, removed = delta["added"], delta["removed"]
        counts = [
            f"{len(entries)} {verb}"
            for entries, verb in ((added, "added"), (removed, "removed"))
            if isinstance(entries, list) and entries
        ]
        return f"{name}: {', '.join(counts) or 'edited'}"
    return f"{name}: {_other_words(change.old)} {ARROW} {_other_words(change.new)}"


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
        lines += [f"  {text}" for change in members for text in _line(change)]
        blocks.append("\n".join(lines))
    return "\n\n".join(blocks) if blocks else "No changes."
