"""Every change of a digest as one spreadsheet row: the `changes.csv` a coordinator opens (pure).

A digest counts many site changes by old → new status; a coordinator who must act on each site
needs them all, one per row, in a file their spreadsheet reads: RFC 4180 CSV (quoted where
needed, CRLF line ends), UTF-8 with a byte-order mark (without it, Excel reads the file in the
local code page and garbles "Türkiye" or "Bergonié"). The cells say what the digest says,
from `wording.exact.change_cells`: labels and values in words, in full.
"""

from __future__ import annotations

import csv
from collections.abc import Sequence

from watcher.core.change import StoredChange
from watcher.core.wording.exact import change_cells

CSV_NAME = "changes.csv"
CSV_COLUMNS = ("trial", "kind", "field", "old", "new", "site", "date")


class _Lines:
    """What `csv.writer` writes, kept in memory: the core writes no file."""

    def __init__(self) -> None:
        self.parts: list[str] = []

    def write(self, text: str) -> int:
        self.parts.append(text)
        return len(text)


def changes_csv(changes: Sequence[StoredChange]) -> bytes:
    """Every change as one row (`CSV_COLUMNS`), by trial then as found; `date` is the day
    the change was found."""
    lines = _Lines()
    writer = csv.writer(lines)
    writer.writerow(CSV_COLUMNS)
    for stored in sorted(changes, key=lambda s: (s.nct_id, s.id)):
        field, old, new, site = change_cells(stored.change)
        kind = stored.change.kind
        writer.writerow((stored.nct_id, kind, field, old, new, site, stored.detected_at[:10]))
    return "".join(lines.parts).encode("utf-8-sig")
