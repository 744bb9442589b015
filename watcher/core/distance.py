"""How far a site is from a subscriber, and how far they will go (pure).

Distances are great-circle (haversine) distances between two (latitude, longitude) points in
degrees, on a sphere of the Earth's mean radius: within a fraction of a percent of the
ellipsoid over the tens or hundreds of kilometres a patient travels, which is finer than the
registry's site coordinates (a site's `geoPoint` is its city's centre, not the building).

A `Radius` keeps the unit the subscriber wrote (`--within 60mi`), so the words they read are
in their unit ("12 mi away") while every comparison is in kilometres.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

from watcher.errors import InputError

EARTH_RADIUS_KM = 6371.0088  # the IUGG mean radius
KM_PER_MILE = 1.609344
UNITS = ("km", "mi")
_WITHIN = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(km|mi)\s*$", re.IGNORECASE)
# A radius wider than half the Earth's circumference includes everything: surely a typo.
_LONGEST_KM = math.pi * EARTH_RADIUS_KM


@dataclass(frozen=True, slots=True)
class Radius:
    """How far a subscriber will travel: `amount` in their `unit` ("km" or "mi")."""

    amount: float
    unit: str = "km"

    @property
    def km(self) -> float:
        """The radius in kilometres, the unit every comparison uses."""
        return self.amount * KM_PER_MILE if self.unit == "mi" else self.amount

    def __str__(self) -> str:
        """As typed back to its writer: "100 km", "60 mi", "2.5 km"."""
        return f"{self.amount:g} {self.unit}"


DEFAULT_RADIUS = Radius(100.0, "km")


def parse_within(text: str | None) -> Radius:
    """`--within 100km`, `60mi` or `2.5 km` → a `Radius` (the default, 100 km, when None).

    Anything else (no unit, a unit other than km or mi, zero, a negative or an
    Earth-spanning number) is an `InputError` naming the option and what to write.
    """
    if text is None:
        return DEFAULT_RADIUS
    match = _WITHIN.match(text)
    if match is None:
        raise InputError(f"--within {text!r}: give a distance with its unit, such as 100km or 60mi")
    radius = Radius(float(match[1]), match[2].lower())
    if not 0 < radius.km <= _LONGEST_KM:
        raise InputError(
            f"--within {text!r}: give a distance above 0 and up to {_LONGEST_KM:,.0f} km"
        )
    return radius


def haversine_km(a: tuple[float, float], b: tuple[float, float]) -> float:
    """The great-circle distance between two (latitude, longitude) points, in kilometres."""
    lat1, lon1, lat2, lon2 = map(math.radians, (*a, *b))
    h = (
        math.sin((lat2 - lat1) / 2) ** 2
        + math.cos(lat1) * math.cos(lat2) * math.sin((lon2 - lon1) / 2) ** 2
    )
    return 2 * EARTH_RADIUS_KM * math.asin(math.sqrt(min(1.0, h)))


def distance_words(km: float, unit: str = "km") -> str:
    """A distance as a patient reads it, in their unit: "12 km away", "less than 1 mi away".

    Whole numbers: the coordinates are a city's centre, so a decimal would claim a precision
    the registry does not have.
    """
    amount = km / KM_PER_MILE if unit == "mi" else km
    if amount < 1:
        return f"less than 1 {unit} away"
    return f"{round(amount):,} {unit} away"
