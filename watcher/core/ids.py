"""NCT IDs: the one identifier every part of trialwatch keys on.

Users paste IDs from web pages and emails, so lower case and stray spaces are accepted and
normalised; anything else is refused before it can reach the registry or the database.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from watcher.errors import InputError

# ASCII digits only: `\d` would also take full-width digits and those of other scripts, which
# the registry answers with 400 on every check, for ever.
_NCT_ID = re.compile(r"NCT[0-9]{8}")
# Production clients of ClinicalTrials.gov send at most this many IDs in one `filter.ids`.
MAX_IDS_PER_REQUEST = 500


def parse_nct_id(text: str) -> str:
    """Return the canonical form of an NCT ID ("nct07310784 " → "NCT07310784")."""
    candidate = text.strip().upper()
    if not _NCT_ID.fullmatch(candidate):
        raise InputError(
            f"{text.strip()!r} is not an NCT ID: expected 'NCT' followed by 8 digits, "
            "e.g. NCT07310784"
        )
    return candidate


def parse_nct_ids(texts: Iterable[str]) -> list[str]:
    """Parse many IDs at once, keeping the first occurrence of each and naming every bad one."""
    seen: dict[str, None] = {}
    bad: list[str] = []
    for text in texts:
        try:
            seen.setdefault(parse_nct_id(text), None)
        except InputError:
            bad.append(text.strip())
    if bad:
        listed = ", ".join(repr(b) for b in bad)
        raise InputError(
            f"not NCT IDs: {listed}; expected 'NCT' followed by 8 digits, e.g. NCT07310784"
        )
    return list(seen)


def is_nct_id(text: str) -> bool:
    """True when `text` is already a canonical NCT ID."""
    return _NCT_ID.fullmatch(text) is not None


def registry_url(nct_id: str) -> str:
    """The trial's page on ClinicalTrials.gov, where every message and feed sends the reader."""
    return f"https://clinicaltrials.gov/study/{nct_id}"
