"""Settings: real TOML files in a temporary directory, loaded the way the CLI loads them."""

from __future__ import annotations

import dataclasses
import json
import re
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st

from watcher import __version__
from watcher.config import (
    MASK,
    SECTIONS,
    SETTINGS,
    Settings,
    Webhook,
    effective_json,
    effective_settings,
    example_toml,
    format_duration,
    format_effective,
    load_settings,
    parse_duration,
    smtp_password,
    state_directory,
)
from watcher.errors import ConfigError

EXAMPLE = Path(__file__).parent.parent / "config.example.toml"


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    """An environment with only a home directory, so the real one never leaks in."""
    return {"HOME": str(tmp_path / "home")}


def write(tmp_path: Path, text: str, name: str = "config.toml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def problems(path: Path, env: dict[str, str]) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        load_settings(path, env)
    return caught.value.problems


# -- defaults and the state directory ----------------------------------------------------------


def test_defaults_without_a_file_live_under_the_home_state_directory(
    env: dict[str, str],
) -> None:
    """With no settings file, the database, feeds and Maildir sit in ~/.local/state/trialwatch."""
    settings = load_settings(None, env)
    state = Path(env["HOME"]) / ".local" / "state" / "trialwatch"
    assert settings.source is None
    assert settings.state_dir == state
    assert settings.storage.database == state / "trialwatch.db"
    assert settings.feeds.dir == state / "feeds"
    assert settings.mail.maildir == state / "maildir"
    assert settings.registry.base_url == "https://clinicaltrials.gov/api/v2"
    assert settings.registry.user_agent == (
        f"trialwatch/{__version__} (+https://github.com/trialwatch/trialwatch) "
        f"python-httpx/{httpx.__version__}"
    )
    assert (settings.registry.requests_per_minute, settings.registry.ids_per_request) == (50, 500)
    assert settings.registry.timeout_s == 30.0
    assert settings.schedule.interval == timedelta(hours=1)
    assert settings.schedule.full_check_every == timedelta(days=1)
    assert settings.mail.sender == "trialwatch <trialwatch@localhost>"
    assert settings.mail.admin is None
    assert settings.smtp.host is None
    assert settings.smtp.password_file is None
    assert settings.web.base_url is None
    assert settings.webhooks == ()


def test_systemd_state_directory_wins_and_only_its_first_entry_counts(
    env: dict[str, str],
) -> None:
    """Under systemd, everything goes to the first directory StateDirectory= created."""
    env |= {"STATE_DIRECTORY": "/var/lib/trialwatch:/var/lib/other", "XDG_STATE_HOME": "/xdg"}
    settings = load_settings(None, env)
    assert settings.state_dir == Path("/var/lib/trialwatch")
    assert settings.storage.database == Path("/var/lib/trialwatch/trialwatch.db")


def test_xdg_state_home_is_used_when_systemd_sets_nothing(env: dict[str, str]) -> None:
    """A desktop user with $XDG_STATE_HOME finds trialwatch's files in a folder there."""
    env["XDG_STATE_HOME"] = "/home/u/state"
    assert load_settings(None, env).feeds.dir == Path("/home/u/state/trialwatch/feeds")


def test_relative_xdg_state_home_is_ignored(env: dict[str, str]) -> None:
    """A relative $XDG_STATE_HOME is invalid per the XDG spec, so the home default applies."""
    env["XDG_STATE_HOME"] = "state"
    assert state_directory(env) == Path(env["HOME"]) / ".local" / "state" / "trialwatch"


def test_trialwatch_config_variable_names_the_file(tmp_path: Path, env: dict[str, str]) -> None:
    """Without --config, the file named by $TRIALWATCH_CONFIG is read."""
    path = write(tmp_path, '[schedule]\ninterval = "15m"\n')
    env["TRIALWATCH_CONFIG"] = str(path)
    settings = load_settings(None, env)
    assert settings.source == path
    assert settings.schedule.interval == timedelta(minutes=15)


# -- a full, valid file ------------------------------------------------------------------------

FULL = """
[registry]
base_url = "http://127.0.0.1:8765/api/v2/"
user_agent = "trialwatch-test/1"
timeout_s = 5
requests_per_minute = 0
max_retries = 0
ids_per_request = 500
records_per_request = 1

[storage]
database = "/srv/trialwatch/watch.db"

[schedule]
interval = "1h30m"
full_check_every = "2d"
failing_after = 1
digest_hour = 0
digest_weekday = "Sunday"

[feeds]
dir = "~/public/feeds"
entries = 10

[mail]
from = "Trial Watch <Alerts@Example.ORG>"
admin = "ops@example.org"
maildir = "mail/inbox"

[smtp]
host = "smtp.example.org"
port = 465
security = "tls"
username = "trialwatch"
password_file = "secrets/smtp"

[web]
base_url = "https://watch.example.org/"

[log]
level = "debug"

[[webhooks]]
url = "https://hooks.example.org/a"
secret = "first-secret"

[[webhooks]]
url = "http://localhost:9000/b"
secret = "second-secret"
kinds = ["status", "eligibility", "status"]
"""


def test_a_full_file_sets_every_key(tmp_path: Path, env: dict[str, str]) -> None:
    """Every key in a complete file reaches the settings, typed, with paths made absolute."""
    env["STATE_DIRECTORY"] = "/var/lib/trialwatch"
    settings = load_settings(write(tmp_path, FULL), env)
    reg = settings.registry
    assert reg.base_url == "http://127.0.0.1:8765/api/v2"
    assert (reg.user_agent, reg.timeout_s, reg.requests_per_minute) == ("trialwatch-test/1", 5, 0)
    assert (reg.max_retries, reg.ids_per_request, reg.records_per_request) == (0, 500, 1)
    assert isinstance(reg.timeout_s, float)
    assert settings.storage.database == Path("/srv/trialwatch/watch.db")
    sched = settings.schedule
    assert sched.interval == timedelta(hours=1, minutes=30)
    assert sched.full_check_every == timedelta(days=2)
    assert (sched.failing_after, sched.digest_hour, sched.digest_weekday) == (1, 0, "sunday")
    assert settings.feeds.dir == Path(env["HOME"]) / "public" / "feeds"
    assert settings.feeds.entries == 10
    assert settings.mail.sender == "Trial Watch <Alerts@Example.ORG>"
    assert settings.mail.admin == "ops@example.org"
    assert settings.mail.maildir == Path("/var/lib/trialwatch/mail/inbox")
    smtp = settings.smtp
    assert (smtp.host, smtp.port, smtp.security, smtp.username) == (
        "smtp.example.org",
        465,
        "tls",
        "trialwatch",
    )
    assert smtp.password_file == Path("/var/lib/trialwatch/secrets/smtp")
    assert settings.web.base_url == "https://watch.example.org"
    assert settings.log.level == "debug"
    assert settings.webhooks == (
        Webhook(url="https://hooks.example.org/a", secret="first-secret", kinds=()),
        Webhook(
            url="http://localhost:9000/b", secret="second-secret", kinds=("status", "eligibility")
        ),
    )


def test_check_config_says_which_values_came_from_the_file(
    tmp_path: Path, env: dict[str, str]
) -> None:
    """check-config marks each value as the file's or the default."""
    path = write(
        tmp_path, '[smtp]\nport = 25\n[[webhooks]]\nurl = "https://h.example"\nsecret = "s"\n'
    )
    origins = {row.path: row.origin for row in effective_settings(load_settings(path, env))}
    assert origins["[smtp].port"] == str(path)
    assert origins["[smtp].host"] == "default"
    assert origins["[[webhooks]]#1.url"] == str(path)
    assert origins["[[webhooks]]#1.kinds"] == "default"
    assert len(origins) == len([s for s in SETTINGS if not s.many]) + 3


# -- mistakes in the file ----------------------------------------------------------------------


def test_unknown_key_suggests_the_close_one(tmp_path: Path, env: dict[str, str]) -> None:
    """A misspelt key names the file, the key and the key that was probably meant."""
    path = write(tmp_path, '[schedule]\nintervall = "2h"\n')
    assert problems(path, env) == [
        f"{path}: [schedule].intervall: unknown key; did you mean [schedule].interval?"
    ]


def test_unknown_key_without_a_close_match_lists_the_keys(
    tmp_path: Path, env: dict[str, str]
) -> None:
    """A key that resembles nothing is answered with the keys the section does have."""
    path = write(tmp_path, "[log]\ncolour = true\n")
    assert problems(path, env) == [
        f"{path}: [log].colour: unknown key; expected one of [log].level"
    ]


def test_unknown_section_suggests_the_close_one(tmp_path: Path, env: dict[str, str]) -> None:
    """A misspelt section header is named, with the section that was probably meant."""
    path = write(tmp_path, '[schedul]\ninterval = "2h"\n[webhook]\nurl = "https://x.example"\n')
    assert problems(path, env) == [
        f"{path}: [schedul]: unknown section; did you mean [schedule]?",
        f"{path}: [webhook]: unknown section; did you mean [[webhooks]]?",
    ]


def test_unknown_section_without_a_close_match_lists_the_sections(
    tmp_path: Path, env: dict[str, str]
) -> None:
    """A section that resembles nothing is answered with every section there is."""
    path = write(tmp_path, "[zzz]\n")
    (problem,) = problems(path, env)
    assert problem.startswith(f"{path}: [zzz]: unknown section; expected one of [registry], ")
    assert problem.endswith("[log], [[webhooks]], [[channels]]")


def test_key_above_every_section_header_names_its_section(
    tmp_path: Path, env: dict[str, str]
) -> None:
    """A key written before any header is told which section it belongs in."""
    path = write(tmp_path, 'interval = "2h"\n')
    assert problems(path, env) == [
        f"{path}: interval: a key outside any section; it belongs under [schedule]"
    ]


@pytest.mark.parametrize(
    ("line", "problem"),
    [
        ('[schedule]\nfailing_after = "sixty"', 'expected a whole number, got "sixty"'),
        ("[schedule]\ndigest_hour = 7.5", "expected a whole number, got 7.5"),
        ("[smtp]\nport = true", "expected a whole number, got true"),
        ('[registry]\ntimeout_s = "fast"', 'expected a number, got "fast"'),
        ("[registry]\ntimeout_s = nan", "expected a number, got NaN"),
        ("[schedule]\ninterval = 60", 'expected a duration such as "15m", got 60'),
        ("[storage]\ndatabase = 1979-05-27", "expected a path, got a date"),
        (
            '[[webhooks]]\nurl = "https://x.example"\nsecret = "s"\nkinds = "status"',
            "expected a list",
        ),
    ],
)
def test_wrong_type_says_what_was_expected_and_found(
    tmp_path: Path, env: dict[str, str], line: str, problem: str
) -> None:
    """A value of the wrong type says what was expected and shows what was written."""
    (found,) = problems(write(tmp_path, line + "\n"), env)
    assert problem in found


@pytest.mark.parametrize(
    ("line", "problem"),
    [
        (
            "[registry]\nids_per_request = 0",
            "[registry].ids_per_request: must be from 1 to 500, got 0",
        ),
        ("[registry]\nmax_retries = -1", "[registry].max_retries: must be 0 or more, got -1"),
        ("[registry]\ntimeout_s = 0", "[registry].timeout_s: must be more than 0, got 0"),
        ("[schedule]\ndigest_hour = 24", "[schedule].digest_hour: must be from 0 to 23, got 24"),
        ("[smtp]\nport = 70000", "[smtp].port: must be from 1 to 65535, got 70000"),
        ('[schedule]\ndigest_weekday = "mondy"', 'did you mean "monday"?'),
        ('[smtp]\nsecurity = "ssl"', 'expected one of "starttls", "tls", "none"'),
        ('[registry]\nbase_url = "clinicaltrials.gov"', "expected an http:// or https:// URL"),
        ('[web]\nbase_url = "http://watch.example.org"', "expected an https:// URL (http:// only"),
        ('[mail]\nfrom = "trialwatch"', '[mail].from: "trialwatch" is not an email address'),
        ('[smtp]\nhost = "smtp.example.org:587"', "write the name only"),
        ('[storage]\ndatabase = ""', "[storage].database: must not be empty"),
    ],
)
def test_value_out_of_bounds_says_what_to_use(
    tmp_path: Path, env: dict[str, str], line: str, problem: str
) -> None:
    """A value of the right type but outside what works says what would work."""
    (found,) = problems(write(tmp_path, line + "\n"), env)
    assert problem in found


def test_a_site_on_this_machine_may_link_over_http(tmp_path: Path, env: dict[str, str]) -> None:
    """`[web] base_url` is https, except a loopback address (a site tried out locally)."""
    for url in ("http://127.0.0.1:8080", "http://localhost:8080/", "http://[::1]:8080"):
        settings = load_settings(write(tmp_path, f'[web]\nbase_url = "{url}"\n'), env=env)
        assert settings.web.base_url == url.rstrip("/")


def test_interval_below_one_minute_is_refused(tmp_path: Path, env: dict[str, str]) -> None:
    """Polling more often than once a minute is refused with the smallest value allowed."""
    path = write(tmp_path, '[schedule]\ninterval = "30s"\n')
    assert problems(path, env) == [
        f'{path}: [schedule].interval: "30s" is shorter than the 1 minute minimum; use "1m" or more'
    ]


def test_bad_duration_text_shows_what_a_duration_looks_like(
    tmp_path: Path, env: dict[str, str]
) -> None:
    """A duration in words is refused with examples of the accepted form."""
    path = write(tmp_path, '[schedule]\nfull_check_every = "one day"\n')
    assert problems(path, env) == [
        f'{path}: [schedule].full_check_every: "one day" is not a duration; write a whole '
        'number and a unit (s, m, h or d), e.g. "90s", "15m", "6h", "1d" or "1h30m"'
    ]


def test_every_problem_is_reported_at_once(tmp_path: Path, env: dict[str, str]) -> None:
    """One run lists every mistake in the file, not just the first."""
    path = write(
        tmp_path,
        '[registry]\ntimout_s = 3\n[schedule]\ninterval = "5s"\nfailing_after = "x"\n'
        '[extra]\n[[webhooks]]\nurl = "ftp://x"\n',
    )
    with pytest.raises(ConfigError) as caught:
        load_settings(path, env)
    found = caught.value.problems
    assert [p.split(": ")[1] for p in found] == [
        "[extra]",
        "[registry].timout_s",
        "[schedule].interval",
        "[schedule].failing_after",
        "[[webhooks]]#1.url",
        "[[webhooks]]#1.secret",
    ]
    assert all(p.startswith(f"{path}: ") for p in found)
    assert str(caught.value).startswith("6 problems in the configuration:\n  - ")
    assert caught.value.exit_code == 78


def test_webhooks_must_be_an_array_of_tables(tmp_path: Path, env: dict[str, str]) -> None:
    """A single [webhooks] table is refused with a pointer to the double brackets."""
    path = write(tmp_path, '[webhooks]\nurl = "https://x.example"\n')
    assert problems(path, env) == [
        f"{path}: [webhooks]: expected [[webhooks]] tables (double brackets), got a table"
    ]


def test_webhook_missing_keys_and_typos_name_the_table(tmp_path: Path, env: dict[str, str]) -> None:
    """Problems inside the second [[webhooks]] table say it is the second one."""
    path = write(
        tmp_path,
        '[[webhooks]]\nurl = "https://a.example"\nsecret = "s"\n'
        '[[webhooks]]\nurl = "https://b.example"\nsecrett = "s"\n',
    )
    assert problems(path, env) == [
        f'{path}: [[webhooks]]#2.secret: missing; add secret = "change-me-to-a-long-random-'
        'string" (HMAC-SHA256 key that signs each request; a secret: check-config masks it)',
        f"{path}: [[webhooks]]#2.secrett: unknown key; did you mean secret?",
    ]


def test_smtp_password_in_the_file_is_refused_with_the_alternatives(
    tmp_path: Path, env: dict[str, str]
) -> None:
    """A password written into the settings file is refused, pointing to the safe ways."""
    path = write(tmp_path, '[smtp]\nhost = "smtp.example.org"\npassword = "hunter2"\n')
    (problem,) = problems(path, env)
    assert problem.startswith(f"{path}: [smtp].password: passwords are never read")
    assert "[smtp].password_file" in problem
    assert "LoadCredential=smtp-password" in problem
    assert "hunter2" not in problem


# -- files that cannot be used -----------------------------------------------------------------


def test_missing_file_is_one_clear_line(tmp_path: Path, env: dict[str, str]) -> None:
    """A settings file that does not exist is named, with where the name came from."""
    path = tmp_path / "nope.toml"
    assert problems(path, env) == [
        f"{path}: no such file; check --config or $TRIALWATCH_CONFIG (with neither, the built-in "
        "defaults are used)"
    ]


def test_directory_is_not_a_settings_file(tmp_path: Path, env: dict[str, str]) -> None:
    """Pointing --config at a directory says so instead of failing obscurely."""
    assert problems(tmp_path, env) == [
        f"{tmp_path}: is a directory; name the TOML settings file in it"
    ]


def test_unreadable_path_gives_the_reason(tmp_path: Path, env: dict[str, str]) -> None:
    """A path the system cannot open is reported with the system's reason."""
    path = write(tmp_path, "") / "config.toml"  # a file used as a directory
    assert problems(path, env) == [
        f"{path}: cannot be read (Not a directory); check the path and its permissions"
    ]


def test_file_that_is_not_utf8_is_refused(tmp_path: Path, env: dict[str, str]) -> None:
    """A file saved in another encoding is refused with where the bad byte is."""
    path = tmp_path / "latin1.toml"
    path.write_bytes('[mail]\nfrom = "Zoë <z@example.org>"\n'.encode("latin-1"))
    assert problems(path, env) == [
        f"{path}: line 2: not UTF-8 text (byte 0xeb); save the file as UTF-8"
    ]


def test_invalid_toml_gives_line_and_column(tmp_path: Path, env: dict[str, str]) -> None:
    """A TOML syntax error is reported with its line and column."""
    path = write(tmp_path, "[schedule]\ninterval = 1h\n")
    assert problems(path, env) == [
        f"{path}: line 2, column 13: invalid TOML: Expected newline or end of document after a "
        "statement; see https://toml.io for the syntax"
    ]


def test_invalid_toml_at_the_end_of_the_file(tmp_path: Path, env: dict[str, str]) -> None:
    """A file cut short is reported as ending too early."""
    path = write(tmp_path, "[registry]\nmax_retries = ")
    assert problems(path, env) == [
        f"{path}: end of file: invalid TOML: Invalid value; see https://toml.io for the syntax"
    ]


# -- the SMTP password -------------------------------------------------------------------------


def test_password_comes_from_the_systemd_credential(tmp_path: Path, env: dict[str, str]) -> None:
    """With LoadCredential=smtp-password, the password is read from the credentials directory."""
    creds = tmp_path / "creds"
    creds.mkdir()
    (creds / "smtp-password").write_text("s3cret with spaces\n", encoding="utf-8")
    env["CREDENTIALS_DIRECTORY"] = str(creds)
    assert smtp_password(load_settings(None, env), env) == "s3cret with spaces"


def test_password_file_is_resolved_in_the_state_directory(
    tmp_path: Path, env: dict[str, str]
) -> None:
    """A relative password_file is found in the state directory, and wins over the credential."""
    state = tmp_path / "state"
    (state / "secrets").mkdir(parents=True)
    (state / "secrets" / "smtp").write_text("from-file\r\n", encoding="utf-8")
    creds = tmp_path / "creds"
    creds.mkdir()
    (creds / "smtp-password").write_text("from-credential", encoding="utf-8")
    env |= {"STATE_DIRECTORY": str(state), "CREDENTIALS_DIRECTORY": str(creds)}
    settings = load_settings(write(tmp_path, '[smtp]\npassword_file = "secrets/smtp"\n'), env)
    assert smtp_password(settings, env) == "from-file"


def test_no_password_anywhere_means_no_login_password(tmp_path: Path, env: dict[str, str]) -> None:
    """Without a password file or credential there is no password (and no error)."""
    env["CREDENTIALS_DIRECTORY"] = str(tmp_path)  # exists, but holds no smtp-password
    assert smtp_password(load_settings(None, env), env) is None
    assert smtp_password(load_settings(None, {"HOME": env["HOME"]}), {}) is None


def test_unreadable_password_file_names_the_file(tmp_path: Path, env: dict[str, str]) -> None:
    """A password_file that cannot be read is named, with the setting that points at it."""
    missing = tmp_path / "missing-password"
    settings = load_settings(write(tmp_path, f'[smtp]\npassword_file = "{missing}"\n'), env)
    with pytest.raises(ConfigError) as caught:
        smtp_password(settings, env)
    assert str(caught.value) == (
        f"{missing}: cannot read the SMTP password named by [smtp].password_file "
        "(No such file or directory)"
    )


def test_empty_password_file_is_an_error(tmp_path: Path, env: dict[str, str]) -> None:
    """An empty password file is reported rather than sent as an empty password."""
    empty = write(tmp_path, "\n", name="pw")
    settings = load_settings(write(tmp_path, f'[smtp]\npassword_file = "{empty}"\n'), env)
    with pytest.raises(ConfigError, match=re.escape(f"{empty}: the SMTP password file named")):
        smtp_password(settings, env)


# -- check-config output -----------------------------------------------------------------------


def test_secrets_are_masked_in_every_output(tmp_path: Path, env: dict[str, str]) -> None:
    """check-config never prints a webhook secret, in text or JSON."""
    settings = load_settings(write(tmp_path, FULL), env)
    text = format_effective(settings)
    as_json = json.dumps(effective_json(settings))
    for secret in ("first-secret", "second-secret"):
        assert secret not in text
        assert secret not in as_json
    assert f'secret = "{MASK}"  # {tmp_path / "config.toml"}' in text
    secrets = [r for r in effective_settings(settings) if r.key == "secret"]
    assert [r.value for r in secrets] == [MASK, MASK]


def test_an_empty_secret_is_shown_as_not_set(tmp_path: Path, env: dict[str, str]) -> None:
    """A secret that is empty shows as not set rather than as a mask."""
    settings = load_settings(write(tmp_path, FULL), env)
    blank = dataclasses.replace(settings.webhooks[0], secret="")
    text = format_effective(dataclasses.replace(settings, webhooks=(blank,)))
    assert f'secret = ""  # {tmp_path / "config.toml"}; not set' in text


def test_effective_text_is_toml_that_loads_back_to_the_same_settings(
    tmp_path: Path, env: dict[str, str]
) -> None:
    """The check-config text is itself a valid settings file (apart from masked secrets)."""
    settings = load_settings(write(tmp_path, FULL), env)
    reloaded = load_settings(write(tmp_path, format_effective(settings), "again.toml"), env)
    assert [dataclasses.replace(w, secret="") for w in reloaded.webhooks] == [
        dataclasses.replace(w, secret="") for w in settings.webhooks
    ]
    for sec in SECTIONS:
        if not sec.many:
            assert getattr(reloaded, sec.name) == getattr(settings, sec.name)


def test_effective_json_lists_every_key_with_its_origin(
    tmp_path: Path, env: dict[str, str]
) -> None:
    """check-config --json gives the source, the state directory and each key's value."""
    data = effective_json(load_settings(None, env))
    assert data["source"] is None
    assert data["state_dir"] == str(state_directory(env))
    assert [row["key"] for row in data["settings"]] == [s.path for s in SETTINGS if not s.many]
    assert {"key": "[schedule].interval", "value": "1h", "from": "default"} in data["settings"]


# -- the example file --------------------------------------------------------------------------


def test_example_file_is_generated_from_the_declarations() -> None:
    """config.example.toml documents exactly the declared keys, help and defaults."""
    assert EXAMPLE.read_text(encoding="utf-8") == example_toml(), (
        "config.example.toml is out of date; regenerate it with: python -c "
        "\"from watcher.config import example_toml; open('config.example.toml', 'w')"
        '.write(example_toml())"'
    )


def test_example_file_loads_to_the_defaults(env: dict[str, str]) -> None:
    """Using the example file unchanged gives the built-in defaults."""
    settings = load_settings(EXAMPLE, env)
    assert dataclasses.replace(settings, source=None) == load_settings(None, env)


def test_example_defaults_are_the_real_defaults(tmp_path: Path, env: dict[str, str]) -> None:
    """Uncommenting every documented value changes nothing but adding the example webhook and
    the example chat channel."""
    text = EXAMPLE.read_text(encoding="utf-8")
    uncommented = re.sub(r"^#(?=\S)", "", text, flags=re.MULTILINE)
    settings = load_settings(write(tmp_path, uncommented), env)
    defaults = load_settings(None, env)
    assert dataclasses.replace(
        settings, webhooks=(), channels=(), source=None, from_file=frozenset()
    ) == (defaults)
    (channel,) = settings.channels
    assert (channel.name, channel.url, channel.audience) == (
        "trial-office",
        "ntfy://ntfy.example.org/trial-office",
        "coordinator",
    )
    assert settings.webhooks == (
        Webhook(
            url="https://example.org/hook", secret="change-me-to-a-long-random-string", kinds=()
        ),
    )
    documented = {row.path.replace("#1", "") for row in effective_settings(settings)}
    assert documented == {s.path for s in SETTINGS}
    assert settings.from_file == {row.path for row in effective_settings(settings)}


def test_every_declared_key_has_help_and_a_settings_attribute() -> None:
    """Each declared key is documented and reachable as an attribute of the settings."""
    assert len({s.path for s in SETTINGS}) == len(SETTINGS)
    assert [sec.name for sec in SECTIONS] == [
        f.name for f in dataclasses.fields(Settings) if f.name in {sec.name for sec in SECTIONS}
    ]
    for s in SETTINGS:
        assert s.help and not s.help.endswith(".")
    assert next(s for s in SETTINGS if s.path == "[mail].from").field == "sender"


# -- durations ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("90s", timedelta(seconds=90)),
        ("15m", timedelta(minutes=15)),
        ("6h", timedelta(hours=6)),
        ("1d", timedelta(days=1)),
        ("1h30m", timedelta(hours=1, minutes=30)),
        (" 1d 12h ", timedelta(days=1, hours=12)),
        ("2H", timedelta(hours=2)),
        ("0s", timedelta(0)),
    ],
)
def test_parse_duration_reads_the_documented_forms(text: str, expected: timedelta) -> None:
    """Durations are read in seconds, minutes, hours, days and combinations of them."""
    assert parse_duration(text) == expected


@pytest.mark.parametrize("text", ["", "h", "15", "1.5h", "30m1h", "1h1h", "-5m", "5 minutes"])
def test_parse_duration_refuses_anything_else(text: str) -> None:
    """Text that is not a whole number with a unit is refused with an example."""
    with pytest.raises(ValueError, match="is not a duration; write a whole number and a unit"):
        parse_duration(text)


@given(st.integers(min_value=0, max_value=10**9))
def test_format_duration_reads_back_the_same(seconds: int) -> None:
    """Any whole-second duration shown by check-config reads back as the same duration."""
    value = timedelta(seconds=seconds)
    assert parse_duration(format_duration(value)) == value
