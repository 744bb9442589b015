"""What a person is told when they ask, on the web, to follow trials (pure).

Two emails answer a request, and the page says the same thing for both (so the page never tells
a stranger whether an address is known): a new request gets a link to confirm it; an address
that already follows every trial asked for gets a note with a link to manage what it follows.
Both say what to do when the request was not theirs: nothing. A request can also be for a saved
search (`search_confirm_words`, `search_known_words`): the same two answers, about new trials
that match it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

CONFIRM_HOURS = 48


@dataclass(frozen=True, slots=True)
class RequestWords:
    """The words of one answer to a request: subject, what happened, the button, the end."""

    subject: str
    lines: tuple[str, ...]
    action: str  # the button's words
    closing: str


def _trials(nct_ids: Sequence[str]) -> str:
    return nct_ids[0] if len(nct_ids) == 1 else ", ".join(nct_ids[:-1]) + " and " + nct_ids[-1]


def not_you() -> str:
    """The line both emails end with."""
    return (
        "If this was not you, do nothing: nothing is stored as a subscription, and the link "
        f"ends in {CONFIRM_HOURS} hours."
    )


def confirm_words(nct_ids: Sequence[str]) -> RequestWords:
    """The confirmation email: what was asked for, and the one link that makes it so."""
    trials = _trials(nct_ids)
    return RequestWords(
        subject=f"Please confirm: emails about {trials}",
        lines=(
            f"Someone, we hope you, asked to get an email when {trials} changes.",
            "Nothing is set up yet. To start these emails, open the link and press the button.",
        ),
        action="Yes, send me these emails",
        closing=not_you(),
    )


def known_words(nct_ids: Sequence[str]) -> RequestWords:
    """The note to an address that already follows what was asked for."""
    trials = _trials(nct_ids)
    return RequestWords(
        subject=f"You already follow {trials}",
        lines=(
            f"Someone, we hope you, asked to get an email when {trials} changes.",
            "This address already gets those emails, so nothing has changed.",
            "To change how you hear about it, or to stop, open your page:",
        ),
        action="Manage my emails",
        closing="If this was not you, do nothing: nothing has changed.",
    )


def search_confirm_words(name: str, described: str) -> RequestWords:
    """The confirmation email of a request to hear of a saved search's new trials."""
    return RequestWords(
        subject=f"Please confirm: emails about new trials for the search “{name}”",
        lines=(
            f"Someone, we hope you, asked to get an email when a new trial matches the search "
            f"“{name}”.",
            f"The search looks for {described}.",
            "Nothing is set up yet. To start these emails, open the link and press the button.",
        ),
        action="Yes, send me these emails",
        closing=not_you(),
    )


def search_known_words(name: str) -> RequestWords:
    """The note to an address that already hears of this search's new trials."""
    return RequestWords(
        subject=f"You already follow the search “{name}”",
        lines=(
            f"Someone, we hope you, asked to get an email when a new trial matches the search "
            f"“{name}”.",
            "This address already gets those emails, so nothing has changed.",
            "To change how you hear about it, or to stop, open your page:",
        ),
        action="Manage my emails",
        closing="If this was not you, do nothing: nothing has changed.",
    )


# What the web page says after any request, whatever the address: the same for all.
SENT_LINES = (
    "Thank you. If the address can get email, a message is on its way to it now.",
    f"Open the link in it within {CONFIRM_HOURS} hours to start your emails. Nothing is set up "
    "until you do.",
    "No message? Look in your spam folder, or check the address and try again later.",
)
