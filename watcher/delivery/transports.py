"""The transports: SMTP, a local Maildir, webhook POSTs. Each sends one stored message.

Every library failure is translated here, in one place per transport, into
`DeliveryDeferred` (try again later: SMTP 4xx, a refused connection, a timeout, a webhook 5xx)
or `DeliveryRejected` (the server said no for good: SMTP 5xx, a webhook 4xx), carrying the
server's own answer so the admin can see it in `trialwatch status`.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import os
import smtplib
import ssl
import urllib.error
import urllib.request
from email.utils import parseaddr
from pathlib import Path
from types import TracebackType
from typing import Protocol

from watcher.errors import DeliveryDeferred, DeliveryRejected

SMTP_TIMEOUT_S = 30.0
WEBHOOK_TIMEOUT_S = 15.0
SIGNATURE_HEADER = "X-Trialwatch-Signature"


class Transport(Protocol):
    """Sends one stored message; raises `DeliveryDeferred` or `DeliveryRejected`."""

    def send(self, key: str, recipient: str, body: bytes) -> None: ...


class SmtpTransport:
    """One SMTP session, opened on first use and reused for every message of a drain."""

    def __init__(
        self,
        host: str,
        port: int,
        *,
        security: str,
        sender: str,
        username: str | None = None,
        password: str | None = None,
        timeout_s: float = SMTP_TIMEOUT_S,
    ) -> None:
        self.host, self.port, self.security = host, port, security
        self.envelope_from = parseaddr(sender)[1]
        self.username, self.password = username, password
        self.timeout_s = timeout_s
        self._smtp: smtplib.SMTP | None = None

    def _connect(self) -> smtplib.SMTP:
        context = ssl.create_default_context()
        try:
            smtp: smtplib.SMTP
            if self.security == "tls":
                smtp = smtplib.SMTP_SSL(
                    self.host, self.port, timeout=self.timeout_s, context=context
                )
            else:
                smtp = smtplib.SMTP(self.host, self.port, timeout=self.timeout_s)
                if self.security == "starttls":
                    smtp.starttls(context=context)
            if self.username:
                smtp.login(self.username, self.password or "")
        except smtplib.SMTPAuthenticationError as exc:
            # Every message would fail the same way until the admin fixes the login: keep them.
            raise DeliveryDeferred(
                f"SMTP login to {self.host} refused ({_answer(exc)}); check [smtp].username "
                "and the password file",
                server_down=True,
            ) from exc
        except (smtplib.SMTPException, OSError) as exc:
            raise DeliveryDeferred(
                f"cannot reach SMTP server {self.host}:{self.port} ({exc})", server_down=True
            ) from exc
        return smtp

    def send(self, key: str, recipient: str, body: bytes) -> None:
        """Send one message in its own SMTP transaction."""
        if self._smtp is None:
            self._smtp = self._connect()
        try:
            refused = self._smtp.sendmail(self.envelope_from, [recipient], body)
        except smtplib.SMTPRecipientsRefused as exc:
            code, answer = next(iter(exc.recipients.values()))
            raise _by_code(code, f"recipient refused: {code} {_text(answer)}") from exc
        except smtplib.SMTPResponseException as exc:
            raise _by_code(exc.smtp_code, f"{exc.smtp_code} {_text(exc.smtp_error)}") from exc
        except (smtplib.SMTPException, OSError) as exc:
            self._smtp = None  # the session is gone; the next message reconnects
            raise DeliveryDeferred(
                f"SMTP connection to {self.host} failed ({exc})", server_down=True
            ) from exc
        if refused:
            code, answer = next(iter(refused.values()))
            raise _by_code(code, f"recipient refused: {code} {_text(answer)}")

    def close(self) -> None:
        """Say goodbye to the server, ignoring a session that already died."""
        if self._smtp is not None:
            with contextlib.suppress(smtplib.SMTPException, OSError):
                self._smtp.quit()
            self._smtp = None

    def __enter__(self) -> SmtpTransport:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


def _text(answer: bytes | str) -> str:
    return answer.decode("utf-8", "replace") if isinstance(answer, bytes) else answer


def _answer(exc: smtplib.SMTPResponseException) -> str:
    return f"{exc.smtp_code} {_text(exc.smtp_error)}"


def _by_code(code: int, message: str) -> DeliveryDeferred | DeliveryRejected:
    return DeliveryRejected(message) if 500 <= code < 600 else DeliveryDeferred(message)


class MaildirTransport:
    """Mail to a local Maildir when no SMTP server is configured, so nothing is lost.

    Each message's file name is derived from its outbox key, so delivering the same message
    again after a crash finds it already there instead of writing a second copy.
    """

    def __init__(self, path: Path) -> None:
        self.path = path

    def send(self, key: str, recipient: str, body: bytes) -> None:
        """Write the message into `new/` atomically (tmp/ then rename), once."""
        name = f"{hashlib.sha256(key.encode('utf-8')).hexdigest()[:32]}.trialwatch"
        try:
            for sub in ("tmp", "new", "cur"):
                (self.path / sub).mkdir(mode=0o700, parents=True, exist_ok=True)
            if (self.path / "new" / name).exists() or any((self.path / "cur").glob(f"{name}*")):
                return  # delivered before a crash cut the bookkeeping short
            temporary = self.path / "tmp" / name
            fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "wb") as handle:
                handle.write(body.replace(b"\r\n", b"\n"))  # Maildir files use LF
                handle.flush()
                os.fsync(handle.fileno())
            temporary.replace(self.path / "new" / name)
        except OSError as exc:
            raise DeliveryDeferred(f"cannot write to the Maildir {self.path} ({exc})") from exc


class WebhookTransport:
    """POSTs a JSON body to a URL, signed with HMAC-SHA256 so the receiver can trust it."""

    def __init__(self, secrets: dict[str, str], timeout_s: float = WEBHOOK_TIMEOUT_S) -> None:
        self.secrets = secrets  # url -> secret, from the current settings
        self.timeout_s = timeout_s

    def send(self, key: str, recipient: str, body: bytes) -> None:
        """One POST; 2xx is delivered, 4xx rejected, anything else retried later."""
        secret = self.secrets.get(recipient)
        if secret is None:
            raise DeliveryRejected(f"webhook {recipient} is no longer in [[webhooks]]")
        request = urllib.request.Request(  # noqa: S310 - the URL is validated as http(s) in config
            recipient,
            data=body,
            method="POST",
            headers={
                "Content-Type": "application/json",
                "User-Agent": "trialwatch",
                "X-Trialwatch-Delivery": key,
                SIGNATURE_HEADER: signature(secret, body),
            },
        )
        try:
            with urllib.request.urlopen(request, timeout=self.timeout_s) as response:  # noqa: S310
                response.read()
        except urllib.error.HTTPError as exc:
            message = f"webhook {recipient} answered {exc.code} {exc.reason}"
            if 400 <= exc.code < 500 and exc.code not in (408, 429):
                raise DeliveryRejected(message) from exc
            raise DeliveryDeferred(message) from exc
        except OSError as exc:  # URLError and timeouts are OSErrors
            raise DeliveryDeferred(f"webhook {recipient} unreachable ({exc})") from exc


def signature(secret: str, body: bytes) -> str:
    """The signature header's value: "sha256=" + hex HMAC of the exact body bytes."""
    return "sha256=" + hmac.new(secret.encode("utf-8"), body, hashlib.sha256).hexdigest()
