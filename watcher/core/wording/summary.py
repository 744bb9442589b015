"""What a trial is and what changed in it, in plain English for patients, exactly for coordinators
(pure).

Two readers, two promises. A patient reads a notification to decide whether to ask about a
trial: it says what the change means for joining, in everyday words, leaves out what does not
matter to joining (registry bookkeeping, far-away sites), and never says anything the record
does not. A coordinator checks the registry: the official values, old → new, nothing rewritten.

The functions here decide what is said, as data (`ChangeSummary`, `TrialSummary`); layout is
`templates`'s job, so the text, HTML, email and feed versions all say the same thing.

`change_sentence` is the one sentence stored beside each change. It is written from the
`Change` alone, keeps exact values (numbers, names, criteria as the trial wrote them), and
reads well to both audiences, so feeds and digests can show it later without recomputing.

Where a subscriber is ("near") is `watcher.core.places`' job: trial summaries list sites nearest
first, and patient change summaries leave out site changes the place does not include.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass

from watcher.core.change import AUDIENCES, KIND_ORDER, SITE_KINDS, Change
from watcher.core.criteria import parse_criteria
from watcher.core.glossary import Glossary, GlossaryHit
from watcher.core.places import ELSEWHERE, NEARNESS_WORDS, Place, parse_near, place_words
from watcher.core.readability import flesch_kincaid_grade_of
from watcher.core.record import JSON, Site, Trial
from watcher.core.rewrite import PlainItem, reading_text, rewrite_criteria, rewrite_item
from watcher.core.wording.exact import HEADINGS, format_changes

CLOSING = "Only the study team can tell you if you qualify. Talk with your doctor."
REGISTRY_URL = "https://clinicaltrials.gov/study/{nct_id}"
# Patient change summaries list up to this many sites of one kind (now recruiting, …) one by
# one; more are counted by place, so a reopening with 450 site changes stays readable.
SITES_LISTED = 5
# Coordinators get every site change listed up to this many per kind, then counts by value.
SITES_LISTED_EXACT = 20
# A patient's trial summary lists this many sites, nearest first; the rest are counted.
SITES_SHOWN = 10
_QUOTE = "“{}”"


# -- words for registry codes ----------------------------------------------------------------


def code_words(value: str | None) -> str:
    """A registry code as words: ACTIVE_NOT_RECRUITING → "Active not recruiting"."""
    if not value:
        return "none"
    return value.replace("_", " ").capitalize()


def phase_words(value: str) -> str:
    """PHASE2 → "Phase 2", EARLY_PHASE1 → "Early Phase 1", NA → "Not Applicable"."""
    if value == "NA":
        return "Not Applicable"
    return re.sub(r"PHASE(\d)", r"Phase \1", value).replace("EARLY_", "Early ")


_MONTHS = (
    *("January", "February", "March", "April", "May", "June"),
    *("July", "August", "September", "October", "November", "December"),
)


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


def _people(count: int) -> str:
    return "1 person" if count == 1 else f"{count} people"


def _count(count: int, one: str, many: str) -> str:
    return f"1 {one}" if count == 1 else f"{count} {many}"


def _listing(words: Sequence[str]) -> str:
    """ "A", "A and B", "A, B and C"."""
    if len(words) <= 1:
        return "".join(words)
    return f"{', '.join(words[:-1])} and {words[-1]}"


def _short(text: str, width: int = 80) -> str:
    """`text` cut to `width` at a word boundary, with an ellipsis when cut."""
    if len(text) <= width:
        return text
    cut = text[: width - 1]
    return (cut.rsplit(" ", 1)[0] if " " in cut else cut).rstrip(" ,;:") + "…"


def _quoted(value: JSON) -> str:
    return _QUOTE.format(value if isinstance(value, str) else "")


def _contacts_words(value: JSON) -> str:
    """Contacts as "Name, phone ext 12, email; …", from `Contact.to_json` objects."""
    people = []
    for contact in value if isinstance(value, list) else []:
        if isinstance(contact, dict):
            phone = " ext ".join(str(contact[k]) for k in ("phone", "phoneExt") if contact.get(k))
            parts = (contact.get("name"), phone, contact.get("email"))
            people.append(", ".join(str(p) for p in parts if p))
    return "; ".join(p for p in people if p)


# -- one sentence per change -------------------------------------------------------------------

_STATUS_NEWS = {
    "RECRUITING": "This study has started looking for participants.",
    "NOT_YET_RECRUITING": "This study is not looking for participants yet.",
    "ENROLLING_BY_INVITATION": "This study now takes only people the study team invites.",
    "ACTIVE_NOT_RECRUITING": (
        "This study has stopped taking new participants; it goes on for the people already in it."
    ),
    "SUSPENDED": "This study is on hold: it is not taking new participants for now.",
    "TERMINATED": "This study has stopped early and will not start again.",
    "COMPLETED": "This study has finished; it is no longer taking participants.",
    "WITHDRAWN": "This study was stopped before anyone joined; it will not take participants.",
    "AVAILABLE": "The treatment can now be asked for outside a clinical trial (expanded access).",
    "TEMPORARILY_NOT_AVAILABLE": "The treatment cannot be asked for outside a trial for now.",
    "NO_LONGER_AVAILABLE": "The treatment can no longer be asked for outside a trial.",
    "APPROVED_FOR_MARKETING": "The treatment has been approved for use by the public.",
    "WITHHELD": "The status of this study is no longer shown to the public.",
}
_STARTED_FROM = (None, "NOT_YET_RECRUITING")


def _str(value: JSON) -> str | None:
    return value if isinstance(value, str) else None


def _status_sentence(change: Change) -> str:
    old, new = change.old, change.new
    if change.field.endswith("lastKnownStatus"):
        return (
            f"The last status the study team confirmed is now {code_words(_str(new))} "
            f"(before: {code_words(_str(old))})."
        )
    if new == "RECRUITING" and old not in _STARTED_FROM:
        return "This study is looking for participants again."
    if new == "UNKNOWN":
        last = (change.detail or {}).get("last_known_status")
        known = f" (the last status it gave was: {code_words(str(last))})" if last else ""
        return (
            f"The study team has not confirmed this study's status in over 2 years{known}; "
            "ask them if it is still open."
        )
    if new is None:
        return "The study no longer gives a status."
    other = f"The study's status is now {code_words(str(new))} (before: {code_words(_str(old))})."
    return _STATUS_NEWS.get(str(new), other)


def _why_stopped_sentence(change: Change) -> str:
    if change.new is None:
        return "The study no longer gives a reason for stopping."
    if change.old is None:
        return f"The study gives this reason for stopping: {_quoted(change.new)}."
    return (
        f"The reason the study gives for stopping is now {_quoted(change.new)} "
        f"(before: {_quoted(change.old)})."
    )


# Who an item is about, by section: what the reader is told the rule decides.
_RULE_NAMES = {
    "inclusion": "Rule for who can join",
    "exclusion": "Rule for who cannot join",
}


def _rule_name(change: Change) -> str:
    detail = change.detail or {}
    name = _RULE_NAMES.get(str(detail.get("section")), "Rule for joining")
    parent = detail.get("parent")
    return f"{name} (under {_quoted(_short(str(parent)))})" if parent else name


def _eligibility_sentence(change: Change) -> str:
    name = _rule_name(change)
    if change.old is None:
        return f"{name}, added: {_quoted(change.new)}."
    if change.new is None:
        return f"{name}, removed: {_quoted(change.old)}."
    return f"{name}, changed: was {_quoted(change.old)} now {_quoted(change.new)}."


_SEX_WORDS = {"ALL": "all sexes", "FEMALE": "females only", "MALE": "males only"}
_AGE_NAMES = {"minimumAge": "youngest", "maximumAge": "oldest"}


def _age_sex_sentence(change: Change) -> str:
    name = change.field.rsplit(".", 1)[-1]
    old, new = change.old, change.new
    if name == "healthyVolunteers":
        if new is None:
            return "The study no longer says whether healthy volunteers can join."
        return f"Healthy volunteers {'can' if new else 'can no longer'} join this study."
    if name == "sex":
        now = _SEX_WORDS.get(str(new), code_words(_str(new)))
        was = _SEX_WORDS.get(str(old), code_words(_str(old)))
        return f"The study is now open to {now} (before: {was})."
    limit = _AGE_NAMES.get(name, "")
    if new is None:
        return f"The study no longer sets an {limit} age to join (before: {age_words(_str(old))})."
    before = f" (before: {age_words(_str(old))})" if old is not None else ""
    return f"The {limit} age to join is now {age_words(_str(new))}{before}."


def _facility(change: Change) -> str:
    facility = change.site.facility if change.site else None
    return f": {facility.rstrip('.')}." if facility else "."


def _site_sentence(change: Change) -> str:
    where = place_words(change.site) if change.site else "an unnamed place"
    old, new = _str(change.old), _str(change.new)
    if change.kind == "site_added":
        what = {
            "RECRUITING": "is now recruiting",
            "NOT_YET_RECRUITING": "is listed but not recruiting yet",
            None: "is listed",
        }.get(new, f"is listed, not recruiting ({code_words(new)})")
        return f"A new site in {where} {what}{_facility(change)}"
    if change.kind == "site_removed":
        return f"A site in {where} is no longer listed{_facility(change)}"
    if change.kind == "site_contact":
        facility = change.site.facility if change.site and change.site.facility else "The site"
        contacts = _contacts_words(change.new)
        what = f"has a new contact: {contacts}" if contacts else "no longer lists a contact"
        return f"{facility} in {where} {what}."
    if new == "RECRUITING":
        what = "is now recruiting" if old in _STARTED_FROM else "is recruiting again"
    elif new == "NOT_YET_RECRUITING":
        what = "is not recruiting yet"
    elif new is None:
        what = "no longer gives a recruiting status"
    elif old == "RECRUITING":
        what = f"has stopped recruiting ({code_words(new)})"
    else:
        what = f"is not recruiting ({code_words(new)}; before: {code_words(old)})"
    return f"The site in {where} {what}{_facility(change)}"


def _enrollment_sentence(change: Change) -> str:
    old = change.old if isinstance(change.old, dict) else {}
    new = change.new if isinstance(change.new, dict) else {}
    was, now = old.get("count"), new.get("count")
    if not isinstance(now, int):
        return "The study no longer says how many people it plans to enroll."
    planned = "planned " if old.get("type") != "ACTUAL" else ""
    before = f" (before: {planned}{was})" if isinstance(was, int) else ""
    if new.get("type") == "ACTUAL":
        return f"The study has enrolled {_people(now)} in total{before}."
    before = f" (before: {was})" if isinstance(was, int) else ""
    return f"The study now plans to enroll {_people(now)}{before}."


_DATE_WORDS = {
    "startDateStruct": ("started on", "now expects to start on", "start date"),
    "primaryCompletionDateStruct": (
        "finished collecting the data for its main question on",
        "now expects to finish collecting the data for its main question by",
        "date for its main results",
    ),
    "completionDateStruct": ("ended on", "now expects to end by", "end date"),
}


def _date_sentence(change: Change) -> str:
    actual, expected, name = _DATE_WORDS.get(
        change.field.rsplit(".", 1)[-1], ("has a date of", "now expects a date of", "date")
    )
    old = change.old if isinstance(change.old, dict) else {}
    new = change.new if isinstance(change.new, dict) else {}
    if not new.get("date"):
        return f"The study no longer gives a {name}."
    verb = actual if new.get("type") == "ACTUAL" else expected
    before = ""
    if old.get("date"):
        expected_before = "expected " if old.get("type") != "ACTUAL" else ""
        before = f" (before: {expected_before}{date_words(_str(old['date']))})"
    return f"The study {verb} {date_words(_str(new['date']))}{before}."


def _names(value: JSON) -> str:
    words = [str(v) for v in value] if isinstance(value, list) else []
    return "; ".join(words) or "none"


def _item_name(value: JSON) -> str:
    if isinstance(value, dict):
        for key in ("name", "label", "measure"):
            if isinstance(value.get(key), str):
                return str(value[key])
    return ""


_ITEM_WORDS = {
    "interventions": ("A treatment", "study treatment"),
    "arms": ("A study group", "study group"),
}


def _item_sentence(change: Change) -> str:
    if change.kind == "outcomes":
        which = "main" if change.field.endswith("primaryOutcomes") else "other"
        thing, noun = f"A {which} measure of the study", f"{which} measure"
    else:
        thing, noun = _ITEM_WORDS[change.kind]
    was, now = _item_name(change.old), _item_name(change.new)
    if change.old is None:
        kind = change.new.get("type") if isinstance(change.new, dict) else None
        of_type = f" ({code_words(str(kind)).lower()})" if kind and kind != "OTHER" else ""
        return f"{thing} was added: {_quoted(now)}{of_type}."
    if change.new is None:
        return f"{thing} was taken out: {_quoted(was)}."
    if was != now:
        return f"{thing} was renamed: {_quoted(was)} is now {_quoted(now)}."
    return f"The description of the {noun} {_quoted(now)} changed."


def _named_sentence(change: Change) -> str:
    name = change.field.rsplit(".", 1)[-1]
    old, new = change.old, change.new
    if change.kind == "results_posted":
        if new:
            return "Results of this study are now posted on ClinicalTrials.gov."
        return "Results of this study are no longer shown on ClinicalTrials.gov."
    if change.kind == "phase":
        now = "/".join(phase_words(str(p)) for p in new) if isinstance(new, list) else ""
        was = "/".join(phase_words(str(p)) for p in old) if isinstance(old, list) else ""
        return f"The study's phase is now {now or 'not given'} (before: {was or 'not given'})."
    if change.kind == "title":
        which = "official title" if name == "officialTitle" else "title"
        return f"The study's {which} is now {_quoted(new)} (before: {_quoted(old)})."
    if change.kind == "conditions":
        return f"The conditions studied are now: {_names(new)} (before: {_names(old)})."
    if change.kind == "sponsor" and name == "collaborators":
        return f"The study's collaborators are now: {_names(new)} (before: {_names(old)})."
    if change.kind == "sponsor":
        return f"The study's lead sponsor is now {new or 'not given'} (before: {old or 'none'})."
    if change.kind == "contacts":
        now, was = _contacts_words(new), _contacts_words(old)
        if not now:
            return f"The study no longer lists a contact person (before: {was or 'none'})."
        before = f" (before: {was})" if was else ""
        return f"The study's contact is now {now}{before}."
    return f"A registry entry changed: {change.field.removeprefix('protocolSection.')}."


_SENTENCES: Mapping[str, Callable[[Change], str]] = {
    "status": _status_sentence,
    "why_stopped": _why_stopped_sentence,
    "eligibility": _eligibility_sentence,
    "age_sex": _age_sex_sentence,
    "site_added": _site_sentence,
    "site_removed": _site_sentence,
    "site_status": _site_sentence,
    "site_contact": _site_sentence,
    "enrollment": _enrollment_sentence,
    "dates": _date_sentence,
    "interventions": _item_sentence,
    "arms": _item_sentence,
    "outcomes": _item_sentence,
}


def change_sentence(change: Change) -> str:
    """One self-contained plain-English sentence for one change, exact values kept."""
    return _SENTENCES.get(change.kind, _named_sentence)(change)


# -- what a notification says happened ---------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ChangeLine:
    """One thing a reader is told. `text` is a sentence, or an item when `label` names it
    ("New rule for who can join"); a changed item has both versions in `was` and `now`."""

    text: str
    label: str | None = None
    was: str | None = None
    now: str | None = None


@dataclass(frozen=True, slots=True)
class ChangeBlock:
    """Lines read together, under a heading when they share one."""

    heading: str | None
    lines: tuple[ChangeLine, ...]


@dataclass(frozen=True, slots=True)
class ChangeSummary:
    """What a notification says happened, for one audience; `terms` are the words explained."""

    audience: str
    blocks: tuple[ChangeBlock, ...]
    terms: tuple[GlossaryHit, ...] = ()

    @property
    def empty(self) -> bool:
        """Nothing here matters to this audience: send nothing."""
        return not self.blocks


_ELIGIBILITY_HEADING = "The rules for who can join changed:"
_ITEM_LABELS = {
    ("inclusion", "added"): "New rule for who can join",
    ("inclusion", "removed"): "Rule for who can join taken out",
    ("inclusion", "changed"): "Changed rule for who can join",
    ("exclusion", "added"): "New reason a person cannot join",
    ("exclusion", "removed"): "Reason a person cannot join taken out",
    ("exclusion", "changed"): "Changed reason a person cannot join",
    ("other", "added"): "New rule",
    ("other", "removed"): "Rule taken out",
    ("other", "changed"): "Changed rule",
}


class _Plain:
    """Criteria items in plain English for one notification, each term explained once."""

    def __init__(self, glossary: Glossary | None) -> None:
        self.glossary = glossary
        self.seen: frozenset[str] = frozenset()
        self.hits: list[GlossaryHit] = []

    def __call__(self, text: JSON) -> str:
        if not isinstance(text, str):
            return ""
        if self.glossary is None:
            return text
        result = rewrite_item(text, self.glossary, self.seen)
        listed = [hit for hit in result.terms if not hit.everyday]
        self.seen |= {hit.id for hit in listed}
        self.hits += listed
        return result.plain


def _item_line(change: Change, plain: Callable[[JSON], str]) -> ChangeLine:
    detail = change.detail or {}
    section = str(detail.get("section", "other"))
    op = "added" if change.old is None else "removed" if change.new is None else "changed"
    label = _ITEM_LABELS.get((section, op), _ITEM_LABELS["other", op])
    parent = detail.get("parent")
    if parent:
        label += f" (under {_quoted(_short(plain(parent)))})"
    if op == "changed":
        return ChangeLine("", label, was=plain(change.old), now=plain(change.new))
    return ChangeLine(plain(change.new if op == "added" else change.old), label)


# Site changes a patient is told about, by what they mean for joining.
_OPENED, _LISTED, _CLOSED, _CONTACT = "opened", "listed", "closed", "contact"
_SITE_GROUP_SENTENCES = {
    _OPENED: "{n} are now recruiting",
    _LISTED: "{n} are listed but not recruiting yet",
    _CLOSED: "{n} stopped recruiting or are no longer listed",
    _CONTACT: "{n} have new contact details",
}


def _site_group(change: Change) -> str:
    if change.kind == "site_contact":
        return _CONTACT
    if change.kind == "site_removed":
        return _CLOSED
    if change.new == "RECRUITING":
        return _OPENED
    if change.kind == "site_added" or change.new == "NOT_YET_RECRUITING":
        return _LISTED
    return _CLOSED


def _counted_places(changes: Sequence[Change], by_city: bool) -> str:
    counts = Counter(
        (place_words(c.site) if by_city else c.site.country or "an unnamed country")
        if c.site
        else "an unnamed place"
        for c in changes
    )
    ranked = sorted(counts.items(), key=lambda pair: (-pair[1], pair[0]))
    shown = [f"{name} ({n})" for name, n in ranked[:5]]
    rest = len(ranked) - len(shown)
    if rest:
        shown.append(f"{_count(rest, 'other place', 'other places')}")
    return _listing(shown)


def _site_lines(changes: Sequence[Change], near: Place | None) -> list[ChangeLine]:
    groups: dict[str, list[Change]] = {}
    for change in changes:
        groups.setdefault(_site_group(change), []).append(change)
    lines: list[ChangeLine] = []
    for group in (_OPENED, _LISTED, _CLOSED, _CONTACT):
        members = groups.get(group, [])
        if len(members) <= SITES_LISTED:
            lines += [ChangeLine(change_sentence(c)) for c in members]
            continue
        what = _SITE_GROUP_SENTENCES[group].format(n=f"{len(members)} sites")
        where = _counted_places(members, by_city=near is not None)
        lines.append(ChangeLine(f"{what}, in {where}."))
    return lines


# Kinds whose changes a patient hears about only as a count when there are many.
_COUNTED_KINDS = {
    "interventions": "the study treatments",
    "arms": "the study groups",
    "outcomes": "what the study measures",
}
_COUNTED_FROM = 3
_TOLD_FIRST = frozenset({"status", "why_stopped", "age_sex", "eligibility"})


def _other_lines(changes: Sequence[Change]) -> list[ChangeLine]:
    by_kind: dict[str, list[Change]] = {}
    for change in changes:
        by_kind.setdefault(change.kind, []).append(change)
    lines: list[ChangeLine] = []
    for kind in KIND_ORDER:
        members = by_kind.get(kind, [])
        if kind in _COUNTED_KINDS and len(members) >= _COUNTED_FROM:
            what = _COUNTED_KINDS[kind]
            lines.append(ChangeLine(f"The study changed {what} ({len(members)} changes)."))
        else:
            lines += [ChangeLine(change_sentence(c)) for c in members]
    return lines


def patient_changes(
    changes: Sequence[Change], near: str | None = None, *, glossary: Glossary | None = None
) -> ChangeSummary:
    """What a patient is told: what matters for joining, in plain words; empty when nothing does.

    `info` changes are never told. Eligibility items are grouped under "The rules for who can
    join changed:" (in plain English, fail closed, when a `glossary` is given; as written
    otherwise). Site changes are left out when `near` is given and the site is not near (see
    the module docstring), and counted by place when there are many. Status and eligibility
    always stay.
    """
    place = parse_near(near)
    told = [c for c in changes if c.severity != "info"]
    sites = [
        c
        for c in told
        if c.kind in SITE_KINDS and (place is None or c.site is None or place.includes(c.site))
    ]
    plain = _Plain(glossary)
    head = [ChangeLine(change_sentence(c)) for c in told if c.kind in ("status", "why_stopped")]
    rules = [ChangeLine(change_sentence(c)) for c in told if c.kind == "age_sex"]
    rules += [_item_line(c, plain) for c in told if c.kind == "eligibility"]
    rest = [c for c in told if c.kind not in SITE_KINDS | _TOLD_FIRST]
    blocks = (
        ChangeBlock(None, tuple(head)),
        ChangeBlock(_ELIGIBILITY_HEADING, tuple(rules)),
        ChangeBlock(None, tuple(_site_lines(sites, place))),
        ChangeBlock(None, tuple(_other_lines(rest))),
    )
    return ChangeSummary("patient", tuple(b for b in blocks if b.lines), tuple(plain.hits))


def _exact_lines(change: Change) -> list[ChangeLine]:
    """The coordinator's lines for one change: the official values, old → new, as
    `trialwatch diff` prints them."""
    if change.kind == "eligibility":
        detail = change.detail or {}
        section = str(detail.get("section", "")).capitalize() or "Criteria"
        op = "added" if change.old is None else "removed" if change.new is None else "changed"
        parent = detail.get("parent")
        label = f"{section}, {op}" + (f" (under {_quoted(str(parent))})" if parent else "")
        if op == "changed":
            return [ChangeLine("", label, was=str(change.old), now=str(change.new))]
        return [ChangeLine(str(change.new if op == "added" else change.old), label)]
    _, *lines = format_changes([change]).splitlines()
    return [ChangeLine(line.strip()) for line in lines]


def _exact_site_counts(changes: Sequence[Change]) -> list[ChangeLine]:
    if changes[0].kind == "site_contact":  # contact lists do not count by value
        return [ChangeLine(f"{len(changes)} sites: contact details changed")]
    moves = Counter((code_words(_str(c.old)), code_words(_str(c.new))) for c in changes)
    ranked = sorted(moves.items(), key=lambda pair: (-pair[1], pair[0]))
    return [ChangeLine(f"{n} sites: {was} → {now}") for (was, now), n in ranked]


def coordinator_changes(changes: Sequence[Change]) -> ChangeSummary:
    """What a coordinator is told: every change, grouped by kind, official values old → new.

    Site changes of one kind are listed one by one up to `SITES_LISTED_EXACT`, then counted
    by old → new value (`trialwatch diff` has the full list).
    """
    by_kind: dict[str, list[Change]] = {}
    for change in changes:
        by_kind.setdefault(change.kind, []).append(change)
    blocks = []
    for kind in [k for k in KIND_ORDER if k in by_kind] + sorted(by_kind.keys() - set(KIND_ORDER)):
        members = by_kind[kind]
        heading = HEADINGS.get(kind, kind) + (f" ({len(members)})" if len(members) > 1 else "")
        if kind in SITE_KINDS and len(members) > SITES_LISTED_EXACT:
            lines = _exact_site_counts(members)
        else:
            lines = [line for change in members for line in _exact_lines(change)]
        blocks.append(ChangeBlock(heading, tuple(lines)))
    return ChangeSummary("coordinator", tuple(blocks))


# -- a subject line ------------------------------------------------------------------------------

_STATUS_HEADLINES = {
    "RECRUITING": "is now recruiting",
    "NOT_YET_RECRUITING": "is not recruiting yet",
    "ENROLLING_BY_INVITATION": "is now enrolling by invitation only",
    "ACTIVE_NOT_RECRUITING": "has stopped recruiting",
    "SUSPENDED": "is on hold",
    "TERMINATED": "has stopped early",
    "COMPLETED": "has finished",
    "WITHDRAWN": "was withdrawn",
    "UNKNOWN": "has not confirmed its status",
}


def _headline_phrase(changes: Sequence[Change]) -> str:
    kinds = Counter(c.kind for c in changes)
    status = next((c for c in changes if c.field.endswith("overallStatus")), None)
    if status is not None:
        if status.new == "RECRUITING" and status.old not in _STARTED_FROM:
            return "is recruiting again"
        return _STATUS_HEADLINES.get(str(status.new), "has a new status")
    if kinds["eligibility"] or kinds["age_sex"]:
        return "has changed who can join"
    opened = sum(1 for c in changes if c.kind in SITE_KINDS and _site_group(c) == _OPENED)
    if opened:
        return f"has {_count(opened, 'more site', 'more sites')} recruiting"
    if kinds["results_posted"]:
        return "has posted results"
    if kinds["why_stopped"]:
        return "gave a reason for stopping"
    if kinds["site_added"] or kinds["site_removed"] or kinds["site_status"]:
        return "has changes to its sites"
    return f"has {_count(len(changes), 'update', 'updates')}"


def headline(changes: Sequence[Change], trial: Trial) -> str:
    """An email subject: the most important change first, then the title.

    "NCT07310784 is now recruiting — A Phase II Trial of LM103 in Advanced Melanoma"
    """
    name = trial.nct_id or "A watched study"
    title = trial.brief_title or trial.official_title
    phrase = _headline_phrase(changes) if changes else "has no changes"
    return f"{name} {phrase} — {title}" if title else f"{name} {phrase}"


# -- a trial, summarised -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Fact:
    """A labelled paragraph: "Phase", "Status", "Age and sex"…"""

    label: str
    text: str


@dataclass(frozen=True, slots=True)
class Criterion:
    """An eligibility item as shown, with the items nested under it."""

    text: str
    shown_as_written: bool
    children: tuple[Criterion, ...] = ()


@dataclass(frozen=True, slots=True)
class CriteriaSection:
    """Items of one section ("Who can join"), nested as the trial nests them."""

    heading: str
    items: tuple[Criterion, ...]


@dataclass(frozen=True, slots=True)
class SiteLine:
    """A site as listed: its name, where it is, its recruiting status and how near it is."""

    facility: str
    place: str
    status: str
    nearness: str


@dataclass(frozen=True, slots=True)
class TrialSummary:
    """What a trial is, for one audience.

    `items` are every eligibility item in document order, as the JSON output lists them (for a
    coordinator, `plain` is the original: nothing is rewritten). `grade_level` is the
    Flesch-Kincaid grade of the criteria as the reader reads them (the original terms kept in
    parentheses after plain words left out).
    """

    audience: str
    nct_id: str
    title: str
    url: str
    facts: tuple[Fact, ...]
    sections: tuple[CriteriaSection, ...]
    items: tuple[PlainItem, ...]
    terms: tuple[GlossaryHit, ...]
    sites: tuple[SiteLine, ...]
    sites_not_shown: int
    near: str | None
    closing: str | None
    grade_level: float


_SECTION_HEADINGS = {
    "patient": {"inclusion": "Who can join", "exclusion": "Who cannot join", "other": "Rules"},
    "coordinator": {
        "inclusion": "Inclusion criteria",
        "exclusion": "Exclusion criteria",
        "other": "Criteria",
    },
}
_INTERVENTION_TYPES = {
    "DRUG": "a drug",
    "BIOLOGICAL": "a biological medicine",
    "DEVICE": "a device",
    "PROCEDURE": "a procedure",
    "RADIATION": "radiation",
    "BEHAVIORAL": "a behavior program",
    "GENETIC": "a gene-based treatment",
    "DIETARY_SUPPLEMENT": "a dietary supplement",
    "COMBINATION_PRODUCT": "a combination product",
    "DIAGNOSTIC_TEST": "a test",
}
_SITE_STATUS_WORDS = {
    "RECRUITING": "recruiting",
    "NOT_YET_RECRUITING": "not recruiting yet",
    "ACTIVE_NOT_RECRUITING": "not taking new people",
    "ENROLLING_BY_INVITATION": "by invitation only",
    "COMPLETED": "finished",
    "TERMINATED": "stopped early",
    "SUSPENDED": "on hold",
    "WITHDRAWN": "withdrawn",
}
_COMPARATOR_ARMS = frozenset({"ACTIVE_COMPARATOR", "PLACEBO_COMPARATOR", "SHAM_COMPARATOR"})
_LISTED_MAX = 4


def _tree(items: Sequence[PlainItem], text: Callable[[PlainItem], str]) -> tuple[Criterion, ...]:
    """Flat items with depths → nested criteria (an item one deeper belongs to the last one)."""

    def build(start: int, depth: int) -> tuple[list[Criterion], int]:
        out: list[Criterion] = []
        i = start
        while i < len(items) and items[i].depth >= depth:
            item = items[i]
            children, i = build(i + 1, item.depth + 1)
            out.append(Criterion(text(item), item.shown_as_written, tuple(children)))
        return out, i

    roots: list[Criterion] = []
    i = 0
    while i < len(items):  # a first item deeper than 0 still starts a tree of its own
        built, i = build(i, items[i].depth)
        roots += built
    return tuple(roots)


def _sections(items: Sequence[PlainItem], audience: str) -> tuple[CriteriaSection, ...]:
    headings = _SECTION_HEADINGS[audience]
    order = {section: i for i, section in enumerate(("inclusion", "exclusion", "other"))}
    by_section: dict[str, list[PlainItem]] = {}
    for item in items:
        by_section.setdefault(item.section, []).append(item)

    def text(item: PlainItem) -> str:
        return item.plain if audience == "patient" else item.original

    return tuple(
        CriteriaSection(headings.get(section, section), _tree(members, text))
        for section, members in sorted(by_section.items(), key=lambda p: order.get(p[0], 9))
    )


def _treatments(trial: Trial) -> tuple[list[str], list[str]]:
    """(what is tested, what it is compared with), each as "Name (a drug)"."""
    labels: dict[str, list[str]] = {}
    for arm in trial.arm_groups:
        for name in arm.intervention_names:
            labels.setdefault(name.split(": ", 1)[-1], []).append(arm.type or "")
    tested: list[str] = []
    compared: list[str] = []
    named: set[str] = set()
    for intervention in trial.interventions:
        name = intervention.name or "an unnamed treatment"
        if name.casefold() in named:  # "Omalizumab" in one arm, "omalizumab" in another
            continue
        named.add(name.casefold())
        kind = _INTERVENTION_TYPES.get(intervention.type or "")
        words = f"{name} ({kind})" if kind else name
        arms = labels.get(name, [])
        only_compared = bool(arms) and all(a in _COMPARATOR_ARMS for a in arms)
        (compared if only_compared else tested).append(words)
    return tested, compared


def _few(words: Sequence[str], more: str) -> str:
    if len(words) <= _LISTED_MAX:
        return _listing(words)
    rest = len(words) - _LISTED_MAX + 1
    return _listing([*words[: _LISTED_MAX - 1], f"{rest} {more}"])


def _what_it_tests(trial: Trial) -> str:
    conditions = _few(trial.conditions, "other conditions") if trial.conditions else ""
    with_ = f" in people with {conditions}" if conditions else ""
    if trial.study_type == "OBSERVATIONAL":
        return (
            f"This is an observational study{with_}: the study team watches and records what "
            "happens, and does not assign a treatment."
        )
    tested, compared = _treatments(trial)
    if trial.study_type == "EXPANDED_ACCESS":
        treatments = _few(tested, "other treatments") or "a treatment"
        return f"This record is about getting {treatments} outside a clinical trial."
    if not tested and not compared:
        if conditions:
            return f"The record does not name a treatment; it studies people with {conditions}."
        return "The record does not say what the study tests."
    if not tested:  # every arm is a comparator arm: nothing is "the new treatment"
        return f"This study compares {_few(compared, 'other treatments')}{with_}."
    against = f", compared with {_few(compared, 'other treatments')}," if compared else ""
    return f"This study tests {_few(tested, 'other treatments')}{against}{with_}."


def _phase_fact(trial: Trial, glossary: Glossary) -> str:
    names = [phase_words(p) for p in trial.phases]
    meanings = [glossary.phase(p) for p in trial.phases]
    plains = [m.plain for m in meanings if m is not None]
    if len(trial.phases) > 1:
        each = " ".join(f"{name}: {m.plain}" for name, m in zip(names, meanings, strict=True) if m)
        return f"{'/'.join(names)}: this study combines {len(names)} phases. {each}".strip()
    return f"{names[0]}. {' '.join(plains)}".strip()


def _status_fact(trial: Trial, glossary: Glossary) -> str:
    meaning = glossary.status(trial.overall_status)
    if meaning is None:
        return code_words(trial.overall_status)
    text = f"{meaning.display}. {meaning.plain}"
    if trial.overall_status == "UNKNOWN" and trial.last_known_status:
        last = glossary.status(trial.last_known_status)
        name = last.display if last else code_words(trial.last_known_status)
        text += f" The last status it gave was: {name}."
    if trial.why_stopped:
        text += f" The reason it gives: {_quoted(trial.why_stopped)}."
    return text


def _ages(minimum: str | None, maximum: str | None) -> str:
    low, high = age_words(minimum), age_words(maximum)
    if low and high:
        unit_low, unit_high = low.split(" ", 1)[-1], high.split(" ", 1)[-1]
        if unit_low == unit_high:
            return f"aged {low.split(' ', 1)[0]} to {high}"
        return f"aged {low} to {high}"
    if low:
        return f"aged {low} or older"
    if high:
        return f"aged {high} or younger"
    return "at any age"


_WHO = {"ALL": "People of any sex", "FEMALE": "Females", "MALE": "Males"}


def _who_fact(trial: Trial) -> str:
    eligibility = trial.eligibility
    who = _WHO.get(eligibility.sex or "ALL", "People")
    text = f"{who} {_ages(eligibility.minimum_age, eligibility.maximum_age)}."
    if eligibility.healthy_volunteers is True:
        text += " Healthy volunteers can join."
    elif eligibility.healthy_volunteers is False:
        text += " Healthy volunteers cannot join."
    return text


def _patient_facts(trial: Trial, glossary: Glossary) -> tuple[Fact, ...]:
    facts = [Fact("What the study tests", _what_it_tests(trial))]
    if trial.phases:
        facts.append(Fact("Phase", _phase_fact(trial, glossary)))
    facts.append(Fact("Status", _status_fact(trial, glossary)))
    facts.append(Fact("Age and sex", _who_fact(trial)))
    return tuple(facts)


def _exact(value: str | None) -> str:
    return value if value else "(none)"


def _coordinator_facts(trial: Trial) -> tuple[Fact, ...]:
    enrollment = trial.enrollment
    eligibility = trial.eligibility
    healthy = eligibility.healthy_volunteers
    dates = (
        ("Start date", trial.start_date),
        ("Primary completion date", trial.primary_completion_date),
        ("Completion date", trial.completion_date),
    )
    rows = [
        ("Official title", _exact(trial.official_title)),
        ("Overall status", _exact(trial.overall_status)),
        ("Last known status", trial.last_known_status),
        ("Why stopped", trial.why_stopped),
        ("Study type", _exact(trial.study_type)),
        ("Phases", ", ".join(trial.phases) or "(none)"),
        (
            "Enrollment",
            f"{enrollment.count} ({enrollment.type or 'type not given'})" if enrollment else None,
        ),
        *(
            (label, f"{date.date} ({date.type or 'type not given'})" if date else None)
            for label, date in dates
        ),
        ("Conditions", "; ".join(trial.conditions) or "(none)"),
        (
            "Interventions",
            "; ".join(f"{i.type or 'OTHER'}: {i.name}" for i in trial.interventions) or "(none)",
        ),
        ("Lead sponsor", trial.lead_sponsor),
        ("Sex", _exact(eligibility.sex)),
        ("Minimum age", _exact(eligibility.minimum_age)),
        ("Maximum age", _exact(eligibility.maximum_age)),
        ("Healthy volunteers", None if healthy is None else ("Yes" if healthy else "No")),
        (
            "Central contacts",
            _contacts_words([c.to_json() for c in trial.central_contacts]) or None,
        ),
    ]
    return tuple(Fact(label, text) for label, text in rows if text)


def _site_order(place: Place | None) -> Callable[[Site], tuple[int, int, str, str, str, str]]:
    def key(site: Site) -> tuple[int, int, str, str, str, str]:
        rank = place.nearness(site) if place else ELSEWHERE
        recruiting = 0 if site.status == "RECRUITING" else 1
        return (
            rank,
            recruiting,
            site.country or "",
            site.state or "",
            site.city or "",
            site.facility or "",
        )

    return key


def _site_lines_of(trial: Trial, audience: str, place: Place | None) -> list[SiteLine]:
    lines = []
    for site in sorted(trial.sites, key=_site_order(place)):
        if audience == "coordinator":
            status = _exact(site.status)
            where = ", ".join(p for p in (site.city, site.state, site.zip, site.country) if p)
        else:
            status = _SITE_STATUS_WORDS.get(site.status or "", code_words(site.status).lower())
            status = "" if site.status is None else status
            where = place_words(site)
        nearness = NEARNESS_WORDS.get(place.nearness(site), "") if place else ""
        lines.append(SiteLine(site.facility or "(unnamed site)", where, status, nearness))
    return lines


def _terms(hits: Iterable[GlossaryHit]) -> tuple[GlossaryHit, ...]:
    seen: set[str] = set()
    out = []
    for hit in hits:
        if hit.everyday or not hit.meaning or hit.id in seen:
            continue
        seen.add(hit.id)
        out.append(hit)
    return tuple(out)


def trial_summary(
    trial: Trial, audience: str, glossary: Glossary, near: str | None = None
) -> TrialSummary:
    """A trial for one audience: patients get plain words and meanings, coordinators the
    official values. Sites are listed nearest first when `near` names a place."""
    if audience not in AUDIENCES:
        raise ValueError(f"audience must be one of {', '.join(AUDIENCES)}, not {audience!r}")
    patient = audience == "patient"
    place = parse_near(near)
    nct_id = trial.nct_id or "(no NCT ID)"
    if patient:
        items = rewrite_criteria(trial.eligibility.criteria, glossary)
        title = trial.brief_title or trial.official_title or nct_id
        # A title keeps its everyday words ("Participants" in a title is not clumsy), and
        # terms the criteria explain are explained there.
        everyday = (term.id for term in glossary.terms if term.everyday)
        seen = frozenset((*everyday, *(hit.id for item in items for hit in item.terms)))
        titled = rewrite_item(title, glossary, seen)
        title = title if titled.shown_as_written else titled.plain
        hits = _terms([*titled.terms, *(hit for item in items for hit in item.terms)])
        facts = _patient_facts(trial, glossary)
        grade = flesch_kincaid_grade_of(reading_text(item) for item in items)
    else:
        items = [
            PlainItem(c.section, c.text, c.text, False, c.depth, c.parent, (), c.label)
            for c in parse_criteria(trial.eligibility.criteria)
        ]
        title = trial.brief_title or trial.official_title or nct_id
        hits = ()
        facts = _coordinator_facts(trial)
        grade = flesch_kincaid_grade_of(item.original for item in items)
    sites = _site_lines_of(trial, audience, place)
    shown = sites[:SITES_SHOWN] if patient else sites
    return TrialSummary(
        audience=audience,
        nct_id=nct_id,
        title=title,
        url=REGISTRY_URL.format(nct_id=nct_id),
        facts=facts,
        sections=_sections(items, audience),
        items=tuple(items),
        terms=hits,
        sites=tuple(shown),
        sites_not_shown=len(sites) - len(shown),
        near=place.text if place else None,
        closing=CLOSING if patient else None,
        grade_level=round(grade, 1),
    )
