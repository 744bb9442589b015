"""What a subscriber is told about their subscription itself (pure): the welcome, and the end.

These are not changes of a trial, so they are not in `changes`: a welcome says what the
subscriber will get and how often; the notices say their trial has gone from the registry or
is no longer watched here. Plain words, one idea per line, as everything a patient reads.
"""

from __future__ import annotations

from watcher.core.subscriptions import Subscription

_HOW_OFTEN = {
    "immediate": "An email soon after trialwatch sees a change.",
    "daily": "One email a day with all the changes of that day (a daily digest).",
    "weekly": "One email a week with all the changes of that week (a weekly digest).",
}
_AUDIENCE = {
    "patient": "Changes in plain words: if it is open to new people, who can join, and sites.",
    "coordinator": "Every kind of change, with the exact old and new values.",
}


def welcome_headline(nct_id: str, title: str) -> str:
    """The welcome's subject: "You now follow NCT01 — Title"."""
    return f"You now follow {nct_id} — {title}" if title else f"You now follow {nct_id}"


def welcome_plan(subscription: Subscription) -> tuple[str, ...]:
    """What the subscriber will get, one line per choice they made (or the default made)."""
    lines = [_HOW_OFTEN[subscription.delivery], _AUDIENCE[subscription.audience]]
    if subscription.kinds is not None:
        lines.append(f"Only these kinds of change: {', '.join(sorted(subscription.kinds))}.")
    if subscription.near:
        lines.append(
            f"Site changes only near {subscription.near}. Changes to who can join, and whether "
            "the study is open, come wherever you live."
        )
    return tuple(lines)


FEED_LINE = (
    "The same changes, for a feed reader. Keep this link to yourself: anyone who has it can "
    "see which studies you follow."
)


def gone_headline(nct_id: str, title: str) -> str:
    """The subject when the registry no longer lists a followed trial."""
    return (
        f"{nct_id} is no longer on ClinicalTrials.gov — {title}"
        if title
        else (f"{nct_id} is no longer on ClinicalTrials.gov")
    )


def gone_lines(nct_id: str) -> tuple[str, ...]:
    """What a subscriber is told when the registry answers "not found" for their trial."""
    return (
        f"ClinicalTrials.gov no longer has a page for {nct_id}. The registry removes a study "
        "when it was listed twice, or when the listing was taken back.",
        "We cannot tell from here which it was. The study team or your doctor can tell you more.",
        f"You still follow {nct_id}: if the page comes back, you will hear about its changes "
        "again. If you do not want that, use the link below to stop.",
    )


def unwatched_headline(nct_id: str, title: str) -> str:
    """The subject when this trialwatch stops watching a followed trial."""
    return f"{nct_id} is no longer watched — {title}" if title else f"{nct_id} is no longer watched"


def unwatched_lines(nct_id: str) -> tuple[str, ...]:
    """What a subscriber is told when the person running trialwatch stops watching their trial."""
    return (
        f"The person who runs this trialwatch has stopped watching {nct_id}.",
        f"Your subscription to {nct_id} has ended, so you will get no more emails about it. "
        "Nothing has changed in the study itself because of this.",
        "To follow it again, ask them to watch it again, or see the study on ClinicalTrials.gov.",
    )
