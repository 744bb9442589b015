"""`subscribe --file subscribers.csv`: a subscribers file read into requests, or refused whole.

The file has a header row naming its columns: `email` and `trials` (NCT IDs separated by
spaces) are required; `audience`, `digest`, `kinds`, `near` and `within` are optional, and an
empty cell means what leaving the option out of `subscribe` means. Every line is checked as
`subscribe` checks its arguments before anything is written; a file with any bad line is
refused with one line per fault (`subscribers.csv line 7: …`), and nothing is subscribed.
An address may appear in the error about its own line, in the terminal of whoever typed it;
it is never logged.
"""

from __future__ import annotations

import csv
from pathlib import Path

from watcher.core.addresses import validate_email
from watcher.core.change import AUDIENCES, DELIVERIES
from watcher.core.gazetteer import resolve_near
from watcher.core.ids import parse_nct_ids
from watcher.core.places import Near
from watcher.core.subscriptions import parse_kinds
from watcher.data.gazetteer import load_gazetteer
from watcher.errors import InputError
from watcher.service.subscriptions import refused
from watcher.store.subscribers import Wanted

REQUIRED = ("email", "trials")
OPTIONAL = ("audience", "digest", "kinds", "near", "within")


def read_subscribers(path: Path) -> list[Wanted]:
    """The requests of a subscribers file, one per line; `InputError` naming every bad line."""
    try:
        text = path.read_text(encoding="utf-8-sig")  # a spreadsheet's export may start with a BOM
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"--file {path}: cannot read it ({exc}); give a UTF-8 CSV file") from exc
    rows = csv.reader(text.splitlines())
    header = [name.strip().lower() for name in next(rows, [])]
    missing = [name for name in REQUIRED if name not in header]
    unknown = [name for name in header if name not in (*REQUIRED, *OPTIONAL)]
    if missing or unknown:
        raise InputError(
            f"{path.name} line 1: the header row "
            + (f"lacks {', '.join(missing)}" if missing else f"has unknown {', '.join(unknown)}")
            + f"; expected {','.join(REQUIRED)} and any of {','.join(OPTIONAL)}"
        )
    places: dict[tuple[str | None, str | None], Near | None] = {}
    requests: list[Wanted] = []
    faults: list[str] = []
    for number, row in enumerate(rows, start=2):
        if not any(cell.strip() for cell in row):
            continue  # a blank line, as spreadsheets leave at the end
        where = f"{path.name} line {number}"
        cells = {name: (row[i].strip() if i < len(row) else "") for i, name in enumerate(header)}
        try:
            requests.append(_request(cells, where, places))
        except InputError as exc:
            faults.append(f"{where}: {exc}")
    if faults:
        raise refused(faults)
    if not requests:
        raise InputError(f"{path.name}: no subscribers in it, only the header row")
    return requests


def _request(
    cells: dict[str, str], where: str, places: dict[tuple[str | None, str | None], Near | None]
) -> Wanted:
    """One line as a request, checked as `subscribe` checks its arguments."""
    try:
        address = validate_email(cells["email"])
    except ValueError as exc:
        raise InputError(f"email: {exc}") from exc
    if not cells["trials"]:
        raise InputError("trials: no NCT IDs; list them separated by spaces")
    nct_ids = parse_nct_ids(cells["trials"].split())
    audience = _choice(cells.get("audience", ""), "audience", AUDIENCES)
    delivery = _choice(cells.get("digest", ""), "digest", DELIVERIES)
    kinds = parse_kinds(cells.get("kinds") or None)
    place = (cells.get("near") or None, cells.get("within") or None)
    if place not in places:
        places[place] = resolve_near(*place, load_gazetteer)
    return Wanted(address, tuple(nct_ids), audience, delivery, kinds, places[place], where)


def _choice(value: str, column: str, choices: tuple[str, ...]) -> str | None:
    if not value:
        return None
    if value.lower() not in choices:
        raise InputError(f"{column}: {value!r} is not one of {', '.join(choices)}")
    return value.lower()
