"""The text `trialwatch diff` prints: changes grouped by kind, for coordinators (pure).

Coordinators read this to check what the registry now says, so values are shown as the
registry spells them (RECRUITING, "18 Years"), old → new, and sites by the name they know
them by. Eligibility items are shown in full: a shortened criterion could read differently.
Free-text "other" fields are shortened, because their detail is on the registry page.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from watcher.core.canonical import canonical_json
from watcher.core.change import KIND_ORDER, Change
from watcher.core.record import JSON

HEADINGS: Mapping[str, str] = {
    "status": "Overall status",
    "why_stopped": "Why the study stopped",
    "eligibility": "Eligibility criteria",
    "age_sex": "Age, sex and healthy volunteers",
    "site_added": "Sites added",
    "site_removed": "Sites removed",
    "site_status": "Site status",
    "site_contact": "Site contacts",
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
OTHER_WIDTH = 100  # characters of an "other" value shown before "…"


def _plain(value: JSON) -> str:
    """A value as words: lists joined, booleans as yes/no, absent as "(none)"."""
    if value is None or value == []:
        return "(none)"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, str):
        return value
    if isinstance(value, list):
        return ", ".join(_plain(v) for v in value)
    if isinstance(value, dict):
        return canonical_json(value)
    return str(value)


def _short(text: str) -> str:
    one_line = " ".join(text.split())
    return one_line if len(one_line) <= OTHER_WIDTH else one_line[: OTHER_WIDTH - 1] + "…"


def _contacts(value: JSON) -> str:
    """Contact objects as "Name (ROLE), phone ext, email; …"."""
    if not isinstance(value, list) or not value:
        return "(none)"
    people = []
    for contact in value:
        if not isinstance(contact, dict):
            continue
        name = _plain(contact.get("name"))
        role = contact.get("role")
        phone = " ext ".join(
            str(p) for p in (contact.get("phone"), contact.get("phoneExt")) if p is not None
        )
        email = contact.get("email")
        parts = [f"{name} ({role})" if role else name, phone, str(email) if email else ""]
        people.append(", ".join(p for p in parts if p))
    return "; ".join(people)


def _counted(value: JSON) -> str:
    """An enrollment as "120 estimated", a date as "2026-03 (estimated)"."""
    if not isinstance(value, dict):
        return _plain(value)
    kind = value.get("type")
    kind_text = str(kind).lower() if kind else ""
    if "count" in value:
        return " ".join(p for p in (_plain(value.get("count")), kind_text) if p)
    date = _plain(value.get("date"))
    return f"{date} ({kind_text})" if kind_text else date


def _item_name(value: JSON) -> str:
    """An arm, intervention or outcome by its name."""
    if not isinstance(value, dict):
        return _plain(value)
    for key in ("label", "name", "measure"):
        if isinstance(value.get(key), str):
            return str(value[key])
    return canonical_json(value)


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
        return [f"+ {site}: {_plain(new) if new else 'no recruiting status given'}"]
    if kind == "site_removed":
        return [f"- {site}: was {_plain(old)}"]
    if kind == "site_status":
        return [f"{site}: {_plain(old)} {ARROW} {_plain(new)}"]
    if kind in ("site_contact", "contacts"):
        prefix = f"{site}: " if site else ""
        return [f"{prefix}{_contacts(old)} {ARROW} {_contacts(new)}"]
    if kind == "enrollment":
        return [f"{_counted(old)} {ARROW} {_counted(new)}"]
    if kind == "dates":
        return [_prefixed(change.field, f"{_counted(old)} {ARROW} {_counted(new)}")]
    if kind == "eligibility":
        return _eligibility_lines(change)
    if kind in ("interventions", "arms", "outcomes"):
        group = _field_name(change.field) if kind == "outcomes" else ""
        if old is None:
            verb, named = "added", _item_name(new)
        elif new is None:
            verb, named = "removed", _item_name(old)
        else:
            was, now = _item_name(old), _item_name(new)
            verb, named = "changed", was if was == now else f"{was} {ARROW} {now}"
            if isinstance(old, dict) and isinstance(new, dict):
                keys = sorted(k for k in old.keys() | new.keys() if old.get(k) != new.get(k))
                named += f" ({', '.join(keys)})"
        return [f"{group} {verb}: {named}" if group else f"{verb.capitalize()}: {named}"]
    if kind == "results_posted":
        return [f"{'posted' if old else 'not posted'} {ARROW} {'posted' if new else 'not posted'}"]
    if kind == "other":
        return [_other_line(change)]
    line = _prefixed(change.field, f"{_plain(old)} {ARROW} {_plain(new)}")
    last_known = (change.detail or {}).get("last_known_status")
    return [f"{line} (last known status: {last_known})" if last_known else line]


def _eligibility_lines(change: Change) -> list[str]:
    detail = change.detail or {}
    where = str(detail.get("section", "")).capitalize() or "Criteria"
    parent = detail.get("parent")
    under = f" (under {parent!s})" if parent else ""
    if change.old is None:
        return [f"{where}, added{under}: {_plain(change.new)}"]
    if change.new is None:
        return [f"{where}, removed{under}: {_plain(change.old)}"]
    return [
        f"{where}, changed{under}:",
        f"  was: {_plain(change.old)}",
        f"  now: {_plain(change.new)}",
    ]


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
    return f"{name}: {_short(_plain(change.old))} {ARROW} {_short(_plain(change.new))}"


def _by_kind(changes: Sequence[Change]) -> list[tuple[str, list[Change]]]:
    """Changes grouped by kind, in `KIND_ORDER`; kinds it does not know come last."""
    groups: dict[str, list[Change]] = {}
    for change in changes:
        groups.setdefault(change.kind, []).append(change)
    order = [k for k in KIND_ORDER if k in groups] + [k for k in groups if k not in KIND_ORDER]
    return [(kind, groups[kind]) for kind in order]


def summarize_line(changes: Sequence[Change]) -> str:
    """One line for a list of versions: the status move in full, other kinds counted; "" if none.

    "overall status: NOT_YET_RECRUITING → RECRUITING; sites added (1); dates (1)"
    """
    parts = []
    for kind, members in _by_kind(changes):
        heading = HEADINGS.get(kind, kind).lower()
        if kind == "status":
            first = members[0]
            parts.append(f"{heading}: {_plain(first.old)} {ARROW} {_plain(first.new)}")
        else:
            parts.append(f"{heading} ({len(members)})")
    return "; ".join(parts)


def format_changes(changes: Sequence[Change]) -> str:
    """Changes grouped under one heading per kind, most important kind first."""
    blocks = []
    for kind, members in _by_kind(changes):
        heading = HEADINGS.get(kind, kind)
        count = f" ({len(members)})" if len(members) > 1 else ""
        lines = [f"{heading}{count}"]
        lines += [f"  {text}" for change in members for text in _line(change)]
        blocks.append("\n".join(lines))
    return "\n\n".join(blocks) if blocks else "No changes."
