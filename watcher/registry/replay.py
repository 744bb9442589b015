"""A local stand-in for ClinicalTrials.gov API v2 (served by `watcher.registry.replay_server`).

(Over 400 lines on purpose: routing, paging, projections and faults all answer one request, as
the registry does; the socket is in `replay_server`.)

`trialwatch demo`, the tests and the benchmark run the real registry client against it, so
it has to behave like the registry where the client can tell: the same paths, parameters,
page shapes (`{"studies": [...], "nextPageToken": ...}`), `fields=` projections, 301 for an
alias ID, text/plain 404/400 bodies. It refuses parameters it does not implement, so a client
that starts sending one finds out here instead of being silently humoured. A saved search's
parameters (`query.cond`, `filter.geo`, `filter.advanced`…) are read by `replay_search`.

It also serves the site's internal history API (`/api/int`, read by `registry/history.py`)
from recorded version chains (`record_history`): the index `?history=true` with each version's
number, date, status and `moduleLabels` derived from the modules that changed, and each version
as `{"studyVersion": n, "study": …}`.

Faults are named and armed on purpose (`ReplayRegistry.fail`), like httpx's test server's
failure routes, so every retry path of the client can be exercised for real.

Records are kept as serialised JSON bytes, each `fields=` projection cached the first time it
is asked for, so 10,000 synthetic trials cost one `json.dumps` each rather than one per request.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Literal
from urllib.parse import parse_qs, unquote

from watcher.core.canonical import stamp_of
from watcher.registry.replay_search import SEARCH_PARAMS, Facets, SearchFilter, SearchRefused

API_PREFIX = "/api/v2"
HISTORY_PREFIX = "/api/int"
API_VERSION = "2.0.5"
DEFAULT_PAGE_SIZE = 10
MAX_PAGE_SIZE = 1000
FAULTS = (
    "429",
    "500",
    "503",
    "slow",
    "truncated",
    "invalid_json",
    "drop",
    "endless_pages",  # /studies: every page, even past the end, has a new nextPageToken
    "same_page_token",  # /studies: every page has a nextPageToken back to the same page
    "too_deep",  # 200 with JSON nested deeper than a JSON reader goes
    "other_shape",  # 200 with JSON of no shape the endpoint answers
)
_PAGING_FAULTS = ("endless_pages", "same_page_token")
HISTORY_INDEX = "/int/studies/{nctId}"
HISTORY_VERSION = "/int/studies/{nctId}/history/{n}"
ENDPOINTS = ("/version", "/studies", "/studies/{nctId}", HISTORY_INDEX, HISTORY_VERSION)
# The site's name of each protocol module, as the history index lists what changed, in the
# API's module order. All but three are seen in real answers (the excerpt in
# tests/fixtures/ctgov/history-endpoint/, cthist's notes); "Sponsor/Collaborators", "References"
# and "IPD Sharing Statement" follow the site's section headings and are not confirmed.
MODULE_LABELS: dict[str, str] = {
    "identificationModule": "Study Identification",
    "statusModule": "Study Status",
    "sponsorCollaboratorsModule": "Sponsor/Collaborators",
    "oversightModule": "Oversight",
    "descriptionModule": "Study Description",
    "conditionsModule": "Conditions",
    "designModule": "Study Design",
    "armsInterventionsModule": "Arms and Interventions",
    "outcomesModule": "Outcome Measures",
    "eligibilityModule": "Eligibility",
    "contactsLocationsModule": "Contacts/Locations",
    "referencesModule": "References",
    "ipdSharingStatementModule": "IPD Sharing Statement",
}

# Piece names the replay understands, and where each sits in a study. Date pieces are the
# `date` inside their `…Struct`, as the real API answers (see the biomcp `fields=` captures).
PIECES: dict[str, tuple[str, ...]] = {
    "NCTId": ("protocolSection", "identificationModule", "nctId"),
    "BriefTitle": ("protocolSection", "identificationModule", "briefTitle"),
    "OfficialTitle": ("protocolSection", "identificationModule", "officialTitle"),
    "OverallStatus": ("protocolSection", "statusModule", "overallStatus"),
    "LastKnownStatus": ("protocolSection", "statusModule", "lastKnownStatus"),
    "WhyStopped": ("protocolSection", "statusModule", "whyStopped"),
    "StatusVerifiedDate": ("protocolSection", "statusModule", "statusVerifiedDate"),
    "LastUpdateSubmitDate": ("protocolSection", "statusModule", "lastUpdateSubmitDate"),
    "LastUpdatePostDate": ("protocolSection", "statusModule", "lastUpdatePostDateStruct", "date"),
    "StartDate": ("protocolSection", "statusModule", "startDateStruct", "date"),
    "CompletionDate": ("protocolSection", "statusModule", "completionDateStruct", "date"),
    "HasResults": ("hasResults",),
    "ProtocolSection": ("protocolSection",),
    "IdentificationModule": ("protocolSection", "identificationModule"),
    "StatusModule": ("protocolSection", "statusModule"),
    "EligibilityModule": ("protocolSection", "eligibilityModule"),
    "ContactsLocationsModule": ("protocolSection", "contactsLocationsModule"),
    "DerivedSection": ("derivedSection",),
}
# The light fields a poll asks for (sorted, as `_pieces` keys its cache).
LIGHT_PIECES: tuple[str, ...] = ("LastUpdatePostDate", "NCTId", "OverallStatus")
_NCT_PATH = re.compile(r"[Nn][Cc][Tt]0*([1-9]\d{0,7})")  # the pattern the OpenAPI spec gives
_LIST_SPLIT = re.compile(r"[,|]")
_PAGE_PARAMS = ("pageSize", "pageToken", "countTotal")  # may differ between pages of one query
_MAINTENANCE_PAGE = (
    b"<!DOCTYPE html><html><head><title>Maintenance</title></head>"
    b"<body><h1>ClinicalTrials.gov is temporarily unavailable</h1></body></html>"
)

Transport = Literal["answer", "truncated", "drop"]


@dataclass(frozen=True, slots=True)
class RequestLog:
    """One request the server saw; `status` is None when the connection was dropped unanswered.

    `bytes_sent` counts body bytes actually written (not headers).
    """

    method: str
    path: str
    query: dict[str, list[str]]
    status: int | None
    bytes_sent: int
    user_agent: str | None


@dataclass(frozen=True, slots=True)
class _Reply:
    """What to send back, and how the transport should misbehave while sending it."""

    status: int
    body: bytes
    content_type: str = "application/json"
    headers: tuple[tuple[str, str], ...] = ()
    delay_s: float = 0.0
    transport: Transport = "answer"


@dataclass(slots=True)
class _Fault:
    """An armed fault; `remaining` counts down, and at 0 it is disarmed (None: until cleared)."""

    kind: str
    remaining: int | None
    nct_id: str | None
    path: str | None
    retry_after: str
    delay: float

    def hits(self, endpoint: str, nct_ids: tuple[str, ...]) -> bool:
        if self.path is not None and self.path != endpoint:
            return False
        return self.nct_id is None or self.nct_id in nct_ids


class _Study:
    """One live record: its JSON bytes, and the projections served so far."""

    __slots__ = ("_facets", "aliases", "body", "nct_id", "projections")

    def __init__(self, nct_id: str, record: dict[str, Any]) -> None:
        self.nct_id = nct_id
        self.body = _dumps(record)
        ident = record["protocolSection"]["identificationModule"]
        aliases = ident.get("nctIdAliases", [])
        self.aliases = tuple(a for a in aliases if isinstance(a, str))
        # Every poll asks for the light fields: project them now, from the dict at hand, rather
        # than parsing the bytes back on the first poll.
        self.projections = {LIGHT_PIECES: _projection(record, LIGHT_PIECES)}
        self._facets: Facets | None = None

    @property
    def facets(self) -> Facets:
        """What a search reads of the record, taken out the first time a search asks."""
        if self._facets is None:
            self._facets = Facets.of(json.loads(self.body))
        return self._facets

    def projected(self, pieces: tuple[str, ...] | None) -> bytes:
        if pieces is None:
            return self.body
        cached = self.projections.get(pieces)
        if cached is None:
            cached = _projection(json.loads(self.body), pieces)
            self.projections[pieces] = cached
        return cached


class _History:
    """One trial's recorded versions: the index and each version's answer, as JSON bytes."""

    __slots__ = ("index", "nct_id", "versions")

    def __init__(self, chain: Sequence[dict[str, Any]]) -> None:
        self.nct_id = str(stamp_of(chain[0]).nct_id)
        changes = []
        previous: dict[str, Any] = {}
        for number, record in enumerate(chain):
            protocol = record.get("protocolSection", {})
            status = protocol.get("statusModule", {})
            day = status.get("lastUpdatePostDateStruct", {}).get("date")
            changes.append(
                {
                    "version": number,
                    "date": day or status.get("lastUpdateSubmitDate"),
                    "status": status.get("overallStatus"),
                    "moduleLabels": _changed_labels(previous, protocol) if number else [],
                }
            )
            previous = protocol
        self.index = _dumps({"history": {"changes": changes}})
        self.versions = tuple(
            _dumps({"studyVersion": n, "study": record}) for n, record in enumerate(chain)
        )


def _changed_labels(before: dict[str, Any], after: dict[str, Any]) -> list[str]:
    """The site's labels of the protocol modules that differ, in the API's module order."""
    return [label for key, label in MODULE_LABELS.items() if before.get(key) != after.get(key)]


class _BadRequestError(Exception):
    """A request the registry would refuse with 400; the message is the text/plain body."""


class ReplayRegistry:
    """The registry's state: live records, the data release stamp, and armed faults.

    Thread-safe: the server's handler threads and the test (or demo) driving it share it.
    """

    def __init__(
        self,
        records: Mapping[str, dict[str, Any]] | None = None,
        data_timestamp: str = "2026-03-15T09:00:00",
        *,
        max_page_size: int = MAX_PAGE_SIZE,
    ) -> None:
        self._lock = threading.Lock()
        self._studies: dict[str, _Study] = {}
        self._aliases: dict[str, str] = {}
        self._stale: dict[str, _Study] = {}
        self._histories: dict[str, _History] = {}
        self._faults: list[_Fault] = []
        self._timestamp = data_timestamp
        self.max_page_size = max_page_size  # the registry caps pageSize at 1000
        for key, record in (records or {}).items():
            if stamp_of(record).nct_id != key:
                raise ValueError(f"record under {key} is {stamp_of(record).nct_id}")
        self.publish(*(records or {}).values(), release=False)

    @property
    def data_timestamp(self) -> str:
        """The current `dataTimestamp` served by `/version`."""
        with self._lock:
            return self._timestamp

    def publish(self, *records: dict[str, Any], release: bool = True) -> None:
        """Make these the live versions (keyed by nctId); `release` starts a new data release."""
        studies = []
        for record in records:
            nct_id = stamp_of(record).nct_id
            if nct_id is None:
                raise ValueError("a published record needs protocolSection...nctId")
            studies.append(_Study(nct_id, record))
        with self._lock:
            for study in studies:
                self._drop(study.nct_id)
                self._studies[study.nct_id] = study
                self._aliases.update(dict.fromkeys(study.aliases, study.nct_id))
            if release:
                self._advance()

    def record_history(self, chain: Sequence[dict[str, Any]]) -> None:
        """Serve `chain` (every version of one trial, oldest first) as that trial's history.

        Versions are numbered from 0 in chain order. A published trial with no recorded chain
        has an empty history (`changes: []`), as some real records do; others get 404.
        """
        nct_ids = {stamp_of(record).nct_id for record in chain}
        if len(nct_ids) != 1 or None in nct_ids:
            raise ValueError("a history is a non-empty chain of versions of one trial (by nctId)")
        history = _History(chain)
        with self._lock:
            self._histories[history.nct_id] = history

    def stale_copy(self, record: dict[str, Any]) -> None:
        """Serve `record` as a lagging replica's copy: listed just before the live study in
        batch answers, as a registry behind a load balancer can (until `publish` replaces it)."""
        nct_id = stamp_of(record).nct_id
        if nct_id is None:
            raise ValueError("a stale copy needs protocolSection...nctId")
        with self._lock:
            self._stale[nct_id] = _Study(nct_id, record)

    def remove(self, nct_id: str, *, release: bool = True) -> None:
        """Withdraw a trial: later requests for it get 404 (and it leaves batch answers)."""
        with self._lock:
            if nct_id not in self._studies:
                raise ValueError(f"{nct_id} is not published")
            self._drop(nct_id)
            if release:
                self._advance()

    def release(self) -> str:
        """Start a new data release (one day later) and return its `dataTimestamp`."""
        with self._lock:
            return self._advance()

    def fail(
        self,
        fault: str,
        *,
        times: int | None = 1,
        nct_id: str | None = None,
        path: str | None = None,
        retry_after: str = "1",
        delay: float = 2.0,
    ) -> None:
        """Arm a fault for the next `times` matching requests (None: until `clear_faults`).

        `nct_id` limits it to requests concerning that trial (its single fetch, or a batch whose
        filter.ids holds it); `path` to one endpoint of `ENDPOINTS`. `retry_after` is the
        Retry-After header of "429"; `delay` the seconds "slow" waits before answering.
        """
        if fault not in FAULTS:
            raise ValueError(f"unknown fault {fault!r}; choose from {', '.join(FAULTS)}")
        if path is not None and path not in ENDPOINTS:
            raise ValueError(f"unknown path {path!r}; choose from {', '.join(ENDPOINTS)}")
        if times is not None and times < 1:
            raise ValueError("times must be at least 1, or None for 'until cleared'")
        if fault in _PAGING_FAULTS:
            path = "/studies"  # the only endpoint that pages
        with self._lock:
            self._faults.append(_Fault(fault, times, nct_id, path, retry_after, delay))

    def clear_faults(self) -> None:
        """Disarm every fault."""
        with self._lock:
            self._faults.clear()

    def reply(self, path: str, query: str) -> _Reply:
        """The answer to `GET path?query`, with any armed fault applied."""
        params = parse_qs(query, keep_blank_values=True)
        endpoint, nct_ids = _route(path, params)
        with self._lock:
            fault = next((f for f in self._faults if f.hits(endpoint, nct_ids)), None)
            if fault is not None and fault.remaining is not None:
                fault.remaining -= 1
                if fault.remaining == 0:
                    self._faults.remove(fault)
            paging = fault.kind if fault is not None and fault.kind in _PAGING_FAULTS else None
            try:
                answer = self._answer(endpoint, path, query, params, paging)
            except _BadRequestError as bad:
                answer = _Reply(400, str(bad).encode(), "text/plain; charset=utf-8")
        return answer if fault is None or paging is not None else _faulty(fault, answer)

    # --- answers (called with the lock held) ---------------------------------------------

    def _answer(
        self,
        endpoint: str,
        path: str,
        query: str,
        params: dict[str, list[str]],
        paging: str | None = None,
    ) -> _Reply:
        if endpoint == "/version":
            _allow(params)
            body = {"apiVersion": API_VERSION, "dataTimestamp": self._timestamp}
            return _Reply(200, _dumps(body))
        if endpoint == "/studies":
            _allow(params, "filter.ids", "fields", "format", *SEARCH_PARAMS, *_PAGE_PARAMS)
            return self._page(params, paging)
        if endpoint == "/studies/{nctId}":
            _allow(params, "fields", "format")
            return self._study(path, query, params)
        if endpoint in (HISTORY_INDEX, HISTORY_VERSION):
            return self._history(endpoint, path, params)
        return _Reply(404, f"no such endpoint: {path}".encode(), "text/plain; charset=utf-8")

    def _study(self, path: str, query: str, params: dict[str, list[str]]) -> _Reply:
        _one(params, "format", "json", allowed=("json",))
        raw = unquote(path.rsplit("/", 1)[1])
        nct_id = _canonical(raw)
        if nct_id is None:
            raise _BadRequestError(f"Invalid NCT number: {raw}")
        pieces = _pieces(params)
        study = self._studies.get(nct_id)
        if study is not None:
            return _Reply(200, study.projected(pieces))
        if nct_id in self._aliases:
            target = f"{API_PREFIX}/studies/{self._aliases[nct_id]}"
            location = f"{target}?{query}" if query else target
            return _Reply(301, b"", "text/plain", headers=(("Location", location),))
        return _Reply(404, f"Study not found: {nct_id}".encode(), "text/plain; charset=utf-8")

    def _history(self, endpoint: str, path: str, params: dict[str, list[str]]) -> _Reply:
        parts = path[len(HISTORY_PREFIX) :].split("/")  # "", "studies", id[, "history", n]
        raw = unquote(parts[2])
        nct_id = _canonical(raw)
        if nct_id is None:
            raise _BadRequestError(f"Invalid NCT number: {raw}")
        history = self._histories.get(nct_id)
        if endpoint == HISTORY_INDEX:
            _allow(params, "history")
            _one(params, "history", "false", allowed=("true",))
            if history is not None:
                return _Reply(200, history.index)
            if nct_id in self._studies:
                return _Reply(200, _dumps({"history": {"changes": []}}))
        else:
            _allow(params)
            number = parts[4]
            if history is not None and number.isdigit() and int(number) < len(history.versions):
                return _Reply(200, history.versions[int(number)])
        return _Reply(404, f"Study not found: {nct_id}".encode(), "text/plain; charset=utf-8")

    def _page(self, params: dict[str, list[str]], paging: str | None) -> _Reply:
        _one(params, "format", "json", allowed=("json",))
        pieces = _pieces(params)
        size = _page_size(_one(params, "pageSize", "0"), self.max_page_size)
        count_total = _one(params, "countTotal", "false", allowed=("true", "false")) == "true"
        query_key = _query_key(params)
        token = params.get("pageToken", [None])[0]
        offset = 0 if token is None else _token_offset(token, query_key)
        matches = self._matching(params)
        page = matches[offset : offset + size]
        parts = [b'{"studies":[', b",".join(s.projected(pieces) for s in page), b"]"]
        if count_total and token is None:
            parts.append(b',"totalCount":%d' % len(matches))
        if offset + size < len(matches) or paging is not None:
            after = offset if paging == "same_page_token" else offset + size
            parts.append(b',"nextPageToken":' + _dumps(_token(after, query_key)))
        parts.append(b"}")
        return _Reply(200, b"".join(parts))

    def _matching(self, params: dict[str, list[str]]) -> list[_Study]:
        """Studies answering filter.ids, in the order asked (aliases count; unknown IDs absent),
        or else every study answering the search, by NCT ID."""
        if "filter.ids" not in params:
            try:
                search = SearchFilter.parse(params)
            except SearchRefused as refused:
                raise _BadRequestError(str(refused)) from None
            studies = [self._studies[k] for k in sorted(self._studies)]
            return studies if search is None else [s for s in studies if search.admits(s.facets)]
        found: dict[str, _Study] = {}
        for raw in _items(params, "filter.ids"):
            nct_id = _canonical(raw)
            if nct_id is None:
                raise _BadRequestError(f"filter.ids: invalid NCT number: {raw}")
            nct_id = self._aliases.get(nct_id, nct_id)
            if nct_id in self._studies and nct_id not in found:
                stale = self._stale.get(nct_id)
                if stale is not None:
                    found[f"stale {nct_id}"] = stale
                found[nct_id] = self._studies[nct_id]
        return list(found.values())

    def _drop(self, nct_id: str) -> None:
        self._stale.pop(nct_id, None)
        old = self._studies.pop(nct_id, None)
        if old is not None:
            for alias in old.aliases:
                self._aliases.pop(alias, None)

    def _advance(self) -> str:
        moved = datetime.fromisoformat(self._timestamp) + timedelta(days=1)
        self._timestamp = moved.isoformat(timespec="seconds")
        return self._timestamp


def _route(path: str, params: dict[str, list[str]]) -> tuple[str, tuple[str, ...]]:
    """The endpoint a path names, and the trials the request concerns (for scoped faults)."""
    if path.startswith(HISTORY_PREFIX + "/studies/"):
        parts = path[len(HISTORY_PREFIX) :].split("/")
        nct_id = (_canonical(unquote(parts[2])) or unquote(parts[2]),)
        if len(parts) == 3 and parts[2]:
            return HISTORY_INDEX, nct_id
        if len(parts) == 5 and parts[2] and parts[3] == "history" and parts[4]:
            return HISTORY_VERSION, nct_id
        return path, ()
    if not path.startswith(API_PREFIX + "/"):
        return path, ()
    rest = path[len(API_PREFIX) :]
    if rest == "/version":
        return rest, ()
    if rest == "/studies":
        raw_ids = [i for v in params.get("filter.ids", []) for i in _LIST_SPLIT.split(v)]
        return rest, tuple(_canonical(i) or i for i in raw_ids)
    head, _, tail = rest.rpartition("/")
    if head == "/studies" and tail:
        raw = unquote(tail)
        return "/studies/{nctId}", (_canonical(raw) or raw,)
    return path, ()


def _faulty(fault: _Fault, answer: _Reply) -> _Reply:
    text = "text/plain; charset=utf-8"
    if fault.kind == "429":
        return _Reply(429, b"Too Many Requests", text, (("Retry-After", fault.retry_after),))
    if fault.kind == "500":
        return _Reply(500, b"Internal Server Error", text)
    if fault.kind == "503":
        return _Reply(503, b"Service Unavailable", text)
    if fault.kind == "invalid_json":
        return _Reply(200, _MAINTENANCE_PAGE, "text/html; charset=utf-8")
    if fault.kind == "other_shape":
        return _Reply(200, b'{"message":"an answer of another shape"}')
    if fault.kind == "too_deep":
        return _Reply(200, b"[" * 100_000 + b"]" * 100_000)
    if fault.kind == "slow":
        return _Reply(answer.status, answer.body, answer.content_type, answer.headers, fault.delay)
    transport: Transport = "truncated" if fault.kind == "truncated" else "drop"
    return _Reply(answer.status, answer.body, answer.content_type, answer.headers, 0, transport)


def _canonical(text: str) -> str | None:
    """The API accepts `nct123` for NCT00000123; None for anything that is not an NCT ID."""
    match = _NCT_PATH.fullmatch(text.strip())
    return f"NCT{int(match.group(1)):08d}" if match else None


def _allow(params: dict[str, list[str]], *names: str) -> None:
    unknown = sorted(set(params) - set(names))
    if unknown:
        known = ", ".join(names) or "none"
        raise _BadRequestError(f"unknown parameter(s): {', '.join(unknown)} (accepted: {known})")


def _one(
    params: dict[str, list[str]], name: str, default: str, allowed: tuple[str, ...] = ()
) -> str:
    value = params.get(name, [default])[0]
    if allowed and value.lower() not in allowed:
        raise _BadRequestError(f"{name}: {value!r} is not one of {', '.join(allowed)}")
    return value.lower() if allowed else value


def _items(params: dict[str, list[str]], name: str) -> list[str]:
    """A comma- or pipe-separated list parameter; an empty item is refused."""
    items = [i.strip() for v in params.get(name, []) for i in _LIST_SPLIT.split(v)]
    if any(not i for i in items):
        raise _BadRequestError(f"{name}: empty item in the list")
    return items


def _pieces(params: dict[str, list[str]]) -> tuple[str, ...] | None:
    if "fields" not in params:
        return None
    names = _items(params, "fields")
    unknown = [n for n in names if n not in PIECES]
    if unknown:
        raise _BadRequestError(f"fields: unknown field or piece name(s): {', '.join(unknown)}")
    return tuple(sorted(set(names)))  # order does not matter to the API; one cache entry


def _page_size(text: str, cap: int) -> int:
    try:
        size = int(text)
    except ValueError:
        raise _BadRequestError(f"pageSize: {text!r} is not a whole number") from None
    if size < 0:
        raise _BadRequestError(f"pageSize: {size} is negative")
    return min(size or DEFAULT_PAGE_SIZE, cap)


def _query_key(params: dict[str, list[str]]) -> str:
    """A digest of the parameters every page of one query must repeat."""
    fixed = sorted((k, v) for k, v in params.items() if k not in _PAGE_PARAMS)
    return hashlib.sha256(repr(fixed).encode()).hexdigest()[:16]


def _token(offset: int, query_key: str) -> str:
    return base64.urlsafe_b64encode(f"{offset}:{query_key}".encode()).decode().rstrip("=")


def _token_offset(token: str, query_key: str) -> int:
    try:
        decoded = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode()
        offset, key = decoded.split(":")
        if key == query_key:
            return int(offset)
    except ValueError:
        pass
    raise _BadRequestError("pageToken is not valid for these parameters")


def _projection(record: dict[str, Any], pieces: tuple[str, ...]) -> bytes:
    return _dumps(_project(record, [PIECES[p] for p in pieces]) or {})


def _project(value: Any, paths: list[tuple[str, ...]]) -> Any:
    """Keep only the parts of `value` on `paths`, in the record's own key order."""
    if any(not p for p in paths):
        return value
    if not isinstance(value, dict):
        return None
    kept = {}
    for key, child in value.items():
        below = [p[1:] for p in paths if p[0] == key]
        if below:
            projected = _project(child, below)
            if projected is not None:
                kept[key] = projected
    return kept or None


def _dumps(value: Any) -> bytes:
    text = json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate: JSON can still carry it, escaped
        return json.dumps(value, separators=(",", ":")).encode("ascii")


def with_nct_id(record: dict[str, Any], nct_id: str) -> dict[str, Any]:
    """A copy of a real record filed under another NCT ID, for synthetic registries.

    Only the dicts on the way to `nctId` are copied, so 10,000 clones share everything else.
    """
    protocol = record["protocolSection"]
    ident = {**protocol["identificationModule"], "nctId": nct_id}
    return {**record, "protocolSection": {**protocol, "identificationModule": ident}}


def load_records(folder: Path) -> dict[str, list[dict[str, Any]]]:
    """Every `NCT*.json` record in `folder`, grouped by NCT ID, versions in file-name order."""
    versions: dict[str, list[dict[str, Any]]] = {}
    for path in sorted(folder.glob("NCT*.json")):
        record = json.loads(path.read_text(encoding="utf-8"))
        nct_id = stamp_of(record).nct_id
        if nct_id is None:
            raise ValueError(f"{path} is not a study record (no nctId)")
        versions.setdefault(nct_id, []).append(record)
    return versions
