"""Writing the feed files: one per watched trial, one for all trials, one private per subscriber.

Files are replaced atomically (written beside, then renamed), so a feed reader or web server
never sees half a feed. A release touches thousands of feeds, so they are written in one pass
(`FeedWriter`): a feed whose bytes did not change is left alone, and each folder is synced
once at the end instead of every file on its own. A feed is derived data: a power cut just
after a write can cost a feed until the next change of its trial rewrites it from the database.

A subscriber's private feed lives at a path made of their random feed token (256 bits), and
holds only the changes their subscriptions ask for; no feed ever holds an address. A
`subscribe` writes only the private feeds of the people it changed (`write_private_feeds`);
a new subscriber's is created in place rather than renamed into it (`FeedWriter.put` says
why), and those of a subscribers file's many new subscribers by a child process while their
welcome emails are built (`NewPrivateFeeds`).

A web server runs as a user of its own, so the files are readable by everyone (0644) and the
folders can be walked (0755), whatever the process's umask: they are published anyway. The
`private/` folder can be walked but not listed (0711): a private feed is reached only by its
name, which nobody can guess, and a web server cannot list the names either.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import itertools
import os
import queue
import re
import threading
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from watcher.config import Settings
from watcher.core.change import Change, ChangeEvent
from watcher.core.feeds import Entry, EntryMemo, FeedInfo, Written, atom, entries, rss
from watcher.core.ids import registry_url
from watcher.core.subscriptions import Subscriber, Subscription, wants
from watcher.core.version import FirstVersion
from watcher.delivery.forked import Forked
from watcher.errors import WatcherError
from watcher.store.database import Store
from watcher.store.rows import TrialRow

# A feed's files as (path, bytes), made ahead of their writing (`EmptyFeeds`).
FeedFiles = tuple[tuple[str, bytes], ...]
FILE_MODE = 0o644  # a feed is read by the web server's user
FOLDER_MODE = 0o755
PRIVATE_FOLDER_MODE = 0o711  # walked to a known name, never listed
_QUEUED = 256  # feeds a background writer holds before `put` waits: a few hundred KB at most
_TEMPORARIES = itertools.count()  # a process's temporary names; `next` is atomic under the GIL
_CREATE = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0)


def trial_feed_path(settings: Settings, nct_id: str, kind: str = "atom") -> Path:
    """Where a trial's feed is written."""
    return settings.feeds.dir / "trials" / f"{nct_id}.{kind}"


def all_feed_path(settings: Settings, kind: str = "atom") -> Path:
    """Where the feed of every watched trial is written."""
    return settings.feeds.dir / f"all.{kind}"


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


class FeedWriter:
    """Writes feed files in one pass: unchanged ones are left alone, and each folder written to
    is synced once, by `finish`, so that the renames are on disk.

    `background`: the files are written by a thread of their own while the caller goes on
    (creating a file is a few system calls, which let go of the GIL: a cold start's 20,000 new
    files cost ext4 a fifth of the cycle, and a poll still parsing pages need not wait for
    them); an error is raised by `finish`, which waits for every file put before it. A
    release's feeds are not written so: their files cost kernel time, and 12 interleaved runs
    on a shared 2-CPU machine were as slow with the thread as without (medians 1.15 s and
    1.12). As a context manager, it finishes on leaving, after an error too."""

    def __init__(self, *, background: bool = False) -> None:
        self.folders: set[str] = set()
        self._queue: queue.Queue[tuple[str, bytes, bool] | None] | None = None
        self._error: BaseException | None = None
        self._thread: threading.Thread | None = None
        if background:
            self._queue = queue.Queue(maxsize=_QUEUED)
            self._thread = threading.Thread(target=self._drain, name="feed-writer", daemon=True)
            self._thread.start()

    def __enter__(self) -> FeedWriter:
        return self

    def __exit__(self, *raised: object) -> None:
        """`finish`, after an error too: the files put are written whole, the thread ends."""
        self.finish()

    def put(self, path: str | Path, data: bytes, *, new: bool = False) -> None:
        """Replace `path` with `data` (unless it holds exactly that, readable by all already).

        `new`: a file nobody can have read yet (a new subscriber's private feed: its name is
        their new token, in a welcome email queued a moment before; a new watch's feed, which
        answered "not found" until now) is created in place when it does not exist, at a third
        of the cost of writing beside and renaming; a reader who came that very moment would
        find it empty, once."""
        if self._queue is None:
            self._write(os.fspath(path), data, new)
        else:
            self._queue.put((os.fspath(path), data, new))

    def _drain(self) -> None:
        """The background thread: write what is put until `finish` says stop; after an error,
        take the rest without writing it (`finish` raises the error)."""
        assert self._queue is not None
        while (item := self._queue.get()) is not None:
            if self._error is None:
                try:
                    self._write(*item)
                except BaseException as exc:  # handed to `finish`, raised there
                    self._error = exc

    def _write(self, name: str, data: bytes, new: bool) -> None:
        """On `os` calls rather than `Path` methods or file objects, and a temporary name of our
        own rather than `tempfile.mkstemp`'s random one (`O_EXCL`: never an existing file or a
        link): a cold start writes two files per trial (20,000 new files: 0.3-1.2 s of user
        time through `mkstemp` and a file object, 0.1 s so; the system time, the larger part,
        is the file system's)."""
        folder, base = os.path.split(name)
        if new:
            try:
                fd = os.open(name, _CREATE, FILE_MODE)
            except FileExistsError:
                pass
            else:
                try:
                    _fill(fd, data)
                except BaseException:
                    with contextlib.suppress(OSError):
                        os.unlink(name)  # noqa: PTH108
                    raise
                self.folders.add(folder)
                return
        if _holds(name, data):
            return
        while True:
            temporary = os.path.join(folder, f".{base}.{os.getpid()}.{next(_TEMPORARIES)}")  # noqa: PTH118
            try:
                fd = os.open(temporary, _CREATE, FILE_MODE)
            except FileExistsError:  # left by a killed process that had our pid
                continue
            break
        try:
            _fill(fd, data)
            os.replace(temporary, name)  # noqa: PTH105
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(temporary)  # noqa: PTH108
            raise
        self.folders.add(folder)

    def finish(self) -> None:
        """Wait for the files put (raising the first error writing them), then sync the renames
        of every folder written to, once each."""
        if self._thread is not None and self._queue is not None:
            self._queue.put(None)
            self._thread.join()
            self._thread = None
            if self._error is not None:
                raise self._error
        for folder in sorted(self.folders):
            fd = os.open(folder, os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
        self.folders.clear()


def _fill(fd: int, data: bytes) -> None:
    """Write `data` to a new file and close it, readable by all whatever the umask (changed
    only when the umask took a bit away: a change of mode is one more journalled write)."""
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]
        if os.fstat(fd).st_mode & 0o777 != FILE_MODE:
            os.fchmod(fd, FILE_MODE)
    finally:
        os.close(fd)


def _holds(name: str, data: bytes) -> bool:
    """Whether the file `name` holds exactly `data`, readable by all (read only when its size
    and mode say it may)."""
    try:
        fd = os.open(name, os.O_RDONLY | getattr(os, "O_CLOEXEC", 0))
    except OSError:
        return False
    try:
        found = os.fstat(fd)
        if found.st_size != len(data) or found.st_mode & 0o777 != FILE_MODE:
            return False
        return os.read(fd, len(data) + 1) == data  # a file is read whole by one read
    finally:
        os.close(fd)


def _write_pair(
    writer: FeedWriter,
    settings: Settings,
    stem: Path,
    info: FeedInfo,
    items: list[Entry],
    now: datetime,
    entries_written: Written,
) -> list[Path]:
    """Write the Atom and the RSS file of one feed."""
    written = []
    for path, data in _pair(settings, stem, info, items, now, entries_written):
        writer.put(path, data)
        written.append(path)
    return written


def _pair(
    settings: Settings,
    stem: Path,
    info: FeedInfo,
    items: list[Entry],
    now: datetime,
    entries_written: Written,
) -> list[tuple[Path, bytes]]:
    """The Atom and the RSS file of one feed, as (path, bytes)."""
    made = []
    for kind, render in (("atom", atom), ("rss", rss)):
        path = stem.with_suffix(f".{kind}")
        self_url = _public_url(settings, path)
        info_here = FeedInfo(info.id, info.title, info.subtitle, info.link, self_url)
        made.append((path, render(info_here, items, now, entries_written)))
    return made


class _Events:
    """Each trial's newest change events, read once per `write_feeds` however many feeds (the
    trial's own, private ones) show them."""

    def __init__(self, store: Store, depth: int, *, history: bool) -> None:
        self.store, self.depth, self.history = store, depth, history
        self._of: dict[str, list[ChangeEvent]] = {}
        self.made: EntryMemo = {}  # entries, shared by the feeds that show them
        self.written: Written = {}  # and written out once per format

    def of(self, nct_ids: Iterable[str], limit: int) -> list[ChangeEvent]:
        """The newest `limit` events of these trials together, newest first."""
        found: list[ChangeEvent] = []
        for nct_id in nct_ids:
            if nct_id not in self._of:
                self._of[nct_id] = self.store.change_events(
                    [nct_id], self.depth, history=self.history
                )
            found += self._of[nct_id]
        return sorted(found, key=self._newest, reverse=True)[:limit]

    def _newest(self, event: ChangeEvent) -> tuple[str, int]:
        """The order `Store.change_events` gives: by date when history is shown, else stored."""
        return (event.detected_at if self.history else "", event.changes[-1].id)


def _chosen_by(subs: dict[str, Subscription]) -> Callable[[str, Change], bool]:
    """The filter of a private feed: what each of the subscriber's subscriptions asks for."""
    return lambda nct_id, change: wants(subs[nct_id], change)


def _write_trial_feeds(
    writer: FeedWriter,
    settings: Settings,
    events: _Events,
    trials: Iterable[TrialRow],
    now: datetime,
) -> list[Path]:
    """Write each trial's own feed, Atom and RSS."""
    written: list[Path] = []
    for trial in trials:
        info = _trial_info(trial.nct_id, trial.brief_title)
        items = entries(events.of([trial.nct_id], settings.feeds.entries), memo=events.made)
        stem = trial_feed_path(settings, trial.nct_id)
        written += _write_pair(writer, settings, stem, info, items, now, events.written)
    return written


def _trial_info(nct_id: str, title: str | None) -> FeedInfo:
    """What heads a trial's own feed."""
    return FeedInfo(
        id=f"urn:trialwatch:feed:{nct_id}",
        title=f"{nct_id}: {title or 'a watched trial'}",
        subtitle="Changes to this trial on ClinicalTrials.gov, in plain English.",
        link=registry_url(nct_id),
    )


@dataclass(frozen=True, slots=True)
class EmptyFeeds:
    """A new watch's own feed files, Atom and RSS, with its title and no entries (its first
    version has no changes), as `write_feeds` writes them: rendered where the first version is
    prepared (`watcher.service.firsts`: in the worker process of a cold start, which is why it
    is a plain value that pickles), written by `FirstFeeds` once the version is stored."""

    settings: Settings
    now: datetime

    def __call__(self, first: FirstVersion) -> FeedFiles:
        stem = trial_feed_path(self.settings, first.nct_id)
        info = _trial_info(first.nct_id, first.title)
        return tuple(
            (os.fspath(path), data)
            for path, data in _pair(self.settings, stem, info, [], self.now, {})
        )


class FirstFeeds:
    """The feeds of new watches, written while the poll that stored their first versions goes
    on: called with each page of them (`run_cycle`'s `firsts`), it writes the files `render`
    (`EmptyFeeds`) made of each where it was prepared (a cold start's worker process) through a
    background `FeedWriter`, so a cold start's 20,000 files are created while the next pages
    are fetched and parsed, in place where none was before (`FeedWriter.put`'s `new`).

    Called inside the poll, it never raises: the first error stops it, and `finish` hands it
    back with the trials whose feeds are written (none after an error: `write_feeds` then
    writes them all, and says what went wrong as it always does).
    """

    def __init__(self, settings: Settings, now: datetime) -> None:
        self.settings = settings
        self.render = EmptyFeeds(settings, now)
        self._writer: FeedWriter | None = None
        self._done: set[str] = set()
        self._error: Exception | None = None

    def __call__(self, stored: Sequence[tuple[FirstVersion, FeedFiles | None]]) -> None:
        """Write the feeds of these new watches, just stored, as `render` made them (None: it
        could not, and `write_feeds` writes that trial's feeds at the end of the check)."""
        if self._error is not None or not stored:
            return
        try:
            if self._writer is None:
                _folders(self.settings)
                self._writer = FeedWriter(background=True)
            for first, files in stored:
                if files is None:
                    continue
                for path, data in files:
                    self._writer.put(path, data, new=True)
                self._done.add(first.nct_id)
        except (WatcherError, OSError) as exc:
            self._error = exc

    def finish(self) -> tuple[set[str], Exception | None]:
        """Wait for the files: the trials whose feeds are written, and the error, if any."""
        if self._writer is not None:
            try:
                self._writer.finish()
            except (WatcherError, OSError) as exc:
                self._error = self._error or exc
            self._writer = None
        return (set() if self._error else self._done), self._error


def write_feeds(
    store: Store, settings: Settings, now: datetime, nct_ids: Sequence[str] | None = None
) -> list[Path]:
    """Rewrite the feeds that `nct_ids` appear in (all feeds when None); returns the files."""
    _folders(settings)
    limit, history = settings.feeds.entries, settings.feeds.include_history
    events = _Events(store, limit * 4, history=history)
    if nct_ids is None:
        trials: Iterable[TrialRow] = store.each_trial()
        followed = store.subscriptions()
    else:
        wanted = sorted(set(nct_ids))
        trials = store.watched_among(wanted)
        followed = store.followers_subscriptions(wanted)
    with FeedWriter() as writer:
        written = _write_trial_feeds(writer, settings, events, trials, now)
        everything = FeedInfo(
            id="urn:trialwatch:feed:all",
            title="trialwatch: all watched trials",
            subtitle="Changes to every watched trial on ClinicalTrials.gov.",
            link="https://clinicaltrials.gov/",
        )
        items = entries(store.change_events(None, limit, history=history), memo=events.made)
        stem = all_feed_path(settings)
        written += _write_pair(writer, settings, stem, everything, items, now, events.written)
        written += _write_private(writer, settings, events, followed, now)
    return written


def write_private_feeds(
    store: Store, settings: Settings, now: datetime, subscriber_ids: Sequence[int]
) -> list[Path]:
    """Rewrite the private feeds of these subscribers only (those a `subscribe` just changed:
    no trial's feed changes when somebody subscribes); returns the files."""
    _folders(settings)
    events = _Events(store, settings.feeds.entries * 4, history=settings.feeds.include_history)
    with FeedWriter() as writer:
        return _write_private(writer, settings, events, store.followed_by(subscriber_ids), now)


# Fewer new subscribers than this have their private feeds written after the commit, as
# anyone's: a child process costs a fork, and pays where the files are many.
ASIDE_FROM = 100


class NewPrivateFeeds:
    """The private feeds of the subscribers created by a transaction still open, written by a
    child process (`watcher.delivery.forked`) while the caller goes on inside it: a subscribers
    file's 20,000 new files cost ext4 0.3 to 6 s, which now pass while the welcome emails are
    built.

    Their tokens are new and in no email yet (the welcomes are queued in that transaction), so
    a file written before the commit is seen by nobody; after a rollback, `discard` ends the
    child and removes every file it may have made. What the child needs from the database (the
    events of the trials they follow) is read before it starts: it has no connection of its
    own, and could not see the transaction's rows if it had.
    """

    def __init__(self, settings: Settings, tokens: list[str], child: Forked) -> None:
        self._settings, self._tokens, self._child = settings, tokens, child

    @classmethod
    def start(
        cls,
        store: Store,
        settings: Settings,
        now: datetime,
        followed: Sequence[tuple[Subscriber, Subscription]],
    ) -> NewPrivateFeeds | None:
        """The feeds of new subscribers (every subscription of each), being written; None when
        they are too few to pay for a child process or it cannot be forked (write them after
        the commit, as `write_private_feeds`)."""
        tokens = list(dict.fromkeys(person.feed_token for person, _ in followed))
        if len(tokens) < ASIDE_FROM:
            return None
        _folders(settings)
        events = _Events(store, settings.feeds.entries * 4, history=settings.feeds.include_history)
        events.of(sorted({sub.nct_id for _, sub in followed}), 0)  # read here, kept for the child

        def write() -> None:
            with FeedWriter() as writer:
                _write_private(writer, settings, events, followed, now)

        child = Forked.start(write)
        return None if child is None else cls(settings, tokens, child)

    def finish(self) -> None:
        """Wait for the files (after the commit); an `OSError` when they could not be written."""
        self._child.wait()

    def discard(self) -> None:
        """End the child and remove the files it made (after a rollback, whose error is the
        one to tell: a file that cannot be removed stays, named by a token nobody was given)."""
        self._child.stop()
        for token in self._tokens:
            for kind in ("atom", "rss"):
                with contextlib.suppress(OSError):
                    private_feed_path(self._settings, token, kind).unlink(missing_ok=True)


def _write_private(
    writer: FeedWriter,
    settings: Settings,
    events: _Events,
    followed: Iterable[tuple[Subscriber, Subscription]],
    now: datetime,
) -> list[Path]:
    """Write the private feed of each subscriber in `followed` (all their subscriptions)."""
    limit = settings.feeds.entries
    people: dict[int, tuple[str, dict[str, Subscription]]] = {}
    for person, sub in followed:
        people.setdefault(person.id, (person.feed_token, {}))[1][sub.nct_id] = sub
    feeds = _PrivateFeeds(settings, now, events.written)
    written: list[Path] = []
    for token, subs in people.values():
        found = events.of(sorted(subs), limit * 4)
        items = entries(found, keep=_chosen_by(subs), memo=events.made)[:limit]
        for kind in ("atom", "rss"):
            path = private_feed_path(settings, token, kind)
            writer.put(path, feeds.feed(token, kind, items), new=True)
            written.append(path)
    return written


# What `secrets.token_urlsafe` makes: nothing in it is escaped in XML or in a URL.
_TOKEN = re.compile(r"[A-Za-z0-9_-]+")


def _private_id(token: str) -> str:
    """A private feed's id: a hash of its token, which the id must not give away."""
    return hashlib.sha256(token.encode()).hexdigest()[:16]


class _PrivateFeeds:
    """Private feeds, each distinct one rendered once (pure).

    The feeds of two people shown the same entries (most often none: the new subscribers of a
    subscribers file) differ only in their token, in the self link, and in its hash, in the
    id. So each distinct feed is rendered once for a stand-in token, cut where the stand-in and
    its hash are (`_Template`), and filled for each person with their token and hash, where
    that is provably what rendering gives: the template filled for a second stand-in must be
    the feed rendered for it (the renderer then treats any token of that length and alphabet
    as opaque text, as `watcher.core.mailmerge` argues for emails). Otherwise it is rendered
    whole.
    """

    def __init__(self, settings: Settings, now: datetime, written: Written | None = None) -> None:
        self._settings, self._now = settings, now
        self._written: Written = {} if written is None else written
        # (kind, the entries, the token's length): the feed's template, or None
        self._made: dict[tuple[str, tuple[int, ...], int], _Template | None] = {}

    def feed(self, token: str, kind: str, items: list[Entry]) -> bytes:
        """The bytes of `token`'s feed of this kind, showing `items`."""
        if not _TOKEN.fullmatch(token):
            return self._render(token, kind, items)
        key = (kind, tuple(map(id, items)), len(token))  # entries shared through `_Events`
        if key not in self._made:
            self._made[key] = self._model(kind, items, len(token))
        made = self._made[key]
        if made is None:
            return self._render(token, kind, items)
        return made.filled(token)

    def _model(self, kind: str, items: list[Entry], length: int) -> _Template | None:
        first, second = (("Zq" * length)[:length], ("Wk" * length)[:length])
        model = _Template(first, self._render(first, kind, items))
        if model.filled(second) != self._render(second, kind, items):
            return None
        return model

    def _render(self, token: str, kind: str, items: list[Entry]) -> bytes:
        info = FeedInfo(
            id=f"urn:trialwatch:feed:private:{_private_id(token)}",
            title="trialwatch: the trials you follow",
            subtitle="Changes to the trials you follow, as your subscriptions choose.",
            link="https://clinicaltrials.gov/",
            self_url=_public_url(self._settings, private_feed_path(self._settings, token, kind)),
        )
        return (atom if kind == "atom" else rss)(info, items, self._now, self._written)


class _Template:
    """A feed rendered for a stand-in token, cut where the stand-in and its hash are, to be
    filled with another token and its hash: a join of the pieces, where replacing them in the
    whole feed took a regular expression's pass over every byte (a third of a release's
    feeds: 2,000 private feeds of 10 to 20 KB)."""

    def __init__(self, stand_in: str, data: bytes) -> None:
        # the bytes between, and where the stand-in was, 0 (its hash: 1); a token may contain
        # what looks like a hash, so both are found in one pass
        pattern, hashed = _parts_of(stand_in)
        self.pieces: list[bytes | int] = []
        at = 0
        for found in pattern.finditer(data):
            self.pieces += (data[at : found.start()], int(found.group() == hashed))
            at = found.end()
        self.pieces.append(data[at:])

    def filled(self, token: str) -> bytes:
        """The feed with `token` and its hash where the stand-in's were."""
        mine = (token.encode(), _private_id(token).encode())
        return b"".join(mine[p] if isinstance(p, int) else p for p in self.pieces)


@functools.lru_cache(maxsize=8)
def _parts_of(stand_in: str) -> tuple[re.Pattern[bytes], bytes]:
    """A pattern finding a stand-in token and its hash, and the hash (a few stand-ins, one
    per token length, serve every feed)."""
    hashed = _private_id(stand_in).encode()
    return re.compile(re.escape(stand_in.encode()) + b"|" + re.escape(hashed)), hashed
