"""The settings: every key declared once, on its section's dataclass, and the tables derived.

Why it looks like this:
- Each key is declared once, as a field of its section's dataclass: name, value type (see
  `watcher.config.values`), default, help. The flat table `SETTINGS`, the validation
  (`watcher.config.load`), the `check-config` output and `config.example.toml`
  (`watcher.config.show`) are all derived from those declarations, so a key cannot be
  documented in one place and forgotten in another. Declaring on the dataclasses (rather than in
  a separate list) is what keeps `settings.schedule.interval` typed for `mypy --strict`.
- The SMTP password is never in the settings file (config files get copied, pasted and
  committed); `[smtp].password_file` or systemd's `LoadCredential=smtp-password` names it. A
  chat channel's Apprise URL holds its token, so the same goes for it: `url` only when it
  holds no secret, else `url_file` or `LoadCredential=channel-NAME` (`watcher.config.channels`).
"""

# ruff: noqa: RUF009 - `setting()`, `section()` and `tables()` return `dataclasses.field(...)`:
# they are field specifiers, not the shared default values this rule exists to catch.

from __future__ import annotations

from dataclasses import dataclass, field, fields
from datetime import timedelta
from importlib.metadata import version
from pathlib import Path
from typing import Any, TypeVar

from watcher import __version__
from watcher.config.values import (
    AppriseUrl,
    Blankable,
    ChannelName,
    Choice,
    Duration,
    Flag,
    Host,
    Integer,
    Listen,
    ListOf,
    Mailbox,
    Names,
    NctId,
    Number,
    PathValue,
    Text,
    TomlValue,
    Url,
    ValueType,
)
from watcher.core.change import AUDIENCES, KIND_ORDER
from watcher.core.ids import MAX_IDS_PER_REQUEST
from watcher.core.schedule import WEEKDAYS

T = TypeVar("T")
S = TypeVar("S")

MIN_INTERVAL = timedelta(minutes=1)
CREDENTIAL_NAME = "smtp-password"

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


# ClinicalTrials.gov has answered 403 to a custom User-Agent that did not look like httpx's own:
# name trialwatch and where to reach its authors, then the library, as browsers and httpx do.
DEFAULT_USER_AGENT = (
    f"trialwatch/{__version__} (+https://github.com/trialwatch/trialwatch) "
    f"python-httpx/{version('httpx')}"
)


@dataclass(frozen=True)
class RegistrySettings:
    """How trialwatch talks to ClinicalTrials.gov."""

    base_url: str = setting(
        Url(), "https://clinicaltrials.gov/api/v2", "ClinicalTrials.gov API v2 base URL"
    )
    history_url: str = setting(
        Url(),
        "https://clinicaltrials.gov/api/int",
        "ClinicalTrials.gov's internal history API base URL (every past version of a trial; "
        "undocumented, so read best effort)",
    )
    user_agent: str = setting(
        Text(),
        DEFAULT_USER_AGENT,
        "User-Agent header sent with every request; keep the python-httpx part: the registry "
        "has refused (403) User-Agents that did not look like httpx",
    )
    timeout_s: float = setting(Number(above=0), 30.0, "seconds to wait for one response")
    requests_per_minute: int = setting(
        Integer(0),
        50,
        "politeness limit on requests (the registry's folklore limit is about 50 a minute); "
        "0 turns the limit off (benchmarks only)",
    )
    max_retries: int = setting(
        Integer(0), 4, "retries of one request after a timeout, 429 or 5xx (with backoff)"
    )
    ids_per_request: int = setting(
        Integer(1, MAX_IDS_PER_REQUEST),
        MAX_IDS_PER_REQUEST,
        f"NCT IDs per light-fields request (filter.ids); at most {MAX_IDS_PER_REQUEST}, as "
        "production clients of the registry send",
    )
    records_per_request: int = setting(Integer(1, 1000), 20, "full records per request")
    backfill_on_add: bool = setting(
        Flag(),
        False,
        "read every past version of a trial from the registry's history when it is added "
        "(as `watch add --backfill`): one request per version, at the polite rate",
    )


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
    full_refresh: timedelta = setting(
        Duration(MIN_INTERVAL),
        "7d",
        "fetch and compare every trial's whole record at least this often, also when neither "
        "its update date nor its status moved (the registry adds a reference without either); "
        "spread over the cycles, about one trial in seven a day at 7d",
    )
    failing_after: int = setting(
        Integer(1), 3, "consecutive failed checks before a trial is reported as failing"
    )
    digest_hour: int = setting(
        Integer(0, 23), 8, "hour of the day (local time, 0-23) when digests are sent"
    )
    digest_weekday: str = setting(
        Choice(WEEKDAYS),
        "monday",
        "day of the week when weekly digests are sent",
    )


@dataclass(frozen=True)
class FeedSettings:
    """The Atom and RSS files written for each watched trial."""

    dir: Path = setting(PathValue(), "feeds", "directory the feed files are written to")
    entries: int = setting(Integer(1), 50, "entries kept in each feed")
    include_history: bool = setting(
        Flag(),
        False,
        "also list the changes read from a trial's past versions (`trialwatch backfill`), "
        "dated when they happened; off, a feed lists what changed while watched",
    )


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
    """The web front (`trialwatch serve`) and the public address that links in email point to."""

    base_url: str | None = setting(
        Blankable(Url(https_only=True)),
        "",
        "public https:// base URL for one-click unsubscribe links (http:// only for a site on "
        "this machine); empty: mailto: links",
    )
    listen: tuple[str, int] = setting(
        Listen(),
        "127.0.0.1:8080",
        "host:port `trialwatch serve` listens on; keep it on 127.0.0.1 behind a TLS proxy",
    )
    allow_new_trials: bool = setting(
        Flag(),
        False,
        "let a reader who types a valid NCT ID nobody watches yet have it fetched and watched",
    )
    max_trials: int = setting(
        Integer(1),
        1000,
        "watched trials beyond which the web front adds no more (allow_new_trials)",
    )
    confirmations_per_day: int = setting(
        Integer(1, 100),
        3,
        "confirmation emails one address can be sent in 24 hours (more requests send nothing)",
    )
    subscribe_per_hour: int = setting(
        Integer(1, 10_000),
        20,
        "subscribe requests one client IP may make in an hour (more are refused with 429)",
    )


@dataclass(frozen=True)
class ApiSettings:
    """The coordinators' JSON API under /api/v1 (keys: `trialwatch api-key create NAME`)."""

    public_read: bool = setting(
        Flag(),
        False,
        "let anyone read trials, versions and changes without a key (writes always need one)",
    )
    requests_per_minute: int = setting(
        Integer(1, 100_000),
        600,
        "API requests one client IP may make in a minute (more are refused with 429)",
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
class Channel:
    """Chat channels: each change (or each of the listed kinds) is posted through Apprise."""

    name: str = setting(
        ChannelName(),
        None,
        "a short name, unique among the [[channels]]: `trialwatch channel test NAME`, `status`",
        example="trial-office",
    )
    url: str | None = setting(
        Blankable(AppriseUrl()),
        "",
        "Apprise URL WITHOUT a secret (e.g. ntfy://ntfy.example.org/topic); empty: read the "
        "whole URL from url_file, else $CREDENTIALS_DIRECTORY/channel-NAME",
        example="ntfy://ntfy.example.org/trial-office",
    )
    url_file: Path | None = setting(
        Blankable(PathValue()),
        "",
        "file holding the whole Apprise URL, its token included (chmod 600); used when url is "
        "empty",
    )
    kinds: tuple[str, ...] = setting(
        ListOf(Choice(KIND_ORDER)), [], "change kinds to post; empty: all kinds"
    )
    audience: str = setting(
        Choice(AUDIENCES),
        "coordinator",
        "coordinator (the exact old → new lines) or patient (plain words)",
    )
    trials: tuple[str, ...] = setting(
        ListOf(NctId()), [], "only these trials (NCT IDs); empty and no searches: every trial"
    )
    searches: tuple[str, ...] = setting(
        ListOf(Text()),
        [],
        "only the trials these saved searches matched (their names), as well as `trials`",
    )


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
    api: ApiSettings = section(ApiSettings)
    log: LogSettings = section(LogSettings)
    webhooks: tuple[Webhook, ...] = tables(Webhook)
    channels: tuple[Channel, ...] = tables(Channel)
    # The path ("[smtp].port", "[[webhooks]]#1.url") of every value the file set.
    from_file: frozenset[str] = frozenset()


def key_path(section_name: str, key: str, *, many: bool, index: int | None = None) -> str:
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
        return key_path(self.section, self.key, many=self.many)


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
