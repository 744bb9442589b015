"""A study record as the fields people watch: raw API v2 JSON → `Trial` (pure).

(Over 400 lines on purpose: each dataclass sits beside the parser that fills it, so a watched
field is added in one place.)

The registry omits optional fields rather than sending null, third-party copies add keys of
their own, and subset fetches (`fields=`) drop whole modules. So parsing never assumes a key is
there or has the documented type: anything missing or malformed reads as None / empty, and a
record this module cannot make sense of still gives a `Trial` rather than an exception.

Everything submitted that no named field covers is kept as the `remainder`, so the diff can
still report it (as an "other" change) without re-reading the raw record; the housekeeping that
`watcher.core.canonical.strip_noise` removes never reaches it.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, TypeAlias

from watcher.core.canonical import canonical_json, strip_noise

JSON: TypeAlias = bool | int | float | str | list["JSON"] | dict[str, "JSON"] | None

# Paths the named fields below read, so the remainder leaves them out. A value of None means
# "this whole key"; a nested mapping narrows it to some of the keys under it.
COVERED: Mapping[str, Any] = {
    "hasResults": None,
    "protocolSection": {
        "identificationModule": {"nctId": None, "briefTitle": None, "officialTitle": None},
        "statusModule": {
            "overallStatus": None,
            "whyStopped": None,
            "lastKnownStatus": None,
            "startDateStruct": None,
            "primaryCompletionDateStruct": None,
            "completionDateStruct": None,
        },
        "sponsorCollaboratorsModule": {
            "leadSponsor": {"name": None},
            "collaborators": None,
        },
        "conditionsModule": {"conditions": None},
        "designModule": {"phases": None, "enrollmentInfo": None},
        "armsInterventionsModule": {"armGroups": None, "interventions": None},
        "outcomesModule": {"primaryOutcomes": None, "secondaryOutcomes": None},
        "eligibilityModule": {
            "eligibilityCriteria": None,
            "sex": None,
            "minimumAge": None,
            "maximumAge": None,
            "healthyVolunteers": None,
            # Computed by the registry from the ages: an age change already says it.
            "stdAges": None,
        },
        "contactsLocationsModule": {"centralContacts": None, "locations": None},
    },
}


@dataclass(frozen=True, slots=True)
class Contact:
    """A person or desk to call; central and site contacts have the same shape."""

    name: str | None
    role: str | None
    phone: str | None
    phone_ext: str | None
    email: str | None

    def to_json(self) -> dict[str, JSON]:
        """The API's own spelling, leaving out what the record left out."""
        pairs = (
            ("name", self.name),
            ("role", self.role),
            ("phone", self.phone),
            ("phoneExt", self.phone_ext),
            ("email", self.email),
        )
        return {k: v for k, v in pairs if v is not None}


def _norm_key_part(text: str | None) -> str:
    """Spelling-insensitive form of one address part: letters and digits only, no accents.

    Registry edits re-case, re-space and re-punctuate the same facility ("( Site 0602)" →
    "(Site 0602)"), and its mis-decoded accents move between releases ("Crăteil" →
    "Cră Teil", "Hăpitaux" → 'Hă"Pitaux' in NCT06203210); none of that is a different site.
    """
    if not text:
        return ""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return "".join(ch for ch in decomposed if ch.isalnum() and not unicodedata.combining(ch))


def place_label(
    facility: str | None, city: str | None, state: str | None, country: str | None
) -> str:
    """Name a place "Facility, City, Country", with the state for the US, where cities repeat."""
    us = country == "United States"
    parts = (facility, city, state if us else None, country)
    return ", ".join(p for p in parts if p) or "(unnamed site)"


@dataclass(frozen=True, slots=True)
class Site:
    """One location. The registry gives sites no ID, so `key` stands in for one."""

    facility: str | None
    city: str | None
    state: str | None
    zip: str | None
    country: str | None
    status: str | None
    contacts: tuple[Contact, ...]
    geo: tuple[float, float] | None
    # Worked out once: the diff looks a site's key up several times, for hundreds of sites.
    _key: tuple[str, ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        parts = (self.facility, self.city, self.state, self.zip, self.country)
        object.__setattr__(self, "_key", tuple(_norm_key_part(p) for p in parts))

    @property
    def key(self) -> tuple[str, ...]:
        """Normalised facility, city, state, zip and country: equal keys are the same site."""
        return self._key

    def label(self) -> str:
        """How a coordinator names the site: "Facility, City, Country"."""
        return place_label(self.facility, self.city, self.state, self.country)


@dataclass(frozen=True, slots=True)
class Enrollment:
    """Planned (ESTIMATED) or final (ACTUAL) number of participants; the type matters as much."""

    count: int | None
    type: str | None

    def to_json(self) -> dict[str, JSON]:
        """Count and type together, as they are reported."""
        return {"count": self.count, "type": self.type}


@dataclass(frozen=True, slots=True)
class DatePoint:
    """A partial ISO date ("2026-03" or "2026-03-15") and whether it is ESTIMATED or ACTUAL."""

    date: str | None
    type: str | None

    def to_json(self) -> dict[str, JSON]:
        """Date and type together, as they are reported."""
        return {"date": self.date, "type": self.type}


@dataclass(frozen=True, slots=True)
class Intervention:
    """A drug, device, procedure… given in the trial."""

    type: str | None
    name: str | None
    description: str | None
    arm_group_labels: tuple[str, ...]
    other_names: tuple[str, ...]

    def to_json(self) -> dict[str, JSON]:
        """The API's own spelling."""
        return {
            "type": self.type,
            "name": self.name,
            "description": self.description,
            "armGroupLabels": list(self.arm_group_labels),
            "otherNames": list(self.other_names),
        }


@dataclass(frozen=True, slots=True)
class ArmGroup:
    """A group of participants treated the same way."""

    label: str | None
    type: str | None
    description: str | None
    intervention_names: tuple[str, ...]

    def to_json(self) -> dict[str, JSON]:
        """The API's own spelling."""
        return {
            "label": self.label,
            "type": self.type,
            "description": self.description,
            "interventionNames": list(self.intervention_names),
        }


@dataclass(frozen=True, slots=True)
class Outcome:
    """What the trial measures, and when."""

    measure: str | None
    description: str | None
    time_frame: str | None

    def to_json(self) -> dict[str, JSON]:
        """The API's own spelling."""
        return {
            "measure": self.measure,
            "description": self.description,
            "timeFrame": self.time_frame,
        }


@dataclass(frozen=True, slots=True)
class Eligibility:
    """Who may join: the criteria text as written (CommonMark) and the structured fields."""

    criteria: str | None
    sex: str | None
    minimum_age: str | None
    maximum_age: str | None
    healthy_volunteers: bool | None


@dataclass(frozen=True, slots=True)
class Trial:
    """The watched fields of one version of a study record."""

    nct_id: str | None
    brief_title: str | None
    official_title: str | None
    overall_status: str | None
    why_stopped: str | None
    last_known_status: str | None
    phases: tuple[str, ...]
    study_type: str | None
    enrollment: Enrollment | None
    start_date: DatePoint | None
    primary_completion_date: DatePoint | None
    completion_date: DatePoint | None
    conditions: tuple[str, ...]
    interventions: tuple[Intervention, ...]
    arm_groups: tuple[ArmGroup, ...]
    primary_outcomes: tuple[Outcome, ...]
    secondary_outcomes: tuple[Outcome, ...]
    lead_sponsor: str | None
    collaborators: tuple[str, ...]
    central_contacts: tuple[Contact, ...]
    sites: tuple[Site, ...]
    eligibility: Eligibility
    has_results: bool
    brief_summary: str | None
    last_update_posted: str | None  # informational only, never diffed
    # Submitted content no field above covers: (dotted path, canonical JSON), sorted by path.
    # Kept as JSON text so the Trial stays immutable and equal remainders compare as strings.
    remainder: tuple[tuple[str, str], ...] = field(default=(), repr=False)


def _dict(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _str(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _strs(value: Any) -> tuple[str, ...]:
    return tuple(v for v in _list(value) if isinstance(v, str))


def _contact(raw: Any) -> Contact:
    m = _dict(raw)
    return Contact(
        name=_str(m.get("name")),
        role=_str(m.get("role")),
        phone=_str(m.get("phone")),
        phone_ext=_str(m.get("phoneExt")),
        email=_str(m.get("email")),
    )


def _contacts(value: Any) -> tuple[Contact, ...]:
    return tuple(_contact(c) for c in _list(value) if isinstance(c, Mapping))


def _geo(raw: Any) -> tuple[float, float] | None:
    m = _dict(raw)
    lat, lon = m.get("lat"), m.get("lon")
    if isinstance(lat, int | float) and isinstance(lon, int | float):
        return (float(lat), float(lon))
    return None


def _site(raw: Mapping[str, Any]) -> Site:
    return Site(
        facility=_str(raw.get("facility")),
        city=_str(raw.get("city")),
        state=_str(raw.get("state")),
        zip=_str(raw.get("zip")),
        country=_str(raw.get("country")),
        status=_str(raw.get("status")),
        contacts=_contacts(raw.get("contacts")),
        geo=_geo(raw.get("geoPoint")),
    )


def _date(raw: Any) -> DatePoint | None:
    m = _dict(raw)
    date, kind = _str(m.get("date")), _str(m.get("type"))
    return DatePoint(date, kind) if date or kind else None


def _enrollment(raw: Any) -> Enrollment | None:
    m = _dict(raw)
    count = m.get("count")
    count = count if isinstance(count, int) and not isinstance(count, bool) else None
    kind = _str(m.get("type"))
    return Enrollment(count, kind) if count is not None or kind else None


def _intervention(raw: Mapping[str, Any]) -> Intervention:
    return Intervention(
        type=_str(raw.get("type")),
        name=_str(raw.get("name")),
        description=_str(raw.get("description")),
        arm_group_labels=_strs(raw.get("armGroupLabels")),
        other_names=_strs(raw.get("otherNames")),
    )


def _arm(raw: Mapping[str, Any]) -> ArmGroup:
    return ArmGroup(
        label=_str(raw.get("label")),
        type=_str(raw.get("type")),
        description=_str(raw.get("description")),
        intervention_names=_strs(raw.get("interventionNames")),
    )


def _outcomes(value: Any) -> tuple[Outcome, ...]:
    return tuple(
        Outcome(
            measure=_str(o.get("measure")),
            description=_str(o.get("description")),
            time_frame=_str(o.get("timeFrame")),
        )
        for o in _list(value)
        if isinstance(o, Mapping)
    )


def _uncovered(value: Any, covered: Any, path: str, out: list[tuple[str, str]]) -> None:
    """Collect what `covered` leaves of `value`, one entry per key below a module.

    Entries sit at "section.module.key" depth (or shallower where the value stops being an
    object), which is the grain the diff reports "other" changes at.
    """
    depth = path.count(".") + 1 if path else 0
    if isinstance(value, Mapping) and depth < 3:
        for key, sub in value.items():
            narrower = covered.get(key, {}) if isinstance(covered, Mapping) else {}
            if narrower is None:
                continue
            _uncovered(sub, narrower, f"{path}.{key}" if path else key, out)
        return
    if isinstance(value, Mapping) and isinstance(covered, Mapping) and covered:
        value = {k: v for k, v in value.items() if covered.get(k, {}) is not None}
        if not value:
            return
    out.append((path, canonical_json(value)))


def remainder_of(raw: Mapping[str, Any]) -> tuple[tuple[str, str], ...]:
    """The submitted content of `raw` that no named field covers, housekeeping removed."""
    out: list[tuple[str, str]] = []
    _uncovered(strip_noise(dict(raw)), COVERED, "", out)
    return tuple(sorted(out))


def parse_trial(raw: Mapping[str, Any]) -> Trial:
    """Read the watched fields of one API v2 study object; tolerant of anything missing."""
    protocol = _dict(raw.get("protocolSection"))
    ident = _dict(protocol.get("identificationModule"))
    status = _dict(protocol.get("statusModule"))
    sponsors = _dict(protocol.get("sponsorCollaboratorsModule"))
    design = _dict(protocol.get("designModule"))
    arms = _dict(protocol.get("armsInterventionsModule"))
    outcomes = _dict(protocol.get("outcomesModule"))
    eligibility = _dict(protocol.get("eligibilityModule"))
    places = _dict(protocol.get("contactsLocationsModule"))
    healthy = eligibility.get("healthyVolunteers")
    return Trial(
        nct_id=_str(ident.get("nctId")),
        brief_title=_str(ident.get("briefTitle")),
        official_title=_str(ident.get("officialTitle")),
        overall_status=_str(status.get("overallStatus")),
        why_stopped=_str(status.get("whyStopped")),
        last_known_status=_str(status.get("lastKnownStatus")),
        phases=_strs(design.get("phases")),
        study_type=_str(design.get("studyType")),
        enrollment=_enrollment(design.get("enrollmentInfo")),
        start_date=_date(status.get("startDateStruct")),
        primary_completion_date=_date(status.get("primaryCompletionDateStruct")),
        completion_date=_date(status.get("completionDateStruct")),
        conditions=_strs(_dict(protocol.get("conditionsModule")).get("conditions")),
        interventions=tuple(
            _intervention(i) for i in _list(arms.get("interventions")) if isinstance(i, Mapping)
        ),
        arm_groups=tuple(_arm(a) for a in _list(arms.get("armGroups")) if isinstance(a, Mapping)),
        primary_outcomes=_outcomes(outcomes.get("primaryOutcomes")),
        secondary_outcomes=_outcomes(outcomes.get("secondaryOutcomes")),
        lead_sponsor=_str(_dict(sponsors.get("leadSponsor")).get("name")),
        collaborators=tuple(
            name
            for c in _list(sponsors.get("collaborators"))
            if (name := _str(_dict(c).get("name"))) is not None
        ),
        central_contacts=_contacts(places.get("centralContacts")),
        sites=tuple(_site(s) for s in _list(places.get("locations")) if isinstance(s, Mapping)),
        eligibility=Eligibility(
            criteria=_str(eligibility.get("eligibilityCriteria")),
            sex=_str(eligibility.get("sex")),
            minimum_age=_str(eligibility.get("minimumAge")),
            maximum_age=_str(eligibility.get("maximumAge")),
            healthy_volunteers=healthy if isinstance(healthy, bool) else None,
        ),
        has_results=raw.get("hasResults") is True,
        brief_summary=_str(_dict(protocol.get("descriptionModule")).get("briefSummary")),
        last_update_posted=_str(_dict(status.get("lastUpdatePostDateStruct")).get("date")),
        remainder=remainder_of(raw),
    )
