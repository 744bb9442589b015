"""Loading: the TOML file read and validated once into frozen `Settings`; the SMTP password.

Why it looks like this:
- Every problem is collected and reported at once, each naming the file, the `[section].key`,
  what is wrong and what to do (with "did you mean" for a misspelt name): fixing a file one
  error per run is miserable.
- Relative paths are resolved against the state directory ($STATE_DIRECTORY from systemd, else
  $XDG_STATE_HOME/trialwatch, else ~/.local/state/trialwatch), never against the working
  directory, which differs between a shell and a service.
- Loading reads the settings file and nothing else: directories are created by the parts that
  write into them. The password (`smtp_password`: `[smtp].password_file` or systemd's
  credential, never the settings file) is read when mail is sent, and first by `preflight`,
  which `check-config`, `check`, `deliver` and `run` call before doing anything, so a missing
  file stops them with exit 78 instead of failing after a check has stored and queued.
- A file larger or more deeply nested than any settings file is refused before it is walked: a
  settings file is a few kilobytes, a few tables deep.
"""

from __future__ import annotations

import os
import re
import stat
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from watcher.config.channels import channel_problems, channel_url
from watcher.config.credentials import credential_path, read_secret
from watcher.config.schema import CREDENTIAL_NAME, SECTIONS, SETTINGS, Section, Settings, key_path
from watcher.config.values import ParseContext, describe, did_you_mean, toml_text
from watcher.errors import ConfigError

# Keys refused outright, with the reason; checked before "unknown key".
_REFUSED = {
    ("smtp", "password"): (
        "passwords are never read from the settings file (it gets copied and shared); put the "
        "password alone in a file only trialwatch can read and set [smtp].password_file, or use "
        f"systemd's LoadCredential={CREDENTIAL_NAME}:/path/to/file"
    ),
}


def _home(env: Mapping[str, str]) -> Path:
    home = env.get("HOME")
    return Path(home) if home else Path.home()


def state_directory(env: Mapping[str, str]) -> Path:
    """Where the database, feeds and Maildir live unless the settings file says otherwise.

    systemd's `StateDirectory=` sets $STATE_DIRECTORY (several paths joined by ":" when the unit
    names several; the first is ours). A relative $XDG_STATE_HOME is ignored, as the XDG Base
    Directory specification requires.
    """
    first = env.get("STATE_DIRECTORY", "").split(":")[0]
    if first:
        return Path(first)
    xdg = env.get("XDG_STATE_HOME", "")
    if xdg and Path(xdg).is_absolute():
        return Path(xdg) / "trialwatch"
    return _home(env) / ".local" / "state" / "trialwatch"


def load_settings(path: Path | None = None, env: Mapping[str, str] | None = None) -> Settings:
    """Read and validate the settings, or raise one ConfigError listing every problem.

    `path=None` means $TRIALWATCH_CONFIG when set, else the built-in defaults. `env` defaults to
    the process environment; tests pass their own.
    """
    env = os.environ if env is None else env
    if path is None and env.get("TRIALWATCH_CONFIG"):
        path = Path(env["TRIALWATCH_CONFIG"])
    state_dir = state_directory(env)
    document = {} if path is None else _read(path)
    reader = _Reader(str(path or "built-in defaults"), ParseContext(state_dir, _home(env)))
    built = reader.document(document)
    if reader.problems:
        raise ConfigError(reader.problems)
    return Settings(
        source=path, state_dir=state_dir, from_file=frozenset(reader.from_file), **built
    )


# A settings file is a few kilobytes and at most a few levels deep ([[webhooks]] -> a table ->
# a list of names); these bounds are far above that and far below what strains a parser.
_MAX_BYTES = 1 << 20
_MAX_DEPTH = 8

# tomllib (3.11) puts the position in the message only: "Invalid value (at line 2, column 5)".
_TOML_POSITION = re.compile(r"(?P<what>.*) \(at (?P<where>line \d+, column \d+|end of document)\)")


def _read(path: Path) -> dict[str, Any]:
    """The parsed file, or a ConfigError saying in one line why it cannot be used."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        problem = "no such file; check --config or $TRIALWATCH_CONFIG (with neither, the "
        problem += "built-in defaults are used)"
        raise ConfigError([f"{path}: {problem}"]) from None
    except IsADirectoryError:
        raise ConfigError([f"{path}: is a directory; name the TOML settings file in it"]) from None
    except OSError as exc:
        raise ConfigError(
            [f"{path}: cannot be read ({exc.strerror}); check the path and its permissions"]
        ) from None
    if len(data) > _MAX_BYTES:
        raise ConfigError([f"{path}: {len(data)} bytes is too large for a settings file"])
    try:
        document = tomllib.loads(data.decode("utf-8"))
    except RecursionError:
        raise _too_deep(path) from None
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        byte = data[exc.start]
        raise ConfigError(
            [f"{path}: line {line}: not UTF-8 text (byte 0x{byte:02x}); save the file as UTF-8"]
        ) from None
    except tomllib.TOMLDecodeError as exc:
        message = str(exc)
        match = _TOML_POSITION.fullmatch(message)
        where = f"{match['where'].replace('document', 'file')}: " if match else ""
        what = match["what"] if match else message
        raise ConfigError(
            [f"{path}: {where}invalid TOML: {what}; see https://toml.io for the syntax"]
        ) from None
    if _depth(document) > _MAX_DEPTH:
        raise _too_deep(path)
    return document


def _too_deep(path: Path) -> ConfigError:
    return ConfigError(
        [f"{path}: tables or lists nested more than {_MAX_DEPTH} deep; no setting needs that"]
    )


def _depth(value: object) -> int:
    """How deeply tables and lists nest in `value`, counted without recursion."""
    deepest, stack = 0, [(value, 0)]
    while stack:
        item, level = stack.pop()
        deepest = max(deepest, level)
        if isinstance(item, dict):
            stack.extend((child, level + 1) for child in item.values())
        elif isinstance(item, list):
            stack.extend((child, level + 1) for child in item)
    return deepest


class _Reader:
    """Walks the parsed file once, collecting every problem instead of stopping at the first."""

    def __init__(self, source: str, ctx: ParseContext) -> None:
        self.source = source
        self.ctx = ctx
        self.problems: list[str] = []
        self.from_file: set[str] = set()

    def problem(self, where: str, message: str) -> None:
        self.problems.append(f"{self.source}: {where}: {message}")

    def document(self, document: Mapping[str, Any]) -> dict[str, Any]:
        names = {sec.name: sec for sec in SECTIONS}
        for name, value in document.items():
            if name not in names:
                self.unknown_top_level(name, value)
        built: dict[str, Any] = {}
        for sec in SECTIONS:
            value = document.get(sec.name, [] if sec.many else {})
            built[sec.name] = self.tables(sec, value) if sec.many else self.table(sec, value)
        for where, message in channel_problems(c for c in built["channels"] if c is not None):
            self.problem(where, message)
        return built

    def unknown_top_level(self, name: str, value: object) -> None:
        if not isinstance(value, dict | list):
            homes = [s.section for s in SETTINGS if s.key == name and not s.many]
            if homes:
                self.problem(name, f"a key outside any section; it belongs under [{homes[0]}]")
                return
        shown = {sec.name: f"[[{sec.name}]]" if sec.many else f"[{sec.name}]" for sec in SECTIONS}
        self.problem(f"[{name}]", "unknown section; " + did_you_mean(name, shown))

    def tables(self, sec: Section, value: object) -> tuple[Any, ...]:
        if not isinstance(value, list):
            self.problem(
                f"[{sec.name}]",
                f"expected [[{sec.name}]] tables (double brackets), got {describe(value)}",
            )
            return ()
        built = []
        for index, item in enumerate(value, 1):
            if not isinstance(item, dict):
                self.problem(f"[[{sec.name}]]#{index}", f"expected a table, got {describe(item)}")
                continue
            built.append(self.table(sec, item, index))
        return tuple(built)

    def table(self, sec: Section, value: object, index: int | None = None) -> Any:
        """The section object, or None when a problem was found (the caller raises)."""
        if not isinstance(value, dict):
            self.problem(f"[{sec.name}]", f"expected a [{sec.name}] table, got {describe(value)}")
            return None
        values: dict[str, Any] = {}
        # A [[table]] with a name is named by it in messages: "[[channels]] trial-office url".
        label = value.get("name") if sec.many else None
        for s in sec.settings:
            where = key_path(sec.name, s.key, many=sec.many, index=index)
            said = f"[[{sec.name}]] {label} {s.key}" if isinstance(label, str) else where
            if s.key in value:
                raw = value[s.key]
                self.from_file.add(where)
            elif s.default is None:
                self.problem(said, f"missing; add {s.key} = {toml_text(s.example)} ({s.help})")
                continue
            else:
                raw = s.default
            try:
                values[s.field] = s.kind.parse(raw, self.ctx)
            except ValueError as exc:
                self.problem(said, str(exc))
        shown = {s.key: s.key if sec.many else s.path for s in sec.settings}
        for key in value:
            if key in shown:
                continue
            where = key_path(sec.name, key, many=sec.many, index=index)
            refused = _REFUSED.get((sec.name, key))
            self.problem(where, refused or "unknown key; " + did_you_mean(key, shown))
        if len(values) < len(sec.settings):
            return None
        return sec.cls(**values)


# -- passwords ---------------------------------------------------------------------------------


def smtp_password(settings: Settings, env: Mapping[str, str]) -> str | None:
    """The SMTP password from `[smtp].password_file`, else from the systemd credential, else None.

    The file holds the password alone; one trailing newline (editors add it) is not part of it.
    """
    path = settings.smtp.password_file
    named_by = "[smtp].password_file"
    if path is None:
        path = credential_path(env, CREDENTIAL_NAME)
        named_by = f"LoadCredential={CREDENTIAL_NAME}"
        if path is None:
            return None
    return read_secret(path, "the SMTP password", named_by, "the password")


def preflight(settings: Settings, env: Mapping[str, str]) -> list[str]:
    """Read what the settings name but do not hold, before anything is stored; return warnings.

    Raises ConfigError (exit 78) when the SMTP password or a channel's URL cannot be read (or
    Apprise cannot use that URL): found at delivery, it would be found after a check had stored
    versions and queued mail. The warnings, one line
    each, are for settings that work but leak: a password sent in clear text, a password file
    or a settings file holding a webhook secret that every user of the machine can read.
    """
    smtp = settings.smtp
    warnings: list[str] = []
    if smtp.password_file is not None or (smtp.host and smtp.username):
        smtp_password(settings, env)
    if smtp.host and smtp.username and smtp.security == "none":
        warnings.append(
            f'[smtp].security = "none" with a username: the password crosses the network to '
            f'{smtp.host} in clear text; use "starttls" or "tls"'
        )
    if smtp.password_file is not None and _readable_by_all(smtp.password_file):
        warnings.append(
            f"{smtp.password_file}: the SMTP password file is readable by every user; "
            f"chmod 600 {smtp.password_file}"
        )
    for channel in settings.channels:
        channel_url(channel, env)
        if channel.url_file is not None and _readable_by_all(channel.url_file):
            warnings.append(
                f"{channel.url_file}: the URL file of channel {channel.name} is readable by "
                f"every user; chmod 600 {channel.url_file}"
            )
    if settings.source is not None and settings.webhooks and _readable_by_all(settings.source):
        warnings.append(
            f"{settings.source}: holds webhook secrets and is readable by every user; "
            f"chmod 600 {settings.source} (or 640 with a group of its own)"
        )
    return warnings


def _readable_by_all(path: Path) -> bool:
    try:
        return bool(path.stat().st_mode & stat.S_IROTH)
    except OSError:  # unreadable for us: then not for others either, as far as we can tell
        return False
