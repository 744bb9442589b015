"""The database schema, as recorded, append-only migrations (sqlite-utils `Migrations`).

A database made by an older trialwatch is upgraded in place by applying the migrations it has
not seen; one made by a newer trialwatch (a migration name unknown here) is refused by
`Store` rather than damaged. Never edit a migration that has shipped: add the next one.
"""

from __future__ import annotations

import sqlite_utils
from sqlite_utils.migrations import Migrations

from watcher.store.rows import token_hash

migrations = Migrations("trialwatch")


@migrations()
def m001_trials_versions_changes(db: sqlite_utils.Database) -> None:
    """The spine: what is watched, every version seen, every change found."""
    db.execute(
        """
        CREATE TABLE trials (
            nct_id TEXT PRIMARY KEY,
            watched INTEGER NOT NULL DEFAULT 1,
            added_at TEXT NOT NULL,
            every_s INTEGER,
            current_version INTEGER,
            brief_title TEXT,
            overall_status TEXT,
            last_update_posted TEXT,
            last_checked_at TEXT,
            last_success_at TEXT,
            seen_release TEXT,
            consecutive_failures INTEGER NOT NULL DEFAULT 0,
            last_error TEXT
        )
        """
    )
    db.execute(
        """
        CREATE TABLE versions (
            id INTEGER PRIMARY KEY,
            nct_id TEXT NOT NULL REFERENCES trials(nct_id),
            version INTEGER NOT NULL,
            fetched_at TEXT NOT NULL,
            source TEXT NOT NULL CHECK (source IN ('poll', 'history')),
            last_update_posted TEXT,
            content_hash TEXT NOT NULL,
            codec TEXT NOT NULL,
            raw BLOB NOT NULL,
            UNIQUE (nct_id, version)
        )
        """
    )
    db.execute(
        """
        CREATE TABLE changes (
            id INTEGER PRIMARY KEY,
            nct_id TEXT NOT NULL REFERENCES trials(nct_id),
            from_version INTEGER NOT NULL,
            to_version INTEGER NOT NULL,
            seq INTEGER NOT NULL,
            kind TEXT NOT NULL,
            field TEXT NOT NULL,
            severity TEXT NOT NULL,
            old TEXT,
            new TEXT,
            site TEXT,
            detail TEXT,
            detected_at TEXT NOT NULL,
            UNIQUE (nct_id, to_version, seq)
        )
        """
    )
    db.execute("CREATE INDEX changes_detected ON changes (detected_at)")
    db.execute("CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)")


@migrations()
def m002_notifications(db: sqlite_utils.Database) -> None:
    """Who hears about which trial, how, and the outbox that makes sure they hear exactly once."""
    db.execute("ALTER TABLE changes ADD COLUMN sentence TEXT")
    db.execute(
        """
        CREATE TABLE subscribers (
            id INTEGER PRIMARY KEY,
            email TEXT NOT NULL UNIQUE,
            unsubscribe_token TEXT NOT NULL UNIQUE,
            feed_token TEXT NOT NULL UNIQUE,
            created_at TEXT NOT NULL
        )
        """
    )
    db.execute(
        """
        CREATE TABLE subscriptions (
            id INTEGER PRIMARY KEY,
            subscriber_id INTEGER NOT NULL REFERENCES subscribers(id) ON DELETE CASCADE,
            nct_id TEXT NOT NULL REFERENCES trials(nct_id),
            audience TEXT NOT NULL CHECK (audience IN ('patient', 'coordinator')),
            delivery TEXT NOT NULL CHECK (delivery IN ('immediate', 'daily', 'weekly')),
            kinds TEXT,
            near TEXT,
            created_at TEXT NOT NULL,
            UNIQUE (subscriber_id, nct_id)
        )
        """
    )
    db.execute("CREATE INDEX subscriptions_trial ON subscriptions (nct_id)")
    db.execute(
        """
        CREATE TABLE digest_items (
            subscription_id INTEGER NOT NULL REFERENCES subscriptions(id) ON DELETE CASCADE,
            change_id INTEGER NOT NULL REFERENCES changes(id),
            PRIMARY KEY (subscription_id, change_id)
        )
        """
    )
    db.execute(
        """
        CREATE TABLE outbox (
            id INTEGER PRIMARY KEY,
            key TEXT NOT NULL UNIQUE,
            channel TEXT NOT NULL CHECK (channel IN ('email', 'webhook')),
            subscriber_id INTEGER REFERENCES subscribers(id) ON DELETE SET NULL,
            recipient TEXT NOT NULL,
            subject TEXT NOT NULL,
            body BLOB NOT NULL,
            status TEXT NOT NULL DEFAULT 'pending'
                CHECK (status IN ('pending', 'sent', 'failed', 'cancelled')),
            attempts INTEGER NOT NULL DEFAULT 0,
            next_attempt_at TEXT NOT NULL,
            last_error TEXT,
            created_at TEXT NOT NULL,
            sent_at TEXT
        )
        """
    )
    db.execute("CREATE INDEX outbox_due ON outbox (status, next_attempt_at)")


@migrations()
def m003_outbox_claims(db: sqlite_utils.Database) -> None:
    """Who is sending a message, and until when: a drain claims its rows before it talks to a
    server, so two drains (the CLI beside the daemon) never send one message twice, and a row
    whose sender died is free again once its lease has run out."""
    db.execute("ALTER TABLE outbox ADD COLUMN claimed_by TEXT")
    db.execute("ALTER TABLE outbox ADD COLUMN lease_until TEXT")


@migrations()
def m004_token_hashes(db: sqlite_utils.Database) -> None:
    """Subscribers are found by the SHA-256 of their tokens, filled in here for existing ones.

    The tokens themselves stay: every email is composed with its reader's unsubscribe link, and
    a private feed's file name is its token. The hashes are what lookups walk, so an index
    search never compares a guess with a secret.
    """
    db.execute("ALTER TABLE subscribers ADD COLUMN unsubscribe_hash TEXT")
    db.execute("ALTER TABLE subscribers ADD COLUMN feed_hash TEXT")
    rows = db.execute("SELECT id, unsubscribe_token, feed_token FROM subscribers").fetchall()
    db.conn.executemany(
        "UPDATE subscribers SET unsubscribe_hash = ?, feed_hash = ? WHERE id = ?",
        [(token_hash(unsub), token_hash(feed), person) for person, unsub, feed in rows],
    )
    db.execute("CREATE UNIQUE INDEX subscribers_unsubscribe_hash ON subscribers (unsubscribe_hash)")
    db.execute("CREATE UNIQUE INDEX subscribers_feed_hash ON subscribers (feed_hash)")


@migrations()
def m005_full_refresh(db: sqlite_utils.Database) -> None:
    """When each trial's whole record was last fetched and compared (the rolling full refresh,
    `[schedule].full_refresh`). NULL until then: such trials are spread over the next cycles."""
    db.execute("ALTER TABLE trials ADD COLUMN last_full_at TEXT")


@migrations()
def m006_subscription_places(db: sqlite_utils.Database) -> None:
    """Where a subscriber is, resolved when they subscribed (`near` keeps the place's name),
    and how far they will travel: the daemon compares distances without the gazetteer.

    Rows made before keep `near` as typed and NULL here: they are matched by name, as they
    were when they were made (the store cannot read the gazetteer, and a migration that
    guessed a point for "Bejing, China" would decide for the subscriber); `subscribe --near`
    again resolves them. `within_amount` is the radius in the unit the subscriber wrote
    (`within_unit`, "km" or "mi"), so the words they read are in their unit.
    """
    db.execute("ALTER TABLE subscriptions ADD COLUMN near_lat REAL")
    db.execute("ALTER TABLE subscriptions ADD COLUMN near_lon REAL")
    db.execute("ALTER TABLE subscriptions ADD COLUMN within_amount REAL")
    db.execute("ALTER TABLE subscriptions ADD COLUMN within_unit TEXT")


@migrations()
def m007_history_backfill(db: sqlite_utils.Database) -> None:
    """Versions read from the registry's history (issue 17): where each sits in the registry's
    own numbering, the changes between them marked historical (never notified, in feeds only
    when `[feeds].include_history`), and each trial's backfill plan, so one that stopped halfway
    resumes where it stopped and one that finished is not asked about again.

    A plan numbers the stored versions `registry_version + offset`, up to `anchor` (the first
    polled version, or the registry's newest version, stored first, when the trial had none):
    backfilled versions come before everything polled, and polled numbers never move (before
    a first polled version 1, they are 0, -1, …).
    """
    db.execute("ALTER TABLE versions ADD COLUMN registry_version INTEGER")
    db.execute("ALTER TABLE versions ADD COLUMN registry_date TEXT")
    db.execute("ALTER TABLE changes ADD COLUMN historical INTEGER NOT NULL DEFAULT 0")
    db.execute(
        """
        CREATE TABLE backfills (
            nct_id TEXT PRIMARY KEY,
            last INTEGER NOT NULL,
            offset INTEGER NOT NULL,
            anchor INTEGER NOT NULL,
            next INTEGER NOT NULL,
            previous INTEGER,
            started_at TEXT NOT NULL,
            finished_at TEXT
        )
        """
    )


@migrations()
def m008_web_confirmations(db: sqlite_utils.Database) -> None:
    """Subscriptions asked for on the web and not yet confirmed (double opt-in), and the
    requests that only sent a "you already follow it" note.

    Nothing here is a subscription: a row becomes one when the link in its email is opened
    (`used_at`), within 48 hours (`expires_at`). The token is kept only as its SHA-256
    (`token_hash`; a row with none sent no link). `address_hash` is the SHA-256 of the address
    as one mailbox (`address_key`), what the per-address limit counts; `email` is kept as typed
    because confirming subscribes it. Rows go once they are past use and past the limit's day.
    """
    db.execute(
        """
        CREATE TABLE confirmations (
            id INTEGER PRIMARY KEY,
            token_hash TEXT UNIQUE,
            address_hash TEXT NOT NULL,
            email TEXT NOT NULL,
            nct_ids TEXT NOT NULL,
            options TEXT NOT NULL,
            created_at TEXT NOT NULL,
            expires_at TEXT NOT NULL,
            used_at TEXT
        )
        """
    )
    db.execute("CREATE INDEX confirmations_address ON confirmations (address_hash, created_at)")


@migrations()
def m009_searches(db: sqlite_utils.Database) -> None:
    """Saved searches, the trials each has matched (once each: a trial that leaves a search and
    comes back is not news twice), and who hears of new matches.

    `last_release` is the data release a search last ran against (NULL: never run, so its
    first run records the baseline); a search runs at most once per release.
    """
    db.execute(
        """
        CREATE TABLE searches (
            id INTEGER PRIMARY KEY,
            name TEXT NOT NULL UNIQUE,
            condition TEXT,
            term TEXT,
            sponsor TEXT,
            statuses TEXT NOT NULL DEFAULT '',
            phases TEXT NOT NULL DEFAULT '',
            near TEXT,
            near_lat REAL,
            near_lon REAL,
            within_amount REAL,
            within_unit TEXT,
            watch_matches INTEGER NOT NULL DEFAULT 0,
            notify_existing INTEGER NOT NULL DEFAULT 0,
            updated_too INTEGER NOT NULL DEFAULT 0,
            created_at TEXT NOT NULL,
            last_release TEXT,
            last_run_at TEXT
        )
        """
    )
    db.execute(
        """
        CREATE TABLE search_matches (
            search_id INTEGER NOT NULL REFERENCES searches(id) ON DELETE CASCADE,
            nct_id TEXT NOT NULL,
            release TEXT,
            found_at TEXT NOT NULL,
            baseline INTEGER NOT NULL,
            PRIMARY KEY (search_id, nct_id)
        )
        """
    )
    db.execute(
        """
        CREATE TABLE search_subscriptions (
            id INTEGER PRIMARY KEY,
            search_id INTEGER NOT NULL REFERENCES searches(id) ON DELETE CASCADE,
            subscriber_id INTEGER NOT NULL REFERENCES subscribers(id) ON DELETE CASCADE,
            created_at TEXT NOT NULL,
            UNIQUE (search_id, subscriber_id)
        )
        """
    )


@migrations()
def m010_scale_indexes(db: sqlite_utils.Database) -> None:
    """A trial's changes newest first, read from an index: a feed costs its newest rows, not a
    scan of every change ever stored (30 ms a feed at 300,000 change rows before)."""
    db.execute("CREATE INDEX IF NOT EXISTS changes_trial_newest ON changes (nct_id, id)")


@migrations()
def m011_api_keys(db: sqlite_utils.Database) -> None:
    """The coordinators' API keys (`trialwatch api-key`): a name, the key's SHA-256 (the key is
    shown once and never stored), when it was made and last used, and when revoked (kept, so a
    revoked key is told apart from a wrong one)."""
    db.execute(
        """
        CREATE TABLE api_keys (
            id INTEGER PRIMARY KEY,
            name TEXT NOT NULL UNIQUE,
            key_hash TEXT NOT NULL UNIQUE,
            created_at TEXT NOT NULL,
            last_used_at TEXT,
            revoked_at TEXT
        )
        """
    )


@migrations()
def m012_channel_outbox(db: sqlite_utils.Database) -> None:
    """Outbox rows for chat channels (`[[channels]]`, sent through Apprise): channel `apprise`.

    SQLite cannot change a CHECK constraint in place, so the table is rebuilt with every column
    it has by now (m002's and m003's claims), every row copied as it is, and its index made
    again. Nothing refers to the outbox, so dropping the old table breaks no foreign key.
    """
    db.execute(
        """
        CREATE TABLE outbox_new (
            id INTEGER PRIMARY KEY,
            key TEXT NOT NULL UNIQUE,
            channel TEXT NOT NULL CHECK (channel IN ('email', 'webhook', 'apprise')),
            subscriber_id INTEGER REFERENCES subscribers(id) ON DELETE SET NULL,
            recipient TEXT NOT NULL,
            subject TEXT NOT NULL,
            body BLOB NOT NULL,
            status TEXT NOT NULL DEFAULT 'pending'
                CHECK (status IN ('pending', 'sent', 'failed', 'cancelled')),
            attempts INTEGER NOT NULL DEFAULT 0,
            next_attempt_at TEXT NOT NULL,
            last_error TEXT,
            created_at TEXT NOT NULL,
            sent_at TEXT,
            claimed_by TEXT,
            lease_until TEXT
        )
        """
    )
    columns = (
        "id, key, channel, subscriber_id, recipient, subject, body, status, attempts, "
        "next_attempt_at, last_error, created_at, sent_at, claimed_by, lease_until"
    )
    db.execute(f"INSERT INTO outbox_new ({columns}) SELECT {columns} FROM outbox")  # noqa: S608
    db.execute("DROP TABLE outbox")
    db.execute("ALTER TABLE outbox_new RENAME TO outbox")
    db.execute("CREATE INDEX outbox_due ON outbox (status, next_attempt_at)")


@migrations()
def m013_search_confirmations(db: sqlite_utils.Database) -> None:
    """A web request can be for a saved search (`search_id`) rather than for trials (its
    `nct_ids` then an empty list). A search removed while its request waits leaves the request
    for nothing (SET NULL), which its link then says, instead of a link that no longer exists."""
    db.execute(
        "ALTER TABLE confirmations ADD COLUMN search_id INTEGER "
        "REFERENCES searches(id) ON DELETE SET NULL"
    )


@migrations()
def m014_outbox_bodies(db: sqlite_utils.Database) -> None:
    """Bodies shared by many outbox rows, stored once (`watcher.core.shared_body.SharedBody`).

    A welcome or change email filled in per reader is one body with each reader's parts cut
    out (`text`, and where the parts go: `cuts`), named by its `digest`; its rows keep an
    empty `body`, the digest (`body_digest`) and their reader's tokens (`parts`, JSON), and
    are filled in when claimed. Rows built whole keep their own body, as every row did before.
    The index finds the rows of a body, to delete a body no row refers to any more.
    """
    db.execute(
        """
        CREATE TABLE outbox_bodies (
            id INTEGER PRIMARY KEY,
            digest TEXT NOT NULL UNIQUE,
            text BLOB NOT NULL,
            cuts TEXT NOT NULL
        )
        """
    )
    db.execute("ALTER TABLE outbox ADD COLUMN body_digest TEXT REFERENCES outbox_bodies(digest)")
    db.execute("ALTER TABLE outbox ADD COLUMN parts TEXT")
    db.execute("CREATE INDEX outbox_body ON outbox (body_digest)")
