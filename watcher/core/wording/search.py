"""What a subscriber of a saved search is told about its new matches (pure): the subject and
the lines around the trials. The trials themselves are said by `trial_summary`, as everywhere.
"""

from __future__ import annotations

from collections.abc import Sequence


def matches_headline(search_name: str, titles: Sequence[tuple[str, str]]) -> str:
    """ "A new trial for your search “melanoma-boston”: NCT01 — Title", or "3 new trials …"."""
    if len(titles) == 1:
        nct_id, title = titles[0]
        trial = f"{nct_id} — {title}" if title else nct_id
        return f"A new trial for your search “{search_name}”: {trial}"
    return f"{len(titles)} new trials for your search “{search_name}”"


def matches_intro(count: int, described: str) -> str:
    """The first line: what was found, and what the search asks for."""
    found = "A new trial matches" if count == 1 else f"{count} new trials match"
    return f"{found} your search ({described}). Here is what each one is about."


def matches_reason(search_name: str) -> str:
    """The footer's "why you get this"."""
    return f"You get this email because you follow the search “{search_name}” with trialwatch."


def run_line(name: str, new: int, baseline: bool, told: int) -> str:
    """What one search did in a check, for `check`'s report."""
    if baseline:
        return f"Search {name}: first run, {new} trial(s) already match (remembered, nobody told)."
    if not new:
        return f"Search {name}: no new trial."
    return f"Search {name}: {new} new trial(s), {told} email(s) queued."


def search_plan(described: str) -> tuple[str, ...]:
    """What a search's subscriber will get, for its confirmation and welcome emails."""
    return (
        f"An email when ClinicalTrials.gov lists a new trial that matches: {described}.",
        "One email per update of the registry, with every new trial in it; none when nothing "
        "new matches.",
        "For each trial: what it is about in plain words, and how far its sites are.",
    )


def search_welcome_headline(name: str) -> str:
    """The welcome's subject: "You now follow the search “melanoma-boston”"."""
    return f"You now follow the search “{name}”"


def search_welcome_intro(name: str) -> str:
    """The welcome's first line."""
    return (
        f"You now follow the search “{name}”. Trials that matched before today are not sent: "
        "you hear of new ones only."
    )


def search_leave_line() -> str:
    """How to stop, said in a search's welcome above the link that does it."""
    return (
        "To stop these emails, use the link at the end of any of them: it stops this search only."
    )
