"""What changed between two versions of a trial, the way a coordinator would say it (pure).

A generic JSON diff of two registry records is mostly noise: sites reorder wholesale, the
registry renumbers its MeSH leaves, update stamps move by themselves, and an eligibility text
re-escaped by the registry looks rewritten. So each watched field is compared the way people
think about it (sites as a set keyed by address, criteria item by item, enrollment as count and
type together), and only what no named field covers falls through to a generic comparison.

Each change carries its kind's severity (the policy is `watcher.core.change`'s).

Never a change: `versionHolder`, `lastUpdateSubmitDate`, `lastUpdatePostDateStruct`,
`statusVerifiedDate`, anything under `derivedSection`, keys added by third-party tools (all
removed by `watcher.core.canonical.strip_noise` before the remainder is kept), a reordered site,
contact, condition or reference list, site coordinates (the registry geocodes them), a site
whose state was filled in, and eligibility edits that only touch whitespace or CommonMark
escaping. A site the registry moved to another city name in its bulk housekeeping ("Napoli" →
"Naples", "Lichtenberg" → "Berlin") is the same site: one `site_info`, never a removal and an
addition, which would tell a patient near it that it closed.

Changes come out ordered by `KIND_ORDER`, then by a stable key within the kind (document order
for criteria, the site's label for sites, the item's name otherwise), so the same pair of
versions always gives the same list.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import TypeVar

from deepdiff import DeepDiff

from watcher.core.canonical import canonical_json
from watcher.core.change import KIND_ORDER, SEVERITY, Change, SiteRef
from watcher.core.criteria import Criterion, parse_criteria
from watcher.core.matching import SIMILAR, distance_km, match, similarity
from watcher.core.record import (
    JSON,
    ArmGroup,
    Contact,
    DatePoint,
    Intervention,
    Outcome,
    Site,
    Trial,
)

_RANK = {kind: i for i, kind in enumerate(KIND_ORDER)}

# A criterion reworded in place (same section, position and parent) needs less: the registry's
# rewrites of one ILD exclusion in NCT06203210, NCT06780137 and NCT07227597 score 0.42-0.60.
SIMILAR_IN_PLACE = 0.4

_STATUS = "protocolSection.statusModule"
_DESIGN = "protocolSection.designModule"
_ELIGIBILITY = "protocolSection.eligibilityModule"
_LOCATIONS = "protocolSection.contactsLocationsModule.locations"
_SECTIONS = ("inclusion", "exclusion", "other")


def _change(
    kind: str,
    field: str,
    old: JSON,
    new: JSON,
    site: SiteRef | None = None,
    detail: Mapping[str, JSON] | None = None,
) -> Change:
    return Change(kind, field, old, new, SEVERITY[kind], site, detail)


# -- the named kinds ----------------------------------------------------------------------


def _contacts_json(contacts: Iterable[Contact]) -> list[JSON]:
    """Contacts in a stable order: the registry reorders them without meaning anything."""
    return sorted((c.to_json() for c in contacts), key=canonical_json)


def _same_bag(old: Iterable[str], new: Iterable[str]) -> bool:
    return sorted(old) == sorted(new)


def _status(old: Trial, new: Trial) -> list[Change]:
    detail: dict[str, JSON] | None = (
        {"last_known_status": new.last_known_status} if new.last_known_status else None
    )
    if old.overall_status != new.overall_status:
        field = f"{_STATUS}.overallStatus"
        return [_change("status", field, old.overall_status, new.overall_status, detail=detail)]
    if old.last_known_status != new.last_known_status:
        field = f"{_STATUS}.lastKnownStatus"
        return [_change("status", field, old.last_known_status, new.last_known_status)]
    return []


def _scalar(kind: str, field: str, old: JSON, new: JSON) -> list[Change]:
    return [] if old == new else [_change(kind, field, old, new)]


_Numbered = tuple[int, Criterion]  # a criterion and its place in the text


def _eligibility(old: Trial, new: Trial) -> list[Change]:
    if old.eligibility.criteria == new.eligibility.criteria:
        return []

    def ident(item: _Numbered) -> str:
        return f"{item[1].section}\n{item[1].text}"

    def likeness(a: _Numbered, b: _Numbered) -> float:
        was, now = a[1], b[1]
        if was.section != now.section:
            return 0.0
        if (was.label, was.parent) != (now.label, now.parent):
            return similarity(was.text, now.text)
        # In place: accepted, but ranked below every pair that is similar on its own.
        ratio = similarity(was.text, now.text, SIMILAR_IN_PLACE)
        return max(ratio, SIMILAR) if ratio else 0.0

    def placed(
        shown: _Numbered, before: str | None, after: str | None
    ) -> tuple[tuple[int, int], Change]:
        """The change, keyed to sort by section, then where the item stands in the text."""
        position, criterion = shown
        detail: dict[str, JSON] = {"section": criterion.section}
        if criterion.parent is not None:
            detail["parent"] = criterion.parent
        field = f"{_ELIGIBILITY}.eligibilityCriteria"
        rank = _SECTIONS.index(criterion.section) if criterion.section in _SECTIONS else 99
        return (rank, position), _change("eligibility", field, before, after, detail=detail)

    was = list(enumerate(parse_criteria(old.eligibility.criteria)))
    now = list(enumerate(parse_criteria(new.eligibility.criteria)))
    pairs, removed, added = match(was, now, ident, score=likeness)
    out = [placed(b, a[1].text, b[1].text) for a, b in pairs]
    out += [placed(a, a[1].text, None) for a in removed]
    out += [placed(b, None, b[1].text) for b in added]
    return [change for _, change in sorted(out, key=lambda p: p[0])]


def _age_sex(old: Trial, new: Trial) -> list[Change]:
    a, b = old.eligibility, new.eligibility
    pairs: tuple[tuple[str, JSON, JSON], ...] = (
        ("sex", a.sex, b.sex),
        ("minimumAge", a.minimum_age, b.minimum_age),
        ("maximumAge", a.maximum_age, b.maximum_age),
        ("healthyVolunteers", a.healthy_volunteers, b.healthy_volunteers),
    )
    return [
        change
        for name, was, now in pairs
        for change in _scalar("age_sex", f"{_ELIGIBILITY}.{name}", was, now)
    ]


def _site_ident(site: Site) -> str:
    return canonical_json([list(site.key), site.status, _contacts_json(site.contacts)])


# The registry's renames move a site's geocode with its city name ("Lichtenberg" → "Berlin",
# zip 10365, moved 6 km in NCT07221253; a dropped "… District" moves it to the city's centre).
# The same facility in the same country this close, and with no other zip, is the same site.
RENAMED_WITHIN_KM = 25.0


def _same_place(a: Site, b: Site) -> float:
    """How surely two sites left unpaired by their keys are one site (0.0: not at all).

    1.0 when the keys differ only where one side has no state or no zip: the registry fills in
    missing address parts ("Beijing" gained the state "Beijing Municipality" in NCT06892548).
    Then the registry's renames: the same named facility in the same country with the same
    zip (1.0), or without another zip and with coordinates within `RENAMED_WITHIN_KM` (the
    nearer, the surer). Two different non-empty zips still make another site.
    """
    (facility, city, state, zip_code, country), other = a.key, b.key
    if (facility, country) != (other[0], other[4]):
        return 0.0
    zips_agree = zip_code == other[3] or not zip_code or not other[3]
    if city == other[1] and zips_agree and (state == other[2] or not state or not other[2]):
        return 1.0
    if not facility or not zips_agree:
        return 0.0
    if zip_code and zip_code == other[3]:
        return 1.0
    if a.geo is None or b.geo is None:
        return 0.0
    km = distance_km(a.geo, b.geo)
    return 1.0 - (1.0 - SIMILAR) * km / RENAMED_WITHIN_KM if km <= RENAMED_WITHIN_KM else 0.0


def _renamed(was: Site, now: Site) -> tuple[dict[str, JSON], dict[str, JSON]] | None:
    """The city and state as they were and are, when the registry renamed either.

    A state filled in where there was none is not a rename (see `_same_place`).
    """
    (_, city, state, _, _), other = was.key, now.key
    if city == other[1] and (state == other[2] or not state or not other[2]):
        return None
    old: dict[str, JSON] = {"city": was.city, "state": was.state}
    new: dict[str, JSON] = {"city": now.city, "state": now.state}
    for part, before, after in (("city", city, other[1]), ("state", state, other[2])):
        if before == after:
            del old[part], new[part]
    return old, new


def _sites(old: Trial, new: Trial) -> list[Change]:
    if old.sites == new.sites:
        return []
    pairs, removed, added = match(
        old.sites, new.sites, _site_ident, key=lambda s: s.key, score=_same_place
    )
    out: list[tuple[tuple[str, str], Change]] = []
    for was, now in pairs:
        ref = SiteRef.of(now)
        if was.status != now.status:
            change = _change("site_status", f"{_LOCATIONS}.status", was.status, now.status, ref)
            out.append(((now.label(), _site_ident(now)), change))
        renamed = _renamed(was, now)
        if renamed is not None:
            change = _change("site_info", _LOCATIONS, *renamed, ref)
            out.append(((now.label(), _site_ident(now)), change))
        was_contacts, now_contacts = _contacts_json(was.contacts), _contacts_json(now.contacts)
        if was_contacts != now_contacts:
            field = f"{_LOCATIONS}.contacts"
            change = _change("site_contact", field, was_contacts, now_contacts, ref)
            out.append(((now.label(), _site_ident(now)), change))
    for site in removed:
        change = _change("site_removed", _LOCATIONS, site.status, None, SiteRef.of(site))
        out.append(((site.label(), _site_ident(site)), change))
    for site in added:
        change = _change("site_added", _LOCATIONS, None, site.status, SiteRef.of(site))
        out.append(((site.label(), _site_ident(site)), change))
    return [change for _, change in sorted(out, key=lambda p: p[0])]


def _enrollment(old: Trial, new: Trial) -> list[Change]:
    was = old.enrollment.to_json() if old.enrollment else None
    now = new.enrollment.to_json() if new.enrollment else None
    return _scalar("enrollment", f"{_DESIGN}.enrollmentInfo", was, now)


def _dates(old: Trial, new: Trial) -> list[Change]:
    def point(date: DatePoint | None) -> JSON:
        return date.to_json() if date else None

    pairs = (
        ("startDateStruct", old.start_date, new.start_date),
        ("primaryCompletionDateStruct", old.primary_completion_date, new.primary_completion_date),
        ("completionDateStruct", old.completion_date, new.completion_date),
    )
    return [
        change
        for name, was, now in pairs
        for change in _scalar("dates", f"{_STATUS}.{name}", point(was), point(now))
    ]


def _names(kind: str, field: str, old: tuple[str, ...], new: tuple[str, ...]) -> list[Change]:
    """Lists of names whose order carries no meaning (phases, conditions, collaborators)."""
    return [] if _same_bag(old, new) else [_change(kind, field, list(old), list(new))]


ItemT = TypeVar("ItemT", Intervention, ArmGroup, Outcome)


def _items(
    kind: str,
    field: str,
    old: Sequence[ItemT],
    new: Sequence[ItemT],
    name: Callable[[ItemT], str | None],
) -> list[Change]:
    """One change per added, removed or edited item; an item is known by its name."""

    def ident(item: ItemT) -> str:
        return canonical_json(item.to_json())

    def text(item: ItemT) -> str:
        return name(item) or ""

    def likeness(a: ItemT, b: ItemT) -> float:
        return similarity(text(a), text(b))

    def placed(shown: ItemT, before: JSON, after: JSON) -> tuple[tuple[str, str], Change]:
        return (text(shown), ident(shown)), _change(kind, field, before, after)

    pairs, removed, added = match(old, new, ident, key=text, score=likeness)
    out = [placed(b, a.to_json(), b.to_json()) for a, b in pairs]
    out += [placed(a, a.to_json(), None) for a in removed]
    out += [placed(b, None, b.to_json()) for b in added]
    return [change for _, change in sorted(out, key=lambda p: p[0])]


def _named_fields(old: Trial, new: Trial) -> list[Change]:
    ident = "protocolSection.identificationModule"
    sponsors = "protocolSection.sponsorCollaboratorsModule"
    arms = "protocolSection.armsInterventionsModule"
    outcomes = "protocolSection.outcomesModule"
    central = "protocolSection.contactsLocationsModule.centralContacts"
    old_contacts = _contacts_json(old.central_contacts)
    new_contacts = _contacts_json(new.central_contacts)
    return [
        *_scalar("why_stopped", f"{_STATUS}.whyStopped", old.why_stopped, new.why_stopped),
        *_scalar("results_posted", "hasResults", old.has_results, new.has_results),
        *_names("phase", f"{_DESIGN}.phases", old.phases, new.phases),
        *_scalar("title", f"{ident}.briefTitle", old.brief_title, new.brief_title),
        *_scalar("title", f"{ident}.officialTitle", old.official_title, new.official_title),
        *_names(
            "conditions",
            "protocolSection.conditionsModule.conditions",
            old.conditions,
            new.conditions,
        ),
        *_items(
            "interventions",
            f"{arms}.interventions",
            old.interventions,
            new.interventions,
            lambda i: i.name,
        ),
        *_items("arms", f"{arms}.armGroups", old.arm_groups, new.arm_groups, lambda a: a.label),
        *_items(
            "outcomes",
            f"{outcomes}.primaryOutcomes",
            old.primary_outcomes,
            new.primary_outcomes,
            lambda o: o.measure,
        ),
        *_items(
            "outcomes",
            f"{outcomes}.secondaryOutcomes",
            old.secondary_outcomes,
            new.secondary_outcomes,
            lambda o: o.measure,
        ),
        *_scalar("sponsor", f"{sponsors}.leadSponsor.name", old.lead_sponsor, new.lead_sponsor),
        *_names("sponsor", f"{sponsors}.collaborators", old.collaborators, new.collaborators),
        *_scalar("contacts", central, old_contacts, new_contacts),
    ]


# -- the generic remainder -----------------------------------------------------------------

# Once results are posted, the results section and its stamps are that one change, not twenty.
_RESULTS_PATHS = ("resultsSection.", f"{_STATUS}.resultsFirst")


def _list_delta(old: JSON, new: JSON) -> dict[str, JSON] | None:
    """For lists, which entries came and went (order ignored), so a reader need not compare."""
    if not (isinstance(old, list) and isinstance(new, list)):
        return None
    was = Counter(canonical_json(v) for v in old)
    now = Counter(canonical_json(v) for v in new)
    return {
        "added": [json.loads(v) for v in sorted((now - was).elements())],
        "removed": [json.loads(v) for v in sorted((was - now).elements())],
    }


def _other(old: Trial, new: Trial) -> list[Change]:
    if old.remainder == new.remainder:
        return []
    was, now = dict(old.remainder), dict(new.remainder)
    results_posted = old.has_results != new.has_results
    out = []
    for path in sorted(was.keys() | now.keys()):
        if was.get(path) == now.get(path):
            continue
        if results_posted and path.startswith(_RESULTS_PATHS):
            continue
        before = json.loads(was[path]) if path in was else None
        after = json.loads(now[path]) if path in now else None
        if (
            before is not None
            and after is not None
            and not DeepDiff(before, after, ignore_order=True)
        ):
            continue  # the same entries in another order
        out.append(_change("other", path, before, after, detail=_list_delta(before, after)))
    return out


def diff_trials(old: Trial, new: Trial) -> list[Change]:
    """Every change from `old` to `new`, most important kind first; [] for equal versions."""
    if old == new:
        return []
    changes = [
        *_status(old, new),
        *_eligibility(old, new),
        *_age_sex(old, new),
        *_sites(old, new),
        *_enrollment(old, new),
        *_dates(old, new),
        *_named_fields(old, new),
        *_other(old, new),
    ]
    return sorted(changes, key=lambda c: _RANK[c.kind])
