"""What a notification says happened, for one audience, as data (pure).

Two readers, two promises. A patient reads a notification to decide whether to ask about a
trial: `patient_changes` says what the changes mean for joining, in everyday words, leaves out
what does not matter to joining (registry bookkeeping, far-away sites) and never says anything
the record does not. A coordinator checks the registry: `coordinator_changes` gives the official
values, old → new, nothing rewritten (the lines `trialwatch diff` prints). `headline` is the
subject line.

A changed criterion is said by its changed words (`watcher.core.worddiff`): for a patient, a
few words around each change in plain English; for a coordinator, the item whole, as written,
its changes marked. What is said is decided here, as `ChangeSummary` data; layout is
`delivery.templates`' job, so the text, HTML, email and feed versions all say the same thing.
Where a subscriber is ("near") is `watcher.core.places`' job: patient summaries leave out site
changes it does not include.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

from watcher.core.canonical import canonical_json
from watcher.core.change import SITE_KINDS, Change
from watcher.core.glossary import Glossary, GlossaryHit
from watcher.core.places import Near, place_words
from watcher.core.record import JSON, Trial
from watcher.core.rewrite import SHOWN_AS_WRITTEN, Rewrite, rewrite_item
from watcher.core.worddiff import (
    CONTEXT_WORDS,
    Span,
    marked_text,
    shows_every_edit,
    side,
    word_diff,
)
from watcher.core.wording.exact import (
    HEADINGS,
    eligibility_label,
    exact_lines,
    site_counts,
)
from watcher.core.wording.sentences import STARTED_FROM, change_sentence, rule_label
from watcher.core.wording.words import (
    by_kind,
    count_words,
    listing,
    operation,
    quoted,
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
    ("New rule for who can join"); a changed item has `diff` instead: its words, unchanged or
    marked as taken out or put in (`watcher.core.worddiff`)."""

    text: str
    label: str | None = None
    diff: tuple[Span, ...] = ()

    @property
    def was(self) -> str:
        """The changed item as it was (the part `diff` shows)."""
        return side(self.diff, "del")

    @property
    def now(self) -> str:
        """The changed item as it is now (the part `diff` shows)."""
        return side(self.diff, "ins")

    @property
    def marked(self) -> str:
        """Both versions in one line, changes marked "[-old-]{+new+}"."""
        return marked_text(self.diff)


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


class _Plain:
    """Criteria items in plain English for one notification, each term explained once.

    Without a glossary, items are shown as written (and not marked so: nothing was tried).
    """

    def __init__(self, glossary: Glossary | None) -> None:
        self.glossary = glossary
        self.seen: frozenset[str] = frozenset()
        self.hits: list[GlossaryHit] = []

    def text(self, text: JSON) -> str:
        """One item in plain English, or as written (and marked so) when the rewrite is not
        faithful."""
        if not isinstance(text, str) or self.glossary is None:
            return text_of(text) or ""
        (result,) = self._rewrite(self.glossary, text)
        return result.plain

    def diff(self, old: JSON, new: JSON) -> tuple[tuple[Span, ...], bool]:
        """A changed item's changed words in plain English, with a few words beside each, and
        whether it is shown as written.

        Both versions are rewritten with the same terms already explained, so a word the
        registry did not change reads the same in both. The plain versions are compared when
        both rewrites are faithful and every word the registry changed that the plain text
        still holds is marked there too; otherwise the versions as written are compared, so a
        mark always means the registry changed those words.
        """
        written_old, written_new = text_of(old) or "", text_of(new) or ""
        if self.glossary is None:
            return word_diff(written_old, written_new, CONTEXT_WORDS), False
        was, now = self._rewrite(self.glossary, written_old, written_new)
        faithful = not (was.shown_as_written or now.shown_as_written)
        if faithful and shows_every_edit(written_old, written_new, word_diff(was.plain, now.plain)):
            return word_diff(was.plain, now.plain, CONTEXT_WORDS), False
        return word_diff(written_old, written_new, CONTEXT_WORDS), True

    def _rewrite(self, glossary: Glossary, *texts: str) -> list[Rewrite]:
        """Each text in plain English, all read with the same terms already explained."""
        results = [rewrite_item(text, glossary, self.seen) for text in texts]
        for hit in (hit for result in results for hit in result.terms):
            if not hit.everyday and hit.id not in self.seen:
                self.seen |= {hit.id}
                self.hits.append(hit)
        return results


def _item_line(change: Change, plain: _Plain) -> ChangeLine:
    label = rule_label(change, plain.text)
    op = operation(change)
    if op == "changed":
        spans, as_written = plain.diff(change.old, change.new)
        return ChangeLine("", label + (SHOWN_AS_WRITTEN if as_written else ""), spans)
    return ChangeLine(plain.text(change.new if op == "added" else change.old), label)


# Site changes a patient is told about, by what they mean for joining.
_OPENED, _LISTED, _CLOSED, _CONTACT = "opened", "listed", "closed", "contact"
_SITE_GROUP_SENTENCES = {
    _OPENED: "{n} are now looking for people",
    _LISTED: "{n} are listed but not open yet",
    _CLOSED: "{n} stopped taking new people or are no longer listed",
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


def _site_lines(changes: Sequence[Change], near: Near | None) -> list[ChangeLine]:
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
    "interventions": "its treatments",
    "arms": "its study groups",
    "outcomes": "what it measures",
}
_COUNTED_FROM = 3
_TOLD_FIRST = frozenset({"status", "why_stopped", "age_sex", "eligibility"})


def _other_lines(changes: Sequence[Change]) -> list[ChangeLine]:
    lines: list[ChangeLine] = []
    for kind, members in by_kind(changes):
        if kind in _COUNTED_KINDS and len(members) >= _COUNTED_FROM:
            what = _COUNTED_KINDS[kind]
            lines.append(ChangeLine(f"The study made {len(members)} changes to {what}."))
        else:
            lines += [ChangeLine(change_sentence(c)) for c in members]
    return lines


def _respelled(change: Change) -> bool:
    """A treatment, group or measure whose words changed only in capitals or spacing
    ("I-DxD" → "I-DXd"): a coordinator sees it, a patient would only read noise."""
    if change.kind not in _COUNTED_KINDS or operation(change) != "changed":
        return False
    return _folded(change.old) == _folded(change.new)


def _folded(value: JSON) -> str:
    return " ".join(canonical_json(value).lower().split())


def patient_changes(
    changes: Sequence[Change], near: Near | None = None, *, glossary: Glossary | None = None
) -> ChangeSummary:
    """What a patient is told: what matters for joining, in plain words; empty when nothing does.

    `info` changes are never told, nor a treatment, group or measure only respelled.
    Eligibility items are grouped under "The rules for who can
    join changed:" (in plain English, fail closed, when a `glossary` is given; as written
    otherwise). Site changes are left out when `near` is given and the site is not near (see
    the module docstring), and counted by place when there are many. Status and eligibility
    always stay.
    """
    told = [c for c in changes if c.severity != "info" and not _respelled(c)]
    sites = [
        c
        for c in told
        if c.kind in SITE_KINDS and (near is None or c.site is None or near.includes(c.site))
    ]
    plain = _Plain(glossary)
    head = [ChangeLine(change_sentence(c)) for c in told if c.kind in ("status", "why_stopped")]
    rules = [ChangeLine(change_sentence(c)) for c in told if c.kind == "age_sex"]
    rules += [_item_line(c, plain) for c in told if c.kind == "eligibility"]
    rest = [c for c in told if c.kind not in SITE_KINDS | _TOLD_FIRST]
    blocks = (
        ChangeBlock(None, tuple(head)),
        ChangeBlock(_ELIGIBILITY_HEADING, tuple(rules)),
        ChangeBlock(None, tuple(_site_lines(sites, near))),
        ChangeBlock(None, tuple(_other_lines(rest))),
    )
    return ChangeSummary("patient", tuple(b for b in blocks if b.lines), tuple(plain.hits))


def _exact_lines(change: Change) -> list[ChangeLine]:
    """The coordinator's lines for one change: the official values, old → new, as
    `trialwatch diff` prints them."""
    if change.kind == "eligibility":
        label = eligibility_label(change, quoted)
        if operation(change) == "changed":
            return [ChangeLine("", label, word_diff(str(change.old), str(change.new)))]
        return [ChangeLine(str(change.new if change.old is None else change.old), label)]
    return [
        ChangeLine("", line.label, line.diff) if line.diff else ChangeLine(line.text.strip())
        for line in exact_lines(change)
    ]


def coordinator_changes(changes: Sequence[Change]) -> ChangeSummary:
    """What a coordinator is told: every change, grouped by kind, official values old → new.

    Site changes of one kind are listed one by one up to `SITES_LISTED_EXACT`, then counted
    by old → new value (`trialwatch diff` has the full list).
    """
    blocks = []
    for kind, members in by_kind(changes):
        heading = HEADINGS.get(kind, kind) + (f" ({len(members)})" if len(members) > 1 else "")
        if kind in SITE_KINDS and len(members) > SITES_LISTED_EXACT:
            lines = [ChangeLine(text) for text in site_counts(members)]
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
