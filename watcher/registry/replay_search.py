"""The replay registry's search: the `/studies` query parameters a saved search sends, answered
on the recorded records (used by `watcher.registry.replay`).

Only what trialwatch sends is understood, and anything else is refused with the 400 the real
registry would give a malformed query, so a client that starts sending more finds out here:

- `query.cond`, `query.term`, `query.spons`: plain words, every one of which must appear (as a
  whole word, any case) in the search area. The areas are smaller than the registry's
  (ConditionSearch, BasicSearch, SponsorSearch) and there is no stemming or synonym expansion
  (Essie's); operators, quotes and brackets are refused:
  - condition: conditions, keywords, titles, condition MeSH terms;
  - term: the condition area plus the brief summary and the interventions' names;
  - sponsor: the lead sponsor and the collaborators.
- `filter.overallStatus`: a comma or pipe list of statuses.
- `filter.geo=distance(lat,lon,50mi)`: some site's `geoPoint` within that great-circle distance.
- `filter.advanced`: clauses joined by ` AND `, each `AREA[Phase]PHASE2`,
  `AREA[Phase](PHASE2 OR PHASE3)`, or `AREA[StudyFirstPostDate|LastUpdatePostDate]RANGE[day,MAX]`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from watcher.core.distance import KM_PER_MILE, haversine_km
from watcher.core.search import STATUSES

SEARCH_PARAMS = (
    "query.cond",
    "query.term",
    "query.spons",
    "filter.overallStatus",
    "filter.geo",
    "filter.advanced",
)
_WORD = re.compile(r"[a-z0-9]+")
_OPERATOR = re.compile(r"[\"()\[\]]|\b(AND|OR|NOT|AREA|RANGE)\b")
_GEO = re.compile(r"distance\((-?\d+(?:\.\d+)?),(-?\d+(?:\.\d+)?),(\d+(?:\.\d+)?)(km|mi)\)")
_PHASE = re.compile(r"AREA\[Phase\](?:(\w+)|\((\w+(?: OR \w+)*)\))")
_RANGE = re.compile(
    r"AREA\[(StudyFirstPostDate|LastUpdatePostDate)\]RANGE\[(\d{4}-\d{2}-\d{2}),MAX\]"
)


class SearchRefused(ValueError):
    """A search parameter the replay (like the registry) cannot read; the message is the 400."""


def _words(texts: Iterable[Any]) -> frozenset[str]:
    return frozenset(w for t in texts if isinstance(t, str) for w in _WORD.findall(t.lower()))


def _listed(value: Any) -> list[Any]:
    """A list field as a list: some recorded records hold a lone string where a list belongs."""
    return value if isinstance(value, list) else [value] if value is not None else []


@dataclass(frozen=True, slots=True)
class Facets:
    """What a search reads of one record, taken out once."""

    condition: frozenset[str]
    term: frozenset[str]
    sponsor: frozenset[str]
    status: str | None
    phases: frozenset[str]
    points: tuple[tuple[float, float], ...]
    first_posted: str
    last_updated: str

    @classmethod
    def of(cls, record: dict[str, Any]) -> Facets:
        protocol = record.get("protocolSection") or {}
        ident = protocol.get("identificationModule") or {}
        status = protocol.get("statusModule") or {}
        conditions = protocol.get("conditionsModule") or {}
        sponsors = protocol.get("sponsorCollaboratorsModule") or {}
        meshes = ((record.get("derivedSection") or {}).get("conditionBrowseModule") or {}).get(
            "meshes"
        )
        condition_texts = [
            *_listed(conditions.get("conditions")),
            *_listed(conditions.get("keywords")),
            ident.get("briefTitle"),
            ident.get("officialTitle"),
            *(m.get("term") for m in _listed(meshes) if isinstance(m, dict)),
        ]
        interventions = (protocol.get("armsInterventionsModule") or {}).get("interventions")
        term_texts = [
            *condition_texts,
            (protocol.get("descriptionModule") or {}).get("briefSummary"),
            *(i.get("name") for i in _listed(interventions) if isinstance(i, dict)),
        ]
        lead = sponsors.get("leadSponsor") or {}
        sponsor_texts = [
            lead.get("name"),
            *(c.get("name") for c in _listed(sponsors.get("collaborators")) if isinstance(c, dict)),
        ]
        locations = (protocol.get("contactsLocationsModule") or {}).get("locations")
        points = []
        for site in _listed(locations):
            geo = site.get("geoPoint") if isinstance(site, dict) else None
            if isinstance(geo, dict) and all(
                isinstance(geo.get(k), int | float) for k in ("lat", "lon")
            ):
                points.append((float(geo["lat"]), float(geo["lon"])))
        return cls(
            condition=_words(condition_texts),
            term=_words(term_texts),
            sponsor=_words(sponsor_texts),
            status=status.get("overallStatus"),
            phases=frozenset(
                p
                for p in _listed((protocol.get("designModule") or {}).get("phases"))
                if isinstance(p, str)
            ),
            points=tuple(points),
            first_posted=str((status.get("studyFirstPostDateStruct") or {}).get("date") or ""),
            last_updated=str((status.get("lastUpdatePostDateStruct") or {}).get("date") or ""),
        )


@dataclass(frozen=True, slots=True)
class SearchFilter:
    """One `/studies` search, parsed; `admits` says whether a record answers it."""

    condition: frozenset[str] = frozenset()
    term: frozenset[str] = frozenset()
    sponsor: frozenset[str] = frozenset()
    statuses: frozenset[str] | None = None
    phases: frozenset[str] | None = None
    centre: tuple[float, float] | None = None
    within_km: float = 0.0
    first_posted_from: str | None = None
    updated_from: str | None = None

    @classmethod
    def parse(cls, params: dict[str, list[str]]) -> SearchFilter | None:
        """The search these parameters ask for; None when they ask for none."""
        if not any(name in params for name in SEARCH_PARAMS):
            return None
        found: dict[str, Any] = {
            "condition": _query(params, "query.cond"),
            "term": _query(params, "query.term"),
            "sponsor": _query(params, "query.spons"),
        }
        if "filter.overallStatus" in params:
            statuses = frozenset(
                s.strip() for v in params["filter.overallStatus"] for s in re.split(r"[,|]", v)
            )
            if not statuses <= frozenset(STATUSES):
                unknown = ", ".join(sorted(statuses - frozenset(STATUSES)))
                raise SearchRefused(f"filter.overallStatus: unknown status {unknown}")
            found["statuses"] = statuses
        if "filter.geo" in params:
            geo = _GEO.fullmatch(params["filter.geo"][0])
            if geo is None:
                raise SearchRefused(
                    "filter.geo: expected distance(latitude,longitude,distance) with km or mi"
                )
            found["centre"] = (float(geo[1]), float(geo[2]))
            found["within_km"] = float(geo[3]) * (KM_PER_MILE if geo[4] == "mi" else 1.0)
        for clause in " AND ".join(params.get("filter.advanced", [])).split(" AND "):
            if clause:
                found |= _advanced(clause)
        return cls(**found)

    def admits(self, facets: Facets) -> bool:
        """Does a record with these facets answer the search?"""
        return (
            self.condition <= facets.condition
            and self.term <= facets.term
            and self.sponsor <= facets.sponsor
            and (self.statuses is None or facets.status in self.statuses)
            and (self.phases is None or bool(self.phases & facets.phases))
            and (self.centre is None or self._near(facets.points))
            and (self.first_posted_from is None or facets.first_posted >= self.first_posted_from)
            and (self.updated_from is None or facets.last_updated >= self.updated_from)
        )

    def _near(self, points: Iterable[tuple[float, float]]) -> bool:
        assert self.centre is not None
        return any(haversine_km(self.centre, point) <= self.within_km for point in points)


def _query(params: dict[str, list[str]], name: str) -> frozenset[str]:
    text = " ".join(params.get(name, []))
    if _OPERATOR.search(text):
        raise SearchRefused(
            f"{name}: the replay registry reads plain words only (no operators, quotes or brackets)"
        )
    return frozenset(_WORD.findall(text.lower()))


def _advanced(clause: str) -> dict[str, Any]:
    phase = _PHASE.fullmatch(clause)
    if phase is not None:
        return {"phases": frozenset((phase[1] or phase[2]).split(" OR "))}
    since = _RANGE.fullmatch(clause)
    if since is not None:
        key = "first_posted_from" if since[1] == "StudyFirstPostDate" else "updated_from"
        return {key: since[2]}
    raise SearchRefused(f"filter.advanced: the replay registry cannot read {clause!r}")
