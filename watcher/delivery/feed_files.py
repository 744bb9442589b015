"""Writing the feed files: one per watched trial, one for all trials, one private per subscriber.

Files are replaced atomically (written beside, then renamed), so a feed reader or web server
never sees half a feed. A subscriber's private feed lives at a path made of their random feed
token (256 bits), and holds only the changes their subscriptions ask for; no feed ever holds
an address.

A web server runs as a user of its own, so the files are readable by everyone (0644) and the
folders can be walked (0755), whatever the process's umask: they are published anyway. The
`private/` folder can be walked but not listed (0711): a private feed is reached only by its
name, which nobody can guess, and a web server cannot list the names either.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from collections.abc import Callable, Sequence
from datetime import datetime
from pathlib import Path

from watcher.config import Settings
from watcher.core.change import Change
from watcher.core.feeds import Entry, FeedInfo, atom, entries, rss
from watcher.core.ids import registry_url
from watcher.core.subscriptions import Subscription, wants
from watcher.store.database import Store

FILE_MODE = 0o644  # a feed is read by the web server's user
FOLDER_MODE = 0o755
PRIVATE_FOLDER_MODE = 0o711  # walked to a known name, never listed


def write_atomically(path: Path, data: bytes) -> None:
    """Replace `path` with `data` in one step, readable by the web server (`FILE_MODE`)."""
    path.parent.mkdir(mode=FOLDER_MODE, parents=True, exist_ok=True)
    fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
            os.fchmod(handle.fileno(), FILE_MODE)
        Path(temporary).replace(path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def trial_feed_path(settings: Settings, nct_id: str, kind: str = "atom") -> Path:
    """Where a trial's feed is written."""
    return settings.feeds.dir / "trials" / f"{nct_id}.{kind}"


def private_feed_path(settings: Settings, feed_token: str, kind: str = "atom") -> Path:
    """Where a subscriber's private feed is written (the token is the unguessable part)."""
    return settings.feeds.dir / "private" / f"{feed_token}.{kind}"


def _folders(settings: Settings) -> None:
    """The feed folders, with the modes a web server needs (set each time: a umask of 0077,
    as under systemd, or an older trialwatch, made them private to their owner)."""
    for folder, mode in (
        (settings.feeds.dir, FOLDER_MODE),
        (settings.feeds.dir / "trials", FOLDER_MODE),
        (settings.feeds.dir / "private", PRIVATE_FOLDER_MODE),
    ):
        folder.mkdir(parents=True, exist_ok=True)
        if folder.stat().st_mode & 0o777 != mode:
            folder.chmod(mode)


def _public_url(settings: Settings, path: Path) -> str | None:
    """The feed's URL under [web] base_url, when the feeds directory is published there."""
    if not settings.web.base_url:
        return None
    return f"{settings.web.base_url}/feeds/{path.relative_to(settings.feeds.dir).as_posix()}"


def private_feed_url(settings: Settings, feed_token: str) -> str:
    """Where a subscriber reads their private Atom feed: its URL under [web] base_url, or, when
    nothing is published, the file itself (a feed reader on this machine can open it)."""
    path = private_feed_path(settings, feed_token)
    return _public_url(settings, path) or path.resolve().as_uri()


def _write_pair(
    settings: Settings, stem: Path, info: FeedInfo, items: list[Entry], now: datetime
) -> list[Path]:
    """Write the Atom and the RSS file of one feed."""
    written = []
    for kind, render in (("atom", atom), ("rss", rss)):
        path = stem.with_suffix(f".{kind}")
        self_url = _public_url(settings, path)
        info_here = FeedInfo(info.id, info.title, info.subtitle, info.link, self_url)
        write_atomically(path, render(info_here, items, now))
        written.append(path)
    return written


def _chosen_by(subs: dict[str, Subscription]) -> Callable[[str, Change], bool]:
    """The filter of a private feed: what each of the subscriber's subscriptions asks for."""
    return lambda nct_id, change: wants(subs[nct_id], change)


def write_feeds(
    store: Store, settings: Settings, now: datetime, nct_ids: Sequence[str] | None = None
) -> list[Path]:
    """Rewrite the feeds that `nct_ids` appear in (all feeds when None); returns the files."""
    _folders(settings)
    limit, history = settings.feeds.entries, settings.feeds.include_history
    wanted = None if nct_ids is None else set(nct_ids)
    trials = [t for t in store.trials() if wanted is None or t.nct_id in wanted]
    written: list[Path] = []
    for trial in trials:
        info = FeedInfo(
            id=f"urn:trialwatch:feed:{trial.nct_id}",
            title=f"{trial.nct_id}: {trial.brief_title or 'a watched trial'}",
            subtitle="Changes to this trial on ClinicalTrials.gov, in plain English.",
            link=registry_url(trial.nct_id),
        )
        items = entries(store.change_events([trial.nct_id], limit, history=history))
        written += _write_pair(settings, trial_feed_path(settings, trial.nct_id), info, items, now)

    everything = FeedInfo(
        id="urn:trialwatch:feed:all",
        title="trialwatch: all watched trials",
        subtitle="Changes to every watched trial on ClinicalTrials.gov.",
        link="https://clinicaltrials.gov/",
    )
    items = entries(store.change_events(None, limit, history=history))
    written += _write_pair(settings, settings.feeds.dir / "all.atom", everything, items, now)

    people: dict[int, tuple[str, dict[str, Subscription]]] = {}
    for person, sub in store.subscriptions():
        people.setdefault(person.id, (person.feed_token, {}))[1][sub.nct_id] = sub
    for token, subs in people.values():
        if wanted is not None and not wanted.intersection(subs):
            continue
        info = FeedInfo(
            id=f"urn:trialwatch:feed:private:{hashlib.sha256(token.encode()).hexdigest()[:16]}",
            title="trialwatch: the trials you follow",
            subtitle="Changes to the trials you follow, as your subscriptions choose.",
            link="https://clinicaltrials.gov/",
        )
        events = store.change_events(sorted(subs), limit * 4, history=history)
        items = entries(events, keep=_chosen_by(subs))[:limit]
        written += _write_pair(settings, private_feed_path(settings, token), info, items, now)
    return written
