"""`trialwatch diff` on files and on stored versions, and `trialwatch demo`, as a user runs them."""

from __future__ import annotations

import json
from pathlib import Path

from conftest import Trialwatch, demo_versions, fixture_path

from watcher.registry.replay_server import ReplayServer

OLD = fixture_path("NCT06911827__partrita-tigit__2026-02-11__afb21bfb.json")
NEW = fixture_path("NCT06911827__partrita-tigit__2026-02-26__0763c69c.json")
NOISE_OLD = fixture_path("NCT05574335__partrita-tigit__2026-02-03__91d8d988.json")
NOISE_NEW = fixture_path("NCT05574335__partrita-tigit__2026-02-12__9c89203a.json")


def test_diff_of_two_files_as_json_is_plain_json(trialwatch: Trialwatch) -> None:
    """The JSON contract: kind/field/old/new/severity, and a site object for site kinds."""
    changes = trialwatch.json("diff", str(OLD), str(NEW))
    status = next(c for c in changes if c["kind"] == "status")
    assert status == {
        "kind": "status",
        "field": "protocolSection.statusModule.overallStatus",
        "old": "NOT_YET_RECRUITING",
        "new": "RECRUITING",
        "severity": "major",
    }
    added = next(c for c in changes if c["kind"] == "site_added")
    assert set(added["site"]) == {"facility", "city", "state", "zip", "country", "geo"}
    assert added["site"]["city"] == "Guangzhou" and added["new"] == "RECRUITING"


def test_diff_text_groups_changes_for_people(trialwatch: Trialwatch) -> None:
    """Text output shows old → new and sites as "Facility, City, Country"."""
    out = trialwatch("diff", str(OLD), str(NEW)).stdout
    assert "NOT_YET_RECRUITING → RECRUITING" in out
    assert "Sun Yat-sen University Cancer Center, Guangzhou, China" in out


def test_diff_of_a_housekeeping_only_pair_says_no_changes(trialwatch: Trialwatch) -> None:
    """Update stamps moving on their own are no change at all."""
    assert trialwatch("diff", str(NOISE_OLD), str(NOISE_NEW)).stdout.strip() == "No changes."
    assert trialwatch.json("diff", str(NOISE_OLD), str(NOISE_NEW)) == []


def test_diff_between_stored_versions(trialwatch: Trialwatch, replay: ReplayServer) -> None:
    """With one NCT ID, diff compares stored versions: by default the last two."""
    first, second = demo_versions("NCT06911827")
    replay.registry.publish(first)
    trialwatch("watch", "add", "NCT06911827")
    trialwatch("check")
    replay.registry.publish(second)
    trialwatch("check")
    stored = trialwatch.json("diff", "NCT06911827")
    assert stored == trialwatch.json("diff", str(OLD), str(NEW))
    assert trialwatch.json("diff", "NCT06911827", "--from", "2", "--to", "1")[0]["old"] == (
        "RECRUITING"
    )
    err = trialwatch("diff", "NCT06911827", "--to", "3", expect=2).stderr
    assert "no version 3; stored versions are 1 to 2" in err


def test_diff_of_a_bad_file_names_it(trialwatch: Trialwatch, tmp_path: Path) -> None:
    """A file that is not a study record gets a one-line error naming the file."""
    bad = tmp_path / "page.json"
    bad.write_text('{"studies": []}', encoding="utf-8")
    err = trialwatch("diff", str(bad), str(NEW), expect=2).stderr
    assert err.startswith(f"Error: {bad}: not a ClinicalTrials.gov API v2 study")


def test_demo_runs_offline_and_shows_changes(tmp_path: Path) -> None:
    """The demo stores versions, finds the recorded changes and costs one request when idle,
    in a screenful that names no subscriber's address and says where the email and feeds are."""
    run = Trialwatch(tmp_path / "unused", tmp_path / "unused.toml")
    out = run("demo", "--dir", str(tmp_path / "demo")).stdout
    assert len(out.splitlines()) <= 60
    assert "NCT07310784 v2  overall status: NOT_YET_RECRUITING → RECRUITING" in out
    assert "ACTIVE_NOT_RECRUITING → TERMINATED" in out
    assert "no new data release: 1 request" in out
    assert "@" not in out  # the made-up patient's address, or anyone's
    assert (tmp_path / "demo" / "trialwatch.db").exists()
    assert "Subject: NCT07310784 is now recruiting — A Phase II Trial of LM103" in out
    feed = tmp_path / "demo" / "feeds" / "trials" / "NCT07310784.atom"
    assert f"{feed}  (one per trial)" in out and feed.exists()
    config = tmp_path / "demo" / "config.toml"
    for command in ("history NCT07310784", "diff NCT07227597", "summary NCT07310784"):
        assert f"trialwatch --config {config} {command}" in out
    token = out.rsplit("unsubscribe --token ", 1)[1].split()[0]
    assert (
        "1 subscription(s) ended"
        in Trialwatch(tmp_path / "demo", config)(
            "--config", str(config), "unsubscribe", "--token", token
        ).stdout
    )


def test_demo_json_says_where_everything_went(tmp_path: Path) -> None:
    """`demo --json` prints only JSON: the three checks as `check --json` has them, and the
    paths of the email and feeds, which exist."""
    run = Trialwatch(tmp_path / "unused", tmp_path / "unused.toml")
    data = json.loads(run("demo", "--dir", str(tmp_path / "demo"), "--json").stdout)
    assert [c["new_versions"] for c in data["checks"]] == [5, 5, 0]
    assert data["checks"][2]["requests"] == 1
    assert len(data["emails"]) >= 1 and all(Path(p).is_file() for p in data["emails"])
    assert all(Path(p).is_file() for p in data["feeds"])
    assert data["config"] == str(tmp_path / "demo" / "config.toml")
