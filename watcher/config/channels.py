"""Chat channels (`[[channels]]`): the checks across one entry's keys, and its Apprise URL.

Why it looks like this: a channel's URL usually holds its token, so it is read like the SMTP
password (`watcher.config.credentials`): `url` in the settings file only when Apprise masks
nothing in it, else the whole URL in the file `url_file` names, else systemd's
`LoadCredential=channel-NAME`. It is read by `preflight` (so `check-config` stops on a missing
or unusable one, exit 78) and again by the sender, never printed: `channel list` shows
Apprise's privacy form (`watcher.config.apprise_urls.shown`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from watcher.config.apprise_urls import url_problem
from watcher.config.credentials import credential_path, read_secret
from watcher.config.schema import Channel
from watcher.errors import ConfigError


def credential_name(name: str) -> str:
    """The systemd credential a channel's URL may come from: "channel-NAME"."""
    return f"channel-{name}"


def channel_problems(channels: Iterable[Channel]) -> list[tuple[str, str]]:
    """What is wrong across the `[[channels]]` entries: (where, what), as the loader reports."""
    problems: list[tuple[str, str]] = []
    seen: set[str] = set()
    for channel in channels:
        if channel.name in seen:
            problems.append(
                (f"[[channels]] {channel.name} name", "two channels have this name; rename one")
            )
        seen.add(channel.name)
        if channel.url is not None and channel.url_file is not None:
            problems.append(
                (
                    f"[[channels]] {channel.name} url_file",
                    "set url (a URL without a secret) or url_file (a file with the whole URL), "
                    "not both",
                )
            )
    return problems


def channel_url(channel: Channel, env: Mapping[str, str]) -> str:
    """The channel's whole Apprise URL, secrets included: never print or log it.

    Raises ConfigError naming the channel when it has none, or when Apprise cannot use the one
    read from a file (the message never repeats the URL).
    """
    if channel.url is not None:
        return channel.url
    credential = credential_name(channel.name)
    path = channel.url_file or credential_path(env, credential)
    if path is None:
        raise ConfigError(
            [
                f"[[channels]] {channel.name} url: not set; write an Apprise URL without a "
                f"secret, or put the whole URL in a file named by url_file (or systemd's "
                f"LoadCredential={credential})"
            ]
        )
    named_by = (
        f"[[channels]] {channel.name} url_file"
        if channel.url_file is not None
        else f"LoadCredential={credential}"
    )
    url = read_secret(path, f"the Apprise URL of channel {channel.name}", named_by, "the URL")
    problem = url_problem(url.strip())
    if problem:
        raise ConfigError([f"{path}: the URL named by {named_by}: {problem}"])
    return url.strip()
