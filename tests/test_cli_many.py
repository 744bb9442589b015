"""`check` and `watch add` on many trials: a summary a person can read, every line on request."""

from __future__ import annotations

import json
from pathlib import Path

from conftest import Trialwatch, demo_versions

from watcher.registry.replay import with_nct_id
from watcher.registry.replay_server import ReplayServer

BEFORE, AFTER = demo_versions("NCT06911827")  # NOT_YET_RECRUITING → RECRUITING, a site added
IDS = [f"NCT{91000000 + n:08d}" for n in range(25)]


def _watch_25(trialwatch: Trialwatch, replay: ReplayServer, tmp_path: Path) -> str:
    replay.registry.publish(*(with_nct_id(BEFORE, i) for i in IDS))
    listing = tmp_path / "ids.txt"
    listing.write_text("\n".join(IDS) + "\n", encoding="utf-8")
    return str(trialwatch("watch", "add", "--file", str(listing)).stdout)


def test_check_of_many_trials_is_summarised(
    trialwatch: Trialwatch, replay: ReplayServer, tmp_path: Path
) -> None:
    """Past 20 trials, `check` prints counts, each changed trial in one line and the first
    failures, each list cut short with how many more; no line per unchanged trial."""
    added = _watch_25(trialwatch, replay, tmp_path)
    assert added.splitlines() == [
        "25 trial(s) now watching, 0 already watched (--json lists each); they are fetched at "
        "the next check."
    ]
    first = trialwatch("check").stdout.splitlines()
    assert first[0].startswith("Checked 25 trial(s): 25 new version(s), 0 unchanged, 0 failed")
    assert first[1] == "  25 first version(s) stored"
    assert not any(line.startswith("NCT") for line in first)
    assert len(first) <= 5

    replay.registry.publish(*(with_nct_id(AFTER, i) for i in IDS[:12]), release=False)
    for gone in IDS[12:19]:
        replay.registry.remove(gone, release=False)
    replay.registry.release()
    second = trialwatch("check").stdout
    assert second.startswith("Checked 25 trial(s): 12 new version(s), 6 unchanged, 7 failed")
    changed = second.split("  12 changed:\n", 1)[1].split("  7 failed:\n")[0].splitlines()
    assert changed[0] == (
        f"    {IDS[0]} v2  overall status: NOT_YET_RECRUITING → RECRUITING; sites added (1); "
        "dates (1)"
    )
    assert len(changed) == 11 and changed[-1] == "    and 2 more"
    failed = second.split("  7 failed:\n", 1)[1].splitlines()
    assert failed[0].startswith(f"    {IDS[12]}  ") and "not found" in failed[0].lower()
    assert failed[5] == "    and 2 more"
    assert "check --verbose" in second


def test_check_verbose_prints_every_trial(
    trialwatch: Trialwatch, replay: ReplayServer, tmp_path: Path
) -> None:
    """`check --verbose` gives each of the 25 trials its own line, as up to 20 always do."""
    _watch_25(trialwatch, replay, tmp_path)
    out = trialwatch("check", "--verbose").stdout.splitlines()
    assert [line.split()[0] for line in out[:-1]] == IDS
    assert out[0] == f"{IDS[0]}  first version stored (v1)"
    assert out[-1].startswith("Checked 25 trial(s)")


def test_watch_add_and_remove_json(
    trialwatch: Trialwatch, replay: ReplayServer, tmp_path: Path
) -> None:
    """`watch add --json` and `watch remove --json` say which IDs changed state and which did
    not, whatever their number, and print nothing but JSON."""
    _watch_25(trialwatch, replay, tmp_path)
    again = trialwatch.json("watch", "add", IDS[0], "NCT92000000")
    assert again == {"added": ["NCT92000000"], "already_watched": [IDS[0]]}
    gone = trialwatch.json("watch", "remove", IDS[1], "NCT93000000")
    assert gone == {"removed": [IDS[1]], "not_watched": ["NCT93000000"], "subscribers_told": {}}
    listed = {t["nct_id"] for t in trialwatch.json("watch", "list")}
    assert IDS[1] not in listed and "NCT92000000" in listed
    listing = tmp_path / "ids.txt"
    every = json.loads(trialwatch("watch", "add", "--file", str(listing), "--json").stdout)
    assert every == {"added": [IDS[1]], "already_watched": [i for i in IDS if i != IDS[1]]}
