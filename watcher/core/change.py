"""The change vocabulary: what a change is, its kinds, how much it matters, and to whom (pure).

Everything that speaks about changes (the diff that finds them, the wording that says them,
the subscriptions that pick them, the store that keeps them, the feeds and emails that show
them) takes its words from here, so a kind is named, ordered and ranked in one place.

Severity policy (what a subscriber is told first):

- **major**: changes whether or where a patient can join: `status`, `why_stopped`,
  `eligibility`, `age_sex`, `site_added`, `site_removed`, `site_status`, `results_posted`;
- **minor**: the other named kinds: `enrollment`, `dates`, `phase`, `title`, `interventions`,
  `arms`, `outcomes`, `sponsor`, `contacts`, `site_contact`, `conditions`;
- **info**: `site_info`: the registry renamed a site's city or state (its bulk housekeeping:
  "Napoli" → "Naples"), the site itself unchanged; `other`: any other submitted field that
  changed (descriptions, references, design details, IPD sharing, identifiers, annotations…),
  one change per key below a module.

A `Change` is found by `watcher.core.diff`; once stored it comes back as a `StoredChange`
(with where and when it was found and its plain-English sentence), and one new version's
stored changes together are a `ChangeEvent`, which is what a feed entry is about.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from watcher.core.record import JSON, Site, place_label

# Every kind of change with its severity, most important first: the order the diff reports
# them in and every output lists them in.
_KINDS: tuple[tuple[str, str], ...] = (
    ("status", "major"),
    ("why_stopped", "major"),
    ("eligibility", "major"),
    ("age_sex", "major"),
    ("site_added", "major"),
    ("site_removed", "major"),
    ("site_status", "major"),
    ("site_contact", "minor"),
    ("enrollment", "minor"),
    ("dates", "minor"),
    ("results_posted", "major"),
    ("phase", "minor"),
    ("title", "minor"),
    ("conditions", "minor"),
    ("interventions", "minor"),
    ("arms", "minor"),
    ("outcomes", "minor"),
    ("sponsor", "minor"),
    ("contacts", "minor"),
    ("site_info", "info"),
    ("other", "info"),
)
KIND_ORDER: tuple[str, ...] = tuple(kind for kind, _ in _KINDS)
SEVERITY: Mapping[str, str] = dict(_KINDS)

AUDIENCES = ("patient", "coordinator")
DELIVERIES = ("immediate", "daily", "weekly")
SITE_KINDS = frozenset({"site_added", "site_removed", "site_status", "site_contact"})
# What a patient hears about unless they choose otherwise: what changes whether, where and how
# they could join, and who to call; that is every kind but these design details and `info`
# changes, which are for coordinators.
COORDINATOR_ONLY_KINDS = frozenset(
    {"site_info", "conditions", "arms", "outcomes", "sponsor", "other"}
)
PATIENT_KINDS = frozenset(KIND_ORDER) - COORDINATOR_ONLY_KINDS


@dataclass(frozen=True, slots=True)
class SiteRef:
    """Which site a change concerns, by the address parts its key is made of."""

    facility: str | None
    city: str | None
    state: str | None
    zip: str | None
    country: str | None
    # Where the registry puts it (its `geoPoint`: latitude, longitude), so a subscriber's
    # distance to a changed site is known without the record; None for changes stored before.
    geo: tuple[float, float] | None = None

    @classmethod
    def of(cls, site: Site) -> SiteRef:
        """The address of a parsed site."""
        return cls(site.facility, site.city, site.state, site.zip, site.country, site.geo)

    def label(self) -> str:
        """The site as `Site.label` names it: "Facility, City, Country"."""
        return place_label(self.facility, self.city, self.state, self.country)

    def to_dict(self) -> dict[str, JSON]:
        """Every part, null when the record has none, so consumers can rely on the keys."""
        return {
            "facility": self.facility,
            "city": self.city,
            "state": self.state,
            "zip": self.zip,
            "country": self.country,
            "geo": None if self.geo is None else {"lat": self.geo[0], "lon": self.geo[1]},
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> SiteRef:
        """Inverse of `to_dict`; a site stored before `geo` was kept has none."""
        geo = data.get("geo")
        return cls(
            data.get("facility"),
            data.get("city"),
            data.get("state"),
            data.get("zip"),
            data.get("country"),
            None if geo is None else (float(geo["lat"]), float(geo["lon"])),
        )


@dataclass(frozen=True, slots=True)
class Change:
    """One thing that changed. `old`/`new` are plain JSON values; None means absent.

    Frozen, but `old`, `new` and `detail` hold JSON lists and objects as loaded, so a change
    survives a round trip through the store unchanged (`from_dict(to_dict(c)) == c`).
    """

    kind: str
    field: str
    old: JSON
    new: JSON
    severity: str
    site: SiteRef | None = None
    detail: Mapping[str, JSON] | None = None

    def to_dict(self) -> dict[str, JSON]:
        """JSON-ready, with `site` as an object; `site` and `detail` only when present."""
        data: dict[str, JSON] = {
            "kind": self.kind,
            "field": self.field,
            "old": self.old,
            "new": self.new,
            "severity": self.severity,
        }
        if self.site is not None:
            data["site"] = self.site.to_dict()
        if self.detail is not None:
            data["detail"] = dict(self.detail)
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Change:
        """Inverse of `to_dict`."""
        site = data.get("site")
        detail = data.get("detail")
        return cls(
            kind=data["kind"],
            field=data["field"],
            old=data.get("old"),
            new=data.get("new"),
            severity=data["severity"],
            site=SiteRef.from_dict(site) if site is not None else None,
            detail=dict(detail) if detail is not None else None,
        )


@dataclass(frozen=True, slots=True)
class StoredChange:
    """A change as saved: the pure `Change` plus where and when it was found."""

    id: int
    nct_id: str
    from_version: int
    to_version: int
    detected_at: str
    change: Change
    sentence: str | None = None  # plain English, written when the change was found


@dataclass(frozen=True, slots=True)
class ChangeEvent:
    """One new version's changes: what a feed entry or a notification is about."""

    nct_id: str
    to_version: int
    detected_at: str
    content_hash: str
    brief_title: str | None
    changes: tuple[StoredChange, ...]
