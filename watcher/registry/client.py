"""The ClinicalTrials.gov API v2 client: the only module that speaks HTTP to the registry.

(About 400 lines on purpose: batching, paging, retries and splitting share one request path.)

Everything the network can do wrong is decided here, so the rest of trialwatch sees either a
study record or a `RegistryError` (errors.py) that names the trial and says what happened:

- Transient faults (timeouts, dropped connections, cut-off or non-JSON bodies, 429, 5xx) are
  retried with exponential backoff and full jitter, honouring `Retry-After`. All waiting goes
  through the injected `sleep`, and every request takes a token from the rate limiter.
- Batches (`filter.ids`) keep a poll cheap, but one bad trial must not cost the others their
  answer: a batch that keeps failing is split in halves, down to single `GET /studies/{id}`.
  Before splitting, one `/version` request checks that the registry is up at all; when it is
  not, or it is rate-limiting us, the rest of the call fails fast instead of multiplying the
  requests against a registry that is down.
- An ID missing from a batch answer is fetched on its own, so a removed trial gets a definite
  404 and nothing is silently dropped; a study nobody asked for is ignored. A trial listed
  twice in a page (a lagging replica's copy beside the live one) is answered with the copy
  updated last.
- Paging is bounded: a batch stops paging once every ID is answered, and every page must
  answer one more, so a `nextPageToken` that repeats or never ends fails the trials not yet
  answered (not split: every half would page forever too) after at most one page per ID.
- A search (`search`) pages under the same bound: each page must bring a trial not seen.
- An alias ID (301 to another trial) is followed; the record comes back under the ID it now
  has, and the caller moves the watch.

Library exceptions are translated in one place, `_transport_failure`.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from types import TracebackType
from typing import Any
from urllib.parse import quote

import httpx

from watcher.core.canonical import stamp_of
from watcher.core.ids import MAX_IDS_PER_REQUEST
from watcher.errors import (
    RegistryError,
    RegistryResponseInvalid,
    RegistryUnavailable,
    TrialNotFound,
)
from watcher.registry.ratelimit import TokenBucket

# The light fields a poll compares: OverallStatus is here because real records flip
# to UNKNOWN without a new update date.
LIGHT_FIELDS = "NCTId,LastUpdatePostDate,OverallStatus"
_MAX_REDIRECTS = 5
_RETRY_NEXT_CYCLE = "will retry next cycle"


@dataclass(frozen=True, slots=True)
class Fetched:
    """One trial's outcome in a batch: exactly one of `record` and `error` is set."""

    nct_id: str
    record: dict[str, Any] | None
    error: RegistryError | None


@dataclass(frozen=True, slots=True)
class _Failure:
    """Why one attempt failed, when another attempt might succeed."""

    detail: str
    cause: str = ""  # the library's own words, for whoever debugs the network
    status_code: int | None = None
    retry_after_s: float | None = None
    invalid_body: bool = False  # the final error is RegistryResponseInvalid, not Unavailable
    registry_wide: bool = False  # 429: the registry is limiting us, not this request


@dataclass(frozen=True, slots=True)
class _Answer:
    """A parsed JSON answer, and whether the registry redirected us to get it."""

    body: Any
    redirected: bool


class _RunawayPagesError(RegistryUnavailable):
    """A batch whose pages do not end: the trials it has not answered fail; it is never split."""


class RegistryClient:
    """A synchronous client over one keep-alive HTTP/1.1 connection."""

    def __init__(
        self,
        base_url: str,
        *,
        user_agent: str,
        timeout_s: float,
        requests_per_minute: int,
        max_retries: int = 4,
        ids_per_request: int = MAX_IDS_PER_REQUEST,
        records_per_request: int = 20,
        backoff_base_s: float = 1.0,
        backoff_cap_s: float = 60.0,
        max_retry_after_s: float = 300.0,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
        jitter: Callable[[], float] = random.random,
        bucket: TokenBucket | None = None,
    ) -> None:
        if not 1 <= ids_per_request <= MAX_IDS_PER_REQUEST or records_per_request < 1:
            raise ValueError(
                f"ids_per_request must be from 1 to {MAX_IDS_PER_REQUEST} and "
                "records_per_request at least 1"
            )
        if max_retries < 0:
            raise ValueError(f"max_retries must be 0 or more, not {max_retries}")
        self._http = httpx.Client(
            base_url=base_url,
            headers={"User-Agent": user_agent, "Accept": "application/json"},
            timeout=timeout_s,
            follow_redirects=False,  # followed by hand, so each hop is counted and rate-limited
            limits=httpx.Limits(max_connections=1, max_keepalive_connections=1),
        )
        # A bucket passed in is shared with another client of the same registry (the history
        # client), so both together stay within the one politeness limit.
        self._bucket = (
            bucket if bucket is not None else TokenBucket(requests_per_minute, 1, clock, sleep)
        )
        self._timeout_s = timeout_s
        self._max_retries = max_retries
        self._ids_per_request = ids_per_request
        self._records_per_request = records_per_request
        self._backoff_base_s = backoff_base_s
        self._backoff_cap_s = backoff_cap_s
        self._max_retry_after_s = max_retry_after_s
        self._sleep = sleep
        self._jitter = jitter
        self._requests = 0
        # Set when the registry is down or rate-limiting us; later requests in the same call
        # fail at once with this error instead of being sent.
        self._outage: RegistryUnavailable | None = None

    @property
    def bucket(self) -> TokenBucket:
        """The rate limiter every request of this client waits on, to share with a sibling."""
        return self._bucket

    @property
    def request_count(self) -> int:
        """Requests actually sent, retries, redirects and probes included."""
        return self._requests

    def data_timestamp(self) -> str:
        """When the registry last released data (`GET /version` → `dataTimestamp`)."""
        self._outage = None
        body = self._send("/version", {}, None).body
        stamp = body.get("dataTimestamp") if isinstance(body, dict) else None
        if not isinstance(stamp, str):
            raise RegistryResponseInvalid("the registry's /version answer has no dataTimestamp")
        return stamp

    def fetch_study(self, nct_id: str) -> dict[str, Any]:
        """The full current record of one trial (`GET /studies/{nctId}`)."""
        self._outage = None
        return self._single(nct_id, None)

    def get_json(self, path: str, params: dict[str, str], nct_id: str) -> Any:
        """The JSON answer to `GET path` about one trial, with this client's rate limit,
        retries and error translation: for endpoints beside API v2 (`registry/history.py`)."""
        self._outage = None
        return self._send(path, params, nct_id).body

    def fetch_stamps(self, nct_ids: Sequence[str]) -> Iterator[Fetched]:
        """The light fields of each trial, in batches, yielded as each page arrives."""
        return self._fetch_all(nct_ids, LIGHT_FIELDS, self._ids_per_request)

    def fetch_studies(self, nct_ids: Sequence[str]) -> Iterator[Fetched]:
        """Full records of each trial, in batches, yielded as each page arrives."""
        return self._fetch_all(nct_ids, None, self._records_per_request)

    def close(self) -> None:
        """Close the connection."""
        self._http.close()

    def __enter__(self) -> RegistryClient:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # --- batches -------------------------------------------------------------------------

    def _fetch_all(
        self, nct_ids: Sequence[str], fields: str | None, per_request: int
    ) -> Iterator[Fetched]:
        self._outage = None
        unique = list(dict.fromkeys(nct_ids))
        for start in range(0, len(unique), per_request):
            yield from self._group(unique[start : start + per_request], fields)

    def _group(self, nct_ids: list[str], fields: str | None) -> Iterator[Fetched]:
        if len(nct_ids) <= 1:
            yield from (self._fetched_single(nct_id, fields) for nct_id in nct_ids)
            return
        pending = dict.fromkeys(nct_ids)
        try:
            for studies in self._pages(nct_ids, fields, pending):
                for nct_id, study in _latest_of_each(studies).items():
                    if nct_id in pending:
                        del pending[nct_id]
                        yield Fetched(nct_id, study, None)
        except _RunawayPagesError as error:
            yield from (Fetched(n, None, _for_trial(error, n)) for n in pending)
            return
        except RegistryError as error:
            yield from self._split(list(pending), fields, error)
            return
        for nct_id in pending:  # absent from the answer: removed, renamed, or a typo
            yield self._fetched_single(nct_id, fields)

    def _pages(
        self, nct_ids: list[str], fields: str | None, pending: dict[str, None]
    ) -> Iterator[list[Any]]:
        """Every page of one batch while it helps: `pending` (the IDs not answered yet, shrunk by
        the caller before it asks for the next page) must shrink with every page, so a batch
        costs at most one page per ID, and a page token that repeats or never ends is cut off
        after the first page that answered nothing new."""
        params = {"filter.ids": ",".join(nct_ids), "pageSize": str(len(nct_ids))}
        if fields is not None:
            params["fields"] = fields
        token: str | None = None
        pages = 0
        while True:
            page = {**params, "pageToken": token} if token is not None else params
            studies, token = _page_of(self._send("/studies", page, None).body)
            before = len(pending)
            pages += 1
            yield studies
            if token is None or not pending:  # the end, or all answered: nothing more to add
                return
            if len(pending) == before:
                raise _RunawayPagesError(
                    f"the registry kept paging ({pages} pages for {len(nct_ids)} IDs, the last "
                    f"answering none of them); {_RETRY_NEXT_CYCLE}",
                    None,
                )

    # --- searches ------------------------------------------------------------------------

    def search(self, params: dict[str, str]) -> Iterator[list[dict[str, Any]]]:
        """The studies answering a search (`watcher.core.search.query_params`), a page at a
        time as each arrives; of two copies of a trial in a page, the one updated last.

        Bounded like a batch: every page after the first must bring a trial not seen before, so
        a `nextPageToken` that repeats or never ends fails the search (a `RegistryUnavailable`)
        after the first page that added nothing, instead of paging forever.
        """
        self._outage = None
        seen: set[str] = set()
        token: str | None = None
        pages = 0
        while True:
            page = {**params, "pageToken": token} if token is not None else params
            studies, token = _page_of(self._send("/studies", page, None).body)
            pages += 1
            latest = {n: s for n, s in _latest_of_each(studies).items() if n not in seen}
            yield list(latest.values())
            if token is None:
                return
            if not latest:
                raise _RunawayPagesError(
                    f"the registry kept paging a search ({pages} pages, the last adding no "
                    f"trial); {_RETRY_NEXT_CYCLE}",
                    None,
                )
            seen.update(latest)

    def _split(
        self, nct_ids: list[str], fields: str | None, error: RegistryError
    ) -> Iterator[Fetched]:
        """Retry a failed batch in halves, unless the registry as a whole is failing."""
        if (
            self._outage is None
            and isinstance(error, RegistryUnavailable)
            and not self._registry_answers()
        ):
            self._outage = error
        if self._outage is not None:
            outage = self._outage
            yield from (Fetched(n, None, _for_trial(outage, n)) for n in nct_ids)
            return
        half = (len(nct_ids) + 1) // 2
        yield from self._group(nct_ids[:half], fields)
        yield from self._group(nct_ids[half:], fields)

    def _registry_answers(self) -> bool:
        """One unretried `/version` request: is the registry up, so the fault is the batch's?"""
        outcome = self._attempt(self._http.build_request("GET", "/version"))
        return isinstance(outcome, httpx.Response) and outcome.status_code == httpx.codes.OK

    # --- single studies ------------------------------------------------------------------

    def _fetched_single(self, nct_id: str, fields: str | None) -> Fetched:
        try:
            return Fetched(nct_id, self._single(nct_id, fields), None)
        except RegistryError as error:
            return Fetched(nct_id, None, error)

    def _single(self, nct_id: str, fields: str | None) -> dict[str, Any]:
        params = {"fields": fields} if fields is not None else {}
        answer = self._send(f"/studies/{quote(nct_id, safe='')}", params, nct_id)
        found = nct_id_of(answer.body)
        if found is None:
            raise RegistryResponseInvalid(
                "the registry answered 200 but the body is not a study record "
                "(no protocolSection.identificationModule.nctId)",
                nct_id,
            )
        if found != nct_id and not answer.redirected:  # a redirect is an alias: followed
            raise RegistryResponseInvalid(f"the registry answered with {found} instead", nct_id)
        record: dict[str, Any] = answer.body
        return record

    # --- one request, with retries -------------------------------------------------------

    def _send(self, path: str, params: dict[str, str], nct_id: str | None) -> _Answer:
        if self._outage is not None:
            raise _for_trial(self._outage, nct_id)
        request = self._http.build_request("GET", path, params=params)
        failures: list[_Failure] = []
        redirects = 0
        while True:
            outcome = self._attempt(request)
            if isinstance(outcome, httpx.Response):
                if (
                    outcome.is_redirect
                    and outcome.next_request is not None
                    and redirects < _MAX_REDIRECTS
                ):
                    request = outcome.next_request
                    redirects += 1
                    continue
                judged = _judge(outcome, nct_id)
                if isinstance(judged, _Answer):
                    return _Answer(judged.body, redirected=redirects > 0)
                outcome = judged
            failures.append(outcome)
            wait = outcome.retry_after_s
            if wait is not None and wait > self._max_retry_after_s:
                raise self._told_to_wait(outcome, wait, nct_id)
            if len(failures) > self._max_retries:
                raise self._give_up(failures, nct_id)
            if wait is None:
                cap = min(self._backoff_cap_s, self._backoff_base_s * 2 ** (len(failures) - 1))
                wait = self._jitter() * cap  # full jitter: clients that failed together spread
            self._sleep(wait)

    def _attempt(self, request: httpx.Request) -> httpx.Response | _Failure:
        self._bucket.acquire()
        self._requests += 1
        try:
            return self._http.send(request)
        except httpx.TransportError as exc:
            return _transport_failure(exc, self._timeout_s)

    def _told_to_wait(self, failure: _Failure, wait: float, nct_id: str | None) -> RegistryError:
        message = (
            f"{failure.detail} and asked us to wait {wait:g} s (Retry-After), longer than the "
            f"{self._max_retry_after_s:g} s allowed; {_RETRY_NEXT_CYCLE}"
        )
        self._outage = RegistryUnavailable(message, None, failure.status_code)
        return RegistryUnavailable(message, nct_id, failure.status_code)

    def _give_up(self, failures: list[_Failure], nct_id: str | None) -> RegistryError:
        last = failures[-1]
        count = len(failures)
        if all(f.detail == last.detail for f in failures):
            what = f"{last.detail} {'once' if count == 1 else f'{count} times'}"
        else:
            what = f"{count} attempts failed, the last because {last.detail}"
        cause = f" ({last.cause})" if last.cause else ""
        message = f"{what}{cause}; {_RETRY_NEXT_CYCLE}"
        if last.invalid_body:
            return RegistryResponseInvalid(message, nct_id)
        if last.registry_wide:
            self._outage = RegistryUnavailable(message, None, last.status_code)
        return RegistryUnavailable(message, nct_id, last.status_code)


def _judge(response: httpx.Response, nct_id: str | None) -> _Answer | _Failure:
    """Turn an HTTP answer into a parsed body, a retryable failure, or a final error."""
    code = response.status_code
    said = f"the registry answered {code} {httpx.codes.get_reason_phrase(code)}".rstrip()
    if code == httpx.codes.OK:
        try:
            return _Answer(response.json(), redirected=False)
        except (ValueError, RecursionError):  # RecursionError: JSON nested beyond reading
            kind = response.headers.get("content-type", "no content type").split(";")[0]
            # Proxies and maintenance pages answer 200 with HTML: worth another try.
            return _Failure(f"{said} with a body that is not JSON ({kind})", invalid_body=True)
    if code == httpx.codes.NOT_FOUND and nct_id is not None:
        raise TrialNotFound(nct_id)
    if code == httpx.codes.BAD_REQUEST:
        raise RegistryResponseInvalid(
            f"{said}: it refused the request ({response.text.strip()[:200]})", nct_id
        )
    if code == httpx.codes.TOO_MANY_REQUESTS or code >= httpx.codes.INTERNAL_SERVER_ERROR:
        return _Failure(
            said,
            status_code=code,
            retry_after_s=_retry_after_s(response),
            registry_wide=code == httpx.codes.TOO_MANY_REQUESTS,
        )
    if code == httpx.codes.FORBIDDEN:
        hint = "the registry may reject a User-Agent that does not match the client; check it"
        raise RegistryUnavailable(f"{said}; {hint}", nct_id, code)
    if code == httpx.codes.NOT_FOUND:
        hint = f"{response.request.url.path} does not exist; check the registry base URL"
        raise RegistryUnavailable(f"{said}: {hint}", nct_id, code)
    raise RegistryUnavailable(f"{said}, which trialwatch does not expect", nct_id, code)


def _transport_failure(exc: httpx.TransportError, timeout_s: float) -> _Failure:
    """The one place httpx's exceptions become words (like httpx's map_httpcore_exceptions)."""
    if isinstance(exc, httpx.TimeoutException):
        return _Failure(f"the registry did not answer within {timeout_s:g} s")
    if isinstance(exc, httpx.ConnectError):
        return _Failure("could not connect to the registry", cause=str(exc))
    if isinstance(exc, httpx.RemoteProtocolError | httpx.ReadError | httpx.WriteError):
        return _Failure("the connection closed before a complete answer arrived", cause=str(exc))
    return _Failure("the request to the registry failed", cause=f"{type(exc).__name__}: {exc}")


def _retry_after_s(response: httpx.Response) -> float | None:
    """Seconds the registry asked us to wait: `Retry-After` as seconds or as an HTTP date."""
    value = response.headers.get("retry-after", "").strip()
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        until = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    # The answer's own Date header is the registry's "now": immune to our clock being off.
    date = response.headers.get("date")
    try:
        now = parsedate_to_datetime(date) if date else datetime.now(UTC)
    except (TypeError, ValueError):
        now = datetime.now(UTC)
    return max(0.0, (_aware(until) - _aware(now)).total_seconds())


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def _page_of(body: Any) -> tuple[list[Any], str | None]:
    """A `/studies` answer's studies and next page token, or `RegistryResponseInvalid`."""
    studies = body.get("studies") if isinstance(body, dict) else None
    token = body.get("nextPageToken") if isinstance(body, dict) else None
    if not isinstance(studies, list) or not (token is None or isinstance(token, str)):
        raise RegistryResponseInvalid("the registry's /studies answer is not a page of studies")
    return studies, token


def nct_id_of(study: Any) -> str | None:
    """The study's `protocolSection.identificationModule.nctId`, or None when it has none."""
    protocol = study.get("protocolSection") if isinstance(study, dict) else None
    ident = protocol.get("identificationModule") if isinstance(protocol, dict) else None
    nct_id = ident.get("nctId") if isinstance(ident, dict) else None
    return nct_id if isinstance(nct_id, str) else None


def _latest_of_each(studies: list[Any]) -> dict[str, Any]:
    """The studies of one page by NCT ID; of two copies, the one updated last (the first on a tie).

    ISO dates compare as text; a copy without a date loses to one with a date."""
    latest: dict[str, Any] = {}
    for study in studies:
        nct_id = nct_id_of(study)
        if nct_id is None:
            continue
        kept = latest.get(nct_id)
        if kept is None or (stamp_of(study).last_update_posted or "") > (
            stamp_of(kept).last_update_posted or ""
        ):
            latest[nct_id] = study
    return latest


def _for_trial(outage: RegistryUnavailable, nct_id: str | None) -> RegistryUnavailable:
    """The registry-wide failure, told about one trial it kept from being fetched."""
    return RegistryUnavailable(outage.detail, nct_id, outage.status_code)
