"""Every change of a digest as one spreadsheet row: the `changes.csv` a coordinator opens (pure).

A digest counts many site changes by old → new status; a coordinator who must act on each site
needs them all, one per row, in a file their spreadsheet reads: RFC 4180 CSV (quoted where
needed, CRLF line ends), UTF-8 with a byte-order mark (without it, Excel reads the file in the
local code page and garbles "Türkiye" or "Bergonié"). The cells say what the digest says,
from `wording.exact.change_cells`: labels and values in words, in full.

The same file answers `GET /api/v1/changes?format=csv` and `trialwatch export changes`, and
`trials_csv` the trials' list. Every cell is text from the registry (a site's name, a title),
so one that a spreadsheet would read as a formula (starting with = + - @, a tab or a carriage
return) is written with a leading ' (OWASP's advice): it shows as typed and never runs.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Mapping, Sequence

from watcher.core.change import StoredChange
from watcher.core.wording.exact import change_cells

Cell = str | int | float | bool | None

CSV_NAME = "changes.csv"
CSV_COLUMNS = ("trial", "kind", "field", "old", "new", "site", "date")
TRIAL_COLUMNS = (
    "nct_id",
    "title",
    "overall_status",
    "sites_recruiting",
    "sites",
    "last_change",
    "last_update_posted",
    "last_checked_at",
    "health",
    "last_error",
)
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


class _Lines:
    """What `csv.writer` writes, kept in memory: the core writes no file."""

    def __init__(self) -> None:
        self.parts: list[str] = []

    def write(self, text: str) -> int:
        self.parts.append(text)
        return len(text)


def safe_cell(value: Cell) -> str:
    """A cell as text, with a leading ' when a spreadsheet would take it for a formula."""
    text = "" if value is None else str(value)
    return f"'{text}" if text.startswith(_FORMULA_START) else text


def _csv(header: Sequence[str], rows: Iterable[Sequence[Cell]]) -> bytes:
    lines = _Lines()
    writer = csv.writer(lines)  # RFC 4180: CRLF line ends, quoted where needed
    writer.writerow(header)
    writer.writerows([safe_cell(cell) for cell in row] for row in rows)
    return "".join(lines.parts).encode("utf-8-sig")


def changes_csv(changes: Sequence[StoredChange]) -> bytes:
    """Every change as one row (`CSV_COLUMNS`), by trial then as found; `date` is the day
    the change was found."""
    rows = []
    for stored in sorted(changes, key=lambda s: (s.nct_id, s.id)):
        field, old, new, site = change_cells(stored.change)
        kind = stored.change.kind
        rows.append((stored.nct_id, kind, field, old, new, site, stored.detected_at[:10]))
    return _csv(CSV_COLUMNS, rows)


def trials_csv(trials: Iterable[Mapping[str, Cell]]) -> bytes:
    """Each trial as one row of `TRIAL_COLUMNS` (the keys of the API's trial objects)."""
    return _csv(TRIAL_COLUMNS, ([trial.get(c) for c in TRIAL_COLUMNS] for trial in trials))
