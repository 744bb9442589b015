"""Every error trialwatch raises on purpose, as one tree.

    WatcherError                  base: the CLI prints "Error: <message>" and exits with .exit_code
    ├── ConfigError               a settings file or value is wrong (exit 78, EX_CONFIG)
    ├── InputError                a user argument is wrong: an NCT ID, an address, a file (exit 2)
    ├── RegistryError             fetching from ClinicalTrials.gov failed; nothing is stored
    │   ├── RegistryUnavailable   network fault, timeout, 429 or 5xx after retries
    │   ├── TrialNotFound         404: the registry has no such study (removed, or a typo)
    │   ├── RegistryResponseInvalid  a 200 whose body is not a study we can read
    │   └── HistoryUnavailable    the registry keeps no readable history for this trial
    ├── StoreError                the database cannot be opened or is not ours
    └── DeliveryError             sending a notification failed
        ├── DeliveryDeferred      try again later (SMTP 4xx, connection refused)
        └── DeliveryRejected      the server refused for good (SMTP 5xx)

Library exceptions (httpx, sqlite3, smtplib) are translated into this tree at the edge that
calls the library, in one place per edge, so callers never catch a library's own types.
Each exception carries the fields a caller needs to act on it and formats its own message.
"""

from __future__ import annotations

EX_USAGE = 2
EX_CONFIG = 78


class WatcherError(Exception):
    """Base of every expected failure; the message is written for the person running trialwatch."""

    exit_code = 1


class ConfigError(WatcherError):
    """One or more problems in the configuration; all of them are listed at once."""

    exit_code = EX_CONFIG

    def __init__(self, problems: list[str]) -> None:
        self.problems = list(problems)
        super().__init__(self._format())

    def _format(self) -> str:
        if len(self.problems) == 1:
            return self.problems[0]
        lines = [f"{len(self.problems)} problems in the configuration:"]
        lines += [f"  - {p}" for p in self.problems]
        return "\n".join(lines)


class InputError(WatcherError):
    """A command-line argument that cannot be used as given."""

    exit_code = EX_USAGE


class RegistryError(WatcherError):
    """Fetching from the registry failed; `nct_id` names the trial when one is concerned."""

    def __init__(self, message: str, nct_id: str | None = None) -> None:
        self.nct_id = nct_id
        self.detail = message
        super().__init__(f"{nct_id}: {message}" if nct_id else message)


class RegistryUnavailable(RegistryError):
    """The registry could not be reached or kept failing (network, timeout, 429, 5xx)."""

    def __init__(
        self, message: str, nct_id: str | None = None, status_code: int | None = None
    ) -> None:
        self.status_code = status_code
        super().__init__(message, nct_id)


class TrialNotFound(RegistryError):
    """The registry answered 404 for this NCT ID."""

    def __init__(self, nct_id: str) -> None:
        super().__init__("not found in the registry (404); check the NCT ID", nct_id)


class RegistryResponseInvalid(RegistryError):
    """The registry answered 200 but the body is not a study record we can read."""


class HistoryUnavailable(RegistryError):
    """The history API has no usable history of this trial: a 404, no versions, an unknown shape.

    Best effort by design (the API is the site's internal one): the trial is still watched and
    polled; only its past versions are missing.
    """

    def __init__(self, nct_id: str, reason: str) -> None:
        self.reason = reason
        super().__init__(f"history not available: {reason}", nct_id)


class StoreError(WatcherError):
    """The database cannot be used (not a trialwatch database, newer schema, unreadable)."""


class DeliveryError(WatcherError):
    """A notification could not be delivered."""


class DeliveryDeferred(DeliveryError):
    """A temporary failure: the outbox retries later with backoff.

    `server_down` says the server could not be reached at all, so the other messages for it
    wait for the next drain instead of each timing out in turn.
    """

    def __init__(self, message: str, *, server_down: bool = False) -> None:
        self.server_down = server_down
        super().__init__(message)


class DeliveryRejected(DeliveryError):
    """A permanent failure: the outbox marks the message failed and keeps the server's answer."""
