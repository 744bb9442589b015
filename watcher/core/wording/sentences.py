"""`change_sentence`: the one plain-English sentence stored beside each change (pure).

It is written at poll time from the `Change` alone and stored, so a feed or digest shows later
exactly what the first email said, without recomputing. It keeps exact values (numbers, names,
criteria as the trial wrote them) and reads well to patients and coordinators alike; patient
summaries (`changes`) reuse it line by line. Changing a sentence changes what new changes store,
never what old ones say.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from watcher.core.change import Change
from watcher.core.places import place_words
from watcher.core.record import JSON
from watcher.core.wording.words import (
    PARENT_WIDTH,
    age_words,
    code_words,
    contacts_words,
    count_words,
    date_words,
    item_name,
    phase_words,
    quoted,
    renamed_parts,
    shorten,
    text_of,
)

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
# A study or site that goes to RECRUITING from one of these has started, not reopened.
STARTED_FROM = (None, "NOT_YET_RECRUITING")


def _status_sentence(change: Change) -> str:
    old, new = change.old, change.new
    if change.field.endswith("lastKnownStatus"):
        return (
            f"The last status the study team confirmed is now {code_words(text_of(new))} "
            f"(before: {code_words(text_of(old))})."
        )
    if new == "RECRUITING" and old not in STARTED_FROM:
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
    was = code_words(text_of(old))
    other = f"The study's status is now {code_words(str(new))} (before: {was})."
    return _STATUS_NEWS.get(str(new), other)


def _why_stopped_sentence(change: Change) -> str:
    if change.new is None:
        return "The study no longer gives a reason for stopping."
    if change.old is None:
        return f"The study gives this reason for stopping: {quoted(change.new)}."
    return (
        f"The reason the study gives for stopping is now {quoted(change.new)} "
        f"(before: {quoted(change.old)})."
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
    return f"{name} (under {quoted(shorten(str(parent), PARENT_WIDTH))})" if parent else name


def _eligibility_sentence(change: Change) -> str:
    name = _rule_name(change)
    if change.old is None:
        return f"{name}, added: {quoted(change.new)}."
    if change.new is None:
        return f"{name}, removed: {quoted(change.old)}."
    return f"{name}, changed: was {quoted(change.old)} now {quoted(change.new)}."


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
        now = _SEX_WORDS.get(str(new), code_words(text_of(new)))
        was = _SEX_WORDS.get(str(old), code_words(text_of(old)))
        return f"The study is now open to {now} (before: {was})."
    limit = _AGE_NAMES.get(name, "")
    was = age_words(text_of(old))
    if new is None:
        return f"The study no longer sets an {limit} age to join (before: {was})."
    before = f" (before: {was})" if old is not None else ""
    return f"The {limit} age to join is now {age_words(text_of(new))}{before}."


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


def _site_sentence(change: Change) -> str:
    where = place_words(change.site) if change.site else "an unnamed place"
    old, new = text_of(change.old), text_of(change.new)
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
        contacts = contacts_words(change.new)
        what = f"has a new contact: {contacts}" if contacts else "no longer lists a contact"
        return f"{facility} in {where} {what}."
    if new == "RECRUITING":
        what = "is now recruiting" if old in STARTED_FROM else "is recruiting again"
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
    people = count_words(now, "person", "people")
    if new.get("type") == "ACTUAL":
        return f"The study has enrolled {people} in total{before}."
    before = f" (before: {was})" if isinstance(was, int) else ""
    return f"The study now plans to enroll {people}{before}."


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
        before = f" (before: {expected_before}{date_words(text_of(old['date']))})"
    return f"The study {verb} {date_words(text_of(new['date']))}{before}."


def _names(value: JSON) -> str:
    words = [str(v) for v in value] if isinstance(value, list) else []
    return "; ".join(words) or "none"


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
    was, now = item_name(change.old) or "", item_name(change.new) or ""
    if change.old is None:
        kind = change.new.get("type") if isinstance(change.new, dict) else None
        of_type = f" ({code_words(str(kind)).lower()})" if kind and kind != "OTHER" else ""
        return f"{thing} was added: {quoted(now)}{of_type}."
    if change.new is None:
        return f"{thing} was taken out: {quoted(was)}."
    if was != now:
        return f"{thing} was renamed: {quoted(was)} is now {quoted(now)}."
    return f"The description of the {noun} {quoted(now)} changed."


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
        return f"The study's {which} is now {quoted(new)} (before: {quoted(old)})."
    if change.kind == "conditions":
        return f"The conditions studied are now: {_names(new)} (before: {_names(old)})."
    if change.kind == "sponsor" and name == "collaborators":
        return f"The study's collaborators are now: {_names(new)} (before: {_names(old)})."
    if change.kind == "sponsor":
        return f"The study's lead sponsor is now {new or 'not given'} (before: {old or 'none'})."
    if change.kind == "contacts":
        now, was = contacts_words(new), contacts_words(old)
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
