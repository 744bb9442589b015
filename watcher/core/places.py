"""Where a subscriber is, and how near a trial site is to it: by distance, else by name (pure).

A subscriber's place is resolved when they subscribe (`watcher.core.gazetteer`, from the
packaged GeoNames data) into a `Near`: its name, its point (latitude, longitude) and how far
they will travel (`--within`, `watcher.core.distance`). A site the registry gives a `geoPoint`
is near when its great-circle distance is within that radius; sites are listed by that
distance ("12 km away"). A country or a US state has no point (the whole of it is near), nor
has a place stored before distances were kept: those, and every site without a `geoPoint`,
are matched by name, the rule below.

By name: the place ("Beijing, China", "Cleveland, OH, USA", "Ohio, United States", "China",
"Seoul, Korea, Republic of") is split at commas; with two parts or more the last names the
country ("Korea, Republic of" and similar registry names are kept whole) and the parts before
it name a city or a state/region. Names compare without case, accents, spaces or punctuation,
with common country aliases (USA, UK, South Korea…), US state abbreviations (OH → Ohio), and a
trailing "Province", "Municipality", "State", "Region"… ignored ("Beijing" is "Beijing
Municipality"). A single part may be a city, a state or a country, whichever fits. A site is
then, from nearest: in the same city (and country), in the same state or region, in the same
country, or elsewhere; `Place.includes` keeps a site in the named city or region, or anywhere
in the country when only a country was given.

Both the subscription filter (`subscriptions`) and the summaries (`wording`) use this one
module, so "near" means the same thing in an email, a feed and `trialwatch summary`.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache
from typing import Protocol

from watcher.core.distance import DEFAULT_RADIUS, Radius, distance_words, haversine_km
from watcher.core.record import place_label
from watcher.errors import InputError


class Located(Protocol):
    """Anything with an address: a `Site` of a trial or the `SiteRef` of a change."""

    @property
    def city(self) -> str | None: ...
    @property
    def state(self) -> str | None: ...
    @property
    def country(self) -> str | None: ...
    @property
    def geo(self) -> tuple[float, float] | None: ...


SAME_CITY, SAME_REGION, SAME_COUNTRY, ELSEWHERE = range(4)
NEARNESS_WORDS = {SAME_CITY: "in your city", SAME_REGION: "in your area", SAME_COUNTRY: ""}

COUNTRY_ALIASES = {
    "us": "unitedstates",
    "usa": "unitedstates",
    "unitedstatesofamerica": "unitedstates",
    "america": "unitedstates",
    "uk": "unitedkingdom",
    "greatbritain": "unitedkingdom",
    "britain": "unitedkingdom",
    "england": "unitedkingdom",
    "scotland": "unitedkingdom",
    "wales": "unitedkingdom",
    "northernireland": "unitedkingdom",
    "korea": "korearepublicof",
    "southkorea": "korearepublicof",
    "republicofkorea": "korearepublicof",
    "russia": "russianfederation",
    "iran": "iranislamicrepublicof",
    "turkey": "turkiye",
    "turkeyturkiye": "turkiye",  # the registry writes "Turkey (Türkiye)"
    "czechrepublic": "czechia",
    "vietnamsocialistrepublicof": "vietnam",
    "holland": "netherlands",
    "thenetherlands": "netherlands",
    "prc": "china",
    "peoplesrepublicofchina": "china",
    "taiwanrepublicofchina": "taiwan",
}
# fmt: off
_US_STATES = {
    "al": "alabama", "ak": "alaska", "az": "arizona", "ar": "arkansas", "ca": "california",
    "co": "colorado", "ct": "connecticut", "de": "delaware", "fl": "florida", "ga": "georgia",
    "hi": "hawaii", "id": "idaho", "il": "illinois", "in": "indiana", "ia": "iowa",
    "ks": "kansas", "ky": "kentucky", "la": "louisiana", "me": "maine", "md": "maryland",
    "ma": "massachusetts", "mi": "michigan", "mn": "minnesota", "ms": "mississippi",
    "mo": "missouri", "mt": "montana", "ne": "nebraska", "nv": "nevada", "nh": "newhampshire",
    "nj": "newjersey", "nm": "newmexico", "ny": "newyork", "nc": "northcarolina",
    "nd": "northdakota", "oh": "ohio", "ok": "oklahoma", "or": "oregon", "pa": "pennsylvania",
    "ri": "rhodeisland", "sc": "southcarolina", "sd": "southdakota", "tn": "tennessee",
    "tx": "texas", "ut": "utah", "vt": "vermont", "va": "virginia", "wa": "washington",
    "wv": "westvirginia", "wi": "wisconsin", "wy": "wyoming", "dc": "districtofcolumbia",
    "pr": "puertorico",
}
# fmt: on
_REGION_SUFFIX = re.compile(
    r"\s+(?:province|municipality|state|region|prefecture|autonomous region|oblast|county)$",
    re.IGNORECASE,
)
_COUNTRY_TAIL = re.compile(r"^(?:the\s+)?(?:\w+\s+)*(?:republic|province|state)s?\s+of\b", re.I)


@lru_cache(maxsize=4096)
def normalised(text: str | None) -> str:
    """A place name with case, accents, spaces and punctuation taken out: how names compare.

    Remembered (bounded): ordering a trial's sites by nearness reads each site's names once
    per comparison, for every place the trial's subscribers are near."""
    if not text:
        return ""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return "".join(ch for ch in decomposed if ch.isalnum() and not unicodedata.combining(ch))


def _country(text: str | None) -> str:
    name = normalised(text)
    return COUNTRY_ALIASES.get(name, name)


def _region(text: str | None) -> str:
    return normalised(_REGION_SUFFIX.sub("", text.strip())) if text else ""


@dataclass(frozen=True, slots=True)
class Place:
    """Where a subscriber is, as they typed it and as the parts it is matched by."""

    text: str
    local: tuple[str, ...]  # city or state/region names, normalised, as typed (city first)
    country: str | None  # normalised country; None when the text was one part

    def nearness(self, site: Located) -> int:
        """SAME_CITY, SAME_REGION, SAME_COUNTRY or ELSEWHERE (see the module docstring)."""
        site_country = _country(site.country)
        if self.country is not None and site_country != self.country:
            return ELSEWHERE
        city, region = normalised(site.city), _region(site.state)
        regions = set(self.local) | {_US_STATES.get(part, part) for part in self.local}
        if city and city in self.local:
            return SAME_CITY
        if region and region in regions:
            return SAME_REGION
        if self.country is not None:
            return SAME_COUNTRY
        return SAME_COUNTRY if site_country and site_country in self.local else ELSEWHERE

    def includes(self, site: Located) -> bool:
        """Whether a change at this site is near enough to tell a patient about."""
        only_country = self.country is not None and not self.local
        one_part = self.country is None  # a lone name may be a country: its whole country
        widest = SAME_COUNTRY if only_country or one_part else SAME_REGION
        return self.nearness(site) <= widest


@dataclass(frozen=True, slots=True)
class Near:
    """Where a subscriber is, as resolved when they subscribed, and how far they will travel.

    `name` is the place as the gazetteer names it ("Cambridge, Massachusetts, United
    States"), or as typed for a subscription stored before places were resolved. `point` is
    None for a country, a US state and such old subscriptions: they are matched by name.
    """

    name: str
    point: tuple[float, float] | None = None
    within: Radius = DEFAULT_RADIUS

    def __str__(self) -> str:
        """ "Cambridge, Massachusetts, United States (within 10 km)", or the name alone."""
        return f"{self.name} (within {self.within})" if self.point else self.name

    @property
    def place(self) -> Place:
        """The name as `Place` reads it, for sites without a `geoPoint`."""
        place = parse_near(self.name)
        assert place is not None  # a Near always has a name
        return place

    def distance_km(self, site: Located) -> float | None:
        """How far the site is, when both it and this place have a point."""
        if self.point is None or site.geo is None:
            return None
        return haversine_km(self.point, site.geo)

    def includes(self, site: Located) -> bool:
        """Whether a change at this site is near enough to tell: within the radius, or, where
        a distance cannot be known, by name (`Place.includes`)."""
        km = self.distance_km(site)
        return self.place.includes(site) if km is None else km <= self.within.km

    def away(self, site: Located) -> str:
        """ "12 km away" (in the subscriber's unit), "in your city" when the points are
        under 1 km apart (the registry's and the gazetteer's points are both GeoNames' city
        centres), or "" when no distance can be known."""
        km = self.distance_km(site)
        if km is None:
            return ""
        return NEARNESS_WORDS[SAME_CITY] if km < 1 else distance_words(km, self.within.unit)


def place_parts(text: str) -> list[str]:
    """A typed place's comma-separated parts, a registry country name such as "Korea,
    Republic of" kept whole; parts with no letter or digit are dropped."""
    parts = [part.strip() for part in text.split(",") if normalised(part)]
    if len(parts) >= 2 and _COUNTRY_TAIL.match(parts[-1]):
        parts[-2:] = [f"{parts[-2]}, {parts[-1]}"]
    return parts


def parse_near(text: str | None) -> Place | None:
    """The place a person gave (None when they gave none); a text that names no place at all
    (empty, only commas) is an `InputError`, so a typo is refused when it is typed."""
    if text is None:
        return None
    parts = place_parts(text)
    if not parts:
        raise InputError(
            f"{text!r} names no place: give one such as 'Beijing, China', "
            "'Ohio, United States' or 'China'"
        )
    if len(parts) == 1:
        names = dict.fromkeys((_country(parts[0]), _region(parts[0])))  # "Hebei Province"
        return Place(text.strip(), tuple(names), None)
    return Place(text.strip(), tuple(_region(part) for part in parts[:-1]), _country(parts[-1]))


def place_words(site: Located) -> str:
    """Where a site is, for a sentence: "Beijing, China", "Cleveland, Ohio, United States"."""
    if not (site.city or site.state or site.country):
        return "an unnamed place"
    return place_label(None, site.city, site.state, site.country)
