"""Mail into a local Maildir: where messages go when no SMTP server is configured.

A machine without a mail server still loses nothing: the admin (or a mail program pointed at
the folder) reads the messages there. A write that fails is `DeliveryDeferred`, retried later.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from watcher.errors import DeliveryDeferred


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
