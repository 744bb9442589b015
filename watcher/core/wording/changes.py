"""What a notification says happened, for one audience, as data (pure).

Two readers, two promises. A patient reads a notification to decide whether to ask about a
trial: `patient_changes` says what the changes mean for joining, in everyday words, leaves out
what does not matter to joining (registry bookkeeping, far-away sites) and never says anything
the record does not. A coordinator checks the registry: `coordinator_changes` gives the official
values, old → new, nothing rewritten (the lines `trialwatch diff` prints). `headline` is the
subject line.

What is said is decided here, as `ChangeSummary` data; layout is `delivery.templates`' job, so
the text, HTML, email and feed versions all say the same thing. Where a subscriber is ("near")
is `watcher.core.places`' job: patient summaries leave out site changes it does not include.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from watcher.core.change import SITE_KINDS, Change
from watcher.core.glossary import Glossary, GlossaryHit
from watcher.core.places import Place, parse_near, place_words
from watcher.core.record import JSON, Trial
from watcher.core.rewrite import rewrite_item
from watcher.core.wording.exact import ARROW, HEADINGS, eligibility_label, format_changes
from watcher.core.wording.sentences import STARTED_FROM, change_sentence
from watcher.core.wording.words import (
    PARENT_WIDTH,
    by_kind,
    code_words,
    count_words,
    listing,
    operation,
    quoted,
    shorten,
    text_of,
)

# Patient change summaries list up to this many sites of one kind (now recruiting, …) one by
# one; more are counted by place, so a reopening with 450 site changes stays readable.
SITES_LISTED = 5
# Coordinators get every site change listed up to this many per kind, then counts by value.
SITES_LISTED_EXACT = 20


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
    op = operation(change)
    label = _ITEM_LABELS.get((section, op), _ITEM_LABELS["other", op])
    parent = detail.get("parent")
    if parent:
        label += f" (under {quoted(shorten(plain(parent), PARENT_WIDTH))})"
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
        shown.append(f"{count_words(rest, 'other place', 'other places')}")
    return listing(shown)


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
    lines: list[ChangeLine] = []
    for kind, members in by_kind(changes):
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
        label = eligibility_label(change, quoted)
        if operation(change) == "changed":
            return [ChangeLine("", label, was=str(change.old), now=str(change.new))]
        return [ChangeLine(str(change.new if change.old is None else change.old), label)]
    _, *lines = format_changes([change]).splitlines()
    return [ChangeLine(line.strip()) for line in lines]


def _exact_site_counts(changes: Sequence[Change]) -> list[ChangeLine]:
    if changes[0].kind == "site_contact":  # contact lists do not count by value
        return [ChangeLine(f"{len(changes)} sites: contact details changed")]
    moves = Counter((code_words(text_of(c.old)), code_words(text_of(c.new))) for c in changes)
    ranked = sorted(moves.items(), key=lambda pair: (-pair[1], pair[0]))
    return [ChangeLine(f"{n} sites: {was} {ARROW} {now}") for (was, now), n in ranked]


def coordinator_changes(changes: Sequence[Change]) -> ChangeSummary:
    """What a coordinator is told: every change, grouped by kind, official values old → new.

    Site changes of one kind are listed one by one up to `SITES_LISTED_EXACT`, then counted
    by old → new value (`trialwatch diff` has the full list).
    """
    blocks = []
    for kind, members in by_kind(changes):
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
        if status.new == "RECRUITING" and status.old not in STARTED_FROM:
            return "is recruiting again"
        return _STATUS_HEADLINES.get(str(status.new), "has a new status")
    if kinds["eligibility"] or kinds["age_sex"]:
        return "has changed who can join"
    opened = sum(1 for c in changes if c.kind in SITE_KINDS and _site_group(c) == _OPENED)
    if opened:
        return f"has {count_words(opened, 'more site', 'more sites')} recruiting"
    if kinds["results_posted"]:
        return "has posted results"
    if kinds["why_stopped"]:
        return "gave a reason for stopping"
    if kinds["site_added"] or kinds["site_removed"] or kinds["site_status"]:
        return "has changes to its sites"
    return f"has {count_words(len(changes), 'update', 'updates')}"


def headline(changes: Sequence[Change], trial: Trial) -> str:
    """An email subject: the most important change first, then the title.

    "NCT07310784 is now recruiting — A Phase II Trial of LM103 in Advanced Melanoma"
    """
    name = trial.nct_id or "A watched study"
    title = trial.brief_title or trial.official_title
    phrase = _headline_phrase(changes) if changes else "has no changes"
    return f"{name} {phrase} — {title}" if title else f"{name} {phrase}"


def moved_summary(old: str, new: str, audience: str) -> ChangeSummary:
    """What a subscriber is told when the registry lists their trial under another NCT ID."""
    line = ChangeLine(
        f"ClinicalTrials.gov now lists this study as {new} (it was {old}). It is the same "
        f"study: you now follow {new}, and nothing else changes for you."
    )
    return ChangeSummary(audience, (ChangeBlock(None, (line,)),))


def moved_headline(old: str, trial: Trial) -> str:
    """The subject of that email: "NCT01 is now listed as NCT02 — Title"."""
    title = trial.brief_title or trial.official_title
    phrase = f"{old} is now listed as {trial.nct_id}"
    return f"{phrase} — {title}" if title else phrase
