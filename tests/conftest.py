"""Shared test helpers: where the recorded ClinicalTrials.gov records live."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

TESTS = Path(__file__).parent
FIXTURE_DIRS = (
    TESTS / "fixtures" / "ctgov",
    TESTS.parent / "watcher" / "demo_data",
)


def fixture_path(name: str) -> Path:
    """Path of a recorded study file, wherever in the repository it is kept."""
    for folder in FIXTURE_DIRS:
        candidate = folder / name
        if candidate.exists():
            return candidate
    raise FileNotFoundError(f"no fixture named {name} in {', '.join(map(str, FIXTURE_DIRS))}")


def load_fixture(name: str) -> dict[str, Any]:
    """The parsed JSON of a recorded study file."""
    data: dict[str, Any] = json.loads(fixture_path(name).read_text(encoding="utf-8"))
    return data


def all_fixture_records() -> list[Path]:
    """Every recorded single-study file, sorted by name."""
    return sorted(p for folder in FIXTURE_DIRS for p in folder.glob("NCT*.json"))


@pytest.fixture
def record() -> Any:
    """Load a recorded study by file name: `record("NCT0…json")`."""
    return load_fixture
