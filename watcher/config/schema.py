"""Settings: one TOML file, validated once into frozen objects the rest of trialwatch trusts.

Why it looks like this:
- Each key is declared once, as a field of its section's dataclass: name, type (annotation and
  value type), default, help. The flat table `SETTINGS`, the validation, the `check-config`
  output and `config.example.toml` are all derived from those declarations, so a key cannot be
  documented in one place and forgotten in another. Declaring on the dataclasses (rather than in
  a separate list) is what keeps `settings.schedule.interval` typed for `mypy --strict`.
- Defaults are written the way a user would write them in the file ("24h", "trialwatch.db") and
  go through the same parsing, so the documented default is exactly the effective one.
- Every problem is collected and reported at once, each naming the file, the `[section].key`,
  what is wrong and what to do: fixing a file one error per run is miserable.
- Paths: an absolute path is used as is; "~/" means the home directory; any other relative path
  is resolved against the state directory ($STATE_DIRECTORY from systemd, else
  $XDG_STATE_HOME/trialwatch, else ~/.local/state/trialwatch), never against the working
  directory, which differs between a shell and a service.
- The SMTP password is never in this file (config files get copied, pasted and committed); it is
  read from `[smtp].password_file` or systemd's `LoadCredential=smtp-password`.
- Loading reads the settings file and nothing else: directories are created by the parts that
  write into them, and the password is read only when mail is sent.
"""

# ruff: noqa: RUF009 - `setting()`, `section()` and `tables()` return `dataclasses.field(...)`:
# they are field specifiers, not the shared default values this rule exists to catch.

from __future__ import annotations

import difflib
import json
import math
import os
import re
import tomllib
from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from datetime import timedelta
from pathlib import Path
from typing import Any, Generic, TypeVar
from urllib.parse import urlsplit

from watcher import __version__
from watcher.core.addresses import validate_mailbox
from watcher.errors import ConfigError

T = TypeVar("T")
S = TypeVar("S")

# A value as the settings file spells it (tables are sections, never values).
TomlValue = str | int | float | bool | list[Any]

MIN_INTERVAL = timedelta(minutes=1)
MASK = "********"
CREDENTIAL_NAME = "smtp-password"

# Keys refused outright, with the reason; checked before "unknown key".
_REFUSED = {
    ("smtp", "password"): (
        "passwords are never read from the settings file (it gets copied and shared); put the "
        "password alone in a file only trialwatch can read and set [smtp].password_file, or use "
        f"systemd's LoadCredential={CREDENTIAL_NAME}:/path/to/file"
    ),
}


# -- value types: raw TOML value -> typed value, and back for display -------------------------


@dataclass(frozen=True)
class _Context:
    """What parsing a value may depend on besides the value itself."""

    state_dir: Path
    home: Path


class ValueType(ABC, Generic[T]):
    """How one kind of setting is read from TOML and shown again.

    `parse` raises ValueError with a message that reads well after "[section].key: ".
    """

    @abstractmethod
    def parse(self, raw: object, ctx: _Context) -> T: ...

    @abstractmethod
    def show(self, value: T) -> TomlValue: ...


def _describe(raw: object) -> str:
    """Name a wrong value the way the user wrote it: "sixty" in quotes, tables by kind."""
    if isinstance(raw, bool):
        return "true" if raw else "false"
    if isinstance(raw, str | int | float):
        return json.dumps(raw, ensure_ascii=False)
    if isinstance(raw, dict):
        return "a table"
    if isinstance(raw, list):
        return "a list"
    return f"a {type(raw).__name__}"  # TOML dates and times


def _string(raw: object, expected: str) -> str:
    if not isinstance(raw, str):
        raise ValueError(f"expected {expected}, got {_describe(raw)}")
    return raw


@dataclass(frozen=True)
class Blankable(ValueType[T | None]):
    """`inner`, or None when the value is "" (the TOML spelling of "not set")."""

    inner: ValueType[T]

    def parse(self, raw: object, ctx: _Context) -> T | None:
        if isinstance(raw, str) and not raw.strip():
            return None
        return self.inner.parse(raw, ctx)

    def show(self, value: T | None) -> TomlValue:
        return "" if value is None else self.inner.show(value)


@dataclass(frozen=True)
class Text(ValueType[str]):
    """Free text that must not be empty."""

    def parse(self, raw: object, ctx: _Context) -> str:
        text = _string(raw, "a string").strip()
        if not text:
            raise ValueError("must not be empty")
        return text

    def show(self, value: str) -> TomlValue:
        return value


@dataclass(frozen=True)
class Host(ValueType[str]):
    """A host name or IP address; catches the URL or "host:port" pasted where a host goes."""

    def parse(self, raw: object, ctx: _Context) -> str:
        text = Text().parse(raw, ctx)
        if "/" in text or re.fullmatch(r"[^:]+:\d*", text):
            raise ValueError(
                f'"{text}" is not a host name; write the name only, e.g. "smtp.example.org" '
                "(port and security have keys of their own)"
            )
        if any(ch.isspace() for ch in text):
            raise ValueError(f'"{text}" is not a host name: it contains a space')
        return text

    def show(self, value: str) -> TomlValue:
        return value


@dataclass(frozen=True)
class Url(ValueType[str]):
    """An http(s) URL, kept without a trailing slash so paths can be appended."""

    https_only: bool = False

    def parse(self, raw: object, ctx: _Context) -> str:
        text = _string(raw, "a URL").strip()
        schemes = ("https",) if self.https_only else ("http", "https")
        try:
            parts = urlsplit(text)
        except ValueError:  # e.g. an unclosed IPv6 bracket
            parts = urlsplit("")
        if parts.scheme not in schemes or not parts.hostname or any(c.isspace() for c in text):
            wanted = "an https:// URL" if self.https_only else "an http:// or https:// URL"
            raise ValueError(f"expected {wanted}, got {_describe(text)}")
        return text.rstrip("/")

    def show(self, value: str) -> TomlValue:
        return value


@dataclass(frozen=True)
class Number(ValueType[float]):
    """A number above a floor (whole numbers are accepted: `timeout_s = 30`)."""

    above: float

    def parse(self, raw: object, ctx: _Context) -> float:
        if isinstance(raw, bool) or not isinstance(raw, int | float) or not math.isfinite(raw):
            raise ValueError(f"expected a number, got {_describe(raw)}")
        if raw <= self.above:
            raise ValueError(f"must be more than {self.above:g}, got {raw}")
        return float(raw)

    def show(self, value: float) -> TomlValue:
        return value


@dataclass(frozen=True)
class Integer(ValueType[int]):
    """A whole number within bounds."""

    minimum: int
    maximum: int | None = None

    def parse(self, raw: object, ctx: _Context) -> int:
        if isinstance(raw, bool) or not isinstance(raw, int):
            raise ValueError(f"expected a whole number, got {_describe(raw)}")
        if self.maximum is not None and not self.minimum <= raw <= self.maximum:
            raise ValueError(f"must be from {self.minimum} to {self.maximum}, got {raw}")
        if raw < self.minimum:
            raise ValueError(f"must be {self.minimum} or more, got {raw}")
        return raw

    def show(self, value: int) -> TomlValue:
        return value


@dataclass(frozen=True)
class Choice(ValueType[str]):
    """One of a fixed set of words (case does not matter)."""

    options: tuple[str, ...]

    def parse(self, raw: object, ctx: _Context) -> str:
        text = _string(raw, f"one of {', '.join(self.options)}").strip().lower()
        if text not in self.options:
            hint = _did_you_mean(text, {option: f'"{option}"' for option in self.options})
            raise ValueError(f"{_describe(raw)} is not a choice here; {hint}")
        return text

    def show(self, value: str) -> TomlValue:
        return value


@dataclass(frozen=True)
class Duration(ValueType[timedelta]):
    """A duration string ("90s", "15m", "6h", "1d", "1h30m") with a floor."""

    minimum: timedelta

    def parse(self, raw: object, ctx: _Context) -> timedelta:
        text = _string(raw, 'a duration such as "15m"')
        value = parse_duration(text)
        if value < self.minimum:
            raise ValueError(
                f'"{text.strip()}" is shorter than the {_in_words(self.minimum)} minimum; '
                f'use "{format_duration(self.minimum)}" or more'
            )
        return value

    def show(self, value: timedelta) -> TomlValue:
        return format_duration(value)


@dataclass(frozen=True)
class PathValue(ValueType[Path]):
    """A file or directory: absolute, "~/..." in the home directory, else in the state directory."""

    def parse(self, raw: object, ctx: _Context) -> Path:
        text = _string(raw, "a path").strip()
        if not text:
            raise ValueError("must not be empty; give a file name or a path")
        if text == "~" or text.startswith("~/"):
            return ctx.home / text[2:]
        return ctx.state_dir / text  # joining an absolute path yields that path

    def show(self, value: Path) -> TomlValue:
        return str(value)


@dataclass(frozen=True)
class Mailbox(ValueType[str]):
    """An email address, optionally with a display name (the rules: `watcher.core.addresses`)."""

    def parse(self, raw: object, ctx: _Context) -> str:
        return validate_mailbox(_string(raw, "an email address"))

    def show(self, value: str) -> TomlValue:
        return value


@dataclass(frozen=True)
class Names(ValueType[tuple[str, ...]]):
    """A list of lower-case names such as change kinds; duplicates are dropped."""

    def parse(self, raw: object, ctx: _Context) -> tuple[str, ...]:
        if not isinstance(raw, list):
            raise ValueError(f'expected a list of names such as ["status"], got {_describe(raw)}')
        names: dict[str, None] = {}
        for item in raw:
            if not isinstance(item, str) or not re.fullmatch(r"[a-z][a-z_]*", item.strip()):
                raise ValueError(
                    f'expected lower-case names such as "status", got {_describe(item)}'
                )
            names.setdefault(item.strip(), None)
        return tuple(names)

    def show(self, value: tuple[str, ...]) -> TomlValue:
        return list(value)


# -- durations ---------------------------------------------------------------------------------

_UNITS = (("d", 86400, "day"), ("h", 3600, "hour"), ("m", 60, "minute"), ("s", 1, "second"))
_DURATION = re.compile(r"\s*".join(rf"(?:(?P<{u}>\d+)\s*{u})?" for u, _, _ in _UNITS), re.I)


def parse_duration(text: str) -> timedelta:
    """Read "90s", "15m", "6h", "1d" or a combination largest unit first ("1h30m", "1d 12h").

    Raises ValueError with a message that says what a duration looks like.
    """
    match = _DURATION.fullmatch(text.strip())
    if match is None or not any(match.groups()):
        raise ValueError(
            f'"{text.strip()}" is not a duration; write a whole number and a unit '
            '(s, m, h or d), e.g. "90s", "15m", "6h", "1d" or "1h30m"'
        )
    seconds = sum(int(match[u] or 0) * size for u, size, _ in _UNITS)
    return timedelta(seconds=seconds)


def format_duration(value: timedelta) -> str:
    """The shortest text `parse_duration` reads back as `value` (whole seconds)."""
    rest = int(value.total_seconds())
    parts: list[str] = []
    for unit, size, _ in _UNITS:
        count, rest = divmod(rest, size)
        if count:
            parts.append(f"{count}{unit}")
    return "".join(parts) or "0s"


def _in_words(value: timedelta) -> str:
    """ "1 minute", "2 hours": the largest unit that divides the duration exactly."""
    seconds = int(value.total_seconds())
    size, word = next((size, word) for _, size, word in _UNITS if seconds % size == 0)
    count = seconds // size
    return f"{count} {word}{'s' * (count != 1)}"


# -- the declarations --------------------------------------------------------------------------

_SETTING = "trialwatch.setting"
_SECTION = "trialwatch.section"


@dataclass(frozen=True)
class _Declared:
    kind: ValueType[Any]
    default: TomlValue | None
    help: str
    key: str | None
    secret: bool
    example: TomlValue


def setting(
    kind: ValueType[T],
    default: TomlValue | None,
    help: str,
    *,
    key: str | None = None,
    secret: bool = False,
    example: TomlValue | None = None,
) -> T:
    """Declare one key: its value type, its default as written in TOML, and a one-line help.

    `key` is the TOML name when it is not the field name (`from` is a Python keyword).
    `default=None` makes the key required; `example` is then what config.example.toml shows.
    """
    shown = default if example is None else example
    if shown is None:
        raise TypeError(f"{help!r}: a required setting needs an example")
    declared: T = field(metadata={_SETTING: _Declared(kind, default, help, key, secret, shown)})
    return declared


def section(cls: type[S]) -> S:
    """Declare a `[name]` section of Settings."""
    declared: S = field(metadata={_SECTION: (cls, False)})
    return declared


def tables(cls: type[S]) -> tuple[S, ...]:
    """Declare a section of Settings that is zero or more `[[name]]` tables."""
    declared: tuple[S, ...] = field(metadata={_SECTION: (cls, True)})
    return declared


@dataclass(frozen=True)
class RegistrySettings:
    """How trialwatch talks to ClinicalTrials.gov."""

    base_url: str = setting(
        Url(), "https://clinicaltrials.gov/api/v2", "ClinicalTrials.gov API v2 base URL"
    )
    user_agent: str = setting(
        Text(), f"trialwatch/{__version__}", "User-Agent header sent with every request"
    )
    timeout_s: float = setting(Number(above=0), 30.0, "seconds to wait for one response")
    requests_per_minute: int = setting(
        Integer(0), 60, "politeness limit on requests; 0 turns the limit off (benchmarks only)"
    )
    max_retries: int = setting(
        Integer(0), 4, "retries of one request after a timeout, 429 or 5xx (with backoff)"
    )
    ids_per_request: int = setting(
        Integer(1, 1000), 200, "NCT IDs per light-fields request (keeps URLs short)"
    )
    records_per_request: int = setting(Integer(1, 1000), 20, "full records per request")


@dataclass(frozen=True)
class StorageSettings:
    """Where the history of every watched trial is kept."""

    database: Path = setting(PathValue(), "trialwatch.db", "SQLite database file")


@dataclass(frozen=True)
class ScheduleSettings:
    """When the daemon checks the registry and sends digests."""

    interval: timedelta = setting(
        Duration(MIN_INTERVAL), "1h", "how often the daemon polls (1m or more)"
    )
    full_check_every: timedelta = setting(
        Duration(MIN_INTERVAL),
        "24h",
        "check every trial at least this often, even when the registry's data has not moved",
    )
    failing_after: int = setting(
        Integer(1), 3, "consecutive failed checks before a trial is reported as failing"
    )
    digest_hour: int = setting(
        Integer(0, 23), 8, "hour of the day (local time, 0-23) when digests are sent"
    )
    digest_weekday: str = setting(
        Choice(("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")),
        "monday",
        "day of the week when weekly digests are sent",
    )


@dataclass(frozen=True)
class FeedSettings:
    """The Atom and RSS files written for each watched trial."""

    dir: Path = setting(PathValue(), "feeds", "directory the feed files are written to")
    entries: int = setting(Integer(1), 50, "entries kept in each feed")


@dataclass(frozen=True)
class MailSettings:
    """Who notification email comes from, and where it goes when no SMTP server is set."""

    sender: str = setting(
        Mailbox(),
        "trialwatch <trialwatch@localhost>",
        "From: address, optionally with a display name",
        key="from",
    )
    admin: str | None = setting(
        Blankable(Mailbox()), "", "address for health alerts; empty: no alerts"
    )
    maildir: Path = setting(
        PathValue(), "maildir", "Maildir that receives the mail when [smtp].host is empty"
    )


@dataclass(frozen=True)
class SmtpSettings:
    """The mail server. Its password is read from a file, never from the settings file."""

    host: str | None = setting(Blankable(Host()), "", "SMTP server; empty: deliver to the Maildir")
    port: int = setting(Integer(1, 65535), 587, "SMTP port")
    security: str = setting(
        Choice(("starttls", "tls", "none")), "starttls", "starttls, tls (implicit TLS) or none"
    )
    username: str | None = setting(Blankable(Text()), "", "login name; empty: no login")
    password_file: Path | None = setting(
        Blankable(PathValue()),
        "",
        f"file holding the password; empty: $CREDENTIALS_DIRECTORY/{CREDENTIAL_NAME} if present",
    )


@dataclass(frozen=True)
class WebSettings:
    """The public web address that links in email point to."""

    base_url: str | None = setting(
        Blankable(Url(https_only=True)),
        "",
        "public https:// base URL for one-click unsubscribe links; empty: mailto: links",
    )


@dataclass(frozen=True)
class LogSettings:
    """How much the daemon writes to its log."""

    level: str = setting(
        Choice(("debug", "info", "warning", "error")), "info", "debug, info, warning or error"
    )


@dataclass(frozen=True)
class Webhook:
    """Webhooks: each change (or each of the listed kinds) is POSTed to every [[webhooks]] url."""

    url: str = setting(
        Url(), None, "http:// or https:// URL to POST to", example="https://example.org/hook"
    )
    secret: str = setting(
        Text(),
        None,
        "HMAC-SHA256 key that signs each request; a secret: check-config masks it",
        secret=True,
        example="change-me-to-a-long-random-string",
    )
    kinds: tuple[str, ...] = setting(Names(), [], "change kinds to send; empty: all kinds")


@dataclass(frozen=True)
class Settings:
    """Everything trialwatch was told, validated. Build it with `load_settings`."""

    source: Path | None  # the settings file; None: built-in defaults
    state_dir: Path  # relative paths in the settings file were resolved against it
    registry: RegistrySettings = section(RegistrySettings)
    storage: StorageSettings = section(StorageSettings)
    schedule: ScheduleSettings = section(ScheduleSettings)
    feeds: FeedSettings = section(FeedSettings)
    mail: MailSettings = section(MailSettings)
    smtp: SmtpSettings = section(SmtpSettings)
    web: WebSettings = section(WebSettings)
    log: LogSettings = section(LogSettings)
    webhooks: tuple[Webhook, ...] = tables(Webhook)
    # The path ("[smtp].port", "[[webhooks]]#1.url") of every value the file set.
    from_file: frozenset[str] = frozenset()


def _path(section_name: str, key: str, *, many: bool, index: int | None = None) -> str:
    """How messages and docs name a key: "[smtp].port", "[[webhooks]]#2.url"."""
    if many:
        return f"[[{section_name}]]{'' if index is None else f'#{index}'}.{key}"
    return f"[{section_name}].{key}"


@dataclass(frozen=True)
class Setting:
    """One row of the key table `SETTINGS`."""

    section: str
    many: bool  # the section is zero or more [[tables]]
    key: str  # the TOML name
    field: str  # the attribute on the section object
    kind: ValueType[Any]
    default: TomlValue | None  # as written in TOML; None: required
    help: str
    secret: bool  # masked in check-config output
    example: TomlValue  # what config.example.toml shows: the default, or an example

    @property
    def path(self) -> str:
        """ "[registry].base_url" or "[[webhooks]].url", as messages and the docs name it."""
        return _path(self.section, self.key, many=self.many)


@dataclass(frozen=True)
class Section:
    """One section: `name` is the TOML table and the attribute of Settings."""

    name: str
    cls: type[Any]
    many: bool
    settings: tuple[Setting, ...]

    @property
    def help(self) -> str:
        return (self.cls.__doc__ or "").splitlines()[0]


def _section(name: str, cls: type[Any], many: bool) -> Section:
    rows = []
    for f in fields(cls):
        d: _Declared = f.metadata[_SETTING]
        key = d.key or f.name
        rows.append(
            Setting(name, many, key, f.name, d.kind, d.default, d.help, d.secret, d.example)
        )
    return Section(name, cls, many, tuple(rows))


SECTIONS: tuple[Section, ...] = tuple(
    _section(f.name, *f.metadata[_SECTION]) for f in fields(Settings) if _SECTION in f.metadata
)
SETTINGS: tuple[Setting, ...] = tuple(s for sec in SECTIONS for s in sec.settings)


# -- loading -----------------------------------------------------------------------------------


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
    reader = _Reader(str(path or "built-in defaults"), _Context(state_dir, _home(env)))
    built = reader.document(document)
    if reader.problems:
        raise ConfigError(reader.problems)
    return Settings(
        source=path, state_dir=state_dir, from_file=frozenset(reader.from_file), **built
    )


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
    try:
        return tomllib.loads(data.decode("utf-8"))
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


def _did_you_mean(word: str, shown: Mapping[str, str]) -> str:
    """ "did you mean X?" for the closest name, else the full list (`shown`: name -> display)."""
    close = difflib.get_close_matches(word, list(shown), n=1)
    if close:
        return f"did you mean {shown[close[0]]}?"
    return "expected one of " + ", ".join(shown.values())


class _Reader:
    """Walks the parsed file once, collecting every problem instead of stopping at the first."""

    def __init__(self, source: str, ctx: _Context) -> None:
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
        return built

    def unknown_top_level(self, name: str, value: object) -> None:
        if not isinstance(value, dict | list):
            homes = [s.section for s in SETTINGS if s.key == name and not s.many]
            if homes:
                self.problem(name, f"a key outside any section; it belongs under [{homes[0]}]")
                return
        shown = {sec.name: f"[[{sec.name}]]" if sec.many else f"[{sec.name}]" for sec in SECTIONS}
        self.problem(f"[{name}]", "unknown section; " + _did_you_mean(name, shown))

    def tables(self, sec: Section, value: object) -> tuple[Any, ...]:
        if not isinstance(value, list):
            self.problem(
                f"[{sec.name}]",
                f"expected [[{sec.name}]] tables (double brackets), got {_describe(value)}",
            )
            return ()
        built = []
        for index, item in enumerate(value, 1):
            if not isinstance(item, dict):
                self.problem(f"[[{sec.name}]]#{index}", f"expected a table, got {_describe(item)}")
                continue
            built.append(self.table(sec, item, index))
        return tuple(built)

    def table(self, sec: Section, value: object, index: int | None = None) -> Any:
        """The section object, or None when a problem was found (the caller raises)."""
        if not isinstance(value, dict):
            self.problem(f"[{sec.name}]", f"expected a [{sec.name}] table, got {_describe(value)}")
            return None
        values: dict[str, Any] = {}
        for s in sec.settings:
            where = _path(sec.name, s.key, many=sec.many, index=index)
            if s.key in value:
                raw = value[s.key]
                self.from_file.add(where)
            elif s.default is None:
                self.problem(where, f"missing; add {s.key} = {_toml(s.example)} ({s.help})")
                continue
            else:
                raw = s.default
            try:
                values[s.field] = s.kind.parse(raw, self.ctx)
            except ValueError as exc:
                self.problem(where, str(exc))
        shown = {s.key: s.key if sec.many else s.path for s in sec.settings}
        for key in value:
            if key in shown:
                continue
            where = _path(sec.name, key, many=sec.many, index=index)
            refused = _REFUSED.get((sec.name, key))
            self.problem(where, refused or "unknown key; " + _did_you_mean(key, shown))
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
        credentials = env.get("CREDENTIALS_DIRECTORY")
        if not credentials:
            return None
        path = Path(credentials) / CREDENTIAL_NAME
        named_by = f"LoadCredential={CREDENTIAL_NAME}"
        if not path.exists():
            return None
    try:
        password = path.read_text(encoding="utf-8").removesuffix("\n").removesuffix("\r")
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) else "not UTF-8 text"
        raise ConfigError(
            [f"{path}: cannot read the SMTP password named by {named_by} ({reason})"]
        ) from None
    if not password:
        raise ConfigError(
            [
                f"{path}: the SMTP password file named by {named_by} is empty; "
                "put the password in it, alone on one line"
            ]
        )
    return password


# -- showing the settings ----------------------------------------------------------------------


@dataclass(frozen=True)
class EffectiveValue:
    """One line of `check-config`: a key, its value as TOML would hold it, and where it came from.

    `value` is "" for a setting that is not set, and secrets are `MASK`ed.
    """

    path: str  # "[smtp].port", "[[webhooks]]#1.url"
    section: str
    index: int | None  # which [[webhooks]] table, from 1; None in a [section]
    key: str
    value: TomlValue
    origin: str  # "default", or the settings file


def effective_settings(settings: Settings) -> list[EffectiveValue]:
    """Every effective value in file order, secrets masked (for `check-config`)."""
    rows: list[EffectiveValue] = []
    for sec in SECTIONS:
        found = getattr(settings, sec.name)
        objects = enumerate(found, 1) if sec.many else [(None, found)]
        for index, obj in objects:
            for s in sec.settings:
                path = _path(sec.name, s.key, many=sec.many, index=index)
                value = s.kind.show(getattr(obj, s.field))
                if s.secret and value:
                    value = MASK
                origin = str(settings.source) if path in settings.from_file else "default"
                rows.append(EffectiveValue(path, sec.name, index, s.key, value, origin))
    return rows


def effective_json(settings: Settings) -> dict[str, Any]:
    """`check-config --json`: the source, the state directory and every value (masked)."""
    return {
        "source": None if settings.source is None else str(settings.source),
        "state_dir": str(settings.state_dir),
        "settings": [
            {"key": r.path, "value": r.value, "from": r.origin}
            for r in effective_settings(settings)
        ],
    }


def format_effective(settings: Settings) -> str:
    """`check-config` text: valid TOML, each value commented with where it came from."""
    lines = [f"# state directory: {settings.state_dir}"]
    table: tuple[str, int | None] | None = None
    for row in effective_settings(settings):
        if (row.section, row.index) != table:
            table = (row.section, row.index)
            lines += ["", f"[{row.section}]" if row.index is None else f"[[{row.section}]]"]
        note = row.origin if row.value != "" else f"{row.origin}; not set"
        lines.append(f"{row.key} = {_toml(row.value)}  # {note}")
    if not settings.webhooks:
        lines += ["", "# no [[webhooks]]"]
    return "\n".join(lines)


def _toml(value: TomlValue) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return "[" + ", ".join(_toml(v) for v in value) + "]"
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)  # JSON string escapes are valid TOML
    return repr(value)


# -- the example file --------------------------------------------------------------------------

_EXAMPLE_HEADER = """\
# trialwatch settings: every key, with its default value.
#
# Use a file like this with `trialwatch --config FILE` or $TRIALWATCH_CONFIG=FILE; with
# neither, these defaults apply. Uncomment a line to change it; unknown keys are errors.
# `trialwatch check-config` shows the values in effect and where each came from.
#
# Relative paths are resolved against the state directory: $STATE_DIRECTORY (set by systemd's
# StateDirectory=; the first entry), else $XDG_STATE_HOME/trialwatch, else
# ~/.local/state/trialwatch. "~/" means the home directory.
# Durations are whole numbers with a unit: "90s", "15m", "6h", "1d", or combined: "1h30m".
# The SMTP password never goes in this file: see [smtp].password_file.
#
# Generated by watcher.config.schema.example_toml(); a test keeps the two in step."""


def example_toml() -> str:
    """The text of config.example.toml, generated from the declarations so it cannot drift."""
    lines = [_EXAMPLE_HEADER]
    for sec in SECTIONS:
        lines += ["", f"# {sec.help}"]
        if sec.many:
            lines += ["# An example (uncomment it; repeat the block for each webhook):"]
            lines.append(f"#[[{sec.name}]]")
        else:
            lines.append(f"[{sec.name}]")
        for s in sec.settings:
            required = " (required)" if s.default is None else ""
            lines += [f"# {s.help}{required}", f"#{s.key} = {_toml(s.example)}"]
    return "\n".join(lines) + "\n"
