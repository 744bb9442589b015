"""Mail through an SMTP server: one session per drain, every failure translated here.

A session the server drops is opened again for the next message (the message it was sending
waits for its retry, as any deferred one); a second drop in a row, or a server that cannot be
reached, leaves the rest of the drain's mail for the next drain.

smtplib's many exceptions become `DeliveryDeferred` (try again later: 4xx, a refused or dropped
connection, a timeout, a refused login) or `DeliveryRejected` (the server said no for good:
5xx), carrying the server's own answer so the admin sees it in `trialwatch status`, with any
address in it redacted (status, `check` and `deliver` print these texts; addresses are private).

An address that cannot go out as it is (a non-ASCII local part without SMTPUTF8) fails its own
message, never the session: smtplib would raise UnicodeEncodeError, which no retry cures and which
used to stop the whole drain, so every later message waited behind it.
"""

from __future__ import annotations

import contextlib
import smtplib
import ssl
from email.utils import parseaddr
from types import TracebackType

from watcher.core.addresses import redact_addresses, validate_email
from watcher.errors import DeliveryDeferred, DeliveryRejected

SMTP_TIMEOUT_S = 30.0


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
        # Sessions dropped in a row: a server may close one (after so many messages, say), so
        # the next message opens another; a second drop in a row means the server is down.
        self._drops = 0

    def _connect(self) -> smtplib.SMTP:
        try:
            smtp: smtplib.SMTP
            if self.security == "tls":
                smtp = smtplib.SMTP_SSL(
                    self.host,
                    self.port,
                    timeout=self.timeout_s,
                    context=ssl.create_default_context(),
                )
            else:
                smtp = smtplib.SMTP(self.host, self.port, timeout=self.timeout_s)
                if self.security == "starttls":
                    smtp.starttls(context=ssl.create_default_context())
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
                f"cannot reach SMTP server {self.host}:{self.port} ({_redacted(exc)})",
                server_down=True,
            ) from exc
        return smtp

    def _envelope_to(self, smtp: smtplib.SMTP, recipient: str) -> tuple[str, list[str]]:
        """The recipient as the envelope carries it, and the MAIL options that requires.

        An IDN domain goes in its IDNA form (rows queued before addresses were stored that way);
        a non-ASCII local part only with SMTPUTF8, and only when this server offers it.
        """
        try:
            return validate_email(recipient), []
        except ValueError:
            pass
        smtp.ehlo_or_helo_if_needed()
        if not smtp.has_extn("smtputf8"):
            raise DeliveryRejected(
                f"the recipient's address is not ASCII and {self.host} does not offer SMTPUTF8; "
                "the subscriber needs an ASCII address"
            )
        return recipient, ["SMTPUTF8"]

    def send(self, key: str, recipient: str, body: bytes) -> None:
        """Send one message in its own SMTP transaction."""
        if self._smtp is None:
            self._smtp = self._connect()
        try:
            envelope_to, options = self._envelope_to(self._smtp, recipient)
            refused = self._smtp.sendmail(
                self.envelope_from, [envelope_to], body, mail_options=options
            )
        except UnicodeEncodeError as exc:  # refused before it left; the session goes on
            with contextlib.suppress(smtplib.SMTPException, OSError):
                self._smtp.rset()  # in case the MAIL command had gone out already
            raise DeliveryRejected(
                f"the message cannot be written for this server ({exc.reason})"
            ) from None
        except smtplib.SMTPRecipientsRefused as exc:
            code, answer = next(iter(exc.recipients.values()))
            raise _by_code(code, f"recipient refused: {code} {_text(answer)}") from exc
        except smtplib.SMTPResponseException as exc:
            if exc.smtp_code == 421:  # the server is closing this session (smtplib has too)
                self._smtp = None
            raise _by_code(exc.smtp_code, f"{exc.smtp_code} {_text(exc.smtp_error)}") from exc
        except (smtplib.SMTPException, OSError) as exc:
            self._smtp = None  # the session is gone; the next message reconnects
            self._drops += 1
            raise DeliveryDeferred(
                f"SMTP connection to {self.host} failed ({_redacted(exc)})",
                server_down=self._drops > 1,
            ) from exc
        self._drops = 0
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
    """A server's answer as text, without the addresses it may quote back."""
    text = answer.decode("utf-8", "replace") if isinstance(answer, bytes) else answer
    return redact_addresses(text)


def _redacted(exc: BaseException) -> str:
    return redact_addresses(str(exc))


def _answer(exc: smtplib.SMTPResponseException) -> str:
    return f"{exc.smtp_code} {_text(exc.smtp_error)}"


def _by_code(code: int, message: str) -> DeliveryDeferred | DeliveryRejected:
    return DeliveryRejected(message) if 500 <= code < 600 else DeliveryDeferred(message)
