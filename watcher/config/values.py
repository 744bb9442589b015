"""Value types: how one setting is read from TOML, with a message that says the fix, and shown.

Why it looks like this:
- Each kind of value (a host, a URL, a duration, a path...) is one small class with `parse` and
  `show`, so the settings sections only name a kind and a default; validation, `check-config`
  and `config.example.toml` all go through the same two methods.
- Defaults are written the way a user would write them in the file ("24h", "trialwatch.db") and
  go through the same parsing, so the documented default is exactly the effective one.
- Every value has an upper bound as well as a lower one, and no string holds a control
  character: a value that loads but breaks something later (a 999999999-day interval overflows
  the clock arithmetic, 2**63-1 overflows SQLite, CR/LF in a User-Agent makes every request
  fail) must be refused here, where `check-config` names the key, not hours later in the daemon.
- Paths: an absolute path is used as is; "~/" means the home directory; any other relative path
  is resolved against the state directory, never against the working directory, which differs
  between a shell and a service.
"""

from __future__ import annotations

import difflib
import json
import math
import re
import unicodedata
from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any, Generic, TypeVar
from urllib.parse import urlsplit

from watcher.config.apprise_urls import holds_secret, url_problem
from watcher.core.addresses import validate_mailbox
from watcher.core.ids import parse_nct_id
from watcher.core.schedule import LONGEST_INTERVAL
from watcher.errors import InputError

T = TypeVar("T")

# A value as the settings file spells it (tables are sections, never values).
TomlValue = str | int | float | bool | list[Any]

# The longest duration anything is scheduled on: a year is the longest wait anyone means, and
# far below the ~2.7 million years after which `now + interval` overflows a datetime.
MAX_DURATION = LONGEST_INTERVAL
# The largest count any setting takes (feed entries, retries, requests per minute...). None of
# them means anything near it, and 2**63-1 would overflow SQLite and the loops that count up.
MAX_COUNT = 10_000
# The longest wait for one answer, in seconds (the only unbounded number is a timeout): an hour
# is already absurd for an HTTP request, and 1e308 overflows the event loop's deadlines.
MAX_SECONDS = 3600.0


@dataclass(frozen=True)
class ParseContext:
    """What parsing a value may depend on besides the value itself."""

    state_dir: Path
    home: Path


class ValueType(ABC, Generic[T]):
    """How one kind of setting is read from TOML and shown again.

    `parse` raises ValueError with a message that reads well after "[section].key: ".
    """

    @abstractmethod
    def parse(self, raw: object, ctx: ParseContext) -> T: ...

    @abstractmethod
    def show(self, value: T) -> TomlValue: ...


def describe(raw: object) -> str:
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
    """`raw` when it is a string free of control characters (which end up in headers and paths)."""
    if not isinstance(raw, str):
        raise ValueError(f"expected {expected}, got {describe(raw)}")
    refuse_control_characters(raw)
    return raw


def refuse_control_characters(text: str) -> None:
    """Raise ValueError naming the first control character or line separator in `text`."""
    for ch in text:
        if unicodedata.category(ch) in ("Cc", "Zl", "Zp"):
            raise ValueError(
                f"contains the control character U+{ord(ch):04X}; remove it (no line breaks, "
                "tabs or NUL in a value)"
            )


@dataclass(frozen=True)
class Blankable(ValueType[T | None]):
    """`inner`, or None when the value is "" (the TOML spelling of "not set")."""

    inner: ValueType[T]

    def parse(self, raw: object, ctx: ParseContext) -> T | None:
        if isinstance(raw, str) and not raw.strip():
            return None
        return self.inner.parse(raw, ctx)

    def show(self, value: T | None) -> TomlValue:
        return "" if value is None else self.inner.show(value)


@dataclass(frozen=True)
class Text(ValueType[str]):
    """Free text that must not be empty."""

    def parse(self, raw: object, ctx: ParseContext) -> str:
        text = _string(raw, "a string").strip()
        if not text:
            raise ValueError("must not be empty")
        return text

    def show(self, value: str) -> TomlValue:
        return value


@dataclass(frozen=True)
class Host(ValueType[str]):
    """A host name or IP address; catches the URL or "host:port" pasted where a host goes."""

    def parse(self, raw: object, ctx: ParseContext) -> str:
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


LOOPBACK_HOSTS = frozenset({"localhost", "127.0.0.1", "::1"})


@dataclass(frozen=True)
class Url(ValueType[str]):
    """An http(s) URL, kept without a trailing slash so paths can be appended.

    `https_only` still lets an http:// URL on this machine through (localhost, 127.0.0.1, ::1):
    nothing crosses a network there, and a site tried out locally (`demo --serve`) needs its
    links to point at itself."""

    https_only: bool = False

    def parse(self, raw: object, ctx: ParseContext) -> str:
        text = _string(raw, "a URL").strip()
        try:
            parts = urlsplit(text)
        except ValueError:  # e.g. an unclosed IPv6 bracket
            parts = urlsplit("")
        schemes: tuple[str, ...] = ("http", "https")
        if self.https_only and parts.hostname not in LOOPBACK_HOSTS:
            schemes = ("https",)
        if parts.scheme not in schemes or not parts.hostname or any(c.isspace() for c in text):
            wanted = (
                "an https:// URL (http:// only on this machine: localhost, 127.0.0.1)"
                if self.https_only
                else "an http:// or https:// URL"
            )
            raise ValueError(f"expected {wanted}, got {describe(text)}")
        return text.rstrip("/")

    def show(self, value: str) -> TomlValue:
        return value


@dataclass(frozen=True)
class Number(ValueType[float]):
    """A number of seconds above a floor and at most `maximum` (`timeout_s = 30` is fine too)."""

    above: float
    maximum: float = MAX_SECONDS

    def parse(self, raw: object, ctx: ParseContext) -> float:
        if isinstance(raw, bool) or not isinstance(raw, int | float) or not math.isfinite(raw):
            raise ValueError(f"expected a number, got {describe(raw)}")
        if raw <= self.above:
            raise ValueError(f"must be more than {self.above:g}, got {raw}")
        if raw > self.maximum:
            raise ValueError(f"must be at most {self.maximum:g}, got {raw:g}")
        return float(raw)

    def show(self, value: float) -> TomlValue:
        return value


@dataclass(frozen=True)
class Integer(ValueType[int]):
    """A whole number within bounds; without a declared maximum, at most `MAX_COUNT`."""

    minimum: int
    maximum: int | None = None

    def parse(self, raw: object, ctx: ParseContext) -> int:
        if isinstance(raw, bool) or not isinstance(raw, int):
            raise ValueError(f"expected a whole number, got {describe(raw)}")
        if self.maximum is not None and not self.minimum <= raw <= self.maximum:
            raise ValueError(f"must be from {self.minimum} to {self.maximum}, got {raw}")
        if raw < self.minimum:
            raise ValueError(f"must be {self.minimum} or more, got {raw}")
        if self.maximum is None and raw > MAX_COUNT:
            raise ValueError(f"must be at most {MAX_COUNT}, got {raw}")
        return raw

    def show(self, value: int) -> TomlValue:
        return value


@dataclass(frozen=True)
class Flag(ValueType[bool]):
    """true or false, as TOML writes them (not "yes", not 1: a typo must not flip a switch)."""

    def parse(self, raw: object, ctx: ParseContext) -> bool:
        if not isinstance(raw, bool):
            raise ValueError(f"expected true or false, got {describe(raw)}")
        return raw

    def show(self, value: bool) -> TomlValue:
        return value


@dataclass(frozen=True)
class Listen(ValueType[tuple[str, int]]):
    """Where a server listens: "host:port" ("[::1]:8080" for an IPv6 address); port 0 asks the
    system for a free port (the server prints the one it got)."""

    def parse(self, raw: object, ctx: ParseContext) -> tuple[str, int]:
        text = Text().parse(raw, ctx)
        host, colon, port = text.rpartition(":")
        host = host.removeprefix("[").removesuffix("]")
        if not colon or not host or not port.isdigit() or int(port) > 65535:
            raise ValueError(f'expected "host:port", e.g. "127.0.0.1:8080", got {describe(text)}')
        if any(ch.isspace() or ch == "/" for ch in host):
            raise ValueError(f"{describe(text)}: the host part is not a host name or address")
        return host, int(port)

    def show(self, value: tuple[str, int]) -> TomlValue:
        host, port = value
        return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


@dataclass(frozen=True)
class Choice(ValueType[str]):
    """One of a fixed set of words (case does not matter)."""

    options: tuple[str, ...]

    def parse(self, raw: object, ctx: ParseContext) -> str:
        text = _string(raw, f"one of {', '.join(self.options)}").strip().lower()
        if text not in self.options:
            hint = did_you_mean(text, {option: f'"{option}"' for option in self.options})
            raise ValueError(f"{describe(raw)} is not a choice here; {hint}")
        return text

    def show(self, value: str) -> TomlValue:
        return value


@dataclass(frozen=True)
class Duration(ValueType[timedelta]):
    """A duration string ("90s", "15m", "6h", "1d", "1h30m") from a floor to `MAX_DURATION`."""

    minimum: timedelta

    def parse(self, raw: object, ctx: ParseContext) -> timedelta:
        return bounded_duration(_string(raw, 'a duration such as "15m"'), self.minimum)

    def show(self, value: timedelta) -> TomlValue:
        return format_duration(value)


@dataclass(frozen=True)
class PathValue(ValueType[Path]):
    """A file or directory: absolute, "~/..." in the home directory, else in the state directory."""

    def parse(self, raw: object, ctx: ParseContext) -> Path:
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

    def parse(self, raw: object, ctx: ParseContext) -> str:
        return validate_mailbox(_string(raw, "an email address"))

    def show(self, value: str) -> TomlValue:
        return value


@dataclass(frozen=True)
class Names(ValueType[tuple[str, ...]]):
    """A list of lower-case names such as change kinds; duplicates are dropped."""

    def parse(self, raw: object, ctx: ParseContext) -> tuple[str, ...]:
        if not isinstance(raw, list):
            raise ValueError(f'expected a list of names such as ["status"], got {describe(raw)}')
        names: dict[str, None] = {}
        for item in raw:
            if not isinstance(item, str) or not re.fullmatch(r"[a-z][a-z_]*", item.strip()):
                raise ValueError(
                    f'expected lower-case names such as "status", got {describe(item)}'
                )
            names.setdefault(item.strip(), None)
        return tuple(names)

    def show(self, value: tuple[str, ...]) -> TomlValue:
        return list(value)


@dataclass(frozen=True)
class ListOf(ValueType[tuple[T, ...]]):
    """A list of `inner` values (`["status", "eligibility"]`); duplicates are dropped."""

    inner: ValueType[T]

    def parse(self, raw: object, ctx: ParseContext) -> tuple[T, ...]:
        if not isinstance(raw, list):
            raise ValueError(f'expected a list such as ["a", "b"], got {describe(raw)}')
        values: dict[T, None] = {}
        for item in raw:
            values.setdefault(self.inner.parse(item, ctx), None)
        return tuple(values)

    def show(self, value: tuple[T, ...]) -> TomlValue:
        return [self.inner.show(v) for v in value]


@dataclass(frozen=True)
class NctId(ValueType[str]):
    """A ClinicalTrials.gov ID, written in its canonical form ("nct07310784" → "NCT07310784")."""

    def parse(self, raw: object, ctx: ParseContext) -> str:
        try:
            return parse_nct_id(_string(raw, "an NCT ID"))
        except InputError as exc:
            raise ValueError(str(exc)) from None

    def show(self, value: str) -> TomlValue:
        return value


@dataclass(frozen=True)
class ChannelName(ValueType[str]):
    """A channel's name: it is typed on the command line, named in `status` and in the outbox
    keys, and names its credential file (`channel-NAME`), so it is short and plain."""

    def parse(self, raw: object, ctx: ParseContext) -> str:
        text = _string(raw, "a name").strip()
        if not re.fullmatch(r"[a-z0-9][a-z0-9_-]{0,39}", text):
            raise ValueError(
                f"{describe(text)} is not a channel name; use up to 40 lower-case letters, "
                'digits, "-" and "_", e.g. "trial-office"'
            )
        return text

    def show(self, value: str) -> TomlValue:
        return value


@dataclass(frozen=True)
class AppriseUrl(ValueType[str]):
    """An Apprise URL Apprise can use, holding no secret (those go in a credentials file)."""

    def parse(self, raw: object, ctx: ParseContext) -> str:
        text = _string(raw, "an Apprise URL").strip()
        problem = url_problem(text)
        if problem:
            raise ValueError(problem)
        if holds_secret(text):
            raise ValueError(
                "holds a secret (a token or password) and the settings file gets copied and "
                "shared; leave url empty and put the whole URL in the file url_file names, "
                "or in systemd's LoadCredential=channel-NAME"
            )
        return text

    def show(self, value: str) -> TomlValue:
        return value


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
            f"{describe(text.strip())} is not a duration; write a whole number and a unit "
            '(s, m, h or d), e.g. "90s", "15m", "6h", "1d" or "1h30m"'
        )
    seconds = sum(int(match[u] or 0) * size for u, size, _ in _UNITS)
    try:
        return timedelta(seconds=seconds)
    except OverflowError:
        raise ValueError(f"{describe(text.strip())} is too long to be a duration") from None


def bounded_duration(text: str, minimum: timedelta) -> timedelta:
    """`parse_duration`, refusing less than `minimum` and more than `MAX_DURATION`."""
    value = parse_duration(text)
    if value < minimum:
        raise ValueError(
            f"{describe(text.strip())} is shorter than the {_in_words(minimum)} minimum; "
            f'use "{format_duration(minimum)}" or more'
        )
    if value > MAX_DURATION:
        raise ValueError(
            f"{describe(text.strip())} is longer than the {_in_words(MAX_DURATION)} maximum; "
            f'use "{format_duration(MAX_DURATION)}" or less'
        )
    return value


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


# -- names and TOML text ----------------------------------------------------------------------


def did_you_mean(word: str, shown: Mapping[str, str]) -> str:
    """ "did you mean X?" for the closest name, else the full list (`shown`: name -> display)."""
    close = difflib.get_close_matches(word, list(shown), n=1)
    if close:
        return f"did you mean {shown[close[0]]}?"
    return "expected one of " + ", ".join(shown.values())


def toml_text(value: TomlValue) -> str:
    """`value` as it is written in a TOML file."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return "[" + ", ".join(toml_text(v) for v in value) + "]"
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)  # JSON string escapes are valid TOML
    return repr(value)
