"""The client of ClinicalTrials.gov's internal history API: every registered version of a trial.

The site's "History of Changes" tab reads it (so do the R packages cthist and ctrdata); it is
undocumented, so this client is best effort and reads it strictly:

- `GET {history_url}/studies/{NCT}?history=true` → `history.changes[]`, one entry per version
  (`version` from 0, `date`, `status`, `moduleLabels`): `history_index`.
- `GET {history_url}/studies/{NCT}/history/{n}` → `{"studyVersion": n, "study": {…}}`, the
  study in the API v2 shape: `history_version`.

Requests go through a `RegistryClient` pointed at `history_url`, so they share its politeness
limit (the v2 client's own token bucket, when given), retries, backoff and error translation.
What only the history API can do wrong — a 404, no versions, an answer of another shape — is
one `HistoryUnavailable` naming the trial; the trial is still watched and polled. Network
faults, 429 and 5xx stay `RegistryUnavailable`: a later try may succeed.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from types import TracebackType
from typing import Any
from urllib.parse import quote

from watcher.errors import HistoryUnavailable, RegistryResponseInvalid, TrialNotFound
from watcher.registry.client import RegistryClient, nct_id_of
from watcher.registry.ratelimit import TokenBucket


@dataclass(frozen=True, slots=True)
class HistoryEntry:
    """One registered version of a trial, as the history index lists it.

    `date` is the ISO date the site gives the version (its QC date); `module_labels` are the
    site's names of the record's parts that changed from the version before ("Study Status",
    "Contacts/Locations"…), empty for version 0.
    """

    version: int
    date: str
    status: str | None
    module_labels: tuple[str, ...]


class HistoryClient:
    """Reads the versions of a trial; one keep-alive connection, like `RegistryClient`."""

    def __init__(
        self,
        history_url: str,
        *,
        user_agent: str,
        timeout_s: float,
        requests_per_minute: int,
        max_retries: int = 4,
        backoff_base_s: float = 1.0,
        backoff_cap_s: float = 60.0,
        max_retry_after_s: float = 300.0,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
        jitter: Callable[[], float] = random.random,
        bucket: TokenBucket | None = None,
    ) -> None:
        self._transport = RegistryClient(
            history_url,
            user_agent=user_agent,
            timeout_s=timeout_s,
            requests_per_minute=requests_per_minute,
            max_retries=max_retries,
            backoff_base_s=backoff_base_s,
            backoff_cap_s=backoff_cap_s,
            max_retry_after_s=max_retry_after_s,
            sleep=sleep,
            clock=clock,
            jitter=jitter,
            bucket=bucket,
        )

    @property
    def request_count(self) -> int:
        """Requests actually sent, retries and redirects included."""
        return self._transport.request_count

    def history_index(self, nct_id: str) -> tuple[HistoryEntry, ...]:
        """Every version of the trial the registry keeps, oldest first (version 0 first)."""
        body = self._get(f"/studies/{quote(nct_id, safe='')}", {"history": "true"}, nct_id)
        history = body.get("history") if isinstance(body, dict) else None
        changes = history.get("changes") if isinstance(history, dict) else None
        if not isinstance(changes, list):
            raise HistoryUnavailable(nct_id, "the answer has no history.changes list")
        if not changes:
            raise HistoryUnavailable(nct_id, "the registry lists no versions of it")
        entries = tuple(_entry(change, nct_id) for change in changes)
        versions = [e.version for e in entries]
        if versions != list(range(len(entries))):
            raise HistoryUnavailable(
                nct_id, f"the versions are not numbered 0 to {len(entries) - 1} in order"
            )
        return entries

    def history_version(self, nct_id: str, version: int) -> dict[str, Any]:
        """The record as it was at `version`, in the API v2 study shape."""
        path = f"/studies/{quote(nct_id, safe='')}/history/{version}"
        body = self._get(path, {}, nct_id, version)
        study = body.get("study") if isinstance(body, dict) else None
        if not isinstance(body, dict) or body.get("studyVersion") != version:
            raise HistoryUnavailable(
                nct_id, f"the answer for version {version} is not that version"
            )
        found = nct_id_of(study)
        if found is None or not isinstance(study, dict):
            raise HistoryUnavailable(
                nct_id,
                f"version {version} is not a study record "
                "(no protocolSection.identificationModule.nctId)",
            )
        if found != nct_id:
            raise HistoryUnavailable(nct_id, f"version {version} is a record of {found}")
        record: dict[str, Any] = study
        return record

    def close(self) -> None:
        """Close the connection."""
        self._transport.close()

    def __enter__(self) -> HistoryClient:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def _get(
        self, path: str, params: dict[str, str], nct_id: str, version: int | None = None
    ) -> Any:
        """The JSON answer, with a 404 or an unreadable body as `HistoryUnavailable`."""
        what = "history" if version is None else f"version {version}"
        try:
            return self._transport.get_json(path, params, nct_id)
        except TrialNotFound:
            raise HistoryUnavailable(nct_id, f"the registry has no {what} of it (404)") from None
        except RegistryResponseInvalid as error:
            raise HistoryUnavailable(nct_id, error.detail) from None


def _entry(change: Any, nct_id: str) -> HistoryEntry:
    """One `history.changes[]` item, checked field by field."""
    if not isinstance(change, dict):
        raise HistoryUnavailable(nct_id, "a history entry is not an object")
    version = change.get("version")
    day = change.get("date")
    status = change.get("status")
    labels = change.get("moduleLabels", [])
    if not isinstance(version, int) or isinstance(version, bool):
        raise HistoryUnavailable(nct_id, "a history entry has no version number")
    if not isinstance(day, str) or not _is_iso_date(day):
        raise HistoryUnavailable(nct_id, f"version {version} has no date (YYYY-MM-DD)")
    if status is not None and not isinstance(status, str):
        raise HistoryUnavailable(nct_id, f"version {version} has a status that is not text")
    if not isinstance(labels, list) or not all(isinstance(label, str) for label in labels):
        raise HistoryUnavailable(nct_id, f"version {version} has moduleLabels that are not text")
    return HistoryEntry(version, day, status, tuple(labels))


def _is_iso_date(text: str) -> bool:
    try:
        date.fromisoformat(text)
    except ValueError:
        return False
    return len(text) == len("2018-09-27")
