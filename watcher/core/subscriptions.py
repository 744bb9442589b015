"""Who wants to hear about which change (pure).

A subscription joins one subscriber to one trial with their preferences: the audience
(patients get plain words, coordinators exact values), how often (immediately or in a daily or
weekly digest), which kinds of change, and optionally a place, resolved when they subscribed, so
that site changes farther away than they will travel are left out (what "near" means is
`watcher.core.places`' rule, the one the summaries use). Status and eligibility changes always
reach a patient, wherever they live: they decide whether anyone can join at all.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from watcher.core.change import KIND_ORDER, PATIENT_KINDS, Change
from watcher.core.places import Near
from watcher.errors import InputError


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
    near: Near | None = None


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
    if subscription.audience == "patient" and change.severity == "info":
        return False
    if change.kind not in wanted_kinds(subscription):
        return False
    # The place only filters site changes: status and eligibility come wherever one lives.
    if subscription.near is not None and change.site is not None:
        return subscription.near.includes(change.site)
    return True


def select(subscription: Subscription, changes: Iterable[Change]) -> list[Change]:
    """The changes of one version this subscriber hears about, in their original order."""
    return [c for c in changes if wants(subscription, c)]
