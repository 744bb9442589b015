"""Secrets read from files of their own: the SMTP password, a chat channel's Apprise URL.

Why it looks like this: a secret never sits in the settings file (it gets copied, pasted and
committed). It is a file only trialwatch can read, named by a `*_file` key or, under systemd,
put in `$CREDENTIALS_DIRECTORY` by `LoadCredential=NAME` (the unit's credential, readable by the
service alone). Both are read the same way here, with one line saying which file failed and why.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from watcher.errors import ConfigError


def credential_path(env: Mapping[str, str], name: str) -> Path | None:
    """`$CREDENTIALS_DIRECTORY/name` when systemd set the directory and the file is there."""
    directory = env.get("CREDENTIALS_DIRECTORY")
    if not directory:
        return None
    path = Path(directory) / name
    return path if path.exists() else None


def read_secret(path: Path, what: str, named_by: str, noun: str) -> str:
    """The secret alone in `path`; one trailing newline (editors add it) is not part of it.

    `what` names it in messages ("the SMTP password"), `named_by` says who named the file
    (`[smtp].password_file`), `noun` is what to put in an empty file ("the password").
    """
    try:
        secret = path.read_text(encoding="utf-8").removesuffix("\n").removesuffix("\r")
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) else "not UTF-8 text"
        raise ConfigError([f"{path}: cannot read {what} named by {named_by} ({reason})"]) from None
    if not secret:
        raise ConfigError(
            [
                f"{path}: {what} file named by {named_by} is empty; "
                f"put {noun} in it, alone on one line"
            ]
        )
    return secret
