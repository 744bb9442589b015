"""`change_sentence`: the one plain-English sentence stored beside each change (pure).

It is written at poll time from the `Change` alone and stored, so a feed or digest shows later
exactly what the first email said, without recomputing. It keeps exact values (numbers, names,
criteria as the trial wrote them) and reads well to patients and coordinators alike; patient
summaries (`changes`) reuse it line by line. Changing a sentence changes what new changes store,
never what old ones say.

Short sentences in everyday words (a patient reads them; `tests/test_change_wording.py` keeps
them at grade 6): "people", not "participants"; "Before, it planned March 2026.", not a
parenthesis; a changed criterion or treatment text quoted by its changed words and a few beside
them (`watcher.core.worddiff`), never two whole paragraphs.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

from watcher.core.change import Change
from watcher.core.places import place_words
from watcher.core.record import JSON
from watcher.core.worddiff import CONTEXT_WORDS, Span, changed_words, side, word_diff
from watcher.core.wording.words import (
    PARENT_WIDTH,
    age_words,
    code_words,
    contacts_words,
    count_words,
    date_words,
    item_name,
    listing,
    operation,
    phase_words,
    quoted,
    renamed_parts,
    shorten,
    status_words,
    text_of,
)

_STATUS_NEWS = {
    "RECRUITING": "This study has started looking for people to join.",
    "NOT_YET_RECRUITING": "This study is not open to join yet.",
    "ENROLLING_BY_INVITATION": "This study now takes only people the study team asks to join.",
    "ACTIVE_NOT_RECRUITING": (
        "This study is no longer taking new people. It goes on for the people already in it."
    ),
    "SUSPENDED": "This study is on hold. It is not taking new people for now.",
    "TERMINATED": "This study has stopped early. It will not start again.",
    "COMPLETED": "This study has ended. It is no longer taking people.",
    "WITHDRAWN": "This study was stopped before anyone joined. It will not take people.",
    "AVAILABLE": "You can now ask for this treatment outside a study (expanded access).",
    "TEMPORARILY_NOT_AVAILABLE": "For now, you cannot ask for this treatment outside a study.",
    "NO_LONGER_AVAILABLE": "You can no longer ask for this treatment outside a study.",
    "APPROVED_FOR_MARKETING": "This treatment is now approved for sale.",
    "WITHHELD": "The registry no longer shows the status of this study.",
}
# A study or site that goes to RECRUITING from one of these has started, not reopened.
STARTED_FROM = (None, "NOT_YET_RECRUITING")


def _status_sentence(change: Change) -> str:
    old, new = change.old, change.new
    if change.field.endswith("lastKnownStatus"):
        was = f" Before, it said it was {status_words(text_of(old))}." if old else ""
        return f"The study last said it was {status_words(text_of(new))}.{was}"
    if new == "RECRUITING" and old not in STARTED_FROM:
        return "This study is looking for people again."
    if new == "UNKNOWN":
        last = (change.detail or {}).get("last_known_status")
        known = f" It last said it was {status_words(str(last))}." if last else ""
        return (
            "For over 2 years, the study team has not said if this study is still open."
            f"{known} Ask them if it is still open."
        )
    if new is None:
        return "The study no longer gives a status."
    other = (
        f"The study's status is now: {status_words(str(new))}. "
        f"It was: {status_words(text_of(old))}."
    )
    return _STATUS_NEWS.get(str(new), other)


def _why_stopped_sentence(change: Change) -> str:
    if change.new is None:
        return "The study no longer gives a reason for stopping."
    if change.old is None:
        return f"The study gives this reason for stopping: {quoted(change.new)}."
    return (
        f"The study gave a new reason for stopping: {quoted(change.new)}. "
        f"Before, it said: {quoted(change.old)}."
    )


# What happened to a criterion, by its section and the operation: the words both the stored
# sentence and a patient's email use.
_RULE_LABELS = {
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


def rule_label(change: Change, parent_words: Callable[[str], str] = str) -> str:
    """What happened to a criterion: "Changed rule for who can join (under “…”)".

    `parent_words` gives the words of the item it sits under (a patient reads them in plain
    English); they are shortened, since they only say where the item is.
    """
    detail = change.detail or {}
    op = operation(change)
    label = _RULE_LABELS.get((str(detail.get("section")), op), _RULE_LABELS["other", op])
    parent = detail.get("parent")
    if parent:
        label += f" (under {quoted(shorten(parent_words(str(parent)), PARENT_WIDTH))})"
    return label


def before_and_now(spans: Sequence[Span]) -> str:
    """A change shown by its changed words and a few beside them, in two short sentences."""
    return f"Before: {quoted(side(spans, 'del'))}. Now: {quoted(side(spans, 'ins'))}."


def _eligibility_sentence(change: Change) -> str:
    label = rule_label(change)
    if operation(change) != "changed":
        return f"{label}: {quoted(change.new if change.old is None else change.old)}."
    spans = word_diff(text_of(change.old) or "", text_of(change.new) or "", CONTEXT_WORDS)
    return f"{label}. {before_and_now(spans)}"


_SEX_WORDS = {"ALL": "people of any sex", "FEMALE": "females only", "MALE": "males only"}
_AGE_NAMES = {"minimumAge": "youngest", "maximumAge": "oldest"}


def _age_sex_sentence(change: Change) -> str:
    name = change.field.rsplit(".", 1)[-1]
    old, new = change.old, change.new
    if name == "healthyVolunteers":
        if new is None:
            return "The study no longer says if healthy volunteers can join."
        return f"Healthy volunteers {'can' if new else 'can no longer'} join this study."
    if name == "sex":
        now = _SEX_WORDS.get(str(new), code_words(text_of(new)))
        was = _SEX_WORDS.get(str(old), code_words(text_of(old)))
        return f"The study is now open to {now}. It was open to {was}."
    limit = _AGE_NAMES.get(name, "")
    was = age_words(text_of(old))
    if new is None:
        return f"The study no longer sets the {limit} age to join. It was {was}."
    before = f" It was {was}." if old is not None else ""
    return f"The {limit} age to join is now {age_words(text_of(new))}.{before}"


def _facility(change: Change) -> str:
    facility = change.site.facility if change.site else None
    return f": {facility.rstrip('.')}." if facility else "."


def _site_info_sentence(change: Change) -> str:
    facility = change.site.facility if change.site and change.site.facility else "A site"
    renamed = "; ".join(
        f"{part} {after} (before: {before})"
        for part, before, after in renamed_parts(change.old, change.new)
    )
    name = facility.rstrip(".")
    return f"The registry renamed the address of {name}: {renamed}. It is the same site."


def site_news(old: str | None, new: str | None) -> str:
    """What a site's new recruiting status means, after "The site in Boston …": "is now
    looking for people", "is looking for people again", "is no longer taking new people"."""
    if new == "RECRUITING":
        return "is now looking for people" if old in STARTED_FROM else "is looking for people again"
    if new is None:
        return "no longer says if it is open"
    words = status_words(new)
    return f"is {words}" if words.startswith(("no ", "not ")) else f"is now {words}"


def _site_sentence(change: Change) -> str:
    where = place_words(change.site) if change.site else "an unnamed place"
    old, new = text_of(change.old), text_of(change.new)
    if change.kind == "site_added":
        if new == "RECRUITING":
            what = "is looking for people"
        elif new is None:
            what = "is listed"
        else:
            what = f"is listed but {status_words(new)}"
        return f"A new site in {where} {what}{_facility(change)}"
    if change.kind == "site_removed":
        return f"A site in {where} is no longer listed{_facility(change)}"
    if change.kind == "site_contact":
        facility = change.site.facility if change.site and change.site.facility else "The site"
        contacts = contacts_words(change.new)
        what = f"has a new contact: {contacts}" if contacts else "no longer lists a contact"
        return f"{facility} in {where} {what}."
    return f"The site in {where} {site_news(old, new)}{_facility(change)}"


def _enrollment_sentence(change: Change) -> str:
    old = change.old if isinstance(change.old, dict) else {}
    new = change.new if isinstance(change.new, dict) else {}
    was, now = old.get("count"), new.get("count")
    if not isinstance(now, int):
        return "The study no longer says how many people it plans to enroll."
    said = "planned" if old.get("type") != "ACTUAL" else "had"
    before = f" It {said} {was}." if isinstance(was, int) else ""
    people = count_words(now, "person", "people")
    if new.get("type") == "ACTUAL":
        return f"The study has enrolled {people} in total.{before}"
    return f"The study now plans to enroll {people}.{before}"


# For each date: what the study did on it, what it plans to do by it, and its name.
_DATE_WORDS = {
    "startDateStruct": ("started", "now plans to start", "a start date"),
    "primaryCompletionDateStruct": (
        "got the last data for its main question",
        "now plans to get the last data for its main question",
        "a date for the last data on its main question",
    ),
    "completionDateStruct": ("ended", "now plans to end", "an end date"),
}


def _date_sentence(change: Change) -> str:
    done, planned, name = _DATE_WORDS.get(
        change.field.rsplit(".", 1)[-1], ("has a date", "now plans a date", "a date")
    )
    old = change.old if isinstance(change.old, dict) else {}
    new = change.new if isinstance(change.new, dict) else {}
    if not new.get("date"):
        return f"The study no longer gives {name}."
    date = text_of(new["date"])
    if new.get("type") == "ACTUAL":
        sentence = f"The study {done} {_on(date)} {date_words(date)}."
    else:
        sentence = f"The study {planned} by {date_words(date)}."
    if old.get("date"):
        said = "said" if old.get("type") == "ACTUAL" else "planned"
        sentence += f" Before, it {said} {date_words(text_of(old['date']))}."
    return sentence


def _on(date: str | None) -> str:
    """ "on May 9, 2025" but "in May 2025"."""
    return "on" if date and date.count("-") == 2 else "in"


def _names(value: JSON) -> str:
    words = [str(v) for v in value] if isinstance(value, list) else []
    return "; ".join(words) or "none"


# A part of a treatment, group or measure that changed: its name in a list ("the description
# and groups of …"), and what the study changed when it is the only part ("which groups get …").
_PARTS = {
    "description": ("description", "the description of {}"),
    "armGroupLabels": ("groups", "which groups get {}"),
    "interventionNames": ("treatments", "the treatments given in {}"),
    "otherNames": ("other names", "the other names of {}"),
    "type": ("type", "the type of {}"),
    "timeFrame": ("time frame", "the time frame of {}"),
}
# A part that changed by up to this many words is shown (its changed words, with a few beside
# them); a longer rewrite is only named: its text is on the registry page.
SHOWN_CHANGE_WORDS = 25


def _part_text(value: JSON) -> str:
    if isinstance(value, list):
        return "; ".join(str(v) for v in value)
    return "" if value is None else str(value)


def _details_sentence(thing: str, old: JSON, new: JSON) -> str:
    """A treatment, group or measure kept its name but changed a part: which one, and the
    changed words when the change is short."""
    was = old if isinstance(old, dict) else {}
    now = new if isinstance(new, dict) else {}
    parts = [key for key in sorted(was.keys() | now.keys()) if was.get(key) != now.get(key)]
    if len(parts) == 1:
        phrase = _PARTS.get(parts[0], (parts[0], f"the {parts[0]} of {{}}"))[1]
        before, after = _part_text(was.get(parts[0])), _part_text(now.get(parts[0]))
        changed = f"The study changed {phrase.format(thing)}."
        if changed_words(word_diff(before, after)) > SHOWN_CHANGE_WORDS:
            return changed
        return f"{changed} {before_and_now(word_diff(before, after, CONTEXT_WORDS))}"
    nouns = [_PARTS.get(key, (key, ""))[0] for key in parts]
    return f"The study changed the {listing(nouns)} of {thing}."


def _item_sentence(change: Change) -> str:
    if change.kind == "outcomes":
        main = change.field.endswith("primaryOutcomes")
        thing = "A main measure of the study" if main else "Another measure of the study"
        noun = "main measure" if main else "other measure"
    else:
        thing, noun = {
            "interventions": ("A treatment", "study treatment"),
            "arms": ("A study group", "study group"),
        }[change.kind]
    was, now = item_name(change.old) or "", item_name(change.new) or ""
    if change.old is None:
        kind = change.new.get("type") if isinstance(change.new, dict) else None
        of_type = f" ({code_words(str(kind)).lower()})" if kind and kind != "OTHER" else ""
        return f"{thing} was added: {quoted(now)}{of_type}."
    if change.new is None:
        return f"{thing} was taken out: {quoted(was)}."
    if was != now:
        return f"{thing} was renamed: {quoted(was)} is now {quoted(now)}."
    return _details_sentence(f"the {noun} {quoted(now)}", change.old, change.new)


def _ended(text: str) -> str:
    """`text` ending in one full stop (a contact's notes may end in one already)."""
    return text.rstrip(".") + "."


def _named_sentence(change: Change) -> str:
    name = change.field.rsplit(".", 1)[-1]
    old, new = change.old, change.new
    if change.kind == "results_posted":
        if new:
            return "The study's results are now on ClinicalTrials.gov."
        return "Results of this study are no longer shown on ClinicalTrials.gov."
    if change.kind == "phase":
        now = "/".join(phase_words(str(p)) for p in new) if isinstance(new, list) else ""
        was = "/".join(phase_words(str(p)) for p in old) if isinstance(old, list) else ""
        return f"The study's phase is now {now or 'not given'} (before: {was or 'not given'})."
    if change.kind == "title":
        which = "official title" if name == "officialTitle" else "title"
        return f"The study has a new {which}: {quoted(new)}. It was {quoted(old)}."
    if change.kind == "conditions":
        return f"The conditions studied are now: {_names(new)} (before: {_names(old)})."
    if change.kind == "sponsor" and name == "collaborators":
        return f"The study's collaborators are now: {_names(new)} (before: {_names(old)})."
    if change.kind == "sponsor":
        return f"The study's lead sponsor is now {new or 'not given'} (before: {old or 'none'})."
    if change.kind == "contacts":
        now, was = contacts_words(new), contacts_words(old)
        if not now:
            return f"The study no longer lists a contact person. It was: {_ended(was or 'none')}"
        before = f" It was: {_ended(was)}" if was else ""
        return f"The study has a new contact: {_ended(now)}{before}"
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
    "site_info": _site_info_sentence,
    "enrollment": _enrollment_sentence,
    "dates": _date_sentence,
    "interventions": _item_sentence,
    "arms": _item_sentence,
    "outcomes": _item_sentence,
}


def change_sentence(change: Change) -> str:
    """One self-contained plain-English sentence for one change, exact values kept."""
    return _SENTENCES.get(change.kind, _named_sentence)(change)
