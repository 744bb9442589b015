"""Webhook POSTs over httpx, signed with HMAC-SHA256 so the receiver can trust them.

The signature covers the send time as well as the body (`signature`): a POST captured on the
way could otherwise be replayed for ever with its valid signature. The receiver recomputes the
HMAC over "<X-Trialwatch-Timestamp>." + body and refuses a timestamp older than 5 minutes.

httpx is the project's one HTTP client (the registry uses it too), so timeouts, TLS and proxy
settings behave the same everywhere. Its failures are translated here: a 2xx is delivered, a
4xx (but 408 and 429) is `DeliveryRejected`, anything else `DeliveryDeferred`, retried through
the outbox.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from collections.abc import Callable
from types import TracebackType

import httpx

from watcher.errors import DeliveryDeferred, DeliveryRejected

WEBHOOK_TIMEOUT_S = 15.0
SIGNATURE_HEADER = "X-Trialwatch-Signature"
TIMESTAMP_HEADER = "X-Trialwatch-Timestamp"


class WebhookTransport:
    """POSTs a JSON body to a URL from `[[webhooks]]`, with one connection pool per drain."""

    def __init__(
        self,
        secrets: dict[str, str],
        timeout_s: float = WEBHOOK_TIMEOUT_S,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.secrets = secrets  # url -> secret, from the current settings
        self.clock = clock  # the sender's clock, read at each send (a retry is signed anew)
        self.timeout_s = timeout_s
        # Opened at the first POST: a client loads the system's certificates (a third of a
        # second), which a drain of email alone should not pay.
        self._client: httpx.Client | None = None

    def send(self, key: str, recipient: str, body: bytes) -> None:
        """One POST; 2xx is delivered, 4xx rejected, anything else retried later."""
        secret = self.secrets.get(recipient)
        if secret is None:
            raise DeliveryRejected(f"webhook {recipient} is no longer in [[webhooks]]")
        timestamp = int(self.clock())
        headers = {
            "Content-Type": "application/json",
            "X-Trialwatch-Delivery": key,
            TIMESTAMP_HEADER: str(timestamp),
            SIGNATURE_HEADER: signature(secret, timestamp, body),
        }
        if self._client is None:
            self._client = httpx.Client(
                timeout=self.timeout_s, headers={"User-Agent": "trialwatch"}
            )
        try:
            response = self._client.post(recipient, content=body, headers=headers)
        except httpx.HTTPError as exc:  # connection refused, timeouts, bad answers
            raise DeliveryDeferred(f"webhook {recipient} unreachable ({exc})") from exc
        if response.is_success:
            return
        message = f"webhook {recipient} answered {response.status_code} {response.reason_phrase}"
        if response.is_client_error and response.status_code not in (408, 429):
            raise DeliveryRejected(message)
        raise DeliveryDeferred(message)

    def close(self) -> None:
        """Close the connection pool, if one was opened."""
        if self._client is not None:
            self._client.close()
            self._client = None

    def __enter__(self) -> WebhookTransport:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


def signature(secret: str, timestamp: int, body: bytes) -> str:
    """The signature header's value: "sha256=" + hex HMAC of "<timestamp>." + the exact body."""
    signed = f"{timestamp}.".encode("ascii") + body
    return "sha256=" + hmac.new(secret.encode("utf-8"), signed, hashlib.sha256).hexdigest()
