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

A message is smtplib's `sendmail` taken apart at one point: while the server answers MAIL FROM,
the drain does its own bookkeeping (`send`'s `ready`: the previous message's outcome committed,
this one's claim checked), which would otherwise wait in line between two messages. One command
is out at a time, as the server expects without PIPELINING; a message that turns out not to be
the drain's any more is dropped with RSET before its recipient is named.
"""

from __future__ import annotations

import contextlib
import re
import smtplib
import ssl
from collections.abc import Callable
from email.utils import parseaddr
from types import TracebackType

from watcher.core.addresses import redact_addresses, validate_email
from watcher.errors import DeliveryDeferred, DeliveryRejected

SMTP_TIMEOUT_S = 30.0
_LEADING_DOT = re.compile(rb"(?m)^\.")


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
        self._mail_from = smtplib.quoteaddr(self.envelope_from)  # MAIL FROM's argument, once
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

    def _envelope_to(self, smtp: smtplib.SMTP, recipient: str) -> tuple[str, bool]:
        """The recipient as RCPT TO carries it (`<address>`), and whether that needs SMTPUTF8.

        An IDN domain goes in its IDNA form (rows queued before addresses were stored that way);
        a non-ASCII local part only with SMTPUTF8, and only when this server offers it (the
        session has said EHLO). A checked address has nothing for smtplib's `quoteaddr` to
        parse out of it; anything else goes through it.
        """
        try:
            return f"<{validate_email(recipient)}>", False
        except ValueError:
            pass
        if not smtp.has_extn("smtputf8"):
            raise DeliveryRejected(
                f"the recipient's address is not ASCII and {self.host} does not offer SMTPUTF8; "
                "the subscriber needs an ASCII address"
            )
        return smtplib.quoteaddr(recipient), True

    def send(self, key: str, recipient: str, body: bytes, ready: Callable[[], bool]) -> bool:
        """Send one message in its own SMTP transaction; False when `ready`, called while the
        server answers MAIL FROM, says it is not to go after all (nothing was sent).

        `ready` is not called when the session fails before MAIL FROM is out.
        """
        if self._smtp is None:
            self._smtp = self._connect()
        smtp = self._smtp
        try:
            smtp.ehlo_or_helo_if_needed()
            envelope_to, utf8 = self._envelope_to(smtp, recipient)
            options = [f"size={len(body)}"] if smtp.has_extn("size") else []
            if utf8:
                options.append("SMTPUTF8")
                smtp.command_encoding = "utf-8"
            smtp.putcmd("mail", f"FROM:{self._mail_from}{''.join(' ' + o for o in options)}")
            try:
                go = ready()
            except BaseException:
                self._abandon()  # the server's answer is still unread: this session is done
                raise
            code, answer = smtp.getreply()
            if code != 250 or not go:
                self._end_transaction(code)
                if go:
                    raise smtplib.SMTPSenderRefused(code, answer, self.envelope_from)
                return False
            smtp.putcmd("rcpt", f"TO:{envelope_to}")
            code, answer = smtp.getreply()
            if code not in (250, 251):
                self._end_transaction(code)
                raise smtplib.SMTPRecipientsRefused({envelope_to: (code, answer)})
            smtp.putcmd("data")
            code, answer = smtp.getreply()
            if code == 354:
                smtp.send(_data(body))
                code, answer = smtp.getreply()
            if code != 250:
                self._end_transaction(code)
                raise smtplib.SMTPDataError(code, answer)
        except UnicodeEncodeError as exc:  # refused before it left; the session goes on
            with contextlib.suppress(smtplib.SMTPException, OSError):
                smtp.rset()  # in case the MAIL command had gone out already
            raise DeliveryRejected(
                f"the message cannot be written for this server ({exc.reason})"
            ) from None
        except smtplib.SMTPRecipientsRefused as exc:
            code, answer = next(iter(exc.recipients.values()))
            raise _by_code(code, f"recipient refused: {code} {_text(answer)}") from exc
        except smtplib.SMTPResponseException as exc:
            if exc.smtp_code == 421:  # the server is closing this session
                self._abandon()
            raise _by_code(exc.smtp_code, f"{exc.smtp_code} {_text(exc.smtp_error)}") from exc
        except (smtplib.SMTPException, OSError) as exc:
            self._smtp = None  # the session is gone; the next message reconnects
            self._drops += 1
            raise DeliveryDeferred(
                f"SMTP connection to {self.host} failed ({_redacted(exc)})",
                server_down=self._drops > 1,
            ) from exc
        self._drops = 0
        return True

    def _end_transaction(self, code: int) -> None:
        """After a refusal, or a message not to go, what `sendmail` does: a 421 ends the
        session, anything else resets the transaction for the next message; a session that
        cannot even do that is dropped (the next message reconnects)."""
        if self._smtp is None:
            return
        if code == 421:
            self._abandon()
            return
        try:
            self._smtp.rset()
        except (smtplib.SMTPException, OSError):
            self._abandon()

    def _abandon(self) -> None:
        """Drop the session without a word (the server is closing it, or an answer is still
        unread); the next message reconnects."""
        if self._smtp is not None:
            self._smtp.close()
            self._smtp = None

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


def _data(body: bytes) -> bytes:
    """The message as DATA carries it: each line that starts with a dot gets another (RFC 5321
    4.5.2), and CRLF "." CRLF ends it. A stored message rarely has such a line, so the bytes
    are searched before any regex runs (smtplib runs one over every message)."""
    if body.startswith(b".") or b"\n." in body:
        body = _LEADING_DOT.sub(b"..", body)
    if not body.endswith(b"\r\n"):
        body += b"\r\n"
    return body + b".\r\n"


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
