"""`trialwatch watch` / `check` / `history` end to end: real CLI, real SQLite, real HTTP server."""

from __future__ import annotations

import os
import shutil
import sqlite3
import stat
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from conftest import Trialwatch, demo_versions, write_config

from watcher.registry.replay_server import ReplayServer

STARTED = demo_versions("NCT06911827")  # NOT_YET_RECRUITING -> RECRUITING, first site
STOPPED = demo_versions("NCT05935098")  # ACTIVE_NOT_RECRUITING -> TERMINATED


def versions_in_db(state_dir: Path) -> list[tuple[str, int]]:
    with sqlite3.connect(state_dir / "trialwatch.db") as conn:
        return conn.execute("SELECT nct_id, version FROM versions ORDER BY 1, 2").fetchall()


def test_check_stores_a_version_then_none_then_one_more(
    trialwatch: Trialwatch, replay: ReplayServer
) -> None:
    """A first check stores each trial once, a refetch stores nothing, a real edit one more."""
    replay.registry.publish(STARTED[0], STOPPED[0])
    trialwatch("watch", "add", "NCT06911827", "nct05935098")

    first = trialwatch.json("check")
    assert (first["checked"], first["new_versions"], first["failed"]) == (2, 2, [])
    assert first["changes"] == []

    replay.registry.release()  # a new data release with nothing changed
    again = trialwatch.json("check")
    assert (again["new_versions"], again["unchanged"]) == (0, 2)

    replay.registry.publish(STARTED[1])
    third = trialwatch.json("check")
    assert (third["new_versions"], third["unchanged"]) == (1, 1)
    kinds = {(c["nct_id"], c["kind"]) for c in third["changes"]}
    assert ("NCT06911827", "status") in kinds
    status = next(c for c in third["changes"] if c["kind"] == "status")
    assert (status["old"], status["new"]) == ("NOT_YET_RECRUITING", "RECRUITING")

    assert versions_in_db(trialwatch.state_dir) == [
        ("NCT05935098", 1),
        ("NCT06911827", 1),
        ("NCT06911827", 2),
    ]
    history = trialwatch.json("history", "NCT06911827")
    assert [h["version"] for h in history] == [1, 2]
    assert history[1]["registry_update_date"] == "2026-02-25"
    assert {"version", "fetched_at", "registry_update_date", "hash"} <= history[0].keys()
    text = trialwatch("history", "NCT06911827").stdout
    assert "v2" in text and "RECRUITING" in text


def test_no_new_data_release_costs_one_request(
    trialwatch: Trialwatch, replay: ReplayServer
) -> None:
    """When the registry's data has not moved, a check asks /version and nothing else."""
    replay.registry.publish(STARTED[0], STOPPED[0])
    trialwatch("watch", "add", "NCT06911827", "NCT05935098")
    trialwatch("check")
    replay.reset_log()
    report = trialwatch.json("check")
    assert report["requests"] == 1
    assert [r.path for r in replay.requests] == ["/api/v2/version"]
    assert report["unchanged"] == 2


def test_check_text_names_each_trial_and_its_changes(
    trialwatch: Trialwatch, replay: ReplayServer
) -> None:
    """The text report says per trial what happened, with old and new values."""
    replay.registry.publish(STOPPED[0])
    trialwatch("watch", "add", "NCT05935098")
    assert "first version stored" in trialwatch("check").stdout
    replay.registry.publish(STOPPED[1])
    out = trialwatch("check").stdout
    assert "NCT05935098  new version v2" in out
    assert "ACTIVE_NOT_RECRUITING → TERMINATED" in out
    assert "Checked 1 trial(s): 1 new version(s), 0 unchanged, 0 failed" in out


FAULTS = [
    ("503", {}, "503"),
    ("500", {}, "500"),
    ("slow", {"delay": 1.5}, "did not answer within 1 s"),
    ("truncated", {}, ""),
    ("invalid_json", {}, ""),
    ("drop", {}, ""),
]


@pytest.mark.slow
@pytest.mark.parametrize(("fault", "options", "words"), FAULTS, ids=[f[0] for f in FAULTS])
def test_a_registry_fault_stores_nothing_and_a_later_check_succeeds(
    trialwatch: Trialwatch,
    replay: ReplayServer,
    fault: str,
    options: dict[str, float],
    words: str,
) -> None:
    """A fault is reported against the NCT ID, stores no version, and the next check recovers."""
    replay.registry.publish(STARTED[0], STOPPED[0])
    trialwatch("watch", "add", "NCT06911827", "NCT05935098")
    trialwatch("check")
    replay.registry.publish(STARTED[1])
    replay.registry.fail(fault, times=None, nct_id="NCT06911827", **options)  # type: ignore[arg-type]

    report = trialwatch.json("check")
    assert [f["nct_id"] for f in report["failed"]] == ["NCT06911827"]
    assert words in report["failed"][0]["error"]
    assert report["changes"] == []
    assert versions_in_db(trialwatch.state_dir).count(("NCT06911827", 2)) == 0
    listed = trialwatch.json("watch", "list")
    failing = next(t for t in listed if t["nct_id"] == "NCT06911827")
    assert failing["consecutive_failures"] == 1 and failing["last_error"]

    replay.registry.clear_faults()
    healed = trialwatch.json("check")
    assert healed["failed"] == [] and healed["new_versions"] == 1
    assert ("NCT06911827", 2) in versions_in_db(trialwatch.state_dir)


def test_rate_limiting_stops_the_cycle_politely_and_stores_nothing(
    trialwatch: Trialwatch, replay: ReplayServer
) -> None:
    """A 429 is about us, not one trial: the cycle stops asking, stores nothing, recovers later."""
    replay.registry.publish(STARTED[0], STOPPED[0])
    trialwatch("watch", "add", "NCT06911827", "NCT05935098")
    trialwatch("check")
    replay.registry.publish(STARTED[1])
    replay.registry.fail("429", times=None, nct_id="NCT06911827")
    replay.reset_log()

    report = trialwatch.json("check", expect=1)  # every trial failed: cron must see it
    assert {f["nct_id"] for f in report["failed"]} == {"NCT06911827", "NCT05935098"}
    assert all("429" in f["error"] for f in report["failed"])
    assert sum(r.status == 429 for r in replay.requests) == 1  # no hammering after a 429
    assert ("NCT06911827", 2) not in versions_in_db(trialwatch.state_dir)

    replay.registry.clear_faults()
    healed = trialwatch.json("check")
    assert healed["failed"] == [] and healed["new_versions"] == 1


def test_a_trial_removed_from_the_registry_is_reported_not_found(
    trialwatch: Trialwatch, replay: ReplayServer
) -> None:
    """A 404 for a watched trial is a failure naming the trial; its history is kept."""
    replay.registry.publish(STARTED[0], STOPPED[0])
    trialwatch("watch", "add", "NCT06911827", "NCT05935098")
    trialwatch("check")
    replay.registry.remove("NCT06911827")
    report = trialwatch.json("check")
    assert report["failed"][0]["nct_id"] == "NCT06911827"
    assert "404" in report["failed"][0]["error"]
    assert ("NCT06911827", 1) in versions_in_db(trialwatch.state_dir)


def test_an_unknown_trial_fails_alone(trialwatch: Trialwatch, replay: ReplayServer) -> None:
    """A watched ID the registry does not know fails; the other trials are still stored."""
    replay.registry.publish(STOPPED[0])
    trialwatch("watch", "add", "NCT05935098", "NCT99999999")
    report = trialwatch.json("check")
    assert report["new_versions"] == 1
    assert report["failed"] == [{"nct_id": "NCT99999999", "error": report["failed"][0]["error"]}]
    assert "not found" in report["failed"][0]["error"]


def test_bad_nct_id_is_refused_and_nothing_is_stored(trialwatch: Trialwatch) -> None:
    """An invalid ID gets a one-line error naming it, a non-zero exit, and no watch."""
    result = trialwatch("watch", "add", "NCT0731078", "NCT07310784", expect=2)
    assert result.stderr.startswith("Error: not NCT IDs: 'NCT0731078'")
    assert len(result.stderr.strip().splitlines()) == 1
    assert trialwatch.json("watch", "list") == []


def test_watch_add_reads_a_file_and_remove_keeps_history(
    trialwatch: Trialwatch, replay: ReplayServer, tmp_path: Path
) -> None:
    """IDs come from a file with comments; removing a watch keeps its stored versions."""
    replay.registry.publish(STOPPED[0])
    listing = tmp_path / "ids.txt"
    listing.write_text("# my trials\nnct05935098  # the stopped one\n\n", encoding="utf-8")
    trialwatch("watch", "add", "--file", str(listing))
    trialwatch("check")
    assert "no longer watched" in trialwatch("watch", "remove", "NCT05935098").stdout
    assert trialwatch.json("watch", "list") == []
    assert [h["version"] for h in trialwatch.json("history", "NCT05935098")] == [1]


def test_database_and_state_directory_are_private(trialwatch: Trialwatch) -> None:
    """The database (subscriber data lives there) is readable by its owner only."""
    trialwatch("watch", "add", "NCT07310784")
    db = trialwatch.state_dir / "trialwatch.db"
    assert stat.S_IMODE(db.stat().st_mode) == 0o600
    assert stat.S_IMODE(trialwatch.state_dir.stat().st_mode) == 0o700


def test_unknown_config_key_is_a_one_line_error_with_exit_78(
    tmp_path: Path, replay: ReplayServer
) -> None:
    """A typo in the settings file names the file, the key and a suggestion; exit code 78."""
    config = write_config(tmp_path / "bad.toml", replay.base_url, "[schedule]\nintervall = '1h'\n")
    run = Trialwatch(tmp_path / "state", config)
    result = run("watch", "list", expect=78)
    assert str(config) in result.stderr
    assert "[schedule].intervall" in result.stderr and "interval" in result.stderr
    assert not (tmp_path / "state" / "trialwatch.db").exists()


def test_unreadable_config_file_is_a_clear_error(tmp_path: Path) -> None:
    """A missing settings file is named in the error; nothing is created."""
    run = Trialwatch(tmp_path / "state", tmp_path / "missing.toml")
    result = run("check-config", expect=78)
    assert "missing.toml" in result.stderr


def test_check_config_masks_secrets(tmp_path: Path, replay: ReplayServer) -> None:
    """check-config prints effective values but never a webhook secret."""
    config = write_config(
        tmp_path / "c.toml",
        replay.base_url,
        '[[webhooks]]\nurl = "https://example.org/h"\nsecret = "hunter2-very-secret"\n',
    )
    out = Trialwatch(tmp_path / "state", config)("check-config").stdout
    assert replay.base_url in out
    assert "hunter2" not in out and "********" in out


@contextmanager
def read_only(path: Path) -> Iterator[None]:
    """The file made read-only for trialwatch: by its mode, or (as root, whom modes do not stop)
    by the immutable attribute; skips where neither is possible."""
    chattr = shutil.which("chattr")
    if os.geteuid() != 0:
        path.chmod(0o444)
        undo = ["chmod", "600"]
    elif chattr and not subprocess.run([chattr, "+i", str(path)], check=False).returncode:
        undo = [chattr, "-i"]
    else:
        pytest.skip("cannot make a file read-only for root here")
    try:
        yield
    finally:
        subprocess.run([shutil.which(undo[0]) or undo[0], *undo[1:], str(path)], check=True)


def test_a_read_only_database_is_one_error_line(trialwatch: Trialwatch) -> None:
    """Writing to a read-only database file: one `Error:` line naming it and what to do; reading
    still works."""
    trialwatch("watch", "add", "NCT06911827")
    database = trialwatch.state_dir / "trialwatch.db"
    with read_only(database):
        result = trialwatch("watch", "add", "NCT05935098", expect=1)
        assert "NCT06911827" in trialwatch("watch", "list").stdout
    lines = result.stderr.strip().splitlines()
    assert lines == [lines[0]] and lines[0].startswith(
        f"Error: {database}: the database is read-only"
    )
    assert "write access" in lines[0]
