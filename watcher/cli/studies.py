"""Where a command's study record comes from: a JSON file, or a version in the store.

`trialwatch diff` and `trialwatch summary` both accept a study file as saved from
`GET /api/v2/studies/{nctId}`; it is read and checked here, once, so both name the same
problems in the same words.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from watcher.errors import InputError
from watcher.store.database import Store


def read_study_file(path: Path) -> dict[str, Any]:
    """A study JSON file as saved from `GET /api/v2/studies/{nctId}`."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise InputError(f"{path}: no such file (give a study JSON file or an NCT ID)") from exc
    except OSError as exc:
        raise InputError(f"{path}: cannot read the file ({exc.strerror})") from exc
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InputError(f"{path}: not a JSON file ({exc})") from exc
    if not isinstance(data, dict) or not isinstance(data.get("protocolSection"), dict):
        raise InputError(
            f"{path}: not a ClinicalTrials.gov API v2 study (no protocolSection); save one with "
            "GET https://clinicaltrials.gov/api/v2/studies/NCT…"
        )
    return data


def latest_record(store: Store, nct_id: str) -> dict[str, Any]:
    """The latest stored version of a trial, as the registry served it."""
    latest = store.version(nct_id)
    if latest is None:
        raise InputError(
            f"{nct_id}: no stored version; run `trialwatch watch add {nct_id}` "
            "and then `trialwatch check`"
        )
    return store.record(nct_id, latest.version)


def stored_pair(
    store: Store, nct: str, from_version: int | None, to_version: int | None
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Two stored versions of a trial: `--from` (default: the one before) and `--to` (default:
    the latest)."""
    numbers = [v.version for v in store.versions(nct)]
    if not numbers:
        raise InputError(f"{nct}: no stored version; watch it and run `trialwatch check`")
    new_v = numbers[-1] if to_version is None else to_version
    older = [n for n in numbers if n < new_v]  # backfilled versions are numbered below 1
    old_v = (older[-1] if older else new_v - 1) if from_version is None else from_version
    for v in (old_v, new_v):
        if v not in numbers:
            raise InputError(
                f"{nct}: no version {v}; stored versions are {numbers[0]} to {numbers[-1]}"
            )
    return store.record(nct, old_v), store.record(nct, new_v)
