"""The shared vocabulary of every output: registry codes, dates, ages, lists, names (pure).

A registry value is turned into words here once, so a date, a contact or an item's name reads
the same in a stored sentence, an email, a feed and `trialwatch diff`. Each helper has one
algorithm; where two outputs must word a value differently (a coordinator sees a contact's
role, a patient does not), the difference is a parameter, not a second copy.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from watcher.core.canonical import canonical_json
from watcher.core.change import KIND_ORDER, Change
from watcher.core.record import JSON

NONE = "(none)"  # an absent value, as exact outputs show it
_QUOTE = "“{}”"
# A criterion's parent, quoted to say where an item sits, is cut to this many characters.
PARENT_WIDTH = 80
_MONTHS = (
    *("January", "February", "March", "April", "May", "June"),
    *("July", "August", "September", "October", "November", "December"),
)
# Where an item (arm, intervention, outcome) keeps its name; an item has one of these.
_NAME_KEYS = ("name", "label", "measure")


# -- registry values -----------------------------------------------------------------------------


def text_of(value: JSON) -> str | None:
    """A JSON value when it is a string, else None: registry codes and dates are strings."""
    return value if isinstance(value, str) else None


def value_words(value: JSON) -> str:
    """A value as the registry spells it: lists joined, booleans as yes/no, absent as "(none)"."""
    if value is None or value == []:
        return NONE
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, str):
        return value
    if isinstance(value, list):
        return ", ".join(value_words(v) for v in value)
    if isinstance(value, dict):
        return canonical_json(value)
    return str(value)


def field_words(value: str | None) -> str:
    """A record field exactly as the registry gives it, "(none)" when it gives none."""
    return value if value else NONE


def code_words(value: str | None) -> str:
    """A registry code as words: ACTIVE_NOT_RECRUITING → "Active not recruiting"."""
    if not value:
        return "none"
    return value.replace("_", " ").capitalize()


# A recruiting status (of a study or of one of its sites) in everyday words, as a state: "The
# site is …", "Dana-Farber, Boston: …". The registry's codes are jargon ("ACTIVE_NOT_RECRUITING"
# reads as "active"); these say what the status means for someone who wants to join. The one
# vocabulary for it: site lists, site changes and "last known status" all read it here.
_STATUS_WORDS = {
    "RECRUITING": "looking for people",
    "NOT_YET_RECRUITING": "not open yet",
    "ACTIVE_NOT_RECRUITING": "no longer taking new people",
    "ENROLLING_BY_INVITATION": "open by invitation only",
    "SUSPENDED": "on hold",
    "COMPLETED": "finished",
    "TERMINATED": "closed early",
    "WITHDRAWN": "closed before anyone joined",
    "UNKNOWN": "not known",
}


def status_words(code: str | None) -> str:
    """A recruiting status as a state in everyday words: RECRUITING → "looking for people";
    a code this does not know, as words ("Some new status" → "some new status")."""
    return _STATUS_WORDS.get(code or "", code_words(code).lower())


def phase_words(value: str) -> str:
    """PHASE2 → "Phase 2", EARLY_PHASE1 → "Early Phase 1", NA → "Not Applicable"."""
    if value == "NA":
        return "Not Applicable"
    return re.sub(r"PHASE(\d)", r"Phase \1", value).replace("EARLY_", "Early ")


def date_words(date: str | None) -> str:
    """2026-01-29 → "January 29, 2026"; 2026-03 → "March 2026"; anything else as written."""
    match = re.fullmatch(r"(\d{4})-(\d{2})(?:-(\d{2}))?", date or "")
    if match is None or not 1 <= int(match.group(2)) <= 12:
        return date or "no date"
    month = _MONTHS[int(match.group(2)) - 1]
    day = match.group(3)
    return f"{month} {int(day)}, {match.group(1)}" if day else f"{month} {match.group(1)}"


def age_words(age: str | None) -> str:
    """The registry's "18 Years" as "18 years"."""
    return age.lower() if age else ""


def item_name(value: JSON) -> str | None:
    """An arm, intervention or outcome by its name (label, measure); None when it has none."""
    if isinstance(value, dict):
        for key in _NAME_KEYS:
            name = value.get(key)
            if isinstance(name, str):
                return name
    return None


def contacts_words(value: JSON, *, exact: bool = False) -> str:
    """Contacts (`Contact.to_json` objects) as "Name, phone ext 12, email; …".

    `exact` is the coordinator's version: every contact keeps its role ("Name (ROLE), …") and a
    missing name or an empty list shows as "(none)"; otherwise "" when nobody is listed.
    """
    people = []
    for contact in value if isinstance(value, list) else []:
        if not isinstance(contact, dict):
            continue
        name: JSON = contact.get("name")
        if exact:
            role = contact.get("role")
            name = f"{value_words(name)} ({role})" if role else value_words(name)
        phone = " ext ".join(str(contact[k]) for k in ("phone", "phoneExt") if contact.get(k))
        parts = (name, phone, contact.get("email"))
        people.append(", ".join(str(p) for p in parts if p))
    listed = "; ".join(p for p in people if p)
    return listed or (NONE if exact else "")


# -- text ----------------------------------------------------------------------------------------


def count_words(count: int, one: str, many: str) -> str:
    """ "1 site", "3 sites"."""
    return f"1 {one}" if count == 1 else f"{count} {many}"


def listing(words: Sequence[str]) -> str:
    """ "A", "A and B", "A, B and C"."""
    if len(words) <= 1:
        return "".join(words)
    return f"{', '.join(words[:-1])} and {words[-1]}"


def shorten(text: str, width: int) -> str:
    """`text` on one line, cut to `width` at a word boundary, with an ellipsis when cut.

    A word is never cut in half: a half word can read as a different word.
    """
    one_line = " ".join(text.split())
    if len(one_line) <= width:
        return one_line
    cut = one_line[: width - 1]
    return (cut.rsplit(" ", 1)[0] if " " in cut else cut).rstrip(" ,;:") + "…"


def quoted(value: JSON) -> str:
    """A trial's own words in curly quotes, so a reader can tell them from ours."""
    return _QUOTE.format(value if isinstance(value, str) else "")


# -- changes -------------------------------------------------------------------------------------


def operation(change: Change) -> str:
    """What happened to a listed item: "added", "removed" or "changed"."""
    if change.old is None:
        return "added"
    return "removed" if change.new is None else "changed"


def by_kind(changes: Sequence[Change]) -> list[tuple[str, list[Change]]]:
    """Changes grouped by kind, most important kind first (`KIND_ORDER`); a kind it does not
    know (a stored change from another version of trialwatch) comes last, never dropped."""
    groups: dict[str, list[Change]] = {}
    for change in changes:
        groups.setdefault(change.kind, []).append(change)
    order = [k for k in KIND_ORDER if k in groups] + [k for k in groups if k not in KIND_ORDER]
    return [(kind, groups[kind]) for kind in order]


def renamed_parts(old: JSON, new: JSON) -> list[tuple[str, str, str]]:
    """A `site_info` change's (part, before, after) for each renamed address part, in order."""
    was = old if isinstance(old, dict) else {}
    now = new if isinstance(new, dict) else {}
    return [
        (part, text_of(was.get(part)) or "not given", text_of(now.get(part)) or "not given")
        for part in ("city", "state")
        if part in was or part in now
    ]
