"""Bad input is refused at the door: one `Error:` line naming the argument or the file and
`[section].key`, the right exit code (2 for an argument, 78 for the settings), nothing stored.

Each value here once got in and failed later: a Unicode address crashed every delivery, full-width
digits got a 400 from the registry for ever, a 999999999-day interval overflowed the clock.
"""

from __future__ import annotations

import stat
from pathlib import Path

import pytest
from conftest import ReplayServer, Trialwatch, demo_versions

STARTED = "NCT07310784"
FULL_WIDTH = "NCT\uff10\uff17\uff13\uff11\uff10\uff17\uff18\uff14"  # what \\d also matches
ARABIC_INDIC = "NCT\u0660\u0667\u0663\u0661\u0660\u0667\u0668\u0664"

BAD_ARGUMENTS = [
    ("watch", "add", FULL_WIDTH),
    ("watch", "add", ARABIC_INDIC),
    ("watch", "add", "NCT07310784\x00"),
    ("watch", "add", STARTED, "--every", "999999999d"),
    ("watch", "add", STARTED, "--every", "366d"),
    ("watch", "add", STARTED, "--every", "99999999999999999999d"),
    ("watch", "add", STARTED, "--every", "30s"),
    ("watch", "add", STARTED, "--every", "1d\x00\n6h"),
    ("subscribe", "zoë@example.org", STARTED),
    ("subscribe", "pat@example.org\r\nBcc: all@example.org", STARTED),
    ("subscribe", "pat@exa mple.org", STARTED),
    ("subscribe", "pat@müller..de", STARTED),
    ("subscribe", "pat@example.org", FULL_WIDTH),
]

# (lines under [registry], other sections, what the one error line says)
BAD_SETTINGS = [
    ("timeout_s = 1e308", "", "[registry].timeout_s: must be at most 3600, got 1e+308"),
    ("max_retries = 9223372036854775807", "", "[registry].max_retries: must be at most 10000"),
    ('user_agent = "tw\\r\\nX-Injected: 1"', "", "[registry].user_agent: contains the control"),
    (
        'user_agent = "tw\\u0000"',
        "",
        "[registry].user_agent: contains the control character U+0000",
    ),
    ("", "[feeds]\nentries = 9223372036854775807", "[feeds].entries: must be at most 10000"),
    ("", '[schedule]\ninterval = "999999999d"', '[schedule].interval: "999999999d" is longer'),
    ("", '[schedule]\ninterval = "99999999999999999999d"', "is too long to be a duration"),
    ("", '[storage]\ndatabase = "a\\nb.db"', "[storage].database: contains the control"),
    ("", '[mail]\nadmin = "zoë@example.org"', '[mail].admin: "zoë@example.org" is not an'),
    ("", '[mail]\nfrom = "tw <tw@example.org>\\r\\nBcc: x@example.org"', "[mail].from: contains"),
    ("", '[web]\nbase_url = "https://example.org/\\u0007"', "[web].base_url: contains the"),
    ("", '[[webhooks]]\nurl = "https://example.org/h"\nsecret = "a\\u0000b"', "secret: contains"),
    ("", "x = " + "[" * 20 + "]" * 20, "nested more than 8 deep"),
    ("", "x = " + "[" * 5000 + "]" * 5000, "nested more than 8 deep"),
    ("", "# " + "x" * (1 << 20), "is too large for a settings file"),
    (
        "",
        '[smtp]\nhost = "127.0.0.1"\nusername = "u"\npassword_file = "/nonexistent/pw"',
        "/nonexistent/pw: cannot read the SMTP password named by [smtp].password_file",
    ),
]


def _settings(replay: ReplayServer, registry: str, rest: str) -> str:
    """A settings file for the replay server, `registry` overriding one of its keys."""
    keys = {"base_url": f'"{replay.base_url}"', "timeout_s": "1.0", "max_retries": "0"}
    keys["requests_per_minute"] = "0"
    if registry:
        key, value = registry.split(" = ", 1)
        keys[key] = value
    lines = "".join(f"{key} = {value}\n" for key, value in keys.items())
    return f"[registry]\n{lines}{rest}\n"


def _one_error_line(stderr: str) -> str:
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("Error: "), stderr
    return lines[0]


@pytest.mark.parametrize("args", BAD_ARGUMENTS, ids=[repr(a[-1])[:30] for a in BAD_ARGUMENTS])
def test_a_bad_argument_is_one_line_exit_2_and_nothing_stored(
    trialwatch: Trialwatch, args: tuple[str, ...]
) -> None:
    """Refused before the store is opened: the watch list and the subscribers stay empty."""
    result = trialwatch(*args, expect=2)
    line = _one_error_line(result.stderr)
    assert "--every" in line or "EMAIL" in line or "NCT" in line
    assert result.stdout == ""
    assert trialwatch.json("watch", "list") == []
    assert trialwatch.json("subscribers") == []


@pytest.mark.parametrize(
    ("registry", "rest", "says"), BAD_SETTINGS, ids=[s[2][:30] for s in BAD_SETTINGS]
)
def test_a_bad_setting_is_one_line_exit_78_and_nothing_stored(
    trialwatch: Trialwatch, replay: ReplayServer, registry: str, rest: str, says: str
) -> None:
    """check-config and check both stop with 78, naming the file and the key; nothing stored."""
    trialwatch("watch", "add", STARTED)
    replay.registry.publish(demo_versions(STARTED)[0])
    good = trialwatch.config.read_text(encoding="utf-8")
    trialwatch.config.write_text(_settings(replay, registry, rest), encoding="utf-8")
    for command in ("check-config", "check"):
        line = _one_error_line(trialwatch(command, expect=78).stderr)
        assert says in line and (str(trialwatch.config) in line or "/nonexistent/pw" in line)
    trialwatch.config.write_text(good, encoding="utf-8")
    (watched,) = trialwatch.json("watch", "list")
    assert watched["versions"] == 0
    assert trialwatch.json("status")["outbox"] == {
        "pending": 0,
        "sent": 0,
        "failed": 0,
        "last_delivery": None,
        "failures": [],
    }


def test_an_idn_address_is_stored_and_shown_in_idna(
    trialwatch: Trialwatch, replay: ReplayServer
) -> None:
    """pat@müller.de is deliverable as pat@xn--mller-kva.de: that is what is kept."""
    replay.registry.publish(demo_versions(STARTED)[0])
    trialwatch("watch", "add", STARTED)
    result = trialwatch("subscribe", "pat@müller.de", STARTED)
    assert f"{STARTED}  subscribed" in result.stdout and "@" not in result.stdout
    assert [s["email"] for s in trialwatch.json("subscribers")] == ["pat@xn--mller-kva.de"]


def _leaky(trialwatch: Trialwatch, replay: ReplayServer, mode: int, security: str) -> Path:
    password = trialwatch.config.parent / "smtp-password"
    password.write_text("s3cret\n", encoding="utf-8")
    trialwatch.config.write_text(
        _settings(replay, "", "")
        + f'[smtp]\nhost = "127.0.0.1"\nusername = "tw"\nsecurity = "{security}"\n'
        + f'password_file = "{password}"\n'
        + '[[webhooks]]\nurl = "https://example.org/hook"\nsecret = "hook-secret"\n',
        encoding="utf-8",
    )
    for path in (password, trialwatch.config):
        path.chmod(mode)
    return password


def test_leaky_settings_get_one_warning_line_each(
    trialwatch: Trialwatch, replay: ReplayServer
) -> None:
    """A clear-text login, a password file and a settings file with secrets readable by all."""
    password = _leaky(trialwatch, replay, 0o644, "none")
    warnings = [
        line
        for line in trialwatch("check-config").stderr.splitlines()
        if line.startswith("Warning: ")
    ]
    assert len(warnings) == 3
    assert 'security = "none" with a username' in warnings[0]
    assert f"{password}: the SMTP password file is readable by every user" in warnings[1]
    assert (
        f"{trialwatch.config}: holds webhook secrets and is readable by every user" in (warnings[2])
    )
    assert "s3cret" not in "\n".join(warnings) and "hook-secret" not in "\n".join(warnings)


def test_private_settings_get_no_warning(trialwatch: Trialwatch, replay: ReplayServer) -> None:
    """Files only their owner reads and an encrypted login: nothing to say."""
    password = _leaky(trialwatch, replay, 0o600, "starttls")
    assert stat.S_IMODE(password.stat().st_mode) == 0o600
    assert trialwatch("check-config").stderr == ""


def test_an_interval_stored_before_the_limit_neither_overflows_nor_crashes_status(
    trialwatch: Trialwatch, replay: ReplayServer
) -> None:
    """A trial stored with `--every 999999999d` by an older version is checked yearly at most."""
    from watcher.core.schedule import LONGEST_INTERVAL, interval_of, next_check_at
    from watcher.store.database import Store

    trialwatch("watch", "add", STARTED)
    with Store(trialwatch.state_dir / "trialwatch.db") as store:
        store.db.execute(
            "UPDATE trials SET every_s = ?, last_checked_at = ?",
            [86400 * 999999999, "2026-11-24T09:00:00+00:00"],
        )
        (trial,) = store.trials()
    assert interval_of(trial, LONGEST_INTERVAL) == LONGEST_INTERVAL
    assert next_check_at(trial, LONGEST_INTERVAL) is not None
    assert trialwatch.json("status")["trials"]["watched"] == 1


def test_sighup_with_a_missing_password_file_keeps_the_old_settings(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """The daemon's reload reads the password file too: gone, the old settings stay in effect."""
    from watcher.config import load_settings
    from watcher.service.daemon import Daemon

    env = {"STATE_DIRECTORY": str(tmp_path / "state"), "HOME": str(tmp_path)}
    config = tmp_path / "config.toml"
    config.write_text('[log]\nlevel = "info"\n', encoding="utf-8")
    daemon = Daemon(load_settings(config, env), config, env=env, jobs=())
    before = daemon._settings
    config.write_text(
        '[smtp]\nhost = "127.0.0.1"\nusername = "tw"\npassword_file = "/nonexistent/pw"\n',
        encoding="utf-8",
    )
    daemon.reload()
    assert daemon._settings is before
    assert "settings not reloaded" in caplog.text and "/nonexistent/pw" in caplog.text
