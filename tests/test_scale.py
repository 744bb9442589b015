"""What keeps trialwatch linear at 100,000 trials: stored versions across the codec change,
feeds read from an index, watch lists handled as sets (the figures are in `bench/scale.py`)."""

from __future__ import annotations

import copy
import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path

import feedparser
from conftest import demo_versions

from watcher.config import load_settings
from watcher.core.canonical import content_hash
from watcher.core.schedule import due_trials
from watcher.core.version import NewVersion
from watcher.core.wording.cycle import cycle_text
from watcher.delivery.feed_files import write_feeds
from watcher.registry.client import RegistryClient
from watcher.registry.replay_server import ReplayServer
from watcher.service.poll import run_cycle
from watcher.store.database import Store

T0 = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)
# Written by trialwatch before the C-encoder line form (keyframe and deltas in `indent=0`
# text): six versions of NCT07227597, a keyframe and five deltas.
OLD_CODEC_DB = Path(__file__).parent / "fixtures" / "stores" / "codec-indent0.db"


def test_a_database_written_by_the_old_codec_reads_back_and_takes_new_versions(
    tmp_path: Path,
) -> None:
    """Every version stored by the old codec reads back with its content hash; a version added
    now is a delta on the old chain, and every version, old and new, still reads back."""
    path = tmp_path / "old.db"
    shutil.copy(OLD_CODEC_DB, path)
    with Store(path) as store:
        stored = store.versions("NCT07227597")
        assert [v.version for v in stored] == [1, 2, 3, 4, 5, 6]
        for row in stored:
            assert content_hash(store.record("NCT07227597", row.version)) == row.content_hash
        latest = store.record("NCT07227597", 6)
        newer = copy.deepcopy(latest)
        newer["protocolSection"]["designModule"]["enrollmentInfo"]["count"] = 9999
        store.save_version(
            NewVersion.of("NCT07227597", newer, content_hash(newer)), latest, None, T0
        )
        codecs = [r[0] for r in store.db.execute("SELECT codec FROM versions ORDER BY version")]
        assert codecs[-1] == "delta-zlib"
        assert store.record("NCT07227597", 7) == newer
        for row in stored:
            assert content_hash(store.record("NCT07227597", row.version)) == row.content_hash


# -- a cycle with no new data release ------------------------------------------------------------

STARTED = demo_versions("NCT06911827")
STOPPED = demo_versions("NCT05935098")
WATCHED = ["NCT05935098", "NCT06911827"]
HOUR = timedelta(hours=1)


def _stamps(store: Store) -> dict[str, str | None]:
    """Each trial's own stored `last_checked_at` column, as written."""
    rows = store.db.execute("SELECT nct_id, last_checked_at FROM trials ORDER BY nct_id")
    return dict(rows.fetchall())


def test_a_quiet_cycle_counts_every_trial_checked_without_rewriting_them(
    store: Store, client: RegistryClient, replay: ReplayServer
) -> None:
    """With no new data release, every trial reads as checked at the cycle's time (the daemon's
    schedule and `watch list` see it), while no trial's row is written: one meta row is."""
    replay.registry.publish(STOPPED[0], STARTED[0])
    store.add_watches(WATCHED, T0)
    run_cycle(store, client, T0, full_check_every=timedelta(days=1))
    before = _stamps(store)
    report = run_cycle(store, client, T0 + HOUR, full_check_every=timedelta(days=1))
    assert report.requests == 1 and report.count("unchanged") == 2
    # Passed over as IDs, not an outcome each; said alike by `check` and `check --json`.
    assert report.outcomes == () and report.passed_over == tuple(sorted(WATCHED))
    assert report.to_json()["checked"] == 2 and report.to_json()["unchanged"] == 2
    assert [f"{nct_id}  unchanged" for nct_id in sorted(WATCHED)] == cycle_text(
        report
    ).splitlines()[:2]
    assert _stamps(store) == before
    assert {t.last_checked_at for t in store.trials()} == {(T0 + HOUR).isoformat()}
    assert store.trial("NCT05935098").last_checked_at == (T0 + HOUR).isoformat()  # type: ignore[union-attr]
    assert due_trials(store.check_groups(), HOUR, T0 + HOUR) == []
    assert len(due_trials(store.check_groups(), HOUR, T0 + 2 * HOUR)) == 1


def test_a_cycle_over_some_trials_marks_only_those_checked(
    store: Store, client: RegistryClient, replay: ReplayServer
) -> None:
    """A cycle asked about one trial (the daemon's due ones, `check NCT…`) leaves the other's
    check time alone, so it stays due when it was."""
    replay.registry.publish(STOPPED[0], STARTED[0])
    store.add_watches(WATCHED, T0)
    run_cycle(store, client, T0, full_check_every=timedelta(days=1))
    later = T0 + HOUR
    run_cycle(store, client, later, full_check_every=timedelta(days=1), nct_ids=[WATCHED[0]])
    checked = {t.nct_id: t.last_checked_at for t in store.trials()}
    assert checked == {WATCHED[0]: later.isoformat(), WATCHED[1]: T0.isoformat()}


def test_a_new_release_after_a_quiet_cycle_is_checked_again(
    store: Store, client: RegistryClient, replay: ReplayServer
) -> None:
    """The quiet mark holds for the release it was made for: once the registry publishes a new
    one, the trials are asked about again and their changes found."""
    replay.registry.publish(STOPPED[0], STARTED[0])
    store.add_watches(WATCHED, T0)
    run_cycle(store, client, T0, full_check_every=timedelta(days=1))
    run_cycle(store, client, T0 + HOUR, full_check_every=timedelta(days=1))
    replay.registry.publish(STOPPED[1], STARTED[1])
    report = run_cycle(store, client, T0 + 2 * HOUR, full_check_every=timedelta(days=1))
    assert report.count("new_version") == 2
    assert {t.last_checked_at for t in store.trials()} == {(T0 + 2 * HOUR).isoformat()}


# -- watch lists as sets -------------------------------------------------------------------------


def test_adding_and_removing_many_ids_keeps_order_and_reports_each_once(store: Store) -> None:
    """Repeated IDs count once; IDs watched before are "already watched"; removing some of
    many, and some never watched, reports exactly the ones that were watched."""
    ids = [f"NCT{90000000 + n:08d}" for n in range(2000)]
    assert store.add_watches(ids[:10], T0) == ids[:10]
    added = store.add_watches([*reversed(ids), ids[5]], T0)
    assert added == list(reversed(ids[10:]))
    assert store.remove_watches([ids[3], "NCT09999999", ids[3], ids[1500]]) == [ids[3], ids[1500]]
    assert store.add_watches([ids[3], ids[4]], T0) == [ids[3]]
    assert len(store.trials()) == 1999  # all but ids[1500]


# -- feeds from an index -------------------------------------------------------------------------


def test_feeds_are_newest_first_across_trials_and_unchanged_files_are_left_alone(
    store: Store, client: RegistryClient, replay: ReplayServer, tmp_path: Path
) -> None:
    """The all-trials feed lists the newest version first whatever the trial; writing the feeds
    again with nothing new leaves every file as it was (same inode: not rewritten)."""
    settings = load_settings(None, env={"STATE_DIRECTORY": str(tmp_path / "state")})
    replay.registry.publish(STOPPED[0], STARTED[0])
    store.add_watches(WATCHED, T0)
    run_cycle(store, client, T0, full_check_every=timedelta(days=1))
    replay.registry.publish(STARTED[1])
    run_cycle(store, client, T0 + HOUR, full_check_every=timedelta(days=1))
    replay.registry.publish(STOPPED[1])
    run_cycle(store, client, T0 + 2 * HOUR, full_check_every=timedelta(days=1))
    written = write_feeds(store, settings, T0 + 2 * HOUR)
    everything = feedparser.parse(settings.feeds.dir / "all.atom")
    assert [e.id.split(":")[2] for e in everything.entries] == ["NCT05935098", "NCT06911827"]
    inodes = {p: p.stat().st_ino for p in written}
    again = write_feeds(store, settings, T0 + 3 * HOUR)
    assert {p: p.stat().st_ino for p in again} == inodes
