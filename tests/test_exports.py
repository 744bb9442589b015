"""Exports a coordinator takes away (`trialwatch export`), the API keys' commands, and the API's
document: on a real SQLite state, through the real command line."""

from __future__ import annotations

import csv
import io
import json
import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from conftest import Trialwatch, demo_versions, write_config
from openapi_spec_validator import validate

from watcher.config import load_settings
from watcher.core.canonical import content_hash
from watcher.core.diff import diff_trials
from watcher.core.record import parse_trial
from watcher.core.spreadsheet import trials_csv
from watcher.core.version import NewVersion
from watcher.registry.replay import with_nct_id
from watcher.registry.replay_server import ReplayServer
from watcher.store.database import Store
from watcher.web.openapi import document

TEMPLATE = "NCT06911827"  # not yet recruiting, then recruiting
IDS = [f"NCT0800000{i}" for i in range(5)]


@pytest.fixture
def coordinator(tmp_path: Path, replay: ReplayServer) -> Trialwatch:
    """Five watched trials, each with two stored versions; the first two changed last month."""
    config = write_config(tmp_path / "config.toml", replay.base_url)
    tw = Trialwatch(tmp_path / "state", config)
    settings = load_settings(config, env={"STATE_DIRECTORY": str(tw.state_dir)})
    now = datetime.now(UTC)
    with Store(settings.storage.database) as store:
        for i, nct_id in enumerate(IDS):
            first, second = (with_nct_id(v, nct_id) for v in demo_versions(TEMPLATE))
            at = now - timedelta(days=40 if i < 2 else 1)
            store.add_watches([nct_id], at)
            store.save_version(NewVersion.of(nct_id, first, content_hash(first)), None, None, at)
            changes = diff_trials(parse_trial(first), parse_trial(second))
            new = NewVersion.of(nct_id, second, content_hash(second), changes)
            store.save_version(new, first, None, at)
    return tw


def csv_rows(data: bytes) -> list[dict[str, str]]:
    assert data.startswith(b"\xef\xbb\xbf") and b"\r\n" in data  # Excel's UTF-8, RFC 4180
    return list(csv.DictReader(io.StringIO(data.decode("utf-8-sig"), newline="")))


def test_a_cell_a_spreadsheet_would_run_is_written_as_text() -> None:
    rows = csv_rows(
        trials_csv(
            [
                {"nct_id": "NCT1", "title": '=HYPERLINK("http://x","y")'},
                {"nct_id": "NCT2", "title": "+1"},
                {"nct_id": "NCT3", "title": "-2+3"},
                {"nct_id": "NCT4", "title": "@SUM(A1)"},
                {"nct_id": "NCT5", "title": "A study, “quoted”, of Bergonié"},
            ]
        )
    )
    assert [r["title"] for r in rows] == [
        '\'=HYPERLINK("http://x","y")',
        "'+1",
        "'-2+3",
        "'@SUM(A1)",
        "A study, “quoted”, of Bergonié",
    ]


def test_export_trials_round_trips_through_watch_add_file(
    coordinator: Trialwatch, tmp_path: Path, replay: ReplayServer
) -> None:
    exported = coordinator("export", "trials").stdout_bytes
    rows = csv_rows(exported)
    assert [r["nct_id"] for r in rows] == IDS
    assert {r["overall_status"] for r in rows} == {"RECRUITING"}
    assert {r["health"] for r in rows} == {"ok"}
    assert all(int(r["sites"]) >= int(r["sites_recruiting"]) for r in rows)
    as_json = json.loads(coordinator("export", "trials", "--format", "json").stdout)
    assert [t["nct_id"] for t in as_json] == IDS
    assert str(as_json[0]["sites_recruiting"]) == rows[0]["sites_recruiting"]
    sheet = tmp_path / "trials.csv"
    sheet.write_bytes(exported)
    other = Trialwatch(tmp_path / "other", write_config(tmp_path / "other.toml", replay.base_url))
    added = other.json("watch", "add", "--file", str(sheet))
    assert added["added"] == IDS


def test_export_changes_since_a_week_gives_this_weeks_status_changes(
    coordinator: Trialwatch,
) -> None:
    rows = csv_rows(
        coordinator("export", "changes", "--since", "7d", "--kind", "status").stdout_bytes
    )
    assert [(r["trial"], r["old"], r["new"]) for r in rows] == [
        (nct_id, "NOT_YET_RECRUITING", "RECRUITING") for nct_id in IDS[2:]
    ]
    everything = json.loads(
        coordinator("export", "changes", "--since", "60d", "--format", "json").stdout
    )
    assert {c["nct_id"] for c in everything} == set(IDS)
    assert len({c["id"] for c in everything}) == len(everything)


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["--since", "last week"], "--since: 'last week' is not a date or a duration"),
        (["--since", "7d", "--kind", "gossip"], "--kind: unknown change kind(s): gossip"),
    ],
)
def test_export_refuses_bad_flags_in_one_line(
    coordinator: Trialwatch, args: list[str], says: str
) -> None:
    result = coordinator("export", "changes", *args, expect=2)
    assert result.stderr.startswith(f"Error: {says}") and result.stderr.count("\n") == 1


def test_export_opml_needs_the_sites_address(coordinator: Trialwatch, tmp_path: Path) -> None:
    result = coordinator("export", "opml", expect=2)
    assert "[web] base_url" in result.stderr
    config = coordinator.config
    config.write_text(
        config.read_text() + '\n[web]\nbase_url = "https://trials.example.org"\n', encoding="utf-8"
    )
    opml = coordinator("export", "opml").stdout
    assert opml.count("<outline ") == len(IDS)
    assert 'xmlUrl="https://trials.example.org/feeds/trials/NCT08000000.atom"' in opml


def test_an_api_key_is_shown_once_and_stored_only_as_its_hash(trialwatch: Trialwatch) -> None:
    made = trialwatch("api-key", "create", "office")
    key = made.stdout.strip()
    assert key.startswith("tw_") and len(key) > 40 and "not shown again" in made.stderr
    listed = trialwatch("api-key", "list").stdout
    assert "office" in listed and "never used" in listed and key not in listed
    again = trialwatch("api-key", "create", "office", expect=2)
    assert "already exists" in again.stderr
    trialwatch("api-key", "revoke", "office")
    assert trialwatch.json("api-key", "revoke", "office")["already_revoked"] is True
    assert "no API key is called 'lab'" in trialwatch("api-key", "revoke", "lab", expect=2).stderr
    database = trialwatch.state_dir / "trialwatch.db"
    with sqlite3.connect(database) as db:
        stored = db.execute("SELECT name, key_hash, revoked_at FROM api_keys").fetchall()
    assert len(stored) == 1 and stored[0][1] != key and stored[0][2] is not None
    assert key.encode() not in database.read_bytes()


def test_the_api_document_is_valid_openapi_3_1() -> None:
    doc = document()
    validate(doc)
    assert doc["openapi"] == "3.1.0"
    for item in doc["paths"].values():
        for op in item.values():
            assert "default" in op["responses"]  # every error has its problem+json shape
