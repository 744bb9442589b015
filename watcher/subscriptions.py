"""Who wants to hear about which change (pure).

A subscription joins one subscriber to one trial with their preferences: the audience
(patients get plain words, coordinators exact values), how often (immediately or in a daily or
weekly digest), which kinds of change, and optionally a place so that site changes far away are
left out. Status and eligibility changes always reach a patient, wherever they live: they
decide whether anyone can join at all.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass

from watcher.diff import KIND_ORDER, Change, SiteRef
from watcher.errors import InputError

AUDIENCES = ("patient", "coordinator")
DELIVERIES = ("immediate", "daily", "weekly")
SITE_KINDS = frozenset({"site_added", "site_removed", "site_status", "site_contact"})
# What a patient hears about unless they choose otherwise: what changes whether, where and how
# they could join, and who to call. Design details (arms, outcome measures) and `info` changes
# are for coordinators.
PATIENT_KINDS = frozenset(
    {
        "status",
        "why_stopped",
        "eligibility",
        "age_sex",
        "site_added",
        "site_removed",
        "site_status",
        "site_contact",
        "contacts",
        "enrollment",
        "dates",
        "phase",
        "title",
        "interventions",
        "results_posted",
    }
)
# Whatever a patient is near, these always come.
ALWAYS_FOR_PATIENTS = frozenset({"status", "why_stopped", "eligibility", "age_sex"})


@dataclass(frozen=True, slots=True)
class Subscriber:
    """A person who gets notifications. The tokens are random and unguessable."""

    id: int
    email: str
    unsubscribe_token: str
    feed_token: str


@dataclass(frozen=True, slots=True)
class Subscription:
    """One subscriber's interest in one trial."""

    id: int
    subscriber_id: int
    nct_id: str
    audience: str = "patient"
    delivery: str = "immediate"
    kinds: frozenset[str] | None = None  # None: the audience's default
    near: str | None = None


def parse_kinds(text: str | None) -> frozenset[str] | None:
    """`--kinds status,eligibility` → the set, naming any unknown kind."""
    if text is None or not text.strip():
        return None
    kinds = {k.strip().lower() for k in text.split(",") if k.strip()}
    unknown = sorted(kinds - set(KIND_ORDER))
    if unknown:
        raise InputError(
            f"unknown change kind(s): {', '.join(unknown)}; choose from {', '.join(KIND_ORDER)}"
        )
    return frozenset(kinds)


def wanted_kinds(subscription: Subscription) -> frozenset[str]:
    """The kinds this subscription receives, defaults applied."""
    if subscription.kinds is not None:
        return subscription.kinds
    return PATIENT_KINDS if subscription.audience == "patient" else frozenset(KIND_ORDER)


def wants(subscription: Subscription, change: Change) -> bool:
    """Does this subscriber hear about this change?"""
    if subscription.audience == "patient":
        if change.severity == "info":
            return False
        if change.kind in ALWAYS_FOR_PATIENTS:
            return True
    if change.kind not in wanted_kinds(subscription):
        return False
    if subscription.near and change.kind in SITE_KINDS and change.site is not None:
        return is_near(change.site, subscription.near)
    return True


def select(subscription: Subscription, changes: Iterable[Change]) -> list[Change]:
    """The changes of one version this subscriber hears about, in their original order."""
    return [c for c in changes if wants(subscription, c)]


def _fold(text: str | None) -> str:
    """Case, accents and punctuation do not matter when comparing places."""
    if not text:
        return ""
    plain = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    return re.sub(r"[^a-z0-9]+", " ", plain.casefold()).strip()


def parse_near(text: str) -> tuple[str, ...]:
    """ "Beijing, China" → ("beijing", "china"); refuses an empty place."""
    parts = tuple(p for p in (_fold(part) for part in text.split(",")) if p)
    if not parts:
        raise InputError(f"--near {text!r}: give a place such as 'Beijing, China' or 'China'")
    return parts


def is_near(site: SiteRef, near: str) -> bool:
    """True when the site is in the place: "City, Country", "State, Country" or a country.

    No geocoding happens offline, so "near" means "in": the first part must be the site's city
    or state, the last part its country; a single part may be any of the three.
    """
    parts = parse_near(near)
    city, state, country = _fold(site.city), _fold(site.state), _fold(site.country)
    if len(parts) == 1:
        return parts[0] in {city, state, country}
    return parts[0] in {city, state} and parts[-1] == country
