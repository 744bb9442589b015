"""What a trial is, for one audience, as data: `trial_summary` (pure).

`trialwatch summary` and the first email after subscribing show it. A patient gets plain words,
the terms explained and the sites nearest them first (a few, the rest counted); a coordinator
gets the official values and every site. Layout is `delivery.templates`' job; the facts at the
top are `trial_facts`'.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace

from watcher.core.change import AUDIENCES
from watcher.core.criteria import parse_criteria
from watcher.core.glossary import Glossary, GlossaryHit
from watcher.core.ids import registry_url
from watcher.core.places import ELSEWHERE, NEARNESS_WORDS, Near, place_words
from watcher.core.readability import flesch_kincaid_grade_of
from watcher.core.record import Site, Trial
from watcher.core.rewrite import PlainItem, rewrite_criteria, rewrite_item
from watcher.core.wording.key_facts import KeyFact, key_facts
from watcher.core.wording.trial_facts import Fact, coordinator_facts, patient_facts
from watcher.core.wording.words import field_words, status_words

CLOSING = "Only the study team can tell you if you qualify. Talk with your doctor."
# A patient's trial summary lists this many sites, nearest first; the rest are counted.
SITES_SHOWN = 10


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
    """A site as listed: its name, where it is, its recruiting status and how near it is.

    `nearness` is what a reader sees: "12 km away" (in the subscriber's unit) when the
    distance is known, else by name ("in your city"); `distance_km` is the distance itself,
    None when the site or the place has no point.
    """

    facility: str
    place: str
    status: str
    nearness: str
    distance_km: float | None = None


@dataclass(frozen=True, slots=True)
class TrialSummary:
    """What a trial is, for one audience.

    `items` are every eligibility item in document order, as the JSON output lists them (for a
    coordinator, `plain` is the original: nothing is rewritten). `key_facts` come first for a
    patient, their sources indexing `items`; a coordinator, who reads the exact criteria and
    fields, gets none (a paraphrase beside the official text would be a second, looser
    version of it). `grade_level` is the Flesch-Kincaid grade of the criteria as the reader
    reads them (the original terms kept in parentheses after plain words left out).
    """

    audience: str
    nct_id: str
    title: str
    url: str
    key_facts: tuple[KeyFact, ...]
    facts: tuple[Fact, ...]
    sections: tuple[CriteriaSection, ...]
    items: tuple[PlainItem, ...]
    terms: tuple[GlossaryHit, ...]
    sites: tuple[SiteLine, ...]
    sites_not_shown: int
    near: str | None
    closing: str | None

    @property
    def grade_level(self) -> float:
        """Worked out when asked (`trialwatch summary`), not with the rest: no email shows it,
        and counting syllables cost planning more than the email it was worked out for."""
        return round(flesch_kincaid_grade_of(item.plain for item in self.items), 1)

    def placed(self, trial: Trial, near: Near | None) -> TrialSummary:
        """This summary of `trial` for a reader at `near`: only its sites depend on the place,
        so a planner with readers in many places words the trial once (`plan_notices`)."""
        ordered = sorted(trial.sites, key=_site_order(near))
        # Only the sites shown are worded: a patient sees the nearest few of maybe hundreds.
        shown = ordered[:SITES_SHOWN] if self.audience == "patient" else ordered
        return replace(
            self,
            sites=tuple(_site_line(site, self.audience, near) for site in shown),
            sites_not_shown=len(ordered) - len(shown),
            near=near.name if near else None,
        )


_SECTION_HEADINGS = {
    "patient": {"inclusion": "Who can join", "exclusion": "Who cannot join", "other": "Rules"},
    "coordinator": {
        "inclusion": "Inclusion criteria",
        "exclusion": "Exclusion criteria",
        "other": "Criteria",
    },
}


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


_SiteKey = tuple[int, float, int, int, str, str, str, str]


def _site_order(near: Near | None) -> Callable[[Site], _SiteKey]:
    """Nearest first: sites near the subscriber, by distance (sites without a point after
    those with one, by name), then the rest; recruiting first among equals, then by place."""

    def key(site: Site) -> _SiteKey:
        km = near.distance_km(site) if near else None
        return (
            0 if near and near.includes(site) else 1,
            float("inf") if km is None else km,
            near.place.nearness(site) if near else ELSEWHERE,
            0 if site.status == "RECRUITING" else 1,
            site.country or "",
            site.state or "",
            site.city or "",
            site.facility or "",
        )

    return key


def _site_line(site: Site, audience: str, near: Near | None) -> SiteLine:
    if audience == "coordinator":
        status = field_words(site.status)
        where = ", ".join(p for p in (site.city, site.state, site.zip, site.country) if p)
    else:
        status = "" if site.status is None else status_words(site.status)
        where = place_words(site)
    km = near.distance_km(site) if near else None
    nearness = ""
    if near is not None:
        nearness = near.away(site) or NEARNESS_WORDS.get(near.place.nearness(site), "")
    return SiteLine(site.facility or "(unnamed site)", where, status, nearness, km)


def _terms(hits: Iterable[GlossaryHit]) -> tuple[GlossaryHit, ...]:
    seen: set[str] = set()
    out = []
    for hit in hits:
        if hit.everyday or not hit.meaning or hit.id in seen:
            continue
        seen.add(hit.id)
        out.append(hit)
    return tuple(out)


def _as_written(trial: Trial) -> list[PlainItem]:
    """The eligibility items as the registry words them (a coordinator reads them so)."""
    return [
        PlainItem(c.section, c.text, c.text, False, c.depth, c.parent, (), c.label, (c.text,))
        for c in parse_criteria(trial.eligibility.criteria)
    ]


def trial_summary(
    trial: Trial,
    audience: str,
    glossary: Glossary,
    near: Near | None = None,
    *,
    criteria: bool = True,
) -> TrialSummary:
    """A trial for one audience: patients get plain words and meanings, coordinators the
    official values. Sites are listed nearest first, with their distance, when `near` is
    given.

    Without `criteria`, the eligibility criteria are left out (`sections`, `items` and `terms`
    empty): what a change email shows, whose link leads to them. Rewriting them is most of
    what planning a release costs, and nothing else depends on it: the key facts read the
    criteria as written, and a title's words do not depend on the terms explained before it
    (only which of its terms are listed does).
    """
    if audience not in AUDIENCES:
        raise ValueError(f"audience must be one of {', '.join(AUDIENCES)}, not {audience!r}")
    patient = audience == "patient"
    nct_id = trial.nct_id or "(no NCT ID)"
    if patient and criteria:
        items = rewrite_criteria(trial.eligibility.criteria, glossary)
        title = trial.brief_title or trial.official_title or nct_id
        # A title keeps its everyday words ("Participants" in a title is not clumsy), and
        # terms the criteria explain are explained there.
        everyday = (term.id for term in glossary.terms if term.everyday)
        seen = frozenset((*everyday, *(hit.id for item in items for hit in item.terms)))
        titled = rewrite_item(title, glossary, seen)
        title = title if titled.shown_as_written else titled.plain
        hits = _terms([*titled.terms, *(hit for item in items for hit in item.terms)])
        facts = patient_facts(trial, glossary)
        first = key_facts(trial, items)
    elif patient:
        items = []
        title = trial.brief_title or trial.official_title or nct_id
        titled = rewrite_item(title, glossary)
        title = title if titled.shown_as_written else titled.plain
        hits = ()
        facts = patient_facts(trial, glossary)
        first = key_facts(trial, _as_written(trial))
    else:
        items = _as_written(trial) if criteria else []
        title = trial.brief_title or trial.official_title or nct_id
        hits = ()
        facts = coordinator_facts(trial)
        first = ()
    return TrialSummary(
        audience=audience,
        nct_id=nct_id,
        title=title,
        url=registry_url(nct_id),
        key_facts=first,
        facts=facts,
        sections=_sections(items, audience),
        items=tuple(items),
        terms=hits,
        sites=(),
        sites_not_shown=0,
        near=None,
        closing=CLOSING if patient else None,
    ).placed(trial, near)
